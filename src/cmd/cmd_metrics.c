/* The metrics family: `metrics`, the current figures, as a table or (--prom) in the
 * Prometheus text exposition format that `promtool check metrics` accepts.
 *
 * It observes only: it never starts, stops or migrates the cluster, and a target that
 * does not answer is reported as midsops_up 0 in an exposition that is still valid, so a
 * scraper (node_exporter's textfile collector, a script behind an HTTP endpoint) records
 * the outage instead of a failed scrape. Counters are the server's own running totals;
 * Prometheus computes rates, so nothing here needs a previous sample. What is the host's
 * (memory, load, file systems) is node_exporter's and is not repeated here. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "probe.h"
#include "probe_dr.h"
#include "target.h"
#include "version.h"

enum metric_id {
	M_UP,
	M_BUILD_INFO,
	M_POSTGRES_INFO,
	M_START_TIME,
	M_IN_RECOVERY,
	M_CONNECTIONS,
	M_CONNECTIONS_MAX,
	M_LOCKS_WAITING,
	M_LONGEST_TXN,
	M_DB_SIZE,
	M_DB_BACKENDS,
	M_DB_COMMITS,
	M_DB_ROLLBACKS,
	M_DB_BLKS_HIT,
	M_DB_BLKS_READ,
	M_DB_HIT_RATIO,
	M_DB_DEADLOCKS,
	M_DB_TEMP_BYTES,
	M_DB_DEAD_TUPLES,
	M_DB_LIVE_TUPLES,
	M_STMT_CALLS,
	M_STMT_SECONDS,
	M_REPLICAS,
	M_REPL_LAG_BYTES,
	M_REPL_LAG_SECONDS,
	M_SLOT_RETAINED,
	M_SLOT_ACTIVE,
	M_SLOT_SAFE_WAL,
	M_SYNC_WAITING,
	M_SYNC_OLDEST_WAIT,
	M_SYNC_FALLBACK,
	M_WAL_ARCHIVED,
	M_WAL_FAILED,
	M_WAL_LAST_ARCHIVED,
	M_IMPORT_RECORDS,
	M_IMPORT_RUNS,
	M_IMPORT_UNFINISHED,
	M_IMPORT_LAST_SUCCESS,
	M_IMPORT_LAST_DURATION,
	M_IMPORT_LAST_RATE,
	M_BACKUP_LAST_SUCCESS,
	M_BACKUP_LAST_SIZE,
	M_CACHE_HITS,
	M_CACHE_MISSES,
	M_CACHE_EVICTIONS,
	M_CACHE_HIT_RATIO,
	M_CACHE_ENTRIES,
	M_CACHE_BYTES,
	M_CACHE_MAX_ENTRIES,
	M_CACHE_MAX_BYTES,
	M_COUNT
};

struct metric_family {
	const char *name, *type, *help;
};

/* Names carry their base unit (_seconds, _bytes, _ratio 0..1) and counters end in _total,
 * as promtool's lint wants; midsops.1 (METRICS) lists the same set. */
