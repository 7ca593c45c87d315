// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libnbd loaded on demand. Linking it makes every kvmon process map and
 * relocate its library chain (gnutls, nettle, libxml2, ICU, ...) before
 * main: ~40 ms of a cold start, most of the fixed cost of an incremental
 * fim check. The nbd_* functions of libnbd.h are generated forwarders
 * (gen_nbd_dl.py -> nbd_dl_gen.c) that resolve their target here, on
 * first use; kvmon_disk_preload() starts that load on a thread so it
 * overlaps with the caller's own set-up (rules, database).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <libnbd.h>
#include <pthread.h>
#include <stdio.h>

#define LIBNBD_SONAME "libnbd.so.0"

void *kvmon_nbd_sym(const char *name);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *lib;
static char why[256];

static void load(void)
{
	const char *e;

	lib = dlopen(LIBNBD_SONAME, RTLD_LAZY | RTLD_LOCAL);
	if (!lib) {
		e = dlerror();
		snprintf(why, sizeof(why), "cannot load %s: %s", LIBNBD_SONAME,
			 e ? e : "unknown error");
	}
}

void *kvmon_nbd_sym(const char *name)
{
	pthread_once(&once, load);
	return lib ? dlsym(lib, name) : NULL;
}

const char *nbd_get_error(void)
{
	const char *(*fn)(void) = (const char *(*)(void))kvmon_nbd_sym("nbd_get_error");

	return fn ? fn() : why;
}

int nbd_get_errno(void)
{
	int (*fn)(void) = (int (*)(void))kvmon_nbd_sym("nbd_get_errno");

	return fn ? fn() : ELIBACC;
}

static void *preload(void *arg)
{
	(void)arg;
	pthread_once(&once, load);
	return NULL;
}

void kvmon_disk_preload(void)
{
	pthread_attr_t a;
	pthread_t t;

	/* Best effort: without a thread the first disk open loads it. */
	if (pthread_attr_init(&a))
		return;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &a, preload, NULL);
	pthread_attr_destroy(&a);
}
