// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The read-only disk handle: an NBD connection (fleecing export of a
 * running VM, or a qemu-nbd child serving an image at rest) or a raw file
 * read with pread. Nothing here can write: NBD exports are read-only on
 * the server side and files are opened O_RDONLY.
 */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Largest single NBD request we send (QEMU accepts 32 MiB). */
#define NBD_CHUNK (4u << 20)

int kvmon_disk_run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	char errbuf[512];
	int pfd[2], status, rc;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return kvmon_set_error(errno, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		return kvmon_set_error(rc, "cannot run %s: %s", argv[0],
				       strerror(rc));
	}
	/* Keep the first bytes of stderr for the message; drain the rest. */
	for (;;) {
		char junk[256];

		if (len < sizeof(errbuf) - 1)
			n = read(pfd[0], errbuf + len, sizeof(errbuf) - 1 - len);
		else
			n = read(pfd[0], junk, sizeof(junk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < sizeof(errbuf) - 1)
			len += (size_t)n;
	}
	close(pfd[0]);
	errbuf[len] = 0;
	while (len && (errbuf[len - 1] == '\n' || errbuf[len - 1] == ' '))
		errbuf[--len] = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kvmon_set_error(errno, "waitpid: %s",
					       strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return kvmon_set_error(EIO, "%s failed: %s", argv[0],
				       len ? errbuf : "(no message)");
	return 0;
}

static struct kvmon_disk *disk_new(const char *desc)
{
	struct kvmon_disk *d = calloc(1, sizeof(*d));

	if (!d) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	d->fd = -1;
	d->child_err = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cv, NULL);
	snprintf(d->desc, sizeof(d->desc), "%s", desc);
	return d;
}

/*
 * QEMU's image locking (block/file-posix.c), as qemu-nbd --read-only does
 * it: OFD locks on byte 100 + permission bit ("I use it") and 200 + bit
 * ("I do not share it"). A running QEMU that writes the image holds 101
 * (write); we refuse then, as qemu-nbd would, since the image changes under
 * us (a running VM is read through its fleecing export). We hold 100
 * (consistent read) and 201 (write not shared), so a QEMU started later
 * cannot open it for writing while we read.
 */
#define QEMU_LOCK_PERM_BASE 100
#define QEMU_LOCK_SHARED_BASE 200
#define QEMU_PERM_WRITE_BIT 1

static int qemu_lock_byte(int fd, int cmd, short type, off_t byte, short *got)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte,
			    .l_len = 1 };

	if (fcntl(fd, cmd, &fl) < 0)
		return -1;
	if (got)
		*got = fl.l_type;
	return 0;
}

static int qemu_image_lock(int fd, const char *path)
{
	short held = F_UNLCK;

	if (qemu_lock_byte(fd, F_OFD_GETLK, F_WRLCK,
			   QEMU_LOCK_PERM_BASE + QEMU_PERM_WRITE_BIT, &held) < 0)
		return 0; /* no OFD locks here (old kernel, some network fs) */
	if (held != F_UNLCK)
		return kvmon_set_error(EBUSY, "%s is open for writing (a running "
				       "QEMU?): read a running VM through its "
				       "export instead", path);
	if (qemu_lock_byte(fd, F_OFD_SETLK, F_RDLCK, QEMU_LOCK_PERM_BASE, NULL) < 0 ||
	    qemu_lock_byte(fd, F_OFD_SETLK, F_RDLCK,
			   QEMU_LOCK_SHARED_BASE + QEMU_PERM_WRITE_BIT, NULL) < 0)
		return kvmon_set_error(EBUSY, "%s: cannot lock against writers: %s",
				       path, strerror(errno));
	return 0;
}

struct kvmon_disk *kvmon_disk_open_raw(const char *path)
{
	struct kvmon_disk *d;
	struct stat st;

