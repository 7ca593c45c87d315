/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cages on a fake cgroupfs: a real temporary directory laid out like a
 * cgroup v1, v2 or hybrid host, with mountinfo and /proc/self/cgroup files
 * pointing into it. Checks detection, what is written in each dialect,
 * stats parsing and that bad input leaves every file as it was.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "cage/cage_internal.h"
#include "../tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/kvmon-unit-cg-XXXXXX";

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		bail("fopen %s", path);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *dir, const char *file)
{
	char *t = kvmon_cg_read(dir, file);
	size_t n = t ? strlen(t) : 0;

	while (n && t[n - 1] == '\n')
		t[--n] = '\0';
	return t;
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void mk(const char *sub)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, sub);
	if (kvmon_mkdirs(p, 0755) < 0)
		bail("mkdirs %s", p);
}

static bool file_is(const char *dir, const char *file, const char *want)
{
	char *t = get(dir, file);
	bool r = t && !strcmp(t, want);

	if (!r)
		diag("%s/%s is '%s', want '%s'", dir, file, t ? t : "(none)", want);
	free(t);
	return r;
}

/* An existing cgroup (systemd/libvirt's machine.slice scope) given as a
 * hierarchy path or a directory under a mount, and --parent likewise. */
static void test_foreign(struct kvmon_cgsys *sys)
{
	struct kvmon_cage *c;
	struct kvmon_cage_stats st;
	char d[512], p[600];

	mk("hy/mem ory/machine.slice/vm1.scope");
	snprintf(d, sizeof(d), "%s/hy/mem ory/machine.slice/vm1.scope", root);
	snprintf(p, sizeof(p), "%s/memory.stat", d);
	put(p, "total_cache 5242880\ntotal_rss 2097152\ntotal_shmem 1048576\n");
	snprintf(p, sizeof(p), "%s/memory.usage_in_bytes", d);
	put(p, "8388608\n");
	snprintf(p, sizeof(p), "%s/memory.limit_in_bytes", d);
	put(p, "9223372036854771712\n");
	c = kvmon_cage_open_cgroup(sys, "/machine.slice/vm1.scope");
	ok(c && !strcmp(kvmon_cage_dir(c, "memory"), d) && !kvmon_cage_dir(c, "cpu") &&
		   kvmon_cage_stats(c, &st) == 0 && st.mem_anon == 2097152 &&
		   st.mem_file == 4194304 && st.mem_max == -1,
	   "existing cgroup by hierarchy path: memory only where it exists, stats");
	ok(c && kvmon_cage_remove(c, 0) < 0 && kvmon_get_errno() == EPERM && is_dir(d),
	   "a cgroup kvmon did not create is never removed (EPERM)");
	kvmon_cage_close(c);
	c = kvmon_cage_open_cgroup(sys, d);
	ok(c && !strcmp(kvmon_cage_dir(c, "memory"), d),
	   "same cgroup by its directory under the mount");
	kvmon_cage_close(c);
	ok(!kvmon_cage_open_cgroup(sys, "/machine.slice/nope.scope") &&
		   kvmon_get_errno() == ENOENT &&
		   !kvmon_cage_open_cgroup(sys, "/machine.slice/../x") &&
		   kvmon_get_errno() == EINVAL &&
		   !kvmon_cage_open_cgroup(sys, "machine.slice") &&
		   kvmon_get_errno() == EINVAL,
	   "missing cgroup ENOENT; relative or .. paths EINVAL");
	snprintf(p, sizeof(p), "%s/hy/mem ory/machine.slice", root);
	mk("hy/cpu,cpuacct/machine.slice");
	ok(kvmon_cgsys_set_parent(sys, p) == 0 &&
		   !strcmp(kvmon_cgsys_dir(sys, "memory"), p),
	   "--parent as a directory under a mount: that cgroup in every hierarchy");
	snprintf(p, sizeof(p), "%s/hy/cpu,cpuacct/machine.slice", root);
	ok(!strcmp(kvmon_cgsys_dir(sys, "cpu"), p), "cpu beside it: %s",
	   kvmon_cgsys_dir(sys, "cpu"));
}

