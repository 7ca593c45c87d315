// SPDX-License-Identifier: GPL-2.0-or-later
/* Snort-subset rule parser and the Hyperscan matcher. */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "net_testpkt.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t A[4] = { 10, 0, 2, 15 }, B[4] = { 10, 0, 2, 2 };

struct hits {
	int n;
	uint32_t sids[16];
};

static void on_hit(void *opaque, const struct kvmon_rule_hit *h,
		   const struct kvmon_pkt *k)
{
	struct hits *x = opaque;

	(void)k;
	if (x->n < 16)
		x->sids[x->n] = h->sid;
	x->n++;
}

static struct kvmon_rules *load(const char *text)
{
	return kvmon_rules_parse(text, strlen(text));
}

static int match(struct kvmon_rules *r, uint8_t proto, const uint8_t *src,
		 uint16_t sp, const uint8_t *dst, uint16_t dp, const char *payload,
		 struct hits *h)
{
	uint8_t f[2048];
	size_t n = tp_build(f, proto, src, sp, dst, dp, payload, strlen(payload));

	memset(h, 0, sizeof(*h));
	return kvmon_rules_match(r, f, n, on_hit, h);
}

static int bad(const char *rule, const char *expect)
{
	struct kvmon_rules *r = load(rule);
	int okk = !r && strstr(kvmon_get_error(), expect);

	if (!okk)
		diag("got: %s", r ? "(parsed)" : kvmon_get_error());
	kvmon_rules_free(r);
	return okk;
}

