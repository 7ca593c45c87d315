// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * LVM2 physical volumes, read in user space (no device-mapper, no lvm
 * tools): the label ("LABELONE" in one of the first four sectors), the PV
 * header (UUID, data and metadata areas), the metadata area header and
 * its circular buffer, and the text metadata, parsed by a small bounded
 * recursive-descent parser. Linear LVs ("striped" segments with one
 * stripe) on this PV are mapped to disk byte ranges; everything else is
 * listed with the reason it cannot be opened. All of it is hostile.
 */
#define _GNU_SOURCE
#include "disk_internal.h"
#include "lvm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512u
#define LVM_CRC_INIT 0xf597a6cfu
#define MDA_HEADER 512u
#define MAX_STRING 4096u
#define MAX_MDAS 8u

static const char mda_magic[16] = " LVM2 x[5A%r0N*>";

uint32_t kvmon_lvm_crc(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return crc;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ------------------------------------------------------ config parser */

enum ntype { N_SECTION, N_STRING, N_INT, N_ARRAY };

struct node {
	enum ntype type;
	const char *key;    /* section/assignment name (NUL-terminated), or NULL */
	const char *str;    /* N_STRING */
	int64_t num;        /* N_INT */
	int child, next;    /* first child (sections, arrays), next sibling */
};

struct parser {
	const char *p, *end;
	struct node *nodes;
	int nnodes;
	char *arena;        /* decoded strings and keys; never longer than the text */
	size_t used, cap;
	int line;
};

static int perr(struct parser *ps, const char *what)
{
	return kvmon_set_error(EINVAL, "LVM metadata line %d: %s", ps->line,
			       what);
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == '\n') {
			ps->line++;
			ps->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
		} else {
			return;
		}
	}
}

static int new_node(struct parser *ps, enum ntype t, const char *key)
{
	struct node *n;

	if (ps->nnodes >= KVMON_LVM_MAX_NODES)
		return perr(ps, "too many values");
	n = &ps->nodes[ps->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->key = key;
	n->child = n->next = -1;
	return ps->nnodes++;
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '+' ||
	       c == '-';
}

static char *arena_put(struct parser *ps, const char *s, size_t len)
{
	char *r;

	if (len + 1 > ps->cap - ps->used)
		return NULL;
	r = ps->arena + ps->used;
	memcpy(r, s, len);
	r[len] = 0;
	ps->used += len + 1;
	return r;
}

static const char *parse_ident(struct parser *ps)
{
	const char *s = ps->p;

	while (ps->p < ps->end && ident_char(*ps->p))
		ps->p++;
	const char *r;

	if (ps->p == s || ps->p - s > 256) {
		perr(ps, "expected a name");
		return NULL;
	}
	r = arena_put(ps, s, (size_t)(ps->p - s));
	if (!r)
		perr(ps, "out of string space");
	return r;
}

/* "..." with \" and \\ escapes (any other \x stands for x). */
static int parse_string(struct parser *ps, int node)
{
	char *out = ps->arena + ps->used;
	size_t n = 0;

	ps->p++; /* opening quote */
	for (;;) {
		char c;

		if (ps->p >= ps->end)
			return perr(ps, "unterminated string");
		c = *ps->p++;
		if (c == '"')
			break;
		if (c == '\n')
			ps->line++;
		if (c == '\\') {
			if (ps->p >= ps->end)
				return perr(ps, "unterminated string");
			c = *ps->p++;
		}
		if (n >= MAX_STRING || ps->used + n + 1 >= ps->cap)
			return perr(ps, "string too long");
		out[n++] = c;
	}
	out[n] = 0;
	ps->used += n + 1;
	ps->nodes[node].str = out;
	return 0;
}

static int parse_int(struct parser *ps, int node)
{
	bool neg = false;
	uint64_t v = 0;
	int digits = 0;

	if (ps->p < ps->end && *ps->p == '-') {
		neg = true;
		ps->p++;
	}
	while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
		if (v > (UINT64_MAX >> 1) / 10)
			return perr(ps, "number too large");
		v = v * 10 + (uint64_t)(*ps->p++ - '0');
		digits++;
	}
	if (!digits)
		return perr(ps, "expected a value");
	/* Floats occur in lvm.conf, not in metadata; keep the integer part. */
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
			ps->p++;
	}
	ps->nodes[node].num = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int parse_scalar(struct parser *ps, const char *key)
{
	int node;

	if (ps->p < ps->end && *ps->p == '"') {
		node = new_node(ps, N_STRING, key);
		if (node < 0 || parse_string(ps, node) < 0)
			return -1;
		return node;
	}
	node = new_node(ps, N_INT, key);
	if (node < 0 || parse_int(ps, node) < 0)
		return -1;
	return node;
}

