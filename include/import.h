/* The import engine: export reader, mappers, staging COPY, validate, promote, rollback,
 * export and diff. Commands in src/cmd/cmd_import.c drive it; it writes through out.h. */
#ifndef MIDSOPS_IMPORT_H
#define MIDSOPS_IMPORT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "maint.h"
#include "out.h"

struct config;
struct target;

/* ---- Entity kinds: one per per-file game table ---- */
enum import_kind {
	IK_UNKNOWN = 0,
	IK_DOCUMENT, /* index and manifest files: kept whole for export */
	IK_ARCHETYPE,
	IK_ARCHETYPE_TABLE,
	IK_POWER_CATEGORY,
	IK_POWERSET,
	IK_POWER,
	IK_ENHANCEMENT_SET,
	IK_TAG,
	IK_EXCLUSION_GROUP,
	IK_RECHARGE_GROUP,
	IK_COUNT
};
const char *import_kind_name(enum import_kind k);  /* "power" */
const char *import_kind_table(enum import_kind k); /* "powers" (in schema game) */
enum import_kind import_kind_from_name(const char *name);
/* The JSON key holding the natural key ("full_name"), NULL when the path gives it. */
const char *import_kind_key_field(enum import_kind k);

/* Classify an export-relative path ("powers/a/b/c.json"). Fills the natural key when it
 * comes from the path (documents, tables, categories, powersets). Returns IK_UNKNOWN with
 * a reason in why when the path has no place in the layout. */
enum import_kind import_classify(const char *relpath, char *key, size_t keylen, char *why,
				 size_t whylen);

/* Errors of one file: the engine records them in ops.import_errors, export-validate
 * prints them. */
typedef void (*import_error_fn)(void *ctx, const char *path, const char *json_path,
				const char *code, const char *msg);

#define IMPORT_MAX_KEY	  512	      /* natural keys are indexed */
#define IMPORT_MAX_STRING (1 << 20)   /* any string value */
#define IMPORT_MAX_FILE	  (64L << 20) /* one export file */
#define IMPORT_MAX_DEPTH  256	      /* JSON nesting: the real export needs under 20 */

/* A growable byte buffer. */
struct import_buf {
	char *p;
	size_t n, cap;
};
void import_buf_reserve(struct import_buf *b, size_t more);
void import_buf_add(struct import_buf *b, const void *s, size_t n);
void import_buf_free(struct import_buf *b);

/* Check one file's text and map it: UTF-8, strings PostgreSQL accepts, JSON syntax, the
 * kind's required keys and value types. On success returns 0, fills key, and appends to
 * copy the minified JSON, object members in jsonb's key order. Returns the number of errors
 * reported through fn otherwise (the file is then not staged). copy may be NULL. */
int import_map_file(enum import_kind kind, const char *relpath, const char *text, size_t len,
		    char *key, size_t keylen, struct import_buf *copy, import_error_fn fn,
		    void *ctx);

/* Typed rows of one mapped record: the columns the web API queries, converted like the
 * game.j_* SQL functions (a value of the wrong type is null). */
struct import_typed {
	const char *prefix;	   /* written before every child row: "RUN\t" */
	struct import_buf f;	   /* typed columns: a text[] in COPY binary format; empty: none */
	struct import_buf effects; /* stage.effects rows (powers), COPY text format */
	struct import_buf templates; /* stage.templates rows (powers), COPY text format */
	struct import_buf arr;	     /* scratch */
};
void import_typed_free(struct import_typed *t);
/* import_map_file, and on success also the typed rows (f replaced, children appended). */
int import_map_file_typed(enum import_kind kind, const char *relpath, const char *text, size_t len,
			  char *key, size_t keylen, struct import_buf *copy,
			  struct import_typed *typed, import_error_fn fn, void *ctx);

/* The typed columns of a kind, in stage.records.f order. */
enum import_tconv { TC_TXT = 1, TC_NUM, TC_INT, TC_BOOL, TC_TXTARR, TC_LEN, TC_NKEYS };
struct import_tcol {
	const char *json; /* top-level key */
	enum import_tconv conv;
	const char *col; /* column of the game table */
};
const struct import_tcol *import_typed_cols(enum import_kind k); /* NULL: none */
const char *import_typed_cast(enum import_tconv c);		 /* "float8" */
/* The SQL expression computing the column from the jsonb document j. */
void import_typed_sql(const struct import_tcol *c, const char *j, char *buf, size_t n);
/* COPY text format escaping; NULL is \N. */
void import_copy_text(struct import_buf *b, const char *s);
void import_copy_text_n(struct import_buf *b, const char *s, size_t n);

