/* The completion family: `completion bash` writes a bash completion script generated from
 * the command table at run time, so a new command or option completes without anyone
 * editing a script. Names that live outside the table (environments, import runs, backups,
 * runbooks, themes) come from the hidden `completion words KIND`, which the script calls
 * at Tab time: the lookups stay in C, next to the code that uses the names, and the script
 * needs nothing but bash. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "util.h"
#include "cluster.h"
#include "cmd.h"
#include "config.h"
#include "probe_console.h"
#include "runbook.h"
#include "target.h"
#include "tui.h"
#include "version.h"

/* ------------------------------------------------------------------ words KIND */

static void words_envs(struct cmd_ctx *ctx)
{
	for (int i = 0; i < ctx->cfg->nenvs; i++)
		out_line(ctx->out, "%s", ctx->cfg->envs[i].name);
	/* --env embedded names the private cluster (target.c), configured or not. */
	out_line(ctx->out, "%s", "embedded");
}

static void word_line(const char *word, void *out)
{
	out_line(out, "%s", word);
}

static void words_runs(struct cmd_ctx *ctx)
{
	const struct target *t = ctx->target;
	char err[512];
	/* No source: the target did not resolve (a bad --env), so there is nothing to ask. */
	if (!t->source[0])
		return;
	/* A Tab must never start the embedded server, which db_connect would do. */
	if (t->embedded) {
		struct cluster cl;
		if (cluster_locate(&cl, NULL, err, sizeof err) < 0 ||
		    cluster_state(&cl, NULL) != CLUSTER_RUNNING)
			return;
	}
	probe_import_recent_ids(t->conninfo, word_line, ctx->out);
}

static void words_backups(struct cmd_ctx *ctx)
{
	/* The repository is the source of truth and needs no database (backup.h). */
	struct backup_info *b = NULL;
	int n = backup_repo_load(ctx->cfg->backup_dir, &b);
	for (int i = n - 1; i >= 0; i--)
		out_line(ctx->out, "%s", b[i].id);
	free(b);
}

static void words_runbooks(struct cmd_ctx *ctx)
{
	enum { MAX = 256 };
	struct rb_entry *e = xcalloc(MAX, sizeof *e);
	int n = e ? rb_list(e, MAX) : 0;
	for (int i = 0; i < n; i++)
		out_line(ctx->out, "%s", e[i].name);
	free(e);
}

static void words_themes(struct cmd_ctx *ctx)
{
	char **v = tui_theme_names();
	for (char **p = v; p && *p; p++) {
		out_line(ctx->out, "%s", *p);
		free(*p);
	}
	free(v);
}

static const struct word_source {
	const char *kind;
	void (*list)(struct cmd_ctx *ctx);
} word_sources[] = {
    {.kind = "envs", .list = words_envs},	{.kind = "runs", .list = words_runs},
    {.kind = "backups", .list = words_backups}, {.kind = "runbooks", .list = words_runbooks},
    {.kind = "themes", .list = words_themes},
};
#define NWORD_SOURCES (sizeof word_sources / sizeof word_sources[0])

/* ------------------------------------------------------------------ the script */

/* What an option's value completes to, by the option's name: one name means one thing in
 * every command. Kinds are the script's: files, dirs or a `completion words` KIND. */
static const struct option_kind {
	const char *name;
	const char *kind;
} option_kinds[] = {
    {.name = "backup", .kind = "backups"},  {.name = "run", .kind = "runs"},
    {.name = "theme", .kind = "themes"},    {.name = "env", .kind = "envs"},
    {.name = "target-dir", .kind = "dirs"}, {.name = "archive", .kind = "dirs"},
};

/* The global options src/main.c takes anywhere on the line (take_global); kind NULL is a
 * flag. Keep the two in step. */
