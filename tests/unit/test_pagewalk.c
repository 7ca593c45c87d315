/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * x86-64 page-table walk and translation cache on synthetic guest memory:
 * tables built by hand in a 16 MiB buffer, hostile entries included.
 */
#include "internal.h"
#include "arch/x86_64.h"
#include "../tap.h"

#include <errno.h>
#include <string.h>

#define RAM_SIZE	(16u << 20)
#define P		UINT64_C(0x001)
#define RW		UINT64_C(0x002)
#define US		UINT64_C(0x004)
#define PS		UINT64_C(0x080)
#define PAT_LARGE	UINT64_C(0x1000)
#define NX		(UINT64_C(1) << 63)
#define TBL		(P | RW | US)
#define K4		UINT64_C(0x1000)
#define M2		(UINT64_C(1) << 21)
#define G1		(UINT64_C(1) << 30)

static uint8_t *ram;
static uint64_t next_free;
static unsigned long phys_reads;

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	phys_reads++;
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return kvmon_set_error(EFAULT, "gpa 0x%llx+%zu is not RAM",
				       (unsigned long long)gpa, len);
	memcpy(buf, ram + gpa, len);
	return 0;
}

static const struct kvmon_physmem pm = { .read = ram_read };

/* Page-table pages come from 1 MiB up; data pages are placed by hand. */
static uint64_t alloc_page(void)
{
	uint64_t gpa = next_free;

	next_free += K4;
	if (next_free > 8u << 20)
		bail("test page allocator exhausted");
	memset(ram + gpa, 0, K4);
	return gpa;
}

static void reset_ram(void)
{
	memset(ram, 0, RAM_SIZE);
	next_free = 1u << 20;
}

static void set_entry(uint64_t table, unsigned idx, uint64_t e)
{
	for (int i = 0; i < 8; i++)
		ram[table + idx * 8 + i] = (uint8_t)(e >> (8 * i));
}

static uint64_t get_entry(uint64_t table, unsigned idx)
{
	uint64_t e;

	memcpy(&e, ram + table + idx * 8, 8);
	return e;
}

static unsigned idx_of(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * level)) & 511;
}

/*
 * Map va to gpa with a leaf of the given size (level 0/1/2 for 4K/2M/1G);
 * missing tables are created with TBL flags. Returns the leaf's table.
 */
static uint64_t map(uint64_t root, bool la57, uint64_t va, uint64_t leaf,
		    int leaf_level)
{
	uint64_t table = root;

	for (int level = la57 ? 4 : 3; level > leaf_level; level--) {
		uint64_t e = get_entry(table, idx_of(va, level));

		if (!(e & P)) {
			e = alloc_page() | TBL;
			set_entry(table, idx_of(va, level), e);
		}
		table = e & UINT64_C(0x000ffffffffff000);
	}
	set_entry(table, idx_of(va, leaf_level), leaf);
	return table;
}

static int xl(uint64_t cr3, bool la57, uint64_t va, struct kvmon_xlate *x)
{
	memset(x, 0, sizeof(*x));
	return kvmon_x86_translate(&pm, cr3, la57, va, x);
}

static bool err_has(const char *s)
{
	return strstr(kvmon_get_error(), s) != NULL;
}

static void test_basic_4level(void)
{
	uint64_t root, va_user = 0x400000, va_k2m = 0xffffffff81000000;
	uint64_t va_1g = 0xffff888000000000;
	struct kvmon_xlate x;

	reset_ram();
	root = alloc_page();
	map(root, false, va_user, 0x200000 | P | RW | US, 0);
	map(root, false, va_k2m, 0x400000 | P | PS, 1);
	map(root, false, va_1g, 0x40000000 | P | RW | PS | NX, 2);

	ok(xl(root, false, va_user + 0x123, &x) == 0 && x.gpa == 0x200123 &&
		   x.page_size == K4,
	   "4-level 4K user page with offset");
	ok(x.writable && x.user && !x.nx, "4K user page: W, U, not NX");
	ok(xl(root, false, va_k2m + 0x12345, &x) == 0 &&
		   x.gpa == 0x412345 && x.page_size == M2,
	   "4-level 2M kernel page with offset");
	ok(!x.writable && !x.user && !x.nx, "2M kernel text: RO, supervisor, X");
	ok(xl(root, false, va_1g + 0x3456789, &x) == 0 &&
		   x.gpa == 0x43456789 && x.page_size == G1,
	   "4-level 1G direct-map page with offset");
	ok(x.writable && !x.user && x.nx, "1G page: W, supervisor, NX");
	ok(xl(root | 0x123 | (UINT64_C(1) << 63), false, va_user, &x) == 0 &&
		   x.gpa == 0x200000,
	   "PCID/low bits and bit 63 of cr3 ignored");
}

