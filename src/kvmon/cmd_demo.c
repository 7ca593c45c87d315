/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmon demo: the main job on the bundled test VM. Builds the guest if
 * needed, boots it, shows what KVMonitor sees of it from outside, and
 * stops it again (also on Ctrl-C).
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char demo_usage[] =
	"Usage: kvmon demo [OPTIONS]\n"
	"Build the bundled test VM if needed, boot it, print what KVMonitor\n"
	"sees of it from outside (QMP, guest RAM), then shut it down.\n"
	"  --keep           leave the VM running afterwards\n"
	"  --accel tcg|kvm  accelerator (default tcg)\n"
	"  --mem-dir DIR    where the guest RAM file lives (default /dev/shm)\n"
	COMMON_HELP
	"Exit: 0 ok, 2 error.\n";

enum { OPT_KEEP = OPT_FIRST_LOCAL, OPT_ACCEL, OPT_MEM_DIR };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the ready line in short slices so Ctrl-C is honoured. */
static int wait_ready(struct kvmon_vm *vm, int timeout_s)
{
	int64_t start = now_ms();

	while (!interrupted) {
		if (kvmon_vm_wait_console(vm, GUEST_READY_LINE, 500) == 0)
			return 0;
		if (kvmon_get_errno() != ETIMEDOUT)
			return -1;
		if (now_ms() - start > (int64_t)timeout_s * 1000)
			return -1;
		cli_progress("booting the guest under %s... %.1f s", "QEMU",
			     (double)(now_ms() - start) / 1000.0);
	}
	errno = EINTR;
	return -1;
}

/* Copy the printable string at gpa (up to max-1 bytes). */
static void read_cstring(struct kvmon_mem *m, uint64_t gpa, char *out,
			 size_t max)
{
	size_t i;

	out[0] = '\0';
	if (kvmon_mem_read_phys(m, gpa, out, max - 1) < 0)
		return;
	for (i = 0; i < max - 1; i++)
		if (out[i] == '\0' || out[i] == '\n' || (unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] > 0x7e)
			break;
	out[i] = '\0';
}

/* What guest RAM shows: the kernel banner and the VMCOREINFO note. */
static struct json_object *inspect_ram(struct kvmon_vm *vm, bool print)
{
	struct json_object *o = json_object_new_object();
	struct kvmon_mem *m = kvmon_mem_open(vm);
	char text[256];
	uint64_t at;

	if (!m) {
		json_object_object_add(o, "error",
				       json_object_new_string(kvmon_get_error()));
		if (print)
			printf("guest RAM: %s\n", kvmon_get_error());
		return o;
	}
	json_object_object_add(o, "backend", json_object_new_string(kvmon_mem_backend(m)));
	json_object_object_add(o, "size", json_object_new_uint64(kvmon_mem_size(m)));
	if (print)
		printf("\nFrom guest RAM (%s backend, %llu MiB, read-only):\n",
		       kvmon_mem_backend(m),
		       (unsigned long long)(kvmon_mem_size(m) >> 20));
	if (kvmon_mem_find(m, 0, "Linux version ", 14, &at) == 1) {
		read_cstring(m, at, text, sizeof(text));
		json_object_object_add(o, "banner_gpa", json_object_new_uint64(at));
		json_object_object_add(o, "banner", json_object_new_string(text));
		if (print)
			printf("  kernel banner at 0x%llx:\n    %s\n",
			       (unsigned long long)at, text);
	}
	if (kvmon_mem_find(m, 0, "OSRELEASE=", 10, &at) == 1) {
		read_cstring(m, at, text, sizeof(text));
		json_object_object_add(o, "vmcoreinfo_gpa", json_object_new_uint64(at));
		json_object_object_add(o, "osrelease",
				       json_object_new_string(text + 10));
		if (print)
			printf("  VMCOREINFO at 0x%llx: %s\n", (unsigned long long)at,
			       text);
	}
	kvmon_mem_close(m);
	return o;
}

/* What the guest kernel shows from outside: processes, modules, checks. */
static struct json_object *inspect_kernel(struct kvmon_vm *vm, bool print)
{
	struct json_object *o = json_object_new_object();
	struct kvmon_mem *m = kvmon_mem_open(vm);
	struct kvmon_kernel *k = m ? kvmon_kernel_open(m) : NULL;
	struct kvmon_task *t = NULL;
	struct kvmon_module *mods = NULL;
	struct kvmon_findings *f = NULL;
	struct kvmon_baseline *b = NULL;
	size_t nt = 0, nm = 0, users = 0;

