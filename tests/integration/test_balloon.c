/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Balloon on the real bundled guest: the guest's own /proc/meminfo (read
 * through the test-control channel) shrinks when the balloon takes memory
 * and grows back; bad sizes are refused with the VM untouched; a guest
 * that stops honouring the balloon (driver unloaded) gets a timeout and
 * its old size back. Then the performer (kvmon balloon follow) moves an
 * IDS's memory from the VM, watched from the guest.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"

#include <errno.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ull << 20)

static char *kvmon_read_file_for_test(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = calloc(1, 1 << 20);
	*len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	return buf;
}

static long long memtotal_kb(struct tctl *c)
{
	char *out = NULL, *p;
	long long kb = -1;

	if (tctl_run(c, "cat /proc/meminfo", &out, 30000) == 0 &&
	    (p = strstr(out, "MemTotal:")))
		kb = strtoll(p + 9, NULL, 10);
	free(out);
	return kb;
}

static uint64_t actual(struct kvmon_vm *vm)
{
	uint64_t a = 0;

	if (kvmon_balloon_get(vm, &a) < 0)
		return 0;
	return a;
}

static struct kvmon_cgsys *sys;
static char cage_name[32];
static pid_t ids = -1, follower = -1;
static struct kvmon_vm *noballoon;

/* kvmon CLI through sh: exit status; stdout+stderr into out (bounded). */
static int cli(const char *args, char *out, size_t outlen)
{
	char cmd[4096], f[600];
	size_t n = 0;
	FILE *fp;
	int st;

	snprintf(f, sizeof(f), "%s/cli-%d.out", tguest_root(), (int)getpid());
	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>&1", getenv("KVMON"), args, f);
	st = system(cmd);
	if ((fp = fopen(f, "r"))) {
		n = fread(out, 1, outlen - 1, fp);
		fclose(fp);
	}
	out[n] = '\0';
	unlink(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cleanup(void);

/* Ours first (IDS, cage, VM without balloon), then tguest's at exit. */
static void on_signal(int sig)
{
	(void)sig;
	exit(1);
}

static void cleanup(void)
{
	struct kvmon_cage *cg;

	if (ids > 0) {
		kill(ids, SIGKILL);
		waitpid(ids, NULL, 0);
		ids = -1;
	}
	if (follower > 0) {
		kill(follower, SIGKILL);
		waitpid(follower, NULL, 0);
		follower = -1;
	}
	if (sys && (cg = kvmon_cage_open(sys, cage_name)))
		if (kvmon_cage_remove(cg, KVMON_CAGE_EVICT) < 0)
			kvmon_cage_close(cg);
	kvmon_cgsys_close(sys);
	sys = NULL;
	if (noballoon) {
		kvmon_vm_stop(noballoon, 0, 20000); /* frees the handle */
		noballoon = NULL;
	}
}

/* Wait until the guest's MemTotal satisfies lo <= kB <= hi. */
static long long wait_memtotal(struct tctl *c, long long lo, long long hi,
			       int seconds)
{
	long long kb = -1;

	for (int i = 0; i < seconds; i++) {
		kb = memtotal_kb(c);
		if (kb >= lo && kb <= hi)
			break;
		sleep(1);
	}
	return kb;
}

/* The performer: an "IDS" in a cage takes 40 MiB; with the floor at
 * 230 MiB the VM gives 26 MiB and an alert says the IDS wanted more. When
 * the IDS exits the VM gets everything back. */
static void test_follow(struct kvmon_vm *vm, struct tctl *c, long long t0)
{
	struct kvmon_cage *cg;
	int go[2];
	char cmd[2048], log[512], *text = NULL;
	const char *kvmon = getenv("KVMON");
	long long kb;
	int st = -1;
	size_t len = 0;

	snprintf(cage_name, sizeof(cage_name), "t%d-b", (int)getpid());
	sys = kvmon_cgsys_open(NULL, NULL);
	if (!kvmon || !sys || !(cg = kvmon_cage_create(sys, cage_name, KVMON_CAGE_EXCL))) {
		ok(0, "cage for the IDS: %s", kvmon_get_error());
		return;
	}
	if (pipe(go) < 0)
		bail("pipe");
	/* QEMU serves one QMP client: close ours before forking, so no child
	 * inherits it and the performer can connect. */
	kvmon_vm_disconnect(vm);
	ids = fork();
	if (ids == 0) {
		char b;
		char *m;

		if (read(go[0], &b, 1) != 1)
			_exit(1);
		m = malloc(40 * MIB);
		for (size_t i = 0; m && i < 40 * MIB; i += 4096)
			((volatile char *)m)[i] = 1;
		for (;;)
			pause();
	}
	ok(kvmon_cage_add_pid(cg, ids) == 0 && write(go[1], "g", 1) == 1,
	   "IDS started in its cage");
	close(go[0]);
	close(go[1]);
	kvmon_cage_close(cg);
	snprintf(log, sizeof(log), "%s/follow-%d.json", tguest_root(), (int)getpid());
	snprintf(cmd, sizeof(cmd), "exec '%s' balloon follow --qmp '%s' --ids %s "
		 "--floor 230M --interval 250 --min-gap 500 --duration 170 --json "
		 "--timeout 60 > '%s'", kvmon, kvmon_vm_path(vm, "qmp"), cage_name, log);
	follower = fork();
	if (follower == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	kb = wait_memtotal(c, t0 - 27 * 1024, t0 - 25 * 1024, 60);
	ok(kb >= t0 - 27 * 1024 && kb <= t0 - 25 * 1024,
	   "guest MemTotal shrank by the 26 MiB above the floor (%lld kB)", t0 - kb);
	sleep(3);
	kb = memtotal_kb(c);
	ok(kb >= t0 - 27 * 1024, "never below the floor (%lld kB)", t0 - kb);
	kill(ids, SIGKILL);
	waitpid(ids, NULL, 0);
	ids = -1;
	kb = wait_memtotal(c, t0 - 4 * 1024, t0, 60);
	ok(kb >= t0 - 4 * 1024, "IDS gone: the VM got its memory back (%lld kB)", t0 - kb);
	kill(follower, SIGTERM);
	waitpid(follower, &st, 0);
	follower = -1;
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "performer stopped cleanly on SIGTERM");
	text = kvmon_read_file_for_test(log, &len);
	ok(text && strstr(text, "\"detector\":\"balloon\"") &&
		   strstr(text, "\"severity\":\"warning\"") && strstr(text, "floor"),
	   "alert in the shared format: IDS wanted more than the floor allows");
	ok(text && strstr(text, "\"target\":241172480"), "target 230 MiB reported");
	for (char *p = text; p && *p; p++) /* one TAP comment line */
		if (*p == '\n')
			*p = ' ';
	if (text)
		diag("%.600s", text);
	free(text);
	unlink(log);
	cleanup();
}

/* An IDS in a fresh cage holding 40 MiB; returns the cage (caller closes). */
static struct kvmon_cage *start_ids(const char *tag)
{
	struct kvmon_cage *cg;
	int go[2];

	snprintf(cage_name, sizeof(cage_name), "t%d-%s", (int)getpid(), tag);
	if (!sys)
		sys = kvmon_cgsys_open(NULL, NULL);
	if (!sys || !(cg = kvmon_cage_create(sys, cage_name, KVMON_CAGE_EXCL)))
		return NULL;
	if (pipe(go) < 0)
		bail("pipe");
	ids = fork();
	if (ids == 0) {
		char b, *m;

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		m = malloc(40 * MIB);
		for (size_t i = 0; m && i < 40 * MIB; i += 4096)
			((volatile char *)m)[i] = 1;
		for (;;)
			pause();
	}
	if (kvmon_cage_add_pid(cg, ids) < 0 || write(go[1], "g", 1) != 1) {
		kvmon_cage_close(cg);
		cg = NULL;
	}
	close(go[0]);
	close(go[1]);
	return cg;
}

static int64_t cage_limit(struct kvmon_cage *cg)
{
	struct kvmon_cage_stats st;

	return kvmon_cage_stats(cg, &st) == 0 ? st.mem_max : -2;
}

/* Unknown VM, bad sizes, floor above base: exit 2, VM and cage untouched. */
static void test_bad_input(struct kvmon_vm *vm, struct tctl *c, long long t0)
{
	struct kvmon_cage *cg = (kvmon_vm_disconnect(vm), start_ids("bad"));
	const char *qmp = kvmon_vm_path(vm, "qmp");
	char args[2048], out[4096];
	int rc, fails = 0;
	static const char *const bad[][2] = { /* arguments, expected message */
		{ "balloon set -- -5M", "bad size" },
		{ "balloon set 99999999T", "bad size" },
		{ "balloon set 1Q", "bad size" },
		{ "balloon set 16M", "out of range" },
		{ "balloon set 512M", "out of range" },
		{ "balloon follow --ids @ --floor -1M", "bad size" },
		{ "balloon follow --ids @ --base 1X", "bad size" },
		{ "balloon follow --ids @ --floor 300M", "floor" },
		{ "balloon follow --ids @ --interval -5", "bad number" },
		{ "balloon follow --ids kvmon-no-such-cage", "no cage" },
		{ "balloon follow --ids /sys/fs/cgroup/memory/no/such/cg", "not found" },
	};

	if (!ok(cg, "IDS cage for bad-input checks: %s", cg ? "" : kvmon_get_error()))
		return;
	ok(kvmon_cage_set_memory(cg, 200 * MIB, KVMON_CAGE_KEEP) == 0, "IDS limit 200 MiB");
	kvmon_vm_disconnect(vm); /* the CLI needs QEMU's one QMP client slot */
	rc = cli("balloon get --name kvmon-no-such-vm", out, sizeof(out));
	ok(rc == 2 && strstr(out, "kvmon-no-such-vm"), "unknown VM: exit 2, named (%s)", out);
	rc = cli("balloon follow --qmp /nonexistent/qmp.sock --ids x", out, sizeof(out));
	ok(rc == 2 && out[0], "unknown QMP socket: exit 2 with a message");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char b[256];
		const char *at = strchr(bad[i][0], '@');

		/* '@' stands for the cage's name */
		if (at)
			snprintf(b, sizeof(b), "%.*s%s%s", (int)(at - bad[i][0]),
				 bad[i][0], cage_name, at + 1);
		else
			snprintf(b, sizeof(b), "%s", bad[i][0]);
		snprintf(args, sizeof(args), "%s --qmp '%s' --ids-limit 100M --timeout 5",
			 b, qmp);
		if (strstr(b, "set"))
			snprintf(args, sizeof(args), "%s --qmp '%s' --timeout 5", b, qmp);
		rc = cli(args, out, sizeof(out));
		if (rc != 2 || !strstr(out, bad[i][1])) {
			diag("'%s': exit %d: %s", b, rc, out);
			fails++;
		}
	}
	ok(fails == 0, "negative, absurd, tiny and huge sizes, floor above base, "
	   "bad interval, missing cage or cgroup: exit 2 with a message");
	ok(actual(vm) == 256 * MIB && memtotal_kb(c) == t0,
	   "guest untouched by all of them");
	ok(cage_limit(cg) == (int64_t)(200 * MIB), "IDS limit untouched (still 200 MiB)");
	kvmon_cage_close(cg);
	cleanup();
}

/* A VM started without a balloon device: ENODEV, nothing applied. */
static void test_no_device(void)
{
	struct kvmon_vm_config *cfg = kvmon_vm_config_new("kvmon-t-noballoon");
	struct kvmon_cage *cg = start_ids("nodev");
	char dir[PATH_MAX], memdir[PATH_MAX], args[2048], out[4096];
	uint64_t a = 0;
	int rc;

	snprintf(dir, sizeof(dir), "%s/noballoon-%d", tguest_root(), (int)getpid());
	snprintf(memdir, sizeof(memdir), "/dev/shm/%s", strrchr(tguest_root(), '/') + 1);
	mkdir(dir, 0700);
	mkdir(memdir, 0700);
	/* No kernel: QEMU and its QMP are all this needs. */
	if (!cfg || kvmon_vm_config_set(cfg, "rundir", dir) < 0 ||
	    kvmon_vm_config_set(cfg, "mem-dir", memdir) < 0 ||
	    kvmon_vm_config_set_int(cfg, "memory-mb", 64) < 0 ||
	    kvmon_vm_config_set_int(cfg, "http-port", -1) < 0 ||
	    kvmon_vm_config_set_int(cfg, "balloon", 0) < 0)
		bail("config: %s", kvmon_get_error());
	noballoon = kvmon_vm_start(cfg);
	kvmon_vm_config_free(cfg);
	if (!ok(noballoon && cg, "VM without a balloon device started: %s",
		noballoon ? "" : kvmon_get_error())) {
		kvmon_cage_close(cg);
		cleanup();
		rmdir(dir);
		return;
	}
	ok(kvmon_balloon_get(noballoon, &a) < 0 && kvmon_get_errno() == ENODEV,
	   "get: ENODEV (%s)", kvmon_get_error());
	ok(kvmon_balloon_request(noballoon, 48 * MIB) < 0 && kvmon_get_errno() == ENODEV &&
		   kvmon_balloon_set(noballoon, 48 * MIB, 2000) < 0 &&
		   kvmon_get_errno() == ENODEV,
	   "request and set: ENODEV");
	ok(cage_limit(cg) == -1, "IDS cage unlimited before follow");
	snprintf(args, sizeof(args), "balloon follow --qmp '%s' --ids %s --ids-limit 100M "
		 "--duration 5 --json", kvmon_vm_path(noballoon, "qmp"), cage_name);
	kvmon_vm_disconnect(noballoon);
	rc = cli(args, out, sizeof(out));
	ok(rc == 2 && strstr(out, "no active balloon device"),
	   "follow: exit 2, 'no active balloon device' (%s)", out);
	ok(cage_limit(cg) == -1, "nothing applied: IDS limit not touched");
	kvmon_cage_close(cg);
	cleanup();
	rmdir(dir);
}

/* Driver unloaded: follow raises an alert after --timeout without
 * progress, asks for the last size the guest reached, and the IDS limit
 * is never raised for memory the VM did not give. --ids is the cage's
 * cgroup directory here (any existing cgroup works). */
static void test_not_honoured(struct kvmon_vm *vm, struct tctl *c, long long t0)
{
	struct kvmon_cage *cg = (kvmon_vm_disconnect(vm), start_ids("stuck"));
	char args[2048], out[16384];
	int rc;

	if (!ok(cg, "IDS with 40 MiB in a cage"))
		return;
	kvmon_vm_disconnect(vm);
	snprintf(args, sizeof(args), "balloon follow --qmp '%s' --ids '%s' --ids-limit "
		 "200M --floor 128M --timeout 3 --duration 12 --json",
		 kvmon_vm_path(vm, "qmp"), kvmon_cage_dir(cg, "memory"));
	rc = cli(args, out, sizeof(out));
	ok(rc == 0 && strstr(out, "guest did not follow the balloon target") &&
		   strstr(out, "\"restored\":268435456"),
	   "alert: guest did not follow; old size 256 MiB requested again");
	for (char *p = out; *p; p++)
		if (*p == '\n')
			*p = ' ';
	diag("%.700s", out);
	ok(actual(vm) == 256 * MIB && memtotal_kb(c) == t0,
	   "nothing half-applied: guest still at 256 MiB");
	ok(cage_limit(cg) == (int64_t)(200 * MIB),
	   "IDS limit never raised for memory the VM did not give (200 MiB)");
	kvmon_cage_close(cg);
	cleanup();
}

int main(void)
{
	struct kvmon_vm *vm;
	struct tctl *c;
	long long t0, t1, t2;
	uint64_t a;
	char *out = NULL;
	int rc;

	tguest_require();
	atexit(cleanup);
	vm = tguest_start("balloon");
	if (!vm)
		bail("guest did not start: %s", kvmon_get_error());
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	c = tctl_open(vm);
	if (!c) {
		tguest_stop(vm);
		bail("test-control channel: %s", kvmon_get_error());
	}
	t0 = memtotal_kb(c);
	ok(t0 > 100000, "guest MemTotal %lld kB", t0);
	ok(kvmon_balloon_get(vm, &a) == 0 && a == 256 * MIB,
	   "balloon reports the full 256 MiB");

	ok(kvmon_balloon_set(vm, 0, 2000) < 0 && kvmon_get_errno() == ERANGE &&
		   kvmon_balloon_set(vm, 10 * MIB, 2000) < 0 &&
		   kvmon_balloon_set(vm, 1ull << 40, 2000) < 0 &&
		   kvmon_balloon_set(vm, UINT64_MAX, 2000) < 0,
	   "zero, tiny, 1 TiB and absurd targets refused");
	ok(actual(vm) == 256 * MIB && memtotal_kb(c) == t0,
	   "after refused targets the VM is untouched");

	rc = kvmon_balloon_set(vm, 224 * MIB, 120000);
	ok(rc == 0, "balloon to 224 MiB confirmed by query-balloon%s%s",
	   rc ? ": " : "", rc ? kvmon_get_error() : "");
	t1 = memtotal_kb(c);
	diag("MemTotal %lld kB -> %lld kB", t0, t1);
	ok(t1 > 0 && t0 - t1 >= 31 * 1024 && t0 - t1 <= 33 * 1024,
	   "guest's own MemTotal shrank by 32 MiB (%lld kB)", t0 - t1);
	ok(kvmon_balloon_set(vm, 256 * MIB, 60000) == 0, "balloon back to 256 MiB");
	t2 = memtotal_kb(c);
	ok(t2 >= t0 - 1024 && t2 <= t0, "guest's MemTotal grew back (%lld kB)", t2);

	test_bad_input(vm, c, t2);
	test_follow(vm, c, t2);
	test_no_device();

	/* Last, a guest that does not honour the balloon: unload its driver. */
	if (tctl_run(c, "rmmod virtio_balloon && echo gone", &out, 30000) == 0 &&
	    out && strstr(out, "gone")) {
		rc = kvmon_balloon_set(vm, 224 * MIB, 3000);
		ok(rc < 0 && kvmon_get_errno() == ETIMEDOUT,
		   "no driver: timeout with a clear error");
		diag("%s", kvmon_get_error());
		ok(actual(vm) == 256 * MIB && memtotal_kb(c) == t2,
		   "nothing half-applied: old size requested again, guest unchanged");
		test_not_honoured(vm, c, t2);
	} else {
		diag("rmmod not possible in this guest: %s", out ? out : "");
	}
	free(out);
	tctl_close(c);
	ok(tguest_stop(vm) == 0, "guest stopped");
	return tap_done();
}
