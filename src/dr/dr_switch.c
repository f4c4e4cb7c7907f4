/* The two nodes midsops runs for DR, and the clean switchover between them: the primary is
 * stopped with a fast shutdown, which sends every WAL record, its shutdown checkpoint last,
 * to the connected standby before it exits; the standby must have replayed that checkpoint
 * before it is promoted, so the loss is measured (0 bytes), never assumed. The old primary
 * then starts as a standby of the new one and production is re-pointed. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "dr_role.h"
#include "dr_site.h"
#include "log.h"
#include "paths.h"
#include "proc.h"
#include "target.h"
#include "util.h"

/* A cut conninfo would connect elsewhere or as someone else: -1 (err) then. */
static int node_dsn(struct dr_node *n, const char *dbname, const char *user, char *err,
		    size_t errlen)
{
	if (!util_fits(snprintf(n->dsn, sizeof n->dsn, "host=%s port=%d dbname=%s user=%s",
				n->c.sockdir, n->c.port, dbname && *dbname ? dbname : "midsops",
				user && *user ? user : "midsops"),
		       sizeof n->dsn)) {
		snprintf(err, errlen, "conninfo too long for the socket directory %.200s",
			 n->c.sockdir);
		return -1;
	}
	return 0;
}

int dr_node_embedded(struct dr_node *n, const char *dbname, const char *user, char *err,
		     size_t errlen)
{
	memset(n, 0, sizeof *n);
	if (cluster_locate(&n->c, NULL, err, errlen) < 0)
		return -1;
	n->embedded = 1;
	snprintf(n->name, sizeof n->name, "embedded cluster");
	return node_dsn(n, dbname, user, err, errlen);
}

int dr_node_site(struct dr_node *n, const char *dbname, const char *user, char *err, size_t errlen)
{
	char dir[PATH_MAX], pg[PATH_MAX + 8];
	cJSON *st = dr_load("state.json");
	if (dr_str(st, "site_dir")[0])
		snprintf(dir, sizeof dir, "%s", dr_str(st, "site_dir"));
	else
		snprintf(dir, sizeof dir, "%s/dr", paths_data_dir());
	cJSON_Delete(st);
	memset(n, 0, sizeof *n);
	snprintf(pg, sizeof pg, "%s/pg", dir);
	struct stat sb;
	if (stat(pg, &sb) < 0) {
		snprintf(err, errlen, "no DR site made by dr-setup at %s", pg);
		return -1;
	}
	if (dr_site_locate(&n->c, dir, 0, err, errlen) < 0)
		return -1;
	snprintf(n->name, sizeof n->name, "DR site");
	return node_dsn(n, dbname, user, err, errlen);
}

static int same_dir(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];
	if (!realpath(a, ra) || !realpath(b, rb))
		return strcmp(a, b) == 0;
	return strcmp(ra, rb) == 0;
}

int dr_node_of(PGconn *c, struct dr_node *n, char *err, size_t errlen)
{
	char *dd = db_scalar(c, err, errlen, "select current_setting('data_directory')", 0, NULL);
	if (!dd)
		return -1;
	const char *db = PQdb(c), *user = PQuser(c);
	char e2[512];
	int rc = -1;
	if (dr_node_embedded(n, db, user, e2, sizeof e2) == 0 && same_dir(dd, n->c.datadir))
		rc = 0;
	else if (dr_node_site(n, db, user, e2, sizeof e2) == 0 && same_dir(dd, n->c.datadir))
		rc = 0;
	else
		snprintf(err, errlen,
			 "the server with data directory %s is neither the embedded cluster nor "
			 "the DR site dr-setup made; midsops cannot stop, start or rewind it",
			 dd);
	free(dd);
	return rc;
}

int dr_node_other(const struct dr_node *n, struct dr_node *other, char *err, size_t errlen)
{
	const char *db = "", *user = "";
	char dbname[256] = "", usr[256] = "";
	/* The same database and user as the node's own conninfo. */
	const char *p = strstr(n->dsn, "dbname=");
	if (p)
		sscanf(p + 7, "%255s", dbname), db = dbname;
	p = strstr(n->dsn, "user=");
	if (p)
		sscanf(p + 5, "%255s", usr), user = usr;
	return n->embedded ? dr_node_site(other, db, user, err, errlen)
			   : dr_node_embedded(other, db, user, err, errlen);
}

