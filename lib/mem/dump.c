/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Offline guest memory: the "dump" backend (an ELF core from QMP
 * dump-guest-memory, PT_LOAD p_paddr = guest-physical address) and the
 * "raw" backend (file offset = guest-physical address). Both read with
 * pread, never mmap: a dump that shrinks under us gives a read error, not
 * SIGBUS. The ELF headers are hostile input (elf.c).
 *
 * Also making dumps: kvmon_mem_dump() with QEMU writing an ELF core, or
 * kvmon writing a raw image through the live backend.
 */
#define _GNU_SOURCE
#include "mem_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EHDR_SIZE 64
/* Bytes of ELF header + program headers we are willing to read. */
#define MAX_HEADERS (16u << 20)

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = pread(fd, p, len, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kvmon_set_error(errno, "read dump: %s",
					       strerror(errno));
		if (r == 0)
			return kvmon_set_error(EIO, "dump ends at offset 0x%llx "
					       "(truncated since it was opened?)",
					       (unsigned long long)off);
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int dump_readv(struct kvmon_mem *m, const struct kvmon_mem_piece *p,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct kvmon_mem_range *r = p[i].r;
		size_t from_file = 0;

		/* Bytes past p_filesz (up to p_memsz) read as zeros. */
		if (p[i].off < r->avail)
			from_file = r->avail - p[i].off < p[i].len
					    ? (size_t)(r->avail - p[i].off)
					    : p[i].len;
		if (from_file &&
		    pread_all(m->fd, p[i].buf, from_file, r->where + p[i].off) < 0)
			return kvmon_error_prefix("%s", m->what);
		memset(p[i].buf + from_file, 0, p[i].len - from_file);
	}
	return 0;
}

static const struct kvmon_mem_ops dump_ops = { .name = "dump",
					       .readv = dump_readv };
static const struct kvmon_mem_ops raw_ops = { .name = "raw",
					      .readv = dump_readv };

static int open_file(const char *path, uint64_t *size)
{
	struct stat st;
	int fd;

	if (!path || !*path)
		return kvmon_set_error(EINVAL, "no dump file given");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return kvmon_set_error(errno, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return kvmon_set_error(EINVAL, "%s: not a regular, non-empty file",
				       path);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static struct kvmon_mem *open_elf(int fd, uint64_t file_size, const char *path)
{
	uint8_t ehdr[EHDR_SIZE], *hdr = NULL;
	struct kvmon_dump_seg *seg = NULL;
	struct kvmon_mem *m = NULL;
	size_t need = 0, n = 0, max;

	if (pread_all(fd, ehdr, sizeof(ehdr), 0) < 0 ||
	    kvmon_elf_dump_need(ehdr, sizeof(ehdr), &need) < 0)
		goto fail;
	if (need > file_size || need > MAX_HEADERS) {
		kvmon_set_error(EPROTO, "ELF dump: program headers %s",
				need > file_size ? "past the end of the file"
						 : "implausibly far into the file");
		goto fail;
	}
	max = KVMON_DUMP_MAX_SEGMENTS;
	hdr = malloc(need);
	seg = calloc(max, sizeof(*seg));
	if (!hdr || !seg) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto fail;
	}
	if (pread_all(fd, hdr, need, 0) < 0 ||
	    kvmon_parse_elf_dump(hdr, need, file_size, seg, max, &n) < 0)
		goto fail;
	m = kvmon_mem_alloc(&dump_ops, n);
	if (!m)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct kvmon_mem_range *r = &m->ranges[i];

		r->gpa = seg[i].gpa;
		r->size = seg[i].size;
		r->where = seg[i].offset;
		r->avail = seg[i].filesz;
		r->backend_offset = seg[i].offset;
		snprintf(r->block, sizeof(r->block), "dump");
	}
	m->fd = fd;
	fd = -1;
	snprintf(m->what, sizeof(m->what), "dump %.100s", path);
	if (kvmon_mem_finish_ranges(m) < 0) {
		kvmon_mem_close(m);
		m = NULL;
	}
fail:
	if (fd >= 0)
		close(fd);
	free(hdr);
	free(seg);
	if (!m)
		kvmon_error_prefix("%s", path);
	return m;
}

