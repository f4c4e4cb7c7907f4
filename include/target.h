/* Choosing a target database: --dsn > MIDSOPS_DSN > --env/default_env > libpq env
 * (PGHOST/PGSERVICE/PGDATABASE) > the embedded cluster. */
#ifndef MIDSOPS_TARGET_H
#define MIDSOPS_TARGET_H

#include <stddef.h>

struct config;

struct target {
	char conninfo[2048];
	char source[128]; /* "--dsn", "MIDSOPS_DSN", "env production", "libpq environment",
			     "embedded cluster" */
	char env[64];	  /* environment name, or "embedded" */
	int embedded;
};

int target_resolve(struct target *t, const struct config *cfg, const char *dsn_opt,
		   const char *env_opt, char *err, size_t errlen);
/* The conninfo with every secret replaced by "********": each option libpq itself hides
 * (dispchar "*": password, sslpassword), in key/value and URI forms (user:secret@, and
 * query keys as libpq decodes them, "?%70assword="). */
void target_display(const struct target *t, char *buf, size_t n);
void conninfo_mask(const char *conninfo, char *buf, size_t n);
/* Replace in msg (a buffer of n bytes) every secret of conninfo, as written and as libpq
 * reads it: libpq's own parse errors quote values ('invalid percent-encoded token'). */
void conninfo_scrub(const char *conninfo, char *msg, size_t n);

#endif
