/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every guest-physical memory backend on the real bundled guest:
 *
 *  - file, process and qmp read the same bytes (VM paused) for the kernel
 *    banner, random pages, page-crossing and range-edge reads and a 64 MiB
 *    block; they report the same layout and size;
 *  - an ELF core from dump-guest-memory and a raw dump, opened offline,
 *    give the same bytes, and the guest kernel opens on them with the same
 *    processes as live;
 *  - gva2gpa through QMP agrees with the native page walk;
 *  - the process backend without ptrace permission fails clearly;
 *  - the CLI's --backend and --dump;
 *  - a truly unmodified QEMU (plain -m 256M, started here): kvmon_mem_open
 *    picks "process" and finds the kernel banner in its RAM.
 *
 * Also measures reading 64 MiB through each backend (reported, not
 * asserted). Everything started or created is removed, also on signals.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define BLOCK (64 * MIB)
#define BLOCK_GPA (16 * MIB)

static char tmpdir[PATH_MAX - 64];
static struct {
	pid_t pid;
	char sock[PATH_MAX];
} plain;
static void (*prev_handler[32])(int);

/* ---------------------------------------------------------- cleanup */

/* Is pid still the plain QEMU we started (its cmdline names our socket)? */
static bool plain_alive(void)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	if (plain.pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)plain.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, plain.sock) != NULL;
}

static void kill_plain(void)
{
	if (plain_alive())
		kill(plain.pid, SIGKILL);
	for (int i = 0; i < 100 && plain_alive(); i++)
		usleep(20000);
	plain.pid = 0;
}

static void remove_tmpdir(void)
{
	DIR *d;
	struct dirent *e;

	if (!tmpdir[0])
		return;
	d = opendir(tmpdir);
	if (d) {
		while ((e = readdir(d))) {
			char p[PATH_MAX + 256];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tmpdir);
}

static void cleanup(void)
{
	kill_plain();
	remove_tmpdir();
}

static void on_signal(int sig)
{
	cleanup();
	if (sig < 32 && prev_handler[sig] && prev_handler[sig] != SIG_DFL &&
	    prev_handler[sig] != SIG_IGN && prev_handler[sig] != SIG_ERR) {
		prev_handler[sig](sig); /* the guest harness: kills, re-raises */
	} else {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

/* After the guest harness installed its own handlers: chain to them. */
static void install_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV,
				    SIGBUS };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		prev_handler[sigs[i]] = signal(sigs[i], on_signal);
}

/* ---------------------------------------------------------- helpers */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int qmp_simple(struct kvmon_vm *vm, const char *cmd)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);

	return q ? kvmon_qmp_execute(q, cmd, NULL, NULL) : -1;
}

static char *manifest_kernel(void)
{
	const char *g = getenv("KVMON_GUEST_DIR");
	char path[PATH_MAX];
	struct json_object *m, *v;
	char *ver = NULL;

	snprintf(path, sizeof(path), "%s/manifest.json", g ? g : ".cache/guest");
	m = json_object_from_file(path);
	if (m && json_object_object_get_ex(m, "kernel_version", &v))
		ver = strdup(json_object_get_string(v));
	json_object_put(m);
	return ver;
}

/* A set of guest-physical reads to compare across backends. */
struct probe {
	uint64_t gpa;
	size_t len;
	char what[48];
};

#define MAX_PROBES 16
static struct probe probes[MAX_PROBES];
static size_t nprobes;

static void add_probe(uint64_t gpa, size_t len, const char *what)
{
	if (nprobes < MAX_PROBES) {
		probes[nprobes].gpa = gpa;
		probes[nprobes].len = len;
		snprintf(probes[nprobes].what, sizeof(probes[nprobes].what), "%s", what);
		nprobes++;
	}
}

/* Reads of every probe through m, concatenated (malloc'd). */
static uint8_t *read_probes(struct kvmon_mem *m, size_t *total)
{
	size_t t = 0, off = 0;
	uint8_t *buf;

	for (size_t i = 0; i < nprobes; i++)
		t += probes[i].len;
	buf = malloc(t);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < nprobes; i++) {
		if (kvmon_mem_read_phys(m, probes[i].gpa, buf + off, probes[i].len) < 0) {
			diag("%s: read %s at 0x%llx failed: %s", kvmon_mem_backend(m),
			     probes[i].what, (unsigned long long)probes[i].gpa,
			     kvmon_get_error());
			free(buf);
			return NULL;
		}
		off += probes[i].len;
	}
	*total = t;
	return buf;
}

