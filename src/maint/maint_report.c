/* The reports' reads and the metrics store: the last import, the weekly report's sections,
 * ops.metrics samples. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint.h"
#include "util.h"

int maint_last_import(PGconn *c, struct last_import *li, struct db_error *e)
{
	PGresult *r =
	    db_query_e(c, e,
		       "select id, state, to_char(started_at, 'YYYY-MM-DD HH24:MI'), errors"
		       " from ops.import_runs_seen order by id desc limit 1",
		       0, NULL);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	if (found) {
		snprintf(li->id, sizeof li->id, "%s", PQgetvalue(r, 0, 0));
		snprintf(li->state, sizeof li->state, "%s", PQgetvalue(r, 0, 1));
		snprintf(li->started, sizeof li->started, "%s", PQgetvalue(r, 0, 2));
		snprintf(li->errors, sizeof li->errors, "%s", PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	return found;
}

int maint_last_import_rate(PGconn *c, double *rate, struct db_error *e)
{
	PGresult *r =
	    db_query_e(c, e,
		       "select rate from ops.import_runs where rate is not null and state ="
		       " 'completed' order by started_at desc limit 1",
		       0, NULL);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
	if (found)
		*rate = atof(PQgetvalue(r, 0, 0));
	PQclear(r);
	return found;
}

/* One chart per daily figure: an aggregate over a table's rows of each of the last seven
 * days. The SQL pieces are constants of this table, never input. */
static const struct {
	const char *agg, *from, *at;
} chart_sql[WEEKLY_CHARTS] = {
    {"count(*)", "ops.import_runs", "started_at"},
    {"count(*)", "ops.import_errors", "at"},
    {"round(avg(cache_hit_pct)::numeric, 1)", "ops.metrics", "at"},
    {"round(avg(tps)::numeric, 1)", "ops.metrics", "at"},
    {"max(db_size) / 1048576.0", "ops.metrics", "at"},
};
const struct weekly_chart maint_weekly_charts[WEEKLY_CHARTS] = {
    {"Imports per day", ""},
    {"Import errors per day", ""},
    {"Cache hit rate per day (%)", "%"},
    {"Transactions per second per day", ""},
    {"Database size per day (MB)", " MB"},
};

/* A section that cannot be read is shown empty; the first reason is kept. */
static void section(PGconn *c, struct weekly *w, struct maint_rows *r, const char *sql)
{
	struct db_error e;
	if (maint_rows_query(c, r, &e, sql, 0, NULL) == 0)
		return;
	if (w->failed++ == 0)
		w->first_error = e;
}

/* The report's sections that are a query each, in the order they are read; those that
 * need ops.backups only where it exists. maint_weekly_free frees from the same list. */
#define SECTION(m) offsetof(struct weekly, m)
static const struct {
	size_t off; /* its struct maint_rows in struct weekly */
	const char *sql;
	int needs_backups;
} weekly_sections[] = {
    {.off = SECTION(imports),
     .sql = "select count(*) as runs, count(*) filter (where state = 'completed') as completed,"
	    " count(*) filter (where state = 'failed') as failed,"
	    " coalesce(sum(records_done), 0) as records,"
	    " round(avg(rate)::numeric, 1) as avg_rate_per_s,"
	    " round(min(rate)::numeric, 1) as min_rate_per_s"
	    " from ops.import_runs where started_at >= now() - interval '7 days'"},
    {.off = SECTION(runs),
     .sql = "select id, kind, state, to_char(started_at, 'YYYY-MM-DD HH24:MI') as started,"
	    " records_done as records, round(rate::numeric, 1) as rate, errors, generation"
	    " from ops.import_runs where started_at >= now() - interval '7 days' order by id"},
    {.off = SECTION(errors),
     .sql = "select code, severity, count(*) as count from ops.import_errors"
	    " where at >= now() - interval '7 days' group by 1, 2 order by 3 desc, 1"},
    {.off = SECTION(backups),
     .needs_backups = 1,
     .sql = "select id, type, status, to_char(started_at, 'YYYY-MM-DD HH24:MI') as started,"
	    " pg_size_pretty(size_bytes) as size, verify_ok from ops.backups"
	    " where started_at >= now() - interval '7 days' order by started_at"},
    {.off = SECTION(growth),
     .sql = "select pg_size_pretty(pg_database_size(current_database())) as now,"
	    " (select pg_size_pretty(db_size) from ops.metrics"
	    "  where at >= now() - interval '7 days' order by at limit 1) as week_start,"
	    " (select pg_size_pretty(pg_database_size(current_database()) - db_size)"
	    "  from ops.metrics where at >= now() - interval '7 days' order by at limit 1)"
	    " as growth"},
    {.off = SECTION(tables),
     .sql = "select schemaname || '.' || relname as table,"
	    " pg_size_pretty(pg_total_relation_size(relid)) as size, n_live_tup as rows"
	    " from pg_stat_user_tables order by pg_total_relation_size(relid) desc limit 8"},
    {.off = SECTION(incidents),
     .sql = "select source, count(*) as errors, to_char(max(at), 'YYYY-MM-DD HH24:MI') as last"
	    " from ops.events where level = 'error' and at >= now() - interval '7 days'"
	    " group by 1 order by 2 desc"},
};
#define NSECTIONS (sizeof weekly_sections / sizeof weekly_sections[0])

static struct maint_rows *section_rows(struct weekly *w, size_t i)
{
	return (struct maint_rows *)(void *)((char *)w + weekly_sections[i].off);
}

