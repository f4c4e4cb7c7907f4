/* Mappers: where a file belongs in the layout, and whether its text is a record the
 * database will take. Pure code (no database), so unit tests and export-validate use it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util.h"
#include "import.h"
#include "import_int.h"

static const struct {
	const char *name, *table;
} kinds[IK_COUNT] = {
    [IK_UNKNOWN] = {"unknown", NULL},
    [IK_DOCUMENT] = {"document", "documents"},
    [IK_ARCHETYPE] = {"archetype", "archetypes"},
    [IK_ARCHETYPE_TABLE] = {"archetype_table", "archetype_tables"},
    [IK_POWER_CATEGORY] = {"power_category", "power_categories"},
    [IK_POWERSET] = {"powerset", "powersets"},
    [IK_POWER] = {"power", "powers"},
    [IK_ENHANCEMENT_SET] = {"enhancement_set", "enhancement_sets"},
    [IK_TAG] = {"tag", "tags"},
    [IK_EXCLUSION_GROUP] = {"exclusion_group", "exclusion_groups"},
    [IK_RECHARGE_GROUP] = {"recharge_group", "recharge_groups"},
};

const char *import_kind_name(enum import_kind k)
{
	return k > 0 && k < IK_COUNT ? kinds[k].name : "unknown";
}

const char *import_kind_table(enum import_kind k)
{
	return k > 0 && k < IK_COUNT ? kinds[k].table : NULL;
}

enum import_kind import_kind_from_name(const char *name)
{
	for (int k = 1; k < IK_COUNT; k++)
		if (strcmp(kinds[k].name, name) == 0)
			return (enum import_kind)k;
	return IK_UNKNOWN;
}

void import_buf_reserve(struct import_buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->n + more)
		cap *= 2;
	char *p = xrealloc(b->p, cap);
	b->p = p;
	b->cap = cap;
}

void import_buf_add(struct import_buf *b, const void *s, size_t n)
{
	import_buf_reserve(b, n);
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

void import_buf_free(struct import_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* Read the file open on fd (closed here). */
static int read_fd(int fd, struct import_buf *buf, size_t *len)
{
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = errno;
		close(fd);
		errno = S_ISREG(st.st_mode) ? e : EISDIR;
		return -1;
	}
	/* The largest file of the real export is 1.5 MB; a file this size is not an export
	 * record, and reading it whole would let one bad file exhaust memory. */
	if (st.st_size > IMPORT_MAX_FILE) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	buf->n = 0;
	import_buf_reserve(buf, (size_t)st.st_size + 1);
	size_t got = 0;
	for (;;) {
		/* One read() for the common case; loop only if the file grew or read short. */
		import_buf_reserve(buf, 4096 + 1);
		ssize_t r = read(fd, buf->p + got, buf->cap - got - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		buf->n = got;
	}
	close(fd);
	buf->p[got] = 0;
	buf->n = got;
	*len = got;
	return 0;
}

int import_read_file(const char *path, struct import_buf *buf, size_t *len)
{
	return read_fd(open(path, O_RDONLY | O_CLOEXEC), buf, len);
}

int import_read_file_in(int rootfd, const char *rel, struct import_buf *buf, size_t *len)
{
	/* O_NONBLOCK: a FIFO put in a file's place does not hang the open (read_fd refuses
	 * it); regular files read as without it. */
	return read_fd(import_open_in(rootfd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK), buf, len);
}

/* Length of the UTF-8 character at s (at most n bytes) that is printable text, or 0:
 * invalid, overlong, a surrogate, beyond U+10FFFF, or a C1 control (U+0080..U+009F). */
