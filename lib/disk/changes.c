// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmon_fs_changes(): which paths changed since a baseline, from the dirty
 * block ranges (QEMU dirty bitmap) and the baseline map (fsmap.c).
 *
 *  1. dirty disk ranges -> file-system block ranges (merged, capped:
 *     coarsening only ever grows them);
 *  2. dirty inode-table blocks -> their inodes, compared by hash with the
 *     baseline (whole inode -> WHY_INODE; block mapping -> WHY_DATA);
 *     dirty blocks of the baseline map -> owners get WHY_DATA;
 *  3. dirty blocks nobody owned at the baseline: ignored when free in the
 *     current block bitmap or file-system metadata (superblocks,
 *     descriptors, bitmaps, inode tables); else searched among the
 *     current blocks of changed inodes; if one stays unowned every path
 *     gets WHY_UNATTRIBUTED (never silently ignored);
 *  4. walk: clean directories' entries come from the map, dirty ones are
 *     read and compared with the map's by name.
 */
#define _GNU_SOURCE
#include "disk_internal.h"
#include "ext.h"
#include "fsmap.h"

#include <dirent.h>
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANGES (16u << 20)     /* beyond: the last range is extended */
#define MAX_CANDIDATES (4u << 20)  /* beyond: unattributed */
#define MAX_RESOLVE_BLOCKS (1ull << 27)
#define MAX_META (1u << 24)          /* superblocks, bitmaps, tables */
#define F_ITAB 0x10                /* inode-table block dirty: compare */
#define F_WHY (KVMON_WHY_INODE | KVMON_WHY_DATA)

struct range {
	uint64_t start, end;       /* file-system blocks [start, end) */
};

struct chg {
	struct kvmon_fs *kfs;
	ext2_filsys fs;
	const struct kvmon_fsmap *m;
	struct range *dr, *meta, *itab;
	uint32_t *itab_group;       /* group of itab[i] */
	size_t n_dr, c_dr, n_meta, c_meta;
	uint64_t itab_max;
	uint8_t *flags;            /* per inode */
	uint64_t *cand;
	uint8_t *cand_hit;
	size_t n_cand, c_cand;
	uint64_t resolved_blocks;
	bool unattributed, have_bitmap;
	uint8_t *visited, *rvisited;
	kvmon_change_fn fn;
	void *opaque;
	int stop;
	char path[4096];
};

static bool bit(const uint8_t *s, uint64_t i)
{
	return s[i >> 3] & (1u << (i & 7));
}

