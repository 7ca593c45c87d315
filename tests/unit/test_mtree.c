/* SPDX-License-Identifier: GPL-2.0-or-later */
/* RAM layout parsing from `info mtree -f` text: real and hostile input. */
#include "internal.h"
#include "../tap.h"

#include <errno.h>
#include <string.h>

/* Verbatim from QEMU 7.2 (pc, 256M memory-backend-file "mem"). */
static const char real_72[] =
	"FlatView #0\r\n"
	" AS \"memory\", root: system\r\n"
	" AS \"cpu-memory-0\", root: system\r\n"
	" Root memory region: system\r\n"
	"  0000000000000000-000000000009ffff (prio 0, ram): mem\r\n"
	"  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\r\n"
	"  00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\r\n"
	"  00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000\r\n"
	"  0000000000100000-000000000fffffff (prio 0, ram): mem @0000000000100000\r\n"
	"  00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\r\n"
	"  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\r\n"
	"\r\n"
	"FlatView #1\r\n"
	" AS \"I/O\", root: io\r\n"
	" Root memory region: io\r\n"
	"  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan\r\n";

/* Synthetic 6 GiB guest: RAM split around the PCI hole. */
static const char split[] =
	"FlatView #0\n"
	" AS \"I/O\", root: io\n"
	"  0000000000000000-00000000ffffffff (prio 0, ram): decoy\n"
	"FlatView #1\n"
	" AS \"memory\", root: system\n"
	"  0000000000000000-000000000009ffff (prio 0, ram): mem KVM\n"
	"  0000000000100000-00000000bfffffff (prio 0, ram): mem @0000000000100000 KVM\n"
	"  0000000100000000-00000001bfffffff (prio 0, ram): mem @00000000c0000000 KVM\n"
	"FlatView #2\n"
	" AS \"memory\", root: system\n"
	"  0000000000000000-00000000ffffffff (prio 0, ram): later\n";

static void test_real(void)
{
	struct kvmon_ram_range r[16];
	size_t n = 0;

	ok(kvmon_parse_mtree(real_72, strlen(real_72), r, 16, &n) == 0,
	   "QEMU 7.2 output parses");
	ok(n == 5, "five RAM/ROM ranges in the memory view (got %zu)", n);
	ok(n >= 5 && r[0].gpa == 0 && r[0].size == 0xa0000 &&
		   !strcmp(r[0].backend, "mem") && r[0].backend_offset == 0,
	   "low RAM: 0-0x9ffff at mem@0");
	ok(n >= 5 && r[3].gpa == 0x100000 && r[3].size == 0xff00000 &&
		   r[3].backend_offset == 0x100000 && !strcmp(r[3].backend, "mem"),
	   "main RAM 1M-256M at mem@1M");
	ok(n >= 5 && !strcmp(r[2].backend, "pc.bios") &&
		   r[2].backend_offset == 0x20000,
	   "ROM entries keep their own block names and offsets");
}

/* After boot SeaBIOS splits low RAM by PAM attributes. */
static const char pam[] =
	"FlatView #0\n AS \"memory\", root: system\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): mem\n"
	"  00000000000c0000-00000000000c0fff (prio 0, rom): mem @00000000000c0000\n"
	"  00000000000c1000-00000000000fffff (prio 0, ram): mem @00000000000c1000\n"
	"  0000000000100000-000000000fffffff (prio 0, ram): mem @0000000000100000\n"
	"  0000000010000000-0000000010000fff (prio 0, ram): mem @0000000020000000\n"
	"  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n";

static void test_merge(void)
{
	struct kvmon_ram_range r[8];
	size_t n = 0;

	ok(kvmon_parse_mtree(pam, strlen(pam), r, 8, &n) == 0 && n == 3,
	   "contiguous pieces of one backend merged (%zu ranges)", n);
	ok(n == 3 && r[0].gpa == 0 && r[0].size == 0x10000000,
	   "low RAM is one 256 MiB range");
	ok(n == 3 && r[1].gpa == 0x10000000 && r[1].backend_offset == 0x20000000,
	   "a piece contiguous in gpa but not in offset stays separate");
}

static void test_split(void)
{
	struct kvmon_ram_range r[8];
	size_t n = 0;

	ok(kvmon_parse_mtree(split, strlen(split), r, 8, &n) == 0 && n == 3,
	   "only the first memory view is used (%zu ranges)", n);
	ok(n == 3 && r[2].gpa == 0x100000000ull && r[2].size == 0xc0000000ull &&
		   r[2].backend_offset == 0xc0000000ull,
	   "RAM above 4 GiB maps to backend offset 3 GiB");
	ok(n == 3 && !strcmp(r[1].backend, "mem"), "trailing KVM flag not in name");
	n = 0;
	ok(kvmon_parse_mtree(split, strlen(split), r, 1, &n) == 0 && n == 3,
	   "output bounded by max, total still counted");
}

static void test_hostile(void)
{
	static const char *const bad[] = {
		"",
		"garbage\n\n\n",
		"FlatView #0\n AS \"memory\", root: system\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		"  ffffffffffffffff-0000000000000000 (prio 0, ram): mem\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		"  0000000000000000-ffffffffffffffff (prio 0, ram): mem\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		"  0000000000001000-0000000000001fff (prio 0, ram): mem @ffffffffffffffff\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		"  0000000000000000-0000000000000fff (prio 0, ram): "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		"  0000000000000000-0000000000000fff (prio 0, ram",
		"FlatView #0\n AS \"memory\", root: system\n  00000",
	};
	struct kvmon_ram_range r[4];
	char big[70000];
	size_t n;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		n = 99;
		ok(kvmon_parse_mtree(bad[i], strlen(bad[i]), r, 4, &n) < 0 &&
			   kvmon_get_errno() == EPROTO && n == 0,
		   "hostile input %zu refused: %s", i, kvmon_get_error());
	}
	/* Embedded NULs and no newline at all. */
	memset(big, 0, sizeof(big));
	memcpy(big, "FlatView #0\n AS \"memory\",", 25);
	ok(kvmon_parse_mtree(big, sizeof(big), r, 4, &n) < 0,
	   "NUL-filled input refused");
	memset(big, 'x', sizeof(big));
	ok(kvmon_parse_mtree(big, sizeof(big), r, 4, &n) < 0,
	   "one endless line refused");
}

int main(void)
{
	test_real();
	test_split();
	test_merge();
	test_hostile();
	return tap_done();
}