	if (!k) {
		json_object_object_add(o, "error",
				       json_object_new_string(kvmon_get_error()));
		if (print)
			printf("guest kernel: %s\n", kvmon_get_error());
		kvmon_mem_close(m);
		return o;
	}
	kvmon_vm_disconnect(vm);
	json_object_object_add(o, "release", json_object_new_string(kvmon_kernel_release(k)));
	json_object_object_add(o, "kaslr_offset",
			       json_object_new_uint64(kvmon_kernel_kaslr_offset(k)));
	json_object_object_add(o, "symbols",
			       json_object_new_uint64(kvmon_kernel_symbol_count(k)));
	if (print)
		printf("\nThe guest kernel, learned from its memory (no profile):\n"
		       "  Linux %s, KASLR offset 0x%llx, %zu symbols, struct layouts from its BTF\n",
		       kvmon_kernel_release(k),
		       (unsigned long long)kvmon_kernel_kaslr_offset(k),
		       kvmon_kernel_symbol_count(k));
	if (kvmon_kernel_tasks(k, &t, &nt) == 0) {
		if (print)
			printf("  processes (user space):\n");
		for (size_t i = 0; i < nt; i++) {
			char cmd[256];

			if (t[i].kthread)
				continue;
			users++;
			if (kvmon_kernel_task_cmdline(k, &t[i], cmd, sizeof(cmd)) < 0)
				cmd[0] = '\0';
			if (print)
				printf("    %6d %6d uid %-5u %s\n", t[i].pid, t[i].ppid,
				       t[i].uid, cmd[0] ? cmd : t[i].comm);
		}
		json_object_object_add(o, "tasks", json_object_new_uint64(nt));
		json_object_object_add(o, "user_processes", json_object_new_uint64(users));
		if (print)
			printf("    ... and %zu kernel threads\n", nt - users);
	}
	if (kvmon_kernel_modules(k, &mods, &nm) == 0) {
		json_object_object_add(o, "modules", json_object_new_uint64(nm));
		if (print) {
			printf("  modules:");
			for (size_t i = 0; i < nm; i++)
				printf(" %s", mods[i].name);
			printf("\n");
		}
	}
	b = kvmon_baseline_create(k);
	if (b && kvmon_check(k, b, KVMON_DETECT_ALL, &f) == 0) {
		json_object_object_add(o, "findings",
				       json_object_new_uint64(kvmon_findings_count(f)));
		if (print)
			printf("  detectors (syscall table, kernel text, hidden processes,\n"
			       "  hidden modules): %zu findings\n",
			       kvmon_findings_count(f));
	}
	kvmon_findings_free(f);
	kvmon_baseline_free(b);
	free(mods);
	free(t);
	kvmon_kernel_close(k);
	kvmon_mem_close(m);
	return o;
}