struct kvmon_mem *kvmon_mem_open_raw(const char *path,
				     const struct kvmon_ram_range *layout,
				     size_t n)
{
	struct kvmon_ram_range whole = { 0 };
	struct kvmon_mem *m;
	uint64_t size = 0;
	int fd = open_file(path, &size);

	if (fd < 0)
		return NULL;
	if (!layout) {
		whole.size = size;
		layout = &whole;
		n = 1;
	}
	if (n == 0 || n > KVMON_DUMP_MAX_SEGMENTS) {
		close(fd);
		kvmon_set_error(EINVAL, "raw dump %s: %zu ranges", path, n);
		return NULL;
	}
	m = kvmon_mem_alloc(&raw_ops, n);
	if (!m) {
		close(fd);
		return NULL;
	}
	m->fd = fd;
	snprintf(m->what, sizeof(m->what), "raw dump %.100s", path);
	for (size_t i = 0; i < n; i++) {
		struct kvmon_mem_range *r = &m->ranges[i];

		if (layout[i].gpa > size || layout[i].size > size - layout[i].gpa) {
			kvmon_set_error(EPROTO, "raw dump %s: range 0x%llx+0x%llx "
					"is past the end of the file (0x%llx)",
					path, (unsigned long long)layout[i].gpa,
					(unsigned long long)layout[i].size,
					(unsigned long long)size);
			kvmon_mem_close(m);
			return NULL;
		}
		r->gpa = r->where = r->backend_offset = layout[i].gpa;
		r->size = r->avail = layout[i].size;
		snprintf(r->block, sizeof(r->block), "raw");
	}
	if (kvmon_mem_finish_ranges(m) < 0) {
		kvmon_error_prefix("raw dump %s", path);
		kvmon_mem_close(m);
		return NULL;
	}
	return m;
}

struct kvmon_mem *kvmon_mem_open_dump(const char *path)
{
	uint8_t magic[4];
	uint64_t size = 0;
	int fd = open_file(path, &size);

	if (fd < 0)
		return NULL;
	if (size >= sizeof(magic) && pread_all(fd, magic, 4, 0) == 0 &&
	    !memcmp(magic, "\177ELF", 4))
		return open_elf(fd, size, path);
	close(fd);
	return kvmon_mem_open_raw(path, NULL, 0);
}

/* ---------------------------------------------------------- making dumps */

/* Absolute path of a file that does not exist yet: QEMU's working
 * directory is not ours. Creates it empty (O_EXCL, 0600). */
static int create_new(const char *path, char *abs, size_t size)
{
	char *d = kvmon_strdup(path), *b = kvmon_strdup(path), dir[PATH_MAX];
	int fd, rc = 0;

	if (!d || !b) {
		free(d);
		free(b);
		return -1;
	}
	if (!realpath(dirname(d), dir))
		rc = kvmon_set_error(errno, "%s: %s", path, strerror(errno));
	else if ((size_t)snprintf(abs, size, "%s/%s", strcmp(dir, "/") ? dir : "",
				  basename(b)) >= size)
		rc = kvmon_set_error(ENAMETOOLONG, "%s: path too long", path);
	free(d);
	free(b);
	if (rc < 0)
		return -1;
	fd = open(abs, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return kvmon_set_error(errno, "create %s: %s", abs, strerror(errno));
	return fd;
}

/* Root preparing a file for a QEMU that runs as another user (libvirt's
 * qemu user): hand the empty file to QEMU's uid so it can write it. */
static void give_to_qemu(struct kvmon_vm *vm, int fd)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	pid_t pid = q ? kvmon_qmp_peer_pid(q) : -1;
	char proc[64];
	struct stat st;

	if (geteuid() != 0 || pid <= 0)
		return;
	snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
	if (stat(proc, &st) == 0 && st.st_uid != 0 &&
	    fchown(fd, st.st_uid, st.st_gid) < 0)
		kvmon_log(KVMON_LOG_WARN, "dump: chown to QEMU's uid %u: %s",
			  (unsigned)st.st_uid, strerror(errno));
}

static int dump_elf(struct kvmon_vm *vm, const char *abs, int timeout_ms)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	struct json_object *args;
	char *proto;
	int rc;

	if (!q)
		return -1;
	proto = kvmon_asprintf("file:%s", abs);
	if (!proto)
		return -1;
	args = json_object_new_object();
	json_object_object_add(args, "paging", json_object_new_boolean(0));
	json_object_object_add(args, "protocol", json_object_new_string(proto));
	json_object_object_add(args, "detach", json_object_new_boolean(0));
	free(proto);
	rc = kvmon_qmp_call_timeout(q, "dump-guest-memory", args, NULL,
				    timeout_ms);
	json_object_put(args);
	if (rc < 0)
		return kvmon_error_prefix("dump-guest-memory");
	return 0;
}

