/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sorted indexes over a symbol table: a stable bottom-up merge sort (ties
 * keep table order, so aliases and duplicate names resolve as the kernel
 * does) and binary searches. The arrays come from guest memory or a user's
 * file; the indexes only ever hold positions below n.
 */
#include "linux/symtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef int (*cmp_fn)(const struct kvmon_symtab *t, uint32_t a, uint32_t b);

static int cmp_name(const struct kvmon_symtab *t, uint32_t a, uint32_t b)
{
	return strcmp(t->arena + t->name[a], t->arena + t->name[b]);
}

static int cmp_addr(const struct kvmon_symtab *t, uint32_t a, uint32_t b)
{
	return (t->addr[a] > t->addr[b]) - (t->addr[a] < t->addr[b]);
}

static void merge(const struct kvmon_symtab *t, cmp_fn cmp, const uint32_t *src,
		  uint32_t *dst, size_t lo, size_t mid, size_t hi)
{
	size_t i = lo, j = mid, o = lo;

	while (i < mid && j < hi)
		dst[o++] = cmp(t, src[i], src[j]) <= 0 ? src[i++] : src[j++];
	while (i < mid)
		dst[o++] = src[i++];
	while (j < hi)
		dst[o++] = src[j++];
}

static uint32_t *sorted_index(const struct kvmon_symtab *t, cmp_fn cmp)
{
	size_t cnt = t->n ? t->n : 1; /* no malloc(0) */
	uint32_t *a = malloc(cnt * sizeof(*a)), *b = malloc(cnt * sizeof(*b));
	uint32_t *src = a, *dst = b, *tmp;

	if (!a || !b) {
		free(a);
		free(b);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++)
		a[i] = (uint32_t)i;
	for (size_t w = 1; w < t->n; w *= 2) {
		for (size_t lo = 0; lo < t->n; lo += 2 * w) {
			size_t mid = lo + w < t->n ? lo + w : t->n;
			size_t hi = lo + 2 * w < t->n ? lo + 2 * w : t->n;

			merge(t, cmp, src, dst, lo, mid, hi);
		}
		tmp = src;
		src = dst;
		dst = tmp;
	}
	free(dst);
	return src;
}

int kvmon_symtab_index(struct kvmon_symtab *t)
{
	if (!(t->by_name = sorted_index(t, cmp_name)) ||
	    !(t->by_addr = sorted_index(t, cmp_addr)))
		return -1;
	return 0;
}

int kvmon_symtab_reindex_addr(struct kvmon_symtab *t)
{
	uint32_t *by_addr = sorted_index(t, cmp_addr);

	if (!by_addr)
		return -1;
	free(t->by_addr);
	t->by_addr = by_addr;
	return 0;
}

void kvmon_symtab_release(struct kvmon_symtab *t)
{
	free(t->addr);
	free(t->name);
	free(t->type);
	free(t->arena);
	free(t->by_name);
	free(t->by_addr);
}

int kvmon_symtab_get(const struct kvmon_symtab *t, size_t i, const char **name,
		     char *type, uint64_t *addr)
{
	if (i >= t->n)
		return kvmon_set_error(ERANGE, "%s: no symbol %zu (of %zu)", t->what,
				       i, t->n);
	if (name)
		*name = t->arena + t->name[i];
	if (type)
		*type = t->type[i];
	if (addr)
		*addr = t->addr[i];
	return 0;
}

int kvmon_symtab_find(const struct kvmon_symtab *t, const char *name, size_t *idx)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) { /* lower bound: first of equal names */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->arena + t->name[t->by_name[mid]], name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->n || strcmp(t->arena + t->name[t->by_name[lo]], name))
		return kvmon_set_error(ENOENT, "%s: no symbol %.64s", t->what, name);
	*idx = t->by_name[lo];
	return 0;
}

/* First position in by_addr whose address is > addr (or >= if !upper). */
static size_t addr_bound(const struct kvmon_symtab *t, uint64_t addr, bool upper)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t a = t->addr[t->by_addr[mid]];

		if (a < addr || (upper && a == addr))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int kvmon_symtab_resolve(const struct kvmon_symtab *t, uint64_t addr,
			 const char **name, uint64_t *offset)
{
	size_t pos = addr_bound(t, addr, true);
	uint32_t i;

	if (pos == 0)
		return kvmon_set_error(ENOENT, "%s: 0x%llx is below every symbol",
				       t->what, (unsigned long long)addr);
	i = t->by_addr[addr_bound(t, t->addr[t->by_addr[pos - 1]], false)];
	if (name)
		*name = t->arena + t->name[i];
	if (offset)
		*offset = addr - t->addr[i];
	return 0;
}
