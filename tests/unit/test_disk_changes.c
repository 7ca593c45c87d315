// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Changed-part-only view on synthetic ext4 images: image A (baseline,
 * mke2fs -d) and B = A changed with debugfs and raw writes. The dirty
 * ranges are the 64 KiB chunks where A and B differ (QEMU's default
 * bitmap granularity). kvmon_fs_changes(B, dirty, map(A)) must agree with
 * a full comparison of the two trees: every added path ADDED, every
 * removed one REMOVED, every changed one not SAME, every path once.
 * Also: map save/load round trip, damaged and truncated map files.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"
#include "disk/fsmap.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

static char root[4096], img_a[4200], img_b[4200], src[4200], map_path[4200];

static void cleanup(void)
{
	if (*root)
		tsh("rm -rf '%s'", root);
}

/* ------------------------------------------- ground truth: full scan */

struct ent {
	char path[512];
	uint64_t ino;
	struct kvmon_fs_stat st;
	unsigned char sha[32];
	int seen;               /* times reported by kvmon_fs_changes */
	int change;
	unsigned why;
};

struct tree {
	struct kvmon_fs *fs;
	struct ent *e;
	size_t n, cap;
};

static void add_ent(struct tree *t, const char *path, uint64_t ino)
{
	struct ent *e;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->e = realloc(t->e, t->cap * sizeof(*t->e));
		if (!t->e)
			bail("out of memory");
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->ino = ino;
	if (kvmon_fs_stat(t->fs, ino, &e->st) < 0)
		bail("stat %s: %s", path, kvmon_get_error());
	e->st.atime = 0, e->st.atime_ns = 0; /* reading is no change */
	if (S_ISREG(e->st.mode)) {
		static char buf[1 << 20];
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		uint64_t off = 0;
		ssize_t n;

		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while ((n = kvmon_fs_pread(t->fs, ino, buf, sizeof(buf), off)) > 0) {
			EVP_DigestUpdate(md, buf, (size_t)n);
			off += (uint64_t)n;
		}
		EVP_DigestFinal_ex(md, e->sha, NULL);
		EVP_MD_CTX_free(md);
	}
}

struct scan_ctx {
	struct tree *t;
	const char *dir;
};

static void scan(struct tree *t, const char *path, uint64_t ino);

static int scan_cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct scan_ctx *s = opaque;
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", strcmp(s->dir, "/") ? s->dir : "", name);
	add_ent(s->t, p, ino);
	if (type == DT_DIR)
		scan(s->t, p, ino);
	return 0;
}

static void scan(struct tree *t, const char *path, uint64_t ino)
{
	struct scan_ctx s = { t, path };

	kvmon_fs_readdir(t->fs, ino, scan_cb, &s);
}

static void full_scan(struct tree *t)
{
	add_ent(t, "/", KVMON_FS_ROOT_INO);
	scan(t, "/", KVMON_FS_ROOT_INO);
}

static struct ent *find(struct tree *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].path, path))
			return &t->e[i];
	return NULL;
}

static bool same(const struct ent *a, const struct ent *b)
{
	return a->ino == b->ino && !memcmp(&a->st, &b->st, sizeof(a->st)) &&
	       !memcmp(a->sha, b->sha, sizeof(a->sha));
}

/* ------------------------------------ dirty ranges from a comparison */

struct dirty {
	uint64_t off[4096], len[4096];
	size_t n;
};

static void diff_images(const char *a, const char *b, struct dirty *d)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	static unsigned char ba[CHUNK], bb[CHUNK];
	uint64_t off = 0;

	d->n = 0;
	if (!fa || !fb)
		bail("open images");
	for (;;) {
		size_t na = fread(ba, 1, CHUNK, fa), nb = fread(bb, 1, CHUNK, fb);

		if (!na && !nb)
			break;
		if ((na != nb || memcmp(ba, bb, na)) && d->n < 4096) {
			if (d->n && d->off[d->n - 1] + d->len[d->n - 1] == off)
				d->len[d->n - 1] += CHUNK;
			else
				d->off[d->n] = off, d->len[d->n++] = CHUNK;
		}
		off += CHUNK;
	}
	fclose(fa);
	fclose(fb);
}

static int dirty_list(void *ctx, int (*fn)(void *, uint64_t, uint64_t),
		      void *opaque)
{
	struct dirty *d = ctx;

	for (size_t i = 0; i < d->n; i++) {
		int r = fn(opaque, d->off[i], d->len[i]);

		if (r)
			return r;
	}
	return 0;
}

