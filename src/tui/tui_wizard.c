/* The console's wizard view. The engine (runbook.h) decides; this file only shows the run
 * and turns keys into the same engine calls line mode makes (src/cmd/cmd_runbook.c).
 * Command steps run as children (wz_child_start) whose output file is polled from the
 * console's loop, so the screen and the monitor keep going while a step runs. Text the
 * operator types (a reason, an approver, a phrase, a parameter) goes through a one-line
 * prompt on the bottom line. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "runbook.h"
#include "target.h"
#include "tui_int.h"
#include "tui_wizard.h"

enum view { V_OFF, V_PICK, V_RUN };
enum prompt { P_NONE, P_PARAM, P_SKIP, P_ABORT_SURE, P_ABORT_WHY, P_APPROVER, P_PHRASE };
enum busy { B_IDLE, B_CHILD, B_WAIT };

struct pick_item {
	int is_run;
	char name[64];
	char text[512];
	char ref[64];
};

static struct wzv {
	enum view view;
	struct wz_store s;
	int store_open;
	struct wz_run *r;
	int locked;
	char ref[64];
	/* picker */
	struct pick_item *items;
	int nitems, sel;
	char error[1024];
	/* prompt on the bottom line */
	enum prompt prompt;
	char in[512], ask[600];
	int param;
	char approver[64];
	/* the step under way */
	int seq, entered_seq;
	enum busy busy;
	struct wz_child ch;
	int ch_live;
	double ch_started;
	char cmdname[64];
	char partial[4096];
	size_t npartial;
	struct tui_lines fig; /* wait: the latest live figure */
	char *fig_text;
	double wait_t0, next_fig;
	long wait_dur;
	int failed; /* the step failed and waits for the operator's decision */
	int help;
	int finished_shown;
	struct tui_lines out;
	int out_back; /* lines scrolled back from the newest */
} V;

static double now_s(void)
{
	return util_mono();
}

static void operator_name(char *buf, size_t n, const char *given)
{
	const char *o = given;
	if (!o || !*o)
		o = getenv("MIDSOPS_OPERATOR");
	if (!o || !*o) {
		struct passwd *pw = getpwuid(getuid());
		o = pw ? pw->pw_name : "unknown";
	}
	snprintf(buf, n, "%s", o);
}

static void run_ref(const struct wz_run *r, char *buf, size_t n)
{
	if (r->id)
		snprintf(buf, n, "%lld", r->id);
	else
		snprintf(buf, n, "%s", r->local_id);
}

static void outl(enum tui_role role, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outl(enum tui_role role, const char *fmt, ...)
{
	char buf[4096];
	buf[0] = (char)('0' + role);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + 1, sizeof buf - 1, fmt, ap);
	va_end(ap);
	tui_lines_add(&V.out, buf);
}

/* Each line of text (several lines, \r dropped) into l with a role byte. */
static void add_text(struct tui_lines *l, enum tui_role role, const char *prefix, const char *text)
{
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		char line[4096];
		int o = snprintf(line, sizeof line, "%c%s", '0' + role, prefix);
		for (int i = 0; i < len && o < (int)sizeof line - 1; i++)
			if (p[i] != '\r')
				line[o++] = p[i];
		line[o] = 0;
		tui_lines_add(l, line);
		p = nl ? nl + 1 : p + len;
	}
}

static void store_note(void)
{
	static char shown[512];
	if (V.s.note[0] && strcmp(V.s.note, shown) != 0) {
		outl(ROLE_WARNING, "%s", V.s.note);
		snprintf(shown, sizeof shown, "%s", V.s.note);
	}
}

/* ------------------------------------------------------------------ leaving */

static void child_drop(void)
{
	if (V.ch_live) {
		wz_child_kill(&V.ch);
		free(wz_child_finish(&V.ch));
		V.ch_live = 0;
	}
	V.npartial = 0;
}

static void run_close(struct tui *t, int pause)
{
	if (V.r) {
		child_drop();
		if (V.locked && pause && !wz_finished(V.r)) {
			char ref[64];
			wz_pause(&V.s, V.r);
			run_ref(V.r, ref, sizeof ref);
			tui_message(t, "run %s paused at step '%s'; ':wizard resume %s' continues",
				    ref, V.r->rb->steps[V.r->cursor].id, ref);
		}
		if (V.locked)
			wz_unlock(&V.s, V.r);
		wz_run_free(V.r);
	}
	V.r = NULL;
	V.locked = 0;
	V.busy = B_IDLE;
	V.prompt = P_NONE;
	V.failed = V.help = V.finished_shown = 0;
	tui_lines_clear(&V.fig);
	free(V.fig_text);
	V.fig_text = NULL;
}

static void view_close(struct tui *t, int pause)
{
	run_close(t, pause);
	if (V.store_open)
		wz_store_close(&V.s);
	V.store_open = 0;
	free(V.items);
	V.items = NULL;
	V.nitems = 0;
	V.view = V_OFF;
	t->need_redraw = 1;
}

void tui_wizard_end(struct tui *t)
{
	if (V.view != V_OFF)
		view_close(t, 1);
	tui_lines_clear(&V.out);
	free(V.out.v);
	V.out.v = NULL;
	V.out.cap = 0;
	free(V.fig.v);
	V.fig.v = NULL;
	V.fig.cap = 0;
}

int tui_wizard_active(void)
{
	return V.view != V_OFF;
}

/* ------------------------------------------------------------------ picker */

static void store_ensure(struct tui *t)
{
	if (!V.store_open) {
		wz_store_open(&V.s, t->cfg, t->target);
		V.store_open = 1;
	}
}

