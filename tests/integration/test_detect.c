/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory introspection on the real guest, and the detectors against
 * attack stand-ins.
 *
 * The views kvmon builds from outside (processes, modules, symbols) are
 * compared with what the guest reports about itself through the test
 * control channel. Then the test plays rootkit: it writes into guest RAM
 * through its own writable mapping of the RAM file (kvmon only ever maps
 * it read-only) to hook a system call, patch kernel text, unlink a process
 * and unlink a module, checks that each is reported, undoes it, and checks
 * that the guest is clean again. Hostile structures (loops, dangling
 * pointers) must end in clear errors.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct kvmon_vm *vm;
static struct kvmon_mem *mem;
static struct kvmon_kernel *kern;
static struct kvmon_baseline *base;
static uint8_t *ram;           /* the test's own writable mapping */
static size_t ram_len;
static struct kvmon_ram_range ranges[16];
static size_t nranges;

/* ------------------------------------------------------------ helpers */

static void qmp(const char *cmd)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);

	if (!q || kvmon_qmp_execute(q, cmd, NULL, NULL) < 0)
		bail("QMP %s: %s", cmd, kvmon_get_error());
	kvmon_vm_disconnect(vm);
}

static void map_ram_writable(void)
{
	struct stat st;
	int fd = open(kvmon_vm_path(vm, "ram"), O_RDWR);

	if (fd < 0 || fstat(fd, &st) < 0)
		bail("open RAM file: %s", strerror(errno));
	ram_len = (size_t)st.st_size;
	ram = mmap(NULL, ram_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (ram == MAP_FAILED)
		bail("mmap RAM: %s", strerror(errno));
	if (kvmon_vm_ram_layout(vm, ranges, 16, &nranges) < 0)
		bail("layout: %s", kvmon_get_error());
	kvmon_vm_disconnect(vm);
}

/* Pointer into the writable mapping for a kernel virtual address. */
static uint8_t *at(uint64_t va)
{
	uint64_t gpa;

	if (kvmon_kernel_translate(kern, va, &gpa) < 0)
		bail("translate 0x%llx: %s", (unsigned long long)va, kvmon_get_error());
	for (size_t i = 0; i < nranges && i < 16; i++)
		if (!strcmp(ranges[i].backend, "mem") && gpa >= ranges[i].gpa &&
		    gpa - ranges[i].gpa < ranges[i].size &&
		    ranges[i].backend_offset + (gpa - ranges[i].gpa) + 8 <= ram_len)
			return ram + ranges[i].backend_offset + (gpa - ranges[i].gpa);
	bail("gpa 0x%llx not in RAM", (unsigned long long)gpa);
}

static uint64_t rd64(uint64_t va)
{
	uint64_t v;

	memcpy(&v, at(va), 8);
	return v;
}

static void wr64(uint64_t va, uint64_t v)
{
	memcpy(at(va), &v, 8);
}

static uint64_t sym(const char *name)
{
	uint64_t a;

	if (kvmon_kernel_symbol(kern, name, &a) < 0)
		bail("symbol %s: %s", name, kvmon_get_error());
	return a;
}

static uint64_t member(const char *type, const char *m)
{
	uint64_t off;

	if (kvmon_kernel_member(kern, type, m, &off, NULL) < 0)
		bail("%s.%s: %s", type, m, kvmon_get_error());
	return off;
}

/* Run the detectors; count findings of `detector` whose message has
 * `needle` (NULL: any), and all findings in *total. */
static size_t findings(const char *detector, const char *needle, size_t *total)
{
	struct kvmon_findings *f = NULL;
	size_t n = 0;

	if (kvmon_check(kern, base, KVMON_DETECT_ALL, &f) < 0)
		bail("check: %s", kvmon_get_error());
	for (size_t i = 0; i < kvmon_findings_count(f); i++) {
		const struct kvmon_finding *x = kvmon_findings_get(f, i);

		if (!strcmp(x->detector, detector) &&
		    (!needle || strstr(x->message, needle)))
			n++;
		if (detector && !strcmp(detector, "*"))
			diag("finding: %s: %s", x->detector, x->message);
	}
	if (total)
		*total = kvmon_findings_count(f);
	if (kvmon_findings_count(f) && needle)
		diag("e.g. %s: %s", kvmon_findings_get(f, 0)->detector,
		     kvmon_findings_get(f, 0)->message);
	kvmon_findings_free(f);
	return n;
}

static void expect_clean(const char *when)
{
	size_t total = 0;

	findings("*", NULL, &total);
	ok(total == 0, "%s: zero findings (%zu)", when, total);
}

/* ------------------------------------------- views vs the guest's own */

struct proc {
	int pid, ppid;
	char comm[17];
};

/* pid ppid comm from the guest's /proc (comm without spaces here). */
static size_t guest_procs(struct tctl *c, struct proc *out, size_t max)
{
	char *txt = NULL, *save = NULL;
	size_t n = 0;

	if (tctl_run(c, "for s in /proc/[0-9]*/stat; do read -r l < $s && "
			"echo \"$l\"; done 2>/dev/null | "
			"sed 's/^\\([0-9]*\\) (\\(.*\\)) [A-Z] \\([0-9]*\\) .*/\\1 \\3 \\2/'",
		     &txt, 60000) != 0 || !txt)
		bail("guest ps failed");
	for (char *l = strtok_r(txt, "\n", &save); l && n < max;
	     l = strtok_r(NULL, "\n", &save)) {
		struct proc *p = &out[n];

		if (sscanf(l, "%d %d %16[^\n]", &p->pid, &p->ppid, p->comm) == 3)
			n++;
	}
	free(txt);
	return n;
}

/* task->comm holds 15 characters; the guest's /proc shows kernel threads'
 * full names ("rcu_tasks_kthread", "kworker/0:1-events"). */
static bool same_comm(const char *outside, const char *guest)
{
	size_t n = strlen(outside);

	return n > 0 && !strncmp(outside, guest, n) &&
	       (n >= 15 || guest[n] == '\0' || guest[n] == '-');
}

static const struct proc *find_proc(const struct proc *v, size_t n, int pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].pid == pid)
			return &v[i];
	return NULL;
}

