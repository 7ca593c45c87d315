/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A monitored VM: run state of VMs kvmon started (vm.json in the run dir),
 * attaching to any QEMU by its QMP socket, stopping, and what QEMU reports
 * about the VM (info, RAM layout, memory backends).
 */
#define _GNU_SOURCE
#include "vm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAX (64 * 1024)

static void put_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

int kvmon_vm_save_state(const struct kvmon_vm *vm)
{
	struct json_object *o = json_object_new_object();
	char path[PATH_MAX + 16];
	const char *text;
	int rc;

	put_str(o, "name", vm->name);
	json_object_object_add(o, "pid", json_object_new_int(vm->pid));
	put_str(o, "qmp", vm->qmp_path);
	put_str(o, "control", vm->ctl_path);
	put_str(o, "console", vm->console_path);
	put_str(o, "ram", vm->ram_path);
	put_str(o, "disk", vm->disk_path);
	put_str(o, "overlay", vm->overlay_path);
	json_object_object_add(o, "http_port", json_object_new_int(vm->http_port));
	json_object_object_add(o, "started",
			       json_object_new_int64((int64_t)time(NULL)));
	put_str(o, "kvmon_version", KVMON_VERSION);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	snprintf(path, sizeof(path), "%s/vm.json", vm->dir);
	rc = kvmon_write_file_atomic(path, text, strlen(text));
	json_object_put(o);
	return rc;
}

static int get_path(struct json_object *o, const char *k, char *dst,
		    size_t size)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v)) {
		dst[0] = '\0';
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    kvmon_strlcpy(dst, json_object_get_string(v), size) < 0)
		return kvmon_set_error(EINVAL, "vm.json: bad '%s'", k);
	return 0;
}

static int load_state(struct kvmon_vm *vm, const char *path)
{
	char *text = kvmon_read_file(path, STATE_MAX, NULL);
	struct json_object *o, *v;
	int rc = 0;

	if (!text)
		return -1;
	o = json_tokener_parse(text);
	free(text);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return kvmon_set_error(EINVAL, "%s: not a JSON object", path);
	}
	if (get_path(o, "qmp", vm->qmp_path, sizeof(vm->qmp_path)) < 0 ||
	    get_path(o, "control", vm->ctl_path, sizeof(vm->ctl_path)) < 0 ||
	    get_path(o, "console", vm->console_path,
		     sizeof(vm->console_path)) < 0 ||
	    get_path(o, "ram", vm->ram_path, sizeof(vm->ram_path)) < 0 ||
	    get_path(o, "disk", vm->disk_path, sizeof(vm->disk_path)) < 0 ||
	    get_path(o, "overlay", vm->overlay_path,
		     sizeof(vm->overlay_path)) < 0)
		rc = -1;
	vm->pid = json_object_object_get_ex(o, "pid", &v)
			  ? (pid_t)json_object_get_int(v)
			  : -1;
	vm->http_port = json_object_object_get_ex(o, "http_port", &v)
				? json_object_get_int(v)
				: -1;
	json_object_put(o);
	return rc;
}

struct kvmon_vm *kvmon_vm_open(const char *rundir, const char *name)
{
	struct kvmon_vm *vm;
	char path[PATH_MAX + 16];

	if (!kvmon_valid_name(name)) {
		kvmon_set_error(EINVAL, "invalid VM name '%s'", name ? name : "");
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	snprintf(vm->dir, sizeof(vm->dir), "%s/%s",
		 rundir ? rundir : kvmon_default_rundir(), name);
	snprintf(path, sizeof(path), "%s/vm.json", vm->dir);
	vm->started_by_kvmon = true;
	if (access(path, F_OK) < 0) {
		kvmon_set_error(ENOENT, "no VM named '%s' (no %s)", name, path);
		free(vm);
		return NULL;
	}
	if (load_state(vm, path) < 0) {
		kvmon_error_prefix("VM '%s'", name);
		free(vm);
		return NULL;
	}
	return vm;
}

struct kvmon_vm *kvmon_vm_attach(const char *qmp_socket)
{
	struct kvmon_vm *vm = calloc(1, sizeof(*vm));
	struct json_object *ret = NULL, *v;