static void test_basic_5level(void)
{
	uint64_t root, va_hi = 0x00ff000000001000; /* needs bits 48..55 */
	uint64_t va_k = 0xff11000000000000, va_1g = 0xff5f000040000000;
	struct kvmon_xlate x;

	reset_ram();
	root = alloc_page();
	map(root, true, va_hi, 0x300000 | P | US, 0);
	map(root, true, va_k, 0x600000 | P | RW | PS | NX, 1);
	map(root, true, va_1g, 0x80000000 | P | PS, 2);

	ok(xl(root, true, va_hi + 0xabc, &x) == 0 && x.gpa == 0x300abc &&
		   x.page_size == K4 && x.user && !x.writable,
	   "5-level 4K user page above 2^48");
	ok(xl(root, false, va_hi, &x) == -1 && kvmon_get_errno() == EINVAL,
	   "same va is non-canonical with 4-level paging");
	ok(xl(root, true, va_k + 0x1fffff, &x) == 0 && x.gpa == 0x7fffff &&
		   x.page_size == M2 && x.nx && x.writable,
	   "5-level 2M kernel-half page, last byte");
	ok(xl(root, true, va_1g + 0x10, &x) == 0 && x.gpa == 0x80000010 &&
		   x.page_size == G1,
	   "5-level 1G page");
	ok(xl(root, true, 0x0100000000000000, &x) == -1 &&
		   kvmon_get_errno() == EINVAL && err_has("canonical"),
	   "5-level non-canonical va -> EINVAL");
	ok(xl(root, true, 0xfeff000000000000, &x) == -1 &&
		   kvmon_get_errno() == EINVAL,
	   "5-level non-canonical kernel-looking va -> EINVAL");
}

static void test_noncanonical(void)
{
	uint64_t root = alloc_page();
	struct kvmon_xlate x;

	ok(xl(root, false, 0x0000800000000000, &x) == -1 &&
		   kvmon_get_errno() == EINVAL,
	   "4-level: 0x0000800000000000 -> EINVAL");
	ok(xl(root, false, 0xffff7fffffffffff, &x) == -1 &&
		   kvmon_get_errno() == EINVAL,
	   "4-level: 0xffff7fffffffffff -> EINVAL");
}

/* Clear the present bit at one level and check the message names it. */
static void test_not_present(void)
{
	static const char *const name[] = { "PT entry", "PD entry",
					    "PDPT entry", "PML4 entry",
					    "PML5 entry" };
	uint64_t va = 0xffffc90000123000;

	for (int level = 0; level <= 4; level++) {
		uint64_t root, t = 0;
		struct kvmon_xlate x;

		reset_ram();
		root = alloc_page();
		map(root, true, va, 0x200000 | P, 0);
		/* Find the table at this level by walking down. */
		t = root;
		for (int l = 4; l > level; l--)
			t = get_entry(t, idx_of(va, l)) & ~UINT64_C(0xfff);
		/* Leave everything but P, so only P decides. */
		set_entry(t, idx_of(va, level),
			  get_entry(t, idx_of(va, level)) & ~P);
		ok(xl(root, true, va, &x) == -1 && kvmon_get_errno() == EFAULT &&
			   err_has(name[level]) && err_has("ffffc90000123000"),
		   "not present at %s -> EFAULT naming level and va (%s)",
		   name[level], kvmon_get_error());
	}
}

