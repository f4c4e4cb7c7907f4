/* One sample of the figures perf-monitor and collect report (metrics_sample_take), and the
 * running totals `metrics` exposes (probe_metrics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_int.h"
#include "config.h"
#include "db.h"
#include "probe.h"
#include "probe_dr.h"
#include "probe_health.h"
#include "util.h"

/* A figure that may be missing: *out stays as it was when the query fails or is NULL. */
static void optional_num(PGconn *c, const char *sql, double *out)
{
	char err[256];
	char *v = db_scalar(c, err, sizeof err, sql, 0, NULL);
	if (v) {
		*out = strtod(v, NULL);
		free(v);
	}
}

int metrics_sample_take(PGconn *c, const struct config *cfg, const struct metrics_sample *prev,
			struct metrics_sample *m, char *err, size_t errlen)
{
	struct db_snapshot d;
	struct cache_snapshot cs;
	struct sys_snapshot sys;
	memset(m, 0, sizeof *m);
	m->at = time(NULL);
	if (probe_db(c, &d) < 0) {
		snprintf(err, errlen, "%s", d.error);
		return -1;
	}
	m->xact_total = d.xact_total;
	m->db_size = d.db_size;
	m->connections = d.connections;
	m->buffer_hit_pct = d.hit_ratio;
	m->dead_tuples = d.dead_tuples;
	m->waiting_locks = d.waiting_locks;
	m->longest_txn_s = d.longest_txn_s;
	m->tps = NAN;
	m->cache_hit_pct = NAN;
	m->query_mean_ms = NAN;
	m->import_rate = NAN;
	m->replay_lag_s = d.in_recovery ? d.replay_lag_s : NAN;
	m->replica_lag_bytes =
	    !d.in_recovery && d.nreplicas > 0 ? (double)d.max_replica_lag_bytes : NAN;
	m->wal_age_s = m->backup_age_s = NAN;
	if (probe_cache_stats(c, &cs) == 0) {
		m->cache_hits = cs.hits;
		m->cache_misses = cs.misses;
		m->cache_entries = cs.entries;
		m->cache_bytes = cs.bytes;
		m->cache_hit_pct = cs.hit_rate;
	}
	double dt = prev ? difftime(m->at, prev->at) : 0;
	if (prev && dt > 0 && m->xact_total >= prev->xact_total)
		m->tps = (double)(m->xact_total - prev->xact_total) / dt;
	if (prev && m->cache_hits >= prev->cache_hits && m->cache_misses >= prev->cache_misses) {
		long long h = m->cache_hits - prev->cache_hits,
			  mi = m->cache_misses - prev->cache_misses;
		if (h + mi > 0)
			m->cache_hit_pct = 100.0 * (double)h / (double)(h + mi);
	}
	/* Optional figures: each may be missing (no extension, no import yet). */
	optional_num(c,
		     "select case when exists (select 1 from pg_extension"
		     " where extname = 'pg_stat_statements') then"
		     " (select sum(total_exec_time) / nullif(sum(calls), 0) from pg_stat_statements"
		     "  where dbid = (select oid from pg_database where datname = "
		     "current_database()))"
		     " end",
		     &m->query_mean_ms);
	optional_num(
	    c,
	    "select rate from ops.import_runs where rate is not null and state = 'completed'"
	    " order by started_at desc limit 1",
	    &m->import_rate);
	/* The health pane's own definitions: a trend backfilled from these samples
	 * measures what the live figure does. */
	optional_num(c, "select " PROBE_WAL_AGE_SQL, &m->wal_age_s);
	optional_num(c, "select " PROBE_BACKUP_AGE_SQL, &m->backup_age_s);
	probe_system(cfg, &sys);
	m->mem_used = (long long)(sys.mem_total - sys.mem_avail);
	return 0;
}

/* ---- metrics: the server's running totals, for the Prometheus exposition ---- */

/* The core row: when this fails, the database is not up. Server-wide figures and the
 * target database's pg_stat_database row; pg_stat_archiver always has its one row. The
 * standby's lag is 0 while it has replayed all it received, so an idle primary does not
 * look like a lagging standby. */
