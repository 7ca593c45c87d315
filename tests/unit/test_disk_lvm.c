// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LVM2 linear volumes on a disk made by the real lvm2 tools
 * (tests/data/lvm-disk.img.xz, tests/data/make-lvm-fixture.sh): GPT
 * partition 1 is a PV whose current metadata copy wraps around the end of
 * its circular area; LV kvmvg/root has two non-contiguous segments. ext4
 * file systems made here with mke2fs -d are spliced into the LVs' extents
 * and read back through a volume view, from the raw image and through
 * qemu-nbd (qcow2). Then the metadata parser on hostile text, and damaged
 * labels, area headers and metadata on disk.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"
#include "disk/disk_internal.h"
#include "disk/lvm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1ull << 20)
/* Layout as `lvs --segments -o+seg_pe_ranges` printed when the fixture
 * was made: partition at 1 MiB, pe_start 64 KiB, 1 MiB extents;
 * root = PE 0-3 then PE 7-8, data = PE 4-6. */
#define PE0 (MiB + 64 * 1024)

static char root[4096], img[4200], qcow[4200];

static void cleanup(void)
{
	if (*root)
		tsh("rm -rf '%s'", root);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = n > 0 ? malloc((size_t)n) : NULL;
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = b ? (size_t)n : 0;
	return b;
}

/* Copy fs (a file) into the image at the LV's segments. */
static int splice_fs(const char *fs, const struct kvmon_lv *lv)
{
	size_t len;
	uint8_t *b = slurp(fs, &len);
	int fd = open(img, O_WRONLY), rc = -1;

	if (b && fd >= 0 && len == lv->size) {
		rc = 0;
		for (size_t i = 0; i < lv->nsegs; i++)
			if (pwrite(fd, b + lv->seg[i].lstart, lv->seg[i].len,
				   (off_t)lv->seg[i].pstart) != (ssize_t)lv->seg[i].len)
				rc = -1;
	}
	if (fd >= 0)
		close(fd);
	free(b);
	return rc;
}

static const struct kvmon_lv *lv_named(const struct kvmon_lv *lv, size_t n,
				       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(lv[i].name, name))
			return &lv[i];
	return NULL;
}

/* File path of the fs on volume name of d equals the local file. */
static int same_file(struct kvmon_disk *d, const char *name, const char *path,
		     const char *local)
{
	struct kvmon_disk *v = kvmon_disk_open_volume(d, name);
	struct kvmon_fs *fs = v ? kvmon_fs_open(v, 0, 0) : NULL;
	size_t len = 0, got = 0;
	uint8_t *want = slurp(local, &len), *buf = malloc(len + 1);
	uint64_t ino;
	int rc = 0;

	if (fs && want && buf && kvmon_fs_lookup(fs, path, &ino) == 0) {
		ssize_t n;

		while ((n = kvmon_fs_pread(fs, ino, buf + got, len + 1 - got,
					   got)) > 0)
			got += (size_t)n;
		rc = got == len && !memcmp(buf, want, len);
	}
	if (!fs)
		diag("%s: %s", name, kvmon_get_error());
	kvmon_fs_close(fs);
	kvmon_disk_close(v);
	free(want);
	free(buf);
	return rc;
}

