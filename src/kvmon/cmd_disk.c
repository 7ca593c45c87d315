// SPDX-License-Identifier: GPL-2.0-or-later
/* kvmon disk: read a VM's disk from outside (partitions, ls, stat, cat). */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { OPT_DISK_BITMAP = 0x390 };

static const char disk_usage[] =
	"Usage: kvmon disk parts|ls|stat|cat [OPTIONS] [PATH]\n"
	"       kvmon disk baseline|changes|drop-baseline [OPTIONS] FILE\n"
	"Read the VM's disk from the host, read-only: a point-in-time view\n"
	"of a running VM (image fleecing over QMP, NBD), or an image at rest.\n"
	"  parts            partition table (MBR, GPT) and LVM2 volumes\n"
	"  ls PATH          directory listing (or one file) in the guest fs\n"
	"  stat PATH        inode attributes of PATH\n"
	"  cat PATH         file contents to stdout\n"
	"  baseline FILE    start a baseline: a persistent dirty bitmap on the\n"
	"                   VM's disk plus a block map of the file system, saved\n"
	"                   in FILE (with the bitmap's name and disk node)\n"
	"  changes FILE     paths ADDED, CHANGED or REMOVED since the baseline\n"
	"                   (from the dirty blocks; exit 1 if any)\n"
	"  drop-baseline FILE  remove the baseline's bitmap from the VM\n"
	"  --bitmap NAME    baseline: bitmap name (default kvmon-base-TIME-PID)\n"
	DISK_HELP
	COMMON_HELP
	"Exit: 0 ok, 1 PATH not found (changes: something changed), 2 error.\n";

int cli_disk_opt(struct cli_disk *cd, struct cli *c, int opt, const char *arg)
{
	char *end;
	unsigned long v;

	switch (opt) {
	case OPT_IMAGE:
		cd->image = arg;
		return 1;
	case OPT_FORMAT:
		if (strcmp(arg, "qcow2") && strcmp(arg, "raw")) {
			cli_fail(c, "--format takes qcow2 or raw, not '%s'", arg);
			return -1;
		}
		cd->format = arg;
		return 1;
	case OPT_SECTOR_SIZE:
		if (strcmp(arg, "512") && strcmp(arg, "4096")) {
			cli_fail(c, "--sector-size takes 512 or 4096, not '%s'",
				 arg);
			return -1;
		}
		cd->sector_size = (unsigned)atoi(arg);
		return 1;
	case OPT_PARTITION:
		if (strchr(arg, '/')) {
			cd->volume = arg;
			return 1;
		}
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || v < 1 || v > KVMON_MAX_PARTITIONS) {
			cli_fail(c, "--partition takes 1..%d, not '%s'",
				 KVMON_MAX_PARTITIONS, arg);
			return -1;
		}
		cd->partition = (unsigned)v;
		return 1;
	default:
		return 0;
	}
}

/* Interrupting a command must not leave an export in QEMU: INT/TERM/HUP
 * wait until the disk is closed; a closed pipe is an error, not a kill. */
static sigset_t saved_mask;

void cli_hold_signals(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	sigprocmask(SIG_BLOCK, &s, &saved_mask);
	signal(SIGPIPE, SIG_IGN);
}

