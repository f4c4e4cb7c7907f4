/* The catalogue mirror ops.backups (progress while running, sync from the repository),
 * db-backup-list with the point-in-time windows, and the backups section of status. The
 * repository stays the truth: catalogue failures are ignored. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup_int.h"
#include "cluster.h"
#include "config.h"
#include "db.h"
#include "target.h"
#include "util.h"

/* ---------- catalogue (ops.backups) ---------- */

void backup_cat_put(struct run *r, const char *status, double progress, const char *phase,
		    const char *message)
{
	if (!r->conn)
		return;
	char pr[32], pid[32], err[512];
	snprintf(pr, sizeof pr, "%.4f", progress);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	char *mj = r->man && strcmp(status, "running") ? cJSON_PrintUnformatted(r->man) : NULL;
	char size[32] = "", ws[32] = "", we[32] = "";
	if (r->man) {
		snprintf(size, sizeof size, "%.0f", util_json_num(r->man, "size", 0));
		if (util_json_num(r->man, "window_start", 0) > 0)
			snprintf(ws, sizeof ws, "%.0f", util_json_num(r->man, "window_start", 0));
		if (util_json_num(r->man, "window_end", 0) > 0)
			snprintf(we, sizeof we, "%.0f", util_json_num(r->man, "window_end", 0));
	}
	char t0[32];
	snprintf(t0, sizeof t0, "%.3f", r->t0);
	const char *p[] = {r->id,
			   backup_type_name(r->type),
			   status,
			   r->ctx->target->env,
			   pid,
			   t0,
			   pr,
			   phase,
			   message,
			   size[0] ? size : NULL,
			   ws[0] ? ws : NULL,
			   we[0] ? we : NULL,
			   mj};
	PGresult *res = db_query(
	    r->conn, err, sizeof err,
	    "insert into ops.backups (id, type, status, environment, host, pid, started_at, "
	    "progress, phase, message, size_bytes, window_start, window_end, manifest, "
	    "finished_at) values ($1, $2, $3, $4, inet_server_addr()::text, $5::int, "
	    "to_timestamp($6::float8), $7::float8, $8, $9, $10::bigint, "
	    "to_timestamp($11::float8), to_timestamp($12::float8), $13::jsonb, "
	    "case when $3 <> 'running' then now() end) "
	    "on conflict (id) do update set status = excluded.status, progress = "
	    "excluded.progress, phase = excluded.phase, message = excluded.message, "
	    "size_bytes = coalesce(excluded.size_bytes, ops.backups.size_bytes), window_start = "
	    "coalesce(excluded.window_start, ops.backups.window_start), window_end = "
	    "coalesce(excluded.window_end, ops.backups.window_end), manifest = "
	    "coalesce(excluded.manifest, ops.backups.manifest), finished_at = "
	    "excluded.finished_at, updated_at = now()",
	    13, p);
	PQclear(res);
	char payload[256];
	snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"status\":\"%s\",\"progress\":%.4f}",
		 r->id, status, progress);
	const char *np[] = {payload};
	res = db_query(r->conn, err, sizeof err, "select pg_notify('midsops_backup', $1)", 1, np);
	PQclear(res);
	cJSON_free(mj);
}

PGconn *backup_cat_connect(struct cmd_ctx *ctx)
{
	char err[1024];
	if (ctx->target->embedded) {
		struct cluster c;
		if (cluster_locate(&c, NULL, err, sizeof err) < 0 ||
		    cluster_state(&c, NULL) != CLUSTER_RUNNING)
			return NULL;
	}
	return db_connect_ready(ctx->target, "backup", err, sizeof err);
}

/* Mirror the repository into ops.backups: complete backups, verification, and what was
 * pruned. Failures are ignored: the repository is the truth. */
