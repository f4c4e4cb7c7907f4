/* Timelines of the WAL archive: the NNNNNNNN.history files a promoted server archives
 * (untrusted input: whoever writes the repository writes them, and their switch points
 * decide which WAL a restore replays), the per-timeline point-in-time windows of
 * db-backup-list, and which timeline a restore follows and why. */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
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

#define HISTORY_MAX (64 * 1024)

static int tl_cmp(const void *a, const void *b)
{
	unsigned x = ((const struct tl_info *)a)->tli, y = ((const struct tl_info *)b)->tli;
	return x < y ? -1 : x > y;
}

static struct tl_info *tl_add(struct tl_set *s, unsigned tli)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i].tli == tli)
			return &s->v[i];
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 16;
		struct tl_info *nv = xrealloc(s->v, (size_t)cap * sizeof *nv);
		s->v = nv;
		s->cap = cap;
	}
	struct tl_info *t = &s->v[s->n++];
	memset(t, 0, sizeof *t);
	t->tli = tli;
	return t;
}

static void tl_bad(struct tl_set *s, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tl_bad(struct tl_set *s, const char *name, const char *fmt, ...)
{
	struct backup_skipped *nb = xrealloc(s->bad, (size_t)(s->nbad + 1) * sizeof *nb);
	s->bad = nb;
	struct backup_skipped *b = &s->bad[s->nbad++];
	snprintf(b->name, sizeof b->name, "%s", name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->why, sizeof b->why, fmt, ap);
	va_end(ap);
}

/* "before 2026-12-04 04:20:11.123456+00" (or "after"): the reason a time target writes,
 * the stop time in the server's time zone. Anything else is not a time. */
static int reason_time(const char *r, time_t *out)
{
	const char *p = strncmp(r, "before ", 7) == 0  ? r + 7
			: strncmp(r, "after ", 6) == 0 ? r + 6
						       : NULL;
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *rest = p ? strptime(p, "%Y-%m-%d %H:%M:%S", &tm) : NULL;
	if (!rest)
		return -1;
	if (*rest == '.')
		for (rest++; isdigit((unsigned char)*rest);)
			rest++;
	int sign = *rest == '+' ? 1 : *rest == '-' ? -1 : 0;
	if (!sign || !isdigit((unsigned char)rest[1]) || !isdigit((unsigned char)rest[2]))
		return -1;
	long off = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600L;
	rest += 3;
	if (*rest == ':' && isdigit((unsigned char)rest[1]) && isdigit((unsigned char)rest[2])) {
		off += ((rest[1] - '0') * 10 + (rest[2] - '0')) * 60L;
		rest += 3;
	}
	if (*rest)
		return -1;
	*out = timegm(&tm) - sign * off;
	return 0;
}

/* One history file, checked line by line. PostgreSQL writes "PARENT\tX/X\tREASON\n" per
 * ancestor, oldest first; every line must look like that, parents strictly increasing and
 * below the file's own timeline, switch points never going back. */
static int parse_history(unsigned tli, char *text, size_t len, struct tl_info *t, char *err,
			 size_t errlen)
{
	if (memchr(text, 0, len)) {
		snprintf(err, errlen, "holds a NUL byte");
		return -1;
	}
	unsigned prev_parent = 0;
	unsigned long long prev_lsn = 0;
	int lineno = 0;
	for (char *line = text, *next; line && *line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else {
			snprintf(err, errlen, "line %d has no end", lineno);
			return -1;
		}
		if (!*line || line[0] == '#')
			continue;
		char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		if (!tab2) {
			snprintf(err, errlen, "line %d is not PARENT<tab>LSN<tab>REASON", lineno);
			return -1;
		}
		*tab1 = *tab2 = 0;
		size_t dl = strlen(line);
		char *end;
		errno = 0;
		unsigned long parent = strtoul(line, &end, 10);
		if (dl == 0 || dl > 10 || strspn(line, "0123456789") != dl || errno || *end ||
		    parent == 0 || parent >= tli || parent <= prev_parent) {
			snprintf(err, errlen,
				 "line %d: parent timeline is not a number between %u and %u",
				 lineno, prev_parent + 1, tli - 1);
			return -1;
		}
		if (!backup_lsn_valid(tab1 + 1)) {
			snprintf(err, errlen, "line %d: switch point is not an LSN", lineno);
			return -1;
		}
		unsigned long long lsn = backup_parse_lsn(tab1 + 1);
		if (lsn < prev_lsn) {
			snprintf(err, errlen, "line %d: switch point goes back", lineno);
			return -1;
		}
		const char *reason = tab2 + 1;
		for (const char *c = reason; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				snprintf(err, errlen, "line %d: reason holds a control byte",
					 lineno);
				return -1;
			}
		if (t->nanc == TL_MAX_DEPTH) {
			snprintf(err, errlen, "more than %d ancestors", TL_MAX_DEPTH);
			return -1;
		}
		t->anc[t->nanc] = (unsigned)parent;
		t->anc_end[t->nanc++] = lsn;
		t->parent = (unsigned)parent;
		t->branch_lsn = lsn;
		snprintf(t->reason, sizeof t->reason, "%s", reason);
		prev_parent = (unsigned)parent;
		prev_lsn = lsn;
	}
	if (!t->nanc) {
		snprintf(err, errlen, "names no parent timeline");
		return -1;
	}
	return 0;
}

/* The file is only believed when the SHA-256 that wal-push (or wal-receive) wrote beside
 * it matches, as wal-fetch does before the server reads it. */
static int read_history(int dfd, const char *name, char **text, size_t *len, time_t *mtime,
			char *err, size_t errlen)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size > HISTORY_MAX) {
		close(fd);
		snprintf(err, errlen, "larger than %d bytes", HISTORY_MAX);
		return -1;
	}
	*mtime = st.st_mtime;
	*text = backup_read_fd(fd, (size_t)st.st_size, len);
	char side[64], want[80] = "", hex[65];
	/* A cut name would open another file's checksum: then it has none. */
	int sfd = util_fits(snprintf(side, sizeof side, "%s.sha256", name), sizeof side)
		      ? openat(dfd, side, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
		      : -1;
	ssize_t n = sfd >= 0 ? read(sfd, want, sizeof want - 1) : -1;
	if (sfd >= 0)
		close(sfd);
	if (n >= 64)
		want[64] = 0;
	backup_sha256_hex(*text, *len, hex);
	if (n < 64 || strcmp(want, hex)) {
		snprintf(err, errlen,
			 n < 0 ? "has no %s.sha256 beside it" : "does not match its %s.sha256",
			 name);
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

static time_t seg_mtime(int dfd, const char *name)
{
	struct stat st;
	char zst[40];
	snprintf(zst, sizeof zst, "%s.zst", name);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(dfd, zst, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return st.st_mtime;
	return 0;
}

int backup_tl_load(const char *waldir, struct tl_set *s)
{
	memset(s, 0, sizeof *s);
	backup_walset_load(waldir, &s->w);
	for (int i = 0; i < s->w.n; i++) {
		unsigned tli = backup_tl_of_segment(s->w.names[i]);
		struct tl_info *t = tli ? tl_add(s, tli) : NULL;
		if (t) {
			snprintf(t->last_seg, sizeof t->last_seg, "%s", s->w.names[i]);
			if (!t->first_seg[0])
				snprintf(t->first_seg, sizeof t->first_seg, "%s", s->w.names[i]);
		}
	}
	int dfd = open(waldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dd = dfd >= 0 ? dup(dfd) : -1;
	DIR *d = dd >= 0 ? fdopendir(dd) : NULL;
	if (!d && dd >= 0)
		close(dd);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		const char *nm = e->d_name;
		if (strlen(nm) != 16 || strcmp(nm + 8, ".history") ||
		    strspn(nm, "0123456789ABCDEF") < 8)
			continue;
		unsigned tli = (unsigned)strtoul(nm, NULL, 16);
		char err[256], *text = NULL;
		size_t len;
		time_t mt = 0;
		if (tli < 2) {
			tl_bad(s, nm, "timeline %u has no history file", tli);
			continue;
		}
		struct tl_info tmp = {.tli = tli};
		if (read_history(dfd, nm, &text, &len, &mt, err, sizeof err) < 0 ||
		    parse_history(tli, text, len, &tmp, err, sizeof err) < 0) {
			tl_bad(s, nm, "%s: %s", nm, err);
			free(text);
			continue;
		}
		free(text);
		struct tl_info *t = tl_add(s, tli);
		if (!t)
			continue;
		tmp.has_history = 1;
		snprintf(tmp.first_seg, sizeof tmp.first_seg, "%s", t->first_seg);
		snprintf(tmp.last_seg, sizeof tmp.last_seg, "%s", t->last_seg);
		*t = tmp;
		if (reason_time(t->reason, &t->branch_time) == 0)
			t->branch_time_exact = 1;
		else
			t->branch_time = mt; /* archived at promotion: just after the branch */
	}
	if (d)
		closedir(d);
	for (int i = 0; i < s->n; i++)
		if (s->v[i].last_seg[0] && dfd >= 0)
			s->v[i].end = seg_mtime(dfd, s->v[i].last_seg);
	if (dfd >= 0)
		close(dfd);
	if (s->n)
		qsort(s->v, (size_t)s->n, sizeof *s->v, tl_cmp);
	return s->n;
}

void backup_tl_free(struct tl_set *s)
{
	free(s->v);
	free(s->bad);
	free(s->w.names);
	memset(s, 0, sizeof *s);
}

const struct tl_info *backup_tl_get(const struct tl_set *s, unsigned tli)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i].tli == tli)
			return &s->v[i];
	return NULL;
}

