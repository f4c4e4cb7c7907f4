/* The synchronous guard (dr_sync.c): the one actor that drops a primary from synchronous to
 * asynchronous replication when its synchronous standby is gone ([dr] synchronous =
 * fallback), as Patroni's non-strict mode does, and restores it once the standby streams
 * again. Checks only report; this repairs, and only synchronous_standby_names, only through
 * ALTER SYSTEM and pg_reload_conf(). */
#ifndef MIDSOPS_DR_SYNC_H
#define MIDSOPS_DR_SYNC_H

#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

#include "probe_dr.h"

struct config;

/* pg advisory lock held by a running guard for its whole session: two guards (a timer
 * and a --watch) never act at once. */
#define DR_SYNC_LOCK_KEY "7013370021"

enum dr_sync_action {
	DS_IDLE,     /* nothing synchronous to guard (or a standby) */
	DS_HEALTHY,  /* synchronous and a synchronous standby is connected */
	DS_WAITING,  /* synchronous, no standby; not (yet) dropped: strict or before the timeout */
	DS_DROPPED,  /* this run dropped to asynchronous */
	DS_ASYNC,    /* dropped earlier; the standby does not stream yet */
	DS_RESTORED, /* this run restored synchronous mode */
};

struct dr_sync_result {
	enum dr_sync_action action;
	struct repl_health h; /* as seen before acting */
	double missing_s;     /* how long no synchronous standby was seen (waits or watch) */
	char names[256];      /* the standby names dropped, restored or guarded */
	char text[512];	      /* one line for the operator */
};

/* Prepare a session: its own commits never wait for a standby (synchronous_commit =
 * local), and it takes the guard's lock. Returns 1 locked, 0 another guard holds it, -1. */
int dr_sync_session(PGconn *c, char *err, size_t errlen);

/* One pass. missing_since: the watch loop's memory of when the synchronous standby was
 * last missing first (0: not missing; updated here); NULL in a one-shot run, which then
 * judges only by the oldest commit waiting. */
int dr_sync_step(PGconn *c, const struct config *cfg, time_t *missing_since,
		 struct dr_sync_result *res, char *err, size_t errlen);

const char *dr_sync_action_name(enum dr_sync_action a);

#endif
