/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: a hostile ext2/3/4 image through our superblock check,
 * I/O manager and libext2fs: open, walk the tree (bounded), stat, read,
 * readlink. Seeds: tiny mke2fs images (fuzz/corpus/disk_ext).
 */
#include "kvmon.h"
#include "disk/disk_internal.h"

#include <stdint.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	struct kvmon_fs *fs;
	unsigned visits, depth;
};

static int walk_dir(struct walk *w, uint64_t ino);

static int cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct walk *w = opaque;
	struct kvmon_fs_stat st;
	char buf[512];

	(void)name, (void)type;
	if (++w->visits > 2000)
		return 1;
	if (kvmon_fs_stat(w->fs, ino, &st) < 0)
		return 0;
	kvmon_fs_listxattr(w->fs, ino, buf, sizeof(buf));
	kvmon_fs_getxattr(w->fs, ino, "user.kvmon", buf, sizeof(buf));
	if (S_ISDIR(st.mode) && w->depth < 8) {
		w->depth++;
		walk_dir(w, ino);
		w->depth--;
	} else if (S_ISREG(st.mode)) {
		kvmon_fs_pread(w->fs, ino, buf, sizeof(buf), 0);
	} else if (S_ISLNK(st.mode)) {
		kvmon_fs_readlink(w->fs, ino, buf, sizeof(buf));
	}
	return 0;
}

static int walk_dir(struct walk *w, uint64_t ino)
{
	return kvmon_fs_readdir(w->fs, ino, cb, w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_disk *d = kvmon_disk_open_mem(data, size);
	struct kvmon_fs *fs = d ? kvmon_fs_open(d, 0, 0) : NULL;

	if (fs) {
		struct walk w = { .fs = fs };
		uint64_t ino;

		walk_dir(&w, KVMON_FS_ROOT_INO);
		kvmon_fs_lookup(fs, "/a/b/../c/link/x", &ino);
	}
	kvmon_fs_close(fs);
	kvmon_disk_close(d);
	return 0;
}
