/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Launch a monitorable QEMU: guest RAM in a shared file (so the monitor can
 * map it read-only), a QMP socket, a named virtio-blk node (for fleecing),
 * virtio-net, virtio-balloon and vmcoreinfo. Everything it creates is
 * recorded in the VM's run directory and removed again on failure.
 */
#define _GNU_SOURCE
#include "vm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_ARGS 96
#define START_TIMEOUT_MS 30000

struct kvmon_vm_config {
	char name[64];
	char *rundir, *qemu, *kernel, *initrd, *append, *disk, *accel, *mem_dir;
	long long memory_mb, cpus, http_port;
	bool control, disk_overlay;
	bool no_balloon; /* "balloon" 0: no virtio-balloon device */
};

struct kvmon_vm_config *kvmon_vm_config_new(const char *name)
{
	struct kvmon_vm_config *c;

	if (!kvmon_valid_name(name)) {
		kvmon_set_error(EINVAL,
				"invalid VM name '%s' (1-32 of A-Z a-z 0-9 _ . -)",
				name ? name : "");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->memory_mb = 256;
	c->cpus = 1;
	c->http_port = -1;
	c->disk_overlay = true;
	return c;
}

void kvmon_vm_config_free(struct kvmon_vm_config *c)
{
	if (!c)
		return;
	free(c->rundir);
	free(c->qemu);
	free(c->kernel);
	free(c->initrd);
	free(c->append);
	free(c->disk);
	free(c->accel);
	free(c->mem_dir);
	free(c);
}

int kvmon_vm_config_set(struct kvmon_vm_config *c, const char *key,
			const char *value)
{
	static const char *const keys[] = { "rundir", "qemu", "kernel",
					    "initrd", "append", "disk",
					    "accel", "mem-dir" };
	char **slots[] = { &c->rundir, &c->qemu, &c->kernel, &c->initrd,
			   &c->append, &c->disk, &c->accel, &c->mem_dir };

	if (!c || !key)
		return kvmon_set_error(EINVAL, "config: no key");
	if (!strcmp(key, "accel") && value && strcmp(value, "tcg") &&
	    strcmp(value, "kvm"))
		return kvmon_set_error(EINVAL, "accel must be tcg or kvm, not '%s'",
				       value);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(key, keys[i]))
			continue;
		free(*slots[i]);
		*slots[i] = NULL;
		if (value && !(*slots[i] = kvmon_strdup(value)))
			return -1;
		return 0;
	}
	return kvmon_set_error(EINVAL, "config: unknown option '%s'", key);
}

int kvmon_vm_config_set_int(struct kvmon_vm_config *c, const char *key,
			    long long v)
{
	if (!c || !key)
		return kvmon_set_error(EINVAL, "config: no key");
	if (!strcmp(key, "memory-mb")) {
		if (v < 64 || v > 1024 * 1024)
			return kvmon_set_error(EINVAL,
					       "memory-mb must be 64..1048576");
		c->memory_mb = v;
	} else if (!strcmp(key, "cpus")) {
		if (v < 1 || v > 64)
			return kvmon_set_error(EINVAL, "cpus must be 1..64");
		c->cpus = v;
	} else if (!strcmp(key, "http-port")) {
		if (v < -1 || v > 65535)
			return kvmon_set_error(EINVAL,
					       "http-port must be -1..65535");
		c->http_port = v;
	} else if (!strcmp(key, "control")) {
		c->control = v != 0;
	} else if (!strcmp(key, "disk-overlay")) {
		c->disk_overlay = v != 0;
	} else if (!strcmp(key, "balloon")) {
		c->no_balloon = v == 0;
	} else {
		return kvmon_set_error(EINVAL, "config: unknown option '%s'",
				       key);
	}
	return 0;
}

