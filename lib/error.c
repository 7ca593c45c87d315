/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-thread error state and the process-wide log sink. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MAX 1024

static _Thread_local char err_msg[ERR_MAX];
static _Thread_local int err_no;

static kvmon_log_fn log_fn;
static void *log_opaque;
static int log_max = KVMON_LOG_WARN;

const char *kvmon_get_error(void)
{
	return err_msg[0] ? err_msg : "no error";
}

int kvmon_get_errno(void)
{
	return err_no;
}

int kvmon_set_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	err_no = err;
	errno = err;
	kvmon_log(KVMON_LOG_DEBUG, "error: %s", err_msg);
	return -1;
}

int kvmon_error_prefix(const char *fmt, ...)
{
	char prefix[ERR_MAX / 2], old[ERR_MAX];
	size_t pl, ol;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err_msg, sizeof(old));
	/* Join by hand: the result is cut at ERR_MAX on purpose. */
	pl = strlen(prefix);
	ol = strlen(old);
	if (ol > ERR_MAX - pl - 3)
		ol = ERR_MAX - pl - 3;
	memcpy(err_msg, prefix, pl);
	memcpy(err_msg + pl, ": ", 2);
	memcpy(err_msg + pl + 2, old, ol);
	err_msg[pl + 2 + ol] = '\0';
	errno = err_no;
	return -1;
}

void kvmon_set_log(kvmon_log_fn fn, void *opaque, int max_level)
{
	log_fn = fn;
	log_opaque = opaque;
	log_max = max_level;
}

void kvmon_log(int level, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;
	int saved = errno;

	if (!log_fn || level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(log_opaque, level, msg);
	errno = saved;
}

void kvmon_free(void *p)
{
	free(p);
}
