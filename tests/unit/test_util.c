/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers that guard names, paths and files. */
#define _GNU_SOURCE
#include "internal.h"
#include "../tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	char buf[8], dir[] = "/tmp/kvmon-unit-XXXXXX", path[256];
	size_t len = 0;
	char *s;

	ok(kvmon_valid_name("guest") && kvmon_valid_name("a-b_c.1"),
	   "ordinary VM names accepted");
	ok(!kvmon_valid_name("") && !kvmon_valid_name("../x") &&
		   !kvmon_valid_name(".hidden") && !kvmon_valid_name("a/b") &&
		   !kvmon_valid_name("a,b") && !kvmon_valid_name(NULL) &&
		   !kvmon_valid_name("-opt") &&
		   !kvmon_valid_name("0123456789012345678901234567890123"),
	   "path, option and QEMU-syntax characters refused");
	ok(kvmon_strlcpy(buf, "1234567", sizeof(buf)) == 0 && !strcmp(buf, "1234567"),
	   "strlcpy fits");
	ok(kvmon_strlcpy(buf, "12345678", sizeof(buf)) < 0 &&
		   kvmon_get_errno() == ENAMETOOLONG && !strcmp(buf, "1234567"),
	   "strlcpy truncation reported and terminated");
	if (!mkdtemp(dir))
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	ok(kvmon_mkdirs(path, 0700) == 0, "mkdirs creates a chain");
	snprintf(path, sizeof(path), "%s/a/f", dir);
	ok(kvmon_write_file_atomic(path, "hello", 5) == 0, "atomic write");
	s = kvmon_read_file(path, 5, &len);
	ok(s && len == 5 && !strcmp(s, "hello"), "read back exactly at the limit");
	free(s);
	ok(kvmon_read_file(path, 4, &len) == NULL && kvmon_get_errno() == EFBIG,
	   "file larger than the limit refused");
	snprintf(path, sizeof(path), "%s/a/link", dir);
	ok(symlink("/etc", path) == 0, "symlink planted in the tree");
	ok(kvmon_rmtree(dir) == 0 && access(dir, F_OK) < 0 &&
		   access("/etc/hostname", F_OK) == 0,
	   "rmtree removes the tree without following symlinks");
	ok(kvmon_pid_alive(getpid()) && !kvmon_pid_alive(0) && !kvmon_pid_alive(-5),
	   "pid_alive");
	return tap_done();
}
