/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VMCOREINFO: parsing a realistic/hostile note text, finding it in RAM. */
#include "linux/vmcoreinfo.h"
#include "../tap.h"

#include <errno.h>
#include <string.h>

/* Shaped like Debian 6.1.0-56-amd64's note (KASLR slide 0x17e00000, kernel
 * loaded at 16 MiB, so phys_base is negative), with hostile lines mixed in. */
static const char real_text[] =
	"OSRELEASE=6.1.0-56-amd64\n"
	"BUILD-ID=4f3c2a9be0d1c8f7a6b5c4d3e2f1a0b9c8d7e6f5\n"
	"PAGESIZE=4096\n"
	"SYMBOL(init_uts_ns)=ffffffff9a413400\n"
	"OFFSET(uts_namespace.name)=0\n"
	"SYMBOL(node_online_map)=ffffffff9a4bb8a8\n"
	"SYMBOL(swapper_pg_dir)=ffffffff9a40a000\n"
	"SYMBOL(_stext)=ffffffff98e00000\n"
	"SYMBOL(mem_section)=ffff8e7f3ffd2000\n"
	"LENGTH(mem_section)=2048\n"
	"SIZE(mem_section)=16\n"
	"OFFSET(mem_section.section_mem_map)=0\n"
	"NUMBER(SECTION_SIZE_BITS)=27\n"
	"NUMBER(MAX_PHYSMEM_BITS)=46\n"
	"SIZE(page)=64\n"
	"SIZE(list_head)=16\n"
	"OFFSET(page.flags)=0\n"
	"OFFSET(page._refcount)=52\n"
	"OFFSET(list_head.next)=0\n"
	"NUMBER(PG_lru)=4\n"
	"NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n"
	"SYMBOL(kallsyms_names)=ffffffff9a0a1d48\n"
	"SYMBOL(kallsyms_num_syms)=ffffffff9a0a1d40\n"
	"SYMBOL(kallsyms_token_table)=ffffffff9a2f0b50\n"
	"SYMBOL(kallsyms_token_index)=ffffffff9a2f0ed8\n"
	"SYMBOL(kallsyms_offsets)=ffffffff99f9a8b0\n"
	"SYMBOL(kallsyms_relative_base)=ffffffff9a0a1d38\n"
	"SYMBOL(kallsyms_markers)=ffffffff9a2ee3a8\n"
	"NUMBER(pgtable_l5_enabled)=0\n"
	"SYMBOL(init_top_pgt)=ffffffff9a40a000\n"
	"NUMBER(phys_base)=-400556032\n"
	"SYMBOL(empty)=\n"
	"this line has no equals sign\n"
	"=value_without_key\n"
	"SYMBOL(bad hex)=ffff\n"
	"SYMBOL(badhex)=ffffxyz\n"
	"SYMBOL(overflow)=1ffffffffffffffff\n"
	"SYMBOL(leading_zeros)=0000ffffffff81000000\n"
	"NUMBER(too_big)=9223372036854775808\n"
	"NUMBER(int_min)=-9223372036854775808\n"
	"NUMBER(minus_only)=-\n"
	"OFFSET(negative)=-1\n"
	"SIZE(big)=18446744073709551615\n"
	"SIZE(bigger)=18446744073709551616\n"
	"PAGESIZE=8192\n"
	"CRLF=yes\r\n"
	"KERNELOFFSET=17e00000\n"
	"CRASHTIME=1700000000";	/* no final newline */