void backup_cat_sync(PGconn *c, const char *repo, const struct backup_info *b, int n)
{
	if (!c)
		return;
	char err[512];
	for (int i = 0; i < n; i++) {
		char st[32], sp[32], sz[32], ws[32], we[32], v[8];
		snprintf(st, sizeof st, "%lld", (long long)b[i].start);
		snprintf(sp, sizeof sp, "%lld", (long long)b[i].stop);
		snprintf(sz, sizeof sz, "%lld", b[i].size);
		snprintf(ws, sizeof ws, "%lld", (long long)b[i].window_start);
		snprintf(we, sizeof we, "%lld", (long long)b[i].window_end);
		snprintf(v, sizeof v, "%s", b[i].verified > 0 ? "true" : "false");
		const char *p[] = {b[i].id,
				   backup_type_name(b[i].type),
				   st,
				   sp,
				   sz,
				   b[i].window_start ? ws : NULL,
				   b[i].window_end ? we : NULL,
				   b[i].verified ? v : NULL};
		PQclear(db_query(
		    c, err, sizeof err,
		    "insert into ops.backups (id, type, status, started_at, finished_at, "
		    "size_bytes, window_start, window_end, verify_ok, progress) values "
		    "($1, $2, 'complete', to_timestamp($3::float8), "
		    "to_timestamp($4::float8), $5::bigint, to_timestamp($6::float8), "
		    "to_timestamp($7::float8), $8::boolean, 1) on conflict (id) do update "
		    "set status = 'complete', verify_ok = excluded.verify_ok, size_bytes = "
		    "excluded.size_bytes, updated_at = now()",
		    8, p));
	}
	/* Whatever the catalogue still lists as good but the repository lacks is gone. */
	cJSON *ids = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateString(b[i].id));
	char *js = cJSON_PrintUnformatted(ids);
	const char *p[] = {js};
	PQclear(
	    db_query(c, err, sizeof err,
		     "update ops.backups set status = case when status = 'complete' then "
		     "'pruned' else 'failed' end, updated_at = now() where status in "
		     "('complete', 'running') and not (id = any (select jsonb_array_elements_text("
		     "$1::jsonb))) and (status = 'complete' or pid is null or pid <> "
		     "pg_backend_pid() * 0 + pid)",
		     1, p));
	cJSON_free(js);
	cJSON_Delete(ids);
	(void)repo;
}

/* ---------- list ---------- */

