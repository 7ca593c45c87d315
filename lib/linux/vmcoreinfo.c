/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VMCOREINFO note: find it in guest RAM and parse its KEY=VALUE text.
 *
 * The kernel (kernel/crash_core.c) keeps the note in a zeroed page as
 *   Elf64_Nhdr{namesz 11, descsz N, type 0} "VMCOREINFO\0" <pad to 12>
 *   "OSRELEASE=...\nPAGESIZE=4096\n...SYMBOL(x)=hex\nNUMBER(y)=dec\n..."
 * Every byte of it is guest-controlled, so the parser only splits lines;
 * values are checked by the typed getters when they are asked for.
 */
#define _GNU_SOURCE
#include "linux/vmcoreinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vi_entry {
	const char *key;
	const char *val;
};

struct kvmon_vmcoreinfo {
	char *buf;		/* copy of the text, split in place */
	struct vi_entry *ent;	/* in text order: first match wins */
	size_t n;
};

/* ---------------------------------------------------------------- parse */

static bool key_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return false;
	return true;
}

/* Values are printable ASCII: anything else is not what the kernel wrote. */
static bool value_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/* Split one line [p, le) in place; true if it became an entry. */
static bool parse_line(char *p, char *le, struct vi_entry *e)
{
	char *eq;

	if (le > p && le[-1] == '\r')
		le--;
	eq = memchr(p, '=', (size_t)(le - p));
	if (!eq || !key_ok(p, (size_t)(eq - p)) ||
	    !value_ok(eq + 1, (size_t)(le - eq - 1)))
		return false;
	*eq = '\0';
	*le = '\0';
	e->key = p;
	e->val = eq + 1;
	return true;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 1;

	if (len == 0)
		return n;
	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text)));
	     p++)
		n++;
	return n;
}

struct kvmon_vmcoreinfo *kvmon_vmcoreinfo_parse(const char *text, size_t len)
{
	struct kvmon_vmcoreinfo *v;
	char *p, *end;

	if (len > KVMON_VMCOREINFO_MAX_TEXT) {
		kvmon_set_error(E2BIG, "vmcoreinfo: text of %zu bytes exceeds %u",
				len, KVMON_VMCOREINFO_MAX_TEXT);
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v || !(v->buf = malloc(len + 1)) ||
	    !(v->ent = calloc(count_lines(text, len), sizeof(*v->ent)))) {
		kvmon_vmcoreinfo_free(v);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	if (len)
		memcpy(v->buf, text, len);
	v->buf[len] = '\0';
	for (p = v->buf, end = v->buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;

		if (parse_line(p, le, &v->ent[v->n]))
			v->n++;
		p = le + 1;
	}
	if (v->n == 0) {
		kvmon_vmcoreinfo_free(v);
		kvmon_set_error(EPROTO, "vmcoreinfo: no KEY=VALUE line");
		return NULL;
	}
	return v;
}

void kvmon_vmcoreinfo_free(struct kvmon_vmcoreinfo *v)
{
	if (!v)
		return;
	free(v->ent);
	free(v->buf);
	free(v);
}

const char *kvmon_vmcoreinfo_get(const struct kvmon_vmcoreinfo *v,
				 const char *key)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->ent[i].key, key))
			return v->ent[i].val;
	return NULL;
}

/* -------------------------------------------------------------- getters */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Whole string as hex ("%lx", an optional 0x tolerated); no overflow. */
static bool parse_hex(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!*s)
		return false;
	for (; *s; s++) {
		int d = hex_digit(*s);

		if (d < 0 || v >> 60)
			return false;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return true;
}

/* Whole string as unsigned decimal, at most max. */
static bool parse_udec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9' || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool parse_sdec(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	uint64_t m;

	if (!parse_udec(s + neg, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &m))
		return false;
	/* -(2^63) has no positive counterpart: negate in unsigned. */
	*out = neg ? (int64_t)(0 - m) : (int64_t)m;
	return true;
}

/* Value of "<kind>(<name>)", or NULL with the error set. */
static const char *lookup(const struct kvmon_vmcoreinfo *v, const char *kind,
			  const char *name)
{
	char key[256];
	const char *val;
	int n = snprintf(key, sizeof(key), "%s(%s)", kind, name);

	if (n < 0 || (size_t)n >= sizeof(key)) {
		kvmon_set_error(ENAMETOOLONG, "vmcoreinfo: name too long");
		return NULL;
	}
	val = kvmon_vmcoreinfo_get(v, key);
	if (!val)
		kvmon_set_error(ENOENT, "vmcoreinfo: no %s", key);
	return val;
}