static const struct metric_family metric_families[M_COUNT] = {
    [M_UP] = {.name = "midsops_up",
	      .type = "gauge",
	      .help = "1 when the database answered, 0 when it did not"},
    [M_BUILD_INFO] = {.name = "midsops_build_info",
		      .type = "gauge",
		      .help = "The midsops build, always 1"},
    [M_POSTGRES_INFO] = {.name = "midsops_postgres_info",
			 .type = "gauge",
			 .help = "The PostgreSQL server version, always 1"},
    [M_START_TIME] = {.name = "midsops_postmaster_start_time_seconds",
		      .type = "gauge",
		      .help = "When the server started, seconds since the epoch"},
    [M_IN_RECOVERY] = {.name = "midsops_in_recovery",
		       .type = "gauge",
		       .help = "1 on a standby (or a server restoring), 0 on a primary"},
    [M_CONNECTIONS] = {.name = "midsops_connections",
		       .type = "gauge",
		       .help = "Client connections to the server"},
    [M_CONNECTIONS_MAX] = {.name = "midsops_connections_max",
			   .type = "gauge",
			   .help = "The server's max_connections"},
    [M_LOCKS_WAITING] = {.name = "midsops_locks_waiting",
			 .type = "gauge",
			 .help = "Lock requests not granted"},
    [M_LONGEST_TXN] = {.name = "midsops_longest_transaction_seconds",
		       .type = "gauge",
		       .help = "Age of the oldest open client transaction, 0 when none"},
    [M_DB_SIZE] = {.name = "midsops_database_size_bytes",
		   .type = "gauge",
		   .help = "Size of the database"},
    [M_DB_BACKENDS] = {.name = "midsops_database_backends",
		       .type = "gauge",
		       .help = "Connections to the database"},
    [M_DB_COMMITS] = {.name = "midsops_database_xact_commits_total",
		      .type = "counter",
		      .help = "Transactions committed in the database"},
    [M_DB_ROLLBACKS] = {.name = "midsops_database_xact_rollbacks_total",
			.type = "counter",
			.help = "Transactions rolled back in the database"},
    [M_DB_BLKS_HIT] = {.name = "midsops_database_blocks_hit_total",
		       .type = "counter",
		       .help = "Block reads found in PostgreSQL's buffer cache"},
    [M_DB_BLKS_READ] = {.name = "midsops_database_blocks_read_total",
			.type = "counter",
			.help = "Block reads that missed PostgreSQL's buffer cache"},
    [M_DB_HIT_RATIO] = {.name = "midsops_database_buffer_hit_ratio",
			.type = "gauge",
			.help =
			    "Buffer cache hits over all block reads since the statistics reset"},
    [M_DB_DEADLOCKS] = {.name = "midsops_database_deadlocks_total",
			.type = "counter",
			.help = "Deadlocks detected"},
    [M_DB_TEMP_BYTES] = {.name = "midsops_database_temp_bytes_total",
			 .type = "counter",
			 .help = "Bytes written to temporary files by queries"},
    [M_DB_DEAD_TUPLES] = {.name = "midsops_database_dead_tuples",
			  .type = "gauge",
			  .help = "Dead rows in user tables, waiting for vacuum"},
    [M_DB_LIVE_TUPLES] = {.name = "midsops_database_live_tuples",
			  .type = "gauge",
			  .help = "Live rows in user tables"},
    [M_STMT_CALLS] = {.name = "midsops_statements_total",
		      .type = "counter",
		      .help = "Statements executed in the database (pg_stat_statements)"},
    [M_STMT_SECONDS] = {.name = "midsops_statements_seconds_total",
			.type = "counter",
			.help = "Execution time of those statements (pg_stat_statements)"},
    [M_REPLICAS] = {.name = "midsops_replicas",
		    .type = "gauge",
		    .help = "Streaming replicas connected to this primary"},
    [M_REPL_LAG_BYTES] =
	{.name = "midsops_replication_lag_bytes",
	 .type = "gauge",
	 .help = "WAL not yet replayed: per replica on a primary, its own on a standby"},
    [M_REPL_LAG_SECONDS] = {.name = "midsops_replication_lag_seconds",
			    .type = "gauge",
			    .help = "Replay delay: per replica on a primary, its own on a standby"},
    [M_SLOT_RETAINED] = {.name = "midsops_replication_slot_retained_bytes",
			 .type = "gauge",
			 .help = "WAL a replication slot keeps on the primary (current position - "
				 "restart_lsn)"},
    [M_SLOT_ACTIVE] = {.name = "midsops_replication_slot_active",
		       .type = "gauge",
		       .help = "1 while a standby or client uses the slot, 0 when it is abandoned"},
    [M_SLOT_SAFE_WAL] = {.name = "midsops_replication_slot_safe_wal_bytes",
			 .type = "gauge",
			 .help = "WAL that can still be written before the slot loses its WAL "
				 "(absent when max_slot_wal_keep_size is unlimited)"},
    [M_SYNC_WAITING] = {.name = "midsops_sync_waiting_commits",
			.type = "gauge",
			.help = "Commits waiting for a synchronous standby (wait_event SyncRep)"},
    [M_SYNC_OLDEST_WAIT] = {.name = "midsops_sync_oldest_wait_seconds",
			    .type = "gauge",
			    .help = "How long the oldest commit has waited for a synchronous "
				    "standby, 0 when none waits"},
    [M_SYNC_FALLBACK] = {.name = "midsops_sync_fallback_active",
			 .type = "gauge",
			 .help = "1 while dr-sync-guard holds the primary asynchronous because its "
				 "synchronous standby is gone"},
    [M_WAL_ARCHIVED] = {.name = "midsops_wal_archived_total",
			.type = "counter",
			.help = "WAL files archived"},
    [M_WAL_FAILED] = {.name = "midsops_wal_archive_failed_total",
		      .type = "counter",
		      .help = "Failed attempts to archive a WAL file"},
    [M_WAL_LAST_ARCHIVED] = {.name = "midsops_wal_last_archived_timestamp_seconds",
			     .type = "gauge",
			     .help =
				 "When the last WAL file was archived, seconds since the epoch"},
    [M_IMPORT_RECORDS] = {.name = "midsops_import_records_total",
			  .type = "counter",
			  .help = "Records processed by imports (rises while one runs)"},
    [M_IMPORT_RUNS] = {.name = "midsops_import_runs_total",
		       .type = "counter",
		       .help = "Imports that ended, by their final state (completed, failed)"},
    [M_IMPORT_UNFINISHED] =
	{.name = "midsops_import_unfinished_runs",
	 .type = "gauge",
	 .help = "Imports not ended: running, stopped, or interrupted (their process "
		 "died; import-resume finishes them)"},
    [M_IMPORT_LAST_SUCCESS] =
	{.name = "midsops_import_last_success_timestamp_seconds",
	 .type = "gauge",
	 .help = "When the last completed import finished, seconds since the epoch"},
    [M_IMPORT_LAST_DURATION] = {.name = "midsops_import_last_duration_seconds",
				.type = "gauge",
				.help = "How long the last completed import took"},
    [M_IMPORT_LAST_RATE] = {.name = "midsops_import_last_rate_records_per_second",
			    .type = "gauge",
			    .help = "Mean speed of the last completed import"},
    [M_BACKUP_LAST_SUCCESS] = {.name = "midsops_backup_last_success_timestamp_seconds",
			       .type = "gauge",
			       .help = "When the newest complete backup of a type finished"},
    [M_BACKUP_LAST_SIZE] = {.name = "midsops_backup_last_size_bytes",
			    .type = "gauge",
			    .help = "Size of the newest complete backup of a type"},
    [M_CACHE_HITS] = {.name = "midsops_cache_hits_total",
		      .type = "counter",
		      .help = "API cache reads answered from it"},
    [M_CACHE_MISSES] = {.name = "midsops_cache_misses_total",
			.type = "counter",
			.help = "API cache reads it missed"},
    [M_CACHE_EVICTIONS] = {.name = "midsops_cache_evictions_total",
			   .type = "counter",
			   .help = "API cache entries evicted for room"},
    [M_CACHE_HIT_RATIO] = {.name = "midsops_cache_hit_ratio",
			   .type = "gauge",
			   .help = "API cache hits over all reads since its counters were reset"},
    [M_CACHE_ENTRIES] = {.name = "midsops_cache_entries",
			 .type = "gauge",
			 .help = "API cache entries"},
    [M_CACHE_BYTES] = {.name = "midsops_cache_size_bytes",
		       .type = "gauge",
		       .help = "Size of the API cache's values"},
    [M_CACHE_MAX_ENTRIES] = {.name = "midsops_cache_max_entries",
			     .type = "gauge",
			     .help = "The API cache's entry limit"},
    [M_CACHE_MAX_BYTES] = {.name = "midsops_cache_max_bytes",
			   .type = "gauge",
			   .help = "The API cache's size limit"},
};

