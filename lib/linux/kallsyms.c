/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kallsyms decoder (format of scripts/kallsyms.c and kernel/kallsyms.c,
 * Linux 6.1, x86-64):
 *
 *   kallsyms_num_syms     u32
 *   kallsyms_names        per symbol: length (1 byte, or 2 bytes
 *                         (b0 & 0x7f) | b1 << 7 if b0 has bit 7 set),
 *                         then that many token indices (bytes)
 *   kallsyms_token_index  u16[256]: offset of each token in the table
 *   kallsyms_token_table  NUL-terminated token strings
 *   kallsyms_offsets      s32[num]: >= 0 absolute (per-cpu), else
 *                         relative_base - 1 - offset
 *   kallsyms_relative_base  u64
 *
 * A symbol's expanded tokens are its type char followed by its name.
 * Everything is read through a guest-virtual callback with few large reads
 * and decoded into compact arrays plus one name arena.
 */
#define _GNU_SOURCE
#include "linux/kallsyms.h"
#include "linux/vmcoreinfo.h"
#include "linux/symtab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define READ_PAGE 4096u
#define NAMES_WINDOW (1u << 20)	/* names stream read-ahead */
#define OFFSETS_CHUNK (1u << 20)
#define ARENA_INITIAL (64u << 10)

struct kvmon_kallsyms {
	struct kvmon_symtab s;	/* symbols and their indexes */
	size_t arena_len, arena_cap;
};

/* Decoding state: the token table and the names stream. */
struct tokens {
	uint8_t table[KVMON_KALLSYMS_MAX_TOKEN_TABLE];
	uint32_t off[256], len[256];
};

struct nstream {
	const struct kvmon_virtmem *vm;
	uint64_t base;
	uint64_t limit;		/* stream bytes we may read */
	uint8_t *buf;		/* NAMES_WINDOW bytes */
	uint64_t wpos;		/* stream offset of buf[0] */
	size_t wlen;
	uint64_t pos;		/* next byte to decode */
};

/* ---------------------------------------------------------------- reads */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int vread(const struct kvmon_virtmem *vm, uint64_t va, void *buf,
		 size_t len)
{
	if (len && va > UINT64_MAX - (len - 1))
		return kvmon_set_error(EFAULT, "kallsyms: read at 0x%llx wraps",
				       (unsigned long long)va);
	return vm->read(vm->ctx, va, buf, len);
}

/*
 * Read up to want bytes; where a large read fails (the table may end near
 * unmapped memory), fall back to page-sized pieces and keep the prefix.
 * -1 only if not even the first piece is readable.
 */
static int read_upto(const struct kvmon_virtmem *vm, uint64_t va, uint8_t *buf,
		     size_t want, size_t *got)
{
	size_t done = 0;

	*got = 0;
	if (want == 0 || vread(vm, va, buf, want) == 0) {
		*got = want;
		return 0;
	}
	while (done < want) {
		size_t piece = READ_PAGE - (size_t)((va + done) % READ_PAGE);

		if (piece > want - done)
			piece = want - done;
		if (vread(vm, va + done, buf + done, piece) < 0)
			break;
		done += piece;
	}
	*got = done;
	return done ? 0 : -1;
}

/*
 * How far a table at base may extend: up to cap, and never into another
 * kallsyms table placed above it (the kernel emits them back to back).
 */
static uint64_t extent(uint64_t base, const struct kvmon_kallsyms_addrs *a,
		       uint64_t cap)
{
	const uint64_t other[] = { a->names, a->num_syms, a->token_table,
				   a->token_index, a->offsets,
				   a->relative_base, a->markers };

	if (cap > UINT64_MAX - base)
		cap = UINT64_MAX - base;
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (other[i] > base && other[i] - base < cap)
			cap = other[i] - base;
	return cap;
}

/* --------------------------------------------------------------- tokens */

