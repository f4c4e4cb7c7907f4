/* Database commands: db-create, db-migrate, db-check, system-resources, status, db-shell. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "migrate.h"
#include "probe.h"
#include "proc.h"
#include "status.h"
#include "target.h"
#include "util.h"

static int db_schema_exec(struct cmd_ctx *ctx, const char *what)
{
	char err[1024];
	PGconn *c = ctx->db;
	int before = migrate_current(c, err, sizeof err), applied = 0;
	if (before < 0 || migrate_up(c, &applied, err, sizeof err) < 0) {
		out_err(ctx->out, "%s: %s", what, err);
		return EXIT_FAIL;
	}
	if (applied)
		db_event(c, "info", what, "schema migrated from version %d to %d", before,
			 migrate_latest());
	out_kv_int(ctx->out, "schema_version", migrate_latest());
	out_kv_int(ctx->out, "migrations_applied", applied);
	out_line(ctx->out,
		 applied ? "schema upgraded from version %d to %d"
			 : "schema is up to date (version %d%.0d)",
		 before, applied ? migrate_latest() : 0);
	return 0;
}

static int cmd_db_create_exec(struct cmd_ctx *ctx)
{
	return db_schema_exec(ctx, "db-create");
}

static int cmd_db_migrate_exec(struct cmd_ctx *ctx)
{
	return db_schema_exec(ctx, "db-migrate");
}

/* Unreachable is the check's finding, shown as its connection line too. */
static int db_check_db_failed(struct cmd_ctx *ctx, const char *err)
{
	out_kv_status(ctx->out, "connection", ST_CRITICAL, "%s", err);
	out_status(ctx->out, ST_CRITICAL, "%s", err);
	return ST_CRITICAL;
}

static int cmd_db_check_exec(struct cmd_ctx *ctx)
{
	struct db_snapshot s;
	if (probe_db(ctx->db, &s) < 0) {
		out_status(ctx->out, ST_UNKNOWN, "health query failed: %s", s.error);
		return ST_UNKNOWN;
	}
	struct db_judgement j;
	status_render_db(ctx->out, ctx->cfg, &s, &j);
	enum status st = status_worst(j.overall, status_render_repl(ctx->out, ctx->cfg, ctx->db));
	out_status(ctx->out, st, "database %s", st == ST_OK ? "healthy" : "needs attention");
	return st;
}

static int cmd_system_resources_exec(struct cmd_ctx *ctx)
{
	struct sys_snapshot s;
	probe_system(ctx->cfg, &s);
	enum status st = status_render_system(ctx->out, ctx->cfg, &s);
	out_status(ctx->out, st, "system resources");
	return st;
}

static int cmd_status_exec(struct cmd_ctx *ctx)
{
	return status_render_all(ctx->out, ctx->cfg, ctx->target);
}

/* psql on the resolved target. Every option of the target (requirepeer, sslmode,
 * channel_binding, ...) reaches psql through the environment (db_child_env), as for every
 * child tool: never argv, where a password would show to every user. */
static int cmd_db_shell_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	if (ctx->target->embedded) {
		PGconn *c = db_connect(ctx->target, "db-shell", err, sizeof err);
		if (!c) {
			out_err(ctx->out, "%s", err);
			return EXIT_FAIL;
		}
		db_close(c);
	}
	char **envs = db_child_env(ctx->target->conninfo, NULL, err, sizeof err);
	if (!envs) {
		out_err(ctx->out, "db-shell: %s", err);
		return EXIT_CONFIG;
	}
	/* putenv keeps the strings: they live until exec. */
	for (char **e = envs; *e; e++)
		putenv(*e);
	fflush(NULL);
	char **argv = xcalloc((size_t)ctx->args->argc + 2, sizeof *argv);
	argv[0] = "psql";
	for (int i = 0; i < ctx->args->argc; i++)
		argv[i + 1] = ctx->args->argv[i];
	execvp("psql", argv);
	out_err(ctx->out, "cannot run psql: install postgresql-client-15 (make deps)");
	return EXIT_FAIL;
}

const struct cmd_entry cmd_db_table[] = {
    {
	.name = "db-check",
	.options = "",
	.summary = "Check database health: connection, size, connections, hit ratio, dead tuples, "
		   "long transactions, locks, replication slots, commits waiting for a synchronous "
		   "standby",
	.usage = "db-check [--json]",
	.flags = CMD_CHECK,
	.db = CMD_DB_CONNECT,
	.db_failed = db_check_db_failed,
	.exec = cmd_db_check_exec,
    },
    {
	.name = "status",
	.summary = "Every probe in one summary (database, imports, cache, backups, system)",
	.usage = "status [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_status_exec,
    },
    {
	.name = "system-resources",
	.summary = "Load, memory and free disk for the data, backup and log directories",
	.usage = "system-resources [--json]",
	.flags = CMD_CHECK | CMD_NODB,
	.exec = cmd_system_resources_exec,
    },
    {
	.name = "db-create",
	.summary =
	    "Create the database objects (schemas game, builds, ops, cache, stage); idempotent",
	.usage = "db-create",
	.flags = CMD_DESTRUCTIVE,
	.db = CMD_DB_CONNECT,
	.exec = cmd_db_create_exec,
    },
    {
	.name = "db-migrate",
	.summary = "Upgrade the schema to this version of midsops; idempotent",
	.usage = "db-migrate",
	.flags = CMD_DESTRUCTIVE,
	.db = CMD_DB_CONNECT,
	.exec = cmd_db_migrate_exec,
    },
    {
	.name = "db-shell",
	.max_args = -1,
	.summary = "Run psql on the resolved target, passing its arguments through",
	.usage = "db-shell [PSQL-ARGS...]",
	.flags = CMD_RAWARGS,
	.exec = cmd_db_shell_exec,
    },
    {0},
};