const char *kvmon_default_rundir(void)
{
	static _Thread_local char buf[PATH_MAX];
	const char *env = getenv("KVMON_RUNDIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return env;
	if (geteuid() == 0)
		return "/run/kvmon";
	if (xdg && *xdg)
		snprintf(buf, sizeof(buf), "%s/kvmon", xdg);
	else
		snprintf(buf, sizeof(buf), "/tmp/kvmon-%u", (unsigned)geteuid());
	return buf;
}

/* Ask the kernel for a free loopback port (racy, but only a default). */
static int pick_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return kvmon_set_error(errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	if (port < 0)
		return kvmon_set_error(errno, "no free port: %s", strerror(errno));
	return port;
}

/* Run a helper program to completion, its output appended to logpath. */
static int run_helper(char *const argv[], const char *logpath)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logpath,
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return kvmon_set_error(rc, "cannot run %s: %s", argv[0],
				       strerror(rc));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kvmon_set_error(errno, "waitpid: %s",
					       strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return kvmon_set_error(EIO, "%s failed (see %s)", argv[0],
				       logpath);
	return 0;
}

struct argv_buf {
	char *v[MAX_ARGS + 1];
	int n;
	bool oom;
};

static void arg(struct argv_buf *a, const char *fmt, ...) KVMON_PRINTF(2, 3);
static void arg(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->n >= MAX_ARGS) {
		a->oom = true;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		a->oom = true;
		s = NULL;
	}
	va_end(ap);
	a->v[a->n++] = s;
}

static void argv_free(struct argv_buf *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
}

/* QEMU splits -object/-blockdev values on ',': a path with one would be
 * misparsed (and could smuggle options), so refuse it. */
static int check_path_arg(const char *what, const char *p)
{
	if (p && strchr(p, ','))
		return kvmon_set_error(EINVAL, "%s path may not contain ',': %s",
				       what, p);
	return 0;
}

static int build_argv(const struct kvmon_vm_config *c,
		      const struct kvmon_vm *vm, const char *pidfile,
		      struct argv_buf *a)
{
	const char *disk = vm->disk_path;

	arg(a, "%s", c->qemu ? c->qemu : "qemu-system-x86_64");
	arg(a, "-name");
	arg(a, "%s,process=kvmon-%s", vm->name, vm->name);
	arg(a, "-accel");
	arg(a, "%s", c->accel ? c->accel : "tcg");
	arg(a, "-machine");
	arg(a, "pc,memory-backend=mem");
	arg(a, "-m");
	arg(a, "%lldM", c->memory_mb);
	arg(a, "-smp");
	arg(a, "%lld", c->cpus);
	arg(a, "-object");
	arg(a, "memory-backend-file,id=mem,size=%lldM,mem-path=%s,share=on",
	    c->memory_mb, vm->ram_path);
	if (c->kernel) {
		arg(a, "-kernel");
		arg(a, "%s", c->kernel);
	}
	if (c->initrd) {
		arg(a, "-initrd");
		arg(a, "%s", c->initrd);
	}
	if (c->append) {
		arg(a, "-append");
		arg(a, "%s", c->append);
	}
	arg(a, "-display");
	arg(a, "none");
	arg(a, "-no-user-config");
	arg(a, "-nodefaults");
	arg(a, "-chardev");
	arg(a, "file,id=con0,path=%s", vm->console_path);
	arg(a, "-serial");
	arg(a, "chardev:con0");
	if (*disk) {
		arg(a, "-blockdev");
		arg(a, "driver=file,filename=%s,node-name=disk0-file", disk);
		arg(a, "-blockdev");
		arg(a, "driver=%s,file=disk0-file,node-name=disk0",
		    kvmon_image_format(disk));
		arg(a, "-device");
		arg(a, "virtio-blk-pci,drive=disk0,id=vda");
	}
	arg(a, "-netdev");
	if (vm->http_port > 0)
		arg(a, "user,id=net0,hostfwd=tcp:127.0.0.1:%d-:80",
		    vm->http_port);
	else
		arg(a, "user,id=net0");
	arg(a, "-device");
	arg(a, "virtio-net-pci,netdev=net0,id=nic0");
	if (!c->no_balloon) {
		arg(a, "-device");
		arg(a, "virtio-balloon-pci,id=balloon0");
	}
	arg(a, "-device");
	arg(a, "vmcoreinfo");
	if (c->control) {
		arg(a, "-device");
		arg(a, "virtio-serial-pci,id=vser0");
		arg(a, "-chardev");
		arg(a, "socket,id=ctl,path=%s,server=on,wait=off", vm->ctl_path);
		arg(a, "-device");
		arg(a, "virtserialport,bus=vser0.0,chardev=ctl,"
		       "name=org.kvmon.ctl");
	}
	arg(a, "-qmp");
	arg(a, "unix:%s,server=on,wait=off", vm->qmp_path);
	arg(a, "-pidfile");
	arg(a, "%s", pidfile);
	arg(a, "-daemonize");
	if (a->oom)
		return kvmon_set_error(ENOMEM, "building the QEMU command line");
	return 0;
}

