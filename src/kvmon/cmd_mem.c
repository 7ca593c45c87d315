/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon mem read|find: guest-physical memory, read-only. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_READ (1u << 20)

static const char mem_usage[] =
	"Usage: kvmon mem read [OPTIONS] GPA [LENGTH]\n"
	"       kvmon mem find [OPTIONS] TEXT [--from GPA]\n"
	"       kvmon mem info [OPTIONS]\n"
	"       kvmon mem dump [OPTIONS] FILE [--raw]\n"
	"Read guest-physical memory (hex dump; at most 1 MiB; LENGTH default\n"
	"256), find TEXT in guest RAM, show the backend and its RAM ranges, or\n"
	"save guest RAM to a new FILE: an ELF core written by QEMU\n"
	"(dump-guest-memory), or with --raw an image whose offset is the\n"
	"guest-physical address. The guest is paused while it is saved.\n"
	"Everything is read-only; dumps are read back with --dump FILE.\n"
	"  --from GPA       start searching at GPA (default 0)\n"
	"  --raw            dump: raw image instead of an ELF core\n"
	MEM_HELP
	COMMON_HELP
	"Exit: 0 ok (find: found), 1 not found, 2 error.\n";

enum { OPT_FROM = OPT_FIRST_LOCAL, OPT_RAW };

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return (errno || *end || !*s || *s == '-') ? -1 : 0;
}

static void hexdump(uint64_t gpa, const uint8_t *p, size_t len)
{
	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		printf("%012llx ", (unsigned long long)(gpa + off));
		for (size_t i = 0; i < 16; i++)
			i < n ? printf(" %02x", p[off + i]) : printf("   ");
		printf("  ");
		for (size_t i = 0; i < n; i++)
			putchar(isprint(p[off + i]) ? p[off + i] : '.');
		putchar('\n');
	}
}

static struct json_object *hex_json(const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(len * 2 + 1);
	struct json_object *o;

	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[len * 2] = '\0';
	o = json_object_new_string(s);
	free(s);
	return o;
}

static int mem_read(struct cli *c, struct kvmon_mem *m, char **args, int n)
{
	uint64_t gpa, len = 256;
	uint8_t *buf;
	int rc = EXIT_OK;

	if (n < 1 || n > 2 || parse_u64(args[0], &gpa) < 0 ||
	    (n == 2 && (parse_u64(args[1], &len) < 0 || len == 0 || len > MAX_READ)))
		return cli_usage_error(c, mem_usage);
	buf = malloc(len);
	if (!buf)
		return cli_fail(c, "out of memory");
	if (kvmon_mem_read_phys(m, gpa, buf, len) < 0) {
		rc = cli_lib_fail(c, "read");
	} else if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "gpa", json_object_new_uint64(gpa));
		json_object_object_add(o, "length", json_object_new_uint64(len));
		json_object_object_add(o, "hex", hex_json(buf, len));
		cli_emit(o);
	} else {
		hexdump(gpa, buf, len);
	}
	free(buf);
	return rc;
}

static int mem_find(struct cli *c, struct kvmon_mem *m, const char *text,
		    uint64_t from)
{
	uint64_t at = 0;
	int rc = kvmon_mem_find(m, from, text, strlen(text), &at);

	if (rc < 0)
		return cli_lib_fail(c, "find");
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "found", json_object_new_boolean(rc == 1));
		json_object_object_add(o, "gpa", rc == 1 ? json_object_new_uint64(at) : NULL);
		cli_emit(o);
	} else if (rc == 1) {
		printf("0x%llx\n", (unsigned long long)at);
	} else {
		printf("not found\n");
	}
	return rc == 1 ? EXIT_OK : EXIT_FINDINGS;
}

