/* The trends view (R, or :trend [DURATION]): sparklines with labelled scales (now, min,
 * max) for TPS, connections, the buffer and API cache hit ratios, the import rate,
 * replication lag and the ages of the WAL archive and the last backup. The last 15
 * minutes come from the monitor's own samples (its ring, filled as the snapshots arrive);
 * a longer window is backfilled from ops.metrics, which `collect` fills from cron or a
 * timer. Under them, the key metrics in full: value, status and the runbook's action. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "probe_kpi.h"
#include "spark.h"
#include "tui_int.h"

static struct {
	int back_focus, back_zoom;
	double window; /* seconds; over TREND_WINDOW_S: the backfill */
} R = {0, -1, TREND_WINDOW_S};

const char *const tui_trends_help[] = {
    "",
    "Trends view (R opens it, R, Esc or z returns to the panes):",
    "  sparklines of the last 15 minutes from the console's own samples, each with its",
    "  scale: now, min and max; :trend 24h (or 2h, 7d) backfills a longer window from",
    "  ops.metrics (filled by 'midsops collect' from cron or a timer); :trend 15m returns.",
    "The strip under the header: import speed, query time, cache hit rate and memory, in",
    "  the colour of their [thresholds] with OK/WARN/CRIT, naming the runbook's action when",
    "  off; n/a when not measured (query time needs pg_stat_statements).",
    NULL,
};

void tui_trends_toggle(struct tui *t)
{
	if (t->focus == PANE_TRENDS) {
		t->focus = R.back_focus;
		t->zoom = R.back_zoom;
		return;
	}
	if (t->focus == PANE_SESSIONS)
		tui_sessions_toggle(t);
	R.back_focus = t->focus;
	R.back_zoom = t->zoom;
	t->focus = t->zoom = PANE_TRENDS;
}

int tui_trends_open(struct tui *t, char **w, int n)
{
	long secs = TREND_WINDOW_S;
	if (n > 2 || (n == 2 && (parse_duration(w[1], &secs) < 0 || secs <= 0))) {
		tui_message(t, "usage: :trend [DURATION] (15m, 2h, 24h, 7d)");
		return 0;
	}
	R.window = (double)secs;
	if (R.window > TREND_WINDOW_S)
		monitor_trend_backfill(t->mon, R.window);
	if (t->focus != PANE_TRENDS)
		tui_trends_toggle(t);
	return 0;
}

static void short_num(char *buf, size_t n, double v)
{
	double a = fabs(v);
	if (isnan(v))
		snprintf(buf, n, "-");
	else if (a >= 1e6)
		snprintf(buf, n, "%.1fM", v / 1e6);
	else if (a >= 1e4)
		snprintf(buf, n, "%.1fk", v / 1e3);
	else if (a >= 100)
		snprintf(buf, n, "%.0f", v);
	else
		snprintf(buf, n, "%.1f", v);
}

/* A figure of trend id in its unit. */
static void fmt_fig(char *buf, size_t n, int id, int lag_bytes, double v)
{
	char s[24];
	if (isnan(v)) {
		snprintf(buf, n, "-");
		return;
	}
	switch (id) {
	case TR_BUFHIT:
	case TR_APIHIT:
		snprintf(buf, n, "%.1f%%", v);
		return;
	case TR_IMPORT:
		short_num(s, sizeof s, v);
		snprintf(buf, n, "%s/s", s);
		return;
	case TR_LAG:
		if (lag_bytes)
			fmt_bytes(buf, n, v);
		else
			fmt_duration(buf, n, v);
		return;
	case TR_WAL:
	case TR_BACKUP:
		fmt_duration(buf, n, v);
		return;
	default:
		short_num(buf, n, v);
	}
}

static void window_name(char *buf, size_t n, double s)
{
	if (s >= 2 * 86400 && fmod(s, 86400) == 0)
		snprintf(buf, n, "%.0fd", s / 86400);
	else if (s >= 3600 && fmod(s, 3600) == 0)
		snprintf(buf, n, "%.0fh", s / 3600);
	else if (s >= 60)
		snprintf(buf, n, "%.0fm", s / 60);
	else
		snprintf(buf, n, "%.0fs", s);
}

/* Why a trend has no figure in the window. */
static const char *no_data(struct tui *t, int id, int backfill)
{
	if (backfill)
		return "no figure in ops.metrics for the window";
	if (id == TR_LAG)
		return "no standby";
	if (id == TR_APIHIT)
		return t->v->cache.installed ? "no API cache reads yet" : "no API cache";
	if (id == TR_WAL)
		return "nothing archived";
	if (id == TR_BACKUP)
		return "no backup";
	return "no samples yet";
}