static void field(const char *text, const char *label, char *dst, size_t n)
{
	dst[0] = 0;
	const char *p = strstr(text, label);
	if (!p)
		return;
	p += strlen(label);
	while (*p == ' ')
		p++;
	size_t len = strcspn(p, "\n");
	snprintf(dst, n, "%.*s", (int)len, p);
}

int dr_node_control(const struct dr_node *n, struct dr_control *ctl, char *err, size_t errlen)
{
	char bin[1024], v[64];
	memset(ctl, 0, sizeof *ctl);
	if (!proc_pg_bin("pg_controldata", bin, sizeof bin)) {
		snprintf(err, errlen, "pg_controldata not found; install postgresql-15");
		return -1;
	}
	char *argv[] = {bin, "-D", (char *)n->c.datadir, NULL};
	/* The C locale keeps the labels in English, whatever the operator's language. */
	char *env[] = {"LC_ALL=C", NULL};
	struct proc_opts o = {
	    .uid = n->c.uid, .gid = n->c.gid, .capture = 1, .cwd = "/", .envp_add = env};
	char *out = NULL;
	int st = proc_run(argv, &o, &out);
	if (st != 0 || !out) {
		snprintf(err, errlen, "pg_controldata -D %s failed (exit %d): %.200s", n->c.datadir,
			 st, out ? out : "");
		free(out);
		return -1;
	}
	field(out, "Database cluster state:", ctl->state, sizeof ctl->state);
	field(out, "Latest checkpoint location:", ctl->ckpt_lsn, sizeof ctl->ckpt_lsn);
	field(out, "Latest checkpoint's TimeLineID:", v, sizeof v);
	ctl->timeline = atoi(v);
	field(out, "Data page checksum version:", v, sizeof v);
	ctl->checksums = atoi(v) > 0;
	field(out, "wal_log_hints setting:", v, sizeof v);
	ctl->wal_log_hints = strcmp(v, "on") == 0;
	free(out);
	if (!ctl->state[0] || !ctl->ckpt_lsn[0]) {
		snprintf(err, errlen, "pg_controldata -D %s: no cluster state in its output",
			 n->c.datadir);
		return -1;
	}
	return 0;
}

/* A conninfo value in single quotes, then the whole setting in the configuration file's
 * own quoting: two layers, so a socket path with a space or quote survives both. -1 when it
 * does not fit ci: a cut one would name another server. */
static int conf_conninfo(char *dst, size_t n, const struct dr_node *primary)
{
	char ci[PATH_MAX * 2], q[PATH_MAX * 2];
	size_t k = 0;
	for (const char *s = primary->c.sockdir; *s && k + 3 < sizeof q; s++) {
		if (*s == '\'' || *s == '\\')
			q[k++] = '\\';
		q[k++] = *s;
	}
	q[k] = 0;
	const char *u = strstr(primary->dsn, "user=");
	char user[256] = "midsops";
	if (u)
		sscanf(u + 5, "%255s", user);
	if (!util_fits(snprintf(ci, sizeof ci, "host='%s' port=%d user=%s application_name=%s", q,
				primary->c.port, user, DR_APP),
		       sizeof ci))
		return -1;
	k = 0;
	for (const char *s = ci; *s && k + 3 < n; s++) {
		if (*s == '\'')
			dst[k++] = '\'';
		dst[k++] = *s;
	}
	dst[k] = 0;
	return 0;
}

int dr_node_make_standby(const struct dr_node *n, const struct dr_node *primary, int own_conf,
			 char *err, size_t errlen)
{
	char ci[PATH_MAX * 3], text[PATH_MAX * 3 + 256];
	if (conf_conninfo(ci, sizeof ci, primary) < 0) {
		snprintf(err, errlen, "primary_conninfo too long for the socket directory %.200s",
			 primary->c.sockdir);
		return -1;
	}
	/* Appended after what pg_basebackup -R or a rewound copy left there: later lines win,
	 * and ALTER SYSTEM keeps only the last one when it next rewrites the file. */
	snprintf(text, sizeof text,
		 "primary_conninfo = '%s'\nprimary_slot_name = '%s'\n"
		 "recovery_target_timeline = 'latest'\n",
		 ci, DR_SLOT);
	if (own_conf && dr_site_configure(&n->c, 1, err, errlen) < 0)
		return -1;
	if (cluster_file_put(&n->c, n->c.datadir, "postgresql.auto.conf", text, 1, err, errlen) < 0)
		return -1;
	return cluster_file_put(&n->c, n->c.datadir, "standby.signal", "", 0, err, errlen);
}

