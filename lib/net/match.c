// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Multi-pattern matcher for the rules' content options, on Hyperscan
 * (Debian's libhyperscan): all contents of all rules are compiled into one
 * block-mode database and found in one pass over each packet's payload,
 * whatever the number of rules. offset/depth become Hyperscan's
 * min_offset/max_offset on the match end, nocase is HS_FLAG_CASELESS.
 * Relative contents are prefiltered as plain literals and pcre as
 * Hyperscan's HS_FLAG_PREFILTER approximation when it accepts the regex;
 * negated options are not prefiltered. A rule is a candidate when every
 * prefiltered pattern matched (rules with none are candidates for every
 * packet); it fires when its header (protocol, addresses, ports) and flow
 * state fit and, if the prefilter alone is not exact, verify.c agrees.
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hs/hs.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct match_db {
	hs_database_t *db;
	hs_scratch_t *scratch;
	uint32_t *content_rule;   /* pattern id -> rule index */
	uint32_t *content_gen, *rule_gen, *rule_count, *rule_hit_gen;
	uint32_t *hits;           /* rules whose contents all matched */
	size_t nhits, ncontents;
	uint32_t *nocontent;      /* rules with no content: header only */
	size_t nnocontent;
	uint32_t gen;
	const struct rule *rules;
	struct verify_ctx vc;
	struct flowstate *fs;     /* connection state: flow option, stream view */
	unsigned flow_bits;       /* of the current packet */
	uint32_t *found, *found2; /* rules matched by one pass */
	uint32_t *mark, stamp;    /* per-rule set membership, by stamp */
	uint8_t *sbuf;            /* tail + payload, HS_SLACK spare */
	uint8_t *pbuf;            /* one payload, HS_SLACK spare */
};

/*
 * Readable bytes after every buffer handed to hs_scan. Debian's
 * Hyperscan 5.4 reads past the end of the data in its AVX512VBMI
 * literal matcher (fat Teddy: 64-byte loads), which faults when a
 * caller's frame ends at a page boundary, so payloads are scanned
 * from our own buffers with this much to spare.
 */
#define HS_SLACK 256u

void match_free(struct match_db *m)
{
	if (!m)
		return;
	hs_free_scratch(m->scratch);
	hs_free_database(m->db);
	free(m->content_rule);
	free(m->content_gen);
	free(m->rule_gen);
	free(m->rule_count);
	free(m->rule_hit_gen);
	free(m->hits);
	free(m->nocontent);
	verify_free(&m->vc);
	flowstate_free(m->fs);
	free(m->found);
	free(m->found2);
	free(m->mark);
	free(m->sbuf);
	free(m->pbuf);
	free(m);
}

/* HS flags for a pcre, or -1 when Hyperscan cannot prefilter it. */
static int pcre_hs_flags(const struct rule_content *c)
{
	uint32_t o = 0;
	hs_database_t *db = NULL;
	hs_compile_error_t *e = NULL;
	unsigned fl = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;

	pcre2_pattern_info((const pcre2_code *)c->re, PCRE2_INFO_ARGOPTIONS, &o);
	if ((o & PCRE2_EXTENDED) || c->relative) /* R: ^ means the cursor, not byte 0 */
		return -1;
	fl |= (o & PCRE2_CASELESS ? HS_FLAG_CASELESS : 0) |
	      (o & PCRE2_DOTALL ? HS_FLAG_DOTALL : 0) |
	      (o & PCRE2_MULTILINE ? HS_FLAG_MULTILINE : 0);
	if (hs_compile((const char *)c->bytes, fl, HS_MODE_BLOCK, NULL, &db, &e) != HS_SUCCESS) {
		hs_free_compile_error(e);
		return -1;
	}
	hs_free_database(db);
	return (int)fl;
}

int match_compile(struct kvmon_rules *r)
{
	struct match_db *m = calloc(1, sizeof(*m));
	size_t nc = 0;
	char **exprs = NULL;
	unsigned *flags = NULL, *ids = NULL;
	hs_expr_ext_t *ext = NULL;
	const hs_expr_ext_t **extp = NULL;
	hs_compile_error_t *cerr = NULL;
	int rc = -1;

	if (!m)
		return kvmon_set_error(ENOMEM, "out of memory");
	m->rules = r->rules;
	for (size_t i = 0; i < r->n; i++)
		nc += r->rules[i].ncontents;
	m->ncontents = nc;
	m->content_rule = calloc(nc + 1, sizeof(uint32_t));
	m->content_gen = calloc(nc + 1, sizeof(uint32_t));
	m->rule_gen = calloc(r->n + 1, sizeof(uint32_t));
	m->rule_count = calloc(r->n + 1, sizeof(uint32_t));
	m->rule_hit_gen = calloc(r->n + 1, sizeof(uint32_t));
	m->hits = calloc(r->n + 1, sizeof(uint32_t));
	m->nocontent = calloc(r->n + 1, sizeof(uint32_t));
	exprs = calloc(nc + 1, sizeof(*exprs));
	flags = calloc(nc + 1, sizeof(*flags));
	ids = calloc(nc + 1, sizeof(*ids));
	ext = calloc(nc + 1, sizeof(*ext));
	extp = calloc(nc + 1, sizeof(*extp));
	if (!m->content_rule || !m->content_gen || !m->rule_gen || !m->rule_count ||
	    !m->rule_hit_gen || !m->hits || !m->nocontent || !exprs || !flags ||
	    !ids || !ext || !extp) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto out;
	}
	if (verify_init(&m->vc) < 0)
		goto out;
	m->fs = flowstate_new();
	m->found = calloc(r->n + 1, sizeof(uint32_t));
	m->found2 = calloc(r->n + 1, sizeof(uint32_t));
	m->mark = calloc(r->n + 1, sizeof(uint32_t));
	m->sbuf = calloc(1, STREAM_TAIL + KVMON_NET_MAX_FRAME + HS_SLACK);
	m->pbuf = calloc(1, KVMON_NET_MAX_FRAME + HS_SLACK);
	if (!m->fs || !m->found || !m->found2 || !m->mark || !m->sbuf || !m->pbuf) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto out;
	}
	nc = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rule *ru = &r->rules[i];

		ru->npositive = 0;
		for (size_t j = 0; j < ru->ncontents; j++) {
			struct rule_content *c = &ru->contents[j];
			int pf = c->re ? pcre_hs_flags(c) : 0;
			char *e;

			c->prefiltered = !c->neg && pf >= 0;
			if (!c->prefiltered)
				continue;
			if (c->re) {
				e = strdup((const char *)c->bytes);
				flags[nc] = (unsigned)pf;
			} else { /* every byte as \xHH: a literal, whatever it contains */
				e = malloc(c->len * 4 + 1);
				for (size_t k = 0; e && k < c->len; k++)
					snprintf(e + k * 4, 5, "\\x%02x", c->bytes[k]);
				flags[nc] = HS_FLAG_SINGLEMATCH | (c->nocase ? HS_FLAG_CASELESS : 0);
			}
			if (!e) {
				kvmon_set_error(ENOMEM, "out of memory");
				goto out;
			}
			exprs[nc] = e;
			ids[nc] = (unsigned)nc;
			m->content_rule[nc] = (uint32_t)i;
			if (!c->re && !c->relative && c->offset) {
				ext[nc].flags |= HS_EXT_FLAG_MIN_OFFSET;
				ext[nc].min_offset = c->offset + c->len;
			}
			if (!c->re && !c->relative && c->depth) {
				ext[nc].flags |= HS_EXT_FLAG_MAX_OFFSET;
				ext[nc].max_offset = (unsigned long long)c->offset + c->depth;
			}
			extp[nc] = &ext[nc];
			ru->npositive++;
			nc++;
		}
		if (!ru->npositive)
			m->nocontent[m->nnocontent++] = (uint32_t)i;
	}
	m->ncontents = nc;
	if (nc > 0) {
		if (hs_compile_ext_multi((const char *const *)exprs, flags, ids, extp,
					 (unsigned)nc, HS_MODE_BLOCK, NULL, &m->db,
					 &cerr) != HS_SUCCESS) {
			kvmon_set_error(EINVAL, "hyperscan: rule with sid %u: %s",
					cerr && cerr->expression >= 0
						? r->rules[m->content_rule[cerr->expression]].sid
						: 0,
					cerr ? cerr->message : "compile failed");
			hs_free_compile_error(cerr);
			goto out;
		}
		if (hs_alloc_scratch(m->db, &m->scratch) != HS_SUCCESS) {
			kvmon_set_error(ENOMEM, "hyperscan: cannot allocate scratch");
			goto out;
		}
	}
	r->db = m;
	m = NULL;
	rc = 0;
