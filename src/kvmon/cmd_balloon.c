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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1ull << 20)

static const char balloon_usage[] =
	"Usage: kvmon balloon get\n"
	"       kvmon balloon set SIZE\n"
	"       kvmon balloon follow --ids CAGE|CGROUP [OPTIONS]\n"
	"Get or set the guest size the balloon leaves the VM (bytes, K/M/G\n"
	"suffix). `set` waits until the guest reports the size (--timeout,\n"
	"default 10 s); if it does not, the old size is requested again and\n"
	"the exit code is 2.\n"
	"`follow` is the balloon performer: every --interval it measures the\n"
	"IDS's memory (anon + page cache, shmem excluded) and requests the\n"
	"VM's size BASE - that, never below --floor, at once (a newer target\n"
	"supersedes one the guest is still reaching). With --ids-limit it sets\n"
	"the IDS's memory limit to LIMIT + the memory the VM has given. A guest\n"
	"that makes no progress for --timeout (default 5 s) gets an alert and\n"
	"its last reached size back.\n"
	"  --ids CAGE|CGROUP   the IDS's cage (kvmon cage create), or an existing\n"
	"                      cgroup's path (/machine.slice/ids.scope or a\n"
	"                      directory under /sys/fs/cgroup)\n"
	"  --base SIZE         VM size with nothing moved (default: its size now)\n"
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

/* The performer's state. Requests never wait for the guest: `req` is the
 * newest target, `actual` the guest's size as last reported (events or
 * query-balloon), `settled` the last target the guest reached. */
struct perf {
	struct cli *c;
	struct kvmon_vm *vm;
	struct kvmon_cage *cage;
	const struct follow *o;
	const char *vmname;
	struct kvmon_balloon_policy pol;
	uint64_t req, actual, settled;
	uint64_t best_dist;   /* closest the guest came to req */
	double progress_at;   /* when it last came closer (or req was sent) */
	double last_change, backoff_until, t0;
	int64_t limit;        /* IDS limit written, -1 none yet */
	int tmo_ms;
};