static int bad_value(const char *kind, const char *name, const char *val)
{
	return kvmon_set_error(EPROTO, "vmcoreinfo: bad value for %s(%s): "
			       "\"%.32s\"", kind, name, val);
}

int kvmon_vmcoreinfo_symbol(const struct kvmon_vmcoreinfo *v, const char *name,
			    uint64_t *addr)
{
	const char *val = lookup(v, "SYMBOL", name);

	if (!val)
		return -1;
	if (!parse_hex(val, addr))
		return bad_value("SYMBOL", name, val);
	return 0;
}

int kvmon_vmcoreinfo_number(const struct kvmon_vmcoreinfo *v, const char *name,
			    int64_t *out)
{
	const char *val = lookup(v, "NUMBER", name);

	if (!val)
		return -1;
	if (!parse_sdec(val, out))
		return bad_value("NUMBER", name, val);
	return 0;
}

static int get_udec(const struct kvmon_vmcoreinfo *v, const char *kind,
		    const char *name, uint64_t *out)
{
	const char *val = lookup(v, kind, name);

	if (!val)
		return -1;
	if (!parse_udec(val, UINT64_MAX, out))
		return bad_value(kind, name, val);
	return 0;
}

int kvmon_vmcoreinfo_offset(const struct kvmon_vmcoreinfo *v, const char *name,
			    uint64_t *val)
{
	return get_udec(v, "OFFSET", name, val);
}

int kvmon_vmcoreinfo_size(const struct kvmon_vmcoreinfo *v, const char *name,
			  uint64_t *val)
{
	return get_udec(v, "SIZE", name, val);
}

int kvmon_vmcoreinfo_length(const struct kvmon_vmcoreinfo *v, const char *name,
			    uint64_t *val)
{
	return get_udec(v, "LENGTH", name, val);
}

int kvmon_vmcoreinfo_kernel_offset(const struct kvmon_vmcoreinfo *v,
				   uint64_t *off)
{
	const char *val = kvmon_vmcoreinfo_get(v, "KERNELOFFSET");

	if (!val)
		return kvmon_set_error(ENOENT, "vmcoreinfo: no KERNELOFFSET");
	if (!parse_hex(val, off))
		return kvmon_set_error(EPROTO, "vmcoreinfo: bad KERNELOFFSET "
				       "\"%.32s\"", val);
	return 0;
}

/* ----------------------------------------------------------------- find */

#define SCAN_CHUNK (1u << 20)
#define SCAN_SUB (64u << 10)	/* retry granule when a chunk has a hole */
#define NOTE_HDR 24		/* Elf64_Nhdr + "VMCOREINFO\0" + pad */
#define PAGE 4096u

static const char needle[] = "OSRELEASE=";
#define NEEDLE_LEN (sizeof(needle) - 1)
/* Bytes kept from the previous block: a needle across the edge, and the
 * header before a needle at the very start of a block. */
#define CARRY (NOTE_HDR + NEEDLE_LEN - 1)

