/* Backups and restores: the repository on disk, the catalogue mirror, the backup types,
 * verify, prune, the restores, and the WAL archive commands. External tools always run
 * with an argv and the connection in PG* environment variables. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "cluster.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "paths.h"
#include "proc.h"
#include "target.h"

#define WAL_NAME_LEN 24

/* ---------- small file helpers ---------- */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *path)
{
	return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}

static long long du_total;
static int du_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)p, (void)f;
	if (flag == FTW_F)
		du_total += st->st_size;
	return 0;
}

static long long du(const char *path)
{
	du_total = 0;
	nftw(path, du_cb, 32, FTW_PHYS);
	return du_total;
}

static void fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int write_file(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

static cJSON *read_json(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
	cJSON *j = NULL;
	if (buf) {
		buf[fread(buf, 1, (size_t)len, f)] = 0;
		j = cJSON_Parse(buf);
		free(buf);
	}
	fclose(f);
	return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void iso_time(time_t t, char *buf, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *self_exe(void)
{
	static char buf[4096];
	if (!buf[0]) {
		ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
		if (n <= 0)
			snprintf(buf, sizeof buf, "midsops");
		else
			buf[n] = 0;
	}
	return buf;
}

/* ---------- the repository ---------- */

struct repo {
	char dir[4096];
	char wal[4200];
	int lockfd;
	struct cluster cl; /* the embedded cluster's user owns the WAL archive */
	int have_cl;
};

static int repo_open(struct repo *r, const struct config *cfg, int lock, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->lockfd = -1;
	snprintf(r->dir, sizeof r->dir, "%s", cfg->backup_dir);
	snprintf(r->wal, sizeof r->wal, "%s/wal", r->dir);
	char cerr[256];
	r->have_cl = cluster_locate(&r->cl, NULL, cerr, sizeof cerr) == 0;
	if (paths_mkdir_p(r->dir, 0711) < 0) {
		snprintf(err, errlen, "cannot create the backup repository %s: %s", r->dir,
			 strerror(errno));
		return -1;
	}
	/* The server's user (postgres when root) writes WAL here through wal-push. */
	chmod(r->dir, 0711);
	if (paths_mkdir_p(r->wal, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", r->wal, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && r->have_cl) {
		if (chown(r->wal, r->cl.uid, r->cl.gid) < 0 ||
		    cluster_make_reachable(&r->cl, r->wal, err, errlen) < 0) {
			if (!err[0])
				snprintf(err, errlen, "cannot hand %s to the server's user: %s",
					 r->wal, strerror(errno));
			return -1;
		}
	}
	if (!lock)
		return 0;
	char path[4300];
	snprintf(path, sizeof path, "%s/.lock", r->dir);
	r->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lockfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(r->lockfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "?";
		ssize_t n = pread(r->lockfd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 1] = 0;
		pid[strcspn(pid, "\n")] = 0;
		snprintf(err, errlen,
			 "another backup or restore is running on %s (pid %s); one at a time per "
			 "repository",
			 r->dir, pid);
		close(r->lockfd);
		r->lockfd = -1;
		return -1;
	}
	char pid[32];
	int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(r->lockfd, 0) == 0 && pwrite(r->lockfd, pid, (size_t)pl, 0) < 0)
		pid[0] = 0;
	return 0;
}

static void repo_close(struct repo *r)
{
	if (r->lockfd >= 0)
		close(r->lockfd);
	r->lockfd = -1;
}

static int disk_check(const char *dir, long long need, char *err, size_t errlen)
{
	struct statvfs vs;
	if (statvfs(dir, &vs) < 0)
		return 0;
	long long avail = (long long)vs.f_bavail * (long long)vs.f_frsize;
	const char *force = getenv("MIDSOPS_BACKUP_FREE_BYTES"); /* tests: simulate a full disk */
	if (force && *force)
		avail = atoll(force);
	if (avail < need) {
		snprintf(err, errlen,
			 "not enough free disk for the backup in %s: %lld MB free, about %lld MB "
			 "needed; free space or prune old backups (backup-prune)",
			 dir, avail >> 20, need >> 20);
		return -1;
	}
	return 0;
}

/* ---------- catalogue (ops.backups) ---------- */

struct run {
	struct cmd_ctx *ctx;
	struct repo repo;
	PGconn *conn; /* the target; NULL when unreachable */
	char id[64];
	char partial[4300], final[4300];
	enum backup_type type;
	double t0, last_cat, last_progress;
	cJSON *man;
};

static void cat_put(struct run *r, const char *status, double progress, const char *phase,
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
		snprintf(size, sizeof size, "%.0f", jnum(r->man, "size"));
		if (jnum(r->man, "window_start") > 0)
			snprintf(ws, sizeof ws, "%.0f", jnum(r->man, "window_start"));
		if (jnum(r->man, "window_end") > 0)
			snprintf(we, sizeof we, "%.0f", jnum(r->man, "window_end"));
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

static PGconn *cat_connect(struct cmd_ctx *ctx)
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
static void cat_sync(PGconn *c, const char *repo, const struct backup_info *b, int n)
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

/* A partial folder left by a crash or a full disk: remove it and mark it failed. The
 * lock is held, so nothing else writes one. */
static void clean_partials(struct run *r)
{
	DIR *d = opendir(r->repo.dir);
	if (!d)
		return;
	struct dirent *e;
	char err[256];
	while ((e = readdir(d))) {
		char *suf = strstr(e->d_name, ".partial");
		if (!suf || (suf[8] && strcmp(suf, ".partial.tables.json")))
			continue;
		char path[8300];
		snprintf(path, sizeof path, "%s/%s", r->repo.dir, e->d_name);
		rm_rf(path);
		out_warn(r->ctx->out, "removed the partial backup %s left by an interrupted run",
			 e->d_name);
		if (r->conn) {
			char id[64];
			snprintf(id, sizeof id, "%.*s", (int)(suf - e->d_name), e->d_name);
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
}

/* ---------- external tools with progress ---------- */

static volatile sig_atomic_t got_signal;
static void on_signal(int s)
{
	got_signal = s;
}

/* Run argv, showing progress as the size of watch against expect bytes. Returns the exit
 * status. The tool's output goes to logfile. */
static int run_tool(struct run *r, char *const argv[], char **env, const char *logfile,
		    const char *label, const char *watch, long long expect, uid_t uid, gid_t gid)
{
	struct proc_opts o = {.envp_add = env, .stdout_file = logfile, .uid = uid, .gid = gid};
	/* The tool inherits the repository lock: if midsops is killed, the orphan keeps the
	 * repository locked until it ends, and the next run then removes its partial folder. */
	if (r->repo.lockfd >= 0)
		fcntl(r->repo.lockfd, F_SETFD, 0);
	pid_t pid = proc_spawn(argv, &o);
	if (r->repo.lockfd >= 0)
		fcntl(r->repo.lockfd, F_SETFD, FD_CLOEXEC);
	if (pid < 0)
		return -1;
	struct sigaction sa = {.sa_handler = on_signal}, oldint, oldterm;
	sigaction(SIGINT, &sa, &oldint);
	sigaction(SIGTERM, &sa, &oldterm);
	int st = -1;
	for (;;) {
		int ws;
		pid_t w = waitpid(pid, &ws, WNOHANG);
		if (w == pid) {
			st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (got_signal) {
			kill(pid, SIGTERM);
			got_signal = 0;
		}
		double tp = now_s();
		if (watch && expect > 0 && tp - r->last_progress >= 0.5) {
			r->last_progress = tp;
			double done = (double)du(watch);
			out_progress(r->ctx->out, label, done, (double)expect, NULL);
			double t = now_s();
			if (t - r->last_cat >= 1.0) {
				double pct = done / (double)expect;
				cat_put(r, "running", pct > 0.99 ? 0.99 : pct, label, NULL);
				r->last_cat = t;
			}
		}
		usleep(20000); /* reap the tool promptly: it is timed */
	}
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGTERM, &oldterm, NULL);
	out_progress_end(r->ctx->out);
	return st;
}

static void log_tail(const char *logfile, char *buf, size_t n)
{
	buf[0] = 0;
	FILE *f = fopen(logfile, "r");
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0])
			snprintf(buf, n, "%s", line);
	}
	fclose(f);
}

/* ---------- table checksums ---------- */

/* Row counts and checksums of every table in builds and game, in one snapshot: md5 over
 * the md5 of each row's text, ordered by the primary key. */
static cJSON *table_checksums(PGconn *c, char *err, size_t errlen)
{
	if (db_exec(c, err, errlen, "begin isolation level repeatable read read only", 0, NULL) < 0)
		return NULL;
	PGresult *r = db_query(
	    c, err, errlen,
	    "select format('%I.%I', n.nspname, c.relname), coalesce((select string_agg("
	    "format('t.%I', a.attname), ', ' order by k.ord) from pg_index i cross join "
	    "unnest(i.indkey) with ordinality k(attnum, ord) join pg_attribute a on "
	    "a.attrelid = i.indrelid and a.attnum = k.attnum where i.indrelid = c.oid and "
	    "i.indisprimary), 't::text') from pg_class c join pg_namespace n on n.oid = "
	    "c.relnamespace where n.nspname in ('builds', 'game') and c.relkind in ('r', 'p') "
	    "and not c.relispartition order by 1",
	    0, NULL);
	if (!r) {
		db_rollback(c);
		return NULL;
	}
	cJSON *arr = cJSON_CreateArray();
	for (int i = 0; i < PQntuples(r); i++) {
		char sql[2048];
		snprintf(sql, sizeof sql,
			 "select count(*), coalesce(md5(string_agg(md5(t::text), '' order by %s)), "
			 "md5('')) from %s t",
			 PQgetvalue(r, i, 1), PQgetvalue(r, i, 0));
		PGresult *q = db_query(c, err, errlen, sql, 0, NULL);
		if (!q) {
			PQclear(r);
			cJSON_Delete(arr);
			db_rollback(c);
			return NULL;
		}
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "table", PQgetvalue(r, i, 0));
		cJSON_AddNumberToObject(t, "rows", atof(PQgetvalue(q, 0, 0)));
		cJSON_AddStringToObject(t, "checksum", PQgetvalue(q, 0, 1));
		cJSON_AddItemToArray(arr, t);
		PQclear(q);
	}
	PQclear(r);
	db_exec(c, err, errlen, "commit", 0, NULL);
	return arr;
}

/* Names the tables whose count or checksum differ; returns how many. */
static int compare_tables(const cJSON *want, const cJSON *got, char *detail, size_t n)
{
	int bad = 0;
	size_t off = 0;
	detail[0] = 0;
	const cJSON *w;
	cJSON_ArrayForEach(w, want)
	{
		const cJSON *g, *found = NULL;
		cJSON_ArrayForEach(g, got) if (strcmp(jstr(g, "table"), jstr(w, "table")) == 0)
		    found = g;
		if (!found || jnum(found, "rows") != jnum(w, "rows") ||
		    strcmp(jstr(found, "checksum"), jstr(w, "checksum"))) {
			bad++;
			if (off < n)
				off += (size_t)snprintf(
				    detail + off, n - off, "%s%s (%.0f rows, want %.0f)",
				    bad > 1 ? ", " : "", jstr(w, "table"),
				    found ? jnum(found, "rows") : -1, jnum(w, "rows"));
		}
	}
	return bad;
}

/* ---------- WAL names ---------- */

static long long seg_size_of(const cJSON *m)
{
	long long s = (long long)jnum(m, "wal_segment_size");
	return s > 0 ? s : 16 * 1024 * 1024;
}

static int is_wal_name(const char *s)
{
	if (strlen(s) != WAL_NAME_LEN)
		return 0;
	for (int i = 0; i < WAL_NAME_LEN; i++)
		if (!strchr("0123456789ABCDEF", s[i]))
			return 0;
	return 1;
}

/* Segment number across timelines. */
static long long wal_index(const char *name, long long segsize)
{
	unsigned log = 0, seg = 0;
	if (sscanf(name + 8, "%8X%8X", &log, &seg) != 2)
		return -1;
	return (long long)log * (0x100000000LL / segsize) + seg;
}

static void wal_name(unsigned tli, unsigned long long lsn, long long segsize, char out[25])
{
	unsigned long long segno = lsn / (unsigned long long)segsize;
	unsigned long long per = 0x100000000ULL / (unsigned long long)segsize;
	snprintf(out, 25, "%08X%08X%08X", tli, (unsigned)(segno / per), (unsigned)(segno % per));
}

static unsigned long long parse_lsn(const char *s)
{
	unsigned hi = 0, lo = 0;
	if (sscanf(s, "%X/%X", &hi, &lo) != 2)
		return 0;
	return (unsigned long long)hi << 32 | lo;
}

struct walset {
	char (*names)[WAL_NAME_LEN + 1];
	int n;
};

static int cmp_wal(const void *a, const void *b)
{
	return strcmp((const char *)a + 8, (const char *)b + 8) ?: strcmp(a, b);
}

static void walset_load(const char *dir, struct walset *w)
{
	memset(w, 0, sizeof *w);
	DIR *d = opendir(dir);
	if (!d)
		return;
	int cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_wal_name(e->d_name))
			continue;
		if (w->n == cap) {
			cap = cap ? cap * 2 : 256;
			w->names = realloc(w->names, (size_t)cap * sizeof *w->names);
		}
		snprintf(w->names[w->n++], WAL_NAME_LEN + 1, "%s", e->d_name);
	}
	closedir(d);
	if (w->n)
		qsort(w->names, (size_t)w->n, sizeof *w->names, cmp_wal);
}

