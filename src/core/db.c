/* libpq helpers shared by every command. */
#include "db.h"
#include "util.h"

#include <cJSON.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	/* libpq's parse errors quote the value they stumbled on, which may be a secret. */
	conninfo_scrub(t->conninfo, reason, sizeof reason);
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
	return type == 20 || type == 21 || type == 23 || type == 26 || type == 700 || type == 701 ||
	       type == 1700;
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
		snprintf(err, errlen,
			 "the embedded cluster (%s) is %s; start it with 'midsops "
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

PGresult *db_query_e(PGconn *c, struct db_error *e, const char *sql, int nparams,
		     const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", code ? code : "");
	result_error(c, r, e->message, sizeof e->message);
	PQclear(r);
	return NULL;
}

int db_exec_e(PGconn *c, struct db_error *e, const char *sql, int nparams,
	      const char *const *params)
{
	PGresult *r = db_query_e(c, e, sql, nparams, params);
	PQclear(r);
	return r ? 0 : -1;
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
		v = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

int db_scalar_num(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
		  const char *const *params, long long dflt, long long *out)
{
	PGresult *r = db_query(c, err, errlen, sql, nparams, params);
	if (!r)
		return -1;
	*out = PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)
		   ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
		   : dflt;
	PQclear(r);
	return 0;
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

/* Child tools (psql, pg_dump, pg_basebackup, pg_receivewal, pg_restore, pg_amcheck) must
 * connect exactly as midsops does, with every option of the target: a dropped requirepeer
 * or sslmode would let a child connect where midsops itself refused. Each option libpq
 * knows travels in its own PG* variable, named by the linked libpq (PQconninfoParse's
 * envvar), so options a newer libpq adds (require_auth, PGREQUIREAUTH) follow without a
 * list of ours; the child tools link the same libpq. Passwords stay out of argv. */

/* Options libpq reads from no variable: they go to the child in a service file of its
 * own. replication and fallback_application_name are the tool's own business (pg_basebackup
 * sets replication itself; psql given replication=database would be another program). */
#define CHILD_SERVICE "midsops-child"

static int child_own_option(const char *keyword)
{
	return strcmp(keyword, "replication") == 0 ||
	       strcmp(keyword, "fallback_application_name") == 0;
}

/* What a service's definition sets, read by libpq itself (PGSERVICEFILE or
 * ~/.pg_service.conf, then the system file). PQconndefaults applies the service but keeps
 * no error, and fills what the service leaves unset from PG* variables and compiled
 * defaults; so while it runs every option's variable holds a sentinel, and what differs
 * from it came from the service. midsops has no threads, so the brief change of this
 * process's environment is seen by nobody else. */
static PQconninfoOption *service_options(const char *service)
{
	static const char sentinel[] = "\001midsops-unset\001";
	char *perr = NULL;
	PQconninfoOption *all = PQconninfoParse("", &perr);
	PQfreemem(perr);
	if (!all)
		return NULL;
	int n = 0;
	while (all[n].keyword)
		n++;
	char **saved = xcalloc((size_t)n, sizeof *saved);
	for (int i = 0; i < n; i++) {
		if (!all[i].envvar)
			continue;
		const char *v = getenv(all[i].envvar);
		saved[i] = v ? xstrdup(v) : NULL;
		setenv(all[i].envvar, strcmp(all[i].keyword, "service") == 0 ? service : sentinel,
		       1);
	}
	PQconninfoOption *d = PQconndefaults();
	for (int i = 0; i < n; i++) {
		if (!all[i].envvar)
			continue;
		if (saved[i])
			setenv(all[i].envvar, saved[i], 1);
		else
			unsetenv(all[i].envvar);
		free(saved[i]);
	}
	free(saved);
	PQconninfoFree(all);
	int found = 0;
	for (PQconninfoOption *o = d; o && o->keyword; o++) {
		if (o->val &&
		    (strcmp(o->val, sentinel) == 0 || strcmp(o->keyword, "service") == 0)) {
			free(o->val); /* libpq allocates option values with malloc */
			o->val = NULL;
		}
		found |= o->val != NULL;
	}
	if (!found) {
		PQconninfoFree(d);
		return NULL;
	}
	return d;
}

/* A service file holds "key=value" lines as libpq reads them: the line's trailing blanks
 * dropped, no quoting, and (libpq 15) lines under 1024 bytes. */
static int service_value_ok(const char *v)
{
	size_t n = strlen(v);
	if (n > 900 || (n && isspace((unsigned char)v[n - 1])))
		return 0;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

static int env_add(char **env, size_t *n, const char *fmt, const char *a, const char *b)
{
	if (asprintf(&env[*n], fmt, a, b) < 0)
		return -1;
	(*n)++;
	return 0;
}

char **db_child_env(const char *conninfo, const char *dbname, char *err, size_t errlen)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
	if (!opts) {
		snprintf(err, errlen, "the connection string does not parse: %s",
			 perr ? perr : "out of memory");
		err[strcspn(err, "\n")] = 0;
		conninfo_scrub(conninfo, err, errlen);
		PQfreemem(perr);
		return NULL;
	}
	/* A service (named here or in PGSERVICE) is resolved now, so that the target's own
	 * options keep their precedence over it: given to the child as PGSERVICE, its values
	 * would override the PG* variables below. */
	const char *service = NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "service") == 0 && o->val && *o->val)
			service = o->val;
	if (!service && getenv("PGSERVICE") && *getenv("PGSERVICE"))
		service = getenv("PGSERVICE");
	PQconninfoOption *svc = NULL;
	if (service && !(svc = service_options(service))) {
		snprintf(err, errlen, "definition of service \"%s\" not found", service);
		PQconninfoFree(opts);
		return NULL;
	}
	int nopt = 0;
	while (opts[nopt].keyword)
		nopt++;
	char **env = xcalloc((size_t)nopt + 6, sizeof *env);
	char *file = NULL;
	size_t filelen = 0, n = 0;
	FILE *fm = open_memstream(&file, &filelen);
	int rc = env && fm ? 0 : -1;
	if (fm)
		fprintf(fm, "[%s]\n", CHILD_SERVICE);
	int in_file = 0;
	for (int i = 0; rc == 0 && i < nopt; i++) {
		const PQconninfoOption *o = &opts[i];
		const char *v = o->val;
		if (strcmp(o->keyword, "service") == 0)
			continue;
		if (!v && svc && strcmp(svc[i].keyword, o->keyword) == 0)
			v = svc[i].val; /* both lists are libpq's one table, in its order */
		if (dbname && strcmp(o->keyword, "dbname") == 0)
			v = dbname;
		if (!v || child_own_option(o->keyword))
			continue;
		if (o->envvar) {
			rc = env_add(env, &n, "%s=%s", o->envvar, v);
			continue;
		}
		if (!service_value_ok(v)) {
			snprintf(
			    err, errlen,
			    "option %s cannot be passed to child tools: libpq reads it from no "
			    "environment variable, and a service file cannot hold this value",
			    o->keyword);
			rc = -2;
			break;
		}
		fprintf(fm, "%s=%s\n", o->keyword, v);
		in_file = 1;
	}
	if (fm && fclose(fm) != 0 && rc == 0)
		rc = -1;
	PQconninfoFree(opts);
	PQconninfoFree(svc);
	if (rc == 0 && in_file) {
		/* In memory (memfd), never on disk, 0600, and inherited by the child across
		 * exec, which reads it as /proc/self/fd/N. A child that drops to another user
		 * (the server's tools when we are root) cannot open it and fails: refused, not
		 * connected without the option. */
		int fd = memfd_create("midsops-libpq-service", 0);
		if (fd < 0 || fchmod(fd, 0600) < 0 ||
		    write(fd, file, filelen) != (ssize_t)filelen) {
			if (fd >= 0)
				close(fd);
			rc = -1;
		} else {
			char path[64];
			snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
			rc = env_add(env, &n, "PGSERVICEFILE=%s%s", path, "");
			if (rc == 0)
				rc = env_add(env, &n, "PGSERVICE=%s%s", CHILD_SERVICE, "");
			if (rc < 0)
				close(fd);
		}
	} else if (rc == 0 && service)
		/* Resolved above; without '=', putenv removes it from the child's environment. */
		rc = env_add(env, &n, "%s%s", "PGSERVICE", "");
	free(file);
	if (rc < 0) {
		if (rc == -1)
			snprintf(err, errlen, "cannot prepare the child's environment: %s",
				 strerror(errno));
		db_env_free(env);
		return NULL;
	}
	return env;
}

char **db_conninfo_env(const char *conninfo, const char *dbname)
{
	char err[512];
	return db_child_env(conninfo, dbname, err, sizeof err);
}

void db_env_free(char **env)
{
	int fd;
	for (char **e = env; e && *e; e++) {
		/* the service file of db_child_env: its descriptor lives as long as the array */
		if (sscanf(*e, "PGSERVICEFILE=/proc/self/fd/%d", &fd) == 1)
			close(fd);
		free(*e);
	}
	free(env);
}

cJSON *db_table_sum(PGconn *c, const char *table, const char *sql, char *err, size_t errlen)
{
	PGresult *r = db_query(c, err, errlen, sql, 0, NULL);
	if (!r)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "table", table);
	cJSON_AddNumberToObject(o, "rows", atof(PQgetvalue(r, 0, 0)));
	cJSON_AddStringToObject(o, "checksum", PQgetvalue(r, 0, 1));
	PQclear(r);
	return o;
}

void db_close(PGconn *c)
{
	PQfinish(c);
}

int db_client_version(void)
{
	return PQlibVersion();
}
