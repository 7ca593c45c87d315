/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * System.map parsing: a realistic map, tolerated variations, hostile lines
 * and files, limits, the KASLR slide and relocation, and the kallsyms
 * table addresses a map names.
 */
#define _GNU_SOURCE
#include "linux/sysmap.h"
#include "linux/kallsyms.h"
#include "internal.h"
#include "../tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLIDE 0x2ea00000ll

static const char map_text[] =
	"0000000000000000 D __per_cpu_start\n"
	"0000000000000000 D fixed_percpu_data\n"
	"0000000000001000 D cpu_debug_store\n"
	"000000000002c000 D __per_cpu_end\n"
	"0000000001000000 A phys_startup_64\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T startup_64\n"
	"ffffffff81000070 T secondary_startup_64\n"
	"ffffffff81001000 t dup_static\n"
	"ffffffff81002000 t dup_static\n"
	"ffffffff81e00000 R __start_rodata\n"
	"ffffffff81f00000 R kallsyms_offsets\n"
	"ffffffff81f40000 R kallsyms_relative_base\n"
	"ffffffff81f40008 R kallsyms_num_syms\n"
	"ffffffff81f40010 R kallsyms_names\n"
	"ffffffff81fa0000 R kallsyms_markers\n"
	"ffffffff81fa1000 R kallsyms_token_table\n"
	"ffffffff81fa1400 R kallsyms_token_index\n"
	"ffffffff82000000 D _sdata\n"
	"ffffffff82800000 A abs_in_image\n"
	"ffffffff82a00000 B __bss_start\n"
	"ffffffff83000000 B _end\n"
	"ffffffffff600000 A vsyscall_abs\n";

static struct kvmon_sysmap *parse(const char *s)
{
	return kvmon_sysmap_parse(s, strlen(s));
}

static void test_basic(void)
{
	struct kvmon_sysmap *m = parse(map_text);
	const char *name = NULL;
	uint64_t addr = 0, off = 0;
	char type = 0;

	ok(m != NULL, "realistic map parses (%s)", m ? "ok" : kvmon_get_error());
	if (!m)
		bail("cannot continue");
	ok(kvmon_sysmap_count(m) == 24, "24 symbols");
	ok(kvmon_sysmap_get(m, 5, &name, &type, &addr) == 0 &&
		   !strcmp(name, "_stext") && type == 'T' &&
		   addr == 0xffffffff81000000ull, "get: file order");
	ok(kvmon_sysmap_get(m, 24, NULL, NULL, NULL) < 0 &&
		   kvmon_get_errno() == ERANGE, "get past the end: ERANGE");
	ok(kvmon_sysmap_lookup(m, "_sdata", &addr) == 0 &&
		   addr == 0xffffffff82000000ull, "lookup _sdata");
	ok(kvmon_sysmap_lookup(m, "dup_static", &addr) == 0 &&
		   addr == 0xffffffff81001000ull, "duplicate: the first in file order");
	ok(kvmon_sysmap_lookup(m, "_stex", &addr) < 0 &&
		   kvmon_get_errno() == ENOENT, "prefix is no match: ENOENT");
	ok(kvmon_sysmap_resolve(m, 0xffffffff81000003ull, &name, &off) == 0 &&
		   !strcmp(name, "_stext") && off == 3,
	   "resolve: aliases give the first in file order");
	ok(kvmon_sysmap_resolve(m, 0xffffffff81001fffull, &name, &off) == 0 &&
		   !strcmp(name, "dup_static") && off == 0xfff, "resolve +0xfff");
	ok(kvmon_sysmap_resolve(m, 0x1800, &name, &off) == 0 &&
		   !strcmp(name, "cpu_debug_store") && off == 0x800,
	   "resolve a per-cpu offset");
	ok(kvmon_sysmap_resolve(m, UINT64_MAX, &name, &off) == 0 &&
		   !strcmp(name, "vsyscall_abs"), "resolve the top of memory");
	kvmon_sysmap_free(m);

	m = parse("ffffffff81000000 T a\n");
	ok(m && kvmon_sysmap_resolve(m, 0xffffffff80ffffffull, &name, &off) < 0 &&
		   kvmon_get_errno() == ENOENT, "resolve below every symbol: ENOENT");
	kvmon_sysmap_free(m);
}

