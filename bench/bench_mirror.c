// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Mirroring benchmarks, ratios in one run:
 *  1. receiver capacity: a synthetic sender speaking filter-mirror's
 *     protocol blasts 64-byte frames; frames/s written to a pcap file and
 *     frames lost (target >= 500,000/s with zero loss);
 *  2. rule matching: Gbit/s through 1,000 content rules on Hyperscan,
 *     against a naive memmem() loop over the same rules;
 *  3. guest network throughput (HTTP download from the real guest)
 *     with mirroring off vs on with pcap output (target <= 3% overhead),
 *     over QEMU user networking (the bundled guest's net0) or, --tap, over
 *     a tap netdev hot-added to it.
 * Usage: bench_mirror [--no-guest | --guest-only] [--pairs N | --steady SECONDS]
 *                     [--compare-sched] [--mb N] [--tap]
 *                     [--listen | --transport packet|dump|pipe|socketpair|listen]
 * (the source kvmon tries first; default: the library's choice)
 * --compare-sched (with --steady): every other two pairs of slots run the
 * receiver and the consumer under the default scheduling policy instead of
 * SCHED_BATCH, and the two medians are printed side by side.
 */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tests/support/tguest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------- 1. receiver */

#define N_FRAMES 3000000
#define BATCH 1024

struct sender {
	char path[100];
	long sent, target, rate; /* rate: frames/s, 0 = unpaced */
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t *buf = malloc(BATCH * 68);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	for (int i = 0; i < BATCH; i++) {
		uint8_t *r = buf + i * 68;

		r[0] = 0;
		r[1] = 0;
		r[2] = 0;
		r[3] = 64;
		memset(r + 4, i & 0xff, 64);
		r[4 + 12] = 0x08; /* IPv4 ethertype, like real traffic */
		r[4 + 13] = 0x00;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		free(buf);
		return NULL;
	}
	double t0 = now_s();

	while (s->sent < s->target) {
		size_t off = 0, len = BATCH * 68;

		if (s->rate) { /* pace: never ahead of the schedule */
			double due = t0 + (double)s->sent / (double)s->rate;

			while (now_s() < due)
				;
		}

		while (off < len) {
			ssize_t w = write(fd, buf + off, len - off);

			if (w <= 0)
				goto out;
			off += (size_t)w;
		}
		s->sent += BATCH;
	}
out:
	close(fd);
	free(buf);
	return NULL;
}

/* One run at `rate` frames/s (0 = as fast as possible) for `n` frames. */
static int receiver_run(const char *root, long rate, long n, double *fps,
			long *lost, bool verbose)
{
	n = (n + BATCH - 1) / BATCH * BATCH; /* the sender writes whole batches */
	struct sender s = { .sent = 0, .target = n, .rate = rate };
	char pcap_path[256];
	struct kvmon_mirror *m;
	struct kvmon_pcap *p;
	struct kvmon_mirror_stats st;
	static uint8_t buf[KVMON_NET_MAX_FRAME];
	struct kvmon_frame_info fi;
	pthread_t th;
	long got = 0;

	if (snprintf(s.path, sizeof(s.path), "%s/bench-mirror.sock", root) >= (int)sizeof(s.path))
		return -1;
	snprintf(pcap_path, sizeof(pcap_path), "%s/bench-mirror.pcap", root);
	unlink(s.path);
	m = kvmon_mirror_listen(s.path, 64u << 20, false);
	p = kvmon_pcap_open(pcap_path, 0, 0);
	if (!m || !p) {
		fprintf(stderr, "bench: %s\n", kvmon_get_error());
		return -1;
	}
	double t0 = now_s();

	pthread_create(&th, NULL, sender_main, &s);
	while (got + (long)0 < n && kvmon_mirror_next(m, buf, sizeof(buf), &fi, 1000) == 1) {
		kvmon_pcap_write(p, fi.ts_ns, buf, fi.len);
		got++;
	}
	kvmon_pcap_flush(p);
	double dt = now_s() - t0;

	pthread_join(th, NULL);
	kvmon_mirror_stats(m, &st);
	struct stat sb;

	stat(pcap_path, &sb);
	*fps = (double)got / dt;
	*lost = s.sent - got;
	if (verbose)
		printf("  offered %8ld/s: %ld frames sent, %ld written to pcap (%.0f MB), "
		       "%llu dropped, %.0f frames/s\n", rate, s.sent, got,
		       (double)sb.st_size / 1e6, (unsigned long long)st.dropped, *fps);
	kvmon_pcap_close(p);
	kvmon_mirror_close(m);
	unlink(pcap_path);
	return 0;
}

static int bench_receiver(const char *root)
{
	static const long rates[] = { 500000, 750000, 1000000, 1250000, 1500000, 2000000 };
	double fps, best = 0;
	long lost;

	printf("receiver: synthetic filter-mirror sender, 64-byte frames, pcap file output\n");
	for (size_t i = 0; i < sizeof(rates) / sizeof(*rates); i++) {
		if (receiver_run(root, rates[i], rates[i] * 2, &fps, &lost, true) < 0)
			return -1;
		if (lost == 0 && fps > best)
			best = fps;
	}
	if (receiver_run(root, 0, N_FRAMES, &fps, &lost, false) < 0)
		return -1;
	printf("  unpaced sender: %.0f frames/s delivered, %ld dropped (counted, sender "
	       "never blocked)\n", fps, lost);
	printf("  %-40s %10.0f frames/s  (target >= 500000: %s)\n",
	       "highest zero-loss rate", best, best >= 500000 ? "met" : "NOT met");
	return 0;
}

/* --------------------------------------------------------- 2. rules */

static size_t build_frame(uint8_t *f, const uint8_t *payload, size_t plen)
{
	size_t tot = 40 + plen;

	memset(f, 0, 54);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8);
	f[17] = (uint8_t)tot;
	f[23] = 6;
	memcpy(f + 26, "\x0a\x00\x02\x02\x0a\x00\x02\x0f", 8);
	f[34] = 0x9c;
	f[36] = 0;
	f[37] = 80;
	f[46] = 0x50;
	memcpy(f + 54, payload, plen);
	return 54 + plen;
}

static bool naive_nocase(const uint8_t *p, size_t n, const char *pat)
{
	size_t m = strlen(pat);

	for (size_t i = 0; i + m <= n; i++)
		if (!strncasecmp((const char *)p + i, pat, m))
			return true;
	return false;
}

static void bench_rules(void)
{
	enum { NRULES = 1000, NFRAMES = 4096, PLEN = 1460 };
	char *text = malloc(NRULES * 200), (*pat)[24] = malloc(NRULES * 24);
	size_t tl = 0;
	uint8_t *frames = malloc((size_t)NFRAMES * 1600);
	size_t flen[NFRAMES];
	uint8_t payload[PLEN];
	unsigned seed = 12345;

	for (int i = 0; i < NRULES; i++) {
		int n = 8 + (int)(rand_r(&seed) % 9);

		for (int j = 0; j < n; j++)
			pat[i][j] = (char)('a' + rand_r(&seed) % 26);
		pat[i][n] = '\0';
		tl += (size_t)sprintf(text + tl,
			"alert tcp any any -> any any (msg:\"r%d\"; content:\"%s\";%s sid:%d;)\n",
			i, pat[i], i % 3 ? "" : " nocase;", 100000 + i);
	}
	struct kvmon_rules *r = kvmon_rules_parse(text, tl);

	if (!r) {
		fprintf(stderr, "bench: rules: %s\n", kvmon_get_error());
		return;
	}
	for (int i = 0; i < NFRAMES; i++) {
		for (int j = 0; j < PLEN; j++)
			payload[j] = (uint8_t)(' ' + rand_r(&seed) % 95);
		if (i % 64 == 0) /* some packets really match */
			memcpy(payload + 100, pat[i % NRULES], strlen(pat[i % NRULES]));
		flen[i] = build_frame(frames + (size_t)i * 1600, payload, PLEN);
	}
	long hits = 0, bytes = 0;
	double t0 = now_s(), dt;
	int rounds = 0;

	do {
		for (int i = 0; i < NFRAMES; i++) {
			hits += kvmon_rules_match(r, frames + (size_t)i * 1600, flen[i], NULL, NULL);
			bytes += (long)flen[i];
		}
		rounds++;
	} while ((dt = now_s() - t0) < 2.0);
	double hs_gbps = (double)bytes * 8 / dt / 1e9;

	/* The same packets as one in-order TCP stream: every segment is also
	 * matched joined to the 1 KiB tail of the previous ones. */
	for (int i = 0; i < NFRAMES; i++) {
		uint8_t *t = frames + (size_t)i * 1600 + 34;
		uint32_t seq = (uint32_t)i * PLEN;

		t[4] = (uint8_t)(seq >> 24);
		t[5] = (uint8_t)(seq >> 16);
		t[6] = (uint8_t)(seq >> 8);
		t[7] = (uint8_t)seq;
	}
	long shits = 0, sbytes = 0;
	int srounds = 0;
	double sdt;

	t0 = now_s();
	do {
		for (int i = 0; i < NFRAMES; i++) {
			shits += kvmon_rules_match(r, frames + (size_t)i * 1600, flen[i], NULL, NULL);
			sbytes += (long)flen[i];
		}
		srounds++;
	} while ((sdt = now_s() - t0) < 2.0);
	double st_gbps = (double)sbytes * 8 / sdt / 1e9;

	/* Naive baseline: memmem per rule per packet, on a sample. */
	long nbytes = 0, nhits = 0;

	t0 = now_s();
	for (int i = 0; i < 256; i++) {
		const uint8_t *pl = frames + (size_t)i * 1600 + 54;

		for (int k = 0; k < NRULES; k++)
			if (k % 3 ? memmem(pl, PLEN, pat[k], strlen(pat[k])) != NULL
				  : naive_nocase(pl, PLEN, pat[k]))
				nhits++;
		nbytes += (long)flen[i];
	}
	double ndt = now_s() - t0, naive_gbps = (double)nbytes * 8 / ndt / 1e9;

	printf("rules: %d content rules (1/3 nocase), %d-byte TCP payloads, %d rounds, "
	       "%ld hits\n", NRULES, PLEN, rounds, hits / rounds);
	printf("  %-40s %10.3f Gbit/s  (%.0f packets/s)\n", "Hyperscan (kvmon_rules_match)",
	       hs_gbps, (double)rounds * NFRAMES / dt);
	printf("  %-40s %10.3f Gbit/s  (%.0f packets/s, %ld hits per round)\n",
	       "same, as one in-order TCP stream", st_gbps, (double)srounds * NFRAMES / sdt,
	       shits / srounds);
	printf("  %-40s %10.3f Gbit/s\n", "naive memmem per rule", naive_gbps);
	printf("ratio hyperscan/naive: %.0fx  (naive hits on sample: %ld)\n",
	       hs_gbps / naive_gbps, nhits);
	kvmon_rules_free(r);
	free(text);
	free(pat);
	free(frames);
}

/* --------------------------------------------------------- 3. guest */

static atomic_int consumer_stop;

struct consumer {
	struct kvmon_mirror *m;
	struct kvmon_pcap *p;
	long frames;
};

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	const uint8_t *buf;
	struct kvmon_frame_info fi;

	kvmon_mirror_sched_consumer(); /* as kvmon mirror's consumer */

	/* As kvmon mirror -w does: frames go from the ring to the pcap. */
	while (!atomic_load(&consumer_stop)) {
		if (kvmon_mirror_next_ref(c->m, &buf, &fi, 100) == 1) {
			kvmon_pcap_write(c->p, fi.ts_ns, buf, fi.len);
			c->frames++;
		}
	}
	return NULL;
}