/* From the segment index `from` on, the last index present without a gap (up to `to`
 * when to >= 0); *gap gets the first missing index below the newest segment, or -1. */
static long long walset_contiguous(const struct walset *w, long long from, long long to,
				   long long segsize, long long *gap, char last[25])
{
	long long want = from, lastidx = from - 1;
	*gap = -1;
	last[0] = 0;
	for (int i = 0; i < w->n; i++) {
		long long idx = wal_index(w->names[i], segsize);
		if (idx < want) {
			if (idx == want - 1)
				snprintf(last, 25, "%s",
					 w->names[i]); /* higher timeline, same segment */
			continue;
		}
		if (to >= 0 && idx > to)
			break;
		if (idx > want) {
			*gap = want;
			break;
		}
		lastidx = idx;
		snprintf(last, 25, "%s", w->names[i]);
		want = idx + 1;
	}
	if (*gap < 0 && to >= 0 && lastidx < to)
		*gap = lastidx + 1;
	return lastidx;
}

/* ---------- archiving on the embedded cluster ---------- */

static int archive_command_for(const struct repo *rp, char *buf, size_t n, char *err, size_t errlen)
{
	const char *exe = self_exe();
	if (strchr(exe, '\'') || strchr(rp->wal, '\'')) {
		snprintf(err, errlen, "paths with a quote cannot go into archive_command");
		return -1;
	}
	snprintf(buf, n, "'%s' wal-push %%p %%f --archive '%s'", exe, rp->wal);
	return 0;
}

/* Make the embedded cluster archive into this repository: archive_mode needs one restart,
 * archive_command only a reload. */
static int archive_setup_embedded(struct run *r, char *err, size_t errlen)
{
	char want[8800];
	if (archive_command_for(&r->repo, want, sizeof want, err, errlen) < 0)
		return -1;
	char *mode =
	    db_scalar(r->conn, err, errlen, "select current_setting('archive_mode')", 0, NULL);
	char *cmd =
	    db_scalar(r->conn, err, errlen, "select current_setting('archive_command')", 0, NULL);
	int ok_mode = mode && strcmp(mode, "off") != 0, ok_cmd = cmd && strcmp(cmd, want) == 0;
	free(mode);
	free(cmd);
	if (ok_mode && ok_cmd)
		return 0;
	struct cluster *c = &r->repo.cl;
	if (cluster_set(c, "archive_command", want, err, errlen) < 0 ||
	    cluster_set(c, "archive_timeout", "60", err, errlen) < 0)
		return -1;
	if (!ok_mode) {
		if (cluster_set(c, "archive_mode", "on", err, errlen) < 0)
			return -1;
		out_line(r->ctx->out,
			 "enabling WAL archiving into %s: restarting the embedded cluster once",
			 r->repo.wal);
		PQfinish(r->conn);
		r->conn = NULL;
		if (cluster_stop(c, "fast", err, errlen) < 0 ||
		    cluster_start(c, NULL, err, errlen) < 0)
			return -1;
		r->conn = db_connect_ready(r->ctx->target, "backup", err, errlen);
		if (!r->conn)
			return -1;
	}
	return 0;
}

static int archiving_configured(struct run *r)
{
	char err[256], want[8800];
	if (archive_command_for(&r->repo, want, sizeof want, err, sizeof err) < 0)
		return 0;
	char *cmd = db_scalar(r->conn, err, sizeof err,
			      "select current_setting('archive_mode') <> 'off' and "
			      "strpos(current_setting('archive_command'), $1) > 0",
			      1, (const char *[]){r->repo.wal});
	int ok = cmd && strcmp(cmd, "t") == 0;
	free(cmd);
	return ok;
}

/* ---------- running a backup ---------- */

