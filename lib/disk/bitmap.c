// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dirty ranges of a fleecing view opened with opts.since: the frozen copy
 * of the bitmap is exported as NBD meta context "qemu:dirty-bitmap:NAME"
 * and read with block-status, in chunks, streaming (no memory grows with
 * the disk size or the number of ranges).
 */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <errno.h>
#include <string.h>

/* Per request; QEMU answers with at most one extent list per request. */
#define STATUS_CHUNK (1ull << 30)

struct walk {
	const char *ctx;
	uint64_t next;          /* end of what the server has described */
	uint64_t run_off, run_len;
	kvmon_disk_extent_fn fn;
	void *opaque;
	int stop;
};

static int flush_run(struct walk *w)
{
	int r = 0;

	if (w->run_len && !w->stop)
		r = w->fn(w->opaque, w->run_off, w->run_len);
	w->run_len = 0;
	if (r)
		w->stop = r;
	return r;
}

static int extent_cb(void *user, const char *metacontext, uint64_t offset,
		     uint32_t *entries, size_t nr, int *error)
{
	struct walk *w = user;

	(void)error;
	if (strcmp(metacontext, w->ctx) || offset != w->next)
		return 0; /* another context, or not where we asked: ignored */
	for (size_t i = 0; i + 1 < nr && !w->stop; i += 2) {
		uint64_t len = entries[i];
		bool dirty = entries[i + 1] & 1;

		if (!len)
			break;
		if (dirty && w->run_len && w->run_off + w->run_len == w->next)
			w->run_len += len;
		else if (dirty) {
			flush_run(w);
			w->run_off = w->next;
			w->run_len = len;
		}
		w->next += len;
	}
	return 0;
}

int kvmon_disk_dirty(struct kvmon_disk *d, kvmon_disk_extent_fn fn,
		     void *opaque)
{
	struct walk w = { .fn = fn, .opaque = opaque };

	if (!d || !fn)
		return kvmon_set_error(EINVAL, "dirty ranges: bad arguments");
	if (!d->nbd || !d->dirty_ctx[0])
		return kvmon_set_error(ENODATA, "%s: the view was not opened "
				       "with a baseline bitmap (since)", d->desc);
	w.ctx = d->dirty_ctx;
	while (w.next < d->size && !w.stop) {
		uint64_t want = d->size - w.next, before = w.next;

		if (want > STATUS_CHUNK)
			want = STATUS_CHUNK;
		if (nbd_block_status(d->nbd, want, w.next,
				     (nbd_extent_callback){ .callback = extent_cb,
							    .user_data = &w },
				     0) < 0) {
			int e = nbd_get_errno();

			return kvmon_set_error(e ? e : EIO, "%s: block status: %s",
					       d->desc, nbd_get_error());
		}
		if (w.next <= before)
			return kvmon_set_error(EPROTO, "%s: block status made no "
					       "progress at %llu", d->desc,
					       (unsigned long long)before);
		if (w.next > d->size) /* the server described past the end */
			w.next = d->size;
	}
	if (w.run_len && w.run_off + w.run_len > d->size)
		w.run_len = d->size - w.run_off;
	flush_run(&w);
	return w.stop;
}
