/* The clock, JSON getters, the string buffer and the allocation policy (see util.h). */
#include "util.h"

#include <cJSON.h>
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

int util_oom_status = UTIL_EXIT_OOM;

static void oom(size_t n)
{
	/* No allocation on this path: stdio's stderr is unbuffered. */
	fprintf(stderr, "midsops: out of memory (allocating %zu bytes)\n", n);
	exit(util_oom_status);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = xmalloc(n);
	memcpy(d, s, n);
	return d;
}

double util_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double util_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double util_json_num(const cJSON *o, const char *k, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (cJSON_IsNumber(v))
		return v->valuedouble;
	if (cJSON_IsString(v) && v->valuestring[0])
		return strtod(v->valuestring, NULL);
	return def;
}

const char *util_json_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *util_json_text(const cJSON *o, const char *k)
{
	const char *s = util_json_str(o, k);
	return s ? s : "";
}

void util_json_strcpy(const cJSON *o, const char *k, char *buf, size_t n)
{
	snprintf(buf, n, "%s", util_json_text(o, k));
}

void util_json_fill(const cJSON *o, const struct util_jfield *f, size_t n, void *dst)
{
	for (size_t i = 0; i < n; i++) {
		char *p = (char *)dst + f[i].off;
		const char *k = f[i].key;
		switch (f[i].type) {
		case UTIL_J_STR:
			util_json_strcpy(o, k, p, f[i].size);
			break;
		case UTIL_J_INT:
			*(int *)(void *)p = (int)util_json_num(o, k, 0);
			break;
		case UTIL_J_LL:
			*(long long *)(void *)p = (long long)util_json_num(o, k, 0);
			break;
		case UTIL_J_DBL:
			*(double *)(void *)p = util_json_num(o, k, 0);
			break;
		case UTIL_J_NAN:
			*(double *)(void *)p = util_json_num(o, k, NAN);
			break;
		case UTIL_J_TIME:
			*(time_t *)(void *)p = (time_t)util_json_num(o, k, 0);
			break;
		}
	}
}

static int same_char(char x, char y, unsigned flags)
{
	if (flags & UTIL_EDIT_ICASE)
		return tolower((unsigned char)x) == tolower((unsigned char)y);
	return x == y;
}

int util_edit_distance(const char *a, const char *b, size_t max, unsigned flags)
{
	size_t la = strlen(a), lb = strlen(b);
	if (max > UTIL_EDIT_MAX)
		max = UTIL_EDIT_MAX;
	if (la > max || lb > max)
		return 99;
	int d[UTIL_EDIT_MAX + 1][UTIL_EDIT_MAX + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int cost = !same_char(a[i - 1], b[j - 1], flags);
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if ((flags & UTIL_EDIT_SWAP) && i > 1 && j > 1 &&
			    same_char(a[i - 1], b[j - 2], flags) &&
			    same_char(a[i - 2], b[j - 1], flags) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

int util_lock_file(const char *path, const char *holder, char *who, size_t wholen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, who, wholen - 1, 0);
		if (n > 0) {
			who[n] = 0;
			who[strcspn(who, "\n")] = 0;
		}
		close(fd);
		return -2;
	}
	/* Only a hint for the message of the one refused: a failure to write it is no reason
	 * to give the lock up. */
	if (ftruncate(fd, 0) == 0 && pwrite(fd, holder, strlen(holder), 0) < 0)
		(void)0;
	return fd;
}

void strbuf_reserve(struct strbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1) {
		if (cap > ((size_t)-1) / 2)
			oom(b->len + more + 1);
		cap *= 2;
	}
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

void strbuf_add(struct strbuf *b, const void *s, size_t n)
{
	strbuf_reserve(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

void strbuf_adds(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
	/* Straight into the spare room; measured and written again only when it is short
	 * (a first try into a NULL buffer is what GCC's sanitizer build warns about). */
	strbuf_reserve(b, 0);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->s[b->len] = 0;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		strbuf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void strbuf_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = 0;
}

void strbuf_free(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void util_operator_name(const char *given, char *buf, size_t n)
{
	const char *o = given;
	if (!o || !*o)
		o = getenv("MIDSOPS_OPERATOR");
	if (!o || !*o) {
		struct passwd *pw = getpwuid(getuid());
		o = pw ? pw->pw_name : "unknown";
	}
	snprintf(buf, n, "%s", o);
}