out:
	for (size_t i = 0; exprs && i < nc; i++)
		free(exprs[i]);
	free(exprs);
	free(flags);
	free(ids);
	free(ext);
	free(extp);
	match_free(m);
	return rc;
}

static bool addr1(const struct rule_addr *a, const uint8_t *ip, uint8_t ver)
{
	if (a->ver != ver)
		return false;
	unsigned full = a->prefix / 8, rest = a->prefix % 8;
	bool eq = !memcmp(a->addr, ip, full);

	if (eq && rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		eq = (a->addr[full] & mask) == (ip[full] & mask);
	}
	return eq;
}

/* Some positive item matches (or there is none), no negated item does. */
static bool addr_match(const struct rule_addrs *l, const uint8_t *ip, uint8_t ver)
{
	bool pos = false, hit = false;

	if (l->any)
		return true;
	for (size_t i = 0; i < l->n; i++) {
		bool m = addr1(&l->v[i], ip, ver);

		if (l->v[i].neg && m)
			return false;
		if (!l->v[i].neg) {
			pos = true;
			hit |= m;
		}
	}
	return !pos || hit;
}

static bool port_match(const struct rule_ports *l, uint16_t port)
{
	bool pos = false, hit = false;

	if (l->any)
		return true;
	for (size_t i = 0; i < l->n; i++) {
		bool m = port >= l->v[i].lo && port <= l->v[i].hi;

		if (l->v[i].neg && m)
			return false;
		if (!l->v[i].neg) {
			pos = true;
			hit |= m;
		}
	}
	return !pos || hit;
}

