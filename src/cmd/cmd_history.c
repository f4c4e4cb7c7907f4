/* history-prune: the retention of import history ([import] keep_generations and the days
 * of runs and errors, [maintenance] events_days). The engine is src/import/prune.c; this
 * file parses the options and renders what it freed, or would free. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "history.h"

static void render(struct out *o, const struct history_opts *opt, const struct history_report *r)
{
	out_kv(o, "mode", "%s", opt->dry_run ? "dry run: nothing changed" : "pruned");
	out_kv_int(o, "current_generation", r->current);
	out_kv_int(o, "keep_generations", opt->keep_generations);
	out_kv_int(o, opt->dry_run ? "oldest_restorable_now" : "oldest_restorable_before",
		   r->oldest_before);
	out_kv_int(o, opt->dry_run ? "oldest_restorable_after_prune" : "oldest_restorable",
		   r->oldest);
	out_kv_int(o, "generations_dropped", r->generations_pruned);
	out_kv(o, "retention", "runs %d days, errors %d days, events %d days", opt->runs_days,
	       opt->errors_days, opt->events_days);
	const char *cols[] = {"table", "rows", "bytes", "size_before", "size_after"};
	out_table_begin(o, opt->dry_run ? "would_free" : "freed", opt->dry_run ? 4 : 5, cols);
	for (int i = 0; i < HP_NTABLES; i++) {
		char rows[32], bytes[32], b4[32], af[32];
		snprintf(rows, sizeof rows, "%lld", r->t[i].rows);
		snprintf(bytes, sizeof bytes, "%lld", r->t[i].bytes);
		snprintf(b4, sizeof b4, "%lld", r->t[i].size_before);
		snprintf(af, sizeof af, "%lld", r->t[i].size_after);
		if (opt->dry_run)
			out_rowf(o, r->t[i].name, rows, bytes, b4);
		else
			out_rowf(o, r->t[i].name, rows, bytes, b4, af);
	}
	out_table_end(o);
	out_kv_int(o, opt->dry_run ? "rows_to_free" : "rows_freed", r->rows);
	struct out_fig f = {.value = (double)r->bytes, .unit = OUT_BYTES};
	out_fig(o, opt->dry_run ? "bytes_to_free" : "bytes_freed", &f, "%lld", r->bytes);
	f = (struct out_fig){.value = r->seconds, .unit = OUT_SECONDS};
	out_fig(o, "seconds", &f, "%.3f s", r->seconds);
	f = (struct out_fig){.value = (double)r->db_before, .unit = OUT_BYTES};
	out_fig(o, "database_size", &f, "%lld", r->db_before);
	if (opt->dry_run) {
		out_line(o, "bytes are the rows' data; VACUUM makes them reusable (history-prune "
			    "runs it unless --no-vacuum)");
		return;
	}
	if (!opt->vacuum) {
		out_kv(o, "vacuum", "%s",
		       "skipped (--no-vacuum): the space is reusable after "
		       "the next (auto)vacuum");
	} else {
		out_kv(o, "vacuum", "%d tables vacuumed in %.3f s%s%s", r->vacuumed,
		       r->vacuum_seconds, r->vacuum_err[0] ? "; failed: " : "", r->vacuum_err);
		if (r->vacuum_skipped[0])
			out_kv(o, "vacuum_skipped",
			       "%s: only their owner may vacuum them; autovacuum makes the space "
			       "reusable",
			       r->vacuum_skipped);
	}
	f = (struct out_fig){.value = (double)r->db_after, .unit = OUT_BYTES};
	out_fig(o, "database_size_after", &f, "%lld", r->db_after);
}

static int cmd_history_prune_exec(struct cmd_ctx *ctx)
{
	struct history_opts opt = {
	    .keep_generations = ctx->cfg->keep_generations,
	    .runs_days = ctx->cfg->import_runs_days,
	    .errors_days = ctx->cfg->import_errors_days,
	    .events_days = ctx->cfg->events_days,
	    .dry_run = args_has(ctx->args, "dry-run"),
	    .vacuum = !args_has(ctx->args, "no-vacuum"),
	};
	char err[1024];
	struct history_report rep;
	int rc = history_prune(ctx->db, &opt, &rep, err, sizeof err);
	if (rc < 0) {
		out_err(ctx->out, "history-prune: %s%s", err,
			rc == HISTORY_BUSY ? "" : "; nothing was deleted");
		return EXIT_FAIL;
	}
	render(ctx->out, &opt, &rep);
	if (rep.vacuum_err[0]) {
		out_err(ctx->out, "history-prune: pruned, but VACUUM failed: %s", rep.vacuum_err);
		return EXIT_FAIL;
	}
	return 0;
}

const struct cmd_entry cmd_history_table[] = {
    {
	.name = "history-prune",
	.options = "dry-run no-vacuum",
	.summary = "Apply the retention of import history: keep the newest keep_generations "
		   "generations restorable, drop old runs, errors and events",
	.usage = "history-prune [--dry-run] [--no-vacuum]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.db = CMD_DB_READY,
	.exec = cmd_history_prune_exec,
    },
    {0},
};
