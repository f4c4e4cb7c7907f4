/* libpq helpers shared by every command. */
#include "db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "log.h"
#include "migrate.h"
#include "out.h"
#include "paths.h"
#include "target.h"

void db_set_log_dir(const char *dir)
{
	log_set_dir(dir);
}

static void conn_error(const struct target *t, PGconn *c, char *err, size_t errlen)
{
	char shown[2048];
	target_display(t, shown, sizeof shown);
	const char *msg = c ? PQerrorMessage(c) : "out of memory";
	char reason[1024];
	snprintf(reason, sizeof reason, "%s", msg);
	/* libpq messages are multi-line; the first line carries the reason. */
	for (char *p = reason; *p; p++)
		if (*p == '\n') {
			if (p[1])
				*p = ' ';
			else
				*p = 0;
		}
	snprintf(err, errlen, "cannot connect to %s (%s): %s", shown, t->source, reason);
}

int db_type_numeric(Oid type)
{
	/* pg_type's fixed oids: int8 20, int2 21, int4 23, oid 26, float4 700, float8 701,
	 * numeric 1700. */
	return type == 20 || type == 21 || type == 23 || type == 26 || type == 700 ||
	       type == 701 || type == 1700;
}

/* Whether a connection may start a stopped embedded cluster. A check that started the
 * server it checks would report the repair, not what it found. */
static int may_start = 1;

void db_set_may_start(int yes)
{
	may_start = yes;
}

/* The embedded cluster, running before we connect: started when this command may, said
 * on stderr; otherwise a stopped cluster is the error, naming the fix. */
static int embedded_ready(char *err, size_t errlen)
{
	struct cluster c;
	if (cluster_locate(&c, NULL, err, errlen) < 0)
		return -1;
	enum cluster_state st = cluster_state(&c, NULL);
	if (st == CLUSTER_RUNNING)
		return 0;
	if (!may_start) {
		snprintf(err, errlen, "the embedded cluster (%s) is %s; start it with 'midsops "
				      "cluster start'",
			 c.datadir, st == CLUSTER_ABSENT ? "not created yet" : "stopped");
		return -1;
	}
	int already = 0;
	if (cluster_start(&c, &already, err, errlen) < 0)
		return -1;
	if (!already)
		out_warn(NULL, "the embedded cluster (%s) was %s; started it", c.datadir,
			 st == CLUSTER_ABSENT ? "not created yet" : "stopped");
	return 0;
}

/* midsops's own statements. pg_stat_statements keys its figures by user, database and
 * query id only: it keeps no application_name, and comments do not change a query id, so
 * neither can tell an import's COPY from a web user's query. The role a statement runs as
 * can, also for statements inside functions and for child tools (pg_dump --role): every
 * midsops session does its work as DB_OWN_ROLE, a NOLOGIN role (SET ROLE). A superuser
 * login switches only to a superuser role, so nothing midsops does loses a right; another
 * login switches only when an administrator granted it the role (with the rights they
 * chose). Checks judge the statements of every other role (probe_health.c). */
static int own_active; /* 1: a superuser role, 2: granted to a login that is none */
static char own_note[320];

/* One statement, without parameters so that the console's setup string can carry it:
 * reads the state and switches in the same round trip. The role name is a constant. */
static const char own_sql[] =
    "select s.rolsuper, w.oid is not null, coalesce(w.rolsuper, false),"
    " case when w.oid is not null and case when s.rolsuper then w.rolsuper"
    "  else pg_has_role(session_user, w.oid, 'MEMBER') end"
    " then set_config('role', w.rolname::text, false) end is not null,"
    " s.rolname"
    " from pg_roles s left join pg_roles w on w.rolname = '" DB_OWN_ROLE "'"
    " where s.rolname = session_user";

const char *db_own_role_sql(void)
{
	return own_sql;
}

