// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmon fim without a VM: the rule parser (groups, selection, errors with
 * line numbers, bounds), scans of mke2fs -d images (attributes, hashes,
 * parallel == serial), the database (round trip, MAC: tampering, other
 * key, truncation), compare (exactly the added / removed / changed paths
 * with the changed attributes), and `kvmon fim` on an image at rest.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"
#include "fim/fim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[4096];

static void cleanup(void)
{
	if (*root)
		tsh("rm -rf '%s'", root);
}

/* ------------------------------------------------------------ config */

static void test_config(void)
{
	static const char good[] =
		"# comment\n"
		"MINE = p+u+g+sha256\n"
		"LESS = MINE-u\n"
		"/etc MINE\n"
		"/etc/shadow LESS+sha512\n"
		"=/var p\n"
		"!/etc/skip\n"
		"/usr R-m\n";
	struct kvmon_fim_config *c = kvmon_fim_config_parse(good, strlen(good));
	unsigned a;
	bool desc;

	ok(c != NULL, "config parses (%s)", c ? "ok" : kvmon_get_error());
	if (!c)
		return;
	a = kvmon_fim_config_match(c, "/etc/passwd", &desc);
	ok(a == (KVMON_FIM_TYPE | KVMON_FIM_PERM | KVMON_FIM_UID | KVMON_FIM_GID |
		 KVMON_FIM_SHA256) && desc, "group attributes (+ type)");
	a = kvmon_fim_config_match(c, "/etc/shadow", &desc);
	ok(a == (KVMON_FIM_TYPE | KVMON_FIM_PERM | KVMON_FIM_GID | KVMON_FIM_SHA256 |
		 KVMON_FIM_SHA512), "last matching rule wins; group minus term");
	ok(kvmon_fim_config_match(c, "/etc/skip", &desc) == 0 && !desc &&
	   kvmon_fim_config_match(c, "/etc/skip/x", &desc) == 0,
	   "negative rule: not selected, not walked, nor below");
	ok(kvmon_fim_config_match(c, "/var", &desc) == (KVMON_FIM_TYPE | KVMON_FIM_PERM) &&
	   kvmon_fim_config_match(c, "/var/x", &desc) == 0 && desc,
	   "= rule: the directory only, still walked");
	a = kvmon_fim_config_match(c, "/usr/bin/ls", &desc);
	ok((a & KVMON_FIM_SHA256) && !(a & KVMON_FIM_MTIME) && (a & KVMON_FIM_CTIME),
	   "predefined R minus m");
	ok(kvmon_fim_config_match(c, "/home/x", &desc) == 0 && desc,
	   "unmatched path: not selected");
	kvmon_fim_config_free(c);

	ok(kvmon_fim_attrs_parse("p+u+sha512", &a) == 0 &&
	   a == (KVMON_FIM_PERM | KVMON_FIM_UID | KVMON_FIM_SHA512), "attrs_parse");
	ok(kvmon_fim_attrs_parse("p+bogus", &a) < 0 && kvmon_get_errno() == EINVAL,
	   "attrs_parse: unknown term");

	c = kvmon_fim_config_parse("X = p\n/etc NOPE\n", 16);
	ok(!c && strstr(kvmon_get_error(), "line 2") &&
	   strstr(kvmon_get_error(), "NOPE"), "unknown group: line number (%s)",
	   kvmon_get_error());
	c = kvmon_fim_config_parse("/etc p\n\n/bad[ p\n", 17);
	ok(!c && strstr(kvmon_get_error(), "line 3") &&
	   strstr(kvmon_get_error(), "regular expression"),
	   "bad regex: line number (%s)", kvmon_get_error());
	c = kvmon_fim_config_parse("/etc\n", 5);
	ok(!c && strstr(kvmon_get_error(), "line 1"), "rule without group refused");
	c = kvmon_fim_config_parse("!/etc p\n", 8);
	ok(!c, "negative rule with a group refused");
	c = kvmon_fim_config_parse("# nothing\n", 10);
	ok(!c && strstr(kvmon_get_error(), "no selection"), "no rules refused");
	c = kvmon_fim_config_parse("etc p\n", 6);
	ok(!c, "garbage line refused (%s)", kvmon_get_error());
	{
		size_t n = 5000, i;
		char *t = malloc(n + 16);

		memcpy(t, "/", 1);
		for (i = 1; i < n; i++)
			t[i] = 'a';
		memcpy(t + n, " p\n", 3);
		c = kvmon_fim_config_parse(t, n + 3);
		ok(!c && strstr(kvmon_get_error(), "longer"), "overlong line refused");
		free(t);
		t = malloc(2000 * 8);
		for (i = 0; i < 2000; i++)
			memcpy(t + i * 8, "/abc p\n\n", 8);
		c = kvmon_fim_config_parse(t, 2000 * 8);
		ok(!c && kvmon_get_errno() == E2BIG, "more than 1024 rules refused");
		free(t);
	}
	c = kvmon_fim_config_parse("/a(b{255}){255} p\n", strlen("/a(b{255}){255} p\n"));
	ok(!c && strstr(kvmon_get_error(), "interval"), "interval expressions refused "
	   "(regcomp memory): %s", kvmon_get_error());
	c = kvmon_fim_config_parse("/a\\{x[{]} p\n", strlen("/a\\{x[{]} p\n"));
	ok(c != NULL, "escaped and bracketed braces are literal (%s)",
	   c ? "ok" : kvmon_get_error());
	if (c)
		ok(kvmon_fim_config_match(c, "/a{x{}", &desc) != 0, "literal braces match");
	kvmon_fim_config_free(c);
	c = kvmon_fim_config_parse("/a[\\]{2} p\n", strlen("/a[\\]{2} p\n"));
	ok(!c, "an interval after an escaped bracket refused");
	{
		static const char t[] = "/ p\n=/x/y u\n!/x/(a+)+b\n";
		char evil[200];

		c = kvmon_fim_config_parse(t, strlen(t));
		memset(evil, 'a', sizeof(evil));
		memcpy(evil, "/x/", 3);
		evil[sizeof(evil) - 2] = 'c';
		evil[sizeof(evil) - 1] = '\0';
		ok(c && kvmon_fim_config_match(c, "/x/y", &desc) & KVMON_FIM_UID &&
		   !(kvmon_fim_config_match(c, "/x/y\n", &desc) & KVMON_FIM_UID),
		   "= rule: a name with a trailing newline is another name");
		ok(c && kvmon_fim_config_match(c, evil, &desc) != 0 && desc,
		   "catastrophic backtracking on a guest name: match limit, path "
		   "still watched");
		kvmon_fim_config_free(c);
	}
	c = kvmon_fim_config_parse("/a p\0/b p\n", 10);
	ok(!c, "NUL byte refused");
	c = kvmon_fim_config_load(KVMON_SOURCE_DIR "/etc/fim.conf");
	ok(c != NULL, "shipped etc/fim.conf parses (%s)", c ? "ok" : kvmon_get_error());
	if (c) {
		ok(kvmon_fim_config_match(c, "/etc/passwd", &desc) & KVMON_FIM_SHA256,
		   "shipped config hashes /etc/passwd");
		ok(kvmon_fim_config_match(c, "/var/log/messages", &desc) &&
		   !(kvmon_fim_config_match(c, "/var/log/messages", &desc) &
		     (KVMON_FIM_SIZE | KVMON_FIM_SHA256)),
		   "shipped config: logs without size or hash");
		ok(!kvmon_fim_config_match(c, "/tmp/x", &desc) && !desc,
		   "shipped config excludes /tmp");
		kvmon_fim_config_free(c);
	}
}

