/* Internals shared by the probe module's files in src/probe/. */
#ifndef MIDSOPS_PROBE_INT_H
#define MIDSOPS_PROBE_INT_H

#include <cJSON.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

/* A failed probe's error for its snapshot: the server's message cut to its first line (a
 * pane or a status line has room for one), or fallback when the server said nothing. */
void probe_result_error(char *err, size_t errlen, const PGresult *r, const char *fallback);
/* The console probes answer in one row of one JSON column; NULL, with err set, when the
 * result is not that or does not parse. The caller deletes the JSON. */
cJSON *probe_json_row(PGresult *r, char *err, size_t errlen);

/* Each JSON-row parser starts alike: the snapshot zeroed and stamped now, then its row
 * (NULL, with s->error set, when there is none). The parser sets its other defaults
 * before testing the row, so a failed probe still carries them. */
/* Seconds since the last good backup, as text (NULL without ops.backups or a backup): one
 * definition for the health pane, the fleet strip and the metrics store, so a live figure
 * and its backfilled trend measure the same thing. Columns are read through to_jsonb, so
 * an older ops.backups without some of them still answers. */
#define PROBE_BACKUP_AGE_SQL                                                                       \
	"case when to_regclass('ops.backups') is not null then (xpath('/row/v/text()',\n"          \
	"    query_to_xml('select extract(epoch from now() - max(coalesce(\n"                      \
	"      (to_jsonb(b)->>''finished_at'')::timestamptz,\n"                                    \
	"      (to_jsonb(b)->>''stopped_at'')::timestamptz,\n"                                     \
	"      (to_jsonb(b)->>''stop_time'')::timestamptz,\n"                                      \
	"      (to_jsonb(b)->>''completed_at'')::timestamptz,\n"                                   \
	"      (to_jsonb(b)->>''created_at'')::timestamptz,\n"                                     \
	"      (to_jsonb(b)->>''started_at'')::timestamptz))) as v from ops.backups b\n"           \
	"      where coalesce(to_jsonb(b)->>''state'', to_jsonb(b)->>''status'', ''ok'')\n"        \
	"        not in (''failed'', ''running'', ''in_progress'', ''pruned'')',\n"                \
	"      false, true, '')))[1]::text end"
/* Seconds since the archiver last archived a segment (NULL: never). */
#define PROBE_WAL_AGE_SQL                                                                          \
	"(select extract(epoch from now() - last_archived_time) from pg_stat_archiver)"

#define PROBE_JSON_START(s, r)                                                                     \
	(memset((s), 0, sizeof *(s)), (s)->taken = time(NULL),                                     \
	 probe_json_row((r), (s)->error, sizeof(s)->error))

/* The blocking form of a probe that the console runs asynchronously: the same query and
 * parser, on a connection the caller holds. */
#define PROBE_BLOCKING(fn, type, sql, parse)                                                       \
	int fn(PGconn *c, type *s)                                                                 \
	{                                                                                          \
		PGresult *r = PQexec(c, (sql));                                                    \
		int rc = parse(r, s);                                                              \
		PQclear(r);                                                                        \
		return rc;                                                                         \
	}

#endif
