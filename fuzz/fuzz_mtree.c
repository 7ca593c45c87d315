/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: `info mtree -f` text from a (possibly compromised) QEMU. */
#include "internal.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_ram_range r[8];
	size_t n = 0;

	if (kvmon_parse_mtree((const char *)data, size, r, 8, &n) == 0) {
		for (size_t i = 0; i < n && i < 8; i++)
			if (r[i].size == 0 || r[i].gpa + (r[i].size - 1) < r[i].gpa)
				__builtin_trap(); /* parser promised valid ranges */
	}
	return 0;
}
