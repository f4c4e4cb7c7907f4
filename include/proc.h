/* Child processes: always an argv, never a shell string. */
#ifndef MIDSOPS_PROC_H
#define MIDSOPS_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct proc_opts {
	uid_t uid; /* run as this user when >0 and we are root */
	gid_t gid;
	const char *cwd;
	/* Each tool runs in a process group of its own (its pid), so stopping it reaches what
	 * it started too (pg_basebackup's WAL streamer). same_group keeps midsops's group. */
	int same_group;
	/* proc_spawn: the tool gets SIGTERM when midsops dies, even of SIGKILL
	 * (PR_SET_PDEATHSIG), for tools that must never outlive the run that started them.
	 * proc_run's tools always do: a caller that waits never means them to outlive it. */
	int die_with_parent;
	char *const *envp_add;	/* "K=V" strings added to the environment, NULL-terminated */
	const char *stdin_file; /* redirect stdin from this file (NULL: /dev/null) */
	/* redirect stdout+stderr to this file, O_APPEND|O_NOFOLLOW (NULL: inherit). With a uid
	 * to run as, the child opens it (and stdin_file) after it became that user. */
	const char *stdout_file;
	int capture; /* capture stdout+stderr into *output */
	int quiet;   /* stdout/stderr to /dev/null */
};

/* Run argv and wait. Returns the exit status (0..255), 128+signal if signalled, or -1
 * if it could not start (errno set). With capture, *output is malloc'ed (caller frees). */
int proc_run(char *const argv[], const struct proc_opts *opts, char **output);
/* Start argv without waiting. Returns the pid or -1. */
pid_t proc_spawn(char *const argv[], const struct proc_opts *opts);
/* Stop a tool started by proc_spawn: SIGTERM to its whole process group, SIGKILL to what is
 * left after grace_ms; reaps it. Returns its status as proc_run does (-1 if not ours).
 * SIGTERM, SIGINT and SIGHUP to midsops do the same for every tool still running, unless
 * a command handles those signals itself (then it stops its tools with this). */
int proc_stop_group(pid_t pid, int grace_ms);
/* Processes (of any parent) with an argument equal to path or under path/: up to max pids
 * into out; returns how many. How a run finds the tools an interrupted run left behind. */
int proc_find_by_path(const char *path, pid_t *out, int max);
/* SIGTERM to each, SIGKILL to those still there after grace_ms. Returns how many were
 * signalled. */
int proc_stop_pids(const pid_t *pids, int n, int grace_ms);
/* Full path of a PostgreSQL server binary (pg_ctl, initdb, pg_basebackup...): from
 * `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. NULL if missing. */
const char *proc_pg_bin(const char *name, char *buf, size_t n);

#endif
