/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE
#include "tguest.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_VMS 8
#define READY_LINE "KVMON-GUEST-READY"
#define CTL_MAX_LINE (4u << 20)

/* Registry of what this process started, for cleanup on exit/signal. */
static struct {
	pid_t pid;
	char dir[PATH_MAX];
	char ram[PATH_MAX];
	struct kvmon_vm *vm;
} started[MAX_VMS];
static bool handlers_installed;

const char *tguest_root(void)
{
	const char *r = getenv("KVMON_TEST_ROOT");

	return r && *r ? r : "/tmp/kvmon-test";
}

static const char *guest_dir(void)
{
	const char *g = getenv("KVMON_GUEST_DIR");

	return g && *g ? g : ".cache/guest";
}

bool tguest_available(void)
{
	static const char *const files[] = { "vmlinuz", "initrd.img",
					     "rootfs.qcow2" };
	char path[PATH_MAX];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", guest_dir(), files[i]);
		if (access(path, R_OK) < 0)
			return false;
	}
	return true;
}

void tguest_require(void)
{
	if (tguest_available())
		return;
	if (getenv("KVMON_REQUIRE_GUEST")) {
		printf("Bail out! bundled guest missing (run guest/build.sh)\n");
		exit(1);
	}
	printf("1..0 # SKIP bundled guest not built\n");
	exit(TEST_SKIP);
}

/* Async-signal-safe part: kill what we started, remove its files. */
static void kill_started(void)
{
	for (int i = 0; i < MAX_VMS; i++) {
		if (started[i].pid > 0)
			kill(started[i].pid, SIGKILL);
		if (started[i].ram[0])
			unlink(started[i].ram);
	}
}

static void remove_dirs(void)
{
	char cmd[PATH_MAX + 32];

	for (int i = 0; i < MAX_VMS; i++) {
		if (!started[i].dir[0])
			continue;
		usleep(100 * 1000); /* let the killed QEMU release files */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", started[i].dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", started[i].dir);
		started[i].dir[0] = '\0';
	}
}

static void on_signal(int sig)
{
	kill_started();
	remove_dirs();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void at_exit(void)
{
	for (int i = 0; i < MAX_VMS; i++)
		if (started[i].vm)
			tguest_stop(started[i].vm);
	kill_started();
	remove_dirs();
}

static void install_handlers(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV,
				    SIGBUS };

	if (handlers_installed)
		return;
	handlers_installed = true;
	atexit(at_exit);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		signal(sigs[i], on_signal);
}

static int slot_for(struct kvmon_vm *vm)
{
	for (int i = 0; i < MAX_VMS; i++)
		if (started[i].vm == vm)
			return i;
	return -1;
}

struct kvmon_vm *tguest_start(const char *tag)
{
	char dir[PATH_MAX], path[PATH_MAX], name[40], memdir[PATH_MAX];
	struct kvmon_vm_config *cfg;
	struct kvmon_vm *vm;
	int slot = slot_for(NULL);

	if (slot < 0)
		return NULL;
	install_handlers();
	mkdir(tguest_root(), 0700);
	snprintf(dir, sizeof(dir), "%s/XXXXXX", tguest_root());
	if (!mkdtemp(dir))
		return NULL;
	snprintf(started[slot].dir, sizeof(started[slot].dir), "%s", dir);
	/* RAM on tmpfs, in a directory the leak check inspects. */
	snprintf(memdir, sizeof(memdir), "/dev/shm/%s",
		 strrchr(tguest_root(), '/') + 1);
	mkdir(memdir, 0700);
	snprintf(name, sizeof(name), "kt%d-%.20s", (int)getpid(), tag);
	cfg = kvmon_vm_config_new(name);
	if (!cfg)
		return NULL;
#define SETF(k, f)                                                          \
	(snprintf(path, sizeof(path), "%s/%s", guest_dir(), f),            \
	 kvmon_vm_config_set(cfg, k, path))
	if (SETF("kernel", "vmlinuz") < 0 || SETF("initrd", "initrd.img") < 0 ||
	    SETF("disk", "rootfs.qcow2") < 0 ||
	    kvmon_vm_config_set(cfg, "append", "console=ttyS0 panic=-1 quiet") < 0 ||
	    kvmon_vm_config_set(cfg, "rundir", dir) < 0 ||
	    kvmon_vm_config_set(cfg, "mem-dir", memdir) < 0 ||
	    kvmon_vm_config_set_int(cfg, "control", 1) < 0 ||
	    kvmon_vm_config_set_int(cfg, "http-port", 0) < 0) {
		kvmon_vm_config_free(cfg);
		return NULL;
	}
#undef SETF
	vm = kvmon_vm_start(cfg);
	kvmon_vm_config_free(cfg);
	if (!vm)
		return NULL;
	started[slot].vm = vm;
	started[slot].pid = kvmon_vm_pid(vm);
	snprintf(started[slot].ram, sizeof(started[slot].ram), "%s",
		 kvmon_vm_path(vm, "ram"));
	if (kvmon_vm_wait_console(vm, READY_LINE, 240000) < 0) {
		fprintf(stderr, "# guest did not become ready: %s\n",
			kvmon_get_error());
		tguest_stop(vm);
		return NULL;
	}
	return vm;
}