static void test_reserved(void)
{
	uint64_t root, pml5, va = 0x7f0000000000, va2 = 0x7f0000200000;
	struct kvmon_xlate x;

	reset_ram();
	root = alloc_page();
	set_entry(root, idx_of(va, 3), 0x40000000 | P | RW | PS);
	ok(xl(root, false, va, &x) == -1 && kvmon_get_errno() == EFAULT &&
		   err_has("PML4"),
	   "PS in a PML4 entry is rejected (%s)", kvmon_get_error());

	pml5 = alloc_page();
	set_entry(pml5, 0, 0x40000000 | P | PS);
	ok(xl(pml5, true, va, &x) == -1 && kvmon_get_errno() == EFAULT &&
		   err_has("PML5"),
	   "PS in a PML5 entry is rejected");

	reset_ram();
	root = alloc_page();
	map(root, false, va, 0xa00000 | PAT_LARGE | P | PS, 1);
	ok(xl(root, false, va + 0x1234, &x) == 0 && x.gpa == 0xa01234,
	   "PAT bit 12 of a 2M entry is not address");
	map(root, false, 0x40000000, 0xc0000000 | PAT_LARGE | P | PS, 2);
	ok(xl(root, false, 0x40000000 + 0x5000, &x) == 0 &&
		   x.gpa == 0xc0005000,
	   "PAT bit 12 of a 1G entry is not address");
	map(root, false, va2, 0xc00000 | (UINT64_C(1) << 13) | P | PS, 1);
	ok(xl(root, false, va2, &x) == -1 && kvmon_get_errno() == EFAULT &&
		   err_has("reserved"),
	   "2M entry with reserved bit 13 -> EFAULT");
	map(root, false, 0x80000000, 0x40000000 | (UINT64_C(1) << 21) | P | PS, 2);
	ok(xl(root, false, 0x80000000, &x) == -1 && kvmon_get_errno() == EFAULT,
	   "1G entry with reserved bit 21 -> EFAULT");
	map(root, false, 0x5000, 0x7000 | PS | P, 0);
	ok(xl(root, false, 0x5008, &x) == 0 && x.gpa == 0x7008 &&
		   x.page_size == K4,
	   "bit 7 of a PTE is PAT, not a page size");
}

static void test_flags(void)
{
	uint64_t root, pml4e, va = 0x00007f1234567000;
	struct kvmon_xlate x;

	reset_ram();
	root = alloc_page();
	map(root, false, va, 0x300000 | P | RW | US, 0);
	pml4e = get_entry(root, idx_of(va, 3));

	set_entry(root, idx_of(va, 3), pml4e & ~RW);
	ok(xl(root, false, va, &x) == 0 && !x.writable && x.user && !x.nx,
	   "read-only PML4 entry makes the page read-only");
	set_entry(root, idx_of(va, 3), pml4e & ~US);
	ok(xl(root, false, va, &x) == 0 && x.writable && !x.user,
	   "supervisor PML4 entry makes the page supervisor");
	set_entry(root, idx_of(va, 3), pml4e | NX);
	ok(xl(root, false, va, &x) == 0 && x.nx && x.writable && x.user,
	   "NX on a non-leaf entry makes the page NX");
}

