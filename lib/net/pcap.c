// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pcap writer (classic format, LINKTYPE_ETHERNET, microseconds) so any
 * libpcap tool reads the mirror: a file, a stream ("-", FIFO), or rotating
 * files by size and/or age.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCAP_SNAPLEN 262144u
#define BUFSZ (256u << 10)

struct kvmon_pcap {
	char path[PATH_MAX];
	int fd;
	bool own_fd;
	uint64_t rotate_bytes;
	unsigned rotate_s;
	uint64_t file_bytes, file_start_ns, files;
	size_t used;
	uint8_t buf[BUFSZ];
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return kvmon_set_error(errno ? errno : EIO, "pcap write: %s",
					       strerror(errno ? errno : EIO));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int kvmon_pcap_flush(struct kvmon_pcap *p)
{
	int rc = write_all(p->fd, p->buf, p->used);

	p->used = 0;
	return rc;
}

static int put(struct kvmon_pcap *p, const void *data, size_t n)
{
	if (p->used + n > sizeof(p->buf) && kvmon_pcap_flush(p) < 0)
		return -1;
	if (n > sizeof(p->buf))
		return write_all(p->fd, data, n);
	memcpy(p->buf + p->used, data, n);
	p->used += n;
	p->file_bytes += n;
	return 0;
}

static int global_header(struct kvmon_pcap *p)
{
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} h = { 0xa1b2c3d4, 2, 4, 0, 0, PCAP_SNAPLEN, 1 };

	p->file_bytes = 0;
	return put(p, &h, sizeof(h));
}

static int open_next(struct kvmon_pcap *p)
{
	char name[PATH_MAX + 16];
	bool rotating = p->rotate_bytes || p->rotate_s;

	if (rotating)
		snprintf(name, sizeof(name), "%s.%06llu", p->path,
			 (unsigned long long)p->files);
	else
		snprintf(name, sizeof(name), "%s", p->path);
	/* No O_TRUNC on FIFOs matters not; O_NOFOLLOW keeps us off symlinks. */
	p->fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (p->fd < 0)
		return kvmon_set_error(errno, "%s: %s", name, strerror(errno));
	p->files++;
	p->file_start_ns = 0;
	return global_header(p);
}

struct kvmon_pcap *kvmon_pcap_open(const char *path, uint64_t rotate_bytes,
				   unsigned rotate_seconds)
{
	struct kvmon_pcap *p;

	if (!path || !*path) {
		kvmon_set_error(EINVAL, "no pcap path");
		return NULL;
	}
	if (!strcmp(path, "-"))
		return kvmon_pcap_fdopen(STDOUT_FILENO);
	p = calloc(1, sizeof(*p));
	if (!p) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	if (kvmon_strlcpy(p->path, path, sizeof(p->path)) < 0) {
		kvmon_set_error(ENAMETOOLONG, "pcap path too long");
		free(p);
		return NULL;
	}
	p->own_fd = true;
	p->rotate_bytes = rotate_bytes;
	p->rotate_s = rotate_seconds;
	if (open_next(p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

struct kvmon_pcap *kvmon_pcap_fdopen(int fd)
{
	struct kvmon_pcap *p = calloc(1, sizeof(*p));

	if (!p) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	p->fd = fd;
	p->files = 1;
	if (global_header(p) < 0 || kvmon_pcap_flush(p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

int kvmon_pcap_write(struct kvmon_pcap *p, uint64_t ts_ns, const uint8_t *frame,
		     size_t len)
{
	uint32_t rec[4];

	if (len > PCAP_SNAPLEN)
		len = PCAP_SNAPLEN;
	if (p->own_fd && p->file_start_ns == 0)
		p->file_start_ns = ts_ns;
	if (p->own_fd && p->file_bytes > 24 &&
	    ((p->rotate_bytes && p->file_bytes + 16 + len > p->rotate_bytes) ||
	     (p->rotate_s && ts_ns - p->file_start_ns >= p->rotate_s * 1000000000ull))) {
		if (kvmon_pcap_flush(p) < 0)
			return -1;
		close(p->fd);
		p->fd = -1;
		if (open_next(p) < 0)
			return -1;
		p->file_start_ns = ts_ns;
	}
	rec[0] = (uint32_t)(ts_ns / 1000000000u);
	rec[1] = (uint32_t)(ts_ns % 1000000000u / 1000u);
	rec[2] = rec[3] = (uint32_t)len;
	if (put(p, rec, sizeof(rec)) < 0)
		return -1;
	return put(p, frame, len);
}

uint64_t kvmon_pcap_files(const struct kvmon_pcap *p)
{
	return p->files;
}

int kvmon_pcap_close(struct kvmon_pcap *p)
{
	int rc;

	if (!p)
		return 0;
	rc = p->fd >= 0 ? kvmon_pcap_flush(p) : 0;
	if (p->own_fd && p->fd >= 0 && close(p->fd) < 0)
		rc = -1;
	free(p);
	return rc;
}
