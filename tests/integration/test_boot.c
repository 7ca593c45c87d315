/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Boot the bundled guest, confirm it over QMP, find the kernel banner in
 * guest RAM through the shared memory file, attach to the same QEMU by its
 * QMP socket, and stop it leaving nothing behind.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct json_object *query(struct kvmon_qmp *q, const char *cmd)
{
	char *reply = NULL;
	struct json_object *o;

	if (kvmon_qmp_execute(q, cmd, NULL, &reply) < 0)
		return NULL;
	o = json_tokener_parse(reply);
	kvmon_free(reply);
	return o;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* Kernel version string from the guest build's manifest. */
static char *manifest_kernel(void)
{
	const char *g = getenv("KVMON_GUEST_DIR");
	char path[PATH_MAX];
	struct json_object *m;
	char *ver = NULL;

	snprintf(path, sizeof(path), "%s/manifest.json", g ? g : ".cache/guest");
	m = json_object_from_file(path);
	if (m)
		ver = strdup(jstr(m, "kernel_version"));
	json_object_put(m);
	return ver;
}

static void check_qmp(struct kvmon_vm *vm)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	struct json_object *st, *ver, *bal;

	ok(q != NULL, "QMP connected");
	st = query(q, "query-status");
	ok(st && !strcmp(jstr(st, "status"), "running"), "QMP: guest is running");
	ver = query(q, "query-version");
	ok(ver != NULL && kvmon_qmp_peer_pid(q) == kvmon_vm_pid(vm),
	   "QMP peer pid %d is the QEMU we started", (int)kvmon_qmp_peer_pid(q));
	bal = query(q, "query-balloon");
	ok(bal && json_object_get_int64(json_object_object_get(bal, "actual")) ==
			  256ll << 20,
	   "virtio-balloon present, actual = 256 MiB");
	json_object_put(st);
	json_object_put(ver);
	json_object_put(bal);
}

static void check_layout(struct kvmon_vm *vm)
{
	struct kvmon_ram_range r[16];
	uint64_t mem_total = 0;
	size_t n = 0;

	int rc = kvmon_vm_ram_layout(vm, r, 16, &n);

	ok(rc == 0 && n >= 2, "RAM layout from QEMU: %zu ranges", n);
	for (size_t i = 0; i < n && i < 16; i++)
		if (!strcmp(r[i].backend, "mem"))
			mem_total += r[i].size;
	/* Without VGA, firmware maps all of the low 1 MiB as RAM too. */
	ok(mem_total == 256u << 20, "RAM ranges of backend 'mem' cover 256 MiB");
}

static void check_banner(struct kvmon_vm *vm)
{
	struct kvmon_mem *m = kvmon_mem_open(vm);
	char text[200] = "", *kver = manifest_kernel();
	uint64_t at = 0;
	int found;

	ok(m != NULL, "guest RAM opened read-only through the shared file (%s)",
	   m ? "ok" : kvmon_get_error());
	if (!m) {
		free(kver);
		return;
	}
	ok(kvmon_mem_size(m) == 256u << 20, "mapped RAM size");
	found = kvmon_mem_find(m, 0, "Linux version ", 14, &at);
	ok(found == 1, "kernel banner found in guest RAM at 0x%llx",
	   (unsigned long long)at);
	ok(kvmon_mem_read_phys(m, at, text, sizeof(text) - 1) == 0,
	   "banner read by guest-physical address");
	text[sizeof(text) - 1] = '\0';
	ok(kver && *kver && strstr(text, kver) != NULL,
	   "banner names the bundled kernel %s", kver ? kver : "?");
	diag("%.120s", text);
	found = kvmon_mem_read_phys(m, 0xfffc0000ull, text, 16);
	ok(found < 0, "BIOS ROM is not guest RAM: read refused (%s)",
	   kvmon_get_error());
	found = kvmon_mem_read_phys(m, (256u << 20) - 8, text, 16);
	ok(found < 0, "read past the end of RAM refused (%s)", kvmon_get_error());
	kvmon_mem_close(m);
	free(kver);
}

static void check_attach(struct kvmon_vm *vm)
{
	struct kvmon_vm *other;
	char *info = NULL;

	/* One QMP client per socket: let the attach in. */
	kvmon_vm_disconnect(vm);
	other = kvmon_vm_attach(kvmon_vm_path(vm, "qmp"));

	ok(other != NULL, "attach to a running QEMU by its QMP socket");
	if (!other)
		return;
	ok(kvmon_vm_pid(other) == kvmon_vm_pid(vm) &&
		   !strcmp(kvmon_vm_name(other), kvmon_vm_name(vm)),
	   "attached VM: pid from the socket peer, name from query-name");
	ok(kvmon_vm_info_json(other, &info) == 0 && strstr(info, "\"layout\"") &&
		   strstr(info, "\"node-name\":\"disk0\"") &&
		   strstr(info, "\"nic0\""),
	   "info of the attached VM has RAM layout, disk node and NIC");
	kvmon_free(info);
	kvmon_vm_close(other);
	ok(kvmon_vm_qmp(vm) != NULL, "the first handle reconnects afterwards");
}

int main(void)
{
	struct kvmon_vm *vm;
	char rundir[PATH_MAX], ram[PATH_MAX];
	pid_t pid;

	tguest_require();
	vm = tguest_start("boot");
	ok(vm != NULL, "bundled guest boots to its ready line");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	pid = kvmon_vm_pid(vm);
	snprintf(rundir, sizeof(rundir), "%s", kvmon_vm_path(vm, "rundir"));
	snprintf(ram, sizeof(ram), "%s", kvmon_vm_path(vm, "ram"));
	check_qmp(vm);
	check_layout(vm);
	check_banner(vm);
	check_attach(vm);
	ok(tguest_stop(vm) == 0, "VM stopped, QEMU pid %d gone", (int)pid);
	ok(access(rundir, F_OK) < 0 && access(ram, F_OK) < 0,
	   "run dir and RAM file removed");
	return tap_done();
}