static void fmt_when(time_t t, char *buf, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* The point-in-time windows, per timeline: a physical backup reaches, on its own timeline,
 * from its end to the newest WAL segment reached without a gap (its archive time), and on
 * every timeline whose history leaves its own after it ends, from that timeline's branch
 * point to the end of its WAL. An incremental's window follows the timeline it was taken
 * on, up to its own end. tli[i] gets each backup's timeline. */
static void compute_windows(const struct repo *rp, struct backup_info *b, int n,
			    const struct tl_set *ts, unsigned *tli)
{
	long long segsize = 16 * 1024 * 1024;
	for (int i = 0; i < n; i++) {
		unsigned long long stop;
		tli[i] = 0;
		if (!backup_type_physical(b[i].type) && b[i].type != BT_INCREMENTAL)
			continue;
		backup_tl_of_backup(rp->dir, b[i].id, &tli[i], &stop);
		const struct backup_info *base = &b[i];
		if (b[i].type == BT_INCREMENTAL)
			for (int j = 0; j < n; j++)
				if (strcmp(b[j].id, b[i].base) == 0)
					base = &b[j];
		if (!base->wal_first[0] || !backup_is_wal_name(base->wal_first) || !tli[i])
			continue;
		char last[25];
		time_t reach = backup_tl_reach(
		    ts, tli[i], backup_wal_index(base->wal_first, segsize), segsize, rp->wal, last);
		b[i].window_start = base->stop;
		time_t end = base->stop;
		if (last[0] &&
		    backup_wal_index(last, segsize) >= backup_wal_index(base->wal_last, segsize) &&
		    reach > end)
			end = reach;
		if (b[i].type == BT_INCREMENTAL && end > b[i].stop)
			end = b[i].stop;
		b[i].window_end = end;
	}
}

static void fmt_window(time_t a, time_t c, char *win, size_t n)
{
	char x[64], y[64];
	fmt_when(a, x, sizeof x);
	fmt_when(c, y, sizeof y);
	if (c > a)
		snprintf(win, n, "%s .. %s", x, y);
	else
		snprintf(win, n, "%s", x);
}

/* The archive's timelines and where each branched; then, for each full backup, the
 * window on each timeline it reaches (a time after a branch point lies on two). */
static void list_timelines(struct out *o, const struct repo *rp, const struct backup_info *b, int n,
			   const struct tl_set *ts, const unsigned *tli)
{
	long long segsize = 16 * 1024 * 1024;
	const char *tcols[] = {"timeline", "parent", "branch_lsn", "branch_time", "reason", "wal"};
	/* Text tables carry no title; JSON names them. */
	if (out_format(o) != OUT_JSON)
		out_line(o,
			 "\ntimelines of the WAL archive (where each branched from its parent):");
	out_table_begin(o, "timelines", 6, tcols);
	for (int i = 0; i < ts->n; i++) {
		const struct tl_info *t = &ts->v[i];
		char num[16], par[16] = "", lsn[32] = "", when[64] = "", wal[64] = "";
		snprintf(num, sizeof num, "%u", t->tli);
		if (t->has_history) {
			snprintf(par, sizeof par, "%u", t->parent);
			snprintf(lsn, sizeof lsn, "%X/%X", (unsigned)(t->branch_lsn >> 32),
				 (unsigned)t->branch_lsn);
			fmt_when(t->branch_time, when, sizeof when);
			if (!t->branch_time_exact) {
				char tmp[64];
				snprintf(tmp, sizeof tmp, "about %.57s", when);
				snprintf(when, sizeof when, "%s", tmp);
			}
		}
		if (t->first_seg[0])
			snprintf(wal, sizeof wal, "%s .. %s", t->first_seg + 8, t->last_seg + 8);
		out_rowf(o, num, par, lsn, when, t->has_history ? t->reason : "", wal);
	}
	out_table_end(o);
	const char *wcols[] = {"backup", "timeline", "window"};
	if (out_format(o) != OUT_JSON)
		out_line(o,
			 "\npoint-in-time windows of each full backup per timeline (a time after a "
			 "branch point lies on more than one):");
	out_table_begin(o, "windows", 3, wcols);
	for (int i = 0; i < n; i++) {
		if (!backup_type_physical(b[i].type) || !tli[i] ||
		    !backup_is_wal_name(b[i].wal_first))
			continue;
		unsigned bt;
		unsigned long long stop;
		backup_tl_of_backup(rp->dir, b[i].id, &bt, &stop);
		for (int k = 0; k < ts->n; k++) {
			const struct tl_info *x = &ts->v[k];
			if (!backup_tl_reachable(ts, x->tli, tli[i], stop))
				continue;
			char last[25], num[16], win[160];
			time_t end =
			    backup_tl_reach(ts, x->tli, backup_wal_index(b[i].wal_first, segsize),
					    segsize, rp->wal, last);
			time_t start = x->tli == tli[i] || x->branch_time < b[i].stop
					   ? b[i].stop
					   : x->branch_time;
			snprintf(num, sizeof num, "%u", x->tli);
			if (x->tli != tli[i] && backup_tl_of_segment(last) != x->tli)
				snprintf(win, sizeof win, "none: no WAL of timeline %u reached",
					 x->tli);
			else
				fmt_window(start, end > start ? end : start, win, sizeof win);
			out_rowf(o, b[i].id, num, win);
		}
	}
	out_table_end(o);
	/* A refused history file hides a timeline: named, never silently missing. */
	if (ts->nbad) {
		const char *scols[] = {"file", "reason"};
		if (out_format(o) != OUT_JSON)
			out_line(o, "\nhistory files refused (their timelines are not followed):");
		out_table_begin(o, "skipped_history", 2, scols);
		for (int i = 0; i < ts->nbad; i++)
			out_rowf(o, ts->bad[i].name, ts->bad[i].why);
		out_table_end(o);
	}
}

int backup_list(struct cmd_ctx *ctx)
{
	struct repo rp;
	struct backup_info *b;
	struct backup_skipped *sk;
	int ns, n = backup_repo_read(ctx, &rp, 0, &b, &sk, &ns);
	if (n < 0)
		return EXIT_FAIL;
	struct tl_set ts;
	backup_tl_load(rp.wal, &ts);
	unsigned *tli = xcalloc((size_t)n + 1, sizeof *tli);
	compute_windows(&rp, b, n, &ts, tli);
	const char *cols[] = {"id", "type", "timeline", "time", "size", "verified", "window"};
	out_table_begin(ctx->out, "backups", 7, cols);
	for (int i = 0; i < n; i++) {
		char when[64], size[32], win[160] = "", tl[16] = "";
		fmt_when(b[i].start, when, sizeof when);
		/* JSON gives figures in base units: the size in bytes, a number. */
		if (out_format(ctx->out) == OUT_JSON)
			snprintf(size, sizeof size, "%.0f", (double)b[i].size);
		else
			snprintf(size, sizeof size, "%.1f MB", (double)b[i].size / 1048576.0);
		if (tli[i])
			snprintf(tl, sizeof tl, "%u", tli[i]);
		if (b[i].window_start)
			fmt_window(b[i].window_start, b[i].window_end, win, sizeof win);
		out_rowf(ctx->out, b[i].id, backup_type_name(b[i].type), tl, when, size,
			 b[i].verified > 0   ? "yes"
			 : b[i].verified < 0 ? "FAILED"
					     : "no",
			 win);
	}
	out_table_end(ctx->out);
	if (ts.n || ts.nbad)
		list_timelines(ctx->out, &rp, b, n, &ts, tli);
	free(tli);
	backup_tl_free(&ts);
	/* A folder whose manifest was refused is named, never silently missing: it may be a
	 * backup someone damaged, or one planted in the repository. */
	if (ns) {
		const char *scols[] = {"folder", "reason"};
		out_table_begin(ctx->out, "skipped", 2, scols);
		for (int i = 0; i < ns; i++)
			out_rowf(ctx->out, sk[i].name, sk[i].why);
		out_table_end(ctx->out);
	}
	free(sk);
	if (!n)
		out_line(ctx->out, "no backups in %s", rp.dir);
	PGconn *c = backup_cat_connect(ctx);
	backup_cat_sync(c, rp.dir, b, n);
	PQfinish(c);
	free(b);
	return 0;
}

/* ---------- verify ---------- */

/* ---------- status section ---------- */

enum status backup_status_section(struct out *o, const struct config *cfg, PGconn *conn)
{
	(void)conn;
	struct backup_info *b;
	struct backup_skipped *sk;
	int ns, n = backup_repo_scan(cfg->backup_dir, &b, &sk, &ns);
	out_kv(o, "repository", "%s", cfg->backup_dir);
	out_kv_int(o, "count", n);
	enum status worst = ST_OK;
	/* Refused manifests count for nothing below (a forged epoch cannot move the backup's
	 * age), but someone damaged or planted them: worth a look. */
	if (ns) {
		out_kv_status(o, "skipped_manifests", ST_WARNING, "%d (%s%s)", ns, sk[0].why,
			      ns > 1 ? "; db-backup-list names the others" : "");
		worst = ST_WARNING;
	}
	free(sk);
	if (!n)
		out_kv(o, "last_backup", "none yet (db-backup-full makes the first)");
	else {
		const struct backup_info *l = &b[n - 1];
		double hours = difftime(time(NULL), l->stop) / 3600.0;
		enum status st = threshold_judge(&cfg->backup_age, hours);
		worst = status_worst(worst, st);
		out_kv_status(o, "last_backup_age", st, "%.1f h (%s, %s)", hours, l->id,
			      l->verified > 0	? "verified"
			      : l->verified < 0 ? "verify FAILED"
						: "not verified");
		int vf = -1;
		for (int i = n - 1; i >= 0 && vf < 0; i--)
			if (b[i].verified > 0)
				vf = i;
		out_kv(o, "last_verified", "%s", vf >= 0 ? b[vf].id : "none");
	}
	char wal[4200];
	snprintf(wal, sizeof wal, "%s/wal", cfg->backup_dir);
	struct walset w;
	backup_walset_load(wal, &w);
	time_t newest = 0;
	for (int i = 0; i < w.n; i++) {
		char p[4300];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", wal, w.names[i]);
		if (stat(p, &st) == 0 && st.st_mtime > newest)
			newest = st.st_mtime;
	}
	if (newest)
		out_kv(o, "last_archived_wal", "%.0f s ago (%s)", difftime(time(NULL), newest),
		       w.names[w.n - 1]);
	else
		out_kv(o, "last_archived_wal", "none");
	free(w.names);
	free(b);
	return worst;
}
