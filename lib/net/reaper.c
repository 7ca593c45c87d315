// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mirror's reaper: a forked child that outlives a killed receiver.
 *
 * filter-mirror reports every failed write on QEMU's stderr, once per frame:
 * a receiver killed with SIGKILL (or crashed) would fill QEMU's log (under
 * libvirt, /var/log/libvirt/qemu/VM.log) for as long as the filter stays.
 * The reaper is forked at attach and sleeps on a pipe whose write end only
 * the receiver's process holds. A clean detach writes one byte: the reaper
 * exits. End of file means the process died: the reaper drains the mirror
 * stream (so QEMU's writes neither fail nor block), connects to QMP once the
 * dead process's connection is gone (QEMU serves one client), removes the
 * filter and the chardev, and exits. Bounded: REAP_MS in all.
 *
 * The child of a multithreaded process may only use async-signal-safe
 * calls: everything it says is formatted before fork, and it only polls,
 * reads, writes, connects and exits.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REAP_MS 15000
#define REAP_CMDS 3

struct reap_plan {
	struct sockaddr_un qmp;
	char cmd[REAP_CMDS][192];
};

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Discard whatever QEMU has written; -1 once the stream has ended. */
static int drain(int fd)
{
	static char junk[65536];
	ssize_t n = read(fd, junk, sizeof(junk));

	return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) ? -1 : 0;
}

/* Wait up to ms for fd (and keep draining the stream meanwhile). */
static int wait_fd(int fd, short ev, int *stream, long deadline)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = ev },
				       { .fd = *stream, .events = POLLIN } };
		long left = deadline - ms_now();

		if (left <= 0)
			return -1;
		if (poll(p, *stream >= 0 ? 2 : 1, (int)(left > 200 ? 200 : left)) < 0 &&
		    errno != EINTR)
			return -1;
		if (*stream >= 0 && p[1].revents && drain(*stream) < 0) {
			close(*stream);
			*stream = -1;
		}
		if (p[0].revents & (POLLERR | POLLNVAL))
			return -1;
		if (p[0].revents)
			return 0;
	}
}

/* Read QMP lines until one that answers a command (not an event). */
static int read_answer(int fd, int *stream, long deadline)
{
	char line[4096];
	size_t len = 0;

	for (;;) {
		char ch;

		if (wait_fd(fd, POLLIN, stream, deadline) < 0 || read(fd, &ch, 1) != 1)
			return -1;
		if (ch != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = ch;
			continue;
		}
		line[len] = '\0';
		len = 0;
		if (strstr(line, "\"return\"") || strstr(line, "\"error\"") ||
		    strstr(line, "\"QMP\""))
			return 0;
	}
}

static int qmp_session(const struct reap_plan *p, int *stream, long deadline)
{
	int fd = -1;

	/* Connecting succeeds only once QEMU has dropped the dead client. */
	while (ms_now() < deadline) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (const struct sockaddr *)&p->qmp, sizeof(p->qmp)) == 0)
			break;
		close(fd);
		fd = -1;
		struct pollfd d = { .fd = *stream, .events = POLLIN };

		if (poll(&d, *stream >= 0 ? 1 : 0, 100) > 0 && drain(*stream) < 0) {
			close(*stream);
			*stream = -1;
		}
	}
	if (fd < 0 || read_answer(fd, stream, deadline) < 0) /* greeting */
		goto out;
	for (int i = 0; i < REAP_CMDS; i++) {
		size_t n = strlen(p->cmd[i]);

		if (wait_fd(fd, POLLOUT, stream, deadline) < 0 ||
		    write(fd, p->cmd[i], n) != (ssize_t)n ||
		    read_answer(fd, stream, deadline) < 0)
			goto out;
	}
	close(fd);
	return 0;
out:
	if (fd >= 0)
		close(fd);
	return -1;
}