static void test_variations(void)
{
	struct kvmon_sysmap *m;
	uint64_t addr = 0;
	const char *name = NULL;
	char type = 0;

	m = parse("\r\n\nFFFFFFFF81000000 T upper_hex\r\n"
		  "   \t \n"
		  "ffffffff81000010\tt\ttabbed \t\r\n"
		  "81000020 d short_addr\n"
		  "ffffffff81000030 ? unknown_type\n"
		  "ffffffff81000040 W no_final_newline");
	ok(m && kvmon_sysmap_count(m) == 5, "CRLF, blank lines, tabs, upper-case "
	   "hex, short address, '?' type, no final newline (%s)",
	   m ? "ok" : kvmon_get_error());
	ok(m && kvmon_sysmap_lookup(m, "upper_hex", &addr) == 0 &&
		   addr == 0xffffffff81000000ull, "upper-case hex value");
	ok(m && kvmon_sysmap_lookup(m, "tabbed", &addr) == 0 &&
		   addr == 0xffffffff81000010ull, "tab-separated, trailing blanks");
	ok(m && kvmon_sysmap_get(m, 4, &name, &type, &addr) == 0 &&
		   !strcmp(name, "no_final_newline") && type == 'W',
	   "last line without newline");
	kvmon_sysmap_free(m);

	m = parse("ffffffffafa00000 T _stext\n"
		  "ffffffffc0a01000 t kvm_init\t[kvm]\n"
		  "ffffffffc0a02000 T vmx_exit [kvm_intel]\n"
		  "ffffffffafa00010 T after\n");
	ok(m && kvmon_sysmap_count(m) == 2 &&
		   kvmon_sysmap_lookup(m, "kvm_init", NULL) < 0,
	   "/proc/kallsyms module symbols skipped");
	kvmon_sysmap_free(m);
}

/* Expect text to fail with err and a message naming line no (0: any). */
static void expect_bad(const char *text, size_t len, int err, size_t no,
		       const char *what)
{
	struct kvmon_sysmap *m = kvmon_sysmap_parse(text, len);
	char want[32];
	bool named = true;

	if (!m && no) {
		snprintf(want, sizeof(want), "line %zu:", no);
		named = strstr(kvmon_get_error(), want) != NULL;
	}
	ok(!m && kvmon_get_errno() == err && named, "%s: %s", what,
	   m ? "parsed!" : kvmon_get_error());
	kvmon_sysmap_free(m);
}

static void bad(const char *line, int err, const char *what)
{
	char text[1024];
	int n = snprintf(text, sizeof(text), "ffffffff81000000 T good\n%s\n",
			 line);

	expect_bad(text, (size_t)n, err, 2, what);
}

static void test_hostile_lines(void)
{
	static const char nul_line[] = "ffffffff81000000 T a\nffffffff8100\0000 T b\n";
	char line[600];

	bad("ffffffff81000000 T", EPROTO, "no name");
	bad("ffffffff81000000 T   ", EPROTO, "blanks but no name");
	bad("ffffffff81000000 _stext", EPROTO, "no type");
	bad("ffffffff81000000 TT foo", EPROTO, "two-letter type");
	bad("ffffffff81000000 1 foo", EPROTO, "digit type");
	bad("1ffffffff81000000 T foo", EPROTO, "17 hex digits");
	bad("xyz T foo", EPROTO, "not hex");
	bad("ffffffff8100000g T foo", EPROTO, "bad hex digit");
	bad(" ffffffff81000000 T foo", EPROTO, "leading blank");
	bad("ffffffff81000000 T foo bar", EPROTO, "text after the name");
	bad("ffffffff81000000 T foo [mod", EPROTO, "broken module tag");
	bad("ffffffff81000000 T fo\001o", EPROTO, "control byte in the name");
	bad("ffffffff81000000 T caf\303\251", EPROTO, "UTF-8 in the name");
	bad("ffffffff81000000 T foo\177", EPROTO, "DEL after the name");
	bad("ffffffff81000000T foo", EPROTO, "no blank after the address");
	bad("ffffffffffffffff B The real System.map is in the "
	    "linux-image-<version>-dbg package", EPROTO,
	    "Debian's placeholder line");
	expect_bad(nul_line, sizeof(nul_line) - 1, EPROTO, 2, "NUL byte");

	memset(line, 'n', sizeof(line));
	memcpy(line, "ffffffff81000000 T ", 19);
	line[513] = '\0';
	bad(line, E2BIG, "513-byte line");
	line[512] = '\0';
	{
		char text[sizeof(line) + 16];
		struct kvmon_sysmap *m;

		snprintf(text, sizeof(text), "%s\n0 T x\n", line);
		m = parse(text);
		ok(m && kvmon_sysmap_count(m) == 2, "512-byte line accepted");
		kvmon_sysmap_free(m);
	}
	{
		char text[600];
		struct kvmon_sysmap *m;

		memset(text, 'n', sizeof(text));
		memcpy(text, "0 T ", 4);
		memcpy(text + 512, "\r\n", 3);
		m = parse(text);
		ok(m != NULL, "512 bytes and a CR accepted (%s)",
		   m ? "ok" : kvmon_get_error());
		kvmon_sysmap_free(m);
		text[512] = 'n';
		expect_bad(text, 513, E2BIG, 1, "513 bytes at the end of the text");
	}

	expect_bad("", 0, EPROTO, 0, "empty text");
	expect_bad(NULL, 0, EPROTO, 0, "no text at all");
	expect_bad("\n \n\t\r\n", 6, EPROTO, 0, "only blank lines");
	expect_bad("0000000000000000 T a\n0000000000000000 T b\n"
		   "0000000000000000 t c\n", 3 * 21, EPROTO, 0,
		   "every address zero (unprivileged /proc/kallsyms)");
}

