/* Checks in the monitoring-plugin format, and figures in base units.
 *
 * The first line of a check is "SERVICE STATUS - text | perfdata", as the Monitoring
 * Plugins Development Guidelines want it: Nagios, Icinga and check_pgsql's readers take the
 * status and the perfdata from that line alone. The detail lines a command writes are held
 * until its status is known, then follow that line. The text names the worst items and
 * why, from the judged figures the command wrote; the command's own summary is used only
 * when nothing is worse than OK. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"
#include "out_int.h"

void out_emit_direct(struct out *o, const char *s, size_t n)
{
	o->sink.write(o->sink.ctx, s, n);
}

void out_check_begin(struct out *o, const char *service)
{
	struct out_check_state *k = &o->check;
	strbuf_free(&k->held);
	strbuf_free(&k->perf);
	memset(k, 0, sizeof *k);
	k->active = 1;
	snprintf(k->service, sizeof k->service, "%s", service);
	out_last_error_reset();
}

int out_check_active(const struct out *o)
{
	return o->check.active && !o->check.done;
}

static void item_add(struct out_check_state *k, const char *key, enum status st, const char *text)
{
	if (!k->active || st == ST_OK || k->nitems == OUT_CHECK_ITEMS)
		return;
	snprintf(k->items[k->nitems].key, sizeof k->items[0].key, "%s", key);
	snprintf(k->items[k->nitems].text, sizeof k->items[0].text, "%s", text);
	k->items[k->nitems].st = st;
	k->nitems++;
}

void out_check_item(struct out *o, const char *key, enum status st, const char *text)
{
	item_add(&o->check, key, st, text);
}

void out_check_note(struct out *o, enum status st, const char *key, const char *text)
{
	struct out_check_state *k = &o->check;
	k->noted = 1;
	k->note_st = st;
	snprintf(k->note_key, sizeof k->note_key, "%s", key);
	snprintf(k->note_text, sizeof k->note_text, "%s", text);
}

void out_check_status(struct out *o, enum status st, const char *summary)
{
	struct out_check_state *k = &o->check;
	k->status_set = 1;
	k->status = st;
	snprintf(k->summary, sizeof k->summary, "%s", summary);
}

/* One line of printable text, and no '|': that would start the perfdata. Control bytes
 * (a name from an export, a server message) become spaces, never escape sequences. */
static void clean_text(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
		else if (*s == '|')
			*s = '/';
}

/* "last_backup" reads as "last backup" in a sentence. */
static void add_key(struct strbuf *b, const char *key)
{
	for (const char *p = key; *p; p++)
		strbuf_add(b, *p == '_' ? " " : p, 1);
}

static void compose_text(struct out_check_state *k, enum status st, struct strbuf *b)
{
	int n = 0;
	/* The items as bad as the result first, then the others that are not OK. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < k->nitems && n < 4; i++) {
			if ((pass == 0) != (k->items[i].st == st))
				continue;
			if (n++)
				strbuf_add(b, ", ", 2);
			add_key(b, k->items[i].key);
			strbuf_addf(b, ": %s", k->items[i].text);
		}
	if (n < k->nitems)
		strbuf_addf(b, " (and %d more)", k->nitems - n);
	/* The check's own summary after the items: it often says what they add up to ("no
	 * DR standby configured"). */
	if (k->summary[0] || n == 0) {
		if (b->len)
			strbuf_add(b, "; ", 2);
		strbuf_addf(b, "%s", k->summary[0] ? k->summary : status_name(st));
	}
}

/* The check's status, with the summary and items its status line needs. */
static enum status settle(struct out_check_state *k, int rc)
{
	/* The printed status decides the exit status, so the two always agree; a check that
	 * ended without one (it could not run) takes its exit status, and anything outside
	 * the convention is UNKNOWN. */
	enum status st = k->status_set		? k->status
			 : (rc >= 0 && rc <= 3) ? (enum status)rc
						: ST_UNKNOWN;
	if (!k->status_set) {
		const char *e = out_last_error();
		snprintf(k->summary, sizeof k->summary, "%s",
			 *e	   ? e
			 : rc == 0 ? "done"
				   : "the check could not run");
		if (*e && k->nitems == 0 && st != ST_OK)
			item_add(k, "error", st, e);
	}
	if (k->noted) {
		item_add(k, k->note_key, k->note_st, k->note_text);
		st = status_worst(st, k->note_st);
	}
	return st;
}

enum status out_check_peek(struct out *o, int rc, char *text, size_t n)
{
	/* A copy: finishing settles the real state once. held and perf are only read. */
	struct out_check_state k = o->check;
	enum status st = settle(&k, rc);
	struct strbuf line = {0};
	compose_text(&k, st, &line);
	clean_text(line.s ? line.s : (char *)"");
	snprintf(text, n, "%s", line.s ? line.s : "");
	free(line.s);
	return st;
}

