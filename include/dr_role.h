/* Role changes between the two clusters midsops runs for DR -- the embedded cluster and the
 * DR site dr-setup made -- with PostgreSQL's own tools: a clean switchover (dr_switch.c)
 * and the rejoin of an old primary as a standby with pg_rewind or a fresh copy
 * (dr_rejoin.c). Either node may be the primary; each is found by asking a server for its
 * data_directory, never by trusting which environment name points where. */
#ifndef MIDSOPS_DR_ROLE_H
#define MIDSOPS_DR_ROLE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "out.h"

struct config;
struct target;

struct dr_node {
	struct cluster c;
	int embedded;	/* the embedded cluster, else the DR site */
	char name[32];	/* "embedded cluster" or "DR site" */
	char dsn[1400]; /* midsops's conninfo for it (the database and user of the caller) */
};

/* What pg_controldata says of a node's data directory (readable while it is stopped). */
struct dr_control {
	char state[64];	   /* "shut down", "in production", "shut down in recovery", ... */
	char ckpt_lsn[32]; /* latest checkpoint location */
	int timeline;	   /* latest checkpoint's TimeLineID */
	int checksums;	   /* data page checksum version > 0 */
	int wal_log_hints; /* wal_log_hints setting in the control file */
};

/* ---- nodes (dr_switch.c) ---- */
/* The embedded cluster and the DR site (state.json's site_dir, else DATA/dr); dbname and
 * user fill their conninfo. */
int dr_node_embedded(struct dr_node *n, const char *dbname, const char *user, char *err,
		     size_t errlen);
int dr_node_site(struct dr_node *n, const char *dbname, const char *user, char *err, size_t errlen);
/* Which of the two a connected server is (its data_directory); -1 with the reason when it
 * is neither: a server midsops does not run cannot be stopped or rewound by it. */
int dr_node_of(PGconn *c, struct dr_node *n, char *err, size_t errlen);
/* The other node of the pair. */
int dr_node_other(const struct dr_node *n, struct dr_node *other, char *err, size_t errlen);
int dr_node_control(const struct dr_node *n, struct dr_control *ctl, char *err, size_t errlen);
/* Turn a stopped node into a standby of primary: standby.signal, primary_conninfo and
 * primary_slot_name (slot DR_SLOT), and, when own_conf, its own socket and port again (a
 * copy or a rewind brings the source's postgresql.conf). */
int dr_node_make_standby(const struct dr_node *n, const struct dr_node *primary, int own_conf,
			 char *err, size_t errlen);
/* Wait up to seconds for the primary to show DR_APP streaming; 0 once it does. */
int dr_wait_streaming(PGconn *primary, int seconds);
/* Create the physical slot DR_SLOT on a primary unless it exists. */
int dr_slot_ensure(PGconn *primary, char *err, size_t errlen);
/* Point [env production] at the primary and [env dr] at the standby; default_env becomes
 * production, or none (the embedded cluster) when that is the primary. */
int dr_role_repoint(struct config *cfg, const struct dr_node *primary,
		    const struct dr_node *standby, char *err, size_t errlen);

/* ---- switchover (dr_switch.c) ---- */
struct dr_switch_opts {
	long long max_lag_bytes; /* refuse when the standby's replay is further behind */
	int yes;
};
/* Exit status 0, or EXIT_FAIL/EXIT_USAGE with the reason written to o. */
int dr_switchover(struct out *o, struct config *cfg, const struct target *t,
		  const struct dr_switch_opts *opts);

/* ---- rejoin (dr_rejoin.c) ---- */
struct dr_rejoin_opts {
	int yes;
	int no_rewind; /* straight to a fresh copy */
};
int dr_rejoin(struct out *o, struct config *cfg, const struct target *t,
	      const struct dr_rejoin_opts *opts);
/* Slots a role change orphans: DR_SLOT on a server that no longer feeds the DR standby (an
 * old primary, now a standby or fenced). Drops it when no walsender uses it; returns how
 * many were dropped, or -1 with the reason. For dr-activate to call on the old primary. */
int dr_slots_drop_orphans(PGconn *old_primary, char *err, size_t errlen);
/* "" when pg_rewind can work on this server (data checksums or wal_log_hints), else a
 * sentence saying neither is on and how to turn one on. For dr-setup and dr-rejoin. */
void dr_rewind_readiness(PGconn *c, char *msg, size_t n);

/* ---- prepare (dr_rejoin.c) ---- */
/* Turn on what pg_rewind needs on the nodes midsops runs (the target's and the other):
 * checksums (pg_checksums --enable, offline: each node is stopped, enabled and started,
 * the standby first) or wal_log_hints (set while stopped, then started). */
int dr_prepare_rewind(struct out *o, const struct target *t, int use_checksums, int yes);

#endif
