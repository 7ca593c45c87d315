/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers: time, strings, files, directories, processes. */
#define _GNU_SOURCE
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t kvmon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kvmon_ms_left(int64_t deadline)
{
	int64_t left = deadline - kvmon_now_ms();

	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

char *kvmon_strdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		kvmon_set_error(ENOMEM, "out of memory");
	return d;
}

char *kvmon_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	return s;
}

int kvmon_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return kvmon_set_error(ENAMETOOLONG, "empty destination");
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return kvmon_set_error(ENAMETOOLONG, "string too long");
	}
	memcpy(dst, src, n + 1);
	return 0;
}

char *kvmon_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;
	char *buf;

	if (fd < 0) {
		kvmon_set_error(errno, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	for (;;) {
		ssize_t r = read(fd, buf + used, max - used);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			kvmon_set_error(errno, "read %s: %s", path,
					strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		used += (size_t)r;
		if (used == max) {
			char extra;

			if (read(fd, &extra, 1) > 0) {
				kvmon_set_error(EFBIG, "%s: larger than %zu bytes",
						path, max);
				goto fail;
			}
			break;
		}
	}
	close(fd);
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

int kvmon_write_file_atomic(const char *path, const char *data, size_t len)
{
	char *tmp = kvmon_asprintf("%s.tmp.%d", path, (int)getpid());
	int fd;

	if (!tmp)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		kvmon_set_error(errno, "create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			kvmon_set_error(errno, "write %s: %s", tmp,
					strerror(errno));
			goto fail;
		}
		data += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		kvmon_set_error(errno, "sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		kvmon_set_error(errno, "rename %s: %s", path, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

static int rmtree_at(int parent, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (depth > 16)
		return kvmon_set_error(ELOOP, "directory tree too deep");
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return kvmon_set_error(errno, "unlink %s: %s", name,
				       strerror(errno));
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				     O_CLOEXEC);
	if (fd < 0)
		return kvmon_set_error(errno, "open %s: %s", name,
				       strerror(errno));
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return kvmon_set_error(errno, "opendir %s", name);
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rmtree_at(dirfd(d), de->d_name, depth + 1) < 0)
			ret = -1;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return kvmon_set_error(errno, "rmdir %s: %s", name,
				       strerror(errno));
	return ret;
}

int kvmon_rmtree(const char *path)
{
	return rmtree_at(AT_FDCWD, path, 0);
}

int kvmon_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (kvmon_strlcpy(buf, path, sizeof(buf)) < 0)
		return -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return kvmon_set_error(errno, "mkdir %s: %s", buf,
					       strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return kvmon_set_error(errno, "mkdir %s: %s", buf,
				       strerror(errno));
	return 0;
}

bool kvmon_pid_alive(pid_t pid)
{
	char path[64], *stat, *rp;
	bool alive;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = kvmon_read_file(path, 4096, NULL);
	if (!stat)
		return false;
	/* State follows the last ')' (comm may contain parentheses). */
	rp = strrchr(stat, ')');
	alive = rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
	free(stat);
	return alive;
}

bool kvmon_env_flag(const char *name, bool dflt)
{
	const char *v = getenv(name);

	return v && *v ? strcmp(v, "0") != 0 : dflt;
}

bool kvmon_valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 32 || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

bool kvmon_parse_hex(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	while (*p < end) {
		char c = **p;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (++n > 16)
			return false;
		v = (v << 4) | d;
		(*p)++;
	}
	*out = v;
	return n > 0;
}

bool kvmon_parse_lit(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

const char *kvmon_image_format(const char *path)
{
	unsigned char magic[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, magic, sizeof(magic)) != (ssize_t)sizeof(magic))
			magic[0] = 0;
		close(fd);
	}
	return memcmp(magic, "QFI\xfb", 4) == 0 ? "qcow2" : "raw";
}

int kvmon_grow(void **p, size_t *cap, size_t n, size_t elem, size_t max)
{
	size_t nc;
	void *q;

	if (n < *cap)
		return 0;
	if (n >= max)
		return kvmon_set_error(E2BIG, "more than %zu records", max);
	nc = *cap ? *cap * 2 : 256;
	if (nc > max)
		nc = max;
	/* max * elem fits (callers' bounds), but a hostile max must not wrap */
	if (nc > SIZE_MAX / elem)
		return kvmon_set_error(ENOMEM, "out of memory");
	q = realloc(*p, nc * elem);
	if (!q)
		return kvmon_set_error(ENOMEM, "out of memory");
	*p = q;
	*cap = nc;
	return 0;
}

int kvmon_append(char **buf, size_t *len, size_t *cap, const void *data,
		 size_t n, size_t max)
{
	size_t nc;
	char *q;

	if (n > max || *len > max - n)
		return kvmon_set_error(E2BIG, "names exceed %zu bytes", max);
	if (*len + n > *cap) {
		nc = *cap ? *cap : 4096;
		while (nc < *len + n)
			nc = nc > max / 2 ? max : nc * 2;
		q = realloc(*buf, nc);
		if (!q)
			return kvmon_set_error(ENOMEM, "out of memory");
		*buf = q;
		*cap = nc;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	return 0;
}
