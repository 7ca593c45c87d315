// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Several NBD connections to one read-only export. libnbd's synchronous
 * calls hold the handle's lock for the whole round trip, so one handle
 * means one request in flight whatever the number of reading threads.
 * kvmon_disk_read takes any free connection instead. The server must
 * advertise multi-conn (QEMU does for read-only exports: every connection
 * sees the same data); otherwise only the primary handle is used.
 *
 * For an image at rest, qemu-nbd is our child, socket-activated on a
 * listening socket we create in a private 0700 directory, with
 * --shared=N and no --persistent: it exits when its last client goes, so
 * a killed kvmon leaves no server behind. The socket path is removed as
 * soon as the handles are connected.
 */
#define _GNU_SOURCE
#include "disk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ENV_MAX 512 /* environment entries passed on to qemu-nbd */

unsigned kvmon_pool_size(void)
{
	const char *e = getenv("KVMON_NBD_CONNECTIONS");
	char *end;
	long v;

	if (!e || !*e)
		return KVMON_NBD_CONNS;
	v = strtol(e, &end, 10);
	if (*end || v < 1)
		return KVMON_NBD_CONNS;
	return v > KVMON_NBD_MAXCONN ? KVMON_NBD_MAXCONN : (unsigned)v;
}

/* A server at its connection limit stops accepting: a new connection then
 * waits in the listen backlog with no handshake. Bounded waits instead. */
#define PRIMARY_MS 30000 /* qemu-nbd starting on a loaded machine */
#define EXTRA_MS 5000

/* Open a handle on the export within ms; NULL if refused or too slow
 * (libnbd's error is kept for the message). */
static struct nbd_handle *connect_one(const char *sock, const char *export,
				      int ms)
{
	struct nbd_handle *h = nbd_create();
	int64_t deadline = kvmon_now_ms() + ms;

	if (!h)
		return NULL;
	if ((export && nbd_set_export_name(h, export) < 0) ||
	    nbd_aio_connect_unix(h, sock) < 0)
		goto fail;
	while (nbd_aio_is_ready(h) != 1) {
		int64_t left = deadline - kvmon_now_ms();

		if (left <= 0 || nbd_aio_is_dead(h) == 1 ||
		    nbd_aio_is_closed(h) == 1 || nbd_poll(h, (int)left) < 0)
			goto fail;
	}
	return h;
fail:
	nbd_close(h);
	return NULL;
}

void kvmon_pool_extend(struct kvmon_disk *d, unsigned n, const char *sock,
		       const char *export)
{
	if (!d->nbd)
		return;
	d->conn[0] = d->nbd;
	d->nconn = 1;
	/* Without multi-conn the server promises nothing across handles. */
	if (n < 2 || nbd_can_multi_conn(d->nbd) != 1)
		return;
	if (n > KVMON_NBD_MAXCONN)
		n = KVMON_NBD_MAXCONN;
	while (d->nconn < n) {
		struct nbd_handle *h = connect_one(sock, export, EXTRA_MS);

		if (!h) /* server full or gone: keep what we have */
			break;
		if (nbd_get_size(h) != (int64_t)d->size) {
			nbd_close(h);
			break;
		}
		d->conn[d->nconn++] = h;
	}
}

struct nbd_handle *kvmon_pool_take(struct kvmon_disk *d, unsigned *slot)
{
	unsigned all, i;

	*slot = KVMON_NBD_MAXCONN;
	if (d->nconn <= 1)
		return d->nbd;
	all = (1u << d->nconn) - 1;
	pthread_mutex_lock(&d->lock);
	while ((d->busy & all) == all)
		pthread_cond_wait(&d->cv, &d->lock);
	i = (unsigned)__builtin_ctz(~d->busy);
	d->busy |= 1u << i;
	if ((unsigned)__builtin_popcount(d->busy) > d->peak)
		d->peak = (unsigned)__builtin_popcount(d->busy);
	pthread_mutex_unlock(&d->lock);
	*slot = i;
	return d->conn[i];
}

