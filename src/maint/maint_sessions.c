/* Cancel or terminate one client backend through ops.session_signal (sql/051): the
 * function decides what may be signalled, so the operator role needs no
 * pg_signal_backend. */
#include <stdio.h>
#include <string.h>

#include "maint.h"
#include "maint_sessions.h"

static void copy_cell(const struct maint_rows *r, int col, char *buf, size_t n)
{
	const char *v = maint_cell(r, 0, col);
	snprintf(buf, n, "%s", v ? v : "");
}

int maint_session_signal(PGconn *c, int pid, int terminate, struct session_signal *out,
			 struct db_error *e)
{
	char p[32];
	snprintf(p, sizeof p, "%d", pid);
	const char *params[] = {p, terminate ? "true" : "false"};
	struct maint_rows r;
	memset(out, 0, sizeof *out);
	if (maint_rows_query(c, &r, e,
			     "select backend, signalled, user_name, db_name, app, state, query, "
			     "refused, login from ops.session_signal($1::int, $2::boolean)",
			     2, params) < 0)
		return -1;
	if (r.nrows == 1) {
		const char *b = maint_cell(&r, 0, 0), *s = maint_cell(&r, 0, 1);
		out->backend = b && b[0] == 't';
		out->signalled = s && s[0] == 't';
		copy_cell(&r, 2, out->user, sizeof out->user);
		copy_cell(&r, 3, out->db, sizeof out->db);
		copy_cell(&r, 4, out->app, sizeof out->app);
		copy_cell(&r, 5, out->state, sizeof out->state);
		copy_cell(&r, 6, out->query, sizeof out->query);
		copy_cell(&r, 7, out->refused, sizeof out->refused);
		copy_cell(&r, 8, out->login, sizeof out->login);
	}
	maint_rows_free(&r);
	return 0;
}