static void set_bit(uint8_t *s, uint64_t i)
{
	s[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* ------------------------------------------------- 1. dirty ranges */

static int add_range(void *opaque, uint64_t off, uint64_t len)
{
	struct chg *c = opaque;
	const struct kvmon_fsmap *m = c->m;
	uint64_t lo = off, hi = off + len, b0, b1;

	if (hi < lo)
		hi = UINT64_MAX;
	if (hi <= m->fs_off || lo >= m->fs_off + m->fs_len)
		return 0; /* another partition: not this file system */
	if (lo < m->fs_off)
		lo = m->fs_off;
	if (hi > m->fs_off + m->fs_len)
		hi = m->fs_off + m->fs_len;
	b0 = (lo - m->fs_off) / m->bsize;
	b1 = (hi - m->fs_off + m->bsize - 1) / m->bsize;
	if (c->n_dr && b0 <= c->dr[c->n_dr - 1].end) {
		if (b1 > c->dr[c->n_dr - 1].end)
			c->dr[c->n_dr - 1].end = b1;
		return 0;
	}
	if (c->n_dr >= MAX_RANGES) { /* coarsen: a superset, never less */
		c->dr[c->n_dr - 1].end = b1;
		return 0;
	}
	if (kvmon_grow((void **)&c->dr, &c->c_dr, c->n_dr, sizeof(*c->dr),
		       MAX_RANGES) < 0)
		return -1;
	c->dr[c->n_dr++] = (struct range){ b0, b1 };
	return 0;
}

/* ------------------------------------------ 2. inode tables and owners */

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_group(const void *a, const void *b, void *ctx)
{
	const struct kvmon_fsmap *m = ctx;
	uint64_t x = m->itab[*(const uint32_t *)a].start;
	uint64_t y = m->itab[*(const uint32_t *)b].start;

	return x < y ? -1 : x > y;
}

/* Baseline inode tables as ranges sorted by start, for lookup. The
 * group of a block comes from the map's (unsorted) table. */
static int sort_itab(struct chg *c)
{
	const struct kvmon_fsmap *m = c->m;

	c->itab = calloc(m->groups, sizeof(*c->itab));
	c->itab_group = calloc(m->groups, sizeof(*c->itab_group));
	if (!c->itab || !c->itab_group)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (uint32_t g = 0; g < m->groups; g++) {
		c->itab_group[g] = g;
		if (m->itab[g].len > c->itab_max)
			c->itab_max = m->itab[g].len;
	}
	qsort_r(c->itab_group, m->groups, sizeof(*c->itab_group), cmp_group,
		(void *)m);
	for (uint32_t i = 0; i < m->groups; i++) {
		uint32_t g = c->itab_group[i];

		c->itab[i] = (struct range){ m->itab[g].start,
					     m->itab[g].start + m->itab[g].len };
	}
	return 0;
}

static void mark_itab_block(struct chg *c, uint32_t g, uint64_t k)
{
	const struct kvmon_fsmap *m = c->m;
	uint64_t ipb = m->bsize / m->isize;
	uint64_t first = (uint64_t)g * m->ipg + (k - m->itab[g].start) * ipb + 1;
	uint64_t last = first + ipb - 1;

	if (last > (uint64_t)(g + 1) * m->ipg)
		last = (uint64_t)(g + 1) * m->ipg;
	for (uint64_t i = first; i <= last && i <= m->inodes; i++)
		c->flags[i] |= F_ITAB;
}

/* Dirty blocks [a, b) in the baseline inode tables: flag their inodes.
 * The tables sorted by start (c->itab, group in c->itab_group) bound the
 * search to the tables that can intersect. */
static void dirty_itab(struct chg *c, uint64_t a, uint64_t b)
{
	uint64_t from = a >= c->itab_max ? a - c->itab_max : 0;
	size_t lo = 0, hi = c->m->groups;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->itab[mid].start < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < c->m->groups && c->itab[lo].start < b; lo++) {
		uint64_t s = c->itab[lo].start, e = c->itab[lo].end;
		uint64_t l = a > s ? a : s, h = b < e ? b : e;

		for (uint64_t k = l; k < h; k++)
			mark_itab_block(c, c->itab_group[lo], k);
	}
}

static bool in_ranges(const struct range *r, size_t n, uint64_t maxlen,
		      uint64_t k)
{
	size_t lo = 0, hi = n;
	uint64_t from = k >= maxlen ? k - maxlen : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].start < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && r[lo].start <= k; lo++)
		if (k < r[lo].end)
			return true;
	return false;
}

/* A dirty block no baseline inode owned. */
static int unowned_block(struct chg *c, uint64_t k)
{
	if (in_ranges(c->itab, c->m->groups, c->itab_max, k))
		return 0; /* inode table: handled through the inodes */
	if (in_ranges(c->meta, c->n_meta, 1u << 20, k))
		return 0; /* boot block, superblock, descriptors, bitmaps,
			     inode tables */
	/* (The bitmap starts at s_first_data_block; libext2fs would print
	 * a warning for blocks outside it.) */
	if (c->have_bitmap && k >= c->fs->super->s_first_data_block &&
	    k < ext2fs_blocks_count(c->fs->super) &&
	    !ext2fs_test_block_bitmap2(c->fs->block_map, k))
		return 0; /* free now: no file holds it */
	if (c->n_cand >= MAX_CANDIDATES) {
		c->unattributed = true;
		return 0;
	}
	if (kvmon_grow((void **)&c->cand, &c->c_cand, c->n_cand,
		       sizeof(*c->cand), MAX_CANDIDATES) < 0)
		return -1;
	c->cand[c->n_cand++] = k;
	return 0;
}

static int gap(struct chg *c, uint64_t a, uint64_t b)
{
	for (uint64_t k = a; k < b; k++)
		if (unowned_block(c, k) < 0)
			return -1;
	return 0;
}

/* Dirty blocks [a, b): owners from the map, and the gaps between. */
static int dirty_runs(struct chg *c, uint64_t a, uint64_t b)
{
	const struct kvmon_fsmap *m = c->m;
	uint64_t cur = a;

	for (size_t i = kvmon_fsmap_run_from(m, a);
	     i < m->n_runs && m->runs[i].start < b; i++) {
		const struct fsmap_run *r = &m->runs[i];
		uint64_t end = r->start + r->len;

		if (end <= a)
			continue;
		c->flags[r->ino] |= KVMON_WHY_DATA;
		if (r->start > cur && gap(c, cur, r->start) < 0)
			return -1;
		if (end > cur)
			cur = end;
	}
	return cur < b ? gap(c, cur, b) : 0;
}

