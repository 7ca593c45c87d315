/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmon balloon: the VM's balloon, and the balloon performer that moves
 * as much memory from the VM to its offloaded IDS as the IDS uses.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1ull << 20)

static const char balloon_usage[] =
	"Usage: kvmon balloon get\n"
	"       kvmon balloon set SIZE\n"
	"       kvmon balloon follow --ids CAGE [OPTIONS]\n"
	"Get or set the guest size the balloon leaves the VM (bytes, K/M/G\n"
	"suffix). `set` waits until the guest reports the size (--timeout,\n"
	"default 10 s); if it does not, the old size is requested again and\n"
	"the exit code is 2.\n"
	"`follow` is the balloon performer: every --interval it measures the\n"
	"IDS cage's memory (anon + page cache, shmem excluded) and sets the\n"
	"VM's size to BASE - that, never below --floor; with --ids-limit it\n"
	"also sets the cage's memory limit to LIMIT + the memory moved.\n"
	"  --ids CAGE          the IDS's cage (kvmon cage create)\n"
	"  --base SIZE         VM size with nothing moved (default: its RAM)\n"
	"  --floor SIZE        never give the VM less (default: BASE / 2)\n"
	"  --hysteresis SIZE   ignore changes smaller than this (default 4M)\n"
	"  --interval MS       measurement period (default 250)\n"
	"  --min-gap MS        at least this long between two changes (default 1000)\n"
	"  --ids-limit SIZE    cage memory limit with nothing moved\n"
	"  --duration SEC      stop after SEC seconds (default: until signal)\n"
	"  --csv FILE          log time,ids_usage,moved,target,actual per step\n"
	"  --parent CGPATH     cgroup the cage is beneath (see kvmon cage)\n"
	COMMON_HELP
	"With --json, follow prints one JSON object per change, and alerts in\n"
	"the shared alert format (detector \"balloon\") when the IDS needs more\n"
	"than the floor allows or the guest does not follow.\n"
	"Exit: 0 ok, 2 error (no balloon driver, timeout, bad size).\n";

