/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon: IDS offloading for KVM/QEMU — command dispatch. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"Usage: kvmon [--version] [--help] COMMAND [ARGS]\n"
	"Monitor a KVM/QEMU virtual machine from the host, read-only.\n\n"
	"Commands:\n"
	"  demo     boot the bundled test VM and show what kvmon sees of it\n"
	"  vm       start, stop, inspect VMs (start|stop|status|info|list)\n"
	"  ps       the guest's processes, from its kernel's task list\n"
	"  lsmod    the guest's loaded kernel modules\n"
	"  syscalls the system-call table, each entry resolved\n"
	"  kernel   guest kernel facts; symbol, member, address lookups\n"
	"  check    run the rootkit detectors once\n"
	"  watch    run the detectors continuously, one JSON alert per line\n"
	"  baseline record kernel text/rodata as the known-good state\n"
	"  mem      read or search guest-physical memory\n"
	"  cage     VM + IDS as one cgroup unit (create|run|add|stats|remove)\n"
	"  balloon  VM balloon; follow: move the IDS's memory from the VM to it\n"
	"  disk     read the VM's disk from outside (parts, ls, stat, cat)\n"
	"  mount    the guest's file system at a directory, read-only (FUSE)\n"
	"  fim      file-integrity check of the guest's files (init, check, update)\n"
	"  mirror   copy the VM's network traffic: pcap, flow log, signature rules\n"
	"  qmp      run a QMP/HMP command or follow QMP events\n"
	"  guest    build or locate the bundled test guest\n\n"
	"Every command takes --help and --json.\n"
	"Exit codes: 0 ok, 1 findings (or: VM not running / not found),\n"
	"2 error. See docs/cli.md.\n";

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "demo", cmd_demo }, { "vm", cmd_vm }, { "mem", cmd_mem },
		{ "qmp", cmd_qmp },   { "guest", cmd_guest },
		{ "ps", cmd_ps },     { "lsmod", cmd_lsmod },
		{ "syscalls", cmd_syscalls }, { "kernel", cmd_kernel },
		{ "check", cmd_check }, { "watch", cmd_watch },
		{ "baseline", cmd_baseline },
		{ "cage", cmd_cage }, { "balloon", cmd_balloon },
		{ "disk", cmd_disk }, { "mount", cmd_mount },
		{ "mirror", cmd_mirror },
		{ "fim", cmd_fim },
	};

	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kvmon %s\n", KVMON_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "kvmon: unknown command '%s'\n\n%s", argv[1], usage);
	return EXIT_ERROR;
}
