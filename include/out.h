/* Output interface: every command writes through this, never printf.
 * Text (aligned, coloured on a tty unless NO_COLOR) or JSON (--json, built with cJSON).
 * The same calls produce both, so the data is identical either way. */
#ifndef MIDSOPS_OUT_H
#define MIDSOPS_OUT_H

#include <stdarg.h>
#include <stdio.h>

/* Monitoring-plugin convention (check_postgres, Nagios). */
enum status { ST_OK = 0, ST_WARNING = 1, ST_CRITICAL = 2, ST_UNKNOWN = 3 };

enum out_format { OUT_TEXT, OUT_JSON };

/* Where finished text goes. The CLI writes to a FILE; the console passes a sink that
 * appends to its output area. */
struct out_sink {
	void (*write)(void *ctx, const char *s, size_t n);
	void *ctx;
};

struct out;

struct out *out_new_file(enum out_format fmt, FILE *fp, int colour);
struct out *out_new_sink(enum out_format fmt, struct out_sink sink);
void out_free(struct out *o); /* flushes (JSON is printed here) */
/* How out_free prints the JSON document: pretty (the default), as one compact line (a
 * stream of documents, NDJSON), or not at all (a command that streamed its own). */
enum { OUT_JSON_PRETTY, OUT_JSON_LINE, OUT_JSON_NONE };
void out_json_mode(struct out *o, int mode);
enum out_format out_format(const struct out *o);

const char *status_name(enum status st); /* "OK", "WARNING", ... */
enum status status_worst(enum status a, enum status b);

/* A section groups key/values and tables: text prints a heading, JSON nests an object. */
void out_section(struct out *o, const char *name);
void out_section_end(struct out *o);

void out_kv(struct out *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void out_kv_int(struct out *o, const char *key, long long v);
void out_kv_num(struct out *o, const char *key, double v, const char *unit);
void out_kv_bool(struct out *o, const char *key, int v);
/* A value the caller knows is numeric (a number column), printed as it reads: text as is,
 * JSON as a number (a string only if it does not parse). */
void out_kv_numeric(struct out *o, const char *key, const char *text);
/* A judged figure: value plus its status; text colours it, JSON adds {"value","status"}. */
void out_kv_status(struct out *o, const char *key, enum status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Tables: text aligns columns at out_table_end; JSON emits an array of objects.
 * Cells are strings; a NULL cell prints as "" and becomes JSON null. Cells that parse
 * fully as numbers become JSON numbers. */
void out_table_begin(struct out *o, const char *name, int ncols, const char *const *cols);
void out_row(struct out *o, const char *const *cells);
void out_rowf(struct out *o, ...); /* ncols char* arguments */
void out_table_end(struct out *o);

/* The no-color convention: true when NO_COLOR is set and not empty. */
int out_no_color_env(void);

/* Free text. JSON collects lines into a "lines" array. */
void out_line(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_vline(struct out *o, const char *fmt, va_list ap);

/* Progress of long work: a bar on a tty, plain lines elsewhere (at most one per second),
 * nothing in JSON. total <= 0 means unknown. */
void out_progress(struct out *o, const char *label, double done, double total, const char *detail);
/* The same for a count of bytes: plain lines show "28.4 MB/114.7 MB", never raw bytes. */
void out_progress_bytes(struct out *o, const char *label, double done, double total,
			const char *detail);
/* bytes in binary units with one decimal: "512 B", "28.4 MB". */
void fmt_bytes(char *buf, size_t n, double bytes);
/* seconds for a person: "42s", "3m05s", "2h10m", "1d04h"; "n/a" for NAN. */
void fmt_duration(char *buf, size_t n, double seconds);
/* A table cell of seconds: for a person "1m20s" ("-" when not known, NAN); in JSON the
 * figure with `decimals` places ("" when not known). */
void out_seconds_cell(char *buf, size_t n, double s, int json, int decimals);
void out_progress_end(struct out *o);

/* The overall result of a check command: text prints "STATUS: summary", JSON sets
 * "status" and "summary" at the top level. */
void out_status(struct out *o, enum status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks print in the monitoring-plugin format: the first line is
 * "SERVICE STATUS - text | perfdata", the detail lines follow. cmd_run begins one for every
 * check; the text is held until out_check_finish, which prints the status line and returns
 * the exit status that agrees with it (rc is the command's own, used when it printed no
 * status). */
void out_check_begin(struct out *o, const char *service);
int out_check_active(const struct out *o);
int out_check_finish(struct out *o, int rc);
/* The status and the status line's text (no service, no perfdata) out_check_finish would
 * give now, without finishing: for the log's record of the check. */
enum status out_check_peek(struct out *o, int rc, char *text, size_t n);
/* A problem beside what the check judged (its log could not be written): the status is at
 * least st, and key: text is among the status line's items. */
void out_check_note(struct out *o, enum status st, const char *key, const char *text);

/* A figure in base units: seconds, bytes, a ratio 0..1, a count of things, or a counter
 * that only grows. Thresholds and range are in the same units, set with .thresholds and
 * .range. */
enum out_unit {
	OUT_NONE,
	OUT_SECONDS,
	OUT_BYTES,
	OUT_RATIO,
	OUT_COUNT,
	OUT_COUNTER,
	OUT_PER_SECOND /* a rate: things per second */
};
struct out_fig {
	double value; /* NAN: unknown */
	enum out_unit unit;
	int thresholds, range;
	int low; /* lower is worse: perfdata thresholds read "warn:" */
	double warn, crit, min, max;
};
/* A figure with its display text: text prints the text; JSON an object
 * {"value", "unit", "warn", "crit", "min", "max", "status", "text"}; a check adds perfdata. */
void out_fig(struct out *o, const char *key, const struct out_fig *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void out_fig_status(struct out *o, const char *key, enum status st, const struct out_fig *f,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The last message given to out_err, for a check's status line. */
const char *out_last_error(void);
void out_last_error_reset(void);

/* Diagnostics go to stderr (or the console's error pane), never into JSON data. */
void out_err(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_warn(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set the process-wide diagnostic sink (stderr by default). */
void out_set_err_sink(struct out_sink sink);

#endif
