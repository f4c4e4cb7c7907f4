/* A health probe's rows read without libpq, so the renderers (src/cmd/health_render.c) stay
 * out of the database layer; and the two small probes behind the `cache` and `maintenance`
 * sections of `status`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "probe_health.h"

int health_probe_nrows(const struct health_probe *p)
{
	return p->res ? PQntuples(p->res) : 0;
}

int health_probe_ncols(const struct health_probe *p)
{
	return p->res ? PQnfields(p->res) : 0;
}

const char *health_probe_colname(const struct health_probe *p, int col)
{
	const char *n = p->res ? PQfname(p->res, col) : NULL;
	return n ? n : "";
}

int health_probe_col(const struct health_probe *p, const char *name)
{
	return p->res ? PQfnumber(p->res, name) : -1;
}

const char *health_probe_cell(const struct health_probe *p, int row, int col)
{
	if (!p->res || col < 0 || PQgetisnull(p->res, row, col))
		return NULL;
	return PQgetvalue(p->res, row, col);
}

const char *health_probe_text(const struct health_probe *p, int row, int col)
{
	const char *v = health_probe_cell(p, row, col);
	return v ? v : "";
}

int probe_cache_created(PGconn *c)
{
	char err[256];
	char *have =
	    db_scalar(c, err, sizeof err, "select to_regclass('cache.settings')::text", 0, NULL);
	free(have);
	return have != NULL;
}

static void copy_cell(PGresult *r, int col, char *dst, size_t n)
{
	if (PQgetisnull(r, 0, col))
		dst[0] = 0;
	else
		snprintf(dst, n, "%s", PQgetvalue(r, 0, col));
}

int probe_maint_summary(PGconn *c, struct maint_summary *m)
{
	memset(m, 0, sizeof *m);
	PGresult *r = db_query(
	    c, m->error, sizeof m->error,
	    "select (select s.schemaname || '.' || s.relname from pg_stat_user_tables s"
	    "   where s.n_live_tup + s.n_dead_tup >= 1000"
	    "   order by s.n_dead_tup::float8 / (s.n_live_tup + s.n_dead_tup) desc limit 1),"
	    " (select round(100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup), 1)"
	    "   from pg_stat_user_tables s where s.n_live_tup + s.n_dead_tup >= 1000"
	    "   order by s.n_dead_tup::float8 / (s.n_live_tup + s.n_dead_tup) desc limit 1),"
	    " (select to_char(min(greatest(last_vacuum, last_autovacuum)), 'YYYY-MM-DD HH24:MI')"
	    "   from pg_stat_user_tables where schemaname in ('game', 'builds')),"
	    " (select to_char(min(greatest(last_analyze, last_autoanalyze)), 'YYYY-MM-DD HH24:MI')"
	    "   from pg_stat_user_tables where schemaname in ('game', 'builds')),"
	    " (select count(*) from pg_stat_progress_vacuum)",
	    0, NULL);
	if (!r)
		return -1;
	copy_cell(r, 0, m->worst_table, sizeof m->worst_table);
	m->worst_dead_pct = PQgetisnull(r, 0, 1) ? 0 : strtod(PQgetvalue(r, 0, 1), NULL);
	copy_cell(r, 2, m->oldest_vacuum, sizeof m->oldest_vacuum);
	copy_cell(r, 3, m->oldest_analyze, sizeof m->oldest_analyze);
	copy_cell(r, 4, m->vacuums_running, sizeof m->vacuums_running);
	PQclear(r);
	m->ok = 1;
	return 0;
}