int dr_wait_streaming(PGconn *primary, int seconds)
{
	for (int i = 0; i < seconds * 5; i++) {
		char err[256];
		char *s = db_scalar(primary, err, sizeof err,
				    "select count(*) from pg_stat_replication\n"
				    "where application_name = '" DR_APP "' and state = 'streaming'",
				    0, NULL);
		int ok = s && atoi(s) > 0;
		free(s);
		if (ok)
			return 0;
		usleep(200000);
	}
	return -1;
}

int dr_slot_ensure(PGconn *primary, char *err, size_t errlen)
{
	return db_exec(primary, err, errlen,
		       "select pg_create_physical_replication_slot('" DR_SLOT "', true)\n"
		       "where not exists (select 1 from pg_replication_slots\n"
		       "                  where slot_name = '" DR_SLOT "')",
		       0, NULL);
}

int dr_role_repoint(struct config *cfg, const struct dr_node *primary,
		    const struct dr_node *standby, char *err, size_t errlen)
{
	if (dr_config_set_env(cfg, "production", primary->dsn, err, errlen) < 0 ||
	    dr_config_set_env(cfg, DR_ENV, standby->dsn, err, errlen) < 0)
		return -1;
	/* Every later command reaches the new primary: through production, or as the embedded
	 * cluster itself when that is the primary again (no default_env), so that whatever
	 * treats the embedded cluster specially (starting it, fencing it) knows it is the
	 * target. */
	const char *want = primary->embedded ? "" : "production";
	if (strcmp(cfg->default_env, want) != 0) {
		if (config_save_key(cfg, "midsops", "default_env", want, err, errlen) < 0)
			return -1;
		snprintf(cfg->default_env, sizeof cfg->default_env, "%s", want);
	}
	return 0;
}

static int sync_named(PGconn *c)
{
	char err[256];
	char *s = db_scalar(c, err, sizeof err,
			    "select current_setting('synchronous_standby_names')", 0, NULL);
	int yes = s && strstr(s, DR_APP) != NULL;
	free(s);
	return yes;
}

static int sync_apply(PGconn *c, int on, char *err, size_t errlen)
{
	if (on)
		return db_exec(c, err, errlen,
			       "alter system set synchronous_standby_names = '" DR_APP "'", 0,
			       NULL) < 0 ||
			       db_exec(c, err, errlen,
				       "alter system set synchronous_commit = 'remote_write'", 0,
				       NULL) < 0 ||
			       db_exec(c, err, errlen, "select pg_reload_conf()", 0, NULL) < 0
			   ? -1
			   : 0;
	return db_exec(c, err, errlen, "alter system reset synchronous_standby_names", 0, NULL) <
			   0 ||
		       db_exec(c, err, errlen, "alter system reset synchronous_commit", 0, NULL) <
			   0 ||
		       db_exec(c, err, errlen, "select pg_reload_conf()", 0, NULL) < 0
		   ? -1
		   : 0;
}

/* The standby's replayed and received positions. */
static int standby_positions(PGconn *sc, uint64_t *replay, uint64_t *recv, char *err, size_t errlen)
{
	PGresult *r = db_query(sc, err, errlen,
			       "select pg_last_wal_replay_lsn()::text, "
			       "pg_last_wal_receive_lsn()::text",
			       0, NULL);
	if (!r)
		return -1;
	*replay = lsn_parse(PQgetvalue(r, 0, 0));
	*recv = lsn_parse(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

static void lsn_text(uint64_t v, char *buf, size_t n)
{
	snprintf(buf, n, "%X/%X", (unsigned)(v >> 32), (unsigned)(v & 0xffffffffu));
}

/* Roles, as midsops last set them, beside the DR state. */
static void record_roles(const struct dr_node *primary, const struct dr_node *standby,
			 const char *how, double rto, long long loss)
{
	char at[64], err[256];
	dr_now(at, sizeof at);
	cJSON *r = dr_load("roles.json");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "primary");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "standby");
	cJSON_AddStringToObject(r, "primary", primary->c.datadir);
	cJSON_AddStringToObject(r, "standby", standby->c.datadir);
	cJSON *h = cJSON_GetObjectItemCaseSensitive(r, "history");
	if (!cJSON_IsArray(h)) {
		cJSON_DeleteItemFromObjectCaseSensitive(r, "history");
		h = cJSON_AddArrayToObject(r, "history");
	}
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "at", at);
	cJSON_AddStringToObject(e, "how", how);
	cJSON_AddStringToObject(e, "primary", primary->name);
	cJSON_AddNumberToObject(e, "writes_unavailable_s", rto);
	if (loss >= 0)
		cJSON_AddNumberToObject(e, "loss_bytes", (double)loss);
	cJSON_AddItemToArray(h, e);
	dr_save("roles.json", r, err, sizeof err);
	cJSON_Delete(r);
}

