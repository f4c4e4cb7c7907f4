/* One sample of the figures perf-monitor, collect and metrics --prom report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "probe.h"
#include "probe_health.h"

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
	char e2[256];
	char *v = db_scalar(
	    c, e2, sizeof e2,
	    "select case when exists (select 1 from pg_extension"
	    " where extname = 'pg_stat_statements') then"
	    " (select sum(total_exec_time) / nullif(sum(calls), 0) from pg_stat_statements"
	    "  where dbid = (select oid from pg_database where datname = current_database()))"
	    " end",
	    0, NULL);
	if (v) {
		m->query_mean_ms = strtod(v, NULL);
		free(v);
	}
	v = db_scalar(c, e2, sizeof e2,
		      "select rate from ops.import_runs where rate is not null"
		      " order by started_at desc limit 1",
		      0, NULL);
	if (v) {
		m->import_rate = strtod(v, NULL);
		free(v);
	}
	probe_system(cfg, &sys);
	m->mem_used = (long long)(sys.mem_total - sys.mem_avail);
	return 0;
}