/* Where the download goes: QEMU user networking's forwarded port on
 * loopback, or (--tap) the guest's address on a tap netdev. */
static uint32_t dl_addr = INADDR_LOOPBACK; /* host order */
static const char *mirror_netdev;          /* NULL: net0 */

static atomic_long dl_total; /* bytes read by every download so far */
static bool compare_sched;   /* --compare-sched */

static double download(int port, const char *path, long *bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[128], buf[65536];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double t0 = now_s();

	*bytes = 0;
	sa.sin_addr.s_addr = htonl(dl_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		*bytes += n;
		atomic_fetch_add(&dl_total, (long)n);
	}
	close(fd);
	return now_s() - t0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Per-pair ratios, not two independent medians: a pair (off, on) is
 * measured back to back, so slow drifts of the shared machine's load cancel;
 * the order within a pair alternates so neither side always runs first. */
static double pct(const double *sorted, int n, double q)
{
	double x = q * (n - 1);
	int i = (int)x;

	return i + 1 < n ? sorted[i] + (x - i) * (sorted[i + 1] - sorted[i]) : sorted[n - 1];
}

/* CPU seconds (user + system) of a process, from /proc/PID/stat. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* comm may contain spaces */

	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* QEMU's CPU split: the main loop thread (slirp, filter-mirror's writes)
 * and the vCPU threads, plus the bench process (client, receiver, pcap). */
