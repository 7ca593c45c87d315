// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Disk of the real bundled guest, from outside: a file the guest writes
 * (then syncs) is read through the fleecing export with the same SHA-256;
 * the export is point-in-time; everything the export created in QEMU and
 * on the host is gone afterwards, also after its owner was SIGKILLed;
 * the image at rest is read through qemu-nbd; `kvmon mount` shows the
 * guest's files to ordinary tools and refuses every write with EROFS.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static char mnt[4096];
static pid_t mount_pid = -1;

static void hex(const unsigned char *d, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void sha256(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned n = 0;

	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	hex(md, 32, out);
}

/* Whole file through the library. */
static char *fs_slurp(struct kvmon_fs *fs, const char *path, size_t *len)
{
	struct kvmon_fs_stat st;
	uint64_t ino;
	char *buf;
	ssize_t n;

	if (kvmon_fs_lookup(fs, path, &ino) < 0 || kvmon_fs_stat(fs, ino, &st) < 0)
		return NULL;
	buf = malloc(st.size + 1);
	if (!buf)
		return NULL;
	n = kvmon_fs_pread(fs, ino, buf, st.size, 0);
	if (n < 0 || (uint64_t)n != st.size) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

static int fs_sha(struct kvmon_fs *fs, const char *path, char out[65])
{
	size_t len = 0;
	char *b = fs_slurp(fs, path, &len);

	if (!b)
		return -1;
	sha256(b, len, out);
	free(b);
	return 0;
}

/* Does QEMU still list anything named kvmon-fleece-*? */
static int fleece_leftovers(struct kvmon_vm *vm, pid_t only)
{
	static const char *q[] = { "query-block-exports", "query-block-jobs",
				   "query-named-block-nodes" };
	char tag[64];
	int n = 0;

	snprintf(tag, sizeof(tag), only ? "kvmon-fleece-%d-" : "kvmon-fleece-",
		 (int)only);
	for (size_t i = 0; i < 3; i++) {
		char *r = NULL;

		if (kvmon_qmp_execute(kvmon_vm_qmp(vm), q[i], NULL, &r) < 0)
			return -1;
		if (strstr(r, tag))
			n++;
		kvmon_free(r);
	}
	kvmon_vm_disconnect(vm);
	return n;
}

static void stop_mount(void)
{
	int st;

	if (mount_pid > 0) {
		kill(mount_pid, SIGTERM);
		waitpid(mount_pid, &st, 0);
		mount_pid = -1;
	}
	if (*mnt && tguest_mounted(mnt)) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "fusermount3 -u -z '%s'", mnt);
		if (system(cmd) != 0)
			fprintf(stderr, "# fusermount3 failed\n");
	}
	if (*mnt)
		rmdir(mnt);
}

static int file_sha(const char *path, char out[65])
{
	char buf[65536];
	unsigned char md[32];
	unsigned n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0 || !ctx)
		return -1;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)r);
	EVP_DigestFinal_ex(ctx, md, &n);
	EVP_MD_CTX_free(ctx);
	close(fd);
	if (r < 0)
		return -1;
	hex(md, 32, out);
	return 0;
}

