/* Runbooks and wizard runs: the UI-independent engine.
 * A runbook is data (runbooks/NAME.json, overridable in $XDG_CONFIG_HOME/midsops/runbooks/),
 * validated on load. A run is a state machine over its steps, persisted in
 * ops.wizard_runs / ops.wizard_steps, and in a local JSON state file while the database is
 * unreachable. Line mode (src/cmd/cmd_runbook.c) and the console view (src/tui/tui_wizard.c)
 * both drive a run through this interface; neither runs SQL nor a shell. */
#ifndef MIDSOPS_RUNBOOK_H
#define MIDSOPS_RUNBOOK_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct config;
struct target;

enum rb_kind {
	RB_INFO,     /* read it, continue */
	RB_CONFIRM,  /* the operator ticks a manual item */
	RB_COMMAND,  /* runs a midsops command after the operator's go-ahead */
	RB_CHECK,    /* runs a midsops command at once; its exit status decides */
	RB_APPROVAL, /* an approver's name and a typed confirmation */
	RB_BRANCH,   /* follows a result: earlier failures, or the operator's answer */
	RB_WAIT,     /* waits a duration, refreshing a live figure (a command) */
	RB_NOTIFY,   /* hands a subject and body to notify_command */
	RB_REPORT,   /* writes the run's transcript (incident report, status dashboard) */
	RB_CHOICE,   /* the operator picks one row of a command's JSON list; it sets parameters */
	RB_NKINDS
};

/* What a failed command/check step does next. */
enum rb_onfail { RB_FAIL_DEFAULT, RB_FAIL_CONTINUE, RB_FAIL_STOP, RB_FAIL_ASK, RB_FAIL_GOTO };

#define RB_MAX_ARGV 24

struct rb_param {
	char *name, *prompt, *def; /* def may be NULL: required */
	int allow_dash; /* "allow_dash": true, a value may start with '-' (else refused) */
	char *set_by;	/* the choice step that sets it (no up-front prompt), or NULL */
	char *check;	/* "env" | "dir" | "file": checked at start to name something real */
};

#define RB_CHOICE_MAX 8 /* labels, extra parameters and filters of one choice step */

struct rb_section {
	char *title;
	long budget; /* seconds, 0 = none */
};

struct rb_step {
	char *id, *title, *help;
	enum rb_kind kind;
	int section; /* index into sections */
	int argc;    /* command, check, wait: argv[0] is a midsops command */
	char *argv[RB_MAX_ARGV + 1];
	enum rb_onfail on_fail;
	char *on_fail_goto;	     /* step id for RB_FAIL_GOTO; approval: on reject */
	char *on_ok;		     /* step id to jump to after success */
	char *next;		     /* step id to continue at (any outcome) */
	char *condition;	     /* branch: "failures" | "last-failed" | "ask" */
	char *then_step, *else_step; /* branch targets (NULL = next step) */
	char *subject, *body;	     /* notify */
	char *phrase;		     /* approval: the text to type ("approve") */
	long duration, interval;     /* wait, seconds (duration: the timeout with until) */
	struct rb_step *until;	     /* wait: a command whose exit 0 ends the wait (or NULL) */
	char *report_dir;	     /* report: "incidents" | "reports" */
	char *report_name;	     /* report: file stem after YYYYMMDD_ */
	int dated;		     /* report: prefix the date (default 1) */
	/* choice: the list is the array at items (dotted path, "" = the top level) of the
	 * command's JSON; the chosen row's value field sets param, each set_fields[i] sets
	 * set_params[i]; rows whose where_fields[i] differ from where_values[i] are left out */
	char *items, *value_field, *param, *choice_default;
	int nlabels, nset, nwhere;
	char *labels[RB_CHOICE_MAX];
	char *set_params[RB_CHOICE_MAX], *set_fields[RB_CHOICE_MAX];
	char *where_fields[RB_CHOICE_MAX], *where_values[RB_CHOICE_MAX];
};

