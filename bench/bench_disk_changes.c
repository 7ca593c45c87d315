// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Changed-part check vs full scan on a synthetic ext4 image (no VM):
 * FILES files of about MB megabytes in all (mke2fs -d) = image A; B = A
 * with CHANGED files rewritten in place by raw writes (no inode change,
 * the hardest case); dirty ranges = the 64 KiB chunks where A and B
 * differ (QEMU's bitmap granularity). Timed, alternating, ROUNDS times:
 *   full:    walk B, stat and SHA-256 every file (what a full check reads)
 *   changed: kvmon_fs_changes(B, dirty, map of A) + SHA-256 of every path
 *            it reports ADDED or CHANGED
 * Prints medians and the ratio; checks that the changed files were found.
 * Env: FILES=10000 MB=200 CHANGED=20 ROUNDS=3.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "disk/fsmap.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CHUNK 65536

static char dir[4096];

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned long env_num(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : def;
}

static void hash_file(struct kvmon_fs *fs, uint64_t ino, uint64_t *bytes)
{
	static char buf[1 << 20];
	unsigned char md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint64_t off = 0;
	ssize_t n;

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	while ((n = kvmon_fs_pread(fs, ino, buf, sizeof(buf), off)) > 0) {
		EVP_DigestUpdate(c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	*bytes += off;
}

struct full {
	struct kvmon_fs *fs;
	unsigned long paths;
	uint64_t bytes;
	unsigned depth;
};

static int full_cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct full *f = opaque;
	struct kvmon_fs_stat st;

	(void)name;
	f->paths++;
	if (kvmon_fs_stat(f->fs, ino, &st) == 0 && S_ISREG(st.mode))
		hash_file(f->fs, ino, &f->bytes);
	if (type == DT_DIR && f->depth < 64) {
		f->depth++;
		kvmon_fs_readdir(f->fs, ino, full_cb, f);
		f->depth--;
	}
	return 0;
}

struct dirty {
	uint64_t *off, *len;
	size_t n, cap;
};

static int dirty_list(void *ctx, int (*fn)(void *, uint64_t, uint64_t),
		      void *opaque)
{
	struct dirty *d = ctx;

	for (size_t i = 0; i < d->n; i++)
		if (fn(opaque, d->off[i], d->len[i]))
			return -1;
	return 0;
}

static void diff(const char *a, const char *b, struct dirty *d)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	static unsigned char ba[CHUNK], bb[CHUNK];
	uint64_t off = 0;
	size_t na, nb;

	if (!fa || !fb)
		exit(2);
	while ((na = fread(ba, 1, CHUNK, fa)) | (nb = fread(bb, 1, CHUNK, fb))) {
		if (na != nb || memcmp(ba, bb, na)) {
			if (d->n == d->cap) {
				d->cap = d->cap ? d->cap * 2 : 64;
				d->off = realloc(d->off, d->cap * 8);
				d->len = realloc(d->len, d->cap * 8);
			}
			d->off[d->n] = off;
			d->len[d->n++] = CHUNK;
		}
		off += CHUNK;
	}
	fclose(fa);
	fclose(fb);
}

struct chg {
	struct kvmon_fs *fs;
	unsigned long reported, rehashed, found;
	uint64_t bytes;
};

static int chg_cb(void *opaque, const char *path, uint64_t ino, int change,
		  unsigned why)
{
	struct chg *c = opaque;
	struct kvmon_fs_stat st;

	(void)why;
	c->reported++;
	if (change != KVMON_CHANGE_MAYBE && change != KVMON_CHANGE_ADDED)
		return 0;
	if (!strncmp(path, "/c/", 3))
		c->found++;
	if (kvmon_fs_stat(c->fs, ino, &st) == 0 && S_ISREG(st.mode)) {
		hash_file(c->fs, ino, &c->bytes);
		c->rehashed++;
	}
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void cleanup(void)
{
	char cmd[4200];

	if (*dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup failed\n");
	}
}

int main(void)
{
	unsigned long files = env_num("FILES", 10000), mb = env_num("MB", 200),
		      changed = env_num("CHANGED", 20), rounds = env_num("ROUNDS", 3);
	char cmd[16384], a[4200], b[4200];
	struct kvmon_disk *da, *db;
	struct kvmon_fs *fa, *fb;
	struct kvmon_fsmap *map;
	struct dirty d = { 0 };
	double tf[16], tc[16], t0;
	unsigned long found = 0, rehashed = 0;

	if (rounds < 1 || rounds > 16 || changed < 1 || changed > 1000)
		return 2;
	snprintf(dir, sizeof(dir), "%s/kvmon-bench-changes-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 2;
	atexit(cleanup);
	snprintf(a, sizeof(a), "%s/a.img", dir);
	snprintf(b, sizeof(b), "%s/b.img", dir);
	/* The files to change live in /c (found by path in the results). */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && python3 - %lu %lu %lu <<'PY'\n"
		 "import os, sys\n"
		 "n, mb, c = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
		 "per = max(1, mb * 1048576 // n)\n"
		 "blob = os.urandom(1 << 20)\n"
		 "for i in range(n):\n"
		 "    d = 'tree/c' if i < c else 'tree/d%%03d' %% (i %% 100)\n"
		 "    os.makedirs(d, exist_ok=True)\n"
		 "    with open('%%s/f%%06d' %% (d, i), 'wb') as f:\n"
		 "        o = (i * 7919) %% max(1, len(blob) - per)\n"
		 "        f.write(blob[o:o + per] + i.to_bytes(8, 'little'))\n"
		 "PY\n"
		 "mke2fs -q -F -t ext4 -b 4096 -d tree a.img $(( $(du -sm tree | cut -f1) "
		 "* 13 / 10 + 64 ))M >/dev/null 2>&1 && cp a.img b.img && "
		 "for f in tree/c/*; do blk=$(debugfs -R \"blocks /c/$(basename $f)\" "
		 "a.img 2>/dev/null | awk '{print $1}'); printf X | dd of=b.img "
		 "bs=4096 seek=$blk conv=notrunc status=none; done && rm -rf tree",
		 dir, files, mb, changed);
	if (system(cmd) != 0) {
		fprintf(stderr, "building the images failed\n");
		return 2;
	}
	diff(a, b, &d);
	da = kvmon_disk_open_raw(a);
	db = kvmon_disk_open_raw(b);
	fa = da ? kvmon_fs_open(da, 0, 0) : NULL;
	fb = db ? kvmon_fs_open(db, 0, 0) : NULL;
	if (!fa || !fb)
		return fprintf(stderr, "%s\n", kvmon_get_error()), 2;
	t0 = now_s();
	map = kvmon_fsmap_build(fa);
	if (!map)
		return fprintf(stderr, "%s\n", kvmon_get_error()), 2;
	printf("image: %lu files, ~%lu MB; %lu changed by raw writes; %zu dirty "
	       "64 KiB chunks\n", files, mb, changed, d.n);
	printf("baseline map built in %.3f s (%zu runs, %zu inodes)\n",
	       now_s() - t0, map->n_runs, map->n_inos);
	for (unsigned long r = 0; r < rounds; r++) {
		struct full f = { .fs = fb };
		struct chg c = { .fs = fb };

		t0 = now_s();
		kvmon_fs_readdir(fb, KVMON_FS_ROOT_INO, full_cb, &f);
		tf[r] = now_s() - t0;
		t0 = now_s();
		if (kvmon_fs_changes_with(fb, dirty_list, &d, map, chg_cb, &c) != 0)
			return fprintf(stderr, "%s\n", kvmon_get_error()), 2;
		tc[r] = now_s() - t0;
		found = c.found;
		rehashed = c.rehashed;
		printf("round %lu: full scan %.3f s (%lu paths, %llu bytes); "
		       "changed-part %.3f s (%lu re-hashed, %llu bytes)\n", r + 1,
		       tf[r], f.paths, (unsigned long long)f.bytes, tc[r],
		       c.rehashed, (unsigned long long)c.bytes);
	}
	qsort(tf, rounds, sizeof(double), cmp_d);
	qsort(tc, rounds, sizeof(double), cmp_d);
	printf("full scan (stat + SHA-256 of every file), median: %.3f s\n",
	       tf[rounds / 2]);
	printf("changed-part check (kvmon_fs_changes + SHA-256 of what it "
	       "reports), median: %.3f s\n", tc[rounds / 2]);
	printf("ratio full/changed: %.1fx\n", tf[rounds / 2] / tc[rounds / 2]);
	printf("changed files found: %lu of %lu (re-hashed %lu)\n", found,
	       changed, rehashed);
	kvmon_fsmap_free(map);
	kvmon_fs_close(fa);
	kvmon_fs_close(fb);
	kvmon_disk_close(da);
	kvmon_disk_close(db);
	free(d.off);
	free(d.len);
	return found == changed ? 0 : 1;
}
