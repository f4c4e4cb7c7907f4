/* The console's data layer: a monitor owns the database connection, sends each pane's
 * probe asynchronously (PQsendQuery), reconnects with PQconnectStart/PQconnectPoll and
 * a backoff, LISTENs on midsops_import, and keeps the latest snapshots. It never blocks:
 * the caller polls the descriptors it hands out and calls monitor_service.
 * The console (src/tui/) uses only this API and the snapshot structs; it makes no libpq
 * calls itself. */
#ifndef MIDSOPS_PROBE_ASYNC_H
#define MIDSOPS_PROBE_ASYNC_H

#include <poll.h>
#include <time.h>

#include "probe.h"
#include "probe_console.h"

enum mon_pane { MON_HEALTH, MON_IMPORT, MON_CACHE, MON_ERRORS, MON_NPANES };

struct mon_stats {
	long long queries; /* round trips sent */
	double last_ms, max_ms;
	double samples[64]; /* recent round trips, for medians */
	int nsamples;
};

struct monitor_view {
	int connected;
	time_t connected_since;
	time_t disconnected_since; /* 0 while connected, or before the first attempt ended */
	int ever_connected;
	char conn_error[256];
	int attempts;	 /* failed attempts since the last success */
	double retry_in; /* seconds until the next attempt, while disconnected */

	struct db_snapshot db;
	struct health_extra hx;
	struct import_snapshot imp;
	struct console_cache_snapshot cache;
	struct errors_snapshot errs;

	int have[MON_NPANES];	    /* a snapshot has arrived */
	int stale[MON_NPANES];	    /* the figures are older than the last refresh */
	char perr[MON_NPANES][256]; /* the last probe failed: why */
	struct mon_stats stats[MON_NPANES];
	long long notifies; /* NOTIFY midsops_import received */
};

struct monitor;

/* conninfo "" means libpq's environment. */
struct monitor *monitor_new(const char *conninfo, const char *app, int statement_timeout_ms);
void monitor_free(struct monitor *m);

/* Seconds on a monotonic clock. */
double monitor_now(void);

/* Descriptors to poll (at most 1 today). Returns how many were written to p. */
int monitor_pollfds(struct monitor *m, struct pollfd *p, int max);
/* After poll (p with revents, n as returned) or on a timeout: read results, advance
 * connection attempts, send queued probes. */
void monitor_service(struct monitor *m, const struct pollfd *p, int n);
/* Milliseconds until monitor_service must run even without I/O; -1: none. */
int monitor_timeout_ms(const struct monitor *m);

/* A refresh tick: queue one probe per pane; a pane whose previous probe has not
 * finished is marked stale rather than queued twice. */
void monitor_refresh(struct monitor *m);
/* Ignore NOTIFY-triggered probes while paused. */
void monitor_set_paused(struct monitor *m, int paused);

const struct monitor_view *monitor_view(const struct monitor *m);
/* Whether the view changed since the last call (clears the flag). */
int monitor_changed(struct monitor *m);

#endif
