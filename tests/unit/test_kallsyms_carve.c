/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kallsyms carving: table sets laid out like scripts/kallsyms.c (4.x, 6.1,
 * 6.1 with seqs_of_names, 6.4+), embedded at random offsets in random
 * bytes among decoys, must be found at exactly the right addresses and
 * load; hostile variants must fail cleanly.
 */
#include "linux/kallsyms_carve.h"
#include "internal.h"
#include "../tap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VBASE 0xffffffff9a000000ull	/* the scanned memory */
#define RBASE 0xffffffff98e00000ull	/* _text: kallsyms_relative_base */
#define MEM_SIZE (4u << 20)
#define PAGE 4096u
#define NSYMS_MAX 6000
#define NAME_MAX_TEST 520

/* ------------------------------------------------------------ memory */

struct mem {
	uint8_t *b;
	size_t size;			/* readable bytes from VBASE */
	uint8_t hole[MEM_SIZE / PAGE];	/* 1: page unreadable */
	unsigned long reads;
};

static struct mem M;

static int vm_read(void *ctx, uint64_t va, void *buf, size_t len)
{
	struct mem *m = ctx;
	uint64_t off = va - VBASE;

	m->reads++;
	if (va < VBASE || off > m->size || len > m->size - off)
		return kvmon_set_error(EFAULT, "0x%llx: not mapped",
				       (unsigned long long)va);
	for (uint64_t p = off / PAGE; len && p <= (off + len - 1) / PAGE; p++)
		if (m->hole[p])
			return kvmon_set_error(EFAULT, "hole");
	memcpy(buf, m->b + off, len);
	return 0;
}

static int fail_read(void *ctx, uint64_t va, void *buf, size_t len)
{
	(void)ctx;
	(void)va;
	(void)buf;
	(void)len;
	return kvmon_set_error(EIO, "nothing readable");
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void randomize(void)
{
	for (size_t i = 0; i < MEM_SIZE; i++)
		M.b[i] = (uint8_t)rnd();
	memset(M.hole, 0, sizeof(M.hole));
	M.size = MEM_SIZE;
}

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

/* ------------------------------------------------------------ tokens */

static char tokens[256][16];

/* Printable characters keep their own code, as in scripts/kallsyms.c;
 * every other code is a multi-character token, so all 256 are used. */
static void init_tokens(void)
{
	static const char *const multi[] = {
		"Tsys_", "tkvm_", "T__x64_sys_", "percpu", "entry", "init",
		"kvm_", "func_", "ing", "ent", "__", "_t", "er", "Tdo_",
		"data_", "object_", "_ref", "put_", "tick", "dT", "tt",
	};
	static const char alpha[] = "etaoinsrhl_d";
	size_t m = 0, pair = 0;

	for (int c = 0; c < 256; c++) {
		if (c >= 0x21 && c <= 0x7e) {
			tokens[c][0] = (char)c;
		} else if (m < ARRAY_SIZE(multi)) {
			strcpy(tokens[c], multi[m++]);
		} else {
			tokens[c][0] = alpha[pair / 12];
			tokens[c][1] = alpha[pair % 12];
			pair++;
		}
	}
}

/* Greedy: the longest token that matches. */
static size_t encode(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s) {
		size_t best = (uint8_t)*s, blen = 1;

		for (int i = 0; i < 256; i++) {
			size_t l = strlen(tokens[i]);

			if (l > blen && !strncmp(s, tokens[i], l)) {
				best = (size_t)i;
				blen = l;
			}
		}
		out[n++] = (uint8_t)best;
		s += blen;
	}
	return n;
}

/* Token table, gap bytes, zero padding, index at off; returns the end. */
static size_t put_tokens_gap(size_t off, size_t *index_at, const char *gap,
			     size_t gaplen)
{
	uint32_t idx[256];
	size_t p = off;

	for (int i = 0; i < 256; i++) {
		size_t l = strlen(tokens[i]) + 1;

		idx[i] = (uint32_t)(p - off);
		memcpy(M.b + p, tokens[i], l);
		p += l;
	}
	memcpy(M.b + p, gap, gaplen);
	p += gaplen;
	memset(M.b + p, 0, align8(p) - p);
	*index_at = p = align8(p);
	for (int i = 0; i < 256; i++)
		put16(M.b + p + 2 * (size_t)i, idx[i]);
	return p + 512;
}

