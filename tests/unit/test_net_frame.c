// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * filter-mirror framing and the receiver: every split of the stream gives
 * the same frames; length 0, oversize, truncated records and bad vnet
 * header lengths are counted; a synthetic sender speaking QEMU's protocol
 * disconnects and reconnects; a full ring drops and counts, never blocks.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct collect {
	size_t n;
	size_t total;
	uint8_t last[256];
	size_t last_len;
};

static int on_frame(void *opaque, const uint8_t *f, size_t len)
{
	struct collect *c = opaque;

	c->n++;
	c->total += len;
	c->last_len = len < sizeof(c->last) ? len : sizeof(c->last);
	memcpy(c->last, f, c->last_len);
	return 0;
}

static size_t rec(uint8_t *out, const void *frame, uint32_t len, int vnet)
{
	size_t o = 0;

	out[o++] = (uint8_t)(len >> 24);
	out[o++] = (uint8_t)(len >> 16);
	out[o++] = (uint8_t)(len >> 8);
	out[o++] = (uint8_t)len;
	if (vnet >= 0) {
		out[o++] = 0;
		out[o++] = 0;
		out[o++] = 0;
		out[o++] = (uint8_t)vnet;
	}
	memcpy(out + o, frame, len);
	return o + len;
}

static void test_framer(void)
{
	uint8_t stream[4096], frame[100];
	size_t len = 0;
	struct kvmon_framer_stats st;
	struct kvmon_framer *f = kvmon_framer_new(false);
	struct collect c = { 0 };

	for (int i = 0; i < 100; i++)
		frame[i] = (uint8_t)i;
	for (int i = 1; i <= 10; i++)
		len += rec(stream + len, frame, (uint32_t)(i * 10), -1);
	/* byte by byte */
	for (size_t i = 0; i < len; i++)
		kvmon_framer_feed(f, stream + i, 1, on_frame, &c);
	ok(c.n == 10 && c.total == 550, "byte-at-a-time feed gives 10 frames, 550 bytes");
	/* every two-way split */
	bool all = true;

	for (size_t cut = 0; cut <= len; cut++) {
		struct collect d = { 0 };

		kvmon_framer_feed(f, stream, cut, on_frame, &d);
		kvmon_framer_feed(f, stream + cut, len - cut, on_frame, &d);
		all &= d.n == 10 && d.total == 550 && d.last_len == 100 &&
		       !memcmp(d.last, frame, 100);
	}
	ok(all, "every split of the stream gives the same frames");
	/* length 0 is skipped and counted */
	uint8_t zero[4] = { 0 };

	memset(&c, 0, sizeof(c));
	ok(kvmon_framer_feed(f, zero, 4, on_frame, &c) == 0 && c.n == 0,
	   "length-0 record skipped");
	len = rec(stream, frame, 20, -1);
	kvmon_framer_feed(f, stream, len, on_frame, &c);
	kvmon_framer_stats(f, &st);
	ok(st.zero_len == 1 && c.n == 1, "length 0 counted, stream continues");
	/* oversize: EPROTO */
	uint8_t big[4] = { 0, 1, 0, 0x81 }; /* 65665 = KVMON_NET_MAX_FRAME + 1 */

	int frc = kvmon_framer_feed(f, big, 4, on_frame, &c);
	const char *err = kvmon_get_error();

	ok(frc == -1 && kvmon_get_errno() == EPROTO && strstr(err, "65665"),
	   "length > KVMON_NET_MAX_FRAME refused with a clear error: %s", err);
	kvmon_framer_stats(f, &st);
	ok(st.oversize == 1, "oversize counted");
	/* truncated record, then reset */
	len = rec(stream, frame, 50, -1);
	kvmon_framer_feed(f, stream, 30, on_frame, &c);
	kvmon_framer_reset(f);
	kvmon_framer_stats(f, &st);
	ok(st.truncated == 1, "truncated frame counted on reset");
	memset(&c, 0, sizeof(c));
	kvmon_framer_feed(f, stream, len, on_frame, &c);
	ok(c.n == 1 && c.total == 50, "fresh stream decodes after reset");
	/* a 64 KiB IP packet with its headers (GSO on a tap netdev) is fine */
	uint8_t *huge = calloc(1, KVMON_NET_MAX_FRAME + 4);

	len = rec(huge, huge + 4, KVMON_NET_MAX_FRAME, -1);
	memset(&c, 0, sizeof(c));
	ok(kvmon_framer_feed(f, huge, len, on_frame, &c) == 0 && c.n == 1 &&
		   c.total == KVMON_NET_MAX_FRAME, "a frame of KVMON_NET_MAX_FRAME bytes is accepted");
	free(huge);
	kvmon_framer_free(f);

	/* vnet header variant */
	f = kvmon_framer_new(true);
	memset(&c, 0, sizeof(c));
	len = rec(stream, frame, 60, 12);
	kvmon_framer_feed(f, stream, len, on_frame, &c);
	ok(c.n == 1 && c.total == 48 && c.last[0] == 12,
	   "vnet header stripped (12 of 60 bytes)");
	len = rec(stream, frame, 10, 12);
	kvmon_framer_feed(f, stream, len, on_frame, &c);
	kvmon_framer_stats(f, &st);
	ok(c.n == 1 && st.bad_vnet == 1, "vnet header longer than the frame counted");
	kvmon_framer_free(f);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int drain(struct kvmon_mirror *m, int expect, int timeout_ms)
{
	static uint8_t buf[KVMON_NET_MAX_FRAME];
	struct kvmon_frame_info fi;
	int n = 0;

	while (n < expect && kvmon_mirror_next(m, buf, sizeof(buf), &fi, timeout_ms) == 1)
		n++;
	return n;
}

static void test_receiver(void)
{
	char dir[] = "/tmp/kvmon-tnet-XXXXXX", path[128];
	uint8_t stream[8192], frame[1000] = { 1, 2, 3 };
	struct kvmon_mirror_stats st;
	struct kvmon_mirror *m;
	size_t len = 0;
	int fd, fd2;

	if (!mkdtemp(dir))
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/s", dir);
	m = kvmon_mirror_listen(path, 0, false);
	ok(m != NULL, "receiver listens");
	fd = connect_to(path);
	for (int i = 0; i < 5; i++)
		len += rec(stream + len, frame, 100, -1);
	ok(write(fd, stream, len) == (ssize_t)len, "sender wrote 5 frames");
	ok(drain(m, 5, 2000) == 5, "5 frames received");
	/* A second concurrent sender is refused. */
	fd2 = connect_to(path);
	usleep(100000);
	kvmon_mirror_stats(m, &st);
	ok(st.rejected == 1, "second concurrent sender refused");
	close(fd2);
	/* Receive-only: the sender cannot read anything from us. */
	char x;

	ok(read(fd, &x, 1) == 0, "receiver never writes to the sender (EOF for reads)");
	/* Disconnect in the middle of a frame, reconnect. */
	len = rec(stream, frame, 500, -1);
	ok(write(fd, stream, 200) == 200, "partial frame written");
	close(fd);
	usleep(100000);
	fd = connect_to(path);
	len = rec(stream, frame, 700, -1);
	ok(write(fd, stream, len) == (ssize_t)len, "reconnected sender writes");
	ok(drain(m, 1, 2000) == 1, "frame after reconnect received");
	kvmon_mirror_stats(m, &st);
	ok(st.framing.truncated == 1 && st.connections == 2,
	   "truncated frame counted; 2 connections (truncated=%llu)",
	   (unsigned long long)st.framing.truncated);
	/* Oversize: the receiver drops the connection; the sender reconnects. */
	uint8_t bad[4] = { 0x10, 0, 0, 0 };

	ok(write(fd, bad, 4) == 4, "oversize length sent");
	usleep(100000);
	ok(read(fd, &x, 1) <= 0, "receiver dropped the desynchronised sender");
	close(fd);
	fd = connect_to(path);
	ok(write(fd, stream, len) == (ssize_t)len && drain(m, 1, 2000) == 1,
	   "stream resumes after the sender reconnects");
	kvmon_mirror_stats(m, &st);
	ok(st.framing.oversize == 1, "oversize counted");
	/* A frame lent by next_ref stays intact while the ring fills over it. */
	uint8_t marked[1000];
	const uint8_t *ref = NULL;
	struct kvmon_frame_info rfi;

	memset(marked, 0xa5, sizeof(marked));
	len = rec(stream, marked, sizeof(marked), -1);
	ok(write(fd, stream, len) == (ssize_t)len &&
		   kvmon_mirror_next_ref(m, &ref, &rfi, 2000) == 1 && rfi.len == 1000 &&
		   !memcmp(ref, marked, 1000),
	   "next_ref: the frame, without a copy");
	/* Ring overflow: nobody consumes; the sender is never blocked. */
	len = 0;
	for (int i = 0; i < 8; i++)
		len += rec(stream + len, frame, 1000, -1);
	int64_t sent = 0;

	for (int i = 0; i < 5000; i++)
		if (write(fd, stream, len) == (ssize_t)len)
			sent += 8;
	usleep(300000);
	kvmon_mirror_stats(m, &st);
	ok(sent == 40000, "sender never blocked (40000 frames written)");
	ok(ref && !memcmp(ref, marked, 1000),
	   "the lent frame was not overwritten while the ring overflowed");
	int got = drain(m, 100000, 200);

	kvmon_mirror_stats(m, &st);
	ok(st.dropped > 0 && (int64_t)st.dropped + got == sent,
	   "full ring dropped and counted: %llu dropped + %d delivered = %lld sent",
	   (unsigned long long)st.dropped, got, (long long)sent);
	close(fd);
	ok(kvmon_mirror_close(m) == 0, "receiver closed");
	ok(access(path, F_OK) < 0, "socket removed");
	rmdir(dir);
	ok(kvmon_mirror_listen("/nonexistent-dir/x", 0, false) == NULL &&
		   kvmon_get_errno() == ENOENT,
	   "bad socket path: clear error (%s)", kvmon_get_error());
}

/* Threads of this process under SCHED_BATCH (field 41 of task stat). */
static int batch_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char p[300], buf[1024];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/stat", e->d_name);
		if (!(f = fopen(p, "r")))
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[len] = '\0';
		char *q = strrchr(buf, ')');
		int field = 2;

		for (; q && *q && field < 41; q++)
			if (*q == ' ')
				field++;
		if (q && atoi(q) == SCHED_BATCH)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static int wait_batch_threads(int want)
{
	int n = -1;

	for (int i = 0; i < 100 && (n = batch_threads()) != want; i++)
		usleep(10000);
	return n;
}

/* The receiver thread yields to QEMU's threads (SCHED_BATCH) unless
 * KVMON_MIRROR_SCHED=normal; the caller's own thread is left alone. */
static void test_receiver_sched(void)
{
	char dir[] = "/tmp/kvmon-tnet-XXXXXX", path[128];
	struct kvmon_mirror *m;

	if (!mkdtemp(dir))
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/s", dir);
	ok(batch_threads() == 0, "no SCHED_BATCH thread before the receiver");
	m = kvmon_mirror_listen(path, 0, false);
	ok(m && wait_batch_threads(1) == 1, "the receiver thread runs as SCHED_BATCH");
	ok(sched_getscheduler(0) == SCHED_OTHER, "the caller's thread keeps its policy");
	kvmon_mirror_close(m);
	ok(batch_threads() == 0, "none left after close");
	setenv("KVMON_MIRROR_SCHED", "normal", 1);
	m = kvmon_mirror_listen(path, 0, false);
	usleep(100000);
	ok(m && batch_threads() == 0, "KVMON_MIRROR_SCHED=normal: default policy");
	kvmon_mirror_close(m);
	unsetenv("KVMON_MIRROR_SCHED");
	rmdir(dir);
}

/* Frames keep their order and content across many passes over the ring,
 * whether the consumer empties it (the ring starts over at offset 0) or
 * leaves some behind (it wraps). */
static void test_ring_passes(void)
{
	char dir[] = "/tmp/kvmon-tnet-XXXXXX", path[128];
	static uint8_t stream[64 * 1100];
	uint8_t frame[1000], got[2048];
	struct kvmon_frame_info fi;
	struct kvmon_mirror *m;
	uint32_t next_in = 0, next_out = 0;
	bool in_order = true;
	int fd;

	if (!mkdtemp(dir))
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/s", dir);
	m = kvmon_mirror_listen(path, 256 << 10, false);
	fd = m ? connect_to(path) : -1;
	for (int round = 0; fd >= 0 && round < 400 && in_order; round++) {
		size_t len = 0;

		for (int i = 0; i < 64; i++, next_in++) {
			memset(frame, (int)(next_in & 0xff), sizeof(frame));
			memcpy(frame, &next_in, 4);
			len += rec(stream + len, frame, 900 + (next_in % 100), -1);
		}
		if (write(fd, stream, len) != (ssize_t)len)
			break;
		/* Odd rounds leave 10 frames queued, even rounds empty the ring. */
		uint32_t until = next_in - (round % 2 ? 10 : 0);

		while (next_out < until && in_order) {
			uint32_t seq;

			if (kvmon_mirror_next(m, got, sizeof(got), &fi, 2000) != 1)
				break;
			memcpy(&seq, got, 4);
			in_order = seq == next_out && fi.len == 900 + (seq % 100) &&
				   got[fi.len - 1] == (uint8_t)(seq & 0xff);
			next_out++;
		}
	}
	struct kvmon_mirror_stats st = { 0 };

	if (m)
		kvmon_mirror_stats(m, &st);
	ok(in_order && next_out >= 25600 - 10 && st.dropped == 0,
	   "%u frames through a 256 KiB ring in order and intact, none dropped", next_out);
	if (fd >= 0)
		close(fd);
	kvmon_mirror_close(m);
	rmdir(dir);
}

/* A pcap file header and records as QEMU's filter-dump writes them (the
 * writer's byte order); swap writes the other order. */
static void put32(uint8_t *p, uint32_t v, bool swap)
{
	if (swap)
		v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
}

static size_t pcap_hdr(uint8_t *out, uint32_t magic, uint32_t linktype, bool swap)
{
	memset(out, 0, 24);
	put32(out, magic, swap);
	out[4] = 2;
	out[6] = 4;
	put32(out + 16, 65536, swap);
	put32(out + 20, linktype, swap);
	return 24;
}

static size_t pcap_rec(uint8_t *out, const void *frame, uint32_t caplen, uint32_t len,
		       bool swap)
{
	memset(out, 0, 8);
	put32(out + 8, caplen, swap);
	put32(out + 12, len, swap);
	memcpy(out + 16, frame, caplen);
	return 16 + caplen;
}

static void test_pcap_framer(void)
{
	uint8_t stream[4096], frame[100];
	struct kvmon_framer_stats st;
	struct kvmon_framer *f = kvmon_framer_new_pcap();
	struct collect c = { 0 };
	size_t len = 0;
	bool all = true;

	for (int i = 0; i < 100; i++)
		frame[i] = (uint8_t)(100 - i);
	len = pcap_hdr(stream, 0xa1b2c3d4u, 1, false);
	for (int i = 1; i <= 10; i++)
		len += pcap_rec(stream + len, frame, (uint32_t)(i * 10), (uint32_t)(i * 10), false);
	for (size_t cut = 0; cut <= len; cut++) {
		struct collect d = { 0 };

		kvmon_framer_reset(f); /* each pass is a new sender: header first */
		kvmon_framer_feed(f, stream, cut, on_frame, &d);
		kvmon_framer_feed(f, stream + cut, len - cut, on_frame, &d);
		all &= d.n == 10 && d.total == 550 && d.last_len == 100 &&
		       !memcmp(d.last, frame, 100);
	}
	ok(all, "pcap stream: every split gives the same 10 frames");
	kvmon_framer_reset(f);
	for (size_t i = 0; i < len; i++)
		kvmon_framer_feed(f, stream + i, 1, on_frame, &c);
	ok(c.n == 10 && c.total == 550, "pcap stream byte at a time: 10 frames, 550 bytes");
	kvmon_framer_free(f);

	/* the other byte order, and the nanosecond magic */
	static const struct { uint32_t magic; bool swap; const char *what; } v[] = {
		{ 0xa1b2c3d4u, true, "swapped byte order" },
		{ 0xa1b23c4du, false, "nanosecond magic" },
		{ 0xa1b23c4du, true, "nanosecond magic, swapped" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		f = kvmon_framer_new_pcap();
		memset(&c, 0, sizeof(c));
		len = pcap_hdr(stream, v[i].magic, 1, v[i].swap);
		len += pcap_rec(stream + len, frame, 60, 60, v[i].swap);
		ok(f && kvmon_framer_feed(f, stream, len, on_frame, &c) == 0 && c.n == 1 &&
			   c.total == 60 && !memcmp(c.last, frame, 60), "pcap: %s", v[i].what);
		kvmon_framer_free(f);
	}
	/* not pcap, not Ethernet */
	f = kvmon_framer_new_pcap();
	memset(&c, 0, sizeof(c));
	memcpy(stream, "GET / HTTP/1.0\r\n\r\nxxxxxxxxxx", 24);
	int rc = kvmon_framer_feed(f, stream, 24, on_frame, &c);
	ok(rc == -1 && kvmon_get_errno() == EPROTO && strstr(kvmon_get_error(), "not a pcap"),
	   "not a pcap stream: EPROTO (%s)", kvmon_get_error());
	kvmon_framer_reset(f);
	len = pcap_hdr(stream, 0xa1b2c3d4u, 113, false);
	rc = kvmon_framer_feed(f, stream, len, on_frame, &c);
	ok(rc == -1 && strstr(kvmon_get_error(), "link type 113"),
	   "link type other than Ethernet: EPROTO (%s)", kvmon_get_error());
	/* oversize caplen, zero caplen, snapped record */
	kvmon_framer_reset(f);
	len = pcap_hdr(stream, 0xa1b2c3d4u, 1, false);
	len += pcap_rec(stream + len, frame, 0, 0, false);
	len += pcap_rec(stream + len, frame, 40, 1500, false);
	memset(&c, 0, sizeof(c));
	rc = kvmon_framer_feed(f, stream, len, on_frame, &c);
	kvmon_framer_stats(f, &st);
	ok(rc == 0 && c.n == 1 && c.total == 40 && st.zero_len == 1 && st.snapped == 1,
	   "caplen 0 skipped, caplen < len delivered and counted as snapped");
	uint8_t big[16] = { 0 };

	put32(big + 8, KVMON_NET_MAX_FRAME + 1, false);
	put32(big + 12, KVMON_NET_MAX_FRAME + 1, false);
	rc = kvmon_framer_feed(f, big, 16, on_frame, &c);
	kvmon_framer_stats(f, &st);
	ok(rc == -1 && st.oversize == 1 && strstr(kvmon_get_error(), "65665"),
	   "caplen > KVMON_NET_MAX_FRAME: EPROTO, counted (%s)", kvmon_get_error());
	/* a record cut by the end of the stream */
	kvmon_framer_reset(f);
	len = pcap_hdr(stream, 0xa1b2c3d4u, 1, false);
	len += pcap_rec(stream + len, frame, 80, 80, false);
	kvmon_framer_feed(f, stream, len - 10, on_frame, &c);
	kvmon_framer_reset(f);
	kvmon_framer_stats(f, &st);
	ok(st.truncated == 1, "pcap record cut by the end of the stream counted");
	kvmon_framer_free(f);
}

int main(void)
{
	test_framer();
	test_pcap_framer();
	test_receiver();
	test_receiver_sched();
	test_ring_passes();
	return tap_done();
}
