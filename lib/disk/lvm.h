/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LVM2 physical volumes read in user space (lvm.c): label, PV header,
 * metadata area (circular buffer) and the text metadata, mapped to
 * linear logical volumes. Internal; unit-tested and fuzzed.
 */
#ifndef KVMON_LVM_H
#define KVMON_LVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvmon_disk;

#define KVMON_LVM_MAX_SEGS 256          /* segments per LV */
#define KVMON_LVM_MAX_TEXT (4u << 20)   /* metadata text */
#define KVMON_LVM_MAX_NODES 65536       /* parsed values and sections */
#define KVMON_LVM_MAX_DEPTH 16          /* section nesting */

/* One piece of a volume: [lstart, lstart+len) of the volume is at
 * [pstart, pstart+len) of the disk. */
struct kvmon_vseg {
	uint64_t lstart, pstart, len;
};

struct kvmon_lv {
	char name[80];          /* "vg/lv" */
	char type[40];          /* "linear", or the refused segment type */
	char why[96];           /* why it cannot be opened; "" if linear */
	uint64_t size;
	size_t nsegs;
	struct kvmon_vseg seg[KVMON_LVM_MAX_SEGS];
};

/* LVM2's CRC (CRC-32, initial value 0xf597a6cf, no final inversion). */
uint32_t kvmon_lvm_crc(uint32_t crc, const void *buf, size_t len);

/*
 * Metadata text of one VG -> its visible LVs, mapped for the PV whose
 * UUID (32 characters, no dashes) is pv_uuid, whose data starts at disk
 * byte pv_off and which is pv_size bytes long. 0 with *n LVs, -1 if the
 * text is malformed (reason in the error).
 */
int kvmon_lvm_parse(const char *text, size_t len, const char *pv_uuid,
		    uint64_t pv_off, uint64_t pv_size, struct kvmon_lv *out,
		    size_t max, size_t *n);

/* LVs of the PV at [pv_off, pv_off+pv_size) of d: 0 and *n = 0 when there
 * is no LVM2 label there; -1 if there is one but it is damaged. */
int kvmon_lvm_scan(struct kvmon_disk *d, uint64_t pv_off, uint64_t pv_size,
		   struct kvmon_lv *out, size_t max, size_t *n);

#endif
