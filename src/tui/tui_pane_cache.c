/* Cache statistics pane: the application cache beside PostgreSQL's buffer cache. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tui_int.h"

static void pct(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%.2f%%", v);
}

static void build(struct tui *t, struct tui_lines *l)
{
	const struct monitor_view *v = t->v;
	const struct console_cache_snapshot *s = &v->cache;
	char a[64], b[64];
	if (!v->have[MON_CACHE]) {
		tui_tl(l, ROLE_DIM, "%s",
		       v->connected ? "waiting for the first probe" : "no figures yet");
		return;
	}
	if (!s->installed)
		tui_tl(l, ROLE_DIM, "cache layer not installed");
	else {
		fmt_bytes(a, sizeof a, (double)s->bytes);
		pct(b, sizeof b, s->hit_rate);
		enum tui_role r = ROLE_NORMAL;
		if (!isnan(s->hit_rate) && s->hits + s->misses >= 100)
			r = tui_status_role(threshold_judge(&t->cfg->cache_hit_rate, s->hit_rate));
		tui_tl(l, r, "app cache %lld entries, %s, hit %s", s->entries, a, b);
		tui_tl(l, ROLE_NORMAL, "  hits %lld misses %lld evictions %lld expired %lld",
		       s->hits, s->misses, s->evictions, s->expiries + s->expired_now);
	}
	tui_tl(l, ROLE_DIM, "PostgreSQL buffer cache, per database:");
	for (int i = 0; i < s->ndb; i++) {
		pct(a, sizeof a, s->db[i].hit);
		enum tui_role r =
		    isnan(s->db[i].hit) || s->db[i].blocks < 1000
			? ROLE_NORMAL
			: tui_status_role(threshold_judge(&t->cfg->buffer_hit_ratio, s->db[i].hit));
		tui_tl(l, r, "  %-20s %8s  %lld blocks", s->db[i].name, a, s->db[i].blocks);
	}
	tui_tl(l, ROLE_DIM, "busiest tables:");
	if (!s->ntables)
		tui_tl(l, ROLE_DIM, "  (no table reads yet)");
	for (int i = 0; i < s->ntables; i++) {
		pct(a, sizeof a, s->tables[i].hit);
		tui_tl(l, ROLE_NORMAL, "  %-28s %8s  %lld blocks", s->tables[i].name, a,
		       s->tables[i].blocks);
	}
}

static void draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	struct tui_lines l = {0};
	int from = tui_pane_banner(t, p, r);
	build(t, &l);
	tui_text_pane(t, p, r, from, &l);
	tui_lines_free(&l);
}

static int details(struct tui_pane *p, struct tui *t, struct tui_lines *out)
{
	(void)p;
	struct tui_lines l = {0};
	build(t, &l);
	tui_lines_add_plain(out, &l);
	tui_lines_free(&l);
	return 1;
}

const struct tui_pane_ops tui_pane_cache_ops = {
    .name = "cache",
    .title = "Cache statistics",
    .draw = draw,
    .key = tui_pane_scroll_key,
    .details = details,
    .filterable = 1,
};
