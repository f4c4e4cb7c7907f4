/* The api cache's maintenance: the SQL behind cache-analyze, cache-cleanup, cache-clear,
 * cache-rebuild-indexes and cache-warm (sql/020_cache.sql holds the functions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint.h"
#include "util.h"

const char *const maint_cache_tables[3] = {"cache.entries", "cache.entry_hits", "cache.counters"};

/* One value of a statement returning one (the functions' counts) into buf. */
static int scalar(PGconn *c, const char *sql, int nparams, const char *const *params, char *buf,
		  size_t n, struct db_error *e)
{
	PGresult *r = db_query_e(c, e, sql, nparams, params);
	if (!r)
		return -1;
	snprintf(buf, n, "%s",
		 PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0)
									       : "");
	PQclear(r);
	return 0;
}

int maint_cache_fold(PGconn *c, struct db_error *e)
{
	char v[32];
	return scalar(c, "select cache.fold()", 0, NULL, v, sizeof v, e);
}

int maint_cache_analyze(PGconn *c, long top, struct cache_analysis *a, struct db_error *e)
{
	*a = (struct cache_analysis){0};
	if (maint_rows_query(
		c, &a->by_prefix, e,
		"select prefix, sum(hits) as hits, sum(misses) as misses,"
		" round(100.0 * sum(hits) / nullif(sum(hits) + sum(misses), 0), 2) as hit_pct,"
		" sum(entries) as entries, sum(bytes) as bytes, sum(evictions) as evictions,"
		" sum(expiries) as expiries, sum(invalidations) as invalidations"
		" from cache.counters group by prefix"
		" order by sum(hits) + sum(misses) desc, prefix",
		0, NULL) < 0)
		return -1;
	char lim[32];
	snprintf(lim, sizeof lim, "%ld", top);
	const char *p[] = {lim};
	if (maint_rows_query(
		c, &a->top_keys, e,
		"select key, hits, bytes, to_char(created, 'YYYY-MM-DD HH24:MI:SS') as created,"
		" to_char(last_hit, 'YYYY-MM-DD HH24:MI:SS') as last_hit,"
		" round(extract(epoch from expires - now())) as expires_in_s"
		" from cache.entries order by hits desc, key limit $1::int",
		1, p) < 0)
		return -1;
	return maint_rows_query(
	    c, &a->sizes, e,
	    "select b.bucket, count(e.key) as entries, coalesce(sum(e.bytes), 0) as bytes"
	    " from (values (1, '< 1 kB', 0, 1024), (2, '1-4 kB', 1024, 4096),"
	    "  (3, '4-16 kB', 4096, 16384), (4, '16-64 kB', 16384, 65536),"
	    "  (5, '>= 64 kB', 65536, 2147483647)) b(n, bucket, lo, hi)"
	    " left join cache.entries e on e.bytes >= b.lo and e.bytes < b.hi"
	    " group by b.n, b.bucket order by b.n",
	    0, NULL);
}

void maint_cache_analysis_free(struct cache_analysis *a)
{
	maint_rows_free(&a->by_prefix);
	maint_rows_free(&a->top_keys);
	maint_rows_free(&a->sizes);
}

int maint_cache_cleanup(PGconn *c, struct cache_cleanup *r, struct db_error *e)
{
	*r = (struct cache_cleanup){0};
	if (scalar(c, "select cache.cleanup()", 0, NULL, r->removed, sizeof r->removed, e) < 0)
		return -1;
	if (scalar(c, "select cache.evict()", 0, NULL, r->evicted, sizeof r->evicted,
		   &r->evict_error) == 0)
		(void)maint_cache_fold(c, &r->evict_error); /* its failure is in evict_error */
	return 0;
}

int maint_cache_clear(PGconn *c, char *dropped, size_t n, struct db_error *e)
{
	return scalar(c, "select cache.clear()", 0, NULL, dropped, n, e);
}

int maint_cache_index_sizes(PGconn *c, struct maint_rows *r, struct db_error *e)
{
	return maint_rows_query(c, r, e,
				"select indexrelid::regclass::text, pg_relation_size(indexrelid)"
				" from pg_index where indrelid in ('cache.entries'::regclass,"
				" 'cache.entry_hits'::regclass, 'cache.counters'::regclass)"
				" order by 1",
				0, NULL);
}

/* CONCURRENTLY keeps the api readable while the indexes are rebuilt. The table is one of
 * midsops's own constant names, quoted as an identifier all the same. */
int maint_reindex(PGconn *c, const char *table, struct db_error *e)
{
	struct strbuf sql = {0};
	strbuf_adds(&sql, "reindex table concurrently ");
	for (const char *dot; (dot = strchr(table, '.'));) {
		char *id = PQescapeIdentifier(c, table, (size_t)(dot - table));
		strbuf_adds(&sql, id ? id : "");
		strbuf_adds(&sql, ".");
		PQfreemem(id);
		table = dot + 1;
	}
	char *id = PQescapeIdentifier(c, table, strlen(table));
	strbuf_adds(&sql, id ? id : "");
	PQfreemem(id);
	int rc = db_exec_e(c, e, sql.s, 0, NULL);
	strbuf_free(&sql);
	return rc;
}

int maint_cache_warm(PGconn *c, long powers, char *warmed, size_t n, struct db_error *e)
{
	char lim[32];
	snprintf(lim, sizeof lim, "%ld", powers);
	const char *p[] = {lim};
	return scalar(c, "select cache.warm($1::int)", 1, p, warmed, n, e);
}
