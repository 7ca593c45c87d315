/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "file" backend: guest RAM in QEMU's shared RAM file
 * (memory-backend-file,share=on). The file is opened O_RDONLY and mapped
 * PROT_READ, so the monitor cannot write into the guest even by mistake.
 * Reads and searches use the mapping directly (mem.c, m->base): this is
 * the fast path. Guest-physical addresses go through the layout QEMU
 * reports; nothing is assumed about holes.
 */
#define _GNU_SOURCE
#include "mem_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int kvmon_mem_find_file_backend(struct kvmon_vm *vm, struct kvmon_memdev *out)
{
	struct kvmon_memdev md[8];
	size_t n = 0;

	if (kvmon_vm_memdevs(vm, md, ARRAY_SIZE(md), &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(md[i].type, "memory-backend-file") && md[i].share &&
		    md[i].path[0]) {
			*out = md[i];
			return 0;
		}
	}
	return kvmon_set_error(ENOTSUP,
			       "guest RAM of VM '%s' is not in a shared file "
			       "(start QEMU with -object memory-backend-file,"
			       "share=on,... -machine memory-backend=ID, or use "
			       "the process backend)",
			       vm->name);
}

static int map_file(struct kvmon_mem *m, const char *path)
{
	struct stat st;
	void *p;
	/* O_NONBLOCK: a FIFO planted at the path must not hang us. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return kvmon_set_error(errno, "open %s: %s", path,
				       strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return kvmon_set_error(EINVAL, "%s: not a regular RAM file", path);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return kvmon_set_error(errno, "mmap %s: %s", path,
				       strerror(errno));
	m->base = p;
	m->map_len = (size_t)st.st_size;
	return 0;
}

/* Every range must lie inside the mapped file. */
static int check_ranges(struct kvmon_mem *m)
{
	for (size_t i = 0; i < m->nranges; i++) {
		struct kvmon_mem_range *r = &m->ranges[i];

		if (r->backend_offset > m->map_len ||
		    r->size > m->map_len - r->backend_offset)
			return kvmon_set_error(EPROTO,
					       "RAM range at 0x%llx extends past "
					       "the RAM file",
					       (unsigned long long)r->gpa);
		r->where = r->backend_offset;
	}
	return 0;
}

static int file_readv(struct kvmon_mem *m, const struct kvmon_mem_piece *p,
		      size_t n)
{
	/* Not reached while m->base is set (mem.c reads the map itself). */
	for (size_t i = 0; i < n; i++)
		memcpy(p[i].buf, m->base + p[i].r->where + p[i].off, p[i].len);
	return 0;
}

static void file_close(struct kvmon_mem *m)
{
	if (m->base)
		munmap((void *)m->base, m->map_len);
	m->base = NULL;
}

static const struct kvmon_mem_ops file_ops = {
	.name = "file",
	.readv = file_readv,
	.close = file_close,
};

struct kvmon_mem *kvmon_mem_open_file(struct kvmon_vm *vm)
{
	struct kvmon_mem_range *r = NULL;
	struct kvmon_memdev md;
	struct kvmon_mem *m;
	size_t n = 0;

	if (kvmon_mem_find_file_backend(vm, &md) < 0)
		return NULL;
	if (kvmon_mem_live_ranges(vm, md.id, &r, &n) < 0) {
		kvmon_error_prefix("guest RAM of VM '%s'", vm->name);
		return NULL;
	}
	m = kvmon_mem_alloc(&file_ops, 0);
	if (!m) {
		free(r);
		return NULL;
	}
	m->ranges = r;
	m->nranges = n;
	snprintf(m->what, sizeof(m->what), "VM '%s'", vm->name);
	if (map_file(m, md.path) < 0 || check_ranges(m) < 0 ||
	    kvmon_mem_finish_ranges(m) < 0) {
		kvmon_error_prefix("guest RAM of VM '%s'", vm->name);
		kvmon_mem_close(m);
		return NULL;
	}
	return m;
}
