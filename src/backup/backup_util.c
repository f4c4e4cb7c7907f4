/* What the backup files share: small file and JSON helpers, the repository (lock, free
 * space), resolving a backup's manifest, tool logs, and the per-table checksums every
 * backup and restore test records and compares. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backup_int.h"
#include "cluster.h"
#include "config.h"
#include "db.h"
#include "paths.h"
#include "util.h"

/* ---------- small file helpers ---------- */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

int backup_rm_rf(const char *path)
{
	return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}

void backup_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int backup_write_file(const char *path, const char *text, char *err, size_t errlen)
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

/* Files midsops wrote itself (a run's table checksums, pg_basebackup's backup_manifest),
 * but in the repository: never through a symbolic link, and bounded. */
#define READ_JSON_MAX (256LL << 20)
cJSON *backup_read_json(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > READ_JSON_MAX) {
		close(fd);
		return NULL;
	}
	size_t got;
	char *buf = backup_read_fd(fd, (size_t)st.st_size, &got);
	cJSON *j = cJSON_ParseWithLength(buf, got);
	free(buf);
	return j;
}

const char *backup_self_exe(void)
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

int backup_repo_open(struct repo *r, const struct config *cfg, int lock, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->lockfd = -1;
	r->compress = cfg->backup_compress;
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
	/* Handed over through a descriptor, never by name (cluster_own_dir). */
	if (geteuid() == 0 && r->have_cl && cluster_own_dir(&r->cl, r->wal, 0700, err, errlen) < 0)
		return -1;
	if (!lock)
		return 0;
	char path[4300], me[32], pid[32] = "?";
	snprintf(path, sizeof path, "%s/.lock", r->dir);
	snprintf(me, sizeof me, "%ld\n", (long)getpid());
	int fd = util_lock_file(path, me, pid, sizeof pid);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd == -2) {
		snprintf(err, errlen,
			 "another backup or restore is running on %s (pid %s); one at a time per "
			 "repository",
			 r->dir, pid);
		return -1;
	}
	r->lockfd = fd;
	return 0;
}

void backup_repo_close(struct repo *r)
{
	if (r->lockfd >= 0)
		close(r->lockfd);
	r->lockfd = -1;
}

