// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Image fleecing: a point-in-time, read-only NBD export of a running VM's
 * disk over QMP (docs/disk.md, sequence verified in the design notes).
 *
 *   write            TMP.qcow2, an empty qcow2 of the node's size
 *                    (overlay.c; no qemu-img exec)
 *   blockdev-add     qcow2 node TAG on TMP, backing = the disk node
 *   blockdev-backup  disk -> TAG, sync=none (copy-before-write: a guest
 *                    write first copies the old block into TMP)
 *   nbd-server-start unix socket; block-export-add TAG writable=false
 *
 * Everything gets a name "kvmon-fleece-PID-N" so that teardown is exact
 * and a later export can sweep what a killed process left behind (its PID
 * is dead). QMP is released after set-up: QEMU serves one QMP client.
 */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define TAG_PREFIX "kvmon-fleece-"

enum { ST_FILE = 1, ST_NODE = 2, ST_JOB = 4, ST_SERVER = 8, ST_EXPORT = 16,
       ST_BITMAP = 32 /* temporary frozen copy of opts.since */ };

struct kvmon_fleece {
	struct kvmon_vm *vm;
	unsigned state;
	char tag[64];
	char node[128];
	char bitmap[96];    /* temporary bitmap (TAG-since), or "" */
	uint32_t gran;      /* granularity of track, else of since; 0 unknown */
	uint32_t since_gran; /* of since (0: not reported, QEMU's default) */
	char track[128];    /* bitmap created for opts.track, or "" */
	char tmp[4096];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static atomic_uint fleece_seq;

const char *kvmon_fleece_socket(const struct kvmon_fleece *f)
{
	return f->sock;
}

const char *kvmon_fleece_export_name(const struct kvmon_fleece *f)
{
	return f->tag;
}

const char *kvmon_fleece_bitmap(const struct kvmon_fleece *f)
{
	return f->bitmap[0] ? f->bitmap : NULL;
}

const char *kvmon_fleece_node(const struct kvmon_fleece *f)
{
	return f->node;
}

const char *kvmon_fleece_track(const struct kvmon_fleece *f)
{
	return f->track[0] ? f->track : NULL;
}

uint32_t kvmon_fleece_granularity(const struct kvmon_fleece *f)
{
	return f->gran;
}

static struct json_object *jstr(const char *s)
{
	return json_object_new_string(s);
}

/* Run a command whose args are built here; args is released. */
static int call(struct kvmon_qmp *q, const char *cmd, struct json_object *args,
		struct json_object **ret)
{
	int rc = kvmon_qmp_call(q, cmd, args, ret);

	json_object_put(args);
	return rc;
}

static const char *jget_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The node of the first disk with a medium (query-block). */
static int first_disk_node(struct kvmon_qmp *q, char *out, size_t size)
{
	struct json_object *ret = NULL, *ins;
	int rc = -1;

	if (kvmon_qmp_call(q, "query-block", NULL, &ret) < 0)
		return -1;
	if (json_object_is_type(ret, json_type_array))
		for (size_t i = 0; i < json_object_array_length(ret); i++) {
			struct json_object *e = json_object_array_get_idx(ret, i);
			const char *n;

			if (!json_object_object_get_ex(e, "inserted", &ins))
				continue;
			n = jget_str(ins, "node-name");
			if (n && kvmon_strlcpy(out, n, size) == 0) {
				rc = 0;
				break;
			}
		}
	json_object_put(ret);
	if (rc < 0)
		kvmon_set_error(ENODEV, "the VM has no disk with a named node");
	return rc;
}

static int node_size(struct kvmon_qmp *q, const char *node, uint64_t *size)
{
	struct json_object *args = json_object_new_object(), *ret = NULL;
	int rc = -1;

	json_object_object_add(args, "flat", json_object_new_boolean(1));
	if (call(q, "query-named-block-nodes", args, &ret) < 0)
		return -1;
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		struct json_object *e = json_object_array_get_idx(ret, i), *img, *vs;
		const char *n = jget_str(e, "node-name");

		if (!n || strcmp(n, node))
			continue;
		if (json_object_object_get_ex(e, "image", &img) &&
		    json_object_object_get_ex(img, "virtual-size", &vs) &&
		    json_object_get_int64(vs) > 0) {
			*size = (uint64_t)json_object_get_int64(vs);
			rc = 0;
		}
		break;
	}
	json_object_put(ret);
	if (rc < 0)
		kvmon_set_error(ENODEV, "block node '%s' not found", node);
	return rc;
}

