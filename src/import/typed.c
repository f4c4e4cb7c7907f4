/* Typed rows: the columns the web API queries, taken from a document the mapper already
 * parsed, written as COPY text for stage.records.f, stage.effects and stage.templates.
 * Promote then copies values instead of re-reading every jsonb document on the server.
 * The conversions are the tolerant ones of the game.j_* SQL functions, which rollback
 * still uses (import_typed_sql), so both sides must agree: a value of the wrong type is
 * null, never an error. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "import.h"
#include "import_int.h"

#define TC(json, conv, col)                                                                        \
	{                                                                                          \
		json, conv, col                                                                    \
	}

static const struct import_tcol t_archetype[] = {
    TC("name", TC_TXT, "name"),
    TC("display_name", TC_TXT, "display_name"),
    TC("primary_category", TC_TXT, "primary_category"),
    TC("secondary_category", TC_TXT, "secondary_category"),
    TC("is_villain", TC_BOOL, "is_villain"),
    {0}};
static const struct import_tcol t_table[] = {TC("base_perception", TC_NUM, "base_perception"),
					     TC("named_tables", TC_NKEYS, "table_count"),
					     {0}};
static const struct import_tcol t_category[] = {TC("name", TC_TXT, "name"),
						TC("display_name", TC_TXT, "display_name"),
						TC("archetypes", TC_TXTARR, "archetypes"),
						{0}};
static const struct import_tcol t_powerset[] = {TC("name", TC_TXT, "name"),
						TC("display_name", TC_TXT, "display_name"),
						TC("display_fullname", TC_TXT, "display_fullname"),
						TC("power_names", TC_LEN, "power_count"),
						{0}};
static const struct import_tcol t_power[] = {
    TC("full_name", TC_TXT, "full_name"),
    TC("name", TC_TXT, "name"),
    TC("display_name", TC_TXT, "display_name"),
    TC("powerset", TC_TXT, "powerset_name"), /* f[4]: promote resolves powerset_id by it */
    TC("type", TC_TXT, "type"),
    TC("available_level", TC_INT, "available_level"),
    TC("accuracy", TC_NUM, "accuracy"),
    TC("endurance_cost", TC_NUM, "endurance_cost"),
    TC("recharge_time", TC_NUM, "recharge_time"),
    TC("activation_time", TC_NUM, "activation_time"),
    TC("range", TC_NUM, "range"),
    TC("radius", TC_NUM, "radius"),
    TC("arc", TC_NUM, "arc"),
    TC("max_targets_hit", TC_INT, "max_targets_hit"),
    TC("max_boosts", TC_INT, "max_boosts"),
    TC("effect_area", TC_TXT, "effect_area"),
    TC("target_type", TC_TXT, "target_type"),
    TC("archetypes", TC_TXTARR, "archetypes"),
    TC("effects", TC_LEN, "effect_count"),
    {0}};
static const struct import_tcol t_set[] = {TC("name", TC_TXT, "name"),
					   TC("display_name", TC_TXT, "display_name"),
					   TC("group_name", TC_TXT, "group_name"),
					   TC("min_level", TC_INT, "min_level"),
					   TC("max_level", TC_INT, "max_level"),
					   TC("bonuses", TC_LEN, "bonus_count"),
					   {0}};
static const struct import_tcol t_tag[] = {TC("tag", TC_TXT, "name"),
					   TC("bears", TC_LEN, "bears_count"),
					   TC("affects", TC_LEN, "affects_count"),
					   {0}};
static const struct import_tcol t_group[] = {
    TC("group", TC_TXT, "name"), TC("powers", TC_LEN, "member_count"), {0}};

static const struct import_tcol *const typed_cols[IK_COUNT] = {
    [IK_ARCHETYPE] = t_archetype,
    [IK_ARCHETYPE_TABLE] = t_table,
    [IK_POWER_CATEGORY] = t_category,
    [IK_POWERSET] = t_powerset,
    [IK_POWER] = t_power,
    [IK_ENHANCEMENT_SET] = t_set,
    [IK_TAG] = t_tag,
    [IK_EXCLUSION_GROUP] = t_group,
    [IK_RECHARGE_GROUP] = t_group,
};

const struct import_tcol *import_typed_cols(enum import_kind k)
{
	return k > 0 && k < IK_COUNT ? typed_cols[k] : NULL;
}

