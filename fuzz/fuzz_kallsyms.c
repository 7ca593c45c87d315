/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: kallsyms tables in hostile guest memory. The input is the
 * guest-virtual memory at FUZZ_BASE; its first 14 bytes are seven u16
 * offsets into it locating names, num_syms, token_table, token_index,
 * offsets, relative_base and markers (0xffff: no markers). num_syms and the
 * rest are then read from the input like any other table.
 */
#include "internal.h"
#include "linux/kallsyms.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BASE 0xffffffff82000000ull
#define HDR 14

struct mem {
	const uint8_t *data;
	size_t size;
};

static int mem_read(void *ctx, uint64_t va, void *buf, size_t len)
{
	const struct mem *m = ctx;

	if (va < FUZZ_BASE || va - FUZZ_BASE > m->size ||
	    len > m->size - (va - FUZZ_BASE))
		return kvmon_set_error(EFAULT, "not mapped");
	memcpy(buf, m->data + (va - FUZZ_BASE), len);
	return 0;
}

static uint64_t field(const uint8_t *data, int i)
{
	return (uint64_t)data[2 * i] | (uint64_t)data[2 * i + 1] << 8;
}

/* Invariants a successful load promises, on the first symbols. */
static void check(const struct kvmon_kallsyms *k)
{
	size_t n = kvmon_kallsyms_count(k);

	if (n == 0 || n > KVMON_KALLSYMS_MAX_SYMS)
		__builtin_trap();
	for (size_t i = 0; i < n && i < 256; i++) {
		const char *name, *rname;
		uint64_t addr, a2, off;
		char type;

		if (kvmon_kallsyms_get(k, i, &name, &type, &addr) < 0 ||
		    !name[0] || strlen(name) >= KVMON_KSYM_NAME_LEN ||
		    kvmon_kallsyms_lookup(k, name, &a2) < 0 ||
		    kvmon_kallsyms_resolve(k, addr, &rname, &off) < 0 || off)
			__builtin_trap();
	}
	(void)kvmon_kallsyms_resolve(k, 0, NULL, NULL);
	(void)kvmon_kallsyms_lookup(k, "", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct kvmon_virtmem vm = { mem_read, &m };
	struct kvmon_kallsyms_addrs a;
	struct kvmon_kallsyms *k;
	uint64_t *f[] = { &a.names, &a.num_syms, &a.token_table,
			  &a.token_index, &a.offsets, &a.relative_base,
			  &a.markers };

	if (size < HDR)
		return 0;
	for (int i = 0; i < 7; i++)
		*f[i] = FUZZ_BASE + field(data, i);
	if (field(data, 6) == 0xffff)
		a.markers = 0;
	/* A count the input cannot back would only allocate and fail on the
	 * offsets read; keep the fuzzer fast (the limit is unit-tested). */
	if (field(data, 1) + 4 <= size) {
		const uint8_t *p = data + field(data, 1);
		uint32_t num = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

		if (num > size && num <= KVMON_KALLSYMS_MAX_SYMS)
			return 0;
	}
	k = kvmon_kallsyms_load(&vm, &a);
	if (k)
		check(k);
	kvmon_kallsyms_free(k);
	return 0;
}