static const struct global_opt {
	const char *name;
	const char *kind;
} global_opts[] = {
    {.name = "--dsn", .kind = "none"},
    {.name = "--env", .kind = "envs"},
    {.name = "--config", .kind = "files"},
    {.name = "--theme", .kind = "themes"},
    {.name = "--json"},
    {.name = "--no-color"},
    {.name = "--help"},
    {.name = "--version"},
};
#define NGLOBAL_OPTS (sizeof global_opts / sizeof global_opts[0])

static const char *complete_kind(enum cmd_complete c)
{
	switch (c) {
	case COMPLETE_FILE:
		return "files";
	case COMPLETE_ENV:
		return "envs";
	case COMPLETE_RUN:
		return "runs";
	case COMPLETE_BACKUP:
		return "backups";
	case COMPLETE_RUNBOOK:
		return "runbooks";
	case COMPLETE_THEME:
		return "themes";
	case COMPLETE_COMMAND:
		return "commands";
	case COMPLETE_NONE:
		break;
	}
	return "none";
}

/* Words go into the script unquoted in case patterns and inside '...'; a name with any
 * other character is left out rather than allowed to break (or inject into) the script. */
static int word_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

static void addf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void addf(char *buf, size_t n, const char *fmt, ...)
{
	size_t len = strlen(buf);
	if (len + 1 >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
}

/* Add a word to a space-separated list once. */
static void add_word(char *list, size_t n, const char *w)
{
	size_t wl = strlen(w);
	if (!word_ok(w))
		return;
	for (const char *p = list; (p = strstr(p, w)); p += wl)
		if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || !p[wl]))
			return;
	addf(list, n, "%s%s", list[0] ? " " : "", w);
}

/* The literal words of a usage line: lowercase words are literals, capitals placeholders,
 * and what follows an option is its value. A bracket right after a literal holds that
 * literal's own choices; the other literals are the first argument's choices. So
 * "cluster init|start|stop [smart|fast|immediate]|status" gives init, start, stop and
 * status first, then smart, fast and immediate after stop. */
#define MAX_SUBS 8
struct literals {
	char first[512];
	struct {
		char word[32];
		char args[256];
	} sub[MAX_SUBS];
	int nsub;
};

static int is_literal(const char *w)
{
	if (!islower((unsigned char)w[0]))
		return 0;
	for (; *w; w++)
		if (!islower((unsigned char)*w) && !isdigit((unsigned char)*w) && *w != '-')
			return 0;
	return 1;
}

static void usage_literals(const char *usage, struct literals *l)
{
	enum { NONE, LITERAL, OTHER, OPTION } prev = NONE;
	char last[64] = ""; /* as long as any word w below, so a literal is never cut */
	/* Per bracket depth, whose choices its literals are: "" the first argument's, a
	 * literal's name, or NULL (a placeholder's or an option's bracket: not literals). */
	const char *owner[16] = {""};
	char owners[16][64];
	int depth = 0;
	memset(l, 0, sizeof *l);
	const char *p = usage + strcspn(usage, " ");
	while (*p) {
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == '[' || *p == ']' || *p == '|') {
			if (*p == '[' && depth + 1 < 16) {
				depth++;
				if (prev == LITERAL) {
					snprintf(owners[depth], sizeof owners[depth], "%s", last);
					owner[depth] = owners[depth];
				} else {
					owner[depth] = prev == NONE ? owner[depth - 1] : NULL;
				}
			} else if (*p == ']' && depth > 0) {
				depth--;
			}
			prev = NONE;
			p++;
			continue;
		}
		size_t n = strcspn(p, " []|");
		char w[64];
		snprintf(w, sizeof w, "%.*s", (int)n, p);
		p += n;
		if (w[0] == '-') {
			prev = OPTION;
			continue;
		}
		if (prev == OPTION || !is_literal(w)) {
			prev = OTHER;
			continue;
		}
		prev = LITERAL;
		snprintf(last, sizeof last, "%s", w);
		if (!owner[depth])
			continue;
		if (!owner[depth][0]) {
			add_word(l->first, sizeof l->first, w);
			continue;
		}
		int k = 0;
		while (k < l->nsub && strcmp(l->sub[k].word, owner[depth]) != 0)
			k++;
		if (k == l->nsub) {
			if (l->nsub == MAX_SUBS)
				continue;
			snprintf(l->sub[k].word, sizeof l->sub[k].word, "%s", owner[depth]);
			l->nsub++;
		}
		add_word(l->sub[k].args, sizeof l->sub[k].args, w);
	}
}

