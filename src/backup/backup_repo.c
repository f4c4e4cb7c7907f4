/* Pure parts of the backup family: types, SHA-256 (file hashing), retention, id resolution,
 * and reading the repository. */
#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup_int.h"
#include "sha256.h"
#include "util.h"

static const char *type_names[BT_NTYPES] = {"full", "incremental", "archive", "emergency",
					    "safety"};

const char *backup_type_name(enum backup_type t)
{
	return t < BT_NTYPES ? type_names[t] : "unknown";
}

int backup_type_parse(const char *s)
{
	for (int i = 0; i < BT_NTYPES; i++)
		if (strcmp(s, type_names[i]) == 0)
			return i;
	return -1;
}

int backup_type_physical(enum backup_type t)
{
	return t == BT_FULL || t == BT_EMERGENCY;
}

/* ---- SHA-256: the import module's, which uses the CPU's SHA extensions when it has
 * them (about five times the portable rounds); WAL segments and backup files are hashed
 * on every archive, backup and verify. ---- */

void backup_sha256_hex(const void *data, size_t len, char hex[65])
{
	sha256_buf(data, len, hex);
}

long long backup_sha256_at(int dfd, const char *name, int one_link, char hex[65])
{
	/* Also run by root on backup_dir/wal, which the server's user writes: never through a
	 * link, and never a FIFO, which would hang the backup. */
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (one_link && st.st_nlink != 1)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	static unsigned char buf[1 << 20];
	struct sha256_ctx s;
	sha256_init(&s);
	long long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		sha256_update(&s, buf, (size_t)n);
		total += n;
	}
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	sha256_hex(&s, hex);
	return total;
}

long long backup_sha256_file(const char *path, char hex[65])
{
	return backup_sha256_at(AT_FDCWD, path, 0, hex);
}

/* ---- retention ---- */

/* Newest first: mark the newest `count` of type t. */
static void keep_newest(const struct backup_info *b, int n, enum backup_type t, int count,
			int *keep)
{
	for (int i = n - 1; i >= 0 && count > 0; i--)
		if (b[i].type == t) {
			keep[i] = 1;
			count--;
		}
}

static int find_id(const struct backup_info *b, int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(b[i].id, id) == 0)
			return i;
	return -1;
}

int backup_retention(const struct backup_info *b, int n, int keep_daily, int keep_weekly,
		     int keep_monthly, int *keep)
{
	for (int i = 0; i < n; i++)
		keep[i] = 0;
	keep_newest(b, n, BT_INCREMENTAL, keep_daily, keep);
	keep_newest(b, n, BT_FULL, keep_weekly, keep);
	keep_newest(b, n, BT_EMERGENCY, keep_weekly, keep);
	keep_newest(b, n, BT_ARCHIVE, keep_monthly, keep);
	keep_newest(b, n, BT_SAFETY, keep_daily, keep);
	/* The newest verified full backup is the floor of every recovery. */
	for (int i = n - 1; i >= 0; i--)
		if (b[i].type == BT_FULL && b[i].verified > 0) {
			keep[i] = 1;
			break;
		}
	/* An incremental is only WAL on top of its base: keep the base with it. */
	for (int i = 0; i < n; i++)
		if (keep[i] && b[i].type == BT_INCREMENTAL && b[i].base[0]) {
			int j = find_id(b, n, b[i].base);
			if (j >= 0)
				keep[j] = 1;
		}
	int kept = 0;
	for (int i = 0; i < n; i++)
		kept += keep[i];
	return kept;
}

/* ---- id resolution ---- */

/* backup_20250119_full.sql, 2025-01-19-incr, ...: digits of the date/time and a type word. */
static void near_key(const char *s, char *digits, size_t dn, int *type)
{
	size_t k = 0;
	*type = -1;
	for (const char *p = s; *p && k + 1 < dn; p++)
		if (isdigit((unsigned char)*p))
			digits[k++] = *p;
	digits[k] = 0;
	char low[256];
	size_t i = 0;
	for (; s[i] && i + 1 < sizeof low; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	low[i] = 0;
	static const struct {
		const char *word;
		enum backup_type t;
	} words[] = {
	    {"incremental", BT_INCREMENTAL}, {"incr", BT_INCREMENTAL},	  {"full", BT_FULL},
	    {"archive", BT_ARCHIVE},	     {"emergency", BT_EMERGENCY}, {"safety", BT_SAFETY}};
	for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
		if (strstr(low, words[w].word)) {
			*type = (int)words[w].t;
			break;
		}
}

int backup_resolve_id(const struct backup_info *b, int n, const char *want, char *err,
		      size_t errlen)
{
	int found = -1, count = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(b[i].id, want) == 0)
			return i;
	size_t wl = strlen(want);
	for (int i = 0; i < n; i++)
		if (wl && strncmp(b[i].id, want, wl) == 0)
			found = i, count++;
	if (count == 1)
		return found;
	if (count == 0) {
		/* Runbook names: the newest backup of that date (and type, if named). */
		char wd[32], bd[32];
		int wt, bt;
		near_key(want, wd, sizeof wd, &wt);
		if (strlen(wd) >= 8) {
			for (int i = n - 1; i >= 0; i--) {
				near_key(b[i].id, bd, sizeof bd, &bt);
				if (strncmp(bd, wd, strlen(wd)) == 0 &&
				    (wt < 0 || wt == (int)b[i].type)) {
					if (found < 0)
						found = i;
					count++;
				}
			}
			if (count >= 1 && wt >= 0)
				return found; /* newest of that date and type */
			if (count == 1)
				return found;
		}
	}
	/* Name up to three nearest. */
	int best[3] = {-1, -1, -1}, bestd[3] = {1 << 30, 1 << 30, 1 << 30};
	for (int i = 0; i < n; i++) {
		int d = util_edit_distance(b[i].id, want, 80, UTIL_EDIT_ICASE);
		for (int k = 0; k < 3; k++)
			if (d < bestd[k]) {
				for (int m = 2; m > k; m--)
					best[m] = best[m - 1], bestd[m] = bestd[m - 1];
				best[k] = i, bestd[k] = d;
				break;
			}
	}
	size_t off = (size_t)snprintf(err, errlen, "%s backup id '%s'",
				      count > 1 ? "ambiguous" : "unknown", want);
	if (n == 0) {
		snprintf(err + off, errlen > off ? errlen - off : 0,
			 "; the repository has no backups");
		return -1;
	}
	for (int k = 0; k < 3 && best[k] >= 0 && off < errlen; k++)
		off += (size_t)snprintf(err + off, errlen - off, "%s%s",
					k ? ", " : "; near matches: ", b[best[k]].id);
	if (off < errlen)
		snprintf(err + off, errlen - off, " (see db-backup-list)");
	return -1;
}

/* ---- repository ---- */

int backup_repo_load(const char *repo, struct backup_info **out)
{
	return backup_repo_scan(repo, out, NULL, NULL);
}