/* ------------------------------------------------ the check itself */

struct result {
	struct tree *now, *base;
	unsigned long reported, removed, unknown, dup;
	unsigned long n_same, n_maybe, n_added;
};

static int change_cb(void *opaque, const char *path, uint64_t ino, int change,
		     unsigned why)
{
	struct result *r = opaque;
	struct ent *e;

	r->reported++;
	if (change == KVMON_CHANGE_REMOVED) {
		e = find(r->base, path);
		if (!e || find(r->now, path) || e->ino != ino)
			r->unknown++;
		else if (e->seen++)
			r->dup++;
		e = NULL;
		r->removed++;
		return 0;
	}
	e = find(r->now, path);
	if (!e || e->ino != ino) {
		diag("reported %s (ino %llu) not in the tree", path,
		     (unsigned long long)ino);
		r->unknown++;
		return 0;
	}
	if (e->seen++)
		r->dup++;
	e->change = change;
	e->why = why;
	r->n_same += change == KVMON_CHANGE_SAME;
	r->n_maybe += change == KVMON_CHANGE_MAYBE;
	r->n_added += change == KVMON_CHANGE_ADDED;
	return 0;
}

/* Compare kvmon_fs_changes with the full comparison of the trees. */
static void check_against_truth(const char *what, struct kvmon_fsmap *map,
				struct tree *base, struct tree *now,
				struct dirty *d, struct result *r)
{
	unsigned long wrong_added = 0, missed_added = 0, false_same = 0,
		      missed = 0, missed_removed = 0;

	memset(r, 0, sizeof(*r));
	r->now = now, r->base = base;
	int rc;

	for (size_t i = 0; i < base->n; i++)
		base->e[i].seen = 0;
	for (size_t i = 0; i < now->n; i++)
		now->e[i].seen = 0, now->e[i].change = -1, now->e[i].why = 0;
	rc = kvmon_fs_changes_with(now->fs, dirty_list, d, map, change_cb, r);
	ok(rc == 0, "%s: kvmon_fs_changes runs%s%s", what, rc ? ": " : "",
	   rc ? kvmon_get_error() : "");
	for (size_t i = 0; i < now->n; i++) {
		struct ent *e = &now->e[i], *b = find(base, e->path);

		if (e->seen != 1) {
			missed++;
			diag("%s reported %d times", e->path, e->seen);
			continue;
		}
		if (!b && e->change != KVMON_CHANGE_ADDED) {
			missed_added++;
			diag("%s: new but %d", e->path, e->change);
		}
		if (b && e->change == KVMON_CHANGE_ADDED && b->ino == e->ino) {
			wrong_added++;
			diag("%s: ADDED but was there", e->path);
		}
		if (b && !same(b, e) && e->change == KVMON_CHANGE_SAME) {
			false_same++;
			diag("%s: changed but SAME", e->path);
		}
	}
	for (size_t i = 0; i < base->n; i++)
		if (!find(now, base->e[i].path) && base->e[i].seen != 1) {
			missed_removed++;
			diag("%s: removed, reported %d times", base->e[i].path,
			     base->e[i].seen);
		}
	ok(!missed && !r->dup, "%s: every current path reported exactly once "
	   "(%zu paths)", what, now->n);
	ok(!r->unknown, "%s: no path reported that does not exist", what);
	ok(!missed_added && !wrong_added, "%s: ADDED exactly the new paths", what);
	ok(!missed_removed, "%s: REMOVED every removed path (%lu)", what,
	   r->removed);
	ok(!false_same, "%s: no changed path reported SAME", what);
	diag("%s: %lu SAME, %lu MAYBE, %lu ADDED, %lu REMOVED; %zu dirty ranges",
	     what, r->n_same, r->n_maybe, r->n_added, r->removed, d->n);
}

static struct ent *must(struct tree *t, const char *path)
{
	struct ent *e = find(t, path);

	if (!e)
		bail("%s missing from the tree", path);
	return e;
}

static void free_tree(struct tree *t)
{
	free(t->e);
	t->e = NULL;
	t->n = t->cap = 0;
}

static uint64_t first_block(const char *img, const char *path)
{
	char cmd[8192];
	unsigned long long b = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "debugfs -R 'blocks %s' '%s' 2>/dev/null",
		 path, img);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%llu", &b) != 1)
		bail("no block for %s", path);
	pclose(p);
	return b;
}

