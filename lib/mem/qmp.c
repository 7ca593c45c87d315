/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "qmp" backend: guest-physical reads through HMP `xp /Ngx ADDR` over
 * QMP, the baseline of the paper that KVMonitor improves on. It needs
 * nothing but the QMP socket, and is slow by design: every 64 KiB is one
 * round trip and about 230 KB of text to parse.
 *
 * Also the baseline translation kvmon_qmp_gva2gpa (HMP gva2gpa).
 */
#define _GNU_SOURCE
#include "mem_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Words per xp command: 64 KiB of guest memory, ~230 KB of reply. */
#define XP_WORDS 8192u

/* Read [gpa, gpa+len) with xp; gpa and len are multiples of 8. */
static int xp_aligned(struct kvmon_qmp *q, uint64_t gpa, uint8_t *out,
		      size_t len, uint64_t *words)
{
	while (len > 0) {
		size_t n = len / 8 < XP_WORDS ? len / 8 : XP_WORDS;
		char cmd[64], *text = NULL;
		int rc;

		snprintf(cmd, sizeof(cmd), "xp /%zugx 0x%llx", n,
			 (unsigned long long)gpa);
		if (kvmon_qmp_hmp(q, cmd, &text) < 0)
			return -1;
		rc = kvmon_parse_xp(text, strlen(text), gpa, words, n);
		free(text);
		if (rc < 0)
			return -1;
		/* Guest words are little-endian (x86). */
		for (size_t i = 0; i < n; i++)
			for (int b = 0; b < 8; b++)
				out[i * 8 + (size_t)b] = (uint8_t)(words[i] >> (8 * b));
		gpa += n * 8;
		out += n * 8;
		len -= n * 8;
	}
	return 0;
}

static int qmp_read_piece(struct kvmon_qmp *q, const struct kvmon_mem_piece *p,
			  uint64_t *words, uint8_t *tmp)
{
	uint64_t gpa = p->r->gpa + p->off, end = gpa + p->len;
	uint64_t a0 = gpa & ~7ull, a1 = (end + 7) & ~7ull;
	uint8_t *out = p->buf;

	/* Aligned words cover the piece; ranges are page-granular, so the
	 * rounded edges stay inside RAM. Go through tmp in XP_WORDS steps. */
	while (a0 < a1) {
		uint64_t n = a1 - a0 < XP_WORDS * 8ull ? a1 - a0 : XP_WORDS * 8ull;
		uint64_t from = gpa > a0 ? gpa : a0;
		uint64_t to = end < a0 + n ? end : a0 + n;

		if (xp_aligned(q, a0, tmp, (size_t)n, words) < 0)
			return -1;
		memcpy(out, tmp + (from - a0), (size_t)(to - from));
		out += to - from;
		a0 += n;
	}
	return 0;
}

static int qmp_readv(struct kvmon_mem *m, const struct kvmon_mem_piece *p,
		     size_t n)
{
	struct kvmon_qmp *q = kvmon_vm_qmp(m->vm);
	uint64_t *words;
	uint8_t *tmp;
	int rc = 0;

	if (!q)
		return -1;
	words = malloc(XP_WORDS * sizeof(*words));
	tmp = malloc(XP_WORDS * 8);
	if (!words || !tmp) {
		free(words);
		free(tmp);
		return kvmon_set_error(ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = qmp_read_piece(q, &p[i], words, tmp);
	free(words);
	free(tmp);
	return rc;
}

static const struct kvmon_mem_ops qmp_ops = {
	.name = "qmp",
	.readv = qmp_readv,
};

struct kvmon_mem *kvmon_mem_open_qmp(struct kvmon_vm *vm)
{
	struct kvmon_mem_range *r = NULL;
	struct kvmon_mem *m;
	uint8_t probe[8];
	size_t n = 0;

	if (kvmon_mem_live_ranges(vm, NULL, &r, &n) < 0) {
		kvmon_error_prefix("guest RAM of VM '%s'", vm->name);
		return NULL;
	}
	m = kvmon_mem_alloc(&qmp_ops, 0);
	if (!m) {
		free(r);
		return NULL;
	}
	m->ranges = r;
	m->nranges = n;
	m->vm = vm;
	snprintf(m->what, sizeof(m->what), "VM '%s'", vm->name);
	for (size_t i = 0; i < n; i++) {
		/* xp reads whole words: keep ranges word-aligned. */
		if ((r[i].gpa | r[i].size) & 7) {
			kvmon_set_error(EPROTO, "RAM range at 0x%llx is not "
					"8-byte aligned",
					(unsigned long long)r[i].gpa);
			goto fail;
		}
	}
	if (kvmon_mem_finish_ranges(m) < 0 ||
	    kvmon_mem_read_phys(m, m->ranges[0].gpa, probe, sizeof(probe)) < 0)
		goto fail;
	return m;
fail:
	kvmon_error_prefix("guest RAM of VM '%s' (qmp backend)", vm->name);
	kvmon_mem_close(m);
	return NULL;
}

int kvmon_qmp_gva2gpa(struct kvmon_qmp *q, uint64_t va, uint64_t *gpa)
{
	char cmd[64], *text = NULL;
	int rc;

	if (!q || !gpa)
		return kvmon_set_error(EINVAL, "gva2gpa: bad arguments");
	snprintf(cmd, sizeof(cmd), "gva2gpa 0x%llx", (unsigned long long)va);
	if (kvmon_qmp_hmp(q, cmd, &text) < 0)
		return -1;
	rc = kvmon_parse_gva2gpa(text, strlen(text), gpa);
	free(text);
	if (rc < 0 && kvmon_get_errno() == EFAULT)
		return kvmon_set_error(EFAULT, "gva2gpa: 0x%llx is unmapped",
				       (unsigned long long)va);
	return rc;
}
