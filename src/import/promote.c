/* Validate and promote: set-based SQL over stage.records, one statement per step, so no
 * work is per row on the client. Nested records (effects, templates, set bonuses,
 * enhancements, tag links, group members) are derived here from their parent's raw jsonb
 * and only for parents this generation changed, which is what makes a re-import of an
 * unchanged export cheap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "import_int.h"

struct kspec {
	enum import_kind kind;
	const char *ref;     /* a reference resolved by name: column */
	const char *refexpr; /* and its value, from the staged row s (typed columns s.f) */
	const char *keep; /* SQL condition on t: a row a build references is retired, not deleted */
};

/* The typed columns come from the importer in s.f (typed.c lists them); promote only
 * casts them. Kinds are promoted in this order, so a reference's target is in place. */
static const struct kspec kspecs[] = {
    {IK_DOCUMENT, NULL, NULL, NULL},
    {IK_ARCHETYPE, NULL, NULL,
     "exists (select 1 from builds.builds b where b.archetype_id = t.id)"},
    {IK_ARCHETYPE_TABLE, "archetype_id",
     "(select a.id from game.archetypes a where a.key = s.key and not a.retired)", NULL},
    {IK_POWER_CATEGORY, NULL, NULL, NULL},
    {IK_POWERSET, "category_id",
     "(select c.id from game.power_categories c where c.key = split_part(s.key, '.', 1) and "
     "not c.retired)",
     NULL},
    {IK_POWER, "powerset_id",
     "(select ps.id from game.powersets ps where ps.key = lower(s.f[4]) and not ps.retired)",
     "exists (select 1 from builds.build_powers b where b.power_id = t.id)"},
    {IK_ENHANCEMENT_SET, NULL, NULL, NULL},
    {IK_TAG, NULL, NULL, NULL},
    {IK_EXCLUSION_GROUP, NULL, NULL, NULL},
    {IK_RECHARGE_GROUP, NULL, NULL, NULL},
};

/* The kind's typed columns: names ("a, b"), their values from s.f ("s.f[1]::int, ..."),
 * and their updates ("a = excluded.a, ..."). */
static void typed_lists(const struct kspec *ks, struct strbuf *cols, struct strbuf *vals,
			struct strbuf *upd)
{
	const struct import_tcol *tc = import_typed_cols(ks->kind);
	for (int i = 0; tc && tc[i].json; i++) {
		strbuf_addf(cols, ", %s", tc[i].col);
		strbuf_addf(vals, ", s.f[%d]::%s", i + 1, import_typed_cast(tc[i].conv));
		strbuf_addf(upd, ", %s = excluded.%s", tc[i].col, tc[i].col);
	}
	if (ks->ref) {
		strbuf_addf(cols, ", %s", ks->ref);
		strbuf_addf(vals, ", %s", ks->refexpr);
		strbuf_addf(upd, ", %s = excluded.%s", ks->ref, ks->ref);
	}
}

int import_stage_clear(PGconn *c, const char *run, char *err, size_t errlen)
{
	if (!run)
		return db_exec(c, err, errlen,
			       "truncate stage.records, stage.effects, stage.templates", 0, NULL);
	const char *p[] = {run};
	return db_exec(c, err, errlen, "delete from stage.records where run_id = $1", 1, p) < 0 ||
		       db_exec(c, err, errlen, "delete from stage.effects where run_id = $1", 1,
			       p) < 0 ||
		       db_exec(c, err, errlen, "delete from stage.templates where run_id = $1", 1,
			       p) < 0
		   ? -1
		   : 0;
}

/* The server's side of typed.c, for documents staged without the importer. */
int import_stage_derive(struct import_run_state *r, char *err, size_t errlen)
{
	const char *p[] = {r->idtxt};
	static const char effects_sql[] =
	    "insert into stage.effects (run_id, key, idx, chance, ppm, delay, is_pvp, "
	    "requires_expression, template_count) select s.run_id, s.key, x.ord - 1, "
	    "game.j_num(x.v->'chance'), game.j_num(x.v->'ppm'), game.j_num(x.v->'delay'), "
	    "game.j_txt(x.v->'is_pvp'), game.j_txt(x.v->'requires_expression'), "
	    "jsonb_array_length(game.j_arr(x.v->'templates')) from stage.records s cross join "
	    "lateral jsonb_array_elements(game.j_arr(s.raw->'effects')) with ordinality x(v, ord) "
	    "where s.run_id = $1 and s.kind = 'power' and s.raw is not null and s.f is null";
	static const char templates_sql[] =
	    "insert into stage.templates (run_id, key, effect_idx, idx, attribs, type, "
	    "application_type, aspect, target, table_name, scale, magnitude, duration) "
	    "select s.run_id, s.key, x.ord - 1, y.ord - 1, game.j_txtarr(y.v->'attribs'), "
	    "game.j_txt(y.v->'type'), game.j_txt(y.v->'application_type'), "
	    "game.j_txt(y.v->'aspect'), game.j_txt(y.v->'target'), game.j_txt(y.v->'table'), "
	    "game.j_num(y.v->'scale'), game.j_num(y.v->'magnitude'), game.j_txt(y.v->'duration') "
	    "from stage.records s cross join lateral jsonb_array_elements(game.j_arr(s.raw->"
	    "'effects')) with ordinality x(v, ord) cross join lateral jsonb_array_elements("
	    "game.j_arr(x.v->'templates')) with ordinality y(v, ord) "
	    "where s.run_id = $1 and s.kind = 'power' and s.raw is not null and s.f is null";
	if (db_exec(r->c, err, errlen, effects_sql, 1, p) < 0 ||
	    db_exec(r->c, err, errlen, templates_sql, 1, p) < 0)
		return -1;
	for (size_t i = 0; i < sizeof kspecs / sizeof kspecs[0]; i++) {
		const struct import_tcol *tc = import_typed_cols(kspecs[i].kind);
		if (!tc)
			continue;
		struct strbuf sql = {0};
		char e[512];
		strbuf_adds(&sql, "update stage.records s set f = array[");
		for (int k = 0; tc[k].json; k++) {
			import_typed_sql(&tc[k], "s.raw", e, sizeof e);
			strbuf_addf(&sql, "%s(%s)::text", k ? ", " : "", e);
		}
		strbuf_addf(&sql,
			    "] where s.run_id = $1 and s.kind = '%s' and s.raw is not null and s.f "
			    "is null",
			    import_kind_name(kspecs[i].kind));
		int rc = db_exec(r->c, err, errlen, sql.s, 1, p);
		strbuf_free(&sql);
		if (rc < 0)
			return -1;
	}
	return 0;
}

