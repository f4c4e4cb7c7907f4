/* Target resolution, in the documented order of precedence. */
#include "target.h"
#include "util.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster.h"
#include "config.h"

int target_resolve(struct target *t, const struct config *cfg, const char *dsn_opt,
		   const char *env_opt, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	const char *env_dsn = getenv("MIDSOPS_DSN");
	if (dsn_opt && *dsn_opt) {
		snprintf(t->conninfo, sizeof t->conninfo, "%s", dsn_opt);
		snprintf(t->source, sizeof t->source, "--dsn");
		snprintf(t->env, sizeof t->env, "dsn");
		return 0;
	}
	if (env_dsn && *env_dsn) {
		snprintf(t->conninfo, sizeof t->conninfo, "%s", env_dsn);
		snprintf(t->source, sizeof t->source, "MIDSOPS_DSN");
		snprintf(t->env, sizeof t->env, "dsn");
		return 0;
	}
	const char *name = env_opt && *env_opt ? env_opt : cfg->default_env;
	if (name && *name) {
		if (strcmp(name, "embedded") == 0)
			goto embedded;
		const struct config_env *e = config_env(cfg, name);
		if (!e) {
			snprintf(err, errlen, "no environment '%s' in %s", name, cfg->path);
			return -1;
		}
		snprintf(t->conninfo, sizeof t->conninfo, "%s", e->dsn);
		snprintf(t->source, sizeof t->source, "%s %s",
			 env_opt && *env_opt ? "--env" : "default_env", name);
		snprintf(t->env, sizeof t->env, "%s", name);
		return 0;
	}
	if (getenv("PGHOST") || getenv("PGSERVICE") || getenv("PGDATABASE")) {
		t->conninfo[0] = 0; /* libpq reads its own variables */
		snprintf(t->source, sizeof t->source, "libpq environment");
		snprintf(t->env, sizeof t->env, "libpq");
		return 0;
	}
embedded:;
	struct cluster c;
	if (cluster_locate(&c, NULL, err, errlen) < 0)
		return -1;
	cluster_conninfo(&c, t->conninfo, sizeof t->conninfo);
	snprintf(t->source, sizeof t->source, "embedded cluster");
	snprintf(t->env, sizeof t->env, "embedded");
	t->embedded = 1;
	return 0;
}

/* Secrets are the options libpq itself never displays (dispchar "*": password and
 * sslpassword in libpq 15, and whatever a newer libpq adds), taken from the linked libpq
 * rather than from a list of ours. A key this libpq does not know counts as a secret when it
 * names a password, so a conninfo written for a newer libpq is masked as well. */
static int secret_key(const char *key, size_t len)
{
	static PQconninfoOption *known;
	if (!known) {
		char *perr = NULL;
		known = PQconninfoParse("", &perr);
		PQfreemem(perr);
	}
	for (PQconninfoOption *o = known; o && o->keyword; o++)
		if (strlen(o->keyword) == len && strncmp(o->keyword, key, len) == 0)
			return o->dispchar && o->dispchar[0] == '*';
	for (size_t i = 0; i + 8 <= len; i++)
		if (strncasecmp(key + i, "password", 8) == 0)
			return 1;
	return 0;
}

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* URI query keys are percent-decoded by libpq before it looks them up: "%70assword" is
 * password. */
static int secret_uri_key(const char *key, size_t len)
{
	char dec[128];
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < sizeof dec; i++) {
		int hi = i + 2 < len ? hex_digit((unsigned char)key[i + 1]) : -1;
		int lo = i + 2 < len ? hex_digit((unsigned char)key[i + 2]) : -1;
		if (key[i] == '%' && hi >= 0 && lo >= 0) {
			dec[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			dec[n++] = key[i];
	}
	return secret_key(dec, n);
}

/* Where the secrets are in the text: [off, off+len) is replaced by "********", or by
 * "=********" for a key/value pair (the span then starts right after the key). val/vlen
 * is the value as written, for conninfo_scrub. */
struct secret_span {
	size_t off, len, val, vlen;
	int kv;
};

#define MAX_SPANS 16

static size_t uri_prefix(const char *ci)
{
	if (strncmp(ci, "postgresql://", 13) == 0)
		return 13;
	if (strncmp(ci, "postgres://", 11) == 0)
		return 11;
	return 0;
}

/* The same grammar as libpq's conninfo_parse and conninfo_uri_parse_options, so that
 * what libpq takes for a secret is what is masked. */
static int secret_spans(const char *ci, struct secret_span *sp)
{
	int n = 0;
	size_t pre = uri_prefix(ci);
	if (pre) {
		const char *s = ci + pre, *p = s;
		/* user[:password]@ ends at the first '@' before any '/' */
		while (*p && *p != '@' && *p != '/')
			p++;
		const char *after = s;
		if (*p == '@') {
			const char *c = memchr(s, ':', (size_t)(p - s));
			if (c && c + 1 < p) {
				size_t o = (size_t)(c + 1 - ci), l = (size_t)(p - c - 1);
				sp[n++] = (struct secret_span){o, l, o, l, 0};
			}
			after = p + 1;
		}
		const char *q = strchr(after, '?');
		while (q && *q && n < MAX_SPANS) {
			q++;
			const char *end = q + strcspn(q, "&");
			const char *eq = memchr(q, '=', (size_t)(end - q));
			if (eq && secret_uri_key(q, (size_t)(eq - q))) {
				size_t o = (size_t)(eq + 1 - ci), l = (size_t)(end - eq - 1);
				sp[n++] = (struct secret_span){o, l, o, l, 0};
			}
			q = *end ? end : NULL;
		}
		return n;
	}
	const char *p = ci;
	while (*p && n < MAX_SPANS) {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		const char *k = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		const char *kend = p;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue; /* libpq refuses it; the next word is read as a key */
		p++;
		while (isspace((unsigned char)*p))
			p++;
		const char *v = p;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p)
				p++;
		} else
			while (*p && !isspace((unsigned char)*p)) {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
		if (secret_key(k, (size_t)(kend - k)))
			sp[n++] = (struct secret_span){(size_t)(kend - ci), (size_t)(p - kend),
						       (size_t)(v - ci), (size_t)(p - v), 1};
	}
	return n;
}

