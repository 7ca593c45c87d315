/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Finding the kallsyms tables by their structure, for kernels that do not
 * name them in VMCOREINFO (Linux < 6.0). Layouts of scripts/kallsyms.c,
 * Linux 4.6..6.x x86-64 (CONFIG_KALLSYMS_BASE_RELATIVE with
 * ABSOLUTE_PERCPU), every table 8-aligned, in this order in .rodata:
 *
 *   kallsyms_offsets        s32 per symbol
 *   kallsyms_relative_base  u64
 *   kallsyms_num_syms       u32 (6.x) or u64 (4.x); either way the 8 bytes
 *                           before kallsyms_names read as u32 N, u32 0
 *   kallsyms_names          length-prefixed token strings
 *   kallsyms_markers        u32 (5.x+) or u64 (4.x) per 256 symbols
 *   [kallsyms_seqs_of_names 3 or 4 bytes per symbol, 6.2+ and backports]
 *   kallsyms_token_table    256 NUL-terminated printable strings
 *   kallsyms_token_index    u16[256], the offsets of those strings
 *
 * The memory is hostile: every candidate is verified end to end (the names
 * decode to exactly num_syms entries with valid type chars, every marker
 * agrees, the offsets give sorted addresses starting at relative_base) and
 * the total work is bounded whatever the memory holds.
 */
#ifndef KVMON_LINUX_KALLSYMS_CARVE_H
#define KVMON_LINUX_KALLSYMS_CARVE_H

#include "linux/kallsyms.h"

#include <stdint.h>

/* Largest range one carve scans. */
#define KVMON_KALLSYMS_CARVE_MAX_LEN (256ull << 20)

/*
 * Scan [start, start + len) of kernel virtual memory for the kallsyms
 * tables (e.g. [_stext & ~(2 MiB - 1), +64 MiB)); every table must lie in
 * the range. Unreadable pages are skipped. Returns 0 and fills *out (all
 * seven addresses) when exactly one complete set verifies; -1 with
 * EINVAL (bad range), E2BIG (len above the limit, or too many candidates /
 * the work limit reached: memory built to defeat the scan), ENOENT (none
 * found), EEXIST (more than one complete set: refusing to guess), ENOMEM.
 */
int kvmon_kallsyms_carve(const struct kvmon_virtmem *vm, uint64_t start,
			 uint64_t len, struct kvmon_kallsyms_addrs *out);

#endif