unsigned backup_tl_of_segment(const char *name)
{
	unsigned tli = 0;
	if (!name || !backup_is_wal_name(name) || sscanf(name, "%8X", &tli) != 1)
		return 0;
	return tli;
}

unsigned backup_tl_newest(const struct tl_set *s)
{
	return s->n ? s->v[s->n - 1].tli : 0;
}

int backup_tl_descends(const struct tl_set *s, unsigned tli, unsigned anc,
		       unsigned long long *leave)
{
	*leave = ~0ULL;
	if (tli == anc)
		return 1;
	const struct tl_info *t = backup_tl_get(s, tli);
	if (!t)
		return 0;
	for (int i = 0; i < t->nanc; i++)
		if (t->anc[i] == anc) {
			*leave = t->anc_end[i];
			return 1;
		}
	return 0;
}

/* The timelines from the first to tli, oldest first (tli's history, then tli). */
static int tl_path(const struct tl_set *s, unsigned tli, unsigned *path, int max)
{
	const struct tl_info *t = backup_tl_get(s, tli);
	int n = 0;
	for (int i = 0; t && i < t->nanc && n < max - 1; i++)
		path[n++] = t->anc[i];
	path[n++] = tli;
	return n;
}

/* When the histories of a and b part: the branch time of the first timeline that is on
 * one path and not the other (the earlier when both branch); 0 when one is the other. */
