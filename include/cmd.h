/* The one command table. Every command is declared once, as an entry in its family's
 * table (src/cmd/cmd_<family>.c). The same entries serve the CLI, the console command
 * bar, tab completion, help and the man page test. */
#ifndef MIDSOPS_CMD_H
#define MIDSOPS_CMD_H

#include "args.h"
#include "out.h"

struct config;
struct target;
struct pg_conn; /* libpq's PGconn: commands hold it, engines use it */

/* Exit statuses besides the check convention (0..3 in out.h). */
#define EXIT_FAIL   1
#define EXIT_USAGE  64
#define EXIT_CONFIG 78

enum cmd_flags {
	CMD_DESTRUCTIVE = 1 << 0, /* changes or destroys data: full name required */
	CMD_CHECK = 1 << 1,	  /* exits 0/1/2/3 by the monitoring convention */
	CMD_LONG = 1 << 2,	  /* the console runs it as a child process */
	CMD_NODB = 1 << 3,	  /* never needs the database */
	CMD_HIDDEN = 1 << 4,	  /* internal (e.g. wal-push): not in help */
	CMD_RAWARGS = 1 << 5,	  /* arguments pass through untouched (db-shell) */
	CMD_OBSERVE = 1 << 6,	  /* only observes (status, metrics): never starts the cluster */
	CMD_STREAM = 1 << 7,	  /* a check that streams (watch): no plugin status line */
	CMD_SERVER = 1 << 8,	  /* run by the server as its account (archive/restore_command) */
};

/* Argument completion kinds for the command bar. */
enum cmd_complete {
	COMPLETE_NONE = 0,
	COMPLETE_FILE,
	COMPLETE_ENV,
	COMPLETE_RUN,
	COMPLETE_BACKUP,
	COMPLETE_RUNBOOK,
	COMPLETE_THEME,
	COMPLETE_COMMAND,
};

struct cmd_ctx {
	struct out *out;
	struct config *cfg;
	struct target *target;
	struct args *args;  /* parsed options and positionals of this command */
	int interactive;    /* stdin and stdout are a terminal */
	int in_console;	    /* run from the console command bar */
	struct pg_conn *db; /* the entry's .db connection, open for exec (else NULL) */
	double started;	    /* util_mono() before that connection: what the command took */
};

/* What the dispatcher resolves before exec, as tmux's command queue resolves a target:
 * with CMD_DB_CONNECT or CMD_DB_READY cmd_run connects (READY also creates or migrates the
 * schema), hands the connection to exec in ctx->db and closes it afterwards. A failed
 * connection never reaches exec: the entry's db_failed renders it, or by default a check
 * is CRITICAL with the reason as its status and any other command exits 1. */
enum cmd_db {
	CMD_DB_NONE = 0, /* the command connects itself, or never */
	CMD_DB_CONNECT,
	CMD_DB_READY,
};

struct cmd_entry {
	const char *name;
	const char *options;	/* args spec, see args.h: "dry-run no-promote max-errors=" */
	int min_args, max_args; /* positional counts; max -1 = unlimited */
	const char *summary;	/* one line */
	const char *usage;	/* "import DIR [--dry-run] [--no-promote] [--max-errors N]" */
	int flags;
	enum cmd_complete complete; /* what positional arguments complete to */
	int (*exec)(struct cmd_ctx *ctx);
	enum cmd_db db;
	/* Optional, before the connection: reject bad option values without touching the
	 * database (returns 0, or the exit status after saying why). */
	int (*check_args)(struct cmd_ctx *ctx);
	/* Optional: render a failed .db connection (err: the reason); returns the status. */
	int (*db_failed)(struct cmd_ctx *ctx, const char *err);
};

/* Each family file defines one NULL-terminated table (an entry with name == NULL). */
extern const struct cmd_entry cmd_misc_table[];
extern const struct cmd_entry cmd_cluster_table[];
extern const struct cmd_entry cmd_db_table[];
extern const struct cmd_entry cmd_import_table[];
extern const struct cmd_entry cmd_cache_table[];
extern const struct cmd_entry cmd_maint_table[];
extern const struct cmd_entry cmd_report_table[];
extern const struct cmd_entry cmd_metrics_table[];
extern const struct cmd_entry cmd_backup_table[];
extern const struct cmd_entry cmd_runbook_table[];
extern const struct cmd_entry cmd_dr_table[];
extern const struct cmd_entry cmd_dr_sync_table[];
extern const struct cmd_entry cmd_dr_role_table[];
extern const struct cmd_entry cmd_console_table[];
extern const struct cmd_entry cmd_roles_table[];
extern const struct cmd_entry cmd_completion_table[];
extern const struct cmd_entry cmd_history_table[];
extern const struct cmd_entry cmd_incident_table[];
extern const struct cmd_entry cmd_sessions_table[];
extern const struct cmd_entry cmd_fleet_table[];
extern const struct cmd_entry cmd_timeline_table[];

/* Iterate over every command of every family, in help order. Returns NULL at the end. */
const struct cmd_entry *cmd_next(const struct cmd_entry *prev);
int cmd_count(void);

/* Look a name up: exact match, or a unique prefix unless the command is destructive.
 * On failure writes "unknown command 'x'; did you mean 'y'?" (or the ambiguity) into err. */
const struct cmd_entry *cmd_find(const char *name, char *err, size_t errlen);

/* Parse argv (argv[0] is the command name), run it, return its exit status.
 * Handles --help / -h for the command itself. */
int cmd_run(const struct cmd_entry *ce, int argc, char **argv, struct out *out, struct config *cfg,
	    struct target *target, int in_console);

/* Ask before a step that cannot be undone. --yes answers for the operator. In the
 * console, or without a terminal, nobody can answer: 0, after writing refusal (NULL: say
 * nothing, the caller explains). Else the prompt is what, then the operator types word
 * (NULL: y or n). Returns 1 when confirmed. */
int cmd_confirm(struct cmd_ctx *ctx, const char *word, const char *what, const char *refusal);

/* Print "usage: midsops USAGE" through out_err. */
void cmd_usage(const struct cmd_entry *ce, struct out *out);
void cmd_help(const struct cmd_entry *ce, struct out *out);
/* `midsops --version`: one line, as GNU tools print it. */
void cmd_version_line(struct out *out);
/* The exit status of a usage or configuration error: 3 (UNKNOWN) inside a check. */
int cmd_exit_usage(const struct cmd_entry *ce);
int cmd_exit_config(const struct cmd_entry *ce);

#endif
