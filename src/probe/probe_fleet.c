/* The fleet probe (include/probe_fleet.h): one connection per environment, one query per
 * refresh, every step non-blocking. The query names the ops tables only inside
 * query_to_xml, behind to_regclass, so an environment without midsops's schema (a bare
 * standby of another system, a staging server not migrated yet) still answers. Each
 * query_to_xml returns exactly one row (a scalar subquery), as xpath cannot parse the
 * empty document of none. */
#include "probe_int.h"
#include "probe_fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "probe_async.h"
#include "target.h"
#include "util.h"

static const char fleet_sql[] =
    "/* midsops fleet */ select pg_is_in_recovery(),\n"
    "  case when pg_is_in_recovery() then\n"
    "    case when pg_last_wal_receive_lsn() is not null\n"
    "      and pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0\n"
    "    else extract(epoch from now() - pg_last_xact_replay_timestamp()) end\n"
    "  else (select extract(epoch from max(coalesce(replay_lag, interval '0')))\n"
    "    from pg_stat_replication) end,\n"
    "  (select max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint\n"
    "     from pg_stat_replication where not pg_is_in_recovery()),\n"
    "  (select count(*) from pg_stat_replication),\n"
    "  to_regclass('ops.import_runs') is not null,\n"
    "  case when to_regclass('ops.import_runs') is not null then (xpath('/row/v/text()',\n"
    "    query_to_xml('select (select concat(r.j->>''id'', ''|'', r.j->>''state'', ''|'',\n"
    "      extract(epoch from coalesce(r.j->>''finished_at'', r.j->>''started_at'')\n"
    "        ::timestamptz), ''|'', r.j->>''generation'')\n"
    "      from (select to_jsonb(x) as j from ops.import_runs x order by x.id desc limit 1) r)\n"
    "      as v',\n"
    "      false, true, '')))[1]::text end,\n"
    "  case when to_regclass('ops.import_generations') is not null then\n"
    "    (xpath('/row/v/text()', query_to_xml('select max(generation) as v\n"
    "      from ops.import_generations', false, true, '')))[1]::text end,\n"
    "  to_regclass('ops.backups') is not null,\n"
    "  " PROBE_BACKUP_AGE_SQL ",\n"
    "  extract(epoch from now())";

static double cell_num(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) || !*PQgetvalue(r, 0, col)
		   ? NAN
		   : strtod(PQgetvalue(r, 0, col), NULL);
}

/* "id|state|epoch|generation", any part empty. */
static void parse_run(const char *s, struct fleet_figures *f)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	char *part[4] = {0};
	char *p = buf;
	for (int i = 0; i < 4 && p; i++) {
		part[i] = p;
		p = strchr(p, '|');
		if (p)
			*p++ = 0;
	}
	f->import_id = part[0] ? atoll(part[0]) : 0;
	snprintf(f->import_state, sizeof f->import_state, "%s", part[1] ? part[1] : "");
	f->import_at = part[2] && *part[2] ? strtod(part[2], NULL) : NAN;
	if (part[3] && *part[3])
		f->generation = atoll(part[3]);
}

int probe_fleet_parse(PGresult *r, struct fleet_figures *f, char *err, size_t n)
{
	memset(f, 0, sizeof *f);
	f->lag_bytes = -1;
	f->generation = -1;
	f->import_at = f->backup_age_s = f->lag_s = NAN;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 10) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(err, n, "query failed%s%s: %.200s", st ? " " : "", st ? st : "",
			 PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = 0;
		return -1;
	}
	f->in_recovery = PQgetvalue(r, 0, 0)[0] == 't';
	f->lag_s = cell_num(r, 1);
	f->lag_bytes = PQgetisnull(r, 0, 2) ? -1 : atoll(PQgetvalue(r, 0, 2));
	f->nreplicas = atoi(PQgetvalue(r, 0, 3));
	f->imports_present = PQgetvalue(r, 0, 4)[0] == 't';
	if (!PQgetisnull(r, 0, 5))
		parse_run(PQgetvalue(r, 0, 5), f);
	/* The run's own generation; else the newest the store has (a rollback's, say). */
	if (f->generation < 0 && !PQgetisnull(r, 0, 6) && *PQgetvalue(r, 0, 6))
		f->generation = atoll(PQgetvalue(r, 0, 6));
	f->backups_present = PQgetvalue(r, 0, 7)[0] == 't';
	f->backup_age_s = cell_num(r, 8);
	f->server_now = cell_num(r, 9);
	return 0;
}

enum fleet_state { FS_IDLE, FS_CONNECTING, FS_READY, FS_BUSY };

