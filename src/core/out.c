/* The output interface: text (aligned, optionally coloured) or JSON (cJSON). */
#include "out.h"
#include "out_int.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct out_sink err_sink;

static void file_write(void *ctx, const char *s, size_t n)
{
	fwrite(s, 1, n, (FILE *)ctx);
}

static void emit(struct out *o, const char *s, size_t n)
{
	if (o->check.active && !o->check.done)
		strbuf_add(&o->check.held, s, n);
	else
		o->sink.write(o->sink.ctx, s, n);
}

static void emits(struct out *o, const char *s)
{
	emit(o, s, strlen(s));
}

/* Text output carries names from exports and the database (file names, JSON keys, error
 * text). A control byte in one would reach the terminal as an escape sequence (a title, a
 * cleared screen), and a newline would split a table row or a line in two. So every value,
 * cell and line is shown with C0 controls as \n, \t, \r, \e or \xNN, and DEL and the C1
 * controls (U+0080..U+009F, which some terminals obey) as \xNN; the interface's own
 * newlines and colour sequences are written apart and stay. JSON needs none of this: cJSON
 * escapes its strings. Malloc'ed. */
static char *text_escape(const char *s)
{
	size_t n = strlen(s);
	char *d = xmalloc(n * 4 + 1), *o = d;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r' || *p == 0x1b) {
			*o++ = '\\';
			*o++ = *p == '\n' ? 'n' : *p == '\t' ? 't' : *p == '\r' ? 'r' : 'e';
		} else if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			o += sprintf(o, "\\xc2\\x%02x", p[1]);
			p++;
		} else
			*o++ = (char)*p;
	}
	*o = 0;
	return d;
}

static void emit_text(struct out *o, const char *s)
{
	char *e = text_escape(s);
	emits(o, e);
	free(e);
}

static struct out *out_alloc(enum out_format fmt)
{
	struct out *o = xcalloc(1, sizeof *o);
	o->fmt = fmt;
	if (fmt == OUT_JSON) {
		o->root = cJSON_CreateObject();
		o->stack[0] = o->root;
	}
	return o;
}

/* The no-color convention: NO_COLOR counts only when it is set and not empty. */
int out_no_color_env(void)
{
	const char *v = getenv("NO_COLOR");
	return v && *v;
}

struct out *out_new_file(enum out_format fmt, FILE *fp, int colour)
{
	struct out *o = out_alloc(fmt);
	o->fp = fp;
	o->sink.write = file_write;
	o->sink.ctx = fp;
	o->tty = isatty(fileno(fp));
	o->colour = colour && o->tty && !out_no_color_env();
	return o;
}

struct out *out_new_sink(enum out_format fmt, struct out_sink sink)
{
	struct out *o = out_alloc(fmt);
	o->sink = sink;
	return o;
}

void out_json_mode(struct out *o, int mode)
{
	o->json_mode = mode;
}

enum out_format out_format(const struct out *o)
{
	return o->fmt;
}

void out_free(struct out *o)
{
	if (!o)
		return;
	if (o->table)
		out_table_end(o);
	out_progress_end(o);
	if (o->check.active)
		out_check_finish(o, ST_UNKNOWN);
	if (o->fmt == OUT_JSON && o->json_mode != OUT_JSON_NONE) {
		char *s = o->json_mode == OUT_JSON_LINE ? cJSON_PrintUnformatted(o->root)
							: cJSON_Print(o->root);
		if (s) {
			emits(o, s);
			emits(o, "\n");
			free(s);
		}
	}
	if (o->fmt == OUT_JSON)
		cJSON_Delete(o->root);
	if (o->fp)
		fflush(o->fp);
	free(o);
}

const char *status_name(enum status st)
{
	switch (st) {
	case ST_OK:
		return "OK";
	case ST_WARNING:
		return "WARNING";
	case ST_CRITICAL:
		return "CRITICAL";
	default:
		return "UNKNOWN";
	}
}

/* UNKNOWN ranks between WARNING and CRITICAL for "worst": an unknown figure is worse than
 * a warning but a confirmed critical still wins. */
