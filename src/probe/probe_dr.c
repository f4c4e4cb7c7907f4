/* Disaster-recovery probe: replication as the primary and the standby each see it. */
#include "probe_dr.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe_int.h"
#include "target.h"

/* The walsender row is found through our slot; a standby set up without it (a managed
 * one) still shows as the first walsender. Lags are NULL while the standby is idle. */
const char probe_dr_primary_sql[] =
    "select pg_is_in_recovery(),\n"
    "  case when not pg_is_in_recovery() then pg_current_wal_lsn()::text end,\n"
    "  (select count(*) from pg_stat_replication),\n"
    "  r.application_name, r.state, r.sync_state,\n"
    "  coalesce(r.client_addr::text, case when r.pid is not null then 'local' end),\n"
    "  r.sent_lsn::text, r.replay_lsn::text,\n"
    "  case when not pg_is_in_recovery() and r.replay_lsn is not null\n"
    "    then pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint end,\n"
    "  extract(epoch from r.write_lag), extract(epoch from r.flush_lag),\n"
    "  extract(epoch from r.replay_lag),\n"
    "  s.slot_name is not null, coalesce(s.active, false),\n"
    "  case when not pg_is_in_recovery() and s.restart_lsn is not null\n"
    "    then pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint end,\n"
    "  r.pid is not null\n"
    "from (select 1) one\n"
    "left join pg_replication_slots s on s.slot_name = '" DR_SLOT "'\n"
    "left join lateral (select * from pg_stat_replication x\n"
    "  where (s.slot_name is not null and x.pid = s.active_pid) or s.slot_name is null\n"
    "  order by x.pid limit 1) r on true";

const char probe_dr_standby_sql[] =
    "select pg_is_in_recovery(),\n"
    "  pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,\n"
    "  pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint,\n"
    "  pg_last_xact_replay_timestamp()::text,\n"
    "  extract(epoch from now() - pg_last_xact_replay_timestamp()),\n"
    "  w.status, w.sender_host,\n"
    "  extract(epoch from now() - w.last_msg_receipt_time),\n"
    "  pg_wal_lsn_diff(w.latest_end_lsn, w.flushed_lsn)::bigint,\n"
    "  case when not pg_is_in_recovery() then pg_current_wal_lsn()::text end\n"
    "from (select 1) one left join pg_stat_wal_receiver w on true";

uint64_t lsn_parse(const char *s)
{
	unsigned int hi, lo;
	if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2)
		return 0;
	return ((uint64_t)hi << 32) | lo;
}

static const char *val(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col);
}

static double dnum(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? NAN : strtod(PQgetvalue(r, 0, col), NULL);
}

static long long lnum(PGresult *r, int col, long long dflt)
{
	return PQgetisnull(r, 0, col) ? dflt : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

static int tf(PGresult *r, int col)
{
	return !PQgetisnull(r, 0, col) && PQgetvalue(r, 0, col)[0] == 't';
}

#define CP(dst, src) snprintf(dst, sizeof dst, "%s", src)

int probe_dr_primary_parse(PGresult *r, struct dr_primary_snap *p)
{
	memset(p, 0, sizeof *p);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 17) {
		probe_result_error(p->error, sizeof p->error, r, "unexpected result");
		return -1;
	}
	p->in_recovery = tf(r, 0);
	CP(p->current_lsn, val(r, 1));
	p->nstandbys = (int)lnum(r, 2, 0);
	CP(p->app, val(r, 3));
	CP(p->state, val(r, 4));
	CP(p->sync_state, val(r, 5));
	CP(p->client, val(r, 6));
	CP(p->sent_lsn, val(r, 7));
	CP(p->replay_lsn, val(r, 8));
	p->lag_bytes = lnum(r, 9, -1);
	p->write_lag_s = dnum(r, 10);
	p->flush_lag_s = dnum(r, 11);
	p->replay_lag_s = dnum(r, 12);
	p->slot_exists = tf(r, 13);
	p->slot_active = tf(r, 14);
	p->slot_retained_bytes = lnum(r, 15, -1);
	p->streaming = tf(r, 16);
	p->ok = 1;
	return 0;
}

