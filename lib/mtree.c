/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest-physical RAM layout from HMP `info mtree -f` (QMP has no command
 * for it). HMP text is scraped only here, as a pure bounded function over
 * the reply, so a hostile or changed format yields an error, not a crash.
 *
 * Only the first FlatView whose address-space list names "memory" is used:
 * that is what the CPUs see. Entries look like
 *   0000000000100000-000000000fffffff (prio 0, ram): mem @0000000000100000
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* Parse one flat-view entry line; true if it is RAM-like. */
static bool parse_entry(const char *p, const char *end,
			struct kvmon_ram_range *r)
{
	uint64_t start, last, off = 0;
	const char *type, *name;
	size_t tlen, nlen;

	while (p < end && *p == ' ')
		p++;
	if (!kvmon_parse_hex(&p, end, &start) || !kvmon_parse_lit(&p, end, "-") ||
	    !kvmon_parse_hex(&p, end, &last) || !kvmon_parse_lit(&p, end, " (prio "))
		return false;
	while (p < end && *p != ',')
		p++;
	if (!kvmon_parse_lit(&p, end, ", "))
		return false;
	type = p;
	while (p < end && *p != ')')
		p++;
	tlen = (size_t)(p - type);
	if (!kvmon_parse_lit(&p, end, "): "))
		return false;
	if (!((tlen == 3 && !memcmp(type, "ram", 3)) ||
	      (tlen == 3 && !memcmp(type, "rom", 3)) ||
	      (tlen == 4 && !memcmp(type, "romd", 4))))
		return false;
	name = p;
	while (p < end && *p != ' ')
		p++;
	nlen = (size_t)(p - name);
	if (nlen == 0 || nlen >= sizeof(r->backend))
		return false;
	if (kvmon_parse_lit(&p, end, " @") && !kvmon_parse_hex(&p, end, &off))
		return false;
	if (last < start || last - start == UINT64_MAX)
		return false;
	if (off > UINT64_MAX - (last - start))
		return false;
	r->gpa = start;
	r->size = last - start + 1;
	r->backend_offset = off;
	memcpy(r->backend, name, nlen);
	r->backend[nlen] = '\0';
	return true;
}

static void continue_line(const char **p, const char *nl, const char *end)
{
	*p = nl ? nl + 1 : end;
}

int kvmon_parse_mtree(const char *text, size_t len, struct kvmon_ram_range *out,
		      size_t max, size_t *count)
{
	const char *p = text, *end = text + len;
	bool in_view = false, is_memory = false, done = false, found = false;
	size_t n = 0;

	*count = 0;
	while (p < end && !done) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le > p && le[-1] == '\r')
			le--;
		if ((size_t)(le - p) >= 10 && !memcmp(p, "FlatView #", 10)) {
			if (is_memory)
				done = true; /* the memory view has ended */
			in_view = true;
			is_memory = false;
		} else if (in_view && (size_t)(le - p) >= 13 &&
			   !memcmp(p, " AS \"memory\",", 13)) {
			is_memory = true;
			found = true;
		} else if (is_memory) {
			struct kvmon_ram_range r;

			if (parse_entry(p, le, &r)) {
				struct kvmon_ram_range *prev =
					n > 0 && n <= max ? &out[n - 1] : NULL;

				/* Firmware splits RAM by PAM attributes: join
				 * pieces contiguous in both address spaces. */
				if (prev && !strcmp(prev->backend, r.backend) &&
				    prev->gpa + prev->size == r.gpa &&
				    prev->backend_offset + prev->size ==
					    r.backend_offset &&
				    prev->size <= UINT64_MAX - r.size) {
					prev->size += r.size;
					continue_line(&p, nl, end);
					continue;
				}
				if (n < max)
					out[n] = r;
				n++;
			}
		}
		continue_line(&p, nl, end);
	}
	if (!found)
		return kvmon_set_error(EPROTO,
				       "info mtree: no flat view for the "
				       "\"memory\" address space");
	if (n == 0)
		return kvmon_set_error(EPROTO, "info mtree: no RAM ranges");
	*count = n;
	return 0;
}
