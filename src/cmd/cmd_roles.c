/* db-roles: the two group roles of least privilege.
 *   midsops_monitor   pg_monitor, plus read-only access to ops, game, cache and builds:
 *                     enough for status, db-check, db-health and the console's panes.
 *   midsops_operator  the monitor's rights, plus writing the midsops schemas (imports,
 *                     backups' catalogue, the cache, wizards) and executing their functions,
 *                     among them ops.import_signal, the only way it signals other sessions
 *                     (an import's own backends, for import-stop and emergency-stop).
 * Nothing cluster-wide: no pg_read_all_data (pg_dump reads the midsops schemas, which the
 * grants cover), no pg_signal_backend (it would cancel any session of the cluster), no
 * pg_checkpoint (no command issues CHECKPOINT).
 * Both are NOLOGIN; people get them through membership (GRANT midsops_monitor TO alice).
 * Every statement is a constant: the role and schema names are fixed, so no value from
 * the operator reaches SQL text. Re-running resets the grants to exactly this set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"

#define MON	     "midsops_monitor"
#define OPR	     "midsops_operator"
#define READ_SCHEMAS "ops, game, cache, builds"
#define ALL_SCHEMAS  "ops, game, cache, builds, stage, api"

struct role_stmt {
	const char *what; /* shown with --dry-run and in errors */
	const char *sql;
	int min_version; /* server_version_num; 0 = any */
};

static const struct role_stmt stmts[] = {
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
    {"operator: no pg_read_all_data (cluster-wide)", "revoke pg_read_all_data from " OPR,
     140000},
    {"operator: no pg_signal_backend (cluster-wide)", "revoke pg_signal_backend from " OPR, 0},
    {"operator: no pg_checkpoint (cluster-wide)", "revoke pg_checkpoint from " OPR, 150000},
    /* Functions are executable by PUBLIC unless revoked; this one signals sessions. */
    {"monitor: not ops.import_signal",
     "revoke all on function ops.import_signal(bigint, boolean) from public, " MON, 0},
};

static int cmd_db_roles_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	int dry = args_has(ctx->args, "dry-run");
	PGconn *c = db_connect_ready(ctx->target, "db-roles", err, sizeof err);
	if (!c) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	int version = PQserverVersion(c);
	const char *cols[] = {"step", "result"};
	out_table_begin(ctx->out, "statements", 2, cols);
	int failed = 0;
	/* As the login: ALTER DEFAULT PRIVILEGES covers the objects the current role creates,
	 * and migrations create them as the login, not as midsops's own role. */
	if (!dry && (db_begin(c, err, sizeof err) < 0 || db_as_login(c, err, sizeof err) < 0)) {
		out_err(ctx->out, "db-roles: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0] && !failed; i++) {
		const struct role_stmt *s = &stmts[i];
		if (s->min_version && version < s->min_version) {
			out_rowf(ctx->out, s->what, "skipped (needs a newer server)");
			continue;
		}
		if (dry) {
			out_rowf(ctx->out, s->what, s->sql);
			continue;
		}
		if (db_exec(c, err, sizeof err, s->sql, 0, NULL) < 0) {
			out_rowf(ctx->out, s->what, "FAILED");
			failed = 1;
		} else
			out_rowf(ctx->out, s->what, "ok");
	}
	out_table_end(ctx->out);
	if (failed) {
		db_rollback(c);
		out_err(ctx->out,
			"db-roles: %s (creating roles needs CREATEROLE, granting pg_monitor needs a "
			"superuser or its admin option; nothing was changed)",
			err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	if (!dry) {
		if (db_commit(c, err, sizeof err) < 0) {
			out_err(ctx->out, "db-roles: %s", err);
			PQfinish(c);
			return EXIT_FAIL;
		}
		db_event(c, "info", "db-roles", "roles " MON " and " OPR " created or updated");
	}
	out_kv(ctx->out, "monitor_role", MON);
	out_kv(ctx->out, "operator_role", OPR);
	out_line(ctx->out,
		 "%s. Give people a role with: GRANT " MON " TO alice; (or " OPR
		 "). Physical backups also need a login role WITH REPLICATION, which "
		 "membership does not pass on.",
		 dry ? "dry run: nothing was changed" : "roles " MON " and " OPR " are up to date");
	PQfinish(c);
	return 0;
}

const struct cmd_entry cmd_roles_table[] = {
    {
	.name = "db-roles",
	.options = "dry-run",
	.summary = "Create or update the least-privilege group roles midsops_monitor "
		   "(read-only, pg_monitor) and midsops_operator (imports and backups)",
	.usage = "db-roles [--dry-run]",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_db_roles_exec,
    },
    {0},
};
