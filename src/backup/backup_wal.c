/* The WAL archive: segment names and gaps, archiving on the embedded cluster, the
 * incremental backup (seals the WAL since the previous backup), and the commands the
 * server runs (wal-push, wal-fetch) or that stream for it (wal-receive). */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "backup_int.h"
#include "cluster.h"
#include "config.h"
#include "db.h"
#include "paths.h"
#include "proc.h"
#include "target.h"
#include "sha256.h"
#include "util.h"

/* ---------- WAL names ---------- */

long long backup_seg_size(const cJSON *m)
{
	long long s = (long long)util_json_num(m, "wal_segment_size", 0);
	return s > 0 ? s : 16 * 1024 * 1024;
}

int backup_is_wal_name(const char *s)
{
	if (strlen(s) != WAL_NAME_LEN)
		return 0;
	for (int i = 0; i < WAL_NAME_LEN; i++)
		if (!strchr("0123456789ABCDEF", s[i]))
			return 0;
	return 1;
}

/* Segment number across timelines. */
long long backup_wal_index(const char *name, long long segsize)
{
	unsigned log = 0, seg = 0;
	if (sscanf(name + 8, "%8X%8X", &log, &seg) != 2)
		return -1;
	return (long long)log * (0x100000000LL / segsize) + seg;
}

void backup_wal_name(unsigned tli, unsigned long long lsn, long long segsize, char out[25])
{
	unsigned long long segno = lsn / (unsigned long long)segsize;
	unsigned long long per = 0x100000000ULL / (unsigned long long)segsize;
	snprintf(out, 25, "%08X%08X%08X", tli, (unsigned)(segno / per), (unsigned)(segno % per));
}

unsigned long long backup_parse_lsn(const char *s)
{
	unsigned hi = 0, lo = 0;
	if (sscanf(s, "%X/%X", &hi, &lo) != 2)
		return 0;
	return (unsigned long long)hi << 32 | lo;
}

static int cmp_wal(const void *a, const void *b)
{
	return strcmp((const char *)a + 8, (const char *)b + 8) ?: strcmp(a, b);
}

void backup_walset_load(const char *dir, struct walset *w)
{
	memset(w, 0, sizeof *w);
	DIR *d = opendir(dir);
	if (!d)
		return;
	int cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		/* NAME (older pushes, wal-receive) or NAME.zst (wal-push with compression). */
		size_t len = strlen(e->d_name);
		if (len == WAL_NAME_LEN + 4 && strcmp(e->d_name + WAL_NAME_LEN, ".zst") == 0)
			e->d_name[WAL_NAME_LEN] = 0;
		if (!backup_is_wal_name(e->d_name))
			continue;
		if (w->n == cap) {
			cap = cap ? cap * 2 : 256;
			w->names = xrealloc(w->names, (size_t)cap * sizeof *w->names);
		}
		snprintf(w->names[w->n++], WAL_NAME_LEN + 1, "%.*s", WAL_NAME_LEN, e->d_name);
	}
	closedir(d);
	if (w->n)
		qsort(w->names, (size_t)w->n, sizeof *w->names, cmp_wal);
	int k = 0; /* a segment stored both ways counts once */
	for (int i = 0; i < w->n; i++)
		if (k == 0 || strcmp(w->names[k - 1], w->names[i]) != 0)
			memmove(w->names[k++], w->names[i], sizeof *w->names);
	w->n = k;
}

int backup_wal_stat(const char *waldir, const char *name, struct stat *st, int *zst)
{
	char p[4600];
	snprintf(p, sizeof p, "%s/%s.zst", waldir, name);
	*zst = 1;
	if (stat(p, st) == 0)
		return 0;
	*zst = 0;
	snprintf(p, sizeof p, "%s/%s", waldir, name);
	return stat(p, st);
}

/* From the segment index `from` on, the last index present without a gap (up to `to`
 * when to >= 0); *gap gets the first missing index below the newest segment, or -1. */
