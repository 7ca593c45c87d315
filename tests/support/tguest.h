/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test harness for the bundled guest: start it under the test root (so
 * the leak check can prove nothing is left), wait for it, talk to its
 * test-control channel, and stop everything on exit or on a signal.
 */
#ifndef KVMON_TGUEST_H
#define KVMON_TGUEST_H

#include "kvmon.h"

#include <stdbool.h>
#include <stddef.h>

/* Exit code meson counts as "skipped" (never counted as passed). */
#define TEST_SKIP 77

/* Root for all temporary state of the test run ($KVMON_TEST_ROOT). */
const char *tguest_root(void);
/* Bundled guest available? If not, and $KVMON_REQUIRE_GUEST is set, the
 * test must fail instead of skipping. */
bool tguest_available(void);
/* Exit unless the bundled guest is built: skip (77), or fail when
 * $KVMON_REQUIRE_GUEST is set (CI), so a missing guest never passes. */
void tguest_require(void);
/* Start the bundled guest (tag names it) and wait until it is ready. */
struct kvmon_vm *tguest_start(const char *tag);
/* Stop a guest started with tguest_start; 0 if everything went away. */
int tguest_stop(struct kvmon_vm *vm);

struct tctl;
struct tctl *tctl_open(struct kvmon_vm *vm);
void tctl_close(struct tctl *c);
/* Run a shell command in the guest. Returns its exit status (0..255) and
 * its output in *out (malloc'd, NUL-terminated), or -1 on failure. */
int tctl_run(struct tctl *c, const char *cmd, char **out, int timeout_ms);
/* tctl_run with a 60 s limit that prints the output as a TAP diagnostic
 * when the command fails; returns its exit status. */
int tctl_check(struct tctl *c, const char *cmd);

/* Base64 (OpenSSL) for the control protocol; exposed for unit tests. */
char *tb64_encode(const void *data, size_t len);
void *tb64_decode(const char *text, size_t *len);

/* Is dir a mount point of this process's mount namespace (mountinfo)? */
bool tguest_mounted(const char *dir);
/* A tap netdev "tapnet" (vnet_hdr=on, as libvirt sets one up) and a virtio
 * NIC "tapnic" hot-added to the running vm: the host side is <net>.1/24
 * on a tap named <prefix><pid>, the guest side <net>.2 (configured
 * through c). net receives "10.x.y", a subnet of this process. The tap is
 * removed at exit. 0, or -1 with a message on stderr. */
int tguest_add_tap(struct kvmon_vm *vm, struct tctl *c, const char *prefix, char net[16]);

#endif