enum {
	OPT_IDS = OPT_FIRST_LOCAL, OPT_BASE, OPT_FLOOR, OPT_HYST, OPT_INTERVAL,
	OPT_GAP, OPT_IDSLIMIT, OPT_DURATION, OPT_CSV, OPT_PARENT,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_bytes(const char *s, uint64_t *out)
{
	return cli_parse_size(s, UINT64_MAX >> 24, out);
}

static void alert(struct cli *c, const char *vm, int sev, const char *msg,
		  const char *details)
{
	struct kvmon_finding f = { "balloon", sev, msg, details };

	if (c->json)
		cli_emit(cli_alert(vm, &f));
	else
		fprintf(stderr, "kvmon balloon: %s: %s %s\n",
			cli_severity_name(sev), msg, details);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct follow {
	const char *ids, *csv, *parent;
	uint64_t base, floor, hyst, ids_limit;
	long interval_ms, gap_ms, duration_s;
};

static int follow(struct cli *c, struct kvmon_vm *vm, const struct follow *o)
{
	struct kvmon_balloon_policy pol = { .hysteresis = o->hyst };
	struct kvmon_cgsys *sys = kvmon_cgsys_open(NULL, NULL);
	struct kvmon_cage *cage = NULL;
	uint64_t target, actual = 0;
	double t0 = now_s(), last_change = -1e9;
	bool floored = false;
	int rc = EXIT_ERROR, tmo = c->timeout_s ? c->timeout_s * 1000 : 5000;
	FILE *csv = NULL;
	char details[512];
	const char *vmname = c->qmp ? c->qmp : c->name;

	if (!sys)
		return cli_lib_fail(c, "cgroups");
	if (o->parent && kvmon_cgsys_set_parent(sys, o->parent) < 0) {
		rc = cli_lib_fail(c, "--parent");
		goto out;
	}
	if (!(cage = kvmon_cage_open(sys, o->ids))) {
		rc = cli_lib_fail(c, o->ids);
		goto out;
	}
	if (kvmon_balloon_get(vm, &actual) < 0) {
		rc = cli_lib_fail(c, "balloon");
		goto out;
	}
	pol.base = o->base ? o->base : actual;
	pol.floor = o->floor ? o->floor : pol.base / 2;
	if (pol.floor > pol.base) {
		rc = cli_fail(c, "--floor is above the VM's base size");
		goto out;
	}
	target = actual;
	if (o->csv && !(csv = fopen(o->csv, "we"))) {
		rc = cli_fail(c, "%s: %s", o->csv, strerror(errno));
		goto out;
	}
	if (csv)
		fprintf(csv, "t_s,ids_usage,moved,target,actual\n");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop && (o->duration_s <= 0 || now_s() - t0 < o->duration_s)) {
		struct kvmon_cage_stats st;
		struct kvmon_balloon_step step;
		struct timespec ts = { o->interval_ms / 1000,
				       (o->interval_ms % 1000) * 1000000L };
		uint64_t usage;

		if (kvmon_cage_stats(cage, &st) < 0) {
			rc = cli_lib_fail(c, "IDS stats");
			goto out;
		}
		/* What the IDS caused: its anon memory and page cache; guest
		 * RAM in shared memory (shmem) is not the IDS's. */
		usage = st.mem_anon + st.mem_file;
		if (kvmon_balloon_plan(&pol, usage, target, &step) < 0) {
			rc = cli_lib_fail(c, "policy");
			goto out;
		}
		if (step.at_floor && !floored) {
			snprintf(details, sizeof(details),
				 "{\"ids_usage\":%" PRIu64 ",\"floor\":%" PRIu64
				 ",\"base\":%" PRIu64 ",\"moved\":%" PRIu64 "}",
				 usage, pol.floor, pol.base, step.moved);
			alert(c, vmname, KVMON_SEVERITY_WARNING,
			      "IDS needs more memory than the VM can give above its floor",
			      details);
		}
		floored = step.at_floor;
		if (step.change && (now_s() - last_change) * 1000 >= o->gap_ms) {
			bool shrink = step.target < target;

			/* Order so the sum never exceeds what it was: take from the
			 * VM before raising the IDS limit, and lower the limit before
			 * giving the VM memory back. */
			if (!shrink && o->ids_limit &&
			    kvmon_cage_set_memory(cage, (int64_t)(o->ids_limit + step.moved),
						  KVMON_CAGE_KEEP) < 0) {
				snprintf(details, sizeof(details), "{\"error\":\"%s\"}",
					 kvmon_get_errno() == EBUSY ? "EBUSY" : "write");
				alert(c, vmname, KVMON_SEVERITY_INFO,
				      "IDS limit cannot be lowered yet", details);
			} else if (kvmon_balloon_set(vm, step.target, tmo) < 0) {
				int e = kvmon_get_errno();

				snprintf(details, sizeof(details),
					 "{\"target\":%" PRIu64 ",\"errno\":%d}",
					 step.target, e);
				alert(c, vmname, KVMON_SEVERITY_WARNING,
				      "guest did not follow the balloon target", details);
				if (e == ENODEV) {
					rc = cli_lib_fail(c, "balloon");
					goto out;
				}
				/* The old size was requested again; IDS limit restored
				 * below if we had lowered it. */
				if (!shrink && o->ids_limit)
					kvmon_cage_set_memory(cage, (int64_t)(o->ids_limit +
						pol.base - target), KVMON_CAGE_KEEP);
			} else {
				target = step.target;
				last_change = now_s();
				if (shrink && o->ids_limit &&
				    kvmon_cage_set_memory(cage, (int64_t)(o->ids_limit +
							  step.moved), KVMON_CAGE_KEEP) < 0)
					alert(c, vmname, KVMON_SEVERITY_WARNING,
					      "could not raise the IDS limit", "{}");
				if (c->json) {
					struct json_object *j = json_object_new_object();

					json_object_object_add(j, "t", json_object_new_double(now_s() - t0));
					json_object_object_add(j, "ids_usage", json_object_new_uint64(usage));
					json_object_object_add(j, "moved", json_object_new_uint64(step.moved));
					json_object_object_add(j, "target", json_object_new_uint64(target));
					cli_emit(j);
				} else {
					printf("%.1f s: IDS %.1f MiB -> VM %.1f MiB (moved %.1f MiB)\n",
					       now_s() - t0, usage / (double)MIB,
					       target / (double)MIB, step.moved / (double)MIB);
					fflush(stdout);
				}
			}
		}
		if (csv) {
			if (kvmon_balloon_get(vm, &actual) < 0)
				actual = 0;
			fprintf(csv, "%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
				now_s() - t0, usage, pol.base - target, target, actual);
			fflush(csv);
		}
		kvmon_vm_disconnect(vm); /* let other tools in between steps */
		nanosleep(&ts, NULL);
	}
	rc = EXIT_OK;
out:
	if (csv)
		fclose(csv);
	kvmon_cage_close(cage);
	kvmon_cgsys_close(sys);
	return rc;
}

int cmd_balloon(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "ids", required_argument, NULL, OPT_IDS },
		{ "base", required_argument, NULL, OPT_BASE },
		{ "floor", required_argument, NULL, OPT_FLOOR },
		{ "hysteresis", required_argument, NULL, OPT_HYST },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "min-gap", required_argument, NULL, OPT_GAP },
		{ "ids-limit", required_argument, NULL, OPT_IDSLIMIT },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "csv", required_argument, NULL, OPT_CSV },
		{ "parent", required_argument, NULL, OPT_PARENT },
		{ 0 }
	};
	struct follow fo = { .hyst = 4 * MIB, .interval_ms = 250, .gap_ms = 1000 };
	struct kvmon_vm *vm;
	const char *sub;
	uint64_t *dst, size = 0;
	int opt, rc;
	struct cli c;
	char *end;
	long *lp, lmax;

	cli_init(&c, "kvmon balloon");
	if (argc < 2) {
		fputs(balloon_usage, stderr);
		return cli_fail(&c, "missing subcommand (see --help)");
	}
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(balloon_usage, stdout);
		return EXIT_OK;
	}
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0)
			return EXIT_ERROR;
		if (rc)
			continue;
		dst = NULL;
		lp = NULL;
		lmax = 0;
		switch (opt) {
		case OPT_HELP: fputs(balloon_usage, stdout); return EXIT_OK;
		case OPT_IDS: fo.ids = optarg; break;
		case OPT_CSV: fo.csv = optarg; break;
		case OPT_PARENT: fo.parent = optarg; break;
		case OPT_BASE: dst = &fo.base; break;
		case OPT_FLOOR: dst = &fo.floor; break;
		case OPT_HYST: dst = &fo.hyst; break;
		case OPT_IDSLIMIT: dst = &fo.ids_limit; break;
		case OPT_INTERVAL: lp = &fo.interval_ms; lmax = 60000; break;
		case OPT_GAP: lp = &fo.gap_ms; lmax = 600000; break;
		case OPT_DURATION: lp = &fo.duration_s; lmax = 86400 * 365; break;
		default: return cli_usage_error(&c, balloon_usage);
		}
		if (dst && parse_bytes(optarg, dst) < 0)
			return cli_fail(&c, "bad size '%s'", optarg);
		if (lp) {
			errno = 0;
			*lp = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || *lp < 0 || *lp > lmax ||
			    (lp == &fo.interval_ms && *lp < 10))
				return cli_fail(&c, "bad number '%s'", optarg);
		}
	}
	optind++;
	if (!strcmp(sub, "set")) {
		if (optind + 1 != argc)
			return cli_usage_error(&c, balloon_usage);
		if (parse_bytes(argv[optind], &size) < 0)
			return cli_fail(&c, "bad size '%s' (bytes, K/M/G suffix)",
					argv[optind]);
	} else if (!strcmp(sub, "get")) {
		if (optind != argc)
			return cli_usage_error(&c, balloon_usage);
	} else if (!strcmp(sub, "follow")) {
		if (optind != argc || !fo.ids)
			return cli_usage_error(&c, balloon_usage);
	} else {
		fputs(balloon_usage, stderr);
		return cli_fail(&c, "unknown subcommand '%s'", sub);
	}
	vm = cli_open_vm(&c);
	if (!vm)
		return EXIT_ERROR;
	if (!strcmp(sub, "follow")) {
		rc = follow(&c, vm, &fo);
	} else if (!strcmp(sub, "set") &&
		   kvmon_balloon_set(vm, size, c.timeout_s ? c.timeout_s * 1000 : 10000) < 0) {
		rc = cli_lib_fail(&c, "balloon set");
	} else if (kvmon_balloon_get(vm, &size) < 0) {
		rc = cli_lib_fail(&c, "balloon");
	} else {
		rc = EXIT_OK;
		if (c.json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "actual", json_object_new_uint64(size));
			cli_emit(o);
		} else {
			printf("%" PRIu64 " bytes (%.1f MiB)\n", size, size / (double)MIB);
		}
	}
	kvmon_vm_close(vm);
	return rc;
}
