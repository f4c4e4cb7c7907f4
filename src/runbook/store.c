/* Persistence of wizard runs: a local JSON state file always (0600, under
 * $XDG_STATE_HOME/midsops/wizards/), and ops.wizard_runs / ops.wizard_steps whenever the
 * database answers. The database may be what is broken, so offline is a normal state and
 * local runs are synced in when it comes back. */
#include "runbook.h"
#include "util.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "migrate.h"
#include "paths.h"
#include "target.h"

/* Advisory lock class for wizard runs: pg_try_advisory_lock(4040, id). */
#define WZ_LOCK_CLASS "4040"

static const char *wz_dir(void)
{
	static char buf[4200];
	snprintf(buf, sizeof buf, "%s/wizards", paths_state_dir());
	paths_mkdir_p(buf, 0700);
	return buf;
}

static void state_path(const char *local_id, const char *ext, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s.%s", wz_dir(), local_id, ext);
}

/* ------------------------------------------------------------------ JSON */

static cJSON *run_to_json(const struct wz_run *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "local_id", r->local_id);
	cJSON_AddNumberToObject(j, "id", (double)r->id);
	cJSON_AddStringToObject(j, "runbook", r->runbook);
	cJSON_AddStringToObject(j, "title", r->title);
	cJSON_AddStringToObject(j, "operator", r->operator_);
	cJSON_AddStringToObject(j, "host", r->host);
	cJSON_AddStringToObject(j, "status", wz_status_name(r->status));
	cJSON_AddStringToObject(j, "reason", r->reason);
	cJSON_AddNumberToObject(j, "started", (double)r->started);
	cJSON_AddNumberToObject(j, "ended", (double)r->ended);
	cJSON_AddNumberToObject(j, "updated", (double)r->updated);
	const char *cur = r->rb && r->cursor < r->rb->nsteps ? r->rb->steps[r->cursor].id : "";
	cJSON_AddStringToObject(j, "cursor", cur);
	cJSON *h = cJSON_AddArrayToObject(j, "history");
	for (int i = 0; i < r->nhistory; i++)
		if (r->rb && r->history[i] < r->rb->nsteps)
			cJSON_AddItemToArray(h, cJSON_CreateString(r->rb->steps[r->history[i]].id));
	cJSON *p = cJSON_AddObjectToObject(j, "params");
	for (int i = 0; i < r->nparams; i++)
		cJSON_AddStringToObject(p, r->params[i].name, r->params[i].value);
	cJSON_AddNumberToObject(j, "worst", r->worst);
	cJSON_AddNumberToObject(j, "version", r->version);
	cJSON_AddBoolToObject(j, "synced", r->synced);
	cJSON_AddBoolToObject(j, "offline", r->offline);
	cJSON *as = cJSON_AddArrayToObject(j, "attempts");
	for (int i = 0; i < r->nattempts; i++) {
		const struct wz_attempt *a = &r->attempts[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "step", a->step_id);
		cJSON_AddNumberToObject(o, "started", (double)a->started);
		cJSON_AddNumberToObject(o, "ended", (double)a->ended);
		cJSON_AddStringToObject(o, "outcome", wz_outcome_name(a->outcome));
		cJSON_AddNumberToObject(o, "exit_status", a->exit_status);
		if (a->excerpt)
			cJSON_AddStringToObject(o, "excerpt", a->excerpt);
		if (a->reason)
			cJSON_AddStringToObject(o, "reason", a->reason);
		if (a->detail)
			cJSON_AddStringToObject(o, "detail", a->detail);
		cJSON_AddStringToObject(o, "actor", a->actor);
		cJSON_AddItemToArray(as, o);
	}
	return j;
}

