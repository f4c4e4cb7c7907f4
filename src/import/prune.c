/* history-prune: retention of import history. The import lock, held for the whole run,
 * keeps it from ever running beside an import or a rollback; the deletes are one
 * transaction, the VACUUM comes after it.
 *
 * What a rollback reads decides what may go: a rollback to G stages, for every key, the
 * saved version of the first generation after G that changed it (game.history where
 * generation > G), and the current row for keys no later generation touched. Keeping the
 * newest N generations restorable therefore needs the history of the generations after
 * the oldest kept one, K = current - N + 1, and nothing at or before K. Game rows are never
 * touched: builds point at game ids (sql/012_builds.sql), not at generations, and promote
 * keeps a row a build uses (retired) whatever the history holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "history.h"
#include "import_int.h"
#include "util.h"

/* The newest import run: import-resume may still finish it from its committed files. */
#define NEWEST_IMPORT "(select max(id) from ops.import_runs where kind = 'import')"
/* A finished run whose generation is not kept, or that has none (dry runs, failures). */
#define RUN_DONE(kept)                                                                             \
	"r.state in ('completed', 'failed', 'stopped') and r.id is distinct from " NEWEST_IMPORT   \
	" and (r.generation is null or r.generation < " kept ")"
#define RUN_GONE(kept, days)                                                                       \
	RUN_DONE(kept)                                                                             \
	" and coalesce(r.finished_at, r.updated_at) < now() - make_interval(days "                 \
	"=> " days ")"

/* Conditions on alias t. Order matters only for the counts: a run's files and errors are
 * deleted before the run, so its cascade finds nothing and a dry run counts the same. */
static const struct ptable {
	const char *name, *where;
} ptables[HP_NTABLES] = {
    [HP_FILES] = {"ops.import_files",
		  "t.run_id in (select r.id from ops.import_runs r where " RUN_DONE("$1::int") ")"},
    [HP_ERRORS] = {"ops.import_errors",
		   "t.at < now() - make_interval(days => $2::int) or t.run_id in (select r.id "
		   "from ops.import_runs r where (" RUN_DONE(
		       "$1::int") " and r.generation is not "
				  "null) or (" RUN_GONE("$1::int", "$3::int") "))"},
    [HP_RUNS] = {"ops.import_runs", "t.id in (select r.id from ops.import_runs r where " RUN_GONE(
					"$1::int", "$2::int") ")"},
    [HP_HISTORY] = {"game.history", "t.generation <= $1::int"},
    [HP_EVENTS] = {"ops.events", "t.at < now() - make_interval(days => $1::int)"},
};

/* Whether the current role may VACUUM a table: a superuser, or through its owner's or the
 * database owner's privileges. */
static const char own_sql[] =
    "select (r.rolsuper or pg_has_role(current_user, c.relowner, 'USAGE') or "
    "pg_has_role(current_user, d.datdba, 'USAGE'))::int from pg_class c, pg_roles r, "
    "pg_database d where c.oid = $1::regclass and r.rolname = current_user and d.datname = "
    "current_database()";

static int llpair(PGconn *c, const char *sql, int n, const char *const *p, long long *a,
		  long long *b, char *err, size_t errlen)
{
	PGresult *r = db_query(c, err, errlen, sql, n, p);
	if (!r)
		return -1;
	*a = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
	if (b)
		*b = PQntuples(r) && PQnfields(r) > 1 ? atoll(PQgetvalue(r, 0, 1)) : 0;
	PQclear(r);
	return 0;
}

static void sizes(PGconn *c, struct history_report *rep, int after)
{
	char err[256];
	for (int i = 0; i < HP_NTABLES; i++) {
		const char *p[] = {ptables[i].name};
		long long v = 0;
		if (llpair(c, "select pg_total_relation_size($1::regclass)", 1, p, &v, NULL, err,
			   sizeof err) < 0)
			v = -1;
		*(after ? &rep->t[i].size_after : &rep->t[i].size_before) = v;
	}
	long long d = -1;
	if (llpair(c, "select pg_database_size(current_database())", 0, NULL, &d, NULL, err,
		   sizeof err) < 0)
		d = -1;
	*(after ? &rep->db_after : &rep->db_before) = d;
}

