/* The synchronous guard: drop to asynchronous after [dr] synchronous_fallback_after seconds
 * without a synchronous standby, restore once one streams. What it removed is kept on the
 * server (REPL_FALLBACK_GUC, by ALTER SYSTEM), so whichever guard runs next, on any host,
 * knows what to put back, and a check can say the primary is degraded on purpose. */
#include "dr_sync.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "dr.h"
#include "log.h"
#include "probe.h"
#include "util.h"

static const char *const action_names[] = {
    [DS_IDLE] = "idle",	      [DS_HEALTHY] = "synchronous", [DS_WAITING] = "waiting",
    [DS_DROPPED] = "dropped", [DS_ASYNC] = "asynchronous",  [DS_RESTORED] = "restored",
};

const char *dr_sync_action_name(enum dr_sync_action a)
{
	return action_names[a];
}

int dr_sync_session(PGconn *c, char *err, size_t errlen)
{
	if (db_exec(c, err, errlen, "set synchronous_commit = local", 0, NULL) < 0)
		return -1;
	char *v =
	    db_scalar(c, err, errlen, "select pg_try_advisory_lock(" DR_SYNC_LOCK_KEY ")", 0, NULL);
	if (!v)
		return -1;
	int got = v[0] == 't';
	free(v);
	return got;
}

/* ALTER SYSTEM takes no parameters: the value goes in as an escaped literal. */
static int alter_system(PGconn *c, const char *name, const char *value, char *err, size_t errlen)
{
	struct strbuf sql = {0};
	if (!value)
		strbuf_addf(&sql, "alter system reset %s", name);
	else {
		char *lit = PQescapeLiteral(c, value, strlen(value));
		if (!lit) {
			snprintf(err, errlen, "cannot quote the value of %s: %s", name,
				 PQerrorMessage(c));
			return -1;
		}
		strbuf_addf(&sql, "alter system set %s = %s", name, lit);
		PQfreemem(lit);
	}
	int rc = db_exec(c, err, errlen, sql.s, 0, NULL);
	strbuf_free(&sql);
	return rc;
}

/* ALTER SYSTEM knows a custom setting only once the session has a placeholder for it. A
 * transaction-local one: a session value would hide what the reload reads from the file,
 * and this session (a --watch) reads the setting again on its next pass. */
static int fallback_placeholder(PGconn *c, char *err, size_t errlen)
{
	const char *p[] = {REPL_FALLBACK_GUC};
	if (db_exec(c, err, errlen, "begin", 0, NULL) < 0)
		return -1;
	if (db_exec(c, err, errlen, "select set_config($1, '', true)", 1, p) < 0) {
		db_rollback(c);
		return -1;
	}
	return db_exec(c, err, errlen, "commit", 0, NULL);
}

static int reload(PGconn *c, char *err, size_t errlen)
{
	return db_exec(c, err, errlen, "select pg_reload_conf()", 0, NULL);
}

/* Does a standby named in a synchronous_standby_names value stream (caught up, not
 * 'catchup')? Names are the value's identifiers besides FIRST/ANY and the counts; '*'
 * stands for any standby. Only a caught-up standby: one far behind would make every
 * commit wait for it to catch up first. */
static int named_standby_streams(PGconn *c, const char *names, char *err, size_t errlen)
{
	char list[1024] = "";
	size_t n = 0;
	for (const char *p = names; *p;) {
		char tok[128];
		size_t k = 0;
		if (*p == '"') {
			for (p++; *p && *p != '"' && k + 1 < sizeof tok; p++)
				tok[k++] = *p;
			if (*p == '"')
				p++;
		} else if (*p == '*' || isalnum((unsigned char)*p) || *p == '_') {
			if (*p == '*')
				tok[k++] = *p++;
			else
				while ((isalnum((unsigned char)*p) || *p == '_' || *p == '$') &&
				       k + 1 < sizeof tok)
					tok[k++] = (char)tolower((unsigned char)*p++);
		} else {
			p++;
			continue;
		}
		tok[k] = 0;
		if (!k || strcmp(tok, "first") == 0 || strcmp(tok, "any") == 0 ||
		    strspn(tok, "0123456789") == k)
			continue;
		n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
				      n ? "\n" : "", tok);
	}
	if (!list[0])
		return 0;
	const char *prm[] = {list};
	long long count;
	if (db_scalar_num(c, err, errlen,
			  "select count(*) from pg_stat_replication where state = 'streaming'"
			  " and (application_name = any(string_to_array($1, E'\\n'))"
			  "      or '*' = any(string_to_array($1, E'\\n')))",
			  1, prm, 0, &count) < 0)
		return -1;
	return count > 0;
}

