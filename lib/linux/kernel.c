/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Knowing the guest kernel from its memory alone.
 *
 * VMCOREINFO (Linux >= 6.0 writes it into guest RAM) gives the KASLR
 * offset, phys_base, the kernel page-table root and the kallsyms tables;
 * kallsyms gives every symbol; the kernel's BTF, found between __start_BTF
 * and __stop_BTF, gives struct layouts. Nothing comes from the guest's
 * cooperation and nothing is written.
 */
#include "linux/kernel.h"
#include "linux/kallsyms_carve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLB_LOG2 12

static int kernel_vread(void *ctx, uint64_t va, void *buf, size_t len)
{
	struct kvmon_kernel *k = ctx;

	return kvmon_x86_read_virt(k->tlb, &k->pm, k->cr3, k->la57, va, buf, len);
}

static int need_symbol(struct kvmon_kernel *k, const char *name, uint64_t *v)
{
	if (kvmon_vmcoreinfo_symbol(k->vci, name, v) < 0)
		return kvmon_set_error(ENOENT, "VMCOREINFO has no SYMBOL(%s)", name);
	return 0;
}

/* KASLR offset, phys_base, page-table root, paging mode, release. */
static int read_vmcoreinfo(struct kvmon_kernel *k)
{
	const char *rel;
	uint64_t top;
	int64_t l5 = 0;

	k->vci = kvmon_vmcoreinfo_find(&k->pm, kvmon_mem_ram_end(k->mem),
				       &k->vci_gpa);
	if (!k->vci)
		return kvmon_error_prefix("no VMCOREINFO in guest RAM (kernel "
					  "older than 6.0?)");
	rel = kvmon_vmcoreinfo_get(k->vci, "OSRELEASE");
	snprintf(k->release, sizeof(k->release), "%s", rel ? rel : "unknown");
	if (kvmon_vmcoreinfo_kernel_offset(k->vci, &k->kaslr) < 0)
		k->kaslr = 0; /* KASLR disabled: the line is absent */
	if (kvmon_vmcoreinfo_number(k->vci, "phys_base", &k->phys_base) < 0)
		return kvmon_set_error(ENOENT, "VMCOREINFO has no phys_base");
	if (kvmon_vmcoreinfo_number(k->vci, "pgtable_l5_enabled", &l5) < 0)
		l5 = 0;
	k->la57 = l5 != 0;
	if (need_symbol(k, "init_top_pgt", &top) < 0)
		return -1;
	if (top < KVMON_START_KERNEL_MAP)
		return kvmon_set_error(EPROTO, "init_top_pgt 0x%llx outside the "
				       "kernel image", (unsigned long long)top);
	/* Kernel image addresses map linearly: no walk needed for the root. */
	k->cr3 = top - KVMON_START_KERNEL_MAP + (uint64_t)k->phys_base;
	return 0;
}

/* Kernel text starts at 16 MiB + KASLR; the tables are in the image. */
static int carve_kallsyms(struct kvmon_kernel *k, struct kvmon_kallsyms_addrs *a)
{
	uint64_t start = (0xffffffff81000000ull + k->kaslr) & ~((2ull << 20) - 1);

	if (kvmon_kallsyms_carve(&k->vm, start, 64ull << 20, a) == 0)
		return 0;
	return kvmon_kallsyms_carve(&k->vm, start, 256ull << 20, a);
}

static int load_kallsyms(struct kvmon_kernel *k, unsigned flags)
{
	struct kvmon_kallsyms_addrs a = { 0 };
	uint64_t probe;

	if ((flags & KVMON_KERNEL_CARVE_KALLSYMS) ||
	    kvmon_vmcoreinfo_symbol(k->vci, "kallsyms_names", &probe) < 0) {
		if (carve_kallsyms(k, &a) < 0)
			return kvmon_error_prefix("kallsyms tables not found");
	} else if (need_symbol(k, "kallsyms_names", &a.names) < 0 ||
	    need_symbol(k, "kallsyms_num_syms", &a.num_syms) < 0 ||
	    need_symbol(k, "kallsyms_token_table", &a.token_table) < 0 ||
	    need_symbol(k, "kallsyms_token_index", &a.token_index) < 0 ||
	    need_symbol(k, "kallsyms_offsets", &a.offsets) < 0 ||
	    need_symbol(k, "kallsyms_relative_base", &a.relative_base) < 0)
		return -1;
	if (!a.markers &&
	    kvmon_vmcoreinfo_symbol(k->vci, "kallsyms_markers", &a.markers) < 0)
		a.markers = 0;
	k->syms = kvmon_kallsyms_load(&k->vm, &a);
	if (!k->syms)
		return kvmon_error_prefix("kallsyms");
	if (kvmon_kallsyms_lookup(k->syms, "_stext", &k->stext) < 0 ||
	    kvmon_kallsyms_lookup(k->syms, "_etext", &k->etext) < 0 ||
	    k->etext <= k->stext)
		return kvmon_set_error(EPROTO, "kallsyms: no valid _stext/_etext");
	return 0;
}

static int load_btf(struct kvmon_kernel *k)
{
	uint64_t start, stop;
	void *blob;
	int rc = 0;

	if (kvmon_kallsyms_lookup(k->syms, "__start_BTF", &start) < 0 ||
	    kvmon_kallsyms_lookup(k->syms, "__stop_BTF", &stop) < 0)
		return kvmon_set_error(ENOENT, "guest kernel has no BTF "
				       "(CONFIG_DEBUG_INFO_BTF)");
	if (stop <= start || stop - start > KVMON_BTF_MAX)
		return kvmon_set_error(EPROTO, "BTF bounds implausible");
	blob = malloc(stop - start);
	if (!blob)
		return kvmon_set_error(ENOMEM, "out of memory");
	if (kvmon_kernel_read(k, start, blob, stop - start) < 0)
		rc = kvmon_error_prefix("reading BTF");
	else if (!(k->btf = kvmon_btf_load(blob, stop - start)))
		rc = -1;
	free(blob);
	return rc;
}

