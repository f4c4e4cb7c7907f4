/* The db-roles engine: the statements that create and reset the two group roles of
 * least privilege (the contract is in include/maint_roles.h; what each role may do is
 * described in src/cmd/cmd_roles.c). Every statement is a constant: the role and schema
 * names are fixed, so no value from the operator reaches SQL text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "maint_roles.h"

#define MON	     ROLES_MONITOR
#define OPR	     ROLES_OPERATOR
#define READ_SCHEMAS "ops, game, cache, builds"
#define ALL_SCHEMAS  "ops, game, cache, builds, stage, api"

const struct role_stmt roles_stmts[] = {
    {"create the roles when missing",
     "do $$ begin "
     "if not exists (select from pg_roles where rolname = '" MON "') then "
     "create role " MON " nologin; end if; "
     "if not exists (select from pg_roles where rolname = '" OPR "') then "
     "create role " OPR " nologin; end if; end $$",
     0},
    /* Group roles never log in themselves, and hold no attribute beyond membership. */
    {"group roles cannot log in",
     "alter role " MON " nologin nosuperuser nocreatedb nocreaterole noreplication", 0},
    {"group roles cannot log in",
     "alter role " OPR " nologin nosuperuser nocreatedb nocreaterole noreplication", 0},
    /* Start from nothing, so a re-run also takes back what an older version gave. */
    {"reset the monitor's table grants",
     "revoke all on all tables in schema " ALL_SCHEMAS " from " MON, 0},
    {"reset the monitor's schema grants", "revoke all on schema " ALL_SCHEMAS " from " MON, 0},
    {"monitor: pg_monitor", "grant pg_monitor to " MON, 0},
    {"monitor: schema usage", "grant usage on schema " READ_SCHEMAS " to " MON, 0},
    {"monitor: read the tables", "grant select on all tables in schema " READ_SCHEMAS " to " MON,
     0},
    {"monitor: read tables created later",
     "alter default privileges in schema " READ_SCHEMAS " grant select on tables to " MON, 0},
    {"operator: everything the monitor has", "grant " MON " to " OPR, 0},
    {"operator: schema usage", "grant usage on schema " ALL_SCHEMAS " to " OPR, 0},
    {"operator: write the midsops tables",
     "grant select, insert, update, delete, truncate on all tables in schema " ALL_SCHEMAS
     " to " OPR,
     0},
    {"operator: sequences",
     "grant usage, select, update on all sequences in schema " ALL_SCHEMAS " to " OPR, 0},
    {"operator: functions", "grant execute on all functions in schema " ALL_SCHEMAS " to " OPR, 0},
    {"operator: tables created later",
     "alter default privileges in schema " ALL_SCHEMAS
     " grant select, insert, update, delete, truncate on tables to " OPR,
     0},
    {"operator: sequences created later",
     "alter default privileges in schema " ALL_SCHEMAS
     " grant usage, select, update on sequences to " OPR,
     0},
    /* Older versions granted these cluster-wide roles; a re-run takes them back. */
    {"operator: no pg_read_all_data (cluster-wide)", "revoke pg_read_all_data from " OPR, 140000},
    {"operator: no pg_signal_backend (cluster-wide)", "revoke pg_signal_backend from " OPR, 0},
    {"operator: no pg_checkpoint (cluster-wide)", "revoke pg_checkpoint from " OPR, 150000},
    /* Functions are executable by PUBLIC unless revoked; this one signals sessions. */
    {"monitor: not ops.import_signal",
     "revoke all on function ops.import_signal(bigint, boolean) from public, " MON, 0},
    {"monitor: not ops.session_signal",
     "revoke all on function ops.session_signal(integer, boolean) from public, " MON, 0},
};

const size_t roles_nstmts = sizeof roles_stmts / sizeof roles_stmts[0];

int roles_apply(PGconn *c, int dry,
		void (*step)(void *arg, const struct role_stmt *s, enum roles_result r), void *arg,
		char *err, size_t errlen)
{
	int version = PQserverVersion(c);
	/* As the login: ALTER DEFAULT PRIVILEGES covers the objects the current role creates,
	 * and migrations create them as the login, not as midsops's own role. */
	if (!dry && (db_begin(c, err, errlen) < 0 || db_as_login(c, err, errlen) < 0))
		return ROLES_ERR_BEGIN;
	for (size_t i = 0; i < roles_nstmts; i++) {
		const struct role_stmt *s = &roles_stmts[i];
		if (s->min_version && version < s->min_version) {
			step(arg, s, ROLES_SKIPPED);
			continue;
		}
		if (dry) {
			step(arg, s, ROLES_DRY);
			continue;
		}
		if (db_exec(c, err, errlen, s->sql, 0, NULL) < 0) {
			step(arg, s, ROLES_FAILED);
			db_rollback(c);
			return ROLES_ERR_STEP;
		}
		step(arg, s, ROLES_OK);
	}
	if (dry)
		return 0;
	if (db_commit(c, err, errlen) < 0)
		return ROLES_ERR_COMMIT;
	db_event(c, "info", "db-roles", "roles " MON " and " OPR " created or updated");
	return 0;
}
