// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A live interface for unmodified IDSes: a TAP device, created inside a
 * network namespace the user chose, on which mirrored frames arrive as
 * received traffic, so `tcpdump -i NAME` works as on a switch's mirror
 * port. Whatever the IDS side transmits on it comes out of the TAP fd,
 * where it is read, dropped and counted: it never reaches the VM.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct kvmon_tap {
	int fd;
	uint64_t tx_dropped, write_dropped;
	uint8_t buf[KVMON_NET_MAX_FRAME];
};

/* In the target namespace: create the TAP, bring it up, keep it quiet. */
static int tap_create(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK), s;

	if (fd < 0)
		return kvmon_set_error(errno, "/dev/net/tun: %s", strerror(errno));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		close(fd);
		return kvmon_set_error(e, "create TAP %s: %s", name, strerror(e));
	}
	/* No IPv6 autoconfiguration chatter from the capture side. */
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	int pf = open(path, O_WRONLY | O_CLOEXEC);

	if (pf >= 0) {
		if (write(pf, "1", 1) < 0) {
			/* best effort */
		}
		close(pf);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP | IFF_PROMISC, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		int e = errno;

		if (s >= 0)
			close(s);
		close(fd);
		return kvmon_set_error(e, "bring %s up: %s", name, strerror(e));
	}
	close(s);
	return fd;
}

struct kvmon_tap *kvmon_tap_open(const char *name, const char *netns)
{
	struct kvmon_tap *t;
	int self = -1, target = -1, fd;

	if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, "..")) {
		kvmon_set_error(EINVAL, "bad interface name");
		return NULL;
	}
	if (netns) {
		char path[PATH_MAX];

		if (!*netns || strchr(netns, '/') || strlen(netns) > 64) {
			kvmon_set_error(EINVAL, "bad network namespace name");
			return NULL;
		}
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (target < 0) {
			kvmon_set_error(errno, "network namespace %s: %s (create it with "
					"ip netns add)", netns, strerror(errno));
			return NULL;
		}
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0 || setns(target, CLONE_NEWNET) < 0) {
			kvmon_set_error(errno, "enter network namespace %s: %s", netns,
					strerror(errno));
			if (self >= 0)
				close(self);
			close(target);
			return NULL;
		}
	}
	fd = tap_create(name);
	if (netns) {
		/* Back to our own namespace; the TAP stays where it was made. */
		if (setns(self, CLONE_NEWNET) < 0)
			abort(); /* cannot continue in the wrong namespace */
		close(self);
		close(target);
	}
	if (fd < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	t->fd = fd;
	return t;
}

/* Read and discard what the IDS side sent: it must never reach the VM. */
static void drain_tx(struct kvmon_tap *t)
{
	for (int i = 0; i < 1024; i++) {
		ssize_t r = read(t->fd, t->buf, sizeof(t->buf));

		if (r < 0)
			break;
		t->tx_dropped++;
	}
}

int kvmon_tap_write(struct kvmon_tap *t, const uint8_t *frame, size_t len)
{
	drain_tx(t);
	if (write(t->fd, frame, len) != (ssize_t)len) {
		if (errno == EAGAIN || errno == ENOBUFS || errno == EINVAL) {
			t->write_dropped++; /* kernel queue full or frame refused */
			return 0;
		}
		return kvmon_set_error(errno, "TAP write: %s", strerror(errno));
	}
	return 0;
}

void kvmon_tap_stats(struct kvmon_tap *t, uint64_t *tx_dropped, uint64_t *write_dropped)
{
	drain_tx(t);
	if (tx_dropped)
		*tx_dropped = t->tx_dropped;
	if (write_dropped)
		*write_dropped = t->write_dropped;
}

void kvmon_tap_close(struct kvmon_tap *t)
{
	if (!t)
		return;
	close(t->fd); /* a non-persistent TAP disappears with its fd */
	free(t);
}