/* 1 if node carries a dirty bitmap called name (its granularity in
 * *gran if gran), 0 if not, -1 on error. */
static int has_bitmap(struct kvmon_qmp *q, const char *node, const char *name,
		      uint32_t *gran)
{
	struct json_object *args = json_object_new_object(), *ret = NULL, *bms;
	int found = 0;

	json_object_object_add(args, "flat", json_object_new_boolean(1));
	if (call(q, "query-named-block-nodes", args, &ret) < 0)
		return -1;
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		struct json_object *e = json_object_array_get_idx(ret, i);
		const char *n = jget_str(e, "node-name");

		if (!n || strcmp(n, node) ||
		    !json_object_object_get_ex(e, "dirty-bitmaps", &bms))
			continue;
		for (size_t j = 0; json_object_is_type(bms, json_type_array) &&
				   j < json_object_array_length(bms); j++) {
			struct json_object *bm = json_object_array_get_idx(bms, j), *g;
			const char *b = jget_str(bm, "name");

			if (!b || strcmp(b, name))
				continue;
			found = 1;
			if (gran && json_object_object_get_ex(bm, "granularity", &g) &&
			    json_object_get_int64(g) > 0 &&
			    json_object_get_int64(g) <= INT32_MAX)
				*gran = (uint32_t)json_object_get_int64(g);
		}
	}
	json_object_put(ret);
	return found;
}

/* PID encoded in a tag, or 0 if it is not one of ours. */
static pid_t tag_pid(const char *tag)
{
	char *end;
	long v;

	if (!tag || strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)))
		return 0;
	v = strtol(tag + strlen(TAG_PREFIX), &end, 10);
	return (*end == '-' && v > 0 && v < INT32_MAX) ? (pid_t)v : 0;
}

static bool tag_stale(const char *tag)
{
	pid_t p = tag_pid(tag);

	return p > 0 && p != getpid() && !kvmon_pid_alive(p);
}

/* Is the id still listed by a query (exports: "id", jobs: "id")? */
static int listed(struct kvmon_qmp *q, const char *query, const char *id)
{
	struct json_object *ret = NULL;
	int found = 0;

	if (kvmon_qmp_call(q, query, NULL, &ret) < 0)
		return -1;
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		const char *n = jget_str(json_object_array_get_idx(ret, i), "id");

		if (n && !strcmp(n, id))
			found = 1;
	}
	json_object_put(ret);
	return found;
}

/* Export deletion and job cancellation complete asynchronously, usually
 * within a millisecond: poll from 1 ms up to 10 ms. */
static void wait_gone(struct kvmon_qmp *q, const char *query, const char *id)
{
	int64_t deadline = kvmon_now_ms() + 10000;
	useconds_t pause = 1000;

	while (listed(q, query, id) == 1 && kvmon_now_ms() < deadline) {
		usleep(pause);
		if (pause < 10000)
			pause *= 2;
	}
}

static int remove_bitmap(struct kvmon_qmp *q, const char *node,
			 const char *name)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "node", jstr(node));
	json_object_object_add(a, "name", jstr(name));
	return call(q, "block-dirty-bitmap-remove", a, NULL);
}

