// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hostile ext4 images, each made from a clean mke2fs -d image with
 * debugfs -w (or by overwriting bytes): corrupted superblock fields,
 * directory cycles through hard links, an absurd i_size, extents out of
 * range and an extent tree that loops, a huge directory, a truncation
 * inside the inode table. Every case runs in a child with a time limit and
 * an address-space limit and must end with a clear error or a bounded
 * result; the walk of a looped tree, `kvmon disk ls` and `find` on
 * `kvmon mount` of it terminate.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIMIT_S 30          /* per case */
#define RSS_MB 512          /* peak RSS of a case */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif
#define MEM_MB 1024ull      /* address space of the child, ASan aside */

static char root[4096], base[4200], img[4200];

static void cleanup(void)
{
	if (*root)
		tsh("rm -rf '%s'", root);
}

/* Fresh copy of the clean image with debugfs commands applied. */
static void make(const char *cmds)
{
	if (tsh("cp '%s' '%s'", base, img))
		bail("cp");
	if (cmds && *cmds &&
	    tsh("printf '%s\\n' | debugfs -w -f - '%s' >/dev/null 2>&1", cmds, img))
		bail("debugfs %s", cmds);
}

struct walk {
	struct kvmon_fs *fs;
	unsigned long entries, dirs, depth, errors;
};

static int walk_dir(struct walk *w, uint64_t ino);

static int walk_cb(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct walk *w = opaque;
	struct kvmon_fs_stat st;
	char buf[65536];

	(void)name, (void)type;
	if (++w->entries > 200000)
		return 1;
	if (kvmon_fs_stat(w->fs, ino, &st) < 0) {
		w->errors++;
		return 0;
	}
	if (S_ISDIR(st.mode)) {
		w->dirs++;
		if (w->depth < 16) { /* the caller's duty: depth cap */
			w->depth++;
			walk_dir(w, ino);
			w->depth--;
		}
	} else if (S_ISREG(st.mode)) {
		/* First, some middle and the last bytes the inode claims. */
		if (kvmon_fs_pread(w->fs, ino, buf, sizeof(buf), 0) < 0 ||
		    (st.size > 2 * sizeof(buf) &&
		     (kvmon_fs_pread(w->fs, ino, buf, sizeof(buf), st.size / 2) < 0 ||
		      kvmon_fs_pread(w->fs, ino, buf, sizeof(buf),
				     st.size - sizeof(buf)) < 0)))
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

/*
 * In a child under limits: open, walk everything, read every file.
 * Returns 0 "opened and walked", 1 "refused at open", -1 crash/timeout.
 * err gets the open error; *entries the number of entries walked.
 */
static int probe(char *err, size_t errlen, unsigned long *entries)
{
	int pfd[2], wst;
	struct rusage ru;
	pid_t pid;
	char msg[512] = "";
	ssize_t n;

	if (pipe(pfd) < 0)
		bail("pipe");
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { MEM_MB << 20, MEM_MB << 20 };
		struct kvmon_disk *d;
		struct walk w = { 0 };
		char out[512];

		close(pfd[0]);
		alarm(LIMIT_S);
		if (!ASAN)
			setrlimit(RLIMIT_AS, &rl); /* ASan reserves terabytes */
		d = kvmon_disk_open_raw(img);
		w.fs = d ? kvmon_fs_open(d, 0, 0) : NULL;
		if (!w.fs) {
			snprintf(out, sizeof(out), "R %s", kvmon_get_error());
		} else {
			walk_dir(&w, KVMON_FS_ROOT_INO);
			snprintf(out, sizeof(out), "W %lu %lu", w.entries,
				 w.errors);
		}
		if (write(pfd[1], out, strlen(out)) < 0)
			_exit(3);
		kvmon_fs_close(w.fs);
		kvmon_disk_close(d);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], msg, sizeof(msg) - 1);
	close(pfd[0]);
	msg[n > 0 ? n : 0] = 0;
	if (wait4(pid, &wst, 0, &ru) != pid || !WIFEXITED(wst) ||
	    WEXITSTATUS(wst) != 0) {
		snprintf(err, errlen, "child died (status 0x%x)", wst);
		return -1;
	}
	if (ru.ru_maxrss > RSS_MB * 1024) {
		snprintf(err, errlen, "peak RSS %ld KiB", ru.ru_maxrss);
		return -1;
	}
	*entries = 0;
	if (msg[0] == 'R') {
		snprintf(err, errlen, "%s", msg + 2);
		return 1;
	}
	sscanf(msg, "W %lu", entries);
	snprintf(err, errlen, "%s", msg);
	return 0;
}

