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
/* The conninfo with any password replaced by "********". */
void target_display(const struct target *t, char *buf, size_t n);
void conninfo_mask(const char *conninfo, char *buf, size_t n);

#endif