#define F(m, key, t) UTIL_JF(struct wz_run, m, key, t)
static const struct util_jfield run_fields[] = {
    F(local_id, "local_id", UTIL_J_STR),  F(id, "id", UTIL_J_LL),
    F(runbook, "runbook", UTIL_J_STR),	  F(title, "title", UTIL_J_STR),
    F(operator_, "operator", UTIL_J_STR), F(host, "host", UTIL_J_STR),
    F(reason, "reason", UTIL_J_STR),	  F(started, "started", UTIL_J_TIME),
    F(ended, "ended", UTIL_J_TIME),	  F(updated, "updated", UTIL_J_TIME),
    F(worst, "worst", UTIL_J_INT),	  F(version, "version", UTIL_J_INT)};
#undef F

/* A run from its JSON; with rb given, step ids become indexes (a step id the runbook no
 * longer has is an error). */
static struct wz_run *run_from_json(const cJSON *j, struct runbook *rb, char *err, size_t errlen)
{
	struct wz_run *r = xcalloc(1, sizeof *r);
	r->rb = rb;
	util_json_fill(j, run_fields, sizeof run_fields / sizeof *run_fields, r);
	r->status = wz_status_parse(util_json_text(j, "status"));
	r->synced = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "synced"));
	r->offline = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "offline"));
	const cJSON *p, *params = cJSON_GetObjectItemCaseSensitive(j, "params");
	cJSON_ArrayForEach(p, params)
	{
		if (cJSON_IsString(p))
			wz_param_set(r, p->string, p->valuestring);
	}
	const char *cur = util_json_text(j, "cursor");
	r->cursor = rb ? rb->nsteps : 0;
	if (rb && *cur) {
		r->cursor = rb_step_index(rb, cur);
		if (r->cursor < 0) {
			snprintf(err, errlen,
				 "runbook %s no longer has step '%s' where the run stopped",
				 rb->name, cur);
			r->rb = NULL;
			wz_run_free(r);
			return NULL;
		}
	}
	const cJSON *h, *hist = cJSON_GetObjectItemCaseSensitive(j, "history");
	r->history = xcalloc((size_t)cJSON_GetArraySize(hist) + 1, sizeof *r->history);
	cJSON_ArrayForEach(h, hist)
	{
		int k = rb && cJSON_IsString(h) ? rb_step_index(rb, h->valuestring) : -1;
		if (k >= 0)
			r->history[r->nhistory++] = k;
	}
	const cJSON *a, *as = cJSON_GetObjectItemCaseSensitive(j, "attempts");
	r->attempts = xcalloc((size_t)cJSON_GetArraySize(as) + 1, sizeof *r->attempts);
	cJSON_ArrayForEach(a, as)
	{
		struct wz_attempt *t = &r->attempts[r->nattempts++];
		snprintf(t->step_id, sizeof t->step_id, "%s", util_json_text(a, "step"));
		t->step = rb ? rb_step_index(rb, t->step_id) : 0;
		if (t->step < 0)
			t->step = rb->nsteps; /* a step since removed: shown by id */
		t->started = (time_t)util_json_num(a, "started", 0);
		t->ended = (time_t)util_json_num(a, "ended", 0);
		const char *o = util_json_text(a, "outcome");
		t->outcome = WZ_NONE;
		for (int k = 0; k <= WZ_INTERRUPTED; k++)
			if (strcmp(o, wz_outcome_name((enum wz_outcome)k)) == 0)
				t->outcome = (enum wz_outcome)k;
		t->exit_status = (int)util_json_num(a, "exit_status", 0);
		if (*util_json_text(a, "excerpt"))
			t->excerpt = xstrdup(util_json_text(a, "excerpt"));
		if (*util_json_text(a, "reason"))
			t->reason = xstrdup(util_json_text(a, "reason"));
		if (*util_json_text(a, "detail"))
			t->detail = xstrdup(util_json_text(a, "detail"));
		snprintf(t->actor, sizeof t->actor, "%s", util_json_text(a, "actor"));
	}
	return r;
}

