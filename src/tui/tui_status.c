/* What the console says about itself under failure: the header's verdict (the worst item
 * and why, never OK while a pane is stale), the one banner over the panes during an outage
 * (the full reason, wrapped, and how long it has lasted), and the staleness marks of the
 * panes. The monitor (probe_async.h) gathers; this only renders its view. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "out.h"
#include "tui_int.h"

/* The banner shows this many lines of a reason at most; Enter shows it all. */
#define BANNER_REASON_LINES 4

static const char *const pane_names[MON_NPANES] = {"health", "import", "cache", "errors"};

static double since(time_t when)
{
	return when ? difftime(time(NULL), when) : 0;
}

int tui_pane_stale(const struct tui *t, const struct tui_pane *p)
{
	return p->mon >= 0 && t->v->have[p->mon] && (t->v->stale[p->mon] || !t->v->connected);
}

/* Replace the item kept when this one is strictly worse, so that among equals the first
 * found (the order below is the order of importance) is the one named. */
static void consider(struct tui_verdict *vd, enum status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void consider(struct tui_verdict *vd, enum status st, const char *fmt, ...)
{
	if (st == ST_OK)
		return;
	vd->items++;
	if (vd->items > 1 && !(status_worst(vd->st, st) == st && st != vd->st))
		return;
	vd->st = st;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vd->why, sizeof vd->why, fmt, ap);
	va_end(ap);
}

void tui_verdict(struct tui *t, struct tui_verdict *vd)
{
	const struct monitor_view *v = t->v;
	char a[64], hm[16];
	memset(vd, 0, sizeof *vd);
	vd->st = ST_OK;
	if (!v->connected) {
		fmt_duration(a, sizeof a, since(v->disconnected_since));
		if (v->embedded_stopped)
			consider(vd, ST_CRITICAL, "embedded cluster stopped (:cluster start)");
		else if (v->disconnected_since)
			consider(vd, ST_CRITICAL, "%s for %s",
				 v->ever_connected ? "disconnected" : "no connection", a);
		else
			consider(vd, ST_UNKNOWN, "connecting");
		return;
	}
	if (v->silent) {
		fmt_duration(a, sizeof a, since(v->last_answer));
		consider(vd, ST_WARNING, "no answer from the server for %s", a);
	}
	if (!v->have[MON_HEALTH]) {
		consider(vd, ST_UNKNOWN, "waiting for the first probe");
		return;
	}
	/* Stale figures are not judged: what they said is no longer known to be true. */
	if (!v->stale[MON_HEALTH]) {
		const struct db_snapshot *s = &v->db;
		struct db_judgement j;
		probe_db_judge(s, t->cfg, &j);
		if (v->blocked_sessions > 0)
			consider(vd, j.locks, "%d blocked session%s, pid %d", v->blocked_sessions,
				 v->blocked_sessions == 1 ? "" : "s", v->blocked_pid);
		else
			consider(vd, j.locks, "%d waiting locks", s->waiting_locks);
		fmt_duration(a, sizeof a, s->longest_txn_s);
		consider(vd, j.txn, "transaction open %s, pid %d", a, s->longest_txn_pid);
		consider(vd, j.conn, "connections %d of %d (%.0f%%)", s->connections,
			 s->max_connections, j.conn_pct);
		consider(vd, j.hit, "buffer hit %.1f%%", s->hit_ratio);
		consider(vd, j.dead, "dead tuples %.1f%%%s%s", j.dead_pct,
			 s->ndead_top ? ", most in " : "", s->ndead_top ? s->dead_top[0].name : "");
		if (v->hx.backups_present && !isnan(v->hx.backup_age_s)) {
			fmt_duration(a, sizeof a, v->hx.backup_age_s);
			consider(vd,
				 threshold_judge(&t->cfg->backup_age, v->hx.backup_age_s / 3600),
				 "last backup %s ago", a);
		}
	}
	if (v->have[MON_IMPORT] && !v->stale[MON_IMPORT] && strcmp(v->imp.state, "failed") == 0)
		consider(vd, ST_WARNING, "import run #%lld failed", v->imp.id);
	if (v->silent)
		return;
	for (int p = 0; p < MON_NPANES; p++) {
		if (v->stale[p]) {
			tui_clock(hm, sizeof hm, v->as_of[p]);
			consider(vd, ST_WARNING, "%s stale since %s%s%s", pane_names[p], hm,
				 v->perr[p][0] ? ": " : "", v->perr[p]);
		} else if (v->perr[p][0])
			consider(vd, ST_WARNING, "%s probe failed: %s", pane_names[p], v->perr[p]);
	}
}

/* Greedy word wrap at display width; a word wider than the line is cut. Lines get the
 * role prefix of tui_tl. Returns the lines added. */