/* Hybrid: cpu,cpuacct co-mounted, memory alone, name=systemd, empty v2. */
static void test_hybrid(void)
{
	char mi[4096], sc[256], p[1024], d[512];
	struct kvmon_cgsys *sys;
	struct kvmon_cage *c;
	struct kvmon_cage_stats st;

	mk("hy/cpu,cpuacct/user.slice");
	mk("hy/mem ory/job/7");
	mk("hy/systemd");
	mk("hy/unified");
	snprintf(mi, sizeof(mi),
		 "25 1 0:23 / /proc rw - proc proc rw\n"
		 "32 31 0:29 / %s/hy/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
		 "35 31 0:32 / %s/hy/mem\\040ory rw,relatime - cgroup cgroup rw,memory\n"
		 "40 31 0:37 / %s/hy/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
		 "41 31 0:38 / %s/hy/unified rw - cgroup2 cgroup2 rw,nsdelegate\n",
		 root, root, root, root);
	snprintf(p, sizeof(p), "%s/hy/mountinfo", root);
	put(p, mi);
	snprintf(sc, sizeof(sc), "%s/hy/self", root);
	put(sc, "12:name=systemd:/x\n4:memory:/job/7\n2:cpu,cpuacct:/user.slice\n0::/x\n");
	sys = kvmon_cgsys_open(p, sc);
	if (!ok(sys, "hybrid tree detected: %s", sys ? "" : kvmon_get_error()))
		return;
	kvmon_cgsys_fake(sys);
	ok(kvmon_cgsys_mode(sys) == KVMON_CG_HYBRID &&
		   !strcmp(kvmon_cgsys_mode_name(kvmon_cgsys_mode(sys)), "hybrid"),
	   "mode is hybrid");
	snprintf(d, sizeof(d), "%s/hy/mem ory/job/7", root);
	ok(!strcmp(kvmon_cgsys_dir(sys, "memory"), d),
	   "memory parent is our own cgroup, escaped mount point decoded");
	snprintf(d, sizeof(d), "%s/hy/cpu,cpuacct/user.slice", root);
	ok(!strcmp(kvmon_cgsys_dir(sys, "cpu"), d) &&
		   !strcmp(kvmon_cgsys_dir(sys, "cpuacct"), d),
	   "cpu and cpuacct share the co-mounted hierarchy");
	ok(!kvmon_cage_create(sys, "../evil", 0) && kvmon_get_errno() == EINVAL,
	   "cage name with a path refused");
	ok(!kvmon_cage_open(sys, "t1") && kvmon_get_errno() == ENOENT,
	   "opening a missing cage: ENOENT");
	c = kvmon_cage_create(sys, "t1", KVMON_CAGE_EXCL);
	if (!ok(c, "cage created: %s", c ? "" : kvmon_get_error()))
		goto out;
	snprintf(d, sizeof(d), "%s/hy/cpu,cpuacct/user.slice/kvmon-t1", root);
	ok(is_dir(d) && !strcmp(kvmon_cage_dir(c, "cpu"), d) &&
		   !strcmp(kvmon_cage_dir(c, "cpuacct"), d),
	   "one cage directory in the cpu,cpuacct hierarchy");
	ok(!kvmon_cage_create(sys, "t1", KVMON_CAGE_EXCL) && kvmon_get_errno() == EEXIST,
	   "exclusive create of an existing cage: EEXIST");
	ok(kvmon_cage_set_cpu_weight(c, 40) == 0 && file_is(d, "cpu.shares", "409"),
	   "weight 40 -> cpu.shares 409");
	ok(kvmon_cage_set_cpu_weight(c, 0) < 0 && kvmon_get_errno() == ERANGE &&
		   kvmon_cage_set_cpu_weight(c, 10001) < 0 &&
		   file_is(d, "cpu.shares", "409"),
	   "weight 0 and 10001 refused, shares unchanged");
	ok(kvmon_cage_set_cpu_max(c, 50000, 100000) == 0 &&
		   file_is(d, "cpu.cfs_quota_us", "50000") &&
		   file_is(d, "cpu.cfs_period_us", "100000"),
	   "cap 50%% -> cfs_quota_us/cfs_period_us");
	ok(kvmon_cage_set_cpu_max(c, -1, 100000) == 0 &&
		   file_is(d, "cpu.cfs_quota_us", "-1"),
	   "no cap -> cfs_quota_us -1");
	ok(kvmon_cage_set_cpu_max(c, 5, 100000) < 0 &&
		   kvmon_cage_set_cpu_max(c, 50000, 10) < 0 &&
		   file_is(d, "cpu.cfs_quota_us", "-1"),
	   "tiny quota / period refused, nothing written");
	snprintf(d, sizeof(d), "%s/hy/mem ory/job/7/kvmon-t1", root);
	ok(kvmon_cage_set_memory(c, 64 << 20, KVMON_CAGE_KEEP) == 0 &&
		   file_is(d, "memory.limit_in_bytes", "67108864"),
	   "memory limit -> memory.limit_in_bytes");
	ok(kvmon_cage_set_memory(c, -5, KVMON_CAGE_KEEP) < 0 &&
		   kvmon_get_errno() == ERANGE &&
		   kvmon_cage_set_memory(c, 1ll << 60, KVMON_CAGE_KEEP) < 0 &&
		   kvmon_cage_set_memory(c, 4096, KVMON_CAGE_KEEP) < 0 &&
		   file_is(d, "memory.limit_in_bytes", "67108864"),
	   "negative, absurd and tiny limits refused, limit unchanged");
	ok(kvmon_cage_set_memory(c, 32 << 20, 16 << 20) < 0 &&
		   kvmon_get_errno() == ENOTSUP &&
		   file_is(d, "memory.limit_in_bytes", "67108864"),
	   "memory.high on v1: ENOTSUP and max not applied");
	snprintf(p, sizeof(p), "%s/memory.stat", d);
	put(p, "cache 1\nrss 2\nshmem 0\ntotal_cache 3145728\ntotal_rss 1048576\n"
	       "total_shmem 1048576\ntotal_rss_huge 0\n");
	snprintf(p, sizeof(p), "%s/memory.usage_in_bytes", d);
	put(p, "4194304\n");
	snprintf(p, sizeof(p), "%s/hy/cpu,cpuacct/user.slice/kvmon-t1/cpuacct.usage", root);
	put(p, "123456789\n");
	snprintf(p, sizeof(p), "%s/hy/cpu,cpuacct/user.slice/kvmon-t1/cpu.stat", root);
	put(p, "nr_periods 10\nnr_throttled 7\nthrottled_time 99\n");
	ok(kvmon_cage_stats(c, &st) == 0 && st.cpu_ns == 123456789 &&
		   st.mem_anon == 1048576 && st.mem_file == 2097152 &&
		   st.mem_shmem == 1048576 && st.mem_current == 4194304 &&
		   st.mem_max == 67108864 && st.nr_throttled == 7,
	   "v1 stats: total_rss anon, total_cache minus total_shmem as file");
	snprintf(p, sizeof(p), "%s/cgroup.procs", d);
	put(p, "4242\n");
	ok(kvmon_cage_remove(c, 0) < 0 && kvmon_get_errno() == EBUSY && is_dir(d),
	   "remove with a member: EBUSY, nothing removed");
	put(p, "");
	ok(kvmon_cage_remove(c, 0) == 0 && !is_dir(d), "empty cage removed");
	test_foreign(sys);
out:
	kvmon_cgsys_close(sys);
}

