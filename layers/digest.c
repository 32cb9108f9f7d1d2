/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "util/error.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct sha256 {
	EVP_MD_CTX *ctx;
};

struct sha256 *sha256_new(void)
{
	struct sha256 *h = xmalloc(sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		fputs("kiln: fatal: OpenSSL cannot initialise SHA-256\n", stderr);
		abort();
	}
	return h;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort();
}

void sha256_final(struct sha256 *h, struct digest *ret)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, ret->raw, &n) != 1 || n != DIGEST_RAW_LEN)
		abort();
}

void sha256_reset(struct sha256 *h)
{
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
}

void sha256_free(struct sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void digest_buffer(const void *data, size_t len, struct digest *ret)
{
	_cleanup_(sha256_freep) struct sha256 *h = sha256_new();

	sha256_update(h, data, len);
	sha256_final(h, ret);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int digest_parse_hex(const char *hex, struct digest *ret, struct kiln_error **err)
{
	struct digest d;

	if (strlen(hex) != DIGEST_HEX_LEN)
		return err_at(err, NULL, "invalid digest '%s': expected 64 lowercase hex digits",
			      hex);
	for (size_t i = 0; i < DIGEST_RAW_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return err_at(err, NULL,
				      "invalid digest '%s': expected 64 lowercase hex digits", hex);
		d.raw[i] = (unsigned char)(hi << 4 | lo);
	}
	*ret = d;
	return 0;
}

int digest_parse(const char *s, struct digest *ret, struct kiln_error **err)
{
	const char *hex = s ? startswith(s, "sha256:") : NULL;

	if (!hex || digest_parse_hex(hex, ret, NULL) < 0)
		return err_at(err, NULL,
			      "invalid digest '%s': expected 'sha256:' and 64 lowercase hex digits",
			      s ? s : "(null)");
	return 0;
}

char *digest_hex(const struct digest *d, char buf[DIGEST_HEX_LEN + 1])
{
	static const char x[] = "0123456789abcdef";

	for (size_t i = 0; i < DIGEST_RAW_LEN; i++) {
		buf[2 * i] = x[d->raw[i] >> 4];
		buf[2 * i + 1] = x[d->raw[i] & 15];
	}
	buf[DIGEST_HEX_LEN] = '\0';
	return buf;
}

char *digest_format(const struct digest *d, char buf[DIGEST_STR_SIZE])
{
	memcpy(buf, "sha256:", 7);
	digest_hex(d, buf + 7);
	return buf;
}

char *digest_str(const struct digest *d)
{
	char buf[DIGEST_STR_SIZE];

	return xstrdup(digest_format(d, buf));
}

bool digest_eq(const struct digest *a, const struct digest *b)
{
	return memcmp(a->raw, b->raw, DIGEST_RAW_LEN) == 0;
}