static int status_rank(enum status st)
{
	static const int rank[] = {0, 1, 3, 2};
	return (st >= 0 && st <= 3) ? rank[st] : 2;
}

enum status status_worst(enum status a, enum status b)
{
	return status_rank(a) >= status_rank(b) ? a : b;
}

static const char *status_colour(enum status st)
{
	switch (st) {
	case ST_OK:
		return "\033[32m";
	case ST_WARNING:
		return "\033[33m";
	case ST_CRITICAL:
		return "\033[31;1m";
	default:
		return "\033[35m";
	}
}

static cJSON *json_top(struct out *o)
{
	return o->stack[o->depth];
}

/* Adding the same key twice to a JSON object would give invalid-looking output;
 * replace instead, so repeated figures keep the last value. */
static void json_put(struct out *o, const char *key, cJSON *item);

void out_json_put(struct out *o, const char *key, cJSON *item)
{
	json_put(o, key, item);
}

static void json_put(struct out *o, const char *key, cJSON *item)
{
	cJSON *top = json_top(o);
	if (cJSON_GetObjectItemCaseSensitive(top, key))
		cJSON_ReplaceItemInObjectCaseSensitive(top, key, item);
	else
		cJSON_AddItemToObject(top, key, item);
}

static void text_indent(struct out *o)
{
	for (int i = 0; i < o->tdepth; i++)
		emits(o, "  ");
}

void out_section(struct out *o, const char *name)
{
	if (o->fmt == OUT_JSON) {
		if (o->depth + 1 >= OUT_MAX_DEPTH)
			return;
		cJSON *obj = cJSON_CreateObject();
		json_put(o, name, obj);
		o->stack[++o->depth] = obj;
		return;
	}
	text_indent(o);
	if (o->colour)
		emits(o, "\033[1m");
	emit_text(o, name);
	if (o->colour)
		emits(o, "\033[0m");
	emits(o, "\n");
	o->tdepth++;
}

void out_section_end(struct out *o)
{
	if (o->fmt == OUT_JSON) {
		if (o->depth > 0)
			o->depth--;
		return;
	}
	if (o->tdepth > 0)
		o->tdepth--;
}

static void text_kv(struct out *o, const char *key, const char *val, const char *colour)
{
	char buf[64];
	char *k = text_escape(key);
	text_indent(o);
	snprintf(buf, sizeof buf, "%-24s ", k);
	free(k);
	emits(o, buf);
	if (colour && o->colour)
		emits(o, colour);
	emit_text(o, val);
	if (colour && o->colour)
		emits(o, "\033[0m");
	emits(o, "\n");
}

void out_kv(struct out *o, const char *key, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (o->fmt == OUT_JSON)
		json_put(o, key, cJSON_CreateString(buf));
	else
		text_kv(o, key, buf, NULL);
}

void out_kv_int(struct out *o, const char *key, long long v)
{
	if (o->fmt == OUT_JSON) {
		json_put(o, key, cJSON_CreateNumber((double)v));
		return;
	}
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	text_kv(o, key, buf, NULL);
}

