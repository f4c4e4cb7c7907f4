/* Commands from the command bar run as child processes of this same binary, with the
 * resolved target passed in MIDSOPS_DSN (never in argv, where a password would show).
 * Their stdout and stderr stream through a pipe into the output area. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "config.h"
#include "target.h"
#include "tui_int.h"

/* Drop escape sequences and carriage returns a child might print. */
static void clean_line(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '\033') {
			if (p[1] == '[') {
				p += 2;
				while (*p && !(*p >= '@' && *p <= '~'))
					p++;
				if (!*p)
					break;
			}
			continue;
		}
		if (*p == '\r') {
			o = s; /* a progress line rewrites itself: keep the last version */
			continue;
		}
		*o++ = *p;
	}
	*o = 0;
}

int tui_child_start(struct tui *t, const struct cmd_entry *ce, char **words)
{
	int n = 0;
	while (words[n])
		n++;
	int explicit_target = 0;
	for (int i = 1; i < n; i++)
		if (strncmp(words[i], "--dsn", 5) == 0 || strncmp(words[i], "--env", 5) == 0)
			explicit_target = 1;
	char **argv = xcalloc((size_t)n + 6, sizeof *argv);
	int k = 0;
	argv[k++] = "midsops";
	argv[k++] = "--no-color";
	/* Only a file that exists: a --config that is missing is an error (exit 78), and
	 * without one the child finds the same default path the console did. */
	if (t->cfg->loaded) {
		argv[k++] = "--config";
		argv[k++] = t->cfg->path;
	}
	for (int i = 0; i < n; i++)
		argv[k++] = words[i];
	argv[k] = NULL;

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(argv);
		tui_message(t, "cannot start %s: %s", ce->name, strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		free(argv);
		tui_message(t, "cannot start %s: %s", ce->name, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		int in = open("/dev/null", O_RDONLY);
		if (in >= 0)
			dup2(in, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGWINCH, SIG_DFL);
		signal(SIGTSTP, SIG_DFL);
		if (explicit_target)
			unsetenv("MIDSOPS_DSN");
		else if (!t->target->embedded && t->target->conninfo[0])
			setenv("MIDSOPS_DSN", t->target->conninfo, 1);
		setenv("MIDSOPS_IN_CONSOLE", "1", 1);
		unsetenv("LINES");
		unsetenv("COLUMNS");
		execv("/proc/self/exe", argv);
		dprintf(1, "cannot run %s: %s\n", ce->name, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
	free(argv);
	memset(&t->child, 0, sizeof t->child);
	t->child.pid = pid;
	t->child.fd = pfd[0];
	t->child.flags = ce->flags;
	t->child.started = util_mono();
	snprintf(t->child.name, sizeof t->child.name, "%s", ce->name);
	return 0;
}

static void flush_partial(struct tui *t)
{
	struct tui_child *c = &t->child;
	if (!c->npartial)
		return;
	c->partial[c->npartial] = 0;
	clean_line(c->partial);
	tui_lines_add(&t->out, c->partial);
	c->npartial = 0;
}

void tui_child_read(struct tui *t)
{
	struct tui_child *c = &t->child;
	char buf[8192];
	for (int rounds = 0; c->fd >= 0 && rounds < 16; rounds++) {
		ssize_t n = read(c->fd, buf, sizeof buf);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			flush_partial(t);
			close(c->fd);
			c->fd = -1;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || c->npartial + 1 >= sizeof c->partial) {
				c->partial[c->npartial] = 0;
				clean_line(c->partial);
				tui_lines_add(&t->out, c->partial);
				c->npartial = 0;
				if (buf[i] == '\n')
					continue;
			}
			c->partial[c->npartial++] = buf[i];
		}
		t->need_redraw = 1;
	}
	tui_child_reap(t);
}

void tui_child_reap(struct tui *t)
{
	struct tui_child *c = &t->child;
	if (!c->pid)
		return;
	int st;
	pid_t r = waitpid(c->pid, &st, WNOHANG);
	if (r != c->pid)
		return;
	if (c->fd >= 0) {
		/* Drain what is left in the pipe. */
		tui_child_read(t);
		if (c->fd >= 0) {
			close(c->fd);
			c->fd = -1;
		}
	}
	flush_partial(t);
	double el = util_mono() - c->started;
	if (WIFEXITED(st))
		tui_lines_addf(&t->out, "[exit %d: %s, %.1fs]", WEXITSTATUS(st), c->name, el);
	if (WIFEXITED(st) && (c->flags & CMD_CHECK)) {
		/* A check run from the bar is on the timeline (and in ops.events): what the
		 * operator looked at during an incident, and what it said. */
		int x = WEXITSTATUS(st);
		char msg[160];
		snprintf(msg, sizeof msg, "check %s run from the console: %s (exit %d)", c->name,
			 x <= ST_UNKNOWN ? status_name((enum status)x) : "failed", x);
		monitor_note(t->mon,
			     x == ST_OK		? "info"
			     : x == ST_CRITICAL ? "error"
						: "warning",
			     msg);
	} else if (WIFSIGNALED(st))
		tui_lines_addf(&t->out, "[exit %d: %s stopped by signal %d, %.1fs]",
			       128 + WTERMSIG(st), c->name, WTERMSIG(st), el);
	tui_message(t, "%s finished", c->name);
	c->pid = 0;
	t->need_redraw = 1;
}

void tui_child_stop(struct tui *t, int force)
{
	struct tui_child *c = &t->child;
	if (!c->pid)
		return;
	/* First SIGINT (the command cleans up), then SIGTERM, then SIGKILL. */
	int sig = force ? SIGKILL : c->signals == 0 ? SIGINT : c->signals == 1 ? SIGTERM : SIGKILL;
	c->signals++;
	kill(-c->pid, sig);
	tui_lines_addf(&t->out, "[sent %s to %s]",
		       sig == SIGINT	? "SIGINT"
		       : sig == SIGTERM ? "SIGTERM"
					: "SIGKILL",
		       c->name);
	t->need_redraw = 1;
}
