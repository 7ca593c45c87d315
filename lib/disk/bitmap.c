// SPDX-License-Identifier: LGPL-2.1-or-later
/* Dirty bitmaps as baseline markers (docs/disk.md, changed-part view). */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <errno.h>

struct kvmon_disk *kvmon_disk_open_vm_opts(struct kvmon_vm *vm,
					   const struct kvmon_disk_opts *o)
{
	if (!o)
		return kvmon_set_error(EINVAL, "no options"), NULL;
	if (o->track || o->since)
		return kvmon_set_error(ENOSYS, "dirty tracking not yet "
				       "implemented"), NULL;
	return kvmon_disk_open_vm(vm, o->node, o->workdir);
}

int kvmon_disk_bitmap_remove(struct kvmon_vm *vm, const char *node,
			     const char *name)
{
	(void)vm, (void)node, (void)name;
	return kvmon_set_error(ENOSYS, "not yet implemented");
}

int kvmon_disk_dirty(struct kvmon_disk *d, kvmon_disk_extent_fn fn,
		     void *opaque)
{
	(void)d, (void)fn, (void)opaque;
	return kvmon_set_error(ENODATA, "view not opened with since");
}
