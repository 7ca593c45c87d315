/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Member lookup over BTF written by libbpf's own BTF writer. */
#include "internal.h"
#include "linux/kbtf.h"
#include "../tap.h"

#include <errno.h>
#include <linux/btf.h>
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>

/* struct list_head { struct list_head *next, *prev; };
 * struct inner { int a; long b; };
 * typedef struct inner inner_t;
 * struct task { int pid; union { long x; struct { int y; int z; }; };
 *               const inner_t in; struct list_head tasks; int bits:3; }; */
static struct btf *make_btf(void)
{
	struct btf *b = btf__new_empty();
	int i32, i64, lh, lhp, inner, td, cst, anon_s, anon_u, task;

	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	i64 = btf__add_int(b, "long", 8, BTF_INT_SIGNED);
	/* Fields go to the last type added: add them before the pointer
	 * type, referring to its id ahead (BTF allows forward references). */
	lh = btf__add_struct(b, "list_head", 16);
	btf__add_field(b, "next", lh + 1, 0, 0);
	btf__add_field(b, "prev", lh + 1, 64, 0);
	lhp = btf__add_ptr(b, lh);
	inner = btf__add_struct(b, "inner", 16);
	btf__add_field(b, "a", i32, 0, 0);
	btf__add_field(b, "b", i64, 64, 0);
	td = btf__add_typedef(b, "inner_t", inner);
	cst = btf__add_const(b, td);
	anon_s = btf__add_struct(b, NULL, 8);
	btf__add_field(b, "y", i32, 0, 0);
	btf__add_field(b, "z", i32, 32, 0);
	anon_u = btf__add_union(b, NULL, 8);
	btf__add_field(b, "x", i64, 0, 0);
	btf__add_field(b, NULL, anon_s, 0, 0);
	task = btf__add_struct(b, "task", 56);
	btf__add_field(b, "pid", i32, 0, 0);
	btf__add_field(b, NULL, anon_u, 64, 0);
	btf__add_field(b, "in", cst, 128, 0);
	btf__add_field(b, "tasks", lh, 256, 0);
	btf__add_field(b, "bits", i32, 384, 3);
	(void)task;
	(void)lhp;
	return b;
}

int main(void)
{
	struct btf *w = make_btf();
	const void *raw;
	__u32 rawlen = 0;
	struct kvmon_btf *b;
	uint64_t off = 0, size = 0;
	uint8_t *bad;

	raw = btf__raw_data(w, &rawlen);
	ok(raw && rawlen > 24, "libbpf wrote a BTF blob of %u bytes", rawlen);
	b = kvmon_btf_load(raw, rawlen);
	ok(b != NULL, "blob loads");
	if (!b)
		bail("%s", kvmon_get_error());
	ok(kvmon_btf_struct_size(b, "task", &size) == 0 && size == 56, "struct size");
	ok(kvmon_btf_member(b, "task", "pid", &off, &size) == 0 && off == 0 && size == 4,
	   "plain member");
	ok(kvmon_btf_member(b, "task", "tasks", &off, &size) == 0 && off == 32 &&
		   size == 16, "embedded struct member: offset 32, size 16");
	ok(kvmon_btf_member(b, "task", "tasks.prev", &off, &size) == 0 && off == 40 &&
		   size == 8, "dotted path into embedded struct");
	ok(kvmon_btf_member(b, "task", "x", &off, NULL) == 0 && off == 8,
	   "member of an anonymous union");
	ok(kvmon_btf_member(b, "task", "z", &off, &size) == 0 && off == 12 && size == 4,
	   "member of an anonymous struct inside an anonymous union");
	ok(kvmon_btf_member(b, "task", "in.b", &off, &size) == 0 && off == 24 &&
		   size == 8, "path through const typedef");
	ok(kvmon_btf_member(b, "task", "bits", &off, NULL) < 0 &&
		   kvmon_get_errno() == EINVAL, "bitfield refused");
	ok(kvmon_btf_member(b, "task", "nope", &off, NULL) < 0 &&
		   kvmon_get_errno() == ENOENT, "missing member: ENOENT");
	ok(kvmon_btf_member(b, "nosuch", "pid", &off, NULL) < 0 &&
		   kvmon_get_errno() == ENOENT, "missing struct: ENOENT");
	ok(kvmon_btf_member(b, "task", "pid.x", &off, NULL) < 0 &&
		   kvmon_get_errno() == EINVAL, "path through a non-struct refused");
	ok(kvmon_btf_member(b, "task", "tasks..next", &off, NULL) < 0 &&
		   kvmon_btf_member(b, "task", "", &off, NULL) < 0,
	   "empty path components refused");
	kvmon_btf_free(b);

	/* Hostile blobs: libbpf must refuse them, we must not crash. */
	bad = malloc(rawlen);
	memcpy(bad, raw, rawlen);
	((struct btf_header *)bad)->str_len = 0xffffff;
	ok(kvmon_btf_load(bad, rawlen) == NULL, "string section past the end refused");
	memcpy(bad, raw, rawlen);
	((struct btf_header *)bad)->magic = 0x1234;
	ok(kvmon_btf_load(bad, rawlen) == NULL, "bad magic refused");
	memcpy(bad, raw, rawlen);
	((struct btf_header *)bad)->hdr_len += 1;
	ok(kvmon_btf_load(bad, rawlen) == NULL && kvmon_get_errno() == EPROTO,
	   "header length that misaligns the types refused");
	memcpy(bad, raw, rawlen);
	((struct btf_header *)bad)->type_off = 2;
	ok(kvmon_btf_load(bad, rawlen) == NULL, "misaligned type section refused");
	ok(kvmon_btf_load(bad, 10) == NULL && kvmon_btf_load(NULL, 100) == NULL,
	   "short and NULL blobs refused");
	ok(kvmon_btf_load(raw, KVMON_BTF_MAX + 1) == NULL, "oversized blob refused");
	free(bad);
	btf__free(w);
	return tap_done();
}