static int teardown(struct kvmon_qmp *q, unsigned state, const char *tag,
		    const char *tmp, const char *sock)
{
	struct json_object *a;
	int rc = 0;

	if (state & ST_EXPORT) {
		a = json_object_new_object();
		json_object_object_add(a, "id", jstr(tag));
		json_object_object_add(a, "mode", jstr("hard"));
		if (call(q, "block-export-del", a, NULL) < 0)
			rc = -1;
		wait_gone(q, "query-block-exports", tag);
	}
	if (state & ST_SERVER)
		if (kvmon_qmp_call(q, "nbd-server-stop", NULL, NULL) < 0)
			rc = -1;
	if (state & ST_JOB) {
		a = json_object_new_object();
		json_object_object_add(a, "device", jstr(tag));
		json_object_object_add(a, "force", json_object_new_boolean(1));
		if (call(q, "block-job-cancel", a, NULL) < 0)
			rc = -1;
		wait_gone(q, "query-block-jobs", tag);
	}
	if (state & ST_NODE) {
		a = json_object_new_object();
		json_object_object_add(a, "node-name", jstr(tag));
		if (call(q, "blockdev-del", a, NULL) < 0)
			rc = -1;
	}
	if ((state & ST_FILE) && tmp && *tmp)
		unlink(tmp);
	if (sock && *sock)
		unlink(sock);
	return rc;
}

/* Temporary bitmaps of dead owners on node entry e (named TAG-since). */
static void sweep_bitmaps(struct kvmon_qmp *q, struct json_object *e,
			  const char *node)
{
	struct json_object *bms;

	if (!node || !json_object_object_get_ex(e, "dirty-bitmaps", &bms) ||
	    !json_object_is_type(bms, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(bms) && i < 1024; i++) {
		const char *n = jget_str(json_object_array_get_idx(bms, i), "name");

		if (tag_stale(n)) {
			kvmon_log(KVMON_LOG_WARN, "removing stale bitmap %s", n);
			remove_bitmap(q, node, n);
		}
	}
}

/* Remove exports, jobs and nodes of fleecing exports whose process died
 * (SIGKILL, crash): without this they would stay in QEMU forever. */
static void sweep_stale(struct kvmon_qmp *q)
{
	struct json_object *ret = NULL, *args;
	bool any = false, live = false;

	if (kvmon_qmp_call(q, "query-block-exports", NULL, &ret) == 0) {
		for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
				   i < json_object_array_length(ret); i++) {
			const char *id = jget_str(json_object_array_get_idx(ret, i), "id");

			if (tag_stale(id)) {
				teardown(q, ST_EXPORT, id, NULL, NULL);
				any = true;
			} else if (tag_pid(id)) {
				live = true;
			}
		}
		json_object_put(ret);
	}
	if (any && !live)
		kvmon_qmp_call(q, "nbd-server-stop", NULL, NULL);
	ret = NULL;
	if (kvmon_qmp_call(q, "query-block-jobs", NULL, &ret) == 0) {
		for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
				   i < json_object_array_length(ret); i++) {
			const char *id = jget_str(json_object_array_get_idx(ret, i), "device");

			if (tag_stale(id))
				teardown(q, ST_JOB, id, NULL, NULL);
		}
		json_object_put(ret);
	}
	ret = NULL;
	args = json_object_new_object();
	json_object_object_add(args, "flat", json_object_new_boolean(1));
	if (call(q, "query-named-block-nodes", args, &ret) == 0) {
		for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
				   i < json_object_array_length(ret); i++) {
			struct json_object *e = json_object_array_get_idx(ret, i);
			const char *id = jget_str(e, "node-name");
			const char *file = jget_str(e, "file");

			size_t fl = file ? strlen(file) : 0;

			sweep_bitmaps(q, e, id);
			if (!tag_stale(id))
				continue;
			/* The "-file" child goes with its qcow2 parent; its
			 * name is the overlay's path. Only files we named
			 * ourselves are unlinked: .../kvmon-fleece-*.qcow2
			 * and the socket next to it. */
			if (fl > 6 && fl < 4000 && strlen(id) > 5 &&
			    !strcmp(id + strlen(id) - 5, "-file")) {
				const char *base = strrchr(file, '/');

				if (base && !strncmp(base + 1, TAG_PREFIX,
						     strlen(TAG_PREFIX)) &&
				    !strcmp(file + fl - 6, ".qcow2")) {
					char sock[4096];

					unlink(file);
					snprintf(sock, sizeof(sock), "%.*s.sock",
						 (int)(fl - 6), file);
					unlink(sock);
				}
				continue;
			}
			kvmon_log(KVMON_LOG_WARN, "removing stale fleecing node %s", id);
			teardown(q, ST_NODE, id, NULL, NULL);
		}
		json_object_put(ret);
	}
}

