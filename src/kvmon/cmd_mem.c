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
	"Read guest-physical memory (hex dump; at most 1 MiB; LENGTH default\n"
	"256) or find TEXT in guest RAM, through the VM's shared RAM file,\n"
	"mapped read-only.\n"
	"  --from GPA       start searching at GPA (default 0)\n"
	COMMON_HELP
	"Exit: 0 ok (find: found), 1 not found, 2 error.\n";

enum { OPT_FROM = OPT_FIRST_LOCAL };

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

int cmd_mem(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "from", required_argument, NULL, OPT_FROM },
		{ 0 }
	};
	struct kvmon_vm *vm;
	struct kvmon_mem *m;
	uint64_t from = 0;
	struct cli c;
	int opt, rc;

	cli_init(&c, "kvmon mem");
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(mem_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(&c, opt, optarg)) < 0)
			return EXIT_ERROR;
		if (rc)
			continue;
		if (opt == OPT_HELP) {
			fputs(mem_usage, stdout);
			return EXIT_OK;
		}
		if (opt != OPT_FROM || parse_u64(optarg, &from) < 0)
			return cli_usage_error(&c, mem_usage);
	}
	if (strcmp(argv[0], "read") && strcmp(argv[0], "find"))
		return cli_usage_error(&c, mem_usage);
	if (!strcmp(argv[0], "find") && argc - optind != 1)
		return cli_usage_error(&c, mem_usage);
	vm = cli_open_vm(&c);
	if (!vm)
		return EXIT_ERROR;
	m = kvmon_mem_open(vm);
	if (!m)
		rc = cli_lib_fail(&c, "guest memory");
	else if (!strcmp(argv[0], "read"))
		rc = mem_read(&c, m, argv + optind, argc - optind);
	else
		rc = mem_find(&c, m, argv[optind], from);
	kvmon_mem_close(m);
	kvmon_vm_close(vm);
	return rc;
}
