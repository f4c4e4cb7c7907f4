/* dr-sync-guard: the actor behind [dr] synchronous = fallback (dr_sync.c). Once, for a
 * timer, or --watch, a loop; two guards never act at once (an advisory lock). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "dr_sync.h"
#include "args.h"

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void report(struct cmd_ctx *ctx, const struct dr_sync_result *r)
{
	if (ctx->cfg->dr_sync_fallback)
		out_kv(ctx->out, "mode", "fallback (to asynchronous after %.0f s)",
		       ctx->cfg->dr_sync_fallback_after);
	else
		out_kv(ctx->out, "mode", "strict (never drops to asynchronous)");
	out_kv(ctx->out, "state", "%s", dr_sync_action_name(r->action));
	if (r->names[0])
		out_kv(ctx->out, "standby_names", "%s", r->names);
	out_kv_int(ctx->out, "waiting_commits", r->h.sync_waiters);
	out_line(ctx->out, "%s", r->text);
}

static int guard_once(struct cmd_ctx *ctx)
{
	char err[1024];
	int locked;
	PGconn *c = dr_sync_guard_connect(ctx->target, &locked, err, sizeof err);
	if (!c) {
		out_err(ctx->out, "dr-sync-guard: %s", err);
		return EXIT_FAIL;
	}
	if (!locked) {
		out_line(ctx->out,
			 "another dr-sync-guard is running on this primary (advisory lock "
			 "%s): nothing done",
			 DR_SYNC_LOCK_KEY);
		dr_conn_close(c);
		return 0;
	}
	struct dr_sync_result r;
	int rc = dr_sync_step(c, ctx->cfg, NULL, &r, err, sizeof err);
	dr_conn_close(c);
	if (rc < 0) {
		out_err(ctx->out, "dr-sync-guard: %s", err);
		return EXIT_FAIL;
	}
	report(ctx, &r);
	return 0;
}

/* Prints a line when the state changes, not every pass. */
static int guard_watch(struct cmd_ctx *ctx, long interval)
{
	char err[1024], last[512] = "";
	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	PGconn *c = NULL;
	int locked = 0;
	time_t missing_since = 0;
	/* Each state change reaches a log or journald as it happens, not at exit. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!stop_requested) {
		if (c && !dr_conn_ok(c)) {
			dr_conn_close(c);
			c = NULL;
		}
		if (!c || !locked) {
			if (c)
				dr_conn_close(c);
			c = dr_sync_guard_connect(ctx->target, &locked, err, sizeof err);
			if (c && !locked)
				snprintf(err, sizeof err,
					 "another dr-sync-guard holds the lock; waiting for it");
		}
		struct dr_sync_result r;
		if (c && locked &&
		    dr_sync_step(c, ctx->cfg, &missing_since, &r, err, sizeof err) == 0)
			snprintf(err, sizeof err, "%s: %s", dr_sync_action_name(r.action), r.text);
		else if (dr_conn_ok(c) && locked) {
			/* A failed statement leaves the session usable; start over anyway. */
			dr_conn_close(c);
			c = NULL;
		}
		/* The waiting line changes with every second counted: print the state only. */
		char key[512];
		snprintf(key, sizeof key, "%.*s", (int)strcspn(err, ":"), err);
		if (strcmp(key, last) != 0) {
			out_line(ctx->out, "%s", err);
			snprintf(last, sizeof last, "%s", key);
		}
		for (long i = 0; i < interval * 10 && !stop_requested; i++)
			usleep(100000);
	}
	dr_conn_close(c);
	return 0;
}

static int cmd_dr_sync_guard_exec(struct cmd_ctx *ctx)
{
	long interval = 5;
	char err[256];
	if (args_has(ctx->args, "interval") &&
	    (args_get_long(ctx->args, "interval", &interval, err, sizeof err) < 0 || interval < 1 ||
	     interval > 3600)) {
		out_err(ctx->out, "dr-sync-guard: --interval wants seconds between 1 and 3600");
		return EXIT_USAGE;
	}
	if (args_has(ctx->args, "watch"))
		return guard_watch(ctx, interval);
	return guard_once(ctx);
}

const struct cmd_entry cmd_dr_sync_table[] = {
    {
	.name = "dr-sync-guard",
	.options = "watch interval=",
	.summary = "Synchronous DR that degrades honestly: with [dr] synchronous = fallback, "
		   "drop to asynchronous after synchronous_fallback_after seconds without the "
		   "synchronous standby, and restore it when the standby streams again",
	.usage = "dr-sync-guard [--watch] [--interval SECONDS]",
	.flags = CMD_LONG,
	.exec = cmd_dr_sync_guard_exec,
    },
    {0},
};
