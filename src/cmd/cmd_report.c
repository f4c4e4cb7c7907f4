/* The report family: diag-quick, diag-full, diag-report, generate-weekly-report, collect,
 * perf-test, perf-monitor, perf-analyze. The SQL is in src/maint/ (maint_report.c,
 * maint_perf.c); cmd_run opens the connection each entry's .db asks for. */
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
#include "config.h"
#include "maint.h"
#include "paths.h"
#include "probe.h"
#include "probe_health.h"
#include "probe_kpi.h"
#include "spark.h"
#include "status.h"
#include "target.h"
#include "util.h"

static void render_result(struct out *o, const char *name, const struct maint_rows *r)
{
	int nf = r->ncols < 16 ? r->ncols : 16;
	out_table_begin(o, name, nf, (const char **)r->names);
	for (int row = 0; row < r->nrows; row++) {
		const char *cells[16];
		for (int i = 0; i < nf; i++)
			cells[i] = maint_cell(r, row, i);
		out_row(o, cells);
	}
	out_table_end(o);
}

/* ---- diagnostics ---- */

/* The quick set: one round trip each for the database, the cache and the last import,
 * plus /proc. Meant to finish well under a second. */
static enum status diag_quick(struct out *o, const struct config *cfg, struct pg_conn *c)
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
	struct last_import li;
	struct db_error e;
	int found = maint_last_import(c, &li, &e);
	if (found < 0)
		out_kv(o, "last_import", "unknown: %s", e.message);
	else if (found == 0)
		out_kv(o, "last_import", "none yet");
	else {
		enum status st =
		    strcmp(li.state, "failed") == 0 || strcmp(li.state, "interrupted") == 0
			? ST_WARNING
			: ST_OK;
		out_kv_status(o, "last_import", st, "run %s %s at %s (%s errors)", li.id, li.state,
			      li.started, li.errors);
		worst = status_worst(worst, st);
	}
	out_section_end(o);
	out_section(o, "system");
	struct sys_snapshot s;
	probe_system(cfg, &s);
	worst = status_worst(worst, status_render_system(o, cfg, &s));
	out_section_end(o);
	return worst;
}

static enum status diag_full(struct out *o, const struct config *cfg, struct pg_conn *c)
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
	struct maint_stmts sq, own;
	if (maint_statements(c, STMTS_WEB, "mean", 10, 0, &sq) == 0) {
		double worst_ms = 0;
		if (!maint_num(&sq.rows, 0, 3, &worst_ms))
			worst_ms = 0;
		enum status st = threshold_judge(&cfg->query_time, worst_ms);
		struct out_fig qf =
		    status_fig(worst_ms / 1000.0, OUT_SECONDS, &cfg->query_time, 0.001);
		out_fig_status(o, "slowest_mean", st, &qf, "%.1f ms", worst_ms);
		render_result(o, "statements", &sq.rows);
		worst = status_worst(worst, st);
		out_section(o, "midsops_own");
		out_kv(o, "judged",
		       "no: midsops's own import, backup and maintenance statements "
		       "(role " DB_OWN_ROLE ")");
		if (maint_statements(c, STMTS_OWN, "mean", 5, 0, &own) == 0)
			render_result(o, "slowest_by_mean", &own.rows);
		maint_stmts_free(&own);
		out_section_end(o);
	} else
		out_kv_status(o, "probe", ST_UNKNOWN, "unavailable: %s", sq.reason);
	maint_stmts_free(&sq);
	out_section_end(o);
	out_section(o, "maintenance");
	worst = status_worst(worst, status_section_maintenance(o, cfg, c));
	out_section_end(o);
	return worst;
}

/* A report that cannot connect is CRITICAL in its status line, and exits 1. */
static int report_db_failed(struct cmd_ctx *ctx, const char *err)
{
	out_status(ctx->out, ST_CRITICAL, "%s", err);
	return EXIT_FAIL;
}

static int cmd_diag_quick_exec(struct cmd_ctx *ctx)
{
	enum status st = diag_quick(ctx->out, ctx->cfg, ctx->db);
	out_kv_num(ctx->out, "seconds", util_mono() - ctx->started, "s");
	out_status(ctx->out, st, "quick diagnosis: %s",
		   st == ST_OK ? "healthy" : "needs attention (run diag-full)");
	return st;
}