static bool same_layout(struct kvmon_mem *a, struct kvmon_mem *b)
{
	struct kvmon_ram_range ra[16], rb[16];
	size_t na = 0, nb = 0;

	if (kvmon_mem_ranges(a, ra, 16, &na) < 0 || kvmon_mem_ranges(b, rb, 16, &nb) < 0 ||
	    na != nb || na > 16 || kvmon_mem_size(a) != kvmon_mem_size(b))
		return false;
	for (size_t i = 0; i < na; i++)
		if (ra[i].gpa != rb[i].gpa || ra[i].size != rb[i].size ||
		    strcmp(ra[i].backend, rb[i].backend))
			return false;
	return true;
}

/* Every live range is inside one range of the dump. */
static bool covers(struct kvmon_mem *dump, struct kvmon_mem *live)
{
	struct kvmon_ram_range rd[16], rl[16];
	size_t nd = 0, nl = 0;

	if (kvmon_mem_ranges(dump, rd, 16, &nd) < 0 ||
	    kvmon_mem_ranges(live, rl, 16, &nl) < 0 || nd > 16 || nl > 16)
		return false;
	for (size_t i = 0; i < nl; i++) {
		bool in = false;

		for (size_t j = 0; j < nd && !in; j++)
			in = rl[i].gpa >= rd[j].gpa &&
			     rl[i].gpa + rl[i].size <= rd[j].gpa + rd[j].size;
		if (!in)
			return false;
	}
	return true;
}

/* Read BLOCK bytes from BLOCK_GPA in 1 MiB reads; returns seconds. */
static double read_block(struct kvmon_mem *m, uint8_t *out)
{
	double t0 = now_s();

	for (uint64_t off = 0; off < BLOCK; off += MIB)
		if (kvmon_mem_read_phys(m, BLOCK_GPA + off, out + off, MIB) < 0) {
			diag("%s: 64 MiB read failed at +0x%llx: %s",
			     kvmon_mem_backend(m), (unsigned long long)off,
			     kvmon_get_error());
			return -1;
		}
	return now_s() - t0;
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const int32_t *)a - *(const int32_t *)b;
}

/* Sorted pids of the guest's tasks as seen through m (malloc'd). */
static int32_t *pids_of(struct kvmon_mem *m, size_t *n)
{
	struct kvmon_kernel *k = kvmon_kernel_open(m);
	struct kvmon_task *t = NULL;
	int32_t *p = NULL;

	*n = 0;
	if (!k) {
		diag("%s: kernel_open: %s", kvmon_mem_backend(m), kvmon_get_error());
		return NULL;
	}
	if (kvmon_kernel_tasks(k, &t, n) == 0 && (p = malloc(*n * sizeof(*p) + 1))) {
		for (size_t i = 0; i < *n; i++)
			p[i] = t[i].pid;
		qsort(p, *n, sizeof(*p), cmp_pid);
	} else {
		diag("%s: tasks: %s", kvmon_mem_backend(m), kvmon_get_error());
	}
	kvmon_free(t);
	kvmon_kernel_close(k);
	return p;
}

