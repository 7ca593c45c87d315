/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cages: a VM's QEMU and its offloaded IDS as one cgroup resource unit.
 *
 * The host may have cgroup v1 (one hierarchy per controller), v2 (one
 * unified hierarchy) or both (hybrid: v1 controllers plus a cgroup2 mount
 * that may hold none). We resolve three resources -- cpu (weight and cap),
 * cpuacct (CPU time) and memory -- each to the hierarchy that really has
 * the controller, and create the cage "kvmon-NAME" beneath this process's
 * own cgroup there, so we never touch cgroups systemd or libvirt own.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "cage/cage_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CG_FILE_MAX (64u << 10)     /* memory.stat, cpu.stat, ... */
#define CG_PROCS_MAX (1u << 20)     /* cgroup.procs */
#define CG_MAX_PIDS 65536

enum { RES_CPU, RES_CPUACCT, RES_MEMORY, RES_N };
static const char *const res_names[RES_N] = { "cpu", "cpuacct", "memory" };

struct cg_hier {
	char mnt[PATH_MAX];  /* mount point */
	char root[PATH_MAX]; /* mount root inside the hierarchy */
	char self[PATH_MAX]; /* our cgroup path in this hierarchy */
	bool v2;
	bool has[RES_N];     /* v1: controllers on this mount */
	int id;              /* v1 hierarchy id from /proc/self/cgroup */
};

struct kvmon_cgsys {
	int mode;
	bool fake; /* test tree: populate/clean cage files ourselves */
	size_t nh;
	struct cg_hier h[16];
	int res_h[RES_N];         /* hierarchy index per resource, -1 none */
	int v2_h;                 /* the cgroup2 hierarchy, -1 none */
	char dir[RES_N][PATH_MAX];/* parent directory per resource */
	char v2_dir[PATH_MAX];
	char parent[PATH_MAX];    /* override of self, "" = none */
};

struct kvmon_cage {
	struct kvmon_cgsys *sys;
	char name[256];
	bool foreign;         /* an existing cgroup kvmon did not create */
	size_t nd;
	char d[4][PATH_MAX];  /* distinct cage directories */
	bool d_v2[4];
	int res_d[RES_N];     /* index into d per resource, -1 none */
};