/* Where the samples go: the exposition, or a table (text and --json). */
struct metrics_out {
	struct out *o;
	int prom;
	int last; /* the family whose HELP and TYPE were written last */
};

/* Label values may hold anything a name can (an application_name, a database name):
 * the exposition format escapes backslash, double quote and newline. */
static void prom_escape(char *dst, size_t n, const char *s)
{
	size_t o = 0;
	for (; *s && o + 2 < n; s++) {
		if (*s == '\\' || *s == '"') {
			dst[o++] = '\\';
			dst[o++] = *s;
		} else if (*s == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else
			dst[o++] = *s;
	}
	dst[o] = 0;
}

/* name="value" pairs from NULL-terminated (name, value) arguments. */
static void metrics_labels(char *buf, size_t n, ...)
{
	va_list ap;
	size_t o = 0;
	buf[0] = 0;
	va_start(ap, n);
	for (const char *k; (k = va_arg(ap, const char *)) && o < n;) {
		const char *v = va_arg(ap, const char *);
		char esc[512];
		prom_escape(esc, sizeof esc, v ? v : "");
		int w = snprintf(buf + o, n - o, "%s%s=\"%s\"", o ? "," : "", k, esc);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	va_end(ap);
}

/* Shortest text that reads back as the same double: counters stay whole numbers and
 * ratios do not show binary noise. */
static void metrics_number(char *buf, size_t n, double v)
{
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, n, "%.0f", v);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
}

/* An unknown (NAN) figure is left out: promtool and alert rules handle an absent series,
 * and a NaN sample would only read as a value. */
static void metrics_put(struct metrics_out *m, enum metric_id id, const char *labels, double v)
{
	if (!isfinite(v))
		return;
	const struct metric_family *f = &metric_families[id];
	char num[64];
	metrics_number(num, sizeof num, v);
	if (!m->prom) {
		out_rowf(m->o, f->name, labels, num);
		return;
	}
	if (m->last != (int)id) {
		out_line(m->o, "# HELP %s %s", f->name, f->help);
		out_line(m->o, "# TYPE %s %s", f->name, f->type);
		m->last = (int)id;
	}
	out_line(m->o, "%s{%s} %s", f->name, labels, num);
}

static double ratio(double part, double whole)
{
	return whole > 0 ? part / whole : NAN;
}

static void metrics_write_repl(struct metrics_out *m, const char *env, const struct repl_health *h)
{
	char l0[1024], l[1024];
	metrics_labels(l0, sizeof l0, "env", env, NULL);
	for (int id = M_SLOT_RETAINED; id <= M_SLOT_SAFE_WAL; id++)
		for (int i = 0; i < h->nslots; i++) {
			const struct repl_slot *sl = &h->slots[i];
			metrics_labels(l, sizeof l, "env", env, "slot", sl->name, NULL);
			double v = id == M_SLOT_ACTIVE ? sl->active
				   : id == M_SLOT_RETAINED
				       ? (sl->retained_bytes < 0 ? NAN : (double)sl->retained_bytes)
				   : sl->safe_wal_size < 0 ? NAN
							   : (double)sl->safe_wal_size;
			metrics_put(m, (enum metric_id)id, l, v);
		}
	metrics_put(m, M_SYNC_WAITING, l0, h->sync_waiters);
	metrics_put(m, M_SYNC_OLDEST_WAIT, l0, h->sync_wait_s);
	metrics_put(m, M_SYNC_FALLBACK, l0, h->fallback_names[0] && !h->sync_names[0]);
}

static void metrics_write(struct metrics_out *m, const char *env, const struct metrics_snapshot *s,
			  const struct repl_health *h)
{
	char l0[1024], l1[1024], l[1024];
	metrics_labels(l0, sizeof l0, "env", env, NULL);
	metrics_labels(l1, sizeof l1, "env", env, "datname", s->datname, NULL);

	metrics_put(m, M_UP, l0, s->up);
	if (*midsops_git_desc)
		metrics_labels(l, sizeof l, "env", env, "version", MIDSOPS_VERSION, "revision",
			       midsops_git_desc, NULL);
	else
		metrics_labels(l, sizeof l, "env", env, "version", MIDSOPS_VERSION, NULL);
	metrics_put(m, M_BUILD_INFO, l, 1);
	if (!s->up)
		return;

	metrics_labels(l, sizeof l, "env", env, "version", s->server_version, NULL);
	metrics_put(m, M_POSTGRES_INFO, l, 1);
	metrics_put(m, M_START_TIME, l0, s->start_time);
	metrics_put(m, M_IN_RECOVERY, l0, s->in_recovery);
	metrics_put(m, M_CONNECTIONS, l0, s->connections);
	metrics_put(m, M_CONNECTIONS_MAX, l0, s->max_connections);
	metrics_put(m, M_LOCKS_WAITING, l0, s->waiting_locks);
	metrics_put(m, M_LONGEST_TXN, l0, s->longest_txn_s);

	metrics_put(m, M_DB_SIZE, l1, s->db_size);
	metrics_put(m, M_DB_BACKENDS, l1, s->backends);
	metrics_put(m, M_DB_COMMITS, l1, s->xact_commit);
	metrics_put(m, M_DB_ROLLBACKS, l1, s->xact_rollback);
	metrics_put(m, M_DB_BLKS_HIT, l1, s->blks_hit);
	metrics_put(m, M_DB_BLKS_READ, l1, s->blks_read);
	metrics_put(m, M_DB_HIT_RATIO, l1, ratio(s->blks_hit, s->blks_hit + s->blks_read));
	metrics_put(m, M_DB_DEADLOCKS, l1, s->deadlocks);
	metrics_put(m, M_DB_TEMP_BYTES, l1, s->temp_bytes);
	metrics_put(m, M_DB_DEAD_TUPLES, l1, s->dead_tuples);
	metrics_put(m, M_DB_LIVE_TUPLES, l1, s->live_tuples);
	metrics_put(m, M_STMT_CALLS, l1, s->stmt_calls);
	metrics_put(m, M_STMT_SECONDS, l1, s->stmt_seconds);

	/* A standby reports its own lag (one sample, no replica label); a primary one
	 * sample per replica. */
	if (s->in_recovery == 0)
		metrics_put(m, M_REPLICAS, l0, s->nreplicas);
	metrics_put(m, M_REPL_LAG_BYTES, l0, s->standby_lag_bytes);
	for (int i = 0; i < s->nreplica_rows; i++) {
		metrics_labels(l, sizeof l, "env", env, "replica", s->replica[i].name, NULL);
		metrics_put(m, M_REPL_LAG_BYTES, l, s->replica[i].lag_bytes);
	}
	metrics_put(m, M_REPL_LAG_SECONDS, l0, s->standby_lag_seconds);
	for (int i = 0; i < s->nreplica_rows; i++) {
		metrics_labels(l, sizeof l, "env", env, "replica", s->replica[i].name, NULL);
		metrics_put(m, M_REPL_LAG_SECONDS, l, s->replica[i].lag_seconds);
	}
	if (h)
		metrics_write_repl(m, env, h);
	metrics_put(m, M_WAL_ARCHIVED, l0, s->wal_archived);
	metrics_put(m, M_WAL_FAILED, l0, s->wal_failed);
	metrics_put(m, M_WAL_LAST_ARCHIVED, l0, s->wal_last_archived);

	metrics_put(m, M_IMPORT_RECORDS, l1, s->import_records);
	/* Only final states count up for ever; a stopped run may still be resumed or failed,
	 * so the states that can change again are a gauge of their own. */
	const struct {
		enum metric_id id;
		const char *state;
		double v;
	} runs[] = {
	    {M_IMPORT_RUNS, "completed", s->import_completed},
	    {M_IMPORT_RUNS, "failed", s->import_failed},
	    {M_IMPORT_UNFINISHED, "running", s->import_running},
	    {M_IMPORT_UNFINISHED, "stopped", s->import_stopped},
	    {M_IMPORT_UNFINISHED, "interrupted", s->import_interrupted},
	};
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		metrics_labels(l, sizeof l, "env", env, "datname", s->datname, "state",
			       runs[i].state, NULL);
		metrics_put(m, runs[i].id, l, runs[i].v);
	}
	metrics_put(m, M_IMPORT_LAST_SUCCESS, l1, s->import_last_success);
	metrics_put(m, M_IMPORT_LAST_DURATION, l1, s->import_last_duration);
	metrics_put(m, M_IMPORT_LAST_RATE, l1, s->import_last_rate);

	for (int i = 0; i < s->nbackup_types; i++) {
		metrics_labels(l, sizeof l, "env", env, "type", s->backup[i].type, NULL);
		metrics_put(m, M_BACKUP_LAST_SUCCESS, l, s->backup[i].last_success);
	}
	for (int i = 0; i < s->nbackup_types; i++) {
		metrics_labels(l, sizeof l, "env", env, "type", s->backup[i].type, NULL);
		metrics_put(m, M_BACKUP_LAST_SIZE, l, s->backup[i].last_size);
	}

	metrics_put(m, M_CACHE_HITS, l1, s->cache_hits);
	metrics_put(m, M_CACHE_MISSES, l1, s->cache_misses);
	metrics_put(m, M_CACHE_EVICTIONS, l1, s->cache_evictions);
	metrics_put(m, M_CACHE_HIT_RATIO, l1,
		    ratio(s->cache_hits, s->cache_hits + s->cache_misses));
	metrics_put(m, M_CACHE_ENTRIES, l1, s->cache_entries);
	metrics_put(m, M_CACHE_BYTES, l1, s->cache_bytes);
	metrics_put(m, M_CACHE_MAX_ENTRIES, l1, s->cache_max_entries);
	metrics_put(m, M_CACHE_MAX_BYTES, l1, s->cache_max_bytes);
}

