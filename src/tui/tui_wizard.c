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
/* P_LEAVE and P_WINDOW take one key (y leaves, starts; anything else does not). */
enum prompt {
	P_NONE,
	P_PARAM,
	P_SKIP,
	P_ABORT_SURE,
	P_ABORT_WHY,
	P_APPROVER,
	P_PHRASE,
	P_LEAVE,
	P_WINDOW,
	P_EDIT_WHICH,
	P_EDIT_VAL
};
enum busy { B_IDLE, B_CHILD, B_WAIT };

struct pick_item {
	int is_run;
	char name[64];
	char text[512];
	char ref[64];
};

/* The view's state, one per console: t->view->data, made by the first :wizard and freed by
 * the end op. */
struct wzv {
	enum view view;
	struct wz_store s;
	int store_open;
	char note_shown[512]; /* the store's remark last put in the output */
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
	/* a choice step's rows, loaded when the step comes on screen; Up/Down move sel */
	struct wz_choice choice;
	int choice_live, choice_sel;
	int help;
	int finished_shown;
	int revisit;   /* cursor + 1 of the step reached by going back: it waits (0: none) */
	int ch_until;  /* the live child is the wait's until command */
	char edit[64]; /* the parameter being edited after a failure */
	/* a maintenance runbook asked about (outside its window): what to start on y */
	char pend_name[64];
	char *pend[16];
	int npend, window_yes;
	struct tui_lines out;
	int out_back; /* lines scrolled back from the newest */
};

