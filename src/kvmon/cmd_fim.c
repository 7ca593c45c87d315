// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmon fim init|check|update: offloaded file-integrity checking of a VM's
 * disk (a point-in-time fleecing view) or an image at rest, against a
 * baseline database kept on the host (docs/fim.md).
 */
#define _GNU_SOURCE
#include "cli.h"
#include "dlprefetch.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char fim_usage[] =
	"Usage: kvmon fim init|check|update [OPTIONS]\n"
	"File-integrity checking from outside the VM: the rules of --config\n"
	"select guest paths and attributes; init records them in a baseline\n"
	"database on the host (HMAC-SHA-256 under --key-file), check reports\n"
	"what was added, removed or changed since, update reports and makes\n"
	"the current state the baseline.\n"
	"  init             scan and write the baseline (--force to replace one)\n"
	"  check            scan and compare with the baseline\n"
	"  update           compare, then write the current state as baseline\n"
	"  --config FILE    rules (default: $KVMON_FIM_CONFIG, else the shipped\n"
	"                   etc/fim.conf)\n"
	"  --db FILE        baseline database (default:\n"
	"                   $XDG_STATE_HOME/kvmon/fim/NAME.db, NAME = the VM's\n"
	"                   name or the image's file name)\n"
	"  --key-file FILE  32-byte HMAC key (default: key next to the default\n"
	"                   database; init creates it, mode 0600, if absent)\n"
	"  --jobs N         hashing threads (default: number of CPUs)\n"
	"  --incremental    check/update only what the disk's dirty bitmap says\n"
	"                   may have changed (running VM; falls back to a full\n"
	"                   scan, saying so, when the baseline marker is gone)\n"
	"  --alerts         one JSON alert per finding (kvmon watch format,\n"
	"                   detector \"fim\") instead of the report\n"
	"  --force          init: replace an existing database\n"
	"  --granularity N  init/update: bytes per bit of the baseline marker\n"
	"                   (power of two >= 512; default 4096, the usual file\n"
	"                   system block: fewer neighbours re-examined)\n"
	DISK_HELP
	COMMON_HELP
	"Exit: 0 no change, 1 something was added, removed or changed,\n"
	"2 error (also: database tampered with, or wrong key).\n";

enum { OPT_CONFIG = OPT_FIRST_LOCAL, OPT_DB, OPT_KEY, OPT_JOBS, OPT_INCR,
       OPT_ALERTS, OPT_FORCE, OPT_GRAN };

enum fim_cmd { FIM_INIT, FIM_CHECK, FIM_UPDATE };

struct fim_cli {
	struct cli c;
	struct cli_disk cd;
	enum fim_cmd cmd;
	const char *config, *db, *key;
	char dbbuf[PATH_MAX], keybuf[PATH_MAX];
	unsigned jobs;
	uint32_t granularity; /* 0: the library's default */
	bool incremental, alerts, force;
	const char *vmname;
	/* findings */
	unsigned long added, removed, changed;
	struct json_object *list;
};

/* ------------------------------------------------------------ timing */

/* KVMON_FIM_TIMING=1: where a run's time goes, on stderr (profiling the
 * incremental check's fixed cost; docs/fim.md). */
static int64_t timing_t0, timing_last;

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void timing(const char *step)
{
	int64_t now;

	if (!timing_t0)
		return;
	now = mono_us();
	fprintf(stderr, "fim timing: %-22s %7.1f ms (at %7.1f ms)\n", step,
		(double)(now - timing_last) / 1000, (double)(now - timing_t0) / 1000);
	timing_last = now;
}

/* ------------------------------------------------------------ options */