int main(void)
{
	struct hits h;
	struct kvmon_rules *r = load(
		"# test rules\n"
		"\n"
		"alert tcp any any -> any 80 (msg:\"HTTP admin\"; content:\"GET /admin\"; sid:1; rev:2;)\n"
		"alert tcp any any -> any any (msg:\"nocase\"; content:\"evil\"; nocase; sid:2;)\n"
		"alert tcp any any -> any any (msg:\"offset/depth\"; content:\"XY\"; offset:2; depth:4; sid:3;)\n"
		"alert tcp 10.0.2.0/24 any -> 10.0.2.2 80 (msg:\"two\"; content:\"aaa\"; content:\"bbb\"; sid:4;)\n"
		"alert udp any any <> any 53 (msg:\"hex\"; content:\"|de ad|be|ef|\"; sid:5;)\n"
		"alert tcp any any -> any !80 (msg:\"not80\"; content:\"zzz\"; sid:6;)\n"
		"pass tcp any any -> any any (msg:\"pass\"; content:\"quiet\"; sid:7;)\n"
		"alert tcp any any -> any 1000:2000 (msg:\"range\"; content:\"rng\"; classtype:misc; sid:8;)\n"
		"alert icmp any any -> any any (msg:\"no content\"; sid:9;)\n"
		"alert tcp any any -> any any (msg:\"semi\\;quote\\\"\"; content:\"a\\;b\"; sid:10;)\n");

	ok(r && kvmon_rules_count(r) == 10, "10 rules parsed%s%s", r ? "" : ": ",
	   r ? "" : kvmon_get_error());
	if (!r)
		bail("cannot continue");
	ok(match(r, 6, A, 4000, B, 80, "GET /admin HTTP/1.0", &h) == 1 && h.sids[0] == 1,
	   "content + port match (sid 1)");
	ok(match(r, 6, A, 4000, B, 81, "GET /admin HTTP/1.0", &h) == 0,
	   "wrong destination port: no hit");
	ok(match(r, 6, A, 4000, B, 80, "get /ADMIN", &h) == 0, "case matters without nocase");
	ok(match(r, 6, A, 1, B, 2, "xxEvIlxx", &h) == 1 && h.sids[0] == 2, "nocase");
	ok(match(r, 6, A, 1, B, 2, "..XY", &h) == 1 && h.sids[0] == 3, "offset 2 hit");
	ok(match(r, 6, A, 1, B, 2, ".XY.", &h) == 0, "before offset: no hit");
	ok(match(r, 6, A, 1, B, 2, "....XY", &h) == 1, "end of depth window: hit");
	ok(match(r, 6, A, 1, B, 2, ".....XY", &h) == 0, "beyond depth: no hit");
	ok(match(r, 6, A, 1, B, 80, "bbb---aaa", &h) == 1 && h.sids[0] == 4,
	   "all contents required, any order (sid 4)");
	ok(match(r, 6, A, 1, B, 80, "aaa only", &h) == 0, "one of two contents: no hit");
	ok(match(r, 6, B, 1, A, 80, "aaabbb", &h) == 0, "address mismatch: no hit");
	ok(match(r, 17, A, 53, B, 999, "x\xde\xad" "be\xef" "y", &h) == 1 && h.sids[0] == 5,
	   "|hex| content, bidirectional rule, reverse direction");
	ok(match(r, 6, A, 1, B, 81, "zzz", &h) == 1 && match(r, 6, A, 1, B, 80, "zzz", &h) == 0,
	   "negated port");
	ok(match(r, 6, A, 1, B, 2, "quiet", &h) == 0, "pass rule raises nothing");
	ok(match(r, 6, A, 1, B, 1500, "rng", &h) == 1 && match(r, 6, A, 1, B, 2500, "rng", &h) == 0,
	   "port range");
	ok(match(r, 6, A, 1, B, 2, "a;b", &h) == 1 && h.sids[0] == 10, "escaped ; in content");
	ok(match(r, 6, A, 1, B, 80, "GET /admin evil aaa bbb", &h) == 3,
	   "several rules on one packet, each once");
	ok(match(r, 6, A, 1, B, 80, "GET /admin GET /admin", &h) == 1,
	   "a rule fires once per packet");
	uint8_t f[64];
	size_t n = tp_build(f, 6, A, 1, B, 80, "", 0);

	f[14] = 0x4f;
	memset(&h, 0, sizeof(h));
	ok(kvmon_rules_match(r, f, n, on_hit, &h) == 0, "malformed packet: no match, no crash");
	ok(kvmon_rules_match(r, f, 5, on_hit, &h) == 0, "runt frame: no match");
	struct kvmon_pkt k;
	struct kvmon_rule_hit hit = { 1, "m\"x", "alert" };

	n = tp_build(f, 6, A, 4000, B, 80, "q", 1);
	kvmon_pkt_parse(f, n, &k);
	char *js = kvmon_rule_hit_json(&hit, &k);
	struct json_object *o = js ? json_tokener_parse(js) : NULL;

	ok(o && strstr(js, "\"src\":\"10.0.2.15\"") && strstr(js, "\"dport\":80"),
	   "hit details JSON: %s", js ? js : "(null)");
	json_object_put(o);
	kvmon_free(js);
	kvmon_rules_free(r);

	/* Errors name the line and the problem. */
	ok(bad("alert tcp any any -> any 80 (content:\"x\";)", "line 1: rule has no sid"),
	   "missing sid");
	ok(bad("\n\nfoo tcp any any -> any 80 (sid:1;)", "line 3: unknown action"),
	   "unknown action, line 3");
	ok(bad("alert xyz any any -> any 80 (sid:1;)", "unknown protocol"), "bad protocol");
	ok(bad("alert tcp 1.2.3.4/40 any -> any 80 (sid:1;)", "bad source address"),
	   "bad prefix");
	ok(bad("alert tcp any 70000 -> any 80 (sid:1;)", "bad source port"), "port > 65535");
	ok(bad("alert tcp any any => any 80 (sid:1;)", "direction"), "bad direction");
	ok(bad("alert tcp any any -> any 80 (sid:1; pcre:\"/x/\";)", "unsupported option 'pcre'"),
	   "unsupported option refused");
	ok(bad("alert tcp any any -> any 80 (sid:1; nocase;)", "nocase without a content"),
	   "nocase needs content");
	ok(bad("alert tcp any any -> any 80 (content:\"|4|\"; sid:1;)", "bad content"),
	   "bad hex");
	ok(bad("alert tcp any any -> any 80 (content:\"\"; sid:1;)", "bad content"),
	   "empty content");
	ok(bad("alert tcp any any -> any 80 (content:\"abc\"; depth:2; sid:1;)",
	       "depth shorter"), "depth < content");
	ok(bad("alert tcp any any -> any 80 (msg:\"x; sid:1;)", "unterminated"),
	   "unterminated quote");
	ok(bad("alert tcp any any -> any 80 sid:1;", "missing '('"), "no options");
	r = load("# only comments\n\n");
	ok(r && kvmon_rules_count(r) == 0, "empty rule file is valid");
	n = tp_build(f, 6, A, 1, B, 80, "x", 1);
	ok(r && kvmon_rules_match(r, f, n, on_hit, &h) == 0, "empty rule set matches nothing");
	kvmon_rules_free(r);
	return tap_done();
}
