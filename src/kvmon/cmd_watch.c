/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmon watch: run the detectors continuously and emit one JSON object per
 * alert on stdout (the alert format every detector shares). A finding is
 * reported when it appears and once more, as "resolved", when it is gone,
 * so a persistent compromise does not flood the stream.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char watch_usage[] =
	"Usage: kvmon watch [OPTIONS]\n"
	"Run the detectors every --interval seconds and print one JSON object\n"
	"per alert, one per line: {\"time\", \"vm\", \"detector\", \"severity\",\n"
	"\"message\", \"details\"}. An alert is printed when a finding appears\n"
	"and again with severity \"info\" and \"resolved\": true when it is gone.\n"
	"Without --baseline, a baseline is taken when watching starts.\n"
	"  --interval SEC   seconds between checks (default 5; 0.1 .. 86400)\n"
	"  --count N        stop after N checks (default: until SIGINT/SIGTERM)\n"
	"  --baseline FILE  kernel_text baseline (kvmon baseline create)\n"
	"  --no-baseline    do not take one: skip kernel_text\n"
	"  --detectors LIST comma-separated names or all (default: all)\n"
	COMMON_HELP
	"Exit: 0 no alert, 1 alerts were raised, 2 error.\n";

enum { OPT_INTERVAL = OPT_FIRST_LOCAL, OPT_COUNT, OPT_BASELINE, OPT_NO_BASELINE,
       OPT_DETECTORS };

#define MAX_ACTIVE 2048

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Findings alive in the previous round, keyed by detector + message. */
struct active {
	char *key[MAX_ACTIVE];
	struct json_object *alert[MAX_ACTIVE];
	bool seen[MAX_ACTIVE];
	size_t n;
};

static char *key_of(const struct kvmon_finding *f)
{
	char *k = malloc(strlen(f->detector) + strlen(f->message) + 2);

	if (k)
		sprintf(k, "%s\t%s", f->detector, f->message);
	return k;
}

static void emit_line(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}

/* Print new findings, remember them; returns how many were new. */
static size_t report_new(struct active *a, const char *vm,
			 const struct kvmon_findings *f)
{
	size_t fresh = 0;

	for (size_t i = 0; i < a->n; i++)
		a->seen[i] = false;
	for (size_t i = 0; i < kvmon_findings_count(f); i++) {
		const struct kvmon_finding *x = kvmon_findings_get(f, i);
		char *k = key_of(x);
		size_t j;

		if (!k)
			continue;
		for (j = 0; j < a->n && strcmp(a->key[j], k); j++)
			;
		if (j < a->n) {
			a->seen[j] = true;
			free(k);
			continue;
		}
		{
			struct json_object *o = cli_alert(vm, x);

			emit_line(o);
			fresh++;
			if (a->n == MAX_ACTIVE) {
				json_object_put(o);
				free(k);
				continue;
			}
			a->key[a->n] = k;
			a->alert[a->n] = o;
			a->seen[a->n++] = true;
		}
	}
	return fresh;
}

/* Findings of the previous round that are gone: report and forget. */
static void report_resolved(struct active *a)
{
	size_t w = 0;

	for (size_t i = 0; i < a->n; i++) {
		if (a->seen[i]) {
			a->key[w] = a->key[i];
			a->alert[w] = a->alert[i];
			a->seen[w++] = true;
			continue;
		}
		json_object_object_add(a->alert[i], "severity",
				       json_object_new_string("info"));
		json_object_object_add(a->alert[i], "resolved",
				       json_object_new_boolean(1));
		emit_line(a->alert[i]);
		json_object_put(a->alert[i]);
		free(a->key[i]);
	}
	a->n = w;
}

static void sleep_interval(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct watch_opts {
	double interval;
	long count;
	const char *baseline;
	bool no_baseline;
	unsigned mask;
};

static int parse(struct cli *c, int argc, char **argv, struct watch_opts *w)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "no-baseline", no_argument, NULL, OPT_NO_BASELINE },
		{ "detectors", required_argument, NULL, OPT_DETECTORS },
		{ 0 }
	};
	char *end;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(c, opt, optarg)) < 0)
			return -1;
		if (rc)
			continue;
		switch (opt) {
		case OPT_HELP: fputs(watch_usage, stdout); return 1;
		case OPT_INTERVAL:
			w->interval = strtod(optarg, &end);
			if (*end || !(w->interval >= 0.1 && w->interval <= 86400)) {
				cli_fail(c, "bad --interval '%s'", optarg);
				return -1;
			}
			break;
		case OPT_COUNT:
			w->count = strtol(optarg, &end, 10);
			if (*end || w->count <= 0) {
				cli_fail(c, "bad --count '%s'", optarg);
				return -1;
			}
			break;
		case OPT_BASELINE: w->baseline = optarg; break;
		case OPT_NO_BASELINE: w->no_baseline = true; break;
		case OPT_DETECTORS:
			if (cli_parse_detectors(optarg, &w->mask) < 0) {
				cli_fail(c, "unknown detector in '%s'", optarg);
				return -1;
			}
			break;
		default: cli_usage_error(c, watch_usage); return -1;
		}
	}
	if (optind != argc) {
		cli_usage_error(c, watch_usage);
		return -1;
	}
	return 0;
}

int cmd_watch(int argc, char **argv)
{
	struct watch_opts w = { .interval = 5, .mask = KVMON_DETECT_ALL };
	struct sigaction sa = { .sa_handler = on_signal };
	struct kvmon_baseline *b = NULL;
	struct active a = { .n = 0 };
	struct cli_kernel ck;
	size_t alerts = 0;
	struct cli c;
	int rc = 0;

	cli_init(&c, "kvmon watch");
	c.json = true; /* the alert stream is JSON */
	rc = parse(&c, argc, argv, &w);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	if (w.baseline && !(b = kvmon_baseline_load(w.baseline)))
		return cli_lib_fail(&c, "baseline");
	if (cli_open_kernel(&c, &ck) < 0) {
		kvmon_baseline_free(b);
		return EXIT_ERROR;
	}
	if (!b && !w.no_baseline && (w.mask & KVMON_DETECT_KERNEL_TEXT) &&
	    !(b = kvmon_baseline_create(ck.k))) {
		rc = cli_lib_fail(&c, "baseline");
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "kvmon watch: %s (%s), every %.1f s\n", kvmon_vm_name(ck.vm),
		kvmon_kernel_release(ck.k), w.interval);
	for (long round = 0; !stop && (w.count == 0 || round < w.count); round++) {
		struct kvmon_findings *f = NULL;

		if (round)
			sleep_interval(w.interval);
		if (stop)
			break;
		if (kvmon_check(ck.k, b, w.mask, &f) < 0) {
			rc = cli_lib_fail(&c, "check");
			goto out;
		}
		alerts += report_new(&a, kvmon_vm_name(ck.vm), f);
		report_resolved(&a);
		kvmon_findings_free(f);
	}
	rc = alerts ? EXIT_FINDINGS : EXIT_OK;
out:
	for (size_t i = 0; i < a.n; i++) {
		free(a.key[i]);
		json_object_put(a.alert[i]);
	}
	kvmon_baseline_free(b);
	cli_close_kernel(&ck);
	return rc;
}
