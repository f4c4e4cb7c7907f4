/* Maintenance and health: db-health, db-slow-queries, db-optimize, db-vacuum, db-analyze,
 * validate-all-data. */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "util.h"
#include "config.h"
#include "db.h"
#include "probe.h"
#include "probe_health.h"
#include "proc.h"
#include "status.h"
#include "target.h"

static PGconn *maint_connect(struct cmd_ctx *ctx, const char *app)
{
	char err[1024];
	PGconn *c = db_connect_ready(ctx->target, app, err, sizeof err);
	if (!c)
		out_err(ctx->out, "%s", err);
	return c;
}

/* ---- db-health ---- */

static int cmd_db_health_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	PGconn *c = db_connect(ctx->target, "db-health", err, sizeof err);
	if (!c) {
		out_status(ctx->out, ST_CRITICAL, "%s", err);
		return ST_CRITICAL;
	}
	enum status worst = ST_OK;
	int unavailable = 0;
	for (int id = 0; id < HP_COUNT; id++) {
		struct health_probe p;
		health_probe_run(c, id, &p);
		out_section(ctx->out, health_probe_name(id));
		enum status st = health_render_probe(ctx->out, ctx->cfg, &p);
		out_section_end(ctx->out);
		/* A probe we may not run is reported, not judged: the others still count. */
		if (!p.ok)
			unavailable++;
		else
			worst = status_worst(worst, st);
		health_probe_free(&p);
	}
	PQfinish(c);
	out_status(ctx->out, worst, "%d of %d health probes ran%s", HP_COUNT - unavailable,
		   HP_COUNT, worst == ST_OK ? ", all healthy" : "");
	return worst;
}

/* ---- db-slow-queries ---- */

static void render_rows(struct out *o, const char *name, PGresult *r)
{
	int nf = PQnfields(r);
	const char *cols[16];
	for (int i = 0; i < nf && i < 16; i++)
		cols[i] = PQfname(r, i);
	out_table_begin(o, name, nf < 16 ? nf : 16, cols);
	for (int row = 0; row < PQntuples(r); row++) {
		const char *cells[16];
		for (int i = 0; i < nf && i < 16; i++)
			cells[i] = PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
		out_row(o, cells);
	}
	out_table_end(o);
}

static int cmd_db_slow_queries_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	long limit = 10;
	double threshold = ctx->cfg->query_time.warning;
	if (args_get_long(ctx->args, "limit", &limit, err, sizeof err) < 0 || limit < 1) {
		out_err(ctx->out, "%s", err[0] ? err : "--limit must be at least 1");
		return EXIT_USAGE;
	}
	const char *t = args_get(ctx->args, "threshold");
	if (t) {
		char *end;
		threshold = strtod(t, &end);
		if (end == t || *end || threshold < 0) {
			out_err(ctx->out, "--threshold: '%s' is not a number of milliseconds", t);
			return EXIT_USAGE;
		}
	}
	PGconn *c = db_connect(ctx->target, "db-slow-queries", err, sizeof err);
	if (!c) {
		out_status(ctx->out, ST_CRITICAL, "%s", err);
		return ST_CRITICAL;
	}
	/* Judged: the web workload, what users feel. midsops's own statements (its role, see
	 * db.c) are listed apart: an import's COPY taking half a second is normal, and a check
	 * that paged after every import would be switched off, real slow queries with it. */
	struct health_probe slow, total, own;
	out_kv_num(ctx->out, "threshold_ms", threshold, "ms");
	if (health_statements(c, STMTS_WEB, "mean", (int)limit, threshold, &slow) < 0) {
		PQfinish(c);
		out_status(ctx->out, ST_UNKNOWN, "%s", slow.reason);
		return ST_UNKNOWN;
	}
	if (slow.reason[0])
		out_kv(ctx->out, "note", "%s", slow.reason);
	if (db_own_role_note()[0])
		out_kv(ctx->out, "own_statements",
		       "this login's midsops statements are judged with the web workload: %s",
		       db_own_role_note());
	double worst = PQntuples(slow.res) ? strtod(PQgetvalue(slow.res, 0, 3), NULL) : 0;
	enum status st = threshold_judge(&ctx->cfg->query_time, worst);
	struct out_fig qf = status_fig(worst / 1000.0, OUT_SECONDS, &ctx->cfg->query_time, 0.001);
	out_fig_status(ctx->out, "slowest_mean", st, &qf,
		       "%.1f ms; %d web statement(s) at or over %.0f ms", worst,
		       PQntuples(slow.res), threshold);
	render_rows(ctx->out, "slowest_by_mean", slow.res);
	if (health_statements(c, STMTS_WEB, "total", (int)limit, 0, &total) == 0)
		render_rows(ctx->out, "top_by_total_time", total.res);
	out_section(ctx->out, "midsops_own");
	out_kv(ctx->out, "judged",
	       "no: midsops's own import, backup and maintenance statements "
	       "(role " DB_OWN_ROLE ")");
	if (health_statements(c, STMTS_OWN, "mean", (int)limit, 0, &own) == 0)
		render_rows(ctx->out, "slowest_by_mean", own.res);
	out_section_end(ctx->out);
	health_probe_free(&slow);
	health_probe_free(&total);
	health_probe_free(&own);
	PQfinish(c);
	out_status(ctx->out, st, "%s",
		   st == ST_OK
		       ? "no web statement over the query-time threshold"
		       : "slow web statements: check their plans and indexes (runbook: optimize "
			 "indexes)");
	return st;
}