void out_kv_num(struct out *o, const char *key, double v, const char *unit)
{
	if (o->fmt == OUT_JSON) {
		json_put(o, key, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
		return;
	}
	char buf[64];
	if (!isfinite(v))
		snprintf(buf, sizeof buf, "n/a");
	else
		snprintf(buf, sizeof buf, "%.2f%s%s", v, unit && *unit && *unit != '%' ? " " : "",
			 unit ? unit : "");
	text_kv(o, key, buf, NULL);
}

void out_kv_numeric(struct out *o, const char *key, const char *text)
{
	if (o->fmt != OUT_JSON) {
		text_kv(o, key, text, NULL);
		return;
	}
	char *end;
	double v = strtod(text, &end);
	if (*text && !*end && isfinite(v))
		json_put(o, key, cJSON_CreateNumber(v));
	else
		json_put(o, key, cJSON_CreateString(text));
}

void out_kv_bool(struct out *o, const char *key, int v)
{
	if (o->fmt == OUT_JSON)
		json_put(o, key, cJSON_CreateBool(v));
	else
		text_kv(o, key, v ? "yes" : "no", NULL);
}

void out_kv_status(struct out *o, const char *key, enum status st, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	out_check_item(o, key, st, buf);
	if (o->fmt == OUT_JSON) {
		cJSON *obj = cJSON_CreateObject();
		cJSON_AddStringToObject(obj, "value", buf);
		cJSON_AddStringToObject(obj, "status", status_name(st));
		json_put(o, key, obj);
		return;
	}
	/* escaped before the padding, so the status column lines up */
	char line[8300], *e = text_escape(buf);
	snprintf(line, sizeof line, "%-40s [%s]", e, status_name(st));
	free(e);
	text_kv(o, key, line, status_colour(st));
}

void out_table_begin(struct out *o, const char *name, int ncols, const char *const *cols)
{
	if (o->table)
		out_table_end(o);
	struct out_table *t = xcalloc(1, sizeof *t);
	t->name = xstrdup(name);
	t->ncols = ncols;
	t->cols = xcalloc((size_t)ncols, sizeof *t->cols);
	for (int i = 0; i < ncols; i++)
		t->cols[i] = o->fmt == OUT_JSON ? xstrdup(cols[i]) : text_escape(cols[i]);
	o->table = t;
}

void out_row(struct out *o, const char *const *cells)
{
	struct out_table *t = o->table;
	if (!t)
		return;
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xrealloc(t->cells, (size_t)t->cap * (size_t)t->ncols * sizeof *t->cells);
	}
	/* Text cells are kept escaped, so the widths are those shown. */
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
		    o->fmt == OUT_JSON || !cells[i] ? xstrdup(cells[i]) : text_escape(cells[i]);
	t->nrows++;
}

void out_rowf(struct out *o, ...)
{
	struct out_table *t = o->table;
	if (!t)
		return;
	const char *cells[64];
	va_list ap;
	va_start(ap, o);
	for (int i = 0; i < t->ncols && i < 64; i++)
		cells[i] = va_arg(ap, const char *);
	va_end(ap);
	out_row(o, cells);
}

static int is_number(const char *s)
{
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	(void)d;
	/* Leading zeros ("007") and hex are identifiers, not numbers. */
	if (s[0] == '0' && s[1] && s[1] != '.')
		return 0;
	if (strchr(s, 'x') || strchr(s, 'X') || strchr(s, 'n') || strchr(s, 'N'))
		return 0;
	return *end == '\0' && errno == 0;
}

/* Display width of UTF-8 text: count code points that are not continuation bytes.
 * Good enough for alignment of names; the console does real wcwidth. */
static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static void emit_padded(struct out *o, const char *s, int width, int last)
{
	emits(o, s);
	if (last)
		return;
	for (int n = text_width(s); n < width + 2; n++)
		emit(o, " ", 1);
}

static void table_free(struct out_table *t)
{
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	for (int i = 0; i < t->ncols; i++)
		free(t->cols[i]);
	free(t->cells);
	free(t->cols);
	free(t->name);
	free(t);
}

void out_table_end(struct out *o)
{
	struct out_table *t = o->table;
	if (!t)
		return;
	o->table = NULL;
	if (o->fmt == OUT_JSON) {
		cJSON *arr = cJSON_CreateArray();
		for (int r = 0; r < t->nrows; r++) {
			cJSON *row = cJSON_CreateObject();
			for (int c = 0; c < t->ncols; c++) {
				const char *v = t->cells[r * t->ncols + c];
				if (!v)
					cJSON_AddNullToObject(row, t->cols[c]);
				else if (is_number(v))
					cJSON_AddNumberToObject(row, t->cols[c], strtod(v, NULL));
				else
					cJSON_AddStringToObject(row, t->cols[c], v);
			}
			cJSON_AddItemToArray(arr, row);
		}
		json_put(o, t->name, arr);
		table_free(t);
		return;
	}
	int *w = xcalloc((size_t)t->ncols, sizeof *w);
	for (int c = 0; c < t->ncols; c++)
		w[c] = text_width(t->cols[c]);
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			const char *v = t->cells[r * t->ncols + c];
			int n = v ? text_width(v) : 0;
			if (n > w[c])
				w[c] = n;
		}
	text_indent(o);
	if (o->colour)
		emits(o, "\033[1m");
	for (int c = 0; c < t->ncols; c++)
		emit_padded(o, t->cols[c], w[c], c == t->ncols - 1);
	if (o->colour)
		emits(o, "\033[0m");
	emits(o, "\n");
	for (int r = 0; r < t->nrows; r++) {
		text_indent(o);
		for (int c = 0; c < t->ncols; c++) {
			const char *v = t->cells[r * t->ncols + c];
			emit_padded(o, v ? v : "", w[c], c == t->ncols - 1);
		}
		emits(o, "\n");
	}
	if (t->nrows == 0) {
		text_indent(o);
		emits(o, "(none)\n");
	}
	free(w);
	table_free(t);
}

