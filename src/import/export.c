/* Export tools: write the current generation back out (proof that nothing was lost),
 * check an export without a database, compare two exports, figures per table. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "db.h"
#include "import.h"
#include "paths.h"

/* ---- import-stats ---- */

static const struct {
	const char *table;
	const char *checksum; /* over natural keys and content, never ids or generations */
} stat_tables[] = {
    {"archetypes", NULL},
    {"archetype_tables", NULL},
    {"power_categories", NULL},
    {"powersets", NULL},
    {"powers", NULL},
    /* effects and templates keep no raw: their source record is part of the power's */
    {"power_effects",
     "select md5(coalesce(string_agg(p.key || ':' || e.idx || ':' || "
     "(p.raw->'effects'->e.idx)::text "
     "|| ':' || row(e.chance, e.ppm, e.delay, e.is_pvp, e.requires_expression, "
     "e.template_count)::text, ',' order by p.key, e.idx), '')) from game.power_effects e join "
     "game.powers p on p.id = e.power_id"},
    {"effect_templates",
     "select md5(coalesce(string_agg(p.key || ':' || e.idx || ':' || t.idx || ':' || "
     "(p.raw->'effects'->e.idx->'templates'->t.idx)::text || ':' || row(t.attribs, t.type, "
     "t.application_type, t.aspect, t.target, t.table_name, t.scale, t.magnitude, "
     "t.duration)::text, ',' order by p.key, e.idx, t.idx), '')) from game.effect_templates t "
     "join game.power_effects e on e.id = t.effect_id join game.powers p on p.id = "
     "e.power_id"},
    {"enhancement_sets", NULL},
    {"set_bonuses", "select md5(coalesce(string_agg(s.key || ':' || b.idx || ':' || b.raw::text, "
		    "',' order by s.key, b.idx), '')) from game.set_bonuses b join "
		    "game.enhancement_sets s on s.id = b.set_id"},
    {"enhancements", "select md5(coalesce(string_agg(e.key || ':' || e.retired || ':' || "
		     "e.raw::text, ',' order by e.key), '')) from game.enhancements e"},
    {"tags", NULL},
    {"tag_links",
     "select md5(coalesce(string_agg(t.key || ':' || l.rel || l.idx || ':' || "
     "l.raw::text || ':' || (l.power_id is null) || (l.enhancement_id is null), ',' order by "
     "t.key, l.rel, l.idx), '')) from "
     "game.tag_links l join game.tags t on t.id = l.tag_id"},
    {"exclusion_groups", NULL},
    {"exclusion_group_members", "select md5(coalesce(string_agg(g.key || ':' || m.idx || ':' || "
				"m.raw::text, ',' order by g.key, m.idx), '')) from "
				"game.exclusion_group_members m join game.exclusion_groups g on "
				"g.id = m.group_id"},
    {"recharge_groups", NULL},
    {"recharge_group_members", "select md5(coalesce(string_agg(g.key || ':' || m.idx || ':' || "
			       "m.raw::text, ',' order by g.key, m.idx), '')) from "
			       "game.recharge_group_members m join game.recharge_groups g on g.id "
			       "= m.group_id"},
    {"documents", NULL},
};

/* Appends " || ':' || row(typed columns)::text" of a per-file table, or nothing. */
static void typed_row(const char *table, struct strbuf *b)
{
	for (int k = 1; k < IK_COUNT; k++) {
		const char *t = import_kind_table((enum import_kind)k);
		const struct import_tcol *tc = import_typed_cols((enum import_kind)k);
		if (!t || strcmp(t, table) != 0 || !tc)
			continue;
		strbuf_adds(b, " || ':' || row(");
		for (int i = 0; tc[i].json; i++)
			strbuf_addf(b, "%s%s", i ? ", " : "", tc[i].col);
		strbuf_adds(b, ")::text");
	}
}

/* Appends the query for stat_tables[i]'s checksum: over natural keys and content, never
 * ids or generations, so a rollback that restores the content compares equal. */
