/* Results copied out of libpq, so that commands render rows without touching PGresult;
 * statements of pg_stat_statements; the journal. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "maint.h"
#include "util.h"

static void rows_from(PGresult *res, struct maint_rows *r)
{
	r->ncols = PQnfields(res);
	r->nrows = PQntuples(res);
	r->names = xcalloc((size_t)r->ncols + 1, sizeof *r->names);
	r->cells = xcalloc((size_t)r->ncols * (size_t)r->nrows + 1, sizeof *r->cells);
	for (int i = 0; i < r->ncols; i++)
		r->names[i] = xstrdup(PQfname(res, i));
	for (int row = 0; row < r->nrows; row++)
		for (int i = 0; i < r->ncols; i++)
			if (!PQgetisnull(res, row, i))
				r->cells[row * r->ncols + i] = xstrdup(PQgetvalue(res, row, i));
}

int maint_rows_query(PGconn *c, struct maint_rows *r, struct db_error *e, const char *sql,
		     int nparams, const char *const *params)
{
	*r = (struct maint_rows){0};
	PGresult *res = db_query_e(c, e, sql, nparams, params);
	if (!res)
		return -1;
	rows_from(res, r);
	PQclear(res);
	return 0;
}

int maint_rows_query_num(PGconn *c, struct maint_rows *r, struct db_error *e, const char *sql,
			 long long v)
{
	char s[32];
	snprintf(s, sizeof s, "%lld", v);
	const char *p[] = {s};
	return maint_rows_query(c, r, e, sql, 1, p);
}

const char *maint_cell(const struct maint_rows *r, int row, int col)
{
	if (!r->cells || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

int maint_num(const struct maint_rows *r, int row, int col, double *v)
{
	const char *s = maint_cell(r, row, col);
	if (!s)
		return 0;
	*v = strtod(s, NULL);
	return 1;
}

void maint_rows_free(struct maint_rows *r)
{
	for (int i = 0; r->names && i < r->ncols; i++)
		free(r->names[i]);
	for (int i = 0; r->cells && i < r->ncols * r->nrows; i++)
		free(r->cells[i]);
	free(r->names);
	free(r->cells);
	*r = (struct maint_rows){0};
}

int maint_statements(PGconn *c, enum stmt_scope scope, const char *order, int limit,
		     double min_mean_ms, struct maint_stmts *s)
{
	struct health_probe p;
	*s = (struct maint_stmts){0};
	int rc = health_statements(c, scope, order, limit, min_mean_ms, &p);
	s->ok = rc == 0;
	snprintf(s->reason, sizeof s->reason, "%s", p.reason);
	if (rc == 0 && p.res)
		rows_from(p.res, &s->rows);
	health_probe_free(&p);
	return rc;
}

void maint_stmts_free(struct maint_stmts *s)
{
	maint_rows_free(&s->rows);
}

void maint_journal(PGconn *c, const char *level, const char *source, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	db_event(c, level, source, "%s", s ? s : "");
	free(s);
}
