/* cluster init|start|stop|status: the embedded PostgreSQL cluster. */
#include <string.h>

#include "cluster.h"
#include "cmd.h"

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
		if (cluster_start(&c, &already, err, sizeof err) < 0) {
			out_err(ctx->out, "%s", err);
			return EXIT_FAIL;
		}
		out_line(ctx->out, already ? "cluster is already running (%s)" : "cluster started (%s)",
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
	if (strcmp(sub, "status") == 0) {
		pid_t pid;
		enum cluster_state st = cluster_state(&c, &pid);
		const char *names[] = {"absent", "stopped", "running"};
		char ci[4096];
		cluster_conninfo(&c, ci, sizeof ci);
		out_kv(ctx->out, "state", "%s", names[st]);
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
		.summary = "Manage the embedded PostgreSQL cluster: init, start, stop, status",
		.usage = "cluster init|start|stop [smart|fast|immediate]|status",
		.flags = CMD_NODB,
		.exec = cmd_cluster_exec,
	},
	{0},
};
