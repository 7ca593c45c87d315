/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon vm start|stop|status|info|list */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char vm_usage[] =
	"Usage: kvmon vm COMMAND [OPTIONS]\n"
	"  start   launch a monitorable VM (the bundled guest by default)\n"
	"  stop    stop a VM and remove its run state\n"
	"  status  is the VM running?\n"
	"  info    QEMU version, pid, RAM size and layout, disks, NICs, balloon\n"
	"  list    VMs kvmon started\n"
	"Run 'kvmon vm COMMAND --help' for a command's options.\n"
	"Exit: 0 ok, 1 VM not running (status), 2 error.\n";

static const char start_usage[] =
	"Usage: kvmon vm start [OPTIONS]\n"
	"Launch QEMU with guest RAM in a shared file, QMP, a named virtio-blk\n"
	"node, virtio-net, virtio-balloon and vmcoreinfo. Without --kernel the\n"
	"bundled test guest is used (built first if needed).\n"
	"  --kernel FILE    kernel image\n"
	"  --initrd FILE    initramfs\n"
	"  --append TEXT    kernel command line\n"
	"  --disk FILE      qcow2 or raw disk\n"
	"  --no-overlay     let the guest write to --disk itself (default: a\n"
	"                   per-run overlay takes the writes)\n"
	"  --memory MB      guest RAM (default 256)\n"
	"  --cpus N         vCPUs (default 1)\n"
	"  --accel tcg|kvm  accelerator (default tcg)\n"
	"  --mem-dir DIR    where the RAM file lives (default /dev/shm; a\n"
	"                   hugetlbfs mount for 2 MiB pages)\n"
	"  --http-port P    forward 127.0.0.1:P to guest port 80 (0: any free)\n"
	"  --control        add the test-control port (default with the bundled\n"
	"                   guest)\n"
	"  --wait           wait until the bundled guest reports it is ready\n"
	COMMON_HELP
	"Exit: 0 started, 2 error.\n";

static const char stop_usage[] =
	"Usage: kvmon vm stop [OPTIONS]\n"
	"Stop the VM (QMP quit) and remove everything kvmon created for it.\n"
	"  --graceful       ask the guest to power off first (ACPI)\n"
	COMMON_HELP
	"Exit: 0 stopped, 2 error.\n";

static const char status_usage[] =
	"Usage: kvmon vm status [OPTIONS]\n"
	COMMON_HELP
	"Exit: 0 running, 1 exists but not running, 2 error.\n";

static const char info_usage[] =
	"Usage: kvmon vm info [OPTIONS]\n"
	"What QEMU reports: version, pid, run state, accelerator, RAM size,\n"
	"memory backends and guest-physical RAM layout, disks, NICs, balloon.\n"
	COMMON_HELP
	"Exit: 0 ok, 2 error.\n";

static const char list_usage[] =
	"Usage: kvmon vm list [--rundir DIR] [--json]\n"
	"Exit: 0 ok, 2 error.\n";

enum {
	OPT_KERNEL = OPT_FIRST_LOCAL, OPT_INITRD, OPT_APPEND, OPT_DISK,
	OPT_NO_OVERLAY, OPT_MEMORY, OPT_CPUS, OPT_ACCEL, OPT_MEM_DIR,
	OPT_HTTP_PORT, OPT_CONTROL, OPT_WAIT, OPT_GRACEFUL,
};

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return (errno || *end || !*s || *out < lo || *out > hi) ? -1 : 0;
}

struct start_opts {
	const char *kernel, *initrd, *append, *disk, *accel, *mem_dir;
	long memory, cpus, http_port;
	bool no_overlay, control, wait;
};