static const char metrics_core_sql[] =
    "select current_database(), split_part(current_setting('server_version'), ' ', 1),\n"
    "  extract(epoch from pg_postmaster_start_time()), pg_is_in_recovery()::int,\n"
    "  (select count(*) from pg_stat_activity where backend_type = 'client backend'),\n"
    "  current_setting('max_connections')::int,\n"
    "  (select count(*) from pg_locks where not granted),\n"
    "  coalesce((select greatest(0, extract(epoch from max(now() - xact_start)))\n"
    "     from pg_stat_activity where xact_start is not null and pid <> pg_backend_pid()\n"
    "       and backend_type = 'client backend'), 0),\n"
    "  pg_database_size(current_database()), d.numbackends, d.xact_commit, d.xact_rollback,\n"
    "  d.blks_hit, d.blks_read, d.deadlocks, d.temp_bytes,\n"
    "  (select coalesce(sum(n_dead_tup), 0) from pg_stat_user_tables),\n"
    "  (select coalesce(sum(n_live_tup), 0) from pg_stat_user_tables),\n"
    "  a.archived_count, a.failed_count, extract(epoch from a.last_archived_time),\n"
    "  case when pg_is_in_recovery() then\n"
    "    case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0\n"
    "    else extract(epoch from now() - pg_last_xact_replay_timestamp()) end end,\n"
    "  case when pg_is_in_recovery() then\n"
    "    pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) end,\n"
    "  current_setting('server_version_num')::int\n"
    "from pg_stat_database d, pg_stat_archiver a where d.datname = current_database()";

/* What the optional figures need, so an unmigrated database or a server without the
 * extension costs no failed statement and no warning. */
static const char metrics_have_sql[] =
    "select to_regclass('ops.import_runs') is not null, to_regclass('ops.backups') is not null,\n"
    "  to_regclass('cache.counters') is not null and to_regclass('cache.settings') is not null,\n"
    "  (select extnamespace::regnamespace::text from pg_extension\n"
    "     where extname = 'pg_stat_statements'\n"
    "       and current_setting('shared_preload_libraries') ~ 'pg_stat_statements'),\n"
    "  to_regclass('ops.import_runs_seen') is not null";

/* A primary's replicas. Two replicas may share an application_name; the pid then keeps
 * their series apart. A WAL receiver that applies nothing (pg_receivewal, which is what
 * wal-receive runs) has no replay position: its lag is what it has not flushed yet. A
 * caught-up idle replica has NULL lag times: that is 0. */
static const char metrics_replicas_sql[] =
    "select coalesce(nullif(application_name, ''), 'pid ' || pid)\n"
    "    || case when count(*) over (partition by application_name) > 1\n"
    "       then ' (pid ' || pid || ')' else '' end,\n"
    "  greatest(0, pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, flush_lsn))),\n"
    "  extract(epoch from coalesce(case when replay_lsn is not null then replay_lag\n"
    "    else flush_lag end, case when coalesce(replay_lsn, flush_lsn)\n"
    "    = pg_current_wal_lsn() then interval '0' end))\n"
    "from pg_stat_replication order by 1";

/* %s is ops.import_runs_seen (a run whose process died is 'interrupted' there, not
 * 'running'), or ops.import_runs on a schema from before that view. */
static const char metrics_import_sql[] =
    "select r.records, r.completed, r.failed, r.running, r.stopped, r.interrupted,\n"
    "  extract(epoch from l.finished_at), extract(epoch from l.finished_at - l.started_at),\n"
    "  coalesce(l.rate, l.records_done / nullif(extract(epoch from l.finished_at\n"
    "    - l.started_at), 0))\n"
    "from (select coalesce(sum(records_done), 0) as records,\n"
    "        count(*) filter (where state = 'completed') as completed,\n"
    "        count(*) filter (where state = 'failed') as failed,\n"
    "        count(*) filter (where state in ('running', 'stopping')) as running,\n"
    "        count(*) filter (where state = 'stopped') as stopped,\n"
    "        count(*) filter (where state = 'interrupted') as interrupted\n"
    "      from %s where kind = 'import') r\n"
    "left join lateral (select finished_at, started_at, rate, records_done\n"
    "    from ops.import_runs where kind = 'import' and state = 'completed'\n"
    "      and finished_at is not null order by finished_at desc limit 1) l on true";

static const char metrics_backups_sql[] =
    "select type, extract(epoch from max(finished_at)),\n"
    "  (array_agg(size_bytes order by finished_at desc))[1]\n"
    "from ops.backups where status = 'complete' and finished_at is not null\n"
    "group by type order by type";

static const char metrics_cache_sql[] =
    "select coalesce(sum(hits), 0), coalesce(sum(misses), 0), coalesce(sum(evictions), 0),\n"
    "  coalesce(sum(entries), 0), coalesce(sum(bytes), 0),\n"
    "  (select max_entries from cache.settings), (select max_bytes from cache.settings)\n"
    "from cache.counters";