static void picker_load(struct tui *t)
{
	static struct rb_entry e[128];
	static struct wz_summary w[200];
	char err[1024];
	store_ensure(t);
	int n = rb_list(e, 128);
	int m = wz_list(&V.s, w, 200, err, sizeof err);
	if (m < 0) {
		snprintf(V.error, sizeof V.error, "cannot list runs: %s", err);
		m = 0;
	}
	free(V.items);
	V.items = xcalloc((size_t)(n + m + 1), sizeof *V.items);
	V.nitems = 0;
	for (int i = 0; i < n; i++) {
		struct pick_item *it = &V.items[V.nitems++];
		snprintf(it->name, sizeof it->name, "%s", e[i].name);
		struct runbook *rb = rb_load_file(e[i].path, err, sizeof err);
		snprintf(it->text, sizeof it->text, "%-26s %s", e[i].name,
			 rb ? rb->title : "(does not load: see 'wizard validate')");
		rb_free(rb);
	}
	for (int i = 0; i < m; i++) {
		if (!wz_status_live(w[i].status))
			continue;
		struct pick_item *it = &V.items[V.nitems++];
		it->is_run = 1;
		if (w[i].id)
			snprintf(it->ref, sizeof it->ref, "%lld", w[i].id);
		else
			snprintf(it->ref, sizeof it->ref, "%s", w[i].local_id);
		char when[32];
		struct tm tm;
		localtime_r(&w[i].started, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
		snprintf(it->text, sizeof it->text, "run %-6s %-20s %s at '%s' by %s on %s, %s%s%s",
			 it->ref, w[i].runbook, wz_status_name(w[i].status), w[i].step,
			 w[i].operator_, w[i].host, when, w[i].active ? "  [driven now]" : "",
			 w[i].offline ? "  [local only]" : "");
	}
	if (V.sel >= V.nitems)
		V.sel = V.nitems - 1;
	if (V.sel < 0)
		V.sel = 0;
}

static void picker_open(struct tui *t)
{
	run_close(t, 1);
	V.view = V_PICK;
	picker_load(t);
	t->need_redraw = 1;
}

/* ------------------------------------------------------------------ starting */

static void settle(int cursor_before)
{
	struct wz_run *r = V.r;
	V.seq++;
	V.help = 0;
	V.failed = !wz_finished(r) && r->status != WZ_RUN_PAUSED && r->cursor == cursor_before &&
		   r->nattempts > 0 && r->attempts[r->nattempts - 1].step == r->cursor &&
		   r->attempts[r->nattempts - 1].outcome == WZ_FAILED;
	if (V.failed)
		outl(ROLE_CRITICAL,
		     "Step '%s' failed: Enter retries, c continues anyway, s skips, "
		     "a aborts",
		     r->rb->steps[r->cursor].id);
}

static void begin_run(struct tui *t)
{
	char err[2048];
	struct wz_run *r = V.r;
	if (wz_lock(&V.s, r, err, sizeof err) < 0) {
		snprintf(V.error, sizeof V.error, "%s", err);
		wz_run_free(r);
		V.r = NULL;
		picker_open(t);
		return;
	}
	V.locked = 1;
	wz_save(&V.s, r);
	run_ref(r, V.ref, sizeof V.ref);
	tui_lines_clear(&V.out);
	outl(ROLE_HEADER, "# %s: run %s by %s on %s", r->rb->title, V.ref, r->operator_, r->host);
	store_note();
	if (r->rb->maintenance && rb_in_window(t->cfg->maintenance_window, time(NULL)) == 0)
		outl(ROLE_WARNING,
		     "runbook %s belongs in the maintenance window (%s); it is outside it now",
		     r->rb->name, t->cfg->maintenance_window);
	if (r->rb->description)
		add_text(&V.out, ROLE_DIM, "", r->rb->description);
	V.error[0] = 0;
	V.view = V_RUN;
	V.out_back = 0;
	V.seq++;
	t->need_redraw = 1;
}

static void prompt_param(void)
{
	struct wz_run *r = V.r;
	while (V.param < r->rb->nparams && wz_param(r, r->rb->params[V.param].name))
		V.param++;
	if (V.param >= r->rb->nparams) {
		V.prompt = P_NONE;
		return;
	}
	const struct rb_param *p = &r->rb->params[V.param];
	snprintf(V.ask, sizeof V.ask, "%s%s%s%s: ", p->prompt, p->def ? " [" : "",
		 p->def ? p->def : "", p->def ? "]" : "");
	V.in[0] = 0;
	V.prompt = P_PARAM;
}

static void start_named(struct tui *t, const char *name, char **params, int nparams)
{
	char err[2048], op[64];
	const char *given_op = NULL;
	run_close(t, 1);
	V.error[0] = 0;
	struct runbook *rb = rb_load(name, err, sizeof err);
	if (!rb) {
		snprintf(V.error, sizeof V.error, "%s", err);
		picker_open(t);
		return;
	}
	for (int i = 0; i < nparams; i++)
		if (strncmp(params[i], "--operator=", 11) == 0)
			given_op = params[i] + 11;
		else if (strcmp(params[i], "--operator") == 0 && i + 1 < nparams)
			given_op = params[++i];
	operator_name(op, sizeof op, given_op);
	store_ensure(t);
	V.r = wz_run_new(rb, op);
	for (int i = 0; i < nparams; i++) {
		if (strncmp(params[i], "--operator", 10) == 0) {
			i += strcmp(params[i], "--operator") == 0;
			continue;
		}
		char *eq = strchr(params[i], '=');
		int known = 0;
		if (eq) {
			*eq = 0;
			for (int k = 0; k < rb->nparams; k++)
				known |= strcmp(rb->params[k].name, params[i]) == 0;
			if (known)
				wz_param_set(V.r, params[i], eq + 1);
			*eq = '=';
		}
		if (!known) {
			if (eq)
				snprintf(V.error, sizeof V.error,
					 "runbook %s has no parameter '%.*s'", rb->name,
					 (int)(eq - params[i]), params[i]);
			else
				snprintf(V.error, sizeof V.error, "wizard: '%s' is not NAME=VALUE",
					 params[i]);
			wz_run_free(V.r);
			V.r = NULL;
			picker_open(t);
			return;
		}
	}
	V.view = V_RUN;
	V.param = 0;
	tui_lines_clear(&V.out);
	outl(ROLE_HEADER, "# %s", rb->title);
	prompt_param();
	if (V.prompt == P_NONE)
		begin_run(t);
	t->need_redraw = 1;
}

static void resume(struct tui *t, const char *ref)
{
	char err[2048], op[64];
	run_close(t, 1);
	store_ensure(t);
	V.error[0] = 0;
	struct wz_run *r = wz_load(&V.s, ref, err, sizeof err);
	if (!r) {
		snprintf(V.error, sizeof V.error, "%s", err);
		picker_open(t);
		return;
	}
	if (wz_finished(r)) {
		snprintf(V.error, sizeof V.error,
			 "run %s has already ended (%s); ':wizard show %s'", ref,
			 wz_status_name(r->status), ref);
		wz_run_free(r);
		picker_open(t);
		return;
	}
	if (wz_lock(&V.s, r, err, sizeof err) < 0) {
		snprintf(V.error, sizeof V.error, "%s", err);
		wz_run_free(r);
		picker_open(t);
		return;
	}
	V.r = r;
	V.locked = 1;
	operator_name(op, sizeof op, NULL);
	snprintf(r->driver, sizeof r->driver, "%s", op);
	r->status = WZ_RUN_RUNNING;
	wz_save(&V.s, r);
	run_ref(r, V.ref, sizeof V.ref);
	tui_lines_clear(&V.out);
	outl(ROLE_HEADER, "# %s: resuming run %s (started by %s) at step '%s'", r->title, V.ref,
	     r->operator_, r->rb->steps[r->cursor].id);
	store_note();
	V.view = V_RUN;
	V.out_back = 0;
	V.seq++;
	t->need_redraw = 1;
}

int tui_wizard_open(struct tui *t, char **w, int n)
{
	if (n >= 2 && (strcmp(w[1], "list") == 0 || strcmp(w[1], "show") == 0 ||
		       strcmp(w[1], "validate") == 0 || strcmp(w[1], "sync") == 0))
		return -1;
	for (int i = 1; i < n; i++)
		if (strcmp(w[i], "--help") == 0 || strcmp(w[i], "--json") == 0 ||
		    strcmp(w[i], "--non-interactive") == 0)
			return -1;
	if (V.r && V.view == V_RUN) {
		tui_message(t, "a run is open in the wizard view; q leaves it first");
		return 0;
	}
	V.error[0] = 0;
	if (n == 1)
		picker_open(t);
	else if (strcmp(w[1], "resume") == 0) {
		if (n != 3) {
			snprintf(V.error, sizeof V.error, "wizard resume: needs a run id");
			picker_open(t);
		} else
			resume(t, w[2]);
	} else if (strcmp(w[1], "run") == 0 && n >= 3)
		start_named(t, w[2], w + 3, n - 3);
	else
		start_named(t, w[1], w + 2, n - 2);
	return 0;
}

/* ------------------------------------------------------------------ steps */

static void child_line(const char *s)
{
	char line[4200];
	snprintf(line, sizeof line, "%c  %s", '0' + ROLE_NORMAL, s);
	tui_lines_add(V.busy == B_WAIT ? &V.fig : &V.out, line);
}

static void child_read(void)
{
	char *chunk = wz_child_poll(&V.ch);
	for (char *p = chunk; *p; p++) {
		if (*p == '\n' || V.npartial >= sizeof V.partial - 1) {
			V.partial[V.npartial] = 0;
			child_line(V.partial);
			V.npartial = 0;
			if (*p == '\n')
				continue;
		}
		if (*p == '\r')
			V.npartial = 0;
		else
			V.partial[V.npartial++] = *p;
	}
	free(chunk);
}

static int child_start(struct tui *t, const struct rb_step *st)
{
	char *argv[RB_MAX_ARGV + 1], shown[2048] = "", err[1024];
	int ac = wz_step_argv(V.r, t->cfg, st, argv);
	size_t sl = 0;
	for (int i = 0; i < ac; i++) {
		sl += (size_t)snprintf(shown + sl, sizeof shown - sl, " %s", argv[i]);
		if (sl >= sizeof shown)
			sl = sizeof shown - 1;
	}
	if (V.busy != B_WAIT)
		outl(ROLE_HEADER, "$ midsops%s", shown);
	snprintf(V.cmdname, sizeof V.cmdname, "%s", ac ? argv[0] : "");
	V.npartial = 0;
	int rc = wz_child_start(&V.ch, t->cfg, t->target, argv, err, sizeof err);
	wz_argv_free(argv);
	if (rc < 0) {
		outl(ROLE_CRITICAL, "%s", err);
		return -1;
	}
	V.ch_live = 1;
	V.ch_started = now_s();
	return 0;
}

static void run_command(struct tui *t, const struct rb_step *st)
{
	int before = V.r->cursor;
	wz_step_begin(&V.s, V.r);
	V.busy = B_CHILD;
	if (child_start(t, st) < 0) {
		V.busy = B_IDLE;
		wz_step_end(&V.s, V.r, WZ_FAILED, 127, "the command could not start",
			    wz_exit_reason(127), NULL);
		settle(before);
	}
}

static void command_done(void)
{
	int before = V.r->cursor;
	child_read();
	if (V.npartial) {
		V.partial[V.npartial] = 0;
		child_line(V.partial);
		V.npartial = 0;
	}
	char *output = wz_child_finish(&V.ch);
	V.ch_live = 0;
	int rc = V.ch.status;
	enum wz_outcome oc = wz_outcome_for(V.cmdname, rc);
	outl(oc == WZ_DONE	? ROLE_OK
	     : oc == WZ_WARNING ? ROLE_WARNING
				: ROLE_CRITICAL,
	     "-> %s (exit %d)", wz_outcome_name(oc), rc);
	V.busy = B_IDLE;
	wz_step_end(&V.s, V.r, oc, rc, output, wz_exit_reason(rc), NULL);
	free(output);
	settle(before);
}

static void wait_start(const struct rb_step *st)
{
	wz_step_begin(&V.s, V.r);
	long dur = st->duration;
	const char *scale = getenv("MIDSOPS_WAIT_SCALE"); /* tests shorten waits */
	if (scale && atof(scale) > 0)
		dur = (long)(dur * atof(scale) + 0.5);
	V.wait_dur = dur;
	V.wait_t0 = V.next_fig = now_s();
	V.busy = B_WAIT;
	tui_lines_clear(&V.fig);
	outl(ROLE_NORMAL, "waiting %lds; Enter ends the wait early", dur);
}

static void wait_end(int early)
{
	int before = V.r->cursor;
	const struct rb_step *st = &V.r->rb->steps[V.r->cursor];
	child_drop();
	char detail[160];
	long el = (long)(now_s() - V.wait_t0 + 0.5);
	snprintf(detail, sizeof detail, "waited %lds of %lds%s", el, V.wait_dur,
		 early ? " (ended early by the operator)" : "");
	outl(ROLE_OK, "-> %s", detail);
	if (V.fig_text)
		add_text(&V.out, ROLE_DIM, "  ", V.fig_text);
	V.busy = B_IDLE;
	(void)st;
	wz_step_end(&V.s, V.r, WZ_DONE, -1, V.fig_text, NULL, detail);
	free(V.fig_text);
	V.fig_text = NULL;
	settle(before);
}

static void wait_tick(struct tui *t)
{
	const struct rb_step *st = &V.r->rb->steps[V.r->cursor];
	double now = now_s();
	if (V.ch_live) {
		child_read();
		if (!V.ch.done)
			return;
		if (V.npartial) {
			V.partial[V.npartial] = 0;
			child_line(V.partial);
			V.npartial = 0;
		}
		free(V.fig_text);
		V.fig_text = wz_child_finish(&V.ch);
		V.ch_live = 0;
		/* The figure just finished replaces the previous one. */
		tui_lines_clear(&V.fig);
		add_text(&V.fig, ROLE_NORMAL, "  ", V.fig_text);
		t->need_redraw = 1;
	}
	if (now - V.wait_t0 >= V.wait_dur) {
		wait_end(0);
		t->need_redraw = 1;
		return;
	}
	if (st->argc && now >= V.next_fig) {
		V.next_fig = now + (st->interval > 0 ? st->interval : 15);
		child_start(t, st);
	}
}

static void do_notify(struct tui *t, const struct rb_step *st)
{
	int before = V.r->cursor;
	char *subj = wz_expand(V.r, t->cfg, st->subject);
	char *body = wz_expand(V.r, t->cfg, st->body);
	char where[4400], err[1024];
	wz_step_begin(&V.s, V.r);
	outl(ROLE_NORMAL, "Subject: %s", subj);
	if (wz_notify(t->cfg, subj, body, where, sizeof where, err, sizeof err) == 0) {
		outl(ROLE_OK, "-> sent to %s", where);
		wz_step_end(&V.s, V.r, WZ_DONE, -1, NULL, NULL, where);
	} else {
		outl(ROLE_CRITICAL, "notification failed: %s", err);
		wz_step_end(&V.s, V.r, WZ_FAILED, -1, NULL, err, NULL);
	}
	free(subj);
	free(body);
	settle(before);
}

static void do_report(struct tui *t, const struct rb_step *st)
{
	int before = V.r->cursor;
	char path[4400], err[1024];
	wz_step_begin(&V.s, V.r);
	if (wz_report_write(t->cfg, V.r, st, path, sizeof path, err, sizeof err) == 0) {
		outl(ROLE_OK, "-> written to %s", path);
		wz_step_end(&V.s, V.r, WZ_DONE, -1, NULL, NULL, path);
	} else {
		outl(ROLE_CRITICAL, "report not written: %s", err);
		wz_step_end(&V.s, V.r, WZ_FAILED, -1, NULL, err, NULL);
	}
	settle(before);
}

static void branch(int yes, const char *why)
{
	int before = V.r->cursor;
	outl(ROLE_OK, "-> %s (%s)", yes ? "yes" : "no", why);
	wz_branch(&V.s, V.r, yes, why);
	settle(before);
}

/* A new step on screen: record it as under way, and take the steps that need nobody. */
static void enter_step(struct tui *t)
{
	struct wz_run *r = V.r;
	V.entered_seq = V.seq;
	wz_store_online(&V.s);
	store_note();
	if (wz_finished(r)) {
		if (!V.finished_shown) {
			V.finished_shown = 1;
			wz_reports_refresh(t->cfg, r);
			outl(r->status == WZ_RUN_DONE ? ROLE_OK : ROLE_CRITICAL,
			     "run %s %s%s%s%s; worst check status %d; recorded in %s", V.ref,
			     wz_status_name(r->status), r->reason[0] ? " (" : "", r->reason,
			     r->reason[0] ? ")" : "", r->worst,
			     r->synced ? "the database and local state" : "local state only");
			outl(ROLE_DIM, "transcript: midsops wizard show %s", V.ref);
		}
		return;
	}
	if (V.failed)
		return;
	const struct rb_step *st = &r->rb->steps[r->cursor];
	char *title = wz_expand(r, t->cfg, st->title);
	outl(ROLE_HEADER, "[%d/%d] %s (%s)", r->cursor + 1, r->rb->nsteps, title,
	     rb_kind_name(st->kind));
	free(title);
	/* Under way from the moment it is shown: a console killed here leaves it recorded as
	 * interrupted, and a resume offers it again. */
	wz_step_begin(&V.s, r);
	switch (st->kind) {
	case RB_CHECK:
		run_command(t, st);
		break;
	case RB_WAIT:
		wait_start(st);
		break;
	case RB_REPORT:
		do_report(t, st);
		break;
	case RB_BRANCH: {
		int yes = wz_branch_auto(r, st);
		if (yes >= 0) {
			char why[128];
			snprintf(why, sizeof why, "worst status so far %d", r->worst);
			branch(yes, why);
		}
		break;
	}
	default:
		break;
	}
}

void tui_wizard_tick(struct tui *t)
{
	if (V.view != V_RUN || !V.r || V.prompt == P_PARAM || !V.locked)
		return;
	if (V.busy == B_CHILD && V.ch_live) {
		size_t before = (size_t)V.out.n;
		child_read();
		if (V.ch.done)
			command_done();
		if ((size_t)V.out.n != before || !V.ch_live)
			t->need_redraw = 1;
	} else if (V.busy == B_WAIT)
		wait_tick(t);
	/* Automatic steps follow one another without a key, a few per turn so keys and the
	 * screen are served in between. */
	for (int i = 0; i < 4 && V.busy == B_IDLE && V.prompt == P_NONE && V.entered_seq != V.seq;
	     i++) {
		enter_step(t);
		t->need_redraw = 1;
	}
}

int tui_wizard_timeout(void)
{
	if (V.view != V_RUN || !V.r)
		return -1;
	if (V.busy != B_IDLE || (V.entered_seq != V.seq && V.prompt == P_NONE))
		return V.busy == B_IDLE ? 0 : 100;
	return -1;
}

/* Enter: run, confirm, send, approve, retry. */
static void go(struct tui *t)
{
	struct wz_run *r = V.r;
	int before = r->cursor;
	const struct rb_step *st = &r->rb->steps[r->cursor];
	if (V.busy == B_WAIT) {
		wait_end(1);
		return;
	}
	if (V.failed) {
		V.failed = 0;
		outl(ROLE_NORMAL, "retrying '%s'", st->id);
	}
	switch (st->kind) {
	case RB_INFO:
		wz_step_end(&V.s, r, WZ_DONE, -1, NULL, NULL, "read");
		outl(ROLE_OK, "-> read");
		settle(before);
		break;
	case RB_CONFIRM:
		wz_step_end(&V.s, r, WZ_DONE, -1, NULL, NULL, "confirmed");
		outl(ROLE_OK, "-> confirmed by %s", r->driver);
		settle(before);
		break;
	case RB_COMMAND:
	case RB_CHECK:
		run_command(t, st);
		break;
	case RB_NOTIFY:
		do_notify(t, st);
		break;
	case RB_REPORT:
		do_report(t, st);
		break;
	case RB_WAIT:
		wait_start(st);
		break;
	case RB_APPROVAL:
		V.prompt = P_APPROVER;
		V.in[0] = 0;
		snprintf(V.ask, sizeof V.ask, "Approver's name (Esc cancels): ");
		break;
	case RB_BRANCH:
		outl(ROLE_NORMAL, "answer y (yes) or n (no)");
		break;
	default:
		break;
	}
}

static void prompt_submit(struct tui *t)
{
	struct wz_run *r = V.r;
	int before = r ? r->cursor : 0;
	enum prompt p = V.prompt;
	V.prompt = P_NONE;
	switch (p) {
	case P_PARAM: {
		const struct rb_param *pp = &r->rb->params[V.param];
		wz_param_set(r, pp->name, V.in[0] ? V.in : (pp->def ? pp->def : ""));
		outl(ROLE_NORMAL, "%s = %s", pp->name, wz_param(r, pp->name));
		V.param++;
		prompt_param();
		if (V.prompt == P_NONE)
			begin_run(t);
		break;
	}
	case P_SKIP:
		if (V.busy == B_WAIT)
			child_drop();
		V.busy = B_IDLE;
		outl(ROLE_WARNING, "-> skipped: %s", V.in[0] ? V.in : "(no reason given)");
		wz_skip(&V.s, r, V.in);
		V.failed = 0;
		settle(-1);
		break;
	case P_ABORT_SURE:
		if (strcmp(V.in, "yes") != 0) {
			outl(ROLE_NORMAL, "not aborted");
			break;
		}
		V.prompt = P_ABORT_WHY;
		V.in[0] = 0;
		snprintf(V.ask, sizeof V.ask, "Reason for aborting: ");
		break;
	case P_ABORT_WHY:
		child_drop();
		V.busy = B_IDLE;
		wz_abort(&V.s, r, V.in);
		outl(ROLE_CRITICAL, "-> run aborted: %s", r->reason);
		V.failed = 0;
		settle(-1);
		break;
	case P_APPROVER:
		if (!V.in[0]) {
			outl(ROLE_NORMAL, "no approver given: the step waits (Enter asks again)");
			break;
		}
		snprintf(V.approver, sizeof V.approver, "%s", V.in);
		V.prompt = P_PHRASE;
		V.in[0] = 0;
		snprintf(V.ask, sizeof V.ask, "Type '%s' to approve (anything else rejects): ",
			 r->rb->steps[r->cursor].phrase);
		break;
	case P_PHRASE: {
		char detail[256];
		wz_step_begin(&V.s, r);
		if (strcmp(V.in, r->rb->steps[r->cursor].phrase) == 0) {
			snprintf(detail, sizeof detail, "approved by %s", V.approver);
			outl(ROLE_OK, "-> %s", detail);
			wz_step_end(&V.s, r, WZ_DONE, -1, NULL, NULL, detail);
		} else {
			snprintf(detail, sizeof detail, "rejected by %s", V.approver);
			outl(ROLE_CRITICAL, "-> %s", detail);
			wz_step_end(&V.s, r, WZ_FAILED, -1, NULL, "not approved", detail);
		}
		settle(before);
		break;
	}
	default:
		break;
	}
	V.in[0] = 0;
}

static void prompt_key(struct tui *t, int k)
{
	size_t n = strlen(V.in);
	if (k == 27 || k == 3) {
		if (V.prompt == P_PARAM) {
			wz_run_free(V.r);
			V.r = NULL;
			V.prompt = P_NONE;
			picker_open(t);
			snprintf(V.error, sizeof V.error, "not started: a parameter was not given");
			return;
		}
		V.prompt = P_NONE;
		outl(ROLE_DIM, "(cancelled)");
	} else if (k == '\n' || k == '\r' || k == KEY_ENTER) {
		prompt_submit(t);
	} else if (k == KEY_BACKSPACE || k == 127 || k == 8) {
		while (n > 0 && ((unsigned char)V.in[n - 1] & 0xC0) == 0x80)
			n--;
		if (n > 0)
			n--;
		V.in[n] = 0;
	} else if (k == 21) { /* Ctrl-U */
		V.in[0] = 0;
	} else if (k >= 32 && k < 256 && k != 127 && n + 1 < sizeof V.in) {
		V.in[n] = (char)k;
		V.in[n + 1] = 0;
	}
}

static void picker_key(struct tui *t, int k)
{
	switch (k) {
	case KEY_UP:
		if (V.sel > 0)
			V.sel--;
		break;
	case KEY_DOWN:
		if (V.sel + 1 < V.nitems)
			V.sel++;
		break;
	case KEY_HOME:
		V.sel = 0;
		break;
	case KEY_END:
		V.sel = V.nitems - 1;
		break;
	case 'r':
		picker_load(t);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (V.sel >= 0 && V.sel < V.nitems) {
			struct pick_item it = V.items[V.sel];
			if (it.is_run)
				resume(t, it.ref);
			else
				start_named(t, it.name, NULL, 0);
		}
		break;
	case 'q':
	case 27:
		view_close(t, 1);
		break;
	}
}

void tui_wizard_key(struct tui *t, int k)
{
	t->need_redraw = 1;
	if (V.view == V_PICK) {
		picker_key(t, k);
		return;
	}
	if (V.prompt != P_NONE) {
		prompt_key(t, k);
		return;
	}
	struct wz_run *r = V.r;
	if (!r) {
		view_close(t, 0);
		return;
	}
	switch (k) {
	case KEY_PPAGE:
		V.out_back += 10;
		return;
	case KEY_NPAGE:
		V.out_back = V.out_back > 10 ? V.out_back - 10 : 0;
		return;
	case KEY_UP:
		V.out_back++;
		return;
	case KEY_DOWN:
		if (V.out_back > 0)
			V.out_back--;
		return;
	case KEY_END:
		V.out_back = 0;
		return;
	case '?':
	case KEY_F(1):
		V.help = !V.help;
		return;
	case 12:
		clearok(curscr, TRUE);
		return;
	}
	if (wz_finished(r)) {
		if (k == 'q' || k == 27 || k == '\n' || k == '\r' || k == KEY_ENTER)
			view_close(t, 0);
		return;
	}
	/* A step's command is never left half done by a stray key: Ctrl-C stops it first. */
	if (V.busy == B_CHILD) {
		if (k == 3) {
			outl(ROLE_WARNING, "stopping '%s'", V.cmdname);
			wz_child_kill(&V.ch);
		} else
			outl(ROLE_DIM, "'%s' is still running; Ctrl-C stops it", V.cmdname);
		return;
	}
	if (k == 'q' || k == 27) {
		view_close(t, 1);
		return;
	}
	const struct rb_step *st = &r->rb->steps[r->cursor];
	V.out_back = 0;
	switch (k) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		go(t);
		break;
	case 'r':
		if (V.failed)
			go(t);
		break;
	case 'c':
		if (V.failed) {
			V.failed = 0;
			outl(ROLE_WARNING, "-> continued after the failure");
			wz_skip(&V.s, r, "operator continued after the failure");
			settle(-1);
		}
		break;
	case 'y':
	case 'n':
		if (st->kind == RB_BRANCH && !V.failed)
			branch(k == 'y', "operator's answer");
		break;
	case 's':
		V.prompt = P_SKIP;
		V.in[0] = 0;
		snprintf(V.ask, sizeof V.ask, "Reason for skipping '%s': ", st->id);
		break;
	case 'b':
		if (V.busy == B_WAIT)
			child_drop();
		V.busy = B_IDLE;
		if (wz_back(&V.s, r) < 0)
			outl(ROLE_DIM, "(already at the first step)");
		else
			outl(ROLE_NORMAL, "-> back to '%s'", r->rb->steps[r->cursor].id);
		V.failed = 0;
		settle(-1);
		break;
	case 'a':
		V.prompt = P_ABORT_SURE;
		V.in[0] = 0;
		snprintf(V.ask, sizeof V.ask, "Abort the whole run? Type 'yes' to abort: ");
		break;
	}
}

