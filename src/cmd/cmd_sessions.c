/* sessions, session-cancel and session-terminate: the live sessions and who blocks whom
 * (the probe of include/probe_sessions.h, the console's sessions view's own), and the two
 * destructive actions on one backend (the engine of include/maint_sessions.h, through
 * ops.session_signal), each recorded in ops.events with the pid, the query and the
 * operator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "maint_roles.h"
#include "maint_sessions.h"
#include "probe.h"
#include "probe_sessions.h"
#include "util.h"

/* The pid is no client backend of this cluster, or the server refused to signal it:
 * documented in midsops.1. */
#define EXIT_SESSION_REFUSED 4
/* Text output cuts the query here; --json and the console's details keep it whole. */
#define QUERY_TEXT_MAX 160

static void by_cell(const struct session_row *r, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (int k = 0; k < r->nby && o + 12 < n; k++)
		o += (size_t)snprintf(buf + o, n - o, "%s%d", k ? "," : "", r->by[k]);
}

static void session_row_out(struct cmd_ctx *ctx, const struct session_row *r, int depth, int tree)
{
	int json = out_format(ctx->out) == OUT_JSON;
	char pid[64], xact[32], q[32], by[128], blocking[16], wait[100], dep[16];
	/* The tree shows as indentation in text; JSON has the depth as a field. */
	if (tree && !json && depth > 0)
		snprintf(pid, sizeof pid, "%*s└ %d", (depth - 1) * 2, "", r->pid);
	else
		snprintf(pid, sizeof pid, "%d", r->pid);
	out_seconds_cell(xact, sizeof xact, r->xact_s, json, 3);
	out_seconds_cell(q, sizeof q, r->query_s, json, 3);
	by_cell(r, by, sizeof by);
	snprintf(blocking, sizeof blocking, "%d", r->blocking);
	snprintf(dep, sizeof dep, "%d", depth);
	if (r->wait_type[0])
		snprintf(wait, sizeof wait, "%s:%s", r->wait_type, r->wait);
	else
		wait[0] = 0;
	char query[SESSIONS_QUERY_SZ];
	snprintf(query, sizeof query, "%.*s", json ? (int)sizeof query : QUERY_TEXT_MAX, r->query);
	if (tree)
		out_rowf(ctx->out, dep, pid, r->db, r->user, r->app, r->client, r->state, wait,
			 xact, q, by, blocking, query);
	else
		out_rowf(ctx->out, pid, r->db, r->user, r->app, r->client, r->state, wait, xact, q,
			 by, blocking, query);
}

static int cmd_sessions_exec(struct cmd_ctx *ctx)
{
	int all = args_has(ctx->args, "all-databases"), tree = args_has(ctx->args, "blocking");
	struct sessions_snapshot *s = xcalloc(1, sizeof *s);
	if (probe_sessions_fetch(ctx->db, all, s) < 0) {
		out_err(ctx->out, "sessions: %s", s->error);
		free(s);
		return EXIT_FAIL;
	}
	out_kv(ctx->out, "database", "%s", all ? "(every database)" : s->db);
	static const char *const cols[] = {
	    "depth", "pid",	  "database",	"user",	      "application", "client", "state",
	    "wait",  "xact_time", "query_time", "blocked_by", "blocking",    "query"};
	if (!tree) {
		out_kv_int(ctx->out, "sessions", s->total);
		out_table_begin(ctx->out, "sessions", 12, cols + 1);
		for (int i = 0; i < s->n; i++)
			session_row_out(ctx, &s->rows[i], 0, 0);
		out_table_end(ctx->out);
		if (s->total > s->n)
			out_line(ctx->out,
				 "(%d of %d sessions shown: the blocked and blocking first)", s->n,
				 s->total);
	} else {
		int order[SESSIONS_MAX], depth[SESSIONS_MAX];
		int n = probe_sessions_tree(s, order, depth), waiting = 0;
		for (int i = 0; i < n; i++)
			waiting += s->rows[order[i]].nby > 0;
		out_kv_int(ctx->out, "waiting", waiting);
		out_table_begin(ctx->out, "blocking", 13, cols);
		for (int i = 0; i < n; i++)
			session_row_out(ctx, &s->rows[order[i]], depth[i], 1);
		out_table_end(ctx->out);
		if (n == 0)
			out_line(ctx->out, "no session waits for a lock held by another");
	}
	free(s);
	return 0;
}

static int check_pid_args(struct cmd_ctx *ctx)
{
	const char *a = ctx->args->argv[0];
	char *end;
	long v = strtol(a, &end, 10);
	if (!*a || *end || v <= 0 || v > 2147483647) {
		out_err(ctx->out, "'%s' is not a process id", a);
		return EXIT_USAGE;
	}
	return 0;
}

/* The backend as the probe sees it, before asking: NULL (after saying why) when the pid is
 * not a client backend of this cluster. */