static int apply_start_opts(struct kvmon_vm_config *cfg,
			    const struct start_opts *o, const struct cli *c)
{
	const char *keys[] = { "kernel", "initrd", "append", "disk", "accel",
			       "mem-dir", "rundir" };
	const char *vals[] = { o->kernel, o->initrd, o->append, o->disk,
			       o->accel, o->mem_dir, c->rundir };

	if (!o->kernel && guest_configure(cfg) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (vals[i] && kvmon_vm_config_set(cfg, keys[i], vals[i]) < 0)
			return -1;
	if ((o->memory && kvmon_vm_config_set_int(cfg, "memory-mb", o->memory) < 0) ||
	    (o->cpus && kvmon_vm_config_set_int(cfg, "cpus", o->cpus) < 0) ||
	    (o->http_port >= 0 &&
	     kvmon_vm_config_set_int(cfg, "http-port", o->http_port) < 0) ||
	    (o->control && kvmon_vm_config_set_int(cfg, "control", 1) < 0) ||
	    (o->no_overlay && kvmon_vm_config_set_int(cfg, "disk-overlay", 0) < 0))
		return -1;
	return 0;
}

static void add_path(struct json_object *o, struct kvmon_vm *vm,
		     const char *key, const char *what)
{
	const char *p = kvmon_vm_path(vm, what);

	json_object_object_add(o, key, p ? json_object_new_string(p) : NULL);
}

static void print_started(const struct cli *c, struct kvmon_vm *vm)
{
	struct json_object *o;

	if (!c->json) {
		printf("started VM '%s' (pid %d)\n  qmp:     %s\n  console: %s\n",
		       kvmon_vm_name(vm), (int)kvmon_vm_pid(vm),
		       kvmon_vm_path(vm, "qmp"), kvmon_vm_path(vm, "console"));
		if (kvmon_vm_path(vm, "control"))
			printf("  control: %s\n", kvmon_vm_path(vm, "control"));
		if (kvmon_vm_http_port(vm) > 0)
			printf("  http:    http://127.0.0.1:%d/\n",
			       kvmon_vm_http_port(vm));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(kvmon_vm_name(vm)));
	json_object_object_add(o, "pid", json_object_new_int(kvmon_vm_pid(vm)));
	add_path(o, vm, "qmp", "qmp");
	add_path(o, vm, "console", "console");
	add_path(o, vm, "control", "control");
	add_path(o, vm, "ram", "ram");
	add_path(o, vm, "disk", "disk");
	json_object_object_add(o, "http_port",
			       json_object_new_int(kvmon_vm_http_port(vm)));
	cli_emit(o);
}

static int vm_start(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "no-overlay", no_argument, NULL, OPT_NO_OVERLAY },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "accel", required_argument, NULL, OPT_ACCEL },
		{ "mem-dir", required_argument, NULL, OPT_MEM_DIR },
		{ "http-port", required_argument, NULL, OPT_HTTP_PORT },
		{ "control", no_argument, NULL, OPT_CONTROL },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ 0 }
	};
	struct start_opts o = { .http_port = -1 };
	struct kvmon_vm_config *cfg;
	struct kvmon_vm *vm;
	struct cli c;
	int opt, rc;

	cli_init(&c, "kvmon vm start");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0)
			return EXIT_ERROR;
		if (rc)
			continue;
		switch (opt) {
		case OPT_HELP: fputs(start_usage, stdout); return EXIT_OK;
		case OPT_KERNEL: o.kernel = optarg; break;
		case OPT_INITRD: o.initrd = optarg; break;
		case OPT_APPEND: o.append = optarg; break;
		case OPT_DISK: o.disk = optarg; break;
		case OPT_NO_OVERLAY: o.no_overlay = true; break;
		case OPT_ACCEL: o.accel = optarg; break;
		case OPT_MEM_DIR: o.mem_dir = optarg; break;
		case OPT_CONTROL: o.control = true; break;
		case OPT_WAIT: o.wait = true; break;
		case OPT_MEMORY:
			if (parse_long(optarg, 64, 1 << 20, &o.memory) < 0)
				return cli_fail(&c, "bad --memory '%s'", optarg);
			break;
		case OPT_CPUS:
			if (parse_long(optarg, 1, 64, &o.cpus) < 0)
				return cli_fail(&c, "bad --cpus '%s'", optarg);
			break;
		case OPT_HTTP_PORT:
			if (parse_long(optarg, 0, 65535, &o.http_port) < 0)
				return cli_fail(&c, "bad --http-port '%s'", optarg);
			break;
		default: return cli_usage_error(&c, start_usage);
		}
	}
	if (optind != argc || c.qmp)
		return cli_usage_error(&c, start_usage);
	if (!o.kernel && guest_ensure(c.json) < 0)
		return cli_fail(&c, "the bundled guest is not available");
	cfg = kvmon_vm_config_new(c.name);
	if (!cfg || apply_start_opts(cfg, &o, &c) < 0) {
		kvmon_vm_config_free(cfg);
		return cli_lib_fail(&c, "configuration");
	}
	cli_progress("starting VM '%s'...", c.name);
	vm = kvmon_vm_start(cfg);
	kvmon_vm_config_free(cfg);
	if (!vm)
		return cli_lib_fail(&c, "start");
	if (o.wait) {
		cli_progress("waiting for the guest to boot...");
		if (kvmon_vm_wait_console(vm, GUEST_READY_LINE,
					  (c.timeout_s ? c.timeout_s : 120) * 1000) < 0) {
			rc = cli_lib_fail(&c, "boot");
			kvmon_vm_stop(vm, 0, 5000);
			return rc;
		}
	}
	cli_progress_done();
	print_started(&c, vm);
	kvmon_vm_close(vm);
	return EXIT_OK;
}

