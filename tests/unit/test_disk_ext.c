// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ext4 through libext2fs on images made by mke2fs -d: lookups, stat,
 * contents, symlinks, directories; the I/O manager refuses to open for
 * writing; the image is byte-identical afterwards. Malformed images
 * (bad magic, absurd geometry, truncation, directory and symlink loops,
 * absurd file sizes, random corruption) give clear errors in bounded
 * time.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"
#include "disk/disk_internal.h"
#include "disk/nbdio.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static char root[4096], img[4200], src[4200];

static void cleanup(void)
{
	if (*root)
		tsh("rm -rf '%s'", root);
}

static int image_sha(const char *path, unsigned char md[32])
{
	size_t len = 0;
	char *b = NULL;
	FILE *f = fopen(path, "rb");
	unsigned n = 0;
	int rc = -1;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	rewind(f);
	b = malloc(len);
	if (b && fread(b, 1, len, f) == len)
		rc = EVP_Digest(b, len, md, &n, EVP_sha256(), NULL) ? 0 : -1;
	free(b);
	fclose(f);
	return rc;
}

struct walk {
	struct kvmon_fs *fs;
	unsigned long files, dirs, depth, errors;
};

static int walk_dir(struct walk *w, uint64_t ino);

static int walk_cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct walk *w = opaque;
	struct kvmon_fs_stat st;

	(void)name, (void)type;
	if (w->files + w->dirs > 100000)
		return 1; /* a corrupt image can claim anything: bounded */
	if (kvmon_fs_stat(w->fs, ino, &st) < 0) {
		w->errors++;
		return 0;
	}
	if (S_ISDIR(st.mode)) {
		w->dirs++;
		if (w->depth < 32) { /* loops in the tree: depth-capped */
			w->depth++;
			walk_dir(w, ino);
			w->depth--;
		}
	} else {
		char buf[4096];

		w->files++;
		if (S_ISREG(st.mode) && kvmon_fs_pread(w->fs, ino, buf, sizeof(buf), 0) < 0)
			w->errors++;
	}
	return 0;
}

static int walk_dir(struct walk *w, uint64_t ino)
{
	if (kvmon_fs_readdir(w->fs, ino, walk_cb, w) < 0)
		w->errors++;
	return 0;
}

static struct kvmon_fs *open_img(struct kvmon_disk **d, const char *path)
{
	*d = kvmon_disk_open_raw(path);
	return *d ? kvmon_fs_open(*d, 0, 0) : NULL;
}

static void corrupt_at(const char *path, long off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (pwrite(fd, bytes, n, off) != (ssize_t)n)
			diag("pwrite failed");
		close(fd);
	}
}

/* The mapped read path: holes, fragmented extents, boundaries, EOF,
 * hostile extents, concurrent readers. */
static char *slurp(const char *dir, const char *name, size_t len)
{
	char path[4400];
	char *b = malloc(len);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f || !b || fread(b, 1, len, f) != len) {
		free(b);
		b = NULL;
	}
	if (f)
		fclose(f);
	return b;
}

#define FRAG_MB 12

struct reader {
	struct kvmon_fs *fs;
	uint64_t ino;
	const char *want;
	unsigned seed;
	int bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char *b = malloc(200000);

	for (int i = 0; b && i < 200; i++) {
		size_t len, off;
		ssize_t n;

		r->seed = r->seed * 1103515245u + 12345u;
		off = (r->seed >> 4) % ((size_t)FRAG_MB << 20);
		r->seed = r->seed * 1103515245u + 12345u;
		len = 1 + (r->seed >> 8) % 200000;
		n = kvmon_fs_pread(r->fs, r->ino, b, len, off);
		if (off + len > ((size_t)FRAG_MB << 20))
			len = ((size_t)FRAG_MB << 20) - off;
		if (n != (ssize_t)len || memcmp(b, r->want + off, len))
			r->bad++;
	}
	if (!b)
		r->bad++;
	free(b);
	return NULL;
}

