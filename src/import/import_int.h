/* Internal interface between the import engine's files. */
#ifndef MIDSOPS_IMPORT_INT_H
#define MIDSOPS_IMPORT_INT_H

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>

#include "import.h"
#include "util.h"

#define IMPORT_LOCK_KEY "7013370001" /* pg advisory lock: one import per target */
/* The run that most likely holds IMPORT_LOCK_KEY (the newest running or stopping one), so
 * a refusal can name it: columns id, kind, host, pid (host and pid '?' when unknown). No
 * row when none is recorded; NULL when the query failed. */
PGresult *import_lock_holder(PGconn *c, char *err, size_t errlen);

struct import_run_state {
	struct out *o;
	const struct config *cfg;
	PGconn *c;  /* lock, staging, promote */
	PGconn *pc; /* progress and errors, autocommit, so they show while a batch is open */
	long id;
	char idtxt[32];
	const char *phase;
	char sqlstate[6]; /* of the run's last failed statement; a cancel (57014) stays */
	long long files_total, files_done, bytes_total, bytes_done, records_done, records_total;
	/* Files with the same bytes as the current generation: staged from it, not parsed (a
	 * re-import's real work is the rest). Counted as their batches commit. */
	long long files_unchanged;
	int errors, warnings, shown_errors;
	long max_errors;
	double t0, last_progress;
	int stop_requested;
	/* The run log, log_dir/import/NAME: opened for each line (log_append), so a full disk
	 * or a removed folder shows at the line it hits. */
	char log_dir[4200], log_name[256];
	int log_failed; /* lines were lost: reported once, and recorded on the run */
};