struct sw {
	struct out *o;
	PGconn *pc, *sc;
	struct dr_node p, s;
	int was_sync;
};

/* The old primary could not hand over: start it again as it was, so a refused switchover
 * leaves production where it was. */
static void undo(struct sw *w, const char *why)
{
	char err[1024];
	out_err(w->o, "dr-switchover: %s", why);
	if (dr_site_pg_ctl(&w->p.c, "start", NULL, err, sizeof err) < 0) {
		out_err(w->o, "dr-switchover: and the old primary %s did not start again: %s",
			w->p.c.datadir, err);
		return;
	}
	PGconn *c = probe_dr_connect(w->p.dsn, "dr-switchover", 10, err, sizeof err);
	if (c && w->was_sync)
		sync_apply(c, 1, err, sizeof err);
	PQfinish(c);
	out_line(w->o, "the old primary %s was started again as the primary; nothing changed",
		 w->p.name);
}

static int preflight(struct sw *w, const struct dr_switch_opts *opts, char *err, size_t errlen)
{
	char *rec = db_scalar(w->pc, err, errlen, "select pg_is_in_recovery()", 0, NULL);
	int in_rec = !rec || rec[0] == 't';
	free(rec);
	if (in_rec) {
		snprintf(err, errlen, "the target is not a primary (it is in recovery)");
		return -1;
	}
	struct dr_standby_snap s;
	probe_dr_standby(w->sc, &s);
	if (!s.ok) {
		snprintf(err, errlen, "the DR standby: %s", s.error);
		return -1;
	}
	if (!s.in_recovery) {
		snprintf(err, errlen, "the DR site is not a standby (it accepts writes)");
		return -1;
	}
	if (strcmp(s.receiver_status, "streaming") != 0) {
		snprintf(err, errlen,
			 "the DR standby is not streaming (WAL receiver: %s); a switchover needs "
			 "a standby that receives every record the primary writes",
			 s.receiver_status[0] ? s.receiver_status : "none");
		return -1;
	}
	const char *pv[] = {s.replay_lsn[0] ? s.replay_lsn : "0/0"};
	char *lag =
	    db_scalar(w->pc, err, errlen,
		      "select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint", 1, pv);
	long long lagb = lag ? atoll(lag) : -1;
	free(lag);
	if (lagb < 0 || lagb > opts->max_lag_bytes) {
		snprintf(err, errlen,
			 "the DR standby's replay is %lld bytes behind the primary (bound %lld, "
			 "--max-lag); wait for it to catch up",
			 lagb, opts->max_lag_bytes);
		return -1;
	}
	if (dr_node_of(w->pc, &w->p, err, errlen) < 0 || dr_node_of(w->sc, &w->s, err, errlen) < 0)
		return -1;
	if (w->p.embedded == w->s.embedded) {
		snprintf(err, errlen, "the primary and the DR site are the same cluster (%.900s)",
			 w->p.c.datadir);
		return -1;
	}
	return 0;
}

