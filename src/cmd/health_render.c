/* Rendering of the health family's probes, shared by db-health, diag-*, reports and the
 * `cache` and `maintenance` sections of `status`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "probe.h"
#include "probe_health.h"
#include "status.h"

static int fcol(const struct health_probe *r, const char *name)
{
	return health_probe_col(r, name);
}

static double fval(const struct health_probe *r, int row, int col)
{
	const char *v = health_probe_cell(r, row, col);
	return v ? strtod(v, NULL) : NAN;
}

static void render_table(struct out *o, const char *name, const struct health_probe *r)
{
	int nf = health_probe_ncols(r);
	const char *cols[64];
	if (nf > 64)
		nf = 64;
	for (int i = 0; i < nf; i++)
		cols[i] = health_probe_colname(r, i);
	out_table_begin(o, name, nf, cols);
	for (int row = 0; row < health_probe_nrows(r); row++) {
		const char *cells[64];
		for (int i = 0; i < nf; i++)
			cells[i] = health_probe_cell(r, row, i);
		out_row(o, cells);
	}
	out_table_end(o);
}

/* Print pid's subtree: sessions whose blocked_by lists pid. depth bounds cycles. */
static void lock_subtree(struct out *o, const struct health_probe *r, const char *pid, int depth)
{
	int cp = fcol(r, "pid"), cb = fcol(r, "blocked_by"), cf = fcol(r, "for_s"),
	    cw = fcol(r, "waits_for"), cq = fcol(r, "query");
	if (depth > 8)
		return;
	for (int i = 0; i < health_probe_nrows(r); i++) {
		char list[1024];
		snprintf(list, sizeof list, ",%s,", health_probe_text(r, i, cb));
		char needle[64];
		snprintf(needle, sizeof needle, ",%s,", pid);
		if (!strstr(list, needle))
			continue;
		const char *w = health_probe_cell(r, i, cw);
		out_line(o, "%*s└─ pid %s waits %ss for %s: %s", depth * 3, "",
			 health_probe_text(r, i, cp), health_probe_text(r, i, cf), w ? w : "a lock",
			 health_probe_text(r, i, cq));
		lock_subtree(o, r, health_probe_text(r, i, cp), depth + 1);
	}
}

static enum status render_locks(struct out *o, const struct config *cfg,
				const struct health_probe *r)
{
	int cp = fcol(r, "pid"), cb = fcol(r, "blocked_by"), cs = fcol(r, "state"),
	    cf = fcol(r, "for_s"), cq = fcol(r, "query"), cu = fcol(r, "user");
	int n = health_probe_nrows(r), blocked = 0;
	for (int i = 0; i < n; i++)
		blocked += health_probe_text(r, i, cb)[0] != 0;
	enum status st = threshold_judge(&cfg->waiting_locks, blocked);
	out_kv_status(o, "blocked_sessions", st, "%d", blocked);
	if (n == 0)
		out_line(o, "no session is blocked");
	for (int i = 0; i < n; i++) {
		if (health_probe_text(r, i, cb)[0])
			continue; /* roots block others and wait for nobody */
		out_line(o, "pid %s (%s, %s for %ss) blocks: %s", health_probe_text(r, i, cp),
			 health_probe_text(r, i, cu), health_probe_text(r, i, cs),
			 health_probe_text(r, i, cf), health_probe_text(r, i, cq));
		lock_subtree(o, r, health_probe_text(r, i, cp), 1);
	}
	render_table(o, "lock_tree", r);
	return st;
}