struct fleet_conn {
	char dsn[1024];
	PGconn *conn;
	enum fleet_state state;
	PostgresPollingStatusType poll;
	int want_write, pending; /* a refresh came while connecting */
	double started, sent_at, next_attempt, backoff;
	struct fleet_env_view v;
};

struct fleet {
	char app[64];
	int n, skip;
	struct fleet_conn e[CONFIG_MAX_ENVS];
	int pfd_env[CONFIG_MAX_ENVS];
	int changed;
};

struct fleet *fleet_new(const struct config *cfg, const char *app, int skip)
{
	struct fleet *f = xcalloc(1, sizeof *f);
	snprintf(f->app, sizeof f->app, "%s", app);
	f->n = cfg->nenvs;
	f->skip = skip;
	for (int i = 0; i < f->n; i++) {
		struct fleet_conn *c = &f->e[i];
		snprintf(c->dsn, sizeof c->dsn, "%s", cfg->envs[i].dsn);
		snprintf(c->v.name, sizeof c->v.name, "%s", cfg->envs[i].name);
		c->v.is_target = i == skip;
		c->backoff = 1.0;
		c->v.f.lag_s = c->v.f.backup_age_s = c->v.f.import_at = NAN;
		c->v.f.lag_bytes = c->v.f.generation = -1;
	}
	return f;
}

static void conn_close(struct fleet_conn *c)
{
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	c->state = FS_IDLE;
	c->want_write = c->pending = 0;
}

void fleet_free(struct fleet *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		conn_close(&f->e[i]);
	free(f);
}

void fleet_set_skip(struct fleet *f, int skip)
{
	f->skip = skip;
	for (int i = 0; i < f->n; i++) {
		f->e[i].v.is_target = i == skip;
		if (i == skip)
			conn_close(&f->e[i]); /* the monitor has it now */
		else if (f->e[i].state == FS_IDLE)
			f->e[i].next_attempt = 0;
	}
	f->changed = 1;
}

int fleet_count(const struct fleet *f)
{
	return f ? f->n : 0;
}

const struct fleet_env_view *fleet_env(const struct fleet *f, int i)
{
	return &f->e[i].v;
}

/* libpq's message, on one line, without the secrets of the dsn. */
static void fail(struct fleet *f, struct fleet_conn *c, const char *why)
{
	char msg[512];
	snprintf(msg, sizeof msg, "%s", why ? why : c->conn ? PQerrorMessage(c->conn) : "failed");
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	size_t l = strlen(msg);
	while (l && msg[l - 1] == ' ')
		msg[--l] = 0;
	conninfo_scrub(c->dsn, msg, sizeof msg);
	snprintf(c->v.reason, sizeof c->v.reason, "%s", msg[0] ? msg : "connection failed");
	c->v.reachable = 0;
	c->v.tried = 1;
	conn_close(c);
	c->next_attempt = util_mono() + c->backoff;
	c->backoff = c->backoff * 2 > 15 ? 15 : c->backoff * 2;
	f->changed = 1;
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg, (void)msg;
}

static void send_probe(struct fleet *f, struct fleet_conn *c)
{
	c->pending = 0;
	if (!PQsendQuery(c->conn, fleet_sql)) {
		fail(f, c, NULL);
		return;
	}
	int fl = PQflush(c->conn);
	if (fl < 0) {
		fail(f, c, NULL);
		return;
	}
	c->want_write = fl == 1;
	c->state = FS_BUSY;
	c->sent_at = util_mono();
	c->v.queries++;
}

static void start_connect(struct fleet *f, struct fleet_conn *c)
{
	char opts[96];
	snprintf(opts, sizeof opts, "-c statement_timeout=%d -c lock_timeout=200",
		 FLEET_STATEMENT_TIMEOUT_MS);
	/* options before dbname: the dsn's own options, when it has some, win */
	const char *keys[] = {"options", "dbname", "application_name", NULL};
	const char *vals[] = {opts, c->dsn, f->app, NULL};
	c->conn = PQconnectStartParams(keys, vals, 1);
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
		fail(f, c, c->conn ? NULL : "out of memory");
		return;
	}
	PQsetNoticeProcessor(c->conn, quiet_notice, NULL);
	c->state = FS_CONNECTING;
	c->poll = PGRES_POLLING_WRITING;
	c->started = util_mono();
	c->pending = 1;
}

static void advance_connect(struct fleet *f, struct fleet_conn *c)
{
	c->poll = PQconnectPoll(c->conn);
	if (c->poll == PGRES_POLLING_FAILED) {
		fail(f, c, NULL);
	} else if (c->poll == PGRES_POLLING_OK) {
		PQsetnonblocking(c->conn, 1);
		c->state = FS_READY;
		c->backoff = 1.0;
		if (c->pending)
			send_probe(f, c);
	}
}

