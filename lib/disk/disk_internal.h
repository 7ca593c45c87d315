/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal pieces of lib/disk/ shared between its files; not installed. */
#ifndef KVMON_DISK_INTERNAL_H
#define KVMON_DISK_INTERNAL_H

#include "internal.h"

#include <libnbd.h>
#include <pthread.h>

struct kvmon_fleece;
struct kvmon_vseg;

/* NBD connections per disk (nbdpool.c): default, and upper bound for
 * KVMON_NBD_CONNECTIONS. */
#define KVMON_NBD_CONNS 4u
#define KVMON_NBD_MAXCONN 16u

/*
 * One read-only disk: an NBD connection (fleecing export of a running VM,
 * or a qemu-nbd child serving an image at rest), or a raw file / memory
 * buffer read directly (tests, fuzzing, raw images).
 */
struct kvmon_disk {
	struct nbd_handle *nbd;
	int fd;                 /* raw file, or -1 */
	const uint8_t *mem;     /* memory image (not owned), or NULL */
	uint64_t size;
	struct kvmon_fleece *fleece; /* export to tear down on close */
	struct kvmon_disk *base;     /* volume view: reads map to base (volume.c) */
	struct kvmon_vseg *segs;     /* sorted by lstart, contiguous from 0 */
	size_t nsegs;
	unsigned sector_size;   /* 0: not known yet (512 assumed); part.c */
	unsigned sector_set;    /* set explicitly: no detection */
	char dirty_ctx[160];    /* "qemu:dirty-bitmap:NAME" or "" */
	char desc[256];         /* for messages */
	/* Connection pool (nbdpool.c): conn[0] is nbd (the primary, which
	 * keeps the meta contexts); reads take any free one. */
	struct nbd_handle *conn[KVMON_NBD_MAXCONN];
	unsigned nconn;         /* 0 or 1: reads use nbd directly */
	unsigned busy;          /* bit i: conn[i] in use; under lock */
	unsigned peak;          /* most in use at once (tests); under lock */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	pid_t child;            /* our qemu-nbd (image at rest), or 0 */
	int child_err;          /* its stderr, or -1 */
};

/* disk.c: libnbd's error as ours; after the primary handle connected,
 * d->size from the export and its read-only flag checked. */
int kvmon_nbd_fail(const char *what);
int kvmon_nbd_finish(struct kvmon_disk *d);

/* nbdpool.c */
unsigned kvmon_pool_size(void);
/* Serve the image with qemu-nbd (our child) and connect up to n handles;
 * d->nbd and d->size set on success (kvmon_nbd_finish). */
int kvmon_pool_open_image(struct kvmon_disk *d, const char *abs,
			  const char *format, unsigned n);
/* Add handles to d->nbd's export until n or the server refuses. */
void kvmon_pool_extend(struct kvmon_disk *d, unsigned n, const char *sock,
		       const char *export);
struct nbd_handle *kvmon_pool_take(struct kvmon_disk *d, unsigned *slot);
void kvmon_pool_give(struct kvmon_disk *d, unsigned slot);
/* Close every handle (the primary too) and reap the child. */
void kvmon_pool_close(struct kvmon_disk *d);

/* fleece.c: export a running VM's disk (point in time) on a unix socket. */
struct kvmon_fleece *kvmon_fleece_start(struct kvmon_vm *vm, const char *node,
					const char *workdir, const char *track,
					const char *since, uint32_t granularity);
/* The exported temporary copy of opts.since (NULL if none); the disk node. */
const char *kvmon_fleece_bitmap(const struct kvmon_fleece *f);
const char *kvmon_fleece_node(const struct kvmon_fleece *f);
/* The bitmap opts.track created (NULL if none). */
const char *kvmon_fleece_track(const struct kvmon_fleece *f);
/* Granularity in bytes of the track bitmap, else of since; 0 unknown. */
uint32_t kvmon_fleece_granularity(const struct kvmon_fleece *f);
const char *kvmon_fleece_socket(const struct kvmon_fleece *f);
const char *kvmon_fleece_export_name(const struct kvmon_fleece *f);
/* Remove everything the export created (export, job, node, server, files). */
int kvmon_fleece_stop(struct kvmon_fleece *f);

/* overlay.c: a fresh empty qcow2 of size bytes at path (no backing file
 * named); EINVAL if size is not a multiple of 512 or absurdly large. */
int kvmon_overlay_create(const char *path, uint64_t size);

/* Run a helper program quietly; stderr goes to the error message on failure. */
int kvmon_disk_run(char *const argv[]);

/* volume.c: read from a volume view (bounds already checked). */
int kvmon_volume_read(struct kvmon_disk *d, uint64_t off, void *buf,
		      size_t len);

/* Memory-backed disk over buf (not copied; must outlive the disk). */
struct kvmon_disk *kvmon_disk_open_mem(const void *buf, size_t len);

#endif
