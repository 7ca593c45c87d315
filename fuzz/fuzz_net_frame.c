// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the filter-mirror stream (from QEMU, carrying guest frames),
 * with and without vnet headers, and filter-dump's pcap stream, fed in
 * pieces whose sizes the input chooses; every delivered frame must be
 * within the advertised bounds. */
#include "kvmon.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_frame(void *opaque, const uint8_t *f, size_t len)
{
	volatile uint8_t x = 0;

	(void)opaque;
	if (len == 0 || len > KVMON_NET_MAX_FRAME)
		__builtin_trap();
	x ^= f[0];
	x ^= f[len - 1]; /* ASan checks the whole claimed range is readable */
	(void)x;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvmon_framer *f[3];
	struct kvmon_framer_stats st;

	if (size < 2)
		return 0;
	if (!f[0]) {
		f[0] = kvmon_framer_new(false);
		f[1] = kvmon_framer_new(true);
		f[2] = kvmon_framer_new_pcap();
	}
	struct kvmon_framer *fr = f[data[0] % 3];
	size_t step = (size_t)data[1] + 1;

	data += 2;
	size -= 2;
	for (size_t off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		if (kvmon_framer_feed(fr, data + off, n, on_frame, NULL) < 0)
			kvmon_framer_reset(fr);
	}
	kvmon_framer_reset(fr);
	kvmon_framer_stats(fr, &st);
	if (st.bytes < st.frames)
		__builtin_trap();
	return 0;
}