struct cpu { double qemu, main, vcpu, self; };

static double task_cpu_s(pid_t pid, pid_t tid)
{
	char path[96], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (!(f = fopen(path, "r")))
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');

	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static struct cpu cpu_now(pid_t qemu)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	double all = proc_cpu_s(qemu), main_ = task_cpu_s(qemu, qemu);

	/* QEMU threads are all named after the process here (no
	 * debug-threads), so the vCPU is "every thread but the main one". */
	return (struct cpu){ all, main_, all - main_,
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6 };
}

static const char *used_transport = "?";

/* Mirroring on: attach, pcap output, a consumer thread (as kvmon mirror
 * -w runs); off: all of it stopped again, frames and drops added up. */
struct slot_mirror {
	struct consumer cs;
	pthread_t th;
};

static int slot_on(struct kvmon_vm *vm, struct slot_mirror *s, const char *pcap_path)
{
	memset(&s->cs, 0, sizeof(s->cs));
	s->cs.m = kvmon_mirror_attach(vm, mirror_netdev, 0);
	s->cs.p = s->cs.m ? kvmon_pcap_open(pcap_path, 0, 0) : NULL;
	if (!s->cs.m || !s->cs.p) {
		fprintf(stderr, "bench: mirror: %s\n", kvmon_get_error());
		kvmon_mirror_close(s->cs.m);
		return -1;
	}
	used_transport = kvmon_mirror_id(s->cs.m, "transport");
	atomic_store(&consumer_stop, 0);
	pthread_create(&s->th, NULL, consumer_main, &s->cs);
	return 0;
}

