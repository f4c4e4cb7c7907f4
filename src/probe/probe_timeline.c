/* The timeline probe (include/probe_timeline.h): ops.events and the wizards' runs and
 * steps in one window, newest first. */
#include "probe_timeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "util.h"

/* Its own order and limit: an index scan back from now on events_at reads only the rows
 * shown, however many the window holds (20,000 events in 24h: 46 ms sorted whole, 2 ms so). */
#define EVENTS_PART                                                                                \
	"(select extract(epoch from e.at)::float8 as at, e.id, e.level, e.source, e.message,\n"    \
	"  coalesce(e.host, ''), coalesce(e.pid, 0), coalesce(e.run_id, 0)\n"                      \
	"  from ops.events e where e.level <> 'debug'\n"                                           \
	"  and e.at >= now() - make_interval(secs => $1::float8)\n"                                \
	"  order by e.at desc, e.id desc limit $2::int)\n"

/* A wizard's start and end (its status), and each step with its outcome, as entries of
 * the source 'wizard'. */
#define WIZARD_PART                                                                                \
	"union all\n"                                                                              \
	"select extract(epoch from r.started_at)::float8, 0, 'info', 'wizard',\n"                  \
	"  'wizard ' || r.runbook || ' #' || r.id || ' started by ' || r.operator || ': ' ||\n"    \
	"  r.title, r.host, coalesce(r.driver_pid, 0), r.id\n"                                     \
	"  from ops.wizard_runs r\n"                                                               \
	"  where r.started_at >= now() - make_interval(secs => $1::float8)\n"                      \
	"union all\n"                                                                              \
	"select extract(epoch from r.ended_at)::float8, 0,\n"                                      \
	"  case r.status when 'failed' then 'error' when 'aborted' then 'warning'\n"               \
	"    else 'info' end, 'wizard',\n"                                                         \
	"  'wizard ' || r.runbook || ' #' || r.id || ' ' || r.status ||\n"                         \
	"  coalesce(': ' || r.reason, ''), r.host, coalesce(r.driver_pid, 0), r.id\n"              \
	"  from ops.wizard_runs r where r.ended_at is not null\n"                                  \
	"  and r.ended_at >= now() - make_interval(secs => $1::float8)\n"                          \
	"union all\n"                                                                              \
	"select extract(epoch from coalesce(s.ended_at, s.started_at))::float8, 0,\n"              \
	"  case s.outcome when 'failed' then 'error' when 'warning' then 'warning'\n"              \
	"    when 'interrupted' then 'warning' else 'info' end, 'wizard',\n"                       \
	"  'wizard ' || r.runbook || ' #' || r.id || ' step ' || s.seq || ' ' || s.title ||\n"     \
	"  ': ' || s.outcome || coalesce(' (exit ' || s.exit_status || ')', '') ||\n"              \
	"  coalesce(': ' || s.reason, '') || coalesce(E'\\n' || s.detail, '') ||\n"                \
	"  coalesce(E'\\n' || s.output_excerpt, ''), r.host, coalesce(r.driver_pid, 0), r.id\n"    \
	"  from ops.wizard_steps s join ops.wizard_runs r on r.id = s.run_id\n"                    \
	"  where coalesce(s.ended_at, s.started_at) >= now() - make_interval(secs => "             \
	"$1::float8)\n"

#define ORDER_PART "order by 1 desc, 2 desc limit $2::int"

const char *probe_timeline_sql(int with_wizards)
{
	return with_wizards ? "/* midsops timeline */ select * from (" EVENTS_PART WIZARD_PART
			      ") t " ORDER_PART
			    : "/* midsops timeline */ select * from " EVENTS_PART " t " ORDER_PART;
}

void probe_timeline_free(struct timeline *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->v[i].message);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

void probe_timeline_kind(const char *source, const char *message, char *kind, size_t n)
{
	/* The monitor's own words (probe_async.c) and the console's check record. */
	static const struct {
		const char *prefix, *kind;
	} console[] = {
	    {"lost the connection", "disconnect"},
	    {"cannot connect", "disconnect"},
	    {"connected again", "reconnect"},
	    {"check ", "check"},
	};
	/* The sessions view's actions (maint_sessions.c): what they did, in a word. */
	if (strcmp(source, "session-cancel") == 0 || strcmp(source, "session-terminate") == 0) {
		snprintf(kind, n, "%s", source + strlen("session-"));
		return;
	}
	if (strcmp(source, "console") == 0)
		for (size_t i = 0; i < sizeof console / sizeof console[0]; i++)
			if (strncmp(message, console[i].prefix, strlen(console[i].prefix)) == 0) {
				snprintf(kind, n, "%s", console[i].kind);
				return;
			}
	snprintf(kind, n, "%s", source);
}

void probe_timeline_summary(const struct tl_entry *e, char *buf, size_t n)
{
	const char *m = e->message ? e->message : "";
	size_t len = strcspn(m, "\n");
	snprintf(buf, n, "%.*s%s", (int)len, m, m[len] ? " ..." : "");
}

int probe_timeline_parse(PGresult *r, struct timeline *t)
{
	probe_timeline_free(t);
	t->ok = 0;
	t->error[0] = t->sqlstate[0] = 0;
	t->taken = time(NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(t->sqlstate, sizeof t->sqlstate, "%s", st ? st : "");
		snprintf(t->error, sizeof t->error, "%.255s", PQresultErrorMessage(r));
		t->error[strcspn(t->error, "\n")] = 0;
		return -1;
	}
	int rows = PQntuples(r);
	t->v = rows ? xcalloc((size_t)rows, sizeof *t->v) : NULL;
	for (int i = 0; i < rows; i++) {
		struct tl_entry *e = &t->v[i];
		e->at = strtod(PQgetvalue(r, i, 0), NULL);
		e->id = atoll(PQgetvalue(r, i, 1));
		snprintf(e->level, sizeof e->level, "%s", PQgetvalue(r, i, 2));
		snprintf(e->source, sizeof e->source, "%s", PQgetvalue(r, i, 3));
		e->message = xstrdup(PQgetvalue(r, i, 4));
		snprintf(e->host, sizeof e->host, "%s", PQgetvalue(r, i, 5));
		e->pid = atoi(PQgetvalue(r, i, 6));
		e->run_id = atoll(PQgetvalue(r, i, 7));
		probe_timeline_kind(e->source, e->message, e->kind, sizeof e->kind);
	}
	t->n = rows;
	t->ok = 1;
	return 0;
}

int probe_timeline(PGconn *c, long since_s, int max, struct timeline *t)
{
	char secs[32], lim[32];
	snprintf(secs, sizeof secs, "%ld", since_s);
	snprintf(lim, sizeof lim, "%d", max);
	const char *p[] = {secs, lim};
	PGresult *r = PQexecParams(c, probe_timeline_sql(1), 2, NULL, p, NULL, NULL, 0);
	int rc = probe_timeline_parse(r, t);
	PQclear(r);
	return rc;
}