static int mkdirs(const char *path)
{
	char tmp[PATH_MAX], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -1;
	for (p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int state_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && *xdg)
		n = snprintf(buf, size, "%s/kvmon/fim", xdg);
	else if (home && *home)
		n = snprintf(buf, size, "%s/.local/state/kvmon/fim", home);
	else
		return -1;
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Default database and key paths (created directory, mode 0700). */
static int default_paths(struct fim_cli *f)
{
	char dir[PATH_MAX], name[PATH_MAX];

	if (f->db && f->key)
		return 0;
	if (state_dir(dir, sizeof(dir)) < 0)
		return cli_fail(&f->c, "no $XDG_STATE_HOME or $HOME: give --db and "
			       "--key-file"), -1;
	if (f->cd.image) {
		snprintf(name, sizeof(name), "%s", f->cd.image);
		snprintf(name, sizeof(name), "%s", basename(name));
	} else {
		snprintf(name, sizeof(name), "%s", f->c.qmp ? "qmp" : f->c.name);
	}
	if ((!f->db || (!f->key && f->cmd == FIM_INIT)) && mkdirs(dir) < 0)
		return cli_fail(&f->c, "create %s: %s", dir, strerror(errno)), -1;
	if (!f->db) {
		if (snprintf(f->dbbuf, sizeof(f->dbbuf), "%s/%s.db", dir, name) >=
		    (int)sizeof(f->dbbuf))
			return cli_fail(&f->c, "database path too long"), -1;
		f->db = f->dbbuf;
	}
	if (!f->key) {
		if (snprintf(f->keybuf, sizeof(f->keybuf), "%s/key", dir) >=
		    (int)sizeof(f->keybuf))
			return cli_fail(&f->c, "key path too long"), -1;
		f->key = f->keybuf;
	}
	return 0;
}

static const char *default_config(void)
{
	const char *env = getenv("KVMON_FIM_CONFIG");

	return env && *env ? env : KVMON_SOURCE_DIR "/etc/fim.conf";
}

static int parse_args(struct fim_cli *f, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		DISK_LONG_OPTS,
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "db", required_argument, NULL, OPT_DB },
		{ "key-file", required_argument, NULL, OPT_KEY },
		{ "jobs", required_argument, NULL, OPT_JOBS },
		{ "incremental", no_argument, NULL, OPT_INCR },
		{ "alerts", no_argument, NULL, OPT_ALERTS },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "granularity", required_argument, NULL, OPT_GRAN },
		{ 0 }
	};
	const char *sub;
	char *end;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&f->c, opt, optarg)) < 0 ||
		    (!rc && (rc = cli_disk_opt(&f->cd, &f->c, opt, optarg)) < 0))
			return -1;
		if (rc)
			continue;
		switch (opt) {
		case OPT_HELP:
			fputs(fim_usage, stdout);
			return 1;
		case OPT_CONFIG: f->config = optarg; break;
		case OPT_DB: f->db = optarg; break;
		case OPT_KEY: f->key = optarg; break;
		case OPT_INCR: f->incremental = true; break;
		case OPT_ALERTS: f->alerts = true; break;
		case OPT_FORCE: f->force = true; break;
		case OPT_GRAN: {
			uint64_t g;

			if (cli_parse_size(optarg, 1ull << 31, &g) < 0 ||
			    g < 512 || (g & (g - 1)))
				return cli_fail(&f->c, "--granularity takes a power "
						"of two >= 512"), -1;
			f->granularity = (uint32_t)g;
			break;
		}
		case OPT_JOBS:
			errno = 0;
			f->jobs = (unsigned)strtoul(optarg, &end, 10);
			if (errno || *end || f->jobs < 1 || f->jobs > 64)
				return cli_fail(&f->c, "--jobs takes 1..64"), -1;
			break;
		default:
			cli_usage_error(&f->c, fim_usage);
			return -1;
		}
	}
	if (optind + 1 != argc) {
		cli_usage_error(&f->c, fim_usage);
		return -1;
	}
	sub = argv[optind];
	if (!strcmp(sub, "init"))
		f->cmd = FIM_INIT;
	else if (!strcmp(sub, "check"))
		f->cmd = FIM_CHECK;
	else if (!strcmp(sub, "update"))
		f->cmd = FIM_UPDATE;
	else
		return cli_usage_error(&f->c, fim_usage), -1;
	if (f->incremental && f->cmd == FIM_INIT)
		return cli_fail(&f->c, "--incremental is for check and update"), -1;
	if (!f->config)
		f->config = default_config();
	f->vmname = f->cd.image ? f->cd.image : f->c.qmp ? f->c.qmp : f->c.name;
	return default_paths(f) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ the disk */

static void close_disk(struct fim_cli *f, int *rc)
{
	kvmon_fs_close(f->cd.fs);
	kvmon_disk_close(f->cd.vd); /* LVM2 volume view */
	f->cd.vd = NULL;
	if (kvmon_disk_close(f->cd.d) < 0 && *rc != EXIT_ERROR)
		*rc = cli_lib_fail(&f->c, "closing the disk export");
	kvmon_vm_close(f->cd.vm);
	f->cd.fs = NULL;
	f->cd.d = NULL;
	f->cd.vm = NULL;
	cli_release_signals();
}

