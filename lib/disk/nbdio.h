/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libext2fs io_manager over a kvmon_disk window (nbdio.c). */
#ifndef KVMON_NBDIO_H
#define KVMON_NBDIO_H

#include <ext2fs/ext2fs.h>

struct kvmon_disk;

extern io_manager kvmon_nbdio_manager;
/* Set the disk window the next open of kvmon_nbdio_manager in this
 * thread uses (ext2fs_open2 passes only a name through). */
int kvmon_nbdio_prepare(struct kvmon_disk *d, uint64_t base, uint64_t size);
/* Drop a prepared window that was not consumed (open failed early). */
void kvmon_nbdio_unprepare(void);

#endif
