// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parser for a documented subset of Snort rule syntax (docs/network.md):
 *   action proto src_addr src_port (->|<>) dst_addr dst_port (options)
 * with address/port lists, negation and variables ($NAME from "var" lines or
 * the caller); options: msg, content (|hex|, \ escapes, negation), nocase,
 * offset, depth, distance, within, pcre (i s m x R), flow, sid, rev;
 * classtype/priority/reference/metadata are accepted and ignored.
 * Anything else is refused with the line number, not silently skipped:
 * a rule that means less than it says would miss attacks.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <pcre2.h>
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

static int parse_addr1(const char *t, size_t tl, bool neg, struct rule_addr *a)
{
	char buf[64], *slash;

	memset(a, 0, sizeof(*a));
	a->neg = neg;
	if (tl >= sizeof(buf))
		return -1;
	memcpy(buf, t, tl);
	buf[tl] = '\0';
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

static int parse_port1(const char *t, size_t tl, bool neg, struct rule_port *p);

/*
 * A Snort list: "x", "!x", "[x,y,!z]", nested "[[a,b],c]" as variables
 * expand. Lists are flattened; an item's negation is the parity of the
 * negations around it. One callback per item; "any" only on its own.
 */
typedef int (*item_fn)(void *opaque, const char *t, size_t tl, bool neg);

static int parse_list(const char *t, size_t tl, bool neg, int depth, item_fn fn, void *opaque)
{
	while (tl && *t == '!') {
		neg = !neg;
		t++;
		tl--;
	}
	if (depth > 8 || tl == 0)
		return -1;
	if (*t != '[')
		return fn(opaque, t, tl, neg);
	if (t[tl - 1] != ']')
		return -1;
	const char *p = t + 1, *end = t + tl - 1;

	while (p < end) {
		const char *q = p;
		int nest = 0;

		while (q < end && (nest || *q != ',')) { /* item ends at a top-level comma */
			nest += *q == '[' ? 1 : *q == ']' ? -1 : 0;
			if (nest < 0)
				return -1;
			q++;
		}
		if (nest || q == p || (q < end && q + 1 == end) ||
		    parse_list(p, (size_t)(q - p), neg, depth + 1, fn, opaque) < 0)
			return -1; /* unbalanced, or an empty item */
		p = q < end ? q + 1 : q;
	}
	return 0;
}

static int addr_item(void *opaque, const char *t, size_t tl, bool neg)
{
	struct rule_addrs *l = opaque;

	if (l->n >= RULE_MAX_LIST)
		return -1;
	return parse_addr1(t, tl, neg, &l->v[l->n++]);
}

static int port_item(void *opaque, const char *t, size_t tl, bool neg)
{
	struct rule_ports *l = opaque;

	if (l->n >= RULE_MAX_LIST)
		return -1;
	return parse_port1(t, tl, neg, &l->v[l->n++]);
}

static struct rule_addrs *parse_addrs(const char *t)
{
	struct rule_addrs *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	if (!strcmp(t, "any")) {
		l->any = true;
		return l;
	}
	if (parse_list(t, strlen(t), false, 0, addr_item, l) < 0 || l->n == 0) {
		free(l);
		return NULL;
	}
	return l;
}

static struct rule_ports *parse_portlist(const char *t)
{
	struct rule_ports *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	if (!strcmp(t, "any")) {
		l->any = true;
		return l;
	}
	if (parse_list(t, strlen(t), false, 0, port_item, l) < 0 || l->n == 0) {
		free(l);
		return NULL;
	}
	return l;
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

static int parse_port1(const char *t, size_t tl, bool neg, struct rule_port *p)
{
	const char *colon = memchr(t, ':', tl);

	memset(p, 0, sizeof(*p));
	p->neg = neg;
	if (!colon) {
		if (parse_port_num(t, tl, &p->lo) < 0)
			return -1;
		p->hi = p->lo;
		return 0;
	}
	p->lo = 0;
	p->hi = 65535;
	if (colon > t && parse_port_num(t, (size_t)(colon - t), &p->lo) < 0)
		return -1;
	if (colon + 1 < t + tl &&
	    parse_port_num(colon + 1, (size_t)(t + tl - colon - 1), &p->hi) < 0)
		return -1;
	return p->lo <= p->hi ? 0 : -1;
}

/* ------------------------------------------------------------ variables */

struct var {
	char name[64];
	char *value;
};

struct vars {
	struct var v[RULE_MAX_VARS];
	size_t n;
};

static int var_set(struct vars *vs, const char *name, size_t nl, const char *val, size_t vl)
{
	size_t i;

	if (nl == 0 || nl >= sizeof(vs->v[0].name) || vl == 0 || vl > 4000)
		return -1;
	for (size_t k = 0; k < nl; k++)
		if (!isalnum((unsigned char)name[k]) && name[k] != '_')
			return -1;
	for (i = 0; i < vs->n; i++)
		if (strlen(vs->v[i].name) == nl && !memcmp(vs->v[i].name, name, nl))
			break;
	if (i == vs->n) {
		if (vs->n >= RULE_MAX_VARS)
			return -1;
		memcpy(vs->v[i].name, name, nl);
		vs->v[i].name[nl] = '\0';
		vs->n++;
	}
	free(vs->v[i].value);
	vs->v[i].value = strndup(val, vl);
	return vs->v[i].value ? 0 : -1;
}

static void vars_clear(struct vars *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		free(vs->v[i].value);
	vs->n = 0;
}

/* Replace every $NAME in t (in place, cap bytes); values may themselves
 * hold variables, up to 8 levels. -1 naming the unknown variable. */
static int var_expand(const struct vars *vs, char *t, size_t cap, char *unknown, size_t ucap)
{
	for (int round = 0; round < 8; round++) {
		char *d = strchr(t, '$');

		if (!d)
			return 0;
		char out[4096];
		size_t o = 0;
		const char *p = t;

		while ((d = strchr(p, '$'))) {
			const char *n = d + 1, *e = n;
			size_t i;

			while (isalnum((unsigned char)*e) || *e == '_')
				e++;
			for (i = 0; i < vs->n; i++)
				if (strlen(vs->v[i].name) == (size_t)(e - n) &&
				    !memcmp(vs->v[i].name, n, (size_t)(e - n)))
					break;
			if (i == vs->n) {
				snprintf(unknown, ucap, "%.*s", (int)(e - n > 63 ? 63 : e - n), n);
				return -1;
			}
			size_t pre = (size_t)(d - p), vl = strlen(vs->v[i].value);

			if (o + pre + vl >= sizeof(out))
				return -1;
			memcpy(out + o, p, pre);
			memcpy(out + o + pre, vs->v[i].value, vl);
			o += pre + vl;
			p = e;
		}
		if (o + strlen(p) >= sizeof(out) || o + strlen(p) >= cap)
			return -1;
		strcpy(out + o, p);
		strcpy(t, out);
	}
	snprintf(unknown, ucap, "(nested too deep)");
	return -1;
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
	for (size_t i = 0; i < ru->ncontents; i++) {
		free(ru->contents[i].bytes);
		pcre2_code_free(ru->contents[i].re);
	}
	free(ru->contents);
	free(ru->msg);
	free(ru->src);
	free(ru->dst);
	free(ru->sport);
	free(ru->dport);
	memset(ru, 0, sizeof(*ru));
}

/* pcre:"/re/flags" with flags i s m x R; the regex is PCRE2 with match
 * limits at run time (verify.c), so it is checked exactly here. */
static int parse_pcre(const char *v, size_t n, struct rule_content *c, char *err, size_t ecap)
{
	const char *last;
	uint32_t opts = 0;
	int ec;
	PCRE2_SIZE eo;

	snprintf(err, ecap, "expected \"/regex/flags\"");
	if (n < 2 || v[0] != '/' || !(last = memrchr(v + 1, '/', n - 1)))
		return -1;
	for (const char *f = last + 1; f < v + n; f++) {
		switch (*f) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'R': c->relative = true; break;
		default:
			snprintf(err, ecap, "unsupported flag '%c' (i, s, m, x, R)", *f);
			return -1;
		}
	}
	size_t rl = (size_t)(last - v - 1), o = 0;
	char *src = malloc(rl + 1);

	if (!src || rl == 0 || rl > RULE_MAX_CONTENT) {
		free(src);
		snprintf(err, ecap, "empty or longer than %u bytes", RULE_MAX_CONTENT);
		return -1;
	}
	for (size_t i = 0; i < rl; i++) { /* only the rule syntax's \" is ours */
		if (v[1 + i] == '\\' && i + 1 < rl && v[2 + i] == '"')
			i++;
		src[o++] = v[1 + i];
	}
	src[o] = '\0';
	c->re = pcre2_compile((PCRE2_SPTR)src, o, opts | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP,
			      &ec, &eo, NULL);
	if (!c->re) {
		char msg[96];

		pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
		snprintf(err, ecap, "%s at offset %zu", msg, (size_t)eo);
		free(src);
		return -1;
	}
	c->bytes = (uint8_t *)src;
	c->len = o;
	c->nocase = opts & PCRE2_CASELESS;
	return 0;
}

static int parse_flow(const char *v, size_t n, unsigned *out)
{
	static const struct { const char *name; unsigned bit; } kw[] = {
		{ "to_server", FLOW_TO_SERVER }, { "from_client", FLOW_TO_SERVER },
		{ "to_client", FLOW_TO_CLIENT }, { "from_server", FLOW_TO_CLIENT },
		{ "established", FLOW_ESTABLISHED }, { "stateless", FLOW_STATELESS },
	};
	const char *p = v, *end = v + n;

	*out = 0;
	while (p < end) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		size_t i;

		if (!q)
			q = end;
		while (p < q && *p == ' ')
			p++;
		for (i = 0; i < ARRAY_SIZE(kw); i++)
			if (strlen(kw[i].name) == (size_t)(q - p) && !memcmp(kw[i].name, p, (size_t)(q - p)))
				break;
		if (i == ARRAY_SIZE(kw))
			return -1;
		*out |= kw[i].bit;
		p = q < end ? q + 1 : q;
	}
	if ((*out & FLOW_TO_SERVER) && (*out & FLOW_TO_CLIENT))
		return -1;
	return *out ? 0 : -1;
}