static int add_meta(struct chg *c, uint64_t start, uint64_t len)
{
	if (!start || !len)
		return 0;
	if (kvmon_grow((void **)&c->meta, &c->c_meta, c->n_meta,
		       sizeof(*c->meta), MAX_META) < 0)
		return -1;
	c->meta[c->n_meta++] = (struct range){ start, start + len };
	return 0;
}

/* File-system metadata outside inodes, from the current file system. */
static int build_meta(struct chg *c)
{
	ext2_filsys fs = c->fs;
	uint64_t desc = fs->desc_blocks + fs->super->s_reserved_gdt_blocks;

	if (add_meta(c, 1, 1) < 0) /* superblock (1 KiB blocks) */
		return -1;
	/* Block 0: boot block (1 KiB blocks) or the superblock. */
	if (kvmon_grow((void **)&c->meta, &c->c_meta, c->n_meta,
		       sizeof(*c->meta), MAX_META) < 0)
		return -1;
	c->meta[c->n_meta++] = (struct range){ 0, 1 };
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		blk64_t sb = 0, od = 0, nd = 0;
		blk_t used = 0;

		ext2fs_super_and_bgd_loc2(fs, g, &sb, &od, &nd, &used);
		if (add_meta(c, sb, 1) < 0 || add_meta(c, od, desc) < 0 ||
		    add_meta(c, nd, 1) < 0 ||
		    add_meta(c, ext2fs_block_bitmap_loc(fs, g), 1) < 0 ||
		    add_meta(c, ext2fs_inode_bitmap_loc(fs, g), 1) < 0 ||
		    add_meta(c, ext2fs_inode_table_loc(fs, g),
			     fs->inode_blocks_per_group) < 0)
			return -1;
	}
	qsort(c->meta, c->n_meta, sizeof(*c->meta), cmp_range);
	return 0;
}

/* Inodes in dirty inode-table blocks: changed or not, by hash. */
static void compare_inodes(struct chg *c)
{
	const struct kvmon_fsmap *m = c->m;
	uint8_t raw[1024];

	for (uint64_t i = 1; i <= m->inodes; i++) {
		const struct fsmap_ino *b;
		uint64_t hf, hm;

		if (!(c->flags[i] & F_ITAB))
			continue;
		b = kvmon_fsmap_ino(m, (uint32_t)i);
		memset(raw, 0, sizeof(raw));
		if (ext2fs_read_inode_full(c->fs, (ext2_ino_t)i,
					   (struct ext2_inode *)raw,
					   (int)m->isize)) {
			c->flags[i] |= F_WHY; /* unreadable now: changed */
			continue;
		}
		kvmon_fsmap_inode_hashes(raw, m->isize, &hf, &hm);
		if (!b) {
			c->flags[i] |= F_WHY; /* not in the baseline tree */
			continue;
		}
		if (hf != b->hfull)
			c->flags[i] |= KVMON_WHY_INODE;
		if (hm != b->hmap)
			c->flags[i] |= KVMON_WHY_DATA;
	}
}

/* ------------------------------------------ 3. unowned dirty blocks */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct resolve {
	struct chg *c;
	uint32_t ino;
};

static void hit(struct chg *c, uint32_t ino, uint64_t blk)
{
	size_t lo = 0, hi = c->n_cand;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->cand[mid] < blk)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->n_cand && c->cand[lo] == blk) {
		c->cand_hit[lo] = 1;
		c->flags[ino] |= KVMON_WHY_DATA;
	}
}

static int resolve_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		      blk64_t ref_blk, int ref_offset, void *priv)
{
	struct resolve *r = priv;

	(void)fs, (void)blockcnt, (void)ref_blk, (void)ref_offset;
	if (++r->c->resolved_blocks > MAX_RESOLVE_BLOCKS)
		return BLOCK_ABORT;
	hit(r->c, r->ino, *blocknr);
	return 0;
}

/* Owners of unowned dirty blocks among the changed inodes' current
 * blocks (a block that became a file's must have changed that file's
 * inode or mapping blocks). */