/* ---- vacuum / analyze with progress ---- */

enum maint_kind { MK_VACUUM, MK_VACUUM_FULL, MK_ANALYZE, MK_VACUUM_ANALYZE };

struct table_fig {
	char name[256];
	long long dead, live, size, mod_since_analyze;
	char last_vacuum[32], last_analyze[32];
};

static int table_figures(PGconn *c, const char *name, struct table_fig *f, char *err, size_t errlen)
{
	const char *p[] = {name};
	/* Our own snapshot of the statistics would hide what the vacuum just did. */
	PQclear(PQexec(c, "select pg_stat_clear_snapshot()"));
	PGresult *r = db_query(c, err, errlen,
			       "select s.n_dead_tup, s.n_live_tup, pg_total_relation_size(s.relid),"
			       " s.n_mod_since_analyze,"
			       " coalesce(to_char(greatest(s.last_vacuum, s.last_autovacuum), "
			       "'YYYY-MM-DD HH24:MI:SS'), 'never'),"
			       " coalesce(to_char(greatest(s.last_analyze, s.last_autoanalyze), "
			       "'YYYY-MM-DD HH24:MI:SS'), 'never')"
			       " from pg_stat_user_tables s where s.relid = $1::regclass",
			       1, p);
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		snprintf(err, errlen, "%s is not a user table", name);
		PQclear(r);
		return -1;
	}
	snprintf(f->name, sizeof f->name, "%s", name);
	f->dead = atoll(PQgetvalue(r, 0, 0));
	f->live = atoll(PQgetvalue(r, 0, 1));
	f->size = atoll(PQgetvalue(r, 0, 2));
	f->mod_since_analyze = atoll(PQgetvalue(r, 0, 3));
	snprintf(f->last_vacuum, sizeof f->last_vacuum, "%s", PQgetvalue(r, 0, 4));
	snprintf(f->last_analyze, sizeof f->last_analyze, "%s", PQgetvalue(r, 0, 5));
	PQclear(r);
	return 0;
}

