// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The packet source trusts an interface name from QEMU only if that
 * process holds a tun descriptor attached to it and shares our network
 * namespace (packet_tap_of). Real tun devices held by child processes,
 * one of them in a network namespace of its own holding a tap of the same
 * name as one in ours. Needs CAP_NET_ADMIN (as the mirror tests do).
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "net/net_internal.h"
#include "../tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int tun_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A child holding tap `name`, in a new network namespace if own_netns;
 * it reports 'y' (or 'n') on a pipe, then waits to be killed. */
static pid_t holder(const char *name, bool own_netns)
{
	int p[2];
	char c = 'n';

	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();

	if (pid == 0) {
		close(p[0]);
		if ((!own_netns || unshare(CLONE_NEWNET) == 0) && tun_open(name) >= 0)
			c = 'y';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	}
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

int main(void)
{
	char name[IFNAMSIZ], other[IFNAMSIZ], prefix[IFNAMSIZ];
	int self = (int)getpid() % 100000;

	snprintf(name, sizeof(name), "kvp%d", self);
	snprintf(other, sizeof(other), "kvq%d", self);
	snprintf(prefix, sizeof(prefix), "kvp%d", self / 10);

	pid_t here = holder(name, false);

	if (here < 0)
		bail("cannot create tap %s (needs /dev/net/tun and CAP_NET_ADMIN)", name);
	ok(packet_tap_of(here, name), "a process in our namespace holding tap %s: accepted", name);
	ok(!packet_tap_of(here, other), "the same process, another interface name: refused");
	ok(!packet_tap_of(here, prefix), "a prefix of its interface name (%s): refused", prefix);
	ok(!packet_tap_of(getpid(), name), "a process without a tun descriptor: refused");
	ok(!packet_tap_of(0, name) && !packet_tap_of(-1, name), "pid 0 and -1: refused");

	/* Same name, other namespace: the name exists here too (held by
	 * `here`), so only the namespace check can refuse it. */
	pid_t there = holder(name, true);

	ok(there > 0, "a tap named %s in a network namespace of its own", name);
	ok(there > 0 && !packet_tap_of(there, name),
	   "a process in another network namespace holding a tap of that name: refused");

	int fd = packet_open(name);

	ok(fd >= 0, "packet socket on the tap held in our namespace");
	if (fd >= 0)
		close(fd);
	reap(there);
	reap(here);
	ok(!packet_tap_of(here, name), "the process gone: refused");
	bool gone = packet_open(name) < 0 && kvmon_get_errno() == ENODEV;

	ok(gone, "the tap gone with its holder: packet_open fails clearly (%s)",
	   kvmon_get_error());
	return tap_done();
}
