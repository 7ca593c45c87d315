/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: a BTF blob from guest memory (hostile). libbpf validates it;
 * our member lookups then walk what libbpf accepted, with bounded
 * recursion through anonymous members and typedef chains.
 */
#include "internal.h"
#include "linux/kbtf.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const q[][2] = {
		{ "task_struct", "tasks" }, { "task_struct", "tasks.next" },
		{ "a", "b" }, { "a", "b.c.d" }, { "list_head", "next" },
		{ "", "x" }, { "a", "" },
	};
	struct kvmon_btf *b = kvmon_btf_load(data, size);
	uint64_t off, sz;

	if (!b)
		return 0;
	for (size_t i = 0; i < sizeof(q) / sizeof(*q); i++) {
		kvmon_btf_member(b, q[i][0], q[i][1], &off, &sz);
		kvmon_btf_struct_size(b, q[i][0], &sz);
	}
	kvmon_btf_free(b);
	return 0;
}