/* kvmon mount --partition VG/LV: the LV's file system through FUSE. */
static void mount_lv(const char *kv)
{
	char mnt[4300], path[4400], want[4400];
	int wst;
	pid_t pid;

	snprintf(mnt, sizeof(mnt), "%s/mnt", root);
	mkdir(mnt, 0700);
	pid = fork();
	if (pid == 0) {
		execl(kv, "kvmon", "mount", "--image", img, "--format", "raw",
		      "--partition", "kvmvg/root", mnt, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/big.bin", mnt);
	for (int i = 0; i < 100 && access(path, F_OK) != 0; i++)
		usleep(50000);
	snprintf(want, sizeof(want), "%s/t1/big.bin", root);
	ok(tsh("cmp -s '%s' '%s'", path, want) == 0,
	   "kvmon mount --partition kvmvg/root: big.bin identical");
	kill(pid, SIGTERM);
	ok(waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
	   "kvmon mount exits 0");
	if (access(path, F_OK) == 0)
		tsh("fusermount3 -u -z '%s'", mnt);
	rmdir(mnt);
}

static void on_disk(void)
{
	struct kvmon_partition p[16];
	struct kvmon_lv *lv = calloc(8, sizeof(*lv));
	const struct kvmon_lv *r, *dl;
	struct kvmon_disk *d, *v;
	char path[4300];
	uint8_t h[64];
	size_t n = 0, nlv = 0;
	int fd;

	d = kvmon_disk_open_raw(img);
	ok(d && kvmon_disk_partitions(d, p, 16, &n) == 0 && n == 1 &&
	   !strcmp(p[0].scheme, "gpt") && p[0].start == MiB,
	   "fixture: one GPT partition at 1 MiB");
	{
		int rc = kvmon_lvm_scan(d, p[0].start, p[0].size, lv, 8, &nlv);

		ok(rc == 0 && nlv == 2, "two LVs in the PV (%s)",
		   rc ? kvmon_get_error() : "ok");
	}
	/* The fixture's point: the committed copy wraps around the area end. */
	fd = open(img, O_RDONLY);
	ok(fd >= 0 && pread(fd, h, sizeof(h), MiB + 4096) == sizeof(h) &&
	   *(uint64_t *)(h + 40) + *(uint64_t *)(h + 48) > *(uint64_t *)(h + 32),
	   "the current metadata wraps around the circular buffer");
	if (fd >= 0)
		close(fd);
	r = lv_named(lv, nlv, "kvmvg/root");
	dl = lv_named(lv, nlv, "kvmvg/data");
	ok(r && r->size == 6 * MiB && r->nsegs == 2 && !r->why[0] &&
	   r->seg[0].lstart == 0 && r->seg[0].pstart == PE0 &&
	   r->seg[0].len == 4 * MiB && r->seg[1].lstart == 4 * MiB &&
	   r->seg[1].pstart == PE0 + 7 * MiB && r->seg[1].len == 2 * MiB,
	   "kvmvg/root: PE 0-3 and 7-8, as lvs reported");
	ok(dl && dl->size == 3 * MiB && dl->nsegs == 1 &&
	   dl->seg[0].pstart == PE0 + 4 * MiB, "kvmvg/data: PE 4-6");
	ok(kvmon_disk_volumes(d, p, 16, &n) == 0 && n == 3 &&
	   !strcmp(p[1].scheme, "lvm") && !strcmp(p[1].name, "kvmvg/root") &&
	   !strcmp(p[1].type, "linear") && p[1].size == 6 * MiB &&
	   !strcmp(p[2].name, "kvmvg/data"), "volumes: partition + 2 LVs");
	kvmon_disk_close(d);
	if (!r || !dl)
		bail("no LV map");

	/* A 3 MiB file crosses root's segment boundary at 4 MiB. */
	if (tsh("cd '%s' && mkdir -p t1/etc t2 && printf 'root-fs\\n' > t1/etc/hostname && "
	       "head -c 3145728 /dev/urandom > t1/big.bin && "
	       "printf 'data-fs\\n' > t2/marker && "
	       "mke2fs -q -F -t ext4 -b 1024 -d t1 root.fs 6M >/dev/null 2>&1 && "
	       "mke2fs -q -F -t ext2 -d t2 data.fs 3M >/dev/null 2>&1", root))
		bail("mke2fs failed");
	snprintf(path, sizeof(path), "%s/root.fs", root);
	ok(splice_fs(path, r) == 0, "root.fs spliced into root's two segments");
	snprintf(path, sizeof(path), "%s/data.fs", root);
	ok(splice_fs(path, dl) == 0, "data.fs spliced into data's extents");

	d = kvmon_disk_open_raw(img);
	snprintf(path, sizeof(path), "%s/t1/big.bin", root);
	ok(same_file(d, "kvmvg/root", "/big.bin", path),
	   "root: 3 MiB file across both segments reads back identical");
	snprintf(path, sizeof(path), "%s/t1/etc/hostname", root);
	ok(same_file(d, "kvmvg/root", "/etc/hostname", path), "root: /etc/hostname");
	snprintf(path, sizeof(path), "%s/t2/marker", root);
	ok(same_file(d, "kvmvg/data", "/marker", path), "data: /marker");
	{
		struct kvmon_fs *fs = kvmon_fs_open_part(d, 0);
		uint64_t ino;
		char b[16] = "";

		ok(fs && kvmon_fs_lookup(fs, "/etc/hostname", &ino) == 0 &&
		   kvmon_fs_pread(fs, ino, b, sizeof(b) - 1, 0) == 8 &&
		   !strcmp(b, "root-fs\n"),
		   "default file system: the first LV holding ext (kvmvg/root)");
		kvmon_fs_close(fs);
	}
	v = kvmon_disk_open_volume(d, "kvmvg/nope");
	ok(!v && kvmon_get_errno() == ENOENT, "unknown LV: ENOENT (%s)",
	   kvmon_get_error());
	v = kvmon_disk_open_volume(d, "1");
	ok(v && kvmon_disk_size(v) == p[0].size, "partition 1 as a volume");
	kvmon_disk_close(v);
	v = kvmon_disk_open_volume(d, "kvmvg/root");
	{
		uint8_t b[16];

		ok(v && kvmon_disk_read(v, 6 * MiB - 8, b, 16) < 0 &&
		   kvmon_get_errno() == EINVAL, "view: read past its end refused");
	}
	kvmon_disk_close(v);
	kvmon_disk_close(d);

	/* The PV alone (no partition table): LVs found on the whole disk. */
	snprintf(path, sizeof(path), "%s/pv.img", root);
	if (tsh("dd if='%s' of='%s' bs=1M skip=1 count=20 status=none", img, path))
		bail("dd");
	d = kvmon_disk_open_raw(path);
	ok(d && kvmon_disk_volumes(d, p, 16, &n) == 0 && n == 2 &&
	   !strcmp(p[0].name, "kvmvg/root") && p[0].start == PE0 - MiB,
	   "bare PV: 2 LVs, offsets relative to it");
	snprintf(path, sizeof(path), "%s/t2/marker", root);
	ok(d && same_file(d, "kvmvg/data", "/marker", path), "bare PV: data's /marker");
	{
		struct kvmon_fs *fs = d ? kvmon_fs_open_part(d, 0) : NULL;
		uint64_t ino;

		ok(fs && kvmon_fs_lookup(fs, "/big.bin", &ino) == 0,
		   "bare PV: default file system is kvmvg/root");
		kvmon_fs_close(fs);
	}
	kvmon_disk_close(d);

	/* Image at rest through qemu-nbd. */
	snprintf(qcow, sizeof(qcow), "%s/lvm.qcow2", root);
	if (tsh("qemu-img convert -O qcow2 '%s' '%s'", img, qcow))
		bail("qemu-img convert failed");
	d = kvmon_disk_open_image(qcow, NULL);
	ok(d && kvmon_disk_volumes(d, p, 16, &n) == 0 && n == 3,
	   "qcow2 via qemu-nbd: 3 volumes");
	snprintf(path, sizeof(path), "%s/t1/big.bin", root);
	ok(d && same_file(d, "kvmvg/root", "/big.bin", path),
	   "qcow2 via qemu-nbd: big.bin through kvmvg/root");
	kvmon_disk_close(d);

	/* The CLI: parts lists the LVs; --partition VG/LV selects one. */
	{
		const char *kv = getenv("KVMON");

		ok(kv && tsh("'%s' disk parts --image '%s' --json | grep -q '\"kvmvg/root\"'",
			    kv, img) == 0, "kvmon disk parts lists kvmvg/root");
		ok(kv && tsh("test \"$('%s' disk cat --image '%s' --partition kvmvg/root /etc/hostname)\" = root-fs",
			    kv, img) == 0, "kvmon disk cat --partition kvmvg/root");
		ok(kv && tsh("test \"$('%s' disk cat --image '%s' /etc/hostname)\" = root-fs",
			    kv, img) == 0, "kvmon disk cat, no --partition: the LV");
		ok(kv && tsh("'%s' disk ls --image '%s' --partition kvmvg/thin / 2>/dev/null; test $? = 2",
			    kv, img) == 0, "unknown volume: exit 2");
		/* fim honours --partition: a baseline of kvmvg/data is clean
		 * against itself and differs from kvmvg/root. */
		ok(kv && tsh("cd '%s' && printf '/ R+sha256\\n' > fim.conf && "
			    "'%s' fim init --image '%s' --partition kvmvg/data --config fim.conf "
			    "--db fim.db --key-file fim.key >/dev/null 2>&1 && "
			    "'%s' fim check --image '%s' --partition kvmvg/data --config fim.conf "
			    "--db fim.db --key-file fim.key >/dev/null 2>&1",
			    root, kv, img, kv, img) == 0, "kvmon fim --partition kvmvg/data: clean");
		ok(kv && tsh("cd '%s' && '%s' fim check --image '%s' --partition kvmvg/root "
			    "--config fim.conf --db fim.db --key-file fim.key >/dev/null 2>&1; test $? = 1",
			    root, kv, img) == 0, "kvmon fim --partition kvmvg/root: differs (exit 1)");
		if (kv)
			mount_lv(kv);
	}
	free(lv);
}

/* Damage one byte of a copy of the image; volumes must fail clearly. */
static void damaged(long off, const char *what, const char *expect)
{
	char copy[4300];
	struct kvmon_partition p[16];
	struct kvmon_disk *d;
	size_t n = 99;
	int fd, rc;
	uint8_t b;

	snprintf(copy, sizeof(copy), "%s/damaged.img", root);
	if (tsh("cp '%s' '%s'", img, copy))
		bail("cp");
	fd = open(copy, O_RDWR);
	if (fd < 0 || pread(fd, &b, 1, off) != 1)
		bail("open copy");
	b ^= 0x5a;
	if (pwrite(fd, &b, 1, off) != 1)
		bail("pwrite");
	close(fd);
	d = kvmon_disk_open_raw(copy);
	rc = d ? kvmon_disk_volumes(d, p, 16, &n) : 0;
	ok(rc < 0 && n == 0 && strstr(kvmon_get_error(), expect),
	   "%s: refused (%s)", what, kvmon_get_error());
	kvmon_disk_close(d);
}

static const char good[] =
	"# comment\n"
	"vg0 {\n id = \"x\"\n seqno = 3\n extent_size = 8 # 4 KiB\n"
	" physical_volumes {\n  pv0 {\n   id = \"aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa\"\n"
	"   pe_start = 16\n   pe_count = 100\n  }\n }\n"
	" logical_volumes {\n"
	"  lin {\n   status = [\"READ\", \"WRITE\", \"VISIBLE\"]\n   segment_count = 2\n"
	"   segment1 {\n    start_extent = 0\n    extent_count = 2\n    type = \"striped\"\n"
	"    stripe_count = 1\n    stripes = [\"pv0\", 10]\n   }\n"
	"   segment2 {\n    start_extent = 2\n    extent_count = 1\n    type = \"striped\"\n"
	"    stripe_count = 1\n    stripes = [\"pv0\", 5,]\n   }\n  }\n"
	"  str {\n   status = [\"VISIBLE\"]\n   segment_count = 1\n"
	"   segment1 {\n    start_extent = 0\n    extent_count = 4\n    type = \"striped\"\n"
	"    stripe_count = 2\n    stripes = [\"pv0\", 20, \"pv1\", 0]\n   }\n  }\n"
	"  thin1 {\n   status = [\"VISIBLE\"]\n   segment_count = 1\n"
	"   segment1 {\n    start_extent = 0\n    extent_count = 4\n    type = \"thin\"\n"
	"    thin_pool = \"pool\"\n   }\n  }\n"
	"  hidden_tdata {\n   status = [\"READ\"]\n   segment_count = 1\n"
	"   segment1 {\n    start_extent = 0\n    extent_count = 1\n    type = \"striped\"\n"
	"    stripe_count = 1\n    stripes = [\"pv0\", 30]\n   }\n  }\n"
	"  other {\n   status = [\"VISIBLE\"]\n   segment_count = 1\n"
	"   segment1 {\n    start_extent = 0\n    extent_count = 1\n    type = \"striped\"\n"
	"    stripe_count = 1\n    stripes = [\"pv1\", 0]\n   }\n  }\n"
	"  cow {\n   status = [\"VISIBLE\"]\n   segment_count = 1\n"
	"   segment1 {\n    start_extent = 0\n    extent_count = 1\n    type = \"striped\"\n"
	"    stripe_count = 1\n    stripes = [\"pv0\", 40]\n   }\n  }\n"
	"  snapshot0 {\n   status = [\"READ\"]\n   segment_count = 1\n"
	"   segment1 {\n    start_extent = 0\n    extent_count = 1\n    type = \"snapshot\"\n"
	"    cow_store = \"c\\\\o\\\"w\"\n    origin = \"lin\"\n   }\n   cow_store = \"cow\"\n  }\n"
	" }\n}\ncontents = \"Text Format Volume Group\"\nversion = 1\n";

#define UUID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int parse(const char *t, struct kvmon_lv *lv, size_t *n)
{
	return kvmon_lvm_parse(t, strlen(t), UUID, 1000 * 512, 100 * MiB, lv, 8, n);
}

/* good with one substring replaced: must be refused. */
static void bad_variant(const char *from, const char *to, const char *what)
{
	char *t = malloc(sizeof(good) + strlen(to));
	const char *at = strstr(good, from);
	struct kvmon_lv *lv = calloc(8, sizeof(*lv));
	size_t n = 7;

	if (!t || !lv || !at)
		bail("bad_variant %s", what);
	snprintf(t, sizeof(good) + strlen(to), "%.*s%s%s", (int)(at - good), good,
		 to, at + strlen(from));
	ok(parse(t, lv, &n) < 0 && n == 0, "%s: refused (%s)", what,
	   kvmon_get_error());
	free(t);
	free(lv);
}

static void parser(void)
{
	struct kvmon_lv *lv = calloc(8, sizeof(*lv));
	const struct kvmon_lv *l;
	size_t n = 0, big;
	char *t;

	{
		int rc = parse(good, lv, &n);

		ok(rc == 0 && n == 5, "synthetic VG: 5 visible LVs (%s)",
		   rc ? kvmon_get_error() : "ok");
	}
	l = lv_named(lv, n, "vg0/lin");
	ok(l && !l->why[0] && l->nsegs == 2 && l->size == 3 * 4096 &&
	   l->seg[0].pstart == 1000 * 512 + 16 * 512 + 10 * 4096 &&
	   l->seg[1].lstart == 2 * 4096 &&
	   l->seg[1].pstart == 1000 * 512 + 16 * 512 + 5 * 4096,
	   "linear LV, two segments in reverse disk order, trailing comma");
	l = lv_named(lv, n, "vg0/str");
	ok(l && l->why[0] && !strcmp(l->type, "striped") && !l->nsegs,
	   "striped x2: listed, refused (%s)", l ? l->why : "");
	l = lv_named(lv, n, "vg0/thin1");
	ok(l && l->why[0] && !strcmp(l->type, "thin"), "thin: listed, refused");
	l = lv_named(lv, n, "vg0/other");
	ok(l && l->why[0] && strstr(l->why, "another PV") && !l->nsegs,
	   "LV on another PV: listed, refused (%s)", l ? l->why : "");
	l = lv_named(lv, n, "vg0/cow");
	ok(l && l->why[0] && !strcmp(l->type, "snapshot"),
	   "snapshot exception store: refused (%s)", l ? l->why : "");
	ok(!lv_named(lv, n, "vg0/hidden_tdata") && !lv_named(lv, n, "vg0/snapshot0"),
	   "internal (not VISIBLE) LVs are not listed");
	ok(kvmon_lvm_parse(good, strlen(good), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			   0, 100 * MiB, lv, 8, &n) < 0 && kvmon_get_errno() == ENOENT,
	   "PV not in the metadata: ENOENT");
	ok(parse(good, lv, &n) == 0 && kvmon_lvm_parse(good, strlen(good), UUID,
			   0, 100 * MiB, lv, 3, &n) < 0 && kvmon_get_errno() == E2BIG,
	   "more LVs than room: E2BIG");
	bad_variant("\"striped\"\n    stripe_count = 1\n    stripes = [\"pv0\", 10]",
		    "\"striped\n", "unterminated string");
	bad_variant(" }\n}\ncontents", " }\ncontents", "missing '}'");
	bad_variant("pe_count = 100", "pe_count = 100 }", "stray '}'");
	bad_variant("seqno = 3", "seqno = ", "value missing");
	bad_variant("seqno = 3", "seqno = 99999999999999999999999", "number overflow");
	bad_variant("seqno = 3", "seqno 3", "no '='");
	bad_variant("stripes = [\"pv0\", 10]", "stripes = [\"pv0\" 10]", "array without ','");
	bad_variant("stripes = [\"pv0\", 10]", "stripes = [\"pv0\", 99]", "extent past pe_count");
	bad_variant("stripes = [\"pv0\", 10]", "stripes = [10, \"pv0\"]", "stripes swapped");
	bad_variant("start_extent = 2", "start_extent = 3", "segment gap");
	bad_variant("segment_count = 2", "segment_count = 3", "segment_count mismatch");
	bad_variant("extent_size = 8", "extent_size = 0", "extent_size 0");
	bad_variant("extent_size = 8", "extent_size = 9223372036854775807", "huge extent_size");
	bad_variant("extent_count = 2", "extent_count = 18446744073709551615", "huge extent_count");
	bad_variant("pe_start = 16", "pe_start = 99999999999", "pe_start past the PV");
	bad_variant("vg0 {", "[", "garbage");

	/* Depth, node and size caps. */
	t = malloc(64 * 1024);
	strcpy(t, "vg {");
	for (int i = 0; i < 40; i++)
		strcat(t, "a {");
	ok(parse(t, lv, &n) < 0 && strstr(kvmon_get_error(), "deeply"),
	   "nesting 40 deep: refused (%s)", kvmon_get_error());
	free(t);
	big = 2 * 70000 + 64;
	t = malloc(big);
	strcpy(t, "vg0 { x = [");
	for (int i = 0; i < 70000; i++)
		memcpy(t + 11 + 2 * i, "1,", 3);
	strcat(t, "] }");
	ok(parse(t, lv, &n) < 0 && strstr(kvmon_get_error(), "too many"),
	   "70,000 array items: refused (%s)", kvmon_get_error());
	ok(kvmon_lvm_parse(t, KVMON_LVM_MAX_TEXT + 1, UUID, 0, MiB, lv, 8, &n) < 0 &&
	   kvmon_get_errno() == EFBIG, "text over 4 MiB: refused");
	free(t);
	ok(kvmon_lvm_crc(0xf597a6cfu, "", 0) == 0xf597a6cfu &&
	   kvmon_lvm_crc(0xf597a6cfu, "LVM2", 4) != 0xf597a6cfu, "crc sanity");
	free(lv);
}

int main(void)
{
	const char *troot = getenv("KVMON_TEST_ROOT");

	snprintf(root, sizeof(root), "%s/disk-lvm-%d", troot ? troot : "/tmp",
		 (int)getpid());
	atexit(cleanup);
	snprintf(img, sizeof(img), "%s/disk.img", root);
	if (tsh("mkdir -p '%s' && xz -dc '%s' > '%s'", root, KVMON_LVM_FIXTURE, img))
		bail("cannot unpack %s", KVMON_LVM_FIXTURE);
	on_disk();
	damaged(MiB + 512 + 100, "label checksum", "label: bad checksum");
	damaged(MiB + 4096 + 8, "metadata area magic", "metadata area header");
	damaged(MiB + 4096 + 40, "metadata location", "metadata");
	{
		uint8_t h[64];
		int fd = open(img, O_RDONLY);

		if (fd < 0 || pread(fd, h, sizeof(h), MiB + 4096) != sizeof(h))
			bail("read mda header");
		close(fd);
		/* A byte of the current copy (its first part, before the wrap). */
		damaged((long)(MiB + 4096 + *(uint64_t *)(h + 40) + 10),
			"current metadata text", "metadata: bad checksum");
	}
	parser();
	return tap_done();
}
