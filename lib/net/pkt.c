// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Ethernet/VLAN/IPv4/IPv6 (with extension headers)/TCP/UDP header parser
 * for mirrored frames.
 * Pure and bounds-checked at every step: the frame is guest-controlled.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int l4(const uint8_t *p, size_t len, struct kvmon_pkt *k)
{
	if (k->proto == 6) { /* TCP */
		if (len < 20)
			return -1;
		size_t off = (size_t)(p[12] >> 4) * 4;

		if (off < 20 || off > len)
			return -1;
		k->sport = be16(p);
		k->dport = be16(p + 2);
		k->tcp_flags = p[13];
		k->tcp_seq = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
		k->payload = p + off;
		k->payload_len = len - off;
	} else if (k->proto == 17) { /* UDP */
		if (len < 8)
			return -1;
		size_t ulen = be16(p + 4);

		if (ulen < 8 || ulen > len)
			return -1;
		k->sport = be16(p);
		k->dport = be16(p + 2);
		k->payload = p + 8;
		k->payload_len = ulen - 8;
	} else {
		k->payload = p;
		k->payload_len = len;
	}
	return 0;
}

#define IP6_MAX_EXT 8 /* extension headers followed; more is malformed */

/*
 * Follow IPv6 extension headers (hop-by-hop 0, routing 43, fragment 44,
 * destination options 60, AH 51) from p (plen bytes after the fixed
 * header) to the upper-layer header. Sets k->proto; *off is where it
 * starts; *later_frag when this is a non-first fragment (no L4 header).
 */
static int ip6_ext(const uint8_t *p, size_t plen, uint8_t nh, struct kvmon_pkt *k,
		   size_t *off, bool *later_frag)
{
	size_t o = 0;

	*later_frag = false;
	for (int i = 0;; i++) {
		size_t hl;

		if (nh != 0 && nh != 43 && nh != 44 && nh != 60 && nh != 51)
			break;
		if (i >= IP6_MAX_EXT || plen - o < 8)
			return -1;
		if (nh == 44) {
			hl = 8;
			if (be16(p + o + 2) & 0xfff8)
				*later_frag = true;
		} else if (nh == 51) {
			hl = ((size_t)p[o + 1] + 2) * 4;
		} else {
			hl = ((size_t)p[o + 1] + 1) * 8;
		}
		if (hl > plen - o)
			return -1;
		nh = p[o];
		o += hl;
		if (*later_frag)
			break;
	}
	k->proto = nh;
	*off = o;
	return 0;
}

int kvmon_pkt_parse(const uint8_t *f, size_t len, struct kvmon_pkt *k)
{
	size_t off = 14;

	memset(k, 0, sizeof(*k));
	if (len < 14)
		return kvmon_set_error(EINVAL, "frame shorter than an Ethernet header");
	k->ethertype = be16(f + 12);
	/* At most two VLAN tags (802.1Q / QinQ). */
	for (int i = 0; i < 2 && (k->ethertype == 0x8100 || k->ethertype == 0x88a8); i++) {
		if (len < off + 4)
			return kvmon_set_error(EINVAL, "truncated VLAN tag");
		k->ethertype = be16(f + off + 2);
		off += 4;
	}
	const uint8_t *p = f + off;
	size_t rest = len - off;

	if (k->ethertype == 0x0800) {
		if (rest < 20 || (p[0] >> 4) != 4)
			return kvmon_set_error(EINVAL, "bad IPv4 header");
		size_t ihl = (size_t)(p[0] & 15) * 4, tot = be16(p + 2);

		if (ihl < 20 || tot < ihl || tot > rest)
			return kvmon_set_error(EINVAL, "bad IPv4 lengths");
		k->ip_version = 4;
		k->proto = p[9];
		memcpy(k->src, p + 12, 4);
		memcpy(k->dst, p + 16, 4);
		k->ip_len = tot;
		/* Later fragments carry no L4 header. */
		if (be16(p + 6) & 0x1fff) {
			k->payload = p + ihl;
			k->payload_len = tot - ihl;
			return 0;
		}
		if (l4(p + ihl, tot - ihl, k) < 0)
			return kvmon_set_error(EINVAL, "bad L4 header");
		return 0;
	}
	if (k->ethertype == 0x86dd) {
		if (rest < 40 || (p[0] >> 4) != 6)
			return kvmon_set_error(EINVAL, "bad IPv6 header");
		size_t plen = be16(p + 4);

		if (plen > rest - 40)
			return kvmon_set_error(EINVAL, "bad IPv6 payload length");
		k->ip_version = 6;
		memcpy(k->src, p + 8, 16);
		memcpy(k->dst, p + 24, 16);
		k->ip_len = 40 + plen;
		size_t eo;
		bool later;

		if (ip6_ext(p + 40, plen, p[6], k, &eo, &later) < 0)
			return kvmon_set_error(EINVAL, "bad IPv6 extension headers");
		if (later) { /* later fragments carry no L4 header */
			k->payload = p + 40 + eo;
			k->payload_len = plen - eo;
			return 0;
		}
		if (l4(p + 40 + eo, plen - eo, k) < 0)
			return kvmon_set_error(EINVAL, "bad L4 header");
		return 0;
	}
	return 0; /* not IP: ARP etc. */
}
