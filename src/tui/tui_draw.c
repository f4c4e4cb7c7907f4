/* Drawing helpers: UTF-8 text cut at display width, boxes, bars, sparklines; plus the
 * pure helpers (word splitting, text width, line lists). */
#include <ctype.h>
#include <langinfo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <wchar.h>

#include "out.h"
#include "spark.h"
#include "util.h"
#include "tui_int.h"

int tui_text_width(const char *s)
{
	mbstate_t st;
	memset(&st, 0, sizeof st);
	int w = 0;
	size_t len = strlen(s);
	while (len > 0) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, len, &st);
		if (n == (size_t)-1 || n == (size_t)-2) {
			memset(&st, 0, sizeof st);
			n = 1;
			w++;
		} else {
			if (n == 0)
				break;
			int cw = wcwidth(wc);
			w += cw < 0 ? 0 : cw;
		}
		s += n;
		len -= n;
	}
	return w;
}

size_t tui_text_fit(const char *s, int cols)
{
	mbstate_t st;
	memset(&st, 0, sizeof st);
	int w = 0;
	size_t len = strlen(s), used = 0;
	while (used < len) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s + used, len - used, &st);
		int cw = 1;
		if (n == (size_t)-1 || n == (size_t)-2) {
			memset(&st, 0, sizeof st);
			n = 1;
		} else if (n == 0)
			break;
		else {
			cw = wcwidth(wc);
			if (cw < 0)
				cw = 0;
		}
		if (w + cw > cols)
			break;
		w += cw;
		used += n;
	}
	return used;
}

/* Control characters would move the cursor: show them as '?'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void tui_put(struct tui *t, int y, int x, int w, enum tui_role role, const char *s)
{
	if (w <= 0 || y < 0 || y >= LINES)
		return;
	char buf[2048];
	snprintf(buf, sizeof buf, "%s", s);
	sanitize(buf);
	size_t fit = tui_text_fit(buf, w);
	buf[fit] = 0;
	attrset(t->attrs[role]);
	mvaddstr(y, x, buf);
	attrset(t->attrs[ROLE_NORMAL]);
}

void tui_putf(struct tui *t, int y, int x, int w, enum tui_role role, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	tui_put(t, y, x, w, role, buf);
}

void tui_fill(struct tui *t, struct tui_rect r, enum tui_role role)
{
	attrset(t->attrs[role]);
	for (int i = 0; i < r.h; i++)
		mvhline(r.y + i, r.x, ' ', r.w);
	attrset(t->attrs[ROLE_NORMAL]);
}

int tui_line(struct tui *t, struct tui_rect r, int i, enum tui_role role, const char *fmt, ...)
{
	if (i < 0 || i >= r.h)
		return 0;
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	attrset(t->attrs[role]);
	mvhline(r.y + i, r.x, ' ', r.w);
	tui_put(t, r.y + i, r.x, r.w, role, buf);
	return 1;
}

void tui_box(struct tui *t, struct tui_rect r, const char *title, int focused)
{
	enum tui_role role = focused ? ROLE_SELECTED : ROLE_BORDER;
	attrset(t->attrs[ROLE_BORDER]);
	mvhline(r.y, r.x + 1, ACS_HLINE, r.w - 2);
	mvhline(r.y + r.h - 1, r.x + 1, ACS_HLINE, r.w - 2);
	mvvline(r.y + 1, r.x, ACS_VLINE, r.h - 2);
	mvvline(r.y + 1, r.x + r.w - 1, ACS_VLINE, r.h - 2);
	mvaddch(r.y, r.x, ACS_ULCORNER);
	mvaddch(r.y, r.x + r.w - 1, ACS_URCORNER);
	mvaddch(r.y + r.h - 1, r.x, ACS_LLCORNER);
	mvaddch(r.y + r.h - 1, r.x + r.w - 1, ACS_LRCORNER);
	char buf[256];
	snprintf(buf, sizeof buf, " %s%s ", focused ? "> " : "", title);
	tui_put(t, r.y, r.x + 2, r.w - 4, role, buf);
	attrset(t->attrs[ROLE_NORMAL]);
}

void tui_bar(char *buf, size_t n, int width, double frac)
{
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	if (width < 3 || (size_t)width + 3 > n) {
		snprintf(buf, n, "%.0f%%", frac * 100);
		return;
	}
	int full = (int)(frac * width + 0.5);
	size_t o = 0;
	buf[o++] = '[';
	for (int i = 0; i < width; i++)
		buf[o++] = i < full ? '#' : '-';
	buf[o++] = ']';
	buf[o] = 0;
}

/* Recent import rates from zero up: the trends' scale (spark.h) with its floor at 0. */
void tui_sparkline(char *buf, size_t n, const double *v, int nv)
{
	double lo, hi;
	spark_range(v, nv, &lo, &hi);
	spark_text(buf, n, v, nv, 0, isnan(hi) || hi < 0 ? 0 : hi, tui_ascii());
}

