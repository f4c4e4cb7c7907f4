/* The fleet strip: one line per configured environment (reachable, role, lag, last import
 * and generation, last backup age, worst status), under the header, when the config
 * names more than one. The target's line comes from the monitor's own figures; the
 * others from the fleet probe (include/probe_fleet.h), one query each per refresh, never
 * blocking. When the screen has no room for a line each, the strip folds to one line,
 * the environments that are not OK first. E switches the panes' target to the next
 * environment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "probe.h"
#include "probe_fleet.h"
#include "target.h"
#include "tui_int.h"
#include "util.h"

/* The panes keep at least the rows they have at 80x24 before the strip takes a line per
 * environment. */
#define FLEET_PANES_MIN 22

void tui_fleet_init(struct tui *t)
{
	t->fleet_target = fleet_target_index(t->cfg, t->target->env, t->target->conninfo);
	if (t->cfg->nenvs < 2)
		return;
	t->fleet = fleet_new(t->cfg, "midsops console fleet", t->fleet_target);
	fleet_refresh(t->fleet);
}

void tui_fleet_free(struct tui *t)
{
	fleet_free(t->fleet);
	t->fleet = NULL;
	free(t->fleet_tgt);
	t->fleet_tgt = NULL;
}

/* Figures this old never read OK: three refreshes missed, and a little slack. */
static double stale_after(const struct tui *t)
{
	return 3 * t->refresh + 2;
}

static const struct fleet_env_view *row(struct tui *t, int i, struct fleet_env_view *own)
{
	if (i == t->fleet_target) {
		fleet_from_monitor(own, t->cfg->envs[i].name, t->v);
		return own;
	}
	return fleet_env(t->fleet, i);
}

int tui_fleet_height(struct tui *t, int avail)
{
	if (!t->fleet)
		return 0;
	int n = fleet_count(t->fleet);
	return avail - n >= FLEET_PANES_MIN ? n : 1;
}

static void detail(const struct fleet_env_view *e, char *buf, size_t n)
{
	const struct fleet_figures *f = &e->f;
	char lag[48] = "-", imp[96] = "import -", bk[40] = "backup -", d[32];
	if (!isnan(f->lag_s)) {
		fmt_duration(d, sizeof d, f->lag_s);
		snprintf(lag, sizeof lag, "lag %s", d);
	} else if (f->lag_bytes >= 0) {
		fmt_bytes(d, sizeof d, (double)f->lag_bytes);
		snprintf(lag, sizeof lag, "lag %s", d);
	}
	if (f->nreplicas && !f->in_recovery)
		snprintf(lag + strlen(lag), sizeof lag - strlen(lag), " (%d stby)", f->nreplicas);
	if (f->import_id) {
		d[0] = 0;
		if (!isnan(f->import_at))
			fmt_duration(d, sizeof d, f->server_now - f->import_at);
		snprintf(imp, sizeof imp, "#%lld %.12s %s%s gen %lld", f->import_id,
			 f->import_state, d, d[0] ? " ago" : "", f->generation);
	} else if (f->imports_present)
		snprintf(imp, sizeof imp, "no import yet");
	if (!isnan(f->backup_age_s)) {
		fmt_duration(d, sizeof d, f->backup_age_s);
		snprintf(bk, sizeof bk, "backup %s", d);
	} else if (f->backups_present)
		snprintf(bk, sizeof bk, "no backup");
	snprintf(buf, n, "%-8s %-18s %-30s %s", f->in_recovery ? "standby" : "primary", lag, imp,
		 bk);
}

static void full_line(struct tui *t, int y, int i, int namew)
{
	struct fleet_env_view own;
	const struct fleet_env_view *e = row(t, i, &own);
	char why[256], text[320];
	enum status st = fleet_judge(e, t->cfg, stale_after(t), why, sizeof why);
	tui_putf(t, y, 0, namew + 2, i == t->fleet_target ? ROLE_SELECTED : ROLE_NORMAL, "%c%-*s",
		 i == t->fleet_target ? '>' : ' ', namew, e->name);
	tui_putf(t, y, namew + 2, 10, tui_status_role(st), "%-9s", status_name(st));
	if (e->reachable && e->have) {
		detail(e, text, sizeof text);
		if (st != ST_OK)
			snprintf(text + strlen(text), sizeof text - strlen(text), "  %s", why);
	} else
		snprintf(text, sizeof text, "%s", why);
	tui_put(t, y, namew + 12, COLS - namew - 12, st == ST_OK ? ROLE_NORMAL : ROLE_DIM, text);
}

