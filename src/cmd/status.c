/* Judged rendering of snapshots, and the `status` summary. */
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backup.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "import.h"
#include "probe_health.h"
#include "target.h"

/* A figure judged against a [thresholds] entry, whose numbers are in the config's units
 * (%, ms, GB); scale turns them into the figure's base units. */
struct out_fig status_fig(double v, enum out_unit u, const struct threshold *t, double scale)
{
	struct out_fig f = {.value = v, .unit = u};
	if (t) {
		f.thresholds = 1;
		f.low = !t->higher_is_worse;
		f.warn = t->warning * scale;
		f.crit = t->critical * scale;
	}
	return f;
}

/* The same, for a figure whose range is 0..max. */
struct out_fig status_fig_range(double v, enum out_unit u, const struct threshold *t, double scale,
				double max)
{
	struct out_fig f = status_fig(v, u, t, scale);
	f.range = 1;
	f.min = 0;
	f.max = max;
	return f;
}

void status_render_db(struct out *o, const struct config *cfg, const struct db_snapshot *s,
		      struct db_judgement *j)
{
	char a[64], b[64];
	probe_db_judge(s, cfg, j);
	struct out_fig f;
	out_kv_status(o, "connection", ST_OK, "ok");
	out_kv(o, "server_version", "%s", s->version);
	fmt_duration(a, sizeof a, s->uptime_s);
	out_fig(o, "uptime", &(struct out_fig){.value = s->uptime_s, .unit = OUT_SECONDS}, "%s", a);
	fmt_bytes(b, sizeof b, (double)s->db_size);
	out_fig(o, "database_size",
		&(struct out_fig){.value = (double)s->db_size, .unit = OUT_BYTES}, "%s", b);
	/* Warned in % of max_connections; the figure is the count, its range 0..max. */
	f = status_fig_range(s->connections, OUT_COUNT, &cfg->connections,
			     s->max_connections / 100.0, s->max_connections);
	out_fig_status(o, "connections", j->conn, &f, "%d of %d (%.0f%%)", s->connections,
		       s->max_connections, j->conn_pct);
	f = status_fig_range(isnan(s->hit_ratio) ? NAN : s->hit_ratio / 100.0, OUT_RATIO,
			     &cfg->buffer_hit_ratio, 0.01, 1);
	if (isnan(s->hit_ratio))
		out_fig_status(o, "buffer_hit_ratio", ST_OK, &f, "n/a (no reads yet)");
	else
		out_fig_status(o, "buffer_hit_ratio", j->hit, &f, "%.2f%%", s->hit_ratio);
	f = (struct out_fig){.value = (double)s->dead_tuples, .unit = OUT_COUNT};
	out_fig_status(o, "dead_tuples", j->dead, &f, "%lld (%.1f%% of %lld)", s->dead_tuples,
		       j->dead_pct, s->dead_tuples + s->live_tuples);
	fmt_duration(a, sizeof a, s->longest_txn_s);
	f = status_fig(s->longest_txn_s, OUT_SECONDS, &cfg->long_txn, 1);
	out_fig_status(
	    o, "longest_transaction", j->txn, &f, "%s%s%s", a, s->longest_txn_pid ? " pid " : "",
	    s->longest_txn_pid ? (snprintf(b, sizeof b, "%d", s->longest_txn_pid), b) : "");
	f = status_fig(s->waiting_locks, OUT_COUNT, &cfg->waiting_locks, 1);
	out_fig_status(o, "waiting_locks", j->locks, &f, "%d", s->waiting_locks);
	out_kv(o, "role", "%s", s->in_recovery ? "standby" : "primary");
	if (s->in_recovery && !isnan(s->replay_lag_s)) {
		fmt_duration(a, sizeof a, s->replay_lag_s);
		out_fig(o, "replay_lag",
			&(struct out_fig){.value = s->replay_lag_s, .unit = OUT_SECONDS}, "%s", a);
	}
	if (s->nreplicas) {
		out_kv_int(o, "replicas", s->nreplicas);
		fmt_bytes(b, sizeof b, (double)s->max_replica_lag_bytes);
		out_fig(
		    o, "max_replica_lag",
		    &(struct out_fig){.value = (double)s->max_replica_lag_bytes, .unit = OUT_BYTES},
		    "%s", b);
	}
	if (s->ndead_top) {
		const char *cols[] = {"table", "dead", "live"};
		out_table_begin(o, "dead_tuples_top", 3, cols);
		for (int i = 0; i < s->ndead_top; i++) {
			char d[32], l[32];
			snprintf(d, sizeof d, "%lld", s->dead_top[i].dead);
			snprintf(l, sizeof l, "%lld", s->dead_top[i].live);
			out_rowf(o, s->dead_top[i].name, d, l);
		}
		out_table_end(o);
	}
}

