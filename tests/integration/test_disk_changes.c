// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Changed-part-only view on the real guest: a baseline (persistent dirty
 * bitmap made in the fleecing transaction + block map), then the guest
 * creates, modifies, chmods, deletes and renames files and syncs;
 * kvmon_fs_changes and `kvmon disk changes` must report exactly those
 * paths under the test directory and never SAME for a touched one. No
 * leftovers: the temporary bitmaps are gone after close, the persistent
 * one after kvmon_disk_bitmap_remove.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <signal.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIR_ "/root/chg"

static struct kvmon_vm *vm;
static char bitmap[64], work[4096], map_path[4200], mnt[4200];
static pid_t mount_pid = -1;

struct seen {
	char path[256];
	int change;
	unsigned why;
	int n;
};

struct result {
	struct seen s[64];
	size_t n;
	unsigned long same, maybe, added, removed, outside;
};

static int cb(void *opaque, const char *path, uint64_t ino, int change,
	      unsigned why)
{
	struct result *r = opaque;

	(void)ino;
	r->same += change == KVMON_CHANGE_SAME;
	r->maybe += change == KVMON_CHANGE_MAYBE;
	r->added += change == KVMON_CHANGE_ADDED;
	r->removed += change == KVMON_CHANGE_REMOVED;
	if (strncmp(path, DIR_ "/", strlen(DIR_) + 1)) {
		if (change != KVMON_CHANGE_SAME && strcmp(path, DIR_)) {
			r->outside++;
			diag("outside the test directory: %s %d why %#x", path,
			     change, why);
		}
		return 0;
	}
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->s[i].path, path)) {
			r->s[i].n++;
			return 0;
		}
	if (r->n < 64) {
		snprintf(r->s[r->n].path, sizeof(r->s[0].path), "%s", path);
		r->s[r->n].change = change;
		r->s[r->n].why = why;
		r->s[r->n++].n = 1;
	}
	return 0;
}

static struct seen *get(struct result *r, const char *path)
{
	static struct seen none = { .change = -1 };

	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->s[i].path, path))
			return &r->s[i];
	return &none;
}

/* Names of dirty bitmaps on the VM's block nodes (query-named-block-nodes). */
static int bitmap_listed(const char *name)
{
	char *r = NULL;
	int found;

	if (kvmon_qmp_execute(kvmon_vm_qmp(vm), "query-named-block-nodes", NULL,
			      &r) < 0)
		return -1;
	found = strstr(r, name) != NULL;
	kvmon_free(r);
	kvmon_vm_disconnect(vm);
	return found;
}

/* Granularity QEMU reports for dirty bitmap name on node disk0, or -1. */
static long long bitmap_granularity(const char *name)
{
	struct json_object *ret = NULL, *bms, *g;
	long long gran = -1;
	char *r = NULL;

	if (kvmon_qmp_execute(kvmon_vm_qmp(vm), "query-named-block-nodes", NULL,
			      &r) < 0)
		return -1;
	kvmon_vm_disconnect(vm);
	ret = json_tokener_parse(r);
	kvmon_free(r);
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		struct json_object *e = json_object_array_get_idx(ret, i), *n;

		if (!json_object_object_get_ex(e, "node-name", &n) ||
		    strcmp(json_object_get_string(n), "disk0") ||
		    !json_object_object_get_ex(e, "dirty-bitmaps", &bms))
			continue;
		for (size_t j = 0; j < json_object_array_length(bms); j++) {
			struct json_object *b = json_object_array_get_idx(bms, j);

			if (json_object_object_get_ex(b, "name", &n) &&
			    !strcmp(json_object_get_string(n), name) &&
			    json_object_object_get_ex(b, "granularity", &g))
				gran = json_object_get_int64(g);
		}
	}
	json_object_put(ret);
	return gran;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Baseline figure: what a full check reads (every inode, every file's
 * contents) on the same view. */
struct full {
	struct kvmon_fs *fs;
	unsigned long paths;
	uint64_t bytes;
	unsigned depth;
};

static int full_cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct full *f = opaque;
	static char buf[1 << 20];
	struct kvmon_fs_stat st;
	uint64_t off = 0;
	ssize_t n;

	(void)name;
	f->paths++;
	if (kvmon_fs_stat(f->fs, ino, &st) < 0)
		return 0;
	if (S_ISREG(st.mode))
		while ((n = kvmon_fs_pread(f->fs, ino, buf, sizeof(buf), off)) > 0) {
			EVP_Digest(buf, (size_t)n, (unsigned char[32]){ 0 }, NULL,
				   EVP_sha256(), NULL);
			off += (uint64_t)n;
			f->bytes += (uint64_t)n;
		}
	if (type == DT_DIR && f->depth < 64) {
		f->depth++;
		kvmon_fs_readdir(f->fs, ino, full_cb, f);
		f->depth--;
	}
	return 0;
}

