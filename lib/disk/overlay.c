// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * An empty qcow2 (version 3) image written directly, for the fleecing
 * overlay: exec'ing `qemu-img create` for it cost more than all the QMP
 * steps of a fleecing set-up together. Layout, in 64 KiB clusters:
 *   0 header, 1 refcount table, 2 refcount block (16-bit refcounts),
 *   3.. L1 table (all zero: nothing allocated).
 * No backing file is named in the image; the fleecing node gets its
 * backing from blockdev-add. QEMU allocates clusters and extends the
 * refcount structures itself when copy-before-write fills the overlay.
 */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLUSTER_BITS 16u
#define CLUSTER (1u << CLUSTER_BITS)
#define L2_COVERS ((uint64_t)CLUSTER / 8 * CLUSTER) /* one L1 entry: 512 MiB */
#define MAX_L1_CLUSTERS 256u  /* 8,192 TiB: far beyond any real disk */

static void be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

/* The header, refcount table and refcount block: the first 3 clusters. */
static void fill_meta(uint8_t *m, uint64_t size, uint32_t l1_size,
		      uint32_t l1_clusters)
{
	uint8_t *h = m, *rt = m + CLUSTER, *rb = m + 2 * CLUSTER;

	be32(h + 0, 0x514649fbu);              /* "QFI\xfb" */
	be32(h + 4, 3);                        /* version */
	be32(h + 20, CLUSTER_BITS);
	be64(h + 24, size);
	be32(h + 36, l1_size);
	be64(h + 40, 3ull * CLUSTER);          /* L1 table */
	be64(h + 48, 1ull * CLUSTER);          /* refcount table */
	be32(h + 56, 1);                       /* refcount table clusters */
	be32(h + 96, 4);                       /* refcount order: 16 bits */
	be32(h + 100, 104);                    /* header length */
	/* h + 104: header extension "end" (type 0, length 0), zeros */
	be64(rt, 2ull * CLUSTER);              /* refcount block 0 */
	for (uint32_t c = 0; c < 3 + l1_clusters; c++) {
		rb[2 * c] = 0;
		rb[2 * c + 1] = 1;             /* every metadata cluster: 1 */
	}
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int kvmon_overlay_create(const char *path, uint64_t size)
{
	/* no overflow for any size: divide first */
	uint64_t l1 = size / L2_COVERS + (size % L2_COVERS || !size);
	uint32_t l1_clusters = (uint32_t)((l1 * 8 + CLUSTER - 1) / CLUSTER);
	uint8_t *meta;
	int fd, rc = 0;

	if (!path || size % 512 || l1_clusters > MAX_L1_CLUSTERS)
		return kvmon_set_error(EINVAL, "overlay: unsupported size %llu",
				       (unsigned long long)size);
	meta = calloc(3, CLUSTER);
	if (!meta)
		return kvmon_set_error(ENOMEM, "out of memory");
	fill_meta(meta, size, (uint32_t)l1, l1_clusters);
	unlink(path); /* a fresh file every time, never one left behind */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(meta);
		return kvmon_set_error(errno, "%s: %s", path, strerror(errno));
	}
	/* The zero L1 table is the file's sparse tail. */
	if (write_all(fd, meta, 3ull * CLUSTER) < 0 ||
	    ftruncate(fd, (off_t)(3 + l1_clusters) * CLUSTER) < 0)
		rc = kvmon_set_error(errno ? errno : EIO, "%s: %s", path,
				     strerror(errno ? errno : EIO));
	if (close(fd) < 0 && rc == 0)
		rc = kvmon_set_error(errno, "%s: %s", path, strerror(errno));
	free(meta);
	if (rc < 0)
		unlink(path);
	return rc;
}
