/* Runbook commands: wizard (line mode, list, show, resume, validate, sync), daily-check
 * and weekly-maintenance. The engine is in src/runbook/; this file is the line-mode UI:
 * readline prompts on a terminal, plain lines from a pipe (scripted answers). */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <readline/readline.h>

#include "cmd.h"
#include "util.h"
#include "config.h"
#include "runbook.h"
#include "target.h"

/* ------------------------------------------------------------ input */

static char inbuf[16384];
static size_t inlen;
static int in_eof;

static int have_line(void)
{
	return memchr(inbuf, '\n', inlen) != NULL || (in_eof && inlen > 0);
}

/* Read more from fd 0; timeout_ms < 0 blocks. Returns 1 if something arrived. */
static int fill(int timeout_ms)
{
	if (in_eof || inlen >= sizeof inbuf - 1)
		return 0;
	struct pollfd p = {.fd = 0, .events = POLLIN};
	int n = poll(&p, 1, timeout_ms);
	if (n <= 0)
		return 0;
	ssize_t got = read(0, inbuf + inlen, sizeof inbuf - 1 - inlen);
	if (got < 0 && errno == EINTR)
		return 0;
	if (got <= 0) {
		in_eof = 1;
		return 0;
	}
	inlen += (size_t)got;
	return 1;
}

static char *take_line(void)
{
	char *nl = memchr(inbuf, '\n', inlen);
	size_t n = nl ? (size_t)(nl - inbuf) : inlen;
	char *line = xmalloc(n + 1);
	memcpy(line, inbuf, n);
	line[n] = 0;
	if (n && line[n - 1] == '\r')
		line[n - 1] = 0;
	size_t used = nl ? n + 1 : n;
	memmove(inbuf, inbuf + used, inlen - used);
	inlen -= used;
	return line;
}

/* One answer, or NULL at end of input. A terminal gets readline; a pipe plain lines,
 * echoed after the prompt so the output reads as a transcript. */
static char *ask(struct out *o, const char *prompt)
{
	fflush(stdout);
	if (isatty(0) && inlen == 0) {
		char p[1024];
		snprintf(p, sizeof p, "%s ", prompt);
		char *line = readline(p);
		if (!line)
			return NULL;
		return line;
	}
	while (!have_line() && !in_eof)
		fill(-1);
	if (!have_line()) {
		out_line(o, "%s (end of input)", prompt);
		return NULL;
	}
	char *line = take_line();
	out_line(o, "%s %s", prompt, line);
	return line;
}

/* ------------------------------------------------------------ helpers */

static void print_lines(struct out *o, const char *prefix, const char *text)
{
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		out_line(o, "%s%.*s", prefix, len, p);
		p = nl ? nl + 1 : p + len;
	}
}

enum act { ACT_GO, ACT_NO, ACT_SKIP, ACT_BACK, ACT_ABORT, ACT_PAUSE, ACT_HELP, ACT_BAD, ACT_EOF };

static enum act parse_act(const char *a, int enter_is_go)
{
	if (!a)
		return ACT_EOF;
	while (*a == ' ')
		a++;
	if (!*a)
		return enter_is_go ? ACT_GO : ACT_BAD;
	switch (a[0]) {
	case 'y':
	case 'Y':
	case 'r':
	case 'R':
	case 'c':
	case 'C':
		return ACT_GO;
	case 'n':
	case 'N':
		return ACT_NO;
	case 's':
	case 'S':
		return ACT_SKIP;
	case 'b':
	case 'B':
		return ACT_BACK;
	case 'a':
	case 'A':
		return ACT_ABORT;
	case 'q':
	case 'Q':
		return ACT_PAUSE;
	case '?':
	case 'h':
		return ACT_HELP;
	}
	return ACT_BAD;
}

struct drive {
	struct cmd_ctx *ctx;
	struct wz_store *s;
	struct wz_run *r;
	int nonint;
	int revisit; /* cursor + 1 of the step reached by going back (0: none) */
	char note[512];
};

static const char *run_ref(const struct wz_run *r, char *buf, size_t n)
{
	if (r->id)
		snprintf(buf, n, "%lld", r->id);
	else
		snprintf(buf, n, "%s", r->local_id);
	return buf;
}

static void show_help(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	if (st->help) {
		char *h = wz_expand(d->r, d->ctx->cfg, st->help);
		print_lines(o, "  ", h);
		free(h);
	}
	out_line(o, "  keys: Enter/y go on, s skip (asks a reason), b back (the step is not run "
		    "again until you say so), a abort (asks), q leave (asks; the run is paused), "
		    "? help");
}

/* q asks first: leaving pauses the run. End of input leaves. */
static int leave_sure(struct drive *d)
{
	char ref[64], prompt[256];
	run_ref(d->r, ref, sizeof ref);
	snprintf(prompt, sizeof prompt,
		 "  Leave run %s? It stays paused and can be resumed with 'midsops wizard resume "
		 "%s'. [y/N]:",
		 ref, ref);
	char *ans = ask(d->ctx->out, prompt);
	int yes = !ans || ans[0] == 'y' || ans[0] == 'Y';
	if (!yes)
		out_line(d->ctx->out, "  (staying in the run)");
	free(ans);
	return yes;
}

