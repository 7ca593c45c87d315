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
	atexit(cleanup);
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

int main(void)
{
	struct kvmon_vm *vm;
	struct tctl *c;
	long long t0, t1, t2;
	uint64_t a;
	char *out = NULL;
	int rc;

	tguest_require();
	vm = tguest_start("balloon");
	if (!vm)
		bail("guest did not start: %s", kvmon_get_error());
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

	test_follow(vm, c, t2);

	/* Last, a guest that does not honour the balloon: unload its driver. */
	if (tctl_run(c, "rmmod virtio_balloon && echo gone", &out, 30000) == 0 &&
	    out && strstr(out, "gone")) {
		rc = kvmon_balloon_set(vm, 224 * MIB, 3000);
		ok(rc < 0 && kvmon_get_errno() == ETIMEDOUT,
		   "no driver: timeout with a clear error");
		diag("%s", kvmon_get_error());
		ok(actual(vm) == 256 * MIB && memtotal_kb(c) == t2,
		   "nothing half-applied: old size requested again, guest unchanged");
	} else {
		diag("rmmod not possible in this guest: %s", out ? out : "");
	}
	free(out);
	tctl_close(c);
	ok(tguest_stop(vm) == 0, "guest stopped");
	return tap_done();
}
