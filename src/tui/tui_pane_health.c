/* Database health pane: connection, uptime, size, connections, hit ratio, TPS, dead
 * tuples, longest transaction, waiting locks, replication (commits waiting for a synchronous
 * standby, abandoned slots), backup and WAL ages. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tui_int.h"

static void build(struct tui *t, struct tui_lines *l, int zoomed)
{
	const struct monitor_view *v = t->v;
	const struct db_snapshot *s = &v->db;
	const struct health_extra *x = &v->hx;
	char a[64], b[64], c[64];
	if (!v->have[MON_HEALTH]) {
		tui_tl(l, ROLE_DIM, "%s",
		       v->connected ? "waiting for the first probe" : "no figures yet");
		return;
	}
	struct db_judgement j;
	probe_db_judge(s, t->cfg, &j);
	fmt_duration(a, sizeof a, s->uptime_s);
	fmt_bytes(b, sizeof b, (double)s->db_size);
	if (v->connected && !v->stale[MON_HEALTH])
		tui_tl(l, ROLE_OK, "connected  up %s  size ~%s", a, b);
	else {
		/* "disconnected  up 4m42s" read as a live figure: say when it was true. */
		char hm[16];
		tui_clock(hm, sizeof hm, v->as_of[MON_HEALTH]);
		tui_tl(l, ROLE_DIM, "%s; as of %s: up %s  size ~%s",
		       v->connected ? "stale" : "disconnected", hm, a, b);
	}
	tui_tl(l, tui_status_role(j.conn), "connections %d of %d max (%.0f%%)", s->connections,
	       s->max_connections, j.conn_pct);
	if (isnan(s->hit_ratio))
		snprintf(a, sizeof a, "n/a");
	else
		snprintf(a, sizeof a, "%.2f%%", s->hit_ratio);
	if (isnan(s->tps))
		snprintf(b, sizeof b, "...");
	else
		snprintf(b, sizeof b, "%.1f", s->tps);
	tui_tl(l, tui_status_role(j.hit), "buffer hit %s  TPS %s", a, b);
	fmt_duration(a, sizeof a, s->longest_txn_s);
	tui_tl(l, tui_status_role(status_worst(j.txn, j.locks)),
	       "longest txn %s%s  waiting locks %d", a,
	       s->longest_txn_pid ? (snprintf(c, sizeof c, " (pid %d)", s->longest_txn_pid), c)
				  : "",
	       s->waiting_locks);
	if (s->ndead_top)
		tui_tl(l, tui_status_role(j.dead), "dead tuples %lld (%.1f%%), most: %s %lld",
		       s->dead_tuples, j.dead_pct, s->dead_top[0].name, s->dead_top[0].dead);
	else
		tui_tl(l, tui_status_role(j.dead), "dead tuples %lld", s->dead_tuples);
	if (s->in_recovery) {
		fmt_duration(a, sizeof a, s->replay_lag_s);
		tui_tl(l, ROLE_NORMAL, "standby, replay lag %s", a);
	}
	if (s->nreplicas) {
		fmt_bytes(a, sizeof a, (double)s->max_replica_lag_bytes);
		tui_tl(l, ROLE_NORMAL, "replicas %d, max lag %s", s->nreplicas, a);
	}
	/* Judged as db-check judges them (status_repl.c). */
	if (x->sync_waiters) {
		fmt_duration(a, sizeof a, x->sync_wait_s);
		tui_tl(l, tui_status_role(threshold_judge(&t->cfg->sync_wait, x->sync_wait_s)),
		       "%d commit%s waiting %s for sync standby '%s'", x->sync_waiters,
		       x->sync_waiters == 1 ? "" : "s", a, x->sync_names);
	}
	if (x->fallback_names[0] && !x->sync_names[0])
		tui_tl(l, ROLE_WARNING, "asynchronous: dr-sync-guard dropped '%s' (standby gone)",
		       x->fallback_names);
	if (x->slot[0]) {
		enum status st = strcmp(x->slot_wal_status, "lost") == 0 ? ST_WARNING : ST_OK;
		if (x->slot_bytes >= 0) {
			st = status_worst(
			    st, threshold_judge(&t->cfg->slot_retained_wal,
						(double)x->slot_bytes / (1024.0 * 1024 * 1024)));
			fmt_bytes(a, sizeof a, (double)x->slot_bytes);
		} else
			snprintf(a, sizeof a, "?");
		tui_tl(l, st == ST_OK ? ROLE_NORMAL : tui_status_role(st),
		       "slot %s inactive, holds %s of WAL", x->slot, a);
	}
	if (x->backups_present) {
		if (isnan(x->backup_age_s))
			tui_tl(l, ROLE_WARNING, "last backup: none yet");
		else {
			fmt_duration(a, sizeof a, x->backup_age_s);
			tui_tl(l,
			       tui_status_role(
				   threshold_judge(&t->cfg->backup_age, x->backup_age_s / 3600)),
			       "last backup %s ago", a);
		}
	}
	if (x->backups_present || x->wal_archived || x->wal_failed) {
		if (isnan(x->wal_age_s))
			tui_tl(l, ROLE_DIM, "WAL archive: nothing archived yet");
		else {
			fmt_duration(a, sizeof a, x->wal_age_s);
			tui_tl(l, x->wal_failed ? ROLE_WARNING : ROLE_NORMAL,
			       "last WAL archived %s ago (%lld, %lld failed)", a, x->wal_archived,
			       x->wal_failed);
		}
	}
	(void)zoomed;
	{
		tui_tl(l, ROLE_DIM, "server %s", s->version);
		for (int i = 0; i < s->ndead_top; i++)
			tui_tl(l, ROLE_NORMAL, "  dead %-36s %lld of %lld", s->dead_top[i].name,
			       s->dead_top[i].dead, s->dead_top[i].live + s->dead_top[i].dead);
		if (s->longest_txn_query[0])
			tui_tl(l, ROLE_DIM, "  longest: %s", s->longest_txn_query);
	}
}