static int open_disk(struct fim_cli *f, const struct kvmon_disk_opts *o)
{
	cli_hold_signals();
	if (f->cd.image) {
		if (f->c.qmp)
			return cli_fail(&f->c, "--image reads a file: no --qmp"), -1;
		f->cd.d = kvmon_disk_open_image(f->cd.image, f->cd.format);
		if (!f->cd.d)
			return cli_lib_fail(&f->c, f->cd.image), -1;
	} else {
		if (!f->cd.vm) /* run() may have connected already */
			f->cd.vm = cli_open_vm(&f->c);
		if (!f->cd.vm)
			return -1;
		f->cd.d = o ? kvmon_disk_open_vm_opts(f->cd.vm, o)
			    : kvmon_disk_open_vm(f->cd.vm, NULL, NULL);
		if (!f->cd.d)
			return cli_lib_fail(&f->c, "disk export"), -1;
	}
	return cli_disk_open_fs(&f->c, &f->cd);
}

/* ------------------------------------------------------------ findings */

static void progress(void *opaque, uint64_t files, uint64_t bytes)
{
	(void)opaque;
	if (bytes)
		cli_progress("fim: %llu files hashed, %llu MiB",
			     (unsigned long long)files,
			     (unsigned long long)(bytes >> 20));
	else
		cli_progress("fim: %llu paths walked", (unsigned long long)files);
}

static const char *kind_name(int kind)
{
	return kind == KVMON_FIM_ADDED ? "added"
	       : kind == KVMON_FIM_REMOVED ? "removed" : "changed";
}

/* "mode 0644 -> 0600, sha256" for people. */
static void describe(struct json_object *attrs, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	json_object_object_foreach(attrs, name, val) {
		struct json_object *o, *n;
		const char *os = "", *ns = "";
		int w;

		if (json_object_object_get_ex(val, "old", &o) &&
		    json_object_object_get_ex(val, "new", &n)) {
			os = json_object_get_string(o);
			ns = json_object_get_string(n);
		}
		if (!strncmp(name, "sha", 3) || !strcmp(name, "xattrs"))
			w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
				     name);
		else
			w = snprintf(buf + used, size - used, "%s%s %s -> %s",
				     used ? ", " : "", name, os, ns);
		if (w < 0 || (size_t)w >= size - used)
			break;
		used += (size_t)w;
	}
}

static int on_finding(void *opaque, const char *path, int kind,
		      unsigned changed, const char *details)
{
	struct fim_cli *f = opaque;
	struct json_object *d = json_tokener_parse(details), *attrs = NULL;
	char what[1024] = "";

	(void)changed;
	if (kind == KVMON_FIM_ADDED)
		f->added++;
	else if (kind == KVMON_FIM_REMOVED)
		f->removed++;
	else
		f->changed++;
	if (d && json_object_object_get_ex(d, "attrs", &attrs))
		describe(attrs, what, sizeof(what));
	if (f->alerts) {
		struct kvmon_finding fd = { .detector = "fim",
					    .severity = KVMON_SEVERITY_WARNING,
					    .details = details };
		char msg[1400];

		snprintf(msg, sizeof(msg), "%s %s%s%s%s", kind_name(kind), path,
			 *what ? " (" : "", what, *what ? ")" : "");
		fd.message = msg;
		cli_emit(cli_alert(f->vmname, &fd));
	} else if (f->c.json) {
		json_object_array_add(f->list, d);
		d = NULL;
	} else if (*what) {
		printf("%-8s %s (%s)\n", kind_name(kind), path, what);
	} else {
		printf("%-8s %s\n", kind_name(kind), path);
	}
	json_object_put(d);
	return 0;
}

