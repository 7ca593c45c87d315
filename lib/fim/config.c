// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fim configuration: an AIDE-like subset (docs/fim.md).
 *   NAME = p+u+g+sha256      attribute group (terms joined by + or -)
 *   /regex GROUP             select paths matching ^(regex)
 *   =/regex GROUP            select paths matching ^(regex)$ only
 *   !/regex                  exclude paths matching ^(regex) (not walked)
 * Regexes are PCRE2 (as AIDE's), with bounded compile size (PCRE2's own
 * limit) and match limits, since guest file names are matched against
 * them. Bounded: 1 MiB of text, 4 KiB lines, 1024 rules, 256 groups.
 */
#define _GNU_SOURCE
#include "fim/fim_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <openssl/evp.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_TEXT (1u << 20)
#define CFG_MAX_LINE 4096
#define CFG_MAX_RULES 1024
#define CFG_MAX_GROUPS 256

enum rule_kind { RULE_SELECT, RULE_EQUAL, RULE_NEGATE };

struct rule {
	enum rule_kind kind;
	unsigned attrs;
	pcre2_code *re;
};

struct group {
	char name[33];
	unsigned attrs;
};

struct kvmon_fim_config {
	struct rule rules[CFG_MAX_RULES];
	size_t nrules;
	struct group groups[CFG_MAX_GROUPS];
	size_t ngroups;
	char id[65];  /* SHA-256 of the text, hex */
	pcre2_match_context *mctx;
};

static const struct {
	const char *name;
	unsigned attrs;
} builtin[] = {
	{ "t", KVMON_FIM_TYPE }, { "ftype", KVMON_FIM_TYPE },
	{ "p", KVMON_FIM_PERM }, { "u", KVMON_FIM_UID }, { "g", KVMON_FIM_GID },
	{ "s", KVMON_FIM_SIZE }, { "m", KVMON_FIM_MTIME }, { "c", KVMON_FIM_CTIME },
	{ "i", KVMON_FIM_INODE }, { "n", KVMON_FIM_LINKS },
	{ "xattrs", KVMON_FIM_XATTRS }, { "X", KVMON_FIM_XATTRS },
	{ "sha256", KVMON_FIM_SHA256 }, { "sha512", KVMON_FIM_SHA512 },
	{ "l", KVMON_FIM_LNAME },
	/* AIDE's predefined groups, with SHA-256 as the content hash. */
	{ "R", KVMON_FIM_TYPE | KVMON_FIM_PERM | KVMON_FIM_INODE | KVMON_FIM_LNAME |
	       KVMON_FIM_LINKS | KVMON_FIM_UID | KVMON_FIM_GID | KVMON_FIM_SIZE |
	       KVMON_FIM_MTIME | KVMON_FIM_CTIME | KVMON_FIM_SHA256 | KVMON_FIM_XATTRS },
	{ "L", KVMON_FIM_TYPE | KVMON_FIM_PERM | KVMON_FIM_INODE | KVMON_FIM_LNAME |
	       KVMON_FIM_LINKS | KVMON_FIM_UID | KVMON_FIM_GID | KVMON_FIM_XATTRS },
	{ "E", 0 },
	{ "ALL", KVMON_FIM_ALL },
};

static int lookup_term(const struct kvmon_fim_config *c, const char *name,
		       size_t len, unsigned *attrs)
{
	size_t i;

	if (c)
		for (i = c->ngroups; i-- > 0;)
			if (strlen(c->groups[i].name) == len &&
			    !memcmp(c->groups[i].name, name, len)) {
				*attrs = c->groups[i].attrs;
				return 0;
			}
	for (i = 0; i < ARRAY_SIZE(builtin); i++)
		if (strlen(builtin[i].name) == len &&
		    !memcmp(builtin[i].name, name, len)) {
			*attrs = builtin[i].attrs;
			return 0;
		}
	return -1;
}

/* "R-m+sha512": terms joined by + (add) or - (remove), left to right. */
static int parse_expr(const struct kvmon_fim_config *c, const char *s,
		      unsigned *out, char *bad, size_t badsz)
{
	unsigned acc = 0, a;
	bool add = true;

	for (;;) {
		size_t n = strcspn(s, "+-");

		if (n == 0 || lookup_term(c, s, n, &a) < 0) {
			snprintf(bad, badsz, "%.*s", (int)(n > 40 ? 40 : n), s);
			return -1;
		}
		acc = add ? acc | a : acc & ~a;
		s += n;
		if (!*s)
			break;
		add = *s++ == '+';
	}
	*out = acc;
	return 0;
}