static void compare_processes(struct tctl *c)
{
	static struct proc g1[4096], g2[4096];
	struct kvmon_task *t = NULL;
	size_t n1, n2, nt = 0, stable = 0, matched = 0, unknown = 0;

	int rc;

	n1 = guest_procs(c, g1, 4096);
	rc = kvmon_kernel_tasks(kern, &t, &nt);
	ok(rc == 0 && nt > 20, "task list walked from outside: %zu tasks", nt);
	n2 = guest_procs(c, g2, 4096);
	/* Processes present in both guest snapshots did not come or go. */
	for (size_t i = 0; i < n1; i++) {
		const struct proc *b = find_proc(g2, n2, g1[i].pid);
		bool found = false;

		if (!b || strcmp(b->comm, g1[i].comm))
			continue; /* came, went, or (kworker) changed its name */
		stable++;
		for (size_t j = 0; j < nt && !found; j++)
			found = t[j].pid == g1[i].pid && t[j].ppid == g1[i].ppid &&
				same_comm(t[j].comm, g1[i].comm);
		if (found)
			matched++;
		else
			diag("guest process %d %s (ppid %d) not seen from outside",
			     g1[i].pid, g1[i].comm, g1[i].ppid);
	}
	for (size_t j = 0; j < nt; j++)
		if (t[j].pid != 0 && !find_proc(g1, n1, t[j].pid) &&
		    !find_proc(g2, n2, t[j].pid))
			unknown++;
	ok(stable > 20 && matched == stable,
	   "pid/ppid/comm of all %zu stable guest processes match (%zu)", stable,
	   matched);
	ok(unknown <= 3, "outside view has no processes the guest never showed "
			 "(%zu short-lived)", unknown);
	free(t);
}

static void compare_modules(struct tctl *c)
{
	struct kvmon_module *m = NULL;
	char *txt = NULL;
	size_t n = 0, found = 0, lines = 0;

	int rc = kvmon_kernel_modules(kern, &m, &n);

	ok(rc == 0 && n > 5, "module list: %zu", n);
	ok(tctl_run(c, "cut -d' ' -f1 /proc/modules", &txt, 30000) == 0 && txt,
	   "guest's /proc/modules");
	for (char *s = txt, *nl; s && *s; s = nl ? nl + 1 : NULL) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		lines++;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(m[i].name, s)) {
				found++;
				break;
			}
	}
	ok(lines == n && found == n, "module names match the guest's (%zu/%zu)", found,
	   lines);
	free(txt);
	free(m);
}

static void compare_symbols(struct tctl *c)
{
	static const char *const names[] = { "init_task", "sys_call_table",
					     "x64_sys_call", "_stext", "modules" };
	char cmd[128], *txt = NULL;

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		uint64_t mine = sym(names[i]), theirs = 0;

		snprintf(cmd, sizeof(cmd), "grep ' %s$' /proc/kallsyms | head -1", names[i]);
		if (tctl_run(c, cmd, &txt, 30000) == 0 && txt)
			theirs = strtoull(txt, NULL, 16);
		free(txt);
		txt = NULL;
		ok(mine == theirs, "symbol %s: 0x%llx from kallsyms in RAM = guest's",
		   names[i], (unsigned long long)mine);
	}
}

