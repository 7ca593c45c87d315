/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon cage: a VM's QEMU and its offloaded IDS as one cgroup unit. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char cage_usage[] =
	"Usage: kvmon cage info\n"
	"       kvmon cage create NAME [LIMITS]\n"
	"       kvmon cage set NAME LIMITS\n"
	"       kvmon cage run NAME [LIMITS] -- COMMAND [ARGS...]\n"
	"       kvmon cage add NAME PID... | kvmon cage add NAME --vm [--name VM]\n"
	"       kvmon cage stats NAME\n"
	"       kvmon cage remove NAME [--evict]\n"
	"Treat a VM's QEMU and its offloaded IDS as one resource unit: cgroup\n"
	"kvmon-NAME beneath kvmon's own cgroup (v1, v2 or hybrid hosts).\n"
	"`run` puts COMMAND in the cage before it starts (its page cache is\n"
	"charged to the cage from the first page); `add` moves running\n"
	"processes, `--vm` the QEMU of the selected VM.\n"
	"Limits:\n"
	"  --cpu-weight W   CPU weight 1..10000 (100 = default; v1 cpu.shares\n"
	"                   W*1024/100)\n"
	"  --cpu-max P      cap at P percent of one CPU (max: no cap)\n"
	"  --memory SIZE    memory limit, page cache included (K/M/G suffix;\n"
	"                   max: none)\n"
	"  --memory-high SIZE  v2 memory.high (throttling point)\n"
	"Other options:\n"
	"  --parent CGPATH  create/find cages beneath this cgroup path in every\n"
	"                   hierarchy (default: kvmon's own cgroup); also a\n"
	"                   directory under a cgroup mount (/sys/fs/cgroup/...)\n"
	"  --evict          remove: move remaining members out first\n"
	"  --vm             add: the QEMU process of the VM (--name/--qmp)\n"
	COMMON_HELP
	"Exit: 0 ok, 1 no such cage (stats), 2 error.\n";

enum {
	OPT_WEIGHT = OPT_FIRST_LOCAL, OPT_CPUMAX, OPT_MEM, OPT_MEMHIGH,
	OPT_PARENT, OPT_EVICT, OPT_VM,
};

struct limits {
	int64_t weight;          /* -1: unchanged */
	int64_t cpu_quota;       /* KVMON_CAGE_KEEP: unchanged */
	int64_t mem, mem_high;   /* KVMON_CAGE_KEEP: unchanged */
};

