/* The fleet probe's judge and parser: a stopped environment is CRITICAL with libpq's cause
 * in short, one not tried yet is UNKNOWN, stale figures never read OK, lag and the backup
 * age by their thresholds, a failed last import; the parser on results built with libpq's
 * own constructors (an environment without midsops's schema, and one with a run). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "harness.h"
#include "probe_fleet.h"

static struct fleet_env_view up(void)
{
	struct fleet_env_view e;
	memset(&e, 0, sizeof e);
	snprintf(e.name, sizeof e.name, "staging");
	e.reachable = e.tried = e.have = 1;
	e.as_of = time(NULL);
	e.f.lag_s = e.f.backup_age_s = e.f.import_at = NAN;
	e.f.lag_bytes = e.f.generation = -1;
	return e;
}

static PGresult *row(const char *const *v)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc a[10];
	for (int i = 0; i < 10; i++)
		a[i] = (PGresAttDesc){.name = "c", .typid = 25, .typlen = -1, .atttypmod = -1};
	PQsetResultAttrs(r, 10, a);
	for (int i = 0; i < 10; i++)
		PQsetvalue(r, 0, i, (char *)v[i], v[i] ? (int)strlen(v[i]) : -1);
	return r;
}

static void judge_tests(const struct config *cfg)
{
	char why[256];
	struct fleet_env_view e = up();
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_OK, "a reachable primary is OK");

	e.reachable = 0;
	snprintf(e.reason, sizeof e.reason,
		 "connection to server at \"127.0.0.1\", port 5999 failed: Connection refused  "
		 "Is the server running on that host and accepting TCP/IP connections?");
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_CRITICAL, "stopped: CRITICAL");
	CHECK_STR(why, "unreachable: Connection refused", "stopped: libpq's cause, short");
	snprintf(e.reason, sizeof e.reason, "no connection in 3 s");
	fleet_judge(&e, cfg, 10, why, sizeof why);
	CHECK_STR(why, "unreachable: no connection in 3 s", "hung: its deadline");
	e.tried = 0;
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_UNKNOWN, "not tried yet: UNKNOWN");

	e = up();
	e.as_of = time(NULL) - 60;
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_UNKNOWN, "stale figures: UNKNOWN");
	CHECK_CONTAINS(why, "figures 60 s old", "stale: how old");
	e = up();
	e.have = 0;
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_UNKNOWN, "no figures yet: UNKNOWN");

	e = up();
	e.f.in_recovery = 1;
	e.f.lag_s = 120;
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_WARNING, "lag 2m: WARNING");
	CHECK_CONTAINS(why, "replication lag 2m", "lag: named");
	e.f.lag_s = 900;
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_CRITICAL, "lag 15m: CRITICAL");

	e = up();
	e.f.backups_present = 1;
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_OK,
	      "no backup yet: not judged, as the health pane leaves it");
	e.f.backup_age_s = 10 * 86400;
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_CRITICAL,
	      "a 10-day-old backup: CRITICAL (backup_age 26/192 h)");
	CHECK_CONTAINS(why, "last backup", "backup: named");

	e = up();
	e.f.import_id = 4;
	snprintf(e.f.import_state, sizeof e.f.import_state, "failed");
	CHECK(fleet_judge(&e, cfg, 10, why, sizeof why) == ST_WARNING, "a failed import: WARNING");
	CHECK_STR(why, "import #4 failed", "failed import: named");
}

static void parse_tests(void)
{
	struct fleet_figures f;
	char err[256];
	const char *bare[10] = {"f", NULL, NULL, "0", "f", NULL, NULL, "f", NULL, "1700000000"};
	PGresult *r = row(bare);
	CHECK(probe_fleet_parse(r, &f, err, sizeof err) == 0, "parse: no midsops schema");
	CHECK(!f.in_recovery && isnan(f.lag_s) && f.lag_bytes == -1 && f.import_id == 0 &&
		  f.generation == -1 && !f.backups_present && isnan(f.backup_age_s),
	      "parse: a bare primary has no lag, import or backup");
	PQclear(r);

	const char *run[10] = {"t", "2.5", NULL,   "0",		"t", "12|completed|1699996400|7",
			       "9", "t",   "3600", "1700000000"};
	r = row(run);
	CHECK(probe_fleet_parse(r, &f, err, sizeof err) == 0, "parse: a standby with a run");
	CHECK(f.in_recovery && f.lag_s == 2.5, "parse: standby and its lag");
	CHECK(f.import_id == 12 && strcmp(f.import_state, "completed") == 0 &&
		  f.import_at == 1699996400.0,
	      "parse: the last run");
	CHECK(f.generation == 7, "parse: the run's own generation wins over the newest");
	CHECK(f.backups_present && f.backup_age_s == 3600, "parse: the backup's age");
	PQclear(r);

	r = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	CHECK(probe_fleet_parse(r, &f, err, sizeof err) < 0, "parse: a failed query");
	CHECK_CONTAINS(err, "query failed", "parse: says so");
	PQclear(r);
}

int main(void)
{
	static struct config cfg;
	config_defaults(&cfg);
	judge_tests(&cfg);
	parse_tests();
	return harness_failed;
}