/* ------------------------------------------------------------------ drawing */

/* Wrap text into l at width w (at a blank where there is one). */
static void wrap(struct tui_lines *l, enum tui_role role, const char *text, int w)
{
	struct tui_lines raw = {0};
	add_text(&raw, role, "", text);
	for (int i = 0; i < raw.n; i++) {
		const char *s = raw.v[i] + 1;
		do {
			size_t fit = tui_text_fit(s, w);
			if (s[fit]) {
				size_t b = fit;
				while (b > 0 && s[b] != ' ')
					b--;
				if (b > 0)
					fit = b;
			}
			char buf[4200];
			snprintf(buf, sizeof buf, "%c%.*s", '0' + role, (int)fit, s);
			tui_lines_add(l, buf);
			s += fit;
			while (*s == ' ')
				s++;
			if (!fit)
				break;
		} while (*s);
	}
	tui_lines_clear(&raw);
	free(raw.v);
}

static void draw_lines(struct tui *t, struct tui_rect r, struct tui_lines *l, int top)
{
	for (int i = 0; i < r.h; i++) {
		int k = top + i;
		if (k >= 0 && k < l->n) {
			int role = l->v[k][0] - '0';
			if (role < 0 || role >= ROLE_N)
				role = ROLE_NORMAL;
			tui_line(t, r, i, (enum tui_role)role, "%s", l->v[k] + 1);
		} else
			tui_line(t, r, i, ROLE_NORMAL, "%s", "");
	}
}