static void test_limits(void)
{
	size_t n = KVMON_SYSMAP_MAX_SYMS + 1, len = 0, last = 0;
	char *text = malloc(n * 16 + 1);
	struct kvmon_sysmap *m;

	if (!text)
		bail("out of memory");
	for (size_t i = 0; i < n; i++) {
		last = len;
		len += (size_t)sprintf(text + len, "%zx T s%zu\n", i, i % 7);
	}
	m = kvmon_sysmap_parse(text, len);
	ok(!m && kvmon_get_errno() == E2BIG, "4,000,001 symbols: %s",
	   m ? "parsed!" : kvmon_get_error());
	kvmon_sysmap_free(m);
	/* The same text without its last line: exactly the limit. */
	m = kvmon_sysmap_parse(text, last);
	ok(m && kvmon_sysmap_count(m) == KVMON_SYSMAP_MAX_SYMS,
	   "4,000,000 symbols accepted (%s)", m ? "ok" : kvmon_get_error());
	ok(m && kvmon_sysmap_lookup(m, "s6", NULL) == 0,
	   "and looked up");
	kvmon_sysmap_free(m);
	free(text);

	text = malloc(KVMON_SYSMAP_MAX_FILE + 1ull);
	if (!text)
		bail("out of memory");
	m = kvmon_sysmap_parse(text, KVMON_SYSMAP_MAX_FILE + 1ull);
	ok(!m && kvmon_get_errno() == E2BIG, "text over 64 MiB: %s",
	   kvmon_get_error());
	free(text);
}

static void test_files(void)
{
	char dir[] = "/tmp/kvmon-unit-XXXXXX", path[256];
	struct kvmon_sysmap *m;
	FILE *f;
	int fd;

	if (!mkdtemp(dir))
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/System.map", dir);
	f = fopen(path, "w");
	if (!f || fputs(map_text, f) < 0 || fclose(f))
		bail("writing %s", path);
	m = kvmon_sysmap_load(path);
	ok(m && kvmon_sysmap_count(m) == 24, "load a file (%s)",
	   m ? "ok" : kvmon_get_error());
	kvmon_sysmap_free(m);

	m = kvmon_sysmap_load(dir);
	ok(!m && kvmon_get_errno() == EINVAL, "a directory: %s",
	   kvmon_get_error());
	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) < 0)
		bail("mkfifo");
	m = kvmon_sysmap_load(path);
	ok(!m && kvmon_get_errno() == EINVAL, "a FIFO, without blocking: %s",
	   kvmon_get_error());
	unlink(path);
	m = kvmon_sysmap_load("/dev/zero");
	ok(!m && kvmon_get_errno() == EINVAL, "a device: %s", kvmon_get_error());
	snprintf(path, sizeof(path), "%s/absent", dir);
	m = kvmon_sysmap_load(path);
	ok(!m && kvmon_get_errno() == ENOENT, "a missing file: %s",
	   kvmon_get_error());
	m = kvmon_sysmap_load(NULL);
	ok(!m && kvmon_get_errno() == EINVAL, "no path: EINVAL");

	snprintf(path, sizeof(path), "%s/huge", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, KVMON_SYSMAP_MAX_FILE + 1ll) < 0)
		bail("sparse file");
	close(fd);
	m = kvmon_sysmap_load(path);
	ok(!m && kvmon_get_errno() == EFBIG, "a file over 64 MiB: %s",
	   kvmon_get_error());
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad", dir);
	f = fopen(path, "w");
	if (!f || fputs("ffffffff81000000 T a\nnonsense\n", f) < 0 || fclose(f))
		bail("writing %s", path);
	m = kvmon_sysmap_load(path);
	ok(!m && strstr(kvmon_get_error(), path) &&
		   strstr(kvmon_get_error(), "line 2"),
	   "errors name the file and line: %s", kvmon_get_error());
	unlink(path);
	snprintf(path, sizeof(path), "%s/System.map", dir);
	unlink(path);
	if (rmdir(dir) < 0)
		bail("rmdir %s", dir);
}

