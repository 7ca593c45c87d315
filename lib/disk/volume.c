// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Volumes: partitions plus the LVM2 logical volumes found on the whole
 * disk or in any partition, and a read-only view of one volume as a disk
 * of its own. A multi-segment LV is not one contiguous range, so the view
 * maps its offsets through a sorted segment list; file systems open on it
 * unchanged (kvmon_fs_open(view, 0, 0)).
 */
#define _GNU_SOURCE
#include "disk_internal.h"
#include "lvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kvmon_volume_read(struct kvmon_disk *d, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t lo = 0, hi = d->nsegs;

	/* Last segment starting at or before off (segments are contiguous). */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->segs[mid].lstart <= off)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo; len && i < d->nsegs; i++) {
		const struct kvmon_vseg *s = &d->segs[i];
		uint64_t in = off - s->lstart;
		size_t n = s->len - in < len ? (size_t)(s->len - in) : len;

		if (kvmon_disk_read(d->base, s->pstart + in, p, n) < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return len ? kvmon_set_error(EIO, "%s: read past the volume", d->desc)
		   : 0;
}

/* LVs on the whole disk (no table) or in each partition, appended. */
static int scan_lvs(struct kvmon_disk *d, const struct kvmon_partition *p,
		    size_t np, struct kvmon_lv *lv, size_t max, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i <= np; i++) {
		uint64_t off = i < np ? p[i].start : 0;
		uint64_t size = i < np ? p[i].size : kvmon_disk_size(d);
		size_t got = 0;

		if (i == np && np)
			break; /* a partitioned disk is no PV itself */
		if (kvmon_lvm_scan(d, off, size, lv + *n, max - *n, &got) < 0) {
			if (i < np)
				kvmon_error_prefix("partition %u", p[i].index);
			return -1;
		}
		*n += got;
	}
	return 0;
}

static int volumes(struct kvmon_disk *d, struct kvmon_partition *out,
		   size_t max, size_t *count, struct kvmon_lv **lvs, size_t *nlv)
{
	size_t np = 0;

	*lvs = NULL;
	*nlv = 0;
	if (kvmon_disk_partitions(d, out, max, &np) < 0)
		return -1;
	*count = np;
	*lvs = calloc(KVMON_MAX_PARTITIONS, sizeof(**lvs));
	if (!*lvs)
		return kvmon_set_error(ENOMEM, "out of memory");
	if (scan_lvs(d, out, np, *lvs, KVMON_MAX_PARTITIONS, nlv) < 0)
		return -1;
	for (size_t i = 0; i < *nlv; i++) {
		struct kvmon_partition *v;
		const struct kvmon_lv *l = &(*lvs)[i];

		if (*count >= max)
			return kvmon_set_error(E2BIG, "more than %zu volumes",
					       max);
		v = &out[(*count)++];
		memset(v, 0, sizeof(*v));
		v->index = 0;
		v->start = l->nsegs ? l->seg[0].pstart : 0;
		v->size = l->size;
		snprintf(v->scheme, sizeof(v->scheme), "lvm");
		snprintf(v->type, sizeof(v->type), "%s", l->type);
		snprintf(v->name, sizeof(v->name), "%s", l->name);
	}
	return 0;
}

int kvmon_disk_volumes(struct kvmon_disk *d, struct kvmon_partition *out,
		       size_t max, size_t *count)
{
	struct kvmon_lv *lvs;
	size_t nlv;
	int rc;

	if (!d || !count || (!out && max))
		return kvmon_set_error(EINVAL, "volumes: bad arguments");
	*count = 0;
	rc = volumes(d, out, max, count, &lvs, &nlv);
	free(lvs);
	if (rc < 0)
		*count = 0;
	return rc;
}

static struct kvmon_disk *view(struct kvmon_disk *base, const char *name,
			       const struct kvmon_vseg *segs, size_t n,
			       uint64_t size)
{
	struct kvmon_disk *v = calloc(1, sizeof(*v));

	if (!v || !(v->segs = calloc(n, sizeof(*segs)))) {
		free(v);
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	}
	memcpy(v->segs, segs, n * sizeof(*segs));
	v->nsegs = n;
	v->fd = -1;
	v->base = base;
	v->size = size;
	snprintf(v->desc, sizeof(v->desc), "%.150s:%.100s", base->desc, name);
	return v;
}

struct kvmon_disk *kvmon_disk_open_volume(struct kvmon_disk *d,
					  const char *name)
{
	struct kvmon_partition *p = NULL;
	struct kvmon_disk *v = NULL;
	struct kvmon_lv *lvs = NULL;
	size_t n = 0, nlv = 0;

	if (!d || !name || !*name)
		return kvmon_set_error(EINVAL, "open volume: bad arguments"),
		       NULL;
	p = calloc(2 * KVMON_MAX_PARTITIONS, sizeof(*p));
	if (!p)
		return kvmon_set_error(ENOMEM, "out of memory"), NULL;
	if (volumes(d, p, 2 * KVMON_MAX_PARTITIONS, &n, &lvs, &nlv) < 0)
		goto out;
	for (size_t i = 0; i < nlv; i++) {
		const struct kvmon_lv *l = &lvs[i];

		if (strcmp(l->name, name))
			continue;
		if (l->why[0])
			kvmon_set_error(ENOTSUP, "volume %s (%s): %s", name,
					l->type, l->why);
		else
			v = view(d, name, l->seg, l->nsegs, l->size);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char num[16];
		struct kvmon_vseg s = { 0, p[i].start, p[i].size };

		snprintf(num, sizeof(num), "%u", p[i].index);
		if (strcmp(p[i].scheme, "lvm") && !strcmp(num, name)) {
			v = view(d, name, &s, 1, p[i].size);
			goto out;
		}
	}
	kvmon_set_error(ENOENT, "no volume %s", name);
out:
	free(lvs);
	free(p);
	return v;
}