static int wrap_words(struct tui_lines *l, enum tui_role role, const char *text, int width, int max)
{
	char line[2048];
	int added = 0;
	const char *p = text;
	while (*p == ' ')
		p++;
	while (*p && added < max) {
		size_t fit = tui_text_fit(p, width);
		size_t take = fit;
		if (p[fit] && p[fit] != ' ') {
			/* back to the last blank inside the fit, when there is one, unless the
			 * word cut there (a socket path) is wider than a line anyway */
			size_t b = fit;
			while (b > 0 && p[b - 1] != ' ')
				b--;
			size_t wl = strcspn(p + b, " ");
			char word[1024];
			snprintf(word, sizeof word, "%.*s", (int)wl, p + b);
			if (b > 0 && tui_text_width(word) <= width)
				take = b;
		}
		if (take == 0)
			take = 1;
		int last = added == max - 1 && p[take];
		if (last) {
			/* the rest does not fit: say where it is */
			const char *more = " ... (Enter: all)";
			size_t room = tui_text_fit(p, width - tui_text_width(more));
			snprintf(line, sizeof line, "%.*s%s", (int)room, p, more);
		} else
			snprintf(line, sizeof line, "%.*s", (int)take, p);
		tui_tl(l, role, "%s", line);
		added++;
		p += take;
		while (*p == ' ')
			p++;
	}
	return added;
}

int tui_banner_build(struct tui *t, int width, struct tui_lines *l)
{
	const struct monitor_view *v = t->v;
	char hm[16], a[64], head[256];
	if (!v->connected && v->disconnected_since) {
		tui_clock(hm, sizeof hm, v->disconnected_since);
		fmt_duration(a, sizeof a, since(v->disconnected_since));
		if (v->embedded_stopped)
			snprintf(
			    head, sizeof head,
			    "embedded cluster stopped since %s (%s): type :cluster start to start "
			    "it",
			    hm, a);
		else
			snprintf(head, sizeof head, "%s since %s (%s%s), retrying in %.0fs",
				 v->ever_connected ? "disconnected" : "no connection", hm,
				 v->ever_connected ? "the last answer, " : "", a,
				 v->retry_in < 0 ? 0 : ceil(v->retry_in));
		wrap_words(l, ROLE_CRITICAL, head, width, 2);
		wrap_words(l, ROLE_NORMAL, v->conn_error, width, BANNER_REASON_LINES);
		return l->n;
	}
	if (v->connected && v->silent) {
		tui_clock(hm, sizeof hm, v->last_answer);
		fmt_duration(a, sizeof a, since(v->last_answer));
		snprintf(head, sizeof head,
			 "no answer from the server for %s (last answer %s): every pane is stale",
			 a, hm);
		wrap_words(l, ROLE_WARNING, head, width, 2);
		return l->n;
	}
	return 0;
}

void tui_banner_draw(struct tui *t, int y, struct tui_lines *l)
{
	for (int i = 0; i < l->n; i++) {
		const char *s = l->v[i];
		int role = s[0] - '0';
		if (role < 0 || role >= ROLE_N)
			role = ROLE_NORMAL;
		attrset(t->attrs[role]);
		mvhline(y + i, 0, ' ', COLS);
		tui_put(t, y + i, 1, COLS - 2, (enum tui_role)role, s + 1);
	}
	attrset(t->attrs[ROLE_NORMAL]);
}

void tui_pane_asof(struct tui *t, struct tui_pane *p, struct tui_rect box)
{
	if (!tui_pane_stale(t, p))
		return;
	char hm[16], buf[64];
	tui_clock(hm, sizeof hm, t->v->as_of[p->mon]);
	snprintf(buf, sizeof buf, " stale, as of %s ", hm);
	int w = tui_text_width(buf);
	if (w > box.w - 4)
		return;
	tui_put(t, box.y + box.h - 1, box.x + box.w - 2 - w, w, ROLE_WARNING, buf);
}

int tui_outage_details(struct tui *t, struct tui_pane *p, struct tui_lines *out)
{
	const struct monitor_view *v = t->v;
	int n0 = out->n;
	char hm[16], a[64];
	if (!v->connected && v->disconnected_since) {
		tui_clock(hm, sizeof hm, v->disconnected_since);
		fmt_duration(a, sizeof a, since(v->disconnected_since));
		if (v->embedded_stopped)
			tui_lines_addf(out, "embedded cluster stopped, seen at %s (%s ago)", hm, a);
		else
			tui_lines_addf(out, "%s since %s (%s), %d failed attempt%s",
				       v->ever_connected ? "disconnected" : "no connection", hm, a,
				       v->attempts, v->attempts == 1 ? "" : "s");
		tui_lines_add(out, "reason:");
		struct tui_lines w = {0};
		wrap_words(&w, ROLE_NORMAL, v->conn_error, COLS - 16, 64);
		for (int i = 0; i < w.n; i++)
			tui_lines_addf(out, "  %s", w.v[i] + 1);
		tui_lines_free(&w);
		if (v->embedded_stopped)
			tui_lines_add(out,
				      "The console never starts the embedded cluster by itself: "
				      "type :cluster start (or run 'midsops cluster start').");
		else
			tui_lines_addf(out, "retrying in %.0fs",
				       v->retry_in < 0 ? 0 : ceil(v->retry_in));
		tui_lines_add(out, "");
	} else if (v->connected && v->silent) {
		fmt_duration(a, sizeof a, since(v->last_answer));
		tui_lines_addf(out, "no answer from the server for %s", a);
		tui_lines_add(out, "");
	} else if (p->mon >= 0 && v->stale[p->mon] && v->perr[p->mon][0]) {
		tui_clock(hm, sizeof hm, v->as_of[p->mon]);
		tui_lines_addf(out, "stale, as of %s: %s", hm, v->perr[p->mon]);
		tui_lines_add(out, "");
	}
	return out->n - n0;
}
