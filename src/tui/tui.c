/* The console: one poll() loop over the terminal, the monitor's socket, a child's pipe
 * and the refresh timer. Nothing here blocks: probes are asynchronous (probe_async.h),
 * commands are child processes, readline runs through its callback interface. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "config.h"
#include "out.h"
#include "paths.h"
#include "probe_fleet.h"
#include "target.h"
#include "tui_int.h"
#include "tui_wizard.h"

#define MIN_COLS  80
#define MIN_LINES 24

static const double refresh_steps[] = {0.5, 1, 2, 3, 5, 10, 15, 30, 60};
#define NSTEPS (sizeof refresh_steps / sizeof refresh_steps[0])

/* Every key, for the help screen; the man page's KEY BINDINGS lists the same. */
static const char *const help_text[] = {
    "midsops console: keys",
    "",
    "  Tab, Shift-Tab     focus the next or previous pane",
    "  Up, Down           scroll or select in the focused pane",
    "  PgUp, PgDn         scroll a page",
    "  Home, End          first or last line",
    "  Enter              details of the selection (error: file, JSON path, message, run);",
    "                     during an outage, first its reason in full",
    "  :                  command bar (any midsops command; Tab completes, Ctrl-R searches)",
    "  /                  filter the focused list (empty filter clears it)",
    "  ? or F1            this help",
    "  Space or p         pause or resume the refresh",
    "  + or -             longer or shorter refresh interval",
    "  z                  zoom the focused pane to the full screen, again to return",
    "  S                  sessions and locks, in the panes' place (keys below)",
    "  R                  trends: sparklines of the last 15 minutes (more below)",
    "  T                  timeline: what happened (imports, backups, checks, wizard steps,",
    "                     disconnects), newest first; Enter details, / filter, T returns",
    "  E                  switch the panes' target to the next environment of the fleet",
    "                     strip (shown when the config names more than one [env NAME])",
    "  Ctrl-L             redraw the screen",
    "  Ctrl-C             stop the running command (asks first if it changes data)",
    "  Esc                close help, details, zoom or the command bar",
    "  q                  quit (asks first while a command is still running)",
    "",
    "Command bar: Up/Down history, Ctrl-R reverse search, Tab completion, ~/.inputrc.",
    "The line under the header: the host's load, CPU, memory and free disk (data, backup,",
    "log), yellow or red at the [thresholds] of system-resources.",
    NULL,
};

/* After the built-ins' line, which comes from their table. */
static const char *const help_after[] = {
    ":wizard opens the runbook picker; :wizard NAME [PARAM=VALUE...] starts a run and",
    ":wizard resume RUN continues one, in the wizard view (? there lists its keys).",
    ":timeline opens the timeline view; :timeline --since 2h writes it as Markdown to the",
    "Output pane and to a file in the reports directory (its path is the last line).",
    "Every other command runs as a child process; its output appears in the Output pane.",
    NULL,
};

static void help_builtins(struct tui_lines *l)
{
	char line[256];
	size_t off = (size_t)snprintf(line, sizeof line, "Console commands:");
	for (const struct tui_builtin *b = tui_builtins; b->name && off < sizeof line; b++)
		if (b->help)
			off += (size_t)snprintf(line + off, sizeof line - off, "%s %s",
						b == tui_builtins ? "" : ",", b->help);
	tui_lines_addf(l, "%s.", line);
}

/* A view (the wizard) is on screen in the panes' place. */
static int view_on(const struct tui *t)
{
	return t->view && t->view->ops->active(t->view);
}

void tui_message(struct tui *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof t->msg, fmt, ap);
	va_end(ap);
	t->msg_until = util_mono() + 5;
	t->need_redraw = 1;
}

/* host and dbname of the target for the header; the password is never shown. */
static void target_short(const struct target *tg, char *buf, size_t n)
{
	char shown[2048];
	target_display(tg, shown, sizeof shown);
	const char *uri = strstr(shown, "://");
	if (uri) {
		const char *h = uri + 3;
		const char *at = strchr(h, '@');
		const char *slash = strchr(h, '/');
		if (at && (!slash || at < slash))
			h = at + 1;
		snprintf(buf, n, "%.*s", (int)strcspn(h, "?"), h);
		return;
	}
	char host[512] = "", db[256] = "";
	const char *p;
	if ((p = strstr(shown, "host=")))
		snprintf(host, sizeof host, "%.*s", (int)strcspn(p + 5, " "), p + 5);
	if ((p = strstr(shown, "dbname=")))
		snprintf(db, sizeof db, "%.*s", (int)strcspn(p + 7, " "), p + 7);
	if (host[0] || db[0])
		snprintf(buf, n, "%.255s/%.255s", host[0] ? host : "local", db[0] ? db : "-");
	else
		snprintf(buf, n, "%.511s", shown);
}

/* An open incident leads the header, whatever else it says: its severity and its age
 * against the severity's response time ("S2 #4 12m of 1h0m", "late" once the response is
 * overdue), in the colour incident-status would give it. Returns the columns used. */
