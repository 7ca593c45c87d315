// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Partition tables: MBR (primary + logical partitions in an extended
 * one) and GPT (primary header, backup if the primary is damaged). The
 * table is hostile: every count, size and offset is checked, the logical
 * partition chain is capped, and partitions reaching past the disk are
 * cut at its end. Sectors are 512 bytes unless set (or, for a block
 * device, reported by the kernel) otherwise; a GPT is also looked for with
 * 4096-byte sectors (4Kn disks), which then sets the sector size.
 */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512u     /* the MBR and the bytes read of each EBR */
#define MAX_SECTOR 4096u
#define GPT_MAX_ENTRIES 1024u
#define GPT_MAX_TABLE (1u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
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

struct plist {
	struct kvmon_partition *out;
	size_t max, n;
	uint64_t disk;
	unsigned ss;    /* sector size in use */
};

static int add(struct plist *l, const char *scheme, unsigned index,
	       uint64_t start_lba, uint64_t nsect, const char *type,
	       const char *name)
{
	struct kvmon_partition *p;
	uint64_t start, size;

	if (!nsect || start_lba > l->disk / l->ss)
		return 0; /* empty or entirely outside the disk: ignored */
	start = start_lba * l->ss;
	if (start >= l->disk)
		return 0;
	size = nsect > (l->disk - start) / l->ss ? l->disk - start
						: nsect * l->ss;
	if (l->n >= l->max)
		return kvmon_set_error(E2BIG, "more than %zu partitions", l->max);
	p = &l->out[l->n++];
	memset(p, 0, sizeof(*p));
	p->index = index;
	p->start = start;
	p->size = size;
	snprintf(p->scheme, sizeof(p->scheme), "%s", scheme);
	snprintf(p->type, sizeof(p->type), "%s", type);
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	return 0;
}

static void guid_str(const uint8_t *g, char *out, size_t size)
{
	snprintf(out, size,
		 "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 le32(g), (unsigned)(g[4] | g[5] << 8),
		 (unsigned)(g[6] | g[7] << 8), g[8], g[9], g[10], g[11], g[12],
		 g[13], g[14], g[15]);
}

/* GPT header at lba; 0 and fills the list if valid, 1 if not a valid
 * header (try the other copy), -1 on I/O or list errors. */