static size_t put_tokens(size_t off, size_t *index_at)
{
	return put_tokens_gap(off, index_at, "", 0);
}

/* 40 tokens "a", 216 empty ones: consistent, but not a real table. */
static size_t put_few_tokens(size_t off)
{
	size_t p = off;

	memset(M.b + off, 0, 296);
	for (int i = 0; i < 256; i++) {
		put16(M.b + off + 296 + 2 * (size_t)i, (uint32_t)(p - off));
		if (i < 40)
			M.b[p++] = 'a';
		p++;
	}
	return off + 296 + 512;
}

/* ----------------------------------------------------------- symbols */

struct sym {
	char name[NAME_MAX_TEST];
	char type;
	uint64_t addr;
	uint8_t enc[NAME_MAX_TEST + 2];
	size_t elen;
};

static struct sym syms[NSYMS_MAX];
static size_t nsyms;

static void add(char type, uint64_t addr, const char *name)
{
	struct sym *s = &syms[nsyms++];
	char full[NAME_MAX_TEST + 2];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->addr = addr;
	full[0] = type;
	strcpy(full + 1, s->name);
	s->elen = encode(full, s->enc);
}

static void make_symbols(size_t n)
{
	static const char *const stems[] = {
		"kvm_func_", "__init_entering_", "sys_entry_", "do_thing_",
		"_tick_er_", "percpu_ref_put_", "data_object_", "x",
	};
	static const char types[] = "TtTtDdBbRrWV";
	uint64_t a = RBASE;
	char name[NAME_MAX_TEST];

	nsyms = 0;
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "percpu_var_%d", i);
		add('A', i < 2 ? 0 : 0x1000 * (uint64_t)i, name);
	}
	add('T', a, "_text");
	add('T', a, "startup_64");
	memset(name, 'Q', 400);		/* > 127 tokens: 2-byte length */
	name[400] = '\0';
	add('T', a + 0x40, name);
	while (nsyms < n) {
		size_t i = nsyms;

		a += 0x10 + (i % 5) * 0x30;
		snprintf(name, sizeof(name), "%s%zu", stems[i % 8], i);
		add(types[i % 12], a, name);
	}
}

/* ------------------------------------------------------------ layout */

struct layout {
	unsigned num_w;		/* kallsyms_num_syms: 4 (6.x) or 8 (4.x) */
	unsigned mark_w;	/* markers: 4 or 8 */
	unsigned seq_w;		/* seqs_of_names: 0, 3 or 4 bytes */
	unsigned extra;		/* unknown bytes before the token table */
	const char *what;
};

static const struct layout layouts[] = {
	{ 4, 4, 0, 0, "6.1" },
	{ 4, 4, 3, 0, "6.1 Debian / 6.2 (3-byte seqs)" },
	{ 4, 4, 4, 0, "6.4+ (4-byte seqs)" },
	{ 8, 8, 0, 0, "4.x (u64 num_syms and markers)" },
	{ 4, 4, 0, 4000, "unknown table before the token table" },
};

struct set {
	struct kvmon_kallsyms_addrs a;	/* expected */
	size_t start, end;		/* offsets in M.b */
	size_t entry[NSYMS_MAX];	/* entry offsets in names */
	size_t names_len;
};

static uint32_t offset_of(uint64_t addr)
{
	if (addr < 0x80000000ull)
		return (uint32_t)addr;			/* per-cpu: absolute */
	return (uint32_t)(0 - (addr - RBASE) - 1);	/* below the base */
}

static size_t put_names(struct set *s, size_t p)
{
	size_t at = p;

	for (size_t i = 0; i < nsyms; i++) {
		size_t n = syms[i].elen;

		s->entry[i] = p - at;
		if (n < 0x80) {
			M.b[p++] = (uint8_t)n;
		} else {
			M.b[p++] = (uint8_t)(0x80 | (n & 0x7f));
			M.b[p++] = (uint8_t)(n >> 7);
		}
		memcpy(M.b + p, syms[i].enc, n);
		p += n;
	}
	s->names_len = p - at;
	return p;
}

