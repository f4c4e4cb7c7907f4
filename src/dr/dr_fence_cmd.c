/* [dr] fence_command: the operator's own fence for a primary midsops does not run, as
 * repmgr's and Patroni's callbacks are: an argv split like notify_command, never a shell. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dr.h"
#include "log.h"
#include "proc.h"
#include "runbook.h"

int dr_fence_command(const struct config *cfg, const char *primary_conninfo, const char *datadir,
		     char **output, char *err, size_t errlen)
{
	*output = NULL;
	char buf[sizeof cfg->dr_fence_command];
	char *argv[36];
	snprintf(buf, sizeof buf, "%s", cfg->dr_fence_command);
	int n = rb_split_argv(buf, argv, 32);
	if (n <= 0) {
		snprintf(err, errlen, "[dr] fence_command '%s' is empty or badly quoted",
			 cfg->dr_fence_command);
		return -1;
	}
	/* Host, port and database only: never a password, in argv or the environment. */
	char host[1024] = "", port[32] = "", dbname[256] = "", *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(primary_conninfo ? primary_conninfo : "", &perr);
	PQfreemem(perr);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			snprintf(host, sizeof host, "%s", o->val);
		else if (strcmp(o->keyword, "port") == 0)
			snprintf(port, sizeof port, "%s", o->val);
		else if (strcmp(o->keyword, "dbname") == 0)
			snprintf(dbname, sizeof dbname, "%s", o->val);
	}
	PQconninfoFree(opts);
	if (!host[0] && getenv("PGHOST"))
		snprintf(host, sizeof host, "%s", getenv("PGHOST"));
	if (!port[0])
		snprintf(port, sizeof port, "%s", getenv("PGPORT") ? getenv("PGPORT") : "5432");
	argv[n++] = host;
	argv[n++] = port;
	argv[n] = NULL;
	char e_host[1100], e_port[64], e_dir[4200], e_db[300];
	snprintf(e_host, sizeof e_host, "MIDSOPS_FENCE_HOST=%s", host);
	snprintf(e_port, sizeof e_port, "MIDSOPS_FENCE_PORT=%s", port);
	snprintf(e_dir, sizeof e_dir, "MIDSOPS_FENCE_DATADIR=%s", datadir ? datadir : "");
	snprintf(e_db, sizeof e_db, "MIDSOPS_FENCE_DBNAME=%s", dbname);
	char *envs[] = {e_host, e_port, e_dir, e_db, NULL};
	struct proc_opts o = {.capture = 1, .envp_add = envs, .cwd = "/"};
	int rc = proc_run(argv, &o, output);
	if (rc < 0)
		snprintf(err, errlen, "[dr] fence_command %s could not start: %s", argv[0],
			 strerror(errno));
	log_event(rc == 0 ? "warning" : "error", NULL, "fence_command %s for %s:%s: exit %d",
		  argv[0], host, port, rc);
	return rc;
}