/* Append to buf (size n, used o), cut at its end. */
static void put(char *buf, size_t n, size_t *o, const char *s, size_t len)
{
	while (len-- && *o + 1 < n)
		buf[(*o)++] = *s++;
	buf[*o] = 0;
}

static void mask_spans(const char *ci, const struct secret_span *sp, int n, char *buf, size_t bn)
{
	size_t o = 0, at = 0;
	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		const char *m = sp[i].kv ? "=********" : "********";
		put(buf, bn, &o, ci + at, sp[i].off - at);
		put(buf, bn, &o, m, strlen(m));
		at = sp[i].off + sp[i].len;
	}
	put(buf, bn, &o, ci + at, strlen(ci + at));
}

/* libpq's own reading of the masked text must be the original's with every secret
 * replaced: anything else (a grammar corner read differently) falls back to a text
 * rebuilt from libpq's parse. */
static int mask_holds(PQconninfoOption *a, const char *masked)
{
	char *perr = NULL;
	PQconninfoOption *b = PQconninfoParse(masked, &perr);
	PQfreemem(perr);
	int ok = b != NULL;
	for (int i = 0; ok && a[i].keyword; i++) {
		const char *va = a[i].val ? a[i].val : "", *vb = b[i].val ? b[i].val : "";
		if (a[i].dispchar && a[i].dispchar[0] == '*' && *va)
			ok = strcmp(vb, "********") == 0;
		else
			ok = strcmp(va, vb) == 0;
	}
	PQconninfoFree(b);
	return ok;
}

static void mask_rebuild(PQconninfoOption *a, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; a[i].keyword && o + 1 < n; i++) {
		if (!a[i].val)
			continue;
		char val[1100];
		size_t v = 0;
		if (a[i].dispchar && a[i].dispchar[0] == '*')
			snprintf(val, sizeof val, "********");
		else {
			val[v++] = '\'';
			for (const char *c = a[i].val; *c && v + 3 < sizeof val; c++) {
				if (*c == '\'' || *c == '\\')
					val[v++] = '\\';
				val[v++] = *c;
			}
			val[v++] = '\'';
			val[v] = 0;
		}
		int w = snprintf(buf + o, n - o, "%s%s=%s", o ? " " : "", a[i].keyword, val);
		o += w > 0 ? (size_t)w : 0;
	}
}

void conninfo_mask(const char *ci, char *buf, size_t n)
{
	if (!n)
		return;
	struct secret_span sp[MAX_SPANS];
	int ns = secret_spans(ci, sp);
	mask_spans(ci, sp, ns, buf, n);
	/* A conninfo libpq cannot parse connects nowhere; the text mask is all there is. */
	char *perr = NULL;
	PQconninfoOption *a = PQconninfoParse(ci, &perr);
	PQfreemem(perr);
	if (a && !mask_holds(a, buf))
		mask_rebuild(a, buf, n);
	PQconninfoFree(a);
}

static void scrub_one(char *msg, size_t n, const char *secret, size_t len)
{
	if (!len || !memmem(msg, strlen(msg), secret, len))
		return;
	char *out = xmalloc(n);
	if (!out) {
		msg[0] = 0; /* better nothing than the secret */
		return;
	}
	size_t o = 0;
	out[0] = 0;
	for (const char *p = msg; *p;) {
		if (strncmp(p, secret, len) == 0) {
			put(out, n, &o, "********", 8);
			p += len;
		} else
			put(out, n, &o, p++, 1);
	}
	memcpy(msg, out, o + 1);
	free(out);
}

void conninfo_scrub(const char *ci, char *msg, size_t n)
{
	if (!ci || !*ci || !n)
		return;
	struct secret_span sp[MAX_SPANS];
	int ns = secret_spans(ci, sp);
	for (int i = 0; i < ns; i++) {
		size_t v = sp[i].val, l = sp[i].vlen;
		if (l >= 2 && ci[v] == '\'' && ci[v + l - 1] == '\'')
			v++, l -= 2;
		scrub_one(msg, n, ci + v, l);
	}
	char *perr = NULL;
	PQconninfoOption *a = PQconninfoParse(ci, &perr);
	PQfreemem(perr);
	for (int i = 0; a && a[i].keyword; i++)
		if (a[i].dispchar && a[i].dispchar[0] == '*' && a[i].val)
			scrub_one(msg, n, a[i].val, strlen(a[i].val));
	PQconninfoFree(a);
}

void target_display(const struct target *t, char *buf, size_t n)
{
	if (!t->conninfo[0]) {
		char tmp[512];
		snprintf(tmp, sizeof tmp, "host=%s dbname=%s service=%s",
			 getenv("PGHOST") ? getenv("PGHOST") : "(default)",
			 getenv("PGDATABASE") ? getenv("PGDATABASE") : "(default)",
			 getenv("PGSERVICE") ? getenv("PGSERVICE") : "(none)");
		snprintf(buf, n, "%s", tmp);
		return;
	}
	conninfo_mask(t->conninfo, buf, n);
}