static size_t printable_utf8(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	if (c < 0xC2 || c > 0xF4 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xC2 && s[1] < 0xA0) || (c == 0xE0 && s[1] < 0xA0) ||
	    (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
		return 0;
	return len;
}

size_t import_printable(char *out, size_t outlen, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;
	if (!outlen)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t l = u[i] >= 0x20 && u[i] < 0x7F ? 1
			   : u[i] >= 0x80	       ? printable_utf8(u + i, n - i)
						       : 0;
		if (l) {
			if (o + l >= outlen)
				break;
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		if (o + 4 >= outlen)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
		i++;
	}
	out[o] = 0;
	return o;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Lower-cased copy of [s, s+n) into key. */
static void set_key(char *key, size_t keylen, const char *s, size_t n)
{
	if (n >= keylen)
		n = keylen - 1;
	for (size_t i = 0; i < n; i++)
		key[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	key[n] = 0;
}

enum import_kind import_classify(const char *rel, char *key, size_t keylen, char *why,
				 size_t whylen)
{
	const char *parts[8];
	size_t lens[8];
	int n = 0;
	key[0] = 0;
	why[0] = 0;
	for (const char *p = rel; *p && n < 8;) {
		const char *s = strchr(p, '/');
		size_t l = s ? (size_t)(s - p) : strlen(p);
		parts[n] = p;
		lens[n++] = l;
		p += l + (s ? 1 : 0);
		if (!s)
			break;
	}
	if (!ends_with(rel, ".json")) {
		snprintf(why, whylen, "not a .json file");
		return IK_UNKNOWN;
	}
	const char *last = parts[n - 1];
	size_t stem = lens[n - 1] - 5;
	int is_index = lens[n - 1] == 10 && strncmp(last, "index.json", 10) == 0;
#define DIR_IS(i, s) (lens[i] == strlen(s) && strncmp(parts[i], s, lens[i]) == 0)
	if (n == 1) {
		/* Top-level manifests: stale hints, kept whole so an export round-trips. */
		snprintf(key, keylen, "%s", rel);
		return IK_DOCUMENT;
	}
	if (n == 2) {
		if (is_index && (DIR_IS(0, "archetypes") || DIR_IS(0, "boost_sets"))) {
			snprintf(key, keylen, "%s", rel);
			return IK_DOCUMENT;
		}
		if (DIR_IS(0, "archetypes"))
			return IK_ARCHETYPE;
		if (DIR_IS(0, "tables")) {
			set_key(key, keylen, last, stem);
			return IK_ARCHETYPE_TABLE;
		}
		if (DIR_IS(0, "boost_sets"))
			return IK_ENHANCEMENT_SET;
		if (DIR_IS(0, "tags"))
			return IK_TAG;
		if (DIR_IS(0, "exclusion_groups"))
			return IK_EXCLUSION_GROUP;
		if (DIR_IS(0, "recharge_groups"))
			return IK_RECHARGE_GROUP;
	}
	if (DIR_IS(0, "powers")) {
		if (n == 3 && is_index) {
			set_key(key, keylen, parts[1], lens[1]);
			return IK_POWER_CATEGORY;
		}
		if (n == 4 && is_index) {
			/* Powers name their set "Category.Set"; the directories are those names in
			 * lower case, so the key is the directories. */
			char tmp[2 * 256 + 2];
			snprintf(tmp, sizeof tmp, "%.*s.%.*s", (int)lens[1], parts[1], (int)lens[2],
				 parts[2]);
			set_key(key, keylen, tmp, strlen(tmp));
			return IK_POWERSET;
		}
		if (n == 4)
			return IK_POWER;
		snprintf(why, whylen,
			 "unexpected depth under powers/ (expected "
			 "powers/CATEGORY/index.json, powers/CATEGORY/SET/index.json or "
			 "powers/CATEGORY/SET/POWER.json)");
		return IK_UNKNOWN;
	}
#undef DIR_IS
	snprintf(why, whylen,
		 "unknown directory '%.*s' (expected archetypes, tables, powers, "
		 "boost_sets, tags, exclusion_groups or recharge_groups)",
		 (int)lens[0], parts[0]);
	return IK_UNKNOWN;
}

/* ---- Checks ---- */

enum { T_STR = 1, T_NUM = 2, T_BOOL = 4, T_NULL = 8, T_ARR = 16, T_OBJ = 32 };

struct field {
	const char *path; /* "effects[].templates[].scale"; "[]" walks every element */
	int types;
	int required;
};

static const struct field f_archetype[] = {{"name", T_STR, 1},
					   {"display_name", T_STR | T_NULL, 0},
					   {"primary_category", T_STR | T_NULL, 0},
					   {"secondary_category", T_STR | T_NULL, 0},
					   {"is_villain", T_BOOL, 0},
					   {0}};
static const struct field f_table[] = {
    {"named_tables", T_OBJ, 1}, {"base_perception", T_NUM | T_NULL, 0}, {0}};
static const struct field f_category[] = {{"name", T_STR, 1},
					  {"display_name", T_STR | T_NULL, 0},
					  {"archetypes", T_ARR | T_NULL, 0},
					  {"archetypes[]", T_STR, 0},
					  {0}};
static const struct field f_powerset[] = {{"name", T_STR, 1},
					  {"display_name", T_STR | T_NULL, 0},
					  {"display_fullname", T_STR | T_NULL, 0},
					  {"power_names", T_ARR | T_NULL, 0},
					  {"power_names[]", T_STR, 0},
					  {0}};
static const struct field f_power[] = {{"full_name", T_STR, 1},
				       {"name", T_STR, 1},
				       {"powerset", T_STR, 1},
				       {"display_name", T_STR | T_NULL, 0},
				       {"type", T_STR | T_NULL, 0},
				       {"available_level", T_NUM | T_NULL, 0},
				       {"accuracy", T_NUM | T_NULL, 0},
				       {"endurance_cost", T_NUM | T_NULL, 0},
				       {"recharge_time", T_NUM | T_NULL, 0},
				       {"activation_time", T_NUM | T_NULL, 0},
				       {"range", T_NUM | T_NULL, 0},
				       {"radius", T_NUM | T_NULL, 0},
				       {"arc", T_NUM | T_NULL, 0},
				       {"max_targets_hit", T_NUM | T_NULL, 0},
				       {"max_boosts", T_NUM | T_NULL, 0},
				       {"effect_area", T_STR | T_NULL, 0},
				       {"target_type", T_STR | T_NULL, 0},
				       {"archetypes", T_ARR | T_NULL, 0},
				       {"effects", T_ARR | T_NULL, 0},
				       {"effects[]", T_OBJ, 0},
				       {"effects[].chance", T_NUM | T_NULL, 0},
				       {"effects[].templates", T_ARR | T_NULL, 0},
				       {"effects[].templates[]", T_OBJ, 0},
				       {"effects[].templates[].attribs", T_ARR | T_NULL, 0},
				       {"effects[].templates[].scale", T_NUM | T_NULL, 0},
				       {"effects[].templates[].magnitude", T_NUM | T_NULL, 0},
				       {0}};
static const struct field f_set[] = {{"name", T_STR, 1},
				     {"display_name", T_STR | T_NULL, 0},
				     {"group_name", T_STR | T_NULL, 0},
				     {"min_level", T_NUM | T_NULL, 0},
				     {"max_level", T_NUM | T_NULL, 0},
				     {"bonuses", T_ARR | T_NULL, 0},
				     {"bonuses[]", T_OBJ, 0},
				     {"bonuses[].min_boosts", T_NUM | T_NULL, 0},
				     {"bonuses[].auto_powers", T_ARR | T_NULL, 0},
				     {"computed", T_OBJ | T_NULL, 0},
				     {"computed.boost_infos", T_OBJ | T_NULL, 0},
				     {"computed.boost_infos[]", T_OBJ, 0},
				     {0}};
static const struct field f_tag[] = {{"tag", T_STR, 1},
				     {"bears", T_ARR | T_NULL, 0},
				     {"bears[]", T_ARR, 0},
				     {"bears[][]", T_STR | T_NULL, 0},
				     {"affects", T_ARR | T_NULL, 0},
				     {"affects[]", T_ARR, 0},
				     {"affects[][]", T_STR | T_NULL, 0},
				     {0}};
static const struct field f_group[] = {{"group", T_STR, 1},
				       {"powers", T_ARR | T_NULL, 0},
				       {"powers[]", T_ARR, 0},
				       {"powers[][]", T_STR | T_NULL, 0},
				       {0}};

static const struct field *kind_fields(enum import_kind k)
{
	switch (k) {
	case IK_ARCHETYPE:
		return f_archetype;
	case IK_ARCHETYPE_TABLE:
		return f_table;
	case IK_POWER_CATEGORY:
		return f_category;
	case IK_POWERSET:
		return f_powerset;
	case IK_POWER:
		return f_power;
	case IK_ENHANCEMENT_SET:
		return f_set;
	case IK_TAG:
		return f_tag;
	case IK_EXCLUSION_GROUP:
	case IK_RECHARGE_GROUP:
		return f_group;
	default:
		return NULL;
	}
}

const char *import_kind_key_field(enum import_kind k)
{
	switch (k) {
	case IK_ARCHETYPE:
	case IK_ENHANCEMENT_SET:
		return "name";
	case IK_POWER:
		return "full_name";
	case IK_TAG:
		return "tag";
	case IK_EXCLUSION_GROUP:
	case IK_RECHARGE_GROUP:
		return "group";
	default:
		return NULL;
	}
}

static int type_bit(const cJSON *v)
{
	if (cJSON_IsString(v))
		return T_STR;
	if (cJSON_IsNumber(v))
		return T_NUM;
	if (cJSON_IsBool(v))
		return T_BOOL;
	if (cJSON_IsNull(v))
		return T_NULL;
	if (cJSON_IsArray(v))
		return T_ARR;
	return T_OBJ;
}

static void types_text(int t, char *buf, size_t n)
{
	static const char *names[] = {"string", "number", "boolean", "null", "array", "object"};
	buf[0] = 0;
	for (int i = 0; i < 6; i++)
		if (t & (1 << i)) {
			size_t l = strlen(buf);
			snprintf(buf + l, n - l, "%s%s", l ? " or " : "", names[i]);
		}
}

struct checker {
	const char *relpath;
	import_error_fn fn;
	void *ctx;
	int nerr;
	int no_dups; /* the minifier saw every object's keys: none repeats */
};

static void report(struct checker *ck, const char *jpath, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(struct checker *ck, const char *jpath, const char *code, const char *fmt, ...)
{
	char msg[1024], esc[2048], jesc[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ck->nerr++;
	if (!ck->fn)
		return;
	/* Messages quote the file (the text near an error, keys in JSON paths): whatever its
	 * bytes, they reach terminals, logs and ops.import_errors as printable text. */
	import_printable(esc, sizeof esc, msg, strlen(msg));
	import_printable(jesc, sizeof jesc, jpath ? jpath : "", jpath ? strlen(jpath) : 0);
	ck->fn(ck->ctx, ck->relpath, jpath ? jesc : NULL, code, esc);
}

/* jp + ".key" or "[i]" at base: once per element walked, so without printf. */
static void jp_child(char *jp, size_t base, size_t jplen, const cJSON *parent, const cJSON *e,
		     int i)
{
	if (cJSON_IsObject(parent)) {
		const char *k = e->string ? e->string : "";
		size_t n = strlen(k);
		if (base + 1 + n >= jplen)
			n = jplen > base + 2 ? jplen - base - 2 : 0;
		if (base + 1 < jplen) {
			jp[base] = '.';
			memcpy(jp + base + 1, k, n);
			jp[base + 1 + n] = 0;
		}
		return;
	}
	char d[16];
	int n = 0;
	unsigned u = (unsigned)i;
	do
		d[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < 15);
	if (base + (size_t)n + 3 > jplen)
		return;
	jp[base++] = '[';
	while (n)
		jp[base++] = d[--n];
	jp[base++] = ']';
	jp[base] = 0;
}

/* Walk spec path `rest` from v (whose JSON path is jp). */
static void check_path(struct checker *ck, const cJSON *v, const char *rest, char *jp, size_t jplen,
		       const struct field *f)
{
	if (ck->nerr >= 20)
		return;
	size_t base = strlen(jp);
	if (!*rest) {
		int t = type_bit(v);
		if (!(t & f->types)) {
			char want[96], got[32];
			types_text(f->types, want, sizeof want);
			types_text(t, got, sizeof got);
			report(ck, jp, "wrong_type", "%s must be %s, found %s", jp, want, got);
		}
		return;
	}
	if (rest[0] == '[' && rest[1] == ']') {
		if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
			return; /* the container's own type is checked by its own field */
		int i = 0;
		for (const cJSON *e = v->child; e; e = e->next, i++) {
			jp_child(jp, base, jplen, v, e, i);
			check_path(ck, e, rest[2] == '.' ? rest + 3 : rest + 2, jp, jplen, f);
			jp[base] = 0;
		}
		return;
	}
	const char *end = rest + strcspn(rest, ".[");
	char name[64];
	size_t nl = (size_t)(end - rest) < sizeof name ? (size_t)(end - rest) : sizeof name - 1;
	memcpy(name, rest, nl);
	name[nl] = 0;
	if (!cJSON_IsObject(v))
		return;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, name);
	if (base + nl + 2 <= jplen) { /* ".name", as the paths in messages read */
		jp[base] = '.';
		memcpy(jp + base + 1, name, nl + 1);
	}
	if (!c) {
		if (f->required && base == 1)
			report(ck, jp, "missing_key", "required key '%s' is missing", name);
	} else {
		check_path(ck, c, *end == '.' ? end + 1 : end, jp, jplen, f);
	}
	jp[base] = 0;
}

static size_t hash_key(const char *s)
{
	size_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* A key twice in one object: parsers disagree on which value wins, and jsonb keeps the
 * last, so the record would not be what the file seems to say. */
static void check_dup_keys(struct checker *ck, const cJSON *v, char *jp)
{
	const char *small[512];
	size_t n = 0;
	for (const cJSON *e = v->child; e; e = e->next)
		n++;
	if (n < 2)
		return;
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	const char **slots = cap <= 512 ? small : xcalloc(cap, sizeof *slots);
	if (slots == small)
		memset(small, 0, cap * sizeof *small);
	for (const cJSON *e = v->child; e; e = e->next) {
		if (!e->string)
			continue;
		size_t i = hash_key(e->string) & (cap - 1);
		while (slots[i] && strcmp(slots[i], e->string) != 0)
			i = (i + 1) & (cap - 1);
		if (slots[i]) {
			report(ck, jp, "duplicate_object_key",
			       "duplicate key %s in the same object", e->string);
			break;
		}
		slots[i] = e->string;
	}
	if (slots != small)
		free(slots);
}

/* Strings longer than the limit and duplicate keys anywhere in the document. */
static void check_lengths(struct checker *ck, const cJSON *v, char *jp, size_t jplen)
{
	if (ck->nerr >= 20)
		return;
	if (cJSON_IsNumber(v)) {
		/* PostgreSQL keeps it as numeric, but a typed column could not hold it. */
		if (isinf(v->valuedouble) || isnan(v->valuedouble))
			report(ck, jp, "number_out_of_range",
			       "number out of the range of a double precision value");
		return;
	}
	if (cJSON_IsString(v)) {
		size_t l = strlen(v->valuestring);
		if (l > IMPORT_MAX_STRING)
			report(ck, jp, "too_long",
			       "value too long: string of %zu bytes exceeds the "
			       "limit of %d",
			       l, IMPORT_MAX_STRING);
		return;
	}
	if (!v->child)
		return;
	if (cJSON_IsObject(v) && !ck->no_dups)
		check_dup_keys(ck, v, jp);
	size_t base = strlen(jp);
	int i = 0;
	for (const cJSON *e = v->child; e; e = e->next, i++) {
		if (cJSON_IsString(e) && strlen(e->valuestring) <= 4096)
			continue; /* fast path: nearly every string */
		if (cJSON_IsNumber(e) && !isinf(e->valuedouble))
			continue;
		if (!cJSON_IsString(e) && !cJSON_IsNumber(e) && !e->child)
			continue;
		jp_child(jp, base, jplen, v, e, i);
		check_lengths(ck, e, jp, jplen);
		jp[base] = 0;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Line and column of a byte offset, for messages. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* One pass over the text: reject what PostgreSQL's jsonb input rejects and cJSON may let
 * through (invalid UTF-8, raw control characters in strings, \u0000, lone surrogates),
 * drop insignificant whitespace and put object members in jsonb's key order (keyorder.c).
 * Shrinking the pretty-printed export roughly halves what the server parses. */
/* Bytes a string can hold as they are (printable ASCII but the quote and the backslash),
 * and bytes of numbers and of true, false and null (cJSON checks their syntax). */
static unsigned char plain_in_string[256], scalar_char[256];

static void minify_tables(void)
{
	if (plain_in_string['a'])
		return;
	for (int c = 0x20; c < 0x80; c++)
		plain_in_string[c] = c != '"' && c != '\\';
	for (int c = 0; c < 256; c++)
		scalar_char[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				 (c >= 'A' && c <= 'Z') || c == '-' || c == '+' || c == '.';
}

/* Where a run of string bytes the minifier copies as they are ends: at a quote, a
 * backslash, a control or a non-ASCII byte. Sixteen bytes at a time where the CPU allows:
 * the byte loop was half of the minifier's time. */
static size_t string_run_end(const unsigned char *s, size_t i, size_t len)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
		      space = _mm_set1_epi8(0x20);
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
		/* signed: bytes 0x80-0xff compare below 0x20 along with the controls */
		__m128i m =
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
				 _mm_cmplt_epi8(v, space));
		int bits = _mm_movemask_epi8(m);
		if (bits)
			return i + (size_t)__builtin_ctz((unsigned)bits);
	}
#endif
	while (i < len && plain_in_string[s[i]])
		i++;
	return i;
}

/* Past the indentation: spaces and newlines. */
static size_t blank_run_end(const unsigned char *s, size_t i, size_t len)
{
#ifdef __SSE2__
	const __m128i space = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n');
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
		int blank = _mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, nl)));
		if (blank != 0xffff)
			return i + (size_t)__builtin_ctz(~(unsigned)blank);
	}
#endif
	while (i < len && (s[i] == ' ' || s[i] == '\n'))
		i++;
	return i;
}

/* Why a document was rejected: set only on the way out, never on the byte path. */
struct minify_fail {
	const char *code;
	char msg[128];
};

static int minify_failed(struct minify_fail *f, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int minify_failed(struct minify_fail *f, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	f->code = code;
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* A structural byte outside a string (c < 0x80, not blank): opens a string, an object or
 * an array, or closes one, with the key order told. 0, or -1 with f. */
static inline int minify_structural(unsigned char c, struct keyorder *ko, struct import_buf *out,
				    const char *o, int *in_str, int *depth, struct minify_fail *f)
{
	/* JSON has no other whitespace: cJSON skips any byte below 0x21 and PostgreSQL
	 * rejects them, so they end here, before they can sit between members being
	 * reordered. */
	if (c < 0x20 && c != 0)
		return minify_failed(f, "invalid_json", "control character 0x%02x outside a string",
				     c);
	if (c == '"') {
		*in_str = 1;
		if (o && keyorder_expects_key(ko))
			keyorder_key(ko, (size_t)(o - out->p));
	} else if (c == '[' || c == '{') {
		if (++*depth > IMPORT_MAX_DEPTH)
			return minify_failed(f, "too_deep", "nesting too deep (over %d levels)",
					     IMPORT_MAX_DEPTH);
		if (o)
			keyorder_open(ko, c == '{');
	} else if (c == ']' || c == '}') {
		(*depth)--;
		if (o)
			keyorder_close(ko, out->p, (size_t)(o - out->p));
	} else if (c == ',' && o) {
		keyorder_comma(ko, (size_t)(o - out->p));
	}
	if (c == 0)
		return minify_failed(f, "invalid_json", "NUL byte in the file");
	return 0;
}

/* The four hex digits of a \u escape at s, or -1. */
static inline int minify_hex4(const unsigned char *s)
{
	int v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* A \u escape at s[i] (the backslash), with the low half of a surrogate pair: copied to
 * *o when there is an output. Bytes consumed, or -1 with f. */
static inline long minify_unicode(const unsigned char *s, size_t i, size_t len, char **o,
				  struct minify_fail *f)
{
	if (i + 6 > len)
		return minify_failed(f, "truncated", "file ends inside a \\u escape");
	int v = minify_hex4(s + i + 2);
	if (v < 0)
		return minify_failed(f, "invalid_json", "bad \\u escape");
	if (v == 0)
		return minify_failed(f, "invalid_string",
				     "\\u0000 is not allowed in text (PostgreSQL rejects it)");
	size_t n = 6;
	if (v >= 0xD800 && v <= 0xDBFF) {
		int lo = i + 12 <= len && s[i + 6] == '\\' && s[i + 7] == 'u'
			     ? minify_hex4(s + i + 8)
			     : -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return minify_failed(f, "invalid_string",
					     "unpaired UTF-16 high surrogate \\u%04x", v);
		n = 12;
	} else if (v >= 0xDC00 && v <= 0xDFFF) {
		/* a low surrogate only after a high one, which takes it along */
		return minify_failed(f, "invalid_string", "unpaired UTF-16 low surrogate \\u%04x",
				     v);
	}
	if (*o) {
		memcpy(*o, s + i, n);
		*o += n;
	}
	return (long)n;
}

/* An escape inside a string at s[i] (the backslash): copied to *o when there is an
 * output. Bytes consumed, or -1 with f. */
static inline long minify_escape(const unsigned char *s, size_t i, size_t len, char **o,
				 struct minify_fail *f)
{
	if (i + 1 >= len)
		return minify_failed(f, "truncated", "file ends inside a string escape");
	if (s[i + 1] == 'u')
		return minify_unicode(s, i, len, o, f);
	if (*o) {
		*(*o)++ = '\\';
		*(*o)++ = (char)s[i + 1];
	}
	return 2;
}

/* The length of the UTF-8 multibyte sequence at s[i] (c its first byte) once checked
 * (no overlong form, no surrogate, at most U+10FFFF), or -1 with f. */
static inline int minify_utf8(const unsigned char *s, size_t i, size_t len, unsigned char c,
			      struct minify_fail *f)
{
	int n;
	unsigned int cp;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return minify_failed(f, "invalid_utf8", "invalid UTF-8 byte 0x%02x", c);
	}
	if (i + (size_t)n > len)
		return minify_failed(f, "invalid_utf8", "truncated UTF-8 sequence");
	for (int k = 1; k < n; k++) {
		if ((s[i + k] & 0xC0) != 0x80)
			return minify_failed(f, "invalid_utf8",
					     "invalid UTF-8 continuation byte 0x%02x", s[i + k]);
		cp = cp << 6 | (s[i + k] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return minify_failed(f, "invalid_utf8",
				     "invalid UTF-8 sequence (overlong or surrogate)");
	return n;
}

static int minify_copy(struct checker *ck, const char *text, size_t len, struct import_buf *out)
{
	const unsigned char *s = (const unsigned char *)text;
	minify_tables();
	if (out)
		import_buf_reserve(out, len + 2);
	char *o = out ? out->p + out->n : NULL;
	int in_str = 0, depth = 0;
	size_t i = 0;
	/* kept between documents: its arrays grow once (the importer is single-threaded) */
	static struct keyorder ko;
	keyorder_reset(&ko);
	struct minify_fail f = {0};
	while (i < len) {
		/* Most bytes need no attention: string contents, numbers and literals are
		 * copied by the run, indentation skipped by the run. */
		size_t j;
		if (in_str) {
			j = string_run_end(s, i, len);
		} else {
			i = j = blank_run_end(s, i, len);
			while (j < len && scalar_char[s[j]])
				j++;
		}
		if (j > i && o) {
			memcpy(o, s + i, j - i);
			o += j - i;
		}
		i = j;
		if (i >= len)
			break;
		unsigned char c = s[i];
		long n = 1;
		if (c >= 0x80) {
			n = minify_utf8(s, i, len, c, &f);
			if (n > 0 && o) {
				memcpy(o, s + i, (size_t)n);
				o += n;
			}
		} else if (!in_str) {
			if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
				i++;
				continue;
			}
			n = minify_structural(c, &ko, out, o, &in_str, &depth, &f) < 0 ? -1 : 1;
			if (n > 0 && o)
				*o++ = (char)c;
		} else if (c == '\\') {
			if (ko.in_key)
				keyorder_key_escaped(&ko);
			n = minify_escape(s, i, len, &o, &f);
		} else if (c < 0x20) {
			n = minify_failed(
			    &f, "invalid_json",
			    "control character 0x%02x inside a string must be escaped", c);
		} else if (c == '"') {
			in_str = 0;
			if (ko.in_key)
				keyorder_key_end(&ko, out->p, (size_t)(o - out->p));
			if (o)
				*o++ = (char)c;
		} else if (o) {
			*o++ = (char)c;
		}
		if (n < 0)
			break;
		i += (size_t)n;
	}
	if (!f.code && in_str)
		minify_failed(&f, "truncated",
			      "unexpected end of file inside a string (truncated file?)");
	else if (!f.code && depth > 0)
		minify_failed(&f, "truncated",
			      "unexpected end of file: %d unclosed object(s) or array(s) "
			      "(truncated file?)",
			      depth);
	if (f.code) {
		char where[64];
		int line, col;
		line_col(text, i, &line, &col);
		snprintf(where, sizeof where, "line %d, column %d", line, col);
		report(ck, where, f.code, "%s", f.msg);
		return -1;
	}
	if (out) {
		keyorder_finish(&ko, out->p, out->n, (size_t)(o - out->p));
		out->n = (size_t)(o - out->p);
	}
	/* Without a repeated key in any object the checker need not look for one. */
	if (o && !ko.dup && !ko.unsure)
		ck->no_dups = 1;
	return 0;
}

/* cJSON's nodes come from an arena for the one document being mapped: malloc and free
 * of every node were a fifth of the importer's time. cJSON takes allocator hooks; they
 * are set only around the parse, as the rest of the program keeps its cJSON objects, and
 * the tree is dropped with the arena instead of freed node by node. Sanitizer builds
 * keep plain malloc, so every node stays checked. */
#if defined(__SANITIZE_ADDRESS__)
#define MAP_ARENA 0
#else
#define MAP_ARENA 1
#endif

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};
static struct arena_chunk *arena;

static void *arena_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!arena || arena->used + n > arena->cap) {
		size_t cap = n > (1u << 22) ? n : (1u << 22);
		struct arena_chunk *c = xmalloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->next = arena;
		c->used = 0;
		c->cap = cap;
		arena = c;
	}
	void *p = (char *)arena->data + arena->used;
	arena->used += n;
	return p;
}

static void arena_release(void *p)
{
	(void)p;
}

/* Keep one chunk for the next document, return the rest. */
static void arena_reset(void)
{
	while (arena && arena->next) {
		struct arena_chunk *c = arena;
		arena = c->next;
		free(c);
	}
	if (arena)
		arena->used = 0;
}

static cJSON *map_parse(const char *text, size_t len, const char **end)
{
	if (!MAP_ARENA)
		return cJSON_ParseWithLengthOpts(text, len, end, 0);
	arena_reset();
	cJSON_Hooks h = {.malloc_fn = arena_alloc, .free_fn = arena_release};
	cJSON_InitHooks(&h);
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, end, 0);
	cJSON_InitHooks(NULL);
	return root;
}

