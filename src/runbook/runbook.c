/* Runbook files: parse, validate, find. A runbook never carries shell text: every
 * command is a name from the command table, checked here at load. */
#include "runbook.h"
#include "util.h"

#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cmd.h"
#include "paths.h"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static const char *const builtin_vars[] = {"date",    "run",	"operator", "host",
					   "runbook", "window", "time",	    NULL};

void rb_free(struct runbook *rb)
{
	if (!rb)
		return;
	for (int i = 0; i < rb->nsteps; i++) {
		struct rb_step *s = &rb->steps[i];
		free(s->id), free(s->title), free(s->help), free(s->on_fail_goto), free(s->on_ok);
		free(s->next), free(s->condition), free(s->then_step), free(s->else_step);
		free(s->subject), free(s->body), free(s->phrase), free(s->report_dir);
		free(s->report_name), free(s->items), free(s->value_field), free(s->param);
		free(s->choice_default);
		if (s->until) {
			for (int k = 0; k < s->until->argc; k++)
				free(s->until->argv[k]);
			free(s->until->id);
			free(s->until);
		}
		for (int k = 0; k < RB_CHOICE_MAX; k++) {
			free(s->labels[k]), free(s->set_params[k]), free(s->set_fields[k]);
			free(s->where_fields[k]), free(s->where_values[k]);
		}
		for (int k = 0; k < s->argc; k++)
			free(s->argv[k]);
	}
	for (int i = 0; i < rb->nsections; i++)
		free(rb->sections[i].title);
	for (int i = 0; i < rb->nparams; i++)
		free(rb->params[i].name), free(rb->params[i].prompt), free(rb->params[i].def),
		    free(rb->params[i].set_by), free(rb->params[i].check);
	free(rb->steps), free(rb->sections), free(rb->params);
	free(rb->name), free(rb->title), free(rb->description), free(rb->path);
	free(rb);
}

int rb_step_index(const struct runbook *rb, const char *id)
{
	if (!id)
		return -1;
	for (int i = 0; i < rb->nsteps; i++)
		if (strcmp(rb->steps[i].id, id) == 0)
			return i;
	return -1;
}

int rb_needs_human(const struct runbook *rb)
{
	for (int i = 0; i < rb->nsteps; i++) {
		const struct rb_step *s = &rb->steps[i];
		if (s->kind == RB_CONFIRM || s->kind == RB_APPROVAL)
			return i;
		if (s->kind == RB_BRANCH && s->condition && strcmp(s->condition, "ask") == 0)
			return i;
		if (s->kind == RB_CHOICE)
			return i;
	}
	return -1;
}

int rb_split_argv(char *buf, char **argv, int max)
{
	int n = 0;
	char *p = buf, *o = buf;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (n >= max)
			return -1;
		argv[n++] = o;
		while (*p && !isspace((unsigned char)*p)) {
			if (*p == '\'' || *p == '"') {
				char q = *p++;
				while (*p && *p != q)
					*o++ = *p++;
				if (*p != q)
					return -1;
				p++;
			} else
				*o++ = *p++;
		}
		if (*p)
			p++;
		*o++ = 0;
	}
	argv[n] = NULL;
	return n;
}

/* Check every ${var} names a parameter or a built-in. */
static int check_vars(const struct runbook *rb, const char *text, char *bad, size_t badlen)
{
	for (const char *p = text ? strstr(text, "${") : NULL; p; p = strstr(p + 2, "${")) {
		const char *e = strchr(p, '}');
		if (!e) {
			snprintf(bad, badlen, "unterminated ${ in '%s'", text);
			return -1;
		}
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(e - p - 2), p + 2);
		int found = 0;
		for (int i = 0; builtin_vars[i]; i++)
			found |= strcmp(builtin_vars[i], name) == 0;
		for (int i = 0; i < rb->nparams; i++)
			found |= strcmp(rb->params[i].name, name) == 0;
		if (!found) {
			snprintf(bad, badlen, "unknown variable ${%s} (declare it in \"params\")",
				 name);
			return -1;
		}
	}
	return 0;
}

static int keys_known(const cJSON *o, const char *const *known, char *bad, size_t badlen)
{
	for (const cJSON *c = o->child; c; c = c->next) {
		int ok = 0;
		for (int i = 0; known[i]; i++)
			ok |= strcmp(known[i], c->string) == 0;
		if (!ok) {
			snprintf(bad, badlen, "unknown key \"%s\"", c->string);
			return -1;
		}
	}
	return 0;
}

