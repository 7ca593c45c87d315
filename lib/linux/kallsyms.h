/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Linux kernel's compressed symbol table (kallsyms), decoded from guest
 * memory with nothing but the table addresses VMCOREINFO provides. Format of
 * Linux 6.1 x86-64 (CONFIG_KALLSYMS_BASE_RELATIVE, ABSOLUTE_PERCPU, "big"
 * 2-byte name lengths). The tables are hostile: every size and index is
 * bounded and checked; failures are EPROTO (malformed) or E2BIG (beyond a
 * limit), or the read callback's own error.
 */
#ifndef KVMON_LINUX_KALLSYMS_H
#define KVMON_LINUX_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

struct kvmon_vmcoreinfo;

#ifndef KVMON_HAVE_VIRTMEM
#define KVMON_HAVE_VIRTMEM
/*
 * Guest-virtual memory: one read callback (0 on success, -1 with
 * kvmon_set_error on failure, e.g. EFAULT for an unmapped address).
 */
struct kvmon_virtmem {
	int (*read)(void *ctx, uint64_t va, void *buf, size_t len);
	void *ctx;
};
#endif

/* Runtime (KASLR-relocated) addresses of the kallsyms tables. */
struct kvmon_kallsyms_addrs {
	uint64_t names;
	uint64_t num_syms;
	uint64_t token_table;
	uint64_t token_index;
	uint64_t offsets;
	uint64_t relative_base;
	uint64_t markers;	/* 0 if unknown: only used as a bound */
};

/* Limits on what a guest can make us decode and hold. */
#define KVMON_KSYM_NAME_LEN 512			/* type char + name, as 6.1 */
#define KVMON_KALLSYMS_MAX_SYMS 4000000u
#define KVMON_KALLSYMS_MAX_NAMES (64u << 20)	/* compressed stream */
#define KVMON_KALLSYMS_MAX_TOKEN_TABLE (64u << 10)
#define KVMON_KALLSYMS_MAX_ARENA (128u << 20)	/* expanded names */

struct kvmon_kallsyms;

/* Table addresses from SYMBOL(kallsyms_*) lines; ENOENT if one is missing
 * (kallsyms_markers is optional). */
int kvmon_kallsyms_addrs_from_vmcoreinfo(const struct kvmon_vmcoreinfo *v,
					 struct kvmon_kallsyms_addrs *a);

/* Read and decode every symbol; NULL with the error set on failure. */
struct kvmon_kallsyms *kvmon_kallsyms_load(const struct kvmon_virtmem *vm,
					   const struct kvmon_kallsyms_addrs *a);
void kvmon_kallsyms_free(struct kvmon_kallsyms *k);

size_t kvmon_kallsyms_count(const struct kvmon_kallsyms *k);

/*
 * i-th symbol in table order (ascending address in a genuine kernel): name
 * without the type char (valid until kvmon_kallsyms_free), type ('T', 't',
 * 'D', ...) and address. Any output pointer may be NULL. ERANGE past the end.
 */
int kvmon_kallsyms_get(const struct kvmon_kallsyms *k, size_t i,
		       const char **name, char *type, uint64_t *addr);

/* Address of the exact name (the first in table order if it repeats);
 * ENOENT if absent. O(log n). */
int kvmon_kallsyms_lookup(const struct kvmon_kallsyms *k, const char *name,
			  uint64_t *addr);

/*
 * Symbol containing addr: the greatest symbol address <= addr (of aliases
 * at that address, the first in table order, as the kernel does); *offset
 * is addr minus it. ENOENT if addr is below every symbol. O(log n).
 */
int kvmon_kallsyms_resolve(const struct kvmon_kallsyms *k, uint64_t addr,
			   const char **name, uint64_t *offset);

#endif