static void test_mapped(void)
{
	char dir[4200], image[4300], hostile[4300], buf[8192];
	char *holes, *frag, *got;
	struct kvmon_disk *d;
	struct kvmon_fs *fs;
	uint64_t ino, hino;
	int ok_all;

	snprintf(dir, sizeof(dir), "%s/map", root);
	snprintf(image, sizeof(image), "%s/map.img", root);
	snprintf(hostile, sizeof(hostile), "%s/map-hostile.img", root);
	/* 1 KiB blocks without flex_bg: a 12 MiB file crosses block-group
	 * metadata and gets several extents. */
	if (tsh("mkdir -p '%s' && cd '%s' && "
		"head -c %d /dev/urandom > frag.bin && "
		"truncate -s 3145728 holes.bin && "
		"printf 'A%%.0s' $(seq 5000) | dd of=holes.bin bs=1 seek=1048000 conv=notrunc 2>/dev/null && "
		"printf 'B' | dd of=holes.bin bs=1 seek=2621440 conv=notrunc 2>/dev/null && "
		"head -c 8192 /dev/urandom > small.bin && "
		"mke2fs -q -F -t ext4 -b 1024 -O ^flex_bg -d . '%s' 40M >/dev/null 2>&1",
		dir, dir, FRAG_MB << 20, image)) {
		ok(0, "mapped-read image built");
		return;
	}
	holes = slurp(dir, "holes.bin", 3145728);
	frag = slurp(dir, "frag.bin", (size_t)FRAG_MB << 20);
	got = malloc((size_t)FRAG_MB << 20);
	fs = open_img(&d, image);
	ok(fs && holes && frag && got, "mapped-read image opened");
	if (!fs || !holes || !frag || !got)
		goto out;
	tsh("debugfs -R 'ex /frag.bin' '%s' 2>/dev/null | grep -c '^ *[0-9]/' | "
	    "sed 's/^/# frag.bin extent lines: /'", image);

	ok(kvmon_fs_lookup(fs, "/holes.bin", &ino) == 0 &&
	   kvmon_fs_pread(fs, ino, got, 3145728, 0) == 3145728 &&
	   !memcmp(got, holes, 3145728), "file with holes reads byte-exact");
	ok(kvmon_fs_pread(fs, ino, buf, 4000, 1046000) == 4000 &&
	   !memcmp(buf, holes + 1046000, 4000),
	   "read from a hole into data (zeros then 'A')");
	ok(kvmon_fs_pread(fs, ino, buf, 5000, 3145728 - 100) == 100 &&
	   !memcmp(buf, holes + 3145728 - 100, 100),
	   "read past EOF of a sparse file: short, trailing hole zeros");

	ok(kvmon_fs_lookup(fs, "/frag.bin", &ino) == 0 &&
	   kvmon_fs_pread(fs, ino, got, (size_t)FRAG_MB << 20, 0) ==
		   (ssize_t)FRAG_MB << 20 &&
	   !memcmp(got, frag, (size_t)FRAG_MB << 20),
	   "%d MiB multi-extent file reads byte-exact", FRAG_MB);
	ok_all = 1;
	/* Every 1 KiB-block boundary region around group edges (8 MiB
	 * groups of 8192 blocks), odd offsets and lengths. */
	for (uint64_t o = 8191 * 1024 - 5000; o < (uint64_t)FRAG_MB << 20;
	     o += 1024 * 1024 + 333) {
		ssize_t n = kvmon_fs_pread(fs, ino, buf, sizeof(buf) - 1, o);
		size_t want = ((size_t)FRAG_MB << 20) - o < sizeof(buf) - 1
				      ? ((size_t)FRAG_MB << 20) - o
				      : sizeof(buf) - 1;

		if (n != (ssize_t)want || memcmp(buf, frag + o, want))
			ok_all = 0;
	}
	ok(ok_all, "unaligned reads across block and extent boundaries");
	ok(kvmon_fs_pread(fs, ino, buf, sizeof(buf), ((uint64_t)FRAG_MB << 20) - 10) == 10 &&
	   !memcmp(buf, frag + ((size_t)FRAG_MB << 20) - 10, 10),
	   "read across EOF: short");
	ok(kvmon_fs_pread(fs, ino, buf, sizeof(buf), (uint64_t)FRAG_MB << 20) == 0 &&
	   kvmon_fs_pread(fs, ino, buf, sizeof(buf), UINT64_MAX - 5) == 0,
	   "read at and far past EOF: 0");
	{
		pthread_t t[4];
		struct reader r[4];
		int bad = 0, started = 0;

		for (int i = 0; i < 4; i++) {
			r[i] = (struct reader){ fs, ino, frag, 77u + (unsigned)i, 0 };
			if (pthread_create(&t[i], NULL, reader_main, &r[i]) == 0)
				started++;
			else
				r[i].bad = 1000;
		}
		for (int i = 0; i < started; i++)
			pthread_join(t[i], NULL);
		for (int i = 0; i < 4; i++)
			bad += r[i].bad;
		ok(started == 4 && bad == 0,
		   "4 threads x 200 random reads: byte-exact (%d bad)", bad);
	}
	kvmon_fs_close(fs);
	kvmon_disk_close(d);

	/* Hostile extents: small.bin's only extent (i_block[5] is its start)
	 * moved past the file system, then onto its last block so that the
	 * 8-block run crosses the end. */
	ok(kvmon_fs_lookup(fs = open_img(&d, image), "/small.bin", &hino) == 0,
	   "small.bin found");
	kvmon_fs_close(fs);
	kvmon_disk_close(d);
	{
		const char *starts[] = { "0x7ffffff0", "40955" };

		for (int i = 0; i < 2; i++) {
			ssize_t n;

			tsh("cp '%s' '%s' && debugfs -w -R 'sif /small.bin block[5] %s' "
			    "'%s' >/dev/null 2>&1", image, hostile, starts[i], hostile);
			fs = open_img(&d, hostile);
			n = fs ? kvmon_fs_pread(fs, hino, buf, sizeof(buf), 0) : -2;
			ok(n == -1, "extent at block %s outside the file system: "
			   "error (%zd: %s)", starts[i], n, kvmon_get_error());
			kvmon_fs_close(fs);
			kvmon_disk_close(d);
		}
	}
out:
	free(holes);
	free(frag);
	free(got);
}

