// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Mirror receiver: a unix socket that QEMU's filter-mirror chardev connects
 * to, a thread that decodes the stream, and a bounded ring between that
 * thread and the consumer. QEMU writes the mirror synchronously from its
 * network path, so the thread must never wait for the consumer: when the
 * ring is full, the frame is dropped and counted instead.
 *
 * Read-only by construction: the connection is shut down for writing as
 * soon as it is accepted, and nothing is ever written to it.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RING (16u << 20)
#define READ_CHUNK (256u << 10)
#define REC_HDR 16u          /* u32 len, u32 pad, u64 ts */
#define REC_WRAP UINT32_MAX  /* "continue at offset 0" marker */
#define COALESCE_NS 1000000  /* at most ~1 ms of added latency */
#define SNDBUF_BYTES (8 << 20) /* QEMU's end of the socketpair transport */

struct kvmon_mirror {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char dir[PATH_MAX];      /* private dir we created, or "" */
	int lfd, cfd, wakefd;
	pthread_t thread;
	bool thread_started;
	bool sched_batch;        /* receiver runs as SCHED_BATCH */
	struct kvmon_framer *framer;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t *ring;
	size_t cap;
	uint64_t head, tail;     /* monotonic byte offsets; used = head - tail */
	size_t lent;             /* record at tail handed out by next_ref */
	bool waiting;
	uint64_t batch_ts;       /* receive time of the chunk being decoded */
	struct kvmon_mirror_stats st;
	struct kvmon_framer_stats fst;