static uint64_t dist(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

static void alertf(struct perf *p, int sev, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void alertf(struct perf *p, int sev, const char *msg, const char *fmt, ...)
{
	char details[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(details, sizeof(details), fmt, ap);
	va_end(ap);
	alert(p->c, p->vmname, sev, msg, details);
}

/* IDS limit = --ids-limit + what the VM has really given for the target
 * `req` (kvmon_balloon_given): the sum of both sides never grows. */
static int set_limit(struct perf *p, uint64_t req)
{
	int64_t want;

	if (!p->o->ids_limit)
		return 0;
	want = (int64_t)(p->o->ids_limit +
			 kvmon_balloon_given(p->pol.base, req, p->actual));
	if (want == p->limit)
		return 0;
	if (kvmon_cage_set_memory(p->cage, want, KVMON_CAGE_KEEP) < 0)
		return -1;
	p->limit = want;
	return 0;
}

static void report_request(struct perf *p, uint64_t usage)
{
	double t = now_s() - p->t0;
	uint64_t moved = p->pol.base - p->req;

	if (p->c->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "t", json_object_new_double(t));
		json_object_object_add(j, "ids_usage", json_object_new_uint64(usage));
		json_object_object_add(j, "moved", json_object_new_uint64(moved));
		json_object_object_add(j, "target", json_object_new_uint64(p->req));
		json_object_object_add(j, "actual", json_object_new_uint64(p->actual));
		cli_emit(j);
	} else {
		printf("%.1f s: IDS %.1f MiB -> VM %.1f MiB (moved %.1f MiB, guest at "
		       "%.1f MiB)\n", t, usage / (double)MIB, p->req / (double)MIB,
		       moved / (double)MIB, p->actual / (double)MIB);
		fflush(stdout);
	}
}

/* Send a new target at once, superseding a pending one. The IDS limit is
 * lowered first when the VM is to get memory back. -1 only for errors
 * that end the performer (no balloon device). */
static int issue(struct perf *p, uint64_t target)
{
	/* A failed attempt also counts for --min-gap: retried, not spammed. */
	p->last_change = now_s();
	if (set_limit(p, target) < 0) {
		alertf(p, KVMON_SEVERITY_INFO, "IDS limit cannot be lowered yet",
		       "{\"target\":%" PRIu64 ",\"errno\":%d}", target,
		       kvmon_get_errno());
		return 0;
	}
	if (kvmon_balloon_request(p->vm, target) < 0) {
		int e = kvmon_get_errno();

		alertf(p, KVMON_SEVERITY_WARNING, "balloon request refused",
		       "{\"target\":%" PRIu64 ",\"errno\":%d}", target, e);
		set_limit(p, p->req); /* back to what still holds */
		return e == ENODEV || e == EPIPE ? -1 : 0;
	}
	/* The timeout clock restarts only if the guest had reached the old
	 * target: a stream of superseding targets must not hide a guest that
	 * does not move at all. */
	if (dist(p->actual, p->req) <= MIB)
		p->progress_at = now_s();
	p->req = target;
	p->best_dist = dist(p->actual, target);
	return 0;
}

/* A new guest size: progress, confirmation, IDS limit, timeout. */
static int observe(struct perf *p)
{
	uint64_t d = dist(p->actual, p->req);
	double now = now_s();

	if (d < p->best_dist) {
		p->best_dist = d;
		p->progress_at = now;
	}
	if (d <= MIB)
		p->settled = p->req;
	if (set_limit(p, p->req) < 0)
		alertf(p, KVMON_SEVERITY_WARNING, "could not set the IDS limit",
		       "{\"errno\":%d}", kvmon_get_errno());
	if (d <= MIB || (now - p->progress_at) * 1000 < p->tmo_ms)
		return 0;
	/* No progress for --timeout: the guest does not follow. Ask for the
	 * last size it reached again and hold off for another timeout. */
	alertf(p, KVMON_SEVERITY_WARNING, "guest did not follow the balloon target",
	       "{\"target\":%" PRIu64 ",\"actual\":%" PRIu64 ",\"restored\":%" PRIu64
	       ",\"timeout_ms\":%d}", p->req, p->actual, p->settled, p->tmo_ms);
	p->backoff_until = now + p->tmo_ms / 1000.0;
	return issue(p, p->settled);
}

/* Until the next tick: take every size report (events or a poll). */
static int wait_tick(struct perf *p, double tick_end)
{
	for (int i = 0; i < 64; i++) {
		double left = tick_end - now_s();
		int rc = kvmon_balloon_wait(p->vm, left > 0 ? (int)(left * 1000) : 0,
					    &p->actual);

		if (rc < 0)
			return -1;
		if (observe(p) < 0)
			return -1;
		if (rc == 0 || tick_end - now_s() <= 0)
			break;
	}
	return 0;
}

static int step(struct perf *p, FILE *csv, bool *floored)
{
	struct kvmon_cage_stats st;
	struct kvmon_balloon_step s;
	uint64_t usage;
	double now;

	if (kvmon_cage_stats(p->cage, &st) < 0)
		return cli_lib_fail(p->c, "IDS stats");
	/* What the IDS caused: its anon memory and page cache; guest RAM in
	 * shared memory (shmem) is not the IDS's. */
	usage = st.mem_anon + st.mem_file;
	if (kvmon_balloon_plan(&p->pol, usage, p->req, &s) < 0)
		return cli_lib_fail(p->c, "policy");
	if (s.at_floor && !*floored)
		alertf(p, KVMON_SEVERITY_WARNING,
		       "IDS needs more memory than the VM can give above its floor",
		       "{\"ids_usage\":%" PRIu64 ",\"floor\":%" PRIu64 ",\"base\":%"
		       PRIu64 ",\"moved\":%" PRIu64 "}", usage, p->pol.floor,
		       p->pol.base, s.moved);
	*floored = s.at_floor;
	now = now_s();
	if (s.change && (now - p->last_change) * 1000 >= p->o->gap_ms &&
	    now >= p->backoff_until) {
		uint64_t before = p->req;

		if (issue(p, s.target) < 0)
			return cli_lib_fail(p->c, "balloon");
		if (p->req != before)
			report_request(p, usage);
	}
	if (csv) {
		fprintf(csv, "%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
			now_s() - p->t0, usage, p->pol.base - p->req, p->req, p->actual);
		fflush(csv);
	}
	return EXIT_OK;
}

static int follow(struct cli *c, struct kvmon_vm *vm, const struct follow *o)
{
	struct perf p = { .c = c, .vm = vm, .o = o, .limit = -1,
			  .last_change = -1e9, .backoff_until = -1e9 };
	struct kvmon_cgsys *sys = kvmon_cgsys_open(NULL, NULL);
	bool floored = false;
	int rc = EXIT_ERROR;
	FILE *csv = NULL;
	double tick;

	p.vmname = c->qmp ? c->qmp : c->name;
	p.tmo_ms = c->timeout_s ? c->timeout_s * 1000 : 5000;
	p.pol.hysteresis = o->hyst;
	if (!sys)
		return cli_lib_fail(c, "cgroups");
	if (o->parent && kvmon_cgsys_set_parent(sys, o->parent) < 0) {
		rc = cli_lib_fail(c, "--parent");
		goto out;
	}
	/* A cage name, or any existing cgroup given by its path. */
	p.cage = strchr(o->ids, '/') ? kvmon_cage_open_cgroup(sys, o->ids)
				     : kvmon_cage_open(sys, o->ids);
	if (!p.cage) {
		rc = cli_lib_fail(c, o->ids);
		goto out;
	}
	if (!kvmon_cage_dir(p.cage, "memory")) { /* nothing to measure */
		rc = cli_fail(c, "%s: not in a memory cgroup hierarchy", o->ids);
		goto out;
	}
	if (kvmon_balloon_get(vm, &p.actual) < 0) {
		rc = cli_lib_fail(c, "balloon");
		goto out;
	}
	p.pol.base = o->base ? o->base : p.actual;
	p.pol.floor = o->floor ? o->floor : p.pol.base / 2;
	if (p.pol.floor > p.pol.base) {
		rc = cli_fail(c, "--floor is above the VM's base size");
		goto out;
	}
	p.req = p.settled = p.actual;
	if (set_limit(&p, p.req) < 0) {
		rc = cli_lib_fail(c, "--ids-limit");
		goto out;
	}
	if (o->csv && !(csv = fopen(o->csv, "we"))) {
		rc = cli_fail(c, "%s: %s", o->csv, strerror(errno));
		goto out;
	}
	if (csv)
		fprintf(csv, "t_s,ids_usage,moved,target,actual\n");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	p.t0 = tick = now_s();
	while (!stop && (o->duration_s <= 0 || now_s() - p.t0 < o->duration_s)) {
		if ((rc = step(&p, csv, &floored)) != EXIT_OK)
			goto out;
		tick += o->interval_ms / 1000.0;
		if (tick < now_s()) /* late (loaded host): no burst of catch-up */
			tick = now_s();
		if (wait_tick(&p, tick) < 0 && !stop) {
			rc = cli_lib_fail(c, "balloon");
			goto out;
		}
	}
	/* Stopping with a target the guest has not reached: ask for the last
	 * size it did reach, so nothing is left half-applied. */
	if (dist(p.actual, p.req) > MIB)
		issue(&p, p.settled);
	rc = EXIT_OK;
out:
	if (csv)
		fclose(csv);
	kvmon_cage_close(p.cage);
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
