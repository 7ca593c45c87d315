/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: a hostile baseline map file (kvmon_fsmap_load's parser).
 * The input is the file without its SHA-256 trailer, which is appended
 * here so the fuzzer reaches the header and record validation; a parsed
 * map is then queried like kvmon_fs_changes does. Seeds: maps of tiny
 * mke2fs images (fuzz/corpus/fsmap).
 */
#include "kvmon.h"
#include "disk/disk_internal.h"
#include "disk/fsmap.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_fsmap *m;
	uint8_t *buf;

	if (size > (16u << 20))
		return 0;
	buf = malloc(size + 32);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	EVP_Digest(buf, size, buf + size, NULL, EVP_sha256(), NULL);
	m = kvmon_fsmap_parse(buf, size + 32);
	if (m) {
		size_t n;

		for (uint32_t i = 0; i < 64 && i <= m->inodes; i++) {
			const struct fsmap_dent *e = kvmon_fsmap_dir(m, i, &n);

			for (size_t j = 0; j < n; j++)
				(void)m->names[e[j].name_off + e[j].name_len - 1];
			(void)kvmon_fsmap_ino(m, i);
		}
		for (uint64_t b = 0; b < 64 && b < m->blocks; b++) {
			size_t i = kvmon_fsmap_run_from(m, b);

			for (; i < m->n_runs && m->runs[i].start <= b; i++)
				(void)m->runs[i].ino;
		}
	}
	kvmon_fsmap_free(m);
	free(buf);
	return 0;
}
