/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kallsyms decoding: tables produced by a tiny encoder shaped like
 * scripts/kallsyms.c (6.1), decoded and compared symbol by symbol, then
 * hostile variants that must fail cleanly.
 */
#include "linux/kallsyms.h"
#include "linux/vmcoreinfo.h"
#include "../tap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VBASE 0xffffffff9a000000ull	/* where the tables live */
#define RBASE 0xffffffff98e00000ull	/* _text: kallsyms_relative_base */
#define MEM_MAX (4u << 20)
#define NAME_MAX_TEST 700

/* ---------------------------------------------------------- encoder */

static char tokens[256][8];
static const char *const multi[] = {
	"Tsys_", "tkvm_", "percpu", "entry", "init", "kvm_", "func_",
	"ing", "ent", "__", "_t", "er",
};
#define MULTI_BASE 0x80
#define TOK_DEL 0x9f		/* "\x7f": never produced by the encoder */

static void init_tokens(void)
{
	for (int c = 0x21; c <= 0x7e; c++)
		tokens[c][0] = (char)c;
	for (size_t i = 0; i < ARRAY_SIZE(multi); i++)
		strcpy(tokens[MULTI_BASE + i], multi[i]);
	tokens[TOK_DEL][0] = 0x7f;
	/* Everything else stays "": real tables have empty slots too. */
}

/* Greedy: the longest multi-char token, else the character itself. */
static size_t encode(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s) {
		size_t best = 0, blen = 1;

		for (size_t i = 0; i < ARRAY_SIZE(multi); i++) {
			size_t l = strlen(multi[i]);

			if (l > blen && !strncmp(s, multi[i], l)) {
				best = MULTI_BASE + i;
				blen = l;
			}
		}
		out[n++] = best ? (uint8_t)best : (uint8_t)*s;
		s += blen;
	}
	return n;
}

/* ------------------------------------------------------------ image */

struct sym {
	char name[NAME_MAX_TEST];
	char type;
	uint64_t addr;
};

struct image {
	uint8_t *mem;
	size_t size;		/* readable bytes from VBASE */
	struct kvmon_kallsyms_addrs a;
	size_t names_len;
	size_t entry[1200];	/* offset of each symbol's entry in names */
	size_t tt_len;		/* token table bytes (without padding) */
};

static struct sym syms[1200];
static size_t nsyms;

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static size_t align8(size_t x)
{
	return (x + 7) & ~(size_t)7;
}

/* ABSOLUTE_PERCPU: small addresses absolute, the rest below the base. */
static uint32_t offset_of(uint64_t addr)
{
	if (addr < 0x80000000ull)
		return (uint32_t)addr;
	return (uint32_t)(0 - (addr - RBASE) - 1);
}

static size_t put_names(struct image *im, size_t at)
{
	size_t p = at;

	for (size_t i = 0; i < nsyms; i++) {
		char full[NAME_MAX_TEST + 2];
		uint8_t enc[NAME_MAX_TEST + 2];
		size_t n;

		full[0] = syms[i].type;
		memcpy(full + 1, syms[i].name, sizeof(syms[i].name));
		n = encode(full, enc);
		im->entry[i] = p - at;
		if (n < 0x80) {
			im->mem[p++] = (uint8_t)n;
		} else {	/* "big" symbol: 2-byte ULEB128 length */
			im->mem[p++] = (uint8_t)(0x80 | (n & 0x7f));
			im->mem[p++] = (uint8_t)(n >> 7);
		}
		memcpy(im->mem + p, enc, n);
		p += n;
	}
	im->names_len = p - at;
	return p;
}

static size_t put_tokens(struct image *im, size_t at, size_t *index_at)
{
	size_t p = at;
	uint32_t off[256];

	for (int i = 0; i < 256; i++) {
		size_t l = strlen(tokens[i]) + 1;

		off[i] = (uint32_t)(p - at);
		memcpy(im->mem + p, tokens[i], l);
		p += l;
	}
	im->tt_len = p - at;
	*index_at = p = align8(p);
	for (int i = 0; i < 256; i++)
		put16(im->mem + p + 2 * (size_t)i, off[i]);
	return p + 512;
}