	if (!path)
		return kvmon_set_error(EINVAL, "no image path"), NULL;
	d = disk_new(path);
	if (!d)
		return NULL;
	d->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0 || fstat(d->fd, &st) < 0) {
		kvmon_set_error(errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) &&
	    qemu_image_lock(d->fd, path) < 0)
		goto fail;
	if (S_ISREG(st.st_mode)) {
		d->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		uint64_t sz = 0;
		int ss = 0;

		if (ioctl(d->fd, BLKGETSIZE64, &sz) < 0) {
			kvmon_set_error(errno, "%s: size: %s", path,
					strerror(errno));
			goto fail;
		}
		d->size = sz;
		/* A 4Kn device says so; MBRs on it count 4096-byte LBAs. */
		if (ioctl(d->fd, BLKSSZGET, &ss) == 0 && ss == 4096)
			d->sector_size = 4096;
	} else {
		kvmon_set_error(EINVAL, "%s: not a file or block device", path);
		goto fail;
	}
	return d;
fail:
	kvmon_disk_close(d);
	return NULL;
}

struct kvmon_disk *kvmon_disk_open_mem(const void *buf, size_t len)
{
	struct kvmon_disk *d = disk_new("memory image");

	if (d) {
		d->mem = buf;
		d->size = len;
	}
	return d;
}

int kvmon_nbd_fail(const char *what)
{
	int err = nbd_get_errno();

	return kvmon_set_error(err ? err : EIO, "%s: %s", what,
			       nbd_get_error() ? nbd_get_error() : "NBD error");
}

/* After the primary handle connected: size, read-only check. */
int kvmon_nbd_finish(struct kvmon_disk *d)
{
	int64_t sz = nbd_get_size(d->nbd);

	if (sz < 0)
		return kvmon_nbd_fail("NBD export size");
	d->size = (uint64_t)sz;
	if (nbd_is_read_only(d->nbd) != 1)
		/* We never write, but a writable export is not what we built. */
		kvmon_log(KVMON_LOG_WARN, "%s: NBD export is not read-only",
			  d->desc);
	return 0;
}

struct kvmon_disk *kvmon_disk_open_image(const char *path, const char *format)
{
	char abs[4096];
	struct kvmon_disk *d;

	if (!path)
		return kvmon_set_error(EINVAL, "no image path"), NULL;
	if (!realpath(path, abs))
		return kvmon_set_error(errno, "%s: %s", path, strerror(errno)),
		       NULL;
	if (access(abs, R_OK) < 0)
		return kvmon_set_error(errno, "%s: %s", path, strerror(errno)),
		       NULL;
	if (!format)
		format = kvmon_image_format(abs);
	if (strcmp(format, "qcow2") && strcmp(format, "raw"))
		return kvmon_set_error(EINVAL, "image format '%s': use qcow2 "
				       "or raw", format), NULL;
	/* A raw image has no format to interpret: read it ourselves, O_RDONLY,
	 * without a qemu-nbd child and its two extra copies of every byte
	 * (AIDE through `kvmon mount`: docs/fim.md). KVMON_IMAGE_NBD=1 serves
	 * it with qemu-nbd anyway. */
	if (!strcmp(format, "raw") && !kvmon_env_flag("KVMON_IMAGE_NBD", false)) {
		d = kvmon_disk_open_raw(abs);
		if (d)
			snprintf(d->desc, sizeof(d->desc), "%s", path);
		return d;
	}
	d = disk_new(path);
	if (!d)
		return NULL;
	if (kvmon_pool_open_image(d, abs, format, kvmon_pool_size()) < 0)
		goto fail;
	return d;
fail:
	kvmon_error_prefix("image %s", path);
	kvmon_disk_close(d);
	return NULL;
}