	/* Attached VM: QMP ids to remove on close. */
	struct kvmon_vm *vm;
	char chardev_id[64], filter_id[64];
	char netdev_type[32];    /* from HMP "info network", or "unknown" */
	struct packet_batch *pkb; /* packet source: cfd is a packet socket */
	const char *transport;   /* "dump", "pipe", "socketpair", "listen" */
	bool chardev_added, filter_added;
	struct kvmon_reaper reaper; /* cleans up in QEMU if we are killed */
	bool reaper_on;
	uint8_t readbuf[READ_CHUNK];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t rec_size(size_t len)
{
	return REC_HDR + ((len + 7) & ~(size_t)7);
}

/* Called with the lock held, from the framer, for each decoded frame. */
static int ring_push(void *opaque, const uint8_t *frame, size_t len)
{
	struct kvmon_mirror *m = opaque;

	/* Empty (nothing queued or lent): start over at offset 0, so a reader
	 * that keeps up works in the same few cache-hot pages instead of
	 * streaming through (and first faulting in) the whole ring. */
	size_t need = rec_size(len), pos = (size_t)(m->head % m->cap);

	if (m->head == m->tail && pos) {
		m->head += m->cap - pos;
		m->tail = m->head;
		pos = 0;
	}
	size_t free_ = m->cap - (size_t)(m->head - m->tail);
	size_t to_end = m->cap - pos;
	uint32_t l32 = (uint32_t)len;

	if (to_end < need) { /* wrap: the rest of the ring is skipped */
		if (free_ < to_end + need) {
			m->st.dropped++;
			return 0;
		}
		uint32_t w = REC_WRAP;

		memcpy(m->ring + pos, &w, sizeof(w));
		m->head += to_end;
		pos = 0;
	} else if (free_ < need) {
		m->st.dropped++;
		return 0;
	}
	memcpy(m->ring + pos, &l32, 4);
	memcpy(m->ring + pos + 8, &m->batch_ts, 8);
	memcpy(m->ring + pos + REC_HDR, frame, len);
	m->head += need;
	m->st.queued++;
	return 0;
}

static void close_conn(struct kvmon_mirror *m)
{
	if (m->cfd >= 0) {
		close(m->cfd);
		m->cfd = -1;
	}
	pthread_mutex_lock(&m->lock);
	if (!m->pkb) {
		kvmon_framer_reset(m->framer);
		kvmon_framer_stats(m->framer, &m->fst);
	}
	if (m->lfd < 0) { /* a handed-over descriptor: no sender can come back */
		m->st.ended++;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
}

/* Light traffic: let frames accumulate for a moment instead of waking per
 * frame; on 2 cores under TCG those wake-ups are taken from the vCPU. */
static void coalesce(void)
{
	struct timespec ts = { 0, COALESCE_NS };

	nanosleep(&ts, NULL);
}

/* Packet source: what the socket holds, into the ring; -1 once the
 * interface is gone (the VM stopped). */
static int packet_batch(struct kvmon_mirror *m)
{
	int n;

	do {
		n = packet_recv(m->cfd, m->pkb);
		if (n <= 0)
			break;
		pthread_mutex_lock(&m->lock);
		m->batch_ts = now_ns();
		for (int i = 0; i < n; i++) {
			size_t len;
			const uint8_t *fr = packet_frame(m->pkb, (unsigned)i, &len);

			if (len > KVMON_NET_MAX_FRAME) { /* cannot happen on a tap */
				m->fst.snapped++;
				len = KVMON_NET_MAX_FRAME;
			}
			if (len == 0) {
				m->fst.zero_len++;
				continue;
			}
			m->fst.frames++;
			m->fst.bytes += len;
			ring_push(m, fr, len);
		}
		if (m->waiting)
			pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
	} while (n == (int)PACKET_BATCH);
	if (n < 0)
		return -1;
	unsigned lost = packet_drops(m->cfd);

	if (lost) { /* the socket's buffer overflowed: also a ring drop */
		pthread_mutex_lock(&m->lock);
		m->st.dropped += lost;
		pthread_mutex_unlock(&m->lock);
	}
	coalesce();
	return 0;
}

/*
 * The receiver has a pipe of 1-8 MiB and the ring as slack, so it need not
 * run the moment it wakes; QEMU's vCPU and main-loop threads do, and on a
 * small host the receiver's wake-ups otherwise preempt them. SCHED_BATCH
 * keeps the receiver's normal share of the CPU but never preempts a
 * running thread on wake-up: the guest's slowdown under user networking
 * was lower in each interleaved comparison (bench_mirror --compare-sched,
 * docs/network.md). KVMON_MIRROR_SCHED=normal keeps the default policy.
 */
static bool want_sched_batch(void)
{
	const char *s = getenv("KVMON_MIRROR_SCHED");

	return !s || strcmp(s, "normal") != 0;
}

static int sched_batch_self(void)
{
	struct sched_param sp = { 0 };
	int e = pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);

	return e ? kvmon_set_error(e, "SCHED_BATCH: %s", strerror(e)) : 0;
}

int kvmon_mirror_sched_consumer(void)
{
	return want_sched_batch() ? sched_batch_self() : 0;
}

static void *rx_thread(void *arg)
{
	struct kvmon_mirror *m = arg;

	if (m->sched_batch)
		sched_batch_self();

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = m->wakefd, .events = POLLIN },
			{ .fd = m->lfd, .events = POLLIN },
			{ .fd = m->cfd, .events = POLLIN },
		};
		if (poll(p, m->cfd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && m->cfd >= 0) {
				close(fd); /* one sender at a time */
				pthread_mutex_lock(&m->lock);
				m->st.rejected++;
				pthread_mutex_unlock(&m->lock);
			} else if (fd >= 0) {
				int sz = 4 << 20;

				setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
				shutdown(fd, SHUT_WR); /* receive-only */
				m->cfd = fd;
				pthread_mutex_lock(&m->lock);
				m->st.connections++;
				pthread_cond_broadcast(&m->cond);
				pthread_mutex_unlock(&m->lock);
			}
		}
		if (m->cfd >= 0 && p[2].revents && m->pkb) {
			if (packet_batch(m) < 0)
				close_conn(m);
			continue;
		}
		if (m->cfd >= 0 && p[2].revents) {
			ssize_t r = read(m->cfd, m->readbuf, sizeof(m->readbuf));

			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				close_conn(m);
				continue;
			}
			pthread_mutex_lock(&m->lock);
			m->batch_ts = now_ns();
			uint64_t before = m->head;
			int rc = kvmon_framer_feed(m->framer, m->readbuf, (size_t)r,
						   ring_push, m);
			kvmon_framer_stats(m->framer, &m->fst);
			if (m->head != before && m->waiting)
				pthread_cond_broadcast(&m->cond);
			pthread_mutex_unlock(&m->lock);
			if (rc < 0) { /* lost framing: drop the sender, it reconnects */
				close_conn(m);
			} else if ((size_t)r < sizeof(m->readbuf) / 4) {
				coalesce(); /* heavy traffic fills the chunk: no wait */
			}
		}
	}
	return NULL;
}

/* The receiver without a transport yet: ring, framer, wake-up fd. */
static struct kvmon_mirror *mirror_new(size_t ring_bytes, bool vnet_hdr, bool pcap)
{
	struct kvmon_mirror *m;

