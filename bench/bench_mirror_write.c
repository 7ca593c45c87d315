// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What filter-mirror's per-frame writes cost the writer: QEMU writes each
 * mirrored frame as two write()s (4-byte length, then the frame). This
 * replays that pattern for one 32 MiB download (46,600 frames of 1514
 * bytes) into a unix socketpair with an 8 MiB send buffer (our transport)
 * and, as the baseline, into a pipe, with a reader draining every 1 ms as
 * the mirror receiver does; it prints the writer's CPU time per frame.
 * Then filter-dump's pattern (one writev of a 16-byte pcap record header
 * and the frame, in bursts of 30 frames a millisecond as the guest sends)
 * into a FIFO on /tmp and on /dev/shm, drained every 1 ms, and into a
 * tmpfs file (its pages allocated as written, allocated beforehand, or
 * the same hot page rewritten), against /dev/null as the baseline: what
 * QEMU pays per frame under its lock for each kind of file it can open().
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FRAMES 46600
#define FRAME_LEN 1514

static void *drain(void *arg)
{
	static char buf[256 << 10];
	int fd = *(int *)arg;

	while (read(fd, buf, sizeof(buf)) > 0) {
		struct timespec t = { 0, 1000000 };

		nanosleep(&t, NULL);
	}
	return NULL;
}

static double thread_cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Writer CPU seconds for FRAMES frames, or -1. */
static double run(bool use_pipe)
{
	static char frame[FRAME_LEN];
	char len[4] = { 0, 0, FRAME_LEN >> 8, FRAME_LEN & 0xff };
	int fds[2], sz = 8 << 20, rfd, wfd;
	pthread_t th;

	if (use_pipe) {
		if (pipe(fds) < 0)
			return -1;
		fcntl(fds[1], F_SETPIPE_SZ, sz); /* as large as allowed */
		rfd = fds[0];
		wfd = fds[1];
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
			return -1;
		if (setsockopt(fds[1], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		rfd = fds[0];
		wfd = fds[1];
	}
	pthread_create(&th, NULL, drain, &rfd);
	double t0 = thread_cpu_s();

	for (int i = 0; i < FRAMES; i++)
		if (write(wfd, len, 4) != 4 || write(wfd, frame, FRAME_LEN) != FRAME_LEN)
			return -1;
	double dt = thread_cpu_s() - t0;

	close(wfd);
	pthread_join(th, NULL);
	close(rfd);
	return dt;
}

enum file_kind { TMPFS_GROW, TMPFS_PREALLOC, TMPFS_HOT };

/* Writer CPU per frame (µs), less the pacing's own CPU, for the
 * filter-dump pattern into wfd; at offset 0 every time if `hot`. */
static double paced_writes(int wfd, bool hot)
{
	static char frame[FRAME_LEN], rec[16];
	struct iovec iov[2] = { { rec, sizeof(rec) }, { frame, FRAME_LEN } };
	double t0 = thread_cpu_s(), pace = 0;

	for (int i = 0; i < FRAMES; i++) {
		ssize_t w = hot ? pwritev(wfd, iov, 2, 0) : writev(wfd, iov, 2);

		if (w != (ssize_t)sizeof(rec) + FRAME_LEN)
			return -1;
		if (i % 30 == 29) {
			struct timespec t = { 0, 1000000 };
			double p0 = thread_cpu_s();

			nanosleep(&t, NULL);
			pace += thread_cpu_s() - p0;
		}
	}
	return (thread_cpu_s() - t0 - pace) / FRAMES * 1e6;
}

/* The same into a file on /dev/shm, nobody reading. */
static double run_tmpfs(enum file_kind kind)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/shm/kvmon-bench-file-%d", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	unlink(path);
	if (fd < 0)
		return -1;
	if (kind == TMPFS_PREALLOC &&
	    fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)FRAMES * (16 + FRAME_LEN)) < 0) {
		close(fd);
		return -1;
	}
	double us = paced_writes(fd, kind == TMPFS_HOT);

	close(fd);
	return us;
}

