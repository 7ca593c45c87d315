// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parser for a documented subset of Snort rule syntax (docs/network.md):
 *   action proto src_addr src_port (->|<>) dst_addr dst_port (options)
 * options: msg, content (with |hex| and \ escapes), nocase, offset, depth,
 * sid, rev; classtype/priority/reference/metadata are accepted and ignored.
 * Anything else is refused with the line number, not silently skipped:
 * a rule that means less than it says would miss attacks.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 65536u

struct ps {
	const char *p, *end;
	unsigned line;
};

static void skip_ws(struct ps *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
		s->p++;
}

/* Next whitespace-delimited token into buf. */
static int token(struct ps *s, char *buf, size_t cap)
{
	size_t n = 0;

	skip_ws(s);
	while (s->p < s->end && !isspace((unsigned char)*s->p) && *s->p != '(') {
		if (n + 1 >= cap)
			return -1;
		buf[n++] = *s->p++;
	}
	buf[n] = '\0';
	return n ? 0 : -1;
}

static int parse_addr(const char *t, struct rule_addr *a)
{
	char buf[64], *slash;

	memset(a, 0, sizeof(*a));
	if (*t == '!') {
		a->neg = true;
		t++;
	}
	if (!strcmp(t, "any")) {
		a->any = true;
		return a->neg ? -1 : 0;
	}
	if (strlen(t) >= sizeof(buf))
		return -1;
	strcpy(buf, t);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, a->addr) == 1) {
		a->ver = 4;
		a->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, a->addr) == 1) {
		a->ver = 6;
		a->prefix = 128;
	} else {
		return -1;
	}
	if (slash) {
		char *e;
		unsigned long v = strtoul(slash, &e, 10);

		if (*e || !*slash || v > a->prefix)
			return -1;
		a->prefix = (unsigned)v;
	}
	return 0;
}

