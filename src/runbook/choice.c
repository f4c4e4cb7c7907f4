/* Choice steps: the operator picks one row of a list a midsops command prints as JSON, and
 * the row sets runbook parameters, so nobody has to type an id read off another screen.
 * Both drivers (line mode, the console) load the rows here and settle the step here. */
#include <cJSON.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "runbook.h"
#include "util.h"

/* The strbuf's text, now the caller's. */
static char *sb_text(struct strbuf *b)
{
	return b->s ? b->s : xstrdup("");
}

/* A JSON scalar as text: strings as they are, whole numbers without a fraction. */
static char *scalar_text(const cJSON *v)
{
	char buf[64];
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == (double)(long long)d)
			snprintf(buf, sizeof buf, "%lld", (long long)d);
		else
			snprintf(buf, sizeof buf, "%g", d);
		return xstrdup(buf);
	}
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
	return xstrdup("");
}

/* The array at a dotted path ("" or "." = the document itself). */
static const cJSON *at_path(const cJSON *j, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	const cJSON *o = j;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o;
	     k = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, k);
	return o;
}

/* The command's JSON: the first line that opens an object or an array (a warning on
 * stderr may come first). */
static cJSON *parse_output(const char *out)
{
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (*p == '{' || *p == '[')
			return cJSON_Parse(p);
	return NULL;
}

int wz_choice_load(const struct wz_run *r, const struct config *cfg, const struct target *t,
		   const struct rb_step *st, struct wz_choice *c)
{
	memset(c, 0, sizeof *c);
	c->def = 0;
	c->nvals = 1 + st->nset;
	c->exit_status = -1;
	char *argv[RB_MAX_ARGV + 2], err[1024];
	int ac = wz_step_argv_checked(r, cfg, st, argv, err, sizeof err);
	if (ac < 0) {
		snprintf(c->error, sizeof c->error, "refused: %s", err);
		return 0;
	}
	int json = 0;
	for (int i = 1; i < ac; i++)
		json |= strcmp(argv[i], "--json") == 0;
	if (!json && ac < RB_MAX_ARGV) {
		argv[ac++] = xstrdup("--json");
		argv[ac] = NULL;
	}
	struct wz_child ch;
	if (wz_child_start(&ch, cfg, t, argv, err, sizeof err) < 0) {
		snprintf(c->error, sizeof c->error, "%s", err);
		wz_argv_free(argv);
		return 0;
	}
	while (!ch.done) {
		free(wz_child_poll(&ch));
		if (!ch.done)
			poll(NULL, 0, 50);
	}
	c->output = wz_child_finish(&ch);
	c->exit_status = ch.status;
	cJSON *j = parse_output(c->output);
	const cJSON *arr = j ? at_path(j, st->items) : NULL;
	if (ch.status != 0 && !cJSON_IsArray(arr)) {
		snprintf(c->error, sizeof c->error, "'midsops %s' failed (exit %d)", argv[0],
			 ch.status);
		goto out;
	}
	if (!j) {
		snprintf(c->error, sizeof c->error, "'midsops %s' printed no JSON", argv[0]);
		goto out;
	}
	int total = cJSON_GetArraySize(arr);
	if (!cJSON_IsArray(arr) || total == 0) {
		/* A list command prints no array at all when it has no rows. */
		snprintf(c->error, sizeof c->error,
			 "the list is empty: 'midsops %s' has no %s to choose from", argv[0],
			 st->items);
		goto out;
	}
	c->labels = xcalloc((size_t)total, sizeof *c->labels);
	c->values = xcalloc((size_t)total * (size_t)c->nvals, sizeof *c->values);
	const cJSON *row;
	cJSON_ArrayForEach(row, arr)
	{
		int keep =
		    cJSON_IsObject(row) && cJSON_GetObjectItemCaseSensitive(row, st->value_field);
		for (int k = 0; keep && k < st->nwhere; k++) {
			char *v =
			    scalar_text(cJSON_GetObjectItemCaseSensitive(row, st->where_fields[k]));
			keep = strcmp(v, st->where_values[k]) == 0;
			free(v);
		}
		if (!keep)
			continue;
		char **vals = &c->values[(size_t)c->n * (size_t)c->nvals];
		vals[0] = scalar_text(cJSON_GetObjectItemCaseSensitive(row, st->value_field));
		for (int k = 0; k < st->nset; k++)
			vals[1 + k] =
			    scalar_text(cJSON_GetObjectItemCaseSensitive(row, st->set_fields[k]));
		struct strbuf sb = {0};
		if (st->nlabels == 0)
			strbuf_addf(&sb, "%s", vals[0]);
		for (int k = 0; k < st->nlabels; k++) {
			char *v = scalar_text(cJSON_GetObjectItemCaseSensitive(row, st->labels[k]));
			strbuf_addf(&sb, "%s%s %s", k ? ", " : "", st->labels[k], v[0] ? v : "-");
			free(v);
		}
		c->labels[c->n++] = sb_text(&sb);
	}
	if (c->n == 0) {
		snprintf(c->error, sizeof c->error,
			 "the list is empty: none of the %d %s of 'midsops %s' is one to choose",
			 total, st->items, argv[0]);
		goto out;
	}
	c->def = strcmp(st->choice_default, "last") == 0 ? c->n - 1 : 0;
	const char *cur = wz_param(r, st->param);
	for (int i = 0; cur && *cur && i < c->n; i++)
		if (strcmp(c->values[(size_t)i * (size_t)c->nvals], cur) == 0) {
			c->def = i;
			break;
		}
out:
	cJSON_Delete(j);
	wz_argv_free(argv);
	return c->n;
}

