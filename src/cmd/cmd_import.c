/* The import command family: import, resume, stop, rollback, their logs and figures,
 * export tools, the emergency stop and the sample builds. The work is in src/import/. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "import.h"
#include "probe.h"
#include "status.h"
#include "target.h"
#include "util.h"

/* A cell as text: SQL NULL shows as empty. */
static const char *cell(const struct maint_rows *r, int row, int col)
{
	const char *s = maint_cell(r, row, col);
	return s ? s : "";
}

/* Optional positional RUN: a number, or absent (0). */
static int run_arg(struct cmd_ctx *ctx, long *run)
{
	*run = 0;
	if (ctx->args->argc < 1)
		return 0;
	char *end;
	*run = strtol(ctx->args->argv[0], &end, 10);
	if (*end || *run <= 0) {
		out_err(ctx->out, "RUN must be a run id (a positive number), not '%s'",
			ctx->args->argv[0]);
		return -1;
	}
	return 0;
}

static int check_run_arg(struct cmd_ctx *ctx)
{
	long run;
	return run_arg(ctx, &run) < 0 ? EXIT_USAGE : 0;
}

/* --last DURATION (default def seconds); -1 after saying why. */
static int last_arg(struct cmd_ctx *ctx, const char *cmd, long def, long *secs)
{
	char err[256];
	*secs = def;
	if (args_get_duration(ctx->args, "last", secs, err, sizeof err) < 0) {
		out_err(ctx->out, "%s: --last: %s", cmd, err);
		return -1;
	}
	return 0;
}

static int cmd_import_exec(struct cmd_ctx *ctx)
{
	struct import_opts opts = {.dir = ctx->args->argv[0], .resume_run = -1};
	char err[256];
	opts.dry_run = args_has(ctx->args, "dry-run");
	opts.no_promote = args_has(ctx->args, "no-promote");
	if (args_get_long(ctx->args, "max-errors", &opts.max_errors, err, sizeof err) < 0 ||
	    opts.max_errors < 0) {
		out_err(ctx->out, "import: --max-errors: %s", err[0] ? err : "must be >= 0");
		return EXIT_USAGE;
	}
	return import_run(ctx->out, ctx->cfg, ctx->target, &opts);
}

static int cmd_import_resume_exec(struct cmd_ctx *ctx)
{
	long run;
	if (run_arg(ctx, &run) < 0)
		return EXIT_USAGE;
	struct import_opts opts = {.resume_run = run};
	return import_run(ctx->out, ctx->cfg, ctx->target, &opts);
}

static int cmd_import_stop_exec(struct cmd_ctx *ctx)
{
	long run, stopped;
	char err[1024];
	if (run_arg(ctx, &run) < 0)
		return EXIT_USAGE;
	if (import_request_stop(ctx->db, run, err, sizeof err, &stopped) < 0) {
		out_err(ctx->out, "import-stop: %s", err);
		return EXIT_FAIL;
	}
	if (stopped == 0) {
		out_line(ctx->out, "no import is running: nothing to stop");
		return 0;
	}
	db_event(ctx->db, "warning", "import", "stop requested for run %ld", stopped);
	out_kv_int(ctx->out, "run", stopped);
	out_line(ctx->out,
		 "run %ld will stop at its next batch boundary; resume with "
		 "midsops import-resume %ld",
		 stopped, stopped);
	return 0;
}

static int cmd_import_rollback_exec(struct cmd_ctx *ctx)
{
	long to = 0;
	char err[256];
	if (args_get_long(ctx->args, "to", &to, err, sizeof err) < 0 ||
	    (args_has(ctx->args, "to") && to < 0)) {
		out_err(ctx->out, "import-rollback: --to: %s", err[0] ? err : "must be >= 0");
		return EXIT_USAGE;
	}
	/* --to 0 would mean "before the first import": an empty game schema. */
	if (args_has(ctx->args, "to") && to == 0) {
		out_err(ctx->out, "import-rollback: generation 0 is the empty database; give a "
				  "generation >= 1");
		return EXIT_USAGE;
	}
	return import_rollback(ctx->out, ctx->cfg, ctx->target, (int)to);
}

static void render_run(struct out *o, const struct import_run_row *row, int i)
{
	static const char *const names[] = {
	    "run",	     "kind",	    "state",	  "phase",	 "source",
	    "host",	     "pid",	    "started",	  "updated",	 "finished",
	    "files_done",    "files_total", "bytes_done", "bytes_total", "records_done",
	    "records_total", "rate",	    "eta_s",	  "errors",	 "warnings",
	    "generation",    "message"};
	const struct maint_rows *r = &row->rows;
	for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
		const char *v = maint_cell(r, i, k);
		if (!v)
			continue;
		if (row->numeric & (1ULL << k))
			out_kv_numeric(o, names[k], v);
		else
			out_kv(o, names[k], "%s", v);
	}
	out_kv_num(o, "duration", atof(cell(r, i, 22)), "s");
	if (cell(r, i, 23)[0] == 't')
		out_kv(o, "stop_requested", "%s", "yes");
}

