/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Struct layouts from the guest kernel's own BTF (parsed by libbpf). */
#ifndef KVMON_LINUX_KBTF_H
#define KVMON_LINUX_KBTF_H

#include "internal.h"

struct kvmon_btf;

/* Largest BTF blob accepted (vmlinux BTF of 6.x is about 5 MiB). */
#define KVMON_BTF_MAX (64u << 20)

/* Parse a BTF blob (copied; libbpf validates it). */
struct kvmon_btf *kvmon_btf_load(const void *data, size_t size);
void kvmon_btf_free(struct kvmon_btf *b);

/* Size in bytes of struct or union `name`. */
int kvmon_btf_struct_size(const struct kvmon_btf *b, const char *name,
			  uint64_t *size);
/*
 * Byte offset of a member of struct `sname`; `path` may go through
 * embedded structs ("core_layout.base") and finds members of anonymous
 * unions/structs by name. *size gets the member's size (may be NULL).
 * Bitfields are refused (EINVAL): their byte offset would be a lie.
 */
int kvmon_btf_member(const struct kvmon_btf *b, const char *sname,
		     const char *path, uint64_t *offset, uint64_t *size);

#endif