static int file_write(const char *path, const char *text)
{
	char tmp[4400];
	/* A cut name could be path itself, or another file, to truncate and rename. */
	if (!util_fits(snprintf(tmp, sizeof tmp, "%s.tmp", path), sizeof tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	fsync(fd);
	close(fd);
	if (w != (ssize_t)len || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static cJSON *file_read_json(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 65536, len = 0, n;
	char *buf = xmalloc(cap);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
	}
	fclose(f);
	buf[len] = 0;
	cJSON *j = cJSON_Parse(buf);
	free(buf);
	return j;
}

/* ------------------------------------------------------------------ database */

static PGconn *conn(struct wz_store *s)
{
	return (PGconn *)s->conn;
}

static void go_offline(struct wz_store *s, const char *why)
{
	if (s->conn)
		PQfinish(conn(s));
	s->conn = NULL;
	s->db_locked = 0;
	snprintf(s->note, sizeof s->note,
		 "database unreachable (%.200s); recording locally in %.250s", why, wz_dir());
	s->last_try = time(NULL);
}

static int try_connect(struct wz_store *s)
{
	char err[1024];
	/* Never start the embedded cluster from here: a run may be about a stopped or lost
	 * database, and starting it is a step's business. */
	struct target t = *s->target;
	t.embedded = 0;
	s->last_try = time(NULL);
	PGconn *c = db_connect(&t, "wizard", err, sizeof err);
	s->slow_fail = !c && time(NULL) - s->last_try >= 2;
	if (!c) {
		go_offline(s, err);
		return -1;
	}
	int applied = 0;
	if (migrate_up(c, &applied, err, sizeof err) < 0) {
		PQfinish(c);
		go_offline(s, err);
		return -1;
	}
	s->conn = c;
	return 0;
}

void wz_store_open(struct wz_store *s, const struct config *cfg, const struct target *t)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->target = t;
	s->lockfd = -1;
	if (try_connect(s) == 0) {
		char err[512];
		wz_store_sync(s, err, sizeof err);
	}
}

void wz_store_close(struct wz_store *s)
{
	if (s->conn)
		PQfinish(conn(s));
	s->conn = NULL;
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
}

int wz_store_online(struct wz_store *s)
{
	if (s->conn && PQstatus(conn(s)) == CONNECTION_OK)
		return 1;
	if (s->conn)
		go_offline(s, "connection lost");
	/* A refused local socket fails at once and may be retried before every step; a host
	 * that times out is retried every 10 seconds only. */
	if (s->slow_fail && time(NULL) - s->last_try < 10)
		return 0;
	if (try_connect(s) < 0)
		return 0;
	char err[512];
	int n = wz_store_sync(s, err, sizeof err);
	snprintf(s->note, sizeof s->note, "database reachable again; %d local run%s synced", n,
		 n == 1 ? "" : "s");
	return 1;
}

static void tstamp(time_t t, char *buf, size_t n)
{
	if (t)
		snprintf(buf, n, "%lld", (long long)t);
	else
		buf[0] = 0;
}

/* Upsert the run and replace its step rows, in one transaction. */
static int db_save(struct wz_store *s, struct wz_run *r, char *err, size_t errlen)
{
	PGconn *c = conn(s);
	if (db_begin(c, err, errlen) < 0)
		return -1;
	cJSON *j = run_to_json(r);
	char *state = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	char started[32], ended[32], worst[16], version[16], pid[16];
	tstamp(r->started, started, sizeof started);
	tstamp(r->ended, ended, sizeof ended);
	snprintf(worst, sizeof worst, "%d", r->worst);
	snprintf(version, sizeof version, "%d", r->version);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	const char *cur = r->rb && r->cursor < r->rb->nsteps ? r->rb->steps[r->cursor].id : NULL;
	const char *p[] = {r->local_id,
			   r->runbook,
			   r->title,
			   r->operator_,
			   r->host,
			   wz_status_name(r->status),
			   r->reason[0] ? r->reason : NULL,
			   started,
			   ended[0] ? ended : NULL,
			   cur,
			   worst,
			   r->offline ? "t" : "f",
			   version,
			   state,
			   pid};
	PGresult *res = db_query(
	    c, err, errlen,
	    "insert into ops.wizard_runs as w (local_id, runbook, title, operator, host, status, "
	    "reason, started_at, ended_at, current_step, worst, offline, version, state, "
	    "driver_host, driver_pid, updated_at, incident_id) values ($1, $2, $3, $4, $5, $6, "
	    "$7, to_timestamp($8::bigint), to_timestamp($9::bigint), $10, $11::int, $12::bool, "
	    "$13::int, $14::jsonb, $5, $15::int, now(), "
	    /* The incident open when the run started (to the second, as started_at is). */
	    "(select i.id from ops.incidents i where date_trunc('second', i.opened_at) <= "
	    "to_timestamp($8::bigint) and (i.closed_at is null or i.closed_at >= "
	    "to_timestamp($8::bigint)) order by i.id desc limit 1)) "
	    "on conflict (local_id) do update set status = excluded.status, reason = "
	    "excluded.reason, ended_at = excluded.ended_at, current_step = excluded.current_step, "
	    "worst = excluded.worst, offline = excluded.offline, version = excluded.version, "
	    "state = excluded.state, operator = excluded.operator, driver_host = "
	    "excluded.driver_host, driver_pid = excluded.driver_pid, updated_at = now(), "
	    "incident_id = coalesce(w.incident_id, excluded.incident_id) "
	    "returning id, coalesce(incident_id, 0)",
	    15, p);
	free(state);
	if (!res) {
		db_rollback(c);
		return -1;
	}
	char *id = xstrdup(PQgetvalue(res, 0, 0));
	r->incident = atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	r->id = atoll(id);
	const char *dp[] = {id};
	if (db_exec(c, err, errlen, "delete from ops.wizard_steps where run_id = $1::bigint", 1,
		    dp) < 0)
		goto fail;
	for (int i = 0; i < r->nattempts; i++) {
		const struct wz_attempt *a = &r->attempts[i];
		const struct rb_step *st =
		    r->rb && a->step < r->rb->nsteps ? &r->rb->steps[a->step] : NULL;
		char seq[16], ex[16], s1[32], s2[32];
		snprintf(seq, sizeof seq, "%d", i + 1);
		snprintf(ex, sizeof ex, "%d", a->exit_status);
		tstamp(a->started, s1, sizeof s1);
		tstamp(a->ended, s2, sizeof s2);
		const char *sp[] = {id,
				    seq,
				    a->step_id,
				    st ? r->rb->sections[st->section].title : NULL,
				    st ? rb_kind_name(st->kind) : "?",
				    st ? st->title : a->step_id,
				    s1,
				    s2[0] ? s2 : NULL,
				    wz_outcome_name(a->outcome),
				    a->exit_status >= 0 ? ex : NULL,
				    a->excerpt,
				    a->reason,
				    a->detail,
				    a->actor};
		if (db_exec(
			c, err, errlen,
			"insert into ops.wizard_steps (run_id, seq, step_id, section, kind, "
			"title, started_at, ended_at, outcome, exit_status, output_excerpt, "
			"reason, detail, actor) values ($1::bigint, $2::int, $3, $4, $5, $6, "
			"to_timestamp($7::bigint), to_timestamp($8::bigint), $9, $10::int, $11, "
			"$12, $13, $14)",
			14, sp) < 0)
			goto fail;
	}
	free(id);
	return db_commit(c, err, errlen);
fail:
	free(id);
	db_rollback(c);
	return -1;
}

static int file_save(struct wz_run *r)
{
	char path[4400];
	state_path(r->local_id, "json", path, sizeof path);
	cJSON *j = run_to_json(r);
	char *text = cJSON_Print(j);
	cJSON_Delete(j);
	int rc = file_write(path, text);
	free(text);
	return rc;
}

int wz_save(struct wz_store *s, struct wz_run *r)
{
	r->version++;
	r->updated = time(NULL);
	r->synced = 0;
	if (!s)
		return file_save(r);
	if (wz_store_online(s)) {
		char err[1024];
		if (db_save(s, r, err, sizeof err) == 0) {
			r->synced = 1;
			if (!s->db_locked && r->id) {
				char id[32];
				snprintf(id, sizeof id, "%lld", r->id);
				const char *p[] = {id};
				char *got = db_scalar(conn(s), err, sizeof err,
						      "select pg_try_advisory_lock(" WZ_LOCK_CLASS
						      ", $1::int)",
						      1, p);
				s->db_locked = got && strcmp(got, "t") == 0;
				free(got);
			}
		} else if (PQstatus(conn(s)) != CONNECTION_OK)
			go_offline(s, err);
		else
			snprintf(s->note, sizeof s->note, "could not record the run: %.480s", err);
	}
	if (!r->synced)
		r->offline = 1;
	return file_save(r);
}

int wz_store_sync(struct wz_store *s, char *err, size_t errlen)
{
	if (!s->conn)
		return 0;
	DIR *d = opendir(wz_dir());
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != 'L' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		char path[4400], lock[4400];
		snprintf(path, sizeof path, "%s/%s", wz_dir(), e->d_name);
		cJSON *j = file_read_json(path);
		if (!j)
			continue;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "synced"))) {
			cJSON_Delete(j);
			continue;
		}
		/* A run another process is driving is synced by that process. */
		snprintf(lock, sizeof lock, "%.*s.lock", (int)(strlen(path) - 5), path);
		int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && s->lockfd < 0) {
			close(fd);
			cJSON_Delete(j);
			continue;
		}
		char rerr[512];
		struct runbook *rb = rb_load(util_json_text(j, "runbook"), rerr, sizeof rerr);
		struct wz_run *r = run_from_json(j, rb, rerr, sizeof rerr);
		cJSON_Delete(j);
		if (r && db_save(s, r, err, errlen) == 0) {
			r->synced = 1;
			file_save(r);
			n++;
		}
		if (fd >= 0)
			close(fd); /* also drops the flock if we took it */
		if (r)
			wz_run_free(r);
		else
			rb_free(rb);
	}
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ locking */