static int cmd_import_status_exec(struct cmd_ctx *ctx)
{
	long run;
	struct db_error e;
	struct import_run_row row;
	if (run_arg(ctx, &run) < 0)
		return EXIT_USAGE;
	if (import_q_run(ctx->db, run, 1, &row, &e) < 0) {
		out_err(ctx->out, "import-status: %s", e.message);
		return EXIT_FAIL;
	}
	const struct maint_rows *r = &row.rows;
	int rc = 0;
	if (!r->nrows) {
		if (run) {
			out_err(ctx->out, "import-status: no run %ld", run);
			rc = EXIT_FAIL;
		} else {
			out_line(ctx->out, "no import has run on this target yet");
		}
	} else {
		render_run(ctx->out, &row, 0);
		/* --finished: a condition for a runbook's wait ("until"): 0 once it has ended. */
		if (args_has(ctx->args, "finished") && strcmp(cell(r, 0, 2), "running") == 0)
			rc = EXIT_FAIL;
		double total = atof(cell(r, 0, 13)), done = atof(cell(r, 0, 12));
		if (strcmp(cell(r, 0, 2), "running") == 0 && total > 0)
			out_kv(ctx->out, "progress", "%.1f%%", 100.0 * done / total);
		if (strcmp(cell(r, 0, 2), "interrupted") == 0)
			out_kv(ctx->out, "hint",
			       "its process is gone (pid %s on %s); finish it with "
			       "'midsops import-resume %s'",
			       cell(r, 0, 6), cell(r, 0, 5), cell(r, 0, 0));
	}
	maint_rows_free(&row.rows);
	return rc;
}

static int check_logs_args(struct cmd_ctx *ctx)
{
	long secs;
	return last_arg(ctx, "import-logs", 86400, &secs) < 0 ? EXIT_USAGE : 0;
}

static int cmd_import_logs_exec(struct cmd_ctx *ctx)
{
	long secs;
	struct db_error e;
	struct maint_rows r;
	if (last_arg(ctx, "import-logs", 86400, &secs) < 0)
		return EXIT_USAGE;
	if (import_q_events(ctx->db, secs, &r, &e) < 0) {
		out_err(ctx->out, "import-logs: %s", e.message);
		return EXIT_FAIL;
	}
	const char *cols[] = {"at", "level", "source", "message"};
	out_table_begin(ctx->out, "events", 4, cols);
	for (int i = 0; i < r.nrows; i++)
		out_rowf(ctx->out, cell(&r, i, 0), cell(&r, i, 1), cell(&r, i, 2), cell(&r, i, 3));
	out_table_end(ctx->out);
	if (!r.nrows)
		out_line(ctx->out, "no import events in the last %s",
			 args_get(ctx->args, "last") ? args_get(ctx->args, "last") : "24h");
	out_kv(ctx->out, "log_directory", "%s/import", ctx->cfg->log_dir);
	maint_rows_free(&r);
	return 0;
}

/* import-errors' --last and --run; -1 after saying why. */
static int errors_args(struct cmd_ctx *ctx, long *secs, long *run)
{
	char err[256];
	*secs = 86400;
	*run = 0;
	if (args_get_duration(ctx->args, "last", secs, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "run", run, err, sizeof err) < 0) {
		out_err(ctx->out, "import-errors: %s", err);
		return -1;
	}
	return 0;
}

static int check_errors_args(struct cmd_ctx *ctx)
{
	long secs, run;
	return errors_args(ctx, &secs, &run) < 0 ? EXIT_USAGE : 0;
}

static int cmd_import_errors_exec(struct cmd_ctx *ctx)
{
	long secs, run;
	struct db_error e;
	struct maint_rows r;
	if (errors_args(ctx, &secs, &run) < 0)
		return EXIT_USAGE;
	if (import_q_errors(ctx->db, secs, run, &r, &e) < 0) {
		out_err(ctx->out, "import-errors: %s", e.message);
		return EXIT_FAIL;
	}
	const char *cols[] = {"run", "at", "severity", "path", "json_path", "code", "message"};
	out_table_begin(ctx->out, "errors", 7, cols);
	int nerr = 0;
	for (int i = 0; i < r.nrows; i++) {
		const char *cells[7];
		for (int k = 0; k < 7; k++)
			cells[k] = cell(&r, i, k);
		nerr += strcmp(cells[2], "error") == 0;
		out_row(ctx->out, cells);
	}
	out_table_end(ctx->out);
	out_kv_int(ctx->out, "errors", nerr);
	out_kv_int(ctx->out, "warnings", r.nrows - nerr);
	maint_rows_free(&r);
	return 0;
}

/* The run's own log, with the SQL timings of promote. */
static void render_run_log(struct out *o, const struct import_debug *d)
{
	FILE *f = fopen(d->log_path, "r");
	out_kv(o, "log_file", "%s%s", d->log_path,
	       d->log_incomplete ? " (incomplete: lines are missing)"
	       : f		 ? ""
				 : " (absent on this host)");
	if (f) {
		char line[2048];
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = 0;
			out_line(o, "%s", line);
		}
		fclose(f);
	}
}