/* Lay the tables out in 6.1's order: offsets, relative_base, num_syms,
 * names, markers, token_table, token_index. */
static void build(struct image *im)
{
	size_t p = 0, ti;

	memset(im->mem, 0, MEM_MAX);
	im->a.offsets = VBASE;
	for (size_t i = 0; i < nsyms; i++)
		put32(im->mem + 4 * i, offset_of(syms[i].addr));
	p = align8(4 * nsyms);
	im->a.relative_base = VBASE + p;
	put64(im->mem + p, RBASE);
	im->a.num_syms = VBASE + p + 8;
	put32(im->mem + p + 8, (uint32_t)nsyms);
	p = align8(p + 12);
	im->a.names = VBASE + p;
	p = align8(put_names(im, p));
	im->a.markers = VBASE + p;
	for (size_t i = 0; i < nsyms; i += 256)
		put32(im->mem + p + i / 64, (uint32_t)im->entry[i]);
	p = align8(p + (nsyms + 255) / 256 * 4);
	im->a.token_table = VBASE + p;
	p = put_tokens(im, p, &ti);
	im->a.token_index = VBASE + ti;
	im->size = p;
}

static int vm_read(void *ctx, uint64_t va, void *buf, size_t len)
{
	struct image *im = ctx;

	if (va < VBASE || va - VBASE > im->size || len > im->size - (va - VBASE))
		return kvmon_set_error(EFAULT, "va 0x%llx: not mapped",
				       (unsigned long long)va);
	memcpy(buf, im->mem + (va - VBASE), len);
	return 0;
}

static struct kvmon_kallsyms *load(struct image *im)
{
	struct kvmon_virtmem vm = { vm_read, im };

	return kvmon_kallsyms_load(&vm, &im->a);
}

static uint8_t *at(struct image *im, uint64_t va)
{
	return im->mem + (va - VBASE);
}

/* ---------------------------------------------------------- symbols */

/* Name: stem, followed by n unless n < 0. */
static struct sym *add(char type, uint64_t addr, const char *stem, int n)
{
	struct sym *s = &syms[nsyms++];

	if (n < 0)
		snprintf(s->name, sizeof(s->name), "%s", stem);
	else
		snprintf(s->name, sizeof(s->name), "%s%d", stem, n);
	s->type = type;
	s->addr = addr;
	return s;
}

static const char *const stems[] = {
	"kvm_func_", "__init_entering_", "sys_entry_", "do_thing_",
	"_tick_er_", "percpu_ref_put_", "x",
};
static const char types[] = "TtTtTtW";

static void make_symbols(void)
{
	uint64_t a = RBASE;
	struct sym *s;

	nsyms = 0;
	for (int i = 0; i < 10; i++)
		add(i < 3 ? 'A' : 'D', 0x100 + 0x1000 * (uint64_t)i,
		    "percpu_var_", i);
	add('T', a, "_text", -1);
	add('T', a, "startup_64", -1); /* alias of _text */
	for (int i = 0; i < 900; i++) {
		a += 0x40 + (uint64_t)(i % 7) * 0x10;
		add(types[i % 7], a, stems[i % 7], i);
	}
	a += 0x100;
	add('t', a, "dup_static", -1);
	add('t', a + 0x40, "alias_a", -1);
	add('T', a + 0x40, "alias_b", -1);
	add('t', a + 0x80, "dup_static", -1);
	s = add('T', a + 0xc0, "", -1);
	memset(s->name, 'q', 400);	/* 401 tokens: 2-byte length */
	s->name[400] = '\0';
	s = add('t', a + 0x100, "", -1);
	memset(s->name, 'z', 511);	/* 512 tokens, the longest legal name */
	s->name[511] = '\0';
	a += 0x1000000;
	for (int i = 0; i < 80; i++)
		add("DdBbR"[i % 5], a + 8 * (uint64_t)i, "data_object_", i);
	add('T', a + 0x1000, "_etext_like_end", -1);
}