struct runbook {
	char *name, *title, *description, *path;
	int shipped;	 /* from the share dir, not the user's directory */
	int maintenance; /* warn when run outside the maintenance window */
	int nparams, nsections, nsteps;
	struct rb_param *params;
	struct rb_section *sections;
	struct rb_step *steps;
};

/* How a step kind runs; each driver has one handler per way. */
enum rb_how {
	RB_HOW_ACK,	/* the operator's go-ahead ends it */
	RB_HOW_COMMAND, /* runs its command as a child */
	RB_HOW_NOTIFY,	/* hands the subject and body to notify_command */
	RB_HOW_REPORT,	/* writes the transcript */
	RB_HOW_WAIT,	/* waits, refreshing its command's figure */
	RB_HOW_APPROVE, /* an approver's name, then the phrase */
	RB_HOW_BRANCH,	/* decides by itself, else asks yes or no */
	RB_HOW_CHOICE,	/* lists its command's rows; the operator picks one */
};
enum rb_cmd_use { RB_CMD_NONE, RB_CMD_MAY, RB_CMD_NEEDS };

/* One step kind (src/runbook/kinds.c). */
struct rb_kind_info {
	const char *name; /* "kind" in a runbook */
	enum rb_how how;
	int at_once;		 /* runs when reached, without a go-ahead (branch: if it can) */
	enum rb_cmd_use command; /* whether it takes "command" */
	const char *ask;	 /* line mode's question before it runs; NULL: none */
	int ask_always;		 /* asked with --non-interactive too */
	int enter_is_go;	 /* an empty answer goes on */
	const char *on_no;	 /* said to a "no" (NULL: the usual key hint) */
	const char *ack;	 /* RB_HOW_ACK: the detail recorded */
	int ack_by;		 /* RB_HOW_ACK: the console says who gave it */
	const char *enter_does;	 /* the console's hint for Enter */
};
const struct rb_kind_info *rb_kind(enum rb_kind k);
const char *rb_kind_name(enum rb_kind k);
/* RB_NKINDS for a name that is no kind. */
enum rb_kind rb_kind_parse(const char *name);

/* Parse and validate one runbook. name is the file stem, path is used in messages.
 * Errors read "PATH: step 'ID' (N): what is wrong". Unknown commands are refused. */
struct runbook *rb_parse(const char *path, const char *name, const char *text, char *err,
			 size_t errlen);
struct runbook *rb_load_file(const char *path, char *err, size_t errlen);
/* Find NAME: the user's directory first, then the share dir. */
struct runbook *rb_load(const char *name, char *err, size_t errlen);
void rb_free(struct runbook *rb);
int rb_step_index(const struct runbook *rb, const char *id);
/* The step that needs a human (confirm, approval, branch ask), or -1. */
int rb_needs_human(const struct runbook *rb);

/* All runbook names and paths (user overrides hide shipped files of the same name). */
struct rb_entry {
	char name[64];
	char path[4096];
	int shipped;
};
int rb_list(struct rb_entry *out, int max);
const char *rb_user_dir(void);
const char *rb_share_dir(void);
/* Who runs a wizard: given (--operator), else $MIDSOPS_OPERATOR, else the login name. */
void rb_operator_name(const char *given, char *buf, size_t n);

/* Maintenance window "Sun 02:00-04:00" ("*" or "daily" for any day). Returns 1 inside,
 * 0 outside, -1 if unparsable. */
int rb_in_window(const char *window, time_t now);

/* Whether an argv word would set main's --dsn or --config, in a runbook step: refused, so a
 * runbook (or a parameter's value) never points a step at another target or config. */
int rb_word_retargets(const char *word);
/* A parameter's value for a command word: one starting with '-' would be read as an
 * option ("--dsn=..."), so it is refused unless the parameter sets allow_dash. Returns 0,
 * or -1 with the reason. */
int rb_param_value_ok(const struct runbook *rb, const char *name, const char *value, char *err,
		      size_t errlen);

/* Split a configuration string into an argv (whitespace, '...' and "..." quoting, no shell).
 * Returns argc, or -1 when it has too many words or an open quote. Strings point into buf. */
