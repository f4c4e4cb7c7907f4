/* Read-only collectors. Each fills a plain snapshot struct and never prints. A database
 * probe is one SQL text plus a parser, so the CLI runs it synchronously and the console
 * sends the same text with PQsendQuery and parses the result when it arrives. */
#ifndef MIDSOPS_PROBE_H
#define MIDSOPS_PROBE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

#include "out.h"

struct config;

#define PROBE_TOP 5

struct db_snapshot {
	int ok;		 /* the probe ran */
	char error[512]; /* why not, when !ok */
	time_t taken;
	char version[64];
	int server_num; /* server_version_num */
	double uptime_s;
	long long db_size;
	int connections, max_connections;
	double hit_ratio;     /* % of buffer-cache hits, NAN when no reads yet */
	long long xact_total; /* commits + rollbacks, for TPS between two snapshots */
	double tps;	      /* filled by probe_db_rate from two snapshots */
	long long dead_tuples, live_tuples;
	struct {
		char name[128];
		long long dead, live;
	} dead_top[PROBE_TOP];
	int ndead_top;
	double longest_txn_s;
	int longest_txn_pid;
	char longest_txn_query[256];
	int waiting_locks;
	int in_recovery;
	double replay_lag_s; /* standby only; NAN otherwise */
	int nreplicas;
	long long max_replica_lag_bytes;
};

extern const char probe_db_sql[];
int probe_db_parse(PGresult *r, struct db_snapshot *s);
/* Run the probe synchronously. */
int probe_db(PGconn *c, struct db_snapshot *s);
/* TPS from the previous snapshot. */
void probe_db_rate(struct db_snapshot *now, const struct db_snapshot *prev);

/* Judged figures of a snapshot (db-check, status, the console header). */
struct db_judgement {
	enum status overall, conn, hit, dead, txn, locks;
	double conn_pct, dead_pct;
};
void probe_db_judge(const struct db_snapshot *s, const struct config *cfg, struct db_judgement *j);

struct fs_usage {
	char label[32];
	char path[4096];
	int ok;
	unsigned long long total, avail;
	double free_pct;
};

#define PROBE_MAX_FS 4

struct sys_snapshot {
	double load1, load5, load15;
	int ncpu;
	unsigned long long mem_total, mem_avail, swap_total, swap_free; /* bytes */
	unsigned long long self_rss;
	int nfs;
	struct fs_usage fs[PROBE_MAX_FS];
};

/* Reads /proc and statvfs: the data, backup and log directories of cfg. */
int probe_system(const struct config *cfg, struct sys_snapshot *s);
/* The CPU time of all CPUs from /proc/stat, in ticks: busy (neither idle nor iowait) and in
 * all; a share needs two samples. -1 when it cannot be read. */
int probe_cpu_ticks(unsigned long long *busy, unsigned long long *total);

/* The figures of `metrics` (src/probe/probe_metrics.c). Counters are the server's own
 * running totals, not rates: the scraper computes rates and sees resets. Every figure is a
 * double so that NAN can say "unknown" (not applicable, not readable, never happened);
 * an unknown figure is left out of the exposition rather than written as NaN. */
#define PROBE_MAX_REPLICAS     8
#define PROBE_MAX_BACKUP_TYPES 8

struct metrics_snapshot {
	int up;		 /* the database answered the core query */
	char error[512]; /* why not, when !up */
	char warn[1024]; /* optional figures that failed although up ("; "-separated) */
	char datname[128], server_version[64];
	/* server */
	double start_time, in_recovery, connections, max_connections, waiting_locks, longest_txn_s;
	/* the target database (pg_stat_database, pg_stat_user_tables) */
	double db_size, backends, xact_commit, xact_rollback, blks_hit, blks_read, deadlocks,
	    temp_bytes, dead_tuples, live_tuples;
	/* pg_stat_statements, this database only */
	double stmt_calls, stmt_seconds;
	/* replication: a primary's replicas, or this standby's own replay lag */
	int nreplicas, nreplica_rows;
	struct {
		char name[128];
		double lag_bytes, lag_seconds;
	} replica[PROBE_MAX_REPLICAS];
	double standby_lag_bytes, standby_lag_seconds;
	/* pg_stat_archiver */
	double wal_archived, wal_failed, wal_last_archived;
	/* ops.import_runs_seen (kind import): a run whose process died is interrupted */
	double import_records, import_completed, import_failed, import_running, import_stopped,
	    import_interrupted, import_last_success, import_last_duration, import_last_rate;
	/* ops.backups, the newest complete backup of each type */
	int nbackup_types;
	struct {
		char type[32];
		double last_success, last_size;
	} backup[PROBE_MAX_BACKUP_TYPES];
	/* the api cache (cache.counters, cache.settings) */
	double cache_hits, cache_misses, cache_evictions, cache_entries, cache_bytes,
	    cache_max_entries, cache_max_bytes;
};

/* Read-only: runs selects only, on a connection the caller opened. A missing schema or
 * extension leaves its figures unknown without a warning; other failures of optional
 * figures are noted in warn. Returns 0 when up, -1 otherwise. */
int probe_metrics(PGconn *c, struct metrics_snapshot *s);
/* A whole scrape on its own connection ("metrics"): the figures, and when the server is up
 * its replication slots (*have_repl 1, or 0 with the reason in s->warn when the figures
 * left it empty). A session it cannot hold to a 10 s statement timeout and read-only
 * transactions is not scraped (s->up 0, the reason in s->error). */
struct target;
struct repl_health;
void probe_metrics_scrape(const struct target *t, struct metrics_snapshot *s, struct repl_health *h,
			  int *have_repl);

#endif