static int parse_array(struct parser *ps, const char *key)
{
	int node = new_node(ps, N_ARRAY, key), last = -1;

	if (node < 0)
		return -1;
	ps->p++; /* [ */
	for (;;) {
		int v;

		skip_space(ps);
		if (ps->p >= ps->end)
			return perr(ps, "unterminated array");
		if (*ps->p == ']') {
			ps->p++;
			return node;
		}
		v = parse_scalar(ps, NULL);
		if (v < 0)
			return -1;
		if (last < 0)
			ps->nodes[node].child = v;
		else
			ps->nodes[last].next = v;
		last = v;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',')
			ps->p++;
		else if (ps->p < ps->end && *ps->p != ']')
			return perr(ps, "expected ',' or ']'");
	}
}

/* Items up to '}' (depth > 0) or the end of the text (depth 0). */
static int parse_items(struct parser *ps, int parent, int depth)
{
	int last = -1;

	if (depth > KVMON_LVM_MAX_DEPTH)
		return perr(ps, "sections nested too deeply");
	for (;;) {
		const char *key;
		int item;

		skip_space(ps);
		if (ps->p >= ps->end || *ps->p == 0) {
			if (depth)
				return perr(ps, "missing '}'");
			return 0;
		}
		if (*ps->p == '}') {
			if (!depth)
				return perr(ps, "unexpected '}'");
			ps->p++;
			return 0;
		}
		key = parse_ident(ps);
		if (!key)
			return -1;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == '{') {
			ps->p++;
			item = new_node(ps, N_SECTION, key);
			if (item < 0 || parse_items(ps, item, depth + 1) < 0)
				return -1;
		} else if (ps->p < ps->end && *ps->p == '=') {
			ps->p++;
			skip_space(ps);
			if (ps->p < ps->end && *ps->p == '[')
				item = parse_array(ps, key);
			else
				item = parse_scalar(ps, key);
			if (item < 0)
				return -1;
		} else {
			return perr(ps, "expected '=' or '{'");
		}
		if (last < 0)
			ps->nodes[parent].child = item;
		else
			ps->nodes[last].next = item;
		last = item;
	}
}

static const struct node *find(const struct parser *ps, const struct node *sec,
			       const char *key, enum ntype t)
{
	for (int i = sec->child; i >= 0; i = ps->nodes[i].next)
		if (ps->nodes[i].key && !strcmp(ps->nodes[i].key, key) &&
		    ps->nodes[i].type == t)
			return &ps->nodes[i];
	return NULL;
}

static bool get_u64(const struct parser *ps, const struct node *sec,
		    const char *key, uint64_t *v)
{
	const struct node *n = find(ps, sec, key, N_INT);

	if (!n || n->num < 0)
		return false;
	*v = (uint64_t)n->num;
	return true;
}

static const char *get_str(const struct parser *ps, const struct node *sec,
			   const char *key)
{
	const struct node *n = find(ps, sec, key, N_STRING);

	return n ? n->str : NULL;
}

static bool array_has(const struct parser *ps, const struct node *arr,
		      const char *s)
{
	if (!arr)
		return false;
	for (int i = arr->child; i >= 0; i = ps->nodes[i].next)
		if (ps->nodes[i].type == N_STRING && !strcmp(ps->nodes[i].str, s))
			return true;
	return false;
}