int rb_split_argv(char *buf, char **argv, int max);

/* ------------------------------------------------------------------ runs */

/* A run's status. Stored by name in ops.wizard_runs.status and the local state file. */
enum wz_status { WZ_RUN_RUNNING, WZ_RUN_PAUSED, WZ_RUN_DONE, WZ_RUN_FAILED, WZ_RUN_ABORTED };
const char *wz_status_name(enum wz_status st);
/* The status for a stored name; an unknown name reads as failed, so it never looks live. */
enum wz_status wz_status_parse(const char *name);
/* Running or paused: the run can still be driven. */
int wz_status_live(enum wz_status st);

enum wz_outcome { WZ_NONE, WZ_RUNNING, WZ_DONE, WZ_WARNING, WZ_FAILED, WZ_SKIPPED, WZ_INTERRUPTED };
const char *wz_outcome_name(enum wz_outcome o);

struct wz_attempt {
	char step_id[64];
	int step;	       /* index in the runbook */
	time_t started, ended; /* ended 0 while running */
	enum wz_outcome outcome;
	int exit_status; /* -1 when no command ran */
	char *excerpt;	 /* output excerpt (tail), may be NULL */
	char *reason;	 /* why skipped / rejected / aborted */
	char *detail;	 /* approver, answer, notification target... */
	char actor[64];
};

struct wz_param {
	char name[64];
	char *value;
};

#define WZ_MAX_PARAMS 16

struct wz_run {
	long long id;	   /* ops.wizard_runs.id, 0 until known to the database */
	char local_id[40]; /* stable id of the state file; survives syncs */
	char runbook[64];
	char title[256];
	char operator_[64];
	char host[128];
	enum wz_status status;
	char reason[512]; /* why it ended (aborted, failed) */
	time_t started, ended, updated;
	int cursor;   /* current step index; nsteps when finished */
	int *history; /* cursors visited (for back) */
	int nhistory;
	int nparams;
	struct wz_param params[WZ_MAX_PARAMS];
	int nattempts;
	struct wz_attempt *attempts;
	int worst;	    /* worst check status 0..3 seen */
	int version;	    /* bumped on every save */
	int synced;	    /* the database has this version */
	int offline;	    /* some of it was recorded without the database */
	char driver[64];    /* who drives it now (actor of new attempts); not persisted */
	long long incident; /* the incident it is attached to (ops.wizard_runs.incident_id), 0 none;
			       known once saved to the database; not persisted locally */
	struct runbook *rb;
};

/* Persistence and locking for one run. */
struct wz_store {
	const struct config *cfg;
	const struct target *target;
	void *conn;	 /* PGconn *, NULL when offline */
	int lockfd;	 /* flock on the state file's lock */
	int db_locked;	 /* advisory lock held on the run id */
	time_t last_try; /* last reconnect attempt */
	int slow_fail;	 /* the last attempt timed out rather than being refused */
	char note[512];	 /* last persistence remark (went offline, synced...) */
};

/* Open the store: connect without starting the embedded cluster (the database may be the
 * thing that is broken). Never fails: offline is a state. */
void wz_store_open(struct wz_store *s, const struct config *cfg, const struct target *t);
void wz_store_close(struct wz_store *s);
/* Reconnect if offline (at most every few seconds), then sync local runs. */
int wz_store_online(struct wz_store *s);
/* Push every local state file not yet in the database. Returns how many synced. */
int wz_store_sync(struct wz_store *s, char *err, size_t errlen);

struct wz_run *wz_run_new(struct runbook *rb, const char *operator_);
void wz_run_free(struct wz_run *r);
const char *wz_param(const struct wz_run *r, const char *name);
void wz_param_set(struct wz_run *r, const char *name, const char *value);
/* Expand ${name} with the run's parameters and date, run, operator, host, runbook,
 * window. Returns malloc'ed text. */
char *wz_expand(const struct wz_run *r, const struct config *cfg, const char *text);

/* Take the run (lock it) for driving. Fails with "run N is being driven by ..." when
 * another process holds it. */