static int run_begin(struct run *r, struct cmd_ctx *ctx, enum backup_type type, char *err,
		     size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->ctx = ctx;
	r->type = type;
	if (repo_open(&r->repo, ctx->cfg, 1, err, errlen) < 0)
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
	snprintf(r->partial, sizeof r->partial, "%s.partial", r->final);
	if (mkdir(r->partial, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", r->partial, strerror(errno));
		return -1;
	}
	r->t0 = now_s();
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
	cat_put(r, "running", 0, "starting", NULL);
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

static int list_files(struct run *r, const cJSON *known, char *err, size_t errlen)
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
	double t = now_s();
	char ts[64];
	iso_time((time_t)t, ts, sizeof ts);
	cJSON_AddStringToObject(r->man, "stop", ts);
	cJSON_AddNumberToObject(r->man, "stop_epoch", t);
	cJSON_AddNumberToObject(r->man, "duration_s", t - r->t0);
	char path[4400];
	snprintf(path, sizeof path, "%s/manifest.json", r->partial);
	char *txt = cJSON_Print(r->man);
	int rc = write_file(path, txt, err, errlen);
	cJSON_free(txt);
	if (rc < 0)
		return -1;
	fsync_path(r->partial);
	if (rename(r->partial, r->final) < 0) {
		snprintf(err, errlen, "cannot rename %s: %s", r->partial, strerror(errno));
		return -1;
	}
	fsync_path(r->repo.dir);
	cat_put(r, "complete", 1, "done", NULL);
	return 0;
}

static void run_fail(struct run *r, const char *why)
{
	if (r->partial[0])
		rm_rf(r->partial);
	cat_put(r, "failed", 0, "failed", why);
	if (r->conn)
		db_event(r->conn, "error", "backup", "backup %s failed: %s", r->id, why);
}

static void run_end(struct run *r)
{
	cJSON_Delete(r->man);
	r->man = NULL;
	PQfinish(r->conn);
	r->conn = NULL;
	repo_close(&r->repo);
}

/* The base-backup files' sha256 as computed by the server into backup_manifest. */
static cJSON *server_checksums(const char *basedir, cJSON *man)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/backup_manifest", basedir);
	cJSON *bm = read_json(path);
	cJSON *known = cJSON_CreateObject();
	if (!bm)
		return known;
	const cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(bm, "Files"))
	{
		if (strcmp(jstr(f, "Checksum-Algorithm"), "SHA256") == 0)
			cJSON_AddStringToObject(known, jstr(f, "Path"), jstr(f, "Checksum"));
	}
	const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(bm, "WAL-Ranges");
	const cJSON *first = cJSON_GetArrayItem(ranges, 0);
	const cJSON *last = cJSON_GetArrayItem(ranges, cJSON_GetArraySize(ranges) - 1);
	if (first && last) {
		long long segsize = seg_size_of(man);
		unsigned tli = (unsigned)jnum(last, "Timeline");
		unsigned long long s = parse_lsn(jstr(first, "Start-LSN")),
				   e = parse_lsn(jstr(last, "End-LSN"));
		char a[25], b[25];
		wal_name((unsigned)jnum(first, "Timeline"), s, segsize, a);
		wal_name(tli, e > 0 ? e - 1 : 0, segsize, b);
		cJSON_AddStringToObject(man, "start_lsn", jstr(first, "Start-LSN"));
		cJSON_AddStringToObject(man, "stop_lsn", jstr(last, "End-LSN"));
		cJSON_AddStringToObject(man, "wal_first", a);
		cJSON_AddStringToObject(man, "wal_last", b);
	}
	cJSON_Delete(bm);
	return known;
}

static int do_physical(struct run *r, int checksums, char *err, size_t errlen)
{
	char basebackup[1024], base[4400], logf[4400];
	if (!proc_pg_bin("pg_basebackup", basebackup, sizeof basebackup)) {
		snprintf(err, errlen, "pg_basebackup not found; install postgresql-15 (make deps)");
		return -1;
	}
	long long need = (long long)(jnum(r->man, "cluster_bytes") * 1.1) + (64LL << 20);
	if (disk_check(r->repo.dir, need, err, errlen) < 0)
		return -1;
	if (r->ctx->target->embedded && archive_setup_embedded(r, err, errlen) < 0)
		return -1;
	snprintf(base, sizeof base, "%s/base", r->partial);
	snprintf(logf, sizeof logf, "%s/pg_basebackup.log", r->partial);
	char label[128];
	snprintf(label, sizeof label, "midsops %s", r->id);
	char *argv[] = {basebackup, "-D",   base,
			"-Fp",	    "-X",   "stream",
			"-c",	    "fast", "--manifest-checksums=SHA256",
			"-l",	    label,  "--no-sync",
			NULL};
	/* --no-sync: the files are synced once below with syncfs, cheaper than per file. */
	char **env = backup_conninfo_env(r->ctx->target->conninfo, NULL);
	/* Table checksums run beside the copy, on their own connection in a child, so the
	 * backup costs little more than pg_basebackup alone. */
	char tabf[4500];
	snprintf(tabf, sizeof tabf, "%s.tables.json", r->partial);
	pid_t cpid = -1;
	if (checksums) {
		fflush(NULL);
		cpid = fork();
		if (cpid == 0) {
			char cerr[1024];
			PGconn *cc =
			    db_connect(r->ctx->target, "backup checksums", cerr, sizeof cerr);
			cJSON *t = cc ? table_checksums(cc, cerr, sizeof cerr) : NULL;
			char *txt = t ? cJSON_PrintUnformatted(t) : NULL;
			int ok = txt && write_file(tabf, txt, cerr, sizeof cerr) == 0;
			PQfinish(cc);
			_exit(ok ? 0 : 1);
		}
	}
	int st = run_tool(r, argv, env, logf, "base backup", base,
			  (long long)jnum(r->man, "cluster_bytes"), 0, 0);
	backup_env_free(env);
	if (st != 0) {
		char tail[512];
		if (cpid > 0) {
			kill(cpid, SIGTERM);
			waitpid(cpid, NULL, 0);
			unlink(tabf);
		}
		log_tail(logf, tail, sizeof tail);
		snprintf(err, errlen, "pg_basebackup failed (exit %d): %s", st, tail);
		return -1;
	}
	int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	cJSON *known = server_checksums(base, r->man);
	int rc = list_files(r, known, err, errlen);
	cJSON_Delete(known);
	if (rc < 0)
		return -1;
	double stop = now_s();
	cJSON_AddNumberToObject(r->man, "window_start", stop);
	cJSON_AddNumberToObject(r->man, "window_end", stop);
	if (checksums) {
		cat_put(r, "running", 0.95, "table checksums", NULL);
		int ws = 0;
		cJSON *t = NULL;
		if (cpid > 0 && waitpid(cpid, &ws, 0) == cpid && WIFEXITED(ws) &&
		    WEXITSTATUS(ws) == 0)
			t = read_json(tabf);
		unlink(tabf);
		if (!t)
			t = table_checksums(r->conn, err, errlen);
		if (!t)
			return -1;
		cJSON_AddItemToObject(r->man, "tables", t);
	}
	return 0;
}

static int do_archive(struct run *r, char *err, size_t errlen)
{
	char dump[1024], file[4400], logf[4400];
	if (!proc_pg_bin("pg_dump", dump, sizeof dump)) {
		snprintf(err, errlen,
			 "pg_dump not found; install postgresql-client-15 (make deps)");
		return -1;
	}
	long long need = (long long)(jnum(r->man, "database_bytes") * 0.6) + (16LL << 20);
	if (disk_check(r->repo.dir, need, err, errlen) < 0)
		return -1;
	/* Checksums first, in their own snapshot; pg_dump takes its own. */
	cJSON *t = table_checksums(r->conn, err, errlen);
	if (!t)
		return -1;
	cJSON_AddItemToObject(r->man, "tables", t);
	snprintf(file, sizeof file, "%s/dump.pgdump", r->partial);
	snprintf(logf, sizeof logf, "%s/pg_dump.log", r->partial);
	char *argv[] = {dump, "-Fc", "-Z", "5", "-f", file, NULL};
	char **env = backup_conninfo_env(r->ctx->target->conninfo, NULL);
	int st = run_tool(r, argv, env, logf, "logical dump", r->partial,
			  (long long)(jnum(r->man, "database_bytes") / 4), 0, 0);
	backup_env_free(env);
	if (st != 0) {
		char tail[512];
		log_tail(logf, tail, sizeof tail);
		snprintf(err, errlen, "pg_dump failed (exit %d): %s", st, tail);
		return -1;
	}
	fsync_path(file);
	cJSON_AddStringToObject(r->man, "format", "custom");
	if (list_files(r, NULL, err, errlen) < 0)
		return -1;
	cJSON_AddNumberToObject(r->man, "window_start", r->t0);
	cJSON_AddNumberToObject(r->man, "window_end", r->t0);
	return 0;
}

static int latest_of(const struct backup_info *b, int n, int physical_only)
{
	for (int i = n - 1; i >= 0; i--)
		if (!physical_only || backup_type_physical(b[i].type))
			return i;
	return -1;
}

