/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * x86-64 guest page-table walk and translation cache. See x86_64.h for
 * the model and the cache invalidation rules.
 */
#include "../internal.h"
#include "x86_64.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PTE_P		(UINT64_C(1) << 0)
#define PTE_RW		(UINT64_C(1) << 1)
#define PTE_US		(UINT64_C(1) << 2)
#define PTE_PS		(UINT64_C(1) << 7)	/* PAT in a 4K PTE */
#define PTE_NX		(UINT64_C(1) << 63)

/* Bits 12..51: next table or 4K frame (MAXPHYADDR 52). */
#define ADDR_MASK	UINT64_C(0x000ffffffffff000)

#define LEVEL_PT	0
#define LEVEL_PD	1
#define LEVEL_PDPT	2
#define LEVEL_PML4	3
#define LEVEL_PML5	4

static const char *const level_name[] = { "PT", "PD", "PDPT", "PML4", "PML5" };

static unsigned level_shift(int level)
{
	return 12 + 9 * (unsigned)level;
}

/* Bits 63..N-1 must all equal bit N-1 (N = 48 or 57). */
static bool canonical(uint64_t va, bool la57)
{
	uint64_t top = va >> (la57 ? 56 : 47);

	return top == 0 || top == (UINT64_MAX >> (la57 ? 56 : 47));
}

static int noncanonical(uint64_t va, bool la57)
{
	return kvmon_set_error(EINVAL, "va 0x%016llx is not canonical for "
			       "%d-level paging", (unsigned long long)va,
			       la57 ? 5 : 4);
}

