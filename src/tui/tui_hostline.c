/* The host in one line under the header: load, CPU, memory and the free space of the data,
 * backup and log directories, as small meters. The figures are the monitor's samples
 * (monitor_host: /proc and statvfs at each refresh); this file only draws them, judged as
 * system-resources judges them ([thresholds] memory and disk_free): yellow or red, and in
 * the plain colour when fine (green would claim more than the line knows). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "out.h"
#include "tui_int.h"

struct seg {
	char text[96];
	enum tui_role role;
};

static enum tui_role judged(int st)
{
	return st == ST_OK ? ROLE_NORMAL : tui_status_role(st);
}

/* Memory as system-resources judges it: the used GB against [thresholds] memory, only on a
 * machine that can hold the threshold. */
static int memory_status(const struct config *cfg, const struct sys_snapshot *s)
{
	double gb = 1024.0 * 1024 * 1024;
	double used = (double)(s->mem_total - s->mem_avail) / gb;
	if ((double)s->mem_total / gb < cfg->memory.critical * 2)
		return ST_OK;
	return threshold_judge(&cfg->memory, used);
}

/* The segments at a level of detail: 0 all, 1 the 1-minute load and the memory used only
 * with shorter meters, 2 no meters. */
static int build(struct tui *t, int level, struct seg *sg)
{
	const struct host_snapshot *h = &t->v->host;
	const struct sys_snapshot *s = &h->sys;
	int n = 0;
	char bar[32];
	if (level == 0)
		snprintf(sg[n].text, sizeof sg[n].text, "load %.2f %.2f %.2f", s->load1, s->load5,
			 s->load15);
	else
		snprintf(sg[n].text, sizeof sg[n].text, "load %.2f", s->load1);
	sg[n++].role = ROLE_NORMAL;
	bar[0] = 0;
	if (level < 2 && !isnan(h->cpu_pct))
		tui_bar(bar, sizeof bar, level ? 3 : 5, h->cpu_pct / 100.0);
	if (isnan(h->cpu_pct))
		snprintf(sg[n].text, sizeof sg[n].text, "cpu --");
	else
		snprintf(sg[n].text, sizeof sg[n].text, "cpu %s%s%.0f%%", bar, bar[0] ? " " : "",
			 h->cpu_pct);
	sg[n++].role = ROLE_NORMAL;
	double gb = 1024.0 * 1024 * 1024;
	bar[0] = 0;
	if (level < 2 && s->mem_total)
		tui_bar(bar, sizeof bar, level ? 3 : 5,
			(double)(s->mem_total - s->mem_avail) / (double)s->mem_total);
	double used = (double)(s->mem_total - s->mem_avail) / gb;
	if (level == 0)
		snprintf(sg[n].text, sizeof sg[n].text, "mem %s%s%.1f/%.1fG", bar,
			 bar[0] ? " " : "", used, (double)s->mem_total / gb);
	else
		snprintf(sg[n].text, sizeof sg[n].text, "mem %s%s%.1fG", bar, bar[0] ? " " : "",
			 used);
	sg[n++].role = judged(memory_status(t->cfg, s));
	for (int i = 0; i < s->nfs; i++) {
		const struct fs_usage *f = &s->fs[i];
		if (f->ok)
			snprintf(sg[n].text, sizeof sg[n].text, "%s%s %.0f%%", i ? "" : "free ",
				 f->label, f->free_pct);
		else
			snprintf(sg[n].text, sizeof sg[n].text, "%s%s ?", i ? "" : "free ",
				 f->label);
		sg[n++].role =
		    f->ok ? judged(threshold_judge(&t->cfg->disk_free, f->free_pct)) : ROLE_DIM;
	}
	return n;
}

int tui_host_line_rows(const struct tui *t, int banner_h)
{
	/* It gives way first: to an outage banner on a small screen. */
	return t->v->host.have && LINES - banner_h >= 24 ? 1 : 0;
}

void tui_host_line(struct tui *t, int y)
{
	struct seg sg[3 + PROBE_MAX_FS];
	int n = 0, w = 0;
	for (int level = 0; level < 3; level++) {
		n = build(t, level, sg);
		w = 1;
		for (int i = 0; i < n; i++)
			w += tui_text_width(sg[i].text) + (i ? 2 : 0);
		if (w <= COLS)
			break;
	}
	move(y, 0);
	attrset(t->attrs[ROLE_NORMAL]);
	clrtoeol();
	int x = 1;
	for (int i = 0; i < n && x < COLS; i++) {
		tui_put(t, y, x, COLS - x, sg[i].role, sg[i].text);
		x += tui_text_width(sg[i].text) + 2;
	}
}
