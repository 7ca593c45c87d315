// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmon mount: the guest's file system through FUSE, strictly read-only,
 * for unmodified host tools (find, sha256sum, aide). The view is the
 * point-in-time fleecing export (or an image at rest), so it never
 * changes while mounted: the kernel may cache everything. Every write
 * operation is refused with EROFS, in the mount options (ro) and again
 * in each handler. The mount lives exactly as long as this command.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312 /* fuse_loop_cfg_set_max_threads */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHANGES_NAME ".kvmon-changes.json"
/* Beyond ext's 32-bit inode numbers: never a guest inode. */
#define CHANGES_INO (1ull << 32)

enum { OPT_CHANGED_SINCE = 0x3a0 };

static const char mount_usage[] =
	"Usage: kvmon mount [OPTIONS] DIR\n"
	"Show the guest's file system at DIR (FUSE), strictly read-only.\n"
	"Runs in the foreground until DIR is unmounted (fusermount3 -u DIR)\n"
	"or the command gets SIGINT/SIGTERM; then the mount and the disk\n"
	"export are removed.\n"
	"  --changed-since FILE  only what changed since the baseline FILE\n"
	"                   (kvmon disk baseline): ADDED and CHANGED paths and\n"
	"                   the directories leading to them, plus a read-only\n"
	"                   /" CHANGES_NAME " listing every change, removed\n"
	"                   paths included\n"
	DISK_HELP
	COMMON_HELP
	"Exit: 0 ok, 2 error.\n";

static struct kvmon_fs *mfs;

/*
 * --changed-since: the changed-part-only view (HyperSpector's shadow
 * file system). visible: sorted paths that are ADDED or CHANGED plus
 * their ancestors; changes_json: the virtual file at the root.
 */
static struct {
	bool on;
	char **visible;
	size_t n, cap;
	char *json;
	size_t json_len;
} chg;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool visible(const char *path)
{
	if (!chg.on || !strcmp(path, "/"))
		return true;
	if (!chg.n)
		return false;
	return bsearch(&path, chg.visible, chg.n, sizeof(char *), cmp_str) != NULL;
}

static bool is_changes_file(const char *path)
{
	return chg.on && !strcmp(path, "/" CHANGES_NAME);
}

static int errno_of_lib(void)
{
	int e = kvmon_get_errno();

	return e > 0 ? -e : -EIO;
}

static int lookup(const char *path, uint64_t *ino)
{
	if (!visible(path))
		return -ENOENT;
	return kvmon_fs_lookup(mfs, path, ino) < 0 ? errno_of_lib() : 0;
}

static void fill_stat(const struct kvmon_fs_stat *s, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = s->ino;
	st->st_mode = s->mode;
	st->st_nlink = s->nlink;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_size = (off_t)s->size;
	st->st_blocks = (blkcnt_t)s->blocks;
	st->st_blksize = 4096;
	st->st_rdev = s->rdev;
	st->st_atim.tv_sec = s->atime;
	st->st_atim.tv_nsec = s->atime_ns;
	st->st_mtim.tv_sec = s->mtime;
	st->st_mtim.tv_nsec = s->mtime_ns;
	st->st_ctim.tv_sec = s->ctime;
	st->st_ctim.tv_nsec = s->ctime_ns;
}

static void *m_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;       /* the guest's inode numbers (find, aide) */
	cfg->kernel_cache = 1;  /* the snapshot never changes */
	cfg->entry_timeout = 3600;
	cfg->attr_timeout = 3600;
	cfg->negative_timeout = 3600;
	return NULL;
}

static int m_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct kvmon_fs_stat s;
	uint64_t ino;
	int rc;

	if (is_changes_file(path)) {
		memset(st, 0, sizeof(*st));
		st->st_ino = CHANGES_INO;
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)chg.json_len;
		return 0;
	}
	if (fi && fi->fh)
		ino = fi->fh;
	else if ((rc = lookup(path, &ino)))
		return rc;
	if (kvmon_fs_stat(mfs, ino, &s) < 0)
		return errno_of_lib();
	fill_stat(&s, st);
	return 0;
}

static int m_readlink(const char *path, char *buf, size_t size)
{
	uint64_t ino;
	int rc = lookup(path, &ino);

	if (rc)
		return rc;
	if (kvmon_fs_readlink(mfs, ino, buf, size) < 0)
		return errno_of_lib();
	return 0;
}

