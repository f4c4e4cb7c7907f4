/* Recorded data figures (data-checksums): the per-table row counts and checksums of builds
 * and game (import_data_sums), kept as files under $XDG_STATE_HOME/midsops/checksums, so a
 * restore of the database (point in time, full backup, archive) never takes the record back
 * with it. A recovery proves itself by comparing the restored database with a record made
 * before the damage. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "import.h"
#include "paths.h"
#include "util.h"

#define SUMS_MAX_FILE (1 << 20)

int import_sums_name_ok(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;
	int ok = n >= 1 && n <= 64 && name[0] != '.' && name[0] != '-';
	for (size_t i = 0; ok && i < n; i++) {
		char ch = name[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
	}
	if (!ok)
		snprintf(err, errlen,
			 "'%.80s' is no record name: 1 to 64 of A-Z a-z 0-9 . _ -, not starting "
			 "with '.' or '-'",
			 name ? name : "");
	return ok ? 0 : -1;
}

static int sums_dir(char *buf, size_t n, char *err, size_t errlen)
{
	if (!util_fits(snprintf(buf, n, "%s/checksums", paths_state_dir()), n)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	if (paths_mkdir_p(buf, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", buf, strerror(errno));
		return -1;
	}
	return 0;
}

int import_sums_save(const char *name, const cJSON *tables, char *path, size_t pathlen, char *err,
		     size_t errlen)
{
	char dir[4096], tmp[4400];
	if (import_sums_name_ok(name, err, errlen) < 0 ||
	    sums_dir(dir, sizeof dir, err, errlen) < 0)
		return -1;
	if (!util_fits(snprintf(path, pathlen, "%s/%s.json", dir, name), pathlen) ||
	    !util_fits(snprintf(tmp, sizeof tmp, "%s/.%s.%ld", dir, name, (long)getpid()),
		       sizeof tmp)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	char at[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", name);
	cJSON_AddStringToObject(j, "at", at);
	cJSON_AddItemToObject(j, "tables", cJSON_Duplicate(tables, 1));
	char *text = cJSON_Print(j);
	cJSON_Delete(j);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t len = strlen(text), off = 0;
	while (fd >= 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(text);
	if (fd < 0 || off < len || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", fd < 0 ? tmp : path, strerror(errno));
		if (fd >= 0 && off < len)
			close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static cJSON *load_path(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct strbuf b = {0};
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0 && b.len < SUMS_MAX_FILE)
		strbuf_add(&b, buf, (size_t)n);
	close(fd);
	cJSON *j = b.s ? cJSON_Parse(b.s) : NULL;
	strbuf_free(&b);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "tables"))) {
		snprintf(err, errlen, "%s: not a data-checksums record", path);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *import_sums_load(const char *name, char *err, size_t errlen)
{
	char dir[4096], path[4400];
	if (import_sums_name_ok(name, err, errlen) < 0 ||
	    sums_dir(dir, sizeof dir, err, errlen) < 0)
		return NULL;
	if (!util_fits(snprintf(path, sizeof path, "%s/%s.json", dir, name), sizeof path)) {
		snprintf(err, errlen, "path too long");
		return NULL;
	}
	if (access(path, F_OK) < 0) {
		snprintf(err, errlen,
			 "no record named '%s' ('midsops data-checksums --list' lists them; "
			 "'--save %s' records one)",
			 name, name);
		return NULL;
	}
	return load_path(path, err, errlen);
}

static int rec_cmp(const void *a, const void *b)
{
	const struct import_sums_rec *x = a, *y = b;
	int c = strcmp(x->at, y->at);
	return c ? c : strcmp(x->name, y->name);
}

int import_sums_list(struct import_sums_rec **out, char *err, size_t errlen)
{
	*out = NULL;
	char dir[4096], path[4400];
	if (sums_dir(dir, sizeof dir, err, errlen) < 0)
		return -1;
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	int n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 ||
		    !util_fits(snprintf(path, sizeof path, "%s/%s", dir, e->d_name), sizeof path))
			continue;
		char lerr[256];
		cJSON *j = load_path(path, lerr, sizeof lerr);
		if (!j)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, (size_t)cap * sizeof **out);
		}
		struct import_sums_rec *r = &(*out)[n++];
		memset(r, 0, sizeof *r);
		snprintf(r->name, sizeof r->name, "%.*s", (int)(l - 5), e->d_name);
		util_json_strcpy(j, "at", r->at, sizeof r->at);
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tables"))
		{
			r->ntables++;
			r->rows += util_json_num(t, "rows", 0);
		}
		cJSON_Delete(j);
	}
	closedir(d);
	if (n > 1)
		qsort(*out, (size_t)n, sizeof **out, rec_cmp);
	return n;
}