static void draw_picker(struct tui *t, struct tui_rect a)
{
	tui_box(t, a, "Wizard: start a runbook or continue a run", 1);
	struct tui_rect in = {a.y + 1, a.x + 1, a.h - 2, a.w - 2};
	struct tui_lines l = {0};
	int selline = 0;
	if (V.error[0]) {
		wrap(&l, ROLE_CRITICAL, V.error, in.w);
		tui_tl(&l, ROLE_NORMAL, "%s", "");
	}
	tui_tl(&l, ROLE_HEADER, "%s", "Runbooks");
	int runs = 0;
	for (int i = 0; i < V.nitems; i++) {
		if (V.items[i].is_run && !runs++) {
			tui_tl(&l, ROLE_NORMAL, "%s", "");
			tui_tl(&l, ROLE_HEADER, "%s", "Runs in progress");
		}
		if (i == V.sel)
			selline = l.n;
		tui_tl(&l, i == V.sel ? ROLE_SELECTED : ROLE_NORMAL, "%s %s",
		       i == V.sel ? ">" : " ", V.items[i].text);
	}
	if (!runs) {
		tui_tl(&l, ROLE_NORMAL, "%s", "");
		tui_tl(&l, ROLE_HEADER, "%s", "Runs in progress");
		tui_tl(&l, ROLE_DIM, "%s", "  (none)");
	}
	int top = selline - in.h + 2;
	if (top < 0)
		top = 0;
	draw_lines(t, in, &l, top);
	tui_lines_clear(&l);
	free(l.v);
}

