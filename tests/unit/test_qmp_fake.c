/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QMP client against a scripted fake server that misbehaves in ways
 * real QEMU does not: garbage, truncation, oversized and deeply nested
 * messages, bad UTF-8, stale ids, floods, silence and disconnects. Every
 * case must end in a clear error (or success) quickly, never a crash/hang.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "../tap.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GREETING                                                           \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 2, "  \
	"\"major\": 9}, \"package\": \"fake\"}, \"capabilities\": []}}\r\n"

typedef void (*script_fn)(int fd);

struct server {
	int fd;
	script_fn fn;
	pthread_t th;
};

static void srv_send(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Read one request line; returns its id (or -1). */
static long srv_request(int fd, char *cmd, size_t cmdsize)
{
	char line[4096];
	size_t len = 0;
	long id = -1;

	cmd[0] = '\0';
	while (len < sizeof(line) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 3000) <= 0 || read(fd, line + len, 1) != 1)
			return -1;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	{
		struct json_object *o = json_tokener_parse(line), *v;

		if (o && json_object_object_get_ex(o, "id", &v))
			id = (long)json_object_get_int64(v);
		if (o && json_object_object_get_ex(o, "execute", &v))
			snprintf(cmd, cmdsize, "%s", json_object_get_string(v));
		json_object_put(o);
	}
	return id;
}

/* Greeting + capabilities, as QEMU does. */
static void srv_handshake(int fd)
{
	char cmd[64], reply[128];
	long id;

	srv_send(fd, GREETING);
	id = srv_request(fd, cmd, sizeof(cmd));
	snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %ld}\r\n", id);
	srv_send(fd, reply);
}

static void *srv_main(void *arg)
{
	struct server *s = arg;

	s->fn(s->fd);
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	return NULL;
}

static struct kvmon_qmp *connect_to(script_fn fn, struct server *s, int timeout)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair");
	s->fd = sv[1];
	s->fn = fn;
	pthread_create(&s->th, NULL, srv_main, s);
	return kvmon_qmp_connect_fd(sv[0], timeout);
}