static int incident_segment(struct tui *t, char *seg, size_t n, enum status *st)
{
	const struct health_extra *x = &t->v->hx;
	seg[0] = 0;
	if (x->incident_id <= 0 || !t->v->have[MON_HEALTH])
		return 0;
	char age[32], due[32];
	fmt_duration(age, sizeof age, x->incident_age_s);
	if (x->incident_respond_s <= 0)
		snprintf(due, sizeof due, "now");
	else
		fmt_duration(due, sizeof due, x->incident_respond_s);
	int overdue = !x->incident_responded && x->incident_age_s > x->incident_respond_s;
	snprintf(seg, n, " %s #%lld %s of %s%s ", x->incident_severity, x->incident_id, age, due,
		 overdue ? " late" : "");
	*st = strcmp(x->incident_severity, "S1") == 0		   ? ST_CRITICAL
	      : strcmp(x->incident_severity, "S2") == 0 || overdue ? ST_WARNING
								   : ST_OK;
	return tui_text_width(seg);
}

/* The header names the worst item and why ("WARNING: 1 blocked session, pid 17523"), not
 * a bare status word; when the line is short the target gives way, never the verdict. */
static void draw_header(struct tui *t)
{
	char tgt[512], clock[32], right[128], verdict[320];
	target_short(t->target, tgt, sizeof tgt);
	tui_clock(clock, sizeof clock, time(NULL));
	struct tui_verdict vd;
	tui_verdict(t, &vd);
	if (vd.why[0])
		snprintf(verdict, sizeof verdict, "%s: %s%s", status_name(vd.st), vd.why,
			 vd.items > 1 ? " (+more)" : "");
	else
		snprintf(verdict, sizeof verdict, "%s", status_name(vd.st));
	snprintf(right, sizeof right, " %s  every %gs%s  ", clock, t->refresh,
		 t->paused ? " PAUSED" : "");
	attrset(t->attrs[ROLE_HEADER]);
	mvhline(0, 0, ' ', COLS);
	/* the verdict, with a blank on each side */
	/* The incident keeps its place first; the verdict, then the target, give way to it. */
	char seg[96];
	enum status ist = ST_OK;
	int iw = incident_segment(t, seg, sizeof seg, &ist);
	if (iw > COLS / 2)
		iw = COLS / 2;
	int vw = tui_text_width(verdict) + 2;
	if (vw > COLS - 20 - iw)
		vw = COLS - 20 - iw;
	int rw = tui_text_width(right);
	if (rw + vw > COLS - 10)
		rw = 0; /* the clock and interval give way too */
	int lw = COLS - rw - vw;
	if (iw)
		tui_put(t, 0, 0, iw, ist == ST_OK ? ROLE_HEADER : tui_status_role(ist), seg);
	tui_putf(t, 0, iw, lw - iw, ROLE_HEADER, " midsops  %s  PostgreSQL %s  %s", t->target->env,
		 t->v->have[MON_HEALTH] ? t->v->db.version : "?", tgt);
	if (rw)
		tui_put(t, 0, lw, rw, ROLE_HEADER, right);
	tui_put(t, 0, COLS - vw + 1, vw - 2, tui_status_role(vd.st), verdict);
}

/* Pane rectangles below the header, the banner (banner_h lines), the host line and the key
 * metrics strip. */
static void pane_rects(struct tui *t, struct tui_rect *r, int banner_h)
{
	/* The host line's and the strip's rows come from the upper panes: the output area
	 * keeps its size. */
	int ob = (LINES - banner_h - 2) / 4;
	banner_h += tui_host_line_rows(t, banner_h);
	banner_h += tui_kpi_rows(t, banner_h);
	int H = LINES - banner_h, W = COLS, y0 = 1 + banner_h;
	if (ob < 6)
		ob = 6;
	int mid = H - 2 - ob;
	int top = (mid + 1) / 2 + 1;
	int lw = W / 2;
	r[PANE_HEALTH] = (struct tui_rect){y0, 0, top, lw};
	r[PANE_IMPORT] = (struct tui_rect){y0, lw, top, W - lw};
	r[PANE_CACHE] = (struct tui_rect){y0 + top, 0, mid - top, lw};
	r[PANE_ERRORS] = (struct tui_rect){y0 + top, lw, mid - top, W - lw};
	r[PANE_OUTPUT] = (struct tui_rect){y0 + mid, 0, ob, W};
	if (t->zoom >= 0)
		r[t->zoom] = (struct tui_rect){y0, 0, H - 2, W};
}

static void pane_title(struct tui *t, int i, char *buf, size_t n)
{
	struct tui_pane *p = &t->panes[i];
	char extra[160] = "";
	if (p->filter[0])
		snprintf(extra, sizeof extra, " [filter: %s]", p->filter);
	if (i == PANE_OUTPUT && t->child.pid)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
			 " (running: %s %.0fs)", t->child.name, util_mono() - t->child.started);
	if (p->mon >= 0 && t->v->stale[p->mon] && t->v->connected)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " (stale)");
	snprintf(buf, n, "%s%s", p->ops->title, extra);
}