static int resolve(struct chg *c)
{
	const struct kvmon_fsmap *m = c->m;
	size_t n = 0;

	if (!c->n_cand)
		return 0;
	qsort(c->cand, c->n_cand, sizeof(*c->cand), cmp_u64);
	for (size_t i = 0; i < c->n_cand; i++)
		if (!n || c->cand[n - 1] != c->cand[i])
			c->cand[n++] = c->cand[i];
	c->n_cand = n;
	c->cand_hit = calloc(n, 1);
	if (!c->cand_hit)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (uint64_t i = 1; i <= m->inodes; i++) {
		struct resolve r = { c, (uint32_t)i };
		struct ext2_inode in;
		blk64_t acl;

		if (!(c->flags[i] & F_WHY) ||
		    ext2fs_read_inode(c->fs, (ext2_ino_t)i, &in) ||
		    !in.i_links_count)
			continue;
		acl = ext2fs_file_acl_block(c->fs, &in);
		if (acl)
			hit(c, (uint32_t)i, acl);
		if (!(in.i_flags & EXT4_INLINE_DATA_FL) &&
		    ext2fs_inode_has_valid_blocks2(c->fs, &in))
			ext2fs_block_iterate3(c->fs, (ext2_ino_t)i,
					      BLOCK_FLAG_READ_ONLY, NULL,
					      resolve_cb, &r);
		if (c->resolved_blocks > MAX_RESOLVE_BLOCKS)
			break;
	}
	for (size_t i = 0; i < c->n_cand; i++)
		if (!c->cand_hit[i])
			c->unattributed = true;
	return 0;
}

/* ------------------------------------------------------------ 4. walk */

static unsigned why_of(const struct chg *c, uint64_t ino)
{
	return (c->flags[ino] & F_WHY) |
	       (c->unattributed ? KVMON_WHY_UNATTRIBUTED : 0);
}

static int report(struct chg *c, uint64_t ino, int change, unsigned why)
{
	if (c->stop)
		return c->stop;
	if (change == KVMON_CHANGE_SAME && why)
		change = KVMON_CHANGE_MAYBE;
	c->stop = c->fn(c->opaque, c->path[0] ? c->path : "/", ino, change, why);
	return c->stop;
}

/* Append /name to the path; returns the old length or -1. */
static int push(struct chg *c, const char *name, size_t len)
{
	size_t pl = strlen(c->path);

	if (pl + 1 + len >= sizeof(c->path))
		return kvmon_set_error(ENAMETOOLONG, "path %s/%.*s: too long",
				       c->path, (int)len, name);
	c->path[pl] = '/';
	memcpy(c->path + pl + 1, name, len);
	c->path[pl + 1 + len] = 0;
	return (int)pl;
}

static int removed_tree(struct chg *c, uint32_t dir)
{
	const struct fsmap_dent *e;
	size_t n;

	if (bit(c->rvisited, dir))
		return 0;
	set_bit(c->rvisited, dir);
	e = kvmon_fsmap_dir(c->m, dir, &n);
	for (size_t i = 0; i < n && !c->stop; i++) {
		int pl = push(c, c->m->names + e[i].name_off, e[i].name_len);

		if (pl < 0)
			return -1;
		if (report(c, e[i].ino, KVMON_CHANGE_REMOVED, 0) == 0 &&
		    e[i].type == DT_DIR && removed_tree(c, e[i].ino) < 0)
			return -1;
		c->path[pl] = 0;
	}
	return 0;
}

struct cur_ent {
	uint32_t ino;
	uint32_t name_off;
	uint16_t name_len;
	uint8_t type;
};

struct cur_dir {
	struct chg *c;
	struct cur_ent *e;
	size_t n, cap, names_len, names_cap;
	char *names;
};

static int cur_cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct cur_dir *d = opaque;
	size_t len = strlen(name);

	if (ino < 1 || ino > d->c->m->inodes)
		return 0;
	if (d->n >= FSMAP_MAX_DENTS)
		return kvmon_set_error(E2BIG, "directory with too many entries");
	if (kvmon_grow((void **)&d->e, &d->cap, d->n, sizeof(*d->e),
		       FSMAP_MAX_DENTS) < 0 ||
	    kvmon_append(&d->names, &d->names_len, &d->names_cap, name, len,
			 FSMAP_MAX_NAMES) < 0)
		return -1;
	d->e[d->n++] = (struct cur_ent){ (uint32_t)ino,
					 (uint32_t)(d->names_len - len),
					 (uint16_t)len,
					 (uint8_t)kvmon_fsmap_dtype(d->c->fs,
								    (uint32_t)ino,
								    type) };
	return 0;
}

static int cmp_cur(const void *a, const void *b, void *ctx)
{
	const struct cur_ent *x = a, *y = b;
	const char *names = ctx;

	return kvmon_fsmap_name_cmp(names + x->name_off, x->name_len,
				    names + y->name_off, y->name_len);
}

