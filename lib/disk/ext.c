// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ext2/3/4 through libext2fs, read-only, over the kvmon_disk I/O manager.
 * The superblock is sanity-checked by a pure function first
 * (kvmon_ext_sb_check) so that absurd geometry is refused before
 * libext2fs sizes its tables from it. libext2fs is not thread-safe: one
 * mutex per file system serialises every call into it.
 */
#define _GNU_SOURCE
#include "disk_internal.h"
#include "ext.h"
#include "nbdio.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <et/com_err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct kvmon_fs {
	ext2_filsys fs;
	pthread_mutex_t lock;
	uint64_t offset;        /* of the volume on the disk, bytes */
	uint64_t size;          /* of the volume (window), bytes */
	struct kvmon_disk *disk;
	struct kvmon_disk *view; /* LV view opened for it (kvmon_fs_open_part) */
};

ext2_filsys kvmon_fs_ext2(struct kvmon_fs *f)
{
	return f->fs;
}

void kvmon_fs_lock(struct kvmon_fs *f, bool lock)
{
	if (lock)
		pthread_mutex_lock(&f->lock);
	else
		pthread_mutex_unlock(&f->lock);
}

uint64_t kvmon_fs_offset(const struct kvmon_fs *f)
{
	return f->offset;
}

struct kvmon_disk *kvmon_fs_disk(const struct kvmon_fs *f)
{
	return f->disk;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int kvmon_ext_sb_check(const uint8_t *sb, size_t len, uint64_t fs_bytes)
{
	uint32_t log_bs, bpg, ipg, icount, feat_incompat, isz;
	uint64_t bs, blocks, groups;

	if (len < 1024)
		return kvmon_set_error(EINVAL, "superblock: short");
	if (le16(sb + 56) != 0xef53)
		return kvmon_set_error(EINVAL, "no ext2/3/4 file system "
				       "(bad superblock magic)");
	log_bs = le32(sb + 24);
	if (log_bs > 6)
		return kvmon_set_error(EINVAL, "superblock: block size 2^%u KiB "
				       "is absurd", log_bs);
	bs = 1024ull << log_bs;
	feat_incompat = le32(sb + 96);
	blocks = le32(sb + 4);
	if ((feat_incompat & 0x80) && le16(sb + 254) >= 64) /* 64bit */
		blocks |= (uint64_t)le32(sb + 336) << 32;
	bpg = le32(sb + 32);
	ipg = le32(sb + 40);
	icount = le32(sb + 0);
	if (!blocks || !bpg || bpg > 8 * bs || !ipg || ipg > 8 * bs)
		return kvmon_set_error(EINVAL, "superblock: bad group geometry "
				       "(%u blocks, %u inodes per group)", bpg,
				       ipg);
	if (blocks > fs_bytes / bs)
		return kvmon_set_error(EFBIG, "superblock: %llu blocks of %llu "
				       "bytes do not fit the %llu-byte volume "
				       "(truncated image?)",
				       (unsigned long long)blocks,
				       (unsigned long long)bs,
				       (unsigned long long)fs_bytes);
	groups = (blocks + bpg - 1) / bpg;
	if ((uint64_t)icount > groups * ipg)
		return kvmon_set_error(EINVAL, "superblock: inode count %u "
				       "exceeds groups x inodes per group", icount);
	if (le32(sb + 76) >= 1) { /* dynamic revision: inode size */
		isz = le16(sb + 88);
		if (isz < 128 || isz > bs || (isz & (isz - 1)))
			return kvmon_set_error(EINVAL, "superblock: inode size "
					       "%u", isz);
	}
	return 0;
}

static int ext_err(errcode_t err, const char *what)
{
	/* libext2fs returns errno values or com_err codes. */
	int e = (err > 0 && err < 4096) ? (int)err : EIO;

	return kvmon_set_error(e, "%s: %s", what, error_message(err));
}

struct kvmon_fs *kvmon_fs_open(struct kvmon_disk *d, uint64_t offset,
			       uint64_t size)
{
	uint8_t sb[1024];
	struct kvmon_fs *f;
	uint64_t dsz = kvmon_disk_size(d);
	errcode_t err;

	if (!d)
		return kvmon_set_error(EINVAL, "no disk"), NULL;
	if (offset > dsz || (size && size > dsz - offset))
		return kvmon_set_error(EINVAL, "file system window past the "
				       "end of the disk"), NULL;
	if (!size)
		size = dsz - offset;
	if (size < 2048)
		return kvmon_set_error(EINVAL, "volume too small for ext2/3/4"),
		       NULL;
	if (kvmon_disk_read(d, offset + 1024, sb, sizeof(sb)) < 0 ||
	    kvmon_ext_sb_check(sb, sizeof(sb), size) < 0)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	/* Recursive: a readdir callback may stat the entries it is given. */
	{
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&f->lock, &a);
		pthread_mutexattr_destroy(&a);
	}
	if (kvmon_nbdio_prepare(d, offset, size) < 0) {
		free(f);
		return NULL;
	}
	initialize_ext2_error_table();
	/* Never RW; checksum errors are tolerated (a live disk is only crash
	 * consistent, and an attacker can compute checksums anyway). */
	err = ext2fs_open2("kvmon", NULL,
			   EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS |
				   EXT2_FLAG_SKIP_MMP,
			   0, 0, kvmon_nbdio_manager, &f->fs);
	kvmon_nbdio_unprepare();
	f->offset = offset;
	f->size = size;
	f->disk = d;
	if (err) {
		ext_err(err, "opening ext2/3/4 file system");
		pthread_mutex_destroy(&f->lock);
		free(f);
		return NULL;
	}
	return f;
}

