// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmon disk baseline|changes|drop-baseline FILE: the changed-part-only
 * view (docs/disk.md). FILE holds the block map of the file system at the
 * baseline and names the VM's persistent dirty bitmap that marks it.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cli_why(unsigned why, char *buf, size_t size)
{
	static const char *const names[] = { "inode", "data", "dir",
					     "unattributed" };
	size_t len = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < 4; i++)
		if (why & (1u << i))
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
						"%s%s", len ? "," : "", names[i]);
	return buf;
}

static int do_baseline(struct cli *c, struct cli_disk *cd, const char *file,
		       const char *bitmap)
{
	char name[96];
	struct kvmon_fsmap *m;
	int rc = EXIT_OK;

	if (!bitmap) {
		snprintf(name, sizeof(name), "kvmon-base-%lld-%d",
			 (long long)time(NULL), (int)getpid());
		bitmap = name;
	}
	cd->track = bitmap;
	if (cli_open_disk(c, cd, true, true) < 0)
		return EXIT_ERROR;
	cli_progress("building the block map of the file system ...");
	m = kvmon_fsmap_build(cd->fs);
	cli_progress_done();
	if (!m || kvmon_fsmap_save(m, file) < 0) {
		rc = cli_lib_fail(c, file);
		/* No usable baseline: the bitmap would only cost. */
		cli_close_disk(c, cd);
		{
			struct kvmon_vm *vm = cli_open_vm(c);

			if (vm)
				kvmon_disk_bitmap_remove(vm, NULL, bitmap);
			kvmon_vm_close(vm);
		}
		kvmon_fsmap_free(m);
		return rc;
	}
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "baseline", json_object_new_string(file));
		json_object_object_add(o, "bitmap", json_object_new_string(kvmon_fsmap_bitmap(m)));
		json_object_object_add(o, "node", json_object_new_string(kvmon_fsmap_node(m)));
		cli_emit(o);
	} else {
		printf("baseline %s: bitmap %s on %s\n", file,
		       kvmon_fsmap_bitmap(m), kvmon_fsmap_node(m));
	}
	kvmon_fsmap_free(m);
	if (cli_close_disk(c, cd) != EXIT_OK)
		rc = EXIT_ERROR;
	return rc;
}

struct list {
	struct cli *c;
	struct json_object *arr;
	unsigned long added, changed, removed, same;
};

static int change_cb(void *opaque, const char *path, uint64_t ino, int change,
		     unsigned why)
{
	static const char *const words[] = { "same", "changed", "added",
					     "removed" };
	struct list *l = opaque;
	char w[64];

	switch (change) {
	case KVMON_CHANGE_SAME: l->same++; return 0;
	case KVMON_CHANGE_MAYBE: l->changed++; break;
	case KVMON_CHANGE_ADDED: l->added++; break;
	case KVMON_CHANGE_REMOVED: l->removed++; break;
	default: return 0;
	}
	cli_why(why, w, sizeof(w));
	if (l->c->json) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "path", json_object_new_string(path));
		json_object_object_add(e, "ino", json_object_new_uint64(ino));
		json_object_object_add(e, "change", json_object_new_string(words[change]));
		json_object_object_add(e, "why", json_object_new_string(w));
		json_object_array_add(l->arr, e);
	} else {
		printf("%-8s %s%s%s%s\n", words[change], path, *w ? " (" : "", w,
		       *w ? ")" : "");
	}
	return 0;
}

static int do_changes(struct cli *c, struct cli_disk *cd, const char *file)
{
	struct list l = { .c = c };
	struct kvmon_fsmap *m = kvmon_fsmap_load(file);
	int rc;

	if (!m)
		return cli_lib_fail(c, file);
	if (!*kvmon_fsmap_bitmap(m)) {
		kvmon_fsmap_free(m);
		return cli_fail(c, "%s names no dirty bitmap", file);
	}
	cd->since = kvmon_fsmap_bitmap(m);
	cd->node = *kvmon_fsmap_node(m) ? kvmon_fsmap_node(m) : NULL;
	if (cli_open_disk(c, cd, true, true) < 0) {
		kvmon_fsmap_free(m);
		return EXIT_ERROR;
	}
	if (c->json)
		l.arr = json_object_new_array();
	cli_progress("comparing with the baseline ...");
	rc = kvmon_fs_changes(cd->fs, cd->d, m, change_cb, &l);
	cli_progress_done();
	if (rc < 0) {
		rc = cli_lib_fail(c, "changes");
		json_object_put(l.arr);
	} else {
		rc = (l.added || l.changed || l.removed) ? EXIT_FINDINGS : EXIT_OK;
		if (c->json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "baseline", json_object_new_string(file));
			json_object_object_add(o, "bitmap", json_object_new_string(kvmon_fsmap_bitmap(m)));
			json_object_object_add(o, "changes", l.arr);
			json_object_object_add(o, "added", json_object_new_uint64(l.added));
			json_object_object_add(o, "changed", json_object_new_uint64(l.changed));
			json_object_object_add(o, "removed", json_object_new_uint64(l.removed));
			json_object_object_add(o, "same", json_object_new_uint64(l.same));
			cli_emit(o);
		} else {
			printf("%lu added, %lu changed, %lu removed, %lu unchanged\n",
			       l.added, l.changed, l.removed, l.same);
		}
	}
	if (cli_close_disk(c, cd) != EXIT_OK)
		rc = EXIT_ERROR;
	kvmon_fsmap_free(m);
	return rc;
}

static int do_drop(struct cli *c, const char *file)
{
	struct kvmon_fsmap *m = kvmon_fsmap_load(file);
	struct kvmon_vm *vm;
	int rc = EXIT_OK;

	if (!m)
		return cli_lib_fail(c, file);
	vm = cli_open_vm(c);
	if (!vm) {
		kvmon_fsmap_free(m);
		return EXIT_ERROR;
	}
	if (kvmon_disk_bitmap_remove(vm, *kvmon_fsmap_node(m) ?
				     kvmon_fsmap_node(m) : NULL,
				     kvmon_fsmap_bitmap(m)) < 0)
		rc = cli_lib_fail(c, "removing the bitmap");
	else if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "removed", json_object_new_string(kvmon_fsmap_bitmap(m)));
		cli_emit(o);
	}
	kvmon_vm_close(vm);
	kvmon_fsmap_free(m);
	return rc;
}

int cli_disk_baseline(struct cli *c, struct cli_disk *cd, const char *sub,
		      const char *file, const char *bitmap)
{
	if (cd->image)
		return cli_fail(c, "baselines need a running VM: no --image");
	if (cd->volume)
		return cli_fail(c, "baselines on LVM volumes are not supported");
	if (!strcmp(sub, "baseline"))
		return do_baseline(c, cd, file, bitmap);
	if (bitmap)
		return cli_fail(c, "--bitmap is for baseline only");
	if (!strcmp(sub, "changes"))
		return do_changes(c, cd, file);
	return do_drop(c, file);
}