/* Common handling of skip/back/abort/pause. Returns 1 when the step is settled. */
static int common_act(struct drive *d, enum act a, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	char ref[64];
	switch (a) {
	case ACT_SKIP: {
		char *why = ask(o, "  Reason for skipping:");
		if (!why) {
			wz_pause(d->s, d->r);
			return 1;
		}
		wz_skip(d->s, d->r, why);
		free(why);
		return 1;
	}
	case ACT_BACK:
		if (wz_back(d->s, d->r) < 0)
			out_line(o, "  (already at the first step)");
		else {
			d->revisit = d->r->cursor + 1;
			out_line(o, "  -> back to '%s'", d->r->rb->steps[d->r->cursor].id);
		}
		return 1;
	case ACT_ABORT: {
		char *yes = ask(o, "  Abort the whole run? Type 'yes' to abort:");
		if (!yes) {
			wz_pause(d->s, d->r);
			return 1;
		}
		int sure = strcmp(yes, "yes") == 0;
		free(yes);
		if (!sure) {
			out_line(o, "  not aborted");
			return 0;
		}
		char *why = ask(o, "  Reason:");
		wz_abort(d->s, d->r, why ? why : "");
		free(why);
		return 1;
	}
	case ACT_PAUSE:
	case ACT_EOF:
		if (a == ACT_PAUSE && !leave_sure(d))
			return 0;
		wz_pause(d->s, d->r);
		out_line(o, "run %s paused at step '%s'; continue with 'midsops wizard resume %s'",
			 run_ref(d->r, ref, sizeof ref), st->id, ref);
		return 1;
	case ACT_HELP:
		show_help(d, st);
		return 0;
	default:
		out_line(o, "  (answer y, s, b, a, q or ?)");
		return 0;
	}
}

/* Run a midsops command as a child, streaming its output. Returns the exit status. */
static int run_child(struct drive *d, const struct rb_step *st, char **output)
{
	struct out *o = d->ctx->out;
	char *argv[RB_MAX_ARGV + 1];
	char shown[2048] = "";
	char err[1024];
	size_t sl = 0;
	/* An optional parameter left empty drops its word ("[ID]"); a value that would be an
	 * option is refused. */
	int ac = wz_step_argv_checked(d->r, d->ctx->cfg, st, argv, err, sizeof err);
	if (ac < 0) {
		out_line(o, "  refused: %s", err);
		*output = xstrdup(err);
		return 64;
	}
	for (int i = 0; i < ac; i++) {
		sl += (size_t)snprintf(shown + sl, sizeof shown - sl, " %s", argv[i]);
		if (sl >= sizeof shown)
			sl = sizeof shown - 1;
	}
	out_line(o, "  $ midsops%s", shown);
	struct wz_child ch;
	int rc;
	if (wz_child_start(&ch, d->ctx->cfg, d->ctx->target, argv, err, sizeof err) < 0) {
		*output = xstrdup(err);
		rc = 127;
	} else {
		char partial[4096] = "";
		for (;;) {
			char *chunk = wz_child_poll(&ch);
			/* Print whole lines as they come; keep a partial line for later. */
			size_t pl = strlen(partial);
			for (char *p = chunk; *p; p++) {
				if (*p == '\n' || pl >= sizeof partial - 1) {
					partial[pl] = 0;
					out_line(o, "  | %s", partial);
					pl = 0;
				} else
					partial[pl++] = *p;
			}
			partial[pl] = 0;
			free(chunk);
			if (ch.done)
				break;
			fflush(stdout);
			poll(NULL, 0, 100);
		}
		if (partial[0])
			out_line(o, "  | %s", partial);
		*output = wz_child_finish(&ch);
		rc = ch.status;
	}
	for (int i = 0; i < ac; i++)
		free(argv[i]);
	return rc;
}

static void run_command_step(struct drive *d, const struct rb_step *st)
{
	wz_step_begin(d->s, d->r);
	char *output = NULL;
	int rc = run_child(d, st, &output);
	enum wz_outcome oc = wz_outcome_for(st->argv[0], rc);
	char why[128] = "";
	if (rc == 127)
		snprintf(why, sizeof why, "the command could not start");
	else if (rc == 64)
		snprintf(why, sizeof why, "usage error (exit 64)");
	out_line(d->ctx->out, "  -> %s (exit %d)", wz_outcome_name(oc), rc);
	wz_step_end(d->s, d->r, oc, rc, output, why[0] ? why : NULL, NULL);
	free(output);
}

/* Whether the wait's until command exits 0 now (its output is printed as a figure). */
static int until_met(struct drive *d, const struct rb_step *st)
{
	char *out = NULL;
	int rc = run_child(d, st->until, &out);
	free(out);
	return rc == 0;
}

/* Sleep up to iv seconds; 1 when the operator pressed Enter to end the wait. */
static int wait_a_while(struct drive *d, long iv)
{
	if (d->nonint) {
		sleep((unsigned)iv);
		return 0;
	}
	fflush(stdout);
	if (have_line() || fill((int)(iv * 1000)) || have_line()) {
		if (have_line()) {
			free(take_line());
			return 1;
		}
	}
	if (in_eof && !have_line())
		sleep((unsigned)iv);
	return 0;
}

/* A wait ends when its until command exits 0 (tried at once, then every interval), when
 * the operator presses Enter, or at its duration: the end of a plain wait, the timeout of
 * one with until (the step fails). */
static void run_wait_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	wz_step_begin(d->s, d->r);
	time_t t0 = time(NULL);
	long dur = st->duration;
	const char *scale = getenv("MIDSOPS_WAIT_SCALE"); /* tests shorten waits */
	if (scale && atof(scale) > 0)
		dur = (long)(dur * atof(scale) + 0.5);
	out_line(o, "  waiting %s%lds%s", st->until ? "until the condition holds, at most " : "",
		 dur, d->nonint ? "" : "; press Enter to stop early");
	char *last = NULL;
	int early = 0, met = 0;
	for (;;) {
		long el = (long)(time(NULL) - t0);
		out_line(o, "  [%lds/%lds]", el, dur);
		if (st->argc) {
			free(last);
			last = NULL;
			run_child(d, st, &last);
		}
		if (st->until && until_met(d, st))
			met = 1;
		if (met || el >= dur)
			break;
		long left = dur - el, iv = st->interval < left ? st->interval : left;
		if (wait_a_while(d, iv)) {
			early = 1;
			break;
		}
	}
	char detail[160];
	long el = (long)(time(NULL) - t0);
	if (met)
		snprintf(detail, sizeof detail, "condition met after %lds (timeout %lds)", el, dur);
	else
		snprintf(detail, sizeof detail, "waited %lds of %lds%s", el, dur,
			 early ? " (ended early by the operator)" : "");
	out_line(o, "  -> %s%s", detail, st->until && !met && !early ? ": timed out" : "");
	if (st->until && !met && !early)
		wz_step_end(d->s, d->r, WZ_FAILED, -1, last, "timed out: the condition never held",
			    detail);
	else
		wz_step_end(d->s, d->r, WZ_DONE, -1, last, NULL, detail);
	free(last);
}

