/* The console's monitor: one non-blocking connection, one probe per pane per refresh,
 * reconnect with backoff, LISTEN midsops_import. One connection keeps the idle console
 * cheap (bench-console); per-probe lock and statement timeouts keep a stuck probe from
 * starving the panes queued behind it. */
#include "probe_int.h"
#include "probe_async.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cluster.h"
#include "db.h"
#include "log.h"
#include "target.h"

enum mon_state { MS_IDLE, MS_CONNECTING, MS_SETUP, MS_READY };

#define CONNECT_TIMEOUT_S 5.0
/* How long past its statement_timeout a probe may go unanswered before the connection is
 * given up: the server cancels it by then, so only a frozen server or a dead network
 * gets here. */
#define QUERY_GRACE_S 3.0
/* The event write goes through the probe queue as one more "pane". */
#define MON_EVENT MON_NPANES
/* So does the timeline view's probe, only while the view is open. */
#define MON_TIMELINE (MON_NPANES + 2)
/* The sessions view's probe, sent only while the view is on screen. */
#define MON_SESS (MON_NPANES + 1)
/* The strip's query time and :trend's backfill, after the panes' probes. */
#define MON_KPI	  (MON_NPANES + 3)
#define MON_TREND (MON_NPANES + 4)
/* The statements the first health probe does not need, prepared after it answers. */
#define MON_PREP (MON_NPANES + 5)

/* A console event's way into ops.events. */
enum ev_state { EV_PENDING, EV_SENT, EV_WRITTEN, EV_LOCAL };

struct monitor {
	char conninfo[2048];
	char shown[2048]; /* the target for log lines, password masked */
	char app[128];
	int stmt_timeout_ms, lock_timeout_ms;
	int embedded;
	PGconn *conn;
	enum mon_state state;
	PostgresPollingStatusType poll_status;
	double next_attempt; /* monotonic */
	double backoff;
	int inflight; /* pane of the query in flight (or MON_EVENT), -1 none */
	double sent_at;
	int got_result;
	unsigned pending; /* bit per pane */
	int want_write;	  /* PQflush said there is more to send */
	int paused;
	double notify_due; /* deferred NOTIFY-triggered import probe, 0 none */
	double last_notify_probe;
	struct db_snapshot prev_db;
	double connect_started;
	int size_now; /* the health probe in flight asks for the database size */
	double size_at;
	int changed;
	/* The outage being lived through: from the last answer, and why it began. */
	int outage;
	time_t outage_from;
	char outage_why[1024];
	/* Per v.local item: its way into ops.events, and failed writes. */
	enum ev_state ev[MONITOR_LOCAL_EVENTS];
	int ev_tries[MONITOR_LOCAL_EVENTS];
	int ev_inflight; /* index in v.local of the event being written, -1 none */
	int ev_hold;	 /* a write failed: no more until the next refresh */
	/* The timeline view: its window (0: closed), a probe due, and whether the wizards'
	 * tables are missing (a schema that predates them). */
	long tl_since;
	int tl_pending, tl_nowiz;
	/* The host sampler: the directories' config, and the previous CPU ticks. */
	const struct config *host_cfg;
	unsigned long long cpu_busy, cpu_total;
	int sess_on, sess_all, sess_pending; /* the sessions view's probe (monitor_sessions) */
	double kpi_at;			     /* when the query-time probe was last queued */
	int kpi_pending, bf_pending;
	int prep_rest; /* the light health and cache statements are not prepared yet */
	struct monitor_view v;
};

/* The health query: the columns of probe_db_sql (so probe_db_parse reads it), computed
 * in one pass over each statistics source instead of one subquery per figure, because
 * the console sends it every second: per-table counters come from the pg_stat_get_*
 * functions rather than the pg_stat_user_tables view, which computes twenty figures per
 * table. The extras follow as columns 19... ops.backups belongs to the backup family;
 * it is read through to_jsonb inside query_to_xml, which plans it only when it exists, so
 * neither its absence nor its exact columns can break the query. */
static const char health_fmt[] =
    "/* midsops console: health */ with\n"
    "t as materialized (select n.nspname || '.' || c.relname as name,\n"
    "    pg_stat_get_dead_tuples(c.oid) as dead, pg_stat_get_live_tuples(c.oid) as "
    "live\n"
    "  from pg_class c join pg_namespace n on n.oid = c.relnamespace\n"
    "  where c.relkind in ('r', 'm', 'p') and n.nspname not in ('pg_catalog',\n"
    "    'information_schema') and n.nspname !~ '^pg_toast'),\n"
    "a as materialized (select pid, backend_type, xact_start, query, wait_event, query_start\n"
    "  from pg_stat_activity),\n"
    "l as materialized (select pid, extract(epoch from now() - xact_start) as age,\n"
    "    left(query, 200) as query from a where xact_start is not null\n"
    "    and pid <> pg_backend_pid() and backend_type = 'client backend'\n"
    "  order by xact_start limit 1),\n"
    "d as materialized (select sum(blks_hit) as hit, sum(blks_read) as rd,\n"
    "    sum(xact_commit + xact_rollback) as xacts from pg_stat_database),\n"
    "k as materialized (select pid from pg_locks where not granted)\n"
    "select version(),\n"
    "  current_setting('server_version_num')::int,\n"
    "  extract(epoch from now() - pg_postmaster_start_time()),\n"
    "  %s,\n"
    "  (select count(*) from a where backend_type = 'client backend'),\n"
    "  current_setting('max_connections')::int,\n"
    "  (select case when hit + rd > 0 then 100.0 * hit / (hit + rd) end from d),\n"
    "  (select xacts from d),\n"
    "  (select coalesce(sum(dead), 0) from t),\n"
    "  (select coalesce(sum(live), 0) from t),\n"
    "  (select array_agg(name || '|' || dead || '|' || live order by dead desc)\n"
    "     from (select * from t where dead > 0 order by dead desc limit 5) t5),\n"
    "  (select age from l), (select pid from l), (select query from l),\n"
    "  (select count(*) from k),\n"
    "  pg_is_in_recovery(),\n"
    "  case when pg_is_in_recovery() then\n"
    "    extract(epoch from now() - pg_last_xact_replay_timestamp()) end,\n"
    "  (select count(*) from pg_stat_replication),\n"
    "  (select max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint\n"
    "     from pg_stat_replication where not pg_is_in_recovery()),\n"
    "  to_regclass('ops.backups') is not null,\n"
    "  " PROBE_BACKUP_AGE_SQL ",\n"
    "  case when to_regclass('ops.backups') is not null then (xpath('/row/v/text()',\n"
    "    query_to_xml('select string_agg(to_jsonb(b)->>''id'', '','') as v from\n"
    "      (select * from ops.backups order by 1 desc limit 20) b', false, true, "
    "'')))[1]::text end,\n"
    "  " PROBE_WAL_AGE_SQL ",\n"
    "  (select archived_count from pg_stat_archiver),\n"
    "  (select failed_count from pg_stat_archiver),\n"
    "  to_regclass('ops.import_runs') is not null,\n"
    "  to_regclass('ops.import_errors') is not null,\n"
    "  to_regclass('ops.events') is not null,\n"
    "  to_regclass('cache.entries') is not null,\n"
    "  (select count(distinct pid) from k), (select min(pid) from k),\n"
    /* commits waiting for a synchronous standby, and the abandoned slot holding the most
     * WAL as name|bytes|wal_status (status_repl.c judges both the same way) */
    "  (select count(*) from a where wait_event = 'SyncRep'),\n"
    "  (select extract(epoch from now() - min(query_start)) from a where wait_event = 'SyncRep'),\n"
    "  current_setting('synchronous_standby_names'),\n"
    "  coalesce(current_setting('midsops.fallback_standby_names', true), ''),\n"
    "  (select slot_name || '|' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)\n"
    "     ::bigint::text, '') || '|' || coalesce(wal_status, '') from pg_replication_slots\n"
    "   where not active and not pg_is_in_recovery()\n"
    "   order by pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) desc nulls last limit 1),\n"
    /* the open incident, if the table exists: id|severity|age s|response time s|responded|title */
    "  case when to_regclass('ops.incidents') is not null then (xpath('/row/v/text()',\n"
    /* always one row (xpath cannot parse the empty document of none) */
    "    query_to_xml('select (select id || ''|'' || severity || ''|'' ||\n"
    "      extract(epoch from now() - opened_at)::bigint || ''|'' ||\n"
    "      extract(epoch from respond_by - opened_at)::bigint || ''|'' ||\n"
    "      (responded_at is not null) || ''|'' || title\n"
    "      from ops.incidents where closed_at is null limit 1) as v', false, true, '')))[1]::text\n"
    "  end";