static void run_ref(const struct wz_run *r, char *buf, size_t n)
{
	if (r->id)
		snprintf(buf, n, "%lld", r->id);
	else
		snprintf(buf, n, "%s", r->local_id);
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

static void store_note(struct wzv *v)
{
	if (v->s.note[0] && strcmp(v->s.note, v->note_shown) != 0) {
		tui_tl(&v->out, ROLE_WARNING, "%s", v->s.note);
		snprintf(v->note_shown, sizeof v->note_shown, "%s", v->s.note);
	}
}

/* ------------------------------------------------------------------ leaving */

static void child_drop(struct wzv *v)
{
	if (v->ch_live) {
		wz_child_kill(&v->ch);
		free(wz_child_finish(&v->ch));
		v->ch_live = 0;
	}
	v->npartial = 0;
}

static void choice_drop(struct wzv *v)
{
	if (v->choice_live)
		wz_choice_free(&v->choice);
	v->choice_live = 0;
}

static void run_close(struct wzv *v, struct tui *t, int pause)
{
	if (v->r) {
		child_drop(v);
		if (v->locked && pause && !wz_finished(v->r)) {
			char ref[64];
			wz_pause(&v->s, v->r);
			run_ref(v->r, ref, sizeof ref);
			tui_message(t, "run %s paused at step '%s'; ':wizard resume %s' continues",
				    ref, v->r->rb->steps[v->r->cursor].id, ref);
		}
		if (v->locked)
			wz_unlock(&v->s, v->r);
		wz_run_free(v->r);
	}
	v->r = NULL;
	v->locked = 0;
	v->busy = B_IDLE;
	v->prompt = P_NONE;
	v->failed = v->help = v->finished_shown = v->revisit = v->ch_until = 0;
	choice_drop(v);
	tui_lines_clear(&v->fig);
	free(v->fig_text);
	v->fig_text = NULL;
}

static void pend_free(struct wzv *v)
{
	for (int i = 0; i < v->npend; i++)
		free(v->pend[i]);
	v->npend = 0;
}

static void view_close(struct wzv *v, struct tui *t, int pause)
{
	pend_free(v);
	run_close(v, t, pause);
	if (v->store_open)
		wz_store_close(&v->s);
	v->store_open = 0;
	free(v->items);
	v->items = NULL;
	v->nitems = 0;
	v->view = V_OFF;
	t->need_redraw = 1;
}

static void wiz_end(struct wzv *v, struct tui *t)
{
	if (v->view != V_OFF)
		view_close(v, t, 1);
	tui_lines_free(&v->out);
	tui_lines_free(&v->fig);
}

static int wiz_active(struct wzv *v)
{
	return v->view != V_OFF;
}

/* ------------------------------------------------------------------ picker */

static void store_ensure(struct wzv *v, struct tui *t)
{
	if (!v->store_open) {
		wz_store_open(&v->s, t->cfg, t->target);
		v->store_open = 1;
	}
}

static void picker_load(struct wzv *v, struct tui *t)
{
	static struct rb_entry e[128];
	static struct wz_summary w[200];
	char err[1024];
	store_ensure(v, t);
	int n = rb_list(e, 128);
	int m = wz_list(&v->s, w, 200, err, sizeof err);
	if (m < 0) {
		snprintf(v->error, sizeof v->error, "cannot list runs: %.1000s", err);
		m = 0;
	}
	free(v->items);
	v->items = xcalloc((size_t)(n + m + 1), sizeof *v->items);
	v->nitems = 0;
	for (int i = 0; i < n; i++) {
		struct pick_item *it = &v->items[v->nitems++];
		/* The same size as e[i].name, so the whole name: the precision tells gcc. */
		snprintf(it->name, sizeof it->name, "%.*s", (int)sizeof it->name - 1, e[i].name);
		struct runbook *rb = rb_load_file(e[i].path, err, sizeof err);
		snprintf(it->text, sizeof it->text, "%-26.63s %s", e[i].name,
			 rb ? rb->title : "(does not load: see 'wizard validate')");
		rb_free(rb);
	}
	for (int i = 0; i < m; i++) {
		if (!wz_status_live(w[i].status))
			continue;
		struct pick_item *it = &v->items[v->nitems++];
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
	if (v->sel >= v->nitems)
		v->sel = v->nitems - 1;
	if (v->sel < 0)
		v->sel = 0;
}

static void picker_open(struct wzv *v, struct tui *t)
{
	run_close(v, t, 1);
	v->view = V_PICK;
	picker_load(v, t);
	t->need_redraw = 1;
}

/* ------------------------------------------------------------------ starting */

static int step_has_params(struct wzv *v, const struct rb_step *st)
{
	const char *names[WZ_MAX_PARAMS];
	return wz_step_params(v->r, st, names, WZ_MAX_PARAMS) > 0;
}

/* e on a failed step: which parameter (when it uses several), then its new value. */
static void edit_start(struct wzv *v, const struct rb_step *st)
{
	const char *names[WZ_MAX_PARAMS];
	int n = wz_step_params(v->r, st, names, WZ_MAX_PARAMS);
	if (!n) {
		tui_tl(&v->out, ROLE_DIM, "(this step uses no parameter)");
		return;
	}
	v->in[0] = 0;
	if (n == 1) {
		const char *cur = wz_param(v->r, names[0]);
		snprintf(v->edit, sizeof v->edit, "%s", names[0]);
		snprintf(v->ask, sizeof v->ask, "New value for %s (now '%.200s'): ", names[0],
			 cur ? cur : "");
		v->prompt = P_EDIT_VAL;
		return;
	}
	size_t o = (size_t)snprintf(v->ask, sizeof v->ask, "Edit which parameter (");
	for (int i = 0; i < n && o < sizeof v->ask; i++)
		o += (size_t)snprintf(v->ask + o, sizeof v->ask - o, "%s%s", i ? ", " : "",
				      names[i]);
	if (o < sizeof v->ask)
		snprintf(v->ask + o, sizeof v->ask - o, ")? ");
	v->prompt = P_EDIT_WHICH;
}

/* The edited value, checked as at start; Enter then retries the step with it. */
static void edit_submit(struct wzv *v, struct tui *t, enum prompt p)
{
	struct wz_run *r = v->r;
	const struct rb_param *pp = NULL;
	const char *name = p == P_EDIT_WHICH ? v->in : v->edit;
	for (int k = 0; k < r->rb->nparams; k++)
		if (strcmp(r->rb->params[k].name, name) == 0)
			pp = &r->rb->params[k];
	if (!pp) {
		tui_tl(&v->out, ROLE_CRITICAL, "no parameter '%s'", name);
		return;
	}
	if (p == P_EDIT_WHICH) {
		const char *cur = wz_param(r, pp->name);
		snprintf(v->edit, sizeof v->edit, "%s", pp->name);
		snprintf(v->ask, sizeof v->ask, "New value for %s (now '%.200s'): ", pp->name,
			 cur ? cur : "");
		v->in[0] = 0;
		v->prompt = P_EDIT_VAL;
		return;
	}
	char err[1024];
	if (rb_param_value_ok(r->rb, pp->name, v->in, err, sizeof err) < 0 ||
	    wz_param_check(pp, t->cfg, v->in, err, sizeof err) < 0) {
		tui_tl(&v->out, ROLE_CRITICAL, "%s", err);
		return;
	}
	wz_param_set(r, pp->name, v->in);
	wz_save(&v->s, r);
	tui_tl(&v->out, ROLE_OK, "-> %s = %s; Enter runs the step again with it", pp->name, v->in);
}

static void settle(struct wzv *v, int cursor_before)
{
	struct wz_run *r = v->r;
	choice_drop(v);
	v->seq++;
	v->help = 0;
	v->failed = !wz_finished(r) && r->status != WZ_RUN_PAUSED && r->cursor == cursor_before &&
		    r->nattempts > 0 && r->attempts[r->nattempts - 1].step == r->cursor &&
		    r->attempts[r->nattempts - 1].outcome == WZ_FAILED;
	if (v->failed)
		tui_tl(&v->out, ROLE_CRITICAL,
		       "Step '%s' failed: Enter retries, %sc continues anyway, s skips, "
		       "a aborts",
		       r->rb->steps[r->cursor].id,
		       step_has_params(v, &r->rb->steps[r->cursor]) ? "e edits a parameter, " : "");
}

static void begin_run(struct wzv *v, struct tui *t)
{
	char err[2048];
	struct wz_run *r = v->r;
	if (wz_lock(&v->s, r, err, sizeof err) < 0) {
		snprintf(v->error, sizeof v->error, "%.1023s", err);
		wz_run_free(r);
		v->r = NULL;
		picker_open(v, t);
		return;
	}
	v->locked = 1;
	wz_save(&v->s, r);
	run_ref(r, v->ref, sizeof v->ref);
	tui_lines_clear(&v->out);
	tui_tl(&v->out, ROLE_HEADER, "# %s: run %s by %s on %s", r->rb->title, v->ref, r->operator_,
	       r->host);
	store_note(v);
	if (r->rb->maintenance && rb_in_window(t->cfg->maintenance_window, time(NULL)) == 0)
		tui_tl(&v->out, ROLE_WARNING,
		       "runbook %s belongs in the maintenance window (%s); it is outside it now",
		       r->rb->name, t->cfg->maintenance_window);
	if (r->rb->description)
		add_text(&v->out, ROLE_DIM, "", r->rb->description);
	v->error[0] = 0;
	v->view = V_RUN;
	v->out_back = 0;
	v->seq++;
	t->need_redraw = 1;
}

static void prompt_param(struct wzv *v)
{
	struct wz_run *r = v->r;
	/* Given ones are not asked, nor those a choice step sets from its list. */
	while (v->param < r->rb->nparams &&
	       (wz_param(r, r->rb->params[v->param].name) || r->rb->params[v->param].set_by))
		v->param++;
	if (v->param >= r->rb->nparams) {
		v->prompt = P_NONE;
		return;
	}
	const struct rb_param *p = &r->rb->params[v->param];
	snprintf(v->ask, sizeof v->ask, "%s%s%s%s: ", p->prompt, p->def ? " [" : "",
		 p->def ? p->def : "", p->def ? "]" : "");
	v->in[0] = 0;
	v->prompt = P_PARAM;
}

/* A maintenance runbook outside its window is not started on one key: the picker asks
 * (y starts it, anything else does not). Returns 1 when it may start now; else rb is
 * freed and the question is up. */
static int window_asked(struct wzv *v, struct tui *t, struct runbook *rb, char **params,
			int nparams)
{
	if (v->window_yes || !rb->maintenance ||
	    rb_in_window(t->cfg->maintenance_window, time(NULL)) != 0)
		return 1;
	picker_open(v, t);
	snprintf(v->pend_name, sizeof v->pend_name, "%s", rb->name);
	pend_free(v);
	for (int i = 0; i < nparams && v->npend < 16; i++)
		v->pend[v->npend++] = xstrdup(params[i]);
	v->prompt = P_WINDOW;
	snprintf(v->ask, sizeof v->ask,
		 "Outside the maintenance window (%.200s): start %.64s? [y/N] ",
		 t->cfg->maintenance_window, rb->name);
	rb_free(rb);
	return 0;
}

static void start_named(struct wzv *v, struct tui *t, const char *name, char **params, int nparams)
{
	char err[2048], op[64];
	const char *given_op = NULL;
	run_close(v, t, 1);
	v->error[0] = 0;
	struct runbook *rb = rb_load(name, err, sizeof err);
	if (!rb) {
		snprintf(v->error, sizeof v->error, "%.1023s", err);
		picker_open(v, t);
		return;
	}
	if (!window_asked(v, t, rb, params, nparams))
		return;
	for (int i = 0; i < nparams; i++)
		if (strncmp(params[i], "--operator=", 11) == 0)
			given_op = params[i] + 11;
		else if (strcmp(params[i], "--operator") == 0 && i + 1 < nparams)
			given_op = params[++i];
	rb_operator_name(given_op, op, sizeof op);
	store_ensure(v, t);
	v->r = wz_run_new(rb, op);
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
			int bad = 0;
			for (int k = 0; known && k < rb->nparams; k++)
				if (strcmp(rb->params[k].name, params[i]) == 0 &&
				    wz_param_check(&rb->params[k], t->cfg, eq + 1, err,
						   sizeof err) < 0) {
					snprintf(v->error, sizeof v->error, "not started: %.900s",
						 err);
					bad = 1;
				}
			if (known && !bad)
				wz_param_set(v->r, params[i], eq + 1);
			*eq = '=';
			if (bad) {
				wz_run_free(v->r);
				v->r = NULL;
				picker_open(v, t);
				return;
			}
		}
		if (!known) {
			if (eq)
				snprintf(v->error, sizeof v->error,
					 "runbook %s has no parameter '%.*s'", rb->name,
					 (int)(eq - params[i]), params[i]);
			else
				snprintf(v->error, sizeof v->error,
					 "wizard: '%s' is not NAME=VALUE", params[i]);
			wz_run_free(v->r);
			v->r = NULL;
			picker_open(v, t);
			return;
		}
	}
	v->view = V_RUN;
	v->param = 0;
	tui_lines_clear(&v->out);
	tui_tl(&v->out, ROLE_HEADER, "# %s", rb->title);
	prompt_param(v);
	if (v->prompt == P_NONE)
		begin_run(v, t);
	t->need_redraw = 1;
}