/* The first linear LV holding ext2/3/4 (LVM guests: the root is an LV). */
static struct kvmon_fs *open_first_lv(struct kvmon_disk *d)
{
	struct kvmon_partition *v = calloc(2 * KVMON_MAX_PARTITIONS, sizeof(*v));
	struct kvmon_fs *fs = NULL;
	size_t n = 0;

	if (!v)
		return NULL;
	if (kvmon_disk_volumes(d, v, 2 * KVMON_MAX_PARTITIONS, &n) == 0)
		for (size_t i = 0; i < n && !fs; i++) {
			struct kvmon_disk *view;

			if (strcmp(v[i].scheme, "lvm") || strcmp(v[i].type, "linear"))
				continue;
			view = kvmon_disk_open_volume(d, v[i].name);
			fs = view ? kvmon_fs_open(view, 0, 0) : NULL;
			if (fs)
				fs->view = view;
			else
				kvmon_disk_close(view);
		}
	free(v);
	return fs;
}

/* Try the LVs; if none holds ext, keep the error already set. */
static struct kvmon_fs *or_first_lv(struct kvmon_disk *d)
{
	char msg[512];
	int err = kvmon_get_errno();
	struct kvmon_fs *fs;

	snprintf(msg, sizeof(msg), "%s", kvmon_get_error());
	fs = open_first_lv(d);
	if (!fs)
		kvmon_set_error(err, "%s", msg);
	return fs;
}

struct kvmon_fs *kvmon_fs_open_part(struct kvmon_disk *d, unsigned partition)
{
	struct kvmon_partition *p;
	struct kvmon_fs *fs = NULL;
	size_t n = 0;

	p = calloc(KVMON_MAX_PARTITIONS, sizeof(*p));
	if (!p)
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	if (kvmon_disk_partitions(d, p, KVMON_MAX_PARTITIONS, &n) < 0)
		goto out;
	if (partition == 0 && n == 0) {
		fs = kvmon_fs_open(d, 0, 0);
		if (!fs)
			fs = or_first_lv(d); /* a bare PV */
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (partition && p[i].index != partition)
			continue;
		fs = kvmon_fs_open(d, p[i].start, p[i].size);
		if (fs || partition)
			goto out;
	}
	if (partition) {
		kvmon_set_error(ENOENT, "no partition %u", partition);
	} else {
		kvmon_set_error(ENOENT, "no partition or LVM2 volume holds an "
				"ext2/3/4 file system");
		fs = or_first_lv(d);
	}
out:
	free(p);
	return fs;
}

void kvmon_fs_close(struct kvmon_fs *f)
{
	if (!f)
		return;
	ext2fs_close_free(&f->fs);
	pthread_mutex_destroy(&f->lock);
	kvmon_disk_close(f->view);
	free(f);
}

