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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

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

static int match_flags(struct kvmon_rules *r, const uint8_t *src, uint16_t sp,
		       const uint8_t *dst, uint16_t dp, uint8_t flags, const char *payload,
		       struct hits *h)
{
	uint8_t f[2048];
	size_t n = tp_build(f, 6, src, sp, dst, dp, payload, strlen(payload));

	f[14 + 20 + 13] = flags;
	memset(h, 0, sizeof(*h));
	return kvmon_rules_match(r, f, n, on_hit, h);
}

/* distance/within, negated content, pcre: verified exactly after the
 * Hyperscan prefilter. */
static void payload_options(void)
{
	struct hits h;
	struct kvmon_rules *r = load(
		"alert tcp any any -> any any (msg:\"rel\"; content:\"GET\"; content:\"/x\"; "
		"distance:1; within:4; sid:20;)\n"
		"alert tcp any any -> any any (msg:\"neg\"; content:\"USER\"; content:!\"anonymous\"; "
		"sid:21;)\n"
		"alert tcp any any -> any any (msg:\"pcre\"; content:\"id=\"; pcre:\"/id=[0-9]{4,}\\b/\"; "
		"sid:22;)\n"
		"alert tcp any any -> any any (msg:\"pcre R\"; content:\"key:\"; pcre:\"/^\\s*ZZ/R\"; "
		"sid:23;)\n"
		"alert tcp any any -> any any (msg:\"pcre only i\"; pcre:\"/sel(e)ct.+fr.m/i\"; sid:24;)\n"
		"alert tcp any any -> any any (msg:\"order\"; content:\"AA\"; content:\"BB\"; distance:0; "
		"sid:25;)\n"
		"alert tcp any any -> any any (msg:\"backtrack\"; content:\"ab\"; content:\"cd\"; "
		"within:3; distance:0; sid:26;)\n"
		"alert tcp any any -> any any (msg:\"neg pcre\"; content:\"PING\"; pcre:!\"/PING [0-9]+/\"; "
		"sid:27;)\n"
		"alert tcp any any -> any any (msg:\"nocase rel\"; content:\"host:\"; nocase; "
		"content:\"evil\"; nocase; distance:0; within:10; sid:28;)\n"
		"alert tcp any any -> any any (msg:\"x flag\"; pcre:\"/ w h o a m i/x\"; sid:29;)\n"
		"alert tcp any any -> any any (msg:\"backtracking bomb\"; pcre:\"/(a+)+$/\"; sid:30;)\n");

	ok(r != NULL, "payload-option rules parse%s%s", r ? "" : ": ", r ? "" : kvmon_get_error());
	if (!r)
		return;
	ok(match(r, 6, A, 1, B, 2, "GET /x HTTP", &h) == 1 && h.sids[0] == 20,
	   "distance:1 within:4 hit");
	ok(match(r, 6, A, 1, B, 2, "GET     /x HTTP", &h) == 0, "beyond within: no hit");
	ok(match(r, 6, A, 1, B, 2, "/x GET", &h) == 0, "second content before the first: no hit");
	ok(match(r, 6, A, 1, B, 2, "USER bob", &h) == 1 && h.sids[0] == 21,
	   "negated content absent: hit");
	ok(match(r, 6, A, 1, B, 2, "USER anonymous", &h) == 0, "negated content present: no hit");
	ok(match(r, 6, A, 1, B, 2, "?id=123456 ", &h) == 1 && h.sids[0] == 22, "pcre hit");
	ok(match(r, 6, A, 1, B, 2, "?id=12 id=x", &h) == 0, "pcre miss");
	ok(match(r, 6, A, 1, B, 2, "key:   ZZtop", &h) == 1 && h.sids[0] == 23,
	   "pcre R anchored at the previous match");
	ok(match(r, 6, A, 1, B, 2, "ZZ key: x ZZ", &h) == 0, "pcre R elsewhere: no hit");
	ok(match(r, 6, A, 1, B, 2, "xx SELECT * FROM t", &h) == 1 && h.sids[0] == 24,
	   "pcre-only rule, i flag (Hyperscan prefilter + PCRE2)");
	ok(match(r, 6, A, 1, B, 2, "BB AA", &h) == 0 && match(r, 6, A, 1, B, 2, "AA BB", &h) == 1,
	   "distance:0 enforces order");
	ok(match(r, 6, A, 1, B, 2, "ab..ab.cd", &h) == 1 && h.sids[0] == 26,
	   "every occurrence of the first content is tried");
	ok(match(r, 6, A, 1, B, 2, "PING abc", &h) == 1 && match(r, 6, A, 1, B, 2, "PING 42", &h) == 0,
	   "negated pcre");
	ok(match(r, 6, A, 1, B, 2, "HOST: a.EVIL.b", &h) == 1 && h.sids[0] == 28,
	   "nocase relative content");
	ok(match(r, 6, A, 1, B, 2, "whoami", &h) == 1 && h.sids[0] == 29, "x flag");
	char bomb[1200];

	memset(bomb, 'a', sizeof(bomb) - 2);
	bomb[sizeof(bomb) - 2] = '!';
	bomb[sizeof(bomb) - 1] = '\0';
	ok(match(r, 6, A, 1, B, 2, bomb, &h) == 0,
	   "catastrophic backtracking stops at the match limit: no hit, no hang");
	kvmon_rules_free(r);
	ok(bad("alert tcp any any -> any 80 (content:\"a\"; distance:1; offset:2; sid:1;)",
	       "mixed with distance"), "offset after distance refused");
	ok(bad("alert tcp any any -> any 80 (content:\"abc\"; within:2; sid:1;)",
	       "within shorter"), "within < content");
	ok(bad("alert tcp any any -> any 80 (pcre:\"/a(/\"; sid:1;)", "line 1: bad pcre: missing"),
	   "bad regex: PCRE2's message");
	ok(bad("alert tcp any any -> any 80 (pcre:\"/a/Q\"; sid:1;)", "unsupported flag 'Q'"),
	   "unknown pcre flag");
	ok(bad("alert tcp any any -> any 80 (msg:!\"x\"; sid:1;)", "only negates"),
	   "! on msg refused");
	ok(bad("alert tcp any any -> any 80 (pcre:\"/a/\"; nocase; sid:1;)", "nocase without"),
	   "nocase after pcre refused");
}