static void test_slide(void)
{
	struct kvmon_sysmap *m = parse(map_text);
	int64_t slide = 0;
	uint64_t addr = 0, off = 0;
	const char *name = NULL;
	int rc;

	if (!m)
		bail("map");
	rc = kvmon_sysmap_slide(m, "_stext", 0xffffffff81000000ull + SLIDE,
				&slide);
	ok(rc == 0 && slide == SLIDE, "slide from the runtime _stext: 0x%llx",
	   (long long)slide);
	ok(kvmon_sysmap_slide(m, "_stext", 0xffffffff81000000ull + SLIDE + 0x1000,
			      &slide) < 0 && kvmon_get_errno() == EPROTO,
	   "slide not a multiple of 2 MiB: %s", kvmon_get_error());
	ok(kvmon_sysmap_slide(m, "secondary_startup_64",
			      0xffffffff81000070ull - 0x1000000, &slide) == 0 &&
		   slide == -0x1000000, "negative slide (map from another boot)");
	ok(kvmon_sysmap_slide(m, "no_such", 0xffffffff81000000ull, &slide) < 0 &&
		   kvmon_get_errno() == ENOENT, "anchor absent: ENOENT");
	ok(kvmon_sysmap_slide(m, "cpu_debug_store", 0xffffffff81000000ull,
			      &slide) < 0 && kvmon_get_errno() == EINVAL,
	   "per-cpu anchor: EINVAL");
	ok(kvmon_sysmap_slide(m, "vsyscall_abs", 0xffffffffff800000ull,
			      &slide) < 0 && kvmon_get_errno() == EINVAL,
	   "absolute anchor: EINVAL");
	ok(kvmon_sysmap_slide(m, "_stext", 0x7f0000000000ull, &slide) < 0 &&
		   kvmon_get_errno() == EINVAL, "user-space runtime address: EINVAL");

	ok(kvmon_sysmap_relocate(m, 0x7f000000) < 0 &&
		   kvmon_get_errno() == ERANGE &&
		   kvmon_sysmap_lookup(m, "_end", &addr) == 0 &&
		   addr == 0xffffffff83000000ull,
	   "slide past the top: ERANGE, nothing moved");
	ok(kvmon_sysmap_relocate(m, -0x2000000) < 0 &&
		   kvmon_get_errno() == ERANGE,
	   "slide below __START_KERNEL_map: ERANGE");
	ok(kvmon_sysmap_relocate(m, SLIDE) == 0, "relocate by the slide");
	ok(kvmon_sysmap_lookup(m, "_stext", &addr) == 0 &&
		   addr == 0xffffffff81000000ull + SLIDE, "_stext moved");
	ok(kvmon_sysmap_lookup(m, "cpu_debug_store", &addr) == 0 &&
		   addr == 0x1000, "per-cpu offset stays");
	ok(kvmon_sysmap_lookup(m, "phys_startup_64", &addr) == 0 &&
		   addr == 0x1000000, "absolute stays");
	ok(kvmon_sysmap_lookup(m, "vsyscall_abs", &addr) == 0 &&
		   addr == 0xffffffffff600000ull, "absolute in the image range stays");
	ok(kvmon_sysmap_resolve(m, 0xffffffff82000010ull + SLIDE, &name, &off) == 0 &&
		   !strcmp(name, "_sdata") && off == 0x10,
	   "resolve a runtime address");
	ok(kvmon_sysmap_resolve(m, 0xffffffff82800004ull, &name, &off) == 0 &&
		   !strcmp(name, "abs_in_image") && off == 4 &&
		   kvmon_sysmap_resolve(m, 0xffffffff82000000ull + SLIDE - 1,
					&name, &off) == 0 &&
		   !strcmp(name, "kallsyms_token_index"),
	   "address order rebuilt after relocation");
	kvmon_sysmap_free(m);
}

static void test_kallsyms_addrs(void)
{
	struct kvmon_sysmap *m = parse(map_text);
	struct kvmon_kallsyms_addrs a;

	ok(m && kvmon_sysmap_relocate(m, SLIDE) == 0 &&
		   kvmon_sysmap_kallsyms_addrs(m, &a) == 0 &&
		   a.names == 0xffffffff81f40010ull + SLIDE &&
		   a.token_index == 0xffffffff81fa1400ull + SLIDE &&
		   a.markers == 0xffffffff81fa0000ull + SLIDE,
	   "kallsyms table addresses from the relocated map");
	kvmon_sysmap_free(m);
	m = parse("ffffffff81f40010 R kallsyms_names\nffffffff81000000 T _stext\n");
	ok(m && kvmon_sysmap_kallsyms_addrs(m, &a) < 0 &&
		   kvmon_get_errno() == ENOENT, "tables missing: ENOENT");
	kvmon_sysmap_free(m);
}

int main(void)
{
	test_basic();
	test_variations();
	test_hostile_lines();
	test_limits();
	test_files();
	test_slide();
	test_kallsyms_addrs();
	return tap_done();
}
