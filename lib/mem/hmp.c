/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parsers of the HMP replies the memory backends use: gpa2hva (process
 * backend), xp (qmp backend), gva2gpa (baseline translation). QEMU may be
 * compromised, so these are pure functions over (text, len) that never read
 * past len, accept only the exact shapes QEMU 7.x/8.x print and fail with
 * EPROTO on anything else. Fuzzed (fuzz/fuzz_hmp.c).
 */
#include "mem_internal.h"

#include <errno.h>
#include <string.h>

/* Hex digits after the caller consumed "0x"; 1..16 digits. */
static bool starts(const char *p, const char *end, const char *s)
{
	return kvmon_parse_lit(&p, end, s);
}

/* End of the line starting at p (before "\r\n" / "\n"), and the next. */
static const char *line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *le = nl ? nl : end;

	*next = nl ? nl + 1 : end;
	if (le > p && le[-1] == '\r')
		le--;
	return le;
}

static bool blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n' && *p != ' ')
			return false;
	return true;
}

void kvmon_mem_excerpt(const char *text, size_t len, char *out, size_t size)
{
	size_t o = 0, i = 0;

	if (size == 0)
		return;
	/* Leave room for "..." and the NUL. */
	for (; text && i < len && o + 4 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\r' || c == '\n') {
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
			continue;
		}
		out[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	if (text && i < len && o + 3 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int proto(const char *what, const char *text, size_t len)
{
	char ex[96];

	kvmon_mem_excerpt(text, len, ex, sizeof(ex));
	return kvmon_set_error(EPROTO, "HMP %s: unexpected reply \"%s\"", what, ex);
}

int kvmon_parse_gpa2hva(const char *text, size_t len, uint64_t gpa,
			char *block, size_t block_size, uint64_t *hva)
{
	const char *p = text, *end = text + len, *le, *next, *name, *q;
	uint64_t echo, v;
	size_t nlen;

	if (!text || !block || block_size == 0 || !hva)
		return kvmon_set_error(EINVAL, "gpa2hva: bad arguments");
	block[0] = '\0';
	le = line_end(p, end, &next);
	if (!blank(next, end))
		return proto("gpa2hva", text, len);
	if (starts(p, le, "No memory is mapped at address "))
		return kvmon_set_error(EFAULT, "guest-physical 0x%llx is not "
				       "mapped in QEMU", (unsigned long long)gpa);
	if (!kvmon_parse_lit(&p, le, "Host virtual address for 0x") || !kvmon_parse_hex(&p, le, &echo) ||
	    echo != gpa || !kvmon_parse_lit(&p, le, " ("))
		return proto("gpa2hva", text, len);
	/* The block name ends at the last ") is 0x" of the line. */
	name = p;
	q = NULL;
	for (const char *s = p; s + 7 <= le; s++)
		if (!memcmp(s, ") is 0x", 7))
			q = s;
	if (!q)
		return proto("gpa2hva", text, len);
	nlen = (size_t)(q - name);
	if (nlen == 0 || nlen >= block_size)
		return proto("gpa2hva", text, len);
	for (size_t i = 0; i < nlen; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return proto("gpa2hva", text, len);
	p = q + 7;
	if (!kvmon_parse_hex(&p, le, &v) || p != le || v == 0)
		return proto("gpa2hva", text, len);
	memcpy(block, name, nlen);
	block[nlen] = '\0';
	*hva = v;
	return 0;
}

int kvmon_parse_xp(const char *text, size_t len, uint64_t addr,
		   uint64_t *words, size_t nwords)
{
	const char *p = text, *end = text + len;
	size_t n = 0;

	if (!text || (!words && nwords))
		return kvmon_set_error(EINVAL, "xp: bad arguments");
	while (p < end) {
		const char *next, *le = line_end(p, end, &next);
		uint64_t at;

		if (le == p) {
			p = next;
			continue;
		}
		/* "%016x:" — exactly the address of the next word. */
		if (le - p < 17 || !kvmon_parse_hex(&p, p + 16, &at) || !kvmon_parse_lit(&p, le, ":"))
			return proto("xp", text, len);
		if (n > (UINT64_MAX - addr) / 8 || at != addr + 8 * n)
			return proto("xp", text, len);
		if (p == le)
			return proto("xp", text, len);
		while (p < le) {
			uint64_t w;

			/* QEMU reads a line at once and says so after the
			 * address; accept it after words too. */
			if (starts(p, le, " Cannot access memory"))
				return kvmon_set_error(EFAULT, "xp: QEMU cannot "
						       "read guest-physical "
						       "0x%llx",
						       (unsigned long long)(addr + 8 * n));

			if (!kvmon_parse_lit(&p, le, " 0x") || !kvmon_parse_hex(&p, le, &w) ||
			    n >= nwords || n > (UINT64_MAX - addr) / 8)
				return proto("xp", text, len);
			words[n++] = w;
		}
		p = next;
	}
	if (n != nwords)
		return proto("xp", text, len);
	return 0;
}

int kvmon_parse_gva2gpa(const char *text, size_t len, uint64_t *gpa)
{
	const char *p = text, *end = text + len, *le, *next;
	uint64_t v;

	if (!text || !gpa)
		return kvmon_set_error(EINVAL, "gva2gpa: bad arguments");
	le = line_end(p, end, &next);
	if (!blank(next, end))
		return proto("gva2gpa", text, len);
	if (le - p == 8 && !memcmp(p, "Unmapped", 8))
		return kvmon_set_error(EFAULT, "gva2gpa: address is unmapped");
	if (!kvmon_parse_lit(&p, le, "gpa: 0x") || !kvmon_parse_hex(&p, le, &v) || p != le)
		return proto("gva2gpa", text, len);
	*gpa = v;
	return 0;
}
