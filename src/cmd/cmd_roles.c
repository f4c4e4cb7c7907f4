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
#include "maint_roles.h"

#define MON ROLES_MONITOR
#define OPR ROLES_OPERATOR

static void role_row(void *out, const struct role_stmt *s, enum roles_result r)
{
	static const char *const shown[] = {
	    [ROLES_SKIPPED] = "skipped (needs a newer server)",
	    [ROLES_OK] = "ok",
	    [ROLES_FAILED] = "FAILED",
	};
	out_rowf(out, s->what, r == ROLES_DRY ? s->sql : shown[r]);
}

static int cmd_db_roles_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	int dry = args_has(ctx->args, "dry-run");
	const char *cols[] = {"step", "result"};
	out_table_begin(ctx->out, "statements", 2, cols);
	int rc = roles_apply(ctx->db, dry, role_row, ctx->out, err, sizeof err);
	if (rc == ROLES_ERR_BEGIN) {
		out_err(ctx->out, "db-roles: %s", err);
		return EXIT_FAIL;
	}
	out_table_end(ctx->out);
	if (rc == ROLES_ERR_STEP) {
		out_err(
		    ctx->out,
		    "db-roles: %s (creating roles needs CREATEROLE, granting pg_monitor needs a "
		    "superuser or its admin option; nothing was changed)",
		    err);
		return EXIT_FAIL;
	}
	if (rc == ROLES_ERR_COMMIT) {
		out_err(ctx->out, "db-roles: %s", err);
		return EXIT_FAIL;
	}
	out_kv(ctx->out, "monitor_role", MON);
	out_kv(ctx->out, "operator_role", OPR);
	out_line(ctx->out,
		 "%s. Give people a role with: GRANT " MON " TO alice; (or " OPR
		 "). Physical backups also need a login role WITH REPLICATION, which "
		 "membership does not pass on.",
		 dry ? "dry run: nothing was changed" : "roles " MON " and " OPR " are up to date");
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
	.db = CMD_DB_READY,
    },
    {0},
};