static size_t set_size(const struct layout *l)
{
	size_t names = 0;

	for (size_t i = 0; i < nsyms; i++)
		names += syms[i].elen + 2;
	return 4 * nsyms + 16 + names + 8 * (nsyms / 256 + 1) +
	       l->seq_w * nsyms + l->extra + 4096 + 64;
}

/* Every label 8-aligned (ALGN), padding zero, as gas emits it. */
static void build(struct set *s, const struct layout *l, size_t at)
{
	size_t p = at, k = (nsyms + 255) / 256, ti;

	memset(M.b + at, 0, set_size(l));
	s->start = at;
	s->a.offsets = VBASE + p;
	for (size_t i = 0; i < nsyms; i++)
		put32(M.b + p + 4 * i, offset_of(syms[i].addr));
	p = align8(p + 4 * nsyms);
	s->a.relative_base = VBASE + p;
	put64(M.b + p, RBASE);
	s->a.num_syms = VBASE + p + 8;
	if (l->num_w == 8)
		put64(M.b + p + 8, nsyms);
	else
		put32(M.b + p + 8, (uint32_t)nsyms);
	p = align8(p + 8 + l->num_w);
	s->a.names = VBASE + p;
	p = align8(put_names(s, p));
	s->a.markers = VBASE + p;
	for (size_t j = 0; j < k; j++) {
		if (l->mark_w == 8)
			put64(M.b + p + 8 * j, s->entry[256 * j]);
		else
			put32(M.b + p + 4 * j, (uint32_t)s->entry[256 * j]);
	}
	p = align8(p + l->mark_w * k);
	for (size_t i = 0; i < nsyms && l->seq_w; i++)
		put32(M.b + p + l->seq_w * i, (uint32_t)(nsyms - 1 - i));
	p = align8(p + l->seq_w * nsyms + l->extra);
	s->a.token_table = VBASE + p;
	p = put_tokens(p, &ti);
	s->a.token_index = VBASE + ti;
	s->end = p;
}

static uint8_t *at(uint64_t va)
{
	return M.b + (va - VBASE);
}

static bool same_addrs(const struct kvmon_kallsyms_addrs *x,
		       const struct kvmon_kallsyms_addrs *y)
{
	return x->names == y->names && x->num_syms == y->num_syms &&
	       x->token_table == y->token_table &&
	       x->token_index == y->token_index && x->offsets == y->offsets &&
	       x->relative_base == y->relative_base && x->markers == y->markers;
}

static int carve_all(struct kvmon_kallsyms_addrs *got)
{
	struct kvmon_virtmem vm = { vm_read, &M };

	memset(got, 0, sizeof(*got));
	return kvmon_kallsyms_carve(&vm, VBASE, MEM_SIZE, got);
}

/* Every symbol decodes back from the carved addresses. */
static bool loads_back(const struct kvmon_kallsyms_addrs *a)
{
	struct kvmon_virtmem vm = { vm_read, &M };
	struct kvmon_kallsyms *k = kvmon_kallsyms_load(&vm, a);
	size_t bad = 0;

	if (!k || kvmon_kallsyms_count(k) != nsyms) {
		kvmon_kallsyms_free(k);
		return false;
	}
	for (size_t i = 0; i < nsyms; i++) {
		const char *name;
		char type;
		uint64_t addr;

		if (kvmon_kallsyms_get(k, i, &name, &type, &addr) < 0 ||
		    strcmp(name, syms[i].name) || type != syms[i].type ||
		    addr != syms[i].addr)
			bad++;
	}
	kvmon_kallsyms_free(k);
	return bad == 0;
}

/* Expect carve to find s exactly. */
static void expect_found(const struct set *s, const char *what)
{
	struct kvmon_kallsyms_addrs got;
	int rc = carve_all(&got);

	ok(rc == 0 && same_addrs(&got, &s->a), "%s: found (%s)", what,
	   rc ? kvmon_get_error() : "ok");
}