static int id_ok(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/* Commands a runbook may not call: the console, raw shells and the procedures that run
 * runbooks themselves (no recursion). */
static int cmd_forbidden(const char *name)
{
	static const char *const no[] = {"wizard",  "daily-check", "weekly-maintenance",
					 "console", "db-shell",	   NULL};
	for (int i = 0; no[i]; i++)
		if (strcmp(no[i], name) == 0)
			return 1;
	return 0;
}

int rb_word_retargets(const char *word)
{
	static const char *const opts[] = {"--dsn", "--config", NULL};
	for (int i = 0; opts[i]; i++) {
		size_t n = strlen(opts[i]);
		if (strncmp(word, opts[i], n) == 0 && (word[n] == 0 || word[n] == '='))
			return 1;
	}
	return 0;
}

int rb_param_value_ok(const struct runbook *rb, const char *name, const char *value, char *err,
		      size_t errlen)
{
	if (!value || value[0] != '-')
		return 0;
	for (int i = 0; rb && i < rb->nparams; i++)
		if (strcmp(rb->params[i].name, name) == 0 && rb->params[i].allow_dash)
			return 0;
	snprintf(err, errlen,
		 "the value of ${%s} ('%s') starts with '-', so a command would take it for an "
		 "option; refused (a runbook parameter may allow it with \"allow_dash\": true)",
		 name, value);
	return -1;
}

/* The argv against the command's own option spec, so a typo fails at load. Global options
 * (--env, --json, --no-color) are main's and are set aside first; --dsn and --config are
 * refused: the run's target and config are the operator's, never a runbook's. */
static int check_command(struct rb_step *s, char *bad, size_t badlen)
{
	char err[512];
	for (int i = 1; i < s->argc; i++)
		if (rb_word_retargets(s->argv[i])) {
			snprintf(bad, badlen,
				 "'%s': a step cannot choose its own --dsn or --config; the run's "
				 "target is the operator's (a named environment: --env NAME)",
				 s->argv[i]);
			return -1;
		}
	const struct cmd_entry *ce = cmd_find(s->argv[0], err, sizeof err);
	if (!ce || strcmp(ce->name, s->argv[0]) != 0) {
		if (ce)
			snprintf(err, sizeof err, "unknown command '%s'; did you mean '%s'?",
				 s->argv[0], ce->name);
		snprintf(bad, badlen, "%s", err);
		return -1;
	}
	if (cmd_forbidden(ce->name)) {
		snprintf(bad, badlen, "command '%s' cannot run inside a runbook", ce->name);
		return -1;
	}
	if (ce->flags & CMD_RAWARGS)
		return 0;
	char *argv[RB_MAX_ARGV + 2];
	int argc = 0;
	for (int i = 0; i < s->argc; i++) {
		const char *a = s->argv[i];
		if (i > 0 && strcmp(a, "--env") == 0) {
			if (i + 1 >= s->argc) {
				snprintf(bad, badlen, "option '%s' needs a value", a);
				return -1;
			}
			i++;
			continue;
		}
		if (i > 0 && (strncmp(a, "--env=", 6) == 0 || strcmp(a, "--json") == 0 ||
			      strcmp(a, "--no-color") == 0))
			continue;
		argv[argc++] = (char *)a;
	}
	argv[argc] = NULL;
	struct args a;
	if (args_parse(ce->options, argc, argv, &a, err, sizeof err) < 0) {
		snprintf(bad, badlen, "%s: %s (usage: %s)", ce->name, err, ce->usage);
		args_free(&a);
		return -1;
	}
	int n = a.argc;
	args_free(&a);
	if (n < ce->min_args || (ce->max_args >= 0 && n > ce->max_args)) {
		snprintf(bad, badlen, "%s: %s (usage: %s)", ce->name,
			 n < ce->min_args ? "missing argument" : "too many arguments", ce->usage);
		return -1;
	}
	return 0;
}

/* "command": a string split into words (never given to a shell), or a list of words. */
static int parse_argv(struct rb_step *s, const cJSON *js, const char *key, char *bad,
		      size_t badlen);

static int parse_command(struct rb_step *s, const cJSON *js, char *bad, size_t badlen)
{
	return parse_argv(s, js, "command", bad, badlen);
}

/* A wait's "until": a midsops command, checked as a step's command is, whose exit 0 ends
 * the wait. It is kept as a step of its own so the drivers expand and run it the same way. */
static int parse_until(struct rb_step *s, const cJSON *js, char *bad, size_t badlen)
{
	if (!cJSON_GetObjectItemCaseSensitive(js, "until"))
		return 0;
	if (s->kind != RB_WAIT) {
		snprintf(bad, badlen, "\"until\" belongs to a wait step");
		return -1;
	}
	struct rb_step *u = xcalloc(1, sizeof *u);
	s->until = u;
	u->id = xstrdup(s->id);
	u->kind = RB_CHECK;
	char why[1024];
	if (parse_argv(u, js, "until", why, sizeof why) < 0 ||
	    check_command(u, why, sizeof why) < 0) {
		snprintf(bad, badlen, "\"until\": %.600s", why);
		return -1;
	}
	return 0;
}

static int parse_argv(struct rb_step *s, const cJSON *js, const char *key, char *bad, size_t badlen)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(js, key);
	if (cmd) {
		if (cJSON_IsString(cmd)) {
			/* A string is split into words; it is never given to a shell. */
			char buf[2048];
			char *w[RB_MAX_ARGV + 1];
			snprintf(buf, sizeof buf, "%s", cmd->valuestring);
			int n = rb_split_argv(buf, w, RB_MAX_ARGV);
			if (n <= 0) {
				snprintf(bad, badlen, "\"%s\" is empty, too long or badly quoted",
					 key);
				return -1;
			}
			for (int i = 0; i < n; i++)
				s->argv[s->argc++] = xstrdup(w[i]);
		} else if (cJSON_IsArray(cmd)) {
			const cJSON *w;
			cJSON_ArrayForEach(w, cmd)
			{
				if (!cJSON_IsString(w) || s->argc >= RB_MAX_ARGV) {
					snprintf(bad, badlen,
						 "\"%s\" must be a list of at most %d strings", key,
						 RB_MAX_ARGV);
					return -1;
				}
				s->argv[s->argc++] = xstrdup(w->valuestring);
			}
		} else {
			snprintf(bad, badlen, "\"%s\" must be a string or a list of strings", key);
			return -1;
		}
		if (s->argc == 0) {
			snprintf(bad, badlen, "\"%s\" is empty", key);
			return -1;
		}
	}
	return 0;
}