/* -------------------------------------------------------- attacks */

static void attack_syscall(void)
{
	uint64_t table = sym("sys_call_table"), slot = table + 8 * 39; /* getpid */
	uint64_t orig = rd64(slot);

	qmp("stop");
	wr64(slot, sym("_printk"));
	ok(findings("syscall_table", "sys_call_table[39]", NULL) == 1,
	   "hooked sys_call_table[39] -> _printk is reported");
	ok(findings("kernel_text", "rodata", NULL) >= 1,
	   "... and the read-only data change too");
	wr64(slot, 0xffffffffc0001000ull);
	ok(findings("syscall_table", "outside core kernel text", NULL) == 1,
	   "sys_call_table[39] -> module area is reported as outside core text");
	wr64(slot, orig);
	qmp("cont");
	expect_clean("syscall table restored");
}

static void attack_text(void)
{
	uint64_t va = sym("__x64_sys_kcmp") + 0x10;
	uint8_t *p = at(va), orig = *p;

	qmp("stop");
	*p ^= 0xff;
	ok(findings("kernel_text", "__x64_sys_kcmp+0x10", NULL) == 1,
	   "one byte of kernel text patched: reported at __x64_sys_kcmp+0x10");
	*p = orig;
	qmp("cont");
	expect_clean("kernel text restored");
}

/* Unlink the list_head at node (prev->next = next, next->prev = prev). */
static void unlink_node(uint64_t node)
{
	uint64_t next = rd64(node), prev = rd64(node + 8);

	wr64(prev, next);
	wr64(next + 8, prev);
}

static void relink_node(uint64_t node)
{
	uint64_t next = rd64(node), prev = rd64(node + 8);

	wr64(prev, node);
	wr64(next + 8, node);
}

static const struct kvmon_task *task_named(struct kvmon_task *t, size_t n,
					   const char *comm)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].comm, comm))
			return &t[i];
	return NULL;
}

static void attack_process(void)
{
	struct kvmon_task *t = NULL, *t2 = NULL;
	size_t n = 0, n2 = 0;
	const struct kvmon_task *tick;
	uint64_t node, off = member("task_struct", "tasks");
	char needle[64];

	qmp("stop");
	if (kvmon_kernel_tasks(kern, &t, &n) < 0 || !(tick = task_named(t, n, "kvmon-tick")))
		bail("kvmon-tick not found");
	node = tick->addr + off;
	snprintf(needle, sizeof(needle), "process %d (kvmon-tick)", tick->pid);
	unlink_node(node);
	ok(kvmon_kernel_tasks(kern, &t2, &n2) == 0 && n2 == n - 1 &&
		   !task_named(t2, n2, "kvmon-tick"),
	   "unlinked process is gone from the task list view");
	ok(findings("hidden_process", needle, NULL) == 1,
	   "hidden process reported: %s", needle);
	relink_node(node);
	free(t2);
	t2 = NULL;

	/* Hostile lists: a self-loop and a dangling pointer. */
	{
		uint64_t saved = rd64(node);
		struct timespec a, b;
		int rc;

		wr64(node, node); /* tick.next = tick: the walk never returns */
		clock_gettime(CLOCK_MONOTONIC, &a);
		rc = kvmon_kernel_tasks(kern, &t2, &n2);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ok(rc < 0 && strstr(kvmon_get_error(), "loops"),
		   "task list loop: clear error (%s)", kvmon_get_error());
		ok(b.tv_sec - a.tv_sec < 5, "... in bounded time");
		wr64(node, 0xdead000000000100ull);
		ok(kvmon_kernel_tasks(kern, &t2, &n2) < 0,
		   "dangling task pointer: clear error (%s)", kvmon_get_error());
		wr64(node, saved);
	}
	free(t);
	qmp("cont");
	expect_clean("task list restored");
}

static void attack_module(void)
{
	struct kvmon_module *m = NULL, *m2 = NULL;
	size_t n = 0, n2 = 0, i;
	uint64_t node, off = member("module", "list");
	bool gone = true;

	qmp("stop");
	if (kvmon_kernel_modules(kern, &m, &n) < 0)
		bail("modules: %s", kvmon_get_error());
	for (i = 0; i < n && strcmp(m[i].name, "crc16"); i++)
		;
	if (i == n)
		bail("crc16 not loaded");
	node = m[i].addr + off;
	unlink_node(node);
	ok(kvmon_kernel_modules(kern, &m2, &n2) == 0 && n2 == n - 1,
	   "unlinked module is gone from the module list view");
	for (size_t j = 0; j < n2; j++)
		gone &= strcmp(m2[j].name, "crc16") != 0;
	ok(gone, "crc16 no longer listed");
	ok(findings("hidden_module", "crc16", NULL) == 1,
	   "hidden module reported: crc16");
	relink_node(node);
	free(m2);
	{
		uint64_t saved = rd64(node);

		wr64(node, node);
		ok(kvmon_kernel_modules(kern, &m2, &n2) < 0 &&
			   strstr(kvmon_get_error(), "loops"),
		   "module list loop: clear error (%s)", kvmon_get_error());
		wr64(node, saved);
	}
	free(m);
	qmp("cont");
	expect_clean("module list restored");
}

