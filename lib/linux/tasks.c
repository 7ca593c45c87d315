/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Processes of the guest, from the kernel's task list (init_task.tasks).
 * Layouts come from the guest's BTF. The list is hostile: a rootkit can
 * make it loop, point into unmapped memory or never return to its head;
 * each of those ends the walk with an error after bounded work.
 */
#include "linux/kernel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WALK_TRIES 3
#define CMDLINE_MAX 4096
#define PF_KTHREAD 0x00200000u
#define TASK_IDLE 0x402u
#define TASK_REPORT 0x7fu

struct task_layout {
	uint64_t tasks, pid, tgid, comm, real_parent, mm, cred, state,
		exit_state, flags, start;
	size_t state_size;
	uint64_t mm_pgd, mm_arg_start, mm_arg_end;
	uint64_t cred_uid, cred_gid, cred_euid;
};

static int task_layout(const struct kvmon_kernel *k, struct task_layout *l)
{
	uint64_t sz = 4;

	if (kvmon_kmember(k, "task_struct", "tasks", &l->tasks) < 0 ||
	    kvmon_kmember(k, "task_struct", "pid", &l->pid) < 0 ||
	    kvmon_kmember(k, "task_struct", "tgid", &l->tgid) < 0 ||
	    kvmon_kmember(k, "task_struct", "comm", &l->comm) < 0 ||
	    kvmon_kmember(k, "task_struct", "real_parent", &l->real_parent) < 0 ||
	    kvmon_kmember(k, "task_struct", "mm", &l->mm) < 0 ||
	    kvmon_kmember(k, "task_struct", "cred", &l->cred) < 0 ||
	    kvmon_kmember(k, "task_struct", "exit_state", &l->exit_state) < 0 ||
	    kvmon_kmember(k, "task_struct", "flags", &l->flags) < 0 ||
	    kvmon_kmember(k, "mm_struct", "pgd", &l->mm_pgd) < 0 ||
	    kvmon_kmember(k, "mm_struct", "arg_start", &l->mm_arg_start) < 0 ||
	    kvmon_kmember(k, "mm_struct", "arg_end", &l->mm_arg_end) < 0 ||
	    kvmon_kmember(k, "cred", "uid", &l->cred_uid) < 0 ||
	    kvmon_kmember(k, "cred", "gid", &l->cred_gid) < 0 ||
	    kvmon_kmember(k, "cred", "euid", &l->cred_euid) < 0)
		return -1;
	/* Renamed in 5.14 (state -> __state) and 5.5 (real_start_time). */
	if (kvmon_btf_member(k->btf, "task_struct", "__state", &l->state, &sz) < 0 &&
	    kvmon_btf_member(k->btf, "task_struct", "state", &l->state, &sz) < 0)
		return -1;
	l->state_size = sz > 8 ? 8 : (size_t)sz;
	if (kvmon_kmember(k, "task_struct", "start_boottime", &l->start) < 0 &&
	    kvmon_kmember(k, "task_struct", "real_start_time", &l->start) < 0)
		return -1;
	return 0;
}

/* Open-addressing set of task addresses, to detect cycles. It grows with
 * the list (load <= 1/2), so a small guest costs little. */
struct seen {
	uint64_t *slot;
	size_t mask, used;
};

static int seen_init(struct seen *s)
{
	s->mask = 1023;
	s->used = 0;
	s->slot = calloc(s->mask + 1, sizeof(*s->slot));
	return s->slot ? 0 : kvmon_set_error(ENOMEM, "out of memory");
}

static size_t seen_pos(const struct seen *s, uint64_t addr)
{
	size_t i = (size_t)((addr >> 6) * 0x9e3779b97f4a7c15ull) & s->mask;

	while (s->slot[i] && s->slot[i] != addr)
		i = (i + 1) & s->mask;
	return i;
}