static void draw_overlay(struct tui *t, struct tui_lines *l, int *scroll, const char *title)
{
	int H = LINES - 2, W = COLS;
	int w = W - 8, h = H - 2;
	struct tui_rect box = {2, 4, h, w};
	struct tui_rect in = {3, 6, h - 2, w - 4};
	tui_fill(t, box, ROLE_NORMAL);
	tui_box(t, box, title, 1);
	/* Wrap long lines at the width. */
	struct tui_lines wrapped = {0};
	for (int i = 0; i < l->n; i++) {
		const char *s = l->v[i];
		do {
			size_t fit = tui_text_fit(s, in.w);
			char buf[4096];
			snprintf(buf, sizeof buf, "%.*s", (int)fit, s);
			tui_lines_add(&wrapped, buf);
			s += fit;
			if (!fit)
				break;
		} while (*s);
	}
	if (*scroll > wrapped.n - in.h)
		*scroll = wrapped.n - in.h;
	if (*scroll < 0)
		*scroll = 0;
	for (int i = 0; i < in.h; i++)
		tui_line(t, in, i, ROLE_NORMAL, "%s",
			 *scroll + i < wrapped.n ? wrapped.v[*scroll + i] : "");
	tui_put(t, box.y + box.h - 1, box.x + 2, box.w - 4, ROLE_DIM,
		" Up/Down/PgUp/PgDn scroll, Esc or q closes ");
	tui_lines_free(&wrapped);
}

static void draw_bottom(struct tui *t)
{
	int y = LINES - 1;
	if (t->mode == MODE_BAR) {
		tui_bar_draw(t, y, COLS);
		return;
	}
	move(y, 0);
	attrset(t->attrs[ROLE_NORMAL]);
	clrtoeol();
	if (t->mode == MODE_NORMAL && t->view && t->view->ops->bottom(t->view, t, y))
		return;
	if (t->mode == MODE_FILTER) {
		tui_putf(t, y, 0, COLS, ROLE_NORMAL, "/%s", t->filter_buf);
		move(y, 1 + tui_text_width(t->filter_buf));
		return;
	}
	if (t->mode == MODE_CONFIRM) {
		tui_putf(t, y, 0, COLS, ROLE_WARNING, "%s (y/n)", t->confirm_q);
		return;
	}
	if (t->msg[0] && util_mono() < t->msg_until)
		tui_put(t, y, 0, COLS, ROLE_WARNING, t->msg);
	else
		tui_put(t, y, 0, COLS, ROLE_DIM,
			": command  / filter  Tab pane  Enter details  z zoom  p pause  +/- "
			"interval  ? help  q quit");
}

void tui_draw_all(struct tui *t)
{
	t->need_redraw = 0;
	erase();
	if (COLS < MIN_COLS || LINES < MIN_LINES) {
		t->too_small = 1;
		tui_putf(t, 0, 0, COLS, ROLE_CRITICAL, "terminal too small: %dx%d", COLS, LINES);
		tui_putf(t, 1, 0, COLS, ROLE_NORMAL, "midsops needs at least %dx%d", MIN_COLS,
			 MIN_LINES);
		tui_put(t, 2, 0, COLS, ROLE_DIM, "q quits");
		refresh();
		return;
	}
	t->too_small = 0;
	draw_header(t);
	/* One banner over the panes says an outage once, in full; the wizard view keeps its
	 * screen (the header says it). */
	tui_lines_clear(&t->banner);
	int bh = view_on(t) ? 0 : tui_banner_build(t, COLS - 2, &t->banner);
	tui_banner_draw(t, 1, &t->banner);
	int fh = view_on(t) ? 0 : tui_fleet_height(t, LINES - 2 - bh);
	tui_fleet_draw(t, 1 + bh, fh);
	bh += fh;
	int hl = !view_on(t) ? tui_host_line_rows(t, bh) : 0;
	if (hl)
		tui_host_line(t, 1 + bh);
	/* The key metrics strip under the host line; the priority layout folds it first. */
	if (!view_on(t) && tui_kpi_rows(t, bh + hl))
		tui_kpi_strip(t, 1 + bh + hl);
	struct tui_rect r[TUI_NALL];
	pane_rects(t, r, bh);
	if (view_on(t))
		t->view->ops->draw(t->view, t);
	else if (t->full) {
		struct tui_rect fr = {r[PANE_HEALTH].y, 0, LINES - 1 - r[PANE_HEALTH].y, COLS};
		char title[256];
		snprintf(title, sizeof title, "%s%s%.128s%s", t->full->ops->title,
			 t->full->filter[0] ? " [filter: " : "", t->full->filter,
			 t->full->filter[0] ? "]" : "");
		tui_box(t, fr, title, 1);
		t->full->ops->draw(t->full, t, (struct tui_rect){fr.y + 1, 1, fr.h - 2, COLS - 2});
	}
	for (int i = 0; i < TUI_NALL && !view_on(t) && !t->full; i++) {
		if ((t->zoom >= 0 || i >= TUI_NPANES) && t->zoom != i)
			continue;
		char title[256];
		pane_title(t, i, title, sizeof title);
		tui_box(t, r[i], title, t->focus == i);
		struct tui_rect in = {r[i].y + 1, r[i].x + 1, r[i].h - 2, r[i].w - 2};
		t->panes[i].ops->draw(&t->panes[i], t, in);
		tui_pane_asof(t, &t->panes[i], r[i]);
	}
	if (t->help)
		draw_overlay(t, &t->help_lines, &t->help_scroll, "Help");
	else if (t->details_on)
		draw_overlay(t, &t->details, &t->details_scroll, "Details");
	draw_bottom(t);
	curs_set(t->mode == MODE_BAR || t->mode == MODE_FILTER);
	if (t->mode == MODE_BAR)
		tui_bar_draw(t, LINES - 1, COLS);
	refresh();
	if (!t->first_frame && t->v->have[MON_HEALTH]) {
		t->first_frame = 1;
		t->first_frame_ms = (util_mono() - t->t0) * 1000.0;
	}
}

