/* timeline: what happened in the last DURATION, newest first (src/probe/probe_timeline.c),
 * as a table, JSON, or Markdown for an incident report. From the console's command bar
 * (`:timeline --since 2h`) the Markdown also goes to a file in the reports directory, whose
 * path is the last line, so that it can be attached to the report. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "paths.h"
#include "probe.h"
#include "probe_timeline.h"
#include "target.h"
#include "util.h"

#define DEFAULT_SINCE (2 * 3600L)
#define MAX_ENTRIES   10000

static int since_arg(struct cmd_ctx *ctx, long *secs)
{
	char err[256];
	*secs = DEFAULT_SINCE;
	if (args_get_duration(ctx->args, "since", secs, err, sizeof err) < 0) {
		out_err(ctx->out, "timeline: --since: %s", err);
		return -1;
	}
	if (*secs <= 0) {
		out_err(ctx->out, "timeline: --since: the window must be longer than 0 seconds");
		return -1;
	}
	return 0;
}

static int timeline_check_args(struct cmd_ctx *ctx)
{
	long secs;
	if (since_arg(ctx, &secs) < 0)
		return EXIT_USAGE;
	if (args_has(ctx->args, "markdown") && out_format(ctx->out) == OUT_JSON) {
		out_err(ctx->out, "timeline: --markdown and --json exclude each other");
		return EXIT_USAGE;
	}
	return 0;
}

static void when_of(char *buf, size_t n, double at, const char *fmt)
{
	time_t t = (time_t)at;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, fmt, &tm);
}

/* A Markdown table cell: one line, pipes escaped. */
static void md_cell(struct strbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			strbuf_adds(b, "\\|");
		else if (*s == '\n' || *s == '\r' || *s == '\t')
			strbuf_adds(b, " ");
		else
			strbuf_add(b, s, 1);
	}
}

static void markdown(struct cmd_ctx *ctx, const struct timeline *t, long since, struct strbuf *b)
{
	char from[64], to[64], span[32], shown[2048];
	time_t now = time(NULL);
	when_of(from, sizeof from, (double)(now - since), "%Y-%m-%d %H:%M:%S");
	when_of(to, sizeof to, (double)now, "%Y-%m-%d %H:%M:%S %Z");
	fmt_duration(span, sizeof span, (double)since);
	target_display(ctx->target, shown, sizeof shown);
	strbuf_addf(b, "## Timeline: the last %s\n\n", span);
	strbuf_addf(b,
		    "- Environment: %s\n- Target: `%s`\n- From %s to %s, newest first, %d "
		    "entr%s\n\n",
		    ctx->target->env, shown, from, to, t->n, t->n == 1 ? "y" : "ies");
	strbuf_adds(b, "| Time | Kind | Level | Summary |\n| --- | --- | --- | --- |\n");
	for (int i = 0; i < t->n; i++) {
		char at[64], sum[1024];
		when_of(at, sizeof at, t->v[i].at, "%Y-%m-%d %H:%M:%S");
		probe_timeline_summary(&t->v[i], sum, sizeof sum);
		strbuf_addf(b, "| %s | %s | %s | ", at, t->v[i].kind, t->v[i].level);
		md_cell(b, sum);
		strbuf_adds(b, " |\n");
	}
}

/* The console's copy: reports_dir/timeline-STAMP.md, 0600. */
static int save_copy(struct cmd_ctx *ctx, const struct strbuf *b)
{
	char stamp[32], path[4200];
	time_t now = time(NULL);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
	if (!util_fits(
		snprintf(path, sizeof path, "%s/timeline-%s.md", ctx->cfg->reports_dir, stamp),
		sizeof path)) {
		out_err(ctx->out, "timeline: reports path too long");
		return -1;
	}
	if (paths_mkdir_p(ctx->cfg->reports_dir, 0700) < 0) {
		out_err(ctx->out, "cannot create %s: %s", ctx->cfg->reports_dir, strerror(errno));
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;
	while (fd >= 0 && off < b->len) {
		ssize_t w = write(fd, b->s + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (fd < 0 || off < b->len || close(fd) < 0) {
		out_err(ctx->out, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	out_line(ctx->out, "written to %s", path);
	return 0;
}

static void table(struct cmd_ctx *ctx, const struct timeline *t, long since)
{
	struct out *o = ctx->out;
	int json = out_format(o) == OUT_JSON;
	char span[32];
	fmt_duration(span, sizeof span, (double)since);
	if (json)
		out_kv_int(o, "since_seconds", since);
	else
		out_kv(o, "since", "%s", span);
	out_kv_int(o, "entries", t->n);
	const char *cols[] = {"time", "kind",	"summary", "level", "source",
			      "id",   "run_id", "host",	   "pid",   "message"};
	out_table_begin(o, "timeline", json ? 10 : 3, cols);
	for (int i = 0; i < t->n; i++) {
		const struct tl_entry *e = &t->v[i];
		char at[64], sum[1024], id[32], run[32], pid[32];
		when_of(at, sizeof at, e->at, json ? "%Y-%m-%dT%H:%M:%S%z" : "%Y-%m-%d %H:%M:%S");
		probe_timeline_summary(e, sum, sizeof sum);
		if (!json) {
			out_rowf(o, at, e->kind, sum);
			continue;
		}
		snprintf(id, sizeof id, "%lld", e->id);
		snprintf(run, sizeof run, "%lld", e->run_id);
		snprintf(pid, sizeof pid, "%d", e->pid);
		out_rowf(o, at, e->kind, sum, e->level, e->source, e->id ? id : NULL,
			 e->run_id ? run : NULL, e->host[0] ? e->host : NULL, e->pid ? pid : NULL,
			 e->message);
	}
	out_table_end(o);
}

static int cmd_timeline_exec(struct cmd_ctx *ctx)
{
	long since;
	if (since_arg(ctx, &since) < 0)
		return EXIT_USAGE;
	struct timeline t = {0};
	if (probe_timeline(ctx->db, since, MAX_ENTRIES, &t) < 0) {
		out_err(ctx->out, "timeline: %s", t.error);
		return EXIT_FAIL;
	}
	int rc = 0;
	if (args_has(ctx->args, "markdown")) {
		struct strbuf b = {0};
		markdown(ctx, &t, since, &b);
		/* out_line adds the line ends back; the blank lines Markdown needs stay */
		for (const char *l = b.s; l && *l;) {
			size_t len = strcspn(l, "\n");
			out_line(ctx->out, "%.*s", (int)len, l);
			l += len + (l[len] == '\n');
		}
		if (ctx->in_console || getenv("MIDSOPS_IN_CONSOLE")) {
			rc = save_copy(ctx, &b) < 0 ? EXIT_FAIL : 0;
		}
		strbuf_free(&b);
	} else
		table(ctx, &t, since);
	probe_timeline_free(&t);
	return rc;
}

const struct cmd_entry cmd_timeline_table[] = {
    {
	.name = "timeline",
	.options = "since= markdown",
	.summary = "What happened in the last DURATION (default 2h), newest first: imports, "
		   "backups, checks, wizard steps, disconnects, incidents; --markdown for a report",
	.usage = "timeline [--since DURATION] [--markdown] [--json]",
	.exec = cmd_timeline_exec,
	.db = CMD_DB_READY,
	.check_args = timeline_check_args,
    },
    {0},
};