/* The run's advisory lock in the database, taken (without waiting) or given back: 1 when
 * the server answered true. */
static int run_db_lock(struct wz_store *s, long long run_id, int take)
{
	char id[32], err[256];
	snprintf(id, sizeof id, "%lld", run_id);
	const char *p[] = {id};
	char *got = db_scalar(conn(s), err, sizeof err,
			      take ? "select pg_try_advisory_lock(" WZ_LOCK_CLASS ", $1::int)"
				   : "select pg_advisory_unlock(" WZ_LOCK_CLASS ", $1::int)",
			      1, p);
	int ok = got && strcmp(got, "t") == 0;
	free(got);
	return ok;
}

int wz_lock(struct wz_store *s, struct wz_run *r, char *err, size_t errlen)
{
	char path[4400];
	state_path(r->local_id, "lock", path, sizeof path);
	char who[256], buf[256] = "";
	snprintf(who, sizeof who, "%s on %s (pid %ld)\n", r->operator_, r->host, (long)getpid());
	int fd = util_lock_file(path, who, buf, sizeof buf);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fd == -2) {
		snprintf(err, errlen,
			 "run %s is being driven right now by %s; two operators cannot drive one "
			 "run at once (watch it with 'midsops wizard show %s')",
			 r->id ? "" : r->local_id, buf[0] ? buf : "another process on this host",
			 r->id ? "" : r->local_id);
		if (r->id) {
			char id[32];
			snprintf(id, sizeof id, "%lld", r->id);
			snprintf(
			    err, errlen,
			    "run %s is being driven right now by %s; two operators cannot drive "
			    "one run at once (watch it with 'midsops wizard show %s')",
			    id, buf[0] ? buf : "another process on this host", id);
		}
		return -1;
	}
	if (s->conn && r->id) {
		char id[32], e2[512];
		snprintf(id, sizeof id, "%lld", r->id);
		const char *p[] = {id};
		if (!run_db_lock(s, r->id, 1)) {
			PGresult *res =
			    db_query(conn(s), e2, sizeof e2,
				     "select operator, coalesce(driver_host, host), "
				     "coalesce(driver_pid::text, '?') from ops.wizard_runs "
				     "where id = $1::bigint",
				     1, p);
			snprintf(err, errlen,
				 "run %s is being driven right now by %s on %s (pid %s); two "
				 "operators cannot drive one run at once (watch it with 'midsops "
				 "wizard show %s')",
				 id,
				 res && PQntuples(res) ? PQgetvalue(res, 0, 0) : "another operator",
				 res && PQntuples(res) ? PQgetvalue(res, 0, 1) : "another host",
				 res && PQntuples(res) ? PQgetvalue(res, 0, 2) : "?", id);
			PQclear(res);
			close(fd);
			return -1;
		}
		s->db_locked = 1;
	}
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = fd;
	return 0;
}

