/* The Key Metrics Dashboard's judgements and actions, the query-time probe, and the
 * console's trend samples and their ops.metrics backfill (include/probe_kpi.h). */
#include "probe_kpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "probe_async.h"

const char *const kpi_names[KPI_N] = {"import_speed", "query_time", "cache_hit_rate", "memory"};

const char *const trend_names[TR_N] = {
    "TPS",	   "connections",     "buffer hit",	 "API cache hit",
    "import rate", "replication lag", "WAL archive age", "last backup age"};

enum status kpi_judge(const struct config *cfg, enum kpi_id id, double value, double mem_total_gb)
{
	switch (id) {
	case KPI_IMPORT:
		return threshold_judge(&cfg->import_speed, value);
	case KPI_QUERY:
		return threshold_judge(&cfg->query_time, value);
	case KPI_CACHE:
		return threshold_judge(&cfg->cache_hit_rate, value);
	case KPI_MEMORY:
		if (mem_total_gb < cfg->memory.critical * 2)
			return ST_OK;
		return threshold_judge(&cfg->memory, value);
	default:
		return ST_UNKNOWN;
	}
}

const char *kpi_action(enum kpi_id id, int evictions)
{
	switch (id) {
	case KPI_IMPORT:
		return "increase batch size";
	case KPI_QUERY:
		return "optimize indexes: check the slowest statements with db-slow-queries";
	case KPI_CACHE:
		return evictions ? "increase cache size ([cache] max_entries, max_bytes)"
				 : "increase cache size, or run cache-warm after imports";
	case KPI_MEMORY:
		return "reduce batch size of imports";
	default:
		return "";
	}
}

void kpi_action_short(const char *action, char *buf, size_t n)
{
	size_t k = strcspn(action, ":,");
	const char *paren = strstr(action, " (");
	if (paren && (size_t)(paren - action) < k)
		k = (size_t)(paren - action);
	snprintf(buf, n, "%.*s", (int)k, action);
}

/* Inside query_to_xml, so that the view is planned only when the extension is there. */
static const char kpi_query_sql[] =
    "/* midsops console: kpi */ select e.ok, case when e.ok then (xpath('/row/m/text()',\n"
    "  query_to_xml('select sum(total_exec_time) / nullif(sum(calls), 0) as m\n"
    "    from pg_stat_statements where dbid = (select oid from pg_database\n"
    "      where datname = current_database()) and userid is distinct from\n"
    "      (select oid from pg_roles where rolname = ''" DB_OWN_ROLE "'')' ||\n"
    "    case when current_setting('server_version_num')::int >= 140000\n"
    "      then ' and toplevel' else '' end, false, true, '')))[1]::text end\n"
    "from (select exists (select 1 from pg_extension where extname = 'pg_stat_statements')\n"
    "  and current_setting('shared_preload_libraries') ~ 'pg_stat_statements' as ok) e";

const char *probe_kpi_query_sql(void)
{
	return kpi_query_sql;
}

int probe_kpi_query_parse(PGresult *r, struct kpi_query *q)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 2)
		return -1;
	q->have = 1;
	q->available = PQgetvalue(r, 0, 0)[0] == 't';
	q->mean_ms = PQgetisnull(r, 0, 1) ? NAN : strtod(PQgetvalue(r, 0, 1), NULL);
	return 0;
}

static void fig_na(struct kpi_fig *f, const char *why)
{
	f->have = 0;
	f->value = NAN;
	f->st = ST_UNKNOWN;
	f->action = NULL;
	snprintf(f->why, sizeof f->why, "%s", why);
}

static void fig_set(struct kpi_fig *f, const struct config *cfg, enum kpi_id id, double value,
		    double mem_total_gb, int evictions)
{
	f->have = 1;
	f->value = value;
	f->st = kpi_judge(cfg, id, value, mem_total_gb);
	f->action = f->st == ST_OK ? NULL : kpi_action(id, evictions);
	f->why[0] = 0;
}

/* A running import's rate, else the last finished run's (perf-analyze judges that one). */
static void fig_import(const struct config *cfg, const struct monitor_view *v, struct kpi_fig *f)
{
	const struct import_snapshot *s = &v->imp;
	if (!v->have[MON_IMPORT] || !s->present)
		fig_na(f, "no import runs yet");
	else if (s->has_run && strcmp(s->state, "running") == 0 && !isnan(s->rate))
		fig_set(f, cfg, KPI_IMPORT, s->rate, 0, 0);
	else if (s->nrates > 0)
		fig_set(f, cfg, KPI_IMPORT, s->rates[s->nrates - 1], 0, 0);
	else
		fig_na(f, "no finished import with a rate yet");
}