/* Run one statement on `work` and show the server's progress view for it from `mon`. */
static int run_with_progress(struct out *o, PGconn *work, PGconn *mon, enum maint_kind k,
			     const char *table, const char *sql, char *err, size_t errlen)
{
	static const char q_vacuum[] =
	    "select phase, heap_blks_total, heap_blks_vacuumed from pg_stat_progress_vacuum"
	    " where pid = $1::int";
	static const char q_cluster[] =
	    "select phase, heap_blks_total, heap_blks_scanned from pg_stat_progress_cluster"
	    " where pid = $1::int";
	static const char q_analyze[] =
	    "select phase, sample_blks_total, sample_blks_scanned from pg_stat_progress_analyze"
	    " where pid = $1::int";
	const char *q = k == MK_VACUUM_FULL ? q_cluster : k == MK_ANALYZE ? q_analyze : q_vacuum;
	char pid[32];
	snprintf(pid, sizeof pid, "%d", PQbackendPID(work));
	const char *p[] = {pid};
	if (!PQsendQuery(work, sql)) {
		snprintf(err, errlen, "%s", PQerrorMessage(work));
		return -1;
	}
	int sock = PQsocket(work);
	for (;;) {
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		poll(&pfd, 1, 200);
		if (!PQconsumeInput(work))
			break;
		if (!PQisBusy(work))
			break;
		PGresult *r = mon ? PQexecParams(mon, q, 1, NULL, p, NULL, NULL, 0) : NULL;
		if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			char detail[300];
			snprintf(detail, sizeof detail, "%s: %s", table, PQgetvalue(r, 0, 0));
			out_progress(o, "maintenance", atof(PQgetvalue(r, 0, 2)),
				     atof(PQgetvalue(r, 0, 1)), detail);
		}
		PQclear(r);
	}
	int rc = 0;
	PGresult *r;
	while ((r = PQgetResult(work))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
			snprintf(err, errlen, "%s", PQresultErrorMessage(r));
			err[strcspn(err, "\n")] = 0;
			rc = -1;
		}
		PQclear(r);
	}
	return rc;
}

/* Tables to work on: the named ones, or every user table of midsops's schemas. With
 * only_needed, the ones whose dead tuples or changes since analyze pass the warning
 * threshold (db-optimize). Returns a PGresult of regclass names. */
static PGresult *pick_tables(PGconn *c, struct cmd_ctx *ctx, int only_needed, char *err,
			     size_t errlen)
{
	struct args *a = ctx->args;
	if (a->argc > 0) {
		/* Each name becomes a regclass, so a wrong one is an error before any work. */
		char **lit = xcalloc((size_t)a->argc, sizeof *lit);
		size_t len = 64;
		for (int i = 0; i < a->argc; i++) {
			lit[i] = PQescapeLiteral(c, a->argv[i], strlen(a->argv[i]));
			if (!lit[i]) {
				snprintf(err, errlen, "%s", PQerrorMessage(c));
				for (int k = 0; k < i; k++)
					PQfreemem(lit[k]);
				free(lit);
				return NULL;
			}
			len += strlen(lit[i]) + 32;
		}
		char *sql = xmalloc(len);
		size_t n = (size_t)snprintf(sql, len, "select x::regclass::text from (values ");
		for (int i = 0; i < a->argc; i++) {
			n += (size_t)snprintf(sql + n, len - n, "%s(%s)", i ? "," : "", lit[i]);
			PQfreemem(lit[i]);
		}
		snprintf(sql + n, len - n, ") v(x)");
		free(lit);
		PGresult *r = db_query(c, err, errlen, sql, 0, NULL);
		free(sql);
		return r;
	}
	char pct[32];
	snprintf(pct, sizeof pct, "%g", ctx->cfg->dead_tuples.warning);
	const char *p[] = {only_needed ? "1" : "0", pct};
	return db_query(c, err, errlen,
			"select s.relid::regclass::text from pg_stat_user_tables s"
			" where s.schemaname in ('game', 'builds', 'ops', 'cache', 'stage')"
			" and ($1 = '0' or (s.n_live_tup + s.n_dead_tup > 0 and"
			"   (100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup) >= $2::float8"
			"    or s.n_mod_since_analyze > 0.1 * greatest(s.n_live_tup, 1000)"
			"    or coalesce(s.last_analyze, s.last_autoanalyze) is null)))"
			" order by pg_total_relation_size(s.relid) desc",
			2, p);
}