int wz_lock(struct wz_store *s, struct wz_run *r, char *err, size_t errlen);
void wz_unlock(struct wz_store *s, struct wz_run *r);
/* Save the run (state file always; the database when reachable). */
int wz_save(struct wz_store *s, struct wz_run *r);
/* Load by database id or local id ("12" or "L-..."). rb is loaded too (may fail: err). */
struct wz_run *wz_load(struct wz_store *s, const char *ref, char *err, size_t errlen);

struct wz_summary {
	long long id;
	char local_id[40], runbook[64], operator_[64], host[128], step[64];
	enum wz_status status;
	time_t started, ended, updated;
	int active;  /* a process holds its lock now */
	int offline; /* known only from a local state file */
};
/* Runs, newest first (database and unsynced local files). Returns count or -1. */
int wz_list(struct wz_store *s, struct wz_summary *out, int max, char *err, size_t errlen);

/* ---- the state machine ---- */
/* Begin the current step: records an attempt in state running. Returns its index. */
int wz_step_begin(struct wz_store *s, struct wz_run *r);
/* Finish the current attempt and move the cursor by the step's rules. */
void wz_step_end(struct wz_store *s, struct wz_run *r, enum wz_outcome o, int exit_status,
		 const char *output, const char *reason, const char *detail);
/* Branch decision for the current (branch) step: yes/no. */
void wz_branch(struct wz_store *s, struct wz_run *r, int yes, const char *why);
/* Evaluate an automatic branch condition: 1 yes, 0 no, -1 needs the operator. */
int wz_branch_auto(const struct wz_run *r, const struct rb_step *st);
void wz_skip(struct wz_store *s, struct wz_run *r, const char *reason);
int wz_back(struct wz_store *s, struct wz_run *r); /* -1 at the first step */
void wz_abort(struct wz_store *s, struct wz_run *r, const char *reason);
void wz_pause(struct wz_store *s, struct wz_run *r);
/* End the run as failed (a failure nobody can decide on, e.g. --non-interactive). */
void wz_fail(struct wz_store *s, struct wz_run *r, const char *reason);
int wz_finished(const struct wz_run *r);
/* Outcome shown for a step in the step list: the latest attempt, else WZ_NONE. */
enum wz_outcome wz_step_state(const struct wz_run *r, int step);
/* Status 0..3 of an outcome for the report (done 0, warning 1, failed 2, exit 3 -> 3). */

/* ---- what the drivers show ---- */
/* The latest result of a step: its last finished attempt that was not left by going back
 * nor interrupted, or NULL. */
const struct wz_attempt *wz_last_result(const struct wz_run *r, int step);
/* "done (exit 0): detail; reason" for a result. */
void wz_result_text(const struct wz_attempt *a, char *buf, size_t n);
/* End the current step with its latest result without running it again (the operator went
 * back to it and continues). Returns -1 when it has none. */
int wz_keep(struct wz_store *s, struct wz_run *r);
/* Every other step whose latest result is skipped or failed, one line each with the reason
 * ("step 9 'Import to staging': skipped: no staging today"); NULL when there is none. */
char *wz_problems(const struct wz_run *r, const struct config *cfg);
/* The worst step in words: "step 7 'Database health' WARNING", or "none (...)". */
void wz_worst_text(const struct wz_run *r, const struct config *cfg, char *buf, size_t n);
/* The runbook parameters the step's command (or its until) names; returns how many. */
int wz_step_params(const struct wz_run *r, const struct rb_step *st, const char **names, int max);

/* ---- running a command step as a child of this binary ---- */
struct wz_child {
	pid_t pid;
	char outpath[4096];
	off_t read_off;
	int status; /* exit status once done */
	int done;
};
/* Start argv (argv[0] a midsops command) with MIDSOPS_DSN set to the target. The caller
 * polls. Returns 0 or -1 with err. */
int wz_child_start(struct wz_child *ch, const struct config *cfg, const struct target *t,
		   char *const *argv, char *err, size_t errlen);