	if (ring_bytes == 0)
		ring_bytes = DEFAULT_RING;
	if (ring_bytes < 2 * rec_size(KVMON_NET_MAX_FRAME) || ring_bytes > (1ull << 32)) {
		kvmon_set_error(EINVAL, "ring size must be 256 KiB .. 4 GiB");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	m->lfd = m->cfd = m->wakefd = -1;
	m->cap = ring_bytes & ~(size_t)7;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines below */
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	m->ring = malloc(m->cap);
	m->framer = pcap ? kvmon_framer_new_pcap() : kvmon_framer_new(vnet_hdr);
	m->wakefd = eventfd(0, EFD_CLOEXEC);
	if (!m->ring || !m->framer || m->wakefd < 0) {
		kvmon_set_error(ENOMEM, "out of memory");
		kvmon_mirror_close(m);
		return NULL;
	}
	return m;
}

static int mirror_start(struct kvmon_mirror *m)
{
	m->sched_batch = want_sched_batch();
	if (pthread_create(&m->thread, NULL, rx_thread, m))
		return kvmon_set_error(EAGAIN, "cannot start the receiver thread");
	m->thread_started = true;
	return 0;
}

struct kvmon_mirror *kvmon_mirror_listen(const char *path, size_t ring_bytes,
					 bool vnet_hdr)
{
	struct kvmon_mirror *m;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		kvmon_set_error(ENAMETOOLONG, "mirror socket path too long");
		return NULL;
	}
	if (!(m = mirror_new(ring_bytes, vnet_hdr, false)))
		return NULL;
	snprintf(m->path, sizeof(m->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path));
	m->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->lfd < 0) {
		kvmon_set_error(errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(m->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		kvmon_set_error(errno, "bind %s: %s", path, strerror(errno));
		m->path[0] = '\0'; /* not ours to unlink */
		goto fail;
	}
	chmod(path, 0600);
	if (listen(m->lfd, 4) < 0) {
		kvmon_set_error(errno, "listen: %s", strerror(errno));
		goto fail;
	}
	if (mirror_start(m) < 0)
		goto fail;
	return m;
fail:
	kvmon_mirror_close(m);
	return NULL;
}

/* With the lock held: release the record lent by kvmon_mirror_next_ref(),
 * then wait for the next one; 1 with its ring position and length, 0 on
 * timeout, -1 (EPIPE) once the stream ended and the ring is empty. */
static int next_record(struct kvmon_mirror *m, int timeout_ms, size_t *pos_out,
		       uint32_t *len_out)
{
	struct timespec dl;

	m->tail += m->lent;
	m->lent = 0;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	if (timeout_ms > 0) {
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
	}
	for (;;) {
		if (m->head != m->tail) {
			size_t pos = (size_t)(m->tail % m->cap);
			uint32_t len;

			memcpy(&len, m->ring + pos, 4);
			if (len == REC_WRAP) {
				m->tail += m->cap - pos;
				continue;
			}
			*pos_out = pos;
			*len_out = len;
			return 1;
		}
		if (m->st.ended)
			return kvmon_set_error(EPIPE, "the mirror stream ended (QEMU closed it)");
		if (timeout_ms == 0)
			return 0;
		m->waiting = true;
		int w = timeout_ms < 0 ? pthread_cond_wait(&m->cond, &m->lock)
				       : pthread_cond_timedwait(&m->cond, &m->lock, &dl);
		m->waiting = false;
		if (w == ETIMEDOUT && m->head == m->tail)
			return 0;
	}
}

int kvmon_mirror_next_ref(struct kvmon_mirror *m, const uint8_t **frame,
			  struct kvmon_frame_info *info, int timeout_ms)
{
	size_t pos = 0;
	uint32_t len = 0;
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = next_record(m, timeout_ms, &pos, &len);
	if (rc == 1) {
		/* The receiver only writes free space; the lent record stays
		 * out of it until the next call moves the tail past it. */
		memcpy(&info->ts_ns, m->ring + pos + 8, 8);
		info->len = len;
		*frame = m->ring + pos + REC_HDR;
		m->lent = rec_size(len);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int kvmon_mirror_next(struct kvmon_mirror *m, uint8_t *buf, size_t cap,
		      struct kvmon_frame_info *info, int timeout_ms)
{
	const uint8_t *frame;
	int rc = kvmon_mirror_next_ref(m, &frame, info, timeout_ms);

	/* The lent record is ours until the next call: copy it unlocked. */
	if (rc == 1 && info->len > cap)
		return kvmon_set_error(EMSGSIZE, "frame of %u bytes > buffer", info->len);
	if (rc == 1)
		memcpy(buf, frame, info->len);
	return rc;
}

void kvmon_mirror_stats(struct kvmon_mirror *m, struct kvmon_mirror_stats *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	st->framing = m->fst;
	pthread_mutex_unlock(&m->lock);
}

const char *kvmon_mirror_id(const struct kvmon_mirror *m, const char *what)
{
	if (!m->vm || !what)
		return NULL;
	if (!strcmp(what, "chardev"))
		return m->chardev_id;
	if (!strcmp(what, "filter"))
		return m->filter_id;
	if (!strcmp(what, "socket"))
		return m->path;
	if (!strcmp(what, "transport"))
		return m->transport;
	if (!strcmp(what, "netdev-type"))
		return m->netdev_type;
	return NULL;
}

static int qmp_del_q(struct kvmon_qmp *q, const char *cmd, const char *key,
		     const char *id)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, key, json_object_new_string(id));
	int rc = q ? kvmon_qmp_call(q, cmd, a, NULL) : -1;

	json_object_put(a); /* the caller keeps ownership of QMP arguments */
	return rc;
}

static int qmp_del(struct kvmon_vm *vm, const char *cmd, const char *key,
		   const char *id)
{
	return qmp_del_q(kvmon_vm_qmp(vm), cmd, key, id);
}

int kvmon_mirror_close(struct kvmon_mirror *m)
{
	int rc = 0;

	if (!m)
		return 0;
	/* Detach first, so QEMU stops writing before the socket goes. */
	if (m->filter_added && qmp_del(m->vm, "object-del", "id", m->filter_id) < 0)
		rc = -1;
	if (m->chardev_added && qmp_del(m->vm, "chardev-remove", "id", m->chardev_id) < 0)
		rc = -1;
	if (m->reaper_on) /* on failure it retries once our QMP client is gone */
		kvmon_reaper_stop(&m->reaper, rc == 0);
	if (m->thread_started) {
		uint64_t one = 1;

		if (write(m->wakefd, &one, sizeof(one)) != sizeof(one))
			rc = -1;
		pthread_join(m->thread, NULL);
	}
	if (m->cfd >= 0)
		close(m->cfd);
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->wakefd >= 0)
		close(m->wakefd);
	if (m->path[0])
		unlink(m->path);
	if (m->dir[0])
		rmdir(m->dir);
	kvmon_framer_free(m->framer);
	packet_batch_free(m->pkb);
	free(m->ring);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
	return rc;
}