/* ------------------------------------------------------------ scans */

static const char conf_text[] =
	"CMP = t+p+u+g+s+m+n+l+xattrs+sha256+sha512\n"
	"/ CMP\n"
	"=/ t+p+u+g\n" /* mke2fs -d stamps the root with the time of day */
	"!/skip\n"
	"!/lost\\+found\n";

struct found {
	char *lines[64];
	size_t n;
};

static int collect(void *opaque, const char *path, int kind, unsigned changed,
		   const char *details)
{
	struct found *f = opaque;
	char buf[512];

	(void)details;
	if (f->n >= 64)
		return 1;
	snprintf(buf, sizeof(buf), "%c %s %x",
		 kind == KVMON_FIM_ADDED ? '+' : kind == KVMON_FIM_REMOVED ? '-' : '~',
		 path, changed);
	f->lines[f->n++] = strdup(buf);
	return 0;
}

static bool has(const struct found *f, const char *line)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (!strcmp(f->lines[i], line))
			return true;
	return false;
}

static void found_free(struct found *f)
{
	while (f->n)
		free(f->lines[--f->n]);
}

static struct kvmon_fim_db *scan_image(const char *img,
				       const struct kvmon_fim_config *c,
				       unsigned jobs)
{
	struct kvmon_fim_scan_opts o = { .jobs = jobs };
	struct kvmon_disk *d = kvmon_disk_open_raw(img);
	struct kvmon_fs *fs = d ? kvmon_fs_open(d, 0, 0) : NULL;
	struct kvmon_fim_db *db = fs ? kvmon_fim_scan(fs, c, &o) : NULL;

	if (!db)
		diag("scan %s: %s", img, kvmon_get_error());
	kvmon_fs_close(fs);
	kvmon_disk_close(d);
	return db;
}

static char *file_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return b;
}

/* Write body (without its MAC) signed with key, as the saver does: v2
 * (binary) ends in the 32 raw bytes, v1 (text) in a "mac HEX" line. */