static int mem_info(struct cli *c, struct kvmon_mem *m)
{
	struct kvmon_ram_range *r;
	struct json_object *o, *arr;
	size_t n = 0;

	if (kvmon_mem_ranges(m, NULL, 0, &n) < 0)
		return cli_lib_fail(c, "ranges");
	r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		return cli_fail(c, "out of memory");
	if (kvmon_mem_ranges(m, r, n, &n) < 0) {
		free(r);
		return cli_lib_fail(c, "ranges");
	}
	if (!c->json) {
		printf("backend  %s\n", kvmon_mem_backend(m));
		printf("size     %llu MiB (%llu bytes)\n",
		       (unsigned long long)(kvmon_mem_size(m) >> 20),
		       (unsigned long long)kvmon_mem_size(m));
		for (size_t i = 0; i < n; i++)
			printf("range    0x%012llx-0x%012llx  %-10s @0x%llx\n",
			       (unsigned long long)r[i].gpa,
			       (unsigned long long)(r[i].gpa + r[i].size - 1),
			       r[i].backend, (unsigned long long)r[i].backend_offset);
		free(r);
		return EXIT_OK;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(o, "backend",
			       json_object_new_string(kvmon_mem_backend(m)));
	json_object_object_add(o, "size", json_object_new_uint64(kvmon_mem_size(m)));
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "gpa", json_object_new_uint64(r[i].gpa));
		json_object_object_add(e, "size", json_object_new_uint64(r[i].size));
		json_object_object_add(e, "backend", json_object_new_string(r[i].backend));
		json_object_object_add(e, "backend_offset",
				       json_object_new_uint64(r[i].backend_offset));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "ranges", arr);
	cli_emit(o);
	free(r);
	return EXIT_OK;
}

static int mem_dump(struct cli *c, const char *path, bool raw)
{
	struct kvmon_vm *vm;
	struct kvmon_mem *m;
	int rc;

	if (c->dump)
		return cli_fail(c, "mem dump saves a VM's memory: no --dump");
	if (c->backend)
		return cli_fail(c, "mem dump: no --backend (QEMU writes ELF "
				"dumps; --raw reads through the default backend)");
	vm = cli_open_vm(c);
	if (!vm)
		return EXIT_ERROR;
	cli_progress("saving guest memory to %s ...", path);
	rc = kvmon_mem_dump(vm, path, raw ? "raw" : "elf", c->timeout_s * 1000);
	kvmon_vm_close(vm);
	if (rc < 0)
		return cli_lib_fail(c, "dump");
	cli_progress_done();
	/* Prove it reads back before saying it worked. */
	m = kvmon_mem_open_dump(path);
	if (!m)
		return cli_lib_fail(c, path);
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "path", json_object_new_string(path));
		json_object_object_add(o, "format",
				       json_object_new_string(raw ? "raw" : "elf"));
		json_object_object_add(o, "size",
				       json_object_new_uint64(kvmon_mem_size(m)));
		cli_emit(o);
	} else {
		printf("%s: %s dump, %llu MiB of guest RAM\n", path,
		       raw ? "raw" : "ELF", (unsigned long long)(kvmon_mem_size(m) >> 20));
	}
	kvmon_mem_close(m);
	return EXIT_OK;
}

int cmd_mem(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		MEM_LONG_OPTS,
		{ "from", required_argument, NULL, OPT_FROM },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ 0 }
	};
	struct kvmon_vm *vm = NULL;
	struct kvmon_mem *m;
	const char *what;
	uint64_t from = 0;
	bool raw = false;
	struct cli c;
	int opt, rc, nargs;

	cli_init(&c, "kvmon mem");
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(mem_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0 ||
		    (!rc && (rc = cli_mem_opt(&c, opt, optarg)) < 0))
			return EXIT_ERROR;
		if (rc)
			continue;
		if (opt == OPT_HELP) {
			fputs(mem_usage, stdout);
			return EXIT_OK;
		}
		if (opt == OPT_RAW) {
			raw = true;
			continue;
		}
		if (opt != OPT_FROM || parse_u64(optarg, &from) < 0)
			return cli_usage_error(&c, mem_usage);
	}
	what = argv[0];
	nargs = argc - optind;
	if ((strcmp(what, "read") && strcmp(what, "find") && strcmp(what, "info") &&
	     strcmp(what, "dump")) ||
	    (!strcmp(what, "find") && nargs != 1) ||
	    (!strcmp(what, "info") && nargs != 0) ||
	    (!strcmp(what, "dump") && nargs != 1) ||
	    (raw && strcmp(what, "dump")))
		return cli_usage_error(&c, mem_usage);
	if (!strcmp(what, "dump"))
		return mem_dump(&c, argv[optind], raw);
	m = cli_open_mem(&c, &vm);
	if (!m)
		return EXIT_ERROR;
	if (!strcmp(what, "read"))
		rc = mem_read(&c, m, argv + optind, nargs);
	else if (!strcmp(what, "info"))
		rc = mem_info(&c, m);
	else
		rc = mem_find(&c, m, argv[optind], from);
	kvmon_mem_close(m);
	kvmon_vm_close(vm);
	return rc;
}