static int walk(struct chg *c, uint32_t cur, uint32_t base, bool added);

/* One entry of a dirty directory: cur and/or base side. */
static int entry(struct chg *c, const struct cur_ent *ce, const char *cname,
		 const struct fsmap_dent *be, bool added)
{
	const char *name = ce ? cname : c->m->names + be->name_off;
	int pl = push(c, name, ce ? ce->name_len : be->name_len);
	int rc = 0;

	if (pl < 0)
		return -1;
	if (!ce) {
		if (report(c, be->ino, KVMON_CHANGE_REMOVED, 0) == 0 &&
		    be->type == DT_DIR)
			rc = removed_tree(c, be->ino);
	} else if (!be || added) {
		if (report(c, ce->ino, KVMON_CHANGE_ADDED,
			   KVMON_WHY_DIR | why_of(c, ce->ino)) == 0 &&
		    ce->type == DT_DIR)
			rc = walk(c, ce->ino, 0, true);
	} else if (ce->ino == be->ino) {
		if (report(c, ce->ino, KVMON_CHANGE_SAME, why_of(c, ce->ino)) == 0 &&
		    ce->type == DT_DIR)
			rc = walk(c, ce->ino, be->type == DT_DIR ? be->ino : 0,
				  false);
	} else {
		/* Same name, another inode (replaced): re-examine fully;
		 * its children are compared with the old directory's. */
		if (report(c, ce->ino, KVMON_CHANGE_MAYBE,
			   KVMON_WHY_DIR | F_WHY | why_of(c, ce->ino)) == 0) {
			if (ce->type == DT_DIR)
				rc = walk(c, ce->ino,
					  be->type == DT_DIR ? be->ino : 0, false);
			else if (be->type == DT_DIR)
				rc = removed_tree(c, be->ino);
		}
	}
	c->path[pl] = 0;
	return rc;
}

/* A directory read from disk, merged by name with the baseline's. */
static int walk_dirty(struct chg *c, uint32_t cur, uint32_t base, bool added)
{
	struct cur_dir d = { .c = c };
	const struct fsmap_dent *be = NULL;
	size_t nb = 0, i = 0, j = 0;
	int rc;

	rc = kvmon_fs_readdir(c->kfs, cur, cur_cb, &d);
	if (rc < 0 && kvmon_get_errno() != ENOTDIR)
		goto out;
	rc = 0;
	if (d.n > 1)
		qsort_r(d.e, d.n, sizeof(*d.e), cmp_cur, d.names);
	if (base && !added)
		be = kvmon_fsmap_dir(c->m, base, &nb);
	while ((i < d.n || j < nb) && !rc && !c->stop) {
		int cmp = i >= d.n ? 1 : j >= nb ? -1 :
			  kvmon_fsmap_name_cmp(d.names + d.e[i].name_off,
					       d.e[i].name_len,
					       c->m->names + be[j].name_off,
					       be[j].name_len);

		if (cmp < 0) {
			rc = entry(c, &d.e[i], d.names + d.e[i].name_off, NULL,
				   added);
			i++;
		} else if (cmp > 0) {
			rc = entry(c, NULL, NULL, &be[j++], added);
		} else {
			rc = entry(c, &d.e[i], d.names + d.e[i].name_off, &be[j],
				   added);
			i++, j++;
		}
	}
out:
	free(d.e);
	free(d.names);
	return rc;
}

/* A clean directory: its entries are the map's. */
static int walk_clean(struct chg *c, uint32_t dir)
{
	const struct fsmap_dent *e;
	size_t n;
	int rc = 0;

	e = kvmon_fsmap_dir(c->m, dir, &n);
	for (size_t i = 0; i < n && !rc && !c->stop; i++) {
		int pl = push(c, c->m->names + e[i].name_off, e[i].name_len);

		if (pl < 0)
			return -1;
		if (report(c, e[i].ino, KVMON_CHANGE_SAME, why_of(c, e[i].ino)) == 0 &&
		    e[i].type == DT_DIR)
			rc = walk(c, e[i].ino, e[i].ino, false);
		c->path[pl] = 0;
	}
	return rc;
}