static void set_refresh(struct tui *t, int dir)
{
	size_t i = 0;
	while (i < NSTEPS && refresh_steps[i] < t->refresh - 1e-9)
		i++;
	if (dir > 0 && i + 1 < NSTEPS && refresh_steps[i] <= t->refresh + 1e-9)
		i++;
	else if (dir < 0 && i > 0)
		i--;
	if (i >= NSTEPS)
		i = NSTEPS - 1;
	t->refresh = refresh_steps[i];
	t->next_refresh = util_mono() + t->refresh;
	tui_message(t, "refresh every %gs", t->refresh);
}

static void do_quit(struct tui *t)
{
	if (t->child.pid)
		tui_child_stop(t, 1);
	t->quit = 1;
}

static void do_stop_child(struct tui *t)
{
	tui_child_stop(t, 0);
}

static void ask(struct tui *t, void (*yes)(struct tui *), const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ask(struct tui *t, void (*yes)(struct tui *), const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->confirm_q, sizeof t->confirm_q, fmt, ap);
	va_end(ap);
	t->confirm_yes = yes;
	t->mode = MODE_CONFIRM;
	t->need_redraw = 1;
}

static void request_quit(struct tui *t)
{
	if (t->child.pid)
		ask(t, do_quit, "'%s' is still running. Stop it and quit?", t->child.name);
	else
		t->quit = 1;
}

static void request_stop(struct tui *t)
{
	if (!t->child.pid) {
		tui_message(t, "no command is running (q quits)");
		return;
	}
	if ((t->child.flags & CMD_DESTRUCTIVE) && t->child.signals == 0)
		ask(t, do_stop_child, "'%s' changes data. Stop it now?", t->child.name);
	else
		tui_child_stop(t, 0);
}

static void save_settings(struct tui *t)
{
	char err[512], val[64];
	snprintf(val, sizeof val, "%g", t->refresh);
	const char *focus = t->panes[t->focus].ops->name;
	if (config_save_key(t->cfg, "midsops", "theme", t->theme, err, sizeof err) < 0 ||
	    config_save_key(t->cfg, "midsops", "refresh", val, err, sizeof err) < 0 ||
	    config_save_key(t->cfg, "midsops", "focus", focus, err, sizeof err) < 0) {
		tui_message(t, "save: %s", err);
		return;
	}
	tui_lines_addf(&t->out, "saved theme = %s, refresh = %s, focus = %s to %s", t->theme, val,
		       focus, t->cfg->path);
	tui_message(t, "settings saved to %s", t->cfg->path);
}

static int bi_quit(struct tui *t, char **w, int n)
{
	(void)w, (void)n;
	request_quit(t);
	return 0;
}

static int bi_help(struct tui *t, char **w, int n)
{
	(void)w;
	if (n != 1)
		return -1; /* "help CMD" is the command's own help, run as a child */
	t->help = 1;
	t->help_scroll = 0;
	return 0;
}

static int bi_save(struct tui *t, char **w, int n)
{
	(void)w, (void)n;
	save_settings(t);
	return 0;
}

static int bi_clear(struct tui *t, char **w, int n)
{
	(void)w, (void)n;
	tui_lines_clear(&t->out);
	return 0;
}

static int bi_theme(struct tui *t, char **w, int n)
{
	char err[512];
	if (n == 1) {
		char **names = tui_theme_names();
		tui_lines_addf(&t->out, "theme now: %s", t->theme);
		for (char **p = names; p && *p; p++) {
			tui_lines_addf(&t->out, "  %s", *p);
			free(*p);
		}
		free(names);
	} else if (tui_theme_load(t, w[1], err, sizeof err) < 0)
		tui_message(t, "%s", err);
	else
		tui_message(t, "theme %s (:save keeps it)", w[1]);
	return 0;
}

static int bi_wizard(struct tui *t, char **w, int n)
{
	/* what the wizard view does not take (list, show, --help...) runs as the command */
	return tui_wizard_open(t, w, n) == 0 ? 0 : -1;
}

static void show_full(struct tui *t, struct tui_pane *p);
static void run_command(struct tui *t, const char *line, char **w);

/* :timeline opens the view; with options it runs the command, whose Markdown lands in the
 * output area and in a file of the reports directory (--json: as asked). */
