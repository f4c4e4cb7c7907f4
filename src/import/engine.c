/* The import run: scan, stage (COPY into stage.records, a batch per transaction together
 * with its ops.import_files rows), validate, promote. Progress goes to ops.import_runs on
 * a second connection every 250 ms with a NOTIFY, so other terminals and the console see
 * it while a batch is open. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "import_int.h"
#include "paths.h"
#include "target.h"
#include "sha256.h"

#define BATCH_FILES 1000
#define BATCH_BYTES (24 << 20)
/* Rows go to the server as soon as this much is pending: the backend parses jsonb while
 * the importer reads and maps the next files. A larger chunk makes the two take turns
 * (the socket buffer holds far less than a megabyte) instead of working side by side. */
#define STREAM_BYTES (32 << 10)
#define PIPE_BATCHES 1 /* batches per promote pipeline step */
#define TAIL_RANK    8 /* import_kind_rank of archetype tables and documents */
/* what the importer gathers for the next batch while the last one ends */
#define GATHER_BYTES (8 << 20)

static volatile sig_atomic_t import_signalled;

static void on_signal(int sig)
{
	(void)sig;
	import_signalled = 1;
}

double import_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void import_log(struct import_run_state *r, const char *fmt, ...)
{
	if (!r->log)
		return;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_list ap;
	va_start(ap, fmt);
	fprintf(r->log, "%s run %ld: ", ts, r->id);
	vfprintf(r->log, fmt, ap);
	fputc('\n', r->log);
	va_end(ap);
	fflush(r->log);
}

void import_record_error(void *ctx, const char *path, const char *json_path, const char *code,
			 const char *msg)
{
	struct import_run_state *r = ctx;
	/* Skipped directories and symlinks the walk does not follow are warnings: the rest of
	 * the export imports normally. */
	int warning = strcmp(code, "unknown_directory") == 0 || strcmp(code, "symlink_dir") == 0 ||
		      strcmp(code, "symlink_loop") == 0;
	if (warning)
		r->warnings++;
	else
		r->errors++;
	import_log(r, "error %s %s %s: %s", code, path ? path : "-", json_path ? json_path : "",
		   msg);
	if (r->shown_errors++ < 20)
		out_err(r->o, "%s%s%s: %s", path ? path : "", json_path ? ": " : "",
			json_path ? json_path : "", msg);
	else if (r->shown_errors == 21)
		out_err(r->o, "more errors: see midsops import-errors --run %ld", r->id);
	if (!r->pc)
		return;
	const char *p[] = {r->idtxt, path, json_path, code, msg, warning ? "warning" : "error"};
	char err[256];
	PGresult *res = db_query(r->pc, err, sizeof err,
				 "insert into ops.import_errors (run_id, path, json_path, code, "
				 "message, severity) values ($1, $2, $3, $4, $5, $6)",
				 6, p);
	PQclear(res);
}

void import_progress(struct import_run_state *r, int force)
{
	double now = import_now();
	if (!force && now - r->last_progress < 0.25)
		return;
	r->last_progress = now;
	double el = now - r->t0;
	double rate = el > 0 ? (double)r->records_done / el : 0;
	double brate = el > 0 ? (double)r->bytes_done / el : 0;
	double eta = brate > 0 ? (double)(r->bytes_total - r->bytes_done) / brate : -1;
	char v[10][32];
	snprintf(v[0], 32, "%lld", r->files_done);
	snprintf(v[1], 32, "%lld", r->files_total);
	snprintf(v[2], 32, "%lld", r->bytes_done);
	snprintf(v[3], 32, "%lld", r->bytes_total);
	snprintf(v[4], 32, "%lld", r->records_done);
	snprintf(v[5], 32, "%lld", r->records_total);
	snprintf(v[6], 32, "%.1f", rate);
	snprintf(v[7], 32, "%.1f", eta < 0 ? 0 : eta);
	snprintf(v[8], 32, "%d", r->errors);
	snprintf(v[9], 32, "%d", r->warnings);
	const char *p[] = {r->idtxt, r->phase, v[0], v[1], v[2],
			   v[3],     v[4],     v[5], v[6], eta < 0 ? NULL : v[7],
			   v[8],     v[9]};
	char err[256];
	if (r->pc) {
		PGresult *res = db_query(
		    r->pc, err, sizeof err,
		    "with u as (update ops.import_runs set phase = $2, files_done = $3, "
		    "files_total "
		    "= $4, bytes_done = $5, bytes_total = $6, records_done = $7, records_total = "
		    "$8, "
		    "rate = $9, eta_s = $10, errors = $11, warnings = $12, updated_at = now() "
		    "where "
		    "id = $1 returning stop_requested) select stop_requested, "
		    "pg_notify('midsops_import', json_build_object('run', $1::bigint, 'phase', $2, "
		    "'files_done', $3::bigint, 'files_total', $4::bigint, 'errors', "
		    "$11::int)::text) "
		    "from u",
		    12, p);
		if (res && PQntuples(res) > 0 && PQgetvalue(res, 0, 0)[0] == 't')
			r->stop_requested = 1;
		PQclear(res);
	}
	if (import_signalled)
		r->stop_requested = 1;
	char detail[128];
	snprintf(detail, sizeof detail, "%lld/%lld files, %.0f rec/s, %d errors", r->files_done,
		 r->files_total, rate, r->errors);
	out_progress(r->o, r->phase, (double)r->bytes_done, (double)r->bytes_total, detail);
}

void import_set_state(struct import_run_state *r, const char *state, const char *msg)
{
	const char *p[] = {r->idtxt, state, msg, r->phase};
	char err[256];
	PGresult *res =
	    db_query(r->pc ? r->pc : r->c, err, sizeof err,
		     "update ops.import_runs set state = $2, message = $3, phase = $4, "
		     "updated_at = now(), finished_at = case when $2 in ('running') then "
		     "null else now() end where id = $1",
		     4, p);
	PQclear(res);
	import_log(r, "state %s: %s", state, msg ? msg : "");
}

/* ---- path -> current record, to skip files that did not change ---- */

struct known {
	char *path, *sha, *key;
	int kind;
};
struct known_map {
	struct known *slots;
	size_t cap;
};

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void known_put(struct known_map *m, const char *path, const char *sha, const char *key,
		      int kind)
{
	size_t i = hash_str(path) & (m->cap - 1);
	while (m->slots[i].path)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].path = strdup(path);
	m->slots[i].sha = sha ? strdup(sha) : NULL;
	m->slots[i].key = key ? strdup(key) : NULL;
	m->slots[i].kind = kind;
}

static struct known *known_get(const struct known_map *m, const char *path)
{
	if (!m->cap)
		return NULL;
	size_t i = hash_str(path) & (m->cap - 1);
	for (; m->slots[i].path; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->slots[i].path, path) == 0)
			return &m->slots[i];
	return NULL;
}