static void checksum_sql(size_t i, struct strbuf *sql)
{
	if (stat_tables[i].checksum) {
		strbuf_adds(sql, stat_tables[i].checksum);
		return;
	}
	strbuf_adds(sql, "select md5(coalesce(string_agg(key || ':' || retired || ':' || path || "
			 "':' || raw::text");
	typed_row(stat_tables[i].table, sql);
	strbuf_addf(sql, ", ',' order by key), '')) from game.%s", stat_tables[i].table);
}

int import_stats_render(struct out *o, PGconn *c, int checksums)
{
	char err[1024];
	struct strbuf sql = {0};
	const char *cols[] = {"table", "rows", "retired", "checksum"};
	out_table_begin(o, "tables", checksums ? 4 : 3, cols);
	long long total = 0;
	for (size_t i = 0; i < sizeof stat_tables / sizeof stat_tables[0]; i++) {
		const char *t = stat_tables[i].table;
		int has_retired = !stat_tables[i].checksum || strcmp(t, "enhancements") == 0;
		strbuf_reset(&sql);
		strbuf_addf(&sql, "select count(*), %s from game.%s",
			    has_retired ? "count(*) filter (where retired)" : "0", t);
		PGresult *r = db_query(c, err, sizeof err, sql.s, 0, NULL);
		if (!r) {
			out_err(o, "import-stats: %s", err);
			out_table_end(o);
			strbuf_free(&sql);
			return -1;
		}
		char sum[64] = "";
		if (checksums) {
			strbuf_reset(&sql);
			checksum_sql(i, &sql);
			char *v = db_scalar(c, err, sizeof err, sql.s, 0, NULL);
			snprintf(sum, sizeof sum, "%s", v ? v : "?");
			free(v);
		}
		total += atoll(PQgetvalue(r, 0, 0));
		out_rowf(o, t, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), sum);
		PQclear(r);
	}
	strbuf_free(&sql);
	out_table_end(o);
	out_kv_int(o, "total_rows", total);
	PGresult *r =
	    db_query(c, err, sizeof err,
		     "select coalesce(max(g.generation), 0), (select to_char(max(finished_at) "
		     "at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from "
		     "ops.import_runs where state = 'completed' and generation is not "
		     "null), (select max(id) from ops.import_runs where state = "
		     "'completed' and generation is not null) from ops.import_generations g",
		     0, NULL);
	if (r) {
		out_kv_int(o, "generation", atoll(PQgetvalue(r, 0, 0)));
		out_kv(o, "last_import", "%s",
		       PQgetisnull(r, 0, 1) ? "never" : PQgetvalue(r, 0, 1));
		if (!PQgetisnull(r, 0, 2))
			out_kv_int(o, "last_run", atoll(PQgetvalue(r, 0, 2)));
		PQclear(r);
	}
	return 0;
}

/* builds and game, content only: the game tables as import-stats --checksums sums them (natural
 * keys and content, never ids or generations, so a rollback that restores the content
 * compares equal), builds by their whole rows (builds keep their ids across imports and
 * rollbacks), in one snapshot. */
