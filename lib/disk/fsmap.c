// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Baseline block map of an ext2/3/4 file system (docs/disk.md, changed-
 * part view): block runs -> owning inode (data, extent-tree and indirect
 * blocks, xattr blocks), per-inode hashes, inode-table locations and the
 * directory tree. Saved as a versioned binary file with a SHA-256
 * trailer; the loader treats the file as hostile (sizes, order, bounds).
 */
#define _GNU_SOURCE
#include "disk_internal.h"
#include "ext.h"
#include "fsmap.h"

#include <dirent.h>
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "KVMFSMAP"
#define VERSION 1u
#define MAX_INODES (1u << 28)    /* bitsets of 32 MiB */

struct hdr {
	char magic[8];
	uint32_t version, bsize, inodes, ipg, isize, first_ino, groups;
	uint32_t gran;          /* the marker's granularity (0 in older maps) */
	uint64_t blocks, fs_off, fs_len;
	char node[128], bitmap[128];
	uint64_t n_runs, n_inos, n_dents, names_len;
};

/* ------------------------------------------------------------ helpers */

uint64_t kvmon_fsmap_hash(const void *p, size_t len, uint64_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
	return h;
}

void kvmon_fsmap_inode_hashes(const void *raw, size_t isize, uint64_t *hfull,
			      uint64_t *hmap)
{
	const uint8_t *r = raw;
	uint64_t h = 0xcbf29ce484222325ull;

	*hfull = kvmon_fsmap_hash(r, isize, h);
	/* i_size, i_flags, i_block[15], i_file_acl + i_size_high,
	 * l_i_file_acl_high: what decides which blocks hold the data. */
	h = kvmon_fsmap_hash(r + 4, 4, h);
	h = kvmon_fsmap_hash(r + 32, 4, h);
	h = kvmon_fsmap_hash(r + 40, 60, h);
	h = kvmon_fsmap_hash(r + 104, 8, h);
	*hmap = kvmon_fsmap_hash(r + 118, 2, h);
}

const struct fsmap_ino *kvmon_fsmap_ino(const struct kvmon_fsmap *m,
					uint32_t ino)
{
	size_t lo = 0, hi = m->n_inos;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->inos[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n_inos && m->inos[lo].ino == ino ? &m->inos[lo] : NULL;
}

const struct fsmap_dent *kvmon_fsmap_dir(const struct kvmon_fsmap *m,
					 uint32_t dir, size_t *n)
{
	size_t lo = 0, hi = m->n_dents, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->dents[mid].dir < dir)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < m->n_dents && m->dents[end].dir == dir; end++)
		;
	*n = end - lo;
	return *n ? &m->dents[lo] : NULL;
}

