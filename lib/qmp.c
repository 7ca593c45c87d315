/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QMP client on json-c.
 *
 * The peer is QEMU, which a compromised guest may have taken over, so the
 * stream is parsed incrementally with hard limits: message size, nesting
 * depth, UTF-8 validity, and a deadline on every operation. After a framing
 * error the stream cannot be resynchronised, so the connection is marked
 * broken and every later call fails cleanly.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RBUF_SIZE 65536
#define JSON_DEPTH 64

struct kvmon_qmp {
	int fd;
	int timeout_ms;
	size_t max_message;
	struct json_tokener *tok;
	char rbuf[RBUF_SIZE];
	size_t roff, rlen;
	size_t msg_bytes;  /* bytes of the message being parsed */
	bool broken;
	char broken_why[256];
	uint64_t next_id;
	struct json_object *events[KVMON_QMP_MAX_EVENTS];
	size_t ev_head, ev_count;
	uint64_t ev_dropped;
	char version[64];
	pid_t peer_pid;
};

static int mark_broken(struct kvmon_qmp *q, int err, const char *why)
{
	q->broken = true;
	snprintf(q->broken_why, sizeof(q->broken_why), "%s", why);
	return kvmon_set_error(err, "QMP: %s", why);
}

static int check_usable(struct kvmon_qmp *q)
{
	if (!q)
		return kvmon_set_error(EINVAL, "QMP: no connection");
	if (q->broken)
		return kvmon_set_error(EPIPE,
				       "QMP: connection unusable after an "
				       "earlier error (%s)",
				       q->broken_why);
	return 0;
}

static void queue_event(struct kvmon_qmp *q, struct json_object *ev)
{
	if (q->ev_count == KVMON_QMP_MAX_EVENTS) {
		/* Drop the oldest: a flood must not grow memory. */
		json_object_put(q->events[q->ev_head]);
		q->ev_head = (q->ev_head + 1) % KVMON_QMP_MAX_EVENTS;
		q->ev_count--;
		q->ev_dropped++;
	}
	q->events[(q->ev_head + q->ev_count) % KVMON_QMP_MAX_EVENTS] = ev;
	q->ev_count++;
}

static struct json_object *pop_event(struct kvmon_qmp *q)
{
	struct json_object *ev;

	if (q->ev_count == 0)
		return NULL;
	ev = q->events[q->ev_head];
	q->ev_head = (q->ev_head + 1) % KVMON_QMP_MAX_EVENTS;
	q->ev_count--;
	return ev;
}

/* Feed buffered bytes to the tokener; 1 = got a message, 0 = need more. */
static int parse_buffered(struct kvmon_qmp *q, struct json_object **out)
{
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t avail, used;
	char why[160];

	if (q->msg_bytes == 0)
		while (q->roff < q->rlen && isspace((unsigned char)q->rbuf[q->roff]))
			q->roff++;
	avail = q->rlen - q->roff;
	if (avail == 0)
		return 0;
	obj = json_tokener_parse_ex(q->tok, q->rbuf + q->roff, (int)avail);
	jerr = json_tokener_get_error(q->tok);
	if (!obj && jerr == json_tokener_continue) {
		q->msg_bytes += avail;
		q->roff = q->rlen;
		if (q->msg_bytes > q->max_message) {
			snprintf(why, sizeof(why),
				 "message from peer exceeds %zu bytes",
				 q->max_message);
			return mark_broken(q, EMSGSIZE, why);
		}
		return 0;
	}
	if (!obj) {
		/* A literal "null" parses to NULL with success: still invalid. */
		snprintf(why, sizeof(why), "malformed JSON from peer: %s",
			 jerr == json_tokener_success
				 ? "not an object"
				 : json_tokener_error_desc(jerr));
		return mark_broken(q, EPROTO, why);
	}
	used = json_tokener_get_parse_end(q->tok);
	q->roff += used;
	q->msg_bytes += used;
	json_tokener_reset(q->tok);
	if (q->msg_bytes > q->max_message) {
		json_object_put(obj);
		snprintf(why, sizeof(why), "message from peer exceeds %zu bytes",
			 q->max_message);
		return mark_broken(q, EMSGSIZE, why);
	}
	q->msg_bytes = 0;
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return mark_broken(q, EPROTO,
				   "malformed message from peer: not a JSON "
				   "object");
	}
	*out = obj;
	return 1;
}