static void map_free(cJSON *root)
{
	if (!MAP_ARENA)
		cJSON_Delete(root);
	else
		arena_reset();
}

int import_map_file(enum import_kind kind, const char *relpath, const char *text, size_t len,
		    char *key, size_t keylen, struct import_buf *copy, import_error_fn fn,
		    void *ctx)
{
	return import_map_file_typed(kind, relpath, text, len, key, keylen, copy, NULL, fn, ctx);
}

int import_map_file_typed(enum import_kind kind, const char *relpath, const char *text, size_t len,
			  char *key, size_t keylen, struct import_buf *copy,
			  struct import_typed *typed, import_error_fn fn, void *ctx)
{
	struct checker ck = {.relpath = relpath, .fn = fn, .ctx = ctx};
	size_t start = copy ? copy->n : 0;
	if (len == 0) {
		report(&ck, "$", "empty_file", "the file is empty");
		return ck.nerr;
	}
	/* A UTF-8 byte order mark is skipped: it is not JSON, but harmless. */
	if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
	    (unsigned char)text[2] == 0xBF) {
		text += 3;
		len -= 3;
	}
	if (minify_copy(&ck, text, len, copy) < 0) {
		if (copy)
			copy->n = start;
		return ck.nerr;
	}
	const char *end = NULL;
	cJSON *root = map_parse(text, len, &end);
	if (root && end) {
		/* Only whitespace may follow the value. */
		const char *q = end;
		while (q < text + len && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
			q++;
		if (q < text + len) {
			int line, col;
			char where[64];
			line_col(text, (size_t)(q - text), &line, &col);
			snprintf(where, sizeof where, "line %d, column %d", line, col);
			report(&ck, where, "invalid_json", "unexpected text after the JSON value");
			map_free(root);
			if (copy)
				copy->n = start;
			return ck.nerr;
		}
	}
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : len;
		/* cJSON stops where it gave up: at the very end means the file was cut short. */
		const char *p = text + off;
		while (p < text + len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
			p++;
		int line, col;
		line_col(text, off, &line, &col);
		char where[64];
		snprintf(where, sizeof where, "line %d, column %d", line, col);
		if (p >= text + len)
			report(&ck, where, "truncated",
			       "unexpected end of file: the JSON is incomplete "
			       "(truncated file?)");
		else
			/* The text need not be NUL-terminated: never read past len. */
			report(&ck, where, "invalid_json", "invalid JSON near '%.*s'",
			       (int)(len - off < 20 ? len - off : 20), text + off);
		if (copy)
			copy->n = start;
		return ck.nerr;
	}
	char jp[1024] = "$";
	if (kind != IK_DOCUMENT && !cJSON_IsObject(root)) {
		report(&ck, "$", "wrong_type", "the file must hold a JSON object");
		goto done;
	}
	const struct field *fs = kind_fields(kind);
	for (const struct field *f = fs; f && f->path; f++)
		check_path(&ck, root, f->path, jp, sizeof jp, f);
	check_lengths(&ck, root, jp, sizeof jp);
	const char *kf = import_kind_key_field(kind);
	if (!ck.nerr && kf) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, kf);
		const char *ks = cJSON_IsString(k) ? k->valuestring : "";
		size_t kl = strlen(ks);
		if (kl == 0)
			report(&ck, kf, "missing_key", "the natural key '%s' is empty", kf);
		else if (kl > IMPORT_MAX_KEY || kl >= keylen)
			report(&ck, kf, "too_long", "the natural key '%s' is %zu bytes (limit %d)",
			       kf, kl, IMPORT_MAX_KEY);
		else
			memcpy(key, ks, kl + 1);
	}
	if (!ck.nerr && !kf && !key[0])
		report(&ck, "$", "missing_key", "no natural key for this file");
	if (!ck.nerr && typed)
		import_typed_rows(kind, root, key, typed);
done:
	map_free(root);
	if (ck.nerr && copy)
		copy->n = start;
	return ck.nerr;
}
