/* The incident engine (include/incident.h). Every value reaches SQL as a parameter; what
 * changes data runs in one transaction with its ops.events entry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "incident.h"
#include "notify.h"
#include "paths.h"
#include "util.h"

static const struct incident_severity severities[] = {
    {.name = "S1", .what = "complete outage", .respond = "immediate", .respond_s = 0},
    {.name = "S2", .what = "major degradation", .respond = "1 hour", .respond_s = 3600},
    {.name = "S3", .what = "minor issues", .respond = "4 hours", .respond_s = 4 * 3600},
    {.name = "S4", .what = "low priority", .respond = "next business day", .respond_s = -1},
};

const struct incident_severity *incident_severity(const char *name)
{
	for (size_t i = 0; i < sizeof severities / sizeof severities[0]; i++)
		if (name && strcasecmp(name, severities[i].name) == 0)
			return &severities[i];
	return NULL;
}

int incident_overdue(const struct incident *inc)
{
	return !inc->responded && inc->respond_left < 0;
}

void incident_duration(char *buf, size_t n, double seconds)
{
	long s = seconds < 0 ? 0 : (long)(seconds + 0.5);
	if (s < 60)
		snprintf(buf, n, "%lds", s);
	else if (s < 3600 && s % 60 == 0)
		snprintf(buf, n, "%ldm", s / 60);
	else if (s < 3600)
		snprintf(buf, n, "%ldm %lds", s / 60, s % 60);
	else if (s < 86400 && s % 3600 / 60 == 0)
		snprintf(buf, n, "%ldh", s / 3600);
	else if (s < 86400)
		snprintf(buf, n, "%ldh %ldm", s / 3600, s % 3600 / 60);
	else if (s % 86400 / 3600 == 0)
		snprintf(buf, n, "%ldd", s / 86400);
	else
		snprintf(buf, n, "%ldd %ldh", s / 86400, s % 86400 / 3600);
}

/* Times as the report and the output show them: UTC, whatever the session's zone. */
#define TS(x) "coalesce(to_char((" x ") at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), '')"

#define INCIDENT_COLS                                                                              \
	"id, severity, title, opened_by, coalesce(closed_by, ''), " TS("opened_at") ", " TS(       \
	    "respond_by") ", " TS("responded_at") ", " TS("closed_at") ", "                        \
								       "extract(epoch from "       \
								       "coalesce(closed_at, "      \
								       "clock_timestamp()) - "     \
								       "opened_at), "              \
								       "extract(epoch from "       \
								       "respond_by - "             \
								       "coalesce(responded_at, "   \
								       "clock_timestamp())), "     \
								       "coalesce(extract(epoch "   \
								       "from responded_at - "      \
								       "opened_at), -1), "         \
								       "responded_at is not "      \
								       "null, "                    \
								       "coalesce(report_path, '')"

static void fill(struct incident *inc, const struct maint_rows *r)
{
	memset(inc, 0, sizeof *inc);
	const char *v;
	inc->id = atoll(maint_cell(r, 0, 0));
	snprintf(inc->severity, sizeof inc->severity, "%s", maint_cell(r, 0, 1));
	snprintf(inc->title, sizeof inc->title, "%s", maint_cell(r, 0, 2));
	snprintf(inc->opened_by, sizeof inc->opened_by, "%s", maint_cell(r, 0, 3));
	snprintf(inc->closed_by, sizeof inc->closed_by, "%s", maint_cell(r, 0, 4));
	snprintf(inc->opened_at, sizeof inc->opened_at, "%s", maint_cell(r, 0, 5));
	snprintf(inc->respond_by, sizeof inc->respond_by, "%s", maint_cell(r, 0, 6));
	snprintf(inc->responded_at, sizeof inc->responded_at, "%s", maint_cell(r, 0, 7));
	snprintf(inc->closed_at, sizeof inc->closed_at, "%s", maint_cell(r, 0, 8));
	maint_num(r, 0, 9, &inc->age);
	maint_num(r, 0, 10, &inc->respond_left);
	maint_num(r, 0, 11, &inc->to_respond);
	v = maint_cell(r, 0, 12);
	inc->responded = v && v[0] == 't';
	snprintf(inc->report_path, sizeof inc->report_path, "%s", maint_cell(r, 0, 13));
}