static void resume(struct wzv *v, struct tui *t, const char *ref)
{
	char err[2048], op[64];
	run_close(v, t, 1);
	store_ensure(v, t);
	v->error[0] = 0;
	struct wz_run *r = wz_load(&v->s, ref, err, sizeof err);
	if (!r) {
		snprintf(v->error, sizeof v->error, "%.1023s", err);
		picker_open(v, t);
		return;
	}
	if (wz_finished(r)) {
		snprintf(v->error, sizeof v->error,
			 "run %s has already ended (%s); ':wizard show %s'", ref,
			 wz_status_name(r->status), ref);
		wz_run_free(r);
		picker_open(v, t);
		return;
	}
	if (wz_lock(&v->s, r, err, sizeof err) < 0) {
		snprintf(v->error, sizeof v->error, "%.1023s", err);
		wz_run_free(r);
		picker_open(v, t);
		return;
	}
	v->r = r;
	v->locked = 1;
	rb_operator_name(NULL, op, sizeof op);
	snprintf(r->driver, sizeof r->driver, "%s", op);
	r->status = WZ_RUN_RUNNING;
	wz_save(&v->s, r);
	run_ref(r, v->ref, sizeof v->ref);
	tui_lines_clear(&v->out);
	tui_tl(&v->out, ROLE_HEADER, "# %s: resuming run %s (started by %s) at step '%s'", r->title,
	       v->ref, r->operator_, r->rb->steps[r->cursor].id);
	store_note(v);
	v->view = V_RUN;
	v->out_back = 0;
	v->seq++;
	t->need_redraw = 1;
}

static int wiz_open(struct wzv *v, struct tui *t, char **w, int n)
{
	if (n >= 2 && (strcmp(w[1], "list") == 0 || strcmp(w[1], "show") == 0 ||
		       strcmp(w[1], "validate") == 0 || strcmp(w[1], "sync") == 0))
		return -1;
	for (int i = 1; i < n; i++)
		if (strcmp(w[i], "--help") == 0 || strcmp(w[i], "--json") == 0 ||
		    strcmp(w[i], "--non-interactive") == 0)
			return -1;
	if (v->r && v->view == V_RUN) {
		tui_message(t, "a run is open in the wizard view; q leaves it first");
		return 0;
	}
	v->error[0] = 0;
	if (n == 1)
		picker_open(v, t);
	else if (strcmp(w[1], "resume") == 0) {
		if (n != 3) {
			snprintf(v->error, sizeof v->error, "wizard resume: needs a run id");
			picker_open(v, t);
		} else
			resume(v, t, w[2]);
	} else if (strcmp(w[1], "run") == 0 && n >= 3)
		start_named(v, t, w[2], w + 3, n - 3);
	else
		start_named(v, t, w[1], w + 2, n - 2);
	return 0;
}

/* ------------------------------------------------------------------ steps */

static void child_line(struct wzv *v, const char *s)
{
	if (v->ch_until && v->r && v->r->rb->steps[v->r->cursor].argc)
		return; /* the figure is the step's command; until only decides */
	char line[4200];
	snprintf(line, sizeof line, "%c  %s", '0' + ROLE_NORMAL, s);
	tui_lines_add(v->busy == B_WAIT ? &v->fig : &v->out, line);
}

static void child_read(struct wzv *v)
{
	char *chunk = wz_child_poll(&v->ch);
	for (char *p = chunk; *p; p++) {
		if (*p == '\n' || v->npartial >= sizeof v->partial - 1) {
			v->partial[v->npartial] = 0;
			child_line(v, v->partial);
			v->npartial = 0;
			if (*p == '\n')
				continue;
		}
		if (*p == '\r')
			v->npartial = 0;
		else
			v->partial[v->npartial++] = *p;
	}
	free(chunk);
}

static int child_start(struct wzv *v, struct tui *t, const struct rb_step *st)
{
	char *argv[RB_MAX_ARGV + 1], shown[2048] = "", err[1024];
	int ac = wz_step_argv(v->r, t->cfg, st, argv);
	size_t sl = 0;
	for (int i = 0; i < ac; i++) {
		sl += (size_t)snprintf(shown + sl, sizeof shown - sl, " %s", argv[i]);
		if (sl >= sizeof shown)
			sl = sizeof shown - 1;
	}
	if (v->busy != B_WAIT)
		tui_tl(&v->out, ROLE_HEADER, "$ midsops%s", shown);
	snprintf(v->cmdname, sizeof v->cmdname, "%s", ac ? argv[0] : "");
	v->npartial = 0;
	int rc = wz_child_start(&v->ch, t->cfg, t->target, argv, err, sizeof err);
	wz_argv_free(argv);
	if (rc < 0) {
		tui_tl(&v->out, ROLE_CRITICAL, "%s", err);
		return -1;
	}
	v->ch_live = 1;
	v->ch_started = util_mono();
	return 0;
}

static void run_command(struct wzv *v, struct tui *t, const struct rb_step *st)
{
	int before = v->r->cursor;
	wz_step_begin(&v->s, v->r);
	v->busy = B_CHILD;
	if (child_start(v, t, st) < 0) {
		v->busy = B_IDLE;
		wz_step_end(&v->s, v->r, WZ_FAILED, 127, "the command could not start",
			    wz_exit_reason(127), NULL);
		settle(v, before);
	}
}

static void command_done(struct wzv *v)
{
	int before = v->r->cursor;
	child_read(v);
	if (v->npartial) {
		v->partial[v->npartial] = 0;
		child_line(v, v->partial);
		v->npartial = 0;
	}
	char *output = wz_child_finish(&v->ch);
	v->ch_live = 0;
	int rc = v->ch.status;
	enum wz_outcome oc = wz_outcome_for(v->cmdname, rc);
	tui_tl(&v->out,
	       oc == WZ_DONE	  ? ROLE_OK
	       : oc == WZ_WARNING ? ROLE_WARNING
				  : ROLE_CRITICAL,
	       "-> %s (exit %d)", wz_outcome_name(oc), rc);
	v->busy = B_IDLE;
	wz_step_end(&v->s, v->r, oc, rc, output, wz_exit_reason(rc), NULL);
	free(output);
	settle(v, before);
}

static void wait_start(struct wzv *v, const struct rb_step *st)
{
	wz_step_begin(&v->s, v->r);
	long dur = st->duration;
	const char *scale = getenv("MIDSOPS_WAIT_SCALE"); /* tests shorten waits */
	if (scale && atof(scale) > 0)
		dur = (long)(dur * atof(scale) + 0.5);
	v->wait_dur = dur;
	v->wait_t0 = v->next_fig = util_mono();
	v->busy = B_WAIT;
	tui_lines_clear(&v->fig);
	tui_tl(&v->out, ROLE_NORMAL, "waiting %s%lds; Enter ends the wait early",
	       st->until ? "until the condition holds, at most " : "", dur);
}

/* how: 0 the duration passed (with until: the timeout, the step fails), 1 ended early by
 * the operator, 2 the until command exited 0. */
