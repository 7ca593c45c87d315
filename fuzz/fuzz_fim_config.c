// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: fim rule files through the parser, then matching a few paths
 * (every selected path must record its type). */
#include "kvmon.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/", "/etc", "/etc/passwd",
					     "/var/log/messages", "/tmp/x" };
	struct kvmon_fim_config *c;
	size_t i;

	if (size > 65536)
		return 0;
	c = kvmon_fim_config_parse((const char *)data, size);
	if (!c)
		return 0;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		bool descend;
		unsigned a = kvmon_fim_config_match(c, paths[i], &descend);

		if (a && !(a & KVMON_FIM_TYPE))
			__builtin_trap();
		if (a & ~KVMON_FIM_ALL)
			__builtin_trap();
	}
	kvmon_fim_config_free(c);
	return 0;
}