/* Run the CLI; returns its exit status and stdout (malloc'd). */
static int run_cli(char **out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int run_cli(char **out, const char *fmt, ...)
{
	const char *kv = getenv("KVMON");
	char args[2048], cmd[4096];
	size_t cap = 1 << 16, len = 0;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", kv ? kv : "build/src/kvmon/kvmon",
		 args);
	*out = calloc(1, cap + 1);
	f = popen(cmd, "r");
	if (!f || !*out)
		return -1;
	while (len < cap) {
		size_t r = fread(*out + len, 1, cap - len, f);

		if (r == 0)
			break;
		len += r;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---------------------------------------------------------- live */

static void check_layouts(struct kvmon_mem *file, struct kvmon_mem *proc,
			  struct kvmon_mem *qmp)
{
	struct kvmon_ram_range r[16];
	size_t n = 0;

	ok(!strcmp(kvmon_mem_backend(file), "file") &&
		   !strcmp(kvmon_mem_backend(proc), "process") &&
		   !strcmp(kvmon_mem_backend(qmp), "qmp"),
	   "backends report their names: file, process, qmp");
	ok(kvmon_mem_size(file) == 256 * MIB && kvmon_mem_size(proc) == 256 * MIB &&
		   kvmon_mem_size(qmp) == 256 * MIB,
	   "all three: 256 MiB of guest RAM");
	ok(same_layout(file, proc) && same_layout(file, qmp),
	   "all three: the same RAM ranges (gpa, size, block)");
	if (kvmon_mem_ranges(file, r, 16, &n) == 0)
		for (size_t i = 0; i < n && i < 16; i++)
			diag("range 0x%llx-0x%llx %s @0x%llx",
			     (unsigned long long)r[i].gpa,
			     (unsigned long long)(r[i].gpa + r[i].size - 1),
			     r[i].backend, (unsigned long long)r[i].backend_offset);
}

static void choose_probes(struct kvmon_mem *file, uint64_t banner)
{
	unsigned seed = (unsigned)time(NULL);
	const char *s = getenv("KVMON_TEST_SEED");
	uint64_t size = kvmon_mem_size(file);

	if (s)
		seed = (unsigned)strtoul(s, NULL, 0);
	diag("random pages: KVMON_TEST_SEED=%u", seed);
	srand(seed);
	add_probe(banner, 256, "kernel banner");
	for (int i = 0; i < 4; i++) {
		uint64_t page = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) %
				(size / 4096);

		add_probe(page * 4096, 4096, "random page");
	}
	add_probe(0x1ff0, 0x20, "across a page boundary");
	add_probe(((uint64_t)rand() % (size / 4096 - 2) + 1) * 4096 - 100, 200,
		  "random page boundary");
	add_probe(0, 4096, "first page");
	add_probe(size - 4096, 4096, "last page");
	add_probe(0x9f000, 0x3000, "640 KiB boundary");
	add_probe(BLOCK_GPA + 12345, 100000, "100 KB unaligned");
}

static void check_same_bytes(struct kvmon_mem *file, struct kvmon_mem *other,
			     const char *label)
{
	size_t la = 0, lb = 0;
	uint8_t *a = read_probes(file, &la), *b = read_probes(other, &lb);

	ok(a && b && la == lb && !memcmp(a, b, la),
	   "%s: %zu probes (%zu bytes) byte-identical to the file backend", label,
	   nprobes, la);
	free(a);
	free(b);
}

static void check_readv(struct kvmon_mem *file, struct kvmon_mem *proc)
{
	uint8_t a[3][4096], b[3][4096];
	struct kvmon_phys_iov va[3], vb[3];

	for (int i = 0; i < 3; i++) {
		va[i] = (struct kvmon_phys_iov){ probes[1 + i].gpa, a[i], 4096 };
		vb[i] = (struct kvmon_phys_iov){ probes[1 + i].gpa, b[i], 4096 };
	}
	ok(kvmon_mem_readv(file, va, 3) == 0 && kvmon_mem_readv(proc, vb, 3) == 0 &&
		   !memcmp(a, b, sizeof(a)),
	   "kvmon_mem_readv: 3 random pages in one process_vm_readv, identical");
}

static void check_find(struct kvmon_mem *proc, struct kvmon_mem *qmp,
		       uint64_t banner)
{
	uint64_t at = 0;
	/* Start the slow backend 2 MiB before the banner (~0.5 s). */
	uint64_t from = banner > 2 * MIB ? banner - 2 * MIB : 0;

	ok(kvmon_mem_find(proc, 0, "Linux version ", 14, &at) == 1 && at == banner,
	   "find through the process backend: banner at the same gpa");
	ok(kvmon_mem_find(qmp, from, "Linux version ", 14, &at) == 1 && at == banner,
	   "find through the qmp backend (from 0x%llx): same gpa",
	   (unsigned long long)from);
}

static void measure(struct kvmon_mem **m, size_t n)
{
	uint8_t *ref = malloc(BLOCK), *buf = malloc(BLOCK);
	bool same = ref && buf;

	/* Fault the buffers in first: time the backends, not malloc. */
	if (same) {
		memset(ref, 1, BLOCK);
		memset(buf, 1, BLOCK);
	}

	for (size_t i = 0; i < n && same; i++) {
		double t = read_block(m[i], i == 0 ? ref : buf);

		if (t < 0) {
			same = false;
			break;
		}
		diag("64 MiB through %-8s %8.3f s  %9.1f MiB/s", kvmon_mem_backend(m[i]),
		     t, 64.0 / t);
		if (i > 0 && memcmp(ref, buf, BLOCK)) {
			diag("%s differs from %s", kvmon_mem_backend(m[i]),
			     kvmon_mem_backend(m[0]));
			same = false;
		}
	}
	ok(same, "64 MiB at 16 MiB read through %zu backends: identical", n);
	/* Introspection reads pages here and there: latency of one page. */
	for (size_t i = 0; i < n && same; i++) {
		int reps = strcmp(kvmon_mem_backend(m[i]), "qmp") ? 2000 : 50;
		uint64_t pages = kvmon_mem_size(m[0]) / 4096;
		double t0 = now_s();

		for (int j = 0; j < reps; j++)
			if (kvmon_mem_read_phys(m[i], (uint64_t)rand() % pages * 4096,
						buf, 4096) < 0)
				break;
		diag("4 KiB random page via %-8s %9.1f us", kvmon_mem_backend(m[i]),
		     (now_s() - t0) / reps * 1e6);
	}
	free(ref);
	free(buf);
}

static void check_gva2gpa(struct kvmon_vm *vm, struct kvmon_mem *file)
{
	struct kvmon_kernel *k = kvmon_kernel_open(file);
	uint64_t va = 0, native = 0, viaqemu = 0;
	int rc = -1, tries = 0;

	rc = k && kvmon_kernel_symbol(k, "linux_banner", &va) == 0 &&
	     kvmon_kernel_translate(k, va, &native) == 0 ? 0 : -1;
	ok(rc == 0, "native page walk: linux_banner 0x%llx -> 0x%llx",
	   (unsigned long long)va, (unsigned long long)native);
	/* The current CPU may sit in user mode with PTI's user page tables,
	 * where kernel data is unmapped: let it run a moment and retry. */
	while (k && va && tries++ < 20) {
		rc = kvmon_qmp_gva2gpa(kvmon_vm_qmp(vm), va, &viaqemu);
		if (rc == 0 || kvmon_get_errno() != EFAULT)
			break;
		qmp_simple(vm, "cont");
		usleep(20000);
		qmp_simple(vm, "stop");
	}
	ok(rc == 0 && viaqemu == native,
	   "kvmon_qmp_gva2gpa agrees with the native walk (0x%llx, %d tries)",
	   (unsigned long long)viaqemu, tries);
	ok(kvmon_qmp_gva2gpa(kvmon_vm_qmp(vm), 0x10, &viaqemu) < 0 &&
		   kvmon_get_errno() == EFAULT,
	   "kvmon_qmp_gva2gpa of an unmapped address: EFAULT");
	kvmon_kernel_close(k);
}

/* The process backend as an unprivileged user: a clear EPERM. */
static void check_eperm(struct kvmon_vm *vm)
{
	int pfd[2];
	char msg[1024] = "";
	ssize_t n;
	pid_t pid;
	int st = 0;

	if (geteuid() != 0) {
		ok(1, "# SKIP ptrace-permission check needs root to drop privileges");
		return;
	}
	kvmon_vm_disconnect(vm); /* one QMP client at a time: the child's */
	if (pipe(pfd) < 0)
		bail("pipe");
	pid = fork();
	if (pid == 0) {
		struct kvmon_mem *m;
		int good;

		close(pfd[0]);
		if (!kvmon_vm_qmp(vm) || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		m = kvmon_mem_open_backend(vm, "process");
		good = !m && kvmon_get_errno() == EPERM &&
		       strstr(kvmon_get_error(), "ptrace");
		if (write(pfd[1], kvmon_get_error(), strlen(kvmon_get_error())) < 0)
			good = 0;
		_exit(good ? 0 : 1); /* no atexit: the parent owns the VM */
	}
	close(pfd[1]);
	n = read(pfd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "process backend without ptrace permission: EPERM, says why");
	diag("%s", msg);
}

static void check_cli(struct kvmon_vm *vm, struct kvmon_mem *file,
		      const char *elf, uint64_t banner, const int32_t *pids,
		      size_t npids)
{
	char rundir[PATH_MAX], *out = NULL, hex[129];
	const char *name = kvmon_vm_name(vm);
	uint8_t want[64];
	int rc;
	size_t seen = 0;

	snprintf(rundir, sizeof(rundir), "%s", kvmon_vm_path(vm, "rundir"));
	*strrchr(rundir, '/') = '\0';
	kvmon_vm_disconnect(vm);
	kvmon_mem_read_phys(file, banner, want, sizeof(want));
	for (size_t i = 0; i < sizeof(want); i++)
		snprintf(hex + 2 * i, 3, "%02x", want[i]);
	rc = run_cli(&out, "mem read --rundir '%s' --name %s --backend qmp --json 0x%llx 64",
		     rundir, name, (unsigned long long)banner);
	ok(rc == 0 && strstr(out, hex), "CLI: mem read --backend qmp gives the banner bytes");
	free(out);
	rc = run_cli(&out, "mem info --rundir '%s' --name %s --backend process",
		     rundir, name);
	ok(rc == 0 && strstr(out, "backend  process") && strstr(out, "256 MiB"),
	   "CLI: mem info --backend process");
	free(out);
	rc = run_cli(&out, "mem read --rundir '%s' --name %s --backend tape 0 1",
		     rundir, name);
	ok(rc == 2 && strstr(out, "file, process or qmp"),
	   "CLI: unknown --backend refused with exit 2");
	free(out);
	rc = run_cli(&out, "ps --dump '%s' --json", elf);
	if (rc == 0) {
		struct json_object *o = json_tokener_parse(out), *a = NULL;

		json_object_object_get_ex(o, "processes", &a);
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			struct json_object *t = json_object_array_get_idx(a, i), *p;

			if (json_object_object_get_ex(t, "pid", &p) &&
			    bsearch(&(int32_t){ json_object_get_int(p) }, pids, npids,
				    sizeof(*pids), cmp_pid))
				seen++;
		}
		json_object_put(o);
	}
	ok(rc == 0 && seen == npids, "CLI: ps --dump lists the %zu live pids (%zu)",
	   npids, seen);
	free(out);
	rc = run_cli(&out, "kernel info --dump '%s'", elf);
	ok(rc == 0 && strstr(out, "release"), "CLI: kernel info --dump");
	free(out);
	rc = run_cli(&out, "mem find --dump '%s' 'Linux version '", elf);
	ok(rc == 0 && strtoull(out, NULL, 0) == banner, "CLI: mem find --dump");
	free(out);
	rc = run_cli(&out, "mem dump --rundir '%s' --name %s '%s'", rundir, name, elf);
	ok(rc == 2 && strstr(out, "exists"), "CLI: mem dump never overwrites a file");
	free(out);
}

static void test_bundled(void)
{
	struct kvmon_mem *file, *proc, *qmp, *elf = NULL, *raw = NULL;
	char elf_path[PATH_MAX + 16], raw_path[PATH_MAX + 16];
	int32_t *live = NULL, *live_proc = NULL, *off = NULL;
	size_t nlive = 0, nproc = 0, noff = 0;
	uint64_t banner = 0;
	struct kvmon_vm *vm;
	pid_t pid;
	int rc;

	vm = tguest_start("membk");
	install_signals();
	ok(vm != NULL, "bundled guest boots (file backend)");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	pid = kvmon_vm_pid(vm);
	file = kvmon_mem_open(vm);
	proc = kvmon_mem_open_backend(vm, "process");
	qmp = kvmon_mem_open_backend(vm, "qmp");
	ok(file && proc && qmp, "file, process and qmp backends open");
	if (!file || !proc || !qmp)
		bail("cannot continue without backends: %s", kvmon_get_error());
	check_layouts(file, proc, qmp);

	ok(qmp_simple(vm, "stop") == 0, "VM paused for the comparison");
	rc = kvmon_mem_find(file, 0, "Linux version ", 14, &banner);
	ok(rc == 1, "kernel banner at 0x%llx (file backend)",
	   (unsigned long long)banner);
	choose_probes(file, banner);
	check_same_bytes(file, proc, "process");
	check_same_bytes(file, qmp, "qmp");
	check_readv(file, proc);
	check_find(proc, qmp, banner);
	check_gva2gpa(vm, file);

	live = pids_of(file, &nlive);
	live_proc = pids_of(proc, &nproc);
	ok(live && nlive > 10, "live: %zu processes (file backend)", nlive);
	ok(live_proc && nproc == nlive && !memcmp(live, live_proc, nlive * sizeof(*live)),
	   "live: the same pids through the process backend");

	snprintf(elf_path, sizeof(elf_path), "%s/guest.elf", tmpdir);
	snprintf(raw_path, sizeof(raw_path), "%s/guest.raw", tmpdir);
	rc = kvmon_mem_dump(vm, elf_path, "elf", 120000);
	ok(rc == 0, "ELF dump through QMP dump-guest-memory");
	if (rc < 0)
		diag("%s", kvmon_get_error());
	rc = kvmon_mem_dump(vm, raw_path, "raw", 120000);
	ok(rc == 0, "raw dump through the file backend");
	if (rc < 0)
		diag("%s", kvmon_get_error());
	ok(kvmon_mem_dump(vm, elf_path, "elf", 120000) < 0 && kvmon_get_errno() == EEXIST,
	   "an existing file is never overwritten");
	elf = kvmon_mem_open_dump(elf_path);
	raw = kvmon_mem_open_dump(raw_path);
	ok(elf && !strcmp(kvmon_mem_backend(elf), "dump") && covers(elf, file),
	   "ELF dump opens offline; its PT_LOADs cover the live RAM ranges");
	ok(raw && !strcmp(kvmon_mem_backend(raw), "raw") && covers(raw, file),
	   "raw dump opens offline and covers the live RAM ranges");
	if (elf)
		check_same_bytes(file, elf, "ELF dump");
	if (raw)
		check_same_bytes(file, raw, "raw dump");
	off = elf ? pids_of(elf, &noff) : NULL;
	ok(off && noff == nlive && !memcmp(off, live, nlive * sizeof(*off)),
	   "kvmon_kernel_open on the ELF dump: the same %zu pids as live", noff);
	free(off);
	off = raw ? pids_of(raw, &noff) : NULL;
	ok(off && noff == nlive && !memcmp(off, live, nlive * sizeof(*off)),
	   "... and on the raw dump");
	free(off);

	{
		struct kvmon_mem *all[] = { file, proc, qmp, elf, raw };

		measure(all, elf && raw ? 5 : 3);
	}
	check_eperm(vm);
	if (elf)
		check_cli(vm, file, elf_path, banner, live, nlive);
	ok(qmp_simple(vm, "cont") == 0, "VM resumed");

	kvmon_mem_close(elf);
	kvmon_mem_close(raw);
	kvmon_mem_close(qmp);
	kvmon_mem_close(proc);
	kvmon_mem_close(file);
	free(live);
	free(live_proc);
	unlink(elf_path);
	unlink(raw_path);
	ok(tguest_stop(vm) == 0, "bundled guest stopped, QEMU pid %d gone", (int)pid);
}

/* ---------------------------------------------------------- plain QEMU */

static int start_plain(void)
{
	const char *g = getenv("KVMON_GUEST_DIR");
	char kernel[PATH_MAX], initrd[PATH_MAX], qmp[PATH_MAX + 32],
		serial[PATH_MAX + 32], pidfile[PATH_MAX], name[64], log[PATH_MAX];
	pid_t child;
	int st = 0;
	FILE *f;

	if (!g)
		g = ".cache/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", g);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", g);
	snprintf(plain.sock, sizeof(plain.sock), "%s/plain.sock", tmpdir);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", plain.sock);
	snprintf(serial, sizeof(serial), "file:%s/plain-console.log", tmpdir);
	snprintf(pidfile, sizeof(pidfile), "%s/plain.pid", tmpdir);
	snprintf(log, sizeof(log), "%s/plain-qemu.log", tmpdir);
	snprintf(name, sizeof(name), "plain,process=kvmon-kt%d-plain", (int)getpid());
	child = fork();
	if (child == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* Unmodified QEMU, no memory option: plain -m. -no-shutdown keeps
		 * it (and guest RAM) around when the initramfs powers off for
		 * want of a disk. */
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-m", "256M",
		       "-accel", "tcg", "-kernel", kernel, "-initrd", initrd,
		       "-append", "console=ttyS0", "-nodefaults", "-no-user-config",
		       "-display", "none", "-no-shutdown", "-serial", serial,
		       "-qmp", qmp, "-pidfile", pidfile, "-name", name,
		       "-daemonize", (char *)NULL);
		_exit(127);
	}
	if (child < 0 || waitpid(child, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		diag("plain QEMU did not start (status %d), see %s", st, log);
		return -1;
	}
	f = fopen(pidfile, "r");
	if (f) {
		int p = 0;

		if (fscanf(f, "%d", &p) == 1)
			plain.pid = p;
		fclose(f);
	}
	return plain_alive() ? 0 : -1;
}

