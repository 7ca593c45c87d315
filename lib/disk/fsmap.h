/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Baseline block map (fsmap.c) as changes.c reads it; not installed. */
#ifndef KVMON_FSMAP_H
#define KVMON_FSMAP_H

#include <stdint.h>
#include <stddef.h>

/* On-disk and in-memory records: fixed-size, little-endian (x86-64). */
struct fsmap_run {          /* blocks [start, start+len) belong to ino */
	uint64_t start;
	uint32_t len;
	uint32_t ino;
};
struct fsmap_ino {          /* every inode reached from the root + reserved */
	uint32_t ino;
	uint32_t mode;
	uint64_t hfull;         /* hash of the whole on-disk inode */
	uint64_t hmap;          /* hash of what maps its data: i_block, size,
				   flags, xattr block */
};
struct fsmap_dent {         /* sorted by (dir, name) */
	uint32_t dir;
	uint32_t ino;
	uint32_t name_off;      /* into names */
	uint16_t name_len;
	uint8_t type;           /* DT_* */
	uint8_t pad;
};
struct fsmap_itab {         /* inode table of one group */
	uint64_t start;
	uint64_t len;
};

struct kvmon_fsmap {
	uint32_t bsize, inodes, ipg, isize, first_ino, groups;
	uint64_t blocks, fs_off, fs_len;
	char node[128], bitmap[128];
	uint32_t gran;          /* the bitmap's granularity; 0 unknown */
	struct fsmap_itab *itab;
	struct fsmap_run *runs;     /* sorted by start */
	struct fsmap_ino *inos;     /* sorted by ino, unique */
	struct fsmap_dent *dents;
	char *names;
	size_t n_runs, n_inos, n_dents, names_len;
	uint32_t max_run;           /* longest run (lookup window) */
};

/* Caps for build and load (hostile file systems and map files). */
#define FSMAP_MAX_RUNS (64u << 20)
#define FSMAP_MAX_INOS (16u << 20)
#define FSMAP_MAX_DENTS (16u << 20)
#define FSMAP_MAX_NAMES (1u << 30)
#define FSMAP_MAX_RUN_LEN 65536u

const struct fsmap_ino *kvmon_fsmap_ino(const struct kvmon_fsmap *m,
					uint32_t ino);
/* Entries of dir: *n of them, sorted by name (none: NULL, 0). */
const struct fsmap_dent *kvmon_fsmap_dir(const struct kvmon_fsmap *m,
					 uint32_t dir, size_t *n);
/* Index of the first run that may intersect block b. */
size_t kvmon_fsmap_run_from(const struct kvmon_fsmap *m, uint64_t b);
uint64_t kvmon_fsmap_hash(const void *p, size_t len, uint64_t h);
/* Both hashes of a raw on-disk inode of isize bytes. */
void kvmon_fsmap_inode_hashes(const void *raw, size_t isize, uint64_t *hfull,
			      uint64_t *hmap);

struct struct_ext2_filsys;
/* DT_DIR for a directory even without the filetype feature. */
unsigned kvmon_fsmap_dtype(struct struct_ext2_filsys *fs, uint32_t ino,
			   unsigned type);
int kvmon_fsmap_name_cmp(const char *a, size_t al, const char *b, size_t bl);
struct kvmon_fsmap *kvmon_fsmap_parse(const uint8_t *buf, size_t len);

struct kvmon_fs;
/* Where dirty ranges come from: kvmon_disk_dirty(), or a test's list. */
typedef int (*kvmon_fsmap_dirty_fn)(void *ctx,
				    int (*fn)(void *opaque, uint64_t off,
					      uint64_t len),
				    void *opaque);
int kvmon_fs_changes_with(struct kvmon_fs *fs, kvmon_fsmap_dirty_fn dirty,
			  void *ctx, const struct kvmon_fsmap *base,
			  int (*fn)(void *opaque, const char *path,
				    uint64_t ino, int change, unsigned why),
			  void *opaque);

#endif