void kvmon_cgsys_fake(struct kvmon_cgsys *sys)
{
	sys->fake = true;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int res_index(const char *name)
{
	for (int i = 0; i < RES_N; i++)
		if (!strcmp(name, res_names[i]))
			return i;
	return -1;
}

static int parse_mountinfo(struct kvmon_cgsys *sys, char *text)
{
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[12] = { 0 }, *sv = NULL, *sep, *fstype, *super;
		int n = 0;
		struct cg_hier *h;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		fstype = strtok_r(sep + 3, " ", &sv);
		strtok_r(NULL, " ", &sv); /* source */
		super = strtok_r(NULL, " ", &sv);
		if (!fstype || !super ||
		    (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2")))
			continue;
		for (char *p = strtok_r(line, " ", &sv); p && n < 12;
		     p = strtok_r(NULL, " ", &sv))
			f[n++] = p;
		if (n < 5 || sys->nh >= ARRAY_SIZE(sys->h))
			continue;
		h = &sys->h[sys->nh];
		memset(h, 0, sizeof(*h));
		unescape(f[3]);
		unescape(f[4]);
		if (kvmon_strlcpy(h->root, f[3], sizeof(h->root)) < 0 ||
		    kvmon_strlcpy(h->mnt, f[4], sizeof(h->mnt)) < 0)
			continue;
		h->v2 = !strcmp(fstype, "cgroup2");
		h->id = -1;
		if (!h->v2) {
			bool any = false;

			for (char *s2 = NULL, *o = strtok_r(super, ",", &s2); o;
			     o = strtok_r(NULL, ",", &s2)) {
				int r = res_index(o);

				if (r >= 0)
					h->has[r] = any = true;
			}
			if (!any) /* name=systemd, freezer, ...: not ours */
				continue;
		}
		sys->nh++;
	}
	return 0;
}

/* /proc/PID/cgroup: "id:controllers:path"; id 0 with empty list is v2. */
static int parse_self(struct kvmon_cgsys *sys, char *text)
{
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		for (size_t i = 0; i < sys->nh; i++) {
			struct cg_hier *h = &sys->h[i];
			bool match = false;

			if (h->v2) {
				match = !strcmp(line, "0") && c1[1] == '\0';
			} else {
				char ctl[256], *sv = NULL;

				if (kvmon_strlcpy(ctl, c1 + 1, sizeof(ctl)) < 0)
					continue;
				for (char *o = strtok_r(ctl, ",", &sv); o;
				     o = strtok_r(NULL, ",", &sv)) {
					int r = res_index(o);

					if (r >= 0 && h->has[r])
						match = true;
				}
			}
			if (match)
				kvmon_strlcpy(h->self, c2 + 1, sizeof(h->self));
		}
	}
	return 0;
}

/* Directory of cgroup path cg in hierarchy h. Inside a cgroup namespace
 * paths are relative to the mount root already; outside, strip it. */
static int hier_path(const struct cg_hier *h, const char *cg, char *out,
		     size_t size)
{
	size_t rl = strlen(h->root);
	int n;

	if (strcmp(h->root, "/") && !strncmp(cg, h->root, rl) &&
	    (cg[rl] == '/' || cg[rl] == '\0'))
		cg += rl;
	while (*cg == '/')
		cg++;
	n = snprintf(out, size, "%s%s%s", h->mnt, *cg ? "/" : "", cg);
	if (n < 0 || (size_t)n >= size)
		return kvmon_set_error(ENAMETOOLONG, "cgroup path too long");
	return 0;
}

/* Is controller listed in the v2 directory's cgroup.controllers? */
static bool v2_has(const char *dir, const char *ctl)
{
	char path[PATH_MAX + 32], *t, *sv = NULL;
	bool found = false;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	t = kvmon_read_file(path, CG_FILE_MAX, NULL);
	if (!t)
		return false;
	for (char *w = strtok_r(t, " \n", &sv); w; w = strtok_r(NULL, " \n", &sv))
		if (!strcmp(w, ctl))
			found = true;
	free(t);
	return found;
}

static int resolve(struct kvmon_cgsys *sys)
{
	bool v1 = false;

	sys->v2_h = -1;
	for (int r = 0; r < RES_N; r++) {
		sys->res_h[r] = -1;
		sys->dir[r][0] = '\0';
	}
	for (size_t i = 0; i < sys->nh; i++) {
		struct cg_hier *h = &sys->h[i];
		const char *cg = sys->parent[0] ? sys->parent : h->self;
		char dir[PATH_MAX];

		if (!cg[0] && !sys->parent[0])
			cg = "/"; /* not listed for us: treat as the root */
		if (hier_path(h, cg, dir, sizeof(dir)) < 0)
			return -1;
		if (h->v2) {
			sys->v2_h = (int)i;
			kvmon_strlcpy(sys->v2_dir, dir, sizeof(sys->v2_dir));
			continue;
		}
		v1 = true;
		for (int r = 0; r < RES_N; r++)
			if (h->has[r] && sys->res_h[r] < 0) {
				sys->res_h[r] = (int)i;
				kvmon_strlcpy(sys->dir[r], dir, sizeof(sys->dir[r]));
			}
	}
	/* v2 serves what v1 does not. CPU time (cpu.stat usage_usec) needs no
	 * controller on v2, weight/cap need "cpu", limits need "memory". */
	if (sys->v2_h >= 0) {
		for (int r = 0; r < RES_N; r++) {
			if (sys->res_h[r] >= 0)
				continue;
			if (r == RES_CPUACCT || v2_has(sys->v2_dir, res_names[r])) {
				sys->res_h[r] = sys->v2_h;
				kvmon_strlcpy(sys->dir[r], sys->v2_dir,
					      sizeof(sys->dir[r]));
			}
		}
	}
	sys->mode = v1 && sys->v2_h >= 0 ? KVMON_CG_HYBRID
		    : v1		 ? KVMON_CG_V1
		    : sys->v2_h >= 0	 ? KVMON_CG_V2
					 : KVMON_CG_NONE;
	return 0;
}

struct kvmon_cgsys *kvmon_cgsys_open(const char *mountinfo,
				     const char *self_cgroup)
{
	struct kvmon_cgsys *sys = calloc(1, sizeof(*sys));
	char *mi = NULL, *sc = NULL;

	if (!sys) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	mi = kvmon_read_file(mountinfo ? mountinfo : "/proc/self/mountinfo",
			     4u << 20, NULL);
	sc = mi ? kvmon_read_file(self_cgroup ? self_cgroup : "/proc/self/cgroup",
				  CG_FILE_MAX, NULL)
		: NULL;
	if (!mi || !sc)
		goto fail;
	parse_mountinfo(sys, mi);
	parse_self(sys, sc);
	if (resolve(sys) < 0)
		goto fail;
	if (sys->mode == KVMON_CG_NONE) {
		kvmon_set_error(ENOENT, "no cgroup hierarchy is mounted");
		goto fail;
	}
	free(mi);
	free(sc);
	return sys;
fail:
	kvmon_error_prefix("cgroups");
	free(mi);
	free(sc);
	free(sys);
	return NULL;
}

void kvmon_cgsys_close(struct kvmon_cgsys *sys)
{
	free(sys);
}

int kvmon_cgsys_mode(const struct kvmon_cgsys *sys)
{
	return sys ? sys->mode : KVMON_CG_NONE;
}

const char *kvmon_cgsys_mode_name(int mode)
{
	switch (mode) {
	case KVMON_CG_V1: return "v1";
	case KVMON_CG_V2: return "v2";
	case KVMON_CG_HYBRID: return "hybrid";
	default: return "none";
	}
}

/* A cgroup given as a directory under one of the mounts
 * (/sys/fs/cgroup/memory/machine.slice) becomes the path inside the
 * hierarchy (/machine.slice); a hierarchy path is kept as it is. */
static int cg_path(const struct kvmon_cgsys *sys, const char *path, char *out,
		   size_t size)
{
	size_t best = 0;

	if (!path || path[0] != '/' || strstr(path, "/../") ||
	    (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")) ||
	    strstr(path, "/./"))
		return kvmon_set_error(EINVAL, "cgroup path must be absolute, "
				       "without . or ..: %s", path ? path : "(null)");
	for (size_t i = 0; i < sys->nh; i++) {
		size_t ml = strlen(sys->h[i].mnt);

		if (ml > best && !strncmp(path, sys->h[i].mnt, ml) &&
		    (path[ml] == '/' || path[ml] == '\0'))
			best = ml;
	}
	return kvmon_strlcpy(out, best && path[best] ? path + best : best ? "/" : path,
			     size);
}

struct kvmon_cage *kvmon_cage_open_cgroup(struct kvmon_cgsys *sys,
					  const char *path)
{
	struct kvmon_cage *c;
	char cg[PATH_MAX];

	if (!sys) {
		kvmon_set_error(EINVAL, "no cgroup system");
		return NULL;
	}
	if (cg_path(sys, path, cg, sizeof(cg)) < 0)
		return NULL;
	if (!(c = calloc(1, sizeof(*c)))) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	c->sys = sys;
	c->foreign = true;
	kvmon_strlcpy(c->name, cg, sizeof(c->name));
	for (int r = 0; r < RES_N; r++) {
		char dir[PATH_MAX];
		struct stat st;
		size_t i;

		c->res_d[r] = -1;
		/* Only hierarchies where that cgroup exists serve it. */
		if (sys->res_h[r] < 0 ||
		    hier_path(&sys->h[sys->res_h[r]], cg, dir, sizeof(dir)) < 0 ||
		    stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		for (i = 0; i < c->nd && strcmp(c->d[i], dir); i++)
			;
		if (i == c->nd) {
			kvmon_strlcpy(c->d[i], dir, sizeof(c->d[i]));
			c->d_v2[i] = sys->res_h[r] == sys->v2_h;
			c->nd++;
		}
		c->res_d[r] = (int)i;
	}
	if (c->res_d[RES_MEMORY] < 0 && c->res_d[RES_CPU] < 0) {
		kvmon_set_error(ENOENT, "cgroup %s: not found in the cpu or memory "
				"hierarchy", path);
		free(c);
		return NULL;
	}
	return c;
}

int kvmon_cgsys_set_parent(struct kvmon_cgsys *sys, const char *path)
{
	char old[PATH_MAX], cg[PATH_MAX];

	if (!path || path[0] != '/' || strstr(path, "/..") || strstr(path, "/./"))
		return kvmon_set_error(EINVAL, "cgroup parent must be an absolute "
				       "path without . or ..: %s", path ? path : "(null)");
	/* Also a directory under a mount (/sys/fs/cgroup/.../machine.slice). */
	if (cg_path(sys, path, cg, sizeof(cg)) < 0)
		return -1;
	memcpy(old, sys->parent, sizeof(old));
	if (kvmon_strlcpy(sys->parent, cg, sizeof(sys->parent)) < 0)
		return -1;
	if (resolve(sys) < 0)
		goto fail;
	for (int r = 0; r < RES_N; r++) {
		struct stat st;

		if (sys->dir[r][0] && (stat(sys->dir[r], &st) < 0 || !S_ISDIR(st.st_mode))) {
			kvmon_set_error(ENOENT, "cgroup parent %s does not exist",
					sys->dir[r]);
			goto fail;
		}
	}
	return 0;
fail:
	memcpy(sys->parent, old, sizeof(old));
	resolve(sys);
	return -1;
}

const char *kvmon_cgsys_dir(const struct kvmon_cgsys *sys, const char *resource)
{
	int r = resource ? res_index(resource) : -1;

	return r >= 0 && sys->dir[r][0] ? sys->dir[r] : NULL;
}

/* ------------------------------------------------------------ file access */

int kvmon_cg_write(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX + 64];
	size_t len = strlen(value);
	ssize_t w;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	/* O_TRUNC is ignored by cgroupfs and needed on the test tree. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return kvmon_set_error(errno, "open %s: %s", path, strerror(errno));
	w = write(fd, value, len);
	if (w < 0) {
		int e = errno;

		close(fd);
		return kvmon_set_error(e, "write '%s' to %s: %s", value, path,
				       strerror(e));
	}
	close(fd);
	if ((size_t)w != len)
		return kvmon_set_error(EIO, "short write to %s", path);
	return 0;
}

char *kvmon_cg_read(const char *dir, const char *file)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return kvmon_read_file(path, CG_FILE_MAX, NULL);
}

/* Value of "key N" in a flat-keyed file (memory.stat, cpu.stat). */
int kvmon_cg_key(const char *text, const char *key, uint64_t *val)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ' ') {
			char *end;

			errno = 0;
			*val = strtoull(p + kl + 1, &end, 10);
			if (errno || end == p + kl + 1)
				return -1;
			return 0;
		}
	}
	return -1;
}