void kvmon_pool_give(struct kvmon_disk *d, unsigned slot)
{
	if (slot >= KVMON_NBD_MAXCONN)
		return;
	pthread_mutex_lock(&d->lock);
	d->busy &= ~(1u << slot);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->lock);
}

/* Wait up to ms for our child; kill it after that. */
static void reap(pid_t pid, int ms)
{
	int64_t deadline = kvmon_now_ms() + ms;
	useconds_t pause = 500;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return;
		if (kvmon_now_ms() >= deadline)
			break;
		usleep(pause);
		if (pause < 20000)
			pause *= 2;
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

void kvmon_pool_close(struct kvmon_disk *d)
{
	for (unsigned i = 1; i < d->nconn; i++) {
		nbd_shutdown(d->conn[i], 0);
		nbd_close(d->conn[i]);
	}
	d->nconn = 0;
	if (d->nbd) {
		nbd_shutdown(d->nbd, 0);
		nbd_close(d->nbd);
		d->nbd = NULL;
	}
	/* Its last client has gone: qemu-nbd exits by itself. (Volume views
	 * are zero-filled, not disk_new()ed: child 0 means no child_err.) */
	if (d->child > 0) {
		reap(d->child, 5000);
		if (d->child_err >= 0)
			close(d->child_err);
		d->child_err = -1;
	}
	d->child = 0;
}

/* The first line of what the child wrote to stderr, if anything. */
static void child_message(struct kvmon_disk *d, char *buf, size_t size)
{
	ssize_t n;
	char *nl;

	buf[0] = 0;
	if (d->child_err < 0)
		return;
	n = read(d->child_err, buf, size - 1);
	if (n <= 0)
		return;
	buf[n] = 0;
	nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
}

/* Absolute path of prog found in PATH (looked up before fork). */
static int find_exe(const char *prog, char *out, size_t size)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		int n = snprintf(out, size, "%.*s/%s", (int)len,
				 len ? path : ".", prog);

		if (n > 0 && (size_t)n < size && access(out, X_OK) == 0)
			return 0;
		path += len;
		if (*path == ':')
			path++;
	}
	return kvmon_set_error(ENOENT, "%s not found in PATH", prog);
}

/* Async-signal-safe decimal into buf (for LISTEN_PID after fork). */
static void put_pid(char *buf, pid_t pid)
{
	char tmp[16];
	int n = 0;
	unsigned long v = (unsigned long)pid;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof(tmp));
	while (n)
		*buf++ = tmp[--n];
	*buf = 0;
}

struct spawn {
	char exe[4096];
	char *argv[10];
	char *envp[ENV_MAX + 3];
	char pid_env[32];
	int lfd, nullfd, errw;
};

static void build_env(struct spawn *s)
{
	size_t n = 0;

	for (char **e = environ; e && *e && n < ENV_MAX; e++)
		if (strncmp(*e, "LISTEN_", 7))
			s->envp[n++] = *e;
	s->envp[n++] = "LISTEN_FDS=1";
	memcpy(s->pid_env, "LISTEN_PID=", 12);
	s->envp[n++] = s->pid_env;
	s->envp[n] = NULL;
}

/* Child side of fork: only async-signal-safe calls. */
static _Noreturn void child_exec(struct spawn *s)
{
	put_pid(s->pid_env + 11, getpid());
	if (s->lfd == 3) {
		if (fcntl(3, F_SETFD, 0) < 0)
			_exit(127);
	} else if (dup2(s->lfd, 3) < 0) {
		_exit(127);
	}
	if (dup2(s->nullfd, 0) < 0 || dup2(s->nullfd, 1) < 0 ||
	    dup2(s->errw, 2) < 0)
		_exit(127);
	execve(s->exe, s->argv, s->envp);
	_exit(127);
}

