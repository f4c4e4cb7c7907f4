/* incident start|note|list|close and the check incident-status: the runbook's severity
 * levels (S1 complete outage, immediate response; S2 major degradation, 1 hour; S3 minor
 * issues, 4 hours; S4 low priority, next business day) and its contact list's escalations
 * ([incident] escalate). The engine is src/maint/incident.c; this file parses and renders.
 * Escalations are evaluated whenever incident-status, start, note or list runs: midsops is
 * no daemon, so a timer runs incident-status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "incident.h"
#include "util.h"

/* `incident start` while another incident is open: documented in midsops.1. */
#define EXIT_INCIDENT_OPEN 4
#define TITLE_MAX	   200
#define NOTE_MAX	   4000

static const struct cmd_entry *incident_entry(void);

/* The positionals from i on, joined by spaces: a title needs no quotes. */
static char *join_from(const struct args *a, int i)
{
	struct strbuf b = {0};
	for (; i < a->argc; i++) {
		if (b.len)
			strbuf_adds(&b, " ");
		strbuf_adds(&b, a->argv[i]);
	}
	return b.s ? b.s : xstrdup("");
}

static int usage_error(struct cmd_ctx *ctx, const char *fmt, const char *what)
{
	out_err(ctx->out, fmt, what);
	cmd_usage(incident_entry(), ctx->out);
	return EXIT_USAGE;
}

static int check_incident_args(struct cmd_ctx *ctx)
{
	const struct args *a = ctx->args;
	const char *sub = a->argv[0];
	if (strcmp(sub, "start") == 0) {
		if (a->argc < 3)
			return usage_error(ctx, "incident start: %s",
					   "needs a severity and a title");
		if (!incident_severity(a->argv[1]))
			return usage_error(ctx,
					   "incident start: severity '%s' is none of S1 (complete "
					   "outage), S2 (major degradation), S3 (minor issues), S4 "
					   "(low priority)",
					   a->argv[1]);
		char *t = join_from(a, 2);
		size_t len = strlen(t);
		free(t);
		if (len == 0 || len > TITLE_MAX) {
			out_err(ctx->out, "incident start: the title must have 1 to %d bytes",
				TITLE_MAX);
			return EXIT_USAGE;
		}
		return 0;
	}
	if (strcmp(sub, "note") == 0) {
		if (a->argc < 2)
			return usage_error(ctx, "incident note: %s", "needs the text of the note");
		char *t = join_from(a, 1);
		size_t len = strlen(t);
		free(t);
		if (len == 0 || len > NOTE_MAX) {
			out_err(ctx->out, "incident note: the text must have 1 to %d bytes",
				NOTE_MAX);
			return EXIT_USAGE;
		}
		return 0;
	}
	if (strcmp(sub, "list") == 0 || strcmp(sub, "close") == 0) {
		if (a->argc > 1)
			return usage_error(ctx, "incident %s: too many arguments", sub);
		long lim = 20;
		char err[256];
		if (args_get_long(a, "limit", &lim, err, sizeof err) < 0 || lim < 1 ||
		    lim > 10000) {
			out_err(ctx->out, "incident: --limit wants a number from 1 to 10000");
			return EXIT_USAGE;
		}
		return 0;
	}
	return usage_error(ctx, "incident: unknown subcommand '%s'", sub);
}

static void render_incident(struct out *o, const struct incident *inc)
{
	const struct incident_severity *sev = incident_severity(inc->severity);
	char age[32], d[32];
	incident_duration(age, sizeof age, inc->age);
	out_kv_int(o, "id", inc->id);
	out_kv(o, "severity", "%s (%s)", inc->severity, sev ? sev->what : "?");
	out_kv(o, "title", "%s", inc->title);
	out_kv(o, "opened", "%s by %s", inc->opened_at, inc->opened_by);
	out_kv(o, "response_time", "%s (due by %s)", sev ? sev->respond : "?", inc->respond_by);
	if (inc->responded) {
		incident_duration(d, sizeof d, inc->to_respond);
		out_kv(o, "responded", "%s after %s%s", inc->responded_at, d,
		       inc->respond_left < 0 ? " (late)" : "");
	} else {
		incident_duration(d, sizeof d, -inc->respond_left);
		out_kv(o, "responded", "%s",
		       incident_overdue(inc) ? "not yet: overdue" : "not yet (add a note)");
	}
	if (inc->closed_at[0]) {
		out_kv(o, "closed", "%s by %s", inc->closed_at, inc->closed_by);
		out_kv(o, "time_to_resolve", "%s", age);
	} else {
		out_kv(o, "age", "%s", age);
	}
}