size_t kvmon_fsmap_run_from(const struct kvmon_fsmap *m, uint64_t b)
{
	uint64_t from = b > m->max_run ? b - m->max_run : 0;
	size_t lo = 0, hi = m->n_runs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->runs[mid].start < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void kvmon_fsmap_free(struct kvmon_fsmap *m)
{
	if (!m)
		return;
	free(m->itab);
	free(m->runs);
	free(m->inos);
	free(m->dents);
	free(m->names);
	free(m);
}

int kvmon_fsmap_set_marker(struct kvmon_fsmap *m, const char *node,
			   const char *bitmap)
{
	if (!m || !node || !bitmap)
		return kvmon_set_error(EINVAL, "fsmap marker: bad arguments");
	if (kvmon_strlcpy(m->node, node, sizeof(m->node)) < 0 ||
	    kvmon_strlcpy(m->bitmap, bitmap, sizeof(m->bitmap)) < 0)
		return kvmon_set_error(ENAMETOOLONG, "node or bitmap name too long");
	return 0;
}

const char *kvmon_fsmap_node(const struct kvmon_fsmap *m)
{
	return m ? m->node : "";
}

const char *kvmon_fsmap_bitmap(const struct kvmon_fsmap *m)
{
	return m ? m->bitmap : "";
}

uint32_t kvmon_fsmap_granularity(const struct kvmon_fsmap *m)
{
	return m ? m->gran : 0;
}

/* -------------------------------------------------------------- build */

struct build {
	struct kvmon_fs *kfs;
	ext2_filsys fs;
	struct kvmon_fsmap *m;
	size_t c_runs, c_inos, c_dents, c_names, c_stack, n_stack;
	uint32_t *stack;
	uint8_t *seen;          /* inode recorded */
	uint8_t *walked;        /* directory queued */
	uint32_t cur_ino;       /* owner of the blocks being added */
	uint32_t cur_dir;       /* directory being read */
	int err;
};

static bool bit(const uint8_t *s, uint32_t i)
{
	return s[i >> 3] & (1u << (i & 7));
}

static void set_bit(uint8_t *s, uint32_t i)
{
	s[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static int add_block(struct build *b, uint64_t blk)
{
	struct kvmon_fsmap *m = b->m;
	struct fsmap_run *r = m->n_runs ? &m->runs[m->n_runs - 1] : NULL;

	if (blk >= m->blocks)
		return 0; /* outside the volume: can never be dirty in it */
	if (r && r->ino == b->cur_ino && r->start + r->len == blk &&
	    r->len < FSMAP_MAX_RUN_LEN) {
		r->len++;
		return 0;
	}
	if (kvmon_grow((void **)&m->runs, &b->c_runs, m->n_runs, sizeof(*r),
		       FSMAP_MAX_RUNS) < 0)
		return kvmon_error_prefix("file system map");
	m->runs[m->n_runs++] = (struct fsmap_run){ blk, 1, b->cur_ino };
	return 0;
}

static int blk_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		  blk64_t ref_blk, int ref_offset, void *priv)
{
	struct build *b = priv;

	(void)fs, (void)blockcnt, (void)ref_blk, (void)ref_offset;
	if (add_block(b, *blocknr) < 0) {
		b->err = -1;
		return BLOCK_ABORT;
	}
	return 0;
}

/* Record inode ino: hashes, and every block it owns. */
static int add_inode(struct build *b, uint32_t ino)
{
	struct kvmon_fsmap *m = b->m;
	uint8_t raw[1024] = { 0 };
	struct ext2_inode *in = (struct ext2_inode *)raw;
	struct fsmap_ino *r;
	errcode_t err;
	blk64_t acl;

	if (ino < 1 || ino > m->inodes || bit(b->seen, ino))
		return 0;
	set_bit(b->seen, ino);
	if (kvmon_grow((void **)&m->inos, &b->c_inos, m->n_inos, sizeof(*r),
		       FSMAP_MAX_INOS) < 0)
		return kvmon_error_prefix("file system map");
	r = &m->inos[m->n_inos++];
	*r = (struct fsmap_ino){ .ino = ino };
	err = ext2fs_read_inode_full(b->fs, ino, in, (int)m->isize);
	if (err)
		return 0; /* unreadable: hashes 0; any change shows as dirty */
	r->mode = in->i_mode;
	kvmon_fsmap_inode_hashes(raw, m->isize, &r->hfull, &r->hmap);
	b->cur_ino = ino;
	acl = ext2fs_file_acl_block(b->fs, in);
	if (acl && add_block(b, acl) < 0)
		return -1;
	if (!(in->i_flags & EXT4_INLINE_DATA_FL) &&
	    ext2fs_inode_has_valid_blocks2(b->fs, in)) {
		b->err = 0;
		err = ext2fs_block_iterate3(b->fs, ino, BLOCK_FLAG_READ_ONLY,
					    NULL, blk_cb, b);
		if (b->err)
			return -1;
		/* A corrupt mapping is left out: its inode-table block
		 * still makes any change to it visible. */
	}
	return 0;
}

static int push_dir(struct build *b, uint32_t ino)
{
	if (bit(b->walked, ino))
		return 0;
	set_bit(b->walked, ino);
	if (kvmon_grow((void **)&b->stack, &b->c_stack, b->n_stack,
		       sizeof(uint32_t), FSMAP_MAX_INOS) < 0)
		return kvmon_error_prefix("file system map");
	b->stack[b->n_stack++] = ino;
	return 0;
}

unsigned kvmon_fsmap_dtype(struct struct_ext2_filsys *fs, uint32_t ino,
			   unsigned type)
{
	struct ext2_inode in;

	if (type != DT_UNKNOWN) /* no filetype feature: ask the inode */
		return type;
	if (!ext2fs_read_inode(fs, (ext2_ino_t)ino, &in) &&
	    LINUX_S_ISDIR(in.i_mode))
		return DT_DIR;
	return type;
}

static int dent_cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct build *b = opaque;
	struct kvmon_fsmap *m = b->m;
	size_t len = strlen(name);

	if (ino < 1 || ino > m->inodes)
		return 0; /* hostile entry: no such inode */
	type = kvmon_fsmap_dtype(b->fs, (uint32_t)ino, type);
	if (kvmon_grow((void **)&m->dents, &b->c_dents, m->n_dents,
		       sizeof(*m->dents), FSMAP_MAX_DENTS) < 0 ||
	    kvmon_append(&m->names, &m->names_len, &b->c_names, name, len,
			 FSMAP_MAX_NAMES) < 0)
		return kvmon_error_prefix("file system map");
	m->dents[m->n_dents++] = (struct fsmap_dent){
		.dir = b->cur_dir, .ino = (uint32_t)ino,
		.name_off = (uint32_t)(m->names_len - len),
		.name_len = (uint16_t)len, .type = (uint8_t)type };
	if (add_inode(b, (uint32_t)ino) < 0)
		return -1;
	if (type == DT_DIR)
		return push_dir(b, (uint32_t)ino);
	return 0;
}

static int cmp_run(const void *a, const void *b)
{
	const struct fsmap_run *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct fsmap_ino *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

int kvmon_fsmap_name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al < bl ? -1 : al > bl);
}