/* ------------------------------------------------------------ QMP attach */

/* chardev-add {id, backend: {type, data}}; takes data over. */
static int chardev_add(struct kvmon_qmp *q, const char *id, const char *type,
		       struct json_object *data)
{
	struct json_object *be = json_object_new_object(), *a = json_object_new_object();

	json_object_object_add(be, "type", json_object_new_string(type));
	json_object_object_add(be, "data", data);
	json_object_object_add(a, "id", json_object_new_string(id));
	json_object_object_add(a, "backend", be);
	int rc = kvmon_qmp_call(q, "chardev-add", a, NULL);

	json_object_put(a); /* the caller keeps ownership of QMP arguments */
	return rc;
}

/* A socket chardev's data, client side of addr {type, data}. */
static struct json_object *socket_data(const char *addr_type, struct json_object *addr_data)
{
	struct json_object *addr = json_object_new_object(), *data = json_object_new_object();

	json_object_object_add(addr, "type", json_object_new_string(addr_type));
	json_object_object_add(addr, "data", addr_data);
	json_object_object_add(data, "addr", addr);
	json_object_object_add(data, "server", json_object_new_boolean(0));
	return data;
}

/*
 * A mirror whose kvmon was killed (SIGKILL, crash) leaves its filter and
 * chardev in QEMU; the chardev then only retries connecting and the filter's
 * writes fail fast, but remove them: frames are copied only while someone
 * listens. Ids carry the owner's pid; only ids of dead owners on this host
 * are removed.
 */
static void remove_stale(struct kvmon_qmp *q)
{
	static const struct {
		const char *cmd, *args, *prefix, *key, *del;
	} kinds[] = {
		{ "qom-list", "/objects", "kvmon-mirrorf-", "name", "object-del" },
		{ "query-chardev", NULL, "kvmon-mirror-", "label", "chardev-remove" },
	};

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct json_object *a = NULL, *ret = NULL;

		if (kinds[k].args) {
			a = json_object_new_object();
			json_object_object_add(a, "path", json_object_new_string(kinds[k].args));
		}
		int rc = kvmon_qmp_call(q, kinds[k].cmd, a, &ret);

		json_object_put(a);
		if (rc < 0 || !json_object_is_type(ret, json_type_array)) {
			json_object_put(ret);
			continue;
		}
		size_t n = json_object_array_length(ret);

		for (size_t i = 0; i < n && i < 4096; i++) {
			struct json_object *e = json_object_array_get_idx(ret, i), *v;
			const char *id;
			char *end;

			if (!json_object_object_get_ex(e, kinds[k].key, &v) ||
			    !(id = json_object_get_string(v)) ||
			    strncmp(id, kinds[k].prefix, strlen(kinds[k].prefix)))
				continue;
			long pid = strtol(id + strlen(kinds[k].prefix), &end, 10);

			if (pid <= 0 || *end != '-' || kvmon_pid_alive((pid_t)pid))
				continue;
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "id", json_object_new_string(id));
			kvmon_qmp_call(q, kinds[k].del, d, NULL);
			json_object_put(d);
		}
		json_object_put(ret);
	}
}

/* Socket dirs in /tmp of killed owners (/tmp/kvmon-mirror-<pid>-*). */
static void remove_stale_dirs(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end, path[PATH_MAX];
		long pid;

		if (strncmp(e->d_name, "kvmon-mirror-", 13))
			continue;
		pid = strtol(e->d_name + 13, &end, 10);
		if (pid <= 0 || *end != '-' || kvmon_pid_alive((pid_t)pid))
			continue;
		snprintf(path, sizeof(path), "/tmp/%s/s", e->d_name);
		unlink(path);
		snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
		rmdir(path); /* only if empty: never more than we made */
	}
	closedir(d);
}