static bool vm_running(struct kvmon_qmp *q)
{
	struct json_object *ret = NULL, *v;
	bool running = false;

	if (kvmon_qmp_call(q, "query-status", NULL, &ret) == 0 &&
	    json_object_object_get_ex(ret, "running", &v))
		running = json_object_get_boolean(v);
	json_object_put(ret);
	return running;
}

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return kvmon_set_error(w < 0 ? errno : EIO, "write: %s",
					       strerror(w < 0 ? errno : EIO));
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int dump_raw(struct kvmon_vm *vm, int fd, int64_t deadline)
{
	struct kvmon_mem *m = kvmon_mem_open(vm);
	struct kvmon_qmp *q;
	const size_t chunk = 4u << 20;
	uint8_t *buf = NULL;
	bool resume = false;
	int rc = 0;

	if (!m)
		return -1;
	q = kvmon_vm_qmp(vm);
	if (q && vm_running(q)) {
		if (kvmon_qmp_call(q, "stop", NULL, NULL) < 0) {
			kvmon_mem_close(m);
			return kvmon_error_prefix("pausing the VM");
		}
		resume = true;
	}
	buf = malloc(chunk);
	if (!buf)
		rc = kvmon_set_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < m->nranges && rc == 0; i++) {
		const struct kvmon_mem_range *r = &m->ranges[i];

		for (uint64_t off = 0; off < r->size && rc == 0;) {
			size_t n = r->size - off < chunk ? (size_t)(r->size - off)
							 : chunk;

			if (kvmon_now_ms() > deadline)
				rc = kvmon_set_error(ETIMEDOUT, "raw dump timed out");
			else if (kvmon_mem_read_phys(m, r->gpa + off, buf, n) < 0 ||
				 write_all(fd, buf, n, r->gpa + off) < 0)
				rc = -1;
			off += n;
		}
	}
	if (rc == 0 && ftruncate(fd, (off_t)kvmon_mem_ram_end(m)) < 0)
		rc = kvmon_set_error(errno, "truncate: %s", strerror(errno));
	if (rc == 0 && fsync(fd) < 0)
		rc = kvmon_set_error(errno, "fsync: %s", strerror(errno));
	free(buf);
	kvmon_mem_close(m);
	if (resume) {
		int err = kvmon_get_errno();
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", kvmon_get_error());
		if (kvmon_qmp_call(kvmon_vm_qmp(vm), "cont", NULL, NULL) < 0)
			return kvmon_error_prefix("resuming the VM after the dump");
		if (rc < 0)
			kvmon_set_error(err, "%s", msg);
	}
	return rc;
}

int kvmon_mem_dump(struct kvmon_vm *vm, const char *path, const char *format,
		   int timeout_ms)
{
	char abs[PATH_MAX];
	int64_t deadline;
	bool raw;
	int fd, rc;

	if (!vm || !path || !*path)
		return kvmon_set_error(EINVAL, "mem_dump: bad arguments");
	if (!format || !strcmp(format, "elf"))
		raw = false;
	else if (!strcmp(format, "raw"))
		raw = true;
	else
		return kvmon_set_error(EINVAL, "dump format '%.16s': elf or raw",
				       format);
	if (timeout_ms <= 0)
		timeout_ms = 600000;
	deadline = kvmon_now_ms() + timeout_ms;
	fd = create_new(path, abs, sizeof(abs));
	if (fd < 0)
		return kvmon_error_prefix("dump of VM '%s'", vm->name);
	if (raw) {
		rc = dump_raw(vm, fd, deadline);
		close(fd);
	} else {
		/* QEMU opens the path itself (O_TRUNC): the empty file we
		 * created is what it overwrites, never anything else. */
		give_to_qemu(vm, fd);
		close(fd);
		rc = dump_elf(vm, abs, timeout_ms);
	}
	if (rc < 0) {
		unlink(abs);
		return kvmon_error_prefix("dump of VM '%s'", vm->name);
	}
	return 0;
}
