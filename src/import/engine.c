/* The import run: connections, the lock, the scan, staging (stage.c) with promote
 * batch by batch on a second connection (promote.c), validation, the end of promote, and
 * rollback. Progress goes to ops.import_runs on a third connection every 250 ms with a
 * NOTIFY, so other terminals and the console see it while a batch is open. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "import_int.h"
#include "log.h"
#include "paths.h"
#include "target.h"
#include "sha256.h"

static volatile sig_atomic_t import_signalled;

static void on_signal(int sig)
{
	(void)sig;
	import_signalled = 1;
}

static void run_log_v(struct import_run_state *r, const char *level, const char *fmt, va_list ap)
{
	if (!r->log_name[0])
		return;
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX], err[1024];
	int n = snprintf(msg, sizeof msg, "run %ld: ", r->id);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	size_t len = log_format(line, sizeof line, level, NULL, msg);
	if (log_append(r->log_dir, r->log_name, line, len, err, sizeof err) == 0)
		return;
	log_failed(err);
	if (r->log_failed++)
		return;
	/* On the run itself, so that import-debug, on any host, says the log is incomplete
	 * rather than show a file that lacks lines. The progress connection commits at once;
	 * the other may be inside promote's transaction. */
	const char *p[] = {r->idtxt, err};
	char qerr[256];
	PGresult *res = db_query(r->pc ? r->pc : r->c, qerr, sizeof qerr,
				 "update ops.import_runs set options = coalesce(options, '{}') || "
				 "jsonb_build_object('log_incomplete', $2::text) where id = $1",
				 2, p);
	PQclear(res);
}

void import_log(struct import_run_state *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	run_log_v(r, "info", fmt, ap);
	va_end(ap);
}

static void import_log_level(struct import_run_state *r, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void import_log_level(struct import_run_state *r, const char *level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	run_log_v(r, level, fmt, ap);
	va_end(ap);
}

void import_record_error(void *ctx, const char *path, const char *json_path, const char *code,
			 const char *msg)
{
	struct import_run_state *r = ctx;
	/* Skipped directories and symlinks the walk does not follow are warnings: the rest of
	 * the export imports normally. */
	int warning = strcmp(code, "unknown_directory") == 0 || strcmp(code, "symlink_dir") == 0 ||
		      strcmp(code, "symlink_loop") == 0;
	if (warning)
		r->warnings++;
	else
		r->errors++;
	/* Messages quote files (the mapper's already printable) and the server, which may
	 * quote a document back: as printable text for terminals, logs and the table. */
	char m[4096], jp[2048];
	import_printable(m, sizeof m, msg, strlen(msg));
	import_printable(jp, sizeof jp, json_path ? json_path : "",
			 json_path ? strlen(json_path) : 0);
	msg = m;
	json_path = json_path ? jp : NULL;
	import_log_level(r, warning ? "warning" : "error", "%s %s %s: %s", code, path ? path : "-",
			 json_path ? json_path : "", msg);
	if (r->shown_errors++ < 20)
		out_err(r->o, "%s%s%s: %s", path ? path : "", json_path ? ": " : "",
			json_path ? json_path : "", msg);
	else if (r->shown_errors == 21)
		out_err(r->o, "more errors: see midsops import-errors --run %ld", r->id);
	if (!r->pc)
		return;
	const char *p[] = {r->idtxt, path, json_path, code, msg, warning ? "warning" : "error"};
	char err[256];
	PGresult *res = db_query(r->pc, err, sizeof err,
				 "insert into ops.import_errors (run_id, path, json_path, code, "
				 "message, severity) values ($1, $2, $3, $4, $5, $6)",
				 6, p);
	PQclear(res);
}

int import_stopping(struct import_run_state *r)
{
	if (import_signalled)
		r->stop_requested = 1;
	if (!r->stop_requested && r->pc && r->id > 0) {
		const char *p[] = {r->idtxt};
		char err[256];
		char *v =
		    db_scalar(r->pc, err, sizeof err,
			      "select stop_requested from ops.import_runs where id = $1", 1, p);
		if (v && v[0] == 't')
			r->stop_requested = 1;
		free(v);
	}
	return r->stop_requested || strcmp(r->sqlstate, "57014") == 0;
}

void import_note_result(struct import_run_state *r, const PGresult *res)
{
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* What fails after a cancel (25P02: the transaction is aborted) is its consequence. */
	if (code && strcmp(r->sqlstate, "57014") != 0)
		snprintf(r->sqlstate, sizeof r->sqlstate, "%s", code);
}

PGresult *import_exec_on(struct import_run_state *r, PGconn *c, char *err, size_t errlen,
			 const char *sql, int n, const char *const *p)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	import_note_result(r, res);
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	snprintf(err, errlen, "%s", m && *m ? m : PQerrorMessage(c));
	for (size_t l = strlen(err); l > 0 && err[l - 1] == '\n';)
		err[--l] = 0;
	PQclear(res);
	return NULL;
}

/* The backends the run holds, on the run (options.backend_pids, beside backend_pid, the
 * staging one's), so that emergency-stop cancels every one of them: the promote's
 * transaction is on another connection than staging. */
static void record_backends(struct import_run_state *r, PGconn *pipe)
{
	char pids[64], err[256];
	snprintf(pids, sizeof pids, "{%d,%d,%d}", PQbackendPID(r->c),
		 r->pc ? PQbackendPID(r->pc) : 0, pipe ? PQbackendPID(pipe) : 0);
	const char *p[] = {r->idtxt, pids};
	PGresult *res = db_query(r->pc ? r->pc : r->c, err, sizeof err,
				 "update ops.import_runs set options = coalesce(options, '{}') || "
				 "jsonb_build_object('backend_pids', array_remove($2::int[], 0)) "
				 "where id = $1",
				 2, p);
	PQclear(res);
}