/* Read a whole file with one read() into buf (reused between files). Returns 0, or -1
 * with errno set. */
int import_read_file(const char *path, struct import_buf *buf, size_t *len);
/* Open rel, a path inside the export directory rootfd, never leaving it: a path whose
 * resolution leaves the directory (through "..", or a symlink, absolute or relative, that
 * leads outside) fails with EXDEV before anything outside is opened. Symlinks that stay
 * inside are followed. O_CLOEXEC is added to flags. */
int import_open_in(int rootfd, const char *rel, int flags);
/* Set (by a kernel without openat2, or a test) when import_open_in checks the real path
 * and then opens it a component at a time with O_NOFOLLOW instead. */
extern int import_openat2_off;
/* import_read_file of rel inside the export directory rootfd (import_open_in). */
int import_read_file_in(int rootfd, const char *rel, struct import_buf *buf, size_t *len);
/* Text of a file (or of a message quoting one) as printable text: control characters,
 * C1 controls and bytes that are not UTF-8 become \xNN; the rest is copied. Writes at most
 * outlen - 1 bytes and a NUL, never half an escape; returns the length written. The
 * result comes out unchanged from a second pass. */
size_t import_printable(char *out, size_t outlen, const char *s, size_t n);

/* ---- Scan ---- */
/* Kinds in staging order: what others refer to first, documents last. */
int import_kind_rank(enum import_kind k);
struct import_file {
	char *rel; /* path inside the export */
	long long size;
	enum import_kind kind;
	char key[IMPORT_MAX_KEY + 1]; /* from the path, when the kind takes it from there */
};
struct import_scan {
	struct import_file *files;
	size_t n, cap;
	long long bytes;
	/* The export directory, open from import_scan_dir to import_scan_free (0: none): its
	 * files are read through it (import_read_file_in), so none is reached from outside. */
	int rootfd;
};
/* Walk dir (never following directory symlinks, so loops cannot trap it). Files that
 * have no place in the layout, unreadable entries and symlink loops are reported through
 * fn, and so is a symlink that leads outside dir (code outside_export: an error, and
 * nothing is read from it); a file symlink that stays inside is followed. Returns 0, or
 * -1 with err set when the directory is missing or unreadable. */
int import_scan_dir(const char *dir, struct import_scan *s, import_error_fn fn, void *ctx,
		    char *err, size_t errlen);
void import_scan_free(struct import_scan *s);

/* ---- Runs ---- */
struct import_opts {
	const char *dir;
	int dry_run;
	int no_promote;
	long max_errors;
	long resume_run; /* >0: resume this run instead of starting one */
	int verbose;
};

/* The log file of run id on database db: log_dir/import/DB-run-ID.log. */
void import_log_path(const struct config *cfg, const char *db, long id, char *buf, size_t n);
/* Full pipeline; returns an exit status. */
int import_run(struct out *o, const struct config *cfg, const struct target *t,
	       const struct import_opts *opts);
/* Rebuild generation `to` (<= 0: the one before the current) and promote it. */
int import_rollback(struct out *o, const struct config *cfg, const struct target *t, int to);
/* Ask a run (<= 0: the running one) to stop at its next batch boundary. */
int import_request_stop(PGconn *c, long run, char *err, size_t errlen, long *stopped_run);

/* Rows per game table, generation, last import; zeros until there is an import. Also
 * used by the foundation's status and reports. */
int import_stats_render(struct out *o, PGconn *c, int checksums);
/* ---- data-checksums (export.c, sums.c) ---- */
struct cJSON;
/* [{table: "game.powers", rows, checksum}] for every game and builds table, over content
 * (natural keys, values, retired flags; never game ids or generations), in one snapshot. */
struct cJSON *import_data_sums(PGconn *c, char *err, size_t errlen);
/* A record name: 1 to 64 of [A-Za-z0-9._-], not starting with '.' or '-'. 0 or -1. */
int import_sums_name_ok(const char *name, char *err, size_t errlen);
/* Record tables under name ($XDG_STATE_HOME/midsops/checksums/NAME.json, 0600, replaced
 * whole); path gets the file. 0 or -1 with err. */
int import_sums_save(const char *name, const struct cJSON *tables, char *path, size_t pathlen,
		     char *err, size_t errlen);
/* A record {name, at, tables}, or NULL with err (none by that name: says how to list). */
struct cJSON *import_sums_load(const char *name, char *err, size_t errlen);
struct import_sums_rec {
	char name[65];
	char at[32]; /* UTC, YYYY-MM-DDTHH:MM:SSZ */
	int ntables;
	double rows;
};
/* Every record, oldest first; *out malloc'ed. Returns how many, or -1 with err. */
int import_sums_list(struct import_sums_rec **out, char *err, size_t errlen);

