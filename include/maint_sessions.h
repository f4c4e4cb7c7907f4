/* Cancel or terminate one client backend (src/maint/maint_sessions.c), through
 * ops.session_signal (sql/051), the operator role's one way to signal a session. */
#ifndef MIDSOPS_MAINT_SESSIONS_H
#define MIDSOPS_MAINT_SESSIONS_H

#include <libpq-fe.h>

#include "db.h"

struct session_signal {
	int backend;   /* the pid is a client backend of this cluster */
	int signalled; /* the server delivered the signal */
	char user[64], db[64], app[64], state[32];
	char login[64];	   /* who asked: the session's login */
	char refused[128]; /* why it was not signalled, "" when it was */
	char query[2048];
};

/* -1 with e filled when the statement fails (SQLSTATE 42501: the login may not signal,
 * it is not in the operator role); 0 otherwise, with what was found in out. */
int maint_session_signal(PGconn *c, int pid, int terminate, struct session_signal *out,
			 struct db_error *e);

#endif
