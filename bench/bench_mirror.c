// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Mirroring benchmarks, ratios in one run:
 *  1. receiver capacity: a synthetic sender speaking filter-mirror's
 *     protocol blasts 64-byte frames; frames/s written to a pcap file and
 *     frames lost (target >= 500,000/s with zero loss);
 *  2. rule matching: Gbit/s through 1,000 content rules on Hyperscan,
 *     against a naive memmem() loop over the same rules;
 *  3. guest network throughput (HTTP download from the real guest)
 *     with mirroring off vs on with pcap output (target <= 3% overhead).
 * Usage: bench_mirror [--no-guest]
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
	static uint8_t buf[KVMON_NET_MAX_FRAME];
	struct kvmon_frame_info fi;

	while (!atomic_load(&consumer_stop)) {
		if (kvmon_mirror_next(c->m, buf, sizeof(buf), &fi, 100) == 1) {
			kvmon_pcap_write(c->p, fi.ts_ns, buf, fi.len);
			c->frames++;
		}
	}
	return NULL;
}

static double download(int port, const char *path, long *bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[128], buf[65536];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double t0 = now_s();

	*bytes = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
	}
	close(fd);
	return now_s() - t0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench_guest(const char *root)
{
	enum { REPS = 5 };
	struct kvmon_vm *vm = tguest_start("nbench");
	struct tctl *c;
	char *out = NULL, pcap_path[256];
	double off[REPS], on[REPS];
	long bytes = 0;

	if (!vm || !(c = tctl_open(vm))) {
		fprintf(stderr, "bench: guest: %s\n", kvmon_get_error());
		if (vm)
			tguest_stop(vm);
		return;
	}
	tctl_run(c, "head -c 33554432 /dev/zero > /var/www/big.bin && chmod 644 /var/www/big.bin",
		 &out, 60000);
	free(out);
	int port = kvmon_vm_http_port(vm);

	snprintf(pcap_path, sizeof(pcap_path), "%s/bench-guest.pcap", root);
	download(port, "/big.bin", &bytes); /* warm up */
	long frames = 0, dropped = 0;

	for (int i = 0; i < REPS; i++) {
		off[i] = download(port, "/big.bin", &bytes);
		struct consumer cs = { 0 };
		pthread_t th;

		cs.m = kvmon_mirror_attach(vm, NULL, 0);
		cs.p = kvmon_pcap_open(pcap_path, 0, 0);
		if (!cs.m || !cs.p) {
			fprintf(stderr, "bench: mirror: %s\n", kvmon_get_error());
			break;
		}
		atomic_store(&consumer_stop, 0);
		pthread_create(&th, NULL, consumer_main, &cs);
		on[i] = download(port, "/big.bin", &bytes);
		usleep(200000);
		atomic_store(&consumer_stop, 1);
		pthread_join(th, NULL);
		struct kvmon_mirror_stats st;

		kvmon_mirror_stats(cs.m, &st);
		frames += cs.frames;
		dropped += (long)st.dropped;
		kvmon_mirror_close(cs.m);
		kvmon_pcap_close(cs.p);
		unlink(pcap_path);
	}
	qsort(off, REPS, sizeof(double), cmp_d);
	qsort(on, REPS, sizeof(double), cmp_d);
	double moff = (double)bytes / off[REPS / 2] / 1e6, mon = (double)bytes / on[REPS / 2] / 1e6;

	printf("guest: HTTP download of %ld bytes from the guest (TCG), median of %d, "
	       "alternating\n", bytes, REPS);
	printf("  %-40s %10.1f MB/s\n", "mirroring off", moff);
	printf("  %-40s %10.1f MB/s  (%ld frames to pcap, %ld dropped)\n",
	       "mirroring on, pcap output", mon, frames / REPS, dropped);
	printf("overhead: %.1f%%  (target <= 3%%)\n", (moff - mon) / moff * 100);
	tctl_run(c, "rm -f /var/www/big.bin", &out, 30000);
	free(out);
	tctl_close(c);
	tguest_stop(vm);
}

int main(int argc, char **argv)
{
	const char *root = tguest_root();
	bool guest = !(argc > 1 && !strcmp(argv[1], "--no-guest"));

	mkdir(root, 0700);
	if (bench_receiver(root) < 0)
		return 1;
	bench_rules();
	if (guest && tguest_available())
		bench_guest(root);
	else if (guest)
		fprintf(stderr, "bench: bundled guest not built: guest part skipped\n");
	return 0;
}