/* Escalations due now; what fired is said. Returns the worst outcome (a notify_command
 * that failed is a warning), or ST_UNKNOWN when the escalations could not be evaluated. */
static enum status escalate(struct cmd_ctx *ctx)
{
	struct incident_fired f[CONFIG_MAX_ESCALATIONS];
	struct db_error e = {0};
	int n = incident_escalate(ctx->db, ctx->cfg, f, CONFIG_MAX_ESCALATIONS, &e);
	if (n < 0) {
		out_kv_status(ctx->out, "escalations", ST_WARNING, "could not be evaluated: %s",
			      e.message);
		return ST_WARNING;
	}
	enum status worst = ST_OK;
	for (int i = 0; i < n && i < CONFIG_MAX_ESCALATIONS; i++) {
		char after[32];
		incident_duration(after, sizeof after, (double)f[i].after);
		if (f[i].delivered) {
			out_line(ctx->out, "escalated to %s (after %s): %s", f[i].contact, after,
				 f[i].outcome);
		} else {
			out_kv_status(ctx->out, "escalation", ST_WARNING,
				      "%s (after %s) not delivered: %s", f[i].contact, after,
				      f[i].outcome);
			worst = ST_WARNING;
		}
	}
	return worst;
}

static void render_escalations(struct cmd_ctx *ctx, long long id)
{
	struct maint_rows r;
	struct db_error e = {0};
	if (incident_escalations(ctx->db, id, &r, &e) < 0) {
		out_err(ctx->out, "incident: escalations: %s", e.message);
		return;
	}
	const char *cols[] = {"contact", "after", "fired_at", "delivered", "outcome"};
	out_table_begin(ctx->out, "escalations", 5, cols);
	for (int i = 0; i < r.nrows; i++) {
		char after[32];
		double s = 0;
		maint_num(&r, i, 1, &s);
		incident_duration(after, sizeof after, s);
		out_rowf(ctx->out, maint_cell(&r, i, 0), after, maint_cell(&r, i, 2),
			 maint_cell(&r, i, 3), maint_cell(&r, i, 4));
	}
	out_table_end(ctx->out);
	maint_rows_free(&r);
}

/* The wizard runs attached to the incident: what is being done about it. */
static void render_runs(struct cmd_ctx *ctx, long long id)
{
	struct maint_rows r;
	struct db_error e = {0};
	if (incident_runs(ctx->db, id, &r, &e) < 0) {
		out_err(ctx->out, "incident: wizard runs: %s", e.message);
		return;
	}
	const char *cols[] = {"run", "runbook", "operator", "status", "step", "started"};
	out_table_begin(ctx->out, "wizard_runs", 6, cols);
	for (int i = 0; i < r.nrows; i++)
		out_rowf(ctx->out, maint_cell(&r, i, 0), maint_cell(&r, i, 1), maint_cell(&r, i, 2),
			 maint_cell(&r, i, 3), maint_cell(&r, i, 4), maint_cell(&r, i, 5));
	out_table_end(ctx->out);
	if (!r.nrows)
		out_line(ctx->out, "no wizard runs attached (a wizard started while it is open "
				   "attaches to it)");
	maint_rows_free(&r);
}

