/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Builds Ethernet/IPv4/TCP|UDP frames for the network unit tests. */
#ifndef KVMON_NET_TESTPKT_H
#define KVMON_NET_TESTPKT_H

#include <stdint.h>
#include <string.h>

/* Returns the frame length. src/dst are "a.b.c.d" as 4 bytes. */
__attribute__((unused))
static size_t tp_build(uint8_t *f, uint8_t proto, const uint8_t src[4],
		       uint16_t sport, const uint8_t dst[4], uint16_t dport,
		       const void *payload, size_t plen)
{
	size_t l4 = proto == 6 ? 20 : 8, tot = 20 + l4 + plen;

	memset(f, 0, 14 + tot);
	memcpy(f, "\x52\x54\x00\x12\x34\x56\x52\x55\x0a\x00\x02\x02", 12);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14, *t = ip + 20;

	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8);
	t[3] = (uint8_t)dport;
	if (proto == 6) {
		t[12] = 5 << 4;
		t[13] = 0x18; /* PSH ACK */
	} else {
		t[4] = (uint8_t)((8 + plen) >> 8);
		t[5] = (uint8_t)(8 + plen);
	}
	memcpy(t + l4, payload, plen);
	return 14 + tot;
}

#endif