static void write_signed(const char *path, const char *body, size_t len,
			 const unsigned char *key)
{
	unsigned char m[32];
	unsigned mlen = 0;
	FILE *o = fopen(path, "wb");

	HMAC(EVP_sha256(), key, 32, (const unsigned char *)body, len, m, &mlen);
	if (!o)
		return;
	fwrite(body, 1, len, o);
	if (len >= 12 && !memcmp(body, "kvmon-fim 2\n", 12)) {
		fwrite(m, 1, 32, o);
	} else {
		fputs("mac ", o);
		for (unsigned i = 0; i < 32; i++)
			fprintf(o, "%02x", m[i]);
		fputc('\n', o);
	}
	fclose(o);
}

/* The database as version 1 (text), signed, at path. */
static void write_v1(const char *path, const struct kvmon_fim_db *db,
		     const unsigned char *key)
{
	size_t len;
	char *t = fim_db_format_v1(db, NULL, 0, &len);

	if (t)
		write_signed(path, t, len, key);
	free(t);
}

/* Edit a database as someone without the key would: path's mode set to
 * mode (or, with no path, metadata name set to value), the old MAC
 * kept. 0 if the file changed. */
static int db_edit(const char *dbf, const char *keyf, const char *path,
		   uint32_t mode, const char *name, const char *value)
{
	unsigned char key[32];
	struct kvmon_fim_db *db;
	struct fim_entry *e;
	size_t olen, len;
	char *old, *t = NULL;
	int rc = -1;
	FILE *o;

	if (kvmon_fim_key_load(keyf, false, key) < 0 ||
	    !(db = kvmon_fim_db_load(dbf, key, 32)))
		return -1;
	e = path ? (struct fim_entry *)fim_db_find(db, path) : NULL;
	if (e)
		e->mode = (e->mode & ~07777u) | mode;
	old = file_text(dbf, &olen);
	if (old && olen > 32 && (e || (name && !kvmon_fim_db_set_meta(db, name, value))) &&
	    (t = fim_db_format(db, NULL, 0, &len)) && (o = fopen(dbf, "wb"))) {
		fwrite(t, 1, len, o);
		fwrite(old + olen - 32, 1, 32, o);
		rc = fclose(o) == 0 && (len != olen - 32 || memcmp(t, old, len)) ? 0 : -1;
	}
	free(t);
	free(old);
	kvmon_fim_db_free(db);
	return rc;
}

/* Version 2 (binary, what is written) and version 1 (text, still read):
 * the same database either way; v2 bodies cut short, with bytes after
 * the entries or with a bad varint are refused under a good MAC. */
static void test_versions(const char *dbp, const struct kvmon_fim_db *a,
			  const unsigned char *key)
{
	char path1[4300], path2[4300], *t2, *t1;
	size_t l2, l1, blen;
	struct found f = { 0 };
	struct kvmon_fim_db *l;

	snprintf(path1, sizeof(path1), "%s/v1.db", root);
	snprintf(path2, sizeof(path2), "%s/v2bad.db", root);
	write_v1(path1, a, key);
	t2 = file_text(dbp, &l2);
	t1 = file_text(path1, &l1);
	ok(t2 && t1 && l2 > 44 && !memcmp(t2, "kvmon-fim 2\n", 12) &&
	   !memcmp(t1, "kvmon-fim 1\n", 12) && l2 < l1 * 6 / 10,
	   "saved as version 2 (binary): %zu bytes, %zu as version 1 text",
	   l2, l1);
	l = kvmon_fim_db_load(path1, key, 32);
	ok(l && kvmon_fim_db_count(l) == 49 && kvmon_fim_compare(a, l, collect, &f) == 0 &&
	   f.n == 0 && !strcmp(kvmon_fim_db_get_meta(l, "bitmap"), "kvmon-fim-1-g1"),
	   "version 1 (text) still read: the same database (%s)",
	   l ? "ok" : kvmon_get_error());
	found_free(&f);
	kvmon_fim_db_free(l);
	l = kvmon_fim_db_load_bg(path1, key, 32);
	ok(l && kvmon_fim_db_wait(l) == 0 && kvmon_fim_db_count(l) == 49,
	   "version 1, background load");
	kvmon_fim_db_free(l);
	if (!t2 || l2 < 44) {
		free(t1);
		free(t2);
		return;
	}
	blen = l2 - 32; /* without the MAC */
	write_signed(path2, t2, blen - 3, key);
	l = kvmon_fim_db_load_bg(path2, key, 32);
	ok(l && kvmon_fim_db_wait(l) < 0 && kvmon_get_errno() == EBADMSG &&
	   strstr(kvmon_get_error(), "malformed") && kvmon_fim_db_count(l) == 0,
	   "v2 signed, last entry cut short: the wait reports it (%s)",
	   kvmon_get_error());
	kvmon_fim_db_free(l);
	ok(!kvmon_fim_db_load(path2, key, 32) && kvmon_get_errno() == EBADMSG,
	   "... and the synchronous load refuses it");
	memcpy(t2 + blen, "x", 1);
	write_signed(path2, t2, blen + 1, key);
	ok(!kvmon_fim_db_load(path2, key, 32) && kvmon_get_errno() == EBADMSG,
	   "v2 signed, a byte after the last entry: refused");
	/* the first byte after the magic is the metadata count: an
	 * over-long varint there */
	t2[12] = (char)0x80;
	write_signed(path2, t2, 13, key);
	ok(!kvmon_fim_db_load(path2, key, 32) && kvmon_get_errno() == EBADMSG,
	   "v2 signed, truncated varint: refused (%s)", kvmon_get_error());
	free(t1);
	free(t2);
}

