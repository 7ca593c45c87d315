/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvmon mirror: copy every frame a running VM sends and receives (the tap's
 * packet socket, or a QEMU filter-dump or filter-mirror attached at run
 * time and removed on exit) to pcap files or
 * a pcap stream, a flow log, and the built-in signature matcher whose
 * alerts use the shared alert format of `kvmon watch`.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char mirror_usage[] =
	"Usage: kvmon mirror [VM] [OPTIONS]\n"
	"Mirror the VM's network traffic (both directions) while running. Nothing\n"
	"is ever sent into the VM's network. VM is a name (as --name).\n"
	"  -w FILE|-          write pcap to FILE, a FIFO, or stdout (-)\n"
	"  --iface NAME       a TAP interface NAME carrying the frames, for\n"
	"                     libpcap tools (-i NAME); what they send on it is\n"
	"                     dropped and counted\n"
	"  --netns NS         create the interface in network namespace NS\n"
	"                     (ip netns add NS first; default: kvmon's own)\n"
	"  --rotate-size N    new pcap file every N bytes (FILE.000000, ...)\n"
	"  --rotate-seconds S new pcap file every S seconds\n"
	"  --flows FILE|-     flow log: one JSON line per finished flow\n"
	"  --rules FILE       signature rules (Snort subset, docs/network.md);\n"
	"                     alerts go to stdout, one JSON object per line\n"
	"  --var NAME=VALUE   rule variable ($NAME), e.g. HOME_NET=[10.0.2.0/24];\n"
	"                     repeatable (up to 64)\n"
	"  --alerts FILE      write alerts to FILE instead of stdout\n"
	"  --netdev ID        QEMU netdev to mirror (default: net0)\n"
	"  --ring MB          receive ring size (default 16)\n"
	"  --duration SEC     stop after SEC seconds (default: SIGINT/SIGTERM)\n"
	"  --count N          stop after N frames\n"
	COMMON_HELP
	"A summary (frames, bytes, drops, malformed) goes to stderr, or to\n"
	"stdout as JSON with --json (not with -w -).\n"
	"Environment: KVMON_MIRROR_TRANSPORT=packet|dump|pipe|socketpair|listen\n"
	"is the source to try first; KVMON_MIRROR_SCHED=normal runs the receiver and the\n"
	"consumer without SCHED_BATCH.\n"
	"Exit: 0 ok, 1 alerts were raised, 2 error.\n";

enum { OPT_ROT_SIZE = OPT_FIRST_LOCAL, OPT_ROT_SEC, OPT_FLOWS, OPT_RULES,
       OPT_ALERTS, OPT_NETDEV, OPT_RING, OPT_DURATION, OPT_COUNT, OPT_IFACE,
       OPT_NETNS, OPT_VAR };
#define MAX_VARS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct ctx {
	const char *vm;
	FILE *flows, *alerts;
	uint64_t alerts_n;
};

static void on_flow(void *opaque, const char *json)
{
	struct ctx *c = opaque;

	fprintf(c->flows, "%s\n", json);
}

static void on_hit(void *opaque, const struct kvmon_rule_hit *h,
		   const struct kvmon_pkt *k)
{
	struct ctx *c = opaque;
	char *details = kvmon_rule_hit_json(h, k), msg[512];
	struct kvmon_finding f = { "net_rule", KVMON_SEVERITY_WARNING, msg,
				   details ? details : "{}" };
	struct json_object *o;

	snprintf(msg, sizeof(msg), "[sid %u] %s", h->sid, h->msg);
	o = cli_alert(c->vm, &f);
	fprintf(c->alerts, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(c->alerts);
	json_object_put(o);
	kvmon_free(details);
	c->alerts_n++;
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || !*s || *out == 0 || *out > max ? -1 : 0;
}

static char *read_rules(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len + 65536 > cap) {
			if (cap > (256u << 20))
				break;
			char *nb = realloc(buf, cap = cap * 2 + 65536);

			if (!nb)
				break;
			buf = nb;
		}
		size_t r = fread(buf + *len, 1, cap - *len, f);

		if (r == 0)
			break;
		*len += r;
	}
	fclose(f);
	return buf;
}

