/* Command argument parsing from a spec string (see args.h). */
#include "args.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spec_opt {
	char name[32];
	char alias;
	int takes_value;
	int repeat;
};

static int spec_parse(const char *spec, struct spec_opt *opts, int max)
{
	int n = 0;
	const char *p = spec ? spec : "";
	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		struct spec_opt *o = &opts[n];
		memset(o, 0, sizeof *o);
		size_t len = 0;
		while (*p && *p != ' ' && *p != '=' && *p != '*' && *p != '|') {
			if (len + 1 < sizeof o->name)
				o->name[len++] = *p;
			p++;
		}
		o->name[len] = 0;
		while (*p && *p != ' ') {
			if (*p == '=')
				o->takes_value = 1;
			else if (*p == '*')
				o->repeat = 1;
			else if (*p == '|' && p[1] && p[1] != ' ')
				o->alias = *++p;
			p++;
		}
		n++;
	}
	return n;
}

static const struct spec_opt *spec_find(const struct spec_opt *opts, int n, const char *name,
					size_t len, char alias)
{
	for (int i = 0; i < n; i++) {
		if (alias && opts[i].alias == alias)
			return &opts[i];
		if (!alias && strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	}
	return NULL;
}

static int set_opt(struct args *a, const struct spec_opt *so, char *value, char *err,
		   size_t errlen)
{
	for (int i = 0; i < a->nopts; i++) {
		if (strcmp(a->opts[i].name, so->name) == 0) {
			if (!so->repeat && so->takes_value) {
				a->opts[i].value = value; /* last one wins */
				return 0;
			}
			a->opts[i].count++;
			return 0;
		}
	}
	if (a->nopts >= ARGS_MAX_OPTS) {
		snprintf(err, errlen, "too many options");
		return -1;
	}
	snprintf(a->opts[a->nopts].name, sizeof a->opts[a->nopts].name, "%s", so->name);
	a->opts[a->nopts].value = value;
	a->opts[a->nopts].count = 1;
	a->nopts++;
	return 0;
}

int args_parse(const char *spec, int argc, char **argv, struct args *a, char *err,
	       size_t errlen)
{
	struct spec_opt opts[ARGS_MAX_OPTS];
	int nspec = spec_parse(spec, opts, ARGS_MAX_OPTS);
	memset(a, 0, sizeof *a);
	a->argv = xcalloc((size_t)argc + 1, sizeof *a->argv);
	int only_pos = 0;
	for (int i = 1; i < argc; i++) {
		char *s = argv[i];
		if (only_pos || s[0] != '-' || s[1] == '\0') {
			a->argv[a->argc++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			a->help = 1;
			continue;
		}
		const struct spec_opt *so;
		char *value = NULL;
		if (s[1] == '-') {
			char *name = s + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			so = spec_find(opts, nspec, name, len, 0);
			if (!so) {
				snprintf(err, errlen, "unknown option '--%.*s'", (int)len, name);
				return -1;
			}
			if (eq)
				value = eq + 1;
			if (eq && !so->takes_value) {
				snprintf(err, errlen, "option '--%s' takes no value", so->name);
				return -1;
			}
		} else {
			if (s[2] != '\0') {
				/* Negative numbers are positionals; bundled short flags are not supported. */
				if (isdigit((unsigned char)s[1])) {
					a->argv[a->argc++] = s;
					continue;
				}
				snprintf(err, errlen, "unknown option '%s'", s);
				return -1;
			}
			if (isdigit((unsigned char)s[1])) {
				a->argv[a->argc++] = s;
				continue;
			}
			so = spec_find(opts, nspec, NULL, 0, s[1]);
			if (!so) {
				snprintf(err, errlen, "unknown option '%s'", s);
				return -1;
			}
		}
		if (so->takes_value && !value) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "option '--%s' needs a value", so->name);
				return -1;
			}
			value = argv[++i];
		}
		if (set_opt(a, so, value, err, errlen) < 0)
			return -1;
	}
	return 0;
}

void args_free(struct args *a)
{
	free(a->argv);
	a->argv = NULL;
	a->argc = 0;
}

static int find(const struct args *a, const char *name)
{
	for (int i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i].name, name) == 0)
			return i;
	return -1;
}

int args_has(const struct args *a, const char *name)
{
	int i = find(a, name);
	return i < 0 ? 0 : a->opts[i].count;
}

const char *args_get(const struct args *a, const char *name)
{
	int i = find(a, name);
	return i < 0 ? NULL : a->opts[i].value;
}

int args_get_long(const struct args *a, const char *name, long *out, char *err, size_t errlen)
{
	const char *v = args_get(a, name);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end) {
		snprintf(err, errlen, "option '--%s' wants a whole number, not '%s'", name, v);
		return -1;
	}
	*out = n;
	return 0;
}

int parse_duration(const char *s, long *seconds)
{
	char *end;
	errno = 0;
	double n = strtod(s, &end);
	if (errno || end == s || n < 0)
		return -1;
	long mult = 1;
	if (*end) {
		if (end[1] && strcmp(end, "min") != 0)
			return -1;
		switch (*end) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		case 'w':
			mult = 7 * 86400;
			break;
		default:
			return -1;
		}
	}
	*seconds = (long)(n * (double)mult);
	return 0;
}

int args_get_duration(const struct args *a, const char *name, long *seconds, char *err,
		      size_t errlen)
{
	const char *v = args_get(a, name);
	if (!v)
		return 0;
	if (parse_duration(v, seconds) < 0) {
		snprintf(err, errlen,
			 "option '--%s' wants a duration like 30s, 10m, 24h or 7d, not '%s'", name,
			 v);
		return -1;
	}
	return 0;
}
