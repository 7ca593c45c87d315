/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cages on this host's real cgroups. Everything is created beneath the
 * cgroup this test runs in, only processes this test forks are moved, and
 * every cage is removed (also on failure, from atexit).
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ll << 20)

static struct kvmon_cgsys *sys;
static char name[32], file[256];
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
	if (file[0])
		unlink(file);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1); /* runs cleanup() */
}

static bool in_cage(pid_t pid, const char *cage_dir_name)
{
	char path[64], buf[4096];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, cage_dir_name) != NULL;
}

/* Child: allocate and touch anon MiB, then write and read back file MiB
 * (page cache charged to the cage), then wait to be killed. */
static pid_t spawn(int pipe_go, int pipe_done, long anon_mib, long file_mib)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	{
		char go, *a, buf[65536];
		int fd;

		if (read(pipe_go, &go, 1) != 1)
			_exit(1);
		a = malloc((size_t)anon_mib * MIB);
		/* volatile: a compiler may drop a memset of memory never read */
		for (long i = 0; a && i < anon_mib * MIB; i += 4096)
			((volatile char *)a)[i] = 0x5a;
		fd = open(file, O_CREAT | O_TRUNC | O_RDWR, 0600);
		memset(buf, 'x', sizeof(buf));
		for (long i = 0; fd >= 0 && i < file_mib * 16; i++)
			if (write(fd, buf, sizeof(buf)) < 0)
				break;
		if (fd >= 0) {
			lseek(fd, 0, SEEK_SET);
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
		}
		if (write(pipe_done, "d", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
}

int main(void)
{
	struct kvmon_cage *c;
	struct kvmon_cage_stats st;
	struct kvmon_proc_stats ps;
	int go[2], done[2];
	char d, dirname[48], path[512];
	pid_t *pids = NULL;
	size_t n = 0;
	int rc;

	snprintf(name, sizeof(name), "t%d", (int)getpid());
	snprintf(dirname, sizeof(dirname), "kvmon-%s", name);
	/* Under the test root: the leak check proves it was removed. */
	snprintf(file, sizeof(file), "%s/cagefile-%d",
		 getenv("KVMON_TEST_ROOT") ? getenv("KVMON_TEST_ROOT") : "/var/tmp",
		 (int)getpid());
	mkdir(getenv("KVMON_TEST_ROOT") ? getenv("KVMON_TEST_ROOT") : "/var/tmp", 0700);
	atexit(cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	sys = kvmon_cgsys_open(NULL, NULL);
	if (!sys) {
		printf("1..0 # SKIP no cgroups: %s\n", kvmon_get_error());
		return 77;
	}
	diag("cgroup mode %s; cpu under %s; memory under %s",
	     kvmon_cgsys_mode_name(kvmon_cgsys_mode(sys)),
	     kvmon_cgsys_dir(sys, "cpu") ? kvmon_cgsys_dir(sys, "cpu") : "-",
	     kvmon_cgsys_dir(sys, "memory") ? kvmon_cgsys_dir(sys, "memory") : "-");
	ok(kvmon_cgsys_mode(sys) != KVMON_CG_NONE, "cgroup layout detected");
	if (!kvmon_cgsys_dir(sys, "memory") || !kvmon_cgsys_dir(sys, "cpu")) {
		printf("1..0 # SKIP cpu or memory controller missing\n");
		return 77;
	}
	c = kvmon_cage_create(sys, name, KVMON_CAGE_EXCL);
	if (!c)
		bail("create cage: %s", kvmon_get_error());
	snprintf(path, sizeof(path), "%s/%s", kvmon_cgsys_dir(sys, "memory"), dirname);
	ok(!strcmp(kvmon_cage_dir(c, "memory"), path) && access(path, F_OK) == 0,
	   "cage directory beneath our own memory cgroup");
	ok(kvmon_cage_set_cpu_weight(c, 40) == 0, "cpu weight 40");
	ok(kvmon_cage_set_cpu_max(c, 50000, 100000) == 0, "cpu cap 50%%");
	ok(kvmon_cage_set_memory(c, 48 * MIB, KVMON_CAGE_KEEP) == 0,
	   "memory limit 48 MiB");
	ok(kvmon_cage_set_memory(c, -7, KVMON_CAGE_KEEP) < 0 &&
		   kvmon_get_errno() == ERANGE,
	   "negative limit refused");
	ok(kvmon_cage_add_pid(c, 999999999) < 0 && kvmon_get_errno() == ESRCH,
	   "absent pid refused");

	if (pipe(go) < 0 || pipe(done) < 0)
		bail("pipe");
	child = spawn(go[0], done[1], 8, 96);
	if (child < 0)
		bail("fork");
	ok(kvmon_cage_add_pid(c, child) == 0, "our child moved into the cage");
	ok(in_cage(child, dirname) && !in_cage(getpid(), dirname),
	   "/proc/CHILD/cgroup names the cage, ours does not");
	ok(kvmon_cage_pids(c, &pids, &n) == 0 && n == 1 && pids[0] == child,
	   "member list is exactly the child");
	free(pids);
	if (write(go[1], "g", 1) != 1 || read(done[0], &d, 1) != 1)
		bail("child did not run");
	ok(kvmon_cage_stats(c, &st) == 0, "stats read");
	diag("cpu %llu ns, current %llu, anon %llu, file %llu, shmem %llu, max %lld",
	     (unsigned long long)st.cpu_ns, (unsigned long long)st.mem_current,
	     (unsigned long long)st.mem_anon, (unsigned long long)st.mem_file,
	     (unsigned long long)st.mem_shmem, (long long)st.mem_max);
	ok(st.cpu_ns > 0, "CPU time charged to the cage");
	ok(st.mem_anon >= 8 * MIB, "8 MiB anon charged");
	ok(st.mem_file > 4 * MIB, "page cache of its file charged to the cage");
	ok(st.mem_max == 48 * MIB, "limit reported");
	ok(st.mem_current <= 48 * MIB,
	   "96 MiB file read through a 48 MiB cage: usage stays under the cap");
	{
		char *t = NULL, mpath[600];
		FILE *f;
		unsigned long long peak = 0;

		snprintf(mpath, sizeof(mpath), "%s/memory.max_usage_in_bytes",
			 kvmon_cage_dir(c, "memory"));
		f = fopen(mpath, "r");
		if (f) {
			if (fscanf(f, "%llu", &peak) != 1)
				peak = 0;
			fclose(f);
			ok(peak > 0 && peak <= 48 * MIB, "v1 peak usage %llu <= cap", peak);
		}
		free(t);
	}
	memset(&ps, 0, sizeof(ps));
	rc = kvmon_proc_stats(child, &ps);
	ok(rc == 0 && ps.rss_anon >= 8 * MIB && ps.cpu_ns > 0,
	   "per-member stats: anon %llu, cpu %llu ns",
	   (unsigned long long)ps.rss_anon, (unsigned long long)ps.cpu_ns);
	ok(kvmon_cage_remove(c, 0) < 0 && kvmon_get_errno() == EBUSY &&
		   access(path, F_OK) == 0,
	   "remove refused while the child is in it");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	ok(kvmon_cage_remove(c, 0) == 0 && access(path, F_OK) != 0,
	   "cage removed after the child exited");

	/* Evict: a live member goes back to the parent, then removal. */
	c = kvmon_cage_create(sys, name, KVMON_CAGE_EXCL);
	child = spawn(go[0], done[1], 1, 0);
	ok(c && kvmon_cage_add_pid(c, child) == 0 &&
		   kvmon_cage_remove(c, KVMON_CAGE_EVICT) == 0 &&
		   !in_cage(child, dirname),
	   "remove with evict moves the member out first");
	kvmon_cgsys_close(sys);
	sys = NULL;
	return tap_done();
}
