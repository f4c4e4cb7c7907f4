/* What the import commands read about runs: a run's row, its events, errors, staging
 * figures and timings, and the sample builds' load. Each fills struct maint_rows (copied
 * out of libpq) and fails with struct db_error; the commands render. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "import.h"
#include "util.h"

#define RUN_COLS                                                                                   \
	"select id, kind, state, phase, source_dir, host, pid, to_char(started_at at time zone "   \
	"'UTC', 'YYYY-MM-DD HH24:MI:SS'), to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD "     \
	"HH24:MI:SS'), to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "         \
	"files_done, files_total, bytes_done, bytes_total, records_done, records_total, "          \
	"round(rate::numeric, 1), round(eta_s::numeric, 1), errors, warnings, generation, "        \
	"message, extract(epoch from (coalesce(finished_at, now()) - started_at)), "               \
	"stop_requested, backend_pid from ops.import_runs_seen "

int import_q_run(PGconn *c, long run, int latest, struct import_run_row *row, struct db_error *e)
{
	char rid[32];
	*row = (struct import_run_row){0};
	snprintf(rid, sizeof rid, "%ld", run);
	const char *p[] = {rid};
	PGresult *res = db_query_e(c, e,
				   latest ? RUN_COLS
				       "where $1::bigint = 0 or id = $1::bigint order by state in "
				       "('running', 'stopping') desc, id desc limit 1"
					  : RUN_COLS "where id = $1::bigint",
				   1, p);
	if (!res)
		return -1;
	struct maint_rows *r = &row->rows;
	r->ncols = PQnfields(res);
	r->nrows = PQntuples(res);
	r->names = xcalloc((size_t)r->ncols + 1, sizeof *r->names);
	r->cells = xcalloc((size_t)r->ncols * (size_t)r->nrows + 1, sizeof *r->cells);
	for (int k = 0; k < r->ncols; k++) {
		r->names[k] = xstrdup(PQfname(res, k));
		/* numbers render as numbers in JSON */
		if (k < 64 && db_type_numeric(PQftype(res, k)))
			row->numeric |= 1ULL << k;
		for (int i = 0; i < r->nrows; i++)
			if (!PQgetisnull(res, i, k))
				r->cells[i * r->ncols + k] = xstrdup(PQgetvalue(res, i, k));
	}
	PQclear(res);
	return 0;
}

int import_q_events(PGconn *c, long secs, struct maint_rows *r, struct db_error *e)
{
	return maint_rows_query_num(
	    c, r, e,
	    "select to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
	    "level, source, message from ops.events where source in ('import', "
	    "'emergency-stop', 'seed-builds', 'export') and at > now() - "
	    "make_interval(secs => $1::int) order by id",
	    secs);
}

int import_q_errors(PGconn *c, long secs, long run, struct maint_rows *r, struct db_error *e)
{
	char s[32], rid[32];
	snprintf(s, sizeof s, "%ld", secs);
	snprintf(rid, sizeof rid, "%ld", run);
	const char *p[] = {s, rid};
	return maint_rows_query(c, r, e,
				"select run_id, to_char(at at time zone 'UTC', 'YYYY-MM-DD "
				"HH24:MI:SS'), severity, coalesce(path, ''), coalesce(json_path, "
				"''), code, message from ops.import_errors where at > now() - "
				"make_interval(secs => $1::int) and ($2::bigint = 0 or run_id = "
				"$2::bigint) order by id limit 10000",
				2, p);
}

void import_q_debug(PGconn *c, const struct config *cfg, long run, int verbose,
		    struct import_debug *d)
{
	char rid[32];
	struct db_error e;
	*d = (struct import_debug){0};
	snprintf(rid, sizeof rid, "%ld", run);
	const char *p[] = {rid};
	d->have_staging =
	    maint_rows_query(c, &d->staging, &e,
			     "select (select count(*) from ops.import_files where run_id = $1), "
			     "(select coalesce(sum(size), 0) from ops.import_files where run_id = "
			     "$1), (select count(*) from stage.records where run_id = $1), (select "
			     "options::text from ops.import_runs where id = $1), (select "
			     "counts::text from ops.import_generations where run_id = $1)",
			     1, p) == 0;
	d->have_codes = maint_rows_query(c, &d->codes, &e,
					 "select code, severity, count(*) from ops.import_errors "
					 "where run_id = $1 group by 1, 2 order by 3 desc",
					 1, p) == 0;
	/* Lines the importer could not write to the run log (engine.c records the first). */
	char err[256];
	d->log_incomplete = db_scalar(c, err, sizeof err,
				      "select options->>'log_incomplete' from ops.import_runs "
				      "where id = $1::bigint",
				      1, p);
	if (!verbose)
		return;
	d->have_problems = maint_rows_query(c, &d->problems, &e,
					    "select severity, coalesce(path, ''), coalesce("
					    "json_path, ''), code, message from ops.import_errors "
					    "where run_id = $1 order by id",
					    1, p) == 0;
	import_log_path(cfg, PQdb(c), run, d->log_path, sizeof d->log_path);
}