/* "--name -n" for every option of a spec (args.h), and the ones taking a value. */
static void spec_options(const char *spec, char *opts, size_t on, char *vals, size_t vn)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", spec ? spec : "");
	for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char name[64], alias[8] = "";
		size_t n = strcspn(w, "=*|");
		snprintf(name, sizeof name, "--%.*s", (int)n, w);
		const char *bar = strchr(w, '|');
		if (bar && isalnum((unsigned char)bar[1]))
			snprintf(alias, sizeof alias, "-%c", bar[1]);
		int value = strchr(w, '=') != NULL;
		add_word(opts, on, name);
		if (value)
			add_word(vals, vn, name);
		if (alias[0]) {
			add_word(opts, on, alias);
			if (value)
				add_word(vals, vn, alias);
		}
	}
}

/* Fixed parts of the script, emitted as they are. */
static const char *const script_helpers[] = {
    "# Without bash-completion: put back together what COMP_WORDBREAKS split apart where the",
    "# line has no blank (\"--opt\" \"=\" \"value\"), as _init_completion -s does, then split",
    "# --opt=value into prev and cur.",
    "_midsops_init()",
    "{",
    "\tlocal i t rest line=$COMP_LINE",
    "\tlocal -i j=-1",
    "\twords=()",
    "\tcword=0",
    "\tfor ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do",
    "\t\tt=${COMP_WORDS[i]}",
    "\t\trest=${line#\"${line%%[![:space:]]*}\"}",
    "\t\tif ((j >= 1)) && [[ $t && $rest == \"$line\" && $line == \"$t\"* ]]; then",
    "\t\t\twords[j]+=$t",
    "\t\telse",
    "\t\t\twords[++j]=$t",
    "\t\tfi",
    "\t\tline=${rest#\"$t\"}",
    "\t\t((i == COMP_CWORD)) && cword=$j",
    "\tdone",
    "\tcur=${words[cword]}",
    "\tprev=${words[cword - 1]}",
    "\tif [[ $cur == --*=* ]]; then",
    "\t\tprev=${cur%%=*}",
    "\t\tcur=${cur#*=}",
    "\t\tsplit=true",
    "\tfi",
    "}",
    "",
    "# Candidates on stdin, one a line, that start with $cur.",
    "_midsops_add()",
    "{",
    "\tlocal w",
    "\twhile IFS= read -r w; do",
    "\t\t[[ $w == \"$cur\"* ]] && COMPREPLY+=(\"$w\")",
    "\tdone",
    "}",
    "",
    "# _midsops_kind KIND: files, dirs, commands, or names from 'completion words KIND' of the",
    "# binary being completed, given the line's global options so that they come from the",
    "# config and target the command would use.",
    "_midsops_kind()",
    "{",
    "\tlocal w flag=-f",
    "\tcase $1 in",
    "\tfiles | dirs)",
    "\t\t[[ $1 == dirs ]] && flag=-d",
    "\t\tcompopt -o filenames 2>/dev/null",
    "\t\twhile IFS= read -r w; do",
    "\t\t\tCOMPREPLY+=(\"$w\")",
    "\t\tdone < <(compgen \"$flag\" -- \"$cur\")",
    "\t\t;;",
    "\tcommands) _midsops_add < <(compgen -W \"$_midsops_commands\" -- \"$cur\") ;;",
    "\tenvs | runs | backups | runbooks | themes)",
    "\t\t_midsops_add < <(\"$bin\" \"${gopts[@]}\" completion words \"$1\" 2>/dev/null </dev/null)",
    "\t\t;;",
    "\tesac",
    "}",
    "",
    "# _midsops_command WORD: the spec of the command WORD names, in full or as the unique",
    "# prefix the command line accepts; sets cmd.",
    "_midsops_command()",
    "{",
    "\tlocal c m= n=0",
    "\tif _midsops_spec \"$1\"; then",
    "\t\tcmd=$1",
    "\t\treturn 0",
    "\tfi",
    "\tfor c in $_midsops_commands; do",
    "\t\t[[ $c == \"$1\"* ]] && m=$c && n=$((n + 1))",
    "\tdone",
    "\t((n == 1)) && cmd=$m && _midsops_spec \"$m\"",
    "}",
    "",
    "_midsops()",
    "{",
    "\tlocal cur prev words cword split=false",
    "\tif declare -F _init_completion >/dev/null 2>&1; then",
    "\t\t_init_completion -s || return",
    "\telse",
    "\t\t_midsops_init",
    "\tfi",
    "\tCOMPREPLY=()",
    "\tlocal bin=${words[0]} cmd= first= w opt= _o= _v= _k=none _n=0 _s= _r=0 _w= _vk=",
    "\tlocal -i i npos=0 dd=0",
    "\tlocal -a gopts=()",
    "\t[[ $bin == '~/'* ]] && bin=$HOME/${bin:2}",
    "\tfor ((i = 1; i < cword; i++)); do",
    "\t\tw=${words[i]}",
    "\t\tif ((!dd)) && [[ \" $_midsops_gvalues \" == *\" $w \"* ]]; then",
    "\t\t\t((i + 1 < cword)) && gopts+=(\"$w\" \"${words[i + 1]}\")",
    "\t\t\ti+=1",
    "\t\telif ((!dd)) && [[ $w == --*=* && \" $_midsops_gvalues \" == *\" ${w%%=*} \"* ]]; then",
    "\t\t\tgopts+=(\"$w\")",
    "\t\telif ((!dd)) && [[ $w == -- && $cmd ]]; then",
    "\t\t\tdd=1",
    "\t\telif ((!dd)) && [[ $w == -* ]]; then",
    "\t\t\t[[ $cmd && \" $_v \" == *\" $w \"* ]] && i+=1",
    "\t\telif [[ -z $cmd ]]; then",
    "\t\t\t# An unknown command has nothing to offer.",
    "\t\t\t_midsops_command \"$w\" || return 0",
    "\t\t\t# Its arguments pass through untouched (db-shell to psql): not ours to know.",
    "\t\t\tif ((_r)); then",
    "\t\t\t\t_midsops_kind files",
    "\t\t\t\treturn 0",
    "\t\t\tfi",
    "\t\telse",
    "\t\t\tnpos+=1",
    "\t\t\t((npos == 1)) && first=$w",
    "\t\tfi",
    "\tdone",
    "\t# The value of an option: --opt VALUE, or --opt=VALUE.",
    "\tif [[ $split == true ]]; then",
    "\t\topt=$prev",
    ("\telif ((!dd)) && [[ \" $_midsops_gvalues \" == *\" $prev \"* || ($cmd && \" $_v \" == *\" "
     "$prev \"*) ]]; then"),
    "\t\topt=$prev",
    "\tfi",
    "\tif [[ $opt ]]; then",
    "\t\t_midsops_optkind \"$opt\"",
    "\t\t_midsops_kind \"$_vk\"",
    "\t\t# Unless '=' breaks words, the word replaced is --opt=value as a whole.",
    "\t\tif [[ $split == true && $COMP_WORDBREAKS != *=* ]]; then",
    "\t\t\tCOMPREPLY=(\"${COMPREPLY[@]/#/$opt=}\")",
    "\t\tfi",
    "\t\treturn 0",
    "\tfi",
    "\tif ((!dd)) && [[ $cur == -* ]]; then",
    "\t\t_midsops_add < <(compgen -W \"$_o $_midsops_globals\" -- \"$cur\")",
    "\telif [[ -z $cmd ]]; then",
    "\t\t_midsops_kind commands",
    "\telif [[ $_s ]]; then",
    "\t\t# Literal subcommands first (wizard list, cluster stop), then their own words.",
    "\t\tif ((npos == 0)); then",
    "\t\t\t_midsops_add < <(compgen -W \"$_s\" -- \"$cur\")",
    "\t\t\t_midsops_kind \"$_k\"",
    "\t\telif ((npos == 1)); then",
    "\t\t\t_midsops_subwords \"$cmd\" \"$first\"",
    "\t\t\t_midsops_add < <(compgen -W \"$_w\" -- \"$cur\")",
    "\t\tfi",
    "\telif ((_n < 0 || npos < _n)); then",
    "\t\t_midsops_kind \"$_k\"",
    "\tfi",
    "\treturn 0",
    "}",
    "",
    "complete -F _midsops midsops",
};