static int sub_start(struct cmd_ctx *ctx, const char *who)
{
	const struct incident_severity *sev = incident_severity(ctx->args->argv[1]);
	char *title = join_from(ctx->args, 2);
	struct incident inc;
	struct db_error e = {0};
	int rc = incident_start(ctx->db, sev, title, who, &inc, &e);
	free(title);
	if (rc == INCIDENT_BUSY) {
		char age[32];
		incident_duration(age, sizeof age, inc.age);
		out_err(ctx->out,
			"incident start: incident #%lld (%s, '%s', opened %s ago by %s) is still "
			"open; close it with 'midsops incident close' before starting another",
			inc.id, inc.severity, inc.title, age, inc.opened_by);
		return EXIT_INCIDENT_OPEN;
	}
	if (rc < 0) {
		out_err(ctx->out, "incident start: %s", e.message);
		return EXIT_FAIL;
	}
	out_line(ctx->out, "incident #%lld opened: %s (%s), response %s", inc.id, inc.severity,
		 sev->what, sev->respond);
	render_incident(ctx->out, &inc);
	escalate(ctx);
	return 0;
}

static int sub_note(struct cmd_ctx *ctx, const char *who)
{
	escalate(ctx);
	char *text = join_from(ctx->args, 1);
	struct incident inc;
	struct db_error e = {0};
	int first = 0;
	int rc = incident_note(ctx->db, text, who, &inc, &first, &e);
	free(text);
	if (rc == INCIDENT_NONE) {
		out_err(ctx->out, "incident note: no incident is open (start one with 'midsops "
				  "incident start SEVERITY TITLE')");
		return EXIT_FAIL;
	}
	if (rc < 0) {
		out_err(ctx->out, "incident note: %s", e.message);
		return EXIT_FAIL;
	}
	if (first) {
		char d[32];
		incident_duration(d, sizeof d, inc.to_respond);
		out_line(ctx->out, "note added to incident #%lld: the response, after %s%s", inc.id,
			 d, inc.respond_left < 0 ? " (late)" : "");
	} else {
		out_line(ctx->out, "note added to incident #%lld", inc.id);
	}
	render_incident(ctx->out, &inc);
	render_runs(ctx, inc.id);
	return 0;
}

static int sub_list(struct cmd_ctx *ctx)
{
	enum status esc = escalate(ctx);
	long lim = 20;
	char err[256];
	args_get_long(ctx->args, "limit", &lim, err, sizeof err);
	struct maint_rows r;
	struct db_error e = {0};
	if (incident_list(ctx->db, (int)lim, &r, &e) < 0) {
		out_err(ctx->out, "incident list: %s", e.message);
		return EXIT_FAIL;
	}
	const char *cols[] = {"id",	   "severity",	"title",    "state", "opened_at",
			      "opened_by", "responded", "open_for", "notes", "report"};
	out_table_begin(ctx->out, "incidents", 10, cols);
	long long open_id = 0;
	for (int i = 0; i < r.nrows; i++) {
		char resp[32] = "-", open_for[32];
		double s;
		if (maint_num(&r, i, 6, &s)) {
			snprintf(resp, sizeof resp, "after ");
			incident_duration(resp + 6, sizeof resp - 6, s);
		}
		maint_num(&r, i, 7, &s);
		incident_duration(open_for, sizeof open_for, s);
		if (strcmp(maint_cell(&r, i, 3), "open") == 0)
			open_id = atoll(maint_cell(&r, i, 0));
		out_rowf(ctx->out, maint_cell(&r, i, 0), maint_cell(&r, i, 1), maint_cell(&r, i, 2),
			 maint_cell(&r, i, 3), maint_cell(&r, i, 4), maint_cell(&r, i, 5), resp,
			 open_for, maint_cell(&r, i, 10), maint_cell(&r, i, 9));
	}
	out_table_end(ctx->out);
	if (!r.nrows)
		out_line(ctx->out, "no incidents recorded");
	maint_rows_free(&r);
	if (open_id) {
		render_escalations(ctx, open_id);
		render_runs(ctx, open_id);
	}
	return esc == ST_OK ? 0 : EXIT_FAIL;
}

static int sub_close(struct cmd_ctx *ctx, const char *who)
{
	struct incident inc;
	char err[2048] = "";
	int rc = incident_close(ctx->db, ctx->cfg, who, &inc, err, sizeof err);
	if (rc == INCIDENT_NONE) {
		out_err(ctx->out, "incident close: no incident is open");
		return EXIT_FAIL;
	}
	if (rc < 0) {
		out_err(ctx->out, "incident close: %s; the incident stays open", err);
		return EXIT_FAIL;
	}
	out_line(ctx->out, "incident #%lld closed", inc.id);
	render_incident(ctx->out, &inc);
	out_kv(ctx->out, "report", "%s", inc.report_path);
	return 0;
}

