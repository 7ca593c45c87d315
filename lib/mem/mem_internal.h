/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest-physical memory: one handle, several read-only backends.
 *
 *   file     QEMU's shared RAM file, mapped PROT_READ (fast path: a bounds
 *            check and memcpy, handled in mem.c without an indirect call)
 *   process  the QEMU process itself, process_vm_readv at the host virtual
 *            addresses QEMU reports (HMP gpa2hva)
 *   qmp      HMP `xp` through QMP: slow by design, needs nothing but QMP
 *   dump     an ELF core from dump-guest-memory, or a raw image
 *            (file offset = guest-physical address), read with pread
 *
 * mem.c owns range bookkeeping, bounds checks and batching; a backend only
 * reads pieces that already lie inside one of its ranges. Not installed.
 */
#ifndef KVMON_MEM_INTERNAL_H
#define KVMON_MEM_INTERNAL_H

#include "../vm_internal.h"

#include <sys/types.h>

/* One range of guest-physical memory and where the backend finds it. */
struct kvmon_mem_range {
	uint64_t gpa;
	uint64_t size;
	uint64_t where;  /* file: map offset; process: HVA; qmp: gpa;
			    dump: file offset */
	uint64_t avail;  /* bytes backed by data; the rest reads as zeros
			    (ELF p_filesz < p_memsz); == size otherwise */
	uint64_t backend_offset; /* for kvmon_mem_ranges(): offset in block */
	char block[64];          /* RAM block / backend name */
};

/* A read already split so that it lies inside r. */
struct kvmon_mem_piece {
	const struct kvmon_mem_range *r;
	uint64_t off;  /* from r->gpa */
	uint8_t *buf;
	size_t len;
};

struct kvmon_mem;

struct kvmon_mem_ops {
	const char *name;
	/* Read n pieces (n >= 1); all or nothing: -1 with an error set. */
	int (*readv)(struct kvmon_mem *m, const struct kvmon_mem_piece *p,
		     size_t n);
	void (*close)(struct kvmon_mem *m);
};

struct kvmon_mem {
	/* file backend: the read-only mapping; NULL for other backends. */
	const uint8_t *base;
	size_t map_len;
	const struct kvmon_mem_ops *ops;
	struct kvmon_mem_range *ranges; /* sorted by gpa, disjoint */
	size_t nranges;
	uint64_t total;
	/* Backend state. */
	pid_t pid;             /* process */
	int fd;                /* dump (-1 otherwise) */
	struct kvmon_vm *vm;   /* qmp: borrowed, must outlive the handle */
	char what[128];        /* for error messages: "VM 'x'", a path */
};

/* mem.c */
struct kvmon_mem *kvmon_mem_alloc(const struct kvmon_mem_ops *ops,
				  size_t nranges);
/* Sort ranges by gpa, reject overlaps and empty sets, sum the total. */
int kvmon_mem_finish_ranges(struct kvmon_mem *m);
/*
 * RAM ranges of a live VM: the `info mtree -f` layout restricted to RAM
 * blocks that are memory backends (query-memdev; "pc.ram" if QEMU lists
 * none), or to the one block named only_block. where = gpa, avail = size.
 */
int kvmon_mem_live_ranges(struct kvmon_vm *vm, const char *only_block,
			  struct kvmon_mem_range **out, size_t *count);

/* Backend constructors (file.c, process.c, qmp.c, dump.c). */
struct kvmon_mem *kvmon_mem_open_file(struct kvmon_vm *vm);
struct kvmon_mem *kvmon_mem_open_process(struct kvmon_vm *vm);
struct kvmon_mem *kvmon_mem_open_qmp(struct kvmon_vm *vm);

/* The shared file backend of the VM, if any (0 found, -1 ENOTSUP/error). */
int kvmon_mem_find_file_backend(struct kvmon_vm *vm, struct kvmon_memdev *out);

/* ------------------------------------------------ pure parsers (fuzzed) */

/* hmp.c: printable, bounded excerpt of hostile text for error messages. */
void kvmon_mem_excerpt(const char *text, size_t len, char *out, size_t size);

/*
 * HMP `gpa2hva ADDR` reply:
 *   "Host virtual address for 0x100000 (pc.ram) is 0x7f0000100000"
 * The address echoed must equal gpa. Stores the RAM block name and the
 * host virtual address. -1 with EFAULT for "No memory is mapped at ...",
 * EPROTO for anything else.
 */
int kvmon_parse_gpa2hva(const char *text, size_t len, uint64_t gpa,
			char *block, size_t block_size, uint64_t *hva);

/*
 * HMP `xp /Ngx ADDR` output: lines "%016x: 0x... 0x..." whose addresses
 * must continue from addr in steps of 8. Exactly nwords words are stored.
 * -1 with EFAULT for "Cannot access memory", EPROTO for anything else.
 */
int kvmon_parse_xp(const char *text, size_t len, uint64_t addr,
		   uint64_t *words, size_t nwords);

/* HMP `gva2gpa ADDR` reply "gpa: 0x..."; "Unmapped" -> -1 EFAULT. */
int kvmon_parse_gva2gpa(const char *text, size_t len, uint64_t *gpa);

/* Caps on ELF dumps: program headers and the guest-physical space. */
#define KVMON_DUMP_MAX_SEGMENTS 4096u
#define KVMON_DUMP_MAX_PHYS (1ull << 52)

struct kvmon_dump_seg {
	uint64_t gpa;     /* p_paddr */
	uint64_t size;    /* p_memsz */
	uint64_t offset;  /* p_offset */
	uint64_t filesz;  /* p_filesz (<= size; the rest reads as zeros) */
};

/*
 * How many bytes from the start of an ELF file kvmon_parse_elf_dump needs
 * (ELF header + program header table), from the first 64 bytes.
 */
int kvmon_elf_dump_need(const uint8_t *buf, size_t len, size_t *need);
/*
 * Parse an ELF core's headers (buf = the file's first len bytes, the file
 * being file_size bytes) into PT_LOAD segments sorted by guest-physical
 * address, checked: inside the file, below KVMON_DUMP_MAX_PHYS, not
 * overlapping; adjacent segments are merged. out holds max entries (at
 * least e_phnum is always enough).
 */
int kvmon_parse_elf_dump(const uint8_t *buf, size_t len, uint64_t file_size,
			 struct kvmon_dump_seg *out, size_t max, size_t *count);

#endif