static int changes(struct result *r)
{
	struct kvmon_disk_opts o = { .workdir = work, .since = bitmap };
	struct kvmon_fsmap *m = kvmon_fsmap_load(map_path);
	struct kvmon_disk *d;
	struct kvmon_fs *fs = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!m)
		return -1;
	d = kvmon_disk_open_vm_opts(vm, &o);
	if (d)
		fs = kvmon_fs_open_part(d, 0);
	if (fs) {
		double t0 = now_ms();

		rc = kvmon_fs_changes(fs, d, m, cb, r);
		double t1 = now_ms();
		struct full f = { .fs = fs };

		diag("figure: kvmon_fs_changes %.0f ms (%lu SAME, %lu MAYBE, "
		     "%lu ADDED, %lu REMOVED)", t1 - t0, r->same, r->maybe,
		     r->added, r->removed);
		kvmon_fs_readdir(fs, KVMON_FS_ROOT_INO, full_cb, &f);
		diag("figure: baseline full scan (stat + SHA-256 of every file) "
		     "%.0f ms (%lu paths, %llu bytes)", now_ms() - t1, f.paths,
		     (unsigned long long)f.bytes);
	}
	if (rc < 0)
		diag("changes: %s", kvmon_get_error());
	kvmon_fs_close(fs);
	kvmon_disk_close(d);
	kvmon_fsmap_free(m);
	return rc;
}

