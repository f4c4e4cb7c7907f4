/* A backup's manifest.json is untrusted input: whoever can write the repository (shared or
 * NFS backup storage, a compromised host with a mount) writes it, and its fields reach
 * recovery settings, paths and status. backup_manifest_parse is the one reader: every field
 * midsops uses is checked against its grammar (LSNs, WAL names, ids, plain relative paths,
 * bounded numbers), epochs must agree with the folder's id and not lie in the future, and
 * size and nesting are capped before anything is parsed. backup_repo_scan lists the
 * repository with it and names every folder it had to skip. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "util.h"
#include "backup_int.h"

/* Clock differences between the host that made a backup and the one reading it. */
#define SKEW_S 300
/* From an id's second to the run's start_epoch: connect, clean-up and mkdir come first. */
#define START_LATE_S 600
/* No backup predates this (2000-01-01): a smaller epoch is forged or garbage. */
#define EPOCH_MIN  946684800.0
#define BIG_INT	   9007199254740992.0 /* 2^53: larger numbers are not exact in JSON */
#define VERIFY_MAX (1 << 20)

/* A value for an error message: quoted by the caller, escaped here so a payload cannot
 * add lines to the output or the log, and cut at 60 bytes. */
static void show(const char *s, char *out, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; s[i] && o + 8 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 60) {
			o += (size_t)snprintf(out + o, n - o, "...");
			break;
		}
		if (c == '\n')
			o += (size_t)snprintf(out + o, n - o, "\\n");
		else if (c == '\'' || c == '\\')
			o += (size_t)snprintf(out + o, n - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o < n ? o : n - 1] = 0;
}

static int is_hex_upper(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789ABCDEF", s[i]) || !s[i])
			return 0;
	return 1;
}

int backup_is_wal_segment(const char *s)
{
	return strlen(s) == 24 && is_hex_upper(s, 24);
}

int backup_lsn_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return 0;
	size_t a = (size_t)(slash - s), b = strlen(slash + 1);
	return a >= 1 && a <= 8 && b >= 1 && b <= 8 && is_hex_upper(s, a) &&
	       is_hex_upper(slash + 1, b);
}

int backup_id_parse(const char *id, enum backup_type *type, time_t *when)
{
	/* YYYYMMDDTHHMMSSZ-TYPE */
	if (strlen(id) < 18 || id[8] != 'T' || id[15] != 'Z' || id[16] != '-')
		return -1;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (id[i] < '0' || id[i] > '9'))
			return -1;
	int t = backup_type_parse(id + 17);
	if (t < 0)
		return -1;
	struct tm tm = {0};
	if (!strptime(id, "%Y%m%dT%H%M%SZ", &tm))
		return -1;
	time_t w = timegm(&tm);
	struct tm back;
	char again[32];
	gmtime_r(&w, &back);
	strftime(again, sizeof again, "%Y%m%dT%H%M%SZ", &back);
	if (strncmp(again, id, 16) != 0)
		return -1; /* 20250231T...: strptime accepts it, no clock ever wrote it */
	if (type)
		*type = (enum backup_type)t;
	if (when)
		*when = w;
	return 0;
}

/* A path relative to the backup's folder, and inside it: components that are plain names
 * (no empty, "." or ".." component, no leading slash), printable bytes only. */
