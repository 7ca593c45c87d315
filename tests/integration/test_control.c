/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test-control channel: ask the guest to create a file, read it back,
 * compare what the guest says with what kvmon sees from outside, reach the
 * guest's web server, then stop the VM cleanly.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tguest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Plain HTTP GET through the forwarded port; returns the response. */
static char *http_get(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	char req[256], *buf = calloc(1, 65536);
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = 20 };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || !buf || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: guest\r\n\r\n", path);
	if (write(fd, req, strlen(req)) < 0)
		goto out;
	for (;;) {
		ssize_t r = read(fd, buf + len, 65535 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

int main(void)
{
	struct kvmon_vm *vm;
	struct tctl *c;
	char *out = NULL, cmd[512], marker[64], *resp;
	int rc;

	tguest_require();
	vm = tguest_start("ctl");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	c = tctl_open(vm);
	ok(c != NULL, "connected to the test-control channel");
	if (!c)
		bail("no control channel");
	rc = tctl_run(c, "echo hello; exit 3", &out, 30000);
	ok(rc == 3 && out && !strcmp(out, "hello\n"),
	   "command output and exit status come back (rc=%d)", rc);
	free(out);
	snprintf(marker, sizeof(marker), "kvmon-%d-%ld", (int)getpid(), random());
	snprintf(cmd, sizeof(cmd),
		 "printf '%%s' '%s' > /root/created-by-test && sync", marker);
	rc = tctl_run(c, cmd, &out, 30000);
	ok(rc == 0, "guest created /root/created-by-test");
	free(out);
	rc = tctl_run(c, "cat /root/created-by-test", &out, 30000);
	ok(rc == 0 && out && !strcmp(out, marker), "file content read back");
	free(out);
	rc = tctl_run(c, "head -c 300000 /dev/urandom | wc -c; "
			 "head -c 4096 /dev/urandom", &out, 60000);
	ok(rc == 0 && out && !strncmp(out, "300000\n", 7),
	   "binary output survives the channel");
	free(out);
	rc = tctl_run(c, "ps -o comm", &out, 30000);
	ok(rc == 0 && out && strstr(out, "httpd") && strstr(out, "crond") &&
		   strstr(out, "syslogd"),
	   "guest services are running (httpd, crond, syslogd)");
	free(out);
	rc = tctl_run(c, "uname -r", &out, 30000);
	if (rc == 0 && out) {
		struct kvmon_mem *m = kvmon_mem_open(vm);
		char banner[64];
		uint64_t at;

		out[strcspn(out, "\n")] = '\0';
		snprintf(banner, sizeof(banner), "Linux version %s", out);
		ok(m && kvmon_mem_find(m, 0, banner, strlen(banner), &at) == 1,
		   "guest's own uname (%s) matches the banner seen in its RAM", out);
		kvmon_mem_close(m);
	} else {
		ok(0, "uname -r in the guest");
	}
	free(out);
	resp = http_get(kvmon_vm_http_port(vm), "/");
	ok(resp && strstr(resp, "200 OK"), "guest web server answers via port %d",
	   kvmon_vm_http_port(vm));
	free(resp);
	tctl_close(c);
	ok(tguest_stop(vm) == 0, "VM stopped cleanly, run state removed");
	return tap_done();
}
