/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsers of the HMP replies the memory backends rely on: gpa2hva
 * (process backend), xp (qmp backend), gva2gpa (baseline translation).
 * Real QEMU 7.2 text, then hostile variants: each must fail with EPROTO
 * (or EFAULT where QEMU says "not mapped"), never crash or accept junk.
 */
#include "mem/mem_internal.h"
#include "../tap.h"

#include <errno.h>
#include <string.h>

#define S(x) x, strlen(x)

static void test_gpa2hva(void)
{
	char block[64];
	uint64_t hva = 0;

	ok(kvmon_parse_gpa2hva(S("Host virtual address for 0x100000 (pc.ram) is "
				 "0x7fbbe7f00000\r\n"),
			       0x100000, block, sizeof(block), &hva) == 0 &&
		   hva == 0x7fbbe7f00000ull && !strcmp(block, "pc.ram"),
	   "gpa2hva: QEMU 7.2 reply parsed (pc.ram at 0x7fbbe7f00000)");
	ok(kvmon_parse_gpa2hva(S("Host virtual address for 0x0 (mem) is 0x7f0000000000\n"),
			       0, block, sizeof(block), &hva) == 0 &&
		   !strcmp(block, "mem"),
	   "gpa2hva: block 'mem', LF line end");
	ok(kvmon_parse_gpa2hva(S("Host virtual address for 0x0 (a)_(b) is 0x10"),
			       0, block, sizeof(block), &hva) == 0 &&
		   !strcmp(block, "a)_(b") && hva == 0x10,
	   "gpa2hva: name up to the last ') is 0x' (no newline needed)");
	ok(kvmon_parse_gpa2hva(S("No memory is mapped at address 0x20000000\r\n"),
			       0x20000000, block, sizeof(block), &hva) < 0 &&
		   kvmon_get_errno() == EFAULT,
	   "gpa2hva: 'No memory is mapped' -> EFAULT");

	static const char *const bad[] = {
		"",
		"\r\n",
		"garbage",
		"Host virtual address for 0x1000 (pc.ram) is 0x7f00",   /* wrong gpa */
		"Host virtual address for 0x100000 (pc.ram) is 0x0",    /* NULL */
		"Host virtual address for 0x100000 (pc.ram) is (nil)",
		"Host virtual address for 0x100000 () is 0x1000",
		"Host virtual address for 0x100000 (pc ram) is 0x1000",  /* space */
		"Host virtual address for 0x100000 (pc.ram) is 0x1000 extra",
		"Host virtual address for 0x100000 (pc.ram) is 0x10000000000000000",
		"Host virtual address for 0x100000 (pc.ram) is 0x1000\r\nmore",
		"Host virtual address for 0x00000000000000000100000 (pc.ram) is 0x1",
		"Host virtual address for 0x100000 (pc.ram is 0x1000",
		"Host virtual address for 0x100000 (pc.ram) is 0x",
		"Host virtual address for 0x100000",
		"host virtual address for 0x100000 (pc.ram) is 0x1000",
	};
	int rejected = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		rejected += kvmon_parse_gpa2hva(bad[i], strlen(bad[i]), 0x100000,
						block, sizeof(block), &hva) < 0 &&
			    kvmon_get_errno() == EPROTO;
	ok(rejected == (int)(sizeof(bad) / sizeof(*bad)),
	   "gpa2hva: %d/%zu hostile replies rejected with EPROTO", rejected,
	   sizeof(bad) / sizeof(*bad));

	/* A name that does not fit the caller's buffer. */
	char tiny[4];
	ok(kvmon_parse_gpa2hva(S("Host virtual address for 0x0 (pc.ram) is 0x1000"),
			       0, tiny, sizeof(tiny), &hva) < 0 && tiny[0] == '\0',
	   "gpa2hva: block name longer than the buffer rejected");
	/* Embedded NUL: len, not strlen, bounds the parse. */
	static const char nul[] = "Host virtual address for 0x0 (pc.ram) is 0x1000\0junk";
	ok(kvmon_parse_gpa2hva(nul, sizeof(nul) - 1, 0, block, sizeof(block),
			       &hva) < 0,
	   "gpa2hva: bytes after a NUL are not ignored");
	ok(kvmon_parse_gpa2hva(nul, 20, 0, block, sizeof(block), &hva) < 0,
	   "gpa2hva: truncated reply rejected");
	/* Error text is sanitised and bounded. */
	char junk[600];
	memset(junk, '\x01', sizeof(junk));
	ok(kvmon_parse_gpa2hva(junk, sizeof(junk), 0, block, sizeof(block), &hva) < 0 &&
		   strlen(kvmon_get_error()) < 200 && !strchr(kvmon_get_error(), '\x01'),
	   "gpa2hva: error message shows a short, printable excerpt");
}