static int check_ino(struct kvmon_fs *f, uint64_t ino)
{
	if (ino < 1 || ino > f->fs->super->s_inodes_count)
		return kvmon_set_error(EINVAL, "inode %llu out of range",
				       (unsigned long long)ino);
	return 0;
}

int kvmon_fs_lookup(struct kvmon_fs *f, const char *path, uint64_t *ino)
{
	ext2_ino_t i = 0;
	errcode_t err;

	if (!f || !path || !ino)
		return kvmon_set_error(EINVAL, "lookup: bad arguments");
	while (*path == '/')
		path++;
	if (!*path) {
		*ino = EXT2_ROOT_INO;
		return 0;
	}
	if (strlen(path) >= 4096)
		return kvmon_set_error(ENAMETOOLONG, "path too long");
	pthread_mutex_lock(&f->lock);
	/* ext2fs_namei caps nested symlinks (EXT2FS_MAX_NESTED_LINKS). */
	err = ext2fs_namei(f->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &i);
	pthread_mutex_unlock(&f->lock);
	if (err == EXT2_ET_FILE_NOT_FOUND)
		return kvmon_set_error(ENOENT, "/%s: no such file", path);
	if (err)
		return ext_err(err, path);
	*ino = i;
	return 0;
}

static void xtime(uint32_t sec, uint32_t extra, bool has, int64_t *s,
		  uint32_t *ns)
{
	*s = (int32_t)sec;
	*ns = 0;
	if (has) {
		*s += (int64_t)(extra & 3) << 32;
		*ns = (extra >> 2) < 1000000000u ? extra >> 2 : 0;
	}
}

static int read_inode(struct kvmon_fs *f, uint64_t ino,
		      struct ext2_inode_large *in)
{
	errcode_t err;

	memset(in, 0, sizeof(*in));
	err = ext2fs_read_inode_full(f->fs, (ext2_ino_t)ino,
				     (struct ext2_inode *)in, sizeof(*in));
	return err ? ext_err(err, "reading inode") : 0;
}

