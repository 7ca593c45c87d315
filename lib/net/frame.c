// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Decoder of the two streams QEMU can mirror a netdev into:
 *  - filter-mirror: [be32 len][be32 vnet_hdr_len if vnet_hdr_support=on]
 *    [len bytes, the first vnet_hdr_len of which are the virtio-net header];
 *  - filter-dump: a pcap file (24-byte header, then per frame a 16-byte
 *    record header in the writer's byte order and caplen bytes).
 * Incremental, so any split of the byte stream gives the same frames;
 * pure, so it is fuzzed on its own.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR 16u

struct kvmon_framer {
	bool vnet;
	bool pcap, swap;           /* pcap: byte order of the writer */
	bool file_hdr_done;
	uint8_t hdr[PCAP_FILE_HDR];
	size_t hdr_have;
	uint32_t len, vnet_len;
	size_t have;               /* frame bytes collected in buf */
	uint8_t buf[KVMON_NET_MAX_FRAME];
	struct kvmon_framer_stats st;
};

struct kvmon_framer *kvmon_framer_new(bool vnet_hdr)
{
	struct kvmon_framer *f = calloc(1, sizeof(*f));

	if (!f) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	f->vnet = vnet_hdr;
	return f;
}

struct kvmon_framer *kvmon_framer_new_pcap(void)
{
	struct kvmon_framer *f = kvmon_framer_new(false);

	if (f)
		f->pcap = true;
	return f;
}

void kvmon_framer_free(struct kvmon_framer *f)
{
	free(f);
}

void kvmon_framer_reset(struct kvmon_framer *f)
{
	if (f->hdr_have || f->have)
		f->st.truncated++;
	f->hdr_have = 0;
	f->have = 0;
	f->file_hdr_done = false; /* a new sender starts a new pcap file */
}

void kvmon_framer_stats(const struct kvmon_framer *f, struct kvmon_framer_stats *st)
{
	*st = f->st;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t u32(const struct kvmon_framer *f, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return f->swap ? __builtin_bswap32(v) : v;
}

/* The pcap file header: microsecond or nanosecond magic in either byte
 * order, Ethernet link type. */
static int pcap_file_header(struct kvmon_framer *f)
{
	uint32_t magic;

	memcpy(&magic, f->hdr, 4);
	f->swap = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
	if (!f->swap && magic != 0xa1b2c3d4u && magic != 0xa1b23c4du)
		return kvmon_set_error(EPROTO, "dump stream: not a pcap stream (magic %08x)",
				       magic);
	if (u32(f, f->hdr + 20) != 1)
		return kvmon_set_error(EPROTO, "dump stream: link type %u, not Ethernet",
				       u32(f, f->hdr + 20));
	f->file_hdr_done = true;
	return 0;
}

/* Record header complete: the frame's length, or -1 when the stream can
 * no longer be framed. */
static int record_header(struct kvmon_framer *f)
{
	f->have = 0;
	if (f->pcap) {
		uint32_t orig = u32(f, f->hdr + 12);

		f->len = u32(f, f->hdr + 8);
		f->vnet_len = 0;
		if (f->len <= KVMON_NET_MAX_FRAME && orig > f->len)
			f->st.snapped++; /* the writer's snap length cut it */
	} else {
		f->len = be32(f->hdr);
		f->vnet_len = f->vnet ? be32(f->hdr + 4) : 0;
	}
	if (f->len > KVMON_NET_MAX_FRAME) {
		/* Nothing tells where the next record starts. */
		f->st.oversize++;
		f->hdr_have = 0;
		return kvmon_set_error(EPROTO, "%s stream: frame length %u > %u",
				       f->pcap ? "dump" : "mirror", f->len,
				       KVMON_NET_MAX_FRAME);
	}
	return 0;
}

/* Collect header bytes up to size; true once it is complete. */
static bool take_header(struct kvmon_framer *f, const uint8_t **buf, size_t *len,
			size_t size)
{
	size_t n = size - f->hdr_have;

	if (n > *len)
		n = *len;
	memcpy(f->hdr + f->hdr_have, *buf, n);
	f->hdr_have += n;
	*buf += n;
	*len -= n;
	return f->hdr_have == size;
}

int kvmon_framer_feed(struct kvmon_framer *f, const uint8_t *buf, size_t len,
		      kvmon_frame_fn fn, void *opaque)
{
	size_t hdr_size = f->pcap ? PCAP_REC_HDR : f->vnet ? 8 : 4;

	while (len > 0) {
		if (f->pcap && !f->file_hdr_done) {
			if (!take_header(f, &buf, &len, PCAP_FILE_HDR))
				break;
			f->hdr_have = 0;
			if (pcap_file_header(f) < 0)
				return -1;
			continue;
		}
		if (f->hdr_have < hdr_size) {
			if (!take_header(f, &buf, &len, hdr_size))
				break;
			if (record_header(f) < 0)
				return -1;
			if (f->len == 0) {
				/* QEMU never sends one; harmless to skip. */
				f->st.zero_len++;
				f->hdr_have = 0;
				continue;
			}
		}
		size_t n = f->len - f->have;

		if (f->have == 0 && n <= len && f->vnet_len == 0) {
			/* The whole frame is in the input: no copy. */
			f->hdr_have = 0;
			buf += n;
			len -= n;
			f->st.frames++;
			f->st.bytes += n;
			int rc = fn(opaque, buf - n, n);

			if (rc)
				return rc;
			continue;
		}
		if (n > len)
			n = len;
		memcpy(f->buf + f->have, buf, n);
		f->have += n;
		buf += n;
		len -= n;
		if (f->have < f->len)
			break;
		f->hdr_have = 0;
		if (f->vnet_len > f->len) {
			f->st.bad_vnet++;
			continue;
		}
		if (f->len == f->vnet_len) {
			f->st.zero_len++;
			continue;
		}
		f->st.frames++;
		f->st.bytes += f->len - f->vnet_len;
		int rc = fn(opaque, f->buf + f->vnet_len, f->len - f->vnet_len);

		if (rc)
			return rc;
	}
	return 0;
}