/* After parsing: nocase contents are kept lower-cased for the exact check,
 * and the rule is marked for it when the prefilter alone is not exact. */
static void rule_finish(struct rule *ru)
{
	for (size_t i = 0; i < ru->ncontents; i++) {
		struct rule_content *c = &ru->contents[i];

		if (c->nocase && !c->re)
			for (size_t k = 0; k < c->len; k++)
				c->bytes[k] = (uint8_t)tolower(c->bytes[k]);
		if (c->neg || c->relative || c->re)
			ru->verify = true;
	}
}

#define FAIL(fmt, ...) do { kvmon_set_error(EINVAL, "rules line %u: " fmt, s->line, ##__VA_ARGS__); goto fail; } while (0)

/* Options between the parentheses; s->p just after '('. */
static int parse_options(struct ps *s, struct rule *ru, const char *lend)
{
	bool have_sid = false;
	char err[128];

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
		bool vneg = false;

		if (s->p < lend && *s->p == ':') {
			s->p++;
			while (s->p < lend && *s->p == ' ')
				s->p++;
			if (s->p < lend && *s->p == '!') { /* content:!"x", pcre:!"..." */
				vneg = true;
				s->p++;
			}
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
		if (vneg && !IS("content") && !IS("pcre"))
			FAIL("'!' only negates content and pcre");
		if (IS("msg")) {
			if (!val)
				FAIL("msg needs a value");
			free(ru->msg);
			ru->msg = strndup(val, vlen);
		} else if (IS("content") || IS("pcre")) {
			if (!val)
				FAIL("%.*s needs a value", (int)nlen, name);
			if (ru->ncontents >= RULE_MAX_CONTENTS)
				FAIL("more than %u content/pcre options", RULE_MAX_CONTENTS);
			if (!ru->contents)
				ru->contents = calloc(RULE_MAX_CONTENTS, sizeof(*ru->contents));
			if (!ru->contents)
				FAIL("out of memory");
			struct rule_content *c = &ru->contents[ru->ncontents];

			if (IS("content") && parse_content(val, vlen, c) < 0)
				FAIL("bad content value (empty, > %u bytes, or bad |hex|/escape)",
				     RULE_MAX_CONTENT);
			if (IS("pcre") && parse_pcre(val, vlen, c, err, sizeof(err)) < 0)
				FAIL("bad pcre: %s", err);
			c->neg = vneg;
			ru->ncontents++;
		} else if (IS("nocase")) {
			if (!last || last->re)
				FAIL("nocase without a content");
			last->nocase = true;
		} else if (IS("offset") || IS("depth")) {
			uint32_t v;

			if (!last || last->re)
				FAIL("%.*s without a content", (int)nlen, name);
			if (!val || parse_u32(val, vlen, &v) < 0 || v > 65535)
				FAIL("%.*s takes 0..65535", (int)nlen, name);
			if (last->relative)
				FAIL("%.*s mixed with distance/within", (int)nlen, name);
			if (IS("offset"))
				last->offset = v;
			else if (v < last->len)
				FAIL("depth shorter than its content");
			else
				last->depth = v;
		} else if (IS("distance") || IS("within")) {
			uint32_t v;
			bool minus = IS("distance") && val && vlen > 1 && val[0] == '-';

			if (!last || last->re)
				FAIL("%.*s without a content", (int)nlen, name);
			if (!val || parse_u32(val + minus, vlen - minus, &v) < 0 || v > 65535)
				FAIL("%.*s takes %s0..65535", (int)nlen, name, IS("distance") ? "-65535.." : "");
			if (last->offset || last->depth)
				FAIL("%.*s mixed with offset/depth", (int)nlen, name);
			last->relative = true;
			if (IS("distance"))
				last->distance = minus ? -(int32_t)v : (int32_t)v;
			else if (v < last->len)
				FAIL("within shorter than its content");
			else
				last->within = v;
		} else if (IS("flow")) {
			if (!val || parse_flow(val, vlen, &ru->flow) < 0)
				FAIL("flow takes to_server, to_client, from_server, from_client, "
				     "established, stateless");
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
	rule_finish(ru);
	return 0;
fail:
	return -1;
}

/* Next header token with variables expanded. */
static int htoken(struct ps *s, const struct vars *vs, char *t, size_t cap)
{
	char unknown[80];

	if (token(s, t, cap) < 0)
		return -1;
	if (var_expand(vs, t, cap, unknown, sizeof(unknown)) < 0) {
		kvmon_set_error(EINVAL, "rules line %u: undefined or too long variable $%s",
				s->line, unknown);
		return -2;
	}
	return 0;
}

#define HTOK(what) do {				\
		int hr_ = htoken(s, vs, t, sizeof(t));	\
		if (hr_ == -2)				\
			goto fail;			\
		if (hr_ < 0)				\
			FAIL(what);			\
	} while (0)

static int parse_rule(struct ps *s, const char *lend, const struct vars *vs, struct rule *ru)
{
	char t[4096];

	if (token(s, t, sizeof(t)) < 0)
		FAIL("missing action");
	if (strcmp(t, "alert") && strcmp(t, "log") && strcmp(t, "pass") &&
	    strcmp(t, "drop") && strcmp(t, "reject"))
		FAIL("unknown action '%.32s'", t);
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
		FAIL("unknown protocol '%.32s' (tcp, udp, icmp, ip)", t);
	HTOK("missing source address");
	if (!(ru->src = parse_addrs(t)))
		FAIL("bad source address (any, IP, IP/prefix, !x, [list] of up to %u)", RULE_MAX_LIST);
	HTOK("missing source port");
	if (!(ru->sport = parse_portlist(t)))
		FAIL("bad source port (any, N, N:M, !x, [list])");
	if (token(s, t, sizeof(t)) < 0)
		FAIL("missing direction");
	if (!strcmp(t, "<>"))
		ru->bidir = true;
	else if (strcmp(t, "->"))
		FAIL("direction must be -> or <>");
	HTOK("missing destination address");
	if (!(ru->dst = parse_addrs(t)))
		FAIL("bad destination address");
	HTOK("missing destination port");
	if (!(ru->dport = parse_portlist(t)))
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

/* "var NAME VALUE" (also ipvar, portvar), Snort's way to name lists. */
static int parse_var_line(struct ps *s, struct vars *vs)
{
	char kw[16], name[80], val[4096];

	if (token(s, kw, sizeof(kw)) < 0 || token(s, name, sizeof(name)) < 0 ||
	    token(s, val, sizeof(val)) < 0 || var_set(vs, name, strlen(name), val, strlen(val)) < 0)
		return kvmon_set_error(EINVAL, "rules line %u: bad variable (var NAME VALUE, "
				       "at most %u)", s->line, RULE_MAX_VARS);
	skip_ws(s);
	if (s->p < s->end && *s->p != '\r')
		return kvmon_set_error(EINVAL, "rules line %u: text after the variable's value",
				       s->line);
	return 0;
}

static bool is_var_line(const struct ps *s)
{
	static const char *const kws[] = { "var ", "ipvar ", "portvar " };

	for (size_t i = 0; i < ARRAY_SIZE(kws); i++) {
		size_t l = strlen(kws[i]);

		if ((size_t)(s->end - s->p) > l && !memcmp(s->p, kws[i], l))
			return true;
	}
	return false;
}

static int add_rule_line(struct kvmon_rules *r, struct ps *ls, const char *lend,
			 const struct vars *vs)
{
	if (r->n >= RULES_MAX)
		return kvmon_set_error(E2BIG, "more than %u rules", RULES_MAX);
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		struct rule *nr = realloc(r->rules, nc * sizeof(*nr));

		if (!nr)
			return kvmon_set_error(ENOMEM, "out of memory");
		r->rules = nr;
		r->cap = nc;
	}
	struct rule *ru = &r->rules[r->n];

	memset(ru, 0, sizeof(*ru));
	if (parse_rule(ls, lend, vs, ru) < 0) {
		rule_clear(ru);
		return -1;
	}
	r->n++;
	return 0;
}

struct kvmon_rules *kvmon_rules_parse_vars(const char *text, size_t len,
					   const char *const *defs)
{
	struct kvmon_rules *r = calloc(1, sizeof(*r));
	struct vars *vs = calloc(1, sizeof(*vs));
	struct ps s = { text, text + len, 0 };

	if (!r || !vs) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; defs && defs[i]; i++) {
		const char *eq = strchr(defs[i], '=');

		if (!eq || var_set(vs, defs[i], (size_t)(eq - defs[i]), eq + 1, strlen(eq + 1)) < 0) {
			kvmon_set_error(EINVAL, "bad variable '%.64s' (NAME=VALUE)", defs[i]);
			goto fail;
		}
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
		if (is_var_line(&ls) ? parse_var_line(&ls, vs) < 0
				     : add_rule_line(r, &ls, lend, vs) < 0)
			goto fail;
	}
	if (match_compile(r) < 0)
		goto fail;
	vars_clear(vs);
	free(vs);
	return r;
fail:
	if (vs)
		vars_clear(vs);
	free(vs);
	kvmon_rules_free(r);
	return NULL;
}

struct kvmon_rules *kvmon_rules_parse(const char *text, size_t len)
{
	return kvmon_rules_parse_vars(text, len, NULL);
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