static void test_hostile(void)
{
	uint64_t root, t, va = 0xffffffff82000000, data;
	struct kvmon_xlate x;
	uint8_t buf[16];
	uint64_t v;

	reset_ram();
	root = alloc_page();
	/* A table outside RAM: EIO, the walker must not touch it itself. */
	set_entry(root, idx_of(va, 3), UINT64_C(0x000ffffffffff000) | TBL);
	ok(xl(root, false, va, &x) == -1 && kvmon_get_errno() == EIO &&
		   err_has("PDPT"),
	   "table outside RAM -> EIO (%s)", kvmon_get_error());
	ok(xl(UINT64_C(0xfffffffffffff000), false, va, &x) == -1 &&
		   kvmon_get_errno() == EIO,
	   "cr3 outside RAM -> EIO");

	/* Leaf outside RAM translates, but reading it fails cleanly. */
	reset_ram();
	root = alloc_page();
	map(root, false, va, UINT64_C(0xfedc0000000) | P, 0);
	ok(xl(root, false, va, &x) == 0 && x.gpa == UINT64_C(0xfedc0000000) &&
		   kvmon_x86_read_virt(NULL, &pm, root, false, va, buf, 8) == -1 &&
		   kvmon_get_errno() == EFAULT,
	   "leaf outside RAM: translates, read fails with EFAULT");

	/* Bits 52..62 (AVL, protection keys) are ignored at every level. */
	reset_ram();
	root = alloc_page();
	data = 0x500000;
	map(root, false, va, data | P | RW, 0);
	t = root;
	for (int l = 3; l >= 0; l--) {
		uint64_t e = get_entry(t, idx_of(va, l));

		set_entry(t, idx_of(va, l),
			  e | UINT64_C(0x7ff0000000000000) | 0xe00);
		t = e & UINT64_C(0x000ffffffffff000);
	}
	ok(xl(root, false, va + 0x10, &x) == 0 && x.gpa == data + 0x10 &&
		   x.writable && !x.nx,
	   "garbage in bits 52..62 and 9..11 ignored");

	/* Recursive PML4 slot 510 (the classic Windows/older-Linux trick). */
	reset_ram();
	root = alloc_page();
	set_entry(root, 510, root | P | RW);
	map(root, false, va, data | P, 0);
	{
		/* Indices 510/510/510/510 -> the PML4 itself. */
		uint64_t self = 0xffffff7fbfdfe000;
		uint64_t pdpt = get_entry(root, idx_of(va, 3)) & ~UINT64_C(0xfff);
		/* 510/510/510/i -> the table PML4[i] points to. */
		uint64_t via = (self & ~(UINT64_C(511) << 12)) |
			       (uint64_t)idx_of(va, 3) << 12;

		ok(xl(root, false, self, &x) == 0 && x.gpa == root,
		   "recursive PML4 entry: 510/510/510/510 maps the PML4");
		ok(xl(root, false, via + 8, &x) == 0 && x.gpa == pdpt + 8,
		   "recursive PML4 entry: 510/510/510/i maps PML4[i]'s table");
		ok(kvmon_x86_read_virt(NULL, &pm, root, false, self + 510 * 8,
				       &v, 8) == 0 && (v & ~UINT64_C(0xfff)) == root,
		   "reading through the recursive mapping sees the self entry");
	}

	/* Every entry of one page points to that page: still terminates. */
	reset_ram();
	root = alloc_page();
	for (unsigned i = 0; i < 512; i++)
		set_entry(root, i, root | P | RW | US);
	ok(xl(root, false, 0xffff800000000000, &x) == 0 && x.gpa == root &&
		   xl(root, true, 0x0123456789abc, &x) == 0 &&
		   x.gpa == root + 0xabc,
	   "fully self-referencing table terminates (4- and 5-level)");
	memset(ram + root, 0xff, K4);
	ok(xl(root, false, 0x1000, &x) == -1 && kvmon_get_errno() == EFAULT,
	   "all-ones table: PS in PML4 rejected, no crash");
}