static void emit_commands(struct out *o)
{
	char line[8000] = "_midsops_commands='";
	size_t col = strlen(line);
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce)) {
		if ((ce->flags & CMD_HIDDEN) || !word_ok(ce->name))
			continue;
		/* Wrapped for whoever reads the script; newlines inside '...' split words too. */
		if (col + strlen(ce->name) > 90) {
			out_line(o, "%s", line);
			line[0] = '\t';
			line[1] = 0;
			col = 8;
		} else if (line[strlen(line) - 1] != '\'') {
			addf(line, sizeof line, " ");
			col++;
		}
		addf(line, sizeof line, "%s", ce->name);
		col += strlen(ce->name);
	}
	out_line(o, "%s'", line);
}

/* _midsops_spec COMMAND: options (_o), those taking a value (_v), what positionals complete
 * to (_k), how many (_n, -1 any), literal subcommands (_s), arguments passed through (_r). */
static void emit_specs(struct out *o)
{
	out_line(o, "%s", "");
	out_line(o, "%s",
		 "# _midsops_spec COMMAND: its options (_o), those taking a value (_v), what its "
		 "arguments");
	out_line(o, "%s",
		 "# complete to (_k), how many (_n, -1 any), its literal subcommands (_s), and "
		 "whether its");
	out_line(o, "%s", "# arguments pass through untouched (_r).");
	out_line(o, "%s", "_midsops_spec()");
	out_line(o, "%s", "{");
	out_line(o, "%s", "\tcase $1 in");
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce)) {
		if ((ce->flags & CMD_HIDDEN) || !word_ok(ce->name))
			continue;
		char opts[1024] = "", vals[1024] = "";
		struct literals l;
		spec_options(ce->options, opts, sizeof opts, vals, sizeof vals);
		usage_literals(ce->usage, &l);
		out_line(o, "\t%s) _o='%s'; _v='%s'; _k=%s; _n=%d; _s='%s'; _r=%d ;;", ce->name,
			 opts, vals, complete_kind(ce->complete), ce->max_args, l.first,
			 (ce->flags & CMD_RAWARGS) ? 1 : 0);
	}
	out_line(o, "%s", "\t*) return 1 ;;");
	out_line(o, "%s", "\tesac");
	out_line(o, "%s", "}");

	out_line(o, "%s", "");
	out_line(o, "%s",
		 "# _midsops_subwords COMMAND SUBCOMMAND: what follows a literal subcommand (_w).");
	out_line(o, "%s", "_midsops_subwords()");
	out_line(o, "%s", "{");
	out_line(o, "%s", "\tcase \"$1 $2\" in");
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce)) {
		if ((ce->flags & CMD_HIDDEN) || !word_ok(ce->name))
			continue;
		struct literals l;
		usage_literals(ce->usage, &l);
		for (int k = 0; k < l.nsub; k++)
			if (l.sub[k].args[0])
				out_line(o, "\t'%s %s') _w='%s' ;;", ce->name, l.sub[k].word,
					 l.sub[k].args);
	}
	out_line(o, "%s", "\t*) _w='' ;;");
	out_line(o, "%s", "\tesac");
	out_line(o, "%s", "}");
}

