// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmon fim on the real guest: baseline of a running VM, then the guest
 * creates, modifies (content only; metadata only: chmod, chown, touch),
 * deletes and renames files through the test-control channel and syncs;
 * the full check (and the incremental one, when the disk keeps a dirty
 * bitmap) reports exactly those; no change -> zero findings; a tampered
 * database is refused; update then check -> clean; alerts in the shared
 * format; nothing left in QEMU.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"
#include "../support/tsh.h"
#include "../support/tguest.h"
#include "fim/fim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[4096], base[65536];

static void cleanup(void)
{
	if (*dir)
		tsh("rm -rf '%s'", dir);
}

static int fleece_leftovers(struct kvmon_vm *vm)
{
	static const char *q[] = { "query-block-exports", "query-block-jobs",
				   "query-named-block-nodes" };
	int n = 0;

	for (size_t i = 0; i < 3; i++) {
		char *r = NULL;

		if (kvmon_qmp_execute(kvmon_vm_qmp(vm), q[i], NULL, &r) < 0)
			return -1;
		if (strstr(r, "kvmon-fleece-"))
			n++;
		kvmon_free(r);
	}
	kvmon_vm_disconnect(vm);
	return n;
}

/* Dirty bitmaps named kvmon-fim-*SUFFIX on the VM's disks. */
static int bitmaps(struct kvmon_vm *vm, const char *suffix)
{
	char *r = NULL, *p, pat[64];
	int n = 0;

	if (kvmon_qmp_execute(kvmon_vm_qmp(vm), "query-block", NULL, &r) < 0)
		return -1;
	snprintf(pat, sizeof(pat), "%s\"", suffix);
	for (p = r; (p = strstr(p, "\"kvmon-fim-")); p++) {
		char *q = strchr(p + 1, '"');

		if (q && (size_t)(q + 1 - p) > strlen(pat) &&
		    !strncmp(q + 1 - strlen(pat), pat, strlen(pat)))
			n++;
	}
	kvmon_free(r);
	kvmon_vm_disconnect(vm);
	return n;
}

/* An incremental check of an edited database: exit 2, says "tampered",
 * prints no finding (its exit status to *rc). */
static bool refused_incremental(int *rc)
{
	*rc = tsh("%s check --incremental > '%s/tamper.out' 2> '%s/tamper.err'",
		  base, dir, dir);
	return *rc == 2 && tsh("grep -q tampered '%s/tamper.err'", dir) == 0 &&
	       tsh("test ! -s '%s/tamper.out'", dir) == 0;
}

/* The marker bitmap the database names ("" if none). */
static void db_marker(char *name, size_t size)
{
	char db[4200], keyf[4200];
	unsigned char key[32];
	struct kvmon_fim_db *d = NULL;
	const char *b;

	*name = 0;
	snprintf(db, sizeof(db), "%s/fim.db", dir);
	snprintf(keyf, sizeof(keyf), "%s/fim.key", dir);
	if (kvmon_fim_key_load(keyf, false, key) == 0)
		d = kvmon_fim_db_load(db, key, sizeof(key));
	b = kvmon_fim_db_get_meta(d, "bitmap");
	if (b)
		snprintf(name, size, "%s", b);
	kvmon_fim_db_free(d);
}

/* Edit the database as someone without the key would: path's mode bits
 * set to mode (or, with no path, metadata name set to value), the old
 * MAC kept. 0 if the file changed. */