static void slot_off(struct slot_mirror *s, const char *pcap_path, long *frames,
		     long *dropped)
{
	struct kvmon_mirror_stats st;

	atomic_store(&consumer_stop, 1);
	pthread_join(s->th, NULL);
	kvmon_mirror_stats(s->cs.m, &st);
	*frames += s->cs.frames;
	*dropped += (long)st.dropped;
	kvmon_mirror_close(s->cs.m);
	kvmon_pcap_close(s->cs.p);
	unlink(pcap_path);
}

static double mirrored_download(struct kvmon_vm *vm, int port, const char *pcap_path,
				long *bytes, long *frames, long *dropped)
{
	struct slot_mirror sm;

	if (slot_on(vm, &sm, pcap_path) < 0)
		return -1;
	double t = download(port, "/big.bin", bytes);

	usleep(200000); /* the consumer takes what is still queued */
	slot_off(&sm, pcap_path, frames, dropped);
	return t;
}

/*
 * --steady: one download after another without pause, while mirroring is
 * switched on and off in slots of slot_ms; bytes per slot give the rate.
 * A slot is measured from 50 ms after attach (or the same pause) to before
 * detach: an IDS attaches once and mirrors for hours, so what counts is
 * the cost per frame, not the one-time QMP work. Neighbouring slots share
 * the machine's load far more than whole downloads back to back do, so
 * the per-pair ratios scatter less on a shared machine.
 */
struct loop_arg {
	int port;
	atomic_int stop;
};

static void *download_loop(void *arg)
{
	struct loop_arg *a = arg;
	long b;

	while (!atomic_load(&a->stop))
		if (download(a->port, "/big.bin", &b) < 0)
			usleep(10000);
	return NULL;
}