static int read_u64(const char *dir, const char *file, uint64_t *val)
{
	char *t = kvmon_cg_read(dir, file), *end;

	if (!t)
		return -1;
	errno = 0;
	*val = strtoull(t, &end, 10);
	if (errno || end == t) {
		kvmon_set_error(EPROTO, "%s/%s: not a number", dir, file);
		free(t);
		return -1;
	}
	free(t);
	return 0;
}

/* ------------------------------------------------------------------ cages */

static const char *const fake_v1[RES_N][6] = {
	{ "cgroup.procs", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us",
	  "cpu.stat", NULL },
	{ "cgroup.procs", "cpuacct.usage", NULL },
	{ "cgroup.procs", "memory.limit_in_bytes", "memory.usage_in_bytes",
	  "memory.stat", NULL },
};
static const char *const fake_v2[] = {
	"cgroup.procs", "cgroup.controllers", "cgroup.subtree_control",
	"cpu.weight", "cpu.max", "cpu.stat", "memory.max", "memory.high",
	"memory.current", "memory.stat", NULL,
};

static void fake_list(const char *dir, const char *const *list, bool create)
{
	for (size_t i = 0; list[i]; i++) {
		char p[PATH_MAX + 64];

		snprintf(p, sizeof(p), "%s/%s", dir, list[i]);
		if (create) {
			int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
		} else {
			unlink(p);
		}
	}
}

