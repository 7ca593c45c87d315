/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: VMCOREINFO from a hostile guest. The input is parsed as note
 * text, then scanned as guest RAM for a note.
 */
#include "linux/vmcoreinfo.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ram {
	const uint8_t *data;
	size_t size;
};

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	const struct ram *r = ctx;

	/* A hole at 64 KiB-128 KiB exercises the salvage path. */
	if (gpa > r->size || len > r->size - gpa ||
	    (gpa < 0x20000 && gpa + len > 0x10000))
		return kvmon_set_error(EFAULT, "not RAM");
	memcpy(buf, r->data + gpa, len);
	return 0;
}

/* Every getter on every kind of key: values are checked lazily. */
static void use(const struct kvmon_vmcoreinfo *v)
{
	static const char *const names[] = { "init_top_pgt", "phys_base",
					     "page.flags", "mem_section", "" };
	uint64_t u;
	int64_t s;

	if (!kvmon_vmcoreinfo_get(v, "OSRELEASE") &&
	    kvmon_vmcoreinfo_get(v, "") != NULL)
		__builtin_trap(); /* keys are never empty */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)kvmon_vmcoreinfo_symbol(v, names[i], &u);
		(void)kvmon_vmcoreinfo_number(v, names[i], &s);
		(void)kvmon_vmcoreinfo_offset(v, names[i], &u);
		(void)kvmon_vmcoreinfo_size(v, names[i], &u);
		(void)kvmon_vmcoreinfo_length(v, names[i], &u);
	}
	(void)kvmon_vmcoreinfo_kernel_offset(v, &u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ram r = { data, size };
	struct kvmon_physmem pm = { ram_read, &r };
	struct kvmon_vmcoreinfo *v;
	uint64_t gpa = 0;

	v = kvmon_vmcoreinfo_parse((const char *)data, size);
	if (v)
		use(v);
	kvmon_vmcoreinfo_free(v);

	v = kvmon_vmcoreinfo_find(&pm, size, &gpa);
	if (v) {
		if (gpa + 24 > size || !kvmon_vmcoreinfo_get(v, "OSRELEASE"))
			__builtin_trap(); /* find promised a real note */
		use(v);
	}
	kvmon_vmcoreinfo_free(v);
	return 0;
}
