/* The embedded PostgreSQL cluster. Unix socket only, trust auth on a socket directory
 * that only the server's user (and root) can enter. */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "paths.h"
#include "proc.h"
#include "util.h"

#define CLUSTER_DB   "midsops"
#define CLUSTER_USER "midsops"

static int read_port(const char *root)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/port", root);
	FILE *f = fopen(path, "r");
	int port = 0;
	if (f) {
		if (fscanf(f, "%d", &port) != 1)
			port = 0;
		fclose(f);
	}
	if (port > 0 && port < 65536)
		return port;
	const char *e = getenv("MIDSOPS_PGPORT");
	port = e ? atoi(e) : 0;
	return port > 0 && port < 65536 ? port : 5432;
}

int cluster_locate(struct cluster *c, const char *root, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	const char *r = root ? root : paths_data_dir();
	if (!util_fits(snprintf(c->root, sizeof c->root, "%s", r), sizeof c->root) ||
	    !util_fits(snprintf(c->datadir, sizeof c->datadir, "%s/pg", c->root),
		       sizeof c->datadir) ||
	    !util_fits(snprintf(c->sockdir, sizeof c->sockdir, "%s/run", c->root),
		       sizeof c->sockdir) ||
	    !util_fits(snprintf(c->archive_dir, sizeof c->archive_dir, "%s/wal-archive", c->root),
		       sizeof c->archive_dir)) {
		snprintf(err, errlen, "path too long: %.200s", r);
		return -1;
	}
	/* A folder of its own inside the log directory: it belongs to the server's user, while
	 * midsops.log stays in one only root can write when we are root (log.c). */
	if (!util_fits(
		snprintf(c->logdir, sizeof c->logdir, "%s/log/postgresql", paths_state_dir()),
		sizeof c->logdir) ||
	    !util_fits(snprintf(c->logfile, sizeof c->logfile, "%s/postgresql.log", c->logdir),
		       sizeof c->logfile)) {
		snprintf(err, errlen, "path too long: %.200s", paths_state_dir());
		return -1;
	}
	c->port = read_port(c->root);
	c->uid = geteuid();
	c->gid = getegid();
	if (geteuid() == 0) {
		/* PostgreSQL refuses to run as root. */
		struct passwd *pw = getpwnam("postgres");
		if (!pw) {
			snprintf(err, errlen,
				 "running as root, but there is no 'postgres' user for the server; "
				 "install postgresql-15 or run midsops as an ordinary user");
			return -1;
		}
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	}
	return 0;
}

static pid_t read_pid(const struct cluster *c)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/postmaster.pid", c->datadir);
	/* The server's user owns the data directory: as root, a link or a FIFO in the pid
	 * file's place must neither lead us to another file nor hang every command. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	FILE *f = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	long pid = 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* A pid file can outlive its server (kill -9, reboot) and the pid can be reused. */
static int pid_is_postgres(pid_t pid)
{
	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	char path[64], comm[64] = "";
	snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = 0;
	fclose(f);
	return strncmp(comm, "postgres", 8) == 0 || strncmp(comm, "postmaster", 10) == 0;
}

enum cluster_state cluster_state(const struct cluster *c, pid_t *pid)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/PG_VERSION", c->datadir);
	if (pid)
		*pid = 0;
	if (stat(path, &st) < 0)
		return CLUSTER_ABSENT;
	pid_t p = read_pid(c);
	if (p && pid_is_postgres(p)) {
		if (pid)
			*pid = p;
		return CLUSTER_RUNNING;
	}
	return CLUSTER_STOPPED;
}

