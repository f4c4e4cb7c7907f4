/* The cache command family: cache-stats, cache-analyze, cache-cleanup, cache-clear,
 * cache-rebuild-indexes, cache-warm. Every command first copies the [cache] limits of the
 * config into cache.settings, so the SQL side evicts by the configured limits. The work is
 * in src/maint/maint_cache.c; cmd_run opens the connection (.db = CMD_DB_READY). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "maint.h"
#include "probe.h"
#include "probe_health.h"
#include "util.h"

/* A monitoring role may read the cache but not change its settings; the figures are still
 * worth showing, so only the commands that write need the sync. */
static int cache_sync(struct cmd_ctx *ctx, const char *app, int readonly)
{
	char err[1024] = "";
	if (cache_sync_settings(ctx->db, ctx->cfg, err, sizeof err) == 0)
		return 0;
	if (readonly) {
		out_warn(ctx->out, "%s: the [cache] settings were not applied: %s", app, err);
		return 0;
	}
	out_err(ctx->out, "%s: cannot apply the [cache] settings: %s", app, err);
	return -1;
}

/* The reason a cache-stats that cannot connect gives is its error, and it is UNKNOWN. */
static int cache_stats_db_failed(struct cmd_ctx *ctx, const char *err)
{
	out_err(ctx->out, "%s", err);
	return ST_UNKNOWN;
}

static int cmd_cache_stats_exec(struct cmd_ctx *ctx)
{
	(void)cache_sync(ctx, "cache-stats", 1);
	struct cache_snapshot s;
	enum status st;
	if (probe_cache_stats(ctx->db, &s) < 0) {
		out_status(ctx->out, ST_UNKNOWN, "cache statistics unavailable: %s", s.error);
		return ST_UNKNOWN;
	}
	health_render_cache(ctx->out, ctx->cfg, &s, &st);
	out_kv_int(ctx->out, "hits", s.hits);
	out_kv_int(ctx->out, "misses", s.misses);
	out_kv_int(ctx->out, "stores", s.stores);
	/* PostgreSQL's own buffer cache beside ours: both matter for query time. */
	struct db_snapshot d;
	if (probe_db(ctx->db, &d) == 0) {
		struct out_fig f = {.value = isnan(d.hit_ratio) ? NAN : d.hit_ratio / 100.0,
				    .unit = OUT_RATIO};
		if (isnan(d.hit_ratio))
			out_fig(ctx->out, "buffer_hit_ratio", &f, "n/a");
		else
			out_fig(ctx->out, "buffer_hit_ratio", &f, "%.2f%%", d.hit_ratio);
	}
	out_status(ctx->out, st, "cache %s",
		   isnan(s.hit_rate) ? "has not been read yet"
		   : st == ST_OK     ? "hit rate is healthy"
				     : "hit rate is low: run cache-analyze");
	return st;
}

static int cache_analyze_top(struct cmd_ctx *ctx, long *top)
{
	char err[1024] = "";
	*top = 10;
	if (args_get_long(ctx->args, "top", top, err, sizeof err) < 0 || *top < 1) {
		out_err(ctx->out, "%s", err[0] ? err : "--top must be at least 1");
		return EXIT_USAGE;
	}
	return 0;
}

static int cache_analyze_args(struct cmd_ctx *ctx)
{
	long top;
	return cache_analyze_top(ctx, &top);
}

static void copy_table(struct out *o, const char *name, const struct maint_rows *r)
{
	out_table_begin(o, name, r->ncols, (const char **)r->names);
	for (int i = 0; i < r->nrows; i++)
		out_row(o, (const char **)&r->cells[i * r->ncols]);
	out_table_end(o);
}

/* The prefix with the lowest hit rate among those read at least 100 times. */
static double worst_prefix(const struct maint_rows *r, char *name, size_t n)
{
	double worst = 100, hits, misses, pct;
	name[0] = 0;
	for (int i = 0; i < r->nrows; i++) {
		double reads = (maint_num(r, i, 1, &hits) ? hits : 0) +
			       (maint_num(r, i, 2, &misses) ? misses : 0);
		if (maint_num(r, i, 3, &pct) && reads >= 100 && pct < worst) {
			worst = pct;
			snprintf(name, n, "%s", maint_cell(r, i, 0));
		}
	}
	return worst;
}