static double median_of(double *v, int n);
static void median_ci(const double *v, int n, double *lo, double *hi);

/* --compare-sched: pairs 0,1, 4,5, ... run under the default policy, the
 * others under SCHED_BATCH; the same off slots are the baseline of both. */
static bool default_policy_pair(int k)
{
	return (k / 2) % 2 == 0;
}

static void print_sched_split(const double *ratio, int npairs)
{
	double *a = calloc((size_t)npairs, sizeof(double)), *b = calloc((size_t)npairs, sizeof(double));
	int na = 0, nb = 0;
	double alo, ahi, blo, bhi;

	if (!a || !b) {
		free(a);
		free(b);
		return;
	}
	for (int k = 0; k < npairs; k++) {
		if (default_policy_pair(k))
			a[na++] = ratio[k];
		else
			b[nb++] = ratio[k];
	}
	median_ci(a, na, &alo, &ahi);
	median_ci(b, nb, &blo, &bhi);
	printf("  %-40s %6.1f%%  (95%% interval %.1f%% .. %.1f%%, %d pairs)\n",
	       "receiver, consumer: default policy", median_of(a, na), alo, ahi, na);
	printf("  %-40s %6.1f%%  (95%% interval %.1f%% .. %.1f%%, %d pairs)\n",
	       "receiver, consumer: SCHED_BATCH", median_of(b, nb), blo, bhi, nb);
	free(a);
	free(b);
}

static void bench_steady(struct kvmon_vm *vm, int port, const char *pcap_path, int seconds,
			 int slot_ms, bool tap)
{
	int nslots = seconds * 1000 / slot_ms / 2 * 2, npairs = nslots / 2;
	double *rate = calloc((size_t)nslots, sizeof(double));
	double *ratio = calloc((size_t)npairs, sizeof(double)), la[3] = { 0 };
	double on_b = 0, on_t = 0, off_b = 0, off_t = 0, clo, chi;
	long frames = 0, dropped = 0;
	struct loop_arg la_ = { .port = port };
	pthread_t th;

	if (!rate || !ratio || nslots < 4) {
		free(rate);
		free(ratio);
		return;
	}
	pthread_create(&th, NULL, download_loop, &la_);
	usleep(1000000); /* the first download under way */
	for (int i = 0; i < nslots; i++) {
		/* Pairs alternate their order: off,on, on,off, off,on, ... */
		bool on = ((i / 2) % 2 == 0) ? (i % 2 == 1) : (i % 2 == 0);
		struct slot_mirror sm;

		if (compare_sched && default_policy_pair(i / 2))
			setenv("KVMON_MIRROR_SCHED", "normal", 1);
		else if (compare_sched)
			unsetenv("KVMON_MIRROR_SCHED");
		bool attached = on && slot_on(vm, &sm, pcap_path) == 0;

		usleep(50000); /* both kinds of slot: settle after the QMP work */
		double t0 = now_s();
		long b0 = atomic_load(&dl_total);

		usleep((useconds_t)(slot_ms * 1000));
		double dt = now_s() - t0, db = (double)(atomic_load(&dl_total) - b0);

		if (attached)
			slot_off(&sm, pcap_path, &frames, &dropped);

		rate[i] = db / dt;
		if (on) {
			on_b += db;
			on_t += dt;
		} else {
			off_b += db;
			off_t += dt;
		}
	}
	atomic_store(&la_.stop, 1);
	pthread_join(th, NULL);
	getloadavg(la, 3);
	for (int k = 0; k < npairs; k++) {
		bool first_on = (k % 2) == 1;
		double ron = rate[2 * k + (first_on ? 0 : 1)], roff = rate[2 * k + (first_on ? 1 : 0)];

		ratio[k] = ron > 0 ? (roff / ron - 1) * 100 : 0;
	}
	double med = median_of(ratio, npairs);

	median_ci(ratio, npairs, &clo, &chi);
	printf("guest, steady state over %s: downloads back to back for %d s, mirroring "
	       "switched on/off, slots of %d ms measured between attach and detach (%d pairs "
	       "of slots, order alternating), %s transport, load average %.1f %.1f %.1f\n",
	       tap ? "a tap netdev (vnet_hdr=on)" : "user networking", seconds, slot_ms,
	       npairs, used_transport, la[0], la[1], la[2]);
	printf("  %-40s %10.1f MB/s\n", "mirroring off (all off slots)", off_b / off_t / 1e6);
	printf("  %-40s %10.1f MB/s  (%ld frames to pcap, %ld dropped)\n",
	       "mirroring on, pcap output (all on slots)", on_b / on_t / 1e6, frames, dropped);
	printf("steady overhead (median of per-pair slowdowns): %.1f%%  (95%% interval of the "
	       "median %.1f%% .. %.1f%%; target <= 3%%)\n", med, clo, chi);
	printf("  %-40s %+.1f%%\n", "all off slots / all on slots - 1",
	       (off_b / off_t) / (on_b / on_t) * 100 - 100);
	if (compare_sched)
		print_sched_split(ratio, npairs);
	free(rate);
	free(ratio);
}