	if (!vm) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	if (!qmp_socket ||
	    kvmon_strlcpy(vm->qmp_path, qmp_socket, sizeof(vm->qmp_path)) < 0) {
		kvmon_set_error(EINVAL, "bad QMP socket path");
		free(vm);
		return NULL;
	}
	vm->qmp = kvmon_qmp_connect(qmp_socket, 0);
	if (!vm->qmp) {
		free(vm);
		return NULL;
	}
	vm->pid = kvmon_qmp_peer_pid(vm->qmp);
	vm->http_port = -1;
	/* The VM's own -name if it has one, else the socket path. */
	if (kvmon_qmp_call(vm->qmp, "query-name", NULL, &ret) == 0 &&
	    json_object_object_get_ex(ret, "name", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(vm->name, sizeof(vm->name), "%s",
			 json_object_get_string(v));
	else
		snprintf(vm->name, sizeof(vm->name), "%s", qmp_socket);
	json_object_put(ret);
	return vm;
}

struct kvmon_qmp *kvmon_vm_qmp(struct kvmon_vm *vm)
{
	if (!vm) {
		kvmon_set_error(EINVAL, "no VM");
		return NULL;
	}
	if (!vm->qmp) {
		vm->qmp = kvmon_qmp_connect(vm->qmp_path, 0);
		if (!vm->qmp)
			kvmon_error_prefix("VM '%s'", vm->name);
	}
	return vm->qmp;
}

const char *kvmon_vm_name(const struct kvmon_vm *vm)
{
	return vm ? vm->name : "";
}

pid_t kvmon_vm_pid(const struct kvmon_vm *vm)
{
	return vm ? vm->pid : -1;
}

int kvmon_vm_http_port(const struct kvmon_vm *vm)
{
	return vm ? vm->http_port : -1;
}

const char *kvmon_vm_path(const struct kvmon_vm *vm, const char *what)
{
	const char *p = NULL;

	if (!vm || !what)
		return NULL;
	if (!strcmp(what, "qmp"))
		p = vm->qmp_path;
	else if (!strcmp(what, "control"))
		p = vm->ctl_path;
	else if (!strcmp(what, "console"))
		p = vm->console_path;
	else if (!strcmp(what, "ram"))
		p = vm->ram_path;
	else if (!strcmp(what, "disk"))
		p = vm->disk_path;
	else if (!strcmp(what, "rundir"))
		p = vm->dir;
	return p && *p ? p : NULL;
}

void kvmon_vm_disconnect(struct kvmon_vm *vm)
{
	if (!vm)
		return;
	kvmon_qmp_close(vm->qmp);
	vm->qmp = NULL;
}

void kvmon_vm_free(struct kvmon_vm *vm)
{
	if (!vm)
		return;
	kvmon_qmp_close(vm->qmp);
	free(vm);
}

void kvmon_vm_close(struct kvmon_vm *vm)
{
	kvmon_vm_free(vm);
}

/* Is pid still the QEMU we started (pid numbers get reused)? */
static bool is_our_qemu(const struct kvmon_vm *vm)
{
	char path[64], *cmd;
	size_t len;
	bool ours = false;

	if (!kvmon_pid_alive(vm->pid))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)vm->pid);
	cmd = kvmon_read_file(path, 1 << 16, &len);
	if (!cmd)
		return false;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	ours = *vm->qmp_path && strstr(cmd, vm->qmp_path) != NULL;
	free(cmd);
	return ours;
}

static bool wait_gone(const struct kvmon_vm *vm, int ms)
{
	int64_t deadline = kvmon_now_ms() + ms;

	while (kvmon_pid_alive(vm->pid)) {
		if (kvmon_ms_left(deadline) == 0)
			return false;
		usleep(20 * 1000);
	}
	return true;
}

static void remove_run_state(struct kvmon_vm *vm)
{
	if (*vm->ram_path)
		unlink(vm->ram_path);
	if (*vm->overlay_path)
		unlink(vm->overlay_path);
	if (*vm->dir)
		kvmon_rmtree(vm->dir);
}

int kvmon_vm_stop(struct kvmon_vm *vm, unsigned flags, int timeout_ms)
{
	bool ours, gone;

	if (!vm)
		return kvmon_set_error(EINVAL, "no VM");
	if (timeout_ms <= 0)
		timeout_ms = 10000;
	ours = vm->started_by_kvmon ? is_our_qemu(vm) : kvmon_pid_alive(vm->pid);
	if (ours || !vm->started_by_kvmon) {
		struct kvmon_qmp *q = kvmon_vm_qmp(vm);

		if (q && (flags & KVMON_STOP_GRACEFUL)) {
			kvmon_qmp_call(q, "system_powerdown", NULL, NULL);
			wait_gone(vm, timeout_ms / 2);
		}
		/* QEMU may close the socket before its reply: not an error. */
		if (q && kvmon_pid_alive(vm->pid))
			kvmon_qmp_call(q, "quit", NULL, NULL);
	}
	gone = wait_gone(vm, timeout_ms);
	if (!gone && vm->started_by_kvmon && is_our_qemu(vm)) {
		kill(vm->pid, SIGTERM);
		gone = wait_gone(vm, 2000);
		if (!gone && is_our_qemu(vm)) {
			kill(vm->pid, SIGKILL);
			gone = wait_gone(vm, 2000);
		}
	}
	kvmon_qmp_close(vm->qmp);
	vm->qmp = NULL;
	if (!gone && vm->pid > 0 && kvmon_pid_alive(vm->pid))
		return kvmon_set_error(ETIMEDOUT, "VM '%s' (pid %d) did not stop",
				       vm->name, (int)vm->pid);
	if (vm->started_by_kvmon)
		remove_run_state(vm);
	kvmon_vm_free(vm);
	return 0;
}

int kvmon_vm_ram_layout(struct kvmon_vm *vm, struct kvmon_ram_range *out,
			size_t max, size_t *count)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	char *text;
	int rc;

