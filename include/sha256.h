/* SHA-256 (FIPS 180-4), with the CPU's SHA extensions when it has them: identifies the
 * contents of export files, backup files and WAL segments. libcrypto is not among the
 * project's dependencies. */
#ifndef MIDSOPS_SHA256_H
#define MIDSOPS_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t nbuf;
};
void sha256_init(struct sha256_ctx *s);
void sha256_update(struct sha256_ctx *s, const void *data, size_t n);
void sha256_hex(struct sha256_ctx *s, char hex[65]); /* lowercase hex, NUL-terminated */
void sha256_buf(const void *data, size_t n, char hex[65]);

#endif
