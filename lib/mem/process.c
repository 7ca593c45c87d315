/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "process" backend: guest RAM read from the QEMU process with
 * process_vm_readv, for an unmodified QEMU without any memory option.
 *
 * Where a RAM range lives in QEMU's address space comes from QEMU itself:
 * HMP `gpa2hva` at the start of each range of the layout. The reply names
 * the RAM block, which must be the range's block, and ranges of one block
 * must agree on where the block starts. The pid is the peer of the QMP
 * socket (SO_PEERCRED), i.e. the process that answered.
 *
 * process_vm_readv needs ptrace access to QEMU (PTRACE_MODE_ATTACH): root,
 * CAP_SYS_PTRACE, or QEMU's uid with kernel.yama.ptrace_scope=0 (QEMU is
 * not our child). Nothing is written and QEMU is never stopped or traced.
 *
 * Reads are batched: one syscall carries up to 64 pieces (iovecs), so a
 * read crossing ranges or a kvmon_mem_readv() costs one syscall.
 */
#define _GNU_SOURCE
#include "mem_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define MAX_IOV 64

static int read_error(struct kvmon_mem *m, int err, uint64_t gpa)
{
	if (err == EPERM || err == EACCES)
		return kvmon_set_error(EPERM,
				       "reading the memory of QEMU (pid %d) is "
				       "not permitted: the process backend needs "
				       "ptrace access (run as root, or as QEMU's "
				       "user with kernel.yama.ptrace_scope=0, or "
				       "with CAP_SYS_PTRACE)",
				       (int)m->pid);
	if (err == ESRCH)
		return kvmon_set_error(ESRCH, "QEMU (pid %d) is gone", (int)m->pid);
	return kvmon_set_error(err ? err : EFAULT,
			       "process_vm_readv of QEMU pid %d at guest-physical "
			       "0x%llx: %s", (int)m->pid, (unsigned long long)gpa,
			       strerror(err ? err : EFAULT));
}

static int process_readv(struct kvmon_mem *m, const struct kvmon_mem_piece *p,
			 size_t n)
{
	struct iovec local[MAX_IOV], remote[MAX_IOV];

	while (n > 0) {
		size_t k = n < MAX_IOV ? n : MAX_IOV, done = 0;
		size_t want = 0, first = 0;
		size_t off0 = 0; /* bytes of p[first] already read */

		for (size_t i = 0; i < k; i++)
			want += p[i].len;
		/* Partial reads stop at an iovec boundary or inside one:
		 * resume exactly where the kernel stopped. */
		while (done < want) {
			size_t cnt = 0;
			ssize_t r;

			for (size_t i = first; i < k; i++, cnt++) {
				size_t skip = i == first ? off0 : 0;

				local[cnt].iov_base = p[i].buf + skip;
				local[cnt].iov_len = p[i].len - skip;
				remote[cnt].iov_base =
					(void *)(uintptr_t)(p[i].r->where + p[i].off + skip);
				remote[cnt].iov_len = p[i].len - skip;
			}
			r = process_vm_readv(m->pid, local, cnt, remote, cnt, 0);
			if (r <= 0)
				return read_error(m, r < 0 ? errno : EFAULT,
						  p[first].r->gpa + p[first].off + off0);
			done += (size_t)r;
			/* Advance first/off0 by r bytes. */
			for (size_t left = (size_t)r; left > 0;) {
				size_t rest = p[first].len - off0;

				if (left < rest) {
					off0 += left;
					left = 0;
				} else {
					left -= rest;
					first++;
					off0 = 0;
				}
			}
			while (first < k && p[first].len == 0)
				first++;
		}
		p += k;
		n -= k;
	}
	return 0;
}

static const struct kvmon_mem_ops process_ops = {
	.name = "process",
	.readv = process_readv,
};

/* Host virtual address of every range, checked for consistency. */
static int locate(struct kvmon_mem *m, struct kvmon_qmp *q)
{
	for (size_t i = 0; i < m->nranges; i++) {
		struct kvmon_mem_range *r = &m->ranges[i];
		char cmd[64], block[64], *out = NULL;
		uint64_t hva;
		int rc;

		snprintf(cmd, sizeof(cmd), "gpa2hva 0x%llx",
			 (unsigned long long)r->gpa);
		if (kvmon_qmp_hmp(q, cmd, &out) < 0)
			return -1;
		rc = kvmon_parse_gpa2hva(out, strlen(out), r->gpa, block,
					 sizeof(block), &hva);
		free(out);
		if (rc < 0)
			return -1;
		if (strcmp(block, r->block))
			return kvmon_set_error(EPROTO, "gpa2hva 0x%llx names RAM "
					       "block '%s', the layout '%s'",
					       (unsigned long long)r->gpa, block,
					       r->block);
		if (hva > UINT64_MAX - r->size || hva < r->backend_offset)
			return kvmon_set_error(EPROTO, "gpa2hva 0x%llx: host "
					       "address 0x%llx implausible",
					       (unsigned long long)r->gpa,
					       (unsigned long long)hva);
		r->where = hva;
		/* One block, one base: offsets in the block must agree. */
		for (size_t j = 0; j < i; j++) {
			const struct kvmon_mem_range *o = &m->ranges[j];

			if (!strcmp(o->block, r->block) &&
			    o->where - o->backend_offset != hva - r->backend_offset)
				return kvmon_set_error(EPROTO, "gpa2hva: ranges of "
						       "block '%s' disagree on "
						       "its host address",
						       r->block);
		}
	}
	return 0;
}

struct kvmon_mem *kvmon_mem_open_process(struct kvmon_vm *vm)
{
	struct kvmon_mem_range *r = NULL;
	struct kvmon_qmp *q = kvmon_vm_qmp(vm);
	struct kvmon_mem *m;
	uint8_t probe;
	size_t n = 0;
	pid_t pid;

	if (!q)
		return NULL;
	pid = kvmon_qmp_peer_pid(q);
	if (pid <= 0) {
		kvmon_set_error(ESRCH, "VM '%s': pid of QEMU unknown (no "
				"SO_PEERCRED on its QMP socket)", vm->name);
		return NULL;
	}
	if (vm->pid > 0 && vm->pid != pid) {
		kvmon_set_error(ESRCH, "VM '%s': QMP is served by pid %d, not the "
				"recorded QEMU pid %d", vm->name, (int)pid,
				(int)vm->pid);
		return NULL;
	}
	if (kvmon_mem_live_ranges(vm, NULL, &r, &n) < 0) {
		kvmon_error_prefix("guest RAM of VM '%s'", vm->name);
		return NULL;
	}
	m = kvmon_mem_alloc(&process_ops, 0);
	if (!m) {
		free(r);
		return NULL;
	}
	m->ranges = r;
	m->nranges = n;
	m->pid = pid;
	snprintf(m->what, sizeof(m->what), "VM '%s'", vm->name);
	if (kvmon_mem_finish_ranges(m) < 0 || locate(m, q) < 0 ||
	    kvmon_mem_read_phys(m, m->ranges[0].gpa, &probe, 1) < 0) {
		kvmon_error_prefix("guest RAM of VM '%s' (process backend)",
				   vm->name);
		kvmon_mem_close(m);
		return NULL;
	}
	return m;
}