static int plain_relpath(const char *p)
{
	size_t len = strlen(p);
	if (len == 0 || len > 1024 || p[0] == '/')
		return 0;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 0;
	for (const char *s = p;;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

static int printable(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int hex_lower(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

/* Deeper than max anywhere: scanned before cJSON recurses into it. */
static int too_deep(const char *t, size_t len, int max)
{
	int depth = 0, in_str = 0;
	for (size_t i = 0; i < len; i++) {
		char c = t[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > max)
				return 1;
		} else if (c == '}' || c == ']')
			depth--;
	}
	return 0;
}

/* Checking one document: what it is called in messages, and the first complaint. */
struct mcheck {
	const char *folder;
	char *err;
	size_t errlen;
	int bad;
};

static void complain(struct mcheck *k, const char *field, const char *value, const char *why)
{
	if (k->bad++)
		return;
	char v[300];
	if (value) {
		show(value, v, sizeof v);
		snprintf(k->err, k->errlen, "manifest.json of backup %s: %s '%s' %s", k->folder,
			 field, v, why);
	} else
		snprintf(k->err, k->errlen, "manifest.json of backup %s: %s %s", k->folder, field,
			 why);
}

/* A string member: NULL when absent; absent is an error when required. A member of another
 * type is always an error. */
static const char *get_str(struct mcheck *k, const cJSON *o, const char *key, const char *field,
			   int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v) {
		if (required)
			complain(k, field, NULL, "is missing");
		return NULL;
	}
	if (!cJSON_IsString(v) || !v->valuestring) {
		complain(k, field, NULL, "is not a string");
		return NULL;
	}
	return v->valuestring;
}

/* A number member within [lo, hi] (integral when integral); *out untouched when absent. */
static int get_num(struct mcheck *k, const cJSON *o, const char *key, const char *field,
		   int required, double lo, double hi, int integral, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v) {
		if (required)
			complain(k, field, NULL, "is missing");
		return 0;
	}
	char num[64];
	if (!cJSON_IsNumber(v)) {
		complain(k, field, NULL, "is not a number");
		return -1;
	}
	double d = v->valuedouble;
	snprintf(num, sizeof num, "%.17g", d);
	if (!isfinite(d) || d < lo || d > hi || (integral && d != floor(d))) {
		char why[160];
		snprintf(why, sizeof why, "is out of range (%s %.0f..%.0f)",
			 integral ? "an integer" : "a number", lo, hi);
		complain(k, field, num, why);
		return -1;
	}
	*out = d;
	return 1;
}

static void check_str(struct mcheck *k, const cJSON *o, const char *key, size_t max, char *dst,
		      size_t dn)
{
	const char *s = get_str(k, o, key, key, 0);
	if (!s)
		return;
	if (!printable(s, max < dn ? max : dn - 1)) {
		char why[96];
		snprintf(why, sizeof why, "is not printable text of at most %zu bytes",
			 max < dn ? max : dn - 1);
		complain(k, key, s, why);
		return;
	}
	if (dst)
		snprintf(dst, dn, "%s", s);
}

/* Each element of the array arr (absent: nothing to check) must be an object, checked by
 * check; the first complaint ends the walk. */
static void check_objects(struct mcheck *k, const cJSON *arr, const char *name,
			  void (*check)(struct mcheck *, const cJSON *, const char *, int))
{
	if (!arr)
		return;
	if (!cJSON_IsArray(arr)) {
		complain(k, name, NULL, "is not an array");
		return;
	}
	int i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		if (!cJSON_IsObject(o)) {
			char field[96];
			snprintf(field, sizeof field, "%s[%d]", name, i);
			complain(k, field, NULL, "is not an object");
			return;
		}
		check(k, o, name, i);
		if (k->bad)
			return;
		i++;
	}
}

static void check_file(struct mcheck *k, const cJSON *f, const char *name, int i)
{
	char field[96];
	double d;
	const char *key = strcmp(name, "wal") ? "path" : "name";
	snprintf(field, sizeof field, "%s[%d].%s", name, i, key);
	const char *p = get_str(k, f, key, field, 1);
	if (p && strcmp(name, "wal") == 0 && !backup_is_wal_segment(p))
		complain(k, field, p, "is not a WAL segment name");
	else if (p && !plain_relpath(p))
		complain(k, field, p, "is not a plain path inside the backup's folder");
	snprintf(field, sizeof field, "%s[%d].size", name, i);
	get_num(k, f, "size", field, 1, 0, BIG_INT, 1, &d);
	snprintf(field, sizeof field, "%s[%d].sha256", name, i);
	const char *h = get_str(k, f, "sha256", field, 1);
	if (h && !hex_lower(h, 64))
		complain(k, field, h, "is not a SHA-256 in hex");
}

