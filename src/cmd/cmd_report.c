/* The report family: diag-quick, diag-full, diag-report, generate-weekly-report, collect,
 * perf-test, perf-monitor, perf-analyze. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "config.h"
#include "db.h"
#include "paths.h"
#include "probe.h"
#include "probe_health.h"
#include "status.h"
#include "target.h"

static int fnum(PGresult *r, int row, int col, double *v)
{
	if (!r || row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return 0;
	*v = strtod(PQgetvalue(r, row, col), NULL);
	return 1;
}

static void render_result(struct out *o, const char *name, PGresult *r)
{
	int nf = PQnfields(r) < 16 ? PQnfields(r) : 16;
	const char *cols[16];
	for (int i = 0; i < nf; i++)
		cols[i] = PQfname(r, i);
	out_table_begin(o, name, nf, cols);
	for (int row = 0; row < PQntuples(r); row++) {
		const char *cells[16];
		for (int i = 0; i < nf; i++)
			cells[i] = PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
		out_row(o, cells);
	}
	out_table_end(o);
}

/* ---- diagnostics ---- */

/* The quick set: one round trip each for the database, the cache and the last import,
 * plus /proc. Meant to finish well under a second. */
static enum status diag_quick(struct out *o, const struct config *cfg, PGconn *c)
{
	enum status worst = ST_OK;
	struct db_snapshot d;
	struct db_judgement j;
	out_section(o, "database");
	if (probe_db(c, &d) < 0) {
		out_kv_status(o, "probe", ST_UNKNOWN, "%s", d.error);
		worst = ST_UNKNOWN;
	} else {
		status_render_db(o, cfg, &d, &j);
		worst = status_worst(worst, j.overall);
	}
	out_section_end(o);
	out_section(o, "cache");
	worst = status_worst(worst, status_section_cache(o, cfg, c));
	out_section_end(o);
	out_section(o, "imports");
	char err[512];
	PGresult *r = db_query(c, err, sizeof err,
			       "select id, state, to_char(started_at, 'YYYY-MM-DD HH24:MI'), errors"
			       " from ops.import_runs_seen order by id desc limit 1",
			       0, NULL);
	if (!r)
		out_kv(o, "last_import", "unknown: %s", err);
	else if (PQntuples(r) == 0)
		out_kv(o, "last_import", "none yet");
	else {
		const char *state = PQgetvalue(r, 0, 1);
		enum status st = strcmp(state, "failed") == 0 || strcmp(state, "interrupted") == 0
				     ? ST_WARNING
				     : ST_OK;
		out_kv_status(o, "last_import", st, "run %s %s at %s (%s errors)",
			      PQgetvalue(r, 0, 0), state, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
		worst = status_worst(worst, st);
	}
	PQclear(r);
	out_section_end(o);
	out_section(o, "system");
	struct sys_snapshot s;
	probe_system(cfg, &s);
	worst = status_worst(worst, status_render_system(o, cfg, &s));
	out_section_end(o);
	return worst;
}

static enum status diag_full(struct out *o, const struct config *cfg, PGconn *c)
{
	enum status worst = diag_quick(o, cfg, c);
	for (int id = 0; id < HP_COUNT; id++) {
		struct health_probe p;
		health_probe_run(c, id, &p);
		out_section(o, health_probe_name(id));
		enum status st = health_render_probe(o, cfg, &p);
		if (p.ok)
			worst = status_worst(worst, st);
		out_section_end(o);
		health_probe_free(&p);
	}
	/* The web workload is judged; midsops's own statements (an import's COPY) are listed
	 * apart, as db-slow-queries does. */
	out_section(o, "slow_statements");
	struct health_probe sq, own;
	if (health_statements(c, STMTS_WEB, "mean", 10, 0, &sq) == 0) {
		double worst_ms = 0;
		fnum(sq.res, 0, 3, &worst_ms);
		enum status st = threshold_judge(&cfg->query_time, worst_ms);
		struct out_fig qf =
		    status_fig(worst_ms / 1000.0, OUT_SECONDS, &cfg->query_time, 0.001);
		out_fig_status(o, "slowest_mean", st, &qf, "%.1f ms", worst_ms);
		render_result(o, "statements", sq.res);
		worst = status_worst(worst, st);
		out_section(o, "midsops_own");
		out_kv(o, "judged",
		       "no: midsops's own import, backup and maintenance statements "
		       "(role " DB_OWN_ROLE ")");
		if (health_statements(c, STMTS_OWN, "mean", 5, 0, &own) == 0)
			render_result(o, "slowest_by_mean", own.res);
		health_probe_free(&own);
		out_section_end(o);
	} else
		out_kv_status(o, "probe", ST_UNKNOWN, "unavailable: %s", sq.reason);
	health_probe_free(&sq);
	out_section_end(o);
	out_section(o, "maintenance");
	worst = status_worst(worst, status_section_maintenance(o, cfg, c));
	out_section_end(o);
	return worst;
}

static PGconn *report_connect(struct cmd_ctx *ctx, const char *app, int ready)
{
	char err[1024];
	PGconn *c = ready ? db_connect_ready(ctx->target, app, err, sizeof err)
			  : db_connect(ctx->target, app, err, sizeof err);
	if (!c)
		out_status(ctx->out, ST_CRITICAL, "%s", err);
	return c;
}

static int cmd_diag_quick_exec(struct cmd_ctx *ctx)
{
	double t0 = util_mono();
	PGconn *c = report_connect(ctx, "diag-quick", 0);
	if (!c)
		return ST_CRITICAL;
	enum status st = diag_quick(ctx->out, ctx->cfg, c);
	PQfinish(c);
	out_kv_num(ctx->out, "seconds", util_mono() - t0, "s");
	out_status(ctx->out, st, "quick diagnosis: %s",
		   st == ST_OK ? "healthy" : "needs attention (run diag-full)");
	return st;
}

static int cmd_diag_full_exec(struct cmd_ctx *ctx)
{
	PGconn *c = report_connect(ctx, "diag-full", 0);
	if (!c)
		return ST_CRITICAL;
	enum status st = diag_full(ctx->out, ctx->cfg, c);
	PQfinish(c);
	out_status(ctx->out, st, "full diagnosis: %s",
		   st == ST_OK ? "healthy" : "see the judged figures above");
	return st;
}

/* ---- Markdown files ---- */

struct mbuf {
	char *p;
	size_t n, cap;
};

static void mb_add(struct mbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void mb_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n > 0)
		mb_add(b, s, (size_t)n);
	free(s);
}

