/* The timeline: what happened, newest first, from ops.events (imports, backups, restores,
 * incidents, the console's disconnects, reconnects and checks, cancels and terminates) and
 * the wizards' runs and steps (ops.wizard_runs, ops.wizard_steps). One SQL text and a
 * parser, as the console's probes: `midsops timeline` runs it synchronously, the console's
 * monitor sends it asynchronously with its own deadline. */
#ifndef MIDSOPS_PROBE_TIMELINE_H
#define MIDSOPS_PROBE_TIMELINE_H

#include <libpq-fe.h>
#include <time.h>

/* The console's view keeps at most this many entries. */
#define TIMELINE_CONSOLE_MAX 200

struct tl_entry {
	double at;	  /* epoch */
	long long id;	  /* ops.events id; 0 for a wizard's entry */
	long long run_id; /* the import run or the wizard run; 0: none */
	int pid;
	char level[8];
	char source[32]; /* the ops.events source, or "wizard" */
	char kind[16];	 /* what it is: disconnect, reconnect, check, import, backup, ... */
	char host[64];
	char *message; /* in full: the details */
};

struct timeline {
	int ok;
	char error[256];
	char sqlstate[6];
	time_t taken;
	int n;
	struct tl_entry *v; /* newest first */
};

/* The query: $1 the window in seconds, $2 the most rows. with_wizards: also the wizards'
 * tables (a database whose schema predates them has only ops.events). */
const char *probe_timeline_sql(int with_wizards);
/* Fills t from a result of that query (t's old entries are freed first); -1 with t->error
 * and t->sqlstate on a failed query. */
int probe_timeline_parse(PGresult *r, struct timeline *t);
/* Runs the query on c: the last since_s seconds, at most max entries. */
int probe_timeline(PGconn *c, long since_s, int max, struct timeline *t);
void probe_timeline_free(struct timeline *t);
/* A one-line summary of e's message (its first line), cut at n bytes. */
void probe_timeline_summary(const struct tl_entry *e, char *buf, size_t n);
/* Whether a console event's message is a disconnect or a reconnect, as the kind says:
 * the monitor writes both with source 'console'. */
void probe_timeline_kind(const char *source, const char *message, char *kind, size_t n);

#endif