static int load_tokens(const struct kvmon_virtmem *vm,
		       const struct kvmon_kallsyms_addrs *a, struct tokens *t)
{
	uint8_t idx[512];
	size_t size;

	if (vread(vm, a->token_index, idx, sizeof(idx)) < 0)
		return kvmon_error_prefix("kallsyms: token index");
	if (read_upto(vm, a->token_table, t->table,
		      (size_t)extent(a->token_table, a,
				     KVMON_KALLSYMS_MAX_TOKEN_TABLE),
		      &size) < 0)
		return kvmon_error_prefix("kallsyms: token table");
	for (unsigned i = 0; i < 256; i++) {
		uint32_t off = (uint32_t)idx[2 * i] | (uint32_t)idx[2 * i + 1] << 8;
		const uint8_t *nul;

		if (off >= size)
			return kvmon_set_error(EPROTO, "kallsyms: token %u at %u "
					       "is outside the %zu-byte token "
					       "table", i, off, size);
		nul = memchr(t->table + off, 0, size - off);
		if (!nul)
			return kvmon_set_error(EPROTO, "kallsyms: token %u is "
					       "not terminated", i);
		t->off[i] = off;
		t->len[i] = (uint32_t)(nul - (t->table + off));
	}
	return 0;
}

/* ---------------------------------------------------------- names stream */

/* Pointer to the next n stream bytes (n <= NAMES_WINDOW), reading ahead. */
static const uint8_t *ns_peek(struct nstream *s, size_t n)
{
	size_t keep, want, got;

	if (n > s->limit - s->pos) {
		kvmon_set_error(EPROTO, "kallsyms: names stream runs past its "
				"end at offset %llu", (unsigned long long)s->pos);
		return NULL;
	}
	if (s->pos + n <= s->wpos + s->wlen)
		return s->buf + (s->pos - s->wpos);
	keep = (size_t)(s->wpos + s->wlen - s->pos);
	memmove(s->buf, s->buf + (s->pos - s->wpos), keep);
	s->wpos = s->pos;
	s->wlen = keep;
	want = NAMES_WINDOW - keep;
	if (want > s->limit - (s->wpos + keep))
		want = (size_t)(s->limit - (s->wpos + keep));
	if (read_upto(s->vm, s->base + s->wpos + keep, s->buf + keep, want,
		      &got) < 0) {
		kvmon_error_prefix("kallsyms: names at offset %llu",
				   (unsigned long long)(s->wpos + keep));
		return NULL;
	}
	s->wlen += got;
	if (s->wlen < n) {
		kvmon_set_error(EFAULT, "kallsyms: names unreadable at offset "
				"%llu", (unsigned long long)(s->wpos + s->wlen));
		return NULL;
	}
	return s->buf;
}

/* Compressed length: 1 byte, or 2 in ULEB128 style for "big" symbols. */
static int ns_length(struct nstream *s, size_t *len)
{
	const uint8_t *p = ns_peek(s, 1);

	if (!p)
		return -1;
	*len = p[0];
	s->pos++;
	if (!(*len & 0x80))
		return 0;
	if (!(p = ns_peek(s, 1)))
		return -1;
	*len = (*len & 0x7f) | (size_t)p[0] << 7;
	s->pos++;
	return 0;
}

