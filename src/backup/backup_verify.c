/* db-backup-verify: files against the manifest (pg_verifybackup for base backups), WAL
 * chains without gaps, dumps readable, and with --restore-test a scratch restore whose table
 * checksums must match. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup_int.h"
#include "db.h"
#include "proc.h"

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

int backup_verify(struct cmd_ctx *ctx, const char *want, int restore_test)
{
	char err[2048] = "", id[64];
	struct repo rp;
	struct backup_manifest bm = {0};
	if (backup_repo_open(&rp, ctx->cfg, restore_test, err, sizeof err) < 0 ||
	    backup_load_manifest(ctx, &rp, want, &bm, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		backup_repo_close(&rp);
		return EXIT_FAIL;
	}
	snprintf(id, sizeof id, "%s", bm.id);
	cJSON *man = bm.json;
	char dir[4400];
	snprintf(dir, sizeof dir, "%s/%s", rp.dir, id);
	double t0 = now_s();
	int bad = 0;
	cJSON *problems = cJSON_CreateArray();
#define PROBLEM(...)                                                                               \
	do {                                                                                       \
		char m_[1024];                                                                     \
		snprintf(m_, sizeof m_, __VA_ARGS__);                                              \
		cJSON_AddItemToArray(problems, cJSON_CreateString(m_));                            \
		bad++;                                                                             \
	} while (0)
	int type = (int)bm.type;
	int physical = backup_type_physical(bm.type);
	char base[4500];
	snprintf(base, sizeof base, "%s/base", dir);
	/* A compressed base backup's tars are hashed here like any other file; what is in
	 * them is checked by pg_verifybackup once extracted. */
	int compressed = physical && backup_base_compressed(base);
	/* Files: the base backup's data files are re-hashed by pg_verifybackup against the
	 * server's SHA-256 manifest (the same sums as ours); everything else here. */
	const cJSON *f;
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(man, "files");
	int nfiles = cJSON_GetArraySize(files), i = 0;
	cJSON_ArrayForEach(f, files)
	{
		char p[8800];
		const char *rel = jstr(f, "path");
		snprintf(p, sizeof p, "%s/%s", dir, rel);
		struct stat st;
		i++;
		if (stat(p, &st) < 0) {
			PROBLEM("missing file %s", rel);
			continue;
		}
		if ((double)st.st_size != jnum(f, "size")) {
			PROBLEM("size mismatch for file %s: %lld bytes, manifest says %.0f", rel,
				(long long)st.st_size, jnum(f, "size"));
			continue;
		}
		if (physical && !compressed && strncmp(rel, "base/", 5) == 0 &&
		    strcmp(rel, "base/backup_manifest"))
			continue;
		char hex[65];
		if (backup_sha256_file(p, hex) < 0 || strcmp(hex, jstr(f, "sha256"))) {
			PROBLEM("checksum mismatch for file %s", rel);
		}
		out_progress(ctx->out, "checksums", i, nfiles, rel);
	}
	out_progress_end(ctx->out);
	/* pg_verifybackup of PostgreSQL 15 reads only plain backups: a compressed one is
	 * extracted into a scratch folder first (with the checks of a restore), and checked
	 * there against the server's manifest, WAL included, as strictly as a plain one. */
	char scratch[4500] = "", mpath[4600];
	snprintf(mpath, sizeof mpath, "%s/backup_manifest", base);
	if (physical && compressed) {
		snprintf(scratch, sizeof scratch, "%s/.scratch-%ld.verify", rp.dir, (long)getpid());
		backup_rm_rf(scratch);
		out_progress(ctx->out, "extracting", 0, 0, "base.tar.zst");
		if (backup_base_lay_down(base, scratch, &rp, err, sizeof err) < 0)
			PROBLEM("%s", err);
		out_progress_end(ctx->out);
	}
	if (physical && !bad) {
		char bin[1024];
		proc_pg_bin("pg_verifybackup", bin, sizeof bin);
		char *argv[] = {bin, "-q", "-m", mpath, compressed ? scratch : base, NULL};
		struct proc_opts o = {.capture = 1};
		char *output = NULL;
		int st = proc_run(argv, &o, &output);
		if (st != 0) {
			/* pg_verifybackup names each bad file: keep its lines. */
			char *save = NULL;
			for (char *line = strtok_r(output ? output : "", "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				const char *m = strstr(line, "error: ");
				if (m) {
					m += 7;
					char q[1200];
					snprintf(q, sizeof q, "%s", m);
					/* "checksum mismatch for file "x"": name it relative to the
					 * backup */
					char *quote = strstr(q, "file \"");
					if (quote)
						PROBLEM("%.*sfile base/%s", (int)(quote - q), q,
							quote + 6);
					else
						PROBLEM("pg_verifybackup: %s", m);
				}
			}
			if (!bad)
				PROBLEM("pg_verifybackup failed (exit %d)", st);
		}
		free(output);
	}
	if (scratch[0])
		backup_rm_rf(scratch);
	if (type == BT_INCREMENTAL) {
		/* Every recorded segment present and intact, and no gap from the base on. */
		const cJSON *w;
		cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(man, "wal"))
		{
			char p[4600], hex[65];
			int z = strcmp(jstr(w, "compression"), "zstd") == 0;
			snprintf(p, sizeof p, "%s/%s%s", rp.wal, jstr(w, "name"), z ? ".zst" : "");
			if (backup_sha256_file(p, hex) < 0)
				PROBLEM("missing WAL segment %s (gap in the archive)",
					jstr(w, "name"));
			else if (strcmp(hex, jstr(w, "sha256")))
				PROBLEM("checksum mismatch for WAL segment %s (file %s)",
					jstr(w, "name"), strrchr(p, '/') + 1);
		}
		struct backup_manifest base;
		if (backup_manifest_read(rp.dir, bm.base, &base, err, sizeof err) < 0)
			PROBLEM("its full backup %s cannot be used: %s", bm.base, err);
		else if (!base.wal_first[0] || !bm.wal_last[0]) {
			PROBLEM("no WAL range recorded (wal_first of %s, wal_last of %s)", bm.base,
				id);
			backup_manifest_free(&base);
		} else {
			struct walset ws;
			backup_walset_load(rp.wal, &ws);
			long long segsize = bm.wal_segment_size, gap;
			char last[25];
			backup_walset_contiguous(&ws, backup_wal_index(base.wal_first, segsize),
						 backup_wal_index(bm.wal_last, segsize), segsize,
						 &gap, last);
			free(ws.names);
			if (gap >= 0) {
				char gname[25];
				backup_wal_name(bm.timeline,
						(unsigned long long)gap *
						    (unsigned long long)segsize,
						segsize, gname);
				PROBLEM("WAL gap: segment %s is missing; point-in-time restore "
					"ends before "
					"it (last contiguous %s)",
					gname, last[0] ? last : "none");
			}
			backup_manifest_free(&base);
		}
	}
	if (type == BT_ARCHIVE || type == BT_SAFETY) {
		char bin[1024], file[4500];
		snprintf(file, sizeof file, "%s/dump.pgdump", dir);
		proc_pg_bin("pg_restore", bin, sizeof bin);
		char *argv[] = {bin, "--list", file, NULL};
		struct proc_opts o = {.quiet = 1};
		if (proc_run(argv, &o, NULL) != 0)
			PROBLEM("pg_restore --list cannot read dump.pgdump");
	}
	char detail[2048] = "";
	if (!bad && restore_test) {
		const cJSON *tables = cJSON_GetObjectItemCaseSensitive(man, "tables");
		int rc;
		if (type == BT_ARCHIVE || type == BT_SAFETY)
			rc = backup_restore_test_logical(ctx, dir, man, detail, sizeof detail);
		else if (type == BT_INCREMENTAL) {
			char bdir[4500], target[64];
			snprintf(bdir, sizeof bdir, "%s/%s", rp.dir, bm.base);
			snprintf(target, sizeof target, "lsn:%s", bm.stop_lsn);
			rc = restore_test_physical(&rp, bdir, &bm, tables, target, detail,
						   sizeof detail);
		} else if (!tables)
			rc = restore_test_physical(&rp, dir, &bm, cJSON_GetArrayItem(NULL, 0),
						   "immediate", detail, sizeof detail);
		else
			rc = restore_test_physical(&rp, dir, &bm, tables, "immediate", detail,
						   sizeof detail);
		if (rc < 0)
			PROBLEM("restore test: %s", detail);
		else
			out_kv(ctx->out, "restore_test", "%s", detail);
	}
	const cJSON *pr;
	cJSON_ArrayForEach(pr, problems) out_err(ctx->out, "%s: %s", id, pr->valuestring);
	cJSON *v = cJSON_CreateObject();
	cJSON_AddBoolToObject(v, "ok", !bad);
	char ts[64];
	iso_time(time(NULL), ts, sizeof ts);
	cJSON_AddStringToObject(v, "at", ts);
	cJSON_AddBoolToObject(v, "restore_test", restore_test && !bad);
	cJSON_AddItemToObject(v, "problems", problems);
	char *txt = cJSON_Print(v), path[4500];
	snprintf(path, sizeof path, "%s/verify.json", dir);
	backup_write_file(path, txt, err, sizeof err);
	cJSON_free(txt);
	cJSON_Delete(v);
	out_kv(ctx->out, "id", "%s", id);
	out_kv_int(ctx->out, "files", nfiles);
	out_kv_num(ctx->out, "duration", now_s() - t0, "s");
	PGconn *c = backup_cat_connect(ctx);
	if (c) {
		const char *p[] = {id, bad ? "false" : "true"};
		PQclear(
		    db_query(c, err, sizeof err,
			     "update ops.backups set verify_ok = $2::boolean, verified_at = now(), "
			     "updated_at = now() where id = $1",
			     2, p));
		PQfinish(c);
	}
	backup_manifest_free(&bm);
	backup_repo_close(&rp);
	if (bad) {
		out_status(ctx->out, ST_CRITICAL, "backup %s failed verification (%d problem%s)",
			   id, bad, bad == 1 ? "" : "s");
		return ST_CRITICAL;
	}
	out_status(ctx->out, ST_OK, "backup %s verified", id);
	return ST_OK;
}