static void expect_fail(int err, const char *what)
{
	struct kvmon_kallsyms_addrs got;
	int rc = carve_all(&got);

	ok(rc < 0 && kvmon_get_errno() == err, "%s: %s", what,
	   rc ? kvmon_get_error() : "found!");
}

/* Random 8-aligned offset for the set in [lo, hi). */
static size_t place(size_t lo, size_t hi, size_t size)
{
	return align8(lo + (size_t)(rnd() % (hi - lo - size - 8)));
}

/* ------------------------------------------------------------ decoys */

enum decoy {
	D_COPY,			/* consistent token table, no names */
	D_INDEX_OFF,		/* one index entry off by one */
	D_CONTROL,		/* a control character in a token */
	D_NO_NUL,		/* a token not terminated where indexed */
	D_PAD,			/* non-zero padding after the last token */
	D_GAP,			/* padding of 8 bytes or more */
	D_FEW,			/* only 40 non-empty tokens */
	D_DESCEND,		/* the index stops increasing */
	D_COUNT
};

/* A decoy at off (8-aligned); returns its end. */
static size_t put_decoy(size_t off, enum decoy d)
{
	size_t ti, end;
	uint8_t *ix;

	if (d == D_FEW)
		return put_few_tokens(off);
	if (d == D_PAD)		/* a byte after the last NUL */
		return put_tokens_gap(off, &ti, "p", 1);
	if (d == D_GAP)		/* 8 zero bytes too many before the index */
		return put_tokens_gap(off, &ti, "\0\0\0\0\0\0\0\0", 8);
	end = put_tokens(off, &ti);
	ix = M.b + ti;
	switch (d) {
	case D_INDEX_OFF:	/* entry 100 */
		put16(ix + 200, (uint32_t)(ix[200] | ix[201] << 8) + 1);
		break;
	case D_CONTROL:		/* inside token 0, "Tsys_" */
		M.b[off + 3] = 0x07;
		break;
	case D_NO_NUL:		/* token 9's NUL */
		M.b[off + (ix[20] | ix[21] << 8) - 1] = 'x';
		break;
	case D_DESCEND:		/* entry 254 == entry 253 */
		put16(ix + 508, (uint32_t)(ix[506] | ix[507] << 8));
		break;
	default:
		break;
	}
	return end;
}

/* Plausible headers (relative_base, num_syms, 0) over [lo, hi). */
static void put_fake_headers(size_t lo, size_t hi, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t x = align8(lo + 8 + (size_t)(rnd() % (hi - lo - 32)));

		put64(M.b + x - 8, RBASE + (rnd() % 0x100000));
		put32(M.b + x, 1 + (uint32_t)(rnd() % 3000));
		put32(M.b + x + 4, 0);
	}
}

/* ------------------------------------------------------------- tests */

static struct set S, S2;

static void test_layouts(void)
{
	for (size_t li = 0; li < ARRAY_SIZE(layouts); li++) {
		const struct layout *l = &layouts[li];

		for (int seed = 0; seed < 4; seed++) {
			struct kvmon_kallsyms_addrs got;
			int rc;

			randomize();
			build(&S, l, place(0, MEM_SIZE, set_size(l)));
			rc = carve_all(&got);
			ok(rc == 0 && same_addrs(&got, &S.a),
			   "%s at +0x%zx: every address (%s)", l->what,
			   S.start, rc ? kvmon_get_error() : "ok");
			if (seed == 0)
				ok(rc == 0 && loads_back(&got),
				   "%s: kallsyms_load on the carved addresses "
				   "gives all %zu symbols", l->what, nsyms);
		}
	}
}