int probe_dr_standby_parse(PGresult *r, struct dr_standby_snap *s)
{
	memset(s, 0, sizeof *s);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 11) {
		probe_result_error(s->error, sizeof s->error, r, "unexpected result");
		return -1;
	}
	s->in_recovery = tf(r, 0);
	CP(s->receive_lsn, val(r, 1));
	CP(s->replay_lsn, val(r, 2));
	s->apply_gap_bytes = lnum(r, 3, 0);
	CP(s->last_replay_at, val(r, 4));
	s->replay_age_s = dnum(r, 5);
	CP(s->receiver_status, val(r, 6));
	CP(s->sender, val(r, 7));
	s->last_msg_age_s = dnum(r, 8);
	s->unreceived_bytes = lnum(r, 9, -1);
	CP(s->current_lsn, val(r, 10));
	s->ok = 1;
	return 0;
}

void probe_dr_combine(struct dr_snapshot *s)
{
	s->lag_bytes = -1;
	s->lag_s = NAN;
	if (s->p.ok && s->p.streaming) {
		s->lag_bytes = s->p.lag_bytes;
		s->lag_s = isnan(s->p.replay_lag_s) ? 0 : s->p.replay_lag_s;
	}
	if (s->p.ok && s->s.ok && s->s.in_recovery && s->p.current_lsn[0]) {
		uint64_t cur = lsn_parse(s->p.current_lsn);
		/* The standby's own replay position is fresher than the walsender's report. */
		uint64_t rep = lsn_parse(s->s.replay_lsn);
		if (rep)
			s->lag_bytes = cur > rep ? (long long)(cur - rep) : 0;
	}
}

static void one_line(char *err, size_t n, const char *msg)
{
	snprintf(err, n, "%s", msg);
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : 0;
}

PGconn *probe_dr_connect(const char *conninfo, const char *app, int timeout_s, char *err,
			 size_t errlen)
{
	char appname[128], to[16], shown[1100];
	snprintf(appname, sizeof appname, "midsops %s", app ? app : "dr");
	snprintf(to, sizeof to, "%d", timeout_s > 0 ? timeout_s : 5);
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {conninfo && *conninfo ? conninfo : NULL, appname, to, NULL};
	PGconn *c = conninfo && *conninfo ? PQconnectdbParams(keys, vals, 1)
					  : PQconnectdbParams(keys + 1, vals + 1, 0);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		char reason[600];
		one_line(reason, sizeof reason, c ? PQerrorMessage(c) : "out of memory");
		/* a parse error quotes the value it stumbled on, perhaps a password */
		conninfo_scrub(conninfo, reason, sizeof reason);
		conninfo_mask(conninfo && *conninfo ? conninfo : "(libpq environment)", shown,
			      sizeof shown);
		snprintf(err, errlen, "cannot connect to %s: %s", shown, reason);
		PQfinish(c);
		return NULL;
	}
	PQclear(PQexec(c, "set client_min_messages = warning"));
	return c;
}

PROBE_BLOCKING(probe_dr_primary, struct dr_primary_snap, probe_dr_primary_sql,
	       probe_dr_primary_parse)

PROBE_BLOCKING(probe_dr_standby, struct dr_standby_snap, probe_dr_standby_sql,
	       probe_dr_standby_parse)

int probe_dr(const char *primary_conninfo, const char *standby_conninfo, struct dr_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->taken = time(NULL);
	s->configured = standby_conninfo != NULL;
	s->p.lag_bytes = s->p.slot_retained_bytes = -1;
	s->s.unreceived_bytes = -1;
	s->p.write_lag_s = s->p.flush_lag_s = s->p.replay_lag_s = NAN;
	s->s.replay_age_s = s->s.last_msg_age_s = NAN;
	if (primary_conninfo) {
		PGconn *c = probe_dr_connect(primary_conninfo, "dr-probe", 3, s->p.error,
					     sizeof s->p.error);
		if (c) {
			probe_dr_primary(c, &s->p);
			PQfinish(c);
		}
	}
	if (standby_conninfo) {
		PGconn *c = probe_dr_connect(standby_conninfo, "dr-probe", 3, s->s.error,
					     sizeof s->s.error);
		if (c) {
			probe_dr_standby(c, &s->s);
			PQfinish(c);
		}
	}
	probe_dr_combine(s);
	return s->p.ok || s->s.ok ? 0 : -1;
}

