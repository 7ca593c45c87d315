/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A symbol table with name and address indexes, shared by kallsyms and
 * System.map: both fill the arrays, then index and query them here. */
#ifndef KVMON_LINUX_SYMTAB_H
#define KVMON_LINUX_SYMTAB_H

#include "internal.h"

struct kvmon_symtab {
	const char *what;      /* "kallsyms", "System.map": for messages */
	size_t n;
	uint64_t *addr;
	uint32_t *name;        /* offsets into arena */
	char *type;
	char *arena;
	uint32_t *by_name;     /* indices sorted by name (stable) */
	uint32_t *by_addr;     /* indices sorted by address (stable) */
};

/* Build both indexes (after the arrays are filled). */
int kvmon_symtab_index(struct kvmon_symtab *t);
/* Rebuild the address index after addresses moved (KASLR slide); on
 * failure the old index stays. */
int kvmon_symtab_reindex_addr(struct kvmon_symtab *t);
/* Free the arrays and indexes (not t itself). */
void kvmon_symtab_release(struct kvmon_symtab *t);
int kvmon_symtab_get(const struct kvmon_symtab *t, size_t i, const char **name,
		     char *type, uint64_t *addr);
/* First symbol (in table order) called name. */
int kvmon_symtab_find(const struct kvmon_symtab *t, const char *name,
		      size_t *idx);
/* Symbol containing addr (greatest address <= addr; of aliases the first
 * in table order, as the kernel reports). */
int kvmon_symtab_resolve(const struct kvmon_symtab *t, uint64_t addr,
			 const char **name, uint64_t *offset);

#endif