static int handover(struct sw *w, double *t0, uint64_t *ckpt, uint64_t *replay)
{
	char err[1024], ck[32], rp[32];
	db_event(w->pc, "warning", "dr-switchover", "switchover to the %s: writes stop here now",
		 w->s.name);
	/* Most dirty pages written before the clock starts: the shutdown checkpoint, during
	 * which nothing can be written, is then short. Without it the switchover is only
	 * slower, so it goes on. */
	if (db_exec(w->pc, err, sizeof err, "checkpoint", 0, NULL) < 0)
		out_warn(w->o,
			 "dr-switchover: the checkpoint before the handover failed, so writes "
			 "stop for the whole shutdown checkpoint: %s",
			 err);
	if (w->was_sync && sync_apply(w->pc, 0, err, sizeof err) < 0) {
		out_err(w->o, "dr-switchover: cannot stop waiting for the standby: %s", err);
		return -1;
	}
	PQfinish(w->pc);
	w->pc = NULL;
	*t0 = util_mono();
	if (dr_site_pg_ctl(&w->p.c, "stop", "fast", err, sizeof err) < 0) {
		undo(w, err);
		return -1;
	}
	log_event("info", "dr-switchover", "old primary stopped (%s, mode fast)", w->p.c.datadir);
	struct dr_control ctl;
	if (dr_node_control(&w->p, &ctl, err, sizeof err) < 0) {
		undo(w, err);
		return -1;
	}
	if (strcmp(ctl.state, "shut down") != 0) {
		char why[256];
		snprintf(why, sizeof why,
			 "the old primary's state after the stop is '%s', not "
			 "'shut down'",
			 ctl.state);
		undo(w, why);
		return -1;
	}
	*ckpt = lsn_parse(ctl.ckpt_lsn);
	/* The replay position is the end of the last replayed record: past the checkpoint's
	 * start exactly when the shutdown checkpoint itself was replayed. */
	uint64_t recv = 0;
	*replay = 0;
	for (int i = 0; i < 300; i++) {
		if (standby_positions(w->sc, replay, &recv, err, sizeof err) < 0)
			break;
		if (*replay > *ckpt)
			return 0;
		usleep(200000);
	}
	lsn_text(*ckpt, ck, sizeof ck);
	lsn_text(recv, rp, sizeof rp);
	char why[512];
	snprintf(why, sizeof why,
		 "the standby did not replay the old primary's shutdown checkpoint %s within "
		 "60 s (received up to %s); not promoted",
		 ck, rp);
	undo(w, why);
	return -1;
}