static double mval(PGresult *r, int row, int col)
{
	if (row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NAN;
	return strtod(PQgetvalue(r, row, col), NULL);
}

static void metrics_warn(struct metrics_snapshot *s, const char *what, const char *why)
{
	size_t n = strlen(s->warn);
	snprintf(s->warn + n, sizeof s->warn - n, "%s%s: %s", n ? "; " : "", what, why);
}

/* Run an optional query; on failure note why and return NULL. */
static PGresult *metrics_query(PGconn *c, struct metrics_snapshot *s, const char *what,
			       const char *sql)
{
	char err[512];
	PGresult *r = db_query(c, err, sizeof err, sql, 0, NULL);
	if (!r) {
		err[strcspn(err, "\n")] = 0;
		metrics_warn(s, what, err);
	}
	return r;
}

static void metrics_unknown(struct metrics_snapshot *s)
{
	double *all[] = {
	    &s->start_time,
	    &s->in_recovery,
	    &s->connections,
	    &s->max_connections,
	    &s->waiting_locks,
	    &s->longest_txn_s,
	    &s->db_size,
	    &s->backends,
	    &s->xact_commit,
	    &s->xact_rollback,
	    &s->blks_hit,
	    &s->blks_read,
	    &s->deadlocks,
	    &s->temp_bytes,
	    &s->dead_tuples,
	    &s->live_tuples,
	    &s->stmt_calls,
	    &s->stmt_seconds,
	    &s->standby_lag_bytes,
	    &s->standby_lag_seconds,
	    &s->wal_archived,
	    &s->wal_failed,
	    &s->wal_last_archived,
	    &s->import_records,
	    &s->import_completed,
	    &s->import_failed,
	    &s->import_stopped,
	    &s->import_running,
	    &s->import_interrupted,
	    &s->import_last_success,
	    &s->import_last_duration,
	    &s->import_last_rate,
	    &s->cache_hits,
	    &s->cache_misses,
	    &s->cache_evictions,
	    &s->cache_entries,
	    &s->cache_bytes,
	    &s->cache_max_entries,
	    &s->cache_max_bytes,
	};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		*all[i] = NAN;
}

static void metrics_statements(PGconn *c, struct metrics_snapshot *s, const char *schema,
			       int server_num)
{
	char *ns = db_ident(c, schema);
	if (!ns) {
		metrics_warn(s, "statements", PQerrorMessage(c));
		return;
	}
	/* total_exec_time replaced total_time in PostgreSQL 13. */
	struct strbuf sql = {0};
	strbuf_addf(&sql,
		    "select coalesce(sum(calls), 0), coalesce(sum(%s), 0) / 1000.0"
		    " from %s.pg_stat_statements"
		    " where dbid = (select oid from pg_database where datname = "
		    "current_database())",
		    server_num >= 130000 ? "total_exec_time" : "total_time", ns);
	PQfreemem(ns);
	PGresult *r = metrics_query(c, s, "statements", sql.s);
	strbuf_free(&sql);
	if (r) {
		s->stmt_calls = mval(r, 0, 0);
		s->stmt_seconds = mval(r, 0, 1);
	}
	PQclear(r);
}

int probe_metrics(PGconn *c, struct metrics_snapshot *s)
{
	memset(s, 0, sizeof *s);
	metrics_unknown(s);
	char err[512];
	PGresult *r = db_query(c, err, sizeof err, metrics_core_sql, 0, NULL);
	if (!r || PQntuples(r) != 1) {
		snprintf(s->error, sizeof s->error, "%s", r ? "no pg_stat_database row" : err);
		s->error[strcspn(s->error, "\n")] = 0;
		PQclear(r);
		return -1;
	}
	s->up = 1;
	snprintf(s->datname, sizeof s->datname, "%s", PQgetvalue(r, 0, 0));
	snprintf(s->server_version, sizeof s->server_version, "%s", PQgetvalue(r, 0, 1));
	double *core[] = {
	    &s->start_time,	   &s->in_recovery,
	    &s->connections,	   &s->max_connections,
	    &s->waiting_locks,	   &s->longest_txn_s,
	    &s->db_size,	   &s->backends,
	    &s->xact_commit,	   &s->xact_rollback,
	    &s->blks_hit,	   &s->blks_read,
	    &s->deadlocks,	   &s->temp_bytes,
	    &s->dead_tuples,	   &s->live_tuples,
	    &s->wal_archived,	   &s->wal_failed,
	    &s->wal_last_archived, &s->standby_lag_seconds,
	    &s->standby_lag_bytes,
	};
	for (size_t i = 0; i < sizeof core / sizeof core[0]; i++)
		*core[i] = mval(r, 0, (int)i + 2);
	int server_num = atoi(PQgetvalue(r, 0, 23));
	PQclear(r);

	if (s->in_recovery == 0) {
		r = metrics_query(c, s, "replication", metrics_replicas_sql);
		if (r) {
			s->nreplicas = PQntuples(r);
			for (int i = 0; i < PQntuples(r) && i < PROBE_MAX_REPLICAS; i++) {
				snprintf(s->replica[i].name, sizeof s->replica[i].name, "%s",
					 PQgetvalue(r, i, 0));
				s->replica[i].lag_bytes = mval(r, i, 1);
				s->replica[i].lag_seconds = mval(r, i, 2);
				s->nreplica_rows++;
			}
		}
		PQclear(r);
	}

	r = metrics_query(c, s, "schema", metrics_have_sql);
	if (!r)
		return 0;
	int have_import = PQgetvalue(r, 0, 0)[0] == 't',
	    have_backups = PQgetvalue(r, 0, 1)[0] == 't',
	    have_cache = PQgetvalue(r, 0, 2)[0] == 't';
	int have_seen = PQgetvalue(r, 0, 4)[0] == 't';
	char pgss[128] = "";
	if (!PQgetisnull(r, 0, 3))
		snprintf(pgss, sizeof pgss, "%s", PQgetvalue(r, 0, 3));
	PQclear(r);

	if (pgss[0])
		metrics_statements(c, s, pgss, server_num);
	struct strbuf import_sql = {0};
	strbuf_addf(&import_sql, metrics_import_sql,
		    have_seen ? "ops.import_runs_seen" : "ops.import_runs");
	r = have_import ? metrics_query(c, s, "import", import_sql.s) : NULL;
	strbuf_free(&import_sql);
	if (r) {
		double *imp[] = {
		    &s->import_records,	     &s->import_completed,     &s->import_failed,
		    &s->import_running,	     &s->import_stopped,       &s->import_interrupted,
		    &s->import_last_success, &s->import_last_duration, &s->import_last_rate,
		};
		for (size_t i = 0; i < sizeof imp / sizeof imp[0]; i++)
			*imp[i] = mval(r, 0, (int)i);
		PQclear(r);
	}
	if (have_backups && (r = metrics_query(c, s, "backups", metrics_backups_sql))) {
		for (int i = 0; i < PQntuples(r) && s->nbackup_types < PROBE_MAX_BACKUP_TYPES;
		     i++) {
			int k = s->nbackup_types++;
			snprintf(s->backup[k].type, sizeof s->backup[k].type, "%s",
				 PQgetvalue(r, i, 0));
			s->backup[k].last_success = mval(r, i, 1);
			s->backup[k].last_size = mval(r, i, 2);
		}
		PQclear(r);
	}
	if (have_cache && (r = metrics_query(c, s, "cache", metrics_cache_sql))) {
		double *cs[] = {
		    &s->cache_hits,  &s->cache_misses,	    &s->cache_evictions, &s->cache_entries,
		    &s->cache_bytes, &s->cache_max_entries, &s->cache_max_bytes,
		};
		for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
			*cs[i] = mval(r, 0, (int)i);
		PQclear(r);
	}
	return 0;
}

void probe_metrics_scrape(const struct target *t, struct metrics_snapshot *s, struct repl_health *h,
			  int *have_repl)
{
	char err[1024];
	*have_repl = 0;
	PGconn *c = db_connect(t, "metrics", err, sizeof err);
	/* A scrape must not hang on a lock, and must not write even by mistake. */
	if (c && db_exec(c, err, sizeof err,
			 "select set_config('statement_timeout', '10s', false),"
			 " set_config('default_transaction_read_only', 'on', false)",
			 0, NULL) < 0) {
		PQfinish(c);
		c = NULL;
		char why[sizeof err];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, sizeof err, "cannot limit the scrape's session: %.900s", why);
	}
	if (!c) {
		memset(s, 0, sizeof *s);
		snprintf(s->error, sizeof s->error, "%.511s", err);
		return;
	}
	probe_metrics(c, s);
	if (s->up) {
		*have_repl = probe_repl(c, h) == 0;
		if (!*have_repl && !s->warn[0])
			snprintf(s->warn, sizeof s->warn, "replication slots: %s", h->error);
	}
	PQfinish(c);
}
