/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon check: run the detectors once. kvmon baseline: take a baseline. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char check_usage[] =
	"Usage: kvmon check [OPTIONS]\n"
	"Run the detectors once against the guest, from outside:\n"
	"  syscall_table   entries outside core kernel text or not syscall entry points\n"
	"  hidden_process  processes alive in the PID allocator but not in the task list\n"
	"  hidden_module   modules in sysfs (module kset) but not in the module list\n"
	"  kernel_text     kernel text / read-only data changed since --baseline\n"
	"                  (patching by static keys, static calls, ftrace judged\n"
	"                  separately; see docs/detectors.md)\n"
	"  --baseline FILE  compare with this baseline (kvmon baseline create)\n"
	"  --detectors LIST comma-separated names or all (default: all)\n"
	"  --pause          pause the VM while checking (consistent snapshot)\n"
	COMMON_HELP
	"Exit: 0 clean, 1 findings (warning or critical), 2 error.\n";

static const char baseline_usage[] =
	"Usage: kvmon baseline create FILE [OPTIONS]\n"
	"Record the guest kernel's text and read-only data, and the sites the\n"
	"kernel may patch at run time, as the known-good state for\n"
	"'kvmon check --baseline FILE'. Take it when you trust the guest (right\n"
	"after boot); it is valid for that boot (release + KASLR offset).\n"
	"  --pause          pause the VM while reading\n"
	COMMON_HELP
	"Exit: 0 ok, 2 error.\n";

enum { OPT_BASELINE = OPT_FIRST_LOCAL, OPT_DETECTORS };

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "pause", no_argument, NULL, OPT_PAUSE },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "detectors", required_argument, NULL, OPT_DETECTORS },
		{ 0 }
	};
	struct kvmon_baseline *b = NULL;
	struct kvmon_findings *f = NULL;
	const char *bpath = NULL;
	unsigned mask = KVMON_DETECT_ALL;
	struct cli_kernel ck;
	bool pause = false;
	size_t serious = 0;
	struct cli c;
	int opt, rc;

	cli_init(&c, "kvmon check");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0)
			return EXIT_ERROR;
		if (rc)
			continue;
		switch (opt) {
		case OPT_HELP: fputs(check_usage, stdout); return EXIT_OK;
		case OPT_PAUSE: pause = true; break;
		case OPT_BASELINE: bpath = optarg; break;
		case OPT_DETECTORS:
			if (cli_parse_detectors(optarg, &mask) < 0)
				return cli_fail(&c, "unknown detector in '%s'", optarg);
			break;
		default: return cli_usage_error(&c, check_usage);
		}
	}
	if (optind != argc)
		return cli_usage_error(&c, check_usage);
	if (bpath && !(b = kvmon_baseline_load(bpath)))
		return cli_lib_fail(&c, "baseline");
	if (cli_open_kernel(&c, &ck) < 0) {
		kvmon_baseline_free(b);
		return EXIT_ERROR;
	}
	if (pause && cli_pause(&c, ck.vm, true)) {
		rc = EXIT_ERROR;
		goto out;
	}
	rc = kvmon_check(ck.k, b, mask, &f) < 0 ? cli_lib_fail(&c, "check") : EXIT_OK;
	if (pause && cli_pause(&c, ck.vm, false))
		rc = EXIT_ERROR;
	if (rc != EXIT_OK)
		goto out;
	for (size_t i = 0; i < kvmon_findings_count(f); i++)
		serious += kvmon_findings_get(f, i)->severity >= KVMON_SEVERITY_WARNING;
	if (c.json) {
		struct json_object *o = json_object_new_object(),
				   *arr = json_object_new_array();

		for (size_t i = 0; i < kvmon_findings_count(f); i++)
			json_object_array_add(arr, cli_alert(kvmon_vm_name(ck.vm),
							     kvmon_findings_get(f, i)));
		json_object_object_add(o, "vm", json_object_new_string(kvmon_vm_name(ck.vm)));
		json_object_object_add(o, "release",
				       json_object_new_string(kvmon_kernel_release(ck.k)));
		json_object_object_add(o, "baseline", json_object_new_boolean(b != NULL));
		json_object_object_add(o, "clean", json_object_new_boolean(serious == 0));
		json_object_object_add(o, "findings", arr);
		cli_emit(o);
	} else {
		for (size_t i = 0; i < kvmon_findings_count(f); i++) {
			const struct kvmon_finding *x = kvmon_findings_get(f, i);

			printf("%-8s %-15s %s\n", cli_severity_name(x->severity),
			       x->detector, x->message);
		}
		printf("%s: %zu finding%s%s\n", kvmon_vm_name(ck.vm), serious,
		       serious == 1 ? "" : "s",
		       b ? "" : " (kernel_text skipped: no --baseline)");
	}
	rc = serious ? EXIT_FINDINGS : EXIT_OK;
out:
	kvmon_findings_free(f);
	kvmon_baseline_free(b);
	cli_close_kernel(&ck);
	return rc;
}

int cmd_baseline(int argc, char **argv)
{
	struct kvmon_baseline *b;
	struct cli_kernel ck;
	const char *path;
	bool pause = false;
	struct cli c;
	int rc;

	cli_init(&c, "kvmon baseline");
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(baseline_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	if (strcmp(argv[1], "create"))
		return cli_usage_error(&c, baseline_usage);
	rc = cli_kernel_opts(&c, argc - 1, argv + 1, baseline_usage, &pause);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	if (argc - 1 - optind != 1)
		return cli_usage_error(&c, baseline_usage);
	path = argv[1 + optind];
	if (cli_open_kernel(&c, &ck) < 0)
		return EXIT_ERROR;
	if (pause && cli_pause(&c, ck.vm, true)) {
		cli_close_kernel(&ck);
		return EXIT_ERROR;
	}
	cli_progress("reading kernel text and read-only data...");
	b = kvmon_baseline_create(ck.k);
	if (pause && cli_pause(&c, ck.vm, false))
		rc = EXIT_ERROR;
	if (!b)
		rc = cli_lib_fail(&c, "baseline");
	else if (kvmon_baseline_save(b, path) < 0)
		rc = cli_lib_fail(&c, path);
	cli_progress_done();
	if (rc == EXIT_OK) {
		if (c.json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "baseline", json_object_new_string(path));
			json_object_object_add(o, "release",
					       json_object_new_string(kvmon_kernel_release(ck.k)));
			cli_emit(o);
		} else {
			printf("baseline of %s written to %s\n",
			       kvmon_kernel_release(ck.k), path);
		}
	}
	kvmon_baseline_free(b);
	cli_close_kernel(&ck);
	return rc;
}
