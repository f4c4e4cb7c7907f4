/* The sessions view (S): one row per backend from the monitor's sessions probe, shown in
 * the panes' place as a zoomed pane. Views of every session, the running, the waiting and
 * the blocking tree (v cycles them), sort keys (o, r), the console's filter (/), Enter for
 * the whole query, a to show every database. c and k cancel or terminate the selected
 * backend after asking, by running session-cancel or session-terminate as the console
 * runs any command, so the command's own checks and its ops.events entry are the same. A
 * login that may not signal (the monitor role) sees the view, and the keys say why not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "probe.h"
#include "tui_int.h"

enum sv_view { SV_ALL, SV_RUNNING, SV_WAITING, SV_BLOCKING, SV_N };
static const char *const view_names[SV_N] = {"all", "running", "waiting", "blocking tree"};

enum sv_sort { SO_QUERY, SO_XACT, SO_PID, SO_USER, SO_STATE, SO_N };
static const char *const sort_names[SO_N] = {"query time", "transaction time", "pid", "user",
					     "state"};

static struct {
	enum sv_view view;
	enum sv_sort sort;
	int rev, all;
	int back_focus, back_zoom;
	int acted; /* a cancel or terminate ran from here: its last line is shown */
	/* What the question asked about, for the answer. */
	int ask_pid, ask_terminate;
} S;

struct sv_list {
	int n;
	int idx[SESSIONS_MAX], depth[SESSIONS_MAX];
};

const char *const tui_sessions_help[] = {
    "",
    "Sessions view (S opens it, S, Esc or z returns to the panes):",
    "  v                  view: all, running, waiting, blocking tree (who waits on whom)",
    "  o, r               sort by query time, transaction time, pid, user, state; reverse",
    "  a                  every database, or only the target's",
    "  / and Enter        filter the rows; the selected session's whole query",
    "  c, k               cancel the selected backend's query, or terminate it (asks first;",
    "                     recorded in ops.events; needs the operator role)",
    NULL,
};

void tui_sessions_toggle(struct tui *t)
{
	if (t->focus == PANE_SESSIONS) {
		t->focus = S.back_focus;
		t->zoom = S.back_zoom;
		monitor_sessions(t->mon, 0, S.all);
		return;
	}
	S.back_focus = t->focus;
	S.back_zoom = t->zoom;
	t->focus = t->zoom = PANE_SESSIONS;
	monitor_sessions(t->mon, 1, S.all);
}

static int matches(const struct session_row *r, const char *f)
{
	char pid[16];
	snprintf(pid, sizeof pid, "%d", r->pid);
	return tui_match(r->query, f) || tui_match(r->user, f) || tui_match(r->app, f) ||
	       tui_match(r->db, f) || tui_match(r->client, f) || tui_match(r->state, f) ||
	       tui_match(r->wait, f) || tui_match(pid, f);
}

static int waits(const struct session_row *r)
{
	return r->nby > 0 || strcmp(r->wait_type, "Lock") == 0;
}

static int in_view(const struct session_row *r)
{
	switch (S.view) {
	case SV_RUNNING:
		return strcmp(r->state, "active") == 0;
	case SV_WAITING:
		return waits(r);
	default:
		return 1;
	}
}

static double num(double v)
{
	return isnan(v) ? -1 : v;
}

static const struct sessions_snapshot *sort_snap;

static int cmp_rows(const void *a, const void *b)
{
	const struct session_row *x = &sort_snap->rows[*(const int *)a];
	const struct session_row *y = &sort_snap->rows[*(const int *)b];
	int c = 0;
	switch (S.sort) {
	case SO_QUERY:
		c = num(y->query_s) > num(x->query_s)	? 1
		    : num(y->query_s) < num(x->query_s) ? -1
							: 0;
		break;
	case SO_XACT:
		c = num(y->xact_s) > num(x->xact_s) ? 1 : num(y->xact_s) < num(x->xact_s) ? -1 : 0;
		break;
	case SO_USER:
		c = strcmp(x->user, y->user);
		break;
	case SO_STATE:
		c = strcmp(x->state, y->state);
		break;
	default:
		break;
	}
	if (!c)
		c = x->pid - y->pid;
	return S.rev ? -c : c;
}