static void test_decoys(void)
{
	const struct layout *l = &layouts[1];
	size_t p;

	randomize();
	build(&S, l, place(1u << 20, 5u << 19, set_size(l)));
	/* Decoys below (headers there may pair with the real table) and
	 * above (a copy there is nearer nothing). */
	p = 4096;
	for (int r = 0; r < 3; r++)
		for (int d = 0; d < D_COUNT; d++)
			p = align8(put_decoy(p, (enum decoy)d) + 8 +
				   (size_t)(rnd() % 4096));
	ok(p < S.start, "decoys placed below (%zu bytes)", p);
	put_fake_headers(p, S.start - 64, 3000);
	{
		struct kvmon_virtmem vm = { vm_read, &M };
		struct kvmon_kallsyms_addrs got;
		int rc = kvmon_kallsyms_carve(&vm, VBASE, S.start, &got);

		ok(rc < 0 && kvmon_get_errno() == ENOENT &&
			   strstr(kvmon_get_error(), " 3 token table(s)"),
		   "below the set: only the 3 consistent copies pass as "
		   "token tables (%s)", kvmon_get_error());
	}
	p = S.end + 4096;
	for (int d = 0; d < D_COUNT; d++)
		p = align8(put_decoy(p, (enum decoy)d) + 8 + (size_t)(rnd() % 4096));
	put_fake_headers(p, MEM_SIZE - 64, 1000);
	expect_found(&S, "among 32 token-table decoys and 4000 fake headers");
	{
		struct kvmon_kallsyms_addrs got;
		const char *e = NULL;
		size_t tried = 0;

		at(S.a.markers)[4] ^= 1;
		if (carve_all(&got) < 0)
			e = strstr(kvmon_get_error(), "none of ");
		if (e && sscanf(e, "none of %zu", &tried) != 1)
			tried = 0;
		ok(tried > 2800, "the fake headers were each tried and "
		   "rejected (%zu)", tried);
		at(S.a.markers)[4] ^= 1;
	}

	/* A second, complete set whose markers are wrong. */
	build(&S2, l, place(3u << 20, MEM_SIZE, set_size(l)));
	put32(at(S2.a.markers) + 8, (uint32_t)S2.entry[512] + 1);
	expect_found(&S, "copy with one wrong marker above");
	/* ... and one with unsorted offsets below. */
	build(&S2, l, place(1u << 16, 1u << 20, set_size(l)));
	for (size_t i = 0; i < 400; i++) {
		uint8_t *o = at(S2.a.offsets) + 4 * (1000 + i);

		put32(o, offset_of(syms[1399 - i].addr));
	}
	expect_found(&S, "copy with 400 offsets reversed below");
	/* Now a clean second copy: two complete sets. */
	build(&S2, l, place(1u << 16, 1u << 20, set_size(l)));
	expect_fail(EEXIST, "two complete table sets");
}

/* A consistent token table with two tokens swapped, at off. */
static size_t put_swapped_tokens(size_t off, int x, int y, size_t *ti)
{
	char tmp[16];
	size_t end;

	memcpy(tmp, tokens[x], sizeof(tmp));
	memcpy(tokens[x], tokens[y], sizeof(tmp));
	memcpy(tokens[y], tmp, sizeof(tmp));
	end = put_tokens(off, ti);
	memcpy(tokens[y], tokens[x], sizeof(tmp));
	memcpy(tokens[x], tmp, sizeof(tmp));
	return end;
}

/*
 * A different token table planted between the markers and the real one
 * (in seqs_of_names): it decodes to other, equally valid names ('A' and
 * 'B' swapped). The table a known layout puts there wins.
 */
static void test_planted(void)
{
	const struct layout *l = &layouts[2];
	struct kvmon_kallsyms_addrs got;
	size_t off, ti;
	int rc;

	randomize();
	build(&S, l, place(1u << 20, 3u << 20, set_size(l)));
	off = align8((size_t)(S.a.markers - VBASE) + 4 * 20 + 4000);
	put_swapped_tokens(off, 'A', 'B', &ti);
	ok(VBASE + ti + 512 < S.a.token_table, "planted table inside the seqs");
	expect_found(&S, "planted token table between markers and the real one");
	put16(at(S.a.token_index) + 2 * 9, 0);
	rc = carve_all(&got);
	ok(rc == 0 && got.token_table == VBASE + off && got.names == S.a.names,
	   "without the real one, the planted table verifies (%s)",
	   rc ? kvmon_get_error() : "ok");
}