static int set_paths(struct kvmon_vm *vm, const struct kvmon_vm_config *c)
{
	const char *rundir = c->rundir ? c->rundir : kvmon_default_rundir();
	const char *memdir = c->mem_dir ? c->mem_dir : "/dev/shm";
	struct sockaddr_un sa;
	int n;

	snprintf(vm->name, sizeof(vm->name), "%s", c->name);
	n = snprintf(vm->dir, sizeof(vm->dir), "%s/%s", rundir, c->name);
	if (n < 0 || (size_t)n >= sizeof(vm->dir))
		return kvmon_set_error(ENAMETOOLONG, "run dir path too long");
	/* Unix socket paths are limited to sizeof(sun_path). */
	if (strlen(vm->dir) + sizeof("/qmp.sock") > sizeof(sa.sun_path))
		return kvmon_set_error(ENAMETOOLONG,
				       "run dir %s too long for a unix socket "
				       "(max %zu bytes)",
				       vm->dir, sizeof(sa.sun_path) - 10);
	snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/qmp.sock", vm->dir);
	if (c->control)
		snprintf(vm->ctl_path, sizeof(vm->ctl_path), "%s/ctl.sock",
			 vm->dir);
	snprintf(vm->console_path, sizeof(vm->console_path), "%s/console.log",
		 vm->dir);
	/* Unique per start: a stale file of an earlier run is never reused. */
	n = snprintf(vm->ram_path, sizeof(vm->ram_path),
		     "%s/kvmon-%s-%d-%lld.ram", memdir, c->name, (int)getpid(),
		     (long long)kvmon_now_ms());
	if (n < 0 || (size_t)n >= sizeof(vm->ram_path))
		return kvmon_set_error(ENAMETOOLONG, "RAM path too long");
	if (check_path_arg("RAM", vm->ram_path) < 0 ||
	    check_path_arg("run dir", vm->dir) < 0 ||
	    check_path_arg("disk", c->disk) < 0)
		return -1;
	return 0;
}

/* Create the per-VM run dir; a stale one of a dead VM is cleaned first. */
static int make_vm_dir(struct kvmon_vm *vm, const char *rundir)
{
	if (kvmon_mkdirs(rundir, 0700) < 0)
		return -1;
	if (mkdir(vm->dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return kvmon_set_error(errno, "mkdir %s: %s", vm->dir,
				       strerror(errno));
	{
		struct kvmon_vm *old = kvmon_vm_open(rundir, vm->name);
		bool alive = old && kvmon_pid_alive(old->pid);

		if (old && !alive)
			kvmon_vm_stop(old, 0, 1000); /* cleans stale state */
		else
			kvmon_vm_close(old);
		if (alive)
			return kvmon_set_error(EEXIST, "VM '%s' is already running",
					       vm->name);
	}
	if (mkdir(vm->dir, 0700) < 0)
		return kvmon_set_error(errno, "mkdir %s: %s", vm->dir,
				       strerror(errno));
	return 0;
}

static int make_overlay(struct kvmon_vm *vm, const char *disk,
			const char *logpath)
{
	char abs[PATH_MAX];
	char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b", abs,
			 "-F", NULL, vm->overlay_path, NULL };

	if (!realpath(disk, abs))
		return kvmon_set_error(errno, "disk %s: %s", disk,
				       strerror(errno));
	argv[8] = (char *)kvmon_image_format(abs);
	snprintf(vm->overlay_path, sizeof(vm->overlay_path),
		 "%s/disk-overlay.qcow2", vm->dir);
	if (run_helper(argv, logpath) < 0)
		return kvmon_error_prefix("creating disk overlay");
	snprintf(vm->disk_path, sizeof(vm->disk_path), "%s", vm->overlay_path);
	return 0;
}

static pid_t read_pidfile(const char *path)
{
	char *s = kvmon_read_file(path, 64, NULL);
	long v;

	if (!s)
		return -1;
	v = strtol(s, NULL, 10);
	free(s);
	return v > 0 && v < INT32_MAX ? (pid_t)v : -1;
}

/* Tail of QEMU's log for an error message. */
static void log_tail(const char *logpath, char *out, size_t size)
{
	char *s = kvmon_read_file(logpath, 1 << 16, NULL);
	size_t n;

	out[0] = '\0';
	if (!s)
		return;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	snprintf(out, size, "%s", n > 400 ? s + n - 400 : s);
	free(s);
}

static int spawn_qemu(const struct kvmon_vm_config *c, struct kvmon_vm *vm,
		      const char *logpath)
{
	struct argv_buf a = { .n = 0 };
	char pidfile[PATH_MAX + 16], tail[512];
	posix_spawn_file_actions_t fa;
	int status, rc;
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s/qemu.pid", vm->dir);
	if (build_argv(c, vm, pidfile, &a) < 0) {
		argv_free(&a);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logpath,
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, a.v[0], &fa, NULL, a.v, environ);
	posix_spawn_file_actions_destroy(&fa);
	argv_free(&a);
	if (rc != 0)
		return kvmon_set_error(rc, "cannot run %s: %s",
				       c->qemu ? c->qemu : "qemu-system-x86_64",
				       strerror(rc));
	/* With -daemonize the parent exits once QEMU is initialised. */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kvmon_set_error(errno, "waitpid: %s",
					       strerror(errno));
	vm->pid = read_pidfile(pidfile);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || vm->pid <= 0) {
		log_tail(logpath, tail, sizeof(tail));
		return kvmon_set_error(EIO, "QEMU failed to start: %s",
				       *tail ? tail : "(no output)");
	}
	return 0;
}