/* Listening socket at dir/nbd.sock; -1 on error. */
static int listen_at(const char *dir, char *path, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(path, size, "%s/nbd.sock", dir) >= size ||
	    strlen(path) >= sizeof(sa.sun_path))
		return kvmon_set_error(ENAMETOOLONG, "socket path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kvmon_set_error(errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, KVMON_NBD_MAXCONN) < 0) {
		kvmon_set_error(errno, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int spawn_server(struct kvmon_disk *d, struct spawn *s)
{
	int ep[2];
	pid_t pid;

	if (pipe2(ep, O_CLOEXEC) < 0)
		return kvmon_set_error(errno, "pipe: %s", strerror(errno));
	s->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s->nullfd < 0) {
		close(ep[0]);
		close(ep[1]);
		return kvmon_set_error(errno, "/dev/null: %s", strerror(errno));
	}
	s->errw = ep[1];
	pid = fork();
	if (pid == 0)
		child_exec(s);
	close(ep[1]);
	close(s->nullfd);
	if (pid < 0) {
		close(ep[0]);
		return kvmon_set_error(errno, "fork: %s", strerror(errno));
	}
	d->child = pid;
	d->child_err = ep[0];
	/* Never block on it later; a full pipe only stalls its messages. */
	fcntl(ep[0], F_SETFL, O_NONBLOCK);
	return 0;
}

int kvmon_pool_open_image(struct kvmon_disk *d, const char *abs,
			  const char *format, unsigned n)
{
	char dir[4096], sock[4200], fmt_opt[32], shared[32], msg[256];
	const char *tmp = getenv("TMPDIR");
	struct spawn *s = calloc(1, sizeof(*s));
	int rc = -1;

	if (!s)
		return kvmon_set_error(ENOMEM, "out of memory");
	if (n < 1)
		n = 1;
	if (find_exe("qemu-nbd", s->exe, sizeof(s->exe)) < 0)
		goto out_free;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/kvmon-nbd-XXXXXX", tmp) >=
	    sizeof(dir) || !mkdtemp(dir)) { /* mkdtemp: mode 0700 */
		kvmon_set_error(errno ? errno : ENAMETOOLONG, "%s: %s", tmp,
				strerror(errno ? errno : ENAMETOOLONG));
		goto out_free;
	}
	s->lfd = listen_at(dir, sock, sizeof(sock));
	if (s->lfd < 0)
		goto out_dir;
	/* Explicit format: QEMU never probes a guest-controlled header. */
	snprintf(fmt_opt, sizeof(fmt_opt), "--format=%s", format);
	snprintf(shared, sizeof(shared), "--shared=%u", n);
	char *argv[] = { "qemu-nbd", "--read-only", fmt_opt, "--cache=writeback",
			 shared, "--", (char *)abs, NULL };
	memcpy(s->argv, argv, sizeof(argv));
	build_env(s);
	if (spawn_server(d, s) < 0) {
		close(s->lfd);
		goto out_sock;
	}
	close(s->lfd); /* the child holds it; connections queue meanwhile */
	d->nbd = connect_one(sock, NULL, PRIMARY_MS);
	if (!d->nbd) {
		int err = nbd_get_errno();

		reap(d->child, 2000);
		d->child = 0;
		child_message(d, msg, sizeof(msg));
		close(d->child_err);
		d->child_err = -1;
		kvmon_set_error(err ? err : EIO, "starting qemu-nbd: %s",
				msg[0] ? msg : nbd_get_error() ? nbd_get_error()
				: "no connection");
		goto out_sock;
	}
	if (kvmon_nbd_finish(d) < 0)
		goto out_sock;
	kvmon_pool_extend(d, n, sock, NULL);
	rc = 0;
out_sock:
	unlink(sock);
out_dir:
	rmdir(dir);
out_free:
	free(s);
	return rc;
}
