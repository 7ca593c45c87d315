/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The live backends that talk to QEMU (process, qmp) and kvmon_qmp_gva2gpa
 * against a scripted fake QEMU: a QMP server thread in this process. Its
 * "guest RAM" is a buffer here, so gpa2hva answers with addresses in this
 * process and process_vm_readv reads ourselves (the QMP peer pid is ours).
 * Then the fake lies: wrong block names, inconsistent or bogus host
 * addresses, xp output with wrong addresses, garbage, failures.
 */
#define _GNU_SOURCE
#include "mem/mem_internal.h"
#include "../tap.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RAM_SIZE (2u << 20)

enum mode {
	M_NORMAL,      /* pc.ram: 0-640K and 1M-2M */
	M_NUMA,        /* m0: 0-1M, m1: 1M-2M, contiguous, different buffers */
	M_FILE,        /* a shared memory-backend-file: auto picks "file" */
	M_HVA_BLOCK,   /* gpa2hva names another block */
	M_HVA_SKEW,    /* second range disagrees on the block's base */
	M_HVA_BOGUS,   /* host address not mapped in QEMU (us) */
	M_HVA_GARBAGE, /* unparsable reply */
	M_HVA_UNMAPPED,/* "No memory is mapped" */
	M_XP_ADDR,     /* xp lines carry the wrong address */
	M_XP_SHORT,    /* xp returns fewer words than asked */
	M_XP_FAIL,     /* xp says "Cannot access memory" */
	M_NO_RAM,      /* mtree without RAM of a memory backend */
};

static uint8_t *ram, *ram2;
static enum mode mode;
static char gva_reply[256];

struct server {
	int fd;
	pthread_t th;
};

static void srv_send(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* One request line (QMP requests from kvmon are single lines). */
static struct json_object *srv_request(int fd)
{
	static char line[65536];
	size_t len = 0;

	while (len < sizeof(line) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 5000) <= 0 || read(fd, line + len, 1) != 1)
			return NULL;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	return json_tokener_parse(line);
}

static void reply(int fd, struct json_object *req, struct json_object *ret)
{
	struct json_object *o = json_object_new_object(), *id;

	json_object_object_add(o, "return", ret);
	if (json_object_object_get_ex(req, "id", &id))
		json_object_object_add(o, "id", json_object_get(id));
	srv_send(fd, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	srv_send(fd, "\r\n");
	json_object_put(o);
}

static const char *mtree(void)
{
	switch (mode) {
	case M_NUMA:
		return "FlatView #0\r\n AS \"memory\", root: system\r\n"
		       "  0000000000000000-00000000000fffff (prio 0, ram): m0\r\n"
		       "  0000000000100000-00000000001fffff (prio 0, ram): m1\r\n";
	case M_FILE:
		return "FlatView #0\r\n AS \"memory\", root: system\r\n"
		       "  0000000000000000-00000000001fffff (prio 0, ram): mem\r\n";
	case M_NO_RAM:
		return "FlatView #0\r\n AS \"memory\", root: system\r\n"
		       "  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\r\n";
	default:
		return "FlatView #0\r\n AS \"memory\", root: system\r\n"
		       "  0000000000000000-000000000009ffff (prio 0, ram): pc.ram\r\n"
		       "  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\r\n"
		       "  0000000000100000-00000000001fffff (prio 0, ram): pc.ram @0000000000100000\r\n"
		       "  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\r\n";
	}
}

/* Where the fake keeps guest-physical gpa (NULL: not RAM). */
static uint8_t *backing(uint64_t gpa, const char **block)
{
	if (gpa >= RAM_SIZE || (mode == M_NORMAL && gpa >= 0xa0000 && gpa < 0x100000))
		return NULL;
	if (mode == M_NUMA) {
		*block = gpa < 0x100000 ? "m0" : "m1";
		return gpa < 0x100000 ? ram + gpa : ram2 + (gpa - 0x100000);
	}
	*block = mode == M_FILE ? "mem" : "pc.ram";
	return ram + gpa;
}

static char *gpa2hva(uint64_t gpa)
{
	const char *block = "pc.ram";
	uint8_t *p = backing(gpa, &block);
	char *s = NULL;

	if (mode == M_HVA_UNMAPPED || !p)
		return strdup("No memory is mapped at address 0x0\r\n");
	if (mode == M_HVA_GARBAGE)
		return strdup("Host virtual address for \x01\x02 garbage\r\n");
	if (mode == M_HVA_BLOCK)
		block = "other";
	if (mode == M_HVA_SKEW && gpa > 0)
		p += 4096;
	if (mode == M_HVA_BOGUS)
		/* 128 TiB: past 4-level user space, and no sanitizer shadow */
		p = (uint8_t *)(uintptr_t)(0x800000000000ull + gpa);
	if (asprintf(&s, "Host virtual address for 0x%" PRIx64 " (%s) is %p\r\n",
		     gpa, block, (void *)p) < 0)
		return NULL;
	return s;
}

static char *xp(unsigned n, uint64_t gpa)
{
	size_t cap = (size_t)n * 32 + 64, len = 0;
	char *s = malloc(cap);

	for (unsigned i = 0; i < n; i++) {
		uint64_t a = gpa + 8ull * i, w = 0;
		const char *block;
		uint8_t *p = backing(a, &block);

		if (i % 2 == 0)
			len += (size_t)snprintf(s + len, cap - len, "%016" PRIx64 ":",
						mode == M_XP_ADDR ? a + 8 : a);
		if (!p || (mode == M_XP_FAIL && i == 3)) {
			len += (size_t)snprintf(s + len, cap - len,
						" Cannot access memory\r\n");
			break;
		}
		if (mode == M_XP_SHORT && i == n - 1)
			break;
		memcpy(&w, p, 8);
		len += (size_t)snprintf(s + len, cap - len, " 0x%016" PRIx64 "%s", w,
					i % 2 ? "\r\n" : "");
	}
	s[len] = '\0';
	return s;
}

static char *hmp(const char *cmd)
{
	unsigned long long a = 0;
	unsigned n = 0;

	if (!strcmp(cmd, "info mtree -f"))
		return strdup(mtree());
	if (sscanf(cmd, "gpa2hva 0x%llx", &a) == 1)
		return gpa2hva(a);
	if (sscanf(cmd, "xp /%ugx 0x%llx", &n, &a) == 2 && n > 0 && n <= 65536)
		return xp(n, a);
	if (!strncmp(cmd, "gva2gpa ", 8))
		return strdup(gva_reply);
	return strdup("unknown command\r\n");
}

static struct json_object *memdevs(void)
{
	struct json_object *a = json_object_new_array();
	const char *ids[2] = { "pc.ram", NULL };

	if (mode == M_NUMA) {
		ids[0] = "m0";
		ids[1] = "m1";
	} else if (mode == M_FILE) {
		ids[0] = "mem";
	}
	for (int i = 0; i < 2 && ids[i]; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(ids[i]));
		json_object_object_add(o, "size", json_object_new_int64(1 << 20));
		json_object_object_add(o, "share", json_object_new_boolean(mode == M_FILE));
		json_object_array_add(a, o);
	}
	return a;
}