struct kvmon_disk *kvmon_disk_open_vm_opts(struct kvmon_vm *vm,
					   const struct kvmon_disk_opts *o)
{
	struct kvmon_disk *d;
	const char *bm;

	if (!vm || !o)
		return kvmon_set_error(EINVAL, "no VM or options"), NULL;
	d = disk_new(kvmon_vm_name(vm) ? kvmon_vm_name(vm) : "VM");
	if (!d)
		return NULL;
	d->fleece = kvmon_fleece_start(vm, o->node, o->workdir, o->track,
				       o->since, o->granularity ? o->granularity
				       : KVMON_DISK_GRANULARITY);
	if (!d->fleece)
		goto fail;
	d->nbd = nbd_create();
	if (!d->nbd) {
		kvmon_nbd_fail("libnbd");
		goto fail;
	}
	bm = kvmon_fleece_bitmap(d->fleece);
	if (bm) {
		snprintf(d->dirty_ctx, sizeof(d->dirty_ctx),
			 "qemu:dirty-bitmap:%s", bm);
		if (nbd_add_meta_context(d->nbd, d->dirty_ctx) < 0) {
			kvmon_nbd_fail("NBD meta context");
			goto fail;
		}
	}
	if (nbd_set_export_name(d->nbd, kvmon_fleece_export_name(d->fleece)) < 0 ||
	    nbd_connect_unix(d->nbd, kvmon_fleece_socket(d->fleece)) < 0) {
		kvmon_nbd_fail("connecting to the fleecing export");
		goto fail;
	}
	if (bm && nbd_can_meta_context(d->nbd, d->dirty_ctx) != 1) {
		kvmon_set_error(ENOTSUP, "the export does not offer %s",
				d->dirty_ctx);
		goto fail;
	}
	if (kvmon_nbd_finish(d) < 0)
		goto fail;
	/* Extra handles without the meta context: reads only. */
	kvmon_pool_extend(d, kvmon_pool_size(), kvmon_fleece_socket(d->fleece),
			  kvmon_fleece_export_name(d->fleece));
	return d;
fail:
	kvmon_error_prefix("disk of VM %s", d->desc);
	kvmon_disk_close(d);
	return NULL;
}

struct kvmon_disk *kvmon_disk_open_vm(struct kvmon_vm *vm, const char *node,
				      const char *workdir)
{
	struct kvmon_disk_opts o = { .node = node, .workdir = workdir };

	return kvmon_disk_open_vm_opts(vm, &o);
}

int kvmon_disk_close(struct kvmon_disk *d)
{
	int rc = 0;

	if (!d)
		return 0;
	kvmon_pool_close(d);
	if (d->fd >= 0)
		close(d->fd);
	if (d->fleece && kvmon_fleece_stop(d->fleece) < 0)
		rc = -1;
	free(d->segs);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return rc;
}

uint64_t kvmon_disk_size(const struct kvmon_disk *d)
{
	return d ? d->size : 0;
}

/* One pooled handle for the whole request: other threads use the rest. */
static int nbd_read(struct kvmon_disk *d, uint64_t off, uint8_t *p, size_t len)
{
	unsigned slot;
	struct nbd_handle *h = kvmon_pool_take(d, &slot);
	int rc = 0;

	while (len) {
		size_t n = len > NBD_CHUNK ? NBD_CHUNK : len;

		if (nbd_pread(h, p, n, off, 0) < 0) {
			rc = kvmon_nbd_fail(d->desc);
			break;
		}
		p += n;
		off += n;
		len -= n;
	}
	kvmon_pool_give(d, slot);
	return rc;
}

int kvmon_disk_read(struct kvmon_disk *d, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;

	if (!d || (!buf && len))
		return kvmon_set_error(EINVAL, "disk read: bad arguments");
	if (off > d->size || len > d->size - off)
		return kvmon_set_error(EINVAL, "%s: read of %zu bytes at %llu "
				       "is past the end (%llu)", d->desc, len,
				       (unsigned long long)off,
				       (unsigned long long)d->size);
	if (d->mem) {
		memcpy(p, d->mem + off, len);
		return 0;
	}
	if (d->base)
		return kvmon_volume_read(d, off, buf, len);
	if (d->nbd)
		return nbd_read(d, off, p, len);
	while (len) {
		size_t n = len > NBD_CHUNK ? NBD_CHUNK : len;

		ssize_t r = pread(d->fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kvmon_set_error(errno, "%s: %s", d->desc,
					       strerror(errno));
		if (r == 0)
			return kvmon_set_error(EIO, "%s: short read", d->desc);
		n = (size_t)r;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}