static int db_edit(const char *path, uint32_t mode, const char *name,
		   const char *value)
{
	char dbf[4200], keyf[4200], *old = NULL, *t = NULL;
	unsigned char key[32];
	struct kvmon_fim_db *d;
	struct fim_entry *e;
	size_t olen = 0, len;
	int rc = -1;
	FILE *f;

	snprintf(dbf, sizeof(dbf), "%s/fim.db", dir);
	snprintf(keyf, sizeof(keyf), "%s/fim.key", dir);
	if (kvmon_fim_key_load(keyf, false, key) < 0 ||
	    !(d = kvmon_fim_db_load(dbf, key, sizeof(key))))
		return -1;
	e = path ? (struct fim_entry *)fim_db_find(d, path) : NULL;
	if (e)
		e->mode = (e->mode & ~07777u) | mode;
	if ((f = fopen(dbf, "rb"))) {
		old = malloc(64 << 20);
		olen = old ? fread(old, 1, 64 << 20, f) : 0;
		fclose(f);
	}
	if (olen > 32 && (e || (name && !kvmon_fim_db_set_meta(d, name, value))) &&
	    (t = fim_db_format(d, NULL, 0, &len)) && (f = fopen(dbf, "wb"))) {
		fwrite(t, 1, len, f);
		fwrite(old + olen - 32, 1, 32, f);
		rc = fclose(f) == 0 && (len != olen - 32 || memcmp(t, old, len)) ? 0 : -1;
	}
	free(t);
	free(old);
	kvmon_fim_db_free(d);
	return rc;
}

/* block-dirty-bitmap-add/remove on the guest's disk node, directly over
 * QMP, as an admin or a crashed kvmon would leave things. */
static int bitmap_qmp(struct kvmon_vm *vm, const char *cmd, const char *name)
{
	char args[256], *r = NULL;
	int rc;

	snprintf(args, sizeof(args), "{\"node\":\"disk0\",\"name\":\"%s\"%s}", name,
		 strstr(cmd, "add") ? ",\"persistent\":true" : "");
	rc = kvmon_qmp_execute(kvmon_vm_qmp(vm), cmd, args, &r);
	if (rc < 0)
		diag("%s %s: %s", cmd, name, kvmon_get_error());
	kvmon_free(r);
	kvmon_vm_disconnect(vm);
	return rc;
}

/* The findings of a --json report, as "kind path attr,attr" lines (sorted)
 * in dir/NAME.txt, checked against the expected set by python. */
static const char expect_py[] =
	"import json,sys\n"
	"d=json.load(open(sys.argv[1]))\n"
	"got={(f['change'],f['path']):sorted(f.get('attrs',{}).keys()) for f in d['findings']}\n"
	"want={('added','/root/fim/new.txt'):[], ('removed','/root/fim/gone.txt'):[],\n"
	"      ('removed','/root/fim/old-name'):[], ('added','/root/fim/new-name'):[]}\n"
	"need={('changed','/root/fim/content.txt'):{'sha256'},\n"
	"      ('changed','/root/fim/meta.txt'):{'mode'},\n"
	"      ('changed','/root/fim/owner.txt'):{'uid','gid'},\n"
	"      ('changed','/root/fim/touched.txt'):{'mtime'},\n"
	"      ('changed','/root/fim'):{'mtime'}}\n"
	"never={('changed','/root/fim/meta.txt'):{'sha256','mtime'},\n"
	"       ('changed','/root/fim/owner.txt'):{'sha256','mtime'},\n"
	"       ('changed','/root/fim/touched.txt'):{'sha256'}}\n"
	"bad=[]\n"
	"if set(got)!=set(want)|set(need): bad.append('paths differ: extra %s missing %s'%(\n"
	"    sorted(set(got)-set(want)-set(need)), sorted(set(want)|set(need)-set(got))))\n"
	"for k,v in need.items():\n"
	"    if k in got and not v<=set(got[k]): bad.append('%s lacks %s: %s'%(k,v,got[k]))\n"
	"for k,v in never.items():\n"
	"    if k in got and v&set(got[k]): bad.append('%s must not have %s: %s'%(k,v,got[k]))\n"
	"if d['mode']!=sys.argv[2]: bad.append('mode %s'%d['mode'])\n"
	"print('\\n'.join(bad) or 'ok')\n"
	"sys.exit(1 if bad else 0)\n";