void cli_release_signals(void)
{
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

int cli_open_disk(struct cli *c, struct cli_disk *cd, bool fs, bool hold)
{
	cd->vm = NULL;
	cd->d = NULL;
	cd->fs = NULL;
	cd->vd = NULL;
	if (hold)
		cli_hold_signals();
	if (cd->image && (cd->track || cd->since)) {
		cli_fail(c, "baselines need a running VM's dirty bitmap: no --image");
		return -1;
	}
	if (cd->image) {
		if (c->qmp) {
			cli_fail(c, "--image reads a file: no --qmp");
			return -1;
		}
		cd->d = kvmon_disk_open_image(cd->image, cd->format);
		if (!cd->d) {
			cli_lib_fail(c, cd->image);
			return -1;
		}
	} else {
		struct kvmon_disk_opts o = { .node = cd->node, .track = cd->track,
					     .since = cd->since };

		cd->vm = cli_open_vm(c);
		if (!cd->vm)
			return -1;
		cd->d = kvmon_disk_open_vm_opts(cd->vm, &o);
		if (!cd->d) {
			cli_lib_fail(c, "disk export");
			cli_close_disk(c, cd);
			return -1;
		}
	}
	if (!fs) {
		if (cd->sector_size)
			kvmon_disk_set_sector_size(cd->d, cd->sector_size);
		return 0;
	}
	if (cli_disk_open_fs(c, cd) < 0) {
		cli_close_disk(c, cd);
		return -1;
	}
	return 0;
}

int cli_disk_open_fs(struct cli *c, struct cli_disk *cd)
{
	if (cd->sector_size)
		kvmon_disk_set_sector_size(cd->d, cd->sector_size);
	if (cd->volume) {
		cd->vd = kvmon_disk_open_volume(cd->d, cd->volume);
		cd->fs = cd->vd ? kvmon_fs_open(cd->vd, 0, 0) : NULL;
		if (!cd->fs)
			return cli_lib_fail(c, cd->volume), -1;
		return 0;
	}
	cd->fs = kvmon_fs_open_part(cd->d, cd->partition);
	if (!cd->fs)
		return cli_lib_fail(c, "file system"), -1;
	return 0;
}

int cli_close_disk(struct cli *c, struct cli_disk *cd)
{
	int rc = 0;

	kvmon_fs_close(cd->fs);
	kvmon_disk_close(cd->vd);
	cd->vd = NULL;
	if (kvmon_disk_close(cd->d) < 0)
		rc = cli_lib_fail(c, "closing the disk export");
	kvmon_vm_close(cd->vm);
	cd->fs = NULL;
	cd->d = NULL;
	cd->vm = NULL;
	cli_release_signals();
	return rc;
}

static struct json_object *stat_json(const char *name,
				     const struct kvmon_fs_stat *st)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "type", json_object_new_string(kvmon_fs_type_name(st->mode)));
	json_object_object_add(o, "mode", json_object_new_int((int)(st->mode & 07777)));
	json_object_object_add(o, "ino", json_object_new_uint64(st->ino));
	json_object_object_add(o, "uid", json_object_new_int64(st->uid));
	json_object_object_add(o, "gid", json_object_new_int64(st->gid));
	json_object_object_add(o, "nlink", json_object_new_int64(st->nlink));
	json_object_object_add(o, "size", json_object_new_uint64(st->size));
	json_object_object_add(o, "mtime", json_object_new_int64(st->mtime));
	json_object_object_add(o, "ctime", json_object_new_int64(st->ctime));
	return o;
}

static void print_stat(const char *name, const struct kvmon_fs_stat *st)
{
	char when[32] = "?";
	time_t t = (time_t)st->mtime;
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%-8s %04o %5u %5u %10llu %s %s\n", kvmon_fs_type_name(st->mode),
	       st->mode & 07777, st->uid, st->gid,
	       (unsigned long long)st->size, when, name);
}

struct ls_ctx {
	struct kvmon_fs *fs;
	struct json_object *arr;
	bool json;
	int rc;
};

static int ls_entry(void *opaque, const char *name, uint64_t ino, unsigned type)
{
	struct ls_ctx *l = opaque;
	struct kvmon_fs_stat st;

	(void)type;
	if (kvmon_fs_stat(l->fs, ino, &st) < 0) {
		fprintf(stderr, "kvmon disk ls: %s: %s\n", name, kvmon_get_error());
		l->rc = EXIT_ERROR;
		return 0;
	}
	if (l->json)
		json_object_array_add(l->arr, stat_json(name, &st));
	else
		print_stat(name, &st);
	return 0;
}

static int do_parts(struct cli *c, struct cli_disk *cd)
{
	static struct kvmon_partition p[2 * KVMON_MAX_PARTITIONS];
	struct json_object *arr;
	size_t n = 0;

	if (kvmon_disk_volumes(cd->d, p, 2 * KVMON_MAX_PARTITIONS, &n) < 0)
		return cli_lib_fail(c, "partition table");
	if (c->json) {
		struct json_object *o = json_object_new_object();

		arr = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "index", json_object_new_int((int)p[i].index));
			json_object_object_add(e, "scheme", json_object_new_string(p[i].scheme));
			json_object_object_add(e, "start", json_object_new_uint64(p[i].start));
			json_object_object_add(e, "size", json_object_new_uint64(p[i].size));
			json_object_object_add(e, "type", json_object_new_string(p[i].type));
			json_object_object_add(e, "name", json_object_new_string(p[i].name));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "size", json_object_new_uint64(kvmon_disk_size(cd->d)));
		json_object_object_add(o, "sector_size", json_object_new_int((int)kvmon_disk_sector_size(cd->d)));
		json_object_object_add(o, "partitions", arr);
		cli_emit(o);
		return EXIT_OK;
	}
	printf("disk size %llu bytes, %zu partition(s)\n",
	       (unsigned long long)kvmon_disk_size(cd->d), n);
	for (size_t i = 0; i < n; i++)
		printf("%3u %-4s start %12llu size %12llu type %s %s\n",
		       p[i].index, p[i].scheme, (unsigned long long)p[i].start,
		       (unsigned long long)p[i].size, p[i].type, p[i].name);
	return EXIT_OK;
}

