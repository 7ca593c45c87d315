/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: kallsyms carving over hostile memory. The input is the
 * guest-virtual memory at FUZZ_BASE, zero-filled to a page boundary (memory
 * is mapped in pages); the scanned range runs a page further, where reads
 * fail as on unmapped pages. A successful carve promises
 * addresses inside the range, in the layout's order, that the kallsyms
 * loader accepts with exactly num_syms symbols: checked here.
 */
#include "internal.h"
#include "linux/kallsyms.h"
#include "linux/kallsyms_carve.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BASE 0xffffffff82000000ull
#define PAGE 4096u
#define MAX_INPUT (4u << 20)

struct mem {
	const uint8_t *data;
	size_t size;
};

static size_t mapped(const struct mem *m)
{
	return (m->size + PAGE - 1) / PAGE * PAGE;
}

static int mem_read(void *ctx, uint64_t va, void *buf, size_t len)
{
	const struct mem *m = ctx;
	uint64_t off = va - FUZZ_BASE;

	if (va < FUZZ_BASE || off > mapped(m) || len > mapped(m) - off)
		return kvmon_set_error(EFAULT, "not mapped");
	memset(buf, 0, len);
	if (off < m->size)
		memcpy(buf, m->data + off, len < m->size - off ? len :
					   m->size - off);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* What a successful carve promises. */
static void check(const struct kvmon_virtmem *vm, const struct mem *m,
		  const struct kvmon_kallsyms_addrs *a)
{
	uint64_t end = FUZZ_BASE + mapped(m);
	struct kvmon_kallsyms *k;
	uint8_t b[4];
	uint32_t n;

	if (a->offsets < FUZZ_BASE || a->offsets >= a->relative_base ||
	    a->relative_base + 8 != a->num_syms || a->num_syms + 8 != a->names ||
	    a->names >= a->markers || a->markers >= a->token_table ||
	    a->token_table >= a->token_index || a->token_index + 512 > end)
		__builtin_trap();
	if (vm->read(vm->ctx, a->num_syms, b, sizeof(b)) < 0)
		__builtin_trap();
	n = le32(b);
	k = kvmon_kallsyms_load(vm, a);
	if (!k || kvmon_kallsyms_count(k) != n)
		__builtin_trap();
	kvmon_kallsyms_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct kvmon_virtmem vm = { mem_read, &m };
	struct kvmon_kallsyms_addrs a;

	if (size == 0 || size > MAX_INPUT)
		return 0;
	if (kvmon_kallsyms_carve(&vm, FUZZ_BASE, mapped(&m) + PAGE, &a) == 0)
		check(&vm, &m, &a);
	return 0;
}