static int bi_timeline(struct tui *t, char **w, int n)
{
	if (n == 1) {
		if (t->focus == PANE_SESSIONS)
			tui_sessions_toggle(t);
		if (t->focus == PANE_TRENDS)
			tui_trends_toggle(t);
		if (t->full != &t->timeline)
			show_full(t, &t->timeline);
		return 0;
	}
	for (int i = 1; i < n; i++)
		if (strcmp(w[i], "--json") == 0 || strcmp(w[i], "--markdown") == 0 ||
		    strcmp(w[i], "--help") == 0 || strcmp(w[i], "-h") == 0)
			return -1;
	char **mw = xcalloc((size_t)n + 2, sizeof *mw);
	struct strbuf line = {0};
	for (int i = 0; i < n; i++) {
		mw[i] = w[i];
		strbuf_addf(&line, "%s ", w[i]);
	}
	mw[n] = "--markdown";
	strbuf_adds(&line, "--markdown");
	run_command(t, line.s, mw);
	strbuf_free(&line);
	free(mw);
	return 0;
}

/* :trend [DURATION]: the trends view, in the timeline's place if that is on screen. */
static int bi_trend(struct tui *t, char **w, int n)
{
	if (t->full)
		show_full(t, NULL);
	return tui_trends_open(t, w, n);
}

/* In the order the help overlay lists them. */
const struct tui_builtin tui_builtins[] = {
    {"theme", ":theme NAME", COMPLETE_THEME, bi_theme},
    {"save", ":save (theme, refresh, focus)", COMPLETE_NONE, bi_save},
    {"clear", ":clear", COMPLETE_NONE, bi_clear},
    {"help", ":help", COMPLETE_COMMAND, bi_help},
    {"quit", ":quit", COMPLETE_NONE, bi_quit},
    {"q", NULL, COMPLETE_NONE, bi_quit},
    {"wizard", NULL, COMPLETE_NONE, bi_wizard},
    {"trend", ":trend [24h]", COMPLETE_NONE, bi_trend},
    {"timeline", NULL, COMPLETE_NONE, bi_timeline},
    {NULL, NULL, 0, NULL},
};

