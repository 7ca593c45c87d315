/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: HMP replies of a (possibly compromised) QEMU that the memory
 * backends parse: gpa2hva (process backend), xp (qmp backend), gva2gpa
 * (baseline translation). Each parser sees every input.
 */
#include "mem/mem_internal.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t counts[] = { 0, 1, 2, 3, 64 };
	const char *t = (const char *)data;
	char block[16];
	uint64_t v = 0, words[64 + 1];

	if (kvmon_parse_gpa2hva(t, size, 0x100000, block, sizeof(block), &v) == 0 &&
	    (v == 0 || memchr(block, '\0', sizeof(block)) == NULL || block[0] == '\0'))
		__builtin_trap(); /* promised: non-NULL address, named block */
	for (size_t i = 0; i < sizeof(counts) / sizeof(*counts); i++) {
		words[counts[i]] = 0x5aa5;
		kvmon_parse_xp(t, size, 0x1000, words, counts[i]);
		if (words[counts[i]] != 0x5aa5)
			__builtin_trap(); /* wrote past nwords */
	}
	kvmon_parse_gva2gpa(t, size, &v);
	return 0;
}