static const char *marker(enum wz_outcome o, int current, enum tui_role *role, const char **word)
{
	*role = ROLE_NORMAL;
	if (current) {
		*role = ROLE_SELECTED;
		*word = V.busy == B_CHILD  ? "running"
			: V.busy == B_WAIT ? "waiting"
			: V.failed	   ? "FAILED"
					   : "current";
		return ">>";
	}
	switch (o) {
	case WZ_DONE:
		*role = ROLE_OK;
		*word = "done";
		return "[x]";
	case WZ_WARNING:
		*role = ROLE_WARNING;
		*word = "warning";
		return "[!]";
	case WZ_FAILED:
		*role = ROLE_CRITICAL;
		*word = "FAILED";
		return "[F]";
	case WZ_SKIPPED:
		*role = ROLE_DIM;
		*word = "skipped";
		return "[s]";
	case WZ_INTERRUPTED:
		*role = ROLE_WARNING;
		*word = "stopped";
		return "[~]";
	default:
		*role = ROLE_DIM;
		*word = "";
		return "[ ]";
	}
}

static void draw_steps(struct tui *t, struct tui_rect a)
{
	struct wz_run *r = V.r;
	char title[300];
	snprintf(title, sizeof title, "Steps: %s", r->rb->name);
	tui_box(t, a, title, 0);
	struct tui_rect in = {a.y + 1, a.x + 1, a.h - 2, a.w - 2};
	struct tui_lines l = {0};
	int curline = 0, sec = -1;
	int fin = wz_finished(r);
	for (int i = 0; i < r->rb->nsteps; i++) {
		const struct rb_step *st = &r->rb->steps[i];
		if (st->section != sec) {
			sec = st->section;
			tui_tl(&l, ROLE_HEADER, "%s", r->rb->sections[sec].title);
		}
		enum tui_role role;
		const char *word;
		int cur = !fin && i == r->cursor;
		const char *m = marker(wz_step_state(r, i), cur, &role, &word);
		if (cur)
			curline = l.n;
		char *tt = wz_expand(r, t->cfg, st->title);
		int ww = (int)strlen(word);
		int tw = in.w - 4 - ww - 1;
		if (tw < 4)
			tw = 4;
		char cut[1024];
		size_t fit = tui_text_fit(tt, tw);
		snprintf(cut, sizeof cut, "%.*s", (int)fit, tt);
		int pad = tw - tui_text_width(cut);
		tui_tl(&l, role, "%-3s %s%*s %s", m, cut, pad > 0 ? pad : 0, "", word);
		free(tt);
	}
	int top = curline - in.h / 2;
	if (top > l.n - in.h)
		top = l.n - in.h;
	if (top < 0)
		top = 0;
	draw_lines(t, in, &l, top);
	tui_lines_clear(&l);
	free(l.v);
}

