/* A tiny test harness: each check prints "ok NAME" or "not ok NAME: detail"; tests/run.sh
 * counts them. Exit status is non-zero when any check failed. */
#ifndef MIDSOPS_HARNESS_H
#define MIDSOPS_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_failed;

#define CHECK(cond, name)                                                                   \
	do {                                                                                \
		if (cond)                                                                   \
			printf("ok %s\n", name);                                            \
		else {                                                                      \
			printf("not ok %s: %s (%s:%d)\n", name, #cond, __FILE__, __LINE__); \
			harness_failed = 1;                                                 \
		}                                                                           \
	} while (0)

#define CHECK_STR(got, want, name)                                                          \
	do {                                                                                \
		const char *g_ = (got), *w_ = (want);                                       \
		if (g_ && w_ && strcmp(g_, w_) == 0)                                        \
			printf("ok %s\n", name);                                            \
		else {                                                                      \
			printf("not ok %s: got '%s', want '%s' (%s:%d)\n", name,            \
			       g_ ? g_ : "(null)", w_ ? w_ : "(null)", __FILE__, __LINE__); \
			harness_failed = 1;                                                 \
		}                                                                           \
	} while (0)

#define CHECK_CONTAINS(hay, needle, name)                                                   \
	do {                                                                                \
		const char *h_ = (hay), *n_ = (needle);                                     \
		if (h_ && n_ && strstr(h_, n_))                                             \
			printf("ok %s\n", name);                                            \
		else {                                                                      \
			printf("not ok %s: '%s' not in '%s' (%s:%d)\n", name, n_,           \
			       h_ ? h_ : "(null)", __FILE__, __LINE__);                     \
			harness_failed = 1;                                                 \
		}                                                                           \
	} while (0)

#define HARNESS_END() return harness_failed

/* Collect what an out_* sink writes into a buffer. */
struct harness_buf {
	char data[65536];
	size_t len;
};

static inline void harness_sink_write(void *ctx, const char *s, size_t n)
{
	struct harness_buf *b = ctx;
	if (b->len + n >= sizeof b->data)
		n = sizeof b->data - b->len - 1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
}

#endif