/* Read one JSON object from the peer before the deadline. */
static int read_message(struct kvmon_qmp *q, int64_t deadline,
			struct json_object **out)
{
	for (;;) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		ssize_t r;
		int rc = parse_buffered(q, out);

		if (rc != 0)
			return rc < 0 ? -1 : 0;
		q->roff = q->rlen = 0;
		rc = poll(&pfd, 1, kvmon_ms_left(deadline));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return kvmon_set_error(errno, "QMP: poll: %s",
					       strerror(errno));
		if (rc == 0)
			return kvmon_set_error(ETIMEDOUT,
					       "QMP: timed out waiting for "
					       "the peer");
		r = read(q->fd, q->rbuf, sizeof(q->rbuf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			char why[128];

			snprintf(why, sizeof(why), "read: %s", strerror(errno));
			return mark_broken(q, errno == ECONNRESET ? ECONNRESET
								   : EIO,
					   why);
		}
		if (r == 0)
			return mark_broken(q, ECONNRESET,
					   q->msg_bytes
						   ? "peer closed the connection "
						     "in the middle of a message"
						   : "peer closed the connection");
		q->rlen = (size_t)r;
	}
}

static int send_all(struct kvmon_qmp *q, const char *buf, size_t len,
		    int64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLOUT };
		ssize_t w;
		int rc = poll(&pfd, 1, kvmon_ms_left(deadline));

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			return kvmon_set_error(ETIMEDOUT,
					       "QMP: timed out sending");
		w = send(q->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0) {
			char why[128];

			snprintf(why, sizeof(why), "send: %s", strerror(errno));
			return mark_broken(q, EPIPE, why);
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int error_reply(struct json_object *err, const char *command)
{
	struct json_object *cls = NULL, *desc = NULL;
	const char *c = "?", *d = "(no description)";

	if (json_object_is_type(err, json_type_object)) {
		if (json_object_object_get_ex(err, "class", &cls) &&
		    json_object_is_type(cls, json_type_string))
			c = json_object_get_string(cls);
		if (json_object_object_get_ex(err, "desc", &desc) &&
		    json_object_is_type(desc, json_type_string))
			d = json_object_get_string(desc);
	}
	return kvmon_set_error(EREMOTEIO, "QMP %s: %.64s: %.400s", command, c,
			       d);
}

/*
 * Classify one message: events are queued, a reply to `id` is returned
 * through *ret (1), anything else is dropped (0).
 */
static int dispatch(struct kvmon_qmp *q, struct json_object *msg, uint64_t id,
		    const char *command, struct json_object **ret)
{
	struct json_object *v, *idv;
	bool has_id = json_object_object_get_ex(msg, "id", &idv);

	if (json_object_object_get_ex(msg, "event", &v)) {
		queue_event(q, msg);
		return 0;
	}
	if (has_id && (!json_object_is_type(idv, json_type_int) ||
		       (uint64_t)json_object_get_int64(idv) != id)) {
		/* Late reply to a command that timed out earlier. */
		kvmon_log(KVMON_LOG_DEBUG, "QMP: dropping reply with stale id");
		json_object_put(msg);
		return 0;
	}
	if (json_object_object_get_ex(msg, "error", &v)) {
		/* QEMU answers an unparsable request without an id. */
		error_reply(v, command);
		json_object_put(msg);
		return -1;
	}
	if (has_id && json_object_object_get_ex(msg, "return", &v)) {
		*ret = json_object_get(v);
		json_object_put(msg);
		return 1;
	}
	kvmon_log(KVMON_LOG_DEBUG, "QMP: dropping unexpected message");
	json_object_put(msg);
	return 0;
}

int kvmon_qmp_call_timeout(struct kvmon_qmp *q, const char *command,
			   struct json_object *args, struct json_object **ret,
			   int timeout_ms)
{
	struct json_object *req, *reply = NULL;
	const char *text;
	uint64_t id;
	int64_t deadline;
	int rc;

	if (check_usable(q) < 0)
		return -1;
	if (!command || !*command)
		return kvmon_set_error(EINVAL, "QMP: empty command name");
	deadline = kvmon_now_ms() + (timeout_ms > 0 ? timeout_ms : q->timeout_ms);
	id = ++q->next_id;
	req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	json_object_object_add(req, "id", json_object_new_int64((int64_t)id));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	rc = send_all(q, text, strlen(text), deadline);
	if (rc == 0)
		rc = send_all(q, "\n", 1, deadline);
	json_object_put(req);
	if (rc < 0)
		return kvmon_error_prefix("%s", command);
	for (;;) {
		struct json_object *msg;

		if (read_message(q, deadline, &msg) < 0)
			return kvmon_error_prefix("%s", command);
		rc = dispatch(q, msg, id, command, &reply);
		if (rc < 0)
			return -1;
		if (rc == 1)
			break;
	}
	if (ret)
		*ret = reply;
	else
		json_object_put(reply);
	return 0;
}

int kvmon_qmp_call(struct kvmon_qmp *q, const char *command,
		   struct json_object *args, struct json_object **ret)
{
	return kvmon_qmp_call_timeout(q, command, args, ret, 0);
}

static int parse_greeting(struct kvmon_qmp *q, struct json_object *msg)
{
	struct json_object *qmp, *ver, *qemu, *maj, *min, *mic;

	if (!json_object_object_get_ex(msg, "QMP", &qmp) ||
	    !json_object_is_type(qmp, json_type_object))
		return mark_broken(q, EPROTO, "peer did not send a QMP greeting");
	if (json_object_object_get_ex(qmp, "version", &ver) &&
	    json_object_object_get_ex(ver, "qemu", &qemu) &&
	    json_object_object_get_ex(qemu, "major", &maj) &&
	    json_object_object_get_ex(qemu, "minor", &min) &&
	    json_object_object_get_ex(qemu, "micro", &mic))
		snprintf(q->version, sizeof(q->version), "%d.%d.%d",
			 json_object_get_int(maj), json_object_get_int(min),
			 json_object_get_int(mic));
	else
		snprintf(q->version, sizeof(q->version), "unknown");
	return 0;
}

static struct kvmon_qmp *qmp_new(int fd, int timeout_ms)
{
	struct kvmon_qmp *q = calloc(1, sizeof(*q));

	if (!q) {
		close(fd);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	q->fd = fd;
	q->timeout_ms = timeout_ms > 0 ? timeout_ms : KVMON_QMP_DEFAULT_TIMEOUT_MS;
	q->max_message = KVMON_QMP_DEFAULT_MAX_MESSAGE;
	q->peer_pid = -1;
	q->tok = json_tokener_new_ex(JSON_DEPTH);
	if (!q->tok) {
		close(fd);
		free(q);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	/* Messages follow each other on the stream: trailing bytes are the
	 * next message, not an error. */
	json_tokener_set_flags(q->tok, JSON_TOKENER_STRICT |
					       JSON_TOKENER_VALIDATE_UTF8 |
					       JSON_TOKENER_ALLOW_TRAILING_CHARS);
	return q;
}

struct kvmon_qmp *kvmon_qmp_connect_fd(int fd, int timeout_ms)
{
	struct kvmon_qmp *q;
	struct json_object *greeting;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int64_t deadline;

	if (fd < 0) {
		kvmon_set_error(EBADF, "QMP: bad descriptor");
		return NULL;
	}
	q = qmp_new(fd, timeout_ms);
	if (!q)
		return NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
	    cred.pid > 0)
		q->peer_pid = cred.pid;
	deadline = kvmon_now_ms() + q->timeout_ms;
	if (read_message(q, deadline, &greeting) < 0) {
		/* QEMU greets a second client only after the first leaves. */
		if (kvmon_get_errno() == ETIMEDOUT)
			kvmon_set_error(ETIMEDOUT,
					"no greeting within %d ms (QEMU serves one "
					"client per QMP socket: is another client "
					"connected?)",
					q->timeout_ms);
		goto fail;
	}
	if (parse_greeting(q, greeting) < 0) {
		json_object_put(greeting);
		goto fail;
	}
	json_object_put(greeting);
	if (kvmon_qmp_call(q, "qmp_capabilities", NULL, NULL) < 0)
		goto fail;
	return q;
fail:
	kvmon_error_prefix("QMP handshake");
	kvmon_qmp_close(q);
	return NULL;
}

struct kvmon_qmp *kvmon_qmp_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!path || kvmon_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) < 0) {
		kvmon_set_error(ENAMETOOLONG, "QMP socket path too long: %s",
				path ? path : "(null)");
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		kvmon_set_error(errno, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		kvmon_set_error(errno, "connect %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return kvmon_qmp_connect_fd(fd, timeout_ms);
}

void kvmon_qmp_close(struct kvmon_qmp *q)
{
	struct json_object *ev;

	if (!q)
		return;
	while ((ev = pop_event(q)) != NULL)
		json_object_put(ev);
	json_tokener_free(q->tok);
	close(q->fd);
	free(q);
}

int kvmon_qmp_set_timeout(struct kvmon_qmp *q, int timeout_ms)
{
	if (!q || timeout_ms <= 0)
		return kvmon_set_error(EINVAL, "QMP: invalid timeout");
	q->timeout_ms = timeout_ms;
	return 0;
}

int kvmon_qmp_set_max_message(struct kvmon_qmp *q, size_t bytes)
{
	if (!q || bytes < 1024)
		return kvmon_set_error(EINVAL, "QMP: max message below 1 KiB");
	q->max_message = bytes;
	return 0;
}

const char *kvmon_qmp_qemu_version(const struct kvmon_qmp *q)
{
	return q ? q->version : "";
}

pid_t kvmon_qmp_peer_pid(const struct kvmon_qmp *q)
{
	return q ? q->peer_pid : -1;
}

uint64_t kvmon_qmp_events_dropped(const struct kvmon_qmp *q)
{
	return q ? q->ev_dropped : 0;
}

static char *to_text(struct json_object *obj)
{
	return kvmon_strdup(
		json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
}

int kvmon_qmp_execute(struct kvmon_qmp *q, const char *command,
		      const char *args_json, char **reply_json)
{
	struct json_object *args = NULL, *ret = NULL;
	int rc;

	if (reply_json)
		*reply_json = NULL;
	if (args_json) {
		enum json_tokener_error jerr;

		args = json_tokener_parse_verbose(args_json, &jerr);
		if (!args || !json_object_is_type(args, json_type_object)) {
			json_object_put(args);
			return kvmon_set_error(EINVAL,
					       "QMP %s: arguments are not a "
					       "JSON object",
					       command ? command : "");
		}
	}
	rc = kvmon_qmp_call(q, command, args, &ret);
	json_object_put(args);
	if (rc < 0)
		return -1;
	if (reply_json) {
		*reply_json = to_text(ret);
		if (!*reply_json)
			rc = -1;
	}
	json_object_put(ret);
	return rc;
}

int kvmon_qmp_hmp(struct kvmon_qmp *q, const char *command_line, char **output)
{
	struct json_object *args, *ret = NULL;
	int rc;

	*output = NULL;
	if (!command_line)
		return kvmon_set_error(EINVAL, "HMP: empty command");
	args = json_object_new_object();
	json_object_object_add(args, "command-line",
			       json_object_new_string(command_line));
	rc = kvmon_qmp_call(q, "human-monitor-command", args, &ret);
	json_object_put(args);
	if (rc < 0)
		return -1;
	if (!json_object_is_type(ret, json_type_string)) {
		json_object_put(ret);
		return kvmon_set_error(EPROTO, "HMP %s: reply is not a string",
				       command_line);
	}
	*output = kvmon_strdup(json_object_get_string(ret));
	json_object_put(ret);
	return *output ? 0 : -1;
}

int kvmon_qmp_next_event(struct kvmon_qmp *q, int timeout_ms, char **event_json)
{
	struct json_object *ev;
	int64_t deadline;

	*event_json = NULL;
	if (!q)
		return kvmon_set_error(EINVAL, "QMP: no connection");
	deadline = kvmon_now_ms() + (timeout_ms >= 0 ? timeout_ms : q->timeout_ms);
	while ((ev = pop_event(q)) == NULL) {
		struct json_object *msg, *unused = NULL;
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };

		if (check_usable(q) < 0)
			return -1;
		/* Only block in read_message once data is there, so a quiet
		 * peer gives a timeout (0) rather than an error. */
		if (q->roff == q->rlen) {
			int rc = poll(&pfd, 1, kvmon_ms_left(deadline));

			if (rc < 0 && errno != EINTR)
				return kvmon_set_error(errno, "QMP: poll: %s",
						       strerror(errno));
			if (rc <= 0) {
				if (kvmon_ms_left(deadline) == 0)
					return 0;
				continue;
			}
		}
		if (read_message(q, deadline, &msg) < 0) {
			if (kvmon_get_errno() == ETIMEDOUT && !q->broken)
				return 0;
			return -1;
		}
		/* id 0 is never used, so replies are dropped here. */
		if (dispatch(q, msg, 0, "event", &unused) == 1)
			json_object_put(unused);
	}
	*event_json = to_text(ev);
	json_object_put(ev);
	return *event_json ? 1 : -1;
}

/*
 * A command that passes a file descriptor (SCM_RIGHTS on the QMP socket,
 * sent with the command's own bytes as QEMU expects): getfd and add-fd.
 * Our copy of fd stays open; the caller closes it.
 */
int kvmon_qmp_call_fd(struct kvmon_qmp *q, const char *command,
		      struct json_object *args, int fd, struct json_object **ret)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct json_object *reply = NULL, *cmd;
	struct iovec iov;
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;
	uint64_t id;
	int64_t deadline;
	int rc;

	if (ret)
		*ret = NULL;
	if (check_usable(q) < 0)
		return -1;
	id = ++q->next_id;
	cmd = json_object_new_object();
	json_object_object_add(cmd, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(cmd, "arguments", json_object_get(args));
	json_object_object_add(cmd, "id", json_object_new_uint64(id));
	const char *text = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(text);

	iov.iov_base = (void *)text;
	iov.iov_len = n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	deadline = kvmon_now_ms() + q->timeout_ms;
	ssize_t w;

	do {
		w = sendmsg(q->fd, &mh, MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		json_object_put(cmd);
		return mark_broken(q, EPIPE, "sendmsg with a descriptor failed");
	}
	/* The descriptor went with the first byte; the rest is plain text. */
	rc = (size_t)w < n ? send_all(q, text + w, n - (size_t)w, deadline) : 0;
	if (rc == 0)
		rc = send_all(q, "\n", 1, deadline);
	json_object_put(cmd);
	if (rc < 0)
		return kvmon_error_prefix("%s", command);
	for (;;) {
		struct json_object *msg;

		if (read_message(q, deadline, &msg) < 0)
			return kvmon_error_prefix("%s", command);
		rc = dispatch(q, msg, id, command, &reply);
		if (rc < 0)
			return -1;
		if (rc == 1)
			break;
	}
	if (ret)
		*ret = reply;
	else
		json_object_put(reply);
	return 0;
}

/* "getfd": hand QEMU fd under `name` (the mirror's socketpair end). */
int kvmon_qmp_getfd(struct kvmon_qmp *q, const char *name, int fd)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "fdname", json_object_new_string(name));
	int rc = kvmon_qmp_call_fd(q, "getfd", a, fd, NULL);

	json_object_put(a);
	return rc;
}