static int connect_qmp(struct kvmon_vm *vm)
{
	int64_t deadline = kvmon_now_ms() + START_TIMEOUT_MS;

	for (;;) {
		vm->qmp = kvmon_qmp_connect(vm->qmp_path, 0);
		if (vm->qmp)
			return 0;
		if (kvmon_ms_left(deadline) == 0 || !kvmon_pid_alive(vm->pid))
			return kvmon_error_prefix("QMP of VM '%s'", vm->name);
		usleep(50 * 1000);
	}
}

struct kvmon_vm *kvmon_vm_start(const struct kvmon_vm_config *c)
{
	const char *rundir;
	struct kvmon_vm *vm;
	char logpath[PATH_MAX + 16];
	bool made_dir = false;

	if (!c) {
		kvmon_set_error(EINVAL, "no VM configuration");
		return NULL;
	}
	rundir = c->rundir ? c->rundir : kvmon_default_rundir();
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	vm->pid = -1;
	vm->started_by_kvmon = true;
	if (set_paths(vm, c) < 0 || make_vm_dir(vm, rundir) < 0)
		goto fail;
	made_dir = true;
	snprintf(logpath, sizeof(logpath), "%s/qemu.log", vm->dir);
	if (c->disk && c->disk_overlay) {
		if (make_overlay(vm, c->disk, logpath) < 0)
			goto fail;
	} else if (c->disk) {
		snprintf(vm->disk_path, sizeof(vm->disk_path), "%s", c->disk);
	}
	vm->http_port = (int)c->http_port;
	if (c->http_port == 0 && (vm->http_port = pick_free_port()) < 0)
		goto fail;
	if (spawn_qemu(c, vm, logpath) < 0 || connect_qmp(vm) < 0 ||
	    kvmon_vm_save_state(vm) < 0)
		goto fail;
	return vm;
fail:
	kvmon_error_prefix("starting VM '%s'", c->name);
	if (vm->pid > 0 && kvmon_pid_alive(vm->pid))
		kill(vm->pid, SIGKILL);
	kvmon_qmp_close(vm->qmp);
	if (*vm->ram_path)
		unlink(vm->ram_path);
	if (made_dir) {
		char saved[1024];
		int err = kvmon_get_errno();

		snprintf(saved, sizeof(saved), "%s", kvmon_get_error());
		kvmon_rmtree(vm->dir);
		kvmon_set_error(err, "%s", saved);
	}
	free(vm);
	return NULL;
}
