/* The DR site as a local cluster: a streaming standby made with pg_basebackup -R and a
 * replication slot, on its own socket directory and port, run as the cluster's user. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "db.h"
#include "dr.h"
#include "dr_site.h"
#include "paths.h"
#include "proc.h"
#include "util.h"

int dr_site_locate(struct cluster *c, const char *dir, int port, char *err, size_t errlen)
{
	char portfile[PATH_MAX + 16];
	if (paths_mkdir_p(dir, 0711) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	chmod(dir, 0711);
	if (port > 0) {
		snprintf(portfile, sizeof portfile, "%s/port", dir);
		FILE *f = fopen(portfile, "w");
		if (!f) {
			snprintf(err, errlen, "cannot write %s: %s", portfile, strerror(errno));
			return -1;
		}
		fprintf(f, "%d\n", port);
		fclose(f);
		chmod(portfile, 0644);
	}
	if (cluster_locate(c, dir, err, errlen) < 0)
		return -1;
	/* Its own log, not the primary's. */
	if (!util_fits(snprintf(c->logdir, sizeof c->logdir, "%s/log", dir), sizeof c->logdir) ||
	    !util_fits(snprintf(c->logfile, sizeof c->logfile, "%s/postgresql.log", c->logdir),
		       sizeof c->logfile)) {
		snprintf(err, errlen, "path too long: %.200s", dir);
		return -1;
	}
	return 0;
}

int dr_site_own_dir(const struct cluster *c, const char *dir, char *err, size_t errlen)
{
	return cluster_own_dir(c, dir, 0700, err, errlen);
}

int dr_site_pg_ctl(const struct cluster *c, const char *action, const char *mode, char *err,
		   size_t errlen)
{
	char pgctl[1024], log[PATH_MAX + 32], why[512];
	/* The same fence as cluster_start: a node fenced at a failover stays down. */
	if (strcmp(action, "start") == 0 && cluster_fenced(c, why, sizeof why)) {
		snprintf(err, errlen,
			 "%s is fenced (%s); lift the fence first (dr-rejoin, or cluster unfence "
			 "for the embedded cluster)",
			 c->datadir, why);
		return -1;
	}
	if (!proc_pg_bin("pg_ctl", pgctl, sizeof pgctl)) {
		snprintf(err, errlen, "pg_ctl not found; install postgresql-15 (make deps)");
		return -1;
	}
	if (dr_site_own_dir(c, c->logdir, err, errlen) < 0 ||
	    dr_site_own_dir(c, c->sockdir, err, errlen) < 0)
		return -1;
	snprintf(log, sizeof log, "%s/pg_ctl.log", c->logdir);
	char *argv[14];
	int n = 0;
	argv[n++] = pgctl;
	argv[n++] = "-D";
	argv[n++] = (char *)c->datadir;
	if (strcmp(action, "start") == 0) {
		argv[n++] = "-l";
		argv[n++] = (char *)c->logfile;
	}
	if (mode) {
		argv[n++] = "-m";
		argv[n++] = (char *)mode;
	}
	argv[n++] = "-w";
	argv[n++] = "-t";
	argv[n++] = "120";
	argv[n++] = (char *)action;
	argv[n] = NULL;
	/* The site's log folder is the server's user's: pg_ctl opens its log there itself. */
	struct proc_opts o = {.uid = c->uid, .gid = c->gid, .stdout_file = log, .cwd = "/"};
	int st = proc_run(argv, &o, NULL);
	if (st != 0) {
		snprintf(err, errlen, "pg_ctl %s of %s failed (exit %d); see %s", action,
			 c->datadir, st, c->logfile);
		return -1;
	}
	return 0;
}

int dr_site_configure(const struct cluster *c, int standby, char *err, size_t errlen)
{
	char text[PATH_MAX + 512];
	/* Later lines win: the copy carries the primary's socket directory and port. Written
	 * into the server's data directory by descriptor (cluster_file_put). */
	snprintf(text, sizeof text,
		 "\n# midsops DR site\n"
		 "listen_addresses = ''\n"
		 "unix_socket_directories = '%s'\n"
		 "unix_socket_permissions = 0700\n"
		 "port = %d\n"
		 "cluster_name = '%s'\n"
		 "hot_standby = on\n",
		 c->sockdir, c->port, standby ? DR_APP : "midsops_dr_site");
	return cluster_file_put(c, c->datadir, "postgresql.conf", text, 1, err, errlen);
}

int dr_site_remove(const struct cluster *c, char *err, size_t errlen)
{
	if (cluster_state(c, NULL) == CLUSTER_RUNNING)
		dr_site_pg_ctl(c, "stop", "immediate", err, errlen);
	char *argv[] = {"rm", "-rf", "--", (char *)c->datadir, NULL};
	struct proc_opts o = {.quiet = 1};
	if (proc_run(argv, &o, NULL) != 0) {
		snprintf(err, errlen, "cannot remove %s", c->datadir);
		return -1;
	}
	return 0;
}

int dr_site_basebackup(const struct cluster *c, const char *primary_conninfo, const char *slot,
		       char *err, size_t errlen)
{
	char bin[1024], log[PATH_MAX + 32];
	if (!proc_pg_bin("pg_basebackup", bin, sizeof bin)) {
		snprintf(err, errlen, "pg_basebackup not found; install postgresql-15 (make deps)");
		return -1;
	}
	if (dr_site_own_dir(c, c->logdir, err, errlen) < 0 ||
	    dr_site_own_dir(c, c->datadir, err, errlen) < 0)
		return -1;
	snprintf(log, sizeof log, "%s/basebackup.log", c->logdir);
	/* The connection travels in PG* variables: no password in argv. */
	char **envs = db_child_env(primary_conninfo, NULL, err, errlen);
	if (!envs)
		return -1;
	/* -R writes the connection's options, its service among them, into the standby's
	 * primary_conninfo: one naming this process's private service file would break it. */
	for (char **e = envs; *e; e++)
		if (strncmp(*e, "PGSERVICEFILE=", 14) == 0) {
			snprintf(
			    err, errlen,
			    "the primary's connection sets options libpq reads from no "
			    "environment variable (sslpassword, keepalives, tcp_user_timeout), "
			    "which pg_basebackup -R cannot carry to the standby; remove them");
			db_env_free(envs);
			return -1;
		}
	char *argv[] = {bin,
			"-D",
			(char *)c->datadir,
			"-R",
			"-X",
			"stream",
			"-C",
			"-S",
			(char *)slot,
			"-c",
			"fast",
			"-d",
			"application_name=" DR_APP,
			"--no-password",
			NULL};
	struct proc_opts o = {
	    .uid = c->uid, .gid = c->gid, .stdout_file = log, .cwd = "/", .envp_add = envs};
	int st = proc_run(argv, &o, NULL);
	db_env_free(envs);
	if (st != 0) {
		snprintf(err, errlen, "pg_basebackup failed (exit %d); see %s", st, log);
		return -1;
	}
	return 0;
}
