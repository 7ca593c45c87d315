// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Mirror source for tap netdevs that costs QEMU nothing: a packet socket
 * on the host side of the VM's tap interface sees every frame the guest
 * sends (incoming on the tap) and every frame sent to it (outgoing), once
 * each, in the kernel, without QEMU's netfilters, so also for a netdev
 * with vhost=on, which QEMU's filters refuse. Frames arrive whole, without
 * virtio-net header. Receive-only: nothing is ever sent on the socket.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RCVBUF_BYTES (8 << 20)

struct packet_batch {
	struct mmsghdr msg[PACKET_BATCH];
	struct iovec iov[PACKET_BATCH];
	uint8_t *bufs;            /* PACKET_BATCH x KVMON_NET_MAX_FRAME */
};

int packet_open(const char *ifname)
{
	unsigned idx = if_nametoindex(ifname);
	struct sockaddr_ll sa = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL) };
	int sz = RCVBUF_BYTES, fd;

	if (!idx)
		return kvmon_set_error(errno, "interface %s: %s", ifname, strerror(errno));
	/* Protocol 0: the socket receives nothing until bound to the tap,
	 * so no frame of another interface slips in before bind(). */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kvmon_set_error(errno, "packet socket: %s", strerror(errno));
	sa.sll_ifindex = (int)idx;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return kvmon_set_error(e, "packet socket on %s: %s", ifname, strerror(e));
	}
	/* Bursts must wait here while the receiver sleeps between batches;
	 * SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

struct packet_batch *packet_batch_new(void)
{
	struct packet_batch *b = calloc(1, sizeof(*b));

	if (b && !(b->bufs = malloc((size_t)PACKET_BATCH * KVMON_NET_MAX_FRAME))) {
		free(b);
		b = NULL;
	}
	if (!b) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	/* recvmmsg only writes msg_len and the flags: set up once */
	for (unsigned i = 0; i < PACKET_BATCH; i++) {
		b->iov[i].iov_base = b->bufs + (size_t)i * KVMON_NET_MAX_FRAME;
		b->iov[i].iov_len = KVMON_NET_MAX_FRAME;
		b->msg[i].msg_hdr.msg_iov = &b->iov[i];
		b->msg[i].msg_hdr.msg_iovlen = 1;
	}
	return b;
}

void packet_batch_free(struct packet_batch *b)
{
	if (b)
		free(b->bufs);
	free(b);
}

int packet_recv(int fd, struct packet_batch *b)
{
	int n = recvmmsg(fd, b->msg, PACKET_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return kvmon_set_error(errno, "packet socket: %s", strerror(errno));
	return n;
}

const uint8_t *packet_frame(const struct packet_batch *b, unsigned i, size_t *len)
{
	*len = b->msg[i].msg_len;
	return b->bufs + (size_t)i * KVMON_NET_MAX_FRAME;
}

unsigned packet_drops(int fd)
{
	struct tpacket_stats st = { 0 };
	socklen_t len = sizeof(st);

	/* Reading the counters resets them. */
	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return 0;
	return st.tp_drops;
}

/* Does fdinfo file `path` describe a tun/tap descriptor attached to
 * ifname ("iff:\t<name>" line)? */
static bool fd_is_tap(const char *path, const char *ifname)
{
	char want[32], *text = kvmon_read_file(path, 4096, NULL);
	bool yes;

	if (!text)
		return false;
	snprintf(want, sizeof(want), "iff:\t%s\n", ifname);
	yes = strstr(text, want) != NULL;
	free(text);
	return yes;
}

/*
 * The name QEMU reports is only a name: listen on it only if it is the tap
 * that process `pid` holds (a tun descriptor attached to it in
 * /proc/PID/fdinfo) and that process shares our network namespace, so a
 * QEMU in another namespace never gets another interface of the same name
 * mirrored in its place.
 */
bool packet_tap_of(pid_t pid, const char *ifname)
{
	char path[64];
	struct stat a, b;
	DIR *d;
	struct dirent *e;
	bool found = false;
	unsigned seen = 0;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &a) < 0 || stat("/proc/self/ns/net", &b) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	if (!(d = opendir(path)))
		return false;
	while (!found && seen++ < 65536 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%.16s", (int)pid, e->d_name);
		found = fd_is_tap(path, ifname);
	}
	closedir(d);
	return found;
}