/* The open incident, locked when lock is set (inside a transaction). */
static int current(PGconn *c, int lock, struct incident *inc, struct db_error *e)
{
	struct maint_rows r;
	if (maint_rows_query(c, &r, e,
			     lock ? "select " INCIDENT_COLS
				    " from ops.incidents where closed_at is null for update"
				  : "select " INCIDENT_COLS
				    " from ops.incidents where closed_at is null",
			     0, NULL) < 0)
		return -1;
	int found = r.nrows > 0;
	if (found)
		fill(inc, &r);
	maint_rows_free(&r);
	return found;
}

int incident_current(PGconn *c, struct incident *inc, struct db_error *e)
{
	return current(c, 0, inc, e);
}

static int by_id(PGconn *c, long long id, struct incident *inc, struct db_error *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *p[] = {ids};
	struct maint_rows r;
	if (maint_rows_query(c, &r, e, "select " INCIDENT_COLS " from ops.incidents where id = $1",
			     1, p) < 0)
		return -1;
	int found = r.nrows > 0;
	if (found)
		fill(inc, &r);
	maint_rows_free(&r);
	return found ? 0 : -1;
}

static int exec_e(PGconn *c, struct db_error *e, const char *sql, int n, const char *const *p)
{
	PGresult *r = db_query_e(c, e, sql, n, p);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

static int begin(PGconn *c, struct db_error *e)
{
	return exec_e(c, e, "begin", 0, NULL);
}

static int commit(PGconn *c, struct db_error *e)
{
	return exec_e(c, e, "commit", 0, NULL);
}

int incident_start(PGconn *c, const struct incident_severity *sev, const char *title,
		   const char *who, struct incident *inc, struct db_error *e)
{
	if (begin(c, e) < 0)
		return -1;
	int open = current(c, 1, inc, e);
	if (open != 0) {
		db_rollback(c);
		return open < 0 ? -1 : INCIDENT_BUSY;
	}
	char secs[32];
	snprintf(secs, sizeof secs, "%ld", sev->respond_s);
	const char *p[] = {sev->name, title, who, secs};
	/* S4's "next business day": by the end of the next weekday. */
	struct maint_rows r;
	if (maint_rows_query(
		c, &r, e,
		"with t(now) as (select clock_timestamp()) "
		"insert into ops.incidents (severity, title, opened_by, opened_at, respond_by) "
		"select $1, $2, $3, t.now, case when $4::int >= 0 "
		"then t.now + make_interval(secs => $4::int) "
		"else date_trunc('day', t.now) + make_interval(days => case extract(isodow from "
		"t.now)::int when 5 then 4 when 6 then 3 else 2 end) end from t returning id",
		4, p) < 0) {
		db_rollback(c);
		/* Another start committed between the look and the insert: the index says so. */
		if (strcmp(e->sqlstate, "23505") == 0 && current(c, 0, inc, e) == 1)
			return INCIDENT_BUSY;
		return -1;
	}
	long long id = atoll(maint_cell(&r, 0, 0));
	maint_rows_free(&r);
	db_event(c, "warning", "incident", "incident #%lld opened: %s (%s), response %s: %s", id,
		 sev->name, sev->what, sev->respond, title);
	if (commit(c, e) < 0) {
		db_rollback(c);
		return -1;
	}
	return by_id(c, id, inc, e);
}

int incident_note(PGconn *c, const char *text, const char *who, struct incident *inc, int *first,
		  struct db_error *e)
{
	*first = 0;
	if (begin(c, e) < 0)
		return -1;
	int open = current(c, 1, inc, e);
	if (open != 1) {
		db_rollback(c);
		return open < 0 ? -1 : INCIDENT_NONE;
	}
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", inc->id);
	const char *p[] = {ids, who, text};
	struct maint_rows r;
	if (exec_e(c, e,
		   "insert into ops.incident_notes (incident_id, author, body) values ($1, $2, $3)",
		   3, p) < 0 ||
	    maint_rows_query(c, &r, e,
			     "update ops.incidents set responded_at = clock_timestamp() "
			     "where id = $1 and responded_at is null returning id",
			     1, p) < 0) {
		db_rollback(c);
		return -1;
	}
	*first = r.nrows > 0;
	maint_rows_free(&r);
	db_event(c, "info", "incident", "incident #%lld: note by %s%s: %s", inc->id, who,
		 *first ? " (the response)" : "", text);
	if (commit(c, e) < 0) {
		db_rollback(c);
		return -1;
	}
	return by_id(c, inc->id, inc, e);
}

static void fire(PGconn *c, const struct config *cfg, const struct incident *inc,
		 const struct config_escalation *esc, struct incident_fired *f)
{
	const struct incident_severity *sev = incident_severity(inc->severity);
	char after[32], age[32];
	incident_duration(after, sizeof after, (double)esc->after);
	incident_duration(age, sizeof age, inc->age);
	struct strbuf subj = {0}, body = {0};
	strbuf_addf(&subj, "midsops incident #%lld %s (%s): escalated to %s: %s", inc->id,
		    inc->severity, sev ? sev->what : "?", esc->contact, inc->title);
	strbuf_addf(&body,
		    "Incident #%lld, %s (%s, response %s)\nTitle: %s\nOpened: %s by %s\n"
		    "Open for: %s\nResponded: %s\nEscalated to: %s (after %s)\n\n"
		    "'midsops incident list' shows it; 'midsops incident note TEXT' records the "
		    "response.\n",
		    inc->id, inc->severity, sev ? sev->what : "?", sev ? sev->respond : "?",
		    inc->title, inc->opened_at, inc->opened_by, age,
		    inc->responded ? inc->responded_at : "not yet", esc->contact, after);
	char e_kind[] = "MIDSOPS_NOTIFY_KIND=incident-escalation";
	char e_id[64], e_sev[64], e_contact[128];
	snprintf(e_id, sizeof e_id, "MIDSOPS_INCIDENT_ID=%lld", inc->id);
	snprintf(e_sev, sizeof e_sev, "MIDSOPS_INCIDENT_SEVERITY=%s", inc->severity);
	snprintf(e_contact, sizeof e_contact, "MIDSOPS_INCIDENT_CONTACT=%s", esc->contact);
	char *env[] = {e_kind, e_id, e_sev, e_contact, NULL};
	char where[4400] = "", err[2048] = "";
	f->delivered =
	    notify_send(cfg, subj.s, body.s, env, where, sizeof where, err, sizeof err) == 0;
	/* A long path or message is cut to the outcome's size: it is shown, never used. */
	snprintf(f->outcome, sizeof f->outcome, "%.*s", (int)sizeof f->outcome - 1,
		 f->delivered ? where : err);
	strbuf_free(&subj);
	strbuf_free(&body);
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", inc->id);
	const char *p[] = {ids, esc->contact, f->delivered ? "t" : "f", f->outcome};
	struct db_error e2;
	/* The outcome and its journal entry together; the firing itself is already recorded. */
	if (begin(c, &e2) == 0) {
		if (exec_e(c, &e2,
			   "update ops.incident_escalations set delivered = $3::boolean, "
			   "outcome = $4 where incident_id = $1 and contact = $2",
			   4, p) == 0) {
			db_event(c, f->delivered ? "warning" : "error", "incident",
				 "incident #%lld %s: escalated to %s (after %s): %s%s", inc->id,
				 inc->severity, esc->contact, after,
				 f->delivered ? "sent by " : "not delivered: ", f->outcome);
			if (commit(c, &e2) == 0)
				return;
		}
		db_rollback(c);
	}
}

int incident_escalate(PGconn *c, const struct config *cfg, struct incident_fired *fired, int max,
		      struct db_error *e)
{
	struct incident inc;
	int open = current(c, 0, &inc, e);
	if (open <= 0)
		return open;
	int n = 0;
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", inc.id);
	for (int i = 0; i < cfg->nescalations; i++) {
		const struct config_escalation *esc = &cfg->escalations[i];
		if ((double)esc->after > inc.age)
			continue;
		char after[32];
		snprintf(after, sizeof after, "%ld", esc->after);
		const char *p[] = {ids, esc->contact, after};
		/* The run whose insert lands is the one that notifies: once per contact, even
		 * with two runs at the same moment. Committed before notifying, so a slow or
		 * failing notify_command cannot make another run send it again. */
		struct maint_rows r;
		if (maint_rows_query(c, &r, e,
				     "insert into ops.incident_escalations (incident_id, contact, "
				     "after_s) values ($1, $2, $3::int) "
				     "on conflict do nothing returning contact",
				     3, p) < 0)
			return -1;
		int mine = r.nrows > 0;
		maint_rows_free(&r);
		if (!mine)
			continue;
		struct incident_fired tmp, *f = n < max ? &fired[n] : &tmp;
		memset(f, 0, sizeof *f);
		snprintf(f->contact, sizeof f->contact, "%s", esc->contact);
		f->after = esc->after;
		fire(c, cfg, &inc, esc, f);
		n++;
	}
	return n;
}

int incident_list(PGconn *c, int limit, struct maint_rows *r, struct db_error *e)
{
	return maint_rows_query_num(
	    c, r, e,
	    "select i.id, i.severity, i.title, case when closed_at is null then 'open' "
	    "else 'closed' end, " TS(
		"i.opened_at") ", i.opened_by, "
			       "round(extract(epoch from i.responded_at - i.opened_at)), "
			       "round(extract(epoch from coalesce(i.closed_at, clock_timestamp()) "
			       "- i.opened_at)), " TS(
				   "i.closed_at") ", coalesce(i.report_path, ''), "
						  "(select count(*) from ops.incident_notes n "
						  "where n.incident_id = i.id) "
						  "from ops.incidents i order by i.id desc limit "
						  "$1::int",
	    limit);
}

int incident_escalations(PGconn *c, long long id, struct maint_rows *r, struct db_error *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *p[] = {ids};
	return maint_rows_query(
	    c, r, e,
	    "select contact, after_s, " TS(
		"fired_at") ", "
			    "case when delivered then 'yes' when not delivered then 'no' "
			    "else 'pending' end, coalesce(outcome, '') "
			    "from ops.incident_escalations where incident_id = $1 "
			    "order by fired_at, after_s, contact",
	    1, p);
}

int incident_runs(PGconn *c, long long id, struct maint_rows *r, struct db_error *e)
{
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", id);
	const char *p[] = {ids};
	return maint_rows_query(c, r, e,
				"select w.id, w.runbook, w.operator, w.status, "
				"coalesce(w.current_step, ''), " TS("w.started_at") ", " TS(
				    "w.ended_at") ", "
						  "(select count(*) from ops.wizard_steps s "
						  "where s.run_id = w.id) "
						  "from ops.wizard_runs w where w.incident_id = "
						  "$1 order by w.started_at, w.id",
				1, p);
}

/* ---------------------------------------------------------------- the report */

/* Text for one line of Markdown: no line breaks or control bytes; in a table cell, no '|'. */
static void md(struct strbuf *b, const char *s, int cell)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			strbuf_adds(b, " ");
		else if (cell && ch == '|')
			strbuf_adds(b, "\\|");
		else
			strbuf_add(b, s, 1);
	}
}