struct scan {
	const struct kvmon_physmem *pm;
	uint64_t ram_end;
	uint8_t *buf;		/* CARRY + one chunk */
	size_t carry;		/* valid bytes before the current block */
	struct kvmon_vmcoreinfo *best;
	uint64_t best_gpa;
	bool aligned;		/* best is page-aligned: stop scanning */
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static bool header_ok(const uint8_t *h, uint64_t gpa, uint64_t ram_end)
{
	uint32_t descsz = le32(h + 4);

	return le32(h) == 11 && le32(h + 8) == 0 &&
	       !memcmp(h + 12, "VMCOREINFO", 11) && descsz >= NEEDLE_LEN &&
	       descsz < KVMON_VMCOREINFO_MAX_TEXT &&
	       gpa + NOTE_HDR + descsz <= ram_end;
}

/* Validate a header at gpa (bytes h) and parse its text if it is one. */
static void try_note(struct scan *s, uint64_t gpa, const uint8_t *h)
{
	struct kvmon_vmcoreinfo *v;
	uint32_t descsz;
	char *text;

	if (!header_ok(h, gpa, s->ram_end))
		return;
	if (s->best && gpa % PAGE != 0)
		return; /* an earlier unaligned note already holds the place */
	descsz = le32(h + 4);
	text = malloc(descsz);
	if (!text)
		return;
	if (kvmon_phys_read(s->pm, gpa + NOTE_HDR, text, descsz) < 0 ||
	    memcmp(text, needle, NEEDLE_LEN) != 0) {
		free(text);
		return;
	}
	v = kvmon_vmcoreinfo_parse(text, descsz);
	free(text);
	if (!v || !kvmon_vmcoreinfo_get(v, "OSRELEASE")) {
		kvmon_vmcoreinfo_free(v);
		return;
	}
	kvmon_vmcoreinfo_free(s->best);
	s->best = v;
	s->best_gpa = gpa;
	s->aligned = gpa % PAGE == 0;
}

/* Check every needle in buf[0, n); buf[0] is at buf_gpa. */
static void search(struct scan *s, uint64_t buf_gpa, size_t n)
{
	const uint8_t *b = s->buf, *p = b;

	while (!s->aligned &&
	       (p = memmem(p, n - (size_t)(p - b), needle, NEEDLE_LEN))) {
		size_t h = (size_t)(p - b);
		uint64_t gpa = buf_gpa + h;
		uint8_t hdr[NOTE_HDR];

		p++;
		/* Wholly inside the carry: seen with the previous block. */
		if (h + NEEDLE_LEN <= s->carry || gpa < NOTE_HDR)
			continue;
		if (h >= NOTE_HDR)
			try_note(s, gpa - NOTE_HDR, b + h - NOTE_HDR);
		else if (kvmon_phys_read(s->pm, gpa - NOTE_HDR, hdr,
					 sizeof(hdr)) == 0)
			try_note(s, gpa - NOTE_HDR, hdr);
	}
}

/* Scan [base, base + len); -1 if unreadable (the carry is left intact). */
static int scan_block(struct scan *s, uint64_t base, size_t len)
{
	size_t n, keep;

	if (kvmon_phys_read(s->pm, base, s->buf + s->carry, len) < 0)
		return -1;
	n = s->carry + len;
	search(s, base - s->carry, n);
	keep = n < CARRY ? n : CARRY;
	memmove(s->buf, s->buf + n - keep, keep);
	s->carry = keep;
	return 0;
}

static void scan_chunk(struct scan *s, uint64_t base, size_t len)
{
	if (scan_block(s, base, len) == 0)
		return;
	/* A hole somewhere inside: salvage the readable parts. The carry
	 * stays valid up to the first unreadable piece. */
	for (size_t off = 0; off < len && !s->aligned; off += SCAN_SUB)
		if (scan_block(s, base + off, len - off < SCAN_SUB
						      ? len - off
						      : SCAN_SUB) < 0)
			s->carry = 0;
}

struct kvmon_vmcoreinfo *kvmon_vmcoreinfo_find(const struct kvmon_physmem *pm,
					       uint64_t ram_end,
					       uint64_t *note_gpa)
{
	struct scan s = { .pm = pm, .ram_end = ram_end };

	if (ram_end > KVMON_VMCOREINFO_MAX_SCAN) {
		kvmon_set_error(EINVAL, "vmcoreinfo: RAM end 0x%llx beyond the "
				"1 TiB scan limit", (unsigned long long)ram_end);
		return NULL;
	}
	s.buf = malloc(CARRY + (ram_end < SCAN_CHUNK ? (size_t)ram_end
						     : SCAN_CHUNK));
	if (!s.buf) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	for (uint64_t base = 0; base < ram_end && !s.aligned;
	     base += SCAN_CHUNK)
		scan_chunk(&s, base, ram_end - base < SCAN_CHUNK
					     ? (size_t)(ram_end - base)
					     : SCAN_CHUNK);
	free(s.buf);
	if (!s.best) {
		kvmon_set_error(ENOENT, "vmcoreinfo: no VMCOREINFO note in "
				"0x0-0x%llx", (unsigned long long)ram_end);
		return NULL;
	}
	if (note_gpa)
		*note_gpa = s.best_gpa;
	return s.best;
}
