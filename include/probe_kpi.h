/* The runbook's Key Metrics Dashboard (import speed, query time, cache hit rate, memory)
 * judged against [thresholds] with the runbook's actions, shared by perf-analyze and the
 * console's strip so both say the same thing; and the console's trends: a ring of the
 * monitor's own samples and the ops.metrics backfill (`:trend 24h`). */
#ifndef MIDSOPS_PROBE_KPI_H
#define MIDSOPS_PROBE_KPI_H

#include <libpq-fe.h>
#include <stddef.h>

#include "out.h"

struct config;
struct monitor_view;

enum kpi_id { KPI_IMPORT, KPI_QUERY, KPI_CACHE, KPI_MEMORY, KPI_N };

/* perf-analyze's names ("import_speed", ...). */
extern const char *const kpi_names[KPI_N];
/* The API cache's hit rate is judged once it has had this many reads. */
#define KPI_CACHE_MIN_READS 100

/* The status of a figure in the metric's unit (records/s, ms, %, GB used); mem_total_gb is
 * the host's memory, for KPI_MEMORY: a host with less than twice the critical figure is
 * judged OK (the runbook's figures are for the production host). */
enum status kpi_judge(const struct config *cfg, enum kpi_id id, double value, double mem_total_gb);
/* The runbook's action for a figure that is off (evictions: the API cache evicts). */
const char *kpi_action(enum kpi_id id, int evictions);
/* Its short form for the strip: up to the first ':', ',' or " (". */
void kpi_action_short(const char *action, char *buf, size_t n);

/* One figure of the strip. have 0: n/a, why says why. */
struct kpi_fig {
	int have;
	double value;
	enum status st;
	const char *action; /* NULL when OK or n/a */
	char why[160];
};

/* The query-time probe: the time-weighted mean of the web workload's top-level statements
 * (perf-analyze's figure), one row that says whether pg_stat_statements is there, so its
 * absence is an answer, not an error. */
const char *probe_kpi_query_sql(void);
struct kpi_query {
	int have;	/* an answer arrived */
	int available;	/* pg_stat_statements is installed and preloaded */
	double mean_ms; /* NAN: no web statement yet */
};
int probe_kpi_query_parse(PGresult *r, struct kpi_query *q);

/* The four figures from the monitor's view; mem_used and mem_total in bytes (0: unknown). */
void kpi_figures(const struct config *cfg, const struct monitor_view *v, double mem_used,
		 double mem_total, struct kpi_fig f[KPI_N]);

/* ---- trends ---- */
enum trend_id { TR_TPS, TR_CONN, TR_BUFHIT, TR_APIHIT, TR_IMPORT, TR_LAG, TR_WAL, TR_BACKUP, TR_N };
extern const char *const trend_names[TR_N];

#define TREND_WINDOW_S 900  /* the live window: 15 minutes */
#define TREND_CAP      1800 /* samples: 15 minutes at the shortest refresh (0.5 s) */

/* Samples oldest first in a ring: epoch seconds and one figure per trend (NAN: none). */
struct trend_ring {
	int n, head; /* head: the next slot written */
	double t[TREND_CAP];
	float v[TREND_CAP][TR_N];
	int lag_bytes; /* replication lag is bytes behind (a primary), else seconds (standby) */
};
void trend_push(struct trend_ring *r, double t, const double v[TR_N]);
/* A sparkline's labelled scale: the latest sample and the least and greatest samples in
 * the window (NAN: none). The glyphs are drawn on lo..hi, so they read against the labels. */
struct trend_scale {
	double last, lo, hi;
};
/* The figures of one trend in ncol columns over [now - window, now]: each column the mean
 * of its samples, NAN where it has none; and the scale of its samples. */
void trend_columns(const struct trend_ring *r, int id, double now, double window, int ncol,
		   double *out, struct trend_scale *sc);
/* The time of the oldest sample held (NAN: none). */
double trend_oldest(const struct trend_ring *r);

/* The backfill from ops.metrics: $1 the window in seconds, $2 the bucket in seconds. TPS,
 * connections, buffer and API cache hit ratios and import rate; ops.metrics keeps no lag
 * nor archive or backup ages, so those stay NAN. */
const char *probe_trend_sql(void);
int probe_trend_parse(PGresult *r, struct trend_ring *out, char *err, size_t errlen);

#endif
