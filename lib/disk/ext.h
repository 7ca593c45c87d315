/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure ext superblock sanity check (ext.c; unit-tested and fuzzed). */
#ifndef KVMON_EXT_H
#define KVMON_EXT_H

#include <stddef.h>
#include <stdint.h>

/* sb: the 1024 bytes at offset 1024 of the volume; fs_bytes: its size.
 * 0 if the geometry is sane and fits, else -1 with the reason. */
int kvmon_ext_sb_check(const uint8_t *sb, size_t len, uint64_t fs_bytes);

#endif