static void section_header(struct drive *d, int sec)
{
	const struct runbook *rb = d->r->rb;
	const struct rb_section *s = &rb->sections[sec];
	/* elapsed since the section's first step started in this run */
	time_t first = 0;
	for (int i = 0; i < d->r->nattempts; i++)
		if (d->r->attempts[i].step < rb->nsteps &&
		    rb->steps[d->r->attempts[i].step].section == sec &&
		    d->r->attempts[i].outcome != WZ_SKIPPED) {
			first = d->r->attempts[i].started;
			break;
		}
	out_line(d->ctx->out, "%s", "");
	if (s->budget) {
		long el = first ? (long)(time(NULL) - first) : 0;
		out_line(d->ctx->out, "== %s (time budget %ldm, elapsed %ldm)", s->title,
			 s->budget / 60, el / 60);
		if (el > s->budget)
			out_warn(d->ctx->out, "section '%s' is over its time budget of %ld minutes",
				 s->title, s->budget / 60);
	} else
		out_line(d->ctx->out, "== %s", s->title);
}

static void notify_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	char *subj = wz_expand(d->r, d->ctx->cfg, st->subject);
	char *body = wz_expand(d->r, d->ctx->cfg, st->body);
	char where[4400], err[1024];
	wz_step_begin(d->s, d->r);
	out_line(o, "  Subject: %s", subj);
	if (wz_notify(d->ctx->cfg, subj, body, where, sizeof where, err, sizeof err) == 0) {
		out_line(o, "  -> sent to %s", where);
		wz_step_end(d->s, d->r, WZ_DONE, -1, NULL, NULL, where);
	} else {
		out_err(o, "notification failed: %s", err);
		wz_step_end(d->s, d->r, WZ_FAILED, -1, NULL, err, NULL);
	}
	free(subj);
	free(body);
}

static void report_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	char path[4400], err[1024];
	wz_step_begin(d->s, d->r);
	if (wz_report_write(d->ctx->cfg, d->r, st, path, sizeof path, err, sizeof err) == 0) {
		out_line(o, "  -> written to %s", path);
		wz_step_end(d->s, d->r, WZ_DONE, -1, NULL, NULL, path);
	} else {
		out_err(o, "report not written: %s", err);
		wz_step_end(d->s, d->r, WZ_FAILED, -1, NULL, err, NULL);
	}
}

static void approval_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	/* The approver sees what did not run, and what failed, before giving a name. */
	char *pb = wz_problems(d->r, d->ctx->cfg);
	if (pb) {
		out_line(o, "  Before approving: these steps were skipped or failed:");
		print_lines(o, "    ", pb);
		free(pb);
	} else
		out_line(o, "  Before approving: no step was skipped and none failed.");
	char *name = ask(o, rb_kind(st->kind)->ask);
	if (!name || !*name) {
		free(name);
		char *ans = name ? ask(o, "  [s]kip / [b]ack / [a]bort / [q] pause:") : NULL;
		enum act a = parse_act(ans, 0);
		free(ans);
		common_act(d, a == ACT_BAD || a == ACT_GO ? ACT_HELP : a, st);
		return;
	}
	char prompt[256];
	snprintf(prompt, sizeof prompt,
		 "  Type '%s' to approve (anything else rejects):", st->phrase);
	char *typed = ask(o, prompt);
	if (!typed) {
		free(name);
		common_act(d, ACT_EOF, st);
		return;
	}
	char detail[256];
	wz_step_begin(d->s, d->r);
	if (strcmp(typed, st->phrase) == 0) {
		snprintf(detail, sizeof detail, "approved by %s", name);
		out_line(o, "  -> %s", detail);
		wz_step_end(d->s, d->r, WZ_DONE, -1, NULL, NULL, detail);
	} else {
		snprintf(detail, sizeof detail, "rejected by %s", name);
		out_line(o, "  -> %s", detail);
		wz_step_end(d->s, d->r, WZ_FAILED, -1, NULL, "not approved", detail);
	}
	free(name);
	free(typed);
}

/* A choice: the rows as a numbered list, the preselected one marked; a number picks, Enter
 * takes the marked row. No rows: the step fails (on_fail decides; by default the operator
 * is asked to retry, skip or abort). */
