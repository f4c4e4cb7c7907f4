/* Every configured environment at once: one cheap connection per environment and one
 * query each per refresh (reachable, role, replication lag, the last import and its
 * generation, the age of the last backup). Like the console's monitor it never blocks:
 * connections start with PQconnectStart and advance with PQconnectPoll, the caller polls
 * the descriptors handed out and calls fleet_service; each environment has a connect
 * deadline, a statement_timeout and a deadline of its own for the answer, and a dead one
 * is retried with a backoff. A host name is resolved by libpq inside PQconnectPoll: use
 * an address (hostaddr) for an environment whose DNS may hang.
 * The console probes every environment but its target (whose figures the monitor has
 * already: fleet_from_monitor); `midsops fleet` probes them all. */
#ifndef MIDSOPS_PROBE_FLEET_H
#define MIDSOPS_PROBE_FLEET_H

#include <libpq-fe.h>
#include <poll.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "out.h"

/* A connection attempt gives up after this long; a query with no answer this long past
 * its statement_timeout means the server has stopped answering. */
#define FLEET_CONNECT_TIMEOUT_S	   3.0
#define FLEET_STATEMENT_TIMEOUT_MS 1000
#define FLEET_ANSWER_GRACE_S	   1.0
/* Replication lag judged by the strip (no [thresholds] key yet). */
#define FLEET_LAG_WARNING_S  60.0
#define FLEET_LAG_CRITICAL_S 300.0

struct fleet_figures {
	int in_recovery;
	double lag_s;	     /* standby: replay delay; primary: its standbys' max; NAN: none */
	long long lag_bytes; /* primary: bytes its slowest standby has still to replay; -1 */
	int nreplicas;
	int imports_present; /* ops.import_runs exists */
	long long import_id; /* 0: no run */
	char import_state[16];
	double import_at;     /* epoch: finished, or started while running; NAN */
	long long generation; /* -1: none */
	int backups_present;  /* ops.backups exists */
	double backup_age_s;  /* NAN: no finished backup */
	double server_now;    /* epoch, the server's clock */
};

struct fleet_env_view {
	char name[64];
	int is_target;	  /* the console's target: its figures come from the monitor */
	int reachable;	  /* connected, and the last query answered */
	int tried;	  /* at least one attempt has ended (either way) */
	char reason[512]; /* why not reachable, or why the last query failed (scrubbed) */
	int have;	  /* figures have arrived at least once */
	time_t as_of;	  /* when the figures were taken */
	struct fleet_figures f;
	long long queries; /* round trips sent */
	double last_ms;
};

struct fleet;

/* app: the application_name. skip: an index of cfg->envs not probed (-1: none). */
struct fleet *fleet_new(const struct config *cfg, const char *app, int skip);
void fleet_free(struct fleet *f);
void fleet_set_skip(struct fleet *f, int skip);
int fleet_count(const struct fleet *f);
const struct fleet_env_view *fleet_env(const struct fleet *f, int i);
/* Descriptors to poll; returns how many were written to p (at most max). */
int fleet_pollfds(struct fleet *f, struct pollfd *p, int max);
/* After poll (p and n as fleet_pollfds gave them, with revents) or on a timeout. */
void fleet_service(struct fleet *f, const struct pollfd *p, int n);
/* Milliseconds until fleet_service must run without I/O (a deadline); -1: none. */
int fleet_timeout_ms(const struct fleet *f);
/* A refresh: one query to each environment not skipped (connecting first when needed);
 * one still waiting for its answer is not asked twice. */
void fleet_refresh(struct fleet *f);
/* Connections or queries still in flight. */
int fleet_busy(const struct fleet *f);
long long fleet_queries(const struct fleet *f);
int fleet_changed(struct fleet *f);

/* The index in cfg->envs of the environment named env, else of one whose dsn is
 * conninfo; -1: none. */
int fleet_target_index(const struct config *cfg, const char *env, const char *conninfo);

struct monitor_view;
/* The target's row from the console monitor's own figures (no query of its own). */
void fleet_from_monitor(struct fleet_env_view *e, const char *name, const struct monitor_view *v);

/* The worst status of one environment and why, briefly ("unreachable: Connection
 * refused", "lag 6m", "backup 9d old"). Figures older than stale_s never read OK. */
enum status fleet_judge(const struct fleet_env_view *e, const struct config *cfg, double stale_s,
			char *why, size_t n);

/* The query's parser (the unit tests feed it results). */
int probe_fleet_parse(PGresult *r, struct fleet_figures *out, char *err, size_t n);

#endif
