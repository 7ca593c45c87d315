// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Read-ahead of a shared library that is about to be dlopen'ed, and of
 * the libraries it needs that are not loaded yet. With a cold page cache
 * the dynamic loader reads each library's headers, symbol tables,
 * relocations and data one page fault at a time; asking the kernel for
 * those ranges first (the segments that are not code) lets the reads go
 * out together. libnbd's chain (gnutls, libxml2, ICU, ...) took 23-33 ms
 * to dlopen cold, 15-21 ms with this first (docs/fim.md).
 * Best effort: anything unexpected is skipped; nothing is loaded here.
 */
#define _GNU_SOURCE
#include "dlprefetch.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_LIBS 48      /* libraries visited */
#define MAX_DIRS 8       /* directories searched */
#define MAX_PHDRS 64
#define MAX_DYN 1024     /* dynamic entries read */
#define NAME_LEN 128
#define SEG_MAX (4ull << 20) /* bytes asked for per segment */

struct pf {
	char dirs[MAX_DIRS][256];
	unsigned ndirs;
	char seen[MAX_LIBS][NAME_LEN]; /* loaded or queued */
	unsigned nseen, next;
};

static void add_name(struct pf *p, const char *name)
{
	unsigned i;

	if (!*name || strlen(name) >= NAME_LEN || strchr(name, '/'))
		return;
	for (i = 0; i < p->nseen; i++)
		if (!strcmp(p->seen[i], name))
			return;
	if (p->nseen < MAX_LIBS)
		snprintf(p->seen[p->nseen++], NAME_LEN, "%s", name);
}

/* What is loaded already (not read again) and where libraries live. */
static int loaded(struct dl_phdr_info *info, size_t size, void *opaque)
{
	struct pf *p = opaque;
	const char *path = info->dlpi_name, *slash;
	size_t dl;
	unsigned i;

	(void)size;
	slash = path ? strrchr(path, '/') : NULL;
	if (!slash)
		return 0;
	add_name(p, slash + 1);
	p->next = p->nseen; /* loaded: never opened */
	dl = (size_t)(slash - path);
	if (!dl || dl >= sizeof(p->dirs[0]))
		return 0;
	for (i = 0; i < p->ndirs; i++)
		if (strlen(p->dirs[i]) == dl && !memcmp(p->dirs[i], path, dl))
			return 0;
	if (p->ndirs < MAX_DIRS)
		snprintf(p->dirs[p->ndirs++], sizeof(p->dirs[0]), "%.*s", (int)dl, path);
	return 0;
}

/* File offset of virtual address v (in a PT_LOAD), or -1. */
static off_t file_off(const Elf64_Phdr *ph, unsigned n, uint64_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && v >= ph[i].p_vaddr &&
		    v - ph[i].p_vaddr < ph[i].p_filesz)
			return (off_t)(ph[i].p_offset + (v - ph[i].p_vaddr));
	return -1;
}

/* Queue the DT_NEEDED names of the open library fd. */
static void needed(struct pf *p, int fd, const Elf64_Phdr *ph, unsigned n)
{
	Elf64_Dyn dyn[MAX_DYN];
	uint64_t strtab = 0;
	size_t nd = 0;
	ssize_t r;
	off_t base;

	for (unsigned i = 0; i < n && !nd; i++)
		if (ph[i].p_type == PT_DYNAMIC) {
			size_t want = ph[i].p_filesz < sizeof(dyn) ? ph[i].p_filesz
								  : sizeof(dyn);

			r = pread(fd, dyn, want, (off_t)ph[i].p_offset);
			nd = r > 0 ? (size_t)r / sizeof(dyn[0]) : 0;
		}
	for (size_t i = 0; i < nd && dyn[i].d_tag != DT_NULL; i++)
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = dyn[i].d_un.d_ptr;
	base = strtab ? file_off(ph, n, strtab) : -1;
	for (size_t i = 0; base >= 0 && i < nd && dyn[i].d_tag != DT_NULL; i++) {
		char name[NAME_LEN];

		if (dyn[i].d_tag != DT_NEEDED)
			continue;
		r = pread(fd, name, sizeof(name) - 1, base + (off_t)dyn[i].d_un.d_val);
		if (r <= 0)
			continue;
		name[r] = '\0';
		add_name(p, name);
	}
}

/* Read-ahead of one library's non-code segments; queue what it needs. */
static void one(struct pf *p, const char *name)
{
	Elf64_Phdr ph[MAX_PHDRS];
	Elf64_Ehdr eh;
	char path[sizeof(p->dirs[0]) + NAME_LEN + 1];
	int fd = -1;

	for (unsigned d = 0; d < p->ndirs && fd < 0; d++) {
		snprintf(path, sizeof(path), "%s/%s", p->dirs[d], name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return;
	if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum <= MAX_PHDRS &&
	    pread(fd, ph, eh.e_phnum * sizeof(ph[0]), (off_t)eh.e_phoff) ==
		    (ssize_t)(eh.e_phnum * sizeof(ph[0]))) {
		uint64_t code = UINT64_MAX;

		for (unsigned i = 0; i < eh.e_phnum; i++)
			if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X) &&
			    ph[i].p_offset < code)
				code = ph[i].p_offset;
		/* before the code: headers, symbols, relocations; writable:
		 * what relocation writes. Not read-only data after the code
		 * (ICU's is 31 MB), not the code (faulted as it runs). */
		for (unsigned i = 0; i < eh.e_phnum; i++)
			if (ph[i].p_type == PT_LOAD && !(ph[i].p_flags & PF_X) &&
			    ((ph[i].p_flags & PF_W) || ph[i].p_offset < code))
				posix_fadvise(fd, (off_t)(ph[i].p_offset & ~4095ull),
					      (off_t)((ph[i].p_filesz < SEG_MAX ? ph[i].p_filesz
								: SEG_MAX) +
						      (ph[i].p_offset & 4095)),
					      POSIX_FADV_WILLNEED);
		needed(p, fd, ph, eh.e_phnum);
	}
	close(fd);
}

void cli_dl_prefetch(const char *soname)
{
	struct pf p = { .ndirs = 0 };

	dl_iterate_phdr(loaded, &p);
	add_name(&p, soname);
	while (p.next < p.nseen)
		one(&p, p.seen[p.next++]);
}
