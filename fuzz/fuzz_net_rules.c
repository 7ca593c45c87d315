// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: rule files (user input, but parsed before any check) through
 * the Snort-subset parser and the Hyperscan compiler. */
#include "kvmon.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t frame[] =
		"\x52\x54\x00\x12\x34\x56\x52\x55\x0a\x00\x02\x02\x08\x00"
		"\x45\x00\x00\x46\x00\x00\x00\x00\x40\x06\x00\x00\x0a\x00\x02\x02"
		"\x0a\x00\x02\x0f\x9c\x40\x00\x50\x00\x00\x00\x00\x00\x00\x00\x00"
		"\x50\x18\x00\x00\x00\x00\x00\x00GET /aaaaaaaaaaaaaaaaaaaaaaaa!";
	struct kvmon_rules *r;

	if (size > 4096)
		return 0;
	static const char *const defs[] = { "HOME_NET=[10.0.0.0/8,!10.1.0.0/16]", "P=[80,443]", NULL };

	r = kvmon_rules_parse_vars((const char *)data, size, defs);
	if (r) {
		if (kvmon_rules_match(r, frame, sizeof(frame) - 1, NULL, NULL) < 0)
			__builtin_trap();
		kvmon_rules_free(r);
	}
	return 0;
}