cJSON *import_data_sums(PGconn *c, char *err, size_t errlen)
{
	if (db_exec(c, err, errlen, "begin isolation level repeatable read read only", 0, NULL) < 0)
		return NULL;
	cJSON *arr = cJSON_CreateArray();
	static const char *const builds[] = {"builds", "build_powers", "build_enhancements"};
	size_t ngame = sizeof stat_tables / sizeof stat_tables[0];
	for (size_t i = 0; i < ngame + 3; i++) {
		char name[96];
		struct strbuf sql = {0};
		const char *t = i < ngame ? stat_tables[i].table : builds[i - ngame];
		snprintf(name, sizeof name, "%s.%s", i < ngame ? "game" : "builds", t);
		if (i >= ngame)
			strbuf_addf(
			    &sql,
			    "select count(*), md5(coalesce(string_agg(t::text, ',' order by "
			    "t.id), '')) from builds.%s t",
			    t);
		else {
			strbuf_addf(&sql, "select (select count(*) from game.%s), (", t);
			checksum_sql(i, &sql);
			strbuf_adds(&sql, ")");
		}
		cJSON *o = db_table_sum(c, name, sql.s, err, errlen);
		strbuf_free(&sql);
		if (!o) {
			cJSON_Delete(arr);
			db_rollback(c);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
	}
	/* A snapshot that cannot end cleanly is a connection gone: nothing to trust. */
	if (db_exec(c, err, errlen, "commit", 0, NULL) < 0) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

/* ---- export DIR ---- */

int import_dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 1;
	struct dirent *e;
	int empty = 1;
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* Write rel under the export directory open on rootfd (dir names it in messages). Each
 * directory on the way is entered with O_NOFOLLOW, and a file already there is unlinked
 * before the new one is created (O_EXCL): a symlink or a hard link left in a reused
 * directory (export --force) never makes the export write anywhere else. */
static int write_file(int rootfd, const char *dir, const char *rel, const char *data, size_t n,
		      char *err, size_t errlen)
{
	if (strstr(rel, "..") || rel[0] == '/') {
		snprintf(err, errlen, "refusing unsafe path %s", rel);
		return -1;
	}
	int dfd = rootfd, fd = -1;
	const char *p = rel, *slash;
	while ((slash = strchr(p, '/'))) {
		char comp[NAME_MAX + 1];
		size_t l = (size_t)(slash - p);
		if (l > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, l);
		comp[l] = 0;
		if (l && mkdirat(dfd, comp, 0700) < 0 && errno != EEXIST)
			goto fail;
		int next =
		    l ? openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dfd;
		if (next < 0)
			goto fail;
		if (dfd != rootfd && next != dfd)
			close(dfd);
		dfd = next;
		p = slash + 1;
	}
	if (unlinkat(dfd, p, 0) < 0 && errno != ENOENT)
		goto fail;
	fd = openat(dfd, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	close(fd);
	if (dfd != rootfd)
		close(dfd);
	return 0;
fail:
	snprintf(err, errlen, "%s/%s: %s", dir, rel,
		 errno == ELOOP || errno == ENOTDIR ? "a symlink or a file is in the way (refused)"
						    : strerror(errno));
	if (fd >= 0)
		close(fd);
	if (dfd != rootfd)
		close(dfd);
	return -1;
}

int import_export_dir(struct out *o, PGconn *c, const char *dir)
{
	char err[1024];
	long long files = 0, bytes = 0;
	double t0 = util_mono();
	int rootfd = -1;
	if (paths_mkdir_p(dir, 0700) < 0 ||
	    (rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		out_err(o, "export: %s: %s", dir, strerror(errno));
		return EXIT_FAIL;
	}
	/* One row at a time: the export is larger than the memory we allow ourselves. */
	static const char sql[] =
	    "select path, raw::text from game.documents where not retired union all "
	    "select path, raw::text from game.archetypes where not retired union all "
	    "select path, raw::text from game.archetype_tables where not retired union all "
	    "select path, raw::text from game.power_categories where not retired union all "
	    "select path, raw::text from game.powersets where not retired union all "
	    "select path, raw::text from game.powers where not retired union all "
	    "select path, raw::text from game.enhancement_sets where not retired union all "
	    "select path, raw::text from game.tags where not retired union all "
	    "select path, raw::text from game.exclusion_groups where not retired union all "
	    "select path, raw::text from game.recharge_groups where not retired";
	if (!PQsendQuery(c, sql) || !PQsetSingleRowMode(c)) {
		out_err(o, "export: %s", PQerrorMessage(c));
		close(rootfd);
		return EXIT_FAIL;
	}
	int rc = 0;
	PGresult *r;
	while ((r = PQgetResult(c))) {
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_SINGLE_TUPLE && rc == 0) {
			size_t n = (size_t)PQgetlength(r, 0, 1);
			if (write_file(rootfd, dir, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), n,
				       err, sizeof err) < 0) {
				out_err(o, "export: %s", err);
				rc = EXIT_FAIL;
			} else {
				files++;
				bytes += (long long)n;
			}
		} else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE) {
			out_err(o, "export: %s", PQresultErrorMessage(r));
			rc = EXIT_FAIL;
		}
		PQclear(r);
	}
	close(rootfd);
	char *gen =
	    db_scalar(c, err, sizeof err,
		      "select coalesce(max(generation), 0) from ops.import_generations", 0, NULL);
	out_kv(o, "directory", "%s", dir);
	out_kv(o, "generation", "%s", gen ? gen : "0");
	free(gen);
	out_kv_int(o, "files", files);
	out_kv_int(o, "bytes", bytes);
	out_kv_num(o, "duration", util_mono() - t0, "s");
	return rc;
}

/* ---- export-validate DIR ---- */

struct vctx {
	struct out *o;
	int errors, warnings;
};

static void validate_error(void *ctx, const char *path, const char *json_path, const char *code,
			   const char *msg)
{
	struct vctx *v = ctx;
	int warning = strcmp(code, "unknown_directory") == 0 || strcmp(code, "symlink_dir") == 0 ||
		      strcmp(code, "symlink_loop") == 0;
	if (warning)
		v->warnings++;
	else
		v->errors++;
	/* as printable text: messages may quote the file */
	char m[4096], jp[2048];
	import_printable(m, sizeof m, msg, strlen(msg));
	import_printable(jp, sizeof jp, json_path ? json_path : "",
			 json_path ? strlen(json_path) : 0);
	out_rowf(v->o, path ? path : "", jp, warning ? "warning" : "error", code, m);
}

/* A small string set for duplicate natural keys. */
struct sset {
	char **slots;
	char **vals;
	size_t cap, n;
};

static size_t shash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Returns the value stored with key, or stores val and returns NULL. */
static const char *sset_put(struct sset *s, const char *key, const char *val)
{
	if (s->n * 2 >= s->cap) {
		struct sset ns = {0};
		ns.cap = s->cap ? s->cap * 2 : 1024;
		ns.slots = xcalloc(ns.cap, sizeof *ns.slots);
		ns.vals = xcalloc(ns.cap, sizeof *ns.vals);
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i]) {
				size_t j = shash(s->slots[i]) & (ns.cap - 1);
				while (ns.slots[j])
					j = (j + 1) & (ns.cap - 1);
				ns.slots[j] = s->slots[i];
				ns.vals[j] = s->vals[i];
			}
		ns.n = s->n;
		free(s->slots);
		free(s->vals);
		*s = ns;
	}
	size_t i = shash(key) & (s->cap - 1);
	for (; s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (strcmp(s->slots[i], key) == 0)
			return s->vals[i];
	s->slots[i] = xstrdup(key);
	s->vals[i] = val ? xstrdup(val) : xstrdup("");
	s->n++;
	return NULL;
}