static void render_debug(struct out *o, const struct import_debug *d)
{
	const struct maint_rows *r = &d->staging;
	if (d->have_staging) {
		out_section(o, "staging");
		out_kv(o, "files_committed", "%s", cell(r, 0, 0));
		out_kv(o, "bytes_committed", "%s", cell(r, 0, 1));
		out_kv(o, "staged_rows", "%s", cell(r, 0, 2));
		out_kv(o, "options", "%s", cell(r, 0, 3));
		if (maint_cell(r, 0, 4))
			out_kv(o, "generation_changes", "%s", cell(r, 0, 4));
		out_section_end(o);
	}
	if (d->have_codes) {
		const char *cols[] = {"code", "severity", "count"};
		out_table_begin(o, "problems_by_code", 3, cols);
		for (int i = 0; i < d->codes.nrows; i++)
			out_rowf(o, cell(&d->codes, i, 0), cell(&d->codes, i, 1),
				 cell(&d->codes, i, 2));
		out_table_end(o);
	}
	if (d->log_incomplete)
		out_kv(o, "log", "incomplete: %s", d->log_incomplete);
	if (d->have_problems) {
		const char *cols[] = {"severity", "path", "json_path", "code", "message"};
		out_table_begin(o, "problems", 5, cols);
		for (int i = 0; i < d->problems.nrows; i++)
			out_rowf(o, cell(&d->problems, i, 0), cell(&d->problems, i, 1),
				 cell(&d->problems, i, 2), cell(&d->problems, i, 3),
				 cell(&d->problems, i, 4));
		out_table_end(o);
	}
	if (d->log_path[0])
		render_run_log(o, d);
}

static int cmd_import_debug_exec(struct cmd_ctx *ctx)
{
	long run;
	struct db_error e;
	struct import_run_row row;
	if (run_arg(ctx, &run) < 0)
		return EXIT_USAGE;
	int verbose = args_has(ctx->args, "verbose");
	if (import_q_run(ctx->db, run, 0, &row, &e) < 0 || !row.rows.nrows) {
		out_err(ctx->out, "import-debug: %s", row.rows.cells ? "no such run" : e.message);
		maint_rows_free(&row.rows);
		return EXIT_FAIL;
	}
	out_section(ctx->out, "run");
	render_run(ctx->out, &row, 0);
	if (maint_cell(&row.rows, 0, 24))
		out_kv(ctx->out, "backend_pid", "%s", cell(&row.rows, 0, 24));
	out_section_end(ctx->out);
	maint_rows_free(&row.rows);
	struct import_debug d;
	import_q_debug(ctx->db, ctx->cfg, run, verbose, &d);
	render_debug(ctx->out, &d);
	import_debug_free(&d);
	return 0;
}

static int cmd_import_health_exec(struct cmd_ctx *ctx)
{
	char summary[256];
	enum status st = import_health_render(ctx->out, ctx->db, summary, sizeof summary);
	out_status(ctx->out, st, "%s", summary);
	return st;
}

static int runs_limit(struct cmd_ctx *ctx, long *limit)
{
	char err[1024] = "";
	*limit = 20;
	if (args_get_long(ctx->args, "limit", limit, err, sizeof err) < 0 || *limit < 1) {
		out_err(ctx->out, "import-runs: %s", err[0] ? err : "--limit must be at least 1");
		return EXIT_USAGE;
	}
	return 0;
}

static int check_runs_args(struct cmd_ctx *ctx)
{
	long limit;
	return runs_limit(ctx, &limit);
}

static int cmd_import_runs_exec(struct cmd_ctx *ctx)
{
	long limit;
	struct db_error e;
	struct maint_rows r;
	if (runs_limit(ctx, &limit))
		return EXIT_USAGE;
	if (import_q_runs(ctx->db, limit, &r, &e) < 0) {
		out_err(ctx->out, "import-runs: %s", e.message);
		return EXIT_FAIL;
	}
	const char *cols[] = {"run",	    "kind",   "state",	"started", "finished",
			      "generation", "before", "source", "errors"};
	out_table_begin(ctx->out, "runs", 9, cols);
	for (int i = 0; i < r.nrows; i++) {
		const char *cells[9];
		for (int k = 0; k < 9; k++)
			cells[k] = cell(&r, i, k);
		out_row(ctx->out, cells);
	}
	out_table_end(ctx->out);
	maint_rows_free(&r);
	return 0;
}

static int check_perf_args(struct cmd_ctx *ctx)
{
	long secs;
	return last_arg(ctx, "import-perf", 7 * 86400, &secs) < 0 ? EXIT_USAGE : 0;
}

static int cmd_import_perf_exec(struct cmd_ctx *ctx)
{
	long secs;
	struct db_error e;
	struct maint_rows r;
	if (last_arg(ctx, "import-perf", 7 * 86400, &secs) < 0)
		return EXIT_USAGE;
	if (import_q_perf(ctx->db, secs, &r, &e) < 0) {
		out_err(ctx->out, "import-perf: %s", e.message);
		return EXIT_FAIL;
	}
	const char *cols[] = {"run",   "kind",	"state",   "started",	"seconds",
			      "files", "bytes", "records", "records_s", "errors"};
	out_table_begin(ctx->out, "runs", 10, cols);
	double sum = 0;
	int n = 0;
	for (int i = 0; i < r.nrows; i++) {
		const char *cells[10];
		for (int k = 0; k < 10; k++)
			cells[k] = cell(&r, i, k);
		out_row(ctx->out, cells);
		if (strcmp(cells[2], "completed") == 0) {
			sum += atof(cells[8]);
			n++;
		}
	}
	out_table_end(ctx->out);
	out_kv_int(ctx->out, "runs", r.nrows);
	if (n) {
		double avg = sum / n;
		struct out_fig f = status_fig(avg, OUT_PER_SECOND, &ctx->cfg->import_speed, 1);
		out_fig_status(ctx->out, "mean_rate",
			       (enum status)threshold_judge(&ctx->cfg->import_speed, avg), &f,
			       "%.0f records/s", avg);
	}
	maint_rows_free(&r);
	return 0;
}