enum status health_render_probe(struct out *o, const struct config *cfg,
				const struct health_probe *p)
{
	if (!p->ok) {
		out_kv_status(o, "probe", ST_UNKNOWN, "unavailable: %s", p->reason);
		return ST_UNKNOWN;
	}
	const struct health_probe *r = p;
	int nrows = health_probe_nrows(r);
	enum status st = ST_OK;
	if (p->reason[0])
		out_kv(o, "note", "%s", p->reason);
	switch (p->id) {
	case HP_BLOAT: {
		int cd = fcol(r, "dead_pct"), cl = fcol(r, "live"), cx = fcol(r, "dead"),
		    cb = fcol(r, "bloat_est_bytes");
		double worst = 0, bloat = 0;
		const char *wname = "-";
		for (int i = 0; i < nrows; i++) {
			double pct = fval(r, i, cd), tot = fval(r, i, cl) + fval(r, i, cx);
			if (!isnan(fval(r, i, cb)))
				bloat += fval(r, i, cb);
			/* Tiny tables churn without mattering. */
			if (!isnan(pct) && tot >= 1000 && pct > worst) {
				worst = pct;
				wname = health_probe_text(r, i, 0);
			}
		}
		st = threshold_judge(&cfg->dead_tuples, worst);
		struct out_fig f = status_fig(worst / 100.0, OUT_RATIO, &cfg->dead_tuples, 0.01);
		out_fig_status(o, "worst_dead_pct", st, &f, "%.1f%% (%s)", worst, wname);
		char b[64];
		fmt_bytes(b, sizeof b, bloat);
		out_fig(o, "bloat_estimate", &(struct out_fig){.value = bloat, .unit = OUT_BYTES},
			"%s", b);
		render_table(o, "tables", r);
		break;
	}
	case HP_LONG_TXN: {
		double longest = nrows ? fval(r, 0, fcol(r, "txn_s")) : 0;
		st = threshold_judge(&cfg->long_txn, isnan(longest) ? 0 : longest);
		char d[64];
		fmt_duration(d, sizeof d, isnan(longest) ? 0 : longest);
		struct out_fig f =
		    status_fig(isnan(longest) ? 0 : longest, OUT_SECONDS, &cfg->long_txn, 1);
		out_fig_status(o, "longest_transaction", st, &f, "%s", d);
		render_table(o, "transactions", r);
		break;
	}
	case HP_LOCKS:
		st = render_locks(o, cfg, r);
		break;
	case HP_CONNECTIONS: {
		double total = nrows ? fval(r, 0, fcol(r, "client_total")) : 0;
		double max = nrows ? fval(r, 0, fcol(r, "max_connections")) : 0;
		double pct = max > 0 ? 100.0 * total / max : 0;
		st = threshold_judge(&cfg->connections, pct);
		struct out_fig f =
		    status_fig_range(total, OUT_COUNT, &cfg->connections, max / 100.0, max);
		out_fig_status(o, "client_connections", st, &f, "%.0f of %.0f (%.0f%%)", total, max,
			       pct);
		render_table(o, "by_state", r);
		break;
	}
	case HP_CHECKPOINTS: {
		double timed = nrows ? fval(r, 0, fcol(r, "timed")) : 0;
		double req = nrows ? fval(r, 0, fcol(r, "requested")) : 0;
		double pct = timed + req > 0 ? 100.0 * req / (timed + req) : 0;
		double hours = nrows ? fval(r, 0, fcol(r, "stats_hours")) : 0;
		/* Checkpoints forced by WAL volume mean max_wal_size is too small. But backups,
		 * CREATE/DROP DATABASE and CHECKPOINT also count as requested, so advise only on
		 * a sustained rate (over 6 an hour) seen across at least an hour of statistics. */
		st = timed + req >= 10 && pct > 50 && hours >= 1 && req / hours > 6 ? ST_WARNING
										    : ST_OK;
		struct out_fig f = {
		    .value = req, .unit = OUT_COUNTER, .range = 1, .min = 0, .max = timed + req};
		out_fig_status(o, "requested_checkpoints", st, &f, "%.0f of %.0f (%.0f%%)%s", req,
			       timed + req, pct, st ? ": raise max_wal_size" : "");
		render_table(o, "checkpoints", r);
		break;
	}
	case HP_ARCHIVER: {
		const char *mode = nrows ? health_probe_text(r, 0, fcol(r, "archive_mode")) : "off";
		int failing = nrows && health_probe_text(r, 0, fcol(r, "failing"))[0] == 't';
		if (strcmp(mode, "off") == 0)
			out_kv_status(o, "archiving", ST_OK, "off (no point-in-time recovery)");
		else {
			st = failing ? ST_CRITICAL : ST_OK;
			out_kv_status(o, "archiving", st, "%s, %s", mode,
				      failing ? "the last attempt FAILED" : "working");
		}
		render_table(o, "archiver", r);
		break;
	}
	default:
		render_table(o, "rows", r);
	}
	return st;
}