static const char *sset_get(const struct sset *s, const char *key)
{
	if (!s->cap)
		return NULL;
	size_t i = shash(key) & (s->cap - 1);
	for (; s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (strcmp(s->slots[i], key) == 0)
			return s->vals[i];
	return NULL;
}

static void sset_free(struct sset *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->slots[i]);
		free(s->vals[i]);
	}
	free(s->slots);
	free(s->vals);
	memset(s, 0, sizeof *s);
}

int import_validate_dir(struct out *o, const char *dir)
{
	struct vctx v = {.o = o};
	struct import_scan scan;
	struct import_buf text = {0};
	struct sset keys = {0};
	char err[1024];
	const char *cols[] = {"path", "json_path", "severity", "code", "message"};
	out_table_begin(o, "problems", 5, cols);
	if (import_scan_dir(dir, &scan, validate_error, &v, err, sizeof err) < 0) {
		validate_error(&v, dir, NULL, "empty_export", err);
		out_table_end(o);
		out_status(o, ST_CRITICAL, "%s", err);
		return ST_CRITICAL;
	}
	for (size_t i = 0; i < scan.n; i++) {
		char key[IMPORT_MAX_KEY + 1];
		size_t len;
		if (import_read_file_in(scan.rootfd, scan.files[i].rel, &text, &len) < 0) {
			int e = errno;
			validate_error(&v, scan.files[i].rel, NULL,
				       e == EXDEV   ? "outside_export"
				       : e == ELOOP ? "symlink_loop"
						    : "unreadable",
				       e == EXDEV
					   ? "it leads outside the export (refused, not read)"
					   : strerror(e));
			continue;
		}
		snprintf(key, sizeof key, "%s", scan.files[i].key);
		if (import_map_file(scan.files[i].kind, scan.files[i].rel, text.p, len, key,
				    sizeof key, NULL, validate_error, &v))
			continue;
		char kk[IMPORT_MAX_KEY + 64];
		snprintf(kk, sizeof kk, "%s\t%s", import_kind_name(scan.files[i].kind), key);
		const char *prev = sset_put(&keys, kk, scan.files[i].rel);
		if (prev) {
			char msg[2048];
			snprintf(msg, sizeof msg, "duplicate natural key '%s' (%s), also in %s",
				 key, import_kind_name(scan.files[i].kind), prev);
			validate_error(&v, scan.files[i].rel, "$", "duplicate_key", msg);
		}
	}
	out_table_end(o);
	out_kv_int(o, "files", (long long)scan.n);
	out_kv_int(o, "bytes", scan.bytes);
	out_kv_int(o, "errors", v.errors);
	out_kv_int(o, "warnings", v.warnings);
	enum status st = v.errors ? ST_CRITICAL : v.warnings ? ST_WARNING : ST_OK;
	out_status(o, st, "%zu files checked: %d errors, %d warnings", scan.n, v.errors,
		   v.warnings);
	import_scan_free(&scan);
	import_buf_free(&text);
	sset_free(&keys);
	return st;
}