static int m_open(const char *path, struct fuse_file_info *fi)
{
	uint64_t ino;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & (O_TRUNC | O_CREAT | O_APPEND)))
		return -EROFS;
	if (is_changes_file(path))
		ino = CHANGES_INO;
	else if ((rc = lookup(path, &ino)))
		return rc;
	(void)fi;
	/* Zero-message open: after one ENOSYS the kernel sends no OPEN and
	 * no RELEASE for this mount (two round trips per file less) and
	 * keeps the page cache (FOPEN_KEEP_CACHE). The mount is "ro", so
	 * the kernel refuses writes itself; reads resolve the path. */
	return -ENOSYS;
}

static int m_read(const char *path, char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	uint64_t ino = fi ? fi->fh : 0;
	ssize_t n;
	int rc;

	if (!ino && is_changes_file(path))
		ino = CHANGES_INO;
	else if (!ino && (rc = lookup(path, &ino)))
		return rc;
	if (off < 0)
		return -EINVAL;
	if (ino == CHANGES_INO) {
		if ((uint64_t)off >= chg.json_len)
			return 0;
		if (size > chg.json_len - (size_t)off)
			size = chg.json_len - (size_t)off;
		memcpy(buf, chg.json + off, size);
		return (int)size;
	}
	n = kvmon_fs_pread(mfs, ino, buf, size, (uint64_t)off);
	return n < 0 ? errno_of_lib() : (int)n;
}

struct fill_ctx {
	void *buf;
	fuse_fill_dir_t filler;
	const char *dir;
};

static int fill_entry(void *opaque, const char *name, uint64_t ino,
		      unsigned type)
{
	struct fill_ctx *f = opaque;
	struct stat st;

	if (chg.on) {
		char p[4096];

		snprintf(p, sizeof(p), "%s/%s", strcmp(f->dir, "/") ? f->dir : "",
			 name);
		if (!visible(p))
			return 0;
	}
	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_mode = DTTOIF(type);
	return f->filler(f->buf, name, &st, 0, 0) ? 1 : 0;
}

static int m_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		     off_t off, struct fuse_file_info *fi,
		     enum fuse_readdir_flags flags)
{
	struct fill_ctx f = { .buf = buf, .filler = filler, .dir = path };
	uint64_t ino;
	int rc;

	(void)off, (void)fi, (void)flags;
	if ((rc = lookup(path, &ino)))
		return rc;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	if (chg.on && !strcmp(path, "/"))
		filler(buf, CHANGES_NAME, NULL, 0, 0);
	if (kvmon_fs_readdir(mfs, ino, fill_entry, &f) < 0)
		return errno_of_lib();
	return 0;
}

static int m_statfs(const char *path, struct statvfs *sv)
{
	uint64_t bs, blocks, bfree, files, ffree;

	(void)path;
	if (kvmon_fs_statfs(mfs, &bs, &blocks, &bfree, &files, &ffree) < 0)
		return errno_of_lib();
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = bs;
	sv->f_blocks = blocks;
	sv->f_bfree = sv->f_bavail = bfree;
	sv->f_files = files;
	sv->f_ffree = sv->f_favail = ffree;
	sv->f_namemax = 255;
	sv->f_flag = ST_RDONLY;
	return 0;
}

static int m_access(const char *path, int mask)
{
	uint64_t ino;

	if (mask & W_OK)
		return -EROFS;
	if (is_changes_file(path))
		return 0;
	return lookup(path, &ino);
}

static int m_getxattr(const char *path, const char *name, char *value,
		      size_t size)
{
	uint64_t ino;
	ssize_t n;
	int rc;

	if (is_changes_file(path))
		return -ENODATA;
	if ((rc = lookup(path, &ino)))
		return rc;
	n = kvmon_fs_getxattr(mfs, ino, name, size ? value : NULL, size);
	return n < 0 ? errno_of_lib() : (int)n;
}

static int m_listxattr(const char *path, char *list, size_t size)
{
	uint64_t ino;
	ssize_t n;
	int rc;

	if (is_changes_file(path))
		return 0;
	if ((rc = lookup(path, &ino)))
		return rc;
	n = kvmon_fs_listxattr(mfs, ino, size ? list : NULL, size);
	return n < 0 ? errno_of_lib() : (int)n;
}