/* The guest's disk from a point-in-time snapshot (fleecing, read-only). */
static struct json_object *inspect_disk(struct kvmon_vm *vm, bool print,
					bool *failed)
{
	struct json_object *o = json_object_new_object();
	struct kvmon_disk *d = kvmon_disk_open_vm(vm, NULL, NULL);
	struct kvmon_fs *fs = d ? kvmon_fs_open_part(d, 0) : NULL;
	uint64_t bsize, blocks, bfree, files, ffree, ino;
	char host[128] = "";
	ssize_t n;

	if (!fs || kvmon_fs_statfs(fs, &bsize, &blocks, &bfree, &files, &ffree) < 0) {
		json_object_object_add(o, "error",
				       json_object_new_string(kvmon_get_error()));
		if (print)
			printf("\nThe guest disk: %s\n", kvmon_get_error());
		*failed = true;
		goto out;
	}
	if (kvmon_fs_lookup(fs, "/etc/hostname", &ino) == 0 &&
	    (n = kvmon_fs_pread(fs, ino, host, sizeof(host) - 1, 0)) > 0) {
		host[n] = '\0';
		host[strcspn(host, "\n")] = '\0';
		for (char *p = host; *p; p++) /* guest text: no terminal escapes */
			if (*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	/* the superblock is the guest's: no wrap-around below */
	bfree = bfree > blocks ? blocks : bfree;
	ffree = ffree > files ? files : ffree;
	json_object_object_add(o, "size", json_object_new_uint64(kvmon_disk_size(d)));
	json_object_object_add(o, "fs_used_bytes",
			       json_object_new_uint64((blocks - bfree) * bsize));
	json_object_object_add(o, "inodes_used", json_object_new_uint64(files - ffree));
	json_object_object_add(o, "hostname", json_object_new_string(host));
	if (print)
		printf("\nThe guest disk, from a point-in-time snapshot (image fleecing\n"
		       "over QMP, read-only NBD, ext4 read in user space):\n"
		       "  %llu MiB disk, %llu MiB in use, %llu inodes in use, "
		       "/etc/hostname: %s\n"
		       "  (kvmon mount, kvmon fim: docs/disk.md, docs/fim.md)\n",
		       (unsigned long long)(kvmon_disk_size(d) >> 20),
		       (unsigned long long)(((blocks - bfree) * bsize) >> 20),
		       (unsigned long long)(files - ffree), host);
out:
	kvmon_fs_close(fs);
	if (d && kvmon_disk_close(d) < 0)
		*failed = true;
	return o;
}

static struct kvmon_vm *boot(struct cli *c, const char *accel,
			     const char *mem_dir, int64_t *boot_ms)
{
	struct kvmon_vm_config *cfg = kvmon_vm_config_new(c->name);
	struct kvmon_vm *vm = NULL;
	int64_t t0;

	if (!cfg || guest_configure(cfg) < 0 ||
	    (c->rundir && kvmon_vm_config_set(cfg, "rundir", c->rundir) < 0) ||
	    (accel && kvmon_vm_config_set(cfg, "accel", accel) < 0) ||
	    (mem_dir && kvmon_vm_config_set(cfg, "mem-dir", mem_dir) < 0)) {
		kvmon_vm_config_free(cfg);
		cli_lib_fail(c, "configuration");
		return NULL;
	}
	cli_progress("starting QEMU...");
	t0 = now_ms();
	vm = kvmon_vm_start(cfg);
	kvmon_vm_config_free(cfg);
	if (!vm) {
		cli_lib_fail(c, "start");
		return NULL;
	}
	if (wait_ready(vm, c->timeout_s ? c->timeout_s : 180) < 0) {
		if (interrupted)
			cli_fail(c, "interrupted");
		else
			cli_lib_fail(c, "boot");
		kvmon_vm_stop(vm, 0, 5000);
		return NULL;
	}
	*boot_ms = now_ms() - t0;
	cli_progress_done();
	return vm;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "accel", required_argument, NULL, OPT_ACCEL },
		{ "mem-dir", required_argument, NULL, OPT_MEM_DIR },
		{ 0 }
	};
	struct json_object *out, *info;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *accel = NULL, *mem_dir = NULL;
	struct kvmon_vm *vm;
	bool keep = false, disk_failed = false;
	int64_t boot_ms = 0;
	char *json = NULL;
	struct cli c;
	int opt, rc;

	cli_init(&c, "kvmon demo");
	c.name = "demo";
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0)
			return EXIT_ERROR;
		if (rc)
			continue;
		switch (opt) {
		case OPT_HELP: fputs(demo_usage, stdout); return EXIT_OK;
		case OPT_KEEP: keep = true; break;
		case OPT_ACCEL: accel = optarg; break;
		case OPT_MEM_DIR: mem_dir = optarg; break;
		default: return cli_usage_error(&c, demo_usage);
		}
	}
	if (optind != argc || c.qmp)
		return cli_usage_error(&c, demo_usage);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (guest_ensure(c.json) < 0)
		return cli_fail(&c, "the bundled guest is not available");
	vm = boot(&c, accel, mem_dir, &boot_ms);
	if (!vm)
		return EXIT_ERROR;
	if (kvmon_vm_info_json(vm, &json) < 0) {
		rc = cli_lib_fail(&c, "info");
		kvmon_vm_stop(vm, 0, 10000);
		return rc;
	}
	info = cli_parse(json);
	kvmon_free(json);
	if (!c.json) {
		printf("Guest booted in %.1f s. What KVMonitor sees from outside:\n\n",
		       (double)boot_ms / 1000.0);
		vm_info_print(info);
	}
	out = json_object_new_object();
	json_object_object_add(out, "boot_ms", json_object_new_int64(boot_ms));
	json_object_object_add(out, "vm", info);
	json_object_object_add(out, "memory", inspect_ram(vm, !c.json));
	json_object_object_add(out, "kernel", inspect_kernel(vm, !c.json));
	json_object_object_add(out, "disk", inspect_disk(vm, !c.json, &disk_failed));
	rc = disk_failed ? EXIT_ERROR : EXIT_OK;
	if (keep) {
		json_object_object_add(out, "kept_running", json_object_new_boolean(1));
		if (!c.json)
			printf("\nVM '%s' left running: stop it with "
			       "'kvmon vm stop --name %s'\n", c.name, c.name);
		kvmon_vm_close(vm);
	} else {
		cli_progress("stopping the VM...");
		if (kvmon_vm_stop(vm, 0, 10000) < 0)
			rc = cli_lib_fail(&c, "stop");
		cli_progress_done();
		if (!c.json && rc == EXIT_OK)
			printf("\nVM stopped; its run state was removed.\n");
	}
	if (c.json)
		cli_emit(out);
	else
		json_object_put(out);
	return rc;
}