void out_vline(struct out *o, const char *fmt, va_list ap)
{
	char buf[8192];
	vsnprintf(buf, sizeof buf, fmt, ap);
	if (o->fmt == OUT_JSON) {
		if (!o->lines) {
			o->lines = cJSON_CreateArray();
			cJSON_AddItemToObject(o->root, "lines", o->lines);
		}
		cJSON_AddItemToArray(o->lines, cJSON_CreateString(buf));
		return;
	}
	out_progress_end(o);
	/* Newlines before and after the text and its leading tabs are the caller's layout
	 * (a blank line, a script's indentation); any other control byte is data. */
	char *p = buf, *end = buf + strlen(buf);
	for (; *p == '\n'; p++)
		emits(o, "\n");
	int trailing = 0;
	for (; end > p && end[-1] == '\n'; trailing++)
		*--end = 0;
	text_indent(o);
	size_t tabs = strspn(p, "\t");
	emit(o, p, tabs);
	emit_text(o, p + tabs);
	emits(o, "\n");
	while (trailing--)
		emits(o, "\n");
}

void out_line(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	out_vline(o, fmt, ap);
	va_end(ap);
}

void fmt_bytes(char *buf, size_t n, double b)
{
	const char *u[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	int i = 0;
	while (b >= 1024 && i < 5) {
		b /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, n, "%.0f %s", b, u[i]);
	else
		snprintf(buf, n, "%.1f %s", b, u[i]);
}

void fmt_duration(char *buf, size_t n, double s)
{
	if (isnan(s))
		snprintf(buf, n, "n/a");
	else if (s < 60)
		snprintf(buf, n, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, n, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
	else if (s < 86400)
		snprintf(buf, n, "%.0fh%02.0fm", floor(s / 3600), fmod(s, 3600) / 60);
	else
		snprintf(buf, n, "%.0fd%02.0fh", floor(s / 86400), fmod(s, 86400) / 3600);
}

void out_seconds_cell(char *buf, size_t n, double s, int json, int decimals)
{
	if (isnan(s))
		snprintf(buf, n, "%s", json ? "" : "-");
	else if (json)
		snprintf(buf, n, "%.*f", decimals, s);
	else
		fmt_duration(buf, n, s);
}

static void progress(struct out *o, const char *label, double done, double total,
		     const char *detail, int bytes);

void out_progress(struct out *o, const char *label, double done, double total, const char *detail)
{
	progress(o, label, done, total, detail, 0);
}

void out_progress_bytes(struct out *o, const char *label, double done, double total,
			const char *detail)
{
	progress(o, label, done, total, detail, 1);
}

static void progress(struct out *o, const char *label, double done, double total,
		     const char *detail, int bytes)
{
	if (o->fmt == OUT_JSON)
		return;
	char buf[512];
	if (o->tty) {
		int width = 30, fill = 0;
		double pct = total > 0 ? done / total * 100.0 : 0;
		if (total > 0)
			fill = (int)(width * (done / total));
		if (fill > width)
			fill = width;
		char bar[64];
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '-', (size_t)(width - fill));
		bar[width] = 0;
		char *l = text_escape(label), *d = text_escape(detail ? detail : "");
		snprintf(buf, sizeof buf, "\r%-10s [%s] %5.1f%% %s\033[K", l, bar, pct, d);
		free(l);
		free(d);
		/* A check's text is held for its status line; its bar is not text. */
		if (out_check_active(o))
			out_emit_direct(o, buf, strlen(buf));
		else
			emits(o, buf);
		o->progress_shown = 1;
		if (o->fp)
			fflush(o->fp);
		return;
	}
	time_t now = time(NULL);
	if (out_check_active(o))
		return; /* progress lines would come before the status line */
	if (now == o->last_progress && done < total)
		return;
	o->last_progress = now;
	char *l = text_escape(label), *d = text_escape(detail ? detail : "");
	char dn[32], tn[32];
	if (bytes) {
		fmt_bytes(dn, sizeof dn, done);
		fmt_bytes(tn, sizeof tn, total);
	} else {
		snprintf(dn, sizeof dn, "%.0f", done);
		snprintf(tn, sizeof tn, "%.0f", total);
	}
	if (total > 0)
		snprintf(buf, sizeof buf, "%s: %s/%s (%.1f%%) %s\n", l, dn, tn,
			 done / total * 100.0, d);
	else if (done > 0)
		snprintf(buf, sizeof buf, "%s: %s %s\n", l, dn, d);
	else
		snprintf(buf, sizeof buf, "%s: %s\n", l, d);
	free(l);
	free(d);
	emits(o, buf);
}

void out_progress_end(struct out *o)
{
	if (o->progress_shown && out_check_active(o)) {
		out_emit_direct(o, "\r\033[K", 4);
		o->progress_shown = 0;
	}
	if (o->progress_shown) {
		emits(o, "\n");
		o->progress_shown = 0;
	}
}

void out_status(struct out *o, enum status st, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (o->check.active && !o->check.done) {
		/* The status line comes first: out_check_finish prints it. */
		out_check_status(o, st, buf);
		return;
	}
	if (o->fmt == OUT_JSON) {
		cJSON *r = o->root;
		cJSON_DeleteItemFromObjectCaseSensitive(r, "status");
		cJSON_DeleteItemFromObjectCaseSensitive(r, "summary");
		cJSON_AddStringToObject(r, "status", status_name(st));
		cJSON_AddStringToObject(r, "summary", buf);
		return;
	}
	out_progress_end(o);
	if (o->colour)
		emits(o, status_colour(st));
	emits(o, status_name(st));
	if (o->colour)
		emits(o, "\033[0m");
	emits(o, ": ");
	emit_text(o, buf);
	emits(o, "\n");
}

void out_set_err_sink(struct out_sink sink)
{
	err_sink = sink;
}

static char last_error[1024];

const char *out_last_error(void)
{
	return last_error;
}

void out_last_error_reset(void)
{
	last_error[0] = 0;
}

static void err_emit(const char *prefix, const char *fmt, va_list ap)
{
	char msg[4096], buf[4200];
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (!*prefix)
		snprintf(last_error, sizeof last_error, "%.1023s", msg);
	/* libpq's messages end in a newline of their own: a terminator, not text */
	for (size_t l = strlen(msg); l && msg[l - 1] == '\n'; l--)
		msg[l - 1] = 0;
	char *e = text_escape(msg);
	snprintf(buf, sizeof buf - 1, "midsops: %s%s", prefix, e);
	free(e);
	size_t len = strlen(buf);
	if (len + 1 < sizeof buf) {
		buf[len++] = '\n';
		buf[len] = 0;
	}
	if (err_sink.write)
		err_sink.write(err_sink.ctx, buf, len);
	else {
		fflush(stdout);
		fwrite(buf, 1, len, stderr);
	}
}

/* A bar in progress ends first, so the message gets a line of its own. */
static void err_after_progress(struct out *o, const char *prefix, const char *fmt, va_list ap)
{
	if (o)
		out_progress_end(o);
	err_emit(prefix, fmt, ap);
}

void out_err(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_after_progress(o, "", fmt, ap);
	va_end(ap);
}

void out_warn(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_after_progress(o, "warning: ", fmt, ap);
	va_end(ap);
}
