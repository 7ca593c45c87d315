/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel text and read-only data integrity against a baseline.
 *
 * Recent kernels dispatch system calls through x64_sys_call(), so checking
 * sys_call_table is not enough: the code itself is compared. The kernel
 * patches its own text at run time in a few known places, so those sites
 * are recorded at baseline time and judged by what they may legally hold:
 *
 *   static keys (jump labels)  NOP of the recorded size, or a jump to the
 *                              entry's own target
 *   static calls (sites and    CALL/JMP into core text or the module area,
 *   __SCT__ trampolines)       a NOP, RET, or the 5-byte "xor %eax,%eax"
 *                              that stands for __static_call_return0
 *   ftrace call sites          NOP5 (clean) or a CALL: reported as a
 *                              warning, since ftrace hooks are both a
 *                              tracing tool and a rootkit technique
 *
 * Every other byte of [_stext, _etext) and [__start_rodata, __end_rodata)
 * must equal the baseline. Read-only data includes ro_after_init, which the
 * kernel itself cannot write after boot. Sites are taken from the baseline,
 * never from the live guest at check time, so a rootkit cannot register
 * its own patch as legitimate.
 */
#include "linux/check.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REGION (256u << 20)
#define MAX_SITES 400000u
#define MAX_FTRACE_PAGES 100000u
#define MAX_RUN_FINDINGS 64      /* per region: beyond, one summary */
#define MODULES_VADDR 0xffffffffc0000000ull
#define MODULES_END 0xffffffffff000000ull
#define BL_MAGIC "KVMONBL1"

enum site_kind { SITE_JUMP_LABEL = 1, SITE_STATIC_CALL, SITE_SCT, SITE_FTRACE };

struct site {
	uint64_t addr;
	uint64_t target;   /* jump label: where the jump goes */
	uint8_t kind;
	uint8_t len;       /* bytes the kernel may patch */
};

struct region {
	char name[16];
	uint64_t start, len;
	uint8_t *data;     /* baseline bytes, patch sites zeroed */
};

struct kvmon_baseline {
	char release[65];
	uint64_t kaslr;
	struct region r[2];
	struct site *sites;
	size_t nsites;
};

static const uint8_t NOP5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static const uint8_t NOP2[2] = { 0x66, 0x90 };
/* Static calls to __static_call_return0 become "xor %eax,%eax" (5 bytes). */
static const uint8_t XOR5RAX[5] = { 0x2e, 0x2e, 0x2e, 0x31, 0xc0 };

/* ------------------------------------------------------------ sites */

struct site_list {
	struct site *v;
	size_t n, cap;
};

static int site_add(struct site_list *l, uint64_t addr, uint64_t target,
		    uint8_t kind)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		struct site *nv;

		if (cap > MAX_SITES)
			return kvmon_set_error(E2BIG, "more than %u patch sites",
					       MAX_SITES);
		nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			return kvmon_set_error(ENOMEM, "out of memory");
		l->v = nv;
		l->cap = cap;
	}
	/* Zeroed first: sites are saved as bytes, padding included. */
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n].addr = addr;
	l->v[l->n].target = target;
	l->v[l->n].kind = kind;
	l->v[l->n].len = 5;
	l->n++;
	return 0;
}

/* Read a table of fixed-size entries between two symbols. */
static uint8_t *read_table(struct kvmon_kernel *k, const char *start_sym,
			   const char *stop_sym, size_t entsize, uint64_t *base,
			   size_t *count)
{
	uint64_t start, stop;
	uint8_t *buf;

	*count = 0;
	if (kvmon_kernel_symbol(k, start_sym, &start) < 0 ||
	    kvmon_kernel_symbol(k, stop_sym, &stop) < 0)
		return NULL;
	if (stop < start || (stop - start) / entsize > MAX_SITES) {
		kvmon_set_error(EPROTO, "%s..%s implausible", start_sym, stop_sym);
		return NULL;
	}
	buf = malloc(stop - start + 1);
	if (!buf || kvmon_kernel_read(k, start, buf, stop - start) < 0) {
		free(buf);
		return NULL;
	}
	*base = start;
	*count = (stop - start) / entsize;
	return buf;
}