static void check_findings(const char *what, const char *json, const char *mode)
{
	int rc = tsh("python3 '%s/expect.py' '%s' %s > '%s/why' 2>&1", dir, json, mode,
		    dir);

	if (rc) {
		tsh("cat '%s/why' | sed 's/^/# /'", dir);
		tsh("head -c 4000 '%s' | sed 's/^/# /'", json);
	}
	ok(rc == 0, "%s: exactly the created, content-modified, chmod/chown/touch'ed, "
	   "deleted and renamed files", what);
}

int main(void)
{
	const char *kvmon = getenv("KVMON");
	struct kvmon_vm *vm;
	struct tctl *c;
	char json[4200], mk[128] = "";
	FILE *f;
	int rc;

	tguest_require();
	if (!kvmon)
		bail("$KVMON not set");
	snprintf(dir, sizeof(dir), "%s/fim-%d", tguest_root(), (int)getpid());
	if (tsh("mkdir -p '%s'", dir))
		bail("cannot create %s", dir);
	atexit(cleanup);
	f = fopen(strcat(strcpy(json, dir), "/expect.py"), "w");
	if (!f)
		bail("cannot write expect.py");
	fputs(expect_py, f);
	fclose(f);
	/* What the guest's services change (logs, heartbeat, spool) is not
	 * selected: /var is not, and neither are /tmp and /run (tmpfs). */
	f = fopen(strcat(strcpy(json, dir), "/fim.conf"), "w");
	if (!f)
		bail("cannot write fim.conf");
	fputs("NORMAL = R\n=/ t+p+u+g\n/etc NORMAL\n/bin NORMAL\n/sbin NORMAL\n"
	      "/usr NORMAL\n/root NORMAL\n", f);
	fclose(f);

	vm = tguest_start("fim");
	if (!vm)
		bail("boot failed: %s", kvmon_get_error());
	c = tctl_open(vm);
	if (!c)
		bail("control channel: %s", kvmon_get_error());
	kvmon_vm_disconnect(vm); /* QEMU serves one QMP client: the CLI's turn */
	snprintf(base, sizeof(base), "TMPDIR='%s' '%s' fim --qmp '%s' --config '%s/fim.conf' "
		 "--db '%s/fim.db' --key-file '%s/fim.key' --jobs 2", dir, kvmon,
		 kvmon_vm_path(vm, "qmp"), dir, dir, dir);

	ok(tctl_check(c, "mkdir -p /root/fim && cd /root/fim && echo same-size-1 > content.txt && "
		 "echo meta > meta.txt && echo owner > owner.txt && echo touch > touched.txt && "
		 "echo bye > gone.txt && echo moving > old-name && "
		 "touch -d '2021-02-03 04:05:06' touched.txt && sync") == 0,
	   "guest: test files created and synced");
	rc = tsh("%s init > '%s/init.out' 2>&1", base, dir);
	ok(rc == 0, "kvmon fim init on the running VM (exit %d)", rc);
	if (rc)
		tsh("sed 's/^/# /' '%s/init.out'", dir);
	rc = tsh("%s check --json > '%s/clean.json'", base, dir);
	ok(rc == 0 && tsh("python3 -c \"import json; d=json.load(open('%s/clean.json')); "
			 "assert d['paths']>1000 and not d['findings'], d\"", dir) == 0,
	   "check on an unchanged guest: zero findings, > 1000 paths (exit %d)", rc);

	ok(tctl_check(c, "cd /root/fim && echo same-size-2 > content.txt && chmod 600 meta.txt && "
		 "chown 1:1 owner.txt && touch touched.txt && rm gone.txt && "
		 "mv old-name new-name && echo new > new.txt && sync") == 0,
	   "guest: create, modify content, chmod, chown, touch, delete, rename; sync");

	snprintf(json, sizeof(json), "%s/full.json", dir);
	rc = tsh("%s check --json > '%s'", base, json);
	ok(rc == 1, "full check: exit 1 (%d)", rc);
	check_findings("full check", json, "full");

	snprintf(json, sizeof(json), "%s/incr.json", dir);
	rc = tsh("%s check --incremental --json > '%s' 2> '%s/incr.err'", base, json, dir);
	ok(rc == 1, "incremental check: exit 1 (%d)", rc);
	if (rc != 1)
		tsh("sed 's/^/# /' '%s/incr.err'", dir);
	check_findings("incremental check", json, "incremental");
	ok(tsh("python3 -c \"import json; i=json.load(open('%s'))['incremental']; "
	      "print('#', i); assert i['copied']>1000 and i['hashed']<=10, i\"", json) == 0,
	   "incremental: > 1000 paths proven unchanged unread, <= 10 files re-hashed");

	rc = tsh("%s check --alerts > '%s/alerts' 2>/dev/null", base, dir);
	ok(rc == 1 && tsh("python3 -c \"import json; a=[json.loads(l) for l in open('%s/alerts')]; "
			 "assert len(a)==9 and all(x['detector']=='fim' and x['vm'] and x['time'] "
			 "and x['details']['path'].startswith('/root/fim') for x in a), a\"",
			 dir) == 0, "--alerts: 9 alerts in the kvmon watch format");

	tsh("cp '%s/fim.db' '%s/fim.db.orig'", dir, dir);
	ok(db_edit("/root/fim/meta.txt", 0600, NULL, NULL) == 0,
	   "database edited without the key (meta.txt's mode set to what the "
	   "guest made it, old MAC)");
	rc = tsh("%s check > /dev/null 2> '%s/tamper.err'", base, dir);
	ok(rc == 2 && tsh("grep -q tampered '%s/tamper.err'", dir) == 0,
	   "tampered database: exit 2, says so (exit %d)", rc);
	/* the incremental check parses the entries in the background: the
	 * MAC over the whole file is still checked before anything is used */
	ok(refused_incremental(&rc),
	   "tampered database, incremental: exit 2, says so, no finding (exit %d)", rc);
	/* the header names the baseline's bitmap: a forged name must be
	 * refused like any other edit, and leave nothing in QEMU */
	tsh("cp '%s/fim.db.orig' '%s/fim.db'", dir, dir);
	{
		char forged[128];
		size_t n;

		db_marker(forged, sizeof(forged));
		n = strlen(forged);
		if (n > 1 && forged[n - 2] == 'g')
			forged[n - 1] = '7';
		ok(n > 1 && db_edit(NULL, 0, "bitmap", forged) == 0,
		   "database header edited to name another bitmap (%s)", forged);
	}
	ok(refused_incremental(&rc),
	   "forged bitmap name, incremental: exit 2, says so, no finding (exit %d)", rc);
	ok(fleece_leftovers(vm) == 0, "... and no export, job or node left in QEMU");
	tsh("cp '%s/fim.db.orig' '%s/fim.db'", dir, dir);

	rc = tsh("%s update > /dev/null 2>&1", base);
	ok(rc == 1, "update: reports the changes, exit 1 (%d)", rc);
	rc = tsh("%s check > '%s/after.out' 2>&1", base, dir);
	ok(rc == 0, "after update: check clean (exit %d)", rc);
	if (rc)
		tsh("sed 's/^/# /' '%s/after.out'", dir);
	rc = tsh("%s check --incremental --json > '%s/after.json' 2>&1", base, dir);
	ok(rc == 0 && tsh("python3 -c \"import json; d=json.load(open('%s/after.json')); "
			 "assert d['mode']=='incremental' and not d['findings'], d\"",
			 dir) == 0,
	   "after update: incremental check (from the new marker) clean (exit %d)", rc);
	if (rc)
		tsh("sed 's/^/# /' '%s/after.json'", dir);
	ok(bitmaps(vm, "-g2") == 1 && bitmaps(vm, "-g1") == 0,
	   "update moved the baseline marker: bitmap g2 exists, g1 removed");

	/* update --incremental: since g2 and track g3 in one transaction */
	ok(tctl_check(c, "echo again > /root/fim/new.txt && sync") == 0,
	   "guest: one more content change");
	rc = tsh("%s update --incremental --json > '%s/upd.json' 2>&1", base, dir);
	ok(rc == 1 && tsh("python3 -c \"import json; d=json.load(open('%s/upd.json')); "
			 "assert d['mode']=='incremental' and [(f['path'],f['change']) for f in "
			 "d['findings']]==[('/root/fim/new.txt','changed')], d\"", dir) == 0,
	   "update --incremental: exactly the changed file, exit 1 (%d)", rc);
	rc = tsh("%s check --incremental --json > '%s/after3.json' 2>&1", base, dir);
	ok(rc == 0 && tsh("python3 -c \"import json; d=json.load(open('%s/after3.json')); "
			 "assert d['mode']=='incremental' and not d['findings'], d\"",
			 dir) == 0, "then incremental check clean (exit %d)", rc);
	ok(bitmaps(vm, "-g3") == 1 && bitmaps(vm, "-g2") == 0,
	   "marker moved to g3, g2 removed");
	ok(tsh("ls '%s' | grep -c 'fim.db.g.*map' | grep -qx 1", dir) == 0,
	   "one block map left next to the database");

	/* a missing block map or marker: a full check, said so */
	tsh("mv '%s'/fim.db.g3.map '%s/map.saved'", dir, dir);
	rc = tsh("%s check --incremental --json > '%s/nomap.json' 2> '%s/nomap.err'", base,
		dir, dir);
	ok(rc == 0 && tsh("grep -q '\"mode\":\"full\"' '%s/nomap.json'", dir) == 0 &&
	   tsh("grep -q 'block map' '%s/nomap.err'", dir) == 0,
	   "block map missing: full check, said on stderr (exit %d)", rc);
	tsh("mv '%s/map.saved' '%s'/fim.db.g3.map", dir, dir);
	db_marker(mk, sizeof(mk));
	rc = *mk ? bitmap_qmp(vm, "block-dirty-bitmap-remove", mk) : -1;
	ok(rc == 0, "marker removed behind kvmon's back");
	rc = tsh("%s check --incremental --json > '%s/nobm.json' 2> '%s/nobm.err'", base,
		dir, dir);
	ok(rc == 0 && tsh("grep -q '\"mode\":\"full\"' '%s/nobm.json'", dir) == 0 &&
	   tsh("grep -q 'full check' '%s/nobm.err'", dir) == 0,
	   "marker gone: full check, said on stderr (exit %d)", rc);

	/* an update that crashed after creating g4 but before writing its
	 * database: the next update removes the orphan and goes on */
	if (strlen(mk) > 3) {
		mk[strlen(mk) - 1] = '4';
		ok(bitmap_qmp(vm, "block-dirty-bitmap-add", mk) == 0, "orphan marker %s made", mk);
	}
	rc = tsh("%s update > /dev/null 2> '%s/orphan.err'", base, dir);
	ok(rc == 0 && tsh("grep -q 'interrupted update' '%s/orphan.err'", dir) == 0 &&
	   bitmaps(vm, "-g4") == 1, "update after an interrupted one: orphan replaced, "
	   "marker g4 (exit %d)", rc);
	rc = tsh("%s check --incremental --json > '%s/last.json' 2>/dev/null", base, dir);
	ok(rc == 0 && tsh("grep -q '\"mode\":\"incremental\"' '%s/last.json'", dir) == 0,
	   "then incremental again, clean (exit %d)", rc);

	ok(fleece_leftovers(vm) == 0, "no fleecing export, job or node left in QEMU");
	tctl_close(c);
	ok(tguest_stop(vm) == 0, "guest stopped");
	return tap_done();
}
