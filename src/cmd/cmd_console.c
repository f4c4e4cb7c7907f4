/* The console command family: console (the live screen) and watch (its batch twin, a
 * status snapshot per interval as plain text for logs). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "cmd.h"
#include "config.h"
#include "status.h"
#include "target.h"
#include "tui.h"

static int cmd_console_exec(struct cmd_ctx *ctx)
{
	if (!isatty(0) || !isatty(1)) {
		out_err(ctx->out,
			"console: needs a terminal; try 'midsops status' or 'midsops watch'");
		return EXIT_USAGE;
	}
	if (ctx->in_console || getenv("MIDSOPS_IN_CONSOLE")) {
		out_err(ctx->out, "console: already in the console");
		return EXIT_USAGE;
	}
	const char *theme = args_get(ctx->args, "theme");
	if (theme)
		snprintf(ctx->cfg->theme, sizeof ctx->cfg->theme, "%s", theme);
	/* The console observes: a stopped embedded cluster is shown as such, and the operator
	 * starts it with ':cluster start'. It never starts it by itself. */
	return tui_run(ctx->cfg, ctx->target);
}

static volatile sig_atomic_t watch_stop;

static void on_stop(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static int cmd_watch_exec(struct cmd_ctx *ctx)
{
	char err[256];
	long interval = 0, count = 0;
	const char *iv = args_get(ctx->args, "interval");
	if (iv) {
		if (parse_duration(iv, &interval) < 0 || interval < 1) {
			out_err(ctx->out, "watch: --interval wants seconds (or 1m, 1h), not '%s'",
				iv);
			return EXIT_USAGE;
		}
	} else
		interval = ctx->cfg->refresh >= 1 ? (long)ctx->cfg->refresh : 5;
	if (!iv && interval < 5)
		interval = 5;
	if (args_get_long(ctx->args, "count", &count, err, sizeof err) < 0 || count < 0) {
		out_err(ctx->out, "watch: %s", count < 0 ? "--count wants a positive number" : err);
		return EXIT_USAGE;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = 0;
	for (long i = 0; !watch_stop && (count == 0 || i < count); i++) {
		if (i > 0) {
			/* sleep() returns early on the stop signals. */
			unsigned left = (unsigned)interval;
			while (left && !watch_stop)
				left = sleep(left);
			if (watch_stop)
				break;
		}
		/* One document per snapshot, so a log or a JSON-lines reader gets each whole: in
		 * JSON, one compact line each (NDJSON). */
		struct out *o = out_new_file(out_format(ctx->out), stdout, 1);
		out_json_mode(o, OUT_JSON_LINE);
		char ts[64];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);
		if (out_format(ctx->out) == OUT_TEXT)
			out_line(o, "== %s", ts);
		else {
			out_kv(o, "time", "%s", ts);
			out_kv_int(o, "epoch", (long long)now);
		}
		rc = status_render_all(o, ctx->cfg, ctx->target);
		out_free(o);
		fflush(stdout);
	}
	/* The snapshots were the output: no closing document after them. */
	out_json_mode(ctx->out, OUT_JSON_NONE);
	return rc;
}

const struct cmd_entry cmd_console_table[] = {
    {
	.name = "console",
	.options = "theme=",
	.summary = "The live console: health, import progress, cache and errors panes, "
		   "and a command bar",
	.usage = "console [--theme NAME]",
	.flags = 0, /* a bad target is a configuration error before the screen opens */
	.complete = COMPLETE_NONE,
	.exec = cmd_console_exec,
    },
    {
	.name = "watch",
	.options = "interval= count=",
	.summary = "Print a status snapshot every interval, as plain text for logs",
	.usage = "watch [--interval S] [--count N] [--json]",
	.flags = CMD_CHECK | CMD_STREAM,
	.exec = cmd_watch_exec,
    },
    {0},
};
