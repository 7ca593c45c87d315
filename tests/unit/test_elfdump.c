/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offline guest memory: the ELF core header parser on hostile headers
 * (absurd counts and sizes, overlapping and out-of-file segments,
 * truncation), then the dump and raw backends on real files, which also
 * exercise the generic layer for non-mapped backends: bounds checks,
 * batched reads, zero-filled segment tails, and chunked search (matches
 * across read-chunk boundaries).
 */
#define _GNU_SOURCE
#include "mem/mem_internal.h"
#include "../tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PH 56

struct seg {
	uint32_t type;
	uint64_t off, paddr, filesz, memsz;
};

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ELF64 core header + program headers at 64; returns bytes used. */
static size_t mk_elf(uint8_t *b, const struct seg *s, unsigned n)
{
	memset(b, 0, 64 + (size_t)n * PH);
	memcpy(b, "\177ELF", 4);
	b[4] = 2;		/* ELFCLASS64 */
	b[5] = 1;		/* little-endian */
	b[6] = 1;		/* EV_CURRENT */
	put(b + 16, 4, 2);	/* ET_CORE */
	put(b + 18, 62, 2);	/* EM_X86_64 */
	put(b + 20, 1, 4);
	put(b + 32, 64, 8);	/* e_phoff */
	put(b + 52, 8, 2);	/* e_ehsize as QEMU 7.2 writes it */
	put(b + 54, PH, 2);
	put(b + 56, n, 2);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = b + 64 + (size_t)i * PH;

		put(p, s[i].type, 4);
		put(p + 8, s[i].off, 8);
		put(p + 16, s[i].paddr, 8);
		put(p + 24, s[i].paddr, 8);
		put(p + 32, s[i].filesz, 8);
		put(p + 40, s[i].memsz, 8);
	}
	return 64 + (size_t)n * PH;
}

static uint8_t hdr[64 + 8 * PH];
static struct kvmon_dump_seg out[16];

static int parse(size_t len, uint64_t fsize, size_t *n)
{
	return kvmon_parse_elf_dump(hdr, len, fsize, out, 16, n);
}