time_t backup_tl_parting(const struct tl_set *s, unsigned a, unsigned b, int *exact)
{
	unsigned pa[TL_MAX_DEPTH + 1], pb[TL_MAX_DEPTH + 1];
	int na = tl_path(s, a, pa, TL_MAX_DEPTH + 1), nb = tl_path(s, b, pb, TL_MAX_DEPTH + 1);
	int k = 0;
	while (k < na && k < nb && pa[k] == pb[k])
		k++;
	time_t t = 0;
	*exact = 1;
	for (int side = 0; side < 2; side++) {
		if (k >= (side ? nb : na))
			continue;
		const struct tl_info *x = backup_tl_get(s, side ? pb[k] : pa[k]);
		if (x && x->has_history && (!t || x->branch_time < t)) {
			t = x->branch_time;
			*exact = x->branch_time_exact;
		}
	}
	return t;
}

/* backup_walset_load's order: position, then timeline. */
static int wal_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a + 8, (const char *)b + 8) ?: strcmp(a, b);
}

/* The archive time of the last segment reached without a gap from segment `from` on
 * timeline tli's path (each segment from the newest timeline of the path that began at or
 * before it, as recovery asks for them; an ancestor's segments only up to where the path
 * leaves it, as the server refuses a page of an older timeline after a newer one); last
 * gets its name. */
