// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fim compare: merge two path-sorted databases into added / removed /
 * changed findings; a change names each attribute with old and new value.
 */
#define _GNU_SOURCE
#include "fim/fim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static struct json_object *hexval(const unsigned char *d, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	char s[129];
	size_t i;

	for (i = 0; i < n; i++) {
		s[2 * i] = hx[d[i] >> 4];
		s[2 * i + 1] = hx[d[i] & 15];
	}
	s[2 * n] = '\0';
	return json_object_new_string(s);
}

static struct json_object *timeval(int64_t s, uint32_t ns)
{
	char b[48];

	snprintf(b, sizeof(b), "%lld.%09u", (long long)s, ns);
	return json_object_new_string(b);
}

static struct json_object *octval(uint32_t mode)
{
	char b[16];

	snprintf(b, sizeof(b), "%04o", mode & 07777);
	return json_object_new_string(b);
}

static void pair(struct json_object *attrs, const char *name,
		 struct json_object *o, struct json_object *n)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "old", o);
	json_object_object_add(p, "new", n);
	json_object_object_add(attrs, name, p);
}

/* Which attributes differ (compared where both sides recorded them);
 * with j, each as {old, new} in j (without, no JSON is built: nearly
 * every pair of a check is equal). */
static unsigned diff(const struct fim_entry *a, const struct fim_entry *b,
		     struct json_object *j)
{
	unsigned both = a->attrs & b->attrs, d = 0;
	bool hashed = !a->hash_err && !b->hash_err;

#define CHK(bit, cond, name, ov, nv)                  \
	if ((both & (bit)) && (cond)) {               \
		d |= (bit);                           \
		if (j)                                \
			pair(j, name, ov, nv);        \
	}
	CHK(KVMON_FIM_TYPE, (a->mode & S_IFMT) != (b->mode & S_IFMT), "type",
	    json_object_new_string(kvmon_fs_type_name(a->mode)),
	    json_object_new_string(kvmon_fs_type_name(b->mode)));
	CHK(KVMON_FIM_PERM, (a->mode & 07777) != (b->mode & 07777), "mode",
	    octval(a->mode), octval(b->mode));
	CHK(KVMON_FIM_UID, a->uid != b->uid, "uid", json_object_new_int64(a->uid),
	    json_object_new_int64(b->uid));
	CHK(KVMON_FIM_GID, a->gid != b->gid, "gid", json_object_new_int64(a->gid),
	    json_object_new_int64(b->gid));
	CHK(KVMON_FIM_SIZE, a->size != b->size, "size",
	    json_object_new_uint64(a->size), json_object_new_uint64(b->size));
	CHK(KVMON_FIM_MTIME, a->mtime != b->mtime || a->mtime_ns != b->mtime_ns,
	    "mtime", timeval(a->mtime, a->mtime_ns), timeval(b->mtime, b->mtime_ns));
	CHK(KVMON_FIM_CTIME, a->ctime != b->ctime || a->ctime_ns != b->ctime_ns,
	    "ctime", timeval(a->ctime, a->ctime_ns), timeval(b->ctime, b->ctime_ns));
	CHK(KVMON_FIM_INODE, a->ino != b->ino, "inode",
	    json_object_new_uint64(a->ino), json_object_new_uint64(b->ino));
	CHK(KVMON_FIM_LINKS, a->nlink != b->nlink, "links",
	    json_object_new_int64(a->nlink), json_object_new_int64(b->nlink));
	CHK(KVMON_FIM_XATTRS, memcmp(a->xattrs, b->xattrs, 32), "xattrs",
	    hexval(a->xattrs, 32), hexval(b->xattrs, 32));
	CHK(KVMON_FIM_SHA256, hashed && memcmp(a->sha256, b->sha256, 32), "sha256",
	    hexval(a->sha256, 32), hexval(b->sha256, 32));
	CHK(KVMON_FIM_SHA512, hashed && memcmp(a->sha512, b->sha512, 64), "sha512",
	    hexval(a->sha512, 64), hexval(b->sha512, 64));
	CHK(KVMON_FIM_LNAME,
	    strcmp(a->lname ? a->lname : "", b->lname ? b->lname : ""), "lname",
	    json_object_new_string(a->lname ? a->lname : ""),
	    json_object_new_string(b->lname ? b->lname : ""));
#undef CHK
	/* A file that could not be read, or can again, is a change too. */
	if (a->hash_err != b->hash_err) {
		d |= KVMON_FIM_SHA256;
		if (j)
			pair(j, "read_error", json_object_new_string(strerror(a->hash_err)),
			     json_object_new_string(strerror(b->hash_err)));
	}
	return d;
}

static int emit(kvmon_fim_finding_fn fn, void *opaque, const char *path,
		int kind, unsigned changed, struct json_object *attrs)
{
	static const char *const kinds[] = { "", "added", "removed", "changed" };
	struct json_object *o = json_object_new_object();
	int rc;

	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "change", json_object_new_string(kinds[kind]));
	if (attrs)
		json_object_object_add(o, "attrs", attrs);
	rc = fn(opaque, path, kind, changed,
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return rc;
}

int kvmon_fim_compare(const struct kvmon_fim_db *base,
		      const struct kvmon_fim_db *now, kvmon_fim_finding_fn fn,
		      void *opaque)
{
	size_t i = 0, j = 0;
	int rc = 0;

	if (!base || !now || !fn)
		return kvmon_set_error(EINVAL, "two databases and a callback needed");
	if (kvmon_fim_db_wait(base) < 0 || kvmon_fim_db_wait(now) < 0)
		return -1;
	while (rc == 0 && (i < base->n || j < now->n)) {
		int c = i >= base->n ? 1 : j >= now->n ? -1
			: strcmp(base->e[i].path, now->e[j].path);

		if (c < 0) {
			rc = emit(fn, opaque, base->e[i].path, KVMON_FIM_REMOVED, 0, NULL);
			i++;
		} else if (c > 0) {
			rc = emit(fn, opaque, now->e[j].path, KVMON_FIM_ADDED, 0, NULL);
			j++;
		} else {
			if (diff(&base->e[i], &now->e[j], NULL)) {
				struct json_object *a = json_object_new_object();
				unsigned d = diff(&base->e[i], &now->e[j], a);

				rc = emit(fn, opaque, now->e[j].path,
					  KVMON_FIM_CHANGED, d, a);
			}
			i++;
			j++;
		}
	}
	return rc;
}