static void draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	struct tui_lines l = {0};
	int from = tui_pane_banner(t, p, r);
	build(t, &l, t->zoom == PANE_HEALTH);
	tui_text_pane(t, p, r, from, &l);
	tui_lines_free(&l);
}

static int details(struct tui_pane *p, struct tui *t, struct tui_lines *out)
{
	(void)p;
	const struct db_snapshot *s = &t->v->db;
	struct tui_lines l = {0};
	build(t, &l, 1);
	tui_lines_add_plain(out, &l);
	tui_lines_free(&l);
	char a[64];
	static const char *const names[MON_NPANES] = {"health", "import", "cache", "errors"};
	for (int p2 = 0; p2 < MON_NPANES; p2++) {
		const struct mon_stats *st = &t->v->stats[p2];
		tui_lines_addf(out, "%s probe: %lld queries, last %.1f ms, max %.1f ms", names[p2],
			       st->queries, st->last_ms, st->max_ms);
	}
	fmt_duration(a, sizeof a, s->uptime_s);
	tui_lines_addf(out, "server_version_num %d, uptime %s", s->server_num, a);
	/* The pane's size is an estimate: say what it counts, and where the exact one is. */
	fmt_bytes(a, sizeof a, (double)s->db_size);
	tui_lines_addf(out, "size ~%s is estimated: the pages of tables, indexes, TOAST", a);
	tui_lines_addf(out, "as of their last VACUUM or ANALYZE (pg_class.relpages);");
	tui_lines_addf(out, "db-check gives the exact pg_database_size");
	return 1;
}

const struct tui_pane_ops tui_pane_health_ops = {
    .name = "health",
    .title = "Database health",
    .draw = draw,
    .key = tui_pane_scroll_key,
    .details = details,
    .filterable = 1,
};
