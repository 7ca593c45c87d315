/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cages in hostile or unusual environments, on this host's real cgroups:
 * a read-only cgroupfs (remounted read-only in a private mount namespace
 * of a child), the real cgroup2 hierarchy (which has no cpu/memory
 * controllers on a hybrid host: the missing-controller case), negative and
 * absurd sizes on the command line, and an existing cgroup kvmon did not
 * create (as systemd or libvirt would make) given by its path: measured
 * with shmem excluded, never removed. Everything is made beneath the
 * cgroup this test runs in and removed; the host is checked unchanged.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ull << 20)

static struct kvmon_cgsys *sys;
static char name[32], foreign[1200], tmpf[512], shmf[512];
static pid_t child = -1;

static void cleanup(void)
{
	struct kvmon_cage *c;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	if (sys && (c = kvmon_cage_open(sys, name)))
		if (kvmon_cage_remove(c, KVMON_CAGE_EVICT) < 0)
			kvmon_cage_close(c);
	if (foreign[0]) { /* its one member was killed above */
		char sub[1300];

		snprintf(sub, sizeof(sub), "%s/ids", foreign);
		rmdir(sub);
		rmdir(foreign);
	}
	if (tmpf[0])
		unlink(tmpf);
	if (shmf[0])
		unlink(shmf);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1); /* runs cleanup() */
}

static bool exists(const char *dir, const char *sub)
{
	char p[2400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	return stat(p, &st) == 0;
}

/* Run kvmon with args through sh; exit status, stderr into *err. */
static int kvmon_cli(const char *args, char *err, size_t errlen)
{
	char cmd[2048], ef[600];
	int st;
	FILE *f;

	snprintf(ef, sizeof(ef), "%s.err", tmpf);
	snprintf(cmd, sizeof(cmd), "'%s' %s >/dev/null 2>'%s'", getenv("KVMON"),
		 args, ef);
	st = system(cmd);
	err[0] = '\0';
	if ((f = fopen(ef, "r"))) {
		size_t n = fread(err, 1, errlen - 1, f);

		err[n] = '\0';
		fclose(f);
	}
	unlink(ef);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_bad_sizes(const char *cpudir, const char *memdir)
{
	static const char *const bad[] = {
		"--memory -5M", "--memory 99999999T", "--memory 1X", "--memory ''",
		"--cpu-weight 0", "--cpu-weight 10001", "--cpu-max -3",
		"--memory 64M --memory-high -1",
	};
	char args[256], err[1024];
	int fails = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "cage create %s %s", name, bad[i]);
		if (kvmon_cli(args, err, sizeof(err)) != 2 || !err[0]) {
			diag("'%s': not refused with exit 2 (%s)", bad[i], err);
			fails++;
		}
	}
	snprintf(args, sizeof(args), "kvmon-%s", name);
	ok(fails == 0, "negative, absurd and malformed sizes: exit 2 with a message");
	ok(!exists(cpudir, args) && !exists(memdir, args),
	   "no cage directory left behind by refused sizes");
}

/* Child in a private mount namespace with the memory hierarchy read-only:
 * the cpu directory is made first, the memory one fails (EROFS), and the
 * cpu one must be removed again. */