static int do_incremental(struct run *r, char *err, size_t errlen)
{
	if (r->ctx->target->embedded) {
		if (archive_setup_embedded(r, err, errlen) < 0)
			return -1;
	} else if (!archiving_configured(r)) {
		char want[8800];
		archive_command_for(&r->repo, want, sizeof want, err, errlen);
		snprintf(
		    err, errlen,
		    "WAL archiving into %s is not configured on this server; set archive_mode = "
		    "on and archive_command = '%s' (or run wal-receive), then retry",
		    r->repo.wal, want);
		return -1;
	}
	struct backup_info *b;
	int n = backup_repo_load(r->repo.dir, &b);
	int bi = latest_of(b, n, 1);
	if (bi < 0) {
		free(b);
		snprintf(err, errlen, "no full backup to extend; run db-backup-full first");
		return -1;
	}
	/* WAL since the previous backup of the chain. */
	char prev_last[32];
	snprintf(prev_last, sizeof prev_last, "%s", b[bi].wal_last);
	for (int i = bi + 1; i < n; i++)
		if (b[i].type == BT_INCREMENTAL && strcmp(b[i].base, b[bi].id) == 0)
			snprintf(prev_last, sizeof prev_last, "%s", b[i].wal_last);
	char base_id[64], base_first[32];
	snprintf(base_id, sizeof base_id, "%s", b[bi].id);
	snprintf(base_first, sizeof base_first, "%s", b[bi].wal_first);
	time_t base_stop = b[bi].stop;
	free(b);
	cat_put(r, "running", 0.1, "switching WAL", NULL);
	PGresult *q = db_query(r->conn, err, errlen,
			       "select lsn::text, pg_walfile_name(lsn), before::text from "
			       "pg_current_wal_insert_lsn() before, pg_switch_wal() lsn",
			       0, NULL);
	if (!q)
		return -1;
	char seg[32], lsn[32];
	/* The switch record starts at or after the insert position read before it, so a
	 * recovery target there is reached inside the archived segment. */
	snprintf(lsn, sizeof lsn, "%s", PQgetvalue(q, 0, 2));
	snprintf(seg, sizeof seg, "%s", PQgetvalue(q, 0, 1));
	PQclear(q);
	char path[4500];
	snprintf(path, sizeof path, "%s/%s", r->repo.wal, seg);
	/* Wait until the server has archived the segment. */
	struct stat st;
	double deadline = now_s() + 120;
	while (stat(path, &st) < 0) {
		if (now_s() > deadline) {
			char *why = db_scalar(r->conn, err, errlen,
					      "select coalesce(last_failed_wal || ' failed at ' || "
					      "last_failed_time, 'no failure recorded') from "
					      "pg_stat_archiver",
					      0, NULL);
			snprintf(
			    err, errlen,
			    "WAL segment %s was not archived within 120 s (archiver: %s); check "
			    "archive_command and the server log",
			    seg, why ? why : "?");
			free(why);
			return -1;
		}
		out_progress(r->ctx->out, "waiting for WAL archive", 0, 0, seg);
		usleep(100000);
	}
	out_progress_end(r->ctx->out);
	long long segsize = seg_size_of(r->man);
	struct walset w;
	walset_load(r->repo.wal, &w);
	long long from = prev_last[0] ? wal_index(prev_last, segsize) + 1 : 0;
	long long to = wal_index(seg, segsize);
	cJSON *list = cJSON_CreateArray();
	long long total = 0;
	char first[32] = "";
	for (int i = 0; i < w.n; i++) {
		long long idx = wal_index(w.names[i], segsize);
		if (idx < from || idx > to)
			continue;
		char hex[65], p2[4600];
		snprintf(p2, sizeof p2, "%s/%s", r->repo.wal, w.names[i]);
		long long sz = backup_sha256_file(p2, hex);
		if (sz < 0)
			continue;
		if (!first[0])
			snprintf(first, sizeof first, "%s", w.names[i]);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", w.names[i]);
		cJSON_AddNumberToObject(o, "size", (double)sz);
		cJSON_AddStringToObject(o, "sha256", hex);
		cJSON_AddItemToArray(list, o);
		total += sz;
		out_progress(r->ctx->out, "checksumming WAL", (double)(idx - from + 1),
			     (double)(to - from + 1), w.names[i]);
	}
	out_progress_end(r->ctx->out);
	long long gap;
	char last[25];
	walset_contiguous(&w, wal_index(base_first, segsize), to, segsize, &gap, last);
	free(w.names);
	if (gap >= 0)
		out_warn(r->ctx->out,
			 "the WAL archive has a gap at segment index %lld: point-in-time restore "
			 "stops before it",
			 gap);
	cJSON_AddStringToObject(r->man, "base", base_id);
	cJSON_AddStringToObject(r->man, "wal_first", first[0] ? first : seg);
	cJSON_AddStringToObject(r->man, "wal_last", seg);
	cJSON_AddStringToObject(r->man, "stop_lsn", lsn);
	cJSON_AddItemToObject(r->man, "wal", list);
	cJSON_AddNumberToObject(r->man, "wal_bytes", (double)total);
	cJSON *t = table_checksums(r->conn, err, errlen);
	if (!t)
		return -1;
	cJSON_AddItemToObject(r->man, "tables", t);
	if (list_files(r, NULL, err, errlen) < 0)
		return -1;
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(r->man, "size"), (double)total);
	cJSON_AddNumberToObject(r->man, "window_start", (double)base_stop);
	cJSON_AddNumberToObject(r->man, "window_end", now_s());
	return 0;
}