	if (!q)
		return -1;
	if (kvmon_qmp_hmp(q, "info mtree -f", &text) < 0)
		return -1;
	rc = kvmon_parse_mtree(text, strlen(text), out, max, count);
	free(text);
	return rc;
}

static const char *obj_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, k, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* qom-get of a string property, copied into dst ("" if absent). */
static void qom_get_str(struct kvmon_qmp *q, const char *path,
			const char *prop, char *dst, size_t size)
{
	struct json_object *args = json_object_new_object(), *ret = NULL;

	dst[0] = '\0';
	put_str(args, "path", path);
	put_str(args, "property", prop);
	if (kvmon_qmp_call(q, "qom-get", args, &ret) == 0 &&
	    json_object_is_type(ret, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(ret));
	json_object_put(ret);
	json_object_put(args);
}

int kvmon_vm_memdevs(struct kvmon_vm *vm, struct kvmon_memdev *out,
		     size_t max, size_t *count)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	struct json_object *ret = NULL;
	size_t n = 0, len;

	*count = 0;
	if (!q || kvmon_qmp_call(q, "query-memdev", NULL, &ret) < 0)
		return -1;
	if (!json_object_is_type(ret, json_type_array)) {
		json_object_put(ret);
		return kvmon_set_error(EPROTO, "query-memdev: not an array");
	}
	len = json_object_array_length(ret);
	for (size_t i = 0; i < len && n < max; i++) {
		struct json_object *m = json_object_array_get_idx(ret, i), *v;
		struct kvmon_memdev *d = &out[n];
		const char *id = obj_str(m, "id");
		char qpath[128];

		if (!id || !kvmon_valid_name(id))
			continue;
		memset(d, 0, sizeof(*d));
		snprintf(d->id, sizeof(d->id), "%s", id);
		if (json_object_object_get_ex(m, "size", &v))
			d->size = (uint64_t)json_object_get_int64(v);
		d->share = json_object_object_get_ex(m, "share", &v) &&
			   json_object_get_boolean(v);
		snprintf(qpath, sizeof(qpath), "/objects/%s", id);
		qom_get_str(q, qpath, "type", d->type, sizeof(d->type));
		if (!strcmp(d->type, "memory-backend-file"))
			qom_get_str(q, qpath, "mem-path", d->path,
				    sizeof(d->path));
		n++;
	}
	json_object_put(ret);
	*count = n;
	return 0;
}

/* Run a query and attach its "return" under key (or null on error). */
static void add_query(struct json_object *info, struct kvmon_qmp *q,
		      const char *key, const char *command)
{
	struct json_object *ret = NULL;

	if (kvmon_qmp_call(q, command, NULL, &ret) < 0)
		ret = NULL;
	json_object_object_add(info, key, ret);
}

static struct json_object *ram_json(struct kvmon_vm *vm)
{
	struct kvmon_ram_range r[KVMON_MAX_RAM_RANGES];
	struct kvmon_memdev md[8];
	struct json_object *ram = json_object_new_object(), *arr;
	size_t n = 0, nmd = 0;

