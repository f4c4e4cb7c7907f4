/* The cache command family: cache-stats, cache-analyze, cache-cleanup, cache-clear,
 * cache-rebuild-indexes, cache-warm. Every command first copies the [cache] limits of the
 * config into cache.settings, so the SQL side evicts by the configured limits. */
#include <math.h>
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

static PGconn *cache_connect(struct cmd_ctx *ctx, const char *app)
{
	char err[1024];
	PGconn *c = db_connect_ready(ctx->target, app, err, sizeof err);
	if (!c) {
		out_err(ctx->out, "%s", err);
		return NULL;
	}
	if (cache_sync_settings(c, ctx->cfg, err, sizeof err) < 0) {
		/* A monitoring role may read the cache but not change its settings; the figures
		 * are still worth showing, so only the commands that write need the sync. */
		if (strcmp(app, "cache-stats") == 0 || strcmp(app, "cache-analyze") == 0) {
			out_warn(ctx->out, "%s: the [cache] settings were not applied: %s", app,
				 err);
			return c;
		}
		out_err(ctx->out, "%s: cannot apply the [cache] settings: %s", app, err);
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void scalar_free(char *v)
{
	free(v);
}

static int cmd_cache_stats_exec(struct cmd_ctx *ctx)
{
	PGconn *c = cache_connect(ctx, "cache-stats");
	if (!c)
		return ST_UNKNOWN;
	struct cache_snapshot s;
	enum status st;
	if (probe_cache_stats(c, &s) < 0) {
		out_status(ctx->out, ST_UNKNOWN, "cache statistics unavailable: %s", s.error);
		PQfinish(c);
		return ST_UNKNOWN;
	}
	health_render_cache(ctx->out, ctx->cfg, &s, &st);
	out_kv_int(ctx->out, "hits", s.hits);
	out_kv_int(ctx->out, "misses", s.misses);
	out_kv_int(ctx->out, "stores", s.stores);
	/* PostgreSQL's own buffer cache beside ours: both matter for query time. */
	struct db_snapshot d;
	if (probe_db(c, &d) == 0) {
		struct out_fig f = {.value = isnan(d.hit_ratio) ? NAN : d.hit_ratio / 100.0,
				    .unit = OUT_RATIO};
		if (isnan(d.hit_ratio))
			out_fig(ctx->out, "buffer_hit_ratio", &f, "n/a");
		else
			out_fig(ctx->out, "buffer_hit_ratio", &f, "%.2f%%", d.hit_ratio);
	}
	PQfinish(c);
	out_status(ctx->out, st, "cache %s",
		   isnan(s.hit_rate) ? "has not been read yet"
		   : st == ST_OK     ? "hit rate is healthy"
				     : "hit rate is low: run cache-analyze");
	return st;
}

static int cmd_cache_analyze_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	long top = 10;
	if (args_get_long(ctx->args, "top", &top, err, sizeof err) < 0 || top < 1) {
		out_err(ctx->out, "%s", err[0] ? err : "--top must be at least 1");
		return EXIT_USAGE;
	}
	PGconn *c = cache_connect(ctx, "cache-analyze");
	if (!c)
		return EXIT_FAIL;
	scalar_free(db_scalar(c, err, sizeof err, "select cache.fold()", 0, NULL));
	PGresult *r = db_query(
	    c, err, sizeof err,
	    "select prefix, sum(hits) as hits, sum(misses) as misses,"
	    " round(100.0 * sum(hits) / nullif(sum(hits) + sum(misses), 0), 2) as hit_pct,"
	    " sum(entries) as entries, sum(bytes) as bytes, sum(evictions) as evictions,"
	    " sum(expiries) as expiries, sum(invalidations) as invalidations"
	    " from cache.counters group by prefix order by sum(hits) + sum(misses) desc, prefix",
	    0, NULL);
	if (!r)
		goto fail;
	const char *c1[] = {"prefix", "hits",	   "misses",   "hit_pct",      "entries",
			    "bytes",  "evictions", "expiries", "invalidations"};
	out_table_begin(ctx->out, "by_prefix", 9, c1);
	double worst = 100;
	const char *worst_p = NULL;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *cells[9];
		for (int k = 0; k < 9; k++)
			cells[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
		out_row(ctx->out, cells);
		double reads = atof(PQgetvalue(r, i, 1)) + atof(PQgetvalue(r, i, 2));
		if (!PQgetisnull(r, i, 3) && reads >= 100 && atof(PQgetvalue(r, i, 3)) < worst) {
			worst = atof(PQgetvalue(r, i, 3));
			worst_p = PQgetvalue(r, i, 0);
		}
	}
	out_table_end(ctx->out);
	char worst_name[64] = "";
	if (worst_p)
		snprintf(worst_name, sizeof worst_name, "%s", worst_p);
	PQclear(r);

	char lim[32];
	snprintf(lim, sizeof lim, "%ld", top);
	const char *p[] = {lim};
	r = db_query(
	    c, err, sizeof err,
	    "select key, hits, bytes, to_char(created, 'YYYY-MM-DD HH24:MI:SS') as created,"
	    " to_char(last_hit, 'YYYY-MM-DD HH24:MI:SS') as last_hit,"
	    " round(extract(epoch from expires - now())) as expires_in_s"
	    " from cache.entries order by hits desc, key limit $1::int",
	    1, p);
	if (!r)
		goto fail;
	const char *c2[] = {"key", "hits", "bytes", "created", "last_hit", "expires_in_s"};
	out_table_begin(ctx->out, "top_keys", 6, c2);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *cells[6];
		for (int k = 0; k < 6; k++)
			cells[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
		out_row(ctx->out, cells);
	}
	out_table_end(ctx->out);
	PQclear(r);

	r = db_query(c, err, sizeof err,
		     "select b.bucket, count(e.key) as entries, coalesce(sum(e.bytes), 0) as bytes"
		     " from (values (1, '< 1 kB', 0, 1024), (2, '1-4 kB', 1024, 4096),"
		     "  (3, '4-16 kB', 4096, 16384), (4, '16-64 kB', 16384, 65536),"
		     "  (5, '>= 64 kB', 65536, 2147483647)) b(n, bucket, lo, hi)"
		     " left join cache.entries e on e.bytes >= b.lo and e.bytes < b.hi"
		     " group by b.n, b.bucket order by b.n",
		     0, NULL);
	if (!r)
		goto fail;
	const char *c3[] = {"size", "entries", "bytes", "chart"};
	out_table_begin(ctx->out, "size_distribution", 4, c3);
	long long maxn = 1;
	for (int i = 0; i < PQntuples(r); i++)
		if (atoll(PQgetvalue(r, i, 1)) > maxn)
			maxn = atoll(PQgetvalue(r, i, 1));
	for (int i = 0; i < PQntuples(r); i++) {
		char bar[41];
		int w = (int)(40 * atoll(PQgetvalue(r, i, 1)) / maxn);
		memset(bar, '#', (size_t)w);
		bar[w] = 0;
		out_rowf(ctx->out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
			 bar);
	}
	out_table_end(ctx->out);
	PQclear(r);

	struct cache_snapshot s;
	enum status st = ST_OK;
	if (probe_cache_stats(c, &s) == 0) {
		health_render_cache(ctx->out, ctx->cfg, &s, &st);
		if (st != ST_OK && s.evictions > 0)
			out_line(ctx->out,
				 "recommendation: increase cache size ([cache] max_entries / "
				 "max_bytes): %lld evictions while the hit rate is %.1f%%",
				 s.evictions, s.hit_rate);
		else if (st != ST_OK)
			out_line(ctx->out,
				 "recommendation: run cache-warm after imports; the lowest "
				 "hit rate is in '%s' (%.1f%%)",
				 worst_name[0] ? worst_name : "-", worst);
		else
			out_line(ctx->out, "no action needed");
	}
	PQfinish(c);
	return 0;
fail:
	out_err(ctx->out, "cache-analyze: %s", err);
	PQfinish(c);
	return EXIT_FAIL;
}

static int cmd_cache_cleanup_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	PGconn *c = cache_connect(ctx, "cache-cleanup");
	if (!c)
		return EXIT_FAIL;
	struct cache_snapshot before, after;
	probe_cache_stats(c, &before);
	char *removed = db_scalar(c, err, sizeof err, "select cache.cleanup()", 0, NULL);
	if (!removed) {
		out_err(ctx->out, "cache-cleanup: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	char *evicted = db_scalar(c, err, sizeof err, "select cache.evict()", 0, NULL);
	scalar_free(db_scalar(c, err, sizeof err, "select cache.fold()", 0, NULL));
	probe_cache_stats(c, &after);
	out_kv(ctx->out, "removed", "%s", removed);
	out_kv(ctx->out, "evicted_over_limit", "%s", evicted ? evicted : "0");
	out_kv(ctx->out, "entries", "%lld -> %lld", before.entries, after.entries);
	char a[64], b[64];
	fmt_bytes(a, sizeof a, (double)before.bytes);
	fmt_bytes(b, sizeof b, (double)after.bytes);
	out_kv(ctx->out, "size", "%s -> %s", a, b);
	db_event(c, "info", "cache-cleanup", "removed %s expired or stale cache entries", removed);
	out_line(ctx->out, "removed %s expired or stale entries", removed);
	free(removed);
	free(evicted);
	PQfinish(c);
	return 0;
}

static int cmd_cache_clear_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	PGconn *c = cache_connect(ctx, "cache-clear");
	if (!c)
		return EXIT_FAIL;
	char *n = db_scalar(c, err, sizeof err, "select cache.clear()", 0, NULL);
	if (!n) {
		out_err(ctx->out, "cache-clear: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	db_event(c, "warning", "cache-clear", "cache cleared: %s entries dropped", n);
	out_kv(ctx->out, "dropped", "%s", n);
	out_line(ctx->out, "cache cleared (%s entries); counters reset", n);
	free(n);
	PQfinish(c);
	return 0;
}

static int cmd_cache_rebuild_indexes_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	PGconn *c = cache_connect(ctx, "cache-rebuild-indexes");
	if (!c)
		return EXIT_FAIL;
	static const char sizes[] =
	    "select indexrelid::regclass::text, pg_relation_size(indexrelid)"
	    " from pg_index where indrelid in ('cache.entries'::regclass,"
	    " 'cache.entry_hits'::regclass, 'cache.counters'::regclass) order by 1";
	PGresult *before = db_query(c, err, sizeof err, sizes, 0, NULL);
	if (!before)
		goto fail;
	static const char *const tables[] = {"cache.entries", "cache.entry_hits", "cache.counters"};
	for (size_t i = 0; i < 3; i++) {
		char sql[128];
		double t0 = util_mono();
		/* CONCURRENTLY keeps the api readable while the indexes are rebuilt. */
		snprintf(sql, sizeof sql, "reindex table concurrently %s", tables[i]);
		out_progress(ctx->out, "reindex", (double)i, 3, tables[i]);
		if (db_exec(c, err, sizeof err, sql, 0, NULL) < 0) {
			out_progress_end(ctx->out);
			PQclear(before);
			goto fail;
		}
		(void)t0;
	}
	out_progress(ctx->out, "reindex", 3, 3, "done");
	out_progress_end(ctx->out);
	PGresult *after = db_query(c, err, sizeof err, sizes, 0, NULL);
	if (!after) {
		PQclear(before);
		goto fail;
	}
	const char *cols[] = {"index", "bytes_before", "bytes_after"};
	out_table_begin(ctx->out, "indexes", 3, cols);
	for (int i = 0; i < PQntuples(after); i++) {
		const char *bb = NULL;
		for (int k = 0; k < PQntuples(before); k++)
			if (strcmp(PQgetvalue(before, k, 0), PQgetvalue(after, i, 0)) == 0)
				bb = PQgetvalue(before, k, 1);
		out_rowf(ctx->out, PQgetvalue(after, i, 0), bb, PQgetvalue(after, i, 1));
	}
	out_table_end(ctx->out);
	out_line(ctx->out, "rebuilt %d cache indexes", PQntuples(after));
	db_event(c, "info", "cache-rebuild-indexes", "rebuilt %d cache indexes", PQntuples(after));
	PQclear(before);
	PQclear(after);
	PQfinish(c);
	return 0;
fail:
	out_err(ctx->out, "cache-rebuild-indexes: %s", err);
	PQfinish(c);
	return EXIT_FAIL;
}

static int cmd_cache_warm_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	long powers = 100000;
	if (args_get_long(ctx->args, "powers", &powers, err, sizeof err) < 0 || powers < 0) {
		out_err(ctx->out, "%s", err[0] ? err : "--powers must not be negative");
		return EXIT_USAGE;
	}
	PGconn *c = cache_connect(ctx, "cache-warm");
	if (!c)
		return EXIT_FAIL;
	char lim[32];
	snprintf(lim, sizeof lim, "%ld", powers);
	const char *p[] = {lim};
	double t0 = util_mono();
	char *n = db_scalar(c, err, sizeof err, "select cache.warm($1::int)", 1, p);
	if (!n) {
		out_err(ctx->out, "cache-warm: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	double dt = util_mono() - t0;
	struct cache_snapshot s;
	probe_cache_stats(c, &s);
	out_kv_int(ctx->out, "warmed", atoll(n));
	out_kv_num(ctx->out, "seconds", dt, "s");
	out_fig(ctx->out, "entries",
		&(struct out_fig){.value = (double)s.entries,
				  .unit = OUT_COUNT,
				  .range = 1,
				  .max = (double)s.max_entries},
		"%lld of %lld", s.entries, s.max_entries);
	if (atoll(n) > s.max_entries)
		out_warn(ctx->out,
			 "the hot set (%s entries) is larger than [cache] max_entries (%lld): "
			 "raise it to keep the set warm",
			 n, s.max_entries);
	out_line(ctx->out, "warmed %s entries in %.1fs (generation %d)", n, dt, s.generation);
	db_event(c, "info", "cache-warm", "warmed %s cache entries in %.1fs", n, dt);
	free(n);
	PQfinish(c);
	return 0;
}

const struct cmd_entry cmd_cache_table[] = {
    {
	.name = "cache-stats",
	.summary = "API cache figures: hit rate, entries and size against the limits, "
		   "evictions, expiries, invalidations",
	.usage = "cache-stats [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_cache_stats_exec,
    },
    {
	.name = "cache-analyze",
	.options = "top=",
	.summary = "Cache hit rate by key prefix, top keys, size distribution and a "
		   "recommendation",
	.usage = "cache-analyze [--top N] [--json]",
	.exec = cmd_cache_analyze_exec,
    },
    {
	.name = "cache-cleanup",
	.summary = "Remove expired and stale-generation cache entries, then evict down to "
		   "the limits",
	.usage = "cache-cleanup",
	.exec = cmd_cache_cleanup_exec,
    },
    {
	.name = "cache-clear",
	.summary = "Empty the API cache and reset its counters",
	.usage = "cache-clear",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_cache_clear_exec,
    },
    {
	.name = "cache-rebuild-indexes",
	.summary = "Rebuild the cache tables' indexes concurrently, with sizes before and "
		   "after",
	.usage = "cache-rebuild-indexes",
	.exec = cmd_cache_rebuild_indexes_exec,
    },
    {
	.name = "cache-warm",
	.options = "powers=",
	.summary = "Pre-fill the cache after an import: every powerset and set, and powers "
		   "by build use",
	.usage = "cache-warm [--powers N]",
	.exec = cmd_cache_warm_exec,
    },
    {0},
};
