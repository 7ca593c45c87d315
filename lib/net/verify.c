// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Exact check of a candidate rule, after the Hyperscan prefilter said all
 * its positive patterns occur somewhere: contents in rule order with
 * offset/depth or distance/within relative to the end of the previous
 * match (trying every occurrence, as Snort does), negated contents (no
 * occurrence in the window; the cursor does not move) and pcre (PCRE2, with
 * match and depth limits; the first match from the cursor is used).
 * Guest payloads are hostile: every rule has a scan budget per packet and a
 * rule whose budget runs out does not match.
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include "net_internal.h"

#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#define PCRE_MATCH_LIMIT 100000u  /* backtracking steps per pcre call */
#define PCRE_DEPTH_LIMIT 2000u

int verify_init(struct verify_ctx *v)
{
	memset(v, 0, sizeof(*v));
	v->lower = malloc(KVMON_NET_MAX_FRAME + STREAM_TAIL);
	v->md = pcre2_match_data_create(32, NULL);
	v->mc = pcre2_match_context_create(NULL);
	if (!v->lower || !v->md || !v->mc) {
		verify_free(v);
		return kvmon_set_error(ENOMEM, "out of memory");
	}
	pcre2_set_match_limit(v->mc, PCRE_MATCH_LIMIT);
	pcre2_set_depth_limit(v->mc, PCRE_DEPTH_LIMIT);
	return 0;
}

void verify_free(struct verify_ctx *v)
{
	free(v->lower);
	pcre2_match_data_free(v->md);
	pcre2_match_context_free(v->mc);
	memset(v, 0, sizeof(*v));
}

void verify_packet(struct verify_ctx *v, const uint8_t *pl, size_t len)
{
	v->pl = pl;
	v->len = len < KVMON_NET_MAX_FRAME + STREAM_TAIL ? len : KVMON_NET_MAX_FRAME + STREAM_TAIL;
	v->lower_ready = false;
}

/* First occurrence of c in [from, end), or -1; charged to the budget. */
static long find(const struct rule_content *c, struct verify_ctx *v, size_t from, size_t end)
{
	const uint8_t *base = v->pl, *hit;

	if (from >= end || end - from < c->len)
		return -1;
	if (v->budget < end - from) {
		v->budget = 0;
		return -1;
	}
	v->budget -= end - from;
	if (c->nocase) {
		if (!v->lower_ready) {
			for (size_t i = 0; i < v->len; i++)
				v->lower[i] = (uint8_t)tolower(v->pl[i]);
			v->lower_ready = true;
		}
		base = v->lower;
	}
	hit = memmem(base + from, end - from, c->bytes, c->len);
	return hit ? (long)(hit - base) : -1;
}

/* pcre on the payload from `from` (as its own subject, so ^ anchors at the
 * cursor as in Snort's R): 1 match (end in *mend), 0 none or limit hit. */
static int pcre_at(const struct rule_content *c, struct verify_ctx *v, size_t from, size_t *mend)
{
	if (from > v->len || v->budget < v->len)
		return 0;
	v->budget -= v->len;
	int rc = pcre2_match((const pcre2_code *)c->re, v->pl + from, v->len - from, 0, 0,
			     v->md, v->mc);

	if (rc < 0) /* no match, or match/depth limit: a hostile payload loses */
		return 0;
	*mend = from + pcre2_get_ovector_pointer(v->md)[1];
	return 1;
}

static void window(const struct rule_content *c, size_t len, size_t cursor,
		   size_t *lo, size_t *hi)
{
	if (c->relative) {
		long st = (long)cursor + c->distance;

		*lo = st < 0 ? 0 : (size_t)st;
		*hi = c->within ? *lo + c->within : len;
	} else {
		*lo = c->offset;
		*hi = c->depth ? (size_t)c->offset + c->depth : len;
	}
	if (*hi > len)
		*hi = len;
}

static bool step(const struct rule *ru, size_t i, size_t cursor, struct verify_ctx *v)
{
	if (i == ru->ncontents)
		return true;
	const struct rule_content *c = &ru->contents[i];
	size_t lo, hi, mend;

	if (c->re) {
		int m = pcre_at(c, v, c->relative ? cursor : 0, &mend);

		if (c->neg)
			return !m && v->budget && step(ru, i + 1, cursor, v);
		return m && step(ru, i + 1, mend, v);
	}
	window(c, v->len, cursor, &lo, &hi);
	if (c->neg)
		return find(c, v, lo, hi) < 0 && v->budget && step(ru, i + 1, cursor, v);
	for (long f; (f = find(c, v, lo, hi)) >= 0; lo = (size_t)f + 1)
		if (step(ru, i + 1, (size_t)f + c->len, v))
			return true;
	return false;
}

bool rule_verify(const struct rule *ru, struct verify_ctx *v)
{
	v->budget = VERIFY_BUDGET;
	return step(ru, 0, 0, v);
}