/* Test hook: MIDSOPS_IMPORT_PAUSE=PHASE:MS holds the run at the start of PHASE in a
 * statement on its work connection (inside the promote transaction for promote), as a
 * long statement of that phase would, so that a test can stop it there. */
static int phase_pause(struct import_run_state *r, char *err, size_t errlen)
{
	const char *v = getenv("MIDSOPS_IMPORT_PAUSE");
	size_t n = v ? strcspn(v, ":") : 0;
	if (!v || v[n] != ':' || strlen(r->phase) != n || strncmp(v, r->phase, n) != 0)
		return 0;
	char sec[32];
	snprintf(sec, sizeof sec, "%.3f", (double)atol(v + n + 1) / 1000.0);
	const char *p[] = {sec};
	PGresult *res = import_q(r, err, errlen, "select pg_sleep($1::float8)", 1, p);
	PQclear(res);
	return res ? 0 : -1;
}

/* err, which may quote a document (the server's messages do), as printable text. */
static void printable(char *err, size_t n)
{
	/* Straight into err, so a long message is cut at a whole character or escape. */
	char *raw = xstrdup(err);
	import_printable(err, n, raw, strlen(raw));
	free(raw);
}

/* The run stops before promote committed (a stop was asked for, or a statement of it was
 * cancelled): whatever promote had done is rolled back, production is untouched and the
 * run can be resumed. Returns the exit status. */
static int stop_run(struct import_run_state *r, const char *kind, const char *why)
{
	char w[512], msg[768];
	import_printable(w, sizeof w, why, strlen(why));
	snprintf(msg, sizeof msg, "stopped in phase %s before promote committed (%s); %s", r->phase,
		 w,
		 strcmp(kind, "rollback") == 0 ? "nothing changed: run the rollback again"
					       : "resume with import-resume");
	out_progress_end(r->o);
	import_set_state(r, "stopped", msg);
	db_event(r->pc ? r->pc : r->c, "warning", "import", "run %ld %s", r->id, msg);
	out_err(r->o, "run %ld %s", r->id, msg);
	return EXIT_FAIL;
}

/* Promote failed, or its commit did: nothing of the new generation stays. A stop that was
 * asked for ends the run as stopped, anything else as failed. */
static int promote_failed(struct import_run_state *r, const char *kind, char *err, size_t errlen)
{
	db_rollback(r->c);
	if (import_stopping(r))
		return stop_run(r, kind, err);
	printable(err, errlen);
	import_set_state(r, "failed", err);
	out_err(r->o, "promote: %s", err);
	return EXIT_FAIL;
}

/* Each figure with its own unit: bytes against bytes, files against files; records (the
 * game rows) are counted only once promoted, so until then the rate is in files. */
static void progress_line(struct import_run_state *r, double rate)
{
	char detail[160];
	int scan = strcmp(r->phase, "scan") == 0;
	if (scan && r->files_total == 0) {
		out_progress(r->o, r->phase, 0, 0, "walking the export");
		return;
	}
	if (scan)
		snprintf(detail, sizeof detail, "%lld files found", r->files_total);
	else if (strcmp(r->phase, "done") == 0)
		snprintf(detail, sizeof detail,
			 "%lld/%lld files, %lld records, %.0f rec/s, %d errors", r->files_done,
			 r->files_total, r->records_total, rate, r->errors);
	else
		snprintf(detail, sizeof detail, "%lld/%lld files, %.0f files/s, %d errors",
			 r->files_done, r->files_total, rate, r->errors);
	double done = scan ? (double)r->bytes_total : (double)r->bytes_done;
	out_progress_bytes(r->o, r->phase, done, (double)r->bytes_total, detail);
}

void import_progress(struct import_run_state *r, int force)
{
	double now = import_now();
	if (!force && now - r->last_progress < 0.25)
		return;
	r->last_progress = now;
	double el = now - r->t0;
	/* Records are the game rows, counted once promoted: until then the run's figures are
	 * files (rate in files/s), and records stay 0 rather than count files. */
	int done = strcmp(r->phase, "done") == 0;
	double rate = el <= 0 ? 0
		      : done  ? (double)r->records_done / el
			      : (double)r->files_done / el;
	double brate = el > 0 ? (double)r->bytes_done / el : 0;
	double eta = brate > 0 ? (double)(r->bytes_total - r->bytes_done) / brate : -1;
	char v[10][32];
	snprintf(v[0], 32, "%lld", r->files_done);
	snprintf(v[1], 32, "%lld", r->files_total);
	snprintf(v[2], 32, "%lld", r->bytes_done);
	snprintf(v[3], 32, "%lld", r->bytes_total);
	snprintf(v[4], 32, "%lld", done ? r->records_done : 0);
	snprintf(v[5], 32, "%lld", done ? r->records_total : 0);
	snprintf(v[6], 32, "%.1f", rate);
	snprintf(v[7], 32, "%.1f", eta < 0 ? 0 : eta);
	snprintf(v[8], 32, "%d", r->errors);
	snprintf(v[9], 32, "%d", r->warnings);
	const char *p[] = {r->idtxt, r->phase, v[0], v[1], v[2],
			   v[3],     v[4],     v[5], v[6], eta < 0 ? NULL : v[7],
			   v[8],     v[9]};
	char err[256];
	if (r->pc) {
		PGresult *res = db_query(
		    r->pc, err, sizeof err,
		    "with u as (update ops.import_runs set phase = $2, files_done = $3, "
		    "files_total "
		    "= $4, bytes_done = $5, bytes_total = $6, records_done = $7, records_total = "
		    "$8, "
		    "rate = $9, eta_s = $10, errors = $11, warnings = $12, updated_at = "
		    "clock_timestamp() "
		    "where "
		    "id = $1 returning stop_requested) select stop_requested, "
		    "pg_notify('midsops_import', json_build_object('run', $1::bigint, 'phase', $2, "
		    "'files_done', $3::bigint, 'files_total', $4::bigint, 'errors', "
		    "$11::int)::text) "
		    "from u",
		    12, p);
		if (res && PQntuples(res) > 0 && PQgetvalue(res, 0, 0)[0] == 't')
			r->stop_requested = 1;
		PQclear(res);
	}
	if (import_signalled)
		r->stop_requested = 1;
	progress_line(r, rate);
}

