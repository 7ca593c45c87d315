/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Option handling, VM selection and output shared by all commands. */
#include "cli.h"

#include <errno.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_init(struct cli *c, const char *prog)
{
	memset(c, 0, sizeof(*c));
	c->prog = prog;
	c->name = DEFAULT_VM_NAME;
	c->timeout_s = 0;
}

int cli_common_opt(struct cli *c, int opt, const char *arg)
{
	char *end;
	long v;

	switch (opt) {
	case OPT_JSON:
		c->json = true;
		return 1;
	case OPT_NAME:
		c->name = arg;
		return 1;
	case OPT_QMP:
		c->qmp = arg;
		return 1;
	case OPT_RUNDIR:
		c->rundir = arg;
		return 1;
	case OPT_TIMEOUT:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v <= 0 || v > 86400) {
			cli_fail(c, "--timeout takes 1..86400 seconds, not '%s'",
				 arg);
			return -1;
		}
		c->timeout_s = (int)v;
		return 1;
	default:
		return 0;
	}
}

struct kvmon_vm *cli_open_vm(struct cli *c)
{
	struct kvmon_vm *vm = c->qmp ? kvmon_vm_attach(c->qmp)
				     : kvmon_vm_open(c->rundir, c->name);

	if (!vm)
		cli_lib_fail(c, c->qmp ? c->qmp : c->name);
	return vm;
}

static void fail_json(const char *msg, int err)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "errno", json_object_new_int(err));
	cli_emit(o);
}

int cli_fail(const struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_progress_done();
	fprintf(stderr, "%s: error: %s\n", c->prog, msg);
	if (c->json)
		fail_json(msg, 0);
	return EXIT_ERROR;
}

int cli_lib_fail(const struct cli *c, const char *what)
{
	int err = kvmon_get_errno();

	cli_progress_done();
	fprintf(stderr, "%s: error: %s: %s\n", c->prog, what, kvmon_get_error());
	if (c->json) {
		char msg[1200];

		snprintf(msg, sizeof(msg), "%s: %s", what, kvmon_get_error());
		fail_json(msg, err);
	}
	return EXIT_ERROR;
}

int cli_usage_error(const struct cli *c, const char *usage)
{
	fprintf(stderr, "%s", usage);
	return cli_fail(c, "invalid usage (see --help)");
}

void cli_emit(struct json_object *o)
{
	int flags = isatty(STDOUT_FILENO) ? JSON_C_TO_STRING_PRETTY
					  : JSON_C_TO_STRING_PLAIN;

	flags |= JSON_C_TO_STRING_NOSLASHESCAPE;
	puts(json_object_to_json_string_ext(o, flags));
	fflush(stdout);
	json_object_put(o);
}

struct json_object *cli_parse(const char *text)
{
	return text ? json_tokener_parse(text) : NULL;
}

static bool progress_shown;

void cli_progress(const char *fmt, ...)
{
	va_list ap;

	if (!isatty(STDERR_FILENO))
		return;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	progress_shown = true;
}

void cli_progress_done(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress_shown = false;
	}
}

int cli_mem_opt(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_BACKEND:
		if (strcmp(arg, "file") && strcmp(arg, "process") &&
		    strcmp(arg, "qmp")) {
			cli_fail(c, "--backend takes file, process or qmp, not "
				 "'%s'", arg);
			return -1;
		}
		c->backend = arg;
		return 1;
	case OPT_DUMP:
		c->dump = arg;
		return 1;
	default:
		return 0;
	}
}

struct kvmon_mem *cli_open_mem(struct cli *c, struct kvmon_vm **vm)
{
	struct kvmon_mem *m;

	*vm = NULL;
	if (c->dump) {
		if (c->backend || c->qmp) {
			cli_fail(c, "--dump reads a file: no --backend or --qmp");
			return NULL;
		}
		m = kvmon_mem_open_dump(c->dump);
		if (!m)
			cli_lib_fail(c, c->dump);
		return m;
	}
	*vm = cli_open_vm(c);
	if (!*vm)
		return NULL;
	m = kvmon_mem_open_backend(*vm, c->backend);
	if (!m) {
		cli_lib_fail(c, "guest memory");
		kvmon_vm_close(*vm);
		*vm = NULL;
	}
	return m;
}

