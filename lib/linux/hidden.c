/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cross-view detectors: what a rootkit unlinks from one kernel list usually
 * stays in another structure the kernel needs to keep working.
 *
 * Processes: the task list (init_task.tasks) against the PID allocator
 * (init_pid_ns.idr, an XArray of struct pid; each pid points back at its
 * task through pid->tasks[PIDTYPE_PID]). A process whose pid is allocated
 * and live but that the task list does not show is hidden.
 *
 * Modules: the module list against the module kobjects in sysfs
 * (module_kset->list; each module_kobject points at its struct module).
 *
 * Both views change while the guest runs, so a difference is confirmed by
 * a second pass before it is reported.
 */
#include "linux/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XA_CHUNK 64
#define XA_MAX_NODES 200000
#define XA_MAX_DEPTH 12
#define MAX_KOBJS 16384

/* ------------------------------------------------------- pid XArray walk */

struct pid_layout {
	uint64_t ns_xa_head, node_shift, node_slots, pid_tasks, pid_numbers,
		upid_nr, task_pid_links, task_pid, task_tgid, task_comm;
};

static int pid_layout(const struct kvmon_kernel *k, struct pid_layout *l)
{
	if (kvmon_kmember(k, "pid_namespace", "idr.idr_rt.xa_head", &l->ns_xa_head) < 0 ||
	    kvmon_kmember(k, "xa_node", "shift", &l->node_shift) < 0 ||
	    kvmon_kmember(k, "xa_node", "slots", &l->node_slots) < 0 ||
	    kvmon_kmember(k, "pid", "tasks", &l->pid_tasks) < 0 ||
	    kvmon_kmember(k, "pid", "numbers", &l->pid_numbers) < 0 ||
	    kvmon_kmember(k, "upid", "nr", &l->upid_nr) < 0 ||
	    kvmon_kmember(k, "task_struct", "pid_links", &l->task_pid_links) < 0 ||
	    kvmon_kmember(k, "task_struct", "pid", &l->task_pid) < 0 ||
	    kvmon_kmember(k, "task_struct", "tgid", &l->task_tgid) < 0 ||
	    kvmon_kmember(k, "task_struct", "comm", &l->task_comm) < 0)
		return kvmon_error_prefix("pid layout");
	return 0;
}

struct pid_view {
	struct kvmon_task *v;   /* leaders found through the IDR */
	size_t n, cap;
	size_t nodes;
};

static int view_add(struct pid_view *pv, const struct kvmon_task *t)
{
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 256;
		struct kvmon_task *nv;

		if (cap > KVMON_MAX_TASKS)
			return kvmon_set_error(E2BIG, "more than %d pids",
					       KVMON_MAX_TASKS);
		nv = realloc(pv->v, cap * sizeof(*nv));
		if (!nv)
			return kvmon_set_error(ENOMEM, "out of memory");
		pv->v = nv;
		pv->cap = cap;
	}
	pv->v[pv->n++] = *t;
	return 0;
}

