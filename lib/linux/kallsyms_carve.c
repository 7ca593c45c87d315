/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kallsyms carving (layouts in kallsyms_carve.h). Two passes over the
 * range, in 1 MiB chunks:
 *
 * 1. Token tables. At every 8-aligned P: a u16[256] that starts at 0 and
 *    strictly increases, right after 256 NUL-terminated printable strings
 *    that start exactly at those offsets (then < 8 bytes of zero padding).
 *    Nothing else in a kernel looks like that, so there is normally one.
 * 2. Headers. At every 8-aligned X below a token table: u64 relative_base
 *    (a kernel address below X), u32 num_syms, u32 0, with room for the
 *    offsets below and the names above. Each (header, token table) pair is
 *    then verified: the names decode to exactly num_syms entries, every
 *    marker matches, the offsets start at relative_base and are sorted.
 *
 * Nothing is required of what lies between the markers and the token
 * table (kallsyms_seqs_of_names exists in 6.2+ and in Debian's 6.1), but
 * of two tables that verify, the one a known layout puts there wins. In
 * the scan buffers unreadable pages read as 0xff, which no check accepts
 * (not a token byte, index or count); names, markers and offsets are read
 * through the callback itself. Work is bounded by WORK_MAX bytes read to
 * verify candidates, and at most MAX_TT token tables are considered.
 */
#define _GNU_SOURCE
#include "linux/kallsyms_carve.h"
#include "internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u
#define CHUNK (1u << 20)
#define TT_MAX KVMON_KALLSYMS_MAX_TOKEN_TABLE
#define IDX_BYTES 512u
#define MAX_TT 16			/* token tables; a kernel has one */
#define MIN_TOKENS 64			/* non-empty tokens (real tables: 256) */
#define WIN_MAX (1u << 20)		/* names read-ahead, offsets chunk */
#define WIN_FIRST 256u			/* most false candidates die in this */
#define WORK_MAX (256ull << 20)		/* bytes read to verify, in total */
#define KERNEL_HALF 0xff00000000000000ull /* lowest kernel va, LA57 */
#define IMAGE_MAX (1ull << 30)		/* x86-64 KERNEL_IMAGE_SIZE bound */
#define MAX_MARKERS ((KVMON_KALLSYMS_MAX_SYMS + 255) / 256)

/* A token table that passed pass 1. */
struct ttab {
	uint64_t table, index;
	uint32_t off[256], len[256];
	uint8_t *bytes;
};

struct carve {
	const struct kvmon_virtmem *vm;
	uint64_t start, end;
	uint8_t *chunk;			/* CHUNK + TT_MAX + IDX_BYTES */
	uint8_t *win;			/* WIN_MAX */
	struct ttab tt[MAX_TT];
	size_t ntt;
	uint64_t work;
	size_t headers;			/* header candidates tried */
	struct kvmon_kallsyms_addrs found;
	size_t nfound;
	uint32_t marks[MAX_MARKERS];	/* markers the names imply */
};

/* Sequential reader of one candidate's names stream. */
struct stream {
	struct carve *c;
	uint64_t base, limit;		/* the stream is [base, base + limit) */
	uint64_t wpos;			/* stream offset of win[0] */
	size_t wlen, grow;
};

/* ---------------------------------------------------------------- bytes */

static uint32_t le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint64_t align8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

static bool printable(uint8_t b)
{
	return b >= 0x21 && b <= 0x7e;
}

/* nm's type letters ('?' for unknown). */
static bool type_char(uint8_t b)
{
	return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || b == '?';
}

/* ---------------------------------------------------------------- reads */

static size_t page_piece(uint64_t va, size_t left)
{
	size_t piece = PAGE - (size_t)(va % PAGE);

	return piece < left ? piece : left;
}

/* Read a scan chunk; unreadable pages become 0xff. Readable byte count. */
static size_t read_lenient(const struct kvmon_virtmem *vm, uint64_t va,
			   uint8_t *buf, size_t len)
{
	size_t done = 0, got = 0;

	if (vm->read(vm->ctx, va, buf, len) == 0)
		return len;
	while (done < len) {
		size_t piece = page_piece(va + done, len - done);

		if (vm->read(vm->ctx, va + done, buf + done, piece) == 0)
			got += piece;
		else
			memset(buf + done, 0xff, piece);
		done += piece;
	}
	return got;
}

/* Read up to len bytes, keeping the readable prefix (page granular). */
static size_t read_prefix(const struct kvmon_virtmem *vm, uint64_t va,
			  uint8_t *buf, size_t len)
{
	size_t done = 0;

	if (len == 0 || vm->read(vm->ctx, va, buf, len) == 0)
		return len;
	while (done < len) {
		size_t piece = page_piece(va + done, len - done);

		if (vm->read(vm->ctx, va + done, buf + done, piece) < 0)
			break;
		done += piece;
	}
	return done;
}

static int spend(struct carve *c, uint64_t bytes)
{
	c->work += bytes;
	if (c->work > WORK_MAX)
		return kvmon_set_error(E2BIG, "kallsyms carve: work limit "
				       "(%llu MiB verified) reached: memory "
				       "full of near-miss tables",
				       WORK_MAX >> 20);
	return 0;
}

/* ------------------------------------------------ pass 1: token tables */

/* u16[256] from 0, strictly increasing, within a token table's size. */
static bool index_ok(const uint8_t *p, uint32_t idx[256])
{
	if (p[0] || p[1])
		return false;
	idx[0] = 0;
	for (unsigned i = 1; i < 256; i++) {
		idx[i] = le16(p + 2 * i);
		if (idx[i] <= idx[i - 1])
			return false;
	}
	return idx[255] <= TT_MAX - 2;
}

/*
 * Do span bytes at b hold the 256 strings idx describes, then < 8 bytes of
 * zero padding? *size is the table's length without the padding.
 */
static bool tokens_ok(const uint8_t *b, size_t span, const uint32_t idx[256],
		      size_t *size)
{
	unsigned nonempty = 0;
	size_t j;

	if (idx[255] >= span)
		return false;
	for (unsigned i = 0; i < 255; i++) {
		for (j = idx[i]; j + 1 < idx[i + 1]; j++)
			if (!printable(b[j]))
				return false;
		if (b[idx[i + 1] - 1])
			return false;
		nonempty += idx[i + 1] - idx[i] > 1;
	}
	for (j = idx[255]; j < span && printable(b[j]); j++)
		;
	if (j >= span || b[j] || j - idx[255] > KVMON_KSYM_NAME_LEN)
		return false;
	nonempty += j > idx[255];
	*size = j + 1;
	if (span - *size >= 8)
		return false;
	for (j = *size; j < span; j++)
		if (b[j])
			return false;
	return nonempty >= MIN_TOKENS;
}

static int add_ttab(struct carve *c, uint64_t table, uint64_t index,
		    const uint8_t *bytes, size_t size, const uint32_t idx[256])
{
	struct ttab *t;

	if (c->ntt == MAX_TT)
		return kvmon_set_error(E2BIG, "kallsyms carve: more than %d "
				       "token tables", MAX_TT);
	t = &c->tt[c->ntt];
	t->bytes = malloc(size);
	if (!t->bytes)
		return kvmon_set_error(ENOMEM, "out of memory");
	memcpy(t->bytes, bytes, size);
	t->table = table;
	t->index = index;
	for (unsigned i = 0; i < 256; i++) {
		uint32_t next = i < 255 ? idx[i + 1] : (uint32_t)size;

		t->off[i] = idx[i];
		t->len[i] = next - idx[i] - 1;
	}
	c->ntt++;
	return 0;
}

/*
 * An index at va p (buffer b holds [lo, hi)): find the table that ends,
 * padded, at p. Its last token is at most a symbol long.
 */
static int try_index(struct carve *c, const uint8_t *b, uint64_t lo,
		     uint64_t p)
{
	uint32_t idx[256];
	uint64_t span, most;
	size_t size;

	if (!index_ok(b + (p - lo), idx))
		return 0;
	most = align8((uint64_t)idx[255] + 1 + KVMON_KSYM_NAME_LEN);
	for (span = align8((uint64_t)idx[255] + 1); span <= most &&
	     span <= p - lo; span += 8) {
		/* Crafted indexes could each cost this much: budget it. */
		if (spend(c, idx[255] + 1) < 0)
			return -1;
		if (tokens_ok(b + (p - lo - span), (size_t)span, idx, &size))
			return add_ttab(c, p - span, p, b + (p - lo - span),
					size, idx);
	}
	return 0;
}

static int scan_tokens(struct carve *c)
{
	for (uint64_t off = 0; off < c->end - c->start; off += CHUNK) {
		uint64_t base = c->start + off, left = c->end - base;
		uint64_t lo = off > TT_MAX ? base - TT_MAX : c->start;
		uint64_t hi = base + (left < CHUNK + IDX_BYTES ? left :
				      CHUNK + IDX_BYTES);

		if (!read_lenient(c->vm, lo, c->chunk, (size_t)(hi - lo)))
			continue;
		for (uint64_t p = align8(base); p - base < CHUNK &&
		     p < hi && hi - p >= IDX_BYTES; p += 8)
			if (try_index(c, c->chunk, lo, p) < 0)
				return -1;
	}
	return 0;
}

/* -------------------------------------------------- pass 2: candidates */

/* Pointer to stream bytes [pos, pos + n) (sequential), NULL if absent. */
static const uint8_t *st_get(struct stream *s, uint64_t pos, size_t n)
{
	struct carve *c = s->c;
	size_t keep, want;

	if (n > s->limit || pos > s->limit - n)
		return NULL;
	if (pos + n <= s->wpos + s->wlen)
		return c->win + (pos - s->wpos);
	keep = (size_t)(s->wpos + s->wlen - pos);
	memmove(c->win, c->win + (pos - s->wpos), keep);
	s->wpos = pos;
	s->wlen = keep;
	/* Small first reads, growing: a false candidate costs little. */
	want = s->grow > n ? s->grow : n;
	if (want > WIN_MAX - keep)
		want = WIN_MAX - keep;
	if (want > s->limit - pos - keep)
		want = (size_t)(s->limit - pos - keep);
	s->grow = s->grow * 4 < WIN_MAX ? s->grow * 4 : WIN_MAX;
	if (spend(c, want) < 0)
		return NULL;
	s->wlen += read_prefix(c->vm, s->base + pos + keep, c->win + keep, want);
	return s->wlen >= n ? c->win : NULL;
}

/* The loader's rules: 1..512 tokens expanding to a type letter and a
 * printable name, 2..512 bytes in all. */
static bool entry_ok(const struct ttab *t, const uint8_t *tok, size_t len)
{
	size_t n = 0;

	for (size_t j = 0; j < len; j++) {
		uint32_t tl = t->len[tok[j]];
		const uint8_t *s = t->bytes + t->off[tok[j]];

		if (tl > KVMON_KSYM_NAME_LEN - n)
			return false;
		if (n == 0 && tl && !type_char(s[0]))
			return false;
		n += tl;
	}
	return n >= 2;	/* token strings are printable by construction */
}

/* Decode one entry at *pos: 1 and *pos advanced, 0 if invalid, -1. */
static int next_entry(struct stream *s, const struct ttab *t, uint64_t *pos)
{
	const uint8_t *p = st_get(s, *pos, 1);
	size_t len, hdr = 1;

	if (!p)
		return s->c->work > WORK_MAX ? -1 : 0;
	len = p[0];
	if (len & 0x80) {	/* "big" symbol: 2-byte ULEB128 length */
		if (!(p = st_get(s, *pos, 2)))
			return s->c->work > WORK_MAX ? -1 : 0;
		len = (len & 0x7f) | (size_t)p[1] << 7;
		hdr = 2;
	}
	if (len == 0 || len > KVMON_KSYM_NAME_LEN)
		return 0;
	if (!(p = st_get(s, *pos, hdr + len)))
		return s->c->work > WORK_MAX ? -1 : 0;
	if (!entry_ok(t, p + hdr, len))
		return 0;
	*pos += hdr + len;
	return 1;
}

/* Exactly n valid entries; *len is the stream's length. */
static int check_names(struct carve *c, uint64_t names, uint64_t top,
		       const struct ttab *t, uint32_t n, uint64_t *len)
{
	struct stream s = { .c = c, .base = names, .grow = WIN_FIRST };
	uint64_t pos = 0;

	s.limit = top - names;
	if (s.limit > KVMON_KALLSYMS_MAX_NAMES)
		s.limit = KVMON_KALLSYMS_MAX_NAMES;
	for (uint32_t i = 0; i < n; i++) {
		int r;

		if (i % 256 == 0)
			c->marks[i / 256] = (uint32_t)pos;
		if ((r = next_entry(&s, t, &pos)) <= 0)
			return r;
	}
	*len = pos;
	return 1;
}

/* Markers right after the names (8-aligned), u32 or (4.x) u64 each. */
static int check_markers(struct carve *c, uint64_t names_end, uint32_t n,
			 uint64_t top, uint64_t *at, size_t *width)
{
	uint64_t m = align8(names_end);
	size_t k = (n + 255) / 256;

	for (size_t w = 4; w <= 8; w += 4) {
		size_t j;

		if (m > top || top - m < k * w)
			continue;
		if (spend(c, k * w) < 0)
			return -1;
		if (c->vm->read(c->vm->ctx, m, c->win, k * w) < 0)
			return 0;
		for (j = 0; j < k; j++) {
			const uint8_t *e = c->win + j * w;

			if ((w == 4 ? le32(e) : le64(e)) != c->marks[j])
				break;
		}
		if (j == k) {
			*at = m;
			*width = w;
			return 1;
		}
	}
	return 0;
}

/*
 * ABSOLUTE_PERCPU offsets: >= 0 absolute (per-cpu), else relative_base - 1
 * - offset. The table is sorted by address, so the first relative symbol
 * is the lowest, relative_base itself (-1); allow a few inversions.
 */
static int check_offsets(struct carve *c, uint64_t offs, uint32_t n,
			 uint64_t rb)
{
	uint64_t prev = 0, inv = 0;
	bool rel = false;
	size_t per = WIN_MAX / 4;

	for (size_t i = 0; i < n; i += per) {
		size_t cnt = n - i < per ? n - i : per;

		if (spend(c, 4 * cnt) < 0)
			return -1;
		if (c->vm->read(c->vm->ctx, offs + 4 * i, c->win, 4 * cnt) < 0)
			return 0;
		for (size_t j = 0; j < cnt; j++) {
			uint32_t raw = le32(c->win + 4 * j);
			uint64_t a = raw;

			if (raw & 0x80000000u) {
				if (!rel && raw != 0xffffffffu)
					return 0;
				rel = true;
				a = rb + (uint32_t)~raw;
				if (a < rb)
					return 0;	/* wraps */
			}
			inv += a < prev;
			prev = a;
		}
	}
	return rel && inv <= n / 64;
}

static void record(struct carve *c, uint64_t x, uint32_t n, uint64_t markers,
		   const struct ttab *t)
{
	if (c->nfound++)
		return;
	c->found.relative_base = x - 8;
	c->found.num_syms = x;
	c->found.names = x + 8;
	c->found.offsets = x - 8 - align8(4 * (uint64_t)n);
	c->found.markers = markers;
	c->found.token_table = t->table;
	c->found.token_index = t->index;
}

/* Is the token table where a known layout puts it after the markers:
 * directly (<= 6.1), or after 3- or 4-byte seqs_of_names (6.2+)? */
static bool known_gap(uint64_t markers_end, uint32_t n, uint64_t table)
{
	uint64_t e = align8(markers_end);

	return table == e || table == align8(e + 3 * (uint64_t)n) ||
	       table == align8(e + 4 * (uint64_t)n);
}

/* A header at x with a token table above it: 1 if everything verifies;
 * *markers and *known (see known_gap) describe it. */
static int verify(struct carve *c, uint64_t x, uint32_t n, uint64_t rb,
		  const struct ttab *t, uint64_t *markers, bool *known)
{
	uint64_t len = 0;
	size_t w = 0;
	int r;

	if ((r = check_names(c, x + 8, t->table, t, n, &len)) <= 0 ||
	    (r = check_markers(c, x + 8 + len, n, t->table, markers, &w)) <= 0 ||
	    (r = check_offsets(c, x - 8 - align8(4 * (uint64_t)n), n, rb)) <= 0)
		return r;
	*known = known_gap(*markers + w * ((n + 255) / 256), n, t->table);
	return 1;
}

/*
 * h points at the 16 bytes [x - 8, x + 8). Of the token tables above that
 * verify, take the one a known layout places there, else the nearest
 * (tables are in address order): a table planted in between loses.
 */
static int try_header(struct carve *c, const uint8_t *h, uint64_t x)
{
	uint64_t rb = le64(h), kmark, markers = 0, best_markers = 0;
	uint32_t n = le32(h + 8);
	const struct ttab *best = NULL;

	if (n == 0 || n > KVMON_KALLSYMS_MAX_SYMS || le32(h + 12) ||
	    rb < KERNEL_HALF || rb >= x || x - rb > IMAGE_MAX ||
	    x - 8 - c->start < align8(4 * (uint64_t)n))
		return 0;
	/* Names take at least 2 bytes per symbol, markers 4 per 256. */
	kmark = 2 * (uint64_t)n + 4 * (((uint64_t)n + 255) / 256);
	c->headers++;
	for (size_t i = 0; i < c->ntt; i++) {
		const struct ttab *t = &c->tt[i];
		bool known = false;
		int r;

		if (t->table <= x + 8 || t->table - (x + 8) < kmark)
			continue;
		if ((r = verify(c, x, n, rb, t, &markers, &known)) < 0)
			return -1;
		if (r && known) {
			best = t;
			best_markers = markers;
			break;
		}
		if (r && !best) {
			best = t;
			best_markers = markers;
		}
	}
	if (best)
		record(c, x, n, best_markers, best);
	return 0;
}

static int scan_headers(struct carve *c)
{
	uint64_t top = c->start;

	for (size_t i = 0; i < c->ntt; i++)
		if (c->tt[i].table > top)
			top = c->tt[i].table;
	for (uint64_t base = c->start; base < top && c->nfound < 2;) {
		uint64_t lo = base - c->start >= 8 ? base - 8 : c->start;
		uint64_t hi = top - base > CHUNK + 8 ? base + CHUNK + 8 : top;

		if (read_lenient(c->vm, lo, c->chunk, (size_t)(hi - lo))) {
			for (uint64_t x = align8(base); x - base < CHUNK &&
			     x < hi && hi - x >= 8 && c->nfound < 2; x += 8) {
				if (x - c->start < 8)	/* no room for rb */
					continue;
				if (try_header(c, c->chunk + (x - 8 - lo), x) < 0)
					return -1;
			}
		}
		base += top - base > CHUNK ? CHUNK : top - base;
	}
	return 0;
}

/* --------------------------------------------------------------- carve */

static int check_range(uint64_t start, uint64_t len)
{
	if (len == 0 || len > UINT64_MAX - start)
		return kvmon_set_error(EINVAL, "kallsyms carve: bad range "
				       "0x%llx+0x%llx",
				       (unsigned long long)start,
				       (unsigned long long)len);
	if (len > KVMON_KALLSYMS_CARVE_MAX_LEN)
		return kvmon_set_error(E2BIG, "kallsyms carve: range of %llu "
				       "MiB (limit %llu)",
				       (unsigned long long)(len >> 20),
				       KVMON_KALLSYMS_CARVE_MAX_LEN >> 20);
	return 0;
}

static int conclude(const struct carve *c, struct kvmon_kallsyms_addrs *out)
{
	if (c->nfound == 1) {
		*out = c->found;
		return 0;
	}
	if (c->nfound > 1)
		return kvmon_set_error(EEXIST, "kallsyms carve: more than one "
				       "complete table set (names at 0x%llx "
				       "and elsewhere)",
				       (unsigned long long)c->found.names);
	if (c->ntt == 0)
		return kvmon_set_error(ENOENT, "kallsyms carve: no token table "
				       "in 0x%llx..0x%llx",
				       (unsigned long long)c->start,
				       (unsigned long long)c->end);
	return kvmon_set_error(ENOENT, "kallsyms carve: %zu token table(s) "
			       "(first at 0x%llx) but none of %zu header "
			       "candidates verifies", c->ntt,
			       (unsigned long long)c->tt[0].table, c->headers);
}

int kvmon_kallsyms_carve(const struct kvmon_virtmem *vm, uint64_t start,
			 uint64_t len, struct kvmon_kallsyms_addrs *out)
{
	struct carve *c;
	int rc = -1;

	if (!vm || !vm->read || !out)
		return kvmon_set_error(EINVAL, "kallsyms carve: bad arguments");
	if (check_range(start, len) < 0)
		return -1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return kvmon_set_error(ENOMEM, "out of memory");
	c->vm = vm;
	c->start = start;
	c->end = start + len;
	c->chunk = malloc(CHUNK + TT_MAX + IDX_BYTES);
	c->win = malloc(WIN_MAX);
	if (!c->chunk || !c->win)
		kvmon_set_error(ENOMEM, "out of memory");
	else if (scan_tokens(c) == 0 && scan_headers(c) == 0)
		rc = conclude(c, out);
	for (size_t i = 0; i < c->ntt; i++)
		free(c->tt[i].bytes);
	free(c->chunk);
	free(c->win);
	free(c);
	return rc;
}
