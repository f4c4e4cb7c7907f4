/* Command table lookup and dispatch. */
#include "cmd.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cmd_entry *const families[] = {
    cmd_misc_table,	  cmd_cluster_table, cmd_db_table,	cmd_import_table,
    cmd_cache_table,	  cmd_maint_table,   cmd_report_table,	cmd_metrics_table,
    cmd_backup_table,	  cmd_runbook_table, cmd_history_table, cmd_incident_table,
    cmd_dr_table,	  cmd_dr_role_table, cmd_console_table, cmd_roles_table,
    cmd_completion_table, cmd_dr_sync_table, cmd_sessions_table, cmd_timeline_table,
    cmd_fleet_table,
};
#define NFAMILIES (sizeof families / sizeof families[0])

const struct cmd_entry *cmd_next(const struct cmd_entry *prev)
{
	size_t f = 0;
	if (prev) {
		for (f = 0; f < NFAMILIES; f++) {
			const struct cmd_entry *t = families[f];
			size_t n = 0;
			while (t[n].name)
				n++;
			if (prev >= t && prev < t + n)
				break;
		}
		if (f == NFAMILIES)
			return NULL;
		if ((prev + 1)->name)
			return prev + 1;
		f++;
	}
	for (; f < NFAMILIES; f++)
		if (families[f][0].name)
			return &families[f][0];
	return NULL;
}

int cmd_count(void)
{
	int n = 0;
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce))
		n++;
	return n;
}

const struct cmd_entry *cmd_find(const char *name, char *err, size_t errlen)
{
	const struct cmd_entry *prefix = NULL, *best = NULL;
	int nprefix = 0, bestd = 1 << 30;
	size_t len = strlen(name);
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce)) {
		if (strcmp(ce->name, name) == 0)
			return ce;
		if (len > 0 && strncmp(ce->name, name, len) == 0) {
			nprefix++;
			prefix = ce;
		}
		/* Two swapped letters count as one typo. */
		int d = util_edit_distance(name, ce->name, 63, UTIL_EDIT_SWAP);
		if (d < bestd && !(ce->flags & CMD_HIDDEN)) {
			bestd = d;
			best = ce;
		}
	}
	if (nprefix == 1) {
		if (!(prefix->flags & CMD_DESTRUCTIVE))
			return prefix;
		snprintf(err, errlen,
			 "'%s' changes data and needs its full name; did you mean '%s'?", name,
			 prefix->name);
		return NULL;
	}
	if (nprefix > 1) {
		snprintf(err, errlen, "ambiguous command '%s'; %d commands start with it", name,
			 nprefix);
		return NULL;
	}
	if (best && bestd <= 3 + (int)len / 4)
		snprintf(err, errlen, "unknown command '%s'; did you mean '%s'?", name, best->name);
	else
		snprintf(err, errlen, "unknown command '%s'; try 'midsops help'", name);
	return NULL;
}

/* A check's own failures are UNKNOWN (3), as check_pgsql's are: a monitoring system reads
 * 64 or 78 as CRITICAL, which would page someone for a typo in the check's arguments. */
int cmd_exit_usage(const struct cmd_entry *ce)
{
	return ce && (ce->flags & CMD_CHECK) ? ST_UNKNOWN : EXIT_USAGE;
}

int cmd_exit_config(const struct cmd_entry *ce)
{
	return ce && (ce->flags & CMD_CHECK) ? ST_UNKNOWN : EXIT_CONFIG;
}

void cmd_usage(const struct cmd_entry *ce, struct out *out)
{
	out_err(out, "usage: midsops %s", ce->usage);
}

