/* validate-all-data's engine: reference and invariant checks, row counts against the
 * import summaries, and pg_amcheck. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint.h"
#include "proc.h"
#include "target.h"
#include "util.h"

const struct vcheck maint_vchecks[] = {
    /* References between builds and game: user data must never point nowhere. */
    {"builds.archetype -> game.archetypes", VCHECK_ERROR,
     "select 'build ' || b.id || ' archetype_id ' || b.archetype_id from builds.builds b"
     " where b.archetype_id is not null and not exists"
     " (select 1 from game.archetypes a where a.id = b.archetype_id)"},
    {"build_powers.power -> game.powers", VCHECK_ERROR,
     "select 'build_power ' || bp.id || ' power_id ' || bp.power_id from builds.build_powers bp"
     " where not exists (select 1 from game.powers p where p.id = bp.power_id)"},
    {"build_powers.build -> builds.builds", VCHECK_ERROR,
     "select 'build_power ' || bp.id || ' build_id ' || bp.build_id from builds.build_powers bp"
     " where not exists (select 1 from builds.builds b where b.id = bp.build_id)"},
    {"build_enhancements.enhancement -> game.enhancements", VCHECK_ERROR,
     "select 'build_enhancement ' || be.id || ' enhancement_id ' || be.enhancement_id"
     " from builds.build_enhancements be where not exists"
     " (select 1 from game.enhancements e where e.id = be.enhancement_id)"},
    {"build_enhancements.build_power -> builds.build_powers", VCHECK_ERROR,
     "select 'build_enhancement ' || be.id || ' build_power_id ' || be.build_power_id"
     " from builds.build_enhancements be where not exists"
     " (select 1 from builds.build_powers bp where bp.id = be.build_power_id)"},
    {"builds using retired game rows", VCHECK_WARNING,
     "select 'build_power ' || bp.id || ' uses retired power ' || p.key"
     " from builds.build_powers bp join game.powers p on p.id = bp.power_id where p.retired"
     " union all select 'build_enhancement ' || be.id || ' uses retired enhancement ' || e.key"
     " from builds.build_enhancements be join game.enhancements e on e.id = be.enhancement_id"
     " where e.retired"},
    /* References inside game. */
    {"powers.powerset -> game.powersets", VCHECK_WARNING,
     "select 'power ' || p.key from game.powers p where not p.retired and (p.powerset_id is null"
     " or not exists (select 1 from game.powersets s where s.id = p.powerset_id))"},
    {"powersets.category -> game.power_categories", VCHECK_WARNING,
     "select 'powerset ' || s.key from game.powersets s where not s.retired and"
     " (s.category_id is null or not exists"
     " (select 1 from game.power_categories c where c.id = s.category_id))"},
    {"enhancements.set -> game.enhancement_sets", VCHECK_WARNING,
     "select 'enhancement ' || e.key from game.enhancements e where not e.retired and"
     " (e.set_id is null or not exists (select 1 from game.enhancement_sets s where s.id = "
     "e.set_id))"},
    {"group members -> game.powers", VCHECK_INFO,
     "select 'exclusion group ' || g.key || ': ' || coalesce(m.internal_name, '?')"
     " from game.exclusion_group_members m join game.exclusion_groups g on g.id = m.group_id"
     " where m.power_id is null union all"
     " select 'recharge group ' || g.key || ': ' || coalesce(m.internal_name, '?')"
     " from game.recharge_group_members m join game.recharge_groups g on g.id = m.group_id"
     " where m.power_id is null"},
    /* Invariants. */
    {"levels 1..50 (builds)", VCHECK_ERROR,
     "select 'build ' || id || ' level ' || level from builds.builds"
     " where level is not null and level not between 1 and 50"
     " union all select 'build_power ' || id || ' level ' || level from builds.build_powers"
     " where level is not null and level not between 1 and 50"
     " union all select 'build_enhancement ' || id || ' level ' || level"
     " from builds.build_enhancements where level is not null and level not between 1 and 50"},
    /* available_level is 0-based in the export (-1: never offered). */
    {"levels 1..50 (powers, sets)", VCHECK_ERROR,
     "select 'power ' || key || ' available_level ' || available_level from game.powers"
     " where available_level is not null and available_level not between -1 and 49"
     " union all select 'set ' || key || ' levels ' || min_level || '..' || max_level"
     " from game.enhancement_sets where min_level not between 1 and 50"
     "   or max_level not between 1 and 50"},
    {"set min_level <= max_level", VCHECK_ERROR,
     "select 'set ' || key || ' ' || min_level || ' > ' || max_level from game.enhancement_sets"
     " where min_level > max_level"},
    {"set bonus min_boosts <= max_boosts", VCHECK_ERROR,
     "select 'set bonus ' || b.id || ' ' || b.min_boosts || ' > ' || b.max_boosts"
     " from game.set_bonuses b where b.min_boosts > b.max_boosts or b.min_boosts < 0"},
    {"numeric ranges of powers", VCHECK_ERROR,
     "select 'power ' || key from game.powers where accuracy < 0 or endurance_cost < 0"
     " or recharge_time < 0 or activation_time < 0 or range < 0 or radius < 0"
     " or arc not between 0 and 360 or max_targets_hit < 0 or max_boosts < 0"
     " or accuracy = 'NaN' or recharge_time = 'NaN' or endurance_cost = 'NaN'"},
    {NULL, 0, NULL},
};

