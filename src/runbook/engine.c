/* The wizard state machine, command steps as child processes, notifications and
 * reports. No terminal I/O here: line mode and the console both drive these calls. */
#include "runbook.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "notify.h"
#include "paths.h"
#include "proc.h"
#include "target.h"

#define EXCERPT_MAX 4000

/* The reason recorded on a step left by going back (not a result of the step). */
static const char back_reason[] = "operator went back";

static const char *const outcome_names[] = {"pending", "running", "done",	"warning",
					    "failed",  "skipped", "interrupted"};

const char *wz_outcome_name(enum wz_outcome o)
{
	return o <= WZ_INTERRUPTED ? outcome_names[o] : "?";
}

struct wz_run *wz_run_new(struct runbook *rb, const char *operator_)
{
	struct wz_run *r = xcalloc(1, sizeof *r);
	r->rb = rb;
	snprintf(r->runbook, sizeof r->runbook, "%s", rb->name);
	snprintf(r->title, sizeof r->title, "%s", rb->title);
	snprintf(r->operator_, sizeof r->operator_, "%s", operator_);
	snprintf(r->driver, sizeof r->driver, "%s", operator_);
	gethostname(r->host, sizeof r->host - 1);
	r->status = WZ_RUN_RUNNING;
	r->started = r->updated = time(NULL);
	unsigned rnd = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &rnd, sizeof rnd) != (ssize_t)sizeof rnd)
			rnd = (unsigned)getpid();
		close(fd);
	}
	snprintf(r->local_id, sizeof r->local_id, "L%lx%05x%04x", (unsigned long)r->started,
		 (unsigned)getpid() & 0xfffff, rnd & 0xffff);
	r->history = xcalloc(1, sizeof *r->history);
	return r;
}

void wz_run_free(struct wz_run *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nattempts; i++) {
		free(r->attempts[i].excerpt);
		free(r->attempts[i].reason);
		free(r->attempts[i].detail);
	}
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i].value);
	free(r->attempts);
	free(r->history);
	rb_free(r->rb);
	free(r);
}

