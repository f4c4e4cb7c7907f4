/* The embedded PostgreSQL cluster: $XDG_DATA_HOME/midsops/pg, Unix socket only. */
#ifndef MIDSOPS_CLUSTER_H
#define MIDSOPS_CLUSTER_H

#include <stddef.h>
#include <sys/types.h>

struct cluster {
	char root[4096];    /* paths_data_dir() */
	char datadir[4096]; /* root/pg */
	char sockdir[4096]; /* root/run */
	char logdir[4096];  /* state/log/postgresql */
	char logfile[4096];
	char archive_dir[4096]; /* WAL archive, set up by the backup family */
	int port;
	uid_t uid; /* the server's user (postgres when we are root) */
	gid_t gid;
};

enum cluster_state { CLUSTER_ABSENT, CLUSTER_STOPPED, CLUSTER_RUNNING };

/* Fill paths for the default cluster (or root dir when given). */
int cluster_locate(struct cluster *c, const char *root, char *err, size_t errlen);
enum cluster_state cluster_state(const struct cluster *c, pid_t *pid);
int cluster_init(struct cluster *c, char *err, size_t errlen);
/* Start if not running; *already set when it was. Initialises first if absent. A fenced
 * cluster is not started: CLUSTER_START_FENCED, the reason in err. */
int cluster_start(struct cluster *c, int *already, char *err, size_t errlen);
int cluster_stop(struct cluster *c, const char *mode, char *err, size_t errlen);
/* The fence mark (cluster_fence.c): ROOT/fenced, mode 0600, one line saying why.
 * cluster_start refuses a fenced cluster and returns CLUSTER_START_FENCED. */
#define CLUSTER_START_FENCED (-2)
/* 1 when fenced (why filled; an unreadable mark counts as fenced), 0 when not. */
int cluster_fenced(const struct cluster *c, char *why, size_t n);
int cluster_fence_mark(const struct cluster *c, const char *why, char *err, size_t errlen);
int cluster_fence_clear(const struct cluster *c, char *err, size_t errlen);
/* libpq conninfo for the cluster. */
void cluster_conninfo(const struct cluster *c, char *buf, size_t n);
/* Append a line to postgresql.auto.conf-like settings and reload (used by backups). */
int cluster_set(struct cluster *c, const char *name, const char *value, char *err,
		size_t errlen);
/* Make dir (and what midsops created above it) reachable for the server user. */
int cluster_make_reachable(const struct cluster *c, const char *dir, char *err, size_t errlen);

/* Folders and files of the server's user (cluster_files.c). As root, a name inside a folder
 * that user can write is never opened, chmodded or chowned as a path: the folder is opened,
 * the name inside it with openat and O_NOFOLLOW, and owner and mode change on the
 * descriptor. */
/* Create dir (mode), owned by the server's user when we are root, and reachable for it;
 * a symbolic link in dir's place is refused. */
int cluster_own_dir(const struct cluster *c, const char *dir, mode_t mode, char *err,
		    size_t errlen);
/* Write text to dir/name, a folder the server's user (c; NULL: nobody else) may write.
 * append: to the end of the file, created when missing; else a new file of its own (O_EXCL)
 * renamed over name. Only a regular file with one link, owned by us or the server's user,
 * is written; as root it is handed to the server's user (fchown) and fsynced. Returns 0, or
 * -1 with "cannot write DIR/NAME: reason" in err. */
int cluster_file_put(const struct cluster *c, const char *dir, const char *name,
		     const char *text, int append, char *err, size_t errlen);

#endif
