/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal helpers of lib/cage/ shared with its unit tests; not installed. */
#ifndef KVMON_CAGE_INTERNAL_H
#define KVMON_CAGE_INTERNAL_H

#include "kvmon.h"

/* Test tree: the library creates and removes the files a kernel would put
 * into a new cgroup directory (unit tests on a plain temporary directory). */
void kvmon_cgsys_fake(struct kvmon_cgsys *sys);
/* Write value to DIR/FILE (no O_CREAT); -1 with the error set. */
int kvmon_cg_write(const char *dir, const char *file, const char *value);
/* Read DIR/FILE (bounded) as a string to free(). */
char *kvmon_cg_read(const char *dir, const char *file);
/* "key N" line of a flat-keyed file; 0 if found. */
int kvmon_cg_key(const char *text, const char *key, uint64_t *val);
/* Guest size from a QMP BALLOON_CHANGE event's JSON text: 1 and *actual
 * set if it is one, 0 if it is another event or malformed. */
int kvmon_balloon_event_actual(const char *event_json, uint64_t *actual);

#endif