static void test_unreadable(void)
{
	const struct layout *l = &layouts[0];
	struct kvmon_kallsyms_addrs got;
	struct kvmon_virtmem vm = { vm_read, &M };
	int rc;

	randomize();
	build(&S, l, place(1u << 20, 3u << 20, set_size(l)));
	memset(M.hole + 16, 1, 64);		/* 256 KiB hole below */
	memset(M.hole + (3u << 20) / PAGE, 1, 8);
	M.size = MEM_SIZE - 12345;		/* readable end mid-page */
	expect_found(&S, "with holes and a ragged end");
	rc = kvmon_kallsyms_carve(&vm, VBASE - (64u << 20), 128u << 20, &got);
	ok(rc == 0 && same_addrs(&got, &S.a),
	   "range larger than memory on both sides (%s)",
	   rc ? kvmon_get_error() : "ok");
	M.hole[(S.a.names - VBASE) / PAGE + 2] = 1;
	expect_fail(ENOENT, "hole inside the names");
	memset(M.hole, 0, sizeof(M.hole));
	M.size = (size_t)(S.a.token_index - VBASE) + 510;
	expect_fail(ENOENT, "memory ends inside the token index");
	M.size = MEM_SIZE;
	rc = kvmon_kallsyms_carve(&vm, S.a.offsets + 8, MEM_SIZE / 2, &got);
	ok(rc < 0 && kvmon_get_errno() == ENOENT,
	   "range starts above the offsets: %s", kvmon_get_error());
	rc = kvmon_kallsyms_carve(&vm, VBASE, S.a.token_index + 500 - VBASE,
				  &got);
	ok(rc < 0 && kvmon_get_errno() == ENOENT,
	   "range ends inside the token index: %s", kvmon_get_error());
	vm.read = fail_read;
	rc = kvmon_kallsyms_carve(&vm, VBASE, MEM_SIZE, &got);
	ok(rc < 0 && kvmon_get_errno() == ENOENT, "nothing readable: %s",
	   kvmon_get_error());
}

/* Rebuild S, corrupt it with f, expect err. */
static void hostile(const struct layout *l, void (*f)(void), int err,
		    const char *what)
{
	randomize();
	build(&S, l, place(1u << 20, 3u << 20, set_size(l)));
	f();
	expect_fail(err, what);
}

static void n_plus(void) { put32(at(S.a.num_syms), (uint32_t)nsyms + 1); }
static void n_minus(void) { put32(at(S.a.num_syms), (uint32_t)nsyms - 1); }
static void n_huge(void) { put32(at(S.a.num_syms), 0xffffffffu); }
static void n_limit(void) { put32(at(S.a.num_syms), KVMON_KALLSYMS_MAX_SYMS + 1); }
static void n_zero(void) { put32(at(S.a.num_syms), 0); }
static void n_pad(void) { at(S.a.num_syms)[5] = 1; }
static void rb_user(void) { put64(at(S.a.relative_base), 0x00007f0000000000ull); }
static void rb_above(void) { put64(at(S.a.relative_base), S.a.names); }
static void mark_off(void) { put32(at(S.a.markers) + 4 * 7, (uint32_t)S.entry[7 * 256] - 1); }
static void len_zero(void) { at(S.a.names)[S.entry[100]] = 0; }
static void type_digit(void) { at(S.a.names)[S.entry[3000] + 1] = '1'; }
static void long_name(void) { at(S.a.names)[S.entry[14] + 1] = 0x7f; }
static void first_rel(void) { put32(at(S.a.offsets) + 4 * 12, 0xfffffffeu); }
static void index_dup(void) { put16(at(S.a.token_index) + 2 * 9, 0); }

static void unsorted(void)
{
	for (size_t i = 0; i < 200; i++)
		put32(at(S.a.offsets) + 4 * (2000 + i),
		      offset_of(syms[2199 - i].addr));
}

