/* One backup run: the id and partial folder, the manifest header, running an external tool
 * with progress, the file list with sha256, and the atomic rename into place. The types
 * themselves are in backup_full.c, backup_wal.c and backup_dump.c. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup_int.h"
#include "config.h"
#include "db.h"
#include "proc.h"
#include "target.h"
#include "util.h"

/* ---------- making what a tool wrote durable ---------- */

/* What a tool wrote so far: its size, for progress, and its writeback started.
 * pg_basebackup runs with --no-sync, so without this all of the copy is still dirty when
 * it ends, and the final sync waited 0.3-0.5 s for it on the 120 MB real-data cluster.
 * Started while the tool still copies (each pass touches only files changed since the
 * previous one), the writeback leaves backup_sync_tree little to wait for. */
static long long walk_total;
static double walk_since;
static int walk_written_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag != FTW_F)
		return 0;
	walk_total += st->st_size;
	if ((double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9 < walk_since)
		return 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
	}
	return 0;
}

/* *since: the previous pass's start (0: every file); file times are coarse, hence the
 * second of overlap. Returns the bytes under dir. */
static long long walk_written(const char *dir, double *since)
{
	double start = util_wall() - 1.0;
	walk_total = 0;
	walk_since = *since;
	nftw(dir, walk_written_cb, 32, FTW_PHYS);
	*since = start;
	return walk_total;
}

static int sync_err;
static int fsync_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)f;
	if (flag != FTW_F && flag != FTW_D)
		return 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fsync(fd) < 0) {
		sync_err = errno;
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

/* With the writeback started, one syncfs (a journal commit and a cache flush) costs
 * 0.04-0.1 s where an fsync of each of a base backup's ~1500 files cost 0.17-0.24 s, one
 * flush each. syncfs also waits for other writers on that file system, a price worth
 * paying once their data is not ours too; its error (Linux 5.8 and later) reports a
 * failed writeback. Where syncfs cannot be used, every file and directory is fsynced. */
int backup_sync_tree(const char *dir, char *err, size_t errlen)
{
	double since = 0;
	walk_written(dir, &since);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		int rc = syncfs(fd), e = errno;
		close(fd);
		if (rc == 0)
			return 0;
		if (e != ENOSYS) {
			snprintf(err, errlen, "cannot sync %s to disk: %s", dir, strerror(e));
			return -1;
		}
	}
	sync_err = 0;
	if (nftw(dir, fsync_cb, 32, FTW_PHYS) != 0) {
		snprintf(err, errlen, "cannot sync the files of %s to disk: %s", dir,
			 strerror(sync_err ? sync_err : errno));
		return -1;
	}
	return 0;
}

/* A run killed together with the server (or while it was unreachable) could not mark its
 * catalogue row failed, and its partial folder may be gone already. Under the repository
 * lock no backup of this repository runs, so a 'running' row with no folder here whose
 * process is gone is stale. */
static void mark_stale_running(struct run *r)
{
	char err[256];
	if (!r->conn)
		return;
	PGresult *res = db_query(
	    r->conn, err, sizeof err,
	    "select id, coalesce(pid, 0) from ops.backups where status = 'running'", 0, NULL);
	for (int i = 0; res && i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);
		long pid = atol(PQgetvalue(res, i, 1));
		char path[8300];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", r->repo.dir, id);
		if (stat(path, &st) == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s.partial", r->repo.dir, id);
		if (stat(path, &st) == 0 ||
		    (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)))
			continue;
		const char *p[] = {id};
		PQclear(
		    db_query(r->conn, err, sizeof err,
			     "update ops.backups set status = 'failed', message = "
			     "'interrupted; the run is gone', finished_at = coalesce(finished_at, "
			     "now()), updated_at = now() where id = $1 and status = 'running'",
			     1, p));
		out_warn(r->ctx->out, "marked backup %s failed: its run was interrupted", id);
	}
	PQclear(res);
}

/* What an interrupted run (killed, or on a host that crashed) leaves in the repository:
 * ID.partial and every file named after it (ID.partial.tables.json and its .tmp, whatever
 * suffix a later version adds), the tools still writing into it (pg_basebackup's WAL
 * streamer outlives pg_basebackup), and a restore test's .scratch-PID copy with its
 * server. The lock is held, so nothing else writes them. */
static int leftover_name(const char *name, char *id, size_t idn)
{
	const char *suf = strstr(name, ".partial");
	if (!suf || (suf[8] && suf[8] != '.'))
		return 0;
	snprintf(id, idn, "%.*s", (int)(suf - name), name);
	return backup_id_parse(id, NULL, NULL) == 0;
}

/* Tools of an interrupted run name its partial folder in their arguments (-D
 * ID.partial/base, -f ID.partial/dump.pgdump): stopped before the folder goes. */
