/* The console's probe parsers, fed results built with libpq's own constructors. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "probe_console.h"
#include "probe_timeline.h"

static PGresult *result(int ncols, const char *const *vals)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc *a = calloc((size_t)ncols, sizeof *a);
	for (int i = 0; i < ncols; i++) {
		a[i].name = "c";
		a[i].typid = 25;
		a[i].typlen = -1;
		a[i].atttypmod = -1;
	}
	PQsetResultAttrs(r, ncols, a);
	free(a);
	for (int i = 0; i < ncols; i++)
		PQsetvalue(r, 0, i, (char *)vals[i], vals[i] ? (int)strlen(vals[i]) : -1);
	return r;
}

int main(void)
{
	const char *imp[] = {
	    "{\"present\": true, \"now\": 1000, \"run\": {\"r\": {\"id\": 7, \"state\": "
	    "\"running\","
	    " \"phase\": \"stage\", \"files_done\": 12, \"files_total\": 40, \"records_done\": 500,"
	    " \"records_total\": 2000, \"rate\": 812.5, \"eta_s\": null, \"errors\": 3,"
	    " \"generation\": null, \"unknown_new_column\": 1}, \"started\": 940, \"finished\": "
	    "null},"
	    " \"rates\": [100, 200.5, null], \"ids\": [7, 6, 5]}"};
	PGresult *r = result(1, imp);
	struct import_snapshot s;
	CHECK(probe_import_parse(r, &s) == 0 && s.ok, "import: parses");
	CHECK(s.present && s.has_run && s.id == 7, "import: the run");
	CHECK_STR(s.state, "running", "import: state");
	CHECK(s.files_done == 12 && s.records_total == 2000, "import: counts");
	CHECK(s.rate == 812.5 && isnan(s.eta_s), "import: rate, unknown ETA");
	CHECK(s.generation == -1, "import: no generation yet");
	CHECK(s.started == 940 && s.finished == 0, "import: times");
	CHECK(s.nrates == 2 && s.nids == 3 && s.ids[0] == 7,
	      "import: sparkline and ids skip nulls");
	PQclear(r);
	const char *none[] = {"{\"present\": false}"};
	r = result(1, none);
	CHECK(probe_import_parse(r, &s) == 0 && !s.present && !s.has_run, "import: table absent");
	PQclear(r);
	const char *bad[] = {"{not json"};
	r = result(1, bad);
	CHECK(probe_import_parse(r, &s) < 0 && s.error[0], "import: malformed JSON is an error");
	PQclear(r);

	const char *cache[] = {
	    "{\"installed\": true, \"counters\": \"{&quot;hits&quot; : 90, &quot;misses&quot; : 10,"
	    " &quot;entries&quot; : 5, &quot;bytes&quot; : 4096}\", \"expired\": \"2\","
	    " \"dbs\": [{\"name\": \"midsops\", \"blocks\": 100, \"hit\": 99.5},"
	    " {\"name\": \"template0\", \"blocks\": 0, \"hit\": null}],"
	    " \"tables\": [{\"name\": \"game.powers\", \"blocks\": 50, \"hit\": 98}]}"};
	r = result(1, cache);
	static struct console_cache_snapshot c;
	CHECK(probe_console_cache_parse(r, &c) == 0 && c.installed, "cache: parses");
	CHECK(c.hits == 90 && c.misses == 10 && c.entries == 5 && c.bytes == 4096,
	      "cache: counters through xpath's escaping");
	CHECK(fabs(c.hit_rate - 90.0) < 1e-9, "cache: hit rate");
	CHECK(c.expired_now == 2, "cache: expired entries");
	CHECK(c.ndb == 2 && isnan(c.db[1].hit), "cache: per database, n/a without reads");
	CHECK(c.ntables == 1 && strcmp(c.tables[0].name, "game.powers") == 0, "cache: tables");
	PQclear(r);

	const char *errs[] = {
	    "{\"present\": true, \"items\": [{\"kind\": \"import\", \"id\": 3, \"at\": "
	    "1700000000.5,"
	    " \"level\": \"error\", \"source\": \"import\", \"path\": \"powers/a.json\","
	    " \"json_path\": \"$.effects[2]\", \"code\": \"range\", \"message\": \"too big\","
	    " \"run_id\": 7}, {\"kind\": \"event\", \"id\": 9, \"at\": 1699999999, \"level\":"
	    " \"warning\", \"source\": \"backup\", \"path\": null, \"message\": \"slow\","
	    " \"run_id\": null}]}"};
	r = result(1, errs);
	static struct errors_snapshot e;
	CHECK(probe_errors_parse(r, &e) == 0 && e.n == 2, "errors: parses");
	CHECK_STR(e.items[0].json_path, "$.effects[2]", "errors: JSON path");
	CHECK(e.items[0].run_id == 7 && e.items[1].run_id == 0, "errors: run ids");
	CHECK_STR(e.items[1].path, "", "errors: null path is empty");
	PQclear(r);
	CHECK(strstr(probe_errors_sql(1, 0), "import_errors") == NULL,
	      "errors: no ops.import_errors in the query while it is absent");
	CHECK(strstr(probe_errors_sql(0, 0), "ops.events") == NULL, "errors: nothing to read");
	CHECK(strstr(probe_import_sql(0), "ops.import_runs r") == NULL,
	      "import: the absent query names no table");

	const char *h[29] = {0};
	for (int i = 0; i < 29; i++)
		h[i] = "0";
	h[19] = "t";
	h[20] = "3600.5";
	h[21] = "20250101T000000Z-full,20241231T000000Z-archive";
	h[22] = NULL;
	h[25] = "t";
	h[26] = "f";
	h[27] = "t";
	h[28] = "f";
	r = result(29, h);
	struct health_extra x;
	CHECK(probe_health_parse(r, &x) == 0, "health: extras parse");
	CHECK(x.backups_present && x.backup_age_s == 3600.5, "health: backup age");
	CHECK(isnan(x.wal_age_s), "health: nothing archived");
	CHECK(x.nbackup_ids == 2 && strcmp(x.backup_ids[1], "20241231T000000Z-archive") == 0,
	      "health: backup ids");
	CHECK(x.has_import_runs && !x.has_import_errors && x.has_events && !x.has_cache,
	      "health: table flags");
	CHECK(x.sync_waiters == 0 && x.slot_bytes == -1 && !x.slot[0],
	      "health: an older query without the replication columns");
	PQclear(r);

	/* Replication columns after the lock waits (29, 30). */
	const char *hr[36] = {0};
	for (int i = 0; i < 36; i++)
		hr[i] = i < 29 ? h[i] : "0";
	hr[22] = NULL;
	hr[31] = "2";
	hr[32] = "12.5";
	hr[33] = "midsops_dr";
	hr[34] = "";
	hr[35] = "old_site|352321536|extended";
	r = result(36, hr);
	CHECK(probe_health_parse(r, &x) == 0, "health: replication columns parse");
	CHECK(x.sync_waiters == 2 && x.sync_wait_s == 12.5, "health: commits waiting in SyncRep");
	CHECK_STR(x.sync_names, "midsops_dr", "health: synchronous_standby_names");
	CHECK_STR(x.slot, "old_site", "health: the abandoned slot");
	CHECK(x.slot_bytes == 352321536, "health: the WAL it holds");
	CHECK_STR(x.slot_wal_status, "extended", "health: its wal_status");
	PQclear(r);
	hr[35] = "standby_slot||";
	r = result(36, hr);
	CHECK(probe_health_parse(r, &x) == 0 && x.slot_bytes == -1 &&
		  strcmp(x.slot, "standby_slot") == 0,
	      "health: a slot whose retention is unknown");
	PQclear(r);

	/* The timeline: a row of the query, and the console's own events by their words. */
	const char *tr[] = {"1700000000.5",
			    "42",
			    "warning",
			    "console",
			    "connected again after an outage of 2s\nsecond line",
			    "h",
			    "77",
			    "0"};
	r = result(8, tr);
	struct timeline tl = {0};
	CHECK(probe_timeline_parse(r, &tl) == 0 && tl.n == 1, "timeline: a row parses");
	CHECK(tl.v[0].id == 42 && tl.v[0].pid == 77 && tl.v[0].at == 1700000000.5,
	      "timeline: id, pid and time");
	CHECK_STR(tl.v[0].kind, "reconnect", "timeline: a console reconnect is its own kind");
	char sum[128];
	probe_timeline_summary(&tl.v[0], sum, sizeof sum);
	CHECK_STR(sum, "connected again after an outage of 2s ...",
		  "timeline: the summary is the first line");
	probe_timeline_free(&tl);
	PQclear(r);
	char kind[16];
	probe_timeline_kind("console", "lost the connection (last answer ...)", kind, sizeof kind);
	CHECK_STR(kind, "disconnect", "timeline: lost the connection is a disconnect");
	probe_timeline_kind("console", "cannot connect (since 10:00:00): x", kind, sizeof kind);
	CHECK_STR(kind, "disconnect", "timeline: cannot connect is a disconnect");
	probe_timeline_kind("console", "check db-check run from the console: OK (exit 0)", kind,
			    sizeof kind);
	CHECK_STR(kind, "check", "timeline: a check from the bar");
	probe_timeline_kind("session-terminate", "terminated pid 1", kind, sizeof kind);
	CHECK_STR(kind, "terminate", "timeline: a terminate from the sessions view");
	probe_timeline_kind("session-cancel", "cancelled pid 1", kind, sizeof kind);
	CHECK_STR(kind, "cancel", "timeline: a cancel from the sessions view");
	probe_timeline_kind("backup", "check the disk", kind, sizeof kind);
	CHECK_STR(kind, "backup", "timeline: other sources are their own kind");
	r = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	CHECK(probe_timeline_parse(r, &tl) == -1 && tl.n == 0, "timeline: a failed query");
	PQclear(r);
	HARNESS_END();
}
