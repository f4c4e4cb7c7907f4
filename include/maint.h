/* The maintenance engines: the SQL and libpq work behind the cache, report and
 * maintenance command families (src/maint/). Each function takes an open connection (the
 * command's ctx->db, which cmd_run opened), fills plain C structs and never prints; the
 * commands parse options, call these and render. A function that fails returns -1 and
 * fills a struct db_error: the SQLSTATE to decide by, the server's message to show. */
#ifndef MIDSOPS_MAINT_H
#define MIDSOPS_MAINT_H

#include <stddef.h>
#include <time.h>

#include "db.h"
#include "probe_health.h"

struct config;
struct target;

/* ---- Rows: a result copied out of libpq ---- */
struct maint_rows {
	int ncols, nrows;
	char **names; /* ncols column names */
	char **cells; /* nrows * ncols values, NULL for SQL NULL */
};
/* The cell, or NULL when it is SQL NULL or out of range. */
const char *maint_cell(const struct maint_rows *r, int row, int col);
/* The cell as a number: 1 and *v set, or 0 when NULL or out of range. */
int maint_num(const struct maint_rows *r, int row, int col, double *v);
void maint_rows_free(struct maint_rows *r);
/* Run a statement with text parameters and copy its rows; -1 with e filled. */
int maint_rows_query(PGconn *c, struct maint_rows *r, struct db_error *e, const char *sql,
		     int nparams, const char *const *params);
/* The same with one whole-number parameter ($1): a limit, a run id, a number of seconds. */
int maint_rows_query_num(PGconn *c, struct maint_rows *r, struct db_error *e, const char *sql,
			 long long v);

/* pg_stat_statements through health_statements, copied into rows. ok = 0 when the view
 * cannot be read, with the reason (how to enable it); ok with a reason is a caveat. */
struct maint_stmts {
	int ok;
	char reason[512];
	struct maint_rows rows; /* health_statements' columns; column 3 is the mean in ms */
};
int maint_statements(PGconn *c, enum stmt_scope scope, const char *order, int limit,
		     double min_mean_ms, struct maint_stmts *s);
void maint_stmts_free(struct maint_stmts *s);