static int header_line(struct tui *t, struct tui_rect r, int backfill, int ncol, double span,
		       double held_s)
{
	char win[16], col[32], held[32];
	window_name(win, sizeof win, R.window);
	fmt_duration(col, sizeof col, span / (ncol > 0 ? ncol : 1));
	fmt_duration(held, sizeof held, held_s);
	const struct monitor_view *v = t->v;
	if (!backfill)
		return tui_line(t, r, 0, ROLE_DIM,
				"last %s from the console's own samples (every %gs)%s%s, %s a "
				"column",
				win, t->refresh, held_s < R.window ? ": the first " : "",
				held_s < R.window ? held : "", col);
	if (v->bf_err[0])
		return tui_line(t, r, 0, ROLE_WARNING, "last %s: %s", win, v->bf_err);
	if (!v->bf_have)
		return tui_line(t, r, 0, ROLE_DIM, "last %s: reading ops.metrics...", win);
	char hm[16];
	tui_clock(hm, sizeof hm, v->bf_as_of);
	return tui_line(t, r, 0, ROLE_NORMAL,
			"last %s backfilled from ops.metrics (midsops collect): %d buckets, %s a "
			"column, as of %s",
			win, v->trend_bf.n, col, hm);
}

static void kpi_lines(struct tui *t, struct tui_rect r, int y)
{
	static const char *const names[KPI_N] = {"import speed", "query time", "cache hit rate",
						 "memory"};
	struct kpi_fig f[KPI_N];
	tui_kpi_figures(t, f);
	tui_line(t, r, y++, ROLE_DIM, "key metrics (runbook), judged by [thresholds]:");
	for (int i = 0; i < KPI_N; i++) {
		char val[32];
		tui_kpi_value(&f[i], i, val, sizeof val);
		enum tui_role role = f[i].have ? tui_status_role(f[i].st) : ROLE_DIM;
		tui_line(t, r, y++, role, "  %-15s %-9s %-8s %s", names[i], val,
			 f[i].have ? status_name(f[i].st) : "n/a",
			 f[i].have ? (f[i].action ? f[i].action : "-") : f[i].why);
	}
}

static void trends_draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	(void)p;
	const int lw = 16, sw = 37; /* label; "  now X  min X  max X" */
	int ncol = r.w - lw - sw;
	if (ncol < 8)
		ncol = 8;
	if (ncol > 240)
		ncol = 240;
	int backfill = R.window > TREND_WINDOW_S;
	const struct trend_ring *ring = backfill ? &t->v->trend_bf : &t->v->trend;
	double now = (double)time(NULL), cols[240];
	/* A console started a minute ago spreads its minute over the columns (a refresh a
	 * column at the least) rather than squeeze it into the last one. */
	double span = R.window, old = trend_oldest(ring);
	if (!backfill) {
		span = isnan(old) ? 0 : now - old;
		if (span < ncol * t->refresh)
			span = ncol * t->refresh;
		if (span > R.window)
			span = R.window;
	}
	header_line(t, r, backfill, ncol, span, isnan(old) ? 0 : now - old);
	int y = 1;
	for (int id = 0; id < TR_N; id++, y++) {
		struct trend_scale sc;
		trend_columns(ring, id, now, span, ncol, cols, &sc);
		if (isnan(sc.lo) || (backfill && !t->v->bf_have)) {
			tui_line(t, r, y, ROLE_DIM, "%-*s%-*s  %s", lw, trend_names[id], ncol, "",
				 backfill && !t->v->bf_have ? "" : no_data(t, id, backfill));
			continue;
		}
		char sp[240 * 4 + 1], a[32], b[32], c[32];
		spark_text(sp, sizeof sp, cols, ncol, sc.lo, sc.hi, tui_ascii());
		fmt_fig(a, sizeof a, id, ring->lag_bytes, sc.last);
		fmt_fig(b, sizeof b, id, ring->lag_bytes, sc.lo);
		fmt_fig(c, sizeof c, id, ring->lag_bytes, sc.hi);
		tui_line(t, r, y, ROLE_NORMAL, "%-*s%s  now %-7s min %-7s max %s", lw,
			 trend_names[id], sp, a, b, c);
	}
	char win[16];
	if (span < R.window)
		fmt_duration(win, sizeof win, span);
	else
		window_name(win, sizeof win, span);
	tui_line(t, r, y++, ROLE_DIM, "%-*s-%-*snow", lw, "", ncol - 4, win);
	if (y + 1 + KPI_N + 1 <= r.h)
		kpi_lines(t, r, y + 1);
}

static int trends_key(struct tui_pane *p, struct tui *t, int key)
{
	(void)p, (void)t, (void)key;
	return 0;
}

const struct tui_pane_ops tui_pane_trends_ops = {
    .name = "trends",
    .title = "Trends: R or Esc returns, :trend 24h backfills from ops.metrics",
    .draw = trends_draw,
    .key = trends_key,
    .details = NULL,
    .filterable = 0,
};