/* A struct pid from the IDR: its task, if it leads a thread group. */
static int visit_pid(struct kvmon_kernel *k, const struct pid_layout *l,
		     uint64_t pid, struct pid_view *pv)
{
	struct kvmon_task t = { 0 };
	uint64_t first, nr, tp, tg;

	/* tasks[PIDTYPE_PID] is the first hlist_head. */
	if (kvmon_kread_u64(k, pid + l->pid_tasks, 8, &first) < 0)
		return -1;
	if (!first)
		return 0; /* pid allocated, task gone (exiting) */
	t.addr = first - l->task_pid_links;
	if (kvmon_kread_u64(k, pid + l->pid_numbers + l->upid_nr, 4, &nr) < 0 ||
	    kvmon_kread_u64(k, t.addr + l->task_pid, 4, &tp) < 0 ||
	    kvmon_kread_u64(k, t.addr + l->task_tgid, 4, &tg) < 0 ||
	    kvmon_kernel_read(k, t.addr + l->task_comm, t.comm, 16) < 0)
		return -1;
	if (tp != nr || tp != tg)
		return 0; /* a thread, or a stale pointer */
	t.pid = (int32_t)tp;
	t.tgid = (int32_t)tg;
	t.comm[16] = '\0';
	for (char *c = t.comm; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return view_add(pv, &t);
}

static bool xa_is_node(uint64_t e)
{
	return (e & 3) == 2 && e > 4096;
}

static int walk_xa(struct kvmon_kernel *k, const struct pid_layout *l,
		   uint64_t entry, int depth, struct pid_view *pv)
{
	uint64_t node, slots[XA_CHUNK], shift;

	if (entry == 0)
		return 0;
	if (!xa_is_node(entry)) {
		/* Leaves are struct pid pointers; other internal values
		 * (retry, sibling, zero) carry no pid. */
		if ((entry & 3) != 0)
			return 0;
		return visit_pid(k, l, entry, pv);
	}
	if (depth >= XA_MAX_DEPTH || ++pv->nodes > XA_MAX_NODES)
		return kvmon_set_error(EPROTO, "pid XArray too deep or too large");
	node = entry - 2;
	if (kvmon_kread_u64(k, node + l->node_shift, 1, &shift) < 0 ||
	    kvmon_kernel_read(k, node + l->node_slots, slots, sizeof(slots)) < 0)
		return -1;
	if (shift > 60 || shift % 6)
		return kvmon_set_error(EPROTO, "pid XArray node with shift %llu",
				       (unsigned long long)shift);
	for (int i = 0; i < XA_CHUNK; i++)
		if (walk_xa(k, l, slots[i], depth + 1, pv) < 0)
			return -1;
	return 0;
}

static int pid_view(struct kvmon_kernel *k, struct pid_view *pv)
{
	struct pid_layout l;
	uint64_t ns, head;

	memset(pv, 0, sizeof(*pv));
	if (pid_layout(k, &l) < 0 ||
	    kvmon_kernel_symbol(k, "init_pid_ns", &ns) < 0 ||
	    kvmon_kread_u64(k, ns + l.ns_xa_head, 8, &head) < 0)
		return -1;
	if (walk_xa(k, &l, head, 0, pv) < 0) {
		free(pv->v);
		pv->v = NULL;
		return -1;
	}
	return 0;
}

static bool has_task(const struct kvmon_task *v, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].addr == addr)
			return true;
	return false;
}

/* Leaders the IDR knows and the task list does not; 0 = none. */
static int diff_processes(struct kvmon_kernel *k, struct kvmon_task **hidden,
			  size_t *nhidden)
{
	struct kvmon_task *list = NULL;
	struct pid_view pv;
	size_t n = 0;

	*hidden = NULL;
	*nhidden = 0;
	if (kvmon_kernel_tasks(k, &list, &n) < 0)
		return -1;
	if (pid_view(k, &pv) < 0) {
		free(list);
		return -1;
	}
	for (size_t i = 0; i < pv.n; i++)
		if (!has_task(list, n, pv.v[i].addr))
			pv.v[(*nhidden)++] = pv.v[i];
	free(list);
	*hidden = pv.v;
	return 0;
}

int kvmon_detect_hidden_process(struct kvmon_kernel *k, struct kvmon_findings *f)
{
	struct kvmon_task *h1 = NULL, *h2 = NULL;
	size_t n1 = 0, n2 = 0;

	if (diff_processes(k, &h1, &n1) < 0)
		return kvmon_error_prefix("hidden_process");
	/* A process that was starting or exiting during the first pass is
	 * not hidden: only report what a second pass confirms. */
	if (n1 > 0) {
		kvmon_kernel_flush(k);
		if (diff_processes(k, &h2, &n2) < 0) {
			free(h1);
			return kvmon_error_prefix("hidden_process");
		}
	}
	for (size_t i = 0; i < n1; i++) {
		struct json_object *d;

		if (!has_task(h2, n2, h1[i].addr))
			continue;
		d = json_object_new_object();
		json_object_object_add(d, "pid", json_object_new_int(h1[i].pid));
		json_object_object_add(d, "comm", json_object_new_string(h1[i].comm));
		json_object_object_add(d, "task", json_object_new_uint64(h1[i].addr));
		json_object_object_add(d, "seen_in", json_object_new_string("pid_idr"));
		json_object_object_add(d, "missing_from", json_object_new_string("task_list"));
		kvmon_finding_add(f, "hidden_process", KVMON_SEVERITY_CRITICAL, d,
				  "process %d (%s) is alive but hidden from the "
				  "task list",
				  h1[i].pid, h1[i].comm);
	}
	free(h1);
	free(h2);
	return 0;
}

/* ----------------------------------------------------- module kobjects */