void import_set_state(struct import_run_state *r, const char *state, const char *msg)
{
	const char *p[] = {r->idtxt, state, msg, r->phase};
	char err[256];
	PGresult *res = db_query(
	    r->pc ? r->pc : r->c, err, sizeof err,
	    "update ops.import_runs set state = $2, message = $3, phase = $4, "
	    "updated_at = clock_timestamp(), finished_at = case when $2 in ('running') then "
	    "null else clock_timestamp() end where id = $1",
	    4, p);
	PQclear(res);
	import_log_level(r, strcmp(state, "failed") == 0 ? "error" : "info", "state %s: %s", state,
			 msg ? msg : "");
}

static const char current_sql[] =
    "select path, sha, key, kind from ("
    "select path, sha, key, 'document' kind from game.documents where not retired union all "
    "select path, sha, key, 'archetype' from game.archetypes where not retired union all "
    "select path, sha, key, 'archetype_table' from game.archetype_tables where not retired "
    "union all select path, sha, key, 'power_category' from game.power_categories where not "
    "retired union all select path, sha, key, 'powerset' from game.powersets where not retired "
    "union all select path, sha, key, 'power' from game.powers where not retired union all "
    "select path, sha, key, 'enhancement_set' from game.enhancement_sets where not retired "
    "union all select path, sha, key, 'tag' from game.tags where not retired union all "
    "select path, sha, key, 'exclusion_group' from game.exclusion_groups where not retired "
    "union all select path, sha, key, 'recharge_group' from game.recharge_groups where not "
    "retired) x";

void import_log_path(const struct config *cfg, const char *db, long id, char *buf, size_t n)
{
	/* Run ids are per database: the name says which, so two targets sharing a log
	 * directory never write into one file. */
	char name[128];
	size_t k = 0;
	for (const char *s = db && *db ? db : "db"; *s && k + 1 < sizeof name; s++)
		name[k++] = (isalnum((unsigned char)*s) || *s == '-' || *s == '_') ? *s : '_';
	name[k] = 0;
	snprintf(buf, n, "%s/import/%s-run-%ld.log", cfg->log_dir, name, id);
}

/* From here on import_log writes the run's log (the folder is made by its first line). */
static void open_run_log(struct import_run_state *r, const struct config *cfg)
{
	char path[4300];
	import_log_path(cfg, PQdb(r->c), r->id, path, sizeof path);
	const char *slash = strrchr(path, '/');
	if (!util_fits(snprintf(r->log_dir, sizeof r->log_dir, "%.*s",
				slash ? (int)(slash - path) : 1, slash ? path : "."),
		       sizeof r->log_dir) ||
	    !util_fits(snprintf(r->log_name, sizeof r->log_name, "%s", slash ? slash + 1 : path),
		       sizeof r->log_name)) {
		/* A cut name would write into another file: no run log, and the warning says so. */
		r->log_dir[0] = r->log_name[0] = 0;
		char why[600];
		snprintf(why, sizeof why, "run log path too long: %.500s", path);
		log_failed(why);
	}
}

PGresult *import_lock_holder(PGconn *c, char *err, size_t errlen)
{
	return db_query(c, err, errlen,
			"select id, kind, coalesce(host, '?'), coalesce(pid::text, '?') from "
			"ops.import_runs where state in ('running', 'stopping') order by id "
			"desc limit 1",
			0, NULL);
}

/* Take the one-import-per-target lock, or say who holds it. */
static int take_lock(PGconn *c, struct out *o)
{
	char err[512];
	char *v = db_scalar(c, err, sizeof err, "select pg_try_advisory_lock(" IMPORT_LOCK_KEY ")",
			    0, NULL);
	if (v && v[0] == 't') {
		free(v);
		return 0;
	}
	free(v);
	PGresult *res = import_lock_holder(c, err, sizeof err);
	if (res && PQntuples(res))
		out_err(
		    o,
		    "another %s is running: run %s on host %s, pid %s (midsops import-status %s)",
		    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2),
		    PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 0));
	else
		out_err(o, "another import, rollback or history-prune holds the import lock on "
			   "this target");
	PQclear(res);
	return -1;
}