/* The receiver on our end (fd) of a chardev (or, for pcap, a filter-dump)
 * QEMU already has; on failure that object is removed again and fd
 * closed. */
static struct kvmon_mirror *mirror_on_fd(struct kvmon_qmp *q, size_t ring_bytes,
					 const char *qemu_id, int fd, bool pcap, bool vnet)
{
	struct kvmon_mirror *m = mirror_new(ring_bytes, vnet, pcap);
	const char *cmd = pcap ? "object-del" : "chardev-remove";
	uint8_t hdr[24];

	/* QEMU wrote the pcap file header when it opened the FIFO: without
	 * it, whatever it opened is not our FIFO. */
	if (m && pcap && (read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
			  kvmon_framer_feed(m->framer, hdr, sizeof(hdr), ring_push, m) < 0)) {
		kvmon_set_error(EPROTO, "filter-dump: no pcap header on the FIFO");
		kvmon_mirror_close(m);
		m = NULL;
	}
	if (!m) {
		close(fd);
		qmp_del_q(q, cmd, "id", qemu_id);
		return NULL;
	}
	m->cfd = fd;
	m->st.connections = 1;
	if (pcap)
		m->filter_added = true;
	else
		m->chardev_added = true;
	if (mirror_start(m) < 0) {
		qmp_del_q(q, cmd, "id", qemu_id);
		m->chardev_added = m->filter_added = false;
		kvmon_mirror_close(m);
		return NULL;
	}
	return m;
}

/*
 * Preferred transport: a socketpair whose QEMU end goes to QEMU with QMP
 * getfd and becomes the chardev (addr type "fd"). We size that end's send
 * buffer (QEMU would otherwise get the 208 KiB default on a socket it
 * creates itself), so QEMU's synchronous writes do not stall on a full
 * socket while the receiver sleeps between batches. NULL (nothing left in
 * QEMU) if any step fails; the caller then uses a listening socket.
 */
static struct kvmon_mirror *attach_fd(struct kvmon_qmp *q, size_t ring_bytes,
				      const char *chardev_id, bool vnet)
{
	int sv[2], sz = SNDBUF_BYTES;
	struct json_object *fdd;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	/* SO_SNDBUFFORCE passes net.core.wmem_max with CAP_NET_ADMIN. */
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	shutdown(sv[0], SHUT_WR); /* receive-only */
	if (kvmon_qmp_getfd(q, chardev_id, sv[1]) < 0) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	close(sv[1]); /* QEMU has its own copy now */
	fdd = json_object_new_object();
	json_object_object_add(fdd, "str", json_object_new_string(chardev_id));
	if (chardev_add(q, chardev_id, "socket", socket_data("fd", fdd)) < 0) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "fdname", json_object_new_string(chardev_id));
		kvmon_qmp_call(q, "closefd", c, NULL);
		json_object_put(c);
		close(sv[0]);
		return NULL;
	}
	return mirror_on_fd(q, ring_bytes, chardev_id, sv[0], false, vnet);
}

/* Bursts must land in the pipe while the receiver sleeps between batches;
 * above pipe-max-size only with CAP_SYS_RESOURCE. */
static void pipe_grow(int fd)
{
	if (fcntl(fd, F_SETPIPE_SZ, SNDBUF_BYTES) < 0)
		fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

/*
 * A pipe whose write end goes to QEMU with QMP add-fd, for an object that
 * opens /dev/fdset/N. The read end to *rfd; -1 (nothing in QEMU) on
 * failure. The caller removes the fd set once the object holds its
 * duplicate (fdset_remove).
 */
static int64_t pipe_to_fdset(struct kvmon_qmp *q, const char *opaque, int *rfd)
{
	struct json_object *a, *ret = NULL, *v;
	int p[2];
	int64_t fdset = -1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pipe_grow(p[1]);
	a = json_object_new_object();
	json_object_object_add(a, "opaque", json_object_new_string(opaque));
	int rc = kvmon_qmp_call_fd(q, "add-fd", a, p[1], &ret);

	json_object_put(a);
	close(p[1]); /* QEMU has its own copy now (or none) */
	if (rc == 0 && json_object_object_get_ex(ret, "fdset-id", &v) &&
	    json_object_is_type(v, json_type_int))
		fdset = json_object_get_int64(v);
	json_object_put(ret);
	if (fdset < 0) {
		close(p[0]);
		return -1;
	}
	*rfd = p[0];
	return fdset;
}

/* The set's own copy goes; an object that opened it keeps its duplicate. */
static void fdset_remove(struct kvmon_qmp *q, int64_t fdset)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "fdset-id", json_object_new_int64(fdset));
	kvmon_qmp_call(q, "remove-fd", a, NULL);
	json_object_put(a);
}