/* Pure v2, controllers delegated to our cgroup. */
static void test_v2(void)
{
	char mi[1024], sc[256], p[2048], d[1024], par[512];
	struct kvmon_cgsys *sys;
	struct kvmon_cage *c;
	struct kvmon_cage_stats st;

	mk("v2/cg/app.slice/ids.scope");
	snprintf(mi, sizeof(mi),
		 "30 1 0:26 / %s/v2/cg rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
		 root);
	snprintf(p, sizeof(p), "%s/v2/mountinfo", root);
	put(p, mi);
	snprintf(sc, sizeof(sc), "%s/v2/self", root);
	put(sc, "0::/app.slice/ids.scope\n");
	snprintf(par, sizeof(par), "%s/v2/cg/app.slice/ids.scope", root);
	snprintf(d, sizeof(d), "%s/cgroup.controllers", par);
	put(d, "cpuset cpu io memory pids\n");
	snprintf(d, sizeof(d), "%s/cgroup.subtree_control", par);
	put(d, "");
	sys = kvmon_cgsys_open(p, sc);
	if (!ok(sys, "v2 tree detected"))
		return;
	kvmon_cgsys_fake(sys);
	ok(kvmon_cgsys_mode(sys) == KVMON_CG_V2 &&
		   !strcmp(kvmon_cgsys_dir(sys, "memory"), par) &&
		   !strcmp(kvmon_cgsys_dir(sys, "cpu"), par),
	   "mode v2, all resources beneath our own cgroup");
	c = kvmon_cage_create(sys, "t2", 0);
	if (!ok(c, "v2 cage created: %s", c ? "" : kvmon_get_error()))
		goto out;
	ok(file_is(par, "cgroup.subtree_control", "+cpu +memory"),
	   "cpu and memory enabled for the parent's children");
	snprintf(d, sizeof(d), "%s/kvmon-t2", par);
	ok(!strcmp(kvmon_cage_dir(c, "memory"), d) && !strcmp(kvmon_cage_dir(c, "cpu"), d),
	   "one directory for everything");
	ok(kvmon_cage_set_cpu_weight(c, 40) == 0 && file_is(d, "cpu.weight", "40"),
	   "cpu.weight");
	ok(kvmon_cage_set_cpu_max(c, 20000, 100000) == 0 &&
		   file_is(d, "cpu.max", "20000 100000") &&
		   kvmon_cage_set_cpu_max(c, -1, 100000) == 0 &&
		   file_is(d, "cpu.max", "max 100000"),
	   "cpu.max with and without a cap");
	ok(kvmon_cage_set_memory(c, 256 << 20, 200 << 20) == 0 &&
		   file_is(d, "memory.max", "268435456") &&
		   file_is(d, "memory.high", "209715200") &&
		   kvmon_cage_set_memory(c, KVMON_CAGE_UNLIMITED, KVMON_CAGE_KEEP) == 0 &&
		   file_is(d, "memory.max", "max") &&
		   file_is(d, "memory.high", "209715200"),
	   "memory.max and memory.high, unlimited as 'max'");
	snprintf(p, sizeof(p), "%s/memory.stat", d);
	put(p, "anon 10485760\nfile 6291456\nkernel 1\nshmem 2097152\nfile_mapped 0\n");
	snprintf(p, sizeof(p), "%s/memory.current", d);
	put(p, "17000000\n");
	snprintf(p, sizeof(p), "%s/cpu.stat", d);
	put(p, "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 4\nnr_throttled 3\n");
	ok(kvmon_cage_stats(c, &st) == 0 && st.cpu_ns == 2500000 &&
		   st.mem_anon == 10485760 && st.mem_file == 4194304 &&
		   st.mem_shmem == 2097152 && st.mem_current == 17000000 &&
		   st.mem_max == -1 && st.nr_throttled == 3,
	   "v2 stats: anon, file minus shmem, usage_usec");
	snprintf(p, sizeof(p), "%s/cgroup.procs", d);
	put(p, "1\n2\n3\n");
	{
		pid_t *pids = NULL;
		size_t n = 0;

		ok(kvmon_cage_pids(c, &pids, &n) == 0 && n == 3 && pids[2] == 3,
		   "members listed");
		free(pids);
	}
	put(p, "");
	ok(kvmon_cage_remove(c, 0) == 0 && !is_dir(d), "v2 cage removed");
out:
	kvmon_cgsys_close(sys);
}

