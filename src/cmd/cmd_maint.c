/* Maintenance and health: db-health, db-slow-queries, db-optimize, db-vacuum, db-analyze,
 * validate-all-data. The SQL is in src/maint/ (maint_db.c, maint_validate.c); cmd_run
 * opens the connection each entry's .db asks for. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "maint.h"
#include "probe.h"
#include "probe_health.h"
#include "status.h"
#include "util.h"

/* ---- db-health ---- */

static int cmd_db_health_exec(struct cmd_ctx *ctx)
{
	enum status worst = ST_OK;
	int unavailable = 0;
	for (int id = 0; id < HP_COUNT; id++) {
		struct health_probe p;
		health_probe_run(ctx->db, id, &p);
		out_section(ctx->out, health_probe_name(id));
		enum status st = health_render_probe(ctx->out, ctx->cfg, &p);
		out_section_end(ctx->out);
		/* A probe we may not run is reported, not judged: the others still count. */
		if (!p.ok)
			unavailable++;
		else
			worst = status_worst(worst, st);
		health_probe_free(&p);
	}
	out_status(ctx->out, worst, "%d of %d health probes ran%s", HP_COUNT - unavailable,
		   HP_COUNT, worst == ST_OK ? ", all healthy" : "");
	return worst;
}

/* ---- db-slow-queries ---- */

static void render_rows(struct out *o, const char *name, const struct maint_rows *r)
{
	int nf = r->ncols < 16 ? r->ncols : 16;
	out_table_begin(o, name, nf, (const char **)r->names);
	for (int row = 0; row < r->nrows; row++) {
		const char *cells[16];
		for (int i = 0; i < nf; i++)
			cells[i] = maint_cell(r, row, i);
		out_row(o, cells);
	}
	out_table_end(o);
}