int dr_switchover(struct out *o, struct config *cfg, const struct target *t,
		  const struct dr_switch_opts *opts)
{
	char err[1024];
	const char *site = dr_site_dsn(cfg);
	if (!site) {
		out_err(o, "dr-switchover: no DR standby ([env dr]); create one with dr-setup");
		return EXIT_FAIL;
	}
	struct sw w = {.o = o};
	int rc = EXIT_FAIL;
	w.pc = probe_dr_connect(t->conninfo, "dr-switchover", 5, err, sizeof err);
	if (!w.pc) {
		out_err(o, "dr-switchover: the primary: %s", err);
		return EXIT_FAIL;
	}
	w.sc = probe_dr_connect(site, "dr-switchover", 5, err, sizeof err);
	if (!w.sc) {
		out_err(o, "dr-switchover: the DR standby: %s", err);
		goto out;
	}
	if (preflight(&w, opts, err, sizeof err) < 0) {
		out_err(o, "dr-switchover: refused: %s", err);
		goto out;
	}
	if (!opts->yes) {
		out_err(o, "dr-switchover stops the primary %s and promotes the %s: pass --yes",
			w.p.name, w.s.name);
		rc = EXIT_USAGE;
		goto out;
	}
	w.was_sync = sync_named(w.pc);
	double t0 = 0;
	uint64_t ckpt = 0, replay = 0;
	if (handover(&w, &t0, &ckpt, &replay) < 0)
		goto out;
	char *ok = db_scalar(w.sc, err, sizeof err, "select pg_promote(true, 60)", 0, NULL);
	int promoted = ok && ok[0] == 't';
	free(ok);
	/* A transaction id is only given to a transaction that may write. */
	char *xid =
	    promoted ? db_scalar(w.sc, err, sizeof err, "select txid_current()", 0, NULL) : NULL;
	double rto = util_mono() - t0;
	if (!xid) {
		out_err(o,
			"dr-switchover: the promotion of the %s failed: %s; the old primary %s is "
			"stopped, cleanly, at %s; start it with 'midsops cluster start' or retry",
			w.s.name, promoted ? err : "timed out", w.p.name, w.p.c.datadir);
		goto out;
	}
	free(xid);
	char ck[32], rp[32];
	lsn_text(ckpt, ck, sizeof ck);
	lsn_text(replay, rp, sizeof rp);
	log_event("warning", "dr-switchover",
		  "%s promoted after replaying %s (shutdown checkpoint %s)", w.s.c.datadir, rp, ck);
	/* The recovery settings the copy carried point at the node that is now the standby.
	 * A primary ignores them, so the switchover stands; but left behind they would send
	 * this node after the wrong primary the day it is made a standby again. */
	if (db_exec(w.sc, err, sizeof err, "alter system reset primary_conninfo", 0, NULL) < 0 ||
	    db_exec(w.sc, err, sizeof err, "alter system reset primary_slot_name", 0, NULL) < 0 ||
	    db_exec(w.sc, err, sizeof err, "select pg_reload_conf()", 0, NULL) < 0)
		out_warn(o,
			 "dr-switchover: the new primary, the %s, keeps the recovery settings of "
			 "its time as a standby (reset primary_conninfo and primary_slot_name with "
			 "ALTER SYSTEM RESET, then select pg_reload_conf()): %s",
			 w.s.name, err);

	int streaming = 0, dropped = 0;
	if (dr_slot_ensure(w.sc, err, sizeof err) < 0 ||
	    dr_node_make_standby(&w.p, &w.s, 0, err, sizeof err) < 0 ||
	    dr_site_pg_ctl(&w.p.c, "start", NULL, err, sizeof err) < 0) {
		out_err(o,
			"dr-switchover: the %s is the primary now, but the old primary did not "
			"become its standby: %s",
			w.s.name, err);
	} else {
		streaming = dr_wait_streaming(w.sc, 60) == 0;
		PGconn *nc = probe_dr_connect(w.p.dsn, "dr-switchover", 10, err, sizeof err);
		if (nc) {
			dropped = dr_slots_drop_orphans(nc, err, sizeof err);
			PQfinish(nc);
		}
	}
	int is_sync = 0;
	if (w.was_sync && streaming)
		is_sync = sync_apply(w.sc, 1, err, sizeof err) == 0;
	if (dr_role_repoint(cfg, &w.s, &w.p, err, sizeof err) < 0) {
		out_err(o, "dr-switchover: switched, but the config was not re-pointed: %s", err);
		goto out;
	}
	db_event(w.sc, "warning", "dr-switchover",
		 "switchover: this %s is the primary (promoted after replaying %s, shutdown "
		 "checkpoint %s of the old primary); writes unavailable %.2f s",
		 w.s.name, rp, ck, rto);
	record_roles(&w.s, &w.p, "switchover", rto, 0);
	out_kv(o, "new_primary", "%s (%s)", w.s.name, w.s.c.datadir);
	out_kv_status(o, "new_standby", streaming ? ST_OK : ST_CRITICAL, "%s (%s): %s", w.p.name,
		      w.p.c.datadir,
		      streaming ? "streaming from the new primary" : "not streaming");
	out_kv(o, "shutdown_checkpoint", "%s", ck);
	out_kv(o, "standby_replayed", "%s", rp);
	struct out_fig lf = {.value = 0, .unit = OUT_BYTES};
	out_fig(o, "loss_bytes", &lf,
		"0 bytes (measured: the standby replayed past the old "
		"primary's shutdown checkpoint)");
	struct out_fig rf = {.value = rto, .unit = OUT_SECONDS};
	out_fig(o, "writes_unavailable", &rf,
		"%.2f s (stop of the old primary -> first write "
		"on the new one)",
		rto);
	if (dropped > 0)
		out_kv(o, "orphaned_slot", "%s dropped on the old primary", DR_SLOT);
	if (w.was_sync)
		out_kv(o, "synchronous", "%s",
		       is_sync ? "yes, on the new primary"
			       : "no: the new "
				 "standby does not stream yet");
	out_kv(o, "production", "%s (in %s)", w.s.dsn, cfg->path);
	dr_phase("switchover", streaming ? ST_OK : ST_WARNING,
		 "%s promoted, 0 bytes lost, writes unavailable %.2f s; old primary %s", w.s.name,
		 rto, streaming ? "streams from it" : "does not stream");
	out_line(o, "switchover done: the %s is the primary, the %s its standby", w.s.name,
		 w.p.name);
	rc = streaming ? 0 : EXIT_FAIL;
out:
	PQfinish(w.pc);
	PQfinish(w.sc);
	return rc;
}