void wz_unlock(struct wz_store *s, struct wz_run *r)
{
	if (s->conn && s->db_locked && r->id)
		run_db_lock(s, r->id, 0);
	s->db_locked = 0;
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
}

/* ------------------------------------------------------------------ loading */

static cJSON *db_state(struct wz_store *s, const char *ref, int by_local)
{
	if (!s->conn)
		return NULL;
	char err[512];
	const char *p[] = {ref};
	char *text =
	    db_scalar(conn(s), err, sizeof err,
		      by_local ? "select state::text from ops.wizard_runs where local_id = $1"
			       : "select jsonb_set(state, '{id}', to_jsonb(id))::text from "
				 "ops.wizard_runs where id = $1::bigint",
		      1, p);
	if (!text)
		return NULL;
	cJSON *j = cJSON_Parse(text);
	free(text);
	if (j && by_local) {
		/* the id column is authoritative */
		char *id = db_scalar(conn(s), err, sizeof err,
				     "select id from ops.wizard_runs where local_id = $1", 1, p);
		if (id)
			cJSON_ReplaceItemInObject(j, "id", cJSON_CreateNumber(atof(id)));
		free(id);
	}
	return j;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Find a local state file whose id or local id is ref. */
static cJSON *local_state(const char *ref)
{
	char path[4400];
	if (ref[0] == 'L') {
		state_path(ref, "json", path, sizeof path);
		return file_read_json(path);
	}
	DIR *d = opendir(wz_dir());
	if (!d)
		return NULL;
	cJSON *found = NULL;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != 'L' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", wz_dir(), e->d_name);
		cJSON *j = file_read_json(path);
		if (j && (long long)util_json_num(j, "id", 0) == atoll(ref))
			found = j;
		else
			cJSON_Delete(j);
	}
	closedir(d);
	return found;
}

