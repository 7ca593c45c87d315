// SPDX-License-Identifier: GPL-2.0-or-later
/* pcap output: byte layout, stream mode, rotation by size and by time. */
#define _GNU_SOURCE
#include "kvmon.h"
#include "../tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long fsize(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int main(void)
{
	char dir[] = "/tmp/kvmon-tnet-XXXXXX", path[256], name[300];
	uint8_t frame[100];
	struct kvmon_pcap *p;

	if (!mkdtemp(dir))
		bail("mkdtemp");
	for (int i = 0; i < 100; i++)
		frame[i] = (uint8_t)i;
	snprintf(path, sizeof(path), "%s/one.pcap", dir);
	p = kvmon_pcap_open(path, 0, 0);
	ok(p != NULL, "pcap opened");
	for (int i = 0; i < 3; i++)
		kvmon_pcap_write(p, 1700000000123456789ull + (uint64_t)i * 1000, frame, 100);
	ok(kvmon_pcap_close(p) == 0, "closed");
	ok(fsize(path) == 24 + 3 * (16 + 100), "size: header + 3 records");
	FILE *f = fopen(path, "rb");
	uint32_t h[6], r[4];

	ok(f && fread(h, 4, 6, f) == 6 && h[0] == 0xa1b2c3d4 && h[5] == 1,
	   "magic and LINKTYPE_ETHERNET");
	ok(f && fread(r, 4, 4, f) == 4 && r[0] == 1700000000u && r[1] == 123456 &&
		   r[2] == 100 && r[3] == 100, "record header: seconds, microseconds, lengths");
	if (f)
		fclose(f);
	if (access("/usr/bin/tcpdump", X_OK) == 0) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "tcpdump -nr %s 2>/dev/null | grep -c '^[0-9]'", path);
		FILE *pp = popen(cmd, "r");
		int lines = -1;

		if (pp) {
			if (fscanf(pp, "%d", &lines) != 1)
				lines = -1;
			pclose(pp);
		}
		ok(lines == 3, "tcpdump reads 3 packets");
	}
	unlink(path);

	/* Rotation by size: each file holds at most 2 records. */
	snprintf(path, sizeof(path), "%s/rot.pcap", dir);
	p = kvmon_pcap_open(path, 24 + 2 * 116, 0);
	for (int i = 0; i < 5; i++)
		kvmon_pcap_write(p, 1000000000ull * (uint64_t)(i + 1), frame, 100);
	ok(kvmon_pcap_files(p) == 3, "5 records at 2 per file: 3 files");
	kvmon_pcap_close(p);
	snprintf(name, sizeof(name), "%s.000000", path);
	ok(fsize(name) == 24 + 2 * 116, "first file full");
	unlink(name);
	snprintf(name, sizeof(name), "%s.000001", path);
	unlink(name);
	snprintf(name, sizeof(name), "%s.000002", path);
	ok(fsize(name) == 24 + 116, "last file has the 5th record");
	unlink(name);

	/* Rotation by time: a new file every 2 s of capture time. */
	p = kvmon_pcap_open(path, 0, 2);
	for (int i = 0; i < 6; i++)
		kvmon_pcap_write(p, 1000000000ull * (uint64_t)(i + 1), frame, 10);
	ok(kvmon_pcap_files(p) == 3, "6 s of records, 2 s per file: 3 files");
	kvmon_pcap_close(p);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s.%06d", path, i);
		unlink(name);
	}
	p = kvmon_pcap_open("/nonexistent/x.pcap", 0, 0);
	ok(p == NULL && strstr(kvmon_get_error(), "/nonexistent/x.pcap"),
	   "unwritable path: clear error (%s)", kvmon_get_error());
	ok(rmdir(dir) == 0, "nothing left behind");
	return tap_done();
}