static void test_parse(void)
{
	struct kvmon_vmcoreinfo *v = kvmon_vmcoreinfo_parse(real_text,
							    strlen(real_text));
	uint64_t u = 0, va;
	int64_t s = 0;
	int64_t phys_base = 0;

	ok(v != NULL, "realistic note parses");
	if (!v)
		bail("cannot continue: %s", kvmon_get_error());
	ok(!strcmp(kvmon_vmcoreinfo_get(v, "OSRELEASE"), "6.1.0-56-amd64"),
	   "OSRELEASE");
	ok(!strcmp(kvmon_vmcoreinfo_get(v, "PAGESIZE"), "4096"),
	   "duplicate key: the first value wins");
	ok(kvmon_vmcoreinfo_symbol(v, "init_top_pgt", &va) == 0 &&
		   va == 0xffffffff9a40a000ull,
	   "SYMBOL(init_top_pgt) hex");
	ok(kvmon_vmcoreinfo_number(v, "phys_base", &phys_base) == 0 &&
		   phys_base == -400556032,
	   "NUMBER(phys_base) is negative");
	ok(kvmon_kimage_va_to_pa(va, phys_base) == 0x260a000,
	   "kernel VA -> PA with a negative phys_base (0x%llx)",
	   (unsigned long long)kvmon_kimage_va_to_pa(va, phys_base));
	ok(kvmon_kimage_va_to_pa(0xffffffff98e00000ull, phys_base) == 0x1000000,
	   "_stext lands at the 16 MiB load address");
	ok(kvmon_vmcoreinfo_kernel_offset(v, &u) == 0 && u == 0x17e00000,
	   "KERNELOFFSET hex without 0x");
	ok(kvmon_vmcoreinfo_number(v, "pgtable_l5_enabled", &s) == 0 && s == 0,
	   "NUMBER(pgtable_l5_enabled)=0");
	ok(kvmon_vmcoreinfo_number(v, "PAGE_BUDDY_MAPCOUNT_VALUE", &s) == 0 &&
		   s == -129, "another negative NUMBER");
	ok(kvmon_vmcoreinfo_offset(v, "page._refcount", &u) == 0 && u == 52,
	   "OFFSET decimal");
	ok(kvmon_vmcoreinfo_size(v, "page", &u) == 0 && u == 64, "SIZE");
	ok(kvmon_vmcoreinfo_length(v, "mem_section", &u) == 0 && u == 2048,
	   "LENGTH");
	ok(kvmon_vmcoreinfo_symbol(v, "kallsyms_markers", &u) == 0 &&
		   u == 0xffffffff9a2ee3a8ull, "SYMBOL(kallsyms_markers)");
	ok(!strcmp(kvmon_vmcoreinfo_get(v, "CRLF"), "yes"), "CR stripped");
	ok(!strcmp(kvmon_vmcoreinfo_get(v, "CRASHTIME"), "1700000000"),
	   "last line without newline kept");

	ok(kvmon_vmcoreinfo_get(v, "SYMBOL(empty)") == NULL &&
		   kvmon_vmcoreinfo_symbol(v, "empty", &u) < 0 &&
		   kvmon_get_errno() == ENOENT,
	   "empty value is a missing key (ENOENT)");
	ok(kvmon_vmcoreinfo_symbol(v, "nonexistent", &u) < 0 &&
		   kvmon_get_errno() == ENOENT, "absent SYMBOL: ENOENT");
	ok(kvmon_vmcoreinfo_get(v, "SYMBOL(bad hex)") == NULL,
	   "key with a space skipped");
	ok(kvmon_vmcoreinfo_get(v, "") == NULL, "line without key skipped");
	ok(kvmon_vmcoreinfo_symbol(v, "badhex", &u) < 0 &&
		   kvmon_get_errno() == EPROTO, "non-hex SYMBOL: EPROTO");
	ok(kvmon_vmcoreinfo_symbol(v, "overflow", &u) < 0 &&
		   kvmon_get_errno() == EPROTO, "17-digit SYMBOL: EPROTO");
	ok(kvmon_vmcoreinfo_symbol(v, "leading_zeros", &u) == 0 &&
		   u == 0xffffffff81000000ull, "leading zeros are fine");
	ok(kvmon_vmcoreinfo_number(v, "too_big", &s) < 0 &&
		   kvmon_get_errno() == EPROTO, "NUMBER above INT64_MAX: EPROTO");
	ok(kvmon_vmcoreinfo_number(v, "int_min", &s) == 0 && s == INT64_MIN,
	   "NUMBER INT64_MIN");
	ok(kvmon_vmcoreinfo_number(v, "minus_only", &s) < 0, "NUMBER '-' refused");
	ok(kvmon_vmcoreinfo_offset(v, "negative", &u) < 0 &&
		   kvmon_get_errno() == EPROTO, "negative OFFSET: EPROTO");
	ok(kvmon_vmcoreinfo_size(v, "big", &u) == 0 && u == UINT64_MAX,
	   "SIZE UINT64_MAX");
	ok(kvmon_vmcoreinfo_size(v, "bigger", &u) < 0, "SIZE 2^64 refused");
	{
		char name[300];

		memset(name, 'a', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		ok(kvmon_vmcoreinfo_symbol(v, name, &u) < 0 &&
			   kvmon_get_errno() == ENAMETOOLONG,
		   "huge name: ENAMETOOLONG");
	}
	kvmon_vmcoreinfo_free(v);
}

static void test_parse_hostile(void)
{
	static const char nul_text[] = "A=1\nNUL=x\0y\nB=2\n\0\0\0\nC=3\n";
	struct kvmon_vmcoreinfo *v;
	static char big[100 * 1024];
	size_t n;

	v = kvmon_vmcoreinfo_parse(nul_text, sizeof(nul_text) - 1);
	ok(v && !kvmon_vmcoreinfo_get(v, "NUL") &&
		   !strcmp(kvmon_vmcoreinfo_get(v, "B"), "2") &&
		   !strcmp(kvmon_vmcoreinfo_get(v, "C"), "3"),
	   "lines with NULs skipped, the rest kept");
	kvmon_vmcoreinfo_free(v);

	/* 100 KiB of plausible lines: beyond the 64 KiB bound. */
	for (n = 0; n + 16 <= sizeof(big); n += 16)
		memcpy(big + n, "NUMBER(x)=12345\n", 16);
	v = kvmon_vmcoreinfo_parse(big, sizeof(big));
	ok(!v && kvmon_get_errno() == E2BIG, "100 KiB text: E2BIG");
	v = kvmon_vmcoreinfo_parse(big, KVMON_VMCOREINFO_MAX_TEXT);
	ok(v != NULL, "exactly 64 KiB accepted");
	kvmon_vmcoreinfo_free(v);

	memset(big, 0, sizeof(big));
	v = kvmon_vmcoreinfo_parse(big, 4096);
	ok(!v && kvmon_get_errno() == EPROTO, "all-NUL page: EPROTO");
	v = kvmon_vmcoreinfo_parse("", 0);
	ok(!v && kvmon_get_errno() == EPROTO, "empty text: EPROTO");
	v = kvmon_vmcoreinfo_parse("garbage\n\xff\xfe=\x01\n=\n", 15);
	ok(!v && kvmon_get_errno() == EPROTO, "only garbage: EPROTO");
	memset(big, '\n', sizeof(big));
	v = kvmon_vmcoreinfo_parse(big, KVMON_VMCOREINFO_MAX_TEXT);
	ok(!v && kvmon_get_errno() == EPROTO, "64 KiB of empty lines: EPROTO");
}

/* ------------------------------------------------------------- find */

#define RAM_SIZE (32u << 20)

struct ram {
	uint8_t *mem;
	uint64_t size;
	uint64_t hole_lo, hole_hi;	/* unreadable [lo, hi) */
};

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct ram *r = ctx;

	if (gpa > r->size || len > r->size - gpa ||
	    (gpa < r->hole_hi && gpa + len > r->hole_lo))
		return kvmon_set_error(EFAULT, "gpa 0x%llx: not RAM",
				       (unsigned long long)gpa);
	memcpy(buf, r->mem + gpa, len);
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Write a note as the kernel does; returns the header's gpa. */
static uint64_t put_note(struct ram *r, uint64_t gpa, const char *text)
{
	uint8_t *p = r->mem + gpa;
	size_t n = strlen(text);

	put32(p, 11);
	put32(p + 4, (uint32_t)n);
	put32(p + 8, 0);
	memcpy(p + 12, "VMCOREINFO\0\0", 12);
	memcpy(p + 24, text, n);
	return gpa;
}

static void ram_reset(struct ram *r)
{
	memset(r->mem, 0, r->size);
	r->hole_lo = r->hole_hi = 0;
}

static int find_check(struct ram *r, uint64_t want_gpa, const char *release,
		      const char *what)
{
	struct kvmon_physmem pm = { ram_read, r };
	uint64_t gpa = 0;
	struct kvmon_vmcoreinfo *v = kvmon_vmcoreinfo_find(&pm, r->size, &gpa);
	const char *rel = v ? kvmon_vmcoreinfo_get(v, "OSRELEASE") : NULL;
	int good = v && gpa == want_gpa && rel && !strcmp(rel, release);

	ok(good, "%s (gpa 0x%llx, %s)", what, (unsigned long long)gpa,
	   v ? rel : kvmon_get_error());
	kvmon_vmcoreinfo_free(v);
	return good;
}

static void find_none(struct ram *r, const char *what)
{
	struct kvmon_physmem pm = { ram_read, r };
	uint64_t gpa = 0;
	struct kvmon_vmcoreinfo *v = kvmon_vmcoreinfo_find(&pm, r->size, &gpa);

	ok(!v && kvmon_get_errno() == ENOENT, "%s: ENOENT (%s)", what,
	   kvmon_get_error());
	kvmon_vmcoreinfo_free(v);
}

static void test_find(void)
{
	struct ram r = { .mem = calloc(1, RAM_SIZE), .size = RAM_SIZE };
	struct kvmon_physmem pm = { ram_read, &r };
	uint64_t gpa;
	uint8_t *h;

	if (!r.mem)
		bail("out of memory");
	/* Decoys: the raw vmcoreinfo_data copy (no header) and an earlier
	 * unaligned note; the real one is page-aligned at 0x18e2000. */
	memcpy(r.mem + 0x100010, "OSRELEASE=decoy\n", 16);
	put_note(&r, 0x300123, "OSRELEASE=unaligned\nPAGESIZE=4096\n");
	put_note(&r, 0x18e2000, real_text);
	find_check(&r, 0x18e2000, "6.1.0-56-amd64",
		   "page-aligned note at 0x18e2000 preferred over an earlier "
		   "unaligned one");
	memset(r.mem + 0x18e2000, 0, 4096);
	find_check(&r, 0x300123, "unaligned", "unaligned note when no aligned one");

	ram_reset(&r);
	put_note(&r, 0x400000 - 30, "OSRELEASE=edge1\n");
	find_check(&r, 0x400000 - 30, "edge1", "needle across a 1 MiB edge");
	ram_reset(&r);
	put_note(&r, 0x500000 - 24, "OSRELEASE=edge2\n");
	find_check(&r, 0x500000 - 24, "edge2",
		   "header in the previous chunk, text at the edge");
	ram_reset(&r);
	put_note(&r, 0x500000 - 10, "OSRELEASE=edge3\n");
	find_check(&r, 0x500000 - 10, "edge3", "header split by a chunk edge");

	ram_reset(&r);
	r.hole_lo = 0x600000;
	r.hole_hi = 0x610000;
	put_note(&r, 0x620000, "OSRELEASE=after-hole\n");
	find_check(&r, 0x620000, "after-hole", "note in a chunk with a hole");
	ram_reset(&r);
	r.hole_lo = 0x910000;
	r.hole_hi = 0x920000;
	put_note(&r, 0x900000 - 20, "OSRELEASE=edge-hole\n");
	find_check(&r, 0x900000 - 20, "edge-hole",
		   "needle across the edge into a chunk with a hole");
	put_note(&r, 0x620000, "OSRELEASE=after-hole\n");
	r.hole_lo = 0;
	r.hole_hi = 0x100000;
	put_note(&r, 0x800000, "OSRELEASE=low-hole\n");
	find_check(&r, 0x620000, "after-hole", "first megabyte unreadable");

	/* Broken headers around a valid-looking text. */
	ram_reset(&r);
	h = r.mem + put_note(&r, 0x700000, "OSRELEASE=x\n");
	put32(h, 12);
	find_none(&r, "namesz 12");
	put32(h, 11);
	put32(h + 8, 1);
	find_none(&r, "type 1");
	put32(h + 8, 0);
	put32(h + 4, 70000);
	find_none(&r, "descsz 70000");
	put32(h + 4, 5);
	find_none(&r, "descsz shorter than OSRELEASE=");
	put32(h + 4, 12);
	h[12 + 9] = 'X';
	find_none(&r, "name VMCOREINFX");
	ram_reset(&r);
	put_note(&r, RAM_SIZE - 24 - 11, "OSRELEASE=");
	put32(r.mem + RAM_SIZE - 24 - 11 + 4, 64);
	find_none(&r, "text past the end of RAM");
	ram_reset(&r);
	memcpy(r.mem + 0x1000, "OSRELEASE=decoy\n", 16);
	memcpy(r.mem + 4, "OSRELEASE=at-gpa-4\n", 19);
	find_none(&r, "only headerless decoys");

	ok(kvmon_vmcoreinfo_find(&pm, (1ull << 40) + 1, &gpa) == NULL &&
		   kvmon_get_errno() == EINVAL, "RAM end beyond 1 TiB: EINVAL");
	free(r.mem);
}

int main(void)
{
	test_parse();
	test_parse_hostile();
	test_find();
	return tap_done();
}