/* An ops.events entry (db_event: the journal, never failing its caller). */
void maint_journal(PGconn *c, const char *level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- The api cache (maint_cache.c) ---- */
/* Fold the per-backend counters into cache.counters. */
int maint_cache_fold(PGconn *c, struct db_error *e);
/* cache-analyze: by prefix, top keys (top rows), size distribution. */
struct cache_analysis {
	struct maint_rows by_prefix, top_keys, sizes;
};
int maint_cache_analyze(PGconn *c, long top, struct cache_analysis *a, struct db_error *e);
void maint_cache_analysis_free(struct cache_analysis *a);
/* cache.cleanup() then cache.evict() and a fold: entries removed and evicted. The evict
 * and fold may fail on their own (evicted "" then): the cleanup is what was asked. */
struct cache_cleanup {
	char removed[32], evicted[32];
	struct db_error evict_error;
};
int maint_cache_cleanup(PGconn *c, struct cache_cleanup *r, struct db_error *e);
/* cache.clear(): entries dropped. */
int maint_cache_clear(PGconn *c, char *dropped, size_t n, struct db_error *e);
/* The cache tables' indexes (name, bytes), and a concurrent reindex of one table. */
extern const char *const maint_cache_tables[3];
int maint_cache_index_sizes(PGconn *c, struct maint_rows *r, struct db_error *e);
int maint_reindex(PGconn *c, const char *table, struct db_error *e);
/* cache.warm(powers): entries warmed. */
int maint_cache_warm(PGconn *c, long powers, char *warmed, size_t n, struct db_error *e);

/* ---- Vacuum and analyze (maint_db.c) ---- */
enum maint_kind { MK_VACUUM, MK_VACUUM_FULL, MK_ANALYZE, MK_VACUUM_ANALYZE };

struct table_fig {
	char name[256];
	long long dead, live, size, mod_since_analyze;
	char last_vacuum[32], last_analyze[32];
};
/* The named tables as regclass text (a wrong name is an error before any work), or with
 * none the user tables of midsops's schemas (only_needed: those whose dead tuples pass
 * dead_pct or whose statistics are stale), largest first. */
int maint_pick_tables(PGconn *c, char *const *names, int nnames, int only_needed, double dead_pct,
		      struct maint_rows *r, struct db_error *e);
int maint_table_figures(PGconn *c, const char *table, struct table_fig *f, struct db_error *e);
/* pg_database_size of the current database; -1 when it cannot be read. */
long long maint_db_size(PGconn *c);
/* A second connection to watch the progress views from (NULL: progress not shown). */
PGconn *maint_monitor_connect(const struct target *t, const char *app);
void maint_monitor_close(PGconn *mon);
/* Run the kind's statement on one table from c; progress(arg, done, total, phase) as the
 * server's progress view reports it from mon. */
typedef void (*maint_progress_fn)(void *arg, double done, double total, const char *phase);
int maint_table_run(PGconn *c, PGconn *mon, enum maint_kind k, const char *table,
		    maint_progress_fn progress, void *arg, struct db_error *e);

/* ---- validate-all-data (maint_validate.c) ---- */
enum vcheck_sev { VCHECK_ERROR, VCHECK_WARNING, VCHECK_INFO };
struct vcheck {
	const char *name;
	enum vcheck_sev sev;
	const char *rows; /* one text column d per offending row */
};
extern const struct vcheck maint_vchecks[];
/* One check: how many rows offend, and up to 5 of them joined by "; " (NULL if none). */
int maint_vcheck_run(PGconn *c, const struct vcheck *v, long long *count, char **examples,
		     struct db_error *e);
/* Per kind, what the import summaries say a game table holds, and what it holds. */
struct count_row {
	char kind[64], table[64];
	long long expected, now; /* now -1 when it could not be counted */
};
/* Returns the rows compared (*rows malloc'ed), or -1 with e. */
int maint_import_counts(PGconn *c, struct count_row **rows, struct db_error *e);
/* pg_amcheck over game, builds and ops. */
enum amcheck_result { AMCHECK_CLEAN, AMCHECK_CORRUPT, AMCHECK_FAILED, AMCHECK_SKIPPED };
struct amcheck {
	enum amcheck_result result;
	int exit_status;
	char reason[1200]; /* why skipped */
	char *output;	   /* what it printed (malloc'ed; may be NULL) */
};
void maint_amcheck(PGconn *c, const struct target *t, struct amcheck *a);

/* ---- Reports (maint_report.c) ---- */
struct last_import {
	char id[32], state[32], started[32], errors[32];
};
/* 1 found, 0 none yet, -1 with e. */
int maint_last_import(PGconn *c, struct last_import *li, struct db_error *e);
/* The rate of the last completed import: 1 found, 0 none, -1 with e. */
int maint_last_import_rate(PGconn *c, double *rate, struct db_error *e);

#define WEEKLY_CHARTS 5
struct weekly {
	char from[16], to[16];
	struct maint_rows imports, runs, errors, backups, growth, tables, incidents;
	int has_backups; /* the backup catalogue exists */
	struct maint_rows charts[WEEKLY_CHARTS];
	int failed;		     /* sections that could not be read (shown empty) */
	struct db_error first_error; /* the first of them */
};
extern const struct weekly_chart {
	const char *title, *unit;
} maint_weekly_charts[WEEKLY_CHARTS];
void maint_weekly(PGconn *c, struct weekly *w);
void maint_weekly_free(struct weekly *w);

/* The previous stored sample (for rates): 0, or -1 when there is none. */
int maint_metrics_last(PGconn *c, struct metrics_sample *m);
/* Store a sample in ops.metrics and drop those older than keep_s. */
int maint_metrics_store(PGconn *c, const struct metrics_sample *m, long keep_s, struct db_error *e);

/* ---- perf-test (maint_perf.c) ---- */
enum { PERF_POWER, PERF_POWERSET, PERF_SET, PERF_SEARCH, PERF_COUNT };
extern const char *const maint_perf_kinds[PERF_COUNT];
struct perf_lat {
	double *v; /* sorted after maint_perf_run */
	size_t n, cap;
};
struct perf_result {
	struct perf_lat all, per[PERF_COUNT];
	long errors;
	double elapsed;
};
/* Drive the api functions from nclients connections for duration seconds with a Zipf mix
 * (hot items first). progress(arg, elapsed, duration) after each poll when given. */
int maint_perf_run(PGconn *c, const struct target *t, long nclients, long duration, long seed,
		   void (*progress)(void *arg, double done, double total), void *arg,
		   struct perf_result *r, struct db_error *e);
void maint_perf_free(struct perf_result *r);

#endif