/* "64M", "1G", "123456", "max"; -1 for max. */
static int parse_size(const char *s, int64_t *out)
{
	uint64_t v;

	if (!strcmp(s, "max") || !strcmp(s, "unlimited")) {
		*out = KVMON_CAGE_UNLIMITED;
		return 0;
	}
	if (cli_parse_size(s, INT64_MAX, &v) < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int apply(struct cli *c, struct kvmon_cage *cage, const struct limits *l)
{
	if (l->weight >= 0 && kvmon_cage_set_cpu_weight(cage, (uint64_t)l->weight) < 0)
		return cli_lib_fail(c, "cpu weight");
	if (l->cpu_quota != KVMON_CAGE_KEEP &&
	    kvmon_cage_set_cpu_max(cage, l->cpu_quota, 100000) < 0)
		return cli_lib_fail(c, "cpu max");
	if ((l->mem != KVMON_CAGE_KEEP || l->mem_high != KVMON_CAGE_KEEP) &&
	    kvmon_cage_set_memory(cage, l->mem, l->mem_high) < 0)
		return cli_lib_fail(c, "memory limit");
	return EXIT_OK;
}

static bool any_limit(const struct limits *l)
{
	return l->weight >= 0 || l->cpu_quota != KVMON_CAGE_KEEP ||
	       l->mem != KVMON_CAGE_KEEP || l->mem_high != KVMON_CAGE_KEEP;
}

static struct json_object *dirs_json(struct kvmon_cage *cage)
{
	static const char *const res[] = { "cpu", "cpuacct", "memory" };
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < 3; i++)
		if (kvmon_cage_dir(cage, res[i]))
			json_object_object_add(o, res[i], json_object_new_string(
				kvmon_cage_dir(cage, res[i])));
	return o;
}

static int do_stats(struct cli *c, struct kvmon_cgsys *sys, struct kvmon_cage *cage)
{
	struct kvmon_cage_stats st;
	struct json_object *o, *m, *arr;
	pid_t *pids = NULL;
	size_t n = 0;

	if (kvmon_cage_stats(cage, &st) < 0 || kvmon_cage_pids(cage, &pids, &n) < 0)
		return cli_lib_fail(c, "stats");
	o = json_object_new_object();
	json_object_object_add(o, "cage", json_object_new_string(kvmon_cage_name(cage)));
	json_object_object_add(o, "mode", json_object_new_string(
		kvmon_cgsys_mode_name(kvmon_cgsys_mode(sys))));
	json_object_object_add(o, "dirs", dirs_json(cage));
	json_object_object_add(o, "cpu_ns", json_object_new_uint64(st.cpu_ns));
	json_object_object_add(o, "nr_throttled", json_object_new_uint64(st.nr_throttled));
	m = json_object_new_object();
	json_object_object_add(m, "current", json_object_new_uint64(st.mem_current));
	json_object_object_add(m, "anon", json_object_new_uint64(st.mem_anon));
	json_object_object_add(m, "file", json_object_new_uint64(st.mem_file));
	json_object_object_add(m, "shmem", json_object_new_uint64(st.mem_shmem));
	json_object_object_add(m, "max", json_object_new_int64(st.mem_max));
	json_object_object_add(o, "memory", m);
	arr = json_object_new_array();
	if (!c->json) {
		printf("cage %s (%s)\n", kvmon_cage_name(cage),
		       kvmon_cgsys_mode_name(kvmon_cgsys_mode(sys)));
		printf("  cpu        %.3f s (throttled %" PRIu64 " periods)\n",
		       (double)st.cpu_ns / 1e9, st.nr_throttled);
		printf("  memory     %.1f MiB: anon %.1f MiB, page cache %.1f MiB, "
		       "shmem %.1f MiB; limit %s\n",
		       st.mem_current / 1048576.0, st.mem_anon / 1048576.0,
		       st.mem_file / 1048576.0, st.mem_shmem / 1048576.0,
		       st.mem_max < 0 ? "none" : "set");
		if (st.mem_max >= 0)
			printf("  limit      %.1f MiB\n", st.mem_max / 1048576.0);
		printf("  %-8s %-16s %10s %10s %10s %10s\n", "PID", "COMM", "CPU-S",
		       "ANON-MiB", "FILE-MiB", "SHMEM-MiB");
	}
	for (size_t i = 0; i < n; i++) {
		struct kvmon_proc_stats ps;
		struct json_object *e;

		if (kvmon_proc_stats(pids[i], &ps) < 0)
			continue; /* exited meanwhile */
		e = json_object_new_object();
		json_object_object_add(e, "pid", json_object_new_int(ps.pid));
		json_object_object_add(e, "comm", json_object_new_string(ps.comm));
		json_object_object_add(e, "cpu_ns", json_object_new_uint64(ps.cpu_ns));
		json_object_object_add(e, "rss_anon", json_object_new_uint64(ps.rss_anon));
		json_object_object_add(e, "rss_file", json_object_new_uint64(ps.rss_file));
		json_object_object_add(e, "rss_shmem", json_object_new_uint64(ps.rss_shmem));
		json_object_array_add(arr, e);
		if (!c->json)
			printf("  %-8d %-16s %10.3f %10.1f %10.1f %10.1f\n", (int)ps.pid,
			       ps.comm, (double)ps.cpu_ns / 1e9, ps.rss_anon / 1048576.0,
			       ps.rss_file / 1048576.0, ps.rss_shmem / 1048576.0);
	}
	free(pids);
	json_object_object_add(o, "members", arr);
	if (c->json)
		cli_emit(o);
	else
		json_object_put(o);
	return EXIT_OK;
}

static int do_info(struct cli *c, struct kvmon_cgsys *sys)
{
	static const char *const res[] = { "cpu", "cpuacct", "memory" };
	struct json_object *o = json_object_new_object(), *d = json_object_new_object();

	json_object_object_add(o, "mode", json_object_new_string(
		kvmon_cgsys_mode_name(kvmon_cgsys_mode(sys))));
	for (size_t i = 0; i < 3; i++)
		if (kvmon_cgsys_dir(sys, res[i]))
			json_object_object_add(d, res[i], json_object_new_string(
				kvmon_cgsys_dir(sys, res[i])));
	json_object_object_add(o, "parents", d);
	if (c->json) {
		cli_emit(o);
		return EXIT_OK;
	}
	printf("cgroup mode %s\n", kvmon_cgsys_mode_name(kvmon_cgsys_mode(sys)));
	for (size_t i = 0; i < 3; i++)
		printf("  %-8s %s\n", res[i], kvmon_cgsys_dir(sys, res[i])
			? kvmon_cgsys_dir(sys, res[i]) : "(controller not available)");
	json_object_put(o);
	return EXIT_OK;
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 0x3fffffff)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

int cmd_cage(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "cpu-weight", required_argument, NULL, OPT_WEIGHT },
		{ "cpu-max", required_argument, NULL, OPT_CPUMAX },
		{ "memory", required_argument, NULL, OPT_MEM },
		{ "memory-high", required_argument, NULL, OPT_MEMHIGH },
		{ "parent", required_argument, NULL, OPT_PARENT },
		{ "evict", no_argument, NULL, OPT_EVICT },
		{ "vm", no_argument, NULL, OPT_VM },
		{ 0 }
	};
	struct limits l = { -1, KVMON_CAGE_KEEP, KVMON_CAGE_KEEP, KVMON_CAGE_KEEP };
	const char *sub, *parent = NULL, *name = NULL;
	bool evict = false, vmflag = false;
	struct kvmon_cgsys *sys = NULL;
	struct kvmon_cage *cage = NULL;
	int opt, rc = EXIT_ERROR;
	struct cli c;
	char *end;
	double pct;

	cli_init(&c, "kvmon cage");
	if (argc < 2) {
		fputs(cage_usage, stderr);
		return cli_fail(&c, "missing subcommand (see --help)");
	}
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(cage_usage, stdout);
		return EXIT_OK;
	}
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0)
			return EXIT_ERROR;
		if (rc)
			continue;
		switch (opt) {
		case OPT_HELP: fputs(cage_usage, stdout); return EXIT_OK;
		case OPT_WEIGHT:
			l.weight = strtol(optarg, &end, 10);
			if (*end || end == optarg || l.weight < 1 || l.weight > 10000)
				return cli_fail(&c, "--cpu-weight takes 1..10000, not '%s'", optarg);
			break;
		case OPT_CPUMAX:
			if (!strcmp(optarg, "max")) {
				l.cpu_quota = KVMON_CAGE_UNLIMITED;
				break;
			}
			pct = strtod(optarg, &end);
			if (*end || end == optarg || !(pct >= 1 && pct <= 102400))
				return cli_fail(&c, "--cpu-max takes a percentage of one "
						"CPU (1..102400) or max, not '%s'", optarg);
			l.cpu_quota = (int64_t)(pct * 1000); /* of a 100 ms period */
			break;
		case OPT_MEM:
		case OPT_MEMHIGH:
			if (parse_size(optarg, opt == OPT_MEM ? &l.mem : &l.mem_high) < 0)
				return cli_fail(&c, "bad size '%s' (bytes with optional "
						"K/M/G/T suffix, or max)", optarg);
			break;
		case OPT_PARENT: parent = optarg; break;
		case OPT_EVICT: evict = true; break;
		case OPT_VM: vmflag = true; break;
		default: return cli_usage_error(&c, cage_usage);
		}
	}
	c.prog = "kvmon cage";
	optind++; /* index into argv, not argv + 1 */
	if (strcmp(sub, "info")) {
		if (optind >= argc)
			return cli_usage_error(&c, cage_usage);
		name = argv[optind++];
	}
	sys = kvmon_cgsys_open(NULL, NULL);
	if (!sys)
		return cli_lib_fail(&c, "cgroups");
	if (parent && kvmon_cgsys_set_parent(sys, parent) < 0) {
		rc = cli_lib_fail(&c, "--parent");
		goto out;
	}
	if (!strcmp(sub, "info")) {
		rc = optind == argc ? do_info(&c, sys) : cli_usage_error(&c, cage_usage);
	} else if (!strcmp(sub, "create")) {
		if (optind != argc) {
			rc = cli_usage_error(&c, cage_usage);
			goto out;
		}
		cage = kvmon_cage_create(sys, name, KVMON_CAGE_EXCL);
		if (!cage) {
			rc = cli_lib_fail(&c, name);
			goto out;
		}
		rc = apply(&c, cage, &l);
		if (rc != EXIT_OK) { /* nothing half-applied */
			if (kvmon_cage_remove(cage, 0) == 0)
				cage = NULL;
			goto out;
		}
		if (c.json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "cage", json_object_new_string(name));
			json_object_object_add(o, "dirs", dirs_json(cage));
			cli_emit(o);
		} else {
			printf("cage %s created\n", name);
		}
	} else if (!strcmp(sub, "set") || !strcmp(sub, "run") ||
		   !strcmp(sub, "add") || !strcmp(sub, "stats") ||
		   !strcmp(sub, "remove")) {
		cage = kvmon_cage_open(sys, name);
		if (!cage) {
			rc = cli_lib_fail(&c, name);
			if (kvmon_get_errno() == ENOENT && !strcmp(sub, "stats"))
				rc = EXIT_FINDINGS;
			goto out;
		}
		if (!strcmp(sub, "set")) {
			rc = optind == argc && any_limit(&l) ? apply(&c, cage, &l)
							     : cli_usage_error(&c, cage_usage);
			if (rc == EXIT_OK && c.json)
				cli_emit(json_object_new_object());
		} else if (!strcmp(sub, "stats")) {
			rc = optind == argc ? do_stats(&c, sys, cage)
					    : cli_usage_error(&c, cage_usage);
		} else if (!strcmp(sub, "remove")) {
			if (optind != argc) {
				rc = cli_usage_error(&c, cage_usage);
				goto out;
			}
			if (kvmon_cage_remove(cage, evict ? KVMON_CAGE_EVICT : 0) < 0) {
				rc = cli_lib_fail(&c, name);
				goto out;
			}
			cage = NULL;
			rc = EXIT_OK;
			if (c.json)
				cli_emit(json_object_new_object());
			else
				printf("cage %s removed\n", name);
		} else if (!strcmp(sub, "add")) {
			pid_t pid;

			if (vmflag == (optind < argc)) {
				rc = cli_usage_error(&c, cage_usage);
				goto out;
			}
			if (vmflag) {
				struct kvmon_vm *vm = cli_open_vm(&c);

				if (!vm)
					goto out;
				pid = kvmon_vm_pid(vm);
				kvmon_vm_close(vm);
				if (pid <= 0) {
					rc = cli_fail(&c, "pid of the VM's QEMU unknown");
					goto out;
				}
				if (kvmon_cage_add_pid(cage, pid) < 0) {
					rc = cli_lib_fail(&c, "add QEMU");
					goto out;
				}
			}
			/* Validate all pids first: all or nothing. */
			for (int i = optind; i < argc; i++)
				if (parse_pid(argv[i], &pid) < 0) {
					rc = cli_fail(&c, "not a pid: '%s'", argv[i]);
					goto out;
				}
			for (int i = optind; i < argc; i++) {
				parse_pid(argv[i], &pid);
				if (kvmon_cage_add_pid(cage, pid) < 0) {
					rc = cli_lib_fail(&c, argv[i]);
					goto out;
				}
			}
			rc = any_limit(&l) ? apply(&c, cage, &l) : EXIT_OK;
			if (rc == EXIT_OK && c.json)
				cli_emit(json_object_new_object());
		} else { /* run */
			if (optind >= argc) {
				rc = cli_usage_error(&c, cage_usage);
				goto out;
			}
			if ((rc = apply(&c, cage, &l)) != EXIT_OK)
				goto out;
			/* Join first, then exec: the IDS never runs outside. */
			if (kvmon_cage_add_pid(cage, 0) < 0) {
				rc = cli_lib_fail(&c, "join cage");
				goto out;
			}
			kvmon_cage_close(cage);
			kvmon_cgsys_close(sys);
			fflush(NULL);
			execvp(argv[optind], argv + optind);
			fprintf(stderr, "kvmon cage: error: exec %s: %s\n", argv[optind],
				strerror(errno));
			return 127;
		}
	} else {
		fputs(cage_usage, stderr);
		rc = cli_fail(&c, "unknown subcommand '%s'", sub);
	}
out:
	kvmon_cage_close(cage);
	kvmon_cgsys_close(sys);
	return rc;
}
