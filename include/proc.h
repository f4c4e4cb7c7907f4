/* Child processes: always an argv, never a shell string. */
#ifndef MIDSOPS_PROC_H
#define MIDSOPS_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct proc_opts {
	uid_t uid; /* run as this user when >0 and we are root */
	gid_t gid;
	const char *cwd;
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
/* Full path of a PostgreSQL server binary (pg_ctl, initdb, pg_basebackup...): from
 * `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. NULL if missing. */
const char *proc_pg_bin(const char *name, char *buf, size_t n);

#endif