static int parse_common_only(struct cli *c, int argc, char **argv,
			     const char *usage, bool *graceful)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "graceful", no_argument, NULL, OPT_GRACEFUL },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(c, opt, optarg)) < 0)
			return -1;
		if (rc)
			continue;
		if (opt == OPT_HELP) {
			fputs(usage, stdout);
			return 1;
		}
		if (opt == OPT_GRACEFUL && graceful) {
			*graceful = true;
			continue;
		}
		cli_usage_error(c, usage);
		return -1;
	}
	if (optind != argc) {
		cli_usage_error(c, usage);
		return -1;
	}
	return 0;
}

static int vm_stop(int argc, char **argv)
{
	struct kvmon_vm *vm;
	bool graceful = false;
	struct cli c;
	int rc;

	cli_init(&c, "kvmon vm stop");
	rc = parse_common_only(&c, argc, argv, stop_usage, &graceful);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	vm = cli_open_vm(&c);
	if (!vm)
		return EXIT_ERROR;
	cli_progress("stopping VM '%s'...", kvmon_vm_name(vm));
	if (kvmon_vm_stop(vm, graceful ? KVMON_STOP_GRACEFUL : 0,
			  (c.timeout_s ? c.timeout_s : 30) * 1000) < 0)
		return cli_lib_fail(&c, "stop");
	cli_progress_done();
	if (c.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "stopped", json_object_new_boolean(1));
		cli_emit(o);
	} else {
		printf("stopped\n");
	}
	return EXIT_OK;
}

static int vm_status(int argc, char **argv)
{
	struct kvmon_qmp *q;
	struct kvmon_vm *vm;
	struct json_object *st = NULL, *o;
	const char *state = "not-running";
	char *reply = NULL;
	struct cli c;
	int rc;

	cli_init(&c, "kvmon vm status");
	rc = parse_common_only(&c, argc, argv, status_usage, NULL);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	vm = cli_open_vm(&c);
	if (!vm)
		return EXIT_ERROR;
	q = kvmon_vm_qmp(vm);
	if (q && kvmon_qmp_execute(q, "query-status", NULL, &reply) == 0) {
		struct json_object *v;

		st = cli_parse(reply);
		if (st && json_object_object_get_ex(st, "status", &v))
			state = json_object_get_string(v);
	}
	rc = strcmp(state, "running") == 0 ? EXIT_OK : EXIT_FINDINGS;
	if (c.json) {
		o = json_object_new_object();
		json_object_object_add(o, "name",
				       json_object_new_string(kvmon_vm_name(vm)));
		json_object_object_add(o, "pid", json_object_new_int(kvmon_vm_pid(vm)));
		json_object_object_add(o, "status", json_object_new_string(state));
		cli_emit(o);
	} else {
		printf("%s: %s (pid %d)\n", kvmon_vm_name(vm), state,
		       (int)kvmon_vm_pid(vm));
	}
	json_object_put(st);
	kvmon_free(reply);
	kvmon_vm_close(vm);
	return rc;
}