void wz_choice_pick(struct wz_store *s, struct wz_run *r, const struct wz_choice *c, int i)
{
	const struct rb_step *st = &r->rb->steps[r->cursor];
	if (i < 0 || i >= c->n)
		return;
	char **vals = &c->values[(size_t)i * (size_t)c->nvals];
	struct strbuf sb = {0};
	strbuf_addf(&sb, "chose %s=%s", st->param, vals[0]);
	wz_param_set(r, st->param, vals[0]);
	for (int k = 0; k < st->nset; k++) {
		wz_param_set(r, st->set_params[k], vals[1 + k]);
		strbuf_addf(&sb, ", %s=%s", st->set_params[k], vals[1 + k]);
	}
	strbuf_addf(&sb, " (%s)", c->labels[i]);
	char *detail = sb_text(&sb);
	wz_step_end(s, r, WZ_DONE, c->exit_status, NULL, NULL, detail);
	free(detail);
}

void wz_choice_fail(struct wz_store *s, struct wz_run *r, const struct wz_choice *c)
{
	wz_step_end(s, r, WZ_FAILED, c->exit_status, c->output, c->error, NULL);
}

void wz_choice_free(struct wz_choice *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->labels[i]);
		for (int k = 0; k < c->nvals; k++)
			free(c->values[(size_t)i * (size_t)c->nvals + (size_t)k]);
	}
	free(c->labels);
	free(c->values);
	free(c->output);
	memset(c, 0, sizeof *c);
}

int wz_param_check(const struct rb_param *p, const struct config *cfg, const char *value, char *err,
		   size_t errlen)
{
	struct stat sb;
	if (!value || !*value) {
		if (p->def && !*p->def)
			return 0; /* declared optional: "default": "" */
		snprintf(err, errlen, "%s (%s) is required; an empty value is not accepted",
			 p->name, p->prompt);
		return -1;
	}
	if (!p->check)
		return 0;
	if (strcmp(p->check, "env") == 0 && !config_env(cfg, value)) {
		snprintf(err, errlen,
			 "%s: there is no environment '%s' in the config (no [env %s] section in "
			 "%s%s)",
			 p->name, value, value, cfg->path[0] ? cfg->path : "the config file",
			 cfg->loaded ? "" : ", which does not exist");
		return -1;
	}
	if (strcmp(p->check, "dir") == 0 && (stat(value, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
		snprintf(err, errlen, "%s: '%s' is not a directory", p->name, value);
		return -1;
	}
	if (strcmp(p->check, "file") == 0 && (stat(value, &sb) < 0 || !S_ISREG(sb.st_mode))) {
		snprintf(err, errlen, "%s: '%s' is not a file", p->name, value);
		return -1;
	}
	return 0;
}