void cmd_help(const struct cmd_entry *ce, struct out *out)
{
	out_line(out, "usage: midsops %s", ce->usage);
	out_line(out, "%s", "");
	out_line(out, "%s", ce->summary);
	if (ce->flags & CMD_CHECK)
		out_line(out, "%s",
			 "This is a check: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
	if (ce->flags & CMD_DESTRUCTIVE)
		out_line(out, "%s",
			 "This command changes data; it must be given by its full name.");
	out_line(out, "%s", "See midsops(1) for details.");
}

static const char *status_level(int st)
{
	return st == ST_OK	   ? "info"
	       : st == ST_WARNING  ? "warning"
	       : st == ST_CRITICAL ? "critical"
				   : "error";
}

/* A check's result goes in the log before its status line is printed, so that a failed
 * write can still show there. An incomplete log is never silent (log_failed said it once
 * on stderr): a check keeps what it found but is at least WARNING and names the log in its
 * status line; any other command that would exit 0 exits 1 (midsops(1), EXIT STATUS). */
static int finish_log(const struct cmd_entry *ce, struct out *out, int plugin, int rc)
{
	if (plugin) {
		char text[1024];
		enum status st = out_check_peek(out, rc, text, sizeof text);
		log_event(status_level(st), NULL, "check %s - %s", status_name(st), text);
	} else if (ce->flags & CMD_CHECK)
		log_event(status_level(rc), NULL, "check ended with exit status %d", rc);
	if (!log_incomplete())
		return rc;
	if (plugin) {
		char why[1100];
		snprintf(why, sizeof why, "incomplete: %s", log_incomplete_reason());
		out_kv(out, "log", "%s", why);
		out_check_note(out, ST_WARNING, "log", why);
		return rc;
	}
	if (ce->flags & CMD_CHECK)
		return rc == ST_OK ? ST_WARNING : rc;
	return rc == 0 ? EXIT_FAIL : rc;
}

/* The connection an entry's .db asks for; on failure the reason is rendered here. */
static int open_db(const struct cmd_entry *ce, struct cmd_ctx *ctx)
{
	char err[1024];
	ctx->db = ce->db == CMD_DB_READY ? db_connect_ready(ctx->target, ce->name, err, sizeof err)
					 : db_connect(ctx->target, ce->name, err, sizeof err);
	if (ctx->db)
		return 0;
	if (ce->db_failed)
		return ce->db_failed(ctx, err);
	if (ce->flags & CMD_CHECK) {
		out_status(ctx->out, ST_CRITICAL, "%s", err);
		return ST_CRITICAL;
	}
	out_err(ctx->out, "%s", err);
	return EXIT_FAIL;
}

/* Arguments first, then the target: a bad option never starts a cluster. */
static int run_exec(const struct cmd_entry *ce, struct cmd_ctx *ctx)
{
	ctx->started = util_mono();
	int rc = ce->check_args ? ce->check_args(ctx) : 0;
	if (rc != 0 || (ce->db != CMD_DB_NONE && (rc = open_db(ce, ctx)) != 0))
		return rc;
	rc = ce->exec(ctx);
	if (ctx->db)
		PQfinish(ctx->db);
	ctx->db = NULL;
	return rc;
}

int cmd_run(const struct cmd_entry *ce, int argc, char **argv, struct out *out, struct config *cfg,
	    struct target *target, int in_console)
{
	struct args a;
	char err[512];
	log_set_command(ce->name);
	util_oom_status = (ce->flags & CMD_CHECK) ? ST_UNKNOWN : UTIL_EXIT_OOM;
	if ((ce->flags & CMD_RAWARGS) && !(argc == 2 && strcmp(argv[1], "--help") == 0)) {
		/* Pass everything through (db-shell hands it to psql). */
		memset(&a, 0, sizeof a);
		a.argv = xcalloc((size_t)argc, sizeof *a.argv);
		for (int i = 1; i < argc; i++)
			a.argv[a.argc++] = argv[i];
	} else if (args_parse(ce->options, argc, argv, &a, err, sizeof err) < 0) {
		out_err(out, "%s: %s", ce->name, err);
		cmd_usage(ce, out);
		args_free(&a);
		return cmd_exit_usage(ce);
	}
	if (a.help) {
		cmd_help(ce, out);
		args_free(&a);
		return 0;
	}
	if (a.argc < ce->min_args || (ce->max_args >= 0 && a.argc > ce->max_args)) {
		out_err(out, "%s: %s", ce->name,
			a.argc < ce->min_args ? "missing argument" : "too many arguments");
		cmd_usage(ce, out);
		args_free(&a);
		return cmd_exit_usage(ce);
	}
	struct cmd_ctx ctx = {
	    .out = out,
	    .cfg = cfg,
	    .target = target,
	    .args = &a,
	    .interactive = isatty(0) && isatty(1),
	    .in_console = in_console,
	};
	db_set_may_start(!(ce->flags & (CMD_CHECK | CMD_OBSERVE)));
	/* watch streams a snapshot per interval: a status line per run would not fit it. */
	int plugin = (ce->flags & CMD_CHECK) && !(ce->flags & CMD_STREAM);
	if (plugin) {
		char service[96] = "MIDSOPS ";
		for (size_t i = 8, k = 0; ce->name[k] && i + 1 < sizeof service; i++, k++)
			service[i] = (char)toupper((unsigned char)ce->name[k]);
		out_check_begin(out, service);
	}
	if (ce->flags & CMD_CHECK)
		log_event("info", NULL, "check started");
	int rc = run_exec(ce, &ctx);
	db_set_may_start(1);
	if ((ce->flags & CMD_CHECK) && (rc == EXIT_USAGE || rc == EXIT_CONFIG))
		rc = ST_UNKNOWN;
	rc = finish_log(ce, out, plugin, rc);
	if (plugin)
		rc = out_check_finish(out, rc);
	args_free(&a);
	return rc;
}

int cmd_confirm(struct cmd_ctx *ctx, const char *word, const char *what, const char *refusal)
{
	if (args_has(ctx->args, "yes"))
		return 1;
	if (!ctx->interactive || ctx->in_console) {
		if (refusal)
			out_err(ctx->out, "%s", refusal);
		return 0;
	}
	if (word)
		out_err(ctx->out, "%s. Type '%s' to confirm: ", what, word);
	else
		out_err(ctx->out, "%s? [y/N] ", what);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return 0;
	line[strcspn(line, "\r\n")] = 0;
	return word ? strcmp(line, word) == 0 : (line[0] == 'y' || line[0] == 'Y');
}
