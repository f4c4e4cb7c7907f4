/* dr-validate: the DR site against a fixed baseline. The baseline is what the old primary
 * looked like before the disaster (figures.json, which dr-assess stops writing once the DR
 * site is activated), or, after a restore-only recovery, the per-table counts and checksums
 * in the restored backup's manifest. Never the site's own figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backup/backup_int.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "probe.h"
#include "target.h"

void dr_last_lines(char *dst, size_t n, const char *text, int lines)
{
	dst[0] = 0;
	if (!text)
		return;
	size_t len = strlen(text);
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	size_t start = len;
	for (int k = 0; start > 0; start--)
		if (text[start - 1] == '\n' && ++k == lines)
			break;
	snprintf(dst, n, "%.*s", (int)(len - start), text + start);
	for (char *p = dst; *p; p++)
		if (*p == '\n')
			*p = ';';
}

/* A manifest's [{table, rows, checksum}] as figures.json's {tables: {name: {...}}}. */
static cJSON *tables_as_figures(const cJSON *arr, const char *at, const char *lsn)
{
	cJSON *fig = cJSON_CreateObject();
	cJSON_AddStringToObject(fig, "at", at);
	cJSON_AddStringToObject(fig, "lsn", lsn);
	cJSON *tabs = cJSON_AddObjectToObject(fig, "tables");
	const cJSON *e;
	cJSON_ArrayForEach(e, arr)
	{
		const char *name = dr_str(e, "table");
		if (!name[0] || cJSON_GetObjectItemCaseSensitive(tabs, name))
			continue;
		cJSON *t = cJSON_AddObjectToObject(tabs, name);
		cJSON_AddNumberToObject(t, "rows", dr_num(e, "rows", 0));
		cJSON_AddStringToObject(t, "checksum", dr_str(e, "checksum"));
	}
	return fig;
}

/* The restored backup: the one dr-restore recorded, else the newest physical backup that
 * has table figures in its manifest. Returns its manifest's tables, or NULL. */
static cJSON *manifest_baseline(const struct config *cfg, const cJSON *st, char *id, size_t idn,
				char *at, size_t atn)
{
	struct backup_info *bi = NULL;
	int nb = backup_repo_load(cfg->backup_dir, &bi);
	const char *want = dr_str(st, "baseline_backup");
	char err[512];
	int only = want[0] ? backup_resolve_id(bi, nb, want, err, sizeof err) : -1;
	cJSON *tables = NULL;
	for (int i = nb - 1; i >= 0 && !tables; i--) {
		if (want[0] ? i != only : !backup_type_physical(bi[i].type))
			continue;
		struct backup_manifest m;
		if (backup_manifest_read(cfg->backup_dir, bi[i].id, &m, err, sizeof err) < 0)
			continue;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(m.json, "tables");
		if (cJSON_IsArray(t) && cJSON_GetArraySize(t) > 0) {
			tables = cJSON_Duplicate(t, 1);
			snprintf(id, idn, "%s", bi[i].id);
			struct tm tm;
			localtime_r(&m.stop, &tm);
			strftime(at, atn, "%Y-%m-%dT%H:%M:%S%z", &tm);
		}
		backup_manifest_free(&m);
	}
	free(bi);
	return tables;
}

/* The baseline: the old primary's figures, else the restored backup's manifest. Returns
 * it (the figures.json shape); *now gets the site's figures computed the same way (NULL
 * with err when they cannot be), source names the baseline. */