/* Every operation that could change anything: refused. */
static int ro_mknod(const char *p, mode_t m, dev_t d) { (void)p, (void)m, (void)d; return -EROFS; }
static int ro_mkdir(const char *p, mode_t m) { (void)p, (void)m; return -EROFS; }
static int ro_unlink(const char *p) { (void)p; return -EROFS; }
static int ro_rmdir(const char *p) { (void)p; return -EROFS; }
static int ro_symlink(const char *a, const char *b) { (void)a, (void)b; return -EROFS; }
static int ro_rename(const char *a, const char *b, unsigned f) { (void)a, (void)b, (void)f; return -EROFS; }
static int ro_link(const char *a, const char *b) { (void)a, (void)b; return -EROFS; }
static int ro_chmod(const char *p, mode_t m, struct fuse_file_info *fi) { (void)p, (void)m, (void)fi; return -EROFS; }
static int ro_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi) { (void)p, (void)u, (void)g, (void)fi; return -EROFS; }
static int ro_truncate(const char *p, off_t o, struct fuse_file_info *fi) { (void)p, (void)o, (void)fi; return -EROFS; }
static int ro_write(const char *p, const char *b, size_t s, off_t o, struct fuse_file_info *fi) { (void)p, (void)b, (void)s, (void)o, (void)fi; return -EROFS; }
static int ro_setxattr(const char *p, const char *n, const char *v, size_t s, int f) { (void)p, (void)n, (void)v, (void)s, (void)f; return -EROFS; }
static int ro_removexattr(const char *p, const char *n) { (void)p, (void)n; return -EROFS; }
static int ro_create(const char *p, mode_t m, struct fuse_file_info *fi) { (void)p, (void)m, (void)fi; return -EROFS; }
static int ro_utimens(const char *p, const struct timespec tv[2], struct fuse_file_info *fi) { (void)p, (void)tv, (void)fi; return -EROFS; }
static int ro_fallocate(const char *p, int m, off_t o, off_t l, struct fuse_file_info *fi) { (void)p, (void)m, (void)o, (void)l, (void)fi; return -EROFS; }
static ssize_t ro_copy(const char *a, struct fuse_file_info *fa, off_t oa, const char *b, struct fuse_file_info *fb, off_t ob, size_t s, int f) { (void)a, (void)fa, (void)oa, (void)b, (void)fb, (void)ob, (void)s, (void)f; return -EROFS; }
/*
 * A few worker threads: every handler is thread-safe (the library locks
 * per file system and reads file data outside the lock; the
 * --changed-since view is read-only once built; errors are per thread),
 * so readers such as a multi-worker AIDE are served in parallel.
 */
#define MOUNT_THREADS 4