/* One line: "fleet", then each environment's name and status, the worst first with
 * their reason (CRITICAL, UNKNOWN, WARNING, then OK), so the trouble is never the part
 * cut off. */
static void folded_line(struct tui *t, int y)
{
	static const enum status order[] = {ST_CRITICAL, ST_UNKNOWN, ST_WARNING, ST_OK};
	int x = 0, n = fleet_count(t->fleet);
	tui_put(t, y, 0, 6, ROLE_DIM, "fleet ");
	x = 6;
	for (int pass = 0; pass < 4; pass++)
		for (int i = 0; i < n && x < COLS; i++) {
			struct fleet_env_view own;
			const struct fleet_env_view *e = row(t, i, &own);
			char why[256], seg[320];
			enum status st = fleet_judge(e, t->cfg, stale_after(t), why, sizeof why);
			if (st != order[pass])
				continue;
			snprintf(seg, sizeof seg, "%s%s ", i == t->fleet_target ? ">" : "",
				 e->name);
			int w = tui_text_width(seg);
			tui_put(t, y, x, COLS - x, ROLE_NORMAL, seg);
			x += w;
			if (x >= COLS)
				break;
			if (st != ST_OK)
				snprintf(seg, sizeof seg, "%s %.60s", status_name(st), why);
			else
				snprintf(seg, sizeof seg, "%s", status_name(st));
			w = tui_text_width(seg);
			tui_put(t, y, x, COLS - x, tui_status_role(st), seg);
			x += w + 2;
		}
}

void tui_fleet_draw(struct tui *t, int y, int h)
{
	if (!t->fleet || h <= 0)
		return;
	move(y, 0);
	attrset(t->attrs[ROLE_NORMAL]);
	if (h == 1 && fleet_count(t->fleet) > 1) {
		folded_line(t, y);
		return;
	}
	int namew = 4;
	for (int i = 0; i < fleet_count(t->fleet); i++) {
		int w = (int)strlen(t->cfg->envs[i].name);
		namew = w > namew ? w : namew;
	}
	if (namew > 16)
		namew = 16;
	for (int i = 0; i < h && i < fleet_count(t->fleet); i++)
		full_line(t, y + i, i, namew);
}

/* The panes' target becomes the next environment: the monitor starts over on its dsn, the
 * fleet probe takes the one left behind. */
void tui_fleet_next(struct tui *t)
{
	if (!t->fleet) {
		tui_message(t, "the config names no other environment ([env NAME] in %s)",
			    t->cfg->path);
		return;
	}
	int next = (t->fleet_target + 1) % t->cfg->nenvs;
	const struct config_env *ce = &t->cfg->envs[next];
	struct target *nt = xcalloc(1, sizeof *nt);
	snprintf(nt->conninfo, sizeof nt->conninfo, "%s", ce->dsn);
	snprintf(nt->source, sizeof nt->source, "console: environment %.60s", ce->name);
	snprintf(nt->env, sizeof nt->env, "%s", ce->name);
	int sessions = t->focus == PANE_SESSIONS;
	if (sessions)
		tui_sessions_toggle(t);
	monitor_free(t->mon);
	t->mon = monitor_new(nt->conninfo, "console", MONITOR_STATEMENT_TIMEOUT_MS);
	t->v = monitor_view(t->mon);
	monitor_set_paused(t->mon, t->paused);
	monitor_host(t->mon, t->cfg);
	t->target = nt;
	free(t->fleet_tgt);
	t->fleet_tgt = nt;
	t->fleet_target = next;
	fleet_set_skip(t->fleet, next);
	monitor_service(t->mon, NULL, 0);
	fleet_refresh(t->fleet);
	if (sessions)
		tui_sessions_toggle(t);
	tui_message(t, "target: environment %s (E: the next one)", ce->name);
}