static int parse_port_num(const char *t, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)t[i]))
			return -1;
		v = v * 10 + (unsigned)(t[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int parse_ports(const char *t, struct rule_ports *p)
{
	const char *colon;

	memset(p, 0, sizeof(*p));
	if (*t == '!') {
		p->neg = true;
		t++;
	}
	if (!strcmp(t, "any")) {
		p->any = true;
		return p->neg ? -1 : 0;
	}
	colon = strchr(t, ':');
	if (!colon) {
		if (parse_port_num(t, strlen(t), &p->lo) < 0)
			return -1;
		p->hi = p->lo;
		return 0;
	}
	p->lo = 0;
	p->hi = 65535;
	if (colon > t && parse_port_num(t, (size_t)(colon - t), &p->lo) < 0)
		return -1;
	if (colon[1] && parse_port_num(colon + 1, strlen(colon + 1), &p->hi) < 0)
		return -1;
	return p->lo <= p->hi ? 0 : -1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* content value: "text|41 42|text" with \" \\ \; \| escapes. */
static int parse_content(const char *v, size_t n, struct rule_content *c)
{
	uint8_t *out = malloc(n + 1);
	size_t o = 0, i = 0;
	bool hex = false;

	if (!out)
		return -1;
	while (i < n) {
		char ch = v[i];

		if (hex) {
			if (ch == '|') {
				hex = false;
				i++;
			} else if (ch == ' ') {
				i++;
			} else if (i + 1 < n && hexval(ch) >= 0 && hexval(v[i + 1]) >= 0) {
				out[o++] = (uint8_t)(hexval(ch) << 4 | hexval(v[i + 1]));
				i += 2;
			} else {
				goto bad;
			}
		} else if (ch == '|') {
			hex = true;
			i++;
		} else if (ch == '\\') {
			if (i + 1 >= n || !strchr("\"\\;|:", v[i + 1]))
				goto bad;
			out[o++] = (uint8_t)v[i + 1];
			i += 2;
		} else {
			if (ch == '"' || ch == ';')
				goto bad;
			out[o++] = (uint8_t)ch;
			i++;
		}
	}
	if (hex || o == 0 || o > RULE_MAX_CONTENT)
		goto bad;
	c->bytes = out;
	c->len = o;
	return 0;
bad:
	free(out);
	return -1;
}

static int parse_u32(const char *v, size_t n, uint32_t *out)
{
	unsigned long long x = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	if (x > UINT32_MAX)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static void rule_clear(struct rule *ru)
{
	for (size_t i = 0; i < ru->ncontents; i++)
		free(ru->contents[i].bytes);
	free(ru->contents);
	free(ru->msg);
	memset(ru, 0, sizeof(*ru));
}

#define FAIL(fmt, ...) do { kvmon_set_error(EINVAL, "rules line %u: " fmt, s->line, ##__VA_ARGS__); goto fail; } while (0)

/* Options between the parentheses; s->p just after '('. */
static int parse_options(struct ps *s, struct rule *ru, const char *lend)
{
	bool have_sid = false;

	for (;;) {
		const char *name, *val = NULL;
		size_t nlen, vlen = 0;

		while (s->p < lend && isspace((unsigned char)*s->p))
			s->p++;
		if (s->p < lend && *s->p == ')') {
			s->p++;
			break;
		}
		name = s->p;
		while (s->p < lend && (isalnum((unsigned char)*s->p) || *s->p == '_'))
			s->p++;
		nlen = (size_t)(s->p - name);
		while (s->p < lend && *s->p == ' ')
			s->p++;
		if (s->p < lend && *s->p == ':') {
			s->p++;
			while (s->p < lend && *s->p == ' ')
				s->p++;
			bool quoted = s->p < lend && *s->p == '"';

			if (quoted)
				s->p++;
			val = s->p;
			while (s->p < lend) {
				if (*s->p == '\\' && s->p + 1 < lend) {
					s->p += 2;
					continue;
				}
				if (quoted ? *s->p == '"' : *s->p == ';')
					break;
				s->p++;
			}
			if (s->p >= lend)
				FAIL("unterminated option value");
			vlen = (size_t)(s->p - val);
			if (quoted)
				s->p++;
			while (s->p < lend && *s->p == ' ')
				s->p++;
			while (!quoted && vlen && val[vlen - 1] == ' ')
				vlen--;
		}
		if (s->p >= lend || *s->p != ';')
			FAIL("expected ';' after option '%.*s'", (int)(nlen > 32 ? 32 : nlen), name);
		s->p++;
		struct rule_content *last = ru->ncontents ? &ru->contents[ru->ncontents - 1] : NULL;

#define IS(lit) (nlen == sizeof(lit) - 1 && !memcmp(name, lit, nlen))
		if (IS("msg")) {
			if (!val)
				FAIL("msg needs a value");
			free(ru->msg);
			ru->msg = strndup(val, vlen);
		} else if (IS("content")) {
			if (!val)
				FAIL("content needs a value");
			if (ru->ncontents >= RULE_MAX_CONTENTS)
				FAIL("more than %u content options", RULE_MAX_CONTENTS);
			if (!ru->contents)
				ru->contents = calloc(RULE_MAX_CONTENTS, sizeof(*ru->contents));
			if (!ru->contents)
				FAIL("out of memory");
			if (vlen && val[0] == '!')
				FAIL("negated content is not supported");
			if (parse_content(val, vlen, &ru->contents[ru->ncontents]) < 0)
				FAIL("bad content value (empty, > %u bytes, or bad |hex|/escape)",
				     RULE_MAX_CONTENT);
			ru->ncontents++;
		} else if (IS("nocase")) {
			if (!last)
				FAIL("nocase without a content");
			last->nocase = true;
		} else if (IS("offset") || IS("depth")) {
			uint32_t v;

			if (!last)
				FAIL("%.*s without a content", (int)nlen, name);
			if (!val || parse_u32(val, vlen, &v) < 0 || v > 65535)
				FAIL("%.*s takes 0..65535", (int)nlen, name);
			if (IS("offset"))
				last->offset = v;
			else if (v < last->len)
				FAIL("depth shorter than its content");
			else
				last->depth = v;
		} else if (IS("sid") || IS("rev")) {
			uint32_t v;

			if (!val || parse_u32(val, vlen, &v) < 0)
				FAIL("%.*s takes a number", (int)nlen, name);
			if (IS("sid")) {
				ru->sid = v;
				have_sid = true;
			} else {
				ru->rev = v;
			}
		} else if (IS("classtype") || IS("priority") || IS("reference") ||
			   IS("metadata")) {
			/* informational only */
		} else {
			FAIL("unsupported option '%.*s'", (int)(nlen > 32 ? 32 : nlen), name);
		}
#undef IS
	}
	if (!have_sid)
		FAIL("rule has no sid");
	return 0;
fail:
	return -1;
}

static int parse_rule(struct ps *s, const char *lend, struct rule *ru)
{
	char t[80];

	if (token(s, t, sizeof(t)) < 0)
		FAIL("missing action");
	if (strcmp(t, "alert") && strcmp(t, "log") && strcmp(t, "pass") &&
	    strcmp(t, "drop") && strcmp(t, "reject"))
		FAIL("unknown action '%s'", t);
	memcpy(ru->action, t, strlen(t) + 1); /* one of the names above */
	if (token(s, t, sizeof(t)) < 0)
		FAIL("missing protocol");
	if (!strcmp(t, "tcp"))
		ru->proto = 6;
	else if (!strcmp(t, "udp"))
		ru->proto = 17;
	else if (!strcmp(t, "icmp"))
		ru->proto = 1;
	else if (!strcmp(t, "ip"))
		ru->proto = 0;
	else
		FAIL("unknown protocol '%s' (tcp, udp, icmp, ip)", t);
	if (token(s, t, sizeof(t)) < 0 || parse_addr(t, &ru->src) < 0)
		FAIL("bad source address (any, IP or IP/prefix)");
	if (token(s, t, sizeof(t)) < 0 || parse_ports(t, &ru->sport) < 0)
		FAIL("bad source port (any, N, N:M)");
	if (token(s, t, sizeof(t)) < 0)
		FAIL("missing direction");
	if (!strcmp(t, "<>"))
		ru->bidir = true;
	else if (strcmp(t, "->"))
		FAIL("direction must be -> or <>");
	if (token(s, t, sizeof(t)) < 0 || parse_addr(t, &ru->dst) < 0)
		FAIL("bad destination address");
	if (token(s, t, sizeof(t)) < 0 || parse_ports(t, &ru->dport) < 0)
		FAIL("bad destination port");
	skip_ws(s);
	if (s->p >= lend || *s->p != '(')
		FAIL("missing '(' before options");
	s->p++;
	if (parse_options(s, ru, lend) < 0)
		return -1;
	skip_ws(s);
	if (s->p < lend && *s->p != '\r')
		FAIL("text after ')'");
	return 0;
fail:
	return -1;
}

struct kvmon_rules *kvmon_rules_parse(const char *text, size_t len)
{
	struct kvmon_rules *r = calloc(1, sizeof(*r));
	struct ps s = { text, text + len, 0 };

	if (!r) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	while (s.p < s.end) {
		const char *lend = memchr(s.p, '\n', (size_t)(s.end - s.p));

		if (!lend)
			lend = s.end;
		s.line++;
		struct ps ls = { s.p, lend, s.line };

		s.p = lend < s.end ? lend + 1 : lend;
		skip_ws(&ls);
		if (ls.p >= lend || *ls.p == '#' || *ls.p == '\r')
			continue;
		if (memchr(ls.p, '\0', (size_t)(lend - ls.p))) {
			kvmon_set_error(EINVAL, "rules line %u: NUL byte", ls.line);
			goto fail;
		}
		if (r->n >= RULES_MAX) {
			kvmon_set_error(E2BIG, "more than %u rules", RULES_MAX);
			goto fail;
		}
		if (r->n == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 64;
			struct rule *nr = realloc(r->rules, nc * sizeof(*nr));

			if (!nr) {
				kvmon_set_error(ENOMEM, "out of memory");
				goto fail;
			}
			r->rules = nr;
			r->cap = nc;
		}
		struct rule *ru = &r->rules[r->n];

		memset(ru, 0, sizeof(*ru));
		ls.end = lend;
		if (parse_rule(&ls, lend, ru) < 0) {
			rule_clear(ru);
			goto fail;
		}
		r->n++;
	}
	if (match_compile(r) < 0)
		goto fail;
	return r;
fail:
	kvmon_rules_free(r);
	return NULL;
}

size_t kvmon_rules_count(const struct kvmon_rules *r)
{
	return r->n;
}

void kvmon_rules_free(struct kvmon_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_clear(&r->rules[i]);
	free(r->rules);
	match_free(r->db);
	free(r);
}