/* Address and port lists, negation, variables. */
static void lists_and_vars(void)
{
	static const uint8_t C[4] = { 192, 168, 1, 5 };
	struct hits h;
	const char *defs[] = { "HOME_NET=[10.0.2.0/24,192.168.0.0/16]", "WEB=[80,8080:8090]", NULL };
	const char *text =
		"var BAD_PORTS [6666,!6667]\n"
		"alert tcp $HOME_NET any -> any $WEB (msg:\"vars\"; content:\"q\"; sid:40;)\n"
		"alert tcp ![10.0.2.0/24,192.168.1.0/24] any -> any any (msg:\"neglist\"; content:\"n\"; sid:41;)\n"
		"alert tcp any [1:1024,!22] -> any any (msg:\"portlist\"; content:\"p\"; sid:42;)\n"
		"alert tcp [$HOME_NET,!10.0.2.15] any -> any any (msg:\"nested\"; content:\"v\"; sid:43;)\n"
		"alert tcp any any -> any $BAD_PORTS (msg:\"file var\"; content:\"w\"; sid:44;)\n";
	struct kvmon_rules *r = kvmon_rules_parse_vars(text, strlen(text), defs);

	ok(r != NULL, "lists and variables parse%s%s", r ? "" : ": ", r ? "" : kvmon_get_error());
	if (!r)
		return;
	ok(match(r, 6, A, 1, B, 80, "q", &h) == 1 && match(r, 6, C, 1, B, 8085, "q", &h) == 1 &&
	   match(r, 6, C, 1, B, 8091, "q", &h) == 0 && match(r, 6, B, 1, B, 80, "q", &h) == 1,
	   "$HOME_NET and $WEB from the caller");
	static const uint8_t D[4] = { 8, 8, 8, 8 };

	ok(match(r, 6, D, 1, B, 80, "q", &h) == 0, "address outside $HOME_NET: no hit");
	ok(match(r, 6, D, 1, B, 2, "n", &h) == 1 && match(r, 6, A, 1, B, 2, "n", &h) == 0 &&
	   match(r, 6, C, 1, B, 2, "n", &h) == 0, "negated address list");
	ok(match(r, 6, A, 80, B, 2, "p", &h) == 1 && match(r, 6, A, 22, B, 2, "p", &h) == 0 &&
	   match(r, 6, A, 2000, B, 2, "p", &h) == 0, "port list with range and negation");
	ok(match(r, 6, C, 1, B, 2, "v", &h) == 1 && match(r, 6, A, 1, B, 2, "v", &h) == 0,
	   "nested list from a variable with a negated item");
	ok(match(r, 6, A, 1, B, 6666, "w", &h) == 1 && match(r, 6, A, 1, B, 6667, "w", &h) == 0,
	   "var line in the rule file");
	kvmon_rules_free(r);
	ok(bad("alert tcp $NOPE any -> any 80 (sid:1;)", "line 1: undefined or too long variable $NOPE"),
	   "undefined variable named");
	ok(bad("var X\n", "line 1: bad variable"), "var without a value");
	ok(bad("alert tcp [1.2.3.4,] any -> any 80 (sid:1;)", "bad source address"),
	   "empty list item");
	ok(bad("alert tcp [1.2.3.4 any -> any 80 (sid:1;)", "bad source address"),
	   "unclosed list");
	ok(bad("alert tcp any [80,x] -> any 80 (sid:1;)", "bad source port"), "bad port in list");
	r = kvmon_rules_parse_vars("", 0, (const char *[]){ "no_equals", NULL });
	ok(!r && strstr(kvmon_get_error(), "NAME=VALUE"), "bad --var definition");
	kvmon_rules_free(r);
}

