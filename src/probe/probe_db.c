/* Database health: one round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "probe.h"
#include "probe_int.h"

/* Everything in one row; lists come back as text arrays (name|dead|live) so the parser
 * needs no JSON. pg_stat_activity only shows other users' queries to pg_read_all_stats,
 * which pg_monitor grants, so the probe degrades to counts without it. */
const char probe_db_sql[] =
    "select version(),\n"
    "  current_setting('server_version_num')::int,\n"
    "  extract(epoch from now() - pg_postmaster_start_time()),\n"
    "  pg_database_size(current_database()),\n"
    "  (select count(*) from pg_stat_activity where backend_type = 'client backend'),\n"
    "  current_setting('max_connections')::int,\n"
    "  (select case when sum(blks_hit + blks_read) > 0\n"
    "     then 100.0 * sum(blks_hit) / sum(blks_hit + blks_read) end from pg_stat_database),\n"
    "  (select sum(xact_commit + xact_rollback) from pg_stat_database),\n"
    "  (select coalesce(sum(n_dead_tup), 0) from pg_stat_user_tables),\n"
    "  (select coalesce(sum(n_live_tup), 0) from pg_stat_user_tables),\n"
    "  (select array_agg(schemaname || '.' || relname || '|' || n_dead_tup || '|' || n_live_tup\n"
    "     order by n_dead_tup desc) from (select * from pg_stat_user_tables\n"
    "     where n_dead_tup > 0 order by n_dead_tup desc limit 5) t),\n"
    "  (select extract(epoch from now() - xact_start) from pg_stat_activity\n"
    "     where xact_start is not null and pid <> pg_backend_pid()\n"
    "       and backend_type = 'client backend' order by xact_start limit 1),\n"
    "  (select pid from pg_stat_activity where xact_start is not null\n"
    "     and pid <> pg_backend_pid() and backend_type = 'client backend'\n"
    "     order by xact_start limit 1),\n"
    "  (select left(query, 200) from pg_stat_activity where xact_start is not null\n"
    "     and pid <> pg_backend_pid() and backend_type = 'client backend'\n"
    "     order by xact_start limit 1),\n"
    "  (select count(*) from pg_locks where not granted),\n"
    "  pg_is_in_recovery(),\n"
    "  case when pg_is_in_recovery() then\n"
    "    extract(epoch from now() - pg_last_xact_replay_timestamp()) end,\n"
    "  (select count(*) from pg_stat_replication),\n"
    "  (select max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint\n"
    "     from pg_stat_replication where not pg_is_in_recovery())";

static double num(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? NAN : strtod(PQgetvalue(r, 0, col), NULL);
}

static long long lnum(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? 0 : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

/* Parse a text[] literal {"a|1|2","b|3|4"} of dead-tuple tops. */
static void parse_dead_top(const char *s, struct db_snapshot *snap)
{
	snap->ndead_top = 0;
	if (!s || *s != '{')
		return;
	s++;
	while (*s && *s != '}' && snap->ndead_top < PROBE_TOP) {
		char item[256];
		size_t n = 0;
		int quoted = *s == '"';
		if (quoted)
			s++;
		while (*s && (quoted ? *s != '"' : (*s != ',' && *s != '}'))) {
			if (*s == '\\' && s[1])
				s++;
			if (n + 1 < sizeof item)
				item[n++] = *s;
			s++;
		}
		item[n] = 0;
		if (quoted && *s == '"')
			s++;
		if (*s == ',')
			s++;
		char *p1 = strchr(item, '|');
		char *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
		if (!p1 || !p2)
			continue;
		*p1 = *p2 = 0;
		int k = snap->ndead_top++;
		snprintf(snap->dead_top[k].name, sizeof snap->dead_top[k].name, "%.127s", item);
		snap->dead_top[k].dead = atoll(p1 + 1);
		snap->dead_top[k].live = atoll(p2 + 1);
	}
}

int probe_db_parse(PGresult *r, struct db_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->taken = time(NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 19) {
		probe_result_error(s->error, sizeof s->error, r, "no result");
		return -1;
	}
	const char *v = PQgetvalue(r, 0, 0);
	/* "PostgreSQL 15.18 (Debian ...) on ..." -> "15.18" */
	const char *sp = strchr(v, ' ');
	snprintf(s->version, sizeof s->version, "%.*s", (int)strcspn(sp ? sp + 1 : v, " "),
		 sp ? sp + 1 : v);
	s->server_num = (int)lnum(r, 1);
	s->uptime_s = num(r, 2);
	s->db_size = lnum(r, 3);
	s->connections = (int)lnum(r, 4);
	s->max_connections = (int)lnum(r, 5);
	s->hit_ratio = num(r, 6);
	s->xact_total = lnum(r, 7);
	s->dead_tuples = lnum(r, 8);
	s->live_tuples = lnum(r, 9);
	parse_dead_top(PQgetisnull(r, 0, 10) ? NULL : PQgetvalue(r, 0, 10), s);
	s->longest_txn_s = PQgetisnull(r, 0, 11) ? 0 : num(r, 11);
	s->longest_txn_pid = (int)lnum(r, 12);
	snprintf(s->longest_txn_query, sizeof s->longest_txn_query, "%s",
		 PQgetisnull(r, 0, 13) ? "" : PQgetvalue(r, 0, 13));
	s->waiting_locks = (int)lnum(r, 14);
	s->in_recovery = PQgetvalue(r, 0, 15)[0] == 't';
	s->replay_lag_s = num(r, 16);
	s->nreplicas = (int)lnum(r, 17);
	s->max_replica_lag_bytes = lnum(r, 18);
	s->tps = NAN;
	s->ok = 1;
	return 0;
}

PROBE_BLOCKING(probe_db, struct db_snapshot, probe_db_sql, probe_db_parse)

void probe_db_rate(struct db_snapshot *now, const struct db_snapshot *prev)
{
	double dt = difftime(now->taken, prev->taken);
	if (prev->ok && now->ok && dt > 0 && now->xact_total >= prev->xact_total)
		now->tps = (double)(now->xact_total - prev->xact_total) / dt;
}

void probe_db_judge(const struct db_snapshot *s, const struct config *cfg, struct db_judgement *j)
{
	memset(j, 0, sizeof *j);
	if (!s->ok) {
		j->overall = ST_CRITICAL;
		return;
	}
	j->conn_pct = s->max_connections ? 100.0 * s->connections / s->max_connections : 0;
	j->conn = threshold_judge(&cfg->connections, j->conn_pct);
	j->hit =
	    isnan(s->hit_ratio) ? ST_OK : threshold_judge(&cfg->buffer_hit_ratio, s->hit_ratio);
	/* Dead tuples matter relative to live ones, and not at all in tiny tables. */
	long long total = s->dead_tuples + s->live_tuples;
	j->dead_pct = total > 0 ? 100.0 * (double)s->dead_tuples / (double)total : 0;
	j->dead = total >= 1000 ? threshold_judge(&cfg->dead_tuples, j->dead_pct) : ST_OK;
	j->txn = threshold_judge(&cfg->long_txn, s->longest_txn_s);
	j->locks = threshold_judge(&cfg->waiting_locks, s->waiting_locks);
	j->overall = ST_OK;
	enum status all[] = {j->conn, j->hit, j->dead, j->txn, j->locks};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		j->overall = status_worst(j->overall, all[i]);
}