/* Background load: the same database, the MAC checked before it returns,
 * malformed entries under a good MAC reported by the wait (docs/fim.md). */
static void test_load_bg(const char *dbp,
			 const struct kvmon_fim_db *a, const unsigned char *key)
{
	unsigned char key2[32];
	struct found f = { 0 };
	struct kvmon_fim_db *l;
	char path2[4300], *t, *e, *body;
	size_t len, blen;

	l = kvmon_fim_db_load_bg(dbp, key, 32);
	ok(l && !strcmp(kvmon_fim_db_get_meta(l, "bitmap"), "kvmon-fim-1-g1") &&
	   kvmon_fim_db_wait(l) == 0 && kvmon_fim_db_count(l) == 49 &&
	   kvmon_fim_compare(a, l, collect, &f) == 0 && f.n == 0,
	   "background load equals the scan (%s)", l ? "ok" : kvmon_get_error());
	found_free(&f);
	kvmon_fim_db_free(l);
	l = kvmon_fim_db_load_bg(dbp, key, 32);
	kvmon_fim_db_free(l); /* freed while parsing: waits, no leak */
	l = kvmon_fim_db_load_deferred(dbp, key, 32);
	ok(l && !strcmp(kvmon_fim_db_get_meta(l, "bitmap"), "kvmon-fim-1-g1") &&
	   kvmon_fim_db_wait(l) == 0 && kvmon_fim_db_wait(l) == 0 &&
	   kvmon_fim_db_count(l) == 49 && kvmon_fim_compare(a, l, collect, &f) == 0 &&
	   f.n == 0, "deferred load: metadata first, the entries parsed by the "
	   "first wait, equal to the scan");
	found_free(&f);
	kvmon_fim_db_free(l);
	l = kvmon_fim_db_load_deferred(dbp, key, 32);
	kvmon_fim_db_free(l); /* never waited for: parsed and freed, no leak */
	memcpy(key2, key, 32);
	key2[0] ^= 0x80;
	l = kvmon_fim_db_load_bg(dbp, key2, 32);
	ok(!l && kvmon_get_errno() == EBADMSG && strstr(kvmon_get_error(), "tamper"),
	   "background load, other key: refused before returning (%s)",
	   kvmon_get_error());
	/* malformed entries, as version 1 text (editable) */
	snprintf(path2, sizeof(path2), "%s/v1text.db", root);
	write_v1(path2, a, key);
	t = file_text(path2, &len);
	if (!t || len < 69 || !(e = strstr(t, "\ne /d/meta.txt "))) {
		ok(0, "database text");
		free(t);
		return;
	}
	blen = len - 69;
	body = malloc(blen + 64);
	/* a bad mode field in one entry, signed: the MAC verifies */
	memcpy(body, t, blen);
	memcpy(body + (e - t) + 17, "zz", 2);
	snprintf(path2, sizeof(path2), "%s/badentry.db", root);
	write_signed(path2, body, blen, key);
	l = kvmon_fim_db_load_bg(path2, key, 32);
	ok(l && kvmon_fim_db_wait(l) < 0 && kvmon_get_errno() == EBADMSG &&
	   strstr(kvmon_get_error(), "malformed") && kvmon_fim_db_count(l) == 0 &&
	   kvmon_fim_compare(a, l, collect, &f) < 0,
	   "signed malformed entry: the wait reports it, nothing compares (%s)",
	   kvmon_get_error());
	found_free(&f);
	kvmon_fim_db_free(l);
	ok(!kvmon_fim_db_load(path2, key, 32), "signed malformed entry: sync "
	   "load refuses it too");
	l = kvmon_fim_db_load_deferred(path2, key, 32);
	ok(l && kvmon_fim_db_wait(l) < 0 && kvmon_get_errno() == EBADMSG &&
	   kvmon_fim_db_wait(l) < 0 && kvmon_fim_db_count(l) == 0,
	   "signed malformed entry, deferred load: every wait reports it");
	kvmon_fim_db_free(l);
	/* metadata after an entry: the writer never does that; refused */
	memcpy(body, t, blen);
	memcpy(body + blen, "meta late x\n", 12);
	write_signed(path2, body, blen + 12, key);
	l = kvmon_fim_db_load_bg(path2, key, 32);
	ok(l && kvmon_fim_db_wait(l) < 0 && kvmon_get_errno() == EBADMSG,
	   "metadata after the entries: refused by the background parse");
	kvmon_fim_db_free(l);
	free(body);
	free(t);
}

