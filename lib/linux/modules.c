/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loaded kernel modules (the `modules` list) and the system-call table,
 * each entry resolved through kallsyms.
 */
#include "linux/kernel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SYSCALLS 1024

struct module_layout {
	uint64_t list, name, base, size;
	size_t name_len, size_len;
};

static int module_layout(const struct kvmon_kernel *k, struct module_layout *l)
{
	uint64_t nsz = 0, ssz = 0, mem, mbase, msize;

	if (kvmon_kmember(k, "module", "list", &l->list) < 0 ||
	    kvmon_btf_member(k->btf, "module", "name", &l->name, &nsz) < 0)
		return -1;
	l->name_len = nsz > 56 ? 56 : (size_t)nsz;
	/* 6.4 replaced core_layout by mem[MOD_TEXT..]. */
	if (kvmon_btf_member(k->btf, "module", "core_layout.base", &l->base, NULL) == 0 &&
	    kvmon_btf_member(k->btf, "module", "core_layout.size", &l->size, &ssz) == 0) {
		l->size_len = ssz > 8 ? 8 : (size_t)ssz;
		return 0;
	}
	if (kvmon_kmember(k, "module", "mem", &mem) < 0 ||
	    kvmon_kmember(k, "module_memory", "base", &mbase) < 0 ||
	    kvmon_btf_member(k->btf, "module_memory", "size", &msize, &ssz) < 0)
		return kvmon_error_prefix("module layout");
	l->base = mem + mbase;
	l->size = mem + msize;
	l->size_len = ssz > 8 ? 8 : (size_t)ssz;
	return 0;
}

static int read_module(struct kvmon_kernel *k, const struct module_layout *l,
		       uint64_t mod, struct kvmon_module *m)
{
	memset(m, 0, sizeof(*m));
	m->addr = mod;
	if (kvmon_kernel_read(k, mod + l->name, m->name, l->name_len) < 0 ||
	    kvmon_kread_u64(k, mod + l->base, 8, &m->base) < 0 ||
	    kvmon_kread_u64(k, mod + l->size, l->size_len, &m->size) < 0)
		return -1;
	m->name[l->name_len] = '\0';
	for (size_t i = 0; m->name[i]; i++)
		if ((unsigned char)m->name[i] < 0x20 || (unsigned char)m->name[i] > 0x7e)
			m->name[i] = '?';
	return 0;
}

static int walk_modules(struct kvmon_kernel *k, const struct module_layout *l,
			uint64_t head, struct kvmon_module *out, size_t *count)
{
	uint64_t next;
	size_t n = 0;

	if (kvmon_kread_u64(k, head, 8, &next) < 0)
		return -1;
	while (next != head) {
		uint64_t mod = next - l->list;

		/* A list that does not close is capped; a short cycle is
		 * caught by comparing against everything seen so far. */
		if (n == KVMON_MAX_MODULES)
			return kvmon_set_error(E2BIG, "module list longer than %d",
					       KVMON_MAX_MODULES);
		for (size_t i = 0; i < n; i++)
			if (out[i].addr == mod)
				return kvmon_set_error(EPROTO, "module list loops "
						       "at 0x%llx",
						       (unsigned long long)mod);
		if (read_module(k, l, mod, &out[n]) < 0 ||
		    kvmon_kread_u64(k, next, 8, &next) < 0)
			return kvmon_error_prefix("module at 0x%llx",
						  (unsigned long long)mod);
		n++;
	}
	*count = n;
	return 0;
}

int kvmon_kernel_modules(struct kvmon_kernel *k, struct kvmon_module **mods,
			 size_t *count)
{
	struct module_layout l;
	struct kvmon_module *out;
	uint64_t head;
	int rc = -1;

	if (!k || !mods || !count)
		return kvmon_set_error(EINVAL, "modules: bad arguments");
	*mods = NULL;
	*count = 0;
	if (module_layout(k, &l) < 0 || kvmon_kernel_symbol(k, "modules", &head) < 0)
		return kvmon_error_prefix("modules");
	out = calloc(KVMON_MAX_MODULES, sizeof(*out));
	if (!out)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (int i = 0; i < 3 && rc < 0; i++) {
		kvmon_kernel_flush(k);
		rc = walk_modules(k, &l, head, out, count);
	}
	if (rc < 0) {
		free(out);
		*count = 0;
		return kvmon_error_prefix("modules");
	}
	*mods = out;
	return 0;
}

int kvmon_kernel_syscalls(struct kvmon_kernel *k, struct kvmon_syscall **calls,
			  size_t *count)
{
	struct kvmon_syscall *out;
	uint64_t table, off;
	const char *name;
	size_t n = 0;

	if (!k || !calls || !count)
		return kvmon_set_error(EINVAL, "syscalls: bad arguments");
	*calls = NULL;
	*count = 0;
	if (kvmon_kernel_symbol(k, "sys_call_table", &table) < 0)
		return kvmon_error_prefix("syscalls");
	out = calloc(MAX_SYSCALLS, sizeof(*out));
	if (!out)
		return kvmon_set_error(ENOMEM, "out of memory");
	/* The table ends where the next symbol begins. */
	while (n < MAX_SYSCALLS &&
	       kvmon_kallsyms_resolve(k->syms, table + 8 * n, &name, &off) == 0 &&
	       !strcmp(name, "sys_call_table")) {
		struct kvmon_syscall *s = &out[n];

		if (kvmon_kread_u64(k, table + 8 * n, 8, &s->handler) < 0) {
			free(out);
			return kvmon_error_prefix("sys_call_table[%zu]", n);
		}
		s->nr = (unsigned)n;
		s->in_core_text = s->handler >= k->stext && s->handler < k->etext;
		if (kvmon_kallsyms_resolve(k->syms, s->handler, &name, &s->offset) == 0)
			snprintf(s->symbol, sizeof(s->symbol), "%s", name);
		n++;
	}
	/* Alignment padding up to the next symbol is zero; unimplemented
	 * calls point at sys_ni_syscall, never at 0. */
	while (n > 0 && out[n - 1].handler == 0)
		n--;
	if (n == 0) {
		free(out);
		return kvmon_set_error(EPROTO, "sys_call_table is empty");
	}
	*calls = out;
	*count = n;
	return 0;
}
