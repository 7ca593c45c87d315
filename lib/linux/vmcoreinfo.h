/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VMCOREINFO: the key/value note a Linux kernel keeps in its own RAM for
 * crash dumps (kernel/crash_core.c). It names the kernel release, KASLR
 * offset, phys_base and the addresses of key symbols (kallsyms tables,
 * init_top_pgt), which is all we need to go on without a profile.
 *
 * The text comes from guest memory and is hostile: parsing is bounded and
 * pure; typed getters validate each value when it is asked for.
 */
#ifndef KVMON_LINUX_VMCOREINFO_H
#define KVMON_LINUX_VMCOREINFO_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* Largest note text accepted (the kernel's own buffer is one page). */
#define KVMON_VMCOREINFO_MAX_TEXT (64u * 1024)
/* Largest RAM a note scan walks. */
#define KVMON_VMCOREINFO_MAX_SCAN (1ull << 40)

struct kvmon_vmcoreinfo;

/*
 * Parse the note's text "KEY=VALUE\n...". Lines without '=', with an empty
 * key or value, with a NUL or other control byte are skipped; duplicate
 * keys: the first wins. Fails with E2BIG above KVMON_VMCOREINFO_MAX_TEXT and
 * EPROTO if no line is usable.
 */
struct kvmon_vmcoreinfo *kvmon_vmcoreinfo_parse(const char *text, size_t len);
void kvmon_vmcoreinfo_free(struct kvmon_vmcoreinfo *v);

/* Raw value of key, or NULL (no error set) if absent. */
const char *kvmon_vmcoreinfo_get(const struct kvmon_vmcoreinfo *v,
				 const char *key);

/*
 * Typed getters: 0 on success; -1 with ENOENT if the key is absent, EPROTO
 * if its value does not parse or overflows, ENAMETOOLONG for a huge name.
 */
/* SYMBOL(name)=hex: a runtime (KASLR-relocated) virtual address. */
int kvmon_vmcoreinfo_symbol(const struct kvmon_vmcoreinfo *v, const char *name,
			    uint64_t *addr);
/* NUMBER(name)=signed decimal (e.g. phys_base, which may be negative). */
int kvmon_vmcoreinfo_number(const struct kvmon_vmcoreinfo *v, const char *name,
			    int64_t *val);
/* OFFSET(name)=decimal: offset of a structure member. */
int kvmon_vmcoreinfo_offset(const struct kvmon_vmcoreinfo *v, const char *name,
			    uint64_t *val);
/* SIZE(name)=decimal: size of a type. */
int kvmon_vmcoreinfo_size(const struct kvmon_vmcoreinfo *v, const char *name,
			  uint64_t *val);
/* LENGTH(name)=decimal: number of elements of an array. */
int kvmon_vmcoreinfo_length(const struct kvmon_vmcoreinfo *v, const char *name,
			    uint64_t *val);
/* KERNELOFFSET=hex: the KASLR slide of the kernel image. */
int kvmon_vmcoreinfo_kernel_offset(const struct kvmon_vmcoreinfo *v,
				   uint64_t *off);

/*
 * Find the note in guest RAM [0, ram_end) (ram_end <= 1 TiB, else EINVAL):
 * an Elf64_Nhdr with namesz 11, type 0, descsz below 64 KiB, name
 * "VMCOREINFO" and text starting with "OSRELEASE=". A page-aligned header
 * wins over unaligned ones; unreadable areas are skipped. On success
 * *note_gpa (may be NULL) is the header's address. ENOENT if none.
 */
struct kvmon_vmcoreinfo *kvmon_vmcoreinfo_find(const struct kvmon_physmem *pm,
					       uint64_t ram_end,
					       uint64_t *note_gpa);

/*
 * Kernel-image virtual address to guest-physical on x86-64: the image is
 * mapped at __START_KERNEL_map + (pa - phys_base). Wraps on purpose:
 * phys_base is a two's complement value and may be negative.
 */
#define KVMON_X86_START_KERNEL_MAP 0xffffffff80000000ull

static inline uint64_t kvmon_kimage_va_to_pa(uint64_t va, int64_t phys_base)
{
	return va - KVMON_X86_START_KERNEL_MAP + (uint64_t)phys_base;
}

#endif