int maint_vcheck_run(PGconn *c, const struct vcheck *v, long long *count, char **examples,
		     struct db_error *e)
{
	struct strbuf sql = {0};
	strbuf_addf(&sql,
		    "with x(d) as (%s) select count(*), (select string_agg(d, '; ') from"
		    " (select d from x order by d limit 5) s) from x",
		    v->rows);
	PGresult *r = db_query_e(c, e, sql.s, 0, NULL);
	strbuf_free(&sql);
	if (!r)
		return -1;
	*count = atoll(PQgetvalue(r, 0, 0));
	*examples = PQgetisnull(r, 0, 1) ? NULL : xstrdup(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

/* Rows of the game table not retired; -1 when the table has no retired flag (nothing to
 * compare) and -2 when it cannot be counted. */
static long long live_rows(PGconn *c, const char *table)
{
	struct db_error e;
	const char *p[] = {table};
	PGresult *r = db_query_e(c, &e,
				 "select 1 from information_schema.columns where table_schema ="
				 " 'game' and table_name = $1 and column_name = 'retired'",
				 1, p);
	int has = r && PQntuples(r) > 0;
	PQclear(r);
	if (!has)
		return -1;
	char *ident = PQescapeIdentifier(c, table, strlen(table));
	if (!ident)
		return -2;
	struct strbuf sql = {0};
	strbuf_addf(&sql, "select count(*) from game.%s where not retired", ident);
	PQfreemem(ident);
	r = db_query_e(c, &e, sql.s, 0, NULL);
	strbuf_free(&sql);
	long long n = r && PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : -2;
	PQclear(r);
	return n;
}

/* Every promoted generation records, per kind, the records it added, changed and removed
 * (ops.import_generations.counts), so the sum of added minus removed over all generations
 * is what each game table should hold now (rows not retired). */
int maint_import_counts(PGconn *c, struct count_row **rows, struct db_error *e)
{
	*rows = NULL;
	PGresult *r =
	    db_query_e(c, e,
		       "select k.key, case k.key when 'power_category' then 'power_categories'"
		       "  else k.key || 's' end,"
		       " sum(coalesce((k.value->>'added')::bigint, 0) - "
		       "coalesce((k.value->>'removed')::bigint, 0))"
		       " from ops.import_generations g,"
		       "  jsonb_each(case when jsonb_typeof(g.counts) = 'object' then g.counts"
		       "   else '{}'::jsonb end) k"
		       " group by 1, 2 order by 1",
		       0, NULL);
	if (!r)
		return -1;
	int n = 0;
	*rows = xcalloc((size_t)PQntuples(r) + 1, sizeof **rows);
	for (int i = 0; i < PQntuples(r); i++) {
		struct count_row *cr = &(*rows)[n];
		long long now = live_rows(c, PQgetvalue(r, i, 1));
		if (now == -1)
			continue;
		snprintf(cr->kind, sizeof cr->kind, "%s", PQgetvalue(r, i, 0));
		snprintf(cr->table, sizeof cr->table, "%s", PQgetvalue(r, i, 1));
		cr->expected = atoll(PQgetvalue(r, i, 2));
		cr->now = now < 0 ? -1 : now;
		n++;
	}
	PQclear(r);
	return n;
}

/* The connection goes through PG* variables in the child's environment so a password
 * never reaches argv. */
void maint_amcheck(PGconn *c, const struct target *t, struct amcheck *a)
{
	char err[1024], bin[4096];
	struct db_error e;
	*a = (struct amcheck){.result = AMCHECK_SKIPPED};
	PGresult *r = db_query_e(c, &e, "create extension if not exists amcheck", 0, NULL);
	if (!r) {
		snprintf(a->reason, sizeof a->reason,
			 "skipped: the amcheck extension is not available (%s); a superuser can "
			 "run CREATE EXTENSION amcheck",
			 e.message);
		return;
	}
	PQclear(r);
	if (!proc_pg_bin("pg_amcheck", bin, sizeof bin)) {
		snprintf(a->reason, sizeof a->reason,
			 "skipped: pg_amcheck not found (install postgresql-client-15)");
		return;
	}
	char **envs = db_child_env(t->conninfo, PQdb(c), err, sizeof err);
	if (!envs) {
		snprintf(a->reason, sizeof a->reason, "skipped: pg_amcheck cannot run: %s", err);
		return;
	}
	struct strbuf dbarg = {0};
	strbuf_addf(&dbarg, "--database=%s", PQdb(c));
	char *argv[] = {bin,
			"--no-password",
			"--schema=game",
			"--schema=builds",
			"--schema=ops",
			dbarg.s,
			"--no-strict-names",
			NULL};
	struct proc_opts po = {.envp_add = envs, .capture = 1};
	a->exit_status = proc_run(argv, &po, &a->output);
	db_env_free(envs);
	strbuf_free(&dbarg);
	a->result = a->exit_status == 0	  ? AMCHECK_CLEAN
		    : a->exit_status == 2 ? AMCHECK_CORRUPT
					  : AMCHECK_FAILED;
}