static void wait_end(struct wzv *v, int how)
{
	int before = v->r->cursor;
	const struct rb_step *st = &v->r->rb->steps[v->r->cursor];
	child_drop(v);
	v->ch_until = 0;
	char detail[160];
	long el = (long)(util_mono() - v->wait_t0 + 0.5);
	int timeout = how == 0 && st->until;
	if (how == 2)
		snprintf(detail, sizeof detail, "condition met after %lds (timeout %lds)", el,
			 v->wait_dur);
	else
		snprintf(detail, sizeof detail, "waited %lds of %lds%s", el, v->wait_dur,
			 how == 1 ? " (ended early by the operator)" : "");
	tui_tl(&v->out, timeout ? ROLE_CRITICAL : ROLE_OK, "-> %s%s", detail,
	       timeout ? ": timed out" : "");
	if (v->fig_text)
		add_text(&v->out, ROLE_DIM, "  ", v->fig_text);
	v->busy = B_IDLE;
	if (timeout)
		wz_step_end(&v->s, v->r, WZ_FAILED, -1, v->fig_text,
			    "timed out: the condition never held", detail);
	else
		wz_step_end(&v->s, v->r, WZ_DONE, -1, v->fig_text, NULL, detail);
	free(v->fig_text);
	v->fig_text = NULL;
	settle(v, before);
}

/* Start the figure (the step's command) or the until command. */
static void wait_child(struct wzv *v, struct tui *t, const struct rb_step *st, int until)
{
	v->ch_until = until;
	if (child_start(v, t, until ? st->until : st) < 0)
		v->ch_until = 0;
}

/* A child of the wait finished: the figure is kept; the until's exit 0 ends the wait, and
 * a figure is followed by the until. */
static void wait_child_done(struct wzv *v, struct tui *t, const struct rb_step *st)
{
	if (v->npartial) {
		v->partial[v->npartial] = 0;
		child_line(v, v->partial);
		v->npartial = 0;
	}
	char *out = wz_child_finish(&v->ch);
	int until = v->ch_until;
	v->ch_live = v->ch_until = 0;
	t->need_redraw = 1;
	if (!until || !st->argc) {
		/* The figure just finished replaces the previous one. */
		free(v->fig_text);
		v->fig_text = out;
		tui_lines_clear(&v->fig);
		add_text(&v->fig, ROLE_NORMAL, "  ", v->fig_text);
	} else
		free(out);
	if (until && v->ch.status == 0)
		wait_end(v, 2);
	else if (!until && st->until)
		wait_child(v, t, st, 1);
}

static void wait_tick(struct wzv *v, struct tui *t)
{
	const struct rb_step *st = &v->r->rb->steps[v->r->cursor];
	double now = util_mono();
	if (v->ch_live) {
		child_read(v);
		if (!v->ch.done)
			return;
		wait_child_done(v, t, st);
		if (v->busy != B_WAIT || v->ch_live)
			return;
	}
	if (now - v->wait_t0 >= v->wait_dur) {
		wait_end(v, 0);
		t->need_redraw = 1;
		return;
	}
	if ((st->argc || st->until) && now >= v->next_fig) {
		v->next_fig = now + (st->interval > 0 ? st->interval : 15);
		wait_child(v, t, st, !st->argc);
	}
}

static void do_notify(struct wzv *v, struct tui *t, const struct rb_step *st)
{
	int before = v->r->cursor;
	char *subj = wz_expand(v->r, t->cfg, st->subject);
	char *body = wz_expand(v->r, t->cfg, st->body);
	char where[4400], err[1024];
	wz_step_begin(&v->s, v->r);
	tui_tl(&v->out, ROLE_NORMAL, "Subject: %s", subj);
	if (wz_notify(t->cfg, subj, body, where, sizeof where, err, sizeof err) == 0) {
		tui_tl(&v->out, ROLE_OK, "-> sent to %s", where);
		wz_step_end(&v->s, v->r, WZ_DONE, -1, NULL, NULL, where);
	} else {
		tui_tl(&v->out, ROLE_CRITICAL, "notification failed: %s", err);
		wz_step_end(&v->s, v->r, WZ_FAILED, -1, NULL, err, NULL);
	}
	free(subj);
	free(body);
	settle(v, before);
}

static void do_report(struct wzv *v, struct tui *t, const struct rb_step *st)
{
	int before = v->r->cursor;
	char path[4400], err[1024];
	wz_step_begin(&v->s, v->r);
	if (wz_report_write(t->cfg, v->r, st, path, sizeof path, err, sizeof err) == 0) {
		tui_tl(&v->out, ROLE_OK, "-> written to %s", path);
		wz_step_end(&v->s, v->r, WZ_DONE, -1, NULL, NULL, path);
	} else {
		tui_tl(&v->out, ROLE_CRITICAL, "report not written: %s", err);
		wz_step_end(&v->s, v->r, WZ_FAILED, -1, NULL, err, NULL);
	}
	settle(v, before);
}

static void branch(struct wzv *v, int yes, const char *why)
{
	int before = v->r->cursor;
	tui_tl(&v->out, ROLE_OK, "-> %s (%s)", yes ? "yes" : "no", why);
	wz_branch(&v->s, v->r, yes, why);
	settle(v, before);
}

/* A choice step's rows, loaded when it comes on screen (or on a retry): the list command
 * runs to its end here, which a list command does at once. No rows fail the step. */
static void choice_load(struct wzv *v, struct tui *t, const struct rb_step *st)
{
	int before = v->r->cursor;
	choice_drop(v);
	if (wz_choice_load(v->r, t->cfg, t->target, st, &v->choice) == 0) {
		tui_tl(&v->out, ROLE_CRITICAL, "-> %s", v->choice.error);
		wz_choice_fail(&v->s, v->r, &v->choice);
		wz_choice_free(&v->choice);
		settle(v, before);
		return;
	}
	v->choice_live = 1;
	v->choice_sel = v->choice.def;
	tui_tl(&v->out, ROLE_NORMAL, "%d to choose from: Up/Down, then Enter", v->choice.n);
}

static void choice_take(struct wzv *v)
{
	struct wz_run *r = v->r;
	const struct rb_step *st = &r->rb->steps[r->cursor];
	int before = r->cursor;
	wz_step_begin(&v->s, r);
	wz_choice_pick(&v->s, r, &v->choice, v->choice_sel);
	tui_tl(&v->out, ROLE_OK, "-> %s = %s (%s)", st->param, wz_param(r, st->param),
	       v->choice.labels[v->choice_sel]);
	settle(v, before);
}

/* Run the step the way its kind runs: at once when reached, or on Enter. */
static void run_step(struct wzv *v, struct tui *t, const struct rb_step *st)
{
	struct wz_run *r = v->r;
	int before = r->cursor;
	const struct rb_kind_info *k = rb_kind(st->kind);
	switch (k->how) {
	case RB_HOW_ACK:
		wz_step_end(&v->s, r, WZ_DONE, -1, NULL, NULL, k->ack);
		tui_tl(&v->out, ROLE_OK, "-> %s%s%s", k->ack, k->ack_by ? " by " : "",
		       k->ack_by ? r->driver : "");
		settle(v, before);
		break;
	case RB_HOW_COMMAND:
		run_command(v, t, st);
		break;
	case RB_HOW_NOTIFY:
		do_notify(v, t, st);
		break;
	case RB_HOW_REPORT:
		do_report(v, t, st);
		break;
	case RB_HOW_WAIT:
		wait_start(v, st);
		break;
	case RB_HOW_APPROVE:
		v->prompt = P_APPROVER;
		v->in[0] = 0;
		snprintf(v->ask, sizeof v->ask, "Approver's name (Esc cancels): ");
		break;
	case RB_HOW_BRANCH:
		tui_tl(&v->out, ROLE_NORMAL, "answer y (yes) or n (no)");
		break;
	case RB_HOW_CHOICE:
		if (v->choice_live)
			choice_take(v);
		else
			choice_load(v, t, st);
		break;
	}
}