static int connect_both(struct import_run_state *r, const struct target *t, char *err,
			size_t errlen)
{
	r->c = db_connect_ready(t, "import", err, errlen);
	if (!r->c)
		return -1;
	/* A deep send buffer lets the importer run ahead of the backend instead of the two
	 * taking turns (the system's limit, net.core.wmem_max, applies). */
	int sndbuf = 4 << 20;
	setsockopt(PQsocket(r->c), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	r->pc = db_connect(t, "import-progress", err, errlen);
	if (!r->pc)
		return -1;
	/* Progress is written four times a second from the importer's loop: waiting for each
	 * WAL flush stalled the parse behind the promote's WAL. A server crash may lose the
	 * last fraction of a second of progress, which the next update rewrites anyway. */
	return db_exec(r->pc, err, errlen, "set synchronous_commit = off", 0, NULL) < 0 ? -1 : 0;
}

static void finish(struct import_run_state *r)
{
	if (r->pc)
		PQfinish(r->pc);
	if (r->c)
		PQfinish(r->c);
}

/* An import and a rollback begin alike: both connections, then the target's import lock.
 * On failure the error is said and r finished. */
static int begin_run(struct import_run_state *r, const struct target *t)
{
	char err[2048];
	r->t0 = import_now();
	if (connect_both(r, t, err, sizeof err) < 0) {
		out_err(r->o, "%s", err);
		finish(r);
		return -1;
	}
	if (take_lock(r->c, r->o) < 0) {
		finish(r);
		return -1;
	}
	return 0;
}

static void summary_out(struct import_run_state *r, int gen)
{
	double el = import_now() - r->t0;
	out_kv_int(r->o, "run", r->id);
	out_kv(r->o, "state", "%s", "completed");
	if (gen > 0)
		out_kv_int(r->o, "generation", gen);
	out_kv_int(r->o, "files", r->files_total);
	out_kv_int(r->o, "bytes", r->bytes_total);
	out_kv_int(r->o, "records", r->records_total);
	out_kv_num(r->o, "duration", el, "s");
	out_kv_num(r->o, "records_per_second", el > 0 ? (double)r->records_total / el : 0, NULL);
	/* A re-import stages unchanged files from the current generation without parsing them:
	 * the rate over all records overstates its work, the changed files say what it did. */
	long long changed = r->files_total - r->files_unchanged;
	out_kv_int(r->o, "files_changed", changed);
	out_kv_int(r->o, "files_unchanged", r->files_unchanged);
	out_kv_num(r->o, "changed_files_per_second", el > 0 ? (double)changed / el : 0, NULL);
	out_kv_int(r->o, "errors", r->errors);
	out_kv_int(r->o, "warnings", r->warnings);
}

/* Rows now in the game tables, for the records figure of a run. */
static long long count_records(PGconn *c)
{
	char err[256];
	char *v = db_scalar(
	    c, err, sizeof err,
	    "select (select count(*) from game.documents) + (select count(*) from game.archetypes) "
	    "+ "
	    "(select count(*) from game.archetype_tables) + (select count(*) from "
	    "game.power_categories) + (select count(*) from game.powersets) + (select count(*) "
	    "from game.powers) + (select count(*) from game.power_effects) + (select count(*) from "
	    "game.effect_templates) + (select count(*) from game.enhancement_sets) + (select "
	    "count(*) from game.set_bonuses) + (select count(*) from game.enhancements) + (select "
	    "count(*) from game.tags) + (select count(*) from game.tag_links) + (select count(*) "
	    "from game.exclusion_groups) + (select count(*) from game.exclusion_group_members) + "
	    "(select count(*) from game.recharge_groups) + (select count(*) from "
	    "game.recharge_group_members)",
	    0, NULL);
	long long n = v ? atoll(v) : 0;
	free(v);
	return n;
}

/* Validate then promote (or report, for a dry run). Returns an exit status. */
static int validate_promote(struct import_run_state *r, int dry_run, int no_promote,
			    const char *kind, struct import_pipe *pp)
{
	char err[2048];
	r->phase = "validate";
	import_progress(r, 1);
	int nerr = phase_pause(r, err, sizeof err) < 0 ? -1 : import_validate(r, err, sizeof err);
	if (nerr < 0 && import_stopping(r))
		return stop_run(r, kind, err);
	if (nerr < 0) {
		printable(err, sizeof err);
		import_set_state(r, "failed", err);
		out_err(r->o, "validate: %s", err);
		return EXIT_FAIL;
	}
	if (nerr > 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "validation failed: %d errors; production untouched",
			 nerr);
		import_set_state(r, "failed", msg);
		out_err(r->o, "run %ld: %s", r->id, msg);
		return EXIT_FAIL;
	}
	if (dry_run || no_promote) {
		r->phase = dry_run ? "done" : "staged";
		import_progress(r, 1);
		if (dry_run) {
			const char *p[] = {r->idtxt};
			import_stage_clear(r->c, p[0], err, sizeof err);
		}
		import_set_state(r, dry_run ? "completed" : "stopped",
				 dry_run ? "dry run: checked, nothing promoted"
					 : "staged and validated; promote with import-resume");
		out_kv_int(r->o, "run", r->id);
		out_kv(r->o, "state", "%s",
		       dry_run ? "dry run completed" : "staged (not promoted)");
		out_kv_int(r->o, "files", r->files_total);
		out_kv_int(r->o, "errors", r->errors);
		out_kv_int(r->o, "warnings", r->warnings);
		return r->errors ? EXIT_FAIL : 0;
	}
	import_log(r, "validated at %.2fs", import_now() - r->t0);
	r->phase = "promote";
	import_progress(r, 1);
	/* With the pipeline, most of promote is done already, in the transaction open on its
	 * connection: finish there (the staging connection keeps the lock). If it failed,
	 * its work is rolled back and promote starts over on the staging connection. */
	int piped = 0;
	if (pp && pp->c) {
		if (import_pipe_finish(r, pp) == 0) {
			PGconn *c = r->c;
			r->c = pp->c;
			pp->c = c;
			piped = 1;
		} else {
			PQfinish(pp->c);
			pp->c = NULL;
		}
	}
	if (!piped && db_begin(r->c, err, sizeof err) < 0) {
		import_set_state(r, "failed", err);
		return EXIT_FAIL;
	}
	int gen = phase_pause(r, err, sizeof err) < 0
		      ? -1
		      : import_promote(r, kind, piped ? pp : NULL, err, sizeof err);
	if (gen < 0)
		return promote_failed(r, kind, err, sizeof err);
	char gen_s[32], warn[32];
	snprintf(gen_s, sizeof gen_s, "%d", gen);
	snprintf(warn, sizeof warn, "%d", r->warnings);
	const char *p[] = {r->idtxt, gen_s, warn};
	/* The run's terminal state commits with the generation: a kill after this commit
	 * leaves nothing to resume, a kill before it leaves the old generation whole. The
	 * commit is the point of no return: a stop asked for until then (import_q checks)
	 * or a cancelled commit rolls everything back. */
	PGresult *res[3] = {NULL, NULL, NULL};
	if (!(res[0] = import_q(
		  r, err, sizeof err,
		  "update ops.import_runs set state = 'completed', phase = 'done', generation = "
		  "$2::int, warnings = $3::int, finished_at = clock_timestamp(), updated_at = "
		  "clock_timestamp(), summary = "
		  "(select counts from ops.import_generations where generation = $2::int), "
		  "message = 'promoted to generation ' || $2 where id = $1",
		  3, p)) ||
	    !(res[1] = import_q(r, err, sizeof err,
				"select pg_notify('midsops_import', json_build_object('run', "
				"$1::bigint, 'phase', 'done', 'generation', $2::int)::text)",
				2, p)) ||
	    !(res[2] = import_exec_on(r, r->c, err, sizeof err, "commit", 0, NULL))) {
		for (int i = 0; i < 3; i++)
			PQclear(res[i]);
		return promote_failed(r, kind, err, sizeof err);
	}
	for (int i = 0; i < 3; i++)
		PQclear(res[i]);
	r->records_total = count_records(r->c);
	r->records_done = r->records_total;
	r->phase = "done";
	import_progress(r, 1);
	out_progress_end(r->o);
	db_event(r->c, "info", "import",
		 "run %ld promoted generation %d (%lld files, %d errors, %d "
		 "warnings)",
		 r->id, gen, r->files_total, r->errors, r->warnings);
	import_log(r, "promoted generation %d at %.2fs", gen, import_now() - r->t0);
	summary_out(r, gen);
	return 0;
}

