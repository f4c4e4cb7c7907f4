/* The db-roles engine (src/maint/maint_roles.c): the two group roles of least privilege,
 * ROLES_MONITOR and ROLES_OPERATOR, created when missing and their grants reset to exactly
 * one set, in one transaction as the login. It never prints: each statement's outcome goes
 * to the caller's step function, in order. */
#ifndef MIDSOPS_MAINT_ROLES_H
#define MIDSOPS_MAINT_ROLES_H

#include <libpq-fe.h>
#include <stddef.h>

#define ROLES_MONITOR  "midsops_monitor"
#define ROLES_OPERATOR "midsops_operator"

struct role_stmt {
	const char *what; /* shown with --dry-run and in errors */
	const char *sql;
	int min_version; /* server_version_num; 0 = any */
};
extern const struct role_stmt roles_stmts[];
extern const size_t roles_nstmts;

enum roles_result { ROLES_SKIPPED, ROLES_DRY, ROLES_OK, ROLES_FAILED };

/* What failed, when roles_apply returns below 0 (err says why). */
enum {
	ROLES_ERR_BEGIN = -1,  /* the transaction could not start: no statement ran */
	ROLES_ERR_STEP = -2,   /* a statement failed (the last step reported): rolled back */
	ROLES_ERR_COMMIT = -3, /* every statement ran but the commit failed */
};

/* Run the statements (dry: only report them; a statement for a newer server than c's is
 * skipped). 0 when done, committed and journalled in ops.events. */
int roles_apply(PGconn *c, int dry,
		void (*step)(void *arg, const struct role_stmt *s, enum roles_result r), void *arg,
		char *err, size_t errlen);

#endif