static void mb_sink(void *ctx, const char *s, size_t n)
{
	mb_add(ctx, s, n);
}

/* A table cell may not break the Markdown table. */
static void mb_cell(struct mbuf *b, const char *s)
{
	mb_add(b, " ", 1);
	for (; s && *s; s++) {
		if (*s == '|')
			mb_add(b, "\\|", 2);
		else if (*s == '\n' || *s == '\r')
			mb_add(b, " ", 1);
		else
			mb_add(b, s, 1);
	}
	mb_add(b, " |", 2);
}

static void mb_table(struct mbuf *b, PGresult *r)
{
	if (!r || PQntuples(r) == 0) {
		mb_printf(b, "_none_\n\n");
		return;
	}
	mb_add(b, "|", 1);
	for (int i = 0; i < PQnfields(r); i++)
		mb_cell(b, PQfname(r, i));
	mb_add(b, "\n|", 2);
	for (int i = 0; i < PQnfields(r); i++)
		mb_add(b, " --- |", 6);
	mb_add(b, "\n", 1);
	for (int row = 0; row < PQntuples(r); row++) {
		mb_add(b, "|", 1);
		for (int i = 0; i < PQnfields(r); i++)
			mb_cell(b, PQgetisnull(r, row, i) ? "" : PQgetvalue(r, row, i));
		mb_add(b, "\n", 1);
	}
	mb_add(b, "\n", 1);
}

/* Bars for one numeric column of (label, value) rows. */
static void mb_chart(struct mbuf *b, const char *title, PGresult *r, int lcol, int vcol,
		     const char *unit)
{
	mb_printf(b, "%s:\n\n```text\n", title);
	double max = 0, v;
	for (int i = 0; r && i < PQntuples(r); i++)
		if (fnum(r, i, vcol, &v) && v > max)
			max = v;
	if (!r || PQntuples(r) == 0)
		mb_printf(b, "(no data)\n");
	for (int i = 0; r && i < PQntuples(r); i++) {
		char bar[41] = "";
		int has = fnum(r, i, vcol, &v);
		int w = has && max > 0 ? (int)lround(40.0 * v / max) : 0;
		memset(bar, '#', (size_t)w);
		bar[w] = 0;
		if (has)
			mb_printf(b, "%-10s %-40s %g%s\n", PQgetvalue(r, i, lcol), bar, v, unit);
		else
			mb_printf(b, "%-10s %-40s n/a\n", PQgetvalue(r, i, lcol), "");
	}
	mb_printf(b, "```\n\n");
}