struct wz_run *wz_load(struct wz_store *s, const char *ref, char *err, size_t errlen)
{
	if (!all_digits(ref) && ref[0] != 'L') {
		snprintf(err, errlen, "'%s' is not a run id (a number, or L... for a local run)",
			 ref);
		return NULL;
	}
	cJSON *dbj = db_state(s, ref, ref[0] == 'L');
	cJSON *lj = NULL;
	if (dbj)
		lj = local_state(util_json_text(dbj, "local_id"));
	if (!lj)
		lj = local_state(ref);
	/* The newer of the two: another operator may have driven it further from elsewhere,
	 * or this host recorded steps while the database was away. */
	cJSON *j = dbj;
	if (!j || (lj && util_json_num(lj, "version", 0) > util_json_num(dbj, "version", 0)))
		j = lj;
	if (!j) {
		snprintf(err, errlen, "no wizard run '%s'%s; 'midsops wizard list' shows them", ref,
			 s->conn ? "" : " in the local state (the database is unreachable)");
		cJSON_Delete(dbj);
		return NULL;
	}
	if (j == lj && dbj && util_json_num(lj, "id", 0) == 0)
		cJSON_ReplaceItemInObject(lj, "id",
					  cJSON_CreateNumber(util_json_num(dbj, "id", 0)));
	struct runbook *rb = rb_load(util_json_text(j, "runbook"), err, errlen);
	struct wz_run *r = NULL;
	if (rb) {
		r = run_from_json(j, rb, err, errlen);
		if (!r)
			rb_free(rb);
	}
	cJSON_Delete(dbj);
	cJSON_Delete(lj);
	if (!r)
		return NULL;
	/* A step left running was interrupted (the process died); it will be offered again. */
	for (int i = 0; i < r->nattempts; i++)
		if (r->attempts[i].ended == 0) {
			r->attempts[i].ended = r->updated ? r->updated : time(NULL);
			r->attempts[i].outcome = WZ_INTERRUPTED;
			if (!r->attempts[i].reason)
				r->attempts[i].reason =
				    xstrdup("interrupted: the driving process ended");
		}
	return r;
}

