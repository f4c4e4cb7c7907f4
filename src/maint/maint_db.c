/* Vacuum and analyze: which tables, their figures before and after, and the statement run
 * with the server's progress view watched from a second connection. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint.h"
#include "util.h"

/* Each name becomes a regclass, so a wrong one is an error before any work. */
static int named_tables(PGconn *c, char *const *names, int n, struct maint_rows *r,
			struct db_error *e)
{
	struct strbuf sql = {0};
	strbuf_adds(&sql, "select x::regclass::text from (values ");
	for (int i = 0; i < n; i++) {
		char *lit = PQescapeLiteral(c, names[i], strlen(names[i]));
		if (!lit) {
			snprintf(e->sqlstate, sizeof e->sqlstate, "%s", "");
			snprintf(e->message, sizeof e->message, "%s", PQerrorMessage(c));
			strbuf_free(&sql);
			return -1;
		}
		strbuf_addf(&sql, "%s(%s)", i ? "," : "", lit);
		PQfreemem(lit);
	}
	strbuf_adds(&sql, ") v(x)");
	int rc = maint_rows_query(c, r, e, sql.s, 0, NULL);
	strbuf_free(&sql);
	return rc;
}

int maint_pick_tables(PGconn *c, char *const *names, int nnames, int only_needed, double dead_pct,
		      struct maint_rows *r, struct db_error *e)
{
	if (nnames > 0)
		return named_tables(c, names, nnames, r, e);
	char pct[32];
	snprintf(pct, sizeof pct, "%g", dead_pct);
	const char *p[] = {only_needed ? "1" : "0", pct};
	return maint_rows_query(
	    c, r, e,
	    "select s.relid::regclass::text from pg_stat_user_tables s"
	    " where s.schemaname in ('game', 'builds', 'ops', 'cache', 'stage')"
	    " and ($1 = '0' or (s.n_live_tup + s.n_dead_tup > 0 and"
	    "   (100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup) >= $2::float8"
	    "    or s.n_mod_since_analyze > 0.1 * greatest(s.n_live_tup, 1000)"
	    "    or coalesce(s.last_analyze, s.last_autoanalyze) is null)))"
	    " order by pg_total_relation_size(s.relid) desc",
	    2, p);
}

int maint_table_figures(PGconn *c, const char *name, struct table_fig *f, struct db_error *e)
{
	const char *p[] = {name};
	/* Our own snapshot of the statistics would hide what the vacuum just did. */
	if (db_exec_e(c, e, "select pg_stat_clear_snapshot()", 0, NULL) < 0)
		return -1;
	PGresult *r =
	    db_query_e(c, e,
		       "select s.n_dead_tup, s.n_live_tup, pg_total_relation_size(s.relid),"
		       " s.n_mod_since_analyze,"
		       " coalesce(to_char(greatest(s.last_vacuum, s.last_autovacuum), "
		       "'YYYY-MM-DD HH24:MI:SS'), 'never'),"
		       " coalesce(to_char(greatest(s.last_analyze, s.last_autoanalyze), "
		       "'YYYY-MM-DD HH24:MI:SS'), 'never')"
		       " from pg_stat_user_tables s where s.relid = $1::regclass",
		       1, p);
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		snprintf(e->sqlstate, sizeof e->sqlstate, "%s", "");
		snprintf(e->message, sizeof e->message, "%s is not a user table", name);
		PQclear(r);
		return -1;
	}
	snprintf(f->name, sizeof f->name, "%s", name);
	f->dead = atoll(PQgetvalue(r, 0, 0));
	f->live = atoll(PQgetvalue(r, 0, 1));
	f->size = atoll(PQgetvalue(r, 0, 2));
	f->mod_since_analyze = atoll(PQgetvalue(r, 0, 3));
	snprintf(f->last_vacuum, sizeof f->last_vacuum, "%s", PQgetvalue(r, 0, 4));
	snprintf(f->last_analyze, sizeof f->last_analyze, "%s", PQgetvalue(r, 0, 5));
	PQclear(r);
	return 0;
}

long long maint_db_size(PGconn *c)
{
	struct db_error e;
	PGresult *r = db_query_e(c, &e, "select pg_database_size(current_database())", 0, NULL);
	if (!r)
		return -1;
	long long v = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	return v;
}

PGconn *maint_monitor_connect(const struct target *t, const char *app)
{
	char err[1024];
	return db_connect(t, app, err, sizeof err);
}

void maint_monitor_close(PGconn *mon)
{
	PQfinish(mon);
}

/* One look at the progress view for the worker's pid. */
static void show_progress(PGconn *mon, enum maint_kind k, const char *pid,
			  maint_progress_fn progress, void *arg)
{
	static const char q_vacuum[] =
	    "select phase, heap_blks_total, heap_blks_vacuumed from pg_stat_progress_vacuum"
	    " where pid = $1::int";
	static const char q_cluster[] =
	    "select phase, heap_blks_total, heap_blks_scanned from pg_stat_progress_cluster"
	    " where pid = $1::int";
	static const char q_analyze[] =
	    "select phase, sample_blks_total, sample_blks_scanned from pg_stat_progress_analyze"
	    " where pid = $1::int";
	const char *q = k == MK_VACUUM_FULL ? q_cluster : k == MK_ANALYZE ? q_analyze : q_vacuum;
	const char *p[] = {pid};
	struct db_error e;
	/* A missed look only skips a progress step; the work itself is judged on c. */
	PGresult *r = db_query_e(mon, &e, q, 1, p);
	if (r && PQntuples(r) == 1)
		progress(arg, atof(PQgetvalue(r, 0, 2)), atof(PQgetvalue(r, 0, 1)),
			 PQgetvalue(r, 0, 0));
	PQclear(r);
}

static const char *kind_sql(enum maint_kind k)
{
	return k == MK_VACUUM_FULL	? "vacuum (full, analyze)"
	       : k == MK_ANALYZE	? "analyze"
	       : k == MK_VACUUM_ANALYZE ? "vacuum (analyze)"
					: "vacuum";
}

int maint_table_run(PGconn *c, PGconn *mon, enum maint_kind k, const char *table,
		    maint_progress_fn progress, void *arg, struct db_error *e)
{
	struct strbuf sql = {0};
	/* The name came back from regclass::text, so it is already quoted as needed. */
	strbuf_addf(&sql, "%s %s", kind_sql(k), table);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", PQbackendPID(c));
	int sent = PQsendQuery(c, sql.s);
	strbuf_free(&sql);
	if (!sent) {
		snprintf(e->sqlstate, sizeof e->sqlstate, "%s", "");
		snprintf(e->message, sizeof e->message, "%s", PQerrorMessage(c));
		return -1;
	}
	for (;;) {
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		(void)poll(&pfd, 1, 200); /* a timeout or signal only means: look again */
		if (!PQconsumeInput(c) || !PQisBusy(c))
			break;
		if (mon)
			show_progress(mon, k, pid, progress, arg);
	}
	int rc = 0;
	PGresult *r;
	while ((r = PQgetResult(c))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
			const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			snprintf(e->sqlstate, sizeof e->sqlstate, "%s", code ? code : "");
			snprintf(e->message, sizeof e->message, "%s", PQresultErrorMessage(r));
			e->message[strcspn(e->message, "\n")] = 0;
			rc = -1;
		}
		PQclear(r);
	}
	return rc;
}