/* Who holds the import lock, for the refusal. */
static void busy(PGconn *c, char *err, size_t errlen)
{
	char e[256];
	PGresult *r = import_lock_holder(c, e, sizeof e);
	if (r && PQntuples(r))
		snprintf(err, errlen,
			 "an %s is running (run %s on host %s, pid %s): history-prune never runs "
			 "beside it; run it again once the run has finished",
			 PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2),
			 PQgetvalue(r, 0, 3));
	else
		snprintf(err, errlen,
			 "the import lock is held (an import, rollback or history-prune is "
			 "running): run history-prune again once it has finished");
	PQclear(r);
}

static int prune_table(PGconn *c, int i, int dry, const char *const *p, struct history_table *t,
		       char *err, size_t errlen)
{
	static const int nparams[HP_NTABLES] = {
	    [HP_FILES] = 1, [HP_ERRORS] = 3, [HP_RUNS] = 2, [HP_HISTORY] = 1, [HP_EVENTS] = 1};
	struct strbuf sql = {0};
	if (dry)
		strbuf_addf(
		    &sql,
		    "select count(*), coalesce(sum(pg_column_size(t.*)), 0)::bigint from %s "
		    "t where %s",
		    ptables[i].name, ptables[i].where);
	else
		strbuf_addf(&sql,
			    "with d as (delete from %s t where %s returning pg_column_size(t.*) b) "
			    "select count(*), coalesce(sum(b), 0)::bigint from d",
			    ptables[i].name, ptables[i].where);
	t->name = ptables[i].name;
	int rc = llpair(c, sql.s, nparams[i], p, &t->rows, &t->bytes, err, errlen);
	strbuf_free(&sql);
	if (rc < 0) {
		char m[512];
		snprintf(m, sizeof m, "%s: %s", ptables[i].name, err);
		snprintf(err, errlen, "%s", m);
		return -1;
	}
	return 0;
}

static int prune_tx(PGconn *c, const struct history_opts *o, struct history_report *rep, char *err,
		    size_t errlen)
{
	PGresult *r = db_query(c, err, errlen,
			       "select coalesce(max(generation), 0), ops.rollback_floor(), "
			       "coalesce(min(generation), 0) from ops.import_generations",
			       0, NULL);
	if (!r)
		return -1;
	rep->current = atoi(PQgetvalue(r, 0, 0));
	rep->oldest_before = atoi(PQgetvalue(r, 0, 1));
	int first = atoi(PQgetvalue(r, 0, 2));
	PQclear(r);
	if (!rep->oldest_before)
		rep->oldest_before = first;
	/* kept: the oldest generation kept restorable. Its history goes only when a generation
	 * before it exists and was still restorable. */
	int kept = rep->current - o->keep_generations + 1;
	if (kept < 1)
		kept = 1;
	int hist = kept >= 2 && kept > rep->oldest_before ? kept : 0;
	char kept_s[16], hist_s[16], runs_s[16], errs_s[16], evs_s[16], from_s[16];
	snprintf(kept_s, sizeof kept_s, "%d", kept);
	snprintf(hist_s, sizeof hist_s, "%d", hist);
	snprintf(runs_s, sizeof runs_s, "%d", o->runs_days);
	snprintf(errs_s, sizeof errs_s, "%d", o->errors_days);
	snprintf(evs_s, sizeof evs_s, "%d", o->events_days);
	snprintf(from_s, sizeof from_s, "%d", rep->oldest_before > 0 ? rep->oldest_before : 1);
	const char *pf[] = {kept_s};
	const char *pe[] = {kept_s, errs_s, runs_s};
	const char *pr[] = {kept_s, runs_s};
	const char *ph[] = {hist_s};
	const char *pv[] = {evs_s};
	const char *const *params[HP_NTABLES] = {
	    [HP_FILES] = pf, [HP_ERRORS] = pe, [HP_RUNS] = pr, [HP_HISTORY] = ph, [HP_EVENTS] = pv};
	for (int i = 0; i < HP_NTABLES; i++) {
		if (prune_table(c, i, o->dry_run, params[i], &rep->t[i], err, errlen) < 0)
			return -1;
		rep->rows += rep->t[i].rows;
		rep->bytes += rep->t[i].bytes;
	}
	rep->oldest = hist ? hist : rep->oldest_before;
	if (!hist)
		return 0;
	const char *pg[] = {hist_s, from_s};
	if (llpair(c,
		   "select count(*) from ops.import_generations where generation < $1::int and "
		   "generation >= $2::int",
		   2, pg, &rep->generations_pruned, NULL, err, errlen) < 0)
		return -1;
	if (!o->dry_run && db_exec(c, err, errlen,
				   "update ops.import_generations set history_pruned_at = now() "
				   "where generation <= $1::int and history_pruned_at is null",
				   1, pg) < 0)
		return -1;
	return 0;
}

