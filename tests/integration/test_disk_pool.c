// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Several NBD connections to a running VM's fleecing export
 * (lib/disk/nbdpool.c): QEMU advertises multi-conn for the read-only
 * export, the pool gets its connections, and reads from several threads
 * at once give exactly the bytes a plain read over the primary connection
 * alone gives, for the whole disk; the file the guest wrote reads back
 * with the guest's sha256 while other threads read too.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"
#include "disk/disk_internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 6
#define READS 200
#define FILE_SIZE (3u << 20)

static uint8_t *ref;
static uint64_t disk_size;
static char work[4096];

struct worker {
	struct kvmon_disk *d;
	pthread_barrier_t *start;
	unsigned seed;
	int bad;
};

static void *reader(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = malloc(1u << 20);

	if (!buf) {
		w->bad = -1;
		return NULL;
	}
	pthread_barrier_wait(w->start);
	for (int i = 0; i < READS && !w->bad; i++) {
		uint64_t off = ((uint64_t)rand_r(&w->seed) << 16 ^
				(uint64_t)rand_r(&w->seed)) % disk_size;
		size_t len = (size_t)rand_r(&w->seed) % (1u << 20) + 1;

		if (len > disk_size - off)
			len = (size_t)(disk_size - off);
		if (kvmon_disk_read(w->d, off, buf, len) < 0 ||
		    memcmp(buf, ref + off, len))
			w->bad = i + 1;
	}
	free(buf);
	return NULL;
}

/* sha256 of a guest file read through the file system (hex). */
static int fs_sha(struct kvmon_fs *fs, const char *path, char hex[65])
{
	uint8_t *buf = malloc(FILE_SIZE), md[32];
	unsigned mdlen = 0;
	uint64_t ino;
	ssize_t n = -1;

	if (!buf)
		return -1;
	if (fs && kvmon_fs_lookup(fs, path, &ino) == 0)
		n = kvmon_fs_pread(fs, ino, buf, FILE_SIZE, 0);
	if (n != (ssize_t)FILE_SIZE ||
	    !EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha256(), NULL)) {
		free(buf);
		return -1;
	}
	free(buf);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static void cleanup(void)
{
	if (*work)
		rmdir(work);
}

int main(void)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	pthread_barrier_t start;
	struct kvmon_vm *vm;
	struct kvmon_disk *d;
	struct kvmon_fs *fs;
	struct tctl *c;
	char *out = NULL, guest_sha[65] = "", sha[65] = "";
	int rc, bad = 0, ref_ok = 1;

	tguest_require();
	unsetenv("KVMON_NBD_CONNECTIONS"); /* the default count is tested */
	vm = tguest_start("dpool");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	c = tctl_open(vm);
	if (!c)
		bail("no control channel");
	snprintf(work, sizeof(work), "%s/dpool-%d", tguest_root(), (int)getpid());
	mkdir(work, 0700);
	atexit(cleanup);
	rc = tctl_run(c, "head -c 3145728 /dev/urandom > /root/pool-test.bin && "
		      "sync && sha256sum /root/pool-test.bin", &out, 60000);
	ok(rc == 0 && out && strlen(out) >= 64, "guest wrote a 3 MiB file and synced");
	if (out && strlen(out) >= 64)
		memcpy(guest_sha, out, 64);
	free(out);

	d = kvmon_disk_open_vm(vm, NULL, work);
	ok(d != NULL, "fleecing export (%s)", d ? "ok" : kvmon_get_error());
	if (!d)
		bail("no export");
	ok(nbd_can_multi_conn(d->nbd) == 1,
	   "QEMU advertises multi-conn on the read-only export");
	ok(d->nconn == KVMON_NBD_CONNS, "%u connections to the export",
	   d->nconn);
	disk_size = kvmon_disk_size(d);
	ref = malloc(disk_size);
	if (!ref)
		bail("out of memory");
	/* Reference: the whole disk through the primary connection alone. */
	for (uint64_t off = 0; off < disk_size; off += 4u << 20) {
		size_t n = disk_size - off < (4u << 20) ? (size_t)(disk_size - off)
							: 4u << 20;

		if (nbd_pread(d->nbd, ref + off, n, off, 0) < 0)
			ref_ok = 0;
	}
	ok(ref_ok, "whole disk (%llu MiB) read over the primary connection",
	   (unsigned long long)(disk_size >> 20));

	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .d = d, .start = &start,
					.seed = 99u + (unsigned)i };
		if (pthread_create(&t[i], NULL, reader, &w[i]))
			bail("pthread_create");
	}
	fs = kvmon_fs_open_part(d, 0);
	ok(fs && fs_sha(fs, "/root/pool-test.bin", sha) == 0 &&
	   !strcmp(sha, guest_sha),
	   "guest file read while the threads read: the guest's sha256");
	kvmon_fs_close(fs);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].bad)
			bad = w[i].bad;
	}
	pthread_barrier_destroy(&start);
	ok(bad == 0, "%d threads x %d reads at once: every byte equal to the "
	   "single-connection read (first bad %d)", THREADS, READS, bad);
	ok(d->peak > 1, "reads in flight on %u connections at once", d->peak);
	ok(d->busy == 0, "every connection handed back");
	ok(kvmon_disk_close(d) == 0, "export closed (%s)", kvmon_get_error());
	free(ref);

	/* The export is gone: a new one can be made and read. */
	d = kvmon_disk_open_vm(vm, NULL, work);
	ok(d && d->nconn == KVMON_NBD_CONNS, "second export after close: "
	   "%u connections", d ? d->nconn : 0);
	kvmon_disk_close(d);

	tctl_check(c, "rm -f /root/pool-test.bin");
	tctl_close(c);
	ok(tguest_stop(vm) == 0, "guest stopped");
	return tap_done();
}