/* ---- export-diff OLD NEW ---- */

/* A key of the files, as printable text. */
static const char *shown(const char *s, char *buf, size_t n)
{
	import_printable(buf, n, s, strlen(s));
	return buf;
}

struct side {
	struct sset recs;	      /* kind \t key -> path */
	struct sset fields[IK_COUNT]; /* top-level keys seen per kind */
	long long counts[IK_COUNT];
	/* enhancements live inside their set's file (computed.boost_infos), keyed across
	 * the whole export: compared as records of their own */
	struct sset enh;	/* key -> the set file's path */
	struct sset enh_fields; /* keys seen in enhancement records */
};

static const cJSON *boost_infos(const cJSON *set)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(set, "computed");
	const cJSON *b =
	    cJSON_IsObject(c) ? cJSON_GetObjectItemCaseSensitive(c, "boost_infos") : NULL;
	return cJSON_IsObject(b) ? b : NULL;
}

static void ignore_error(void *ctx, const char *path, const char *json_path, const char *code,
			 const char *msg)
{
	(void)json_path;
	(void)code;
	struct vctx *v = ctx;
	v->errors++;
	char m[4096];
	import_printable(m, sizeof m, msg, strlen(msg));
	if (v->errors <= 10)
		out_warn(v->o, "%s: %s", path, m);
}

/* A record of the export whose directory is open on rootfd (its scan's). */
static cJSON *load_record(int rootfd, const struct import_file *f, struct import_buf *text,
			  char *key, size_t keylen)
{
	size_t len;
	if (import_read_file_in(rootfd, f->rel, text, &len) < 0)
		return NULL;
	cJSON *root = cJSON_ParseWithLength(text->p, len);
	if (!root)
		return NULL;
	snprintf(key, keylen, "%s", f->key);
	const char *kf = import_kind_key_field(f->kind);
	if (kf) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, kf);
		if (!cJSON_IsString(k)) {
			cJSON_Delete(root);
			return NULL;
		}
		snprintf(key, keylen, "%s", k->valuestring);
	}
	return root;
}