int history_prune(PGconn *c, const struct history_opts *o, struct history_report *rep, char *err,
		  size_t errlen)
{
	memset(rep, 0, sizeof *rep);
	for (int i = 0; i < HP_NTABLES; i++)
		rep->t[i].name = ptables[i].name;
	double t0 = util_mono();
	sizes(c, rep, 0);
	/* The session's lock, not the transaction's: the VACUUM after the commit runs under it
	 * too. The connection is the command's own; closing it releases the lock. */
	long long lock = 0;
	if (llpair(c, "select pg_try_advisory_lock(" IMPORT_LOCK_KEY ")::int", 0, NULL, &lock, NULL,
		   err, errlen) < 0)
		return -1;
	if (!lock) {
		busy(c, err, errlen);
		return HISTORY_BUSY;
	}
	if (db_begin(c, err, errlen) < 0)
		return -1;
	int rc = prune_tx(c, o, rep, err, errlen);
	if (rc < 0 || o->dry_run) {
		db_rollback(c);
		rep->seconds = util_mono() - t0;
		return rc;
	}
	if (db_commit(c, err, errlen) < 0)
		return -1;
	rep->seconds = util_mono() - t0;
	db_event(c, "info", "history-prune",
		 "history-prune freed %lld rows (%lld bytes); generation %d is the oldest a "
		 "rollback can restore",
		 rep->rows, rep->bytes, rep->oldest);
	/* Deleted rows give their space back only after VACUUM. game.history and
	 * ops.import_files are written only under the import lock, which this session holds,
	 * and read only by rollback and the import commands: VACUUM FULL rewrites their live
	 * rows (a few generations') in a moment and returns the rest to the system. A plain
	 * VACUUM would not do for the files: a run's are inserted at the end of the key and
	 * thinned at promote, so their index pages keep an entry or two and are never reused.
	 * The journal, errors and runs are written by every command and read by the console:
	 * a plain VACUUM, which blocks no one, makes their space reusable. */
	if (o->vacuum) {
		double v0 = util_mono();
		for (int i = 0; i < HP_NTABLES; i++) {
			if (!rep->t[i].rows)
				continue;
			char e[512];
			/* VACUUM skips, with a mere warning, a table the role does not own (the
			 * operator's, for one): asked first, so the report never claims it. */
			const char *p[] = {ptables[i].name};
			long long own = 0;
			if (llpair(c, own_sql, 1, p, &own, NULL, e, sizeof e) == 0 && !own) {
				snprintf(rep->vacuum_skipped + strlen(rep->vacuum_skipped),
					 sizeof rep->vacuum_skipped - strlen(rep->vacuum_skipped),
					 "%s%s", rep->vacuum_skipped[0] ? ", " : "",
					 ptables[i].name);
				continue;
			}
			struct strbuf sql = {0};
			strbuf_addf(&sql, "vacuum (%sanalyze) %s",
				    i == HP_HISTORY || i == HP_FILES ? "full, " : "",
				    ptables[i].name);
			int rc = db_exec(c, e, sizeof e, sql.s, 0, NULL);
			strbuf_free(&sql);
			if (rc < 0) {
				if (!rep->vacuum_err[0])
					snprintf(rep->vacuum_err, sizeof rep->vacuum_err,
						 "%s: %.400s", ptables[i].name, e);
				continue;
			}
			rep->vacuumed++;
		}
		rep->vacuum_seconds = util_mono() - v0;
	}
	sizes(c, rep, 1);
	/* Deliberately unchecked: should the unlock fail, the command's connection closes
	 * right after, which releases the lock as surely. */
	char e[256];
	(void)db_exec(c, e, sizeof e, "select pg_advisory_unlock(" IMPORT_LOCK_KEY ")", 0, NULL);
	return 0;
}