static int maint_run(struct cmd_ctx *ctx, const char *app, enum maint_kind k, int only_needed)
{
	char err[1024];
	PGconn *c = maint_connect(ctx, app);
	if (!c)
		return EXIT_FAIL;
	PGconn *mon = db_connect(ctx->target, app, err, sizeof err);
	PGresult *tables = pick_tables(c, ctx, only_needed, err, sizeof err);
	if (!tables) {
		out_err(ctx->out, "%s: %s", app, err);
		PQfinish(mon);
		PQfinish(c);
		return ctx->args->argc ? EXIT_USAGE : EXIT_FAIL;
	}
	int n = PQntuples(tables), failed = 0;
	const char *cols[] = {"table",	    "dead_before", "dead_after",   "size_before",
			      "size_after", "last_vacuum", "last_analyze", "seconds"};
	struct table_fig *before = xcalloc((size_t)n + 1, sizeof *before);
	struct table_fig *after = xcalloc((size_t)n + 1, sizeof *after);
	double *secs = xcalloc((size_t)n + 1, sizeof *secs);
	long long db_before = 0, db_after = 0, dead_b = 0, dead_a = 0;
	char *v =
	    db_scalar(c, err, sizeof err, "select pg_database_size(current_database())", 0, NULL);
	db_before = v ? atoll(v) : 0;
	free(v);
	for (int i = 0; i < n; i++) {
		const char *t = PQgetvalue(tables, i, 0);
		char sql[600];
		if (table_figures(c, t, &before[i], err, sizeof err) < 0) {
			out_err(ctx->out, "%s: %s", app, err);
			failed++;
			continue;
		}
		/* The name came back from regclass::text, so it is already quoted as needed. */
		snprintf(sql, sizeof sql, "%s %s",
			 k == MK_VACUUM_FULL	  ? "vacuum (full, analyze)"
			 : k == MK_ANALYZE	  ? "analyze"
			 : k == MK_VACUUM_ANALYZE ? "vacuum (analyze)"
						  : "vacuum",
			 t);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		out_progress(ctx->out, "maintenance", 0, 0, t);
		if (run_with_progress(ctx->out, c, mon, k, t, sql, err, sizeof err) < 0) {
			out_progress_end(ctx->out);
			out_err(ctx->out, "%s: %s: %s", app, t, err);
			failed++;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs[i] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		table_figures(c, t, &after[i], err, sizeof err);
		dead_b += before[i].dead;
		dead_a += after[i].dead;
	}
	out_progress_end(ctx->out);
	v = db_scalar(c, err, sizeof err, "select pg_database_size(current_database())", 0, NULL);
	db_after = v ? atoll(v) : 0;
	free(v);
	out_table_begin(ctx->out, "tables", 8, cols);
	for (int i = 0; i < n; i++) {
		if (!after[i].name[0])
			continue;
		char db_[32], da[32], sb[32], sa[32], s[32];
		snprintf(db_, sizeof db_, "%lld", before[i].dead);
		snprintf(da, sizeof da, "%lld", after[i].dead);
		snprintf(sb, sizeof sb, "%lld", before[i].size);
		snprintf(sa, sizeof sa, "%lld", after[i].size);
		snprintf(s, sizeof s, "%.2f", secs[i]);
		out_rowf(ctx->out, after[i].name, db_, da, sb, sa, after[i].last_vacuum,
			 after[i].last_analyze, s);
	}
	out_table_end(ctx->out);
	char a[64], b[64];
	fmt_bytes(a, sizeof a, (double)db_before);
	fmt_bytes(b, sizeof b, (double)db_after);
	out_kv_int(ctx->out, "tables_done", n - failed);
	out_kv(ctx->out, "dead_tuples", "%lld -> %lld", dead_b, dead_a);
	out_kv(ctx->out, "database_size", "%s -> %s", a, b);
	if (n == 0)
		out_line(ctx->out, "no table needs %s", app);
	else
		out_line(ctx->out, "%s: %d table(s) done%s", app, n - failed,
			 failed ? ", some failed" : "");
	db_event(c, failed ? "warning" : "info", app,
		 "%d tables, dead tuples %lld -> %lld, size %s -> %s", n - failed, dead_b, dead_a,
		 a, b);
	free(before);
	free(after);
	free(secs);
	PQclear(tables);
	PQfinish(mon);
	PQfinish(c);
	return failed ? EXIT_FAIL : 0;
}

static int cmd_db_vacuum_exec(struct cmd_ctx *ctx)
{
	int full = args_has(ctx->args, "full");
	return maint_run(ctx, "db-vacuum",
			 full				  ? MK_VACUUM_FULL
			 : args_has(ctx->args, "analyze") ? MK_VACUUM_ANALYZE
							  : MK_VACUUM,
			 0);
}

static int cmd_db_analyze_exec(struct cmd_ctx *ctx)
{
	return maint_run(ctx, "db-analyze", MK_ANALYZE, 0);
}

/* Vacuum and analyze what needs it, then rebuild the cache indexes (they churn most). */
static int cmd_db_optimize_exec(struct cmd_ctx *ctx)
{
	int rc = maint_run(ctx, "db-optimize", MK_VACUUM_ANALYZE, !args_has(ctx->args, "all"));
	if (rc != 0)
		return rc;
	char err[1024];
	PGconn *c = maint_connect(ctx, "db-optimize");
	if (!c)
		return EXIT_FAIL;
	if (db_exec(c, err, sizeof err, "reindex table concurrently cache.entries", 0, NULL) < 0 ||
	    db_exec(c, err, sizeof err, "reindex table concurrently cache.entry_hits", 0, NULL) <
		0) {
		out_err(ctx->out, "db-optimize: reindex: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	out_line(ctx->out, "cache indexes rebuilt");
	PQfinish(c);
	return 0;
}

/* ---- validate-all-data ---- */

enum vsev { V_ERROR, V_WARNING, V_INFO };

struct vcheck {
	const char *name;
	enum vsev sev;
	const char *rows; /* one text column d per offending row */
};

static const struct vcheck vchecks[] = {
    /* References between builds and game: user data must never point nowhere. */
    {"builds.archetype -> game.archetypes", V_ERROR,
     "select 'build ' || b.id || ' archetype_id ' || b.archetype_id from builds.builds b"
     " where b.archetype_id is not null and not exists"
     " (select 1 from game.archetypes a where a.id = b.archetype_id)"},
    {"build_powers.power -> game.powers", V_ERROR,
     "select 'build_power ' || bp.id || ' power_id ' || bp.power_id from builds.build_powers bp"
     " where not exists (select 1 from game.powers p where p.id = bp.power_id)"},
    {"build_powers.build -> builds.builds", V_ERROR,
     "select 'build_power ' || bp.id || ' build_id ' || bp.build_id from builds.build_powers bp"
     " where not exists (select 1 from builds.builds b where b.id = bp.build_id)"},
    {"build_enhancements.enhancement -> game.enhancements", V_ERROR,
     "select 'build_enhancement ' || be.id || ' enhancement_id ' || be.enhancement_id"
     " from builds.build_enhancements be where not exists"
     " (select 1 from game.enhancements e where e.id = be.enhancement_id)"},
    {"build_enhancements.build_power -> builds.build_powers", V_ERROR,
     "select 'build_enhancement ' || be.id || ' build_power_id ' || be.build_power_id"
     " from builds.build_enhancements be where not exists"
     " (select 1 from builds.build_powers bp where bp.id = be.build_power_id)"},
    {"builds using retired game rows", V_WARNING,
     "select 'build_power ' || bp.id || ' uses retired power ' || p.key"
     " from builds.build_powers bp join game.powers p on p.id = bp.power_id where p.retired"
     " union all select 'build_enhancement ' || be.id || ' uses retired enhancement ' || e.key"
     " from builds.build_enhancements be join game.enhancements e on e.id = be.enhancement_id"
     " where e.retired"},
    /* References inside game. */
    {"powers.powerset -> game.powersets", V_WARNING,
     "select 'power ' || p.key from game.powers p where not p.retired and (p.powerset_id is null"
     " or not exists (select 1 from game.powersets s where s.id = p.powerset_id))"},
    {"powersets.category -> game.power_categories", V_WARNING,
     "select 'powerset ' || s.key from game.powersets s where not s.retired and"
     " (s.category_id is null or not exists"
     " (select 1 from game.power_categories c where c.id = s.category_id))"},
    {"enhancements.set -> game.enhancement_sets", V_WARNING,
     "select 'enhancement ' || e.key from game.enhancements e where not e.retired and"
     " (e.set_id is null or not exists (select 1 from game.enhancement_sets s where s.id = "
     "e.set_id))"},
    {"group members -> game.powers", V_INFO,
     "select 'exclusion group ' || g.key || ': ' || coalesce(m.internal_name, '?')"
     " from game.exclusion_group_members m join game.exclusion_groups g on g.id = m.group_id"
     " where m.power_id is null union all"
     " select 'recharge group ' || g.key || ': ' || coalesce(m.internal_name, '?')"
     " from game.recharge_group_members m join game.recharge_groups g on g.id = m.group_id"
     " where m.power_id is null"},
    /* Invariants. */
    {"levels 1..50 (builds)", V_ERROR,
     "select 'build ' || id || ' level ' || level from builds.builds"
     " where level is not null and level not between 1 and 50"
     " union all select 'build_power ' || id || ' level ' || level from builds.build_powers"
     " where level is not null and level not between 1 and 50"
     " union all select 'build_enhancement ' || id || ' level ' || level"
     " from builds.build_enhancements where level is not null and level not between 1 and 50"},
    /* available_level is 0-based in the export (-1: never offered). */
    {"levels 1..50 (powers, sets)", V_ERROR,
     "select 'power ' || key || ' available_level ' || available_level from game.powers"
     " where available_level is not null and available_level not between -1 and 49"
     " union all select 'set ' || key || ' levels ' || min_level || '..' || max_level"
     " from game.enhancement_sets where min_level not between 1 and 50"
     "   or max_level not between 1 and 50"},
    {"set min_level <= max_level", V_ERROR,
     "select 'set ' || key || ' ' || min_level || ' > ' || max_level from game.enhancement_sets"
     " where min_level > max_level"},
    {"set bonus min_boosts <= max_boosts", V_ERROR,
     "select 'set bonus ' || b.id || ' ' || b.min_boosts || ' > ' || b.max_boosts"
     " from game.set_bonuses b where b.min_boosts > b.max_boosts or b.min_boosts < 0"},
    {"numeric ranges of powers", V_ERROR,
     "select 'power ' || key from game.powers where accuracy < 0 or endurance_cost < 0"
     " or recharge_time < 0 or activation_time < 0 or range < 0 or radius < 0"
     " or arc not between 0 and 360 or max_targets_hit < 0 or max_boosts < 0"
     " or accuracy = 'NaN' or recharge_time = 'NaN' or endurance_cost = 'NaN'"},
    {NULL, 0, NULL},
};

/* Row counts against the import summaries: every promoted generation records, per kind,
 * the records it added, changed and removed (ops.import_generations.counts), so the sum
 * of added minus removed over all generations is what each game table should hold now
 * (rows not retired). */
static enum status check_counts(struct out *o, PGconn *c, int *issues)
{
	char err[1024];
	PGresult *r =
	    db_query(c, err, sizeof err,
		     "select k.key, case k.key when 'power_category' then 'power_categories'"
		     "  else k.key || 's' end,"
		     " sum(coalesce((k.value->>'added')::bigint, 0) - "
		     "coalesce((k.value->>'removed')::bigint, 0))"
		     " from ops.import_generations g,"
		     "  jsonb_each(case when jsonb_typeof(g.counts) = 'object' then g.counts"
		     "   else '{}'::jsonb end) k"
		     " group by 1, 2 order by 1",
		     0, NULL);
	if (!r) {
		out_kv_status(o, "import_counts", ST_UNKNOWN, "cannot read import summaries: %s",
			      err);
		return ST_UNKNOWN;
	}
	if (PQntuples(r) == 0) {
		out_kv_status(o, "import_counts", ST_OK, "no import summary yet");
		PQclear(r);
		return ST_OK;
	}
	const char *cols[] = {"kind", "table", "expected", "now", "status"};
	out_table_begin(o, "counts", 5, cols);
	int bad = 0, compared = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *table = PQgetvalue(r, i, 1);
		const char *p[] = {table};
		char *has =
		    db_scalar(c, err, sizeof err,
			      "select 1 from information_schema.columns where table_schema ="
			      " 'game' and table_name = $1 and column_name = 'retired'",
			      1, p);
		if (!has)
			continue; /* no such table with a retired flag: nothing to compare */
		free(has);
		char *ident = db_ident(c, table);
		char sql[256];
		snprintf(sql, sizeof sql, "select count(*) from game.%s where not retired", ident);
		PQfreemem(ident);
		char *cnt = db_scalar(c, err, sizeof err, sql, 0, NULL);
		const char *want = PQgetvalue(r, i, 2);
		int ok = cnt && atoll(cnt) == atoll(want);
		bad += !ok;
		compared++;
		out_rowf(o, PQgetvalue(r, i, 0), table, want, cnt ? cnt : "?",
			 ok ? "OK" : "MISMATCH");
		free(cnt);
	}
	out_table_end(o);
	PQclear(r);
	*issues += bad;
	enum status st = bad ? ST_WARNING : ST_OK;
	out_kv_status(o, "import_counts", st,
		      "%d of %d table(s) disagree with the import summaries", bad, compared);
	return st;
}

/* pg_amcheck over midsops's schemas. The connection goes through PG* variables in the
 * child's environment so a password never reaches argv. */
static enum status check_physical(struct out *o, struct cmd_ctx *ctx, PGconn *c, int *issues)
{
	char err[1024], bin[4096];
	if (db_exec(c, err, sizeof err, "create extension if not exists amcheck", 0, NULL) < 0) {
		out_kv_status(
		    o, "physical", ST_UNKNOWN,
		    "skipped: the amcheck extension is not available (%s); a superuser can "
		    "run CREATE EXTENSION amcheck",
		    err);
		return ST_UNKNOWN;
	}
	if (!proc_pg_bin("pg_amcheck", bin, sizeof bin)) {
		out_kv_status(o, "physical", ST_UNKNOWN,
			      "skipped: pg_amcheck not found (install postgresql-client-15)");
		return ST_UNKNOWN;
	}
	char **envs = db_child_env(ctx->target->conninfo, PQdb(c), err, sizeof err);
	if (!envs) {
		out_kv_status(o, "physical", ST_UNKNOWN, "skipped: pg_amcheck cannot run: %s", err);
		return ST_UNKNOWN;
	}
	const char *dbname = PQdb(c);
	char dbarg[512];
	snprintf(dbarg, sizeof dbarg, "--database=%s", dbname);
	char *argv[] = {bin,
			"--no-password",
			"--schema=game",
			"--schema=builds",
			"--schema=ops",
			dbarg,
			"--no-strict-names",
			NULL};
	struct proc_opts po = {.envp_add = envs, .capture = 1};
	char *output = NULL;
	int rc = proc_run(argv, &po, &output);
	db_env_free(envs);
	enum status st;
	if (rc == 0) {
		st = ST_OK;
		out_kv_status(o, "physical", st,
			      "pg_amcheck found no corruption in game, builds, ops");
	} else if (rc == 2) {
		st = ST_CRITICAL;
		(*issues)++;
		out_kv_status(o, "physical", st, "pg_amcheck reports corruption");
	} else {
		st = ST_UNKNOWN;
		out_kv_status(o, "physical", st, "pg_amcheck could not run (exit %d)", rc);
	}
	if (output && output[0] && rc != 0) {
		char *save = NULL;
		int lines = 0;
		for (char *l = strtok_r(output, "\n", &save); l && lines < 20;
		     l = strtok_r(NULL, "\n", &save), lines++)
			out_line(o, "pg_amcheck: %s", l);
	}
	free(output);
	return st;
}

static int cmd_validate_all_data_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	PGconn *c = maint_connect(ctx, "validate-all-data");
	if (!c) {
		out_status(ctx->out, ST_CRITICAL, "cannot connect");
		return ST_CRITICAL;
	}
	enum status worst = ST_OK;
	int errors = 0, warnings = 0;
	const char *cols[] = {"check", "severity", "count", "examples"};
	out_section(ctx->out, "references_and_invariants");
	out_table_begin(ctx->out, "checks", 4, cols);
	for (const struct vcheck *v = vchecks; v->name; v++) {
		char sql[4096];
		snprintf(sql, sizeof sql,
			 "with x(d) as (%s) select count(*), (select string_agg(d, '; ') from"
			 " (select d from x order by d limit 5) s) from x",
			 v->rows);
		PGresult *r = db_query(c, err, sizeof err, sql, 0, NULL);
		const char *sev = v->sev == V_ERROR	? "error"
				  : v->sev == V_WARNING ? "warning"
							: "info";
		if (!r) {
			out_rowf(ctx->out, v->name, sev, "?", err);
			worst = status_worst(worst, ST_UNKNOWN);
			continue;
		}
		long long n = atoll(PQgetvalue(r, 0, 0));
		if (n > 0 && v->sev == V_ERROR) {
			errors++;
			worst = status_worst(worst, ST_CRITICAL);
		} else if (n > 0 && v->sev == V_WARNING) {
			warnings++;
			worst = status_worst(worst, ST_WARNING);
		}
		out_rowf(ctx->out, v->name, sev, PQgetvalue(r, 0, 0),
			 PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1));
		PQclear(r);
	}
	out_table_end(ctx->out);
	out_section_end(ctx->out);
	int issues = 0;
	out_section(ctx->out, "import_counts");
	worst = status_worst(worst, check_counts(ctx->out, c, &issues));
	out_section_end(ctx->out);
	out_section(ctx->out, "physical");
	enum status ph =
	    args_has(ctx->args, "no-amcheck") ? ST_OK : check_physical(ctx->out, ctx, c, &issues);
	if (args_has(ctx->args, "no-amcheck"))
		out_kv(ctx->out, "physical", "skipped (--no-amcheck)");
	/* amcheck unavailable is a caveat, not a data problem. */
	worst = status_worst(worst, ph == ST_UNKNOWN ? ST_OK : ph);
	out_section_end(ctx->out);
	db_event(c,
		 worst >= ST_CRITICAL ? "error"
		 : worst	      ? "warning"
				      : "info",
		 "validate-all-data", "%d failed checks, %d warnings, %d count/physical issues",
		 errors, warnings, issues);
	PQfinish(c);
	out_status(ctx->out, worst, "%d check(s) failed, %d warning(s)%s", errors, warnings,
		   ph == ST_UNKNOWN ? "; physical check unavailable" : "");
	return worst;
}

