/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: System.map text. A map that parses must answer consistently:
 * every symbol looks up and resolves, and relocation by a 2 MiB slide
 * moves exactly the kernel-image symbols.
 */
#include "internal.h"
#include "linux/sysmap.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMAGE 0xffffffff80000000ull
#define SLIDE (2ll << 20)

static bool moves(char type, uint64_t addr)
{
	return addr >= IMAGE && type != 'A' && type != 'a';
}

static void check_symbols(const struct kvmon_sysmap *m)
{
	size_t n = kvmon_sysmap_count(m);

	if (n == 0 || n > KVMON_SYSMAP_MAX_SYMS)
		__builtin_trap();
	for (size_t i = 0; i < n && i < 256; i++) {
		const char *name, *rname;
		uint64_t addr, a2, off;
		char type;

		if (kvmon_sysmap_get(m, i, &name, &type, &addr) < 0 ||
		    !name[0] || strlen(name) > KVMON_SYSMAP_NAME_MAX ||
		    kvmon_sysmap_lookup(m, name, &a2) < 0 ||
		    kvmon_sysmap_resolve(m, addr, &rname, &off) < 0 || off)
			__builtin_trap();
	}
}

static bool first_of_name(const struct kvmon_sysmap *m, size_t i,
			  const char *name)
{
	for (size_t j = 0; j < i; j++) {
		const char *other;

		if (kvmon_sysmap_get(m, j, &other, NULL, NULL) == 0 &&
		    !strcmp(other, name))
			return false;
	}
	return true;
}

/* Relocate by +2 MiB: image symbols move by exactly that, others stay. */
static void check_relocate(struct kvmon_sysmap *m)
{
	size_t n = kvmon_sysmap_count(m), k = n < 64 ? n : 64;
	uint64_t before[64];
	const char *name;
	char type;

	for (size_t i = 0; i < k; i++)
		kvmon_sysmap_get(m, i, NULL, NULL, &before[i]);
	if (kvmon_sysmap_relocate(m, SLIDE) < 0)
		return;
	for (size_t i = 0; i < k; i++) {
		uint64_t addr;
		int64_t slide;

		kvmon_sysmap_get(m, i, &name, &type, &addr);
		if (addr != before[i] + (moves(type, before[i]) ? SLIDE : 0))
			__builtin_trap();
		/* Anchored at its own runtime address, a symbol (the first
		 * of its name) gives a zero slide. */
		if (moves(type, before[i]) && first_of_name(m, i, name) &&
		    (kvmon_sysmap_slide(m, name, addr, &slide) < 0 || slide))
			__builtin_trap();
	}
	check_symbols(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_sysmap *m = kvmon_sysmap_parse((const char *)data, size);

	if (!m)
		return 0;
	check_symbols(m);
	check_relocate(m);
	kvmon_sysmap_free(m);
	return 0;
}
