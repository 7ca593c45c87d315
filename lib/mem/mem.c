/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest-physical memory handle: backend selection, range bookkeeping,
 * bounds checks, batching and search, shared by all backends. Backends
 * (file.c, process.c, qmp.c, dump.c) only read pieces that already lie
 * inside one of their ranges.
 *
 * The file backend keeps its fast path here: with a mapping (m->base) a
 * read is a range lookup and memcpy, and a search is memmem on the map.
 */
#define _GNU_SOURCE
#include "mem_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pieces handed to a backend at once (process: iovecs per syscall). */
#define BATCH 64
/* Search: bytes read per step through non-mapped backends; needle cap. */
#define FIND_CHUNK (1u << 20)
#define FIND_MAX_NEEDLE (64u << 10)

struct kvmon_mem *kvmon_mem_alloc(const struct kvmon_mem_ops *ops,
				  size_t nranges)
{
	struct kvmon_mem *m = calloc(1, sizeof(*m));

	if (m && nranges)
		m->ranges = calloc(nranges, sizeof(*m->ranges));
	if (!m || (nranges && !m->ranges)) {
		free(m);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	m->ops = ops;
	m->nranges = nranges;
	m->fd = -1;
	m->pid = -1;
	return m;
}

static int by_gpa(const void *a, const void *b)
{
	const struct kvmon_mem_range *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

int kvmon_mem_finish_ranges(struct kvmon_mem *m)
{
	m->total = 0;
	if (m->nranges == 0)
		return kvmon_set_error(EPROTO, "no guest RAM ranges");
	qsort(m->ranges, m->nranges, sizeof(*m->ranges), by_gpa);
	for (size_t i = 0; i < m->nranges; i++) {
		const struct kvmon_mem_range *r = &m->ranges[i];

		if (r->size == 0 || r->gpa + r->size < r->gpa ||
		    r->avail > r->size)
			return kvmon_set_error(EPROTO, "bad RAM range at 0x%llx",
					       (unsigned long long)r->gpa);
		if (i > 0 && r->gpa < m->ranges[i - 1].gpa + m->ranges[i - 1].size)
			return kvmon_set_error(EPROTO, "RAM ranges at 0x%llx and "
					       "0x%llx overlap",
					       (unsigned long long)m->ranges[i - 1].gpa,
					       (unsigned long long)r->gpa);
		if (m->total > UINT64_MAX - r->size)
			return kvmon_set_error(EPROTO, "RAM size overflows");
		m->total += r->size;
	}
	return 0;
}

static bool is_block(const char *name, const struct kvmon_memdev *md,
		     size_t nmd, const char *only)
{
	if (only)
		return !strcmp(name, only);
	for (size_t i = 0; i < nmd; i++)
		if (!strcmp(name, md[i].id))
			return true;
	/* QEMU without memory backends (before 5.0): the pc block. */
	return nmd == 0 && !strcmp(name, "pc.ram");
}

int kvmon_mem_live_ranges(struct kvmon_vm *vm, const char *only_block,
			  struct kvmon_mem_range **out, size_t *count)
{
	struct kvmon_ram_range all[KVMON_MAX_RAM_RANGES];
	struct kvmon_memdev md[8];
	size_t n = 0, nmd = 0, k = 0;

	*out = NULL;
	*count = 0;
	if (!only_block && kvmon_vm_memdevs(vm, md, ARRAY_SIZE(md), &nmd) < 0)
		return -1;
	if (kvmon_vm_ram_layout(vm, all, ARRAY_SIZE(all), &n) < 0)
		return -1;
	if (n > ARRAY_SIZE(all))
		return kvmon_set_error(E2BIG, "too many RAM ranges (%zu)", n);
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct kvmon_mem_range *r = &(*out)[k];

		if (!is_block(all[i].backend, md, nmd, only_block))
			continue;
		r->gpa = all[i].gpa;
		r->size = all[i].size;
		r->where = all[i].gpa;
		r->avail = all[i].size;
		r->backend_offset = all[i].backend_offset;
		snprintf(r->block, sizeof(r->block), "%s", all[i].backend);
		k++;
	}
	if (k == 0) {
		free(*out);
		*out = NULL;
		return kvmon_set_error(EPROTO, "no RAM ranges of %s%s in the "
				       "layout QEMU reports",
				       only_block ? "backend " : "a memory backend",
				       only_block ? only_block : "");
	}
	*count = k;
	return 0;
}

/* ---------------------------------------------------------- opening */

struct kvmon_mem *kvmon_mem_open(struct kvmon_vm *vm)
{
	struct kvmon_memdev md;

	if (!vm) {
		kvmon_set_error(EINVAL, "no VM");
		return NULL;
	}
	struct kvmon_mem *m;
	char why[400];
	int err;

	if (kvmon_mem_find_file_backend(vm, &md) == 0) {
		m = kvmon_mem_open_file(vm);
		if (m)
			return m;
		/* E.g. the file lives in QEMU's mount namespace: the process
		 * still has the RAM. Report the file's error if both fail. */
		err = kvmon_get_errno();
		snprintf(why, sizeof(why), "%s", kvmon_get_error());
		kvmon_log(KVMON_LOG_WARN, "%s; trying the process backend", why);
		m = kvmon_mem_open_process(vm);
		if (!m) {
			char also[512];

			snprintf(also, sizeof(also), "%s", kvmon_get_error());
			kvmon_set_error(err, "%s (process backend: %s)", why, also);
		}
		return m;
	}
	if (kvmon_get_errno() != ENOTSUP)
		return NULL;
	kvmon_log(KVMON_LOG_DEBUG, "VM '%s': RAM not in a shared file, reading "
		  "it from the QEMU process", vm->name);
	return kvmon_mem_open_process(vm);
}

struct kvmon_mem *kvmon_mem_open_backend(struct kvmon_vm *vm,
					 const char *backend)
{
	if (!vm) {
		kvmon_set_error(EINVAL, "no VM");
		return NULL;
	}
	if (!backend || !*backend || !strcmp(backend, "auto"))
		return kvmon_mem_open(vm);
	if (!strcmp(backend, "file"))
		return kvmon_mem_open_file(vm);
	if (!strcmp(backend, "process"))
		return kvmon_mem_open_process(vm);
	if (!strcmp(backend, "qmp"))
		return kvmon_mem_open_qmp(vm);
	kvmon_set_error(EINVAL, "unknown memory backend '%.32s' (file, process "
			"or qmp; dumps: kvmon_mem_open_dump)", backend);
	return NULL;
}

void kvmon_mem_close(struct kvmon_mem *m)
{
	if (!m)
		return;
	if (m->ops && m->ops->close)
		m->ops->close(m);
	if (m->fd >= 0)
		close(m->fd);
	free(m->ranges);
	free(m);
}

const char *kvmon_mem_backend(const struct kvmon_mem *m)
{
	return m && m->ops ? m->ops->name : "";
}

uint64_t kvmon_mem_size(const struct kvmon_mem *m)
{
	return m ? m->total : 0;
}

int kvmon_mem_ranges(const struct kvmon_mem *m, struct kvmon_ram_range *out,
		     size_t max, size_t *count)
{
	if (!m || !count || (!out && max))
		return kvmon_set_error(EINVAL, "mem_ranges: bad arguments");
	for (size_t i = 0; i < m->nranges && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].gpa = m->ranges[i].gpa;
		out[i].size = m->ranges[i].size;
		out[i].backend_offset = m->ranges[i].backend_offset;
		snprintf(out[i].backend, sizeof(out[i].backend), "%s",
			 m->ranges[i].block);
	}
	*count = m->nranges;
	return 0;
}

