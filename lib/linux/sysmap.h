/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A user-supplied System.map ("ffffffff81000000 T _stext" per line, the
 * output of nm -n) as a symbol table with the kallsyms lookup shape: for
 * kernels whose kallsyms cannot be found, or to cross-check it.
 *
 * The text is untrusted: bounded (file, line, symbol count) and parsed
 * strictly. Any malformed line fails the whole load with its line number,
 * so a wrong file (Debian's one-line placeholder, a kallsyms read without
 * privilege) is reported, never half-used. Also accepted: /proc/kallsyms
 * text, whose module symbols ("... name\t[module]") are skipped.
 */
#ifndef KVMON_LINUX_SYSMAP_H
#define KVMON_LINUX_SYSMAP_H

#include <stddef.h>
#include <stdint.h>

struct kvmon_kallsyms_addrs;

#define KVMON_SYSMAP_MAX_FILE (64u << 20)
#define KVMON_SYSMAP_MAX_LINE 512		/* bytes, without the newline */
#define KVMON_SYSMAP_MAX_SYMS 4000000u
#define KVMON_SYSMAP_NAME_MAX 511		/* kallsyms' KSYM_NAME_LEN - 1 */

struct kvmon_sysmap;

/*
 * Parse a map: lines "ADDR TYPE NAME" (1..16 hex digits, a type letter or
 * '?', a name of 1..511 printable non-space bytes; blanks or tabs between;
 * CRLF and blank lines tolerated). Fails with E2BIG (text above 64 MiB, a
 * line above 512 bytes, more than 4,000,000 symbols), EPROTO (a malformed
 * line, no symbol, every address the same), ENOMEM.
 */
struct kvmon_sysmap *kvmon_sysmap_parse(const char *text, size_t len);
/* Read and parse a regular file (EINVAL otherwise, EFBIG above 64 MiB). */
struct kvmon_sysmap *kvmon_sysmap_load(const char *path);
void kvmon_sysmap_free(struct kvmon_sysmap *m);

size_t kvmon_sysmap_count(const struct kvmon_sysmap *m);
/* i-th symbol in file order; any output may be NULL; ERANGE past the end. */
int kvmon_sysmap_get(const struct kvmon_sysmap *m, size_t i, const char **name,
		     char *type, uint64_t *addr);
/* Address of the exact name, the first in file order; ENOENT. O(log n). */
int kvmon_sysmap_lookup(const struct kvmon_sysmap *m, const char *name,
			uint64_t *addr);
/* Symbol containing addr (greatest address <= addr; of aliases the first
 * in file order) and addr's offset in it; ENOENT below every symbol. */
int kvmon_sysmap_resolve(const struct kvmon_sysmap *m, uint64_t addr,
			 const char **name, uint64_t *offset);

/*
 * KASLR slide: runtime - map address of anchor (e.g. "_stext" and its real
 * address from kallsyms, or a symbol found another way). The anchor must
 * be a kernel-image symbol (not absolute), runtime a kernel-image address
 * (>= 0xffffffff80000000), and the slide a multiple of 2 MiB (x86-64
 * CONFIG_PHYSICAL_ALIGN): ENOENT (no anchor), EINVAL, EPROTO (the map does
 * not describe this kernel).
 */
int kvmon_sysmap_slide(const struct kvmon_sysmap *m, const char *anchor,
		       uint64_t runtime, int64_t *slide);
/*
 * Add slide to every kernel-image symbol (address >= 0xffffffff80000000,
 * type not 'A'/'a'; per-cpu offsets and absolute values stay). ERANGE, and
 * nothing changed, if an address would leave the image region.
 */
int kvmon_sysmap_relocate(struct kvmon_sysmap *m, int64_t slide);

/* The kallsyms tables' addresses as the map names them (markers optional),
 * for kvmon_kallsyms_load(); ENOENT if one is missing. */
int kvmon_sysmap_kallsyms_addrs(const struct kvmon_sysmap *m,
				struct kvmon_kallsyms_addrs *a);

#endif