/* --------------------------------------------------------------- tests */

static void test_roundtrip(struct image *im)
{
	struct kvmon_kallsyms *k;
	size_t bad = 0, first_bad = 0;
	const char *name = NULL;
	uint64_t addr = 0, off = 0;
	char type = 0;

	make_symbols();
	build(im);
	k = load(im);
	ok(k != NULL, "%zu symbols decode (%s)", nsyms,
	   k ? "ok" : kvmon_get_error());
	if (!k)
		bail("cannot continue");
	ok(kvmon_kallsyms_count(k) == nsyms, "count %zu", kvmon_kallsyms_count(k));
	for (size_t i = 0; i < nsyms; i++) {
		if (kvmon_kallsyms_get(k, i, &name, &type, &addr) < 0 ||
		    strcmp(name, syms[i].name) || type != syms[i].type ||
		    addr != syms[i].addr) {
			if (!bad++)
				first_bad = i;
		}
	}
	ok(bad == 0, "every name, type and address matches (%zu bad, first %zu)",
	   bad, first_bad);
	ok(kvmon_kallsyms_get(k, 0, &name, &type, &addr) == 0 &&
		   !strcmp(name, "percpu_var_0") && type == 'A' && addr == 0x100,
	   "per-cpu symbol: positive offset is absolute");
	ok(kvmon_kallsyms_get(k, 10, &name, &type, &addr) == 0 &&
		   !strcmp(name, "_text") && addr == RBASE,
	   "_text: negative offset -1 is relative_base");
	ok(kvmon_kallsyms_get(k, 917, &name, NULL, NULL) == 0 &&
		   strlen(name) == 511, "512-token name (2-byte length) decoded");
	ok(kvmon_kallsyms_get(k, nsyms, &name, &type, &addr) < 0 &&
		   kvmon_get_errno() == ERANGE, "get past the end: ERANGE");

	ok(kvmon_kallsyms_lookup(k, "sys_entry_2", &addr) == 0 &&
		   addr == syms[12 + 2].addr, "lookup sys_entry_2 ('Tsys_' token)");
	ok(kvmon_kallsyms_lookup(k, "data_object_79", &addr) == 0 &&
		   addr == syms[nsyms - 2].addr, "lookup a data symbol");
	ok(kvmon_kallsyms_lookup(k, "dup_static", &addr) == 0 &&
		   addr == syms[912].addr, "duplicate name: first in table order");
	ok(kvmon_kallsyms_lookup(k, syms[916].name, &addr) == 0 &&
		   addr == syms[916].addr, "lookup the 400-char name");
	ok(kvmon_kallsyms_lookup(k, "kvm_func", &addr) < 0 &&
		   kvmon_get_errno() == ENOENT, "prefix is not a match: ENOENT");
	ok(kvmon_kallsyms_lookup(k, "zzzz_after_all", &addr) < 0 &&
		   kvmon_get_errno() == ENOENT, "name after the last: ENOENT");

	ok(kvmon_kallsyms_resolve(k, syms[100].addr + 3, &name, &off) == 0 &&
		   !strcmp(name, syms[100].name) && off == 3,
	   "resolve inside a function: symbol+3");
	ok(kvmon_kallsyms_resolve(k, RBASE + 1, &name, &off) == 0 &&
		   !strcmp(name, "_text") && off == 1,
	   "aliases: the first in table order");
	ok(kvmon_kallsyms_resolve(k, syms[913].addr, &name, &off) == 0 &&
		   !strcmp(name, "alias_a") && off == 0, "alias_a before alias_b");
	ok(kvmon_kallsyms_resolve(k, 0x1105, &name, &off) == 0 &&
		   !strcmp(name, "percpu_var_1") && off == 5,
	   "per-cpu offset resolves");
	ok(kvmon_kallsyms_resolve(k, 0x50, &name, &off) < 0 &&
		   kvmon_get_errno() == ENOENT, "below the first symbol: ENOENT");
	ok(kvmon_kallsyms_resolve(k, UINT64_MAX, &name, &off) == 0 &&
		   !strcmp(name, "_etext_like_end"), "top of memory: the last");
	kvmon_kallsyms_free(k);
}

