/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ELF core headers of a guest memory dump (QMP dump-guest-memory,
 * paging=false): PT_LOAD program headers whose p_paddr is the
 * guest-physical address. The file may come from anywhere, so the headers
 * are hostile: every field is checked, counts and sizes are capped, and
 * segments must lie inside the file and not overlap in guest-physical
 * space. Pure functions over a buffer; fuzzed (fuzz/fuzz_elfdump.c).
 *
 * Little-endian ELF64 only; fields are decoded byte by byte, so the buffer
 * needs no alignment. e_ehsize is not checked: QEMU 7.2 writes 8 there.
 */
#include "mem_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EHDR_SIZE 64
#define PHDR_SIZE 56
#define ET_CORE 4
#define PT_LOAD 1
#define PN_XNUM 0xffff

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

/* Header checks shared by both entry points; phnum/phoff out. */
static int check_ehdr(const uint8_t *b, size_t len, uint64_t *phoff,
		      unsigned *phnum)
{
	uint64_t type, version, phentsize, n;

	if (!b || len < EHDR_SIZE)
		return kvmon_set_error(EPROTO, "ELF dump: file too short for an "
				       "ELF header");
	if (memcmp(b, "\177ELF", 4))
		return kvmon_set_error(EPROTO, "ELF dump: no ELF magic");
	if (b[4] != 2 || b[5] != 1 || b[6] != 1)
		return kvmon_set_error(EPROTO, "ELF dump: not little-endian "
				       "ELF64 version 1");
	type = le(b + 16, 2);
	version = le(b + 20, 4);
	*phoff = le(b + 32, 8);
	phentsize = le(b + 54, 2);
	n = le(b + 56, 2);
	if (type != ET_CORE || version != 1)
		return kvmon_set_error(EPROTO, "ELF dump: not an ELF core file "
				       "(e_type %llu)", (unsigned long long)type);
	if (phentsize != PHDR_SIZE)
		return kvmon_set_error(EPROTO, "ELF dump: e_phentsize %llu, "
				       "expected %d", (unsigned long long)phentsize,
				       PHDR_SIZE);
	if (n == PN_XNUM || n > KVMON_DUMP_MAX_SEGMENTS)
		return kvmon_set_error(E2BIG, "ELF dump: more than %u program "
				       "headers", KVMON_DUMP_MAX_SEGMENTS);
	if (n == 0)
		return kvmon_set_error(EPROTO, "ELF dump: no program headers");
	if (*phoff < EHDR_SIZE || *phoff > (uint64_t)SIZE_MAX - n * PHDR_SIZE)
		return kvmon_set_error(EPROTO, "ELF dump: bad e_phoff 0x%llx",
				       (unsigned long long)*phoff);
	*phnum = (unsigned)n;
	return 0;
}

int kvmon_elf_dump_need(const uint8_t *buf, size_t len, size_t *need)
{
	uint64_t phoff;
	unsigned phnum;

	if (check_ehdr(buf, len, &phoff, &phnum) < 0)
		return -1;
	*need = (size_t)phoff + (size_t)phnum * PHDR_SIZE;
	return 0;
}

static int by_gpa(const void *a, const void *b)
{
	const struct kvmon_dump_seg *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

int kvmon_parse_elf_dump(const uint8_t *buf, size_t len, uint64_t file_size,
			 struct kvmon_dump_seg *out, size_t max, size_t *count)
{
	uint64_t phoff;
	unsigned phnum;
	size_t n = 0, m;

	if (!count || (!out && max))
		return kvmon_set_error(EINVAL, "ELF dump: bad arguments");
	*count = 0;
	if (check_ehdr(buf, len, &phoff, &phnum) < 0)
		return -1;
	if (phoff + (uint64_t)phnum * PHDR_SIZE > len ||
	    phoff + (uint64_t)phnum * PHDR_SIZE > file_size)
		return kvmon_set_error(EPROTO, "ELF dump: program headers past "
				       "the end of the file");
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = buf + phoff + (size_t)i * PHDR_SIZE;
		struct kvmon_dump_seg s;

		if (le(ph, 4) != PT_LOAD)
			continue;
		s.offset = le(ph + 8, 8);
		s.gpa = le(ph + 24, 8);
		s.filesz = le(ph + 32, 8);
		s.size = le(ph + 40, 8);
		if (s.size == 0 && s.filesz == 0)
			continue;
		if (s.filesz > s.size)
			return kvmon_set_error(EPROTO, "ELF dump: segment %u has "
					       "p_filesz > p_memsz", i);
		if (s.offset > file_size || s.filesz > file_size - s.offset)
			return kvmon_set_error(EPROTO, "ELF dump: segment %u "
					       "(0x%llx bytes at offset 0x%llx) "
					       "extends past the end of the "
					       "file (truncated dump?)", i,
					       (unsigned long long)s.filesz,
					       (unsigned long long)s.offset);
		if (s.gpa >= KVMON_DUMP_MAX_PHYS ||
		    s.size > KVMON_DUMP_MAX_PHYS - s.gpa)
			return kvmon_set_error(EPROTO, "ELF dump: segment %u at "
					       "guest-physical 0x%llx is beyond "
					       "the physical address space", i,
					       (unsigned long long)s.gpa);
		if (n == max)
			return kvmon_set_error(E2BIG, "ELF dump: more than %zu "
					       "PT_LOAD segments", max);
		out[n++] = s;
	}
	if (n == 0)
		return kvmon_set_error(EPROTO, "ELF dump: no PT_LOAD segments");
	qsort(out, n, sizeof(*out), by_gpa);
	/* Reject overlaps; merge pieces contiguous in memory and file. */
	m = 1;
	for (size_t i = 1; i < n; i++) {
		struct kvmon_dump_seg *prev = &out[m - 1];

		if (out[i].gpa < prev->gpa + prev->size)
			return kvmon_set_error(EPROTO, "ELF dump: segments at "
					       "0x%llx and 0x%llx overlap",
					       (unsigned long long)prev->gpa,
					       (unsigned long long)out[i].gpa);
		if (out[i].gpa == prev->gpa + prev->size &&
		    prev->filesz == prev->size &&
		    out[i].offset == prev->offset + prev->filesz) {
			prev->size += out[i].size;
			prev->filesz += out[i].filesz;
			continue;
		}
		out[m++] = out[i];
	}
	*count = m;
	return 0;
}