static int cmd_diag_full_exec(struct cmd_ctx *ctx)
{
	enum status st = diag_full(ctx->out, ctx->cfg, ctx->db);
	out_status(ctx->out, st, "full diagnosis: %s",
		   st == ST_OK ? "healthy" : "see the judged figures above");
	return st;
}

/* ---- Markdown files ---- */

static void mb_sink(void *ctx, const char *s, size_t n)
{
	strbuf_add(ctx, s, n);
}

/* A table cell may not break the Markdown table. */
static void mb_cell(struct strbuf *b, const char *s)
{
	strbuf_add(b, " ", 1);
	for (; s && *s; s++) {
		if (*s == '|')
			strbuf_add(b, "\\|", 2);
		else if (*s == '\n' || *s == '\r')
			strbuf_add(b, " ", 1);
		else
			strbuf_add(b, s, 1);
	}
	strbuf_add(b, " |", 2);
}

static void mb_table(struct strbuf *b, const struct maint_rows *r)
{
	if (r->nrows == 0) {
		strbuf_addf(b, "_none_\n\n");
		return;
	}
	strbuf_add(b, "|", 1);
	for (int i = 0; i < r->ncols; i++)
		mb_cell(b, r->names[i]);
	strbuf_add(b, "\n|", 2);
	for (int i = 0; i < r->ncols; i++)
		strbuf_add(b, " --- |", 6);
	strbuf_add(b, "\n", 1);
	for (int row = 0; row < r->nrows; row++) {
		strbuf_add(b, "|", 1);
		for (int i = 0; i < r->ncols; i++)
			mb_cell(b, maint_cell(r, row, i) ? maint_cell(r, row, i) : "");
		strbuf_add(b, "\n", 1);
	}
	strbuf_add(b, "\n", 1);
}

/* Bars for the value column of (label, value) rows. */
static void mb_chart(struct strbuf *b, const char *title, const struct maint_rows *r,
		     const char *unit)
{
	strbuf_addf(b, "%s:\n\n```text\n", title);
	double max = 0, v;
	for (int i = 0; i < r->nrows; i++)
		if (maint_num(r, i, 1, &v) && v > max)
			max = v;
	if (r->nrows == 0)
		strbuf_addf(b, "(no data)\n");
	for (int i = 0; i < r->nrows; i++) {
		char bar[41] = "";
		int has = maint_num(r, i, 1, &v);
		int w = has && max > 0 ? (int)lround(40.0 * v / max) : 0;
		memset(bar, '#', (size_t)w);
		bar[w] = 0;
		const char *label = maint_cell(r, i, 0) ? maint_cell(r, i, 0) : "";
		if (has)
			strbuf_addf(b, "%-10s %-40s %g%s\n", label, bar, v, unit);
		else
			strbuf_addf(b, "%-10s %-40s n/a\n", label, "");
	}
	/* The days as one sparkline on the console's trends' scale (spark.h), labelled alike. */
	double *d = xcalloc((size_t)r->nrows + 1, sizeof *d), lo, hi;
	for (int i = 0; i < r->nrows; i++)
		if (!maint_num(r, i, 1, &d[i]))
			d[i] = NAN;
	spark_range(d, r->nrows, &lo, &hi);
	if (!isnan(lo)) {
		char sp[256];
		spark_text(sp, sizeof sp, d, r->nrows, lo, hi, 0);
		strbuf_addf(b, "%-10s %s  min %g%s  max %g%s\n", "trend", sp, lo, unit, hi, unit);
	}
	free(d);
	strbuf_addf(b, "```\n\n");
}