static inline double import_now(void)
{
	return util_mono();
}
/* A line of the run log: "TIME info COMMAND PID run ID: message" (log.h's format). */
void import_log(struct import_run_state *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void import_progress(struct import_run_state *r, int force);
void import_record_error(void *ctx, const char *path, const char *json_path, const char *code,
			 const char *msg);
void import_set_state(struct import_run_state *r, const char *state, const char *msg);

/* Promote while staging: a second connection holds the promote transaction open and
 * takes each batch as soon as staging commits it, on the other CPU. At the end, promote
 * finishes in that same transaction (import_promote with the pipe), so production still
 * changes in one transaction, and a failure anywhere just rolls it back. */
struct import_pipe {
	PGconn *c; /* NULL: not used */
	int gen, bulk, fresh, failed, queued;
	int empty; /* no game record existed when the transaction began */
	char gen_s[16];
	long done;   /* last batch queued, -1 if none */
	long staged; /* last batch staged: when done reaches it, no row is left to upsert */
	char err[512];
	int cancelled; /* a statement was cancelled (SQLSTATE 57014): the run stops */
};
/* Begin the transaction on pp->c and enter pipeline mode. */
int import_pipe_start(struct import_run_state *r, struct import_pipe *pp, char *err, size_t errlen);
/* Queue the promote of batches lo..no (kinds: a bit per import_kind staged in them). */
void import_pipe_batch(struct import_run_state *r, struct import_pipe *pp, long lo, long no,
		       unsigned kinds);
/* Wait for everything queued and leave pipeline mode: 0, or -1 (pp->err) when it failed. */
int import_pipe_finish(struct import_run_state *r, struct import_pipe *pp);

/* Promote the staged records of run into a new generation, in the caller's transaction
 * (with pp, in the pipe's, on pp->c, for what the batches did not take). Returns the
 * generation, or -1 with err. */
int import_promote(struct import_run_state *r, const char *kind, const struct import_pipe *pp,
		   char *err, size_t errlen);
/* Checks on the staged data before promote; returns the number of errors found. */
int import_validate(struct import_run_state *r, char *err, size_t errlen);

/* The typed rows of a checked document (typed.c), for import_map_file_typed. */
struct cJSON;
void import_typed_rows(enum import_kind kind, const struct cJSON *root, const char *key,
		       struct import_typed *t);

/* Object members put in jsonb's key order while minifying (keyorder.c). Offsets are into
 * the output buffer. */
struct keyorder_member {
	size_t start, keyend, end; /* key text (after its quote), its closing quote, member end */
	uint64_t order;		   /* length and first bytes: most comparisons end here */
};
struct keyorder_frame {
	size_t base;  /* first member of this object in members[] */
	size_t objs0; /* objs[] when it opened: those recorded since are inside it */
	unsigned is_obj : 1, expect_key : 1, sorted : 1, unsortable : 1;
};
/* An object whose members must move: they are written once, at keyorder_finish. */
struct keyorder_obj {
	size_t from, to; /* its members' text, between the braces */
	size_t first, n; /* its members in key order, in saved[] */
	int nested;	 /* holds objects whose members move too */
};
struct keyorder {
	struct keyorder_frame *frames;
	struct keyorder_member *members, *saved;
	struct keyorder_obj *objs;
	char *tmp;
	size_t nframes, fcap, nmembers, mcap, tcap, nsaved, scap, nobjs, ocap;
	int in_key;
	int dup;    /* some object repeats a key */
	int unsure; /* some object was not sorted (escaped keys): duplicates unknown */
};
void keyorder_open(struct keyorder *k, int is_obj);
int keyorder_expects_key(const struct keyorder *k);
void keyorder_key(struct keyorder *k, size_t start);
void keyorder_key_escaped(struct keyorder *k);
void keyorder_key_end(struct keyorder *k, const char *buf, size_t end);
void keyorder_comma(struct keyorder *k, size_t pos);
void keyorder_close(struct keyorder *k, char *buf, size_t pos);
/* Rewrite the document at buf[from, to) with every object's members in key order. */
void keyorder_finish(struct keyorder *k, char *buf, size_t from, size_t to);
void keyorder_reset(struct keyorder *k); /* for the next document, keeping the memory */

/* ---- staging (stage.c) ---- */

/* path -> its record in the current generation, or a file of this run */
struct known {
	char *path, *sha, *key;
	int kind;
};

struct known_map {
	struct known *slots;
	size_t cap;
};

struct stage_ctx {
	struct import_run_state *r;
	const char *dir;
	struct import_scan *scan;
	struct known_map known;	    /* current generation, by path */
	struct known_map committed; /* files this run already committed */
	struct known_map bad;	    /* files that failed: their current rows must stay */
	struct import_buf text;
	struct import_buf raw; /* the document minified */
	struct import_pipe *pipe;
	long seq;     /* batches numbered so far */
	long pend_lo; /* committed batches not yet given to the promote pipeline */
	unsigned pend_kinds;
	long delay_ms;
};

void import_known_init(struct known_map *m, size_t n);
void import_known_free(struct known_map *m);
void import_known_put(struct known_map *m, const char *path, const char *sha, const char *key,
		      int kind);
struct known *import_known_get(const struct known_map *m, const char *path);
/* Fill m from a query's rows (path, sha[, key[, kind]]); run is its $1 when not NULL. */
int import_known_load(PGconn *c, struct known_map *m, const char *sql, const char *run, char *err,
		      size_t errlen);
/* Stage every file of sc->scan not yet committed: 0 done, 1 stopped at a batch boundary
 * (a stop was asked for), -1 with err. */
int import_stage_all(struct stage_ctx *sc, char *err, size_t errlen);
/* End a COPY (fail: its reason, or NULL to finish it) and read its result. */
int import_copy_end(PGconn *c, const char *fail, char *err, size_t errlen);
long import_env_long(const char *name, long def);

/* Empty the staging tables: of one run, or all of them (run NULL). */
int import_stage_clear(PGconn *c, const char *run, char *err, size_t errlen);
/* Compute the typed columns and child rows of staged documents that came without them
 * (rollback stages documents from game.history on the server). */
int import_stage_derive(struct import_run_state *r, char *err, size_t errlen);

/* Whether the run must stop: it was asked to (import-stop, emergency-stop, SIGINT,
 * SIGTERM: the run's flag is read from the server) or a statement of it was cancelled
 * (SQLSTATE 57014, query_canceled). */
int import_stopping(struct import_run_state *r);
/* Keep the SQLSTATE of a failed result of the run (res may be NULL). */
void import_note_result(struct import_run_state *r, const PGresult *res);
/* A statement of the run on c: its result, or NULL with err and the SQLSTATE kept. */
PGresult *import_exec_on(struct import_run_state *r, PGconn *c, char *err, size_t errlen,
			 const char *sql, int n, const char *const *p);

/* Run the SQL on r->c unless the run must stop (import_stopping), log it in verbose mode. */
PGresult *import_q(struct import_run_state *r, char *err, size_t errlen, const char *sql, int n,
		   const char *const *p);

#endif