static int can_traverse(const struct stat *st, uid_t uid, gid_t gid)
{
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

int cluster_make_reachable(const struct cluster *c, const char *dir, char *err, size_t errlen)
{
	if (geteuid() != 0 || c->uid == 0)
		return 0;
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", dir);
	const char *home = getenv("HOME");
	struct passwd *pw = getpwuid(0);
	for (;;) {
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			break;
		*slash = 0;
		struct stat st;
		if (stat(buf, &st) < 0)
			continue;
		if (can_traverse(&st, c->uid, c->gid))
			continue;
		/* Opening up root's home would expose it; say why instead. */
		if ((home && strcmp(buf, home) == 0) || (pw && strcmp(buf, pw->pw_dir) == 0) ||
		    st.st_uid != 0) {
			snprintf(err, errlen,
				 "the server runs as user 'postgres', which cannot reach %s: %s is "
				 "mode %04o. Choose another XDG_DATA_HOME/XDG_STATE_HOME, or allow "
				 "traversal with: chmod o+x %s",
				 dir, buf, (unsigned)(st.st_mode & 07777), buf);
			return -1;
		}
		/* Traverse only (x, not r): the server can pass through, not list. */
		if (chmod(buf, (st.st_mode & 07777) | S_IXOTH) < 0) {
			snprintf(err, errlen, "cannot make %s reachable for user postgres: %s", buf,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The server's folders: its data, socket and log directories. Versions before the server
 * logged in a folder of its own handed the whole log folder to its user, who could then put
 * links where root writes midsops.log; as root, that folder is taken back (through a
 * descriptor, so nothing planted in it is followed) before the server's own is set up. */
static int own_dirs(const struct cluster *c, int datadir, char *err, size_t errlen)
{
	if (geteuid() == 0 && c->uid != 0) {
		char parent[4096];
		snprintf(parent, sizeof parent, "%s", c->logdir);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = 0;
		int fd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == c->uid &&
		    (fchown(fd, 0, 0) < 0 || fchmod(fd, st.st_mode & 0700) < 0)) {
			snprintf(err, errlen, "cannot take %s back from the server's user: %s",
				 parent, strerror(errno));
			close(fd);
			return -1;
		}
		if (fd >= 0)
			close(fd);
	}
	if (datadir && cluster_own_dir(c, c->datadir, 0700, err, errlen) < 0)
		return -1;
	if (cluster_own_dir(c, c->sockdir, 0700, err, errlen) < 0 ||
	    cluster_own_dir(c, c->logdir, 0700, err, errlen) < 0)
		return -1;
	return 0;
}

static int lock_root(const struct cluster *c)
{
	char path[4200];
	paths_mkdir_p(c->root, 0711);
	snprintf(path, sizeof path, "%s/cluster.lock", c->root);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	return fd;
}

static int append_conf(const struct cluster *c, char *err, size_t errlen)
{
	char text[8192];
	/* Written into the server's data directory: by descriptor (cluster_file_put). */
	int n = snprintf(text, sizeof text,
			 "\n# midsops embedded cluster\n"
			 "listen_addresses = ''\n"
			 "unix_socket_directories = '%s'\n"
			 "unix_socket_permissions = 0700\n"
			 "port = %d\n"
			 "shared_preload_libraries = 'pg_stat_statements'\n"
			 "pg_stat_statements.track = all\n"
			 "track_io_timing = on\n"
			 "wal_level = replica\n"
			 /* an import writes ~150 MB: room for it without backends evicting their
			  * own dirty pages, and WAL written in large pieces */
			 "shared_buffers = 256MB\n"
			 "wal_buffers = 16MB\n"
			 "max_wal_senders = 10\n"
			 "max_replication_slots = 10\n"
			 /* an abandoned slot (a DR site gone for good) may hold this much WAL,
			  * then it is invalidated instead of filling the disk */
			 "max_slot_wal_keep_size = 4GB\n"
			 "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n"
			 "log_min_duration_statement = 1000\n",
			 c->sockdir, c->port);
	/* For test clusters only: extra settings such as fsync = off. */
	const char *extra = getenv("MIDSOPS_CLUSTER_EXTRA_CONF");
	if (extra && *extra && n > 0 && (size_t)n < sizeof text)
		snprintf(text + n, sizeof text - (size_t)n, "%s\n", extra);
	return cluster_file_put(c, c->datadir, "postgresql.conf", text, 1, err, errlen);
}

int cluster_init(struct cluster *c, char *err, size_t errlen)
{
	if (cluster_state(c, NULL) != CLUSTER_ABSENT)
		return 0;
	char initdb[1024];
	if (!proc_pg_bin("initdb", initdb, sizeof initdb)) {
		snprintf(err, errlen,
			 "PostgreSQL server binaries not found (pg_config --bindir, "
			 "/usr/lib/postgresql/*/bin); install postgresql-15 (make deps)");
		return -1;
	}
	if (paths_mkdir_p(c->root, 0711) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", c->root, strerror(errno));
		return -1;
	}
	chmod(c->root, 0711);
	if (cluster_make_reachable(c, c->root, err, errlen) < 0 || own_dirs(c, 1, err, errlen) < 0)
		return -1;
	char portfile[4200];
	snprintf(portfile, sizeof portfile, "%s/port", c->root);
	FILE *pf = fopen(portfile, "w");
	if (pf) {
		fprintf(pf, "%d\n", c->port);
		fclose(pf);
		chmod(portfile, 0644);
	}
	char initlog[4300];
	snprintf(initlog, sizeof initlog, "%s/initdb.log", c->logdir);
	char *argv[] = {
	    initdb, "-D", c->datadir, "-U", CLUSTER_USER, "-E", "UTF8", "--no-locale",
	    "--auth-local=trust", "--auth-host=reject", "--no-instructions",
	    /* pg_rewind needs checksums (or wal_log_hints) to rejoin it after a failover */
	    "--data-checksums", NULL};
	/* Opened by initdb's own process, as the server's user, in that user's folder. */
	struct proc_opts o = {.uid = c->uid, .gid = c->gid, .stdout_file = initlog, .cwd = "/"};
	int rc = proc_run(argv, &o, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "initdb failed (exit %d); see %s", rc, initlog);
		log_event("error", NULL, "embedded cluster: %s", err);
		return -1;
	}
	log_event("info", NULL, "embedded cluster initialised in %s", c->datadir);
	return append_conf(c, err, errlen);
}

/* Clusters initialised before append_conf capped slots get the same cap at their next
 * start, once: only while the setting is the server's default, so an administrator's own
 * value (even -1) stays. */
static void ensure_slot_cap(PGconn *conn)
{
	PGresult *r = PQexec(conn, "select source = 'default' from pg_settings"
				   " where name = 'max_slot_wal_keep_size'");
	int dflt = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		   PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!dflt)
		return;
	r = PQexec(conn, "alter system set max_slot_wal_keep_size = '4GB'");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok) {
		PQclear(PQexec(conn, "select pg_reload_conf()"));
		log_event("info", NULL,
			  "max_slot_wal_keep_size set to 4GB: an abandoned replication slot can no "
			  "longer fill the disk");
	}
}

static int ensure_database(const struct cluster *c, char *err, size_t errlen)
{
	char ci[4400];
	snprintf(ci, sizeof ci, "host=%s port=%d dbname=postgres user=%s connect_timeout=10",
		 c->sockdir, c->port, CLUSTER_USER);
	PGconn *conn = PQconnectdb(ci);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the embedded cluster: %s",
			 PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	const char *params[] = {CLUSTER_DB};
	PGresult *r = PQexecParams(conn, "select 1 from pg_database where datname = $1", 1, NULL,
				   params, NULL, NULL, 0);
	int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
	PQclear(r);
	int rc = 0;
	if (!exists) {
		r = PQexec(conn, "create database " CLUSTER_DB);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "cannot create database %s: %s", CLUSTER_DB,
				 PQresultErrorMessage(r));
			rc = -1;
		}
		PQclear(r);
	}
	if (rc == 0)
		ensure_slot_cap(conn);
	PQfinish(conn);
	return rc;
}