static int write_report(struct cmd_ctx *ctx, const char *prefix, const struct strbuf *b, char *path,
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
	while (off < b->len) {
		ssize_t w = write(fd, b->s + off, b->len - off);
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

static void mb_header(struct strbuf *b, struct cmd_ctx *ctx, const char *title)
{
	char when[64], shown[2048];
	time_t now = time(NULL);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	target_display(ctx->target, shown, sizeof shown);
	strbuf_addf(b, "# %s\n\n- Generated: %s\n- Environment: %s\n- Target: `%s`\n\n", title,
		    when, ctx->target->env, shown);
}

static int cmd_diag_report_exec(struct cmd_ctx *ctx)
{
	struct strbuf text = {0}, md = {0};
	struct out *o = out_new_sink(OUT_TEXT, (struct out_sink){mb_sink, &text});
	enum status st = diag_full(o, ctx->cfg, ctx->db);
	out_status(o, st, "full diagnosis");
	out_free(o);
	mb_header(&md, ctx, "midsops diagnostic report");
	strbuf_addf(&md, "**Overall status: %s**\n\n## Figures\n\n```text\n%s```\n",
		    status_name(st), text.s ? text.s : "");
	char path[4200];
	int rc = write_report(ctx, "diag", &md, path, sizeof path);
	strbuf_free(&text);
	strbuf_free(&md);
	if (rc < 0)
		return ST_UNKNOWN;
	out_kv(ctx->out, "report", "%s", path);
	out_status(ctx->out, st, "diagnostic report written to %s", path);
	return st;
}

static void weekly_cache(struct strbuf *md, struct pg_conn *c)
{
	struct cache_snapshot cs;
	strbuf_addf(md, "## Cache\n\n");
	if (probe_cache_stats(c, &cs) < 0)
		return;
	if (isnan(cs.hit_rate))
		strbuf_addf(md, "- Hit rate: n/a (no reads)\n");
	else
		strbuf_addf(md, "- Hit rate: %.2f%% (%lld hits, %lld misses)\n", cs.hit_rate,
			    cs.hits, cs.misses);
	strbuf_addf(md, "- Entries: %lld of %lld; evictions %lld, expiries %lld\n\n", cs.entries,
		    cs.max_entries, cs.evictions, cs.expiries);
}

/* What users felt is judged; midsops's own work is listed apart and never judged: an
 * import's COPY is slow by nature, and a report that blamed it every week would teach its
 * readers to skip the section. */
static void weekly_statements(struct strbuf *md, struct pg_conn *c, const struct config *cfg)
{
	struct maint_stmts sq;
	double web_ms = 0, own_ms = 0, worst_ms = 0;
	long long web_calls = 0, own_calls = 0;
	char serr[256];
	strbuf_addf(md, "## Slow statements\n\n");
	if (maint_statements(c, STMTS_WEB, "mean", 5, 0, &sq) < 0) {
		strbuf_addf(md, "_unavailable: %s_\n\n", sq.reason);
		maint_stmts_free(&sq);
		return;
	}
	if (!maint_num(&sq.rows, 0, 3, &worst_ms))
		worst_ms = 0;
	/* A mean that cannot be read stays 0 calls, 0 ms: the table below still shows. */
	if (health_statements_mean(c, STMTS_WEB, &web_ms, &web_calls, serr, sizeof serr) < 0)
		web_ms = 0;
	strbuf_addf(md,
		    "Web workload (every role but %s): slowest mean %.1f ms, %s against the "
		    "query-time thresholds (%g / %g ms); %lld calls, %.2f ms mean.\n\n",
		    DB_OWN_ROLE, worst_ms, status_name(threshold_judge(&cfg->query_time, worst_ms)),
		    cfg->query_time.warning, cfg->query_time.critical, web_calls, web_ms);
	mb_table(md, &sq.rows);
	maint_stmts_free(&sq);
	strbuf_addf(md,
		    "midsops's own import, backup and maintenance statements (role %s), "
		    "not judged:\n\n",
		    DB_OWN_ROLE);
	if (maint_statements(c, STMTS_OWN, "total", 5, 0, &sq) == 0) {
		if (health_statements_mean(c, STMTS_OWN, &own_ms, &own_calls, serr, sizeof serr) <
		    0)
			own_ms = 0;
		strbuf_addf(md, "%lld calls, %.2f ms mean.\n\n", own_calls, own_ms);
		mb_table(md, &sq.rows);
	}
	maint_stmts_free(&sq);
}

static void weekly_render(struct strbuf *md, struct cmd_ctx *ctx, const struct weekly *w)
{
	if (w->from[0])
		strbuf_addf(md, "Week: %s to %s\n\n", w->from, w->to);
	strbuf_addf(md, "## Imports\n\n");
	mb_table(md, &w->imports);
	mb_table(md, &w->runs);
	strbuf_addf(md, "## Errors by kind\n\n");
	mb_table(md, &w->errors);
	strbuf_addf(md, "## Backups\n\n");
	if (w->has_backups)
		mb_table(md, &w->backups);
	else
		strbuf_addf(md, "_no backup catalogue in this database_\n\n");
	weekly_cache(md, ctx->db);
	weekly_statements(md, ctx->db, ctx->cfg);
	strbuf_addf(md, "## Database growth\n\n");
	mb_table(md, &w->growth);
	mb_table(md, &w->tables);
	strbuf_addf(md, "## Incidents\n\n");
	mb_table(md, &w->incidents);
	strbuf_addf(md, "## Daily figures\n\n");
	for (int i = 0; i < WEEKLY_CHARTS; i++)
		mb_chart(md, maint_weekly_charts[i].title, &w->charts[i],
			 maint_weekly_charts[i].unit);
}

static int cmd_weekly_report_exec(struct cmd_ctx *ctx)
{
	struct strbuf md = {0};
	struct weekly w;
	mb_header(&md, ctx, "midsops weekly report");
	maint_weekly(ctx->db, &w);
	if (w.failed)
		out_warn(ctx->out, "generate-weekly-report: %d section(s) shown empty: %s",
			 w.failed, w.first_error.message);
	weekly_render(&md, ctx, &w);
	maint_weekly_free(&w);
	char path[4200];
	int rc = write_report(ctx, "weekly", &md, path, sizeof path);
	strbuf_free(&md);
	if (rc == 0) {
		maint_journal(ctx->db, "info", "generate-weekly-report",
			      "weekly report written to %s", path);
		out_kv(ctx->out, "report", "%s", path);
		out_line(ctx->out, "weekly report written to %s", path);
	}
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

static int collect_opts(struct cmd_ctx *ctx, long *interval, long *count, long *keep)
{
	char err[1024] = "";
	*interval = 60, *count = 1, *keep = 30L * 86400;
	if (args_get_duration(ctx->args, "interval", interval, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "count", count, err, sizeof err) < 0 ||
	    args_get_duration(ctx->args, "keep", keep, err, sizeof err) < 0 || *interval < 1 ||
	    *count < 0 || *keep < 60) {
		out_err(ctx->out, "%s", err[0] ? err : "bad --interval, --count or --keep");
		return EXIT_USAGE;
	}
	return 0;
}

static int collect_args(struct cmd_ctx *ctx)
{
	long interval, count, keep;
	return collect_opts(ctx, &interval, &count, &keep);
}

static int cmd_collect_exec(struct cmd_ctx *ctx)
{
	char err[1024] = "";
	long interval, count, keep;
	if (collect_opts(ctx, &interval, &count, &keep) != 0)
		return EXIT_USAGE;
	/* The previous stored sample, so a cron-driven collect (one sample a run) still gets
	 * rates. */
	struct metrics_sample prev, m;
	int have_prev = maint_metrics_last(ctx->db, &prev) == 0;
	for (long i = 0; count == 0 || i < count; i++) {
		if (i > 0)
			sleep((unsigned)interval);
		struct db_error e;
		if (metrics_sample_take(ctx->db, ctx->cfg, have_prev ? &prev : NULL, &m, err,
					sizeof err) < 0) {
			out_err(ctx->out, "collect: %s", err);
			return EXIT_FAIL;
		}
		if (maint_metrics_store(ctx->db, &m, keep, &e) < 0) {
			out_err(ctx->out, "collect: %s", e.message);
			return EXIT_FAIL;
		}
		prev = m;
		have_prev = 1;
		out_line(ctx->out, "sample %ld stored: tps %.1f, cache hit %.1f%%, %d connections",
			 i + 1, isnan(m.tps) ? 0 : m.tps,
			 isnan(m.cache_hit_pct) ? 0 : m.cache_hit_pct, m.connections);
	}
	return 0;
}

/* ---- perf-monitor ---- */

static int perf_monitor_opts(struct cmd_ctx *ctx, long *duration, long *interval)
{
	char err[1024] = "";
	*duration = 600, *interval = 5;
	if (args_get_duration(ctx->args, "duration", duration, err, sizeof err) < 0 ||
	    args_get_duration(ctx->args, "interval", interval, err, sizeof err) < 0 ||
	    *interval < 1 || *duration < 1) {
		out_err(ctx->out, "%s", err[0] ? err : "bad --duration or --interval");
		return EXIT_USAGE;
	}
	return 0;
}

static int perf_monitor_args(struct cmd_ctx *ctx)
{
	long duration, interval;
	return perf_monitor_opts(ctx, &duration, &interval);
}

static int cmd_perf_monitor_exec(struct cmd_ctx *ctx)
{
	char err[1024] = "";
	long duration, interval;
	if (perf_monitor_opts(ctx, &duration, &interval) != 0)
		return EXIT_USAGE;
	struct pg_conn *c = ctx->db;
	struct metrics_sample prev, m;
	if (metrics_sample_take(c, ctx->cfg, NULL, &prev, err, sizeof err) < 0) {
		out_err(ctx->out, "perf-monitor: %s", err);
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

/* The findings so far, and midsops's own query time (shown, never one of them). */
struct findings {
	struct finding f[8];
	int n;
	char reason[512]; /* why the statements could not be read */
	double own_ms;
	long long own_calls;
	int have_own;
};

/* Query time is the time-weighted mean over the web workload's statements: a slow
 * maintenance statement run once is not a bottleneck, a fast one run a million times may
 * be. midsops's own work (imports, backups) is what users do not feel: shown after the
 * findings, never one of them. */
static void find_query_time(struct findings *fs, struct pg_conn *c, const struct config *cfg)
{
	char err[1024] = "";
	struct maint_stmts sq;
	struct finding *f = &fs->f[fs->n++];
	if (maint_statements(c, STMTS_WEB, "total", 1, 0, &sq) < 0) {
		*f = (struct finding){"query_time", "n/a", ST_UNKNOWN, NULL, NAN, NULL};
		/* The reason outlives sq: the finding keeps its own copy. */
		snprintf(fs->reason, sizeof fs->reason, "%s", sq.reason);
		f->action = fs->reason;
		maint_stmts_free(&sq);
		return;
	}
	maint_stmts_free(&sq);
	double ms = 0;
	long long calls = 0;
	if (health_statements_mean(c, STMTS_WEB, &ms, &calls, err, sizeof err) == 0) {
		*f = (struct finding){
		    "query_time", "", kpi_judge(cfg, KPI_QUERY, ms, 0), kpi_action(KPI_QUERY, 0), 0,
		    NULL};
		snprintf(f->value, 64, "%.2f ms mean (web)", ms);
		finding_num(f, ms / 1000.0, "s");
	} else
		*f = (struct finding){"query_time",	     "n/a", ST_UNKNOWN,
				      "see db-slow-queries", NAN,   NULL};
	fs->have_own =
	    health_statements_mean(c, STMTS_OWN, &fs->own_ms, &fs->own_calls, err, sizeof err) == 0;
}

static void find_cache(struct findings *fs, struct pg_conn *c, const struct config *cfg)
{
	struct cache_snapshot cs;
	if (probe_cache_stats(c, &cs) < 0 || isnan(cs.hit_rate) ||
	    cs.hits + cs.misses < KPI_CACHE_MIN_READS)
		return;
	struct finding *f = &fs->f[fs->n++];
	*f = (struct finding){kpi_names[KPI_CACHE],
			      "",
			      kpi_judge(cfg, KPI_CACHE, cs.hit_rate, 0),
			      kpi_action(KPI_CACHE, cs.evictions > 0),
			      0,
			      NULL};
	snprintf(f->value, 64, "%.1f%%", cs.hit_rate);
	finding_num(f, cs.hit_rate / 100.0, "ratio");
}

static void find_db(struct findings *fs, struct pg_conn *c, const struct config *cfg)
{
	struct db_snapshot d;
	struct db_judgement j;
	if (probe_db(c, &d) < 0)
		return;
	probe_db_judge(&d, cfg, &j);
	struct finding *f = &fs->f[fs->n++];
	*f = (struct finding){"bloat", "",  j.dead, "vacuum: run db-optimize (or db-vacuum)",
			      0,       NULL};
	snprintf(f->value, 64, "%.1f%% dead tuples", j.dead_pct);
	finding_num(f, j.dead_pct / 100.0, "ratio");
	f = &fs->f[fs->n++];
	*f = (struct finding){"locks",
			      "",
			      status_worst(j.locks, j.txn),
			      "find the blocker in db-health (locks) and end it",
			      0,
			      NULL};
	snprintf(f->value, 64, "%d waiting, longest txn %.0fs", d.waiting_locks, d.longest_txn_s);
	finding_num(f, d.waiting_locks, "count");
	if (isnan(d.hit_ratio))
		return;
	f = &fs->f[fs->n++];
	*f = (struct finding){
	    "io", "", j.hit, "raise shared_buffers; the working set does not fit", 0, NULL};
	snprintf(f->value, 64, "%.2f%% buffer hits", d.hit_ratio);
	finding_num(f, d.hit_ratio / 100.0, "ratio");
}

static void find_host(struct findings *fs, struct pg_conn *c, const struct config *cfg)
{
	struct sys_snapshot s;
	probe_system(cfg, &s);
	double gb = (double)(s.mem_total - s.mem_avail) / (1024.0 * 1024 * 1024);
	struct finding *f = &fs->f[fs->n++];
	*f = (struct finding){
	    kpi_names[KPI_MEMORY],
	    "",
	    kpi_judge(cfg, KPI_MEMORY, gb, (double)s.mem_total / (1024.0 * 1024 * 1024)),
	    kpi_action(KPI_MEMORY, 0),
	    0,
	    NULL};
	snprintf(f->value, 64, "%.2f GB used", gb);
	finding_num(f, (double)(s.mem_total - s.mem_avail), "B");
	double rate;
	struct db_error e;
	/* No completed import (or none readable) is no finding, as before any import. */
	if (maint_last_import_rate(c, &rate, &e) <= 0)
		return;
	f = &fs->f[fs->n++];
	*f = (struct finding){kpi_names[KPI_IMPORT],	 "", kpi_judge(cfg, KPI_IMPORT, rate, 0),
			      kpi_action(KPI_IMPORT, 0), 0,  NULL};
	snprintf(f->value, 64, "%.0f records/s", rate);
	finding_num(f, rate, "per_s");
}

/* JSON: the figure in base units beside its text; text: the text. */
static int findings_render(struct cmd_ctx *ctx, const struct findings *fs)
{
	int json = out_format(ctx->out) == OUT_JSON;
	const char *cols_text[] = {"metric", "value", "status", "action"};
	const char *cols_json[] = {"metric", "value", "unit", "text", "status", "action"};
	out_table_begin(ctx->out, "findings", json ? 6 : 4, json ? cols_json : cols_text);
	enum status worst = ST_OK;
	int wi = -1;
	for (int i = 0; i < fs->n; i++) {
		const struct finding *f = &fs->f[i];
		const char *action = f->st == ST_OK ? "-" : f->action;
		char num[64];
		snprintf(num, sizeof num, "%.12g", f->num);
		if (json)
			out_rowf(ctx->out, f->metric, isnan(f->num) ? NULL : num, f->unit, f->value,
				 status_name(f->st), action);
		else
			out_rowf(ctx->out, f->metric, f->value, status_name(f->st), action);
		if (f->st != ST_UNKNOWN && f->st > worst) {
			worst = f->st;
			wi = i;
		}
	}
	out_table_end(ctx->out);
	if (fs->have_own)
		out_kv(ctx->out, "midsops_own_query_time",
		       "%.2f ms mean over %lld calls (role " DB_OWN_ROLE ", not judged)",
		       fs->own_ms, fs->own_calls);
	if (wi < 0) {
		out_kv(ctx->out, "bottleneck", "none");
		out_status(ctx->out, ST_OK,
			   "no bottleneck: every figure is within the runbook's normal range");
		return worst;
	}
	out_kv(ctx->out, "bottleneck", "%s", fs->f[wi].metric);
	out_kv(ctx->out, "recommendation", "%s", fs->f[wi].action);
	out_status(ctx->out, worst, "bottleneck: %s (%s): %s", fs->f[wi].metric, fs->f[wi].value,
		   fs->f[wi].action);
	return worst;
}

static int cmd_perf_analyze_exec(struct cmd_ctx *ctx)
{
	struct findings fs = {0};
	find_query_time(&fs, ctx->db, ctx->cfg);
	find_cache(&fs, ctx->db, ctx->cfg);
	find_db(&fs, ctx->db, ctx->cfg);
	find_host(&fs, ctx->db, ctx->cfg);
	return findings_render(ctx, &fs);
}

/* ---- perf-test ---- */

static double pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	size_t i = (size_t)ceil(p / 100.0 * (double)n);
	return v[i ? i - 1 : 0];
}

static int perf_test_opts(struct cmd_ctx *ctx, long *duration, long *nclients, long *seed)
{
	char err[1024] = "";
	*duration = 10, *nclients = 4, *seed = 42;
	if (args_get_duration(ctx->args, "duration", duration, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "clients", nclients, err, sizeof err) < 0 ||
	    args_get_long(ctx->args, "seed", seed, err, sizeof err) < 0 || *duration < 1 ||
	    *nclients < 1 || *nclients > 64) {
		out_err(ctx->out, "%s", err[0] ? err : "--duration >= 1 and --clients 1..64");
		return EXIT_USAGE;
	}
	return 0;
}

static int perf_test_args(struct cmd_ctx *ctx)
{
	long duration, nclients, seed;
	return perf_test_opts(ctx, &duration, &nclients, &seed);
}

static void perf_progress(void *arg, double done, double total)
{
	out_progress(arg, "perf-test", done, total, "");
}

static void perf_by_query(struct out *o, const struct perf_result *r)
{
	const char *cols[] = {"query", "count", "p50_ms", "p95_ms", "p99_ms"};
	out_table_begin(o, "by_query", 5, cols);
	for (int k = 0; k < PERF_COUNT; k++) {
		const struct perf_lat *l = &r->per[k];
		char a[32], b[32], cc[32], d[32];
		snprintf(a, sizeof a, "%zu", l->n);
		out_rowf(o, maint_perf_kinds[k], a, nn(b, 32, pct(l->v, l->n, 50), "%.3f"),
			 nn(cc, 32, pct(l->v, l->n, 95), "%.3f"),
			 nn(d, 32, pct(l->v, l->n, 99), "%.3f"));
	}
	out_table_end(o);
}

static enum status perf_render(struct cmd_ctx *ctx, long nclients, const struct perf_result *r,
			       double hit)
{
	const struct perf_lat *all = &r->all;
	double p99 = pct(all->v, all->n, 99);
	out_kv_int(ctx->out, "clients", nclients);
	out_kv_num(ctx->out, "duration_s", r->elapsed, "s");
	out_kv_int(ctx->out, "queries", (long long)all->n);
	out_kv_int(ctx->out, "errors", r->errors);
	out_kv_num(ctx->out, "qps", (double)all->n / r->elapsed, "");
	out_kv_num(ctx->out, "p50_ms", pct(all->v, all->n, 50), "ms");
	out_kv_num(ctx->out, "p95_ms", pct(all->v, all->n, 95), "ms");
	out_kv_num(ctx->out, "p99_ms", p99, "ms");
	out_kv_num(ctx->out, "max_ms", all->n ? all->v[all->n - 1] : NAN, "ms");
	enum status hs = isnan(hit) ? ST_UNKNOWN : threshold_judge(&ctx->cfg->cache_hit_rate, hit);
	enum status qs = threshold_judge(&ctx->cfg->query_time, isnan(p99) ? 0 : p99);
	if (isnan(hit))
		out_kv_status(ctx->out, "cache_hit_rate", hs, "n/a");
	else
		out_kv_status(ctx->out, "cache_hit_rate", hs, "%.2f%%", hit);
	perf_by_query(ctx->out, r);
	enum status st = status_worst(qs, hs == ST_UNKNOWN ? ST_OK : hs);
	if (r->errors)
		st = status_worst(st, ST_WARNING);
	out_status(ctx->out, st, "%.0f queries/s, p99 %.2f ms, cache hit rate %.1f%%",
		   (double)all->n / r->elapsed, isnan(p99) ? 0 : p99, isnan(hit) ? 0 : hit);
	return st;
}

static int cmd_perf_test_exec(struct cmd_ctx *ctx)
{
	long duration, nclients, seed;
	if (perf_test_opts(ctx, &duration, &nclients, &seed) != 0)
		return EXIT_USAGE;
	struct cache_snapshot before, after;
	struct perf_result r;
	struct db_error e;
	/* Counters that cannot be read leave the hit rate unknown, never a made-up one. */
	int counted = probe_cache_stats(ctx->db, &before) == 0;
	if (maint_perf_run(ctx->db, ctx->target, nclients, duration, seed,
			   ctx->interactive ? perf_progress : NULL, ctx->out, &r, &e) < 0) {
		out_progress_end(ctx->out);
		out_err(ctx->out, "perf-test: %s", e.message);
		maint_perf_free(&r);
		return EXIT_FAIL;
	}
	out_progress_end(ctx->out);
	counted = probe_cache_stats(ctx->db, &after) == 0 && counted;
	long long h = counted ? after.hits - before.hits : 0;
	long long m = counted ? after.misses - before.misses : 0;
	double hit = h + m > 0 ? 100.0 * (double)h / (double)(h + m) : NAN;
	enum status st = perf_render(ctx, nclients, &r, hit);
	maint_perf_free(&r);
	return st;
}

const struct cmd_entry cmd_report_table[] = {
    {
	.name = "diag-quick",
	.summary = "Health check in about a second: database, cache, last import, system",
	.usage = "diag-quick [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_diag_quick_exec,
	.db = CMD_DB_CONNECT,
    },
    {
	.name = "diag-full",
	.summary = "Every health probe and check: diag-quick plus bloat, locks, connections, "
		   "checkpoints, archiver, slow statements",
	.usage = "diag-full [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_diag_full_exec,
	.db = CMD_DB_CONNECT,
    },
    {
	.name = "diag-report",
	.summary = "Write the full diagnosis as a Markdown report into the reports directory",
	.usage = "diag-report",
	.flags = CMD_CHECK,
	.exec = cmd_diag_report_exec,
	.db = CMD_DB_CONNECT,
    },
    {
	.name = "generate-weekly-report",
	.summary = "Markdown report of the week: imports, errors, backups, cache, slow "
		   "statements, growth, incidents, daily charts",
	.usage = "generate-weekly-report",
	.exec = cmd_weekly_report_exec,
	.db = CMD_DB_READY,
	.db_failed = report_db_failed,
    },
    {
	.name = "collect",
	.options = "interval= count= keep=",
	.summary = "Sample figures into ops.metrics (for cron or a systemd timer), keeping "
		   "--keep of history",
	.usage = "collect [--interval S] [--count N] [--keep 30d]",
	.flags = CMD_OBSERVE,
	.exec = cmd_collect_exec,
	.db = CMD_DB_READY,
	.check_args = collect_args,
	.db_failed = report_db_failed,
    },
    {
	.name = "perf-test",
	.options = "duration= clients= seed=",
	.summary = "Drive the API functions with a Zipf mix from N connections: QPS, "
		   "p50/p95/p99, cache hit rate",
	.usage = "perf-test [--duration S] [--clients N] [--seed N] [--json]",
	.flags = CMD_CHECK | CMD_LONG,
	.exec = cmd_perf_test_exec,
	.db = CMD_DB_READY,
	.check_args = perf_test_args,
	.db_failed = report_db_failed,
    },
    {
	.name = "perf-monitor",
	.options = "duration= interval=",
	.summary = "Print TPS, query time, cache hit rate, import speed and memory every "
		   "interval",
	.usage = "perf-monitor [--duration 10m] [--interval S]",
	.flags = CMD_LONG,
	.exec = cmd_perf_monitor_exec,
	.db = CMD_DB_READY,
	.check_args = perf_monitor_args,
	.db_failed = report_db_failed,
    },
    {
	.name = "perf-analyze",
	.summary = "Name the bottleneck (slow statements, cache, bloat, locks, I/O, memory, "
		   "import speed) and the runbook's action",
	.usage = "perf-analyze [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_perf_analyze_exec,
	.db = CMD_DB_READY,
    },
    {0},
};