static void finish(struct server *s, struct kvmon_qmp *q)
{
	kvmon_qmp_close(q);
	pthread_join(s->th, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ scripts */

static void s_normal(int fd)
{
	char cmd[64], buf[256];
	long id;

	srv_handshake(fd);
	id = srv_request(fd, cmd, sizeof(cmd));
	/* An event first, then the reply split across writes. */
	srv_send(fd, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, "
		     "\"microseconds\": 2}}\r\n{\"ret");
	usleep(20000);
	snprintf(buf, sizeof(buf), "urn\": {\"status\": \"running\", \"cmd\": "
		 "\"%s\"}, \"id\": %ld}\r\n", cmd, id);
	srv_send(fd, buf);
	/* Error reply keeps the connection usable. */
	id = srv_request(fd, cmd, sizeof(cmd));
	snprintf(buf, sizeof(buf), "{\"error\": {\"class\": \"CommandNotFound\", "
		 "\"desc\": \"The command nope has not been found\"}, \"id\": %ld}\n",
		 id);
	srv_send(fd, buf);
	/* Stale id, then pretty-printed multi-line reply. */
	id = srv_request(fd, cmd, sizeof(cmd));
	srv_send(fd, "{\"return\": {\"stale\": true}, \"id\": 999}\n");
	snprintf(buf, sizeof(buf), "{\n  \"return\": \"pretty\\r\\ntext\",\n"
		 "  \"id\": %ld\n}\n", id);
	srv_send(fd, buf);
	usleep(100000);
}

static void test_normal(void)
{
	struct server s;
	struct kvmon_qmp *q = connect_to(s_normal, &s, 2000);
	char *reply = NULL, *ev = NULL, *out = NULL;

	ok(q != NULL, "handshake with a well-behaved server");
	if (!q)
		bail("no connection: %s", kvmon_get_error());
	ok(!strcmp(kvmon_qmp_qemu_version(q), "9.2.1"), "version from greeting");
	ok(kvmon_qmp_execute(q, "query-status", NULL, &reply) == 0 && reply &&
		   strstr(reply, "\"running\""),
	   "reply split across writes matched to its command");
	ok(kvmon_qmp_next_event(q, 0, &ev) == 1 && strstr(ev, "\"STOP\""),
	   "event that arrived before the reply was queued");
	kvmon_free(reply);
	kvmon_free(ev);
	ok(kvmon_qmp_execute(q, "nope", "{}", &reply) < 0 &&
		   kvmon_get_errno() == EREMOTEIO &&
		   strstr(kvmon_get_error(), "CommandNotFound"),
	   "error reply gives EREMOTEIO with class: %s", kvmon_get_error());
	ok(kvmon_qmp_hmp(q, "info version", &out) == 0 && out &&
		   !strcmp(out, "pretty\r\ntext"),
	   "stale id dropped; pretty-printed multi-line reply parsed");
	kvmon_free(out);
	ok(kvmon_qmp_execute(q, "x", "[1]", &reply) < 0 &&
		   kvmon_get_errno() == EINVAL,
	   "non-object arguments refused locally");
	finish(&s, q);
}

static void s_garbage(int fd)
{
	char cmd[64];

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	srv_send(fd, "this is not json }\r\n");
	usleep(100000);
}

static void s_truncated(int fd)
{
	char cmd[64];

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	srv_send(fd, "{\"return\": {\"status\": \"runn");
}

static void s_array(int fd)
{
	char cmd[64];

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	srv_send(fd, "[1, 2, 3]\n");
	usleep(100000);
}

static void s_bad_utf8(int fd)
{
	char cmd[64];

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	srv_send(fd, "{\"return\": \"\xff\xfe\xc0\xaf\", \"id\": 2}\n");
	usleep(100000);
}

static void s_deep(int fd)
{
	char cmd[64], *deep = malloc(20001);

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	memset(deep, '[', 20000);
	deep[20000] = '\0';
	srv_send(fd, "{\"return\": ");
	srv_send(fd, deep);
	free(deep);
	usleep(100000);
}

static void s_oversized(int fd)
{
	char cmd[64], *chunk = malloc(65536);

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	memset(chunk, 'A', 65535);
	chunk[65535] = '\0';
	srv_send(fd, "{\"return\": \"");
	/* 64 MiB of one endless string: the client must stop early. */
	for (int i = 0; i < 1024; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		if (poll(&pfd, 1, 2000) <= 0 || (pfd.revents & (POLLERR | POLLHUP)))
			break;
		if (send(fd, chunk, 65535, MSG_NOSIGNAL) <= 0)
			break;
	}
	free(chunk);
}

static void s_silent(int fd)
{
	char cmd[64];

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	usleep(800000); /* never answers within the client's timeout */
}

static void s_close_mid_greeting(int fd)
{
	srv_send(fd, "{\"QMP\": {\"vers");
}

static void s_no_greeting(int fd)
{
	srv_send(fd, "{\"return\": {}}\n");
	usleep(100000);
}

static void s_flood(int fd)
{
	char cmd[64], buf[128];
	long id;

	srv_handshake(fd);
	id = srv_request(fd, cmd, sizeof(cmd));
	for (int i = 0; i < KVMON_QMP_MAX_EVENTS + 500; i++) {
		snprintf(buf, sizeof(buf), "{\"event\": \"E%d\"}\n", i);
		srv_send(fd, buf);
	}
	snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %ld}\n", id);
	srv_send(fd, buf);
	usleep(100000);
}

static void s_error_without_id(int fd)
{
	char cmd[64];

	srv_handshake(fd);
	srv_request(fd, cmd, sizeof(cmd));
	srv_send(fd, "{\"error\": {\"class\": 7, \"desc\": [\"x\"]}}\n");
	usleep(100000);
}

/* Run one failing scenario: command must fail with err, then EPIPE if the
 * stream is unusable (broken) afterwards. */
static void expect_failure(const char *what, script_fn fn, int err,
			   bool broken, int timeout_ms)
{
	struct server s;
	struct kvmon_qmp *q = connect_to(fn, &s, timeout_ms);
	long long t0;
	char *reply = NULL;
	int rc;

	if (!q) {
		ok(0, "%s: handshake failed unexpectedly: %s", what,
		   kvmon_get_error());
		pthread_join(s.th, NULL);
		return;
	}
	t0 = now_ms();
	rc = kvmon_qmp_execute(q, "query-status", NULL, &reply);
	ok(rc < 0 && kvmon_get_errno() == err && reply == NULL,
	   "%s: fails with %s (%s)", what, strerror(err), kvmon_get_error());
	ok(now_ms() - t0 < timeout_ms + 2000, "%s: bounded time (%lld ms)", what,
	   now_ms() - t0);
	if (broken)
		ok(kvmon_qmp_execute(q, "query-status", NULL, &reply) < 0 &&
			   kvmon_get_errno() == EPIPE,
		   "%s: later calls refused cleanly (%s)", what, kvmon_get_error());
	finish(&s, q);
}

static void test_handshake_failures(void)
{
	struct server s;
	struct kvmon_qmp *q;

	q = connect_to(s_close_mid_greeting, &s, 1000);
	ok(q == NULL && kvmon_get_errno() == ECONNRESET &&
		   strstr(kvmon_get_error(), "middle of a message"),
	   "disconnect mid-greeting: %s", kvmon_get_error());
	finish(&s, q);
	q = connect_to(s_no_greeting, &s, 1000);
	ok(q == NULL && kvmon_get_errno() == EPROTO,
	   "missing greeting refused: %s", kvmon_get_error());
	finish(&s, q);
}

static void test_flood(void)
{
	struct server s;
	struct kvmon_qmp *q = connect_to(s_flood, &s, 2000);
	char *ev = NULL;
	int n = 0;

	ok(q && kvmon_qmp_execute(q, "query-status", NULL, NULL) == 0,
	   "reply found behind an event flood");
	while (q && kvmon_qmp_next_event(q, 0, &ev) == 1) {
		if (n == 0)
			ok(strstr(ev, "\"E500\"") != NULL,
			   "oldest events dropped first (first kept: %s)", ev);
		kvmon_free(ev);
		n++;
	}
	ok(n == KVMON_QMP_MAX_EVENTS, "queue bounded at %d events (got %d)",
	   KVMON_QMP_MAX_EVENTS, n);
	ok(q && kvmon_qmp_events_dropped(q) == 500, "500 drops counted");
	finish(&s, q);
}

int main(void)
{
	test_normal();
	test_handshake_failures();
	expect_failure("garbage", s_garbage, EPROTO, true, 1000);
	expect_failure("truncated reply + disconnect", s_truncated, ECONNRESET,
		       true, 1000);
	expect_failure("JSON array instead of object", s_array, EPROTO, true, 1000);
	expect_failure("invalid UTF-8", s_bad_utf8, EPROTO, true, 1000);
	expect_failure("nesting bomb", s_deep, EPROTO, true, 1000);
	expect_failure("oversized message", s_oversized, EMSGSIZE, true, 5000);
	expect_failure("no reply", s_silent, ETIMEDOUT, false, 300);
	expect_failure("error without id and with bad types", s_error_without_id,
		       EREMOTEIO, false, 1000);
	test_flood();
	return tap_done();
}