time_t backup_tl_reach(const struct tl_set *s, unsigned tli, long long from, long long segsize,
		       const char *waldir, char last[25])
{
	unsigned path[TL_MAX_DEPTH + 1];
	unsigned long long begin[TL_MAX_DEPTH + 1];
	int np = tl_path(s, tli, path, TL_MAX_DEPTH + 1);
	const struct tl_info *t = backup_tl_get(s, tli);
	begin[0] = 0;
	for (int i = 1; i < np; i++)
		begin[i] = t && i - 1 < t->nanc ? t->anc_end[i - 1] : 0;
	last[0] = 0;
	for (long long idx = from;; idx++) {
		int found = 0;
		for (int p = np - 1; p >= 0 && !found; p--) {
			if ((long long)(begin[p] / (unsigned long long)segsize) > idx ||
			    (p + 1 < np &&
			     (long long)(begin[p + 1] / (unsigned long long)segsize) < idx))
				continue;
			char name[25];
			backup_wal_name(path[p],
					(unsigned long long)idx * (unsigned long long)segsize,
					segsize, name);
			/* An empty archive has no array: bsearch must not see NULL. */
			found = s->w.n > 0 && bsearch(name, s->w.names, (size_t)s->w.n,
						      sizeof *s->w.names, wal_cmp) != NULL;
			if (found)
				snprintf(last, 25, "%s", name);
		}
		if (!found)
			break;
	}
	if (!last[0])
		return 0;
	int dfd = open(waldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	time_t m = dfd >= 0 ? seg_mtime(dfd, last) : 0;
	if (dfd >= 0)
		close(dfd);
	return m;
}

int backup_tl_parse_opt(const char *s, unsigned *tli)
{
	*tli = 0;
	if (!s || strcmp(s, "current") == 0)
		return TL_CURRENT;
	if (strcmp(s, "latest") == 0)
		return TL_LATEST;
	size_t n = strlen(s);
	if (n == 0 || n > 10 || strspn(s, "0123456789") != n)
		return -1;
	unsigned long long v = strtoull(s, NULL, 10);
	if (v == 0 || v > 0xFFFFFFFFULL)
		return -1;
	*tli = (unsigned)v;
	return TL_NUMBER;
}

/* ---------- which timeline a restore follows ---------- */

/* A physical backup's timeline (the manifest's, else its first segment's) and stop LSN. */
int backup_tl_of_backup(const char *repo, const char *id, unsigned *tli,
			unsigned long long *stop_lsn)
{
	struct backup_manifest m;
	char err[1024];
	*tli = 0;
	*stop_lsn = 0;
	if (backup_manifest_read(repo, id, &m, err, sizeof err) < 0)
		return -1;
	if (m.type == BT_INCREMENTAL)
		*tli = backup_tl_of_segment(m.wal_last);
	if (!*tli)
		*tli = m.timeline ? m.timeline : backup_tl_of_segment(m.wal_first);
	*stop_lsn = m.stop_lsn[0] ? backup_parse_lsn(m.stop_lsn) : 0;
	backup_manifest_free(&m);
	return 0;
}

/* Can recovery from a base backup on timeline base_tli, consistent at stop_lsn, follow
 * timeline tli? Only if tli's history leaves base_tli at or after that point. */
int backup_tl_reachable(const struct tl_set *s, unsigned tli, unsigned base_tli,
			unsigned long long stop_lsn)
{
	unsigned long long leave;
	return backup_tl_descends(s, tli, base_tli, &leave) && leave >= stop_lsn;
}

static void fmt_lsn(unsigned long long l, char *buf, size_t n)
{
	snprintf(buf, n, "%X/%X", (unsigned)(l >> 32), (unsigned)l);
}

static void fmt_time(time_t t, int exact, char *buf, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	char b[40];
	strftime(b, sizeof b, "%Y-%m-%d %H:%M:%SZ", &tm);
	snprintf(buf, n, "%s%s", exact ? "" : "about ", b);
}

void backup_tl_branch_text(const struct tl_info *t, char *buf, size_t n)
{
	char lsn[32], when[64];
	fmt_lsn(t->branch_lsn, lsn, sizeof lsn);
	fmt_time(t->branch_time, t->branch_time_exact, when, sizeof when);
	snprintf(buf, n, "timeline %u branched from %u at %s (%s)", t->tli, t->parent, lsn, when);
}

/* The other timelines a base backup reaches whose history differs from tli's at the
 * target time: each parted from tli's before it. */
void backup_tl_note(const struct tl_set *s, struct tl_plan *p, unsigned base_tli,
		    unsigned long long stop_lsn, const char *until_text)
{
	p->note[0] = 0;
	if (!p->until)
		return;
	size_t o = 0;
	char others[64] = "";
	int k = 0;
	for (int i = 0; i < s->n; i++) {
		const struct tl_info *x = &s->v[i];
		int exact;
		if (x->tli == p->tli || !backup_tl_reachable(s, x->tli, base_tli, stop_lsn))
			continue;
		time_t part = backup_tl_parting(s, p->tli, x->tli, &exact);
		if (!part || (double)part >= p->until)
			continue;
		const struct tl_info *br =
		    x->has_history &&
			    backup_tl_descends(s, x->tli, p->tli, &(unsigned long long){0})
			? x
			: backup_tl_get(s, p->tli);
		char b[400];
		if (br && br->has_history)
			backup_tl_branch_text(br, b, sizeof b);
		else
			snprintf(b, sizeof b, "timeline %u", x->tli);
		o += (size_t)snprintf(p->note + o, o < sizeof p->note ? sizeof p->note - o : 0,
				      "%s%s", k ? "; " : "", b);
		if (!k++)
			snprintf(others, sizeof others, "%u", x->tli);
	}
	if (!k)
		return;
	char head[sizeof p->note];
	snprintf(head, sizeof head, "%s", p->note);
	snprintf(
	    p->note, sizeof p->note,
	    "%s lies after a branch point, so more than one timeline holds it (%.800s); followed "
	    "timeline %u: %s; --timeline %s follows the other history",
	    until_text, head, p->tli, p->why, others);
}

/* ---------- what a restored server replayed ---------- */

/* Ask a restored server that has left recovery: the timeline its recovery followed (the
 * end-of-recovery checkpoint's previous timeline), its new one, and the last commit it
 * replayed. Prints them; fails when the followed timeline is not the planned one or a
 * commit after a time target was replayed. */
int backup_tl_report(struct out *o, const char *conninfo, const struct tl_plan *p, char *err,
		     size_t errlen)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot ask the restored server what it replayed: %s",
			 PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PGresult *r = PQexec(c, "select timeline_id, prev_timeline_id, "
				"pg_last_xact_replay_timestamp(), "
				"extract(epoch from pg_last_xact_replay_timestamp()), "
				"substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) "
				"from pg_control_checkpoint()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(err, errlen, "cannot ask the restored server what it replayed: %s",
			 PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return -1;
	}
	unsigned now_tli = (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
	unsigned prev = (unsigned)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
	unsigned ins = (unsigned)strtoul(PQgetvalue(r, 0, 4), NULL, 16);
	int have_last = !PQgetisnull(r, 0, 2);
	char last[64];
	snprintf(last, sizeof last, "%s", have_last ? PQgetvalue(r, 0, 2) : "");
	double last_epoch = have_last ? strtod(PQgetvalue(r, 0, 3), NULL) : 0;
	PQclear(r);
	PQfinish(c);
	/* A checkpoint after the end-of-recovery one no longer names the old timeline. */
	unsigned followed = prev != now_tli ? prev : 0;
	int rc = 0;
	if (followed)
		out_kv(o, "timeline_followed", "%u (%s)", followed, p->why);
	else
		out_kv(o, "timeline_followed",
		       "%u as planned (%s); the server no longer records it", p->tli, p->why);
	out_kv(o, "new_timeline", "%u", ins ? ins : now_tli);
	if (have_last)
		out_kv(o, "last_replayed_commit", "%s", last);
	else
		out_kv(o, "last_replayed_commit",
		       "none (no transaction replayed after the base "
		       "backup)");
	if (followed && p->tli && followed != p->tli) {
		snprintf(err, errlen,
			 "recovery followed timeline %u, not timeline %u as planned; the data is "
			 "not the history asked for",
			 followed, p->tli);
		rc = -1;
	} else if (p->until && have_last && last_epoch > p->until + 1e-6) {
		snprintf(err, errlen,
			 "recovery replayed a commit at %s, after the target; the data is not the "
			 "point asked for",
			 last);
		rc = -1;
	}
	return rc;
}

/* The lines a failed recovery left in the server log from offset on: its errors, and how
 * far it came (redo done at, last completed transaction), joined for one message. */
void backup_tl_log_reason(const char *logfile, long long offset, char *buf, size_t n)
{
	buf[0] = 0;
	int fd = open(logfile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= offset ||
	    lseek(fd, offset, SEEK_SET) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	size_t want = (size_t)(st.st_size - offset), got;
	if (want > (4u << 20)) {
		lseek(fd, st.st_size - (4 << 20), SEEK_SET);
		want = 4u << 20;
	}
	char *text = backup_read_fd(fd, want, &got);
	static const char *keys[] = {"FATAL:",
				     "PANIC:",
				     "redo done at",
				     "last completed transaction",
				     "recovery stopping",
				     "consistent recovery state reached"};
	size_t o = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			char *hit = strstr(line, keys[k]);
			if (!hit || o + 8 >= n)
				continue;
			if (k < 2)
				hit += strlen(keys[k]) + (hit[strlen(keys[k])] == ' ');
			o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? "; " : "", hit);
			break;
		}
	free(text);
}