static void choice_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	struct wz_choice c;
	char *argv[RB_MAX_ARGV + 1], err[512], shown[1024] = "";
	size_t sl = 0;
	int ac = wz_step_argv_checked(d->r, d->ctx->cfg, st, argv, err, sizeof err);
	for (int i = 0; i < ac && sl < sizeof shown; i++)
		sl += (size_t)snprintf(shown + sl, sizeof shown - sl, " %s", argv[i]);
	if (ac > 0)
		wz_argv_free(argv);
	out_line(o, "  $ midsops%s", shown);
	if (wz_choice_load(d->r, d->ctx->cfg, d->ctx->target, st, &c) == 0) {
		out_err(o, "%s", c.error);
		wz_step_begin(d->s, d->r);
		wz_choice_fail(d->s, d->r, &c);
		wz_choice_free(&c);
		return;
	}
	for (int i = 0; i < c.n; i++)
		out_line(o, "  %c %2d) %s", i == c.def ? '*' : ' ', i + 1, c.labels[i]);
	char *ans = ask(o, rb_kind(st->kind)->ask);
	const char *a = ans;
	while (a && *a == ' ')
		a++;
	char *end = NULL;
	long num = a && *a >= '0' && *a <= '9' ? strtol(a, &end, 10) : -1;
	/* Enter (or y, the usual go-ahead) takes the marked row. */
	if (a && (!*a || parse_act(a, 1) == ACT_GO))
		num = c.def + 1, end = NULL;
	if (num >= 1 && num <= c.n && (!end || !*end)) {
		wz_step_begin(d->s, d->r);
		wz_choice_pick(d->s, d->r, &c, (int)num - 1);
		out_line(o, "  -> %s = %s (%s)", st->param, wz_param(d->r, st->param),
			 c.labels[num - 1]);
	} else if (num >= 0)
		out_line(o, "  (a number from 1 to %d, or Enter for %d)", c.n, c.def + 1);
	else {
		enum act act = parse_act(ans, 0);
		if (act == ACT_NO || act == ACT_BAD)
			out_line(o, "  (a number from 1 to %d, Enter for %d, or s, b, a, q, ?)",
				 c.n, c.def + 1);
		else
			common_act(d, act, st);
	}
	free(ans);
	wz_choice_free(&c);
}

/* Run the step the way its kind runs, once it has the go-ahead. */
static void run_step(struct drive *d, const struct rb_step *st)
{
	const struct rb_kind_info *k = rb_kind(st->kind);
	switch (k->how) {
	case RB_HOW_ACK:
		wz_step_end(d->s, d->r, WZ_DONE, -1, NULL, NULL, k->ack);
		break;
	case RB_HOW_COMMAND:
		run_command_step(d, st);
		break;
	case RB_HOW_NOTIFY:
		notify_step(d, st);
		break;
	case RB_HOW_REPORT:
		report_step(d, st);
		break;
	case RB_HOW_WAIT:
		run_wait_step(d, st);
		break;
	case RB_HOW_APPROVE:
		approval_step(d, st);
		break;
	case RB_HOW_BRANCH:
		break;
	case RB_HOW_CHOICE:
		choice_step(d, st);
		break;
	}
}

/* One turn at the current step: decide it by itself, or ask what the kind asks. */
static void drive_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	struct wz_run *r = d->r;
	const struct rb_kind_info *k = rb_kind(st->kind);
	if (k->how == RB_HOW_BRANCH) {
		int yes = wz_branch_auto(r, st);
		if (yes >= 0) {
			char why[600], worst[512];
			wz_worst_text(r, d->ctx->cfg, worst, sizeof worst);
			snprintf(why, sizeof why, "worst so far: %s", worst);
			out_line(o, "  -> %s (%s)", yes ? "yes" : "no", why);
			wz_branch(d->s, r, yes, why);
			return;
		}
	}
	if (k->how == RB_HOW_APPROVE) {
		approval_step(d, st);
		return;
	}
	if (k->how == RB_HOW_CHOICE) {
		choice_step(d, st);
		return;
	}
	enum act a = ACT_GO;
	if (k->ask && (k->ask_always || !d->nonint)) {
		char *ans = ask(o, k->ask);
		a = parse_act(ans, k->enter_is_go);
		free(ans);
	}
	if (k->how == RB_HOW_BRANCH && (a == ACT_GO || a == ACT_NO))
		wz_branch(d->s, r, a == ACT_GO, "operator's answer");
	else if (a == ACT_NO && k->on_no)
		out_line(o, "  %s", k->on_no);
	else if (a != ACT_GO)
		common_act(d, a, st);
	else
		run_step(d, st);
}

/* "name = 'value', ..." of the step's parameters. */
static const char *params_now(struct drive *d, const char **names, int np)
{
	static char list[1024];
	size_t l = 0;
	list[0] = 0;
	for (int i = 0; i < np && l < sizeof list; i++) {
		const char *v = wz_param(d->r, names[i]);
		l += (size_t)snprintf(list + l, sizeof list - l, "%s%s = '%.200s'", i ? ", " : "",
				      names[i], v ? v : "");
	}
	return list;
}

/* A new value for one of the step's parameters, checked as at start; the step then runs
 * again with it. */
static void edit_param(struct drive *d, const char **names, int np)
{
	struct out *o = d->ctx->out;
	const char *name = names[0];
	char prompt[600], err[1024];
	if (np > 1) {
		snprintf(prompt, sizeof prompt,
			 "  Which parameter (%s)? [%s]:", params_now(d, names, np), names[0]);
		char *which = ask(o, prompt);
		if (!which)
			return;
		for (int i = 0; which[0] && i < np; i++)
			if (strcmp(which, names[i]) == 0)
				name = names[i];
		int found = !which[0] || strcmp(which, name) == 0;
		free(which);
		if (!found) {
			out_line(o, "  (not one of the step's parameters)");
			return;
		}
	}
	const struct rb_param *p = NULL;
	for (int k = 0; k < d->r->rb->nparams; k++)
		if (strcmp(d->r->rb->params[k].name, name) == 0)
			p = &d->r->rb->params[k];
	const char *cur = wz_param(d->r, name);
	snprintf(prompt, sizeof prompt, "  New value for %s (%s; now '%.200s'):", name,
		 p ? p->prompt : name, cur ? cur : "");
	char *v = ask(o, prompt);
	if (!v)
		return;
	if (!p || rb_param_value_ok(d->r->rb, name, v, err, sizeof err) < 0 ||
	    wz_param_check(p, d->ctx->cfg, v, err, sizeof err) < 0) {
		out_err(o, "wizard: %s", p ? err : "no such parameter");
		free(v);
		return;
	}
	wz_param_set(d->r, name, v);
	wz_save(d->s, d->r);
	out_line(o, "  -> %s = %s; the step runs again with it", name, v);
	free(v);
}