/* flow: state from the handshake the matcher has seen. */
static void flow_option(void)
{
	struct hits h;
	struct kvmon_rules *r = load(
		"alert tcp any any -> any any (msg:\"srv\"; flow:to_server,established; content:\"cmd\"; sid:50;)\n"
		"alert tcp any any -> any any (msg:\"cli\"; flow:from_server; content:\"resp\"; sid:51;)\n"
		"alert udp any any -> any any (msg:\"udp est\"; flow:established; content:\"u\"; sid:52;)\n");

	ok(r != NULL, "flow rules parse%s%s", r ? "" : ": ", r ? "" : kvmon_get_error());
	if (!r)
		return;
	ok(match_flags(r, A, 5000, B, 21, 0x18, "cmd", &h) == 0,
	   "no handshake seen: not established");
	match_flags(r, A, 5001, B, 21, 0x02, "", &h);         /* SYN */
	match_flags(r, B, 21, A, 5001, 0x12, "", &h);         /* SYN-ACK */
	ok(match_flags(r, B, 21, A, 5001, 0x18, "cmd", &h) == 0,
	   "before the client's ACK: not established");
	match_flags(r, A, 5001, B, 21, 0x10, "", &h);         /* ACK */
	ok(match_flags(r, A, 5001, B, 21, 0x18, "cmd", &h) == 1 && h.sids[0] == 50,
	   "to_server,established after the handshake");
	ok(match_flags(r, B, 21, A, 5001, 0x18, "cmd", &h) == 0, "server to client: not to_server");
	ok(match_flags(r, B, 21, A, 5001, 0x18, "resp", &h) == 1 &&
	   match_flags(r, A, 5001, B, 21, 0x18, "resp", &h) == 0, "from_server");
	match_flags(r, A, 5001, B, 21, 0x04, "", &h);         /* RST */
	ok(match_flags(r, A, 5001, B, 21, 0x18, "cmd", &h) == 0, "after RST: not established");
	ok(match(r, 17, A, 53, B, 53, "u", &h) == 0, "UDP one way: not established");
	ok(match(r, 17, B, 53, A, 53, "u", &h) == 1, "UDP both ways: established");
	kvmon_rules_free(r);
	ok(bad("alert tcp any any -> any 80 (flow:to_server,to_client; sid:1;)", "flow takes"),
	   "contradictory flow");
	ok(bad("alert tcp any any -> any 80 (flow:only_stream; sid:1;)", "flow takes"),
	   "unsupported flow keyword");
}

static int seg(struct kvmon_rules *r, uint16_t sp, uint32_t seq, const char *payload,
	       struct hits *h)
{
	uint8_t f[2048];
	size_t n = tp_build(f, 6, A, sp, B, 80, payload, strlen(payload));
	uint8_t *t = f + 14 + 20;

	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	memset(h, 0, sizeof(*h));
	return kvmon_rules_match(r, f, n, on_hit, h);
}

/* A signature split across TCP segments alerts once, on the segment that
 * completes it; gaps are not bridged. */
static void stream_view(void)
{
	struct hits h;
	struct kvmon_rules *r = load(
		"alert tcp any any -> any 80 (msg:\"split\"; content:\"GET /admin\"; sid:60;)\n"
		"alert tcp any any -> any 80 (msg:\"rel\"; content:\"USER\"; content:\"root\"; "
		"distance:1; within:6; sid:61;)\n");

	ok(r != NULL, "stream rules parse");
	if (!r)
		return;
	ok(seg(r, 7000, 1000, "xx GET /ad", &h) == 0, "first half: no alert");
	ok(seg(r, 7000, 1010, "min HTTP/1.0", &h) == 1 && h.sids[0] == 60,
	   "second half completes the signature: exactly one alert");
	ok(seg(r, 7000, 1022, " more bytes", &h) == 0, "next segment: no second alert");
	ok(seg(r, 7000, 1033, "GET /admin", &h) == 1, "a new whole occurrence alerts once");
	ok(seg(r, 7001, 5000, "USER  ", &h) == 0 && seg(r, 7001, 5006, "root", &h) == 1 &&
	   h.sids[0] == 61, "distance/within across the boundary");
	ok(seg(r, 7002, 100, "GET /ad", &h) == 0 && seg(r, 7002, 200, "min", &h) == 0,
	   "a gap in the sequence numbers is not bridged");
	ok(seg(r, 7003, 300, "GET /ad", &h) == 0 && seg(r, 7003, 300, "GET /ad", &h) == 0 &&
	   seg(r, 7003, 307, "min", &h) == 1,
	   "retransmitted first half, then the rest: one alert (the view restarts at the copy)");
	ok(seg(r, 7004, 400, "min", &h) == 0 && seg(r, 7004, 393, "GET /ad", &h) == 0,
	   "out of order (second half first): not reassembled (documented limit)");
	kvmon_rules_free(r);
}

