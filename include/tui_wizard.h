/* The console's wizard view (src/tui/tui_wizard.c): a picker of runbooks and runs in
 * progress, and a run driven through the engine of runbook.h. Steps on the left, help and
 * live output on the right. Command steps run as children polled from the console's loop,
 * so the loop never waits on them. Only src/tui/ includes this header. */
#ifndef MIDSOPS_TUI_WIZARD_H
#define MIDSOPS_TUI_WIZARD_H

struct tui;

/* The wizard is a view (struct tui_view in tui_int.h): tui.c reaches it through its ops.
 * :wizard [NAME [PARAM=VALUE...] | run NAME ... | resume RUN]. No words: the picker.
 * Returns 0 when the words are for the view, -1 for a subcommand that prints and ends
 * (list, show, validate, sync): the caller runs those as an ordinary child. The first
 * call makes t->view, with the view's state; its end op frees both. */
int tui_wizard_open(struct tui *t, char **words, int n);
#endif