/* struct module addresses reachable from module_kset->list. */
static int kobj_view(struct kvmon_kernel *k, uint64_t **mods, size_t *count)
{
	uint64_t kset_sym, kset, head, next, o_list, o_entry, o_kobj, o_mod;
	uint64_t *v;
	size_t n = 0, steps = 0;

	*mods = NULL;
	*count = 0;
	if (kvmon_kmember(k, "kset", "list", &o_list) < 0 ||
	    kvmon_kmember(k, "kobject", "entry", &o_entry) < 0 ||
	    kvmon_kmember(k, "module_kobject", "kobj", &o_kobj) < 0 ||
	    kvmon_kmember(k, "module_kobject", "mod", &o_mod) < 0 ||
	    kvmon_kernel_symbol(k, "module_kset", &kset_sym) < 0 ||
	    kvmon_kread_u64(k, kset_sym, 8, &kset) < 0)
		return kvmon_error_prefix("module kobjects");
	v = calloc(MAX_KOBJS, sizeof(*v));
	if (!v)
		return kvmon_set_error(ENOMEM, "out of memory");
	head = kset + o_list;
	if (kvmon_kread_u64(k, head, 8, &next) < 0)
		goto fail;
	while (next != head) {
		uint64_t mk = next - o_entry - o_kobj, mod;

		/* Every kobject is visited once; a cycle not through the
		 * head runs into the cap. */
		if (++steps > MAX_KOBJS) {
			kvmon_set_error(EPROTO, "module kset list does not close");
			goto fail;
		}
		if (kvmon_kread_u64(k, mk + o_mod, 8, &mod) < 0 ||
		    kvmon_kread_u64(k, next, 8, &next) < 0)
			goto fail;
		if (mod) /* built-in modules have a kobject but no module */
			v[n++] = mod;
	}
	*mods = v;
	*count = n;
	return 0;
fail:
	free(v);
	return kvmon_error_prefix("module kobjects");
}

static int diff_modules(struct kvmon_kernel *k, uint64_t **hidden, size_t *nhidden)
{
	struct kvmon_module *list = NULL;
	uint64_t *objs = NULL;
	size_t n = 0, nobjs = 0;

	*hidden = NULL;
	*nhidden = 0;
	if (kvmon_kernel_modules(k, &list, &n) < 0)
		return -1;
	if (kobj_view(k, &objs, &nobjs) < 0) {
		free(list);
		return -1;
	}
	for (size_t i = 0; i < nobjs; i++) {
		bool found = false;

		for (size_t j = 0; j < n && !found; j++)
			found = list[j].addr == objs[i];
		if (!found)
			objs[(*nhidden)++] = objs[i];
	}
	free(list);
	*hidden = objs;
	return 0;
}

int kvmon_detect_hidden_module(struct kvmon_kernel *k, struct kvmon_findings *f)
{
	uint64_t *h1 = NULL, *h2 = NULL, o_name;
	size_t n1 = 0, n2 = 0;

	if (diff_modules(k, &h1, &n1) < 0)
		return kvmon_error_prefix("hidden_module");
	if (n1 > 0) {
		kvmon_kernel_flush(k);
		if (diff_modules(k, &h2, &n2) < 0) {
			free(h1);
			return kvmon_error_prefix("hidden_module");
		}
	}
	if (kvmon_kmember(k, "module", "name", &o_name) < 0)
		o_name = 24;
	for (size_t i = 0; i < n1; i++) {
		struct json_object *d;
		char name[57] = "?";
		bool again = false;

		for (size_t j = 0; j < n2; j++)
			again |= h2[j] == h1[i];
		if (!again)
			continue;
		if (kvmon_kernel_read(k, h1[i] + o_name, name, 56) == 0) {
			name[56] = '\0';
			for (char *c = name; *c; c++)
				if (*c < 0x20 || *c > 0x7e)
					*c = '?';
		}
		d = json_object_new_object();
		json_object_object_add(d, "name", json_object_new_string(name));
		json_object_object_add(d, "module", json_object_new_uint64(h1[i]));
		json_object_object_add(d, "seen_in", json_object_new_string("module_kset"));
		json_object_object_add(d, "missing_from", json_object_new_string("module_list"));
		kvmon_finding_add(f, "hidden_module", KVMON_SEVERITY_CRITICAL, d,
				  "module %s is loaded but hidden from the module "
				  "list", name);
	}
	free(h1);
	free(h2);
	return 0;
}