static double median_of(double *v, int n)
{
	double *s = malloc((size_t)n * sizeof(double)), m;

	if (!s)
		return 0;
	memcpy(s, v, (size_t)n * sizeof(double));
	qsort(s, (size_t)n, sizeof(double), cmp_d);
	m = pct(s, n, 0.5);
	free(s);
	return m;
}

/* 95% bootstrap interval of the median of v[0..n) (sorted or not): how
 * far the median of this many noisy pairs can be trusted. */
static void median_ci(const double *v, int n, double *lo, double *hi)
{
	enum { B = 2000 };
	double *meds = malloc(B * sizeof(double)), *s = malloc((size_t)n * sizeof(double));
	unsigned seed = 12345;

	if (!meds || !s) {
		*lo = *hi = 0;
		free(meds);
		free(s);
		return;
	}
	for (int b = 0; b < B; b++) {
		for (int i = 0; i < n; i++)
			s[i] = v[rand_r(&seed) % (unsigned)n];
		qsort(s, (size_t)n, sizeof(double), cmp_d);
		meds[b] = pct(s, n, 0.5);
	}
	qsort(meds, B, sizeof(double), cmp_d);
	*lo = pct(meds, B, 0.025);
	*hi = pct(meds, B, 0.975);
	free(meds);
	free(s);
}

/* --tap: downloads and the mirror over a tap netdev hot-added to the
 * guest. Port 80 of the guest, or -1. */
static int tap_setup(struct kvmon_vm *vm, struct tctl *c)
{
	char net[16], addr[24];
	struct in_addr ia;

	if (tguest_add_tap(vm, c, "kvb", net) < 0)
		return -1;
	snprintf(addr, sizeof(addr), "%s.2", net);
	if (inet_pton(AF_INET, addr, &ia) != 1)
		return -1;
	dl_addr = ntohl(ia.s_addr);
	mirror_netdev = "tapnet";
	return 80;
}

