/* Object keys in jsonb's order, as the minifier writes them. jsonb stores an object's keys
 * sorted (shorter first, then bytewise), and on PostgreSQL 15 that sort was a fifth of the
 * server's staging time. Its sort returns at once on sorted input, so the importer, which
 * holds the text anyway, puts every object's members in that order first. Member order
 * carries no meaning in JSON: the stored jsonb is the same either way. Sorting also
 * shows whether an object repeats a key, which spares the checker its own search. */
#include <stdlib.h>
#include <string.h>

#include "import_int.h"

static int key_cmp(const char *buf, const struct keyorder_member *a,
		   const struct keyorder_member *b)
{
	size_t la = a->keyend - a->start, lb = b->keyend - b->start;
	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(buf + a->start, buf + b->start, la);
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	p = realloc(p, c * size);
	if (!p)
		abort();
	*cap = c;
	return p;
}

void keyorder_open(struct keyorder *k, int is_obj)
{
	k->frames = grow(k->frames, &k->fcap, k->nframes + 1, sizeof *k->frames);
	k->frames[k->nframes++] = (struct keyorder_frame){
	    .is_obj = is_obj, .base = k->nmembers, .expect_key = is_obj, .sorted = 1};
}

int keyorder_expects_key(const struct keyorder *k)
{
	return k->nframes && k->frames[k->nframes - 1].expect_key;
}

void keyorder_key(struct keyorder *k, size_t start)
{
	struct keyorder_frame *f = &k->frames[k->nframes - 1];
	f->expect_key = 0;
	k->members = grow(k->members, &k->mcap, k->nmembers + 1, sizeof *k->members);
	/* the key's text starts after its quote */
	k->members[k->nmembers++] = (struct keyorder_member){.start = start + 1};
	k->in_key = 1;
}

void keyorder_key_escaped(struct keyorder *k)
{
	k->frames[k->nframes - 1].unsortable = 1;
}

void keyorder_key_end(struct keyorder *k, const char *buf, size_t end)
{
	struct keyorder_frame *f = &k->frames[k->nframes - 1];
	struct keyorder_member *m = &k->members[k->nmembers - 1];
	m->keyend = end; /* the closing quote */
	k->in_key = 0;
	if (k->nmembers - 1 > f->base) {
		int c = key_cmp(buf, m - 1, m);
		if (c == 0)
			f->unsortable = 1; /* a duplicate: the checks reject the file */
		else if (c > 0)
			f->sorted = 0;
	}
}

void keyorder_comma(struct keyorder *k, size_t pos)
{
	struct keyorder_frame *f = &k->frames[k->nframes - 1];
	if (!f->is_obj)
		return;
	if (k->nmembers > f->base)
		k->members[k->nmembers - 1].end = pos;
	f->expect_key = 1;
}

void keyorder_close(struct keyorder *k, char *buf, size_t pos)
{
	if (!k->nframes)
		return;
	struct keyorder_frame *f = &k->frames[--k->nframes];
	size_t n = k->nmembers - f->base;
	if (!f->is_obj || n == 0) {
		k->nmembers = f->base;
		return;
	}
	struct keyorder_member *m = k->members + f->base;
	m[n - 1].end = pos;
	if (f->unsortable)
		k->unsure = 1;
	if (!f->sorted && !f->unsortable) {
		/* spans include the opening quote; members are joined by single commas */
		size_t from = m[0].start - 1, to = m[n - 1].end;
		/* insertion sort: objects are small, and often nearly in order */
		for (size_t i = 1; i < n; i++) {
			struct keyorder_member x = m[i];
			size_t j = i;
			for (; j > 0 && key_cmp(buf, &m[j - 1], &x) > 0; j--)
				m[j] = m[j - 1];
			m[j] = x;
		}
		for (size_t i = 1; i < n; i++)
			if (key_cmp(buf, &m[i - 1], &m[i]) == 0)
				k->dup = 1;
		k->tmp = grow(k->tmp, &k->tcap, to - from, 1);
		size_t w = 0;
		for (size_t i = 0; i < n; i++) {
			if (i)
				k->tmp[w++] = ',';
			size_t s = m[i].start - 1, len = m[i].end - s;
			memcpy(k->tmp + w, buf + s, len);
			w += len;
		}
		memcpy(buf + from, k->tmp, w);
	}
	k->nmembers = f->base;
}

void keyorder_reset(struct keyorder *k)
{
	k->nframes = k->nmembers = 0;
	k->in_key = k->dup = k->unsure = 0;
}