static void check_table(struct mcheck *k, const cJSON *t, const char *name, int i)
{
	char field[96];
	double d;
	snprintf(field, sizeof field, "%s[%d].table", name, i);
	const char *n = get_str(k, t, "table", field, 1);
	if (n && (!n[0] || !printable(n, 300)))
		complain(k, field, n, "is not a table name");
	snprintf(field, sizeof field, "%s[%d].rows", name, i);
	get_num(k, t, "rows", field, 1, 0, BIG_INT, 1, &d);
	snprintf(field, sizeof field, "%s[%d].checksum", name, i);
	const char *c = get_str(k, t, "checksum", field, 1);
	if (c && (!c[0] || strlen(c) > 80 || strspn(c, "0123456789abcdef-") != strlen(c)))
		complain(k, field, c, "is not a checksum");
	snprintf(field, sizeof field, "%s[%d].checksum_method", name, i);
	const char *m = get_str(k, t, "checksum_method", field, 0);
	/* Unknown versions pass: the comparison names them (a newer midsops made it). */
	if (m &&
	    (m[0] != 'v' || !m[1] || strlen(m) > 4 || strspn(m + 1, "0123456789") != strlen(m + 1)))
		complain(k, field, m, "is not a checksum method (v1, v2, ...)");
}

void backup_manifest_free(struct backup_manifest *m)
{
	cJSON_Delete(m->json);
	m->json = NULL;
}

/* The limits a manifest is held to before it is parsed at all, then the parse: the JSON
 * object, or NULL with err set. */