static void md_table(struct strbuf *b, const struct maint_rows *r, int nrows,
		     const char *const *heads, int ncols)
{
	strbuf_adds(b, "|");
	for (int j = 0; j < ncols; j++)
		strbuf_addf(b, " %s |", heads[j]);
	strbuf_adds(b, "\n|");
	for (int j = 0; j < ncols; j++)
		strbuf_adds(b, " --- |");
	strbuf_adds(b, "\n");
	for (int i = 0; i < nrows && i < r->nrows; i++) {
		strbuf_adds(b, "|");
		for (int j = 0; j < ncols; j++) {
			strbuf_adds(b, " ");
			md(b, maint_cell(r, i, j), 1);
			strbuf_adds(b, " |");
		}
		strbuf_adds(b, "\n");
	}
}

/* The wizard runs attached to the incident, then the steps taken in each with their
 * outcomes, in the order they were taken. */
static void report_steps(struct strbuf *b, const struct maint_rows *wiz,
			 const struct maint_rows *steps)
{
	strbuf_adds(b, "\n## Wizard runs\n\n");
	if (!wiz->nrows) {
		strbuf_adds(b, "None attached: no wizard was started while it was open.\n");
		return;
	}
	const char *h[] = {"run",	   "runbook", "operator", "status",
			   "current step", "started", "ended",	  "attempts"};
	md_table(b, wiz, wiz->nrows, h, 8);
	strbuf_adds(b, "\n## Steps taken\n");
	for (int w = 0; w < wiz->nrows; w++) {
		const char *run = maint_cell(wiz, w, 0);
		strbuf_addf(b, "\n### Run %s: ", run);
		md(b, maint_cell(wiz, w, 1), 0);
		strbuf_adds(b, " (");
		md(b, maint_cell(wiz, w, 3), 0);
		strbuf_adds(b,
			    ")\n\n| # | step | title | kind | outcome | exit | at | by | detail |\n"
			    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
		int any = 0;
		for (int i = 0; i < steps->nrows; i++) {
			if (strcmp(maint_cell(steps, i, 0), run) != 0)
				continue;
			any = 1;
			strbuf_adds(b, "|");
			for (int j = 1; j < 10; j++) {
				strbuf_adds(b, " ");
				md(b, maint_cell(steps, i, j), 1);
				strbuf_adds(b, " |");
			}
			strbuf_adds(b, "\n");
		}
		if (!any)
			strbuf_adds(b, "\nNo step was taken.\n");
	}
}

/* Events in a report at most (one more is asked for, to know there are more). */
#define REPORT_EVENTS 1000
#define STR_(x)	      #x
#define XSTR(x)	      STR_(x)

static int report_text(PGconn *c, const struct incident *inc, struct strbuf *b, struct db_error *e)
{
	const struct incident_severity *sev = incident_severity(inc->severity);
	char ids[32], d[32];
	snprintf(ids, sizeof ids, "%lld", inc->id);
	const char *p[] = {ids};
	struct maint_rows notes = {0}, esc = {0}, wiz = {0}, steps = {0}, ev = {0};
	int rc = -1;
	if (maint_rows_query(c, &notes, e,
			     "select " TS("at") ", author, body from ops.incident_notes "
						"where incident_id = $1 order by at, id",
			     1, p) < 0 ||
	    incident_escalations(c, inc->id, &esc, e) < 0 ||
	    incident_runs(c, inc->id, &wiz, e) < 0 ||
	    maint_rows_query(
		c, &steps, e,
		"select s.run_id, s.seq, s.step_id, s.title, s.kind, s.outcome, "
		"coalesce(s.exit_status::text, ''), " TS(
		    "s.started_at") ", coalesce(s.actor, ''), "
				    "concat_ws('; ', nullif(s.reason, ''), nullif(s.detail, '')) "
				    "from ops.wizard_steps s join ops.wizard_runs w on w.id = "
				    "s.run_id where w.incident_id = $1 order by w.started_at, "
				    "w.id, s.seq",
		1, p) < 0 ||
	    maint_rows_query(
		c, &ev, e,
		"select " TS("v.at") ", v.level, v.source, v.message from ops.events v, "
				     "ops.incidents i where i.id = $1 and v.at between "
				     "i.opened_at and i.closed_at order by v.at, v.id "
				     "limit " XSTR(REPORT_EVENTS + 1),
		1, p) < 0)
		goto out;
	strbuf_adds(b, "# Incident ");
	strbuf_addf(b, "%lld: ", inc->id);
	md(b, inc->title, 0);
	strbuf_addf(b, "\n\n- Severity: %s, %s (response %s)\n", inc->severity,
		    sev ? sev->what : "?", sev ? sev->respond : "?");
	strbuf_addf(b, "- Opened: %s by ", inc->opened_at);
	md(b, inc->opened_by, 0);
	strbuf_addf(b, "\n- Closed: %s by ", inc->closed_at);
	md(b, inc->closed_by, 0);
	if (inc->responded) {
		incident_duration(d, sizeof d, inc->to_respond);
		strbuf_addf(b, "\n- Time to respond: %s (first note at %s; due by %s%s)\n", d,
			    inc->responded_at, inc->respond_by,
			    inc->respond_left < 0 ? ", late" : "");
	} else {
		strbuf_addf(b, "\n- Time to respond: no response recorded (due by %s)\n",
			    inc->respond_by);
	}
	incident_duration(d, sizeof d, inc->age);
	strbuf_addf(b, "- Time to resolve: %s\n", d);

	strbuf_addf(b, "\n## Notes\n\n");
	if (!notes.nrows)
		strbuf_adds(b, "None.\n");
	for (int i = 0; i < notes.nrows; i++) {
		strbuf_addf(b, "- %s, ", maint_cell(&notes, i, 0));
		md(b, maint_cell(&notes, i, 1), 0);
		strbuf_adds(b, ": ");
		md(b, maint_cell(&notes, i, 2), 0);
		strbuf_adds(b, "\n");
	}
	strbuf_adds(b, "\n## Escalations\n\n");
	if (!esc.nrows) {
		strbuf_adds(b, "None fired.\n");
	} else {
		const char *h[] = {"contact", "after (s)", "fired at", "delivered", "outcome"};
		md_table(b, &esc, esc.nrows, h, 5);
	}
	report_steps(b, &wiz, &steps);
	strbuf_adds(b, "\n## Events in the window\n\n");
	if (!ev.nrows) {
		strbuf_adds(b, "None.\n");
	} else {
		const char *h[] = {"at", "level", "source", "message"};
		md_table(b, &ev, REPORT_EVENTS, h, 4);
		if (ev.nrows > REPORT_EVENTS)
			strbuf_addf(b, "\nThe first %d events only; ops.events holds the rest.\n",
				    REPORT_EVENTS);
	}
	rc = 0;
out:
	maint_rows_free(&notes);
	maint_rows_free(&esc);
	maint_rows_free(&wiz);
	maint_rows_free(&steps);
	maint_rows_free(&ev);
	return rc;
}

/* Written whole or not at all, 0600, never through a symlink. */
static int write_report(const char *dir, const char *name, const struct strbuf *b, char *path,
			size_t pathlen, char *err, size_t errlen)
{
	if (paths_mkdir_p(dir, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char tmp[4400];
	int n1 = snprintf(path, pathlen, "%s/%s", dir, name);
	int n2 = snprintf(tmp, sizeof tmp, "%s/.%s.%ld", dir, name, (long)getpid());
	if (n1 < 0 || (size_t)n1 >= pathlen || n2 < 0 || (size_t)n2 >= sizeof tmp) {
		snprintf(err, errlen, "incidents_dir is too long for the report's path");
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = write(fd, b->s + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off < b->len || fchmod(fd, 0600) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (off < b->len)
			close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int incident_close(PGconn *c, const struct config *cfg, const char *who, struct incident *inc,
		   char *err, size_t errlen)
{
	struct db_error e = {0};
	if (begin(c, &e) < 0)
		goto fail;
	int open = current(c, 1, inc, &e);
	if (open != 1) {
		db_rollback(c);
		if (open == 0)
			return INCIDENT_NONE;
		goto fail;
	}
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", inc->id);
	const char *p[] = {ids, who};
	if (exec_e(c, &e,
		   "update ops.incidents set closed_at = clock_timestamp(), closed_by = $2 "
		   "where id = $1",
		   2, p) < 0 ||
	    by_id(c, inc->id, inc, &e) < 0)
		goto fail_rollback;
	struct strbuf b = {0};
	if (report_text(c, inc, &b, &e) < 0) {
		strbuf_free(&b);
		goto fail_rollback;
	}
	/* Named by the day it opened, as the runbook's reports are (YYYYMMDD_name.md). */
	char name[128], day[16];
	snprintf(day, sizeof day, "%.4s%.2s%.2s", inc->opened_at, inc->opened_at + 5,
		 inc->opened_at + 8);
	snprintf(name, sizeof name, "%s_incident_%lld.md", day, inc->id);
	int w = write_report(cfg->incidents_dir, name, &b, inc->report_path,
			     sizeof inc->report_path, err, errlen);
	strbuf_free(&b);
	if (w < 0) {
		db_rollback(c);
		return -1;
	}
	const char *p2[] = {ids, inc->report_path};
	char d[32];
	incident_duration(d, sizeof d, inc->age);
	if (exec_e(c, &e, "update ops.incidents set report_path = $2 where id = $1", 2, p2) < 0)
		goto fail_unlink;
	db_event(c, "info", "incident", "incident #%lld %s closed by %s after %s: report %s",
		 inc->id, inc->severity, who, d, inc->report_path);
	if (commit(c, &e) < 0)
		goto fail_unlink;
	return 0;
fail_unlink:
	unlink(inc->report_path);
	inc->report_path[0] = 0;
fail_rollback:
	db_rollback(c);
fail:
	snprintf(err, errlen, "%s", e.message);
	return -1;
}
