/* Object keys in jsonb's order, as the minifier writes them. jsonb stores an object's keys
 * sorted (shorter first, then bytewise), and on PostgreSQL 15 that sort was a fifth of the
 * server's staging time. Its sort returns at once on sorted input, so the importer, which
 * holds the text anyway, puts every object's members in that order first. Member order
 * carries no meaning in JSON: the stored jsonb is the same either way. Sorting also
 * shows whether an object repeats a key, which spares the checker its own search. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "import_int.h"

static int key_cmp(const char *buf, const struct keyorder_member *a,
		   const struct keyorder_member *b)
{
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	size_t la = a->keyend - a->start, lb = b->keyend - b->start;
	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(buf + a->start, buf + b->start, la);
}

/* The length in the top 16 bits (capped), then the first six bytes: ordered as jsonb
 * orders keys, and unequal for most pairs of keys. */
static uint64_t key_order(const char *key, size_t len)
{
	if (len >= 0xffff) /* no room for the length: such keys tie here, key_cmp decides */
		return (uint64_t)0xffff << 48;
	uint64_t v = (uint64_t)len << 48;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (len >= 8) { /* most keys: one load of the key's own bytes */
		uint64_t w;
		memcpy(&w, key, 8);
		return v | (__builtin_bswap64(w) >> 16);
	}
#endif
	for (size_t i = 0; i < 6 && i < len; i++)
		v |= (uint64_t)(unsigned char)key[i] << (40 - 8 * i);
	return v;
}

static int member_cmp(const void *a, const void *b, void *buf)
{
	return key_cmp(buf, a, b);
}

/* Binary insertion: objects are small (tens of keys) and moves cheap; a wide one (a file
 * can hold millions of keys) takes qsort instead of n² moves. The order among equal keys
 * does not matter: a repeated key fails the file. */
static void sort_members(char *buf, struct keyorder_member *m, size_t n)
{
	if (n > 64) {
		qsort_r(m, n, sizeof *m, member_cmp, buf);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct keyorder_member x = m[i];
		size_t lo = 0, hi = i;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (key_cmp(buf, &m[mid], &x) > 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		memmove(m + lo + 1, m + lo, (i - lo) * sizeof *m);
		m[lo] = x;
	}
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	p = xrealloc(p, c * size);
	*cap = c;
	return p;
}

void keyorder_open(struct keyorder *k, int is_obj)
{
	k->frames = grow(k->frames, &k->fcap, k->nframes + 1, sizeof *k->frames);
	k->frames[k->nframes++] = (struct keyorder_frame){.is_obj = is_obj,
							  .base = k->nmembers,
							  .objs0 = k->nobjs,
							  .expect_key = is_obj,
							  .sorted = 1};
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
	m->order = key_order(buf + m->start, end - m->start);
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
	if (!k->nframes) /* a comma outside any container: the parse rejects the file */
		return;
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
		sort_members(buf, m, n);
		for (size_t i = 1; i < n; i++)
			if (key_cmp(buf, &m[i - 1], &m[i]) == 0)
				k->dup = 1;
		/* Moving the text now would move each enclosing object's again: the members
		 * are kept, and the whole document is written once at the end. */
		k->saved = grow(k->saved, &k->scap, k->nsaved + n, sizeof *k->saved);
		memcpy(k->saved + k->nsaved, m, n * sizeof *m);
		k->objs = grow(k->objs, &k->ocap, k->nobjs + 1, sizeof *k->objs);
		k->objs[k->nobjs] = (struct keyorder_obj){.from = from,
							  .to = to,
							  .first = k->nsaved,
							  .n = n,
							  .nested = k->nobjs > f->objs0};
		k->nobjs++;
		k->nsaved += n;
	}
	k->nmembers = f->base;
}

static int obj_cmp(const void *a, const void *b)
{
	const struct keyorder_obj *x = a, *y = b;
	return x->from < y->from ? -1 : x->from > y->from;
}

/* The first object starting at or after pos. */
static size_t obj_at(const struct keyorder *k, size_t pos)
{
	size_t lo = 0, hi = k->nobjs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->objs[mid].from < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* buf[a, b) into tmp at w, each object that starts at or after `after` with its members in
 * order; returns the new w. A member's span begins where its object's does, so its own
 * search starts past that. Depth is bounded by the minifier's nesting limit. */
static size_t emit_span(struct keyorder *k, const char *buf, size_t a, size_t b, size_t after,
			size_t w)
{
	size_t i = obj_at(k, after);
	while (i < k->nobjs && k->objs[i].from < b) {
		const struct keyorder_obj *o = &k->objs[i];
		memcpy(k->tmp + w, buf + a, o->from - a);
		w += o->from - a;
		for (size_t j = 0; j < o->n; j++) {
			const struct keyorder_member *m = &k->saved[o->first + j];
			if (j)
				k->tmp[w++] = ',';
			if (o->nested) {
				w = emit_span(k, buf, m->start - 1, m->end, m->start, w);
			} else {
				memcpy(k->tmp + w, buf + m->start - 1, m->end - m->start + 1);
				w += m->end - m->start + 1;
			}
		}
		a = o->to;
		while (i < k->nobjs && k->objs[i].from < a) /* past the ones inside it */
			i++;
	}
	memcpy(k->tmp + w, buf + a, b - a);
	return w + (b - a);
}

void keyorder_finish(struct keyorder *k, char *buf, size_t from, size_t to)
{
	if (!k->nobjs)
		return;
	/* closed inner objects first: in the order of their text for the search */
	qsort(k->objs, k->nobjs, sizeof *k->objs, obj_cmp);
	k->tmp = grow(k->tmp, &k->tcap, to - from, 1);
	size_t w = emit_span(k, buf, from, to, from, 0);
	/* Every byte lies in exactly one member span or between them, so the length holds;
	 * if it ever did not, the file order is kept (the server sorts keys itself). */
	if (w == to - from)
		memcpy(buf + from, k->tmp, w);
}

void keyorder_reset(struct keyorder *k)
{
	k->nframes = k->nmembers = k->nsaved = k->nobjs = 0;
	k->in_key = k->dup = k->unsure = 0;
}
