/* libpq helpers. Values always go through parameters; identifiers through
 * PQescapeIdentifier (db_ident). */
#ifndef MIDSOPS_DB_H
#define MIDSOPS_DB_H

#include <libpq-fe.h>
#include <stddef.h>

struct target;

/* Connect (synchronously), starting the embedded cluster first when that is the target.
 * application_name is set to "midsops <app>". On failure returns NULL and writes
 * "cannot connect to <masked target>: <libpq reason>" into err. */
/* Checks and observers (status, watch, metrics, collect) never start the embedded
 * cluster: cmd_run sets this per command. Default: may start. */
void db_set_may_start(int yes);
/* Whether a result column of this type is a number (int2/4/8, float4/8, numeric, oid). */
int db_type_numeric(Oid type);
PGconn *db_connect(const struct target *t, const char *app, char *err, size_t errlen);
/* Same, but makes sure the schema is created/migrated (commands that need tables). */
PGconn *db_connect_ready(const struct target *t, const char *app, char *err, size_t errlen);

/* Execute with text parameters. Returns a result (PGRES_COMMAND_OK or TUPLES_OK), or
 * NULL with the server's message in err (the failed result is cleared). */
PGresult *db_query(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
		   const char *const *params);
/* A failed statement as the engines report it: the SQLSTATE, to decide by ("" when the
 * server never answered), and the message as db_query writes it, to show. */
struct db_error {
	char sqlstate[6];
	char message[1024];
};
/* db_query that keeps the SQLSTATE of a failure in e. */
PGresult *db_query_e(PGconn *c, struct db_error *e, const char *sql, int nparams,
		     const char *const *params);
/* The same, discarding the result: 0, or -1 with the SQLSTATE in e. */
int db_exec_e(PGconn *c, struct db_error *e, const char *sql, int nparams,
	      const char *const *params);
/* Convenience: run, discard result, return 0 or -1. */
int db_exec(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
	    const char *const *params);
/* First column of the first row as a malloc'ed string (NULL on error or SQL NULL). */
char *db_scalar(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
		const char *const *params);
/* The same read as a whole number: 0, or -1 with err. No row or SQL NULL gives dflt, so
 * a count or a max() needs no check of its own. */
int db_scalar_num(PGconn *c, char *err, size_t errlen, const char *sql, int nparams,
		  const char *const *params, long long dflt, long long *out);

int db_begin(PGconn *c, char *err, size_t errlen);
int db_commit(PGconn *c, char *err, size_t errlen);
void db_rollback(PGconn *c);
/* Close a connection a command opened itself (NULL is fine): the one libpq call commands
 * would otherwise make. */
void db_close(PGconn *c);
/* The linked libpq's version (PQlibVersion), for `midsops version`. */
int db_client_version(void);

/* One table's figures for a comparison (backup manifests, data-checksums): sql answers
 * one row of count and checksum. Returns {"table", "rows", "checksum"}, or NULL with err. */
struct cJSON *db_table_sum(PGconn *c, const char *table, const char *sql, char *err, size_t errlen);

/* midsops's own work runs as this NOLOGIN role, so that pg_stat_statements, which keeps
 * figures per role, tells it from the web workload (db.c, ARCHITECTURE.md). db_connect
 * switches to it when it may; the schema's setup (migrate_up) creates it for a superuser
 * login, so checks, which only observe, never do. */
#define DB_OWN_ROLE "midsops_work"
/* Switch another connection (one not made by db_connect) too; 1 when it switched. */
int db_own_role_enter(PGconn *c);
/* The same, first creating the role when it is missing and the login is a superuser. */
int db_own_role_ensure(PGconn *c);
/* The switch as one statement returning one row, for a connection driven asynchronously. */
const char *db_own_role_sql(void);
/* Whether this process's connections run as DB_OWN_ROLE: 0 no, 1 as a superuser role (so
 * child tools may take it for anything: --role), 2 granted to a login that is none. */
int db_own_role_active(void);
/* Why not, when they do not ("" when they do, or before any connection). */
const char *db_own_role_note(void);
/* Inside a transaction: the rest of it runs as the login itself (SET LOCAL ROLE NONE), for
 * statements whose objects must belong to the login (migrations, default privileges), and
 * untracked by pg_stat_statements when the login is a superuser. */
int db_as_login(PGconn *c, char *err, size_t errlen);

/* Quoted identifier, malloc'ed via PQescapeIdentifier (caller PQfreemem). */
char *db_ident(PGconn *c, const char *name);

/* Record an event in ops.events (level: info|warning|error) and the log file. Never
 * fails the caller: a journal that cannot be written goes to stderr. */
void db_event(PGconn *c, const char *level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Where db_event also appends (the configured log_dir). */
void db_set_log_dir(const char *dir);

/* The connection parameters of a conninfo (key/value or URI) as "PGHOST=..." strings for a
 * child's environment (proc_opts.envp_add), so that external tools (psql, pg_dump,
 * pg_basebackup, ...) get the connection, and above all a password, without argv. dbname,
 * when not NULL, replaces the database. Returns a malloc'ed NULL-terminated array (empty
 * for an empty conninfo: the child then reads libpq's own variables), or NULL when the
 * conninfo cannot be parsed. Free with db_env_free (NULL is fine). */
char **db_conninfo_env(const char *conninfo, const char *dbname);
/* The same with the reason when it fails. Every option the linked libpq knows reaches the
 * child: in its PG* variable, or, for those libpq reads from none (sslpassword, keepalives,
 * tcp_user_timeout), in a 0600 in-memory service file named by PGSERVICEFILE (its
 * descriptor is inherited; db_env_free closes it). A service is resolved here, so the
 * conninfo's own options keep precedence over it. NULL when the conninfo does not parse,
 * its service is not defined, or a value cannot travel: the caller must then refuse, never
 * run the child with libpq's defaults. */
char **db_child_env(const char *conninfo, const char *dbname, char *err, size_t errlen);
void db_env_free(char **env);

#endif