static void test_xp(void)
{
	uint64_t w[8] = { 0 };

	ok(kvmon_parse_xp(S("0000000000001000: 0x0000000000000000 0x0000000000000000\r\n"
			    "0000000000001010: 0xf000ff53f000ff53 0xf000ff53f000e2c3\r\n"),
			  0x1000, w, 4) == 0 &&
		   w[0] == 0 && w[2] == 0xf000ff53f000ff53ull &&
		   w[3] == 0xf000ff53f000e2c3ull,
	   "xp: QEMU 7.2 /4gx output parsed");
	ok(kvmon_parse_xp(S("000000000009fff8: 0x0000000000000000 0xffffffffc0930010\r\n"),
			  0x9fff8, w, 2) == 0 && w[1] == 0xffffffffc0930010ull,
	   "xp: unaligned-to-16 start address");
	ok(kvmon_parse_xp(S("0000000000001000: 0x1\n\n0000000000001008: 0x2 0x3\n"),
			  0x1000, w, 3) == 0 && w[0] == 1 && w[1] == 2 && w[2] == 3,
	   "xp: short words, blank lines and uneven lines accepted");
	ok(kvmon_parse_xp(S("00000000fffffff8: Cannot access memory\r\n"), 0xfffffff8,
			  w, 1) < 0 && kvmon_get_errno() == EFAULT,
	   "xp: 'Cannot access memory' -> EFAULT");
	ok(kvmon_parse_xp(S("0000000000001000: 0x1 0x2\r\n0000000000001010: Cannot "
			    "access memory\r\n"),
			  0x1000, w, 4) < 0 && kvmon_get_errno() == EFAULT,
	   "xp: failure in a later line -> EFAULT");
	ok(kvmon_parse_xp(S(""), 0, w, 0) == 0, "xp: zero words, empty reply");

	static const char *const bad[] = {
		"",                                                 /* 2 wanted */
		"garbage\r\n",
		"0000000000001000: 0x1\r\n",                       /* too few */
		"0000000000001000: 0x1 0x2 0x3\r\n",               /* too many */
		"0000000000001008: 0x1 0x2\r\n",                   /* wrong address */
		"0000000000001000: 0x1\r\n0000000000001000: 0x2\r\n", /* repeated */
		"0000000000001000: 0x1 0x10000000000000000\r\n",   /* 17 digits */
		"0000000000001000: 0x1 0x\r\n",
		"0000000000001000: 0x1 1\r\n",
		"0000000000001000: 0x1  0x2\r\n",
		"0000000000001000: 0x1 0x2 \r\n",
		"0000000000001000 0x1 0x2\r\n",
		"0000000000001000:\r\n",
		"00000000000010000: 0x1 0x2\r\n",
		"0000000000001000: 0x1 0x2g\r\n",
		"0000000000001000: 0x1\r\nxx\r\n",
		"Cannot access memory",
	};
	int rejected = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		rejected += kvmon_parse_xp(bad[i], strlen(bad[i]), 0x1000, w, 2) < 0 &&
			    kvmon_get_errno() == EPROTO;
	ok(rejected == (int)(sizeof(bad) / sizeof(*bad)),
	   "xp: %d/%zu hostile outputs rejected with EPROTO", rejected,
	   sizeof(bad) / sizeof(*bad));
	ok(kvmon_parse_xp(S("fffffffffffffff8: 0x1 0x2\r\n"), 0xfffffffffffffff8ull,
			  w, 2) < 0,
	   "xp: address wrap-around rejected");
	/* Output never written past nwords even if QEMU sends more. */
	uint64_t guard[3] = { 0, 0, 0x5a5a };
	ok(kvmon_parse_xp(S("0000000000001000: 0x1 0x2 0x3\r\n"), 0x1000, guard, 2) < 0 &&
		   guard[2] == 0x5a5a,
	   "xp: extra words do not overrun the output");
}

static void test_gva2gpa(void)
{
	uint64_t gpa = 0;

	ok(kvmon_parse_gva2gpa(S("gpa: 0x1a00000\r\n"), &gpa) == 0 && gpa == 0x1a00000,
	   "gva2gpa: 'gpa: 0x1a00000' parsed");
	ok(kvmon_parse_gva2gpa(S("gpa: 0x0\n"), &gpa) == 0 && gpa == 0,
	   "gva2gpa: gpa 0 is a valid answer");
	ok(kvmon_parse_gva2gpa(S("Unmapped\r\n"), &gpa) < 0 && kvmon_get_errno() == EFAULT,
	   "gva2gpa: 'Unmapped' -> EFAULT");

	static const char *const bad[] = {
		"", "gpa:", "gpa: 0x", "gpa: 0x12z", "gpa: 1000", "GPA: 0x10",
		"gpa: 0x10 ", "gpa: 0x10\r\ngpa: 0x20", "gpa: 0x10000000000000000",
		"Unmapped!", "No cpu\r\n", "Unmapped\r\nUnmapped",
	};
	int rejected = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		rejected += kvmon_parse_gva2gpa(bad[i], strlen(bad[i]), &gpa) < 0 &&
			    kvmon_get_errno() == EPROTO;
	ok(rejected == (int)(sizeof(bad) / sizeof(*bad)),
	   "gva2gpa: %d/%zu hostile replies rejected with EPROTO", rejected,
	   sizeof(bad) / sizeof(*bad));
}

int main(void)
{
	test_gpa2hva();
	test_xp();
	test_gva2gpa();
	return tap_done();
}