int tui_ascii(void)
{
	static int known = -1;
	if (known < 0) {
		const char *cs = nl_langinfo(CODESET);
		known = !(cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0));
	}
	return known;
}

enum tui_role tui_status_role(int st)
{
	switch (st) {
	case ST_OK:
		return ROLE_OK;
	case ST_WARNING:
		return ROLE_WARNING;
	case ST_CRITICAL:
		return ROLE_CRITICAL;
	default:
		return ROLE_DIM;
	}
}

/* Scrolling keys of a list or text pane. Returns TUI_* flags, 0 if not a scroll key. */
int tui_list_key(struct tui_pane *p, int key, int page)
{
	int max = p->nitems - 1;
	if (page < 1)
		page = 1;
	switch (key) {
	case KEY_UP:
		p->sel--;
		break;
	case KEY_DOWN:
		p->sel++;
		break;
	case KEY_PPAGE:
		p->sel -= page;
		break;
	case KEY_NPAGE:
		p->sel += page;
		break;
	case KEY_HOME:
		p->sel = 0;
		break;
	case KEY_END:
		p->sel = max;
		break;
	default:
		return 0;
	}
	if (p->sel > max)
		p->sel = max;
	if (p->sel < 0)
		p->sel = 0;
	return TUI_HANDLED | TUI_REDRAW;
}

int tui_pane_scroll_key(struct tui_pane *p, struct tui *t, int key)
{
	(void)t;
	return tui_list_key(p, key, p->lines);
}

int tui_match(const char *hay, const char *needle)
{
	if (!needle || !*needle)
		return 1;
	return hay && strcasestr(hay, needle) != NULL;
}

void tui_clock(char *buf, size_t n, time_t when)
{
	struct tm tm;
	localtime_r(&when, &tm);
	strftime(buf, n, "%H:%M:%S", &tm);
}

