// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Partition tables on synthetic disks: MBR primaries, a logical chain in
 * an extended partition (and a looping one), GPT with valid CRCs, a
 * damaged primary GPT header (backup used), hostile counts and sizes.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "disk/disk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1u << 20)
static uint8_t disk[8 * MiB];

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t crc32_le(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static void mbr_entry(uint8_t *sec, int i, uint8_t type, uint32_t lba,
		      uint32_t n)
{
	uint8_t *e = sec + 446 + 16 * i;

	e[4] = type;
	put32(e + 8, lba);
	put32(e + 12, n);
	sec[510] = 0x55;
	sec[511] = 0xaa;
}

static int parts(struct kvmon_partition *p, size_t max, size_t *n)
{
	struct kvmon_disk *d = kvmon_disk_open_mem(disk, sizeof(disk));
	int rc = kvmon_disk_partitions(d, p, max, n);

	kvmon_disk_close(d);
	return rc;
}

/* GPT header at lba, entries at elba; nent entries of 128 bytes. */
static void gpt_write(uint64_t lba, uint64_t elba, uint32_t nent)
{
	uint8_t *h = disk + lba * 512, *t = disk + elba * 512;

	memset(h, 0, 512);
	memcpy(h, "EFI PART", 8);
	put32(h + 8, 0x00010000);
	put32(h + 12, 92);
	put64(h + 24, lba);
	put64(h + 72, elba);
	put32(h + 80, nent);
	put32(h + 84, 128);
	put32(h + 88, crc32_le(t, (size_t)nent * 128));
	put32(h + 16, crc32_le(h, 92));
}

static void gpt_entry(uint64_t elba, int i, uint64_t first, uint64_t last,
		      const char *name)
{
	uint8_t *e = disk + elba * 512 + 128 * i;

	/* Linux filesystem data 0fc63daf-8483-4772-8e79-3d69d8477de4 */
	static const uint8_t linux_fs[16] = { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84,
		0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 };
	memcpy(e, linux_fs, 16);
	e[16] = (uint8_t)i + 1;
	put64(e + 32, first);
	put64(e + 40, last);
	for (size_t k = 0; name[k]; k++)
		e[56 + 2 * k] = (uint8_t)name[k];
}

int main(void)
{
	struct kvmon_partition p[KVMON_MAX_PARTITIONS];
	size_t n = 99;
	int rc;

	ok(parts(p, KVMON_MAX_PARTITIONS, &n) == 0 && n == 0,
	   "blank disk: no partitions");

	/* MBR: two primaries and an extended one with two logicals. */
	mbr_entry(disk, 0, 0x83, 2048, 2048);
	mbr_entry(disk, 1, 0x82, 4096, 1024);
	mbr_entry(disk, 2, 0x05, 6144, 8192);
	mbr_entry(disk + 6144 * 512, 0, 0x83, 63, 1000);
	mbr_entry(disk + 6144 * 512, 1, 0x05, 2048, 2048);
	mbr_entry(disk + 8192 * 512, 0, 0x8e, 63, 1000);
	rc = parts(p, KVMON_MAX_PARTITIONS, &n);
	ok(rc == 0 && n == 5, "MBR: 3 primary + 2 logical (n=%zu)", n);
	ok(n == 5 && p[0].index == 1 && p[0].start == 2048 * 512ull &&
	   p[0].size == 2048 * 512ull && !strcmp(p[0].type, "0x83") &&
	   !strcmp(p[0].scheme, "mbr"), "first primary: offset, size, type");
	ok(n == 5 && p[3].index == 5 && p[3].start == (6144 + 63) * 512ull &&
	   p[4].index == 6 && p[4].start == (8192 + 63) * 512ull &&
	   !strcmp(p[4].type, "0x8e"), "logical partitions numbered 5, 6");

	/* EBR chain pointing back to itself: stops, no hang. */
	mbr_entry(disk + 8192 * 512, 1, 0x05, 0, 2048);
	put32(disk + 8192 * 512 + 462 + 8, 0); /* relative 0 = the first EBR */
	mbr_entry(disk + 8192 * 512, 1, 0x05, 0, 2048);
	rc = parts(p, KVMON_MAX_PARTITIONS, &n);
	ok(rc == 0 && n == 5, "EBR loop stops (n=%zu)", n);

	/* Partition reaching past the disk is cut at its end; one starting
	 * past the end is ignored. */
	memset(disk, 0, sizeof(disk));
	mbr_entry(disk, 0, 0x83, 2048, 0xffffffffu);
	mbr_entry(disk, 1, 0x83, 0xfffffff0u, 100);
	rc = parts(p, KVMON_MAX_PARTITIONS, &n);
	ok(rc == 0 && n == 1 && p[0].start + p[0].size == sizeof(disk),
	   "oversized partition clipped, out-of-disk one ignored");

	/* Not an MBR: boot flag garbage. */
	disk[446] = 0x42;
	ok(parts(p, KVMON_MAX_PARTITIONS, &n) == 0 && n == 0,
	   "invalid boot flag: not a partition table");

	/* GPT. */
	memset(disk, 0, sizeof(disk));
	mbr_entry(disk, 0, 0xee, 1, sizeof(disk) / 512 - 1);
	gpt_entry(2, 0, 2048, 4095, "root");
	gpt_entry(2, 1, 4096, 8191, "data\x01");
	gpt_write(1, 2, 128);
	rc = parts(p, KVMON_MAX_PARTITIONS, &n);
	ok(rc == 0 && n == 2, "GPT: 2 partitions (rc=%d n=%zu %s)", rc, n,
	   rc ? kvmon_get_error() : "");
	ok(n == 2 && !strcmp(p[0].scheme, "gpt") && p[0].start == 2048 * 512ull &&
	   p[0].size == 2048 * 512ull && !strcmp(p[0].name, "root") &&
	   !strcmp(p[0].type, "0fc63daf-8483-4772-8e79-3d69d8477de4"),
	   "GPT entry: offset, size, name, type GUID (%s)", n ? p[0].type : "");
	ok(n == 2 && !strcmp(p[1].name, "data?"), "control chars in names masked");

	/* Primary header damaged: the backup at the last LBA is used. */
	{
		uint64_t last = sizeof(disk) / 512 - 1, elba = last - 32;

		memcpy(disk + elba * 512, disk + 2 * 512, 128 * 128);
		gpt_write(last, elba, 128);
		disk[512 + 20] ^= 0xff; /* breaks the primary's CRC */
		rc = parts(p, KVMON_MAX_PARTITIONS, &n);
		ok(rc == 0 && n == 2, "damaged primary GPT: backup used (n=%zu)", n);
		disk[last * 512 + 20] ^= 0xff;
		rc = parts(p, KVMON_MAX_PARTITIONS, &n);
		ok(rc < 0 && n == 0, "both GPT headers damaged: clear error (%s)",
		   kvmon_get_error());
	}

	/* Hostile GPT: absurd entry count is refused, not allocated. */
	memset(disk + 512, 0, 512);
	gpt_write(1, 2, 128);
	put32(disk + 512 + 80, 0x7fffffff);
	put32(disk + 512 + 16, 0);
	put32(disk + 512 + 16, crc32_le(disk + 512, 92));
	memset(disk + (sizeof(disk) / 512 - 1) * 512, 0, 512);
	rc = parts(p, KVMON_MAX_PARTITIONS, &n);
	ok(rc < 0, "GPT with 2^31 entries refused");

	/* More partitions than the caller's array: E2BIG, no overflow. */
	memset(disk, 0, sizeof(disk));
	mbr_entry(disk, 0, 0xee, 1, sizeof(disk) / 512 - 1);
	for (int i = 0; i < 20; i++)
		gpt_entry(2, i, 2048 + 100 * (uint64_t)i, 2048 + 100 * (uint64_t)i + 99, "p");
	gpt_write(1, 2, 128);
	rc = parts(p, 4, &n);
	ok(rc < 0, "20 partitions into an array of 4: error, no overflow");
	return tap_done();
}
