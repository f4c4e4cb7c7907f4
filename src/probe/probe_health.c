/* Database health probes: bloat, long transactions, lock tree, connections, checkpoints,
 * WAL archiver, slow statements. Each is one query and fails on its own, so a missing
 * privilege or extension costs one probe, never the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "probe_health.h"
#include "util.h"

static const char *const names[HP_COUNT] = {
    [HP_BLOAT] = "bloat",
    [HP_LONG_TXN] = "long_transactions",
    [HP_LOCKS] = "locks",
    [HP_CONNECTIONS] = "connections",
    [HP_CHECKPOINTS] = "checkpoints",
    [HP_ARCHIVER] = "wal_archiver",
};

/* The bloat estimate is the heap's share of dead tuples: cheap, needs no pgstattuple,
 * and close enough to decide whether to vacuum. Sizes come from pg_class (as of the last
 * vacuum or analyze) because pg_relation_size() takes a lock, and a health probe must
 * never queue behind the very lock it is meant to report. */
static const char sql_bloat[] =
    "with sz as (select c.oid, current_setting('block_size')::bigint * (c.relpages\n"
    "    + coalesce((select t.relpages from pg_class t where t.oid = c.reltoastrelid), 0)\n"
    "    + coalesce((select sum(i.relpages) from pg_index x join pg_class i\n"
    "                on i.oid = x.indexrelid where x.indrelid = c.oid), 0)) as total,\n"
    "    current_setting('block_size')::bigint * c.relpages as heap from pg_class c)\n"
    "select s.schemaname || '.' || s.relname as table, s.n_live_tup as live,\n"
    "  s.n_dead_tup as dead,\n"
    "  round(100.0 * s.n_dead_tup / nullif(s.n_live_tup + s.n_dead_tup, 0), 1) as dead_pct,\n"
    "  sz.total as size_bytes,\n"
    "  (sz.heap * s.n_dead_tup / nullif(s.n_live_tup + s.n_dead_tup, 0))::bigint\n"
    "    as bloat_est_bytes,\n"
    "  coalesce(to_char(greatest(s.last_vacuum, s.last_autovacuum), 'YYYY-MM-DD HH24:MI'),\n"
    "    'never') as last_vacuum,\n"
    "  coalesce(to_char(greatest(s.last_analyze, s.last_autoanalyze), 'YYYY-MM-DD HH24:MI'),\n"
    "    'never') as last_analyze\n"
    "from pg_stat_user_tables s join sz on sz.oid = s.relid\n"
    "order by s.n_dead_tup desc, sz.total desc limit 15";

static const char sql_long_txn[] =
    "select pid, usename as user, application_name as application, state,\n"
    "  round(extract(epoch from now() - xact_start)::numeric, 1) as txn_s,\n"
    "  wait_event_type as waiting_on,\n"
    "  left(regexp_replace(query, '\\s+', ' ', 'g'), 80) as query\n"
    "from pg_stat_activity\n"
    "where xact_start is not null and pid <> pg_backend_pid()\n"
    "  and backend_type = 'client backend'\n"
    "order by xact_start limit 10";

/* Every session that blocks or is blocked; the renderer turns blocked_by into a tree. */
static const char sql_locks[] =
    "with b as (select pid, pg_blocking_pids(pid) as blocked_by from pg_stat_activity\n"
    "           where backend_type = 'client backend')\n"
    "select a.pid, array_to_string(b.blocked_by, ',') as blocked_by, a.usename as user,\n"
    "  a.application_name as application, a.state,\n"
    "  round(extract(epoch from now() - coalesce(a.state_change, a.xact_start))::numeric, 1)\n"
    "    as for_s,\n"
    "  (select string_agg(distinct l.locktype || coalesce(' ' || l.relation::regclass::text, '')\n"
    "     || ' ' || l.mode, ', ') from pg_locks l where l.pid = a.pid and not l.granted)\n"
    "    as waits_for,\n"
    "  left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80) as query\n"
    "from pg_stat_activity a join b using (pid)\n"
    "where cardinality(b.blocked_by) > 0\n"
    "   or a.pid in (select unnest(blocked_by) from b)\n"
    "order by a.pid";

static const char sql_connections[] =
    "select coalesce(state, backend_type) as state,\n"
    "  coalesce(nullif(application_name, ''), '-') as application, count(*) as connections,\n"
    "  current_setting('max_connections')::int as max_connections,\n"
    "  (select count(*) from pg_stat_activity where backend_type = 'client backend')\n"
    "    as client_total\n"
    "from pg_stat_activity group by 1, 2 order by 3 desc, 1, 2";