static int cmp_dent(const void *a, const void *b, void *ctx)
{
	const struct fsmap_dent *x = a, *y = b;
	const struct kvmon_fsmap *m = ctx;

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return kvmon_fsmap_name_cmp(m->names + x->name_off, x->name_len,
				    m->names + y->name_off, y->name_len);
}

static void finish_map(struct kvmon_fsmap *m)
{
	if (m->n_runs)
		qsort(m->runs, m->n_runs, sizeof(*m->runs), cmp_run);
	if (m->n_inos)
		qsort(m->inos, m->n_inos, sizeof(*m->inos), cmp_ino);
	if (m->n_dents)
		qsort_r(m->dents, m->n_dents, sizeof(*m->dents), cmp_dent, m);
	m->max_run = 0;
	for (size_t i = 0; i < m->n_runs; i++)
		if (m->runs[i].len > m->max_run)
			m->max_run = m->runs[i].len;
}

static int build_walk(struct build *b)
{
	for (uint32_t i = 1; i < b->m->first_ino && i <= b->m->inodes; i++)
		if (add_inode(b, i) < 0)
			return -1;
	if (push_dir(b, KVMON_FS_ROOT_INO) < 0)
		return -1;
	while (b->n_stack) {
		b->cur_dir = b->stack[--b->n_stack];
		/* readdir of a directory that is not one: the entry lied
		 * about its type; nothing to record. */
		if (kvmon_fs_readdir(b->kfs, b->cur_dir, dent_cb, b) < 0 &&
		    (kvmon_get_errno() == ENOMEM || kvmon_get_errno() == E2BIG))
			return -1;
	}
	return 0;
}

