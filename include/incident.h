/* The incident engine (src/maint/incident.c): the runbook's severity levels and its contact
 * list's escalations, kept in ops.incidents, ops.incident_notes and ops.incident_escalations
 * (sql/070_incidents.sql). One incident is open at a time. It never prints: `incident` and
 * `incident-status` (src/cmd/cmd_incident.c) render what it fills.
 *
 * midsops is no daemon: escalations are evaluated whenever incident_escalate runs, which
 * `incident-status` (from cron or a systemd timer), `incident start`, `note` and `list` do.
 * Each contact fires once per incident, the first time a run finds its time has passed. */
#ifndef MIDSOPS_INCIDENT_H
#define MIDSOPS_INCIDENT_H

#include <stddef.h>

#include "config.h"
#include "db.h"
#include "maint.h"

/* What a call found instead of doing its work. */
#define INCIDENT_NONE 1 /* no incident is open */
#define INCIDENT_BUSY 2 /* another incident is open: the incident filled is that one */

/* The runbook's "Incident Severity Levels". */
struct incident_severity {
	const char *name;    /* "S1" */
	const char *what;    /* "complete outage" */
	const char *respond; /* "immediate", "1 hour", ..., "next business day" */
	long respond_s;	     /* seconds; -1: by the end of the next weekday (server's time zone) */
};
/* The severity named (S1..S4, any case), or NULL. */
const struct incident_severity *incident_severity(const char *name);

struct incident {
	long long id;
	char severity[4];
	char title[1024];
	char opened_by[128], closed_by[128];
	/* "YYYY-MM-DD HH:MM:SS UTC"; "" when not (yet) so */
	char opened_at[40], respond_by[40], responded_at[40], closed_at[40];
	double age;	     /* seconds open: to now, or to closed_at */
	double respond_left; /* respond_by minus the response (or now): < 0 late or overdue */
	double to_respond;   /* seconds from opening to the first note; < 0 none yet */
	int responded;
	char report_path[4096];
};
/* Not responded and its response time passed. */
int incident_overdue(const struct incident *inc);

/* One contact notified by this run. */
struct incident_fired {
	char contact[64];
	long after;    /* seconds after opening, as configured */
	int delivered; /* notify_send succeeded */
	char outcome[600];
};

/* "0s", "45s", "15m", "15m 3s", "1h", "1h 5m", "2d 3h" (seconds dropped past an hour). */
void incident_duration(char *buf, size_t n, double seconds);

/* The open incident: 1 (filled), 0 none, -1. */
int incident_current(PGconn *c, struct incident *inc, struct db_error *e);
/* Open an incident (and journal it, in one transaction). 0 (inc is the new one),
 * INCIDENT_BUSY (inc is the open one) or -1. */
int incident_start(PGconn *c, const struct incident_severity *sev, const char *title,
		   const char *who, struct incident *inc, struct db_error *e);
/* Add a note to the open incident; the first one records the response. 0, INCIDENT_NONE
 * or -1; *first is 1 when this note was the response. */
int incident_note(PGconn *c, const char *text, const char *who, struct incident *inc, int *first,
		  struct db_error *e);
/* Notify every configured contact whose time has passed and who was not notified yet for
 * the open incident (none open: nothing). Returns how many fired (up to max in fired), or -1.
 * Each firing is recorded in ops.incident_escalations and journalled in ops.events. */
int incident_escalate(PGconn *c, const struct config *cfg, struct incident_fired *fired, int max,
		      struct db_error *e);
/* The newest incidents: id, severity, title, state, opened_at, opened_by, to_respond_s,
 * open_s (to close or now), closed_at, report_path, notes. */
int incident_list(PGconn *c, int limit, struct maint_rows *r, struct db_error *e);
/* An incident's escalations: contact, after_s, fired_at, delivered, outcome. */
int incident_escalations(PGconn *c, long long id, struct maint_rows *r, struct db_error *e);
/* The wizard runs attached to an incident (started while it was open): id, runbook,
 * operator, status, current_step, started_at, ended_at, attempts. */
int incident_runs(PGconn *c, long long id, struct maint_rows *r, struct db_error *e);
/* Close the open incident and write its report (Markdown, 0600) into cfg->incidents_dir,
 * in one transaction: a report that cannot be written leaves the incident open. 0
 * (inc->report_path is the file), INCIDENT_NONE or -1 with err. */
int incident_close(PGconn *c, const struct config *cfg, const char *who, struct incident *inc,
		   char *err, size_t errlen);

#endif