void import_debug_free(struct import_debug *d)
{
	maint_rows_free(&d->staging);
	maint_rows_free(&d->codes);
	maint_rows_free(&d->problems);
	free(d->log_incomplete);
	d->log_incomplete = NULL;
}

int import_q_perf(PGconn *c, long secs, struct maint_rows *r, struct db_error *e)
{
	return maint_rows_query_num(
	    c, r, e,
	    "select id, kind, state, to_char(started_at at time zone 'UTC', 'YYYY-MM-DD "
	    "HH24:MI'), round(extract(epoch from (coalesce(finished_at, updated_at) - "
	    "started_at))::numeric, 2), files_total, bytes_total, records_total, "
	    "round(records_total / greatest(extract(epoch from (coalesce(finished_at, "
	    "updated_at) - started_at)), 0.001)::numeric, 0), errors from ops.import_runs where "
	    "started_at > now() - make_interval(secs => $1::int) order by id",
	    secs);
}

int import_q_runs(PGconn *c, long limit, struct maint_rows *r, struct db_error *e)
{
	/* "before": the generation the run replaced, else (a run that made none) the newest one
	 * made before it started. Times floor to the second, so --until a run's start is
	 * before anything it committed. */
	return maint_rows_query_num(
	    c, r, e,
	    "select r.id, r.kind, r.state, to_char(r.started_at at time zone 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(to_char(r.finished_at at time zone "
	    "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), coalesce(r.generation::text, ''), "
	    "coalesce(coalesce(g.previous, (select max(p.generation) from ops.import_generations "
	    "p where p.created_at < r.started_at))::text, ''), coalesce(r.source_dir, ''), "
	    "r.errors from ops.import_runs r left join ops.import_generations g on g.generation "
	    "= r.generation order by r.id desc limit $1::int",
	    limit);
}

/* The builds are loaded in one transaction from the file's JSON, so references resolve by
 * natural key on the server; the counts are read before the commit. */
int import_seed_builds(PGconn *c, const char *json, const char *file, struct maint_rows *counts,
		       struct db_error *e)
{
	const char *p[] = {json};
	*counts = (struct maint_rows){0};
	PGresult *res = NULL;
	static const char *const steps[] = {
	    "begin",
	    "create temp table sb on commit drop as select b.value as build, b.ordinality as n "
	    "from jsonb_array_elements($1::jsonb->'builds') with ordinality b",
	    "insert into builds.builds (owner, name, archetype_id, raw, created_at) select "
	    "build->>'owner', build->>'name', (select id from game.archetypes a where a.key = "
	    "build->>'archetype'), build, coalesce((build->>'created')::timestamptz, now()) from "
	    "sb on conflict (owner, name) do update set archetype_id = excluded.archetype_id, raw "
	    "= excluded.raw",
	    "insert into builds.build_powers (build_id, power_id, level) select bb.id, p.id, "
	    "(x.value->>'level')::int from sb join builds.builds bb on bb.owner = "
	    "sb.build->>'owner' and bb.name = sb.build->>'name' cross join lateral "
	    "jsonb_array_elements(sb.build->'powers') x join game.powers p on p.key = "
	    "x.value->>'power' on conflict (build_id, power_id) do update set level = "
	    "excluded.level",
	    "insert into builds.build_enhancements (build_power_id, slot, enhancement_id, level) "
	    "select bp.id, e.ordinality - 1, en.id, (e.value->>'level')::int from sb join "
	    "builds.builds bb on bb.owner = sb.build->>'owner' and bb.name = sb.build->>'name' "
	    "cross join lateral jsonb_array_elements(sb.build->'powers') x join game.powers p on "
	    "p.key = x.value->>'power' join builds.build_powers bp on bp.build_id = bb.id and "
	    "bp.power_id = p.id cross join lateral jsonb_array_elements(x.value->'enhancements') "
	    "with ordinality e join game.enhancements en on en.key = e.value->>'enhancement' on "
	    "conflict (build_power_id, slot) do update set enhancement_id = "
	    "excluded.enhancement_id, level = excluded.level"};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		res = db_query_e(c, e, steps[i], i == 1 ? 1 : 0, i == 1 ? p : NULL);
		if (!res)
			goto fail;
		PQclear(res);
	}
	if (maint_rows_query(
		c, counts, e,
		"select (select count(*) from sb), (select count(*) from sb, "
		"jsonb_array_elements(build->'powers')), (select count(*) from sb, "
		"jsonb_array_elements(build->'powers') x where not exists (select 1 from "
		"game.powers p where p.key = x.value->>'power')), (select count(*) from sb, "
		"jsonb_array_elements(build->'powers') x, jsonb_array_elements(x.value->"
		"'enhancements') e where not exists (select 1 from game.enhancements en where "
		"en.key = e.value->>'enhancement'))",
		0, NULL) < 0)
		goto fail;
	res = db_query_e(c, e, "commit", 0, NULL);
	if (!res)
		goto fail;
	PQclear(res);
	db_event(c, "info", "seed-builds", "loaded builds from %s", file);
	return 0;
fail:
	maint_rows_free(counts);
	db_rollback(c);
	return -1;
}