static cJSON *manifest_json(const char *folder, const char *text, size_t len, char *err,
			    size_t errlen)
{
	if (len > BACKUP_MANIFEST_MAX) {
		snprintf(err, errlen,
			 "manifest.json of backup %s is %zu bytes, more than the limit of %d MiB",
			 folder, len, BACKUP_MANIFEST_MAX >> 20);
		return NULL;
	}
	if (too_deep(text, len, BACKUP_MANIFEST_DEPTH)) {
		snprintf(err, errlen,
			 "manifest.json of backup %s is nested deeper than %d levels (a backup's "
			 "manifest has 3)",
			 folder, BACKUP_MANIFEST_DEPTH);
		return NULL;
	}
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!cJSON_IsObject(j)) {
		snprintf(err, errlen,
			 j ? "manifest.json of backup %s is not a JSON object"
			   : "manifest.json of backup %s is not valid JSON (near byte %ld)",
			 folder, end && end >= text ? (long)(end - text) : 0L);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static void check_header(struct mcheck *k, const cJSON *j, const char *folder, enum backup_type ft)
{
	const char *s = get_str(k, j, "id", "id", 0);
	if (s && strcmp(s, folder))
		complain(k, "id", s, "is not the name of its folder");
	s = get_str(k, j, "type", "type", 1);
	if (s && strcmp(s, backup_type_name(ft)))
		complain(k, "type", s, "is not the type its folder is named for");
	s = get_str(k, j, "midsops_format", "midsops_format", 0);
	if (s && strcmp(s, "1"))
		complain(k, "midsops_format", s, "is not a format this midsops reads (1)");
}

/* Epochs: the run starts just after the second its id names, ends after it starts and not
 * after now; a forged one would move status's backup age and the windows. */
static void check_epochs(struct mcheck *k, const cJSON *j, struct backup_manifest *m, time_t idt,
			 time_t now)
{
	double d, hi = (double)now + SKEW_S;
	if (get_num(k, j, "start_epoch", "start_epoch", 1, EPOCH_MIN, hi, 0, &d) > 0) {
		m->start_epoch = d;
		if (d < (double)idt - 1 || d > (double)idt + START_LATE_S) {
			char num[64];
			snprintf(num, sizeof num, "%.3f", d);
			complain(k, "start_epoch", num,
				 "does not match the time in the backup's id");
		}
	}
	if (get_num(k, j, "stop_epoch", "stop_epoch", 1, EPOCH_MIN, hi, 0, &d) > 0) {
		m->stop_epoch = d;
		if (!k->bad && d < m->start_epoch) {
			char num[64];
			snprintf(num, sizeof num, "%.3f", d);
			complain(k, "stop_epoch", num, "is before start_epoch");
		}
	}
	m->start = (time_t)m->start_epoch;
	m->stop = (time_t)m->stop_epoch;
	if (get_num(k, j, "window_start", "window_start", 0, 0, hi, 0, &d) > 0 && d > 0) {
		if (d < EPOCH_MIN)
			complain(k, "window_start", NULL, "is before 2000");
		m->window_start = (time_t)d;
	}
	if (get_num(k, j, "window_end", "window_end", 0, 0, hi, 0, &d) > 0 && d > 0) {
		if (d < EPOCH_MIN || (m->window_start && d < (double)m->window_start))
			complain(k, "window_end", NULL, "is before window_start or 2000");
		m->window_end = (time_t)d;
	}
}

static void check_sizes(struct mcheck *k, const cJSON *j, struct backup_manifest *m)
{
	double d;
	if (get_num(k, j, "size", "size", 0, 0, BIG_INT, 0, &d) > 0)
		m->size = (long long)d;
	get_num(k, j, "cluster_bytes", "cluster_bytes", 0, 0, BIG_INT, 0, &d);
	get_num(k, j, "database_bytes", "database_bytes", 0, 0, BIG_INT, 0, &d);
	get_num(k, j, "wal_bytes", "wal_bytes", 0, 0, BIG_INT, 0, &d);
	get_num(k, j, "duration_s", "duration_s", 0, 0, 1e9, 0, &d);
	if (get_num(k, j, "timeline", "timeline", 0, 1, 4294967295.0, 1, &d) > 0)
		m->timeline = (unsigned)d;
	m->wal_segment_size = 16 * 1024 * 1024;
	if (get_num(k, j, "wal_segment_size", "wal_segment_size", 0, 1 << 20, 1 << 30, 1, &d) > 0) {
		long long v = (long long)d;
		if (v & (v - 1)) {
			char num[64];
			snprintf(num, sizeof num, "%lld", v);
			complain(k, "wal_segment_size", num, "is not a power of two");
		}
		m->wal_segment_size = v;
	}
}

/* What reaches recovery settings and paths. */
static void check_positions(struct mcheck *k, const cJSON *j, struct backup_manifest *m,
			    enum backup_type ft, time_t idt)
{
	static const struct {
		const char *key;
		int incr_required;
	} lsns[] = {{"start_lsn", 0}, {"stop_lsn", 1}};
	const char *s;
	for (size_t i = 0; i < sizeof lsns / sizeof lsns[0]; i++) {
		s = get_str(k, j, lsns[i].key, lsns[i].key,
			    lsns[i].incr_required && ft == BT_INCREMENTAL);
		if (s && !backup_lsn_valid(s))
			complain(k, lsns[i].key, s, "is not an LSN");
		else if (s)
			snprintf(i ? m->stop_lsn : m->start_lsn, sizeof m->stop_lsn, "%s", s);
	}
	static const char *wals[] = {"wal_first", "wal_last"};
	for (size_t i = 0; i < 2; i++) {
		s = get_str(k, j, wals[i], wals[i], 0);
		if (s && s[0] && !backup_is_wal_segment(s))
			complain(k, wals[i], s, "is not a WAL segment name");
		else if (s)
			snprintf(i ? m->wal_last : m->wal_first, sizeof m->wal_last, "%s", s);
	}
	s = get_str(k, j, "base", "base", ft == BT_INCREMENTAL);
	if (s && (s[0] || ft == BT_INCREMENTAL)) {
		enum backup_type bt;
		time_t bw;
		if (ft != BT_INCREMENTAL)
			complain(k, "base", s, "is set, but only an incremental has a base");
		else if (backup_id_parse(s, &bt, &bw) < 0 || !backup_type_physical(bt))
			complain(k, "base", s, "is not the id of a full or emergency backup");
		else if (bw > idt)
			complain(k, "base", s, "is newer than the incremental");
		else
			snprintf(m->base, sizeof m->base, "%s", s);
	}
}

/* Names that go into a connection string: printable and bounded (callers quote them). */
static void check_names(struct mcheck *k, const cJSON *j, struct backup_manifest *m)
{
	const char *s = get_str(k, j, "system_identifier", "system_identifier", 0);
	if (s && (!s[0] || strlen(s) > 20 || strspn(s, "0123456789") != strlen(s)))
		complain(k, "system_identifier", s, "is not a number");
	check_str(k, j, "database", 63, m->database, sizeof m->database);
	check_str(k, j, "superuser", 63, m->superuser, sizeof m->superuser);
	check_str(k, j, "environment", 128, NULL, 129);
	check_str(k, j, "pg_version", 64, NULL, 65);
	check_str(k, j, "start", 64, NULL, 65);
	check_str(k, j, "stop", 64, NULL, 65);
	check_str(k, j, "format", 32, NULL, 33);
}

int backup_manifest_parse(const char *folder, const char *text, size_t len, time_t now,
			  struct backup_manifest *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	struct mcheck k = {.folder = folder, .err = err, .errlen = errlen};
	char shown[300];
	time_t idt;
	enum backup_type ft;
	if (backup_id_parse(folder, &ft, &idt) < 0) {
		show(folder, shown, sizeof shown);
		snprintf(err, errlen, "backup folder '%s' is not named YYYYMMDDTHHMMSSZ-TYPE",
			 shown);
		return -1;
	}
	cJSON *j = manifest_json(folder, text, len, err, errlen);
	if (!j)
		return -1;
	snprintf(m->id, sizeof m->id, "%s", folder);
	m->type = ft;
	check_header(&k, j, folder, ft);
	check_epochs(&k, j, m, idt, now);
	check_sizes(&k, j, m);
	check_positions(&k, j, m, ft, idt);
	check_names(&k, j, m);
	check_objects(&k, cJSON_GetObjectItemCaseSensitive(j, "files"), "files", check_file);
	check_objects(&k, cJSON_GetObjectItemCaseSensitive(j, "wal"), "wal", check_file);
	check_objects(&k, cJSON_GetObjectItemCaseSensitive(j, "tables"), "tables", check_table);
	if (k.bad) {
		cJSON_Delete(j);
		memset(m, 0, sizeof *m);
		return -1;
	}
	m->json = j;
	return 0;
}

/* A regular file of at most max bytes, never through a symbolic link (a manifest that
 * points at /etc/shadow must not be read, let alone quoted). *len gets its size. */
static char *read_capped(const char *path, size_t max, size_t *len, char *why, size_t wn)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, wn, "%s", errno == ELOOP ? "is a symbolic link" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, wn, "is not a regular file");
		close(fd);
		return NULL;
	}
	if ((unsigned long long)st.st_size > max) {
		snprintf(why, wn, "is %lld bytes, more than the limit of %zu MiB",
			 (long long)st.st_size, max >> 20);
		close(fd);
		return NULL;
	}
	size_t got;
	char *buf = backup_read_fd(fd, (size_t)st.st_size, &got);
	*len = got;
	return buf;
}

