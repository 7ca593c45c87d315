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

/* Entries of sys_call_table: it ends where the next symbol begins, found
 * by bisection (symbols are sorted), less the zero padding before it. */
static int size_table(struct kvmon_kernel *k)
{
	const char *name;
	uint64_t off;
	size_t lo = 1, hi = MAX_SYSCALLS;
	uint64_t *raw;

	if (kvmon_kernel_symbol(k, "sys_call_table", &k->sc.table) < 0)
		return -1;
	while (lo < hi) { /* largest n with entry n-1 inside the table */
		size_t mid = (lo + hi + 1) / 2;

		if (kvmon_kallsyms_resolve(k->syms, k->sc.table + 8 * (mid - 1),
					   &name, &off) == 0 &&
		    !strcmp(name, "sys_call_table"))
			lo = mid;
		else
			hi = mid - 1;
	}
	raw = calloc(lo, sizeof(*raw));
	if (!raw || kvmon_kernel_read(k, k->sc.table, raw, lo * 8) < 0) {
		free(raw);
		return -1;
	}
	/* Alignment padding up to the next symbol is zero; unimplemented
	 * calls point at sys_ni_syscall, never at 0. */
	while (lo > 0 && raw[lo - 1] == 0)
		lo--;
	free(raw);
	if (lo == 0)
		return kvmon_set_error(EPROTO, "sys_call_table is empty");
	k->sc.raw = calloc(lo, sizeof(*k->sc.raw));
	k->sc.res = calloc(lo, sizeof(*k->sc.res));
	k->sc.ok = calloc(lo, sizeof(*k->sc.ok));
	if (!k->sc.raw || !k->sc.res || !k->sc.ok)
		return kvmon_set_error(ENOMEM, "out of memory");
	k->sc.n = lo;
	return 0;
}

/* Handlers are syscall entry points. kallsyms names the first alias at an
 * address: SYSCALL_DEFINE0 handlers show as __do_sys_NAME. */
static bool plausible_handler(const struct kvmon_syscall *s)
{
	return s->in_core_text && s->offset == 0 &&
	       (!strncmp(s->symbol, "__x64_sys_", 10) ||
		!strncmp(s->symbol, "__do_sys_", 9) ||
		!strncmp(s->symbol, "__ia32_sys_", 11) ||
		!strcmp(s->symbol, "sys_ni_syscall"));
}

static void resolve_entry(struct kvmon_kernel *k, unsigned nr, uint64_t handler,
			  struct kvmon_syscall *s, bool *ok)
{
	const char *name;

	memset(s, 0, sizeof(*s));
	s->nr = nr;
	s->handler = handler;
	s->in_core_text = handler >= k->stext && handler < k->etext;
	if (kvmon_kallsyms_resolve(k->syms, handler, &name, &s->offset) == 0)
		snprintf(s->symbol, sizeof(s->symbol), "%s", name);
	*ok = plausible_handler(s);
}

int kvmon_syscalls_refresh(struct kvmon_kernel *k)
{
	uint64_t now[MAX_SYSCALLS];

	if (!k->sc.n && size_table(k) < 0)
		return kvmon_error_prefix("syscalls");
	/* One read of the whole table: one translation per page. */
	if (kvmon_kernel_read(k, k->sc.table, now, k->sc.n * 8) < 0)
		return kvmon_error_prefix("sys_call_table");
	/* Symbols do not change, so an entry's verdict depends on its value
	 * alone: resolve only entries whose value is new. */
	for (size_t i = 0; i < k->sc.n; i++)
		if (k->sc.raw[i] != now[i] || !k->sc.res[i].handler) {
			resolve_entry(k, (unsigned)i, now[i], &k->sc.res[i],
				      &k->sc.ok[i]);
			k->sc.raw[i] = now[i];
		}
	return 0;
}

int kvmon_kernel_syscalls(struct kvmon_kernel *k, struct kvmon_syscall **calls,
			  size_t *count)
{
	struct kvmon_syscall *out;

	if (!k || !calls || !count)
		return kvmon_set_error(EINVAL, "syscalls: bad arguments");
	*calls = NULL;
	*count = 0;
	if (kvmon_syscalls_refresh(k) < 0)
		return -1;
	out = malloc(k->sc.n * sizeof(*out));
	if (!out)
		return kvmon_set_error(ENOMEM, "out of memory");
	memcpy(out, k->sc.res, k->sc.n * sizeof(*out));
	*calls = out;
	*count = k->sc.n;
	return 0;
}