int out_check_finish(struct out *o, int rc)
{
	struct out_check_state *k = &o->check;
	if (!k->active || k->done)
		return rc;
	enum status st = settle(k, rc);
	struct strbuf line = {0};
	compose_text(k, st, &line);
	clean_text(line.s ? line.s : (char *)"");
	k->done = 1;
	if (o->fmt == OUT_JSON) {
		cJSON *r = o->root;
		cJSON_DeleteItemFromObjectCaseSensitive(r, "status");
		cJSON_DeleteItemFromObjectCaseSensitive(r, "summary");
		cJSON_AddStringToObject(r, "status", status_name(st));
		cJSON_AddStringToObject(r, "summary", line.s ? line.s : "");
	} else {
		struct strbuf first = {0};
		strbuf_addf(&first, "%s %s - %s", k->service, status_name(st),
			    line.s ? line.s : "");
		if (k->perf.len)
			strbuf_addf(&first, " | %s", k->perf.s);
		strbuf_add(&first, "\n", 1);
		out_emit_direct(o, first.s, first.len);
		if (k->held.len)
			out_emit_direct(o, k->held.s, k->held.len);
		free(first.s);
	}
	free(line.s);
	strbuf_free(&k->held);
	strbuf_free(&k->perf);
	memset(&k->held, 0, sizeof k->held);
	memset(&k->perf, 0, sizeof k->perf);
	return (int)st;
}

/* Perfdata numbers are [-0-9.]: never an exponent, which %g would give for big bytes. */
static void perf_num(struct strbuf *b, double v)
{
	char s[64];
	snprintf(s, sizeof s, "%.6f", v);
	char *dot = strchr(s, '.');
	if (dot) {
		char *e = s + strlen(s) - 1;
		while (e > dot && *e == '0')
			*e-- = 0;
		if (e == dot)
			*e = 0;
	}
	strbuf_add(b, s, strlen(s));
}

/* Perfdata: 'label'=value[UOM];warn;crit;min;max, numbers in the UOM's scale. */
static void perf_add(struct out_check_state *k, const char *key, const struct out_fig *f)
{
	if (!isfinite(f->value))
		return;
	double scale = f->unit == OUT_RATIO ? 100.0 : 1.0;
	const char *uom = f->unit == OUT_SECONDS   ? "s"
			  : f->unit == OUT_BYTES   ? "B"
			  : f->unit == OUT_RATIO   ? "%"
			  : f->unit == OUT_COUNTER ? "c"
						   : "";
	struct strbuf *b = &k->perf;
	if (b->len)
		strbuf_add(b, " ", 1);
	strbuf_add(b, "'", 1);
	for (const char *p = key; *p; p++)
		strbuf_add(b, *p == '\'' ? "''" : p, *p == '\'' ? 2 : 1);
	strbuf_add(b, "'=", 2);
	perf_num(b, f->value * scale);
	strbuf_add(b, uom, strlen(uom));
	double v[4] = {f->warn, f->crit, f->min, f->max};
	int have[4] = {f->thresholds, f->thresholds, f->range, f->range};
	int last = -1;
	for (int i = 0; i < 4; i++)
		if (have[i] && isfinite(v[i]))
			last = i;
	for (int i = 0; i <= last; i++) {
		strbuf_add(b, ";", 1);
		if (have[i] && isfinite(v[i])) {
			perf_num(b, v[i] * scale);
			if (i < 2 && f->low)
				strbuf_add(b, ":", 1);
		}
	}
}

static const char *unit_name(enum out_unit u)
{
	static const char *const names[] = {"", "s", "B", "ratio", "count", "total", "per_s"};
	return names[u];
}

static void fig_json(struct out *o, const char *key, int judged, enum status st,
		     const struct out_fig *f, const char *text)
{
	cJSON *obj = cJSON_CreateObject();
	if (isfinite(f->value))
		cJSON_AddNumberToObject(obj, "value", f->value);
	else
		cJSON_AddNullToObject(obj, "value");
	if (f->unit != OUT_NONE)
		cJSON_AddStringToObject(obj, "unit", unit_name(f->unit));
	if (f->thresholds) {
		if (f->low)
			cJSON_AddTrueToObject(obj, "lower_is_worse");
		if (isfinite(f->warn))
			cJSON_AddNumberToObject(obj, "warn", f->warn);
		if (isfinite(f->crit))
			cJSON_AddNumberToObject(obj, "crit", f->crit);
	}
	if (f->range) {
		if (isfinite(f->min))
			cJSON_AddNumberToObject(obj, "min", f->min);
		if (isfinite(f->max))
			cJSON_AddNumberToObject(obj, "max", f->max);
	}
	if (judged)
		cJSON_AddStringToObject(obj, "status", status_name(st));
	cJSON_AddStringToObject(obj, "text", text);
	out_json_put(o, key, obj);
}

static void fig_emit(struct out *o, const char *key, int judged, enum status st,
		     const struct out_fig *f, const char *fmt, va_list ap)
{
	char text[1024];
	vsnprintf(text, sizeof text, fmt, ap);
	if (o->check.active && !o->check.done)
		perf_add(&o->check, key, f);
	if (o->fmt == OUT_JSON) {
		fig_json(o, key, judged, st, f, text);
		if (judged)
			out_check_item(o, key, st, text);
		return;
	}
	if (judged)
		out_kv_status(o, key, st, "%s", text);
	else
		out_kv(o, key, "%s", text);
}

void out_fig(struct out *o, const char *key, const struct out_fig *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fig_emit(o, key, 0, ST_OK, f, fmt, ap);
	va_end(ap);
}

void out_fig_status(struct out *o, const char *key, enum status st, const struct out_fig *f,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fig_emit(o, key, 1, st, f, fmt, ap);
	va_end(ap);
}
