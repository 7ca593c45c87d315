/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure ext superblock sanity check (ext.c; unit-tested and fuzzed). */
#ifndef KVMON_EXT_H
#define KVMON_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* sb: the 1024 bytes at offset 1024 of the volume; fs_bytes: its size.
 * 0 if the geometry is sane and fits, else -1 with the reason. */
int kvmon_ext_sb_check(const uint8_t *sb, size_t len, uint64_t fs_bytes);

/* For the block map (fsmap.c): the libext2fs handle, its recursive lock
 * (held around direct libext2fs calls), the volume's offset and disk. */
struct kvmon_fs;
struct kvmon_disk;
struct struct_ext2_filsys;
struct struct_ext2_filsys *kvmon_fs_ext2(struct kvmon_fs *f);
void kvmon_fs_lock(struct kvmon_fs *f, bool lock);
uint64_t kvmon_fs_offset(const struct kvmon_fs *f);
struct kvmon_disk *kvmon_fs_disk(const struct kvmon_fs *f);

#endif
