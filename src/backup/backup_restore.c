/* Physical restores: a base backup plus WAL to its end, a point in time or the end of the
 * archive, into the embedded cluster (old data directory kept aside) or a new directory;
 * the scratch servers the restore tests start; the emergency restore. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup_int.h"
#include "util.h"
#include "cluster.h"
#include "db.h"
#include "proc.h"
#include "target.h"

/* A private copy of a physical backup, started on its own socket, to compare. */

static int copy_tree(const char *src, const char *dst, const struct repo *rp, char *err,
		     size_t errlen)
{
	/* Plain or tar.zst, the same checks either way: backup_zstd.c. */
	return backup_base_lay_down(src, dst, rp, err, errlen);
}

/* A string setting for postgresql.conf: quoted, quotes doubled, backslashes escaped (the
 * server reads \n and \ooo escapes there), and never a line break. */
static int conf_value(const char *s, char *out, size_t n)
{
	size_t o = 0;
	if (n < 3)
		return -1;
	out[o++] = '\'';
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || o + 4 >= n)
			return -1;
		if (*s == '\'' || *s == '\\')
			out[o++] = *s;
		out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = 0;
	return 0;
}

/* Comments out, in the copy's postgresql.auto.conf, the settings named in keys (a name
 * ending in '*' names every setting it starts), with why in front: the server reads
 * postgresql.auto.conf last, so what a backup brought along there would win over what
 * the restore writes, or clash with it (a second recovery target is fatal). The file is
 * read without following a link the server's user may have put there. */
static int auto_conf_comment_out(const char *datadir, const struct cluster *owner,
				 const char *const *keys, const char *why, char *err, size_t errlen)
{
	char path[4500];
	snprintf(path, sizeof path, "%s/postgresql.auto.conf", datadir);
	int rfd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat rst;
	FILE *f =
	    rfd >= 0 && fstat(rfd, &rst) == 0 && S_ISREG(rst.st_mode) ? fdopen(rfd, "r") : NULL;
	if (!f && rfd >= 0)
		close(rfd);
	if (!f)
		return 0;
	struct strbuf text = {0};
	char line[8192];
	int changed = 0;
	while (fgets(line, sizeof line, f)) {
		const char *k = line + strspn(line, " \t");
		size_t kl = strcspn(k, " \t=");
		int hit = 0;
		for (int i = 0; keys[i] && !hit; i++) {
			size_t n = strlen(keys[i]);
			hit = keys[i][n - 1] == '*' ? kl >= n - 1 && strncmp(k, keys[i], n - 1) == 0
						    : kl == n && strncmp(k, keys[i], n) == 0;
		}
		changed |= hit;
		strbuf_addf(&text, "%s%s", hit ? why : "", line);
	}
	fclose(f);
	int rc = changed ? cluster_file_put(owner, datadir, "postgresql.auto.conf",
					    text.s ? text.s : "", 0, err, errlen)
			 : 0;
	strbuf_free(&text);
	return rc;
}

/* Recovery settings for a restored data directory. target: NULL (end of archive),
 * "immediate", "lsn:X" or a timestamp. tli: the timeline to follow, always written when
 * known: the server's default, latest, follows whatever branch a previous restore
 * archived, even for a target on the history the base backup belongs to. Nothing reaches
 * the file unchecked: the LSN (from a manifest) must match its grammar and every value is
 * quoted. */
