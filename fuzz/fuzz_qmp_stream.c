/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: arbitrary bytes from a "QEMU" to the QMP client. The input is
 * the whole server stream (greeting, replies, events); the client runs the
 * handshake, a command and an event poll over a socketpair.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_qmp *q;
	int sv[2];
	char *out = NULL;

	if (size > (1u << 20) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* Bigger than the input: the write never blocks. */
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 4 << 20 }, sizeof(int));
	if (size && write(sv[1], data, size) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	q = kvmon_qmp_connect_fd(sv[0], 50);
	if (q) {
		kvmon_qmp_set_max_message(q, 64 * 1024);
		if (kvmon_qmp_execute(q, "query-status", NULL, &out) == 0)
			free(out);
		out = NULL;
		while (kvmon_qmp_next_event(q, 0, &out) == 1) {
			free(out);
			out = NULL;
		}
		kvmon_qmp_close(q);
	}
	close(sv[1]);
	return 0;
}