/* The packet source (packet.c) on a tap netdev's host interface. */
static struct kvmon_mirror *attach_packet(size_t ring_bytes, const char *ifname)
{
	struct kvmon_mirror *m;
	int fd = packet_open(ifname);

	if (fd < 0) {
		kvmon_log(KVMON_LOG_DEBUG, "mirror: %s", kvmon_get_error());
		return NULL;
	}
	m = mirror_new(ring_bytes, false, false);
	if (m && !(m->pkb = packet_batch_new())) {
		kvmon_mirror_close(m);
		m = NULL;
	}
	if (!m) {
		close(fd);
		return NULL;
	}
	m->cfd = fd;
	m->st.connections = 1;
	if (mirror_start(m) < 0) {
		kvmon_mirror_close(m);
		return NULL;
	}
	return m;
}

/* A private 0700 dir for a socket or FIFO QEMU opens: next to the VM's
 * QMP socket (QEMU sees that dir) when a path in it fits the 108-byte
 * sun_path limit, else in /tmp. */
static int private_dir(struct kvmon_vm *vm, unsigned n, char *dir, size_t size)
{
	const char *qmp_path = kvmon_vm_path(vm, "qmp");

	dir[0] = '\0';
	if (qmp_path && strlen(qmp_path) < 60) {
		snprintf(dir, size, "%s", qmp_path);
		char *slash = strrchr(dir, '/');

		if (slash)
			snprintf(slash, size - (size_t)(slash - dir), "/mirror-%d-%u",
				 (int)getpid(), n);
		else
			dir[0] = '\0';
		if (dir[0] && mkdir(dir, 0700) < 0)
			dir[0] = '\0';
	}
	if (!dir[0]) {
		snprintf(dir, size, "/tmp/kvmon-mirror-%d-XXXXXX", (int)getpid());
		if (!mkdtemp(dir))
			return kvmon_set_error(errno, "mkdtemp: %s", strerror(errno));
	}
	return 0;
}

/*
 * Cheapest source: QEMU's filter-dump writing pcap into a FIFO. Per frame
 * it makes one writev() of record header + frame straight from the
 * packet's iovec, where filter-mirror allocates a copy of the frame and
 * makes two write()s through a chardev; that work is done under QEMU's
 * big lock in the thread that also runs user networking, so it is what the
 * guest's throughput pays (bench/bench_mirror.c).
 *
 * filter-dump opens a path with plain open(O_CREAT|O_TRUNC): no fd sets.
 * So: a FIFO in a private 0700 dir, our read end open first (QEMU's open
 * then does not block), unlinked with its dir as soon as QEMU has it. A
 * QEMU that cannot see the dir (other mount namespace, confinement) fails
 * to open it rather than creating a file, since only the last component
 * is created; the pcap file header must then arrive before we use it.
 * NULL, nothing left in QEMU, on any failure: the caller uses filter-mirror.
 */
static struct kvmon_mirror *attach_dump(struct kvmon_vm *vm, struct kvmon_qmp *q,
					size_t ring_bytes, const char *netdev,
					const char *filter_id, unsigned n)
{
	struct json_object *a;
	char dir[PATH_MAX], path[PATH_MAX + 8];
	int rfd = -1, rc = -1;

	if (private_dir(vm, n, dir, sizeof(dir)) < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/s", dir);
	if (mkfifo(path, 0600) == 0)
		rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd >= 0) {
		pipe_grow(rfd);
		a = json_object_new_object();
		json_object_object_add(a, "qom-type", json_object_new_string("filter-dump"));
		json_object_object_add(a, "id", json_object_new_string(filter_id));
		json_object_object_add(a, "netdev", json_object_new_string(netdev));
		json_object_object_add(a, "queue", json_object_new_string("all"));
		json_object_object_add(a, "file", json_object_new_string(path));
		json_object_object_add(a, "maxlen", json_object_new_int64(KVMON_NET_MAX_FRAME));
		rc = kvmon_qmp_call(q, "object-add", a, NULL);
		json_object_put(a);
	}
	unlink(path);
	rmdir(dir);
	if (rc < 0) {
		kvmon_log(KVMON_LOG_DEBUG, "mirror: filter-dump: %s", kvmon_get_error());
		if (rfd >= 0)
			close(rfd);
		return NULL;
	}
	return mirror_on_fd(q, ring_bytes, filter_id, rfd, true, false);
}

/*
 * filter-mirror's cheapest transport: a pipe. filter-mirror makes two
 * synchronous writes per frame in QEMU's main loop; into a pipe each costs
 * about half of a unix socket send (no socket buffer allocated per write,
 * bench/bench_mirror_write.c). QEMU writes a pipe only through the `file`
 * chardev, so the write end goes over with add-fd and the chardev opens
 * /dev/fdset/N. append=true matters: without it QEMU truncates what it
 * opens, which a pipe refuses (EINVAL). NULL, nothing left in QEMU, if any
 * step fails; the caller then tries the socketpair.
 */
