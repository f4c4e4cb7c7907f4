/* backup-prune: retention (backup_retention) applied to the repository, and the WAL no
 * kept physical backup needs. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backup_int.h"
#include "config.h"
#include "db.h"

/* ---------- prune ---------- */

int backup_prune(struct cmd_ctx *ctx, int dry_run)
{
	char err[1024] = "";
	struct repo rp;
	if (backup_repo_open(&rp, ctx->cfg, !dry_run, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	struct backup_info *b;
	int n = backup_repo_load(rp.dir, &b);
	int *keep = calloc((size_t)n + 1, sizeof *keep);
	int kept = backup_retention(b, n, ctx->cfg->keep_daily, ctx->cfg->keep_weekly,
				    ctx->cfg->keep_monthly, keep);
	const char *cols[] = {"id", "type", "action"};
	out_table_begin(ctx->out, "backups", 3, cols);
	long long oldest = -1;
	long long segsize = 16 * 1024 * 1024;
	for (int i = 0; i < n; i++) {
		out_rowf(ctx->out, b[i].id, backup_type_name(b[i].type),
			 keep[i]   ? "keep"
			 : dry_run ? "would delete"
				   : "delete");
		if (keep[i] && (backup_type_physical(b[i].type)) &&
		    backup_is_wal_name(b[i].wal_first)) {
			long long idx = backup_wal_index(b[i].wal_first, segsize);
			if (oldest < 0 || idx < oldest)
				oldest = idx;
		}
	}
	out_table_end(ctx->out);
	int deleted = 0, wal_deleted = 0;
	for (int i = 0; i < n; i++) {
		if (keep[i] || dry_run)
			continue;
		char p[4400];
		snprintf(p, sizeof p, "%s/%s", rp.dir, b[i].id);
		if (backup_rm_rf(p) == 0)
			deleted++;
	}
	/* WAL older than the oldest kept physical backup serves no restore. */
	struct walset w;
	backup_walset_load(rp.wal, &w);
	for (int i = 0; oldest >= 0 && i < w.n; i++) {
		if (backup_wal_index(w.names[i], segsize) >= oldest)
			continue;
		wal_deleted++;
		if (dry_run)
			continue;
		char p[4600];
		snprintf(p, sizeof p, "%s/%s", rp.wal, w.names[i]);
		unlink(p);
		snprintf(p, sizeof p, "%s/%s.sha256", rp.wal, w.names[i]);
		unlink(p);
	}
	free(w.names);
	out_kv_int(ctx->out, "kept", kept);
	out_kv_int(ctx->out, dry_run ? "would_delete" : "deleted", dry_run ? n - kept : deleted);
	out_kv_int(ctx->out, dry_run ? "wal_segments_would_delete" : "wal_segments_deleted",
		   wal_deleted);
	if (!dry_run) {
		free(b);
		n = backup_repo_load(rp.dir, &b);
		PGconn *c = backup_cat_connect(ctx);
		backup_cat_sync(c, rp.dir, b, n);
		if (c && deleted)
			db_event(c, "info", "backup",
				 "backup-prune deleted %d backup(s) and %d WAL segment(s)", deleted,
				 wal_deleted);
		PQfinish(c);
	}
	free(keep);
	free(b);
	backup_repo_close(&rp);
	return 0;
}