void kpi_figures(const struct config *cfg, const struct monitor_view *v, double mem_used,
		 double mem_total, struct kpi_fig f[KPI_N])
{
	fig_import(cfg, v, &f[KPI_IMPORT]);
	const struct kpi_query *q = &v->kpi_q;
	if (!q->have)
		fig_na(&f[KPI_QUERY], "not measured yet");
	else if (!q->available)
		fig_na(&f[KPI_QUERY], "pg_stat_statements is not installed and preloaded");
	else if (isnan(q->mean_ms))
		fig_na(&f[KPI_QUERY], "no web statements recorded yet");
	else
		fig_set(&f[KPI_QUERY], cfg, KPI_QUERY, q->mean_ms, 0, 0);
	const struct console_cache_snapshot *c = &v->cache;
	if (!v->have[MON_CACHE] || !c->installed)
		fig_na(&f[KPI_CACHE], "the API cache is not installed");
	else if (isnan(c->hit_rate) || c->hits + c->misses < KPI_CACHE_MIN_READS)
		fig_na(&f[KPI_CACHE], "fewer than 100 cache reads");
	else
		fig_set(&f[KPI_CACHE], cfg, KPI_CACHE, c->hit_rate, 0, c->evictions > 0);
	const double gb = 1024.0 * 1024 * 1024;
	if (mem_total <= 0)
		fig_na(&f[KPI_MEMORY], "host memory not sampled yet");
	else
		fig_set(&f[KPI_MEMORY], cfg, KPI_MEMORY, mem_used / gb, mem_total / gb, 0);
}

void trend_push(struct trend_ring *r, double t, const double v[TR_N])
{
	r->t[r->head] = t;
	for (int i = 0; i < TR_N; i++)
		r->v[r->head][i] = (float)v[i];
	r->head = (r->head + 1) % TREND_CAP;
	if (r->n < TREND_CAP)
		r->n++;
}

double trend_oldest(const struct trend_ring *r)
{
	return r->n ? r->t[(r->head - r->n + TREND_CAP) % TREND_CAP] : NAN;
}

void trend_columns(const struct trend_ring *r, int id, double now, double window, int ncol,
		   double *out, struct trend_scale *sc)
{
	double sum[ncol > 0 ? ncol : 1];
	int cnt[ncol > 0 ? ncol : 1];
	sc->last = sc->lo = sc->hi = NAN;
	for (int c = 0; c < ncol; c++) {
		sum[c] = 0;
		cnt[c] = 0;
	}
	double from = now - window;
	for (int k = 0; k < r->n; k++) {
		int i = (r->head - r->n + k + TREND_CAP) % TREND_CAP;
		double x = r->v[i][id];
		if (isnan(x) || r->t[i] < from || r->t[i] > now + 1)
			continue;
		sc->last = x;
		if (isnan(sc->lo) || x < sc->lo)
			sc->lo = x;
		if (isnan(sc->hi) || x > sc->hi)
			sc->hi = x;
		int c = (int)((r->t[i] - from) / window * ncol);
		if (c >= ncol)
			c = ncol - 1;
		if (c < 0)
			continue;
		sum[c] += x;
		cnt[c]++;
	}
	for (int c = 0; c < ncol; c++)
		out[c] = cnt[c] ? sum[c] / cnt[c] : NAN;
}

static const char trend_sql[] =
    "/* midsops console: trend */ select extract(epoch from b.t)::float8,\n"
    "  b.tps, b.conn, b.buf, b.api, b.imp, b.lag_s, b.lag_b, b.wal, b.bak from (\n"
    "  select to_timestamp(floor(extract(epoch from at) / $2::float8) * $2::float8) as t,\n"
    "    avg(tps) as tps, avg(connections) as conn, avg(buffer_hit_pct) as buf,\n"
    "    avg(cache_hit_pct) as api, avg(import_rate) as imp, avg(replay_lag_s) as lag_s,\n"
    "    avg(replica_lag_bytes) as lag_b, avg(wal_age_s) as wal, avg(backup_age_s) as bak\n"
    "  from ops.metrics where at >= now() - make_interval(secs => $1::float8)\n"
    "  group by 1) b order by 1";

const char *probe_trend_sql(void)
{
	return trend_sql;
}

static double cell(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NAN : strtod(PQgetvalue(r, row, col), NULL);
}

int probe_trend_parse(PGresult *r, struct trend_ring *out, char *err, size_t errlen)
{
	out->n = out->head = 0;
	out->lag_bytes = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (st && strcmp(st, "42P01") == 0)
			snprintf(err, errlen,
				 "ops.metrics does not exist: run 'midsops db-migrate', "
				 "then 'midsops collect' (cron or timer)");
		else
			snprintf(err, errlen, "%.*s", (int)strcspn(PQresultErrorMessage(r), "\n"),
				 PQresultErrorMessage(r));
		return -1;
	}
	int n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		double v[TR_N];
		for (int k = 0; k < TR_N; k++)
			v[k] = NAN;
		v[TR_TPS] = cell(r, i, 1);
		v[TR_CONN] = cell(r, i, 2);
		v[TR_BUFHIT] = cell(r, i, 3);
		v[TR_APIHIT] = cell(r, i, 4);
		v[TR_IMPORT] = cell(r, i, 5);
		/* The lag as the live trend keeps it: a standby's seconds, else a primary's
		 * bytes (a window that spans a role change shows the newer kind). */
		v[TR_LAG] = cell(r, i, 6);
		if (isnan(v[TR_LAG]) && !isnan(cell(r, i, 7))) {
			v[TR_LAG] = cell(r, i, 7);
			out->lag_bytes = 1;
		} else if (!isnan(v[TR_LAG]))
			out->lag_bytes = 0;
		v[TR_WAL] = cell(r, i, 8);
		v[TR_BACKUP] = cell(r, i, 9);
		trend_push(out, cell(r, i, 0), v);
	}
	return 0;
}