static void known_init(struct known_map *m, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2 + 16)
		m->cap *= 2;
	m->slots = calloc(m->cap, sizeof *m->slots);
}

static void known_free(struct known_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slots[i].path);
		free(m->slots[i].sha);
		free(m->slots[i].key);
	}
	free(m->slots);
	memset(m, 0, sizeof *m);
}

static const char current_sql[] =
    "select path, sha, key, kind from ("
    "select path, sha, key, 'document' kind from game.documents where not retired union all "
    "select path, sha, key, 'archetype' from game.archetypes where not retired union all "
    "select path, sha, key, 'archetype_table' from game.archetype_tables where not retired "
    "union all select path, sha, key, 'power_category' from game.power_categories where not "
    "retired union all select path, sha, key, 'powerset' from game.powersets where not retired "
    "union all select path, sha, key, 'power' from game.powers where not retired union all "
    "select path, sha, key, 'enhancement_set' from game.enhancement_sets where not retired "
    "union all select path, sha, key, 'tag' from game.tags where not retired union all "
    "select path, sha, key, 'exclusion_group' from game.exclusion_groups where not retired "
    "union all select path, sha, key, 'recharge_group' from game.recharge_groups where not "
    "retired) x";

/* ---- staging ---- */

struct batch {
	struct import_buf rows;	   /* pending COPY data for stage.records */
	struct import_typed typed; /* typed columns, and the batch's effects and templates */
	struct import_buf files;   /* COPY data for ops.import_files */
	long no;		   /* stage.records.batch */
	unsigned kinds;		   /* a bit per kind with documents in the batch */
	char prefix[64];	   /* "RUN\tBATCH\t", before every child row */
	int nfiles;
	long long bytes;
	int open;	    /* gathering rows (the COPY header is in rows) */
	int copying;	    /* its COPY runs on the server */
	int ending;	    /* the end of its COPY is sent, the result not read yet */
	int step;	    /* while ending: the command whose results are awaited */
	int failed;	    /* while ending: a command failed (err holds why) */
	size_t first, last; /* its files in the scan */
};

static int flush_rows(struct import_run_state *r, struct batch *b, char *err, size_t errlen);

