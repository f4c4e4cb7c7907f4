/* Child processes: fork/exec with an argv. fork rather than posix_spawn because the
 * server tools must drop to the postgres user when we are root. */
#include "proc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Whether the child takes another user's identity: then it opens its own files. */
static int drops_user(const struct proc_opts *o)
{
	return o && o->uid > 0 && geteuid() == 0;
}

#define OUT_IN_CHILD (-3)

/* The output file of a child that runs as another user, opened after it became that user:
 * the file is that user's, in that user's folder, and a link or a FIFO put in its place
 * leads nowhere that user could not write anyway. Without it the tool still runs, its
 * output discarded, and the reason is said on stderr. */
static int child_open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd >= 0 && fcntl(fd, F_SETFL, O_APPEND) == 0)
		return fd;
	char msg[4400];
	int n =
	    snprintf(msg, sizeof msg, "midsops: cannot open %s as uid %ld: %s; output lost\n", path,
		     (long)getuid(), errno == ELOOP ? "a symbolic link" : strerror(errno));
	if (n > 0 && write(2, msg, strnlen(msg, sizeof msg)) < 0)
		n = 0; /* nowhere left to say it */
	if (fd >= 0)
		close(fd);
	return open("/dev/null", O_WRONLY);
}

/* ---------- process groups ---------- */

/* The groups of the tools still running, so a signal that ends midsops ends them too:
 * pg_basebackup's WAL streamer, left alone, went on writing into deleted files and holding
 * a walsender. Written only outside signal handlers; the handler only reads. */
#define MAX_GROUPS 64
static volatile pid_t groups[MAX_GROUPS];
static pid_t spawn_parent;
/* A stop's grace in the signal handler: a tool that ignores SIGTERM gets SIGKILL. */
#define SIGNAL_GRACE_MS 3000

static void group_forget(pid_t pid)
{
	for (int i = 0; i < MAX_GROUPS; i++)
		if (groups[i] == pid)
			groups[i] = 0;
}