/* Start `kvmon mount` of the VM at mnt; true once it is mounted. */
static bool start_mount(struct kvmon_vm *vm)
{
	const char *kvmon = getenv("KVMON");

	if (!kvmon)
		return false;
	snprintf(mnt, sizeof(mnt), "%s/mnt-%d", tguest_root(), (int)getpid());
	mkdir(mnt, 0700);
	mount_pid = fork();
	if (mount_pid == 0) {
		setenv("TMPDIR", tguest_root(), 1);
		execl(kvmon, kvmon, "mount", "--qmp", kvmon_vm_path(vm, "qmp"),
		      mnt, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 600 && !tguest_mounted(mnt); i++)
		usleep(100000);
	return tguest_mounted(mnt);
}

static int run_out(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 20, len = 0;
	char *buf = calloc(1, cap + 1);
	int st;

	if (!p || !buf) {
		free(buf);
		return -1;
	}
	while (len < cap) {
		size_t n = fread(buf + len, 1, cap - len, p);

		if (n == 0)
			break;
		len += n;
	}
	st = pclose(p);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Debian's unmodified AIDE on the mount: init, guest changes, check. */
static void test_aide(struct kvmon_vm *vm, struct tctl *c)
{
	char conf[4200], db[4200], cmd[16384], *out = NULL;
	FILE *f;
	int rc;

	if (system("command -v aide >/dev/null 2>&1") != 0) {
		ok(0, "aide installed (scripts/install-deps.sh)");
		return;
	}
	snprintf(conf, sizeof(conf), "%s/aide-%d.conf", tguest_root(), (int)getpid());
	snprintf(db, sizeof(db), "%s/aide-%d.db", tguest_root(), (int)getpid());
	if (!ok(start_mount(vm), "mounted for AIDE"))
		return;
	f = fopen(conf, "w");
	if (f) {
		fprintf(f, "database_in=file:%s\ndatabase_out=file:%s.new\n"
			"gzip_dbout=no\nreport_url=stdout\n"
			"R = p+i+n+u+g+s+m+c+sha256\n%s/etc R\n%s/root R\n",
			db, db, mnt, mnt);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "aide -c '%s' --init >/dev/null 2>&1 && "
		 "mv '%s.new' '%s'", conf, db, db);
	ok(system(cmd) == 0, "aide --init on the mount");
	snprintf(cmd, sizeof(cmd), "aide -c '%s' --check 2>&1", conf);
	rc = run_out(cmd, &out);
	ok(rc == 0, "aide --check on an unchanged guest: no findings (rc=%d)", rc);
	free(out);
	out = NULL;
	stop_mount();
	rc = tctl_run(c, "echo tampered >> /etc/hostname && touch /root/aide-new && "
		      "rm -f /root/disk-test.bin && sync", &out, 60000);
	free(out);
	out = NULL;
	ok(rc == 0, "guest: one file changed, one added, one removed");
	if (!ok(start_mount(vm), "mounted again (new point in time)"))
		return;
	rc = run_out(cmd, &out);
	ok(rc == 7, "aide --check: added + removed + changed (exit %d = 1|2|4)", rc);
	ok(out && strstr(out, "/root/aide-new") && strstr(out, "/etc/hostname") &&
	   strstr(out, "/root/disk-test.bin"), "aide names the three files");
	free(out);
	out = NULL;
	snprintf(cmd, sizeof(cmd), "find '%s' -xdev | wc -l", mnt);
	if (run_out(cmd, &out) == 0)
		ok(out && atoi(out) > 3000, "find walks the whole guest tree (%d entries)",
		   out ? atoi(out) : 0);
	free(out);
	stop_mount();
	*mnt = 0;
	unlink(conf);
	unlink(db);
}

static void test_mount(struct kvmon_vm *vm, const char *guest_sha)
{
	const char *kvmon = getenv("KVMON");
	char path[4200], sha[65], p2[4200];
	struct stat st;
	int fd;

	if (!kvmon) {
		ok(0, "KVMON (path of the CLI) is set");
		return;
	}
	if (!ok(start_mount(vm), "kvmon mount: guest file system mounted at %s", mnt))
		return;
	snprintf(path, sizeof(path), "%s/root/disk-test.bin", mnt);
	ok(file_sha(path, sha) == 0 && !strcmp(sha, guest_sha),
	   "sha256 through the mount equals the guest's");
	snprintf(path, sizeof(path), "%s/etc/passwd", mnt);
	ok(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0,
	   "stat through the mount");
	errno = 0;
	fd = open(path, O_WRONLY);
	ok(fd < 0 && errno == EROFS, "open for writing: EROFS (%s)", strerror(errno));
	if (fd >= 0)
		close(fd);
	errno = 0;
	fd = open(path, O_RDWR | O_TRUNC);
	ok(fd < 0 && errno == EROFS, "open O_RDWR|O_TRUNC: EROFS");
	if (fd >= 0)
		close(fd);
	snprintf(p2, sizeof(p2), "%s/root/new-file", mnt);
	errno = 0;
	fd = open(p2, O_WRONLY | O_CREAT, 0600);
	ok(fd < 0 && errno == EROFS, "create: EROFS (%s)", strerror(errno));
	if (fd >= 0)
		close(fd);
	errno = 0;
	ok(unlink(path) < 0 && errno == EROFS, "unlink: EROFS");
	errno = 0;
	ok(rename(path, p2) < 0 && errno == EROFS, "rename: EROFS");
	errno = 0;
	ok(chmod(path, 0777) < 0 && errno == EROFS, "chmod: EROFS");
	errno = 0;
	ok(chown(path, 1, 1) < 0 && errno == EROFS, "chown: EROFS");
	errno = 0;
	ok(truncate(path, 0) < 0 && errno == EROFS, "truncate: EROFS");
	errno = 0;
	ok(mkdir(p2, 0700) < 0 && errno == EROFS, "mkdir: EROFS");
	errno = 0;
	ok(setxattr(path, "user.x", "1", 1, 0) < 0 && errno == EROFS,
	   "setxattr: EROFS (%s)", strerror(errno));
	errno = 0;
	ok(symlink("x", p2) < 0 && errno == EROFS, "symlink: EROFS");
	ok(stat(path, &st) == 0 && st.st_size > 0 && (st.st_mode & 0777) != 0777,
	   "file unchanged after the write attempts");
	kill(mount_pid, SIGTERM);
	{
		int status = 0;

		ok(waitpid(mount_pid, &status, 0) == mount_pid && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0, "kvmon mount exits 0 on SIGTERM");
		mount_pid = -1;
	}
	ok(!tguest_mounted(mnt), "mount removed when the command ends");
	stop_mount();
	*mnt = 0;
}

int main(void)
{
	struct kvmon_vm *vm;
	struct kvmon_disk *d;
	struct kvmon_fs *fs;
	struct kvmon_partition parts[8];
	struct tctl *c;
	char *out = NULL, guest_sha[65] = "", sha[65], work[4096], img[4096];
	size_t n = 9, len;
	int rc;

	tguest_require();
	vm = tguest_start("disk");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	atexit(stop_mount);
	c = tctl_open(vm);
	if (!c)
		bail("no control channel");
	rc = tctl_run(c, "head -c 300000 /dev/urandom > /root/disk-test.bin && "
		      "sync && sha256sum /root/disk-test.bin", &out, 60000);
	ok(rc == 0 && out && strlen(out) >= 64, "guest wrote a 300 kB file and synced");
	if (out && strlen(out) >= 64) {
		memcpy(guest_sha, out, 64);
		guest_sha[64] = 0;
	}
	free(out);

	snprintf(work, sizeof(work), "%s/fleece-%d", tguest_root(), (int)getpid());
	mkdir(work, 0700);
	d = kvmon_disk_open_vm(vm, NULL, work);
	ok(d != NULL, "fleecing export of the running VM (%s)",
	   d ? "ok" : kvmon_get_error());
	if (!d)
		bail("no export");
	ok(kvmon_disk_size(d) == 256ull << 20, "export size is the disk size");
	ok(kvmon_disk_partitions(d, parts, 8, &n) == 0 && n == 0,
	   "bare file system: no partition table");
	fs = kvmon_fs_open_part(d, 0);
	ok(fs != NULL, "ext4 opened over NBD (%s)", fs ? "ok" : kvmon_get_error());
	if (!fs)
		bail("no fs");
	ok(fs_sha(fs, "/root/disk-test.bin", sha) == 0 && !strcmp(sha, guest_sha),
	   "file read from outside has the guest's sha256");
	/* Point in time: the guest changes the file, the export does not. */
	rc = tctl_run(c, "echo changed > /root/disk-test.bin && sync", &out, 60000);
	free(out);
	ok(rc == 0, "guest overwrote the file");
	kvmon_fs_close(fs);
	fs = kvmon_fs_open_part(d, 0);
	ok(fs && fs_sha(fs, "/root/disk-test.bin", sha) == 0 &&
	   !strcmp(sha, guest_sha), "the export still shows the old content");
	{
		uint64_t ino;

		errno = 0;
		ok(fs && kvmon_fs_lookup(fs, "/no/such/file", &ino) < 0 &&
		   kvmon_get_errno() == ENOENT, "missing path: ENOENT");
	}
	kvmon_fs_close(fs);
	ok(kvmon_disk_close(d) == 0, "export closed (%s)", kvmon_get_error());
	ok(fleece_leftovers(vm, 0) == 0, "QEMU lists no export, job or node of ours");
	ok(rmdir(work) == 0, "work directory empty (socket, overlay removed)");

	/* A new export shows the new content. */
	mkdir(work, 0700);
	d = kvmon_disk_open_vm(vm, NULL, work);
	fs = d ? kvmon_fs_open_part(d, 0) : NULL;
	{
		size_t l2 = 0;
		char *b = fs ? fs_slurp(fs, "/root/disk-test.bin", &l2) : NULL;

		ok(b && l2 == 8 && !memcmp(b, "changed\n", 8),
		   "a new export shows the guest's new content");
		free(b);
	}
	kvmon_fs_close(fs);
	kvmon_disk_close(d);

	/* Owner killed: the next export sweeps what it left in QEMU. */
	{
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			struct kvmon_vm *v2 = kvmon_vm_attach(kvmon_vm_path(vm, "qmp"));
			struct kvmon_disk *d2 = v2 ? kvmon_disk_open_vm(v2, NULL, work) : NULL;

			_exit(d2 ? 0 : 1); /* no close: as if killed */
		}
		waitpid(pid, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "a child made an export and died without closing it");
		ok(fleece_leftovers(vm, pid) > 0, "its export is still in QEMU");
		d = kvmon_disk_open_vm(vm, NULL, work);
		ok(d != NULL, "a new export works despite the stale one (%s)",
		   d ? "ok" : kvmon_get_error());
		kvmon_disk_close(d);
		ok(fleece_leftovers(vm, pid) == 0, "the stale export was swept");
		ok(rmdir(work) == 0, "its overlay and socket files were removed");
	}

	/* Image at rest through a qemu-nbd child. */
	snprintf(img, sizeof(img), "%s/rootfs.qcow2", getenv("KVMON_GUEST_DIR"));
	d = kvmon_disk_open_image(img, NULL);
	ok(d != NULL, "image at rest served by qemu-nbd (%s)",
	   d ? "ok" : kvmon_get_error());
	fs = d ? kvmon_fs_open_part(d, 0) : NULL;
	out = fs ? fs_slurp(fs, "/etc/passwd", &len) : NULL;
	ok(out && strstr(out, "root:"), "/etc/passwd read from the image");
	free(out);
	kvmon_fs_close(fs);
	kvmon_disk_close(d);

	rc = tctl_run(c, "sha256sum /root/disk-test.bin", &out, 60000);
	if (rc == 0 && out && strlen(out) >= 64) {
		memcpy(guest_sha, out, 64);
		guest_sha[64] = 0;
	}
	free(out);
	/* The CLI reads the same; an early-closed pipe leaves nothing behind. */
	{
		char cmd[8192], *o = NULL, q[4200];
		int r;

		snprintf(q, sizeof(q), "TMPDIR='%s' '%s' disk --qmp '%s'", tguest_root(),
			 getenv("KVMON"), kvmon_vm_path(vm, "qmp"));
		snprintf(cmd, sizeof(cmd), "%s cat /root/disk-test.bin | sha256sum", q);
		r = run_out(cmd, &o);
		ok(r == 0 && o && !strncmp(o, guest_sha, 64),
		   "kvmon disk cat: the guest's sha256");
		free(o);
		o = NULL;
		snprintf(cmd, sizeof(cmd), "%s ls --json /etc", q);
		r = run_out(cmd, &o);
		ok(r == 0 && o && strstr(o, "\"entries\"") && strstr(o, "\"passwd\""),
		   "kvmon disk ls --json /etc lists passwd");
		free(o);
		o = NULL;
		snprintf(cmd, sizeof(cmd), "%s parts --json", q);
		r = run_out(cmd, &o);
		ok(r == 0 && o && strstr(o, "\"partitions\":[]"),
		   "kvmon disk parts --json: bare file system");
		free(o);
		o = NULL;
		snprintf(cmd, sizeof(cmd), "%s stat /no/such 2>/dev/null", q);
		r = run_out(cmd, &o);
		ok(r == 1, "kvmon disk stat of a missing path exits 1 (%d)", r);
		free(o);
		o = NULL;
		snprintf(cmd, sizeof(cmd), "%s cat /bin/busybox 2>/dev/null | head -c 10 | wc -c", q);
		r = run_out(cmd, &o);
		ok(r == 0 && o && atoi(o) == 10, "kvmon disk cat of a 2 MB file into a pipe closed after 10 bytes");
		free(o);
		ok(fleece_leftovers(vm, 0) == 0, "no export left after the CLI runs");
	}
	test_mount(vm, guest_sha);
	ok(fleece_leftovers(vm, 0) == 0, "nothing left in QEMU after the mount");
	test_aide(vm, c);
	ok(fleece_leftovers(vm, 0) == 0, "nothing left in QEMU after AIDE");

	/* SIGKILL: no handler runs, the watchdog must clean up. */
	if (ok(start_mount(vm), "mounted, to be killed")) {
		int i, status, left = -1;

		kill(mount_pid, SIGKILL);
		waitpid(mount_pid, &status, 0);
		mount_pid = -1;
		for (i = 0; i < 100 && tguest_mounted(mnt); i++)
			usleep(100000);
		ok(!tguest_mounted(mnt), "SIGKILLed kvmon mount: mount detached by its watchdog");
		/* Every poll is a QMP client, and QEMU serves one at a time:
		 * poll slowly so the watchdog's sweep gets the socket; allow
		 * 30 s on a loaded machine. */
		for (i = 0; i < 60 && (left = fleece_leftovers(vm, 0)) != 0; i++)
			usleep(500000);
		ok(left == 0, "... and its export swept out of QEMU");
		stop_mount();
		*mnt = 0;
	}

	tctl_close(c);
	ok(tguest_stop(vm) == 0, "guest stopped");
	return tap_done();
}