static struct json_object *action(const char *type, struct json_object *data)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "type", jstr(type));
	json_object_object_add(a, "data", data);
	return a;
}

static struct json_object *bitmap_add(const char *node, const char *name,
				      uint32_t gran, bool persistent,
				      bool disabled)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "node", jstr(node));
	json_object_object_add(d, "name", jstr(name));
	if (gran) /* 0: QEMU's default (the cluster size, or 64 KiB) */
		json_object_object_add(d, "granularity",
				       json_object_new_int64(gran));
	json_object_object_add(d, "persistent", json_object_new_boolean(persistent));
	json_object_object_add(d, "disabled", json_object_new_boolean(disabled));
	return action("block-dirty-bitmap-add", d);
}

/*
 * The snapshot (blockdev-backup sync=none) together with the bitmap
 * operations in one QMP transaction: QEMU drains guest I/O around it, so
 * the new tracking bitmap starts and the frozen copy of `since` ends
 * exactly at the snapshot instant.
 */
static int snapshot(struct kvmon_qmp *q, struct kvmon_fleece *f,
		    const char *track, const char *since)
{
	struct json_object *acts = json_object_new_array(), *a, *d;

	if (track)
		json_object_array_add(acts, bitmap_add(f->node, track, f->gran,
						       true, false));
	if (since) {
		/* Same granularity as since: the frozen copy is exact. */
		json_object_array_add(acts, bitmap_add(f->node, f->bitmap,
						       f->since_gran, false,
						       true));
		d = json_object_new_object();
		json_object_object_add(d, "node", jstr(f->node));
		json_object_object_add(d, "target", jstr(f->bitmap));
		a = json_object_new_array();
		json_object_array_add(a, jstr(since));
		json_object_object_add(d, "bitmaps", a);
		json_object_array_add(acts, action("block-dirty-bitmap-merge", d));
	}
	d = json_object_new_object();
	json_object_object_add(d, "job-id", jstr(f->tag));
	json_object_object_add(d, "device", jstr(f->node));
	json_object_object_add(d, "target", jstr(f->tag));
	json_object_object_add(d, "sync", jstr("none"));
	json_object_array_add(acts, action("blockdev-backup", d));
	a = json_object_new_object();
	json_object_object_add(a, "actions", acts);
	return call(q, "transaction", a, NULL);
}

/* EEXIST / ENOENT up front: a clearer message than the transaction's. */
static int check_bitmaps(struct kvmon_qmp *q, struct kvmon_fleece *f,
			 const char *track, const char *since)
{
	int r;

	if (track) {
		if (!*track || strlen(track) >= sizeof(f->track))
			return kvmon_set_error(EINVAL, "bad bitmap name");
		r = has_bitmap(q, f->node, track, NULL);
		if (r < 0)
			return -1;
		if (r)
			return kvmon_set_error(EEXIST, "bitmap '%s' already "
					       "exists on %s", track, f->node);
	}
	if (since) {
		r = has_bitmap(q, f->node, since, &f->since_gran);
		if (r < 0)
			return -1;
		if (!r)
			return kvmon_set_error(ENOENT, "no bitmap '%s' on %s",
					       since, f->node);
		if (track && !strcmp(track, since))
			return kvmon_set_error(EINVAL, "track and since name the "
					       "same bitmap");
	}
	return 0;
}

/* Teardown plus the bitmaps: the temporary one always, the tracking one
 * only when the open failed (after a successful open it is the
 * caller's baseline marker). */
static int finish(struct kvmon_qmp *q, struct kvmon_fleece *f, bool failed)
{
	int rc = teardown(q, f->state, f->tag, f->tmp, f->sock);

	if ((f->state & ST_BITMAP) && remove_bitmap(q, f->node, f->bitmap) < 0)
		rc = -1;
	if (failed && f->track[0])
		remove_bitmap(q, f->node, f->track);
	return rc;
}