static cJSON *pick_baseline(struct cmd_ctx *ctx, PGconn *c, cJSON **now, char *source,
			    size_t sourcelen, char *err, size_t errlen)
{
	cJSON *then = dr_load("figures.json");
	*now = NULL;
	cJSON *tt = cJSON_GetObjectItemCaseSensitive(then, "tables");
	cJSON *st0 = dr_load("state.json");
	/* After a restore-only recovery the restored backup's manifest is the baseline, unless
	 * the old primary's figures are newer than that backup. */
	char mid[64] = "", mat[64] = "";
	cJSON *mt =
	    strcmp(dr_str(st0, "kind"), "restored") == 0 || !cJSON_IsObject(tt) || !tt->child
		? manifest_baseline(ctx->cfg, st0, mid, sizeof mid, mat, sizeof mat)
		: NULL;
	cJSON_Delete(st0);
	if (mt && cJSON_IsObject(tt) && tt->child && strcmp(dr_str(then, "at"), mat) > 0) {
		cJSON_Delete(mt);
		mt = NULL;
	}
	if (cJSON_IsObject(tt) && tt->child && !mt) {
		snprintf(source, sourcelen, "the old primary's figures of %s (primary at %s)",
			 dr_str(then, "at"), dr_str(then, "lsn"));
		*now = dr_figures(c, err, errlen);
	} else {
		const char *id = mid, *at = mat;
		if (mt) {
			cJSON_Delete(then);
			then = tables_as_figures(mt, at, "");
			tt = cJSON_GetObjectItemCaseSensitive(then, "tables");
			snprintf(source, sourcelen,
				 "the manifest of backup %s (taken %s): its per-table counts and "
				 "checksums",
				 id, at);
			/* Computed the way the manifest's were (its checksum method). */
			cJSON *got = backup_table_checksums(c, mt, err, errlen);
			if (got) {
				*now = tables_as_figures(got, "", "");
				cJSON_Delete(got);
			}
			cJSON_Delete(mt);
		} else
			*now = dr_figures(c, err, errlen);
	}
	return then;
}

struct tally {
	int more, edit, less, same;
};

/* Each baseline table against the site's: a row each, and the categories counted. */
static enum status compare_tables(struct cmd_ctx *ctx, const cJSON *then, const cJSON *now,
				  const char *source, struct tally *t)
{
	enum status worst = ST_OK;
	const cJSON *tt = cJSON_GetObjectItemCaseSensitive(then, "tables");
	int nmore = 0, nedit = 0, nless = 0, nsame = 0;
	out_kv(ctx->out, "baseline", "%s", source);
	cJSON *nt = cJSON_GetObjectItemCaseSensitive(now, "tables");
	const char *cols[] = {"table", "rows_before", "rows_now", "checksum", "status"};
	out_table_begin(ctx->out, "tables", 5, cols);
	cJSON *e;
	cJSON_ArrayForEach(e, tt)
	{
		cJSON *n = cJSON_GetObjectItemCaseSensitive(nt, e->string);
		double r0 = dr_num(e, "rows", 0), r1 = n ? dr_num(n, "rows", 0) : -1;
		int same = n && strcmp(dr_str(e, "checksum"), dr_str(n, "checksum")) == 0;
		enum status ts = !n || r1 < r0 ? ST_CRITICAL : same ? ST_OK : ST_WARNING;
		char a[32], b[32];
		snprintf(a, sizeof a, "%.0f", r0);
		snprintf(b, sizeof b, "%.0f", r1);
		out_rowf(ctx->out, e->string, a, n ? b : NULL,
			 !n	? "missing"
			 : same ? "identical"
				: "differs",
			 status_name(ts));
		worst = status_worst(worst, ts);
		if (same)
			nsame++;
		else if (!n || r1 < r0)
			nless++;
		else if (r1 > r0)
			nmore++;
		else
			nedit++;
	}
	out_table_end(ctx->out);
	out_kv_int(ctx->out, "tables_identical", nsame);
	out_kv_int(ctx->out, "tables_with_more_rows", nmore);
	out_kv_int(ctx->out, "tables_same_rows_other_content", nedit);
	out_kv_int(ctx->out, "tables_short_or_missing", nless);
	if (nmore)
		out_line(ctx->out, "%d table%s more rows than the baseline: writes after %s", nmore,
			 nmore == 1 ? " has" : "s have", dr_str(then, "at"));
	if (nedit)
		out_line(ctx->out,
			 "%d table%s the same number of rows as the baseline but other "
			 "content: rows changed after %s",
			 nedit, nedit == 1 ? " has" : "s have", dr_str(then, "at"));
	if (nless)
		out_line(ctx->out,
			 "%d table%s missing or fewer rows than the baseline: data is lost", nless,
			 nless == 1 ? " is" : "s are");
	t->more = nmore;
	t->edit = nedit;
	t->less = nless;
	t->same = nsame;
	return worst;
}