int kvmon_fs_stat(struct kvmon_fs *f, uint64_t ino, struct kvmon_fs_stat *st)
{
	struct ext2_inode_large in;
	bool big;
	int rc;

	if (!f || !st)
		return kvmon_set_error(EINVAL, "stat: bad arguments");
	if (check_ino(f, ino) < 0)
		return -1;
	pthread_mutex_lock(&f->lock);
	rc = read_inode(f, ino, &in);
	if (rc == 0) {
		memset(st, 0, sizeof(*st));
		st->ino = ino;
		st->mode = in.i_mode;
		st->uid = inode_uid(in);
		st->gid = inode_gid(in);
		st->nlink = in.i_links_count;
		st->size = EXT2_I_SIZE(&in);
		st->blocks = ext2fs_get_stat_i_blocks(f->fs,
						      (struct ext2_inode *)&in);
		big = EXT2_INODE_SIZE(f->fs->super) > EXT2_GOOD_OLD_INODE_SIZE;
		xtime(in.i_atime, in.i_atime_extra,
		      big && in.i_extra_isize >= 24, &st->atime, &st->atime_ns);
		xtime(in.i_mtime, in.i_mtime_extra,
		      big && in.i_extra_isize >= 20, &st->mtime, &st->mtime_ns);
		xtime(in.i_ctime, in.i_ctime_extra,
		      big && in.i_extra_isize >= 8, &st->ctime, &st->ctime_ns);
		if (S_ISCHR(in.i_mode) || S_ISBLK(in.i_mode))
			st->rdev = in.i_block[0] ? in.i_block[0] : in.i_block[1];
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

struct dir_ctx {
	kvmon_fs_dirent_fn fn;
	void *opaque;
	int rc;
	unsigned long entries;
};

static unsigned dtype(int ft)
{
	switch (ft) {
	case EXT2_FT_REG_FILE: return DT_REG;
	case EXT2_FT_DIR: return DT_DIR;
	case EXT2_FT_CHRDEV: return DT_CHR;
	case EXT2_FT_BLKDEV: return DT_BLK;
	case EXT2_FT_FIFO: return DT_FIFO;
	case EXT2_FT_SOCK: return DT_SOCK;
	case EXT2_FT_SYMLINK: return DT_LNK;
	default: return DT_UNKNOWN;
	}
}

static int dir_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de,
		  int offset, int blocksize, char *buf, void *priv)
{
	struct dir_ctx *c = priv;
	unsigned len = (unsigned)ext2fs_dirent_name_len(de);
	char name[256];

	(void)dir, (void)entry, (void)offset, (void)blocksize, (void)buf;
	if (!de->inode || len == 0)
		return 0;
	memcpy(name, de->name, len);
	name[len] = 0;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (memchr(name, '/', len) || strlen(name) != len)
		return 0; /* hostile: '/' or NUL in a name is no valid entry */
	c->rc = c->fn(c->opaque, name, de->inode,
		      dtype(ext2fs_dirent_file_type(de)));
	return c->rc ? DIRENT_ABORT : 0;
}

int kvmon_fs_readdir(struct kvmon_fs *f, uint64_t dir, kvmon_fs_dirent_fn fn,
		     void *opaque)
{
	struct dir_ctx c = { .fn = fn, .opaque = opaque };
	errcode_t err;

	if (!f || !fn)
		return kvmon_set_error(EINVAL, "readdir: bad arguments");
	if (check_ino(f, dir) < 0)
		return -1;
	pthread_mutex_lock(&f->lock);
	err = ext2fs_check_directory(f->fs, (ext2_ino_t)dir);
	if (!err)
		err = ext2fs_dir_iterate2(f->fs, (ext2_ino_t)dir, 0, NULL,
					  dir_cb, &c);
	pthread_mutex_unlock(&f->lock);
	if (err == EXT2_ET_NO_DIRECTORY)
		return kvmon_set_error(ENOTDIR, "inode %llu is not a directory",
				       (unsigned long long)dir);
	if (err)
		return ext_err(err, "reading directory");
	return c.rc;
}

static ssize_t read_locked(struct kvmon_fs *f, uint64_t ino, void *buf,
			   size_t len, uint64_t off)
{
	ext2_file_t file;
	errcode_t err;
	size_t done = 0;

	err = ext2fs_file_open(f->fs, (ext2_ino_t)ino, 0, &file);
	if (err)
		return ext_err(err, "opening file");
	err = ext2fs_file_llseek(file, off, EXT2_SEEK_SET, NULL);
	while (!err && done < len) {
		unsigned int want = len - done > (1u << 30) ? (1u << 30)
							    : (unsigned)(len - done);
		unsigned int got = 0;

		err = ext2fs_file_read(file, (char *)buf + done, want, &got);
		if (err || got == 0)
			break;
		done += got;
	}
	ext2fs_file_close(file);
	if (err)
		return ext_err(err, "reading file");
	return (ssize_t)done;
}

/*
 * Mapped read: the lock is held only to map the range to disk runs; the
 * data is then read with kvmon_disk_read (thread-safe) outside it, so
 * several threads read one file system in parallel. At most MAP_RUNS
 * runs (and MAP_BYTES bytes) per round, so the map is bounded.
 */
#define MAP_RUNS 64
#define MAP_BYTES (8u << 20)

struct run {
	uint64_t pblk;  /* first physical block; 0 = hole (zeros) */
	uint64_t nblk;
};

/* Append n blocks at phys (0 = zeros); false when the run table is full. */
static bool add_run(struct run *r, size_t *nr, uint64_t phys, uint64_t n)
{
	struct run *last = *nr ? &r[*nr - 1] : NULL;

	if (last && ((!last->pblk && !phys) ||
		     (last->pblk && phys == last->pblk + last->nblk))) {
		last->nblk += n;
		return true;
	}
	if (*nr == MAP_RUNS)
		return false;
	r[*nr].pblk = phys;
	r[*nr].nblk = n;
	(*nr)++;
	return true;
}

/* The extent holding block cur: how many blocks from cur it covers and
 * where (0 = hole or uninitialized: zeros). */
static errcode_t extent_at(ext2_extent_handle_t h, uint64_t cur,
			   uint64_t *phys, uint64_t *n)
{
	struct ext2fs_extent e;
	errcode_t err = ext2fs_extent_goto(h, cur);

	*phys = 0;
	*n = 1;
	if (err == EXT2_ET_EXTENT_NOT_FOUND)
		return 0; /* a hole: one block at a time (bounded by max) */
	if (!err)
		err = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &e);
	if (err)
		return err;
	if (cur < e.e_lblk || cur - e.e_lblk >= e.e_len)
		return 0;
	*n = e.e_len - (cur - e.e_lblk);
	if (!(e.e_flags & EXT2_EXTENT_FLAGS_UNINIT))
		*phys = e.e_pblk + (cur - e.e_lblk);
	return 0;
}

