/* Target resolution, in the documented order of precedence. */
#include "target.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Mask password=... in key/value conninfo and user:pass@ in URIs. */
void conninfo_mask(const char *ci, char *buf, size_t n)
{
	size_t o = 0;
	const char *p = ci;
	const char *scheme = strstr(ci, "://");
	if (scheme) {
		const char *at = strchr(scheme + 3, '@');
		const char *colon = strchr(scheme + 3, ':');
		const char *slash = strchr(scheme + 3, '/');
		if (at && colon && colon < at && (!slash || at < slash)) {
			snprintf(buf, n, "%.*s:********%s", (int)(colon - ci), ci, at);
			/* Query parameters may also carry password=. */
			char *q = strstr(buf, "password=");
			if (q) {
				char *e = strchr(q, '&');
				char rest[1024];
				snprintf(rest, sizeof rest, "%s", e ? e : "");
				snprintf(q, n - (size_t)(q - buf), "password=********%s", rest);
			}
			return;
		}
	}
	while (*p && o + 1 < n) {
		if ((p == ci || isspace((unsigned char)p[-1]) || p[-1] == '?' || p[-1] == '&') &&
		    strncmp(p, "password", 8) == 0) {
			const char *q = p + 8;
			while (isspace((unsigned char)*q))
				q++;
			if (*q == '=') {
				q++;
				while (isspace((unsigned char)*q))
					q++;
				const char *mask = "password=********";
				for (const char *m = mask; *m && o + 1 < n; m++)
					buf[o++] = *m;
				if (*q == '\'') {
					q++;
					while (*q && *q != '\'') {
						if (*q == '\\' && q[1])
							q++;
						q++;
					}
					if (*q)
						q++;
				} else
					while (*q && !isspace((unsigned char)*q) && *q != '&')
						q++;
				p = q;
				continue;
			}
		}
		buf[o++] = *p++;
	}
	buf[o] = 0;
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