const struct cmd_entry cmd_maint_table[] = {
    {
	.name = "db-health",
	.summary = "Health probes: dead tuples and bloat, long transactions, lock blocking "
		   "tree, connections, checkpoints, WAL archiver",
	.usage = "db-health [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_db_health_exec,
    },
    {
	.name = "db-slow-queries",
	.options = "limit= threshold=",
	.summary = "Slowest web statements by mean and by total time from pg_stat_statements; "
		   "midsops's own listed apart, not judged",
	.usage = "db-slow-queries [--limit N] [--threshold MS] [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_db_slow_queries_exec,
    },
    {
	.name = "db-optimize",
	.options = "all",
	.summary = "Vacuum and analyze the tables that need it, rebuild the cache indexes; "
		   "before/after figures",
	.usage = "db-optimize [--all]",
	.flags = CMD_LONG,
	.exec = cmd_db_optimize_exec,
    },
    {
	.name = "db-vacuum",
	.options = "full analyze",
	.max_args = -1,
	.summary = "VACUUM midsops's tables (or the named ones) with progress and "
		   "before/after dead tuples and sizes",
	.usage = "db-vacuum [--full] [--analyze] [TABLE...]",
	.flags = CMD_LONG,
	.exec = cmd_db_vacuum_exec,
    },
    {
	.name = "db-analyze",
	.max_args = -1,
	.summary = "ANALYZE midsops's tables (or the named ones) with progress",
	.usage = "db-analyze [TABLE...]",
	.flags = CMD_LONG,
	.exec = cmd_db_analyze_exec,
    },
    {
	.name = "validate-all-data",
	.options = "no-amcheck",
	.summary = "Check every reference between game and builds, invariants, counts "
		   "against the last import, and pg_amcheck",
	.usage = "validate-all-data [--no-amcheck] [--json]",
	.flags = CMD_CHECK | CMD_LONG,
	.exec = cmd_validate_all_data_exec,
    },
    {0},
};