static const char *enter_does(const struct rb_step *st)
{
	switch (st->kind) {
	case RB_INFO:
		return "continue";
	case RB_CONFIRM:
		return "confirm it is done";
	case RB_COMMAND:
		return "run it";
	case RB_CHECK:
		return "run the check again";
	case RB_NOTIFY:
		return "send it";
	case RB_APPROVAL:
		return "approve (name, then the phrase)";
	case RB_REPORT:
		return "write the report";
	case RB_WAIT:
		return "end the wait early";
	default:
		return "go on";
	}
}

static const char *const view_help[] = {
    "Wizard view: keys",
    "",
    "  Enter        run the step or confirm it (a failed step: retry)",
    "  s            skip the step (asks for a reason)",
    "  b            back to the previous step",
    "  a            abort the run (asks, then asks for a reason)",
    "  y, n         answer a branch step",
    "  c            continue anyway after a failed step",
    "  Ctrl-C       stop the step's running command",
    "  Up/Down, PgUp/PgDn, End   scroll the output",
    "  ?            this help, again to return",
    "  q or Esc     leave the view; the run is paused (:wizard resume RUN)",
    "",
    "Steps: [x] done  [!] warning  [F] failed  [s] skipped  >> current  [ ] pending",
    NULL,
};

static void draw_step_box(struct tui *t, struct tui_rect a)
{
	struct wz_run *r = V.r;
	struct tui_rect in = {a.y + 1, a.x + 1, a.h - 2, a.w - 2};
	struct tui_lines l = {0};
	char title[512];
	if (V.help) {
		tui_box(t, a, "Help", 1);
		for (int i = 0; view_help[i]; i++)
			wrap(&l, ROLE_NORMAL, view_help[i], in.w);
	} else if (!r->rb || V.prompt == P_PARAM) {
		tui_box(t, a, r->rb ? r->rb->title : "Wizard", 1);
		tui_tl(&l, ROLE_NORMAL, "%s", "Parameters of this run:");
		for (int i = 0; i < r->rb->nparams; i++) {
			const char *v = wz_param(r, r->rb->params[i].name);
			tui_tl(&l, ROLE_NORMAL, "  %s: %s", r->rb->params[i].name, v ? v : "?");
		}
	} else if (wz_finished(r)) {
		snprintf(title, sizeof title, "Run %s: %s", V.ref, wz_status_name(r->status));
		tui_box(t, a, title, 1);
		tui_tl(&l, r->status == WZ_RUN_DONE ? ROLE_OK : ROLE_CRITICAL, "Run %s %s%s%s%s",
		       V.ref, wz_status_name(r->status), r->reason[0] ? " (" : "", r->reason,
		       r->reason[0] ? ")" : "");
		tui_tl(&l, ROLE_NORMAL, "worst check status %d", r->worst);
		tui_tl(&l, ROLE_NORMAL, "recorded in %s",
		       r->synced ? "the database and local state" : "local state only");
		tui_tl(&l, ROLE_DIM, "transcript: midsops wizard show %s", V.ref);
	} else {
		const struct rb_step *st = &r->rb->steps[r->cursor];
		char *tt = wz_expand(r, t->cfg, st->title);
		snprintf(title, sizeof title, "Step %d/%d: %s", r->cursor + 1, r->rb->nsteps, tt);
		free(tt);
		tui_box(t, a, title, 1);
		char about[600];
		snprintf(about, sizeof about, "run %s of %s, %s step, section %s", V.ref,
			 r->runbook, rb_kind_name(st->kind), r->rb->sections[st->section].title);
		wrap(&l, ROLE_DIM, about, in.w);
		if (st->argc) {
			char *argv[RB_MAX_ARGV + 1], shown[2048] = "midsops";
			int ac = wz_step_argv(r, t->cfg, st, argv);
			size_t sl = strlen(shown);
			for (int i = 0; i < ac && sl < sizeof shown; i++)
				sl +=
				    (size_t)snprintf(shown + sl, sizeof shown - sl, " %s", argv[i]);
			wz_argv_free(argv);
			tui_tl(&l, ROLE_NORMAL, "command: %s", shown);
		}
		if (st->help) {
			char *h = wz_expand(r, t->cfg, st->help);
			wrap(&l, ROLE_NORMAL, h, in.w);
			free(h);
		}
		if (st->kind == RB_NOTIFY) {
			char *s = wz_expand(r, t->cfg, st->subject);
			tui_tl(&l, ROLE_NORMAL, "subject: %s", s);
			free(s);
		}
		if (st->kind == RB_APPROVAL)
			tui_tl(&l, ROLE_NORMAL, "The approver gives their name and types '%s'.",
			       st->phrase);
		if (st->kind == RB_BRANCH) {
			int a2 = wz_branch_auto(r, st);
			int ti =
			    st->then_step ? rb_step_index(r->rb, st->then_step) : r->cursor + 1;
			int ei =
			    st->else_step ? rb_step_index(r->rb, st->else_step) : r->cursor + 1;
			char *q = wz_expand(r, t->cfg, st->title);
			tui_tl(&l, ROLE_NORMAL, "Choice: %s", q);
			free(q);
			tui_tl(&l, ROLE_NORMAL, "  y (yes) -> %s",
			       ti >= 0 && ti < r->rb->nsteps ? r->rb->steps[ti].title : "the end");
			tui_tl(&l, ROLE_NORMAL, "  n (no)  -> %s",
			       ei >= 0 && ei < r->rb->nsteps ? r->rb->steps[ei].title : "the end");
			if (a2 >= 0)
				tui_tl(&l, ROLE_DIM, "  decided by the run so far: %s",
				       a2 ? "yes" : "no");
		}
		if (V.busy == B_WAIT) {
			long el = (long)(now_s() - V.wait_t0);
			tui_tl(&l, ROLE_WARNING, "waiting %lds of %lds; Enter ends the wait early",
			       el, V.wait_dur);
			if (st->argc)
				tui_tl(&l, ROLE_DIM, "live figure (every %lds):",
				       st->interval > 0 ? st->interval : 15);
			for (int i = 0; i < V.fig.n; i++)
				tui_lines_add(&l, V.fig.v[i]);
		} else if (V.busy == B_CHILD)
			tui_tl(&l, ROLE_WARNING, "running '%s' (%.0fs); Ctrl-C stops it", V.cmdname,
			       now_s() - V.ch_started);
		else if (V.failed)
			wrap(&l, ROLE_CRITICAL,
			     "This step failed: Enter retries, c continues anyway, s skips, a "
			     "aborts.",
			     in.w);
		else
			tui_tl(&l, ROLE_DIM, "Enter: %s", enter_does(st));
	}
	draw_lines(t, in, &l, 0);
	tui_lines_clear(&l);
	free(l.v);
}