static int scan_side(struct out *o, const char *dir, struct import_scan *scan, struct side *s,
		     struct import_buf *text)
{
	char err[1024];
	struct vctx v = {.o = o};
	if (import_scan_dir(dir, scan, ignore_error, &v, err, sizeof err) < 0) {
		out_err(o, "export-diff: %s", err);
		return -1;
	}
	for (size_t i = 0; i < scan->n; i++) {
		char key[IMPORT_MAX_KEY + 1], kk[IMPORT_MAX_KEY + 64];
		cJSON *root = load_record(scan->rootfd, &scan->files[i], text, key, sizeof key);
		if (!root) {
			ignore_error(&v, scan->files[i].rel, NULL, "invalid",
				     "unreadable or invalid JSON");
			continue;
		}
		enum import_kind k = scan->files[i].kind;
		if (k != IK_DOCUMENT)
			for (const cJSON *e = root->child; e; e = e->next)
				if (e->string)
					sset_put(&s->fields[k], e->string, NULL);
		snprintf(kk, sizeof kk, "%s\t%s", import_kind_name(k), key);
		sset_put(&s->recs, kk, scan->files[i].rel);
		s->counts[k]++;
		const cJSON *bi = k == IK_ENHANCEMENT_SET ? boost_infos(root) : NULL;
		for (const cJSON *e = bi ? bi->child : NULL; e; e = e->next) {
			if (!e->string)
				continue;
			sset_put(&s->enh, e->string, scan->files[i].rel);
			for (const cJSON *f = cJSON_IsObject(e) ? e->child : NULL; f; f = f->next)
				if (f->string)
					sset_put(&s->enh_fields, f->string, NULL);
		}
		cJSON_Delete(root);
	}
	return 0;
}

/* What export-diff counts: records per kind, and the enhancements inside the sets. */
struct diff_counts {
	long long added[IK_COUNT], removed[IK_COUNT], changed[IK_COUNT];
	long long enh_added, enh_removed, enh_changed;
};

/* Records in NEW: added, or changed when their JSON values differ (key order aside). */
static void diff_records(const struct side *a, const struct import_scan *sa,
			 const struct import_scan *sb, struct import_buf *text,
			 struct import_buf *text2, struct diff_counts *d)
{
	for (size_t i = 0; i < sb->n; i++) {
		char key[IMPORT_MAX_KEY + 1], kk[IMPORT_MAX_KEY + 64], k2[IMPORT_MAX_KEY + 1];
		cJSON *nr = load_record(sb->rootfd, &sb->files[i], text, key, sizeof key);
		if (!nr)
			continue;
		enum import_kind k = sb->files[i].kind;
		snprintf(kk, sizeof kk, "%s\t%s", import_kind_name(k), key);
		const char *oldpath = sset_get(&a->recs, kk);
		if (!oldpath) {
			d->added[k]++;
		} else {
			struct import_file of = sb->files[i];
			of.rel = (char *)oldpath;
			cJSON *orr = load_record(sa->rootfd, &of, text2, k2, sizeof k2);
			if (!orr || !cJSON_Compare(orr, nr, 1))
				d->changed[k]++;
			cJSON_Delete(orr);
		}
		cJSON_Delete(nr);
	}
}

/* Enhancements of NEW's sets: added, or changed against OLD's record of that key (the old
 * set file is read once for all its enhancements, they seldom move). */