int backup_run(struct cmd_ctx *ctx, enum backup_type type, char *id_out, size_t idlen)
{
	char err[2048] = "";
	struct run r;
	if (run_begin(&r, ctx, type, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		if (r.partial[0])
			rm_rf(r.partial);
		run_end(&r);
		return EXIT_FAIL;
	}
	int rc;
	switch (type) {
	case BT_FULL:
		rc = do_physical(&r, 1, err, sizeof err);
		break;
	case BT_EMERGENCY:
		rc = do_physical(&r, 0, err, sizeof err);
		break;
	case BT_INCREMENTAL:
		rc = do_incremental(&r, err, sizeof err);
		break;
	default:
		rc = do_archive(&r, err, sizeof err);
		break;
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
	double size = jnum(r.man, "size");
	snprintf(sz, sizeof sz, "%.1f MB", size / 1048576.0);
	out_kv(ctx->out, "id", "%s", r.id);
	out_kv(ctx->out, "type", "%s", backup_type_name(type));
	out_kv_int(ctx->out, "size_bytes", (long long)size);
	out_kv_num(ctx->out, "duration", now_s() - r.t0, "s");
	out_kv(ctx->out, "path", "%s", r.final);
	out_line(ctx->out, "backup %s complete (%s)", r.id, sz);
	if (r.conn)
		db_event(r.conn, "info", "backup", "backup %s complete (%s)", r.id, sz);
	if (id_out)
		snprintf(id_out, idlen, "%s", r.id);
	run_end(&r);
	return 0;
}

/* ---------- list ---------- */

static void fmt_when(time_t t, char *buf, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* The point-in-time window: from a physical backup's end to the newest WAL segment reached
 * without a gap (its archive time). */
static void compute_windows(const struct repo *rp, struct backup_info *b, int n)
{
	struct walset w;
	walset_load(rp->wal, &w);
	long long segsize = 16 * 1024 * 1024;
	for (int i = 0; i < n; i++) {
		if (!backup_type_physical(b[i].type) && b[i].type != BT_INCREMENTAL)
			continue;
		const struct backup_info *base = &b[i];
		if (b[i].type == BT_INCREMENTAL)
			for (int j = 0; j < n; j++)
				if (strcmp(b[j].id, b[i].base) == 0)
					base = &b[j];
		if (!base->wal_first[0] || !is_wal_name(base->wal_first))
			continue;
		long long to = b[i].type == BT_INCREMENTAL ? wal_index(b[i].wal_last, segsize) : -1;
		long long gap;
		char last[25];
		long long lastidx = walset_contiguous(&w, wal_index(base->wal_first, segsize), to,
						      segsize, &gap, last);
		b[i].window_start = base->stop;
		time_t end = base->stop;
		if (last[0] && lastidx >= wal_index(base->wal_last, segsize)) {
			char p[4500];
			struct stat st;
			snprintf(p, sizeof p, "%s/%s", rp->wal, last);
			if (stat(p, &st) == 0 && st.st_mtime > end)
				end = st.st_mtime;
		}
		if (b[i].type == BT_INCREMENTAL && gap < 0 && b[i].stop > end)
			end = b[i].stop;
		if (b[i].type == BT_INCREMENTAL && end > b[i].stop)
			end = b[i].stop;
		b[i].window_end = end;
	}
	free(w.names);
}

int backup_list(struct cmd_ctx *ctx)
{
	char err[1024] = "";
	struct repo rp;
	if (repo_open(&rp, ctx->cfg, 0, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	struct backup_info *b;
	int n = backup_repo_load(rp.dir, &b);
	compute_windows(&rp, b, n);
	const char *cols[] = {"id", "type", "time", "size", "verified", "window"};
	out_table_begin(ctx->out, "backups", 6, cols);
	for (int i = 0; i < n; i++) {
		char when[64], size[32], win[160] = "", a[64], c[64];
		fmt_when(b[i].start, when, sizeof when);
		snprintf(size, sizeof size, "%.1f MB", (double)b[i].size / 1048576.0);
		if (b[i].window_start) {
			fmt_when(b[i].window_start, a, sizeof a);
			fmt_when(b[i].window_end, c, sizeof c);
			if (b[i].window_end > b[i].window_start)
				snprintf(win, sizeof win, "%s .. %s", a, c);
			else
				snprintf(win, sizeof win, "%s", a);
		}
		out_rowf(ctx->out, b[i].id, backup_type_name(b[i].type), when, size,
			 b[i].verified > 0   ? "yes"
			 : b[i].verified < 0 ? "FAILED"
					     : "no",
			 win);
	}
	out_table_end(ctx->out);
	if (!n)
		out_line(ctx->out, "no backups in %s", rp.dir);
	PGconn *c = cat_connect(ctx);
	cat_sync(c, rp.dir, b, n);
	PQfinish(c);
	free(b);
	return 0;
}

/* ---------- verify ---------- */

static int load_backup(struct cmd_ctx *ctx, struct repo *rp, const char *want, char *id,
		       size_t idlen, cJSON **man, char *err, size_t errlen)
{
	(void)ctx;
	struct backup_info *b;
	int n = backup_repo_load(rp->dir, &b);
	int i = backup_resolve_id(b, n, want, err, errlen);
	if (i < 0) {
		free(b);
		return -1;
	}
	snprintf(id, idlen, "%s", b[i].id);
	free(b);
	char path[4400];
	snprintf(path, sizeof path, "%s/%s/manifest.json", rp->dir, id);
	*man = read_json(path);
	if (!*man) {
		snprintf(err, errlen, "%s: cannot read or parse %s", id, path);
		return -1;
	}
	return 0;
}

/* A private copy of a physical backup, started on its own socket, to compare. */
struct scratch {
	char dir[4400], sock[64];
	int port, started;
	uid_t uid;
	gid_t gid;
};

static int copy_tree(const char *src, const char *dst, const struct repo *rp, char *err,
		     size_t errlen)
{
	char *argv[] = {"cp", "-a", (char *)src, (char *)dst, NULL};
	struct proc_opts o = {.quiet = 1};
	if (proc_run(argv, &o, NULL) != 0) {
		snprintf(err, errlen, "cannot copy %s to %s", src, dst);
		return -1;
	}
	if (geteuid() == 0 && rp->have_cl) {
		char owner[64];
		snprintf(owner, sizeof owner, "%ld:%ld", (long)rp->cl.uid, (long)rp->cl.gid);
		char *cargv[] = {"chown", "-R", owner, (char *)dst, NULL};
		if (proc_run(cargv, &o, NULL) != 0) {
			snprintf(err, errlen, "cannot hand %s to the server's user", dst);
			return -1;
		}
	}
	chmod(dst, 0700);
	return 0;
}

static int append_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

/* Recovery settings for a restored data directory. target: NULL (end of archive),
 * "immediate", "lsn:X" or a timestamp. */
static int write_recovery(const char *datadir, const struct repo *rp, const char *target,
			  const char *extra, char *err, size_t errlen)
{
	char path[4500], conf[16384];
	snprintf(path, sizeof path, "%s/recovery.signal", datadir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	snprintf(path, sizeof path, "%s/backup_manifest", datadir);
	unlink(path);
	size_t off =
	    (size_t)snprintf(conf, sizeof conf,
			     "\n# midsops restore\nrestore_command = '''%s'' wal-fetch %%f %%p "
			     "--archive ''%s'''\nrecovery_target_action = 'promote'\n",
			     self_exe(), rp->wal);
	if (target && strcmp(target, "immediate") == 0)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
					"recovery_target = 'immediate'\n");
	else if (target && strncmp(target, "lsn:", 4) == 0)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
					"recovery_target_lsn = '%s'\n", target + 4);
	else if (target)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
					"recovery_target_time = '%s'\n", target);
	if (extra)
		snprintf(conf + off, sizeof conf - off, "%s", extra);
	snprintf(path, sizeof path, "%s/postgresql.auto.conf", datadir);
	if (append_text(path, conf) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && rp->have_cl) {
		snprintf(path, sizeof path, "%s/recovery.signal", datadir);
		if (chown(path, rp->cl.uid, rp->cl.gid) < 0) {
			snprintf(err, errlen, "cannot chown %s", path);
			return -1;
		}
	}
	return 0;
}

static int pg_ctl(const char *datadir, const char *action, const char *logfile, uid_t uid,
		  gid_t gid)
{
	char bin[1024];
	if (!proc_pg_bin("pg_ctl", bin, sizeof bin))
		return -1;
	char *argv[] = {bin,  "-D",   (char *)datadir, "-l", (char *)logfile, "-w", "-t", "600",
			"-m", "fast", (char *)action,  NULL};
	if (strcmp(action, "start") == 0) {
		argv[8] = (char *)action;
		argv[9] = NULL;
	}
	struct proc_opts o = {.uid = uid, .gid = gid, .quiet = 1, .cwd = "/"};
	if (getenv("MIDSOPS_DEBUG_PGCTL"))
		o.quiet = 0;
	return proc_run(argv, &o, NULL);
}

/* Wait until a restored server has left recovery (promoted). */
static int wait_promoted(const char *conninfo, const char *datadir, int timeout_s, char *err,
			 size_t errlen)
{
	double deadline = now_s() + timeout_s;
	while (now_s() < deadline) {
		char pidf[4500];
		struct stat pst;
		snprintf(pidf, sizeof pidf, "%s/postmaster.pid", datadir);
		if (stat(pidf, &pst) < 0) {
			snprintf(err, errlen, "the restored server stopped during recovery");
			return -1;
		}
		PGconn *c = PQconnectdb(conninfo);
		if (PQstatus(c) == CONNECTION_OK) {
			PGresult *r = PQexec(c, "select pg_is_in_recovery()");
			int done =
			    PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 'f';
			PQclear(r);
			PQfinish(c);
			if (done)
				return 0;
		} else
			PQfinish(c);
		usleep(200000);
	}
	snprintf(err, errlen, "the restored server did not finish recovery within %d s", timeout_s);
	return -1;
}

static int scratch_start(struct scratch *s, const struct repo *rp, const char *basedir,
			 const char *target, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->uid = rp->have_cl ? rp->cl.uid : geteuid();
	s->gid = rp->have_cl ? rp->cl.gid : getegid();
	snprintf(s->dir, sizeof s->dir, "%s/.scratch-%ld", rp->dir, (long)getpid());
	rm_rf(s->dir);
	snprintf(s->sock, sizeof s->sock, "/tmp/midsops-verify.XXXXXX");
	if (!mkdtemp(s->sock)) {
		snprintf(err, errlen, "cannot create a socket directory: %s", strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && chown(s->sock, s->uid, s->gid) < 0) {
		snprintf(err, errlen, "cannot chown %s", s->sock);
		return -1;
	}
	if (copy_tree(basedir, s->dir, rp, err, errlen) < 0)
		return -1;
	s->port = 30000 + (int)(getpid() % 20000);
	char extra[512];
	snprintf(extra, sizeof extra,
		 "port = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\narchive_mode = "
		 "off\nlogging_collector = off\n",
		 s->port, s->sock);
	if (write_recovery(s->dir, rp, target, extra, err, errlen) < 0)
		return -1;
	char hba[4500];
	snprintf(hba, sizeof hba, "%s/pg_hba.conf", s->dir);
	FILE *f = fopen(hba, "w");
	if (f) {
		fputs("local all all trust\n", f);
		fclose(f);
	}
	char logf[4500];
	snprintf(logf, sizeof logf, "%s/server.log", s->sock);
	if (pg_ctl(s->dir, "start", logf, s->uid, s->gid) != 0) {
		char tail[512];
		log_tail(logf, tail, sizeof tail);
		snprintf(err, errlen, "the scratch restore did not start: %s", tail);
		return -1;
	}
	s->started = 1;
	return 0;
}

static void scratch_stop(struct scratch *s)
{
	if (s->started)
		pg_ctl(s->dir, "stop", "/dev/null", s->uid, s->gid);
	if (s->dir[0])
		rm_rf(s->dir);
	if (s->sock[0])
		rm_rf(s->sock);
}

static int restore_test_physical(const struct repo *rp, const char *dir, cJSON *man,
				 const cJSON *want_tables, const char *target, char *detail,
				 size_t dn)
{
	char err[1024] = "";
	struct scratch s;
	char base[4500];
	snprintf(base, sizeof base, "%s/base", dir);
	int rc = -1;
	if (scratch_start(&s, rp, base, target, err, sizeof err) < 0) {
		snprintf(detail, dn, "%s", err);
		scratch_stop(&s);
		return -1;
	}
	char ci[512];
	snprintf(ci, sizeof ci, "host=%s port=%d dbname=%s user=%s", s.sock, s.port,
		 jstr(man, "database"), jstr(man, "superuser"));
	if (wait_promoted(ci, s.dir, 600, err, sizeof err) < 0) {
		char tail[512], logf[4500];
		snprintf(logf, sizeof logf, "%s/server.log", s.sock);
		log_tail(logf, tail, sizeof tail);
		size_t el = strlen(err);
		snprintf(err + el, sizeof err - el, ": %s", tail);
		snprintf(detail, dn, "%s", err);
		goto out;
	}
	PGconn *c = PQconnectdb(ci);
	cJSON *got = PQstatus(c) == CONNECTION_OK ? table_checksums(c, err, sizeof err) : NULL;
	PQfinish(c);
	if (!got) {
		snprintf(detail, dn, "cannot read the restored copy: %s", err);
		goto out;
	}
	char diff[1024];
	int bad = compare_tables(want_tables, got, diff, sizeof diff);
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
	scratch_stop(&s);
	return rc;
}

static int restore_test_logical(struct cmd_ctx *ctx, const char *dir, cJSON *man, char *detail,
				size_t dn)
{
	char err[1024] = "";
	PGconn *c = db_connect(ctx->target, "backup-verify", err, sizeof err);
	if (!c) {
		snprintf(detail, dn, "%s", err);
		return -1;
	}
	char name[64];
	snprintf(name, sizeof name, "midsops_verify_%ld", (long)getpid());
	char *id = db_ident(c, name);
	char sql[256];
	snprintf(sql, sizeof sql, "create database %s", id);
	int rc = -1;
	if (db_exec(c, err, sizeof err, sql, 0, NULL) < 0) {
		snprintf(detail, dn, "cannot create a scratch database: %s", err);
		goto out;
	}
	char file[4500], restore[1024];
	snprintf(file, sizeof file, "%s/dump.pgdump", dir);
	proc_pg_bin("pg_restore", restore, sizeof restore);
	char *argv[] = {restore, "--no-owner", "-d", name, "--exit-on-error", file, NULL};
	char **env = backup_conninfo_env(ctx->target->conninfo, name);
	char *output = NULL;
	struct proc_opts o = {.envp_add = env, .capture = 1};
	int st = proc_run(argv, &o, &output);
	backup_env_free(env);
	if (st != 0) {
		snprintf(detail, dn, "pg_restore into a scratch database failed: %s",
			 output ? output : "");
	} else {
		char ci[4200];
		const char *keys[] = {"dbname", "dbname", NULL};
		const char *vals[] = {ctx->target->conninfo, name, NULL};
		(void)ci;
		PGconn *s = PQconnectdbParams(keys, vals, 1);
		cJSON *got =
		    PQstatus(s) == CONNECTION_OK ? table_checksums(s, err, sizeof err) : NULL;
		PQfinish(s);
		char diff[1024];
		int bad = got ? compare_tables(cJSON_GetObjectItemCaseSensitive(man, "tables"), got,
					       diff, sizeof diff)
			      : -1;
		if (bad < 0)
			snprintf(detail, dn, "cannot read the scratch database: %s", err);
		else if (bad)
			snprintf(detail, dn, "restored copy differs in %d table(s): %s", bad, diff);
		else {
			snprintf(
			    detail, dn, "restored into a scratch database; %d table(s) match",
			    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(man, "tables")));
			rc = 0;
		}
		cJSON_Delete(got);
	}
	free(output);
	snprintf(sql, sizeof sql, "drop database if exists %s with (force)", id);
	db_exec(c, err, sizeof err, sql, 0, NULL);
out:
	PQfreemem(id);
	PQfinish(c);
	return rc;
}

int backup_verify(struct cmd_ctx *ctx, const char *want, int restore_test)
{
	char err[2048] = "", id[64];
	struct repo rp;
	cJSON *man = NULL;
	if (repo_open(&rp, ctx->cfg, restore_test, err, sizeof err) < 0 ||
	    load_backup(ctx, &rp, want, id, sizeof id, &man, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		repo_close(&rp);
		return EXIT_FAIL;
	}
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
	int type = backup_type_parse(jstr(man, "type"));
	int physical = type >= 0 && backup_type_physical((enum backup_type)type);
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
		if (physical && strncmp(rel, "base/", 5) == 0 &&
		    strcmp(rel, "base/backup_manifest"))
			continue;
		char hex[65];
		if (backup_sha256_file(p, hex) < 0 || strcmp(hex, jstr(f, "sha256"))) {
			PROBLEM("checksum mismatch for file %s", rel);
		}
		out_progress(ctx->out, "checksums", i, nfiles, rel);
	}
	out_progress_end(ctx->out);
	if (physical) {
		char bin[1024], base[4500];
		snprintf(base, sizeof base, "%s/base", dir);
		proc_pg_bin("pg_verifybackup", bin, sizeof bin);
		char *argv[] = {bin, "-q", base, NULL};
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
	if (type == BT_INCREMENTAL) {
		/* Every recorded segment present and intact, and no gap from the base on. */
		const cJSON *w;
		cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(man, "wal"))
		{
			char p[4600], hex[65];
			snprintf(p, sizeof p, "%s/%s", rp.wal, jstr(w, "name"));
			if (backup_sha256_file(p, hex) < 0)
				PROBLEM("missing WAL segment %s (gap in the archive)",
					jstr(w, "name"));
			else if (strcmp(hex, jstr(w, "sha256")))
				PROBLEM("checksum mismatch for WAL segment %s", jstr(w, "name"));
		}
		char bpath[4500];
		snprintf(bpath, sizeof bpath, "%s/%s/manifest.json", rp.dir, jstr(man, "base"));
		cJSON *bm = read_json(bpath);
		if (!bm)
			PROBLEM("its full backup %s is missing", jstr(man, "base"));
		else {
			struct walset ws;
			walset_load(rp.wal, &ws);
			long long segsize = seg_size_of(man), gap;
			char last[25];
			walset_contiguous(&ws, wal_index(jstr(bm, "wal_first"), segsize),
					  wal_index(jstr(man, "wal_last"), segsize), segsize, &gap,
					  last);
			free(ws.names);
			if (gap >= 0) {
				char gname[25];
				wal_name((unsigned)jnum(man, "timeline"),
					 (unsigned long long)gap * (unsigned long long)segsize,
					 segsize, gname);
				PROBLEM("WAL gap: segment %s is missing; point-in-time restore "
					"ends before "
					"it (last contiguous %s)",
					gname, last[0] ? last : "none");
			}
			cJSON_Delete(bm);
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
			rc = restore_test_logical(ctx, dir, man, detail, sizeof detail);
		else if (type == BT_INCREMENTAL) {
			char bdir[4500], target[64];
			snprintf(bdir, sizeof bdir, "%s/%s", rp.dir, jstr(man, "base"));
			snprintf(target, sizeof target, "lsn:%s", jstr(man, "stop_lsn"));
			rc = restore_test_physical(&rp, bdir, man, tables, target, detail,
						   sizeof detail);
		} else if (!tables)
			rc = restore_test_physical(&rp, dir, man, cJSON_GetArrayItem(NULL, 0),
						   "immediate", detail, sizeof detail);
		else
			rc = restore_test_physical(&rp, dir, man, tables, "immediate", detail,
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
	write_file(path, txt, err, sizeof err);
	cJSON_free(txt);
	cJSON_Delete(v);
	out_kv(ctx->out, "id", "%s", id);
	out_kv_int(ctx->out, "files", nfiles);
	out_kv_num(ctx->out, "duration", now_s() - t0, "s");
	PGconn *c = cat_connect(ctx);
	if (c) {
		const char *p[] = {id, bad ? "false" : "true"};
		PQclear(
		    db_query(c, err, sizeof err,
			     "update ops.backups set verify_ok = $2::boolean, verified_at = now(), "
			     "updated_at = now() where id = $1",
			     2, p));
		PQfinish(c);
	}
	cJSON_Delete(man);
	repo_close(&rp);
	if (bad) {
		out_status(ctx->out, ST_CRITICAL, "backup %s failed verification (%d problem%s)",
			   id, bad, bad == 1 ? "" : "s");
		return ST_CRITICAL;
	}
	out_status(ctx->out, ST_OK, "backup %s verified", id);
	return ST_OK;
}

/* ---------- prune ---------- */

int backup_prune(struct cmd_ctx *ctx, int dry_run)
{
	char err[1024] = "";
	struct repo rp;
	if (repo_open(&rp, ctx->cfg, !dry_run, err, sizeof err) < 0) {
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
		if (keep[i] && (backup_type_physical(b[i].type)) && is_wal_name(b[i].wal_first)) {
			long long idx = wal_index(b[i].wal_first, segsize);
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
		if (rm_rf(p) == 0)
			deleted++;
	}
	/* WAL older than the oldest kept physical backup serves no restore. */
	struct walset w;
	walset_load(rp.wal, &w);
	for (int i = 0; oldest >= 0 && i < w.n; i++) {
		if (wal_index(w.names[i], segsize) >= oldest)
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
		PGconn *c = cat_connect(ctx);
		cat_sync(c, rp.dir, b, n);
		if (c && deleted)
			db_event(c, "info", "backup",
				 "backup-prune deleted %d backup(s) and %d WAL segment(s)", deleted,
				 wal_deleted);
		PQfinish(c);
	}
	free(keep);
	free(b);
	repo_close(&rp);
	return 0;
}

/* ---------- restores ---------- */

/* Logical restore of an archive (or safety) dump: in place in one transaction, or into a
 * new database. */
int backup_restore_logical(struct cmd_ctx *ctx, const char *want, const char *into, int no_safety)
{
	char err[2048] = "", id[64];
	struct repo rp;
	cJSON *man = NULL;
	if (repo_open(&rp, ctx->cfg, 0, err, sizeof err) < 0 ||
	    load_backup(ctx, &rp, want, id, sizeof id, &man, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	int type = backup_type_parse(jstr(man, "type"));
	if (type != BT_ARCHIVE && type != BT_SAFETY) {
		out_err(
		    ctx->out,
		    "%s is a %s (physical) backup; db-restore takes a logical dump (archive). Use "
		    "db-restore-full %s, or db-restore-incremental for a point in time",
		    id, jstr(man, "type"), id);
		cJSON_Delete(man);
		return EXIT_FAIL;
	}
	char safety[64] = "";
	if (!into && !no_safety) {
		out_line(ctx->out, "taking a safety backup before restoring in place");
		if (backup_run(ctx, BT_SAFETY, safety, sizeof safety) != 0) {
			out_err(ctx->out,
				"the safety backup failed; nothing was restored (--no-safety "
				"skips it)");
			cJSON_Delete(man);
			return EXIT_FAIL;
		}
	}
	if (repo_open(&rp, ctx->cfg, 1, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		cJSON_Delete(man);
		return EXIT_FAIL;
	}
	PGconn *c = db_connect(ctx->target, "db-restore", err, sizeof err);
	if (!c) {
		out_err(ctx->out, "%s", err);
		cJSON_Delete(man);
		repo_close(&rp);
		return EXIT_FAIL;
	}
	char dbname[256];
	char *cur = db_scalar(c, err, sizeof err, "select current_database()", 0, NULL);
	snprintf(dbname, sizeof dbname, "%s", into ? into : cur ? cur : "");
	free(cur);
	int rc = EXIT_FAIL;
	if (into) {
		char *qid = db_ident(c, into);
		char sql[512];
		snprintf(sql, sizeof sql, "create database %s", qid);
		PQfreemem(qid);
		if (db_exec(c, err, sizeof err, sql, 0, NULL) < 0) {
			out_err(ctx->out, "cannot create database %s: %s", into, err);
			goto out;
		}
	}
	char bin[1024], file[4500], logf[4500];
	proc_pg_bin("pg_restore", bin, sizeof bin);
	snprintf(file, sizeof file, "%s/%s/dump.pgdump", rp.dir, id);
	snprintf(logf, sizeof logf, "%s/restore.log", paths_state_dir());
	paths_mkdir_p(paths_state_dir(), 0700);
	unlink(logf);
	char *argv_into[] = {bin, "--exit-on-error", "-d", dbname, file, NULL};
	/* In place: one transaction, so a failure half-way leaves the database as it was. */
	char *argv_place[] = {
	    bin,    "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "-d",
	    dbname, file,      NULL};
	char **env = backup_conninfo_env(ctx->target->conninfo, dbname);
	struct run r = {.ctx = ctx, .type = (enum backup_type)type};
	snprintf(r.id, sizeof r.id, "%s", id);
	double t0 = now_s();
	int st = run_tool(&r, into ? argv_into : argv_place, env, logf, "restore", NULL, 0, 0, 0);
	backup_env_free(env);
	if (st != 0) {
		char tail[512];
		log_tail(logf, tail, sizeof tail);
		out_err(ctx->out, "pg_restore failed (exit %d): %s%s", st, tail,
			into ? "" : "; the database was left as it was (single transaction)");
		if (into) {
			out_err(ctx->out,
				"the new database %s is incomplete; drop it before retrying", into);
		}
		db_event(c, "error", "restore", "restore of %s into %s failed", id, dbname);
		goto out;
	}
	/* Compare with the manifest. */
	const char *keys[] = {"dbname", "dbname", NULL};
	const char *vals[] = {ctx->target->conninfo, dbname, NULL};
	PGconn *d = ctx->target->conninfo[0] ? PQconnectdbParams(keys, vals, 1) : NULL;
	cJSON *got = d && PQstatus(d) == CONNECTION_OK ? table_checksums(d, err, sizeof err) : NULL;
	PQfinish(d);
	char diff[1024] = "";
	int bad = got ? compare_tables(cJSON_GetObjectItemCaseSensitive(man, "tables"), got, diff,
				       sizeof diff)
		      : 0;
	cJSON_Delete(got);
	out_kv(ctx->out, "restored", "%s", id);
	out_kv(ctx->out, "database", "%s", dbname);
	if (safety[0])
		out_kv(ctx->out, "safety_backup", "%s", safety);
	out_kv_num(ctx->out, "duration", now_s() - t0, "s");
	if (bad) {
		out_err(ctx->out, "restored data differs from the manifest in %d table(s): %s", bad,
			diff);
		goto out;
	}
	out_line(ctx->out, "restored %s into %s; row counts and checksums match the manifest", id,
		 dbname);
	db_event(c, "info", "restore", "restored %s into %s", id, dbname);
	rc = 0;
	if (!into) {
		struct backup_info *b;
		int n = backup_repo_load(rp.dir, &b);
		PGconn *cc = cat_connect(ctx);
		cat_sync(cc, rp.dir, b, n);
		PQfinish(cc);
		free(b);
	}
out:
	PQfinish(c);
	cJSON_Delete(man);
	repo_close(&rp);
	return rc;
}

/* Parse an --until time into a PostgreSQL timestamp with zone and an epoch. */
static int parse_until(const char *s, char *pg, size_t n, double *epoch)
{
	struct tm tm;
	const char *fmts[] = {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
			      "%Y-%m-%d"};
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		memset(&tm, 0, sizeof tm);
		const char *rest = strptime(s, fmts[i], &tm);
		if (!rest)
			continue;
		double frac = 0;
		if (*rest == '.') {
			char *e;
			frac = strtod(rest, &e);
			rest = e;
		}
		int utc = 0;
		long off = 0;
		if (*rest == 'Z' || strcmp(rest, "+00") == 0 || strcmp(rest, "+00:00") == 0 ||
		    strcmp(rest, " UTC") == 0)
			utc = 1;
		else if (*rest == '+' || *rest == '-') {
			int hh = 0, mm = 0;
			if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) < 1 &&
			    sscanf(rest + 1, "%2d%2d", &hh, &mm) < 1)
				return -1;
			off = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
			utc = 1;
		} else if (*rest)
			continue;
		time_t t;
		if (utc)
			t = timegm(&tm) - off;
		else {
			tm.tm_isdst = -1;
			t = mktime(&tm);
		}
		*epoch = (double)t + frac;
		struct tm g;
		gmtime_r(&t, &g);
		char b[64];
		strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &g);
		snprintf(pg, n, "%s.%06d+00", b, (int)(frac * 1e6 + 0.5));
		return 0;
	}
	return -1;
}

/* Physical restore: base backup + WAL to a target. In the embedded cluster's data
 * directory (stop, keep the old directory aside, restore, start, wait for promotion; on
 * failure put the old one back) or into target_dir. */
static int restore_physical(struct cmd_ctx *ctx, struct repo *rp, const char *base_id,
			    const char *target, const char *target_dir, const char *what)
{
	char err[2048] = "", src[4500];
	snprintf(src, sizeof src, "%s/%s/base", rp->dir, base_id);
	double t0 = now_s();
	if (target_dir) {
		struct stat st;
		if (stat(target_dir, &st) == 0) {
			out_err(ctx->out, "%s already exists; give a new directory to --target-dir",
				target_dir);
			return EXIT_FAIL;
		}
		if (copy_tree(src, target_dir, rp, err, sizeof err) < 0 ||
		    write_recovery(target_dir, rp, target, NULL, err, sizeof err) < 0) {
			out_err(ctx->out, "%s", err);
			rm_rf(target_dir);
			return EXIT_FAIL;
		}
		out_kv(ctx->out, "restored", "%s", base_id);
		out_kv(ctx->out, "data_directory", "%s", target_dir);
		out_kv_num(ctx->out, "duration", now_s() - t0, "s");
		out_line(
		    ctx->out,
		    "restored %s into %s; start it with pg_ctl -D %s start (it replays WAL to %s "
		    "and promotes)",
		    what, target_dir, target_dir, target ? target : "the end of the archive");
		return 0;
	}
	if (!ctx->target->embedded) {
		out_err(ctx->out,
			"the target is not the embedded cluster; a physical restore needs a data "
			"directory: use --target-dir DIR on the database host");
		return EXIT_FAIL;
	}
	struct cluster *c = &rp->cl;
	char aside[4500], fresh[4500];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char ts[32];
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(aside, sizeof aside, "%s.before-restore-%s", c->datadir, ts);
	snprintf(fresh, sizeof fresh, "%s.restoring", c->datadir);
	rm_rf(fresh);
	out_line(ctx->out, "copying base backup %s", base_id);
	if (copy_tree(src, fresh, rp, err, sizeof err) < 0 ||
	    write_recovery(fresh, rp, target, NULL, err, sizeof err) < 0) {
		out_err(ctx->out, "%s; the cluster was not touched", err);
		rm_rf(fresh);
		return EXIT_FAIL;
	}
	if (cluster_stop(c, "fast", err, sizeof err) < 0) {
		out_err(ctx->out, "%s; the cluster was not touched", err);
		rm_rf(fresh);
		return EXIT_FAIL;
	}
	struct stat st;
	int had_old = stat(c->datadir, &st) == 0;
	if ((had_old && rename(c->datadir, aside) < 0) || rename(fresh, c->datadir) < 0) {
		out_err(ctx->out, "cannot swap data directories: %s", strerror(errno));
		if (had_old && stat(c->datadir, &st) < 0)
			rename(aside, c->datadir);
		cluster_start(c, NULL, err, sizeof err);
		return EXIT_FAIL;
	}
	out_line(ctx->out, "replaying WAL to %s", target ? target : "the end of the archive");
	char ci[4400];
	cluster_conninfo(c, ci, sizeof ci);
	if (cluster_start(c, NULL, err, sizeof err) < 0 ||
	    wait_promoted(ci, c->datadir, 3600, err, sizeof err) < 0) {
		char failed[4600];
		snprintf(failed, sizeof failed, "%s.failed-restore-%s", c->datadir, ts);
		char e2[256];
		cluster_stop(c, "immediate", e2, sizeof e2);
		rename(c->datadir, failed);
		if (had_old)
			rename(aside, c->datadir);
		cluster_start(c, NULL, e2, sizeof e2);
		char tail[512];
		log_tail(c->logfile, tail, sizeof tail);
		out_err(
		    ctx->out,
		    "restore failed: %s (server log: %s); the previous data directory is back in "
		    "place, the failed attempt is in %s",
		    err, tail, failed);
		return EXIT_FAIL;
	}
	out_kv(ctx->out, "restored", "%s", what);
	out_kv(ctx->out, "data_directory", "%s", c->datadir);
	if (had_old)
		out_kv(ctx->out, "previous_data_directory", "%s", aside);
	out_kv_num(ctx->out, "duration", now_s() - t0, "s");
	out_line(ctx->out, "restored %s in %.1f s; the previous data directory is kept in %s", what,
		 now_s() - t0, had_old ? aside : "(none)");
	PGconn *conn = cat_connect(ctx);
	if (conn) {
		db_event(conn, "info", "restore", "physical restore of %s (target %s)", what,
			 target ? target : "latest");
		struct backup_info *b;
		int n = backup_repo_load(rp->dir, &b);
		cat_sync(conn, rp->dir, b, n);
		free(b);
		PQfinish(conn);
	}
	return 0;
}

int backup_restore_full(struct cmd_ctx *ctx, const char *want, const char *target_dir)
{
	char err[2048] = "", id[64];
	struct repo rp;
	cJSON *man = NULL;
	if (repo_open(&rp, ctx->cfg, 1, err, sizeof err) < 0 ||
	    load_backup(ctx, &rp, want, id, sizeof id, &man, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		repo_close(&rp);
		return EXIT_FAIL;
	}
	int type = backup_type_parse(jstr(man, "type"));
	int rc;
	if (type == BT_INCREMENTAL) {
		char target[64];
		snprintf(target, sizeof target, "lsn:%s", jstr(man, "stop_lsn"));
		rc = restore_physical(ctx, &rp, jstr(man, "base"), target, target_dir, id);
	} else if (type >= 0 && backup_type_physical((enum backup_type)type))
		rc = restore_physical(ctx, &rp, id, "immediate", target_dir, id);
	else {
		out_err(ctx->out, "%s is a logical dump; restore it with db-restore %s", id, id);
		rc = EXIT_FAIL;
	}
	cJSON_Delete(man);
	repo_close(&rp);
	return rc;
}

int backup_restore_pitr(struct cmd_ctx *ctx, const char *want, const char *until,
			const char *target_dir)
{
	char err[2048] = "";
	struct repo rp;
	if (repo_open(&rp, ctx->cfg, 1, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	struct backup_info *b;
	int n = backup_repo_load(rp.dir, &b);
	int rc = EXIT_FAIL;
	char pgtime[64] = "", target[96] = "", base[64] = "";
	double epoch = 0;
	if (until && parse_until(until, pgtime, sizeof pgtime, &epoch) < 0) {
		out_err(ctx->out,
			"cannot read --until '%s'; use 'YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM|Z]'",
			until);
		rc = EXIT_USAGE;
		goto out;
	}
	int bi = -1;
	if (want) {
		int i = backup_resolve_id(b, n, want, err, sizeof err);
		if (i < 0) {
			out_err(ctx->out, "%s", err);
			goto out;
		}
		if (b[i].type == BT_INCREMENTAL) {
			snprintf(base, sizeof base, "%s", b[i].base);
			if (!until) {
				char path[4500];
				snprintf(path, sizeof path, "%s/%s/manifest.json", rp.dir, b[i].id);
				cJSON *m = read_json(path);
				snprintf(target, sizeof target, "lsn:%s",
					 m ? jstr(m, "stop_lsn") : "");
				cJSON_Delete(m);
			}
		} else if (backup_type_physical(b[i].type))
			snprintf(base, sizeof base, "%s", b[i].id);
		else {
			out_err(ctx->out, "%s is a logical dump; use db-restore %s", b[i].id,
				b[i].id);
			goto out;
		}
	} else {
		/* The newest physical backup that ended before the target time. */
		for (int i = n - 1; i >= 0 && bi < 0; i--)
			if (backup_type_physical(b[i].type) &&
			    (!until || (double)b[i].stop <= epoch))
				bi = i;
		if (bi < 0) {
			out_err(ctx->out,
				until ? "no full backup ended before %s; the earliest "
					"point-in-time is the end of the oldest full backup"
				      : "no full backup in the repository%s",
				until ? until : "");
			goto out;
		}
		snprintf(base, sizeof base, "%s", b[bi].id);
	}
	if (until) {
		for (int i = 0; i < n; i++)
			if (strcmp(b[i].id, base) == 0 && (double)b[i].stop > epoch) {
				out_err(ctx->out,
					"%s is before the end of base backup %s; choose a later "
					"time or an "
					"earlier base",
					until, base);
				goto out;
			}
		snprintf(target, sizeof target, "%s", pgtime);
	}
	char what[256];
	snprintf(what, sizeof what, "%s + WAL to %s", base,
		 until	     ? pgtime
		 : target[0] ? target + 4
			     : "latest");
	rc = restore_physical(ctx, &rp, base, target[0] ? target : NULL, target_dir, what);
out:
	free(b);
	repo_close(&rp);
	return rc;
}

int backup_emergency_restore(struct cmd_ctx *ctx)
{
	char err[1024] = "";
	struct repo rp;
	if (repo_open(&rp, ctx->cfg, 0, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	struct backup_info *b;
	int n = backup_repo_load(rp.dir, &b);
	int pick = -1;
	for (int i = n - 1; i >= 0 && pick < 0; i--)
		if (b[i].verified > 0 && (ctx->target->embedded ? backup_type_physical(b[i].type) ||
								      b[i].type == BT_ARCHIVE
								: b[i].type == BT_ARCHIVE))
			pick = i;
	if (pick < 0) {
		free(b);
		out_err(ctx->out,
			"no verified backup to restore from in %s; run db-backup-verify ID "
			"first (db-backup-list shows them)",
			rp.dir);
		return EXIT_FAIL;
	}
	char id[64];
	snprintf(id, sizeof id, "%s", b[pick].id);
	int physical = backup_type_physical(b[pick].type);
	free(b);
	out_line(ctx->out, "emergency restore from the latest verified backup %s", id);
	if (physical)
		return backup_restore_pitr(ctx, id, NULL, NULL);
	return backup_restore_logical(ctx, id, NULL, 1);
}

/* ---------- WAL archive commands (run by the server) ---------- */

static int copy_file_sync(const char *src, const char *dst, char hex[65], char *err, size_t errlen)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "cannot open %s: %s", src, strerror(errno));
		return -1;
	}
	char tmp[4600];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dst, (long)getpid());
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		close(in);
		return -1;
	}
	static char buf[1 << 20];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0 || rc < 0 || fsync(out) < 0) {
		snprintf(err, errlen, "cannot copy %s to %s: %s", src, tmp, strerror(errno));
		rc = -1;
	}
	close(in);
	close(out);
	if (rc == 0 && hex && backup_sha256_file(tmp, hex) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, dst) < 0) {
		snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int backup_wal_push(struct cmd_ctx *ctx, const char *path, const char *name, const char *dir)
{
	char err[1024] = "", dst[4600], dirbuf[4200];
	if (!dir) {
		snprintf(dirbuf, sizeof dirbuf, "%s/wal", ctx->cfg->backup_dir);
		dir = dirbuf;
	}
	if (strchr(name, '/')) {
		out_err(ctx->out, "wal-push: bad file name %s", name);
		return EXIT_FAIL;
	}
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	struct stat st;
	char have[65], want[65];
	if (stat(dst, &st) == 0) {
		/* Re-archiving after a crash is normal; different content never is. */
		if (backup_sha256_file(dst, have) >= 0 && backup_sha256_file(path, want) >= 0 &&
		    strcmp(have, want) == 0)
			return 0;
		out_err(ctx->out,
			"wal-push: %s already exists in %s with different content; refusing "
			"to overwrite",
			name, dir);
		return EXIT_FAIL;
	}
	if (copy_file_sync(path, dst, want, err, sizeof err) < 0) {
		out_err(ctx->out, "wal-push: %s", err);
		return EXIT_FAIL;
	}
	char side[4700], line[100];
	snprintf(side, sizeof side, "%s.sha256", dst);
	snprintf(line, sizeof line, "%s\n", want);
	write_file(side, line, err, sizeof err);
	fsync_path(dir);
	return 0;
}

int backup_wal_fetch(struct cmd_ctx *ctx, const char *name, const char *path, const char *dir)
{
	char err[1024] = "", src[4600], dirbuf[4200];
	if (!dir) {
		snprintf(dirbuf, sizeof dirbuf, "%s/wal", ctx->cfg->backup_dir);
		dir = dirbuf;
	}
	snprintf(src, sizeof src, "%s/%s", dir, name);
	struct stat st;
	if (stat(src, &st) < 0)
		return EXIT_FAIL; /* the end of the archive: normal, and quiet */
	if (copy_file_sync(src, path, NULL, err, sizeof err) < 0) {
		out_err(ctx->out, "wal-fetch: %s", err);
		return EXIT_FAIL;
	}
	return 0;
}

/* For a server midsops does not run: stream WAL into the repository with
 * pg_receivewal and a replication slot, until stopped. */
int backup_wal_receive(struct cmd_ctx *ctx, const char *slot)
{
	char err[1024] = "";
	struct repo rp;
	if (repo_open(&rp, ctx->cfg, 0, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	char bin[1024];
	if (!proc_pg_bin("pg_receivewal", bin, sizeof bin)) {
		out_err(ctx->out, "pg_receivewal not found; install postgresql-15 (make deps)");
		return EXIT_FAIL;
	}
	char **env = backup_conninfo_env(ctx->target->conninfo, NULL);
	char *cargv[] = {bin, "--create-slot", "--if-not-exists", "-S", (char *)slot, NULL};
	struct proc_opts o = {.envp_add = env, .quiet = 1};
	proc_run(cargv, &o, NULL);
	char *argv[] = {bin, "-D", rp.wal, "-S", (char *)slot, "--synchronous", "-n", NULL};
	out_line(ctx->out, "streaming WAL into %s with slot %s (Ctrl-C stops)", rp.wal, slot);
	struct proc_opts o2 = {.envp_add = env};
	int st = proc_run(argv, &o2, NULL);
	backup_env_free(env);
	return st == 0 ? 0 : EXIT_FAIL;
}

/* ---------- status section ---------- */

enum status backup_status_section(struct out *o, const struct config *cfg, PGconn *conn)
{
	(void)conn;
	struct backup_info *b;
	int n = backup_repo_load(cfg->backup_dir, &b);
	out_kv(o, "repository", "%s", cfg->backup_dir);
	out_kv_int(o, "count", n);
	enum status worst = ST_OK;
	if (!n)
		out_kv(o, "last_backup", "none yet (db-backup-full makes the first)");
	else {
		const struct backup_info *l = &b[n - 1];
		double hours = difftime(time(NULL), l->stop) / 3600.0;
		enum status st = threshold_judge(&cfg->backup_age, hours);
		worst = st;
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
	walset_load(wal, &w);
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
