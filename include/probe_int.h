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