static int report(struct fim_cli *f, const struct kvmon_fim_db *base,
		  const struct kvmon_fim_db *now, const char *mode,
		  const struct kvmon_fim_incr_stats *st)
{
	unsigned long total;

	f->list = json_object_new_array();
	kvmon_fim_compare(base, now, on_finding, f);
	total = f->added + f->removed + f->changed;
	if (f->c.json && !f->alerts) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "db", json_object_new_string(f->db));
		json_object_object_add(o, "mode", json_object_new_string(mode));
		json_object_object_add(o, "paths",
				       json_object_new_uint64(kvmon_fim_db_count(now)));
		json_object_object_add(o, "added", json_object_new_uint64(f->added));
		json_object_object_add(o, "removed", json_object_new_uint64(f->removed));
		json_object_object_add(o, "changed", json_object_new_uint64(f->changed));
		if (!strcmp(mode, "incremental")) {
			struct json_object *i = json_object_new_object();

			json_object_object_add(i, "copied", json_object_new_uint64(st->copied));
			json_object_object_add(i, "examined", json_object_new_uint64(st->examined));
			json_object_object_add(i, "hashed", json_object_new_uint64(st->hashed));
			json_object_object_add(o, "incremental", i);
		}
		json_object_object_add(o, "findings", f->list);
		f->list = NULL;
		cli_emit(o);
	} else if (!f->alerts) {
		printf("%lu added, %lu removed, %lu changed (%zu paths, %s check",
		       f->added, f->removed, f->changed, kvmon_fim_db_count(now), mode);
		if (!strcmp(mode, "incremental"))
			printf("; %llu unchanged unread, %llu re-examined, %llu re-hashed",
			       (unsigned long long)st->copied,
			       (unsigned long long)st->examined,
			       (unsigned long long)st->hashed);
		printf(")\n");
	}
	json_object_put(f->list);
	f->list = NULL;
	return total ? EXIT_FINDINGS : EXIT_OK;
}

/* ------------------------------------------------------------ commands */

static int load_key(struct fim_cli *f, unsigned char key[KVMON_FIM_KEY_LEN])
{
	if (kvmon_fim_key_load(f->key, f->cmd == FIM_INIT, key) < 0)
		return cli_lib_fail(&f->c, "key"), -1;
	return 0;
}

static struct kvmon_fim_db *scan(struct fim_cli *f,
				 const struct kvmon_fim_config *cfg)
{
	struct kvmon_fim_scan_opts so = { .jobs = f->jobs, .progress = progress };
	struct kvmon_fim_db *db = kvmon_fim_scan(f->cd.fs, cfg, &so);

	cli_progress_done();
	if (!db)
		cli_lib_fail(&f->c, "scan");
	return db;
}

/* --------------------------------------------- baseline marker (VM only) */

/* The dirty bitmap that marks a baseline's snapshot: kvmon-fim-ID-gN. */
struct marker {
	char id[17];
	unsigned gen;
	char name[64];
	char map[PATH_MAX];
};

static bool marker_parse(const char *bitmap, struct marker *m)
{
	unsigned gen;
	char id[17];
	int end = 0;

	if (!bitmap || sscanf(bitmap, "kvmon-fim-%16[0-9a-f]-g%u%n", id, &gen, &end) != 2 ||
	    bitmap[end] || gen == 0 || gen > 1000000000u)
		return false;
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->gen = gen;
	snprintf(m->name, sizeof(m->name), "kvmon-fim-%s-g%u", id, gen);
	return true;
}

static int marker_next(const struct kvmon_fim_db *base, struct marker *m)
{
	unsigned char r[8];
	char id[17];

	if (base && marker_parse(kvmon_fim_db_get_meta(base, "bitmap"), m)) {
		m->gen++;
	} else {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return -1;
		for (int i = 0; i < 8; i++)
			snprintf(id + 2 * i, 3, "%02x", r[i]);
		snprintf(m->id, sizeof(m->id), "%s", id);
		m->gen = 1;
	}
	snprintf(m->name, sizeof(m->name), "kvmon-fim-%s-g%u", m->id, m->gen);
	return 0;
}