enum status status_render_system(struct out *o, const struct config *cfg,
				 const struct sys_snapshot *s)
{
	char a[64], b[64];
	enum status worst = ST_OK;
	out_kv(o, "load", "%.2f %.2f %.2f (%d cpus)", s->load1, s->load5, s->load15, s->ncpu);
	fmt_bytes(a, sizeof a, (double)(s->mem_total - s->mem_avail));
	fmt_bytes(b, sizeof b, (double)s->mem_total);
	/* The runbook's memory figure is what the import system uses; on a shared box the
	 * whole machine's use is what an operator can act on. */
	double used_gb = (double)(s->mem_total - s->mem_avail) / (1024.0 * 1024 * 1024);
	enum status mst = threshold_judge(&cfg->memory, used_gb);
	/* Judge memory only relative to a machine that can hold the threshold. */
	if ((double)s->mem_total / (1024.0 * 1024 * 1024) < cfg->memory.critical * 2)
		mst = ST_OK;
	out_kv_status(o, "memory_used", mst, "%s of %s", a, b);
	worst = status_worst(worst, mst);
	out_kv_int(o, "memory_available_bytes", (long long)s->mem_avail);
	const char *cols[] = {"directory", "path", "free",
			      out_format(o) == OUT_JSON ? "free_ratio" : "free_pct", "status"};
	out_table_begin(o, "disks", 5, cols);
	for (int i = 0; i < s->nfs; i++) {
		const struct fs_usage *f = &s->fs[i];
		char pct[32];
		enum status st = f->ok ? threshold_judge(&cfg->disk_free, f->free_pct) : ST_UNKNOWN;
		worst = status_worst(worst, st);
		/* JSON wants base units (bytes, a ratio); people want 78.6 GB and 12.5%. */
		if (out_format(o) == OUT_JSON) {
			snprintf(a, sizeof a, "%lld", (long long)f->avail);
			snprintf(pct, sizeof pct, "%.4f", f->free_pct / 100.0);
		} else {
			fmt_bytes(a, sizeof a, (double)f->avail);
			snprintf(pct, sizeof pct, "%.1f", f->free_pct);
		}
		out_rowf(o, f->label, f->path, f->ok ? a : NULL, f->ok ? pct : NULL,
			 status_name(st));
	}
	out_table_end(o);
	return worst;
}

static enum status section_database(struct out *o, const struct config *cfg, PGconn *c)
{
	struct db_snapshot s;
	struct db_judgement j;
	if (!c)
		return ST_CRITICAL;
	if (probe_db(c, &s) < 0) {
		out_kv_status(o, "probe", ST_UNKNOWN, "%s", s.error);
		return ST_UNKNOWN;
	}
	status_render_db(o, cfg, &s, &j);
	return status_worst(j.overall, status_render_repl(o, cfg, c));
}

static enum status section_system(struct out *o, const struct config *cfg, PGconn *c)
{
	(void)c;
	struct sys_snapshot s;
	probe_system(cfg, &s);
	return status_render_system(o, cfg, &s);
}

/* Families add their sections here (import, cache, backups, dr). */
static const struct status_section status_sections[] = {
    {"database", section_database},
    {"system", section_system},
    {"imports", import_status_section},
    {"cache", status_section_cache},
    {"maintenance", status_section_maintenance},
    {"dr", dr_status_section},
    {"backups", backup_status_section},
};

int status_render_all(struct out *o, const struct config *cfg, const struct target *t)
{
	char err[1024], shown[2048];
	enum status worst = ST_OK;
	target_display(t, shown, sizeof shown);
	out_kv(o, "environment", "%s", t->env);
	out_kv(o, "target", "%s", shown);
	PGconn *c = db_connect(t, "status", err, sizeof err);
	if (!c) {
		out_kv_status(o, "connection", ST_CRITICAL, "%s", err);
		worst = ST_CRITICAL;
	}
	for (size_t i = 0; i < sizeof status_sections / sizeof status_sections[0]; i++) {
		out_section(o, status_sections[i].name);
		enum status st = status_sections[i].render(o, cfg, c);
		out_section_end(o);
		worst = status_worst(worst, st);
	}
	db_close(c);
	out_status(o, worst, "%s", c ? "all probes ran" : "database unreachable");
	return worst;
}
