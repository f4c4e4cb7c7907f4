/* Physical base backups (full, emergency): pg_basebackup into the partial folder (plain,
 * or tar.zst with [backup] compression), with the per-table checksums computed beside the
 * copy. */
#include <cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup_int.h"
#include "config.h"
#include "db.h"
#include "proc.h"
#include "target.h"
#include "util.h"

/* The base-backup files' sha256 as computed by the server into backup_manifest. */
static cJSON *server_checksums(const char *basedir, cJSON *man)
{
	char path[4400];
	/* A cut path would name another file: read none, as when the server wrote none. */
	cJSON *bm =
	    util_fits(snprintf(path, sizeof path, "%s/backup_manifest", basedir), sizeof path)
		? backup_read_json(path)
		: NULL;
	cJSON *known = cJSON_CreateObject();
	if (!bm)
		return known;
	const cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(bm, "Files"))
	{
		if (strcmp(util_json_text(f, "Checksum-Algorithm"), "SHA256") == 0)
			cJSON_AddStringToObject(known, util_json_text(f, "Path"),
						util_json_text(f, "Checksum"));
	}
	const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(bm, "WAL-Ranges");
	const cJSON *first = cJSON_GetArrayItem(ranges, 0);
	const cJSON *last = cJSON_GetArrayItem(ranges, cJSON_GetArraySize(ranges) - 1);
	if (first && last) {
		long long segsize = backup_seg_size(man);
		unsigned tli = (unsigned)util_json_num(last, "Timeline", 0);
		unsigned long long s = backup_parse_lsn(util_json_text(first, "Start-LSN")),
				   e = backup_parse_lsn(util_json_text(last, "End-LSN"));
		char a[25], b[25];
		backup_wal_name((unsigned)util_json_num(first, "Timeline", 0), s, segsize, a);
		backup_wal_name(tli, e > 0 ? e - 1 : 0, segsize, b);
		cJSON_AddStringToObject(man, "start_lsn", util_json_text(first, "Start-LSN"));
		cJSON_AddStringToObject(man, "stop_lsn", util_json_text(last, "End-LSN"));
		cJSON_AddStringToObject(man, "wal_first", a);
		cJSON_AddStringToObject(man, "wal_last", b);
	}
	cJSON_Delete(bm);
	return known;
}

/* The checksum child of a backup that failed: stop it and drop what it may write. */
static void stop_checksums(pid_t cpid, const char *tabf)
{
	if (cpid <= 0)
		return;
	kill(cpid, SIGTERM);
	waitpid(cpid, NULL, 0);
	unlink(tabf);
}

