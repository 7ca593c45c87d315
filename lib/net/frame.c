// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Decoder of QEMU's filter-mirror stream: [be32 len][be32 vnet_hdr_len if
 * vnet_hdr_support=on][len bytes, the first vnet_hdr_len of which are the
 * virtio-net header]. Incremental, so any split of the byte stream gives
 * the same frames; pure, so it is fuzzed on its own.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct kvmon_framer {
	bool vnet;
	uint8_t hdr[8];
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
}

void kvmon_framer_stats(const struct kvmon_framer *f, struct kvmon_framer_stats *st)
{
	*st = f->st;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int kvmon_framer_feed(struct kvmon_framer *f, const uint8_t *buf, size_t len,
		      kvmon_frame_fn fn, void *opaque)
{
	size_t hdr_size = f->vnet ? 8 : 4;

	while (len > 0) {
		if (f->hdr_have < hdr_size) {
			size_t n = hdr_size - f->hdr_have;

			if (n > len)
				n = len;
			memcpy(f->hdr + f->hdr_have, buf, n);
			f->hdr_have += n;
			buf += n;
			len -= n;
			if (f->hdr_have < hdr_size)
				break;
			f->len = be32(f->hdr);
			f->vnet_len = f->vnet ? be32(f->hdr + 4) : 0;
			f->have = 0;
			if (f->len > KVMON_NET_MAX_FRAME) {
				/* Nothing tells where the next record starts. */
				f->st.oversize++;
				f->hdr_have = 0;
				return kvmon_set_error(EPROTO,
					"mirror stream: frame length %u > %u",
					f->len, KVMON_NET_MAX_FRAME);
			}
			if (f->len == 0) {
				/* QEMU never sends one; harmless to skip. */
				f->st.zero_len++;
				f->hdr_have = 0;
				continue;
			}
		}
		size_t n = f->len - f->have;

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