static void build(struct tui *t, const char *filter, struct sv_list *l)
{
	const struct sessions_snapshot *s = &t->v->sess;
	l->n = 0;
	if (S.view == SV_BLOCKING) {
		int order[SESSIONS_MAX], depth[SESSIONS_MAX];
		int n = probe_sessions_tree(s, order, depth);
		for (int i = 0; i < n; i++)
			if (matches(&s->rows[order[i]], filter)) {
				l->idx[l->n] = order[i];
				l->depth[l->n++] = depth[i];
			}
		return;
	}
	for (int i = 0; i < s->n; i++)
		if (in_view(&s->rows[i]) && matches(&s->rows[i], filter)) {
			l->idx[l->n] = i;
			l->depth[l->n++] = 0;
		}
	sort_snap = s;
	qsort(l->idx, (size_t)l->n, sizeof l->idx[0], cmp_rows);
}

static void dur(char *buf, size_t n, double s)
{
	if (isnan(s))
		snprintf(buf, n, "-");
	else
		fmt_duration(buf, n, s);
}

static void short_state(char *buf, size_t n, const char *st)
{
	if (strcmp(st, "idle in transaction") == 0)
		snprintf(buf, n, "idle in tx");
	else if (strcmp(st, "idle in transaction (aborted)") == 0)
		snprintf(buf, n, "idle tx abrt");
	else
		snprintf(buf, n, "%s", st[0] ? st : "?");
}

/* The columns: the database and the client only when the screen is wide enough. */
static void row_text(const struct session_row *r, int depth, int wide, char *buf, size_t n)
{
	char pid[48], st[32], wait[100], x[32], q[32];
	if (depth > 0)
		snprintf(pid, sizeof pid, "%*s└%d", (depth - 1) * 2, "", r->pid);
	else
		snprintf(pid, sizeof pid, "%d", r->pid);
	/* Padded by columns, not bytes: the tree's mark is three bytes wide in UTF-8. */
	int pw = wide ? 9 : 7;
	for (int c = tui_text_width(pid); c < pw && strlen(pid) + 1 < sizeof pid; c++)
		strcat(pid, " ");
	short_state(st, sizeof st, r->state);
	if (r->wait_type[0])
		snprintf(wait, sizeof wait, "%s:%s", r->wait_type, r->wait);
	else
		wait[0] = 0;
	dur(x, sizeof x, r->xact_s);
	dur(q, sizeof q, r->query_s);
	if (wide)
		snprintf(buf, n,
			 "%s %-12.12s %-10.10s %-14.14s %-15.15s %-12.12s %-18.18s %6s %6s %s", pid,
			 r->db, r->user, r->app, r->client, st, wait, x, q, r->query);
	else
		snprintf(buf, n, "%s %-8.8s %-12.12s %-10.10s %-13.13s %5s %5s %s", pid, r->user,
			 r->app, st, wait, x, q, r->query);
}

static void head_text(int wide, char *buf, size_t n)
{
	if (wide)
		snprintf(buf, n, "%-9s %-12s %-10s %-14s %-15s %-12s %-18s %6s %6s %s", "PID",
			 "DATABASE", "USER", "APPLICATION", "CLIENT", "STATE", "WAIT", "XACT",
			 "QUERY", "QUERY TEXT");
	else
		snprintf(buf, n, "%-7s %-8s %-12s %-10s %-13s %5s %5s %s", "PID", "USER",
			 "APPLICATION", "STATE", "WAIT", "XACT", "QUERY", "QUERY TEXT");
}

static void draw_summary(struct tui *t, struct tui_rect r, const struct sv_list *l)
{
	const struct sessions_snapshot *s = &t->v->sess;
	int waiting = 0, blocking = 0;
	for (int i = 0; i < s->n; i++) {
		waiting += s->rows[i].nby > 0;
		blocking += s->rows[i].blocking > 0;
	}
	/* The view first: at 80 columns the end of the line is what gives way. */
	tui_line(t, r, 0, waiting ? ROLE_WARNING : ROLE_NORMAL,
		 "view %s (v) | %d waiting, %d blocking | %d of %d in %s (a) | sort %s%s (o, r)",
		 view_names[S.view], waiting, blocking, l->n, s->total,
		 s->all	    ? "every database"
		 : s->db[0] ? s->db
			    : "the target",
		 S.view == SV_BLOCKING ? "tree" : sort_names[S.sort],
		 S.rev && S.view != SV_BLOCKING ? " reversed" : "");
}