static int run_loop(struct fuse *fuse)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int rc;

	if (!cfg)
		return fuse_loop(fuse);
	fuse_loop_cfg_set_max_threads(cfg, MOUNT_THREADS);
	fuse_loop_cfg_set_idle_threads(cfg, MOUNT_THREADS);
	rc = fuse_loop_mt(fuse, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

static const struct fuse_operations ops = {
	.init = m_init,
	.getattr = m_getattr,
	.readlink = m_readlink,
	.open = m_open,
	.read = m_read,
	.readdir = m_readdir,
	.statfs = m_statfs,
	.access = m_access,
	.getxattr = m_getxattr,
	.listxattr = m_listxattr,
	.mknod = ro_mknod,
	.mkdir = ro_mkdir,
	.unlink = ro_unlink,
	.rmdir = ro_rmdir,
	.symlink = ro_symlink,
	.rename = ro_rename,
	.link = ro_link,
	.chmod = ro_chmod,
	.chown = ro_chown,
	.truncate = ro_truncate,
	.write = ro_write,
	.setxattr = ro_setxattr,
	.removexattr = ro_removexattr,
	.create = ro_create,
	.utimens = ro_utimens,
	.fallocate = ro_fallocate,
	.copy_file_range = ro_copy,
};

static int add_visible(const char *path)
{
	char *p;

	if (chg.n == chg.cap) {
		size_t nc = chg.cap ? chg.cap * 2 : 256;
		char **q = realloc(chg.visible, nc * sizeof(*q));

		if (!q)
			return -1;
		chg.visible = q;
		chg.cap = nc;
	}
	p = strdup(path);
	if (!p)
		return -1;
	chg.visible[chg.n++] = p;
	return 0;
}

static int changed_cb(void *opaque, const char *path, uint64_t ino, int change,
		      unsigned why)
{
	static const char *const words[] = { "same", "changed", "added",
					     "removed" };
	struct json_object *arr = opaque, *e;
	char w[64], p[4096];

	if (change == KVMON_CHANGE_SAME || change < 0 || change > 3)
		return 0;
	e = json_object_new_object();
	json_object_object_add(e, "path", json_object_new_string(path));
	json_object_object_add(e, "ino", json_object_new_uint64(ino));
	json_object_object_add(e, "change", json_object_new_string(words[change]));
	json_object_object_add(e, "why", json_object_new_string(cli_why(why, w, sizeof(w))));
	json_object_array_add(arr, e);
	if (change == KVMON_CHANGE_REMOVED)
		return 0;
	/* The path and every directory leading to it. */
	snprintf(p, sizeof(p), "%s", path);
	for (;;) {
		char *slash;

		if (add_visible(p) < 0)
			return -1;
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			break;
		*slash = 0;
	}
	return 0;
}

/* Compute the changes once (the snapshot never changes while mounted). */
static int changed_view(struct cli *c, struct cli_disk *cd,
			struct kvmon_fsmap *base, const char *file)
{
	struct json_object *o = json_object_new_object(),
			   *arr = json_object_new_array();
	const char *text;
	size_t n = 0;
	int rc;

	cli_progress("comparing with the baseline ...");
	rc = kvmon_fs_changes(cd->fs, cd->d, base, changed_cb, arr);
	cli_progress_done();
	if (rc != 0) {
		json_object_put(arr);
		json_object_put(o);
		if (rc < 0)
			cli_lib_fail(c, "changes");
		else
			cli_fail(c, "out of memory");
		return -1;
	}
	if (chg.n)
		qsort(chg.visible, chg.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < chg.n; i++) {
		if (n && !strcmp(chg.visible[n - 1], chg.visible[i]))
			free(chg.visible[i]);
		else
			chg.visible[n++] = chg.visible[i];
	}
	chg.n = n;
	json_object_object_add(o, "baseline", json_object_new_string(file));
	json_object_object_add(o, "bitmap", json_object_new_string(kvmon_fsmap_bitmap(base)));
	json_object_object_add(o, "changes", arr);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	chg.json = strdup(text ? text : "{}");
	chg.json_len = chg.json ? strlen(chg.json) : 0;
	json_object_put(o);
	chg.on = true;
	return chg.json ? 0 : -1;
}

/*
 * Watchdog: a child that outlives a SIGKILLed `kvmon mount` just long
 * enough to detach the mount (fusermount3 -u -z) and sweep the export
 * out of QEMU. It waits on a pipe: one byte = clean exit, nothing to do;
 * EOF without a byte = the parent died.
 */
static pid_t start_watchdog(const char *dir, struct kvmon_vm *vm, int *wfd)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		char c;
		ssize_t r;

		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		/* Hold nothing of the parent's: not /dev/fuse, not NBD, not
		 * the caller's stdout (a reader would wait for our EOF). */
		dup2(pfd[0], 0);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		close_range(3, ~0u, 0);
		while ((r = read(0, &c, 1)) < 0 && errno == EINTR)
			;
		if (r == 1)
			_exit(0);
		pid = fork();
		if (pid == 0) {
			execlp("fusermount3", "fusermount3", "-u", "-z", "-q", dir,
			       (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
		/* QEMU serves one QMP client at a time: if another holds the
		 * socket, try again for a while (the next export sweeps too). */
		for (int i = 0; vm && i < 20 && kvmon_disk_sweep(vm) < 0; i++)
			sleep(1);
		_exit(0);
	}
	close(pfd[0]);
	*wfd = pfd[1];
	return pid;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		DISK_LONG_OPTS,
		{ "changed-since", required_argument, NULL, OPT_CHANGED_SINCE },
		{ 0 }
	};
	struct cli_disk cd = { 0 };
	struct kvmon_fsmap *base = NULL;
	const char *since_file = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse *fuse = NULL;
	char fsname[128], dir[4096];
	const char *vmname;
	pid_t watchdog = -1;
	int wfd = -1;
	struct cli c;
	int opt, rc;

	cli_init(&c, "kvmon mount");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0 ||
		    (!rc && (rc = cli_disk_opt(&cd, &c, opt, optarg)) < 0))
			return EXIT_ERROR;
		if (rc)
			continue;
		if (opt == OPT_HELP) {
			fputs(mount_usage, stdout);
			return EXIT_OK;
		}
		if (opt == OPT_CHANGED_SINCE) {
			since_file = optarg;
			continue;
		}
		return cli_usage_error(&c, mount_usage);
	}
	if (optind + 1 != argc)
		return cli_usage_error(&c, mount_usage);
	if (!realpath(argv[optind], dir))
		return cli_fail(&c, "%s: %s", argv[optind], strerror(errno));
	if (since_file) {
		if (cd.image || cd.volume)
			return cli_fail(&c, "--changed-since needs a running VM's "
					"disk (no --image, no LVM volume)");
		base = kvmon_fsmap_load(since_file);
		if (!base)
			return cli_lib_fail(&c, since_file);
		cd.since = kvmon_fsmap_bitmap(base);
		cd.node = *kvmon_fsmap_node(base) ? kvmon_fsmap_node(base) : NULL;
	}
	/* Signals wait until the export is up and the handlers are set. */
	if (cli_open_disk(&c, &cd, true, true) < 0) {
		kvmon_fsmap_free(base);
		return EXIT_ERROR;
	}
	mfs = cd.fs;
	rc = EXIT_ERROR;
	if (base && changed_view(&c, &cd, base, since_file) < 0)
		goto out;
	vmname = cd.image ? "image" : (c.qmp ? "qmp" : c.name);
	snprintf(fsname, sizeof(fsname), "-ofsname=kvmon:%s,subtype=kvmon,ro",
		 vmname);
	for (char *p = fsname; *p; p++)
		if (*p == ' ')
			*p = '_';
	if (fuse_opt_add_arg(&args, "kvmon") || fuse_opt_add_arg(&args, fsname) ||
	    fuse_opt_add_arg(&args, "-odefault_permissions")) {
		cli_fail(&c, "out of memory");
		goto out;
	}
	fuse = fuse_new(&args, &ops, sizeof(ops), NULL);
	if (!fuse) {
		cli_fail(&c, "FUSE set-up failed");
		goto out;
	}
	watchdog = start_watchdog(dir, cd.vm, &wfd);
	if (watchdog < 0) {
		cli_fail(&c, "cannot start the mount watchdog: %s", strerror(errno));
		goto out;
	}
	if (fuse_mount(fuse, dir) != 0) {
		cli_fail(&c, "cannot mount at %s (FUSE)", dir);
		goto out;
	}
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
		cli_fail(&c, "cannot set signal handlers");
		fuse_unmount(fuse);
		goto out;
	}
	/* Handlers are in place: deliver what came meanwhile (it ends the
	 * loop at once, cleanly). */
	{
		sigset_t s;

		sigemptyset(&s);
		sigaddset(&s, SIGINT);
		sigaddset(&s, SIGTERM);
		sigaddset(&s, SIGHUP);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
	}
	if (c.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "mounted", json_object_new_string(dir));
		json_object_object_add(o, "vm", json_object_new_string(vmname));
		cli_emit(o);
	} else {
		fprintf(stderr, "kvmon mount: %s mounted read-only at %s\n",
			vmname, dir);
	}
	rc = run_loop(fuse) < 0 ? cli_fail(&c, "FUSE loop failed") : EXIT_OK;
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	fuse_unmount(fuse);
out:
	if (fuse)
		fuse_destroy(fuse);
	if (watchdog > 0) {
		/* Clean exit: tell the watchdog there is nothing to undo. */
		if (write(wfd, "x", 1) != 1)
			kill(watchdog, SIGKILL);
		close(wfd);
		waitpid(watchdog, NULL, 0);
	}
	fuse_opt_free_args(&args);
	if (cli_close_disk(&c, &cd) != EXIT_OK)
		rc = EXIT_ERROR;
	kvmon_fsmap_free(base);
	for (size_t i = 0; i < chg.n; i++)
		free(chg.visible[i]);
	free(chg.visible);
	free(chg.json);
	return rc;
}