static void test_readonly(const char *cpudir, const char *memdir)
{
	char sub[64], err[1024], ef[600];
	int st = -1, pfd[2];
	pid_t pid;

	snprintf(sub, sizeof(sub), "kvmon-%s", name);
	snprintf(ef, sizeof(ef), "%s.ro", tmpf);
	if (pipe(pfd) < 0)
		bail("pipe");
	pid = fork();
	if (pid == 0) {
		char line[4096], mnt[1024] = "";
		FILE *mi;
		int fd;

		close(pfd[0]);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(10);
		/* The memory hierarchy's mount point, from our mountinfo. */
		if (!(mi = fopen("/proc/self/mountinfo", "r")))
			_exit(11);
		while (fgets(line, sizeof(line), mi)) {
			char *dash = strstr(line, " - cgroup "), *f[5], *sv = NULL;

			if (!dash || !strstr(dash, "memory"))
				continue;
			f[0] = strtok_r(line, " ", &sv);
			for (int i = 1; i < 5; i++)
				f[i] = strtok_r(NULL, " ", &sv);
			if (f[4])
				snprintf(mnt, sizeof(mnt), "%s", f[4]);
		}
		fclose(mi);
		if (!mnt[0] ||
		    mount(NULL, mnt, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
			_exit(12);
		if ((fd = open(ef, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
			_exit(13);
		dup2(fd, 2);
		dup2(fd, 1);
		if (write(pfd[1], "m", 1) != 1)
			_exit(14);
		execl(getenv("KVMON"), "kvmon", "cage", "create", name, "--memory",
		      "64M", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	{
		char m = 0;

		ok(read(pfd[0], &m, 1) == 1 && m == 'm',
		   "child remounted the memory cgroupfs read-only in its own namespace");
	}
	close(pfd[0]);
	waitpid(pid, &st, 0);
	{
		FILE *f = fopen(ef, "r");
		size_t n = f ? fread(err, 1, sizeof(err) - 1, f) : 0;

		err[n] = '\0';
		if (f)
			fclose(f);
		unlink(ef);
	}
	diag("%s", err);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(err, "Read-only"),
	   "cage create on a read-only cgroupfs: exit 2, EROFS named");
	ok(!exists(cpudir, sub) && !exists(memdir, sub),
	   "nothing half-made: the cpu directory it did create was removed");
}

/* The real cgroup2 mount, alone: no cpu/memory controllers there. */
static void test_real_v2(void)
{
	char line[4096], mi[600], self[600], v2mnt[1024] = "";
	FILE *in, *out;
	struct kvmon_cgsys *v2;
	struct kvmon_cage *c;

	snprintf(mi, sizeof(mi), "%s.mi", tmpf);
	snprintf(self, sizeof(self), "%s.self", tmpf);
	if (!(in = fopen("/proc/self/mountinfo", "r")) || !(out = fopen(mi, "w")))
		bail("mountinfo");
	while (fgets(line, sizeof(line), in))
		if (strstr(line, " - cgroup2 ")) {
			char copy[4096], *sv = NULL, *f = NULL;

			fputs(line, out);
			snprintf(copy, sizeof(copy), "%s", line);
			f = strtok_r(copy, " ", &sv);
			for (int i = 1; i < 5 && f; i++)
				f = strtok_r(NULL, " ", &sv);
			if (f)
				snprintf(v2mnt, sizeof(v2mnt), "%s", f);
		}
	fclose(in);
	fclose(out);
	if (!(out = fopen(self, "w")))
		bail("self");
	fputs("0::/\n", out);
	fclose(out);
	if (!ok(v2mnt[0], "a cgroup2 hierarchy is mounted (%s)", v2mnt)) {
		unlink(mi);
		unlink(self);
		return;
	}
	v2 = kvmon_cgsys_open(mi, self);
	ok(v2 && kvmon_cgsys_mode(v2) == KVMON_CG_V2, "real cgroup2 alone: mode v2");
	if (v2 && !kvmon_cgsys_dir(v2, "memory") && !kvmon_cgsys_dir(v2, "cpu")) {
		c = kvmon_cage_create(v2, name, KVMON_CAGE_EXCL);
		diag("%s", c ? "created?" : kvmon_get_error());
		ok(!c && kvmon_get_errno() == ENOTSUP &&
			   strstr(kvmon_get_error(), "controller"),
		   "no cpu/memory controller there: clear ENOTSUP");
		kvmon_cage_close(c);
	} else {
		/* A host that delegates them: a cage must work there. */
		c = v2 ? kvmon_cage_create(v2, name, KVMON_CAGE_EXCL) : NULL;
		ok(c && kvmon_cage_remove(c, 0) == 0,
		   "controllers delegated on cgroup2: cage created and removed");
	}
	{
		char sub[64];

		snprintf(sub, sizeof(sub), "kvmon-%s", name);
		ok(!exists(v2mnt, sub), "nothing left in the cgroup2 hierarchy");
	}
	kvmon_cgsys_close(v2);
	unlink(mi);
	unlink(self);
}

/* A cgroup kvmon did not make, holding a process with 8 MiB anon, 6 MiB
 * of page cache and 8 MiB of shmem (like guest RAM on /dev/shm). */
static void test_foreign(const char *memdir)
{
	struct kvmon_cage *c;
	struct kvmon_cage_stats st;
	char val[32], procs[1300], rel[600], line[512];
	int go[2];
	FILE *f;

	snprintf(foreign, sizeof(foreign), "%s/t%d-vm.scope", memdir, (int)getpid());
	snprintf(shmf, sizeof(shmf), "/dev/shm/kvmon-t%d-shm", (int)getpid());
	if (mkdir(foreign, 0755) < 0 || pipe(go) < 0)
		bail("mkdir %s: %s", foreign, strerror(errno));
	child = fork();
	if (child == 0) {
		char b, *m, *s;
		int fd;

		if (read(go[0], &b, 1) != 1)
			_exit(1);
		m = malloc(8 * MIB);
		for (size_t i = 0; m && i < 8 * MIB; i += 4096)
			m[i] = 1;
		fd = open(tmpf, O_RDWR | O_CREAT | O_TRUNC, 0600);
		for (int i = 0; fd >= 0 && i < 6; i++)
			if (write(fd, m, MIB) != (ssize_t)MIB)
				_exit(2);
		/* Keep the page cache mapped: other jobs on the host may drop
		 * caches, which spares only mapped pages. */
		s = fd < 0 ? MAP_FAILED
			   : mmap(NULL, 6 * MIB, PROT_READ, MAP_SHARED, fd, 0);
		for (size_t i = 0; s != MAP_FAILED && i < 6 * MIB; i += 4096)
			b += ((volatile char *)s)[i];
		if (s == MAP_FAILED)
			_exit(5);
		fd = open(shmf, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, 8 * MIB) < 0)
			_exit(3);
		s = mmap(NULL, 8 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		for (size_t i = 0; s != MAP_FAILED && i < 8 * MIB; i += 4096)
			s[i] = 1;
		for (;;)
			pause();
	}
	/* The process sits in a child cgroup, as libvirt's emulator/vcpu
	 * children do: the scope's figures must include it (v1 total_*). */
	snprintf(procs, sizeof(procs), "%s/ids", foreign);
	if (mkdir(procs, 0755) < 0)
		bail("mkdir %s: %s", procs, strerror(errno));
	snprintf(procs, sizeof(procs), "%s/ids/cgroup.procs", foreign);
	snprintf(val, sizeof(val), "%d", (int)child);
	f = fopen(procs, "w");
	ok(f && fputs(val, f) >= 0 && fclose(f) == 0 && write(go[1], "g", 1) == 1,
	   "process moved into a child of the foreign cgroup");
	close(go[0]);
	close(go[1]);
	sleep(2);
	c = kvmon_cage_open_cgroup(sys, foreign);
	ok(c && !strcmp(kvmon_cage_dir(c, "memory"), foreign),
	   "--ids as a directory path: that cgroup");
	if (c && kvmon_cage_stats(c, &st) == 0) {
		diag("anon %llu file %llu shmem %llu", (unsigned long long)st.mem_anon,
		     (unsigned long long)st.mem_file, (unsigned long long)st.mem_shmem);
		ok(st.mem_anon >= 8 * MIB && st.mem_anon < 14 * MIB,
		   "anon: the 8 MiB malloc in the child cgroup, not the shmem");
		ok(st.mem_file >= 5 * MIB && st.mem_file < 12 * MIB,
		   "file: the 6 MiB written, shmem excluded");
		ok(st.mem_shmem >= 8 * MIB, "shmem reported apart (%llu)",
		   (unsigned long long)st.mem_shmem);
	} else {
		ok(0, "stats of the foreign cgroup: %s", kvmon_get_error());
	}
	ok(c && kvmon_cage_remove(c, KVMON_CAGE_EVICT) < 0 &&
		   kvmon_get_errno() == EPERM && exists(foreign, "cgroup.procs"),
	   "never removed by kvmon (EPERM), its member untouched");
	kvmon_cage_close(c);
	/* The same as a path inside the hierarchy. */
	rel[0] = '\0';
	if ((f = fopen("/proc/self/cgroup", "r"))) {
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, ":memory:");

			if (p) {
				p[strcspn(p, "\n")] = '\0';
				snprintf(rel, sizeof(rel), "%s/t%d-vm.scope",
					 strcmp(p + 8, "/") ? p + 8 : "", (int)getpid());
			}
		}
		fclose(f);
	}
	c = rel[0] ? kvmon_cage_open_cgroup(sys, rel) : NULL;
	ok(c && !strcmp(kvmon_cage_dir(c, "memory"), foreign),
	   "--ids as a hierarchy path (%s): same cgroup", rel);
	kvmon_cage_close(c);
	ok(!kvmon_cage_open_cgroup(sys, "/nonexistent-kvmon-test.scope") &&
		   kvmon_get_errno() == ENOENT,
	   "missing cgroup: ENOENT");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	unlink(shmf);
	unlink(tmpf);
	snprintf(procs, sizeof(procs), "%s/ids", foreign);
	ok(rmdir(procs) == 0 && rmdir(foreign) == 0,
	   "foreign cgroup removed by the test that made it");
	foreign[0] = '\0';
}

/* --parent as a directory under a mount names one cgroup path for every
 * hierarchy; where that path is missing in one (here our memory cgroup's
 * path does not exist in the cpu hierarchy) it is a clear error. */
static void test_parent_path(const char *cpudir, const char *memdir)
{
	char args[1400], err[1024], sub[64];
	int rc;

	snprintf(sub, sizeof(sub), "kvmon-%s", name);
	if (!strcmp(cpudir, memdir) || strstr(cpudir, "/cpu") == NULL) {
		ok(1, "cpu and memory share the cgroup path: nothing to mismatch");
		return;
	}
	snprintf(args, sizeof(args), "cage create %s --parent '%s'", name, memdir);
	rc = kvmon_cli(args, err, sizeof(err));
	diag("%s", err);
	ok(rc == 2 && strstr(err, "does not exist") && !exists(memdir, sub) &&
		   !exists(cpudir, sub),
	   "--parent DIR missing in another hierarchy: exit 2, nothing created");
}

int main(void)
{
	const char *root = getenv("KVMON_TEST_ROOT");
	char cpudir[1024], memdir[1024];

	snprintf(name, sizeof(name), "t%d-env", (int)getpid());
	mkdir(root ? root : "/var/tmp", 0700);
	snprintf(tmpf, sizeof(tmpf), "%s/cage-env-%d", root ? root : "/var/tmp",
		 (int)getpid());
	atexit(cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (!getenv("KVMON"))
		bail("KVMON (the CLI) not set");
	sys = kvmon_cgsys_open(NULL, NULL);
	if (!sys || !kvmon_cgsys_dir(sys, "memory") || !kvmon_cgsys_dir(sys, "cpu")) {
		printf("1..0 # SKIP needs cgroups with cpu and memory: %s\n",
		       sys ? "controller missing" : kvmon_get_error());
		return 77;
	}
	snprintf(cpudir, sizeof(cpudir), "%s", kvmon_cgsys_dir(sys, "cpu"));
	snprintf(memdir, sizeof(memdir), "%s", kvmon_cgsys_dir(sys, "memory"));
	diag("mode %s, cpu %s, memory %s",
	     kvmon_cgsys_mode_name(kvmon_cgsys_mode(sys)), cpudir, memdir);
	test_bad_sizes(cpudir, memdir);
	if (kvmon_cgsys_mode(sys) != KVMON_CG_V2 && strcmp(cpudir, memdir))
		test_readonly(cpudir, memdir);
	else
		ok(0, "read-only test needs cpu and memory in separate hierarchies");
	test_real_v2();
	test_foreign(memdir);
	test_parent_path(cpudir, memdir);
	cleanup();
	return tap_done();
}