static const struct session_row *find_backend(struct cmd_ctx *ctx, struct sessions_snapshot *s,
					      const char *name, int pid, int *rc)
{
	if (probe_sessions_fetch(ctx->db, 1, s) < 0) {
		out_err(ctx->out, "%s: %s", name, s->error);
		*rc = EXIT_FAIL;
		return NULL;
	}
	for (int i = 0; i < s->n; i++)
		if (s->rows[i].pid == pid)
			return &s->rows[i];
	out_err(ctx->out,
		"%s: pid %d is not a client backend of this cluster (midsops sessions "
		"--all-databases lists them)",
		name, pid);
	*rc = EXIT_SESSION_REFUSED;
	return NULL;
}

static int signal_exec(struct cmd_ctx *ctx, int terminate)
{
	const char *name = terminate ? "session-terminate" : "session-cancel";
	const char *did = terminate ? "terminated backend" : "cancelled the query of backend";
	int pid = atoi(ctx->args->argv[0]), rc = 0;
	struct sessions_snapshot *s = xcalloc(1, sizeof *s);
	const struct session_row *r = find_backend(ctx, s, name, pid, &rc);
	if (!r)
		goto done;
	if (!s->can_signal) {
		out_err(ctx->out,
			"%s: login %s may not signal sessions: that needs the operator role (%s); "
			"this login can only monitor",
			name, s->login, ROLES_OPERATOR);
		rc = EXIT_FAIL;
		goto done;
	}
	char q[1024];
	snprintf(q, sizeof q, "%s %d (user %s, application %s, %s): %.300s",
		 terminate ? "terminate backend" : "cancel the query of backend", pid, r->user,
		 r->app[0] ? r->app : "-", r->state, r->query[0] ? r->query : "(no query)");
	char refusal[128];
	snprintf(refusal, sizeof refusal, "%s: no terminal to ask: confirm with --yes", name);
	if (!cmd_confirm(ctx, NULL, q, refusal)) {
		out_err(ctx->out, "%s: not confirmed; nothing signalled", name);
		rc = EXIT_FAIL;
		goto done;
	}
	struct session_signal sig;
	struct db_error e;
	if (maint_session_signal(ctx->db, pid, terminate, &sig, &e) < 0) {
		if (strcmp(e.sqlstate, "42501") == 0)
			out_err(ctx->out,
				"%s: permission denied: signalling sessions needs the %s role",
				name, ROLES_OPERATOR);
		else
			out_err(ctx->out, "%s: %s", name, e.message);
		rc = EXIT_FAIL;
		goto done;
	}
	if (sig.refused[0]) {
		out_err(ctx->out, "%s: pid %d: %s", name, pid, sig.refused);
		rc = EXIT_SESSION_REFUSED;
		goto done;
	}
	char op[128];
	util_operator_name(NULL, op, sizeof op);
	out_kv_int(ctx->out, "pid", pid);
	out_kv(ctx->out, "action", "%s", terminate ? "terminate" : "cancel");
	out_kv(ctx->out, "user", "%s", sig.user);
	out_kv(ctx->out, "database", "%s", sig.db);
	out_kv(ctx->out, "query", "%s", sig.query);
	out_kv(ctx->out, "operator", "%s (login %s)", op, sig.login);
	if (!sig.signalled) {
		out_err(ctx->out, "%s: the server could not signal pid %d (it may have just ended)",
			name, pid);
		rc = EXIT_FAIL;
		goto done;
	}
	db_event(ctx->db, "warning", name,
		 "%s %d (user %s, database %s, application %s, state %s) for operator %s "
		 "(login %s): %.1000s",
		 did, pid, sig.user, sig.db, sig.app[0] ? sig.app : "-", sig.state, op, sig.login,
		 sig.query[0] ? sig.query : "(no query)");
	out_line(ctx->out, "%s %d", did, pid);
done:
	free(s);
	return rc;
}

static int cmd_session_cancel_exec(struct cmd_ctx *ctx)
{
	return signal_exec(ctx, 0);
}

static int cmd_session_terminate_exec(struct cmd_ctx *ctx)
{
	return signal_exec(ctx, 1);
}

const struct cmd_entry cmd_sessions_table[] = {
    {
	.name = "sessions",
	.options = "all-databases|a blocking|b",
	.summary = "Live sessions, one row per backend (pid, user, application, client, state, "
		   "wait, transaction and query time, query); --blocking: who waits on whom, "
		   "as a tree",
	.usage = "sessions [--all-databases] [--blocking] [--json]",
	.flags = CMD_OBSERVE,
	.exec = cmd_sessions_exec,
	.db = CMD_DB_CONNECT,
    },
    {
	.name = "session-cancel",
	.options = "yes|y",
	.min_args = 1,
	.max_args = 1,
	.summary = "Cancel the running query of one backend (asks first; recorded in ops.events)",
	.usage = "session-cancel PID [--yes]",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_session_cancel_exec,
	.db = CMD_DB_READY,
	.check_args = check_pid_args,
    },
    {
	.name = "session-terminate",
	.options = "yes|y",
	.min_args = 1,
	.max_args = 1,
	.summary = "Terminate one backend, ending its session (asks first; recorded in "
		   "ops.events)",
	.usage = "session-terminate PID [--yes]",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_session_terminate_exec,
	.db = CMD_DB_READY,
	.check_args = check_pid_args,
    },
    {0},
};
