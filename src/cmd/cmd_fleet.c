/* fleet: every environment of the config at once, as the console's fleet strip shows
 * them (the same probe, include/probe_fleet.h): reachable, role, replication lag, the
 * last import and its generation, the age of the last backup, and each one's worst
 * status. A check: the exit status is the worst environment's. */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "probe.h"
#include "probe_fleet.h"
#include "target.h"
#include "util.h"

/* Every environment answers, fails or times out within its own deadlines; this only
 * guards the loop. */
#define FLEET_CMD_LIMIT_S                                                                          \
	(FLEET_CONNECT_TIMEOUT_S + FLEET_STATEMENT_TIMEOUT_MS / 1000.0 + FLEET_ANSWER_GRACE_S + 1)

static void wait_fleet(struct fleet *f)
{
	double until = util_mono() + FLEET_CMD_LIMIT_S;
	fleet_refresh(f);
	while (fleet_busy(f) && util_mono() < until) {
		struct pollfd p[CONFIG_MAX_ENVS];
		int n = fleet_pollfds(f, p, CONFIG_MAX_ENVS);
		int to = fleet_timeout_ms(f);
		if (to < 0 || to > 200)
			to = 200;
		if (poll(p, (nfds_t)n, to) < 0)
			for (int i = 0; i < n; i++)
				p[i].revents = 0;
		fleet_service(f, p, n);
	}
}

static void lag_cell(char *buf, size_t n, const struct fleet_figures *f, int json)
{
	if (!isnan(f->lag_s))
		out_seconds_cell(buf, n, f->lag_s, json, 0);
	else if (f->lag_bytes >= 0 && !json)
		fmt_bytes(buf, n, (double)f->lag_bytes);
	else
		snprintf(buf, n, "%s", json ? "" : "-");
}

static void import_cell(char *buf, size_t n, const struct fleet_figures *f, int json)
{
	if (!f->import_id) {
		snprintf(buf, n, "%s", json ? "" : f->imports_present ? "none" : "-");
		return;
	}
	char ago[32] = "";
	if (!isnan(f->import_at) && !json)
		fmt_duration(ago, sizeof ago, f->server_now - f->import_at);
	snprintf(buf, n, "#%lld %s%s%s%s", f->import_id, f->import_state, ago[0] ? " " : "", ago,
		 ago[0] ? " ago" : "");
}

static enum status env_row(struct cmd_ctx *ctx, const struct fleet_env_view *e, int target)
{
	int json = out_format(ctx->out) == OUT_JSON;
	char why[256], lag[32], imp[96], gen[32], backup[32], repl[16];
	enum status st = fleet_judge(e, ctx->cfg, 30, why, sizeof why);
	const struct fleet_figures *f = &e->f;
	int up = e->reachable && e->have;
	lag_cell(lag, sizeof lag, f, json);
	import_cell(imp, sizeof imp, f, json);
	snprintf(gen, sizeof gen, "%lld", f->generation);
	out_seconds_cell(backup, sizeof backup, f->backup_age_s, json, 0);
	snprintf(repl, sizeof repl, "%d", f->nreplicas);
	if (!f->generation || f->generation < 0)
		snprintf(gen, sizeof gen, "%s", json ? "" : "-");
	out_rowf(ctx->out, e->name, target ? "yes" : "no", e->reachable ? "yes" : "no",
		 up ? (f->in_recovery ? "standby" : "primary") : (json ? "" : "-"), up ? lag : "",
		 up ? repl : "", up ? imp : "", up ? gen : "", up ? backup : "", status_name(st),
		 why);
	return st;
}

static int cmd_fleet_exec(struct cmd_ctx *ctx)
{
	if (ctx->cfg->nenvs == 0) {
		out_status(ctx->out, ST_UNKNOWN, "no environments: %s names no [env NAME] section",
			   ctx->cfg->path);
		return ST_UNKNOWN;
	}
	struct fleet *f = fleet_new(ctx->cfg, "midsops fleet", -1);
	wait_fleet(f);
	int ti = fleet_target_index(ctx->cfg, ctx->target ? ctx->target->env : NULL,
				    ctx->target ? ctx->target->conninfo : NULL);
	static const char *const cols[] = {"environment", "target",   "reachable",   "role",
					   "lag",	  "replicas", "last_import", "generation",
					   "backup_age",  "status",   "why"};
	out_table_begin(ctx->out, "environments", 11, cols);
	enum status worst = ST_OK;
	int bad = 0, down = 0;
	char worst_name[64] = "";
	for (int i = 0; i < fleet_count(f); i++) {
		const struct fleet_env_view *e = fleet_env(f, i);
		enum status st = env_row(ctx, e, i == ti);
		bad += st != ST_OK;
		down += !e->reachable;
		if (st != ST_OK && (worst == ST_OK || st == ST_CRITICAL) && worst != ST_CRITICAL)
			snprintf(worst_name, sizeof worst_name, "%s", e->name);
		worst = status_worst(worst, st);
	}
	out_table_end(ctx->out);
	out_kv_int(ctx->out, "round_trips", fleet_queries(f));
	if (bad)
		out_status(ctx->out, worst,
			   "%d of %d environments need attention (%d unreachable), "
			   "worst %s",
			   bad, fleet_count(f), down, worst_name);
	else
		out_status(ctx->out, worst, "%d environments healthy", fleet_count(f));
	fleet_free(f);
	return worst;
}

const struct cmd_entry cmd_fleet_table[] = {
    {
	.name = "fleet",
	.summary = "Every configured environment at once: reachable, role, replication lag, last "
		   "import and generation, last backup age, worst status",
	.usage = "fleet [--json]",
	.flags = CMD_CHECK | CMD_NODB | CMD_OBSERVE,
	.exec = cmd_fleet_exec,
    },
    {0},
};