/* Does the JSON of `kvmon disk changes` list path with this change? */
static bool cli_has(const char *text, const char *path, const char *change)
{
	struct json_object *o = json_tokener_parse(text), *arr;
	bool found = false;

	if (o && json_object_object_get_ex(o, "changes", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *e = json_object_array_get_idx(arr, i), *p, *c;

			if (json_object_object_get_ex(e, "path", &p) &&
			    json_object_object_get_ex(e, "change", &c) &&
			    !strcmp(json_object_get_string(p), path) &&
			    !strcmp(json_object_get_string(c), change))
				found = true;
		}
	if (!o)
		diag("not JSON: %.500s", text);
	json_object_put(o);
	return found;
}

static void stop_mount(void)
{
	if (mount_pid > 0) {
		kill(mount_pid, SIGTERM);
		waitpid(mount_pid, NULL, 0);
		mount_pid = -1;
	}
	if (*mnt && tguest_mounted(mnt)) {
		char cmd[4300];

		snprintf(cmd, sizeof(cmd), "fusermount3 -u -z '%s'", mnt);
		if (system(cmd) != 0)
			fprintf(stderr, "# fusermount3 failed\n");
	}
	if (*mnt)
		rmdir(mnt);
}

/* kvmon mount --changed-since map_path at mnt; true once mounted. */
static bool start_mount(void)
{
	const char *kvmon = getenv("KVMON");

	if (!kvmon)
		return false;
	snprintf(mnt, sizeof(mnt), "%s/mnt", work);
	mkdir(mnt, 0700);
	mount_pid = fork();
	if (mount_pid == 0) {
		setenv("TMPDIR", work, 1);
		execl(kvmon, kvmon, "mount", "--qmp", kvmon_vm_path(vm, "qmp"),
		      "--changed-since", map_path, mnt, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 600 && !tguest_mounted(mnt) && mount_pid > 0 &&
			waitpid(mount_pid, NULL, WNOHANG) == 0; i++)
		usleep(100000);
	return tguest_mounted(mnt);
}

static bool file_is(const char *path, const char *want)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return f && !strcmp(buf, want);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void mount_checks(void)
{
	char p[4400], *json;
	struct stat st;
	int fd;

	ok(start_mount(), "kvmon mount --changed-since mounted");
	if (!tguest_mounted(mnt)) {
		stop_mount();
		return;
	}
	snprintf(p, sizeof(p), "%s" DIR_ "/added", mnt);
	ok(file_is(p, "n\n"), "added file visible with the guest's content");
	snprintf(p, sizeof(p), "%s" DIR_ "/dir/f", mnt);
	ok(file_is(p, "f\n"), "file in the new directory visible");
	snprintf(p, sizeof(p), "%s" DIR_ "/mode", mnt);
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600,
	   "chmodded file visible with mode 0600");
	snprintf(p, sizeof(p), "%s/etc/passwd", mnt);
	ok(stat(p, &st) < 0 && errno == ENOENT, "unchanged /etc/passwd hidden");
	snprintf(p, sizeof(p), "%s/etc", mnt);
	ok(stat(p, &st) < 0 && errno == ENOENT, "directory without changes hidden");
	snprintf(p, sizeof(p), "%s" DIR_ "/gone", mnt);
	ok(stat(p, &st) < 0 && errno == ENOENT, "deleted file absent");
	snprintf(p, sizeof(p), "%s/.kvmon-changes.json", mnt);
	json = slurp(p);
	ok(json && cli_has(json, DIR_ "/gone", "removed") &&
	   cli_has(json, DIR_ "/old", "removed") &&
	   cli_has(json, DIR_ "/new", "added"),
	   "/.kvmon-changes.json lists removed and added paths");
	free(json);
	fd = open(p, O_WRONLY);
	ok(fd < 0 && errno == EROFS, "changes file: write refused (EROFS)");
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s" DIR_ "/added", mnt);
	fd = open(p, O_WRONLY | O_APPEND);
	ok(fd < 0 && errno == EROFS, "changed file: write refused (EROFS)");
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s" DIR_ "/x", mnt);
	ok(mkdir(p, 0700) < 0 && errno == EROFS, "mkdir refused (EROFS)");
	stop_mount();
	ok(!tguest_mounted(mnt), "unmounted on SIGTERM");
}

/* kvmon disk baseline / drop-baseline through the CLI. */
static void cli_baseline(void)
{
	char cmd[16384], file[4300], name[64];
	int rc;

	snprintf(file, sizeof(file), "%s/cli.map", work);
	snprintf(name, sizeof(name), "kvmon-test-cli-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "TMPDIR='%s' '%s' disk baseline --json --qmp "
		 "'%s' --bitmap %s '%s' >/dev/null", work, getenv("KVMON"),
		 kvmon_vm_path(vm, "qmp"), name, file);
	rc = system(cmd);
	ok(WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && bitmap_listed(name) == 1 &&
	   access(file, R_OK) == 0, "kvmon disk baseline: bitmap %s and map file",
	   name);
	rc = system(cmd);
	ok(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "same bitmap again: exit 2");
	snprintf(cmd, sizeof(cmd), "TMPDIR='%s' '%s' disk changes --qmp '%s' "
		 "'%s' >/dev/null", work, getenv("KVMON"),
		 kvmon_vm_path(vm, "qmp"), file);
	rc = system(cmd);
	ok(WIFEXITED(rc) && WEXITSTATUS(rc) <= 1, "kvmon disk changes on it "
	   "runs (exit %d)", WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
	snprintf(cmd, sizeof(cmd), "'%s' disk drop-baseline --qmp '%s' '%s' "
		 ">/dev/null", getenv("KVMON"), kvmon_vm_path(vm, "qmp"), file);
	rc = system(cmd);
	ok(WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && bitmap_listed(name) == 0,
	   "kvmon disk drop-baseline removes it");
	if (bitmap_listed(name) == 1)
		kvmon_disk_bitmap_remove(vm, NULL, name);
	unlink(file);
}

/* An owner killed with a view opened with since: its temporary bitmap
 * is removed by the next sweep. */
static void stale_bitmap(void)
{
	char tag[64];
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct kvmon_vm *v2 = kvmon_vm_attach(kvmon_vm_path(vm, "qmp"));
		struct kvmon_disk_opts o2 = { .workdir = work, .since = bitmap };
		struct kvmon_disk *d2 = v2 ? kvmon_disk_open_vm_opts(v2, &o2) : NULL;

		_exit(d2 ? 0 : 1); /* no close: as if killed */
	}
	waitpid(pid, &status, 0);
	/* The child's sequence number is inherited: find its tag. */
	*tag = 0;
	for (int n = 0; n < 1000 && !*tag; n++) {
		snprintf(tag, sizeof(tag), "kvmon-fleece-%d-%d-since", (int)pid, n);
		if (bitmap_listed(tag) != 1)
			*tag = 0;
	}
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && *tag,
	   "a child opened a view with since and died: its temporary bitmap "
	   "%s is still in QEMU", tag);
	ok(kvmon_disk_sweep(vm) == 0 && (!*tag || bitmap_listed(tag) == 0) &&
	   bitmap_listed("kvmon-fleece-") == 0,
	   "kvmon_disk_sweep removed it with the stale export");
	ok(bitmap_listed(bitmap) == 1, "the baseline bitmap was left alone");
}

static void cleanup(void)
{
	stop_mount();
	if (vm && *bitmap)
		kvmon_disk_bitmap_remove(vm, NULL, bitmap);
	if (*map_path)
		unlink(map_path);
	if (*work)
		rmdir(work);
}

