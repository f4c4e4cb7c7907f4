/* The emergency stop's and emergency-status's work on the database: the runs to stop,
 * their flag, the cancel or termination of their backends through ops.import_signal, and
 * what each run looks like as it settles. The command confirms, signals its local
 * processes and renders. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import.h"
#include "util.h"

int import_q_running(PGconn *c, struct maint_rows *r, struct db_error *e)
{
	return maint_rows_query(
	    c, r, e,
	    "select id, coalesce(host, ''), coalesce(pid, 0), kind, phase from "
	    "ops.import_runs where state in ('running', 'stopping') order by id",
	    0, NULL);
}

int import_estop_begin(PGconn *c, struct db_error *e)
{
	PGresult *r = db_query_e(c, e, "set lock_timeout = '2s'", 0, NULL);
	PQclear(r);
	return r ? 0 : -1;
}

int import_estop_flag(PGconn *c, const char *id, struct db_error *e)
{
	const char *p[] = {id};
	PGresult *r = db_query_e(c, e,
				 "update ops.import_runs set stop_requested = true, updated_at = "
				 "now() where id = $1",
				 1, p);
	PQclear(r);
	return r ? 0 : -1;
}

int import_estop_signal(PGconn *c, const char *id, int terminate, int *total)
{
	struct db_error e;
	const char *p[] = {id, terminate ? "true" : "false"};
	PGresult *r = db_query_e(
	    c, &e, "select total, signalled from ops.import_signal($1::bigint, $2::boolean)", 2, p);
	int n = r ? atoi(PQgetvalue(r, 0, 1)) : 0;
	if (total)
		*total = r ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return n;
}

int import_pid_is_importer(long pid)
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

static int estop_look(PGconn *c, const char *id, struct import_estop_seen *s)
{
	struct db_error e;
	const char *p[] = {id};
	PGresult *r = db_query_e(c, &e,
				 "select r.state, r.phase, coalesce((select "
				 "max(g.generation)::text from ops.import_generations g where "
				 "g.run_id = r.id), ''), (select count(*) from (" RUN_BACKENDS
				 ") b) from ops.import_runs r where r.id = $1",
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

int import_estop_settle(PGconn *c, const char *id, long pid, long tenths,
			struct import_estop_seen *s)
{
	for (long i = 0;; i++) {
		if (estop_look(c, id, s) == 0) {
			int running =
			    strcmp(s->state, "running") == 0 || strcmp(s->state, "stopping") == 0;
			if (!running || (s->backends == 0 && !(pid && import_pid_is_importer(pid))))
				return 1;
		}
		if (i >= tenths)
			return 0;
		usleep(100000);
	}
}

int import_estop_mark_stopped(PGconn *c, const char *id, struct db_error *e)
{
	const char *p[] = {id};
	PGresult *r = db_query_e(
	    c, e,
	    "update ops.import_runs set state = 'stopped', message = 'emergency-stop: stopped in "
	    "phase ' || phase || ' before promote', finished_at = clock_timestamp(), updated_at = "
	    "clock_timestamp() where "
	    "id = $1 and state in ('running', 'stopping')",
	    1, p);
	PQclear(r);
	return r ? 0 : -1;
}

void import_q_emergency(PGconn *c, struct import_emergency *s)
{
	struct db_error e;
	*s = (struct import_emergency){0};
	PGresult *r = PQexec(c, "select to_regclass('ops.import_runs') is not null, "
				"to_regclass('ops.backups') is not null");
	s->have_runs = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
	s->have_backups = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (s->have_runs) {
		s->have_running =
		    maint_rows_query(c, &s->running, &e,
				     "select id, kind, phase, coalesce(host, ''), "
				     "coalesce(pid, 0), files_done, files_total from "
				     "ops.import_runs_seen where state in ('running', "
				     "'stopping') order by id",
				     0, NULL) == 0;
		maint_rows_query(c, &s->interrupted, &e,
				 "select string_agg(id::text, ', ' order by id) from "
				 "ops.import_runs_seen where state = 'interrupted'",
				 0, NULL);
		maint_rows_query(
		    c, &s->last_errors, &e,
		    "select to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), source, "
		    "message from (select at, source, message, id from ops.events where level = "
		    "'error' union all select at, 'import', coalesce(path || ': ', '') || message, "
		    "id from ops.import_errors where severity = 'error') e order by at desc limit "
		    "5",
		    0, NULL);
	}
	if (s->have_backups)
		/* The backup family owns ops.backups; read it through to_jsonb so its column
		 * names can change without breaking this check. */
		maint_rows_query(
		    c, &s->backups, &e,
		    "select count(*), extract(epoch from now() - max(coalesce((to_jsonb("
		    "b)->>'finished_at')::timestamptz, (to_jsonb(b)->>'started_at')::"
		    "timestamptz, (to_jsonb(b)->>'created_at')::timestamptz))) from "
		    "ops.backups b",
		    0, NULL);
}

void import_emergency_free(struct import_emergency *s)
{
	maint_rows_free(&s->running);
	maint_rows_free(&s->interrupted);
	maint_rows_free(&s->last_errors);
	maint_rows_free(&s->backups);
}
