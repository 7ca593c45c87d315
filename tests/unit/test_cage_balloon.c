/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The balloon performer's policy: target, floor, hysteresis. */
#include "internal.h"
#include "cage/cage_internal.h"
#include "../tap.h"

#include <errno.h>

#define MIB (1ull << 20)

int main(void)
{
	struct kvmon_balloon_policy p = { .base = 256 * MIB, .floor = 128 * MIB,
					  .hysteresis = 4 * MIB };
	struct kvmon_balloon_step s;

	ok(kvmon_balloon_plan(&p, 0, 256 * MIB, &s) == 0 && !s.change &&
		   s.target == 256 * MIB && s.moved == 0 && !s.at_floor,
	   "idle IDS: nothing moves");
	ok(kvmon_balloon_plan(&p, 40 * MIB + 1234, 256 * MIB, &s) == 0 &&
		   s.change && s.target == 216 * MIB && s.moved == 40 * MIB,
	   "IDS uses 40 MiB: VM target base - 40 MiB (nearest page)");
	ok(kvmon_balloon_plan(&p, 42 * MIB, 216 * MIB, &s) == 0 && !s.change &&
		   s.target == 214 * MIB,
	   "2 MiB change below the 4 MiB hysteresis: no action");
	ok(kvmon_balloon_plan(&p, 45 * MIB, 216 * MIB, &s) == 0 && s.change &&
		   s.target == 211 * MIB,
	   "5 MiB change: acted on");
	ok(kvmon_balloon_plan(&p, 500 * MIB, 211 * MIB, &s) == 0 && s.change &&
		   s.at_floor && s.target == 128 * MIB && s.moved == 128 * MIB,
	   "IDS wants more than the VM can give: stop at the floor");
	ok(kvmon_balloon_plan(&p, 500 * MIB, 128 * MIB, &s) == 0 && !s.change &&
		   s.at_floor,
	   "at the floor already: no change, still flagged");
	ok(kvmon_balloon_plan(&p, 1 * MIB, 129 * MIB, &s) == 0 && s.change &&
		   s.target == 255 * MIB,
	   "IDS shrinks: memory goes back to the VM");
	ok(kvmon_balloon_plan(&p, 0, 254 * MIB, &s) == 0 && !s.change &&
		   kvmon_balloon_plan(&p, 0, 250 * MIB, &s) == 0 && s.change &&
		   s.target == 256 * MIB,
	   "giving back obeys the hysteresis too (no flapping near zero)");
	ok(kvmon_balloon_plan(&p, 23 * MIB + 700 * 1024 + 2047, 256 * MIB, &s) == 0 &&
		   s.moved == 23 * MIB + 700 * 1024 &&
		   kvmon_balloon_plan(&p, 23 * MIB + 700 * 1024 + 2048, 256 * MIB, &s) == 0 &&
		   s.moved == 23 * MIB + 704 * 1024,
	   "rounded to the nearest 4 KiB page: error at most 2 KiB");
	ok(kvmon_balloon_plan(&p, 128 * MIB - 100, 256 * MIB, &s) == 0 &&
		   s.moved == 128 * MIB && s.target == 128 * MIB && !s.at_floor,
	   "rounding never goes below the floor");
	p.floor = 300 * MIB;
	ok(kvmon_balloon_plan(&p, 0, 256 * MIB, &s) < 0 &&
		   kvmon_get_errno() == EINVAL,
	   "floor above base refused");
	p.floor = 1 * MIB;
	ok(kvmon_balloon_plan(&p, 0, 256 * MIB, &s) < 0, "floor below 32 MiB refused");

	/* Asynchronous tracking: what the VM has really given so far. */
	ok(kvmon_balloon_given(256 * MIB, 200 * MIB, 230 * MIB) == 26 * MIB,
	   "inflating: only what the guest released counts");
	ok(kvmon_balloon_given(256 * MIB, 250 * MIB, 200 * MIB) == 6 * MIB,
	   "deflating: the target counts at once (IDS limit lowered first)");
	ok(kvmon_balloon_given(256 * MIB, 300 * MIB, 256 * MIB) == 0 &&
		   kvmon_balloon_given(256 * MIB, 256 * MIB, 256 * MIB) == 0,
	   "never negative");
	{
		uint64_t a = 7;

		ok(kvmon_balloon_event_actual("{\"event\":\"BALLOON_CHANGE\",\"data\":"
					      "{\"actual\":234881024},\"timestamp\":{}}", &a) == 1 &&
			   a == 234881024,
		   "BALLOON_CHANGE event parsed");
		a = 7;
		ok(kvmon_balloon_event_actual("{\"event\":\"STOP\"}", &a) == 0 &&
			   kvmon_balloon_event_actual("{\"event\":\"BALLOON_CHANGE\"}", &a) == 0 &&
			   kvmon_balloon_event_actual("{\"event\":\"BALLOON_CHANGE\",\"data\":"
						      "{\"actual\":\"x\"}}", &a) == 0 &&
			   kvmon_balloon_event_actual("{\"event\":\"BALLOON_CHANGE\",\"data\":"
						      "{\"actual\":-5}}", &a) == 0 &&
			   kvmon_balloon_event_actual("[1,2", &a) == 0 &&
			   kvmon_balloon_event_actual(NULL, &a) == 0 && a == 7,
		   "other events and malformed ones ignored");
	}
	return tap_done();
}
