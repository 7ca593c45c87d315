/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest-physical memory through QEMU's shared RAM file
 * (memory-backend-file,share=on). The file is opened O_RDONLY and mapped
 * PROT_READ, so the monitor cannot write into the guest even by mistake.
 * Guest-physical addresses go through the layout QEMU reports; nothing is
 * assumed about holes.
 */
#define _GNU_SOURCE
#include "../vm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct kvmon_mem {
	const uint8_t *base;
	size_t map_len;
	struct kvmon_ram_range ranges[KVMON_MAX_RAM_RANGES];
	size_t nranges;
	uint64_t total;
	char backend_id[64];
};

/* Pick the shared file backend and its mem-path. */
static int find_backend(struct kvmon_vm *vm, struct kvmon_memdev *out)
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
			       "share=on,... -machine memory-backend=ID)",
			       vm->name);
}

/* Keep only ranges of our backend that lie inside the mapped file. */
static int select_ranges(struct kvmon_mem *m, const struct kvmon_ram_range *all,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct kvmon_ram_range *r = &all[i];

		if (strcmp(r->backend, m->backend_id))
			continue;
		if (r->backend_offset > m->map_len ||
		    r->size > m->map_len - r->backend_offset)
			return kvmon_set_error(EPROTO,
					       "RAM range at 0x%llx extends past "
					       "the RAM file",
					       (unsigned long long)r->gpa);
		if (m->nranges == ARRAY_SIZE(m->ranges))
			return kvmon_set_error(E2BIG, "too many RAM ranges");
		m->ranges[m->nranges++] = *r;
		m->total += r->size;
	}
	if (m->nranges == 0)
		return kvmon_set_error(EPROTO, "no RAM ranges use backend '%s'",
				       m->backend_id);
	return 0;
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

struct kvmon_mem *kvmon_mem_open(struct kvmon_vm *vm)
{
	struct kvmon_ram_range all[KVMON_MAX_RAM_RANGES];
	struct kvmon_memdev md;
	struct kvmon_mem *m;
	size_t n = 0;

	if (find_backend(vm, &md) < 0)
		return NULL;
	if (kvmon_vm_ram_layout(vm, all, ARRAY_SIZE(all), &n) < 0)
		return NULL;
	if (n > ARRAY_SIZE(all)) {
		kvmon_set_error(E2BIG, "too many RAM ranges (%zu)", n);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(m->backend_id, sizeof(m->backend_id), "%s", md.id);
	if (map_file(m, md.path) < 0 || select_ranges(m, all, n) < 0) {
		kvmon_error_prefix("guest RAM of VM '%s'", vm->name);
		kvmon_mem_close(m);
		return NULL;
	}
	return m;
}

void kvmon_mem_close(struct kvmon_mem *m)
{
	if (!m)
		return;
	if (m->base)
		munmap((void *)m->base, m->map_len);
	free(m);
}

const char *kvmon_mem_backend(const struct kvmon_mem *m)
{
	(void)m;
	return "file";
}

uint64_t kvmon_mem_size(const struct kvmon_mem *m)
{
	return m ? m->total : 0;
}

static const struct kvmon_ram_range *lookup(const struct kvmon_mem *m,
					    uint64_t gpa)
{
	for (size_t i = 0; i < m->nranges; i++) {
		const struct kvmon_ram_range *r = &m->ranges[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

int kvmon_mem_read_phys(struct kvmon_mem *m, uint64_t gpa, void *buf,
			size_t len)
{
	uint8_t *out = buf;

	if (!m || (!buf && len))
		return kvmon_set_error(EINVAL, "read_phys: bad arguments");
	while (len > 0) {
		const struct kvmon_ram_range *r = lookup(m, gpa);
		uint64_t in_range;
		size_t chunk;

		if (!r)
			return kvmon_set_error(EFAULT,
					       "guest-physical 0x%llx is not RAM",
					       (unsigned long long)gpa);
		in_range = r->size - (gpa - r->gpa);
		chunk = len < in_range ? len : (size_t)in_range;
		memcpy(out, m->base + r->backend_offset + (gpa - r->gpa), chunk);
		out += chunk;
		len -= chunk;
		gpa += chunk;
	}
	return 0;
}

int kvmon_mem_find(struct kvmon_mem *m, uint64_t from, const void *needle,
		   size_t nlen, uint64_t *found)
{
	const struct kvmon_ram_range *best = NULL;
	const uint8_t *hit = NULL;

	if (!m || !needle || nlen == 0 || !found)
		return kvmon_set_error(EINVAL, "mem_find: bad arguments");
	/* Ranges are searched in guest-physical order. */
	for (;;) {
		uint64_t start, skip;

		best = NULL;
		for (size_t i = 0; i < m->nranges; i++) {
			const struct kvmon_ram_range *r = &m->ranges[i];

			if (r->gpa + r->size <= from)
				continue;
			if (!best || r->gpa < best->gpa)
				best = &m->ranges[i];
		}
		if (!best)
			return 0;
		start = from > best->gpa ? from : best->gpa;
		skip = start - best->gpa;
		hit = memmem(m->base + best->backend_offset + skip,
			     (size_t)(best->size - skip), needle, nlen);
		if (hit) {
			*found = best->gpa +
				 (uint64_t)(hit - (m->base + best->backend_offset));
			return 1;
		}
		from = best->gpa + best->size;
	}
}

static int physmem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	return kvmon_mem_read_phys(ctx, gpa, buf, len);
}

void kvmon_mem_physmem(struct kvmon_mem *m, struct kvmon_physmem *pm)
{
	pm->read = physmem_read;
	pm->ctx = m;
}

uint64_t kvmon_mem_ram_end(const struct kvmon_mem *m)
{
	uint64_t end = 0;

	for (size_t i = 0; m && i < m->nranges; i++)
		if (m->ranges[i].gpa + m->ranges[i].size > end)
			end = m->ranges[i].gpa + m->ranges[i].size;
	return end;
}