static int own_role_switch(PGconn *c, int may_create)
{
	PGresult *r = PQexec(c, own_sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(own_note, sizeof own_note, "cannot switch to %s: %s", DB_OWN_ROLE,
			 PQresultErrorMessage(r));
		own_note[strcspn(own_note, "\n")] = 0;
		PQclear(r);
		return 0;
	}
	int super = PQgetvalue(r, 0, 0)[0] == 't', exists = PQgetvalue(r, 0, 1)[0] == 't';
	int wsuper = PQgetvalue(r, 0, 2)[0] == 't', on = PQgetvalue(r, 0, 3)[0] == 't';
	if (!on && super && !exists && may_create) {
		PQclear(r);
		/* NOLOGIN: nobody connects as it; only superusers may grant a superuser role, so
		 * it gives no one a right they did not have. */
		PGresult *cr = PQexec(c, "create role " DB_OWN_ROLE " nologin superuser");
		const char *state = PQresultErrorField(cr, PG_DIAG_SQLSTATE);
		/* duplicate_object, or unique_violation when another session's create won */
		int raced = state && (strcmp(state, "42710") == 0 || strcmp(state, "23505") == 0);
		int made = PQresultStatus(cr) == PGRES_COMMAND_OK;
		if (!made && !raced)
			snprintf(own_note, sizeof own_note, "cannot create role %s: %s",
				 DB_OWN_ROLE, PQresultErrorMessage(cr));
		PQclear(cr);
		if (!made && !raced) {
			own_note[strcspn(own_note, "\n")] = 0;
			return 0;
		}
		return own_role_switch(c, 0);
	}
	if (on) {
		own_active = super ? 1 : 2;
		own_note[0] = 0;
	} else if (!exists)
		snprintf(own_note, sizeof own_note,
			 "there is no role %s yet (midsops creates it when it connects as a "
			 "superuser)",
			 DB_OWN_ROLE);
	else if (super && !wsuper)
		snprintf(own_note, sizeof own_note,
			 "role %s is no superuser, and superuser login %s keeps its rights",
			 DB_OWN_ROLE, PQgetvalue(r, 0, 4));
	else
		snprintf(own_note, sizeof own_note,
			 "login %s is no superuser and was not granted role %s",
			 PQgetvalue(r, 0, 4), DB_OWN_ROLE);
	PQclear(r);
	return on;
}

int db_own_role_enter(PGconn *c)
{
	return own_role_switch(c, 0);
}

int db_own_role_ensure(PGconn *c)
{
	return own_role_switch(c, 1);
}

int db_own_role_active(void)
{
	return own_active;
}

const char *db_own_role_note(void)
{
	return own_note;
}

int db_as_login(PGconn *c, char *err, size_t errlen)
{
	/* Statements run as the login would count as the web workload's, so they are not
	 * tracked at all where the login may say so (the setting is a superuser's). The
	 * objects they make are recorded elsewhere (ops.schema_version, ops.events). */
	return db_exec(c, err, errlen,
		       "select set_config('role', 'none', true),"
		       " case when (select rolsuper from pg_roles where rolname = session_user)"
		       " then set_config('pg_stat_statements.track', 'none', true) end",
		       0, NULL);
}

PGconn *db_connect(const struct target *t, const char *app, char *err, size_t errlen)
{
	if (t->embedded && embedded_ready(err, errlen) < 0)
		return NULL;
	char appname[128];
	snprintf(appname, sizeof appname, "midsops %s", app ? app : "");
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *vals[] = {t->conninfo[0] ? t->conninfo : NULL, appname, "10", NULL};
	/* expand_dbname lets the conninfo (or URI) sit in dbname; without one, libpq's
	 * environment decides. */
	PGconn *c = t->conninfo[0] ? PQconnectdbParams(keys, vals, 1)
				   : PQconnectdbParams(keys + 1, vals + 1, 0);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		conn_error(t, c, err, errlen);
		PQfinish(c);
		return NULL;
	}
	own_role_switch(c, 0);
	PGresult *r = PQexec(c, "set client_min_messages = warning");
	PQclear(r);
	return c;
}

