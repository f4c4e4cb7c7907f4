/* Import progress pane: the current or last run of ops.import_runs, live through NOTIFY. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tui_int.h"

static enum tui_role state_role(const char *st)
{
	if (strcmp(st, "failed") == 0)
		return ROLE_CRITICAL;
	if (strcmp(st, "stopped") == 0 || strcmp(st, "stopping") == 0)
		return ROLE_WARNING;
	return ROLE_OK;
}

static void fmt_count(char *buf, size_t n, long long v)
{
	if (v >= 1000000)
		snprintf(buf, n, "%.1fM", (double)v / 1e6);
	else if (v >= 10000)
		snprintf(buf, n, "%.1fk", (double)v / 1e3);
	else
		snprintf(buf, n, "%lld", v);
}

static void build(struct tui *t, struct tui_lines *l, int width)
{
	const struct monitor_view *v = t->v;
	const struct import_snapshot *s = &v->imp;
	char a[64], b[64], c[256];
	if (!v->have[MON_IMPORT]) {
		tui_tl(l, ROLE_DIM, "%s",
		       v->connected ? "waiting for the first probe" : "no figures yet");
		return;
	}
	if (!s->present || !s->has_run) {
		tui_tl(l, ROLE_DIM, "no imports yet");
		return;
	}
	int running = strcmp(s->state, "running") == 0 || strcmp(s->state, "stopping") == 0;
	tui_tl(l, state_role(s->state), "run #%lld %s %s, phase %s", s->id,
	       s->kind[0] ? s->kind : "import", s->state, s->phase);
	/* The bar is bytes read of the export's bytes, as the command's progress line. */
	double frac = s->bytes_total > 0   ? (double)s->bytes_done / (double)s->bytes_total
		      : s->files_total > 0 ? (double)s->files_done / (double)s->files_total
					   : (strcmp(s->state, "completed") == 0 ? 1.0 : 0.0);
	/* Records (game rows) are counted once the run is promoted; until then its rate is
	 * in files per second. */
	int counted = s->records_total > 0 && !running;
	int bw = width - 8;
	if (bw > 60)
		bw = 60;
	tui_bar(c, sizeof c, bw, frac);
	tui_tl(l, ROLE_NORMAL, "%s %3.0f%%", c, frac * 100);
	if (counted)
		fmt_count(a, sizeof a, s->records_total);
	else
		snprintf(a, sizeof a, "%s", running ? "counted at promote" : "-");
	tui_tl(l, ROLE_NORMAL, "files %lld/%lld  records %s", s->files_done, s->files_total, a);
	fmt_bytes(a, sizeof a, (double)s->bytes_done);
	fmt_bytes(b, sizeof b, (double)s->bytes_total);
	enum tui_role rr = ROLE_NORMAL;
	/* import_speed is in records/s: a rate in files/s is not judged against it. */
	if (counted && !isnan(s->rate) && s->rate > 0)
		rr = tui_status_role(threshold_judge(&t->cfg->import_speed, s->rate));
	if (isnan(s->rate))
		snprintf(c, sizeof c, "n/a");
	else
		snprintf(c, sizeof c, "%.0f %s", s->rate, counted ? "rec/s" : "files/s");
	tui_tl(l, rr, "bytes %s/%s  rate %s", a, b, c);
	if (running && !isnan(s->eta_s))
		fmt_duration(a, sizeof a, s->eta_s);
	else
		snprintf(a, sizeof a, "%s", running ? "..." : "-");
	if (s->generation >= 0)
		snprintf(b, sizeof b, "  gen %lld", s->generation);
	else
		b[0] = 0;
	tui_tl(l, s->errors ? ROLE_WARNING : ROLE_NORMAL, "ETA %s  errors %lld  warnings %lld%s", a,
	       s->errors, s->warnings, b);
	if (s->started > 0) {
		double el = (s->finished > 0 ? s->finished : s->now) - s->started;
		fmt_duration(a, sizeof a, el);
		tui_clock(b, sizeof b, (time_t)s->started);
		tui_tl(l, ROLE_DIM, "started %s, %s %s", b, running ? "running for" : "took", a);
	}
	if (s->nrates) {
		tui_sparkline(c, sizeof c, s->rates, s->nrates);
		tui_tl(l, ROLE_NORMAL, "recent rates %s", c);
	}
	if (s->message[0])
		tui_tl(l, ROLE_DIM, "%s", s->message);
	if (s->source_dir[0])
		tui_tl(l, ROLE_DIM, "from %s", s->source_dir);
}

static void draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	struct tui_lines l = {0};
	int from = tui_pane_banner(t, p, r);
	build(t, &l, r.w);
	tui_text_pane(t, p, r, from, &l);
	tui_lines_free(&l);
}

static int details(struct tui_pane *p, struct tui *t, struct tui_lines *out)
{
	(void)p;
	const struct import_snapshot *s = &t->v->imp;
	if (!s->has_run)
		return 0;
	struct tui_lines l = {0};
	build(t, &l, 60);
	tui_lines_add_plain(out, &l);
	tui_lines_free(&l);
	tui_lines_addf(out, "bytes %lld of %lld, records %lld of %lld", s->bytes_done,
		       s->bytes_total, s->records_done, s->records_total);
	tui_lines_addf(out, "NOTIFY midsops_import received: %lld", t->v->notifies);
	tui_lines_addf(out, "more: :import-status, :import-errors (when installed)");
	return 1;
}

const struct tui_pane_ops tui_pane_import_ops = {
    .name = "import",
    .title = "Import progress",
    .draw = draw,
    .key = tui_pane_scroll_key,
    .details = details,
    .filterable = 1,
};