int cluster_start(struct cluster *c, int *already, char *err, size_t errlen)
{
	int lock = lock_root(c);
	int rc = -1;
	if (already)
		*already = 0;
	char why[512];
	/* An old primary fenced at a DR activation must never come back writable beside the
	 * promoted site because some command wanted its embedded cluster. */
	if (cluster_fenced(c, why, sizeof why)) {
		snprintf(
		    err, errlen,
		    "the cluster at %s is fenced (%s); it is kept from serving so that it cannot "
		    "take writes beside the promoted DR site. Lift the fence with 'midsops cluster "
		    "unfence' (or rejoin it as a standby with 'midsops dr-rejoin')",
		    c->datadir, why);
		rc = CLUSTER_START_FENCED;
		goto out;
	}
	if (cluster_init(c, err, errlen) < 0)
		goto out;
	if (cluster_state(c, NULL) == CLUSTER_RUNNING) {
		if (already)
			*already = 1;
		rc = 0;
		goto out;
	}
	char pgctl[1024];
	if (!proc_pg_bin("pg_ctl", pgctl, sizeof pgctl)) {
		snprintf(err, errlen, "pg_ctl not found; install postgresql-15 (make deps)");
		goto out;
	}
	/* The socket and log directories may have been removed (tmpfs /run, cleanup). */
	if (own_dirs(c, 0, err, errlen) < 0)
		goto out;
	char startlog[4300];
	snprintf(startlog, sizeof startlog, "%s/pg_ctl.log", c->logdir);
	char *argv[] = {pgctl, "-D", c->datadir, "-l", c->logfile, "-w", "-t", "60", "start", NULL};
	/* Opened by pg_ctl's own process, as the server's user, like the server log (-l). */
	struct proc_opts o = {.uid = c->uid, .gid = c->gid, .stdout_file = startlog, .cwd = "/"};
	int st = proc_run(argv, &o, NULL);
	if (st != 0) {
		snprintf(err, errlen, "the embedded cluster did not start (pg_ctl exit %d); see %s",
			 st, c->logfile);
		goto out;
	}
	rc = ensure_database(c, err, errlen);
	if (rc == 0)
		log_event("info", NULL, "embedded cluster started (%s, port %d)", c->datadir,
			  c->port);
out:
	/* Every start of the server is in the log, whichever command started it. */
	if (rc < 0)
		log_event("error", NULL, "embedded cluster did not start: %s", err);
	if (lock >= 0)
		close(lock);
	return rc;
}