/* The run to resume (0: the most recent that did not complete): its id, directory and
 * max_errors into r. -1 after saying why. */
static int resume_lookup(struct import_run_state *r, const struct import_opts *opts, char *dir,
			 size_t dirlen)
{
	char err[2048], rid[32];
	snprintf(rid, sizeof rid, "%ld", opts->resume_run);
	const char *p[] = {rid};
	PGresult *res =
	    db_query(r->c, err, sizeof err,
		     "select id, source_dir, state, coalesce((options->>'max_errors')::bigint, 0), "
		     "phase from ops.import_runs where kind = 'import' and (($1::bigint = 0 and "
		     "state <> 'completed') or id = $1::bigint) order by id desc limit 1",
		     1, p);
	if (!res || !PQntuples(res)) {
		out_err(r->o, "%s",
			res ? (opts->resume_run ? "no such run" : "no import run to resume") : err);
		PQclear(res);
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "completed") == 0) {
		out_err(r->o, "run %s is already completed", PQgetvalue(res, 0, 0));
		PQclear(res);
		return -1;
	}
	r->id = atol(PQgetvalue(res, 0, 0));
	snprintf(dir, dirlen, "%s", PQgetvalue(res, 0, 1));
	if (opts->max_errors == 0)
		r->max_errors = atol(PQgetvalue(res, 0, 3));
	PQclear(res);
	return 0;
}

/* Record the run in ops.import_runs: a new one (superseding runs that were stopped or
 * failed, whose staged rows go), or the resumed one running again. -1 with err. */
static int record_run(struct import_run_state *r, const char *dir, const char *host,
		      const char *pid, int dry_run, int no_promote, char *err, size_t errlen)
{
	if (r->id) {
		const char *p[] = {r->idtxt, host, pid};
		return db_exec(
		    r->c, err, errlen,
		    "update ops.import_runs set state = 'running', host = $2, pid = "
		    "$3::int, backend_pid = pg_backend_pid(), stop_requested = false, "
		    "finished_at = null, message = 'resumed', updated_at = clock_timestamp() where "
		    "id = $1",
		    3, p);
	}
	char maxe[32];
	snprintf(maxe, sizeof maxe, "%ld", r->max_errors);
	if (db_exec(r->c, err, errlen,
		    "update ops.import_runs set state = 'failed', message = coalesce(message || "
		    "'; ', '') || 'superseded by a newer run', finished_at = coalesce(finished_at, "
		    "now()) where kind = 'import' and state in ('running', 'stopping', 'stopped')",
		    0, NULL) < 0 ||
	    import_stage_clear(r->c, NULL, err, errlen) < 0)
		return -1;
	const char *p[] = {
	    dir, host, pid, dry_run ? "true" : "false", no_promote ? "true" : "false", maxe};
	char *id = db_scalar(r->c, err, errlen,
			     "insert into ops.import_runs (source_dir, host, pid, backend_pid, "
			     "options) values ($1, $2, $3::int, pg_backend_pid(), "
			     "jsonb_build_object('dry_run', $4::boolean, 'no_promote', "
			     "$5::boolean, 'max_errors', $6::bigint)) returning id",
			     6, p);
	if (!id)
		return -1;
	r->id = atol(id);
	free(id);
	snprintf(r->idtxt, sizeof r->idtxt, "%ld", r->id);
	return 0;
}

/* A resumed run skips the files it already committed, unless the staging rows are gone
 * (an immediate server stop empties UNLOGGED tables): then it stages again. Its warnings
 * and the errors of files it will read again go. -1 with err. */