static int cmd_incident_exec(struct cmd_ctx *ctx)
{
	const char *sub = ctx->args->argv[0];
	char who[128];
	util_operator_name(NULL, who, sizeof who);
	if (strcmp(sub, "start") == 0)
		return sub_start(ctx, who);
	if (strcmp(sub, "note") == 0)
		return sub_note(ctx, who);
	if (strcmp(sub, "list") == 0)
		return sub_list(ctx);
	return sub_close(ctx, who);
}

/* CRITICAL while an S1 is open; WARNING while an S2 is, or an open incident's response is
 * overdue, or an escalation could not be delivered; OK otherwise. */
static int cmd_incident_status_exec(struct cmd_ctx *ctx)
{
	enum status worst = escalate(ctx);
	struct incident inc;
	struct db_error e = {0};
	int open = incident_current(ctx->db, &inc, &e);
	if (open < 0) {
		out_status(ctx->out, ST_UNKNOWN, "incidents could not be read: %s", e.message);
		return ST_UNKNOWN;
	}
	if (!open) {
		out_kv_status(ctx->out, "incident", ST_OK, "none open");
		out_status(ctx->out, worst, "no open incident");
		return worst;
	}
	const struct incident_severity *sev = incident_severity(inc.severity);
	enum status st = strcmp(inc.severity, "S1") == 0   ? ST_CRITICAL
			 : strcmp(inc.severity, "S2") == 0 ? ST_WARNING
							   : ST_OK;
	if (incident_overdue(&inc))
		st = status_worst(st, ST_WARNING);
	char age[32], resp[160], d[32];
	incident_duration(age, sizeof age, inc.age);
	if (inc.responded) {
		incident_duration(d, sizeof d, inc.to_respond);
		snprintf(resp, sizeof resp, "responded after %s", d);
	} else if (incident_overdue(&inc)) {
		incident_duration(d, sizeof d, -inc.respond_left);
		snprintf(resp, sizeof resp, "no response yet, overdue by %s", d);
	} else {
		incident_duration(d, sizeof d, inc.respond_left);
		snprintf(resp, sizeof resp, "no response yet, due in %s", d);
	}
	out_kv_status(ctx->out, "incident", st, "#%lld %s (%s) '%s', open %s, response %s: %s",
		      inc.id, inc.severity, sev ? sev->what : "?", inc.title, age,
		      sev ? sev->respond : "?", resp);
	render_incident(ctx->out, &inc);
	struct out_fig f = {.value = (double)(long)inc.age, .unit = OUT_SECONDS};
	out_fig(ctx->out, "incident_age", &f, "%s", age);
	render_escalations(ctx, inc.id);
	worst = status_worst(worst, st);
	out_status(ctx->out, worst, "incident #%lld %s open for %s", inc.id, inc.severity, age);
	return worst;
}

const struct cmd_entry cmd_incident_table[] = {
    {
	.name = "incident",
	.min_args = 1,
	.max_args = -1,
	.options = "limit=",
	.summary = "Incidents with the runbook's severity levels: start S1..S4 TITLE, note "
		   "TEXT (the first is the response), list, close (writes the report); "
		   "escalates to the [incident] contacts as their time passes",
	.usage = "incident start S1|S2|S3|S4 TITLE...|note TEXT...|list [--limit N]|close",
	.flags = CMD_DESTRUCTIVE,
	.exec = cmd_incident_exec,
	.db = CMD_DB_READY,
	.check_args = check_incident_args,
    },
    {
	.name = "incident-status",
	.summary = "Check the open incident: CRITICAL while an S1 is open, WARNING while an S2 "
		   "is or a response is overdue; fires the escalations that are due",
	.usage = "incident-status [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_incident_status_exec,
	.db = CMD_DB_READY,
    },
    {0},
};

static const struct cmd_entry *incident_entry(void)
{
	return &cmd_incident_table[0];
}