/* One extent tree lookup per extent rather than per block. */
static int64_t map_extents(struct kvmon_fs *f, struct ext2_inode_large *in,
			   uint64_t ino, uint64_t lblk, uint64_t max,
			   struct run *r, size_t *nr)
{
	ext2_extent_handle_t h;
	uint64_t done = 0;
	errcode_t err;

	err = ext2fs_extent_open2(f->fs, (ext2_ino_t)ino,
				  (struct ext2_inode *)in, &h);
	if (err)
		return ext_err(err, "opening the extent tree");
	while (done < max) {
		uint64_t phys, n;

		err = extent_at(h, lblk + done, &phys, &n);
		if (err)
			break;
		if (n > max - done)
			n = max - done;
		if (!add_run(r, nr, phys, n))
			break;
		done += n;
	}
	ext2fs_extent_free(h);
	if (err)
		return ext_err(err, "mapping a file block");
	return (int64_t)done;
}

/* Map logical blocks [lblk, lblk + max) into runs; caller holds the lock.
 * Returns the number of blocks mapped (> 0) or -1. */
static int64_t map_runs(struct kvmon_fs *f, struct ext2_inode_large *in,
			uint64_t ino, uint64_t lblk, uint64_t max,
			struct run *r, size_t *nr)
{
	uint64_t done = 0;

	*nr = 0;
	if (in->i_flags & EXT4_EXTENTS_FL)
		return map_extents(f, in, ino, lblk, max, r, nr);
	while (done < max) {
		blk64_t phys = 0;
		int flags = 0;
		errcode_t err;

		err = ext2fs_bmap2(f->fs, (ext2_ino_t)ino,
				   (struct ext2_inode *)in, NULL, 0,
				   lblk + done, &flags, &phys);
		if (err)
			return ext_err(err, "mapping a file block");
		if (flags & BMAP_RET_UNINIT)
			phys = 0; /* allocated, never written: zeros */
		if (!add_run(r, nr, phys, 1))
			break;
		done++;
	}
	return (int64_t)done;
}

/* Read part of a run; hostile block numbers never leave the window. */
static int read_run(struct kvmon_fs *f, const struct run *r, uint64_t skip,
		    uint8_t *dst, size_t n)
{
	uint64_t bs = f->fs->blocksize, pos;

	if (!r->pblk) {
		memset(dst, 0, n);
		return 0;
	}
	if (r->pblk >= ext2fs_blocks_count(f->fs->super) ||
	    r->nblk > ext2fs_blocks_count(f->fs->super) - r->pblk ||
	    r->pblk > f->size / bs || r->nblk > f->size / bs - r->pblk)
		return kvmon_set_error(EIO, "file extent at block %llu (%llu "
				       "blocks) is outside the file system",
				       (unsigned long long)r->pblk,
				       (unsigned long long)r->nblk);
	pos = r->pblk * bs + skip;
	if (pos > f->size || n > f->size - pos)
		return kvmon_set_error(EIO, "file extent outside the file system");
	return kvmon_disk_read(f->disk, f->offset + pos, dst, n);
}