static int do_cat(struct cli *c, struct cli_disk *cd, uint64_t ino)
{
	size_t bufsz = 1u << 20;
	char *buf = malloc(bufsz);
	uint64_t off = 0;
	int rc = EXIT_OK;

	if (!buf)
		return cli_fail(c, "out of memory");
	for (;;) {
		ssize_t n = kvmon_fs_pread(cd->fs, ino, buf, bufsz, off);

		if (n < 0) {
			rc = cli_lib_fail(c, "read");
			break;
		}
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			rc = cli_fail(c, "write to stdout: %s", strerror(errno));
			break;
		}
		off += (uint64_t)n;
	}
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = cli_fail(c, "write to stdout: %s", strerror(errno));
	free(buf);
	return rc;
}

int cmd_disk(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		DISK_LONG_OPTS,
		{ "bitmap", required_argument, NULL, OPT_DISK_BITMAP },
		{ 0 }
	};
	struct cli_disk cd = { 0 };
	const char *sub, *path = NULL, *bitmap = NULL;
	struct kvmon_fs_stat st;
	uint64_t ino;
	struct cli c;
	int opt, rc;

	cli_init(&c, "kvmon disk");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0 ||
		    (!rc && (rc = cli_disk_opt(&cd, &c, opt, optarg)) < 0))
			return EXIT_ERROR;
		if (rc)
			continue;
		if (opt == OPT_HELP) {
			fputs(disk_usage, stdout);
			return EXIT_OK;
		}
		if (opt == OPT_DISK_BITMAP) {
			bitmap = optarg;
			continue;
		}
		return cli_usage_error(&c, disk_usage);
	}
	if (optind >= argc)
		return cli_usage_error(&c, disk_usage);
	sub = argv[optind++];
	if (!strcmp(sub, "parts")) {
		if (optind != argc)
			return cli_usage_error(&c, disk_usage);
	} else if (!strcmp(sub, "baseline") || !strcmp(sub, "changes") ||
		   !strcmp(sub, "drop-baseline")) {
		if (optind + 1 != argc)
			return cli_usage_error(&c, disk_usage);
		return cli_disk_baseline(&c, &cd, sub, argv[optind], bitmap);
	} else if (!strcmp(sub, "ls") || !strcmp(sub, "stat") ||
		   !strcmp(sub, "cat")) {
		if (optind + 1 != argc)
			return cli_usage_error(&c, disk_usage);
		path = argv[optind];
	} else {
		return cli_usage_error(&c, disk_usage);
	}
	if (cli_open_disk(&c, &cd, path != NULL, true) < 0)
		return EXIT_ERROR;
	if (!path) {
		rc = do_parts(&c, &cd);
		goto out;
	}
	if (kvmon_fs_lookup(cd.fs, path, &ino) < 0 ||
	    kvmon_fs_stat(cd.fs, ino, &st) < 0) {
		if (kvmon_get_errno() == ENOENT) {
			fprintf(stderr, "kvmon disk: %s: not found\n", path);
			if (c.json) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "error", json_object_new_string("not found"));
				json_object_object_add(o, "errno", json_object_new_int(ENOENT));
				cli_emit(o);
			}
			rc = EXIT_FINDINGS;
		} else {
			rc = cli_lib_fail(&c, path);
		}
		goto out;
	}
	if (!strcmp(sub, "cat")) {
		rc = S_ISREG(st.mode) ? do_cat(&c, &cd, ino)
				      : cli_fail(&c, "%s is not a regular file", path);
	} else if (!strcmp(sub, "stat") || !S_ISDIR(st.mode)) {
		rc = EXIT_OK;
		if (c.json)
			cli_emit(stat_json(path, &st));
		else
			print_stat(path, &st);
	} else {
		struct ls_ctx l = { .fs = cd.fs, .json = c.json };

		if (c.json)
			l.arr = json_object_new_array();
		rc = kvmon_fs_readdir(cd.fs, ino, ls_entry, &l) < 0
			     ? cli_lib_fail(&c, path) : l.rc;
		if (c.json && rc == EXIT_OK) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "path", json_object_new_string(path));
			json_object_object_add(o, "entries", l.arr);
			cli_emit(o);
		} else {
			json_object_put(l.arr);
		}
	}
out:
	if (cli_close_disk(&c, &cd) != EXIT_OK && rc == EXIT_OK)
		rc = EXIT_ERROR;
	return rc;
}
