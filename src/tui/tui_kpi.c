/* The runbook's Key Metrics Dashboard as one strip under the header: import speed, query
 * time, cache hit rate and memory, each in the colour of its [thresholds] status and with
 * its state in words, naming the runbook's action when it is off. The judgements and the
 * actions are perf-analyze's (probe_kpi.h). At 80 columns the labels and then the actions
 * of the lesser figures give way; the priority layout folds the strip when the panes need
 * its row (tui_kpi_rows). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "probe_kpi.h"
#include "tui_int.h"

static const char *const long_label[KPI_N] = {"import", "query", "cache hit", "memory"};
static const char *const short_label[KPI_N] = {"imp", "qry", "hit", "mem"};

int tui_kpi_rows(const struct tui *t, int banner_h)
{
	(void)t;
	/* The panes need 22 rows at the least (24 lines without the strip). */
	return LINES - banner_h >= 24 ? 1 : 0;
}

void tui_kpi_value(const struct kpi_fig *f, int id, char *buf, size_t n)
{
	if (!f->have)
		snprintf(buf, n, "n/a");
	else if (id == KPI_IMPORT)
		snprintf(buf, n, f->value >= 10000 ? "%.0fk/s" : "%.0f/s",
			 f->value >= 10000 ? f->value / 1000 : f->value);
	else if (id == KPI_QUERY)
		snprintf(buf, n,
			 f->value < 1	 ? "%.2fms"
			 : f->value < 10 ? "%.1fms"
					 : "%.0fms",
			 f->value);
	else if (id == KPI_CACHE)
		snprintf(buf, n, "%.1f%%", f->value);
	else
		snprintf(buf, n, "%.1fG", f->value);
}

static const char *state_word(const struct kpi_fig *f)
{
	if (!f->have)
		return "";
	return f->st == ST_OK ? " OK" : f->st == ST_WARNING ? " WARN" : " CRIT";
}

/* The segments at a level of detail: 0 long labels and every action, 1 short labels, 2
 * only the critical figures' actions, 3 none. */
static int build(const struct kpi_fig *f, int level, char seg[KPI_N][160])
{
	int w = 0;
	for (int i = 0; i < KPI_N; i++) {
		char val[32], act[96] = "";
		tui_kpi_value(&f[i], i, val, sizeof val);
		if (f[i].action && (level < 2 || (level == 2 && f[i].st == ST_CRITICAL))) {
			act[0] = ':';
			act[1] = ' ';
			kpi_action_short(f[i].action, act + 2, sizeof act - 2);
		}
		snprintf(seg[i], 160, "%s %s%s%s", level ? short_label[i] : long_label[i], val,
			 state_word(&f[i]), act);
		w += tui_text_width(seg[i]) + (i ? 2 : 1);
	}
	return w;
}

void tui_kpi_figures(const struct tui *t, struct kpi_fig *f)
{
	/* The host line's sample (the monitor's, at each refresh): one reading of memory. */
	const struct host_snapshot *h = &t->v->host;
	double total = h->have ? (double)h->sys.mem_total : 0;
	kpi_figures(t->cfg, t->v, h->have ? (double)(h->sys.mem_total - h->sys.mem_avail) : 0,
		    total, f);
}

int tui_kpi_worst(const struct tui *t)
{
	struct kpi_fig f[KPI_N];
	tui_kpi_figures(t, f);
	int worst = ST_OK;
	for (int i = 0; i < KPI_N; i++)
		if (f[i].have && f[i].st != ST_UNKNOWN && (int)f[i].st > worst)
			worst = f[i].st;
	return worst;
}

void tui_kpi_strip(struct tui *t, int y)
{
	struct kpi_fig f[KPI_N];
	tui_kpi_figures(t, f);
	char seg[KPI_N][160];
	int level = 0;
	while (level < 3 && build(f, level, seg) > COLS)
		level++;
	build(f, level, seg);
	move(y, 0);
	attrset(t->attrs[ROLE_NORMAL]);
	clrtoeol();
	int x = 1;
	for (int i = 0; i < KPI_N && x < COLS; i++) {
		enum tui_role role = !f[i].have ? ROLE_DIM : tui_status_role(f[i].st);
		/* figures that are stale read dimmed, never green */
		if (f[i].have && f[i].st == ST_OK && !t->v->connected)
			role = ROLE_DIM;
		tui_put(t, y, x, COLS - x, role, seg[i]);
		x += tui_text_width(seg[i]) + 2;
	}
}
