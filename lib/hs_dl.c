// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hyperscan loaded on first use. Linking libhs makes every kvmon process
 * map and relocate it and libstdc++ before main (12-18 ms of a cold
 * start), though only the network rule matcher (net/match.c) uses it.
 * These are the functions it calls, resolved in libhs.so.5 on the first
 * call; the prototypes come from hs.h (__typeof__), so they cannot drift.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <hs/hs.h>
#include <pthread.h>
#include <stdio.h>

#define LIBHS_SONAME "libhs.so.5"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *lib;
static char why[256];
/* What a compile reports when the library cannot be loaded. */
static hs_compile_error_t load_error = { .message = why, .expression = -1 };

static void load(void)
{
	const char *e;

	lib = dlopen(LIBHS_SONAME, RTLD_LAZY | RTLD_LOCAL);
	if (!lib) {
		e = dlerror();
		snprintf(why, sizeof(why), "cannot load %s: %s", LIBHS_SONAME,
			 e ? e : "unknown error");
	}
}

static void *sym(const char *name)
{
	pthread_once(&once, load);
	return lib ? dlsym(lib, name) : NULL;
}

#define RESOLVE(name)                                                        \
	static __typeof__(name) *fp_##name;                                  \
	__typeof__(name) *fn = __atomic_load_n(&fp_##name, __ATOMIC_ACQUIRE); \
	if (!fn) {                                                           \
		fn = (__typeof__(name) *)sym(#name);                         \
		__atomic_store_n(&fp_##name, fn, __ATOMIC_RELEASE);          \
	}

hs_error_t hs_compile(const char *expression, unsigned int flags,
		      unsigned int mode, const hs_platform_info_t *platform,
		      hs_database_t **db, hs_compile_error_t **error)
{
	RESOLVE(hs_compile)
	if (!fn) {
		*error = &load_error;
		return HS_UNKNOWN_ERROR;
	}
	return fn(expression, flags, mode, platform, db, error);
}

hs_error_t hs_compile_ext_multi(const char *const *expressions,
				const unsigned int *flags,
				const unsigned int *ids,
				const hs_expr_ext_t *const *ext,
				unsigned int elements, unsigned int mode,
				const hs_platform_info_t *platform,
				hs_database_t **db, hs_compile_error_t **error)
{
	RESOLVE(hs_compile_ext_multi)
	if (!fn) {
		*error = &load_error;
		return HS_UNKNOWN_ERROR;
	}
	return fn(expressions, flags, ids, ext, elements, mode, platform, db,
		  error);
}

hs_error_t hs_free_compile_error(hs_compile_error_t *error)
{
	if (!error || error == &load_error)
		return HS_SUCCESS;
	RESOLVE(hs_free_compile_error)
	return fn ? fn(error) : HS_UNKNOWN_ERROR;
}

hs_error_t hs_free_database(hs_database_t *db)
{
	if (!db)
		return HS_SUCCESS; /* as libhs; no load for nothing */
	RESOLVE(hs_free_database)
	return fn ? fn(db) : HS_UNKNOWN_ERROR;
}

hs_error_t hs_alloc_scratch(const hs_database_t *db, hs_scratch_t **scratch)
{
	RESOLVE(hs_alloc_scratch)
	return fn ? fn(db, scratch) : HS_UNKNOWN_ERROR;
}

hs_error_t hs_free_scratch(hs_scratch_t *scratch)
{
	if (!scratch)
		return HS_SUCCESS;
	RESOLVE(hs_free_scratch)
	return fn ? fn(scratch) : HS_UNKNOWN_ERROR;
}

hs_error_t hs_scan(const hs_database_t *db, const char *data,
		   unsigned int length, unsigned int flags, hs_scratch_t *scratch,
		   match_event_handler onEvent, void *context)
{
	RESOLVE(hs_scan)
	return fn ? fn(db, data, length, flags, scratch, onEvent, context)
		  : HS_UNKNOWN_ERROR;
}