static void fake_files(struct kvmon_cage *c, size_t d, bool create)
{
	if (c->d_v2[d]) {
		fake_list(c->d[d], fake_v2, create);
		return;
	}
	for (int r = 0; r < RES_N; r++) /* co-mounted: files of each */
		if (c->res_d[r] == (int)d)
			fake_list(c->d[d], fake_v1[r], create);
}

static struct kvmon_cage *cage_new(struct kvmon_cgsys *sys, const char *name)
{
	struct kvmon_cage *c;

	if (!sys || !kvmon_valid_name(name)) {
		kvmon_set_error(EINVAL, "invalid cage name '%s' (1-32 of "
				"A-Z a-z 0-9 _ . -)", name ? name : "(null)");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		kvmon_set_error(ENOMEM, "out of memory");
		return NULL;
	}
	c->sys = sys;
	snprintf(c->name, sizeof(c->name), "%s", name);
	for (int r = 0; r < RES_N; r++) {
		size_t i;

		c->res_d[r] = -1;
		if (!sys->dir[r][0])
			continue;
		/* Co-mounted resources (cpu,cpuacct; all of v2) share one dir. */
		for (i = 0; i < c->nd; i++) {
			char want[PATH_MAX + 48];

			snprintf(want, sizeof(want), "%s/kvmon-%s", sys->dir[r], name);
			if (!strcmp(c->d[i], want))
				break;
		}
		if (i == c->nd) {
			int n = snprintf(c->d[i], sizeof(c->d[i]), "%s/kvmon-%s",
					 sys->dir[r], name);

			if (n < 0 || (size_t)n >= sizeof(c->d[i])) {
				kvmon_set_error(ENAMETOOLONG, "cgroup path too long");
				free(c);
				return NULL;
			}
			c->d_v2[i] = sys->res_h[r] == sys->v2_h;
			c->nd++;
		}
		c->res_d[r] = (int)i;
	}
	if (c->res_d[RES_CPU] < 0 && c->res_d[RES_MEMORY] < 0) {
		kvmon_set_error(ENOTSUP, "neither the cpu nor the memory cgroup "
				"controller is available");
		free(c);
		return NULL;
	}
	return c;
}