/* A fresh empty qcow2 overlay of size bytes at path: written directly
 * (overlay.c); qemu-img only for a size that layout does not cover. */
static int overlay_create(const char *path, uint64_t size)
{
	char size_s[32];
	char *img[] = { "qemu-img", "create", "-q", "-f", "qcow2",
			(char *)path, size_s, NULL };

	if (kvmon_overlay_create(path, size) == 0)
		return 0;
	if (kvmon_get_errno() != EINVAL)
		return -1;
	snprintf(size_s, sizeof(size_s), "%llu", (unsigned long long)size);
	return kvmon_disk_run(img);
}

struct kvmon_fleece *kvmon_fleece_start(struct kvmon_vm *vm, const char *node,
					const char *workdir, const char *track,
					const char *since, uint32_t granularity)
{
	struct kvmon_fleece *f = calloc(1, sizeof(*f));
	struct json_object *a, *o;
	struct kvmon_qmp *q;
	uint64_t size = 0;
	int n;

	if (!f)
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	f->vm = vm;
	if (track && (granularity < 512 || granularity > (1u << 31) ||
		      (granularity & (granularity - 1)))) {
		kvmon_set_error(EINVAL, "bitmap granularity %u is not a power "
				"of two >= 512", granularity);
		free(f);
		return NULL;
	}
	q = kvmon_vm_qmp(vm);
	if (!q)
		goto fail;
	sweep_stale(q);
	if (node) {
		if (kvmon_strlcpy(f->node, node, sizeof(f->node)) < 0) {
			kvmon_set_error(ENAMETOOLONG, "node name too long");
			goto fail;
		}
	} else if (first_disk_node(q, f->node, sizeof(f->node)) < 0) {
		goto fail;
	}
	if (node_size(q, f->node, &size) < 0 ||
	    check_bitmaps(q, f, track, since) < 0)
		goto fail;
	f->gran = track ? granularity : f->since_gran;
	if (!workdir)
		workdir = kvmon_vm_path(vm, "rundir");
	if (!workdir)
		workdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
								 : "/tmp";
	if (strchr(workdir, ',')) {
		kvmon_set_error(EINVAL, "work directory %s contains ','", workdir);
		goto fail;
	}
	snprintf(f->tag, sizeof(f->tag), TAG_PREFIX "%d-%u", (int)getpid(),
		 atomic_fetch_add(&fleece_seq, 1));
	n = snprintf(f->sock, sizeof(f->sock), "%s/%s.sock", workdir, f->tag);
	if (n < 0 || (size_t)n >= sizeof(f->sock)) {
		f->sock[0] = 0;
		kvmon_set_error(ENAMETOOLONG, "socket path in %s is longer than "
				"a unix socket allows", workdir);
		goto fail;
	}
	snprintf(f->tmp, sizeof(f->tmp), "%s/%s.qcow2", workdir, f->tag);

	f->state |= ST_FILE;
	if (overlay_create(f->tmp, size) < 0)
		goto fail;

	a = json_object_new_object();
	json_object_object_add(a, "driver", jstr("qcow2"));
	json_object_object_add(a, "node-name", jstr(f->tag));
	o = json_object_new_object();
	json_object_object_add(o, "driver", jstr("file"));
	/* Named, so a sweep finds the plain file name of a stale overlay. */
	{
		char fnode[80];

		snprintf(fnode, sizeof(fnode), "%s-file", f->tag);
		json_object_object_add(o, "node-name", jstr(fnode));
	}
	json_object_object_add(o, "filename", jstr(f->tmp));
	json_object_object_add(a, "file", o);
	json_object_object_add(a, "backing", jstr(f->node));
	if (call(q, "blockdev-add", a, NULL) < 0)
		goto fail;
	f->state |= ST_NODE;

	if (since)
		snprintf(f->bitmap, sizeof(f->bitmap), "%s-since", f->tag);
	if (snapshot(q, f, track, since) < 0)
		goto fail;
	f->state |= ST_JOB | (since ? ST_BITMAP : 0);
	if (track)
		kvmon_strlcpy(f->track, track, sizeof(f->track));

	a = json_object_new_object();
	o = json_object_new_object();
	/* nbd-server-start takes the legacy SocketAddress: {type, data}. */
	json_object_object_add(o, "path", jstr(f->sock));
	{
		struct json_object *addr = json_object_new_object();

		json_object_object_add(addr, "type", jstr("unix"));
		json_object_object_add(addr, "data", o);
		json_object_object_add(a, "addr", addr);
	}
	/* Our pool (KVMON_NBD_MAXCONN at most) and some slack; QEMU's own
	 * default has been unlimited (7.2) or 100. */
	json_object_object_add(a, "max-connections",
			       json_object_new_int(2 * KVMON_NBD_MAXCONN));
	if (call(q, "nbd-server-start", a, NULL) < 0) {
		kvmon_error_prefix("NBD server (is another export running?)");
		goto fail;
	}
	f->state |= ST_SERVER;

	a = json_object_new_object();
	json_object_object_add(a, "type", jstr("nbd"));
	json_object_object_add(a, "id", jstr(f->tag));
	json_object_object_add(a, "node-name", jstr(f->tag));
	json_object_object_add(a, "name", jstr(f->tag));
	json_object_object_add(a, "writable", json_object_new_boolean(0));
	if (since) {
		/* Found on the disk node through the overlay's backing. */
		o = json_object_new_array();
		json_object_array_add(o, jstr(f->bitmap));
		json_object_object_add(a, "bitmaps", o);
	}
	if (call(q, "block-export-add", a, NULL) < 0)
		goto fail;
	f->state |= ST_EXPORT;
	kvmon_vm_disconnect(vm);
	return f;
fail:
	kvmon_error_prefix("fleecing export");
	if (q)
		finish(q, f, true);
	kvmon_vm_disconnect(vm);
	free(f);
	return NULL;
}

