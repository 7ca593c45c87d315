/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon qmp: raw QMP/HMP commands and the event stream, for operators. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char qmp_usage[] =
	"Usage: kvmon qmp [OPTIONS] COMMAND [ARGUMENTS-JSON]\n"
	"       kvmon qmp [OPTIONS] --hmp 'HMP COMMAND LINE'\n"
	"       kvmon qmp [OPTIONS] --events [--count N]\n"
	"Run one QMP command and print its reply (JSON), run an HMP command\n"
	"and print its text, or print asynchronous events, one JSON object\n"
	"per line, until --count events or --timeout.\n"
	"  --hmp            the argument is an HMP command line\n"
	"  --events         print events\n"
	"  --count N        stop after N events\n"
	COMMON_HELP
	"Exit: 0 ok, 2 error (a QMP error reply included).\n";

enum { OPT_HMP = OPT_FIRST_LOCAL, OPT_EVENTS, OPT_COUNT };

static int stream_events(struct cli *c, struct kvmon_qmp *q, long count)
{
	long seen = 0;
	int timeout = c->timeout_s ? c->timeout_s * 1000 : 3600 * 1000;

	while (count <= 0 || seen < count) {
		char *ev = NULL;
		int rc = kvmon_qmp_next_event(q, timeout, &ev);

		if (rc < 0)
			return cli_lib_fail(c, "events");
		if (rc == 0)
			break;
		puts(ev);
		fflush(stdout);
		kvmon_free(ev);
		seen++;
	}
	return EXIT_OK;
}

int cmd_qmp(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "hmp", no_argument, NULL, OPT_HMP },
		{ "events", no_argument, NULL, OPT_EVENTS },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ 0 }
	};
	bool hmp = false, events = false;
	struct kvmon_vm *vm;
	struct kvmon_qmp *q;
	char *out = NULL;
	long count = 0;
	struct cli c;
	int opt, rc;

	cli_init(&c, "kvmon qmp");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0)
			return EXIT_ERROR;
		if (rc)
			continue;
		switch (opt) {
		case OPT_HELP: fputs(qmp_usage, stdout); return EXIT_OK;
		case OPT_HMP: hmp = true; break;
		case OPT_EVENTS: events = true; break;
		case OPT_COUNT: count = strtol(optarg, NULL, 10); break;
		default: return cli_usage_error(&c, qmp_usage);
		}
	}
	if (events ? optind != argc : (optind >= argc || argc - optind > 2 ||
				       (hmp && argc - optind != 1)))
		return cli_usage_error(&c, qmp_usage);
	vm = cli_open_vm(&c);
	if (!vm)
		return EXIT_ERROR;
	q = kvmon_vm_qmp(vm);
	if (!q)
		rc = cli_lib_fail(&c, "QMP");
	else if (c.timeout_s && !events)
		kvmon_qmp_set_timeout(q, c.timeout_s * 1000);
	if (!q) {
	} else if (events) {
		rc = stream_events(&c, q, count);
	} else if (hmp) {
		rc = kvmon_qmp_hmp(q, argv[optind], &out) < 0 ? cli_lib_fail(&c, argv[optind])
							      : EXIT_OK;
		if (rc == EXIT_OK && c.json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "output", json_object_new_string(out));
			cli_emit(o);
		} else if (rc == EXIT_OK) {
			fputs(out, stdout);
		}
	} else {
		rc = kvmon_qmp_execute(q, argv[optind],
				       argc - optind == 2 ? argv[optind + 1] : NULL,
				       &out) < 0
			     ? cli_lib_fail(&c, argv[optind])
			     : EXIT_OK;
		if (rc == EXIT_OK)
			cli_emit(cli_parse(out));
	}
	kvmon_free(out);
	kvmon_vm_close(vm);
	return rc;
}
