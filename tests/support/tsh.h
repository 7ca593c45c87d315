/* tsh(): run a shell command built printf-style (test set-up with the
 * real tools: mke2fs, debugfs, qemu-img, lvm2 ...). Returns the command's
 * exit status (-1 if it could not run or was killed). Header-only, so
 * unit tests need no extra library. */
#ifndef KVMON_TESTS_TSH_H
#define KVMON_TESTS_TSH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static inline int tsh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tsh(const char *fmt, ...)
{
	enum { MAX = 1 << 17 };
	char *cmd = malloc(MAX);
	va_list ap;
	int n, rc;

	if (!cmd)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(cmd, MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= MAX) { /* never run a truncated command */
		free(cmd);
		return -1;
	}
	rc = system(cmd);
	free(cmd);
	return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

#endif