PGconn *db_connect_ready(const struct target *t, const char *app, char *err, size_t errlen)
{
	PGconn *c = db_connect(t, app, err, errlen);
	if (!c)
		return NULL;
	int applied = 0;
	if (migrate_up(c, &applied, err, errlen) < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void result_error(PGconn *c, PGresult *r, char *err, size_t errlen)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	if (!m || !*m)
		m = PQerrorMessage(c);
	snprintf(err, errlen, "%s", m);
	size_t n = strlen(err);
	while (n > 0 && err[n - 1] == '\n')
		err[--n] = 0;
}

PGresult *db_query(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
		   const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	result_error(c, r, err, errlen);
	PQclear(r);
	return NULL;
}

int db_exec(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
	    const char *const *params)
{
	PGresult *r = db_query(c, err, errlen, sql, nparams, params);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

char *db_scalar(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
		const char *const *params)
{
	PGresult *r = db_query(c, err, errlen, sql, nparams, params);
	if (!r)
		return NULL;
	char *v = NULL;
	if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

int db_begin(PGconn *c, char *err, size_t errlen)
{
	return db_exec(c, err, errlen, "begin", 0, NULL);
}

int db_commit(PGconn *c, char *err, size_t errlen)
{
	return db_exec(c, err, errlen, "commit", 0, NULL);
}

void db_rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "rollback");
	PQclear(r);
}

char *db_ident(PGconn *c, const char *name)
{
	return PQescapeIdentifier(c, name, strlen(name));
}

void db_event(PGconn *c, const char *level, const char *source, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* The line names the command; a source that differs from it leads the message. */
	if (strcmp(source, log_command()) == 0)
		log_event(level, NULL, "%s", msg);
	else
		log_event(level, NULL, "%s: %s", source, msg);
	if (!c || PQstatus(c) != CONNECTION_OK)
		return;
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	char pid[32];
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	const char *p[] = {level, source, msg, host, pid};
	char err[256];
	PGresult *r = db_query(c, err, sizeof err,
			       "insert into ops.events(level, source, message, host, pid) "
			       "values ($1, $2, $3, $4, $5::int)",
			       5, p);
	PQclear(r);
}

char **db_conninfo_env(const char *conninfo, const char *dbname)
{
	static const struct {
		const char *key, *var;
	} map[] = {{"host", "PGHOST"},
		   {"hostaddr", "PGHOSTADDR"},
		   {"port", "PGPORT"},
		   {"dbname", "PGDATABASE"},
		   {"user", "PGUSER"},
		   {"password", "PGPASSWORD"},
		   {"passfile", "PGPASSFILE"},
		   {"sslmode", "PGSSLMODE"},
		   {"sslrootcert", "PGSSLROOTCERT"},
		   {"sslcert", "PGSSLCERT"},
		   {"sslkey", "PGSSLKEY"},
		   {"service", "PGSERVICE"},
		   {"options", "PGOPTIONS"},
		   {"connect_timeout", "PGCONNECT_TIMEOUT"}};
	size_t nmap = sizeof map / sizeof map[0];
	PQconninfoOption *opts = NULL;
	if (conninfo && *conninfo) {
		char *perr = NULL;
		opts = PQconninfoParse(conninfo, &perr);
		PQfreemem(perr);
		if (!opts)
			return NULL;
	}
	char **env = calloc(nmap + 2, sizeof *env);
	if (!env) {
		PQconninfoFree(opts);
		return NULL;
	}
	size_t n = 0;
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val || !*o->val || (dbname && strcmp(o->keyword, "dbname") == 0))
			continue;
		for (size_t i = 0; i < nmap; i++)
			if (strcmp(o->keyword, map[i].key) == 0 &&
			    asprintf(&env[n], "%s=%s", map[i].var, o->val) >= 0)
				n++;
	}
	if (dbname && asprintf(&env[n], "PGDATABASE=%s", dbname) >= 0)
		n++;
	env[n] = NULL;
	PQconninfoFree(opts);
	return env;
}

void db_env_free(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}
