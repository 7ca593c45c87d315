/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon lsmod: the guest's loaded kernel modules. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char lsmod_usage[] =
	"Usage: kvmon lsmod [OPTIONS]\n"
	"List the guest's loaded kernel modules (the kernel's module list)\n"
	"with address and size, read from outside.\n"
	"  --pause          pause the VM during the walk\n"
	COMMON_HELP
	"Exit: 0 ok, 2 error.\n";

int cmd_lsmod(int argc, char **argv)
{
	struct kvmon_module *m = NULL;
	struct json_object *arr = NULL;
	struct cli_kernel ck;
	bool pause = false;
	size_t n = 0;
	struct cli c;
	int rc;

	cli_init(&c, "kvmon lsmod");
	rc = cli_kernel_opts(&c, argc, argv, lsmod_usage, &pause);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	if (optind != argc)
		return cli_usage_error(&c, lsmod_usage);
	if (cli_open_kernel(&c, &ck) < 0)
		return EXIT_ERROR;
	if (pause && cli_pause(&c, ck.vm, true)) {
		cli_close_kernel(&ck);
		return EXIT_ERROR;
	}
	rc = kvmon_kernel_modules(ck.k, &m, &n) < 0 ? cli_lib_fail(&c, "lsmod")
						    : EXIT_OK;
	if (pause && cli_pause(&c, ck.vm, false))
		rc = EXIT_ERROR;
	if (rc == EXIT_OK && c.json) {
		struct json_object *o = json_object_new_object();

		arr = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "name", json_object_new_string(m[i].name));
			json_object_object_add(e, "base", json_object_new_uint64(m[i].base));
			json_object_object_add(e, "size", json_object_new_uint64(m[i].size));
			json_object_object_add(e, "module", json_object_new_uint64(m[i].addr));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "modules", arr);
		cli_emit(o);
	} else if (rc == EXIT_OK) {
		printf("%-24s %-18s %8s\n", "MODULE", "BASE", "SIZE");
		for (size_t i = 0; i < n; i++)
			printf("%-24s 0x%016llx %8llu\n", m[i].name,
			       (unsigned long long)m[i].base,
			       (unsigned long long)m[i].size);
	}
	free(m);
	cli_close_kernel(&ck);
	return rc;
}