int backup_do_physical(struct run *r, int checksums, char *err, size_t errlen)
{
	char basebackup[1024], base[4400], logf[4400];
	if (!proc_pg_bin("pg_basebackup", basebackup, sizeof basebackup)) {
		snprintf(err, errlen, "pg_basebackup not found; install postgresql-15 (make deps)");
		return -1;
	}
	long long need =
	    (long long)(util_json_num(r->man, "cluster_bytes", 0) * 1.1) + (64LL << 20);
	if (backup_disk_check(r->repo.dir, need, err, errlen) < 0)
		return -1;
	if (r->ctx->target->embedded && backup_archive_setup(r, err, errlen) < 0)
		return -1;
	snprintf(base, sizeof base, "%s/base", r->partial);
	snprintf(logf, sizeof logf, "%s/pg_basebackup.log", r->partial);
	char label[128];
	snprintf(label, sizeof label, "midsops %s", r->id);
	/* Compressed: tar, zstd in pg_basebackup itself (client side, so any server will do,
	 * and the compression overlaps the server's reading), level from [backup]
	 * compression. PostgreSQL 15 leaves the streamed WAL's tar plain: compressed below. */
	int level = r->ctx->cfg->backup_compress;
	char zopt[64];
	snprintf(zopt, sizeof zopt, "--compress=client-zstd:level=%d", level);
	char *argv[] = {basebackup, "-D",   base,
			"-Fp",	    "-X",   "stream",
			"-c",	    "fast", "--manifest-checksums=SHA256",
			"-l",	    label,  "--no-sync",
			NULL,	    NULL};
	if (level > 0) {
		argv[3] = "-Ft";
		argv[12] = zopt;
		char zname[32];
		snprintf(zname, sizeof zname, "zstd:%d", level);
		cJSON_AddStringToObject(r->man, "compression", zname);
	}
	/* --no-sync: backup_run_tool starts the writeback while the copy runs, and
	 * backup_sync_tree below waits for what is left. */
	char **env = db_child_env(r->ctx->target->conninfo, NULL, err, errlen);
	if (!env)
		return -1;
	/* Table checksums run beside the copy, on their own connection in a child, so the
	 * backup costs little more than pg_basebackup alone. */
	char tabf[4500];
	snprintf(tabf, sizeof tabf, "%s.tables.json", r->partial);
	pid_t cpid = -1;
	if (checksums) {
		fflush(NULL);
		pid_t parent = getpid();
		cpid = fork();
		if (cpid == 0) {
			char cerr[1024];
			/* Never the repository's lock holder, and never alive after the run. */
			if (r->repo.lockfd >= 0)
				close(r->repo.lockfd);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			PGconn *cc =
			    db_connect(r->ctx->target, "backup checksums", cerr, sizeof cerr);
			cJSON *t = cc ? backup_table_checksums(cc, NULL, cerr, sizeof cerr) : NULL;
			char *txt = t ? cJSON_PrintUnformatted(t) : NULL;
			int ok = txt && backup_write_file(tabf, txt, cerr, sizeof cerr) == 0;
			PQfinish(cc);
			_exit(ok ? 0 : 1);
		}
	}
	/* Progress counts what lands in the folder: about a third of it when compressed. */
	int st = backup_run_tool(
	    r, argv, env, logf, "base backup", base,
	    (long long)util_json_num(r->man, "cluster_bytes", 0) / (level > 0 ? 3 : 1), 0, 0);
	db_env_free(env);
	if (st != 0) {
		char tail[512];
		stop_checksums(cpid, tabf);
		backup_tool_tail(logf, st, tail, sizeof tail);
		snprintf(err, errlen, "pg_basebackup failed (exit %d): %s", st, tail);
		return -1;
	}
	if (level > 0) {
		char wt[4500], wz[4500];
		snprintf(wt, sizeof wt, "%s/pg_wal.tar", base);
		snprintf(wz, sizeof wz, "%s/pg_wal.tar.zst", base);
		if (backup_zstd_file(wt, wz, level, err, errlen) < 0) {
			stop_checksums(cpid, tabf);
			return -1;
		}
	}
	if (backup_sync_tree(base, err, errlen) < 0) {
		stop_checksums(cpid, tabf);
		return -1;
	}
	cJSON *known = server_checksums(base, r->man);
	int rc = backup_list_files(r, known, err, errlen);
	cJSON_Delete(known);
	if (rc < 0) {
		stop_checksums(cpid, tabf);
		return -1;
	}
	double stop = util_wall();
	cJSON_AddNumberToObject(r->man, "window_start", stop);
	cJSON_AddNumberToObject(r->man, "window_end", stop);
	if (checksums) {
		backup_cat_put(r, "running", 0.95, "table checksums", NULL);
		int ws = 0;
		cJSON *t = NULL;
		if (cpid > 0 && waitpid(cpid, &ws, 0) == cpid && WIFEXITED(ws) &&
		    WEXITSTATUS(ws) == 0)
			t = backup_read_json(tabf);
		unlink(tabf);
		if (!t)
			t = backup_table_checksums(r->conn, NULL, err, errlen);
		if (!t)
			return -1;
		cJSON_AddItemToObject(r->man, "tables", t);
	}
	return 0;
}
