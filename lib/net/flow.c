// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Flow table: bidirectional 5-tuple flows with per-direction packets and
 * bytes, emitted as JSON lines like Zeek's conn.log. Bounded: a full table
 * evicts (emits) the oldest flow rather than growing.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct flow {
	uint8_t a[16], b[16];   /* a = originator (first packet's source) */
	uint16_t ap, bp;
	uint8_t proto, ver;
	bool used;
	uint64_t start, last;
	uint64_t pkts[2], bytes[2]; /* [0] a->b, [1] b->a */
	uint8_t flags[2];
};

struct kvmon_flows {
	struct flow *tab;
	size_t cap, count, max;
	uint64_t idle_ns;
	struct kvmon_flow_stats st;
	kvmon_flow_fn evict_fn;
	void *evict_opaque;
};

struct kvmon_flows *kvmon_flows_new(size_t max_flows, unsigned idle_s)
{
	struct kvmon_flows *ft = calloc(1, sizeof(*ft));

	if (!max_flows)
		max_flows = 65536;
	if (!ft || max_flows > (1u << 24)) {
		free(ft);
		kvmon_set_error(ft ? EINVAL : ENOMEM, "cannot create flow table");
		return NULL;
	}
	ft->max = max_flows;
	ft->cap = 16;
	while (ft->cap < max_flows * 2)
		ft->cap *= 2;
	ft->tab = calloc(ft->cap, sizeof(*ft->tab));
	if (!ft->tab) {
		free(ft);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	ft->idle_ns = (idle_s ? idle_s : 60) * 1000000000ull;
	return ft;
}

void kvmon_flows_free(struct kvmon_flows *ft)
{
	if (ft)
		free(ft->tab);
	free(ft);
}

static uint64_t hash_key(const uint8_t *x, uint16_t xp, const uint8_t *y,
			 uint16_t yp, uint8_t proto)
{
	/* Symmetric: both directions of a flow hash alike. */
	uint64_t h1 = 1469598103934665603ull, h2 = h1;

	for (int i = 0; i < 16; i++) {
		h1 = (h1 ^ x[i]) * 1099511628211ull;
		h2 = (h2 ^ y[i]) * 1099511628211ull;
	}
	h1 = (h1 ^ xp) * 1099511628211ull;
	h2 = (h2 ^ yp) * 1099511628211ull;
	return (h1 + h2) ^ proto;
}

static void emit(struct flow *f, kvmon_flow_fn fn, void *opaque)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], line[512];
	int af = f->ver == 6 ? AF_INET6 : AF_INET;
	const char *proto = f->proto == 6 ? "tcp" : f->proto == 17 ? "udp"
			  : f->proto == 1 ? "icmp" : f->proto == 58 ? "icmp6" : NULL;
	char pbuf[8];

	if (!proto) {
		snprintf(pbuf, sizeof(pbuf), "%u", f->proto);
		proto = pbuf;
	}
	inet_ntop(af, f->a, a, sizeof(a));
	inet_ntop(af, f->b, b, sizeof(b));
	snprintf(line, sizeof(line),
		 "{\"ts\":%.6f,\"duration\":%.6f,\"proto\":\"%s\","
		 "\"orig_h\":\"%s\",\"orig_p\":%u,\"resp_h\":\"%s\",\"resp_p\":%u,"
		 "\"orig_pkts\":%llu,\"orig_ip_bytes\":%llu,"
		 "\"resp_pkts\":%llu,\"resp_ip_bytes\":%llu}",
		 (double)f->start / 1e9, (double)(f->last - f->start) / 1e9, proto,
		 a, f->ap, b, f->bp,
		 (unsigned long long)f->pkts[0], (unsigned long long)f->bytes[0],
		 (unsigned long long)f->pkts[1], (unsigned long long)f->bytes[1]);
	if (fn)
		fn(opaque, line);
}

/* Backward-shift deletion keeps linear probing correct without tombstones. */
static void del_at(struct kvmon_flows *ft, size_t i)
{
	size_t mask = ft->cap - 1, j = i;

	ft->tab[i].used = false;
	ft->count--;
	for (;;) {
		j = (j + 1) & mask;
		if (!ft->tab[j].used)
			return;
		struct flow *f = &ft->tab[j];
		size_t home = hash_key(f->a, f->ap, f->b, f->bp, f->proto) & mask;

		/* Move j to i if its home is not in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			ft->tab[i] = *f;
			f->used = false;
			i = j;
		}
	}
}

void kvmon_flows_add(struct kvmon_flows *ft, uint64_t ts, const uint8_t *frame,
		     size_t len)
{
	struct kvmon_pkt k;
	size_t mask = ft->cap - 1, i;
	int dir = 0;

	ft->st.packets++;
	if (kvmon_pkt_parse(frame, len, &k) < 0) {
		ft->st.malformed++;
		return;
	}
	if (!k.ip_version) {
		ft->st.non_ip++;
		return;
	}
	i = hash_key(k.src, k.sport, k.dst, k.dport, k.proto) & mask;
	for (;; i = (i + 1) & mask) {
		struct flow *f = &ft->tab[i];

		if (!f->used)
			break;
		if (f->proto != k.proto || f->ver != k.ip_version)
			continue;
		if (!memcmp(f->a, k.src, 16) && !memcmp(f->b, k.dst, 16) &&
		    f->ap == k.sport && f->bp == k.dport) {
			dir = 0;
			goto found;
		}
		if (!memcmp(f->a, k.dst, 16) && !memcmp(f->b, k.src, 16) &&
		    f->ap == k.dport && f->bp == k.sport) {
			dir = 1;
			goto found;
		}
	}
	if (ft->count >= ft->max) {
		/* Full: evict the least recently seen flow (O(n), rare). */
		size_t old = SIZE_MAX;

		for (size_t j = 0; j < ft->cap; j++)
			if (ft->tab[j].used &&
			    (old == SIZE_MAX || ft->tab[j].last < ft->tab[old].last))
				old = j;
		emit(&ft->tab[old], ft->evict_fn, ft->evict_opaque);
		ft->st.evicted++;
		del_at(ft, old);
		i = hash_key(k.src, k.sport, k.dst, k.dport, k.proto) & mask;
		while (ft->tab[i].used)
			i = (i + 1) & mask;
	}
	struct flow *f = &ft->tab[i];

	memset(f, 0, sizeof(*f));
	f->used = true;
	memcpy(f->a, k.src, 16);
	memcpy(f->b, k.dst, 16);
	f->ap = k.sport;
	f->bp = k.dport;
	f->proto = k.proto;
	f->ver = k.ip_version;
	f->start = ts;
	ft->count++;
	ft->st.flows++;
found:
	f = &ft->tab[i];
	f->last = ts > f->last ? ts : f->last;
	f->pkts[dir]++;
	f->bytes[dir] += k.ip_len;
	f->flags[dir] |= k.tcp_flags;
}

void kvmon_flows_expire(struct kvmon_flows *ft, uint64_t now, kvmon_flow_fn fn,
			void *opaque)
{
	ft->evict_fn = fn; /* evictions during later adds go to the same sink */
	ft->evict_opaque = opaque;
	for (size_t i = 0; i < ft->cap;) {
		struct flow *f = &ft->tab[i];

		if (f->used && (now == UINT64_MAX || now - f->last >= ft->idle_ns ||
				f->last > now)) {
			emit(f, fn, opaque);
			del_at(ft, i); /* may shift a later entry into i: recheck */
			continue;
		}
		i++;
	}
}

void kvmon_flows_stats(const struct kvmon_flows *ft, struct kvmon_flow_stats *st)
{
	*st = ft->st;
}