/* `status` section: the last run, its state and age. */
enum status import_status_section(struct out *o, const struct config *cfg, PGconn *c);

/* ---- What the commands read and do on the database (runs.c, estop.c, health.c) ----
 * Each takes the command's open connection, fills plain structs and fails with struct
 * db_error (SQLSTATE and message); the commands render. */
/* A run's row (ops.import_runs_seen, the columns import-status shows): run > 0 that run;
 * latest: else the running one, or the last. numeric: bit k when column k is a number. */
struct import_run_row {
	struct maint_rows rows;
	unsigned long long numeric;
};
int import_q_run(PGconn *c, long run, int latest, struct import_run_row *row, struct db_error *e);
/* Import events (at, level, source, message) and errors of the last secs seconds. */
int import_q_events(PGconn *c, long secs, struct maint_rows *r, struct db_error *e);
int import_q_errors(PGconn *c, long secs, long run, struct maint_rows *r, struct db_error *e);
/* import-debug's figures of one run; each part is shown only when it could be read. */
struct import_debug {
	int have_staging, have_codes, have_problems;
	struct maint_rows staging, codes, problems; /* problems and log_path: verbose only */
	char *log_incomplete;			    /* the first line lost, or NULL */
	char log_path[4300];
};
void import_q_debug(PGconn *c, const struct config *cfg, long run, int verbose,
		    struct import_debug *d);
void import_debug_free(struct import_debug *d);
/* Rate, duration and size of each run started in the last secs seconds. */
int import_q_perf(PGconn *c, long secs, struct maint_rows *r, struct db_error *e);
/* The last limit runs, newest first: id, kind, state, started and finished (UTC, ISO 8601),
 * the generation it made, the generation current before it (what a rollback of it goes
 * back to), source, errors. */
int import_q_runs(PGconn *c, long limit, struct maint_rows *r, struct db_error *e);
/* builds-mini.json's builds in one transaction: counts (builds, powers, unknown powers,
 * unknown enhancements) in one row. */
int import_seed_builds(PGconn *c, const char *json, const char *file, struct maint_rows *counts,
		       struct db_error *e);
/* import-health's findings, rendered (shared with the status section); summary: one line. */
enum status import_health_render(struct out *o, PGconn *c, char *summary, size_t n);

/* The emergency stop: the runs in progress (id, host, pid, kind, phase); a short lock
 * timeout so the flag never waits for promote's commit; the flag; the cancel (or
 * termination) of a run's backends, returning how many were signalled of *total. */
int import_q_running(PGconn *c, struct maint_rows *r, struct db_error *e);
int import_estop_begin(PGconn *c, struct db_error *e);
int import_estop_flag(PGconn *c, const char *id, struct db_error *e);
int import_estop_signal(PGconn *c, const char *id, int terminate, int *total);
/* 1 when pid is still a midsops import (a dead importer's pid may have been recycled). */
int import_pid_is_importer(long pid);
/* What a run looks like now: state, phase, the generation it promoted ("" none), how many
 * backends it still holds. */
struct import_estop_seen {
	char state[16], phase[32], gen[16];
	int backends;
};
/* Wait up to tenths * 0.1 s for the run to settle: it wrote its end, or it is gone with
 * every backend it held (pid: its local process, 0 if none). 1 when settled. */
int import_estop_settle(PGconn *c, const char *id, long pid, long tenths,
			struct import_estop_seen *s);
/* A run gone without writing its end: stopped before promote. */
int import_estop_mark_stopped(PGconn *c, const char *id, struct db_error *e);
/* emergency-status's reads; a part that cannot be read is empty. */
struct import_emergency {
	int have_runs, have_backups, have_running;
	struct maint_rows running, interrupted, last_errors, backups;
};
void import_q_emergency(PGconn *c, struct import_emergency *s);
void import_emergency_free(struct import_emergency *s);

/* ---- Export tools ---- */
int import_export_dir(struct out *o, PGconn *c, const char *dir);
/* 1 when dir is missing or has no entries. */
int import_dir_is_empty(const char *dir);
int import_validate_dir(struct out *o, const char *dir);
int import_diff_dirs(struct out *o, const char *olddir, const char *newdir);
/* cJSON parse of every file and nothing else: the benchmark's yardstick. */
int import_parse_only(struct out *o, const char *dir);

#endif