/* Writer CPU per frame (µs) for the filter-dump pattern into `fifo_dir`'s
 * FIFO, or /dev/null if NULL, less the pacing's own CPU; -1 on error. */
static double run_dump(const char *fifo_dir)
{
	char path[256];
	int rfd = -1, wfd;
	pthread_t th;

	if (fifo_dir) {
		snprintf(path, sizeof(path), "%s/kvmon-bench-fifo-%d", fifo_dir, (int)getpid());
		unlink(path);
		if (mkfifo(path, 0600) < 0)
			return -1;
		rfd = open(path, O_RDONLY | O_NONBLOCK);
		wfd = open(path, O_WRONLY);
		unlink(path);
		if (rfd < 0 || wfd < 0)
			return -1;
		fcntl(rfd, F_SETFL, 0);
		fcntl(rfd, F_SETPIPE_SZ, 1 << 20);
		pthread_create(&th, NULL, drain, &rfd);
	} else if ((wfd = open("/dev/null", O_WRONLY)) < 0) {
		return -1;
	}
	double us = paced_writes(wfd, false);

	close(wfd);
	if (fifo_dir) {
		pthread_join(th, NULL);
		close(rfd);
	}
	return us;
}

/* The filter-dump targets, /dev/null (the baseline) first. */
static const char *const dump_target[] = {
	"/dev/null (baseline)", "FIFO on /tmp", "FIFO on /dev/shm",
	"tmpfs file, nobody reading", "  the same, pages allocated before",
	"  the same page rewritten (hot)",
};
#define NTARGETS (sizeof(dump_target) / sizeof(dump_target[0]))

static double run_target(unsigned k)
{
	switch (k) {
	case 0: return run_dump(NULL);
	case 1: return run_dump("/tmp");
	case 2: return run_dump("/dev/shm");
	case 3: return run_tmpfs(TMPFS_GROW);
	case 4: return run_tmpfs(TMPFS_PREALLOC);
	default: return run_tmpfs(TMPFS_HOT);
	}
}

static int dump_pattern(void)
{
	double best[NTARGETS];

	for (int i = 0; i < 3; i++) { /* best of 3 */
		for (unsigned k = 0; k < NTARGETS; k++) {
			double us = run_target(k);

			if (us < 0) {
				perror("bench_mirror_write: filter-dump pattern");
				return 1;
			}
			best[k] = i == 0 || us < best[k] ? us : best[k];
		}
	}
	printf("filter-dump write pattern, %d frames of %d bytes, one writev each, "
	       "writer CPU, best of 3:\n", FRAMES, FRAME_LEN);
	for (unsigned k = 0; k < NTARGETS; k++)
		printf("  %-36s %6.2f us/frame\n", dump_target[k], best[k]);
	printf("ratio FIFO(/tmp)/null: %.1fx, FIFO(/dev/shm)/null: %.1fx\n",
	       best[1] / best[0], best[2] / best[0]);
	return 0;
}

int main(void)
{
	double s = 0, p = 0;

	for (int i = 0; i < 3; i++) { /* best of 3: the machine is shared */
		double a = run(false), b = run(true);

		if (a < 0 || b < 0) {
			perror("bench_mirror_write");
			return 1;
		}
		s = i == 0 || a < s ? a : s;
		p = i == 0 || b < p ? b : p;
	}
	printf("filter-mirror write pattern, %d frames of %d bytes (one 32 MiB download), "
	       "writer CPU, best of 3:\n", FRAMES, FRAME_LEN);
	printf("  %-36s %6.3f s  (%.2f us/frame)\n", "unix socketpair, 8 MiB send buffer", s,
	       s / FRAMES * 1e6);
	printf("  %-36s %6.3f s  (%.2f us/frame)\n", "pipe (baseline)", p, p / FRAMES * 1e6);
	printf("ratio socket/pipe: %.1fx\n", s / p);
	return dump_pattern();
}