/* Entries are little-endian whatever the host is. */
static uint64_t le64(const uint8_t b[8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* The backend's error becomes EIO: a table we cannot read is not "unmapped". */
static int read_entry(const struct kvmon_physmem *pm, uint64_t table,
		      int level, uint64_t va, uint64_t *e)
{
	unsigned idx = (unsigned)(va >> level_shift(level)) & 511;
	uint64_t gpa = table + idx * 8u;
	uint8_t raw[8];
	char why[256];

	if (kvmon_phys_read(pm, gpa, raw, sizeof(raw)) == 0) {
		*e = le64(raw);
		return 0;
	}
	snprintf(why, sizeof(why), "%s", kvmon_get_error());
	return kvmon_set_error(EIO, "va 0x%016llx: cannot read %s entry %u at "
			       "gpa 0x%llx: %s", (unsigned long long)va,
			       level_name[level], idx, (unsigned long long)gpa,
			       why);
}

static int not_mapped(uint64_t va, int level, const char *what)
{
	return kvmon_set_error(EFAULT, "va 0x%016llx not mapped: %s entry %u %s",
			       (unsigned long long)va, level_name[level],
			       (unsigned)(va >> level_shift(level)) & 511, what);
}

/*
 * A PS entry at PD/PDPT level maps a large page. Bit 12 is PAT; bits
 * 13..shift-1 are reserved and make the CPU fault, so we refuse them too
 * rather than invent an address.
 */
static int large_page(uint64_t e, int level, uint64_t va,
		      struct kvmon_xlate *out)
{
	uint64_t size = UINT64_C(1) << level_shift(level);
	uint64_t rsvd = (size - 1) & ~UINT64_C(0x1fff);

	if (level > LEVEL_PDPT)
		return not_mapped(va, level, "has PS set (reserved)");
	if (e & rsvd)
		return not_mapped(va, level, "has reserved address bits set");
	out->page_size = size;
	out->gpa = (e & ADDR_MASK & ~(size - 1)) | (va & (size - 1));
	return 0;
}

int kvmon_x86_translate(const struct kvmon_physmem *pm, uint64_t cr3, bool la57,
			uint64_t va, struct kvmon_xlate *out)
{
	uint64_t table = cr3 & ADDR_MASK, e;
	bool w = true, u = true, nx = false;
	int level;

	if (!canonical(va, la57))
		return noncanonical(va, la57);
	/* At most five iterations: the level, not the tables, bounds it. */
	level = la57 ? LEVEL_PML5 : LEVEL_PML4;
	for (; level >= LEVEL_PT; level--) {
		if (read_entry(pm, table, level, va, &e) < 0)
			return -1;
		if (!(e & PTE_P))
			return not_mapped(va, level, "not present");
		w = w && (e & PTE_RW);
		u = u && (e & PTE_US);
		nx = nx || (e & PTE_NX);
		if (level != LEVEL_PT && (e & PTE_PS)) {
			if (large_page(e, level, va, out) < 0)
				return -1;
			break;
		}
		if (level == LEVEL_PT) {
			out->page_size = KVMON_X86_PAGE_4K;
			out->gpa = (e & ADDR_MASK) | (va & 0xfff);
		}
		table = e & ADDR_MASK;
	}
	out->writable = w;
	out->user = u;
	out->nx = nx;
	return 0;
}

/* ---- translation cache ---- */

#define TLB_MAX_LOG2	20
#define TLB_VALID	UINT64_C(1)
#define TLB_LA57	UINT64_C(2)

#define FL_W		UINT64_C(1)
#define FL_U		UINT64_C(2)
#define FL_NX		UINT64_C(4)

/*
 * key: root table address | page shift << 4 | la57 | valid (the root is
 * page-aligned, so the low bits are free); 0 means empty, which makes a
 * flush a memset. base: page frame | FL_* flags.
 */
struct tlb_entry {
	uint64_t key;
	uint64_t vtag;	/* va >> shift, sign bits included */
	uint64_t base;
	uint64_t gen;	/* valid only while equal to the cache's gen */
};

/* Flushing bumps gen instead of clearing the table: a detector pass
 * starts with a flush, so it must cost nothing. */
struct kvmon_tlb {
	uint64_t hits, misses;
	uint64_t mask;
	uint64_t gen;
	struct tlb_entry e[];
};

struct kvmon_tlb *kvmon_tlb_new(unsigned entries_log2)
{
	struct kvmon_tlb *t;
	size_t n;

	if (entries_log2 > TLB_MAX_LOG2) {
		kvmon_set_error(EINVAL, "translation cache of 2^%u entries "
				"(max 2^%d)", entries_log2, TLB_MAX_LOG2);
		return NULL;
	}
	n = (size_t)1 << entries_log2;
	t = calloc(1, sizeof(*t) + n * sizeof(t->e[0]));
	if (!t) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	t->mask = n - 1;
	t->gen = 1;
	return t;
}

void kvmon_tlb_free(struct kvmon_tlb *t)
{
	free(t);
}

void kvmon_tlb_flush(struct kvmon_tlb *t)
{
	if (t)
		t->gen++; /* 64 bits: never wraps in practice */
}

void kvmon_tlb_stats(const struct kvmon_tlb *t, uint64_t *hits,
		     uint64_t *misses)
{
	if (hits)
		*hits = t ? t->hits : 0;
	if (misses)
		*misses = t ? t->misses : 0;
}

static uint64_t tlb_key(uint64_t cr3, bool la57, unsigned shift)
{
	return (cr3 & ADDR_MASK) | (uint64_t)shift << 4 |
	       (la57 ? TLB_LA57 : 0) | TLB_VALID;
}

/* Fibonacci hashing spreads consecutive pages over the whole table. */
static struct tlb_entry *tlb_slot(struct kvmon_tlb *t, uint64_t key,
				  uint64_t vtag)
{
	uint64_t h = (vtag ^ key) * UINT64_C(0x9e3779b97f4a7c15);

	return &t->e[(h >> 40) & t->mask];
}

static void tlb_fill(const struct tlb_entry *s, uint64_t va, unsigned shift,
		     struct kvmon_xlate *out)
{
	uint64_t size = UINT64_C(1) << shift;

	out->page_size = size;
	out->gpa = (s->base & ~(size - 1)) | (va & (size - 1));
	out->writable = s->base & FL_W;
	out->user = s->base & FL_U;
	out->nx = s->base & FL_NX;
}

static void tlb_insert(struct kvmon_tlb *t, uint64_t cr3, bool la57,
		       uint64_t va, const struct kvmon_xlate *x)
{
	unsigned shift = x->page_size == KVMON_X86_PAGE_1G ? 30 :
			 x->page_size == KVMON_X86_PAGE_2M ? 21 : 12;
	uint64_t key = tlb_key(cr3, la57, shift);
	struct tlb_entry *s = tlb_slot(t, key, va >> shift);

	s->key = key;
	s->gen = t->gen;
	s->vtag = va >> shift;
	s->base = (x->gpa & ~(x->page_size - 1)) | (x->writable ? FL_W : 0) |
		  (x->user ? FL_U : 0) | (x->nx ? FL_NX : 0);
}

int kvmon_x86_translate_cached(struct kvmon_tlb *t, const struct kvmon_physmem *pm,
			       uint64_t cr3, bool la57, uint64_t va,
			       struct kvmon_xlate *out)
{
	static const unsigned shifts[] = { 12, 21, 30 };

	if (!t)
		return kvmon_x86_translate(pm, cr3, la57, va, out);
	if (!canonical(va, la57))
		return noncanonical(va, la57);
	/* The page size is unknown until a walk: probe each (4K first). */
	for (unsigned i = 0; i < ARRAY_SIZE(shifts); i++) {
		uint64_t key = tlb_key(cr3, la57, shifts[i]);
		const struct tlb_entry *s = tlb_slot(t, key, va >> shifts[i]);

		if (s->key == key && s->gen == t->gen &&
		    s->vtag == va >> shifts[i]) {
			t->hits++;
			tlb_fill(s, va, shifts[i], out);
			return 0;
		}
	}
	t->misses++;
	if (kvmon_x86_translate(pm, cr3, la57, va, out) < 0)
		return -1;
	tlb_insert(t, cr3, la57, va, out);
	return 0;
}

int kvmon_x86_read_virt(struct kvmon_tlb *t, const struct kvmon_physmem *pm,
			uint64_t cr3, bool la57, uint64_t va, void *buf, size_t len)
{
	uint8_t *p = buf;

	if (len > KVMON_X86_READ_MAX)
		return kvmon_set_error(EINVAL, "guest-virtual read of %zu bytes "
				       "(max %llu)", len,
				       (unsigned long long)KVMON_X86_READ_MAX);
	if (len && va + (len - 1) < va)
		return kvmon_set_error(EINVAL, "va 0x%016llx + %zu wraps around",
				       (unsigned long long)va, len);
	while (len) {
		struct kvmon_xlate x;
		uint64_t chunk;

		if (kvmon_x86_translate_cached(t, pm, cr3, la57, va, &x) < 0)
			return -1;
		/* Up to the end of this page; the next may be elsewhere. */
		chunk = x.page_size - (va & (x.page_size - 1));
		if (chunk > len)
			chunk = len;
		if (kvmon_phys_read(pm, x.gpa, p, chunk) < 0)
			return kvmon_error_prefix("va 0x%016llx (gpa 0x%llx)",
						  (unsigned long long)va,
						  (unsigned long long)x.gpa);
		p += chunk;
		va += chunk;
		len -= chunk;
	}
	return 0;
}