static int field_ok(const char *s)
{
	return s && id_ok(s);
}

/* A choice: "items" (the array's path in the command's JSON), "value" (the field that
 * becomes "param"), "label" (fields shown per row), "set" ({"param": "field"} for more
 * parameters from the same row), "where" ({"field": "value"}), "default" (first, last). */
static int parse_choice(struct rb_step *s, const cJSON *js, char *bad, size_t badlen)
{
	const char *items = util_json_str(js, "items"), *value = util_json_str(js, "value");
	const char *param = util_json_str(js, "param"), *def = util_json_str(js, "default");
	if (!items || !value || !field_ok(value) || !field_ok(param)) {
		snprintf(bad, badlen,
			 "a choice needs \"items\" (the list's JSON path), \"value\" (a field) "
			 "and \"param\" (the parameter it sets)");
		return -1;
	}
	s->items = xstrdup(items);
	s->value_field = xstrdup(value);
	s->param = xstrdup(param);
	if (def && strcmp(def, "first") && strcmp(def, "last")) {
		snprintf(bad, badlen, "a choice's \"default\" is \"first\" or \"last\"");
		return -1;
	}
	s->choice_default = xstrdup(def ? def : "first");
	const cJSON *lab = cJSON_GetObjectItemCaseSensitive(js, "label"), *w;
	if (cJSON_IsString(lab) && field_ok(lab->valuestring))
		s->labels[s->nlabels++] = xstrdup(lab->valuestring);
	else if (cJSON_IsArray(lab)) {
		cJSON_ArrayForEach(w, lab)
		{
			if (!cJSON_IsString(w) || !field_ok(w->valuestring) ||
			    s->nlabels >= RB_CHOICE_MAX) {
				snprintf(bad, badlen, "\"label\" must be at most %d field names",
					 RB_CHOICE_MAX);
				return -1;
			}
			s->labels[s->nlabels++] = xstrdup(w->valuestring);
		}
	} else if (lab) {
		snprintf(bad, badlen, "\"label\" must be a field name or a list of them");
		return -1;
	}
	const char *objs[] = {"set", "where"};
	for (int k = 0; k < 2; k++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(js, objs[k]);
		if (!o)
			continue;
		if (!cJSON_IsObject(o)) {
			snprintf(bad, badlen, "\"%s\" must be an object of strings", objs[k]);
			return -1;
		}
		cJSON_ArrayForEach(w, o)
		{
			int *n = k ? &s->nwhere : &s->nset;
			if (!cJSON_IsString(w) || *n >= RB_CHOICE_MAX ||
			    (k == 0 && (!field_ok(w->string) || !field_ok(w->valuestring))) ||
			    (k == 1 && !field_ok(w->string))) {
				snprintf(bad, badlen, "\"%s\" must map at most %d names to strings",
					 objs[k], RB_CHOICE_MAX);
				return -1;
			}
			if (k == 0) {
				s->set_params[*n] = xstrdup(w->string);
				s->set_fields[(*n)++] = xstrdup(w->valuestring);
			} else {
				s->where_fields[*n] = xstrdup(w->string);
				s->where_values[(*n)++] = xstrdup(w->valuestring);
			}
		}
	}
	return 0;
}

