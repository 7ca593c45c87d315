/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest kernel handle, shared by kernel.c, tasks.c, modules.c and
 * syscalls.c. Not installed. */
#ifndef KVMON_LINUX_KERNEL_H
#define KVMON_LINUX_KERNEL_H

#include "internal.h"
#include "arch/x86_64.h"
#include "linux/kallsyms.h"
#include "linux/kbtf.h"
#include "linux/vmcoreinfo.h"

/* x86-64 __START_KERNEL_map: kernel image va = pa + this - phys_base. */
#define KVMON_START_KERNEL_MAP 0xffffffff80000000ull

struct kvmon_kernel {
	struct kvmon_mem *mem;
	struct kvmon_physmem pm;
	struct kvmon_virtmem vm;      /* kernel virtual, through the walk */
	struct kvmon_vmcoreinfo *vci;
	uint64_t vci_gpa;
	char release[65];
	uint64_t kaslr;
	int64_t phys_base;
	uint64_t cr3;                 /* physical address of init_top_pgt */
	bool la57;
	struct kvmon_tlb *tlb;
	struct kvmon_kallsyms *syms;
	struct kvmon_btf *btf;
	uint64_t stext, etext;        /* core kernel text */
	struct kvmon_qmp *xlate_qmp;  /* set: translate through QEMU (baseline) */
	struct {                      /* sys_call_table, memoised by value */
		uint64_t table;
		size_t n;             /* 0 = not sized yet */
		uint64_t *raw;
		struct kvmon_syscall *res;
		bool *ok;             /* verdict of the syscall_table detector */
	} sc;
};

/* Bring k->sc up to date with the live sys_call_table: one read, and only
 * entries whose value changed are resolved and judged again. */
int kvmon_syscalls_refresh(struct kvmon_kernel *k);

/* Read a value of 1..8 bytes at va (little endian). */
int kvmon_kread_u64(struct kvmon_kernel *k, uint64_t va, size_t size,
		    uint64_t *out);
/* Member offset that must exist (error names the member). */
int kvmon_kmember(const struct kvmon_kernel *k, const char *type,
		  const char *member, uint64_t *off);

#endif