PGresult *import_q(struct import_run_state *r, char *err, size_t errlen, const char *sql, int n,
		   const char *const *p)
{
	/* Checked before every statement of validate and promote, so that a stop asked between
	 * two of them is not left to the cancel that missed. */
	if (import_stopping(r)) {
		snprintf(err, errlen, "stop requested");
		return NULL;
	}
	double t = import_now();
	PGresult *res = import_exec_on(r, r->c, err, errlen, sql, n, p);
	import_log(r, "sql %.3fs %s: %.100s", import_now() - t, res ? PQcmdTuples(res) : "failed",
		   sql);
	return res;
}

static int q_exec(struct import_run_state *r, char *err, size_t errlen, const char *sql, int n,
		  const char *const *p)
{
	PGresult *res = import_q(r, err, errlen, sql, n, p);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* Where promote's statements go: run one by one (the end of promote), or queued on the
 * pipeline connection while staging goes on (import_pipe_*). */
struct sink {
	struct import_run_state *r;
	PGconn *pipe; /* NULL: run now on r->c */
	int bulk;     /* superuser: the replica role may skip RI checks */
	int plain;    /* the target was empty: no row can conflict, inserts need no ON CONFLICT */
};

static int sink_exec(struct sink *k, int bulk, char *err, size_t errlen, const char *sql, int n,
		     const char *const *p)
{
	if (k->pipe) {
		/* the pipeline only inserts: it runs in the replica role throughout (set by
		 * import_pipe_start for a superuser) */
		if (!PQsendQueryParams(k->pipe, sql, n, NULL, p, NULL, NULL, 0)) {
			snprintf(err, errlen, "%s", PQerrorMessage(k->pipe));
			return -1;
		}
		return 0;
	}
	/* An insert (or upsert) whose foreign keys hold by construction: every referenced id
	 * was just selected from its parent in this transaction, and the advisory lock keeps
	 * other imports out. As superuser the per-row RI checks (a query per inserted row, an
	 * eighth of the backend's time on the first import) are skipped by the replica role,
	 * for that one statement only: deletes keep their cascades and restrictions. Only
	 * game tables carry no other triggers, so nothing else is skipped. */
	bulk = bulk && k->bulk;
	if (bulk &&
	    q_exec(k->r, err, errlen, "set local session_replication_role = replica", 0, NULL) < 0)
		return -1;
	int rc = q_exec(k->r, err, errlen, sql, n, p);
	if (bulk && rc == 0 &&
	    q_exec(k->r, err, errlen, "set local session_replication_role = origin", 0, NULL) < 0)
		return -1;
	return rc;
}

/* Which staged rows a step takes: batches lo..hi while staging goes on, or at the end
 * every row the pipeline did not take (done: its last batch, -1 if none). */
struct span {
	const char *lo, *hi; /* hi NULL: the end of promote, rows after batch lo */
	int none_left;	     /* the end of promote, and no staged row is after batch lo */
};

static void span_pred(const struct span *sp, const char *alias, int first, char *buf, size_t n)
{
	if (sp->hi)
		snprintf(buf, n, "%s.batch between $%d and $%d", alias, first, first + 1);
	else
		snprintf(buf, n, "(%s.batch is null or %s.batch > $%d)", alias, alias, first);
}

static int promote_kind(struct sink *k, const struct kspec *ks, const char *gen,
			const struct span *sp, char *err, size_t errlen)
{
	const char *kind = import_kind_name(ks->kind), *table = import_kind_table(ks->kind);
	const char *p[] = {k->r->idtxt, kind, gen, sp->lo, sp->hi};
	int np = sp->hi ? 5 : 4, rc;
	char pred[128];
	struct strbuf sql = {0};
	span_pred(sp, "s", 4, pred, sizeof pred);
	/* What this generation replaces: changed and gone rows keep their old version, new
	 * keys are recorded as absent, so undoing a generation is mechanical. A batch records
	 * what its own rows replace; the end records the rest (rows a batch already took
	 * match their staged version by then) and the rows that left the export. */
	if (sp->hi)
		strbuf_addf(
		    &sql,
		    "insert into game.history (generation, kind, key, path, sha, raw) "
		    "select $3::int, $2, t.key, t.path, t.sha, t.raw from game.%s t join "
		    "stage.records s on s.run_id = $1 and s.kind = $2 and s.key = t.key and "
		    "%s where not t.retired and (s.sha <> t.sha or s.path <> t.path) "
		    "union all select $3::int, $2, s.key, null, null, null from stage.records s "
		    "where s.run_id = $1 and s.kind = $2 and %s and not exists (select 1 from "
		    "game.%s t where t.key = s.key and not t.retired)",
		    table, pred, pred, table);
	else
		strbuf_addf(
		    &sql,
		    "insert into game.history (generation, kind, key, path, sha, raw) "
		    "select $3::int, $2, t.key, t.path, t.sha, t.raw from game.%s t "
		    "where not t.retired and not exists (select 1 from stage.records s where "
		    "s.run_id = $1 and s.kind = $2 and s.key = t.key and s.sha = t.sha and "
		    "s.path = t.path) "
		    "union all select $3::int, $2, s.key, null, null, null from stage.records s "
		    "where s.run_id = $1 and s.kind = $2 and not exists (select 1 from game.%s t "
		    "where t.key = s.key and not t.retired)",
		    table, table);
	if ((rc = sink_exec(k, 0, err, errlen, sql.s, sp->hi ? 5 : 3, p)) < 0)
		goto out;
	if (!sp->none_left) {
		struct strbuf cols = {0}, vals = {0}, upd = {0};
		typed_lists(ks, &cols, &vals, &upd);
		strbuf_reset(&sql);
		strbuf_addf(
		    &sql,
		    "insert into game.%s as t (key, path, sha, raw, generation, retired%s) "
		    "select s.key, s.path, s.sha, s.raw, $3::int, false%s from stage.records "
		    "s where s.run_id = $1 and s.kind = $2 and s.raw is not null and %s",
		    table, strbuf_str(&cols), strbuf_str(&vals), pred);
		if (!k->plain)
			strbuf_addf(
			    &sql,
			    " on conflict (key) do update set path = excluded.path, sha = "
			    "excluded.sha, raw = excluded.raw, generation = "
			    "excluded.generation, retired = false%s where t.sha is distinct "
			    "from excluded.sha or t.retired or t.path <> excluded.path",
			    strbuf_str(&upd));
		strbuf_free(&cols);
		strbuf_free(&vals);
		strbuf_free(&upd);
		if ((rc = sink_exec(k, 1, err, errlen, sql.s, np, p)) < 0 || sp->hi)
			goto out;
	}
	/* Rows that left the export: deleted, unless a build still points at them. */
	strbuf_reset(&sql);
	strbuf_addf(&sql,
		    "with gone as (select t.id, %s as keep from game.%s t where not t.retired and "
		    "not exists (select 1 from stage.records s where s.run_id = $1 and s.kind = "
		    "$2 and s.key = t.key)), "
		    "del as (delete from game.%s d using gone where d.id = gone.id and not "
		    "gone.keep) "
		    "update game.%s u set retired = true, generation = $3::int from gone "
		    "where u.id = gone.id and gone.keep",
		    ks->keep ? ks->keep : "false", table, table, table);
	rc = sink_exec(k, 0, err, errlen, sql.s, 3, p);
out:
	strbuf_free(&sql);
	return rc;
}

/* Effects and templates of the powers changed in generation $1, from the importer's
 * typed rows of run $2. They keep no raw of their own: their source record is
 * effects[i] (.templates[j]) of the power's raw, and they carry the generation of the
 * power's last change. A first import (no effects yet for those powers) takes plain
 * inserts, without the cost of ON CONFLICT. */
static const char effects_insert[] =
    "insert into game.power_effects as x (power_id, idx, generation, chance, ppm, delay, is_pvp, "
    "requires_expression, template_count) select p.id, e.idx, $1::int, e.chance, e.ppm, e.delay, "
    "e.is_pvp, e.requires_expression, e.template_count from stage.effects e join game.powers p "
    "on p.key = e.key where e.run_id = $2 and p.generation = $1::int and not p.retired and %s%s";
static const char effects_upsert[] =
    " on conflict (power_id, idx) do update set raw = null, generation = excluded.generation, "
    "chance = excluded.chance, ppm = excluded.ppm, delay = excluded.delay, is_pvp = "
    "excluded.is_pvp, requires_expression = excluded.requires_expression, template_count = "
    "excluded.template_count";
static const char templates_insert[] =
    "insert into game.effect_templates as x (effect_id, idx, generation, attribs, type, "
    "application_type, aspect, target, table_name, scale, magnitude, duration) select pe.id, "
    "t.idx, $1::int, t.attribs, t.type, t.application_type, t.aspect, t.target, t.table_name, "
    "t.scale, t.magnitude, t.duration from stage.templates t join game.powers p on p.key = "
    "t.key join game.power_effects pe on pe.power_id = p.id and pe.idx = t.effect_idx where "
    "t.run_id = $2 and p.generation = $1::int and not p.retired and %s%s";
static const char templates_upsert[] =
    " on conflict (effect_id, idx) do update set raw = null, generation = excluded.generation, "
    "attribs = excluded.attribs, type = excluded.type, application_type = "
    "excluded.application_type, aspect = excluded.aspect, target = excluded.target, table_name "
    "= excluded.table_name, scale = excluded.scale, magnitude = excluded.magnitude, duration = "
    "excluded.duration";

/* Effects and templates of the powers changed in generation $1, from the importer's typed
 * rows of run $2. They keep no raw of their own: their source record is effects[i]
 * (.templates[j]) of the power's raw, and they carry the generation of the power's last
 * change. When no power has effects yet (a first import) they take plain inserts, without
 * the cost of ON CONFLICT. */
static int promote_effects(struct sink *k, const char *gen, const struct span *sp, int fresh,
			   char *err, size_t errlen)
{
	const char *p[] = {gen, k->r->idtxt, sp->lo, sp->hi};
	char pred[128];
	struct strbuf sql = {0};
	span_pred(sp, "e", 3, pred, sizeof pred);
	strbuf_addf(&sql, effects_insert, pred, fresh ? "" : effects_upsert);
	int rc = sink_exec(k, 1, err, errlen, sql.s, sp->hi ? 4 : 3, p);
	if (rc == 0) {
		span_pred(sp, "t", 3, pred, sizeof pred);
		strbuf_reset(&sql);
		strbuf_addf(&sql, templates_insert, pred, fresh ? "" : templates_upsert);
		rc = sink_exec(k, 1, err, errlen, sql.s, sp->hi ? 4 : 3, p);
	}
	strbuf_free(&sql);
	return rc;
}

/* Children of the parents changed in generation $1, derived from their documents (names
 * resolved by joins: a lookup per row was 0.7 s for the tag links alone): for
 * the parents of a span of batches (the pipeline) or of the rest (the end of promote).
 * %s is where the parent's span goes; $2 is the run. */
struct child {
	enum import_kind kind;
	const char *alias;  /* of the parent's table in fmt */
	const char *fmt;    /* the insert, %s: the parents' predicate */
	const char *upsert; /* its ON CONFLICT clause, left off on an empty target */
	int global_key;	    /* its conflict target is not under the parent: two parents may
			     * name one row, so it keeps the clause even on an empty target */
};
/* The members of an exclusion or recharge group: the two tables have one shape. */
#define GROUP_MEMBERS_INSERT(kind)                                                                 \
	.fmt = "insert into game." kind "_group_members as m (group_id, idx, raw, generation, "    \
	       "display_name, internal_name, power_id) select g.id, x.ord - 1, x.v, $1::int, "     \
	       "x.v->>0, "                                                                         \
	       "x.v->>1, p.id from game." kind "_groups g cross join lateral "                     \
	       "jsonb_array_elements(game.j_arr(g.raw->'powers')) with ordinality x(v, ord) left " \
	       "join "                                                                             \
	       "game.powers p on lower(p.key) = x.v->>1 and not p.retired where g.generation = "   \
	       "$1::int "                                                                          \
	       "and not g.retired and %s",                                                         \
	.upsert = " on conflict (group_id, idx) do update set raw = excluded.raw, generation = "   \
		  "excluded.generation, display_name = excluded.display_name, internal_name = "    \
		  "excluded.internal_name, power_id = excluded.power_id where m.raw is distinct "  \
		  "from excluded.raw"
static const struct child child_inserts[] = {
    {.kind = IK_ENHANCEMENT_SET,
     .alias = "s",
     .fmt = "insert into game.set_bonuses as b (set_id, idx, raw, generation, min_boosts, "
	    "max_boosts, auto_powers, is_pvp) select s.id, x.ord - 1, x.v, $1::int, "
	    "game.j_int(x.v->'min_boosts'), game.j_int(x.v->'max_boosts'), "
	    "game.j_txtarr(x.v->'auto_powers'), game.j_bool(x.v->'is_pvp_bonus') from "
	    "game.enhancement_sets s cross join lateral jsonb_array_elements(game.j_arr(s.raw->"
	    "'bonuses')) with ordinality x(v, ord) where s.generation = $1::int and not s.retired "
	    "and %s",
     .upsert = " on conflict (set_id, idx) do update set raw = excluded.raw, generation = "
	       "excluded.generation, min_boosts = excluded.min_boosts, max_boosts = "
	       "excluded.max_boosts, auto_powers = excluded.auto_powers, is_pvp = "
	       "excluded.is_pvp where b.raw is distinct from excluded.raw"},
    /* enhancements: keyed globally, so one that moves between sets keeps its id */
    {.kind = IK_ENHANCEMENT_SET,
     .alias = "s",
     .fmt = "insert into game.enhancements as e (key, set_id, raw, generation, retired, "
	    "computed_name, boost_type, min_slot_level, max_level, is_proc, is_unique, attuned) "
	    "select x.key, s.id, x.value, $1::int, false, game.j_txt(x.value->'computed_name'), "
	    "game.j_txt(x.value->'boost_type'), game.j_int(x.value->'min_slot_level'), "
	    "game.j_int(x.value->'max_level'), game.j_bool(x.value->'is_proc'), "
	    "game.j_bool(x.value->'is_unique'), game.j_bool(x.value->'attuned') from "
	    "game.enhancement_sets s cross join lateral jsonb_each(game.j_obj(game.j_obj(s.raw->"
	    "'computed')->'boost_infos')) x where s.generation = $1::int and not s.retired and %s",
     .upsert = " on conflict (key) do update set set_id = excluded.set_id, raw = excluded.raw, "
	       "generation = excluded.generation, retired = false, computed_name = "
	       "excluded.computed_name, boost_type = excluded.boost_type, min_slot_level = "
	       "excluded.min_slot_level, max_level = excluded.max_level, is_proc = "
	       "excluded.is_proc, is_unique = excluded.is_unique, attuned = excluded.attuned "
	       "where e.raw is distinct from excluded.raw or e.retired or e.set_id is distinct "
	       "from excluded.set_id",
     .global_key = 1},
    {.kind = IK_TAG,
     .alias = "t",
     .fmt = "insert into game.tag_links as l (tag_id, rel, idx, raw, generation, display_name, "
	    "internal_name, power_id, enhancement_id) select t.id, r.rel, x.ord - 1, x.v, $1::int, "
	    "x.v->>0, x.v->>1, p.id, e.id from game.tags t cross join (values ('bears'), "
	    "('affects')) r(rel) cross join lateral jsonb_array_elements(game.j_arr(t.raw->r.rel)) "
	    "with ordinality x(v, ord) left join game.powers p on lower(p.key) = x.v->>1 and not "
	    "p.retired left join game.enhancements e on x.v->>1 like 'boosts.%%' and e.key = "
	    "split_part(x.v->>1, '.', 2) and x.v->>1 = 'boosts.' || e.key || '.' || e.key and not "
	    "e.retired where t.generation = $1::int and not t.retired and %s",
     .upsert = " on conflict (tag_id, rel, idx) do update set raw = excluded.raw, generation = "
	       "excluded.generation, display_name = excluded.display_name, internal_name = "
	       "excluded.internal_name, power_id = excluded.power_id, enhancement_id = "
	       "excluded.enhancement_id where l.raw is distinct from excluded.raw"},
    {.kind = IK_EXCLUSION_GROUP, .alias = "g", GROUP_MEMBERS_INSERT("exclusion")},
    {.kind = IK_RECHARGE_GROUP, .alias = "g", GROUP_MEMBERS_INSERT("recharge")},
};

/* The children's ends, at the end of promote ($1: the generation). The first two are
 * skipped when no power had effects before this generation: nothing can be surplus. */
static const char *const child_tail[] = {
    "delete from game.power_effects e using game.powers p where e.power_id = p.id and "
    "p.generation = $1::int and not p.retired and e.idx >= p.effect_count",
    "delete from game.effect_templates t using game.power_effects e where t.effect_id = e.id "
    "and e.generation = $1::int and t.idx >= e.template_count",
    "delete from game.set_bonuses b using game.enhancement_sets s where b.set_id = s.id and "
    "s.generation = $1::int and b.idx >= s.bonus_count",
    /* enhancements whose set dropped them or went away: deleted unless slotted in a build */
    "with kept as (select s.id set_id, x.key from game.enhancement_sets s cross join lateral "
    "jsonb_object_keys(game.j_obj(game.j_obj(s.raw->'computed')->'boost_infos')) x(key) "
    "where s.generation = $1::int and not s.retired), "
    "gone as (select e.id, exists (select 1 from builds.build_enhancements b where "
    "b.enhancement_id = e.id) as keep from game.enhancements e left join game.enhancement_sets s "
    "on s.id = e.set_id where not e.retired and (s.id is null or s.retired or "
    "(s.generation = $1::int and not exists (select 1 from kept p where p.key = e.key "
    "and p.set_id = s.id)))), del as (delete from game.enhancements d using gone where d.id = "
    "gone.id and not gone.keep) update game.enhancements u set retired = true, generation = "
    "$1::int from gone where u.id = gone.id and gone.keep",
    "delete from game.tag_links l using game.tags t where l.tag_id = t.id and t.generation = "
    "$1::int and l.idx >= case l.rel when 'bears' then t.bears_count else t.affects_count end",
    "delete from game.exclusion_group_members m using game.exclusion_groups g where m.group_id "
    "= g.id and g.generation = $1::int and m.idx >= g.member_count",
    "delete from game.recharge_group_members m using game.recharge_groups g where m.group_id "
    "= g.id and g.generation = $1::int and m.idx >= g.member_count",
    NULL,
};

/* The document-derived children of the kinds in mask, for parents in the span. */
static int promote_children(struct sink *k, unsigned mask, const char *gen, const struct span *sp,
			    char *err, size_t errlen)
{
	const char *p[] = {gen, k->r->idtxt, sp->lo, sp->hi};
	for (size_t i = 0; i < sizeof child_inserts / sizeof child_inserts[0]; i++) {
		const struct child *c = &child_inserts[i];
		if (!(mask & (1u << c->kind)))
			continue;
		char span[128];
		struct strbuf pred = {0}, sql = {0};
		span_pred(sp, "b", 3, span, sizeof span);
		strbuf_addf(
		    &pred,
		    "exists (select 1 from stage.records b where b.run_id = $2 and b.kind = "
		    "'%s' and b.key = %s.key and %s)",
		    import_kind_name(c->kind), c->alias, span);
		strbuf_addf(&sql, c->fmt, pred.s);
		if (!k->plain || c->global_key)
			strbuf_adds(&sql, c->upsert);
		int rc = sink_exec(k, 1, err, errlen, sql.s, sp->hi ? 4 : 3, p);
		strbuf_free(&pred);
		strbuf_free(&sql);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* References by name resolved to ids, over every row (they may point at rows another
 * generation changed); only rows whose target changed are written. */
static const char *const resolve_sql[] = {
    "update game.archetype_tables x set archetype_id = m.aid from (select t.id, a.id aid from "
    "game.archetype_tables t left join game.archetypes a on a.key = t.key and not a.retired) m "
    "where x.id = m.id and x.archetype_id is distinct from m.aid",
    "update game.powersets x set category_id = m.cid from (select t.id, c.id cid from "
    "game.powersets t left join game.power_categories c on c.key = split_part(t.key, '.', 1) "
    "and not c.retired) m where x.id = m.id and x.category_id is distinct from m.cid",
    "update game.powers x set powerset_id = m.sid from (select t.id, s.id sid from game.powers t "
    "left join game.powersets s on s.key = lower(t.powerset_name) and not s.retired) m "
    "where x.id = m.id and x.powerset_id is distinct from m.sid",
    "update game.tag_links x set power_id = m.pid, enhancement_id = m.eid from (select l.id, "
    "p.id pid, e.id eid from game.tag_links l left join game.powers p on lower(p.key) = "
    "l.internal_name and not p.retired left join game.enhancements e on l.internal_name like "
    "'boosts.%' and e.key = split_part(l.internal_name, '.', 2) and l.internal_name = 'boosts.' "
    "|| e.key || '.' || e.key and not e.retired) m where x.id = m.id and (x.power_id is "
    "distinct from m.pid or x.enhancement_id is distinct from m.eid)",
    "update game.exclusion_group_members x set power_id = m.pid from (select g.id, p.id pid from "
    "game.exclusion_group_members g left join game.powers p on lower(p.key) = g.internal_name "
    "and not p.retired) m where x.id = m.id and x.power_id is distinct from m.pid",
    "update game.recharge_group_members x set power_id = m.pid from (select g.id, p.id pid from "
    "game.recharge_group_members g left join game.powers p on lower(p.key) = g.internal_name "
    "and not p.retired) m where x.id = m.id and x.power_id is distinct from m.pid",
    NULL,
};

/* Names taken from the documents, as printable text in a message: control characters
 * become \xNN, as import_printable writes them on the importer's side. */
#define SQL_PRINTABLE(x)                                                                           \
	"(select string_agg(case when ascii(ch) < 32 or ascii(ch) between 127 and 159 then "       \
	"'\\x' || lpad(to_hex(ascii(ch)), 2, '0') else ch end, '' order by i) from "               \
	"regexp_split_to_table(" x ", '') with ordinality c(ch, i))"

/* Dangling references: stored with an empty target, counted as warnings. */
static const char dangling_sql[] =
    "with d(what, n, sample) as ("
    "select 'powers name a powerset', count(*), string_agg(key, ', ' order by key) filter "
    "(where true) from (select key from game.powers where powerset_id is null and not retired) a "
    "union all select 'powersets have no category', count(*), string_agg(key, ', ') from "
    "(select key from game.powersets where category_id is null and not retired) a "
    "union all select 'archetype tables have no archetype', count(*), string_agg(key, ', ') "
    "from (select key from game.archetype_tables where archetype_id is null and not retired) a "
    "union all select 'tag links name a power or enhancement', count(*), "
    "string_agg(internal_name, ', ') from (select internal_name from game.tag_links where "
    "power_id is null and enhancement_id is null) a "
    "union all select 'exclusion group members name a power', count(*), "
    "string_agg(internal_name, ', ') from (select internal_name from "
    "game.exclusion_group_members where power_id is null) a "
    "union all select 'recharge group members name a power', count(*), "
    "string_agg(internal_name, ', ') from (select internal_name from "
    "game.recharge_group_members where power_id is null) a) "
    "insert into ops.import_errors (run_id, severity, code, message) "
    "select $1, 'warning', 'dangling_reference', n || ' ' || what || ' that is not in the export "
    "(stored with an empty target), e.g. ' || " SQL_PRINTABLE(
	"left(sample, 200)") " from d where n > 0 returning (regexp_match(message, "
			     "'^[0-9]+'))[1]::int";

int import_validate(struct import_run_state *r, char *err, size_t errlen)
{
	const char *p[] = {r->idtxt};
	int nerr = 0;
	PGresult *res = import_q(r, err, errlen,
				 "select kind, key, array_to_string(array_agg(path order by path), "
				 "', ') from stage.records where run_id = $1 group by kind, key "
				 "having count(*) > 1 order by 1, 2 limit 1000",
				 1, p);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		char msg[2048];
		snprintf(msg, sizeof msg, "duplicate natural key '%s' (%s) in: %s",
			 PQgetvalue(res, i, 1), PQgetvalue(res, i, 0), PQgetvalue(res, i, 2));
		char *comma = strstr(PQgetvalue(res, i, 2), ", ");
		import_record_error(r, comma ? comma + 2 : PQgetvalue(res, i, 2), "$",
				    "duplicate_key", msg);
		nerr++;
	}
	PQclear(res);
	/* Counts plausible against the current generation: a kind that shrinks by more than
	 * half is worth a warning. */
	res =
	    import_q(r, err, errlen,
		     "with s as (select kind, count(*) n from stage.records where run_id = $1 "
		     "group by kind), g as (select 'power' kind, count(*) n from game.powers "
		     "where not retired union all select 'powerset', count(*) from game.powersets "
		     "where not retired union all select 'enhancement_set', count(*) from "
		     "game.enhancement_sets where not retired union all select 'archetype', "
		     "count(*) from game.archetypes where not retired union all select 'tag', "
		     "count(*) from game.tags where not retired) "
		     "insert into ops.import_errors (run_id, severity, code, message) "
		     "select $1, 'warning', 'count_drop', g.kind || ': ' || coalesce(s.n, 0) || "
		     "' records staged, the current generation has ' || g.n from g left join s "
		     "using (kind) where g.n >= 10 and coalesce(s.n, 0) * 2 < g.n",
		     1, p);
	if (!res)
		return -1;
	r->warnings += atoi(PQcmdTuples(res));
	PQclear(res);
	/* Each powerset index against its power files. */
	res = import_q(
	    r, err, errlen,
	    "with ps as (select s.key, coalesce(s.raw, g.raw) raw from stage.records s left join "
	    "game.powersets g on g.key = s.key where s.run_id = $1 and s.kind = 'powerset'), "
	    "pw as (select lower(key) k from stage.records where run_id = $1 and kind = 'power'), "
	    "miss as (select ps.key, n from ps, jsonb_array_elements_text(game.j_arr(ps.raw->"
	    "'power_names')) n where not exists (select 1 from pw where pw.k = lower(n))) "
	    "insert into ops.import_errors (run_id, severity, code, message) "
	    "select $1, 'warning', 'index_mismatch', count(distinct key) || ' powerset indexes "
	    "list ' || count(*) || ' powers that have no file, e.g. ' || " SQL_PRINTABLE(
		"left(string_agg(n, ', '), 200)") " from miss having count(*) > 0",
	    1, p);
	if (!res)
		return -1;
	r->warnings += atoi(PQcmdTuples(res));
	PQclear(res);
	return nerr;
}

/* The generation, and whether RI checks may be skipped, on connection c. */
static int promote_setup(PGconn *c, int *gen, int *bulk, char *err, size_t errlen)
{
	char *g = db_scalar(c, err, errlen,
			    "select coalesce(max(generation), 0) + 1 from ops.import_generations",
			    0, NULL);
	if (!g)
		return -1;
	*gen = atoi(g);
	free(g);
	char *su = db_scalar(c, err, errlen, "select current_setting('is_superuser')", 0, NULL);
	if (!su)
		return -1;
	*bulk = strcmp(su, "on") == 0;
	free(su);
	/* Memoize would cache each power's whole document keyed by its value (hashing and
	 * comparing megabytes for no hit worth having). Both local to the promote
	 * transaction. */
	return db_exec(c, err, errlen, "set local work_mem = '64MB'", 0, NULL) < 0 ||
		       db_exec(c, err, errlen, "set local enable_memoize = off", 0, NULL) < 0
		   ? -1
		   : 0;
}

int import_promote(struct import_run_state *r, const char *kind, const struct import_pipe *pp,
		   char *err, size_t errlen)
{
	const char *p[] = {r->idtxt};
	int gen, bulk;
	char gen_s[32], done[32];
	if (pp) {
		gen = pp->gen;
		bulk = pp->bulk;
	} else if (promote_setup(r->c, &gen, &bulk, err, errlen) < 0) {
		return -1;
	}
	snprintf(gen_s, sizeof gen_s, "%d", gen);
	snprintf(done, sizeof done, "%ld", pp ? pp->done : -1L);
	struct sink k = {.r = r, .bulk = bulk};
	/* When the pipeline took every batch, only what needs the whole export is left:
	 * history and retirement of the rows that left it, surplus children, references. */
	struct span rest = {.lo = done, .none_left = pp && pp->done >= pp->staged};
	/* Into an empty database with every batch taken, the rest is empty too: no row is
	 * older than this transaction, so none left the export, replaced a version or has
	 * surplus children, and each reference was resolved as its row went in (the kinds go
	 * in promote order: what is named before what names it). */
	int first = rest.none_left && pp->empty;
	for (size_t i = 0; !first && i < sizeof kspecs / sizeof kspecs[0]; i++)
		if (promote_kind(&k, &kspecs[i], gen_s, &rest, err, errlen) < 0)
			return -1;
	const char *gp[] = {gen_s};
	PGresult *old =
	    import_q(r, err, errlen,
		     "select exists (select 1 from game.power_effects e join game.powers "
		     "p on p.id = e.power_id where p.generation = $1::int)",
		     1, gp);
	if (!old)
		return -1;
	int fresh = PQgetvalue(old, 0, 0)[0] == 'f';
	PQclear(old);
	if (!rest.none_left && (promote_effects(&k, gen_s, &rest, fresh, err, errlen) < 0 ||
				promote_children(&k, ~0u, gen_s, &rest, err, errlen) < 0))
		return -1;
	/* No power had effects before this generation (the pipeline knows it from the start;
	 * otherwise no power of this one has effects before this point): none is surplus. */
	int none_before = pp ? pp->fresh : fresh;
	for (int i = 0; !first && child_tail[i]; i++) {
		if (none_before && i < 2)
			continue;
		if (sink_exec(&k, 0, err, errlen, child_tail[i], 1, gp) < 0)
			return -1;
	}
	for (int i = 0; !first && resolve_sql[i]; i++)
		if (q_exec(r, err, errlen, resolve_sql[i], 0, NULL) < 0)
			return -1;
	PGresult *res = import_q(r, err, errlen, dangling_sql, 1, p);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		r->warnings += atoi(PQgetvalue(res, i, 0));
	PQclear(res);
	const char *gk[] = {gen_s, r->idtxt, kind};
	if (q_exec(
		r, err, errlen,
		"insert into ops.import_generations (generation, run_id, kind, previous, counts) "
		"select $1::int, $2, $3, (select max(generation) from ops.import_generations), "
		"coalesce((select jsonb_object_agg(kind, jsonb_build_object('added', a, "
		"'changed', c, 'removed', d)) from (select h.kind, count(*) filter (where h.raw "
		"is null) a, count(*) filter (where h.raw is not null and s.key is not null) c, "
		"count(*) filter (where h.raw is not null and s.key is null) d from game.history "
		"h left join stage.records s on s.run_id = $2 and s.kind = h.kind and s.key = "
		"h.key where h.generation = $1::int group by h.kind) x), '{}')",
		3, gk) < 0)
		return -1;
	/* Derived API results are stale now. */
	PGresult *cache =
	    import_q(r, err, errlen, "select to_regclass('cache.entries') is not null", 0, NULL);
	if (!cache)
		return -1;
	int has_cache = PQgetvalue(cache, 0, 0)[0] == 't';
	PQclear(cache);
	if (has_cache && q_exec(r, err, errlen, "delete from cache.entries", 0, NULL) < 0)
		return -1;
	/* Once promoted, a run's files serve no resume: it keeps the ones it changed (staged
	 * with a document), not a copy of the whole export per run. Its files_total still
	 * counts them all. Into an empty database every file is new. The paths as an array
	 * probe the primary key; as a join the planner, misjudging the staged rows, chose a
	 * nested loop over both (5 s for the real export). */
	if (!first && strcmp(kind, "import") == 0 &&
	    q_exec(r, err, errlen,
		   "delete from ops.import_files f where f.run_id = $1 and f.path = any (array("
		   "select s.path from stage.records s where s.run_id = $1 and s.raw is null))",
		   1, p) < 0)
		return -1;
	/* Only this run's rows are staged (a new run empties staging), and truncating is far
	 * cheaper than deleting tens of thousands of rows; undone with the rest on failure. */
	if (q_exec(r, err, errlen, "truncate stage.records, stage.effects, stage.templates", 0,
		   NULL) < 0)
		return -1;
	return gen;
}

/* ---- promote while staging ---- */

int import_pipe_start(struct import_run_state *r, struct import_pipe *pp, char *err, size_t errlen)
{
	(void)r;
	char *none;
	if (db_begin(pp->c, err, errlen) < 0 ||
	    promote_setup(pp->c, &pp->gen, &pp->bulk, err, errlen) < 0 ||
	    !(none = db_scalar(pp->c, err, errlen,
			       "select not exists (select 1 from game.power_effects)", 0, NULL)))
		return -1;
	pp->fresh = none[0] == 't';
	free(none);
	/* Every record table is empty; the children cascade with their parents, but an
	 * enhancement outlives its set while a build slots it. */
	struct strbuf sql = {0};
	strbuf_adds(&sql, "select not exists (select 1 from game.enhancements)");
	for (size_t i = 0; i < sizeof kspecs / sizeof kspecs[0]; i++)
		strbuf_addf(&sql, " and not exists (select 1 from game.%s)",
			    import_kind_table(kspecs[i].kind));
	none = db_scalar(pp->c, err, errlen, sql.s, 0, NULL);
	strbuf_free(&sql);
	if (!none)
		return -1;
	pp->empty = none[0] == 't';
	free(none);
	/* Everything the pipeline queues is an insert whose references hold by construction
	 * (see sink_exec); import_pipe_finish restores the role before the end of promote,
	 * whose deletes need their foreign keys. */
	if (pp->bulk && db_exec(pp->c, err, errlen, "set local session_replication_role = replica",
				0, NULL) < 0)
		return -1;
	snprintf(pp->gen_s, sizeof pp->gen_s, "%d", pp->gen);
	pp->done = -1;
	if (!PQenterPipelineMode(pp->c)) {
		snprintf(err, errlen, "pipeline mode: %s", PQerrorMessage(pp->c));
		return -1;
	}
	return 0;
}

/* Read the results that have arrived (all of them when block): errors end the pipeline. */
static void pipe_consume(struct import_pipe *pp, int block)
{
	while (pp->queued > 0) {
		if (!block) {
			if (!PQconsumeInput(pp->c)) {
				pp->failed = 1;
				snprintf(pp->err, sizeof pp->err, "%s", PQerrorMessage(pp->c));
				return;
			}
			if (PQisBusy(pp->c))
				return;
		}
		PGresult *res = PQgetResult(pp->c);
		if (!res) {
			if (PQstatus(pp->c) == CONNECTION_BAD) {
				pp->failed = 1;
				snprintf(pp->err, sizeof pp->err, "%s", PQerrorMessage(pp->c));
				return;
			}
			continue;
		}
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			pp->queued--;
		} else if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) {
			const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			if (code && strcmp(code, "57014") == 0)
				pp->cancelled = 1;
			if (!pp->failed)
				snprintf(pp->err, sizeof pp->err, "%s",
					 st == PGRES_FATAL_ERROR ? PQresultErrorMessage(res)
								 : "pipeline aborted");
			pp->failed = 1;
		}
		PQclear(res);
	}
}