/* A step reached by going back shows its last result and runs only when the operator says
 * so (r); c keeps that result and goes on. Returns 0 when the step is to run as usual. */
static int revisit_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	struct wz_run *r = d->r;
	const struct wz_attempt *last = wz_last_result(r, r->cursor);
	d->revisit = 0;
	if (!last)
		return 0;
	char res[800];
	wz_result_text(last, res, sizeof res);
	out_line(o, "  last result: %s", res);
	char *ans = ask(o, "  [r]un it again / [c]ontinue with that result / [s]kip / [b]ack / "
			   "[a]bort / [q] leave / [?]:");
	int c0 = ans ? ans[0] : 0;
	enum act a = parse_act(ans, 0);
	free(ans);
	if (c0 == 'r' || c0 == 'R')
		return 0;
	int cursor = r->cursor;
	if (c0 == 'c' || c0 == 'C' || c0 == 'y' || c0 == 'Y') {
		out_line(o, "  -> kept: %s", res);
		wz_keep(d->s, r);
		return 1;
	}
	common_act(d, a == ACT_NO || a == ACT_GO ? ACT_BAD : a, st);
	if (r->cursor == cursor && !wz_finished(r) && r->status != WZ_RUN_PAUSED)
		d->revisit = cursor + 1;
	return 1;
}

/* A failure that nobody decided about keeps the cursor on the step: ask what next.
 * Returns -1 when the run ends here (--non-interactive). */
static int drive_failed(struct drive *d, const struct rb_step *st)
{
	char why[256];
	snprintf(why, sizeof why, "step '%s' failed", st->id);
	if (d->nonint) {
		wz_fail(d->s, d->r, why);
		return -1;
	}
	const char *names[WZ_MAX_PARAMS];
	int np = wz_step_params(d->r, st, names, WZ_MAX_PARAMS);
	char prompt[512];
	snprintf(prompt, sizeof prompt,
		 "  Step failed: [r]etry / %s[c]ontinue anyway / [s]kip / "
		 "[b]ack / [a]bort / [q] pause:",
		 np ? "[e]dit a parameter / " : "");
	if (np)
		out_line(d->ctx->out, "  it uses %s", params_now(d, names, np));
	char *ans = ask(d->ctx->out, prompt);
	enum act a = parse_act(ans, 0);
	int cont = ans && (ans[0] == 'c' || ans[0] == 'C');
	int edit = np && ans && (ans[0] == 'e' || ans[0] == 'E');
	free(ans);
	if (edit)
		edit_param(d, names, np);
	else if (cont)
		wz_skip(d->s, d->r, "operator continued after the failure");
	else if (a != ACT_GO)
		common_act(d, a == ACT_BAD ? ACT_HELP : a, st);
	return 0;
}

/* The step as it comes on screen; it is under way from then on. */
static void show_step(struct drive *d, const struct rb_step *st)
{
	struct out *o = d->ctx->out;
	struct wz_run *r = d->r;
	char *t = wz_expand(r, d->ctx->cfg, st->title);
	out_line(o, "[%d/%d] %s (%s)", r->cursor + 1, r->rb->nsteps, t, rb_kind_name(st->kind));
	free(t);
	if (st->help) {
		char *h = wz_expand(r, d->ctx->cfg, st->help);
		print_lines(o, "  ", h);
		free(h);
	}
	/* A process killed at its prompt leaves it recorded as interrupted. */
	wz_step_begin(d->s, r);
}

/* Drive the run until it ends or pauses. */
static void drive(struct drive *d)
{
	struct out *o = d->ctx->out;
	struct wz_run *r = d->r;
	const struct runbook *rb = r->rb;
	int last_section = -1, shown_step = -1, shown_attempts = -1;
	while (!wz_finished(r) && r->status != WZ_RUN_PAUSED) {
		wz_store_online(d->s);
		if (d->s->note[0] && strcmp(d->s->note, d->note) != 0) {
			out_warn(o, "%s", d->s->note);
			snprintf(d->note, sizeof d->note, "%s", d->s->note);
		}
		const struct rb_step *st = &rb->steps[r->cursor];
		if (st->section != last_section) {
			section_header(d, st->section);
			last_section = st->section;
		}
		if (shown_step != r->cursor || shown_attempts != r->nattempts) {
			show_step(d, st);
			shown_step = r->cursor;
			shown_attempts = r->nattempts;
		}
		int cursor_before = r->cursor;
		if (d->revisit != r->cursor + 1 || !revisit_step(d, st))
			drive_step(d, st);
		if (!wz_finished(r) && r->status != WZ_RUN_PAUSED && r->cursor == cursor_before &&
		    r->nattempts > 0 && r->attempts[r->nattempts - 1].step == r->cursor &&
		    r->attempts[r->nattempts - 1].outcome == WZ_FAILED) {
			if (drive_failed(d, st) < 0)
				break;
			shown_attempts = -1;
		}
	}
	wz_reports_refresh(d->ctx->cfg, r);
}

static int run_exit(const struct wz_run *r)
{
	if (wz_status_live(r->status))
		return 75;
	if (r->status == WZ_RUN_DONE)
		return r->worst;
	return r->worst > ST_CRITICAL ? r->worst : ST_CRITICAL;
}

