/* Disaster recovery: the DR site (a streaming standby, or a site restored from backups),
 * its assessment, activation, restore and validation.
 *
 * State lives in $XDG_STATE_HOME/midsops/dr/ (0700; files 0600) so it survives the loss of
 * the primary: state.json (the site, the activation, the fence, the phase log, the open
 * incident report), figures.json (per-table row counts and checksums of the primary's
 * game and builds tables, taken by dr-setup and every dr-assess that reaches the primary)
 * and perf-baseline.json (perf-test --json of the primary before the disaster).
 *
 * The switch after dr-activate: the config's [env production] dsn is re-pointed to the DR
 * site. When the primary was the embedded cluster (no environment configured), dr-activate
 * also sets [midsops] default_env = production, so every later command -- whose target
 * resolution is --dsn > MIDSOPS_DSN > --env/default_env > embedded -- reaches the promoted
 * site, and the old embedded cluster is never started again implicitly. */
#ifndef MIDSOPS_DR_H
#define MIDSOPS_DR_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "out.h"
#include "probe_dr.h"

struct config;
struct target;

#define DR_ENV "dr"
#define DR_APP "midsops_dr"

/* ---- state (src/dr/dr_state.c) ---- */
const char *dr_state_dir(void);
/* Load a JSON file of the state dir (an empty object when absent or unreadable). */
cJSON *dr_load(const char *name);
int dr_save(const char *name, const cJSON *obj, char *err, size_t errlen);
/* Append {phase, at, status, summary} to state.json's phase log. */
void dr_phase(const char *phase, enum status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ISO-8601 local time. */
void dr_now(char *buf, size_t n);
const char *dr_str(const cJSON *o, const char *key); /* "" when absent */
double dr_num(const cJSON *o, const char *key, double dflt);

/* The standby / DR site conninfo: [env dr], else NULL. */
const char *dr_site_dsn(const struct config *cfg);
/* The primary's conninfo: the resolved target. */
const char *dr_primary_dsn(const struct target *t);
/* Write [env NAME] dsn, and keep cfg in memory in step. */
int dr_config_set_env(struct config *cfg, const char *name, const char *dsn, char *err,
		      size_t errlen);

/* Per-table count + checksum of the game and builds tables (logged tables only). */
cJSON *dr_figures(PGconn *c, char *err, size_t errlen);
/* Path of this binary, for child commands. */
const char *dr_self_exe(void);
/* Whether a command exists in this build (perf-test, validate-all-data, ...). */
int dr_have_command(const char *name);
/* Run `midsops [--json] CMD ARGS` with MIDSOPS_DSN=dsn (when dsn) in the environment;
 * *output is the captured stdout+stderr (caller frees). Returns the exit status. */
int dr_run_child(const struct config *cfg, const char *dsn, int json, const char *const *cmd,
		 char **output);

/* ---- fence (src/dr/dr_fence.c) ----
 * A fence is something that stops the old primary from taking writes: stopping a cluster
 * midsops runs (and marking it so that nothing starts it again), or the operator's
 * [dr] fence_command. A line in state.json is never one. */
struct cluster;
/* Fence a cluster midsops runs: stop it (fast, then immediate), leave the fence mark that
 * cluster_start and dr_site_pg_ctl("start") refuse, and clear synchronous_standby_names in
 * its postgresql.auto.conf so that it never comes back waiting for a standby that is now
 * the primary. why goes into the mark. *cleared_sync set when a name was cleared. Returns
 * 0, or -1 with err (the cluster may be stopped but unmarked: say so). */
int dr_fence_cluster(struct cluster *c, const char *why, int *cleared_sync, char *err,
		     size_t errlen);
/* Lift the fence: clear synchronous_standby_names again, remove the mark. The cluster stays
 * stopped; starting it is the caller's choice. */
int dr_unfence_cluster(struct cluster *c, int *cleared_sync, char *err, size_t errlen);
/* Run [dr] fence_command (split into an argv, never through a shell) with the old primary's
 * MIDSOPS_FENCE_HOST, _PORT, _DATADIR and _DBNAME in its environment and its host and port
 * as the last two arguments. Returns its exit status (-1: could not start; err says why);
 * *output is its captured output (caller frees). */
int dr_fence_command(const struct config *cfg, const char *primary_conninfo, const char *datadir,
		     char **output, char *err, size_t errlen);

/* ---- the standby's view of the primary (src/dr/dr_guard.c) ---- */
struct dr_walrcv {
	int ok;		 /* the query ran */
	char error[256]; /* why not */
	int in_recovery;
	int present;   /* a walreceiver process exists */
	int streaming; /* ... and its status is 'streaming': the primary is alive */
	char status[32], sender[300];
	char last_msg_at[64], latest_end_at[64];
	double last_msg_age_s; /* NAN unknown */
	char latest_end_lsn[32], flushed_lsn[32];
	char receive_lsn[32], replay_lsn[32]; /* pg_last_wal_receive_lsn / _replay_lsn */
	char last_replay_at[64];	      /* commit time of the last replayed transaction */
};
int dr_walrcv_read(PGconn *standby, struct dr_walrcv *w);
/* Read, and while it says streaming re-read for up to settle_s seconds. */
int dr_walrcv_settle(PGconn *standby, struct dr_walrcv *w, double settle_s);
/* One sentence naming the evidence: status, sender, last message and WAL end times. */
void dr_walrcv_evidence(const struct dr_walrcv *w, char *buf, size_t n);

/* ---- loss if the standby were promoted now (src/dr/dr_loss.c) ---- */
struct dr_loss {
	int exact;	    /* measured, the primary answering */
	long long bytes;    /* exact: the primary's position - the standby's replayed; else -1 */
	long long at_least; /* primary gone: the lower bound (0: none known) */
	long long unsent_bytes, unreplayed_bytes; /* exact: current - sent, sent - replayed */
	double seconds;				  /* exact: replay lag; NAN unknown */
	char last_received_at[64];		  /* primary gone: when the standby last heard */
	char text[700];				  /* the figure as one sentence */
};
/* p: the primary (NULL or !ok when it did not answer); w: the standby's walreceiver;
 * last_primary_lsn/_at: the last position dr-assess saw (state.json), may be "". */
void dr_loss_compute(const struct dr_primary_snap *p, const struct dr_walrcv *w,
		     const char *last_primary_lsn, const char *last_primary_at, struct dr_loss *l);

/* ---- connections the commands hold (src/dr/dr_setup.c, src/dr/dr_sync.c) ---- */
void dr_conn_close(PGconn *c); /* NULL is fine */
int dr_conn_ok(PGconn *c);     /* open and usable; 0 for NULL */
/* dr-sync-guard's session on the primary (never started for it), prepared by
 * dr_sync_session: *locked 1 when this guard holds the lock, 0 when another does. NULL with
 * err when it cannot connect or prepare. */
PGconn *dr_sync_guard_connect(const struct target *t, int *locked, char *err, size_t errlen);

/* ---- commands moved out of src/cmd/cmd_dr.c ---- */
struct cmd_ctx;
int dr_activate_exec(struct cmd_ctx *ctx); /* src/dr/dr_activate.c */
int dr_validate_exec(struct cmd_ctx *ctx); /* src/dr/dr_validate.c */
/* The last `lines` lines of text, joined by ';' (src/dr/dr_validate.c). */
void dr_last_lines(char *dst, size_t n, const char *text, int lines);

/* ---- assessment (src/dr/dr_assess.c) ---- */
struct dr_backups {
	int catalogue_rows; /* ops.backups rows; -1 when the table does not exist */
	char last_id[128], last_type[32], last_at[64], last_status[32];
	double last_age_h; /* NAN unknown */
	int repo_backups;  /* backups in cfg->backup_dir whose manifest is accepted */
	char repo_last[256];
	int wal_files; /* WAL segments in the archive */
	char wal_first[32], wal_last[32];
	int wal_gaps; /* missing segments between first and last */
	char wal_dir[4096];
};

struct dr_assessment {
	char at[64];
	char primary_shown[1100], standby_shown[1100];
	struct dr_snapshot snap;
	int activated; /* state says dr-activate ran */
	char activated_at[64];
	struct dr_backups b;
	/* data loss if the standby were activated now */
	long long loss_bytes; /* measured; -1 when not measured (see loss) */
	double loss_s;	      /* NAN unknown */
	char loss_basis[256];
	struct dr_loss loss; /* with a standby: measured, or "at least" / unknown */
	int have_loss;	     /* loss was computed (a standby in recovery answered) */
	enum status st_primary, st_standby, st_replication, st_backups, overall;
	enum status
	    st_slot; /* an inactive DR slot's retained WAL ([thresholds] slot_retained_wal) */
	char summary[256];
};

void dr_assess(const struct config *cfg, const struct target *t, struct dr_assessment *a);
/* Records figures and the primary's position when the primary answers. */
void dr_assess_record(const struct config *cfg, const struct target *t,
		      const struct dr_assessment *a);
void dr_assess_render(struct out *o, const struct dr_assessment *a);
void dr_backups_scan(const struct config *cfg, PGconn *c, struct dr_backups *b);

/* The `dr` section of `status` (status_sections[] in src/cmd/status.c). */
enum status dr_status_section(struct out *o, const struct config *cfg, PGconn *conn);

#endif
