/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Native x86-64 guest page-table walk (4- and 5-level paging) and a small
 * translation cache. Internal; not installed.
 *
 * Everything read from the guest is attacker-controlled: a walk is at most
 * five bounded reads through struct kvmon_physmem, never dereferences guest
 * memory directly and cannot loop, whatever the tables contain (recursive
 * and self-referencing entries included).
 *
 * Model: MAXPHYADDR 52, IA32_EFER.NXE = 1 (every 64-bit OS sets it), no
 * protection keys or LAM interpretation (bits 52..62 of an entry are
 * ignored). Entries that the CPU would reject with a reserved-bit page
 * fault (PS in a PML5/PML4 entry, non-zero bits 13..20 / 13..29 in a
 * 2 MiB / 1 GiB entry) are reported as not mapped rather than guessed at.
 */
#ifndef KVMON_ARCH_X86_64_H
#define KVMON_ARCH_X86_64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvmon_physmem;

#define KVMON_X86_PAGE_4K (UINT64_C(1) << 12)
#define KVMON_X86_PAGE_2M (UINT64_C(1) << 21)
#define KVMON_X86_PAGE_1G (UINT64_C(1) << 30)

/* Largest kvmon_x86_read_virt() request. */
#define KVMON_X86_READ_MAX (UINT64_C(64) << 20)

struct kvmon_xlate {
	uint64_t gpa;		/* physical address va translates to */
	uint64_t page_size;	/* 4096, 2 MiB or 1 GiB */
	bool writable, user, nx; /* effective (AND of W/U over levels, OR of NX) */
};

/*
 * Walk the tables rooted at cr3 (low 12 bits / PCID and bit 63 ignored);
 * la57 selects 5-level paging. -1/EFAULT if not mapped (message names the
 * level and va), EINVAL for a non-canonical va, EIO if a table cannot be
 * read. A successful translation says nothing about whether the gpa is RAM.
 */
int kvmon_x86_translate(const struct kvmon_physmem *pm, uint64_t cr3, bool la57,
			uint64_t va, struct kvmon_xlate *out);

/*
 * Translation cache: direct-mapped, keyed by (page-table root, la57, page
 * of va, page size). A large page is cached once and serves every address
 * inside it. Failed walks are never cached.
 *
 * The cache is only valid while the guest's page tables do not change, and
 * nothing tells us when they do. Callers therefore flush it:
 *  (a) when they start a new consistent pass (e.g. each detector run);
 *  (b) on any EFAULT during a pass (the tables may be mid-update, and a
 *      stale entry could hide or fake a mapping);
 *  (c) whenever the tables under a cr3 of interest may have been changed
 *      (e.g. after resuming a paused guest).
 * Entries are tagged with the root table address (cr3 bits 12..51) and
 * la57, so a lookup is never answered from a different address space.
 *
 * Not thread-safe: use one cache per thread (the hot path takes no lock
 * and does no allocation).
 */
struct kvmon_tlb;

/* 2^entries_log2 entries (0..20), e.g. 10 -> 1024. NULL with error set. */
struct kvmon_tlb *kvmon_tlb_new(unsigned entries_log2);
void kvmon_tlb_free(struct kvmon_tlb *t);
/* Drop every entry (counters are kept). */
void kvmon_tlb_flush(struct kvmon_tlb *t);
/* Counters for benchmarks and tests; either pointer may be NULL. */
void kvmon_tlb_stats(const struct kvmon_tlb *t, uint64_t *hits,
		     uint64_t *misses);

/*
 * Cached translate: a hit costs no guest memory reads. t may be NULL
 * (plain walk). Same errors as kvmon_x86_translate().
 */
int kvmon_x86_translate_cached(struct kvmon_tlb *t, const struct kvmon_physmem *pm,
			       uint64_t cr3, bool la57, uint64_t va,
			       struct kvmon_xlate *out);

/*
 * Read len bytes of guest-virtual memory (may span pages, each translated;
 * t may be NULL). Fails with EFAULT on the first unmapped byte (buf is then
 * partly written), EINVAL if len > KVMON_X86_READ_MAX or the range is not
 * canonical or wraps; a failing physical read keeps the backend's errno.
 */
int kvmon_x86_read_virt(struct kvmon_tlb *t, const struct kvmon_physmem *pm,
			uint64_t cr3, bool la57, uint64_t va, void *buf, size_t len);

#endif
