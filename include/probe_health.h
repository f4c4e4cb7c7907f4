/* Health, cache and performance probes (read-only; they never print), and the renderers
 * the health family shares between its commands (cache, maintenance, reports) and the
 * `status` sections it adds. */
#ifndef MIDSOPS_PROBE_HEALTH_H
#define MIDSOPS_PROBE_HEALTH_H

#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

#include "out.h"

struct config;

/* ---- The api cache (cache.* tables, sql/020_cache.sql) ---- */
struct cache_snapshot {
	int ok;
	char error[512];
	time_t taken;
	long long hits, misses, expiries, evictions, invalidations, stores;
	long long entries, bytes;
	long long max_entries, max_bytes, ttl_s;
	int generation;
	double hit_rate;       /* % of reads answered from the cache; NAN before any read */
	long long expired_now; /* entries past their TTL, waiting for cache-cleanup */
	long long table_bytes; /* relation size of cache.entries with TOAST and indexes */
};

extern const char probe_cache_stats_sql[];
int probe_cache_stats_parse(PGresult *r, struct cache_snapshot *s);
int probe_cache_stats(PGconn *c, struct cache_snapshot *s);
/* Copy [cache] max_entries, max_bytes and ttl from the config into cache.settings. */
int cache_sync_settings(PGconn *c, const struct config *cfg, char *err, size_t errlen);

/* ---- Database health probes: each is one query, and each fails on its own ---- */
enum health_probe_id {
	HP_BLOAT,	/* dead tuples and bloat estimates per table */
	HP_LONG_TXN,	/* transactions open longer than a minute */
	HP_LOCKS,	/* blocked and blocking sessions (pg_blocking_pids) */
	HP_CONNECTIONS, /* connection use by state and application */
	HP_CHECKPOINTS, /* pg_stat_bgwriter / pg_stat_checkpointer */
	HP_ARCHIVER,	/* pg_stat_archiver */
	HP_COUNT
};

struct health_probe {
	int id;
	int ok;		  /* ran */
	char reason[512]; /* why not, or a caveat when ok (missing privileges) */
	PGresult *res;	  /* rows when ok (caller frees with health_probe_free) */
};

const char *health_probe_name(int id);
/* SQL text for the probe on a server of that version (console: PQsendQuery it). */
const char *health_probe_sql(int id, int server_num);
/* Run one probe; a failure fills reason with the server's message and a hint. */
int health_probe_run(PGconn *c, int id, struct health_probe *p);
void health_probe_free(struct health_probe *p);
/* A probe's rows without libpq (src/probe/probe_health_rows.c): a column by name (-1 when
 * absent), a cell (NULL for SQL NULL, a missing result or column), or its text ("" then). */
int health_probe_nrows(const struct health_probe *p);
int health_probe_ncols(const struct health_probe *p);
const char *health_probe_colname(const struct health_probe *p, int col);
int health_probe_col(const struct health_probe *p, const char *name);
const char *health_probe_cell(const struct health_probe *p, int row, int col);
const char *health_probe_text(const struct health_probe *p, int row, int col);

/* `status`'s cache section: 1 when the cache schema exists (0 also when it cannot be told). */
int probe_cache_created(PGconn *c);
/* `status`'s maintenance section: the worst table's dead tuples (of tables of 1000 rows or
 * more), the oldest vacuum and analyze of the game and builds schemas, vacuums running.
 * Strings are "" for SQL NULL. -1 with error filled when the query fails. */
struct maint_summary {
	int ok;
	char error[512];
	char worst_table[200];
	double worst_dead_pct; /* 0 when there is no such table */
	char oldest_vacuum[32], oldest_analyze[32], vacuums_running[32];
};
int probe_maint_summary(PGconn *c, struct maint_summary *m);

/* Whose statements: the web workload (every role but DB_OWN_ROLE, so also anything run by
 * hand) is what users feel and what checks judge; midsops's own import, backup and
 * maintenance work runs as DB_OWN_ROLE and is listed apart, never judged. */
enum stmt_scope { STMTS_WEB, STMTS_OWN };

/* pg_stat_statements of this database: top statements by mean ("mean"), total ("total")
 * or calls ("calls") whose mean is at least min_mean_ms. ok = 0 with a reason that says
 * how to enable the extension when it is missing. */
int health_statements(PGconn *c, enum stmt_scope scope, const char *order, int limit,
		      double min_mean_ms, struct health_probe *p);
/* The same for the web workload. */
int health_slow_queries(PGconn *c, const char *order, int limit, double min_mean_ms,
			struct health_probe *p);
/* Time-weighted mean of the scope's top-level statements (0 and calls 0 when none). */
int health_statements_mean(PGconn *c, enum stmt_scope scope, double *mean_ms, long long *calls,
			   char *err, size_t errlen);

/* ---- Renderers shared by the commands and the `status` sections ---- */
/* Render a probe: a table of its rows plus judged figures. Returns its status; a probe
 * that could not run renders its reason and is UNKNOWN. */
enum status health_render_probe(struct out *o, const struct config *cfg,
				const struct health_probe *p);
void health_render_cache(struct out *o, const struct config *cfg, const struct cache_snapshot *s,
			 enum status *st);
enum status status_section_cache(struct out *o, const struct config *cfg, PGconn *c);
enum status status_section_maintenance(struct out *o, const struct config *cfg, PGconn *c);

/* ---- Metrics sampling (ops.metrics) ---- */
struct metrics_sample {
	long long xact_total, db_size, dead_tuples;
	int connections, waiting_locks;
	double tps, buffer_hit_pct, cache_hit_pct, query_mean_ms, longest_txn_s, import_rate;
	long long cache_hits, cache_misses, cache_entries, cache_bytes, mem_used;
	/* The trends' last three (NAN when not known): a standby's replay delay, a primary's
	 * largest standby lag in bytes, the last archived WAL's and the last backup's age. */
	double replay_lag_s, replica_lag_bytes, wal_age_s, backup_age_s;
	time_t at;
};
/* Take a sample (prev, when given, turns counters into rates). */
int metrics_sample_take(PGconn *c, const struct config *cfg, const struct metrics_sample *prev,
			struct metrics_sample *m, char *err, size_t errlen);

#endif