static int write_recovery(const char *datadir, const struct repo *rp, const char *target,
			  unsigned tli, const char *extra, char *err, size_t errlen)
{
	char path[4500], conf[16384], exe[8400], wal[8400], cmd[17000], cmdq[34100], tq[256];
	if (backup_archive_word(backup_self_exe(), exe, sizeof exe) < 0 ||
	    backup_archive_word(rp->wal, wal, sizeof wal) < 0) {
		snprintf(err, errlen,
			 "%s or %s holds a quote or a control character; restore_command cannot "
			 "name it",
			 backup_self_exe(), rp->wal);
		return -1;
	}
	snprintf(cmd, sizeof cmd, "%s wal-fetch %%f %%p --archive %s", exe, wal);
	if (conf_value(cmd, cmdq, sizeof cmdq) < 0) {
		snprintf(err, errlen, "restore_command is too long");
		return -1;
	}
	if (target && strncmp(target, "lsn:", 4) == 0 && !backup_lsn_valid(target + 4)) {
		snprintf(err, errlen, "recovery target '%.40s' is not an LSN", target + 4);
		return -1;
	}
	if (target &&
	    conf_value(strncmp(target, "lsn:", 4) ? target : target + 4, tq, sizeof tq) < 0) {
		snprintf(err, errlen, "recovery target '%.40s' cannot be written", target);
		return -1;
	}
	/* The copy is the server's user's: written through the folder, never by a name a
	 * link could stand in for (cluster_file_put). */
	const struct cluster *owner = rp->have_cl ? &rp->cl : NULL;
	if (cluster_file_put(owner, datadir, "recovery.signal", "", 0, err, errlen) < 0)
		return -1;
	/* A backup of a cluster that was itself restored carries that restore's block. */
	static const char *const rec_keys[] = {"restore_command", "recovery_target*", NULL};
	if (auto_conf_comment_out(datadir, owner, rec_keys, "# midsops restore (earlier): ", err,
				  errlen) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/backup_manifest", datadir);
	unlink(path);
	size_t off = (size_t)snprintf(conf, sizeof conf,
				      "\n# midsops restore\nrestore_command = %s\n"
				      "recovery_target_action = 'promote'\n",
				      cmdq);
	if (target && strcmp(target, "immediate") == 0)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
					"recovery_target = 'immediate'\n");
	else if (target && strncmp(target, "lsn:", 4) == 0)
		off += (size_t)snprintf(conf + off, sizeof conf - off, "recovery_target_lsn = %s\n",
					tq);
	else if (target)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
					"recovery_target_time = %s\n", tq);
	if (tli)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
					"recovery_target_timeline = '%u'\n", tli);
	else if (target && strcmp(target, "immediate") == 0)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
					"recovery_target_timeline = 'current'\n");
	if (extra)
		snprintf(conf + off, sizeof conf - off, "%s", extra);
	return cluster_file_put(owner, datadir, "postgresql.auto.conf", conf, 1, err, errlen);
}

/* A copy restored into another directory is not production: production's
 * archive_command would archive the copy's WAL (a new timeline once it promotes) into
 * production's repository, where a later restore to "latest" would follow it, and
 * production's socket directory is production's. So archiving starts off and the copy gets
 * a socket directory of its own, beside it. postgresql.auto.conf is read last, so the
 * settings there are commented out and ours appended to postgresql.conf, where what comes
 * later (dr-restore's site settings) still wins. *sock gets the socket directory. */