struct kvmon_kernel *kvmon_kernel_open(struct kvmon_mem *mem)
{
	return kvmon_kernel_open_flags(mem, 0);
}

struct kvmon_kernel *kvmon_kernel_open_flags(struct kvmon_mem *mem, unsigned flags)
{
	struct kvmon_kernel *k;

	if (!mem) {
		kvmon_set_error(EINVAL, "no guest memory");
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	k->mem = mem;
	kvmon_mem_physmem(mem, &k->pm);
	k->vm.read = kernel_vread;
	k->vm.ctx = k;
	k->tlb = kvmon_tlb_new(TLB_LOG2);
	if (!k->tlb) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto fail;
	}
	if (read_vmcoreinfo(k) < 0 || load_kallsyms(k, flags) < 0 || load_btf(k) < 0)
		goto fail;
	return k;
fail:
	kvmon_error_prefix("guest kernel");
	kvmon_kernel_close(k);
	return NULL;
}

void kvmon_kernel_close(struct kvmon_kernel *k)
{
	if (!k)
		return;
	free(k->sc.raw);
	free(k->sc.res);
	free(k->sc.ok);
	kvmon_btf_free(k->btf);
	kvmon_kallsyms_free(k->syms);
	kvmon_vmcoreinfo_free(k->vci);
	kvmon_tlb_free(k->tlb);
	free(k);
}

const char *kvmon_kernel_release(const struct kvmon_kernel *k)
{
	return k ? k->release : "";
}

uint64_t kvmon_kernel_kaslr_offset(const struct kvmon_kernel *k)
{
	return k ? k->kaslr : 0;
}

size_t kvmon_kernel_symbol_count(const struct kvmon_kernel *k)
{
	return k ? kvmon_kallsyms_count(k->syms) : 0;
}

int kvmon_kernel_symbol(const struct kvmon_kernel *k, const char *name,
			uint64_t *addr)
{
	if (!k || !name || !addr)
		return kvmon_set_error(EINVAL, "symbol: bad arguments");
	return kvmon_kallsyms_lookup(k->syms, name, addr);
}

int kvmon_kernel_resolve(const struct kvmon_kernel *k, uint64_t addr,
			 char *name, size_t size, uint64_t *offset)
{
	const char *n;

	if (!k || !name || size == 0 || !offset)
		return kvmon_set_error(EINVAL, "resolve: bad arguments");
	if (kvmon_kallsyms_resolve(k->syms, addr, &n, offset) < 0)
		return -1;
	snprintf(name, size, "%s", n);
	return 0;
}

int kvmon_kernel_member(const struct kvmon_kernel *k, const char *type,
			const char *member, uint64_t *offset, uint64_t *size)
{
	if (!k || !offset)
		return kvmon_set_error(EINVAL, "member: bad arguments");
	return kvmon_btf_member(k->btf, type, member, offset, size);
}

int kvmon_kmember(const struct kvmon_kernel *k, const char *type,
		  const char *member, uint64_t *off)
{
	return kvmon_btf_member(k->btf, type, member, off, NULL);
}

int kvmon_kernel_set_translation(struct kvmon_kernel *k, struct kvmon_qmp *qmp)
{
	if (!k)
		return kvmon_set_error(EINVAL, "set_translation: no kernel");
	k->xlate_qmp = qmp;
	return 0;
}

/* The paper's way: every page asks QEMU, nothing cached. */
static int qmp_read(struct kvmon_kernel *k, uint64_t va, uint8_t *buf, size_t len)
{
	while (len > 0) {
		uint64_t gpa, in_page = 4096 - (va & 4095);
		size_t chunk = len < in_page ? len : (size_t)in_page;

		if (kvmon_qmp_gva2gpa(k->xlate_qmp, va, &gpa) < 0 ||
		    kvmon_phys_read(&k->pm, gpa, buf, chunk) < 0)
			return -1;
		va += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int kvmon_kernel_translate(struct kvmon_kernel *k, uint64_t va, uint64_t *gpa)
{
	struct kvmon_xlate x;

	if (!k || !gpa)
		return kvmon_set_error(EINVAL, "translate: bad arguments");
	if (k->xlate_qmp)
		return kvmon_qmp_gva2gpa(k->xlate_qmp, va, gpa);
	if (kvmon_x86_translate_cached(k->tlb, &k->pm, k->cr3, k->la57, va, &x) < 0)
		return -1;
	*gpa = x.gpa;
	return 0;
}

int kvmon_kernel_read(struct kvmon_kernel *k, uint64_t va, void *buf,
		      size_t len)
{
	if (!k || (!buf && len))
		return kvmon_set_error(EINVAL, "read: bad arguments");
	if (k->xlate_qmp)
		return qmp_read(k, va, buf, len);
	return kvmon_x86_read_virt(k->tlb, &k->pm, k->cr3, k->la57, va, buf, len);
}

void kvmon_kernel_flush(struct kvmon_kernel *k)
{
	if (k)
		kvmon_tlb_flush(k->tlb);
}

int kvmon_kread_u64(struct kvmon_kernel *k, uint64_t va, size_t size,
		    uint64_t *out)
{
	uint8_t b[8] = { 0 };

	if (size == 0 || size > 8)
		return kvmon_set_error(EINVAL, "read of %zu bytes", size);
	if (kvmon_kernel_read(k, va, b, size) < 0)
		return -1;
	*out = 0;
	for (size_t i = size; i-- > 0;)
		*out = (*out << 8) | b[i];
	return 0;
}
