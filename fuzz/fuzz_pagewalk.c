/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: x86-64 page walk and translation cache over hostile guest
 * memory. Input: an 8-byte little-endian header, then guest-physical RAM
 * starting at gpa 0. Header bit 0: la57; bits 1..5: cr3 page; bits 6..63:
 * va (made canonical; the raw value is tried too). Oracles beyond the
 * sanitizers: the cache must agree with a plain walk, and every result
 * must be self-consistent.
 */
#include "internal.h"
#include "arch/x86_64.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ram {
	const uint8_t *p;
	size_t len;
};

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	const struct fuzz_ram *r = ctx;

	if (gpa > r->len || len > r->len - gpa)
		return kvmon_set_error(EFAULT, "gpa 0x%llx is not RAM",
				       (unsigned long long)gpa);
	memcpy(buf, r->p + gpa, len);
	return 0;
}

static uint64_t make_canonical(uint64_t va, bool la57)
{
	unsigned bits = la57 ? 57 : 48;

	if (va & (UINT64_C(1) << (bits - 1)))
		return va | ~((UINT64_C(1) << bits) - 1);
	return va & ((UINT64_C(1) << bits) - 1);
}

static bool same(const struct kvmon_xlate *a, const struct kvmon_xlate *b)
{
	return a->gpa == b->gpa && a->page_size == b->page_size &&
	       a->writable == b->writable && a->user == b->user &&
	       a->nx == b->nx;
}

/* Plain walk, cached miss and cached hit must all agree. */
static void check_va(struct kvmon_tlb *t, const struct kvmon_physmem *pm,
		     uint64_t cr3, bool la57, uint64_t va)
{
	struct kvmon_xlate a, b, c;
	int ra, rb, rc, ea;

	ra = kvmon_x86_translate(pm, cr3, la57, va, &a);
	ea = kvmon_get_errno();
	rb = kvmon_x86_translate_cached(t, pm, cr3, la57, va, &b);
	rc = kvmon_x86_translate_cached(t, pm, cr3, la57, va, &c);
	if (ra != rb || ra != rc)
		__builtin_trap();
	if (ra < 0) {
		if (ea != EFAULT && ea != EINVAL && ea != EIO)
			__builtin_trap();
		return;
	}
	if (!same(&a, &b) || !same(&a, &c))
		__builtin_trap();
	if (a.page_size != KVMON_X86_PAGE_4K && a.page_size != KVMON_X86_PAGE_2M &&
	    a.page_size != KVMON_X86_PAGE_1G)
		__builtin_trap();
	if ((a.gpa ^ va) & (a.page_size - 1) || a.gpa >> 52)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ram ram;
	struct kvmon_physmem pm = { .read = ram_read, .ctx = &ram };
	struct kvmon_tlb *t;
	uint8_t buf[64], buf2[64];
	uint64_t h = 0, cr3, va, rva;
	bool la57;
	int r1, r2;

	if (size < 8)
		return 0;
	for (int i = 7; i >= 0; i--)
		h = h << 8 | data[i];
	ram.p = data + 8;
	ram.len = size - 8;
	la57 = h & 1;
	/* Garbage in the low bits must be ignored. */
	cr3 = ((h >> 1) & 31) << 12 | (h & 0xfc0);
	va = make_canonical(h & ~UINT64_C(0x3f), la57);

	/* Two entries: collisions and evictions get exercised too. */
	t = kvmon_tlb_new(1);
	if (!t)
		return 0;
	check_va(t, &pm, cr3, la57, va);
	check_va(t, &pm, cr3, la57, va + KVMON_X86_PAGE_4K);
	check_va(t, &pm, cr3, la57, va + KVMON_X86_PAGE_2M);
	check_va(t, &pm, cr3, la57, h);
	check_va(t, &pm, cr3, !la57, va);

	/* The last bytes of va's page and the start of the next. */
	rva = (va | 0xfff) - 31;
	memset(buf, 0, sizeof(buf));
	memset(buf2, 0, sizeof(buf2));
	r1 = kvmon_x86_read_virt(t, &pm, cr3, la57, rva, buf, sizeof(buf));
	r2 = kvmon_x86_read_virt(NULL, &pm, cr3, la57, rva, buf2, sizeof(buf2));
	if (r1 != r2 || (r1 == 0 && memcmp(buf, buf2, sizeof(buf))))
		__builtin_trap();
	kvmon_tlb_free(t);
	return 0;
}