void health_render_cache(struct out *o, const struct config *cfg, const struct cache_snapshot *s,
			 enum status *st)
{
	char a[64], b[64];
	*st = ST_OK;
	if (!s->ok) {
		out_kv_status(o, "cache", ST_UNKNOWN, "unavailable: %s", s->error);
		*st = ST_UNKNOWN;
		return;
	}
	/* A hit rate from a handful of reads says nothing; judge it from 100 reads on. */
	struct out_fig f = status_fig_range(isnan(s->hit_rate) ? NAN : s->hit_rate / 100.0,
					    OUT_RATIO, &cfg->cache_hit_rate, 0.01, 1);
	if (isnan(s->hit_rate))
		out_fig_status(o, "hit_rate", ST_OK, &f, "n/a (no reads yet)");
	else {
		enum status h = s->hits + s->misses >= 100
				    ? threshold_judge(&cfg->cache_hit_rate, s->hit_rate)
				    : ST_OK;
		out_fig_status(o, "hit_rate", h, &f, "%.2f%% (%lld hits, %lld misses)", s->hit_rate,
			       s->hits, s->misses);
		*st = status_worst(*st, h);
	}
	fmt_bytes(a, sizeof a, (double)s->bytes);
	fmt_bytes(b, sizeof b, (double)s->max_bytes);
	f = (struct out_fig){.value = (double)s->entries,
			     .unit = OUT_COUNT,
			     .range = 1,
			     .max = (double)s->max_entries};
	out_fig(o, "entries", &f, "%lld of %lld", s->entries, s->max_entries);
	f = (struct out_fig){
	    .value = (double)s->bytes, .unit = OUT_BYTES, .range = 1, .max = (double)s->max_bytes};
	out_fig(o, "size", &f, "%s of %s", a, b);
	fmt_duration(a, sizeof a, (double)s->ttl_s);
	out_fig(o, "ttl", &(struct out_fig){.value = (double)s->ttl_s, .unit = OUT_SECONDS}, "%s",
		a);
	out_kv_int(o, "expired_waiting", s->expired_now);
	out_kv_int(o, "evictions", s->evictions);
	out_kv_int(o, "expiries", s->expiries);
	out_kv_int(o, "invalidations", s->invalidations);
	out_kv_int(o, "generation", s->generation);
}

enum status status_section_cache(struct out *o, const struct config *cfg, PGconn *c)
{
	struct cache_snapshot s;
	enum status st;
	if (!c)
		return ST_UNKNOWN;
	if (!probe_cache_created(c)) {
		out_kv(o, "cache", "not created yet (run db-create)");
		return ST_OK;
	}
	if (probe_cache_stats(c, &s) < 0) {
		out_kv_status(o, "probe", ST_UNKNOWN, "%s", s.error);
		return ST_UNKNOWN;
	}
	health_render_cache(o, cfg, &s, &st);
	return st;
}

/* Maintenance: the worst table's dead tuples, the oldest vacuum and analyze, and the
 * configured window. */
enum status status_section_maintenance(struct out *o, const struct config *cfg, PGconn *c)
{
	out_kv(o, "window", "%s", cfg->maintenance_window);
	if (!c)
		return ST_UNKNOWN;
	struct maint_summary m;
	if (probe_maint_summary(c, &m) < 0) {
		out_kv_status(o, "probe", ST_UNKNOWN, "%s", m.error);
		return ST_UNKNOWN;
	}
	double pct = m.worst_dead_pct;
	enum status st = threshold_judge(&cfg->dead_tuples, pct);
	struct out_fig f = status_fig(pct / 100.0, OUT_RATIO, &cfg->dead_tuples, 0.01);
	out_fig_status(o, "worst_dead_tuples", st, &f, "%.1f%% (%s)", pct,
		       m.worst_table[0] ? m.worst_table : "no table over 1000 rows");
	out_kv(o, "oldest_vacuum", "%s", m.oldest_vacuum[0] ? m.oldest_vacuum : "never");
	out_kv(o, "oldest_analyze", "%s", m.oldest_analyze[0] ? m.oldest_analyze : "never");
	out_kv(o, "vacuums_running", "%s", m.vacuums_running);
	return st;
}