static int seen_grow(struct seen *s)
{
	struct seen g = { .mask = s->mask * 2 + 1, .used = s->used };

	g.slot = calloc(g.mask + 1, sizeof(*g.slot));
	if (!g.slot)
		return kvmon_set_error(ENOMEM, "out of memory");
	for (size_t i = 0; i <= s->mask; i++)
		if (s->slot[i])
			g.slot[seen_pos(&g, s->slot[i])] = s->slot[i];
	free(s->slot);
	*s = g;
	return 0;
}

/* 1 if addr was already there, -1 on allocation failure. */
static int seen_add(struct seen *s, uint64_t addr)
{
	size_t i = seen_pos(s, addr);

	if (s->slot[i])
		return 1;
	s->slot[i] = addr;
	if (++s->used * 2 > s->mask && seen_grow(s) < 0)
		return -1;
	return 0;
}

static char state_char(uint64_t state, uint64_t exit_state)
{
	static const char chars[] = "RSDTtXZP";
	uint64_t s = (state | exit_state) & TASK_REPORT;
	int idx = 0;

	if (state == TASK_IDLE)
		return 'I';
	while (s) {
		idx++;
		s >>= 1;
	}
	return idx < (int)sizeof(chars) - 1 ? chars[idx] : '?';
}

static void sanitise(char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			s[i] = '?';
}

static int read_u(struct kvmon_kernel *k, uint64_t va, size_t size, uint64_t *v)
{
	return kvmon_kread_u64(k, va, size, v);
}

static int fill_task(struct kvmon_kernel *k, const struct task_layout *l,
		     uint64_t task, struct kvmon_task *t)
{
	uint64_t v, parent, cred, state, exit_state, flags;

	memset(t, 0, sizeof(*t));
	t->addr = task;
	if (read_u(k, task + l->pid, 4, &v) < 0)
		return -1;
	t->pid = (int32_t)v;
	if (read_u(k, task + l->tgid, 4, &v) < 0)
		return -1;
	t->tgid = (int32_t)v;
	if (kvmon_kernel_read(k, task + l->comm, t->comm, 16) < 0)
		return -1;
	t->comm[16] = '\0';
	sanitise(t->comm, sizeof(t->comm));
	if (read_u(k, task + l->real_parent, 8, &parent) < 0 ||
	    read_u(k, parent + l->tgid, 4, &v) < 0)
		return -1;
	t->ppid = (int32_t)v;
	if (read_u(k, task + l->cred, 8, &cred) < 0 ||
	    read_u(k, cred + l->cred_uid, 4, &v) < 0)
		return -1;
	t->uid = (uint32_t)v;
	if (read_u(k, cred + l->cred_gid, 4, &v) < 0)
		return -1;
	t->gid = (uint32_t)v;
	if (read_u(k, cred + l->cred_euid, 4, &v) < 0)
		return -1;
	t->euid = (uint32_t)v;
	if (read_u(k, task + l->state, l->state_size, &state) < 0 ||
	    read_u(k, task + l->exit_state, 4, &exit_state) < 0 ||
	    read_u(k, task + l->flags, 4, &flags) < 0 ||
	    read_u(k, task + l->start, 8, &t->start_ns) < 0 ||
	    read_u(k, task + l->mm, 8, &t->mm) < 0)
		return -1;
	t->state = state_char(state, exit_state);
	t->kthread = (flags & PF_KTHREAD) != 0;
	return 0;
}

/* Output array that grows with the list, up to KVMON_MAX_TASKS. */
struct task_vec {
	struct kvmon_task *v;
	size_t n, cap;
};

static struct kvmon_task *vec_slot(struct task_vec *tv)
{
	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? tv->cap * 2 : 256;
		struct kvmon_task *nv = realloc(tv->v, cap * sizeof(*nv));

		if (!nv) {
			kvmon_set_error(ENOMEM, "out of memory");
			return NULL;
		}
		tv->v = nv;
		tv->cap = cap;
	}
	return &tv->v[tv->n];
}