/* v2: a child only gets controllers its parent enables for it. */
static int v2_enable(struct kvmon_cage *c)
{
	const char *dir = c->sys->v2_dir;
	char want[64] = "";

	if (c->res_d[RES_CPU] >= 0 && c->d_v2[c->res_d[RES_CPU]])
		strcat(want, "+cpu ");
	if (c->res_d[RES_MEMORY] >= 0 && c->d_v2[c->res_d[RES_MEMORY]])
		strcat(want, "+memory");
	if (!want[0])
		return 0;
	if (kvmon_cg_write(dir, "cgroup.subtree_control", want) < 0) {
		/* EBUSY: "no internal processes" -- our cgroup has members. */
		return kvmon_error_prefix("enable cpu/memory for children of %s "
					  "(on cgroup v2 run kvmon in a delegated "
					  "cgroup without processes of its own, "
					  "or pass a parent)", dir);
	}
	return 0;
}

struct kvmon_cage *kvmon_cage_create(struct kvmon_cgsys *sys, const char *name,
				     unsigned flags)
{
	struct kvmon_cage *c = cage_new(sys, name);
	bool made[4] = { 0 };

	if (!c)
		return NULL;
	if (v2_enable(c) < 0)
		goto fail;
	for (size_t i = 0; i < c->nd; i++) {
		if (mkdir(c->d[i], 0755) == 0) {
			made[i] = true;
			if (sys->fake)
				fake_files(c, i, true);
			continue;
		}
		if (errno == EEXIST && !(flags & KVMON_CAGE_EXCL))
			continue;
		kvmon_set_error(errno, "mkdir %s: %s", c->d[i], strerror(errno));
		goto fail;
	}
	return c;
fail:
	/* Remove only what this call made: the host is left as it was. */
	for (size_t i = 0; i < c->nd; i++)
		if (made[i]) {
			if (sys->fake)
				fake_files(c, i, false);
			rmdir(c->d[i]);
		}
	kvmon_error_prefix("create cage %s", name);
	free(c);
	return NULL;
}

struct kvmon_cage *kvmon_cage_open(struct kvmon_cgsys *sys, const char *name)
{
	struct kvmon_cage *c = cage_new(sys, name);

