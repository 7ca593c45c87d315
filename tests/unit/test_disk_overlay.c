// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fleecing overlay written without qemu-img (lib/disk/overlay.c):
 * QEMU's own tools must accept it as a clean, empty qcow2 of the asked
 * size, with a backing file read through it, writes allocated and its
 * refcounts still consistent afterwards; sizes it does not cover refused.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"
#include "disk/disk_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[4096];

/* Output of a shell command (first line), "" on failure. */
static void out(char *buf, size_t size, const char *cmd)
{
	FILE *p = popen(cmd, "r");

	buf[0] = 0;
	if (!p)
		return;
	if (!fgets(buf, (int)size, p))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	pclose(p);
}

static void check_size(uint64_t size)
{
	char path[4200], cmd[8192], got[256];

	snprintf(path, sizeof(path), "%s/o-%llu.qcow2", root,
		 (unsigned long long)size);
	ok(kvmon_overlay_create(path, size) == 0, "%llu bytes: created",
	   (unsigned long long)size);
	ok(tsh("qemu-img check -q -f qcow2 %s", path) == 0,
	   "%llu bytes: qemu-img check clean", (unsigned long long)size);
	snprintf(cmd, sizeof(cmd), "qemu-img info --output=json -f qcow2 %s | "
		 "python3 -c 'import json,sys; d=json.load(sys.stdin); "
		 "print(d[\"virtual-size\"], d.get(\"backing-filename\", \"-\"))'",
		 path);
	out(got, sizeof(got), cmd);
	snprintf(cmd, sizeof(cmd), "%llu -", (unsigned long long)size);
	ok(!strcmp(got, cmd), "%llu bytes: virtual size, no backing file "
	   "named (%s)", (unsigned long long)size, got);
	unlink(path);
}

int main(void)
{
	char path[4200], base[4200], buf[9000];
	const char *t = getenv("TMPDIR");
	struct stat st;

	snprintf(root, sizeof(root), "%s/kvmon-overlay-XXXXXX",
		 t && *t ? t : "/tmp");
	if (!mkdtemp(root))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/o.qcow2", root);
	snprintf(base, sizeof(base), "%s/base.raw", root);

	check_size(1ull << 30);
	check_size(512);
	check_size((1ull << 29) + 512);       /* one byte into a second L1 entry */
	check_size(3ull << 40);               /* L1 table over several clusters */

	/* Through the overlay: the backing's data, then own writes. */
	tsh("qemu-img create -q -f raw %s 8M && "
	   "qemu-io -f raw -c 'write -P 0x11 0 8M' %s >/dev/null", base, base);
	ok(kvmon_overlay_create(path, 8 << 20) == 0, "overlay for an 8 MiB disk");
	ok(stat(path, &st) == 0 && st.st_blocks * 512 <= 3 * 65536 + 4096,
	   "sparse: the L1 table is not written (%lld bytes allocated)",
	   (long long)st.st_blocks * 512);
	snprintf(buf, sizeof(buf), "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":"
		 "\"file\",\"filename\":\"%s\"},\"backing\":{\"driver\":\"raw\","
		 "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}}", path, base);
	ok(tsh("qemu-io -c 'read -P 0x11 0 8M' '%s' >/dev/null", buf) == 0,
	   "reads show the backing file's data");
	ok(tsh("qemu-io -c 'write -P 0x5a 65536 300k' "
	      "-c 'write -P 0x77 7M 4k' '%s' >/dev/null", buf) == 0,
	   "writes into it");
	ok(tsh("qemu-io -c 'read -P 0x11 0 64k' -c 'read -P 0x5a 64k 300k' "
	      "-c 'read -P 0x77 7M 4k' -c 'read -P 0x11 8188k 4k' '%s' "
	      ">/dev/null", buf) == 0,
	   "reads: own writes where written, the backing's elsewhere");
	ok(tsh("qemu-img check -q -f qcow2 %s", path) == 0,
	   "qemu-img check clean after allocation (refcounts grown by QEMU)");
	/* A fresh file every time, even over a left-over one. */
	ok(kvmon_overlay_create(path, 1 << 20) == 0 &&
	   tsh("qemu-img check -q -f qcow2 %s", path) == 0 &&
	   stat(path, &st) == 0 && st.st_size == 4 * 65536,
	   "over an existing file: replaced by a fresh one");

	errno = 0;
	ok(kvmon_overlay_create(path, 1000) < 0 && kvmon_get_errno() == EINVAL,
	   "size not a multiple of 512 refused (EINVAL)");
	ok(kvmon_overlay_create(path, UINT64_MAX - 511) < 0 &&
	   kvmon_get_errno() == EINVAL, "absurd size refused (EINVAL)");
	snprintf(buf, sizeof(buf), "%s/no/such/dir/o.qcow2", root);
	ok(kvmon_overlay_create(buf, 1 << 20) < 0 && kvmon_get_errno() == ENOENT,
	   "unwritable path: ENOENT, nothing created");

	unlink(path);
	unlink(base);
	ok(rmdir(root) == 0, "nothing left behind");
	return tap_done();
}