/* A step reached by going back: its last result; Enter runs it again, c keeps the result.
 * Returns 0 when it has none (it runs as usual). */
static int revisit_show(struct wzv *v)
{
	const struct wz_attempt *a = wz_last_result(v->r, v->r->cursor);
	if (!a)
		return 0;
	char res[800];
	wz_result_text(a, res, sizeof res);
	tui_tl(&v->out, ROLE_NORMAL, "last result: %s", res);
	tui_tl(&v->out, ROLE_DIM,
	       "not run again: Enter runs it again, c continues with that result");
	return 1;
}

/* Before an approval: every step skipped or failed, with its reason. */
static void problems_show(struct wzv *v, struct tui *t, struct tui_lines *l)
{
	char *pb = wz_problems(v->r, t->cfg);
	if (pb) {
		tui_tl(l, ROLE_WARNING, "Before approving: these steps were skipped or failed:");
		add_text(l, ROLE_WARNING, "  ", pb);
		free(pb);
	} else
		tui_tl(l, ROLE_OK, "Before approving: no step was skipped and none failed.");
}

/* A new step on screen: record it as under way, and take the steps that need nobody. */
static void enter_step(struct wzv *v, struct tui *t)
{
	struct wz_run *r = v->r;
	v->entered_seq = v->seq;
	wz_store_online(&v->s);
	store_note(v);
	if (wz_finished(r)) {
		if (!v->finished_shown) {
			v->finished_shown = 1;
			wz_reports_refresh(t->cfg, r);
			char worst[512];
			wz_worst_text(r, t->cfg, worst, sizeof worst);
			tui_tl(&v->out, r->status == WZ_RUN_DONE ? ROLE_OK : ROLE_CRITICAL,
			       "run %s %s%s%s%s; worst: %s; recorded in %s", v->ref,
			       wz_status_name(r->status), r->reason[0] ? " (" : "", r->reason,
			       r->reason[0] ? ")" : "", worst,
			       r->synced ? "the database and local state" : "local state only");
			tui_tl(&v->out, ROLE_DIM, "transcript: midsops wizard show %s", v->ref);
		}
		return;
	}
	if (v->failed)
		return;
	const struct rb_step *st = &r->rb->steps[r->cursor];
	char *title = wz_expand(r, t->cfg, st->title);
	tui_tl(&v->out, ROLE_HEADER, "[%d/%d] %s (%s)", r->cursor + 1, r->rb->nsteps, title,
	       rb_kind_name(st->kind));
	free(title);
	/* Under way from the moment it is shown: a console killed here leaves it recorded as
	 * interrupted, and a resume offers it again. */
	wz_step_begin(&v->s, r);
	const struct rb_kind_info *k = rb_kind(st->kind);
	if (v->revisit == r->cursor + 1 && revisit_show(v)) /* went back: it waits */
		return;
	v->revisit = 0;
	if (k->how == RB_HOW_APPROVE)
		problems_show(v, t, &v->out);
	if (k->how == RB_HOW_CHOICE)
		choice_load(v, t, st);
	if (!k->at_once)
		return;
	if (k->how == RB_HOW_BRANCH) {
		int yes = wz_branch_auto(r, st);
		if (yes >= 0) {
			char why[600], worst[512];
			wz_worst_text(r, t->cfg, worst, sizeof worst);
			snprintf(why, sizeof why, "worst so far: %s", worst);
			branch(v, yes, why);
		}
	} else
		run_step(v, t, st);
}

static void wiz_tick(struct wzv *v, struct tui *t)
{
	if (v->view != V_RUN || !v->r || v->prompt == P_PARAM || !v->locked)
		return;
	if (v->busy == B_CHILD && v->ch_live) {
		size_t before = (size_t)v->out.n;
		child_read(v);
		if (v->ch.done)
			command_done(v);
		if ((size_t)v->out.n != before || !v->ch_live)
			t->need_redraw = 1;
	} else if (v->busy == B_WAIT)
		wait_tick(v, t);
	/* Automatic steps follow one another without a key, a few per turn so keys and the
	 * screen are served in between. */
	for (int i = 0;
	     i < 4 && v->busy == B_IDLE && v->prompt == P_NONE && v->entered_seq != v->seq; i++) {
		enter_step(v, t);
		t->need_redraw = 1;
	}
}

static int wiz_timeout(struct wzv *v)
{
	if (v->view != V_RUN || !v->r)
		return -1;
	if (v->busy != B_IDLE || (v->entered_seq != v->seq && v->prompt == P_NONE))
		return v->busy == B_IDLE ? 0 : 100;
	return -1;
}

/* Enter: run, confirm, send, approve, retry. */
static void go(struct wzv *v, struct tui *t)
{
	struct wz_run *r = v->r;
	const struct rb_step *st = &r->rb->steps[r->cursor];
	if (v->busy == B_WAIT) {
		wait_end(v, 1);
		return;
	}
	if (v->failed) {
		v->failed = 0;
		tui_tl(&v->out, ROLE_NORMAL, "retrying '%s'", st->id);
	}
	if (v->revisit == r->cursor + 1) {
		v->revisit = 0;
		tui_tl(&v->out, ROLE_NORMAL, "running '%s' again", st->id);
		const struct rb_kind_info *k = rb_kind(st->kind);
		if (k->how == RB_HOW_CHOICE && !v->choice_live) {
			choice_load(v, t, st);
			return;
		}
		if (k->how == RB_HOW_BRANCH && wz_branch_auto(r, st) >= 0) {
			branch(v, wz_branch_auto(r, st), "decided again by the run so far");
			return;
		}
	}
	run_step(v, t, st);
}