static int write_report(struct cmd_ctx *ctx, const char *prefix, const struct mbuf *b, char *path,
			size_t pathlen)
{
	if (paths_mkdir_p(ctx->cfg->reports_dir, 0700) < 0) {
		out_err(ctx->out, "cannot create %s: %s", ctx->cfg->reports_dir, strerror(errno));
		return -1;
	}
	char stamp[32];
	time_t now = time(NULL);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
	snprintf(path, pathlen, "%s/%s-%s.md", ctx->cfg->reports_dir, prefix, stamp);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		out_err(ctx->out, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	fchmod(fd, 0600);
	size_t off = 0;
	while (off < b->n) {
		ssize_t w = write(fd, b->p + off, b->n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			out_err(ctx->out, "cannot write %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		out_err(ctx->out, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void mb_header(struct mbuf *b, struct cmd_ctx *ctx, const char *title)
{
	char when[64], shown[2048];
	time_t now = time(NULL);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	target_display(ctx->target, shown, sizeof shown);
	mb_printf(b, "# %s\n\n- Generated: %s\n- Environment: %s\n- Target: `%s`\n\n", title, when,
		  ctx->target->env, shown);
}

static int cmd_diag_report_exec(struct cmd_ctx *ctx)
{
	PGconn *c = report_connect(ctx, "diag-report", 0);
	if (!c)
		return ST_CRITICAL;
	struct mbuf text = {0}, md = {0};
	struct out *o = out_new_sink(OUT_TEXT, (struct out_sink){mb_sink, &text});
	enum status st = diag_full(o, ctx->cfg, c);
	out_status(o, st, "full diagnosis");
	out_free(o);
	PQfinish(c);
	mb_header(&md, ctx, "midsops diagnostic report");
	mb_printf(&md, "**Overall status: %s**\n\n## Figures\n\n```text\n%s```\n", status_name(st),
		  text.p ? text.p : "");
	char path[4200];
	int rc = write_report(ctx, "diag", &md, path, sizeof path);
	free(text.p);
	free(md.p);
	if (rc < 0)
		return ST_UNKNOWN;
	out_kv(ctx->out, "report", "%s", path);
	out_status(ctx->out, st, "diagnostic report written to %s", path);
	return st;
}

static PGresult *q(PGconn *c, const char *sql)
{
	char err[512];
	return db_query(c, err, sizeof err, sql, 0, NULL);
}

static int cmd_weekly_report_exec(struct cmd_ctx *ctx)
{
	PGconn *c = report_connect(ctx, "generate-weekly-report", 1);
	if (!c)
		return EXIT_FAIL;
	struct mbuf md = {0};
	PGresult *r;
	mb_header(&md, ctx, "midsops weekly report");
	r = q(c, "select to_char(now() - interval '7 days', 'YYYY-MM-DD'), to_char(now(), "
		 "'YYYY-MM-DD')");
	if (r)
		mb_printf(&md, "Week: %s to %s\n\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	PQclear(r);

	mb_printf(&md, "## Imports\n\n");
	r = q(c,
	      "select count(*) as runs, count(*) filter (where state = 'completed') as completed,"
	      " count(*) filter (where state = 'failed') as failed,"
	      " coalesce(sum(records_done), 0) as records, round(avg(rate)::numeric, 1) as "
	      "avg_rate_per_s,"
	      " round(min(rate)::numeric, 1) as min_rate_per_s"
	      " from ops.import_runs where started_at >= now() - interval '7 days'");
	mb_table(&md, r);
	PQclear(r);
	r = q(c, "select id, kind, state, to_char(started_at, 'YYYY-MM-DD HH24:MI') as started,"
		 " records_done as records, round(rate::numeric, 1) as rate, errors, generation"
		 " from ops.import_runs where started_at >= now() - interval '7 days' order by id");
	mb_table(&md, r);
	PQclear(r);

	mb_printf(&md, "## Errors by kind\n\n");
	r = q(c, "select code, severity, count(*) as count from ops.import_errors"
		 " where at >= now() - interval '7 days' group by 1, 2 order by 3 desc, 1");
	mb_table(&md, r);
	PQclear(r);

	mb_printf(&md, "## Backups\n\n");
	char err[256];
	char *has =
	    db_scalar(c, err, sizeof err, "select to_regclass('ops.backups')::text", 0, NULL);
	if (has) {
		r = q(
		    c,
		    "select id, type, status, to_char(started_at, 'YYYY-MM-DD HH24:MI') as started,"
		    " pg_size_pretty(size_bytes) as size, verify_ok from ops.backups"
		    " where started_at >= now() - interval '7 days' order by started_at");
		mb_table(&md, r);
		PQclear(r);
	} else
		mb_printf(&md, "_no backup catalogue in this database_\n\n");
	free(has);

	mb_printf(&md, "## Cache\n\n");
	struct cache_snapshot cs;
	if (probe_cache_stats(c, &cs) == 0) {
		if (isnan(cs.hit_rate))
			mb_printf(&md, "- Hit rate: n/a (no reads)\n");
		else
			mb_printf(&md, "- Hit rate: %.2f%% (%lld hits, %lld misses)\n", cs.hit_rate,
				  cs.hits, cs.misses);
		mb_printf(&md, "- Entries: %lld of %lld; evictions %lld, expiries %lld\n\n",
			  cs.entries, cs.max_entries, cs.evictions, cs.expiries);
	}

	/* What users felt is judged; midsops's own work is listed apart and never judged: an
	 * import's COPY is slow by nature, and a report that blamed it every week would teach
	 * its readers to skip the section. */
	mb_printf(&md, "## Slow statements\n\n");
	struct health_probe sq;
	double web_ms = 0, own_ms = 0;
	long long web_calls = 0, own_calls = 0;
	char serr[256];
	if (health_statements(c, STMTS_WEB, "mean", 5, 0, &sq) == 0) {
		double worst_ms = 0;
		fnum(sq.res, 0, 3, &worst_ms);
		health_statements_mean(c, STMTS_WEB, &web_ms, &web_calls, serr, sizeof serr);
		mb_printf(&md,
			  "Web workload (every role but %s): slowest mean %.1f ms, %s against the "
			  "query-time thresholds (%g / %g ms); %lld calls, %.2f ms mean.\n\n",
			  DB_OWN_ROLE, worst_ms,
			  status_name(threshold_judge(&ctx->cfg->query_time, worst_ms)),
			  ctx->cfg->query_time.warning, ctx->cfg->query_time.critical, web_calls,
			  web_ms);
		mb_table(&md, sq.res);
		health_probe_free(&sq);
		mb_printf(&md,
			  "midsops's own import, backup and maintenance statements (role %s), "
			  "not judged:\n\n",
			  DB_OWN_ROLE);
		if (health_statements(c, STMTS_OWN, "total", 5, 0, &sq) == 0) {
			health_statements_mean(c, STMTS_OWN, &own_ms, &own_calls, serr,
					       sizeof serr);
			mb_printf(&md, "%lld calls, %.2f ms mean.\n\n", own_calls, own_ms);
			mb_table(&md, sq.res);
		}
	} else
		mb_printf(&md, "_unavailable: %s_\n\n", sq.reason);
	health_probe_free(&sq);

	mb_printf(&md, "## Database growth\n\n");
	r = q(c, "select pg_size_pretty(pg_database_size(current_database())) as now,"
		 " (select pg_size_pretty(db_size) from ops.metrics where at >= now() - interval "
		 "'7 days'"
		 "  order by at limit 1) as week_start,"
		 " (select pg_size_pretty(pg_database_size(current_database()) - db_size) from "
		 "ops.metrics"
		 "  where at >= now() - interval '7 days' order by at limit 1) as growth");
	mb_table(&md, r);
	PQclear(r);
	r = q(c, "select schemaname || '.' || relname as table,"
		 " pg_size_pretty(pg_total_relation_size(relid)) as size, n_live_tup as rows"
		 " from pg_stat_user_tables order by pg_total_relation_size(relid) desc limit 8");
	mb_table(&md, r);
	PQclear(r);

	mb_printf(&md, "## Incidents\n\n");
	r = q(c, "select source, count(*) as errors, to_char(max(at), 'YYYY-MM-DD HH24:MI') as last"
		 " from ops.events where level = 'error' and at >= now() - interval '7 days'"
		 " group by 1 order by 2 desc");
	mb_table(&md, r);
	PQclear(r);

	mb_printf(&md, "## Daily figures\n\n");
	/* One chart per daily figure: an aggregate over a table's rows of each of the last
	 * seven days. The SQL pieces are constants of this table, never input. */
	static const struct {
		const char *title, *unit, *agg, *from, *at;
	} charts[] = {
	    {"Imports per day", "", "count(*)", "ops.import_runs", "started_at"},
	    {"Import errors per day", "", "count(*)", "ops.import_errors", "at"},
	    {"Cache hit rate per day (%)", "%", "round(avg(cache_hit_pct)::numeric, 1)",
	     "ops.metrics", "at"},
	    {"Transactions per second per day", "", "round(avg(tps)::numeric, 1)", "ops.metrics",
	     "at"},
	    {"Database size per day (MB)", " MB", "max(db_size) / 1048576.0", "ops.metrics", "at"},
	};
	for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++) {
		char sql[1024];
		snprintf(sql, sizeof sql,
			 "with d as (select generate_series(date_trunc('day', now()) - interval "
			 "'6 days', date_trunc('day', now()), interval '1 day') as day)"
			 " select to_char(d.day, 'Dy MM-DD'), (select %s from %s x"
			 " where x.%s >= d.day and x.%s < d.day + interval '1 day')"
			 " from d order by d.day",
			 charts[i].agg, charts[i].from, charts[i].at, charts[i].at);
		r = q(c, sql);
		mb_chart(&md, charts[i].title, r, 0, 1, charts[i].unit);
		PQclear(r);
	}

	char path[4200];
	int rc = write_report(ctx, "weekly", &md, path, sizeof path);
	free(md.p);
	if (rc == 0) {
		db_event(c, "info", "generate-weekly-report", "weekly report written to %s", path);
		out_kv(ctx->out, "report", "%s", path);
		out_line(ctx->out, "weekly report written to %s", path);
	}
	PQfinish(c);
	return rc < 0 ? EXIT_FAIL : 0;
}

/* ---- collect (metrics has a family of its own: cmd_metrics.c) ---- */

static const char *nn(char *buf, size_t n, double v, const char *fmt)
{
	if (isnan(v))
		return NULL;
	snprintf(buf, n, fmt, v);
	return buf;
}

static int metrics_store(PGconn *c, const struct metrics_sample *m, char *err, size_t errlen)
{
	char b[16][64];
	const char *p[16];
	snprintf(b[0], 64, "%lld", m->xact_total);
	p[0] = b[0];
	p[1] = nn(b[1], 64, m->tps, "%.3f");
	snprintf(b[2], 64, "%lld", m->db_size);
	p[2] = b[2];
	snprintf(b[3], 64, "%d", m->connections);
	p[3] = b[3];
	p[4] = nn(b[4], 64, m->buffer_hit_pct, "%.3f");
	snprintf(b[5], 64, "%lld", m->cache_hits);
	p[5] = b[5];
	snprintf(b[6], 64, "%lld", m->cache_misses);
	p[6] = b[6];
	p[7] = nn(b[7], 64, m->cache_hit_pct, "%.3f");
	snprintf(b[8], 64, "%lld", m->cache_entries);
	p[8] = b[8];
	snprintf(b[9], 64, "%lld", m->cache_bytes);
	p[9] = b[9];
	p[10] = nn(b[10], 64, m->query_mean_ms, "%.4f");
	snprintf(b[11], 64, "%lld", m->dead_tuples);
	p[11] = b[11];
	snprintf(b[12], 64, "%d", m->waiting_locks);
	p[12] = b[12];
	p[13] = nn(b[13], 64, m->longest_txn_s, "%.3f");
	p[14] = nn(b[14], 64, m->import_rate, "%.3f");
	snprintf(b[15], 64, "%lld", m->mem_used);
	p[15] = b[15];
	return db_exec(
	    c, err, errlen,
	    "insert into ops.metrics (xact_total, tps, db_size, connections, buffer_hit_pct,"
	    " cache_hits, cache_misses, cache_hit_pct, cache_entries, cache_bytes,"
	    " query_mean_ms, dead_tuples, waiting_locks, longest_txn_s, import_rate, mem_used)"
	    " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
	    16, p);
}

/* The previous stored sample, so a cron-driven collect (one sample a run) still gets
 * rates. */
static int metrics_last(PGconn *c, struct metrics_sample *m)
{
	char err[256];
	PGresult *r =
	    db_query(c, err, sizeof err,
		     "select extract(epoch from at)::bigint, xact_total, cache_hits, cache_misses"
		     " from ops.metrics order by at desc limit 1",
		     0, NULL);
	if (!r || PQntuples(r) == 0) {
		PQclear(r);
		return -1;
	}
	memset(m, 0, sizeof *m);
	m->at = (time_t)atoll(PQgetvalue(r, 0, 0));
	m->xact_total = atoll(PQgetvalue(r, 0, 1));
	m->cache_hits = atoll(PQgetvalue(r, 0, 2));
	m->cache_misses = atoll(PQgetvalue(r, 0, 3));
	PQclear(r);
	return 0;
}

static int cmd_collect_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	long interval = 60, count = 1, keep = 30L * 86400;
	if (args_get_duration(ctx->args, "interval", &interval, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "count", &count, err, sizeof err) < 0 ||
	    args_get_duration(ctx->args, "keep", &keep, err, sizeof err) < 0 || interval < 1 ||
	    count < 0 || keep < 60) {
		out_err(ctx->out, "%s", err[0] ? err : "bad --interval, --count or --keep");
		return EXIT_USAGE;
	}
	PGconn *c = report_connect(ctx, "collect", 1);
	if (!c)
		return EXIT_FAIL;
	struct metrics_sample prev, m;
	int have_prev = metrics_last(c, &prev) == 0;
	char keep_s[32];
	snprintf(keep_s, sizeof keep_s, "%ld", keep);
	const char *kp[] = {keep_s};
	for (long i = 0; count == 0 || i < count; i++) {
		if (i > 0)
			sleep((unsigned)interval);
		if (metrics_sample_take(c, ctx->cfg, have_prev ? &prev : NULL, &m, err,
					sizeof err) < 0 ||
		    metrics_store(c, &m, err, sizeof err) < 0 ||
		    db_exec(c, err, sizeof err,
			    "delete from ops.metrics where at < now() - make_interval(secs => "
			    "$1::float8)",
			    1, kp) < 0) {
			out_err(ctx->out, "collect: %s", err);
			PQfinish(c);
			return EXIT_FAIL;
		}
		prev = m;
		have_prev = 1;
		out_line(ctx->out, "sample %ld stored: tps %.1f, cache hit %.1f%%, %d connections",
			 i + 1, isnan(m.tps) ? 0 : m.tps,
			 isnan(m.cache_hit_pct) ? 0 : m.cache_hit_pct, m.connections);
	}
	PQfinish(c);
	return 0;
}

/* ---- perf-monitor ---- */

static int cmd_perf_monitor_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	long duration = 600, interval = 5;
	if (args_get_duration(ctx->args, "duration", &duration, err, sizeof err) < 0 ||
	    args_get_duration(ctx->args, "interval", &interval, err, sizeof err) < 0 ||
	    interval < 1 || duration < 1) {
		out_err(ctx->out, "%s", err[0] ? err : "bad --duration or --interval");
		return EXIT_USAGE;
	}
	PGconn *c = report_connect(ctx, "perf-monitor", 1);
	if (!c)
		return EXIT_FAIL;
	struct metrics_sample prev, m;
	if (metrics_sample_take(c, ctx->cfg, NULL, &prev, err, sizeof err) < 0) {
		out_err(ctx->out, "perf-monitor: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	out_line(ctx->out, "%-8s %9s %10s %9s %12s %10s", "time", "tps", "query_ms", "cache_%",
		 "import_rec/s", "memory");
	double end = util_mono() + (double)duration;
	while (util_mono() < end) {
		double left = end - util_mono();
		sleep((unsigned)(left < (double)interval ? ceil(left) : (double)interval));
		if (metrics_sample_take(c, ctx->cfg, &prev, &m, err, sizeof err) < 0) {
			out_err(ctx->out, "perf-monitor: %s", err);
			break;
		}
		char t[16], mem[32];
		strftime(t, sizeof t, "%H:%M:%S", localtime(&m.at));
		fmt_bytes(mem, sizeof mem, (double)m.mem_used);
		out_line(ctx->out, "%-8s %9.1f %10.2f %9.1f %12.0f %10s", t,
			 isnan(m.tps) ? 0 : m.tps, isnan(m.query_mean_ms) ? 0 : m.query_mean_ms,
			 isnan(m.cache_hit_pct) ? 0 : m.cache_hit_pct,
			 isnan(m.import_rate) ? 0 : m.import_rate, mem);
		prev = m;
	}
	PQfinish(c);
	return 0;
}

/* ---- perf-analyze ---- */

struct finding {
	const char *metric;
	char value[64]; /* for people */
	enum status st;
	const char *action;
	double num;	  /* for --json: base units (NAN: none) */
	const char *unit; /* s, B, ratio, count, per_s */
};

/* Set the last finding's figure in base units. */
static void finding_num(struct finding *f, double num, const char *unit)
{
	f->num = num;
	f->unit = unit;
}

static int cmd_perf_analyze_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	PGconn *c = report_connect(ctx, "perf-analyze", 1);
	if (!c)
		return ST_CRITICAL;
	const struct config *cfg = ctx->cfg;
	struct finding f[8];
	int n = 0;
	/* Query time is the time-weighted mean over the web workload's statements: a slow
	 * maintenance statement run once is not a bottleneck, a fast one run a million times
	 * may be. midsops's own work (imports, backups) is what users do not feel: shown
	 * after the findings, never one of them. */
	struct health_probe sq;
	double own_ms = 0;
	long long own_calls = 0;
	int have_own = 0;
	if (health_statements(c, STMTS_WEB, "total", 1, 0, &sq) == 0) {
		double ms = 0;
		long long calls = 0;
		if (health_statements_mean(c, STMTS_WEB, &ms, &calls, err, sizeof err) == 0) {
			f[n] = (struct finding){
			    "query_time",
			    "",
			    threshold_judge(&cfg->query_time, ms),
			    "optimize indexes: check the slowest statements with db-slow-queries",
			    0,
			    NULL};
			snprintf(f[n].value, 64, "%.2f ms mean (web)", ms);
			finding_num(&f[n++], ms / 1000.0, "s");
		} else {
			f[n] = (struct finding){"query_time",	       "n/a", ST_UNKNOWN,
						"see db-slow-queries", NAN,   NULL};
			n++;
		}
		have_own =
		    health_statements_mean(c, STMTS_OWN, &own_ms, &own_calls, err, sizeof err) == 0;
	} else {
		f[n] = (struct finding){"query_time", "n/a", ST_UNKNOWN, sq.reason, NAN, NULL};
		n++;
	}
	health_probe_free(&sq);
	struct cache_snapshot cs;
	if (probe_cache_stats(c, &cs) == 0 && !isnan(cs.hit_rate) && cs.hits + cs.misses >= 100) {
		f[n] = (struct finding){
		    "cache_hit_rate",
		    "",
		    threshold_judge(&cfg->cache_hit_rate, cs.hit_rate),
		    cs.evictions > 0 ? "increase cache size ([cache] max_entries, max_bytes)"
				     : "increase cache size, or run cache-warm after imports",
		    0,
		    NULL};
		snprintf(f[n].value, 64, "%.1f%%", cs.hit_rate);
		finding_num(&f[n++], cs.hit_rate / 100.0, "ratio");
	}
	struct db_snapshot d;
	struct db_judgement j;
	if (probe_db(c, &d) == 0) {
		probe_db_judge(&d, cfg, &j);
		f[n] = (struct finding){
		    "bloat", "", j.dead, "vacuum: run db-optimize (or db-vacuum)", 0, NULL};
		snprintf(f[n].value, 64, "%.1f%% dead tuples", j.dead_pct);
		finding_num(&f[n++], j.dead_pct / 100.0, "ratio");
		f[n] = (struct finding){"locks",
					"",
					status_worst(j.locks, j.txn),
					"find the blocker in db-health (locks) and end it",
					0,
					NULL};
		snprintf(f[n].value, 64, "%d waiting, longest txn %.0fs", d.waiting_locks,
			 d.longest_txn_s);
		finding_num(&f[n++], d.waiting_locks, "count");
		if (!isnan(d.hit_ratio)) {
			f[n] = (struct finding){
			    "io", "",  j.hit, "raise shared_buffers; the working set does not fit",
			    0,	  NULL};
			snprintf(f[n].value, 64, "%.2f%% buffer hits", d.hit_ratio);
			finding_num(&f[n++], d.hit_ratio / 100.0, "ratio");
		}
	}
	struct sys_snapshot s;
	probe_system(cfg, &s);
	double gb = (double)(s.mem_total - s.mem_avail) / (1024.0 * 1024 * 1024);
	f[n] = (struct finding){
	    "memory", "",  threshold_judge(&cfg->memory, gb), "reduce batch size of imports",
	    0,	      NULL};
	if ((double)s.mem_total / (1024.0 * 1024 * 1024) < cfg->memory.critical * 2)
		f[n].st = ST_OK;
	snprintf(f[n].value, 64, "%.2f GB used", gb);
	finding_num(&f[n++], (double)(s.mem_total - s.mem_avail), "B");
	char *rate = db_scalar(c, err, sizeof err,
			       "select rate from ops.import_runs where rate is not null and state ="
			       " 'completed' order by started_at desc limit 1",
			       0, NULL);
	if (rate) {
		f[n] = (struct finding){
		    "import_speed",	   "", threshold_judge(&cfg->import_speed, atof(rate)),
		    "increase batch size", 0,  NULL};
		snprintf(f[n].value, 64, "%.0f records/s", atof(rate));
		finding_num(&f[n++], atof(rate), "per_s");
		free(rate);
	}
	PQfinish(c);
	/* JSON: the figure in base units beside its text; text: the text. */
	int json = out_format(ctx->out) == OUT_JSON;
	const char *cols_text[] = {"metric", "value", "status", "action"};
	const char *cols_json[] = {"metric", "value", "unit", "text", "status", "action"};
	out_table_begin(ctx->out, "findings", json ? 6 : 4, json ? cols_json : cols_text);
	enum status worst = ST_OK;
	int wi = -1;
	for (int i = 0; i < n; i++) {
		const char *action = f[i].st == ST_OK ? "-" : f[i].action;
		char num[64];
		snprintf(num, sizeof num, "%.12g", f[i].num);
		if (json)
			out_rowf(ctx->out, f[i].metric, isnan(f[i].num) ? NULL : num, f[i].unit,
				 f[i].value, status_name(f[i].st), action);
		else
			out_rowf(ctx->out, f[i].metric, f[i].value, status_name(f[i].st), action);
		if (f[i].st != ST_UNKNOWN && f[i].st > worst) {
			worst = f[i].st;
			wi = i;
		}
	}
	out_table_end(ctx->out);
	if (have_own)
		out_kv(ctx->out, "midsops_own_query_time",
		       "%.2f ms mean over %lld calls (role " DB_OWN_ROLE ", not judged)", own_ms,
		       own_calls);
	if (wi >= 0) {
		out_kv(ctx->out, "bottleneck", "%s", f[wi].metric);
		out_kv(ctx->out, "recommendation", "%s", f[wi].action);
		out_status(ctx->out, worst, "bottleneck: %s (%s): %s", f[wi].metric, f[wi].value,
			   f[wi].action);
	} else {
		out_kv(ctx->out, "bottleneck", "none");
		out_status(ctx->out, ST_OK,
			   "no bottleneck: every figure is within the runbook's normal "
			   "range");
	}
	return worst;
}

/* ---- perf-test ---- */

struct zipf {
	double *cdf;
	int n;
};

static void zipf_init(struct zipf *z, int n, double s)
{
	z->n = n;
	z->cdf = xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += 1.0 / pow(i + 1, s);
	double acc = 0;
	for (int i = 0; i < n; i++) {
		acc += 1.0 / pow(i + 1, s) / sum;
		z->cdf[i] = acc;
	}
}

static int zipf_pick(const struct zipf *z, unsigned *seed)
{
	double u = (double)rand_r(seed) / ((double)RAND_MAX + 1.0);
	int lo = 0, hi = z->n - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct wl_list {
	char **v;
	int n;
	struct zipf z;
};

static int wl_load(PGconn *c, struct wl_list *l, const char *sql, char *err, size_t errlen)
{
	PGresult *r = db_query(c, err, errlen, sql, 0, NULL);
	if (!r)
		return -1;
	l->n = PQntuples(r);
	l->v = xcalloc((size_t)l->n + 1, sizeof *l->v);
	for (int i = 0; i < l->n; i++)
		l->v[i] = xstrdup(PQgetvalue(r, i, 0));
	PQclear(r);
	zipf_init(&l->z, l->n, 1.1);
	return 0;
}

static void wl_free(struct wl_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->z.cdf);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	size_t i = (size_t)ceil(p / 100.0 * (double)n);
	return v[i ? i - 1 : 0];
}

enum { K_POWER, K_POWERSET, K_SET, K_SEARCH, K_COUNT };
static const char *const kind_names[K_COUNT] = {"power", "powerset_powers", "set_bonuses",
						"search_powers"};
static const char *const kind_sql[K_COUNT] = {
    "select api.power($1)", "select api.powerset_powers($1)", "select api.set_bonuses($1)",
    "select api.search_powers($1)"};

struct client {
	PGconn *c;
	int kind;
	double t0;
	int busy;
};

struct lat {
	double *v;
	size_t n, cap;
};

static void lat_add(struct lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = ms;
}

static int cmd_perf_test_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	long duration = 10, nclients = 4, seed = 42;
	if (args_get_duration(ctx->args, "duration", &duration, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "clients", &nclients, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "seed", &seed, err, sizeof err) < 0 || duration < 1 ||
	    nclients < 1 || nclients > 64) {
		out_err(ctx->out, "%s", err[0] ? err : "--duration >= 1 and --clients 1..64");
		return EXIT_USAGE;
	}
	PGconn *c = report_connect(ctx, "perf-test", 1);
	if (!c)
		return EXIT_FAIL;
	struct wl_list lists[K_COUNT] = {0};
	/* Hot items first: what builds use, then the rest in a stable order. */
	if (wl_load(c, &lists[K_POWER],
		    "select p.key from game.powers p left join (select power_id, count(*) n from"
		    " builds.build_powers group by 1) u on u.power_id = p.id where not p.retired"
		    " order by u.n desc nulls last, hashtext(p.key)",
		    err, sizeof err) < 0 ||
	    wl_load(c, &lists[K_POWERSET],
		    "select key from game.powersets where not retired order by hashtext(key)", err,
		    sizeof err) < 0 ||
	    wl_load(
		c, &lists[K_SET],
		"select key from game.enhancement_sets where not retired order by hashtext(key)",
		err, sizeof err) < 0 ||
	    wl_load(c, &lists[K_SEARCH],
		    "select w from (select lower(w) w, count(*) n from game.powers,"
		    " regexp_split_to_table(display_name, '\\s+') w where length(w) >= 3"
		    " group by 1) t order by n desc, w limit 200",
		    err, sizeof err) < 0) {
		out_err(ctx->out, "perf-test: %s", err);
		PQfinish(c);
		return EXIT_FAIL;
	}
	if (lists[K_POWER].n == 0) {
		out_err(ctx->out, "perf-test: no powers in the database: import an export first");
		for (int k = 0; k < K_COUNT; k++)
			wl_free(&lists[k]);
		PQfinish(c);
		return EXIT_FAIL;
	}
	struct cache_snapshot before, after;
	probe_cache_stats(c, &before);
	struct client *cl = xcalloc((size_t)nclients, sizeof *cl);
	for (long i = 0; i < nclients; i++) {
		cl[i].c = db_connect(ctx->target, "perf-test", err, sizeof err);
		if (!cl[i].c) {
			out_err(ctx->out, "perf-test: %s", err);
			for (long k = 0; k < i; k++)
				PQfinish(cl[k].c);
			free(cl);
			PQfinish(c);
			return EXIT_FAIL;
		}
		for (int k = 0; k < K_COUNT; k++) {
			char name[8];
			snprintf(name, sizeof name, "q%d", k);
			PQclear(PQprepare(cl[i].c, name, kind_sql[k], 1, NULL));
		}
		PQsetnonblocking(cl[i].c, 1);
	}
	unsigned rs = (unsigned)seed;
	struct lat all = {0}, per[K_COUNT] = {{0}};
	long errors = 0;
	/* The mix: 60% single powers, 20% powerset listings, 10% set bonuses, 10% searches. */
	double t_start = util_mono(), t_end = t_start + (double)duration;
	struct pollfd *pfd = xcalloc((size_t)nclients, sizeof *pfd);
	for (;;) {
		double now = util_mono();
		int active = 0;
		for (long i = 0; i < nclients; i++) {
			if (!cl[i].busy && now < t_end) {
				int roll = rand_r(&rs) % 100;
				int k = roll < 60   ? K_POWER
					: roll < 80 ? K_POWERSET
					: roll < 90 ? K_SET
						    : K_SEARCH;
				if (lists[k].n == 0)
					k = K_POWER;
				const char *arg = lists[k].v[zipf_pick(&lists[k].z, &rs)];
				char name[8];
				snprintf(name, sizeof name, "q%d", k);
				const char *p[] = {arg};
				if (!PQsendQueryPrepared(cl[i].c, name, 1, p, NULL, NULL, 0)) {
					errors++;
					continue;
				}
				PQflush(cl[i].c);
				cl[i].kind = k;
				cl[i].t0 = util_mono();
				cl[i].busy = 1;
			}
			pfd[i].fd = PQsocket(cl[i].c);
			pfd[i].events = cl[i].busy ? POLLIN : 0;
			active += cl[i].busy;
		}
		if (!active)
			break;
		poll(pfd, (nfds_t)nclients, 100);
		for (long i = 0; i < nclients; i++) {
			if (!cl[i].busy || !(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (!PQconsumeInput(cl[i].c)) {
				errors++;
				cl[i].busy = 0;
				continue;
			}
			if (PQisBusy(cl[i].c))
				continue;
			PGresult *r;
			int ok = 1;
			while ((r = PQgetResult(cl[i].c))) {
				if (PQresultStatus(r) != PGRES_TUPLES_OK)
					ok = 0;
				PQclear(r);
			}
			double ms = (util_mono() - cl[i].t0) * 1000.0;
			cl[i].busy = 0;
			if (!ok) {
				errors++;
				continue;
			}
			lat_add(&all, ms);
			lat_add(&per[cl[i].kind], ms);
		}
		if (ctx->interactive)
			out_progress(ctx->out, "perf-test", util_mono() - t_start, (double)duration,
				     "");
	}
	out_progress_end(ctx->out);
	double elapsed = util_mono() - t_start;
	probe_cache_stats(c, &after);
	for (long i = 0; i < nclients; i++)
		PQfinish(cl[i].c);
	free(cl);
	free(pfd);
	PQfinish(c);

	qsort(all.v, all.n, sizeof *all.v, dcmp);
	long long h = after.hits - before.hits, m = after.misses - before.misses;
	double hit = h + m > 0 ? 100.0 * (double)h / (double)(h + m) : NAN;
	double p99 = pct(all.v, all.n, 99);
	out_kv_int(ctx->out, "clients", nclients);
	out_kv_num(ctx->out, "duration_s", elapsed, "s");
	out_kv_int(ctx->out, "queries", (long long)all.n);
	out_kv_int(ctx->out, "errors", errors);
	out_kv_num(ctx->out, "qps", (double)all.n / elapsed, "");
	out_kv_num(ctx->out, "p50_ms", pct(all.v, all.n, 50), "ms");
	out_kv_num(ctx->out, "p95_ms", pct(all.v, all.n, 95), "ms");
	out_kv_num(ctx->out, "p99_ms", p99, "ms");
	out_kv_num(ctx->out, "max_ms", all.n ? all.v[all.n - 1] : NAN, "ms");
	enum status hs = isnan(hit) ? ST_UNKNOWN : threshold_judge(&ctx->cfg->cache_hit_rate, hit);
	enum status qs = threshold_judge(&ctx->cfg->query_time, isnan(p99) ? 0 : p99);
	if (isnan(hit))
		out_kv_status(ctx->out, "cache_hit_rate", hs, "n/a");
	else
		out_kv_status(ctx->out, "cache_hit_rate", hs, "%.2f%%", hit);
	const char *cols[] = {"query", "count", "p50_ms", "p95_ms", "p99_ms"};
	out_table_begin(ctx->out, "by_query", 5, cols);
	for (int k = 0; k < K_COUNT; k++) {
		qsort(per[k].v, per[k].n, sizeof *per[k].v, dcmp);
		char a[32], b[32], cc[32], d[32];
		snprintf(a, sizeof a, "%zu", per[k].n);
		out_rowf(ctx->out, kind_names[k], a, nn(b, 32, pct(per[k].v, per[k].n, 50), "%.3f"),
			 nn(cc, 32, pct(per[k].v, per[k].n, 95), "%.3f"),
			 nn(d, 32, pct(per[k].v, per[k].n, 99), "%.3f"));
		free(per[k].v);
	}
	out_table_end(ctx->out);
	free(all.v);
	for (int k = 0; k < K_COUNT; k++)
		wl_free(&lists[k]);
	enum status st = status_worst(qs, hs == ST_UNKNOWN ? ST_OK : hs);
	if (errors)
		st = status_worst(st, ST_WARNING);
	out_status(ctx->out, st, "%.0f queries/s, p99 %.2f ms, cache hit rate %.1f%%",
		   (double)all.n / elapsed, isnan(p99) ? 0 : p99, isnan(hit) ? 0 : hit);
	return st;
}

const struct cmd_entry cmd_report_table[] = {
    {
	.name = "diag-quick",
	.summary = "Health check in about a second: database, cache, last import, system",
	.usage = "diag-quick [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_diag_quick_exec,
    },
    {
	.name = "diag-full",
	.summary = "Every health probe and check: diag-quick plus bloat, locks, connections, "
		   "checkpoints, archiver, slow statements",
	.usage = "diag-full [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_diag_full_exec,
    },
    {
	.name = "diag-report",
	.summary = "Write the full diagnosis as a Markdown report into the reports directory",
	.usage = "diag-report",
	.flags = CMD_CHECK,
	.exec = cmd_diag_report_exec,
    },
    {
	.name = "generate-weekly-report",
	.summary = "Markdown report of the week: imports, errors, backups, cache, slow "
		   "statements, growth, incidents, daily charts",
	.usage = "generate-weekly-report",
	.exec = cmd_weekly_report_exec,
    },
    {
	.name = "collect",
	.options = "interval= count= keep=",
	.summary = "Sample figures into ops.metrics (for cron or a systemd timer), keeping "
		   "--keep of history",
	.usage = "collect [--interval S] [--count N] [--keep 30d]",
	.flags = CMD_OBSERVE,
	.exec = cmd_collect_exec,
    },
    {
	.name = "perf-test",
	.options = "duration= clients= seed=",
	.summary = "Drive the API functions with a Zipf mix from N connections: QPS, "
		   "p50/p95/p99, cache hit rate",
	.usage = "perf-test [--duration S] [--clients N] [--seed N] [--json]",
	.flags = CMD_CHECK | CMD_LONG,
	.exec = cmd_perf_test_exec,
    },
    {
	.name = "perf-monitor",
	.options = "duration= interval=",
	.summary = "Print TPS, query time, cache hit rate, import speed and memory every "
		   "interval",
	.usage = "perf-monitor [--duration 10m] [--interval S]",
	.flags = CMD_LONG,
	.exec = cmd_perf_monitor_exec,
    },
    {
	.name = "perf-analyze",
	.summary = "Name the bottleneck (slow statements, cache, bloat, locks, I/O, memory, "
		   "import speed) and the runbook's action",
	.usage = "perf-analyze [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_perf_analyze_exec,
    },
    {0},
};