/* The fields only some kinds have. */
static int parse_kind_fields(const struct runbook *rb, struct rb_step *s, const cJSON *js,
			     char *bad, size_t badlen)
{
	if (s->kind == RB_BRANCH) {
		const char *c = util_json_str(js, "if");
		if (!c || (strcmp(c, "failures") && strcmp(c, "last-failed") && strcmp(c, "ask"))) {
			snprintf(bad, badlen,
				 "a branch needs \"if\": \"failures\", \"last-failed\" or \"ask\"");
			return -1;
		}
		s->condition = xstrdup(c);
		s->then_step = dup_or_null(util_json_str(js, "then"));
		s->else_step = dup_or_null(util_json_str(js, "else"));
		if (!s->then_step && !s->else_step) {
			snprintf(bad, badlen, "a branch needs \"then\" or \"else\" (a step id)");
			return -1;
		}
	}
	if (s->kind == RB_CHOICE && parse_choice(s, js, bad, badlen) < 0)
		return -1;
	if (s->kind != RB_CHOICE) {
		static const char *const only[] = {"items",   "value", "label", "param",
						   "default", "set",   "where", NULL};
		for (int i = 0; only[i]; i++)
			if (cJSON_GetObjectItemCaseSensitive(js, only[i])) {
				snprintf(bad, badlen, "\"%s\" belongs to a choice step", only[i]);
				return -1;
			}
	}
	if (s->kind == RB_NOTIFY && (!s->subject || !*s->subject)) {
		snprintf(bad, badlen, "a notify step needs \"subject\"");
		return -1;
	}
	if (s->kind == RB_APPROVAL) {
		const char *ph = util_json_str(js, "phrase");
		s->phrase = xstrdup(ph && *ph ? ph : "approve");
	}
	if (s->kind == RB_WAIT) {
		const char *d = util_json_str(js, "duration"), *iv = util_json_str(js, "interval");
		if (!d || parse_duration(d, &s->duration) < 0 || s->duration <= 0) {
			snprintf(bad, badlen, "a wait step needs \"duration\" like \"10m\"");
			return -1;
		}
		s->interval = 10;
		if (iv && (parse_duration(iv, &s->interval) < 0 || s->interval <= 0)) {
			snprintf(bad, badlen, "\"interval\" must be a duration like \"30s\"");
			return -1;
		}
	}
	if (s->kind == RB_REPORT) {
		const char *d = util_json_str(js, "dir"), *n = util_json_str(js, "name");
		if (!d || (strcmp(d, "incidents") && strcmp(d, "reports"))) {
			snprintf(bad, badlen,
				 "a report step needs \"dir\": \"incidents\" or \"reports\"");
			return -1;
		}
		s->report_dir = xstrdup(d);
		if (n && !id_ok(n)) {
			snprintf(bad, badlen, "report \"name\" must be letters, digits, - and _");
			return -1;
		}
		if (n)
			s->report_name = xstrdup(n);
		else {
			s->report_name = xstrdup(rb->name);
			for (char *p = s->report_name; *p; p++)
				if (*p == '-')
					*p = '_';
		}
		const cJSON *dt = cJSON_GetObjectItemCaseSensitive(js, "dated");
		if (dt)
			s->dated = cJSON_IsTrue(dt);
	}
	return 0;
}

