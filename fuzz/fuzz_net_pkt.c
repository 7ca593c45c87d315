// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: a guest frame through the packet parser, the flow table and
 * the rule matcher (relative, negated, pcre and flow options too; the
 * stream view across inputs of one connection); parsed payloads must lie
 * inside the frame. */
#include "kvmon.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rules_text[] =
	"alert tcp any any -> any 80 (msg:\"a\"; content:\"GET /\"; depth:5; sid:1;)\n"
	"alert udp any any <> 10.0.0.0/8 53 (msg:\"b\"; content:\"|00 01|\"; sid:2;)\n"
	"alert ip any any -> any any (msg:\"c\"; content:\"evil\"; nocase; offset:2; sid:3;)\n"
	"alert icmp any any -> any any (msg:\"d\"; sid:4;)\n"
	"alert tcp [10.0.0.0/8,!10.0.0.1] ![22,23] -> any any (msg:\"e\"; flow:to_server,established; "
	"content:\"A\"; content:\"B\"; distance:0; within:8; content:!\"C\"; sid:5;)\n"
	"alert ip any any -> any any (msg:\"f\"; pcre:\"/(a|b)+c{2,}/i\"; content:\"x\"; "
	"pcre:!\"/^y/R\"; sid:6;)\n"
	"alert udp any any -> any any (msg:\"g\"; flow:established; pcre:\"/(a+)+$/\"; sid:7;)\n";

static void on_flow(void *o, const char *j)
{
	(void)o;
	if (!j || j[0] != '{')
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvmon_flows *ft;
	static struct kvmon_rules *r;
	struct kvmon_pkt k;

	if (!ft) {
		ft = kvmon_flows_new(64, 1);
		r = kvmon_rules_parse(rules_text, strlen(rules_text));
		if (!ft || !r)
			__builtin_trap();
	}
	if (kvmon_pkt_parse(data, size, &k) == 0 && k.payload) {
		if (k.payload < data || k.payload + k.payload_len > data + size)
			__builtin_trap();
	}
	kvmon_flows_add(ft, 1000, data, size);
	if (kvmon_rules_match(r, data, size, NULL, NULL) < 0)
		__builtin_trap();
	kvmon_flows_expire(ft, UINT64_MAX, on_flow, NULL);
	return 0;
}