int cli_open_kernel(struct cli *c, struct cli_kernel *ck)
{
	memset(ck, 0, sizeof(*ck));
	ck->mem = cli_open_mem(c, &ck->vm);
	if (!ck->mem)
		return -1;
	ck->k = kvmon_kernel_open(ck->mem);
	if (!ck->k) {
		cli_lib_fail(c, "guest kernel");
		cli_close_kernel(ck);
		return -1;
	}
	/* Free the QMP socket for other tools while we read memory. */
	if (ck->vm)
		kvmon_vm_disconnect(ck->vm);
	return 0;
}

void cli_close_kernel(struct cli_kernel *ck)
{
	kvmon_kernel_close(ck->k);
	kvmon_mem_close(ck->mem);
	kvmon_vm_close(ck->vm);
	memset(ck, 0, sizeof(*ck));
}

int cli_kernel_opts(struct cli *c, int argc, char **argv, const char *usage,
		    bool *pause)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		MEM_LONG_OPTS,
		{ "pause", no_argument, NULL, OPT_PAUSE },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rc = cli_common_opt(c, opt, optarg)) < 0 ||
		    (!rc && (rc = cli_mem_opt(c, opt, optarg)) < 0))
			return -1;
		if (rc)
			continue;
		if (opt == OPT_HELP) {
			fputs(usage, stdout);
			fputs("Guest memory:\n" MEM_HELP, stdout);
			return 1;
		}
		if (opt == OPT_PAUSE && pause) {
			*pause = true;
			continue;
		}
		cli_usage_error(c, usage);
		return -1;
	}
	return 0;
}

int cli_pause(struct cli *c, struct kvmon_vm *vm, bool pause)
{
	struct kvmon_qmp *q;
	int rc;

	if (!vm && c->dump)
		return 0; /* a dump does not change: nothing to pause */
	q = kvmon_vm_qmp(vm);
	if (!q)
		return cli_lib_fail(c, "QMP");
	rc = kvmon_qmp_execute(q, pause ? "stop" : "cont", NULL, NULL);
	kvmon_vm_disconnect(vm);
	return rc < 0 ? cli_lib_fail(c, pause ? "pause" : "resume") : 0;
}

static const char *const severity_names[] = { "info", "warning", "critical" };

const char *cli_severity_name(int severity)
{
	return severity >= 0 && severity <= 2 ? severity_names[severity] : "unknown";
}

struct json_object *cli_alert(const char *vm, const struct kvmon_finding *f)
{
	struct json_object *o = json_object_new_object(), *d;
	char when[64];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, ts.tv_nsec / 1000000);
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "vm", json_object_new_string(vm));
	json_object_object_add(o, "detector", json_object_new_string(f->detector));
	json_object_object_add(o, "severity",
			       json_object_new_string(cli_severity_name(f->severity)));
	json_object_object_add(o, "message", json_object_new_string(f->message));
	d = json_tokener_parse(f->details);
	json_object_object_add(o, "details", d ? d : json_object_new_object());
	return o;
}

int cli_parse_detectors(const char *list, unsigned *mask)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "syscall_table", KVMON_DETECT_SYSCALLS },
		{ "kernel_text", KVMON_DETECT_KERNEL_TEXT },
		{ "hidden_process", KVMON_DETECT_HIDDEN_PROCESS },
		{ "hidden_module", KVMON_DETECT_HIDDEN_MODULE },
		{ "all", KVMON_DETECT_ALL },
	};
	char buf[256], *save = NULL;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(*names); i++)
			if (!strcmp(t, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(*names))
			return -1;
		*mask |= names[i].bit;
	}
	return *mask ? 0 : -1;
}

int cli_parse_size(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -1;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v > (max >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}