static int gpt_at(struct kvmon_disk *d, uint64_t lba, struct plist *l)
{
	uint8_t hdr[MAX_SECTOR], *tab = NULL;
	uint32_t hsize, nent, esize, crc;
	uint64_t tab_lba, tab_bytes;
	int rc = 1;

	if (lba > l->disk / l->ss - 1 ||
	    kvmon_disk_read(d, lba * l->ss, hdr, l->ss) < 0)
		return 1;
	if (memcmp(hdr, "EFI PART", 8))
		return 1;
	hsize = le32(hdr + 12);
	if (hsize < 92 || hsize > l->ss)
		return 1;
	crc = le32(hdr + 16);
	memset(hdr + 16, 0, 4);
	if (crc32_le(hdr, hsize) != crc)
		return 1;
	tab_lba = le64(hdr + 72);
	nent = le32(hdr + 80);
	esize = le32(hdr + 84);
	if (nent == 0 || nent > GPT_MAX_ENTRIES || esize < 128 ||
	    esize > 4096 || esize % 8)
		return 1;
	tab_bytes = (uint64_t)nent * esize;
	if (tab_bytes > GPT_MAX_TABLE || tab_lba > l->disk / l->ss ||
	    tab_bytes > l->disk - tab_lba * l->ss)
		return 1;
	tab = malloc(tab_bytes);
	if (!tab)
		return kvmon_set_error(ENOMEM, "out of memory");
	if (kvmon_disk_read(d, tab_lba * l->ss, tab, tab_bytes) < 0 ||
	    crc32_le(tab, tab_bytes) != le32(hdr + 88))
		goto out;
	rc = 0;
	for (uint32_t i = 0; i < nent && rc == 0; i++) {
		const uint8_t *e = tab + (size_t)i * esize;
		static const uint8_t zero[16];
		char type[40], name[80];
		uint64_t first = le64(e + 32), last = le64(e + 40);
		size_t k;

		if (!memcmp(e, zero, 16))
			continue;
		if (last < first)
			continue; /* hostile: ignored */
		guid_str(e, type, sizeof(type));
		/* UTF-16LE name, kept to printable ASCII. */
		for (k = 0; k < 36 && k < sizeof(name) - 1; k++) {
			uint16_t c = (uint16_t)(e[56 + 2 * k] | e[57 + 2 * k] << 8);

			if (!c)
				break;
			name[k] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		name[k] = 0;
		if (add(l, "gpt", i + 1, first, last - first + 1, type, name) < 0)
			rc = -1;
	}
out:
	free(tab);
	return rc;
}

static bool is_extended(uint8_t t)
{
	return t == 0x05 || t == 0x0f || t == 0x85;
}

static int mbr_logical(struct kvmon_disk *d, uint64_t ext_lba,
		       uint64_t ext_len, struct plist *l)
{
	uint64_t ebr = ext_lba;
	unsigned index = 5;

	/* Each EBR links to the next; a loop or a long chain stops at the cap. */
	for (unsigned hop = 0; hop < KVMON_MAX_PARTITIONS; hop++) {
		uint8_t s[SECTOR];
		const uint8_t *e0 = s + 446, *e1 = s + 462;
		char type[8];
		uint64_t next;

		if (ebr > l->disk / l->ss - 1 ||
		    kvmon_disk_read(d, ebr * l->ss, s, SECTOR) < 0 ||
		    s[510] != 0x55 || s[511] != 0xaa)
			return 0;
		if (e0[4] && !is_extended(e0[4])) {
			snprintf(type, sizeof(type), "0x%02x", e0[4]);
			if (add(l, "mbr", index++, ebr + le32(e0 + 8),
				le32(e0 + 12), type, NULL) < 0)
				return -1;
		}
		if (!is_extended(e1[4]) || !le32(e1 + 8))
			return 0;
		next = ext_lba + le32(e1 + 8);
		if (next <= ebr || next >= ext_lba + ext_len)
			return 0; /* must move forward inside the extended one */
		ebr = next;
	}
	return 0;
}

/* GPT with sector size ss: primary, else backup. 1 if neither is valid. */
static int gpt(struct kvmon_disk *d, struct plist *l, unsigned ss)
{
	int rc;

	l->ss = ss;
	l->n = 0;
	if (l->disk < 2ull * ss)
		return 1;
	rc = gpt_at(d, 1, l);
	if (rc == 1) {
		l->n = 0;
		rc = gpt_at(d, l->disk / ss - 1, l);
	}
	return rc;
}

int kvmon_disk_set_sector_size(struct kvmon_disk *d, unsigned size)
{
	if (!d || (size && size != 512 && size != 4096))
		return kvmon_set_error(EINVAL, "sector size %u: use 512 or "
				       "4096 (0: detect)", size);
	d->sector_set = size;
	d->sector_size = size;
	return 0;
}

unsigned kvmon_disk_sector_size(const struct kvmon_disk *d)
{
	return d && d->sector_size ? d->sector_size : SECTOR;
}

int kvmon_disk_partitions(struct kvmon_disk *d, struct kvmon_partition *out,
			  size_t max, size_t *count)
{
	struct plist l = { .out = out, .max = max, .disk = kvmon_disk_size(d) };
	uint8_t mbr[SECTOR];
	bool protective = false;
	int rc;

	if (!d || !count || (!out && max))
		return kvmon_set_error(EINVAL, "partitions: bad arguments");
	*count = 0;
	l.ss = kvmon_disk_sector_size(d);
	if (l.disk < 2 * SECTOR)
		return 0;
	if (kvmon_disk_read(d, 0, mbr, SECTOR) < 0)
		return -1;
	if (mbr[510] != 0x55 || mbr[511] != 0xaa)
		return 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = mbr + 446 + 16 * i;

		/* Boot flag must be 0 or 0x80: else this is no MBR (a VBR,
		 * or data that happens to end in 55 aa). */
		if (e[0] != 0 && e[0] != 0x80)
			return 0;
		if (e[4] == 0xee)
			protective = true;
	}
	if (protective) {
		/* The set size only; else the current guess, then the other
		 * one (512 or 4096: 4Kn disks). */
		unsigned ss = l.ss;

		rc = gpt(d, &l, ss);
		if (rc == 1 && !d->sector_set)
			rc = gpt(d, &l, ss == SECTOR ? MAX_SECTOR : SECTOR);
		if (rc == 1)
			return kvmon_set_error(EINVAL, "protective MBR but no "
					       "valid GPT header");
		if (rc == 0)
			d->sector_size = l.ss;
		*count = l.n;
		return rc;
	}
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = mbr + 446 + 16 * i;
		char type[8];

		if (!e[4])
			continue;
		snprintf(type, sizeof(type), "0x%02x", e[4]);
		if (add(&l, "mbr", (unsigned)i + 1, le32(e + 8), le32(e + 12),
			type, NULL) < 0)
			return -1;
		if (is_extended(e[4]) &&
		    mbr_logical(d, le32(e + 8), le32(e + 12), &l) < 0)
			return -1;
	}
	*count = l.n;
	return 0;
}