static int parse_step(struct runbook *rb, struct rb_step *s, const cJSON *js, char *bad,
		      size_t badlen)
{
	static const char *const known[] = {
	    "id",	"kind",	    "title", "help",	"command", "on_fail", "on_ok",
	    "next",	"if",	    "then",  "else",	"subject", "body",    "phrase",
	    "duration", "interval", "dir",   "name",	"dated",   "items",   "value",
	    "label",	"param",    "set",   "default", "where",   "until",   NULL,
	};
	if (!cJSON_IsObject(js)) {
		snprintf(bad, badlen, "a step must be an object");
		return -1;
	}
	const char *id = util_json_str(js, "id");
	if (!id || !id_ok(id)) {
		snprintf(bad, badlen, "\"id\" is missing or not made of letters, digits, - and _");
		return -1;
	}
	s->id = xstrdup(id);
	if (keys_known(js, known, bad, badlen) < 0)
		return -1;
	const char *kind = util_json_str(js, "kind");
	s->kind = rb_kind_parse(kind);
	if (s->kind == RB_NKINDS) {
		snprintf(bad, badlen,
			 "\"kind\" %s%s%s is not one of info, confirm, command, check, approval, "
			 "branch, wait, notify, report, choice",
			 kind ? "'" : "", kind ? kind : "is missing and", kind ? "'" : "");
		return -1;
	}
	const char *title = util_json_str(js, "title");
	if (!title || !*title) {
		snprintf(bad, badlen, "\"title\" is missing");
		return -1;
	}
	s->title = xstrdup(title);
	s->help = dup_or_null(util_json_str(js, "help"));
	s->on_ok = dup_or_null(util_json_str(js, "on_ok"));
	s->next = dup_or_null(util_json_str(js, "next"));
	s->subject = dup_or_null(util_json_str(js, "subject"));
	s->body = dup_or_null(util_json_str(js, "body"));
	s->dated = 1;

	if (parse_command(s, js, bad, badlen) < 0)
		return -1;
	enum rb_cmd_use use = rb_kind(s->kind)->command;
	if (use == RB_CMD_NEEDS && !s->argc) {
		snprintf(bad, badlen, "a %s step needs \"command\" (a midsops command)",
			 rb_kind_name(s->kind));
		return -1;
	}
	if (use == RB_CMD_NONE && s->argc) {
		snprintf(bad, badlen, "a %s step cannot have a \"command\"", rb_kind_name(s->kind));
		return -1;
	}
	if (s->argc && check_command(s, bad, badlen) < 0)
		return -1;
	if (parse_until(s, js, bad, badlen) < 0)
		return -1;

	const char *of = util_json_str(js, "on_fail");
	if (of) {
		if (strcmp(of, "continue") == 0)
			s->on_fail = RB_FAIL_CONTINUE;
		else if (strcmp(of, "stop") == 0)
			s->on_fail = RB_FAIL_STOP;
		else if (strcmp(of, "ask") == 0)
			s->on_fail = RB_FAIL_ASK;
		else {
			s->on_fail = RB_FAIL_GOTO;
			s->on_fail_goto = xstrdup(of);
		}
	}
	if (!of && s->kind == RB_CHECK)
		s->on_fail = RB_FAIL_CONTINUE; /* a check reports; the run goes on */
	if (parse_kind_fields(rb, s, js, bad, badlen) < 0)
		return -1;
	const char *texts[] = {s->title, s->help, s->subject, s->body};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (check_vars(rb, texts[i], bad, badlen) < 0)
			return -1;
	for (int i = 0; i < s->argc; i++)
		if (check_vars(rb, s->argv[i], bad, badlen) < 0)
			return -1;
	for (int i = 0; s->until && i < s->until->argc; i++)
		if (check_vars(rb, s->until->argv[i], bad, badlen) < 0)
			return -1;
	return 0;
}