static void test_scan(void)
{
	unsigned char key[32], key2[32];
	char img1[4200], img2[4200], dbp[4200], kp[4200];
	struct kvmon_fim_config *c = kvmon_fim_config_parse(conf_text,
							    strlen(conf_text));
	struct kvmon_fim_db *a, *a4, *b, *l;
	struct found f = { 0 };
	size_t la, la4;
	char *ta, *ta4;

	snprintf(img1, sizeof(img1), "%s/one.img", root);
	snprintf(img2, sizeof(img2), "%s/two.img", root);
	snprintf(dbp, sizeof(dbp), "%s/fim.db", root);
	snprintf(kp, sizeof(kp), "%s/key", root);
	if (tsh("set -e; cd '%s'; mkdir -p src/d/sub src/skip; cd src; "
	       "printf 'content one\\n' > d/content.txt; "
	       "printf 'meta\\n' > d/meta.txt; printf 'bye\\n' > d/gone.txt; "
	       "printf 'moving\\n' > d/old-name; head -c 3000000 /dev/urandom > d/big.bin; "
	       "ln -s content.txt d/link; echo x > skip/ignored; "
	       "for i in $(seq 1 40); do echo $i > d/sub/f$i; done; "
	       "python3 -c \"import os; os.setxattr('d/meta.txt', 'user.k', b'v')\"; "
	       "touch -d '2020-01-01 00:00:00' d/content.txt . d d/sub; "
	       "mke2fs -q -F -t ext4 -d . ../one.img 16M >/dev/null 2>&1", root) ||
	    !c)
		bail("cannot build the first image");
	/* the changes: content only (same size, mtime put back), metadata
	 * only, a new file, a deleted one, a rename, an xattr */
	if (tsh("set -e; cd '%s/src'; printf 'content TWO\\n' > d/content.txt; "
	       "touch -d '2020-01-01 00:00:00' d/content.txt; chmod 0600 d/meta.txt; "
	       "echo new > d/new.txt; rm d/gone.txt; mv d/old-name d/new-name; "
	       "echo y > skip/ignored2; "
	       "python3 -c \"import os; os.setxattr('d/sub/f7', 'user.k', b'w')\"; "
	       "touch -d '2020-01-01 00:00:00' . d d/sub; "
	       "mke2fs -q -F -t ext4 -d . ../two.img 16M >/dev/null 2>&1", root))
		bail("cannot build the second image");

	a = scan_image(img1, c, 1);
	a4 = scan_image(img1, c, 4);
	b = scan_image(img2, c, 3);
	ok(a && a4 && b, "three scans");
	if (!a || !a4 || !b)
		bail("cannot continue");
	ok(kvmon_fim_db_count(a) == 49, "49 paths selected (/ d sub 46 files, not "
	   "/skip or lost+found): %zu", kvmon_fim_db_count(a));
	ta = fim_db_format(a, NULL, 0, &la);
	ta4 = fim_db_format(a4, NULL, 0, &la4);
	ok(ta && ta4 && la == la4 && !memcmp(ta, ta4, la),
	   "4 hashing threads record exactly what 1 does");
	{
		const struct fim_entry *e = NULL;
		size_t i;

		for (i = 0; i < a->n; i++)
			if (!strcmp(a->e[i].path, "/d/content.txt"))
				e = &a->e[i];
		ok(e && e->size == 12 && (e->attrs & KVMON_FIM_SHA256) &&
		   (e->mode & 07777) == 0644, "content.txt recorded");
		for (i = 0; i < a->n; i++)
			if (!strcmp(a->e[i].path, "/d/link"))
				e = &a->e[i];
		ok(e && e->lname && !strcmp(e->lname, "content.txt") &&
		   !(e->attrs & KVMON_FIM_SHA256), "symlink: target, no hash");
	}
	free(ta);
	free(ta4);

	ok(kvmon_fim_compare(a, a4, collect, &f) == 0 && f.n == 0,
	   "same image: zero findings");
	found_free(&f);
	ok(kvmon_fim_compare(a, b, collect, &f) == 0, "compare");
	{
		char want[7][64] = {
			"~ /d/content.txt c00", "~ /d/meta.txt 2", "+ /d/new.txt 0",
			"- /d/gone.txt 0", "- /d/old-name 0", "+ /d/new-name 0",
			"~ /d/sub/f7 200",
		};
		size_t i, hit = 0;

		for (i = 0; i < 7; i++) {
			if (has(&f, want[i]))
				hit++;
			else
				diag("missing: %s", want[i]);
		}
		for (i = 0; i < f.n; i++)
			diag("found: %s", f.lines[i]);
		ok(hit == 7 && f.n == 7,
		   "exactly: content-only change (sha256+sha512), chmod (mode), "
		   "added, removed, rename (removed+added), xattr (%zu findings)", f.n);
	}
	found_free(&f);

	tsh("head -c 32 /dev/urandom > '%s'", kp);
	ok(kvmon_fim_key_load(kp, false, key) == 0, "key loaded");
	ok(kvmon_fim_db_set_meta(a, "bitmap", "kvmon-fim-1-g1") == 0 &&
	   kvmon_fim_db_set_meta(a, "Bad", "x") < 0 &&
	   kvmon_fim_db_set_meta(a, "x", "tab\there") < 0, "metadata validated");
	ok(kvmon_fim_db_save(a, dbp, key, 32) == 0, "database saved");
	{
		struct stat st;

		ok(stat(dbp, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	}
	l = kvmon_fim_db_load(dbp, key, 32);
	ok(l && kvmon_fim_db_count(l) == 49 && kvmon_fim_compare(a, l, collect, &f) == 0 &&
	   f.n == 0 && !strcmp(kvmon_fim_db_get_meta(l, "bitmap"), "kvmon-fim-1-g1"),
	   "loaded database equals the scan (%s)", l ? "ok" : kvmon_get_error());
	if (l)
		diag("loaded %zu paths, %zu findings, bitmap %s", kvmon_fim_db_count(l), f.n,
		     kvmon_fim_db_get_meta(l, "bitmap") ? kvmon_fim_db_get_meta(l, "bitmap") : "-");
	found_free(&f);
	kvmon_fim_db_free(l);
	test_load_bg(dbp, a, key);
	test_versions(dbp, a, key);

	memcpy(key2, key, 32);
	key2[5] ^= 1;
	l = kvmon_fim_db_load(dbp, key2, 32);
	ok(!l && kvmon_get_errno() == EBADMSG, "other key: EBADMSG");
	{
		size_t len, pos;
		char *t = file_text(dbp, &len), path2[4300];
		FILE *o;

		pos = len / 2; /* in the entries */
		snprintf(path2, sizeof(path2), "%s/tampered.db", root);
		if (t) {
			t[pos] ^= 1;
			o = fopen(path2, "wb");
			fwrite(t, 1, len, o);
			fclose(o);
		}
		l = kvmon_fim_db_load(path2, key, 32);
		ok(!l && kvmon_get_errno() == EBADMSG && strstr(kvmon_get_error(), "tamper"),
		   "one changed byte: MAC does not verify (%s)", kvmon_get_error());
		if (t) {
			o = fopen(path2, "wb");
			fwrite(t, 1, len / 2, o);
			fclose(o);
		}
		l = kvmon_fim_db_load(path2, key, 32);
		ok(!l && kvmon_get_errno() == EBADMSG, "truncated: refused (%s)",
		   kvmon_get_error());
		free(t);
	}
	ok(kvmon_fim_key_load(kp, false, key) == 0, "key file reloads");
	{
		char kp2[4300];
		struct stat st;

		snprintf(kp2, sizeof(kp2), "%s/newkey", root);
		ok(kvmon_fim_key_load(kp2, false, key2) < 0, "missing key without create");
		ok(kvmon_fim_key_load(kp2, true, key2) == 0 && stat(kp2, &st) == 0 &&
		   st.st_size == 32 && (st.st_mode & 0777) == 0600,
		   "key created: 32 bytes, 0600");
		tsh("echo short > '%s'", kp2);
		ok(kvmon_fim_key_load(kp2, false, key2) < 0, "short key refused");
	}
	kvmon_fim_db_free(a);
	kvmon_fim_db_free(a4);
	kvmon_fim_db_free(b);
	kvmon_fim_config_free(c);
}

/* ------------------------------------------------------------ hostile */

static void corrupt_at(const char *path, long off, unsigned char b)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (pwrite(fd, &b, 1, off) != 1)
			diag("pwrite failed");
		close(fd);
	}
}