static int isolate_copy(const char *datadir, const struct repo *rp, char *sock, size_t sn,
			char *err, size_t errlen)
{
	const struct cluster *owner = rp->have_cl ? &rp->cl : NULL;
	snprintf(sock, sn, "%s.sock", datadir);
	if (strlen(sock) + sizeof "/.s.PGSQL.65535.lock" > 108) {
		/* A socket's path must fit sockaddr_un. */
		snprintf(sock, sn, "/tmp/midsops-restore.XXXXXX");
		if (!mkdtemp(sock)) {
			snprintf(err, errlen, "cannot create a socket directory: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (geteuid() == 0 && owner) {
		if (cluster_own_dir(owner, sock, 0700, err, errlen) < 0)
			return -1;
	} else if ((mkdir(sock, 0700) < 0 && errno != EEXIST) || chmod(sock, 0700) < 0) {
		snprintf(err, errlen, "cannot create %.900s: %s", sock, strerror(errno));
		return -1;
	}
	static const char *const copy_keys[] = {"archive_mode", "unix_socket_directories", NULL};
	if (auto_conf_comment_out(datadir, owner, copy_keys, "# midsops restore (a copy): ", err,
				  errlen) < 0)
		return -1;
	char sq[4400], conf[4600];
	if (conf_value(sock, sq, sizeof sq) < 0) {
		snprintf(err, errlen, "%.900s cannot be written as a setting", sock);
		return -1;
	}
	snprintf(conf, sizeof conf,
		 "\n# midsops restore: a copy, not production (--keep-archiving keeps these)\n"
		 "archive_mode = off\nunix_socket_directories = %s\n",
		 sq);
	return cluster_file_put(owner, datadir, "postgresql.conf", conf, 1, err, errlen);
}

/* What a restore wrote, on disk before anyone starts a server on it (backup_sync_tree:
 * syncfs of the file system, or an fsync of every file and directory), and its name in
 * the parent directory. */
static int sync_restored(const char *dir, char *err, size_t errlen)
{
	if (backup_sync_tree(dir, err, errlen) < 0)
		return -1;
	char parent[4500];
	snprintf(parent, sizeof parent, "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		backup_fsync_path(parent);
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
	/* Quiet: the server writes to logfile, whose tail the callers report on failure. */
	struct proc_opts o = {.uid = uid, .gid = gid, .quiet = 1, .cwd = "/"};
	return proc_run(argv, &o, NULL);
}

/* Wait until a restored server has left recovery (promoted). */
int backup_wait_promoted(const char *conninfo, const char *datadir, int timeout_s, char *err,
			 size_t errlen)
{
	double deadline = util_mono() + timeout_s;
	while (util_mono() < deadline) {
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

/* The timeline a restore test to an incremental's stop LSN follows: the one that
 * incremental was taken on (the newest may have left its history before that LSN). 0 when
 * no incremental of that base stops there. */
static unsigned scratch_timeline(const struct repo *rp, const char *basedir, const char *target)
{
	if (!target || strncmp(target, "lsn:", 4))
		return 0;
	/* basedir is REPO/ID/base: the full backup's id is the folder above. */
	char id[4500];
	snprintf(id, sizeof id, "%s", basedir);
	char *cut = strrchr(id, '/');
	if (cut)
		*cut = 0;
	const char *slash = strrchr(id, '/');
	struct backup_info *b;
	int n = backup_repo_load(rp->dir, &b);
	unsigned tli = 0;
	for (int i = n - 1; i >= 0 && !tli; i--) {
		struct backup_manifest m;
		char err[1024];
		if (b[i].type != BT_INCREMENTAL || !slash || strcmp(b[i].base, slash + 1) ||
		    backup_manifest_read(rp->dir, b[i].id, &m, err, sizeof err) < 0)
			continue;
		if (strcmp(m.stop_lsn, target + 4) == 0)
			tli = backup_tl_of_segment(m.wal_last);
		backup_manifest_free(&m);
	}
	free(b);
	return tli;
}

int backup_scratch_start(struct scratch *s, const struct repo *rp, const char *basedir,
			 const char *target, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->uid = rp->have_cl ? rp->cl.uid : geteuid();
	s->gid = rp->have_cl ? rp->cl.gid : getegid();
	snprintf(s->dir, sizeof s->dir, "%s/.scratch-%ld", rp->dir, (long)getpid());
	backup_rm_rf(s->dir);
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
	if (write_recovery(s->dir, rp, target, scratch_timeline(rp, basedir, target), extra, err,
			   errlen) < 0)
		return -1;
	if (cluster_file_put(rp->have_cl ? &rp->cl : NULL, s->dir, "pg_hba.conf",
			     "local all all trust\n", 0, err, errlen) < 0)
		return -1;
	char logf[4500];
	snprintf(logf, sizeof logf, "%s/server.log", s->sock);
	if (pg_ctl(s->dir, "start", logf, s->uid, s->gid) != 0) {
		/* Recovery's own errors and how far it came, before the shutdown lines. */
		char why[1536];
		backup_tl_log_reason(logf, 0, why, sizeof why);
		if (!why[0])
			backup_log_tail(logf, why, sizeof why);
		snprintf(err, errlen, "the scratch restore did not start: %s", why);
		return -1;
	}
	s->started = 1;
	return 0;
}

void backup_scratch_stop(struct scratch *s)
{
	if (s->started)
		pg_ctl(s->dir, "stop", "/dev/null", s->uid, s->gid);
	if (s->dir[0])
		backup_rm_rf(s->dir);
	if (s->sock[0])
		backup_rm_rf(s->sock);
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
		/* Small enough that b, the fraction and the zone fit pgtime[64] whole. */
		char b[32];
		strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &g);
		snprintf(pg, n, "%s.%06d+00", b, (int)(frac * 1e6 + 0.5));
		return 0;
	}
	return -1;
}

/* What the steps of one physical restore share. */
struct rphys {
	struct cmd_ctx *ctx;
	struct repo *rp;
	const char *base_id, *target, *what;
	int flags;
	const struct tl_plan *plan;
	unsigned tli;
	char src[4500];
	double t0;
};

/* base_id names a checked manifest's folder (backup_manifest_read refuses a folder that is a
 * symbolic link); its base must be a folder of its own too. */
static int rphys_check_base(struct rphys *r)
{
	char err[2048] = "";
	struct backup_manifest bm;
	if (backup_manifest_read(r->rp->dir, r->base_id, &bm, err, sizeof err) < 0) {
		out_err(r->ctx->out, "%s", err);
		return -1;
	}
	int physical = backup_type_physical(bm.type);
	backup_manifest_free(&bm);
	struct stat sb;
	snprintf(r->src, sizeof r->src, "%s/%s/base", r->rp->dir, r->base_id);
	if (!physical || lstat(r->src, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		out_err(r->ctx->out, "%s is not a physical backup with a base folder (%s)",
			r->base_id, r->src);
		return -1;
	}
	return 0;
}

/* Into a new directory of the caller's: nothing running is touched. */
static int rphys_to_dir(struct rphys *r, const char *target_dir)
{
	struct cmd_ctx *ctx = r->ctx;
	struct stat st;
	char err[2048] = "", sock[4500] = "";
	if (stat(target_dir, &st) == 0) {
		out_err(ctx->out, "%s already exists; give a new directory to --target-dir",
			target_dir);
		return EXIT_FAIL;
	}
	if (copy_tree(r->src, target_dir, r->rp, err, sizeof err) < 0 ||
	    write_recovery(target_dir, r->rp, r->target, r->tli, NULL, err, sizeof err) < 0 ||
	    (!(r->flags & BACKUP_RESTORE_KEEP_ARCHIVING) &&
	     isolate_copy(target_dir, r->rp, sock, sizeof sock, err, sizeof err) < 0) ||
	    sync_restored(target_dir, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		backup_rm_rf(target_dir);
		return EXIT_FAIL;
	}
	out_kv(ctx->out, "restored", "%s", r->base_id);
	out_kv(ctx->out, "data_directory", "%s", target_dir);
	out_kv(ctx->out, "archiving",
	       sock[0] ? "off (a copy; --keep-archiving keeps production's)"
		       : "kept as in the backup (--keep-archiving)");
	if (sock[0])
		out_kv(ctx->out, "socket_directory", "%s", sock);
	if (r->tli)
		out_kv(ctx->out, "timeline", "%u, followed when it starts (%s)", r->tli,
		       r->plan->why);
	if (r->plan->note[0])
		out_line(ctx->out, "%s", r->plan->note);
	out_kv_num(ctx->out, "duration", util_mono() - r->t0, "s");
	if (r->flags & BACKUP_RESTORE_CALLER_STARTS)
		out_line(ctx->out, "restored %s into %s", r->what, target_dir);
	else
		out_line(ctx->out,
			 "restored %s into %s; start it with pg_ctl -D %s start (it replays "
			 "WAL to %s and promotes)",
			 r->what, target_dir, target_dir,
			 r->target ? r->target : "the end of the archive");
	return 0;
}

/* Recovery did not reach its end: the failed attempt aside, the old directory back, and the
 * server's own reason quoted. */
static int rphys_in_place_failed(struct rphys *r, const char *err, long long logoff,
				 const char *aside, int had_old, const char *ts)
{
	struct cluster *c = &r->rp->cl;
	char why[2048];
	backup_tl_log_reason(c->logfile, logoff, why, sizeof why);
	char failed[4600];
	snprintf(failed, sizeof failed, "%s.failed-restore-%s", c->datadir, ts);
	char e2[256];
	cluster_stop(c, "immediate", e2, sizeof e2);
	rename(c->datadir, failed);
	if (had_old)
		rename(aside, c->datadir);
	cluster_start(c, NULL, e2, sizeof e2);
	char tail[512];
	backup_log_tail(c->logfile, tail, sizeof tail);
	const char *target = r->target;
	if (target && strcmp(target, "immediate"))
		out_err(r->ctx->out,
			"restore stopped short of its target %s on timeline %u: %s (server "
			"log: %s); the previous data directory is back in place, the failed "
			"attempt is in %s",
			strncmp(target, "lsn:", 4) ? target : target + 4, r->tli,
			why[0] ? why : err, why[0] ? c->logfile : tail, failed);
	else
		out_err(r->ctx->out,
			"restore failed: %s (server log: %s); the previous data directory "
			"is back in place, the failed attempt is in %s",
			why[0] ? why : err, why[0] ? c->logfile : tail, failed);
	return EXIT_FAIL;
}

/* The server is up and promoted: say where it landed, and tell the catalog. */
static int rphys_in_place_done(struct rphys *r, const char *ci, const char *aside, int had_old)
{
	struct cmd_ctx *ctx = r->ctx;
	char err[2048] = "";
	int wrong = backup_tl_report(ctx->out, ci, r->plan, err, sizeof err) < 0;
	out_kv(ctx->out, "restored", "%s", r->what);
	out_kv(ctx->out, "data_directory", "%s", r->rp->cl.datadir);
	if (had_old)
		out_kv(ctx->out, "previous_data_directory", "%s", aside);
	out_kv_num(ctx->out, "duration", util_mono() - r->t0, "s");
	if (wrong)
		out_err(ctx->out, "restore of %s: %s; the previous data directory is kept in %s",
			r->what, err, had_old ? aside : "(none)");
	else
		out_line(ctx->out,
			 "restored %s in %.1f s; the previous data directory is kept in %s",
			 r->what, util_mono() - r->t0, had_old ? aside : "(none)");
	PGconn *conn = backup_cat_connect(ctx);
	if (conn) {
		db_event(conn, "info", "restore", "physical restore of %s (target %s)", r->what,
			 r->target ? r->target : "latest");
		struct backup_info *b;
		int n = backup_repo_load(r->rp->dir, &b);
		backup_cat_sync(conn, r->rp->dir, b, n);
		free(b);
		PQfinish(conn);
	}
	return wrong ? EXIT_FAIL : 0;
}

/* In the embedded cluster's data directory: stop, keep the old directory aside, restore,
 * start, wait for promotion; on failure put the old one back. */
static int rphys_in_place(struct rphys *r)
{
	struct cmd_ctx *ctx = r->ctx;
	char err[2048] = "";
	if (!ctx->target->embedded) {
		out_err(ctx->out,
			"the target is not the embedded cluster; a physical restore needs a data "
			"directory: use --target-dir DIR on the database host");
		return EXIT_FAIL;
	}
	struct cluster *c = &r->rp->cl;
	char aside[4500], fresh[4500];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char ts[32];
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(aside, sizeof aside, "%s.before-restore-%s", c->datadir, ts);
	snprintf(fresh, sizeof fresh, "%s.restoring", c->datadir);
	backup_rm_rf(fresh);
	out_line(ctx->out, "copying base backup %s", r->base_id);
	if (copy_tree(r->src, fresh, r->rp, err, sizeof err) < 0 ||
	    write_recovery(fresh, r->rp, r->target, r->tli, NULL, err, sizeof err) < 0 ||
	    sync_restored(fresh, err, sizeof err) < 0) {
		out_err(ctx->out, "%s; the cluster was not touched", err);
		backup_rm_rf(fresh);
		return EXIT_FAIL;
	}
	if (cluster_stop(c, "fast", err, sizeof err) < 0) {
		out_err(ctx->out, "%s; the cluster was not touched", err);
		backup_rm_rf(fresh);
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
	backup_fsync_path(c->root); /* the swap, durable before the server writes */
	out_line(ctx->out, "replaying WAL to %s", r->target ? r->target : "the end of the archive");
	if (r->plan->note[0])
		out_line(ctx->out, "%s", r->plan->note);
	char ci[4400];
	cluster_conninfo(c, ci, sizeof ci);
	/* What this start writes to the log is the reason if recovery stops short. */
	struct stat lst;
	long long logoff = stat(c->logfile, &lst) == 0 ? (long long)lst.st_size : 0;
	if (cluster_start(c, NULL, err, sizeof err) < 0 ||
	    backup_wait_promoted(ci, c->datadir, 3600, err, sizeof err) < 0)
		return rphys_in_place_failed(r, err, logoff, aside, had_old, ts);
	return rphys_in_place_done(r, ci, aside, had_old);
}

/* Physical restore: base backup + WAL to a target, in the embedded cluster's data directory
 * or into target_dir. */
static int restore_physical(struct cmd_ctx *ctx, struct repo *rp, const char *base_id,
			    const char *target, const char *target_dir, const char *what, int flags,
			    const struct tl_plan *plan)
{
	static const struct tl_plan none = {0};
	struct rphys r = {.ctx = ctx,
			  .rp = rp,
			  .base_id = base_id,
			  .target = target,
			  .what = what,
			  .flags = flags,
			  .plan = plan ? plan : &none,
			  .t0 = util_mono()};
	r.tli = r.plan->tli;
	if (rphys_check_base(&r) < 0)
		return EXIT_FAIL;
	if (target_dir)
		return rphys_to_dir(&r, target_dir);
	return rphys_in_place(&r);
}

int backup_restore_full_opts(struct cmd_ctx *ctx, const char *want, const char *target_dir,
			     int flags)
{
	char err[2048] = "";
	struct repo rp;
	struct backup_manifest m = {0};
	if (backup_repo_open(&rp, ctx->cfg, 1, err, sizeof err) < 0 ||
	    backup_load_manifest(ctx, &rp, want, &m, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		backup_repo_close(&rp);
		return EXIT_FAIL;
	}
	/* The backup's own history: an incremental's stop LSN lies on the timeline it was
	 * taken on, which need not be its base's nor the newest. */
	struct tl_plan plan = {0};
	unsigned long long stop;
	backup_tl_of_backup(rp.dir, m.id, &plan.tli, &stop);
	snprintf(plan.why, sizeof plan.why, "the timeline %s %s was taken on",
		 backup_type_name(m.type), m.id);
	int rc;
	if (m.type == BT_INCREMENTAL) {
		char target[64];
		snprintf(target, sizeof target, "lsn:%s", m.stop_lsn);
		rc = restore_physical(ctx, &rp, m.base, target, target_dir, m.id, flags, &plan);
	} else if (backup_type_physical(m.type))
		rc = restore_physical(ctx, &rp, m.id, "immediate", target_dir, m.id, flags, &plan);
	else {
		out_err(ctx->out, "%s is a logical dump; restore it with db-restore %s", m.id,
			m.id);
		rc = EXIT_FAIL;
	}
	backup_manifest_free(&m);
	backup_repo_close(&rp);
	return rc;
}

int backup_restore_full(struct cmd_ctx *ctx, const char *want, const char *target_dir)
{
	return backup_restore_full_opts(ctx, want, target_dir, 0);
}

int backup_restore_pitr(struct cmd_ctx *ctx, const char *want, const char *until,
			const char *target_dir)
{
	return backup_restore_pitr_tl(ctx, want, until, target_dir, 0, NULL);
}

int backup_restore_pitr_opts(struct cmd_ctx *ctx, const char *want, const char *until,
			     const char *target_dir, int flags)
{
	return backup_restore_pitr_tl(ctx, want, until, target_dir, flags, NULL);
}

/* The archive's timelines, as listed; a history file refused is named, since the timeline
 * it would describe cannot be followed. */
static void timelines_list(struct out *o, const struct tl_set *ts)
{
	for (int i = 0; i < ts->nbad; i++)
		out_warn(o, "skipped history file %s", ts->bad[i].why);
	char buf[1024] = "";
	size_t off = 0;
	for (int i = 0; i < ts->n && off + 16 < sizeof buf; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%u", i ? ", " : "",
					ts->v[i].tli);
	out_kv(o, "timelines", "%s", off ? buf : "none archived");
}

/* What the steps of choosing a point-in-time restore's base and target share. */
struct pitr {
	struct cmd_ctx *ctx;
	struct repo rp;
	struct backup_info *b;
	int n;
	struct tl_set ts;
	const char *until, *timeline;
	char pgtime[64], target[96], base[64];
	double epoch;
	struct tl_plan plan;
	unsigned want_tli, base_tli;
	unsigned long long base_stop;
};

static void pitr_why(struct pitr *p, int mode, unsigned num)
{
	if (mode == TL_NUMBER)
		snprintf(p->plan.why, sizeof p->plan.why, "--timeline %u", num);
	else if (mode == TL_LATEST)
		snprintf(p->plan.why, sizeof p->plan.why, "the newest timeline in the archive: %s",
			 p->timeline ? "--timeline latest"
				     : "latest, the default to the end of the "
				       "archive");
	else
		snprintf(p->plan.why, sizeof p->plan.why, "the base backup's timeline: %s",
			 p->timeline ? "--timeline current"
				     : "current, the default for a point in time");
}

/* A backup named: a full one is the base; an incremental brings its chain, up to its end or
 * to the time. */
static int pitr_base_named(struct pitr *p, int i)
{
	struct cmd_ctx *ctx = p->ctx;
	const struct backup_info *b = p->b;
	char err[2048] = "";
	if (b[i].type == BT_INCREMENTAL) {
		snprintf(p->base, sizeof p->base, "%s", b[i].base);
		if (!p->until) {
			struct backup_manifest m;
			if (backup_manifest_read(p->rp.dir, b[i].id, &m, err, sizeof err) < 0) {
				out_err(ctx->out, "%s", err);
				return -1;
			}
			snprintf(p->target, sizeof p->target, "lsn:%s", m.stop_lsn);
			backup_manifest_free(&m);
		}
		if (!p->timeline) {
			unsigned long long x;
			backup_tl_of_backup(p->rp.dir, b[i].id, &p->want_tli, &x);
			snprintf(p->plan.why, sizeof p->plan.why,
				 "the timeline incremental %s was taken on", b[i].id);
		}
	} else if (backup_type_physical(b[i].type))
		snprintf(p->base, sizeof p->base, "%s", b[i].id);
	else {
		out_err(ctx->out, "%s is a logical dump; use db-restore %s", b[i].id, b[i].id);
		return -1;
	}
	backup_tl_of_backup(p->rp.dir, p->base, &p->base_tli, &p->base_stop);
	if (p->want_tli && p->base_tli &&
	    !backup_tl_reachable(&p->ts, p->want_tli, p->base_tli, p->base_stop)) {
		out_err(ctx->out,
			"timeline %u cannot be reached from base backup %s (timeline %u): "
			"its history leaves timeline %u before the backup ends, or never "
			"passes it; choose another backup or timeline",
			p->want_tli, p->base, p->base_tli, p->base_tli);
		timelines_list(ctx->out, &p->ts);
		return -1;
	}
	return 0;
}

/* None named: the newest physical backup that ended before the target time, on the history
 * of the timeline asked for. */
static int pitr_base_newest(struct pitr *p)
{
	struct cmd_ctx *ctx = p->ctx;
	const struct backup_info *b = p->b;
	int bi = -1;
	for (int i = p->n - 1; i >= 0 && bi < 0; i--) {
		if (!backup_type_physical(b[i].type) || (p->until && (double)b[i].stop > p->epoch))
			continue;
		unsigned t;
		unsigned long long st;
		if (backup_tl_of_backup(p->rp.dir, b[i].id, &t, &st) < 0)
			continue;
		if (!p->want_tli || !t || backup_tl_reachable(&p->ts, p->want_tli, t, st)) {
			bi = i;
			p->base_tli = t;
			p->base_stop = st;
		}
	}
	if (bi < 0) {
		if (p->until)
			out_err(ctx->out,
				"no full backup ended before %s%s; the earliest "
				"point-in-time is the end of the oldest full backup",
				p->until,
				p->want_tli ? " on the history of the timeline asked for" : "");
		else
			out_err(ctx->out, "no full backup in the repository%s",
				p->want_tli ? " from which that timeline can be reached" : "");
		if (p->want_tli)
			timelines_list(ctx->out, &p->ts);
		return -1;
	}
	snprintf(p->base, sizeof p->base, "%s", b[bi].id);
	return 0;
}

/* A time given must lie after the base backup's end. */
static int pitr_until(struct pitr *p)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->b[i].id, p->base) == 0 && (double)p->b[i].stop > p->epoch) {
			out_err(p->ctx->out,
				"%s is before the end of base backup %s; choose a later "
				"time or an "
				"earlier base",
				p->until, p->base);
			return -1;
		}
	snprintf(p->target, sizeof p->target, "%s", p->pgtime);
	p->plan.until = p->epoch;
	backup_tl_note(&p->ts, &p->plan, p->base_tli, p->base_stop, p->pgtime);
	return 0;
}

/* The base, the target and the timeline; rc is set to the exit status when it fails. */
static int pitr_choose(struct pitr *p, const char *want, int mode, unsigned num, int *rc)
{
	struct cmd_ctx *ctx = p->ctx;
	char err[2048] = "";
	if (p->until && parse_until(p->until, p->pgtime, sizeof p->pgtime, &p->epoch) < 0) {
		out_err(ctx->out,
			"cannot read --until '%s'; use 'YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM|Z]'",
			p->until);
		*rc = EXIT_USAGE;
		return -1;
	}
	/* The default: a point in time (or a backup's own end) on the base backup's history,
	 * as pgBackRest's 'current'; the end of the archive on the newest timeline, as the
	 * server's 'latest'. */
	int wi = want ? backup_resolve_id(p->b, p->n, want, err, sizeof err) : -1;
	if (want && wi < 0) {
		out_err(ctx->out, "%s", err);
		return -1;
	}
	if (!p->timeline && !p->until && !(wi >= 0 && p->b[wi].type == BT_INCREMENTAL))
		mode = TL_LATEST;
	p->want_tli = mode == TL_NUMBER ? num : mode == TL_LATEST ? backup_tl_newest(&p->ts) : 0;
	if (mode == TL_NUMBER && !backup_tl_get(&p->ts, num)) {
		out_err(ctx->out, "timeline %u is not in the WAL archive %s", num, p->rp.wal);
		timelines_list(ctx->out, &p->ts);
		return -1;
	}
	pitr_why(p, mode, num);
	if (want ? pitr_base_named(p, wi) < 0 : pitr_base_newest(p) < 0)
		return -1;
	p->plan.tli = p->want_tli ? p->want_tli : p->base_tli;
	if (p->until && pitr_until(p) < 0)
		return -1;
	return 0;
}

int backup_restore_pitr_tl(struct cmd_ctx *ctx, const char *want, const char *until,
			   const char *target_dir, int flags, const char *timeline)
{
	char err[2048] = "";
	unsigned num;
	int mode = backup_tl_parse_opt(timeline, &num);
	if (mode < 0) {
		out_err(ctx->out, "--timeline '%.40s': give current, latest or a timeline number",
			timeline);
		return EXIT_USAGE;
	}
	struct pitr *p = xcalloc(1, sizeof *p);
	p->ctx = ctx;
	p->until = until;
	p->timeline = timeline;
	if (backup_repo_open(&p->rp, ctx->cfg, 1, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		free(p);
		return EXIT_FAIL;
	}
	struct backup_skipped *sk;
	int ns;
	p->n = backup_repo_scan(p->rp.dir, &p->b, &sk, &ns);
	/* A backup left out here could be the one wanted, or newer than the base chosen. */
	backup_skipped_warn(ctx->out, sk, ns, "");
	backup_tl_load(p->rp.wal, &p->ts);
	int rc = EXIT_FAIL;
	if (pitr_choose(p, want, mode, num, &rc) == 0) {
		char what[256];
		snprintf(what, sizeof what, "%s + WAL to %s", p->base,
			 until		? p->pgtime
			 : p->target[0] ? p->target + 4
					: "latest");
		rc = restore_physical(ctx, &p->rp, p->base, p->target[0] ? p->target : NULL,
				      target_dir, what, flags, &p->plan);
	}
	backup_tl_free(&p->ts);
	free(p->b);
	backup_repo_close(&p->rp);
	free(p);
	return rc;
}

int backup_emergency_restore(struct cmd_ctx *ctx)
{
	struct repo rp;
	struct backup_info *b;
	struct backup_skipped *sk;
	int ns, n = backup_repo_read(ctx, &rp, 0, &b, &sk, &ns);
	if (n < 0)
		return EXIT_FAIL;
	backup_skipped_warn(ctx->out, sk, ns, "");
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

int backup_restore_report(struct cmd_ctx *ctx, const char *conninfo)
{
	char err[1024];
	struct tl_plan plan = {0};
	snprintf(plan.why, sizeof plan.why, "as the restore planned it");
	if (backup_tl_report(ctx->out, conninfo, &plan, err, sizeof err) < 0) {
		out_warn(ctx->out, "%s", err);
		return -1;
	}
	return 0;
}