static int cmd_metrics_exec(struct cmd_ctx *ctx)
{
	int prom = args_has(ctx->args, "prom");
	if (prom && out_format(ctx->out) == OUT_JSON) {
		out_err(ctx->out, "metrics: --prom and --json exclude each other");
		return EXIT_USAGE;
	}
	struct metrics_snapshot s;
	struct repl_health h;
	int have_repl = 0;
	/* CMD_OBSERVE makes the connection leave a stopped embedded cluster stopped: that is
	 * an outage to report, not one to repair. */
	probe_metrics_scrape(ctx->target, &s, &h, &have_repl);
	/* Diagnostics on stderr only: stdout holds nothing but the figures. */
	if (!s.up)
		out_err(ctx->out, "metrics: %s", s.error);
	else if (s.warn[0])
		out_warn(ctx->out, "metrics: %s", s.warn);

	struct metrics_out m = {.o = ctx->out, .prom = prom, .last = -1};
	if (!prom) {
		const char *cols[] = {"metric", "labels", "value"};
		out_table_begin(ctx->out, "metrics", 3, cols);
	}
	metrics_write(&m, ctx->target->env, &s, have_repl ? &h : NULL);
	if (!prom)
		out_table_end(ctx->out);
	/* The exposition was written either way and says up 0 itself; a scraper should keep
	 * it. The table is for people and scripts, who want the outage in the status. */
	return prom || s.up ? 0 : EXIT_FAIL;
}

const struct cmd_entry cmd_metrics_table[] = {
    {
	.name = "metrics",
	.options = "prom",
	.summary = "Current figures; --prom writes the Prometheus text exposition format, "
		   "with midsops_up 0 when the database does not answer",
	.usage = "metrics [--prom] [--json]",
	.flags = CMD_OBSERVE,
	.exec = cmd_metrics_exec,
    },
    {0},
};
