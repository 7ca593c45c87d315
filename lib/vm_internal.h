/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM handle, shared by vm.c (open/attach/stop/info), vm_launch.c and
 * mem/. Not installed. */
#ifndef KVMON_VM_INTERNAL_H
#define KVMON_VM_INTERNAL_H

#include "internal.h"

#include <limits.h>

struct kvmon_vm {
	char name[64];
	char dir[PATH_MAX];      /* run dir of a VM kvmon started, else "" */
	char qmp_path[PATH_MAX];
	char ctl_path[PATH_MAX];
	char console_path[PATH_MAX];
	char ram_path[PATH_MAX];
	char disk_path[PATH_MAX];    /* what the guest writes to */
	char overlay_path[PATH_MAX]; /* per-run overlay to delete, or "" */
	pid_t pid;
	int http_port;
	bool started_by_kvmon;
	struct kvmon_qmp *qmp;   /* connected lazily */
};

/* Write <dir>/vm.json describing vm. */
int kvmon_vm_save_state(const struct kvmon_vm *vm);
/* Release memory held by the handle (does not touch the VM). */
void kvmon_vm_free(struct kvmon_vm *vm);

/* A memory backend QEMU reports (query-memdev + QOM). */
struct kvmon_memdev {
	char id[64];
	char type[64];
	char path[PATH_MAX];
	uint64_t size;
	bool share;
};

/* Memory backends of the VM; fills up to max. */
int kvmon_vm_memdevs(struct kvmon_vm *vm, struct kvmon_memdev *out,
		     size_t max, size_t *count);

#endif