static struct kvmon_mirror *attach_pipe(struct kvmon_qmp *q, size_t ring_bytes,
					const char *chardev_id, bool vnet)
{
	struct json_object *data;
	char path[64];
	int rfd = -1;
	int64_t fdset = pipe_to_fdset(q, chardev_id, &rfd);

	if (fdset < 0)
		return NULL;
	snprintf(path, sizeof(path), "/dev/fdset/%lld", (long long)fdset);
	data = json_object_new_object();
	json_object_object_add(data, "out", json_object_new_string(path));
	json_object_object_add(data, "append", json_object_new_boolean(1));
	int rc = chardev_add(q, chardev_id, "file", data);

	fdset_remove(q, fdset);
	if (rc < 0) {
		close(rfd);
		return NULL;
	}
	return mirror_on_fd(q, ring_bytes, chardev_id, rfd, false, vnet);
}

/* Fallback transport: QEMU connects to a socket we listen on. */
static struct kvmon_mirror *attach_listen(struct kvmon_vm *vm, struct kvmon_qmp *q,
					  size_t ring_bytes, const char *chardev_id,
					  unsigned n, bool vnet)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];
	struct kvmon_mirror *m;
	struct json_object *ad, *data;

	if (private_dir(vm, n, dir, sizeof(dir)) < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/s", dir);
	m = kvmon_mirror_listen(path, ring_bytes, vnet);
	if (!m) {
		rmdir(dir);
		return NULL;
	}
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	ad = json_object_new_object();
	json_object_object_add(ad, "path", json_object_new_string(path));
	data = socket_data("unix", ad);
	/* Reconnect: if the receiver drops a desynchronised stream, QEMU
	 * comes back on its own; while unconnected it drops, never blocks. */
	json_object_object_add(data, "reconnect", json_object_new_int(1));
	if (chardev_add(q, chardev_id, "socket", data) < 0) {
		kvmon_error_prefix("chardev-add");
		kvmon_mirror_close(m);
		return NULL;
	}
	m->chardev_added = true;
	return m;
}

enum transport { T_PACKET, T_DUMP, T_PIPE, T_SOCKETPAIR, T_LISTEN };

/*
 * Could frames of this netdev carry a virtio-net header (tap with
 * vnet_hdr, vhost-user, ...)? QMP in QEMU 7.2 has no query for netdevs;
 * HMP "info network" names each with its type ("net0: index=0,type=user,
 * ..." or " \ net0: ..."), not whether the header is on. Only types that
 * never have one answer no; an unknown type or any failure answers yes,
 * which only costs the cheaper source.
 */
static bool netdev_may_vnet(struct kvmon_qmp *q, const char *netdev, char *type,
			    size_t size, char *ifname, size_t ifsize)
{
	static const char *const plain[] = { "user", "socket", "stream", "dgram",
					     "l2tpv3", "vde", "hubport" };
	char *out = NULL;
	size_t nl = strlen(netdev);

	snprintf(type, size, "unknown");
	ifname[0] = '\0';
	if (kvmon_qmp_hmp(q, "info network", &out) < 0 || !out)
		return true;
	for (char *line = out; line && *line;) {
		char *next = strchr(line, '\n'), *p = line;

		if (next)
			*next++ = '\0';
		p += strspn(p, " \\");
		if (!strncmp(p, netdev, nl) && !strncmp(p + nl, ": ", 2)) {
			char *t = strstr(p + nl, "type=");

			if (t) {
				t += 5;
				snprintf(type, size, "%.*s", (int)strcspn(t, ",\r"), t);
			}
			if ((t = strstr(p + nl, "ifname="))) {
				t += 7;
				snprintf(ifname, ifsize, "%.*s", (int)strcspn(t, ",\r"), t);
			}
			break;
		}
		line = next;
	}
	free(out);
	for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
		if (!strcmp(type, plain[i]))
			return false;
	return true;
}

/* KVMON_MIRROR_TRANSPORT=packet|dump|pipe|socketpair|listen picks where to
 * start (tests, bench); each falls back to the next. KVMON_MIRROR_LISTEN=1 is the
 * old spelling of "listen". */
static enum transport transport_wanted(void)
{
	const char *t = getenv("KVMON_MIRROR_TRANSPORT");

	if (getenv("KVMON_MIRROR_LISTEN") || (t && !strcmp(t, "listen")))
		return T_LISTEN;
	if (t && !strcmp(t, "socketpair"))
		return T_SOCKETPAIR;
	if (t && !strcmp(t, "pipe"))
		return T_PIPE;
	if (t && !strcmp(t, "dump"))
		return T_DUMP;
	return T_PACKET;
}

