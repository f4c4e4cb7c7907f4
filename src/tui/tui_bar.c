/* The command bar: GNU readline through its callback interface. Keys read by ncurses are
 * handed to readline one byte at a time through rl_getc_function; readline draws
 * through rl_redisplay_function into the bar line. Readline's own terminal handling
 * and signal handlers are off: ncurses owns the terminal. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cmd.h"
#include "util.h"
#include "config.h"
#include "paths.h"
#include "tui_int.h"

static struct tui *bar_tui;
static unsigned char pending[16];
static int npending, ipending;
static char history_path[PATH_MAX];

static int bar_getc(FILE *f)
{
	(void)f;
	if (ipending < npending)
		return pending[ipending++];
	return EOF;
}

static int bar_input_available(void)
{
	return ipending < npending;
}

static void bar_redisplay(void)
{
	if (bar_tui && bar_tui->mode == MODE_BAR) {
		tui_bar_draw(bar_tui, LINES - 1, COLS);
		refresh();
	}
}

static void noop_prep(int meta)
{
	(void)meta;
}

static void noop_deprep(void)
{
}

static void on_line(char *line)
{
	struct tui *t = bar_tui;
	t->mode = MODE_NORMAL;
	curs_set(0);
	if (!line)
		return;
	char *s = line;
	while (*s == ' ')
		s++;
	if (*s) {
		HIST_ENTRY *last =
		    history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
		if (!last || strcmp(last->line, s) != 0) {
			add_history(s);
			if (history_path[0])
				append_history(1, history_path);
		}
		tui_execute(t, s);
	}
	free(line);
	t->need_redraw = 1;
}

/* Candidates for completion, collected per call. */
static char **cands;
static int ncands;

static void cands_clear(void)
{
	for (int i = 0; i < ncands; i++)
		free(cands[i]);
	free(cands);
	cands = NULL;
	ncands = 0;
}

static void cand_add(const char *s)
{
	char **n = xrealloc(cands, (size_t)(ncands + 2) * sizeof *n);
	cands = n;
	cands[ncands++] = xstrdup(s);
	cands[ncands] = NULL;
}

static char *cand_gen(const char *text, int state)
{
	static int i;
	static size_t len;
	if (!state) {
		i = 0;
		len = strlen(text);
	}
	while (i < ncands) {
		const char *c = cands[i++];
		if (strncmp(c, text, len) == 0)
			return xstrdup(c);
	}
	return NULL;
}

static void add_dir_names(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t sl = strlen(suffix);
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0) {
			char nm[256];
			snprintf(nm, sizeof nm, "%.*s", (int)(l - sl), e->d_name);
			cand_add(nm);
		}
	}
	if (d)
		closedir(d);
}

char **tui_runbook_names(void)
{
	char dir[PATH_MAX];
	cands_clear();
	snprintf(dir, sizeof dir, "%s/runbooks", paths_share_dir());
	add_dir_names(dir, ".json");
	snprintf(dir, sizeof dir, "%s/runbooks", paths_config_dir());
	add_dir_names(dir, ".json");
	char **v = cands;
	cands = NULL;
	ncands = 0;
	return v;
}

static void add_commands(void)
{
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce))
		if (!(ce->flags & CMD_HIDDEN))
			cand_add(ce->name);
	for (const struct tui_builtin *b = tui_builtins; b->name; b++) {
		int dup = !b->help;
		for (int k = 0; k < ncands; k++)
			dup |= strcmp(cands[k], b->name) == 0;
		if (!dup)
			cand_add(b->name);
	}
}

