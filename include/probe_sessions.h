/* Sessions and locks: one row per client backend (pid, user, application, client, state,
 * wait event, how long its transaction and its query have run, the query on one line) with
 * who blocks whom (pg_blocking_pids). One SQL text with one parameter (every database, or
 * the target's) plus a parser, as the other probes: the console sends it asynchronously
 * while its sessions view is on screen, `midsops sessions` runs it synchronously. */
#ifndef MIDSOPS_PROBE_SESSIONS_H
#define MIDSOPS_PROBE_SESSIONS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

/* Rows kept: the blocked and blocking first, then the oldest transactions. */
#define SESSIONS_MAX	  200
#define SESSIONS_BY	  8 /* blockers kept per session */
#define SESSIONS_QUERY_SZ 1024

struct session_row {
	int pid;
	char db[64], user[64], app[64], client[64], state[32];
	char wait_type[32], wait[64];
	double xact_s, query_s; /* NAN: no transaction, no query running */
	int nby;		/* sessions blocking this one (pg_blocking_pids) */
	int by[SESSIONS_BY];
	int blocking; /* sessions this one blocks */
	char query[SESSIONS_QUERY_SZ];
};

struct sessions_snapshot {
	int ok;
	char error[256];
	time_t taken;
	int all;	/* every database, or only db */
	char db[64];	/* the target database */
	char login[64]; /* who asks (session_user) */
	int can_signal; /* this login may run ops.session_signal (the operator role) */
	int total;	/* backends matching, of which n are kept */
	int n;
	struct session_row rows[SESSIONS_MAX];
};

/* One parameter: $1 boolean, every database. */
const char *probe_sessions_sql(void);
int probe_sessions_parse(PGresult *r, struct sessions_snapshot *s);
/* The synchronous form, for the command; -1 with s->error on failure. */
int probe_sessions_fetch(PGconn *c, int all, struct sessions_snapshot *s);

/* The blocking tree: the sessions that block or wait, each waiter under the first of its
 * blockers that is kept (a root blocks and waits for no one shown). order[] gets indexes
 * of s->rows, depth[] their depth; both sized SESSIONS_MAX. Returns how many. A cycle
 * (a deadlock the server has not broken yet) is shown from its lowest pid. */
int probe_sessions_tree(const struct sessions_snapshot *s, int *order, int *depth);
/* Whether row i waits for or blocks another session. */
int probe_session_in_tree(const struct sessions_snapshot *s, int i);

#endif
