/* Child processes: fork/exec with an argv. fork rather than posix_spawn because the
 * server tools must drop to the postgres user when we are root. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

pid_t proc_spawn(char *const argv[], const struct proc_opts *opts)
{
	int pfd[2] = {-1, -1};
	int outfd = open_out(opts, pfd);
	if (outfd == -2)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (pfd[0] >= 0)
			close(pfd[0]);
		child_setup(opts, outfd);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (outfd >= 0)
		close(outfd);
	if (pfd[0] >= 0)
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
	int outfd = open_out(opts, pfd);
	if (outfd == -2)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (pfd[0] >= 0)
			close(pfd[0]);
		child_setup(opts, outfd);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (outfd >= 0)
		close(outfd);
	if (opts && opts->capture) {
		size_t len = 0, cap = 4096;
		char *buf = malloc(cap);
		ssize_t n;
		for (;;) {
			if (len + 1024 > cap) {
				cap *= 2;
				char *nb = realloc(buf, cap);
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
	return wait_status(pid);
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
				snprintf(probe, sizeof probe, "/usr/lib/postgresql/%s/bin/initdb", e->d_name);
				if (v > best && stat(probe, &st) == 0) {
					best = v;
					snprintf(bindir, sizeof bindir, "/usr/lib/postgresql/%s/bin", e->d_name);
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