int tguest_stop(struct kvmon_vm *vm)
{
	int slot = slot_for(vm), rc;
	pid_t pid = kvmon_vm_pid(vm);

	if (slot < 0 || !vm)
		return -1;
	started[slot].vm = NULL;
	rc = kvmon_vm_stop(vm, 0, 20000);
	if (rc < 0)
		fprintf(stderr, "# stop failed: %s\n", kvmon_get_error());
	if (kill(pid, 0) == 0 && rc == 0) {
		/* A zombie is gone for our purposes; anything else is not. */
		char p[64], buf[512] = "";
		FILE *f;

		snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
		f = fopen(p, "r");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		if (!strstr(buf, ") Z"))
			rc = -1;
	}
	started[slot].pid = 0;
	started[slot].ram[0] = '\0';
	if (rmdir(started[slot].dir) < 0 && errno != ENOENT) {
		fprintf(stderr, "# %s left behind: %s\n", started[slot].dir,
			strerror(errno));
		rc = -1;
	}
	started[slot].dir[0] = '\0';
	return rc;
}

/* ---------------------------------------------------------- base64 */

char *tb64_encode(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

void *tb64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text);
	unsigned char *out;
	int r;

	if (n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	r = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
	if (r < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts '=' padding as zero bytes. */
	if (n >= 1 && text[n - 1] == '=')
		r--;
	if (n >= 2 && text[n - 2] == '=')
		r--;
	out[r] = '\0';
	*len = (size_t)r;
	return out;
}

/* ---------------------------------------------------------- control */

struct tctl {
	int fd;
	unsigned id;
	char *buf;
	size_t len;
};

struct tctl *tctl_open(struct kvmon_vm *vm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = kvmon_vm_path(vm, "control");
	struct tctl *c;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	c->buf = malloc(CTL_MAX_LINE);
	if (!c->buf) {
		tctl_close(c);
		return NULL;
	}
	return c;
}

void tctl_close(struct tctl *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one line (without '\n') into c->buf before the deadline. */
static int read_line(struct tctl *c, long long deadline)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t r;

		if (nl)
			return (int)(nl - c->buf);
		if (c->len >= CTL_MAX_LINE - 1 || left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = read(c->fd, c->buf + c->len, CTL_MAX_LINE - 1 - c->len);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

int tctl_run(struct tctl *c, const char *cmd, char **out, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char *b64 = tb64_encode(cmd, strlen(cmd)), *req;
	unsigned id = ++c->id;
	int n;

	*out = NULL;
	if (!b64)
		return -1;
	n = asprintf(&req, "%u %s\n", id, b64);
	free(b64);
	if (n < 0)
		return -1;
	if (write(c->fd, req, (size_t)n) != n) {
		free(req);
		return -1;
	}
	free(req);
	for (;;) {
		unsigned rid;
		int status, off = 0, l = read_line(c, deadline);
		char *payload;

		if (l < 0)
			return -1;
		c->buf[l] = '\0';
		if (sscanf(c->buf, "%u %d %n", &rid, &status, &off) >= 2 && off > 0 &&
		    rid == id) {
			size_t plen = 0;

			payload = c->buf + off;
			*out = strcmp(payload, "-") ? tb64_decode(payload, &plen)
						    : strdup("");
			memmove(c->buf, c->buf + l + 1, c->len - (size_t)l - 1);
			c->len -= (size_t)l + 1;
			return *out ? status : -1;
		}
		/* Not ours (a stale reply): drop the line. */
		memmove(c->buf, c->buf + l + 1, c->len - (size_t)l - 1);
		c->len -= (size_t)l + 1;
	}
}

bool tguest_mounted(const char *dir)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		char *p = strchr(line, ' ');

		/* field 5 is the mount point */
		for (int i = 0; p && i < 3; i++)
			p = strchr(p + 1, ' ');
		if (p && !strncmp(p + 1, dir, strlen(dir)) &&
		    p[1 + strlen(dir)] == ' ')
			found = true;
	}
	free(line);
	fclose(f);
	return found;
}

int tctl_check(struct tctl *c, const char *cmd)
{
	char *out = NULL;
	int rc = tctl_run(c, cmd, &out, 60000);

	if (rc != 0) { /* each line a TAP diagnostic */
		printf("# guest: %s -> %d:\n", cmd, rc);
		for (char *p = out, *nl; p && *p; p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			printf("#   %.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
		}
		fflush(stdout);
	}
	free(out);
	return rc;
}

static char tap_name[16];

static void tap_cleanup(void)
{
	char cmd[64];

	if (!tap_name[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", tap_name);
	if (system(cmd) != 0)
		fprintf(stderr, "tguest: could not remove %s\n", tap_name);
	tap_name[0] = '\0';
}

int tguest_add_tap(struct kvmon_vm *vm, struct tctl *c, const char *prefix, char net[16])
{
	char cmd[768], *out = NULL;
	int pid = (int)getpid(), rc;
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);

	/* A subnet of this process, so concurrent runs never meet. */
	snprintf(net, 16, "10.%d.%d", 200 + pid % 50, (pid / 50) % 250);
	snprintf(tap_name, sizeof(tap_name), "%.4s%d", prefix, pid % 100000);
	atexit(tap_cleanup);
	snprintf(cmd, sizeof(cmd), "ip tuntap add dev %s mode tap && ip addr add %s.1/24 dev %s "
		 "&& ip link set %s up", tap_name, net, tap_name, tap_name);
	if (system(cmd) != 0) {
		fprintf(stderr, "tguest: cannot create tap %s\n", tap_name);
		tap_name[0] = '\0';
		return -1;
	}
	snprintf(cmd, sizeof(cmd),
		 "{\"type\":\"tap\",\"id\":\"tapnet\",\"ifname\":\"%s\",\"script\":\"no\","
		 "\"downscript\":\"no\",\"vnet_hdr\":true}", tap_name);
	if (kvmon_qmp_execute(q, "netdev_add", cmd, NULL) < 0 ||
	    kvmon_qmp_execute(q, "device_add", "{\"driver\":\"virtio-net-pci\","
			      "\"netdev\":\"tapnet\",\"id\":\"tapnic\","
			      "\"mac\":\"52:54:00:ab:cd:ef\"}", NULL) < 0) {
		fprintf(stderr, "tguest: hot-adding the tap NIC: %s\n", kvmon_get_error());
		return -1;
	}
	/* The guest probes the hot-added NIC on its own; wait for it. */
	snprintf(cmd, sizeof(cmd),
		 "for i in $(seq 100); do d=$(grep -l 52:54:00:ab:cd:ef "
		 "/sys/class/net/*/address 2>/dev/null | cut -d/ -f5); "
		 "[ -n \"$d\" ] && break; sleep 0.1; done; [ -n \"$d\" ] && "
		 "ip addr add %s.2/24 dev $d && ip link set $d up", net);
	rc = tctl_run(c, cmd, &out, 60000);
	if (rc != 0)
		fprintf(stderr, "tguest: guest did not configure the tap NIC: %s\n",
			out ? out : "");
	free(out);
	return rc == 0 ? 0 : -1;
}
