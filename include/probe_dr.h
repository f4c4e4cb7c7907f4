/* Disaster-recovery probe: the primary's view of its streaming standby and the standby's
 * own view of what it received and replayed. Two SQL texts (no parameters), one per server,
 * each with a parser, so the console can send them with PQsendQuery on its own connections
 * (the standby's conninfo is config_env(cfg, "dr")->dsn) and the CLI runs them through
 * probe_dr(). Never prints. */
#ifndef MIDSOPS_PROBE_DR_H
#define MIDSOPS_PROBE_DR_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct config;
struct target;

/* The replication slot dr-setup creates on the primary. */
#define DR_SLOT "midsops_dr"

struct dr_primary_snap {
	int ok;		 /* reachable and the query ran */
	char error[512]; /* why not */
	int in_recovery; /* the "primary" is itself a standby (already failed over?) */
	char current_lsn[32];
	int nstandbys; /* rows in pg_stat_replication */
	int streaming; /* our standby has a walsender row */
	char app[64], state[32], sync_state[16], client[128];
	char sent_lsn[32], replay_lsn[32];
	long long lag_bytes;			       /* current - replay; -1 unknown */
	double write_lag_s, flush_lag_s, replay_lag_s; /* NAN unknown (idle) */
	int slot_exists, slot_active;
	long long slot_retained_bytes; /* -1 unknown */
};

struct dr_standby_snap {
	int ok;
	char error[512];
	int in_recovery; /* 0 once promoted */
	char receive_lsn[32], replay_lsn[32];
	long long apply_gap_bytes; /* received but not replayed yet */
	char last_replay_at[64];   /* last replayed transaction's commit time */
	double replay_age_s;	   /* now - that; NAN when nothing replayed */
	char receiver_status[32];  /* "streaming", "" when no WAL receiver */
	char sender[256];
	double last_msg_age_s;	    /* NAN */
	long long unreceived_bytes; /* primary's last reported end - flushed; -1 unknown */
	char current_lsn[32];	    /* once promoted */
};

struct dr_snapshot {
	int configured; /* a `dr` environment exists */
	time_t taken;
	struct dr_primary_snap p;
	struct dr_standby_snap s;
	/* primary's current LSN - standby's replay LSN, when both answered; else -1 */
	long long lag_bytes;
	/* replay lag in seconds as the primary measures it, else NAN */
	double lag_s;
};

extern const char probe_dr_primary_sql[];
extern const char probe_dr_standby_sql[];
int probe_dr_primary_parse(PGresult *r, struct dr_primary_snap *p);
int probe_dr_standby_parse(PGresult *r, struct dr_standby_snap *s);
/* Combine both halves (fills lag_bytes, lag_s). */
void probe_dr_combine(struct dr_snapshot *s);

/* "16/B374D848" -> 64-bit position; 0 when empty or malformed. */
uint64_t lsn_parse(const char *s);

/* Synchronous: connects to the primary conninfo (never starts a cluster) and to the
 * standby conninfo, with a short timeout. Either may be NULL (not probed). */
int probe_dr(const char *primary_conninfo, const char *standby_conninfo, struct dr_snapshot *s);
/* Run one half on an open connection. */
int probe_dr_primary(PGconn *c, struct dr_primary_snap *p);
int probe_dr_standby(PGconn *c, struct dr_standby_snap *s);

/* ---- Replication health of the server midsops is connected to: its slots and the
 * commits waiting for a synchronous standby (db-check, status, metrics, dr-sync-guard) ---- */
#define REPL_MAX_SLOTS 16

struct repl_slot {
	char name[64], type[16], wal_status[16];
	int active;
	long long retained_bytes; /* current WAL position - restart_lsn; -1 unknown */
	long long safe_wal_size;  /* bytes before the slot loses its WAL; -1 unlimited/unknown */
	double inactive_s;	  /* PostgreSQL 17's inactive_since; NAN when not recorded */
};

struct repl_health {
	int ok;
	char error[512];
	int in_recovery;
	char sync_names[256];	  /* synchronous_standby_names now */
	char fallback_names[256]; /* what dr-sync-guard took out of it; "" when it did not */
	long long max_slot_keep;  /* max_slot_wal_keep_size in bytes; -1 unlimited */
	int sync_standbys;	  /* pg_stat_replication rows in sync_state sync or quorum */
	int sync_waiters;	  /* backends waiting in SyncRep */
	double sync_wait_s;	  /* the oldest of them, since its statement began; 0 none */
	int sync_wait_pid;
	int sees_all; /* superuser or pg_read_all_stats: other roles' waits are visible */
	int nslots;
	struct repl_slot slots[REPL_MAX_SLOTS]; /* largest retention first */
};

/* The custom setting dr-sync-guard keeps, with ALTER SYSTEM, the standby names it removed
 * from synchronous_standby_names: on the server, so any guard on any host can restore it. */
#define REPL_FALLBACK_GUC "midsops.fallback_standby_names"

extern const char probe_repl_sql[];	  /* one row: the settings and the SyncRep waits */
extern const char probe_repl_slots_sql[]; /* a row per slot */
int probe_repl(PGconn *c, struct repl_health *h);
/* The inactive slot that retains the most WAL, or NULL. */
const struct repl_slot *repl_worst_inactive(const struct repl_health *h);

/* Connect to a conninfo without starting anything; NULL with a masked reason in err.
 * An empty conninfo means libpq's own environment. */
PGconn *probe_dr_connect(const char *conninfo, const char *app, int timeout_s, char *err,
			 size_t errlen);

#endif
