/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kvmon kernel: what kvmon learned of the guest kernel, and low-level
 * lookups (symbols, struct members, address translation, reads). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char kernel_usage[] =
	"Usage: kvmon kernel info [OPTIONS]\n"
	"       kvmon kernel sym NAME            address of a kernel symbol\n"
	"       kvmon kernel addr ADDRESS        symbol+offset of an address\n"
	"       kvmon kernel member STRUCT PATH  offset and size from BTF\n"
	"       kvmon kernel translate VADDR     kernel virtual -> guest physical\n"
	"       kvmon kernel read VADDR [LENGTH] hex dump of kernel virtual memory\n"
	"Everything is learned from guest memory alone: VMCOREINFO, kallsyms,\n"
	"the kernel's own BTF, and a native page walk.\n"
	COMMON_HELP
	"Exit: 0 ok, 1 not found, 2 error.\n";

static int parse_addr(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end || !*s) {
		errno = 0;
		*v = strtoull(s, &end, 16); /* kallsyms-style bare hex */
		return (errno || *end) ? -1 : 0;
	}
	return 0;
}

static void put_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static int k_info(struct cli *c, struct kvmon_kernel *k)
{
	uint64_t init_top = 0, gpa = 0;

	kvmon_kernel_symbol(k, "init_top_pgt", &init_top);
	kvmon_kernel_translate(k, init_top, &gpa);
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "release",
				       json_object_new_string(kvmon_kernel_release(k)));
		put_u64(o, "kaslr_offset", kvmon_kernel_kaslr_offset(k));
		put_u64(o, "symbols", kvmon_kernel_symbol_count(k));
		put_u64(o, "page_table_root", gpa);
		cli_emit(o);
		return EXIT_OK;
	}
	printf("release       %s\nkaslr offset  0x%llx\nsymbols       %zu\n"
	       "page tables   init_top_pgt at guest-physical 0x%llx\n",
	       kvmon_kernel_release(k),
	       (unsigned long long)kvmon_kernel_kaslr_offset(k),
	       kvmon_kernel_symbol_count(k), (unsigned long long)gpa);
	return EXIT_OK;
}

static int k_read(struct cli *c, struct kvmon_kernel *k, uint64_t va,
		  uint64_t len)
{
	uint8_t buf[4096];

	if (len == 0 || len > sizeof(buf))
		return cli_fail(c, "LENGTH must be 1..%zu", sizeof(buf));
	if (kvmon_kernel_read(k, va, buf, len) < 0)
		return cli_lib_fail(c, "read");
	if (c->json) {
		struct json_object *o = json_object_new_object();
		char *hex = malloc(len * 2 + 1);

		for (uint64_t i = 0; hex && i < len; i++)
			snprintf(hex + 2 * i, 3, "%02x", buf[i]);
		put_u64(o, "va", va);
		json_object_object_add(o, "hex", json_object_new_string(hex ? hex : ""));
		free(hex);
		cli_emit(o);
		return EXIT_OK;
	}
	for (uint64_t off = 0; off < len; off += 16) {
		printf("%016llx ", (unsigned long long)(va + off));
		for (uint64_t i = off; i < off + 16 && i < len; i++)
			printf(" %02x", buf[i]);
		printf("  ");
		for (uint64_t i = off; i < off + 16 && i < len; i++)
			putchar(isprint(buf[i]) ? buf[i] : '.');
		putchar('\n');
	}
	return EXIT_OK;
}

static int k_lookup(struct cli *c, struct kvmon_kernel *k, const char *what,
		    char **args, int nargs)
{
	struct json_object *o = json_object_new_object();
	uint64_t a = 0, b = 0;
	char name[256];
	int rc = EXIT_OK;

	if (!strcmp(what, "sym") && nargs == 1) {
		if (kvmon_kernel_symbol(k, args[0], &a) < 0)
			rc = EXIT_FINDINGS;
		else if (!c->json)
			printf("0x%016llx\n", (unsigned long long)a);
		json_object_object_add(o, "symbol", json_object_new_string(args[0]));
		json_object_object_add(o, "address", rc ? NULL : json_object_new_uint64(a));
	} else if (!strcmp(what, "addr") && nargs == 1 && parse_addr(args[0], &a) == 0) {
		if (kvmon_kernel_resolve(k, a, name, sizeof(name), &b) < 0)
			rc = EXIT_FINDINGS;
		else if (!c->json)
			printf("%s+0x%llx\n", name, (unsigned long long)b);
		put_u64(o, "address", a);
		json_object_object_add(o, "symbol", rc ? NULL : json_object_new_string(name));
		json_object_object_add(o, "offset", rc ? NULL : json_object_new_uint64(b));
	} else if (!strcmp(what, "member") && nargs == 2) {
		if (kvmon_kernel_member(k, args[0], args[1], &a, &b) < 0)
			rc = kvmon_get_errno() == ENOENT ? EXIT_FINDINGS : EXIT_ERROR;
		else if (!c->json)
			printf("offset %llu size %llu\n", (unsigned long long)a,
			       (unsigned long long)b);
		json_object_object_add(o, "offset", rc ? NULL : json_object_new_uint64(a));
		json_object_object_add(o, "size", rc ? NULL : json_object_new_uint64(b));
	} else if (!strcmp(what, "translate") && nargs == 1 &&
		   parse_addr(args[0], &a) == 0) {
		if (kvmon_kernel_translate(k, a, &b) < 0)
			rc = EXIT_FINDINGS;
		else if (!c->json)
			printf("0x%llx\n", (unsigned long long)b);
		put_u64(o, "va", a);
		json_object_object_add(o, "gpa", rc ? NULL : json_object_new_uint64(b));
	} else {
		json_object_put(o);
		return cli_usage_error(c, kernel_usage);
	}
	if (rc != EXIT_OK)
		fprintf(stderr, "%s: %s\n", c->prog, kvmon_get_error());
	if (c->json) {
		if (rc != EXIT_OK)
			json_object_object_add(o, "error",
					       json_object_new_string(kvmon_get_error()));
		cli_emit(o);
	} else {
		json_object_put(o);
	}
	return rc;
}

int cmd_kernel(int argc, char **argv)
{
	struct cli_kernel ck;
	const char *what;
	uint64_t va = 0, len = 64;
	struct cli c;
	int rc, nargs;

	cli_init(&c, "kvmon kernel");
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(kernel_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	what = argv[1];
	rc = cli_kernel_opts(&c, argc - 1, argv + 1, kernel_usage, NULL);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_ERROR;
	argv += 1 + optind;
	nargs = argc - 1 - optind;
	if (!strcmp(what, "read") &&
	    (nargs < 1 || nargs > 2 || parse_addr(argv[0], &va) < 0 ||
	     (nargs == 2 && parse_addr(argv[1], &len) < 0)))
		return cli_usage_error(&c, kernel_usage);
	if (!strcmp(what, "info") && nargs != 0)
		return cli_usage_error(&c, kernel_usage);
	if (cli_open_kernel(&c, &ck) < 0)
		return EXIT_ERROR;
	if (!strcmp(what, "info"))
		rc = k_info(&c, ck.k);
	else if (!strcmp(what, "read"))
		rc = k_read(&c, ck.k, va, len);
	else
		rc = k_lookup(&c, ck.k, what, argv, nargs);
	cli_close_kernel(&ck);
	return rc;
}