static void test_parser(void)
{
	const struct seg qemu[] = {
		{ 4, 0x168, 0, 0x330, 0x330 },                 /* PT_NOTE */
		{ 1, 0x10000498, 0xfffc0000, 0x40000, 0x40000 },
		{ 1, 0x498, 0, 0x10000000, 0x10000000 },
	};
	size_t len, n = 0;
	int rc;

	len = mk_elf(hdr, qemu, 3);
	ok(parse(len, 0x10040498, &n) == 0 && n == 2 && out[0].gpa == 0 &&
		   out[0].offset == 0x498 && out[0].size == 0x10000000 &&
		   out[1].gpa == 0xfffc0000 && out[1].offset == 0x10000498,
	   "QEMU-shaped core: NOTE skipped, 2 PT_LOADs sorted by gpa");
	ok(kvmon_elf_dump_need(hdr, 64, &n) == 0 && n == 64 + 3 * PH,
	   "header length needed: ELF header + 3 program headers");
	rc = parse(len, 0x10040497, &n);
	ok(rc < 0 && kvmon_get_errno() == EPROTO &&
		   strstr(kvmon_get_error(), "truncated"),
	   "segment one byte past the end of the file: rejected");
	diag("%s", kvmon_get_error());

	const struct seg adj[] = {
		{ 1, 0x1000, 0x100000, 0x1000, 0x1000 },
		{ 1, 0x2000, 0x101000, 0x1000, 0x1000 },
		{ 1, 0x3000, 0x200000, 0x1000, 0x1000 },
		{ 1, 0x5000, 0x201000, 0x1000, 0x1000 },  /* file gap: no merge */
	};
	len = mk_elf(hdr, adj, 4);
	ok(parse(len, 0x10000, &n) == 0 && n == 3 && out[0].size == 0x2000 &&
		   out[1].gpa == 0x200000 && out[2].offset == 0x5000,
	   "segments contiguous in memory and file merged, others kept");

	const struct seg tail[] = { { 1, 0x1000, 0x0, 0x800, 0x2000 } };
	len = mk_elf(hdr, tail, 1);
	ok(parse(len, 0x1800, &n) == 0 && n == 1 && out[0].filesz == 0x800 &&
		   out[0].size == 0x2000,
	   "p_filesz < p_memsz accepted (tail reads as zeros)");

	struct {
		const char *what;
		struct seg s[2];
		unsigned n;
		uint64_t fsize;
		int err;
	} bad[] = {
		{ "overlapping segments", { { 1, 0x100, 0x1000, 0x2000, 0x2000 },
					    { 1, 0x100, 0x2000, 0x1000, 0x1000 } }, 2,
		  1 << 20, EPROTO },
		{ "duplicate segments", { { 1, 0x100, 0x1000, 0x1000, 0x1000 },
					  { 1, 0x100, 0x1000, 0x1000, 0x1000 } }, 2,
		  1 << 20, EPROTO },
		{ "p_filesz > p_memsz", { { 1, 0x100, 0, 0x2000, 0x1000 } }, 1,
		  1 << 20, EPROTO },
		{ "offset + filesz wraps", { { 1, UINT64_MAX - 10, 0, 0x100, 0x100 } }, 1,
		  1 << 20, EPROTO },
		{ "huge p_filesz", { { 1, 0x100, 0, UINT64_MAX, UINT64_MAX } }, 1,
		  1 << 20, EPROTO },
		{ "gpa beyond 2^52", { { 1, 0x100, 1ull << 52, 0x10, 0x10 } }, 1,
		  1 << 20, EPROTO },
		{ "gpa + memsz wraps", { { 1, 0x100, UINT64_MAX - 0xf, 0, 0x100 } }, 1,
		  1 << 20, EPROTO },
		{ "huge p_memsz", { { 1, 0x100, 0x1000, 0x10, 1ull << 60 } }, 1,
		  1 << 20, EPROTO },
		{ "no PT_LOAD", { { 4, 0x100, 0, 0x10, 0x10 } }, 1, 1 << 20, EPROTO },
		{ "only empty PT_LOADs", { { 1, 0x100, 0, 0, 0 } }, 1, 1 << 20, EPROTO },
		{ "headers past the file end", { { 1, 0x100, 0, 0x10, 0x10 } }, 1,
		  100, EPROTO },
	};
	int rejected = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		len = mk_elf(hdr, bad[i].s, bad[i].n);
		if (parse(len, bad[i].fsize, &n) < 0 && kvmon_get_errno() == bad[i].err)
			rejected++;
		else
			diag("accepted: %s", bad[i].what);
	}
	ok(rejected == (int)(sizeof(bad) / sizeof(*bad)),
	   "%d/%zu hostile segment tables rejected", rejected,
	   sizeof(bad) / sizeof(*bad));

	/* Hostile ELF headers. */
	const struct seg one[] = { { 1, 0x1000, 0, 0x1000, 0x1000 } };
	struct {
		const char *what;
		int at, width;
		uint64_t value;
		int err;
	} h[] = {
		{ "bad magic", 1, 1, 'e', EPROTO },
		{ "ELFCLASS32", 4, 1, 1, EPROTO },
		{ "big-endian", 5, 1, 2, EPROTO },
		{ "ELF version 0", 6, 1, 0, EPROTO },
		{ "ET_EXEC", 16, 2, 2, EPROTO },
		{ "e_version 2", 20, 4, 2, EPROTO },
		{ "e_phentsize 32", 54, 2, 32, EPROTO },
		{ "e_phentsize 0", 54, 2, 0, EPROTO },
		{ "e_phnum 0", 56, 2, 0, EPROTO },
		{ "e_phnum PN_XNUM", 56, 2, 0xffff, E2BIG },
		{ "e_phnum 5000", 56, 2, 5000, E2BIG },
		{ "e_phnum 2 (table past buffer)", 56, 2, 2, EPROTO },
		{ "e_phoff 0", 32, 8, 0, EPROTO },
		{ "e_phoff 63", 32, 8, 63, EPROTO },
		{ "e_phoff huge", 32, 8, UINT64_MAX - 8, EPROTO },
		{ "e_phoff past buffer", 32, 8, 4096, EPROTO },
	};
	rejected = 0;
	for (size_t i = 0; i < sizeof(h) / sizeof(*h); i++) {
		len = mk_elf(hdr, one, 1);
		put(hdr + h[i].at, h[i].value, h[i].width);
		if (parse(len, 1 << 20, &n) < 0 && kvmon_get_errno() == h[i].err)
			rejected++;
		else
			diag("accepted or wrong errno: %s (%s)", h[i].what,
			     kvmon_get_error());
	}
	ok(rejected == (int)(sizeof(h) / sizeof(*h)),
	   "%d/%zu hostile ELF headers rejected", rejected, sizeof(h) / sizeof(*h));

	len = mk_elf(hdr, one, 1);
	rejected = 0;
	for (size_t cut = 0; cut < len; cut++)
		rejected += parse(cut, 1 << 20, &n) < 0;
	ok(rejected == (int)len,
	   "every truncation of the headers (0..%zu bytes) rejected", len - 1);
	ok(kvmon_parse_elf_dump(hdr, len, 1 << 20, out, 0, &n) < 0 &&
		   kvmon_get_errno() == E2BIG,
	   "more PT_LOADs than the caller's array: E2BIG, no overflow");
}