static const char sql_checkpoints15[] =
    "select checkpoints_timed as timed, checkpoints_req as requested,\n"
    "  round(100.0 * checkpoints_req / nullif(checkpoints_timed + checkpoints_req, 0), 1)\n"
    "    as requested_pct,\n"
    "  round(checkpoint_write_time::numeric / 1000, 1) as write_s,\n"
    "  round(checkpoint_sync_time::numeric / 1000, 1) as sync_s,\n"
    "  buffers_checkpoint, buffers_clean, buffers_backend,\n"
    "  current_setting('checkpoint_timeout') as checkpoint_timeout,\n"
    "  pg_size_bytes(current_setting('max_wal_size')) as max_wal_size_bytes,\n"
    "  to_char(stats_reset, 'YYYY-MM-DD HH24:MI') as since,\n"
    "  round((extract(epoch from now() - stats_reset) / 3600)::numeric, 2) as stats_hours\n"
    "from pg_stat_bgwriter";

static const char sql_checkpoints17[] =
    "select num_timed as timed, num_requested as requested,\n"
    "  round(100.0 * num_requested / nullif(num_timed + num_requested, 0), 1) as requested_pct,\n"
    "  round(write_time::numeric / 1000, 1) as write_s,\n"
    "  round(sync_time::numeric / 1000, 1) as sync_s,\n"
    "  buffers_written as buffers_checkpoint,\n"
    "  current_setting('checkpoint_timeout') as checkpoint_timeout,\n"
    "  pg_size_bytes(current_setting('max_wal_size')) as max_wal_size_bytes,\n"
    "  to_char(stats_reset, 'YYYY-MM-DD HH24:MI') as since,\n"
    "  round((extract(epoch from now() - stats_reset) / 3600)::numeric, 2) as stats_hours\n"
    "from pg_stat_checkpointer";

static const char sql_archiver[] =
    "select current_setting('archive_mode') as archive_mode, archived_count,\n"
    "  last_archived_wal, to_char(last_archived_time, 'YYYY-MM-DD HH24:MI:SS') as last_archived,\n"
    "  failed_count, last_failed_wal,\n"
    "  to_char(last_failed_time, 'YYYY-MM-DD HH24:MI:SS') as last_failed,\n"
    "  coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false)\n"
    "    as failing,\n"
    "  round(extract(epoch from now() - last_archived_time)::numeric) as since_archived_s\n"
    "from pg_stat_archiver";

const char *health_probe_name(int id)
{
	return id >= 0 && id < HP_COUNT ? names[id] : "?";
}

const char *health_probe_sql(int id, int server_num)
{
	switch (id) {
	case HP_BLOAT:
		return sql_bloat;
	case HP_LONG_TXN:
		return sql_long_txn;
	case HP_LOCKS:
		return sql_locks;
	case HP_CONNECTIONS:
		return sql_connections;
	case HP_CHECKPOINTS:
		return server_num >= 170000 ? sql_checkpoints17 : sql_checkpoints15;
	case HP_ARCHIVER:
		return sql_archiver;
	}
	return NULL;
}

static void set_reason(struct health_probe *p, const char *msg, const char *hint)
{
	char m[400];
	snprintf(m, sizeof m, "%s", msg && *msg ? msg : "no result");
	m[strcspn(m, "\n")] = 0;
	if (hint)
		snprintf(p->reason, sizeof p->reason, "%s (%s)", m, hint);
	else
		snprintf(p->reason, sizeof p->reason, "%s", m);
}

/* Without pg_read_all_stats (granted by pg_monitor) other roles' sessions hide their
 * queries and states; the probe still runs and says so. */
static int sees_all_stats(PGconn *c)
{
	char err[256];
	char *v = db_scalar(c, err, sizeof err,
			    "select (select rolsuper from pg_roles where rolname = current_user)"
			    " or pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')",
			    0, NULL);
	int ok = v && v[0] == 't';
	free(v);
	return ok;
}

int health_probe_run(PGconn *c, int id, struct health_probe *p)
{
	memset(p, 0, sizeof *p);
	p->id = id;
	const char *sql = health_probe_sql(id, PQserverVersion(c));
	if (!sql) {
		set_reason(p, "unknown probe", NULL);
		return -1;
	}
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		int denied = state && strcmp(state, "42501") == 0;
		set_reason(p, PQresultErrorMessage(r),
			   denied ? "grant the pg_monitor role to this user" : NULL);
		PQclear(r);
		return -1;
	}
	p->res = r;
	p->ok = 1;
	if ((id == HP_LONG_TXN || id == HP_LOCKS || id == HP_CONNECTIONS) && !sees_all_stats(c))
		set_reason(p, "other roles' sessions show no query text",
			   "grant pg_monitor to this user to see them");
	return 0;
}

void health_probe_free(struct health_probe *p)
{
	PQclear(p->res);
	p->res = NULL;
}