static void *srv_main(void *arg)
{
	struct server *s = arg;
	struct json_object *req;

	srv_send(s->fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, "
			"\"minor\": 2, \"major\": 7}, \"package\": \"\"}, "
			"\"capabilities\": []}}\r\n");
	while ((req = srv_request(s->fd))) {
		struct json_object *ex, *args, *v;
		const char *cmd = "";

		if (json_object_object_get_ex(req, "execute", &ex))
			cmd = json_object_get_string(ex);
		json_object_object_get_ex(req, "arguments", &args);
		if (!strcmp(cmd, "human-monitor-command") &&
		    json_object_object_get_ex(args, "command-line", &v)) {
			char *out = hmp(json_object_get_string(v));

			reply(s->fd, req, json_object_new_string(out ? out : ""));
			free(out);
		} else if (!strcmp(cmd, "query-memdev")) {
			reply(s->fd, req, memdevs());
		} else if (!strcmp(cmd, "qom-get") &&
			   json_object_object_get_ex(args, "property", &v)) {
			const char *p = json_object_get_string(v);

			if (!strcmp(p, "type"))
				reply(s->fd, req, json_object_new_string(
					mode == M_FILE ? "memory-backend-file"
						       : "memory-backend-ram"));
			else /* mem-path: a file that is not there */
				reply(s->fd, req, json_object_new_string(
					"/nonexistent/kvmon-fake.ram"));
		} else {
			reply(s->fd, req, json_object_new_object());
		}
		json_object_put(req);
	}
	close(s->fd);
	return NULL;
}

static struct server srv;

static struct kvmon_vm *fake_vm(enum mode m)
{
	struct kvmon_vm *vm = calloc(1, sizeof(*vm));
	int sv[2];