const char *wz_param(const struct wz_run *r, const char *name)
{
	for (int i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

void wz_param_set(struct wz_run *r, const char *name, const char *value)
{
	for (int i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0) {
			free(r->params[i].value);
			r->params[i].value = xstrdup(value);
			return;
		}
	if (r->nparams >= WZ_MAX_PARAMS)
		return;
	snprintf(r->params[r->nparams].name, sizeof r->params[r->nparams].name, "%s", name);
	r->params[r->nparams++].value = xstrdup(value);
}

char *wz_expand(const struct wz_run *r, const struct config *cfg, const char *text)
{
	if (!text)
		return xstrdup("");
	size_t cap = strlen(text) + 256, len = 0;
	char *out = xmalloc(cap);
	for (const char *p = text; *p;) {
		char val[4200];
		const char *v = NULL;
		const char *e = p[0] == '$' && p[1] == '{' ? strchr(p, '}') : NULL;
		if (e) {
			char name[64];
			snprintf(name, sizeof name, "%.*s", (int)(e - p - 2), p + 2);
			time_t now = time(NULL);
			struct tm tm;
			localtime_r(&now, &tm);
			if (strcmp(name, "date") == 0)
				strftime(val, sizeof val, "%Y%m%d", &tm), v = val;
			else if (strcmp(name, "time") == 0)
				strftime(val, sizeof val, "%Y-%m-%d %H:%M", &tm), v = val;
			else if (strcmp(name, "run") == 0) {
				if (r->id)
					snprintf(val, sizeof val, "%lld", r->id);
				else
					snprintf(val, sizeof val, "%s", r->local_id);
				v = val;
			} else if (strcmp(name, "operator") == 0)
				v = r->operator_;
			else if (strcmp(name, "host") == 0)
				v = r->host;
			else if (strcmp(name, "runbook") == 0)
				v = r->runbook;
			else if (strcmp(name, "window") == 0)
				v = cfg ? cfg->maintenance_window : "";
			else
				v = wz_param(r, name);
			if (!v)
				v = "";
		}
		size_t add = v ? strlen(v) : 1;
		if (len + add + 1 > cap) {
			cap = (len + add + 1) * 2;
			out = xrealloc(out, cap);
		}
		if (v) {
			memcpy(out + len, v, add);
			len += add;
			p = e + 1;
		} else
			out[len++] = *p++;
	}
	out[len] = 0;
	return out;
}

/* ------------------------------------------------------------- state machine */

static const char *const status_names[] = {"running", "paused", "done", "failed", "aborted"};
#define NSTATUS (int)(sizeof status_names / sizeof status_names[0])

const char *wz_status_name(enum wz_status st)
{
	return (int)st >= 0 && (int)st < NSTATUS ? status_names[st] : "failed";
}

enum wz_status wz_status_parse(const char *name)
{
	for (int i = 0; name && i < NSTATUS; i++)
		if (strcmp(name, status_names[i]) == 0)
			return (enum wz_status)i;
	return WZ_RUN_FAILED;
}

int wz_status_live(enum wz_status st)
{
	return st == WZ_RUN_RUNNING || st == WZ_RUN_PAUSED;
}

int wz_finished(const struct wz_run *r)
{
	return !wz_status_live(r->status);
}

enum wz_outcome wz_step_state(const struct wz_run *r, int step)
{
	for (int i = r->nattempts - 1; i >= 0; i--)
		if (r->attempts[i].step == step)
			return r->attempts[i].outcome;
	return WZ_NONE;
}

static struct wz_attempt *add_attempt(struct wz_run *r, int step)
{
	r->attempts = xrealloc(r->attempts, ((size_t)r->nattempts + 1) * sizeof *r->attempts);
	struct wz_attempt *a = &r->attempts[r->nattempts++];
	memset(a, 0, sizeof *a);
	a->step = step;
	snprintf(a->step_id, sizeof a->step_id, "%s", r->rb->steps[step].id);
	a->started = time(NULL);
	a->outcome = WZ_RUNNING;
	a->exit_status = -1;
	snprintf(a->actor, sizeof a->actor, "%s", r->driver[0] ? r->driver : r->operator_);
	return a;
}

static struct wz_attempt *open_attempt(struct wz_run *r)
{
	if (r->nattempts > 0) {
		struct wz_attempt *a = &r->attempts[r->nattempts - 1];
		if (a->ended == 0 && a->step == r->cursor)
			return a;
	}
	return NULL;
}

static void finish_run(struct wz_run *r, enum wz_status status, const char *reason)
{
	r->status = status;
	if (reason)
		snprintf(r->reason, sizeof r->reason, "%s", reason);
	r->ended = time(NULL);
}

/* Move the cursor to target. Steps jumped over forwards are recorded as skipped with the
 * reason, so the transcript says why they did not run. */
static void jump(struct wz_run *r, int target, const char *why)
{
	r->history = xrealloc(r->history, ((size_t)r->nhistory + 1) * sizeof *r->history);
	r->history[r->nhistory++] = r->cursor;
	for (int i = r->cursor + 1; i < target && i < r->rb->nsteps; i++) {
		struct wz_attempt *a = add_attempt(r, i);
		a->ended = a->started;
		a->outcome = WZ_SKIPPED;
		a->reason = xstrdup(why);
		snprintf(a->actor, sizeof a->actor, "wizard");
	}
	r->cursor = target;
	if (r->cursor >= r->rb->nsteps)
		finish_run(r, WZ_RUN_DONE, NULL);
}

static void advance(struct wz_run *r, const char *target_id, const char *why)
{
	int t = target_id ? rb_step_index(r->rb, target_id) : -1;
	jump(r, t >= 0 ? t : r->cursor + 1, why);
}

int wz_save(struct wz_store *s, struct wz_run *r);

int wz_step_begin(struct wz_store *s, struct wz_run *r)
{
	if (!open_attempt(r))
		add_attempt(r, r->cursor);
	r->status = WZ_RUN_RUNNING;
	wz_save(s, r);
	return r->nattempts - 1;
}

static int attempt_status(const struct wz_attempt *a, const struct rb_step *st)
{
	/* Only commands judge the system; a rejected approval or a failed notification is
	 * recorded as failed but is not a health status. */
	if (st->kind != RB_COMMAND && st->kind != RB_CHECK)
		return 0;
	if (a->outcome == WZ_WARNING)
		return 1;
	if (a->outcome != WZ_FAILED)
		return 0;
	if (st->argc) {
		char err[256];
		const struct cmd_entry *ce = cmd_find(st->argv[0], err, sizeof err);
		if (ce && (ce->flags & CMD_CHECK) && a->exit_status >= 2 && a->exit_status <= 3)
			return a->exit_status;
	}
	return 2;
}

static char *excerpt_of(const char *output)
{
	if (!output)
		return NULL;
	size_t n = strlen(output);
	if (n <= EXCERPT_MAX)
		return xstrdup(output);
	const char *p = output + n - EXCERPT_MAX;
	while (*p && *p != '\n')
		p++;
	char *e = xmalloc(EXCERPT_MAX + 32);
	snprintf(e, EXCERPT_MAX + 32, "[...]\n%s", *p ? p + 1 : p);
	return e;
}

void wz_step_end(struct wz_store *s, struct wz_run *r, enum wz_outcome o, int exit_status,
		 const char *output, const char *reason, const char *detail)
{
	if (r->cursor >= r->rb->nsteps)
		return;
	struct wz_attempt *a = open_attempt(r);
	if (!a)
		a = add_attempt(r, r->cursor);
	const struct rb_step *st = &r->rb->steps[r->cursor];
	a->ended = time(NULL);
	a->outcome = o;
	a->exit_status = exit_status;
	free(a->excerpt), free(a->reason), free(a->detail);
	a->excerpt = excerpt_of(output);
	a->reason = reason ? xstrdup(reason) : NULL;
	a->detail = detail ? xstrdup(detail) : NULL;
	int stv = attempt_status(a, st);
	if (stv > r->worst)
		r->worst = stv;
	char why[256];
	if (o == WZ_DONE || o == WZ_WARNING) {
		snprintf(why, sizeof why, "'%s' succeeded", st->id);
		advance(r, st->on_ok ? st->on_ok : st->next, why);
	} else if (o == WZ_FAILED) {
		snprintf(why, sizeof why, "'%s' failed", st->id);
		switch (st->on_fail) {
		case RB_FAIL_CONTINUE:
			advance(r, st->next, why);
			break;
		case RB_FAIL_GOTO:
			advance(r, st->on_fail_goto, why);
			break;
		case RB_FAIL_STOP:
			finish_run(r, WZ_RUN_FAILED, why);
			break;
		default: /* ask: the cursor stays; the UI offers retry, skip or abort */
			break;
		}
	} else
		advance(r, st->next, why);
	r->updated = time(NULL);
	wz_save(s, r);
}

int wz_branch_auto(const struct wz_run *r, const struct rb_step *st)
{
	if (!st->condition || strcmp(st->condition, "ask") == 0)
		return -1;
	if (strcmp(st->condition, "failures") == 0)
		return r->worst > 0;
	/* last-failed: the most recent finished attempt of another step */
	for (int i = r->nattempts - 1; i >= 0; i--) {
		const struct wz_attempt *a = &r->attempts[i];
		if (a->step == r->cursor || a->outcome == WZ_SKIPPED || a->ended == 0)
			continue;
		return a->outcome == WZ_FAILED || a->outcome == WZ_WARNING;
	}
	return 0;
}

void wz_branch(struct wz_store *s, struct wz_run *r, int yes, const char *why)
{
	const struct rb_step *st = &r->rb->steps[r->cursor];
	struct wz_attempt *a = open_attempt(r);
	if (!a)
		a = add_attempt(r, r->cursor);
	a->ended = time(NULL);
	a->outcome = WZ_DONE;
	free(a->detail);
	char d[512];
	snprintf(d, sizeof d, "%s%s%s", yes ? "yes" : "no", why ? ": " : "", why ? why : "");
	a->detail = xstrdup(d);
	char reason[300];
	snprintf(reason, sizeof reason, "branch '%s' answered %s", st->title, yes ? "yes" : "no");
	advance(r, yes ? st->then_step : st->else_step, reason);
	r->updated = time(NULL);
	wz_save(s, r);
}

void wz_skip(struct wz_store *s, struct wz_run *r, const char *reason)
{
	if (r->cursor >= r->rb->nsteps)
		return;
	const struct rb_step *st = &r->rb->steps[r->cursor];
	struct wz_attempt *a = open_attempt(r);
	if (!a)
		a = add_attempt(r, r->cursor);
	a->ended = time(NULL);
	a->outcome = WZ_SKIPPED;
	free(a->reason);
	a->reason = xstrdup(reason && *reason ? reason : "(no reason given)");
	advance(r, st->next, "skipped");
	r->updated = time(NULL);
	wz_save(s, r);
}

const struct wz_attempt *wz_last_result(const struct wz_run *r, int step)
{
	for (int i = r->nattempts - 1; i >= 0; i--) {
		const struct wz_attempt *a = &r->attempts[i];
		if (a->step != step || !a->ended || a->outcome == WZ_NONE ||
		    a->outcome == WZ_RUNNING || a->outcome == WZ_INTERRUPTED)
			continue;
		/* Leaving a step by going back is no result of it. */
		if (a->outcome == WZ_SKIPPED && a->reason && strcmp(a->reason, back_reason) == 0)
			continue;
		return a;
	}
	return NULL;
}

void wz_result_text(const struct wz_attempt *a, char *buf, size_t n)
{
	int o = snprintf(buf, n, "%s", wz_outcome_name(a->outcome));
	if (o >= 0 && (size_t)o < n && a->exit_status >= 0)
		o += snprintf(buf + o, n - (size_t)o, " (exit %d)", a->exit_status);
	if (o >= 0 && (size_t)o < n && a->detail)
		o += snprintf(buf + o, n - (size_t)o, ": %.300s", a->detail);
	if (o >= 0 && (size_t)o < n && a->reason)
		snprintf(buf + o, n - (size_t)o, "%s%.300s", a->detail ? "; " : ": ", a->reason);
}

int wz_keep(struct wz_store *s, struct wz_run *r)
{
	const struct wz_attempt *last = wz_last_result(r, r->cursor);
	if (!last || r->cursor >= r->rb->nsteps)
		return -1;
	/* Copies: ending the step adds attempts, which may move the array. */
	enum wz_outcome o = last->outcome;
	int ex = last->exit_status;
	char *excerpt = last->excerpt ? xstrdup(last->excerpt) : NULL;
	char *reason = last->reason ? xstrdup(last->reason) : NULL;
	int yes = last->detail && strncmp(last->detail, "yes", 3) == 0;
	const struct rb_step *st = &r->rb->steps[r->cursor];
	if (st->kind == RB_BRANCH && o == WZ_DONE)
		wz_branch(s, r, yes, "the earlier answer, kept");
	else if (o == WZ_SKIPPED)
		wz_skip(s, r, reason);
	else
		wz_step_end(s, r, o, ex, excerpt, reason,
			    "the earlier result, kept (not run again)");
	free(excerpt);
	free(reason);
	return 0;
}

char *wz_problems(const struct wz_run *r, const struct config *cfg)
{
	struct strbuf b = {0};
	for (int i = 0; i < r->rb->nsteps; i++) {
		const struct wz_attempt *a = i == r->cursor ? NULL : wz_last_result(r, i);
		if (!a || (a->outcome != WZ_SKIPPED && a->outcome != WZ_FAILED))
			continue;
		char *t = wz_expand(r, cfg, r->rb->steps[i].title);
		strbuf_addf(&b, "step %d '%s': %s", i + 1, t,
			    a->outcome == WZ_SKIPPED ? "skipped" : "FAILED");
		if (a->exit_status >= 0)
			strbuf_addf(&b, " (exit %d)", a->exit_status);
		if (a->reason)
			strbuf_addf(&b, ": %s", a->reason);
		strbuf_addf(&b, "\n");
		free(t);
	}
	return b.s;
}

static int attempt_status(const struct wz_attempt *a, const struct rb_step *st);

void wz_worst_text(const struct wz_run *r, const struct config *cfg, char *buf, size_t n)
{
	snprintf(buf, n, "none (no check warned or failed)");
	for (int i = r->nattempts - 1; r->worst > 0 && r->rb && i >= 0; i--) {
		const struct wz_attempt *a = &r->attempts[i];
		if (a->step >= r->rb->nsteps ||
		    attempt_status(a, &r->rb->steps[a->step]) != r->worst)
			continue;
		char *t = wz_expand(r, cfg, r->rb->steps[a->step].title);
		snprintf(buf, n, "step %d '%.300s' %s", a->step + 1, t,
			 status_name((enum status)r->worst));
		free(t);
		return;
	}
	if (r->worst > 0)
		snprintf(buf, n, "%s", status_name((enum status)r->worst));
}

/* Whether word names ${name}. */
static int names_param(const char *word, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(word, "${"); p; p = strstr(p + 2, "${"))
		if (strncmp(p + 2, name, n) == 0 && p[2 + n] == '}')
			return 1;
	return 0;
}

int wz_step_params(const struct wz_run *r, const struct rb_step *st, const char **names, int max)
{
	int k = 0;
	for (int i = 0; i < r->rb->nparams && k < max; i++) {
		const char *name = r->rb->params[i].name;
		int uses = 0;
		for (int w = 0; w < st->argc; w++)
			uses |= names_param(st->argv[w], name);
		for (int w = 0; st->until && w < st->until->argc; w++)
			uses |= names_param(st->until->argv[w], name);
		if (uses)
			names[k++] = name;
	}
	return k;
}

int wz_back(struct wz_store *s, struct wz_run *r)
{
	if (r->nhistory == 0)
		return -1;
	struct wz_attempt *a = open_attempt(r);
	if (a) {
		a->ended = time(NULL);
		a->outcome = WZ_SKIPPED;
		a->reason = xstrdup(back_reason);
	}
	r->cursor = r->history[--r->nhistory];
	r->status = WZ_RUN_RUNNING;
	r->ended = 0;
	r->updated = time(NULL);
	wz_save(s, r);
	return 0;
}

void wz_abort(struct wz_store *s, struct wz_run *r, const char *reason)
{
	struct wz_attempt *a = open_attempt(r);
	if (a) {
		a->ended = time(NULL);
		a->outcome = WZ_SKIPPED;
		a->reason = xstrdup("run aborted");
	}
	finish_run(r, WZ_RUN_ABORTED, reason && *reason ? reason : "(no reason given)");
	r->updated = time(NULL);
	wz_save(s, r);
}

void wz_fail(struct wz_store *s, struct wz_run *r, const char *reason)
{
	finish_run(r, WZ_RUN_FAILED, reason);
	r->updated = time(NULL);
	wz_save(s, r);
}

void wz_pause(struct wz_store *s, struct wz_run *r)
{
	if (wz_finished(r))
		return;
	struct wz_attempt *a = open_attempt(r);
	if (a) {
		/* The step will be offered again on resume. */
		a->ended = time(NULL);
		a->outcome = WZ_INTERRUPTED;
		a->reason = xstrdup("paused by the operator");
	}
	r->status = WZ_RUN_PAUSED;
	r->updated = time(NULL);
	wz_save(s, r);
}

/* ------------------------------------------------------------ child commands */

enum wz_outcome wz_outcome_for(const char *cmdname, int exit_status)
{
	if (exit_status == 0)
		return WZ_DONE;
	char err[256];
	const struct cmd_entry *ce = cmd_find(cmdname, err, sizeof err);
	if (ce && (ce->flags & CMD_CHECK) && exit_status == 1)
		return WZ_WARNING;
	return WZ_FAILED;
}

/* Each ${...} of a command word, for rb_param_value_ok: a value is data, and one that
 * starts with '-' would be read as an option ("--dsn=host=evil"). Built-ins (operator,
 * host...) are held to the same rule, with no allow_dash. */
static int word_values_ok(const struct wz_run *r, const struct config *cfg, const char *word,
			  char *err, size_t errlen)
{
	for (const char *p = strstr(word, "${"); p; p = strstr(p + 2, "${")) {
		const char *e = strchr(p, '}');
		if (!e)
			break;
		char name[64], ref[80];
		snprintf(name, sizeof name, "%.*s", (int)(e - p - 2), p + 2);
		snprintf(ref, sizeof ref, "${%s}", name);
		char *v = wz_expand(r, cfg, ref);
		int ok = rb_param_value_ok(r->rb, name, v, err, errlen) == 0;
		free(v);
		if (!ok)
			return -1;
	}
	return 0;
}

int wz_step_argv_checked(const struct wz_run *r, const struct config *cfg, const struct rb_step *st,
			 char *argv[RB_MAX_ARGV + 1], char *err, size_t errlen)
{
	int ac = 0;
	argv[0] = NULL;
	for (int i = 0; i < st->argc && ac < RB_MAX_ARGV; i++) {
		if (word_values_ok(r, cfg, st->argv[i], err, errlen) < 0)
			goto refuse;
		char *w = wz_expand(r, cfg, st->argv[i]);
		if (!w[0] && strstr(st->argv[i], "${")) {
			free(w);
			continue;
		}
		argv[ac++] = w;
		argv[ac] = NULL;
		if (ac > 1 && rb_word_retargets(w)) {
			snprintf(err, errlen,
				 "'%s': a step cannot choose its own --dsn or --config", w);
			goto refuse;
		}
	}
	argv[ac] = NULL;
	return ac;
refuse:
	wz_argv_free(argv);
	return -1;
}

/* Why wz_step_argv last refused, for wz_child_start: its callers (the console) know no
 * reason to ask for. */
static char argv_refusal[1024];

int wz_step_argv(const struct wz_run *r, const struct config *cfg, const struct rb_step *st,
		 char *argv[RB_MAX_ARGV + 1])
{
	argv_refusal[0] = 0;
	return wz_step_argv_checked(r, cfg, st, argv, argv_refusal, sizeof argv_refusal);
}

void wz_argv_free(char **argv)
{
	for (int i = 0; argv && argv[i]; i++) {
		free(argv[i]);
		argv[i] = NULL;
	}
}

const char *wz_exit_reason(int exit_status)
{
	if (exit_status == 127)
		return "the command could not start";
	if (exit_status == 64)
		return "usage error (exit 64)";
	return NULL;
}

int wz_child_start(struct wz_child *ch, const struct config *cfg, const struct target *t,
		   char *const *argv, char *err, size_t errlen)
{
	static char exe[4096];
	static int seq;
	memset(ch, 0, sizeof *ch);
	if (!argv || !argv[0]) {
		snprintf(err, errlen, "refused: %s",
			 argv_refusal[0] ? argv_refusal : "the step has no command");
		return -1;
	}
	/* Whoever built argv: a step never points a midsops child at another target or config
	 * (main takes these anywhere on the line). */
	for (int i = 1; argv[i]; i++)
		if (rb_word_retargets(argv[i])) {
			snprintf(err, errlen,
				 "refused: '%s': a step cannot choose its own --dsn or "
				 "--config",
				 argv[i]);
			return -1;
		}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot find this program (/proc/self/exe): %s",
			 strerror(errno));
		return -1;
	}
	exe[n] = 0;
	char dir[4200];
	/* A cut path would unlink and truncate some other file. */
	if (!util_fits(snprintf(dir, sizeof dir, "%s/wizards", paths_state_dir()), sizeof dir) ||
	    !util_fits(snprintf(ch->outpath, sizeof ch->outpath, "%s/out-%ld-%d.log", dir,
				(long)getpid(), ++seq),
		       sizeof ch->outpath)) {
		snprintf(err, errlen, "path too long: %.200s", paths_state_dir());
		return -1;
	}
	paths_mkdir_p(dir, 0700);
	unlink(ch->outpath);
	int fd = open(ch->outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", ch->outpath, strerror(errno));
		return -1;
	}
	close(fd);
	char *av[RB_MAX_ARGV + 2];
	int ac = 0, own_target = 0;
	av[ac++] = exe;
	for (int i = 0; argv[i] && ac < RB_MAX_ARGV + 1; i++) {
		av[ac++] = argv[i];
		if (strncmp(argv[i], "--env", 5) == 0 || strncmp(argv[i], "--dsn", 5) == 0)
			own_target = 1;
	}
	av[ac] = NULL;
	/* The target goes through the environment, never argv (it may hold a password). A
	 * step naming its own --env must not be overridden by MIDSOPS_DSN. */
	static char dsn_env[2200], cfg_env[4200];
	if (own_target || t->embedded || !t->conninfo[0])
		snprintf(dsn_env, sizeof dsn_env, "MIDSOPS_DSN=");
	else
		snprintf(dsn_env, sizeof dsn_env, "MIDSOPS_DSN=%s", t->conninfo);
	char *envs[5];
	int ne = 0;
	envs[ne++] = dsn_env;
	envs[ne++] = "NO_COLOR=1";
	if (cfg && cfg->loaded) {
		snprintf(cfg_env, sizeof cfg_env, "MIDSOPS_CONFIG=%s", cfg->path);
		envs[ne++] = cfg_env;
	}
	envs[ne] = NULL;
	struct proc_opts o = {.envp_add = envs, .stdout_file = ch->outpath};
	fflush(NULL);
	ch->pid = proc_spawn(av, &o);
	if (ch->pid < 0) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
		unlink(ch->outpath);
		return -1;
	}
	return 0;
}