/* A commit waiting for its synchronous standby shows as wait_event SyncRep; the wait began
 * after its statement did, so now() - query_start is the wait and a little more. */
const char probe_repl_sql[] =
    "select pg_is_in_recovery(), current_setting('synchronous_standby_names'),\n"
    "  coalesce(current_setting('" REPL_FALLBACK_GUC "', true), ''),\n"
    "  case when current_setting('max_slot_wal_keep_size') = '-1' then -1\n"
    "    else pg_size_bytes(current_setting('max_slot_wal_keep_size')) end,\n"
    "  (select count(*) from pg_stat_replication where sync_state in ('sync', 'quorum')),\n"
    "  w.n, extract(epoch from now() - w.oldest), w.pid,\n"
    "  (select rolsuper from pg_roles where rolname = current_user)\n"
    "    or pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')\n"
    "from (select count(*) as n, min(query_start) as oldest,\n"
    "        (array_agg(pid order by query_start))[1] as pid\n"
    "      from pg_stat_activity where wait_event = 'SyncRep') w";

/* inactive_since exists from PostgreSQL 17 on: read through to_jsonb so one text serves
 * every version (NULL before 17). */
const char probe_repl_slots_sql[] =
    "select slot_name, slot_type, active, coalesce(wal_status, ''), safe_wal_size,\n"
    "  case when not pg_is_in_recovery() and restart_lsn is not null\n"
    "    then pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint end as retained,\n"
    "  extract(epoch from now() - (to_jsonb(s)->>'inactive_since')::timestamptz)\n"
    "from pg_replication_slots s order by retained desc nulls last, slot_name limit 16";

static void repl_error(struct repl_health *h, PGresult *r)
{
	probe_result_error(h->error, sizeof h->error, r, "unexpected result");
}

static double rnum(PGresult *r, int row, int col, double dflt)
{
	return PQgetisnull(r, row, col) ? dflt : strtod(PQgetvalue(r, row, col), NULL);
}

int probe_repl(PGconn *c, struct repl_health *h)
{
	memset(h, 0, sizeof *h);
	PGresult *r = PQexec(c, probe_repl_sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 9) {
		repl_error(h, r);
		PQclear(r);
		return -1;
	}
	h->in_recovery = tf(r, 0);
	CP(h->sync_names, val(r, 1));
	CP(h->fallback_names, val(r, 2));
	h->max_slot_keep = lnum(r, 3, -1);
	h->sync_standbys = (int)lnum(r, 4, 0);
	h->sync_waiters = (int)lnum(r, 5, 0);
	h->sync_wait_s = h->sync_waiters ? rnum(r, 0, 6, 0) : 0;
	h->sync_wait_pid = (int)lnum(r, 7, 0);
	h->sees_all = tf(r, 8);
	PQclear(r);
	r = PQexec(c, probe_repl_slots_sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) < 7) {
		repl_error(h, r);
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < PQntuples(r) && h->nslots < REPL_MAX_SLOTS; i++) {
		struct repl_slot *sl = &h->slots[h->nslots++];
		CP(sl->name, PQgetvalue(r, i, 0));
		CP(sl->type, PQgetvalue(r, i, 1));
		sl->active = PQgetvalue(r, i, 2)[0] == 't';
		CP(sl->wal_status, PQgetvalue(r, i, 3));
		sl->safe_wal_size = (long long)rnum(r, i, 4, -1);
		sl->retained_bytes = (long long)rnum(r, i, 5, -1);
		sl->inactive_s = rnum(r, i, 6, NAN);
	}
	PQclear(r);
	h->ok = 1;
	return 0;
}

const struct repl_slot *repl_worst_inactive(const struct repl_health *h)
{
	const struct repl_slot *w = NULL;
	for (int i = 0; i < h->nslots; i++)
		if (!h->slots[i].active && (!w || h->slots[i].retained_bytes > w->retained_bytes))
			w = &h->slots[i];
	return w;
}
