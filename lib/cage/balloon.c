/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Balloon control for the balloon performer: set the guest size through
 * QMP `balloon` and confirm it with `query-balloon`, and the pure policy
 * that decides how much memory moves from the VM to its IDS.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "cage/cage_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1ull << 20)
#define GRAIN 4096ull /* virtio-balloon page */
#define BALLOON_MIN (32 * MIB) /* below this a Linux guest is unusable */

/* QMP error for a VM without balloon: a clear ENODEV instead. */
static int no_balloon(void)
{
	char e[256];

	/* A copy: the message is formatted into the same error buffer. */
	snprintf(e, sizeof(e), "%s", kvmon_get_error());
	if (kvmon_get_errno() == ENODEV)
		return -1; /* already said */
	if (strstr(e, "DeviceNotActive") || strstr(e, "balloon"))
		return kvmon_set_error(ENODEV, "VM has no active balloon device "
				       "(QEMU: %s)", e);
	return -1;
}

/* The VM's QMP connection (reconnecting after kvmon_vm_disconnect). */
static struct kvmon_qmp *qmp_of(struct kvmon_vm *vm)
{
	return vm ? kvmon_vm_qmp(vm) : NULL;
}

int kvmon_balloon_get(struct kvmon_vm *vm, uint64_t *actual)
{
	struct json_object *ret = NULL, *a;

	if (!qmp_of(vm))
		return -1;
	if (kvmon_qmp_call(qmp_of(vm), "query-balloon", NULL, &ret) < 0)
		return no_balloon();
	if (!json_object_object_get_ex(ret, "actual", &a) ||
	    !json_object_is_type(a, json_type_int)) {
		json_object_put(ret);
		return kvmon_set_error(EPROTO, "query-balloon: no 'actual'");
	}
	*actual = json_object_get_uint64(a);
	json_object_put(ret);
	return 0;
}

static int ram_size(struct kvmon_vm *vm, uint64_t *size)
{
	struct json_object *ret = NULL, *b;

	if (kvmon_qmp_call(qmp_of(vm), "query-memory-size-summary", NULL,
			   &ret) < 0)
		return -1;
	if (!json_object_object_get_ex(ret, "base-memory", &b)) {
		json_object_put(ret);
		return kvmon_set_error(EPROTO, "query-memory-size-summary: no "
				       "'base-memory'");
	}
	*size = json_object_get_uint64(b);
	json_object_put(ret);
	return 0;
}

static int request(struct kvmon_vm *vm, uint64_t target)
{
	struct json_object *args = json_object_new_object();
	int rc;

	json_object_object_add(args, "value", json_object_new_int64((int64_t)target));
	rc = kvmon_qmp_call(qmp_of(vm), "balloon", args, NULL);
	json_object_put(args);
	return rc < 0 ? no_balloon() : 0;
}

/* Refuse what no guest can honour before anything is sent. */
static int check_range(struct kvmon_vm *vm, uint64_t target)
{
	uint64_t ram = 0;

	if (ram_size(vm, &ram) < 0)
		return -1;
	if (target < BALLOON_MIN || target > ram)
		return kvmon_set_error(ERANGE, "balloon: target %" PRIu64 " bytes "
				       "out of range %llu..%" PRIu64 " (VM RAM)",
				       target, BALLOON_MIN, ram);
	return 0;
}

int kvmon_balloon_request(struct kvmon_vm *vm, uint64_t target)
{
	uint64_t actual;

	/* query-balloon first: a VM without a balloon fails with ENODEV. */
	if (kvmon_balloon_get(vm, &actual) < 0 || check_range(vm, target) < 0 ||
	    request(vm, target) < 0)
		return kvmon_error_prefix("balloon");
	return 0;
}

int kvmon_balloon_event_actual(const char *event_json, uint64_t *actual)
{
	struct json_object *ev, *name, *data, *a;
	int rc = 0;

	ev = event_json ? json_tokener_parse(event_json) : NULL;
	if (json_object_object_get_ex(ev, "event", &name) &&
	    json_object_is_type(name, json_type_string) &&
	    !strcmp(json_object_get_string(name), "BALLOON_CHANGE") &&
	    json_object_object_get_ex(ev, "data", &data) &&
	    json_object_object_get_ex(data, "actual", &a) &&
	    json_object_is_type(a, json_type_int) && json_object_get_int64(a) > 0) {
		*actual = json_object_get_uint64(a);
		rc = 1;
	}
	json_object_put(ev);
	return rc;
}

