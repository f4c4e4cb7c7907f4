/* backup-prune: retention (backup_retention) applied to the repository, the WAL no
 * kept physical backup needs, and the data directories a restore set aside. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup_int.h"
#include "config.h"
#include "db.h"
#include "util.h"

/* A restore into the embedded cluster keeps the previous data directory as
 * pg.before-restore-TIME: a way back until the restore is trusted, but a whole cluster
 * each. The newest is kept (the way back from the last restore); older ones go. Failed
 * attempts (pg.failed-restore-TIME) are evidence and stay. */
#define OLD_DATA_KEEP 1

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int prune_old_data(struct cmd_ctx *ctx, const struct repo *rp, int dry_run, int *would)
{
	*would = 0;
	if (!rp->have_cl)
		return 0;
	const char *base = strrchr(rp->cl.datadir, '/');
	base = base ? base + 1 : rp->cl.datadir;
	char prefix[256];
	/* No directory entry has a name longer than the prefix can hold, so none to prune. */
	if (!util_fits(snprintf(prefix, sizeof prefix, "%s.before-restore-", base), sizeof prefix))
		return 0;
	DIR *d = opendir(rp->cl.root);
	if (!d)
		return 0;
	char **names = NULL;
	int n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			names = xrealloc(names, (size_t)cap * sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	int deleted = 0;
	if (n) {
		/* TIME is YYYYMMDDTHHMMSSZ: by name is oldest first. */
		qsort(names, (size_t)n, sizeof *names, cmp_name);
		const char *cols[] = {"path", "action"};
		out_table_begin(ctx->out, "old_data_directories", 2, cols);
		for (int i = 0; i < n; i++) {
			char p[8400];
			snprintf(p, sizeof p, "%s/%s", rp->cl.root, names[i]);
			int keep = i >= n - OLD_DATA_KEEP;
			out_rowf(ctx->out, p,
				 keep	   ? "keep (newest)"
				 : dry_run ? "would delete"
					   : "delete");
			if (keep)
				continue;
			(*would)++;
			if (!dry_run && backup_rm_rf(p) == 0)
				deleted++;
		}
		out_table_end(ctx->out);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return deleted;
}

int backup_prune(struct cmd_ctx *ctx, int dry_run)
{
	struct repo rp;
	struct backup_info *b;
	struct backup_skipped *sk;
	int ns, n = backup_repo_read(ctx, &rp, !dry_run, &b, &sk, &ns);
	if (n < 0)
		return EXIT_FAIL;
	/* Never deleted: what cannot be read is evidence, or someone's, not ours to judge. */
	backup_skipped_warn(ctx->out, sk, ns, " (kept, not pruned)");
	int *keep = xcalloc((size_t)n + 1, sizeof *keep);
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
		/* Either form, with its checksum file. */
		const char *forms[] = {"", ".sha256", ".zst", ".zst.sha256"};
		for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
			char p[4600];
			snprintf(p, sizeof p, "%s/%s%s", rp.wal, w.names[i], forms[k]);
			unlink(p);
		}
	}
	free(w.names);
	int old_would, old_deleted = prune_old_data(ctx, &rp, dry_run, &old_would);
	out_kv_int(ctx->out, "kept", kept);
	out_kv_int(ctx->out, dry_run ? "would_delete" : "deleted", dry_run ? n - kept : deleted);
	out_kv_int(ctx->out, dry_run ? "wal_segments_would_delete" : "wal_segments_deleted",
		   wal_deleted);
	out_kv_int(ctx->out,
		   dry_run ? "old_data_directories_would_delete" : "old_data_directories_deleted",
		   dry_run ? old_would : old_deleted);
	if (!dry_run) {
		free(b);
		n = backup_repo_load(rp.dir, &b);
		PGconn *c = backup_cat_connect(ctx);
		backup_cat_sync(c, rp.dir, b, n);
		if (c && (deleted || old_deleted))
			db_event(c, "info", "backup",
				 "backup-prune deleted %d backup(s), %d WAL segment(s) and %d old "
				 "data director%s",
				 deleted, wal_deleted, old_deleted, old_deleted == 1 ? "y" : "ies");
		PQfinish(c);
	}
	free(keep);
	free(b);
	backup_repo_close(&rp);
	return 0;
}