static void add_options(const char *spec)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", spec ? spec : "");
	for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char opt[80];
		size_t n = strcspn(w, "=*|");
		snprintf(opt, sizeof opt, "--%.*s", (int)n, w);
		cand_add(opt);
	}
	cand_add("--help");
	cand_add("--json");
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	struct tui *t = bar_tui;
	rl_attempted_completion_over = 1;
	cands_clear();
	char first[128] = "";
	const char *p = rl_line_buffer;
	while (*p == ' ')
		p++;
	if (p - rl_line_buffer >= start) {
		add_commands();
		return rl_completion_matches(text, cand_gen);
	}
	size_t fl = strcspn(p, " ");
	snprintf(first, sizeof first, "%.*s", (int)fl, p);
	if (text[0] == '-') {
		char err[256];
		const struct cmd_entry *ce = cmd_find(first, err, sizeof err);
		add_options(ce ? ce->options : "");
		return rl_completion_matches(text, cand_gen);
	}
	const struct tui_builtin *b = tui_builtin_find(first);
	int kind = b ? b->complete : COMPLETE_NONE;
	if (kind == COMPLETE_NONE) {
		char err[256];
		const struct cmd_entry *ce = cmd_find(first, err, sizeof err);
		if (ce)
			kind = ce->complete;
	}
	char buf[64];
	switch (kind) {
	case COMPLETE_FILE:
		rl_attempted_completion_over = 0;
		return NULL;
	case COMPLETE_ENV:
		for (int i = 0; i < t->cfg->nenvs; i++)
			cand_add(t->cfg->envs[i].name);
		cand_add("embedded");
		break;
	case COMPLETE_RUN:
		for (int i = 0; i < t->v->imp.nids; i++) {
			snprintf(buf, sizeof buf, "%lld", t->v->imp.ids[i]);
			cand_add(buf);
		}
		break;
	case COMPLETE_BACKUP:
		for (int i = 0; i < t->v->hx.nbackup_ids; i++)
			cand_add(t->v->hx.backup_ids[i]);
		break;
	case COMPLETE_RUNBOOK: {
		char **v = tui_runbook_names();
		for (char **q = v; q && *q; q++) {
			cand_add(*q);
			free(*q);
		}
		free(v);
		break;
	}
	case COMPLETE_THEME: {
		char **v = tui_theme_names();
		for (char **q = v; q && *q; q++) {
			cand_add(*q);
			free(*q);
		}
		free(v);
		break;
	}
	case COMPLETE_COMMAND:
		add_commands();
		break;
	default:
		return NULL;
	}
	return rl_completion_matches(text, cand_gen);
}

/* Readline cannot print the list of matches (its output goes nowhere): show it in the
 * output area. */
static void show_matches(char **matches, int n, int maxlen)
{
	(void)maxlen;
	struct tui *t = bar_tui;
	char line[1024];
	size_t o = 0;
	line[0] = 0;
	for (int i = 1; i <= n; i++) {
		size_t l = strlen(matches[i]);
		if (o + l + 2 >= 100) {
			tui_lines_add(&t->out, line);
			o = 0;
			line[0] = 0;
		}
		o += (size_t)snprintf(line + o, sizeof line - o, "%s  ", matches[i]);
	}
	if (o)
		tui_lines_add(&t->out, line);
	t->panes[PANE_OUTPUT].follow = 1;
	t->need_redraw = 1;
}

void tui_bar_init(struct tui *t)
{
	bar_tui = t;
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_change_environment = 0;
	rl_prep_term_function = noop_prep;
	rl_deprep_term_function = noop_deprep;
	rl_getc_function = bar_getc;
	rl_input_available_hook = bar_input_available;
	rl_redisplay_function = bar_redisplay;
	rl_outstream = fopen("/dev/null", "w");
	rl_readline_name = "midsops";
	rl_attempted_completion_function = complete;
	rl_completion_display_matches_hook = show_matches;
	rl_completer_word_break_characters = " \t";
	using_history();
	const char *sd = paths_state_dir();
	if (paths_mkdir_p(sd, 0700) == 0) {
		snprintf(history_path, sizeof history_path, "%s/history", sd);
		int fd = open(history_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		read_history(history_path);
	}
	stifle_history(1000);
	rl_callback_handler_install(":", on_line);
	/* Delete is not bound by default everywhere. */
	rl_bind_keyseq("\033[3~", rl_delete);
}

/* Longer lines are not commands anyone types; a paste of megabytes must not cost a
 * redraw per byte of an ever longer line. Editing and control keys still pass. */
#define BAR_MAX_LINE 4096

/* Bytes dropped from the line being edited. Such a line is refused whole at Enter: run
 * shortened, a pasted command could do something other than what was pasted (a name or
 * a --where cut in the middle). Cleared with the line. */
static size_t bar_dropped;

static void refuse_line(struct tui *t)
{
	size_t total = (size_t)rl_end + bar_dropped;
	tui_bar_cancel(t);
	tui_lines_addf(&t->out,
		       "refused a %zu-byte line (the command bar takes %d bytes); nothing ran",
		       total, BAR_MAX_LINE);
	tui_message(t, "refused a %zu-byte line (over %d bytes): nothing ran", total, BAR_MAX_LINE);
	t->panes[PANE_OUTPUT].follow = 1;
}

static void feed(const char *bytes, int n)
{
	struct tui *t = bar_tui;
	for (int i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)bytes[i];
		if (bar_dropped && (ch == '\n' || ch == '\r') &&
		    !RL_ISSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH)) {
			refuse_line(t);
			break;
		}
		if (rl_end >= BAR_MAX_LINE && ch >= 0x20 && ch != 0x7f) {
			if (!bar_dropped++) {
				beep();
				/* The bottom line is the bar itself: say it where it stays. */
				tui_lines_addf(
				    &t->out,
				    "the command line is over %d bytes: Enter refuses it "
				    "whole (Esc clears it)",
				    BAR_MAX_LINE);
				t->panes[PANE_OUTPUT].follow = 1;
				t->need_redraw = 1;
			}
			continue;
		}
		npending = 1;
		ipending = 0;
		pending[0] = (unsigned char)bytes[i];
		rl_callback_read_char();
		if (rl_end == 0)
			bar_dropped = 0;
		if (t->mode != MODE_BAR)
			break;
	}
}