static int geometry(struct kvmon_fs *kfs, struct kvmon_fsmap *m)
{
	ext2_filsys fs = kvmon_fs_ext2(kfs);

	m->bsize = fs->blocksize;
	m->blocks = ext2fs_blocks_count(fs->super);
	m->inodes = fs->super->s_inodes_count;
	m->ipg = fs->super->s_inodes_per_group;
	m->isize = EXT2_INODE_SIZE(fs->super);
	m->first_ino = EXT2_FIRST_INO(fs->super);
	m->groups = fs->group_desc_count;
	m->fs_off = kvmon_fs_offset(kfs);
	m->fs_len = m->blocks * m->bsize;
	if (m->inodes > MAX_INODES || m->isize > 1024 || m->isize < 128)
		return kvmon_set_error(E2BIG, "file system map: %u inodes of "
				       "%u bytes not supported", m->inodes,
				       m->isize);
	m->itab = calloc(m->groups ? m->groups : 1, sizeof(*m->itab));
	if (!m->itab)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (uint32_t g = 0; g < m->groups; g++) {
		m->itab[g].start = ext2fs_inode_table_loc(fs, g);
		m->itab[g].len = fs->inode_blocks_per_group;
	}
	return 0;
}

struct kvmon_fsmap *kvmon_fsmap_build(struct kvmon_fs *kfs)
{
	struct build b = { .kfs = kfs };
	struct kvmon_fsmap *m;
	int rc = -1;

	if (!kfs)
		return kvmon_set_error(EINVAL, "no file system"), NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	b.m = m;
	kvmon_fs_lock(kfs, true);
	b.fs = kvmon_fs_ext2(kfs);
	if (geometry(kfs, m) < 0)
		goto out;
	b.seen = calloc(m->inodes / 8 + 1, 1);
	b.walked = calloc(m->inodes / 8 + 1, 1);
	if (!b.seen || !b.walked) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto out;
	}
	if (build_walk(&b) < 0)
		goto out;
	{
		/* The marker made with this view (opts.track), if any. */
		struct kvmon_disk *d = kvmon_fs_disk(kfs);

		if (d && d->fleece) {
			kvmon_strlcpy(m->node, kvmon_fleece_node(d->fleece),
				      sizeof(m->node));
			if (kvmon_fleece_track(d->fleece)) {
				kvmon_strlcpy(m->bitmap,
					      kvmon_fleece_track(d->fleece),
					      sizeof(m->bitmap));
				m->gran = kvmon_fleece_granularity(d->fleece);
			}
		}
	}
	finish_map(m);
	rc = 0;
out:
	kvmon_fs_lock(kfs, false);
	free(b.seen);
	free(b.walked);
	free(b.stack);
	if (rc < 0) {
		kvmon_error_prefix("building the file system map");
		kvmon_fsmap_free(m);
		return NULL;
	}
	return m;
}

/* ------------------------------------------------------- save and load */

static void hdr_of(const struct kvmon_fsmap *m, struct hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MAGIC, 8);
	h->version = VERSION;
	h->bsize = m->bsize;
	h->inodes = m->inodes;
	h->ipg = m->ipg;
	h->isize = m->isize;
	h->first_ino = m->first_ino;
	h->groups = m->groups;
	h->blocks = m->blocks;
	h->fs_off = m->fs_off;
	h->fs_len = m->fs_len;
	memcpy(h->node, m->node, sizeof(h->node));
	memcpy(h->bitmap, m->bitmap, sizeof(h->bitmap));
	h->gran = m->gran;
	h->n_runs = m->n_runs;
	h->n_inos = m->n_inos;
	h->n_dents = m->n_dents;
	h->names_len = m->names_len;
}

static int put(FILE *f, EVP_MD_CTX *md, const void *p, size_t len)
{
	if (len && (fwrite(p, 1, len, f) != len ||
		    EVP_DigestUpdate(md, p, len) != 1))
		return -1;
	return 0;
}