static void draw_bottom_lines(struct tui *t, struct tui_rect r)
{
	const struct sessions_snapshot *s = &t->v->sess;
	if (S.acted && t->out.n > 0)
		tui_line(t, r, r.h - 2, ROLE_DIM, "last: %s", t->out.v[t->out.n - 1]);
	else
		tui_line(t, r, r.h - 2, ROLE_NORMAL, "%s", "");
	if (t->v->sess_have && !s->can_signal)
		tui_line(t, r, r.h - 1, ROLE_DIM,
			 "monitor only (login %s): c, k need the operator role | v o r a / Enter S",
			 s->login);
	else
		tui_line(t, r, r.h - 1, ROLE_DIM,
			 "v view  o/r sort  a dbs  / filter  Enter query  c cancel  k terminate  "
			 "S back");
}

static void draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	const struct monitor_view *v = t->v;
	static struct sv_list l;
	for (int i = 0; i < r.h; i++)
		tui_line(t, r, i, ROLE_NORMAL, "%s", "");
	if (!v->sess_have) {
		tui_line(t, r, 0, ROLE_DIM, "%s",
			 v->sess_err[0] ? v->sess_err
			 : v->connected ? "waiting for the sessions probe"
					: "no figures yet");
		draw_bottom_lines(t, r);
		return;
	}
	int stale = v->sess_stale || !v->connected;
	build(t, p->filter, &l);
	draw_summary(t, r, &l);
	int from = 2;
	if (stale || v->sess_err[0]) {
		char hm[16];
		tui_clock(hm, sizeof hm, v->sess_as_of);
		tui_line(t, r, from++, ROLE_WARNING, "stale, as of %s%s%s", hm,
			 v->sess_err[0] ? ": " : "", v->sess_err);
	}
	int wide = r.w >= 130;
	char buf[2048];
	head_text(wide, buf, sizeof buf);
	tui_line(t, r, 1, ROLE_HEADER, "%s", buf);
	int h = r.h - from - 2;
	tui_pane_keep_in_view(p, l.n, h);
	for (int i = 0; i < h; i++) {
		int k = p->scroll + i;
		if (k >= l.n) {
			if (k == 0)
				tui_line(t, r, from, ROLE_DIM, "%s",
					 S.view == SV_BLOCKING
					     ? "no session waits for a lock held by "
					       "another"
					     : "no sessions in this view");
			continue;
		}
		const struct session_row *s = &v->sess.rows[l.idx[k]];
		row_text(s, l.depth[k], wide, buf, sizeof buf);
		enum tui_role role = stale	       ? ROLE_DIM
				     : s->blocking > 0 ? ROLE_CRITICAL
				     : waits(s)	       ? ROLE_WARNING
						       : ROLE_NORMAL;
		if (k == p->sel)
			role = ROLE_SELECTED;
		tui_line(t, r, from + i, role, "%s", buf);
	}
	draw_bottom_lines(t, r);
}

static const struct session_row *selected(struct tui_pane *p, struct tui *t)
{
	static struct sv_list l;
	if (!t->v->sess_have)
		return NULL;
	build(t, p->filter, &l);
	if (p->sel < 0 || p->sel >= l.n)
		return NULL;
	return &t->v->sess.rows[l.idx[p->sel]];
}