/* v1 without memory controller; cpu and cpuacct mounted separately. */
static void test_v1_nomem(void)
{
	char mi[1024], sc[256], p[512];
	struct kvmon_cgsys *sys;
	struct kvmon_cage *c;

	mk("v1/cpu");
	mk("v1/cpuacct");
	snprintf(mi, sizeof(mi),
		 "32 31 0:29 / %s/v1/cpu rw - cgroup cgroup rw,cpu\n"
		 "33 31 0:30 / %s/v1/cpuacct rw - cgroup cgroup rw,cpuacct\n",
		 root, root);
	snprintf(p, sizeof(p), "%s/v1/mountinfo", root);
	put(p, mi);
	snprintf(sc, sizeof(sc), "%s/v1/self", root);
	put(sc, "3:cpuacct:/\n2:cpu:/\n");
	sys = kvmon_cgsys_open(p, sc);
	if (!ok(sys && kvmon_cgsys_mode(sys) == KVMON_CG_V1, "pure v1 detected"))
		return;
	kvmon_cgsys_fake(sys);
	ok(!kvmon_cgsys_dir(sys, "memory"), "no memory controller seen");
	ok(kvmon_cgsys_set_parent(sys, "/nope") < 0 && kvmon_get_errno() == ENOENT &&
		   kvmon_cgsys_set_parent(sys, "/../x") < 0 &&
		   kvmon_cgsys_dir(sys, "cpu") &&
		   !strcmp(kvmon_cgsys_dir(sys, "cpu") + strlen(root), "/v1/cpu"),
	   "missing or relative parent refused, old parent kept");
	c = kvmon_cage_create(sys, "t3", 0);
	if (!ok(c, "cage without memory controller created"))
		goto out;
	ok(strcmp(kvmon_cage_dir(c, "cpu"), kvmon_cage_dir(c, "cpuacct")),
	   "separate cpu and cpuacct directories");
	ok(kvmon_cage_set_memory(c, 64 << 20, KVMON_CAGE_KEEP) < 0 &&
		   kvmon_get_errno() == ENOTSUP &&
		   strstr(kvmon_get_error(), "memory"),
	   "memory limit without the controller: clear ENOTSUP");
	ok(kvmon_cage_remove(c, 0) == 0, "removed");
out:
	kvmon_cgsys_close(sys);
}

int main(void)
{
	char p[512];

	if (!mkdtemp(root))
		bail("mkdtemp");
	test_hybrid();
	test_v2();
	test_v1_nomem();
	snprintf(p, sizeof(p), "%s/none", root);
	put(p, "25 1 0:23 / /proc rw - proc proc rw\n");
	ok(!kvmon_cgsys_open(p, p) && kvmon_get_errno() == ENOENT,
	   "no cgroup mount: ENOENT");
	ok(!kvmon_cgsys_open("/nonexistent/mountinfo", NULL), "missing mountinfo");
	kvmon_rmtree(root);
	return tap_done();
}