const char *import_typed_cast(enum import_tconv c)
{
	switch (c) {
	case TC_NUM:
		return "float8";
	case TC_INT:
	case TC_LEN:
	case TC_NKEYS:
		return "int";
	case TC_BOOL:
		return "boolean";
	case TC_TXTARR:
		return "text[]";
	default:
		return "text";
	}
}

/* The server-side twin of a conversion, over the jsonb value j (for rollback, which
 * stages documents from game.history without the importer). */
void import_typed_sql(const struct import_tcol *c, const char *j, char *buf, size_t n)
{
	switch (c->conv) {
	case TC_TXT:
		snprintf(buf, n, "game.j_txt(%s->'%s')", j, c->json);
		break;
	case TC_NUM:
		snprintf(buf, n, "game.j_num(%s->'%s')", j, c->json);
		break;
	case TC_INT:
		snprintf(buf, n, "game.j_int(%s->'%s')", j, c->json);
		break;
	case TC_BOOL:
		snprintf(buf, n, "game.j_bool(%s->'%s')", j, c->json);
		break;
	case TC_TXTARR:
		snprintf(buf, n, "game.j_txtarr(%s->'%s')", j, c->json);
		break;
	case TC_LEN:
		snprintf(buf, n, "jsonb_array_length(game.j_arr(%s->'%s'))", j, c->json);
		break;
	case TC_NKEYS:
		snprintf(buf, n,
			 "(select count(*) from jsonb_object_keys(game.j_obj(%s->'%s')))::int", j,
			 c->json);
		break;
	}
}

void import_copy_text_n(struct import_buf *b, const char *s, size_t n)
{
	import_buf_reserve(b, n * 2);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			b->p[b->n++] = '\\';
			c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
		}
		b->p[b->n++] = c;
	}
}

void import_copy_text(struct import_buf *b, const char *s)
{
	if (!s)
		import_buf_add(b, "\\N", 2);
	else
		import_copy_text_n(b, s, strlen(s));
}

/* One element of an array literal, quoted ({"a","b\"c",NULL}). */
static void arr_elem(struct import_buf *b, const char *s, size_t n)
{
	if (b->n && b->p[b->n - 1] != '{')
		import_buf_add(b, ",", 1);
	if (!s) {
		import_buf_add(b, "NULL", 4);
		return;
	}
	import_buf_reserve(b, n * 2 + 2);
	b->p[b->n++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			b->p[b->n++] = '\\';
		b->p[b->n++] = s[i];
	}
	b->p[b->n++] = '"';
}

/* A whole number below 2^53 in decimal, as printf would write it: most of the export's
 * numbers, and printf's float path was a tenth of the importer's own time. */
static int whole_text(double d, char *num, size_t n)
{
	if (!(fabs(d) < 9007199254740992.0) || d != (double)(int64_t)d || n < 24)
		return 0;
	int64_t v = (int64_t)d;
	char tmp[24];
	size_t i = 0;
	uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t o = 0;
	if (v < 0)
		num[o++] = '-';
	while (i)
		num[o++] = tmp[--i];
	num[o] = 0;
	return 1;
}

/* A value as text, or NULL for SQL null; num is scratch space for numbers. */
static const char *conv_text(enum import_tconv conv, const cJSON *v, char *num, size_t n,
			     struct import_buf *arr)
{
	switch (conv) {
	case TC_TXT:
		return cJSON_IsString(v) ? v->valuestring : NULL;
	case TC_NUM: {
		if (!cJSON_IsNumber(v))
			return NULL;
		/* jsonb's numeric has no negative zero: -0 arrives as 0 on that side */
		double d = v->valuedouble == 0 ? 0.0 : v->valuedouble;
		if (!whole_text(d, num, n))
			snprintf(num, n, "%.17g", d);
		return num;
	}
	case TC_INT:
		/* game.j_int: round half to even (PostgreSQL's float8 round), int range only */
		if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) < 2147483647.0))
			return NULL;
		if (!whole_text(rint(v->valuedouble) + 0.0, num, n)) /* + 0.0: no -0 */
			snprintf(num, n, "%.0f", rint(v->valuedouble) + 0.0);
		return num;
	case TC_BOOL:
		return cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : NULL;
	case TC_LEN:
		snprintf(num, n, "%d", cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0);
		return num;
	case TC_NKEYS:
		snprintf(num, n, "%d", cJSON_IsObject(v) ? cJSON_GetArraySize(v) : 0);
		return num;
	case TC_TXTARR: {
		if (!cJSON_IsArray(v))
			return NULL;
		arr->n = 0;
		import_buf_add(arr, "{", 1);
		const cJSON *e;
		cJSON_ArrayForEach(e, v)
		{
			const char *s = cJSON_IsString(e) ? e->valuestring : NULL;
			arr_elem(arr, s, s ? strlen(s) : 0);
		}
		import_buf_add(arr, "}", 2); /* with its NUL */
		arr->n--;
		return arr->p;
	}
	}
	return NULL;
}

