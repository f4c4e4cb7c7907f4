/* The console's wizard view (src/tui/tui_wizard.c): a picker of runbooks and runs in
 * progress, and a run driven through the engine of runbook.h. Steps on the left, help and
 * live output on the right. Command steps run as children polled from the console's loop,
 * so the loop never waits on them. Only src/tui/ includes this header. */
#ifndef MIDSOPS_TUI_WIZARD_H
#define MIDSOPS_TUI_WIZARD_H

struct tui;

/* :wizard [NAME [PARAM=VALUE...] | run NAME ... | resume RUN]. No words: the picker.
 * Returns 0 when the words are for the view, -1 for a subcommand that prints and ends
 * (list, show, validate, sync): the caller runs those as an ordinary child. */
int tui_wizard_open(struct tui *t, char **words, int n);
/* The view is on screen (picker or run). */
int tui_wizard_active(void);
/* Draw the area between the header and the bottom line. */
void tui_wizard_draw(struct tui *t);
/* Draw the bottom line (prompt or key hints); 0 when the console should draw its own. */
int tui_wizard_bottom(struct tui *t, int y);
/* A key in the normal mode while the view is on screen. */
void tui_wizard_key(struct tui *t, int key);
/* Called every turn of the loop: read a step's output, end waits, take automatic steps. */
void tui_wizard_tick(struct tui *t);
/* How soon (ms) the loop must call tui_wizard_tick again; -1 when nothing is pending. */
int tui_wizard_timeout(void);
/* The console is ending: stop a running step, pause the run, let go of its lock. */
void tui_wizard_end(struct tui *t);

#endif