static int32_t s32_at(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* struct jump_entry { s32 code; s32 target; long key; } (relative). */
static int jump_label_sites(struct kvmon_kernel *k, struct site_list *l)
{
	uint64_t base;
	size_t n;
	uint8_t *t = read_table(k, "__start___jump_table", "__stop___jump_table",
				16, &base, &n);

	if (!t)
		return kvmon_get_errno() == ENOENT ? 0 : -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t e = base + 16 * i;
		uint64_t code = e + (uint64_t)(int64_t)s32_at(t + 16 * i);
		uint64_t target = e + 4 + (uint64_t)(int64_t)s32_at(t + 16 * i + 4);

		if (site_add(l, code, target, SITE_JUMP_LABEL) < 0) {
			free(t);
			return -1;
		}
	}
	free(t);
	return 0;
}

/* struct static_call_site { s32 addr; s32 key; } (relative). */
static int static_call_sites(struct kvmon_kernel *k, struct site_list *l)
{
	uint64_t base;
	size_t n, nsyms;
	uint8_t *t = read_table(k, "__start_static_call_sites",
				"__stop_static_call_sites", 8, &base, &n);

	if (!t && kvmon_get_errno() != ENOENT)
		return -1;
	for (size_t i = 0; t && i < n; i++) {
		uint64_t site = base + 8 * i + (uint64_t)(int64_t)s32_at(t + 8 * i);

		if (site_add(l, site, 0, SITE_STATIC_CALL) < 0) {
			free(t);
			return -1;
		}
	}
	free(t);
	/* The trampolines themselves are patched too. */
	nsyms = kvmon_kallsyms_count(k->syms);
	for (size_t i = 0; i < nsyms; i++) {
		const char *name;
		char type;
		uint64_t addr;

		if (kvmon_kallsyms_get(k->syms, i, &name, &type, &addr) == 0 &&
		    !strncmp(name, "__SCT__", 7) && site_add(l, addr, 0, SITE_SCT) < 0)
			return -1;
	}
	return 0;
}

/* ftrace_pages_start -> struct ftrace_page { next, records, index, ... }. */
static int ftrace_sites(struct kvmon_kernel *k, struct site_list *l)
{
	uint64_t sym, page, o_next, o_recs, o_index, o_ip, recsize;
	size_t pages = 0;

	if (kvmon_kernel_symbol(k, "ftrace_pages_start", &sym) < 0)
		return 0; /* kernel without dynamic ftrace */
	if (kvmon_kmember(k, "ftrace_page", "next", &o_next) < 0 ||
	    kvmon_kmember(k, "ftrace_page", "records", &o_recs) < 0 ||
	    kvmon_kmember(k, "ftrace_page", "index", &o_index) < 0 ||
	    kvmon_kmember(k, "dyn_ftrace", "ip", &o_ip) < 0 ||
	    kvmon_btf_struct_size(k->btf, "dyn_ftrace", &recsize) < 0 ||
	    recsize == 0 || recsize > 64 ||
	    kvmon_kread_u64(k, sym, 8, &page) < 0)
		return kvmon_error_prefix("ftrace records");
	while (page) {
		uint64_t recs, index;
		uint8_t *buf;

		if (++pages > MAX_FTRACE_PAGES)
			return kvmon_set_error(EPROTO, "ftrace page list does not end");
		if (kvmon_kread_u64(k, page + o_recs, 8, &recs) < 0 ||
		    kvmon_kread_u64(k, page + o_index, 4, &index) < 0)
			return -1;
		if (index > MAX_SITES)
			return kvmon_set_error(EPROTO, "ftrace page with %llu records",
					       (unsigned long long)index);
		buf = malloc(index * recsize + 1);
		if (!buf || kvmon_kernel_read(k, recs, buf, index * recsize) < 0) {
			free(buf);
			return kvmon_error_prefix("ftrace records");
		}
		for (uint64_t i = 0; i < index; i++) {
			uint64_t ip;

			memcpy(&ip, buf + i * recsize + o_ip, 8);
			if (site_add(l, ip, 0, SITE_FTRACE) < 0) {
				free(buf);
				return -1;
			}
		}
		free(buf);
		if (kvmon_kread_u64(k, page + o_next, 8, &page) < 0)
			return -1;
	}
	return 0;
}