static int parse_params(struct runbook *rb, const cJSON *j, const char *path, char *err,
			size_t errlen)
{
	char bad[768] = "";
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params"), *p;
	if (params && !cJSON_IsArray(params)) {
		snprintf(err, errlen, "%s: \"params\" must be a list", path);
		return -1;
	}
	int np = cJSON_GetArraySize(params);
	if (np > WZ_MAX_PARAMS) {
		snprintf(err, errlen, "%s: at most %d params", path, WZ_MAX_PARAMS);
		return -1;
	}
	rb->params = xcalloc((size_t)np + 1, sizeof *rb->params);
	cJSON_ArrayForEach(p, params)
	{
		static const char *const pk[] = {"name",       "prompt", "default",
						 "allow_dash", "check",	 NULL};
		const char *pn = util_json_str(p, "name");
		if (!cJSON_IsObject(p) || !pn || !id_ok(pn) ||
		    keys_known(p, pk, bad, sizeof bad) < 0) {
			snprintf(err, errlen, "%s: param %d: %s", path, rb->nparams + 1,
				 bad[0] ? bad : "needs a \"name\" of letters, digits, - and _");
			return -1;
		}
		struct rb_param *rp = &rb->params[rb->nparams++];
		rp->name = xstrdup(pn);
		rp->prompt = xstrdup(util_json_str(p, "prompt") ? util_json_str(p, "prompt") : pn);
		rp->def = dup_or_null(util_json_str(p, "default"));
		const cJSON *ad = cJSON_GetObjectItemCaseSensitive(p, "allow_dash");
		if (ad && !cJSON_IsBool(ad)) {
			snprintf(err, errlen,
				 "%s: param '%s': \"allow_dash\" must be true or false", path, pn);
			return -1;
		}
		rp->allow_dash = cJSON_IsTrue(ad);
		const char *ck = util_json_str(p, "check");
		if (ck && strcmp(ck, "env") && strcmp(ck, "dir") && strcmp(ck, "file")) {
			snprintf(err, errlen,
				 "%s: param '%s': \"check\" is \"env\", \"dir\" or \"file\"", path,
				 pn);
			return -1;
		}
		rp->check = dup_or_null(ck);
		if (rb_param_value_ok(rb, pn, rp->def, bad, sizeof bad) < 0) {
			snprintf(err, errlen, "%s: param '%s': its default: %s", path, pn, bad);
			return -1;
		}
	}
	return 0;
}

/* A parameter a choice step sets needs no prompt at start; it need not be declared. */
static int mark_param(struct runbook *rb, const char *name, const char *step, const char *path,
		      char *err, size_t errlen)
{
	if (!name || !id_ok(name))
		return 0; /* the step's own parse says what is wrong */
	for (int i = 0; i < rb->nparams; i++)
		if (strcmp(rb->params[i].name, name) == 0) {
			if (!rb->params[i].set_by)
				rb->params[i].set_by = xstrdup(step);
			return 0;
		}
	if (rb->nparams >= WZ_MAX_PARAMS) {
		snprintf(err, errlen, "%s: at most %d params (with those choices set)", path,
			 WZ_MAX_PARAMS);
		return -1;
	}
	rb->params = xrealloc(rb->params, ((size_t)rb->nparams + 2) * sizeof *rb->params);
	struct rb_param *rp = &rb->params[rb->nparams++];
	memset(rp, 0, sizeof *rp);
	rp->name = xstrdup(name);
	rp->prompt = xstrdup(name);
	rp->set_by = xstrdup(step);
	return 0;
}

static int choice_params(struct runbook *rb, const cJSON *j, const char *path, char *err,
			 size_t errlen)
{
	const cJSON *sec, *st, *w;
	cJSON_ArrayForEach(sec, cJSON_GetObjectItemCaseSensitive(j, "sections"))
	{
		cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(sec, "steps"))
		{
			const char *kind = util_json_str(st, "kind"), *id = util_json_str(st, "id");
			if (!kind || strcmp(kind, "choice") != 0 || !id)
				continue;
			if (mark_param(rb, util_json_str(st, "param"), id, path, err, errlen) < 0)
				return -1;
			const cJSON *set = cJSON_GetObjectItemCaseSensitive(st, "set");
			if (!cJSON_IsObject(set))
				continue;
			cJSON_ArrayForEach(w, set)
			{
				if (mark_param(rb, w->string, id, path, err, errlen) < 0)
					return -1;
			}
		}
	}
	return 0;
}