int backup_repo_read(struct cmd_ctx *ctx, struct repo *rp, int lock, struct backup_info **b,
		     struct backup_skipped **sk, int *ns)
{
	char err[1024] = "";
	if (backup_repo_open(rp, ctx->cfg, lock, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return -1;
	}
	return backup_repo_scan(rp->dir, b, sk, ns);
}

void backup_skipped_warn(struct out *o, struct backup_skipped *sk, int ns, const char *note)
{
	for (int i = 0; i < ns; i++)
		out_warn(o, "skipped %s%s: %s", sk[i].name, note, sk[i].why);
	free(sk);
}

int backup_disk_check(const char *dir, long long need, char *err, size_t errlen)
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

/* The last line of a tool's log. A tool that died of a full disk often could not write
 * its log either (it lives beside the backup), so an empty log is explained by the file
 * system when it is (nearly) full. */
void backup_log_tail(const char *logfile, char *buf, size_t n)
{
	buf[0] = 0;
	/* A tool run as the server's user logs in that user's folder (wal-receive): a link or
	 * a FIFO there must not show us another file, nor hang us. */
	int fd = open(logfile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat lst;
	FILE *f = fd >= 0 && fstat(fd, &lst) == 0 && S_ISREG(lst.st_mode) ? fdopen(fd, "r") : NULL;
	if (!f && fd >= 0)
		close(fd);
	if (f) {
		char line[1024];
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = 0;
			if (line[0])
				snprintf(buf, n, "%s", line);
		}
		fclose(f);
	}
	if (buf[0])
		return;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", logfile);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	struct statvfs sv;
	int ok;
	/* The directory itself may be gone (the partial folder is removed on failure). */
	while (!(ok = statvfs(dir, &sv) == 0) && (slash = strrchr(dir, '/')) && slash != dir)
		*slash = 0;
	unsigned long long avail = ok ? (unsigned long long)sv.f_bavail * sv.f_frsize : ~0ULL;
	if (avail < 4ULL << 20)
		snprintf(buf, n, "no output; the file system of %s is full (%llu bytes free)", dir,
			 avail);
	else
		snprintf(buf, n, "no output (see the server log)");
}

/* The last line of the log of a tool that ended with status st. One that exits with an
 * error (not a signal) always says why, so an empty log means it could not write even
 * that: its file system was full, though its clean-up (pg_basebackup removes what it
 * wrote) may have freed space again before we look. */
void backup_tool_tail(const char *logfile, int st, char *buf, size_t n)
{
	backup_log_tail(logfile, buf, n);
	struct stat sb;
	if (st < 1 || st > 127 || strncmp(buf, "no output (", 11) || lstat(logfile, &sb) < 0 ||
	    sb.st_size > 0)
		return;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", logfile);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	struct statvfs sv;
	unsigned long long avail =
	    statvfs(dir, &sv) == 0 ? (unsigned long long)sv.f_bavail * sv.f_frsize : 0;
	snprintf(buf, n,
		 "no output: it cannot write its log in %s, so that file system was full when it "
		 "failed (%llu MB free now)",
		 dir, avail >> 20);
}

/* Row counts and checksums of every table in builds and game, in one snapshot. Each
 * table entry names its checksum method, so a manifest is compared the way it was made:
 *   v1 (entries without a method, older manifests): md5 over the md5 of each row's text,
 *      ordered by the primary key. Text output of the jsonb columns and the sort made it
 *      most of a full backup's cost (game.powers alone about 1.3 s of 1.8).
 *   v2: the sum, as numeric, of hash_record_extended(row, 0) over the rows: no text
 *      output, no sort, order-independent. Columns whose type has no extended hash
 *      function (json, xml, geometric, composite types, domains over domains...) are
 *      hashed by their text, decided from the catalogue so the copy decides the same.
 *      PostgreSQL's hashes are stable within a major version and byte order, which is
 *      where restore tests and restores compare them. */
static int cks_known(const char *m)
{
	return strcmp(m, "v1") == 0 || strcmp(m, "v2") == 0;
}

/* The method to use for a table: the one `want` (a manifest's tables) names for it, v1
 * when its entry names none, the current one when want is NULL or lacks the table: v2,
 * or v1 on a server older than 14, which has no hash_record_extended. */
static const char *cks_method(const cJSON *want, const char *table, int v2)
{
	const cJSON *w;
	cJSON_ArrayForEach(w, want) if (strcmp(util_json_text(w, "table"), table) == 0)
	{
		const char *m = util_json_text(w, "checksum_method");
		return m[0] ? m : "v1";
	}
	return v2 ? "v2" : "v1";
}

cJSON *backup_table_checksums(PGconn *c, const cJSON *want, char *err, size_t errlen)
{
	if (db_exec(c, err, errlen, "begin isolation level repeatable read read only", 0, NULL) < 0)
		return NULL;
	int v2 = PQserverVersion(c) >= 140000;
	/* Per table: its name, the v1 sort key (primary key, else the row's text) and the
	 * v2 row expression (the whole row when every column's type hashes natively). A
	 * type hashes natively when it (a domain: its base type) is the input type of a
	 * default hash operator class with an extended hash function, is an enum, or is an
	 * array of such a type. */
	static const char v2_expr[] =
	    "coalesce((select case when bool_and(h.ok) then 't' else 'row(' ||\n"
	    "      string_agg(format(case when h.ok then 't.%I' else 't.%I::text' end,\n"
	    "      a.attname), ', ' order by a.attnum) || ')' end\n"
	    "    from pg_attribute a join pg_type ty on ty.oid = a.atttypid\n"
	    "    join pg_type bt on bt.oid = case when ty.typtype = 'd' then ty.typbasetype\n"
	    "      else ty.oid end\n"
	    "    left join pg_type et on et.oid = bt.typelem\n"
	    "      and bt.typsubscript = 'array_subscript_handler'::regproc\n"
	    "    cross join lateral (select coalesce(et.typtype, bt.typtype) = 'e' or exists (\n"
	    "      select 1 from pg_opclass oc join pg_am am on am.oid = oc.opcmethod\n"
	    "      join pg_amproc p on p.amprocfamily = oc.opcfamily\n"
	    "        and p.amproclefttype = oc.opcintype and p.amprocnum = 2\n"
	    "      where am.amname = 'hash' and oc.opcdefault\n"
	    "        and oc.opcintype = coalesce(et.oid, bt.oid))) h(ok)\n"
	    "    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), 't')";
	struct strbuf cat = {0};
	strbuf_addf(
	    &cat,
	    "select format('%%I.%%I', n.nspname, c.relname),\n"
	    "  coalesce((select string_agg(format('t.%%I', a.attname), ', ' order by "
	    "k.ord)\n"
	    "    from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, ord)\n"
	    "    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum\n"
	    "    where i.indrelid = c.oid and i.indisprimary), 't::text'),\n"
	    "  %s\n"
	    "from pg_class c join pg_namespace n on n.oid = c.relnamespace\n"
	    "where n.nspname in ('builds', 'game') and c.relkind in ('r', 'p')\n"
	    "  and not c.relispartition order by 1",
	    v2 ? v2_expr : "null");
	PGresult *r = db_query(c, err, errlen, cat.s, 0, NULL);
	strbuf_free(&cat);
	if (!r) {
		db_rollback(c);
		return NULL;
	}
	cJSON *arr = cJSON_CreateArray();
	for (int i = 0; i < PQntuples(r); i++) {
		const char *table = PQgetvalue(r, i, 0), *method = cks_method(want, table, v2);
		struct strbuf sql = {0};
		if (!cks_known(method) || (!v2 && strcmp(method, "v1"))) {
			if (cks_known(method))
				snprintf(err, errlen,
					 "%s: checksum method %s needs PostgreSQL 14 or later",
					 table, method);
			else
				snprintf(err, errlen,
					 "%s: unknown checksum method '%s' in the manifest (this "
					 "midsops knows v1 and v2; a newer midsops made it)",
					 table, method);
			PQclear(r);
			cJSON_Delete(arr);
			db_rollback(c);
			return NULL;
		}
		if (strcmp(method, "v1") == 0)
			strbuf_addf(&sql,
				    "select count(*), coalesce(md5(string_agg(md5(t::text), '' "
				    "order by %s)), md5('')) from %s t",
				    PQgetvalue(r, i, 1), table);
		else
			strbuf_addf(&sql,
				    "select count(*), coalesce(sum(hash_record_extended(%s, "
				    "0)::numeric), 0)::text from %s t",
				    PQgetvalue(r, i, 2), table);
		cJSON *t = db_table_sum(c, table, sql.s, err, errlen);
		strbuf_free(&sql);
		if (!t) {
			PQclear(r);
			cJSON_Delete(arr);
			db_rollback(c);
			return NULL;
		}
		/* v1 entries stay as they always were, so an old manifest's copy compares. */
		if (strcmp(method, "v1"))
			cJSON_AddStringToObject(t, "checksum_method", method);
		cJSON_AddItemToArray(arr, t);
	}
	PQclear(r);
	/* A snapshot that cannot end cleanly is a connection gone: nothing to trust. */
	if (db_exec(c, err, errlen, "commit", 0, NULL) < 0) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

/* Names the tables whose count or checksum differ; returns how many. */
int backup_compare_tables(const cJSON *want, const cJSON *got, char *detail, size_t n)
{
	int bad = 0;
	size_t off = 0;
	detail[0] = 0;
	const cJSON *w;
	cJSON_ArrayForEach(w, want)
	{
		const cJSON *g, *found = NULL;
		cJSON_ArrayForEach(g, got) if (strcmp(util_json_text(g, "table"),
						      util_json_text(w, "table")) == 0) found = g;
		if (!found || util_json_num(found, "rows", 0) != util_json_num(w, "rows", 0) ||
		    strcmp(util_json_text(found, "checksum"), util_json_text(w, "checksum"))) {
			bad++;
			if (off < n)
				off += (size_t)snprintf(
				    detail + off, n - off, "%s%s (%.0f rows, want %.0f)",
				    bad > 1 ? ", " : "", util_json_text(w, "table"),
				    found ? util_json_num(found, "rows", 0) : -1,
				    util_json_num(w, "rows", 0));
		}
	}
	return bad;
}

int backup_load_manifest(struct cmd_ctx *ctx, struct repo *rp, const char *want,
			 struct backup_manifest *m, char *err, size_t errlen)
{
	(void)ctx;
	struct backup_info *b;
	struct backup_skipped *sk;
	int ns;
	memset(m, 0, sizeof *m);
	int n = backup_repo_scan(rp->dir, &b, &sk, &ns);
	int i = backup_resolve_id(b, n, want, err, errlen);
	if (i < 0) {
		/* A folder that is there but was refused: say why rather than "unknown". */
		size_t wl = strlen(want);
		for (int k = 0; k < ns; k++)
			if (wl && strncmp(sk[k].name, want, wl) == 0) {
				snprintf(err, errlen, "%s", sk[k].why);
				break;
			}
		free(b);
		free(sk);
		return -1;
	}
	char id[64];
	snprintf(id, sizeof id, "%s", b[i].id);
	free(b);
	free(sk);
	return backup_manifest_read(rp->dir, id, m, err, errlen);
}

int backup_load(struct cmd_ctx *ctx, struct repo *rp, const char *want, char *id, size_t idlen,
		cJSON **man, char *err, size_t errlen)
{
	struct backup_manifest m;
	*man = NULL;
	if (backup_load_manifest(ctx, rp, want, &m, err, errlen) < 0)
		return -1;
	snprintf(id, idlen, "%s", m.id);
	*man = m.json;
	return 0;
}

/* A path as one shell word inside restore_command or archive_command: single-quoted, so
 * it cannot hold a quote, and with % doubled, which the server would otherwise expand (%f,
 * %p). */
int backup_archive_word(const char *s, char *out, size_t n)
{
	size_t o = 0;
	if (n < 3)
		return -1;
	out[o++] = '\'';
	for (; *s; s++) {
		if (*s == '\'' || (unsigned char)*s < 0x20 || *s == 0x7f || o + 4 >= n)
			return -1;
		if (*s == '%')
			out[o++] = '%';
		out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = 0;
	return 0;
}

/* The whole of a regular file of size bytes from fd (closed here), NUL-terminated;
 * *got is what was read. */
char *backup_read_fd(int fd, size_t size, size_t *got)
{
	char *buf = xmalloc(size + 1);
	*got = 0;
	while (*got < size) {
		ssize_t n = read(fd, buf + *got, size - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*got += (size_t)n;
	}
	close(fd);
	buf[*got] = 0;
	return buf;
}