static void bench_guest(const char *root, int reps, int mb, bool tap, int steady)
{
	struct kvmon_vm *vm = tguest_start("nbench");
	struct tctl *c;
	char *out = NULL, pcap_path[256];
	double *off = calloc((size_t)reps, sizeof(double)), *on = calloc((size_t)reps, sizeof(double));
	double *ratio = calloc((size_t)reps, sizeof(double)), la[3] = { 0 };
	double *qoff = calloc((size_t)reps, sizeof(double)), *qon = calloc((size_t)reps, sizeof(double));
	double *soff = calloc((size_t)reps, sizeof(double)), *son = calloc((size_t)reps, sizeof(double));
	double *moff_ = calloc((size_t)reps, sizeof(double)), *mon_ = calloc((size_t)reps, sizeof(double));
	double *voff = calloc((size_t)reps, sizeof(double)), *von = calloc((size_t)reps, sizeof(double));
	long bytes = 0, frames = 0, dropped = 0;
	int n = 0;

	if (!vm || !(c = tctl_open(vm))) {
		fprintf(stderr, "bench: guest: %s\n", kvmon_get_error());
		if (vm)
			tguest_stop(vm);
		goto out;
	}
	char cmd[128];

	snprintf(cmd, sizeof(cmd),
		 "head -c %ld /dev/zero > /var/www/big.bin && chmod 644 /var/www/big.bin",
		 (long)mb << 20);
	tctl_run(c, cmd, &out, 120000);
	free(out);
	int port = tap ? tap_setup(vm, c) : kvmon_vm_http_port(vm);

	if (port < 0) {
		fprintf(stderr, "bench: tap set-up failed: %s\n", kvmon_get_error());
		tctl_close(c);
		tguest_stop(vm);
		goto out;
	}
	snprintf(pcap_path, sizeof(pcap_path), "%s/bench-guest.pcap", root);
	download(port, "/big.bin", &bytes); /* warm up */
	if (steady > 0) {
		bench_steady(vm, port, pcap_path, steady, 500, tap);
		tctl_close(c);
		tguest_stop(vm);
		goto out;
	}
	for (int i = 0; i < reps; i++, n++) {
		double a, b;
		pid_t qp = kvmon_vm_pid(vm);
		struct cpu c0, c1, c2;

		c0 = cpu_now(qp);
		if (i % 2 == 0) {
			a = download(port, "/big.bin", &bytes);
			c1 = cpu_now(qp);
			b = mirrored_download(vm, port, pcap_path, &bytes, &frames, &dropped);
			c2 = cpu_now(qp);
			qoff[i] = c1.qemu - c0.qemu;
			soff[i] = c1.self - c0.self;
			qon[i] = c2.qemu - c1.qemu;
			son[i] = c2.self - c1.self;
			moff_[i] = c1.main - c0.main;
			mon_[i] = c2.main - c1.main;
			voff[i] = c1.vcpu - c0.vcpu;
			von[i] = c2.vcpu - c1.vcpu;
		} else {
			b = mirrored_download(vm, port, pcap_path, &bytes, &frames, &dropped);
			c1 = cpu_now(qp);
			a = download(port, "/big.bin", &bytes);
			c2 = cpu_now(qp);
			qon[i] = c1.qemu - c0.qemu;
			son[i] = c1.self - c0.self;
			qoff[i] = c2.qemu - c1.qemu;
			soff[i] = c2.self - c1.self;
			mon_[i] = c1.main - c0.main;
			moff_[i] = c2.main - c1.main;
			von[i] = c1.vcpu - c0.vcpu;
			voff[i] = c2.vcpu - c1.vcpu;
		}
		if (a <= 0 || b <= 0)
			break;
		off[i] = a;
		on[i] = b;
		ratio[i] = (b / a - 1) * 100; /* time on / time off - 1 = slowdown */
		fprintf(stderr, "  pair %2d: off %.2f s, on %.2f s, %+.1f%%; QEMU CPU %.2f / %.2f s, "
			"kvmon CPU %.2f / %.2f s\n", i + 1, a, b, ratio[i], qoff[i], qon[i],
			soff[i], son[i]);
	}
	getloadavg(la, 3);
	tctl_run(c, "rm -f /var/www/big.bin", &out, 30000);
	free(out);
	tctl_close(c);
	tguest_stop(vm);
	if (n < 3) {
		fprintf(stderr, "bench: guest: too few rounds\n");
		goto out;
	}
	qsort(off, (size_t)n, sizeof(double), cmp_d);
	qsort(on, (size_t)n, sizeof(double), cmp_d);
	qsort(ratio, (size_t)n, sizeof(double), cmp_d);
	qsort(qoff, (size_t)n, sizeof(double), cmp_d);
	qsort(qon, (size_t)n, sizeof(double), cmp_d);
	qsort(soff, (size_t)n, sizeof(double), cmp_d);
	qsort(son, (size_t)n, sizeof(double), cmp_d);
	qsort(moff_, (size_t)n, sizeof(double), cmp_d);
	qsort(mon_, (size_t)n, sizeof(double), cmp_d);
	qsort(voff, (size_t)n, sizeof(double), cmp_d);
	qsort(von, (size_t)n, sizeof(double), cmp_d);
	double moff = (double)bytes / pct(off, n, 0.5) / 1e6, mon = (double)bytes / pct(on, n, 0.5) / 1e6;

	printf("guest: HTTP download of %ld bytes from the guest (TCG) over %s, %d pairs "
	       "off/on back to back (order alternating), %s transport, load average "
	       "%.1f %.1f %.1f\n", bytes, tap ? "a tap netdev (vnet_hdr=on)" : "user networking",
	       n, used_transport,
	       la[0], la[1], la[2]);
	printf("  %-40s %10.1f MB/s (median)\n", "mirroring off", moff);
	printf("  %-40s %10.1f MB/s (median)  (%ld frames to pcap per run, %ld dropped)\n",
	       "mirroring on, pcap output", mon, frames / n, dropped);
	double clo, chi;

	median_ci(ratio, n, &clo, &chi);
	printf("overhead (median of per-pair slowdowns): %.1f%%  (95%% interval of the median "
	       "%.1f%% .. %.1f%%; quartiles %.1f%% .. %.1f%%, min %.1f%%, max %.1f%%; "
	       "target <= 3%%)\n", pct(ratio, n, 0.5), clo, chi,
	       pct(ratio, n, 0.25), pct(ratio, n, 0.75), ratio[0], ratio[n - 1]);
	printf("  %-40s %+.1f%%\n", "ratio of median throughputs (off/on - 1)",
	       (moff / mon - 1) * 100);
	/* CPU time is far less sensitive to other tenants than wall time. */
	printf("  %-40s %6.2f s off, %6.2f s on (medians): %+.1f%%\n", "QEMU CPU per download",
	       pct(qoff, n, 0.5), pct(qon, n, 0.5),
	       (pct(qon, n, 0.5) / pct(qoff, n, 0.5) - 1) * 100);
	printf("  %-40s %6.2f s off, %6.2f s on (medians)\n", "  of which QEMU main loop thread",
	       pct(moff_, n, 0.5), pct(mon_, n, 0.5));
	printf("  %-40s %6.2f s off, %6.2f s on (medians)\n", "  of which other threads (vCPU)",
	       pct(voff, n, 0.5), pct(von, n, 0.5));
	printf("  %-40s %6.2f s off, %6.2f s on (medians; client + receiver + pcap)\n",
	       "bench process CPU per download", pct(soff, n, 0.5), pct(son, n, 0.5));
out:
	free(moff_);
	free(mon_);
	free(voff);
	free(von);
	free(qoff);
	free(qon);
	free(soff);
	free(son);
	free(off);
	free(on);
	free(ratio);
}