const struct tui_builtin *tui_builtin_find(const char *name)
{
	for (const struct tui_builtin *b = tui_builtins; b->name; b++)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

static void run_command(struct tui *t, const char *line, char **w)
{
	char err[512];
	const struct cmd_entry *ce = cmd_find(w[0], err, sizeof err);
	if (!ce) {
		tui_lines_addf(&t->out, "%s", err);
		tui_message(t, "%s", err);
	} else if (strcmp(ce->name, "console") == 0) {
		tui_message(t, "this is the console already");
	} else if (t->child.pid) {
		tui_message(t, "'%s' is still running; Ctrl-C stops it", t->child.name);
	} else {
		tui_lines_addf(&t->out, "$ midsops %s", line);
		tui_child_start(t, ce, w);
	}
}

void tui_execute(struct tui *t, const char *line)
{
	char **w = NULL, err[512];
	while (*line == ':' || *line == ' ')
		line++;
	int n = tui_words_split(line, &w, err, sizeof err);
	if (n < 0) {
		tui_message(t, "%s", err);
		return;
	}
	if (n == 0) {
		tui_words_free(w);
		return;
	}
	t->panes[PANE_OUTPUT].follow = 1;
	const struct tui_builtin *b = tui_builtin_find(w[0]);
	if (!b || b->run(t, w, n) < 0)
		run_command(t, line, w);
	tui_words_free(w);
	t->need_redraw = 1;
}

/* A pane alone in the panes' place (p), or back to the panes (NULL, or p again). */
static void show_full(struct tui *t, struct tui_pane *p)
{
	if (t->full && t->full->ops->shown)
		t->full->ops->shown(t->full, t, 0);
	t->full = t->full == p ? NULL : p;
	if (t->full && t->full->ops->shown)
		t->full->ops->shown(t->full, t, 1);
}

/* The timeline, the sessions and the trends views each take the panes' place: one at a
 * time. Returns the key to act on: Esc, z and Tab leave the view on screen. */
static int views_key(struct tui *t, int k)
{
	if (t->full && (k == 'S' || k == 'R'))
		show_full(t, NULL);
	if (t->focus == PANE_SESSIONS && (k == 27 || k == 'z' || k == '\t' || k == KEY_BTAB))
		return 'S';
	if (t->focus == PANE_TRENDS && (k == 'S' || k == 'T'))
		tui_trends_toggle(t);
	else if (t->focus == PANE_TRENDS && (k == 27 || k == 'z' || k == '\t' || k == KEY_BTAB))
		return 'R';
	return k;
}

static int normal_key(struct tui *t, int k)
{
	struct tui_pane *p = t->full ? t->full : &t->panes[t->focus];
	if (t->help || t->details_on) {
		int *scroll = t->help ? &t->help_scroll : &t->details_scroll;
		switch (k) {
		case KEY_UP:
			(*scroll)--;
			break;
		case KEY_DOWN:
			(*scroll)++;
			break;
		case KEY_PPAGE:
			*scroll -= LINES / 2;
			break;
		case KEY_NPAGE:
			*scroll += LINES / 2;
			break;
		case KEY_HOME:
			*scroll = 0;
			break;
		case KEY_END:
			*scroll = 1 << 20;
			break;
		case 'q':
		case 27:
		case '?':
		case KEY_F(1):
		case '\n':
		case '\r':
		case KEY_ENTER:
			t->help = t->details_on = 0;
			break;
		case 12:
			clearok(curscr, TRUE);
			break;
		default:
			return 0;
		}
		return TUI_REDRAW;
	}
	k = views_key(t, k);
	switch (k) {
	case 'R':
		tui_trends_toggle(t);
		return TUI_REDRAW;
	case 'S':
		tui_sessions_toggle(t);
		return TUI_REDRAW;
	case 'E':
		if (t->full) /* its probe belongs to the monitor being replaced */
			show_full(t, NULL);
		tui_fleet_next(t);
		return TUI_REDRAW;
	case '\t':
		t->focus = (t->focus + 1) % TUI_NPANES;
		if (t->zoom >= 0)
			t->zoom = t->focus;
		return TUI_REDRAW;
	case KEY_BTAB:
		t->focus = (t->focus + TUI_NPANES - 1) % TUI_NPANES;
		if (t->zoom >= 0)
			t->zoom = t->focus;
		return TUI_REDRAW;
	case ':':
		tui_bar_enter(t);
		return TUI_REDRAW;
	case '/':
		if (!p->ops->filterable)
			return 0;
		snprintf(t->filter_buf, sizeof t->filter_buf, "%s", p->filter);
		t->mode = MODE_FILTER;
		return TUI_REDRAW;
	case '?':
	case KEY_F(1):
		t->help = 1;
		t->help_scroll = 0;
		return TUI_REDRAW;
	case ' ':
	case 'p':
		t->paused = !t->paused;
		monitor_set_paused(t->mon, t->paused);
		if (!t->paused) {
			monitor_refresh(t->mon);
			t->next_refresh = util_mono() + t->refresh;
		}
		tui_message(t, t->paused ? "paused (Space or p resumes)" : "resumed");
		return TUI_REDRAW;
	case '+':
		set_refresh(t, 1);
		return TUI_REDRAW;
	case '-':
		set_refresh(t, -1);
		return TUI_REDRAW;
	case 'z':
		if (t->full)
			show_full(t, NULL);
		else
			t->zoom = t->zoom >= 0 ? -1 : t->focus;
		return TUI_REDRAW;
	case 'T':
		if (t->focus == PANE_SESSIONS)
			tui_sessions_toggle(t);
		show_full(t, &t->timeline);
		return TUI_REDRAW;
	case 12: /* Ctrl-L */
		clearok(curscr, TRUE);
		return TUI_REDRAW;
	case 3: /* Ctrl-C */
		request_stop(t);
		return TUI_REDRAW;
	case 'q':
		request_quit(t);
		return TUI_REDRAW;
	case 27:
		if (t->full) {
			show_full(t, NULL);
			return TUI_REDRAW;
		}
		if (t->zoom >= 0) {
			t->zoom = -1;
			return TUI_REDRAW;
		}
		return 0;
	case '\n':
	case '\r':
	case KEY_ENTER: {
		tui_lines_clear(&t->details);
		/* An outage's reason in full comes first, whatever the pane: the banner may
		 * have had to cut it. */
		int n = tui_outage_details(t, p, &t->details);
		if ((p->ops->details && p->ops->details(p, t, &t->details)) || n) {
			t->details_on = 1;
			t->details_scroll = 0;
		} else
			tui_message(t, "nothing selected");
		return TUI_REDRAW;
	}
	}
	return p->ops->key ? p->ops->key(p, t, k) : 0;
}

static void filter_key(struct tui *t, int k)
{
	size_t n = strlen(t->filter_buf);
	struct tui_pane *p = t->full ? t->full : &t->panes[t->focus];
	if (k == 27) {
		t->mode = MODE_NORMAL;
	} else if (k == '\n' || k == '\r' || k == KEY_ENTER) {
		snprintf(p->filter, sizeof p->filter, "%s", t->filter_buf);
		p->sel = p->scroll = 0;
		t->mode = MODE_NORMAL;
	} else if (k == KEY_BACKSPACE || k == 127 || k == 8) {
		while (n > 0 && ((unsigned char)t->filter_buf[n - 1] & 0xC0) == 0x80)
			n--;
		if (n > 0)
			n--;
		t->filter_buf[n] = 0;
	} else if (k >= 32 && k < 256 && n + 1 < sizeof t->filter_buf) {
		t->filter_buf[n] = (char)k;
		t->filter_buf[n + 1] = 0;
	}
	t->need_redraw = 1;
}

static void handle_key(struct tui *t, int k)
{
	if (k == KEY_RESIZE) {
		t->need_redraw = 1;
		return;
	}
	if (t->too_small && t->mode != MODE_CONFIRM) {
		if (k == 'q')
			request_quit(t);
		return;
	}
	switch (t->mode) {
	case MODE_BAR:
		if (k == 27) {
			tui_bar_cancel(t);
		} else if (k == 3) {
			if (tui_bar_empty() && t->child.pid)
				request_stop(t);
			else
				tui_bar_cancel(t);
		} else
			tui_bar_key(t, k);
		return;
	case MODE_FILTER:
		filter_key(t, k);
		return;
	case MODE_CONFIRM:
		t->mode = MODE_NORMAL;
		if (k == 'y' || k == 'Y')
			t->confirm_yes(t);
		t->need_redraw = 1;
		return;
	case MODE_NORMAL:
		break;
	}
	if (view_on(t)) {
		t->view->ops->key(t->view, t, k);
		return;
	}
	int r = normal_key(t, k);
	if (r & TUI_REDRAW)
		t->need_redraw = 1;
	if (r & TUI_QUIT)
		t->quit = 1;
}

static void write_trace(struct tui *t)
{
	if (!t->trace[0])
		return;
	FILE *f = fopen(t->trace, "w");
	if (!f)
		return;
	fprintf(f, "first_frame_ms %.1f\n", t->first_frame_ms);
	static const char *const names[] = {"health",	"import", "cache",   "errors",
					    "sessions", "kpi",	  "timeline"};
	for (int p = 0; p <= MON_NPANES + 2; p++) {
		/* the views' probes: 0 queries while the view was never on; the strip's query
		 * time every MONITOR_KPI_EVERY_S */
		const struct mon_stats *st = p < MON_NPANES	   ? &t->v->stats[p]
					     : p == MON_NPANES	   ? &t->v->sess_stats
					     : p == MON_NPANES + 1 ? &t->v->kpi_stats
								   : &t->v->tl_stats;
		int n = st->nsamples < 64 ? st->nsamples : 64;
		double s[64];
		memcpy(s, st->samples, sizeof(double) * (size_t)n);
		for (int i = 1; i < n; i++)
			for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
				double x = s[j];
				s[j] = s[j - 1];
				s[j - 1] = x;
			}
		fprintf(f, "probe %s queries %lld median_ms %.2f max_ms %.2f\n", names[p],
			st->queries, n ? s[n / 2] : 0.0, st->max_ms);
	}
	if (t->fleet)
		fprintf(f, "fleet envs %d queries %lld\n",
			fleet_count(t->fleet) - (t->fleet_target >= 0), fleet_queries(t->fleet));
	fclose(f);
}

