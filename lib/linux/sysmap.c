/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * System.map parsing (format in sysmap.h). One pass over the text into
 * compact arrays and one name arena, then two stable index sorts (by name,
 * by address) for O(log n) lookup and resolve, like kallsyms.c.
 */
#define _GNU_SOURCE
#include "linux/sysmap.h"
#include "linux/kallsyms.h"
#include "linux/vmcoreinfo.h"
#include "linux/symtab.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARRAYS_INITIAL 1024u
#define SLIDE_ALIGN (2ull << 20)	/* x86-64 CONFIG_PHYSICAL_ALIGN min */
#define EXCERPT 48			/* bytes of a bad line in the error */

struct kvmon_sysmap {
	struct kvmon_symtab s;		/* symbols and their indexes */
	size_t cap, arena_len;
};

/* ---------------------------------------------------------------- lines */

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool printable(char c)
{
	return c >= 0x21 && c <= 0x7e;
}

static bool type_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '?';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* EPROTO naming the line and showing its start, made printable. */
static int bad_line(size_t no, const char *s, size_t n, const char *why)
{
	char ex[EXCERPT + 1];
	size_t k = n < EXCERPT ? n : EXCERPT;

	for (size_t i = 0; i < k; i++)
		ex[i] = printable(s[i]) || s[i] == ' ' ? s[i] : '?';
	ex[k] = '\0';
	return kvmon_set_error(EPROTO, "System.map line %zu: %s: \"%s%s\"", no,
			       why, ex, n > k ? "..." : "");
}

static size_t skip_blanks(const char *s, size_t n, size_t i)
{
	while (i < n && blank(s[i]))
		i++;
	return i;
}

/* "\t[module]" after a /proc/kallsyms name: a module's symbol. */
static bool module_tag(const char *s, size_t n, size_t i)
{
	if (n - i < 3 || s[i] != '[' || s[n - 1] != ']')
		return false;
	for (i++; i < n - 1; i++)
		if (!printable(s[i]) || s[i] == '[' || s[i] == ']')
			return false;
	return true;
}

static int add_symbol(struct kvmon_sysmap *m, uint64_t addr, char type,
		      const char *name, size_t len)
{
	if (m->s.n == KVMON_SYSMAP_MAX_SYMS)
		return kvmon_set_error(E2BIG, "System.map: more than %u symbols",
				       KVMON_SYSMAP_MAX_SYMS);
	if (m->s.n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : ARRAYS_INITIAL;
		uint64_t *a;
		uint32_t *nm;
		char *t;

		if (cap > KVMON_SYSMAP_MAX_SYMS)
			cap = KVMON_SYSMAP_MAX_SYMS;
		if (!(a = realloc(m->s.addr, cap * sizeof(*a))))
			return kvmon_set_error(ENOMEM, "out of memory");
		m->s.addr = a;
		if (!(nm = realloc(m->s.name, cap * sizeof(*nm))))
			return kvmon_set_error(ENOMEM, "out of memory");
		m->s.name = nm;
		if (!(t = realloc(m->s.type, cap)))
			return kvmon_set_error(ENOMEM, "out of memory");
		m->s.type = t;
		m->cap = cap;
	}
	/* The arena has room: a name and its NUL fit in its own line. */
	memcpy(m->s.arena + m->arena_len, name, len);
	m->s.arena[m->arena_len + len] = '\0';
	m->s.name[m->s.n] = (uint32_t)m->arena_len;
	m->arena_len += len + 1;
	m->s.addr[m->s.n] = addr;
	m->s.type[m->s.n] = type;
	m->s.n++;
	return 0;
}

/* One non-blank line: 0 (added or skipped) or -1. */
static int parse_line(struct kvmon_sysmap *m, const char *s, size_t n,
		      size_t no)
{
	size_t i = 0, at;
	uint64_t addr = 0;
	char type;

	for (; i < n && hexval(s[i]) >= 0; i++) {
		if (i == 16)
			return bad_line(no, s, n, "address over 16 hex digits");
		addr = addr << 4 | (uint64_t)hexval(s[i]);
	}
	if (i == 0 || i == n || !blank(s[i]))
		return bad_line(no, s, n, "no hex address and blank");
	i = skip_blanks(s, n, i);
	if (i == n || !type_char(s[i]) || i + 1 == n || !blank(s[i + 1]))
		return bad_line(no, s, n, "no type letter and blank");
	type = s[i];
	at = i = skip_blanks(s, n, i + 1);
	while (i < n && printable(s[i]))
		i++;
	if (i == at)
		return bad_line(no, s, n, "no name");
	if (i - at > KVMON_SYSMAP_NAME_MAX)
		return bad_line(no, s, n, "name over 511 bytes");
	if (i < n && !blank(s[i]))
		return bad_line(no, s, n, "control or non-ASCII byte in the name");
	if (skip_blanks(s, n, i) < n) {
		if (module_tag(s, n, skip_blanks(s, n, i)))
			return 0;
		return bad_line(no, s, n, "text after the name");
	}
	return add_symbol(m, addr, type, s + at, i - at);
}