static int resume_prepare(struct import_run_state *r, struct stage_ctx *sc, char *err,
			  size_t errlen)
{
	const char *p[] = {r->idtxt};
	PGresult *res = db_query(r->c, err, errlen,
				 "select (select count(*) from ops.import_files where run_id "
				 "= $1), (select count(*) from stage.records where run_id = $1)",
				 1, p);
	if (!res)
		return -1;
	int lost = strcmp(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)) != 0;
	if (lost) {
		out_line(r->o, "staged rows of run %ld are gone (server restart?): staging again",
			 r->id);
		import_log(r, "staging rows lost (%s files committed, %s rows): restaging",
			   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (lost && (db_exec(r->c, err, errlen, "delete from ops.import_files where run_id = $1", 1,
			     p) < 0 ||
		     import_stage_clear(r->c, p[0], err, errlen) < 0))
		return -1;
	if (db_exec(r->c, err, errlen,
		    "delete from ops.import_errors where run_id = $1 and severity = 'warning' or "
		    "(run_id = $1 and (path is null or path not in (select path from "
		    "ops.import_files where run_id = $1)))",
		    1, p) < 0)
		return -1;
	return import_known_load(r->c, &sc->committed,
				 "select path, sha256 from ops.import_files where run_id = $1",
				 r->idtxt, err, errlen);
}

/* The files of the scan already committed count as done. */
static void count_committed(struct import_run_state *r, const struct stage_ctx *sc,
			    const struct import_scan *scan)
{
	r->files_total = (long long)scan->n;
	r->bytes_total = scan->bytes;
	r->records_total = (long long)scan->n;
	for (size_t i = 0; i < scan->n; i++)
		if (import_known_get(&sc->committed, scan->files[i].rel)) {
			r->files_done++;
			r->bytes_done += scan->files[i].size;
			r->records_done++;
		}
}

/* A new run that will promote takes each batch into the promote transaction as soon as
 * it is staged (import_pipe_*). Resumed runs promote at the end, as does this one if the
 * pipeline cannot start. */
static void start_pipeline(struct import_run_state *r, struct import_pipe *pipe,
			   const struct target *t)
{
	char perr[512];
	pipe->c = db_connect(t, "import-promote", perr, sizeof perr);
	if (!pipe->c || import_pipe_start(r, pipe, perr, sizeof perr) < 0) {
		import_log(r, "promote pipeline not used: %s", perr);
		if (pipe->c)
			PQfinish(pipe->c);
		pipe->c = NULL;
	}
	if (pipe->c)
		record_backends(r, pipe->c);
}

/* Files that failed keep their current rows: stage them unchanged, so promote does not
 * retire a record just because its new version was bad. -1 with err. */
static int restage_bad(struct import_run_state *r, struct stage_ctx *sc, char *err, size_t errlen)
{
	struct import_buf rows = {0};
	for (size_t i = 0; i < sc->bad.cap; i++) {
		struct known *k = sc->bad.slots[i].path
				      ? import_known_get(&sc->known, sc->bad.slots[i].path)
				      : NULL;
		if (!k)
			continue;
		import_copy_text(&rows, r->idtxt);
		import_buf_add(&rows, "\t", 1);
		import_copy_text(&rows, import_kind_name((enum import_kind)k->kind));
		import_buf_add(&rows, "\t", 1);
		import_copy_text(&rows, k->key);
		import_buf_add(&rows, "\t", 1);
		import_copy_text(&rows, k->path);
		import_buf_add(&rows, "\t", 1);
		import_copy_text(&rows, k->sha);
		import_buf_add(&rows, "\t\\N\t\\N\n", 7);
	}
	int rc = 0;
	if (rows.n) {
		PGresult *res = PQexec(r->c, "copy stage.records (run_id, kind, key, path, sha, "
					     "raw, f) from stdin");
		if (PQresultStatus(res) != PGRES_COPY_IN) {
			snprintf(err, errlen, "%s", PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res);
		/* A COPY that started must be ended whatever happened to its data. */
		if (rc == 0 && PQputCopyData(r->c, rows.p, (int)rows.n) != 1) {
			char ignored[256];
			snprintf(err, errlen, "%s", PQerrorMessage(r->c));
			import_copy_end(r->c, "the rows were not sent", ignored, sizeof ignored);
			rc = -1;
		} else if (rc == 0) {
			rc = import_copy_end(r->c, NULL, err, errlen);
		}
	}
	import_buf_free(&rows);
	return rc;
}

/* Stopped at a batch boundary: say so, resumable. */
static int stopped_out(struct import_run_state *r)
{
	import_set_state(r, "stopped", "stopped at a batch boundary; resume with import-resume");
	db_event(r->c, "warning", "import", "run %ld stopped at %lld of %lld files", r->id,
		 r->files_done, r->files_total);
	out_progress_end(r->o);
	out_kv_int(r->o, "run", r->id);
	out_kv(r->o, "state", "%s", "stopped");
	out_kv(r->o, "files", "%lld of %lld", r->files_done, r->files_total);
	out_line(r->o, "stopped; continue with: midsops import-resume %ld", r->id);
	return 0;
}

/* A failure: a stop that was asked for ends as stopped (resumable), anything else fails
 * the run. */
static int run_failed(struct import_run_state *r, char *err, size_t errlen)
{
	out_progress_end(r->o);
	if (import_stopping(r))
		return stop_run(r, "import", err);
	printable(err, errlen);
	import_set_state(r, "failed", err);
	db_event(r->c, "error", "import", "run %ld failed: %s", r->id, err);
	out_err(r->o, "import run %ld failed: %s", r->id, err);
	return EXIT_FAIL;
}

/* Scan, stage and promote the run recorded in r. Returns the exit status; err holds a
 * failure's reason when it returns -2 (the caller ends the run as failed or stopped). */
static int scan_stage_promote(struct import_run_state *r, struct stage_ctx *sc,
			      struct import_pipe *pipe, const struct import_opts *opts,
			      const struct target *t, int no_promote, char *err, size_t errlen)
{
	if (import_known_load(r->c, &sc->known, current_sql, NULL, err, errlen) < 0)
		return -2;
	r->phase = "scan";
	import_progress(r, 1);
	if (phase_pause(r, err, errlen) < 0)
		return -2;
	if (import_scan_dir(sc->dir, sc->scan, import_record_error, r, err, errlen) < 0) {
		import_record_error(r, sc->dir, NULL, "empty_export", err);
		return -2;
	}
	/* The scan runs no statement a cancel could end: a stop asked meanwhile ends here. */
	if (import_stopping(r))
		return stop_run(r, "import", "stop requested");
	import_log(r, "scanned %zu files at %.2fs", sc->scan->n, import_now() - r->t0);
	count_committed(r, sc, sc->scan);
	import_progress(r, 1);
	if (opts->resume_run >= 0)
		import_log(r, "resume: %lld files already committed, not staged again",
			   r->files_done);
	if (r->errors > r->max_errors) {
		snprintf(err, errlen, "%d errors during the scan exceed --max-errors %ld",
			 r->errors, r->max_errors);
		return -2;
	}
	if (opts->resume_run < 0 && !opts->dry_run && !no_promote &&
	    import_env_long("MIDSOPS_IMPORT_PIPELINE", 1) != 0)
		start_pipeline(r, pipe, t);
	r->phase = "stage";
	int st = import_stage_all(sc, err, errlen);
	pipe->staged = sc->seq;
	if (st < 0)
		return -2;
	if (st == 1)
		return stopped_out(r);
	if (r->errors && restage_bad(r, sc, err, errlen) < 0)
		return -2;
	/* Fresh statistics for the staged rows; not of the documents, which analyze would have
	 * to decompress (a tenth of a second) for nothing a query here uses. */
	if (db_exec(r->c, err, errlen,
		    "analyze stage.records (run_id, kind, key, path, sha, batch), stage.effects "
		    "(key), stage.templates (key)",
		    0, NULL) < 0)
		return -2;
	import_log(r, "staged %lld files in %.2fs", r->files_done, import_now() - r->t0);
	return validate_promote(r, opts->dry_run, no_promote, "import", pipe);
}

int import_run(struct out *o, const struct config *cfg, const struct target *t,
	       const struct import_opts *opts)
{
	struct import_run_state r = {
	    .o = o, .cfg = cfg, .phase = "scan", .max_errors = opts->max_errors};
	char err[2048];
	if (begin_run(&r, t) < 0)
		return EXIT_FAIL;
	char host[256] = "", pid[32], dir[4096];
	gethostname(host, sizeof host - 1);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	int no_promote = opts->no_promote;
	if (opts->resume_run >= 0) {
		if (resume_lookup(&r, opts, dir, sizeof dir) < 0) {
			finish(&r);
			return EXIT_FAIL;
		}
		no_promote = 0;
	} else if (!realpath(opts->dir, dir)) {
		snprintf(dir, sizeof dir, "%s", opts->dir);
	}
	snprintf(r.idtxt, sizeof r.idtxt, "%ld", r.id);
	if (record_run(&r, dir, host, pid, opts->dry_run, no_promote, err, sizeof err) < 0) {
		out_err(o, "cannot record the run: %s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	record_backends(&r, NULL);
	open_run_log(&r, cfg);
	import_log(&r, "%s %s (host %s, pid %s)", opts->resume_run >= 0 ? "resume" : "import", dir,
		   host, pid);
	db_event(r.c, "info", "import", "run %ld %s %s", r.id,
		 opts->resume_run >= 0 ? "resumed on" : "started on", dir);
	struct sigaction sa = {0}, old_int, old_term;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	import_signalled = 0;

	struct import_pipe pipe = {0};
	struct import_scan scan = {0};
	struct stage_ctx sc = {.r = &r,
			       .dir = dir,
			       .pipe = &pipe,
			       .scan = &scan,
			       .delay_ms = import_env_long("MIDSOPS_IMPORT_DELAY_MS", 0)};
	import_known_init(&sc.bad, 64);
	int rc;
	if (opts->resume_run >= 0)
		rc = resume_prepare(&r, &sc, err, sizeof err) < 0 ? -2 : 0;
	else
		rc = (import_known_init(&sc.committed, 0), 0);
	if (rc == 0)
		rc = scan_stage_promote(&r, &sc, &pipe, opts, t, no_promote, err, sizeof err);
	if (rc == -2)
		rc = run_failed(&r, err, sizeof err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	import_scan_free(&scan);
	import_known_free(&sc.known);
	import_known_free(&sc.committed);
	import_known_free(&sc.bad);
	import_buf_free(&sc.text);
	import_buf_free(&sc.raw);
	if (pipe.c)
		PQfinish(pipe.c);
	finish(&r);
	return rc;
}

int import_request_stop(PGconn *c, long run, char *err, size_t errlen, long *stopped)
{
	char rid[32];
	snprintf(rid, sizeof rid, "%ld", run);
	const char *p[] = {rid};
	char *v =
	    db_scalar(c, err, errlen,
		      "with u as (update ops.import_runs set stop_requested = true, updated_at "
		      "= now() where id = (select id from ops.import_runs where state = "
		      "'running' and ($1::bigint <= 0 or id = $1::bigint) order by id desc "
		      "limit 1) returning id) select coalesce((select id from u), 0)",
		      1, p);
	if (!v)
		return -1;
	*stopped = atol(v);
	free(v);
	/* Nothing running is what a stop wants: only a named run that is not running fails. */
	if (*stopped == 0 && run > 0) {
		snprintf(err, errlen, "%s", "that run is not running");
		return -1;
	}
	return 0;
}

/* Rollback: rebuild the record set of generation `to` from the current rows and the
 * history of every later generation, stage it, and promote it like an import, so the
 * rollback is itself a generation that can be rolled back. */
int import_rollback(struct out *o, const struct config *cfg, const struct target *t, int to)
{
	struct import_run_state r = {.o = o, .cfg = cfg, .phase = "rollback"};
	char err[2048];
	if (begin_run(&r, t) < 0)
		return EXIT_FAIL;
	long long current = 0, prev = 0, lowest = 0;
	if (db_scalar_num(r.c, err, sizeof err,
			  "select max(generation) from ops.import_generations", 0, NULL, 0,
			  &current) < 0 ||
	    (to <= 0 &&
	     db_scalar_num(r.c, err, sizeof err,
			   "select previous from ops.import_generations where generation = "
			   "(select max(generation) from ops.import_generations)",
			   0, NULL, 0, &prev) < 0) ||
	    /* history-prune deleted what a rollback before the floor would read. Asked under
	     * the lock, which a prune takes too; the trigger on ops.import_runs refuses it as
	     * well, for any client, but in the server's words. */
	    db_scalar_num(r.c, err, sizeof err, "select ops.rollback_floor()", 0, NULL, 0,
			  &lowest) < 0) {
		out_err(o, "import-rollback: %s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	if (current == 0) {
		out_err(o, "nothing to roll back: no import generation yet");
		finish(&r);
		return EXIT_FAIL;
	}
	if (to <= 0)
		to = (int)prev;
	if (to >= current || to < 0) {
		out_err(o, "generation %d is not before the current generation %lld", to, current);
		finish(&r);
		return EXIT_FAIL;
	}
	if (lowest > 0 && to < lowest) {
		out_err(
		    o,
		    "generation %d can no longer be restored: history-prune removed its saved "
		    "versions ([import] keep_generations); the oldest generation a rollback can "
		    "restore is %lld",
		    to, lowest);
		finish(&r);
		return EXIT_FAIL;
	}
	char host[256] = "", pid[32], to_s[32];
	gethostname(host, sizeof host - 1);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(to_s, sizeof to_s, "%d", to);
	const char *p[] = {host, pid, to_s};
	char *id =
	    db_scalar(r.c, err, sizeof err,
		      "insert into ops.import_runs (kind, source_dir, host, pid, backend_pid, "
		      "phase, options) values ('rollback', 'generation ' || $3, $1, $2::int, "
		      "pg_backend_pid(), 'rollback', jsonb_build_object('to', $3::int)) "
		      "returning id",
		      3, p);
	if (!id) {
		out_err(o, "%s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	r.id = atol(id);
	free(id);
	snprintf(r.idtxt, sizeof r.idtxt, "%ld", r.id);
	record_backends(&r, NULL);
	open_run_log(&r, cfg);
	import_log(&r, "rollback from generation %lld to %d", current, to);
	const char *q[] = {r.idtxt, to_s};
	/* Later generations are undone newest first: the oldest saved version of a key wins.
	 * Keys untouched since `to` are staged without raw: promote leaves them as they are. */
	if (db_begin(r.c, err, sizeof err) < 0 ||
	    db_exec(
		r.c, err, sizeof err,
		"create temp table rb_cur on commit drop as "
		"select 'document' kind, key, path, sha from game.documents where not retired "
		"union all select 'archetype', key, path, sha from game.archetypes where not "
		"retired "
		"union all select 'archetype_table', key, path, sha from game.archetype_tables "
		"where not retired "
		"union all select 'power_category', key, path, sha from game.power_categories "
		"where not retired "
		"union all select 'powerset', key, path, sha from game.powersets where not retired "
		"union all select 'power', key, path, sha from game.powers where not retired "
		"union all select 'enhancement_set', key, path, sha from game.enhancement_sets "
		"where not retired "
		"union all select 'tag', key, path, sha from game.tags where not retired "
		"union all select 'exclusion_group', key, path, sha from game.exclusion_groups "
		"where not retired "
		"union all select 'recharge_group', key, path, sha from game.recharge_groups where "
		"not retired",
		0, NULL) < 0 ||
	    db_exec(
		r.c, err, sizeof err,
		"insert into stage.records (run_id, kind, key, path, sha, raw) "
		"select $1::bigint, c.kind, c.key, c.path, c.sha, null::jsonb from rb_cur c where "
		"not exists "
		"(select 1 from game.history h where h.generation > $2::int and h.kind = c.kind "
		"and h.key = c.key) "
		"union all select $1::bigint, h.kind, h.key, h.path, h.sha, h.raw from (select "
		"distinct "
		"on (kind, key) kind, key, path, sha, raw from game.history where generation > "
		"$2::int order by kind, key, generation) h where h.raw is not null",
		2, q) < 0 ||
	    db_commit(r.c, err, sizeof err) < 0) {
		db_rollback(r.c);
		import_set_state(&r, "failed", err);
		out_err(o, "rollback: %s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	if (import_stage_derive(&r, err, sizeof err) < 0) {
		import_set_state(&r, "failed", err);
		out_err(o, "rollback: %s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	if (db_exec(r.c, err, sizeof err,
		    "analyze stage.records (run_id, kind, key, path, sha, batch), stage.effects "
		    "(key), stage.templates (key)",
		    0, NULL) < 0) {
		import_set_state(&r, "failed", err);
		out_err(o, "rollback: %s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	char *n = db_scalar(r.c, err, sizeof err,
			    "select count(*) from stage.records where run_id = $1", 1, q);
	r.files_total = r.files_done = r.records_total = n ? atoll(n) : 0;
	free(n);
	int rc = validate_promote(&r, 0, 0, "rollback", NULL);
	if (rc == 0) {
		out_kv_int(o, "rolled_back_to", to);
		db_event(r.c, "warning", "import", "rollback run %ld restored generation %d", r.id,
			 to);
	}
	finish(&r);
	return rc;
}