static volatile sig_atomic_t tui_hangup;

static void on_hangup(int sig)
{
	(void)sig;
	tui_hangup = 1;
}

static void panes_init(struct tui *t)
{
	static const struct tui_pane_ops *const ops[TUI_NALL] = {
	    &tui_pane_health_ops, &tui_pane_import_ops,	  &tui_pane_cache_ops, &tui_pane_errors_ops,
	    &tui_pane_output_ops, &tui_pane_sessions_ops, &tui_pane_trends_ops};
	for (int i = 0; i < TUI_NALL; i++) {
		t->panes[i].ops = ops[i];
		t->panes[i].mon = i < MON_NPANES ? i : -1;
		if (i < TUI_NPANES && t->cfg->focus[0] && strcmp(t->cfg->focus, ops[i]->name) == 0)
			t->focus = i;
	}
	t->panes[PANE_OUTPUT].follow = 1;
	t->timeline.ops = &tui_pane_timeline_ops;
	t->timeline.mon = -1;
	for (int i = 0; help_text[i]; i++)
		tui_lines_add(&t->help_lines, help_text[i]);
	help_builtins(&t->help_lines);
	for (int i = 0; help_after[i]; i++)
		tui_lines_add(&t->help_lines, help_after[i]);
	for (int i = 0; tui_sessions_help[i]; i++)
		tui_lines_add(&t->help_lines, tui_sessions_help[i]);
	for (int i = 0; tui_trends_help[i]; i++)
		tui_lines_add(&t->help_lines, tui_trends_help[i]);
}

/* How long the loop may sleep in poll: the next refresh, the monitor, the clock, a child
 * to reap, or the view's own work. */
static int loop_timeout(struct tui *t, double now)
{
	int timeout = (int)((t->next_refresh - now) * 1000.0) + 1;
	if (t->paused)
		timeout = 1000;
	int mt = monitor_timeout_ms(t->mon);
	if (mt >= 0 && mt < timeout)
		timeout = mt;
	int ft = fleet_timeout_ms(t->fleet);
	if (ft >= 0 && ft < timeout)
		timeout = ft;
	/* The clock in the header ticks each second. */
	int to_second = 1000 - (int)(fmod(now, 1.0) * 1000);
	if (to_second < timeout)
		timeout = to_second;
	if (t->child.pid && t->child.fd < 0 && timeout > 100)
		timeout = 100; /* waiting to reap */
	int wt = t->view ? t->view->ops->wait_ms(t->view) : -1;
	if (wt >= 0 && wt < timeout)
		timeout = wt;
	if (timeout < 0)
		timeout = 0;
	return timeout;
}