static void draw_output(struct tui *t, struct tui_rect a)
{
	tui_box(t, a, V.out_back ? "Output (scrolled; End follows)" : "Output", 0);
	struct tui_rect in = {a.y + 1, a.x + 1, a.h - 2, a.w - 2};
	/* Wrap only the newest lines, as many as the area and the scroll-back need. */
	int need = in.h + V.out_back;
	struct tui_lines tail = {0}, one = {0};
	int first = V.out.n, rows = 0;
	while (first > 0 && rows < need) {
		first--;
		tui_lines_clear(&one);
		wrap(&one, (enum tui_role)(V.out.v[first][0] - '0'), V.out.v[first] + 1, in.w);
		rows += one.n;
	}
	for (int i = first; i < V.out.n; i++)
		wrap(&tail, (enum tui_role)(V.out.v[i][0] - '0'), V.out.v[i] + 1, in.w);
	if (V.out_back > tail.n - in.h)
		V.out_back = tail.n - in.h > 0 ? tail.n - in.h : 0;
	int top = tail.n - in.h - V.out_back;
	draw_lines(t, in, &tail, top > 0 ? top : 0);
	tui_lines_clear(&tail);
	tui_lines_clear(&one);
	free(tail.v);
	free(one.v);
}

void tui_wizard_draw(struct tui *t)
{
	struct tui_rect a = {1, 0, LINES - 2, COLS};
	if (V.view == V_PICK || !V.r) {
		draw_picker(t, a);
		return;
	}
	int lw = COLS * 2 / 5;
	if (lw < 30)
		lw = 30;
	if (lw > 60)
		lw = 60;
	draw_steps(t, (struct tui_rect){a.y, 0, a.h, lw});
	int top = a.h * 9 / 20;
	if (top < 8)
		top = 8;
	draw_step_box(t, (struct tui_rect){a.y, lw, top, COLS - lw});
	draw_output(t, (struct tui_rect){a.y + top, lw, a.h - top, COLS - lw});
}