static void stop_leftover_tools(struct run *r, const char *path)
{
	pid_t pids[64];
	int n = proc_find_by_path(path, pids, 64);
	if (n <= 0)
		return;
	proc_stop_pids(pids, n, 5000);
	out_warn(r->ctx->out, "stopped %d process%s an interrupted run left writing into %s", n,
		 n == 1 ? "" : "es", path);
}

/* A restore test's scratch copy whose run is gone: its server (pg_ctl starts it in a
 * session of its own, so it outlives the run) is stopped, the copy removed. */
static void clean_scratch(struct run *r, const char *name)
{
	long pid = atol(name + 9);
	if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM)
		return;
	char path[8300];
	snprintf(path, sizeof path, "%s/%s", r->repo.dir, name);
	stop_leftover_tools(r, path);
	backup_rm_rf(path);
	out_warn(r->ctx->out, "removed %s, left by an interrupted restore test", name);
}

static void clean_partials(struct run *r)
{
	DIR *d = opendir(r->repo.dir);
	if (!d)
		return;
	struct dirent *e;
	char err[256];
	while ((e = readdir(d))) {
		char id[64];
		if (strncmp(e->d_name, ".scratch-", 9) == 0) {
			clean_scratch(r, e->d_name);
			continue;
		}
		if (!leftover_name(e->d_name, id, sizeof id))
			continue;
		char path[8300];
		snprintf(path, sizeof path, "%s/%s.partial", r->repo.dir, id);
		stop_leftover_tools(r, path);
		snprintf(path, sizeof path, "%s/%s", r->repo.dir, e->d_name);
		backup_rm_rf(path);
		out_warn(r->ctx->out, "removed the partial backup %s left by an interrupted run",
			 e->d_name);
		if (r->conn) {
			const char *p[] = {id};
			PQclear(db_query(
			    r->conn, err, sizeof err,
			    "update ops.backups set status = 'failed', message = "
			    "'interrupted; partial files removed', finished_at = "
			    "coalesce(finished_at, now()), updated_at = now() where id = $1 and "
			    "status = 'running'",
			    1, p));
		}
	}
	closedir(d);
	mark_stale_running(r);
}

/* ---------- external tools with progress ---------- */

static volatile sig_atomic_t got_signal;
static void on_signal(int s)
{
	got_signal = s;
}

/* A stopped tool's grace: pg_basebackup and pg_dump end at once on SIGTERM. */
#define TOOL_GRACE_MS 5000

/* Run argv, showing progress as the size of watch against expect bytes. Returns the exit
 * status. The tool's output goes to logfile. SIGTERM, SIGINT or SIGHUP stop the tool's
 * whole process group (pg_basebackup's WAL streamer with it) and end the run with
 * r->stop_signal set. The repository lock is close-on-exec: a tool that outlived midsops
 * must not keep the next run out; that run stops it instead (clean_partials). */
int backup_run_tool(struct run *r, char *const argv[], char **env, const char *logfile,
		    const char *label, const char *watch, long long expect, uid_t uid, gid_t gid)
{
	struct proc_opts o = {
	    .envp_add = env, .stdout_file = logfile, .uid = uid, .gid = gid, .die_with_parent = 1};
	struct sigaction sa = {.sa_handler = on_signal}, oldint, oldterm, oldhup;
	got_signal = 0;
	sigaction(SIGINT, &sa, &oldint);
	sigaction(SIGTERM, &sa, &oldterm);
	sigaction(SIGHUP, &sa, &oldhup);
	pid_t pid = proc_spawn(argv, &o);
	int st = -1;
	double walked = 0, last_walk = 0, done = 0;
	for (; pid > 0;) {
		int ws;
		pid_t w = waitpid(pid, &ws, WNOHANG);
		if (w == pid) {
			st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
			break;
		}
		if ((w < 0 && errno != EINTR) || got_signal) {
			r->stop_signal = got_signal;
			st = proc_stop_group(pid, TOOL_GRACE_MS);
			if (r->stop_signal || st == 0)
				st = 128 + (r->stop_signal ? r->stop_signal : SIGTERM);
			break;
		}
		double tp = util_mono();
		if (watch && tp - last_walk >= 0.25) {
			last_walk = tp;
			done = (double)walk_written(watch, &walked);
		}
		if (watch && expect > 0 && tp - r->last_progress >= 0.5) {
			r->last_progress = tp;
			/* expect is an estimate (the database's size; the copy also holds WAL
			 * and more): past it, bytes alone, never a share above 100%. */
			if (done <= (double)expect)
				out_progress(r->ctx->out, label, done, (double)expect, NULL);
			else
				out_progress(r->ctx->out, label, done, 0,
					     "bytes, past the estimate");
			double t = util_mono();
			if (t - r->last_cat >= 1.0) {
				double pct = done / (double)expect;
				backup_cat_put(r, "running", pct > 0.99 ? 0.99 : pct, label, NULL);
				r->last_cat = t;
			}
		}
		usleep(20000); /* reap the tool promptly: it is timed */
	}
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGTERM, &oldterm, NULL);
	sigaction(SIGHUP, &oldhup, NULL);
	if (pid > 0)
		out_progress_end(r->ctx->out);
	return st;
}

