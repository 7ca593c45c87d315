/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal helpers shared by libkvmon's files; not installed. */
#ifndef KVMON_INTERNAL_H
#define KVMON_INTERNAL_H

#include "kvmon.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>

#define KVMON_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* error.c: record the failure for kvmon_get_error(); always returns -1. */
int kvmon_set_error(int err, const char *fmt, ...) KVMON_PRINTF(2, 3);
/* Prefix the current error with context ("context: old message"). */
int kvmon_error_prefix(const char *fmt, ...) KVMON_PRINTF(1, 2);
void kvmon_log(int level, const char *fmt, ...) KVMON_PRINTF(2, 3);

/* util.c */
int64_t kvmon_now_ms(void);
/* Milliseconds left until deadline (>= 0), for poll(). */
int kvmon_ms_left(int64_t deadline);
char *kvmon_strdup(const char *s);
char *kvmon_asprintf(const char *fmt, ...) KVMON_PRINTF(1, 2);
/* Bounded copy that always NUL-terminates; -1 (ENAMETOOLONG) if cut. */
int kvmon_strlcpy(char *dst, const char *src, size_t size);
/* Read a whole small file (at most max bytes) as a NUL-terminated string. */
char *kvmon_read_file(const char *path, size_t max, size_t *len);
/* Write a file atomically (temp + fsync + rename). */
int kvmon_write_file_atomic(const char *path, const char *data, size_t len);
/* Remove a directory tree we created (no symlink following). */
int kvmon_rmtree(const char *path);
/* mkdir -p with the given mode. */
int kvmon_mkdirs(const char *path, mode_t mode);
/* Parse hex digits at *p (no prefix) into *out, advancing *p. False if
 * there are none or more than 16 (the value would not fit): HMP text is
 * scraped with this, so an overlong number is an error, not a wrap. */
bool kvmon_parse_hex(const char **p, const char *end, uint64_t *out);
/* If [*p, end) starts with lit, skip it and return true. */
bool kvmon_parse_lit(const char **p, const char *end, const char *lit);
/* "qcow2" if the file starts with the qcow2 magic, else "raw". */
const char *kvmon_image_format(const char *path);
/* Is pid alive (and not a zombie)? */
bool kvmon_pid_alive(pid_t pid);
/* Environment switch: unset or empty = dflt, "0" = off, else on. */
bool kvmon_env_flag(const char *name, bool dflt);
/* Name valid for a VM: [A-Za-z0-9_.-]{1,32}, not starting with '.' */
bool kvmon_valid_name(const char *name);
/* Room for element n of an array of *cap elements of elem bytes:
 * doubles (from 256) up to max elements; E2BIG at max, ENOMEM. */
int kvmon_grow(void **p, size_t *cap, size_t n, size_t elem, size_t max);
/* Append n bytes to *buf (*len used of *cap), at most max in all (E2BIG). */
int kvmon_append(char **buf, size_t *len, size_t *cap, const void *data,
		 size_t n, size_t max);

/* qmp.c: json-c level interface used inside the library. */
int kvmon_qmp_call(struct kvmon_qmp *qmp, const char *command,
		   struct json_object *args, struct json_object **ret);
int kvmon_qmp_call_timeout(struct kvmon_qmp *qmp, const char *command,
			   struct json_object *args, struct json_object **ret,
			   int timeout_ms);
/* QMP getfd: pass fd (SCM_RIGHTS) to QEMU under name (network mirror). */
int kvmon_qmp_getfd(struct kvmon_qmp *qmp, const char *name, int fd);
/* Any command that takes a descriptor along (getfd, add-fd). */
int kvmon_qmp_call_fd(struct kvmon_qmp *qmp, const char *command,
		      struct json_object *args, int fd, struct json_object **ret);

/* mtree.c: parse `info mtree -f` text into RAM ranges (pure; fuzzed). */
int kvmon_parse_mtree(const char *text, size_t len,
		      struct kvmon_ram_range *out, size_t max, size_t *count);

/*
 * Guest-physical memory as the pure parsers and walkers see it: one read
 * callback (0 on success, -1 with kvmon_set_error on failure, e.g. EFAULT
 * for an address that is not RAM). Keeps them testable on synthetic
 * memory and independent of the backend (shared file, process, dump).
 */
struct kvmon_physmem {
	int (*read)(void *ctx, uint64_t gpa, void *buf, size_t len);
	void *ctx;
};

static inline int kvmon_phys_read(const struct kvmon_physmem *pm,
				  uint64_t gpa, void *buf, size_t len)
{
	return pm->read(pm->ctx, gpa, buf, len);
}

/* mem/: a physmem reader over a kvmon_mem, and the end of guest RAM. */
void kvmon_mem_physmem(struct kvmon_mem *mem, struct kvmon_physmem *pm);
uint64_t kvmon_mem_ram_end(const struct kvmon_mem *mem);

/* Upper bound on RAM ranges we track for one VM. */
#define KVMON_MAX_RAM_RANGES 64

#endif