void tui_lines_add(struct tui_lines *l, const char *s)
{
	if (l->max > 0 && l->n >= l->max) {
		/* Drop the oldest tenth at once, so a chatty child costs little. */
		int drop = l->max / 10 > 0 ? l->max / 10 : 1;
		for (int i = 0; i < drop; i++)
			free(l->v[i]);
		memmove(l->v, l->v + drop, (size_t)(l->n - drop) * sizeof *l->v);
		l->n -= drop;
	}
	if (l->n >= l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;
		char **nv = xrealloc(l->v, (size_t)cap * sizeof *nv);
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = xstrdup(s);
}

void tui_lines_addf(struct tui_lines *l, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	tui_lines_add(l, buf);
}

void tui_lines_clear(struct tui_lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

void tui_lines_free(struct tui_lines *l)
{
	tui_lines_clear(l);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

void tui_lines_add_plain(struct tui_lines *out, const struct tui_lines *l)
{
	for (int i = 0; i < l->n; i++)
		tui_lines_add(out, l->v[i] + 1);
}

int tui_words_split(const char *line, char ***words, char *err, size_t errlen)
{
	size_t cap = 8, n = 0, len = strlen(line);
	char **w = xcalloc(cap, sizeof *w);
	char *cur = xmalloc(len + 1);
	if (!w || !cur) {
		free(w);
		free(cur);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			break;
		size_t o = 0;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			if (*p == '\'') {
				const char *e = strchr(p + 1, '\'');
				if (!e)
					goto unterminated;
				memcpy(cur + o, p + 1, (size_t)(e - p - 1));
				o += (size_t)(e - p - 1);
				p = e + 1;
			} else if (*p == '"') {
				p++;
				while (*p && *p != '"') {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					cur[o++] = *p++;
				}
				if (*p != '"')
					goto unterminated;
				p++;
			} else if (*p == '\\' && p[1]) {
				cur[o++] = p[1];
				p += 2;
			} else
				cur[o++] = *p++;
		}
		cur[o] = 0;
		if (n + 2 > cap) {
			cap *= 2;
			char **nw = xrealloc(w, cap * sizeof *nw);
			w = nw;
		}
		w[n++] = xstrdup(cur);
		w[n] = NULL;
	}
	free(cur);
	*words = w;
	return (int)n;
unterminated:
	free(cur);
	w[n] = NULL;
	tui_words_free(w);
	snprintf(err, errlen, "unterminated quote");
	return -1;
}

void tui_words_free(char **words)
{
	if (!words)
		return;
	for (char **p = words; *p; p++)
		free(*p);
	free(words);
}

void tui_text_pane(struct tui *t, struct tui_pane *p, struct tui_rect r, int from,
		   struct tui_lines *l)
{
	int *idx = xmalloc(sizeof(int) * (size_t)(l->n + 1));
	int n = 0;
	for (int i = 0; i < l->n; i++)
		if (tui_match(l->v[i] + 1, p->filter))
			idx[n++] = i;
	int h = r.h - from;
	p->nitems = n > h ? n - h + 1 : 1; /* sel scrolls: positions 0..n-h */
	p->lines = h;
	if (p->sel >= p->nitems)
		p->sel = p->nitems - 1;
	if (p->sel < 0)
		p->sel = 0;
	/* Old figures keep their place but lose their colour: a green line must mean a
	 * healthy figure now, not one from before the outage. */
	int stale = tui_pane_stale(t, p);
	for (int i = 0; i < h; i++) {
		int k = p->sel + i;
		if (k < n) {
			const char *s = l->v[idx[k]];
			int role = s[0] - '0';
			if (role < 0 || role >= ROLE_N || (stale && role != ROLE_SELECTED))
				role = stale ? ROLE_DIM : ROLE_NORMAL;
			tui_line(t, r, from + i, (enum tui_role)role, "%s", s + 1);
		} else
			tui_line(t, r, from + i, ROLE_NORMAL, "%s", "");
	}
	free(idx);
}

int tui_pane_banner(struct tui *t, struct tui_pane *p, struct tui_rect r)
{
	const struct monitor_view *v = t->v;
	/* An outage or a silent server is said once, in the banner over the panes; repeated
	 * in each pane it took a third of an 80x24 screen. */
	if (p->mon < 0 || !v->connected || v->silent)
		return 0;
	if (v->stale[p->mon]) {
		tui_line(t, r, 0, ROLE_WARNING, "stale: %s",
			 v->perr[p->mon][0]
			     ? v->perr[p->mon]
			     : "the probe is still waiting (a lock or a slow server)");
		return 1;
	}
	if (p->mon >= 0 && v->perr[p->mon][0]) {
		tui_line(t, r, 0, ROLE_WARNING, "probe failed: %s", v->perr[p->mon]);
		return 1;
	}
	return 0;
}

void tui_tl(struct tui_lines *l, enum tui_role role, const char *fmt, ...)
{
	char buf[4096];
	buf[0] = (char)('0' + role);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + 1, sizeof buf - 1, fmt, ap);
	va_end(ap);
	tui_lines_add(l, buf);
}

void tui_pane_keep_in_view(struct tui_pane *p, int n, int h)
{
	p->nitems = n;
	p->lines = h;
	if (p->sel >= n)
		p->sel = n - 1;
	if (p->sel < 0)
		p->sel = 0;
	if (p->sel < p->scroll)
		p->scroll = p->sel;
	if (h > 0 && p->sel >= p->scroll + h)
		p->scroll = p->sel - h + 1;
	if (p->scroll > n - h)
		p->scroll = n - h;
	if (p->scroll < 0)
		p->scroll = 0;
}