/* Start gathering a batch's rows; its COPY starts later (batch_copy). */
static void batch_open(struct import_run_state *r, struct batch *b, long *seq, size_t first)
{
	b->rows.n = 0;
	import_buf_add(&b->rows, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
	b->no = ++*seq;
	b->kinds = 0;
	snprintf(b->prefix, sizeof b->prefix, "%s\t%ld\t", r->idtxt, b->no);
	b->typed.prefix = b->prefix;
	b->open = 1;
	b->first = b->last = first;
}

/* Begin the batch's transaction and COPY, and send what it has gathered. */
static int batch_copy(struct import_run_state *r, struct batch *b, char *err, size_t errlen)
{
	if (db_begin(r->c, err, errlen) < 0)
		return -1;
	/* Staging is repeatable (resume re-stages what a crash lost), so its commits need not
	 * wait for the WAL flush. Promote keeps full durability. */
	if (db_exec(r->c, err, errlen, "set local synchronous_commit = off", 0, NULL) < 0)
		goto fail;
	/* Binary format: the server reads each field by its length instead of scanning and
	 * unescaping every byte of the documents (a tenth of its staging time). */
	PGresult *res =
	    PQexec(r->c, "copy stage.records (run_id, batch, kind, key, path, sha, raw, "
			 "f) from stdin with (format binary)");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		snprintf(err, errlen, "%s", PQerrorMessage(r->c));
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	b->copying = 1;
	return flush_rows(r, b, err, errlen);
fail:
	db_rollback(r->c);
	return -1;
}

static int copy_end(PGconn *c, const char *fail, char *err, size_t errlen)
{
	if (PQputCopyEnd(c, fail) != 1) {
		snprintf(err, errlen, "%s", PQerrorMessage(c));
		return -1;
	}
	int rc = 0;
	PGresult *res;
	while ((res = PQgetResult(c))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "%s", PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

static int flush_rows(struct import_run_state *r, struct batch *b, char *err, size_t errlen)
{
	if (b->rows.n && PQputCopyData(r->c, b->rows.p, (int)b->rows.n) != 1) {
		snprintf(err, errlen, "%s", PQerrorMessage(r->c));
		return -1;
	}
	b->rows.n = 0;
	return 0;
}

static void batch_reset(struct batch *b)
{
	b->files.n = 0;
	b->typed.effects.n = 0;
	b->typed.templates.n = 0;
	b->nfiles = 0;
	b->bytes = 0;
}

/* Send the end of the batch's COPY without waiting for the server to get there. */
static int batch_end_send(struct import_run_state *r, struct batch *b, char *err, size_t errlen)
{
	import_buf_add(&b->rows, "\377\377", 2); /* the binary format's trailer */
	b->copying = 0;
	b->ending = 1;
	if (flush_rows(r, b, err, errlen) < 0 || PQputCopyEnd(r->c, NULL) != 1) {
		snprintf(err, errlen, "%s", PQerrorMessage(r->c));
		return -1;
	}
	return 0;
}

/* What a batch does after its documents' COPY, in order: its children, its files, the
 * commit. Each is sent when the one before has answered, so the importer can go on
 * parsing the next batch meanwhile (it waited for each of them in turn before). */
static const char *const end_steps[] = {
    NULL, /* the documents' COPY, already under way */
    "copy stage.effects (run_id, batch, key, idx, chance, ppm, delay, is_pvp, "
    "requires_expression, template_count) from stdin",
    "copy stage.templates (run_id, batch, key, effect_idx, idx, attribs, type, "
    "application_type, aspect, target, table_name, scale, magnitude, duration) from stdin",
    "copy ops.import_files (run_id, path, size, sha256) from stdin",
    "commit",
};
#define END_STEPS (int)(sizeof end_steps / sizeof end_steps[0])

static const struct import_buf *end_data(struct batch *b, int step)
{
	return step == 1 ? &b->typed.effects : step == 2 ? &b->typed.templates : &b->files;
}

/* Drive a batch whose end was sent. Returns 1 when committed, 0 while the server is still
 * at it (only if !block), -1 on failure (rolled back, err says why). */
static int batch_end_finish(struct import_run_state *r, struct batch *b, int block, char *err,
			    size_t errlen)
{
	for (;;) {
		if (!block && PQconsumeInput(r->c) && PQisBusy(r->c))
			return 0;
		PGresult *res = PQgetResult(r->c);
		if (res) {
			ExecStatusType st = PQresultStatus(res);
			if (st == PGRES_COPY_IN) {
				const struct import_buf *d = end_data(b, b->step);
				if ((d->n && PQputCopyData(r->c, d->p, (int)d->n) != 1) ||
				    PQputCopyEnd(r->c, NULL) != 1) {
					snprintf(err, errlen, "%s", PQerrorMessage(r->c));
					b->failed = 1;
				}
			} else if (st != PGRES_COMMAND_OK && !b->failed) {
				snprintf(err, errlen, "%s", PQresultErrorMessage(res));
				b->failed = 1;
			}
			PQclear(res);
			if (PQstatus(r->c) == CONNECTION_BAD)
				break;
			continue;
		}
		/* the step's results are all in: the next one, skipping empty COPYs */
		do
			b->step++;
		while (b->step > 0 && b->step < END_STEPS - 1 && !end_data(b, b->step)->n);
		if (b->failed || b->step >= END_STEPS)
			break;
		if (!PQsendQuery(r->c, end_steps[b->step])) {
			snprintf(err, errlen, "%s", PQerrorMessage(r->c));
			b->failed = 1;
			break;
		}
	}
	int ok = !b->failed && b->step >= END_STEPS;
	if (ok) {
		r->files_done += b->nfiles;
		import_log(r, "batch %ld: %d files committed at %.2fs", b->no, b->nfiles,
			   import_now() - r->t0);
	} else {
		db_rollback(r->c);
	}
	b->ending = b->open = 0;
	b->step = b->failed = 0;
	batch_reset(b);
	return ok ? 1 : -1;
}

/* Commit the batch now: 0, or -1 with err (rolled back). */
static int batch_commit(struct import_run_state *r, struct batch *b, char *err, size_t errlen)
{
	if (!b->open)
		return 0;
	if (!b->copying && batch_copy(r, b, err, errlen) < 0) {
		b->open = 0;
		batch_reset(b);
		return -1;
	}
	if (batch_end_send(r, b, err, errlen) < 0) {
		batch_end_finish(r, b, 1, err + strlen(err), 1);
		return -1;
	}
	return batch_end_finish(r, b, 1, err, errlen) == 1 ? 0 : -1;
}

/* COPY binary format fields, big-endian. */
static void bin_i16(struct import_buf *b, int16_t v)
{
	unsigned char x[2] = {(unsigned char)((uint16_t)v >> 8), (unsigned char)v};
	import_buf_add(b, x, 2);
}

static void bin_i32(struct import_buf *b, int32_t v)
{
	uint32_t u = (uint32_t)v;
	unsigned char x[4] = {(unsigned char)(u >> 24), (unsigned char)(u >> 16),
			      (unsigned char)(u >> 8), (unsigned char)u};
	import_buf_add(b, x, 4);
}

static void bin_i64(struct import_buf *b, int64_t v)
{
	bin_i32(b, (int32_t)((uint64_t)v >> 32));
	bin_i32(b, (int32_t)(uint64_t)v);
}

static void bin_text(struct import_buf *b, const char *s)
{
	size_t n = strlen(s);
	bin_i32(b, (int32_t)n);
	import_buf_add(b, s, n);
}

struct stage_ctx {
	struct import_run_state *r;
	const char *dir;
	struct import_scan *scan;
	struct known_map known;	    /* current generation, by path */
	struct known_map committed; /* files this run already committed */
	struct known_map bad;	    /* files that failed: their current rows must stay */
	struct import_buf text;
	struct import_buf raw; /* the document minified */
	struct import_pipe *pipe;
	long seq;     /* batches numbered so far */
	long pend_lo; /* committed batches not yet given to the promote pipeline */
	unsigned pend_kinds;
	long delay_ms;
};

/* Stage file i into the open batch. Returns 0 staged, 1 bad file. */
static int stage_one(struct stage_ctx *sc, size_t i, struct batch *b)
{
	struct import_run_state *r = sc->r;
	struct import_file *f = &sc->scan->files[i];
	char full[8192], sha[65], key[IMPORT_MAX_KEY + 1];
	snprintf(full, sizeof full, "%s/%s", sc->dir, f->rel);
	size_t len;
	if (import_read_file(full, &sc->text, &len) < 0) {
		char msg[512];
		int loop = errno == ELOOP;
		snprintf(msg, sizeof msg, "cannot read: %s",
			 loop ? "symlink loop" : strerror(errno));
		import_record_error(r, f->rel, NULL, loop ? "symlink_loop" : "unreadable", msg);
		return 1;
	}
	sha256_buf(sc->text.p, len, sha);
	struct known *k = known_get(&sc->known, f->rel);
	const char *kind = import_kind_name(f->kind);
	char run[32];
	snprintf(run, sizeof run, "%ld", r->id);
	size_t mark = b->rows.n;
	bin_i16(&b->rows, 8);
	bin_i32(&b->rows, 8);
	bin_i64(&b->rows, r->id);
	bin_i32(&b->rows, 4);
	bin_i32(&b->rows, (int32_t)b->no);
	bin_text(&b->rows, kind);
	if (k && k->sha && k->kind == (int)f->kind && strcmp(k->sha, sha) == 0) {
		/* Same bytes as the current generation: already checked then, nothing to parse. */
		bin_text(&b->rows, k->key);
		bin_text(&b->rows, f->rel);
		bin_text(&b->rows, sha);
		bin_i32(&b->rows, -1);
		bin_i32(&b->rows, -1);
	} else {
		/* Key first into a scratch buffer: it comes from the parse. */
		snprintf(key, sizeof key, "%s", f->key);
		sc->raw.n = 0;
		int nerr = import_map_file_typed(f->kind, f->rel, sc->text.p, len, key, sizeof key,
						 &sc->raw, &b->typed, import_record_error, r);
		if (nerr) {
			b->rows.n = mark;
			return 1;
		}
		b->kinds |= 1u << f->kind;
		bin_text(&b->rows, key);
		bin_text(&b->rows, f->rel);
		bin_text(&b->rows, sha);
		/* jsonb's binary input is a version byte and the text */
		bin_i32(&b->rows, (int32_t)sc->raw.n + 1);
		import_buf_add(&b->rows, "\1", 1);
		import_buf_add(&b->rows, sc->raw.p, sc->raw.n);
		if (b->typed.f.n) {
			bin_i32(&b->rows, (int32_t)b->typed.f.n);
			import_buf_add(&b->rows, b->typed.f.p, b->typed.f.n);
		} else {
			bin_i32(&b->rows, -1);
		}
	}
	char size[32];
	snprintf(size, sizeof size, "%lld", (long long)len);
	import_copy_text(&b->files, run);
	import_buf_add(&b->files, "\t", 1);
	import_copy_text(&b->files, f->rel);
	import_buf_add(&b->files, "\t", 1);
	import_copy_text(&b->files, size);
	import_buf_add(&b->files, "\t", 1);
	import_copy_text(&b->files, sha);
	import_buf_add(&b->files, "\n", 1);
	b->nfiles++;
	b->bytes += (long long)len;
	return 0;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : def;
}

/* Stage every file not yet committed. Returns 0 done, 1 stopped, -1 failed (err). */
/* After a batch's commit (ok) or failure: hand it to the promote pipeline, or find the
 * file the server refused by committing the batch's files one by one. Returns -1 when
 * staging must end. */
static int batch_done(struct stage_ctx *sc, struct batch *b, int ok, int last, long *seq, char *err,
		      size_t errlen)
{
	struct import_run_state *r = sc->r;
	if (ok) {
		/* a few batches at a time: fewer, larger statements */
		if (!sc->pend_lo)
			sc->pend_lo = b->no;
		sc->pend_kinds |= b->kinds;
		if (b->no - sc->pend_lo + 1 >= PIPE_BATCHES || last) {
			import_pipe_batch(r, sc->pipe, sc->pend_lo, b->no, sc->pend_kinds);
			sc->pend_lo = 0;
			sc->pend_kinds = 0;
		}
		return 0;
	}
	/* Their rows are left to the end of promote, and so is everything after them. */
	if (sc->pipe->c && !sc->pipe->failed) {
		sc->pipe->failed = 1;
		snprintf(sc->pipe->err, sizeof sc->pipe->err, "a batch was retried file by file");
	}
	import_log(r, "batch failed (%s); retrying file by file", err);
	PQclear(PQexec(r->c, "select 1"));
	if (strstr(err, "canceling statement"))
		return -1;
	struct batch one = {0};
	for (size_t j = b->first; j <= b->last; j++) {
		const char *rel = sc->scan->files[j].rel;
		if (known_get(&sc->committed, rel) || known_get(&sc->bad, rel))
			continue;
		batch_open(r, &one, seq, j);
		if (stage_one(sc, j, &one) == 0 && batch_commit(r, &one, err, errlen) < 0) {
			import_record_error(r, rel, NULL, "rejected_by_server", err);
			known_put(&sc->bad, rel, NULL, NULL, 0);
		} else if (one.open) {
			batch_commit(r, &one, err, errlen);
		}
		if (PQstatus(r->c) != CONNECTION_OK)
			break;
	}
	import_buf_free(&one.rows);
	import_buf_free(&one.files);
	import_typed_free(&one.typed);
	return PQstatus(r->c) != CONNECTION_OK || r->errors > r->max_errors ? -1 : 0;
}

/* Stage every file not yet committed, a batch per transaction. While the server finishes
 * one batch (the rows still in the socket buffer, its children, its commit) the importer
 * already parses the next: it waited at every batch's end before. */
static int stage_all(struct stage_ctx *sc, char *err, size_t errlen)
{
	struct import_run_state *r = sc->r;
	struct batch bs[2];
	memset(bs, 0, sizeof bs);
	struct batch *b = &bs[0], *prev = &bs[1];
	long bfiles = env_long("MIDSOPS_IMPORT_BATCH_FILES", BATCH_FILES);
	int rc = 0;
	size_t n = sc->scan->n;
#define SETTLE(block)                                                                              \
	do {                                                                                       \
		if (prev->ending) {                                                                \
			int done_ = batch_end_finish(r, prev, (block), err, errlen);               \
			if (done_ &&                                                               \
			    batch_done(sc, prev, done_ == 1, 0, &sc->seq, err, errlen) < 0) {      \
				rc = -1;                                                           \
				goto out;                                                          \
			}                                                                          \
		}                                                                                  \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		struct import_file *f = &sc->scan->files[i];
		if (known_get(&sc->committed, f->rel))
			continue;
		if (!b->open)
			batch_open(r, b, &sc->seq, i);
		SETTLE(0);
		if (!prev->ending && !b->copying && batch_copy(r, b, err, errlen) < 0) {
			rc = -1;
			goto out;
		}
		if (sc->delay_ms)
			usleep((useconds_t)sc->delay_ms * 1000);
		if (stage_one(sc, i, b)) {
			if (!known_get(&sc->bad, f->rel))
				known_put(&sc->bad, f->rel, NULL, NULL, 0);
			r->files_done++;
		} else {
			r->records_done++;
		}
		b->last = i;
		r->bytes_done += f->size;
		if (r->errors > r->max_errors) {
			snprintf(
			    err, errlen,
			    "%d errors exceed --max-errors %ld: run stopped, production untouched",
			    r->errors, r->max_errors);
			SETTLE(1);
			batch_commit(r, b, err + strlen(err), 1);
			rc = -1;
			goto out;
		}
		if (b->copying ? b->rows.n > STREAM_BYTES && flush_rows(r, b, err, errlen) < 0
			       : b->rows.n > GATHER_BYTES) {
			if (b->copying) {
				rc = -1;
				goto out;
			}
			/* gathered enough while the last batch ends: wait for it */
			SETTLE(1);
			if (batch_copy(r, b, err, errlen) < 0) {
				rc = -1;
				goto out;
			}
		}
		import_progress(r, 0);
		int last = i + 1 == n;
		/* the files nothing refers to get a batch of their own at the end: the
		 * pipeline then has the rest done while they are staged */
		int tail = !last && import_kind_rank(sc->scan->files[i + 1].kind) >= TAIL_RANK &&
			   import_kind_rank(f->kind) < TAIL_RANK;
		if (b->nfiles >= bfiles || b->bytes >= BATCH_BYTES || last || tail ||
		    r->stop_requested) {
			SETTLE(1);
			if (last || r->stop_requested) {
				int ok = batch_commit(r, b, err, errlen) == 0;
				if (batch_done(sc, b, ok, 1, &sc->seq, err, errlen) < 0) {
					rc = -1;
					goto out;
				}
				if (r->stop_requested) {
					rc = 1;
					goto out;
				}
				continue;
			}
			if (!b->copying && batch_copy(r, b, err, errlen) < 0) {
				rc = -1;
				goto out;
			}
			if (batch_end_send(r, b, err, errlen) < 0) {
				rc = -1;
				goto out;
			}
			struct batch *t = prev;
			prev = b;
			b = t;
		}
	}
	/* The last files were committed before (a resumed run): end the open batch. */
	SETTLE(1);
	if (b->open) {
		int ok = batch_commit(r, b, err, errlen) == 0;
		if (batch_done(sc, b, ok, 1, &sc->seq, err, errlen) < 0)
			rc = -1;
	}
out:
#undef SETTLE
	for (int k = 0; k < 2; k++) {
		struct batch *x = &bs[k];
		if (x->ending || x->copying) {
			char e2[256];
			if (x->copying)
				copy_end(r->c, "stopped", e2, sizeof e2);
			else
				while (PQgetResult(r->c))
					;
			db_rollback(r->c);
		}
		import_buf_free(&x->rows);
		import_buf_free(&x->files);
		import_typed_free(&x->typed);
	}
	import_progress(r, 1);
	return rc;
}

static int load_map(PGconn *c, struct known_map *m, const char *sql, const char *run, char *err,
		    size_t errlen)
{
	const char *p[] = {run};
	PGresult *res = db_query(c, err, errlen, sql, run ? 1 : 0, run ? p : NULL);
	if (!res)
		return -1;
	known_init(m, (size_t)PQntuples(res));
	for (int i = 0; i < PQntuples(res); i++)
		known_put(m, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			  PQnfields(res) > 2 ? PQgetvalue(res, i, 2) : NULL,
			  PQnfields(res) > 3 ? (int)import_kind_from_name(PQgetvalue(res, i, 3))
					     : 0);
	PQclear(res);
	return 0;
}

void import_log_path(const struct config *cfg, const char *db, long id, char *buf, size_t n)
{
	/* Run ids are per database: the name says which, so two targets sharing a log
	 * directory never write into one file. */
	char name[128];
	size_t k = 0;
	for (const char *s = db && *db ? db : "db"; *s && k + 1 < sizeof name; s++)
		name[k++] = (isalnum((unsigned char)*s) || *s == '-' || *s == '_') ? *s : '_';
	name[k] = 0;
	snprintf(buf, n, "%s/import/%s-run-%ld.log", cfg->log_dir, name, id);
}

static FILE *open_run_log(const struct config *cfg, PGconn *c, long id)
{
	char dir[4200], path[4300];
	snprintf(dir, sizeof dir, "%s/import", cfg->log_dir);
	if (paths_mkdir_p(dir, 0700) < 0)
		return NULL;
	import_log_path(cfg, PQdb(c), id, path, sizeof path);
	FILE *f = fopen(path, "a");
	if (f)
		fchmod(fileno(f), 0600);
	return f;
}

/* Take the one-import-per-target lock, or say who holds it. */
static int take_lock(PGconn *c, struct out *o)
{
	char err[512];
	char *v = db_scalar(c, err, sizeof err, "select pg_try_advisory_lock(" IMPORT_LOCK_KEY ")",
			    0, NULL);
	if (v && v[0] == 't') {
		free(v);
		return 0;
	}
	free(v);
	PGresult *res =
	    db_query(c, err, sizeof err,
		     "select id, coalesce(host, '?'), coalesce(pid::text, '?'), kind from "
		     "ops.import_runs where state in ('running', 'stopping') order by id "
		     "desc limit 1",
		     0, NULL);
	if (res && PQntuples(res))
		out_err(
		    o,
		    "another %s is running: run %s on host %s, pid %s (midsops import-status %s)",
		    PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 0));
	else
		out_err(o, "another import or rollback holds the import lock on this target");
	PQclear(res);
	return -1;
}

static int connect_both(struct import_run_state *r, const struct target *t, char *err,
			size_t errlen)
{
	r->c = db_connect_ready(t, "import", err, errlen);
	if (!r->c)
		return -1;
	/* A deep send buffer lets the importer run ahead of the backend instead of the two
	 * taking turns (the system's limit, net.core.wmem_max, applies). */
	int sndbuf = 4 << 20;
	setsockopt(PQsocket(r->c), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	r->pc = db_connect(t, "import-progress", err, errlen);
	if (!r->pc)
		return -1;
	/* Progress is written four times a second from the importer's loop: waiting for each
	 * WAL flush stalled the parse behind the promote's WAL. A server crash may lose the
	 * last fraction of a second of progress, which the next update rewrites anyway. */
	return db_exec(r->pc, err, errlen, "set synchronous_commit = off", 0, NULL) < 0 ? -1 : 0;
}

static void finish(struct import_run_state *r)
{
	if (r->log)
		fclose(r->log);
	if (r->pc)
		PQfinish(r->pc);
	if (r->c)
		PQfinish(r->c);
}

static void summary_out(struct import_run_state *r, int gen)
{
	double el = import_now() - r->t0;
	out_kv_int(r->o, "run", r->id);
	out_kv(r->o, "state", "%s", "completed");
	if (gen > 0)
		out_kv_int(r->o, "generation", gen);
	out_kv_int(r->o, "files", r->files_total);
	out_kv_int(r->o, "bytes", r->bytes_total);
	out_kv_int(r->o, "records", r->records_total);
	out_kv_num(r->o, "duration", el, "s");
	out_kv_num(r->o, "records_per_second", el > 0 ? (double)r->records_total / el : 0, NULL);
	out_kv_int(r->o, "errors", r->errors);
	out_kv_int(r->o, "warnings", r->warnings);
}

/* Rows now in the game tables, for the records figure of a run. */
static long long count_records(PGconn *c)
{
	char err[256];
	char *v = db_scalar(
	    c, err, sizeof err,
	    "select (select count(*) from game.documents) + (select count(*) from game.archetypes) "
	    "+ "
	    "(select count(*) from game.archetype_tables) + (select count(*) from "
	    "game.power_categories) + (select count(*) from game.powersets) + (select count(*) "
	    "from game.powers) + (select count(*) from game.power_effects) + (select count(*) from "
	    "game.effect_templates) + (select count(*) from game.enhancement_sets) + (select "
	    "count(*) from game.set_bonuses) + (select count(*) from game.enhancements) + (select "
	    "count(*) from game.tags) + (select count(*) from game.tag_links) + (select count(*) "
	    "from game.exclusion_groups) + (select count(*) from game.exclusion_group_members) + "
	    "(select count(*) from game.recharge_groups) + (select count(*) from "
	    "game.recharge_group_members)",
	    0, NULL);
	long long n = v ? atoll(v) : 0;
	free(v);
	return n;
}

/* Validate then promote (or report, for a dry run). Returns an exit status. */
static int validate_promote(struct import_run_state *r, int dry_run, int no_promote,
			    const char *kind, struct import_pipe *pp)
{
	char err[2048];
	r->phase = "validate";
	import_progress(r, 1);
	int nerr = import_validate(r, err, sizeof err);
	if (nerr < 0) {
		import_set_state(r, "failed", err);
		out_err(r->o, "validate: %s", err);
		return EXIT_FAIL;
	}
	if (nerr > 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "validation failed: %d errors; production untouched",
			 nerr);
		import_set_state(r, "failed", msg);
		out_err(r->o, "run %ld: %s", r->id, msg);
		return EXIT_FAIL;
	}
	if (dry_run || no_promote) {
		r->phase = dry_run ? "done" : "staged";
		import_progress(r, 1);
		if (dry_run) {
			const char *p[] = {r->idtxt};
			import_stage_clear(r->c, p[0], err, sizeof err);
		}
		import_set_state(r, dry_run ? "completed" : "stopped",
				 dry_run ? "dry run: checked, nothing promoted"
					 : "staged and validated; promote with import-resume");
		out_kv_int(r->o, "run", r->id);
		out_kv(r->o, "state", "%s",
		       dry_run ? "dry run completed" : "staged (not promoted)");
		out_kv_int(r->o, "files", r->files_total);
		out_kv_int(r->o, "errors", r->errors);
		out_kv_int(r->o, "warnings", r->warnings);
		return r->errors ? EXIT_FAIL : 0;
	}
	import_log(r, "validated at %.2fs", import_now() - r->t0);
	r->phase = "promote";
	import_progress(r, 1);
	/* With the pipeline, most of promote is done already, in the transaction open on its
	 * connection: finish there (the staging connection keeps the lock). If it failed,
	 * its work is rolled back and promote starts over on the staging connection. */
	int piped = 0;
	if (pp && pp->c) {
		if (import_pipe_finish(r, pp) == 0) {
			PGconn *c = r->c;
			r->c = pp->c;
			pp->c = c;
			piped = 1;
		} else {
			PQfinish(pp->c);
			pp->c = NULL;
		}
	}
	if (!piped && db_begin(r->c, err, sizeof err) < 0) {
		import_set_state(r, "failed", err);
		return EXIT_FAIL;
	}
	int gen = import_promote(r, kind, piped ? pp : NULL, err, sizeof err);
	if (gen < 0) {
		db_rollback(r->c);
		int cancelled = strstr(err, "canceling statement") != NULL;
		import_set_state(r, cancelled ? "stopped" : "failed", err);
		out_err(r->o, "promote: %s", err);
		return EXIT_FAIL;
	}
	char gen_s[32], warn[32];
	snprintf(gen_s, sizeof gen_s, "%d", gen);
	snprintf(warn, sizeof warn, "%d", r->warnings);
	const char *p[] = {r->idtxt, gen_s, warn};
	/* The run's terminal state commits with the generation: a kill after this commit
	 * leaves nothing to resume, a kill before it leaves the old generation whole. */
	if (db_exec(
		r->c, err, sizeof err,
		"update ops.import_runs set state = 'completed', phase = 'done', generation = "
		"$2::int, warnings = $3::int, finished_at = now(), updated_at = now(), summary = "
		"(select counts from ops.import_generations where generation = $2::int), message "
		"= 'promoted to generation ' || $2 where id = $1",
		3, p) < 0 ||
	    db_exec(r->c, err, sizeof err,
		    "select pg_notify('midsops_import', json_build_object('run', $1::bigint, "
		    "'phase', 'done', 'generation', $2::int)::text)",
		    2, p) < 0 ||
	    db_commit(r->c, err, sizeof err) < 0) {
		db_rollback(r->c);
		import_set_state(r, "failed", err);
		out_err(r->o, "promote: %s", err);
		return EXIT_FAIL;
	}
	r->records_total = count_records(r->c);
	r->records_done = r->records_total;
	r->phase = "done";
	import_progress(r, 1);
	out_progress_end(r->o);
	db_event(r->c, "info", "import",
		 "run %ld promoted generation %d (%lld files, %d errors, %d "
		 "warnings)",
		 r->id, gen, r->files_total, r->errors, r->warnings);
	import_log(r, "promoted generation %d at %.2fs", gen, import_now() - r->t0);
	summary_out(r, gen);
	return 0;
}

int import_run(struct out *o, const struct config *cfg, const struct target *t,
	       const struct import_opts *opts)
{
	struct import_run_state r = {
	    .o = o, .cfg = cfg, .phase = "scan", .max_errors = opts->max_errors};
	char err[2048];
	r.t0 = import_now();
	if (connect_both(&r, t, err, sizeof err) < 0) {
		out_err(o, "%s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	if (take_lock(r.c, o) < 0) {
		finish(&r);
		return EXIT_FAIL;
	}
	char host[256] = "", pid[32], dir[4096];
	gethostname(host, sizeof host - 1);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	int dry_run = opts->dry_run, no_promote = opts->no_promote;
	if (opts->resume_run >= 0) {
		/* resume: 0 means the most recent run that did not complete */
		char rid[32];
		snprintf(rid, sizeof rid, "%ld", opts->resume_run);
		const char *p[] = {rid};
		PGresult *res = db_query(
		    r.c, err, sizeof err,
		    "select id, source_dir, state, coalesce((options->>'max_errors')::bigint, 0), "
		    "phase from ops.import_runs where kind = 'import' and (($1::bigint = 0 and "
		    "state <> 'completed') or id = $1::bigint) order by id desc limit 1",
		    1, p);
		if (!res || !PQntuples(res)) {
			out_err(o, "%s",
				res ? (opts->resume_run ? "no such run" : "no import run to resume")
				    : err);
			PQclear(res);
			finish(&r);
			return EXIT_FAIL;
		}
		if (strcmp(PQgetvalue(res, 0, 2), "completed") == 0) {
			out_err(o, "run %s is already completed", PQgetvalue(res, 0, 0));
			PQclear(res);
			finish(&r);
			return EXIT_FAIL;
		}
		r.id = atol(PQgetvalue(res, 0, 0));
		snprintf(dir, sizeof dir, "%s", PQgetvalue(res, 0, 1));
		if (opts->max_errors == 0)
			r.max_errors = atol(PQgetvalue(res, 0, 3));
		PQclear(res);
	} else {
		if (!realpath(opts->dir, dir))
			snprintf(dir, sizeof dir, "%s", opts->dir);
	}
	snprintf(r.idtxt, sizeof r.idtxt, "%ld", r.id);
	char maxe[32];
	snprintf(maxe, sizeof maxe, "%ld", r.max_errors);
	if (r.id == 0) {
		/* A new run supersedes runs that were stopped or failed: their staged rows go. */
		db_exec(
		    r.c, err, sizeof err,
		    "update ops.import_runs set state = 'failed', message = coalesce(message || "
		    "'; ', '') || 'superseded by a newer run', finished_at = coalesce(finished_at, "
		    "now()) where kind = 'import' and state in ('running', 'stopping', 'stopped')",
		    0, NULL);
		import_stage_clear(r.c, NULL, err, sizeof err);
		const char *p[] = {
		    dir, host, pid, dry_run ? "true" : "false", no_promote ? "true" : "false",
		    maxe};
		char *id =
		    db_scalar(r.c, err, sizeof err,
			      "insert into ops.import_runs (source_dir, host, pid, backend_pid, "
			      "options) values ($1, $2, $3::int, pg_backend_pid(), "
			      "jsonb_build_object('dry_run', $4::boolean, 'no_promote', "
			      "$5::boolean, 'max_errors', $6::bigint)) returning id",
			      6, p);
		if (!id) {
			out_err(o, "cannot record the run: %s", err);
			finish(&r);
			return EXIT_FAIL;
		}
		r.id = atol(id);
		free(id);
		snprintf(r.idtxt, sizeof r.idtxt, "%ld", r.id);
	} else {
		const char *p[] = {r.idtxt, host, pid};
		db_exec(
		    r.c, err, sizeof err,
		    "update ops.import_runs set state = 'running', host = $2, pid = $3::int, "
		    "backend_pid = pg_backend_pid(), stop_requested = false, finished_at = null, "
		    "message = 'resumed', updated_at = now() where id = $1",
		    3, p);
		no_promote = 0;
	}
	r.log = open_run_log(cfg, r.c, r.id);
	import_log(&r, "%s %s (host %s, pid %s)", opts->resume_run >= 0 ? "resume" : "import", dir,
		   host, pid);
	db_event(r.c, "info", "import", "run %ld %s %s", r.id,
		 opts->resume_run >= 0 ? "resumed on" : "started on", dir);
	struct sigaction sa = {0}, old_int, old_term;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	import_signalled = 0;

	struct import_pipe pipe = {0};
	struct stage_ctx sc = {
	    .r = &r, .dir = dir, .pipe = &pipe, .delay_ms = env_long("MIDSOPS_IMPORT_DELAY_MS", 0)};
	struct import_scan scan = {0};
	int rc = EXIT_FAIL;
	if (opts->resume_run >= 0) {
		/* Files of this run already committed are skipped, unless the staging rows are
		 * gone (an immediate server stop empties UNLOGGED tables): then stage again. */
		const char *p[] = {r.idtxt};
		PGresult *res =
		    db_query(r.c, err, sizeof err,
			     "select (select count(*) from ops.import_files where run_id "
			     "= $1), (select count(*) from stage.records where run_id = $1)",
			     1, p);
		if (res && strcmp(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)) != 0) {
			out_line(o,
				 "staged rows of run %ld are gone (server restart?): staging again",
				 r.id);
			import_log(&r, "staging rows lost (%s files committed, %s rows): restaging",
				   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
			db_exec(r.c, err, sizeof err,
				"delete from ops.import_files where run_id = $1", 1, p);
			import_stage_clear(r.c, p[0], err, sizeof err);
		}
		PQclear(res);
		db_exec(
		    r.c, err, sizeof err,
		    "delete from ops.import_errors where run_id = $1 and severity = 'warning' or "
		    "(run_id = $1 and (path is null or path not in (select path from "
		    "ops.import_files where run_id = $1)))",
		    1, p);
		if (load_map(r.c, &sc.committed,
			     "select path, sha256 from ops.import_files where run_id = $1", r.idtxt,
			     err, sizeof err) < 0)
			goto fail;
	} else {
		known_init(&sc.committed, 0);
	}
	known_init(&sc.bad, 64);
	if (load_map(r.c, &sc.known, current_sql, NULL, err, sizeof err) < 0)
		goto fail;
	r.phase = "scan";
	import_progress(&r, 1);
	if (import_scan_dir(dir, &scan, import_record_error, &r, err, sizeof err) < 0) {
		import_record_error(&r, dir, NULL, "empty_export", err);
		goto fail;
	}
	import_log(&r, "scanned %zu files at %.2fs", scan.n, import_now() - r.t0);
	r.files_total = (long long)scan.n;
	r.bytes_total = scan.bytes;
	r.records_total = (long long)scan.n;
	for (size_t i = 0; i < scan.n; i++)
		if (known_get(&sc.committed, scan.files[i].rel)) {
			r.files_done++;
			r.bytes_done += scan.files[i].size;
			r.records_done++;
		}
	if (r.errors > r.max_errors) {
		snprintf(err, sizeof err, "%d errors during the scan exceed --max-errors %ld",
			 r.errors, r.max_errors);
		goto fail;
	}
	sc.scan = &scan;
	/* A new run that will promote takes each batch into the promote transaction as soon
	 * as it is staged (import_pipe_*). Resumed runs promote at the end, as does this one
	 * if the pipeline cannot start. */
	if (opts->resume_run < 0 && !dry_run && !no_promote &&
	    env_long("MIDSOPS_IMPORT_PIPELINE", 1) != 0) {
		char perr[512];
		pipe.c = db_connect(t, "import-promote", perr, sizeof perr);
		if (!pipe.c || import_pipe_start(&r, &pipe, perr, sizeof perr) < 0) {
			import_log(&r, "promote pipeline not used: %s", perr);
			if (pipe.c)
				PQfinish(pipe.c);
			pipe.c = NULL;
		}
	}
	r.phase = "stage";
	int st = stage_all(&sc, err, sizeof err);
	pipe.staged = sc.seq;
	if (st < 0)
		goto fail;
	if (st == 1) {
		import_set_state(&r, "stopped",
				 "stopped at a batch boundary; resume with import-resume");
		db_event(r.c, "warning", "import", "run %ld stopped at %lld of %lld files", r.id,
			 r.files_done, r.files_total);
		out_progress_end(o);
		out_kv_int(o, "run", r.id);
		out_kv(o, "state", "%s", "stopped");
		out_kv(o, "files", "%lld of %lld", r.files_done, r.files_total);
		out_line(o, "stopped; continue with: midsops import-resume %ld", r.id);
		rc = 0;
		goto out;
	}
	/* Files that failed keep their current rows: stage them unchanged, so promote does
	 * not retire a record just because its new version was bad. */
	if (r.errors) {
		struct import_buf rows = {0};
		for (size_t i = 0; i < sc.bad.cap; i++) {
			struct known *k = sc.bad.slots[i].path
					      ? known_get(&sc.known, sc.bad.slots[i].path)
					      : NULL;
			if (!k)
				continue;
			import_copy_text(&rows, r.idtxt);
			import_buf_add(&rows, "\t", 1);
			import_copy_text(&rows, import_kind_name((enum import_kind)k->kind));
			import_buf_add(&rows, "\t", 1);
			import_copy_text(&rows, k->key);
			import_buf_add(&rows, "\t", 1);
			import_copy_text(&rows, k->path);
			import_buf_add(&rows, "\t", 1);
			import_copy_text(&rows, k->sha);
			import_buf_add(&rows, "\t\\N\t\\N\n", 7);
		}
		if (rows.n) {
			PGresult *res =
			    PQexec(r.c, "copy stage.records (run_id, kind, key, path, sha, "
					"raw, f) from stdin");
			PQclear(res);
			PQputCopyData(r.c, rows.p, (int)rows.n);
			copy_end(r.c, NULL, err, sizeof err);
		}
		import_buf_free(&rows);
	}
	/* Fresh statistics for the staged rows; not of the documents, which analyze would have
	 * to decompress (a tenth of a second) for nothing a query here uses. */
	db_exec(r.c, err, sizeof err,
		"analyze stage.records (run_id, kind, key, path, sha, batch), stage.effects (key), "
		"stage.templates (key)",
		0, NULL);
	import_log(&r, "staged %lld files in %.2fs", r.files_done, import_now() - r.t0);
	rc = validate_promote(&r, dry_run, no_promote, "import", &pipe);
	goto out;
fail:
	out_progress_end(o);
	{
		int cancelled = strstr(err, "canceling statement") != NULL;
		import_set_state(&r, cancelled ? "stopped" : "failed", err);
		db_event(r.c, "error", "import", "run %ld %s: %s", r.id,
			 cancelled ? "cancelled" : "failed", err);
		out_err(o, "import run %ld %s: %s", r.id, cancelled ? "cancelled" : "failed", err);
	}
	rc = EXIT_FAIL;
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	import_scan_free(&scan);
	known_free(&sc.known);
	known_free(&sc.committed);
	known_free(&sc.bad);
	import_buf_free(&sc.text);
	import_buf_free(&sc.raw);
	if (pipe.c)
		PQfinish(pipe.c);
	finish(&r);
	return rc;
}

int import_request_stop(PGconn *c, long run, char *err, size_t errlen, long *stopped)
{
	char rid[32];
	snprintf(rid, sizeof rid, "%ld", run);
	const char *p[] = {rid};
	char *v =
	    db_scalar(c, err, errlen,
		      "with u as (update ops.import_runs set stop_requested = true, updated_at "
		      "= now() where id = (select id from ops.import_runs where state = "
		      "'running' and ($1::bigint <= 0 or id = $1::bigint) order by id desc "
		      "limit 1) returning id) select coalesce((select id from u), 0)",
		      1, p);
	if (!v)
		return -1;
	*stopped = atol(v);
	free(v);
	if (*stopped == 0) {
		snprintf(err, errlen, "%s",
			 run > 0 ? "that run is not running" : "no import is running");
		return -1;
	}
	return 0;
}

/* Rollback: rebuild the record set of generation `to` from the current rows and the
 * history of every later generation, stage it, and promote it like an import, so the
 * rollback is itself a generation that can be rolled back. */
int import_rollback(struct out *o, const struct config *cfg, const struct target *t, int to)
{
	struct import_run_state r = {.o = o, .cfg = cfg, .phase = "rollback"};
	char err[2048];
	r.t0 = import_now();
	if (connect_both(&r, t, err, sizeof err) < 0) {
		out_err(o, "%s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	if (take_lock(r.c, o) < 0) {
		finish(&r);
		return EXIT_FAIL;
	}
	char *cur =
	    db_scalar(r.c, err, sizeof err,
		      "select coalesce(max(generation), 0) from ops.import_generations", 0, NULL);
	int current = cur ? atoi(cur) : 0;
	free(cur);
	if (current == 0) {
		out_err(o, "nothing to roll back: no import generation yet");
		finish(&r);
		return EXIT_FAIL;
	}
	if (to <= 0) {
		char *prev = db_scalar(r.c, err, sizeof err,
				       "select coalesce(previous, 0) from ops.import_generations "
				       "where generation = (select max(generation) from "
				       "ops.import_generations)",
				       0, NULL);
		to = prev ? atoi(prev) : 0;
		free(prev);
	}
	if (to >= current || to < 0) {
		out_err(o, "generation %d is not before the current generation %d", to, current);
		finish(&r);
		return EXIT_FAIL;
	}
	char host[256] = "", pid[32], to_s[32];
	gethostname(host, sizeof host - 1);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(to_s, sizeof to_s, "%d", to);
	const char *p[] = {host, pid, to_s};
	char *id =
	    db_scalar(r.c, err, sizeof err,
		      "insert into ops.import_runs (kind, source_dir, host, pid, backend_pid, "
		      "phase, options) values ('rollback', 'generation ' || $3, $1, $2::int, "
		      "pg_backend_pid(), 'rollback', jsonb_build_object('to', $3::int)) "
		      "returning id",
		      3, p);
	if (!id) {
		out_err(o, "%s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	r.id = atol(id);
	free(id);
	snprintf(r.idtxt, sizeof r.idtxt, "%ld", r.id);
	r.log = open_run_log(cfg, r.c, r.id);
	import_log(&r, "rollback from generation %d to %d", current, to);
	const char *q[] = {r.idtxt, to_s};
	/* Later generations are undone newest first: the oldest saved version of a key wins.
	 * Keys untouched since `to` are staged without raw: promote leaves them as they are. */
	if (db_begin(r.c, err, sizeof err) < 0 ||
	    db_exec(
		r.c, err, sizeof err,
		"create temp table rb_cur on commit drop as "
		"select 'document' kind, key, path, sha from game.documents where not retired "
		"union all select 'archetype', key, path, sha from game.archetypes where not "
		"retired "
		"union all select 'archetype_table', key, path, sha from game.archetype_tables "
		"where not retired "
		"union all select 'power_category', key, path, sha from game.power_categories "
		"where not retired "
		"union all select 'powerset', key, path, sha from game.powersets where not retired "
		"union all select 'power', key, path, sha from game.powers where not retired "
		"union all select 'enhancement_set', key, path, sha from game.enhancement_sets "
		"where not retired "
		"union all select 'tag', key, path, sha from game.tags where not retired "
		"union all select 'exclusion_group', key, path, sha from game.exclusion_groups "
		"where not retired "
		"union all select 'recharge_group', key, path, sha from game.recharge_groups where "
		"not retired",
		0, NULL) < 0 ||
	    db_exec(
		r.c, err, sizeof err,
		"insert into stage.records (run_id, kind, key, path, sha, raw) "
		"select $1::bigint, c.kind, c.key, c.path, c.sha, null::jsonb from rb_cur c where "
		"not exists "
		"(select 1 from game.history h where h.generation > $2::int and h.kind = c.kind "
		"and h.key = c.key) "
		"union all select $1::bigint, h.kind, h.key, h.path, h.sha, h.raw from (select "
		"distinct "
		"on (kind, key) kind, key, path, sha, raw from game.history where generation > "
		"$2::int order by kind, key, generation) h where h.raw is not null",
		2, q) < 0 ||
	    db_commit(r.c, err, sizeof err) < 0) {
		db_rollback(r.c);
		import_set_state(&r, "failed", err);
		out_err(o, "rollback: %s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	if (import_stage_derive(&r, err, sizeof err) < 0) {
		import_set_state(&r, "failed", err);
		out_err(o, "rollback: %s", err);
		finish(&r);
		return EXIT_FAIL;
	}
	db_exec(r.c, err, sizeof err,
		"analyze stage.records (run_id, kind, key, path, sha, batch), stage.effects (key), "
		"stage.templates (key)",
		0, NULL);
	char *n = db_scalar(r.c, err, sizeof err,
			    "select count(*) from stage.records where run_id = $1", 1, q);
	r.files_total = r.files_done = r.records_total = n ? atoll(n) : 0;
	free(n);
	int rc = validate_promote(&r, 0, 0, "rollback", NULL);
	if (rc == 0) {
		out_kv_int(o, "rolled_back_to", to);
		db_event(r.c, "warning", "import", "rollback run %ld restored generation %d", r.id,
			 to);
	}
	finish(&r);
	return rc;
}