static int parse_text(struct kvmon_sysmap *m, const char *text, size_t len)
{
	size_t pos = 0, no = 0;

	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		pos += n + (nl != NULL);
		no++;
		if (n && s[n - 1] == '\r')
			n--;
		if (n > KVMON_SYSMAP_MAX_LINE)
			return kvmon_set_error(E2BIG, "System.map line %zu: over "
					       "%d bytes", no,
					       KVMON_SYSMAP_MAX_LINE);
		if (skip_blanks(s, n, 0) == n)
			continue;
		if (parse_line(m, s, n, no) < 0)
			return -1;
	}
	return 0;
}

/* A map is useless without symbols or with one address for all (what an
 * unprivileged read of /proc/kallsyms gives). */
static int check_map(const struct kvmon_sysmap *m)
{
	if (m->s.n == 0)
		return kvmon_set_error(EPROTO, "System.map: no symbols");
	for (size_t i = 1; i < m->s.n; i++)
		if (m->s.addr[i] != m->s.addr[0])
			return 0;
	if (m->s.n > 1)
		return kvmon_set_error(EPROTO, "System.map: every address is "
				       "0x%llx (read without privilege?)",
				       (unsigned long long)m->s.addr[0]);
	return 0;
}

/* ----------------------------------------------------------------- load */

struct kvmon_sysmap *kvmon_sysmap_parse(const char *text, size_t len)
{
	struct kvmon_sysmap *m;

	if (!text && len) {
		kvmon_set_error(EINVAL, "System.map: no text");
		return NULL;
	}
	if (len > KVMON_SYSMAP_MAX_FILE) {
		kvmon_set_error(E2BIG, "System.map: %zu bytes (limit %u)", len,
				KVMON_SYSMAP_MAX_FILE);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m)
		m->s.what = "System.map";
	if (!m || !(m->s.arena = malloc(len + 1))) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto fail;
	}
	if (parse_text(m, text, len) < 0 || check_map(m) < 0 ||
	    kvmon_symtab_index(&m->s) < 0)
		goto fail;
	return m;
fail:
	kvmon_sysmap_free(m);
	return NULL;
}

/* The whole regular file, at most KVMON_SYSMAP_MAX_FILE bytes. */
static char *read_map(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char *buf = NULL;
	size_t used = 0;

	if (fd < 0) {
		kvmon_set_error(errno, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		kvmon_set_error(EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)KVMON_SYSMAP_MAX_FILE) {
		kvmon_set_error(EFBIG, "%s: larger than %u bytes", path,
				KVMON_SYSMAP_MAX_FILE);
		goto out;
	}
	/* One byte more than allowed: a file growing under us is caught. */
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		kvmon_set_error(ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + used, (size_t)st.st_size + 1 - used);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			kvmon_set_error(errno, "read %s: %s", path,
					strerror(errno));
			break;
		}
		if (r == 0) {
			*len = used;
			close(fd);
			return buf;
		}
		used += (size_t)r;
		if (used > (size_t)st.st_size) {
			kvmon_set_error(EFBIG, "%s: grew while read", path);
			break;
		}
	}
	free(buf);
	buf = NULL;
out:
	close(fd);
	return buf;
}

struct kvmon_sysmap *kvmon_sysmap_load(const char *path)
{
	struct kvmon_sysmap *m;
	size_t len = 0;
	char *text;

	if (!path) {
		kvmon_set_error(EINVAL, "System.map: no path");
		return NULL;
	}
	if (!(text = read_map(path, &len)))
		return NULL;
	m = kvmon_sysmap_parse(text, len);
	free(text);
	if (!m)
		kvmon_error_prefix("%s", path);
	return m;
}

void kvmon_sysmap_free(struct kvmon_sysmap *m)
{
	if (!m)
		return;
	kvmon_symtab_release(&m->s);
	free(m);
}

/* -------------------------------------------------------------- queries */

size_t kvmon_sysmap_count(const struct kvmon_sysmap *m)
{
	return m ? m->s.n : 0;
}

int kvmon_sysmap_get(const struct kvmon_sysmap *m, size_t i, const char **name,
		     char *type, uint64_t *addr)
{
	if (!m)
		return kvmon_set_error(ERANGE, "System.map: no symbol %zu", i);
	return kvmon_symtab_get(&m->s, i, name, type, addr);
}

static int find(const struct kvmon_sysmap *m, const char *name, size_t *idx)
{
	return kvmon_symtab_find(&m->s, name, idx);
}