int main(void)
{
	struct kvmon_disk_opts o = { 0 };
	struct kvmon_disk *d;
	struct kvmon_fs *fs;
	struct kvmon_fsmap *m;
	struct tctl *c;
	struct result r;
	char cmd[16384];
	double t0;
	int rc;

	tguest_require();
	vm = tguest_start("dchg");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	c = tctl_open(vm);
	if (!c)
		bail("no control channel");
	snprintf(work, sizeof(work), "%s/dchg-%d", tguest_root(), (int)getpid());
	snprintf(map_path, sizeof(map_path), "%s/base.map", work);
	snprintf(bitmap, sizeof(bitmap), "kvmon-test-chg-%d", (int)getpid());
	mkdir(work, 0700);
	atexit(cleanup);

	rc = tctl_check(c, "mkdir -p " DIR_ " && cd " DIR_ " && echo a > content && "
		      "echo b > mode && echo c > gone && echo d > old && "
		      "echo e > same && head -c 200000 /dev/urandom > big && "
		      "sync");
	ok(rc == 0, "guest made the test files and synced");

	/* Baseline: the bitmap is made in the snapshot's transaction. */
	o.workdir = work;
	o.track = bitmap;
	d = kvmon_disk_open_vm_opts(vm, &o);
	ok(d != NULL, "view opened with track=%s (%s)", bitmap,
	   d ? "ok" : kvmon_get_error());
	if (!d)
		bail("no view");
	fs = kvmon_fs_open_part(d, 0);
	t0 = now_ms();
	m = fs ? kvmon_fsmap_build(fs) : NULL;
	diag("figure: block map of the guest fs built in %.0f ms", now_ms() - t0);
	ok(m != NULL, "block map of the guest file system built (%s)",
	   m ? "ok" : kvmon_get_error());
	if (!m)
		bail("no map");
	ok(!strcmp(kvmon_fsmap_bitmap(m), bitmap) &&
	   !strcmp(kvmon_fsmap_node(m), "disk0"),
	   "map records bitmap %s on node %s", kvmon_fsmap_bitmap(m),
	   kvmon_fsmap_node(m));
	ok(kvmon_fsmap_granularity(m) == KVMON_DISK_GRANULARITY,
	   "map records the bitmap's granularity (%u)",
	   kvmon_fsmap_granularity(m));
	ok(kvmon_fsmap_save(m, map_path) == 0, "map saved");
	{
		struct stat st;

		if (stat(map_path, &st) == 0)
			diag("figure: map file %lld bytes", (long long)st.st_size);
	}
	kvmon_fsmap_free(m);
	m = kvmon_fsmap_load(map_path);
	ok(m && kvmon_fsmap_granularity(m) == KVMON_DISK_GRANULARITY,
	   "granularity kept by save and load");
	kvmon_fsmap_free(m);
	kvmon_fs_close(fs);
	ok(kvmon_disk_dirty(d, NULL, NULL) < 0, "view without since: no dirty "
	   "ranges");
	ok(kvmon_disk_close(d) == 0, "baseline view closed");
	ok(bitmap_listed(bitmap) == 1, "persistent bitmap stays on the disk node");
	ok(bitmap_granularity(bitmap) == KVMON_DISK_GRANULARITY,
	   "QEMU keeps it at %u bytes per bit (default: file system block)",
	   KVMON_DISK_GRANULARITY);

	d = kvmon_disk_open_vm_opts(vm, &o);
	ok(!d && kvmon_get_errno() == EEXIST, "track of an existing bitmap: "
	   "EEXIST");
	kvmon_disk_close(d);
	o.track = "kvmon-test-bad-granularity";
	o.granularity = 1000;
	d = kvmon_disk_open_vm_opts(vm, &o);
	ok(!d && kvmon_get_errno() == EINVAL &&
	   bitmap_listed("kvmon-test-bad-granularity") == 0,
	   "granularity not a power of two: EINVAL, no bitmap made");
	kvmon_disk_close(d);
	o.granularity = 0;
	o.track = NULL;
	o.since = "kvmon-test-no-such-bitmap";
	d = kvmon_disk_open_vm_opts(vm, &o);
	ok(!d && kvmon_get_errno() == ENOENT, "since of a missing bitmap: ENOENT");
	kvmon_disk_close(d);

	/* No change in the guest: nothing under the test directory. */
	tctl_check(c, "sync");
	ok(changes(&r) == 0, "changes with no guest change");
	ok(r.n == 0 || (r.added == 0 && r.removed == 0 && r.maybe == r.outside),
	   "no change: nothing in " DIR_ " reported changed");
	ok(r.added == 0 && r.removed == 0,
	   "no change: nothing ADDED or REMOVED anywhere (%lu MAYBE outside, "
	   "%lu SAME)", r.outside, r.same);
	ok(bitmap_listed("kvmon-fleece-") == 0, "temporary bitmap, node and "
	   "export gone after close");

	rc = tctl_check(c, "cd " DIR_ " && echo X >> content && chmod 600 mode && "
		      "rm gone && mv old new && echo n > added && mkdir dir && "
		      "echo f > dir/f && printf Z | dd of=big bs=1 seek=100000 "
		      "conv=notrunc status=none && sync");
	ok(rc == 0, "guest: content, chmod, delete, rename, new file, new "
	   "directory, one byte in place; sync");
	ok(changes(&r) == 0, "changes after the guest's changes");
	ok(get(&r, DIR_ "/content")->change == KVMON_CHANGE_MAYBE &&
	   (get(&r, DIR_ "/content")->why & KVMON_WHY_DATA),
	   "appended file: MAYBE with DATA");
	ok(get(&r, DIR_ "/big")->change == KVMON_CHANGE_MAYBE &&
	   (get(&r, DIR_ "/big")->why & KVMON_WHY_DATA),
	   "one byte rewritten in place: MAYBE with DATA");
	ok(get(&r, DIR_ "/mode")->change == KVMON_CHANGE_MAYBE &&
	   (get(&r, DIR_ "/mode")->why & KVMON_WHY_INODE),
	   "chmod only: MAYBE with INODE");
	ok(get(&r, DIR_ "/gone")->change == KVMON_CHANGE_REMOVED, "deleted: REMOVED");
	ok(get(&r, DIR_ "/old")->change == KVMON_CHANGE_REMOVED &&
	   get(&r, DIR_ "/new")->change == KVMON_CHANGE_ADDED,
	   "renamed: REMOVED old, ADDED new");
	ok(get(&r, DIR_ "/added")->change == KVMON_CHANGE_ADDED &&
	   get(&r, DIR_ "/dir")->change == KVMON_CHANGE_ADDED &&
	   get(&r, DIR_ "/dir/f")->change == KVMON_CHANGE_ADDED,
	   "new file, directory and file in it: ADDED");
	{
		bool once = true;
		unsigned long added = 0, removed = 0;

		for (size_t i = 0; i < r.n; i++) {
			once &= r.s[i].n == 1;
			added += r.s[i].change == KVMON_CHANGE_ADDED;
			removed += r.s[i].change == KVMON_CHANGE_REMOVED;
		}
		ok(once && added == 4 && removed == 2,
		   "exactly 4 ADDED and 2 REMOVED in " DIR_ ", each path once "
		   "(%lu, %lu)", added, removed);
		diag("same file: %d why %#x (neighbour in a dirty 64 KiB chunk "
		     "may be MAYBE)", get(&r, DIR_ "/same")->change,
		     get(&r, DIR_ "/same")->why);
	}

	/* The CLI on the same baseline. */
	snprintf(cmd, sizeof(cmd), "TMPDIR='%s' '%s' disk changes --json --qmp '%s' "
		 "'%s'", work, getenv("KVMON"), kvmon_vm_path(vm, "qmp"), map_path);
	{
		FILE *p = popen(cmd, "r");
		size_t len = 0;
		char buf[65536];

		if (p) {
			len = fread(buf, 1, sizeof(buf) - 1, p);
			rc = pclose(p);
		}
		buf[len] = 0;
		ok(p && WEXITSTATUS(rc) == 1 &&
		   cli_has(buf, DIR_ "/added", "added") &&
		   cli_has(buf, DIR_ "/gone", "removed") &&
		   cli_has(buf, DIR_ "/mode", "changed"),
		   "kvmon disk changes --json: exit 1, lists the added, removed "
		   "and changed paths");
	}
	ok(bitmap_listed("kvmon-fleece-") == 0, "no temporary bitmap after the CLI");
	mount_checks();
	cli_baseline();
	stale_bitmap();
	ok(bitmap_listed("kvmon-fleece-") == 0, "no temporary bitmap after the mount");

	ok(kvmon_disk_bitmap_remove(vm, NULL, bitmap) == 0 &&
	   bitmap_listed(bitmap) == 0, "persistent baseline bitmap removed");
	ok(kvmon_disk_bitmap_remove(vm, NULL, bitmap) < 0 &&
	   kvmon_get_errno() == ENOENT, "removing it again: ENOENT");
	*bitmap = 0;
	tctl_close(c);
	ok(tguest_stop(vm) == 0, "guest stopped");
	vm = NULL;
	return tap_done();
}
