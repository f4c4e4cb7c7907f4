/* The INI config file, $XDG_CONFIG_HOME/midsops/midsops.conf.
 * Sections: [midsops], [env NAME], [thresholds], plus [maintenance], [backup] and
 * [cache] for later families. A missing file means defaults; a malformed one is
 * "file:line: what is wrong" and exit 78. */
#ifndef MIDSOPS_CONFIG_H
#define MIDSOPS_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_ENVS 16

struct threshold {
	double warning, critical;
	int higher_is_worse; /* 1: value above critical is critical (query ms, memory) */
};

struct config_env {
	char name[64];
	char dsn[1024];
};

/* [incident] escalate: a contact and how long after an incident opens it is notified. */
#define CONFIG_MAX_ESCALATIONS 16
struct config_escalation {
	char contact[64];
	long after; /* seconds */
};

struct config {
	char path[4096];
	int loaded; /* the file existed */

	/* [midsops] */
	char default_env[64];
	double refresh;	   /* seconds, console refresh */
	char theme[64];
	char backup_dir[4096];
	char log_dir[4096];
	int log_syslog; /* log events to syslog(3) too */
	char reports_dir[4096];
	char incidents_dir[4096];
	char notify_command[1024];
	char focus[32]; /* console: focused pane saved by :save */

	/* [env NAME] */
	int nenvs;
	struct config_env envs[CONFIG_MAX_ENVS];

	/* [thresholds]: the runbook's tuning table, plus database health figures */
	struct threshold import_speed;	   /* records/s, lower is worse: 1000 / 500 */
	struct threshold query_time;	   /* ms: 50 / 100 */
	struct threshold cache_hit_rate;   /* %, lower is worse: 95 / 90 */
	struct threshold memory;	   /* GB: 2 / 4 */
	struct threshold connections;	   /* % of max_connections: 80 / 95 */
	struct threshold buffer_hit_ratio; /* %, lower is worse: 95 / 90 */
	struct threshold dead_tuples;	   /* % of a table's tuples: 10 / 20 */
	struct threshold long_txn;	   /* seconds: 300 / 3600 */
	struct threshold waiting_locks;	   /* count: 1 / 5 */
	struct threshold disk_free;	   /* %, lower is worse: 15 / 5 */
	struct threshold backup_age;	   /* hours: 26 / 192 */
	struct threshold slot_retained_wal; /* GB an inactive slot holds back: 1 / 4 */
	struct threshold sync_wait;	    /* seconds a commit waits for a sync standby: 1 / 10 */

	/* [maintenance] window, e.g. "Sun 02:00-04:00" */
	char maintenance_window[64];
	/* [maintenance] events_days: ops.events older than this go (history-prune) */
	int events_days;

	/* [import] retention of import history (history-prune): generations a rollback can
	 * reach (the current one included), days kept of finished runs and of errors */
	int keep_generations, import_runs_days, import_errors_days;

	/* [backup] retention */
	int keep_daily, keep_weekly, keep_monthly;
	/* [backup] compression = zstd:N (level 1-19) or none (0): WAL and base backups */
	int backup_compress;

	/* [dr] synchronous = strict | fallback: whether dr-sync-guard may drop the primary to
	 * asynchronous after synchronous_fallback_after seconds of a missing sync standby */
	int dr_sync_fallback;
	double dr_sync_fallback_after;
	/* [dr] fence_command: an argv (split like notify_command, never run by a shell) that
	 * stops a primary midsops does not run, before dr-activate promotes the DR site */
	char dr_fence_command[1024];

	/* [incident] escalate = on-call:0m, dba:15m, dev-lead:30m, management:1h (the runbook's
	 * contact list, the default); "none" notifies nobody */
	int nescalations;
	struct config_escalation escalations[CONFIG_MAX_ESCALATIONS];

	/* [cache] */
	long cache_max_entries;
	long cache_max_bytes;
	long cache_ttl; /* seconds */
};

void config_defaults(struct config *cfg);
/* path NULL: the default path. Returns 0, or -1 with "file:line: reason" in err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* Parse from memory (for tests); name is used in messages. */
int config_parse(struct config *cfg, const char *name, const char *text, char *err,
		 size_t errlen);
/* Rewrite one key in the file, creating it if needed (used by the console's :save). */
int config_save_key(const struct config *cfg, const char *section, const char *key,
		    const char *value, char *err, size_t errlen);
const struct config_env *config_env(const struct config *cfg, const char *name);
/* Parse an [incident] escalate value into cfg; -1 with the reason in why. */
int config_parse_escalate(struct config *cfg, const char *v, char *why, size_t whylen);
/* status for a value against a threshold */
int threshold_judge(const struct threshold *t, double value);

#endif
