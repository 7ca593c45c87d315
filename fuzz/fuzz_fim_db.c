// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: fim baseline databases. The MAC is checked before parsing,
 * so the harness signs the input with a fixed key to reach the parser
 * (an attacker who knew the key could too). The first byte selects: odd
 * = the rest goes in unsigned (the MAC path), even = signed. A database that parses must format
 * back to bytes that parse to the same thing.
 */
#include "kvmon.h"
#include "fim/fim_internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

static struct kvmon_fim_db *parse_signed(const char *body, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int n = 0;
	struct kvmon_fim_db *db;
	char *buf = malloc(len + 70);
	size_t i;

	if (!buf)
		return NULL;
	memcpy(buf, body, len);
	HMAC(EVP_sha256(), key, 32, (const unsigned char *)body, len, md, &n);
	memcpy(buf + len, "mac ", 4);
	for (i = 0; i < 32; i++) {
		buf[len + 4 + 2 * i] = hx[md[i] >> 4];
		buf[len + 5 + 2 * i] = hx[md[i] & 15];
	}
	buf[len + 68] = '\n';
	db = fim_db_parse(buf, len + 69, key, 32);
	free(buf);
	return db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_fim_db *db, *again;
	char *t1, *t2;
	size_t l1, l2;

	if (size < 1 || size > (1u << 20))
		return 0;
	if (data[0] & 1) {
		db = fim_db_parse((const char *)data + 1, size - 1, key, 32);
		kvmon_fim_db_free(db);
		return 0;
	}
	db = parse_signed((const char *)data + 1, size - 1);
	if (!db)
		return 0;
	t1 = fim_db_format(db, NULL, 0, &l1);
	again = t1 ? parse_signed(t1, l1) : NULL;
	t2 = again ? fim_db_format(again, NULL, 0, &l2) : NULL;
	if (!t1 || !again || !t2 || l1 != l2 || memcmp(t1, t2, l1))
		__builtin_trap();
	free(t1);
	free(t2);
	kvmon_fim_db_free(again);
	kvmon_fim_db_free(db);
	return 0;
}
