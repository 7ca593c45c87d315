/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The bundled test guest: where it is, building it, booting it. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef KVMON_GUEST_DIR
#define KVMON_GUEST_DIR ".cache/guest"
#endif
#ifndef KVMON_SOURCE_DIR
#define KVMON_SOURCE_DIR "."
#endif

static const char *const guest_files[] = { "vmlinuz", "initrd.img",
					   "rootfs.qcow2" };

const char *guest_dir(void)
{
	const char *env = getenv("KVMON_GUEST_DIR");

	return env && *env ? env : KVMON_GUEST_DIR;
}

static bool guest_present(void)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(guest_files) / sizeof(*guest_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", guest_dir(), guest_files[i]);
		if (access(path, R_OK) < 0)
			return false;
	}
	return true;
}

int guest_ensure(bool quiet)
{
	char script[PATH_MAX];
	int status;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/guest/build.sh", KVMON_SOURCE_DIR);
	if (access(script, X_OK) < 0) {
		/* Installed without the source tree: use what is there. */
		if (guest_present())
			return 0;
		fprintf(stderr, "kvmon: bundled guest missing in %s and no %s\n",
			guest_dir(), script);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(127);
		execl(script, script, guest_dir(), (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "kvmon: building the bundled guest failed\n");
		return -1;
	}
	return guest_present() ? 0 : -1;
}

int guest_configure(struct kvmon_vm_config *cfg)
{
	char path[PATH_MAX];
	static const char *const keys[] = { "kernel", "initrd", "disk" };

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", guest_dir(), guest_files[i]);
		if (kvmon_vm_config_set(cfg, keys[i], path) < 0)
			return -1;
	}
	if (kvmon_vm_config_set(cfg, "append", "console=ttyS0 panic=-1 quiet") < 0 ||
	    kvmon_vm_config_set_int(cfg, "control", 1) < 0 ||
	    kvmon_vm_config_set_int(cfg, "http-port", 0) < 0)
		return -1;
	return 0;
}

static const char guest_usage[] =
	"Usage: kvmon guest build|path [--json]\n"
	"Build the bundled test guest (cached; rebuilt when its inputs change)\n"
	"or print where it lives.\n"
	"Exit: 0 ok, 2 error.\n";

int cmd_guest(int argc, char **argv)
{
	struct cli c;
	bool json = false;

	cli_init(&c, "kvmon guest");
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = c.json = true;
		else if (!strcmp(argv[i], "--help")) {
			fputs(guest_usage, stdout);
			return EXIT_OK;
		}
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(guest_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	if (!strcmp(argv[1], "build")) {
		if (guest_ensure(false) < 0)
			return cli_fail(&c, "guest build failed");
	} else if (strcmp(argv[1], "path")) {
		return cli_usage_error(&c, guest_usage);
	}
	if (json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "guest_dir",
				       json_object_new_string(guest_dir()));
		json_object_object_add(o, "present",
				       json_object_new_boolean(guest_present()));
		cli_emit(o);
	} else {
		printf("%s\n", guest_dir());
	}
	return EXIT_OK;
}