int main(int argc, char **argv)
{
	const char *root = tguest_root();
	bool guest = true, others = true;
	int reps = 11, mb = 32;
	bool tap = false;
	int steady = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-guest"))
			guest = false;
		else if (!strcmp(argv[i], "--guest-only"))
			others = false;
		else if (!strcmp(argv[i], "--listen")) /* the fallback transport */
			setenv("KVMON_MIRROR_TRANSPORT", "listen", 1);
		else if (!strcmp(argv[i], "--transport") && i + 1 < argc)
			setenv("KVMON_MIRROR_TRANSPORT", argv[++i], 1);
		else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--mb") && i + 1 < argc)
			mb = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--tap"))
			tap = true;
		else if (!strcmp(argv[i], "--steady") && i + 1 < argc)
			steady = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--compare-sched"))
			compare_sched = true;
		else {
			fprintf(stderr, "usage: bench_mirror [--no-guest | --guest-only] [--pairs N | --steady SECONDS [--compare-sched]] [--mb N] [--tap] [--listen | --transport packet|dump|pipe|socketpair|listen]\n");
			return 2;
		}
	}
	if (reps < 3 || reps > 101)
		reps = 11;
	if (mb < 1 || mb > 160) /* the guest has 256 MiB of RAM */
		mb = 32;
	mkdir(root, 0700);
	if (others && bench_receiver(root) < 0)
		return 1;
	if (others)
		bench_rules();
	if (guest && tguest_available())
		bench_guest(root, reps, mb, tap, steady);
	else if (guest)
		fprintf(stderr, "bench: bundled guest not built: guest part skipped\n");
	return 0;
}