int tui_wizard_bottom(struct tui *t, int y)
{
	if (V.view == V_OFF)
		return 0;
	if (V.prompt != P_NONE) {
		tui_putf(t, y, 0, COLS, ROLE_WARNING, "%s%s_", V.ask, V.in);
		return 1;
	}
	const char *hint;
	if (V.view == V_PICK || !V.r)
		hint = "Up/Down choose  Enter start or continue  r reload  q or Esc closes";
	else if (wz_finished(V.r))
		hint = "The run has ended: Enter or q closes the view";
	else if (V.busy == B_CHILD)
		hint = "A command is running: Ctrl-C stops it  Up/Down scroll  ? help";
	else if (V.busy == B_WAIT)
		hint =
		    "Enter: end the wait early  s skip  b back  a abort  ? help  q leave (pauses)";
	else if (V.failed)
		hint = "Step failed. Enter: retry  c continue anyway  s skip  b back  a abort  q "
		       "leave";
	else if (V.r->rb->steps[V.r->cursor].kind == RB_BRANCH)
		hint = "y yes  n no  s skip  b back  a abort  ? help  q leave (pauses)";
	else
		hint = "Enter: run/confirm  s skip  b back  a abort  ? help  q leave (pauses)";
	tui_put(t, y, 0, COLS, ROLE_DIM, hint);
	return 1;
}