int kvmon_fleece_stop(struct kvmon_fleece *f)
{
	struct kvmon_qmp *q;
	int rc;

	if (!f)
		return 0;
	q = kvmon_vm_qmp(f->vm);
	if (!q) {
		/* The VM is gone (or QMP busy): files are still ours. */
		unlink(f->tmp);
		unlink(f->sock);
		free(f);
		return kvmon_error_prefix("removing fleecing export");
	}
	rc = finish(q, f, false);
	if (rc < 0)
		kvmon_error_prefix("removing fleecing export %s", f->tag);
	kvmon_vm_disconnect(f->vm);
	free(f);
	return rc;
}

int kvmon_disk_bitmap_remove(struct kvmon_vm *vm, const char *node,
			     const char *name)
{
	struct kvmon_qmp *q;
	char n[128];
	int rc = -1;

	if (!vm || !name || !*name)
		return kvmon_set_error(EINVAL, "no VM or bitmap name");
	q = kvmon_vm_qmp(vm);
	if (!q)
		return kvmon_error_prefix("removing bitmap %s", name);
	if (node) {
		if (kvmon_strlcpy(n, node, sizeof(n)) < 0) {
			kvmon_set_error(ENAMETOOLONG, "node name too long");
			goto out;
		}
	} else if (first_disk_node(q, n, sizeof(n)) < 0) {
		goto out;
	}
	rc = has_bitmap(q, n, name, NULL);
	if (rc == 0)
		rc = kvmon_set_error(ENOENT, "no bitmap '%s' on %s", name, n);
	else if (rc > 0)
		rc = remove_bitmap(q, n, name);
out:
	if (rc < 0)
		kvmon_error_prefix("removing bitmap %s", name);
	kvmon_vm_disconnect(vm);
	return rc;
}

int kvmon_disk_sweep(struct kvmon_vm *vm)
{
	struct kvmon_qmp *q;

	if (!vm)
		return kvmon_set_error(EINVAL, "no VM");
	q = kvmon_vm_qmp(vm);
	if (!q)
		return kvmon_error_prefix("sweeping stale disk exports");
	sweep_stale(q);
	kvmon_vm_disconnect(vm);
	return 0;
}