/* ---------- running a backup ---------- */

static int run_begin(struct run *r, struct cmd_ctx *ctx, enum backup_type type, char *err,
		     size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->ctx = ctx;
	r->type = type;
	if (backup_repo_open(&r->repo, ctx->cfg, 1, err, errlen) < 0)
		return -1;
	r->conn = db_connect_ready(ctx->target, "backup", err, errlen);
	if (!r->conn)
		return -1;
	clean_partials(r);
	/* Ids are per second; never reuse one. */
	for (;;) {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		char ts[32];
		strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(r->id, sizeof r->id, "%s-%s", ts, backup_type_name(type));
		snprintf(r->final, sizeof r->final, "%s/%s", r->repo.dir, r->id);
		struct stat st;
		if (stat(r->final, &st) < 0)
			break;
		sleep(1);
	}
	if (!util_fits(snprintf(r->partial, sizeof r->partial, "%s.partial", r->final),
		       sizeof r->partial)) {
		snprintf(err, errlen, "path too long: %.900s", r->final);
		return -1;
	}
	if (mkdir(r->partial, 0700) < 0) {
		snprintf(err, errlen, "cannot create %.900s: %s", r->partial, strerror(errno));
		return -1;
	}
	r->t0 = util_wall();
	r->mono0 = util_mono();
	r->man = cJSON_CreateObject();
	cJSON_AddStringToObject(r->man, "id", r->id);
	cJSON_AddStringToObject(r->man, "type", backup_type_name(type));
	cJSON_AddStringToObject(r->man, "environment", ctx->target->env);
	char ts[64];
	iso_time((time_t)r->t0, ts, sizeof ts);
	cJSON_AddStringToObject(r->man, "start", ts);
	cJSON_AddNumberToObject(r->man, "start_epoch", r->t0);
	cJSON_AddStringToObject(r->man, "midsops_format", "1");
	PGresult *q = db_query(r->conn, err, errlen,
			       "select current_setting('server_version'), (select "
			       "system_identifier::text from pg_control_system()), (select "
			       "timeline_id from pg_control_checkpoint()), (select setting from "
			       "pg_settings where name = 'wal_segment_size'), current_database(), "
			       "(select rolname from pg_roles where oid = 10), "
			       "(select sum(pg_database_size(oid)) from pg_database)::bigint, "
			       "pg_database_size(current_database())",
			       0, NULL);
	if (!q)
		return -1;
	cJSON_AddStringToObject(r->man, "pg_version", PQgetvalue(q, 0, 0));
	cJSON_AddStringToObject(r->man, "system_identifier", PQgetvalue(q, 0, 1));
	cJSON_AddNumberToObject(r->man, "timeline", atof(PQgetvalue(q, 0, 2)));
	cJSON_AddNumberToObject(r->man, "wal_segment_size", atof(PQgetvalue(q, 0, 3)));
	cJSON_AddStringToObject(r->man, "database", PQgetvalue(q, 0, 4));
	cJSON_AddStringToObject(r->man, "superuser", PQgetvalue(q, 0, 5));
	cJSON_AddNumberToObject(r->man, "cluster_bytes", atof(PQgetvalue(q, 0, 6)));
	cJSON_AddNumberToObject(r->man, "database_bytes", atof(PQgetvalue(q, 0, 7)));
	PQclear(q);
	backup_cat_put(r, "running", 0, "starting", NULL);
	return 0;
}

/* Hash every file under dir not already in known (path -> sha256 from the server's own
 * manifest), and list all of them. */
struct walk_ctx {
	const char *root;
	size_t rootlen;
	cJSON *files;
	const cJSON *known;
	long long total;
};
static struct walk_ctx *walk_cur;

static int walk_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag != FTW_F)
		return 0;
	const char *rel = p + walk_cur->rootlen + 1;
	if (!strcmp(rel, "manifest.json") || !strcmp(rel, "verify.json"))
		return 0;
	char hex[65] = "";
	const cJSON *k = NULL;
	if (walk_cur->known && strncmp(rel, "base/", 5) == 0)
		k = cJSON_GetObjectItemCaseSensitive(walk_cur->known, rel + 5);
	if (k && cJSON_IsString(k) && strlen(k->valuestring) == 64)
		snprintf(hex, sizeof hex, "%s", k->valuestring);
	else if (backup_sha256_file(p, hex) < 0)
		return -1;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", rel);
	cJSON_AddNumberToObject(o, "size", (double)st->st_size);
	cJSON_AddStringToObject(o, "sha256", hex);
	cJSON_AddItemToArray(walk_cur->files, o);
	walk_cur->total += st->st_size;
	return 0;
}