static int walk(struct chg *c, uint32_t cur, uint32_t base, bool added)
{
	const struct fsmap_ino *b;

	if (bit(c->visited, cur))
		return 0; /* directory linked twice (hostile): walked once */
	set_bit(c->visited, cur);
	b = added ? NULL : kvmon_fsmap_ino(c->m, cur);
	/* Unattributed dirty blocks might be any directory's: then every
	 * directory is read from disk. */
	if (!added && base == cur && b && LINUX_S_ISDIR(b->mode) &&
	    !(c->flags[cur] & F_WHY) && !c->unattributed)
		return walk_clean(c, cur);
	return walk_dirty(c, cur, base, added);
}

/* ------------------------------------------------------------- entry */

static int check_geometry(struct chg *c)
{
	const struct kvmon_fsmap *m = c->m;
	ext2_filsys fs = c->fs;

	if (m->bsize != fs->blocksize || m->blocks != ext2fs_blocks_count(fs->super) ||
	    m->inodes != fs->super->s_inodes_count ||
	    m->ipg != fs->super->s_inodes_per_group ||
	    m->isize != EXT2_INODE_SIZE(fs->super) ||
	    m->groups != fs->group_desc_count ||
	    m->fs_off != kvmon_fs_offset(c->kfs))
		return kvmon_set_error(ESTALE, "the file system's geometry or "
				       "place differs from the baseline map "
				       "(resized or another file system)");
	return 0;
}

static int run(struct chg *c, kvmon_fsmap_dirty_fn dirty, void *ctx)
{
	const struct kvmon_fsmap *m = c->m;
	errcode_t err;

	if (check_geometry(c) < 0 || sort_itab(c) < 0 || build_meta(c) < 0)
		return -1;
	c->flags = calloc((size_t)m->inodes + 1, 1);
	c->visited = calloc(m->inodes / 8 + 1, 1);
	c->rvisited = calloc(m->inodes / 8 + 1, 1);
	if (!c->flags || !c->visited || !c->rvisited)
		return kvmon_set_error(ENOMEM, "out of memory");
	if (dirty(ctx, add_range, c) != 0)
		return kvmon_error_prefix("dirty ranges");
	err = ext2fs_read_block_bitmap(c->fs);
	/* Unreadable bitmap: every unowned dirty block is a candidate. */
	c->have_bitmap = !err && c->fs->block_map;
	for (size_t i = 0; i < c->n_dr; i++) {
		dirty_itab(c, c->dr[i].start, c->dr[i].end);
		if (dirty_runs(c, c->dr[i].start, c->dr[i].end) < 0)
			return -1;
	}
	compare_inodes(c);
	if (resolve(c) < 0)
		return -1;
	c->path[0] = 0;
	if (report(c, KVMON_FS_ROOT_INO, KVMON_CHANGE_SAME,
		   why_of(c, KVMON_FS_ROOT_INO)) != 0)
		return c->stop;
	if (walk(c, KVMON_FS_ROOT_INO, KVMON_FS_ROOT_INO, false) < 0)
		return -1;
	return c->stop;
}

int kvmon_fs_changes_with(struct kvmon_fs *fs, kvmon_fsmap_dirty_fn dirty,
			  void *ctx, const struct kvmon_fsmap *base,
			  kvmon_change_fn fn, void *opaque)
{
	struct chg c = { .kfs = fs, .m = base, .fn = fn, .opaque = opaque };
	int rc;

	if (!fs || !dirty || !base || !fn)
		return kvmon_set_error(EINVAL, "changes: bad arguments");
	kvmon_fs_lock(fs, true);
	c.fs = kvmon_fs_ext2(fs);
	rc = run(&c, dirty, ctx);
	kvmon_fs_lock(fs, false);
	free(c.dr);
	free(c.meta);
	free(c.itab);
	free(c.itab_group);
	free(c.flags);
	free(c.cand);
	free(c.cand_hit);
	free(c.visited);
	free(c.rvisited);
	if (rc < 0)
		kvmon_error_prefix("changes since the baseline");
	return rc;
}

static int disk_dirty(void *ctx, kvmon_disk_extent_fn fn, void *opaque)
{
	return kvmon_disk_dirty(ctx, fn, opaque);
}

int kvmon_fs_changes(struct kvmon_fs *fs, struct kvmon_disk *d,
		     const struct kvmon_fsmap *base, kvmon_change_fn fn,
		     void *opaque)
{
	if (!d)
		return kvmon_set_error(EINVAL, "changes: no disk");
	if (fs && kvmon_fs_disk(fs) != d)
		return kvmon_set_error(EINVAL, "changes: the file system is not "
				       "on this disk (LVM volumes are not "
				       "supported)");
	return kvmon_fs_changes_with(fs, disk_dirty, d, base, fn, opaque);
}
