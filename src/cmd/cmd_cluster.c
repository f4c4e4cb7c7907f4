/* cluster init|start|stop|status|unfence: the embedded PostgreSQL cluster. */
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "cmd.h"
#include "dr.h"
#include "util.h"

/* `cluster start` of a fenced cluster: documented in midsops.1. */
#define EXIT_FENCED 4

static int confirm_unfence(struct cmd_ctx *ctx, const struct cluster *c, const char *why)
{
	struct strbuf what = {0}, refusal = {0};
	strbuf_addf(&what,
		    "%s was fenced (%s). If the DR site was promoted, starting this cluster "
		    "again makes two primaries that cannot be merged",
		    c->datadir, why);
	strbuf_addf(&refusal,
		    "cluster unfence needs confirmation: pass --yes (the cluster at %s was "
		    "fenced: %s)",
		    c->datadir, why);
	int yes = cmd_confirm(ctx, "unfence", what.s, refusal.s);
	strbuf_free(&what);
	strbuf_free(&refusal);
	return yes;
}

static int cluster_unfence(struct cmd_ctx *ctx, struct cluster *c)
{
	char why[512], err[1024];
	if (!cluster_fenced(c, why, sizeof why)) {
		out_line(ctx->out, "the cluster at %s is not fenced", c->datadir);
		return 0;
	}
	if (!confirm_unfence(ctx, c, why))
		return EXIT_USAGE;
	int cleared = 0;
	if (dr_unfence_cluster(c, &cleared, err, sizeof err) < 0) {
		out_err(ctx->out, "cluster unfence: %s", err);
		return EXIT_FAIL;
	}
	out_kv(ctx->out, "synchronous_standby_names", "%s",
	       cleared ? "cleared in postgresql.auto.conf: the cluster will not wait for a "
			 "standby that may now be a primary"
		       : "not set: the cluster waits for no standby");
	out_line(ctx->out, "fence lifted from %s; it stays stopped until 'midsops cluster start'",
		 c->datadir);
	return 0;
}

static int cmd_cluster_exec(struct cmd_ctx *ctx)
{
	const char *sub = ctx->args->argv[0];
	struct cluster c;
	char err[1024];
	if (cluster_locate(&c, NULL, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_FAIL;
	}
	if (strcmp(sub, "init") == 0) {
		if (cluster_state(&c, NULL) != CLUSTER_ABSENT) {
			out_line(ctx->out, "cluster already initialised at %s", c.datadir);
			return 0;
		}
		if (cluster_init(&c, err, sizeof err) < 0) {
			out_err(ctx->out, "%s", err);
			return EXIT_FAIL;
		}
		out_line(ctx->out, "initialised cluster at %s", c.datadir);
		return 0;
	}
	if (strcmp(sub, "start") == 0) {
		int already = 0;
		int rc = cluster_start(&c, &already, err, sizeof err);
		if (rc < 0) {
			out_err(ctx->out, "cluster start: %s", err);
			return rc == CLUSTER_START_FENCED ? EXIT_FENCED : EXIT_FAIL;
		}
		out_line(ctx->out,
			 already ? "cluster is already running (%s)" : "cluster started (%s)",
			 c.datadir);
		return 0;
	}
	if (strcmp(sub, "stop") == 0) {
		const char *mode = ctx->args->argc > 1 ? ctx->args->argv[1] : "fast";
		if (strcmp(mode, "smart") && strcmp(mode, "fast") && strcmp(mode, "immediate")) {
			out_err(ctx->out, "cluster stop: mode must be smart, fast or immediate");
			return EXIT_USAGE;
		}
		if (cluster_state(&c, NULL) != CLUSTER_RUNNING) {
			out_line(ctx->out, "cluster is not running");
			return 0;
		}
		if (cluster_stop(&c, mode, err, sizeof err) < 0) {
			out_err(ctx->out, "%s", err);
			return EXIT_FAIL;
		}
		out_line(ctx->out, "cluster stopped");
		return 0;
	}
	if (strcmp(sub, "unfence") == 0)
		return cluster_unfence(ctx, &c);
	if (strcmp(sub, "status") == 0) {
		pid_t pid;
		enum cluster_state st = cluster_state(&c, &pid);
		const char *names[] = {"absent", "stopped", "running"};
		char ci[4096];
		cluster_conninfo(&c, ci, sizeof ci);
		char why[512];
		out_kv(ctx->out, "state", "%s", names[st]);
		if (cluster_fenced(&c, why, sizeof why))
			out_kv(ctx->out, "fenced",
			       "yes: %s (cluster start refuses it; see cluster "
			       "unfence)",
			       why);
		if (pid)
			out_kv_int(ctx->out, "pid", pid);
		out_kv(ctx->out, "data_directory", "%s", c.datadir);
		out_kv(ctx->out, "socket_directory", "%s", c.sockdir);
		out_kv_int(ctx->out, "port", c.port);
		out_kv(ctx->out, "log_file", "%s", c.logfile);
		out_kv(ctx->out, "conninfo", "%s", ci);
		out_kv_int(ctx->out, "server_uid", c.uid);
		/* Exit status like pg_ctl status: 0 running, 3 not running. */
		return st == CLUSTER_RUNNING ? 0 : 3;
	}
	out_err(ctx->out, "cluster: unknown subcommand '%s'", sub);
	cmd_usage(&cmd_cluster_table[0], ctx->out);
	return EXIT_USAGE;
}

const struct cmd_entry cmd_cluster_table[] = {
    {
	.name = "cluster",
	.min_args = 1,
	.max_args = 2,
	.options = "yes",
	.summary = "Manage the embedded PostgreSQL cluster: init, start, stop, status, "
		   "unfence (lift the fence dr-activate left on an old primary)",
	.usage = "cluster init|start|stop [smart|fast|immediate]|status|unfence [--yes]",
	.flags = CMD_NODB,
	.exec = cmd_cluster_exec,
    },
    {0},
};
