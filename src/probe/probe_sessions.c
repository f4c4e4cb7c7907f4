/* Sessions and locks (include/probe_sessions.h): pg_stat_activity's client backends with
 * pg_blocking_pids, as one JSON row so the console's parser is the command's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "probe_int.h"
#include "probe_sessions.h"
#include "util.h"

/* pg_blocking_pids is asked once per backend, in one materialized pass; the blocked and
 * blocking rows are kept first when there are more backends than rows. The client is the
 * address, "local" for a Unix socket. Queries come on one line (blanks collapsed). Who may
 * signal is whoever may execute ops.session_signal (the operator role): looked up in
 * pg_proc, so a database without the function answers false, not an error. */
static const char sessions_sql[] =
    "/* midsops console: sessions */ with a as materialized (\n"
    "  select pid, datname, usename, application_name, client_addr, client_port, state,\n"
    "    wait_event_type, wait_event, xact_start, query_start, query,\n"
    "    pg_blocking_pids(pid) as by\n"
    "  from pg_stat_activity\n"
    "  where backend_type = 'client backend' and pid <> pg_backend_pid()),\n"
    "b as (select a.*, (select count(*) from a w where a.pid = any (w.by)) as blocking\n"
    "  from a where $1::boolean or datname = current_database()),\n"
    "k as (select * from b order by (blocking > 0 or cardinality(by) > 0) desc,\n"
    "  xact_start nulls last, pid limit " /* SESSIONS_MAX */ "200)\n"
    "select json_build_object('db', current_database(), 'login', session_user,\n"
    "  'all', $1::boolean, 'total', (select count(*) from b),\n"
    "  'can_signal', coalesce((select bool_or(has_function_privilege(p.oid, 'execute'))\n"
    "     from pg_proc p join pg_namespace n on n.oid = p.pronamespace\n"
    "     where n.nspname = 'ops' and p.proname = 'session_signal'), false),\n"
    "  'items', coalesce((select json_agg(json_build_object('pid', pid, 'db', datname,\n"
    "     'user', usename, 'app', application_name,\n"
    "     'client', coalesce(host(client_addr), case when client_port = -1 then 'local' end),\n"
    "     'state', state, 'wait_type', wait_event_type, 'wait', wait_event,\n"
    "     'xact_s', extract(epoch from clock_timestamp() - xact_start),\n"
    "     'query_s', case when state <> 'idle' then\n"
    "        extract(epoch from clock_timestamp() - query_start) end,\n"
    "     'by', by, 'blocking', blocking,\n"
    "     'query', left(regexp_replace(query, '\\s+', ' ', 'g'), 1000)) order by pid)\n"
    "   from k), '[]'))";

const char *probe_sessions_sql(void)
{
	return sessions_sql;
}

#define F(m, t) UTIL_JF(struct session_row, m, #m, t)
static const struct util_jfield row_fields[] = {
    F(pid, UTIL_J_INT),	      F(db, UTIL_J_STR),      F(user, UTIL_J_STR),
    F(app, UTIL_J_STR),	      F(client, UTIL_J_STR),  F(state, UTIL_J_STR),
    F(wait_type, UTIL_J_STR), F(wait, UTIL_J_STR),    F(query, UTIL_J_STR),
    F(xact_s, UTIL_J_NAN),    F(query_s, UTIL_J_NAN), F(blocking, UTIL_J_INT)};
#undef F

static void parse_row(const cJSON *v, struct session_row *r)
{
	memset(r, 0, sizeof *r);
	util_json_fill(v, row_fields, sizeof row_fields / sizeof *row_fields, r);
	const cJSON *b;
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(v, "by"))
	{
		if (r->nby < SESSIONS_BY && cJSON_IsNumber(b))
			r->by[r->nby++] = (int)b->valuedouble;
	}
}

int probe_sessions_parse(PGresult *r, struct sessions_snapshot *s)
{
	cJSON *j = PROBE_JSON_START(s, r);
	if (!j)
		return -1;
	util_json_strcpy(j, "db", s->db, sizeof s->db);
	util_json_strcpy(j, "login", s->login, sizeof s->login);
	s->all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "all"));
	s->can_signal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "can_signal"));
	s->total = (int)util_json_num(j, "total", 0);
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "items"))
	{
		if (s->n >= SESSIONS_MAX)
			break;
		parse_row(v, &s->rows[s->n++]);
	}
	cJSON_Delete(j);
	s->ok = 1;
	return 0;
}

int probe_sessions_fetch(PGconn *c, int all, struct sessions_snapshot *s)
{
	const char *params[] = {all ? "true" : "false"};
	PGresult *r = PQexecParams(c, sessions_sql, 1, NULL, params, NULL, NULL, 0);
	int rc = probe_sessions_parse(r, s);
	PQclear(r);
	return rc;
}

static int find_pid(const struct sessions_snapshot *s, int pid)
{
	for (int i = 0; i < s->n; i++)
		if (s->rows[i].pid == pid)
			return i;
	return -1;
}

int probe_session_in_tree(const struct sessions_snapshot *s, int i)
{
	return s->rows[i].nby > 0 || s->rows[i].blocking > 0;
}

/* The parent shown for row i: its first blocker that is kept, else -1. */
static int parent_of(const struct sessions_snapshot *s, int i)
{
	for (int k = 0; k < s->rows[i].nby; k++) {
		int p = find_pid(s, s->rows[i].by[k]);
		if (p >= 0 && p != i)
			return p;
	}
	return -1;
}

static void walk(const struct sessions_snapshot *s, int i, int d, char *seen, int *order,
		 int *depth, int *n)
{
	if (seen[i] || *n >= SESSIONS_MAX)
		return;
	seen[i] = 1;
	order[*n] = i;
	depth[(*n)++] = d;
	for (int c = 0; c < s->n; c++)
		if (!seen[c] && parent_of(s, c) == i)
			walk(s, c, d + 1, seen, order, depth, n);
}

int probe_sessions_tree(const struct sessions_snapshot *s, int *order, int *depth)
{
	char seen[SESSIONS_MAX] = {0};
	int n = 0;
	/* Roots first (blockers that wait for no one kept), by pid as the rows come. */
	for (int i = 0; i < s->n; i++)
		if (probe_session_in_tree(s, i) && parent_of(s, i) < 0)
			walk(s, i, 0, seen, order, depth, &n);
	/* What is left is in a cycle: each from its lowest pid. */
	for (int i = 0; i < s->n; i++)
		if (probe_session_in_tree(s, i) && !seen[i])
			walk(s, i, 0, seen, order, depth, &n);
	return n;
}
