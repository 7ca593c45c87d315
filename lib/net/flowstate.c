// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Connection state for the rules' flow option (to_server, to_client,
 * established). A fixed table of TCP/UDP connections, hashed on the
 * 5-tuple; a colliding new connection replaces the old one, so memory is
 * bounded whatever the guest sends. The client is the sender of the SYN
 * (TCP) or of the first packet seen (UDP, or TCP picked up mid-stream);
 * TCP is established once SYN, SYN-ACK and the client's ACK were seen
 * (until a RST), UDP once both sides sent.
 */
#include "net_internal.h"

#include <stdlib.h>
#include <string.h>

#define FS_SLOTS 16384u /* power of two */

struct conn {
	uint8_t a[16], b[16];  /* a = client */
	uint16_t ap, bp;
	uint8_t proto, ver;
	bool used, syn, synack, est, b_sent;
};

struct flowstate {
	struct conn slot[FS_SLOTS];
};

struct flowstate *flowstate_new(void)
{
	return calloc(1, sizeof(struct flowstate));
}

void flowstate_free(struct flowstate *fs)
{
	free(fs);
}

/* Same hash for both directions: endpoints combined symmetrically. */
static uint32_t hash_ep(const uint8_t *ip, uint16_t port)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 16777619u;
	return (h ^ port) * 16777619u;
}

static bool same(const uint8_t *ip1, uint16_t p1, const uint8_t *ip2, uint16_t p2)
{
	return p1 == p2 && !memcmp(ip1, ip2, 16);
}

unsigned flowstate_update(struct flowstate *fs, const struct kvmon_pkt *k)
{
	if (k->proto != 6 && k->proto != 17)
		return 0;
	uint32_t h = (hash_ep(k->src, k->sport) + hash_ep(k->dst, k->dport) + k->proto) &
		     (FS_SLOTS - 1);
	struct conn *c = &fs->slot[h];
	bool fwd = c->used && same(c->a, c->ap, k->src, k->sport) &&
		   same(c->b, c->bp, k->dst, k->dport);
	bool rev = c->used && !fwd && same(c->b, c->bp, k->src, k->sport) &&
		   same(c->a, c->ap, k->dst, k->dport);
	bool syn = k->proto == 6 && (k->tcp_flags & 0x12) == 0x02;

	if ((!fwd && !rev) || c->proto != k->proto || (syn && !fwd) || (syn && c->est)) {
		/* New connection (or a new SYN reusing the tuple): its sender
		 * is the client. */
		memset(c, 0, sizeof(*c));
		c->used = true;
		c->proto = k->proto;
		c->ver = k->ip_version;
		memcpy(c->a, k->src, 16);
		memcpy(c->b, k->dst, 16);
		c->ap = k->sport;
		c->bp = k->dport;
		fwd = true;
		rev = false;
	}
	if (k->proto == 6) {
		uint8_t f = k->tcp_flags;

		if (f & 0x04) { /* RST: over until a new handshake */
			c->est = c->syn = c->synack = false;
		} else if (fwd && (f & 0x12) == 0x02) {
			c->syn = true;
		} else if (rev && (f & 0x12) == 0x12 && c->syn) {
			c->synack = true;
		} else if (fwd && (f & 0x10) && c->synack) {
			c->est = true;
		}
	} else if (rev) {
		c->est = true; /* UDP: both sides have sent */
	}
	return (fwd ? FLOW_TO_SERVER : FLOW_TO_CLIENT) | (c->est ? FLOW_ESTABLISHED : 0);
}