int kvmon_fsmap_save(const struct kvmon_fsmap *m, const char *path)
{
	unsigned char dig[32];
	EVP_MD_CTX *md;
	char tmp[4200];
	struct hdr h;
	FILE *f;
	int fd, bad;

	if (!m || !path)
		return kvmon_set_error(EINVAL, "fsmap save: bad arguments");
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return kvmon_set_error(ENAMETOOLONG, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return kvmon_set_error(errno, "%s: %s", tmp, strerror(errno));
	f = fdopen(fd, "wb");
	md = EVP_MD_CTX_new();
	if (!f || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		if (f)
			fclose(f);
		else
			close(fd);
		EVP_MD_CTX_free(md);
		unlink(tmp);
		return kvmon_set_error(ENOMEM, "out of memory");
	}
	hdr_of(m, &h);
	bad = put(f, md, &h, sizeof(h)) ||
	      put(f, md, m->itab, m->groups * sizeof(*m->itab)) ||
	      put(f, md, m->runs, m->n_runs * sizeof(*m->runs)) ||
	      put(f, md, m->inos, m->n_inos * sizeof(*m->inos)) ||
	      put(f, md, m->dents, m->n_dents * sizeof(*m->dents)) ||
	      put(f, md, m->names, m->names_len) ||
	      EVP_DigestFinal_ex(md, dig, NULL) != 1 ||
	      fwrite(dig, 1, sizeof(dig), f) != sizeof(dig) || fflush(f) ||
	      fsync(fileno(f));
	EVP_MD_CTX_free(md);
	if (fclose(f) || bad || rename(tmp, path) < 0) {
		int e = errno ? errno : EIO;

		unlink(tmp);
		return kvmon_set_error(e, "%s: %s", path, strerror(e));
	}
	return 0;
}

static bool str_ok(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

/* Validate a loaded map: everything changes.c relies on. */
static int validate(const struct kvmon_fsmap *m)
{
	if (!m->bsize || m->bsize > 65536 || (m->bsize & (m->bsize - 1)) ||
	    !m->blocks || m->blocks > (1ull << 48) || !m->inodes ||
	    m->inodes > MAX_INODES || m->isize < 128 || m->isize > 1024 ||
	    !m->ipg || !m->groups || (uint64_t)m->groups * m->ipg < m->inodes ||
	    m->groups > m->blocks || m->first_ino > m->inodes ||
	    m->fs_len != m->blocks * m->bsize)
		return kvmon_set_error(EINVAL, "file system map: bad geometry");
	for (uint32_t g = 0; g < m->groups; g++)
		if (m->itab[g].start >= m->blocks ||
		    m->itab[g].len > m->blocks - m->itab[g].start ||
		    m->itab[g].len * m->bsize / m->isize < m->ipg)
			return kvmon_set_error(EINVAL, "file system map: bad "
					       "inode table of group %u", g);
	for (size_t i = 0; i < m->n_runs; i++) {
		const struct fsmap_run *r = &m->runs[i];

		if (!r->len || r->len > FSMAP_MAX_RUN_LEN ||
		    r->start >= m->blocks || r->len > m->blocks - r->start ||
		    !r->ino || r->ino > m->inodes ||
		    (i && r->start < m->runs[i - 1].start))
			return kvmon_set_error(EINVAL, "file system map: bad "
					       "block run %zu", i);
	}
	for (size_t i = 0; i < m->n_inos; i++)
		if (!m->inos[i].ino || m->inos[i].ino > m->inodes ||
		    (i && m->inos[i].ino <= m->inos[i - 1].ino))
			return kvmon_set_error(EINVAL, "file system map: bad "
					       "inode record %zu", i);
	for (size_t i = 0; i < m->n_dents; i++) {
		const struct fsmap_dent *d = &m->dents[i];

		if (!d->dir || d->dir > m->inodes || !d->ino ||
		    d->ino > m->inodes || !d->name_len || d->name_len > 255 ||
		    d->name_off > m->names_len ||
		    d->name_len > m->names_len - d->name_off ||
		    memchr(m->names + d->name_off, '/', d->name_len) ||
		    memchr(m->names + d->name_off, 0, d->name_len) ||
		    (i && cmp_dent(&m->dents[i - 1], d, (void *)m) >= 0))
			return kvmon_set_error(EINVAL, "file system map: bad "
					       "directory entry %zu", i);
	}
	return 0;
}

static int take(const uint8_t **p, size_t *left, void **out, uint64_t n,
		size_t elem)
{
	if (n > *left / (elem ? elem : 1))
		return kvmon_set_error(EINVAL, "file system map: truncated");
	*out = malloc(n * elem + 1);
	if (!*out)
		return kvmon_set_error(ENOMEM, "out of memory");
	memcpy(*out, *p, n * elem);
	*p += n * elem;
	*left -= n * elem;
	return 0;
}

/* The loader on a buffer (also the fuzzer's entry point). */
struct kvmon_fsmap *kvmon_fsmap_parse(const uint8_t *buf, size_t len)
{
	unsigned char dig[32];
	struct kvmon_fsmap *m;
	const uint8_t *p = buf;
	size_t left;
	struct hdr h;

	if (len < sizeof(h) + 32)
		return kvmon_set_error(EINVAL, "file system map: too short"), NULL;
	if (EVP_Digest(buf, len - 32, dig, NULL, EVP_sha256(), NULL) != 1 ||
	    memcmp(dig, buf + len - 32, 32))
		return kvmon_set_error(EINVAL, "file system map: checksum "
				       "mismatch (damaged)"), NULL;
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, MAGIC, 8))
		return kvmon_set_error(EINVAL, "not a kvmon file system map"), NULL;
	if (h.version != VERSION)
		return kvmon_set_error(EINVAL, "file system map version %u not "
				       "supported", h.version), NULL;
	if (h.n_runs > FSMAP_MAX_RUNS || h.n_inos > FSMAP_MAX_INOS ||
	    h.n_dents > FSMAP_MAX_DENTS || h.names_len > FSMAP_MAX_NAMES ||
	    h.groups > (1u << 24) || !str_ok(h.node, sizeof(h.node)) ||
	    !str_ok(h.bitmap, sizeof(h.bitmap)))
		return kvmon_set_error(EINVAL, "file system map: bad header"),
		       NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	m->bsize = h.bsize, m->inodes = h.inodes, m->ipg = h.ipg;
	m->isize = h.isize, m->first_ino = h.first_ino, m->groups = h.groups;
	m->blocks = h.blocks, m->fs_off = h.fs_off, m->fs_len = h.fs_len;
	memcpy(m->node, h.node, sizeof(m->node));
	memcpy(m->bitmap, h.bitmap, sizeof(m->bitmap));
	m->gran = h.gran;
	m->n_runs = h.n_runs, m->n_inos = h.n_inos, m->n_dents = h.n_dents;
	m->names_len = h.names_len;
	p += sizeof(h);
	left = len - sizeof(h) - 32;
	if (take(&p, &left, (void **)&m->itab, h.groups, sizeof(*m->itab)) ||
	    take(&p, &left, (void **)&m->runs, h.n_runs, sizeof(*m->runs)) ||
	    take(&p, &left, (void **)&m->inos, h.n_inos, sizeof(*m->inos)) ||
	    take(&p, &left, (void **)&m->dents, h.n_dents, sizeof(*m->dents)) ||
	    take(&p, &left, (void **)&m->names, h.names_len, 1))
		goto fail;
	if (left) {
		kvmon_set_error(EINVAL, "file system map: trailing bytes");
		goto fail;
	}
	if (validate(m) < 0)
		goto fail;
	for (size_t i = 0; i < m->n_runs; i++)
		if (m->runs[i].len > m->max_run)
			m->max_run = m->runs[i].len;
	return m;
fail:
	kvmon_fsmap_free(m);
	return NULL;
}

struct kvmon_fsmap *kvmon_fsmap_load(const char *path)
{
	struct kvmon_fsmap *m = NULL;
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd;

	if (!path)
		return kvmon_set_error(EINVAL, "no map path"), NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		kvmon_set_error(errno, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)3 << 30) {
		close(fd);
		return kvmon_set_error(EINVAL, "%s: not a map file (or larger "
				       "than 3 GiB)", path), NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got == (size_t)st.st_size)
		m = kvmon_fsmap_parse(buf, got);
	else
		kvmon_set_error(EIO, "%s: short read", path);
	free(buf);
	if (!m)
		kvmon_error_prefix("%s", path);
	return m;
}