	add_query(ram, vm->qmp, "summary", "query-memory-size-summary");
	arr = json_object_new_array();
	if (kvmon_vm_memdevs(vm, md, ARRAY_SIZE(md), &nmd) == 0) {
		for (size_t i = 0; i < nmd; i++) {
			struct json_object *o = json_object_new_object();

			put_str(o, "id", md[i].id);
			put_str(o, "type", md[i].type);
			put_str(o, "path", md[i].path);
			json_object_object_add(o, "size",
					       json_object_new_int64((int64_t)md[i].size));
			json_object_object_add(o, "share",
					       json_object_new_boolean(md[i].share));
			json_object_array_add(arr, o);
		}
	}
	json_object_object_add(ram, "backends", arr);
	arr = json_object_new_array();
	if (kvmon_vm_ram_layout(vm, r, ARRAY_SIZE(r), &n) == 0) {
		for (size_t i = 0; i < n && i < ARRAY_SIZE(r); i++) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "gpa",
					       json_object_new_uint64(r[i].gpa));
			json_object_object_add(o, "size",
					       json_object_new_uint64(r[i].size));
			put_str(o, "backend", r[i].backend);
			json_object_object_add(o, "backend_offset",
					       json_object_new_uint64(r[i].backend_offset));
			json_object_array_add(arr, o);
		}
	}
	json_object_object_add(ram, "layout", arr);
	return ram;
}

int kvmon_vm_info_json(struct kvmon_vm *vm, char **json)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	struct json_object *info, *paths;
	static const char *const which[] = { "qmp", "control", "console",
					     "ram", "disk", "rundir" };

	*json = NULL;
	if (!q)
		return -1;
	info = json_object_new_object();
	put_str(info, "name", vm->name);
	json_object_object_add(info, "pid", json_object_new_int(vm->pid));
	json_object_object_add(info, "started_by_kvmon",
			       json_object_new_boolean(vm->started_by_kvmon));
	put_str(info, "qemu_version", kvmon_qmp_qemu_version(q));
	add_query(info, q, "status", "query-status");
	add_query(info, q, "accel", "query-kvm");
	json_object_object_add(info, "ram", ram_json(vm));
	add_query(info, q, "disks", "query-block");
	add_query(info, q, "nics", "query-rx-filter");
	add_query(info, q, "balloon", "query-balloon");
	paths = json_object_new_object();
	for (size_t i = 0; i < ARRAY_SIZE(which); i++) {
		const char *p = kvmon_vm_path(vm, which[i]);

		json_object_object_add(paths, which[i],
				       p ? json_object_new_string(p) : NULL);
	}
	json_object_object_add(info, "paths", paths);
	json_object_object_add(info, "http_port",
			       json_object_new_int(vm->http_port));
	*json = kvmon_strdup(
		json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN));
	json_object_put(info);
	return *json ? 0 : -1;
}

/* Scan the console log from *off for text; chunks overlap by len-1 bytes so
 * a match across two reads is still seen. */
static int scan_console(int fd, off_t *off, const char *text)
{
	char buf[65536 + 256];
	size_t tlen = strlen(text);

	for (;;) {
		ssize_t r = pread(fd, buf, sizeof(buf) - 1, *off);

		if (r < 0)
			return kvmon_set_error(errno, "read console: %s",
					       strerror(errno));
		if ((size_t)r < tlen)
			return 0;
		if (memmem(buf, (size_t)r, text, tlen))
			return 1;
		*off += r - (ssize_t)(tlen - 1);
		if ((size_t)r < sizeof(buf) - 1)
			return 0;
	}
}

int kvmon_vm_wait_console(struct kvmon_vm *vm, const char *text, int timeout_ms)
{
	int64_t deadline = kvmon_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	off_t off = 0;
	int fd, rc;

	if (!vm || !text || !*text || strlen(text) > 256)
		return kvmon_set_error(EINVAL, "wait_console: bad arguments");
	if (!*vm->console_path)
		return kvmon_set_error(ENOTSUP, "VM '%s' has no console log",
				       vm->name);
	fd = open(vm->console_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return kvmon_set_error(errno, "open %s: %s", vm->console_path,
				       strerror(errno));
	for (;;) {
		rc = scan_console(fd, &off, text);
		if (rc != 0)
			break;
		if (!kvmon_pid_alive(vm->pid)) {
			rc = kvmon_set_error(ESRCH, "VM '%s' exited", vm->name);
			break;
		}
		if (kvmon_ms_left(deadline) == 0) {
			rc = kvmon_set_error(ETIMEDOUT,
					     "VM '%s': '%s' not seen on the "
					     "console within %d ms",
					     vm->name, text, timeout_ms);
			break;
		}
		usleep(50 * 1000);
	}
	close(fd);
	return rc < 0 ? -1 : 0;
}