/* New output since the last poll (malloc'ed, may be empty) and whether it finished. */
char *wz_child_poll(struct wz_child *ch);
/* Whole output (malloc'ed), and remove the temp file. */
char *wz_child_finish(struct wz_child *ch);
void wz_child_kill(struct wz_child *ch);
/* Outcome for a step's exit status: check commands (CMD_CHECK) 1 = warning. */
enum wz_outcome wz_outcome_for(const char *cmdname, int exit_status);
/* The current step's command with ${...} expanded, for a caller that runs it without
 * waiting (the console: wz_child_start, then wz_child_poll from its loop, then
 * wz_step_end). An optional parameter left empty drops its word. argv gets malloc'ed
 * words and a NULL; returns argc (0 for a step without a command). Free with
 * wz_argv_free. */
int wz_step_argv(const struct wz_run *r, const struct config *cfg, const struct rb_step *st,
		 char *argv[RB_MAX_ARGV + 1]);
/* The same, refusing a word whose ${...} value starts with '-' (unless its parameter sets
 * allow_dash) or that would set --dsn or --config: -1 with the reason, argv[0] NULL. When
 * wz_step_argv refuses, it returns -1 with argv[0] NULL, and wz_child_start, given that,
 * fails with the reason. */
int wz_step_argv_checked(const struct wz_run *r, const struct config *cfg, const struct rb_step *st,
			 char *argv[RB_MAX_ARGV + 1], char *err, size_t errlen);
void wz_argv_free(char **argv);

/* A choice step's rows: its command run to the end (with --json), the array at the step's
 * items path, filtered by its where. def is the preselected row: the one whose value is the
 * parameter's current value, else the step's default (first or last). */
struct wz_choice {
	int n, def;
	char **labels; /* what a row shows */
	char **values; /* n * (1 + nset): the value, then each set_fields[i] */
	int nvals;     /* 1 + nset */
	char *output;  /* the command's whole output */
	int exit_status;
	char error[1200]; /* why there are no rows */
};
/* Returns the number of rows (0: none, with error), never blocks for input; it waits for
 * the command (list commands are quick). */
int wz_choice_load(const struct wz_run *r, const struct config *cfg, const struct target *t,
		   const struct rb_step *st, struct wz_choice *c);
/* Set the step's parameters from row i and end the step as done. */
void wz_choice_pick(struct wz_store *s, struct wz_run *r, const struct wz_choice *c, int i);
/* End the step as failed: no rows (on_fail decides; the default asks). */
void wz_choice_fail(struct wz_store *s, struct wz_run *r, const struct wz_choice *c);
void wz_choice_free(struct wz_choice *c);
/* Check a parameter's value at start: required ones are not empty, and those with "check"
 * name something real (an environment of the config, a directory, a file). Returns 0, or -1
 * with the reason. */
int wz_param_check(const struct rb_param *p, const struct config *cfg, const char *value, char *err,
		   size_t errlen);
/* The reason recorded with an exit status that means the step did not really run
 * (127: could not start, 64: usage error), or NULL. */
const char *wz_exit_reason(int exit_status);

/* ---- side effects ---- */
/* notify_command (argv split, subject and body on stdin), or append to
 * $XDG_STATE_HOME/midsops/announcements.log. Returns 0 or -1 with err; where says where. */
int wz_notify(const struct config *cfg, const char *subject, const char *body, char *where,
	      size_t wherelen, char *err, size_t errlen);
/* The run as a Markdown transcript (malloc'ed). */
char *wz_transcript(const struct wz_run *r);
/* The same with cfg for ${window} (cfg may be NULL); every ${...} is expanded. */
char *wz_transcript_cfg(const struct wz_run *r, const struct config *cfg);
/* Write a report step's file; path receives where it went. */
int wz_report_write(const struct config *cfg, const struct wz_run *r, const struct rb_step *st,
		    char *path, size_t pathlen, char *err, size_t errlen);
/* Re-write reports written earlier in the run, so they carry the final outcomes. */
void wz_reports_refresh(const struct config *cfg, const struct wz_run *r);

#endif
