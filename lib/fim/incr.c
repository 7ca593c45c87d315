// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fim incremental scan: kvmon_fs_changes() tells, per path of the current
 * tree, whether its inode, blocks and directory are untouched since the
 * baseline (SAME: copied from the baseline database, never read) or not
 * (MAYBE / ADDED: stat'ed again; hashed again unless the data is proven
 * clean and size, mtime and ctime are what the baseline says). The
 * selection is the full scan's: a path counts only if every directory
 * above it may be walked (no negative rule) and it is within the depth
 * and length bounds, so both produce the same database.
 */
#define _GNU_SOURCE
#include "fim/fim_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define WALK_CACHE 64

struct incr {
	struct kvmon_fs *fs;
	const struct kvmon_fim_config *cfg;
	const struct kvmon_fim_db *base;
	struct kvmon_fim_db *db;
	struct kvmon_fim_incr_stats st;
	const struct kvmon_fim_scan_opts *o;
	/* small cache: directory -> may be walked */
	char *dir[WALK_CACHE];
	size_t len[WALK_CACHE];
	bool walk[WALK_CACHE];
	unsigned next, last;
	bool root_walked, root_seen;
	bool same_rules;            /* the baseline was made with these rules */
	size_t hint;                /* baseline entry after the last one found */
};