int kvmon_sysmap_lookup(const struct kvmon_sysmap *m, const char *name,
			uint64_t *addr)
{
	size_t i;

	if (!m || !name)
		return kvmon_set_error(EINVAL, "System.map lookup: bad arguments");
	if (find(m, name, &i) < 0)
		return -1;
	if (addr)
		*addr = m->s.addr[i];
	return 0;
}

int kvmon_sysmap_resolve(const struct kvmon_sysmap *m, uint64_t addr,
			 const char **name, uint64_t *offset)
{
	if (!m)
		return kvmon_set_error(EINVAL, "System.map resolve: no map");
	return kvmon_symtab_resolve(&m->s, addr, name, offset);
}

/* ---------------------------------------------------------------- KASLR */

/* Moved by KASLR: inside the kernel image mapping and not absolute. */
static bool relocatable(const struct kvmon_sysmap *m, size_t i)
{
	return m->s.addr[i] >= KVMON_X86_START_KERNEL_MAP && m->s.type[i] != 'A' &&
	       m->s.type[i] != 'a';
}

int kvmon_sysmap_slide(const struct kvmon_sysmap *m, const char *anchor,
		       uint64_t runtime, int64_t *slide)
{
	uint64_t d;
	size_t i;

	if (!m || !anchor || !slide)
		return kvmon_set_error(EINVAL, "System.map slide: bad arguments");
	if (find(m, anchor, &i) < 0)
		return -1;
	if (!relocatable(m, i))
		return kvmon_set_error(EINVAL, "System.map: %.64s (0x%llx %c) "
				       "is not a kernel-image symbol", anchor,
				       (unsigned long long)m->s.addr[i],
				       m->s.type[i]);
	if (runtime < KVMON_X86_START_KERNEL_MAP)
		return kvmon_set_error(EINVAL, "System.map: 0x%llx is not a "
				       "kernel-image address",
				       (unsigned long long)runtime);
	/* Both in the top 2 GiB: the difference fits an int64_t. */
	d = runtime - m->s.addr[i];
	*slide = runtime >= m->s.addr[i] ? (int64_t)d : -(int64_t)(0 - d);
	if (d % SLIDE_ALIGN)
		return kvmon_set_error(EPROTO, "System.map: %.64s at 0x%llx but "
				       "0x%llx at run time: a slide not a "
				       "multiple of 2 MiB (another kernel?)",
				       anchor, (unsigned long long)m->s.addr[i],
				       (unsigned long long)runtime);
	return 0;
}

static bool slide_fits(const struct kvmon_sysmap *m, int64_t slide)
{
	for (size_t i = 0; i < m->s.n; i++) {
		uint64_t a = m->s.addr[i];

		if (!relocatable(m, i))
			continue;
		if (slide >= 0 ? UINT64_MAX - a < (uint64_t)slide :
				 a - KVMON_X86_START_KERNEL_MAP <
					 0 - (uint64_t)slide)
			return false;
	}
	return true;
}

int kvmon_sysmap_relocate(struct kvmon_sysmap *m, int64_t slide)
{
	if (!m)
		return kvmon_set_error(EINVAL, "System.map relocate: no map");
	if (!slide_fits(m, slide))
		return kvmon_set_error(ERANGE, "System.map: a slide of %lld "
				       "moves symbols out of the kernel image",
				       (long long)slide);
	for (size_t i = 0; i < m->s.n; i++)
		if (relocatable(m, i))
			m->s.addr[i] += (uint64_t)slide;
	/* Absolute symbols in the image range may now sort differently. */
	if (kvmon_symtab_reindex_addr(&m->s) < 0) {
		for (size_t i = 0; i < m->s.n; i++)
			if (relocatable(m, i))
				m->s.addr[i] -= (uint64_t)slide;
		return -1;
	}
	return 0;
}

int kvmon_sysmap_kallsyms_addrs(const struct kvmon_sysmap *m,
				struct kvmon_kallsyms_addrs *a)
{
	if (!m || !a)
		return kvmon_set_error(EINVAL, "System.map: bad arguments");
	memset(a, 0, sizeof(*a));
	if (kvmon_sysmap_lookup(m, "kallsyms_names", &a->names) < 0 ||
	    kvmon_sysmap_lookup(m, "kallsyms_num_syms", &a->num_syms) < 0 ||
	    kvmon_sysmap_lookup(m, "kallsyms_token_table", &a->token_table) < 0 ||
	    kvmon_sysmap_lookup(m, "kallsyms_token_index", &a->token_index) < 0 ||
	    kvmon_sysmap_lookup(m, "kallsyms_offsets", &a->offsets) < 0 ||
	    kvmon_sysmap_lookup(m, "kallsyms_relative_base",
				&a->relative_base) < 0)
		return -1;
	if (kvmon_sysmap_lookup(m, "kallsyms_markers", &a->markers) < 0)
		a->markers = 0;
	return 0;
}