/* One round: map under the lock, read outside. Returns bytes or -1. */
static ssize_t mapped_round(struct kvmon_fs *f, uint64_t ino,
			    struct ext2_inode_large *in, uint8_t *buf,
			    size_t len, uint64_t off)
{
	struct run r[MAP_RUNS];
	uint64_t bs = f->fs->blocksize, lblk = off / bs, skip = off % bs;
	uint64_t want = len > MAP_BYTES ? MAP_BYTES : len, got;
	size_t nr, done = 0;
	int64_t nb;

	pthread_mutex_lock(&f->lock);
	nb = map_runs(f, in, ino, lblk, (skip + want + bs - 1) / bs, r, &nr);
	pthread_mutex_unlock(&f->lock);
	if (nb < 0)
		return -1;
	got = (uint64_t)nb * bs - skip;
	if (got > want)
		got = want;
	for (size_t i = 0; i < nr && done < got; i++) {
		uint64_t rb = r[i].nblk * bs;
		size_t n;

		if (skip >= rb) {
			skip -= rb;
			continue;
		}
		n = rb - skip < got - done ? (size_t)(rb - skip) : got - done;
		if (read_run(f, &r[i], skip, buf + done, n) < 0)
			return -1;
		done += n;
		skip = 0;
	}
	return (ssize_t)done;
}