static int sum_cmp(const void *a, const void *b)
{
	const struct wz_summary *x = a, *y = b;
	return x->started < y->started ? 1 : x->started > y->started ? -1 : 0;
}

static int lock_held(const char *local_id)
{
	char path[4400];
	state_path(local_id, "lock", path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_SH | LOCK_NB) < 0;
	close(fd);
	return held;
}

/* A summary from a run's JSON: the database's row (wz_list asks for it in the state
 * file's keys) or a local state file, read alike. */
#define F(m, key, t) UTIL_JF(struct wz_summary, m, key, t)
static const struct util_jfield summary_fields[] = {F(id, "id", UTIL_J_LL),
						    F(local_id, "local_id", UTIL_J_STR),
						    F(runbook, "runbook", UTIL_J_STR),
						    F(operator_, "operator", UTIL_J_STR),
						    F(host, "host", UTIL_J_STR),
						    F(step, "cursor", UTIL_J_STR),
						    F(started, "started", UTIL_J_TIME),
						    F(ended, "ended", UTIL_J_TIME),
						    F(updated, "updated", UTIL_J_TIME)};
#undef F

static void summary_from_json(const cJSON *j, struct wz_summary *w)
{
	memset(w, 0, sizeof *w);
	util_json_fill(j, summary_fields, sizeof summary_fields / sizeof *summary_fields, w);
	w->status = wz_status_parse(util_json_text(j, "status"));
	w->active =
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "active")) || lock_held(w->local_id);
}

int wz_list(struct wz_store *s, struct wz_summary *out, int max, char *err, size_t errlen)
{
	int n = 0;
	if (s->conn) {
		PGresult *res = db_query(
		    conn(s), err, errlen,
		    "select json_build_object('id', w.id, 'local_id', w.local_id, 'runbook', "
		    "w.runbook, 'operator', w.operator, 'host', w.host, 'status', w.status, "
		    "'cursor', coalesce(w.current_step, ''), 'started', extract(epoch from "
		    "w.started_at)::bigint, 'ended', coalesce(extract(epoch from "
		    "w.ended_at)::bigint, 0), 'updated', extract(epoch from w.updated_at)::bigint, "
		    "'active', exists (select 1 from pg_locks l where l.locktype = 'advisory' and "
		    "l.classid = " WZ_LOCK_CLASS " and l.objid = w.id and l.objsubid = 2 and "
		    "l.granted)) from ops.wizard_runs w order by w.started_at desc limit 200",
		    0, NULL);
		if (!res)
			return -1;
		for (int i = 0; i < PQntuples(res) && n < max; i++) {
			cJSON *j = cJSON_Parse(PQgetvalue(res, i, 0));
			if (j)
				summary_from_json(j, &out[n++]);
			cJSON_Delete(j);
		}
		PQclear(res);
	}
	DIR *d = opendir(wz_dir());
	struct dirent *e;
	while (d && (e = readdir(d)) && n < max) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != 'L' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", wz_dir(), e->d_name);
		cJSON *j = file_read_json(path);
		if (!j)
			continue;
		int known = 0;
		for (int i = 0; i < n; i++)
			known |= strcmp(out[i].local_id, util_json_text(j, "local_id")) == 0;
		if (!known) {
			struct wz_summary *w = &out[n++];
			summary_from_json(j, w);
			w->offline = 1;
		}
		cJSON_Delete(j);
	}
	if (d)
		closedir(d);
	qsort(out, (size_t)n, sizeof *out, sum_cmp);
	return n;
}
