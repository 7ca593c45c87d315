/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Full system-call-table check, native vs the paper's method, side by side
 * on the real bundled guest in one run (machines are noisy: only the ratio
 * is meaningful).
 *
 *   native  page walk on the mapped RAM file, translation cache, verdicts
 *           memoised by entry value (kvmon's default)
 *   cold    native with the translation cache flushed before every check
 *   qmp     the original KVMonitor's method: every page translated by QEMU
 *           (HMP gva2gpa), memory read from the same mapped file
 *
 * One check = kvmon_check() with the syscall_table detector: a fresh pass,
 * all of sys_call_table read, every entry judged (inside core text, at the
 * start of a syscall entry point), findings returned.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tests/support/tguest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Medians: a preempted iteration on a busy machine must not move them. */
struct stats {
	double mean, min, median;
	int n;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* What `kvmon check --detectors syscall_table` runs, through the public
 * API: a new pass (translation cache flushed), the table read, every entry
 * judged. */
static int one_check(struct kvmon_kernel *k, size_t *findings)
{
	struct kvmon_findings *f = NULL;

	if (kvmon_check(k, NULL, KVMON_DETECT_SYSCALLS, &f) < 0)
		return -1;
	*findings = kvmon_findings_count(f);
	kvmon_findings_free(f);
	return 1;
}

static int run(struct kvmon_kernel *k, int iters, bool flush, struct stats *st)
{
	double total = 0, *t = malloc((size_t)iters * sizeof(*t));
	size_t outside;

	if (!t)
		return -1;
	st->n = iters;
	for (int i = 0; i < iters; i++) {
		double t0;

		if (flush)
			kvmon_kernel_flush(k);
		t0 = now_us();
		if (one_check(k, &outside) < 0) {
			free(t);
			return -1;
		}
		t[i] = now_us() - t0;
		total += t[i];
	}
	qsort(t, (size_t)iters, sizeof(*t), cmp_double);
	st->min = t[0];
	st->median = t[iters / 2];
	st->mean = total / iters;
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 20000;
	struct stats native, cold, qmp;
	struct kvmon_vm *vm;
	struct kvmon_mem *mem;
	struct kvmon_kernel *k;
	struct kvmon_qmp *q;
	size_t outside = 0;
	int entries;

	if (!tguest_available()) {
		fprintf(stderr, "bench: bundled guest not built (guest/build.sh)\n");
		return 77;
	}
	vm = tguest_start("bench");
	if (!vm || !(mem = kvmon_mem_open(vm)) || !(k = kvmon_kernel_open(mem))) {
		fprintf(stderr, "bench: %s\n", kvmon_get_error());
		return 2;
	}
	{
		struct kvmon_syscall *s = NULL;
		size_t n = 0;

		entries = kvmon_kernel_syscalls(k, &s, &n) == 0 ? (int)n : -1;
		free(s);
	}
	if (entries <= 0 || one_check(k, &outside) < 0 || outside != 0 || run(k, 200, false, &native) < 0 ||
	    run(k, iters, false, &native) < 0 || run(k, iters / 10, true, &cold) < 0) {
		fprintf(stderr, "bench: %s\n", kvmon_get_error());
		return 2;
	}
	q = kvmon_vm_qmp(vm);
	kvmon_kernel_set_translation(k, q);
	if (!q || run(k, 3, false, &qmp) < 0 || run(k, 50, false, &qmp) < 0) {
		fprintf(stderr, "bench: qmp path: %s\n", kvmon_get_error());
		return 2;
	}
	kvmon_kernel_set_translation(k, NULL);
	printf("system-call-table check, %d entries, guest %s\n", entries,
	       kvmon_kernel_release(k));
#define ROW(label, st)                                                         \
	printf("  %-32s median %9.2f us  mean %9.2f us  min %9.2f us  (%d)\n", \
	       label, (st).median, (st).mean, (st).min, (st).n)
	ROW("native, warm (kvmon default)", native);
	ROW("native, translation cache cold", cold);
	ROW("QMP gva2gpa (paper's method)", qmp);
#undef ROW
	printf("ratio (medians) qmp/native-warm: %.0fx   qmp/native-cold: %.0fx\n",
	       qmp.median / native.median, qmp.median / cold.median);
	printf("targets: >= 300x faster than the QMP path: %s; <= 10 us warm: %s\n",
	       qmp.median / native.median >= 300 ? "met" : "MISSED",
	       native.median <= 10 ? "met" : "MISSED");
	kvmon_kernel_close(k);
	kvmon_mem_close(mem);
	return tguest_stop(vm) == 0 ? 0 : 2;
}