static struct kvmon_fs *open_fs(const char *img, struct kvmon_disk **d)
{
	struct kvmon_fs *fs;

	*d = kvmon_disk_open_raw(img);
	fs = *d ? kvmon_fs_open(*d, 0, 0) : NULL;
	if (!fs)
		bail("open %s: %s", img, kvmon_get_error());
	return fs;
}

static void map_file_checks(struct kvmon_fsmap *map)
{
	struct kvmon_fsmap *m2;
	struct stat st;
	char bad[4300];

	ok(kvmon_fsmap_set_marker(map, "disk0", "kvmon-test-g1") == 0,
	   "marker recorded");
	ok(kvmon_fsmap_save(map, map_path) == 0, "map saved (%s)",
	   kvmon_get_error() ? kvmon_get_error() : "");
	m2 = kvmon_fsmap_load(map_path);
	ok(m2 && !strcmp(kvmon_fsmap_node(m2), "disk0") &&
	   !strcmp(kvmon_fsmap_bitmap(m2), "kvmon-test-g1"),
	   "map loaded back with node and bitmap");
	ok(m2 && m2->n_runs == map->n_runs && m2->n_dents == map->n_dents &&
	   m2->n_inos == map->n_inos && m2->names_len == map->names_len &&
	   !memcmp(m2->runs, map->runs, map->n_runs * sizeof(*map->runs)),
	   "loaded map equals the built one (%zu runs, %zu inodes, %zu "
	   "entries)", map->n_runs, map->n_inos, map->n_dents);
	kvmon_fsmap_free(m2);
	stat(map_path, &st);
	snprintf(bad, sizeof(bad), "%s.bad", map_path);
	tsh("cp '%s' '%s' && printf '\\x01' | dd of='%s' bs=1 seek=%lld "
	   "conv=notrunc status=none", map_path, bad, bad,
	   (long long)st.st_size / 2);
	m2 = kvmon_fsmap_load(bad);
	ok(!m2 && kvmon_get_errno() == EINVAL, "one flipped byte: refused (%s)",
	   kvmon_get_error());
	kvmon_fsmap_free(m2);
	tsh("head -c %lld '%s' > '%s'", (long long)st.st_size - 40, map_path, bad);
	m2 = kvmon_fsmap_load(bad);
	ok(!m2 && kvmon_get_errno() == EINVAL, "truncated: refused");
	kvmon_fsmap_free(m2);
	m2 = kvmon_fsmap_load("/nonexistent/map");
	ok(!m2 && kvmon_get_errno() == ENOENT, "missing file: ENOENT");
}

/* 1 KiB blocks, 8 groups: inodes and files spread over groups, inode
 * tables found through the sorted group table. */
static void multi_group(struct dirty *d)
{
	struct kvmon_disk *da, *db;
	struct kvmon_fs *fa, *fb;
	struct kvmon_fsmap *map;
	struct tree ta = { 0 }, tb = { 0 };
	struct result r;

	if (tsh("rm -rf '%s' && mkdir -p '%s' && cd '%s' && for i in 1 2 3 4 5 6 "
	       "7 8; do mkdir d$i; for j in $(seq 1 40); do head -c 3000 "
	       "/dev/urandom > d$i/f$j; done; done && mke2fs -q -F -t ext4 "
	       "-b 1024 -O ^flex_bg -d '%s' '%s' 64M >/dev/null 2>&1",
	       src, src, src, src, img_a))
		bail("mke2fs (groups)");
	tsh("cp '%s' '%s'", img_a, img_b);
	if (tsh("printf Q | dd of='%s' bs=1024 seek=%llu conv=notrunc "
	       "status=none", img_b,
	       (unsigned long long)first_block(img_a, "/d5/f7")) ||
	    tsh("debugfs -w -R 'set_inode_field /d7/f3 mode 0100600' '%s' "
	       ">/dev/null 2>&1", img_b) ||
	    tsh("debugfs -w -R 'rm /d2/f9' '%s' >/dev/null 2>&1", img_b))
		bail("changing the multi-group image");
	fa = open_fs(img_a, &da);
	fb = open_fs(img_b, &db);
	ta.fs = fa;
	tb.fs = fb;
	full_scan(&ta);
	full_scan(&tb);
	map = kvmon_fsmap_build(fa);
	ok(map && map->groups == 8, "multi-group map built (%u groups)",
	   map ? map->groups : 0);
	if (map) {
		diff_images(img_a, img_b, d);
		check_against_truth("groups", map, &ta, &tb, d, &r);
		ok(must(&tb, "/d5/f7")->change == KVMON_CHANGE_MAYBE &&
		   (must(&tb, "/d5/f7")->why & KVMON_WHY_DATA) &&
		   must(&tb, "/d7/f3")->change == KVMON_CHANGE_MAYBE &&
		   (must(&tb, "/d7/f3")->why & KVMON_WHY_INODE) &&
		   must(&ta, "/d2/f9")->seen == 1,
		   "groups: raw write, chmod and delete in other groups found");
	}
	kvmon_fsmap_free(map);
	kvmon_fs_close(fa);
	kvmon_fs_close(fb);
	kvmon_disk_close(da);
	kvmon_disk_close(db);
	free_tree(&ta);
	free_tree(&tb);
}