static void expect_refused(const char *cmds, const char *what, const char *needle)
{
	char err[512];
	unsigned long e;
	int rc;

	make(cmds);
	rc = probe(err, sizeof(err), &e);
	ok(rc == 1 && strstr(err, needle), "%s: refused (%s)", what, err);
}

static void expect_bounded(const char *cmds, const char *what)
{
	char err[512];
	unsigned long e;
	int rc;

	make(cmds);
	rc = probe(err, sizeof(err), &e);
	ok(rc >= 0, "%s: bounded, no crash (%s)", what,
	   rc == 1 ? err : rc == 0 ? "opened, walk ended" : err);
}

static int ino_of(const char *path)
{
	char cmd[8400];
	FILE *p;
	int ino = -1;

	snprintf(cmd, sizeof(cmd), "debugfs -R 'stat %s' '%s' 2>/dev/null | "
		 "sed -n 's/^Inode: \\([0-9]*\\).*/\\1/p'", path, img);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &ino) != 1)
			ino = -1;
		pclose(p);
	}
	return ino;
}

/* Block size 1024; the first extent of /big's inode lives in i_block[3..5]. */
static void extent_cases(void)
{
	char cmds[512];
	char err[512];
	unsigned long e;
	int rc;

	expect_bounded("sif /big block[5] 0x7ffffff0", "extent past the end of the fs");
	expect_bounded("sif /big block[4] 0xffff8000", "extent of length 32768 (uninit, max)");
	/* Depth 3 claimed in the inode, the index points at block 300 whose
	 * header says depth 3 again and points at itself: a loop. */
	make("sif /big block[0] 0x0001f30a\nsif /big block[1] 0x00030004\n"
	     "sif /big block[3] 0\nsif /big block[4] 300\nsif /big block[5] 0");
	{
		uint8_t b[1024] = { 0 };
		int fd = open(img, O_WRONLY);

		b[0] = 0x0a, b[1] = 0xf3; /* magic */
		b[2] = 1;                 /* entries */
		b[4] = 84;                /* max */
		b[6] = 3;                 /* depth */
		b[12 + 4] = 300 & 0xff, b[12 + 5] = 300 >> 8; /* ei_leaf_lo */
		if (fd < 0 || pwrite(fd, b, sizeof(b), 300 * 1024) != sizeof(b))
			bail("write loop block");
		close(fd);
	}
	rc = probe(err, sizeof(err), &e);
	ok(rc >= 0, "extent index pointing at itself: bounded (%s)", err);
	snprintf(cmds, sizeof(cmds), "sif /big block[0] 0x0001f30a\n"
		 "sif /big block[1] 0x7fff0004");
	expect_bounded(cmds, "extent tree depth 32767");
}