/* ------------------------------------------------------ files on disk */

static char dir[PATH_MAX];

static uint8_t pat(uint64_t gpa)
{
	return (uint8_t)((gpa * 131) ^ (gpa >> 9) ^ (gpa >> 17));
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = fd >= 0 && write(fd, data, len) == (ssize_t)len ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

#define SEG_A 0x300000u   /* 3 MiB at gpa 0 */
#define SEG_B_GPA 0x1000000u
#define SEG_B 0x10000u    /* 64 KiB at 16 MiB, then 16 KiB of zeros */

static void test_elf_file(void)
{
	char path[PATH_MAX + 16];
	const struct seg segs[] = {
		{ 1, 0x1000 + SEG_A, SEG_B_GPA, SEG_B, SEG_B + 0x4000 },
		{ 1, 0x1000, 0, SEG_A, SEG_A },
	};
	size_t total = 0x1000 + SEG_A + SEG_B;
	uint8_t *img = calloc(1, total), buf[256], *big;
	struct kvmon_ram_range rr[4];
	struct kvmon_mem *m;
	uint64_t at = 0;
	size_t n = 0;

	mk_elf(img, segs, 2);
	for (uint64_t g = 0; g < SEG_A; g++)
		img[0x1000 + g] = pat(g);
	for (uint64_t g = 0; g < SEG_B; g++)
		img[0x1000 + SEG_A + g] = pat(SEG_B_GPA + g);
	/* A needle straddling the 1 MiB read-chunk boundary, one at the very
	 * end of a segment, and one crossing two segments (never matched). */
	memcpy(img + 0x1000 + 0x100000 - 5, "NEEDLE-1", 8);
	memcpy(img + 0x1000 + SEG_A - 8, "NEEDLE-2", 8);
	snprintf(path, sizeof(path), "%s/core.elf", dir);
	if (write_file(path, img, total) < 0)
		bail("write %s", path);

	m = kvmon_mem_open_dump(path);
	ok(m != NULL, "ELF dump opens (%s)", m ? "ok" : kvmon_get_error());
	if (!m) {
		free(img);
		return;
	}
	ok(!strcmp(kvmon_mem_backend(m), "dump") &&
		   kvmon_mem_size(m) == SEG_A + SEG_B + 0x4000,
	   "backend 'dump', size = sum of p_memsz");
	ok(kvmon_mem_ranges(m, rr, 4, &n) == 0 && n == 2 && rr[0].gpa == 0 &&
		   rr[1].gpa == SEG_B_GPA && rr[1].backend_offset == 0x1000 + SEG_A,
	   "ranges in gpa order, backend_offset = file offset");
	ok(kvmon_mem_read_phys(m, 0x12345, buf, sizeof(buf)) == 0 &&
		   buf[0] == pat(0x12345) && buf[255] == pat(0x12345 + 255),
	   "read inside a segment");
	ok(kvmon_mem_read_phys(m, SEG_B_GPA + SEG_B - 16, buf, 32) == 0 &&
		   buf[15] == pat(SEG_B_GPA + SEG_B - 1) && buf[16] == 0 && buf[31] == 0,
	   "read across p_filesz: data, then zeros up to p_memsz");
	ok(kvmon_mem_read_phys(m, SEG_A - 8, buf, 16) < 0 &&
		   kvmon_get_errno() == EFAULT,
	   "read running into a hole: EFAULT");
	ok(kvmon_mem_read_phys(m, SEG_B_GPA + SEG_B + 0x4000, buf, 1) < 0,
	   "read past the last segment: EFAULT");
	ok(kvmon_mem_read_phys(m, UINT64_MAX, buf, 2) < 0,
	   "read at the top of the address space: refused");

	struct kvmon_phys_iov iov[3] = {
		{ 0x10, buf, 8 }, { SEG_B_GPA, buf + 8, 8 }, { 0x2ffff8, buf + 16, 8 },
	};
	ok(kvmon_mem_readv(m, iov, 3) == 0 && buf[0] == pat(0x10) &&
		   buf[8] == pat(SEG_B_GPA) && !memcmp(buf + 16, "NEEDLE-2", 8),
	   "batched read of three pieces in two segments");
	iov[1].gpa = SEG_A;
	memset(buf, 0xee, 24);
	ok(kvmon_mem_readv(m, iov, 3) < 0 && buf[0] == 0xee,
	   "batched read with one bad piece: refused before reading anything");

	ok(kvmon_mem_find(m, 0, "NEEDLE-1", 8, &at) == 1 && at == 0x100000 - 5,
	   "find: needle across the 1 MiB read-chunk boundary");
	ok(kvmon_mem_find(m, at + 1, "NEEDLE-", 7, &at) == 1 && at == SEG_A - 8,
	   "find from an offset: needle at the very end of a segment");
	ok(kvmon_mem_find(m, at + 1, "NEEDLE", 6, &at) == 0,
	   "find: nothing further");
	big = malloc(128 << 10);
	memset(big, 'x', 128 << 10);
	ok(kvmon_mem_find(m, 0, big, 128 << 10, &at) < 0 && kvmon_get_errno() == EINVAL,
	   "find: needle over 64 KiB refused");
	free(big);

	/* The dump shrinks under us: a read error, never SIGBUS. */
	if (truncate(path, 0x1000 + 0x1000) < 0)
		bail("truncate");
	ok(kvmon_mem_read_phys(m, 0x200000, buf, 16) < 0 && kvmon_get_errno() == EIO,
	   "dump truncated after opening: read fails with EIO (%s)",
	   kvmon_get_error());
	kvmon_mem_close(m);
	ok(kvmon_mem_open_dump(path) == NULL && kvmon_get_errno() == EPROTO,
	   "truncated dump refused at open (%s)", kvmon_get_error());

	/* Header claims more program headers than the file holds. */
	put(img + 56, 1000, 2);
	if (write_file(path, img, 4096) < 0)
		bail("write");
	ok(kvmon_mem_open_dump(path) == NULL, "program headers past EOF refused");
	unlink(path);
	free(img);
}

static void test_raw_file(void)
{
	char path[PATH_MAX + 16];
	size_t size = 0x200000;
	uint8_t *img = malloc(size), buf[64];
	struct kvmon_mem *m;
	uint64_t at = 0;
	const struct kvmon_ram_range holes[] = {
		{ .gpa = 0x100000, .size = 0x100000 },
		{ .gpa = 0, .size = 0xa0000 },
	};
	const struct kvmon_ram_range past[] = { { .gpa = 0x100000, .size = 0x100001 } };
	const struct kvmon_ram_range overlap[] = {
		{ .gpa = 0, .size = 0x2000 }, { .gpa = 0x1000, .size = 0x1000 },
	};

	for (size_t i = 0; i < size; i++)
		img[i] = pat(i);
	memcpy(img + 0xb0000, "HIDDEN", 6);
	memcpy(img + 0x1ffffa, "ATEND!", 6);
	snprintf(path, sizeof(path), "%s/mem.raw", dir);
	if (write_file(path, img, size) < 0)
		bail("write");
	m = kvmon_mem_open_dump(path);
	ok(m && !strcmp(kvmon_mem_backend(m), "raw") && kvmon_mem_size(m) == size,
	   "non-ELF file opens as a raw image of its whole size");
	ok(m && kvmon_mem_read_phys(m, 0x1234, buf, 8) == 0 && buf[0] == pat(0x1234),
	   "raw: offset = gpa");
	ok(m && kvmon_mem_find(m, 0, "ATEND!", 6, &at) == 1 && at == 0x1ffffa,
	   "raw: find at the very end of the file");
	kvmon_mem_close(m);

	m = kvmon_mem_open_raw(path, holes, 2);
	ok(m && kvmon_mem_size(m) == 0x1a0000, "raw with a layout: size of the ranges");
	ok(m && kvmon_mem_read_phys(m, 0xb0000, buf, 6) < 0,
	   "raw with a layout: the hole is not RAM");
	ok(m && kvmon_mem_find(m, 0, "HIDDEN", 6, &at) == 0,
	   "raw with a layout: find skips the hole");
	kvmon_mem_close(m);
	ok(kvmon_mem_open_raw(path, past, 1) == NULL,
	   "raw: a range past the end of the file refused");
	ok(kvmon_mem_open_raw(path, overlap, 2) == NULL,
	   "raw: overlapping ranges refused (%s)", kvmon_get_error());
	unlink(path);

	ok(kvmon_mem_open_dump(path) == NULL && kvmon_get_errno() == ENOENT,
	   "missing file: ENOENT");
	if (write_file(path, "", 0) < 0)
		bail("write");
	ok(kvmon_mem_open_dump(path) == NULL, "empty file refused");
	unlink(path);
	ok(kvmon_mem_open_dump(dir) == NULL, "a directory is refused");
	if (mkfifo(path, 0600) == 0) {
		ok(kvmon_mem_open_dump(path) == NULL, "a FIFO is refused, without hanging");
		unlink(path);
	}
	free(img);
}

static void test_api_misuse(void)
{
	uint8_t b[8];
	uint64_t at;

	ok(kvmon_mem_read_phys(NULL, 0, b, 8) < 0 && kvmon_get_errno() == EINVAL,
	   "read_phys(NULL): EINVAL");
	ok(kvmon_mem_find(NULL, 0, "x", 1, &at) < 0, "find(NULL): EINVAL");
	ok(kvmon_mem_open_backend(NULL, "file") == NULL, "open_backend(NULL VM)");
	ok(kvmon_mem_dump(NULL, "/nonexistent", "elf", 0) < 0 &&
		   kvmon_get_errno() == EINVAL,
	   "dump(NULL VM): EINVAL");
	ok(!strcmp(kvmon_mem_backend(NULL), "") && kvmon_mem_size(NULL) == 0,
	   "backend/size of NULL are harmless");
	kvmon_mem_close(NULL);
}

int main(void)
{
	const char *root = getenv("KVMON_TEST_ROOT");

	test_parser();
	snprintf(dir, sizeof(dir), "%s", root && *root ? root : "/tmp/kvmon-test");
	mkdir(dir, 0700);
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/elfdump-XXXXXX");
	if (!mkdtemp(dir))
		bail("mkdtemp %s", dir);
	test_elf_file();
	test_raw_file();
	test_api_misuse();
	if (rmdir(dir) < 0)
		diag("left behind: %s", dir);
	ok(access(dir, F_OK) < 0, "temporary directory removed");
	return tap_done();
}
