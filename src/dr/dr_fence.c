/* Fencing the old primary: stop a cluster midsops runs and mark it, or run the operator's
 * [dr] fence_command for any other. ALTER SYSTEM default_transaction_read_only is not a
 * fence (any client turns it off for its own transaction), so it is not used. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "dr.h"
#include "log.h"

/* Later lines of postgresql.auto.conf win over earlier ones and over postgresql.conf, and
 * this works while the server is down, which is when a fenced cluster is. Only a name that
 * is set is cleared, so that the message says what was done. */
static int clear_sync_names(struct cluster *c, int *cleared, char *err, size_t errlen)
{
	*cleared = 0;
	char path[4200], line[2048], last[2048] = "";
	const char *files[] = {"postgresql.conf", "postgresql.auto.conf"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", c->datadir, files[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			const char *p = line + strspn(line, " \t");
			if (strncmp(p, "synchronous_standby_names", 25) == 0)
				snprintf(last, sizeof last, "%s", p + 25);
		}
		fclose(f);
	}
	/* the value part: " = 'x'" or "=''" */
	char *v = last + strspn(last, " \t=");
	v[strcspn(v, "#\r\n")] = 0;
	int empty = !*v || strncmp(v, "''", 2) == 0;
	if (empty)
		return 0;
	if (cluster_file_put(c, c->datadir, "postgresql.auto.conf",
			     "synchronous_standby_names = ''\n", 1, err, errlen) < 0)
		return -1;
	*cleared = 1;
	return 0;
}

int dr_fence_cluster(struct cluster *c, const char *why, int *cleared_sync, char *err,
		     size_t errlen)
{
	int dummy;
	if (!cleared_sync)
		cleared_sync = &dummy;
	*cleared_sync = 0;
	/* The mark first: from here on nothing may start it, even if stopping fails. */
	if (cluster_fence_mark(c, why, err, errlen) < 0)
		return -1;
	if (cluster_state(c, NULL) == CLUSTER_RUNNING) {
		char e2[512];
		if (cluster_stop(c, "fast", e2, sizeof e2) < 0 &&
		    cluster_stop(c, "immediate", err, errlen) < 0)
			return -1;
		if (cluster_state(c, NULL) == CLUSTER_RUNNING) {
			snprintf(err, errlen, "%s is still running after pg_ctl stop -m immediate",
				 c->datadir);
			return -1;
		}
	}
	if (cluster_state(c, NULL) != CLUSTER_ABSENT &&
	    clear_sync_names(c, cleared_sync, err, errlen) < 0)
		return -1;
	log_event("warning", NULL, "fenced %s: stopped and marked (%s)", c->datadir, why);
	return 0;
}

int dr_unfence_cluster(struct cluster *c, int *cleared_sync, char *err, size_t errlen)
{
	int dummy;
	if (!cleared_sync)
		cleared_sync = &dummy;
	*cleared_sync = 0;
	if (cluster_state(c, NULL) != CLUSTER_ABSENT &&
	    clear_sync_names(c, cleared_sync, err, errlen) < 0)
		return -1;
	if (cluster_fence_clear(c, err, errlen) < 0)
		return -1;
	log_event("warning", NULL, "fence of %s lifted", c->datadir);
	return 0;
}
