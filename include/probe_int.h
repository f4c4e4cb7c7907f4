/* Internals shared by the probe module's files in src/probe/. */
#ifndef MIDSOPS_PROBE_INT_H
#define MIDSOPS_PROBE_INT_H

#include <cJSON.h>
#include <libpq-fe.h>
#include <stddef.h>

/* A failed probe's error for its snapshot: the server's message cut to its first line (a
 * pane or a status line has room for one), or fallback when the server said nothing. */
void probe_result_error(char *err, size_t errlen, const PGresult *r, const char *fallback);
/* The console probes answer in one row of one JSON column; NULL, with err set, when the
 * result is not that or does not parse. The caller deletes the JSON. */
cJSON *probe_json_row(PGresult *r, char *err, size_t errlen);

#endif
