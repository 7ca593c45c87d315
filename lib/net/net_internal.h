/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the rule parser (rules.c) and the matcher (match.c). */
#ifndef KVMON_NET_INTERNAL_H
#define KVMON_NET_INTERNAL_H

#include "internal.h"

#define RULE_MAX_CONTENT 1024u   /* bytes of one content pattern */
#define RULE_MAX_CONTENTS 16u    /* content options per rule */
#define RULES_MAX 200000u

struct rule_content {
	uint8_t *bytes;
	size_t len;
	bool nocase;
	uint32_t offset, depth;   /* depth 0 = to the end */
};

struct rule_addr {
	bool any, neg;
	uint8_t ver;              /* 4 or 6 */
	uint8_t addr[16];
	unsigned prefix;
};

struct rule_ports {
	bool any, neg;
	uint16_t lo, hi;
};

struct rule {
	char action[8];
	uint8_t proto;            /* 0 = ip (any) */
	bool bidir;               /* <> */
	struct rule_addr src, dst;
	struct rule_ports sport, dport;
	char *msg;
	uint32_t sid, rev;
	struct rule_content *contents;
	size_t ncontents;
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

#endif
