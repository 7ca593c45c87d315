// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Disks with 4096-byte logical sectors, partitioned by the real tools on
 * a 4Kn loop device (tests/data/disk-4k.tar.xz, make-4k-fixture.sh):
 * GPT found at byte 4096 and its LBAs counted in 4 KiB; an MBR read with
 * 512-byte LBAs unless the sector size is set; the CLI options.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[4096], gpt[4200], mbr[4200];

static void cleanup(void)
{
	if (*root)
		tsh("rm -rf '%s'", root);
}

int main(void)
{
	const char *troot = getenv("KVMON_TEST_ROOT"), *kv = getenv("KVMON");
	struct kvmon_partition p[8];
	struct kvmon_disk *d;
	struct kvmon_fs *fs;
	char buf[64] = "";
	uint64_t ino;
	size_t n = 0;

	snprintf(root, sizeof(root), "%s/disk-4k-%d", troot ? troot : "/tmp",
		 (int)getpid());
	atexit(cleanup);
	if (tsh("mkdir -p '%s' && tar -C '%s' -xJf '%s'", root, root,
	       KVMON_4K_FIXTURE))
		bail("cannot unpack %s", KVMON_4K_FIXTURE);
	snprintf(gpt, sizeof(gpt), "%s/gpt-4k.img", root);
	snprintf(mbr, sizeof(mbr), "%s/mbr-4k.img", root);

	d = kvmon_disk_open_raw(gpt);
	ok(d && kvmon_disk_sector_size(d) == 512, "sector size 512 until known");
	ok(d && kvmon_disk_partitions(d, p, 8, &n) == 0 && n == 2,
	   "4Kn GPT (sgdisk): 2 partitions (%s)", n == 2 ? "" : kvmon_get_error());
	ok(n == 2 && p[0].start == 256ull * 4096 && p[0].size == 2048ull * 4096 &&
	   !strcmp(p[0].name, "one") && p[1].start == 3072ull * 4096 &&
	   p[1].size == 512ull * 4096, "offsets and sizes in 4 KiB LBAs");
	ok(kvmon_disk_sector_size(d) == 4096, "sector size detected: 4096");
	fs = kvmon_fs_open_part(d, 2);
	ok(fs && kvmon_fs_lookup(fs, "/hello", &ino) == 0 &&
	   kvmon_fs_pread(fs, ino, buf, sizeof(buf) - 1, 0) == 11 &&
	   !strcmp(buf, "4k sectors\n"), "ext4 in partition 2 reads");
	kvmon_fs_close(fs);
	kvmon_disk_close(d);

	d = kvmon_disk_open_raw(gpt);
	ok(d && kvmon_disk_set_sector_size(d, 512) == 0 &&
	   kvmon_disk_partitions(d, p, 8, &n) < 0 && n == 0,
	   "sector size set to 512: no GPT found (%s)", kvmon_get_error());
	ok(kvmon_disk_set_sector_size(d, 1000) < 0 && kvmon_get_errno() == EINVAL,
	   "sector size 1000: EINVAL");
	kvmon_disk_close(d);

	d = kvmon_disk_open_raw(mbr);
	ok(d && kvmon_disk_partitions(d, p, 8, &n) == 0 && n == 2 &&
	   p[0].start == 256ull * 512, "4Kn MBR, size not set: 512-byte LBAs");
	ok(kvmon_disk_set_sector_size(d, 4096) == 0 &&
	   kvmon_disk_partitions(d, p, 8, &n) == 0 && n == 2 &&
	   p[0].start == 256ull * 4096 && p[0].size == 1024ull * 4096 &&
	   p[1].start == 2048ull * 4096 && p[1].size == 512ull * 4096,
	   "4Kn MBR, sector size 4096: sfdisk's offsets");
	kvmon_disk_close(d);

	ok(kv && tsh("'%s' disk parts --image '%s' --json | grep -q '\"sector_size\": *4096'",
		    kv, gpt) == 0, "kvmon disk parts --json: sector_size 4096");
	ok(kv && tsh("'%s' disk parts --image '%s' --sector-size 4096 --json | "
		    "grep -q '\"start\": *1048576'", kv, mbr) == 0,
	   "kvmon disk parts --sector-size 4096 on the MBR");
	ok(kv && tsh("test \"$('%s' disk cat --image '%s' --partition 2 /hello)\" = '4k sectors'",
		    kv, gpt) == 0, "kvmon disk cat on the 4Kn GPT");
	ok(kv && tsh("'%s' disk parts --image '%s' --sector-size 1024 2>/dev/null; test $? = 2",
		    kv, gpt) == 0, "--sector-size 1024: exit 2");
	return tap_done();
}