int backup_list_files(struct run *r, const cJSON *known, char *err, size_t errlen)
{
	struct walk_ctx w = {.root = r->partial,
			     .rootlen = strlen(r->partial),
			     .files = cJSON_CreateArray(),
			     .known = known};
	walk_cur = &w;
	if (nftw(r->partial, walk_cb, 32, FTW_PHYS) < 0) {
		snprintf(err, errlen, "cannot checksum the files of %s: %s", r->partial,
			 strerror(errno));
		cJSON_Delete(w.files);
		return -1;
	}
	cJSON_AddItemToObject(r->man, "files", w.files);
	cJSON_AddNumberToObject(r->man, "size", (double)w.total);
	return 0;
}

static int run_finish(struct run *r, char *err, size_t errlen)
{
	double t = util_wall();
	char ts[64];
	iso_time((time_t)t, ts, sizeof ts);
	cJSON_AddStringToObject(r->man, "stop", ts);
	cJSON_AddNumberToObject(r->man, "stop_epoch", t);
	cJSON_AddNumberToObject(r->man, "duration_s", util_mono() - r->mono0);
	char path[4400];
	snprintf(path, sizeof path, "%s/manifest.json", r->partial);
	char *txt = cJSON_Print(r->man);
	int rc = backup_write_file(path, txt, err, errlen);
	cJSON_free(txt);
	if (rc < 0)
		return -1;
	backup_fsync_path(r->partial);
	if (rename(r->partial, r->final) < 0) {
		snprintf(err, errlen, "cannot rename %.900s: %s", r->partial, strerror(errno));
		return -1;
	}
	backup_fsync_path(r->repo.dir);
	backup_cat_put(r, "complete", 1, "done", NULL);
	return 0;
}

static void run_fail(struct run *r, const char *why)
{
	if (r->partial[0])
		backup_rm_rf(r->partial);
	backup_cat_put(r, "failed", 0, "failed", why);
	if (r->conn)
		db_event(r->conn, "error", "backup", "backup %s failed: %s", r->id, why);
}

static void run_end(struct run *r)
{
	cJSON_Delete(r->man);
	r->man = NULL;
	PQfinish(r->conn);
	r->conn = NULL;
	backup_repo_close(&r->repo);
}

int backup_run(struct cmd_ctx *ctx, enum backup_type type, char *id_out, size_t idlen)
{
	char err[2048] = "";
	struct run r;
	if (run_begin(&r, ctx, type, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		if (r.partial[0])
			backup_rm_rf(r.partial);
		run_end(&r);
		return EXIT_FAIL;
	}
	int rc;
	switch (type) {
	case BT_FULL:
		rc = backup_do_physical(&r, 1, err, sizeof err);
		break;
	case BT_EMERGENCY:
		rc = backup_do_physical(&r, 0, err, sizeof err);
		break;
	case BT_INCREMENTAL:
		rc = backup_do_incremental(&r, err, sizeof err);
		break;
	default:
		rc = backup_do_archive(&r, err, sizeof err);
		break;
	}
	if (rc == 0 && r.stop_signal) {
		snprintf(err, sizeof err, "stopped by %s", strsignal(r.stop_signal));
		rc = -1;
	} else if (r.stop_signal) {
		size_t el = strlen(err);
		snprintf(err + el, sizeof err - el, " (stopped by %s)", strsignal(r.stop_signal));
	}
	if (rc == 0)
		rc = run_finish(&r, err, sizeof err);
	if (rc < 0) {
		out_err(ctx->out, "backup %s failed: %s", r.id, err);
		run_fail(&r, err);
		run_end(&r);
		return EXIT_FAIL;
	}
	char sz[32];
	double size = util_json_num(r.man, "size", 0);
	snprintf(sz, sizeof sz, "%.1f MB", size / 1048576.0);
	out_kv(ctx->out, "id", "%s", r.id);
	out_kv(ctx->out, "type", "%s", backup_type_name(type));
	out_kv_int(ctx->out, "size_bytes", (long long)size);
	out_kv_num(ctx->out, "duration", util_mono() - r.mono0, "s");
	out_kv(ctx->out, "path", "%s", r.final);
	out_line(ctx->out, "backup %s complete (%s)", r.id, sz);
	if (r.conn)
		db_event(r.conn, "info", "backup", "backup %s complete (%s)", r.id, sz);
	if (id_out)
		snprintf(id_out, idlen, "%s", r.id);
	run_end(&r);
	return 0;
}