static int drop_to_async(PGconn *c, struct dr_sync_result *res, char *err, size_t errlen)
{
	/* The names are kept before they are cleared: a guard stopped between the two
	 * statements leaves synchronous mode on and still knows what it guards. */
	if (fallback_placeholder(c, err, errlen) < 0 ||
	    alter_system(c, REPL_FALLBACK_GUC, res->names, err, errlen) < 0 ||
	    alter_system(c, "synchronous_standby_names", "", err, errlen) < 0 ||
	    reload(c, err, errlen) < 0)
		return -1;
	return 0;
}

static int restore_sync(PGconn *c, struct dr_sync_result *res, char *err, size_t errlen)
{
	if (alter_system(c, "synchronous_standby_names", res->names, err, errlen) < 0 ||
	    fallback_placeholder(c, err, errlen) < 0 ||
	    alter_system(c, REPL_FALLBACK_GUC, NULL, err, errlen) < 0 || reload(c, err, errlen) < 0)
		return -1;
	return 0;
}

int dr_sync_step(PGconn *c, const struct config *cfg, time_t *missing_since,
		 struct dr_sync_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof *res);
	struct repl_health *h = &res->h;
	if (probe_repl(c, h) < 0) {
		snprintf(err, errlen, "cannot read the replication state: %s", h->error);
		return -1;
	}
	time_t now = time(NULL);
	if (h->in_recovery) {
		snprintf(res->text, sizeof res->text, "a standby: nothing to guard");
		return 0;
	}
	if (!h->sync_names[0] && h->fallback_names[0]) {
		snprintf(res->names, sizeof res->names, "%s", h->fallback_names);
		int up = named_standby_streams(c, res->names, err, errlen);
		if (up < 0)
			return -1;
		if (!up) {
			res->action = DS_ASYNC;
			snprintf(
			    res->text, sizeof res->text,
			    "asynchronous since the guard dropped '%s'; it does not stream yet",
			    res->names);
			return 0;
		}
		if (restore_sync(c, res, err, errlen) < 0)
			return -1;
		res->action = DS_RESTORED;
		snprintf(
		    res->text, sizeof res->text,
		    "synchronous replication restored: '%s' streams again, commits wait for it",
		    res->names);
		db_event(c, "info", "dr-sync-guard", "%s", res->text);
		return 0;
	}
	if (!h->sync_names[0]) {
		snprintf(res->text, sizeof res->text,
			 "not synchronous (synchronous_standby_names is empty): nothing to guard");
		return 0;
	}
	snprintf(res->names, sizeof res->names, "%s", h->sync_names);
	if (h->sync_standbys > 0) {
		if (missing_since)
			*missing_since = 0;
		res->action = DS_HEALTHY;
		snprintf(res->text, sizeof res->text, "synchronous: '%s' connected", res->names);
		return 0;
	}
	if (missing_since && !*missing_since)
		*missing_since = now;
	res->missing_s = h->sync_waiters ? h->sync_wait_s : 0;
	if (missing_since && difftime(now, *missing_since) > res->missing_s)
		res->missing_s = difftime(now, *missing_since);
	res->action = DS_WAITING;
	char d[64];
	fmt_duration(d, sizeof d, res->missing_s);
	if (!cfg->dr_sync_fallback) {
		snprintf(res->text, sizeof res->text,
			 "strict: no synchronous standby for %s, %d commit%s waiting; left "
			 "synchronous ([dr] synchronous = strict)",
			 d, h->sync_waiters, h->sync_waiters == 1 ? "" : "s");
		return 0;
	}
	if (res->missing_s < cfg->dr_sync_fallback_after) {
		snprintf(res->text, sizeof res->text,
			 "no synchronous standby for %s, %d commit%s waiting; dropping to "
			 "asynchronous after %.0f s",
			 d, h->sync_waiters, h->sync_waiters == 1 ? "" : "s",
			 cfg->dr_sync_fallback_after);
		return 0;
	}
	if (drop_to_async(c, res, err, errlen) < 0)
		return -1;
	res->action = DS_DROPPED;
	snprintf(res->text, sizeof res->text,
		 "dropped to asynchronous replication: no synchronous standby ('%s') for %s, "
		 "%d commit%s released; synchronous again once it streams",
		 res->names, d, h->sync_waiters, h->sync_waiters == 1 ? "" : "s");
	db_event(c, "warning", "dr-sync-guard", "%s", res->text);
	return 0;
}

PGconn *dr_sync_guard_connect(const struct target *t, int *locked, char *err, size_t errlen)
{
	/* A guard watches a primary; it never starts one. */
	db_set_may_start(0);
	PGconn *c = db_connect(t, "dr-sync-guard", err, errlen);
	if (!c)
		return NULL;
	*locked = dr_sync_session(c, err, errlen);
	if (*locked < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

int dr_conn_ok(PGconn *c)
{
	return c && PQstatus(c) == CONNECTION_OK;
}
