/* dr-assess: the primary, the standby, replication, backups, and what activating the
 * standby now would lose. Also the `dr` section of `status`. */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backup.h"
#include "util.h"
#include "cluster.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "paths.h"
#include "probe.h"
#include "probe_dr.h"
#include "status.h"
#include "target.h"

/* Lag beyond these is a warning; beyond the runbook's database RPO (1 hour) critical. */
#define LAG_WARN_BYTES (16LL << 20)
#define LAG_CRIT_BYTES (1LL << 30)
#define LAG_WARN_S     60.0
#define LAG_CRIT_S     3600.0

static const char *first_key(const cJSON *o, const char *const *keys)
{
	for (int i = 0; keys[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
		if (cJSON_IsString(v) && v->valuestring && *v->valuestring)
			return v->valuestring;
		if (cJSON_IsNumber(v)) {
			static char num[64];
			snprintf(num, sizeof num, "%.0f", v->valuedouble);
			return num;
		}
		if (cJSON_IsBool(v))
			return cJSON_IsTrue(v) ? "true" : "false";
	}
	return "";
}

static const char *const ID_KEYS[] = {"id", "backup_id", "label", "name", NULL};
static const char *const TYPE_KEYS[] = {"type", "kind", "backup_type", NULL};
static const char *const TIME_KEYS[] = {"finished_at", "ended_at", "completed_at", "end_time",
					"stop_time",   "finished", "started_at",   "created_at",
					"start_time",  NULL};
static const char *const STATUS_KEYS[] = {"status", "state", "verified", NULL};

static int is_wal_name(const char *n)
{
	for (int i = 0; i < 24; i++)
		if (!isxdigit((unsigned char)n[i]))
			return 0;
	return n[24] == 0 || n[24] == '.';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Segments of the newest timeline, in order: a missing one breaks point-in-time restore. */
static void scan_wal(const char *dir, struct dr_backups *b)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	char **names = NULL;
	int n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		/* Segments only, plain or compressed (NAME.zst): not NAME.partial (still being
		 * written), timeline history, nor the NAME.sha256 that wal-push and
		 * wal-receive write beside each segment (counted, they doubled the count and
		 * showed gaps that were not). */
		if (!is_wal_name(e->d_name) || (e->d_name[24] && strcmp(e->d_name + 24, ".zst")))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = xrealloc(names, (size_t)cap * sizeof *names);
		}
		names[n++] = strndup(e->d_name, 24);
	}
	closedir(d);
	if (n) {
		qsort(names, (size_t)n, sizeof *names, cmp_str);
		/* A segment pushed plain before compression was switched on and again
		 * compressed is one segment. */
		int u = 0;
		for (int i = 0; i < n; i++) {
			if (u && strcmp(names[u - 1], names[i]) == 0)
				free(names[i]);
			else
				names[u++] = names[i];
		}
		n = u;
		snprintf(b->wal_dir, sizeof b->wal_dir, "%s", dir);
		char tli[9];
		snprintf(tli, sizeof tli, "%.8s", names[n - 1]);
		int first = -1, count = 0;
		unsigned long long lo = 0, hi = 0;
		for (int i = 0; i < n; i++) {
			if (strncmp(names[i], tli, 8) != 0)
				continue;
			char part[9];
			snprintf(part, sizeof part, "%.8s", names[i] + 8);
			unsigned long long log = strtoull(part, NULL, 16);
			snprintf(part, sizeof part, "%.8s", names[i] + 16);
			unsigned long long seg = log * 256 + strtoull(part, NULL, 16);
			if (first < 0) {
				first = i;
				lo = seg;
			}
			hi = seg;
			count++;
		}
		b->wal_files = n;
		snprintf(b->wal_first, sizeof b->wal_first, "%s", names[first]);
		snprintf(b->wal_last, sizeof b->wal_last, "%s", names[n - 1]);
		b->wal_gaps = (int)((hi - lo + 1) - (unsigned long long)count);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void dr_backups_scan(const struct config *cfg, PGconn *c, struct dr_backups *b)
{
	memset(b, 0, sizeof *b);
	b->catalogue_rows = -1;
	b->last_age_h = NAN;
	if (c) {
		char err[512];
		char *exists = db_scalar(c, err, sizeof err,
					 "select to_regclass('ops.backups') is not null", 0, NULL);
		if (exists && exists[0] == 't') {
			PGresult *r = db_query(c, err, sizeof err,
					       "select (select count(*) from ops.backups),\n"
					       "  (select row_to_json(b)::text from ops.backups b "
					       "order by 1 desc limit 1)",
					       0, NULL);
			if (r) {
				b->catalogue_rows = atoi(PQgetvalue(r, 0, 0));
				cJSON *row =
				    PQgetisnull(r, 0, 1) ? NULL : cJSON_Parse(PQgetvalue(r, 0, 1));
				if (row) {
					snprintf(b->last_id, sizeof b->last_id, "%s",
						 first_key(row, ID_KEYS));
					snprintf(b->last_type, sizeof b->last_type, "%s",
						 first_key(row, TYPE_KEYS));
					snprintf(b->last_at, sizeof b->last_at, "%s",
						 first_key(row, TIME_KEYS));
					snprintf(b->last_status, sizeof b->last_status, "%s",
						 first_key(row, STATUS_KEYS));
					cJSON_Delete(row);
				}
				PQclear(r);
			}
			if (b->last_at[0]) {
				const char *p[] = {b->last_at};
				char *age = db_scalar(
				    c, err, sizeof err,
				    "select extract(epoch from now() - $1::timestamptz) / 3600", 1,
				    p);
				if (age)
					b->last_age_h = strtod(age, NULL);
				free(age);
			}
		}
		free(exists);
	}
	/* The repository: the backups whose manifest passes backup_manifest_read, the newest
	 * by its checked stop time (a manifest's mtime, or a forged one, would move the
	 * estimated data loss). */
	struct backup_info *bi;
	int nb = backup_repo_load(cfg->backup_dir, &bi);
	time_t newest = 0;
	for (int i = 0; i < nb; i++) {
		b->repo_backups++;
		if (bi[i].stop >= newest) {
			newest = bi[i].stop;
			snprintf(b->repo_last, sizeof b->repo_last, "%s", bi[i].id);
		}
	}
	free(bi);
	if (newest && isnan(b->last_age_h))
		b->last_age_h = difftime(time(NULL), newest) / 3600.0;
	char dir[PATH_MAX + 32];
	const char *cands[] = {"wal", "wal-archive", "archive", NULL};
	for (int i = 0; cands[i] && !b->wal_files; i++) {
		snprintf(dir, sizeof dir, "%s/%s", cfg->backup_dir, cands[i]);
		scan_wal(dir, b);
	}
	if (!b->wal_files) {
		struct cluster cl;
		char err[256];
		if (cluster_locate(&cl, NULL, err, sizeof err) == 0)
			scan_wal(cl.archive_dir, b);
	}
}

void dr_assess(const struct config *cfg, const struct target *t, struct dr_assessment *a)
{
	memset(a, 0, sizeof *a);
	dr_now(a->at, sizeof a->at);
	const char *site = dr_site_dsn(cfg);
	target_display(t, a->primary_shown, sizeof a->primary_shown);
	if (site)
		conninfo_mask(site, a->standby_shown, sizeof a->standby_shown);
	probe_dr(dr_primary_dsn(t), site, &a->snap);
	cJSON *st = dr_load("state.json");
	a->activated = dr_str(st, "activated_at")[0] != 0;
	snprintf(a->activated_at, sizeof a->activated_at, "%s", dr_str(st, "activated_at"));

	/* Backups: the catalogue replicates, so a standby answers when the primary cannot. */
	char err[512];
	PGconn *bc = NULL;
	if (a->snap.p.ok)
		bc = probe_dr_connect(dr_primary_dsn(t), "dr-assess", 3, err, sizeof err);
	else if (a->snap.s.ok)
		bc = probe_dr_connect(site, "dr-assess", 3, err, sizeof err);
	dr_backups_scan(cfg, bc, &a->b);
	PQfinish(bc);

	/* The standby's own view: its walreceiver, what it received and replayed. */
	struct dr_walrcv w;
	memset(&w, 0, sizeof w);
	if (site && a->snap.s.ok) {
		PGconn *sc = probe_dr_connect(site, "dr-assess", 3, err, sizeof err);
		if (sc)
			dr_walrcv_read(sc, &w);
		PQfinish(sc);
	}
	if (!w.ok) {
		snprintf(w.receive_lsn, sizeof w.receive_lsn, "%s", a->snap.s.receive_lsn);
		snprintf(w.replay_lsn, sizeof w.replay_lsn, "%s", a->snap.s.replay_lsn);
		snprintf(w.last_replay_at, sizeof w.last_replay_at, "%s", a->snap.s.last_replay_at);
	}
	const struct dr_snapshot *s = &a->snap;
	a->loss_bytes = -1;
	a->loss_s = NAN;
	a->st_primary = s->p.ok ? ST_OK : ST_CRITICAL;
	if (s->p.ok && s->p.in_recovery && !a->activated)
		a->st_primary = ST_WARNING;
	a->st_standby = ST_OK;
	a->st_replication = ST_OK;
	/* The slot of a site that is gone keeps WAL on the primary: judged as db-check does. */
	a->st_slot = ST_OK;
	if (s->p.ok && s->p.slot_exists && !s->p.slot_active)
		a->st_slot = repl_judge_slot(
		    cfg, &(struct repl_slot){.retained_bytes = s->p.slot_retained_bytes});
	int have_backups = a->b.catalogue_rows > 0 || a->b.repo_backups > 0;
	a->st_backups = have_backups ? threshold_judge(&cfg->backup_age,
						       isnan(a->b.last_age_h) ? 0 : a->b.last_age_h)
				     : ST_WARNING;
	if (a->b.wal_gaps > 0)
		a->st_backups = status_worst(a->st_backups, ST_WARNING);

	if (!s->configured) {
		a->st_standby = have_backups ? ST_WARNING : ST_CRITICAL;
		a->st_replication = ST_UNKNOWN;
		snprintf(a->loss_basis, sizeof a->loss_basis,
			 "no standby: a restore loses what came after the last backup%s",
			 a->b.wal_files ? " and archived WAL" : "");
		if (!isnan(a->b.last_age_h))
			a->loss_s = a->b.last_age_h * 3600;
	} else if (!s->s.ok) {
		a->st_standby = ST_CRITICAL;
		a->st_replication = ST_CRITICAL;
		snprintf(a->loss_basis, sizeof a->loss_basis, "the standby is unreachable");
	} else if (!s->s.in_recovery) {
		/* Promoted: the DR site is the primary now; there is nothing to lose by a
		 * promotion that already happened, and nothing was measured. */
		a->st_standby = a->activated ? ST_WARNING : ST_CRITICAL;
		a->st_replication = ST_WARNING;
		snprintf(a->loss_basis, sizeof a->loss_basis,
			 "the DR site is already active%s%s; no standby protects it",
			 a->activated ? " since " : "", a->activated_at);
	} else if (s->p.ok && !s->p.in_recovery) {
		dr_loss_compute(&s->p, &w, "", "", &a->loss);
		a->have_loss = 1;
		a->loss_bytes = a->loss.exact ? a->loss.bytes : -1;
		a->loss_s = a->loss.seconds;
		snprintf(a->loss_basis, sizeof a->loss_basis,
			 "measured: WAL the primary wrote (%s) that the standby has not replayed "
			 "(%s)",
			 s->p.current_lsn, w.replay_lsn[0] ? w.replay_lsn : s->s.replay_lsn);
		if (!s->p.streaming)
			a->st_replication = ST_CRITICAL;
		else if (s->lag_bytes > LAG_CRIT_BYTES || s->lag_s > LAG_CRIT_S)
			a->st_replication = ST_CRITICAL;
		else if (s->lag_bytes > LAG_WARN_BYTES || s->lag_s > LAG_WARN_S)
			a->st_replication = ST_WARNING;
	} else {
		/* The primary is gone: what it wrote after its last report cannot be known; the
		 * last position dr-assess saw bounds the loss from below. */
		const char *last = dr_str(st, "last_primary_lsn");
		dr_loss_compute(NULL, &w, last, dr_str(st, "last_primary_at"), &a->loss);
		a->have_loss = 1;
		snprintf(a->loss_basis, sizeof a->loss_basis,
			 "primary unreachable; the standby received up to %s%s%s%s%s",
			 s->s.receive_lsn, *last ? ", the primary was last seen at " : "", last,
			 *last ? " on " : "", dr_str(st, "last_primary_at"));
		a->st_replication = ST_CRITICAL;
	}
	a->overall = status_worst(status_worst(a->st_primary, a->st_standby),
				  status_worst(a->st_replication, a->st_backups));
	a->overall = status_worst(a->overall, a->st_slot);
	if (a->activated && s->s.ok && !s->s.in_recovery)
		snprintf(a->summary, sizeof a->summary, "DR site active since %s", a->activated_at);
	else if (!s->p.ok && w.streaming)
		snprintf(a->summary, sizeof a->summary,
			 "primary UNREACHABLE from midsops, but the standby still streams from it "
			 "(%.40s): it is alive; activating now would split the brain",
			 w.sender);
	else if (!s->p.ok && s->s.ok && s->s.in_recovery) {
		char bound[64] = "unknown";
		if (a->loss.at_least > 0)
			snprintf(bound, sizeof bound, "at least %lld bytes", a->loss.at_least);
		snprintf(a->summary, sizeof a->summary,
			 "primary DOWN; standby ready to activate (loss %s, last WAL received at "
			 "%.64s; later commits on the primary are unknown)",
			 bound, a->loss.last_received_at);
	} else if (!s->p.ok)
		snprintf(a->summary, sizeof a->summary, "primary DOWN; %s",
			 !s->configured ? (have_backups ? "no standby: restore from backups"
							: "no standby and no backups")
					: "standby unreachable");
	else if (!s->configured)
		snprintf(a->summary, sizeof a->summary, "primary up; no DR standby configured");
	else
		snprintf(a->summary, sizeof a->summary, "primary up; standby %s, lag %lld bytes",
			 s->s.ok ? (s->p.streaming ? "streaming" : "not streaming") : "unreachable",
			 s->lag_bytes);
	cJSON_Delete(st);
}

void dr_assess_record(const struct config *cfg, const struct target *t,
		      const struct dr_assessment *a)
{
	/* The figures are dr-validate's baseline: the primary's before the disaster. After an
	 * activation (or a restore) the target is the DR site itself, and its figures would
	 * make dr-validate compare the site with itself. */
	if (!a->snap.p.ok || a->snap.p.in_recovery || a->activated)
		return;
	const char *site = dr_site_dsn(cfg);
	if (site && strcmp(site, dr_primary_dsn(t)) == 0)
		return;
	cJSON *cur = dr_load("state.json");
	int frozen = dr_str(cur, "baseline_frozen_at")[0] != 0;
	cJSON_Delete(cur);
	if (frozen)
		return;
	char err[512];
	PGconn *c = probe_dr_connect(dr_primary_dsn(t), "dr-assess", 3, err, sizeof err);
	if (!c)
		return;
	cJSON *fig = dr_figures(c, err, sizeof err);
	if (fig) {
		dr_save("figures.json", fig, err, sizeof err);
		cJSON_Delete(fig);
	}
	/* For [dr] fence_command, which may need it once the primary no longer answers. */
	char *datadir =
	    db_scalar(c, err, sizeof err, "select current_setting('data_directory')", 0, NULL);
	PQfinish(c);
	cJSON *st = dr_load("state.json");
	if (datadir) {
		cJSON_DeleteItemFromObjectCaseSensitive(st, "primary_datadir");
		cJSON_AddStringToObject(st, "primary_datadir", datadir);
		free(datadir);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(st, "last_primary_lsn");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "last_primary_at");
	cJSON_AddStringToObject(st, "last_primary_lsn", a->snap.p.current_lsn);
	cJSON_AddStringToObject(st, "last_primary_at", a->at);
	dr_save("state.json", st, err, sizeof err);
	cJSON_Delete(st);
}

static void kv_lag(struct out *o, const char *key, double s)
{
	char buf[64];
	if (isnan(s))
		out_kv(o, key, "n/a");
	else {
		fmt_duration(buf, sizeof buf, s);
		out_kv(o, key, "%s", buf);
	}
}

void dr_assess_render(struct out *o, const struct dr_assessment *a)
{
	const struct dr_snapshot *s = &a->snap;
	out_kv(o, "assessed_at", "%s", a->at);
	out_section(o, "primary");
	out_kv(o, "target", "%s", a->primary_shown);
	out_kv_status(o, "reachable", a->st_primary, "%s",
		      s->p.ok ? (s->p.in_recovery ? "yes (in recovery: not a primary)" : "yes")
			      : "no");
	if (!s->p.ok)
		out_kv(o, "error", "%s", s->p.error);
	else {
		out_kv(o, "current_lsn", "%s", s->p.current_lsn[0] ? s->p.current_lsn : "n/a");
		out_kv_int(o, "standbys_connected", s->p.nstandbys);
		out_kv(o, "slot", "%s",
		       s->p.slot_exists
			   ? (s->p.slot_active ? DR_SLOT " (active)" : DR_SLOT " (inactive)")
			   : "none");
		if (s->p.slot_retained_bytes >= 0) {
			char b[64];
			fmt_bytes(b, sizeof b, (double)s->p.slot_retained_bytes);
			struct out_fig f = {.value = (double)s->p.slot_retained_bytes,
					    .unit = OUT_BYTES};
			out_fig_status(o, "slot_retained_wal", a->st_slot, &f, "%s%s", b,
				       a->st_slot != ST_OK ? " held for a standby that is gone"
							   : "");
		}
	}
	out_section_end(o);

	out_section(o, "standby");
	out_kv(o, "configured", "%s", s->configured ? "yes (env dr)" : "no");
	if (s->configured) {
		out_kv(o, "target", "%s", a->standby_shown);
		out_kv_status(o, "reachable", a->st_standby, "%s",
			      !s->s.ok		 ? "no"
			      : s->s.in_recovery ? "yes (standby, read-only)"
						 : "yes (promoted: read-write)");
		if (!s->s.ok)
			out_kv(o, "error", "%s", s->s.error);
		else {
			out_kv(o, "receive_lsn", "%s",
			       s->s.receive_lsn[0] ? s->s.receive_lsn : "n/a");
			out_kv(o, "replay_lsn", "%s", s->s.replay_lsn[0] ? s->s.replay_lsn : "n/a");
			out_kv_int(o, "apply_gap_bytes", s->s.apply_gap_bytes);
			out_kv(o, "last_replayed_transaction", "%s",
			       s->s.last_replay_at[0] ? s->s.last_replay_at : "none yet");
			out_kv(o, "wal_receiver", "%s",
			       s->s.receiver_status[0] ? s->s.receiver_status : "not running");
		}
	}
	if (a->activated)
		out_kv(o, "activated_at", "%s", a->activated_at);
	out_section_end(o);

	out_section(o, "replication");
	if (s->p.ok && s->p.streaming) {
		out_kv(o, "state", "%s", s->p.state);
		out_kv(o, "sync_state", "%s", s->p.sync_state);
		out_kv(o, "sent_lsn", "%s", s->p.sent_lsn);
		kv_lag(o, "write_lag", s->p.write_lag_s);
		kv_lag(o, "flush_lag", s->p.flush_lag_s);
		kv_lag(o, "replay_lag", s->p.replay_lag_s);
	} else
		out_kv(o, "state", "%s",
		       !s->configured ? "no standby"
		       : !s->p.ok     ? "primary unreachable"
				      : "not streaming");
	if (s->lag_bytes >= 0)
		out_kv_status(o, "lag_bytes", a->st_replication, "%lld", s->lag_bytes);
	else
		out_kv_status(o, "lag_bytes", a->st_replication, "unknown");
	if (!isnan(s->lag_s))
		out_kv_num(o, "lag_seconds", s->lag_s, "s");
	else
		out_kv(o, "lag_seconds", "unknown");
	out_section_end(o);

	out_section(o, "backups");
	const struct dr_backups *b = &a->b;
	if (b->catalogue_rows <= 0 && b->repo_backups == 0)
		out_kv_status(o, "last_backup", a->st_backups, "no backups");
	else {
		char age[64] = "unknown";
		if (!isnan(b->last_age_h))
			fmt_duration(age, sizeof age, b->last_age_h * 3600);
		out_kv_status(o, "last_backup", a->st_backups, "%s %s %s (age %s)",
			      b->last_id[0] ? b->last_id : b->repo_last, b->last_type, b->last_at,
			      age);
		if (b->last_status[0])
			out_kv(o, "last_backup_status", "%s", b->last_status);
	}
	out_kv_int(o, "catalogue_rows", b->catalogue_rows < 0 ? 0 : b->catalogue_rows);
	out_kv_int(o, "repository_backups", b->repo_backups);
	if (b->wal_files) {
		out_kv(o, "wal_archive", "%s: %d segments %s .. %s", b->wal_dir, b->wal_files,
		       b->wal_first, b->wal_last);
		out_kv_status(o, "wal_continuity", b->wal_gaps ? ST_WARNING : ST_OK, "%s",
			      b->wal_gaps ? "gaps" : "continuous");
		out_kv_int(o, "wal_missing_segments", b->wal_gaps);
	} else
		out_kv(o, "wal_archive", "no archived WAL");
	out_section_end(o);

	out_section(o, "data_loss");
	if (a->have_loss && a->loss.exact) {
		out_kv_int(o, "estimated_bytes", a->loss.bytes);
		out_kv_int(o, "unsent_bytes", a->loss.unsent_bytes);
		out_kv_int(o, "sent_not_replayed_bytes", a->loss.unreplayed_bytes);
	} else if (a->have_loss && a->loss.at_least > 0) {
		/* A bound is not an estimate: estimated_bytes stays a measured number (in JSON
		 * too), and the bound has a key of its own. */
		out_kv_int(o, "at_least_bytes", a->loss.at_least);
		out_kv(o, "estimated", "at least %lld bytes", a->loss.at_least);
	} else
		out_kv(o, "estimated", "unknown");
	if (!isnan(a->loss_s))
		out_kv_num(o, "estimated_seconds", a->loss_s, "s");
	if (a->have_loss && !a->loss.exact)
		out_kv(o, "last_wal_received_at", "%s", a->loss.last_received_at);
	if (a->have_loss)
		out_kv(o, "loss", "%s", a->loss.text);
	out_kv(o, "basis", "%s", a->loss_basis);
	out_section_end(o);
}

enum status dr_status_section(struct out *o, const struct config *cfg, PGconn *conn)
{
	const char *site = dr_site_dsn(cfg);
	if (!site) {
		out_kv(o, "standby", "not configured (no [env dr]; see dr-setup)");
		return ST_OK;
	}
	struct dr_snapshot s;
	memset(&s, 0, sizeof s);
	s.configured = 1;
	s.p.lag_bytes = -1;
	if (conn)
		probe_dr_primary(conn, &s.p);
	char err[512];
	PGconn *sc = probe_dr_connect(site, "status", 3, err, sizeof err);
	if (sc) {
		probe_dr_standby(sc, &s.s);
		PQfinish(sc);
	} else
		snprintf(s.s.error, sizeof s.s.error, "%s", err);
	probe_dr_combine(&s);
	enum status st = ST_OK;
	if (!s.s.ok) {
		out_kv_status(o, "standby", ST_CRITICAL, "unreachable: %s", s.s.error);
		return ST_CRITICAL;
	}
	if (!s.s.in_recovery) {
		out_kv_status(o, "standby", ST_WARNING, "promoted (the DR site is read-write)");
		return ST_WARNING;
	}
	st = s.p.ok && !s.p.streaming ? ST_CRITICAL : ST_OK;
	out_kv_status(o, "standby", st, "%s",
		      s.s.receiver_status[0] ? s.s.receiver_status : "not receiving");
	if (s.lag_bytes >= 0) {
		enum status ls = s.lag_bytes > LAG_CRIT_BYTES	? ST_CRITICAL
				 : s.lag_bytes > LAG_WARN_BYTES ? ST_WARNING
								: ST_OK;
		out_kv_status(o, "replication_lag", ls, "%lld bytes", s.lag_bytes);
		st = status_worst(st, ls);
	}
	if (!isnan(s.lag_s))
		out_kv_num(o, "replication_lag_seconds", s.lag_s, "s");
	out_kv(o, "replay_lsn", "%s", s.s.replay_lsn);
	return st;
}
