// SPDX-License-Identifier: LGPL-2.1-or-later
/* Baseline block map of an ext file system (docs/disk.md). */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <errno.h>

struct kvmon_fsmap *kvmon_fsmap_build(struct kvmon_fs *fs)
{
	(void)fs;
	return kvmon_set_error(ENOSYS, "not yet implemented"), NULL;
}

int kvmon_fsmap_set_marker(struct kvmon_fsmap *m, const char *node,
			   const char *bitmap)
{
	(void)m, (void)node, (void)bitmap;
	return kvmon_set_error(ENOSYS, "not yet implemented");
}

const char *kvmon_fsmap_node(const struct kvmon_fsmap *m)
{
	(void)m;
	return "";
}

const char *kvmon_fsmap_bitmap(const struct kvmon_fsmap *m)
{
	(void)m;
	return "";
}

int kvmon_fsmap_save(const struct kvmon_fsmap *m, const char *path)
{
	(void)m, (void)path;
	return kvmon_set_error(ENOSYS, "not yet implemented");
}

struct kvmon_fsmap *kvmon_fsmap_load(const char *path)
{
	(void)path;
	return kvmon_set_error(ENOSYS, "not yet implemented"), NULL;
}

void kvmon_fsmap_free(struct kvmon_fsmap *m)
{
	(void)m;
}

int kvmon_fs_changes(struct kvmon_fs *fs, struct kvmon_disk *d,
		     const struct kvmon_fsmap *base, kvmon_change_fn fn,
		     void *opaque)
{
	(void)fs, (void)d, (void)base, (void)fn, (void)opaque;
	return kvmon_set_error(ENOSYS, "not yet implemented");
}