static void prompt_submit(struct wzv *v, struct tui *t)
{
	struct wz_run *r = v->r;
	int before = r ? r->cursor : 0;
	enum prompt p = v->prompt;
	v->prompt = P_NONE;
	switch (p) {
	case P_PARAM: {
		const struct rb_param *pp = &r->rb->params[v->param];
		const char *val = v->in[0] ? v->in : (pp->def ? pp->def : "");
		char err[1024];
		/* Said and asked again; Esc gives up the start. */
		if (wz_param_check(pp, t->cfg, val, err, sizeof err) < 0 ||
		    rb_param_value_ok(r->rb, pp->name, val, err, sizeof err) < 0) {
			tui_tl(&v->out, ROLE_CRITICAL, "%s", err);
			prompt_param(v);
			break;
		}
		wz_param_set(r, pp->name, val);
		tui_tl(&v->out, ROLE_NORMAL, "%s = %s", pp->name, wz_param(r, pp->name));
		v->param++;
		prompt_param(v);
		if (v->prompt == P_NONE)
			begin_run(v, t);
		break;
	}
	case P_SKIP:
		if (v->busy == B_WAIT)
			child_drop(v);
		v->busy = B_IDLE;
		tui_tl(&v->out, ROLE_WARNING, "-> skipped: %s",
		       v->in[0] ? v->in : "(no reason given)");
		wz_skip(&v->s, r, v->in);
		v->failed = 0;
		settle(v, -1);
		break;
	case P_ABORT_SURE:
		if (strcmp(v->in, "yes") != 0) {
			tui_tl(&v->out, ROLE_NORMAL, "not aborted");
			break;
		}
		v->prompt = P_ABORT_WHY;
		v->in[0] = 0;
		snprintf(v->ask, sizeof v->ask, "Reason for aborting: ");
		break;
	case P_ABORT_WHY:
		child_drop(v);
		v->busy = B_IDLE;
		wz_abort(&v->s, r, v->in);
		tui_tl(&v->out, ROLE_CRITICAL, "-> run aborted: %s", r->reason);
		v->failed = 0;
		settle(v, -1);
		break;
	case P_APPROVER:
		if (!v->in[0]) {
			tui_tl(&v->out, ROLE_NORMAL,
			       "no approver given: the step waits (Enter asks again)");
			break;
		}
		/* The name goes on the record: a cut one would name someone else. */
		if (!util_fits(snprintf(v->approver, sizeof v->approver, "%s", v->in),
			       sizeof v->approver)) {
			tui_tl(&v->out, ROLE_NORMAL,
			       "approver name too long (at most %zu bytes): the step waits "
			       "(Enter asks again)",
			       sizeof v->approver - 1);
			v->in[0] = 0;
			break;
		}
		v->prompt = P_PHRASE;
		v->in[0] = 0;
		snprintf(v->ask, sizeof v->ask, "Type '%s' to approve (anything else rejects): ",
			 r->rb->steps[r->cursor].phrase);
		break;
	case P_EDIT_WHICH:
	case P_EDIT_VAL:
		edit_submit(v, t, p);
		if (v->prompt != P_NONE)
			return; /* asks for the value next: keep nothing typed */
		break;
	case P_PHRASE: {
		char detail[256];
		wz_step_begin(&v->s, r);
		if (strcmp(v->in, r->rb->steps[r->cursor].phrase) == 0) {
			snprintf(detail, sizeof detail, "approved by %s", v->approver);
			tui_tl(&v->out, ROLE_OK, "-> %s", detail);
			wz_step_end(&v->s, r, WZ_DONE, -1, NULL, NULL, detail);
		} else {
			snprintf(detail, sizeof detail, "rejected by %s", v->approver);
			tui_tl(&v->out, ROLE_CRITICAL, "-> %s", detail);
			wz_step_end(&v->s, r, WZ_FAILED, -1, NULL, "not approved", detail);
		}
		settle(v, before);
		break;
	}
	default:
		break;
	}
	v->in[0] = 0;
}

/* The one-key questions: leave the run, start outside the maintenance window. */
static void yes_no_key(struct wzv *v, struct tui *t, int k)
{
	enum prompt p = v->prompt;
	int yes = k == 'y' || k == 'Y';
	v->prompt = P_NONE;
	if (p == P_LEAVE) {
		if (yes)
			view_close(v, t, 1);
		else
			tui_tl(&v->out, ROLE_DIM, "(staying in the run)");
		return;
	}
	char name[64];
	snprintf(name, sizeof name, "%s", v->pend_name);
	if (!yes) {
		snprintf(v->error, sizeof v->error,
			 "%s not started: it is outside the maintenance window (%.200s)", name,
			 t->cfg->maintenance_window);
		pend_free(v);
		return;
	}
	v->window_yes = 1;
	char *pend[16];
	int n = v->npend;
	memcpy(pend, v->pend, sizeof pend);
	v->npend = 0;
	start_named(v, t, name, pend, n);
	v->window_yes = 0;
	for (int i = 0; i < n; i++)
		free(pend[i]);
}

static void prompt_key(struct wzv *v, struct tui *t, int k)
{
	size_t n = strlen(v->in);
	if (v->prompt == P_LEAVE || v->prompt == P_WINDOW) {
		yes_no_key(v, t, k);
		return;
	}
	if (k == 27 || k == 3) {
		if (v->prompt == P_PARAM) {
			wz_run_free(v->r);
			v->r = NULL;
			v->prompt = P_NONE;
			picker_open(v, t);
			snprintf(v->error, sizeof v->error,
				 "not started: a parameter was not given");
			return;
		}
		v->prompt = P_NONE;
		tui_tl(&v->out, ROLE_DIM, "(cancelled)");
	} else if (k == '\n' || k == '\r' || k == KEY_ENTER) {
		prompt_submit(v, t);
	} else if (k == KEY_BACKSPACE || k == 127 || k == 8) {
		while (n > 0 && ((unsigned char)v->in[n - 1] & 0xC0) == 0x80)
			n--;
		if (n > 0)
			n--;
		v->in[n] = 0;
	} else if (k == 21) { /* Ctrl-U */
		v->in[0] = 0;
	} else if (k >= 32 && k < 256 && k != 127 && n + 1 < sizeof v->in) {
		v->in[n] = (char)k;
		v->in[n + 1] = 0;
	}
}

static void picker_key(struct wzv *v, struct tui *t, int k)
{
	switch (k) {
	case KEY_UP:
		if (v->sel > 0)
			v->sel--;
		break;
	case KEY_DOWN:
		if (v->sel + 1 < v->nitems)
			v->sel++;
		break;
	case KEY_HOME:
		v->sel = 0;
		break;
	case KEY_END:
		v->sel = v->nitems - 1;
		break;
	case 'r':
		picker_load(v, t);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (v->sel >= 0 && v->sel < v->nitems) {
			struct pick_item it = v->items[v->sel];
			if (it.is_run)
				resume(v, t, it.ref);
			else
				start_named(v, t, it.name, NULL, 0);
		}
		break;
	case 'q':
	case 27:
		view_close(v, t, 1);
		break;
	}
}