static void test_hostile(void)
{
	const struct layout *l = &layouts[0];

	hostile(l, n_plus, ENOENT, "num_syms + 1");
	hostile(l, n_minus, ENOENT, "num_syms - 1");
	hostile(l, n_huge, ENOENT, "num_syms 0xffffffff");
	hostile(l, n_limit, ENOENT, "num_syms 4000001");
	hostile(l, n_zero, ENOENT, "num_syms 0");
	hostile(l, n_pad, ENOENT, "non-zero padding after num_syms");
	hostile(l, rb_user, ENOENT, "relative_base a user address");
	hostile(l, rb_above, ENOENT, "relative_base above the tables");
	hostile(l, mark_off, ENOENT, "one marker off by one");
	hostile(l, len_zero, ENOENT, "a zero-length name");
	hostile(l, type_digit, ENOENT, "type char '1'");
	hostile(l, long_name, ENOENT, "a name longer than the stream allows");
	hostile(l, first_rel, ENOENT, "first relative offset is not -1");
	hostile(l, unsorted, ENOENT, "200 offsets out of order");
	hostile(l, index_dup, ENOENT, "token index not increasing");
}

static void test_tolerance(void)
{
	const struct layout *l = &layouts[2];
	uint8_t tmp[4], *o;

	randomize();
	build(&S, l, place(1u << 20, 3u << 20, set_size(l)));
	o = at(S.a.offsets) + 4 * 2500;
	memcpy(tmp, o, 4);
	memcpy(o, o + 4, 4);
	memcpy(o + 4, tmp, 4);
	expect_found(&S, "one pair of offsets swapped (mostly sorted)");
}

/*
 * 16-byte blocks that are each a valid names entry and a plausible header
 * (relative_base, num_syms 5000, 0): every header decodes 80 KB of names
 * before its markers fail. Quadratic unless the work is bounded.
 */
static void test_work_limit(void)
{
	size_t p, lo = 1u << 20, hi = 3u << 20, ti;

	randomize();
	for (p = lo; p < hi; p += 16) {
		/* Entry: length 15, tokens 'A' (type), 0xaa, 0x99, ... */
		put64(M.b + p, 0xffffffff99aa410full);
		put32(M.b + p + 8, 5000);
		put32(M.b + p + 12, 0);
	}
	put_tokens(hi, &ti);
	expect_fail(E2BIG, "2 MiB of overlapping near-miss candidates");
}

static void test_too_many_tables(void)
{
	size_t p = 4096;

	randomize();
	for (int i = 0; i < 17; i++)
		p = align8(put_decoy(p, D_COPY) + 8);
	expect_fail(E2BIG, "17 consistent token tables");
}

static void test_args(void)
{
	struct kvmon_virtmem vm = { vm_read, &M };
	struct kvmon_kallsyms_addrs got;

	ok(kvmon_kallsyms_carve(&vm, VBASE, 0, &got) < 0 &&
		   kvmon_get_errno() == EINVAL, "empty range: EINVAL");
	ok(kvmon_kallsyms_carve(&vm, VBASE, (256ull << 20) + 1, &got) < 0 &&
		   kvmon_get_errno() == E2BIG, "range above 256 MiB: E2BIG");
	ok(kvmon_kallsyms_carve(&vm, UINT64_MAX - 4095, 8192, &got) < 0 &&
		   kvmon_get_errno() == EINVAL, "range that wraps: EINVAL");
	ok(kvmon_kallsyms_carve(NULL, VBASE, 4096, &got) < 0 &&
		   kvmon_get_errno() == EINVAL, "no reader: EINVAL");
	ok(kvmon_kallsyms_carve(&vm, VBASE, 4096, NULL) < 0 &&
		   kvmon_get_errno() == EINVAL, "no output: EINVAL");
	ok(kvmon_kallsyms_carve(&vm, UINT64_MAX - 4095, 4095, &got) < 0 &&
		   kvmon_get_errno() == ENOENT, "range at the top of memory: ENOENT");
}

int main(void)
{
	M.b = malloc(MEM_SIZE);
	if (!M.b)
		bail("out of memory");
	init_tokens();
	make_symbols(5000);
	ok(syms[14].elen > 127, "a symbol needs the 2-byte length (%zu tokens)",
	   syms[14].elen);
	test_layouts();
	test_decoys();
	test_planted();
	test_unreadable();
	test_hostile();
	test_tolerance();
	test_work_limit();
	test_too_many_tables();
	test_args();
	free(M.b);
	return tap_done();
}