static void size_chart(struct out *o, const struct maint_rows *r)
{
	const char *cols[] = {"size", "entries", "bytes", "chart"};
	out_table_begin(o, "size_distribution", 4, cols);
	long long maxn = 1;
	for (int i = 0; i < r->nrows; i++)
		if (atoll(maint_cell(r, i, 1)) > maxn)
			maxn = atoll(maint_cell(r, i, 1));
	for (int i = 0; i < r->nrows; i++) {
		char bar[41];
		int w = (int)(40 * atoll(maint_cell(r, i, 1)) / maxn);
		memset(bar, '#', (size_t)w);
		bar[w] = 0;
		out_rowf(o, maint_cell(r, i, 0), maint_cell(r, i, 1), maint_cell(r, i, 2), bar);
	}
	out_table_end(o);
}

static void recommend(struct cmd_ctx *ctx, const char *worst_name, double worst)
{
	struct cache_snapshot s;
	enum status st = ST_OK;
	if (probe_cache_stats(ctx->db, &s) < 0)
		return;
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

static int cmd_cache_analyze_exec(struct cmd_ctx *ctx)
{
	long top;
	if (cache_analyze_top(ctx, &top) != 0)
		return EXIT_USAGE;
	if (cache_sync(ctx, "cache-analyze", 1) < 0)
		return EXIT_FAIL;
	struct db_error e;
	/* Folding writes: a role that may only read still gets the last folded figures. */
	if (maint_cache_fold(ctx->db, &e) < 0)
		out_warn(ctx->out, "cache-analyze: the counters were not folded: %s", e.message);
	struct cache_analysis a;
	if (maint_cache_analyze(ctx->db, top, &a, &e) < 0) {
		out_err(ctx->out, "cache-analyze: %s", e.message);
		maint_cache_analysis_free(&a);
		return EXIT_FAIL;
	}
	copy_table(ctx->out, "by_prefix", &a.by_prefix);
	char worst_name[64];
	double worst = worst_prefix(&a.by_prefix, worst_name, sizeof worst_name);
	copy_table(ctx->out, "top_keys", &a.top_keys);
	size_chart(ctx->out, &a.sizes);
	maint_cache_analysis_free(&a);
	recommend(ctx, worst_name, worst);
	return 0;
}

static int cmd_cache_cleanup_exec(struct cmd_ctx *ctx)
{
	if (cache_sync(ctx, "cache-cleanup", 0) < 0)
		return EXIT_FAIL;
	struct cache_snapshot before, after;
	struct cache_cleanup r;
	struct db_error e;
	if (probe_cache_stats(ctx->db, &before) < 0)
		before = (struct cache_snapshot){0};
	if (maint_cache_cleanup(ctx->db, &r, &e) < 0) {
		out_err(ctx->out, "cache-cleanup: %s", e.message);
		return EXIT_FAIL;
	}
	if (r.evict_error.message[0])
		out_warn(ctx->out, "cache-cleanup: %s", r.evict_error.message);
	if (probe_cache_stats(ctx->db, &after) < 0)
		after = (struct cache_snapshot){0};
	out_kv(ctx->out, "removed", "%s", r.removed);
	out_kv(ctx->out, "evicted_over_limit", "%s", r.evicted[0] ? r.evicted : "0");
	out_kv(ctx->out, "entries", "%lld -> %lld", before.entries, after.entries);
	char a[64], b[64];
	fmt_bytes(a, sizeof a, (double)before.bytes);
	fmt_bytes(b, sizeof b, (double)after.bytes);
	out_kv(ctx->out, "size", "%s -> %s", a, b);
	maint_journal(ctx->db, "info", "cache-cleanup", "removed %s expired or stale cache entries",
		      r.removed);
	out_line(ctx->out, "removed %s expired or stale entries", r.removed);
	return 0;
}

static int cmd_cache_clear_exec(struct cmd_ctx *ctx)
{
	if (cache_sync(ctx, "cache-clear", 0) < 0)
		return EXIT_FAIL;
	char n[32];
	struct db_error e;
	if (maint_cache_clear(ctx->db, n, sizeof n, &e) < 0) {
		out_err(ctx->out, "cache-clear: %s", e.message);
		return EXIT_FAIL;
	}
	maint_journal(ctx->db, "warning", "cache-clear", "cache cleared: %s entries dropped", n);
	out_kv(ctx->out, "dropped", "%s", n);
	out_line(ctx->out, "cache cleared (%s entries); counters reset", n);
	return 0;
}

static void index_table(struct out *o, const struct maint_rows *before,
			const struct maint_rows *after)
{
	const char *cols[] = {"index", "bytes_before", "bytes_after"};
	out_table_begin(o, "indexes", 3, cols);
	for (int i = 0; i < after->nrows; i++) {
		const char *bb = NULL, *name = maint_cell(after, i, 0);
		for (int k = 0; k < before->nrows; k++)
			if (strcmp(maint_cell(before, k, 0), name) == 0)
				bb = maint_cell(before, k, 1);
		out_rowf(o, name, bb, maint_cell(after, i, 1));
	}
	out_table_end(o);
}

static int cmd_cache_rebuild_indexes_exec(struct cmd_ctx *ctx)
{
	if (cache_sync(ctx, "cache-rebuild-indexes", 0) < 0)
		return EXIT_FAIL;
	struct maint_rows before, after = {0};
	struct db_error e;
	int rc = -1;
	if (maint_cache_index_sizes(ctx->db, &before, &e) < 0)
		goto done;
	for (size_t i = 0; i < 3; i++) {
		out_progress(ctx->out, "reindex", (double)i, 3, maint_cache_tables[i]);
		if (maint_reindex(ctx->db, maint_cache_tables[i], &e) < 0) {
			out_progress_end(ctx->out);
			goto done;
		}
	}
	out_progress(ctx->out, "reindex", 3, 3, "done");
	out_progress_end(ctx->out);
	if (maint_cache_index_sizes(ctx->db, &after, &e) < 0)
		goto done;
	index_table(ctx->out, &before, &after);
	out_line(ctx->out, "rebuilt %d cache indexes", after.nrows);
	maint_journal(ctx->db, "info", "cache-rebuild-indexes", "rebuilt %d cache indexes",
		      after.nrows);
	rc = 0;
done:
	if (rc < 0)
		out_err(ctx->out, "cache-rebuild-indexes: %s", e.message);
	maint_rows_free(&before);
	maint_rows_free(&after);
	return rc < 0 ? EXIT_FAIL : 0;
}

static int cache_warm_powers(struct cmd_ctx *ctx, long *powers)
{
	char err[1024] = "";
	*powers = 100000;
	if (args_get_long(ctx->args, "powers", powers, err, sizeof err) < 0 || *powers < 0) {
		out_err(ctx->out, "%s", err[0] ? err : "--powers must not be negative");
		return EXIT_USAGE;
	}
	return 0;
}

static int cache_warm_args(struct cmd_ctx *ctx)
{
	long powers;
	return cache_warm_powers(ctx, &powers);
}

static int cmd_cache_warm_exec(struct cmd_ctx *ctx)
{
	long powers;
	if (cache_warm_powers(ctx, &powers) != 0)
		return EXIT_USAGE;
	if (cache_sync(ctx, "cache-warm", 0) < 0)
		return EXIT_FAIL;
	char n[32];
	struct db_error e;
	double t0 = util_mono();
	if (maint_cache_warm(ctx->db, powers, n, sizeof n, &e) < 0) {
		out_err(ctx->out, "cache-warm: %s", e.message);
		return EXIT_FAIL;
	}
	double dt = util_mono() - t0;
	struct cache_snapshot s;
	if (probe_cache_stats(ctx->db, &s) < 0)
		s = (struct cache_snapshot){0};
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
	maint_journal(ctx->db, "info", "cache-warm", "warmed %s cache entries in %.1fs", n, dt);
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
	.db = CMD_DB_READY,
	.db_failed = cache_stats_db_failed,
    },
    {
	.name = "cache-analyze",
	.options = "top=",
	.summary = "Cache hit rate by key prefix, top keys, size distribution and a "
		   "recommendation",
	.usage = "cache-analyze [--top N] [--json]",
	.exec = cmd_cache_analyze_exec,
	.db = CMD_DB_READY,
	.check_args = cache_analyze_args,
    },
    {
	.name = "cache-cleanup",
	.summary = "Remove expired and stale-generation cache entries, then evict down to "
		   "the limits",
	.usage = "cache-cleanup",
	.exec = cmd_cache_cleanup_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "cache-clear",
	.summary = "Empty the API cache and reset its counters",
	.usage = "cache-clear",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_cache_clear_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "cache-rebuild-indexes",
	.summary = "Rebuild the cache tables' indexes concurrently, with sizes before and "
		   "after",
	.usage = "cache-rebuild-indexes",
	.exec = cmd_cache_rebuild_indexes_exec,
	.db = CMD_DB_READY,
    },
    {
	.name = "cache-warm",
	.options = "powers=",
	.summary = "Pre-fill the cache after an import: every powerset and set, and powers "
		   "by build use",
	.usage = "cache-warm [--powers N]",
	.exec = cmd_cache_warm_exec,
	.db = CMD_DB_READY,
	.check_args = cache_warm_args,
    },
    {0},
};
