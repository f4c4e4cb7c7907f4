/* help, version, config show. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "incident.h"
#include "target.h"
#include "tui.h"
#include "util.h"
#include "version.h"

#include <cJSON.h>
#include "db.h"

static int cmd_help_exec(struct cmd_ctx *ctx)
{
	char err[256];
	if (ctx->args->argc == 1) {
		const struct cmd_entry *ce = cmd_find(ctx->args->argv[0], err, sizeof err);
		if (!ce) {
			out_err(ctx->out, "%s", err);
			return EXIT_USAGE;
		}
		cmd_help(ce, ctx->out);
		return 0;
	}
	if (out_format(ctx->out) == OUT_TEXT) {
		out_line(ctx->out, "usage: midsops [--dsn CONNINFO] [--env NAME] [--config FILE] "
				   "[--json] [--no-color] COMMAND [ARGS]");
		out_line(ctx->out, "%s", "");
	}
	/* kind: "check" (monitoring-plugin output and exit status), "changes data" (full
	 * name required), or empty. */
	const char *cols[] = {"command", "kind", "summary"};
	out_table_begin(ctx->out, "commands", 3, cols);
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce))
		if (!(ce->flags & CMD_HIDDEN))
			out_rowf(ctx->out, ce->name,
				 ce->flags & CMD_CHECK	       ? "check"
				 : ce->flags & CMD_DESTRUCTIVE ? "changes data"
							       : "",
				 ce->summary);
	out_table_end(ctx->out);
	if (out_format(ctx->out) == OUT_TEXT)
		out_line(ctx->out, "\n'midsops help COMMAND' or 'midsops COMMAND --help' for more; "
				   "midsops(1) for everything.");
	return 0;
}

static int cmd_version_exec(struct cmd_ctx *ctx)
{
	int pq = db_client_version();
	out_kv(ctx->out, "version", "%s", MIDSOPS_VERSION);
	out_kv(ctx->out, "git", "%s", midsops_git_desc);
	out_kv(ctx->out, "libpq", "%d.%d", pq / 10000, pq % 10000);
	out_kv(ctx->out, "cjson", "%s", cJSON_Version());
	out_kv(ctx->out, "curses", "%s", tui_curses_version());
	out_kv(ctx->out, "readline", "%s", tui_readline_version());
	out_kv(ctx->out, "sharedir", "%s", MIDSOPS_SHAREDIR);
	return 0;
}

void cmd_version_line(struct out *out)
{
	if (*midsops_git_desc)
		out_line(out, "midsops %s (%s)", MIDSOPS_VERSION, midsops_git_desc);
	else
		out_line(out, "midsops %s", MIDSOPS_VERSION);
}

static int cmd_config_exec(struct cmd_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	if (ctx->args->argc != 1 || strcmp(ctx->args->argv[0], "show") != 0) {
		out_err(ctx->out, "config: the only subcommand is 'show'");
		return EXIT_USAGE;
	}
	char shown[2048];
	target_display(ctx->target, shown, sizeof shown);
	out_section(ctx->out, "target");
	out_kv(ctx->out, "environment", "%s", ctx->target->env);
	out_kv(ctx->out, "source", "%s", ctx->target->source);
	out_kv(ctx->out, "conninfo", "%s", shown);
	out_section_end(ctx->out);
	out_section(ctx->out, "config");
	out_kv(ctx->out, "file", "%s%s", cfg->path, cfg->loaded ? "" : " (absent: defaults)");
	out_kv(ctx->out, "default_env", "%s", cfg->default_env[0] ? cfg->default_env : "(none)");
	out_kv_num(ctx->out, "refresh", cfg->refresh, "s");
	out_kv(ctx->out, "theme", "%s", cfg->theme);
	out_kv(ctx->out, "backup_dir", "%s", cfg->backup_dir);
	out_kv(ctx->out, "log_dir", "%s", cfg->log_dir);
	out_kv_bool(ctx->out, "log_syslog", cfg->log_syslog);
	out_kv(ctx->out, "reports_dir", "%s", cfg->reports_dir);
	out_kv(ctx->out, "incidents_dir", "%s", cfg->incidents_dir);
	{
		struct strbuf esc = {0};
		for (int i = 0; i < cfg->nescalations; i++) {
			char d[32];
			incident_duration(d, sizeof d, (double)cfg->escalations[i].after);
			strbuf_addf(&esc, "%s%s after %s", i ? ", " : "",
				    cfg->escalations[i].contact, d);
		}
		out_kv(ctx->out, "incident_escalate", "%s", esc.s ? esc.s : "none");
		strbuf_free(&esc);
	}
	out_kv(ctx->out, "maintenance_window", "%s", cfg->maintenance_window);
	out_section_end(ctx->out);
	const char *cols[] = {"env", "dsn"};
	out_table_begin(ctx->out, "environments", 2, cols);
	for (int i = 0; i < cfg->nenvs; i++) {
		conninfo_mask(cfg->envs[i].dsn, shown, sizeof shown);
		out_rowf(ctx->out, cfg->envs[i].name, shown);
	}
	out_table_end(ctx->out);
	const char *tcols[] = {"threshold", "warning", "critical"};
	out_table_begin(ctx->out, "thresholds", 3, tcols);
	struct {
		const char *n;
		const struct threshold *t;
	} th[] = {
	    {"import_speed", &cfg->import_speed},     {"query_time", &cfg->query_time},
	    {"cache_hit_rate", &cfg->cache_hit_rate}, {"memory", &cfg->memory},
	    {"connections", &cfg->connections},	      {"buffer_hit_ratio", &cfg->buffer_hit_ratio},
	    {"dead_tuples", &cfg->dead_tuples},	      {"long_txn", &cfg->long_txn},
	    {"waiting_locks", &cfg->waiting_locks},   {"disk_free", &cfg->disk_free},
	    {"backup_age", &cfg->backup_age}};
	for (size_t i = 0; i < sizeof th / sizeof th[0]; i++) {
		char w[32], c[32];
		snprintf(w, sizeof w, "%g", th[i].t->warning);
		snprintf(c, sizeof c, "%g", th[i].t->critical);
		out_rowf(ctx->out, th[i].n, w, c);
	}
	out_table_end(ctx->out);
	return 0;
}

const struct cmd_entry cmd_misc_table[] = {
    {
	.name = "help",
	.max_args = 1,
	.summary = "List the commands, or show one command's usage",
	.usage = "help [COMMAND]",
	.flags = CMD_NODB,
	.complete = COMPLETE_COMMAND,
	.exec = cmd_help_exec,
    },
    {
	.name = "version",
	.summary = "Print the version of midsops",
	.usage = "version",
	.flags = CMD_NODB,
	.exec = cmd_version_exec,
    },
    {
	.name = "config",
	.min_args = 1,
	.max_args = 1,
	.summary = "Show the resolved target and configuration (passwords masked)",
	.usage = "config show",
	.flags = CMD_NODB,
	.exec = cmd_config_exec,
    },
    {0},
};
