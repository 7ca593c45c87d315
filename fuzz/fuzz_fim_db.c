// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: fim baseline databases, both versions (v2 binary, v1 text).
 * The MAC is checked before parsing, so the harness signs the input with
 * a fixed key to reach the parser (an attacker who knew the key could
 * too), as its magic says (v2: 32 raw bytes, v1: a "mac HEX" line). The
 * first byte selects: odd = the rest goes in unsigned (the MAC path),
 * even = signed. A database that parses must format back to bytes that
 * parse to the same thing, and written as v1 must read back the same.
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
	bool bin = len >= 12 && !memcmp(body, "kvmon-fim 2\n", 12);
	unsigned char md[32];
	unsigned int n = 0;
	struct kvmon_fim_db *db;
	char *buf = malloc(len + 70);
	size_t i, total;

	if (!buf)
		return NULL;
	memcpy(buf, body, len);
	HMAC(EVP_sha256(), key, 32, (const unsigned char *)body, len, md, &n);
	if (bin) {
		memcpy(buf + len, md, 32);
		total = len + 32;
	} else {
		memcpy(buf + len, "mac ", 4);
		for (i = 0; i < 32; i++) {
			buf[len + 4 + 2 * i] = hx[md[i] >> 4];
			buf[len + 5 + 2 * i] = hx[md[i] & 15];
		}
		buf[len + 68] = '\n';
		total = len + 69;
	}
	db = fim_db_parse(buf, total, key, 32);
	free(buf);
	return db;
}

/* text = format(parse(text)), or a trap */
static char *reformat(const char *text, size_t len, size_t *out)
{
	struct kvmon_fim_db *db = parse_signed(text, len);
	char *t = db ? fim_db_format(db, NULL, 0, out) : NULL;

	kvmon_fim_db_free(db);
	if (!t)
		__builtin_trap();
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmon_fim_db *db;
	char *t1, *t2, *v1, *t3;
	size_t l1, l2, lv1, l3;

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
	v1 = fim_db_format_v1(db, NULL, 0, &lv1);
	if (!t1 || !v1)
		__builtin_trap();
	t2 = reformat(t1, l1, &l2);
	t3 = reformat(v1, lv1, &l3);
	if (l1 != l2 || memcmp(t1, t2, l1) || l1 != l3 || memcmp(t1, t3, l1))
		__builtin_trap();
	free(t1);
	free(t2);
	free(t3);
	free(v1);
	kvmon_fim_db_free(db);
	return 0;
}