/* A COPY field of a child row. */
static void put(struct import_buf *b, enum import_tconv conv, const cJSON *v,
		struct import_buf *arr)
{
	char num[64];
	import_buf_add(b, "\t", 1);
	import_copy_text(b, conv_text(conv, v, num, sizeof num, arr));
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static void child_prefix(struct import_typed *t, struct import_buf *b, const char *key, int idx)
{
	char n[32];
	import_buf_add(b, t->prefix, strlen(t->prefix));
	import_copy_text(b, key);
	snprintf(n, sizeof n, "\t%d", idx);
	import_buf_add(b, n, strlen(n));
}

static void power_children(struct import_typed *t, const cJSON *root, const char *key)
{
	const cJSON *effs = get(root, "effects");
	if (!cJSON_IsArray(effs))
		return;
	int i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, effs)
	{
		const cJSON *tpls = get(e, "templates");
		child_prefix(t, &t->effects, key, i);
		put(&t->effects, TC_NUM, get(e, "chance"), &t->arr);
		put(&t->effects, TC_NUM, get(e, "ppm"), &t->arr);
		put(&t->effects, TC_NUM, get(e, "delay"), &t->arr);
		put(&t->effects, TC_TXT, get(e, "is_pvp"), &t->arr);
		put(&t->effects, TC_TXT, get(e, "requires_expression"), &t->arr);
		put(&t->effects, TC_LEN, tpls, &t->arr);
		import_buf_add(&t->effects, "\n", 1);
		if (cJSON_IsArray(tpls)) {
			int j = 0;
			const cJSON *tp;
			cJSON_ArrayForEach(tp, tpls)
			{
				char n[32];
				child_prefix(t, &t->templates, key, i);
				snprintf(n, sizeof n, "\t%d", j++);
				import_buf_add(&t->templates, n, strlen(n));
				put(&t->templates, TC_TXTARR, get(tp, "attribs"), &t->arr);
				put(&t->templates, TC_TXT, get(tp, "type"), &t->arr);
				put(&t->templates, TC_TXT, get(tp, "application_type"), &t->arr);
				put(&t->templates, TC_TXT, get(tp, "aspect"), &t->arr);
				put(&t->templates, TC_TXT, get(tp, "target"), &t->arr);
				put(&t->templates, TC_TXT, get(tp, "table"), &t->arr);
				put(&t->templates, TC_NUM, get(tp, "scale"), &t->arr);
				put(&t->templates, TC_NUM, get(tp, "magnitude"), &t->arr);
				put(&t->templates, TC_TXT, get(tp, "duration"), &t->arr);
				import_buf_add(&t->templates, "\n", 1);
			}
		}
		i++;
	}
}

static void be32(struct import_buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	import_buf_add(b, x, 4);
}

void import_typed_rows(enum import_kind kind, const cJSON *root, const char *key,
		       struct import_typed *t)
{
	const struct import_tcol *cols = import_typed_cols(kind);
	t->f.n = 0;
	if (!cols)
		return;
	/* f in COPY's binary array format: dimensions, null flag, element type (text), size
	 * and lower bound, then each element's length (-1: null) and bytes */
	int n = 0;
	while (cols[n].json)
		n++;
	be32(&t->f, 1);
	size_t nullflag = t->f.n;
	be32(&t->f, 0);
	be32(&t->f, 25); /* text */
	be32(&t->f, (uint32_t)n);
	be32(&t->f, 1);
	for (const struct import_tcol *c = cols; c->json; c++) {
		char num[64];
		const char *v = conv_text(c->conv, get(root, c->json), num, sizeof num, &t->arr);
		if (!v) {
			be32(&t->f, UINT32_MAX);
			t->f.p[nullflag + 3] = 1;
			continue;
		}
		size_t l = strlen(v);
		be32(&t->f, (uint32_t)l);
		import_buf_add(&t->f, v, l);
	}
	if (kind == IK_POWER)
		power_children(t, root, key);
}

void import_typed_free(struct import_typed *t)
{
	import_buf_free(&t->f);
	import_buf_free(&t->effects);
	import_buf_free(&t->templates);
	import_buf_free(&t->arr);
}