static int details(struct tui_pane *p, struct tui *t, struct tui_lines *out)
{
	const struct session_row *r = selected(p, t);
	if (!r)
		return 0;
	char x[32], q[32], by[128] = "";
	dur(x, sizeof x, r->xact_s);
	dur(q, sizeof q, r->query_s);
	size_t o = 0;
	for (int k = 0; k < r->nby && o + 12 < sizeof by; k++)
		o += (size_t)snprintf(by + o, sizeof by - o, "%s%d", k ? ", " : "", r->by[k]);
	tui_lines_addf(out, "backend %d", r->pid);
	tui_lines_addf(out, "database:    %s", r->db);
	tui_lines_addf(out, "user:        %s", r->user);
	tui_lines_addf(out, "application: %s", r->app);
	tui_lines_addf(out, "client:      %s", r->client);
	tui_lines_addf(out, "state:       %s", r->state);
	tui_lines_addf(out, "wait:        %s%s%s", r->wait_type, r->wait_type[0] ? ":" : "-",
		       r->wait);
	tui_lines_addf(out, "transaction: %s   query: %s", x, q);
	tui_lines_addf(out, "blocked by:  %s", r->nby ? by : "-");
	tui_lines_addf(out, "blocking:    %d session%s", r->blocking, r->blocking == 1 ? "" : "s");
	tui_lines_add(out, "query:");
	tui_lines_addf(out, "  %s", r->query[0] ? r->query : "(none)");
	return 1;
}

static void do_signal(struct tui *t)
{
	char err[256], pid[16];
	const char *name = S.ask_terminate ? "session-terminate" : "session-cancel";
	const struct cmd_entry *ce = cmd_find(name, err, sizeof err);
	if (!ce) {
		tui_message(t, "%s", err);
		return;
	}
	if (t->child.pid) {
		tui_message(t, "'%s' is still running; Ctrl-C stops it", t->child.name);
		return;
	}
	snprintf(pid, sizeof pid, "%d", S.ask_pid);
	char *words[] = {(char *)name, pid, "--yes", NULL};
	tui_lines_addf(&t->out, "$ midsops %s %s --yes", name, pid);
	if (tui_child_start(t, ce, words) == 0) {
		S.acted = 1;
		tui_message(t, "%s %s: running", name, pid);
	}
}

static int ask_signal(struct tui_pane *p, struct tui *t, int terminate)
{
	const char *what = terminate ? "terminate" : "cancel";
	const struct sessions_snapshot *s = &t->v->sess;
	const struct session_row *r = selected(p, t);
	if (!r) {
		tui_message(t, "%s: no session selected", what);
		return TUI_REDRAW;
	}
	if (!s->can_signal) {
		tui_message(t,
			    "%s refused: login %s can only monitor; signalling a session needs "
			    "the operator role (midsops_operator)",
			    what, s->login);
		return TUI_REDRAW;
	}
	if (t->child.pid) {
		tui_message(t, "'%s' is still running; Ctrl-C stops it", t->child.name);
		return TUI_REDRAW;
	}
	S.ask_pid = r->pid;
	S.ask_terminate = terminate;
	snprintf(t->confirm_q, sizeof t->confirm_q, "%s pid %d (%.32s, %.32s): %.100s?",
		 terminate ? "Terminate backend" : "Cancel the query of", r->pid, r->user,
		 r->app[0] ? r->app : "-", r->query[0] ? r->query : "(no query)");
	t->confirm_yes = do_signal;
	t->mode = MODE_CONFIRM;
	return TUI_REDRAW;
}

static int key(struct tui_pane *p, struct tui *t, int k)
{
	switch (k) {
	case 'v':
		S.view = (S.view + 1) % SV_N;
		p->sel = p->scroll = 0;
		tui_message(t, "view: %s", view_names[S.view]);
		return TUI_REDRAW;
	case 'o':
		S.sort = (S.sort + 1) % SO_N;
		tui_message(t, "sort: %s%s", sort_names[S.sort],
			    S.view == SV_BLOCKING ? " (the tree keeps its order)" : "");
		return TUI_REDRAW;
	case 'r':
		S.rev = !S.rev;
		return TUI_REDRAW;
	case 'a':
		S.all = !S.all;
		p->sel = p->scroll = 0;
		monitor_sessions(t->mon, 1, S.all);
		tui_message(t, "%s", S.all ? "every database" : "the target's database only");
		return TUI_REDRAW;
	case 'c':
		return ask_signal(p, t, 0);
	case 'k':
		return ask_signal(p, t, 1);
	}
	return tui_list_key(p, k, p->lines);
}

const struct tui_pane_ops tui_pane_sessions_ops = {
    .name = "sessions",
    .title = "Sessions and locks",
    .draw = draw,
    .key = key,
    .details = details,
    .filterable = 1,
};