/* ------------------------------------------------------- VG -> LVs */

struct vg {
	const struct parser *ps;
	const struct node *sec;
	const char *name;
	uint64_t extent;     /* bytes */
	const char *pv_key;  /* our PV's key in physical_volumes ("pv0") */
	uint64_t pe_base;    /* disk byte of our PV's extent 0 */
	uint64_t pe_count;
	uint64_t pv_end;     /* disk byte just past our PV */
};

static bool uuid_eq(const char *dashed, const char *plain)
{
	size_t k = 0;

	for (; *dashed; dashed++) {
		if (*dashed == '-')
			continue;
		if (k >= 32 || *dashed != plain[k++])
			return false;
	}
	return k == 32;
}

static int find_pv(struct vg *vg, const char *pv_uuid, uint64_t pv_off,
		   uint64_t pv_size)
{
	const struct parser *ps = vg->ps;
	const struct node *pvs = find(ps, vg->sec, "physical_volumes", N_SECTION);
	uint64_t pe_start;

	if (!pvs)
		return kvmon_set_error(EINVAL, "VG %s: no physical_volumes",
				       vg->name);
	for (int i = pvs->child; i >= 0; i = ps->nodes[i].next) {
		const struct node *pv = &ps->nodes[i];
		const char *id;

		if (pv->type != N_SECTION)
			continue;
		id = get_str(ps, pv, "id");
		if (!id || !uuid_eq(id, pv_uuid))
			continue;
		if (!get_u64(ps, pv, "pe_start", &pe_start) ||
		    !get_u64(ps, pv, "pe_count", &vg->pe_count))
			return kvmon_set_error(EINVAL, "VG %s: PV %s has no "
					       "pe_start/pe_count", vg->name,
					       pv->key);
		if (pe_start > pv_size / SECTOR)
			return kvmon_set_error(EINVAL, "VG %s: pe_start %llu "
					       "is past the PV", vg->name,
					       (unsigned long long)pe_start);
		vg->pv_key = pv->key;
		vg->pe_base = pv_off + pe_start * SECTOR;
		vg->pv_end = pv_off + pv_size;
		return 0;
	}
	return kvmon_set_error(ENOENT, "VG %s: this PV is not in its metadata",
			       vg->name);
}

static void refuse(struct kvmon_lv *lv, const char *type, const char *why)
{
	snprintf(lv->type, sizeof(lv->type), "%s", type);
	if (!lv->why[0])
		snprintf(lv->why, sizeof(lv->why), "%s", why);
}

/* One segment; sets lv->why (and leaves the LV listed) when it cannot be
 * mapped, returns -1 only for malformed metadata. */
static int map_segment(const struct vg *vg, const struct node *s,
		       struct kvmon_lv *lv, uint64_t *next_extent)
{
	const struct parser *ps = vg->ps;
	uint64_t start, count, nstripes, pe, len, pstart, lstart, lend;
	const char *type = get_str(ps, s, "type");
	const struct node *stripes;
	int pvn, pen;