/* One pass over the list; -1 on any inconsistency. */
static int walk_once(struct kvmon_kernel *k, const struct task_layout *l,
		     uint64_t init_task, struct task_vec *tv)
{
	uint64_t head = init_task + l->tasks, next = head;
	struct seen seen;
	int rc = 0;

	tv->n = 0;
	if (seen_init(&seen) < 0)
		return -1;
	do {
		uint64_t task = next - l->tasks;
		struct kvmon_task *slot;
		int dup;

		if (tv->n == KVMON_MAX_TASKS) {
			rc = kvmon_set_error(E2BIG, "task list longer than %d",
					     KVMON_MAX_TASKS);
			break;
		}
		dup = seen_add(&seen, task);
		if (dup != 0) {
			rc = dup < 0 ? -1
				     : kvmon_set_error(EPROTO, "task list loops at "
						       "0x%llx without returning "
						       "to init_task",
						       (unsigned long long)task);
			break;
		}
		if (!(slot = vec_slot(tv))) {
			rc = -1;
			break;
		}
		if (fill_task(k, l, task, slot) < 0 || read_u(k, next, 8, &next) < 0) {
			rc = kvmon_error_prefix("task at 0x%llx",
						(unsigned long long)task);
			break;
		}
		tv->n++;
	} while (next != head);
	free(seen.slot);
	return rc;
}

int kvmon_kernel_tasks(struct kvmon_kernel *k, struct kvmon_task **tasks,
		       size_t *count)
{
	struct task_vec tv = { 0 };
	struct task_layout l;
	uint64_t init_task;
	int rc = -1;

	if (!k || !tasks || !count)
		return kvmon_set_error(EINVAL, "tasks: bad arguments");
	*tasks = NULL;
	*count = 0;
	if (task_layout(k, &l) < 0 ||
	    kvmon_kernel_symbol(k, "init_task", &init_task) < 0)
		return kvmon_error_prefix("tasks");
	/* The list may change under a live walk: retry with fresh
	 * translations before calling it corrupt. */
	for (int i = 0; i < WALK_TRIES && rc < 0; i++) {
		kvmon_kernel_flush(k);
		rc = walk_once(k, &l, init_task, &tv);
	}
	if (rc < 0) {
		free(tv.v);
		return kvmon_error_prefix("tasks (after %d tries)", WALK_TRIES);
	}
	*tasks = tv.v;
	*count = tv.n;
	return 0;
}

int kvmon_kernel_task_cmdline(struct kvmon_kernel *k, const struct kvmon_task *t,
			      char *buf, size_t size)
{
	struct task_layout l;
	uint64_t pgd, pgd_pa, start, end;
	size_t len;

	if (!k || !t || !buf || size == 0)
		return kvmon_set_error(EINVAL, "cmdline: bad arguments");
	buf[0] = '\0';
	if (!t->mm)
		return 0;
	if (task_layout(k, &l) < 0 ||
	    read_u(k, t->mm + l.mm_pgd, 8, &pgd) < 0 ||
	    read_u(k, t->mm + l.mm_arg_start, 8, &start) < 0 ||
	    read_u(k, t->mm + l.mm_arg_end, 8, &end) < 0 ||
	    kvmon_kernel_translate(k, pgd, &pgd_pa) < 0)
		return kvmon_error_prefix("cmdline of pid %d", t->pid);
	if (end <= start)
		return 0;
	len = end - start;
	if (len > CMDLINE_MAX)
		len = CMDLINE_MAX;
	if (len > size - 1)
		len = size - 1;
	/* The process's own page tables: its pgd. */
	if (kvmon_x86_read_virt(k->tlb, &k->pm, pgd_pa, k->la57, start, buf, len) < 0)
		return kvmon_error_prefix("cmdline of pid %d", t->pid);
	buf[len] = '\0';
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
		else if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = '?';
	buf[len] = '\0';
	return 0;
}