void tui_bar_enter(struct tui *t)
{
	t->mode = MODE_BAR;
	curs_set(1);
	tui_bar_draw(t, LINES - 1, COLS);
}

void tui_bar_cancel(struct tui *t)
{
	bar_dropped = 0;
	if (RL_ISSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH))
		feed("\007", 1);
	rl_replace_line("", 0);
	rl_point = rl_end = 0;
	/* The next session starts at the end of the history, as after a command. */
	history_set_pos(history_length);
	t->mode = MODE_NORMAL;
	curs_set(0);
	t->need_redraw = 1;
}

void tui_bar_key(struct tui *t, int key)
{
	const char *seq = NULL;
	switch (key) {
	case KEY_UP:
		seq = "\033[A";
		break;
	case KEY_DOWN:
		seq = "\033[B";
		break;
	case KEY_RIGHT:
		seq = "\033[C";
		break;
	case KEY_LEFT:
		seq = "\033[D";
		break;
	case KEY_HOME:
		seq = "\001";
		break;
	case KEY_END:
		seq = "\005";
		break;
	case KEY_DC:
		seq = "\033[3~";
		break;
	case KEY_BACKSPACE:
		seq = "\177";
		break;
	case KEY_ENTER:
		seq = "\n";
		break;
	}
	if (seq) {
		feed(seq, (int)strlen(seq));
		return;
	}
	if (key < 0 || key > 255)
		return;
	char c = (char)key;
	feed(&c, 1);
	(void)t;
}

void tui_bar_draw(struct tui *t, int y, int w)
{
	const char *prompt = rl_display_prompt ? rl_display_prompt : ":";
	const char *line = rl_line_buffer ? rl_line_buffer : "";
	char before[4096];
	snprintf(before, sizeof before, "%s%.*s", prompt, rl_point, line);
	int cur = tui_text_width(before);
	/* Scroll horizontally so the cursor stays visible. */
	int skip = 0;
	if (cur >= w - 1)
		skip = cur - (w - 1) + 8;
	char all[4096];
	snprintf(all, sizeof all, "%s%s", prompt, line);
	const char *s = all;
	int dropped = 0;
	mbstate_t st;
	memset(&st, 0, sizeof st);
	while (dropped < skip && *s) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, strlen(s), &st);
		int cw = 1;
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof st);
			n = 1;
		} else if ((cw = wcwidth(wc)) < 0)
			cw = 0;
		dropped += cw;
		s += n;
	}
	attrset(t->attrs[ROLE_NORMAL]);
	move(y, 0);
	clrtoeol();
	tui_put(t, y, 0, w, ROLE_NORMAL, s);
	int cx = cur - dropped;
	if (cx < 0)
		cx = 0;
	if (cx >= w)
		cx = w - 1;
	move(y, cx);
}

void tui_bar_end(struct tui *t)
{
	(void)t;
	rl_callback_handler_remove();
	if (history_path[0])
		history_truncate_file(history_path, 1000);
	cands_clear();
}

int tui_bar_empty(void)
{
	return rl_end == 0;
}

const char *tui_readline_version(void)
{
	return rl_library_version;
}
