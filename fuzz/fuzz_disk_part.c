/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: a hostile disk's partition table (MBR, EBR chain, GPT, 512-
 * and 4096-byte sectors) and the LVM2 volumes found through it. */
#include "kvmon.h"
#include "disk/disk_internal.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvmon_partition p[KVMON_MAX_PARTITIONS],
		v[2 * KVMON_MAX_PARTITIONS];
	struct kvmon_disk *d = kvmon_disk_open_mem(data, size);
	size_t n = 0;

	if (d && kvmon_disk_partitions(d, p, KVMON_MAX_PARTITIONS, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (!p[i].size || p[i].start >= size ||
			    p[i].size > size - p[i].start)
				__builtin_trap(); /* promised: inside the disk */
	/* Partitions, then LVM2 PVs in each of them (or the whole disk). */
	if (d && kvmon_disk_volumes(d, v, 2 * KVMON_MAX_PARTITIONS, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i].scheme, "lvm")) {
				struct kvmon_disk *view =
					kvmon_disk_open_volume(d, v[i].name);
				uint8_t b[512];

				if (view && kvmon_disk_size(view) >= sizeof(b) &&
				    kvmon_disk_read(view, kvmon_disk_size(view) -
						    sizeof(b), b, sizeof(b)) < 0)
					__builtin_trap(); /* a view reads to its end */
				kvmon_disk_close(view);
			}
	kvmon_disk_close(d);
	return 0;
}