static char *read_from(const char *path, off_t off, off_t *newoff)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xstrdup("");
	struct stat st;
	fstat(fd, &st);
	size_t n = st.st_size > off ? (size_t)(st.st_size - off) : 0;
	char *buf = xmalloc(n + 1);
	ssize_t got = n ? pread(fd, buf, n, off) : 0;
	if (got < 0)
		got = 0;
	buf[got] = 0;
	if (newoff)
		*newoff = off + got;
	close(fd);
	return buf;
}

char *wz_child_poll(struct wz_child *ch)
{
	if (!ch->done && ch->pid > 0) {
		int st;
		pid_t p = waitpid(ch->pid, &st, WNOHANG);
		if (p == ch->pid) {
			ch->done = 1;
			ch->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		} else if (p < 0 && errno != EINTR) {
			ch->done = 1;
			ch->status = 255;
		}
	}
	return read_from(ch->outpath, ch->read_off, &ch->read_off);
}

char *wz_child_finish(struct wz_child *ch)
{
	char *all = read_from(ch->outpath, 0, NULL);
	unlink(ch->outpath);
	return all;
}

void wz_child_kill(struct wz_child *ch)
{
	if (ch->pid > 0 && !ch->done) {
		kill(ch->pid, SIGTERM);
		int st;
		waitpid(ch->pid, &st, 0);
		ch->done = 1;
		ch->status = 143;
	}
}