static void diff_enhancements(const struct side *a, const struct import_scan *sa,
			      const struct import_scan *sb, struct import_buf *text,
			      struct import_buf *text2, struct diff_counts *d)
{
	char *cached = NULL;
	cJSON *old_set = NULL;
	for (size_t i = 0; i < sb->n; i++) {
		if (sb->files[i].kind != IK_ENHANCEMENT_SET)
			continue;
		char key[IMPORT_MAX_KEY + 1], k2[IMPORT_MAX_KEY + 1];
		cJSON *nr = load_record(sb->rootfd, &sb->files[i], text, key, sizeof key);
		const cJSON *bi = nr ? boost_infos(nr) : NULL;
		for (const cJSON *e = bi ? bi->child : NULL; e; e = e->next) {
			const char *oldpath = e->string ? sset_get(&a->enh, e->string) : NULL;
			if (!e->string)
				continue;
			if (!oldpath) {
				d->enh_added++;
				continue;
			}
			if (!cached || strcmp(cached, oldpath) != 0) {
				cJSON_Delete(old_set);
				free(cached);
				cached = xstrdup(oldpath);
				struct import_file of = sb->files[i];
				of.rel = cached;
				old_set = load_record(sa->rootfd, &of, text2, k2, sizeof k2);
			}
			const cJSON *ob = old_set ? boost_infos(old_set) : NULL;
			const cJSON *oe =
			    ob ? cJSON_GetObjectItemCaseSensitive(ob, e->string) : NULL;
			if (!oe || !cJSON_Compare(oe, e, 1))
				d->enh_changed++;
		}
		cJSON_Delete(nr);
	}
	cJSON_Delete(old_set);
	free(cached);
}

/* What OLD has and NEW lacks. */
static void diff_removed(const struct side *a, const struct side *b, struct diff_counts *d)
{
	for (size_t i = 0; i < a->enh.cap; i++)
		if (a->enh.slots[i] && !sset_get(&b->enh, a->enh.slots[i]))
			d->enh_removed++;
	for (size_t i = 0; i < a->recs.cap; i++)
		if (a->recs.slots[i] && !sset_get(&b->recs, a->recs.slots[i])) {
			char kind[64];
			snprintf(kind, sizeof kind, "%.*s", (int)strcspn(a->recs.slots[i], "\t"),
				 a->recs.slots[i]);
			d->removed[import_kind_from_name(kind)]++;
		}
}

/* The records table; returns how many records differ. */
static long long diff_render_records(struct out *o, const struct side *a, const struct side *b,
				     const struct diff_counts *d)
{
	const char *cols[] = {"entity", "old", "new", "added", "removed", "changed"};
	out_table_begin(o, "records", 6, cols);
	long long tot = 0;
	for (int k = 1; k < IK_COUNT; k++) {
		if (!a->counts[k] && !b->counts[k])
			continue;
		char v[5][32];
		snprintf(v[0], 32, "%lld", a->counts[k]);
		snprintf(v[1], 32, "%lld", b->counts[k]);
		snprintf(v[2], 32, "%lld", d->added[k]);
		snprintf(v[3], 32, "%lld", d->removed[k]);
		snprintf(v[4], 32, "%lld", d->changed[k]);
		tot += d->added[k] + d->removed[k] + d->changed[k];
		out_rowf(o, import_kind_name((enum import_kind)k), v[0], v[1], v[2], v[3], v[4]);
		if (k == IK_ENHANCEMENT_SET && (a->enh.n || b->enh.n)) {
			snprintf(v[0], 32, "%zu", a->enh.n);
			snprintf(v[1], 32, "%zu", b->enh.n);
			snprintf(v[2], 32, "%lld", d->enh_added);
			snprintf(v[3], 32, "%lld", d->enh_removed);
			snprintf(v[4], 32, "%lld", d->enh_changed);
			tot += d->enh_added + d->enh_removed + d->enh_changed;
			out_rowf(o, "enhancement", v[0], v[1], v[2], v[3], v[4]);
		}
	}
	out_table_end(o);
	return tot;
}

/* Rows of the keys in `from` that `other` lacks, when `other` has records of that entity
 * at all; returns how many. */
