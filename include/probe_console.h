/* Snapshots of the console's panes besides database health: import progress, cache
 * statistics, recent errors, and the health pane's extras (backups, WAL archiving, which
 * optional tables exist). Like probe.h, each is one SQL text plus a parser, so the
 * console sends the text asynchronously and the CLI could run it synchronously.
 * Every query is defensive: tables another family creates are looked up with
 * to_regclass, and the parsers accept their absence. */
#ifndef MIDSOPS_PROBE_CONSOLE_H
#define MIDSOPS_PROBE_CONSOLE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

#define PROBE_SPARK	 24 /* rates of recent import runs */
#define PROBE_RUN_IDS	 20 /* recent run ids, for completion */
#define PROBE_BACKUP_IDS 20
#define PROBE_ERRORS	 50
#define PROBE_CACHE_DBS	 8

/* Appended to the database probe's row, so the health pane stays one round trip. */
struct health_extra {
	int backups_present; /* ops.backups exists */
	double backup_age_s; /* NAN: no finished backup */
	double wal_age_s;    /* NAN: nothing archived yet */
	long long wal_archived, wal_failed;
	int nbackup_ids;
	char backup_ids[PROBE_BACKUP_IDS][64];
	/* Which optional relations exist, so the other panes pick their query. */
	int has_import_runs, has_import_errors, has_events, has_cache;
	/* Replication: commits waiting for a synchronous standby (the oldest's seconds), the
	 * settings dr-sync-guard changes, and the inactive slot holding the most WAL. */
	int sync_waiters;
	double sync_wait_s;
	char sync_names[128], fallback_names[128];
	char slot[64], slot_wal_status[16];
	long long slot_bytes; /* -1: none or unknown */
	/* The open incident (ops.incidents), incident_id 0 when none: its age and its
	 * severity's response time in seconds, whether anyone has responded (a note). */
	long long incident_id;
	char incident_severity[4];
	double incident_age_s, incident_respond_s;
	int incident_responded;
	char incident_title[128];
};

/* The database probe with the extras: columns 0..18 are probe_db_sql's. */
const char *probe_health_sql(void);
/* with_size 0: the database size column is NULL (pg_database_size is the costly part). */
const char *probe_health_sql_variant(int with_size);
int probe_health_parse(PGresult *r, struct health_extra *x);

struct import_snapshot {
	int ok;
	char error[256];
	time_t taken;
	int present; /* ops.import_runs exists */
	int has_run;
	long long id;
	char kind[16], state[32], phase[32];
	char source_dir[256], message[256];
	long long files_done, files_total, bytes_done, bytes_total, records_done, records_total;
	double rate, eta_s; /* NAN when unknown */
	long long errors, warnings;
	long long generation;	       /* -1: none */
	double started, finished, now; /* epoch seconds; finished 0 while running */
	int nrates;
	double rates[PROBE_SPARK]; /* oldest first */
	int nids;
	long long ids[PROBE_RUN_IDS]; /* newest first */
};

/* present == 0 selects the query that only asks whether the table exists. */
const char *probe_import_sql(int present);
int probe_import_parse(PGresult *r, struct import_snapshot *s);
/* The newest 100 import run ids, each passed to fn, for a Tab: its own connection that gives
 * up after two seconds, and nothing at all (not even a line in the server's log) before
 * ops.import_runs exists or when the server cannot be reached. */
void probe_import_recent_ids(const char *conninfo, void (*fn)(const char *id, void *arg),
			     void *arg);

struct console_cache_snapshot {
	int ok;
	char error[256];
	time_t taken;
	int installed; /* cache.entries exists */
	long long entries, bytes, hits, misses, expiries, evictions;
	long long expired_now; /* entries past their expiry, not yet cleaned */
	double hit_rate;       /* %, NAN when no reads */
	int ndb;
	struct {
		char name[64];
		double hit; /* %, NAN when no reads */
		long long blocks;
	} db[PROBE_CACHE_DBS];
	int ntables;
	struct {
		char name[128];
		double hit;
		long long blocks;
	} tables[5];
};

const char *probe_console_cache_sql(void);
int probe_console_cache_parse(PGresult *r, struct console_cache_snapshot *s);

struct error_item {
	char source[16]; /* "import" or the ops.events source */
	char kind[8];	 /* "import" or "event" */
	long long id;
	double at; /* epoch */
	char level[16];
	char path[256], json_path[256], code[64];
	char message[1024];
	long long run_id; /* 0: none */
};

struct errors_snapshot {
	int ok;
	char error[256];
	time_t taken;
	int present; /* ops.events or ops.import_errors exists */
	int n;
	struct error_item items[PROBE_ERRORS]; /* newest first */
};

const char *probe_errors_sql(int have_events, int have_import_errors);
int probe_errors_parse(PGresult *r, struct errors_snapshot *s);

#endif