static void quiet_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t none;

	/* A terminal's ^C reaches the whole process group: the receiver
	 * detaches itself then, and the reaper must outlive it if it cannot. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void close_others(int keep_max)
{
	if (close_range((unsigned)keep_max + 1, ~0u, 0) < 0)
		for (int fd = keep_max + 1; fd < 4096; fd++)
			close(fd);
}

static _Noreturn void reaper_main(const struct reap_plan *p, int life, int stream,
				  int done)
{
	/* fds 0, 1, 2 become the life pipe, the stream and the "done" pipe
	 * (its end of file tells the receiver we are gone); nothing else is
	 * kept, above all not the caller's stdout/stderr (a shell waiting for
	 * their end must not wait for us). */
	int l = fcntl(life, F_DUPFD, 10), s = fcntl(stream, F_DUPFD, 10);
	int d = fcntl(done, F_DUPFD, 10);

	if (l < 0 || s < 0 || d < 0 || dup2(l, 0) < 0 || dup2(s, 1) < 0 || dup2(d, 2) < 0)
		_exit(1);
	close_others(2);
	prctl(PR_SET_NAME, "kvmon-reaper", 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	quiet_signals();
	life = 0;
	stream = 1;
	for (;;) {
		char b;
		ssize_t n = read(life, &b, 1);

		if (n == 1)
			_exit(0); /* clean detach */
		if (n == 0)
			break;    /* the receiver's process is gone */
		if (errno != EINTR)
			_exit(1);
	}
	qmp_session(p, &stream, ms_now() + REAP_MS);
	_exit(0);
}

static int plan(struct reap_plan *p, const char *qmp_path, const char *filter_id,
		const char *chardev_id)
{
	memset(p, 0, sizeof(*p));
	p->qmp.sun_family = AF_UNIX;
	if (!qmp_path || strlen(qmp_path) >= sizeof(p->qmp.sun_path) ||
	    strpbrk(filter_id, "\"\\") || strpbrk(chardev_id, "\"\\"))
		return -1;
	memcpy(p->qmp.sun_path, qmp_path, strlen(qmp_path));
	snprintf(p->cmd[0], sizeof(p->cmd[0]), "{\"execute\":\"qmp_capabilities\"}\n");
	snprintf(p->cmd[1], sizeof(p->cmd[1]),
		 "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"%s\"}}\n", filter_id);
	snprintf(p->cmd[2], sizeof(p->cmd[2]),
		 "{\"execute\":\"chardev-remove\",\"arguments\":{\"id\":\"%s\"}}\n",
		 chardev_id);
	return 0;
}

/*
 * Forked twice, so the reaper is never our child: no zombie whatever the
 * caller does with SIGCHLD, and nothing to wait for if it must stay on.
 */
int kvmon_reaper_start(struct kvmon_reaper *r, const char *qmp_path, int stream,
		       const char *filter_id, const char *chardev_id)
{
	struct reap_plan p;
	int life[2], done[2], st;
	pid_t pid;

	r->life = r->done = -1;
	if (stream < 0 || plan(&p, qmp_path, filter_id, chardev_id) < 0)
		return kvmon_set_error(EINVAL, "mirror reaper: no QMP socket path");
	if (pipe2(life, O_CLOEXEC) < 0)
		return kvmon_set_error(errno, "pipe: %s", strerror(errno));
	if (pipe2(done, O_CLOEXEC) < 0) {
		int e = errno;

		close(life[0]);
		close(life[1]);
		return kvmon_set_error(e, "pipe: %s", strerror(e));
	}
	pid = fork();
	if (pid == 0) {
		if (fork() == 0) {
			close(life[1]);
			close(done[0]);
			reaper_main(&p, life[0], stream, done[1]);
		}
		_exit(0);
	}
	int e = errno;

	close(life[0]);
	close(done[1]);
	if (pid < 0) {
		close(life[1]);
		close(done[0]);
		return kvmon_set_error(e, "fork: %s", strerror(e));
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->life = life[1];
	r->done = done[0];
	return 0;
}

void kvmon_reaper_stop(struct kvmon_reaper *r, bool detached)
{
	if (r->life >= 0) {
		/* No byte: the reaper cleans up as if we had died. */
		if (detached && write(r->life, "x", 1) != 1)
			kvmon_log(KVMON_LOG_DEBUG, "mirror reaper: %s", strerror(errno));
		close(r->life);
		r->life = -1;
	}
	if (r->done >= 0 && detached) {
		/* Gone when its end of the done pipe closes (at once, normally). */
		struct pollfd d = { .fd = r->done, .events = POLLIN };
		char b;

		if (poll(&d, 1, 2000) > 0)
			(void)!read(r->done, &b, 1);
	}
	if (r->done >= 0)
		close(r->done);
	r->done = -1;
}