	if (!c)
		return NULL;
	for (size_t i = 0; i < c->nd; i++) {
		struct stat st;

		if (stat(c->d[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			kvmon_set_error(ENOENT, "no cage '%s' (%s missing)", name,
					c->d[i]);
			free(c);
			return NULL;
		}
	}
	return c;
}

void kvmon_cage_close(struct kvmon_cage *c)
{
	free(c);
}

const char *kvmon_cage_name(const struct kvmon_cage *c)
{
	return c->name;
}

const char *kvmon_cage_dir(const struct kvmon_cage *c, const char *resource)
{
	int r = resource ? res_index(resource) : -1;

	return r >= 0 && c->res_d[r] >= 0 ? c->d[c->res_d[r]] : NULL;
}

static int read_pids(const char *dir, pid_t **out, size_t *n)
{
	char path[PATH_MAX + 32], *t, *sv = NULL;
	pid_t *p = NULL;
	size_t cnt = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	t = kvmon_read_file(path, CG_PROCS_MAX, NULL);
	if (!t)
		return -1;
	for (char *w = strtok_r(t, "\n", &sv); w && cnt < CG_MAX_PIDS;
	     w = strtok_r(NULL, "\n", &sv)) {
		long v = strtol(w, NULL, 10);
		pid_t *np;

		if (v <= 0 || v > INT_MAX)
			continue;
		np = realloc(p, (cnt + 1) * sizeof(*p));
		if (!np) {
			free(p);
			free(t);
			return kvmon_set_error(ENOMEM, "out of memory");
		}
		p = np;
		p[cnt++] = (pid_t)v;
	}
	free(t);
	*out = p;
	*n = cnt;
	return 0;
}

int kvmon_cage_pids(struct kvmon_cage *c, pid_t **pids, size_t *n)
{
	int r = c->res_d[RES_MEMORY] >= 0 ? c->res_d[RES_MEMORY] : c->res_d[RES_CPU];

	*pids = NULL;
	*n = 0;
	return read_pids(c->d[r], pids, n);
}

/* Directory a pid is in now, in the hierarchy of cage dir d. */
static int pid_dir(struct kvmon_cage *c, size_t d, pid_t pid, char *out,
		   size_t size)
{
	struct kvmon_cgsys tmp;
	char path[64], *t;
	int r;

	for (r = 0; r < RES_N; r++)
		if (c->res_d[r] == (int)d)
			break;
	if (r == RES_N)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	t = kvmon_read_file(path, CG_FILE_MAX, NULL);
	if (!t)
		return -1;
	memcpy(&tmp, c->sys, sizeof(tmp));
	for (size_t i = 0; i < tmp.nh; i++)
		tmp.h[i].self[0] = '\0';
	parse_self(&tmp, t);
	free(t);
	if (!tmp.h[c->sys->res_h[r]].self[0])
		return -1;
	return hier_path(&tmp.h[c->sys->res_h[r]], tmp.h[c->sys->res_h[r]].self,
			 out, size);
}

int kvmon_cage_add_pid(struct kvmon_cage *c, pid_t pid)
{
	char back[4][PATH_MAX], val[24];
	bool have_back[4] = { 0 };
	size_t i;

	if (pid < 0)
		return kvmon_set_error(EINVAL, "invalid pid %d", (int)pid);
	if (pid == 0)
		pid = getpid();
	if (!kvmon_pid_alive(pid))
		return kvmon_set_error(ESRCH, "no process %d", (int)pid);
	snprintf(val, sizeof(val), "%d", (int)pid);
	for (i = 0; i < c->nd; i++)
		have_back[i] = pid_dir(c, i, pid, back[i], sizeof(back[i])) == 0;
	for (i = 0; i < c->nd; i++)
		if (kvmon_cg_write(c->d[i], "cgroup.procs", val) < 0)
			break;
	if (i == c->nd)
		return 0;
	kvmon_error_prefix("add pid %d to cage %s", (int)pid, c->name);
	/* Move it back where it was in the hierarchies already done. */
	for (size_t j = 0; j < i; j++)
		if (have_back[j]) {
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", kvmon_get_error());
			int e = kvmon_get_errno();

			kvmon_cg_write(back[j], "cgroup.procs", val);
			kvmon_set_error(e, "%s", msg);
		}
	return -1;
}

int kvmon_cage_remove(struct kvmon_cage *c, unsigned flags)
{
	if (c->foreign)
		return kvmon_set_error(EPERM, "%s is not a kvmon cage: kvmon never "
				       "removes a cgroup it did not create", c->name);
	for (size_t i = 0; i < c->nd; i++) {
		pid_t *p = NULL;
		size_t n = 0;

		if (read_pids(c->d[i], &p, &n) < 0) {
			if (kvmon_get_errno() == ENOENT)
				continue; /* already gone */
			return kvmon_error_prefix("remove cage %s", c->name);
		}
		if (n && !(flags & KVMON_CAGE_EVICT)) {
			free(p);
			return kvmon_set_error(EBUSY, "cage %s still has %zu "
					       "process(es) in %s", c->name, n, c->d[i]);
		}
		/* Evict to the parent: the directory the cage lives in. */
		for (size_t k = 0; k < n; k++) {
			char parent[PATH_MAX], val[24];
			char *slash;

			snprintf(parent, sizeof(parent), "%s", c->d[i]);
			slash = strrchr(parent, '/');
			if (slash)
				*slash = '\0';
			snprintf(val, sizeof(val), "%d", (int)p[k]);
			if (kvmon_cg_write(parent, "cgroup.procs", val) < 0 &&
			    kvmon_pid_alive(p[k])) {
				free(p);
				return kvmon_error_prefix("remove cage %s", c->name);
			}
		}
		free(p);
	}
	for (size_t i = 0; i < c->nd; i++) {
		int tries = 0;

		if (c->sys->fake)
			fake_files(c, i, false);
		/* A member that just exited may still be detaching: EBUSY for a
		 * moment. Retry briefly rather than leave half a cage. */
		while (rmdir(c->d[i]) < 0 && errno != ENOENT) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			if (errno != EBUSY || ++tries > 40)
				return kvmon_set_error(errno, "remove cage %s: rmdir %s: %s",
						       c->name, c->d[i], strerror(errno));
			nanosleep(&ts, NULL);
		}
	}
	free(c);
	return 0;
}

/* ---------------------------------------------------------------- limits */

static const char *need(struct kvmon_cage *c, int r, bool *v2)
{
	if (c->res_d[r] < 0) {
		kvmon_set_error(ENOTSUP, "the %s cgroup controller is not "
				"available on this host", res_names[r]);
		return NULL;
	}
	*v2 = c->d_v2[c->res_d[r]];
	return c->d[c->res_d[r]];
}

int kvmon_cage_set_cpu_weight(struct kvmon_cage *c, uint64_t weight)
{
	char val[32];
	bool v2;
	const char *d;

	if (weight < 1 || weight > 10000)
		return kvmon_set_error(ERANGE, "CPU weight %" PRIu64
				       " out of range 1..10000", weight);
	if (!(d = need(c, RES_CPU, &v2)))
		return -1;
	if (v2) {
		snprintf(val, sizeof(val), "%" PRIu64, weight);
		return kvmon_cg_write(d, "cpu.weight", val);
	}
	/* v1 shares: 1024 is the default like weight 100; minimum 2. */
	snprintf(val, sizeof(val), "%" PRIu64, weight * 1024 / 100 < 2 ? 2 : weight * 1024 / 100);
	return kvmon_cg_write(d, "cpu.shares", val);
}

int kvmon_cage_set_cpu_max(struct kvmon_cage *c, int64_t quota_us,
			   uint64_t period_us)
{
	char val[64], old[32] = "";
	bool v2;
	const char *d;
	char *t;

	if (period_us < 1000 || period_us > 1000000)
		return kvmon_set_error(ERANGE, "CPU period %" PRIu64
				       " us out of range 1000..1000000", period_us);
	if (quota_us >= 0 && (quota_us < 1000 || quota_us > 1000000LL * 1024))
		return kvmon_set_error(ERANGE, "CPU quota %" PRId64
				       " us out of range (>= 1000)", quota_us);
	if (!(d = need(c, RES_CPU, &v2)))
		return -1;
	if (v2) {
		if (quota_us < 0)
			snprintf(val, sizeof(val), "max %" PRIu64, period_us);
		else
			snprintf(val, sizeof(val), "%" PRId64 " %" PRIu64,
				 quota_us, period_us);
		return kvmon_cg_write(d, "cpu.max", val);
	}
	t = kvmon_cg_read(d, "cpu.cfs_period_us");
	if (t) {
		snprintf(old, sizeof(old), "%s", t);
		free(t);
	}
	snprintf(val, sizeof(val), "%" PRIu64, period_us);
	if (kvmon_cg_write(d, "cpu.cfs_period_us", val) < 0)
		return -1;
	snprintf(val, sizeof(val), "%" PRId64, quota_us < 0 ? -1 : quota_us);
	if (kvmon_cg_write(d, "cpu.cfs_quota_us", val) < 0) {
		char msg[1024];
		int e = kvmon_get_errno();

		snprintf(msg, sizeof(msg), "%s", kvmon_get_error());
		if (old[0]) /* nothing half-applied */
			kvmon_cg_write(d, "cpu.cfs_period_us", old);
		return kvmon_set_error(e, "%s", msg);
	}
	return 0;
}

#define MEM_MIN (1ll << 20)
#define MEM_ABSURD (1ll << 50) /* 1 PiB */

static int mem_value(int64_t v, char *out, size_t size, bool v2)
{
	if (v == KVMON_CAGE_UNLIMITED) {
		snprintf(out, size, "%s", v2 ? "max" : "-1");
		return 0;
	}
	if (v < MEM_MIN || v > MEM_ABSURD)
		return kvmon_set_error(ERANGE, "memory size %" PRId64 " out of "
				       "range 1 MiB..1 PiB", v);
	snprintf(out, size, "%" PRId64, v);
	return 0;
}

int kvmon_cage_set_memory(struct kvmon_cage *c, int64_t max, int64_t high)
{
	char vmax[32], vhigh[32];
	bool v2;
	const char *d;

	if (!(d = need(c, RES_MEMORY, &v2)))
		return -1;
	if (max != KVMON_CAGE_KEEP && mem_value(max, vmax, sizeof(vmax), v2) < 0)
		return -1;
	if (high != KVMON_CAGE_KEEP) {
		if (!v2 && high != KVMON_CAGE_UNLIMITED)
			return kvmon_set_error(ENOTSUP, "memory.high needs cgroup v2");
		if (mem_value(high, vhigh, sizeof(vhigh), v2) < 0)
			return -1;
		if (v2 && kvmon_cg_write(d, "memory.high", vhigh) < 0)
			return -1;
	}
	if (max == KVMON_CAGE_KEEP)
		return 0;
	return kvmon_cg_write(d, v2 ? "memory.max" : "memory.limit_in_bytes", vmax);
}

/* ----------------------------------------------------------------- stats */

int kvmon_cage_stats(struct kvmon_cage *c, struct kvmon_cage_stats *st)
{
	bool v2;
	const char *d;
	char *t;

	memset(st, 0, sizeof(*st));
	st->mem_max = -1;
	if (c->res_d[RES_CPUACCT] >= 0) {
		d = c->d[c->res_d[RES_CPUACCT]];
		if (c->d_v2[c->res_d[RES_CPUACCT]]) {
			uint64_t us = 0;

			if (!(t = kvmon_cg_read(d, "cpu.stat")))
				return -1;
			kvmon_cg_key(t, "usage_usec", &us);
			st->cpu_ns = us * 1000;
			kvmon_cg_key(t, "nr_throttled", &st->nr_throttled);
			free(t);
		} else if (read_u64(d, "cpuacct.usage", &st->cpu_ns) < 0) {
			return -1;
		}
	}
	if (c->res_d[RES_CPU] >= 0 && !c->d_v2[c->res_d[RES_CPU]] &&
	    (t = kvmon_cg_read(c->d[c->res_d[RES_CPU]], "cpu.stat"))) {
		kvmon_cg_key(t, "nr_throttled", &st->nr_throttled);
		free(t);
	}
	if (c->res_d[RES_MEMORY] < 0)
		return 0;
	d = need(c, RES_MEMORY, &v2);
	if (!(t = kvmon_cg_read(d, "memory.stat")))
		return -1;
	if (v2) {
		uint64_t file = 0;

		kvmon_cg_key(t, "anon", &st->mem_anon);
		kvmon_cg_key(t, "file", &file);
		kvmon_cg_key(t, "shmem", &st->mem_shmem);
		/* v2 "file" includes shmem; report the page cache proper. */
		st->mem_file = file > st->mem_shmem ? file - st->mem_shmem : 0;
	} else {
		uint64_t cache = 0;

		/* total_*: this cgroup and its children (hierarchical). */
		if (kvmon_cg_key(t, "total_rss", &st->mem_anon) < 0)
			kvmon_cg_key(t, "rss", &st->mem_anon);
		if (kvmon_cg_key(t, "total_cache", &cache) < 0)
			kvmon_cg_key(t, "cache", &cache);
		if (kvmon_cg_key(t, "total_shmem", &st->mem_shmem) < 0)
			kvmon_cg_key(t, "shmem", &st->mem_shmem);
		st->mem_file = cache > st->mem_shmem ? cache - st->mem_shmem : 0;
	}
	free(t);
	if (read_u64(d, v2 ? "memory.current" : "memory.usage_in_bytes",
		     &st->mem_current) < 0)
		return -1;
	t = kvmon_cg_read(d, v2 ? "memory.max" : "memory.limit_in_bytes");
	if (!t)
		return -1;
	if (strncmp(t, "max", 3)) {
		uint64_t v = strtoull(t, NULL, 10);

		/* v1 "unlimited" is LONG_MAX rounded down to a page. */
		st->mem_max = v >= (uint64_t)MEM_ABSURD * 8 ? -1 : (int64_t)v;
	}
	free(t);
	return 0;
}

int kvmon_proc_stats(pid_t pid, struct kvmon_proc_stats *st)
{
	char path[64], *t, *rp;
	unsigned long long ut = 0, stt = 0;
	long tck = sysconf(_SC_CLK_TCK);
	uint64_t kb;

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(t = kvmon_read_file(path, 4096, NULL)))
		return -1;
	/* comm may hold spaces and ')': the last ')' ends it. */
	rp = strrchr(t, ')');
	if (!rp || !strchr(t, '(') ||
	    sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &stt) != 2) {
		free(t);
		return kvmon_set_error(EPROTO, "%s: unexpected format", path);
	}
	*rp = '\0';
	snprintf(st->comm, sizeof(st->comm), "%s", strchr(t, '(') + 1);
	free(t);
	st->cpu_ns = (ut + stt) * (1000000000ull / (uint64_t)(tck > 0 ? tck : 100));
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(t = kvmon_read_file(path, 16384, NULL)))
		return -1;
	for (char *p = t; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (sscanf(p, "RssAnon: %" SCNu64, &kb) == 1)
			st->rss_anon = kb << 10;
		else if (sscanf(p, "RssFile: %" SCNu64, &kb) == 1)
			st->rss_file = kb << 10;
		else if (sscanf(p, "RssShmem: %" SCNu64, &kb) == 1)
			st->rss_shmem = kb << 10;
	}
	free(t);
	return 0;
}