int main(void)
{
	struct kvmon_disk *da, *db;
	struct kvmon_fs *fa, *fb;
	struct kvmon_fsmap *map;
	struct tree ta = { 0 }, tb = { 0 };
	struct dirty *d = calloc(1, sizeof(*d));
	struct result r;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(root, sizeof(root), "%s/kvmon-test-changes-XXXXXX", tmp);
	if (!d || !mkdtemp(root))
		bail("mkdtemp");
	atexit(cleanup);
	snprintf(src, sizeof(src), "%s/src", root);
	snprintf(img_a, sizeof(img_a), "%s/a.img", root);
	snprintf(img_b, sizeof(img_b), "%s/b.img", root);
	snprintf(map_path, sizeof(map_path), "%s/base.map", root);
	if (tsh("mkdir -p '%s/etc' '%s/usr/lib' '%s/var/log' && "
	       "echo root:x:0:0:root:/root:/bin/sh > '%s/etc/passwd' && "
	       "echo 127.0.0.1 localhost > '%s/etc/hosts' && "
	       "echo tool > '%s/usr/lib/tool' && "
	       "head -c 300000 /dev/urandom > '%s/usr/lib/x.so' && "
	       "for i in $(seq 1 200); do echo $i > '%s/var/log/f'$i; done && "
	       "echo a > '%s/a.txt' && echo old > '%s/old.txt' && "
	       "mkdir '%s/olddir' && echo in > '%s/olddir/inner' && "
	       "ln -s /etc/passwd '%s/link' && "
	       "mke2fs -q -F -t ext4 -b 4096 -d '%s' '%s' 32M >/dev/null 2>&1",
	       src, src, src, src, src, src, src, src, src, src, src, src, src,
	       src, img_a))
		bail("mke2fs");

	/* No change: zero changes. */
	fa = open_fs(img_a, &da);
	ta.fs = fa;
	full_scan(&ta);
	map = kvmon_fsmap_build(fa);
	ok(map != NULL, "map of the baseline built (%s)",
	   map ? "" : kvmon_get_error());
	if (!map)
		return tap_done();
	diff_images(img_a, img_a, d);
	check_against_truth("unchanged", map, &ta, &ta, d, &r);
	ok(r.n_maybe == 0 && r.n_added == 0 && r.removed == 0 &&
	   r.n_same == ta.n, "unchanged: every path SAME");
	map_file_checks(map);

	/* Changes: content (same size, in place, no inode change: a raw
	 * write), chmod only, new file, delete, rename, new directory,
	 * removed directory. */
	tsh("cp '%s' '%s'", img_a, img_b);
	if (tsh("printf 'root:x:0:0:EVIL:/root:/bin/sh' | dd of='%s' bs=4096 "
	       "seek=%llu conv=notrunc status=none", img_b,
	       (unsigned long long)first_block(img_a, "/etc/passwd")) ||
	    tsh("printf 'X' | dd of='%s' bs=1 seek=%llu conv=notrunc status=none",
	       img_b, (unsigned long long)first_block(img_a, "/usr/lib/x.so") *
			      4096 + 70000) ||
	    tsh("cd '%s' && echo new > new.txt && echo f > nf && "
	       "debugfs -w -f - '%s' >/dev/null 2>&1 <<'E'\n"
	       "set_inode_field /usr/lib/tool mode 0100700\n"
	       "write new.txt new.txt\n"
	       "rm old.txt\n"
	       "ln a.txt b.txt\n"
	       "unlink a.txt\n"
	       "mkdir newdir\n"
	       "write nf newdir/nf\n"
	       "rm olddir/inner\n"
	       "rmdir olddir\n"
	       "E", root, img_b))
		bail("changing image B");
	fb = open_fs(img_b, &db);
	tb.fs = fb;
	full_scan(&tb);
	diff_images(img_a, img_b, d);
	check_against_truth("changed", map, &ta, &tb, d, &r);
	ok(must(&tb, "/etc/passwd")->change == KVMON_CHANGE_MAYBE &&
	   (must(&tb, "/etc/passwd")->why & KVMON_WHY_DATA),
	   "raw block write to /etc/passwd (no inode change): MAYBE, DATA");
	ok(must(&tb, "/usr/lib/x.so")->change == KVMON_CHANGE_MAYBE &&
	   (must(&tb, "/usr/lib/x.so")->why & KVMON_WHY_DATA),
	   "one byte in the middle of x.so: MAYBE, DATA");
	ok(must(&tb, "/usr/lib/tool")->change == KVMON_CHANGE_MAYBE &&
	   (must(&tb, "/usr/lib/tool")->why & KVMON_WHY_INODE),
	   "chmod only: MAYBE, INODE (why %#x)", must(&tb, "/usr/lib/tool")->why);
	ok(must(&tb, "/new.txt")->change == KVMON_CHANGE_ADDED, "new file ADDED");
	ok(must(&tb, "/b.txt")->change == KVMON_CHANGE_ADDED &&
	   must(&ta, "/a.txt")->seen == 1, "rename: REMOVED old + ADDED new");
	ok(must(&ta, "/old.txt")->seen == 1, "deleted file REMOVED");
	ok(must(&tb, "/newdir")->change == KVMON_CHANGE_ADDED &&
	   must(&tb, "/newdir/nf")->change == KVMON_CHANGE_ADDED,
	   "new directory and its file ADDED");
	ok(must(&ta, "/olddir")->seen == 1 && must(&ta, "/olddir/inner")->seen == 1,
	   "removed directory and its file REMOVED");
	ok(must(&tb, "/etc/hosts")->change == KVMON_CHANGE_SAME &&
	   must(&tb, "/var/log/f100")->change == KVMON_CHANGE_SAME,
	   "untouched files SAME");
	ok(r.n_same > r.n_maybe, "most paths proven SAME (%lu of %zu)",
	   r.n_same, tb.n);

	/* A dirty block nobody owned and no metadata: unattributed means
	 * every path is re-examined, never ignored. Simulated by a dirty
	 * range over an allocated, unowned block: the map without runs. */
	{
		struct kvmon_fsmap *m2 = kvmon_fsmap_load(map_path);
		size_t saved = m2 ? m2->n_runs : 0;

		if (m2) {
			m2->n_runs = 0; /* forget every owner */
			check_against_truth("no owners", m2, &ta, &tb, d, &r);
			ok(r.n_same == 0, "unattributable dirty blocks: no path "
			   "SAME (%lu MAYBE)", r.n_maybe);
			ok(must(&tb, "/etc/hosts")->why & KVMON_WHY_UNATTRIBUTED,
			   "... and they carry UNATTRIBUTED");
			m2->n_runs = saved;
		}
		kvmon_fsmap_free(m2);
	}

	/* Geometry differs (another file system): refused. */
	{
		struct kvmon_fsmap *m2 = kvmon_fsmap_load(map_path);

		if (m2)
			m2->fs_off = 4096;
		ok(m2 && kvmon_fs_changes_with(fb, dirty_list, d, m2, change_cb,
					       &r) < 0 &&
		   kvmon_get_errno() == ESTALE, "map of another place: ESTALE");
		kvmon_fsmap_free(m2);
	}
	ok(kvmon_fs_changes(fb, db, map, change_cb, &r) < 0 &&
	   kvmon_get_errno() == ENODATA,
	   "raw disk without a bitmap: ENODATA from kvmon_fs_changes");

	kvmon_fsmap_free(map);
	kvmon_fs_close(fa);
	kvmon_fs_close(fb);
	kvmon_disk_close(da);
	kvmon_disk_close(db);
	free_tree(&ta);
	free_tree(&tb);
	multi_group(d);
	free(d);
	return tap_done();
}