struct runbook *rb_parse(const char *path, const char *name, const char *text, char *err,
			 size_t errlen)
{
	static const char *const known[] = {
	    "name", "title", "description", "maintenance_window", "params", "sections", NULL};
	char bad[768] = "";
	cJSON *j = cJSON_Parse(text);
	if (!j) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;
		for (const char *p = text; at && p < at && *p; p++)
			line += *p == '\n';
		snprintf(err, errlen, "%s:%d: not valid JSON", path, line);
		return NULL;
	}
	struct runbook *rb = xcalloc(1, sizeof *rb);
	rb->path = xstrdup(path);
	rb->name = xstrdup(name);
	if (!cJSON_IsObject(j)) {
		snprintf(err, errlen, "%s: a runbook must be a JSON object", path);
		goto fail;
	}
	if (keys_known(j, known, bad, sizeof bad) < 0) {
		snprintf(err, errlen, "%s: %s", path, bad);
		goto fail;
	}
	const char *nm = util_json_str(j, "name");
	if (nm && strcmp(nm, name) != 0) {
		snprintf(err, errlen, "%s: \"name\" is '%s' but the file is %s.json", path, nm,
			 name);
		goto fail;
	}
	const char *title = util_json_str(j, "title");
	if (!title) {
		snprintf(err, errlen, "%s: \"title\" is missing", path);
		goto fail;
	}
	rb->title = xstrdup(title);
	rb->description = dup_or_null(util_json_str(j, "description"));
	rb->maintenance = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "maintenance_window"));

	if (parse_params(rb, j, path, err, errlen) < 0)
		goto fail;
	if (choice_params(rb, j, path, err, errlen) < 0)
		goto fail;

	const cJSON *sections = cJSON_GetObjectItemCaseSensitive(j, "sections"), *sec;
	if (!cJSON_IsArray(sections) || cJSON_GetArraySize(sections) == 0) {
		snprintf(err, errlen, "%s: \"sections\" must be a non-empty list", path);
		goto fail;
	}
	int total = 0;
	cJSON_ArrayForEach(sec, sections)
	{
		total += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sec, "steps"));
	}
	rb->sections = xcalloc((size_t)cJSON_GetArraySize(sections), sizeof *rb->sections);
	rb->steps = xcalloc((size_t)total + 1, sizeof *rb->steps);
	cJSON_ArrayForEach(sec, sections)
	{
		static const char *const sk[] = {"title", "budget", "steps", NULL};
		int si = rb->nsections + 1;
		const char *st = util_json_str(sec, "title");
		if (!cJSON_IsObject(sec) || !st) {
			snprintf(err, errlen, "%s: section %d: needs a \"title\"", path, si);
			goto fail;
		}
		if (keys_known(sec, sk, bad, sizeof bad) < 0) {
			snprintf(err, errlen, "%s: section %d '%s': %s", path, si, st, bad);
			goto fail;
		}
		struct rb_section *rs = &rb->sections[rb->nsections++];
		rs->title = xstrdup(st);
		const char *budget = util_json_str(sec, "budget");
		if (budget && parse_duration(budget, &rs->budget) < 0) {
			snprintf(err, errlen, "%s: section %d '%s': bad \"budget\" '%s'", path, si,
				 st, budget);
			goto fail;
		}
		const cJSON *steps = cJSON_GetObjectItemCaseSensitive(sec, "steps"), *js;
		if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) == 0) {
			snprintf(err, errlen,
				 "%s: section %d '%s': \"steps\" must be a non-empty list", path,
				 si, st);
			goto fail;
		}
		cJSON_ArrayForEach(js, steps)
		{
			struct rb_step *s = &rb->steps[rb->nsteps++];
			s->section = rb->nsections - 1;
			if (parse_step(rb, s, js, bad, sizeof bad) < 0) {
				snprintf(err, errlen, "%s: step %d '%s': %s", path, rb->nsteps,
					 s->id ? s->id : "?", bad);
				goto fail;
			}
			if (rb_step_index(rb, s->id) != rb->nsteps - 1) {
				snprintf(err, errlen, "%s: step %d '%s': duplicate step id", path,
					 rb->nsteps, s->id);
				goto fail;
			}
		}
	}
	/* Jump targets, once every id is known. */
	for (int i = 0; i < rb->nsteps; i++) {
		struct rb_step *s = &rb->steps[i];
		const char *targets[] = {s->on_ok, s->next, s->then_step, s->else_step,
					 s->on_fail_goto};
		const char *what[] = {"on_ok", "next", "then", "else", "on_fail"};
		for (int k = 0; k < 5; k++)
			if (targets[k] && rb_step_index(rb, targets[k]) < 0) {
				snprintf(err, errlen,
					 "%s: step %d '%s': \"%s\" names no step ('%s')", path,
					 i + 1, s->id, what[k], targets[k]);
				goto fail;
			}
	}
	cJSON_Delete(j);
	return rb;