/* ------------------------------------------------------------ side effects */

int wz_notify(const struct config *cfg, const char *subject, const char *body, char *where,
	      size_t wherelen, char *err, size_t errlen)
{
	return notify_send(cfg, subject, body, NULL, where, wherelen, err, errlen);
}

static void fmt_time(time_t t, char *buf, size_t n)
{
	if (!t) {
		snprintf(buf, n, "-");
		return;
	}
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void md_cell(struct strbuf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			strbuf_addf(b, "\\|");
		else if (*s == '\n')
			strbuf_addf(b, " ");
		else
			strbuf_addf(b, "%c", *s);
	}
}

char *wz_transcript(const struct wz_run *r)
{
	return wz_transcript_cfg(r, NULL);
}

/* Titles and commands as the run saw them: every ${...} expanded. */
static void add_expanded(struct strbuf *b, const struct wz_run *r, const struct config *cfg,
			 const char *text, int md)
{
	char *t = wz_expand(r, cfg, text);
	if (md)
		md_cell(b, t);
	else
		strbuf_addf(b, "%s", t);
	free(t);
}

char *wz_transcript_cfg(const struct wz_run *r, const struct config *cfg)
{
	struct strbuf b = {0};
	char t1[32], t2[32];
	const struct runbook *rb = r->rb;
	strbuf_addf(&b, "# ");
	add_expanded(&b, r, cfg, r->title, 0);
	if (r->id)
		strbuf_addf(&b, ": run %lld\n\n", r->id);
	else
		strbuf_addf(&b, ": run %s\n\n", r->local_id);
	fmt_time(r->started, t1, sizeof t1);
	fmt_time(r->ended, t2, sizeof t2);
	strbuf_addf(&b, "- Runbook: %s", r->runbook);
	if (rb)
		strbuf_addf(&b, " (%s)", rb->path);
	strbuf_addf(&b, "\n- Operator: %s on %s\n", r->operator_, r->host);
	strbuf_addf(&b, "- Started: %s\n- Ended: %s\n", t1, t2);
	strbuf_addf(&b, "- Status: %s", wz_status_name(r->status));
	if (r->reason[0])
		strbuf_addf(&b, " (%s)", r->reason);
	strbuf_addf(&b, "\n");
	char worst[512];
	wz_worst_text(r, cfg, worst, sizeof worst);
	strbuf_addf(&b, "- Worst: %s\n", worst);
	if (r->offline)
		strbuf_addf(&b, "- Part of this run was recorded offline (database unreachable)\n");
	for (int i = 0; i < r->nparams; i++)
		strbuf_addf(&b, "- Parameter %s: %s\n", r->params[i].name, r->params[i].value);
	if (rb && r->cursor < rb->nsteps && !wz_finished(r)) {
		strbuf_addf(&b, "- Current step: %s (", rb->steps[r->cursor].id);
		add_expanded(&b, r, cfg, rb->steps[r->cursor].title, 0);
		strbuf_addf(&b, ")\n");
	}

	strbuf_addf(
	    &b, "\n## Timeline\n\n| started | ended | section | step | outcome | who | notes |\n"
		"| --- | --- | --- | --- | --- | --- | --- |\n");
	for (int i = 0; i < r->nattempts; i++) {
		const struct wz_attempt *a = &r->attempts[i];
		fmt_time(a->started, t1, sizeof t1);
		fmt_time(a->ended, t2, sizeof t2);
		const char *sec = rb && a->step < rb->nsteps
				      ? rb->sections[rb->steps[a->step].section].title
				      : "";
		const char *title =
		    rb && a->step < rb->nsteps ? rb->steps[a->step].title : a->step_id;
		strbuf_addf(&b, "| %s | %s | ", t1, t2);
		md_cell(&b, sec);
		strbuf_addf(&b, " | ");
		add_expanded(&b, r, cfg, title, 1);
		strbuf_addf(&b, " | %s", wz_outcome_name(a->outcome));
		if (a->exit_status >= 0)
			strbuf_addf(&b, " (exit %d)", a->exit_status);
		strbuf_addf(&b, " | %s | ", a->actor);
		if (a->detail)
			md_cell(&b, a->detail);
		if (a->detail && a->reason)
			strbuf_addf(&b, "; ");
		if (a->reason)
			md_cell(&b, a->reason);
		strbuf_addf(&b, " |\n");
	}
	int any = 0;
	for (int i = 0; i < r->nattempts; i++) {
		const struct wz_attempt *a = &r->attempts[i];
		if (!a->excerpt || !*a->excerpt)
			continue;
		if (!any++)
			strbuf_addf(&b, "\n## Output\n");
		const struct rb_step *st = rb && a->step < rb->nsteps ? &rb->steps[a->step] : NULL;
		strbuf_addf(&b, "\n### ");
		add_expanded(&b, r, cfg, st ? st->title : a->step_id, 0);
		if (st && st->argc) {
			strbuf_addf(&b, ": `midsops");
			for (int k = 0; k < st->argc; k++) {
				strbuf_addf(&b, " ");
				add_expanded(&b, r, cfg, st->argv[k], 0);
			}
			strbuf_addf(&b, "`");
		}
		strbuf_addf(&b, " (%s)\n\n```text\n%s%s```\n", wz_outcome_name(a->outcome),
			    a->excerpt, a->excerpt[strlen(a->excerpt) - 1] == '\n' ? "" : "\n");
	}
	return b.s ? b.s : xstrdup("");
}

