/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File-integrity checker internals (docs/fim.md). */
#ifndef KVMON_FIM_INTERNAL_H
#define KVMON_FIM_INTERNAL_H

#include "internal.h"

#include <stdbool.h>
#include <stdint.h>

/* Bounds on hostile or user input. */
#define FIM_MAX_PATH 4096          /* bytes of one path */
#define FIM_MAX_DEPTH 256          /* directory nesting walked */
#define FIM_MAX_ENTRIES 10000000u  /* paths in one database */
#define FIM_MAX_META 16            /* metadata items */
#define FIM_MAX_META_VALUE 1024

/* What a scan recorded for one path (only the fields in attrs are valid). */
struct fim_entry {
	char *path;
	char *lname;                /* symlink target (KVMON_FIM_LNAME) */
	unsigned attrs;
	uint32_t mode, uid, gid, nlink;
	uint64_t size, ino;
	int64_t mtime, ctime;
	uint32_t mtime_ns, ctime_ns;
	unsigned char xattrs[32];
	unsigned char sha256[32];
	unsigned char sha512[64];
	int hash_err;               /* errno of a failed read, 0 if hashed */
	bool copied;                /* hashes taken from the baseline */
	bool pooled;                /* path in the database's pool (db.c) */
};

struct fim_meta {
	char name[33];
	char *value;
};

struct kvmon_fim_db {
	struct fim_entry *e;        /* sorted by path (strcmp) */
	size_t n, cap;
	struct fim_meta meta[FIM_MAX_META];
	size_t nmeta;
	struct fim_loader *bg;      /* entries still being parsed (db.c) */
	struct fim_pool *pool;      /* blocks holding pooled paths */
};

struct kvmon_fim_db *fim_db_new(void);
/* A copy of s (n bytes, NUL added) that lives as long as db: for an
 * entry's path, with pooled set. NULL without memory. */
char *fim_db_pool_str(struct kvmon_fim_db *db, const char *s, size_t n);
/* Free what an entry owns (its path unless pooled, its link target). */
void fim_entry_free(const struct fim_entry *e);
/* Append (takes ownership of path and lname; frees them on failure). */
int fim_db_add(struct kvmon_fim_db *db, const struct fim_entry *e);
void fim_db_sort(struct kvmon_fim_db *db);
/* Parse a database image in memory (MAC checked first). */
struct kvmon_fim_db *fim_db_parse(const char *data, size_t len,
				  const unsigned char *key, size_t keylen);
/* scan.c: stat (+ xattrs, symlink target) one path into db (takes path);
 * hash every regular file of db not yet hashed, in parallel. */
/* What attrs can mean for a file of this mode (hashes: regular files;
 * target: symlinks). */
unsigned fim_attrs_for(unsigned attrs, uint32_t mode);
int fim_record(struct kvmon_fs *fs, struct kvmon_fim_db *db, char *path,
	       uint64_t ino, unsigned attrs);
int fim_hash_all(struct kvmon_fs *fs, struct kvmon_fim_db *db,
		 const struct kvmon_fim_scan_opts *o, uint64_t *hashed);
/* db.c: the entry for path, or NULL (binary search). */
const struct fim_entry *fim_db_find(const struct kvmon_fim_db *db,
				    const char *path);
/* Serialise (version 2, binary) without/with the MAC. */
char *fim_db_format(const struct kvmon_fim_db *db, const unsigned char *key,
		    size_t keylen, size_t *len);
/* The same as version 1 (text), which is still read: tests, fuzzer. */
char *fim_db_format_v1(const struct kvmon_fim_db *db, const unsigned char *key,
		       size_t keylen, size_t *len);

#endif