/* Still our child, reaped or not. */
static int group_ours(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* Async-signal-safe: kill, waitpid, nanosleep, signal and raise only. */
static void on_fatal_signal(int sig)
{
	/* Only this process's children: a forked child inherits the list, not the tools. */
	pid_t mine[MAX_GROUPS];
	int n = 0, left;
	for (int i = 0; i < MAX_GROUPS; i++) {
		pid_t g = groups[i];
		if (g > 0 && group_ours(g)) {
			kill(-g, SIGTERM);
			mine[n++] = g;
		}
	}
	struct timespec tick = {0, 20 * 1000 * 1000};
	left = n;
	for (int waited = 0; left && waited < SIGNAL_GRACE_MS; waited += 20) {
		left = 0;
		for (int i = 0; i < n; i++) {
			waitpid(mine[i], NULL, WNOHANG);
			if (kill(-mine[i], 0) == 0)
				left++;
		}
		if (left)
			nanosleep(&tick, NULL);
	}
	for (int i = 0; left && i < n; i++)
		kill(-mine[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Record a started tool, and install the handler for the signals that would otherwise
 * end midsops alone, where nobody else handles them. */
static void group_add(pid_t pid, const struct proc_opts *o)
{
	if (o && o->same_group)
		return;
	setpgid(pid, pid); /* the child does it too: whichever runs first */
	int slot = -1;
	for (int i = 0; i < MAX_GROUPS && slot < 0; i++)
		if (groups[i] == 0 || !group_ours(groups[i]))
			slot = i;
	if (slot >= 0)
		groups[slot] = pid;
	/* Checked each time: a command's own handler may be in place now and gone later. */
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction old, sa = {.sa_handler = on_fatal_signal};
		sigemptyset(&sa.sa_mask);
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
	}
}

/* In the child, first: its own group, so a stop signals all of the tool. */
static void child_group(const struct proc_opts *o)
{
	if (!(o && o->same_group))
		setpgid(0, 0);
}

/* In the child, after it took the tool's user (which clears the death signal). */
static void child_tie(const struct proc_opts *o, int always)
{
	if (!always && !(o && o->die_with_parent))
		return;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != spawn_parent)
		_exit(126); /* midsops died before the tie */
}

static void child_setup(const struct proc_opts *o, int outfd)
{
	if (o && o->envp_add)
		for (char *const *e = o->envp_add; *e; e++)
			putenv(*e);
	/* Files are opened after the drop, with the rights of the user the tool runs as. */
	if (drops_user(o)) {
		if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0)
			_exit(126);
	}
	if (outfd == OUT_IN_CHILD)
		outfd = child_open_out(o->stdout_file);
	int in = open(o && o->stdin_file ? o->stdin_file : "/dev/null", O_RDONLY);
	if (in >= 0) {
		dup2(in, 0);
		close(in);
	}
	if (outfd >= 0) {
		dup2(outfd, 1);
		dup2(outfd, 2);
		close(outfd);
	}
	child_tie(o, 0);
	if (o && o->cwd && chdir(o->cwd) < 0)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

static int open_out(const struct proc_opts *o, int pipefd[2])
{
	if (o && o->capture) {
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return -2;
		return pipefd[1];
	}
	if (o && o->stdout_file && drops_user(o))
		return OUT_IN_CHILD;
	if (o && o->stdout_file)
		return open(o->stdout_file, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
			    0600);
	if (o && o->quiet)
		return open("/dev/null", O_WRONLY | O_CLOEXEC);
	return -1;
}

/* Fork and exec argv, its output where opts sends it; pfd[0] is left open for the caller
 * when the output is captured. tie: the child always dies with midsops (proc_run). */
static pid_t fork_exec(char *const argv[], const struct proc_opts *opts, int tie, int pfd[2])
{
	int outfd = open_out(opts, pfd);
	if (outfd == -2)
		return -1;
	spawn_parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		child_group(opts);
		if (pfd[0] >= 0)
			close(pfd[0]);
		child_setup(opts, outfd);
		if (tie)
			child_tie(opts, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	group_add(pid, opts);
	if (outfd >= 0)
		close(outfd);
	return pid;
}

pid_t proc_spawn(char *const argv[], const struct proc_opts *opts)
{
	int pfd[2] = {-1, -1};
	pid_t pid = fork_exec(argv, opts, 0, pfd);
	if (pid >= 0 && pfd[0] >= 0)
		close(pfd[0]);
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int proc_run(char *const argv[], const struct proc_opts *opts, char **output)
{
	int pfd[2] = {-1, -1};
	pid_t pid = fork_exec(argv, opts, 1, pfd);
	if (pid < 0)
		return -1;
	if (opts && opts->capture) {
		size_t len = 0, cap = 4096;
		char *buf = xmalloc(cap);
		ssize_t n;
		for (;;) {
			if (len + 1024 > cap) {
				cap *= 2;
				char *nb = xrealloc(buf, cap);
				if (!nb)
					break;
				buf = nb;
			}
			n = read(pfd[0], buf + len, cap - len - 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(pfd[0]);
		if (buf)
			buf[len] = 0;
		if (output)
			*output = buf;
		else
			free(buf);
	}
	int st = wait_status(pid);
	group_forget(pid);
	return st;
}

/* A process that exists and is not a zombie (one we cannot reap waits for its parent). */
static int pid_running(pid_t pid, pid_t *pgrp)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	char state = 0;
	long grp = 0;
	if (!p || sscanf(p + 1, " %c %*d %ld", &state, &grp) != 2)
		return 0;
	if (pgrp)
		*pgrp = (pid_t)grp;
	return state != 'Z' && state != 'X';
}

/* Any process of group pgid still running (zombies count as gone). */
static int group_running(pid_t pgid)
{
	if (kill(-pgid, 0) < 0)
		return 0;
	DIR *d = opendir("/proc");
	int found = 0;
	struct dirent *e;
	while (d && !found && (e = readdir(d))) {
		pid_t p = (pid_t)atol(e->d_name), g;
		if (p > 0 && pid_running(p, &g) && g == pgid)
			found = 1;
	}
	if (d)
		closedir(d);
	return found;
}

int proc_stop_group(pid_t pid, int grace_ms)
{
	int st = -1, reaped = 0, ws;
	if (pid <= 0)
		return -1;
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM); /* a tool started with same_group */
	for (int waited = 0;; waited += 20) {
		if (!reaped) {
			pid_t w = waitpid(pid, &ws, WNOHANG);
			if (w == pid) {
				reaped = 1;
				st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
			} else if (w < 0 && errno != EINTR)
				reaped = 1; /* not our child */
		}
		if (reaped && !group_running(pid))
			break;
		if (waited >= grace_ms) {
			kill(-pid, SIGKILL);
			if (!reaped) {
				kill(pid, SIGKILL);
				st = wait_status(pid);
			}
			break;
		}
		usleep(20000);
	}
	group_forget(pid);
	return st;
}

int proc_find_by_path(const char *path, pid_t *out, int max)
{
	size_t pl = strlen(path);
	int n = 0;
	DIR *d = opendir("/proc");
	if (!d || !pl)
		return 0;
	static char buf[65536];
	struct dirent *e;
	while (n < max && (e = readdir(d))) {
		pid_t p = (pid_t)atol(e->d_name);
		if (p <= 0 || p == getpid())
			continue;
		char f[64];
		snprintf(f, sizeof f, "/proc/%ld/cmdline", (long)p);
		int fd = open(f, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		for (ssize_t i = 0; i < len; i += (ssize_t)strlen(buf + i) + 1)
			if (strncmp(buf + i, path, pl) == 0 &&
			    (buf[i + pl] == 0 || buf[i + pl] == '/')) {
				out[n++] = p;
				break;
			}
	}
	closedir(d);
	return n;
}

int proc_stop_pids(const pid_t *pids, int n, int grace_ms)
{
	int sent = 0;
	for (int i = 0; i < n; i++)
		if (kill(pids[i], SIGTERM) == 0)
			sent++;
	for (int waited = 0; waited < grace_ms; waited += 20) {
		int left = 0;
		for (int i = 0; i < n; i++)
			left += pid_running(pids[i], NULL);
		if (!left)
			return sent;
		usleep(20000);
	}
	for (int i = 0; i < n; i++)
		if (pid_running(pids[i], NULL))
			kill(pids[i], SIGKILL);
	return sent;
}

const char *proc_pg_bin(const char *name, char *buf, size_t n)
{
	static char bindir[1024];
	struct stat st;
	if (!bindir[0]) {
		char *argv[] = {"pg_config", "--bindir", NULL};
		struct proc_opts o = {.capture = 1};
		char *out = NULL;
		if (proc_run(argv, &o, &out) == 0 && out) {
			out[strcspn(out, "\n")] = 0;
			char probe[1200];
			snprintf(probe, sizeof probe, "%s/initdb", out);
			if (stat(probe, &st) == 0)
				snprintf(bindir, sizeof bindir, "%s", out);
		}
		free(out);
	}
	if (!bindir[0]) {
		/* Debian puts the server tools in a versioned directory; take the newest. */
		DIR *d = opendir("/usr/lib/postgresql");
		int best = 0;
		if (d) {
			struct dirent *e;
			while ((e = readdir(d))) {
				int v = atoi(e->d_name);
				char probe[1200];
				snprintf(probe, sizeof probe, "/usr/lib/postgresql/%s/bin/initdb",
					 e->d_name);
				if (v > best && stat(probe, &st) == 0) {
					best = v;
					snprintf(bindir, sizeof bindir,
						 "/usr/lib/postgresql/%s/bin", e->d_name);
				}
			}
			closedir(d);
		}
	}
	if (!bindir[0])
		return NULL;
	snprintf(buf, n, "%s/%s", bindir, name);
	if (stat(buf, &st) < 0) {
		/* Client tools (psql, pg_dump) may live only in /usr/bin. */
		snprintf(buf, n, "%s", name);
	}
	return buf;
}