static int report_path(const struct config *cfg, const struct rb_step *st, time_t when, char *path,
		       size_t n)
{
	const char *dir =
	    strcmp(st->report_dir, "reports") == 0 ? cfg->reports_dir : cfg->incidents_dir;
	if (paths_mkdir_p(dir, 0700) < 0)
		return -1;
	char date[16] = "";
	if (st->dated) {
		struct tm tm;
		localtime_r(&when, &tm);
		strftime(date, sizeof date, "%Y%m%d_", &tm);
	}
	snprintf(path, n, "%s/%s%s.md", dir, date, st->report_name);
	return 0;
}

static int write_file(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[4400];
	snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	close(fd);
	if (w != (ssize_t)len || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int wz_report_write(const struct config *cfg, const struct wz_run *r, const struct rb_step *st,
		    char *path, size_t pathlen, char *err, size_t errlen)
{
	if (report_path(cfg, st, time(NULL), path, pathlen) < 0) {
		snprintf(err, errlen, "cannot create the directory for %s: %s", st->report_name,
			 strerror(errno));
		return -1;
	}
	char *t = wz_transcript_cfg(r, cfg);
	int rc = write_file(path, t, err, errlen);
	free(t);
	return rc;
}

void wz_reports_refresh(const struct config *cfg, const struct wz_run *r)
{
	for (int i = 0; i < r->nattempts; i++) {
		const struct wz_attempt *a = &r->attempts[i];
		if (a->outcome != WZ_DONE || a->step >= r->rb->nsteps ||
		    r->rb->steps[a->step].kind != RB_REPORT)
			continue;
		char path[4400], err[512];
		if (report_path(cfg, &r->rb->steps[a->step], a->started, path, sizeof path) == 0) {
			char *t = wz_transcript_cfg(r, cfg);
			write_file(path, t, err, sizeof err);
			free(t);
		}
	}
}

void rb_operator_name(const char *given, char *buf, size_t n)
{
	util_operator_name(given, buf, n);
}
