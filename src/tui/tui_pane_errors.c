/* Recent errors pane: ops.import_errors and ops.events (warning and above), newest
 * first, with the console's own disconnects and reconnects until ops.events has them;
 * Enter shows the file, JSON path, full message and run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_int.h"

/* The snapshot's items and the monitor's local events, newest first. */
struct merged {
	int n;
	const struct error_item *v[PROBE_ERRORS + MONITOR_LOCAL_EVENTS];
};

static void merge(const struct monitor_view *mv, struct merged *m)
{
	const struct errors_snapshot *s = &mv->errs;
	int i = 0, k = 0;
	m->n = 0;
	/* both lists are newest first: a merge, not a sort */
	while (i < s->n || k < mv->nlocal) {
		if (k < mv->nlocal && strcmp(mv->local[k].level, "info") == 0)
			k++; /* a check that passed: the timeline's, not an error */
		else if (k < mv->nlocal && (i >= s->n || mv->local[k].at >= s->items[i].at))
			m->v[m->n++] = &mv->local[k++];
		else
			m->v[m->n++] = &s->items[i++];
	}
}

static int matches(const struct error_item *e, const char *f)
{
	return tui_match(e->message, f) || tui_match(e->source, f) || tui_match(e->path, f) ||
	       tui_match(e->code, f) || tui_match(e->level, f);
}

/* Index of the n-th item passing the filter, or -1. */
static int nth(const struct merged *s, const char *f, int n)
{
	for (int i = 0; i < s->n; i++)
		if (matches(s->v[i], f) && n-- == 0)
			return i;
	return -1;
}

static void draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	const struct monitor_view *v = t->v;
	struct merged s;
	merge(v, &s);
	int from = tui_pane_banner(t, p, r);
	int h = r.h - from;
	int stale = tui_pane_stale(t, p);
	p->lines = h;
	if (!v->have[MON_ERRORS] && !v->nlocal) {
		tui_line(t, r, from, ROLE_DIM, "%s",
			 v->connected ? "waiting for the first probe" : "no figures yet");
		for (int i = from + 1; i < r.h; i++)
			tui_line(t, r, i, ROLE_NORMAL, "%s", "");
		return;
	}
	int n = 0;
	for (int i = 0; i < s.n; i++)
		n += matches(s.v[i], p->filter);
	tui_pane_keep_in_view(p, n, h);
	for (int i = 0; i < h; i++) {
		int k = nth(&s, p->filter, p->scroll + i);
		if (k < 0) {
			tui_line(t, r, from + i, ROLE_DIM, "%s",
				 i == 0 && n == 0
				     ? (v->errs.present || s.n ? "no recent errors"
							       : "no error journal yet")
				     : "");
			continue;
		}
		const struct error_item *e = s.v[k];
		char hm[32];
		tui_clock(hm, sizeof hm, (time_t)e->at);
		enum tui_role role = stale			      ? ROLE_DIM
				     : strcmp(e->level, "error") == 0 ? ROLE_CRITICAL
								      : ROLE_WARNING;
		if (t->focus == PANE_ERRORS && p->scroll + i == p->sel)
			role = ROLE_SELECTED;
		tui_line(t, r, from + i, role, "%s %-7s %-8s %s%s%s", hm, e->level, e->source,
			 e->path[0] ? e->path : "", e->path[0] ? ": " : "", e->message);
	}
}

static void wrap(struct tui_lines *out, const char *label, const char *text)
{
	char buf[2048];
	snprintf(buf, sizeof buf, "%s%s", label, text);
	tui_lines_add(out, buf);
}

static int details(struct tui_pane *p, struct tui *t, struct tui_lines *out)
{
	struct merged s;
	merge(t->v, &s);
	int k = nth(&s, p->filter, p->sel);
	if (k < 0)
		return 0;
	const struct error_item *e = s.v[k];
	char when[64];
	time_t at = (time_t)e->at;
	struct tm tm;
	localtime_r(&at, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm);
	tui_lines_addf(out, "%s #%lld (%s)", e->kind[0] == 'i' ? "import error" : "event", e->id,
		       e->level);
	tui_lines_addf(out, "time:      %s", when);
	wrap(out, "source:    ", e->source);
	if (e->run_id)
		tui_lines_addf(out, "run:       #%lld", e->run_id);
	if (e->path[0])
		wrap(out, "file:      ", e->path);
	if (e->json_path[0])
		wrap(out, "JSON path: ", e->json_path);
	if (e->code[0])
		wrap(out, "code:      ", e->code);
	tui_lines_add(out, "message:");
	/* The message may hold several lines; keep them. */
	char msg[1100];
	snprintf(msg, sizeof msg, "%s", e->message);
	for (char *save = NULL, *line = strtok_r(msg, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		wrap(out, "  ", line);
	return 1;
}

const struct tui_pane_ops tui_pane_errors_ops = {
    .name = "errors",
    .title = "Recent errors",
    .draw = draw,
    .key = tui_pane_scroll_key,
    .details = details,
    .filterable = 1,
};
