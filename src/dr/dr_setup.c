/* The SQL and libpq work behind dr-setup and dr-restore (contract in include/dr_site.h):
 * what the primary must offer a standby, the DR slot, the primary's synchronous naming of
 * the site, and a look at a site that may or may not answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "dr.h"
#include "dr_site.h"
#include "probe.h"

void dr_conn_close(PGconn *c)
{
	PQfinish(c);
}

int dr_site_look(const char *dsn, const char *app, int timeout_s, struct dr_standby_snap *s,
		 char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	PGconn *c = probe_dr_connect(dsn, app, timeout_s, err, errlen);
	if (!c)
		return -1;
	probe_dr_standby(c, s);
	PQfinish(c);
	return 0;
}

int dr_site_wait_promoted(const char *dsn, const char *app, int tries, char *err, size_t errlen)
{
	for (int i = 0; i < tries; i++) {
		PGconn *c = probe_dr_connect(dsn, app, 2, err, errlen);
		int done = 0;
		if (c) {
			char *r = db_scalar(c, err, errlen, "select pg_is_in_recovery()", 0, NULL);
			done = r && r[0] == 'f';
			free(r);
			PQfinish(c);
		}
		if (done)
			return 0;
		usleep(200000);
	}
	return -1;
}

int dr_setup_primary_fit(PGconn *pc, struct dr_primary_fit *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	PGresult *r = db_query(pc, err, errlen,
			       "select pg_is_in_recovery(), current_setting('wal_level'),\n"
			       "  current_setting('max_wal_senders')::int, inet_server_port()",
			       0, NULL);
	if (!r)
		return -1;
	f->in_recovery = PQgetvalue(r, 0, 0)[0] == 't';
	snprintf(f->wal_level, sizeof f->wal_level, "%s", PQgetvalue(r, 0, 1));
	f->senders = atoi(PQgetvalue(r, 0, 2));
	PQclear(r);
	f->port = PQport(pc) ? atoi(PQport(pc)) : 5432;
	return 0;
}

int dr_setup_hba_replication_rules(PGconn *pc, char *err, size_t errlen)
{
	/* initdb --auth-local=trust writes "local replication all trust"; a hand-edited
	 * pg_hba.conf may not have it. Only a superuser can read the rules. */
	long long n;
	if (db_scalar_num(
		pc, err, errlen,
		"select count(*) from pg_hba_file_rules\n"
		"where 'replication' = any(database) and type = 'local' and error is null",
		0, NULL, 0, &n) < 0)
		return -1;
	return (int)n;
}

int dr_setup_slot_active(PGconn *pc)
{
	char err[256];
	PGresult *r = db_query(
	    pc, err, sizeof err,
	    "select active from pg_replication_slots where slot_name = '" DR_SLOT "'", 0, NULL);
	int active = r && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return active;
}

int dr_setup_drop_idle_slot(PGconn *pc, char *err, size_t errlen)
{
	return db_exec(pc, err, errlen,
		       "select pg_drop_replication_slot(slot_name) from pg_replication_slots\n"
		       "where slot_name = '" DR_SLOT "' and not active",
		       0, NULL);
}

int dr_setup_wait_streaming(PGconn *pc, int seconds)
{
	for (int i = 0; i < seconds * 5; i++) {
		struct dr_primary_snap p;
		if (probe_dr_primary(pc, &p) == 0 && p.streaming &&
		    strcmp(p.state, "streaming") == 0)
			return 0;
		usleep(200000);
	}
	return -1;
}

int dr_setup_sync_unset(PGconn *pc, char *err, size_t errlen)
{
	char *names = db_scalar(pc, err, errlen,
				"select current_setting('synchronous_standby_names')", 0, NULL);
	if (!names)
		return -1;
	int ours = strstr(names, DR_APP) != NULL;
	free(names);
	if (!ours)
		return 0;
	return db_exec(pc, err, errlen, "alter system set synchronous_standby_names = ''", 0,
		       NULL) < 0 ||
		       db_exec(pc, err, errlen, "alter system reset synchronous_commit", 0, NULL) <
			   0 ||
		       db_exec(pc, err, errlen, "select pg_reload_conf()", 0, NULL) < 0
		   ? -1
		   : 1;
}

int dr_setup_sync_set(PGconn *pc, char *err, size_t errlen)
{
	if (db_exec(pc, err, errlen, "alter system set synchronous_standby_names = '" DR_APP "'", 0,
		    NULL) < 0 ||
	    db_exec(pc, err, errlen, "alter system set synchronous_commit = 'remote_write'", 0,
		    NULL) < 0 ||
	    db_exec(pc, err, errlen, "select pg_reload_conf()", 0, NULL) < 0)
		return -1;
	for (int i = 0; i < 100; i++) {
		char *st = db_scalar(pc, err, errlen,
				     "select coalesce((select sync_state from pg_stat_replication "
				     "where application_name = '" DR_APP "' limit 1), 'none')",
				     0, NULL);
		int sync = st && strcmp(st, "sync") == 0;
		free(st);
		if (sync)
			return 0;
		usleep(100000);
	}
	snprintf(err, errlen, "the standby did not report itself synchronous within 10 s");
	return -1;
}

void dr_setup_site_dsn(PGconn *pc, const struct cluster *site, char *dsn, size_t n)
{
	const char *db = PQdb(pc), *user = PQuser(pc);
	snprintf(dsn, n, "host=%s port=%d dbname=%s user=%s", site->sockdir, site->port,
		 db ? db : "postgres", user ? user : "postgres");
}
