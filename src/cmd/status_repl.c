/* Replication health as judged figures: inactive slots that hold WAL back and commits
 * waiting for a synchronous standby (db-check and the database section of `status`). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "probe_dr.h"
#include "status.h"

#define GB (1024.0 * 1024 * 1024)

/* An active slot's retention is replication lag, judged elsewhere; an inactive one holds
 * WAL for nobody. A slot whose WAL is already gone ('lost') can never be resumed. */
enum status repl_judge_slot(const struct config *cfg, const struct repl_slot *sl)
{
	if (sl->active)
		return ST_OK;
	enum status st = ST_OK;
	if (strcmp(sl->wal_status, "lost") == 0 || strcmp(sl->wal_status, "unreserved") == 0)
		st = ST_WARNING;
	if (sl->retained_bytes >= 0)
		st = status_worst(
		    st, threshold_judge(&cfg->slot_retained_wal, (double)sl->retained_bytes / GB));
	return st;
}

/* Synchronous standby names with none of them connected means every commit will wait,
 * whether or not one is waiting at this instant (or visible to this login). */
enum status repl_judge_sync(const struct config *cfg, const struct repl_health *h)
{
	enum status missing = h->sync_names[0] && !h->sync_standbys ? ST_WARNING : ST_OK;
	if (h->sync_waiters > 0)
		return status_worst(missing, threshold_judge(&cfg->sync_wait, h->sync_wait_s));
	if (missing)
		return missing;
	/* Degraded on purpose by dr-sync-guard: not what the operator configured. */
	if (h->fallback_names[0] && !h->sync_names[0])
		return ST_WARNING;
	return ST_OK;
}

static void inactive_text(char *buf, size_t n, const struct repl_slot *sl)
{
	char d[64];
	if (sl->active)
		snprintf(buf, n, "active");
	else if (isnan(sl->inactive_s))
		snprintf(buf, n, "inactive"); /* for how long: PostgreSQL 17 on records it */
	else {
		fmt_duration(d, sizeof d, sl->inactive_s);
		snprintf(buf, n, "inactive for %s", d);
	}
}

static enum status render_slots(struct out *o, const struct config *cfg,
				const struct repl_health *h)
{
	char a[64], b[64], c[128];
	enum status worst = ST_OK;
	/* A setting, not a measurement: no figure (it would land in the perfdata). JSON wants
	 * the bytes, people 4.0 GB. */
	if (h->max_slot_keep >= 0 && out_format(o) == OUT_JSON)
		out_kv_int(o, "max_slot_wal_keep_size", h->max_slot_keep);
	else if (h->max_slot_keep >= 0) {
		fmt_bytes(a, sizeof a, (double)h->max_slot_keep);
		out_kv(o, "max_slot_wal_keep_size", "%s", a);
	} else if (h->nslots)
		out_kv(o, "max_slot_wal_keep_size",
		       "unlimited (-1): an abandoned slot can fill the disk");
	const struct repl_slot *w = repl_worst_inactive(h);
	if (w) {
		enum status st = repl_judge_slot(cfg, w);
		struct out_fig f =
		    status_fig(w->retained_bytes >= 0 ? (double)w->retained_bytes : NAN, OUT_BYTES,
			       &cfg->slot_retained_wal, GB);
		inactive_text(c, sizeof c, w);
		if (w->retained_bytes >= 0)
			fmt_bytes(a, sizeof a, (double)w->retained_bytes);
		else
			snprintf(a, sizeof a, "an unknown amount (not measured on a standby)");
		out_fig_status(o, "slot_retained_wal", st, &f, "slot %s holds %s of WAL, %s%s%s",
			       w->name, a, c, w->wal_status[0] ? ", wal_status " : "",
			       w->wal_status);
		if (st != ST_OK)
			out_line(o,
				 "drop it once its standby is gone for good: select "
				 "pg_drop_replication_slot('%s')",
				 w->name);
	}
	if (!h->nslots)
		return ST_OK;
	const char *cols[] = {"slot",	  "type",	   "state", "wal_status",
			      "retained", "safe_wal_size", "status"};
	out_table_begin(o, "replication_slots", 7, cols);
	for (int i = 0; i < h->nslots; i++) {
		const struct repl_slot *sl = &h->slots[i];
		enum status st = repl_judge_slot(cfg, sl);
		worst = status_worst(worst, st);
		int json = out_format(o) == OUT_JSON;
		if (sl->retained_bytes < 0)
			snprintf(a, sizeof a, "-");
		else if (json)
			snprintf(a, sizeof a, "%lld", sl->retained_bytes);
		else
			fmt_bytes(a, sizeof a, (double)sl->retained_bytes);
		if (sl->safe_wal_size < 0)
			snprintf(b, sizeof b, json ? "-1" : "unlimited");
		else if (json)
			snprintf(b, sizeof b, "%lld", sl->safe_wal_size);
		else
			fmt_bytes(b, sizeof b, (double)sl->safe_wal_size);
		inactive_text(c, sizeof c, sl);
		out_rowf(o, sl->name, sl->type, c, sl->wal_status, a, b, status_name(st));
	}
	out_table_end(o);
	return worst;
}

static enum status render_sync(struct out *o, const struct config *cfg, const struct repl_health *h)
{
	char a[64];
	enum status st = repl_judge_sync(cfg, h);
	if (h->sync_names[0])
		out_kv(o, "synchronous_standby_names", "%s (%d connected as synchronous)",
		       h->sync_names, h->sync_standbys);
	if (h->fallback_names[0] && !h->sync_names[0])
		out_kv_status(o, "synchronous", ST_WARNING,
			      "dropped to asynchronous by dr-sync-guard: commits do not wait for "
			      "'%s' until it streams again",
			      h->fallback_names);
	if (!h->sync_names[0] && !h->sync_waiters)
		return st;
	struct out_fig f = {.value = h->sync_waiters, .unit = OUT_COUNT};
	out_fig(o, "sync_waiting_commits", &f, "%d", h->sync_waiters);
	f = status_fig(h->sync_wait_s, OUT_SECONDS, &cfg->sync_wait, 1);
	fmt_duration(a, sizeof a, h->sync_wait_s);
	if (h->sync_waiters)
		out_fig_status(
		    o, "oldest_sync_wait", st, &f,
		    "%d commit%s waiting for a synchronous standby, the oldest %s (pid %d)%s",
		    h->sync_waiters, h->sync_waiters == 1 ? "" : "s", a, h->sync_wait_pid,
		    h->sync_standbys ? "" : ": no synchronous standby is connected");
	else
		out_fig_status(
		    o, "oldest_sync_wait", st, &f, "no commit waiting%s%s",
		    h->sync_standbys ? ""
				     : ", but no synchronous standby is connected: every "
				       "commit will wait",
		    h->sees_all ? "" : " (other roles' sessions are hidden: grant pg_monitor)");
	return st;
}

enum status status_render_repl(struct out *o, const struct config *cfg, PGconn *c)
{
	struct repl_health h;
	if (probe_repl(c, &h) < 0) {
		out_kv_status(o, "replication", ST_UNKNOWN, "probe failed: %s", h.error);
		return ST_UNKNOWN;
	}
	return status_worst(render_slots(o, cfg, &h), render_sync(o, cfg, &h));
}
