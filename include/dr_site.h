/* The DR site as a local cluster (src/dr/dr_site.c). */
#ifndef MIDSOPS_DR_SITE_H
#define MIDSOPS_DR_SITE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "cluster.h"
#include "probe_dr.h"

/* Paths of a site rooted at dir: dir/pg, dir/run, dir/log; port written to dir/port
 * when > 0 (else read from it). */
int dr_site_locate(struct cluster *c, const char *dir, int port, char *err, size_t errlen);
int dr_site_own_dir(const struct cluster *c, const char *dir, char *err, size_t errlen);
/* pg_ctl start|stop|promote as the cluster's user; mode for stop. */
int dr_site_pg_ctl(const struct cluster *c, const char *action, const char *mode, char *err,
		   size_t errlen);
/* Append the site's own socket directory, port and name to postgresql.conf. */
int dr_site_configure(const struct cluster *c, int standby, char *err, size_t errlen);
/* Stop (immediate) and delete the data directory. */
int dr_site_remove(const struct cluster *c, char *err, size_t errlen);
/* pg_basebackup -R -X stream -C -S slot from the primary into c->datadir. */
int dr_site_basebackup(const struct cluster *c, const char *primary_conninfo, const char *slot,
		       char *err, size_t errlen);

/* ---- dr-setup's and dr-restore's database work (src/dr/dr_setup.c) ----
 * The command holds the primary's connection; these run its statements. Each returns -1
 * with err when a statement fails, unless it says otherwise. */
/* Connect to a site, take its standby snapshot, disconnect. -1 (s zeroed, err set) when it
 * does not answer within timeout_s. */
int dr_site_look(const char *dsn, const char *app, int timeout_s, struct dr_standby_snap *s,
		 char *err, size_t errlen);
/* Poll a restored site (every 0.2 s, tries times) until it leaves recovery: 0, else -1. */
int dr_site_wait_promoted(const char *dsn, const char *app, int tries, char *err, size_t errlen);

/* What the primary offers a standby; port is the one the connection reached. */
struct dr_primary_fit {
	int in_recovery;
	char wal_level[32];
	int senders; /* max_wal_senders */
	int port;
};
int dr_setup_primary_fit(PGconn *pc, struct dr_primary_fit *f, char *err, size_t errlen);
/* Error-free 'local replication' rules in pg_hba.conf, -1 when they cannot be read. */
int dr_setup_hba_replication_rules(PGconn *pc, char *err, size_t errlen);
/* 1 when the slot DR_SLOT exists and a standby uses it; 0 otherwise or when unknown. */
int dr_setup_slot_active(PGconn *pc);
/* Drop DR_SLOT when no standby uses it: an earlier site's slot would keep its WAL. */
int dr_setup_drop_idle_slot(PGconn *pc, char *err, size_t errlen);
/* 0 once the DR standby streams (within seconds), else -1. */
int dr_setup_wait_streaming(PGconn *pc, int seconds);
/* A synchronous DR site makes every commit on the primary wait for it, so while the site
 * is down (rebuilt, or not streaming yet) the primary must not name it: reset first, name
 * it again only once it streams. unset: 1 it was named and no longer is, 0 it was not. */
int dr_setup_sync_unset(PGconn *pc, char *err, size_t errlen);
/* Name the site synchronous (remote_write) and wait up to 10 s for it to report so. */
int dr_setup_sync_set(PGconn *pc, char *err, size_t errlen);
/* The conninfo of a site for the primary's database and user. */
void dr_setup_site_dsn(PGconn *pc, const struct cluster *site, char *dsn, size_t n);

#endif