int kvmon_balloon_wait(struct kvmon_vm *vm, int timeout_ms, uint64_t *actual)
{
	struct kvmon_qmp *q = qmp_of(vm);
	int64_t deadline = kvmon_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	bool got = false;

	if (!q)
		return -1;
	/* Bounded: the queue holds at most KVMON_QMP_MAX_EVENTS, and once an
	 * event was seen only what is already queued is drained. */
	for (int i = 0; i < 4 * KVMON_QMP_MAX_EVENTS; i++) {
		char *text = NULL;
		int rc = kvmon_qmp_next_event(q, got ? 0 : kvmon_ms_left(deadline),
					      &text);

		if (rc < 0)
			return kvmon_error_prefix("balloon events");
		if (rc == 0)
			break;
		if (kvmon_balloon_event_actual(text, actual) == 1)
			got = true;
		free(text);
	}
	if (got)
		return 1;
	/* No event (QEMU throttles BALLOON_CHANGE to one a second, or the
	 * size did not change): ask. */
	return kvmon_balloon_get(vm, actual) < 0 ? -1 : 0;
}

uint64_t kvmon_balloon_given(uint64_t base, uint64_t target, uint64_t actual)
{
	uint64_t held = target > actual ? target : actual;

	return held < base ? base - held : 0;
}

int kvmon_balloon_set(struct kvmon_vm *vm, uint64_t target, int timeout_ms)
{
	uint64_t before = 0, actual = 0;
	int64_t deadline;

	if (kvmon_balloon_get(vm, &before) < 0)
		return kvmon_error_prefix("balloon");
	if (check_range(vm, target) < 0 || request(vm, target) < 0)
		return kvmon_error_prefix("balloon");
	deadline = kvmon_now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
	for (;;) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (kvmon_balloon_get(vm, &actual) < 0)
			return kvmon_error_prefix("balloon");
		if (actual + MIB >= target && actual <= target + MIB)
			return 0;
		if (kvmon_ms_left(deadline) <= 0)
			break;
		nanosleep(&ts, NULL);
	}
	/* Not honoured: ask for the old size again, nothing half-applied. */
	request(vm, before);
	return kvmon_set_error(ETIMEDOUT, "balloon: guest did not reach %" PRIu64
			       " bytes within %d ms (at %" PRIu64 "); is "
			       "virtio_balloon loaded? Size restored to %" PRIu64,
			       target, timeout_ms, actual, before);
}

int kvmon_balloon_plan(const struct kvmon_balloon_policy *p, uint64_t ids_usage,
		       uint64_t current_target, struct kvmon_balloon_step *out)
{
	uint64_t room, moved, diff;

	memset(out, 0, sizeof(*out));
	if (!p || p->base < BALLOON_MIN || p->floor < BALLOON_MIN ||
	    p->floor > p->base)
		return kvmon_set_error(EINVAL, "balloon policy: need 32 MiB <= "
				       "floor <= base");
	room = p->base - p->floor;
	moved = ids_usage;
	if (moved > room) {
		moved = room;
		out->at_floor = true;
	}
	/* Nearest page, the balloon's unit (never above room). Whole MiB
	 * would cost up to 0.5 MiB, 3% of a 16 MiB IDS; jitter is the
	 * hysteresis's job. */
	moved = moved + GRAIN / 2 > room ? room & ~(GRAIN - 1)
					 : (moved + GRAIN / 2) & ~(GRAIN - 1);
	out->moved = moved;
	out->target = p->base - moved;
	diff = out->target > current_target ? out->target - current_target
					    : current_target - out->target;
	/* Hysteresis, except that reaching the floor is always done. No
	 * exception for "everything back": with rounding it would flap
	 * between 0 and 1 MiB for an IDS using about 0.5 MiB. */
	out->change = diff > 0 && (diff >= p->hysteresis || out->at_floor);
	return 0;
}