/* Expand symbol i into out (NUL-terminated); returns its length. */
static int expand(struct nstream *s, const struct tokens *t, size_t i,
		  char out[KVMON_KSYM_NAME_LEN + 1], size_t *outlen)
{
	const uint8_t *p;
	size_t len, n = 0;

	if (ns_length(s, &len) < 0)
		return -1;
	if (len == 0)
		return kvmon_set_error(EPROTO, "kallsyms: symbol %zu is empty", i);
	/* Tokens are never empty in a real table: more tokens than
	 * characters allowed means an over-long name. */
	if (len > KVMON_KSYM_NAME_LEN)
		return kvmon_set_error(E2BIG, "kallsyms: symbol %zu has %zu "
				       "tokens (limit %d)", i, len,
				       KVMON_KSYM_NAME_LEN);
	if (!(p = ns_peek(s, len)))
		return -1;
	for (size_t j = 0; j < len; j++) {
		uint32_t tl = t->len[p[j]];

		if (tl > KVMON_KSYM_NAME_LEN - n)
			return kvmon_set_error(E2BIG, "kallsyms: symbol %zu "
					       "longer than %d bytes", i,
					       KVMON_KSYM_NAME_LEN);
		memcpy(out + n, t->table + t->off[p[j]], tl);
		n += tl;
	}
	s->pos += len;
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* Type char plus a non-empty name of printable, non-space ASCII. */
static int check_name(const char *s, size_t n, size_t i)
{
	if (n < 2)
		return kvmon_set_error(EPROTO, "kallsyms: symbol %zu has no name",
				       i);
	for (size_t j = 0; j < n; j++)
		if (s[j] < 0x21 || s[j] > 0x7e)
			return kvmon_set_error(EPROTO, "kallsyms: symbol %zu: "
					       "byte 0x%02x in its name", i,
					       (unsigned)(unsigned char)s[j]);
	return 0;
}

static int arena_add(struct kvmon_kallsyms *k, const char *s, size_t n,
		     uint32_t *off)
{
	if (n + 1 > KVMON_KALLSYMS_MAX_ARENA - k->arena_len)
		return kvmon_set_error(E2BIG, "kallsyms: names exceed %u bytes",
				       KVMON_KALLSYMS_MAX_ARENA);
	if (k->arena_len + n + 1 > k->arena_cap) {
		size_t cap = k->arena_cap ? k->arena_cap : ARENA_INITIAL;
		char *p;

		while (cap < k->arena_len + n + 1)
			cap *= 2;
		if (cap > KVMON_KALLSYMS_MAX_ARENA)
			cap = KVMON_KALLSYMS_MAX_ARENA;
		p = realloc(k->s.arena, cap);
		if (!p)
			return kvmon_set_error(ENOMEM, "out of memory");
		k->s.arena = p;
		k->arena_cap = cap;
	}
	memcpy(k->s.arena + k->arena_len, s, n);
	k->s.arena[k->arena_len + n] = '\0';
	*off = (uint32_t)k->arena_len;
	k->arena_len += n + 1;
	return 0;
}

static int load_names(const struct kvmon_virtmem *vm,
		      const struct kvmon_kallsyms_addrs *a,
		      const struct tokens *t, struct kvmon_kallsyms *k)
{
	struct nstream s = {
		.vm = vm,
		.base = a->names,
		.limit = extent(a->names, a, KVMON_KALLSYMS_MAX_NAMES),
	};
	char name[KVMON_KSYM_NAME_LEN + 1];
	int ret = 0;

	s.buf = malloc(NAMES_WINDOW);
	if (!s.buf)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < k->s.n && ret == 0; i++) {
		size_t n = 0;

		ret = expand(&s, t, i, name, &n);
		if (ret == 0)
			ret = check_name(name, n, i);
		if (ret == 0) {
			k->s.type[i] = name[0];
			ret = arena_add(k, name + 1, n - 1, &k->s.name[i]);
		}
	}
	free(s.buf);
	return ret;
}

/* ------------------------------------------------------------ addresses */

static uint64_t sym_address(uint32_t raw, uint64_t relative_base)
{
	/* ABSOLUTE_PERCPU: non-negative offsets are absolute values. */
	if (!(raw & 0x80000000u))
		return raw;
	/* relative_base - 1 - (s32)raw, with -(s32)raw = 2^32 - raw. */
	return relative_base - 1 + ((1ull << 32) - raw);
}

static int load_addresses(const struct kvmon_virtmem *vm,
			  const struct kvmon_kallsyms_addrs *a,
			  struct kvmon_kallsyms *k)
{
	uint8_t base[8] = { 0 }, *buf;
	uint64_t rb;
	size_t per = OFFSETS_CHUNK / 4;

	if (vread(vm, a->relative_base, base, sizeof(base)) < 0)
		return kvmon_error_prefix("kallsyms: relative base");
	rb = le64(base);
	buf = malloc(OFFSETS_CHUNK);
	if (!buf)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < k->s.n; i += per) {
		size_t cnt = k->s.n - i < per ? k->s.n - i : per;

		if (vread(vm, a->offsets + 4 * (uint64_t)i, buf, 4 * cnt) < 0) {
			free(buf);
			return kvmon_error_prefix("kallsyms: offsets");
		}
		for (size_t j = 0; j < cnt; j++)
			k->s.addr[i + j] = sym_address(le32(buf + 4 * j), rb);
	}
	free(buf);
	return 0;
}

/* ----------------------------------------------------------------- load */

static int check_addrs(const struct kvmon_kallsyms_addrs *a)
{
	if (!a->names || !a->num_syms || !a->token_table || !a->token_index ||
	    !a->offsets || !a->relative_base)
		return kvmon_set_error(EINVAL, "kallsyms: table address missing");
	return 0;
}