static void note(struct fim_cli *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct fim_cli *f, const char *fmt, ...)
{
	va_list ap;

	(void)f;
	cli_progress_done();
	fputs("kvmon fim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int file_sha256(const char *path, char hex[65])
{
	unsigned char md[32], buf[65536];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd >= 0 && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			EVP_DigestUpdate(ctx, buf, (size_t)r);
		if (r == 0 && EVP_DigestFinal_ex(ctx, md, &n) == 1) {
			for (int i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", md[i]);
			rc = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The block map a baseline names (path, SHA-256 want), read and
 * checked (on the baseline thread, so nothing is printed here). */
struct map_pre {
	bool tried, sha_ok;
	struct kvmon_fsmap *map;
	char err[512];
};

static void map_read(const char *path, const char *want, struct map_pre *mp)
{
	char got[65];

	mp->tried = true;
	if (!path || !want || file_sha256(path, got) < 0 || strcmp(got, want))
		return;
	mp->sha_ok = true;
	mp->map = kvmon_fsmap_load(path);
	if (!mp->map)
		snprintf(mp->err, sizeof(mp->err), "%s", kvmon_get_error());
}

/* Can base's marker make this check incremental (the map still to be
 * read)? Says why not. */
static bool map_usable(struct fim_cli *f, const struct kvmon_fim_db *base,
		       struct kvmon_fim_config *cfg)
{
	const char *conf = kvmon_fim_db_get_meta(base, "config");

	if (!kvmon_fim_db_get_meta(base, "map") ||
	    !kvmon_fim_db_get_meta(base, "map_sha256") ||
	    !kvmon_fim_db_get_meta(base, "bitmap")) {
		note(f, "the baseline has no dirty-bitmap marker: full check");
		return false;
	}
	if (!conf || strcmp(conf, kvmon_fim_config_id(cfg))) {
		note(f, "the rules changed since the baseline: full check");
		return false;
	}
	return true;
}

/* The block map of base, if it is still the one the database names
 * (pre: as read on the baseline thread, else read now); says why not. */
static struct kvmon_fsmap *map_take(struct fim_cli *f,
				    const struct kvmon_fim_db *base,
				    struct map_pre *pre)
{
	const char *path = kvmon_fim_db_get_meta(base, "map");
	struct kvmon_fsmap *m;

	if (!pre->tried)
		map_read(path, kvmon_fim_db_get_meta(base, "map_sha256"), pre);
	m = pre->map;
	pre->map = NULL;
	if (!pre->sha_ok)
		note(f, "block map %s missing or not the baseline's: full check",
		     path);
	else if (!m)
		note(f, "block map %s: %s: full check", path, pre->err);
	return m;
}

/* Record the block map for marker m next to the database. */
static bool save_map(struct fim_cli *f, struct marker *m, struct kvmon_fim_db *now)
{
	struct kvmon_fsmap *map = kvmon_fsmap_build(f->cd.fs);
	char sha[65], why[512];
	bool ok = false;

	if (!map)
		snprintf(why, sizeof(why), "%s", kvmon_get_error());
	else if (strcmp(kvmon_fsmap_bitmap(map), m->name)) /* recorded by build */
		snprintf(why, sizeof(why), "block map marked '%s', not '%s'",
			 kvmon_fsmap_bitmap(map), m->name);
	else if (snprintf(m->map, sizeof(m->map), "%s.g%u.map", f->db, m->gen) >=
		 (int)sizeof(m->map))
		snprintf(why, sizeof(why), "map path too long");
	else if (kvmon_fsmap_save(map, m->map) < 0 || file_sha256(m->map, sha) < 0 ||
		 kvmon_fim_db_set_meta(now, "bitmap", m->name) < 0 ||
		 kvmon_fim_db_set_meta(now, "map", m->map) < 0 ||
		 kvmon_fim_db_set_meta(now, "map_sha256", sha) < 0)
		snprintf(why, sizeof(why), "%s", kvmon_get_error());
	else
		ok = true;
	if (!ok)
		note(f, "no block map (%s): later checks will be full", why);
	kvmon_fsmap_free(map);
	return ok;
}

/* ------------------------------------------------------------ run */

struct plan {
	struct marker track, since;
	bool tracking, incremental;
	struct kvmon_fsmap *map;
	struct kvmon_fim_incr_stats st;
};

/* Incremental if base names a marker and its map may be used (the map
 * itself is taken after the snapshot opens: map_wait). */
static void plan_marker(struct fim_cli *f, struct plan *p,
			const struct kvmon_fim_db *base,
			struct kvmon_fim_config *cfg)
{
	bool vm = !f->cd.image;

	if (f->incremental && !vm)
		note(f, "an image at rest has no dirty bitmap: full check");
	if (f->incremental && vm &&
	    marker_parse(kvmon_fim_db_get_meta(base, "bitmap"), &p->since))
		p->incremental = map_usable(f, base, cfg);
	else if (f->incremental && vm)
		map_usable(f, base, cfg); /* says why not */
	if (vm && f->cmd != FIM_CHECK && marker_next(base, &p->track) == 0)
		p->tracking = true;
}

static int open_planned(struct fim_cli *f, struct plan *p)
{
	struct kvmon_disk_opts o = { 0 };

	if (f->cd.image || (!p->tracking && !p->incremental))
		return open_disk(f, NULL);
	o.track = p->tracking ? p->track.name : NULL;
	o.since = p->incremental ? p->since.name : NULL;
	o.granularity = f->granularity;
	if (open_disk(f, &o) == 0)
		return 0;
	if (kvmon_get_errno() == EEXIST && p->tracking && f->cd.vm) {
		/* left by an update that crashed before writing its database:
		 * nothing refers to it */
		note(f, "removing marker %s left by an interrupted update",
		     p->track.name);
		if (kvmon_disk_bitmap_remove(f->cd.vm, NULL, p->track.name) == 0) {
			close_disk(f, &(int){ 0 });
			if (open_disk(f, &o) == 0)
				return 0;
		}
	}
	if (kvmon_get_errno() != ENOENT && kvmon_get_errno() != ENOSYS &&
	    kvmon_get_errno() != EEXIST && kvmon_get_errno() != ENOTSUP)
		return -1;
	note(f, "%s: %s", p->incremental ? "full check" : "no baseline marker",
	     kvmon_get_error());
	close_disk(f, &(int){ 0 });
	p->incremental = false;
	p->tracking = false;
	return open_disk(f, NULL);
}

static struct kvmon_fim_db *scan_planned(struct fim_cli *f, struct plan *p,
					 const struct kvmon_fim_db *base,
					 const struct kvmon_fim_config *cfg)
{
	struct kvmon_fim_scan_opts so = { .jobs = f->jobs, .progress = progress };
	struct kvmon_fim_db *db;

	if (p->incremental) {
		db = kvmon_fim_scan_changes(f->cd.fs, f->cd.d, p->map, cfg, base, &so,
					    &p->st);
		cli_progress_done();
		if (db)
			return db;
		note(f, "%s: full check", kvmon_get_error());
		p->incremental = false;
	}
	return scan(f, cfg);
}

static void emit_init(struct fim_cli *f, const struct kvmon_fim_db *now,
		      const struct plan *p)
{
	if (f->c.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "db", json_object_new_string(f->db));
		json_object_object_add(o, "paths",
				       json_object_new_uint64(kvmon_fim_db_count(now)));
		json_object_object_add(o, "marker", p->tracking
				       ? json_object_new_string(p->track.name) : NULL);
		cli_emit(o);
	} else if (!f->alerts) {
		printf("baseline: %zu paths in %s\n", kvmon_fim_db_count(now), f->db);
	}
}

/* After the new baseline is safely written: drop the old marker. */
static void retire(struct fim_cli *f, const struct kvmon_fim_db *base,
		   const struct plan *p)
{
	struct marker old;
	const char *map = kvmon_fim_db_get_meta(base, "map");
	struct kvmon_vm *vm;

	if (!base || !marker_parse(kvmon_fim_db_get_meta(base, "bitmap"), &old) ||
	    (p->tracking && !strcmp(old.name, p->track.name)) || f->cd.image)
		return;
	vm = cli_open_vm(&f->c);
	if (vm && kvmon_disk_bitmap_remove(vm, NULL, old.name) < 0 &&
	    kvmon_get_errno() != ENOENT)
		note(f, "old marker %s stays: %s", old.name, kvmon_get_error());
	kvmon_vm_close(vm);
	if (map && (!p->tracking || strcmp(map, p->track.map)))
		unlink(map);
}

/* Ask the kernel to start reading a file we are about to read, so that
 * with a cold page cache its I/O overlaps with the work before. */
static void prefetch(const char *path)
{
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0)
		return;
	posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	close(fd);
}

/* check/update: the baseline (key, database with its MAC checked and
 * its metadata read, then its entries parsed, then for an incremental
 * check the block map it names) loads on a thread started before the
 * NBD library loads; the snapshot is set up once the MAC is checked. A
 * thread created while that library loads waits for the dynamic
 * loader's lock until it is done (~40 ms with a cold page cache), so
 * the database used to be parsed beside the snapshot set-up and the
 * walk, on 2 cores with QEMU; now the entries and the map are ready
 * about when the snapshot is. A failure to load is repeated on the main
 * thread for its message. */
struct base_job {
	struct fim_cli *f;
	unsigned char key[KVMON_FIM_KEY_LEN];
	bool key_ok;
	struct kvmon_fim_db *base;
	/* after db_done the thread touches only these (metadata values are
	 * at most 1024 bytes) */
	char map_path[1100], map_sha[1100];
	struct map_pre map;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool db_done;
	pthread_t th;
	bool started;
	int64_t db_at, parsed_at, map_at; /* KVMON_FIM_TIMING: when ready */
};

static void *base_thread(void *arg)
{
	struct base_job *j = arg;
	const struct kvmon_fim_db *b;
	bool want_map = false;
	struct marker m;

	prefetch(j->f->db);
	j->key_ok = kvmon_fim_key_load(j->f->key, false, j->key) == 0;
	if (j->key_ok) /* MAC and metadata; the entries below */
		j->base = kvmon_fim_db_load_deferred(j->f->db, j->key,
						     sizeof(j->key));
	b = j->base;
	/* verified metadata only: the MAC was checked by the load */
	if (b && j->f->incremental && !j->f->cd.image &&
	    marker_parse(kvmon_fim_db_get_meta(b, "bitmap"), &m) &&
	    kvmon_fim_db_get_meta(b, "map") && kvmon_fim_db_get_meta(b, "map_sha256")) {
		snprintf(j->map_path, sizeof(j->map_path), "%s",
			 kvmon_fim_db_get_meta(b, "map"));
		snprintf(j->map_sha, sizeof(j->map_sha), "%s",
			 kvmon_fim_db_get_meta(b, "map_sha256"));
		want_map = true;
		prefetch(j->map_path); /* read while the entries parse */
	}
	j->db_at = timing_t0 ? mono_us() : 0;
	pthread_mutex_lock(&j->lock);
	j->db_done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	/* the snapshot can be set up now; the entries are parsed here
	 * meanwhile (the main thread's kvmon_fim_db_wait waits for it, and
	 * frees base only after joining this thread) */
	if (b)
		kvmon_fim_db_wait(b);
	j->parsed_at = timing_t0 ? mono_us() : 0;
	if (want_map)
		map_read(j->map_path, j->map_sha, &j->map);
	j->map_at = timing_t0 ? mono_us() : 0;
	return NULL;
}

static void base_start(struct fim_cli *f, struct base_job *j)
{
	*j = (struct base_job){ .f = f };
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	if (f->cmd != FIM_INIT)
		j->started = pthread_create(&j->th, NULL, base_thread, j) == 0;
}

/* The block map stage done (the thread ended). */
static void base_end(struct base_job *j)
{
	if (j->started)
		pthread_join(j->th, NULL);
	j->started = false;
}

/* Key and baseline into key/base, from the thread if it ran. */
static int base_join(struct fim_cli *f, struct base_job *j,
		     unsigned char key[KVMON_FIM_KEY_LEN],
		     struct kvmon_fim_db **base)
{
	if (j->started) {
		pthread_mutex_lock(&j->lock);
		while (!j->db_done)
			pthread_cond_wait(&j->cond, &j->lock);
		pthread_mutex_unlock(&j->lock);
		memcpy(key, j->key, KVMON_FIM_KEY_LEN);
		OPENSSL_cleanse(j->key, sizeof(j->key));
		*base = j->base;
		j->base = NULL;
		if (j->key_ok && *base)
			return 0;
	}
	if (load_key(f, key) < 0)
		return -1;
	if (!*base && (f->cmd != FIM_INIT || f->force)) {
		*base = kvmon_fim_db_load(f->db, key, KVMON_FIM_KEY_LEN);
		if (!*base && f->cmd != FIM_INIT)
			return cli_lib_fail(&f->c, "baseline database"), -1;
	}
	return 0;
}

/* After the snapshot opened: the map (or a full check, said). */
static void map_wait(struct fim_cli *f, struct plan *p,
		     const struct kvmon_fim_db *base, struct base_job *j)
{
	if (!p->incremental)
		return;
	base_end(j);
	p->map = map_take(f, base, &j->map);
	p->incremental = p->map != NULL;
}

static int run(struct fim_cli *f, struct base_job *bj)
{
	unsigned char key[KVMON_FIM_KEY_LEN];
	struct kvmon_fim_config *cfg = NULL;
	struct kvmon_fim_db *base = NULL, *now = NULL;
	struct plan p = { 0 };
	bool mapped = false;
	int rc = EXIT_ERROR;

	if (f->cmd == FIM_INIT && !f->force && access(f->db, F_OK) == 0)
		return cli_fail(&f->c, "%s exists (--force replaces it)", f->db);
	cfg = kvmon_fim_config_load(f->config);
	if (!cfg)
		return cli_lib_fail(&f->c, "configuration");
	timing("rules");
	/* the QMP connection now, while the baseline thread works: it
	 * creates nothing in QEMU (the snapshot waits for the verified
	 * database), and with a cold page cache QEMU's own first replies
	 * are slow */
	if (f->cmd != FIM_INIT && !f->cd.image &&
	    !(f->cd.vm = cli_open_vm(&f->c)))
		goto out;
	timing("QMP connection");
	if (base_join(f, bj, key, &base) < 0)
		goto out;
	timing("key + database");
	plan_marker(f, &p, base, cfg);
	timing("plan");
	if (open_planned(f, &p) < 0)
		goto close;
	timing("snapshot + fs open");
	map_wait(f, &p, base, bj);
	timing("block map");
	if (kvmon_fim_db_wait(base) < 0) { /* a malformed entry */
		cli_lib_fail(&f->c, "baseline database");
		goto close;
	}
	timing("database entries");
	if (timing_t0 && bj->db_at)
		fprintf(stderr, "fim timing:   baseline thread: database MAC at %.1f "
			"ms, entries at %.1f ms, block map at %.1f ms\n",
			(double)(bj->db_at - timing_t0) / 1000,
			(double)(bj->parsed_at - timing_t0) / 1000,
			(double)(bj->map_at - timing_t0) / 1000);
	now = scan_planned(f, &p, base, cfg);
	if (!now)
		goto close;
	if (p.incremental && timing_t0)
		fprintf(stderr, "fim timing:   changed-path walk %.1f ms, re-hash "
			"%.1f ms\n", (double)p.st.walk_us / 1000,
			(double)p.st.hash_us / 1000);
	timing("scan");
	if (p.tracking)
		mapped = save_map(f, &p.track, now);
	rc = EXIT_OK;
	close_disk(f, &rc);
	timing("tear-down");
	if (rc != EXIT_OK)
		goto out;
	if (f->cmd != FIM_INIT)
		rc = report(f, base, now, p.incremental ? "incremental" : "full", &p.st);
	timing("report");
	if (f->cmd != FIM_CHECK) {
		if (kvmon_fim_db_set_meta(now, "config", kvmon_fim_config_id(cfg)) < 0 ||
		    kvmon_fim_db_save(now, f->db, key, sizeof(key)) < 0) {
			rc = cli_lib_fail(&f->c, f->db);
			goto out;
		}
		if (f->cmd == FIM_INIT)
			emit_init(f, now, &p);
		retire(f, base, &p);
	}
	(void)mapped;
	goto out;
close:
	close_disk(f, &rc);
	rc = EXIT_ERROR;
out:
	base_end(bj); /* it may still be parsing base's entries */
	kvmon_vm_close(f->cd.vm); /* connected early, no disk opened */
	f->cd.vm = NULL;
	OPENSSL_cleanse(key, sizeof(key));
	kvmon_fsmap_free(p.map);
	kvmon_fim_db_free(base);
	kvmon_fim_db_free(now);
	kvmon_fim_config_free(cfg);
	return rc;
}

/* What lib/disk/nbd_dl.c loads on first use. */
#define NBD_LIBRARY "libnbd.so.0"

/* The NBD client library loads on a thread while the rules and the
 * database do, its pages asked for ahead first (dlprefetch.c). */
static void *nbd_load_thread(void *arg)
{
	(void)arg;
	cli_dl_prefetch(NBD_LIBRARY);
	kvmon_disk_preload();
	return NULL;
}

static void nbd_load_start(void)
{
	pthread_attr_t a;
	pthread_t t;

	if (pthread_attr_init(&a) == 0) {
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, nbd_load_thread, NULL) == 0) {
			pthread_attr_destroy(&a);
			return;
		}
		pthread_attr_destroy(&a);
	}
	kvmon_disk_preload();
}

int cmd_fim(int argc, char **argv)
{
	struct fim_cli f = { 0 };
	struct base_job bj;
	int rc;

	if (getenv("KVMON_FIM_TIMING"))
		timing_t0 = timing_last = mono_us();
	cli_init(&f.c, "kvmon fim");
	rc = parse_args(&f, argc, argv);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	/* the baseline thread first: once the NBD client starts loading,
	 * creating a thread waits for it (base_job) */
	base_start(&f, &bj);
	nbd_load_start();
	rc = run(&f, &bj);
	base_end(&bj); /* if run() did not wait for all of it */
	kvmon_fim_db_free(bj.base);
	OPENSSL_cleanse(bj.key, sizeof(bj.key));
	kvmon_fsmap_free(bj.map.map);
	pthread_mutex_destroy(&bj.lock);
	pthread_cond_destroy(&bj.cond);
	timing("freed");
	return rc;
}