int main(void)
{
	struct kvmon_disk *d;
	struct kvmon_fs *fs;
	struct kvmon_fs_stat st;
	unsigned char before[32], after[32];
	char buf[8192], copy[4300], *big;
	uint64_t ino;
	ssize_t n;
	const char *troot = getenv("KVMON_TEST_ROOT");

	snprintf(root, sizeof(root), "%s/disk-ext-%d", troot ? troot : "/tmp",
		 (int)getpid());
	atexit(cleanup);
	if (tsh("mkdir -p '%s/src/dir/sub' && cd '%s/src' && "
	       "printf 'hello disk\\n' > dir/hello.txt && "
	       "head -c 1048576 /dev/urandom > dir/big.bin && "
	       "ln -s hello.txt dir/fast-link && "
	       "ln -s $(printf 'x%%.0s' $(seq 200))/target dir/slow-link && "
	       "chmod 0640 dir/hello.txt && chown 12:34 dir/hello.txt && "
	       "touch dir/sub/a dir/sub/b dir/sub/c && "
	       "python3 -c \"import os; os.setxattr('dir/hello.txt', 'user.kvmon', b'v1'); "
	       "os.setxattr('dir/hello.txt', 'user.second', b'x' * 300)\"", root, root))
		bail("cannot build the source tree");
	snprintf(src, sizeof(src), "%s/src", root);
	snprintf(img, sizeof(img), "%s/fs.img", root);
	if (tsh("mke2fs -q -F -t ext4 -d '%s' '%s' 16M >/dev/null 2>&1", src, img))
		bail("mke2fs failed");
	image_sha(img, before);

	fs = open_img(&d, img);
	ok(fs != NULL, "ext4 image opened (%s)", fs ? "ok" : kvmon_get_error());
	if (!fs)
		bail("cannot continue");
	ok(kvmon_fs_lookup(fs, "/dir/hello.txt", &ino) == 0 &&
	   kvmon_fs_stat(fs, ino, &st) == 0 && st.size == 11 &&
	   (st.mode & 07777) == 0640 && S_ISREG(st.mode) && st.uid == 12 &&
	   st.gid == 34 && st.nlink == 1, "stat: size, mode, owner, links");
	n = kvmon_fs_pread(fs, ino, buf, sizeof(buf), 0);
	ok(n == 11 && !memcmp(buf, "hello disk\n", 11), "contents");
	n = kvmon_fs_pread(fs, ino, buf, sizeof(buf), 6);
	ok(n == 5 && !memcmp(buf, "disk\n", 5), "read at an offset");
	ok(kvmon_fs_pread(fs, ino, buf, sizeof(buf), 1000) == 0, "read past EOF: 0");
	{
		char path[4300];
		FILE *f;

		snprintf(path, sizeof(path), "%s/dir/big.bin", src);
		f = fopen(path, "rb");
		big = malloc(1 << 20);
		if (f && big && fread(big, 1, 1 << 20, f) == 1 << 20) {
			char *got = malloc(1 << 20);

			ok(kvmon_fs_lookup(fs, "dir/big.bin", &ino) == 0 &&
			   kvmon_fs_pread(fs, ino, got, 1 << 20, 0) == 1 << 20 &&
			   !memcmp(got, big, 1 << 20), "1 MiB file read intact");
			free(got);
		} else {
			ok(0, "reference file read");
		}
		if (f)
			fclose(f);
		free(big);
	}
	ok(kvmon_fs_lookup(fs, "/dir/hello.txt", &ino) == 0 &&
	   kvmon_fs_listxattr(fs, ino, NULL, 0) == 23 &&
	   kvmon_fs_listxattr(fs, ino, buf, sizeof(buf)) == 23 &&
	   memmem(buf, 23, "user.kvmon\0", 11) && memmem(buf, 23, "user.second\0", 12),
	   "listxattr: both names, size query");
	ok(kvmon_fs_listxattr(fs, ino, buf, 5) < 0 && kvmon_get_errno() == ERANGE,
	   "listxattr into a short buffer: ERANGE");
	ok(kvmon_fs_getxattr(fs, ino, "user.kvmon", buf, sizeof(buf)) == 2 &&
	   !memcmp(buf, "v1", 2), "getxattr value");
	ok(kvmon_fs_getxattr(fs, ino, "user.second", NULL, 0) == 300,
	   "getxattr size query (300-byte value)");
	ok(kvmon_fs_getxattr(fs, ino, "user.second", buf, 10) < 0 &&
	   kvmon_get_errno() == ERANGE, "getxattr into a short buffer: ERANGE");
	ok(kvmon_fs_getxattr(fs, ino, "user.none", buf, sizeof(buf)) < 0 &&
	   kvmon_get_errno() == ENODATA, "missing attribute: ENODATA");
	ok(kvmon_fs_lookup(fs, "/dir/fast-link", &ino) == 0 &&
	   kvmon_fs_readlink(fs, ino, buf, sizeof(buf)) == 9 &&
	   !strcmp(buf, "hello.txt"), "fast symlink");
	ok(kvmon_fs_lookup(fs, "/dir/slow-link", &ino) == 0 &&
	   kvmon_fs_readlink(fs, ino, buf, sizeof(buf)) == 207 &&
	   !strcmp(buf + 200, "/target"), "slow symlink");
	ok(kvmon_fs_readlink(fs, ino, buf, 10) < 0 &&
	   kvmon_get_errno() == ENAMETOOLONG, "symlink into a short buffer: error");
	{
		struct walk w = { .fs = fs };

		walk_dir(&w, KVMON_FS_ROOT_INO);
		ok(w.errors == 0 && w.dirs >= 3 && w.files >= 7,
		   "whole tree walked (%lu dirs, %lu files)", w.dirs, w.files);
	}
	ok(kvmon_fs_lookup(fs, "/dir/nope", &ino) < 0 && kvmon_get_errno() == ENOENT,
	   "missing file: ENOENT");
	ok(kvmon_fs_lookup(fs, "/dir/hello.txt", &ino) == 0 &&
	   kvmon_fs_readdir(fs, ino, walk_cb, NULL) < 0 &&
	   kvmon_get_errno() == ENOTDIR, "readdir of a file: ENOTDIR");
	ok(kvmon_fs_stat(fs, 0, &st) < 0 && kvmon_fs_stat(fs, 1u << 30, &st) < 0,
	   "inode numbers out of range refused");
	{
		uint64_t bs, blocks, bfree, files, ffree;

		ok(kvmon_fs_statfs(fs, &bs, &blocks, &bfree, &files, &ffree) == 0 &&
		   blocks * bs == 16u << 20 && bfree < blocks && ffree < files,
		   "statfs");
	}
	kvmon_fs_close(fs);
	/* The I/O manager cannot be opened for writing. */
	{
		ext2_filsys efs = NULL;
		errcode_t err;

		kvmon_nbdio_prepare(d, 0, 0);
		err = ext2fs_open2("kvmon", NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS,
				   0, 0, kvmon_nbdio_manager, &efs);
		kvmon_nbdio_unprepare();
		ok(err != 0 && !efs, "libext2fs open for writing fails (%ld)",
		   (long)err);
	}
	kvmon_disk_close(d);
	image_sha(img, after);
	ok(!memcmp(before, after, 32), "image byte-identical after reading");

	/* The image at rest through kvmon mount: xattrs visible, writes EROFS,
	 * image unchanged. */
	if (getenv("KVMON")) {
		char mnt[4300], path[4400], val[64];
		pid_t pid;
		int i, wst;

		snprintf(mnt, sizeof(mnt), "%s/mnt", root);
		mkdir(mnt, 0700);
		pid = fork();
		if (pid == 0) {
			execl(getenv("KVMON"), "kvmon", "mount", "--image", img,
			      "--format", "raw", mnt, (char *)NULL);
			_exit(127);
		}
		snprintf(path, sizeof(path), "%s/dir/hello.txt", mnt);
		for (i = 0; i < 100 && access(path, F_OK) != 0; i++)
			usleep(50000);
		ok(getxattr(path, "user.kvmon", val, sizeof(val)) == 2 &&
		   !memcmp(val, "v1", 2), "xattr through the mount of an image at rest");
		ok(listxattr(path, buf, sizeof(buf)) == 23, "listxattr through the mount");
		errno = 0;
		ok(setxattr(path, "user.kvmon", "v2", 2, 0) < 0 && errno == EROFS,
		   "setxattr through the mount: EROFS");
		errno = 0;
		ok(removexattr(path, "user.kvmon") < 0 && errno == EROFS,
		   "removexattr through the mount: EROFS");
		kill(pid, SIGTERM);
		ok(waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
		   "kvmon mount --image exits 0");
		if (access(path, F_OK) == 0)
			tsh("fusermount3 -u -z '%s'", mnt);
		rmdir(mnt);
		image_sha(img, after);
		ok(!memcmp(before, after, 32), "image byte-identical after the mount");
	}

	/* Malformed images. */
	snprintf(copy, sizeof(copy), "%s/bad.img", root);
#define FRESH() tsh("cp '%s' '%s'", img, copy)
	FRESH();
	corrupt_at(copy, 1024 + 56, "\0\0", 2);
	fs = open_img(&d, copy);
	ok(!fs && strstr(kvmon_get_error(), "magic"), "bad magic: %s", kvmon_get_error());
	kvmon_disk_close(d);

	FRESH();
	corrupt_at(copy, 1024 + 4, "\xff\xff\xff\x7f", 4);
	fs = open_img(&d, copy);
	ok(!fs && kvmon_get_errno() == EFBIG, "absurd block count: %s",
	   kvmon_get_error());
	kvmon_disk_close(d);

	FRESH();
	corrupt_at(copy, 1024 + 24, "\x20\0\0\0", 4);
	fs = open_img(&d, copy);
	ok(!fs, "absurd block size: %s", kvmon_get_error());
	kvmon_disk_close(d);

	FRESH();
	if (truncate(copy, 4 << 20) == 0) {
		fs = open_img(&d, copy);
		ok(!fs && kvmon_get_errno() == EFBIG, "truncated image: %s",
		   kvmon_get_error());
		kvmon_disk_close(d);
	}

	/* Directory loop (a hard link to an ancestor) and symlink loop. */
	FRESH();
	tsh("debugfs -w -R 'ln /dir /dir/sub/up' '%s' >/dev/null 2>&1", copy);
	tsh("debugfs -w -R 'symlink /dir/l1 /dir/l2' '%s' >/dev/null 2>&1", copy);
	tsh("debugfs -w -R 'symlink /dir/l2 /dir/l1' '%s' >/dev/null 2>&1", copy);
	tsh("debugfs -w -R 'sif /dir/hello.txt size 0x7fffffffffffff' '%s' >/dev/null 2>&1", copy);
	fs = open_img(&d, copy);
	ok(fs != NULL, "image with loops opens");
	if (fs) {
		struct walk w = { .fs = fs };
		int64_t t0;
		uint64_t ino2 = 0;

		ok(kvmon_fs_lookup(fs, "/dir/sub/up/sub/up/sub/up/hello.txt", &ino) == 0 &&
		   kvmon_fs_lookup(fs, "/dir/hello.txt", &ino2) == 0 && ino == ino2,
		   "path through a directory loop resolves");
		ok(kvmon_fs_lookup(fs, "/dir/l1/x", &ino) < 0,
		   "symlink loop: error (%s)", kvmon_get_error());
		walk_dir(&w, KVMON_FS_ROOT_INO);
		ok(w.dirs > 0, "walk over a looped tree ends (depth cap; %lu dirs)", w.dirs);
		t0 = (int64_t)time(NULL);
		ok(kvmon_fs_lookup(fs, "/dir/hello.txt", &ino) == 0 &&
		   kvmon_fs_stat(fs, ino, &st) == 0 && st.size == 0x7fffffffffffffull,
		   "absurd file size reported as stored (%llx)",
		   (unsigned long long)st.size);
		n = kvmon_fs_pread(fs, ino, buf, sizeof(buf), 1ull << 50);
		ok((n >= 0 || *kvmon_get_error()) && (int64_t)time(NULL) - t0 < 5,
		   "read far into it: bounded (%zd %s)", n,
		   n < 0 ? kvmon_get_error() : "");
		n = kvmon_fs_pread(fs, ino, buf, sizeof(buf), 0);
		ok(n == (ssize_t)sizeof(buf) && !memcmp(buf, "hello disk\n", 11),
		   "its real start still reads (%zd)", n);
		kvmon_fs_close(fs);
	}
	kvmon_disk_close(d);

	/* Random corruption of the metadata area: no crash, bounded. */
	{
		unsigned seed = 12345, opened = 0;
		int64_t t0 = (int64_t)time(NULL);

		for (int iter = 0; iter < 60; iter++) {
			FRESH();
			for (int k = 0; k < 40; k++) {
				unsigned char b;
				long off;

				seed = seed * 1103515245u + 12345u;
				off = 1024 + (long)((seed >> 8) % (600 * 1024));
				seed = seed * 1103515245u + 12345u;
				b = (unsigned char)(seed >> 16);
				corrupt_at(copy, off, &b, 1);
			}
			fs = open_img(&d, copy);
			if (fs) {
				struct walk w = { .fs = fs };

				opened++;
				walk_dir(&w, KVMON_FS_ROOT_INO);
				kvmon_fs_close(fs);
			}
			kvmon_disk_close(d);
		}
		ok((int64_t)time(NULL) - t0 < 50,
		   "60 randomly corrupted images: no crash, bounded (%u opened)",
		   opened);
	}
	test_mapped();
	return tap_done();
}
