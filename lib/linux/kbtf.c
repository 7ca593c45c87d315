/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest kernel describes its own structs in BTF (CONFIG_DEBUG_INFO_BTF),
 * so no profile is needed: task_struct, mm_struct, module... offsets come
 * from the guest. libbpf does the parsing and validation of the blob; this
 * file only looks members up, with bounded recursion.
 */
#include "linux/kbtf.h"

#include <linux/btf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 8      /* nested anonymous members / path components */
#define MAX_RESOLVE 32   /* typedef/const/volatile chains */

struct kvmon_btf {
	struct btf *btf;
};

/*
 * libbpf reads types at hdr_len + type_off without checking that hdr_len
 * keeps them 4-byte aligned: a hostile header would make every type access
 * misaligned. Refuse such headers before libbpf sees them.
 */
static int check_header(const void *data, size_t size)
{
	struct btf_header h;

	memcpy(&h, data, sizeof(h));
	if (h.magic != BTF_MAGIC || h.version != BTF_VERSION)
		return kvmon_set_error(EPROTO, "BTF: bad magic or version");
	if (h.hdr_len < sizeof(h) || h.hdr_len % 4 || h.hdr_len > size ||
	    h.type_off % 4 || h.str_off % 4)
		return kvmon_set_error(EPROTO, "BTF: misaligned or oversized header");
	return 0;
}

struct kvmon_btf *kvmon_btf_load(const void *data, size_t size)
{
	struct kvmon_btf *b;
	long err;

	if (!data || size < sizeof(struct btf_header) || size > KVMON_BTF_MAX) {
		kvmon_set_error(EINVAL, "BTF: bad size %zu", size);
		return NULL;
	}
	if (check_header(data, size) < 0)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	/* libbpf 1.x: NULL and errno on failure. */
	b->btf = btf__new(data, (__u32)size);
	if (!b->btf) {
		err = errno;
		free(b);
		kvmon_set_error(EPROTO, "BTF: libbpf rejected the blob (%s)",
				strerror((int)err));
		return NULL;
	}
	return b;
}

void kvmon_btf_free(struct kvmon_btf *b)
{
	if (!b)
		return;
	btf__free(b->btf);
	free(b);
}

/* Skip typedefs and qualifiers; NULL on a loop or a bad id. */
static const struct btf_type *resolve(const struct btf *btf, __u32 id,
				      __u32 *out_id)
{
	for (int i = 0; i < MAX_RESOLVE; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t)
			return NULL;
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			id = t->type;
			continue;
		default:
			if (out_id)
				*out_id = id;
			return t;
		}
	}
	return NULL;
}

static int find_composite(const struct btf *btf, const char *name, __u32 *id)
{
	__s32 r = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	if (r < 0)
		r = btf__find_by_name_kind(btf, name, BTF_KIND_UNION);
	if (r < 0)
		return kvmon_set_error(ENOENT, "BTF: no struct %s", name);
	*id = (__u32)r;
	return 0;
}

int kvmon_btf_struct_size(const struct kvmon_btf *b, const char *name,
			  uint64_t *size)
{
	__u32 id;

	if (!b || !name)
		return kvmon_set_error(EINVAL, "BTF: bad arguments");
	if (find_composite(b->btf, name, &id) < 0)
		return -1;
	*size = btf__type_by_id(b->btf, id)->size;
	return 0;
}

/*
 * Find member `name` in composite type `t`, looking inside anonymous
 * members. Sets *bits to its bit offset and *type_id to its type.
 */
static int find_member(const struct btf *btf, const struct btf_type *t,
		       const char *name, size_t nlen, int depth, __u64 *bits,
		       __u32 *type_id, bool *bitfield)
{
	const struct btf_member *m = btf_members(t);
	__u16 n = btf_vlen(t);

	if (depth > MAX_DEPTH)
		return 0;
	for (__u16 i = 0; i < n; i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		__u64 off = btf_member_bit_offset(t, i);

		if (mn && *mn) {
			if (strlen(mn) == nlen && !memcmp(mn, name, nlen)) {
				*bits = off;
				*type_id = m->type;
				*bitfield = btf_member_bitfield_size(t, i) != 0;
				return 1;
			}
			continue;
		}
		/* Anonymous struct/union: its members belong to t. */
		{
			const struct btf_type *inner = resolve(btf, m->type, NULL);
			__u64 ib;

			if (!inner || !(btf_is_struct(inner) || btf_is_union(inner)))
				continue;
			if (find_member(btf, inner, name, nlen, depth + 1, &ib,
					type_id, bitfield) == 1) {
				*bits = off + ib;
				return 1;
			}
		}
	}
	return 0;
}

int kvmon_btf_member(const struct kvmon_btf *b, const char *sname,
		     const char *path, uint64_t *offset, uint64_t *size)
{
	const struct btf_type *t;
	const char *p = path;
	__u64 total = 0;
	__u32 id, tid = 0;
	int depth = 0;

	if (!b || !sname || !path || !*path)
		return kvmon_set_error(EINVAL, "BTF: bad arguments");
	if (find_composite(b->btf, sname, &id) < 0)
		return -1;
	t = btf__type_by_id(b->btf, id);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t nlen = dot ? (size_t)(dot - p) : strlen(p);
		bool bitfield = false;
		__u64 bits;

		if (nlen == 0 || ++depth > MAX_DEPTH)
			return kvmon_set_error(EINVAL, "BTF: bad member path %s", path);
		if (!t || !(btf_is_struct(t) || btf_is_union(t)))
			return kvmon_set_error(EINVAL, "BTF: %s.%s: not a struct",
					       sname, path);
		if (find_member(b->btf, t, p, nlen, 0, &bits, &tid, &bitfield) != 1)
			return kvmon_set_error(ENOENT, "BTF: struct %s has no %s",
					       sname, path);
		if (bitfield || bits % 8)
			return kvmon_set_error(EINVAL, "BTF: %s.%s is a bitfield",
					       sname, path);
		total += bits / 8;
		p += nlen;
		if (*p == '.')
			p++;
		t = resolve(b->btf, tid, &tid);
	}
	*offset = total;
	if (size) {
		__s64 sz = btf__resolve_size(b->btf, tid);

		if (sz < 0)
			return kvmon_set_error(EPROTO, "BTF: %s.%s: no size", sname,
					       path);
		*size = (uint64_t)sz;
	}
	return 0;
}