/* kvmon watch, as a separate process, sees a live attack come and go. */
static void watch_sees_attack(void)
{
	const char *kv = getenv("KVMON");
	char cmd[8192], rundir[4096], line[4096];
	struct kvmon_task *t = NULL;
	const struct kvmon_task *tick;
	size_t n = 0, alerts = 0, resolved = 0, other = 0;
	uint64_t node;
	FILE *p;
	int status;

	if (!kv) {
		ok(0, "KVMON (path of the kvmon binary) not set");
		return;
	}
	snprintf(rundir, sizeof(rundir), "%s", kvmon_vm_path(vm, "rundir"));
	*strrchr(rundir, '/') = '\0';
	snprintf(cmd, sizeof(cmd),
		 "'%s' watch --name '%s' --rundir '%s' --interval 0.3 --count 14 "
		 "--no-baseline --detectors hidden_process,hidden_module,syscall_table",
		 kv, kvmon_vm_name(vm), rundir);
	if (kvmon_kernel_tasks(kern, &t, &n) < 0 || !(tick = task_named(t, n, "kvmon-tick")))
		bail("kvmon-tick not found");
	node = tick->addr + member("task_struct", "tasks");
	p = popen(cmd, "r");
	if (!p)
		bail("popen watch");
	sleep(1);
	unlink_node(node); /* live, as a rootkit would */
	usleep(1500 * 1000);
	relink_node(node);
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, "\"resolved\":true") && strstr(line, "kvmon-tick"))
			resolved++;
		else if (strstr(line, "\"detector\":\"hidden_process\"") &&
			 strstr(line, "kvmon-tick") && strstr(line, "\"severity\":\"critical\""))
			alerts++;
		else
			other++;
	}
	status = pclose(p);
	free(t);
	ok(alerts == 1, "watch printed one hidden_process alert for the live attack");
	ok(resolved == 1, "... and one 'resolved' alert once it was undone");
	ok(other == 0, "no other alert lines (%zu)", other);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	   "watch exits 1 after raising alerts");
}

int main(void)
{
	struct tctl *c;

	tguest_require();
	vm = tguest_start("detect");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	mem = kvmon_mem_open(vm);
	ok(mem != NULL, "guest RAM opened");
	kern = mem ? kvmon_kernel_open(mem) : NULL;
	ok(kern != NULL, "guest kernel known with no profile: %s",
	   kern ? kvmon_kernel_release(kern) : kvmon_get_error());
	if (!kern)
		bail("cannot continue");
	{
		/* The way for kernels without kallsyms in VMCOREINFO (< 6.0):
		 * the tables found by their structure must be the same. */
		struct kvmon_kernel *carved =
			kvmon_kernel_open_flags(mem, KVMON_KERNEL_CARVE_KALLSYMS);
		uint64_t a = 0, b = 1;

		ok(carved && kvmon_kernel_symbol_count(carved) ==
				     kvmon_kernel_symbol_count(kern),
		   "kallsyms carved by structure: %zu symbols, as via VMCOREINFO",
		   carved ? kvmon_kernel_symbol_count(carved) : 0);
		ok(carved && kvmon_kernel_symbol(carved, "sys_call_table", &a) == 0 &&
			   kvmon_kernel_symbol(kern, "sys_call_table", &b) == 0 && a == b,
		   "carved symbols agree (sys_call_table)");
		kvmon_kernel_close(carved);
	}
	kvmon_vm_disconnect(vm);
	c = tctl_open(vm);
	if (!c)
		bail("no control channel");
	compare_symbols(c);
	compare_processes(c);
	compare_modules(c);
	tctl_close(c);

	base = kvmon_baseline_create(kern);
	ok(base != NULL, "baseline of kernel text and rodata taken");
	if (!base)
		bail("%s", kvmon_get_error());
	expect_clean("clean guest");
	map_ram_writable();
	attack_syscall();
	attack_text();
	attack_process();
	attack_module();
	watch_sees_attack();
	sleep(2);
	expect_clean("clean guest after a while");

	munmap(ram, ram_len);
	kvmon_baseline_free(base);
	kvmon_kernel_close(kern);
	kvmon_mem_close(mem);
	ok(tguest_stop(vm) == 0, "VM stopped");
	return tap_done();
}