bool rule_header_match(const struct rule *ru, const struct kvmon_pkt *k)
{
	if (ru->proto && ru->proto != k->proto)
		return false;
	bool ports = k->proto == 6 || k->proto == 17;

	if (addr_match(ru->src, k->src, k->ip_version) &&
	    addr_match(ru->dst, k->dst, k->ip_version) &&
	    (!ports || (port_match(ru->sport, k->sport) && port_match(ru->dport, k->dport))))
		return true;
	return ru->bidir && addr_match(ru->src, k->dst, k->ip_version) &&
	       addr_match(ru->dst, k->src, k->ip_version) &&
	       (!ports || (port_match(ru->sport, k->dport) && port_match(ru->dport, k->sport)));
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
		    unsigned fl, void *ctx)
{
	struct match_db *m = ctx;
	uint32_t ri;

	(void)from;
	(void)to;
	(void)fl;
	if (id >= m->ncontents || m->content_gen[id] == m->gen)
		return 0;
	m->content_gen[id] = m->gen;
	ri = m->content_rule[id];
	if (m->rule_gen[ri] != m->gen) {
		m->rule_gen[ri] = m->gen;
		m->rule_count[ri] = 0;
	}
	if (++m->rule_count[ri] == m->rules[ri].npositive)
		m->hits[m->nhits++] = ri;
	return 0;
}

static bool flow_match(const struct rule *ru, unsigned bits)
{
	unsigned need = ru->flow & (FLOW_TO_SERVER | FLOW_TO_CLIENT | FLOW_ESTABLISHED);

	if (!ru->flow || (ru->flow & FLOW_STATELESS && !need))
		return true;
	return (bits & need) == need;
}

/* Rules that match payload pl (len bytes) as a whole for header k: one
 * Hyperscan pass, then header, flow state and, where needed, the exact
 * check. Indices go to out (at most r->n). -1 on a scanner error. */
static long match_payload(struct kvmon_rules *r, const struct kvmon_pkt *k,
			  const uint8_t *pl, size_t len, uint32_t *out)
{
	struct match_db *m = r->db;
	long n = 0;

	if (++m->gen == 0) { /* generation wrapped: reset the marks */
		memset(m->content_gen, 0, m->ncontents * sizeof(uint32_t));
		memset(m->rule_gen, 0, r->n * sizeof(uint32_t));
		m->gen = 1;
	}
	m->nhits = 0;
	verify_packet(&m->vc, pl, len);
	if (m->db && len > 0 &&
	    hs_scan(m->db, (const char *)pl, (unsigned)len, 0, m->scratch, on_match, m) !=
		    HS_SUCCESS)
		return kvmon_set_error(EIO, "hyperscan scan failed");
	for (size_t pass = 0; pass < 2; pass++) {
		const uint32_t *list = pass ? m->nocontent : m->hits;
		size_t cnt = pass ? m->nnocontent : m->nhits;

		for (size_t i = 0; i < cnt; i++) {
			const struct rule *ru = &r->rules[list[i]];

			if (rule_header_match(ru, k) && flow_match(ru, m->flow_bits) &&
			    (!ru->verify || rule_verify(ru, &m->vc)))
				out[n++] = list[i];
		}
	}
	return n;
}

