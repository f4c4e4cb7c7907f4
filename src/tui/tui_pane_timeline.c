/* The timeline view (key T): what happened in the last TL_SINCE seconds, newest first, from
 * the monitor's timeline probe (ops.events and the wizards' steps), with the console's own
 * disconnects, reconnects and checks before ops.events has them. It is shown alone in the
 * panes' place; Enter gives an entry in full, / filters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_int.h"

#define TL_SINCE (24 * 3600L)

struct row {
	double at;
	char kind[16];
	const char *level, *source, *message;
	const struct tl_entry *e;     /* from ops.events or the wizards' tables */
	const struct error_item *loc; /* the console's own, not yet read back */
};

struct rows {
	int n;
	struct row v[TIMELINE_CONSOLE_MAX + MONITOR_LOCAL_EVENTS];
};

/* A console event the snapshot already holds (written, then read back). */
static int in_snapshot(const struct timeline *tl, const struct error_item *l)
{
	for (int i = 0; i < tl->n; i++)
		if (fabs(tl->v[i].at - l->at) < 1.0 && strcmp(tl->v[i].source, "console") == 0 &&
		    strcmp(tl->v[i].message, l->message) == 0)
			return 1;
	return 0;
}

/* Both lists are newest first: a merge, not a sort. */
static void collect(const struct monitor_view *mv, struct rows *s)
{
	const struct timeline *tl = &mv->tl;
	int i = 0, k = 0;
	s->n = 0;
	while (i < tl->n || k < mv->nlocal) {
		struct row *r = &s->v[s->n];
		memset(r, 0, sizeof *r);
		if (k < mv->nlocal && (i >= tl->n || mv->local[k].at >= tl->v[i].at)) {
			const struct error_item *l = &mv->local[k++];
			if (in_snapshot(tl, l))
				continue;
			r->loc = l;
			r->at = l->at;
			r->level = l->level;
			r->source = l->source;
			r->message = l->message;
			probe_timeline_kind(l->source, l->message, r->kind, sizeof r->kind);
		} else {
			const struct tl_entry *e = &tl->v[i++];
			r->e = e;
			r->at = e->at;
			r->level = e->level;
			r->source = e->source;
			r->message = e->message;
			snprintf(r->kind, sizeof r->kind, "%s", e->kind);
		}
		s->n++;
	}
}

static int matches(const struct row *r, const char *f)
{
	return tui_match(r->message, f) || tui_match(r->kind, f) || tui_match(r->source, f) ||
	       tui_match(r->level, f);
}

static int nth(const struct rows *s, const char *f, int n)
{
	for (int i = 0; i < s->n; i++)
		if (matches(&s->v[i], f) && n-- == 0)
			return i;
	return -1;
}

/* HH:MM:SS today, "Dec 03 14:22" before. */
static void when_short(char *buf, size_t n, double at)
{
	time_t t = (time_t)at, now = time(NULL);
	struct tm tm, today;
	localtime_r(&t, &tm);
	localtime_r(&now, &today);
	if (tm.tm_yday == today.tm_yday && tm.tm_year == today.tm_year)
		strftime(buf, n, "%H:%M:%S", &tm);
	else
		strftime(buf, n, "%b %d %H:%M", &tm);
}

static enum tui_role level_role(const char *level)
{
	return strcmp(level, "error") == 0     ? ROLE_CRITICAL
	       : strcmp(level, "warning") == 0 ? ROLE_WARNING
					       : ROLE_NORMAL;
}

static void draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	const struct monitor_view *v = t->v;
	static struct rows s;
	collect(v, &s);
	int from = 0;
	int stale = v->tl_have && (v->tl_stale || !v->connected);
	if (v->connected && v->tl_err[0])
		tui_line(t, r, from++, ROLE_WARNING, "probe failed: %s", v->tl_err);
	else if (v->connected && v->tl_stale)
		tui_line(t, r, from++, ROLE_WARNING, "%s",
			 "stale: the probe is still waiting (a lock or a slow server)");
	tui_line(t, r, from++, ROLE_DIM, "%-14s %-11s %s", "time", "kind", "summary");
	int h = r.h - from;
	int n = 0;
	for (int i = 0; i < s.n; i++)
		n += matches(&s.v[i], p->filter);
	tui_pane_keep_in_view(p, n, h);
	for (int i = 0; i < h; i++) {
		int k = nth(&s, p->filter, p->scroll + i);
		if (k < 0) {
			const char *empty = !v->tl_have && !s.n ? (v->connected ? "waiting for the "
										  "first probe"
										: "no figures yet")
					    : s.n		? "nothing matches the filter"
						  : "nothing happened in the last 24h";
			tui_line(t, r, from + i, ROLE_DIM, "%s", i == 0 && n == 0 ? empty : "");
			continue;
		}
		const struct row *w = &s.v[k];
		char when[32], sum[1100];
		when_short(when, sizeof when, w->at);
		snprintf(sum, sizeof sum, "%.*s%s", (int)strcspn(w->message, "\n"), w->message,
			 strchr(w->message, '\n') ? " ..." : "");
		enum tui_role role = stale && w->e ? ROLE_DIM : level_role(w->level);
		if (p->scroll + i == p->sel)
			role = ROLE_SELECTED;
		tui_line(t, r, from + i, role, "%-14s %-11s %s", when, w->kind, sum);
	}
}

static int details(struct tui_pane *p, struct tui *t, struct tui_lines *out)
{
	static struct rows s;
	collect(t->v, &s);
	int k = nth(&s, p->filter, p->sel);
	if (k < 0)
		return 0;
	const struct row *w = &s.v[k];
	char when[64];
	time_t at = (time_t)w->at;
	struct tm tm;
	localtime_r(&at, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm);
	tui_lines_addf(out, "%s (%s)", w->kind, w->level);
	tui_lines_addf(out, "time:      %s", when);
	tui_lines_addf(out, "source:    %s", w->source);
	if (w->e) {
		if (w->e->id)
			tui_lines_addf(out, "event:     #%lld in ops.events", w->e->id);
		if (w->e->run_id)
			tui_lines_addf(out, "run:       #%lld", w->e->run_id);
		if (w->e->host[0])
			tui_lines_addf(out, "host:      %s (pid %d)", w->e->host, w->e->pid);
	} else
		tui_lines_add(out, "recorded:  by this console; not yet in ops.events");
	tui_lines_add(out, "message:");
	const char *m = w->message;
	while (*m) {
		size_t len = strcspn(m, "\n");
		tui_lines_addf(out, "  %.*s", (int)len, m);
		m += len + (m[len] == '\n');
	}
	return 1;
}

static void shown(struct tui_pane *p, struct tui *t, int on)
{
	(void)p;
	monitor_want_timeline(t->mon, on ? TL_SINCE : 0);
}

const struct tui_pane_ops tui_pane_timeline_ops = {
    .name = "timeline",
    .title = "Timeline: the last 24h, newest first (T or Esc returns)",
    .draw = draw,
    .key = tui_pane_scroll_key,
    .details = details,
    .filterable = 1,
    .shown = shown,
};