static void test_read_virt(void)
{
	uint64_t root, va = 0x601000, big = 0xffffffff80000000;
	uint8_t buf[64], want[64];
	struct kvmon_tlb *t;

	reset_ram();
	root = alloc_page();
	/* va -> 0x900000, va+4K -> 0x700000 (lower, discontiguous). */
	map(root, false, va, 0x900000 | P, 0);
	map(root, false, va + K4, 0x700000 | P, 0);
	for (int i = 0; i < 32; i++) {
		ram[0x900000 + K4 - 32 + i] = (uint8_t)i;
		ram[0x700000 + i] = (uint8_t)(0x80 + i);
		want[i] = (uint8_t)i;
		want[32 + i] = (uint8_t)(0x80 + i);
	}
	memset(buf, 0, sizeof(buf));
	ok(kvmon_x86_read_virt(NULL, &pm, root, false, va + K4 - 32, buf, 64) == 0 &&
		   !memcmp(buf, want, 64),
	   "read across a page boundary into a discontiguous page");

	t = kvmon_tlb_new(6);
	memset(buf, 0, sizeof(buf));
	ok(t && kvmon_x86_read_virt(t, &pm, root, false, va + K4 - 32, buf, 64) == 0 &&
		   !memcmp(buf, want, 64) &&
		   kvmon_x86_read_virt(t, &pm, root, false, va + K4 - 32, buf, 64) == 0 &&
		   !memcmp(buf, want, 64),
	   "same read through the translation cache, twice");
	kvmon_tlb_free(t);

	ok(kvmon_x86_read_virt(NULL, &pm, root, false, va + 2 * K4 - 8, buf, 16) == -1 &&
		   kvmon_get_errno() == EFAULT && err_has("0000000000603000"),
	   "second page unmapped -> EFAULT at its first byte (%s)",
	   kvmon_get_error());
	ok(kvmon_x86_read_virt(NULL, &pm, root, false, va, buf, 0) == 0,
	   "zero-length read succeeds");
	ok(kvmon_x86_read_virt(NULL, &pm, root, false, va, NULL,
			       (size_t)(64u << 20) + 1) == -1 &&
		   kvmon_get_errno() == EINVAL,
	   "read over 64 MiB -> EINVAL");
	ok(kvmon_x86_read_virt(NULL, &pm, root, false, UINT64_MAX - 7, buf, 16) == -1 &&
		   kvmon_get_errno() == EINVAL,
	   "read wrapping past 2^64 -> EINVAL");

	/* A 2M page followed by a 4K page: one chunk each. */
	map(root, false, big, 0x200000 | P | PS, 1);
	map(root, false, big + M2, 0x800000 | P, 0);
	ram[0x200000 + M2 - 1] = 0x5a;
	ram[0x800000] = 0xa5;
	ok(kvmon_x86_read_virt(NULL, &pm, root, false, big + M2 - 1, buf, 2) == 0 &&
		   buf[0] == 0x5a && buf[1] == 0xa5,
	   "read from the end of a 2M page into a 4K page");
}