int dr_validate_exec(struct cmd_ctx *ctx)
{
	char err[1024], shown[1200];
	const char *site = dr_site_dsn(ctx->cfg);
	const char *dsn = site ? site : ctx->target->conninfo;
	conninfo_mask(dsn && *dsn ? dsn : "(libpq environment)", shown, sizeof shown);
	out_kv(ctx->out, "dr_site", "%s", shown);
	PGconn *c = probe_dr_connect(dsn, "dr-validate", 5, err, sizeof err);
	if (!c) {
		out_status(ctx->out, ST_CRITICAL, "%s", err);
		dr_phase("validate", ST_CRITICAL, "DR site unreachable");
		return ST_CRITICAL;
	}
	enum status worst = ST_OK;
	char *rec = db_scalar(c, err, sizeof err, "select pg_is_in_recovery()", 0, NULL);
	int standby = rec && rec[0] == 't';
	free(rec);
	out_kv_status(ctx->out, "role", standby ? ST_WARNING : ST_OK, "%s",
		      standby ? "standby (read-only; not activated)" : "primary (read-write)");
	worst = status_worst(worst, standby ? ST_WARNING : ST_OK);
	if (!standby) {
		int wok =
		    db_exec(
			c, err, sizeof err,
			"insert into ops.events (level, source, message, host, pid)\n"
			"values ('info', 'dr-validate', 'write test', inet_server_addr()::text,\n"
			"  pg_backend_pid())",
			0, NULL) == 0;
		out_kv_status(ctx->out, "writes", wok ? ST_OK : ST_CRITICAL, "%s",
			      wok ? "ok" : err);
		worst = status_worst(worst, wok ? ST_OK : ST_CRITICAL);
	}

	char source[400] = "";
	cJSON *now = NULL;
	cJSON *then = pick_baseline(ctx, c, &now, source, sizeof source, err, sizeof err);
	cJSON *tt = cJSON_GetObjectItemCaseSensitive(then, "tables");
	struct tally t = {0};
	if (!now) {
		out_kv_status(ctx->out, "figures", ST_CRITICAL, "cannot compute: %s", err);
		worst = ST_CRITICAL;
	} else if (!cJSON_IsObject(tt) || !tt->child) {
		out_kv_status(ctx->out, "figures", ST_UNKNOWN,
			      "no baseline: no figures of the old primary (dr-setup and dr-assess "
			      "record them) and no backup manifest with table figures");
		worst = status_worst(worst, ST_UNKNOWN);
	} else {
		worst = status_worst(worst, compare_tables(ctx, then, now, source, &t));
	}
	cJSON_Delete(then);
	cJSON_Delete(now);
	PQfinish(c);

	if (dr_have_command("validate-all-data")) {
		const char *cmd[] = {"validate-all-data", NULL};
		char *out = NULL, tail[600];
		int rc = dr_run_child(ctx->cfg, dsn, 0, cmd, &out);
		enum status vs = rc >= 0 && rc <= 3 ? (enum status)rc : ST_CRITICAL;
		dr_last_lines(tail, sizeof tail, out, 2);
		out_kv_status(ctx->out, "validate_all_data", vs, "exit %d: %s", rc, tail);
		free(out);
		worst = status_worst(worst, vs);
	} else
		out_kv(ctx->out, "validate_all_data", "skipped: not in this build of midsops");
	int nmore = t.more, nedit = t.edit, nless = t.less, nsame = t.same;
	/* Only the categories that occurred: "0 with more rows" would read as a claim. */
	char sum[300];
	int k = snprintf(sum, sizeof sum, "%d table%s identical", nsame, nsame == 1 ? "" : "s");
	if (nmore && k > 0 && (size_t)k < sizeof sum)
		k += snprintf(sum + k, sizeof sum - (size_t)k, ", %d with more rows", nmore);
	if (nedit && k > 0 && (size_t)k < sizeof sum)
		k += snprintf(sum + k, sizeof sum - (size_t)k, ", %d changed in place", nedit);
	if (nless && k > 0 && (size_t)k < sizeof sum)
		snprintf(sum + k, sizeof sum - (size_t)k, ", %d short or missing", nless);
	dr_phase("validate", worst, "%s", sum);
	out_status(ctx->out, worst, "DR site validation: %s", sum);
	return worst;
}
