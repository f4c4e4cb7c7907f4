/* Staging: files read, checked and mapped, then sent with binary COPY into stage.records
 * (and their children into stage.effects and stage.templates), a batch per transaction
 * together with its ops.import_files rows. While the server finishes one batch the
 * importer parses the next, and each committed batch goes to the promote pipeline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "util.h"
#include "import_int.h"
#include "sha256.h"

#define BATCH_FILES 1000
#define BATCH_BYTES (24 << 20)
/* Rows go to the server as soon as this much is pending, so the backend parses jsonb
 * while the importer reads and maps the next files (the socket's send buffer is widened
 * to 4 MB for this, see connect_both). */
#define STREAM_BYTES (32 << 10)
#define PIPE_BATCHES 1 /* batches per promote pipeline step */
#define TAIL_RANK    8 /* import_kind_rank of archetype tables and documents */
/* what the importer gathers for the next batch while the last one ends */
#define GATHER_BYTES (8 << 20)

/* ---- path -> current record, to skip files that did not change ---- */

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void import_known_put(struct known_map *m, const char *path, const char *sha, const char *key,
		      int kind)
{
	size_t i = hash_str(path) & (m->cap - 1);
	while (m->slots[i].path)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].path = xstrdup(path);
	m->slots[i].sha = sha ? xstrdup(sha) : NULL;
	m->slots[i].key = key ? xstrdup(key) : NULL;
	m->slots[i].kind = kind;
}

struct known *import_known_get(const struct known_map *m, const char *path)
{
	if (!m->cap)
		return NULL;
	size_t i = hash_str(path) & (m->cap - 1);
	for (; m->slots[i].path; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->slots[i].path, path) == 0)
			return &m->slots[i];
	return NULL;
}

void import_known_init(struct known_map *m, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2 + 16)
		m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
}

void import_known_free(struct known_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slots[i].path);
		free(m->slots[i].sha);
		free(m->slots[i].key);
	}
	free(m->slots);
	memset(m, 0, sizeof *m);
}

int import_known_load(PGconn *c, struct known_map *m, const char *sql, const char *run, char *err,
		      size_t errlen)
{
	const char *p[] = {run};
	PGresult *res = db_query(c, err, errlen, sql, run ? 1 : 0, run ? p : NULL);
	if (!res)
		return -1;
	import_known_init(m, (size_t)PQntuples(res));
	for (int i = 0; i < PQntuples(res); i++)
		import_known_put(
		    m, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQnfields(res) > 2 ? PQgetvalue(res, i, 2) : NULL,
		    PQnfields(res) > 3 ? (int)import_kind_from_name(PQgetvalue(res, i, 3)) : 0);
	PQclear(res);
	return 0;
}

/* ---- staging ---- */

struct batch {
	struct import_buf rows;	   /* pending COPY data for stage.records */
	struct import_typed typed; /* typed columns, and the batch's effects and templates */
	struct import_buf files;   /* COPY data for ops.import_files */
	long no;		   /* stage.records.batch */
	unsigned kinds;		   /* a bit per kind with documents in the batch */
	char prefix[64];	   /* "RUN\tBATCH\t", before every child row */
	int nfiles;
	int nunchanged; /* of its files, staged without a parse (same bytes as current) */
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
		import_note_result(r, res);
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

int import_copy_end(PGconn *c, const char *fail, char *err, size_t errlen)
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
	b->nunchanged = 0;
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
				import_note_result(r, res);
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
		r->files_unchanged += b->nunchanged;
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

/* Stage file i into the open batch. Returns 0 staged, 1 bad file. */
static int stage_one(struct stage_ctx *sc, size_t i, struct batch *b)
{
	struct import_run_state *r = sc->r;
	struct import_file *f = &sc->scan->files[i];
	char sha[65], key[IMPORT_MAX_KEY + 1];
	size_t len;
	/* Through the export's descriptor: a file swapped for a symlink to the outside since
	 * the scan is refused, not read. */
	if (import_read_file_in(sc->scan->rootfd, f->rel, &sc->text, &len) < 0) {
		char msg[512];
		int e = errno;
		snprintf(msg, sizeof msg, "cannot read: %s",
			 e == EXDEV   ? "it leads outside the export (refused, not read)"
			 : e == ELOOP ? "symlink loop"
				      : strerror(e));
		import_record_error(r, f->rel, NULL,
				    e == EXDEV	 ? "outside_export"
				    : e == ELOOP ? "symlink_loop"
						 : "unreadable",
				    msg);
		return 1;
	}
	sha256_buf(sc->text.p, len, sha);
	struct known *k = import_known_get(&sc->known, f->rel);
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
		b->nunchanged++;
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

long import_env_long(const char *name, long def)
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
	/* Cancelled (SQLSTATE 57014) or asked to stop: no file is to blame, the run stops. */
	if (import_stopping(r))
		return -1;
	struct batch one = {0};
	for (size_t j = b->first; j <= b->last; j++) {
		const char *rel = sc->scan->files[j].rel;
		if (import_known_get(&sc->committed, rel) || import_known_get(&sc->bad, rel))
			continue;
		batch_open(r, &one, seq, j);
		if (stage_one(sc, j, &one) == 0 && batch_commit(r, &one, err, errlen) < 0) {
			import_record_error(r, rel, NULL, "rejected_by_server", err);
			import_known_put(&sc->bad, rel, NULL, NULL, 0);
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
int import_stage_all(struct stage_ctx *sc, char *err, size_t errlen)
{
	struct import_run_state *r = sc->r;
	struct batch bs[2];
	memset(bs, 0, sizeof bs);
	struct batch *b = &bs[0], *prev = &bs[1];
	long bfiles = import_env_long("MIDSOPS_IMPORT_BATCH_FILES", BATCH_FILES);
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
		if (import_known_get(&sc->committed, f->rel))
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
			if (!import_known_get(&sc->bad, f->rel))
				import_known_put(&sc->bad, f->rel, NULL, NULL, 0);
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
				import_copy_end(r->c, "stopped", e2, sizeof e2);
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
