// SPDX-License-Identifier: GPL-2.0-or-later
/* Packet parser and flow table: both directions in one flow, counts,
 * malformed packets counted (never a crash), bounded table eviction. */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "net_testpkt.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t A[4] = { 10, 0, 2, 15 }, B[4] = { 10, 0, 2, 2 };

struct lines {
	int n;
	char last[512];
};

static void on_flow(void *opaque, const char *json)
{
	struct lines *l = opaque;

	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", json);
}

static long long jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* IPv6 frame: fixed header, then `ext` (extension headers, chained to the
 * TCP header by the caller's next-header bytes), then TCP with "hi". */
static size_t v6_frame(uint8_t *f, uint8_t first_nh, const uint8_t *ext, size_t elen)
{
	size_t plen = elen + 20 + 2;

	memset(f, 0, 14 + 40 + plen);
	f[12] = 0x86;
	f[13] = 0xdd;
	uint8_t *ip = f + 14;

	ip[0] = 0x60;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	ip[6] = first_nh;
	ip[7] = 64;
	ip[8] = 0xfe; ip[9] = 0x80; ip[23] = 1;
	ip[24] = 0xfe; ip[25] = 0x80; ip[39] = 2;
	if (elen)
		memcpy(ip + 40, ext, elen);
	uint8_t *t = ip + 40 + elen;

	t[1] = 99;  /* sport 99 */
	t[3] = 80;  /* dport 80 */
	t[12] = 5 << 4;
	memcpy(t + 20, "hi", 2);
	return 14 + 40 + plen;
}

static void ipv6_ext(void)
{
	uint8_t f[512], ext[160];
	struct kvmon_pkt k;
	size_t n;

	n = v6_frame(f, 6, NULL, 0);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.ip_version == 6 && k.proto == 6 &&
	   k.dport == 80 && k.payload_len == 2, "IPv6 without extension headers");
	/* hop-by-hop (8) -> routing (24) -> destination options (16) -> TCP */
	memset(ext, 0, sizeof(ext));
	ext[0] = 43; ext[1] = 0;
	ext[8] = 60; ext[9] = 2;
	ext[32] = 6; ext[33] = 1;
	n = v6_frame(f, 0, ext, 48);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.proto == 6 && k.sport == 99 && k.dport == 80 &&
	   k.payload_len == 2 && !memcmp(k.payload, "hi", 2),
	   "hop-by-hop, routing, destination options followed to TCP");
	/* first fragment (offset 0, M=1): ports are there */
	memset(ext, 0, sizeof(ext));
	ext[0] = 6; ext[3] = 1;
	n = v6_frame(f, 44, ext, 8);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.proto == 6 && k.dport == 80,
	   "first fragment: TCP header parsed");
	ext[2] = 0x01; /* offset 32 */
	n = v6_frame(f, 44, ext, 8);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.proto == 6 && k.dport == 0 && k.payload_len == 22,
	   "later fragment: no ports, the rest is payload");
	/* AH: length in 4-byte units minus 2 */
	memset(ext, 0, sizeof(ext));
	ext[0] = 6; ext[1] = 4; /* (4 + 2) * 4 = 24 bytes */
	n = v6_frame(f, 51, ext, 24);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.proto == 6 && k.dport == 80, "AH followed");
	/* a chain longer than the limit, each header pointing to the next */
	memset(ext, 0, sizeof(ext));
	for (int i = 0; i < 10; i++)
		ext[i * 8] = i < 9 ? 60 : 6;
	n = v6_frame(f, 60, ext, 80);
	ok(kvmon_pkt_parse(f, n, &k) < 0, "chain of 10 extension headers refused (limit 8)");
	/* extension header length beyond the packet */
	memset(ext, 0, sizeof(ext));
	ext[0] = 6; ext[1] = 200;
	n = v6_frame(f, 0, ext, 8);
	ok(kvmon_pkt_parse(f, n, &k) < 0, "extension header longer than the packet refused");
	ext[1] = 0;
	n = v6_frame(f, 0, ext, 8);
	f[14 + 4] = 0;
	f[14 + 5] = 4; /* the IPv6 payload ends inside the hop-by-hop header */
	ok(kvmon_pkt_parse(f, n, &k) < 0, "truncated extension header refused");
	/* no next header (59): nothing above, not an error */
	n = v6_frame(f, 59, NULL, 0);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.proto == 59 && k.dport == 0, "no next header");
}