static void test_plain(void)
{
	struct kvmon_vm *vm;
	struct kvmon_mem *m, *f;
	struct kvmon_ram_range r[8];
	char text[160] = "", *kver = manifest_kernel();
	uint64_t at = 0;
	size_t n = 0;
	int found = 0;
	double t0;

	int rc = start_plain();

	ok(rc == 0, "unmodified QEMU started: -m 256M, no memory option (pid %d)",
	   (int)plain.pid);
	if (!plain.pid) {
		free(kver);
		return;
	}
	vm = kvmon_vm_attach(plain.sock);
	ok(vm != NULL, "attached by its QMP socket");
	if (!vm) {
		diag("%s", kvmon_get_error());
		free(kver);
		return;
	}
	m = kvmon_mem_open(vm);
	ok(m && !strcmp(kvmon_mem_backend(m), "process"),
	   "kvmon_mem_open auto-selects '%s'", m ? kvmon_mem_backend(m) : kvmon_get_error());
	rc = m ? kvmon_mem_ranges(m, r, 8, &n) : -1;
	ok(rc == 0 && kvmon_mem_size(m) == 256 * MIB && n >= 1 && n <= 8 &&
		   !strcmp(r[0].backend, "pc.ram"),
	   "256 MiB in RAM block pc.ram (%zu ranges)", n);
	for (size_t i = 0; rc == 0 && i < n && i < 8; i++)
		diag("range 0x%llx-0x%llx %s", (unsigned long long)r[i].gpa,
		     (unsigned long long)(r[i].gpa + r[i].size - 1), r[i].backend);
	f = kvmon_mem_open_backend(vm, "file");
	ok(!f && kvmon_get_errno() == ENOTSUP, "the file backend is not available: ENOTSUP");
	kvmon_mem_close(f);
	t0 = now_s();
	/* The banner appears once the kernel has decompressed itself. */
	while (m && now_s() - t0 < 180 && (found = kvmon_mem_find(m, 0, "Linux version ",
								   14, &at)) == 0)
		usleep(500000);
	ok(found == 1, "process backend finds \"Linux version \" in its RAM");
	diag("at 0x%llx after %.1f s", (unsigned long long)at, now_s() - t0);
	if (found == 1 && kvmon_mem_read_phys(m, at, text, sizeof(text) - 1) == 0) {
		text[sizeof(text) - 1] = '\0';
		diag("%.100s", text);
	}
	ok(kver && strstr(text, kver), "banner names the bundled kernel %s", kver ? kver : "?");
	kvmon_mem_close(m);
	kvmon_vm_stop(vm, 0, 10000); /* QMP quit; the handle is freed */
	kill_plain();
	ok(!plain_alive(), "plain QEMU gone");
	free(kver);
}

int main(void)
{
	tguest_require();
	mkdir(tguest_root(), 0700);
	snprintf(tmpdir, sizeof(tmpdir), "%s/membk-XXXXXX", tguest_root());
	if (!mkdtemp(tmpdir))
		bail("mkdtemp %s", tmpdir);
	atexit(cleanup);
	test_bundled();
	test_plain();
	cleanup();
	ok(access(tmpdir, F_OK) < 0, "temporary directory and dumps removed");
	return tap_done();
}
