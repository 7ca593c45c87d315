// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Connection state for the rules' flow option (to_server, to_client,
 * established). A fixed table of TCP/UDP connections, hashed on the
 * 5-tuple; a colliding new connection replaces the old one, so memory is
 * bounded whatever the guest sends. The client is the sender of the SYN
 * (TCP) or of the first packet seen (UDP, or TCP picked up mid-stream);
 * TCP is established once SYN, SYN-ACK and the client's ACK were seen
 * (until a RST), UDP once both sides sent.
 *
 * Stream view for rule matching across segments: per direction, the next
 * expected sequence number and the last STREAM_TAIL bytes of in-order
 * payload (allocated on first payload, freed with the slot). A segment
 * that is not exactly the next in order (loss, retransmission, reordering)
 * resets that direction's tail: no reassembly across gaps.
 */
#include "net_internal.h"

#include <stdlib.h>
#include <string.h>

struct tail {
	uint32_t next;        /* next expected sequence number */
	bool valid;
	uint16_t len;
	uint8_t *buf;         /* STREAM_TAIL bytes, or NULL */
};

#define FS_SLOTS 16384u /* power of two */

struct conn {
	uint8_t a[16], b[16];  /* a = client */
	uint16_t ap, bp;
	uint8_t proto, ver;
	bool used, syn, synack, est, b_sent;
	struct tail t[2];      /* [0] client -> server, [1] back */
};

struct flowstate {
	struct conn slot[FS_SLOTS];
	struct conn *last;     /* connection of the packet last updated */
	int last_dir;
};

struct flowstate *flowstate_new(void)
{
	return calloc(1, sizeof(struct flowstate));
}

static void conn_clear(struct conn *c)
{
	free(c->t[0].buf);
	free(c->t[1].buf);
	memset(c, 0, sizeof(*c));
}

void flowstate_free(struct flowstate *fs)
{
	if (!fs)
		return;
	for (size_t i = 0; i < FS_SLOTS; i++)
		conn_clear(&fs->slot[i]);
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
		conn_clear(c);
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
	fs->last = c;
	fs->last_dir = fwd ? 0 : 1;
	return (fwd ? FLOW_TO_SERVER : FLOW_TO_CLIENT) | (c->est ? FLOW_ESTABLISHED : 0);
}

size_t flowstate_stream(struct flowstate *fs, const struct kvmon_pkt *k, uint8_t *out)
{
	struct conn *c = fs->last;
	size_t n = 0;

	if (!c || k->proto != 6)
		return 0;
	struct tail *t = &c->t[fs->last_dir];
	uint32_t seq = k->tcp_seq + ((k->tcp_flags & 0x02) ? 1 : 0); /* SYN takes one */

	if (t->valid && seq == t->next && t->buf) {
		n = t->len;
		memcpy(out, t->buf, n);
	} else if (k->payload_len) {
		t->len = 0; /* a gap or the first data: start over */
	}
	t->valid = true;
	t->next = seq + (uint32_t)k->payload_len + ((k->tcp_flags & 0x01) ? 1 : 0);
	if (!k->payload_len)
		return n;
	if (!t->buf && !(t->buf = malloc(STREAM_TAIL)))
		return 0;
	/* Keep the last STREAM_TAIL bytes of tail + payload. */
	size_t pl = k->payload_len, keep;

	if (pl >= STREAM_TAIL) {
		memcpy(t->buf, k->payload + pl - STREAM_TAIL, STREAM_TAIL);
		t->len = STREAM_TAIL;
	} else {
		keep = t->len + pl > STREAM_TAIL ? STREAM_TAIL - pl : t->len;
		memmove(t->buf, t->buf + t->len - keep, keep);
		memcpy(t->buf + keep, k->payload, pl);
		t->len = (uint16_t)(keep + pl);
	}
	return n;
}