const char *probe_health_sql(void)
{
	return probe_health_sql_variant(1);
}

/* pg_database_size stats every file of the database (12 ms under load on the real data,
 * over the 5 ms a probe may take), so the pane shows the planner's estimate from pg_class
 * instead, labelled as one; db-check and status keep the exact figure. It changes slowly,
 * so the console still asks for it only now and then. */
const char *probe_health_sql_variant(int with_size)
{
	static struct strbuf full, lite;
	if (!full.len) {
		strbuf_addf(&full, health_fmt,
			    "(select sum(relpages)::bigint * current_setting('block_size')::bigint"
			    " from pg_class where relkind in ('r', 'i', 't', 'm'))");
		strbuf_addf(&lite, health_fmt, "null::bigint");
	}
	return with_size ? full.s : lite.s;
}

/* query_to_xml's text is XML: the title comes back with its entities. */
static void xml_unescape(char *s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
	    {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	char *w = s;
	for (const char *p = s; *p;) {
		size_t i, n = sizeof ents / sizeof ents[0];
		for (i = 0; i < n; i++)
			if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
				break;
		if (i < n) {
			*w++ = ents[i].c;
			p += strlen(ents[i].ent);
		} else
			*w++ = *p++;
	}
	*w = 0;
}

static void parse_incident(const char *v, struct health_extra *x)
{
	char sev[8] = "", yes[8] = "";
	int at = 0;
	if (sscanf(v, "%lld|%7[^|]|%lf|%lf|%7[^|]|%n", &x->incident_id, sev, &x->incident_age_s,
		   &x->incident_respond_s, yes, &at) < 5 ||
	    !at) {
		x->incident_id = 0;
		return;
	}
	snprintf(x->incident_severity, sizeof x->incident_severity, "%.3s", sev);
	x->incident_responded = yes[0] == 't';
	snprintf(x->incident_title, sizeof x->incident_title, "%s", v + at);
	xml_unescape(x->incident_title);
}

int probe_health_parse(PGresult *r, struct health_extra *x)
{
	memset(x, 0, sizeof *x);
	x->backup_age_s = x->wal_age_s = NAN;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 29)
		return -1;
	x->backups_present = PQgetvalue(r, 0, 19)[0] == 't';
	if (!PQgetisnull(r, 0, 20))
		x->backup_age_s = strtod(PQgetvalue(r, 0, 20), NULL);
	if (!PQgetisnull(r, 0, 21)) {
		const char *p = PQgetvalue(r, 0, 21);
		while (*p && x->nbackup_ids < PROBE_BACKUP_IDS) {
			size_t n = strcspn(p, ",");
			snprintf(x->backup_ids[x->nbackup_ids++], sizeof x->backup_ids[0], "%.*s",
				 (int)n, p);
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if (!PQgetisnull(r, 0, 22))
		x->wal_age_s = strtod(PQgetvalue(r, 0, 22), NULL);
	x->wal_archived = PQgetisnull(r, 0, 23) ? 0 : atoll(PQgetvalue(r, 0, 23));
	x->wal_failed = PQgetisnull(r, 0, 24) ? 0 : atoll(PQgetvalue(r, 0, 24));
	x->has_import_runs = PQgetvalue(r, 0, 25)[0] == 't';
	x->has_import_errors = PQgetvalue(r, 0, 26)[0] == 't';
	x->has_events = PQgetvalue(r, 0, 27)[0] == 't';
	x->has_cache = PQgetvalue(r, 0, 28)[0] == 't';
	/* Columns 29 and 30 are the lock waits (take_result); then replication. */
	x->slot_bytes = -1;
	if (PQnfields(r) > 35) {
		x->sync_waiters = atoi(PQgetvalue(r, 0, 31));
		x->sync_wait_s = PQgetisnull(r, 0, 32) ? 0 : strtod(PQgetvalue(r, 0, 32), NULL);
		snprintf(x->sync_names, sizeof x->sync_names, "%s", PQgetvalue(r, 0, 33));
		snprintf(x->fallback_names, sizeof x->fallback_names, "%s", PQgetvalue(r, 0, 34));
		const char *sl = PQgetvalue(r, 0, 35);
		size_t n = strcspn(sl, "|");
		if (!PQgetisnull(r, 0, 35) && sl[n] == '|') {
			snprintf(x->slot, sizeof x->slot, "%.*s", (int)n, sl);
			sl += n + 1;
			n = strcspn(sl, "|");
			x->slot_bytes = n ? strtoll(sl, NULL, 10) : -1;
			snprintf(x->slot_wal_status, sizeof x->slot_wal_status, "%s",
				 sl[n] == '|' ? sl + n + 1 : "");
		}
	}
	if (PQnfields(r) > 36 && !PQgetisnull(r, 0, 36))
		parse_incident(PQgetvalue(r, 0, 36), x);
	return 0;
}

struct monitor *monitor_new(const char *conninfo, const char *app, int statement_timeout_ms)
{
	struct monitor *m = xcalloc(1, sizeof *m);
	snprintf(m->conninfo, sizeof m->conninfo, "%s", conninfo ? conninfo : "");
	if (m->conninfo[0])
		conninfo_mask(m->conninfo, m->shown, sizeof m->shown);
	else
		snprintf(m->shown, sizeof m->shown, "the libpq environment's database");
	snprintf(m->app, sizeof m->app, "midsops %s", app ? app : "console");
	m->stmt_timeout_ms =
	    statement_timeout_ms > 0 ? statement_timeout_ms : MONITOR_STATEMENT_TIMEOUT_MS;
	m->lock_timeout_ms = MONITOR_LOCK_TIMEOUT_MS < m->stmt_timeout_ms ? MONITOR_LOCK_TIMEOUT_MS
									  : m->stmt_timeout_ms / 2;
	m->inflight = -1;
	m->ev_inflight = -1;
	m->next_attempt = util_mono();
	m->backoff = 0.25;
	m->prev_db.ok = 0;
	return m;
}

void monitor_free(struct monitor *m)
{
	if (!m)
		return;
	if (m->conn)
		PQfinish(m->conn);
	probe_timeline_free(&m->v.tl);
	free(m);
}

void monitor_set_embedded(struct monitor *m, int embedded)
{
	m->embedded = embedded;
}

static void mark_all_stale(struct monitor *m)
{
	for (int p = 0; p < MON_NPANES; p++)
		m->v.stale[p] = m->v.have[p];
	m->v.tl_stale = m->v.tl_have;
	m->v.sess_stale = m->v.sess_have;
}

/* libpq's messages run over several lines ("...failed: No such file or directory\n\tIs the
 * server running locally..."): one line, blanks collapsed, so the banner can wrap it. */
static void one_line(char *dst, size_t n, const char *src)
{
	size_t o = 0;
	int blank = 1;
	for (const char *p = src; *p && o + 1 < n; p++) {
		if (isspace((unsigned char)*p)) {
			if (!blank)
				dst[o++] = ' ';
			blank = 1;
			continue;
		}
		dst[o++] = *p;
		blank = 0;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = 0;
}

static void clock_of(char *buf, size_t n, time_t when)
{
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(buf, n, "%H:%M:%S", &tm);
}

static void span_of(char *buf, size_t n, double s)
{
	long v = s < 0 ? 0 : (long)(s + 0.5);
	if (v < 60)
		snprintf(buf, n, "%lds", v);
	else if (v < 3600)
		snprintf(buf, n, "%ldm%02lds", v / 60, v % 60);
	else
		snprintf(buf, n, "%ldh%02ldm", v / 3600, v / 60 % 60);
}

/* A console event: logged now, shown in the errors pane at once, and written to
 * ops.events by this monitor once the server is back (never by the console's panes). */
static void add_event(struct monitor *m, time_t at, const char *level, const char *msg)
{
	struct monitor_view *v = &m->v;
	if (v->nlocal == MONITOR_LOCAL_EVENTS) {
		/* Full: the oldest goes, so the newest outage is always the one shown. */
		v->nlocal--;
		if (m->ev_inflight == v->nlocal)
			m->ev_inflight = -1;
	}
	memmove(v->local + 1, v->local, sizeof v->local[0] * (size_t)v->nlocal);
	memmove(m->ev + 1, m->ev, sizeof m->ev[0] * (size_t)v->nlocal);
	memmove(m->ev_tries + 1, m->ev_tries, sizeof m->ev_tries[0] * (size_t)v->nlocal);
	if (m->ev_inflight >= 0)
		m->ev_inflight++;
	v->nlocal++;
	struct error_item *e = &v->local[0];
	memset(e, 0, sizeof *e);
	snprintf(e->source, sizeof e->source, "console");
	snprintf(e->kind, sizeof e->kind, "event");
	e->at = (double)at;
	snprintf(e->level, sizeof e->level, "%s", level);
	snprintf(e->message, sizeof e->message, "%s", msg);
	m->ev[0] = EV_PENDING;
	m->ev_tries[0] = 0;
	m->changed = 1;
}

/* The first failure after a good connection (or of the first attempt) begins an outage;
 * the attempts after it only update the reason shown. */
static void begin_outage(struct monitor *m, int was_connected)
{
	char hm[16], msg[1400];
	m->outage = 1;
	m->outage_from = m->v.disconnected_since;
	snprintf(m->outage_why, sizeof m->outage_why, "%s", m->v.conn_error);
	m->v.outages++;
	clock_of(hm, sizeof hm, m->outage_from);
	if (was_connected)
		snprintf(msg, sizeof msg,
			 "lost the connection (last answer from the server at %s): %s", hm,
			 m->outage_why);
	else
		snprintf(msg, sizeof msg, "cannot connect (since %s): %s", hm, m->outage_why);
	log_event("error", NULL, "%s: %s", m->shown, msg);
	add_event(m, m->outage_from, "error", msg);
}

static void end_outage(struct monitor *m)
{
	char from[16], to[16], span[32], msg[512];
	time_t now = time(NULL);
	clock_of(from, sizeof from, m->outage_from);
	clock_of(to, sizeof to, now);
	span_of(span, sizeof span, difftime(now, m->outage_from));
	snprintf(msg, sizeof msg,
		 "connected again after an outage of %s (from %s to %s, %d failed attempt%s)", span,
		 from, to, m->v.attempts, m->v.attempts == 1 ? "" : "s");
	log_event("info", NULL, "%s: %s", m->shown, msg);
	/* A warning, not info: the errors pane lists warnings and above, and the outage is
	 * what an operator looking back needs to find. */
	add_event(m, now, "warning", msg);
	m->outage = 0;
}

static void drop_connection(struct monitor *m, const char *why)
{
	if ((!why || !*why) && m->conn)
		why = PQerrorMessage(m->conn);
	one_line(m->v.conn_error, sizeof m->v.conn_error, why && *why ? why : "connection lost");
	if (m->conn) {
		PQfinish(m->conn);
		m->conn = NULL;
	}
	/* Dated from the last answer: a frozen server is noticed only a budget later, but
	 * its outage began when it stopped answering. */
	int was = m->v.connected;
	time_t now = time(NULL);
	if (was)
		m->v.disconnected_since = m->v.last_answer ? m->v.last_answer : now;
	else if (!m->v.disconnected_since)
		m->v.disconnected_since = now;
	m->v.connected = 0;
	m->v.silent = 0;
	m->v.silent_s = 0;
	m->ev_inflight = -1;
	for (int i = 0; i < m->v.nlocal; i++)
		if (m->ev[i] == EV_SENT)
			m->ev[i] = EV_PENDING;
	if (!m->outage)
		begin_outage(m, was);
	m->v.attempts++;
	m->state = MS_IDLE;
	if (m->inflight == MON_TREND)
		m->bf_pending = 1; /* asked for again once the server is back */
	m->kpi_pending = 0;
	m->inflight = -1;
	m->want_write = 0;
	m->pending = 0;
	m->tl_pending = 0;
	m->sess_pending = 0;
	m->next_attempt = util_mono() + m->backoff;
	/* Short first retries so a restarted server is seen at once; capped so the retry
	 * line never promises long waits. */
	m->backoff = m->backoff * 2 > 2.0 ? 2.0 : m->backoff * 2;
	mark_all_stale(m);
	m->changed = 1;
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void start_connect(struct monitor *m)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {m->conninfo, m->app, "5", NULL};
	m->conn = m->conninfo[0] ? PQconnectStartParams(keys, vals, 1)
				 : PQconnectStartParams(keys + 1, vals + 1, 0);
	if (!m->conn || PQstatus(m->conn) == CONNECTION_BAD) {
		drop_connection(m, m->conn ? NULL : "out of memory");
		return;
	}
	/* libpq's default prints notices on stderr, which is the console's screen. */
	PQsetNoticeProcessor(m->conn, quiet_notice, NULL);
	m->state = MS_CONNECTING;
	m->poll_status = PGRES_POLLING_WRITING;
	m->connect_started = util_mono();
}

static void send_setup(struct monitor *m)
{
	/* Every probe has its own lock_timeout and statement_timeout: a probe stuck behind a
	 * lock (an ALTER or LOCK TABLE on the one table it reads) is cancelled within a
	 * fraction of a second, so it makes only its own pane stale and the probes queued
	 * behind it on this connection stay on time. LISTEN makes import progress live
	 * between refreshes. */
	/* The health and cache probes read the statistics views, whose planning costs more
	 * than their execution: prepared once per connection, each refresh only executes
	 * them. They name optional tables only inside query_to_xml, so preparing never fails.
	 * Only the full health statement is prepared here: the first frame waits for its
	 * answer, and the light one and the cache's (send_prep_rest) after it. */
	/* First the switch to midsops's own role (db.c), so that the probes are never taken
	 * for the web workload whose statements they judge. */
	struct strbuf sql = {0};
	strbuf_addf(&sql,
		    "%s; set statement_timeout = %d; set lock_timeout = %d; "
		    "set client_min_messages = warning; "
		    "set application_name = '%s'; listen midsops_import; listen midsops_backup; "
		    "prepare midsops_console_health as %s",
		    db_own_role_sql(), m->stmt_timeout_ms, m->lock_timeout_ms, "midsops console",
		    probe_health_sql_variant(1));
	PQsetnonblocking(m->conn, 1);
	int sent = PQsendQuery(m->conn, sql.s);
	strbuf_free(&sql);
	if (!sent) {
		drop_connection(m, NULL);
		return;
	}
	m->state = MS_SETUP;
	m->prep_rest = 1;
	m->want_write = PQflush(m->conn) == 1;
}

/* The rest of the setup, once the connection's first health probe has answered and before
 * any other probe: the light health statement and the cache's. 1 sent, -1 connection
 * lost. */
static int send_prep_rest(struct monitor *m)
{
	struct strbuf sql = {0};
	strbuf_addf(&sql,
		    "prepare midsops_console_health_lite as %s; "
		    "prepare midsops_console_cache as %s",
		    probe_health_sql_variant(0), probe_console_cache_sql());
	int sent = PQsendQuery(m->conn, sql.s);
	strbuf_free(&sql);
	if (!sent) {
		drop_connection(m, NULL);
		return -1;
	}
	m->prep_rest = 0;
	m->inflight = MON_PREP;
	m->got_result = 0;
	m->sent_at = util_mono();
	m->want_write = PQflush(m->conn) == 1;
	return 1;
}

static const char *pane_sql(struct monitor *m, int pane)
{
	switch (pane) {
	case MON_HEALTH:
		return probe_health_sql();
	case MON_IMPORT:
		return m->v.hx.has_import_runs ? probe_import_sql(1) : NULL;
	case MON_CACHE:
		return probe_console_cache_sql();
	case MON_ERRORS:
		return (m->v.hx.has_events || m->v.hx.has_import_errors)
			   ? probe_errors_sql(m->v.hx.has_events, m->v.hx.has_import_errors)
			   : NULL;
	}
	return NULL;
}

/* A pane whose table is absent needs no round trip: its snapshot says so. */
static void fill_absent(struct monitor *m, int pane)
{
	if (pane == MON_IMPORT) {
		memset(&m->v.imp, 0, sizeof m->v.imp);
		m->v.imp.ok = 1;
		m->v.imp.taken = time(NULL);
	} else {
		memset(&m->v.errs, 0, sizeof m->v.errs);
		m->v.errs.ok = 1;
		m->v.errs.taken = time(NULL);
	}
	m->v.have[pane] = 1;
	m->v.stale[pane] = 0;
	m->v.as_of[pane] = time(NULL);
	m->v.perr[pane][0] = 0;
	m->changed = 1;
}

/* The full health probe (with the database size) every 30 s, the light one between; the
 * full one also first on each connection, where the light one is not prepared yet. */
static const char *health_stmt(struct monitor *m)
{
	double now = util_mono();
	m->size_now = !m->v.have[MON_HEALTH] || m->prep_rest || now - m->size_at >= 30;
	if (m->size_now)
		m->size_at = now;
	return m->size_now ? "midsops_console_health" : "midsops_console_health_lite";
}

/* The oldest console event not yet written, or -1. */
static int next_event(const struct monitor *m)
{
	for (int i = m->v.nlocal - 1; i >= 0; i--)
		if (m->ev[i] == EV_PENDING)
			return i;
	return -1;
}

/* Send one console event to ops.events: 1 sent, 0 nothing to send, -1 connection lost. */
static int send_event(struct monitor *m)
{
	int i = next_event(m);
	if (i < 0 || m->ev_hold)
		return 0;
	if (!m->v.hx.has_events) {
		/* No journal in this database (its schema was never set up): the events stay
		 * in the errors pane and the log. */
		for (int k = 0; k < m->v.nlocal; k++)
			if (m->ev[k] == EV_PENDING)
				m->ev[k] = EV_LOCAL;
		return 0;
	}
	const struct error_item *e = &m->v.local[i];
	char at[32], host[256] = "", pid[32];
	snprintf(at, sizeof at, "%.0f", e->at);
	gethostname(host, sizeof host - 1);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	const char *params[] = {at, e->level, e->message, host, pid};
	/* The same row db_event writes, dated when it happened rather than when the server
	 * came back. */
	if (!PQsendQueryParams(m->conn,
			       "/* midsops console: event */ insert into ops.events(at, level, "
			       "source, message, host, pid) values (to_timestamp($1::float8), $2, "
			       "'console', $3, $4, $5::int)",
			       5, NULL, params, NULL, NULL, 0)) {
		drop_connection(m, NULL);
		return -1;
	}
	m->ev[i] = EV_SENT;
	m->ev_inflight = i;
	m->inflight = MON_EVENT;
	m->got_result = 0;
	m->sent_at = util_mono();
	m->want_write = PQflush(m->conn) == 1;
	return 1;
}

static void take_event_result(struct monitor *m, PGresult *r)
{
	int i = m->ev_inflight;
	m->ev_inflight = -1;
	if (i < 0 || i >= m->v.nlocal)
		return;
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		m->ev[i] = EV_WRITTEN;
		return;
	}
	/* Locked or refused: again at the next refresh, a few times, then only the pane and
	 * the log keep it. */
	if (++m->ev_tries[i] >= 3) {
		char why[512];
		one_line(why, sizeof why, PQresultErrorMessage(r));
		log_event("warning", NULL, "cannot record an event in ops.events: %s", why);
		m->ev[i] = EV_LOCAL;
	} else
		m->ev[i] = EV_PENDING;
	m->ev_hold = 1;
}

/* A snapshot of ops.events taken after an event was written holds it: the pane's own
 * copy goes. */
static void drop_written_events(struct monitor *m)
{
	int o = 0;
	for (int i = 0; i < m->v.nlocal; i++) {
		if (m->ev[i] == EV_WRITTEN)
			continue;
		if (o != i) {
			m->v.local[o] = m->v.local[i];
			m->ev[o] = m->ev[i];
			m->ev_tries[o] = m->ev_tries[i];
			if (m->ev_inflight == i)
				m->ev_inflight = o;
		}
		o++;
	}
	m->v.nlocal = o;
}

static void probe_failure(struct monitor *m, PGresult *r, char *perr, size_t n);

/* The timeline view's probe: 1 sent (or answered without a round trip), -1 connection
 * lost. */
static int send_timeline(struct monitor *m)
{
	m->tl_pending = 0;
	if (!m->v.hx.has_events) {
		/* No journal in this database: the console's own events are the timeline. */
		probe_timeline_free(&m->v.tl);
		m->v.tl.ok = 1;
		m->v.tl_have = 1;
		m->v.tl_stale = 0;
		m->v.tl_as_of = time(NULL);
		m->v.tl_err[0] = 0;
		m->changed = 1;
		return 1;
	}
	char secs[32], lim[32];
	snprintf(secs, sizeof secs, "%ld", m->tl_since);
	snprintf(lim, sizeof lim, "%d", TIMELINE_CONSOLE_MAX);
	const char *params[] = {secs, lim};
	if (!PQsendQueryParams(m->conn, probe_timeline_sql(!m->tl_nowiz), 2, NULL, params, NULL,
			       NULL, 0)) {
		drop_connection(m, NULL);
		return -1;
	}
	m->inflight = MON_TIMELINE;
	m->got_result = 0;
	m->sent_at = util_mono();
	m->v.tl_stats.queries++;
	m->want_write = PQflush(m->conn) == 1;
	return 1;
}

/* The sessions probe: its one parameter says every database or the target's. */
static int send_sessions(struct monitor *m)
{
	const char *params[] = {m->sess_all ? "true" : "false"};
	m->sess_pending = 0;
	if (!PQsendQueryParams(m->conn, probe_sessions_sql(), 1, NULL, params, NULL, NULL, 0)) {
		drop_connection(m, NULL);
		return -1;
	}
	m->inflight = MON_SESS;
	m->got_result = 0;
	m->sent_at = util_mono();
	m->v.sess_stats.queries++;
	m->want_write = PQflush(m->conn) == 1;
	return 1;
}

static void take_timeline_result(struct monitor *m, PGresult *r)
{
	struct monitor_view *v = &m->v;
	if (probe_timeline_parse(r, &v->tl) == 0) {
		v->tl_have = 1;
		v->tl_stale = 0;
		v->tl_as_of = time(NULL);
		v->tl_err[0] = 0;
	} else if (strcmp(v->tl.sqlstate, "42P01") == 0 && !m->tl_nowiz) {
		/* undefined_table: the wizards' tables are not there; ops.events alone */
		m->tl_nowiz = 1;
		m->tl_pending = m->tl_since > 0;
	} else {
		snprintf(v->tl_err, sizeof v->tl_err, "%s", v->tl.error);
		probe_failure(m, r, v->tl_err, sizeof v->tl_err);
		v->tl_stale = v->tl_have;
	}
	m->changed = 1;
}

static void take_sessions(struct monitor *m, PGresult *r)
{
	static struct sessions_snapshot s;
	struct monitor_view *v = &m->v;
	if (probe_sessions_parse(r, &s) == 0) {
		v->sess = s;
		v->sess_have = 1;
		v->sess_stale = 0;
		v->sess_as_of = time(NULL);
		v->sess_err[0] = 0;
	} else {
		snprintf(v->sess_err, sizeof v->sess_err, "%s", s.error);
		probe_failure(m, r, v->sess_err, sizeof v->sess_err);
		v->sess_stale = v->sess_have;
	}
	m->changed = 1;
}

/* A probe of the strip (the query time) or of :trend (the backfill) with its parameters. */
static int send_kpi(struct monitor *m, int which)
{
	char win[32], step[32];
	snprintf(win, sizeof win, "%.0f", m->v.bf_window);
	/* about two buckets a column of the widest screen, whatever the window */
	snprintf(step, sizeof step, "%.0f", m->v.bf_window / 240 < 1 ? 1 : m->v.bf_window / 240);
	const char *params[] = {win, step};
	int ok = which == MON_KPI ? PQsendQuery(m->conn, probe_kpi_query_sql())
				  : PQsendQueryParams(m->conn, probe_trend_sql(), 2, NULL, params,
						      NULL, NULL, 0);
	if (which == MON_KPI)
		m->kpi_pending = 0;
	else
		m->bf_pending = 0;
	if (!ok) {
		drop_connection(m, NULL);
		return -1;
	}
	m->inflight = which;
	m->got_result = 0;
	m->sent_at = util_mono();
	if (which == MON_KPI)
		m->v.kpi_stats.queries++;
	m->want_write = PQflush(m->conn) == 1;
	return 1;
}

/* The on-demand probes, after the panes': the sessions and timeline views', the strip's
 * query time and :trend's backfill. 1 sent, 0 none due, -1 connection lost. */
static int send_extra(struct monitor *m)
{
	if (!m->v.have[MON_HEALTH])
		return 0;
	if (m->sess_pending)
		return send_sessions(m);
	if (m->tl_pending)
		return send_timeline(m);
	if (m->kpi_pending)
		return send_kpi(m, MON_KPI);
	if (m->bf_pending)
		return send_kpi(m, MON_TREND);
	return 0;
}

static void take_kpi(struct monitor *m, int which, PGresult *r)
{
	struct monitor_view *v = &m->v;
	if (which == MON_KPI) {
		struct kpi_query q;
		if (probe_kpi_query_parse(r, &q) == 0)
			v->kpi_q = q;
	} else {
		v->bf_busy = 0;
		if (probe_trend_parse(r, &v->trend_bf, v->bf_err, sizeof v->bf_err) == 0) {
			v->bf_have = 1;
			v->bf_err[0] = 0;
			v->bf_as_of = time(NULL);
		}
	}
	m->changed = 1;
}

/* One sample of each trend, as the health snapshot arrives: the import and cache figures
 * are those of the probes just before it. */
static void trend_sample(struct monitor_view *v)
{
	double x[TR_N];
	const struct db_snapshot *d = &v->db;
	x[TR_TPS] = d->tps;
	x[TR_CONN] = d->connections;
	x[TR_BUFHIT] = d->hit_ratio;
	x[TR_APIHIT] = v->have[MON_CACHE] && v->cache.installed ? v->cache.hit_rate : NAN;
	x[TR_IMPORT] =
	    !v->have[MON_IMPORT] || !v->imp.present ? NAN
	    : v->imp.has_run && strcmp(v->imp.state, "running") == 0 && !isnan(v->imp.rate)
		? v->imp.rate
		: 0;
	v->trend.lag_bytes = !d->in_recovery;
	x[TR_LAG] = d->in_recovery     ? d->replay_lag_s
		    : d->nreplicas > 0 ? (double)d->max_replica_lag_bytes
				       : NAN;
	x[TR_WAL] = v->hx.wal_age_s;
	x[TR_BACKUP] = v->hx.backup_age_s;
	trend_push(&v->trend, (double)d->taken, x);
}

static void send_next(struct monitor *m)
{
	while (m->state == MS_READY && m->inflight < 0) {
		/* A new connection's health probe goes first (the lowest bit); once it has
		 * answered, the rest of the setup before any other probe. */
		if (m->prep_rest && !(m->pending & 1u)) {
			if (send_prep_rest(m) < 0)
				return;
			continue;
		}
		/* Console events go first once the health probe has said whether ops.events
		 * exists, so that the errors probe of the same round reads them back. */
		if (m->v.have[MON_HEALTH] && !(m->pending & 1u) && next_event(m) >= 0 &&
		    !m->ev_hold) {
			int rc = send_event(m);
			if (rc < 0)
				return;
			continue;
		}
		if (!m->pending) {
			int rc = send_extra(m);
			if (rc < 0)
				return;
			if (rc == 0)
				break;
			continue;
		}
		int pane = 0;
		while (!(m->pending & (1u << pane)))
			pane++;
		m->pending &= ~(1u << pane);
		/* The other panes choose their query from the health probe's table flags. */
		if (pane != MON_HEALTH && !m->v.have[MON_HEALTH]) {
			m->pending |= 1u << pane;
			if (!(m->pending & 1u))
				m->pending |= 1u;
			continue;
		}
		const char *sql = pane_sql(m, pane);
		if (!sql) {
			fill_absent(m, pane);
			continue;
		}
		int sent =
		    pane == MON_HEALTH
			? PQsendQueryPrepared(m->conn, health_stmt(m), 0, NULL, NULL, NULL, 0)
		    : pane == MON_CACHE ? PQsendQueryPrepared(m->conn, "midsops_console_cache", 0,
							      NULL, NULL, NULL, 0)
					: PQsendQuery(m->conn, sql);
		if (!sent) {
			drop_connection(m, NULL);
			return;
		}
		m->inflight = pane;
		m->got_result = 0;
		m->sent_at = util_mono();
		m->v.stats[pane].queries++;
		m->want_write = PQflush(m->conn) == 1;
	}
}

static void record_time(struct mon_stats *st, double ms)
{
	st->last_ms = ms;
	if (ms > st->max_ms)
		st->max_ms = ms;
	st->samples[st->nsamples % 64] = ms;
	st->nsamples++;
}

/* Why a probe failed, in the operator's terms where the server's are cryptic. */
static void probe_failure(struct monitor *m, PGresult *r, char *perr, size_t n)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (!state)
		return;
	if (strcmp(state, "55P03") == 0)
		snprintf(perr, n, "locked by another session (lock_timeout %d ms)",
			 m->lock_timeout_ms);
	else if (strcmp(state, "57014") == 0)
		snprintf(perr, n, "too slow (statement_timeout %d ms)", m->stmt_timeout_ms);
}

static void take_result(struct monitor *m, PGresult *r)
{
	int pane = m->inflight;
	if (pane == MON_EVENT) {
		take_event_result(m, r);
		return;
	}
	if (pane == MON_TIMELINE) {
		take_timeline_result(m, r);
		return;
	}
	if (pane == MON_SESS) {
		take_sessions(m, r);
		return;
	}
	if (pane == MON_KPI || pane == MON_TREND) {
		take_kpi(m, pane, r);
		return;
	}
	struct monitor_view *v = &m->v;
	int rc = 0;
	char *perr = v->perr[pane];
	switch (pane) {
	case MON_HEALTH: {
		struct db_snapshot s;
		rc = probe_db_parse(r, &s);
		if (rc == 0) {
			if (!m->size_now)
				s.db_size = m->prev_db.db_size;
			probe_db_rate(&s, &m->prev_db);
			m->prev_db = s;
			v->db = s;
			probe_health_parse(r, &v->hx);
			/* Columns after the extras: who waits for a lock. */
			int nf = PQnfields(r);
			v->blocked_sessions =
			    nf > 29 && !PQgetisnull(r, 0, 29) ? atoi(PQgetvalue(r, 0, 29)) : 0;
			v->blocked_pid =
			    nf > 30 && !PQgetisnull(r, 0, 30) ? atoi(PQgetvalue(r, 0, 30)) : 0;
			trend_sample(v);
		} else
			snprintf(perr, 256, "%.255s", s.error);
		break;
	}
	case MON_IMPORT: {
		struct import_snapshot s;
		rc = probe_import_parse(r, &s);
		if (rc == 0)
			v->imp = s;
		else
			snprintf(perr, 256, "%s", s.error);
		break;
	}
	case MON_CACHE: {
		static struct console_cache_snapshot s;
		rc = probe_console_cache_parse(r, &s);
		if (rc == 0)
			v->cache = s;
		else
			snprintf(perr, 256, "%s", s.error);
		break;
	}
	case MON_ERRORS: {
		static struct errors_snapshot s;
		rc = probe_errors_parse(r, &s);
		if (rc == 0) {
			v->errs = s;
			drop_written_events(m);
		} else
			snprintf(perr, 256, "%s", s.error);
		break;
	}
	}
	if (rc == 0) {
		v->have[pane] = 1;
		v->stale[pane] = 0;
		v->as_of[pane] = time(NULL);
		perr[0] = 0;
	} else {
		probe_failure(m, r, perr, 256);
		v->stale[pane] = v->have[pane];
	}
	m->changed = 1;
}

static void read_results(struct monitor *m)
{
	while (m->conn && !PQisBusy(m->conn)) {
		PGresult *r = PQgetResult(m->conn);
		if (!r) {
			/* The query is complete. */
			if (m->state == MS_SETUP) {
				m->state = MS_READY;
				m->v.connected = 1;
				m->v.ever_connected = 1;
				m->v.connected_since = time(NULL);
				m->v.last_answer = m->v.connected_since;
				if (m->outage)
					end_outage(m);
				m->v.disconnected_since = 0;
				m->v.attempts = 0;
				m->v.conn_error[0] = 0;
				m->backoff = 0.25;
				m->pending = (1u << MON_NPANES) - 1;
				m->tl_pending = m->tl_since > 0;
				m->sess_pending = m->sess_on;
				m->changed = 1;
			} else if (m->inflight >= 0) {
				if (m->inflight < MON_NPANES)
					record_time(&m->v.stats[m->inflight],
						    (util_mono() - m->sent_at) * 1000.0);
				else if (m->inflight == MON_TIMELINE)
					record_time(&m->v.tl_stats,
						    (util_mono() - m->sent_at) * 1000.0);
				else if (m->inflight == MON_SESS)
					record_time(&m->v.sess_stats,
						    (util_mono() - m->sent_at) * 1000.0);
				else if (m->inflight == MON_KPI)
					record_time(&m->v.kpi_stats,
						    (util_mono() - m->sent_at) * 1000.0);
				m->inflight = -1;
			}
			send_next(m);
			if (m->inflight < 0 && m->state != MS_SETUP)
				return;
			continue;
		}
		m->v.last_answer = time(NULL);
		if (m->v.silent) {
			m->v.silent = 0;
			m->v.silent_s = 0;
			m->changed = 1;
		}
		if (m->state == MS_SETUP || m->inflight == MON_PREP) {
			/* the role switch returns a row; the rest are commands */
			if (PQresultStatus(r) != PGRES_COMMAND_OK &&
			    PQresultStatus(r) != PGRES_TUPLES_OK) {
				char why[1024];
				snprintf(why, sizeof why, "%s", PQresultErrorMessage(r));
				PQclear(r);
				drop_connection(m, why);
				return;
			}
		} else if (m->inflight >= 0 && !m->got_result) {
			m->got_result = 1;
			take_result(m, r);
		}
		PQclear(r);
	}
}

static void queue_import_probe(struct monitor *m)
{
	double now = util_mono();
	/* An import may NOTIFY many times a second; one probe per 200 ms is live enough. */
	if (now - m->last_notify_probe < 0.2) {
		if (!m->notify_due)
			m->notify_due = m->last_notify_probe + 0.2;
		return;
	}
	m->last_notify_probe = now;
	m->notify_due = 0;
	m->pending |= 1u << MON_IMPORT;
	m->pending |= 1u << MON_ERRORS;
	send_next(m);
}

static void read_notifies(struct monitor *m)
{
	PGnotify *n;
	int got = 0;
	while (m->conn && (n = PQnotifies(m->conn))) {
		m->v.last_answer = time(NULL);
		/* A backup's progress changes the health pane's backup age. */
		if (strcmp(n->relname, "midsops_backup") == 0)
			m->pending |= 1u << MON_HEALTH;
		else
			got++;
		PQfreemem(n);
	}
	if (got) {
		m->v.notifies += got;
		m->changed = 1;
		if (!m->paused && m->state == MS_READY)
			queue_import_probe(m);
	}
}

int monitor_pollfds(struct monitor *m, struct pollfd *p, int max)
{
	if (!m->conn || max < 1)
		return 0;
	int fd = PQsocket(m->conn);
	if (fd < 0)
		return 0;
	p[0].fd = fd;
	p[0].revents = 0;
	if (m->state == MS_CONNECTING)
		p[0].events = m->poll_status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	else
		p[0].events = POLLIN | (m->want_write ? POLLOUT : 0);
	return 1;
}

static void advance_connect(struct monitor *m)
{
	m->poll_status = PQconnectPoll(m->conn);
	if (m->poll_status == PGRES_POLLING_OK)
		send_setup(m);
	else if (m->poll_status == PGRES_POLLING_FAILED)
		drop_connection(m, NULL);
}

/* The embedded cluster is looked at, never started: a stopped one is the reason shown,
 * without a connection attempt (db_connect's words, so the console and the commands
 * say the same). 1 when it runs. */
static int embedded_running(struct monitor *m)
{
	struct cluster c;
	char err[512];
	if (cluster_locate(&c, NULL, err, sizeof err) < 0) {
		drop_connection(m, err);
		return 0;
	}
	enum cluster_state st = cluster_state(&c, NULL);
	int was = m->v.embedded_stopped;
	m->v.embedded_stopped = st != CLUSTER_RUNNING;
	if (was != m->v.embedded_stopped)
		m->changed = 1;
	if (st == CLUSTER_RUNNING)
		return 1;
	snprintf(err, sizeof err,
		 "the embedded cluster (%.400s) is %s; start it with 'midsops cluster start'",
		 c.datadir, st == CLUSTER_ABSENT ? "not created yet" : "stopped");
	drop_connection(m, err);
	/* Looked at again each second, whatever the backoff: it is a stat, not a connection. */
	m->next_attempt = util_mono() + 1.0;
	return 0;
}

void monitor_service(struct monitor *m, const struct pollfd *p, int n)
{
	double now = util_mono();
	short rev = n > 0 ? p[0].revents : 0;
	if (m->state == MS_IDLE) {
		if (now >= m->next_attempt && (!m->embedded || embedded_running(m))) {
			start_connect(m);
			if (m->state == MS_CONNECTING)
				advance_connect(m);
		}
		return;
	}
	/* libpq enforces connect_timeout only in its blocking calls, and statement_timeout
	 * cannot fire across a dead network: the monitor keeps both deadlines itself. */
	if ((m->state == MS_CONNECTING || m->state == MS_SETUP) &&
	    now - m->connect_started > CONNECT_TIMEOUT_S) {
		drop_connection(m, "connection attempt timed out");
		return;
	}
	if (m->state == MS_READY && m->inflight >= 0) {
		double waited = now - m->sent_at, limit = m->stmt_timeout_ms / 1000.0;
		if (waited > limit + QUERY_GRACE_S) {
			char why[128];
			snprintf(why, sizeof why,
				 "the server stopped answering (no answer for %.0f s)", waited);
			drop_connection(m, why);
			return;
		}
		/* Past its statement_timeout the server would have cancelled it: a silent
		 * server, so every pane's figures are stale until it answers. */
		if (waited > limit + MONITOR_SLACK_S) {
			if (!m->v.silent) {
				m->v.silent = 1;
				mark_all_stale(m);
				m->changed = 1;
			}
			if ((int)waited != (int)m->v.silent_s)
				m->changed = 1;
			m->v.silent_s = waited;
		}
	}
	if (m->state == MS_CONNECTING) {
		if (rev)
			advance_connect(m);
		return;
	}
	if (rev & POLLOUT && m->want_write) {
		int f = PQflush(m->conn);
		if (f < 0) {
			drop_connection(m, NULL);
			return;
		}
		m->want_write = f == 1;
	}
	if (rev & (POLLIN | POLLHUP | POLLERR)) {
		if (!PQconsumeInput(m->conn) || PQstatus(m->conn) == CONNECTION_BAD) {
			drop_connection(m, NULL);
			return;
		}
		read_results(m);
		if (!m->conn)
			return;
		read_notifies(m);
		if (m->conn && PQstatus(m->conn) == CONNECTION_BAD) {
			drop_connection(m, NULL);
			return;
		}
	}
	if (m->state == MS_READY && m->notify_due && now >= m->notify_due && !m->paused)
		queue_import_probe(m);
	if (m->state == MS_READY)
		send_next(m);
}

int monitor_timeout_ms(const struct monitor *m)
{
	double now = util_mono(), due = -1;
	if (m->state == MS_IDLE)
		due = m->next_attempt;
	if (m->state == MS_READY && m->notify_due)
		due = m->notify_due;
	if (m->state == MS_CONNECTING || m->state == MS_SETUP)
		due = m->connect_started + CONNECT_TIMEOUT_S + 0.01;
	if (m->state == MS_READY && m->inflight >= 0) {
		double limit = m->sent_at + m->stmt_timeout_ms / 1000.0;
		double q = limit + (m->v.silent ? QUERY_GRACE_S : MONITOR_SLACK_S) + 0.01;
		if (due < 0 || q < due)
			due = q;
	}
	if (due < 0)
		return -1;
	double ms = (due - now) * 1000.0;
	return ms < 0 ? 0 : (int)ms + 1;
}

static void sample_host(struct monitor *m)
{
	if (!m->host_cfg)
		return;
	struct host_snapshot *h = &m->v.host;
	probe_system(m->host_cfg, &h->sys);
	unsigned long long busy, total;
	h->cpu_pct = NAN;
	if (probe_cpu_ticks(&busy, &total) == 0) {
		if (m->cpu_total && total > m->cpu_total)
			h->cpu_pct =
			    100.0 * (double)(busy - m->cpu_busy) / (double)(total - m->cpu_total);
		m->cpu_busy = busy;
		m->cpu_total = total;
	}
	h->have = 1;
	h->taken = time(NULL);
	m->changed = 1;
}

void monitor_host(struct monitor *m, const struct config *cfg)
{
	m->host_cfg = cfg;
	sample_host(m);
}

void monitor_want_timeline(struct monitor *m, long since_s)
{
	m->tl_since = since_s > 0 ? since_s : 0;
	if (!m->tl_since) {
		m->tl_pending = 0;
		return;
	}
	if (m->inflight != MON_TIMELINE) {
		m->tl_pending = 1;
		if (m->state == MS_READY)
			send_next(m);
	}
}

void monitor_note(struct monitor *m, const char *level, const char *msg)
{
	log_event(level, NULL, "%s", msg);
	add_event(m, time(NULL), level, msg);
	if (m->state == MS_READY)
		send_next(m);
}

void monitor_refresh(struct monitor *m)
{
	m->ev_hold = 0;
	sample_host(m);
	double now = util_mono();
	if (m->state == MS_READY && m->inflight != MON_KPI &&
	    (!m->v.kpi_q.have || now - m->kpi_at >= MONITOR_KPI_EVERY_S)) {
		m->kpi_at = now;
		m->kpi_pending = 1;
	}
	if (m->state != MS_READY) {
		if (m->state == MS_IDLE)
			m->v.retry_in = m->next_attempt - util_mono();
		return;
	}
	for (int p = 0; p < MON_NPANES; p++) {
		if (m->inflight == p || (m->pending & (1u << p))) {
			/* The previous probe is still waiting (a lock, a slow server). */
			if (m->v.have[p] && !m->v.stale[p]) {
				m->v.stale[p] = 1;
				m->changed = 1;
			}
			continue;
		}
		m->pending |= 1u << p;
	}
	if (m->tl_since > 0) {
		if (m->inflight == MON_TIMELINE || m->tl_pending) {
			if (m->v.tl_have && !m->v.tl_stale) {
				m->v.tl_stale = 1;
				m->changed = 1;
			}
		} else
			m->tl_pending = 1;
	}
	if (m->sess_on) {
		if (m->inflight == MON_SESS || m->sess_pending) {
			if (m->v.sess_have && !m->v.sess_stale) {
				m->v.sess_stale = 1;
				m->changed = 1;
			}
		} else
			m->sess_pending = 1;
	}
	send_next(m);
}

void monitor_sessions(struct monitor *m, int on, int all)
{
	if (on && (!m->sess_on || all != m->sess_all))
		m->sess_pending = 1;
	if (!on)
		m->sess_pending = 0;
	m->sess_on = on;
	m->sess_all = all;
	if (m->state == MS_READY)
		send_next(m);
}

void monitor_trend_backfill(struct monitor *m, double window_s)
{
	m->v.bf_window = window_s;
	m->v.bf_have = 0;
	m->v.bf_busy = 1;
	m->v.bf_err[0] = 0;
	m->bf_pending = 1;
	m->changed = 1;
	if (m->state == MS_READY)
		send_next(m);
}

void monitor_set_paused(struct monitor *m, int paused)
{
	m->paused = paused;
}

const struct monitor_view *monitor_view(const struct monitor *m)
{
	return &m->v;
}

int monitor_changed(struct monitor *m)
{
	if (m->state == MS_IDLE) {
		double r = m->next_attempt - util_mono();
		m->v.retry_in = r < 0 ? 0 : r;
	}
	int c = m->changed;
	m->changed = 0;
	return c;
}