static void test_hostile(void)
{
	static const char all[] = "/ ALL\n";
	struct kvmon_fim_config *c = kvmon_fim_config_parse(all, strlen(all));
	char img[4200], copy[4200];
	struct kvmon_fim_db *db;
	unsigned seed = 4242, scanned = 0;
	int64_t t0;

	snprintf(img, sizeof(img), "%s/one.img", root);
	snprintf(copy, sizeof(copy), "%s/hostile.img", root);
	/* a directory linked into its own subtree, a symlink loop, a sparse
	 * file claiming 2^55 bytes, one claiming more than the file system */
	tsh("cp '%s' '%s' && debugfs -w -R 'ln /d /d/sub/up' '%s' >/dev/null 2>&1 && "
	   "debugfs -w -R 'symlink /d/l1 /d/l2' '%s' >/dev/null 2>&1 && "
	   "debugfs -w -R 'symlink /d/l2 /d/l1' '%s' >/dev/null 2>&1 && "
	   "debugfs -w -R 'sif /d/meta.txt size 0x80000000000000' '%s' >/dev/null 2>&1 && "
	   "debugfs -w -R 'sif /d/sub/f7 size 0x200000000' '%s' >/dev/null 2>&1",
	   img, copy, copy, copy, copy, copy, copy);
	t0 = kvmon_now_ms();
	db = c ? scan_image(copy, c, 2) : NULL;
	ok(db != NULL && kvmon_now_ms() - t0 < 20000,
	   "loop, symlink loop and a 2^55-byte file: the scan ends (%zu paths, %lld ms)",
	   kvmon_fim_db_count(db), (long long)(kvmon_now_ms() - t0));
	if (db) {
		const struct fim_entry *e = fim_db_find(db, "/d/meta.txt");
		size_t i, below = 0;

		ok(e && e->hash_err == EFBIG, "the huge file is not read: EFBIG recorded");
		e = fim_db_find(db, "/d/sub/f7");
		ok(e && e->size == 0x200000000ull && e->hash_err == EFBIG,
		   "an 8 GiB file on a small file system (holes) is not read: EFBIG");
		for (i = 0; i < db->n; i++)
			below += !strncmp(db->e[i].path, "/d/sub/up/", 10);
		ok(fim_db_find(db, "/d/sub/up") && below == 0,
		   "the looped directory is recorded, not walked again");
	}
	kvmon_fim_db_free(db);
	/* random corruption of the metadata: error or a database, never a
	 * crash, bounded time */
	t0 = kvmon_now_ms();
	for (int iter = 0; iter < 30; iter++) {
		tsh("cp '%s' '%s'", img, copy);
		for (int k = 0; k < 40; k++) {
			seed = seed * 1103515245u + 12345u;
			long off = 1024 + (long)((seed >> 8) % (600 * 1024));

			seed = seed * 1103515245u + 12345u;
			corrupt_at(copy, off, (unsigned char)(seed >> 16));
		}
		{
			struct kvmon_fim_scan_opts o = { .jobs = 2 };
			struct kvmon_disk *d = kvmon_disk_open_raw(copy);
			struct kvmon_fs *fs = d ? kvmon_fs_open(d, 0, 0) : NULL;

			db = fs ? kvmon_fim_scan(fs, c, &o) : NULL;
			scanned += db != NULL;
			kvmon_fim_db_free(db);
			kvmon_fs_close(fs);
			kvmon_disk_close(d);
		}
	}
	ok(kvmon_now_ms() - t0 < 60000, "30 randomly corrupted images: no crash, "
	   "bounded (%u scanned, %lld ms)", scanned, (long long)(kvmon_now_ms() - t0));
	kvmon_fim_config_free(c);
}