static int cmd_import_stats_exec(struct cmd_ctx *ctx)
{
	return import_stats_render(ctx->out, ctx->db, args_has(ctx->args, "checksums")) < 0
		   ? EXIT_FAIL
		   : 0;
}

static int cmd_export_validate_exec(struct cmd_ctx *ctx)
{
	return import_validate_dir(ctx->out, ctx->args->argv[0]);
}

static int cmd_export_diff_exec(struct cmd_ctx *ctx)
{
	return import_diff_dirs(ctx->out, ctx->args->argv[0], ctx->args->argv[1]);
}

/* Before the connection: an existing non-empty directory would mix two exports. */
static int check_export_args(struct cmd_ctx *ctx)
{
	const char *dir = ctx->args->argv[0];
	if (!args_has(ctx->args, "force") && !import_dir_is_empty(dir)) {
		out_err(ctx->out, "export: %s is not empty (use --force to write into it)", dir);
		return EXIT_FAIL;
	}
	return 0;
}

static int cmd_export_exec(struct cmd_ctx *ctx)
{
	const char *dir = ctx->args->argv[0];
	int rc = import_export_dir(ctx->out, ctx->db, dir);
	if (rc == 0)
		db_event(ctx->db, "info", "export", "current generation exported to %s", dir);
	return rc;
}

static int cmd_parse_only_exec(struct cmd_ctx *ctx)
{
	return import_parse_only(ctx->out, ctx->args->argv[0]);
}

/* One run being stopped: its row of the runs table, and the sentence that says what
 * happened to it. */
struct estop_run {
	const char *id, *host, *pid_text, *kind;
	long pid;
	int nb, nc, local, killed, settled;
	struct import_estop_seen s;
	const char *outcome;
	char said[512];
};

/* The flag, a cancel of every backend, SIGTERM to a local importer; after the grace
 * SIGKILL and the backends' termination. */
static void estop_stop(struct cmd_ctx *ctx, struct estop_run *x, const char *host, long grace)
{
	struct db_error e;
	/* A failure there (a lock timeout: promote's transaction holds the row, it is
	 * committing) leaves the cancel below to decide; the outcome is read back either
	 * way. */
	if (import_estop_flag(ctx->db, x->id, &e) < 0 && strcmp(e.sqlstate, "55P03") != 0)
		out_warn(ctx->out, "emergency-stop: run %s: stop flag not set: %s", x->id,
			 e.message);
	x->nc = import_estop_signal(ctx->db, x->id, 0, &x->nb);
	x->local = strcmp(x->host, host) == 0 && import_pid_is_importer(x->pid);
	if (x->local)
		kill((pid_t)x->pid, SIGTERM);
	long pid = x->local ? x->pid : 0;
	x->settled = import_estop_settle(ctx->db, x->id, pid, grace * 10, &x->s);
	if (!x->settled) {
		if (x->local && import_pid_is_importer(x->pid)) {
			kill((pid_t)x->pid, SIGKILL);
			x->killed = 1;
		}
		/* An importer on another host, or one stuck: its sessions end, and with them
		 * any transaction that had not committed. */
		import_estop_signal(ctx->db, x->id, 1, NULL);
		x->settled = import_estop_settle(ctx->db, x->id, pid, 100, &x->s);
	}
}

/* What really happened to the run, read back from it once it settled. */
static void estop_judge(struct cmd_ctx *ctx, struct estop_run *x)
{
	const struct import_estop_seen *s = &x->s;
	int running = strcmp(s->state, "running") == 0 || strcmp(s->state, "stopping") == 0;
	if (s->gen[0]) {
		x->outcome = "too late";
		snprintf(x->said, sizeof x->said,
			 "too late: run %s had already promoted generation %s", x->id, s->gen);
	} else if (strcmp(s->state, "completed") == 0) {
		x->outcome = "too late";
		snprintf(x->said, sizeof x->said,
			 "too late: run %s had already completed (nothing promoted)", x->id);
	} else if (!x->settled || !s->state[0]) {
		x->outcome = "not stopped";
		snprintf(x->said, sizeof x->said,
			 "not stopped: run %s still holds %d backend%s (host %s, pid %ld)", x->id,
			 s->backends, s->backends == 1 ? "" : "s", x->host, x->pid);
	} else {
		/* Gone without writing its end (killed): nothing of it is left that could
		 * commit, and nothing was promoted. */
		struct db_error e;
		if (running && import_estop_mark_stopped(ctx->db, x->id, &e) < 0)
			out_warn(ctx->out, "emergency-stop: run %s: its end was not recorded: %s",
				 x->id, e.message);
		x->outcome = running ? "stopped" : s->state;
		int rollback = strcmp(x->kind, "rollback") == 0;
		snprintf(x->said, sizeof x->said,
			 "run %s %s in phase %s before promote committed; %s%s", x->id,
			 running ? "stopped" : s->state, s->phase,
			 rollback ? "nothing changed: run the rollback again"
				  : "resume with import-resume ",
			 rollback ? "" : x->id);
	}
}