static void weekly_charts(PGconn *c, struct weekly *w)
{
	for (int i = 0; i < WEEKLY_CHARTS; i++) {
		struct strbuf sql = {0};
		strbuf_addf(&sql,
			    "with d as (select generate_series(date_trunc('day', now()) - interval "
			    "'6 days', date_trunc('day', now()), interval '1 day') as day)"
			    " select to_char(d.day, 'Dy MM-DD'), (select %s from %s x"
			    " where x.%s >= d.day and x.%s < d.day + interval '1 day')"
			    " from d order by d.day",
			    chart_sql[i].agg, chart_sql[i].from, chart_sql[i].at, chart_sql[i].at);
		section(c, w, &w->charts[i], sql.s);
		strbuf_free(&sql);
	}
}

void maint_weekly(PGconn *c, struct weekly *w)
{
	*w = (struct weekly){0};
	struct maint_rows week = {0};
	section(c, w, &week,
		"select to_char(now() - interval '7 days', 'YYYY-MM-DD'),"
		" to_char(now(), 'YYYY-MM-DD'), to_regclass('ops.backups')::text");
	if (week.nrows > 0) {
		snprintf(w->from, sizeof w->from, "%s", maint_cell(&week, 0, 0));
		snprintf(w->to, sizeof w->to, "%s", maint_cell(&week, 0, 1));
		w->has_backups = maint_cell(&week, 0, 2) != NULL;
	}
	maint_rows_free(&week);
	for (size_t i = 0; i < NSECTIONS; i++)
		if (!weekly_sections[i].needs_backups || w->has_backups)
			section(c, w, section_rows(w, i), weekly_sections[i].sql);
	weekly_charts(c, w);
}

void maint_weekly_free(struct weekly *w)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		maint_rows_free(section_rows(w, i));
	for (int i = 0; i < WEEKLY_CHARTS; i++)
		maint_rows_free(&w->charts[i]);
}

int maint_metrics_last(PGconn *c, struct metrics_sample *m)
{
	struct db_error e;
	PGresult *r =
	    db_query_e(c, &e,
		       "select extract(epoch from at)::bigint, xact_total, cache_hits, cache_misses"
		       " from ops.metrics order by at desc limit 1",
		       0, NULL);
	if (!r || PQntuples(r) == 0) {
		PQclear(r);
		return -1;
	}
	memset(m, 0, sizeof *m);
	m->at = (time_t)atoll(PQgetvalue(r, 0, 0));
	m->xact_total = atoll(PQgetvalue(r, 0, 1));
	m->cache_hits = atoll(PQgetvalue(r, 0, 2));
	m->cache_misses = atoll(PQgetvalue(r, 0, 3));
	PQclear(r);
	return 0;
}

/* A figure as a parameter; NULL (SQL NULL) when it is not known. */
static const char *fig(char *buf, size_t n, double v, const char *fmt)
{
	if (isnan(v))
		return NULL;
	snprintf(buf, n, fmt, v);
	return buf;
}

/* The sample as the insert's parameters: counters as integers, figures with their
 * precision, a figure not known (NAN) as SQL NULL. */
#define METRICS_NPARAMS 20
static void params(const struct metrics_sample *m, char b[METRICS_NPARAMS][64],
		   const char *p[METRICS_NPARAMS])
{
	const long long ints[METRICS_NPARAMS] = {m->xact_total,	   0, m->db_size,
						 m->connections,   0, m->cache_hits,
						 m->cache_misses,  0, m->cache_entries,
						 m->cache_bytes,   0, m->dead_tuples,
						 m->waiting_locks, 0, 0,
						 m->mem_used};
	const double figs[METRICS_NPARAMS] = {[1] = m->tps,
					      [4] = m->buffer_hit_pct,
					      [7] = m->cache_hit_pct,
					      [10] = m->query_mean_ms,
					      [13] = m->longest_txn_s,
					      [14] = m->import_rate,
					      [16] = m->replay_lag_s,
					      [17] = m->replica_lag_bytes,
					      [18] = m->wal_age_s,
					      [19] = m->backup_age_s};
	const unsigned is_fig = 1u << 1 | 1u << 4 | 1u << 7 | 1u << 10 | 1u << 13 | 1u << 14 |
				1u << 16 | 1u << 17 | 1u << 18 | 1u << 19;
	for (int i = 0; i < METRICS_NPARAMS; i++) {
		if (is_fig >> i & 1) {
			p[i] = fig(b[i], 64, figs[i], i == 10 ? "%.4f" : i == 17 ? "%.0f" : "%.3f");
			continue;
		}
		snprintf(b[i], 64, "%lld", ints[i]);
		p[i] = b[i];
	}
}

int maint_metrics_store(PGconn *c, const struct metrics_sample *m, long keep_s, struct db_error *e)
{
	char b[METRICS_NPARAMS][64];
	const char *p[METRICS_NPARAMS];
	params(m, b, p);
	char keep[32];
	snprintf(keep, sizeof keep, "%ld", keep_s);
	const char *kp[] = {keep};
	if (db_exec_e(c, e,
		      "insert into ops.metrics (xact_total, tps, db_size, connections,"
		      " buffer_hit_pct, cache_hits, cache_misses, cache_hit_pct, cache_entries,"
		      " cache_bytes, query_mean_ms, dead_tuples, waiting_locks, longest_txn_s,"
		      " import_rate, mem_used, replay_lag_s, replica_lag_bytes, wal_age_s,"
		      " backup_age_s) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
		      " $13, $14, $15, $16, $17, $18, $19, $20)",
		      METRICS_NPARAMS, p) < 0)
		return -1;
	return db_exec_e(c, e,
			 "delete from ops.metrics where at < now() - make_interval(secs => "
			 "$1::float8)",
			 1, kp);
}