static void summary(struct drive *d)
{
	struct out *o = d->ctx->out;
	struct wz_run *r = d->r;
	char ref[64];
	out_line(o, "%s", "");
	out_section(o, "run");
	out_kv(o, "run", "%s", run_ref(r, ref, sizeof ref));
	out_kv(o, "runbook", "%s", r->runbook);
	out_kv(o, "status", "%s%s%s%s", wz_status_name(r->status), r->reason[0] ? " (" : "",
	       r->reason, r->reason[0] ? ")" : "");
	char worst[512];
	wz_worst_text(r, d->ctx->cfg, worst, sizeof worst);
	out_kv_status(o, "worst", (enum status)r->worst, "%s", worst);
	out_kv(o, "recorded", "%s",
	       r->synced ? "database and local state" : "local state only (database unreachable)");
	out_section_end(o);
	const char *cols[] = {"step", "title", "outcome"};
	out_table_begin(o, "steps", 3, cols);
	for (int i = 0; i < r->rb->nsteps; i++) {
		enum wz_outcome oc = wz_step_state(r, i);
		char *title = wz_expand(r, d->ctx->cfg, r->rb->steps[i].title);
		out_rowf(o, r->rb->steps[i].id, title,
			 oc == WZ_NONE ? (i == r->cursor && !wz_finished(r) ? "current" : "pending")
				       : wz_outcome_name(oc));
		free(title);
	}
	out_table_end(o);
	out_line(o, "transcript: midsops wizard show %s", ref);
}

static int param_check(const struct runbook *rb, const struct config *cfg, const char *name,
		       const char *value, char *err, size_t errlen)
{
	for (int k = 0; k < rb->nparams; k++)
		if (strcmp(rb->params[k].name, name) == 0)
			return wz_param_check(&rb->params[k], cfg, value, err, errlen);
	return 0;
}

static int params_fill(struct drive *d, struct wz_run *r, int first_arg)
{
	struct cmd_ctx *ctx = d->ctx;
	char err[1024];
	for (int i = first_arg; i < ctx->args->argc; i++) {
		char *a = ctx->args->argv[i], *eq = strchr(a, '=');
		if (!eq) {
			out_err(ctx->out, "wizard: '%s' is not NAME=VALUE", a);
			return EXIT_USAGE;
		}
		*eq = 0;
		int known = 0;
		for (int k = 0; k < r->rb->nparams; k++)
			known |= strcmp(r->rb->params[k].name, a) == 0;
		if (!known) {
			out_err(ctx->out, "wizard: runbook %s has no parameter '%s'", r->runbook,
				a);
			*eq = '=';
			return EXIT_USAGE;
		}
		/* Refused now rather than at the step that would take it for an option. */
		if (rb_param_value_ok(r->rb, a, eq + 1, err, sizeof err) < 0 ||
		    param_check(r->rb, ctx->cfg, a, eq + 1, err, sizeof err) < 0) {
			out_err(ctx->out, "wizard: %s", err);
			*eq = '=';
			return EXIT_USAGE;
		}
		wz_param_set(r, a, eq + 1);
		*eq = '=';
	}
	for (int k = 0; k < r->rb->nparams; k++) {
		const struct rb_param *p = &r->rb->params[k];
		if (wz_param(r, p->name) || p->set_by)
			continue; /* given, or a choice step sets it from a list */
		if (d->nonint) {
			if (!p->def) {
				out_err(ctx->out, "wizard: runbook %s needs %s (%s): pass %s=VALUE",
					r->runbook, p->name, p->prompt, p->name);
				return EXIT_USAGE;
			}
			if (wz_param_check(p, ctx->cfg, p->def, err, sizeof err) < 0) {
				out_err(ctx->out, "wizard: %s; pass %s=VALUE", err, p->name);
				return EXIT_USAGE;
			}
			wz_param_set(r, p->name, p->def);
			continue;
		}
		char prompt[512];
		snprintf(prompt, sizeof prompt, "%s%s%s%s:", p->prompt, p->def ? " [" : "",
			 p->def ? p->def : "", p->def ? "]" : "");
		/* A wrong answer is said and asked again (three times), never taken. */
		for (int tries = 0;; tries++) {
			char *v = ask(ctx->out, prompt);
			if (!v) {
				out_err(ctx->out, "wizard: no value for %s", p->name);
				return EXIT_USAGE;
			}
			const char *val = *v ? v : (p->def ? p->def : "");
			if (rb_param_value_ok(r->rb, p->name, val, err, sizeof err) < 0 ||
			    wz_param_check(p, ctx->cfg, val, err, sizeof err) < 0) {
				out_err(ctx->out, "wizard: %s", err);
				free(v);
				if (tries < 2)
					continue;
				return EXIT_USAGE;
			}
			wz_param_set(r, p->name, val);
			free(v);
			break;
		}
	}
	return 0;
}

/* A maintenance runbook outside the window starts only when the operator says yes (the
 * default is no), or with --yes; with --non-interactive and no --yes it is refused. */
static int window_ok(struct cmd_ctx *ctx, const struct runbook *rb, int nonint)
{
	if (!rb->maintenance || rb_in_window(ctx->cfg->maintenance_window, time(NULL)) != 0)
		return 1;
	out_warn(ctx->out,
		 "runbook %s belongs in the maintenance window (%s); it is outside it now",
		 rb->name, ctx->cfg->maintenance_window);
	if (args_has(ctx->args, "yes"))
		return 1;
	if (nonint) {
		out_err(ctx->out,
			"wizard: %s not started outside the maintenance window; pass --yes "
			"to start it anyway",
			rb->name);
		return 0;
	}
	char *ans = ask(ctx->out, "Start it outside the maintenance window? [y/N]:");
	int yes = ans && (ans[0] == 'y' || ans[0] == 'Y');
	free(ans);
	if (!yes)
		out_err(ctx->out, "wizard: %s not started (outside the maintenance window)",
			rb->name);
	return yes;
}

