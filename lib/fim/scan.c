// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fim scan: walk the guest file system from / with the configured rules,
 * record the selected attributes, then hash regular files in N threads.
 * The walk is serial (libext2fs is serialised per file system anyway);
 * hashing reads 1 MiB chunks through kvmon_fs_pread, whose lock is held
 * only for the read, so digests are computed in parallel.
 * Hostile file systems: depth capped, each directory inode walked once
 * (a directory linked into its own subtree is not followed), paths and
 * entry counts bounded.
 */
#define _GNU_SOURCE
#include "fim/fim_internal.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_CHUNK (1u << 20)
#define MAX_JOBS 64
#define MAX_HASH_SIZE ((uint64_t)1 << 40) /* a sparse 1 TiB file: refused */
#define MAX_XATTR_LIST (1u << 20)
#define MAX_XATTR_VALUE (1u << 20)

/* Set of directory inodes already walked (open addressing). */
struct inoset {
	uint64_t *v;
	size_t cap, n;
};

static int inoset_add(struct inoset *s, uint64_t ino)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct inoset ns = { .cap = s->cap ? s->cap * 2 : 1024 };

		ns.v = calloc(ns.cap, sizeof(*ns.v));
		if (!ns.v)
			return kvmon_set_error(ENOMEM, "out of memory");
		for (i = 0; i < s->cap; i++)
			if (s->v[i])
				inoset_add(&ns, s->v[i]);
		free(s->v);
		*s = ns;
	}
	for (i = (ino * 0x9e3779b97f4a7c15ull) & (s->cap - 1); s->v[i];
	     i = (i + 1) & (s->cap - 1))
		if (s->v[i] == ino)
			return 1;
	s->v[i] = ino;
	s->n++;
	return 0;
}

struct walker {
	struct kvmon_fs *fs;
	const struct kvmon_fim_config *cfg;
	struct kvmon_fim_db *db;
	struct inoset dirs;
	const struct kvmon_fim_scan_opts *o;
	uint64_t walked;
	int64_t last_ms;
};

struct child {
	char *name;
	uint64_t ino;
	unsigned type;
};

struct children {
	struct child *c;
	size_t n, cap;
	int err;
};

static int collect(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct children *ch = opaque;

	if (ch->n >= FIM_MAX_ENTRIES) {
		ch->err = E2BIG;
		return 1;
	}
	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 64;
		struct child *nc = realloc(ch->c, cap * sizeof(*nc));

		if (!nc) {
			ch->err = ENOMEM;
			return 1;
		}
		ch->c = nc;
		ch->cap = cap;
	}
	ch->c[ch->n].name = strdup(name);
	if (!ch->c[ch->n].name) {
		ch->err = ENOMEM;
		return 1;
	}
	ch->c[ch->n].ino = ino;
	ch->c[ch->n++].type = type;
	return 0;
}