/* ---------------------------------------------------------- reading */

static const struct kvmon_mem_range *lookup(const struct kvmon_mem *m,
					    uint64_t gpa)
{
	for (size_t i = 0; i < m->nranges; i++) {
		const struct kvmon_mem_range *r = &m->ranges[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

static int not_ram(uint64_t gpa)
{
	return kvmon_set_error(EFAULT, "guest-physical 0x%llx is not RAM",
			       (unsigned long long)gpa);
}

/* The file backend: the mapping covers every range (checked at open). */
static int read_mapped(struct kvmon_mem *m, uint64_t gpa, uint8_t *out,
		       size_t len)
{
	while (len > 0) {
		const struct kvmon_mem_range *r = lookup(m, gpa);
		uint64_t in_range;
		size_t chunk;

		if (!r)
			return not_ram(gpa);
		in_range = r->size - (gpa - r->gpa);
		chunk = len < in_range ? len : (size_t)in_range;
		memcpy(out, m->base + r->where + (gpa - r->gpa), chunk);
		out += chunk;
		len -= chunk;
		gpa += chunk;
	}
	return 0;
}

/* Split reads into pieces inside ranges and hand them over in batches. */
struct batch {
	struct kvmon_mem *m;
	struct kvmon_mem_piece p[BATCH];
	size_t n;
};

static int flush(struct batch *b)
{
	int rc = 0;

	if (b->n)
		rc = b->m->ops->readv(b->m, b->p, b->n);
	b->n = 0;
	return rc;
}

static int add(struct batch *b, uint64_t gpa, uint8_t *out, size_t len)
{
	while (len > 0) {
		const struct kvmon_mem_range *r = lookup(b->m, gpa);
		uint64_t in_range;
		size_t chunk;

		if (!r)
			return not_ram(gpa);
		in_range = r->size - (gpa - r->gpa);
		chunk = len < in_range ? len : (size_t)in_range;
		if (b->n == BATCH && flush(b) < 0)
			return -1;
		b->p[b->n++] = (struct kvmon_mem_piece){
			.r = r, .off = gpa - r->gpa, .buf = out, .len = chunk
		};
		out += chunk;
		len -= chunk;
		gpa += chunk;
	}
	return 0;
}

/* Every byte of [gpa, gpa+len) is RAM? (checked before slow reads) */
static int check_ram(const struct kvmon_mem *m, uint64_t gpa, size_t len)
{
	while (len > 0) {
		const struct kvmon_mem_range *r = lookup(m, gpa);
		uint64_t in_range;

		if (!r)
			return not_ram(gpa);
		in_range = r->size - (gpa - r->gpa);
		if (len <= in_range)
			return 0;
		len -= (size_t)in_range;
		gpa += in_range;
	}
	return 0;
}

int kvmon_mem_read_phys(struct kvmon_mem *m, uint64_t gpa, void *buf,
			size_t len)
{
	struct batch b;

	if (!m || (!buf && len))
		return kvmon_set_error(EINVAL, "read_phys: bad arguments");
	if (m->base)
		return read_mapped(m, gpa, buf, len);
	if (check_ram(m, gpa, len) < 0)
		return -1;
	b.m = m;
	b.n = 0;
	if (add(&b, gpa, buf, len) < 0)
		return -1;
	return flush(&b);
}

int kvmon_mem_readv(struct kvmon_mem *m, const struct kvmon_phys_iov *iov,
		    size_t n)
{
	struct batch b;

	if (!m || (!iov && n))
		return kvmon_set_error(EINVAL, "readv: bad arguments");
	for (size_t i = 0; i < n; i++) {
		if (!iov[i].buf && iov[i].len)
			return kvmon_set_error(EINVAL, "readv: piece %zu has no "
					       "buffer", i);
		if (check_ram(m, iov[i].gpa, iov[i].len) < 0)
			return -1;
	}
	if (m->base) {
		for (size_t i = 0; i < n; i++)
			if (read_mapped(m, iov[i].gpa, iov[i].buf, iov[i].len) < 0)
				return -1;
		return 0;
	}
	b.m = m;
	b.n = 0;
	for (size_t i = 0; i < n; i++)
		if (add(&b, iov[i].gpa, iov[i].buf, iov[i].len) < 0)
			return -1;
	return flush(&b);
}

/* ---------------------------------------------------------- search */

static int find_mapped(const struct kvmon_mem_range *r, const uint8_t *base,
		       uint64_t skip, const void *needle, size_t nlen,
		       uint64_t *found)
{
	const uint8_t *p = base + r->where + skip;
	const uint8_t *hit = memmem(p, (size_t)(r->size - skip), needle, nlen);

	if (!hit)
		return 0;
	*found = r->gpa + skip + (uint64_t)(hit - p);
	return 1;
}

/* Read the range in chunks that overlap by nlen - 1 bytes. */
static int find_chunked(struct kvmon_mem *m, const struct kvmon_mem_range *r,
			uint64_t skip, uint8_t *buf, const void *needle,
			size_t nlen, uint64_t *found)
{
	while (skip < r->size) {
		uint64_t left = r->size - skip;
		size_t n = left < FIND_CHUNK ? (size_t)left : FIND_CHUNK;
		struct kvmon_mem_piece p = { .r = r, .off = skip, .buf = buf,
					     .len = n };
		const uint8_t *hit;

		if (n < nlen)
			return 0;
		if (m->ops->readv(m, &p, 1) < 0)
			return -1;
		hit = memmem(buf, n, needle, nlen);
		if (hit) {
			*found = r->gpa + skip + (uint64_t)(hit - buf);
			return 1;
		}
		if (n == left)
			return 0;
		skip += n - (nlen - 1);
	}
	return 0;
}

int kvmon_mem_find(struct kvmon_mem *m, uint64_t from, const void *needle,
		   size_t nlen, uint64_t *found)
{
	uint8_t *buf = NULL;
	int rc = 0;

	if (!m || !needle || nlen == 0 || !found)
		return kvmon_set_error(EINVAL, "mem_find: bad arguments");
	if (nlen > FIND_MAX_NEEDLE)
		return kvmon_set_error(EINVAL, "mem_find: needle longer than "
				       "%u bytes", FIND_MAX_NEEDLE);
	if (!m->base) {
		buf = malloc(FIND_CHUNK);
		if (!buf)
			return kvmon_set_error(ENOMEM, "out of memory");
	}
	/* Ranges are sorted by guest-physical address. */
	for (size_t i = 0; i < m->nranges && rc == 0; i++) {
		const struct kvmon_mem_range *r = &m->ranges[i];
		uint64_t skip;

		if (r->gpa + r->size <= from)
			continue;
		skip = from > r->gpa ? from - r->gpa : 0;
		rc = m->base ? find_mapped(r, m->base, skip, needle, nlen, found)
			     : find_chunked(m, r, skip, buf, needle, nlen, found);
	}
	free(buf);
	return rc;
}

/* ---------------------------------------------------------- internal */

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
	if (!m || m->nranges == 0)
		return 0;
	return m->ranges[m->nranges - 1].gpa + m->ranges[m->nranges - 1].size;
}
