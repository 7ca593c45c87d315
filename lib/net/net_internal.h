/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the rule parser (rules.c) and the matcher (match.c). */
#ifndef KVMON_NET_INTERNAL_H
#define KVMON_NET_INTERNAL_H

#include "internal.h"

#define RULE_MAX_CONTENT 1024u   /* bytes of one content pattern */
#define RULE_MAX_CONTENTS 16u    /* content options per rule */
#define RULES_MAX 200000u
#define RULE_MAX_LIST 64u        /* items of one address or port list */
#define RULE_MAX_VARS 256u
#define VERIFY_BUDGET (1u << 22) /* payload bytes scanned per rule and packet */

struct pcre2_real_code_8;

/* reaper.c: removes a mirror's filter and chardev from QEMU if the
 * receiving process dies without detaching (SIGKILL, crash). */
struct kvmon_reaper {
	int life;  /* write end; one byte = detached cleanly, EOF = died */
	int done;  /* read end; end of file once the reaper has exited */
};
int kvmon_reaper_start(struct kvmon_reaper *r, const char *qmp_path, int stream,
		       const char *filter_id, const char *chardev_id);
/* detached: the caller removed filter and chardev itself; wait (<= 2 s)
 * for the reaper to exit. Otherwise leave it to clean up. */
void kvmon_reaper_stop(struct kvmon_reaper *r, bool detached);

/* packet.c: a packet socket on a tap interface, the QEMU-free mirror
 * source for tap netdevs. */
#define PACKET_BATCH 16u
struct packet_batch;
int packet_open(const char *ifname);
struct packet_batch *packet_batch_new(void);
void packet_batch_free(struct packet_batch *b);
/* Frames waiting (at most PACKET_BATCH), 0 if none, -1 on error. */
int packet_recv(int fd, struct packet_batch *b);
/* Frame i of the last packet_recv(); *len is its length on the wire,
 * larger than KVMON_NET_MAX_FRAME if it was cut to that. */
const uint8_t *packet_frame(const struct packet_batch *b, unsigned i, size_t *len);
/* Frames the kernel dropped (receive buffer full) since the last call. */
unsigned packet_drops(int fd);
/* ifname is the tap process pid holds, in our network namespace. */
bool packet_tap_of(pid_t pid, const char *ifname);

/* One payload option, in rule order: content or pcre. */
struct rule_content {
	uint8_t *bytes;           /* content; for nocase, lower-cased */
	size_t len;
	bool nocase, neg;         /* neg: content:!"x" / pcre:!"..." */
	bool relative;            /* distance/within (or pcre R) given */
	int32_t distance;         /* from the end of the previous match */
	uint32_t within;          /* 0 = to the end */
	uint32_t offset, depth;   /* depth 0 = to the end */
	struct pcre2_real_code_8 *re; /* pcre option (bytes = its source) */
	bool prefiltered;         /* has a Hyperscan pattern */
};

struct rule_addr {
	bool neg;
	uint8_t ver;              /* 4 or 6 */
	uint8_t addr[16];
	unsigned prefix;
};

/* An address list: matches when some positive item matches (or there is
 * none) and no negated item does; "any" has no items. */
struct rule_addrs {
	bool any;
	size_t n;
	struct rule_addr v[RULE_MAX_LIST];
};

struct rule_port {
	bool neg;
	uint16_t lo, hi;
};

struct rule_ports {
	bool any;
	size_t n;
	struct rule_port v[RULE_MAX_LIST];
};

/* flow: option bits */
#define FLOW_TO_SERVER 1u
#define FLOW_TO_CLIENT 2u
#define FLOW_ESTABLISHED 4u
#define FLOW_STATELESS 8u

struct rule {
	char action[8];
	uint8_t proto;            /* 0 = ip (any) */
	bool bidir;               /* <> */
	struct rule_addrs *src, *dst;
	struct rule_ports *sport, *dport;
	char *msg;
	uint32_t sid, rev;
	struct rule_content *contents;
	size_t ncontents;
	bool verify;              /* exact check after the prefilter */
	unsigned npositive;       /* prefiltered patterns that must all be seen */
	unsigned flow;            /* FLOW_* bits, 0 = no flow option */
};

struct match_db;

struct kvmon_rules {
	struct rule *rules;
	size_t n, cap;
	struct match_db *db;
};

/* match.c */
int match_compile(struct kvmon_rules *r);
void match_free(struct match_db *db);
/* Does the rule's header (proto, addresses, ports) match the packet? */
bool rule_header_match(const struct rule *ru, const struct kvmon_pkt *k);
/* verify.c: exact check of a rule's payload options (order,
 * distance/within, negation, pcre) on a candidate payload. */
struct verify_ctx {
	const uint8_t *pl;
	size_t len;
	uint8_t *lower;           /* lower-cased payload, filled on first need */
	bool lower_ready;
	uint64_t budget;
	struct pcre2_real_match_data_8 *md;
	struct pcre2_real_match_context_8 *mc;
};
int verify_init(struct verify_ctx *v);
void verify_free(struct verify_ctx *v);
void verify_packet(struct verify_ctx *v, const uint8_t *pl, size_t len);
bool rule_verify(const struct rule *ru, struct verify_ctx *v);

/* flowstate.c: per-connection state for the flow option. */
struct flowstate;
struct flowstate *flowstate_new(void);
void flowstate_free(struct flowstate *fs);
/* Account the packet; FLOW_* bits that hold for it (direction,
 * established), 0 when not TCP/UDP. */
unsigned flowstate_update(struct flowstate *fs, const struct kvmon_pkt *k);
#define STREAM_TAIL 1024u /* bytes of earlier in-order payload kept per direction */
/* After flowstate_update() of the same packet: if it is the next in-order
 * TCP segment of its direction, copy that direction's tail (the last
 * STREAM_TAIL bytes before it) to out and return its length, else 0; then
 * append the packet's payload to the tail. */
size_t flowstate_stream(struct flowstate *fs, const struct kvmon_pkt *k, uint8_t *out);

#endif
