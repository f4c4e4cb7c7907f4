/* The console: live panes, a readline command bar, commands run as child processes.
 * Only src/tui/ includes curses; the data comes from the monitor (probe_async.h). */
#ifndef MIDSOPS_TUI_H
#define MIDSOPS_TUI_H

#include <stddef.h>

struct config;
struct target;

/* Run the console until the operator quits. Returns an exit status. */
int tui_run(struct config *cfg, const struct target *t);

/* Split a command line into words: blanks separate, '...' and "..." quote, a backslash
 * escapes the next character (not inside '...'). Never a shell: no globbing, no
 * variables. Returns the word count (words malloc'ed, NULL-terminated, free with
 * tui_words_free), or -1 with a reason in err (an unterminated quote). */
int tui_words_split(const char *line, char ***words, char *err, size_t errlen);
void tui_words_free(char **words);

/* Theme names, shipped and the user's: malloc'ed, NULL-terminated. No curses needed, so
 * shell completion (src/cmd/cmd_completion.c) lists them too. */
char **tui_theme_names(void);

/* Display columns of a UTF-8 string (wcwidth; invalid bytes count 1). */
int tui_text_width(const char *s);
/* Byte length of the longest prefix of s that fits in cols columns. */
size_t tui_text_fit(const char *s, int cols);

/* The curses and readline libraries this console was linked with, for `version`. */
const char *tui_curses_version(void);
const char *tui_readline_version(void);

#endif