int kvmon_fim_attrs_parse(const char *expr, unsigned *attrs)
{
	char bad[48];

	if (!expr || !attrs)
		return kvmon_set_error(EINVAL, "no attribute expression");
	if (parse_expr(NULL, expr, attrs, bad, sizeof(bad)) < 0)
		return kvmon_set_error(EINVAL, "unknown attribute '%s'", bad);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static bool valid_group_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* An unescaped { outside a bracket expression: bounded repetition
 * multiplies compiled code; path rules do not need it. */
static bool has_interval(const char *re)
{
	bool bracket = false;

	for (; *re; re++) {
		if (bracket) {
			if (*re == '\\' && re[1])
				re++;
			else if (*re == ']')
				bracket = false;
		} else if (*re == '\\' && re[1]) {
			re++;
		} else if (*re == '[') {
			bracket = true;
			if (re[1] == '^')
				re++;
			if (re[1] == ']')
				re++; /* a leading ] is literal */
		} else if (*re == '{') {
			return true;
		}
	}
	return false;
}

static int add_rule(struct kvmon_fim_config *c, char *line, unsigned lineno)
{
	enum rule_kind kind = RULE_SELECT;
	struct rule *r;
	char *re, *grp = NULL, *pat, bad[48];
	PCRE2_SIZE eoff;
	size_t n;
	int rc;

	if (c->nrules >= CFG_MAX_RULES)
		return kvmon_set_error(E2BIG, "line %u: more than %d rules", lineno,
				       CFG_MAX_RULES);
	if (*line == '!' || *line == '=') {
		kind = *line == '!' ? RULE_NEGATE : RULE_EQUAL;
		line++;
	}
	if (*line != '/')
		return kvmon_set_error(EINVAL, "line %u: a path rule starts with /",
				       lineno);
	re = line;
	n = strcspn(re, " \t");
	if (re[n]) {
		re[n] = '\0';
		grp = trim(re + n + 1);
	}
	r = &c->rules[c->nrules];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	if (kind == RULE_NEGATE) {
		if (grp && *grp)
			return kvmon_set_error(EINVAL, "line %u: !%s takes no group",
					       lineno, re);
	} else {
		if (!grp || !*grp)
			return kvmon_set_error(EINVAL, "line %u: %s needs a group",
					       lineno, re);
		if (parse_expr(c, grp, &r->attrs, bad, sizeof(bad)) < 0)
			return kvmon_set_error(EINVAL, "line %u: unknown group '%s'",
					       lineno, bad);
	}
	if (has_interval(re))
		return kvmon_set_error(EINVAL, "line %u: interval expressions {m,n} "
				       "are not supported (write \\{ for a brace)",
				       lineno);
	/* \\z: a name ending in a newline must not pass for one without */
	pat = kvmon_asprintf(kind == RULE_EQUAL ? "^(?:%s)\\z" : "^(?:%s)", re);
	if (!pat)
		return -1;
	r->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
			      PCRE2_DOTALL | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP,
			      &rc, &eoff, NULL);
	free(pat);
	if (!r->re) {
		PCRE2_UCHAR msg[128];

		pcre2_get_error_message(rc, msg, sizeof(msg));
		return kvmon_set_error(EINVAL, "line %u: bad regular expression: %s",
				       lineno, (const char *)msg);
	}
	c->nrules++;
	return 0;
}

static int add_group(struct kvmon_fim_config *c, char *line, char *eq,
		     unsigned lineno)
{
	char *name = line, *expr = trim(eq + 1), bad[48];
	struct group *g;

	*eq = '\0';
	name = trim(name);
	if (!valid_group_name(name, strlen(name)))
		return kvmon_set_error(EINVAL, "line %u: bad group name", lineno);
	if (c->ngroups >= CFG_MAX_GROUPS)
		return kvmon_set_error(E2BIG, "line %u: more than %d groups",
				       lineno, CFG_MAX_GROUPS);
	g = &c->groups[c->ngroups];
	if (parse_expr(c, expr, &g->attrs, bad, sizeof(bad)) < 0)
		return kvmon_set_error(EINVAL, "line %u: unknown attribute '%s'",
				       lineno, bad);
	memcpy(g->name, name, strlen(name) + 1);
	c->ngroups++;
	return 0;
}

static int parse_line(struct kvmon_fim_config *c, char *line, unsigned lineno)
{
	char *eq;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	if (*line == '/' || *line == '!' || *line == '=')
		return add_rule(c, line, lineno);
	eq = strchr(line, '=');
	if (eq)
		return add_group(c, line, eq, lineno);
	return kvmon_set_error(EINVAL, "line %u: neither a rule nor a group "
				       "definition", lineno);
}

struct kvmon_fim_config *kvmon_fim_config_parse(const char *text, size_t len)
{
	struct kvmon_fim_config *c;
	char line[CFG_MAX_LINE + 1];
	unsigned lineno = 0;
	size_t pos = 0;

	if (len > CFG_MAX_TEXT) {
		kvmon_set_error(EFBIG, "configuration larger than %u bytes",
				CFG_MAX_TEXT);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->mctx = pcre2_match_context_create(NULL);
	if (!c || !c->mctx) {
		free(c);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	/* a guest-chosen name must not make a rule take unbounded time */
	pcre2_set_match_limit(c->mctx, 100000);
	pcre2_set_depth_limit(c->mctx, 10000);
	pcre2_set_heap_limit(c->mctx, 4096);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n > CFG_MAX_LINE || memchr(text + pos, '\0', n)) {
			kvmon_set_error(EINVAL, "line %u: %s", lineno,
					n > CFG_MAX_LINE ? "longer than 4096 bytes"
							 : "NUL byte");
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (parse_line(c, line, lineno) < 0)
			goto fail;
		pos += n + 1;
	}
	if (c->nrules == 0) {
		kvmon_set_error(EINVAL, "no selection rules");
		goto fail;
	}
	{
		static const char hx[] = "0123456789abcdef";
		unsigned char md[32];
		unsigned n = 0, i;

		EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
		for (i = 0; i < 32; i++) {
			c->id[2 * i] = hx[md[i] >> 4];
			c->id[2 * i + 1] = hx[md[i] & 15];
		}
	}
	return c;
fail:
	kvmon_fim_config_free(c);
	return NULL;
}

struct kvmon_fim_config *kvmon_fim_config_load(const char *path)
{
	struct kvmon_fim_config *c;
	size_t len;
	char *text = kvmon_read_file(path, CFG_MAX_TEXT, &len);

	if (!text) {
		kvmon_error_prefix("%s", path);
		return NULL;
	}
	c = kvmon_fim_config_parse(text, len);
	free(text);
	if (!c)
		kvmon_error_prefix("%s", path);
	return c;
}

const char *kvmon_fim_config_id(const struct kvmon_fim_config *c)
{
	return c ? c->id : "";
}

void kvmon_fim_config_free(struct kvmon_fim_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nrules; i++)
		pcre2_code_free(c->rules[i].re);
	pcre2_match_context_free(c->mctx);
	free(c);
}

/* Does rule r match path? A match that hits a limit counts as "matched"
 * for selection and "not matched" for exclusion: when in doubt, watch. */
static bool rule_matches(const struct kvmon_fim_config *c, const struct rule *r,
			 const char *path, pcre2_match_data *md)
{
	int rc = pcre2_match(r->re, (PCRE2_SPTR)path, strlen(path), 0, 0, md,
			     c->mctx);

	if (rc >= 0)
		return true;
	if (rc == PCRE2_ERROR_NOMATCH)
		return false;
	return r->kind != RULE_NEGATE;
}

/* Negative rules win; otherwise the last matching selection rule. */
unsigned kvmon_fim_config_match(const struct kvmon_fim_config *c,
				const char *path, bool *descend)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	unsigned attrs = 0;
	bool selected = false;
	size_t i;

	if (descend)
		*descend = true;
	for (i = 0; i < c->nrules; i++) {
		const struct rule *r = &c->rules[i];

		if (!md) { /* no memory to decide: select, walk */
			selected = true;
			attrs |= r->kind == RULE_NEGATE ? 0 : r->attrs;
			continue;
		}
		if (!rule_matches(c, r, path, md))
			continue;
		if (r->kind == RULE_NEGATE) {
			if (descend)
				*descend = false;
			pcre2_match_data_free(md);
			return 0;
		}
		attrs = r->attrs;
		selected = true;
	}
	pcre2_match_data_free(md);
	/* A selected path always records its type (presence). */
	return selected ? attrs | KVMON_FIM_TYPE : 0;
}
