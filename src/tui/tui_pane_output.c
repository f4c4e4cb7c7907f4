/* Output area: what commands run from the command bar print, scrollable and zoomable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_int.h"
#include "util.h"

static void draw(struct tui_pane *p, struct tui *t, struct tui_rect r)
{
	struct tui_lines *o = &t->out;
	int h = r.h;
	int *idx = xmalloc(sizeof(int) * (size_t)(o->n + 1));
	int n = 0;
	for (int i = 0; i < o->n; i++)
		if (tui_match(o->v[i], p->filter))
			idx[n++] = i;
	p->lines = h;
	/* sel is the last line shown; follow keeps it on the newest. */
	p->nitems = n;
	if (p->follow || p->sel >= n)
		p->sel = n - 1;
	if (p->sel < h - 1 && n >= h)
		p->sel = h - 1;
	int top = p->sel - h + 1;
	if (top < 0)
		top = 0;
	for (int i = 0; i < h; i++) {
		int k = top + i;
		if (k < n) {
			const char *s = o->v[idx[k]];
			enum tui_role role = s[0] == '$'		   ? ROLE_HEADER
					     : strncmp(s, "[exit", 5) == 0 ? ROLE_DIM
									   : ROLE_NORMAL;
			tui_line(t, r, i, role, "%s", s);
		} else
			tui_line(t, r, i, ROLE_NORMAL, "%s",
				 i == 0 && n == 0 ? "press : and type a command (Tab completes)"
						  : "");
	}
	free(idx);
}

static int key(struct tui_pane *p, struct tui *t, int k)
{
	(void)t;
	int rc = tui_list_key(p, k, p->lines);
	if (rc)
		p->follow = p->sel >= p->nitems - 1;
	return rc;
}

static int details(struct tui_pane *p, struct tui *t, struct tui_lines *out)
{
	(void)p;
	for (int i = 0; i < t->out.n; i++)
		tui_lines_add(out, t->out.v[i]);
	return t->out.n > 0;
}

const struct tui_pane_ops tui_pane_output_ops = {
    .name = "output",
    .title = "Output",
    .draw = draw,
    .key = key,
    .details = details,
    .filterable = 1,
};