/* ------------------------------------------------------------ CLI */

static void test_cli(void)
{
	const char *kvmon = getenv("KVMON");
	char base[20000], opath[4200];
	size_t len;
	char *out;

	if (!kvmon)
		bail("$KVMON not set");
	snprintf(base, sizeof(base), "'%s' fim --config '%s/c.conf' --db '%s/cli.db' "
		 "--key-file '%s/cli.key'", kvmon, root, root, root);
	tsh("cat > '%s/c.conf' <<'EOF'\n%sEOF", root, conf_text);
	ok(tsh("%s init --image '%s/one.img' > '%s/o' 2>&1", base, root, root) == 0,
	   "kvmon fim init --image: exit 0");
	ok(tsh("%s init --image '%s/one.img' > /dev/null 2>&1", base, root) == 2,
	   "init again without --force: exit 2");
	ok(tsh("%s check --image '%s/one.img' > '%s/o' 2>&1", base, root, root) == 0,
	   "check of the same image: exit 0");
	snprintf(opath, sizeof(opath), "%s/o", root);
	out = file_text(opath, &len);
	ok(out && strstr(out, "0 added, 0 removed, 0 changed (49 paths"),
	   "summary line: %s", out ? out : "");
	free(out);
	ok(tsh("%s check --json --image '%s/two.img' > '%s/o.json'", base, root, root) == 1,
	   "check of the changed image: exit 1");
	ok(tsh("python3 -c \"import json,sys; d=json.load(open('%s/o.json')); "
	      "c={f['path']:f['change'] for f in d['findings']}; "
	      "assert d['added']==2 and d['removed']==2 and d['changed']==3, d; "
	      "assert c['/d/content.txt']=='changed' and c['/d/gone.txt']=='removed', c; "
	      "m=[f for f in d['findings'] if f['path']=='/d/meta.txt'][0]; "
	      "assert m['attrs']['mode']=={'old':'0644','new':'0600'}, m\"",
	      root) == 0, "--json: counts, kinds, mode 0644 -> 0600");
	ok(tsh("%s check --alerts --image '%s/two.img' > '%s/o.alerts'", base, root, root) == 1 &&
	   tsh("python3 -c \"import json; a=[json.loads(l) for l in open('%s/o.alerts')]; "
	      "assert len(a)==7, a; "
	      "assert all(x['detector']=='fim' and x['severity']=='warning' and "
	      "'time' in x and 'vm' in x and x['details']['path'] for x in a), a; "
	      "assert any(x['message'].startswith('changed /d/meta.txt (mode 0644 -> 0600') "
	      "for x in a), a\"", root) == 0,
	   "--alerts: 7 alerts in the kvmon watch format");
	{
		char dbf[4300], keyf[4300];

		snprintf(dbf, sizeof(dbf), "%s/cli.db", root);
		snprintf(keyf, sizeof(keyf), "%s/cli.key", root);
		tsh("cp '%s/cli.db' '%s/cli.db.orig'", root, root);
		ok(db_edit(dbf, keyf, "/d/meta.txt", 0600, NULL, NULL) == 0,
		   "database edited without the key: meta.txt's mode 0600, old MAC");
	}
	ok(tsh("%s check --image '%s/two.img' > /dev/null 2> '%s/o.err'", base, root, root) == 2 &&
	   tsh("grep -q 'tampered' '%s/o.err'", root) == 0,
	   "tampered database (mode of meta.txt rewritten): exit 2, says so");
	{
		/* signed (the MAC verifies) but an entry cut short: the
		 * entries are parsed after the MAC, on another thread */
		char dbf[4300], keyf[4300], *t;
		unsigned char key[32];
		size_t dlen;

		snprintf(dbf, sizeof(dbf), "%s/cli.db", root);
		snprintf(keyf, sizeof(keyf), "%s/cli.key", root);
		t = file_text(dbf, &dlen);
		if (t && dlen > 40 && kvmon_fim_key_load(keyf, false, key) == 0)
			write_signed(dbf, t, dlen - 32 - 3, key);
		free(t);
		ok(tsh("%s check --image '%s/two.img' > '%s/o.out' 2> '%s/o.err'",
		       base, root, root, root) == 2 &&
		   tsh("grep -q 'malformed' '%s/o.err'", root) == 0 &&
		   tsh("test ! -s '%s/o.out'", root) == 0,
		   "signed database with a malformed entry: exit 2, says so, "
		   "no finding");
	}
	tsh("cp '%s/cli.db.orig' '%s/cli.db'", root, root);
	ok(tsh("%s update --image '%s/two.img' > /dev/null", base, root) == 1,
	   "update reports the changes: exit 1");
	ok(tsh("%s check --image '%s/two.img' > /dev/null", base, root) == 0,
	   "after update: clean");
	ok(tsh("%s check --incremental --image '%s/two.img' > '%s/o' 2>&1", base, root,
	      root) == 0 && tsh("grep -q 'full' '%s/o'", root) == 0,
	   "--incremental on an image: full check, said so");
	ok(tsh("%s frob > /dev/null 2>&1", base) == 2, "unknown subcommand: exit 2");
	ok(tsh("%s --granularity 1000 check --image '%s/two.img' > /dev/null "
	      "2> '%s/o.err'", base, root, root) == 2 &&
	   tsh("grep -q 'power of two' '%s/o.err'", root) == 0,
	   "--granularity not a power of two: exit 2, says so");
	ok(tsh("%s --granularity 64K check --image '%s/two.img' > /dev/null",
	      base, root) == 0, "--granularity 64K accepted (no effect at rest)");
	ok(tsh("'%s' fim --help | grep -q incremental", kvmon) == 0, "--help");
	ok(tsh("%s check --image '%s/nonexistent.img' > /dev/null 2>&1", base, root) == 2,
	   "missing image: exit 2");
	ok(tsh("printf '/x NOPE\\n' > '%s/bad.conf'; '%s' fim --config '%s/bad.conf' "
	      "--db '%s/x.db' --key-file '%s/cli.key' init --image '%s/one.img' "
	      "2> '%s/o.err' >/dev/null", root, kvmon, root, root, root, root, root) == 2 &&
	   tsh("grep -q 'line 1' '%s/o.err'", root) == 0,
	   "bad configuration: exit 2 with the line number");
}

int main(void)
{
	const char *troot = getenv("KVMON_TEST_ROOT");

	snprintf(root, sizeof(root), "%s/fim-unit-%d", troot ? troot : "/tmp",
		 (int)getpid());
	if (tsh("mkdir -p '%s'", root))
		bail("cannot create %s", root);
	atexit(cleanup);
	test_config();
	test_scan();
	test_hostile();
	test_cli();
	return tap_done();
}