static void report(struct kvmon_rules *r, uint32_t ri, const struct kvmon_pkt *k,
		   kvmon_rule_fn fn, void *opaque, int *n)
{
	const struct rule *ru = &r->rules[ri];
	struct kvmon_rule_hit h = { ru->sid, ru->msg ? ru->msg : "", ru->action };

	if (!strcmp(ru->action, "pass"))
		return;
	(*n)++;
	if (fn)
		fn(opaque, &h, k);
}

/*
 * Signatures split across TCP segments: match the previous in-order bytes
 * of the direction (the tail) followed by this payload, and report the
 * rules that match there but neither on this payload alone (reported just
 * before) nor on the tail alone (reported with an earlier segment), so each
 * occurrence alerts once.
 */
static int match_stream(struct kvmon_rules *r, const struct kvmon_pkt *k, long npkt,
			kvmon_rule_fn fn, void *opaque, int *n)
{
	struct match_db *m = r->db;
	size_t tl = flowstate_stream(m->fs, k, m->sbuf);
	long nb, nt;

	if (!tl || !k->payload_len)
		return 0;
	if (++m->stamp == 0) {
		memset(m->mark, 0, r->n * sizeof(uint32_t));
		m->stamp = 2;
	}
	uint32_t in_pkt = m->stamp, in_tail = ++m->stamp;

	for (long i = 0; i < npkt; i++)
		m->mark[m->found[i]] = in_pkt;
	memcpy(m->sbuf + tl, k->payload, k->payload_len);
	nb = match_payload(r, k, m->sbuf, tl + k->payload_len, m->found);
	if (nb <= 0)
		return nb < 0 ? -1 : 0;
	/* Rules new on the joined view; then drop those the tail has alone. */
	long keep = 0;

	for (long i = 0; i < nb; i++)
		if (m->mark[m->found[i]] != in_pkt)
			m->found2[keep++] = m->found[i];
	if (!keep)
		return 0;
	nt = match_payload(r, k, m->sbuf, tl, m->found);
	if (nt < 0)
		return -1;
	for (long i = 0; i < nt; i++)
		m->mark[m->found[i]] = in_tail;
	for (long i = 0; i < keep; i++)
		if (m->mark[m->found2[i]] != in_tail)
			report(r, m->found2[i], k, fn, opaque, n);
	return 0;
}

int kvmon_rules_match(struct kvmon_rules *r, const uint8_t *frame, size_t len,
		      kvmon_rule_fn fn, void *opaque)
{
	struct match_db *m = r->db;
	struct kvmon_pkt k;
	int n = 0;
	long np;

	if (kvmon_pkt_parse(frame, len, &k) < 0 || !k.ip_version)
		return 0; /* malformed or not IP: nothing to match (counted by flows) */
	if (k.payload_len > KVMON_NET_MAX_FRAME)
		return 0; /* IP lengths are 16-bit: cannot happen, keeps the copies bounded */
	m->flow_bits = flowstate_update(m->fs, &k);
	if (k.payload_len)
		memcpy(m->pbuf, k.payload, k.payload_len);
	np = match_payload(r, &k, m->pbuf, k.payload_len, m->found);
	if (np < 0)
		return -1;
	for (long i = 0; i < np; i++)
		report(r, m->found[i], &k, fn, opaque, &n);
	if (k.proto == 6 && match_stream(r, &k, np, fn, opaque, &n) < 0)
		return -1;
	return n;
}

char *kvmon_rule_hit_json(const struct kvmon_rule_hit *hit, const struct kvmon_pkt *k)
{
	struct json_object *o = json_object_new_object();
	char a[64] = "", b[64] = "";
	int af = k->ip_version == 6 ? AF_INET6 : AF_INET;
	char *s;

	inet_ntop(af, k->src, a, sizeof(a));
	inet_ntop(af, k->dst, b, sizeof(b));
	json_object_object_add(o, "sid", json_object_new_int64(hit->sid));
	json_object_object_add(o, "msg", json_object_new_string(hit->msg));
	json_object_object_add(o, "action", json_object_new_string(hit->action));
	json_object_object_add(o, "proto", json_object_new_int(k->proto));
	json_object_object_add(o, "src", json_object_new_string(a));
	json_object_object_add(o, "sport", json_object_new_int(k->sport));
	json_object_object_add(o, "dst", json_object_new_string(b));
	json_object_object_add(o, "dport", json_object_new_int(k->dport));
	json_object_object_add(o, "payload_len", json_object_new_int64((int64_t)k->payload_len));
	s = kvmon_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}