static void children_free(struct children *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		free(ch->c[i].name);
	free(ch->c);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* SHA-256 over the sorted (name, value length, value) list: one digest
 * stands for all extended attributes. */
static int hash_xattrs(struct kvmon_fs *fs, uint64_t ino, unsigned char md[32])
{
	char *list = NULL, **names = NULL, *val = NULL;
	size_t nnames = 0, i;
	ssize_t len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned mdlen;
	int rc = -1;

	if (!ctx)
		return kvmon_set_error(ENOMEM, "out of memory");
	len = kvmon_fs_listxattr(fs, ino, NULL, 0);
	if (len < 0 || (size_t)len > MAX_XATTR_LIST)
		goto out;
	list = malloc((size_t)len + 1);
	names = calloc((size_t)len / 2 + 1, sizeof(*names));
	val = malloc(MAX_XATTR_VALUE);
	if (!list || !names || !val)
		goto out;
	if (len > 0 && (len = kvmon_fs_listxattr(fs, ino, list, (size_t)len)) < 0)
		goto out;
	list[len] = '\0';
	for (i = 0; i < (size_t)len; i += strlen(list + i) + 1)
		if (list[i])
			names[nnames++] = list + i;
	qsort(names, nnames, sizeof(*names), name_cmp);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (i = 0; i < nnames; i++) {
		ssize_t vl = kvmon_fs_getxattr(fs, ino, names[i], val, MAX_XATTR_VALUE);
		uint64_t l;

		if (vl < 0)
			goto out;
		l = (uint64_t)vl;
		EVP_DigestUpdate(ctx, names[i], strlen(names[i]) + 1);
		EVP_DigestUpdate(ctx, &l, sizeof(l));
		EVP_DigestUpdate(ctx, val, (size_t)vl);
	}
	rc = EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 ? 0 : -1;
out:
	EVP_MD_CTX_free(ctx);
	free(list);
	free(names);
	free(val);
	return rc;
}

unsigned fim_attrs_for(unsigned attrs, uint32_t mode)
{
	if (!S_ISREG(mode))
		attrs &= ~(unsigned)(KVMON_FIM_SHA256 | KVMON_FIM_SHA512);
	if (!S_ISLNK(mode))
		attrs &= ~(unsigned)KVMON_FIM_LNAME;
	return attrs;
}

int fim_record(struct kvmon_fs *fs, struct kvmon_fim_db *db, char *path,
	       uint64_t ino, unsigned attrs)
{
	struct fim_entry e = { .path = path, .attrs = attrs, .ino = ino };
	struct kvmon_fs_stat st;

	if (kvmon_fs_stat(fs, ino, &st) < 0) {
		e.hash_err = kvmon_get_errno() ? kvmon_get_errno() : EIO;
		return fim_db_add(db, &e);
	}
	e.mode = st.mode;
	e.uid = st.uid;
	e.gid = st.gid;
	e.nlink = st.nlink;
	e.size = st.size;
	e.mtime = st.mtime;
	e.mtime_ns = st.mtime_ns;
	e.ctime = st.ctime;
	e.ctime_ns = st.ctime_ns;
	e.attrs = fim_attrs_for(attrs, st.mode);
	if ((e.attrs & KVMON_FIM_XATTRS) && hash_xattrs(fs, ino, e.xattrs) < 0)
		e.hash_err = EIO;
	if (e.attrs & KVMON_FIM_LNAME) {
		char target[FIM_MAX_PATH + 1];
		ssize_t n = kvmon_fs_readlink(fs, ino, target, sizeof(target));

		if (n > 0)
			e.lname = strdup(target);
		else
			e.hash_err = EIO;
		if (n > 0 && !e.lname) {
			free(path);
			return kvmon_set_error(ENOMEM, "out of memory");
		}
	}
	return fim_db_add(db, &e);
}

static int walk(struct walker *w, const char *dir, uint64_t dir_ino,
		unsigned depth);

static int visit(struct walker *w, const char *dir, const struct child *c,
		 unsigned depth)
{
	size_t dl = strcmp(dir, "/") ? strlen(dir) : 0;
	size_t nl = strlen(c->name);
	bool descend, is_dir = c->type == DT_DIR;
	unsigned attrs;
	char *path;

	if (dl + 1 + nl > FIM_MAX_PATH)
		return 0; /* cannot be named in the database: skipped */
	path = malloc(dl + nl + 2);
	if (!path)
		return kvmon_set_error(ENOMEM, "out of memory");
	memcpy(path, dir, dl);
	path[dl] = '/';
	memcpy(path + dl + 1, c->name, nl + 1);
	w->walked++;
	attrs = kvmon_fim_config_match(w->cfg, path, &descend);
	if (c->type == DT_UNKNOWN) { /* no filetype feature: ask the inode */
		struct kvmon_fs_stat st;

		if (kvmon_fs_stat(w->fs, c->ino, &st) == 0 && S_ISDIR(st.mode))
			is_dir = true;
	}
	if (is_dir && descend) {
		if (walk(w, path, c->ino, depth + 1) < 0) {
			free(path);
			return -1;
		}
	}
	if (!attrs) {
		free(path);
		return 0;
	}
	return fim_record(w->fs, w->db, path, c->ino, attrs);
}

static int walk(struct walker *w, const char *dir, uint64_t dir_ino,
		unsigned depth)
{
	struct children ch = { 0 };
	size_t i;
	int rc;

	if (depth > FIM_MAX_DEPTH)
		return 0;
	rc = inoset_add(&w->dirs, dir_ino);
	if (rc)
		return rc < 0 ? -1 : 0; /* seen: a loop, not followed again */
	if (kvmon_fs_readdir(w->fs, dir_ino, collect, &ch) < 0 && !ch.err) {
		children_free(&ch);
		return 0; /* unreadable directory: its entries stay unknown */
	}
	if (ch.err) {
		children_free(&ch);
		return kvmon_set_error(ch.err, "%s: too many entries", dir);
	}
	for (i = 0, rc = 0; i < ch.n && rc == 0; i++)
		rc = visit(w, dir, &ch.c[i], depth);
	children_free(&ch);
	if (w->o && w->o->progress && kvmon_now_ms() - w->last_ms >= 200) {
		w->last_ms = kvmon_now_ms();
		w->o->progress(w->o->opaque, w->walked, 0);
	}
	return rc;
}

/* ------------------------------------------------------------ hashing */

struct hasher {
	struct kvmon_fs *fs;
	struct kvmon_fim_db *db;
	size_t *jobs, njobs;
	atomic_size_t next;
	atomic_uint_fast64_t files, bytes;
	pthread_mutex_t lock;
	int64_t last_ms;
	uint64_t max_size; /* larger files are not read: EFBIG */
	const struct kvmon_fim_scan_opts *o;
};

/* A file can hold no more data than its file system; beyond that it is
 * holes, and hashing terabytes of zeros is a guest's cheap way to stall
 * the checker. Such a file is reported (read error EFBIG), not hidden. */
static uint64_t hash_limit(struct kvmon_fs *fs)
{
	uint64_t bsize, blocks, bfree, files, ffree;

	if (kvmon_fs_statfs(fs, &bsize, &blocks, &bfree, &files, &ffree) < 0 ||
	    !bsize || blocks > MAX_HASH_SIZE / bsize)
		return MAX_HASH_SIZE;
	return blocks * bsize;
}

static int hash_file(struct hasher *h, struct fim_entry *e, unsigned char *buf)
{
	EVP_MD_CTX *c256 = NULL, *c512 = NULL;
	uint64_t off = 0;
	unsigned mdlen;
	int rc = 0;

	if (e->size > h->max_size)
		return EFBIG;
	if (e->attrs & KVMON_FIM_SHA256) {
		c256 = EVP_MD_CTX_new();
		if (!c256 || EVP_DigestInit_ex(c256, EVP_sha256(), NULL) != 1)
			rc = ENOMEM;
	}
	if (!rc && (e->attrs & KVMON_FIM_SHA512)) {
		c512 = EVP_MD_CTX_new();
		if (!c512 || EVP_DigestInit_ex(c512, EVP_sha512(), NULL) != 1)
			rc = ENOMEM;
	}
	while (!rc && off < e->size) {
		size_t want = e->size - off < HASH_CHUNK ? (size_t)(e->size - off)
							 : HASH_CHUNK;
		ssize_t n = kvmon_fs_pread(h->fs, e->ino, buf, want, off);

		if (n < 0) {
			rc = kvmon_get_errno() ? kvmon_get_errno() : EIO;
			break;
		}
		if (n == 0)
			break; /* shorter than its size says: hash what is there */
		if (c256)
			EVP_DigestUpdate(c256, buf, (size_t)n);
		if (c512)
			EVP_DigestUpdate(c512, buf, (size_t)n);
		off += (uint64_t)n;
		atomic_fetch_add(&h->bytes, (uint64_t)n);
	}
	if (!rc && c256 && EVP_DigestFinal_ex(c256, e->sha256, &mdlen) != 1)
		rc = EIO;
	if (!rc && c512 && EVP_DigestFinal_ex(c512, e->sha512, &mdlen) != 1)
		rc = EIO;
	EVP_MD_CTX_free(c256);
	EVP_MD_CTX_free(c512);
	return rc;
}

static void report(struct hasher *h)
{
	int64_t now;

	if (!h->o || !h->o->progress)
		return;
	if (pthread_mutex_trylock(&h->lock))
		return; /* another thread is reporting */
	now = kvmon_now_ms();
	if (now - h->last_ms < 200) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	h->last_ms = now;
	h->o->progress(h->o->opaque, atomic_load(&h->files),
		       atomic_load(&h->bytes));
	pthread_mutex_unlock(&h->lock);
}

static void *hash_thread(void *arg)
{
	struct hasher *h = arg;
	unsigned char *buf = malloc(HASH_CHUNK);
	size_t i;

	while ((i = atomic_fetch_add(&h->next, 1)) < h->njobs) {
		struct fim_entry *e = &h->db->e[h->jobs[i]];

		e->hash_err = buf ? hash_file(h, e, buf) : ENOMEM;
		atomic_fetch_add(&h->files, 1);
		report(h);
	}
	free(buf);
	return NULL;
}

static unsigned job_count(const struct kvmon_fim_scan_opts *o)
{
	long n = o && o->jobs ? (long)o->jobs : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (unsigned)n;
}

int fim_hash_all(struct kvmon_fs *fs, struct kvmon_fim_db *db,
		 const struct kvmon_fim_scan_opts *o, uint64_t *hashed)
{
	struct hasher h = { .fs = fs, .db = db, .o = o,
			    .max_size = hash_limit(fs) };
	pthread_t th[MAX_JOBS];
	unsigned nth = job_count(o), started = 0, t;
	size_t i;

	h.jobs = malloc((db->n + 1) * sizeof(*h.jobs));
	if (!h.jobs)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (i = 0; i < db->n; i++)
		if (!db->e[i].hash_err && !db->e[i].copied &&
		    (db->e[i].attrs & (KVMON_FIM_SHA256 | KVMON_FIM_SHA512)))
			h.jobs[h.njobs++] = i;
	pthread_mutex_init(&h.lock, NULL);
	atomic_init(&h.next, 0);
	atomic_init(&h.files, 0);
	atomic_init(&h.bytes, 0);
	for (t = 1; t < nth; t++)
		if (pthread_create(&th[started], NULL, hash_thread, &h) == 0)
			started++;
	hash_thread(&h); /* this thread works too */
	for (t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&h.lock);
	if (o && o->progress)
		o->progress(o->opaque, atomic_load(&h.files), atomic_load(&h.bytes));
	if (hashed)
		*hashed = h.njobs;
	free(h.jobs);
	return 0;
}

struct kvmon_fim_db *kvmon_fim_scan(struct kvmon_fs *fs,
				    const struct kvmon_fim_config *c,
				    const struct kvmon_fim_scan_opts *o)
{
	struct walker w = { .fs = fs, .cfg = c, .o = o };
	unsigned attrs;
	bool descend;

	if (!fs || !c) {
		kvmon_set_error(EINVAL, "file system and configuration needed");
		return NULL;
	}
	w.db = fim_db_new();
	if (!w.db)
		return NULL;
	attrs = kvmon_fim_config_match(c, "/", &descend);
	if (descend && walk(&w, "/", KVMON_FS_ROOT_INO, 0) < 0)
		goto fail;
	if (attrs) {
		char *root = kvmon_strdup("/");

		if (!root || fim_record(fs, w.db, root, KVMON_FS_ROOT_INO, attrs) < 0)
			goto fail;
	}
	if (fim_hash_all(fs, w.db, o, NULL) < 0)
		goto fail;
	fim_db_sort(w.db);
	free(w.dirs.v);
	return w.db;
fail:
	kvmon_error_prefix("scan");
	free(w.dirs.v);
	kvmon_fim_db_free(w.db);
	return NULL;
}
