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
	int ok;		  /* the probe ran */
	char error[512];  /* why not, when !ok */
	time_t taken;
	char version[64];
	int server_num;	  /* server_version_num */
	double uptime_s;
	long long db_size;
	int connections, max_connections;
	double hit_ratio; /* % of buffer-cache hits, NAN when no reads yet */
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
void probe_db_judge(const struct db_snapshot *s, const struct config *cfg,
		    struct db_judgement *j);

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

/* Human-readable sizes and durations for text output. */
void fmt_bytes(char *buf, size_t n, double bytes);
void fmt_duration(char *buf, size_t n, double seconds);

#endif
