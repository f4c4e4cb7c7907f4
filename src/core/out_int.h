/* The output interface's internals, shared by out.c and out_check.c only. */
#ifndef MIDSOPS_OUT_INT_H
#define MIDSOPS_OUT_INT_H

#include <cJSON.h>
#include <time.h>

#include "out.h"
#include "util.h"

#define OUT_MAX_DEPTH 8

struct out_table {
	char *name;
	int ncols;
	char **cols;
	int nrows, cap;
	char **cells; /* nrows * ncols, NULL allowed */
};


#define OUT_CHECK_ITEMS 16

/* A check's output (monitoring-plugin format): the text is held until the status is
 * known, because the plugin guidelines put the status line first. */
struct out_check_state {
	int active, done, status_set;
	char service[96];
	enum status status;
	char summary[1024];
	struct strbuf held, perf;
	struct {
		char key[64];
		char text[256];
		enum status st;
	} items[OUT_CHECK_ITEMS];
	int nitems;
	/* out_check_note: added to the items, and a floor for the status, when finishing */
	int noted;
	enum status note_st;
	char note_key[64], note_text[256];
};

/* Record a judged item, for the status line's "worst item and why". */
void out_check_item(struct out *o, const char *key, enum status st, const char *text);
void out_check_status(struct out *o, enum status st, const char *summary);
void out_json_put(struct out *o, const char *key, cJSON *item);
/* Emit straight to the sink, past the held text (progress on a tty). */
void out_emit_direct(struct out *o, const char *s, size_t n);

struct out {
	enum out_format fmt;
	FILE *fp;
	struct out_sink sink;
	int colour;
	int tty;

	/* JSON: a stack of objects; sections nest */
	cJSON *root;
	cJSON *stack[OUT_MAX_DEPTH];
	int depth;
	cJSON *lines;

	/* text: indentation by section depth */
	int tdepth;
	struct out_table *table;

	time_t last_progress;
	int progress_shown;

	struct out_check_state check;
	int json_mode; /* OUT_JSON_PRETTY, OUT_JSON_LINE or OUT_JSON_NONE */
};

#endif