int backup_manifest_read(const char *repo, const char *folder, struct backup_manifest *m, char *err,
			 size_t errlen)
{
	memset(m, 0, sizeof *m);
	char path[8300], why[256], shown[300];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", repo, folder);
	if (backup_id_parse(folder, NULL, NULL) < 0) {
		show(folder, shown, sizeof shown);
		snprintf(err, errlen, "backup folder '%s' is not named YYYYMMDDTHHMMSSZ-TYPE",
			 shown);
		return -1;
	}
	/* The folder itself: a symbolic link would take every path below it elsewhere. */
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "backup %s: %s is %s", folder, path,
			 S_ISLNK(st.st_mode) ? "a symbolic link, not a folder" : "not a folder");
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s/manifest.json", repo, folder);
	size_t len = 0;
	char *text = read_capped(path, BACKUP_MANIFEST_MAX, &len, why, sizeof why);
	if (!text) {
		snprintf(err, errlen, "manifest.json of backup %s %s", folder, why);
		return -1;
	}
	int rc = backup_manifest_parse(folder, text, len, time(NULL), m, err, errlen);
	free(text);
	return rc;
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct backup_info *)a)->id, ((const struct backup_info *)b)->id);
}

/* verify.json: ok true, or anything else (a failed or unreadable verification). */
static int read_verified(const char *repo, const char *id)
{
	char path[8300], why[128];
	size_t len;
	snprintf(path, sizeof path, "%s/%s/verify.json", repo, id);
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	char *t = read_capped(path, VERIFY_MAX, &len, why, sizeof why);
	cJSON *v =
	    t && !too_deep(t, len, BACKUP_MANIFEST_DEPTH) ? cJSON_ParseWithLength(t, len) : NULL;
	free(t);
	int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "ok")) ? 1 : -1;
	cJSON_Delete(v);
	return ok;
}

