// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Several NBD connections per image at rest (lib/disk/nbdpool.c): reads
 * from several threads at once, every byte checked against a plain pread
 * of the image (raw and qcow2); one connection when asked; the qemu-nbd
 * child and its socket directory gone after close, after a failed open,
 * and after the owning process is SIGKILLed. Raw images are read directly
 * unless KVMON_IMAGE_NBD=1, with QEMU's image locks honoured.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"
#include "disk/disk_internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define IMG_SIZE (24u << 20)
#define THREADS 6
#define READS 150

static char root[4096];
static uint8_t *ref; /* the raw image, read with plain pread */

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
		/* Unaligned offsets and lengths, up to 1 MiB, to the end. */
		uint64_t off = (uint64_t)rand_r(&w->seed) % IMG_SIZE;
		size_t len = (size_t)rand_r(&w->seed) % (1u << 20) + 1;

		if (len > IMG_SIZE - off)
			len = IMG_SIZE - off;
		if (kvmon_disk_read(w->d, off, buf, len) < 0 ||
		    memcmp(buf, ref + off, len))
			w->bad = i + 1;
	}
	free(buf);
	return NULL;
}

/* Read from THREADS threads at once; 0 if every byte matched. */
static int parallel_reads(struct kvmon_disk *d)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	pthread_barrier_t start;
	int bad = 0;

	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .d = d, .start = &start,
					.seed = 1234u + (unsigned)i };
		if (pthread_create(&t[i], NULL, reader, &w[i]))
			bail("pthread_create");
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].bad)
			bad = w[i].bad;
	}
	pthread_barrier_destroy(&start);
	return bad;
}

/* Entries of root other than the images: socket directories left over. */
static int leftovers(void)
{
	DIR *dir = opendir(root);
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (!strncmp(e->d_name, "kvmon-nbd-", 10)) {
			diag("left over: %s", e->d_name);
			n++;
		}
	closedir(dir);
	return n;
}