static void test_vmcoreinfo(struct image *im)
{
	struct kvmon_kallsyms_addrs a;
	struct kvmon_vmcoreinfo *v;
	struct kvmon_kallsyms *k = NULL;
	char text[1024];
	int n;

	build(im);
	n = snprintf(text, sizeof(text),
		     "OSRELEASE=6.1.0-56-amd64\n"
		     "SYMBOL(kallsyms_names)=%llx\n"
		     "SYMBOL(kallsyms_num_syms)=%llx\n"
		     "SYMBOL(kallsyms_token_table)=%llx\n"
		     "SYMBOL(kallsyms_token_index)=%llx\n"
		     "SYMBOL(kallsyms_offsets)=%llx\n"
		     "SYMBOL(kallsyms_relative_base)=%llx\n",
		     (unsigned long long)im->a.names,
		     (unsigned long long)im->a.num_syms,
		     (unsigned long long)im->a.token_table,
		     (unsigned long long)im->a.token_index,
		     (unsigned long long)im->a.offsets,
		     (unsigned long long)im->a.relative_base);
	v = kvmon_vmcoreinfo_parse(text, (size_t)n);
	ok(v && kvmon_kallsyms_addrs_from_vmcoreinfo(v, &a) == 0 &&
		   a.names == im->a.names && a.markers == 0,
	   "table addresses from VMCOREINFO (no markers)");
	if (v) {
		struct kvmon_virtmem vm = { vm_read, im };

		k = kvmon_kallsyms_load(&vm, &a);
	}
	ok(k && kvmon_kallsyms_count(k) == nsyms, "loads without markers");
	kvmon_kallsyms_free(k);
	kvmon_vmcoreinfo_free(v);
	v = kvmon_vmcoreinfo_parse(text, strlen("OSRELEASE=6.1.0-56-amd64\n"));
	ok(v && kvmon_kallsyms_addrs_from_vmcoreinfo(v, &a) < 0 &&
		   kvmon_get_errno() == ENOENT, "missing SYMBOL lines: ENOENT");
	kvmon_vmcoreinfo_free(v);
}

/* Expect load to fail with err (0: any error). */
static void expect_fail(struct image *im, int err, const char *what)
{
	struct kvmon_kallsyms *k = load(im);

	ok(!k && (err == 0 || kvmon_get_errno() == err), "%s: %s", what,
	   k ? "loaded!" : kvmon_get_error());
	kvmon_kallsyms_free(k);
}

static void test_hostile_counts(struct image *im)
{
	build(im);
	put32(at(im, im->a.num_syms), KVMON_KALLSYMS_MAX_SYMS + 1);
	expect_fail(im, E2BIG, "num_syms 4000001");
	put32(at(im, im->a.num_syms), 0xffffffffu);
	expect_fail(im, E2BIG, "num_syms 0xffffffff");
	put32(at(im, im->a.num_syms), 0);
	expect_fail(im, EPROTO, "num_syms 0");
	put32(at(im, im->a.num_syms), (uint32_t)nsyms + 5);
	expect_fail(im, EPROTO, "num_syms beyond the names stream");
	put32(at(im, im->a.num_syms), 3000000);
	expect_fail(im, EFAULT, "offsets table runs out of memory");
	build(im);
	im->a.markers = im->a.names + im->names_len - 3;
	expect_fail(im, EPROTO, "last name runs past the stream's end");
	build(im);
	im->a.names = VBASE + im->size + 0x10000;
	expect_fail(im, EFAULT, "names unmapped");
	build(im);
	im->a.relative_base = VBASE - 8;
	expect_fail(im, EFAULT, "relative_base unmapped");
	build(im);
	im->a.token_index = 0;
	expect_fail(im, EINVAL, "table address missing");
}

