/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: LVM2 on a hostile disk. The input is a PV (label, PV header,
 * metadata area header, circular metadata text) read by kvmon_lvm_scan,
 * and also, as text, fed to the metadata parser directly.
 */
#include "kvmon.h"
#include "disk/disk_internal.h"
#include "disk/lvm.h"

#include <stdint.h>
#include <stdlib.h>

#define PV_SIZE (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct kvmon_lv *lv, size_t n, size_t disk)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t next = 0;

		for (size_t k = 0; k < lv[i].nsegs; k++) {
			const struct kvmon_vseg *s = &lv[i].seg[k];

			/* promised: contiguous, inside the disk */
			if (s->lstart != next || !s->len || s->pstart > disk ||
			    s->len > disk - s->pstart)
				__builtin_trap();
			next += s->len;
		}
		if (lv[i].nsegs && next != lv[i].size)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvmon_lv lv[8];
	struct kvmon_disk *d = kvmon_disk_open_mem(data, size);
	size_t n = 0;

	/* A PV larger than the input: extents may lie past what was read. */
	if (d && kvmon_lvm_scan(d, 0, PV_SIZE, lv, 8, &n) == 0)
		check(lv, n, PV_SIZE);
	kvmon_disk_close(d);
	/* The text parser alone; the UUID is the one of the seed PV. */
	if (kvmon_lvm_parse((const char *)data, size,
			    "E5MEqC5JizBZRIG0qEdLspiVL2rGV9LG", 0, PV_SIZE, lv, 8,
			    &n) == 0)
		check(lv, n, PV_SIZE);
	return 0;
}