void import_pipe_batch(struct import_run_state *r, struct import_pipe *pp, long lo, long no,
		       unsigned kinds)
{
	if (!pp->c || pp->failed)
		return;
	char a[32], b[32], err[512];
	snprintf(a, sizeof a, "%ld", lo);
	snprintf(b, sizeof b, "%ld", no);
	struct sink k = {.r = r, .pipe = pp->c, .bulk = pp->bulk, .plain = pp->empty};
	struct span sp = {.lo = a, .hi = b};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof kspecs / sizeof kspecs[0]; i++)
		if (kinds & (1u << kspecs[i].kind))
			rc = promote_kind(&k, &kspecs[i], pp->gen_s, &sp, err, sizeof err);
	if (rc == 0 && (kinds & (1u << IK_POWER)))
		rc = promote_effects(&k, pp->gen_s, &sp, pp->fresh, err, sizeof err);
	if (rc == 0)
		rc = promote_children(&k, kinds, pp->gen_s, &sp, err, sizeof err);
	/* Fault injection for the tests: a statement of batch 2 fails on the server. */
	const char *fault = getenv("MIDSOPS_IMPORT_FAULT");
	if (rc == 0 && lo <= 2 && no >= 2 && fault && strcmp(fault, "pipeline") == 0)
		rc = sink_exec(&k, 0, err, sizeof err, "select 1 / 0", 0, NULL);
	if (rc == 0 && !PQpipelineSync(pp->c)) {
		snprintf(err, sizeof err, "%s", PQerrorMessage(pp->c));
		rc = -1;
	}
	if (rc < 0) {
		pp->failed = 1;
		snprintf(pp->err, sizeof pp->err, "%s", err);
		return;
	}
	pp->queued++;
	pp->done = no;
	pipe_consume(pp, 0);
	/* The promote's backend was cancelled (emergency-stop cancels every backend of the
	 * run): that is a stop, not a pipeline failure to work around. */
	if (pp->cancelled)
		r->stop_requested = 1;
}