static void loop_cases(void)
{
	const char *kv = getenv("KVMON");
	char err[512], mnt[4300], path[4400];
	unsigned long e = 0;
	int rc, wst;
	pid_t pid;

	/* d1/fwd -> d2 and d2/back -> d1: a cycle of hard-linked directories;
	 * plus d2/self -> d2 and d1/x/up -> d1 (an ancestor). */
	make("link /d2 /d1/fwd\nlink /d1 /d2/back\nlink /d2 /d2/self\n"
	     "link /d1 /d1/x/up");
	rc = probe(err, sizeof(err), &e);
	ok(rc == 0 && e > 1000,
	   "directory cycles: depth-capped walk ends (%lu entries)", e);
	ok(kv && tsh("timeout 60 '%s' disk ls --image '%s' /d1/fwd/back/fwd/back/x/up/fwd/self "
		    ">/dev/null", kv, img) == 0,
	   "kvmon disk ls through the cycles ends");
	if (!kv)
		return;
	snprintf(mnt, sizeof(mnt), "%s/mnt", root);
	mkdir(mnt, 0700);
	pid = fork();
	if (pid == 0) {
		execl(kv, "kvmon", "mount", "--image", img, "--format", "raw",
		      mnt, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/d1", mnt);
	for (int i = 0; i < 100 && access(path, F_OK) != 0; i++)
		usleep(50000);
	/* find sees the guest's inode numbers (use_ino) and stops at loops. */
	rc = tsh("timeout 120 find '%s' >'%s/find.out' 2>'%s/find.err'; "
		"test $? != 124", mnt, root, root);
	ok(rc == 0 && tsh("grep -q 'loop' '%s/find.err'", root) == 0 &&
	   tsh("test $(wc -l < '%s/find.out') -lt 30000", root) == 0,
	   "find on kvmon mount of the looped fs ends, reports the loop");
	kill(pid, SIGTERM);
	ok(waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
	   "kvmon mount exits 0");
	if (access(path, F_OK) == 0)
		tsh("fusermount3 -u -z '%s'", mnt);
	rmdir(mnt);
}

int main(void)
{
	const char *troot = getenv("KVMON_TEST_ROOT");
	char err[512];
	unsigned long e;
	struct timespec t0, t1;
	int rc, ino;

	snprintf(root, sizeof(root), "%s/disk-hostile-%d", troot ? troot : "/tmp",
		 (int)getpid());
	atexit(cleanup);
	snprintf(base, sizeof(base), "%s/base.img", root);
	snprintf(img, sizeof(img), "%s/case.img", root);
	if (tsh("mkdir -p '%s/src/d1/x' '%s/src/d2/y' '%s/src/huge' && cd '%s/src' && "
	       "echo hi > d1/x/f && echo yo > d2/y/g && "
	       "head -c 300000 /dev/urandom > big && "
	       "cd huge && seq -f 'entry-with-a-long-name-%%06g' 1 20000 | xargs touch",
	       root, root, root, root))
		bail("cannot build the source tree");
	if (tsh("mke2fs -q -F -t ext4 -b 1024 -N 25000 -d '%s/src' '%s' 64M "
	       ">/dev/null 2>&1", root, base))
		bail("mke2fs failed");

	make(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = probe(err, sizeof(err), &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(rc == 0 && e >= 20006, "clean image with a 20,000-entry directory: "
	   "all walked (%lu entries, %.1f s)", e,
	   (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);

	/* Superblock fields. */
	expect_refused("ssv inodes_per_group 0", "inodes_per_group 0", "geometry");
	expect_refused("ssv blocks_per_group 0", "blocks_per_group 0", "geometry");
	expect_refused("ssv inode_size 100", "inode size 100", "inode size");
	expect_refused("ssv inode_size 3000", "inode size 3000", "inode size");
	expect_refused("ssv inodes_count 0xffffffff", "inode count past the groups",
		       "inode count");
	expect_refused("ssv blocks_count 0xffffffffff", "2^40 blocks", "do not fit");
	expect_refused("ssv log_block_size 30", "block size 2^30 KiB", "absurd");
	expect_bounded("ssv first_data_block 60000", "first_data_block past the groups");
	expect_bounded("ssv log_groups_per_flex 31", "log_groups_per_flex 31");
	expect_bounded("ssv desc_size 4000", "desc_size 4000");
	expect_bounded("ssv first_ino 0xffffff", "first_ino huge");
	expect_bounded("ssv rev_level 0xff", "revision 255");

	/* Inodes. */
	expect_bounded("sif /big size 0x1000000000000000", "i_size 2^60, few blocks");
	expect_bounded("sif /d1 size 0x7fffffffffff", "directory i_size 2^47");
	expect_bounded("sif /d1/x/f links_count 0\nsif /d1/x/f mode 0",
		       "inode with mode 0 in a directory");
	make(NULL);
	ino = ino_of("/huge");
	expect_bounded("sif /huge size 1", "huge directory with i_size 1");
	ok(ino > 0, "inode of /huge: %d", ino);
	extent_cases();
	loop_cases();

	/* Truncated inside the inode table of group 0. */
	make(NULL);
	if (tsh("truncate -s $(( $(dumpe2fs '%s' 2>/dev/null | "
	       "sed -n 's/.*Inode table at \\([0-9]*\\)-.*/\\1/p' | head -1) "
	       "* 1024 + 4096 )) '%s'", img, img))
		bail("truncate");
	rc = probe(err, sizeof(err), &e);
	ok(rc == 1 && strstr(err, "truncated"), "truncated mid-inode-table: "
	   "refused (%s)", err);
	return tap_done();
}
