/* Import progress for the console: the current (or last) run of ops.import_runs, the
 * rates of recent runs for a sparkline, and recent run ids for completion. One row, one
 * JSON column: the run is read through to_jsonb so a column added or renamed by the
 * import family never breaks the console, only blanks a figure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "probe_console.h"
#include "probe_int.h"
#include "util.h"

static const char import_sql_absent[] =
    "/* midsops console: import */ select json_build_object('present',\n"
    "  to_regclass('ops.import_runs') is not null)";

/* A running run wins over a newer finished one (a resumed run keeps its id). */
static const char import_sql_present[] =
    "/* midsops console: import */ select json_build_object('present', true,\n"
    "  'now', extract(epoch from now()),\n"
    "  'run', (select jsonb_build_object('r', to_jsonb(r),\n"
    "      'started', extract(epoch from (to_jsonb(r)->>'started_at')::timestamptz),\n"
    "      'finished', extract(epoch from (to_jsonb(r)->>'finished_at')::timestamptz))\n"
    "    from ops.import_runs_seen r order by r.state in ('running', 'stopping') desc, r.id desc\n"
    "    limit 1),\n"
    "  'rates', (select json_agg(x.rate order by x.id) from (select id, rate\n"
    "    from ops.import_runs where rate is not null order by id desc limit 24) x),\n"
    "  'ids', (select json_agg(y.id order by y.id desc) from (select id from ops.import_runs\n"
    "    order by id desc limit 20) y))";

const char *probe_import_sql(int present)
{
	return present ? import_sql_present : import_sql_absent;
}

#define F(m, t) UTIL_JF(struct import_snapshot, m, #m, t)
static const struct util_jfield run_fields[] = {
    F(id, UTIL_J_LL),	       F(kind, UTIL_J_STR),	   F(state, UTIL_J_STR),
    F(phase, UTIL_J_STR),      F(source_dir, UTIL_J_STR),  F(message, UTIL_J_STR),
    F(files_done, UTIL_J_LL),  F(files_total, UTIL_J_LL),  F(bytes_done, UTIL_J_LL),
    F(bytes_total, UTIL_J_LL), F(records_done, UTIL_J_LL), F(records_total, UTIL_J_LL),
    F(rate, UTIL_J_NAN),       F(errors, UTIL_J_LL),	   F(warnings, UTIL_J_LL)};
#undef F

int probe_import_parse(PGresult *r, struct import_snapshot *s)
{
	cJSON *j = PROBE_JSON_START(s, r);
	s->rate = s->eta_s = NAN;
	s->generation = -1;
	if (!j)
		return -1;
	s->present = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "present"));
	s->now = util_json_num(j, "now", (double)s->taken);
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(j, "run");
	const cJSON *rr = cJSON_GetObjectItemCaseSensitive(run, "r");
	if (cJSON_IsObject(rr)) {
		s->has_run = 1;
		util_json_fill(rr, run_fields, sizeof run_fields / sizeof *run_fields, s);
		s->eta_s = util_json_num(rr, "eta_s", util_json_num(rr, "eta", NAN));
		s->generation = (long long)util_json_num(rr, "generation", -1);
		s->started = util_json_num(run, "started", 0);
		s->finished = util_json_num(run, "finished", 0);
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "rates"))
	{
		if (s->nrates < PROBE_SPARK && cJSON_IsNumber(v))
			s->rates[s->nrates++] = v->valuedouble;
	}
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "ids"))
	{
		if (s->nids < PROBE_RUN_IDS && cJSON_IsNumber(v))
			s->ids[s->nids++] = (long long)v->valuedouble;
	}
	cJSON_Delete(j);
	s->ok = 1;
	return 0;
}

void probe_import_recent_ids(const char *conninfo, void (*fn)(const char *id, void *arg), void *arg)
{
	char err[512];
	/* Nor hang on an unreachable server for db_connect's ten seconds. */
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {conninfo, "midsops completion", "2", NULL};
	PGconn *c = conninfo[0] ? PQconnectdbParams(keys, vals, 1)
				: PQconnectdbParams(keys + 1, vals + 1, 0);
	if (c && PQstatus(c) == CONNECTION_OK) {
		/* Not migrated yet: no runs, and no error in the server's log for each Tab. */
		char *has = db_scalar(c, err, sizeof err,
				      "select to_regclass('ops.import_runs') is not null", 0, NULL);
		PGresult *r =
		    has && has[0] == 't'
			? db_query(c, err, sizeof err,
				   "select id from ops.import_runs order by id desc limit 100", 0,
				   NULL)
			: NULL;
		for (int i = 0; r && i < PQntuples(r); i++)
			fn(PQgetvalue(r, i, 0), arg);
		PQclear(r);
		free(has);
	}
	PQfinish(c);
}