int cluster_stop(struct cluster *c, const char *mode, char *err, size_t errlen)
{
	int lock = lock_root(c);
	int rc = 0;
	if (cluster_state(c, NULL) == CLUSTER_RUNNING) {
		char pgctl[1024];
		proc_pg_bin("pg_ctl", pgctl, sizeof pgctl);
		char *argv[] = {pgctl, "-D", c->datadir, "-m",	 (char *)(mode ? mode : "fast"),
				"-w",  "-t", "120",	 "stop", NULL};
		struct proc_opts o = {.uid = c->uid, .gid = c->gid, .quiet = 1, .cwd = "/"};
		int st = proc_run(argv, &o, NULL);
		if (st != 0) {
			snprintf(err, errlen, "pg_ctl stop failed (exit %d); see %s", st,
				 c->logfile);
			rc = -1;
		}
		if (rc == 0)
			log_event("info", NULL, "embedded cluster stopped (%s, mode %s)",
				  c->datadir, mode ? mode : "fast");
		else
			log_event("error", NULL, "embedded cluster did not stop: %s", err);
	}
	if (lock >= 0)
		close(lock);
	return rc;
}

void cluster_conninfo(const struct cluster *c, char *buf, size_t n)
{
	snprintf(buf, n, "host=%s port=%d dbname=%s user=%s", c->sockdir, c->port, CLUSTER_DB,
		 CLUSTER_USER);
}

int cluster_set(struct cluster *c, const char *name, const char *value, char *err, size_t errlen)
{
	char ci[4400];
	cluster_conninfo(c, ci, sizeof ci);
	PGconn *conn = PQconnectdb(ci);
	int rc = -1;
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the embedded cluster: %s",
			 PQerrorMessage(conn));
		goto out;
	}
	char *id = PQescapeIdentifier(conn, name, strlen(name));
	char *lit = PQescapeLiteral(conn, value, strlen(value));
	if (id && lit) {
		struct strbuf sql = {0};
		strbuf_addf(&sql, "alter system set %s = %s", id, lit);
		PGresult *r = PQexec(conn, sql.s);
		strbuf_free(&sql);
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			PQclear(r);
			r = PQexec(conn, "select pg_reload_conf()");
			rc = 0;
		} else
			snprintf(err, errlen, "cannot set %s: %s", name, PQresultErrorMessage(r));
		PQclear(r);
	}
	PQfreemem(id);
	PQfreemem(lit);
out:
	PQfinish(conn);
	return rc;
}
