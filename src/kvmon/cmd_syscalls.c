/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon syscalls: the guest's system-call table, each entry resolved. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char syscalls_usage[] =
	"Usage: kvmon syscalls [OPTIONS]\n"
	"Print the guest's system-call table (sys_call_table), each handler\n"
	"resolved to a kernel symbol; entries pointing outside core kernel\n"
	"text (_stext.._etext) are flagged OUTSIDE.\n"
	"  --pause          pause the VM while reading\n"
	COMMON_HELP
	"Exit: 0 all entries in core text, 1 some outside (finding), 2 error.\n";

int cmd_syscalls(int argc, char **argv)
{
	struct kvmon_syscall *s = NULL;
	struct cli_kernel ck;
	bool pause = false;
	size_t n = 0, outside = 0;
	struct cli c;
	int rc;

	cli_init(&c, "kvmon syscalls");
	rc = cli_kernel_opts(&c, argc, argv, syscalls_usage, &pause);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	if (optind != argc)
		return cli_usage_error(&c, syscalls_usage);
	if (cli_open_kernel(&c, &ck) < 0)
		return EXIT_ERROR;
	if (pause && cli_pause(&c, ck.vm, true)) {
		cli_close_kernel(&ck);
		return EXIT_ERROR;
	}
	rc = kvmon_kernel_syscalls(ck.k, &s, &n) < 0 ? cli_lib_fail(&c, "syscalls")
						     : EXIT_OK;
	if (pause && cli_pause(&c, ck.vm, false))
		rc = EXIT_ERROR;
	for (size_t i = 0; rc == EXIT_OK && i < n; i++)
		outside += !s[i].in_core_text;
	if (rc == EXIT_OK && c.json) {
		struct json_object *o = json_object_new_object(),
				   *arr = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "nr", json_object_new_int((int)s[i].nr));
			json_object_object_add(e, "handler", json_object_new_uint64(s[i].handler));
			json_object_object_add(e, "symbol", json_object_new_string(s[i].symbol));
			json_object_object_add(e, "offset", json_object_new_uint64(s[i].offset));
			json_object_object_add(e, "in_core_text",
					       json_object_new_boolean(s[i].in_core_text));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "syscalls", arr);
		json_object_object_add(o, "outside_core_text",
				       json_object_new_uint64(outside));
		cli_emit(o);
	} else if (rc == EXIT_OK) {
		for (size_t i = 0; i < n; i++)
			printf("%4u 0x%016llx %s+0x%llx%s\n", s[i].nr,
			       (unsigned long long)s[i].handler,
			       s[i].symbol[0] ? s[i].symbol : "?",
			       (unsigned long long)s[i].offset,
			       s[i].in_core_text ? "" : "  OUTSIDE");
		printf("%zu entries, %zu outside core kernel text\n", n, outside);
	}
	free(s);
	cli_close_kernel(&ck);
	return rc == EXIT_OK && outside ? EXIT_FINDINGS : rc;
}
