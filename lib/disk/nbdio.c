// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A libext2fs io_manager over a kvmon_disk (NBD or raw file) and a byte
 * window of it (a partition). Read-only by construction: every write
 * entry point fails with EROFS. libext2fs reads metadata a block at a
 * time, which over NBD is one round trip each; a small cache of 64 KiB
 * chunks turns that into a few large reads.
 */
#define _GNU_SOURCE
#include "disk_internal.h"
#include "nbdio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SHIFT 16
#define CHUNK (1u << CHUNK_SHIFT)
#define CACHE_SLOTS 256 /* 16 MiB */

struct slot {
	uint64_t chunk; /* chunk number + 1; 0 = empty */
	uint8_t *data;
	size_t len;
};

struct nbdio {
	struct kvmon_disk *disk;
	uint64_t base, size;
	struct struct_io_stats stats;
	struct slot cache[CACHE_SLOTS];
};

/* Handed from kvmon_nbdio_open() to the manager's open() in this thread:
 * libext2fs only passes a name string through. */
static __thread struct nbdio *pending;

static errcode_t nio_close(io_channel ch)
{
	struct nbdio *n;

	if (--ch->refcount > 0)
		return 0;
	n = ch->private_data;
	if (n)
		for (size_t i = 0; i < CACHE_SLOTS; i++)
			free(n->cache[i].data);
	free(n);
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t nio_set_blksize(io_channel ch, int blksize)
{
	if (blksize <= 0 || blksize > 65536)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	return 0;
}

/* Copy [off, off+len) of the window through the chunk cache. */
static errcode_t cached_read(struct nbdio *n, uint64_t off, uint8_t *dst,
			     size_t len)
{
	while (len) {
		uint64_t c = off >> CHUNK_SHIFT;
		struct slot *s = &n->cache[c % CACHE_SLOTS];
		size_t in = (size_t)(off & (CHUNK - 1)), take;

		if (s->chunk != c + 1) {
			uint64_t start = c << CHUNK_SHIFT;
			size_t want = n->size - start < CHUNK
					      ? (size_t)(n->size - start) : CHUNK;

			if (!s->data && !(s->data = malloc(CHUNK)))
				return EXT2_ET_NO_MEMORY;
			s->chunk = 0;
			if (kvmon_disk_read(n->disk, n->base + start, s->data,
					    want) < 0)
				return EIO;
			s->chunk = c + 1;
			s->len = want;
		}
		if (in >= s->len)
			return EXT2_ET_SHORT_READ;
		take = s->len - in < len ? s->len - in : len;
		memcpy(dst, s->data + in, take);
		dst += take;
		off += take;
		len -= take;
	}
	return 0;
}

static errcode_t nio_read_blk64(io_channel ch, unsigned long long block,
				int count, void *data)
{
	struct nbdio *n = ch->private_data;
	uint64_t off, len;
	errcode_t err;

	len = count < 0 ? (uint64_t)(-(int64_t)count)
			: (uint64_t)count * (uint64_t)ch->block_size;
	/* Hostile block numbers: no overflow, nothing outside the window. */
	if (block > UINT64_MAX / (uint64_t)ch->block_size)
		return EXT2_ET_LLSEEK_FAILED;
	off = block * (uint64_t)ch->block_size;
	if (off > n->size || len > n->size - off)
		return EXT2_ET_SHORT_READ;
	if (len > (64u << 20))
		return EXT2_ET_INVALID_ARGUMENT;
	err = cached_read(n, off, data, len);
	if (!err)
		n->stats.bytes_read += len;
	return err;
}

static errcode_t nio_read_blk(io_channel ch, unsigned long block, int count,
			      void *data)
{
	return nio_read_blk64(ch, block, count, data);
}

static errcode_t nio_write_blk(io_channel ch, unsigned long block, int count,
			       const void *data)
{
	(void)ch, (void)block, (void)count, (void)data;
	return EROFS;
}

static errcode_t nio_write_blk64(io_channel ch, unsigned long long block,
				 int count, const void *data)
{
	(void)ch, (void)block, (void)count, (void)data;
	return EROFS;
}

static errcode_t nio_write_byte(io_channel ch, unsigned long offset, int count,
				const void *data)
{
	(void)ch, (void)offset, (void)count, (void)data;
	return EROFS;
}

static errcode_t nio_discard(io_channel ch, unsigned long long block,
			     unsigned long long count)
{
	(void)ch, (void)block, (void)count;
	return EROFS;
}

static errcode_t nio_flush(io_channel ch)
{
	(void)ch;
	return 0;
}

static errcode_t nio_set_option(io_channel ch, const char *opt, const char *arg)
{
	(void)ch, (void)opt, (void)arg;
	return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t nio_get_stats(io_channel ch, io_stats *stats)
{
	struct nbdio *n = ch->private_data;

	if (stats)
		*stats = &n->stats;
	return 0;
}

static errcode_t nio_readahead(io_channel ch, unsigned long long block,
			       unsigned long long count)
{
	(void)ch, (void)block, (void)count;
	return 0;
}

static errcode_t nio_open(const char *name, int flags, io_channel *out);

static struct struct_io_manager nbdio_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "kvmon read-only disk I/O manager",
	.open = nio_open,
	.close = nio_close,
	.set_blksize = nio_set_blksize,
	.read_blk = nio_read_blk,
	.write_blk = nio_write_blk,
	.flush = nio_flush,
	.write_byte = nio_write_byte,
	.set_option = nio_set_option,
	.get_stats = nio_get_stats,
	.read_blk64 = nio_read_blk64,
	.write_blk64 = nio_write_blk64,
	.discard = nio_discard,
	.cache_readahead = nio_readahead,
	.zeroout = nio_discard,
};

io_manager kvmon_nbdio_manager = &nbdio_manager;

static errcode_t nio_open(const char *name, int flags, io_channel *out)
{
	io_channel ch;

	if (!pending)
		return EXT2_ET_BAD_DEVICE_NAME;
	if (flags & IO_FLAG_RW)
		return EROFS;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return EXT2_ET_NO_MEMORY;
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = kvmon_nbdio_manager;
	ch->name = strdup(name ? name : "kvmon");
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = pending;
	pending->stats.num_fields = 2;
	pending = NULL;
	if (!ch->name) {
		nio_close(ch);
		return EXT2_ET_NO_MEMORY;
	}
	*out = ch;
	return 0;
}

int kvmon_nbdio_prepare(struct kvmon_disk *d, uint64_t base, uint64_t size)
{
	struct nbdio *n;
	uint64_t dsz = kvmon_disk_size(d);

	if (base > dsz)
		return kvmon_set_error(EINVAL, "file system offset past the disk");
	if (!size || size > dsz - base)
		size = dsz - base;
	n = calloc(1, sizeof(*n));
	if (!n)
		return kvmon_set_error(ENOMEM, "out of memory");
	n->disk = d;
	n->base = base;
	n->size = size;
	free(pending);
	pending = n;
	return 0;
}

void kvmon_nbdio_unprepare(void)
{
	free(pending);
	pending = NULL;
}