	if (!type || !get_u64(ps, s, "start_extent", &start) ||
	    !get_u64(ps, s, "extent_count", &count))
		return kvmon_set_error(EINVAL, "LV %s: %s lacks type, "
				       "start_extent or extent_count", lv->name,
				       s->key);
	if (start != *next_extent || !count)
		return kvmon_set_error(EINVAL, "LV %s: segments are not "
				       "contiguous", lv->name);
	/* Offsets in the LV must fit too (segments may repeat extents). */
	if (count > vg->pe_count || __builtin_mul_overflow(count, vg->extent, &len) ||
	    __builtin_mul_overflow(start, vg->extent, &lstart) ||
	    __builtin_add_overflow(lstart, len, &lend))
		return kvmon_set_error(EINVAL, "LV %s: %s is larger than the PV",
				       lv->name, s->key);
	*next_extent = start + count;
	if (strcmp(type, "striped")) {
		refuse(lv, type, "segment type not supported (linear only)");
		return 0;
	}
	if (!get_u64(ps, s, "stripe_count", &nstripes) || nstripes != 1) {
		refuse(lv, "striped", "striped over several stripes: not "
		       "supported (linear only)");
		return 0;
	}
	stripes = find(ps, s, "stripes", N_ARRAY);
	pvn = stripes ? stripes->child : -1;
	pen = pvn >= 0 ? ps->nodes[pvn].next : -1;
	if (pvn < 0 || pen < 0 || ps->nodes[pvn].type != N_STRING ||
	    ps->nodes[pen].type != N_INT || ps->nodes[pen].num < 0)
		return kvmon_set_error(EINVAL, "LV %s: %s: bad stripes",
				       lv->name, s->key);
	if (strcmp(ps->nodes[pvn].str, vg->pv_key)) {
		refuse(lv, "linear", "uses another PV (single-PV VGs only)");
		return 0;
	}
	pe = (uint64_t)ps->nodes[pen].num;
	if (pe > vg->pe_count || count > vg->pe_count - pe ||
	    __builtin_mul_overflow(pe, vg->extent, &pstart) ||
	    __builtin_add_overflow(pstart, vg->pe_base, &pstart) ||
	    pstart > vg->pv_end || len > vg->pv_end - pstart)
		return kvmon_set_error(EINVAL, "LV %s: %s lies outside the PV",
				       lv->name, s->key);
	if (lv->nsegs >= KVMON_LVM_MAX_SEGS) {
		refuse(lv, "linear", "more than 256 segments");
		return 0;
	}
	lv->seg[lv->nsegs].lstart = lstart;
	lv->seg[lv->nsegs].pstart = pstart;
	lv->seg[lv->nsegs].len = len;
	lv->nsegs++;
	return 0;
}

static int map_lv(const struct vg *vg, const struct node *l,
		  const struct node *lvs, struct kvmon_lv *lv)
{
	const struct parser *ps = vg->ps;
	uint64_t next = 0, nseg = 0;
	int segs = 0;

	memset(lv, 0, sizeof(*lv) - sizeof(lv->seg));
	snprintf(lv->name, sizeof(lv->name), "%s/%s", vg->name, l->key);
	snprintf(lv->type, sizeof(lv->type), "linear");
	/* A snapshot's COW store looks linear but holds no file system. */
	for (int i = lvs->child; i >= 0; i = ps->nodes[i].next) {
		const char *cow = ps->nodes[i].type == N_SECTION
			? get_str(ps, &ps->nodes[i], "cow_store") : NULL;

		if (cow && !strcmp(cow, l->key))
			refuse(lv, "snapshot", "snapshot exception store");
	}
	get_u64(ps, l, "segment_count", &nseg);
	for (int i = l->child; i >= 0; i = ps->nodes[i].next) {
		const struct node *s = &ps->nodes[i];

		if (s->type != N_SECTION || strncmp(s->key, "segment", 7))
			continue;
		if (map_segment(vg, s, lv, &next) < 0)
			return -1;
		segs++;
	}
	if (!segs || (uint64_t)segs != nseg)
		return kvmon_set_error(EINVAL, "LV %s: segment_count %llu but "
				       "%d segments", lv->name,
				       (unsigned long long)nseg, segs);
	lv->size = next * vg->extent;
	if (lv->why[0])
		lv->nsegs = 0;
	return 0;
}

