/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Minimal TAP producer for the test programs (meson protocol: 'tap'). */
#ifndef KVMON_TAP_H
#define KVMON_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define diag(...)                                     \
	do {                                          \
		printf("# ");                         \
		printf(__VA_ARGS__);                  \
		printf("\n");                         \
		fflush(stdout);                       \
	} while (0)

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