static void emit_option_kinds(struct out *o)
{
	out_line(o, "%s", "");
	out_line(o, "%s", "# _midsops_optkind OPTION: what the option's value completes to (_vk).");
	out_line(o, "%s", "_midsops_optkind()");
	out_line(o, "%s", "{");
	out_line(o, "%s", "\tcase $1 in");
	for (size_t i = 0; i < NGLOBAL_OPTS; i++)
		if (global_opts[i].kind)
			out_line(o, "\t%s) _vk=%s ;;", global_opts[i].name, global_opts[i].kind);
	for (size_t i = 0; i < sizeof option_kinds / sizeof option_kinds[0]; i++) {
		int dup = 0;
		for (size_t g = 0; g < NGLOBAL_OPTS; g++)
			dup |= global_opts[g].kind &&
			       strcmp(global_opts[g].name + 2, option_kinds[i].name) == 0;
		if (!dup)
			out_line(o, "\t--%s) _vk=%s ;;", option_kinds[i].name,
				 option_kinds[i].kind);
	}
	out_line(o, "%s", "\t*) _vk=none ;;");
	out_line(o, "%s", "\tesac");
	out_line(o, "%s", "}");
}

static void emit_bash(struct out *o)
{
	out_line(o, "# bash completion for midsops(1) %s, generated by 'midsops completion bash'",
		 MIDSOPS_VERSION);
	out_line(o, "%s",
		 "# from its command table. Enable it with: source <(midsops completion bash)");
	out_line(o, "%s",
		 "# or install it as share/bash-completion/completions/midsops (make install "
		 "does).");
	out_line(o, "%s", "");
	emit_commands(o);
	char globals[512] = "", gvalues[256] = "";
	for (size_t i = 0; i < NGLOBAL_OPTS; i++) {
		addf(globals, sizeof globals, "%s%s", globals[0] ? " " : "", global_opts[i].name);
		if (global_opts[i].kind)
			addf(gvalues, sizeof gvalues, "%s%s", gvalues[0] ? " " : "",
			     global_opts[i].name);
	}
	out_line(o, "# Global options, anywhere on the line; those taking a value.");
	out_line(o, "_midsops_globals='%s'", globals);
	out_line(o, "_midsops_gvalues='%s'", gvalues);
	emit_specs(o);
	emit_option_kinds(o);
	out_line(o, "%s", "");
	for (size_t i = 0; i < sizeof script_helpers / sizeof script_helpers[0]; i++)
		out_line(o, "%s", script_helpers[i]);
}

static int cmd_completion_exec(struct cmd_ctx *ctx)
{
	const struct args *a = ctx->args;
	if (a->argc == 1 && strcmp(a->argv[0], "bash") == 0) {
		emit_bash(ctx->out);
		return 0;
	}
	if (a->argc == 2 && strcmp(a->argv[0], "words") == 0) {
		for (size_t i = 0; i < NWORD_SOURCES; i++)
			if (strcmp(a->argv[1], word_sources[i].kind) == 0) {
				word_sources[i].list(ctx);
				return 0;
			}
		out_err(
		    ctx->out,
		    "completion words: KIND is envs, runs, backups, runbooks or themes, not '%s'",
		    a->argv[1]);
		return EXIT_USAGE;
	}
	out_err(ctx->out, "completion: the shell is bash: 'midsops completion bash'");
	cmd_usage(&cmd_completion_table[0], ctx->out);
	return EXIT_USAGE;
}

const struct cmd_entry cmd_completion_table[] = {
    {
	.name = "completion",
	.min_args = 1,
	.max_args = 2,
	.summary = "Print the bash completion script (source <(midsops completion bash))",
	.usage = "completion bash",
	.flags = CMD_NODB,
	.exec = cmd_completion_exec,
    },
    {0},
};