int main(void)
{
	uint8_t f[2048];
	struct kvmon_pkt k;
	size_t n;

	n = tp_build(f, 6, A, 40000, B, 80, "GET / HTTP/1.0\r\n\r\n", 18);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.ip_version == 4 && k.proto == 6 &&
		   k.sport == 40000 && k.dport == 80 && k.payload_len == 18 &&
		   !memcmp(k.payload, "GET ", 4) && k.ip_len == 58,
	   "TCP/IPv4 parsed: ports, payload, IP length");
	n = tp_build(f, 17, A, 5353, B, 53, "abc", 3);
	ok(kvmon_pkt_parse(f, n, &k) == 0 && k.proto == 17 && k.payload_len == 3,
	   "UDP parsed");
	/* Malformed: each must be refused, not read out of bounds. */
	ok(kvmon_pkt_parse(f, 10, &k) < 0, "runt frame refused");
	n = tp_build(f, 6, A, 1, B, 2, "x", 1);
	f[14] = 0x4f; /* IHL 60 > total */
	f[16] = 0;
	f[17] = 30;
	ok(kvmon_pkt_parse(f, n, &k) < 0, "IHL beyond total length refused");
	n = tp_build(f, 6, A, 1, B, 2, "x", 1);
	f[17] = 200; /* total length beyond the frame */
	ok(kvmon_pkt_parse(f, n, &k) < 0, "IP total length beyond frame refused");
	n = tp_build(f, 6, A, 1, B, 2, "x", 1);
	f[14 + 20 + 12] = 0xf0; /* data offset 60 */
	ok(kvmon_pkt_parse(f, n, &k) < 0, "TCP data offset beyond packet refused");
	n = tp_build(f, 17, A, 1, B, 2, "x", 1);
	f[14 + 20 + 5] = 200;
	ok(kvmon_pkt_parse(f, n, &k) < 0, "UDP length beyond packet refused");
	uint8_t arp[60] = { 0 };

	arp[12] = 0x08;
	arp[13] = 0x06;
	ok(kvmon_pkt_parse(arp, sizeof(arp), &k) == 0 && k.ip_version == 0,
	   "ARP is not IP, not an error");
	uint8_t vlan[100];

	n = tp_build(f, 6, A, 1, B, 2, "hi", 2);
	memcpy(vlan, f, 12);
	vlan[12] = 0x81;
	vlan[13] = 0;
	vlan[14] = 0;
	vlan[15] = 5;
	memcpy(vlan + 16, f + 12, n - 12);
	ok(kvmon_pkt_parse(vlan, n + 4, &k) == 0 && k.ip_version == 4 &&
		   k.payload_len == 2, "802.1Q tagged frame parsed");

	/* Flows: 3 packets out, 2 back, one malformed, one ARP. */
	struct kvmon_flows *ft = kvmon_flows_new(0, 10);
	struct lines l = { 0 };
	struct kvmon_flow_stats st;

	for (int i = 0; i < 3; i++) {
		n = tp_build(f, 6, A, 40000, B, 80, "0123456789", 10);
		kvmon_flows_add(ft, 1000000000ull + (uint64_t)i, f, n);
	}
	for (int i = 0; i < 2; i++) {
		n = tp_build(f, 6, B, 80, A, 40000, "abcdefghijklmnopqrst", 20);
		kvmon_flows_add(ft, 2000000000ull + (uint64_t)i, f, n);
	}
	kvmon_flows_add(ft, 2000000000ull, f, 12);
	kvmon_flows_add(ft, 2000000000ull, arp, sizeof(arp));
	kvmon_flows_expire(ft, 5000000000ull, on_flow, &l);
	ok(l.n == 0, "flow not idle yet: nothing emitted");
	kvmon_flows_expire(ft, 13000000000ull, on_flow, &l);
	struct json_object *o = json_tokener_parse(l.last);

	ok(l.n == 1 && o, "idle flow emitted as one JSON line");
	ok(!strcmp(jstr(o, "orig_h"), "10.0.2.15") && jint(o, "orig_p") == 40000 &&
		   !strcmp(jstr(o, "resp_h"), "10.0.2.2") && jint(o, "resp_p") == 80 &&
		   !strcmp(jstr(o, "proto"), "tcp"),
	   "5-tuple with the originator first: %s", l.last);
	ok(jint(o, "orig_pkts") == 3 && jint(o, "orig_ip_bytes") == 3 * 50 &&
		   jint(o, "resp_pkts") == 2 && jint(o, "resp_ip_bytes") == 2 * 60,
	   "packets and IP bytes per direction");
	json_object_put(o);
	kvmon_flows_stats(ft, &st);
	ok(st.packets == 7 && st.malformed == 1 && st.non_ip == 1 && st.flows == 1,
	   "stats: 7 packets, 1 malformed, 1 non-IP, 1 flow");
	kvmon_flows_free(ft);

	/* Bounded: 3 slots, 10 flows -> 7 evictions, all emitted. */
	ft = kvmon_flows_new(3, 60);
	memset(&l, 0, sizeof(l));
	kvmon_flows_expire(ft, 0, on_flow, &l); /* sets the sink */
	for (int i = 0; i < 10; i++) {
		n = tp_build(f, 17, A, (uint16_t)(1000 + i), B, 53, "q", 1);
		kvmon_flows_add(ft, (uint64_t)(i + 1) * 1000, f, n);
	}
	kvmon_flows_stats(ft, &st);
	ok(st.evicted == 7 && l.n == 7, "full table evicts oldest (7 evicted, emitted)");
	kvmon_flows_expire(ft, UINT64_MAX, on_flow, &l);
	ok(l.n == 10, "flush emits the remaining 3");
	kvmon_flows_free(ft);

	/* Many flows, delete/lookup consistency (backward-shift deletion). */
	ft = kvmon_flows_new(1000, 1);
	memset(&l, 0, sizeof(l));
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 900; i++) {
			n = tp_build(f, 17, A, (uint16_t)(2000 + i), B, 53, "q", 1);
			kvmon_flows_add(ft, 1, f, n);
		}
	kvmon_flows_stats(ft, &st);
	ok(st.flows == 900, "900 flows, each seen 3 times, counted once");
	kvmon_flows_expire(ft, UINT64_MAX, on_flow, &l);
	ok(l.n == 900, "all 900 emitted on flush");
	kvmon_flows_free(ft);
	ipv6_ext();
	return tap_done();
}