void fleet_refresh(struct fleet *f)
{
	double now = util_mono();
	for (int i = 0; f && i < f->n; i++) {
		struct fleet_conn *c = &f->e[i];
		if (i == f->skip)
			continue;
		if (c->state == FS_READY)
			send_probe(f, c);
		else if (c->state == FS_IDLE && now >= c->next_attempt) {
			start_connect(f, c);
			if (c->state == FS_CONNECTING)
				advance_connect(f, c);
		}
	}
}

int fleet_pollfds(struct fleet *f, struct pollfd *p, int max)
{
	int n = 0;
	for (int i = 0; f && i < f->n && n < max; i++) {
		struct fleet_conn *c = &f->e[i];
		int fd = c->conn && c->state != FS_IDLE ? PQsocket(c->conn) : -1;
		if (fd < 0)
			continue;
		short ev = c->state == FS_CONNECTING
			       ? (c->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT)
			       : POLLIN | (c->want_write ? POLLOUT : 0);
		p[n] = (struct pollfd){.fd = fd, .events = ev};
		f->pfd_env[n++] = i;
	}
	return n;
}

static void read_answer(struct fleet *f, struct fleet_conn *c)
{
	if (!PQconsumeInput(c->conn) || PQstatus(c->conn) == CONNECTION_BAD) {
		fail(f, c, NULL);
		return;
	}
	PGresult *r;
	while (!PQisBusy(c->conn) && (r = PQgetResult(c->conn))) {
		struct fleet_figures fig;
		char err[256];
		if (probe_fleet_parse(r, &fig, err, sizeof err) == 0) {
			c->v.f = fig;
			c->v.have = 1;
			c->v.as_of = time(NULL);
			c->v.reason[0] = 0;
		} else
			snprintf(c->v.reason, sizeof c->v.reason, "%s", err);
		c->v.reachable = 1;
		c->v.tried = 1;
		c->v.last_ms = (util_mono() - c->sent_at) * 1000.0;
		PQclear(r);
		f->changed = 1;
	}
	if (!PQisBusy(c->conn) && c->state == FS_BUSY)
		c->state = FS_READY;
}

static void deadlines(struct fleet *f, struct fleet_conn *c, double now)
{
	char why[128];
	if (c->state == FS_CONNECTING && now - c->started > FLEET_CONNECT_TIMEOUT_S) {
		snprintf(why, sizeof why, "no connection in %.0f s", FLEET_CONNECT_TIMEOUT_S);
		fail(f, c, why);
	} else if (c->state == FS_BUSY &&
		   now - c->sent_at > FLEET_STATEMENT_TIMEOUT_MS / 1000.0 + FLEET_ANSWER_GRACE_S) {
		snprintf(why, sizeof why, "no answer in %.0f s", now - c->sent_at);
		fail(f, c, why);
	}
}

void fleet_service(struct fleet *f, const struct pollfd *p, int n)
{
	if (!f)
		return;
	for (int j = 0; j < n; j++) {
		struct fleet_conn *c = &f->e[f->pfd_env[j]];
		short rev = p[j].revents;
		if (!rev || !c->conn)
			continue;
		if (c->state == FS_CONNECTING) {
			advance_connect(f, c);
			continue;
		}
		if (rev & POLLOUT && c->want_write) {
			int fl = PQflush(c->conn);
			if (fl < 0) {
				fail(f, c, NULL);
				continue;
			}
			c->want_write = fl == 1;
		}
		if (rev & (POLLIN | POLLHUP | POLLERR))
			read_answer(f, c);
	}
	double now = util_mono();
	for (int i = 0; i < f->n; i++)
		deadlines(f, &f->e[i], now);
}

int fleet_timeout_ms(const struct fleet *f)
{
	double now = util_mono(), best = -1;
	for (int i = 0; f && i < f->n; i++) {
		const struct fleet_conn *c = &f->e[i];
		double at =
		    c->state == FS_CONNECTING ? c->started + FLEET_CONNECT_TIMEOUT_S
		    : c->state == FS_BUSY
			? c->sent_at + FLEET_STATEMENT_TIMEOUT_MS / 1000.0 + FLEET_ANSWER_GRACE_S
			: -1;
		if (at >= 0 && (best < 0 || at < best))
			best = at;
	}
	if (best < 0)
		return -1;
	return best <= now ? 0 : (int)((best - now) * 1000.0) + 1;
}

int fleet_busy(const struct fleet *f)
{
	for (int i = 0; i < f->n; i++)
		if (f->e[i].state == FS_CONNECTING || f->e[i].state == FS_BUSY)
			return 1;
	return 0;
}