static void test_hostile_tokens(struct image *im)
{
	uint8_t *idx;

	build(im);
	idx = at(im, im->a.token_index);
	put16(idx + 2 * 0x85, 0xfff0);
	expect_fail(im, EPROTO, "token offset outside the token table");
	build(im);
	/* The last token's NUL and the padding up to token_index: no NUL. */
	memset(at(im, im->a.token_table) + im->tt_len - 1, 'x',
	       (size_t)(im->a.token_index - im->a.token_table) - im->tt_len + 1);
	expect_fail(im, EPROTO, "unterminated token");

	/* Token table last in memory, nothing above it to bound it: the
	 * 64 KiB read fails, the readable prefix is used. */
	build(im);
	{
		size_t tt = (size_t)(im->a.token_table - VBASE);
		uint8_t saved[512];

		memcpy(saved, at(im, im->a.token_index), 512);
		memmove(im->mem + tt + 512, im->mem + tt, im->tt_len);
		memcpy(im->mem + tt, saved, 512);
		im->a.token_index = VBASE + tt;
		im->a.token_table = VBASE + tt + 512;
		/* Memory is page-granular: readable up to a page end. */
		im->size = (tt + 512 + im->tt_len + 4095) & ~(size_t)4095;
	}
	{
		struct kvmon_kallsyms *k = load(im);

		ok(k && kvmon_kallsyms_count(k) == nsyms,
		   "token table at the end of memory: readable prefix used");
		kvmon_kallsyms_free(k);
	}
	put16(at(im, im->a.token_index) + 2 * 0x90,
	      (uint32_t)(VBASE + im->size - im->a.token_table) + 8);
	expect_fail(im, EPROTO, "token beyond the readable table");
}

static void test_hostile_names(struct image *im)
{
	uint8_t *e;
	struct sym *s;

	build(im);
	e = at(im, im->a.names) + im->entry[0];
	e[2] = TOK_DEL;
	expect_fail(im, EPROTO, "control character in a name");
	build(im);
	memset(e + 1, 0, e[0]);
	expect_fail(im, EPROTO, "name of empty tokens");
	build(im);
	memset(e + 2, 0, (size_t)e[0] - 1);
	expect_fail(im, EPROTO, "type char without a name");
	build(im);
	e[0] = 0;
	expect_fail(im, EPROTO, "zero-length entry");
	build(im);
	e[0] = 0xff;
	e[1] = 0x7f;
	expect_fail(im, E2BIG, "2-byte length 16383");

	s = &syms[nsyms - 1];
	memset(s->name, 0, sizeof(s->name));
	for (int i = 0; i < 150; i++)
		memcpy(s->name + 4 * i, "init", 4);
	build(im);
	expect_fail(im, E2BIG, "name expanding to 601 bytes (151 tokens)");
	memset(s->name, 'q', 600);
	build(im);
	expect_fail(im, E2BIG, "601 tokens");
	memset(s->name, 0, sizeof(s->name));
	memcpy(s->name, "init", 4);
	memset(s->name + 4, 'z', 508);
	build(im);
	expect_fail(im, E2BIG, "512-char name in 510 tokens (513 with the type)");
}

int main(void)
{
	struct image im = { .mem = malloc(MEM_MAX) };

	if (!im.mem)
		bail("out of memory");
	init_tokens();
	test_roundtrip(&im);
	test_vmcoreinfo(&im);
	test_hostile_counts(&im);
	test_hostile_tokens(&im);
	test_hostile_names(&im);
	free(im.mem);
	return tap_done();
}