/* A frame the caller keeps right before an unmapped page: the matcher must
 * not read past its end (Hyperscan's AVX512VBMI literal matcher does when
 * handed such a buffer directly). Frame from a fuzzing run that faulted. */
static const uint8_t page_end_frame[] = {
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x4a, 0x40, 0x00, 0x02, 0xf1, 0x00, 0x02, 0x02, 0x0a,
	0x00, 0x02, 0x0f, 0x9c, 0x40, 0x00, 0x50, 0x25, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x27, 0x00, 0x00, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2b,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x40, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5f, 0x00, 0x00, 0x2b,
	0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0xea, 0x00, 0x00, 0x55, 0x18, 0x00, 0x00, 0x00,
	0x00, 0x2d, 0x00, 0x00, 0x45, 0x54, 0x20, 0x00, 0x00, 0x00, 0x54, 0x20, 0x2f, 0x7f,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0x78, 0x20, 0x65, 0x76, 0x2f, 0x69,
	0x6c, 0x78,
};

static int scan_at_page_end(struct kvmon_rules *r, uint8_t *page_end)
{
	struct hits h;
	uint8_t f[1600];
	static const char *words[] = { "bat", "CAT", "mat", "qqevil" };

	for (size_t cut = sizeof(page_end_frame); cut > 0; cut--) {
		memcpy(page_end - cut, page_end_frame, cut);
		if (kvmon_rules_match(r, page_end - cut, cut, on_hit, &h) < 0)
			return 1;
	}
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		for (size_t pad = 0; pad < 80; pad++) {
			char pl[128];
			size_t n;

			memset(pl, 'q', pad);
			memcpy(pl + pad, words[w], strlen(words[w]));
			n = tp_build(f, 6, A, 4000, B, 80, pl, pad + strlen(words[w]));
			memcpy(page_end - n, f, n);
			memset(&h, 0, sizeof(h));
			if (kvmon_rules_match(r, page_end - n, n, on_hit, &h) < 1)
				return 2;
		}
	}
	return 0;
}

static void page_end(void)
{
	struct kvmon_rules *r = load(
		"alert tcp any any -> any 80 (msg:\"a\"; content:\"GET /\"; depth:5; sid:1;)\n"
		"alert udp any any <> 10.0.0.0/8 53 (msg:\"b\"; content:\"|00 01|\"; sid:2;)\n"
		"alert ip any any -> any any (msg:\"c\"; content:\"evil\"; nocase; offset:2; sid:3;)\n"
		"alert tcp [10.0.0.0/8,!10.0.0.1] ![22,23] -> any any (msg:\"e\"; "
		"flow:to_server,established; content:\"A\"; content:\"B\"; distance:0; within:8; "
		"content:!\"C\"; sid:5;)\n"
		"alert ip any any -> any any (msg:\"f\"; pcre:\"/(a|b)+c{2,}/i\"; content:\"x\"; "
		"pcre:!\"/^y/R\"; sid:6;)\n"
		"alert tcp any any -> any any (msg:\"w1\"; content:\"bat\"; sid:11;)\n"
		"alert tcp any any -> any any (msg:\"w2\"; content:\"cat\"; nocase; sid:12;)\n"
		"alert tcp any any -> any any (msg:\"w3\"; content:\"mat\"; sid:13;)\n");
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map;
	pid_t pid;
	int st = -1;

	ok(r != NULL, "page-end rules parse");
	if (!r)
		return;
	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(map != MAP_FAILED && mprotect(map + pg, (size_t)pg, PROT_NONE) == 0,
	   "a page followed by an unmapped one");
	if (map == MAP_FAILED) {
		kvmon_rules_free(r);
		return;
	}
	pid = fork(); /* a fault must fail this check, not end the test */
	if (pid == 0)
		_exit(scan_at_page_end(r, map + pg));
	if (pid > 0)
		waitpid(pid, &st, 0);
	ok(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "frames ending at an unmapped page: matched, nothing read past them (status %d)", st);
	munmap(map, (size_t)pg * 2);
	kvmon_rules_free(r);
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
	ok(bad("alert tcp any any -> any 80 (sid:1; byte_test:1,>,3,0;)",
	       "unsupported option 'byte_test'"), "unsupported option refused");
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
	payload_options();
	lists_and_vars();
	flow_option();
	stream_view();
	page_end();
	return tap_done();
}