static void estop_render(struct cmd_ctx *ctx, const struct estop_run *x, const char *host)
{
	char nbs[16], ncs[16];
	snprintf(nbs, sizeof nbs, "%d", x->nb);
	snprintf(ncs, sizeof ncs, "%d", x->nc);
	out_rowf(ctx->out, x->id, x->kind, x->host, x->pid_text, x->s.phase, x->outcome,
		 x->s.gen[0] ? x->s.gen : "", nbs, ncs, x->killed ? "yes" : "no");
	db_event(ctx->db, strcmp(x->outcome, "stopped") == 0 ? "warning" : "error",
		 "emergency-stop", "%s (host %s, pid %ld; %d of %d backends cancelled, process %s)",
		 x->said, x->host, x->pid, x->nc, x->nb,
		 x->killed		      ? "killed"
		 : x->local		      ? "exited"
		 : strcmp(x->host, host) == 0 ? "already gone"
					      : "on another host (not signalled)");
}

static int check_estop_args(struct cmd_ctx *ctx)
{
	char err[256];
	long grace = 5;
	if (args_get_duration(ctx->args, "grace", &grace, err, sizeof err) < 0) {
		out_err(ctx->out, "emergency-stop: --grace: %s", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* Stop every running import (and rollback) in whatever phase, and say what really
 * happened to each: stopped before promote committed (resumable), or too late, with the
 * generation it promoted. The flag first (a run checks it before every statement of
 * validate and promote, and between files), then a cancel of every backend the run holds
 * (the statement under way, promote's included), SIGTERM to a local importer, and after
 * the grace SIGKILL and pg_terminate_backend. The outcome is read back from the run and
 * ops.import_generations once the run has settled, never assumed. */
static int cmd_emergency_stop_exec(struct cmd_ctx *ctx)
{
	char err[256], host[256] = "";
	long grace = 5;
	struct db_error e;
	struct maint_rows r;
	if (args_get_duration(ctx->args, "grace", &grace, err, sizeof err) < 0)
		return EXIT_USAGE;
	gethostname(host, sizeof host - 1);
	if (import_q_running(ctx->db, &r, &e) < 0) {
		out_err(ctx->out, "emergency-stop: %s", e.message);
		return EXIT_FAIL;
	}
	int n = r.nrows;
	if (n == 0) {
		out_line(ctx->out, "no import is running");
		maint_rows_free(&r);
		return 0;
	}
	for (int i = 0; i < n; i++)
		out_line(ctx->out, "running: %s %s on host %s, pid %s, phase %s", cell(&r, i, 3),
			 cell(&r, i, 0), cell(&r, i, 1), cell(&r, i, 2), cell(&r, i, 4));
	char q[128];
	snprintf(q, sizeof q, "stop %d running import%s now", n, n == 1 ? "" : "s");
	if (!cmd_confirm(ctx, NULL, q, "emergency-stop: no terminal to ask: confirm with --yes")) {
		out_err(ctx->out, "emergency-stop: not confirmed; nothing stopped");
		maint_rows_free(&r);
		return EXIT_FAIL;
	}
	/* Promote's last update of the run holds its row until the commit: setting the flag
	 * must not wait for that. */
	if (import_estop_begin(ctx->db, &e) < 0)
		out_warn(ctx->out,
			 "emergency-stop: no lock timeout (%s): the stop flag may wait "
			 "for promote's commit",
			 e.message);
	const char *cols[] = {"run",	 "kind",       "host",	   "pid",	"phase",
			      "outcome", "generation", "backends", "cancelled", "killed"};
	out_table_begin(ctx->out, "runs", 10, cols);
	struct estop_run *runs = xcalloc((size_t)n, sizeof *runs);
	int all_stopped = 1;
	for (int i = 0; i < n; i++) {
		struct estop_run *x = &runs[i];
		x->id = cell(&r, i, 0);
		x->host = cell(&r, i, 1);
		x->pid_text = cell(&r, i, 2);
		x->kind = cell(&r, i, 3);
		x->pid = atol(x->pid_text);
		estop_stop(ctx, x, host, grace);
		estop_judge(ctx, x);
		if (strcmp(x->outcome, "stopped") != 0)
			all_stopped = 0;
		estop_render(ctx, x, host);
	}
	out_table_end(ctx->out);
	for (int i = 0; i < n; i++)
		out_line(ctx->out, "%s", runs[i].said);
	free(runs);
	maint_rows_free(&r);
	return all_stopped ? 0 : EXIT_FAIL;
}

/* emergency-status reaches the target itself: unreachable is its finding, not an error. */
static int emergency_status_unreachable(struct cmd_ctx *ctx, const char *err)
{
	out_kv_status(ctx->out, "target", ST_CRITICAL, "unreachable: %s", err);
	out_status(ctx->out, ST_CRITICAL, "target unreachable");
	return ST_CRITICAL;
}

static enum status render_emergency_backup(struct cmd_ctx *ctx, const struct import_emergency *s)
{
	double age, count;
	if (s->have_backups && maint_num(&s->backups, 0, 0, &count) && count > 0 &&
	    maint_num(&s->backups, 0, 1, &age)) {
		char a[64];
		fmt_duration(a, sizeof a, age);
		enum status st = threshold_judge(&ctx->cfg->backup_age, age / 3600.0);
		/* backup_age is in hours; the figure is the age in seconds. */
		struct out_fig f = status_fig(age, OUT_SECONDS, &ctx->cfg->backup_age, 3600);
		out_fig_status(ctx->out, "last_backup", st, &f, "%s ago", a);
		return st;
	}
	out_kv_status(ctx->out, "last_backup", ST_WARNING, "no backups recorded");
	return ST_WARNING;
}

static int cmd_emergency_status_exec(struct cmd_ctx *ctx)
{
	enum status worst = ST_OK;
	struct import_emergency s;
	out_kv_status(ctx->out, "target", ST_OK, "reachable");
	import_q_emergency(ctx->db, &s);
	if (s.have_runs) {
		const char *cols[] = {"run", "kind", "phase", "host", "pid", "files"};
		out_table_begin(ctx->out, "running_imports", 6, cols);
		for (int i = 0; i < s.running.nrows; i++) {
			char files[64];
			snprintf(files, sizeof files, "%s/%s", cell(&s.running, i, 5),
				 cell(&s.running, i, 6));
			out_rowf(ctx->out, cell(&s.running, i, 0), cell(&s.running, i, 1),
				 cell(&s.running, i, 2), cell(&s.running, i, 3),
				 cell(&s.running, i, 4), files);
		}
		out_table_end(ctx->out);
		out_kv_int(ctx->out, "running_imports", s.running.nrows);
		if (maint_cell(&s.interrupted, 0, 0)) {
			out_kv_status(ctx->out, "interrupted_imports", ST_WARNING,
				      "run %s: its process is gone; finish it with 'midsops "
				      "import-resume'",
				      cell(&s.interrupted, 0, 0));
			worst = status_worst(worst, ST_WARNING);
		}
		const char *cols2[] = {"at", "source", "message"};
		out_table_begin(ctx->out, "last_errors", 3, cols2);
		for (int i = 0; i < s.last_errors.nrows; i++)
			out_rowf(ctx->out, cell(&s.last_errors, i, 0), cell(&s.last_errors, i, 1),
				 cell(&s.last_errors, i, 2));
		out_table_end(ctx->out);
	} else {
		out_kv_status(ctx->out, "imports", ST_WARNING, "schema not created");
		worst = ST_WARNING;
	}
	worst = status_worst(worst, render_emergency_backup(ctx, &s));
	out_status(ctx->out, worst, "%s",
		   worst == ST_OK ? "target reachable, no import stuck, backups recent"
				  : "target reachable");
	import_emergency_free(&s);
	return worst;
}

/* builds-mini.json: {"builds": [{name, owner, archetype, powers: [{power, level,
 * enhancements: [{enhancement, level}]}]}]}. Read and checked before the connection. */
static const char *seed_file(struct cmd_ctx *ctx)
{
	return ctx->args->argc ? ctx->args->argv[0] : "tests/data/builds-mini.json";
}

static int seed_read(struct cmd_ctx *ctx, struct import_buf *b)
{
	const char *file = seed_file(ctx);
	size_t len;
	*b = (struct import_buf){0};
	if (import_read_file(file, b, &len) < 0) {
		out_err(ctx->out, "seed-builds: %s: %s", file, strerror(errno));
		return EXIT_FAIL;
	}
	cJSON *root = cJSON_ParseWithLength(b->p, len);
	if (!root || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "builds"))) {
		out_err(ctx->out, "seed-builds: %s: not a JSON object with a \"builds\" array",
			file);
		cJSON_Delete(root);
		import_buf_free(b);
		return EXIT_FAIL;
	}
	cJSON_Delete(root);
	return 0;
}

static int check_seed_args(struct cmd_ctx *ctx)
{
	struct import_buf b;
	int rc = seed_read(ctx, &b);
	if (rc == 0)
		import_buf_free(&b);
	return rc;
}

static int cmd_seed_builds_exec(struct cmd_ctx *ctx)
{
	struct import_buf b;
	struct db_error e;
	struct maint_rows r;
	if (seed_read(ctx, &b) != 0)
		return EXIT_FAIL;
	int rc = 0;
	if (import_seed_builds(ctx->db, b.p, seed_file(ctx), &r, &e) < 0) {
		out_err(ctx->out, "seed-builds: %s", e.message);
		rc = EXIT_FAIL;
	} else {
		out_kv(ctx->out, "builds", "%s", cell(&r, 0, 0));
		out_kv(ctx->out, "powers", "%s", cell(&r, 0, 1));
		long long mp = atoll(cell(&r, 0, 2)), me = atoll(cell(&r, 0, 3));
		out_kv_int(ctx->out, "unknown_powers", mp);
		out_kv_int(ctx->out, "unknown_enhancements", me);
		if (mp || me)
			out_warn(ctx->out,
				 "seed-builds: %lld powers and %lld enhancements are not in "
				 "the current generation (import first?); they were skipped",
				 mp, me);
		maint_rows_free(&r);
	}
	import_buf_free(&b);
	return rc;
}

/* ---- data-checksums ---- */

static int check_sums_args(struct cmd_ctx *ctx)
{
	const char *save = args_get(ctx->args, "save"), *cmp = args_get(ctx->args, "compare");
	int modes = !!save + !!cmp + args_has(ctx->args, "list");
	char err[256];
	if (modes > 1) {
		out_err(ctx->out, "data-checksums: --save, --compare and --list go alone");
		return EXIT_USAGE;
	}
	if ((save && import_sums_name_ok(save, err, sizeof err) < 0) ||
	    (cmp && import_sums_name_ok(cmp, err, sizeof err) < 0)) {
		out_err(ctx->out, "data-checksums: %s", err);
		return EXIT_USAGE;
	}
	return 0;
}

static int sums_list(struct cmd_ctx *ctx)
{
	struct import_sums_rec *rec;
	char err[1024];
	int n = import_sums_list(&rec, err, sizeof err);
	if (n < 0) {
		out_err(ctx->out, "data-checksums: %s", err);
		return EXIT_FAIL;
	}
	const char *cols[] = {"name", "at", "tables", "rows"};
	out_table_begin(ctx->out, "records", 4, cols);
	for (int i = 0; i < n; i++) {
		char t[16], r[32];
		snprintf(t, sizeof t, "%d", rec[i].ntables);
		snprintf(r, sizeof r, "%.0f", rec[i].rows);
		out_rowf(ctx->out, rec[i].name, rec[i].at, t, r);
	}
	out_table_end(ctx->out);
	if (!n)
		out_line(ctx->out,
			 "no records yet: 'midsops data-checksums --save NAME' makes one");
	free(rec);
	return 0;
}

/* The database against a record: every table's rows and checksum, and a verdict. */
static int sums_compare(struct cmd_ctx *ctx, const cJSON *now, const char *name)
{
	char err[1024];
	cJSON *rec = import_sums_load(name, err, sizeof err);
	if (!rec) {
		out_err(ctx->out, "data-checksums: %s", err);
		return EXIT_FAIL;
	}
	const cJSON *then = cJSON_GetObjectItemCaseSensitive(rec, "tables"), *t, *u;
	const char *cols[] = {"table", "rows_then", "rows_now", "checksum"};
	out_table_begin(ctx->out, "tables", 4, cols);
	int differ = 0, n = 0;
	struct strbuf which = {0};
	cJSON_ArrayForEach(t, then)
	{
		const char *tn = util_json_str(t, "table");
		const cJSON *match = NULL;
		cJSON_ArrayForEach(u, now) if (strcmp(util_json_str(u, "table"), tn) == 0) match =
		    u;
		char r1[32], r2[32] = "-";
		snprintf(r1, sizeof r1, "%.0f", util_json_num(t, "rows", 0));
		if (match)
			snprintf(r2, sizeof r2, "%.0f", util_json_num(match, "rows", 0));
		int same =
		    match && strcmp(r1, r2) == 0 &&
		    strcmp(util_json_str(t, "checksum"), util_json_str(match, "checksum")) == 0;
		out_rowf(ctx->out, tn, r1, r2, !match ? "missing" : same ? "same" : "DIFFERENT");
		n++;
		if (!same)
			strbuf_addf(&which, "%s%s (%s rows, now %s)", differ++ ? ", " : "", tn, r1,
				    r2);
	}
	out_table_end(ctx->out);
	char at[32];
	util_json_strcpy(rec, "at", at, sizeof at);
	if (differ)
		out_kv(ctx->out, "verdict", "%d of %d tables differ from '%s' (recorded %s): %s",
		       differ, n, name, at, which.s);
	else
		out_kv(ctx->out, "verdict", "builds and game equal '%s' (recorded %s): %d tables",
		       name, at, n);
	strbuf_free(&which);
	cJSON_Delete(rec);
	return differ || !n ? EXIT_FAIL : 0;
}

static int cmd_data_checksums_exec(struct cmd_ctx *ctx)
{
	if (args_has(ctx->args, "list"))
		return sums_list(ctx);
	char err[1024];
	cJSON *now = import_data_sums(ctx->db, err, sizeof err);
	if (!now) {
		out_err(ctx->out, "data-checksums: %s", err);
		return EXIT_FAIL;
	}
	const char *save = args_get(ctx->args, "save"), *cmp = args_get(ctx->args, "compare");
	int rc = 0;
	if (cmp) {
		rc = sums_compare(ctx, now, cmp);
	} else {
		const char *cols[] = {"table", "rows", "checksum"};
		out_table_begin(ctx->out, "tables", 3, cols);
		const cJSON *t;
		cJSON_ArrayForEach(t, now)
		{
			char r[32];
			snprintf(r, sizeof r, "%.0f", util_json_num(t, "rows", 0));
			out_rowf(ctx->out, util_json_str(t, "table"), r,
				 util_json_str(t, "checksum"));
		}
		out_table_end(ctx->out);
	}
	char path[4400];
	if (save && import_sums_save(save, now, path, sizeof path, err, sizeof err) < 0) {
		out_err(ctx->out, "data-checksums: %s", err);
		rc = EXIT_FAIL;
	} else if (save) {
		out_kv(ctx->out, "recorded", "%s (%s)", save, path);
	}
	cJSON_Delete(now);
	return rc;
}

const struct cmd_entry cmd_import_table[] = {
    {
	.name = "import",
	.options = "dry-run no-promote max-errors=",
	.min_args = 1,
	.max_args = 1,
	.summary = "Import a game-data export: scan, stage, validate, promote a new generation",
	.usage = "import DIR [--dry-run] [--no-promote] [--max-errors N]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.complete = COMPLETE_FILE,
	.exec = cmd_import_exec,
    },
    {
	.name = "import-status",
	.options = "finished",
	.max_args = 1,
	.summary = "Progress of the running import, or the last (or given) run; --finished exits "
		   "1 while it runs, 0 once it has ended",
	.usage = "import-status [RUN] [--finished]",
	.complete = COMPLETE_RUN,
	.exec = cmd_import_status_exec,
	.db = CMD_DB_READY,
	.check_args = check_run_arg,
    },
    {
	.name = "import-stop",
	.max_args = 1,
	.summary = "Stop the running import at its next batch boundary (resumable)",
	.usage = "import-stop [RUN]",
	.complete = COMPLETE_RUN,
	.exec = cmd_import_stop_exec,
	.db = CMD_DB_READY,
	.check_args = check_run_arg,
    },
    {
	.name = "import-resume",
	.max_args = 1,
	.summary = "Finish a stopped, killed or failed import without re-reading committed files",
	.usage = "import-resume [RUN]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.complete = COMPLETE_RUN,
	.exec = cmd_import_resume_exec,
    },
    {
	.name = "import-rollback",
	.options = "to=",
	.summary =
	    "Restore the previous (or given) import generation; builds keep their references",
	.usage = "import-rollback [--to GENERATION]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.exec = cmd_import_rollback_exec,
    },
    {
	.name = "import-logs",
	.options = "last=",
	.summary = "Import events of the last DURATION (default 24h)",
	.usage = "import-logs --last DURATION",
	.exec = cmd_import_logs_exec,
	.db = CMD_DB_READY,
	.check_args = check_logs_args,
    },
    {
	.name = "import-errors",
	.options = "last= run=",
	.summary = "Import errors and warnings of the last DURATION, with file and JSON path",
	.usage = "import-errors --last DURATION [--run RUN]",
	.exec = cmd_import_errors_exec,
	.db = CMD_DB_READY,
	.check_args = check_errors_args,
    },
    {
	.name = "import-debug",
	.options = "verbose|v",
	.min_args = 1,
	.max_args = 1,
	.summary = "Everything about one run: state, staging, problems, and its log with --verbose",
	.usage = "import-debug RUN [--verbose]",
	.complete = COMPLETE_RUN,
	.exec = cmd_import_debug_exec,
	.db = CMD_DB_READY,
	.check_args = check_run_arg,
    },
    {
	.name = "import-health",
	.summary = "Check imports: last run's state, error rate, staleness of the data",
	.usage = "import-health [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_import_health_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "import-perf",
	.options = "last=",
	.summary = "Rate, duration and size of each import run of the last DURATION (default 7d)",
	.usage = "import-perf --last DURATION",
	.exec = cmd_import_perf_exec,
	.db = CMD_DB_READY,
	.check_args = check_perf_args,
    },
    {
	.name = "import-runs",
	.options = "limit=",
	.summary = "The last import and rollback runs, newest first: state, times, the generation "
		   "each made and the one before it (what import-rollback --to goes back to)",
	.usage = "import-runs [--limit N] [--json]",
	.exec = cmd_import_runs_exec,
	.db = CMD_DB_READY,
	.check_args = check_runs_args,
    },
    {
	.name = "import-stats",
	.options = "checksums",
	.summary = "Rows per game table, the current generation and the last import time",
	.usage = "import-stats [--checksums] [--json]",
	.exec = cmd_import_stats_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "data-checksums",
	.options = "save= compare= list",
	.summary =
	    "Row counts and content checksums of every builds and game table; --save records "
	    "them, --compare proves a recovery against a record (exit 1 if any differ)",
	.usage = "data-checksums [--save NAME | --compare NAME | --list] [--json]",
	.exec = cmd_data_checksums_exec,
	.db = CMD_DB_READY,
	.check_args = check_sums_args,
    },
    {
	.name = "export-validate",
	.min_args = 1,
	.max_args = 1,
	.summary = "Check an export without a database: parse and structure, errors per file",
	.usage = "export-validate DIR",
	.flags = CMD_CHECK | CMD_NODB,
	.complete = COMPLETE_FILE,
	.exec = cmd_export_validate_exec,
    },
    {
	.name = "export-diff",
	.min_args = 2,
	.max_args = 2,
	.summary =
	    "Compare two exports: records added, removed, changed per entity; schema changes",
	.usage = "export-diff OLD NEW",
	.flags = CMD_NODB,
	.complete = COMPLETE_FILE,
	.exec = cmd_export_diff_exec,
    },
    {
	.name = "export",
	.options = "force",
	.min_args = 1,
	.max_args = 1,
	.summary = "Write the current generation back out in the export layout",
	.usage = "export DIR [--force]",
	.flags = CMD_LONG,
	.complete = COMPLETE_FILE,
	.exec = cmd_export_exec,
	.db = CMD_DB_READY,
	.check_args = check_export_args,
    },
    {
	.name = "emergency-stop",
	.options = "yes|y grace=",
	.summary = "Stop every running import now: cancel its query, then kill it after a grace",
	.usage = "emergency-stop [--yes] [--grace DURATION]",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_emergency_stop_exec,
	.db = CMD_DB_READY,
	.check_args = check_estop_args,
    },
    {
	.name = "emergency-status",
	.summary = "Check: target reachable, running imports, last errors, age of the last backup",
	.usage = "emergency-status [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_emergency_status_exec,
	.db = CMD_DB_CONNECT,
	.db_failed = emergency_status_unreachable,
    },
    {
	.name = "seed-builds",
	.max_args = 1,
	.summary = "Load sample users' builds (default tests/data/builds-mini.json)",
	.usage = "seed-builds [FILE]",
	.flags = CMD_DESTRUCTIVE,
	.complete = COMPLETE_FILE,
	.exec = cmd_seed_builds_exec,
	.db = CMD_DB_READY,
	.check_args = check_seed_args,
    },
    {
	.name = "import-parse-only",
	.min_args = 1,
	.max_args = 1,
	.summary = "Read and parse every file of an export with cJSON only (benchmark yardstick)",
	.usage = "import-parse-only DIR",
	.flags = CMD_HIDDEN | CMD_NODB,
	.exec = cmd_parse_only_exec,
    },
    {0},
};
