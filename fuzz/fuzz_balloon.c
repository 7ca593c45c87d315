/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: the balloon performer's inputs from outside. A QMP event text
 * from a (possibly compromised) QEMU, and the numbers the policy sees
 * (IDS usage, base, floor, hysteresis, current target) taken from the
 * input: the plan must keep its promises for every value.
 */
#include "internal.h"
#include "cage/cage_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t **d, size_t *n)
{
	uint64_t v = 0;

	if (*n >= 8) {
		memcpy(&v, *d, 8);
		*d += 8;
		*n -= 8;
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	uint64_t actual = 0, usage, cur;
	struct kvmon_balloon_policy p;
	struct kvmon_balloon_step s;
	const uint8_t *d = data;
	size_t n = size;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (kvmon_balloon_event_actual(text, &actual) == 1 && actual == 0)
		__builtin_trap(); /* a size is never 0 */
	free(text);

	p.base = take(&d, &n) >> (take(&d, &n) & 63);
	p.floor = take(&d, &n) >> (take(&d, &n) & 63);
	p.hysteresis = take(&d, &n) >> 20;
	usage = take(&d, &n);
	cur = take(&d, &n);
	if (kvmon_balloon_plan(&p, usage, cur, &s) == 0 &&
	    (s.target < p.floor || s.target > p.base || s.moved != p.base - s.target ||
	     (s.moved > usage && s.moved - usage > 2048) || (s.moved & 4095)))
		__builtin_trap(); /* floor <= target <= base, page-granular, <= usage */
	if (kvmon_balloon_given(p.base, cur, usage) > p.base)
		__builtin_trap();
	return 0;
}