static void wiz_key(struct wzv *v, struct tui *t, int k)
{
	t->need_redraw = 1;
	if (v->prompt != P_NONE) {
		prompt_key(v, t, k);
		return;
	}
	if (v->view == V_PICK) {
		picker_key(v, t, k);
		return;
	}
	struct wz_run *r = v->r;
	if (!r) {
		view_close(v, t, 0);
		return;
	}
	if (v->choice_live && !v->failed && v->busy == B_IDLE && (k == KEY_UP || k == KEY_DOWN)) {
		v->choice_sel += k == KEY_UP ? -1 : 1;
		if (v->choice_sel < 0)
			v->choice_sel = 0;
		if (v->choice_sel >= v->choice.n)
			v->choice_sel = v->choice.n - 1;
		return;
	}
	switch (k) {
	case KEY_PPAGE:
		v->out_back += 10;
		return;
	case KEY_NPAGE:
		v->out_back = v->out_back > 10 ? v->out_back - 10 : 0;
		return;
	case KEY_UP:
		v->out_back++;
		return;
	case KEY_DOWN:
		if (v->out_back > 0)
			v->out_back--;
		return;
	case KEY_END:
		v->out_back = 0;
		return;
	case '?':
	case KEY_F(1):
		v->help = !v->help;
		return;
	case 12:
		clearok(curscr, TRUE);
		return;
	}
	/* Esc closes the topmost thing: the help over the step first. */
	if (k == 27 && v->help) {
		v->help = 0;
		return;
	}
	if (wz_finished(r)) {
		if (k == 'q' || k == 27 || k == '\n' || k == '\r' || k == KEY_ENTER)
			view_close(v, t, 0);
		return;
	}
	/* A step's command is never left half done by a stray key: Ctrl-C stops it first. */
	if (v->busy == B_CHILD) {
		if (k == 3) {
			tui_tl(&v->out, ROLE_WARNING, "stopping '%s'", v->cmdname);
			wz_child_kill(&v->ch);
		} else
			tui_tl(&v->out, ROLE_DIM, "'%s' is still running; Ctrl-C stops it",
			       v->cmdname);
		return;
	}
	if (k == 'q' || k == 27) {
		v->prompt = P_LEAVE;
		snprintf(
		    v->ask, sizeof v->ask,
		    "Leave run %s? It stays paused and can be resumed with ':wizard resume %s'. "
		    "[y/N] ",
		    v->ref, v->ref);
		return;
	}
	const struct rb_step *st = &r->rb->steps[r->cursor];
	v->out_back = 0;
	switch (k) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		go(v, t);
		break;
	case 'r':
		if (v->failed)
			go(v, t);
		break;
	case 'c':
		if (v->failed) {
			v->failed = 0;
			tui_tl(&v->out, ROLE_WARNING, "-> continued after the failure");
			wz_skip(&v->s, r, "operator continued after the failure");
			settle(v, -1);
		} else if (v->revisit == r->cursor + 1) {
			int before = r->cursor;
			v->revisit = 0;
			tui_tl(&v->out, ROLE_OK, "-> kept its last result, not run again");
			wz_keep(&v->s, r);
			settle(v, before);
		}
		break;
	case 'e':
		if (v->failed)
			edit_start(v, st);
		break;
	case 'y':
	case 'n':
		if (rb_kind(st->kind)->how == RB_HOW_BRANCH && !v->failed)
			branch(v, k == 'y', "operator's answer");
		break;
	case 's':
		v->prompt = P_SKIP;
		v->in[0] = 0;
		snprintf(v->ask, sizeof v->ask, "Reason for skipping '%s': ", st->id);
		break;
	case 'b':
		if (v->busy == B_WAIT)
			child_drop(v);
		v->busy = B_IDLE;
		if (wz_back(&v->s, r) < 0)
			tui_tl(&v->out, ROLE_DIM, "(already at the first step)");
		else {
			v->revisit = r->cursor + 1;
			tui_tl(&v->out, ROLE_NORMAL, "-> back to '%s'", r->rb->steps[r->cursor].id);
		}
		v->failed = 0;
		settle(v, -1);
		break;
	case 'a':
		v->prompt = P_ABORT_SURE;
		v->in[0] = 0;
		snprintf(v->ask, sizeof v->ask, "Abort the whole run? Type 'yes' to abort: ");
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
	tui_lines_free(&raw);
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

static void draw_picker(struct wzv *v, struct tui *t, struct tui_rect a)
{
	tui_box(t, a, "Wizard: start a runbook or continue a run", 1);
	struct tui_rect in = {a.y + 1, a.x + 1, a.h - 2, a.w - 2};
	struct tui_lines l = {0};
	int selline = 0;
	if (v->error[0]) {
		wrap(&l, ROLE_CRITICAL, v->error, in.w);
		tui_tl(&l, ROLE_NORMAL, "%s", "");
	}
	tui_tl(&l, ROLE_HEADER, "%s", "Runbooks");
	int runs = 0;
	for (int i = 0; i < v->nitems; i++) {
		if (v->items[i].is_run && !runs++) {
			tui_tl(&l, ROLE_NORMAL, "%s", "");
			tui_tl(&l, ROLE_HEADER, "%s", "Runs in progress");
		}
		if (i == v->sel)
			selline = l.n;
		tui_tl(&l, i == v->sel ? ROLE_SELECTED : ROLE_NORMAL, "%s %s",
		       i == v->sel ? ">" : " ", v->items[i].text);
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
	tui_lines_free(&l);
}

static const char *marker(struct wzv *v, enum wz_outcome o, int current, enum tui_role *role,
			  const char **word)
{
	*role = ROLE_NORMAL;
	if (current) {
		*role = ROLE_SELECTED;
		*word = v->busy == B_CHILD  ? "running"
			: v->busy == B_WAIT ? "waiting"
			: v->failed	    ? "FAILED"
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

static void draw_steps(struct wzv *v, struct tui *t, struct tui_rect a)
{
	struct wz_run *r = v->r;
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
		const char *m = marker(v, wz_step_state(r, i), cur, &role, &word);
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
	tui_lines_free(&l);
}

static const char *enter_does(const struct rb_step *st)
{
	return rb_kind(st->kind)->enter_does;
}

static const char *const view_help[] = {
    "Wizard view: keys",
    "",
    "  Enter        run the step or confirm it (a failed step: retry)",
    "  s            skip the step (asks for a reason)",
    "  b            back to the previous step; it is not run again: Enter runs it,",
    "               c continues with its last result",
    "  a            abort the run (asks, then asks for a reason)",
    "  y, n         answer a branch step",
    "  c            continue anyway after a failed step",
    "  e            a failed step: edit the parameter it uses, then Enter retries",
    "  Ctrl-C       stop the step's running command",
    "  Up/Down      a choice step: move in its list; else scroll the output",
    "  PgUp/PgDn, End   scroll the output",
    "  ?            this help; ? or Esc closes it",
    "  q or Esc     leave the run (asks; it is paused, :wizard resume RUN)",
    "",
    "Steps: [x] done  [!] warning  [F] failed  [s] skipped  >> current  [ ] pending",
    NULL,
};

static void draw_step_box(struct wzv *v, struct tui *t, struct tui_rect a)
{
	struct wz_run *r = v->r;
	struct tui_rect in = {a.y + 1, a.x + 1, a.h - 2, a.w - 2};
	struct tui_lines l = {0};
	char title[512];
	int sel_line = -1; /* the line of a choice's highlighted row */
	if (v->help) {
		tui_box(t, a, "Help", 1);
		for (int i = 0; view_help[i]; i++)
			wrap(&l, ROLE_NORMAL, view_help[i], in.w);
	} else if (!r->rb || v->prompt == P_PARAM) {
		tui_box(t, a, r->rb ? r->rb->title : "Wizard", 1);
		tui_tl(&l, ROLE_NORMAL, "%s", "Parameters of this run:");
		for (int i = 0; i < r->rb->nparams; i++) {
			const char *v = wz_param(r, r->rb->params[i].name);
			tui_tl(&l, ROLE_NORMAL, "  %s: %s", r->rb->params[i].name, v ? v : "?");
		}
	} else if (wz_finished(r)) {
		snprintf(title, sizeof title, "Run %s: %s", v->ref, wz_status_name(r->status));
		tui_box(t, a, title, 1);
		tui_tl(&l, r->status == WZ_RUN_DONE ? ROLE_OK : ROLE_CRITICAL, "Run %s %s%s%s%s",
		       v->ref, wz_status_name(r->status), r->reason[0] ? " (" : "", r->reason,
		       r->reason[0] ? ")" : "");
		char worst[512];
		wz_worst_text(r, t->cfg, worst, sizeof worst);
		tui_tl(&l, ROLE_NORMAL, "worst: %s", worst);
		tui_tl(&l, ROLE_NORMAL, "recorded in %s",
		       r->synced ? "the database and local state" : "local state only");
		tui_tl(&l, ROLE_DIM, "transcript: midsops wizard show %s", v->ref);
	} else {
		const struct rb_step *st = &r->rb->steps[r->cursor];
		char *tt = wz_expand(r, t->cfg, st->title);
		snprintf(title, sizeof title, "Step %d/%d: %s", r->cursor + 1, r->rb->nsteps, tt);
		free(tt);
		tui_box(t, a, title, 1);
		char about[600];
		snprintf(about, sizeof about, "run %s of %s, %s step, section %s", v->ref,
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
		if (rb_kind(st->kind)->how == RB_HOW_NOTIFY) {
			char *s = wz_expand(r, t->cfg, st->subject);
			tui_tl(&l, ROLE_NORMAL, "subject: %s", s);
			free(s);
		}
		if (rb_kind(st->kind)->how == RB_HOW_APPROVE) {
			problems_show(v, t, &l);
			tui_tl(&l, ROLE_NORMAL, "The approver gives their name and types '%s'.",
			       st->phrase);
		}
		if (rb_kind(st->kind)->how == RB_HOW_BRANCH) {
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
		if (v->choice_live && !v->failed) {
			tui_tl(&l, ROLE_NORMAL, "Choose %s (Up/Down, Enter takes it):", st->param);
			sel_line = l.n + v->choice_sel;
			for (int i = 0; i < v->choice.n; i++)
				tui_tl(&l, i == v->choice_sel ? ROLE_SELECTED : ROLE_NORMAL,
				       "%s %s", i == v->choice_sel ? ">" : " ",
				       v->choice.labels[i]);
		}
		if (v->busy == B_WAIT) {
			long el = (long)(util_mono() - v->wait_t0);
			tui_tl(&l, ROLE_WARNING, "waiting %lds of %lds; Enter ends the wait early",
			       el, v->wait_dur);
			if (st->argc)
				tui_tl(&l, ROLE_DIM, "live figure (every %lds):",
				       st->interval > 0 ? st->interval : 15);
			for (int i = 0; i < v->fig.n; i++)
				tui_lines_add(&l, v->fig.v[i]);
		} else if (v->busy == B_CHILD)
			tui_tl(&l, ROLE_WARNING, "running '%s' (%.0fs); Ctrl-C stops it",
			       v->cmdname, util_mono() - v->ch_started);
		else if (v->failed)
			wrap(
			    &l, ROLE_CRITICAL,
			    step_has_params(v, st)
				? "This step failed: Enter retries, e edits a parameter, c "
				  "continues "
				  "anyway, s skips, a aborts."
				: "This step failed: Enter retries, c continues anyway, s skips, a "
				  "aborts.",
			    in.w);
		else if (v->revisit == r->cursor + 1)
			wrap(
			    &l, ROLE_NORMAL,
			    "You came back to this step: it is not run again. Enter runs it again, "
			    "c continues with its last result.",
			    in.w);
		else
			tui_tl(&l, ROLE_DIM, "Enter: %s", enter_does(st));
	}
	/* A choice's highlighted row stays in view, with the line after it, on a short
	 * screen: the step's description scrolls off first. */
	int off = sel_line + 2 - in.h;
	draw_lines(t, in, &l, sel_line >= 0 && off > 0 ? off : 0);
	tui_lines_free(&l);
}

static void draw_output(struct wzv *v, struct tui *t, struct tui_rect a)
{
	tui_box(t, a, v->out_back ? "Output (scrolled; End follows)" : "Output", 0);
	struct tui_rect in = {a.y + 1, a.x + 1, a.h - 2, a.w - 2};
	/* Wrap only the newest lines, as many as the area and the scroll-back need. */
	int need = in.h + v->out_back;
	struct tui_lines tail = {0}, one = {0};
	int first = v->out.n, rows = 0;
	while (first > 0 && rows < need) {
		first--;
		tui_lines_clear(&one);
		wrap(&one, (enum tui_role)(v->out.v[first][0] - '0'), v->out.v[first] + 1, in.w);
		rows += one.n;
	}
	for (int i = first; i < v->out.n; i++)
		wrap(&tail, (enum tui_role)(v->out.v[i][0] - '0'), v->out.v[i] + 1, in.w);
	if (v->out_back > tail.n - in.h)
		v->out_back = tail.n - in.h > 0 ? tail.n - in.h : 0;
	int top = tail.n - in.h - v->out_back;
	draw_lines(t, in, &tail, top > 0 ? top : 0);
	tui_lines_free(&tail);
	tui_lines_free(&one);
}

static void wiz_draw(struct wzv *v, struct tui *t)
{
	struct tui_rect a = {1, 0, LINES - 2, COLS};
	if (v->view == V_PICK || !v->r) {
		draw_picker(v, t, a);
		return;
	}
	int lw = COLS * 2 / 5;
	if (lw < 30)
		lw = 30;
	if (lw > 60)
		lw = 60;
	draw_steps(v, t, (struct tui_rect){a.y, 0, a.h, lw});
	int top = a.h * 9 / 20;
	if (top < 8)
		top = 8;
	/* A choice needs its rows in view more than the output log. */
	if (v->choice_live && !v->failed && top < a.h - 7)
		top = a.h - 7;
	draw_step_box(v, t, (struct tui_rect){a.y, lw, top, COLS - lw});
	draw_output(v, t, (struct tui_rect){a.y + top, lw, a.h - top, COLS - lw});
}

static int wiz_bottom(struct wzv *v, struct tui *t, int y)
{
	if (v->view == V_OFF)
		return 0;
	if (v->prompt != P_NONE) {
		tui_putf(t, y, 0, COLS, ROLE_WARNING, "%s%s_", v->ask, v->in);
		return 1;
	}
	const char *hint;
	if (v->view == V_PICK || !v->r)
		hint = "Up/Down choose  Enter start or continue  r reload  q or Esc closes";
	else if (wz_finished(v->r))
		hint = "The run has ended: Enter or q closes the view";
	else if (v->busy == B_CHILD)
		hint = "A command is running: Ctrl-C stops it  Up/Down scroll  ? help";
	else if (v->busy == B_WAIT)
		hint =
		    "Enter: end the wait early  s skip  b back  a abort  ? help  q leave (pauses)";
	else if (v->failed)
		hint =
		    "Step failed. Enter: retry  e edit a parameter  c continue anyway  s skip  b "
		    "back  a abort  q leave";
	else if (rb_kind(v->r->rb->steps[v->r->cursor].kind)->how == RB_HOW_BRANCH)
		hint = "y yes  n no  s skip  b back  a abort  ? help  q leave (pauses)";
	else
		hint = "Enter: run/confirm  s skip  b back  a abort  ? help  q leave (pauses)";
	tui_put(t, y, 0, COLS, ROLE_DIM, hint);
	return 1;
}

/* ------------------------------------------------------------------ the view */

static int op_active(struct tui_view *view)
{
	return wiz_active(view->data);
}

static void op_draw(struct tui_view *view, struct tui *t)
{
	wiz_draw(view->data, t);
}

static int op_bottom(struct tui_view *view, struct tui *t, int y)
{
	return wiz_bottom(view->data, t, y);
}

static void op_key(struct tui_view *view, struct tui *t, int key)
{
	wiz_key(view->data, t, key);
}

static void op_tick(struct tui_view *view, struct tui *t)
{
	wiz_tick(view->data, t);
}

static int op_timeout(struct tui_view *view)
{
	return wiz_timeout(view->data);
}

static void op_end(struct tui_view *view, struct tui *t)
{
	wiz_end(view->data, t);
	free(view->data);
	free(view);
	if (t->view == view)
		t->view = NULL;
}

static const struct tui_view_ops wizard_ops = {
    .name = "wizard",
    .active = op_active,
    .draw = op_draw,
    .bottom = op_bottom,
    .key = op_key,
    .tick = op_tick,
    .wait_ms = op_timeout,
    .end = op_end,
};

int tui_wizard_open(struct tui *t, char **w, int n)
{
	if (t->view && t->view->ops != &wizard_ops)
		return -1;
	if (!t->view) {
		t->view = xcalloc(1, sizeof *t->view);
		t->view->ops = &wizard_ops;
		t->view->data = xcalloc(1, sizeof(struct wzv));
	}
	return wiz_open(t->view->data, t, w, n);
}
