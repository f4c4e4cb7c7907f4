/* db-backup-verify: files against the manifest (pg_verifybackup for base backups), WAL
 * chains without gaps, dumps readable, and with --restore-test a scratch restore whose table
 * checksums must match. */
#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup_int.h"
#include "db.h"
#include "proc.h"
#include "util.h"

/* A connection string value, quoted (a manifest's database and user names are checked
 * printable, but may hold spaces and quotes). */
static void conn_quote(const char *s, char *out, size_t n)
{
	size_t o = 0;
	out[o++] = '\'';
	for (; *s && o + 4 < n; s++) {
		if (*s == '\'' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = 0;
}

static int restore_test_physical(const struct repo *rp, const char *dir,
				 const struct backup_manifest *man, const cJSON *want_tables,
				 const char *target, char *detail, size_t dn)
{
	char err[1024] = "";
	struct scratch s;
	char base[4500];
	snprintf(base, sizeof base, "%s/base", dir);
	int rc = -1;
	if (backup_scratch_start(&s, rp, base, target, err, sizeof err) < 0) {
		snprintf(detail, dn, "%s", err);
		backup_scratch_stop(&s);
		return -1;
	}
	char ci[512], db[140], user[140];
	conn_quote(man->database, db, sizeof db);
	conn_quote(man->superuser, user, sizeof user);
	snprintf(ci, sizeof ci, "host=%s port=%d dbname=%s user=%s", s.sock, s.port, db, user);
	if (backup_wait_promoted(ci, s.dir, 600, err, sizeof err) < 0) {
		char tail[512], logf[4500];
		snprintf(logf, sizeof logf, "%s/server.log", s.sock);
		backup_log_tail(logf, tail, sizeof tail);
		size_t el = strlen(err);
		snprintf(err + el, sizeof err - el, ": %s", tail);
		snprintf(detail, dn, "%s", err);
		goto out;
	}
	PGconn *c = PQconnectdb(ci);
	cJSON *got = PQstatus(c) == CONNECTION_OK
			 ? backup_table_checksums(c, want_tables, err, sizeof err)
			 : NULL;
	PQfinish(c);
	if (!got) {
		snprintf(detail, dn, "cannot read the restored copy: %s", err);
		goto out;
	}
	char diff[1024];
	int bad = backup_compare_tables(want_tables, got, diff, sizeof diff);
	cJSON_Delete(got);
	if (bad)
		snprintf(detail, dn, "restored copy differs from the manifest in %d table(s): %s",
			 bad, diff);
	else {
		snprintf(detail, dn, "restored into a scratch cluster; %d table(s) match",
			 cJSON_GetArraySize(want_tables));
		rc = 0;
	}
out:
	backup_scratch_stop(&s);
	return rc;
}

/* What the steps of one verification share. */
struct verify {
	struct cmd_ctx *ctx;
	struct repo rp;
	struct backup_manifest bm;
	cJSON *man;
	char id[64];
	char dir[4400];
	char base[4500];
	char err[2048];
	int physical, compressed;
	cJSON *problems;
	int bad;
};

__attribute__((format(printf, 2, 3))) static void problem(struct verify *v, const char *fmt, ...)
{
	char m[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(v->problems, cJSON_CreateString(m));
	v->bad++;
}

/* Files: the base backup's data files are re-hashed by pg_verifybackup against the server's
 * SHA-256 manifest (the same sums as ours); everything else here. Returns the file count. */
static int verify_files(struct verify *v)
{
	const cJSON *f;
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(v->man, "files");
	int nfiles = cJSON_GetArraySize(files), i = 0;
	cJSON_ArrayForEach(f, files)
	{
		char p[8800];
		const char *rel = util_json_text(f, "path");
		snprintf(p, sizeof p, "%s/%s", v->dir, rel);
		struct stat st;
		i++;
		if (stat(p, &st) < 0) {
			problem(v, "missing file %s", rel);
			continue;
		}
		if ((double)st.st_size != util_json_num(f, "size", 0)) {
			problem(v, "size mismatch for file %s: %lld bytes, manifest says %.0f", rel,
				(long long)st.st_size, util_json_num(f, "size", 0));
			continue;
		}
		if (v->physical && !v->compressed && strncmp(rel, "base/", 5) == 0 &&
		    strcmp(rel, "base/backup_manifest"))
			continue;
		char hex[65];
		if (backup_sha256_file(p, hex) < 0 || strcmp(hex, util_json_text(f, "sha256"))) {
			problem(v, "checksum mismatch for file %s", rel);
		}
		out_progress(v->ctx->out, "checksums", i, nfiles, rel);
	}
	out_progress_end(v->ctx->out);
	return nfiles;
}

/* pg_verifybackup names each bad file: keep its lines. */
static void verify_base_report(struct verify *v, char *output, int st)
{
	char *save = NULL;
	for (char *line = strtok_r(output ? output : "", "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *m = strstr(line, "error: ");
		if (m) {
			m += 7;
			char q[1200];
			snprintf(q, sizeof q, "%s", m);
			/* "checksum mismatch for file "x"": name it relative to the backup */
			char *quote = strstr(q, "file \"");
			if (quote)
				problem(v, "%.*sfile base/%s", (int)(quote - q), q, quote + 6);
			else
				problem(v, "pg_verifybackup: %s", m);
		}
	}
	if (!v->bad)
		problem(v, "pg_verifybackup failed (exit %d)", st);
}

/* pg_verifybackup of PostgreSQL 15 reads only plain backups: a compressed one is extracted
 * into a scratch folder first (with the checks of a restore), and checked there against the
 * server's manifest, WAL included, as strictly as a plain one. */
static void verify_base(struct verify *v)
{
	char scratch[4500] = "", mpath[4600];
	snprintf(mpath, sizeof mpath, "%s/backup_manifest", v->base);
	if (v->physical && v->compressed) {
		snprintf(scratch, sizeof scratch, "%s/.scratch-%ld.verify", v->rp.dir,
			 (long)getpid());
		backup_rm_rf(scratch);
		out_progress(v->ctx->out, "extracting", 0, 0, "base.tar.zst");
		if (backup_base_lay_down(v->base, scratch, &v->rp, v->err, sizeof v->err) < 0)
			problem(v, "%s", v->err);
		out_progress_end(v->ctx->out);
	}
	if (v->physical && !v->bad) {
		char bin[1024];
		proc_pg_bin("pg_verifybackup", bin, sizeof bin);
		char *argv[] = {bin, "-q", "-m", mpath, v->compressed ? scratch : v->base, NULL};
		struct proc_opts o = {.capture = 1};
		char *output = NULL;
		int st = proc_run(argv, &o, &output);
		if (st != 0)
			verify_base_report(v, output, st);
		free(output);
	}
	if (scratch[0])
		backup_rm_rf(scratch);
}

/* No gap in the archive from the full backup's first segment to this one's last. */
static void verify_wal_gap(struct verify *v)
{
	struct backup_manifest *bm = &v->bm, base;
	if (backup_manifest_read(v->rp.dir, bm->base, &base, v->err, sizeof v->err) < 0) {
		problem(v, "its full backup %s cannot be used: %s", bm->base, v->err);
		return;
	}
	if (!base.wal_first[0] || !bm->wal_last[0]) {
		problem(v, "no WAL range recorded (wal_first of %s, wal_last of %s)", bm->base,
			v->id);
		backup_manifest_free(&base);
		return;
	}
	struct walset ws;
	backup_walset_load(v->rp.wal, &ws);
	long long segsize = bm->wal_segment_size, gap;
	char last[25];
	backup_walset_contiguous(&ws, backup_wal_index(base.wal_first, segsize),
				 backup_wal_index(bm->wal_last, segsize), segsize, &gap, last);
	free(ws.names);
	if (gap >= 0) {
		char gname[25];
		backup_wal_name(bm->timeline, (unsigned long long)gap * (unsigned long long)segsize,
				segsize, gname);
		problem(v,
			"WAL gap: segment %s is missing; point-in-time restore ends before it "
			"(last contiguous %s)",
			gname, last[0] ? last : "none");
	}
	backup_manifest_free(&base);
}

/* Every recorded segment present and intact, and no gap from the base on. */
static void verify_wal(struct verify *v)
{
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(v->man, "wal"))
	{
		char p[4600], hex[65];
		int z = strcmp(util_json_text(w, "compression"), "zstd") == 0;
		snprintf(p, sizeof p, "%s/%s%s", v->rp.wal, util_json_text(w, "name"),
			 z ? ".zst" : "");
		if (backup_sha256_file(p, hex) < 0)
			problem(v, "missing WAL segment %s (gap in the archive)",
				util_json_text(w, "name"));
		else if (strcmp(hex, util_json_text(w, "sha256")))
			problem(v, "checksum mismatch for WAL segment %s (file %s)",
				util_json_text(w, "name"), strrchr(p, '/') + 1);
	}
	verify_wal_gap(v);
}

static void verify_dump(struct verify *v)
{
	char bin[1024], file[4500];
	snprintf(file, sizeof file, "%s/dump.pgdump", v->dir);
	proc_pg_bin("pg_restore", bin, sizeof bin);
	char *argv[] = {bin, "--list", file, NULL};
	struct proc_opts o = {.quiet = 1};
	if (proc_run(argv, &o, NULL) != 0)
		problem(v, "pg_restore --list cannot read dump.pgdump");
}

static void verify_restore_test(struct verify *v, int type)
{
	char detail[2048] = "";
	const cJSON *tables = cJSON_GetObjectItemCaseSensitive(v->man, "tables");
	int rc;
	if (type == BT_ARCHIVE || type == BT_SAFETY)
		rc = backup_restore_test_logical(v->ctx, v->dir, v->man, detail, sizeof detail);
	else if (type == BT_INCREMENTAL) {
		char bdir[4500], target[64];
		snprintf(bdir, sizeof bdir, "%s/%s", v->rp.dir, v->bm.base);
		snprintf(target, sizeof target, "lsn:%s", v->bm.stop_lsn);
		rc = restore_test_physical(&v->rp, bdir, &v->bm, tables, target, detail,
					   sizeof detail);
	} else if (!tables)
		rc = restore_test_physical(&v->rp, v->dir, &v->bm, cJSON_GetArrayItem(NULL, 0),
					   "immediate", detail, sizeof detail);
	else
		rc = restore_test_physical(&v->rp, v->dir, &v->bm, tables, "immediate", detail,
					   sizeof detail);
	if (rc < 0)
		problem(v, "restore test: %s", detail);
	else
		out_kv(v->ctx->out, "restore_test", "%s", detail);
}

/* verify.json beside the backup, and the verdict in the catalog. */
static void verify_record(struct verify *v, int restore_test)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "ok", !v->bad);
	char ts[64];
	iso_time(time(NULL), ts, sizeof ts);
	cJSON_AddStringToObject(j, "at", ts);
	cJSON_AddBoolToObject(j, "restore_test", restore_test && !v->bad);
	cJSON_AddItemToObject(j, "problems", v->problems);
	v->problems = NULL;
	char *txt = cJSON_Print(j), path[4500];
	snprintf(path, sizeof path, "%s/verify.json", v->dir);
	backup_write_file(path, txt, v->err, sizeof v->err);
	cJSON_free(txt);
	cJSON_Delete(j);
}

static void verify_catalog(struct verify *v)
{
	PGconn *c = backup_cat_connect(v->ctx);
	if (c) {
		const char *p[] = {v->id, v->bad ? "false" : "true"};
		PQclear(
		    db_query(c, v->err, sizeof v->err,
			     "update ops.backups set verify_ok = $2::boolean, verified_at = now(), "
			     "updated_at = now() where id = $1",
			     2, p));
		PQfinish(c);
	}
}

int backup_verify(struct cmd_ctx *ctx, const char *want, int restore_test)
{
	struct verify *v = xcalloc(1, sizeof *v);
	v->ctx = ctx;
	if (backup_repo_open(&v->rp, ctx->cfg, restore_test, v->err, sizeof v->err) < 0 ||
	    backup_load_manifest(ctx, &v->rp, want, &v->bm, v->err, sizeof v->err) < 0) {
		out_err(ctx->out, "%s", v->err);
		backup_repo_close(&v->rp);
		free(v);
		return EXIT_FAIL;
	}
	snprintf(v->id, sizeof v->id, "%s", v->bm.id);
	v->man = v->bm.json;
	snprintf(v->dir, sizeof v->dir, "%s/%s", v->rp.dir, v->id);
	double t0 = util_mono();
	v->problems = cJSON_CreateArray();
	int type = (int)v->bm.type;
	v->physical = backup_type_physical(v->bm.type);
	snprintf(v->base, sizeof v->base, "%s/base", v->dir);
	/* A compressed base backup's tars are hashed here like any other file; what is in
	 * them is checked by pg_verifybackup once extracted. */
	v->compressed = v->physical && backup_base_compressed(v->base);
	int nfiles = verify_files(v);
	verify_base(v);
	if (type == BT_INCREMENTAL)
		verify_wal(v);
	if (type == BT_ARCHIVE || type == BT_SAFETY)
		verify_dump(v);
	if (!v->bad && restore_test)
		verify_restore_test(v, type);
	const cJSON *pr;
	cJSON_ArrayForEach(pr, v->problems) out_err(ctx->out, "%s: %s", v->id, pr->valuestring);
	verify_record(v, restore_test);
	out_kv(ctx->out, "id", "%s", v->id);
	out_kv_int(ctx->out, "files", nfiles);
	out_kv_num(ctx->out, "duration", util_mono() - t0, "s");
	verify_catalog(v);
	backup_manifest_free(&v->bm);
	backup_repo_close(&v->rp);
	int bad = v->bad, rc = ST_OK;
	if (bad) {
		out_status(ctx->out, ST_CRITICAL, "backup %s failed verification (%d problem%s)",
			   v->id, bad, bad == 1 ? "" : "s");
		rc = ST_CRITICAL;
	} else
		out_status(ctx->out, ST_OK, "backup %s verified", v->id);
	free(v);
	return rc;
}
