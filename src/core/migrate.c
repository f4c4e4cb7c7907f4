/* Schema migrations, applied in order under an advisory lock. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Serialises concurrent migrators (console and a child command starting together). */
#define MIGRATE_LOCK "7306110001"

int migrate_latest(void)
{
	int v = 0;
	for (const struct migration *m = migrations; m->version; m++)
		if (m->version > v)
			v = m->version;
	return v;
}

int migrate_current(PGconn *c, char *err, size_t errlen)
{
	err[0] = 0; /* db_scalar leaves it alone for SQL NULL, which means "no schema" here */
	char *reg =
	    db_scalar(c, err, errlen, "select to_regclass('ops.schema_version')::text", 0, NULL);
	if (!reg)
		return err[0] ? -1 : 0;
	free(reg);
	long long n;
	if (db_scalar_num(c, err, errlen, "select max(version) from ops.schema_version", 0, NULL, 0,
			  &n) < 0)
		return -1;
	return (int)n;
}

int migrate_up(PGconn *c, int *applied, char *err, size_t errlen)
{
	*applied = 0;
	err[0] = 0;
	if (db_exec(c, err, errlen, "select pg_advisory_lock(" MIGRATE_LOCK ")", 0, NULL) < 0)
		return -1;
	int rc = 0;
	int cur = migrate_current(c, err, errlen);
	if (cur < 0) {
		rc = -1;
		goto out;
	}
	if (cur > migrate_latest()) {
		snprintf(err, errlen,
			 "the database schema is version %d, newer than this midsops knows (%d); "
			 "upgrade midsops before using it on this database",
			 cur, migrate_latest());
		rc = -1;
		goto out;
	}
	/* Every compiled migration not yet recorded, in order: numbers are reserved per family,
	 * so a lower-numbered one can land after higher ones were applied. */
	char *done = cur > 0 ? db_scalar(c, err, errlen,
					 "select ','||string_agg(version::text, ',')||',' "
					 "from ops.schema_version",
					 0, NULL)
			     : NULL;
	for (const struct migration *m = migrations; m->version; m++) {
		char tag[24];
		snprintf(tag, sizeof tag, ",%d,", m->version);
		if (done && strstr(done, tag))
			continue;
		/* As the login, not midsops's own role: the objects a migration creates belong to
		 * the login, as before that role existed, so dumps restore on servers without it
		 * and db-roles' default privileges (set by the login) apply to them. */
		if (db_begin(c, err, errlen) < 0 || db_as_login(c, err, errlen) < 0) {
			db_rollback(c);
			rc = -1;
			break;
		}
		PGresult *r = PQexec(c, m->sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "migration %03d_%s failed: %s", m->version, m->name,
				 PQresultErrorMessage(r));
			PQclear(r);
			db_rollback(c);
			rc = -1;
			break;
		}
		PQclear(r);
		char ver[16];
		snprintf(ver, sizeof ver, "%d", m->version);
		const char *p[] = {ver, m->name};
		if (db_exec(c, err, errlen,
			    "insert into ops.schema_version(version, name) values ($1::int, $2)", 2,
			    p) < 0 ||
		    db_commit(c, err, errlen) < 0) {
			db_rollback(c);
			rc = -1;
			break;
		}
		(*applied)++;
	}
	free(done);
out:;
	PGresult *r = PQexec(c, "select pg_advisory_unlock(" MIGRATE_LOCK ")");
	PQclear(r);
	/* The schema is ready, and so is the role midsops does its work as (db.c); the
	 * connection switches to it now if db_connect could not. */
	if (rc == 0)
		db_own_role_ensure(c);
	return rc;
}