static void print_size(const char *label, uint64_t bytes)
{
	printf("  %-10s %llu MiB\n", label, (unsigned long long)(bytes >> 20));
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

static uint64_t jnum(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

void vm_info_print(struct json_object *info)
{
	struct json_object *ram, *arr, *v;

	printf("VM %s\n  pid        %d\n  qemu       %s\n", jstr(info, "name"),
	       (int)jnum(info, "pid"), jstr(info, "qemu_version"));
	if (json_object_object_get_ex(info, "status", &v))
		printf("  status     %s\n", jstr(v, "status"));
	if (json_object_object_get_ex(info, "ram", &ram)) {
		if (json_object_object_get_ex(ram, "summary", &v))
			print_size("ram", jnum(v, "base-memory"));
		if (json_object_object_get_ex(ram, "backends", &arr))
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				v = json_object_array_get_idx(arr, i);
				printf("  backend    %s %s %s%s\n", jstr(v, "id"),
				       jstr(v, "type"), jstr(v, "path"),
				       json_object_get_boolean(json_object_object_get(v, "share"))
					       ? " (shared)" : "");
			}
		if (json_object_object_get_ex(ram, "layout", &arr))
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				v = json_object_array_get_idx(arr, i);
				printf("  ram range  0x%012llx-0x%012llx  %-10s @0x%llx\n",
				       (unsigned long long)jnum(v, "gpa"),
				       (unsigned long long)(jnum(v, "gpa") + jnum(v, "size") - 1),
				       jstr(v, "backend"),
				       (unsigned long long)jnum(v, "backend_offset"));
			}
	}
	if (json_object_object_get_ex(info, "disks", &arr) && arr)
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *ins;

			v = json_object_array_get_idx(arr, i);
			if (!json_object_object_get_ex(v, "inserted", &ins))
				continue;
			printf("  disk       %s node=%s %s (%s%s)\n", jstr(v, "qdev"),
			       jstr(ins, "node-name"), jstr(ins, "file"),
			       jstr(ins, "drv"),
			       json_object_get_boolean(json_object_object_get(ins, "ro"))
				       ? ", read-only" : "");
		}
	if (json_object_object_get_ex(info, "nics", &arr) && arr)
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			v = json_object_array_get_idx(arr, i);
			printf("  nic        %s mac %s\n", jstr(v, "name"),
			       jstr(v, "main-mac"));
		}
	if (json_object_object_get_ex(info, "balloon", &v) && v)
		print_size("balloon", jnum(v, "actual"));
	else
		printf("  balloon    none\n");
}

static int vm_info(int argc, char **argv)
{
	struct kvmon_vm *vm;
	struct json_object *o;
	char *json = NULL;
	struct cli c;
	int rc;

	cli_init(&c, "kvmon vm info");
	rc = parse_common_only(&c, argc, argv, info_usage, NULL);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	vm = cli_open_vm(&c);
	if (!vm)
		return EXIT_ERROR;
	if (kvmon_vm_info_json(vm, &json) < 0) {
		rc = cli_lib_fail(&c, "info");
		kvmon_vm_close(vm);
		return rc;
	}
	o = cli_parse(json);
	if (c.json)
		cli_emit(o);
	else {
		vm_info_print(o);
		json_object_put(o);
	}
	kvmon_free(json);
	kvmon_vm_close(vm);
	return EXIT_OK;
}

static int vm_list(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_LONG_OPTS, { 0 } };
	struct json_object *arr = json_object_new_array();
	const char *rundir;
	struct dirent *de;
	struct cli c;
	DIR *d;
	int opt;

	cli_init(&c, "kvmon vm list");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(list_usage, stdout);
			json_object_put(arr);
			return EXIT_OK;
		}
		if (cli_common_opt(&c, opt, optarg) <= 0) {
			json_object_put(arr);
			return cli_usage_error(&c, list_usage);
		}
	}
	rundir = c.rundir ? c.rundir : kvmon_default_rundir();
	d = opendir(rundir);
	while (d && (de = readdir(d)) != NULL) {
		struct kvmon_vm *vm;
		struct json_object *o;

		if (de->d_name[0] == '.')
			continue;
		vm = kvmon_vm_open(rundir, de->d_name);
		if (!vm)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(kvmon_vm_name(vm)));
		json_object_object_add(o, "pid", json_object_new_int(kvmon_vm_pid(vm)));
		json_object_object_add(o, "qmp",
				       json_object_new_string(kvmon_vm_path(vm, "qmp")));
		json_object_array_add(arr, o);
		if (!c.json)
			printf("%-20s pid %-8d %s\n", kvmon_vm_name(vm),
			       (int)kvmon_vm_pid(vm), kvmon_vm_path(vm, "qmp"));
		kvmon_vm_close(vm);
	}
	if (d)
		closedir(d);
	if (c.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "vms", arr);
		cli_emit(o);
	} else {
		json_object_put(arr);
	}
	return EXIT_OK;
}

int cmd_vm(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{ "start", vm_start }, { "stop", vm_stop }, { "status", vm_status },
		{ "info", vm_info }, { "list", vm_list },
	};

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(vm_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(*subs); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "kvmon vm: unknown command '%s'\n%s", argv[1], vm_usage);
	return EXIT_ERROR;
}