struct kvmon_mirror *kvmon_mirror_attach(struct kvmon_vm *vm, const char *netdev,
					 size_t ring_bytes)
{
	static atomic_uint seq;
	unsigned n = atomic_fetch_add(&seq, 1);
	char chardev_id[64], filter_id[64], type[32], ifname[IF_NAMESIZE + 1];
	struct kvmon_mirror *m;
	struct kvmon_qmp *q;
	struct json_object *a;

	if (!netdev)
		netdev = "net0";
	q = kvmon_vm_qmp(vm);
	if (!q)
		return NULL;
	remove_stale(q);
	remove_stale_dirs();
	snprintf(chardev_id, sizeof(chardev_id), "kvmon-mirror-%d-%u", (int)getpid(), n);
	snprintf(filter_id, sizeof(filter_id), "kvmon-mirrorf-%d-%u", (int)getpid(), n);
	m = NULL;
	/* filter-dump cannot say how long a virtio-net header in front of a
	 * frame is; filter-mirror can (vnet_hdr_support). */
	bool vnet = netdev_may_vnet(q, netdev, type, sizeof(type), ifname, sizeof(ifname));
	enum transport t = transport_wanted();

	/* Only a tap has a host-side interface to listen on, and only one we
	 * can tell is this QEMU's. */
	if (t == T_PACKET && (strcmp(type, "tap") || !ifname[0] ||
			      !packet_tap_of(kvmon_vm_pid(vm), ifname)))
		t = T_DUMP;
	switch (t) {
	case T_PACKET:
		if ((m = attach_packet(ring_bytes, ifname))) {
			m->transport = "packet";
			break;
		}
		/* fall through */
	case T_DUMP:
		if (!vnet && (m = attach_dump(vm, q, ring_bytes, netdev, filter_id, n))) {
			m->transport = "dump";
			break;
		}
		/* fall through */
	case T_PIPE:
		if ((m = attach_pipe(q, ring_bytes, chardev_id, vnet))) {
			m->transport = "pipe";
			break;
		}
		/* fall through */
	case T_SOCKETPAIR:
		if ((m = attach_fd(q, ring_bytes, chardev_id, vnet))) {
			m->transport = "socketpair";
			break;
		}
		/* fall through */
	case T_LISTEN:
		if ((m = attach_listen(vm, q, ring_bytes, chardev_id, n, vnet)))
			m->transport = "listen";
		break;
	}
	if (!m)
		return NULL;
	m->vm = vm;
	snprintf(m->netdev_type, sizeof(m->netdev_type), "%s", type);
	snprintf(m->chardev_id, sizeof(m->chardev_id), "%s", chardev_id);
	snprintf(m->filter_id, sizeof(m->filter_id), "%s", filter_id);
	if (m->pkb) /* packet socket: nothing in QEMU, nothing to reap */
		return m;
	if (m->filter_added) /* filter-dump: no chardev, no filter-mirror */
		goto attached;
	a = json_object_new_object();
	json_object_object_add(a, "qom-type", json_object_new_string("filter-mirror"));
	json_object_object_add(a, "id", json_object_new_string(m->filter_id));
	json_object_object_add(a, "netdev", json_object_new_string(netdev));
	json_object_object_add(a, "queue", json_object_new_string("all"));
	json_object_object_add(a, "outdev", json_object_new_string(m->chardev_id));
	if (vnet)
		json_object_object_add(a, "vnet_hdr_support", json_object_new_boolean(1));
	int rc = kvmon_qmp_call(q, "object-add", a, NULL);

	json_object_put(a);
	if (rc < 0) {
		kvmon_error_prefix("object-add filter-mirror on %s", netdev);
		goto fail;
	}
	m->filter_added = true;
	/* The listening transport connects asynchronously; frames before that
	 * are lost, so report success only once QEMU is connected. */
	int64_t dl = kvmon_now_ms() + 5000;

	pthread_mutex_lock(&m->lock);
	while (m->st.connections == 0 && kvmon_ms_left(dl) > 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	}
	bool connected = m->st.connections > 0;

	pthread_mutex_unlock(&m->lock);
	if (!connected) {
		kvmon_set_error(ETIMEDOUT, "QEMU did not connect to the mirror socket");
		goto fail;
	}
attached:
	/* Without a QMP path (a VM reached through an inherited descriptor)
	 * or with KVMON_MIRROR_REAPER=0, a killed receiver's filter stays
	 * until the next attach. */
	if (kvmon_env_flag("KVMON_MIRROR_REAPER", true)) {
		if (kvmon_reaper_start(&m->reaper, kvmon_vm_path(vm, "qmp"), m->cfd,
				       m->filter_id, m->chardev_id) == 0)
			m->reaper_on = true;
		else
			kvmon_log(KVMON_LOG_DEBUG, "mirror: %s", kvmon_get_error());
	}
	return m;
fail:
	kvmon_mirror_close(m);
	return NULL;
}
