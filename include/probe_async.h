/* The console's data layer: a monitor owns the database connection, sends each pane's
 * probe asynchronously (PQsendQuery), reconnects with PQconnectStart/PQconnectPoll and
 * a backoff, LISTENs on midsops_import, and keeps the latest snapshots. It never blocks:
 * the caller polls the descriptors it hands out and calls monitor_service.
 * The console (src/tui/) uses only this API and the snapshot structs; it makes no libpq
 * calls itself.
 * Under failure it tells the truth: each probe has its own lock_timeout and
 * statement_timeout, so one locked table makes only its own pane stale; a server that
 * stops answering is seen within the probe budget (MONITOR_SLACK_S past the timeout); an outage is
 * dated from the last answer, logged, and written to ops.events once the server is back. */
#ifndef MIDSOPS_PROBE_ASYNC_H
#define MIDSOPS_PROBE_ASYNC_H

#include <poll.h>
#include <time.h>

#include "probe.h"
#include "probe_console.h"
#include "probe_sessions.h"
#include "probe_timeline.h"

struct config;

enum mon_pane { MON_HEALTH, MON_IMPORT, MON_CACHE, MON_ERRORS, MON_NPANES };

/* Each probe may wait this long for a lock, and run this long, before the server cancels
 * it: the console's probes take ~5 ms (bench-console), so these only ever end a probe
 * that is stuck, and keep the next ones in the queue on time. */
#define MONITOR_LOCK_TIMEOUT_MS	     200
#define MONITOR_STATEMENT_TIMEOUT_MS 1000
/* A probe with no answer this long past its statement_timeout (a round trip's slack)
 * means the server has stopped answering: every pane is stale. */
#define MONITOR_SLACK_S 1.0
/* Console events kept locally (disconnects and reconnects) until ops.events has them. */
#define MONITOR_LOCAL_EVENTS 8

struct mon_stats {
	long long queries; /* round trips sent */
	double last_ms, max_ms;
	double samples[64]; /* recent round trips, for medians */
	int nsamples;
};

/* The host in one line: sampled by the monitor at each refresh (never by the draw code). */
struct host_snapshot {
	int have;
	time_t taken;
	struct sys_snapshot sys;
	double cpu_pct; /* busy share of all CPUs since the previous sample; NAN before it */
};

struct monitor_view {
	int connected;
	time_t connected_since;
	/* The last answer from the server before the outage (the first failed attempt when
	 * there never was one); 0 while connected, or before the first attempt ended. */
	time_t disconnected_since;
	int ever_connected;
	char conn_error[1024]; /* the full reason, libpq's lines joined by spaces */
	int attempts;	       /* failed attempts since the last success */
	double retry_in;       /* seconds until the next attempt, while disconnected */
	/* The target is the embedded cluster and it is not running: the monitor makes no
	 * attempt (the console never starts it) until it runs again. */
	int embedded_stopped;
	time_t last_answer; /* wall clock of the last result or notification */
	/* Connected, but the probe in flight has had no answer for silent_s seconds, past
	 * its budget: every pane is stale; the connection is given up a little later. */
	int silent;
	double silent_s;
	long long outages; /* connections lost (or never made) since the console started */

	struct db_snapshot db;
	struct health_extra hx;
	struct import_snapshot imp;
	struct console_cache_snapshot cache;
	struct errors_snapshot errs;

	int have[MON_NPANES];	    /* a snapshot has arrived */
	int stale[MON_NPANES];	    /* the figures are older than the last refresh */
	time_t as_of[MON_NPANES];   /* when the figures shown were taken */
	char perr[MON_NPANES][256]; /* the last probe failed: why */
	struct mon_stats stats[MON_NPANES];
	long long notifies; /* NOTIFY midsops_import received */

	/* Sessions waiting for a lock, and one of them, for the header. */
	int blocked_sessions, blocked_pid;

	/* The sessions view's snapshot: asked for only while the view is on screen
	 * (monitor_sessions), once per refresh, with the same deadlines as the panes. */
	struct sessions_snapshot sess;
	int sess_have, sess_stale;
	time_t sess_as_of;
	char sess_err[256];
	struct mon_stats sess_stats;

	/* The console's own events (newest first), shown in the errors pane until a
	 * snapshot of ops.events holds them, or for good when it cannot. */
	int nlocal;
	struct error_item local[MONITOR_LOCAL_EVENTS];

	/* The timeline view's entries while it is wanted (monitor_want_timeline). */
	struct timeline tl;
	int tl_have, tl_stale;
	time_t tl_as_of;
	char tl_err[256];
	struct mon_stats tl_stats;

	struct host_snapshot host; /* once monitor_host was called */
};

struct monitor;

/* conninfo "" means libpq's environment. */
struct monitor *monitor_new(const char *conninfo, const char *app, int statement_timeout_ms);
void monitor_free(struct monitor *m);
/* The target is the embedded cluster: before each attempt the monitor looks whether it
 * runs, and says so rather than try (and never starts it). */
void monitor_set_embedded(struct monitor *m, int embedded);

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
/* The sessions view is on screen (on), for every database or the target's (all): its
 * probe is sent at once, then at each refresh until it is off. */
void monitor_sessions(struct monitor *m, int on, int all);
/* Ignore NOTIFY-triggered probes while paused. */
void monitor_set_paused(struct monitor *m, int paused);

/* The timeline view is open: its probe (the last since_s seconds, at most
 * TIMELINE_CONSOLE_MAX entries) joins each refresh, and goes at once; 0 when it closes, and
 * the probe stops. */
void monitor_want_timeline(struct monitor *m, long since_s);
/* Sample the host (load, CPU, memory, the data, backup and log directories of cfg) now and
 * at each refresh; cfg must outlive the monitor. */
void monitor_host(struct monitor *m, const struct config *cfg);
/* A console event of the console's own (a check run from the command bar): kept, shown,
 * and written to ops.events (source 'console') as the disconnects are. */
void monitor_note(struct monitor *m, const char *level, const char *msg);

const struct monitor_view *monitor_view(const struct monitor *m);
/* Whether the view changed since the last call (clears the flag). */
int monitor_changed(struct monitor *m);

#endif