static void stop_child_at_exit(struct tui *t)
{
	if (t->child.pid && tui_hangup) {
		/* The terminal is gone: ask the command to stop (an import stops at its next
		 * batch boundary, resumable) and leave at once rather than linger unseen. It
		 * ignores SIGPIPE, so its writes to our closed pipe fail and it goes on. */
		kill(-t->child.pid, SIGTERM);
	} else if (t->child.pid) {
		/* SIGTERM, then SIGKILL if it is still there after two seconds. */
		kill(-t->child.pid, SIGTERM);
		for (int i = 0; i < 20 && waitpid(t->child.pid, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		if (kill(t->child.pid, 0) == 0) {
			kill(-t->child.pid, SIGKILL);
			waitpid(t->child.pid, NULL, 0);
		}
	}
}

int tui_run(struct config *cfg, const struct target *tg)
{
	static struct tui T;
	struct tui *t = &T;
	memset(t, 0, sizeof *t);
	t->t0 = util_mono();
	t->cfg = cfg;
	t->target = tg;
	t->zoom = -1;
	t->refresh = cfg->refresh > 0 ? cfg->refresh : 2;
	t->out.max = 5000;
	const char *tr = getenv("MIDSOPS_CONSOLE_TRACE");
	if (tr)
		snprintf(t->trace, sizeof t->trace, "%s", tr);
	panes_init(t);

	t->mon = monitor_new(tg->conninfo, "console", MONITOR_STATEMENT_TIMEOUT_MS);
	if (!t->mon)
		return EXIT_FAIL;
	monitor_set_embedded(t->mon, tg->embedded);
	t->v = monitor_view(t->mon);
	tui_fleet_init(t);

	/* Anything written to stderr would scroll the screen: send it to a log instead. */
	int saved_err = dup(2);
	char logpath[4200];
	snprintf(logpath, sizeof logpath, "%s/console.log", paths_state_dir());
	paths_mkdir_p(paths_state_dir(), 0700);
	int lfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (lfd >= 0) {
		dup2(lfd, 2);
		close(lfd);
	}
	/* Start connecting at once, so the first frame has figures: the server sets up the
	 * session while the host is sampled and the terminal is set up. */
	monitor_service(t->mon, NULL, 0);
	monitor_host(t->mon, cfg);
	setlocale(LC_ALL, "");
	if (!getenv("ESCDELAY"))
		set_escdelay(25);
	if (!initscr())
		return EXIT_FAIL;
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	t->colour = has_colors() && !out_no_color_env() &&
		    !(getenv("MIDSOPS_NO_COLOR") && *getenv("MIDSOPS_NO_COLOR"));
	if (t->colour) {
		start_color();
		use_default_colors();
	}
	char err[512];
	if (tui_theme_load(t, cfg->theme[0] ? cfg->theme : "default", err, sizeof err) < 0) {
		tui_theme_load(t, "default", err, sizeof err);
		tui_message(t, "theme %s: %s; using default", cfg->theme, err);
	}
	tui_bar_init(t);
	/* A closed terminal or a kill must not leave a command running on its own. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_hangup;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t->next_refresh = util_mono() + t->refresh;
	tui_draw_all(t);
	time_t last_second = time(NULL);

	while (!t->quit && !tui_hangup) {
		struct pollfd pfd[4 + CONFIG_MAX_ENVS];
		int n = 0;
		pfd[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
		int mfd = n;
		int nm = monitor_pollfds(t->mon, pfd + n, 2);
		n += nm;
		int ffd = n, nf = fleet_pollfds(t->fleet, pfd + n, CONFIG_MAX_ENVS);
		n += nf;
		int cfd = -1;
		if (t->child.pid && t->child.fd >= 0) {
			cfd = n;
			pfd[n++] = (struct pollfd){.fd = t->child.fd, .events = POLLIN};
		}
		double now = util_mono();
		int timeout = loop_timeout(t, now);
		int rc = poll(pfd, (nfds_t)n, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc < 0)
			for (int i = 0; i < n; i++)
				pfd[i].revents = 0;
		/* Keys: also after EINTR, which is how a resize arrives. */
		int k;
		while ((k = getch()) != ERR)
			handle_key(t, k);
		monitor_service(t->mon, nm ? pfd + mfd : NULL, nm);
		fleet_service(t->fleet, pfd + ffd, nf);
		if (cfd >= 0 && pfd[cfd].revents)
			tui_child_read(t);
		if (t->child.pid)
			tui_child_reap(t);
		if (t->view)
			t->view->ops->tick(t->view, t);
		now = util_mono();
		if (now >= t->next_refresh) {
			if (!t->paused) {
				monitor_refresh(t->mon);
				fleet_refresh(t->fleet);
			}
			t->next_refresh = now + t->refresh;
		}
		if ((monitor_changed(t->mon) | fleet_changed(t->fleet)) && !t->paused)
			t->need_redraw = 1;
		if (time(NULL) != last_second) {
			last_second = time(NULL);
			t->need_redraw = 1;
		}
		if (t->need_redraw && !t->quit)
			tui_draw_all(t);
	}
	stop_child_at_exit(t);
	if (t->view)
		t->view->ops->end(t->view, t);
	tui_bar_end(t);
	endwin();
	if (saved_err >= 0) {
		dup2(saved_err, 2);
		close(saved_err);
	}
	write_trace(t);
	monitor_free(t->mon);
	tui_fleet_free(t);
	return 0;
}

const char *tui_curses_version(void)
{
	return curses_version();
}
