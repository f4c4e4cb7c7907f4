/* Internals shared by the console's files in src/tui/. Includes curses: only src/tui/
 * may include this header. */
#ifndef MIDSOPS_TUI_INT_H
#define MIDSOPS_TUI_INT_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>
#include <stdarg.h>
#include <sys/types.h>

#include "probe_async.h"
#include "tui.h"

struct config;
struct target;
struct cmd_entry;

enum tui_role {
	ROLE_NORMAL,
	ROLE_HEADER,
	ROLE_BORDER,
	ROLE_OK,
	ROLE_WARNING,
	ROLE_CRITICAL,
	ROLE_SELECTED,
	ROLE_DIM,
	ROLE_N
};

/* Key handler results, as htop's panels: what the loop must do next. */
enum { TUI_HANDLED = 1, TUI_REDRAW = 2, TUI_REFRESH = 4, TUI_QUIT = 8 };

/* A growable list of lines (output area, help, details). */
struct tui_lines {
	char **v;
	int n, cap, max; /* max > 0: drop the oldest beyond it */
};
void tui_lines_add(struct tui_lines *l, const char *s);
void tui_lines_addf(struct tui_lines *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tui_lines_clear(struct tui_lines *l);
/* Also frees the array, so a list on the stack or in a closing view leaves nothing. */
void tui_lines_free(struct tui_lines *l);
/* Lines built by tui_tl without their role byte (the details overlay has no colours). */
void tui_lines_add_plain(struct tui_lines *out, const struct tui_lines *l);

struct tui;
struct tui_pane;

struct tui_rect {
	int y, x, h, w;
};

struct tui_pane_ops {
	const char *name; /* saved as `focus` by :save */
	const char *title;
	void (*draw)(struct tui_pane *p, struct tui *t, struct tui_rect r);
	int (*key)(struct tui_pane *p, struct tui *t, int key);
	/* Enter: fill lines with the details of the selection; 0 if there is nothing. */
	int (*details)(struct tui_pane *p, struct tui *t, struct tui_lines *out);
	int filterable;
	/* Optional: a pane shown alone (tui->full) comes on screen (on 1) or goes (on 0). */
	void (*shown)(struct tui_pane *p, struct tui *t, int on);
};

struct tui_pane {
	const struct tui_pane_ops *ops;
	int mon;    /* enum mon_pane, -1 for the output area */
	int scroll; /* first line shown */
	int sel;    /* selected item (lists) */
	int nitems; /* items after the filter, set by draw */
	int lines;  /* visible lines, set by draw */
	int follow; /* output: stick to the newest line */
	char filter[128];
};

/* A view takes the panes' place (the wizard). It keeps its own state in data, as tmux's
 * window modes keep theirs in wme->data; tui.c reaches it only through these ops. */
struct tui_view;
struct tui_view_ops {
	const char *name;
	int (*active)(struct tui_view *v); /* on screen now */
	/* The area between the header and the bottom line. */
	void (*draw)(struct tui_view *v, struct tui *t);
	/* The bottom line (prompt or key hints); 0 when the console should draw its own. */
	int (*bottom)(struct tui_view *v, struct tui *t, int y);
	/* A key in the normal mode while it is on screen. */
	void (*key)(struct tui_view *v, struct tui *t, int key);
	/* Every turn of the loop: its own work that must not wait for a key. */
	void (*tick)(struct tui_view *v, struct tui *t);
	/* How soon (ms) tick must come again (not "timeout": curses has a macro of that name); -1
	 * when nothing is pending. */
	int (*wait_ms)(struct tui_view *v);
	/* The console is ending: let go of everything, data and v included. */
	void (*end)(struct tui_view *v, struct tui *t);
};
struct tui_view {
	const struct tui_view_ops *ops;
	void *data;
};

enum tui_mode { MODE_NORMAL, MODE_BAR, MODE_FILTER, MODE_CONFIRM };

#define TUI_NPANES 5 /* the layout's panes, which Tab cycles */
enum { PANE_HEALTH, PANE_IMPORT, PANE_CACHE, PANE_ERRORS, PANE_OUTPUT, PANE_SESSIONS };
/* With the panes that are only ever shown zoomed, in the layout's place (S: sessions). */
#define TUI_NALL (PANE_SESSIONS + 1)

struct tui_child {
	pid_t pid; /* 0: none */
	int fd;	   /* read end of its stdout+stderr, -1 after EOF */
	char name[64];
	int flags;   /* cmd flags */
	int signals; /* stop requests sent */
	double started;
	char partial[4096];
	size_t npartial;
};

struct tui {
	struct config *cfg;
	const struct target *target;
	struct monitor *mon;
	const struct monitor_view *v;

	struct tui_pane panes[TUI_NALL];
	int focus, zoom; /* zoom: -1 or a pane */
	/* A pane shown alone in the panes' place, as a zoomed one, with the keys, / and Enter
	 * (T: the timeline); NULL: the panes. */
	struct tui_pane *full;
	struct tui_pane timeline;
	enum tui_mode mode;
	int help, help_scroll;
	int details_on, details_scroll;
	struct tui_lines details, help_lines, out;
	struct tui_lines banner; /* the outage banner of the frame being drawn */

	double refresh, next_refresh;
	int paused;
	int colour;
	attr_t attrs[ROLE_N];
	char theme[64];

	char msg[512];
	double msg_until;
	char filter_buf[128];
	char confirm_q[256];
	void (*confirm_yes)(struct tui *t);

	struct tui_view *view; /* NULL until a view is first opened */
	struct tui_child child;
	int quit;
	int too_small;
	int need_redraw;
	double t0;
	int first_frame;
	double first_frame_ms;
	char trace[4096];

	/* tui_fleet.c: the fleet strip; NULL unless the config names two environments. */
	struct fleet *fleet;
	int fleet_target;	  /* index in cfg->envs of the panes' target; -1: none */
	struct target *fleet_tgt; /* the target after E switched it (owned) */
};

/* tui.c */
void tui_message(struct tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tui_draw_all(struct tui *t);
void tui_execute(struct tui *t, const char *line);
/* The console's built-in commands: they act on the console itself, so they never become a
 * child process. help: shown in the help overlay and completed by the bar (NULL: an alias,
 * or documented on its own lines); complete: what the bar completes after it (COMPLETE_*;
 * COMPLETE_NONE: what the command table says). run returns -1 when the words are not its
 * own, and the line then runs as the midsops command of that name. */
struct tui_builtin {
	const char *name, *help;
	int complete;
	int (*run)(struct tui *t, char **w, int n);
};
extern const struct tui_builtin tui_builtins[];
const struct tui_builtin *tui_builtin_find(const char *name);

/* tui_draw.c: drawing helpers; all cut text at the width with wcwidth. */
void tui_put(struct tui *t, int y, int x, int w, enum tui_role role, const char *s);
void tui_putf(struct tui *t, int y, int x, int w, enum tui_role role, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Line i of a rect, cleared; returns 0 when the rect has no line i. */
int tui_line(struct tui *t, struct tui_rect r, int i, enum tui_role role, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void tui_box(struct tui *t, struct tui_rect r, const char *title, int focused);
/* A list pane of n items in h lines: keep the selection on an item and in view, and the
 * view on the items (sets nitems and lines). */
void tui_pane_keep_in_view(struct tui_pane *p, int n, int h);
void tui_fill(struct tui *t, struct tui_rect r, enum tui_role role);
void tui_bar(char *buf, size_t n, int width, double frac);
void tui_sparkline(char *buf, size_t n, const double *v, int nv);
enum tui_role tui_status_role(int st);
int tui_list_key(struct tui_pane *p, int key, int page);
/* The key op of a pane whose only keys scroll it a page at a time. */
int tui_pane_scroll_key(struct tui_pane *p, struct tui *t, int key);
int tui_match(const char *hay, const char *needle);
void tui_clock(char *buf, size_t n, time_t when);

/* tui_theme.c */
int tui_theme_load(struct tui *t, const char *name, char *err, size_t errlen);
/* Theme names: shipped and the user's, malloc'ed, NULL-terminated. */
char **tui_theme_names(void);

/* tui_bar.c: the readline command bar. */
void tui_bar_init(struct tui *t);
void tui_bar_enter(struct tui *t);
void tui_bar_cancel(struct tui *t);
void tui_bar_key(struct tui *t, int key);
void tui_bar_draw(struct tui *t, int y, int w);
void tui_bar_end(struct tui *t);
int tui_bar_empty(void);
char **tui_runbook_names(void);

/* tui_child.c */
int tui_child_start(struct tui *t, const struct cmd_entry *ce, char **words);
void tui_child_read(struct tui *t);
void tui_child_reap(struct tui *t);
void tui_child_stop(struct tui *t, int force);

/* tui_status.c: the header's verdict, the outage banner, staleness marks. */
struct tui_verdict {
	enum status st;
	char why[256]; /* the worst item and why */
	int items;     /* items that are not OK */
};
/* Never OK while a pane is stale or the connection is down. */
void tui_verdict(struct tui *t, struct tui_verdict *vd);
/* The banner over the panes at this width (lines as tui_tl builds them); 0 when none. */
int tui_banner_build(struct tui *t, int width, struct tui_lines *l);
void tui_banner_draw(struct tui *t, int y, struct tui_lines *l);
/* Whether the pane shows figures older than the last refresh (or from before an outage). */
int tui_pane_stale(const struct tui *t, const struct tui_pane *p);
/* "stale, as of HH:MM:SS" on the pane's bottom border, when it is. */
void tui_pane_asof(struct tui *t, struct tui_pane *p, struct tui_rect box);
/* The outage (or the pane's own failure) in full, for the details overlay; lines added. */
int tui_outage_details(struct tui *t, struct tui_pane *p, struct tui_lines *out);

/* tui_fleet.c: the fleet strip under the header, and E, which switches the target. */
void tui_fleet_init(struct tui *t);
void tui_fleet_free(struct tui *t);
/* Lines the strip takes when avail lines are left below the header: 0, 1 (folded) or one
 * per environment. */
int tui_fleet_height(struct tui *t, int avail);
void tui_fleet_draw(struct tui *t, int y, int h);
void tui_fleet_next(struct tui *t);

/* Panes. */
extern const struct tui_pane_ops tui_pane_health_ops, tui_pane_import_ops, tui_pane_cache_ops,
    tui_pane_errors_ops, tui_pane_output_ops, tui_pane_timeline_ops;
/* tui_pane_sessions.c: S opens the sessions view (the pane zoomed) and closes it; its keys
 * for the help overlay. */
extern const struct tui_pane_ops tui_pane_sessions_ops;
void tui_sessions_toggle(struct tui *t);
extern const char *const tui_sessions_help[];

/* tui_hostline.c: the host in one line under the header; rows it takes (0: folded away). */
int tui_host_line_rows(const struct tui *t, int banner_h);
void tui_host_line(struct tui *t, int y);
/* A database pane's own failure (its probe failed or waits) as its first line; an outage
 * is the banner's, over all panes. Returns lines used. */
int tui_pane_banner(struct tui *t, struct tui_pane *p, struct tui_rect r);
/* Text panes build lines whose first byte is '0' + role, then draw them scrolled by
 * p->sel from line `from` of the rect, filtered by p->filter; dimmed when stale. */
void tui_text_pane(struct tui *t, struct tui_pane *p, struct tui_rect r, int from,
		   struct tui_lines *l);
void tui_tl(struct tui_lines *l, enum tui_role role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
