/* Small helpers every layer uses: the clock, JSON getters, one growable string buffer, and
 * allocation with a single out-of-memory policy. */
#ifndef MIDSOPS_UTIL_H
#define MIDSOPS_UTIL_H

#include <stddef.h>
#include <time.h>

struct cJSON;

/* Out of memory is not recoverable here: every allocation goes through these, which print
 * one line on standard error and exit with util_oom_status (71, EX_OSERR; a check sets 3,
 * UNKNOWN, so a monitoring system never reads the failure as a verdict). */
#define UTIL_EXIT_OOM 71
extern int util_oom_status;
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Seconds on the monotonic clock, for durations (never for wall time). */
double util_mono(void);
/* Seconds since the epoch, with their fraction: for times recorded (a manifest's start and
 * stop, a window), never for a deadline or a duration, which a clock step would bend. */
double util_wall(void);

/* o[k] as a number; a numeric string counts (SQL's numeric travels as text in JSON). */
double util_json_num(const struct cJSON *o, const char *k, double def);
/* o[k] as a string, or NULL when absent or not a string. */
const char *util_json_str(const struct cJSON *o, const char *k);
/* o[k] as a string, "" when absent or not a string: for text to show or compare. */
const char *util_json_text(const struct cJSON *o, const char *k);
/* o[k] copied into buf ("" when absent), cut to n - 1 bytes. */
void util_json_strcpy(const struct cJSON *o, const char *k, char *buf, size_t n);

/* A struct read from a JSON object by a table, a row a member, instead of a line a member:
 * a string is copied and cut to the member's size ("" when absent), a number converted to
 * the member's type (0 when absent; NaN for UTIL_J_NAN). Build rows with UTIL_JF. */
enum util_jtype { UTIL_J_STR, UTIL_J_INT, UTIL_J_LL, UTIL_J_DBL, UTIL_J_NAN, UTIL_J_TIME };
struct util_jfield {
	const char *key;
	enum util_jtype type;
	size_t off, size;
};
#define UTIL_JSIZE(t)                                                                              \
	((t) == UTIL_J_INT    ? sizeof(int)                                                        \
	 : (t) == UTIL_J_LL   ? sizeof(long long)                                                  \
	 : (t) == UTIL_J_TIME ? sizeof(time_t)                                                     \
			      : sizeof(double))
/* A row whose number type does not match its member does not compile (a negative array). */
#define UTIL_JF(st, m, key, t)                                                                     \
	{                                                                                          \
		(key), (t), offsetof(st, m),                                                       \
		    sizeof(((st *)0)->m) +                                                         \
			0 * sizeof(char[(t) == UTIL_J_STR || sizeof(((st *)0)->m) == UTIL_JSIZE(t) \
					    ? 1                                                    \
					    : -1])                                                 \
	}
void util_json_fill(const struct cJSON *o, const struct util_jfield *f, size_t n, void *dst);

/* Whether snprintf's result n fit a buffer of size bytes. Callers that build a path, SQL
 * text or a conninfo check it: a cut one would name something else. */
static inline int util_fits(int n, size_t size)
{
	return n >= 0 && (size_t)n < size;
}

/* Edit distance for "did you mean": insertions, deletions and substitutions, with
 * UTIL_EDIT_SWAP an adjacent transposition as one edit too (optimal string alignment), with
 * UTIL_EDIT_ICASE letters compared regardless of case. A string longer than max (at most
 * UTIL_EDIT_MAX) is 99 away: too far to suggest anything. */
#define UTIL_EDIT_MAX	80
#define UTIL_EDIT_SWAP	1u
#define UTIL_EDIT_ICASE 2u
int util_edit_distance(const char *a, const char *b, size_t max, unsigned flags);

/* One holder at a time: the file at path (created 0600) locked exclusively, without
 * waiting, with holder written into it for whoever finds it taken. Returns the descriptor;
 * -1 when it cannot be opened (errno set); -2 when someone else holds it, with who set to
 * the first line that holder wrote (left as it was when the file is empty). */
int util_lock_file(const char *path, const char *holder, char *who, size_t wholen);

/* Who acts, as midsops records it: given, else MIDSOPS_OPERATOR, else the login. */
void util_operator_name(const char *given, char *buf, size_t n);

/* A growable, always NUL-terminated string: appending never truncates. */
struct strbuf {
	char *s;
	size_t len, cap;
};
void strbuf_add(struct strbuf *b, const void *s, size_t n);
void strbuf_adds(struct strbuf *b, const char *s);
void strbuf_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_reserve(struct strbuf *b, size_t more);
void strbuf_reset(struct strbuf *b);
void strbuf_free(struct strbuf *b);
/* The text so far: "" before anything was added. */
static inline const char *strbuf_str(const struct strbuf *b)
{
	return b->s ? b->s : "";
}

#endif
