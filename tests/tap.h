/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Minimal TAP producer for the test programs (meson protocol: 'tap'). */
#ifndef KVMON_TAP_H
#define KVMON_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int tap_ok(int cond, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* tool output in a description must stay on the TAP line */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("%sok %d - %s\n", cond ? "" : "not ", ++tap_n, buf);
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
/* A diagnostic; every line of it starts with "# " so that text from
 * tools (multi-line error output) never reads as TAP. */
__attribute__((format(printf, 1, 2), unused))
static void tap_diag(const char *fmt, ...)
{
	char buf[8192];
	const char *p = buf;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	do {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		printf("# %.*s\n", len, p);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
	fflush(stdout);
}

#define diag(...) tap_diag(__VA_ARGS__)

/* Abort the whole test program (counts as failure). */
#define bail(...)                                     \
	do {                                          \
		printf("Bail out! ");                 \
		printf(__VA_ARGS__);                  \
		printf("\n");                         \
		fflush(stdout);                       \
		exit(1);                              \
	} while (0)

__attribute__((unused)) static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
