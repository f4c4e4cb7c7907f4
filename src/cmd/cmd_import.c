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

static PGconn *connect_or_say(struct cmd_ctx *ctx, const char *app)
{
	char err[1024];
	PGconn *c = db_connect_ready(ctx->target, app, err, sizeof err);
	if (!c)
		out_err(ctx->out, "%s", err);
	return c;
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
	PGconn *c = connect_or_say(ctx, "import-stop");
	if (!c)
		return EXIT_FAIL;
	if (import_request_stop(c, run, err, sizeof err, &stopped) < 0) {
		out_err(ctx->out, "import-stop: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	db_event(c, "warning", "import", "stop requested for run %ld", stopped);
	out_kv_int(ctx->out, "run", stopped);
	out_line(ctx->out,
		 "run %ld will stop at its next batch boundary; resume with "
		 "midsops import-resume %ld",
		 stopped, stopped);
	PQfinish(c);
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

static const char run_cols_sql[] =
    "select id, kind, state, phase, source_dir, host, pid, to_char(started_at at time zone "
    "'UTC', 'YYYY-MM-DD HH24:MI:SS'), to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD "
    "HH24:MI:SS'), to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
    "files_done, files_total, bytes_done, bytes_total, records_done, records_total, "
    "round(rate::numeric, 1), round(eta_s::numeric, 1), errors, warnings, generation, "
    "message, extract(epoch from (coalesce(finished_at, now()) - started_at)), "
    "stop_requested, backend_pid from ops.import_runs_seen ";

static void render_run(struct out *o, PGresult *r, int i)
{
	static const char *const names[] = {
	    "run",	     "kind",	    "state",	  "phase",	 "source",
	    "host",	     "pid",	    "started",	  "updated",	 "finished",
	    "files_done",    "files_total", "bytes_done", "bytes_total", "records_done",
	    "records_total", "rate",	    "eta_s",	  "errors",	 "warnings",
	    "generation",    "message"};
	for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
		if (PQgetisnull(r, i, k))
			continue;
		if (db_type_numeric(PQftype(r, k)))
			out_kv_numeric(o, names[k], PQgetvalue(r, i, k));
		else
			out_kv(o, names[k], "%s", PQgetvalue(r, i, k));
	}
	out_kv_num(o, "duration", atof(PQgetvalue(r, i, 22)), "s");
	if (PQgetvalue(r, i, 23)[0] == 't')
		out_kv(o, "stop_requested", "%s", "yes");
}

static int cmd_import_status_exec(struct cmd_ctx *ctx)
{
	long run;
	char err[1024], sql[2048], rid[32];
	if (run_arg(ctx, &run) < 0)
		return EXIT_USAGE;
	PGconn *c = connect_or_say(ctx, "import-status");
	if (!c)
		return EXIT_FAIL;
	snprintf(rid, sizeof rid, "%ld", run);
	snprintf(sql, sizeof sql,
		 "%s where $1::bigint = 0 or id = $1::bigint order by state in ('running', "
		 "'stopping') desc, id desc limit 1",
		 run_cols_sql);
	const char *p[] = {rid};
	PGresult *r = db_query(c, err, sizeof err, sql, 1, p);
	int rc = 0;
	if (!r) {
		out_err(ctx->out, "import-status: %s", err);
		rc = EXIT_FAIL;
	} else if (!PQntuples(r)) {
		if (run) {
			out_err(ctx->out, "import-status: no run %ld", run);
			rc = EXIT_FAIL;
		} else {
			out_line(ctx->out, "no import has run on this target yet");
		}
	} else {
		render_run(ctx->out, r, 0);
		double total = atof(PQgetvalue(r, 0, 13)), done = atof(PQgetvalue(r, 0, 12));
		if (strcmp(PQgetvalue(r, 0, 2), "running") == 0 && total > 0)
			out_kv(ctx->out, "progress", "%.1f%%", 100.0 * done / total);
		if (strcmp(PQgetvalue(r, 0, 2), "interrupted") == 0)
			out_kv(ctx->out, "hint", "its process is gone (pid %s on %s); finish it with "
				 "'midsops import-resume %s'",
				 PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 5), PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

static int cmd_import_logs_exec(struct cmd_ctx *ctx)
{
	long secs = 86400;
	char err[1024], s[32];
	if (args_get_duration(ctx->args, "last", &secs, err, sizeof err) < 0) {
		out_err(ctx->out, "import-logs: --last: %s", err);
		return EXIT_USAGE;
	}
	PGconn *c = connect_or_say(ctx, "import-logs");
	if (!c)
		return EXIT_FAIL;
	snprintf(s, sizeof s, "%ld", secs);
	const char *p[] = {s};
	PGresult *r = db_query(c, err, sizeof err,
			       "select to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
			       "level, source, message from ops.events where source in ('import', "
			       "'emergency-stop', 'seed-builds', 'export') and at > now() - "
			       "make_interval(secs => $1::int) order by id",
			       1, p);
	if (!r) {
		out_err(ctx->out, "import-logs: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	const char *cols[] = {"at", "level", "source", "message"};
	out_table_begin(ctx->out, "events", 4, cols);
	for (int i = 0; i < PQntuples(r); i++)
		out_rowf(ctx->out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
			 PQgetvalue(r, i, 3));
	out_table_end(ctx->out);
	if (!PQntuples(r))
		out_line(ctx->out, "no import events in the last %s",
			 args_get(ctx->args, "last") ? args_get(ctx->args, "last") : "24h");
	out_kv(ctx->out, "log_directory", "%s/import", ctx->cfg->log_dir);
	PQclear(r);
	PQfinish(c);
	return 0;
}

static int cmd_import_errors_exec(struct cmd_ctx *ctx)
{
	long secs = 86400, run = 0;
	char err[1024], s[32], rid[32];
	if (args_get_duration(ctx->args, "last", &secs, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "run", &run, err, sizeof err) < 0) {
		out_err(ctx->out, "import-errors: %s", err);
		return EXIT_USAGE;
	}
	PGconn *c = connect_or_say(ctx, "import-errors");
	if (!c)
		return EXIT_FAIL;
	snprintf(s, sizeof s, "%ld", secs);
	snprintf(rid, sizeof rid, "%ld", run);
	const char *p[] = {s, rid};
	PGresult *r =
	    db_query(c, err, sizeof err,
		     "select run_id, to_char(at at time zone 'UTC', 'YYYY-MM-DD "
		     "HH24:MI:SS'), severity, coalesce(path, ''), coalesce(json_path, ''), "
		     "code, message from ops.import_errors where at > now() - "
		     "make_interval(secs => $1::int) and ($2::bigint = 0 or run_id = "
		     "$2::bigint) order by id limit 10000",
		     2, p);
	if (!r) {
		out_err(ctx->out, "import-errors: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	const char *cols[] = {"run", "at", "severity", "path", "json_path", "code", "message"};
	out_table_begin(ctx->out, "errors", 7, cols);
	int nerr = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *cells[7];
		for (int k = 0; k < 7; k++)
			cells[k] = PQgetvalue(r, i, k);
		nerr += strcmp(cells[2], "error") == 0;
		out_row(ctx->out, cells);
	}
	out_table_end(ctx->out);
	out_kv_int(ctx->out, "errors", nerr);
	out_kv_int(ctx->out, "warnings", PQntuples(r) - nerr);
	PQclear(r);
	PQfinish(c);
	return 0;
}

static int cmd_import_debug_exec(struct cmd_ctx *ctx)
{
	long run;
	char err[1024], sql[2048], rid[32];
	if (run_arg(ctx, &run) < 0)
		return EXIT_USAGE;
	int verbose = args_has(ctx->args, "verbose");
	PGconn *c = connect_or_say(ctx, "import-debug");
	if (!c)
		return EXIT_FAIL;
	snprintf(rid, sizeof rid, "%ld", run);
	const char *p[] = {rid};
	snprintf(sql, sizeof sql, "%s where id = $1::bigint", run_cols_sql);
	PGresult *r = db_query(c, err, sizeof err, sql, 1, p);
	if (!r || !PQntuples(r)) {
		out_err(ctx->out, "import-debug: %s", r ? "no such run" : err);
		PQclear(r);
		PQfinish(c);
		return EXIT_FAIL;
	}
	out_section(ctx->out, "run");
	render_run(ctx->out, r, 0);
	if (!PQgetisnull(r, 0, 24))
		out_kv(ctx->out, "backend_pid", "%s", PQgetvalue(r, 0, 24));
	out_section_end(ctx->out);
	PQclear(r);
	r = db_query(c, err, sizeof err,
		     "select (select count(*) from ops.import_files where run_id = $1), (select "
		     "coalesce(sum(size), 0) from ops.import_files where run_id = $1), (select "
		     "count(*) from stage.records where run_id = $1), (select options::text from "
		     "ops.import_runs where id = $1), (select counts::text from "
		     "ops.import_generations where run_id = $1)",
		     1, p);
	if (r) {
		out_section(ctx->out, "staging");
		out_kv(ctx->out, "files_committed", "%s", PQgetvalue(r, 0, 0));
		out_kv(ctx->out, "bytes_committed", "%s", PQgetvalue(r, 0, 1));
		out_kv(ctx->out, "staged_rows", "%s", PQgetvalue(r, 0, 2));
		out_kv(ctx->out, "options", "%s", PQgetvalue(r, 0, 3));
		if (!PQgetisnull(r, 0, 4))
			out_kv(ctx->out, "generation_changes", "%s", PQgetvalue(r, 0, 4));
		out_section_end(ctx->out);
		PQclear(r);
	}
	r = db_query(c, err, sizeof err,
		     "select code, severity, count(*) from ops.import_errors where run_id = $1 "
		     "group by 1, 2 order by 3 desc",
		     1, p);
	if (r) {
		const char *cols[] = {"code", "severity", "count"};
		out_table_begin(ctx->out, "problems_by_code", 3, cols);
		for (int i = 0; i < PQntuples(r); i++)
			out_rowf(ctx->out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				 PQgetvalue(r, i, 2));
		out_table_end(ctx->out);
		PQclear(r);
	}
	/* Lines the importer could not write to the run log (engine.c records the first). */
	char *lost = db_scalar(c, err, sizeof err,
			       "select options->>'log_incomplete' from ops.import_runs where id = "
			       "$1::bigint",
			       1, p);
	if (lost)
		out_kv(ctx->out, "log", "incomplete: %s", lost);
	if (verbose) {
		r = db_query(c, err, sizeof err,
			     "select severity, coalesce(path, ''), coalesce(json_path, ''), code, "
			     "message from ops.import_errors where run_id = $1 order by id",
			     1, p);
		if (r) {
			const char *cols[] = {"severity", "path", "json_path", "code", "message"};
			out_table_begin(ctx->out, "problems", 5, cols);
			for (int i = 0; i < PQntuples(r); i++)
				out_rowf(ctx->out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
					 PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
					 PQgetvalue(r, i, 4));
			out_table_end(ctx->out);
			PQclear(r);
		}
		/* The run's own log, with the SQL timings of promote. */
		char path[4300];
		import_log_path(ctx->cfg, PQdb(c), run, path, sizeof path);
		FILE *f = fopen(path, "r");
		out_kv(ctx->out, "log_file", "%s%s", path,
		       lost ? " (incomplete: lines are missing)"
		       : f  ? ""
			    : " (absent on this host)");
		if (f) {
			char line[2048];
			while (fgets(line, sizeof line, f)) {
				line[strcspn(line, "\n")] = 0;
				out_line(ctx->out, "%s", line);
			}
			fclose(f);
		}
	}
	free(lost);
	PQfinish(c);
	return 0;
}

/* Shared by import-health and the status section. */
static enum status import_health_render(struct out *o, PGconn *c, char *summary, size_t n)
{
	char err[1024];
	PGresult *r = db_query(
	    c, err, sizeof err,
	    "select id, state, phase, errors, files_total, extract(epoch from now() - "
	    "updated_at), (select extract(epoch from now() - max(finished_at)) from "
	    "ops.import_runs where state = 'completed' and generation is not null), (select "
	    "coalesce(max(generation), 0) from ops.import_generations), coalesce(message, '') "
	    "from ops.import_runs_seen order by id desc limit 1",
	    0, NULL);
	if (!r) {
		out_kv_status(o, "import", ST_UNKNOWN, "%s", err);
		snprintf(summary, n, "cannot read import runs");
		return ST_UNKNOWN;
	}
	if (!PQntuples(r)) {
		out_kv_status(o, "last_run", ST_WARNING, "none: no import has run on this target");
		snprintf(summary, n, "no import yet");
		PQclear(r);
		return ST_WARNING;
	}
	enum status worst = ST_OK, st;
	const char *state = PQgetvalue(r, 0, 1);
	double idle = atof(PQgetvalue(r, 0, 5));
	if (strcmp(state, "running") == 0)
		st = idle > 300 ? ST_CRITICAL : ST_OK; /* no progress row for 5 minutes: stalled */
	else if (strcmp(state, "failed") == 0)
		st = ST_CRITICAL;
	else if (strcmp(state, "stopped") == 0 || strcmp(state, "interrupted") == 0)
		st = ST_WARNING;
	else
		st = ST_OK;
	out_kv_status(
	    o, "last_run", st, "%s %s (phase %s)%s", PQgetvalue(r, 0, 0), state,
	    PQgetvalue(r, 0, 2),
	    st == ST_CRITICAL && strcmp(state, "running") == 0 ? ": no progress for 5 minutes"
	    : strcmp(state, "interrupted") == 0
		? ": its process is gone; finish it with 'midsops import-resume'"
		: "");
	if (PQgetvalue(r, 0, 8)[0])
		out_kv(o, "last_message", "%s", PQgetvalue(r, 0, 8));
	worst = status_worst(worst, st);
	double files = atof(PQgetvalue(r, 0, 4)), errs = atof(PQgetvalue(r, 0, 3));
	double rate = files > 0 ? 100.0 * errs / files : 0;
	st = rate > 5 ? ST_CRITICAL : rate > 0 ? ST_WARNING : ST_OK;
	/* Any error warns; over 5% of the files is critical. */
	struct out_fig f = {.value = rate / 100.0, .unit = OUT_RATIO, .thresholds = 1, .warn = 0,
			    .crit = 0.05, .range = 1, .min = 0, .max = 1};
	out_fig_status(o, "error_rate", st, &f, "%.2f%% (%.0f errors in %.0f files)", rate, errs,
		       files);
	worst = status_worst(worst, st);
	if (PQgetisnull(r, 0, 6)) {
		st = ST_WARNING;
		out_kv_status(o, "last_import", st, "never completed");
	} else {
		double age = atof(PQgetvalue(r, 0, 6));
		char a[64];
		fmt_duration(a, sizeof a, age);
		st = age > 30 * 86400.0 ? ST_CRITICAL : age > 8 * 86400.0 ? ST_WARNING : ST_OK;
		f = (struct out_fig){.value = age, .unit = OUT_SECONDS, .thresholds = 1,
				     .warn = 8 * 86400.0, .crit = 30 * 86400.0};
		out_fig_status(o, "last_import_age", st, &f, "%s ago", a);
	}
	worst = status_worst(worst, st);
	out_kv(o, "generation", "%s", PQgetvalue(r, 0, 7));
	if (strcmp(state, "interrupted") == 0)
		snprintf(summary, n, "run %s interrupted (its process is gone): midsops import-resume",
			 PQgetvalue(r, 0, 0));
	else
		snprintf(summary, n, "last run %s %s, generation %s", PQgetvalue(r, 0, 0), state,
			 PQgetvalue(r, 0, 7));
	PQclear(r);
	return worst;
}

enum status import_status_section(struct out *o, const struct config *cfg, PGconn *c)
{
	(void)cfg;
	char summary[256];
	if (!c)
		return ST_UNKNOWN;
	PGresult *r = PQexec(c, "select to_regclass('ops.import_runs') is not null");
	int present = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!present) {
		out_kv_status(o, "import", ST_WARNING, "schema not created (midsops db-create)");
		return ST_WARNING;
	}
	return import_health_render(o, c, summary, sizeof summary);
}

static int cmd_import_health_exec(struct cmd_ctx *ctx)
{
	char err[1024], summary[256];
	PGconn *c = db_connect_ready(ctx->target, "import-health", err, sizeof err);
	if (!c) {
		out_status(ctx->out, ST_CRITICAL, "%s", err);
		return ST_CRITICAL;
	}
	enum status st = import_health_render(ctx->out, c, summary, sizeof summary);
	out_status(ctx->out, st, "%s", summary);
	PQfinish(c);
	return st;
}

static int cmd_import_perf_exec(struct cmd_ctx *ctx)
{
	long secs = 7 * 86400;
	char err[1024], s[32];
	if (args_get_duration(ctx->args, "last", &secs, err, sizeof err) < 0) {
		out_err(ctx->out, "import-perf: --last: %s", err);
		return EXIT_USAGE;
	}
	PGconn *c = connect_or_say(ctx, "import-perf");
	if (!c)
		return EXIT_FAIL;
	snprintf(s, sizeof s, "%ld", secs);
	const char *p[] = {s};
	PGresult *r = db_query(
	    c, err, sizeof err,
	    "select id, kind, state, to_char(started_at at time zone 'UTC', 'YYYY-MM-DD "
	    "HH24:MI'), round(extract(epoch from (coalesce(finished_at, updated_at) - "
	    "started_at))::numeric, 2), files_total, bytes_total, records_total, "
	    "round(records_total / greatest(extract(epoch from (coalesce(finished_at, "
	    "updated_at) - started_at)), 0.001)::numeric, 0), errors from ops.import_runs where "
	    "started_at > now() - make_interval(secs => $1::int) order by id",
	    1, p);
	if (!r) {
		out_err(ctx->out, "import-perf: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	const char *cols[] = {"run",   "kind",	"state",   "started",	"seconds",
			      "files", "bytes", "records", "records_s", "errors"};
	out_table_begin(ctx->out, "runs", 10, cols);
	double sum = 0;
	int n = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *cells[10];
		for (int k = 0; k < 10; k++)
			cells[k] = PQgetvalue(r, i, k);
		out_row(ctx->out, cells);
		if (strcmp(cells[2], "completed") == 0) {
			sum += atof(cells[8]);
			n++;
		}
	}
	out_table_end(ctx->out);
	out_kv_int(ctx->out, "runs", PQntuples(r));
	if (n) {
		double avg = sum / n;
		struct out_fig f = status_fig(avg, OUT_PER_SECOND, &ctx->cfg->import_speed, 1);
		out_fig_status(ctx->out, "mean_rate",
			       (enum status)threshold_judge(&ctx->cfg->import_speed, avg), &f,
			       "%.0f records/s", avg);
	}
	PQclear(r);
	PQfinish(c);
	return 0;
}

static int cmd_import_stats_exec(struct cmd_ctx *ctx)
{
	PGconn *c = connect_or_say(ctx, "import-stats");
	if (!c)
		return EXIT_FAIL;
	int rc =
	    import_stats_render(ctx->out, c, args_has(ctx->args, "checksums")) < 0 ? EXIT_FAIL : 0;
	PQfinish(c);
	return rc;
}

static int cmd_export_validate_exec(struct cmd_ctx *ctx)
{
	return import_validate_dir(ctx->out, ctx->args->argv[0]);
}

static int cmd_export_diff_exec(struct cmd_ctx *ctx)
{
	return import_diff_dirs(ctx->out, ctx->args->argv[0], ctx->args->argv[1]);
}

static int cmd_export_exec(struct cmd_ctx *ctx)
{
	const char *dir = ctx->args->argv[0];
	/* An existing non-empty directory would mix two exports. */
	if (!args_has(ctx->args, "force") && !import_dir_is_empty(dir)) {
		out_err(ctx->out, "export: %s is not empty (use --force to write into it)", dir);
		return EXIT_FAIL;
	}
	PGconn *c = connect_or_say(ctx, "export");
	if (!c)
		return EXIT_FAIL;
	int rc = import_export_dir(ctx->out, c, dir);
	if (rc == 0)
		db_event(c, "info", "export", "current generation exported to %s", dir);
	PQfinish(c);
	return rc;
}

static int cmd_parse_only_exec(struct cmd_ctx *ctx)
{
	return import_parse_only(ctx->out, ctx->args->argv[0]);
}

static int confirm(struct cmd_ctx *ctx, const char *question)
{
	if (args_has(ctx->args, "yes"))
		return 1;
	if (!ctx->interactive) {
		out_err(ctx->out, "%s: not a terminal; confirm with --yes", question);
		return 0;
	}
	out_line(ctx->out, "%s [y/N]", question);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return 0;
	return line[0] == 'y' || line[0] == 'Y';
}

/* A run's pid may have been recycled since its importer died (kill -9 leaves the row
 * 'running'), so only a process that is still a midsops import is ever signalled. */
static int pid_alive(long pid)
{
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return 0;
	char path[64], cmd[4096];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(cmd, 1, sizeof cmd - 1, f);
	fclose(f);
	int midsops = 0, import = 0;
	for (size_t i = 0; i < n; i += strlen(cmd + i) + 1) {
		cmd[n] = 0;
		const char *base = strrchr(cmd + i, '/');
		base = base ? base + 1 : cmd + i;
		if (strncmp(base, "midsops", 7) == 0)
			midsops = 1;
		if (strncmp(cmd + i, "import", 6) == 0)
			import = 1;
	}
	return midsops && import;
}

/* The backends a run holds: its staging connection (backend_pid) and the others the
 * importer recorded (options.backend_pids: progress, and promote's, whose transaction is
 * the one that matters), while they are still connected to this database as an importer,
 * so that a recycled pid is never signalled. */
#define RUN_BACKENDS                                                                               \
	"select a.pid from pg_stat_activity a, ops.import_runs r where r.id = $1 and a.datname = " \
	"current_database() and a.application_name like 'midsops import%' and a.pid = any "        \
	"(array_append(array(select jsonb_array_elements_text(coalesce(r.options->"                \
	"'backend_pids', '[]')))::int[], r.backend_pid))"

/* Cancel (or terminate) every backend of run id, through ops.import_signal (sql/050), so
 * the operator role needs no pg_signal_backend: returns how many were signalled, and in
 * *total how many there were. */
static int estop_signal(PGconn *c, const char *id, int terminate, int *total)
{
	char err[512];
	const char *p[] = {id, terminate ? "true" : "false"};
	PGresult *r = db_query(c, err, sizeof err,
			       "select total, signalled from ops.import_signal($1::bigint, $2::boolean)",
			       2, p);
	int n = r ? atoi(PQgetvalue(r, 0, 1)) : 0;
	if (total)
		*total = r ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return n;
}

/* What the run looks like now: its state and phase, the generation it promoted ("" none),
 * how many backends it still holds. */
struct estop_seen {
	char state[16], phase[32], gen[16];
	int backends;
};

static int estop_look(PGconn *c, const char *id, struct estop_seen *s)
{
	char err[512];
	const char *p[] = {id};
	PGresult *r = db_query(c, err, sizeof err,
			       "select r.state, r.phase, coalesce((select max(g.generation)::text "
			       "from ops.import_generations g where g.run_id = r.id), ''), (select "
			       "count(*) from (" RUN_BACKENDS ") b) from ops.import_runs r where "
			       "r.id = $1",
			       1, p);
	if (!r || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	snprintf(s->state, sizeof s->state, "%s", PQgetvalue(r, 0, 0));
	snprintf(s->phase, sizeof s->phase, "%s", PQgetvalue(r, 0, 1));
	snprintf(s->gen, sizeof s->gen, "%s", PQgetvalue(r, 0, 2));
	s->backends = atoi(PQgetvalue(r, 0, 3));
	PQclear(r);
	return 0;
}

/* Wait up to tenths * 0.1 s for the run to settle: the importer wrote its end (stopped,
 * failed, completed: each with its truth, as promote's commit carries 'completed'), or it
 * is gone with every backend it held (pid: its local process, 0 if none), so nothing of it
 * can still commit. Returns 1 when settled. */
static int estop_settle(PGconn *c, const char *id, long pid, long tenths, struct estop_seen *s)
{
	for (long i = 0;; i++) {
		if (estop_look(c, id, s) == 0) {
			int running =
			    strcmp(s->state, "running") == 0 || strcmp(s->state, "stopping") == 0;
			if (!running || (s->backends == 0 && !(pid && pid_alive(pid))))
				return 1;
		}
		if (i >= tenths)
			return 0;
		usleep(100000);
	}
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
	char err[1024], host[256] = "";
	long grace = 5;
	if (args_get_duration(ctx->args, "grace", &grace, err, sizeof err) < 0) {
		out_err(ctx->out, "emergency-stop: --grace: %s", err);
		return EXIT_USAGE;
	}
	gethostname(host, sizeof host - 1);
	PGconn *c = connect_or_say(ctx, "emergency-stop");
	if (!c)
		return EXIT_FAIL;
	PGresult *r = db_query(c, err, sizeof err,
			       "select id, coalesce(host, ''), coalesce(pid, 0), kind, phase from "
			       "ops.import_runs where state in ('running', 'stopping') order by id",
			       0, NULL);
	if (!r) {
		out_err(ctx->out, "emergency-stop: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	int n = PQntuples(r);
	if (n == 0) {
		out_line(ctx->out, "no import is running");
		PQclear(r);
		PQfinish(c);
		return 0;
	}
	for (int i = 0; i < n; i++)
		out_line(ctx->out, "running: %s %s on host %s, pid %s, phase %s",
			 PQgetvalue(r, i, 3), PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			 PQgetvalue(r, i, 2), PQgetvalue(r, i, 4));
	char q[128];
	snprintf(q, sizeof q, "stop %d running import%s now", n, n == 1 ? "" : "s");
	if (!confirm(ctx, q)) {
		out_err(ctx->out, "emergency-stop: not confirmed; nothing stopped");
		PQclear(r);
		PQfinish(c);
		return EXIT_FAIL;
	}
	/* Promote's last update of the run holds its row until the commit: setting the flag
	 * must not wait for that. */
	db_exec(c, err, sizeof err, "set lock_timeout = '2s'", 0, NULL);
	const char *cols[] = {"run",	 "kind",       "host",	   "pid",	"phase",
			      "outcome", "generation", "backends", "cancelled", "killed"};
	out_table_begin(ctx->out, "runs", 10, cols);
	char(*said)[512] = calloc((size_t)n, sizeof *said);
	int all_stopped = 1;
	for (int i = 0; i < n && said; i++) {
		const char *id = PQgetvalue(r, i, 0), *h = PQgetvalue(r, i, 1),
			   *kind = PQgetvalue(r, i, 3);
		long pid = atol(PQgetvalue(r, i, 2));
		const char *p[] = {id};
		db_exec(
		    c, err, sizeof err,
		    "update ops.import_runs set stop_requested = true, updated_at = now() where "
		    "id = $1",
		    1, p);
		/* A timeout there means promote's transaction holds the row: it is committing,
		 * and the cancel below decides; the outcome is read back either way. */
		int nb = 0, nc = estop_signal(c, id, 0, &nb);
		int local = strcmp(h, host) == 0 && pid_alive(pid), killed = 0;
		if (local)
			kill((pid_t)pid, SIGTERM);
		struct estop_seen s = {"", "", "", 0};
		int settled = estop_settle(c, id, local ? pid : 0, grace * 10, &s);
		if (!settled) {
			if (local && pid_alive(pid)) {
				kill((pid_t)pid, SIGKILL);
				killed = 1;
			}
			/* An importer on another host, or one stuck: its sessions end, and with
			 * them any transaction that had not committed. */
			estop_signal(c, id, 1, NULL);
			settled = estop_settle(c, id, local ? pid : 0, 100, &s);
		}
		int running = strcmp(s.state, "running") == 0 || strcmp(s.state, "stopping") == 0;
		const char *outcome;
		if (s.gen[0]) {
			outcome = "too late";
			snprintf(said[i], sizeof said[i],
				 "too late: run %s had already promoted generation %s", id, s.gen);
		} else if (strcmp(s.state, "completed") == 0) {
			outcome = "too late";
			snprintf(said[i], sizeof said[i],
				 "too late: run %s had already completed (nothing promoted)", id);
		} else if (!settled || !s.state[0]) {
			outcome = "not stopped";
			snprintf(said[i], sizeof said[i],
				 "not stopped: run %s still holds %d backend%s (host %s, pid %ld)",
				 id, s.backends, s.backends == 1 ? "" : "s", h, pid);
		} else {
			/* Gone without writing its end (killed): nothing of it is left that could
			 * commit, and nothing was promoted. */
			if (running)
				db_exec(
				    c, err, sizeof err,
				    "update ops.import_runs set state = 'stopped', message = "
				    "'emergency-stop: stopped in phase ' || phase || ' before "
				    "promote', finished_at = now(), updated_at = now() where id = "
				    "$1 and state in ('running', 'stopping')",
				    1, p);
			outcome = running ? "stopped" : s.state;
			snprintf(said[i], sizeof said[i],
				 "run %s %s in phase %s before promote committed; %s%s", id,
				 running ? "stopped" : s.state, s.phase,
				 strcmp(kind, "rollback") == 0
				     ? "nothing changed: run the rollback again"
				     : "resume with import-resume ",
				 strcmp(kind, "rollback") == 0 ? "" : id);
		}
		if (strcmp(outcome, "stopped") != 0)
			all_stopped = 0;
		char nbs[16], ncs[16];
		snprintf(nbs, sizeof nbs, "%d", nb);
		snprintf(ncs, sizeof ncs, "%d", nc);
		out_rowf(ctx->out, id, kind, h, PQgetvalue(r, i, 2), s.phase, outcome,
			 s.gen[0] ? s.gen : "", nbs, ncs, killed ? "yes" : "no");
		db_event(c, strcmp(outcome, "stopped") == 0 ? "warning" : "error", "emergency-stop",
			 "%s (host %s, pid %ld; %d of %d backends cancelled, process %s)", said[i],
			 h, pid, nc, nb,
			 killed			? "killed"
			 : local		? "exited"
			 : strcmp(h, host) == 0 ? "already gone"
						: "on another host (not signalled)");
	}
	out_table_end(ctx->out);
	for (int i = 0; i < n && said; i++)
		out_line(ctx->out, "%s", said[i]);
	free(said);
	PQclear(r);
	PQfinish(c);
	return all_stopped ? 0 : EXIT_FAIL;
}

static int cmd_emergency_status_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	PGconn *c = db_connect(ctx->target, "emergency-status", err, sizeof err);
	if (!c) {
		out_kv_status(ctx->out, "target", ST_CRITICAL, "unreachable: %s", err);
		out_status(ctx->out, ST_CRITICAL, "target unreachable");
		return ST_CRITICAL;
	}
	enum status worst = ST_OK;
	out_kv_status(ctx->out, "target", ST_OK, "reachable");
	PGresult *r = PQexec(c, "select to_regclass('ops.import_runs') is not null, "
				"to_regclass('ops.backups') is not null");
	int have_runs = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
	int have_backups = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (have_runs) {
		r = db_query(c, err, sizeof err,
			     "select id, kind, phase, coalesce(host, ''), coalesce(pid, 0), "
			     "files_done, files_total from ops.import_runs_seen where state in "
			     "('running', 'stopping') order by id",
			     0, NULL);
		const char *cols[] = {"run", "kind", "phase", "host", "pid", "files"};
		out_table_begin(ctx->out, "running_imports", 6, cols);
		for (int i = 0; r && i < PQntuples(r); i++) {
			char files[64];
			snprintf(files, sizeof files, "%s/%s", PQgetvalue(r, i, 5),
				 PQgetvalue(r, i, 6));
			out_rowf(ctx->out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				 PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
				 files);
		}
		out_table_end(ctx->out);
		out_kv_int(ctx->out, "running_imports", r ? PQntuples(r) : 0);
		PQclear(r);
		r = db_query(c, err, sizeof err,
			     "select string_agg(id::text, ', ' order by id) from "
			     "ops.import_runs_seen where state = 'interrupted'",
			     0, NULL);
		if (r && !PQgetisnull(r, 0, 0)) {
			out_kv_status(ctx->out, "interrupted_imports", ST_WARNING,
				      "run %s: its process is gone; finish it with 'midsops "
				      "import-resume'",
				      PQgetvalue(r, 0, 0));
			worst = status_worst(worst, ST_WARNING);
		}
		PQclear(r);
		r = db_query(
		    c, err, sizeof err,
		    "select to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
		    "source, message from (select at, source, message, id from ops.events "
		    "where level = 'error' union all select at, 'import', coalesce(path || "
		    "': ', '') || message, id from ops.import_errors where severity = "
		    "'error') e order by at desc limit 5",
		    0, NULL);
		const char *cols2[] = {"at", "source", "message"};
		out_table_begin(ctx->out, "last_errors", 3, cols2);
		for (int i = 0; r && i < PQntuples(r); i++)
			out_rowf(ctx->out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				 PQgetvalue(r, i, 2));
		out_table_end(ctx->out);
		PQclear(r);
	} else {
		out_kv_status(ctx->out, "imports", ST_WARNING, "schema not created");
		worst = ST_WARNING;
	}
	if (have_backups) {
		/* The backup family owns ops.backups; read it through to_jsonb so its column
		 * names can change without breaking this check. */
		r = db_query(
		    c, err, sizeof err,
		    "select count(*), extract(epoch from now() - max(coalesce((to_jsonb(b)->>"
		    "'finished_at')::timestamptz, (to_jsonb(b)->>'started_at')::timestamptz, "
		    "(to_jsonb(b)->>'created_at')::timestamptz))) from ops.backups b",
		    0, NULL);
		if (r && atoll(PQgetvalue(r, 0, 0)) > 0 && !PQgetisnull(r, 0, 1)) {
			double age = atof(PQgetvalue(r, 0, 1));
			char a[64];
			fmt_duration(a, sizeof a, age);
			enum status st = threshold_judge(&ctx->cfg->backup_age, age / 3600.0);
			out_kv_status(ctx->out, "last_backup", st, "%s ago", a);
			worst = status_worst(worst, st);
		} else {
			out_kv_status(ctx->out, "last_backup", ST_WARNING, "no backups recorded");
			worst = status_worst(worst, ST_WARNING);
		}
		PQclear(r);
	} else {
		out_kv_status(ctx->out, "last_backup", ST_WARNING, "no backups recorded");
		worst = status_worst(worst, ST_WARNING);
	}
	out_status(ctx->out, worst, "%s",
		   worst == ST_OK ? "target reachable, no import stuck, backups recent"
				: "target reachable");
	PQfinish(c);
	return worst;
}

/* builds-mini.json: {"builds": [{name, owner, archetype, powers: [{power, level,
 * enhancements: [{enhancement, level}]}]}]}. Loaded in one statement from the file's
 * JSON, so references resolve by natural key on the server. */
static int cmd_seed_builds_exec(struct cmd_ctx *ctx)
{
	const char *file = ctx->args->argc ? ctx->args->argv[0] : "tests/data/builds-mini.json";
	struct import_buf b = {0};
	size_t len;
	if (import_read_file(file, &b, &len) < 0) {
		out_err(ctx->out, "seed-builds: %s: %s", file, strerror(errno));
		return EXIT_FAIL;
	}
	cJSON *root = cJSON_ParseWithLength(b.p, len);
	if (!root || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "builds"))) {
		out_err(ctx->out, "seed-builds: %s: not a JSON object with a \"builds\" array",
			file);
		cJSON_Delete(root);
		import_buf_free(&b);
		return EXIT_FAIL;
	}
	cJSON_Delete(root);
	PGconn *c = connect_or_say(ctx, "seed-builds");
	if (!c) {
		import_buf_free(&b);
		return EXIT_FAIL;
	}
	char err[1024];
	const char *p[] = {b.p};
	int rc = 0;
	PGresult *r = NULL;
	if (db_begin(c, err, sizeof err) < 0 ||
	    db_exec(c, err, sizeof err,
		    "create temp table sb on commit drop as select b.value as build, b.ordinality "
		    "as n from jsonb_array_elements($1::jsonb->'builds') with ordinality b",
		    1, p) < 0 ||
	    db_exec(c, err, sizeof err,
		    "insert into builds.builds (owner, name, archetype_id, raw, created_at) "
		    "select build->>'owner', build->>'name', (select id from game.archetypes a "
		    "where a.key = build->>'archetype'), build, coalesce((build->>'created')::"
		    "timestamptz, now()) from sb on conflict (owner, name) do update set "
		    "archetype_id = excluded.archetype_id, raw = excluded.raw",
		    0, NULL) < 0 ||
	    db_exec(c, err, sizeof err,
		    "insert into builds.build_powers (build_id, power_id, level) "
		    "select bb.id, p.id, (x.value->>'level')::int from sb join builds.builds bb on "
		    "bb.owner = sb.build->>'owner' and bb.name = sb.build->>'name' cross join "
		    "lateral jsonb_array_elements(sb.build->'powers') x join game.powers p on "
		    "p.key = x.value->>'power' on conflict (build_id, power_id) do update set "
		    "level = excluded.level",
		    0, NULL) < 0 ||
	    db_exec(
		c, err, sizeof err,
		"insert into builds.build_enhancements (build_power_id, slot, enhancement_id, "
		"level) select bp.id, e.ordinality - 1, en.id, (e.value->>'level')::int from sb "
		"join builds.builds bb on bb.owner = sb.build->>'owner' and bb.name = "
		"sb.build->>'name' cross join lateral jsonb_array_elements(sb.build->'powers') "
		"x join game.powers p on p.key = x.value->>'power' join builds.build_powers bp "
		"on bp.build_id = bb.id and bp.power_id = p.id cross join lateral "
		"jsonb_array_elements(x.value->'enhancements') with ordinality e join "
		"game.enhancements en on en.key = e.value->>'enhancement' on conflict "
		"(build_power_id, slot) do update set enhancement_id = excluded.enhancement_id, "
		"level = excluded.level",
		0, NULL) < 0 ||
	    !(r = db_query(
		  c, err, sizeof err,
		  "select (select count(*) from sb), (select count(*) from sb, "
		  "jsonb_array_elements(build->'powers')), (select count(*) from sb, "
		  "jsonb_array_elements(build->'powers') x where not exists (select 1 from "
		  "game.powers p where p.key = x.value->>'power')), (select count(*) from "
		  "sb, jsonb_array_elements(build->'powers') x, "
		  "jsonb_array_elements(x.value->'enhancements') e where not exists (select 1 "
		  "from game.enhancements en where en.key = e.value->>'enhancement'))",
		  0, NULL)) ||
	    db_commit(c, err, sizeof err) < 0) {
		db_rollback(c);
		out_err(ctx->out, "seed-builds: %s", err);
		rc = EXIT_FAIL;
	} else {
		out_kv(ctx->out, "builds", "%s", PQgetvalue(r, 0, 0));
		out_kv(ctx->out, "powers", "%s", PQgetvalue(r, 0, 1));
		long long mp = atoll(PQgetvalue(r, 0, 2)), me = atoll(PQgetvalue(r, 0, 3));
		out_kv_int(ctx->out, "unknown_powers", mp);
		out_kv_int(ctx->out, "unknown_enhancements", me);
		if (mp || me)
			out_warn(ctx->out,
				 "seed-builds: %lld powers and %lld enhancements are not in "
				 "the current generation (import first?); they were skipped",
				 mp, me);
		db_event(c, "info", "seed-builds", "loaded builds from %s", file);
	}
	PQclear(r);
	PQfinish(c);
	import_buf_free(&b);
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
	.max_args = 1,
	.summary = "Progress of the running import, or the last (or given) run",
	.usage = "import-status [RUN]",
	.complete = COMPLETE_RUN,
	.exec = cmd_import_status_exec,
    },
    {
	.name = "import-stop",
	.max_args = 1,
	.summary = "Stop the running import at its next batch boundary (resumable)",
	.usage = "import-stop [RUN]",
	.complete = COMPLETE_RUN,
	.exec = cmd_import_stop_exec,
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
    },
    {
	.name = "import-errors",
	.options = "last= run=",
	.summary = "Import errors and warnings of the last DURATION, with file and JSON path",
	.usage = "import-errors --last DURATION [--run RUN]",
	.exec = cmd_import_errors_exec,
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
    },
    {
	.name = "import-health",
	.summary = "Check imports: last run's state, error rate, staleness of the data",
	.usage = "import-health [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_import_health_exec,
    },
    {
	.name = "import-perf",
	.options = "last=",
	.summary = "Rate, duration and size of each import run of the last DURATION (default 7d)",
	.usage = "import-perf --last DURATION",
	.exec = cmd_import_perf_exec,
    },
    {
	.name = "import-stats",
	.options = "checksums",
	.summary = "Rows per game table, the current generation and the last import time",
	.usage = "import-stats [--checksums] [--json]",
	.exec = cmd_import_stats_exec,
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
    },
    {
	.name = "emergency-stop",
	.options = "yes|y grace=",
	.summary = "Stop every running import now: cancel its query, then kill it after a grace",
	.usage = "emergency-stop [--yes] [--grace DURATION]",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_emergency_stop_exec,
    },
    {
	.name = "emergency-status",
	.summary = "Check: target reachable, running imports, last errors, age of the last backup",
	.usage = "emergency-status [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_emergency_status_exec,
    },
    {
	.name = "seed-builds",
	.max_args = 1,
	.summary = "Load sample users' builds (default tests/data/builds-mini.json)",
	.usage = "seed-builds [FILE]",
	.flags = CMD_DESTRUCTIVE,
	.complete = COMPLETE_FILE,
	.exec = cmd_seed_builds_exec,
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