int cmd_mirror(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONG_OPTS,
		{ "rotate-size", required_argument, NULL, OPT_ROT_SIZE },
		{ "rotate-seconds", required_argument, NULL, OPT_ROT_SEC },
		{ "flows", required_argument, NULL, OPT_FLOWS },
		{ "rules", required_argument, NULL, OPT_RULES },
		{ "alerts", required_argument, NULL, OPT_ALERTS },
		{ "netdev", required_argument, NULL, OPT_NETDEV },
		{ "ring", required_argument, NULL, OPT_RING },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "iface", required_argument, NULL, OPT_IFACE },
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "var", required_argument, NULL, OPT_VAR },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c;
	const char *wfile = NULL, *flows_path = NULL, *rules_path = NULL,
		   *alerts_path = NULL, *netdev = NULL, *iface = NULL, *netns = NULL;
	struct kvmon_tap *tap = NULL;
	unsigned long long rot_size = 0, rot_sec = 0, ring_mb = 16, duration = 0,
			   count = 0, v;
	struct ctx x = { 0 };
	struct kvmon_vm *vm = NULL;
	struct kvmon_mirror *m = NULL;
	struct kvmon_pcap *pcap = NULL;
	struct kvmon_flows *ft = NULL;
	struct kvmon_rules *rules = NULL;
	const uint8_t *buf = NULL;
	const char *vars[MAX_VARS + 1] = { NULL };
	size_t nvars = 0;
	int opt, rc = EXIT_ERROR;

	cli_init(&c, "kvmon mirror");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "w:", opts, NULL)) != -1) {
		int h = cli_common_opt(&c, opt, optarg);

		if (h < 0)
			return EXIT_ERROR;
		if (h > 0)
			continue;
		switch (opt) {
		case OPT_HELP:
			fputs(mirror_usage, stdout);
			return EXIT_OK;
		case 'w':
			wfile = optarg;
			break;
		case OPT_FLOWS:
			flows_path = optarg;
			break;
		case OPT_RULES:
			rules_path = optarg;
			break;
		case OPT_ALERTS:
			alerts_path = optarg;
			break;
		case OPT_NETDEV:
			netdev = optarg;
			break;
		case OPT_IFACE:
			iface = optarg;
			break;
		case OPT_NETNS:
			netns = optarg;
			break;
		case OPT_VAR:
			if (nvars >= MAX_VARS || !strchr(optarg, '='))
				return cli_fail(&c, "--var NAME=VALUE, at most %d", MAX_VARS);
			vars[nvars++] = optarg;
			break;
		case OPT_ROT_SIZE:
		case OPT_ROT_SEC:
		case OPT_RING:
		case OPT_DURATION:
		case OPT_COUNT:
			if (parse_u64(optarg, opt == OPT_RING ? 4096 : 1ull << 50, &v) < 0)
				return cli_fail(&c, "bad number '%s'", optarg);
			if (opt == OPT_ROT_SIZE)
				rot_size = v;
			else if (opt == OPT_ROT_SEC)
				rot_sec = v;
			else if (opt == OPT_RING)
				ring_mb = v;
			else if (opt == OPT_DURATION)
				duration = v;
			else
				count = v;
			break;
		default:
			return cli_usage_error(&c, mirror_usage);
		}
	}
	if (optind < argc)
		c.name = argv[optind++];
	if (optind < argc)
		return cli_usage_error(&c, mirror_usage);
	if (!wfile && !flows_path && !rules_path && !iface)
		return cli_fail(&c, "nothing to do: give -w, --iface, --flows and/or --rules");
	if (netns && !iface)
		return cli_fail(&c, "--netns needs --iface");
	if (nvars && !rules_path)
		return cli_fail(&c, "--var needs --rules");
	bool w_stdout = wfile && !strcmp(wfile, "-");

	if (w_stdout && ((rules_path && !alerts_path) || c.json ||
			 (flows_path && !strcmp(flows_path, "-"))))
		return cli_fail(&c, "-w - uses stdout: send alerts/flows to a file, no --json");
	if ((rot_size || rot_sec) && (!wfile || w_stdout))
		return cli_fail(&c, "--rotate-* need -w FILE");
	x.flows = stdout;
	x.alerts = stdout;
	if (rules_path) {
		size_t len;
		char *text = read_rules(rules_path, &len);

		if (!text && len == 0 && access(rules_path, R_OK) < 0)
			return cli_fail(&c, "%s: %s", rules_path, strerror(errno));
		rules = kvmon_rules_parse_vars(text ? text : "", len, vars);
		free(text);
		if (!rules)
			return cli_lib_fail(&c, rules_path);
	}
	if (flows_path && strcmp(flows_path, "-") &&
	    !(x.flows = fopen(flows_path, "we"))) {
		cli_fail(&c, "%s: %s", flows_path, strerror(errno));
		goto out;
	}
	if (alerts_path && !(x.alerts = fopen(alerts_path, "we"))) {
		cli_fail(&c, "%s: %s", alerts_path, strerror(errno));
		goto out;
	}
	if (flows_path && !(ft = kvmon_flows_new(0, 60))) {
		cli_lib_fail(&c, "flow table");
		goto out;
	}
	if (wfile) {
		pcap = w_stdout ? kvmon_pcap_fdopen(STDOUT_FILENO)
				: kvmon_pcap_open(wfile, rot_size, (unsigned)rot_sec);
		if (!pcap) {
			cli_lib_fail(&c, wfile);
			goto out;
		}
	}
	if (iface && !(tap = kvmon_tap_open(iface, netns))) {
		cli_lib_fail(&c, iface);
		goto out;
	}
	vm = cli_open_vm(&c);
	if (!vm)
		goto out;
	x.vm = kvmon_vm_name(vm);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a reader that goes away ends the capture */
	m = kvmon_mirror_attach(vm, netdev, (size_t)ring_mb << 20);
	if (!m) {
		cli_lib_fail(&c, "attach mirror");
		goto out;
	}
	/* QEMU allows one QMP client: let others in while we capture. */
	kvmon_vm_disconnect(vm);
	kvmon_mirror_sched_consumer(); /* docs/network.md */
	fprintf(stderr, "kvmon mirror: mirroring %s (netdev %s)\n", x.vm,
		netdev ? netdev : "net0");
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t frames = 0, bytes = 0;
	uint64_t last_expire = 0;
	bool io_error = false;

	while (!stop && !io_error && (!count || frames < count)) {
		struct kvmon_frame_info fi;
		struct timespec now;
		/* Frames are only read here: no copy out of the ring. */
		int r = kvmon_mirror_next_ref(m, &buf, &fi, 200);

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (duration && (unsigned long long)(now.tv_sec - t0.tv_sec) >= duration)
			stop = 1;
		if (r == 0) {
			if (pcap)
				kvmon_pcap_flush(pcap);
			if (ft && (uint64_t)now.tv_sec != last_expire) {
				struct timespec rt;

				clock_gettime(CLOCK_REALTIME, &rt);
				kvmon_flows_expire(ft, (uint64_t)rt.tv_sec * 1000000000u +
							       (uint64_t)rt.tv_nsec, on_flow, &x);
				fflush(x.flows);
				last_expire = (uint64_t)now.tv_sec;
			}
			continue;
		}
		if (r < 0 && errno == EPIPE) { /* VM gone, or QEMU dropped the filter */
			cli_lib_fail(&c, "mirror");
			io_error = true;
			break;
		}
		if (r < 0)
			continue;
		frames++;
		bytes += fi.len;
		if (pcap && kvmon_pcap_write(pcap, fi.ts_ns, buf, fi.len) < 0) {
			cli_lib_fail(&c, "pcap output");
			io_error = true;
		}
		if (tap && kvmon_tap_write(tap, buf, fi.len) < 0) {
			cli_lib_fail(&c, "interface output");
			io_error = true;
		}
		if (ft)
			kvmon_flows_add(ft, fi.ts_ns, buf, fi.len);
		if (rules && kvmon_rules_match(rules, buf, fi.len, on_hit, &x) < 0)
			cli_lib_fail(&c, "rules");
	}
	struct kvmon_mirror_stats st;
	/* A string literal in the library: still valid after close. */
	const char *transport = kvmon_mirror_id(m, "transport");
	char netdev_type[32];

	snprintf(netdev_type, sizeof(netdev_type), "%s", kvmon_mirror_id(m, "netdev-type"));

	kvmon_mirror_stats(m, &st);
	if (kvmon_mirror_close(m) < 0)
		cli_lib_fail(&c, "detach mirror");
	m = NULL;
	if (pcap && kvmon_pcap_flush(pcap) < 0 && !io_error) {
		cli_lib_fail(&c, "pcap output");
		io_error = true;
	}
	struct kvmon_flow_stats fs = { 0 };

	if (ft) {
		kvmon_flows_expire(ft, UINT64_MAX, on_flow, &x);
		fflush(x.flows);
		kvmon_flows_stats(ft, &fs);
	}
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "vm", json_object_new_string(x.vm));
	json_object_object_add(o, "frames", json_object_new_int64((int64_t)frames));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
	json_object_object_add(o, "transport", json_object_new_string(transport ? transport : "listen"));
	json_object_object_add(o, "netdev_type", json_object_new_string(netdev_type));
	json_object_object_add(o, "dropped_ring", json_object_new_int64((int64_t)st.dropped));
	json_object_object_add(o, "malformed_stream",
			       json_object_new_int64((int64_t)(st.framing.zero_len +
							       st.framing.oversize +
							       st.framing.bad_vnet +
							       st.framing.truncated)));
	json_object_object_add(o, "malformed_packets", json_object_new_int64((int64_t)fs.malformed));
	json_object_object_add(o, "flows", json_object_new_int64((int64_t)fs.flows));
	json_object_object_add(o, "alerts", json_object_new_int64((int64_t)x.alerts_n));
	json_object_object_add(o, "pcap_files",
			       json_object_new_int64(pcap ? (int64_t)kvmon_pcap_files(pcap) : 0));
	if (tap) {
		uint64_t txd = 0, wd = 0;

		kvmon_tap_stats(tap, &txd, &wd);
		json_object_object_add(o, "iface_tx_dropped", json_object_new_int64((int64_t)txd));
		json_object_object_add(o, "iface_dropped", json_object_new_int64((int64_t)wd));
	}
	if (c.json) {
		cli_emit(o);
	} else {
		fprintf(stderr, "kvmon mirror: %s\n",
			json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	rc = io_error ? EXIT_ERROR : x.alerts_n ? EXIT_FINDINGS : EXIT_OK;
out:
	if (m)
		kvmon_mirror_close(m);
	if (pcap && kvmon_pcap_close(pcap) < 0 && rc != EXIT_ERROR)
		rc = cli_lib_fail(&c, "pcap output");
	kvmon_vm_close(vm);
	kvmon_tap_close(tap);
	kvmon_flows_free(ft);
	kvmon_rules_free(rules);
	if (x.flows && x.flows != stdout)
		fclose(x.flows);
	if (x.alerts && x.alerts != stdout)
		fclose(x.alerts);
	return rc;
}