static int diff_keys_one_way(struct out *o, const char *entity, const struct sset *from,
			     const struct sset *other, int other_has, const char *change)
{
	int n = 0;
	char key[4096];
	for (size_t i = 0; i < from->cap; i++)
		if (from->slots[i] && other_has && !sset_get(other, from->slots[i])) {
			out_rowf(o, entity, change, shown(from->slots[i], key, sizeof key));
			n++;
		}
	return n;
}

/* Schema changes: top-level keys that appear on one side only. Returns how many. */
static int diff_render_keys(struct out *o, const struct side *a, const struct side *b)
{
	const char *cols2[] = {"entity", "change", "key"};
	out_table_begin(o, "key_changes", 3, cols2);
	int nschema = 0;
	for (int k = 1; k < IK_COUNT; k++) {
		const char *name = import_kind_name((enum import_kind)k);
		nschema += diff_keys_one_way(o, name, &b->fields[k], &a->fields[k],
					     a->counts[k] != 0, "key added");
		nschema += diff_keys_one_way(o, name, &a->fields[k], &b->fields[k],
					     b->counts[k] != 0, "key removed");
	}
	nschema += diff_keys_one_way(o, "enhancement", &b->enh_fields, &a->enh_fields,
				     a->enh.n != 0, "key added");
	nschema += diff_keys_one_way(o, "enhancement", &a->enh_fields, &b->enh_fields,
				     b->enh.n != 0, "key removed");
	out_table_end(o);
	return nschema;
}

static void side_free(struct side *s)
{
	for (int k = 0; k < IK_COUNT; k++)
		sset_free(&s->fields[k]);
	sset_free(&s->recs);
	sset_free(&s->enh);
	sset_free(&s->enh_fields);
}

int import_diff_dirs(struct out *o, const char *olddir, const char *newdir)
{
	struct side a = {0}, b = {0};
	struct import_scan sa = {0}, sb = {0};
	struct import_buf text = {0}, text2 = {0};
	struct diff_counts d = {0};
	int rc = 0;
	if (scan_side(o, olddir, &sa, &a, &text) < 0 || scan_side(o, newdir, &sb, &b, &text) < 0) {
		rc = EXIT_FAIL;
	} else {
		diff_records(&a, &sa, &sb, &text, &text2, &d);
		diff_enhancements(&a, &sa, &sb, &text, &text2, &d);
		diff_removed(&a, &b, &d);
		long long tot = diff_render_records(o, &a, &b, &d);
		int nschema = diff_render_keys(o, &a, &b);
		out_kv_int(o, "records_differing", tot);
		out_kv_int(o, "schema_changes", nschema);
	}
	side_free(&a);
	side_free(&b);
	import_scan_free(&sa);
	import_scan_free(&sb);
	import_buf_free(&text);
	import_buf_free(&text2);
	return rc;
}

/* ---- parse-only yardstick ---- */

static void quiet_error(void *ctx, const char *path, const char *json_path, const char *code,
			const char *msg)
{
	(void)ctx, (void)path, (void)json_path, (void)code, (void)msg;
}

int import_parse_only(struct out *o, const char *dir)
{
	struct import_scan scan;
	struct import_buf text = {0};
	char err[1024];
	double t0 = util_mono();
	if (import_scan_dir(dir, &scan, quiet_error, NULL, err, sizeof err) < 0) {
		out_err(o, "%s", err);
		return EXIT_FAIL;
	}
	long long bad = 0;
	for (size_t i = 0; i < scan.n; i++) {
		size_t len;
		if (import_read_file_in(scan.rootfd, scan.files[i].rel, &text, &len) < 0) {
			bad++;
			continue;
		}
		cJSON *root = cJSON_ParseWithLength(text.p, len);
		if (!root)
			bad++;
		cJSON_Delete(root);
	}
	double el = util_mono() - t0;
	out_kv_int(o, "files", (long long)scan.n);
	out_kv_int(o, "bytes", scan.bytes);
	out_kv_int(o, "invalid", bad);
	out_kv_num(o, "seconds", el, NULL);
	import_scan_free(&scan);
	import_buf_free(&text);
	return 0;
}
