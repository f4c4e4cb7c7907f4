/* import-health's findings, shared with the status section: the last run's state, the
 * error rate of the files, the age of the data and the generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "import.h"
#include "status.h"

enum status import_health_render(struct out *o, PGconn *c, char *summary, size_t n)
{
	char err[1024];
	PGresult *r = db_query(
	    c, err, sizeof err,
	    "select id, state, phase, errors, files_total, extract(epoch from now() - "
	    "updated_at), (select extract(epoch from now() - max(finished_at)) from "
	    "ops.import_runs where state = 'completed' and generation is not null), (select "
	    "coalesce(max(generation), 0) from ops.import_generations), coalesce(message, '') "
	    "from ops.import_runs_seen order by id desc limit 1",
	    0, NULL);
	if (!r) {
		out_kv_status(o, "import", ST_UNKNOWN, "%s", err);
		snprintf(summary, n, "cannot read import runs");
		return ST_UNKNOWN;
	}
	if (!PQntuples(r)) {
		out_kv_status(o, "last_run", ST_WARNING, "none: no import has run on this target");
		snprintf(summary, n, "no import yet");
		PQclear(r);
		return ST_WARNING;
	}
	enum status worst = ST_OK, st;
	const char *state = PQgetvalue(r, 0, 1);
	double idle = atof(PQgetvalue(r, 0, 5));
	if (strcmp(state, "running") == 0)
		st = idle > 300 ? ST_CRITICAL : ST_OK; /* no progress row for 5 minutes: stalled */
	else if (strcmp(state, "failed") == 0)
		st = ST_CRITICAL;
	else if (strcmp(state, "stopped") == 0 || strcmp(state, "interrupted") == 0)
		st = ST_WARNING;
	else
		st = ST_OK;
	out_kv_status(o, "last_run", st, "%s %s (phase %s)%s", PQgetvalue(r, 0, 0), state,
		      PQgetvalue(r, 0, 2),
		      st == ST_CRITICAL && strcmp(state, "running") == 0
			  ? ": no progress for 5 minutes"
		      : strcmp(state, "interrupted") == 0
			  ? ": its process is gone; finish it with 'midsops import-resume'"
			  : "");
	if (PQgetvalue(r, 0, 8)[0])
		out_kv(o, "last_message", "%s", PQgetvalue(r, 0, 8));
	worst = status_worst(worst, st);
	double files = atof(PQgetvalue(r, 0, 4)), errs = atof(PQgetvalue(r, 0, 3));
	double rate = files > 0 ? 100.0 * errs / files : 0;
	st = rate > 5 ? ST_CRITICAL : rate > 0 ? ST_WARNING : ST_OK;
	/* Any error warns; over 5% of the files is critical. */
	struct out_fig f = {.value = rate / 100.0,
			    .unit = OUT_RATIO,
			    .thresholds = 1,
			    .warn = 0,
			    .crit = 0.05,
			    .range = 1,
			    .min = 0,
			    .max = 1};
	out_fig_status(o, "error_rate", st, &f, "%.2f%% (%.0f errors in %.0f files)", rate, errs,
		       files);
	worst = status_worst(worst, st);
	if (PQgetisnull(r, 0, 6)) {
		st = ST_WARNING;
		out_kv_status(o, "last_import", st, "never completed");
	} else {
		double age = atof(PQgetvalue(r, 0, 6));
		char a[64];
		fmt_duration(a, sizeof a, age);
		st = age > 30 * 86400.0 ? ST_CRITICAL : age > 8 * 86400.0 ? ST_WARNING : ST_OK;
		f = (struct out_fig){.value = age,
				     .unit = OUT_SECONDS,
				     .thresholds = 1,
				     .warn = 8 * 86400.0,
				     .crit = 30 * 86400.0};
		out_fig_status(o, "last_import_age", st, &f, "%s ago", a);
	}
	worst = status_worst(worst, st);
	out_kv(o, "generation", "%s", PQgetvalue(r, 0, 7));
	if (strcmp(state, "interrupted") == 0)
		snprintf(summary, n,
			 "run %s interrupted (its process is gone): midsops import-resume",
			 PQgetvalue(r, 0, 0));
	else
		snprintf(summary, n, "last run %s %s, generation %s", PQgetvalue(r, 0, 0), state,
			 PQgetvalue(r, 0, 7));
	PQclear(r);
	return worst;
}

enum status import_status_section(struct out *o, const struct config *cfg, PGconn *c)
{
	(void)cfg;
	char summary[256];
	if (!c)
		return ST_UNKNOWN;
	PGresult *r = PQexec(c, "select to_regclass('ops.import_runs') is not null");
	int present = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!present) {
		out_kv_status(o, "import", ST_WARNING, "schema not created (midsops db-create)");
		return ST_WARNING;
	}
	return import_health_render(o, c, summary, sizeof summary);
}