static void test_tlb(void)
{
	uint64_t root_a, root_b, root5, va = 0xffffffff81200000;
	uint64_t hits, misses, prev;
	struct kvmon_xlate x, y;
	struct kvmon_tlb *t;
	unsigned long before;
	bool all_ok = true;

	ok(kvmon_tlb_new(40) == NULL && kvmon_get_errno() == EINVAL,
	   "absurd cache size rejected");
	reset_ram();
	root_a = alloc_page();
	root_b = alloc_page();
	root5 = alloc_page();
	map(root_a, false, va, 0x400000 | P | PS, 1);
	map(root_a, false, 0x1000, 0x600000 | P | RW | US, 0);
	map(root_b, false, va, 0xa00000 | P | PS | NX, 1);
	map(root5, true, va, 0xe00000 | P | PS, 1);

	t = kvmon_tlb_new(10);
	if (!t)
		bail("kvmon_tlb_new: %s", kvmon_get_error());
	ok(kvmon_x86_translate_cached(t, &pm, root_a, false, 0x1234, &x) == 0 &&
		   xl(root_a, false, 0x1234, &y) == 0 && x.gpa == y.gpa &&
		   x.page_size == y.page_size && x.writable == y.writable &&
		   x.user == y.user && x.nx == y.nx,
	   "cached miss returns the walk's result");
	before = phys_reads;
	ok(kvmon_x86_translate_cached(t, &pm, root_a, false, 0x1ff8, &x) == 0 &&
		   x.gpa == 0x600ff8 && x.writable && x.user && !x.nx &&
		   phys_reads == before,
	   "hit: same result (offset applied), no guest reads");
	kvmon_tlb_stats(t, &hits, &misses);
	ok(hits == 1 && misses == 1, "counters: 1 hit, 1 miss");

	/* One 2M walk serves all 512 4K pages in it. */
	before = phys_reads;
	for (uint64_t off = 0; off < M2; off += K4) {
		if (kvmon_x86_translate_cached(t, &pm, root_a, false, va + off + 7,
					       &x) < 0 ||
		    x.gpa != 0x400000 + off + 7 || x.page_size != M2)
			all_ok = false;
	}
	kvmon_tlb_stats(t, &hits, &misses);
	ok(all_ok && hits == 1 + 511 && misses == 2 && phys_reads - before == 3,
	   "2M page: one walk (3 reads), 511 hits (hits %llu misses %llu)",
	   (unsigned long long)hits, (unsigned long long)misses);

	ok(kvmon_x86_translate_cached(t, &pm, root_b, false, va, &x) == 0 &&
		   x.gpa == 0xa00000 && x.nx,
	   "different cr3 never served from the cache");
	ok(kvmon_x86_translate_cached(t, &pm, root_a, true, va, &x) == -1,
	   "same cr3 with la57 not served from the 4-level entry");
	ok(kvmon_x86_translate_cached(t, &pm, root5, true, va, &x) == 0 &&
		   x.gpa == 0xe00000,
	   "5-level root translates on its own");
	ok(kvmon_x86_translate_cached(t, &pm, root_a | 0x5, false, va, &x) == 0 &&
		   x.gpa == 0x400000 && !x.nx,
	   "same root with other PCID bits: still root A's mapping");

	/* Stale by design until flushed (the documented policy). */
	map(root_a, false, va, 0xc00000 | P | PS, 1);
	ok(kvmon_x86_translate_cached(t, &pm, root_a, false, va, &x) == 0 &&
		   x.gpa == 0x400000,
	   "changed tables without flush: cached (stale) result");
	kvmon_tlb_flush(t);
	kvmon_tlb_stats(t, NULL, &misses);
	ok(kvmon_x86_translate_cached(t, &pm, root_a, false, va, &x) == 0 &&
		   x.gpa == 0xc00000,
	   "after flush: new mapping seen");
	prev = misses;
	kvmon_tlb_stats(t, NULL, &misses);
	ok(misses == prev + 1, "flush turned the next lookup into a miss");

	/* Failures are not cached. */
	ok(kvmon_x86_translate_cached(t, &pm, root_a, false, 0x3000, &x) == -1 &&
		   kvmon_get_errno() == EFAULT,
	   "unmapped va -> EFAULT through the cache");
	map(root_a, false, 0x3000, 0xd00000 | P, 0);
	ok(kvmon_x86_translate_cached(t, &pm, root_a, false, 0x3000, &x) == 0 &&
		   x.gpa == 0xd00000,
	   "a failed lookup was not cached");
	ok(kvmon_x86_translate_cached(t, &pm, root_a, false, 0x800000000000,
				      &x) == -1 && kvmon_get_errno() == EINVAL,
	   "non-canonical va -> EINVAL through the cache");
	kvmon_tlb_free(t);

	/* One-entry cache: constant eviction, results still right. */
	t = kvmon_tlb_new(0);
	all_ok = t != NULL;
	for (int i = 0; t && i < 100; i++) {
		uint64_t r = i & 1 ? root_a : root_b;

		if (kvmon_x86_translate_cached(t, &pm, r, false, va, &x) < 0 ||
		    x.gpa != (i & 1 ? 0xc00000u : 0xa00000u))
			all_ok = false;
	}
	ok(all_ok, "one-entry cache alternating two cr3s stays correct");
	kvmon_tlb_free(t);
	kvmon_tlb_flush(NULL);
	kvmon_tlb_free(NULL);
}

int main(void)
{
	ram = malloc(RAM_SIZE);
	if (!ram)
		bail("out of memory");
	reset_ram();
	test_basic_4level();
	test_basic_5level();
	test_noncanonical();
	test_not_present();
	test_reserved();
	test_flags();
	test_hostile();
	test_read_virt();
	test_tlb();
	free(ram);
	return tap_done();
}