/* Whose statements a scope takes, by the role they ran as (see db.c: midsops's own work
 * runs as DB_OWN_ROLE). Before that role exists every statement is the web's. */
static void scope_cond(enum stmt_scope scope, int param, char *buf, size_t n)
{
	snprintf(buf, n, "userid %s (select oid from pg_roles where rolname = $%d)",
		 scope == STMTS_OWN ? "=" : "is distinct from", param);
}

int health_slow_queries(PGconn *c, const char *order, int limit, double min_mean_ms,
			struct health_probe *p)
{
	return health_statements(c, STMTS_WEB, order, limit, min_mean_ms, p);
}

int health_statements(PGconn *c, enum stmt_scope scope, const char *order, int limit,
		      double min_mean_ms, struct health_probe *p)
{
	char err[512];
	memset(p, 0, sizeof *p);
	p->id = -1;
	PGresult *r =
	    db_query(c, err, sizeof err,
		     "select exists (select 1 from pg_extension"
		     "  where extname = 'pg_stat_statements'),"
		     " current_setting('shared_preload_libraries') ~ 'pg_stat_statements'",
		     0, NULL);
	if (!r) {
		set_reason(p, err, NULL);
		return -1;
	}
	int installed = PQgetvalue(r, 0, 0)[0] == 't';
	int preloaded = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (!installed || !preloaded) {
		snprintf(p->reason, sizeof p->reason,
			 "pg_stat_statements is not available on this server: %s%s%s",
			 preloaded
			     ? ""
			     : "add pg_stat_statements to shared_preload_libraries in "
			       "postgresql.conf (or the managed service's parameter group) and "
			       "restart the server",
			 !preloaded && !installed ? ", then " : "",
			 installed ? ""
				   : "run CREATE EXTENSION pg_stat_statements in this database "
				     "as a superuser or the database owner");
		return -1;
	}
	/* The sort column comes from a fixed list, never from input. */
	const char *col = strcmp(order, "total") == 0	? "total_exec_time"
			  : strcmp(order, "calls") == 0 ? "calls"
							: "mean_exec_time";
	char lim[32], thr[64], cond[128];
	struct strbuf sql = {0};
	scope_cond(scope, 3, cond, sizeof cond);
	strbuf_addf(
	    &sql,
	    "select queryid::text as queryid, calls, round(total_exec_time::numeric, 1) as "
	    "total_ms,"
	    " round(mean_exec_time::numeric, 2) as mean_ms,"
	    " round(max_exec_time::numeric, 1) as max_ms, rows,"
	    " round(100.0 * shared_blks_hit / nullif(shared_blks_hit + shared_blks_read, 0), 1)"
	    " as hit_pct, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as query"
	    " from pg_stat_statements"
	    " where dbid = (select oid from pg_database where datname = current_database())"
	    " and %s and mean_exec_time >= $1::float8"
	    " order by %s desc limit $2::int",
	    cond, col);
	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(thr, sizeof thr, "%.3f", min_mean_ms);
	const char *params[] = {thr, lim, DB_OWN_ROLE};
	r = PQexecParams(c, sql.s, 3, NULL, params, NULL, NULL, 0);
	strbuf_free(&sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		set_reason(p, PQresultErrorMessage(r),
			   "pg_stat_statements must be in shared_preload_libraries; reading other "
			   "roles' statements needs pg_read_all_stats");
		PQclear(r);
		return -1;
	}
	p->res = r;
	p->ok = 1;
	if (!sees_all_stats(c))
		set_reason(p, "other roles' statements show no text",
			   "grant pg_read_all_stats or pg_monitor to this user");
	return 0;
}

int health_statements_mean(PGconn *c, enum stmt_scope scope, double *mean_ms, long long *calls,
			   char *err, size_t errlen)
{
	/* Top-level statements only, where the server tracks nesting (14 and later): with
	 * pg_stat_statements.track = all a function's inner statements are counted again
	 * inside its own time. */
	char cond[128];
	struct strbuf sql = {0};
	scope_cond(scope, 1, cond, sizeof cond);
	strbuf_addf(&sql,
		    "select sum(total_exec_time) / nullif(sum(calls), 0), coalesce(sum(calls), 0)"
		    " from pg_stat_statements"
		    " where dbid = (select oid from pg_database where datname = "
		    "current_database()) and %s%s",
		    cond, PQserverVersion(c) >= 140000 ? " and toplevel" : "");
	const char *params[] = {DB_OWN_ROLE};
	PGresult *r = db_query(c, err, errlen, sql.s, 1, params);
	strbuf_free(&sql);
	if (!r)
		return -1;
	*mean_ms = PQgetisnull(r, 0, 0) ? 0 : strtod(PQgetvalue(r, 0, 0), NULL);
	*calls = atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}