	mode = m;
	if (!vm || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair");
	snprintf(vm->name, sizeof(vm->name), "fake");
	vm->pid = -1;
	vm->http_port = -1;
	srv.fd = sv[1];
	pthread_create(&srv.th, NULL, srv_main, &srv);
	vm->qmp = kvmon_qmp_connect_fd(sv[0], 5000);
	if (!vm->qmp)
		bail("connect: %s", kvmon_get_error());
	return vm;
}

static void fake_done(struct kvmon_vm *vm)
{
	kvmon_vm_close(vm);
	pthread_join(srv.th, NULL);
}

/* Open a backend on a lying fake: must fail with errno err. */
static void expect_fail(enum mode m, const char *backend, int err,
			const char *what)
{
	struct kvmon_vm *vm = fake_vm(m);
	struct kvmon_mem *mem = kvmon_mem_open_backend(vm, backend);
	int got = kvmon_get_errno();

	ok(!mem && got == err, "%s: refused (errno %d)", what, got);
	diag("%s", kvmon_get_error());
	kvmon_mem_close(mem);
	fake_done(vm);
}

static void test_process(void)
{
	struct kvmon_vm *vm = fake_vm(M_NORMAL);
	struct kvmon_mem *m = kvmon_mem_open(vm);
	uint8_t buf[0x2000];
	uint64_t at = 0;
	struct kvmon_ram_range r[4];
	size_t n = 0;

	ok(m && !strcmp(kvmon_mem_backend(m), "process"),
	   "no shared RAM file: kvmon_mem_open picks 'process' (%s)",
	   m ? kvmon_mem_backend(m) : kvmon_get_error());
	if (!m) {
		fake_done(vm);
		return;
	}
	ok(kvmon_mem_size(m) == 0xa0000 + 0x100000 &&
		   kvmon_mem_ranges(m, r, 4, &n) == 0 && n == 2 &&
		   r[1].gpa == 0x100000 && !strcmp(r[1].backend, "pc.ram"),
	   "ranges of pc.ram only (no VGA hole, no BIOS ROM)");
	ok(kvmon_mem_read_phys(m, 0x100000, buf, sizeof(buf)) == 0 &&
		   !memcmp(buf, ram + 0x100000, sizeof(buf)),
	   "process_vm_readv at the host address gpa2hva gave");
	ok(kvmon_mem_read_phys(m, 0x9fff0, buf, 32) < 0 && kvmon_get_errno() == EFAULT,
	   "read into the VGA hole: EFAULT");
	{
		struct kvmon_phys_iov iov[3] = {
			{ 0x10, buf, 100 }, { 0x1ffff0, buf + 100, 16 },
			{ 0x9ff00, buf + 116, 256 },
		};

		ok(kvmon_mem_readv(m, iov, 3) == 0 && !memcmp(buf, ram + 0x10, 100) &&
			   !memcmp(buf + 100, ram + 0x1ffff0, 16) &&
			   !memcmp(buf + 116, ram + 0x9ff00, 256),
		   "kvmon_mem_readv: three pieces in one batch");
	}
	ok(kvmon_mem_find(m, 0, "FAKE-NEEDLE", 11, &at) == 1 && at == 0x1ffff0,
	   "find through process_vm_readv (chunked)");
	kvmon_mem_close(m);
	m = kvmon_mem_open_backend(vm, "file");
	ok(!m && kvmon_get_errno() == ENOTSUP,
	   "'file' on a VM without a shared file: ENOTSUP, clear message");
	diag("%s", kvmon_get_error());
	m = kvmon_mem_open_backend(vm, "tape");
	ok(!m && kvmon_get_errno() == EINVAL, "unknown backend name: EINVAL");
	vm->pid = getpid() + 1;
	m = kvmon_mem_open_backend(vm, "process");
	ok(!m && kvmon_get_errno() == ESRCH,
	   "QMP peer is not the recorded QEMU pid: refused");
	fake_done(vm);

	/* Two RAM blocks back to back: one read crosses them. */
	vm = fake_vm(M_NUMA);
	m = kvmon_mem_open_backend(vm, "process");
	ok(m && kvmon_mem_size(m) == RAM_SIZE, "two memory backends (NUMA-like)");
	ok(m && kvmon_mem_read_phys(m, 0xff000, buf, 0x2000) == 0 &&
		   !memcmp(buf, ram + 0xff000, 0x1000) && !memcmp(buf + 0x1000, ram2, 0x1000),
	   "a read crossing two blocks (one process_vm_readv, two iovecs)");
	kvmon_mem_close(m);
	fake_done(vm);

	vm = fake_vm(M_FILE);
	m = kvmon_mem_open_backend(vm, "file");
	ok(!m && kvmon_get_errno() == ENOENT,
	   "shared RAM file announced but not there: 'file' fails (ENOENT)");
	m = kvmon_mem_open(vm);
	ok(m && !strcmp(kvmon_mem_backend(m), "process"),
	   "... kvmon_mem_open falls back to 'process'");
	kvmon_mem_close(m);
	vm->pid = getpid() + 1;
	m = kvmon_mem_open(vm);
	ok(!m && kvmon_get_errno() == ENOENT && strstr(kvmon_get_error(), "open") &&
		   strstr(kvmon_get_error(), "process backend"),
	   "both failing: the file's error, with the process backend's");
	diag("%s", kvmon_get_error());
	fake_done(vm);

	expect_fail(M_HVA_BLOCK, "process", EPROTO, "gpa2hva names another block");
	expect_fail(M_HVA_SKEW, "process", EPROTO,
		    "ranges of one block disagree on its host address");
	expect_fail(M_HVA_BOGUS, "process", EFAULT,
		    "host address not mapped in QEMU");
	expect_fail(M_HVA_GARBAGE, "process", EPROTO, "gpa2hva garbage");
	expect_fail(M_HVA_UNMAPPED, "process", EFAULT, "gpa2hva: not mapped");
	expect_fail(M_NO_RAM, "process", EPROTO, "layout without RAM");
}

static void test_qmp(void)
{
	struct kvmon_vm *vm = fake_vm(M_NORMAL);
	struct kvmon_mem *m = kvmon_mem_open_backend(vm, "qmp");
	uint8_t buf[0x12000];
	uint64_t at = 0;

	ok(m && !strcmp(kvmon_mem_backend(m), "qmp"), "qmp backend opens");
	if (!m) {
		fake_done(vm);
		return;
	}
	ok(kvmon_mem_read_phys(m, 0x1003, buf, 21) == 0 && !memcmp(buf, ram + 0x1003, 21),
	   "unaligned read (0x1003, 21 bytes) through xp");
	ok(kvmon_mem_read_phys(m, 0x100005, buf, sizeof(buf)) == 0 &&
		   !memcmp(buf, ram + 0x100005, sizeof(buf)),
	   "72 KiB read: two xp commands, unaligned edges");
	ok(kvmon_mem_find(m, 0x100000, "FAKE-NEEDLE", 11, &at) == 1 && at == 0x1ffff0,
	   "find through xp");
	kvmon_mem_close(m);
	fake_done(vm);

	struct { enum mode m; int err; const char *what; } bad[] = {
		{ M_XP_ADDR, EPROTO, "xp lines with wrong addresses" },
		{ M_XP_SHORT, EPROTO, "xp returns fewer words" },
		{ M_XP_FAIL, EFAULT, "xp: Cannot access memory" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct kvmon_mem *q;

		vm = fake_vm(M_NORMAL);
		q = kvmon_mem_open_backend(vm, "qmp");
		mode = bad[i].m; /* lie only after the open */
		ok(q && kvmon_mem_read_phys(q, 0x1000, buf, 64) < 0 &&
			   kvmon_get_errno() == bad[i].err,
		   "%s: read fails (errno %d)", bad[i].what, kvmon_get_errno());
		kvmon_mem_close(q);
		fake_done(vm);
	}
}

static void test_gva2gpa(void)
{
	struct kvmon_vm *vm = fake_vm(M_NORMAL);
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	uint64_t gpa = 0;

	snprintf(gva_reply, sizeof(gva_reply), "gpa: 0x1a2b000\r\n");
	ok(kvmon_qmp_gva2gpa(q, 0xffffffff81000000ull, &gpa) == 0 && gpa == 0x1a2b000,
	   "gva2gpa through QMP");
	snprintf(gva_reply, sizeof(gva_reply), "Unmapped\r\n");
	ok(kvmon_qmp_gva2gpa(q, 0x1000, &gpa) < 0 && kvmon_get_errno() == EFAULT &&
		   strstr(kvmon_get_error(), "0x1000"),
	   "gva2gpa: unmapped -> EFAULT naming the address");
	snprintf(gva_reply, sizeof(gva_reply), "gpa: 0xzz\x7f\r\n");
	ok(kvmon_qmp_gva2gpa(q, 0x1000, &gpa) < 0 && kvmon_get_errno() == EPROTO,
	   "gva2gpa: garbage -> EPROTO");
	ok(kvmon_qmp_gva2gpa(NULL, 0, &gpa) < 0 && kvmon_get_errno() == EINVAL,
	   "gva2gpa: no QMP -> EINVAL");
	fake_done(vm);
}

int main(void)
{
	ram = malloc(RAM_SIZE);
	ram2 = malloc(RAM_SIZE);
	if (!ram || !ram2)
		bail("out of memory");
	for (size_t i = 0; i < RAM_SIZE; i++) {
		ram[i] = (uint8_t)(i * 7 + (i >> 11));
		ram2[i] = (uint8_t)(i * 13 + 1);
	}
	memcpy(ram + 0x1ffff0, "FAKE-NEEDLE", 11);
	test_process();
	test_qmp();
	test_gva2gpa();
	free(ram);
	free(ram2);
	return tap_done();
}
