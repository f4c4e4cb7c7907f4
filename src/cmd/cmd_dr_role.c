/* Role changes of the DR pair: dr-switchover, dr-rejoin, dr-prepare-rewind. The engines are
 * src/dr/dr_switch.c and src/dr/dr_rejoin.c. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "dr_role.h"

/* Each of these stops a server: --yes, or the command's own name typed at a terminal.
 * Refused silently: the engine explains what --yes would do. */
static int confirmed(struct cmd_ctx *ctx, const char *word, const char *what)
{
	return cmd_confirm(ctx, word, what, NULL);
}

static int cmd_dr_switchover_exec(struct cmd_ctx *ctx)
{
	char err[256];
	long lag = 16L * 1024 * 1024;
	if (args_get(ctx->args, "max-lag") &&
	    (args_get_long(ctx->args, "max-lag", &lag, err, sizeof err) < 0 || lag < 0)) {
		out_err(ctx->out, "dr-switchover: --max-lag: %s",
			lag < 0 ? "must be 0 or more bytes" : err);
		return EXIT_USAGE;
	}
	struct dr_switch_opts o = {
	    .max_lag_bytes = lag,
	    .yes = confirmed(ctx, "switchover",
			     "dr-switchover stops the primary and promotes the DR standby"),
	};
	return dr_switchover(ctx->out, ctx->cfg, ctx->target, &o);
}

static int cmd_dr_rejoin_exec(struct cmd_ctx *ctx)
{
	struct dr_rejoin_opts o = {
	    .no_rewind = args_has(ctx->args, "no-rewind"),
	    .yes = confirmed(ctx, "rejoin",
			     "dr-rejoin rewinds (or re-copies) the old primary into a standby"),
	};
	return dr_rejoin(ctx->out, ctx->cfg, ctx->target, &o);
}

static int cmd_dr_prepare_rewind_exec(struct cmd_ctx *ctx)
{
	int ck = args_has(ctx->args, "checksums");
	int yes = confirmed(ctx, "prepare",
			    ck ? "dr-prepare-rewind stops each node, enables data checksums "
				 "offline and starts it again"
			       : "dr-prepare-rewind sets wal_log_hints and restarts each node");
	return dr_prepare_rewind(ctx->out, ctx->target, ck, yes);
}

const struct cmd_entry cmd_dr_role_table[] = {
    {
	.name = "dr-switchover",
	.options = "yes max-lag=",
	.summary = "Swap the primary and the streaming DR standby with no loss: stop the "
		   "primary cleanly, promote the standby once it replayed everything, make the "
		   "old primary its standby and re-point production; reports the loss (measured) "
		   "and how long writes were unavailable",
	.usage = "dr-switchover [--yes] [--max-lag BYTES]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.exec = cmd_dr_switchover_exec,
    },
    {
	.name = "dr-rejoin",
	.options = "yes no-rewind",
	.summary = "After dr-activate: make the stopped old primary a standby of the new one "
		   "with pg_rewind (or a fresh copy when it cannot), start it, check it streams, "
		   "drop the slot it orphaned",
	.usage = "dr-rejoin [--yes] [--no-rewind]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.exec = cmd_dr_rejoin_exec,
    },
    {
	.name = "dr-prepare-rewind",
	.options = "yes checksums",
	.summary = "Turn on what pg_rewind needs on the clusters midsops runs: wal_log_hints "
		   "(a restart), or data checksums with pg_checksums (--checksums, offline)",
	.usage = "dr-prepare-rewind [--checksums] [--yes]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.exec = cmd_dr_prepare_rewind_exec,
    },
    {0},
};
