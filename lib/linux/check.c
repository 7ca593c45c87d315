/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The detector framework and the system-call table detector.
 *
 * Findings are data (detector, severity, message, JSON details); callers
 * turn them into alerts. Detectors only read guest memory.
 */
#define _GNU_SOURCE
#include "linux/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kvmon_findings {
	struct kvmon_finding *v;
	size_t n, cap, limit;
	bool truncated;
};

static void finding_free(struct kvmon_finding *x)
{
	free((char *)x->message);
	free((char *)x->details);
}

void kvmon_finding_add(struct kvmon_findings *f, const char *detector,
		       int severity, struct json_object *details,
		       const char *fmt, ...)
{
	struct kvmon_finding *x;
	va_list ap;
	char *msg = NULL;

	if (f->n >= f->limit) {
		f->truncated = true;
		json_object_put(details);
		return;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct kvmon_finding *nv = realloc(f->v, cap * sizeof(*nv));

		if (!nv) {
			json_object_put(details);
			return;
		}
		f->v = nv;
		f->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	x = &f->v[f->n];
	x->detector = detector;
	x->severity = severity;
	x->message = msg ? msg : strdup("(out of memory)");
	x->details = strdup(details ? json_object_to_json_string_ext(
						      details, JSON_C_TO_STRING_PLAIN)
				    : "{}");
	json_object_put(details);
	if (x->message && x->details)
		f->n++;
	else
		finding_free(x);
}

size_t kvmon_findings_count(const struct kvmon_findings *f)
{
	return f ? f->n : 0;
}

const struct kvmon_finding *kvmon_findings_get(const struct kvmon_findings *f,
					       size_t i)
{
	return f && i < f->n ? &f->v[i] : NULL;
}

void kvmon_findings_free(struct kvmon_findings *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		finding_free(&f->v[i]);
	free(f->v);
	free(f);
}

void kvmon_describe_addr(struct kvmon_kernel *k, const struct kvmon_module *mods,
			 size_t nmods, uint64_t addr, char *out, size_t size)
{
	char name[128];
	uint64_t off;

	for (size_t i = 0; i < nmods; i++)
		if (addr >= mods[i].base && addr - mods[i].base < mods[i].size) {
			snprintf(out, size, "[%s]+0x%llx", mods[i].name,
				 (unsigned long long)(addr - mods[i].base));
			return;
		}
	if (addr >= k->stext && addr < k->etext &&
	    kvmon_kernel_resolve(k, addr, name, sizeof(name), &off) == 0) {
		snprintf(out, size, "%s+0x%llx", name, (unsigned long long)off);
		return;
	}
	snprintf(out, size, "?");
}

int kvmon_detect_syscalls(struct kvmon_kernel *k, const struct kvmon_baseline *b,
			  struct kvmon_findings *f)
{
	struct kvmon_module *mods = NULL;
	size_t nmods = 0;
	bool named = false;

	(void)b;
	/* Verdicts are memoised by entry value: a clean, unchanged table
	 * costs one read and one pass over flags. */
	if (kvmon_syscalls_refresh(k) < 0)
		return -1;
	for (size_t i = 0; i < k->sc.n; i++) {
		const struct kvmon_syscall *s = &k->sc.res[i];
		struct json_object *d;
		char where[160];

		if (k->sc.ok[i])
			continue;
		/* Modules only to name where a hooked entry points: walked
		 * once, and only when something is wrong. */
		if (!named && kvmon_kernel_modules(k, &mods, &nmods) < 0)
			nmods = 0;
		named = true;
		kvmon_describe_addr(k, mods, nmods, s->handler, where, sizeof(where));
		d = json_object_new_object();
		json_object_object_add(d, "nr", json_object_new_int((int)s->nr));
		json_object_object_add(d, "handler", json_object_new_uint64(s->handler));
		json_object_object_add(d, "target", json_object_new_string(where));
		json_object_object_add(d, "in_core_text",
				       json_object_new_boolean(s->in_core_text));
		kvmon_finding_add(f, "syscall_table", KVMON_SEVERITY_CRITICAL, d,
				  "sys_call_table[%u] points %s to %s", s->nr,
				  s->in_core_text ? "into core text but not" :
						    "outside core kernel text",
				  where);
	}
	free(mods);
	return 0;
}

int kvmon_check(struct kvmon_kernel *k, const struct kvmon_baseline *b,
		unsigned detectors, struct kvmon_findings **out)
{
	struct kvmon_findings *f;
	int failed = 0, ran = 0;

	if (!k || !out)
		return kvmon_set_error(EINVAL, "check: bad arguments");
	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return kvmon_set_error(ENOMEM, "out of memory");
	f->limit = KVMON_MAX_FINDINGS;
	kvmon_kernel_flush(k); /* a new pass: fresh translations */
#define RUN(bit, call)                                  \
	if (detectors & (bit)) {                        \
		ran++;                                  \
		if ((call) < 0)                         \
			failed++;                       \
	}
	RUN(KVMON_DETECT_SYSCALLS, kvmon_detect_syscalls(k, b, f));
	RUN(KVMON_DETECT_HIDDEN_PROCESS, kvmon_detect_hidden_process(k, f));
	RUN(KVMON_DETECT_HIDDEN_MODULE, kvmon_detect_hidden_module(k, f));
	if (b)
		RUN(KVMON_DETECT_KERNEL_TEXT, kvmon_detect_kernel_text(k, b, f));
#undef RUN
	if (f->truncated) {
		f->limit++; /* room for saying so */
		kvmon_finding_add(f, "check", KVMON_SEVERITY_WARNING, NULL,
				  "more than %d findings: the rest were dropped",
				  KVMON_MAX_FINDINGS);
	}
	if (failed && failed == ran) {
		kvmon_findings_free(f);
		return -1;
	}
	if (failed)
		kvmon_finding_add(f, "check", KVMON_SEVERITY_WARNING, NULL,
				  "%d of %d detectors could not run: %s", failed, ran,
				  kvmon_get_error());
	*out = f;
	return 0;
}