int import_pipe_finish(struct import_run_state *r, struct import_pipe *pp)
{
	double t = import_now();
	pipe_consume(pp, 1);
	if (PQstatus(pp->c) == CONNECTION_OK && pp->queued == 0 && !PQexitPipelineMode(pp->c)) {
		pp->failed = 1;
		snprintf(pp->err, sizeof pp->err, "%s", PQerrorMessage(pp->c));
	}
	/* Undo the batches now, so their row locks are gone before promote starts over. */
	if (pp->failed && PQpipelineStatus(pp->c) == PQ_PIPELINE_OFF)
		PQclear(PQexec(pp->c, "rollback"));
	if (!pp->failed && pp->bulk) {
		char err[512];
		if (db_exec(pp->c, err, sizeof err, "set local session_replication_role = origin",
			    0, NULL) < 0) {
			pp->failed = 1;
			snprintf(pp->err, sizeof pp->err, "%s", err);
		}
	}
	if (pp->cancelled)
		r->stop_requested = 1;
	import_log(r, "promote pipeline: batches through %ld %s (waited %.3fs)%s%s", pp->done,
		   pp->failed ? "failed" : "done", import_now() - t, pp->failed ? ": " : "",
		   pp->failed ? pp->err : "");
	return pp->failed ? -1 : 0;
}