static ssize_t mapped_read(struct kvmon_fs *f, uint64_t ino,
			   struct ext2_inode_large *in, void *buf, size_t len,
			   uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = mapped_round(f, ino, in, (uint8_t *)buf + done,
					 len - done, off + done);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Inline data and other layouts bmap cannot express: libext2fs reads. */
static bool mappable(const struct ext2_inode_large *in)
{
	return !(in->i_flags & (EXT4_INLINE_DATA_FL | EXT4_ENCRYPT_FL));
}

ssize_t kvmon_fs_pread(struct kvmon_fs *f, uint64_t ino, void *buf, size_t len,
		       uint64_t off)
{
	struct ext2_inode_large in;
	uint64_t isz = 0;
	bool map = false;
	ssize_t r;

	if (!f || (!buf && len))
		return kvmon_set_error(EINVAL, "read: bad arguments");
	if (check_ino(f, ino) < 0)
		return -1;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	pthread_mutex_lock(&f->lock);
	r = read_inode(f, ino, &in);
	if (r == 0 && !LINUX_S_ISREG(in.i_mode))
		r = kvmon_set_error(S_ISDIR(in.i_mode) ? EISDIR : EINVAL,
				    "inode %llu is not a regular file",
				    (unsigned long long)ino);
	if (r == 0) {
		isz = EXT2_I_SIZE(&in);
		map = mappable(&in);
		if (off >= isz)
			len = 0;
		else if (len > isz - off)
			len = (size_t)(isz - off);
		if (len && !map)
			r = read_locked(f, ino, buf, len, off);
	}
	pthread_mutex_unlock(&f->lock);
	if (r == 0 && len && map)
		r = mapped_read(f, ino, &in, buf, len, off);
	return r;
}

ssize_t kvmon_fs_readlink(struct kvmon_fs *f, uint64_t ino, char *buf,
			  size_t size)
{
	struct ext2_inode_large in;
	uint64_t isz;
	ssize_t r;

	if (!f || !buf || !size)
		return kvmon_set_error(EINVAL, "readlink: bad arguments");
	if (check_ino(f, ino) < 0)
		return -1;
	pthread_mutex_lock(&f->lock);
	r = read_inode(f, ino, &in);
	if (r == 0 && !LINUX_S_ISLNK(in.i_mode))
		r = kvmon_set_error(EINVAL, "not a symlink");
	if (r == 0) {
		isz = EXT2_I_SIZE(&in);
		if (isz >= size || isz > 4095) {
			r = kvmon_set_error(ENAMETOOLONG, "symlink target of "
					    "%llu bytes", (unsigned long long)isz);
		} else if (ext2fs_is_fast_symlink((struct ext2_inode *)&in) &&
			   isz < sizeof(in.i_block)) {
			memcpy(buf, in.i_block, isz);
			r = (ssize_t)isz;
		} else {
			r = read_locked(f, ino, buf, isz, 0);
		}
		if (r >= 0) {
			buf[r] = 0;
			r = (ssize_t)strnlen(buf, (size_t)r);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int kvmon_fs_statfs(struct kvmon_fs *f, uint64_t *bsize, uint64_t *blocks,
		    uint64_t *bfree, uint64_t *files, uint64_t *ffree)
{
	if (!f)
		return kvmon_set_error(EINVAL, "statfs: no file system");
	pthread_mutex_lock(&f->lock);
	if (bsize)
		*bsize = f->fs->blocksize;
	if (blocks)
		*blocks = ext2fs_blocks_count(f->fs->super);
	if (bfree)
		*bfree = ext2fs_free_blocks_count(f->fs->super);
	if (files)
		*files = f->fs->super->s_inodes_count;
	if (ffree)
		*ffree = f->fs->super->s_free_inodes_count;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

struct xlist {
	char *buf;
	size_t size, len;
	bool overflow;
};

static int xattr_name_cb(char *name, char *value, size_t value_len, void *data)
{
	struct xlist *x = data;
	size_t n = strnlen(name, 256) + 1;

	(void)value, (void)value_len;
	if (n > 256)
		return 0; /* hostile: no terminator within XATTR_NAME_MAX */
	if (x->size && x->len + n <= x->size)
		memcpy(x->buf + x->len, name, n);
	else if (x->size)
		x->overflow = true;
	x->len += n;
	return x->len > (1u << 20) ? XATTR_ABORT : 0;
}

/* Open and read the xattrs of ino; caller holds the lock. */
static int xattrs_open(struct kvmon_fs *f, uint64_t ino,
		       struct ext2_xattr_handle **h)
{
	errcode_t err;

	if (!ext2fs_has_feature_xattr(f->fs->super) &&
	    EXT2_INODE_SIZE(f->fs->super) <= EXT2_GOOD_OLD_INODE_SIZE) {
		*h = NULL;
		return 0;
	}
	err = ext2fs_xattrs_open(f->fs, (ext2_ino_t)ino, h);
	if (!err) {
		err = ext2fs_xattrs_read(*h);
		if (err)
			ext2fs_xattrs_close(h);
	}
	return err ? ext_err(err, "reading extended attributes") : 0;
}

ssize_t kvmon_fs_listxattr(struct kvmon_fs *f, uint64_t ino, char *buf,
			   size_t size)
{
	struct xlist x = { .buf = buf, .size = buf ? size : 0 };
	struct ext2_xattr_handle *h = NULL;
	ssize_t rc;

	if (!f)
		return kvmon_set_error(EINVAL, "listxattr: bad arguments");
	if (check_ino(f, ino) < 0)
		return -1;
	pthread_mutex_lock(&f->lock);
	rc = xattrs_open(f, ino, &h);
	if (rc == 0 && h) {
		errcode_t err = ext2fs_xattrs_iterate(h, xattr_name_cb, &x);

		ext2fs_xattrs_close(&h);
		if (err)
			rc = ext_err(err, "listing extended attributes");
	}
	pthread_mutex_unlock(&f->lock);
	if (rc < 0)
		return rc;
	if (x.overflow || (buf && size && x.len > size))
		return kvmon_set_error(ERANGE, "xattr list of %zu bytes", x.len);
	return (ssize_t)x.len;
}

ssize_t kvmon_fs_getxattr(struct kvmon_fs *f, uint64_t ino, const char *name,
			  void *buf, size_t size)
{
	struct ext2_xattr_handle *h = NULL;
	void *val = NULL;
	size_t len = 0;
	ssize_t rc;

	if (!f || !name)
		return kvmon_set_error(EINVAL, "getxattr: bad arguments");
	if (check_ino(f, ino) < 0)
		return -1;
	pthread_mutex_lock(&f->lock);
	rc = xattrs_open(f, ino, &h);
	if (rc == 0 && !h)
		rc = kvmon_set_error(ENODATA, "no attribute %s", name);
	if (rc == 0) {
		errcode_t err = ext2fs_xattr_get(h, name, &val, &len);

		ext2fs_xattrs_close(&h);
		if (err == EXT2_ET_EA_KEY_NOT_FOUND)
			rc = kvmon_set_error(ENODATA, "no attribute %s", name);
		else if (err)
			rc = ext_err(err, "reading an extended attribute");
	}
	pthread_mutex_unlock(&f->lock);
	if (rc < 0)
		return rc;
	if (buf && size) {
		if (len > size) {
			ext2fs_free_mem(&val);
			return kvmon_set_error(ERANGE, "attribute of %zu bytes", len);
		}
		memcpy(buf, val, len);
	}
	ext2fs_free_mem(&val);
	return (ssize_t)len;
}

const char *kvmon_fs_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "chardev";
	case S_IFBLK: return "blockdev";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}