fail:
	cJSON_Delete(j);
	rb_free(rb);
	return NULL;
}

struct runbook *rb_load_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* A runbook is a few kilobytes; anything past 1 MiB is not one (and must not take
	 * unbounded memory). */
	enum { RB_MAX_FILE = 1 << 20 };
	size_t cap = 65536, len = 0;
	char *buf = xmalloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len > RB_MAX_FILE)
			break;
		if (len + 1 >= cap) {
			cap *= 2;
			char *nb = xrealloc(buf, cap);
			buf = nb;
		}
	}
	fclose(f);
	if (!buf || len > RB_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path,
			 buf ? "larger than 1 MiB; not a runbook" : "out of memory");
		free(buf);
		return NULL;
	}
	buf[len] = 0;
	char name[256];
	const char *base = strrchr(path, '/');
	snprintf(name, sizeof name, "%s", base ? base + 1 : path);
	char *dot = strstr(name, ".json");
	if (dot)
		*dot = 0;
	struct runbook *rb = rb_parse(path, name, buf, err, errlen);
	free(buf);
	return rb;
}

const char *rb_user_dir(void)
{
	static char buf[4200];
	snprintf(buf, sizeof buf, "%s/runbooks", paths_config_dir());
	return buf;
}

const char *rb_share_dir(void)
{
	static char buf[4200];
	snprintf(buf, sizeof buf, "%s/runbooks", paths_share_dir());
	return buf;
}

struct runbook *rb_load(const char *name, char *err, size_t errlen)
{
	char path[4400];
	struct stat st;
	if (!id_ok(name)) {
		snprintf(err, errlen, "'%s' is not a runbook name", name);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s.json", rb_user_dir(), name);
	if (stat(path, &st) == 0)
		return rb_load_file(path, err, errlen);
	snprintf(path, sizeof path, "%s/%s.json", rb_share_dir(), name);
	if (stat(path, &st) == 0) {
		struct runbook *rb = rb_load_file(path, err, errlen);
		if (rb)
			rb->shipped = 1;
		return rb;
	}
	snprintf(err, errlen, "no runbook '%s' in %s or %s; 'midsops wizard list' shows them", name,
		 rb_user_dir(), rb_share_dir());
	return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rb_entry *)a)->name, ((const struct rb_entry *)b)->name);
}

int rb_list(struct rb_entry *out, int max)
{
	int n = 0;
	const char *dirs[] = {rb_user_dir(), rb_share_dir()};
	for (int d = 0; d < 2; d++) {
		DIR *dir = opendir(dirs[d]);
		if (!dir)
			continue;
		struct dirent *e;
		while ((e = readdir(dir)) && n < max) {
			size_t len = strlen(e->d_name);
			if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
				continue;
			char name[64];
			snprintf(name, sizeof name, "%.*s", (int)(len - 5), e->d_name);
			int dup = 0;
			for (int i = 0; i < n; i++)
				dup |= strcmp(out[i].name, name) == 0;
			if (dup)
				continue;
			snprintf(out[n].name, sizeof out[n].name, "%s", name);
			snprintf(out[n].path, sizeof out[n].path, "%s/%s", dirs[d], e->d_name);
			out[n].shipped = d == 1;
			n++;
		}
		closedir(dir);
	}
	qsort(out, (size_t)n, sizeof *out, entry_cmp);
	return n;
}

int rb_in_window(const char *window, time_t now)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	char day[16];
	int h1, m1, h2, m2;
	if (!window || sscanf(window, "%15s %d:%d-%d:%d", day, &h1, &m1, &h2, &m2) != 5)
		return -1;
	if (h1 < 0 || h1 > 24 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59)
		return -1;
	int wday = -1;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(day, days[i], 3) == 0)
			wday = i;
	if (wday < 0 && strcmp(day, "*") != 0 && strcasecmp(day, "daily") != 0)
		return -1;
	struct tm tm;
	localtime_r(&now, &tm);
	int t = tm.tm_hour * 60 + tm.tm_min, a = h1 * 60 + m1, b = h2 * 60 + m2;
	int today = wday < 0 || tm.tm_wday == wday;
	int yesterday = wday < 0 || (tm.tm_wday + 6) % 7 == wday;
	if (a <= b)
		return today && t >= a && t < b;
	/* A window over midnight: "Sat 23:00-01:00". */
	return (today && t >= a) || (yesterday && t < b);
}