static int read_count(const struct kvmon_virtmem *vm,
		      const struct kvmon_kallsyms_addrs *a, size_t *n)
{
	uint8_t b[4] = { 0 };
	uint32_t num;

	if (vread(vm, a->num_syms, b, sizeof(b)) < 0)
		return kvmon_error_prefix("kallsyms: num_syms");
	num = le32(b);
	if (num == 0)
		return kvmon_set_error(EPROTO, "kallsyms: no symbols");
	if (num > KVMON_KALLSYMS_MAX_SYMS)
		return kvmon_set_error(E2BIG, "kallsyms: %u symbols (limit %u)",
				       num, KVMON_KALLSYMS_MAX_SYMS);
	*n = num;
	return 0;
}

static int alloc_arrays(struct kvmon_kallsyms *k)
{
	k->s.addr = malloc(k->s.n * sizeof(*k->s.addr));
	k->s.name = malloc(k->s.n * sizeof(*k->s.name));
	k->s.type = malloc(k->s.n);
	if (!k->s.addr || !k->s.name || !k->s.type)
		return kvmon_set_error(ENOMEM, "out of memory");
	return 0;
}

struct kvmon_kallsyms *kvmon_kallsyms_load(const struct kvmon_virtmem *vm,
					   const struct kvmon_kallsyms_addrs *a)
{
	struct kvmon_kallsyms *k = calloc(1, sizeof(*k));
	struct tokens *t = malloc(sizeof(*t));

	if (k)
		k->s.what = "kallsyms";
	if (!k || !t) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto fail;
	}
	if (check_addrs(a) < 0 || read_count(vm, a, &k->s.n) < 0 ||
	    load_tokens(vm, a, t) < 0 || alloc_arrays(k) < 0 ||
	    load_addresses(vm, a, k) < 0 || load_names(vm, a, t, k) < 0)
		goto fail;
	if (kvmon_symtab_index(&k->s) < 0)
		goto fail;
	free(t);
	return k;
fail:
	free(t);
	kvmon_kallsyms_free(k);
	return NULL;
}

void kvmon_kallsyms_free(struct kvmon_kallsyms *k)
{
	if (!k)
		return;
	kvmon_symtab_release(&k->s);
	free(k);
}

/* -------------------------------------------------------------- queries */

size_t kvmon_kallsyms_count(const struct kvmon_kallsyms *k)
{
	return k->s.n;
}

int kvmon_kallsyms_get(const struct kvmon_kallsyms *k, size_t i,
		       const char **name, char *type, uint64_t *addr)
{
	return kvmon_symtab_get(&k->s, i, name, type, addr);
}

int kvmon_kallsyms_lookup(const struct kvmon_kallsyms *k, const char *name,
			  uint64_t *addr)
{
	size_t i;

	if (kvmon_symtab_find(&k->s, name, &i) < 0)
		return -1;
	if (addr)
		*addr = k->s.addr[i];
	return 0;
}

int kvmon_kallsyms_resolve(const struct kvmon_kallsyms *k, uint64_t addr,
			   const char **name, uint64_t *offset)
{
	return kvmon_symtab_resolve(&k->s, addr, name, offset);
}

/* ------------------------------------------------------------ vmcoreinfo */

int kvmon_kallsyms_addrs_from_vmcoreinfo(const struct kvmon_vmcoreinfo *v,
					 struct kvmon_kallsyms_addrs *a)
{
	memset(a, 0, sizeof(*a));
	if (kvmon_vmcoreinfo_symbol(v, "kallsyms_names", &a->names) < 0 ||
	    kvmon_vmcoreinfo_symbol(v, "kallsyms_num_syms", &a->num_syms) < 0 ||
	    kvmon_vmcoreinfo_symbol(v, "kallsyms_token_table",
				    &a->token_table) < 0 ||
	    kvmon_vmcoreinfo_symbol(v, "kallsyms_token_index",
				    &a->token_index) < 0 ||
	    kvmon_vmcoreinfo_symbol(v, "kallsyms_offsets", &a->offsets) < 0 ||
	    kvmon_vmcoreinfo_symbol(v, "kallsyms_relative_base",
				    &a->relative_base) < 0)
		return -1;
	if (kvmon_vmcoreinfo_symbol(v, "kallsyms_markers", &a->markers) < 0)
		a->markers = 0; /* optional: only a bound for the names */
	return 0;
}
