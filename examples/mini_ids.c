/* SPDX-License-Identifier: MIT */
/*
 * A minimal offloaded IDS on libkvmon's public API only: attach to a VM,
 * learn its kernel from memory, take a baseline, then check every few
 * seconds and print what the detectors find. Built against libkvmon.so.
 *
 *   mini_ids --qmp /path/to/qmp.sock [--interval SEC] [--rounds N]
 *   mini_ids --name VM [--rundir DIR] ...
 */
#include <kvmon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *sev(int s)
{
	return s == KVMON_SEVERITY_CRITICAL ? "CRITICAL"
	       : s == KVMON_SEVERITY_WARNING ? "warning" : "info";
}

int main(int argc, char **argv)
{
	const char *qmp = NULL, *name = NULL, *rundir = NULL;
	int interval = 5, rounds = 0, bad = 0;
	struct kvmon_vm *vm;
	struct kvmon_mem *mem;
	struct kvmon_kernel *k;
	struct kvmon_baseline *base;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--qmp"))
			qmp = argv[i + 1];
		else if (!strcmp(argv[i], "--name"))
			name = argv[i + 1];
		else if (!strcmp(argv[i], "--rundir"))
			rundir = argv[i + 1];
		else if (!strcmp(argv[i], "--interval"))
			interval = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[i + 1]);
	}
	if (!qmp && !name) {
		fprintf(stderr, "usage: %s --qmp SOCKET | --name VM [--rundir DIR] "
			"[--interval SEC] [--rounds N]\n", argv[0]);
		return 2;
	}
	vm = qmp ? kvmon_vm_attach(qmp) : kvmon_vm_open(rundir, name);
	mem = vm ? kvmon_mem_open(vm) : NULL;
	k = mem ? kvmon_kernel_open(mem) : NULL;
	if (!k) {
		fprintf(stderr, "mini_ids: %s\n", kvmon_get_error());
		return 2;
	}
	/* One QMP client per socket: leave it to other tools while we read. */
	kvmon_vm_disconnect(vm);
	printf("watching %s: Linux %s, KASLR offset 0x%llx, %zu symbols\n",
	       kvmon_vm_name(vm), kvmon_kernel_release(k),
	       (unsigned long long)kvmon_kernel_kaslr_offset(k),
	       kvmon_kernel_symbol_count(k));
	base = kvmon_baseline_create(k);
	if (!base) {
		fprintf(stderr, "mini_ids: baseline: %s\n", kvmon_get_error());
		return 2;
	}
	for (int r = 0; rounds == 0 || r < rounds; r++) {
		struct kvmon_findings *f;

		if (r)
			sleep((unsigned)interval);
		if (kvmon_check(k, base, KVMON_DETECT_ALL, &f) < 0) {
			fprintf(stderr, "mini_ids: %s\n", kvmon_get_error());
			return 2;
		}
		for (size_t i = 0; i < kvmon_findings_count(f); i++) {
			const struct kvmon_finding *x = kvmon_findings_get(f, i);

			printf("[%s] %s: %s\n", sev(x->severity), x->detector, x->message);
			bad++;
		}
		if (kvmon_findings_count(f) == 0)
			printf("round %d: clean\n", r + 1);
		kvmon_findings_free(f);
	}
	kvmon_baseline_free(base);
	kvmon_kernel_close(k);
	kvmon_mem_close(mem);
	kvmon_vm_close(vm);
	return bad ? 1 : 0;
}