int backup_repo_scan(const char *repo, struct backup_info **out, struct backup_skipped **skipped,
		     int *nskipped)
{
	*out = NULL;
	if (skipped)
		*skipped = NULL;
	if (nskipped)
		*nskipped = 0;
	DIR *d = opendir(repo);
	if (!d)
		return 0;
	int n = 0, cap = 0, ns = 0, scap = 0;
	struct backup_info *v = NULL;
	struct backup_skipped *sk = NULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		/* What a backup folder is named like; partial folders are runs, not backups. */
		if (e->d_name[0] == '.' || strlen(e->d_name) < 17 || e->d_name[8] != 'T' ||
		    strstr(e->d_name, ".partial"))
			continue;
		struct backup_manifest m;
		char err[1024];
		if (backup_manifest_read(repo, e->d_name, &m, err, sizeof err) < 0) {
			if (skipped && ns == scap) {
				scap = scap ? scap * 2 : 8;
				struct backup_skipped *nsk =
				    xrealloc(sk, (size_t)scap * sizeof *sk);
				if (!nsk)
					continue;
				sk = nsk;
			}
			if (skipped) {
				show(e->d_name, sk[ns].name, sizeof sk[ns].name);
				snprintf(sk[ns].why, sizeof sk[ns].why, "%s", err);
				ns++;
			}
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct backup_info *nv = xrealloc(v, (size_t)cap * sizeof *v);
			v = nv;
		}
		struct backup_info *b = &v[n++];
		*b = (struct backup_info){.type = m.type,
					  .start = m.start,
					  .stop = m.stop,
					  .size = m.size,
					  .window_start = m.window_start,
					  .window_end = m.window_end,
					  .verified = read_verified(repo, m.id)};
		snprintf(b->id, sizeof b->id, "%s", m.id);
		snprintf(b->base, sizeof b->base, "%s", m.base);
		snprintf(b->wal_first, sizeof b->wal_first, "%s", m.wal_first);
		snprintf(b->wal_last, sizeof b->wal_last, "%s", m.wal_last);
		backup_manifest_free(&m);
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof *v, cmp_info);
	*out = v;
	if (skipped) {
		*skipped = sk;
		*nskipped = ns;
	}
	return n;
}