long long backup_walset_contiguous(const struct walset *w, long long from, long long to,
				   long long segsize, long long *gap, char last[25])
{
	long long want = from, lastidx = from - 1;
	*gap = -1;
	last[0] = 0;
	for (int i = 0; i < w->n; i++) {
		long long idx = backup_wal_index(w->names[i], segsize);
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

int backup_archive_command(const struct repo *rp, char *buf, size_t n, char *err, size_t errlen)
{
	char exe[4200], wal[4300];
	if (backup_archive_word(backup_self_exe(), exe, sizeof exe) < 0 ||
	    backup_archive_word(rp->wal, wal, sizeof wal) < 0) {
		snprintf(err, errlen,
			 "paths with a quote or a control character cannot go into "
			 "archive_command");
		return -1;
	}
	/* The level travels in the command: the server runs wal-push without our config. */
	char z[32] = "none";
	if (rp->compress > 0)
		snprintf(z, sizeof z, "zstd:%d", rp->compress);
	snprintf(buf, n, "%s wal-push %%p %%f --archive %s --compress %s", exe, wal, z);
	return 0;
}

/* Make the embedded cluster archive into this repository: archive_mode needs one restart,
 * archive_command only a reload. */
int backup_archive_setup(struct run *r, char *err, size_t errlen)
{
	char want[8800];
	if (backup_archive_command(&r->repo, want, sizeof want, err, errlen) < 0)
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
	if (backup_archive_command(&r->repo, want, sizeof want, err, sizeof err) < 0)
		return 0;
	char *cmd = db_scalar(r->conn, err, sizeof err,
			      "select current_setting('archive_mode') <> 'off' and "
			      "strpos(current_setting('archive_command'), $1) > 0",
			      1, (const char *[]){r->repo.wal});
	int ok = cmd && strcmp(cmd, "t") == 0;
	free(cmd);
	return ok;
}

static int latest_of(const struct backup_info *b, int n, int physical_only)
{
	for (int i = n - 1; i >= 0; i--)
		if (!physical_only || backup_type_physical(b[i].type))
			return i;
	return -1;
}

int backup_do_incremental(struct run *r, char *err, size_t errlen)
{
	if (r->ctx->target->embedded) {
		if (backup_archive_setup(r, err, errlen) < 0)
			return -1;
	} else if (!archiving_configured(r) && !backup_wal_receiving(&r->repo)) {
		char want[8800];
		backup_archive_command(&r->repo, want, sizeof want, err, errlen);
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
	backup_cat_put(r, "running", 0.1, "switching WAL", NULL);
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
	/* Wait until the server has archived the segment. */
	struct stat st;
	int zst;
	double deadline = util_mono() + 120;
	while (backup_wal_stat(r->repo.wal, seg, &st, &zst) < 0) {
		if (util_mono() > deadline) {
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
	long long segsize = backup_seg_size(r->man);
	struct walset w;
	backup_walset_load(r->repo.wal, &w);
	long long from = prev_last[0] ? backup_wal_index(prev_last, segsize) + 1 : 0;
	long long to = backup_wal_index(seg, segsize);
	cJSON *list = cJSON_CreateArray();
	long long total = 0;
	char first[32] = "";
	int wfd = open(r->repo.wal, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < w.n; i++) {
		long long idx = backup_wal_index(w.names[i], segsize);
		if (idx < from || idx > to)
			continue;
		char hex[65], zname[WAL_NAME_LEN + 8];
		snprintf(zname, sizeof zname, "%s.zst", w.names[i]);
		/* The file as stored: its checksum is of the compressed bytes. */
		int z = wfd >= 0 && faccessat(wfd, zname, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
		long long sz =
		    wfd >= 0 ? backup_sha256_at(wfd, z ? zname : w.names[i], 1, hex) : -1;
		if (sz < 0)
			continue;
		if (!first[0])
			snprintf(first, sizeof first, "%s", w.names[i]);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", w.names[i]);
		cJSON_AddNumberToObject(o, "size", (double)sz);
		cJSON_AddStringToObject(o, "sha256", hex);
		if (z)
			cJSON_AddStringToObject(o, "compression", "zstd");
		cJSON_AddItemToArray(list, o);
		total += sz;
		out_progress(r->ctx->out, "checksumming WAL", (double)(idx - from + 1),
			     (double)(to - from + 1), w.names[i]);
	}
	if (wfd >= 0)
		close(wfd);
	out_progress_end(r->ctx->out);
	long long gap;
	char last[25];
	backup_walset_contiguous(&w, backup_wal_index(base_first, segsize), to, segsize, &gap,
				 last);
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
	cJSON *t = backup_table_checksums(r->conn, NULL, err, errlen);
	if (!t)
		return -1;
	cJSON_AddItemToObject(r->man, "tables", t);
	if (backup_list_files(r, NULL, err, errlen) < 0)
		return -1;
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(r->man, "size"), (double)total);
	cJSON_AddNumberToObject(r->man, "window_start", (double)base_stop);
	cJSON_AddNumberToObject(r->man, "window_end", util_wall());
	return 0;
}

/* ---------- WAL archive commands (run by the server) ---------- */

/* wal-fetch's status for a segment that is there but damaged: above 125, which the server
 * takes for a failed command rather than "not in the archive" and so ends recovery with an
 * error, instead of promoting at the segment before and losing what follows. */
#define WAL_FETCH_ABORT 126

/* What the server passes as %f: a plain file name. */
static int wal_file_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 64 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

/* NAME.sha256 in the one form read_sidecar accepts: the digest and a newline. */
static int write_sidecar(const char *path, const char hex[65], char *err, size_t errlen)
{
	char line[80];
	snprintf(line, sizeof line, "%s\n", hex);
	return backup_write_file(path, line, err, errlen);
}

/* The two ends of an archive copy: src, and dst's temporary name dst.tmp.PID (into tmp).
 * Either both are open, or neither is and err says why. */
static int copy_open(const char *src, const char *dst, char *tmp, size_t tmplen, int *in, int *out,
		     char *err, size_t errlen)
{
	snprintf(tmp, tmplen, "%s.tmp.%ld", dst, (long)getpid());
	*in = open(src, O_RDONLY | O_CLOEXEC);
	if (*in < 0) {
		snprintf(err, errlen, "cannot open %s: %s", src, strerror(errno));
		return -1;
	}
	*out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*out < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		close(*in);
		return -1;
	}
	return 0;
}

/* After a copy that ended with rc: the checksum file goes in before the rename, so the
 * archive never holds a file without one; on any failure the temporary file goes. */
static int copy_finish(int rc, const char *tmp, const char *dst, const char *side,
		       const char hex[65], char *err, size_t errlen)
{
	if (rc == 0 && side && write_sidecar(side, hex, err, errlen) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, dst) < 0) {
		snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* What wal-push and wal-fetch (cmd, for the message) start with: the archive folder (*dir,
 * or backup_dir/wal in dirbuf when none was given) and the name the server passed, checked.
 * -1 when the name is refused, said on ctx->out. */
static int wal_cmd_start(struct cmd_ctx *ctx, const char *cmd, const char *name, const char **dir,
			 char *dirbuf, size_t dirlen)
{
	if (!*dir) {
		snprintf(dirbuf, dirlen, "%s/wal", ctx->cfg->backup_dir);
		*dir = dirbuf;
	}
	if (!wal_file_name_ok(name)) {
		out_err(ctx->out, "%s: bad file name %.64s", cmd, name);
		return -1;
	}
	return 0;
}

/* Copy src to dst through dst.tmp.PID, hashing on the way (the server waits for
 * archive_command on every segment: one pass over the data). want: the SHA-256 the copy
 * must have, or the copy is dropped (returns -2). side: a NAME.sha256 to write before the
 * rename, so a segment in the archive always has its checksum beside it. */
static int copy_file_sync(const char *src, const char *dst, char hex[65], const char *want,
			  const char *side, char *err, size_t errlen)
{
	char tmp[4600];
	int in, out;
	if (copy_open(src, dst, tmp, sizeof tmp, &in, &out, err, errlen) < 0)
		return -1;
	static char buf[1 << 20];
	struct sha256_ctx sha;
	sha256_init(&sha);
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0) {
		sha256_update(&sha, buf, (size_t)n);
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	}
	if (n < 0 || rc < 0 || fsync(out) < 0) {
		snprintf(err, errlen, "cannot copy %.400s to %.400s: %s", src, tmp,
			 strerror(errno));
		rc = -1;
	}
	close(in);
	close(out);
	if (rc == 0)
		sha256_hex(&sha, hex);
	if (rc == 0 && want && strcmp(hex, want) != 0) {
		snprintf(err, errlen, "SHA-256 %s, but %s.sha256 says %s", hex, src, want);
		rc = -2;
	}
	return copy_finish(rc, tmp, dst, side, hex, err, errlen);
}

/* NAME.sha256 as wal-push and wal-receive write it: 64 hex digits and a newline. Returns
 * 1 and the digest, 0 when there is none, -1 when it is not a digest. */
static int read_sidecar(const char *path, char hex[65])
{
	char buf[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 64)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (strlen(buf) != 64 || strspn(buf, "0123456789abcdef") != 64)
		return -1;
	snprintf(hex, 65, "%.64s", buf);
	return 1;
}

/* The file NAME.zst in dir, compressed from src, with NAME.zst.sha256 (of the compressed
 * bytes) written before the rename, as copy_file_sync does for plain files. */
static int push_zst(const char *src, const char *dir, const char *name, int level, char *err,
		    size_t errlen)
{
	char dst[4600], tmp[4700], side[4700], hex[65];
	snprintf(dst, sizeof dst, "%s/%s.zst", dir, name);
	snprintf(side, sizeof side, "%s.sha256", dst);
	int in, out;
	if (copy_open(src, dst, tmp, sizeof tmp, &in, &out, err, errlen) < 0)
		return -1;
	char e[512];
	long long n = backup_zstd_copy(in, out, level, hex, e, sizeof e);
	close(in);
	int rc = n < 0 || fsync(out) < 0 ? -1 : 0;
	if (close(out) < 0)
		rc = -1;
	if (rc < 0)
		snprintf(err, errlen, "cannot compress %.300s to %.300s: %.300s", src, tmp,
			 n < 0 ? e : strerror(errno));
	return copy_finish(rc, tmp, dst, side, hex, err, errlen);
}

/* Whether name is archived already, in either form, with the content of src. 1: the same
 * (its checksum file written again when missing or wrong), 0: not there, -1: there with
 * other content, -2: cannot tell (err). */
static int pushed_already(const char *dir, const char *name, const char *src, char *err,
			  size_t errlen)
{
	char p[4600], side[4700], have[65], zhave[65], old[65];
	struct stat st;
	int zst;
	if (backup_wal_stat(dir, name, &st, &zst) < 0)
		return 0;
	/* Only then the source's digest: the server waits for every push. */
	char sha[65];
	if (backup_sha256_file(src, sha) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
		return -2;
	}
	snprintf(p, sizeof p, zst ? "%s/%s.zst" : "%s/%s", dir, name);
	snprintf(side, sizeof side, "%s.sha256", p);
	if (zst) {
		int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "cannot read %.900s: %s", p, strerror(errno));
			return -2;
		}
		/* A stored file that does not decompress is not this segment either. */
		int rc = backup_unzstd_copy(fd, -1, zhave, have, err, errlen);
		close(fd);
		if (rc < 0)
			return rc == -2 ? -1 : -2;
	} else {
		if (backup_sha256_file(p, have) < 0) {
			snprintf(err, errlen, "cannot read %.900s: %s", p, strerror(errno));
			return -2;
		}
		snprintf(zhave, sizeof zhave, "%s", have);
	}
	if (strcmp(have, sha) != 0)
		return -1;
	/* Re-archiving after a crash is normal. A push killed before its checksum file was
	 * written left the segment without one. */
	if (read_sidecar(side, old) != 1 || strcmp(old, zhave)) {
		if (write_sidecar(side, zhave, err, errlen) < 0)
			return -2;
		backup_fsync_path(dir);
	}
	return 1;
}

int backup_wal_push(struct cmd_ctx *ctx, const char *path, const char *name, const char *dir)
{
	char err[1024] = "", dst[4600], dirbuf[4200], side[4700];
	if (wal_cmd_start(ctx, "wal-push", name, &dir, dirbuf, sizeof dirbuf) < 0)
		return EXIT_FAIL;
	const char *zopt = ctx->args ? args_get(ctx->args, "compress") : NULL;
	int level = zopt ? backup_compress_parse(zopt) : ctx->cfg->backup_compress;
	if (level < 0) {
		out_err(ctx->out,
			"wal-push: --compress wants zstd:N (N from 1 to 19) or none, not '%s'",
			zopt);
		return EXIT_USAGE;
	}
	/* Segments only: timeline history and backup label files are a few hundred bytes,
	 * and stay readable where they are. */
	if (!backup_is_wal_name(name))
		level = 0;
	int have = pushed_already(dir, name, path, err, sizeof err);
	if (have == 1)
		return 0;
	if (have == -1) {
		out_err(ctx->out,
			"wal-push: %s already exists in %s with different content; refusing "
			"to overwrite",
			name, dir);
		return EXIT_FAIL;
	}
	if (have == -2) {
		out_err(ctx->out, "wal-push: %s", err);
		return EXIT_FAIL;
	}
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	snprintf(side, sizeof side, "%s.sha256", dst);
	char got[65];
	if (level > 0 ? push_zst(path, dir, name, level, err, sizeof err) < 0
		      : copy_file_sync(path, dst, got, NULL, side, err, sizeof err) < 0) {
		out_err(ctx->out, "wal-push: %s", err);
		return EXIT_FAIL;
	}
	backup_fsync_path(dir);
	return 0;
}

/* The stored form of name (ext "" or ".zst") and the SHA-256 recorded beside it, for
 * wal-fetch. Returns 0, or the status wal-fetch ends with: a missing checksum file is the
 * end of the archive, a damaged one stops recovery. */
static int fetch_want(struct cmd_ctx *ctx, const char *dir, const char *name, const char *ext,
		      char *src, size_t srclen, char want[65])
{
	char side[4700];
	snprintf(src, srclen, "%s/%s%s", dir, name, ext);
	snprintf(side, sizeof side, "%s.sha256", src);
	int sc = read_sidecar(side, want);
	if (sc == 0) {
		out_err(ctx->out,
			"wal-fetch: %s%s has no %s%s.sha256 beside it in %s; not restoring a file "
			"that cannot be checked (taken as the end of the archive)",
			name, ext, name, ext, dir);
		return EXIT_FAIL;
	}
	if (sc < 0) {
		out_err(ctx->out,
			"wal-fetch: %s%s.sha256 in %s is unreadable or not a SHA-256; %s cannot be "
			"checked: recovery stops here",
			name, ext, dir, name);
		return WAL_FETCH_ABORT;
	}
	return 0;
}

/* wal-fetch of NAME.zst: checked against NAME.zst.sha256 while it is decompressed into
 * path's temporary name, renamed into place only when both agree. */
static int fetch_zst(struct cmd_ctx *ctx, const char *name, const char *path, const char *dir)
{
	char src[4600], tmp[4600], want[65], got[65], err[1024] = "";
	int sc = fetch_want(ctx, dir, name, ".zst", src, sizeof src, want);
	if (sc != 0)
		return sc;
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		out_err(ctx->out, "wal-fetch: %s is not a readable file: %s; recovery stops here",
			src, in < 0 ? strerror(errno) : "not a plain file");
		if (in >= 0)
			close(in);
		return WAL_FETCH_ABORT;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		out_err(ctx->out, "wal-fetch: cannot create %s: %s", tmp, strerror(errno));
		close(in);
		return EXIT_FAIL;
	}
	int rc = backup_unzstd_copy(in, out, got, NULL, err, sizeof err);
	close(in);
	if (rc != -1 && strcmp(got, want) != 0) {
		out_err(ctx->out,
			"wal-fetch: checksum mismatch for %s.zst in %s: SHA-256 %s, but "
			"%s.zst.sha256 says %s; the archived file is damaged, recovery stops here",
			name, dir, got, name, want);
		rc = -3;
	} else if (rc == -2)
		out_err(ctx->out,
			"wal-fetch: %s.zst in %s matches its checksum but cannot be decompressed "
			"(%s); recovery stops here",
			name, dir, err);
	if (rc == 0 && (fsync(out) < 0 || rename(tmp, path) < 0)) {
		snprintf(err, sizeof err, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	close(out);
	if (rc == -1)
		out_err(ctx->out, "wal-fetch: %s", err);
	if (rc < 0) {
		unlink(tmp);
		return rc == -1 ? EXIT_FAIL : WAL_FETCH_ABORT;
	}
	return 0;
}

/* restore_command: a file of the archive, copied only if it has the SHA-256 recorded
 * beside it when it was archived (wal-push, wal-receive). A file without one is not
 * archived yet (wal-receive seals each segment after pg_receivewal completes it): the
 * end of the archive, as for a missing file. */
int backup_wal_fetch(struct cmd_ctx *ctx, const char *name, const char *path, const char *dir)
{
	char err[1024] = "", src[4600], dirbuf[4200], want[65], got[65];
	if (wal_cmd_start(ctx, "wal-fetch", name, &dir, dirbuf, sizeof dirbuf) < 0)
		return WAL_FETCH_ABORT;
	struct stat st;
	int zst = 0;
	if ((backup_is_wal_name(name)
		 ? backup_wal_stat(dir, name, &st, &zst)
		 : (snprintf(src, sizeof src, "%s/%s", dir, name), stat(src, &st))) < 0)
		return EXIT_FAIL; /* the end of the archive: normal, and quiet */
	if (zst)
		return fetch_zst(ctx, name, path, dir);
	int sc = fetch_want(ctx, dir, name, "", src, sizeof src, want);
	if (sc != 0)
		return sc;
	int rc = copy_file_sync(src, path, got, want, NULL, err, sizeof err);
	if (rc == -2) {
		out_err(ctx->out,
			"wal-fetch: checksum mismatch for %s in %s: %s; the archived file is "
			"damaged, recovery stops here",
			name, dir, err);
		return WAL_FETCH_ABORT;
	}
	if (rc < 0) {
		out_err(ctx->out, "wal-fetch: %s", err);
		return EXIT_FAIL;
	}
	return 0;
}

/* ---------- wal-receive ---------- */

static volatile sig_atomic_t recv_stop;
static void recv_on_signal(int s)
{
	recv_stop = s;
}

/* What pg_receivewal finished: a segment or a timeline history file, never the
 * .partial it is still writing. */
static int recv_complete_name(const char *n)
{
	size_t len = strlen(n);
	if (backup_is_wal_name(n))
		return 1;
	if (len != 16 || strcmp(n + 8, ".history"))
		return 0;
	for (int i = 0; i < 8; i++)
		if (!strchr("0123456789ABCDEF", n[i]))
			return 0;
	return 1;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Give each file pg_receivewal completed a NAME.sha256 beside it, as wal-push does. The
 * folder is the server's user's (pg_receivewal runs as that user when we are root): the
 * segment is read and the checksum written through the folder's descriptor, never
 * following a link, and the checksum is a new file handed to that user (cluster_file_put),
 * never a name truncated or chowned. Returns how many; *last gets the newest segment. */
static int recv_seal(struct cmd_ctx *ctx, const struct repo *rp, char *last, size_t lastlen)
{
	int dfd = open(rp->wal, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int lfd = dfd >= 0 ? fcntl(dfd, F_DUPFD_CLOEXEC, 0) : -1;
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d) {
		if (lfd >= 0)
			close(lfd);
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char side[300];
		struct stat st;
		if (!recv_complete_name(e->d_name))
			continue;
		snprintf(side, sizeof side, "%s.sha256", e->d_name);
		if (fstatat(dfd, side, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nn = xrealloc(names, cap * sizeof *names);
			names = nn;
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_name);
	int sealed = 0;
	for (size_t i = 0; i < n; i++) {
		char side[300], hex[65], line[80], err[4800];
		snprintf(side, sizeof side, "%s.sha256", names[i]);
		long long size = backup_sha256_at(dfd, names[i], 1, hex);
		snprintf(line, sizeof line, "%s\n", hex);
		if (size < 0 || cluster_file_put(rp->have_cl ? &rp->cl : NULL, rp->wal, side, line,
						 0, err, sizeof err) < 0) {
			out_warn(ctx->out, "wal-receive: cannot checksum %s: %s", names[i],
				 size < 0 ? (errno == EINVAL ? "not a plain file with one link"
							     : strerror(errno))
					  : err);
			continue;
		}
		if (backup_is_wal_name(names[i]))
			snprintf(last, lastlen, "%s", names[i]);
		out_line(ctx->out, "received %s sha256 %s", names[i], hex);
		sealed++;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	close(dfd);
	if (sealed) {
		backup_fsync_path(rp->wal);
		fflush(NULL); /* a long-running command: show each segment as it comes */
	}
	return sealed;
}

/* Slot names as the server accepts them, checked before anything reaches a tool. */
static int recv_slot_ok(const char *slot)
{
	size_t len = strlen(slot);
	if (len == 0 || len > 63)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_", slot[i]))
			return 0;
	return 1;
}

/* One receiver per repository: two pg_receivewal in one directory would write the same
 * segments. Returns the lock's fd, or -1 with err naming the holder. */
static int recv_lock(const struct repo *rp, char *err, size_t errlen)
{
	char path[4300], me[32], pid[32] = "?";
	snprintf(path, sizeof path, "%s/.wal-receive.lock", rp->dir);
	snprintf(me, sizeof me, "%ld\n", (long)getpid());
	int fd = util_lock_file(path, me, pid, sizeof pid);
	if (fd == -1)
		snprintf(err, errlen, "cannot open %.900s: %s", path, strerror(errno));
	if (fd == -2)
		snprintf(err, errlen, "wal-receive is already streaming into %.900s (pid %s)",
			 rp->wal, pid);
	return fd < 0 ? -1 : fd;
}

int backup_wal_receiving(const struct repo *rp)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/.wal-receive.lock", rp->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int busy = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

/* For a server midsops does not run: stream WAL into the repository with pg_receivewal
 * and a replication slot (created when missing, so WAL waits for the receiver), until
 * SIGINT, SIGTERM or SIGHUP; each completed segment gets its checksum. */
int backup_wal_receive(struct cmd_ctx *ctx, const char *slot)
{
	char err[1024] = "";
	struct repo rp;
	if (!recv_slot_ok(slot)) {
		out_err(ctx->out,
			"wal-receive: bad slot name '%s': use 1-63 lower-case letters, digits and "
			"underscores",
			slot);
		return EXIT_FAIL;
	}
	if (backup_repo_open(&rp, ctx->cfg, 0, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	char bin[1024];
	if (!proc_pg_bin("pg_receivewal", bin, sizeof bin)) {
		out_err(ctx->out, "pg_receivewal not found; install postgresql-15 (make deps)");
		return EXIT_FAIL;
	}
	int lockfd = recv_lock(&rp, err, sizeof err);
	if (lockfd < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	char **env = db_child_env(ctx->target->conninfo, NULL, err, sizeof err);
	if (!env) {
		out_err(ctx->out, "wal-receive: %s", err);
		close(lockfd);
		return EXIT_FAIL;
	}
	char *cargv[] = {bin, "--create-slot", "--if-not-exists", "-S", (char *)slot, NULL};
	struct proc_opts o = {.envp_add = env, .capture = 1};
	char *output = NULL;
	int st = proc_run(cargv, &o, &output);
	if (st != 0) {
		const char *m = output ? strstr(output, "error: ") : NULL;
		m = m ? m + 7 : output ? output : "";
		char msg[512];
		snprintf(msg, sizeof msg, "%.*s", (int)strcspn(m, "\n"), m);
		out_err(ctx->out,
			"wal-receive: cannot create the replication slot %s (exit %d): %s; the "
			"role needs REPLICATION and pg_hba.conf a replication entry",
			slot, st, msg);
		free(output);
		db_env_free(env);
		close(lockfd);
		return EXIT_FAIL;
	}
	free(output);
	/* backup_dir/wal belongs to the server's user when we are root (backup_repo_open):
	 * what arrives there is written by that user, and so is pg_receivewal's log, in that
	 * user's log folder; root writes nothing in either. */
	int as_server = geteuid() == 0 && rp.have_cl;
	char logf[4300], logdir[4200];
	if (rp.have_cl)
		snprintf(logdir, sizeof logdir, "%s", rp.cl.logdir);
	else
		snprintf(logdir, sizeof logdir, "%s", paths_state_dir());
	int dir_ok = rp.have_cl ? cluster_own_dir(&rp.cl, logdir, 0700, err, sizeof err)
				: paths_mkdir_p(logdir, 0700);
	if (dir_ok < 0) {
		if (!rp.have_cl)
			snprintf(err, sizeof err, "cannot create %.900s: %s", logdir,
				 strerror(errno));
		out_err(ctx->out, "wal-receive: %s", err);
		db_env_free(env);
		close(lockfd);
		return EXIT_FAIL;
	}
	snprintf(logf, sizeof logf, "%s/wal-receive-%s.log", logdir, slot);
	char *argv[] = {bin, "-D", rp.wal, "-S", (char *)slot, "--synchronous", "-n", "-v", NULL};
	struct sigaction sa = {.sa_handler = recv_on_signal}, oldint, oldterm, oldhup;
	recv_stop = 0;
	sigaction(SIGINT, &sa, &oldint);
	sigaction(SIGTERM, &sa, &oldterm);
	sigaction(SIGHUP, &sa, &oldhup);
	struct proc_opts o2 = {.envp_add = env, .stdout_file = logf};
	if (as_server) {
		o2.uid = rp.cl.uid;
		o2.gid = rp.cl.gid;
		o2.cwd = "/";
	}
	/* pg_receivewal inherits the lock: if midsops is killed, the orphan still streams
	 * and keeps a second receiver out until it ends. */
	fcntl(lockfd, F_SETFD, 0);
	pid_t pid = proc_spawn(argv, &o2);
	fcntl(lockfd, F_SETFD, FD_CLOEXEC);
	db_env_free(env);
	if (pid < 0) {
		out_err(ctx->out, "wal-receive: cannot start pg_receivewal: %s", strerror(errno));
		close(lockfd);
		return EXIT_FAIL;
	}
	out_line(ctx->out, "streaming WAL into %s with slot %s (pid %ld; Ctrl-C or SIGTERM stops)",
		 rp.wal, slot, (long)pid);
	fflush(NULL);
	char last[32] = "";
	int received = 0, ws = 0;
	double asked = 0, last_seal = 0;
	for (;;) {
		pid_t w = waitpid(pid, &ws, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		double t = util_mono();
		/* pg_receivewal ends cleanly (the segment it writes synced and kept as
		 * .partial) on SIGINT; SIGTERM only in PostgreSQL 16 and later. */
		if (recv_stop && !asked) {
			kill(pid, SIGINT);
			asked = t;
		} else if (asked && t - asked > 30) {
			kill(pid, SIGKILL);
			asked = t;
		}
		if (t - last_seal >= 0.5) {
			received += recv_seal(ctx, &rp, last, sizeof last);
			last_seal = t;
		}
		usleep(50000);
	}
	received += recv_seal(ctx, &rp, last, sizeof last);
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGTERM, &oldterm, NULL);
	sigaction(SIGHUP, &oldhup, NULL);
	close(lockfd);
	st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	out_kv(ctx->out, "slot", "%s", slot);
	out_kv_int(ctx->out, "segments_received", received);
	out_kv(ctx->out, "last_segment", "%s", last[0] ? last : "none");
	if (recv_stop && (st == 0 || st == 128 + SIGINT)) {
		out_line(ctx->out,
			 "stopped; the slot %s keeps the server's WAL until wal-receive runs again "
			 "(drop it with pg_drop_replication_slot when streaming ends for good)",
			 slot);
		return 0;
	}
	char tail[512];
	backup_tool_tail(logf, st, tail, sizeof tail);
	out_err(ctx->out, "wal-receive: pg_receivewal ended (exit %d): %s; see %s", st, tail, logf);
	return EXIT_FAIL;
}