static int slow_opts(struct cmd_ctx *ctx, long *limit, double *threshold)
{
	char err[1024] = "";
	*limit = 10;
	*threshold = ctx->cfg->query_time.warning;
	if (args_get_long(ctx->args, "limit", limit, err, sizeof err) < 0 || *limit < 1) {
		out_err(ctx->out, "%s", err[0] ? err : "--limit must be at least 1");
		return EXIT_USAGE;
	}
	const char *t = args_get(ctx->args, "threshold");
	if (t) {
		char *end;
		*threshold = strtod(t, &end);
		if (end == t || *end || *threshold < 0) {
			out_err(ctx->out, "--threshold: '%s' is not a number of milliseconds", t);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int slow_args(struct cmd_ctx *ctx)
{
	long limit;
	double threshold;
	return slow_opts(ctx, &limit, &threshold);
}

/* midsops's own statements, listed apart and never judged. */
static void own_statements(struct cmd_ctx *ctx, int limit)
{
	struct maint_stmts own;
	out_section(ctx->out, "midsops_own");
	out_kv(ctx->out, "judged",
	       "no: midsops's own import, backup and maintenance statements "
	       "(role " DB_OWN_ROLE ")");
	if (maint_statements(ctx->db, STMTS_OWN, "mean", limit, 0, &own) == 0)
		render_rows(ctx->out, "slowest_by_mean", &own.rows);
	maint_stmts_free(&own);
	out_section_end(ctx->out);
}

static int cmd_db_slow_queries_exec(struct cmd_ctx *ctx)
{
	long limit;
	double threshold;
	if (slow_opts(ctx, &limit, &threshold) != 0)
		return EXIT_USAGE;
	/* Judged: the web workload, what users feel. midsops's own statements (its role, see
	 * db.c) are listed apart: an import's COPY taking half a second is normal, and a check
	 * that paged after every import would be switched off, real slow queries with it. */
	struct maint_stmts slow, total;
	out_kv_num(ctx->out, "threshold_ms", threshold, "ms");
	if (maint_statements(ctx->db, STMTS_WEB, "mean", (int)limit, threshold, &slow) < 0) {
		out_status(ctx->out, ST_UNKNOWN, "%s", slow.reason);
		maint_stmts_free(&slow);
		return ST_UNKNOWN;
	}
	if (slow.reason[0])
		out_kv(ctx->out, "note", "%s", slow.reason);
	if (db_own_role_note()[0])
		out_kv(ctx->out, "own_statements",
		       "this login's midsops statements are judged with the web workload: %s",
		       db_own_role_note());
	double worst = 0;
	if (!maint_num(&slow.rows, 0, 3, &worst))
		worst = 0;
	enum status st = threshold_judge(&ctx->cfg->query_time, worst);
	struct out_fig qf = status_fig(worst / 1000.0, OUT_SECONDS, &ctx->cfg->query_time, 0.001);
	out_fig_status(ctx->out, "slowest_mean", st, &qf,
		       "%.1f ms; %d web statement(s) at or over %.0f ms", worst, slow.rows.nrows,
		       threshold);
	render_rows(ctx->out, "slowest_by_mean", &slow.rows);
	if (maint_statements(ctx->db, STMTS_WEB, "total", (int)limit, 0, &total) == 0)
		render_rows(ctx->out, "top_by_total_time", &total.rows);
	own_statements(ctx, (int)limit);
	maint_stmts_free(&slow);
	maint_stmts_free(&total);
	out_status(ctx->out, st, "%s",
		   st == ST_OK
		       ? "no web statement over the query-time threshold"
		       : "slow web statements: check their plans and indexes (runbook: optimize "
			 "indexes)");
	return st;
}

/* ---- vacuum / analyze with progress ---- */

struct run_state {
	struct out *out;
	const char *table;
};

static void show_progress(void *arg, double done, double total, const char *phase)
{
	struct run_state *rs = arg;
	char detail[300];
	snprintf(detail, sizeof detail, "%s: %s", rs->table, phase);
	out_progress(rs->out, "maintenance", done, total, detail);
}

/* Figures of every table before and after its statement. */
struct maint_figs {
	int n, failed;
	struct table_fig *before, *after;
	double *secs;
	long long dead_b, dead_a;
};

static void run_tables(struct cmd_ctx *ctx, const char *app, enum maint_kind k,
		       const struct maint_rows *tables, struct maint_figs *f)
{
	struct pg_conn *mon = maint_monitor_connect(ctx->target, app);
	struct db_error e;
	for (int i = 0; i < f->n; i++) {
		const char *t = maint_cell(tables, i, 0);
		if (maint_table_figures(ctx->db, t, &f->before[i], &e) < 0) {
			out_err(ctx->out, "%s: %s", app, e.message);
			f->failed++;
			continue;
		}
		double t0 = util_mono();
		struct run_state rs = {ctx->out, t};
		out_progress(ctx->out, "maintenance", 0, 0, t);
		if (maint_table_run(ctx->db, mon, k, t, show_progress, &rs, &e) < 0) {
			out_progress_end(ctx->out);
			out_err(ctx->out, "%s: %s: %s", app, t, e.message);
			f->failed++;
			continue;
		}
		f->secs[i] = util_mono() - t0;
		/* Shown without its after figures (a blank row is left out) if they fail. */
		if (maint_table_figures(ctx->db, t, &f->after[i], &e) < 0)
			f->after[i].name[0] = 0;
		f->dead_b += f->before[i].dead;
		f->dead_a += f->after[i].dead;
	}
	out_progress_end(ctx->out);
	maint_monitor_close(mon);
}

static void figs_table(struct out *o, const struct maint_figs *f)
{
	const char *cols[] = {"table",	    "dead_before", "dead_after",   "size_before",
			      "size_after", "last_vacuum", "last_analyze", "seconds"};
	out_table_begin(o, "tables", 8, cols);
	for (int i = 0; i < f->n; i++) {
		if (!f->after[i].name[0])
			continue;
		char db_[32], da[32], sb[32], sa[32], s[32];
		snprintf(db_, sizeof db_, "%lld", f->before[i].dead);
		snprintf(da, sizeof da, "%lld", f->after[i].dead);
		snprintf(sb, sizeof sb, "%lld", f->before[i].size);
		snprintf(sa, sizeof sa, "%lld", f->after[i].size);
		snprintf(s, sizeof s, "%.2f", f->secs[i]);
		out_rowf(o, f->after[i].name, db_, da, sb, sa, f->after[i].last_vacuum,
			 f->after[i].last_analyze, s);
	}
	out_table_end(o);
}

static int maint_run(struct cmd_ctx *ctx, const char *app, enum maint_kind k, int only_needed)
{
	struct maint_rows tables;
	struct db_error e;
	if (maint_pick_tables(ctx->db, ctx->args->argv, ctx->args->argc, only_needed,
			      ctx->cfg->dead_tuples.warning, &tables, &e) < 0) {
		out_err(ctx->out, "%s: %s", app, e.message);
		return ctx->args->argc ? EXIT_USAGE : EXIT_FAIL;
	}
	struct maint_figs f = {.n = tables.nrows};
	f.before = xcalloc((size_t)f.n + 1, sizeof *f.before);
	f.after = xcalloc((size_t)f.n + 1, sizeof *f.after);
	f.secs = xcalloc((size_t)f.n + 1, sizeof *f.secs);
	long long db_before = maint_db_size(ctx->db);
	run_tables(ctx, app, k, &tables, &f);
	long long db_after = maint_db_size(ctx->db);
	figs_table(ctx->out, &f);
	char a[64], b[64];
	fmt_bytes(a, sizeof a, (double)(db_before < 0 ? 0 : db_before));
	fmt_bytes(b, sizeof b, (double)(db_after < 0 ? 0 : db_after));
	out_kv_int(ctx->out, "tables_done", f.n - f.failed);
	out_kv(ctx->out, "dead_tuples", "%lld -> %lld", f.dead_b, f.dead_a);
	out_kv(ctx->out, "database_size", "%s -> %s", a, b);
	if (f.n == 0)
		out_line(ctx->out, "no table needs %s", app);
	else
		out_line(ctx->out, "%s: %d table(s) done%s", app, f.n - f.failed,
			 f.failed ? ", some failed" : "");
	maint_journal(ctx->db, f.failed ? "warning" : "info", app,
		      "%d tables, dead tuples %lld -> %lld, size %s -> %s", f.n - f.failed,
		      f.dead_b, f.dead_a, a, b);
	free(f.before);
	free(f.after);
	free(f.secs);
	maint_rows_free(&tables);
	return f.failed ? EXIT_FAIL : 0;
}

static int cmd_db_vacuum_exec(struct cmd_ctx *ctx)
{
	int full = args_has(ctx->args, "full");
	return maint_run(ctx, "db-vacuum",
			 full				  ? MK_VACUUM_FULL
			 : args_has(ctx->args, "analyze") ? MK_VACUUM_ANALYZE
							  : MK_VACUUM,
			 0);
}

static int cmd_db_analyze_exec(struct cmd_ctx *ctx)
{
	return maint_run(ctx, "db-analyze", MK_ANALYZE, 0);
}

/* Vacuum and analyze what needs it, then rebuild the cache indexes (they churn most). */
static int cmd_db_optimize_exec(struct cmd_ctx *ctx)
{
	int rc = maint_run(ctx, "db-optimize", MK_VACUUM_ANALYZE, !args_has(ctx->args, "all"));
	if (rc != 0)
		return rc;
	struct db_error e;
	if (maint_reindex(ctx->db, "cache.entries", &e) < 0 ||
	    maint_reindex(ctx->db, "cache.entry_hits", &e) < 0) {
		out_err(ctx->out, "db-optimize: reindex: %s", e.message);
		return EXIT_FAIL;
	}
	out_line(ctx->out, "cache indexes rebuilt");
	return 0;
}

/* ---- validate-all-data ---- */

static enum status run_vchecks(struct cmd_ctx *ctx, int *errors, int *warnings)
{
	enum status worst = ST_OK;
	const char *cols[] = {"check", "severity", "count", "examples"};
	out_section(ctx->out, "references_and_invariants");
	out_table_begin(ctx->out, "checks", 4, cols);
	for (const struct vcheck *v = maint_vchecks; v->name; v++) {
		const char *sev = v->sev == VCHECK_ERROR     ? "error"
				  : v->sev == VCHECK_WARNING ? "warning"
							     : "info";
		long long n;
		char *examples;
		struct db_error e;
		if (maint_vcheck_run(ctx->db, v, &n, &examples, &e) < 0) {
			out_rowf(ctx->out, v->name, sev, "?", e.message);
			worst = status_worst(worst, ST_UNKNOWN);
			continue;
		}
		if (n > 0 && v->sev == VCHECK_ERROR) {
			(*errors)++;
			worst = status_worst(worst, ST_CRITICAL);
		} else if (n > 0 && v->sev == VCHECK_WARNING) {
			(*warnings)++;
			worst = status_worst(worst, ST_WARNING);
		}
		char count[32];
		snprintf(count, sizeof count, "%lld", n);
		out_rowf(ctx->out, v->name, sev, count, examples);
		free(examples);
	}
	out_table_end(ctx->out);
	out_section_end(ctx->out);
	return worst;
}

/* Row counts against the import summaries (maint_import_counts). */
static enum status check_counts(struct out *o, struct pg_conn *c, int *issues)
{
	struct count_row *rows;
	struct db_error e;
	int n = maint_import_counts(c, &rows, &e);
	if (n < 0) {
		out_kv_status(o, "import_counts", ST_UNKNOWN, "cannot read import summaries: %s",
			      e.message);
		return ST_UNKNOWN;
	}
	if (n == 0) {
		out_kv_status(o, "import_counts", ST_OK, "no import summary yet");
		free(rows);
		return ST_OK;
	}
	const char *cols[] = {"kind", "table", "expected", "now", "status"};
	out_table_begin(o, "counts", 5, cols);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		char want[32], now[32];
		snprintf(want, sizeof want, "%lld", rows[i].expected);
		snprintf(now, sizeof now, "%lld", rows[i].now);
		int ok = rows[i].now >= 0 && rows[i].now == rows[i].expected;
		bad += !ok;
		out_rowf(o, rows[i].kind, rows[i].table, want, rows[i].now >= 0 ? now : "?",
			 ok ? "OK" : "MISMATCH");
	}
	out_table_end(o);
	free(rows);
	*issues += bad;
	enum status st = bad ? ST_WARNING : ST_OK;
	out_kv_status(o, "import_counts", st,
		      "%d of %d table(s) disagree with the import summaries", bad, n);
	return st;
}

static enum status check_physical(struct out *o, struct cmd_ctx *ctx, int *issues)
{
	struct amcheck a;
	maint_amcheck(ctx->db, ctx->target, &a);
	enum status st = ST_UNKNOWN;
	if (a.result == AMCHECK_SKIPPED)
		out_kv_status(o, "physical", st, "%s", a.reason);
	else if (a.result == AMCHECK_CLEAN) {
		st = ST_OK;
		out_kv_status(o, "physical", st,
			      "pg_amcheck found no corruption in game, builds, ops");
	} else if (a.result == AMCHECK_CORRUPT) {
		st = ST_CRITICAL;
		(*issues)++;
		out_kv_status(o, "physical", st, "pg_amcheck reports corruption");
	} else
		out_kv_status(o, "physical", st, "pg_amcheck could not run (exit %d)",
			      a.exit_status);
	if (a.output && a.output[0] && a.exit_status != 0) {
		char *save = NULL;
		int lines = 0;
		for (char *l = strtok_r(a.output, "\n", &save); l && lines < 20;
		     l = strtok_r(NULL, "\n", &save), lines++)
			out_line(o, "pg_amcheck: %s", l);
	}
	free(a.output);
	return st;
}

/* A validation that cannot connect says so in its status line, after the reason. */
static int validate_db_failed(struct cmd_ctx *ctx, const char *err)
{
	out_err(ctx->out, "%s", err);
	out_status(ctx->out, ST_CRITICAL, "cannot connect");
	return ST_CRITICAL;
}

static int cmd_validate_all_data_exec(struct cmd_ctx *ctx)
{
	int errors = 0, warnings = 0;
	enum status worst = run_vchecks(ctx, &errors, &warnings);
	int issues = 0;
	out_section(ctx->out, "import_counts");
	worst = status_worst(worst, check_counts(ctx->out, ctx->db, &issues));
	out_section_end(ctx->out);
	out_section(ctx->out, "physical");
	enum status ph =
	    args_has(ctx->args, "no-amcheck") ? ST_OK : check_physical(ctx->out, ctx, &issues);
	if (args_has(ctx->args, "no-amcheck"))
		out_kv(ctx->out, "physical", "skipped (--no-amcheck)");
	/* amcheck unavailable is a caveat, not a data problem. */
	worst = status_worst(worst, ph == ST_UNKNOWN ? ST_OK : ph);
	out_section_end(ctx->out);
	maint_journal(ctx->db,
		      worst >= ST_CRITICAL ? "error"
		      : worst		   ? "warning"
					   : "info",
		      "validate-all-data",
		      "%d failed checks, %d warnings, %d count/physical issues", errors, warnings,
		      issues);
	out_status(ctx->out, worst, "%d check(s) failed, %d warning(s)%s", errors, warnings,
		   ph == ST_UNKNOWN ? "; physical check unavailable" : "");
	return worst;
}

const struct cmd_entry cmd_maint_table[] = {
    {
	.name = "db-health",
	.summary = "Health probes: dead tuples and bloat, long transactions, lock blocking "
		   "tree, connections, checkpoints, WAL archiver",
	.usage = "db-health [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_db_health_exec,
	.db = CMD_DB_CONNECT,
    },
    {
	.name = "db-slow-queries",
	.options = "limit= threshold=",
	.summary = "Slowest web statements by mean and by total time from pg_stat_statements; "
		   "midsops's own listed apart, not judged",
	.usage = "db-slow-queries [--limit N] [--threshold MS] [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_db_slow_queries_exec,
	.db = CMD_DB_CONNECT,
	.check_args = slow_args,
    },
    {
	.name = "db-optimize",
	.options = "all",
	.summary = "Vacuum and analyze the tables that need it, rebuild the cache indexes; "
		   "before/after figures",
	.usage = "db-optimize [--all]",
	.flags = CMD_LONG,
	.exec = cmd_db_optimize_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "db-vacuum",
	.options = "full analyze",
	.max_args = -1,
	.summary = "VACUUM midsops's tables (or the named ones) with progress and "
		   "before/after dead tuples and sizes",
	.usage = "db-vacuum [--full] [--analyze] [TABLE...]",
	.flags = CMD_LONG,
	.exec = cmd_db_vacuum_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "db-analyze",
	.max_args = -1,
	.summary = "ANALYZE midsops's tables (or the named ones) with progress",
	.usage = "db-analyze [TABLE...]",
	.flags = CMD_LONG,
	.exec = cmd_db_analyze_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "validate-all-data",
	.options = "no-amcheck",
	.summary = "Check every reference between game and builds, invariants, counts "
		   "against the last import, and pg_amcheck",
	.usage = "validate-all-data [--no-amcheck] [--json]",
	.flags = CMD_CHECK | CMD_LONG,
	.exec = cmd_validate_all_data_exec,
	.db = CMD_DB_READY,
	.db_failed = validate_db_failed,
    },
    {0},
};