/* Start NAME and drive it. */
static int start_run(struct cmd_ctx *ctx, const char *name, int first_param, int nonint,
		     struct runbook *rb_given)
{
	char err[2048], op[64];
	struct runbook *rb = rb_given ? rb_given : rb_load(name, err, sizeof err);
	if (!rb) {
		out_err(ctx->out, "%s", err);
		return EXIT_CONFIG;
	}
	int human = rb_needs_human(rb);
	if (nonint && human >= 0) {
		out_err(ctx->out,
			"runbook %s needs a human decision at step '%s' (%s); run it without "
			"--non-interactive",
			rb->name, rb->steps[human].id, rb_kind_name(rb->steps[human].kind));
		rb_free(rb);
		return EXIT_USAGE;
	}
	/* The cron commands (rb_given) run when cron says; a person starting it is asked. */
	if (!rb_given && !window_ok(ctx, rb, nonint)) {
		rb_free(rb);
		return EXIT_USAGE;
	}
	rb_operator_name(args_get(ctx->args, "operator"), op, sizeof op);
	struct wz_store s;
	wz_store_open(&s, ctx->cfg, ctx->target);
	struct wz_run *r = wz_run_new(rb, op);
	struct drive d = {.ctx = ctx, .s = &s, .r = r, .nonint = nonint};
	int rc = params_fill(&d, r, first_param);
	if (rc) {
		wz_run_free(r);
		wz_store_close(&s);
		return rc;
	}
	if (wz_lock(&s, r, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		wz_run_free(r);
		wz_store_close(&s);
		return EXIT_FAIL;
	}
	wz_save(&s, r);
	char ref[64];
	out_line(ctx->out, "# %s: run %s by %s on %s", rb->title, run_ref(r, ref, sizeof ref),
		 r->operator_, r->host);
	if (r->incident)
		out_line(ctx->out, "attached to incident #%lld (its report lists this run's steps)",
			 r->incident);
	if (s.note[0]) {
		out_warn(ctx->out, "%s", s.note);
		snprintf(d.note, sizeof d.note, "%s", s.note);
	}
	if (rb->description)
		print_lines(ctx->out, "", rb->description);
	drive(&d);
	summary(&d);
	rc = run_exit(r);
	wz_unlock(&s, r);
	wz_run_free(r);
	wz_store_close(&s);
	return rc;
}

static int wizard_resume(struct cmd_ctx *ctx, const char *ref, int nonint)
{
	char err[2048], op[64];
	struct wz_store s;
	wz_store_open(&s, ctx->cfg, ctx->target);
	struct wz_run *r = wz_load(&s, ref, err, sizeof err);
	if (!r) {
		out_err(ctx->out, "%s", err);
		wz_store_close(&s);
		return EXIT_FAIL;
	}
	if (wz_finished(r)) {
		out_err(ctx->out, "run %s has already ended (%s); 'midsops wizard show %s'", ref,
			wz_status_name(r->status), ref);
		wz_run_free(r);
		wz_store_close(&s);
		return EXIT_FAIL;
	}
	if (wz_lock(&s, r, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		wz_run_free(r);
		wz_store_close(&s);
		return EXIT_FAIL;
	}
	rb_operator_name(args_get(ctx->args, "operator"), op, sizeof op);
	snprintf(r->driver, sizeof r->driver, "%s", op);
	r->status = WZ_RUN_RUNNING;
	wz_save(&s, r);
	out_line(ctx->out, "# %s: resuming run %s (started by %s) at step '%s'", r->title, ref,
		 r->operator_, r->rb->steps[r->cursor].id);
	struct drive d = {.ctx = ctx, .s = &s, .r = r, .nonint = nonint};
	drive(&d);
	summary(&d);
	int rc = run_exit(r);
	wz_unlock(&s, r);
	wz_run_free(r);
	wz_store_close(&s);
	return rc;
}

static void fmt_when(time_t t, char *buf, size_t n)
{
	if (!t) {
		snprintf(buf, n, "-");
		return;
	}
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
}

static int wizard_list(struct cmd_ctx *ctx)
{
	struct rb_entry e[128];
	int n = rb_list(e, 128);
	const char *cols[] = {"runbook", "title", "steps", "source", "valid"};
	out_table_begin(ctx->out, "runbooks", 5, cols);
	for (int i = 0; i < n; i++) {
		char err[1024], steps[16] = "-";
		struct runbook *rb = rb_load_file(e[i].path, err, sizeof err);
		if (rb)
			snprintf(steps, sizeof steps, "%d", rb->nsteps);
		out_rowf(ctx->out, e[i].name, rb ? rb->title : "", steps,
			 e[i].shipped ? "shipped" : "user", rb ? "yes" : err);
		rb_free(rb);
	}
	out_table_end(ctx->out);
	struct wz_store s;
	wz_store_open(&s, ctx->cfg, ctx->target);
	static struct wz_summary w[256];
	char err[1024];
	int m = wz_list(&s, w, 256, err, sizeof err);
	if (m < 0)
		out_err(ctx->out, "cannot list runs: %s", err);
	const char *rcols[] = {"run",  "runbook", "status", "step", "operator",
			       "host", "started", "active", "where"};
	out_table_begin(ctx->out, "runs", 9, rcols);
	for (int i = 0; i < m; i++) {
		char id[64], st[32];
		if (w[i].id)
			snprintf(id, sizeof id, "%lld", w[i].id);
		else
			snprintf(id, sizeof id, "%s", w[i].local_id);
		fmt_when(w[i].started, st, sizeof st);
		out_rowf(ctx->out, id, w[i].runbook, wz_status_name(w[i].status), w[i].step,
			 w[i].operator_, w[i].host, st, w[i].active ? "driven now" : "",
			 w[i].offline ? "local only" : "database");
	}
	out_table_end(ctx->out);
	if (!s.conn)
		out_warn(ctx->out, "%s", s.note);
	wz_store_close(&s);
	return 0;
}

static int wizard_show(struct cmd_ctx *ctx, const char *ref)
{
	char err[2048];
	struct wz_store s;
	wz_store_open(&s, ctx->cfg, ctx->target);
	struct wz_run *r = wz_load(&s, ref, err, sizeof err);
	wz_store_close(&s);
	if (!r) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	char *t = wz_transcript_cfg(r, ctx->cfg);
	print_lines(ctx->out, "", t);
	free(t);
	wz_run_free(r);
	return 0;
}

static int wizard_validate(struct cmd_ctx *ctx)
{
	int bad = 0;
	struct rb_entry e[128];
	int n;
	if (ctx->args->argc > 1) {
		n = 0;
		for (int i = 1; i < ctx->args->argc && n < 128; i++, n++) {
			const char *a = ctx->args->argv[i];
			memset(&e[n], 0, sizeof e[n]);
			if (strchr(a, '/') || strstr(a, ".json"))
				snprintf(e[n].path, sizeof e[n].path, "%s", a);
			else {
				char err[1024];
				struct runbook *rb = rb_load(a, err, sizeof err);
				if (!rb) {
					out_err(ctx->out, "%s", err);
					bad = 1;
					n--;
					continue;
				}
				snprintf(e[n].path, sizeof e[n].path, "%s", rb->path);
				rb_free(rb);
			}
		}
	} else
		n = rb_list(e, 128);
	for (int i = 0; i < n; i++) {
		char err[2048];
		struct runbook *rb = rb_load_file(e[i].path, err, sizeof err);
		if (rb)
			out_line(ctx->out, "%s: ok (%d sections, %d steps)", e[i].path,
				 rb->nsections, rb->nsteps);
		else {
			out_err(ctx->out, "%s", err);
			bad = 1;
		}
		rb_free(rb);
	}
	return bad ? EXIT_FAIL : 0;
}

static int cmd_wizard_exec(struct cmd_ctx *ctx)
{
	struct args *a = ctx->args;
	int nonint = args_has(a, "non-interactive");
	if (a->argc == 0 || strcmp(a->argv[0], "list") == 0)
		return wizard_list(ctx);
	const char *sub = a->argv[0];
	if (strcmp(sub, "show") == 0 || strcmp(sub, "resume") == 0) {
		if (a->argc != 2) {
			out_err(ctx->out, "wizard %s: needs a run id (see 'midsops wizard list')",
				sub);
			return EXIT_USAGE;
		}
		return sub[0] == 's' ? wizard_show(ctx, a->argv[1])
				     : wizard_resume(ctx, a->argv[1], nonint);
	}
	if (strcmp(sub, "validate") == 0)
		return wizard_validate(ctx);
	if (strcmp(sub, "sync") == 0) {
		struct wz_store s;
		char err[1024] = "";
		wz_store_open(&s, ctx->cfg, ctx->target);
		if (!s.conn) {
			out_err(ctx->out, "%s", s.note);
			wz_store_close(&s);
			return EXIT_FAIL;
		}
		int n = wz_store_sync(&s, err, sizeof err);
		wz_store_close(&s);
		out_kv_int(ctx->out, "synced", n);
		return 0;
	}
	if (strcmp(sub, "run") == 0 && a->argc >= 2)
		return start_run(ctx, a->argv[1], 2, nonint, NULL);
	return start_run(ctx, sub, 1, nonint, NULL);
}

/* daily-check and weekly-maintenance: the runbook, non-interactively, for cron. */
static int procedure(struct cmd_ctx *ctx, const char *name)
{
	char err[2048];
	struct runbook *rb = rb_load(name, err, sizeof err);
	if (!rb) {
		out_err(ctx->out, "%s", err);
		out_status(ctx->out, ST_UNKNOWN, "%s could not run: runbook refused", name);
		return ST_UNKNOWN;
	}
	int rc = start_run(ctx, name, 0, 1, rb);
	if (rc == EXIT_USAGE || rc == EXIT_CONFIG || rc == EXIT_FAIL + 74)
		rc = ST_UNKNOWN;
	if (rc > ST_UNKNOWN)
		rc = ST_UNKNOWN;
	out_status(ctx->out, (enum status)rc, "%s finished: %s", name,
		   rc == 0 ? "no issues" : "issues found, see the report above");
	return rc;
}

static int cmd_daily_check_exec(struct cmd_ctx *ctx)
{
	return procedure(ctx, "daily-check");
}

static int cmd_weekly_maintenance_exec(struct cmd_ctx *ctx)
{
	return procedure(ctx, "weekly-maintenance");
}

const struct cmd_entry cmd_runbook_table[] = {
    {
	.name = "wizard",
	.options = "non-interactive operator= yes",
	.max_args = -1,
	.summary = "Guided runbooks: list, start NAME, show RUN, resume RUN, validate, sync",
	.usage = "wizard [list | NAME [PARAM=VALUE...] | show RUN | resume RUN | validate "
		 "[NAME|FILE...] | sync] [--non-interactive] [--operator NAME] [--yes]",
	.complete = COMPLETE_RUNBOOK,
	.exec = cmd_wizard_exec,
    },
    {
	.name = "daily-check",
	.options = "operator=",
	.summary = "The morning health check runbook, non-interactively (for cron); exits with "
		   "the worst status",
	.usage = "daily-check [--operator NAME] [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_daily_check_exec,
    },
    {
	.name = "weekly-maintenance",
	.options = "operator=",
	.summary = "The weekly maintenance runbook, non-interactively (for cron); writes the "
		   "weekly report",
	.usage = "weekly-maintenance [--operator NAME] [--json]",
	.flags = CMD_CHECK | CMD_DESTRUCTIVE,
	.exec = cmd_weekly_maintenance_exec,
    },
    {0},
};
