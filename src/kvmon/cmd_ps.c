/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon ps: the guest's processes, from its kernel's task list. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ps_usage[] =
	"Usage: kvmon ps [OPTIONS]\n"
	"List the guest's processes as its kernel records them (task list from\n"
	"init_task), read from outside: pid, ppid, uid, gid, state, start time\n"
	"(seconds since boot), name, and the command line from the process's\n"
	"own memory.\n"
	"  --tree           show parent/child relations as a tree\n"
	"  --pause          pause the VM during the walk (consistent snapshot)\n"
	COMMON_HELP
	"Exit: 0 ok, 2 error.\n";

#define TREE_DEPTH 64

/* Children of `parent` below it; ppid links come from the guest, so a
 * cycle or absurd depth is cut off by the visited mark and the cap. */
static void print_tree(struct kvmon_kernel *k, const struct kvmon_task *t,
		       size_t n, bool *done, int32_t parent, int depth)
{
	for (size_t i = 0; i < n; i++) {
		char cmd[256] = "";

		if (done[i] || t[i].ppid != parent || t[i].pid == parent)
			continue;
		done[i] = true;
		if (!t[i].kthread &&
		    kvmon_kernel_task_cmdline(k, &t[i], cmd, sizeof(cmd)) < 0)
			cmd[0] = '\0';
		printf("%7d %*s%s\n", t[i].pid, 2 * depth, "",
		       t[i].kthread || !cmd[0] ? t[i].comm : cmd);
		if (depth < TREE_DEPTH)
			print_tree(k, t, n, done, t[i].pid, depth + 1);
	}
}

static void tree(struct kvmon_kernel *k, const struct kvmon_task *t, size_t n)
{
	bool *done = calloc(n ? n : 1, sizeof(*done));

	if (!done)
		return;
	printf("%7s %s\n", "PID", "COMMAND");
	for (size_t i = 0; i < n; i++) /* roots: pid 0, then orphans */
		if (t[i].pid == 0 && !done[i]) {
			done[i] = true;
			printf("%7d %s\n", 0, t[i].comm);
			print_tree(k, t, n, done, 0, 1);
		}
	for (size_t i = 0; i < n; i++)
		if (!done[i]) {
			done[i] = true;
			printf("%7d %s (parent %d not listed)\n", t[i].pid, t[i].comm,
			       t[i].ppid);
			print_tree(k, t, n, done, t[i].pid, 1);
		}
	free(done);
}

static struct json_object *task_json(const struct kvmon_task *t, const char *cmd)
{
	struct json_object *o = json_object_new_object();
	char state[2] = { t->state, 0 };

	json_object_object_add(o, "pid", json_object_new_int(t->pid));
	json_object_object_add(o, "ppid", json_object_new_int(t->ppid));
	json_object_object_add(o, "tgid", json_object_new_int(t->tgid));
	json_object_object_add(o, "uid", json_object_new_int64(t->uid));
	json_object_object_add(o, "gid", json_object_new_int64(t->gid));
	json_object_object_add(o, "euid", json_object_new_int64(t->euid));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "comm", json_object_new_string(t->comm));
	json_object_object_add(o, "kthread", json_object_new_boolean(t->kthread));
	json_object_object_add(o, "start_ns", json_object_new_uint64(t->start_ns));
	json_object_object_add(o, "cmdline", json_object_new_string(cmd));
	json_object_object_add(o, "task", json_object_new_uint64(t->addr));
	return o;
}

int cmd_ps(int argc, char **argv)
{
	struct cli_kernel ck;
	struct kvmon_task *t = NULL;
	struct json_object *arr = NULL;
	bool pause = false, as_tree = false;
	size_t n = 0;
	struct cli c;
	int rc;

	cli_init(&c, "kvmon ps");
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--tree")) {
			as_tree = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			break;
		}
	rc = cli_kernel_opts(&c, argc, argv, ps_usage, &pause);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	if (optind != argc)
		return cli_usage_error(&c, ps_usage);
	if (cli_open_kernel(&c, &ck) < 0)
		return EXIT_ERROR;
	if (pause && cli_pause(&c, ck.vm, true)) {
		cli_close_kernel(&ck);
		return EXIT_ERROR;
	}
	rc = kvmon_kernel_tasks(ck.k, &t, &n) < 0 ? cli_lib_fail(&c, "ps") : EXIT_OK;
	if (rc == EXIT_OK && as_tree && !c.json) {
		tree(ck.k, t, n);
	} else if (rc == EXIT_OK) {
		if (c.json)
			arr = json_object_new_array();
		else
			printf("%7s %7s %5s %5s S %9s %-16s %s\n", "PID", "PPID", "UID",
			       "GID", "START", "COMM", "CMDLINE");
		for (size_t i = 0; i < n; i++) {
			char cmd[4096] = "";

			if (kvmon_kernel_task_cmdline(ck.k, &t[i], cmd, sizeof(cmd)) < 0)
				snprintf(cmd, sizeof(cmd), "?");
			if (arr) {
				json_object_array_add(arr, task_json(&t[i], cmd));
				continue;
			}
			printf("%7d %7d %5u %5u %c %9.2f %-16s %s\n", t[i].pid, t[i].ppid,
			       t[i].uid, t[i].gid, t[i].state,
			       (double)t[i].start_ns / 1e9,
			       t[i].kthread ? "" : t[i].comm,
			       t[i].kthread ? t[i].comm : cmd);
		}
	}
	if (pause && cli_pause(&c, ck.vm, false))
		rc = EXIT_ERROR;
	if (arr) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "processes", arr);
		cli_emit(o);
	}
	free(t);
	cli_close_kernel(&ck);
	return rc;
}