long long fleet_queries(const struct fleet *f)
{
	long long q = 0;
	for (int i = 0; f && i < f->n; i++)
		q += f->e[i].v.queries;
	return q;
}

int fleet_changed(struct fleet *f)
{
	int c = f && f->changed;
	if (f)
		f->changed = 0;
	return c;
}

int fleet_target_index(const struct config *cfg, const char *env, const char *conninfo)
{
	for (int i = 0; i < cfg->nenvs; i++)
		if (env && strcmp(cfg->envs[i].name, env) == 0)
			return i;
	for (int i = 0; i < cfg->nenvs; i++)
		if (conninfo && *conninfo && strcmp(cfg->envs[i].dsn, conninfo) == 0)
			return i;
	return -1;
}

void fleet_from_monitor(struct fleet_env_view *e, const char *name, const struct monitor_view *v)
{
	memset(e, 0, sizeof *e);
	snprintf(e->name, sizeof e->name, "%s", name);
	e->is_target = 1;
	e->reachable = v->connected && !v->silent;
	e->tried = v->ever_connected || v->attempts > 0;
	snprintf(e->reason, sizeof e->reason, "%.500s",
		 v->silent ? "the server stopped answering" : v->conn_error);
	e->have = v->have[MON_HEALTH];
	e->as_of = v->as_of[MON_HEALTH];
	struct fleet_figures *f = &e->f;
	f->in_recovery = v->db.in_recovery;
	f->lag_s = v->db.in_recovery ? v->db.replay_lag_s : NAN;
	f->nreplicas = v->db.nreplicas;
	f->lag_bytes = v->db.nreplicas ? v->db.max_replica_lag_bytes : -1;
	f->imports_present = v->have[MON_IMPORT] && v->imp.present;
	f->import_id = v->imp.has_run ? v->imp.id : 0;
	snprintf(f->import_state, sizeof f->import_state, "%.15s", v->imp.state);
	f->import_at = v->imp.finished > 0 ? v->imp.finished : v->imp.started;
	f->generation = v->imp.generation;
	f->backups_present = v->hx.backups_present;
	f->backup_age_s = v->hx.backup_age_s;
	f->server_now = (double)time(NULL);
}

static int judge_down(const struct fleet_env_view *e, char *why, size_t n)
{
	if (!e->tried) {
		snprintf(why, n, "connecting");
		return ST_UNKNOWN;
	}
	/* The last part of libpq's first line is the cause ("Connection refused"). */
	char first[512];
	snprintf(first, sizeof first, "%s", e->reason);
	char *s = strstr(first, "  ");
	if (s)
		*s = 0;
	char *cause = strrchr(first, ':');
	cause = cause && cause[1] ? cause + 2 : first;
	snprintf(why, n, "unreachable: %s", *cause ? cause : "no connection");
	return ST_CRITICAL;
}

enum status fleet_judge(const struct fleet_env_view *e, const struct config *cfg, double stale_s,
			char *why, size_t n)
{
	if (!e->reachable)
		return (enum status)judge_down(e, why, n);
	if (!e->have) {
		snprintf(why, n, "%s", e->reason[0] ? e->reason : "waiting for figures");
		return ST_UNKNOWN;
	}
	double age = difftime(time(NULL), e->as_of);
	if (age > stale_s) {
		snprintf(why, n, "figures %.0f s old%s%.100s", age, e->reason[0] ? ": " : "",
			 e->reason);
		return ST_UNKNOWN;
	}
	enum status st = ST_OK;
	why[0] = 0;
	const struct fleet_figures *f = &e->f;
	if (!isnan(f->lag_s) && f->lag_s > FLEET_LAG_WARNING_S) {
		st = f->lag_s > FLEET_LAG_CRITICAL_S ? ST_CRITICAL : ST_WARNING;
		char d[32];
		fmt_duration(d, sizeof d, f->lag_s);
		snprintf(why, n, "replication lag %s", d);
	}
	/* No backup yet is not judged, as the health pane and the header leave it: the line
	 * says "no backup". */
	if (f->backups_present && !isnan(f->backup_age_s)) {
		int b = threshold_judge(&cfg->backup_age, f->backup_age_s / 3600.0);
		if (b > (int)st) {
			st = (enum status)b;
			char d[32];
			fmt_duration(d, sizeof d, f->backup_age_s);
			snprintf(why, n, "last backup %s old", d);
		}
	}
	if (f->import_id && strcmp(f->import_state, "failed") == 0 && st < ST_WARNING) {
		st = ST_WARNING;
		snprintf(why, n, "import #%lld failed", f->import_id);
	}
	return st;
}
