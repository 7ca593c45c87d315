/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: a guest memory dump from anywhere. The input is an ELF core
 * (or anything): its headers are parsed and the result's promises checked,
 * then it is opened as a file through the dump backend, every range is
 * read at both ends and searched.
 */
#define _GNU_SOURCE
#include "mem/mem_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kvmon_dump_seg seg[KVMON_DUMP_MAX_SEGMENTS];

static void check(const uint8_t *data, size_t size, uint64_t file_size)
{
	size_t n = 0;

	if (kvmon_parse_elf_dump(data, size, file_size, seg,
				 KVMON_DUMP_MAX_SEGMENTS, &n) < 0)
		return;
	if (n == 0 || n > KVMON_DUMP_MAX_SEGMENTS)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		const struct kvmon_dump_seg *s = &seg[i];

		if (s->size == 0 || s->filesz > s->size ||
		    s->offset > file_size || s->filesz > file_size - s->offset ||
		    s->gpa >= KVMON_DUMP_MAX_PHYS ||
		    s->size > KVMON_DUMP_MAX_PHYS - s->gpa ||
		    (i > 0 && s->gpa < seg[i - 1].gpa + seg[i - 1].size))
			__builtin_trap(); /* the parser promised all of this */
	}
}

static int memfd = -1;

static void through_file(const uint8_t *data, size_t size)
{
	struct kvmon_ram_range r[8];
	struct kvmon_mem *m;
	char path[64];
	uint8_t buf[64];
	uint64_t at;
	size_t n = 0;

	if (memfd < 0 && (memfd = memfd_create("fuzz-dump", MFD_CLOEXEC)) < 0)
		return;
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	m = kvmon_mem_open_dump(path);
	if (!m)
		return;
	if (kvmon_mem_ranges(m, r, 8, &n) == 0) {
		for (size_t i = 0; i < n && i < 8; i++) {
			size_t len = r[i].size < sizeof(buf) ? (size_t)r[i].size
							     : sizeof(buf);

			if (kvmon_mem_read_phys(m, r[i].gpa, buf, len) < 0 ||
			    kvmon_mem_read_phys(m, r[i].gpa + r[i].size - len, buf,
						len) < 0)
				__builtin_trap(); /* ranges are readable */
		}
	}
	/* Search only small dumps: p_memsz may claim terabytes of zeros. */
	if (kvmon_mem_size(m) <= (4u << 20))
		kvmon_mem_find(m, 0, "Linux", 5, &at);
	kvmon_mem_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t need = 0;

	if (kvmon_elf_dump_need(data, size, &need) == 0 && need < 64)
		__builtin_trap();
	check(data, size, size);
	check(data, size, (uint64_t)size << 24);
	through_file(data, size);
	return 0;
}