static bool gone(pid_t pid)
{
	return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

static void check_image(const char *path, const char *fmt)
{
	struct kvmon_disk *d = kvmon_disk_open_image(path, fmt);
	pid_t child;
	int bad;

	ok(d != NULL, "%s: opened (%s)", fmt, d ? "ok" : kvmon_get_error());
	if (!d)
		return;
	ok(kvmon_disk_size(d) == IMG_SIZE, "%s: size", fmt);
	ok(d->nconn == KVMON_NBD_CONNS, "%s: %u connections to qemu-nbd "
	   "(multi-conn advertised)", fmt, d->nconn);
	ok(leftovers() == 0, "%s: socket directory removed once connected", fmt);
	bad = parallel_reads(d);
	ok(bad == 0, "%s: %d threads x %d reads at once, every byte equal to "
	   "pread of the image (first bad read %d)", fmt, THREADS, READS, bad);
	ok(d->peak > 1, "%s: reads were in flight on %u connections at once",
	   fmt, d->peak);
	ok(d->busy == 0, "%s: every connection handed back", fmt);
	child = d->child;
	ok(child > 0 && kvmon_disk_close(d) == 0 && gone(child),
	   "%s: qemu-nbd child %d reaped on close", fmt, (int)child);
}

/* Without KVMON_IMAGE_NBD a raw image is read directly: no child. */
static void check_raw_direct(const char *path)
{
	struct kvmon_disk *d;

	unsetenv("KVMON_IMAGE_NBD");
	d = kvmon_disk_open_image(path, "raw");
	ok(d && !d->nbd && d->child <= 0 && d->fd >= 0,
	   "raw image read directly (O_RDONLY, no qemu-nbd child)");
	ok(d && parallel_reads(d) == 0, "... %d threads x %d reads equal to pread",
	   THREADS, READS);
	kvmon_disk_close(d);
	setenv("KVMON_IMAGE_NBD", "1", 1);
}

/* QEMU's image locks: a raw image a QEMU writes is refused; one we read
 * cannot be opened for writing by QEMU meanwhile. */
static void check_locking(const char *path)
{
	char sock[4200];
	struct kvmon_disk *d;
	pid_t w;

	unsetenv("KVMON_IMAGE_NBD");
	d = kvmon_disk_open_image(path, "raw");
	ok(d != NULL, "raw image opened for reading");
	ok(tsh("qemu-io -f raw -c 'write 0 512' %s >/dev/null 2>&1", path) != 0,
	   "... and while we read it, qemu-io cannot open it for writing");
	kvmon_disk_close(d);
	ok(tsh("qemu-io -f raw -c 'read 0 512' %s >/dev/null 2>&1", path) == 0,
	   "... reading alongside is allowed");
	/* A writable qemu-nbd holds the write lock while it runs. */
	snprintf(sock, sizeof(sock), "%s/writer.sock", root);
	w = fork();
	if (w == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("qemu-nbd", "qemu-nbd", "--format=raw", "--persistent", "-k", sock,
		       path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && access(sock, F_OK) < 0; i++)
		usleep(50000);
	d = kvmon_disk_open_image(path, "raw");
	ok(!d && kvmon_get_errno() == EBUSY,
	   "an image a writer holds is refused (%s)", d ? "opened" : kvmon_get_error());
	kvmon_disk_close(d);
	if (w > 0) {
		kill(w, SIGTERM);
		waitpid(w, NULL, 0);
	}
	unlink(sock);
	setenv("KVMON_IMAGE_NBD", "1", 1);
}

static void check_one_connection(const char *path)
{
	struct kvmon_disk *d;
	pid_t child;

	setenv("KVMON_NBD_CONNECTIONS", "1", 1);
	d = kvmon_disk_open_image(path, "raw");
	unsetenv("KVMON_NBD_CONNECTIONS");
	ok(d && d->nconn <= 1, "KVMON_NBD_CONNECTIONS=1: one connection");
	if (!d)
		return;
	ok(parallel_reads(d) == 0, "one connection: parallel reads still exact");
	child = d->child;
	ok(kvmon_disk_close(d) == 0 && gone(child), "one connection: child reaped");
}

/* A server at its limit stops accepting: the extra connection waits in
 * its backlog. The pool gives up on it (bounded) and keeps the primary. */
static void check_server_full(const char *path)
{
	char sock[4200], shared[] = "--shared=2";
	char *argv[] = { "qemu-nbd", "--read-only", "--format=raw", shared,
			 "-k", sock, "--", (char *)path, NULL };
	struct nbd_handle *other = NULL;
	struct kvmon_disk *d;
	pid_t server;
	int status;

	snprintf(sock, sizeof(sock), "%s/full.sock", root);
	server = fork();
	if (server < 0)
		bail("fork: %s", strerror(errno));
	if (server == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(sock, F_OK) < 0; i++)
		usleep(50000);
	d = kvmon_disk_open_mem(ref, IMG_SIZE);
	if (!d)
		bail("disk");
	d->mem = NULL; /* reads go over NBD from here on */
	d->nbd = nbd_create();
	other = nbd_create();
	ok(d->nbd && other && nbd_connect_unix(d->nbd, sock) == 0 &&
	   nbd_connect_unix(other, sock) == 0,
	   "qemu-nbd --shared=2 serving 2 connections (%s)",
	   nbd_get_error() ? nbd_get_error() : "ok");
	kvmon_pool_extend(d, 4, sock, NULL);
	ok(d->nconn == 1, "server full: extra connection given up, %u in "
	   "use", d->nconn);
	ok(parallel_reads(d) == 0, "server full: parallel reads exact over "
	   "the one connection");
	kvmon_disk_close(d);
	if (other) {
		nbd_shutdown(other, 0);
		nbd_close(other);
	}
	/* Its last client gone, qemu-nbd exits; never leave it behind. */
	for (int i = 0; i < 100 && waitpid(server, &status, WNOHANG) == 0; i++)
		usleep(50000);
	if (kill(server, 0) == 0) {
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	unlink(sock);
}

/* The owner dies without closing: qemu-nbd sees its clients go and exits.
 * We are its subreaper, so it comes back to us to be reaped. */
static void check_owner_killed(const char *path)
{
	int pfd[2], status;
	pid_t owner, server = 0;
	bool exited = false;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe(pfd) < 0)
		bail("subreaper/pipe: %s", strerror(errno));
	owner = fork();
	if (owner < 0)
		bail("fork: %s", strerror(errno));
	if (owner == 0) {
		struct kvmon_disk *d = kvmon_disk_open_image(path, "raw");
		pid_t p = d ? d->child : 0;

		close(pfd[0]);
		if (write(pfd[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	close(pfd[1]);
	if (read(pfd[0], &server, sizeof(server)) != sizeof(server))
		server = 0;
	close(pfd[0]);
	waitpid(owner, &status, 0);
	ok(server > 0 && WIFSIGNALED(status), "owner opened the image and was "
	   "SIGKILLed");
	for (int i = 0; server > 0 && i < 200 && !exited; i++) {
		if (waitpid(server, &status, WNOHANG) == server)
			exited = true;
		else
			usleep(50000);
	}
	if (server > 0 && !exited) { /* fail, but leave nothing behind */
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	ok(exited, "qemu-nbd exited by itself once its owner was gone");
	ok(leftovers() == 0, "no socket directory left by the killed owner");
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

int main(void)
{
	const char *t = getenv("KVMON_TEST_ROOT");
	char raw[4200], qcow[4200], bad[4200];
	struct kvmon_disk *d;
	FILE *f;

	if (!t || !*t)
		t = getenv("TMPDIR");
	if (!t || !*t)
		t = "/tmp";
	mkdir(t, 0700);
	snprintf(root, sizeof(root), "%s/pool-XXXXXX", t);
	if (!mkdtemp(root))
		bail("mkdtemp %s: %s", root, strerror(errno));
	setenv("TMPDIR", root, 1); /* socket directories go here */
	unsetenv("KVMON_NBD_CONNECTIONS"); /* the default count is tested */
	setenv("KVMON_IMAGE_NBD", "1", 1); /* qemu-nbd for raw images too */
	snprintf(raw, sizeof(raw), "%s/disk.raw", root);
	snprintf(qcow, sizeof(qcow), "%s/disk.qcow2", root);
	snprintf(bad, sizeof(bad), "%s/bad.qcow2", root);

	ref = malloc(IMG_SIZE);
	if (!ref)
		bail("out of memory");
	for (size_t i = 0; i < IMG_SIZE; i += 256)
		if (getrandom(ref + i, 256, 0) != 256)
			bail("getrandom");
	f = fopen(raw, "wb");
	if (!f || fwrite(ref, 1, IMG_SIZE, f) != IMG_SIZE || fclose(f))
		bail("writing %s", raw);
	/* The reference is what a plain pread of the file gives. */
	memset(ref, 0, IMG_SIZE);
	d = kvmon_disk_open_raw(raw);
	if (!d || kvmon_disk_read(d, 0, ref, IMG_SIZE) < 0 || d->nbd)
		bail("plain read of %s", raw);
	kvmon_disk_close(d);
	if (tsh("qemu-img convert -f raw -O qcow2 %s %s", raw, qcow) != 0)
		bail("qemu-img convert");

	check_image(raw, "raw");
	check_raw_direct(raw);
	check_locking(raw);
	check_image(qcow, "qcow2");
	check_one_connection(raw);
	check_server_full(raw);

	/* qemu-nbd refuses: the error says why, nothing is left. */
	f = fopen(bad, "wb");
	if (!f || fputs("not a qcow2 image\n", f) < 0 || fclose(f))
		bail("writing %s", bad);
	d = kvmon_disk_open_image(bad, "qcow2");
	ok(!d && strstr(kvmon_get_error(), "qemu-nbd"),
	   "broken image: open fails (%s)", d ? "opened" : kvmon_get_error());
	kvmon_disk_close(d);
	ok(leftovers() == 0, "broken image: no socket directory left");
	ok(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD,
	   "broken image: no child left");

	check_owner_killed(raw);

	free(ref);
	unlink(raw);
	unlink(qcow);
	unlink(bad);
	ok(rmdir(root) == 0, "nothing left behind");
	return tap_done();
}