static int vg_lvs(struct vg *vg, struct kvmon_lv *out, size_t max, size_t *n)
{
	const struct parser *ps = vg->ps;
	const struct node *lvs = find(ps, vg->sec, "logical_volumes", N_SECTION);

	if (!lvs)
		return 0; /* a VG without LVs */
	for (int i = lvs->child; i >= 0; i = ps->nodes[i].next) {
		const struct node *l = &ps->nodes[i];

		if (l->type != N_SECTION ||
		    !array_has(ps, find(ps, l, "status", N_ARRAY), "VISIBLE"))
			continue; /* internal LVs (pool data, raid images) */
		if (strlen(vg->name) + 1 + strlen(l->key) >= sizeof(out->name))
			continue; /* cannot be named in a kvmon_partition */
		if (*n >= max)
			return kvmon_set_error(E2BIG, "more than %zu volumes", max);
		if (map_lv(vg, l, lvs, &out[*n]) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

int kvmon_lvm_parse(const char *text, size_t len, const char *pv_uuid,
		    uint64_t pv_off, uint64_t pv_size, struct kvmon_lv *out,
		    size_t max, size_t *n)
{
	struct parser ps = { .p = text, .end = text + len, .line = 1 };
	struct vg vg = { .ps = &ps };
	uint64_t ext;
	int rc = -1;

	*n = 0;
	if (len > KVMON_LVM_MAX_TEXT)
		return kvmon_set_error(EFBIG, "LVM metadata of %zu bytes is "
				       "too large", len);
	ps.nodes = calloc(KVMON_LVM_MAX_NODES, sizeof(*ps.nodes));
	ps.cap = len + 1;
	ps.arena = malloc(ps.cap);
	if (!ps.nodes || !ps.arena) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto out;
	}
	if (new_node(&ps, N_SECTION, NULL) < 0 || parse_items(&ps, 0, 0) < 0)
		goto out;
	/* The VG is the one top-level section. */
	for (int i = ps.nodes[0].child; i >= 0; i = ps.nodes[i].next)
		if (ps.nodes[i].type == N_SECTION) {
			vg.sec = &ps.nodes[i];
			break;
		}
	if (!vg.sec) {
		kvmon_set_error(EINVAL, "LVM metadata: no volume group");
		goto out;
	}
	vg.name = vg.sec->key;
	if (!get_u64(&ps, vg.sec, "extent_size", &ext) || !ext ||
	    ext > (1ull << 32)) {
		kvmon_set_error(EINVAL, "VG %s: bad extent_size", vg.name);
		goto out;
	}
	vg.extent = ext * SECTOR;
	if (find_pv(&vg, pv_uuid, pv_off, pv_size) < 0 ||
	    vg_lvs(&vg, out, max, n) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		*n = 0;
	free(ps.nodes);
	free(ps.arena);
	return rc;
}

/* --------------------------------------------------------- on disk */

struct pvinfo {
	char uuid[33];
	uint64_t mda_off[MAX_MDAS], mda_size[MAX_MDAS]; /* relative to the PV */
	unsigned nmda;
};

/* Label in one of sectors 0..3, then the PV header: 1 found, 0 none. */
static int read_label(struct kvmon_disk *d, uint64_t pv_off, uint64_t pv_size,
		      struct pvinfo *pv)
{
	uint8_t s[SECTOR];

	for (unsigned sec = 0; sec < 4; sec++) {
		uint32_t off, k;

		if ((uint64_t)(sec + 1) * SECTOR > pv_size ||
		    kvmon_disk_read(d, pv_off + sec * SECTOR, s, SECTOR) < 0)
			return 0;
		if (memcmp(s, "LABELONE", 8))
			continue;
		if (le64(s + 8) != sec ||
		    kvmon_lvm_crc(LVM_CRC_INIT, s + 20, SECTOR - 20) != le32(s + 16))
			return kvmon_set_error(EINVAL, "LVM label: bad "
					       "checksum");
		if (memcmp(s + 24, "LVM2 001", 8))
			return kvmon_set_error(EINVAL, "LVM label: type is not "
					       "LVM2 001");
		off = le32(s + 20);
		if (off < 32 || off > SECTOR - 40)
			return kvmon_set_error(EINVAL, "LVM label: bad header "
					       "offset");
		memcpy(pv->uuid, s + off, 32);
		pv->uuid[32] = 0;
		k = off + 40; /* uuid, device size */
		/* Data areas, a zero entry, metadata areas, a zero entry. */
		while (k + 16 <= SECTOR && le64(s + k))
			k += 16;
		k += 16;
		pv->nmda = 0;
		while (k + 16 <= SECTOR && le64(s + k) && pv->nmda < MAX_MDAS) {
			pv->mda_off[pv->nmda] = le64(s + k);
			pv->mda_size[pv->nmda++] = le64(s + k + 8);
			k += 16;
		}
		return 1;
	}
	return 0;
}

/* The committed metadata text of one area (circular buffer). */
static char *read_mda(struct kvmon_disk *d, uint64_t pv_off, uint64_t pv_size,
		      uint64_t moff, uint64_t msize, size_t *len)
{
	uint8_t h[MDA_HEADER];
	uint64_t off, size, first;
	uint32_t crc;
	char *text;

	if (msize < 2 * MDA_HEADER || moff > pv_size || msize > pv_size - moff)
		return kvmon_set_error(EINVAL, "LVM metadata area outside "
				       "the PV"), NULL;
	if (kvmon_disk_read(d, pv_off + moff, h, MDA_HEADER) < 0)
		return NULL;
	if (memcmp(h + 4, mda_magic, 16) || le32(h + 20) != 1 ||
	    kvmon_lvm_crc(LVM_CRC_INIT, h + 4, MDA_HEADER - 4) != le32(h))
		return kvmon_set_error(EINVAL, "LVM metadata area header: "
				       "bad magic, version or checksum"), NULL;
	if (le64(h + 24) != moff || le64(h + 32) != msize)
		return kvmon_set_error(EINVAL, "LVM metadata area header: "
				       "wrong location"), NULL;
	/* raw_locn[0]: the committed copy. */
	off = le64(h + 40);
	size = le64(h + 48);
	crc = le32(h + 56);
	if (le32(h + 60) & 1)
		return kvmon_set_error(ENOENT, "LVM metadata area ignored"),
		       NULL;
	if (!size || size > KVMON_LVM_MAX_TEXT || off < MDA_HEADER ||
	    off >= msize || size > msize - MDA_HEADER)
		return kvmon_set_error(EINVAL, "LVM metadata: bad location "
				       "%llu+%llu", (unsigned long long)off,
				       (unsigned long long)size), NULL;
	text = malloc(size + 1);
	if (!text)
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	/* Wrapped: the rest continues just after the area header. */
	first = size > msize - off ? msize - off : size;
	if (kvmon_disk_read(d, pv_off + moff + off, text, first) < 0 ||
	    (first < size &&
	     kvmon_disk_read(d, pv_off + moff + MDA_HEADER, text + first,
			     size - first) < 0))
		goto fail;
	if (kvmon_lvm_crc(LVM_CRC_INIT, text, size) != crc) {
		kvmon_set_error(EINVAL, "LVM metadata: bad checksum");
		goto fail;
	}
	text[size] = 0;
	*len = strnlen(text, size);
	return text;
fail:
	free(text);
	return NULL;
}

int kvmon_lvm_scan(struct kvmon_disk *d, uint64_t pv_off, uint64_t pv_size,
		   struct kvmon_lv *out, size_t max, size_t *n)
{
	struct pvinfo pv;
	int rc = read_label(d, pv_off, pv_size, &pv);

	*n = 0;
	if (rc <= 0)
		return rc;
	if (!pv.nmda)
		return kvmon_set_error(ENOENT, "LVM PV %s has no metadata area",
				       pv.uuid);
	/* The first area that reads and parses wins (a second copy may sit
	 * at the end of the PV). */
	for (unsigned i = 0; i < pv.nmda; i++) {
		size_t len;
		char *text = read_mda(d, pv_off, pv_size, pv.mda_off[i],
				      pv.mda_size[i], &len);

		if (!text)
			continue;
		rc = kvmon_lvm_parse(text, len, pv.uuid, pv_off, pv_size, out,
				     max, n);
		free(text);
		if (rc == 0)
			return 0;
	}
	kvmon_error_prefix("LVM PV %s", pv.uuid);
	return -1;
}