static int cmp_site(const void *a, const void *b)
{
	const struct site *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* ---------------------------------------------------------- baseline */

static int read_region(struct kvmon_kernel *k, struct region *r, const char *name,
		       const char *from, const char *to)
{
	uint64_t a, b;

	snprintf(r->name, sizeof(r->name), "%s", name);
	if (kvmon_kernel_symbol(k, from, &a) < 0 || kvmon_kernel_symbol(k, to, &b) < 0)
		return -1;
	if (b <= a || b - a > MAX_REGION)
		return kvmon_set_error(EPROTO, "%s..%s implausible", from, to);
	r->start = a;
	r->len = b - a;
	r->data = malloc(r->len);
	if (!r->data)
		return kvmon_set_error(ENOMEM, "out of memory");
	return kvmon_kernel_read(k, a, r->data, r->len);
}

static struct region *region_of(struct kvmon_baseline *b, uint64_t addr)
{
	for (int i = 0; i < 2; i++)
		if (addr >= b->r[i].start && addr - b->r[i].start < b->r[i].len)
			return &b->r[i];
	return NULL;
}

/* Keep text sites, size them by their baseline bytes, zero them. */
static void apply_sites(struct kvmon_baseline *b, struct site_list *l)
{
	size_t n = 0;

	qsort(l->v, l->n, sizeof(*l->v), cmp_site);
	for (size_t i = 0; i < l->n; i++) {
		struct site *s = &l->v[i];
		struct region *r = region_of(b, s->addr);
		uint8_t *p;

		if (r != &b->r[0] || s->addr + 5 > r->start + r->len)
			continue; /* init text (freed) or modules */
		if (n > 0 && l->v[n - 1].addr == s->addr)
			continue; /* one site, listed twice */
		p = r->data + (s->addr - r->start);
		if (s->kind == SITE_JUMP_LABEL && (p[0] == 0xeb || !memcmp(p, NOP2, 2)))
			s->len = 2;
		memset(p, 0, s->len);
		l->v[n++] = *s;
	}
	l->n = n;
}

struct kvmon_baseline *kvmon_baseline_create(struct kvmon_kernel *k)
{
	struct kvmon_baseline *b;
	struct site_list l = { 0 };

	if (!k) {
		kvmon_set_error(EINVAL, "baseline: no kernel");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(b->release, sizeof(b->release), "%s", k->release);
	b->kaslr = k->kaslr;
	kvmon_kernel_flush(k);
	if (read_region(k, &b->r[0], "text", "_stext", "_etext") < 0 ||
	    read_region(k, &b->r[1], "rodata", "__start_rodata", "__end_rodata") < 0 ||
	    jump_label_sites(k, &l) < 0 || static_call_sites(k, &l) < 0 ||
	    ftrace_sites(k, &l) < 0) {
		kvmon_error_prefix("baseline");
		free(l.v);
		kvmon_baseline_free(b);
		return NULL;
	}
	apply_sites(b, &l);
	b->sites = l.v;
	b->nsites = l.n;
	return b;
}

void kvmon_baseline_free(struct kvmon_baseline *b)
{
	if (!b)
		return;
	free(b->r[0].data);
	free(b->r[1].data);
	free(b->sites);
	free(b);
}

/* ------------------------------------------------------------ check */

static bool in_kernel_code(const struct kvmon_kernel *k, uint64_t a)
{
	return (a >= k->stext && a < k->etext) || (a >= MODULES_VADDR && a < MODULES_END);
}

static uint64_t rel32_target(uint64_t at, const uint8_t *p)
{
	return at + 5 + (uint64_t)(int64_t)s32_at(p + 1);
}

/* 0 = legal, 1 = ftrace hook (warning), 2 = illegal. */
static int judge_site(const struct kvmon_kernel *k, const struct site *s,
		      const uint8_t *p, uint64_t *target)
{
	*target = 0;
	switch (s->kind) {
	case SITE_JUMP_LABEL:
		if (s->len == 2)
			return !memcmp(p, NOP2, 2) ||
					       (p[0] == 0xeb &&
						s->addr + 2 + (uint64_t)(int64_t)(int8_t)p[1] ==
							s->target)
				       ? 0 : 2;
		if (!memcmp(p, NOP5, 5))
			return 0;
		*target = p[0] == 0xe9 ? rel32_target(s->addr, p) : 0;
		return p[0] == 0xe9 && *target == s->target ? 0 : 2;
	case SITE_STATIC_CALL:
	case SITE_SCT:
		if (!memcmp(p, NOP5, 5) || !memcmp(p, XOR5RAX, 5) || p[0] == 0xc3)
			return 0;
		if (p[0] == 0xe8 || p[0] == 0xe9) {
			*target = rel32_target(s->addr, p);
			return in_kernel_code(k, *target) ? 0 : 2;
		}
		return 2;
	case SITE_FTRACE:
		if (!memcmp(p, NOP5, 5))
			return 0;
		if (p[0] == 0xe8) {
			*target = rel32_target(s->addr, p);
			return 1;
		}
		return 2;
	}
	return 2;
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case SITE_JUMP_LABEL: return "static_key";
	case SITE_STATIC_CALL: return "static_call";
	case SITE_SCT: return "static_call_trampoline";
	default: return "ftrace";
	}
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void report_run(struct kvmon_kernel *k, struct kvmon_findings *f,
		       const struct region *r, uint64_t off, uint64_t len,
		       const uint8_t *now)
{
	struct json_object *d = json_object_new_object();
	char where[160], a[65], b[65];
	size_t show = len > 32 ? 32 : (size_t)len;

	kvmon_describe_addr(k, NULL, 0, r->start + off, where, sizeof(where));
	hex(r->data + off, show, a);
	hex(now + off, show, b);
	json_object_object_add(d, "region", json_object_new_string(r->name));
	json_object_object_add(d, "address", json_object_new_uint64(r->start + off));
	json_object_object_add(d, "length", json_object_new_uint64(len));
	json_object_object_add(d, "symbol", json_object_new_string(where));
	json_object_object_add(d, "expected", json_object_new_string(a));
	json_object_object_add(d, "found", json_object_new_string(b));
	kvmon_finding_add(f, "kernel_text", KVMON_SEVERITY_CRITICAL, d,
			  "kernel %s modified at %s (%llu bytes)", r->name, where,
			  (unsigned long long)len);
}

/* Compare one region byte by byte; report runs of changed bytes. */
static void compare_region(struct kvmon_kernel *k, struct kvmon_findings *f,
			   const struct region *r, const uint8_t *now)
{
	uint64_t i = 0, runs = 0, changed = 0;

	while (i < r->len) {
		uint64_t j;

		if (now[i] == r->data[i]) {
			/* Fast skip of equal 4 KiB blocks. */
			if (i % 4096 == 0 && i + 4096 <= r->len &&
			    !memcmp(now + i, r->data + i, 4096)) {
				i += 4096;
				continue;
			}
			i++;
			continue;
		}
		/* A run ends after 16 equal bytes in a row. */
		for (j = i + 1; j < r->len; j++) {
			uint64_t e = j;

			while (e < r->len && e - j < 16 && now[e] == r->data[e])
				e++;
			if (e - j >= 16 || e == r->len)
				break;
			j = e;
		}
		changed += j - i;
		if (runs++ < MAX_RUN_FINDINGS)
			report_run(k, f, r, i, j - i, now);
		i = j;
	}
	if (runs > MAX_RUN_FINDINGS)
		kvmon_finding_add(f, "kernel_text", KVMON_SEVERITY_CRITICAL, NULL,
				  "kernel %s: %llu changed areas (%llu bytes) in all",
				  r->name, (unsigned long long)runs,
				  (unsigned long long)changed);
}

static void check_sites(struct kvmon_kernel *k, const struct kvmon_baseline *b,
			const uint8_t *text, uint8_t *masked, struct kvmon_findings *f)
{
	const struct region *r = &b->r[0];

	for (size_t i = 0; i < b->nsites; i++) {
		const struct site *s = &b->sites[i];
		const uint8_t *p = text + (s->addr - r->start);
		char where[160], tgt[160] = "", bytes[11];
		struct json_object *d;
		uint64_t target;
		int v = judge_site(k, s, p, &target);

		memset(masked + (s->addr - r->start), 0, s->len);
		if (v == 0)
			continue;
		kvmon_describe_addr(k, NULL, 0, s->addr, where, sizeof(where));
		if (target)
			kvmon_describe_addr(k, NULL, 0, target, tgt, sizeof(tgt));
		hex(p, s->len, bytes);
		d = json_object_new_object();
		json_object_object_add(d, "site", json_object_new_string(kind_name(s->kind)));
		json_object_object_add(d, "address", json_object_new_uint64(s->addr));
		json_object_object_add(d, "symbol", json_object_new_string(where));
		json_object_object_add(d, "found", json_object_new_string(bytes));
		if (target)
			json_object_object_add(d, "target", json_object_new_uint64(target));
		if (v == 1)
			kvmon_finding_add(f, "kernel_text", KVMON_SEVERITY_WARNING, d,
					  "%s is hooked through ftrace (call to 0x%llx %s)",
					  where, (unsigned long long)target, tgt);
		else
			kvmon_finding_add(f, "kernel_text", KVMON_SEVERITY_CRITICAL, d,
					  "%s patch site at %s holds illegal code %s",
					  kind_name(s->kind), where, bytes);
	}
}

int kvmon_detect_kernel_text(struct kvmon_kernel *k, const struct kvmon_baseline *b,
			     struct kvmon_findings *f)
{
	if (strcmp(b->release, k->release) || b->kaslr != k->kaslr)
		return kvmon_set_error(ESTALE, "kernel_text: baseline is of %s "
				       "(KASLR 0x%llx), guest runs %s (KASLR 0x%llx): "
				       "take a new baseline after each boot",
				       b->release, (unsigned long long)b->kaslr,
				       k->release, (unsigned long long)k->kaslr);
	for (int i = 0; i < 2; i++) {
		const struct region *r = &b->r[i];
		uint8_t *now = malloc(r->len), *copy = NULL;

		if (!now || kvmon_kernel_read(k, r->start, now, r->len) < 0) {
			free(now);
			return kvmon_error_prefix("kernel_text: reading %s", r->name);
		}
		if (i == 0) {
			copy = malloc(r->len);
			if (!copy) {
				free(now);
				return kvmon_set_error(ENOMEM, "out of memory");
			}
			memcpy(copy, now, r->len);
			check_sites(k, b, now, copy, f);
			compare_region(k, f, r, copy);
		} else {
			compare_region(k, f, r, now);
		}
		free(copy);
		free(now);
	}
	return 0;
}

/* ------------------------------------------------------- save / load */

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	bool oom;
};

static void put(struct wbuf *w, const void *data, size_t len)
{
	if (w->oom)
		return;
	if (w->n + len > w->cap) {
		size_t cap = (w->n + len) * 2;
		uint8_t *np = realloc(w->p, cap);

		if (!np) {
			w->oom = true;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->n, data, len);
	w->n += len;
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	put(w, &v, 8);
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned len = 32;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int kvmon_baseline_save(const struct kvmon_baseline *b, const char *path)
{
	struct wbuf w = { 0 };
	uint8_t digest[32];
	int rc;

	if (!b || !path)
		return kvmon_set_error(EINVAL, "baseline save: bad arguments");
	put(&w, BL_MAGIC, 8);
	put(&w, b->release, sizeof(b->release));
	put_u64(&w, b->kaslr);
	for (int i = 0; i < 2; i++) {
		put(&w, b->r[i].name, sizeof(b->r[i].name));
		put_u64(&w, b->r[i].start);
		put_u64(&w, b->r[i].len);
		put(&w, b->r[i].data, b->r[i].len);
	}
	put_u64(&w, b->nsites);
	put(&w, b->sites, b->nsites * sizeof(*b->sites));
	if (w.oom || sha256(w.p, w.n, digest) < 0) {
		free(w.p);
		return kvmon_set_error(ENOMEM, "baseline save: out of memory");
	}
	put(&w, digest, 32);
	rc = w.oom ? kvmon_set_error(ENOMEM, "out of memory")
		   : kvmon_write_file_atomic(path, (const char *)w.p, w.n);
	free(w.p);
	return rc;
}

struct rbuf {
	const uint8_t *p;
	size_t n, off;
};

static int get(struct rbuf *r, void *out, size_t len)
{
	if (len > r->n - r->off)
		return kvmon_set_error(EPROTO, "baseline file truncated");
	memcpy(out, r->p + r->off, len);
	r->off += len;
	return 0;
}

static int load_body(struct kvmon_baseline *b, struct rbuf *r)
{
	char magic[8] = { 0 };

	if (get(r, magic, 8) < 0 || memcmp(magic, BL_MAGIC, 8))
		return kvmon_set_error(EPROTO, "not a kvmon baseline file");
	if (get(r, b->release, sizeof(b->release)) < 0 || get(r, &b->kaslr, 8) < 0)
		return -1;
	b->release[sizeof(b->release) - 1] = '\0';
	for (int i = 0; i < 2; i++) {
		struct region *g = &b->r[i];

		if (get(r, g->name, sizeof(g->name)) < 0 || get(r, &g->start, 8) < 0 ||
		    get(r, &g->len, 8) < 0)
			return -1;
		g->name[sizeof(g->name) - 1] = '\0';
		if (g->len == 0 || g->len > MAX_REGION || g->len > r->n - r->off)
			return kvmon_set_error(EPROTO, "baseline region size");
		g->data = malloc(g->len);
		if (!g->data || get(r, g->data, g->len) < 0)
			return kvmon_set_error(ENOMEM, "baseline region");
	}
	if (get(r, &b->nsites, 8) < 0 || b->nsites > MAX_SITES ||
	    b->nsites * sizeof(*b->sites) > r->n - r->off)
		return kvmon_set_error(EPROTO, "baseline site count");
	b->sites = malloc(b->nsites * sizeof(*b->sites) + 1);
	if (!b->sites || get(r, b->sites, b->nsites * sizeof(*b->sites)) < 0)
		return -1;
	for (size_t i = 0; i < b->nsites; i++) {
		const struct site *s = &b->sites[i];

		if (s->len > 5 || s->addr < b->r[0].start ||
		    s->addr - b->r[0].start > b->r[0].len - s->len)
			return kvmon_set_error(EPROTO, "baseline site out of range");
	}
	return r->off == r->n ? 0 : kvmon_set_error(EPROTO, "baseline: trailing data");
}

struct kvmon_baseline *kvmon_baseline_load(const char *path)
{
	struct kvmon_baseline *b;
	uint8_t digest[32];
	size_t len = 0;
	char *data = kvmon_read_file(path, 2 * (size_t)MAX_REGION + (64u << 20), &len);
	struct rbuf r;

	if (!data)
		return NULL;
	if (len < 32 + 8 || sha256((uint8_t *)data, len - 32, digest) < 0 ||
	    memcmp(digest, data + len - 32, 32)) {
		free(data);
		kvmon_set_error(EBADMSG, "%s: baseline damaged (digest mismatch)", path);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	r = (struct rbuf){ .p = (uint8_t *)data, .n = len - 32 };
	if (!b || load_body(b, &r) < 0) {
		kvmon_error_prefix("%s", path);
		kvmon_baseline_free(b);
		free(data);
		return NULL;
	}
	free(data);
	return b;
}
