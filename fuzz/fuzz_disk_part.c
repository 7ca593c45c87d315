/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: a hostile disk's partition table (MBR, EBR chain, GPT). */
#include "kvmon.h"
#include "disk/disk_internal.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_partition p[KVMON_MAX_PARTITIONS];
	struct kvmon_disk *d = kvmon_disk_open_mem(data, size);
	size_t n = 0;

	if (d && kvmon_disk_partitions(d, p, KVMON_MAX_PARTITIONS, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (!p[i].size || p[i].start >= size ||
			    p[i].size > size - p[i].start)
				__builtin_trap(); /* promised: inside the disk */
	kvmon_disk_close(d);
	return 0;
}
