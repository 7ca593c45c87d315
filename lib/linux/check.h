/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Detectors: the findings list and each detector's entry point. */
#ifndef KVMON_LINUX_CHECK_H
#define KVMON_LINUX_CHECK_H

#include "linux/kernel.h"

/* A check never produces more than this many findings (plus one saying
 * the list was cut): a hostile guest must not flood the monitor. */
#define KVMON_MAX_FINDINGS 1000

/* Add a finding; details (may be NULL) is consumed. */
void kvmon_finding_add(struct kvmon_findings *f, const char *detector,
		       int severity, struct json_object *details,
		       const char *fmt, ...) KVMON_PRINTF(5, 6);

/* Name of what contains addr: "symbol+0xoff", "[module]+0xoff" or "?". */
void kvmon_describe_addr(struct kvmon_kernel *k, const struct kvmon_module *mods,
			 size_t nmods, uint64_t addr, char *out, size_t size);

int kvmon_detect_syscalls(struct kvmon_kernel *k, const struct kvmon_baseline *b,
			  struct kvmon_findings *f);
int kvmon_detect_hidden_process(struct kvmon_kernel *k, struct kvmon_findings *f);
int kvmon_detect_hidden_module(struct kvmon_kernel *k, struct kvmon_findings *f);
int kvmon_detect_kernel_text(struct kvmon_kernel *k, const struct kvmon_baseline *b,
			     struct kvmon_findings *f);

#endif
