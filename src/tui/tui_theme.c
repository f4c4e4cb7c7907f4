/* Themes: small INI files of "role = FG BG [attributes]" under themes/ (shipped) and
 * $XDG_CONFIG_HOME/midsops/themes/ (the user's, which win). Without colour (NO_COLOR,
 * --no-color or a terminal without colours) only the attributes are used. */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "util.h"
#include "tui_int.h"

static const char *const role_names[ROLE_N] = {"normal",  "header",   "border",	  "ok",
					       "warning", "critical", "selected", "dim"};

/* Used when no theme file can be found, so the console always has one. */
static const char builtin_default[] = "normal = default default\n"
				      "header = black cyan bold\n"
				      "border = blue default\n"
				      "ok = green default\n"
				      "warning = yellow default bold\n"
				      "critical = red default bold\n"
				      "selected = black cyan\n"
				      "dim = default default dim\n";

static int colour_num(const char *s)
{
	static const char *const names[] = {"black", "red",	"green", "yellow",
					    "blue",  "magenta", "cyan",	 "white"};
	if (strcmp(s, "default") == 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		if (strcmp(s, names[i]) == 0)
			return i;
		if (strncmp(s, "bright", 6) == 0 && strcmp(s + 6 + (s[6] == '-'), names[i]) == 0)
			return i + 8;
	}
	char *e;
	long n = strtol(s, &e, 10);
	if (*s && !*e && n >= 0 && n < 256)
		return (int)n;
	return -2;
}

/* A folder whose name does not fit is left out (""): a cut one would be another folder. */
static void theme_dir(char dir[PATH_MAX], const char *parent)
{
	if (!util_fits(snprintf(dir, PATH_MAX, "%s/themes", parent), PATH_MAX))
		dir[0] = 0;
}

static void theme_dirs(char dirs[3][PATH_MAX])
{
	theme_dir(dirs[0], paths_config_dir());
	theme_dir(dirs[1], paths_share_dir());
	/* A build tree (build-x/midsops) keeps themes/ one level up. */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	dirs[2][0] = 0;
	if (n > 0) {
		exe[n] = 0;
		char *s = strrchr(exe, '/');
		if (s) {
			*s = 0;
			s = strrchr(exe, '/');
			if (s) {
				*s = 0;
				theme_dir(dirs[2], exe);
			}
		}
	}
}

static char *read_theme(const char *name)
{
	char dirs[3][PATH_MAX];
	theme_dirs(dirs);
	for (int i = 0; i < 3; i++) {
		if (!dirs[i][0])
			continue;
		char path[PATH_MAX + 128];
		/* A cut path would read another file as the theme. */
		if (!util_fits(snprintf(path, sizeof path, "%s/%s.theme", dirs[i], name),
			       sizeof path))
			continue;
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		char *buf = xcalloc(1, 16384);
		if (buf)
			fread(buf, 1, 16383, f);
		fclose(f);
		return buf;
	}
	return NULL;
}

int tui_theme_load(struct tui *t, const char *name, char *err, size_t errlen)
{
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_') {
			snprintf(err, errlen, "theme names hold only letters, digits, '-' and '_'");
			return -1;
		}
	char *text = read_theme(name);
	if (!text) {
		if (strcmp(name, "default") != 0) {
			snprintf(err, errlen, "no theme '%s' (see :theme for the list)", name);
			return -1;
		}
		text = xstrdup(builtin_default);
	}
	int fg[ROLE_N], bg[ROLE_N];
	attr_t at[ROLE_N];
	for (int r = 0; r < ROLE_N; r++) {
		fg[r] = bg[r] = -1;
		at[r] = 0;
	}
	int lineno = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		lineno++;
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#' || *line == ';' || *line == '[')
			continue;
		char key[32], a[32] = "", b[32] = "", rest[128] = "";
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = 0;
		if (sscanf(line, "%31s", key) != 1)
			continue;
		int n = sscanf(eq + 1, "%31s %31s %127[^\n]", a, b, rest);
		int role = -1;
		for (int r = 0; r < ROLE_N; r++)
			if (strcmp(key, role_names[r]) == 0)
				role = r;
		if (role < 0 || n < 1) {
			snprintf(err, errlen, "theme %s: line %d: unknown role '%s'", name, lineno,
				 key);
			free(text);
			return -1;
		}
		fg[role] = colour_num(a);
		bg[role] = n >= 2 ? colour_num(b) : -1;
		if (fg[role] == -2 || bg[role] == -2) {
			snprintf(err, errlen, "theme %s: role %s: unknown colour", name, key);
			free(text);
			return -1;
		}
		if (strstr(rest, "bold"))
			at[role] |= A_BOLD;
		if (strstr(rest, "dim"))
			at[role] |= A_DIM;
		if (strstr(rest, "reverse"))
			at[role] |= A_REVERSE;
		if (strstr(rest, "underline"))
			at[role] |= A_UNDERLINE;
	}
	free(text);
	for (int r = 0; r < ROLE_N; r++) {
		if (t->colour) {
			init_pair((short)(r + 1), (short)fg[r], (short)bg[r]);
			t->attrs[r] = COLOR_PAIR(r + 1) | at[r];
		} else {
			t->attrs[r] = at[r];
			/* Without colour, roles that only differ by colour still need to show. */
			if ((r == ROLE_HEADER || r == ROLE_SELECTED) && !(at[r] & A_REVERSE))
				t->attrs[r] |= A_REVERSE;
			if (r == ROLE_CRITICAL)
				t->attrs[r] |= A_BOLD;
		}
	}
	snprintf(t->theme, sizeof t->theme, "%s", name);
	bkgdset(' ' | t->attrs[ROLE_NORMAL]);
	return 0;
}

static int add_name(char ***v, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (strcmp((*v)[i], name) == 0)
			return 0;
	char **nv = xrealloc(*v, (size_t)(*n + 2) * sizeof *nv);
	*v = nv;
	nv[(*n)++] = xstrdup(name);
	nv[*n] = NULL;
	return 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **tui_theme_names(void)
{
	char dirs[3][PATH_MAX];
	theme_dirs(dirs);
	char **v = xcalloc(1, sizeof *v);
	int n = 0;
	add_name(&v, &n, "default");
	for (int i = 0; i < 3; i++) {
		DIR *d = dirs[i][0] ? opendir(dirs[i]) : NULL;
		struct dirent *e;
		while (d && (e = readdir(d))) {
			size_t l = strlen(e->d_name);
			if (l > 6 && strcmp(e->d_name + l - 6, ".theme") == 0) {
				char nm[256];
				snprintf(nm, sizeof nm, "%.*s", (int)(l - 6), e->d_name);
				add_name(&v, &n, nm);
			}
		}
		if (d)
			closedir(d);
	}
	qsort(v, (size_t)n, sizeof *v, cmpstr);
	return v;
}