/* Would the full scan walk into directory d (length n)? */
static bool walkable(struct incr *in, const char *d, size_t n, unsigned depth)
{
	char *key;
	bool desc, ok;
	size_t i, p;

	if (n <= 1)
		return true; /* "/" is walked when its own rule allows: below */
	if (depth > FIM_MAX_DEPTH)
		return false;
	/* The walk reports a directory's entries together: the last directory
	 * asked about is nearly always the one asked about again. */
	i = in->last;
	if (in->dir[i] && in->len[i] == n && !memcmp(in->dir[i], d, n))
		return in->walk[i];
	for (i = 0; i < WALK_CACHE; i++)
		if (in->dir[i] && in->len[i] == n && !memcmp(in->dir[i], d, n)) {
			in->last = (unsigned)i;
			return in->walk[i];
		}
	for (p = n - 1; p > 0 && d[p] != '/'; p--)
		;
	ok = walkable(in, d, p ? p : 1, depth + 1);
	key = strndup(d, n);
	if (!key)
		return ok;
	if (ok) {
		kvmon_fim_config_match(in->cfg, key, &desc);
		ok = desc;
	}
	free(in->dir[in->next]);
	in->dir[in->next] = key;
	in->len[in->next] = n;
	in->walk[in->next] = ok;
	in->last = in->next;
	in->next = (in->next + 1) % WALK_CACHE;
	return ok;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static unsigned depth_of(const char *path)
{
	unsigned n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

/* Copy a baseline entry (its strings duplicated) into the new database. */
static int copy_entry(struct kvmon_fim_db *db, const struct fim_entry *be)
{
	struct fim_entry e = *be;

	e.path = fim_db_pool_str(db, be->path, strlen(be->path));
	e.pooled = true;
	e.lname = be->lname ? strdup(be->lname) : NULL;
	e.copied = true;
	if (!e.path || (be->lname && !e.lname)) {
		free(e.lname);
		return kvmon_set_error(ENOMEM, "out of memory");
	}
	return fim_db_add(db, &e);
}

static bool same_stat(const struct fim_entry *a, const struct fim_entry *b)
{
	return a->ino == b->ino && a->size == b->size && a->mode == b->mode &&
	       a->mtime == b->mtime && a->mtime_ns == b->mtime_ns &&
	       a->ctime == b->ctime && a->ctime_ns == b->ctime_ns && !b->hash_err;
}

static int examine(struct incr *in, const char *path, uint64_t ino,
		   unsigned attrs, const struct fim_entry *be, bool data_clean)
{
	struct fim_entry *e;
	char *p = strdup(path);

	if (!p)
		return kvmon_set_error(ENOMEM, "out of memory");
	if (fim_record(in->fs, in->db, p, ino, attrs) < 0)
		return -1;
	in->st.examined++;
	e = &in->db->e[in->db->n - 1];
	/* Data blocks clean and the inode says the same: the hashes stand. */
	if (data_clean && be && be->attrs == e->attrs && same_stat(e, be) &&
	    S_ISREG(e->mode) && !e->hash_err) {
		memcpy(e->sha256, be->sha256, sizeof(e->sha256));
		memcpy(e->sha512, be->sha512, sizeof(e->sha512));
		e->copied = true;
	}
	return 0;
}

/* The baseline entry for path: the walk meets most paths in the
 * baseline's order, so the one after the last hit comes first. */
static const struct fim_entry *find(struct incr *in, const char *path)
{
	const struct kvmon_fim_db *b = in->base;
	const struct fim_entry *e;

	if (in->hint < b->n && !strcmp(b->e[in->hint].path, path))
		return &b->e[in->hint++];
	e = fim_db_find(b, path);
	if (e)
		in->hint = (size_t)(e - b->e) + 1;
	return e;
}

static int on_change(void *opaque, const char *path, uint64_t ino, int change,
		     unsigned why)
{
	struct incr *in = opaque;
	const struct fim_entry *be;
	size_t n = strlen(path), p;
	unsigned attrs;
	bool desc;

	if (change == KVMON_CHANGE_REMOVED || path[0] != '/' || n > FIM_MAX_PATH)
		return 0; /* removed paths are simply not in the new database */
	if (n == 1)
		in->root_seen = true;
	/* Selection is a function of the rules and the path alone: under the
	 * baseline's rules, an untouched path the baseline recorded is
	 * selected again with the same attributes (no rule match needed). */
	if (change == KVMON_CHANGE_SAME && in->same_rules &&
	    (be = find(in, path)) && be->ino == ino && !be->hash_err) {
		in->st.copied++;
		return copy_entry(in->db, be) < 0 ? -1 : 0;
	}
	if (n > 1) {
		for (p = n - 1; p > 0 && path[p] != '/'; p--)
			;
		if (!in->root_walked || depth_of(path) > FIM_MAX_DEPTH + 1 ||
		    !walkable(in, path, p ? p : 1, 0))
			return 0;
	}
	attrs = kvmon_fim_config_match(in->cfg, path, &desc);
	if (!attrs)
		return 0;
	be = find(in, path);
	/* the baseline entry's type tells what these rules record for it */
	if (change == KVMON_CHANGE_SAME && be && be->ino == ino && !be->hash_err &&
	    be->attrs == fim_attrs_for(attrs, be->mode)) {
		in->st.copied++;
		return copy_entry(in->db, be) < 0 ? -1 : 0;
	}
	return examine(in, path, ino, attrs, be,
		       change == KVMON_CHANGE_SAME ||
		       (change == KVMON_CHANGE_MAYBE &&
			!(why & (KVMON_WHY_DATA | KVMON_WHY_UNATTRIBUTED)))) < 0
		       ? -1 : 0;
}

struct kvmon_fim_db *
kvmon_fim_scan_changes(struct kvmon_fs *fs, struct kvmon_disk *d,
		       const struct kvmon_fsmap *map,
		       const struct kvmon_fim_config *c,
		       const struct kvmon_fim_db *base,
		       const struct kvmon_fim_scan_opts *o,
		       struct kvmon_fim_incr_stats *st)
{
	struct incr in = { .fs = fs, .cfg = c, .base = base, .o = o };
	uint64_t t0 = now_us(), t1;
	const char *conf;
	unsigned i;
	int rc;

	if (!fs || !d || !map || !c || !base) {
		kvmon_set_error(EINVAL, "file system, disk, map, rules and baseline "
				"needed");
		return NULL;
	}
	if (kvmon_fim_db_wait(base) < 0)
		return NULL;
	in.db = fim_db_new();
	if (!in.db)
		return NULL;
	/* Nearly every baseline entry is copied: one allocation, not ~15
	 * doublings (a failure here only means growing as usual). */
	if (base->n && base->n < FIM_MAX_ENTRIES) {
		in.db->e = malloc((base->n + 1024) * sizeof(*in.db->e));
		in.db->cap = in.db->e ? base->n + 1024 : 0;
	}
	conf = kvmon_fim_db_get_meta(base, "config");
	in.same_rules = conf && !strcmp(conf, kvmon_fim_config_id(c));
	/* the root's own rule decides whether anything is walked */
	kvmon_fim_config_match(c, "/", &in.root_walked);
	rc = kvmon_fs_changes(fs, d, map, on_change, &in);
	if (rc == 0 && !in.root_seen) /* the walk may not name "/" itself */
		rc = on_change(&in, "/", KVMON_FS_ROOT_INO, KVMON_CHANGE_MAYBE,
			       KVMON_WHY_INODE);
	for (i = 0; i < WALK_CACHE; i++)
		free(in.dir[i]);
	t1 = now_us();
	in.st.walk_us = t1 - t0;
	if (rc != 0 || fim_hash_all(fs, in.db, o, &in.st.hashed) < 0) {
		if (rc > 0)
			kvmon_set_error(EIO, "changed-path walk stopped");
		kvmon_error_prefix("incremental scan");
		kvmon_fim_db_free(in.db);
		return NULL;
	}
	in.st.hash_us = now_us() - t1;
	fim_db_sort(in.db);
	for (i = 0; i < in.db->n; i++)
		in.db->e[i].copied = false;
	in.st.paths = in.db->n;
	if (st)
		*st = in.st;
	return in.db;
}
