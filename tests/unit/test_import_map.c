/* Mappers and helpers of the import engine, on small fixtures and the bad-input corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "import.h"
#include "sha256.h"

struct errs {
	int n;
	char code[64], jpath[256], msg[1024];
};

static void collect(void *ctx, const char *path, const char *json_path, const char *code,
		    const char *msg)
{
	(void)path;
	struct errs *e = ctx;
	if (!e->n++) {
		snprintf(e->code, sizeof e->code, "%s", code);
		snprintf(e->jpath, sizeof e->jpath, "%s", json_path ? json_path : "");
		snprintf(e->msg, sizeof e->msg, "%s", msg);
	}
}

static int map(enum import_kind k, const char *text, char *key, struct import_buf *copy,
	       struct errs *e)
{
	memset(e, 0, sizeof *e);
	return import_map_file(k, "x.json", text, strlen(text), key, IMPORT_MAX_KEY + 1, copy,
			       collect, e);
}

static const char power[] =
    "{\n  \"full_name\": \"Cat.Set.Zap\",\n  \"name\": \"Zap\",\n  \"powerset\": \"Cat.Set\",\n"
    "  \"accuracy\": 1.05,\n  \"display_help\": \"a \\\\ b \\u00e9 \\\"q\\\"\",\n"
    "  \"effects\": [{\"chance\": 1, \"templates\": [{\"scale\": 0.5, \"attribs\": "
    "[\"x\"]}]}]\n}\n";

/* The binary text[] of typed columns as "a|b|NULL", after checking its header. */
static const char *render_f(const struct import_buf *f, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)f->p;
	size_t at = 20, w = 0;
#define BE32(q) ((uint32_t)(q)[0] << 24 | (uint32_t)(q)[1] << 16 | (uint32_t)(q)[2] << 8 | (q)[3])
	if (f->n < 20 || BE32(p) != 1 || BE32(p + 8) != 25 || BE32(p + 16) != 1)
		return "bad header";
	uint32_t count = BE32(p + 12);
	out[0] = 0;
	for (uint32_t i = 0; i < count && at + 4 <= f->n; i++) {
		uint32_t l = BE32(p + at);
		at += 4;
		const char *v = l == UINT32_MAX ? "NULL" : NULL;
		w += (size_t)snprintf(out + w, n - w, "%s%.*s", i ? "|" : "", v ? 4 : (int)l,
				      v ? v : (const char *)p + at);
		if (!v)
			at += l;
	}
#undef BE32
	return at == f->n ? out : "bad length";
}

static int map_bad(const char *dir, const char *rel, struct errs *e)
{
	char path[4096], key[IMPORT_MAX_KEY + 1] = "", why[256];
	snprintf(path, sizeof path, "tests/data/bad/%s/%s", dir, rel);
	struct import_buf b = {0};
	size_t len;
	memset(e, 0, sizeof *e);
	if (import_read_file(path, &b, &len) < 0)
		return -1;
	enum import_kind k = import_classify(rel, key, sizeof key, why, sizeof why);
	int n = import_map_file(k, rel, b.p, len, key, sizeof key, NULL, collect, e);
	import_buf_free(&b);
	return n;
}

int main(void)
{
	char key[IMPORT_MAX_KEY + 1], why[256], hex[65];
	struct errs e;
	struct import_buf copy = {0};

	/* sha256 known answers */
	sha256_buf("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "sha256 empty");
	sha256_buf("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "sha256 abc");
	char big[1000];
	memset(big, 'a', sizeof big);
	struct sha256_ctx s;
	sha256_init(&s);
	for (int i = 0; i < 1000; i++)
		sha256_update(&s, big, 1000); /* a million 'a', fed in odd pieces */
	sha256_hex(&s, hex);
	CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		  "sha256 1M a");

	/* classification by path */
	CHECK(import_classify("powers/cat/set/zap.json", key, sizeof key, why, sizeof why) ==
		  IK_POWER,
	      "power path");
	CHECK(import_classify("powers/Cat/Set/index.json", key, sizeof key, why, sizeof why) ==
		  IK_POWERSET,
	      "powerset path");
	CHECK_STR(key, "cat.set", "powerset key from directories, lower case");
	CHECK(import_classify("powers/cat/index.json", key, sizeof key, why, sizeof why) ==
		  IK_POWER_CATEGORY,
	      "category path");
	CHECK(import_classify("tables/blaster.json", key, sizeof key, why, sizeof why) ==
		  IK_ARCHETYPE_TABLE,
	      "table path");
	CHECK_STR(key, "blaster", "table key from file name");
	CHECK(import_classify("archetypes/index.json", key, sizeof key, why, sizeof why) ==
		  IK_DOCUMENT,
	      "archetype index is a document");
	CHECK(import_classify("manifest.json", key, sizeof key, why, sizeof why) == IK_DOCUMENT,
	      "manifest is a document");
	CHECK(import_classify("tags/50% chance of x.json", key, sizeof key, why, sizeof why) ==
		  IK_TAG,
	      "tag with spaces and %");
	CHECK(import_classify("widgets/sprocket.json", key, sizeof key, why, sizeof why) ==
		  IK_UNKNOWN,
	      "unknown directory");
	CHECK_CONTAINS(why, "unknown directory 'widgets'", "unknown directory named");
	CHECK(import_classify("powers/a/b/c/d.json", key, sizeof key, why, sizeof why) ==
		  IK_UNKNOWN,
	      "too deep under powers");
	CHECK(import_classify("tags/readme.txt", key, sizeof key, why, sizeof why) == IK_UNKNOWN,
	      "not json");
	CHECK(import_kind_from_name("enhancement_set") == IK_ENHANCEMENT_SET, "kind from name");
	CHECK_STR(import_kind_table(IK_POWER), "powers", "kind table");

	/* a good power: key, minified COPY text with backslashes doubled */
	key[0] = 0;
	CHECK(map(IK_POWER, power, key, &copy, &e) == 0, "good power maps");
	CHECK_STR(key, "Cat.Set.Zap", "power key is full_name");
	copy.p[copy.n] = 0;
	CHECK(strchr(copy.p, '\n') == NULL && strstr(copy.p, "\"name\":\"Zap\""),
	      "whitespace dropped");
	CHECK_CONTAINS(copy.p, "a \\\\ b \\u00e9", "escapes kept as they are");

	/* members in jsonb's key order (shorter keys first, then bytewise), nested too */
	copy.n = 0;
	CHECK(map(IK_DOCUMENT,
		  "{\"bb\": 1, \"a\": {\"zz\": [{\"y\": 2, \"x\": 3}], \"c\": 4}, "
		  "\"ab\": 5}",
		  key, &copy, &e) == 0,
	      "a document maps");
	copy.p[copy.n] = 0;
	CHECK_STR(copy.p, "{\"a\":{\"c\":4,\"zz\":[{\"x\":3,\"y\":2}]},\"ab\":5,\"bb\":1}",
		  "object members reordered into jsonb key order");
	copy.n = 0;
	CHECK(map(IK_DOCUMENT, "{\"b\\u0041\": 1, \"a\": 2}", key, &copy, &e) == 0,
	      "escaped keys map");
	copy.p[copy.n] = 0;
	CHECK_STR(copy.p, "{\"b\\u0041\":1,\"a\":2}",
		  "an object with an escaped key is left in its order (the server sorts it)");

	/* found in review: a control byte between members shifted the reordered text */
	copy.n = 0;
	CHECK(map(IK_DOCUMENT, "{\"b\":1,\x0c\"a\":2}", key, &copy, &e) == 1 &&
		  strcmp(e.code, "invalid_json") == 0 &&
		  strstr(e.msg, "control character 0x0c outside a string"),
	      "a control byte outside a string is one clear error");
	{
		/* keys too long for the sort key's length field, and a wide object (qsort) */
		size_t lb = 65535, la = 70000, nw = 3000;
		char *doc = malloc(lb + la + nw * 16 + 64), *p = doc;
		p += sprintf(p, "{\"");
		memset(p, 'b', lb), p += lb;
		p += sprintf(p, "\": 1, \"");
		memset(p, 'a', la), p += la;
		p += sprintf(p, "\": {");
		for (size_t i = nw; i > 0; i--)
			p += sprintf(p, "%s\"k%zu\": %zu", i < nw ? ", " : "", i, i);
		p += sprintf(p, "}}");
		copy.n = 0;
		CHECK(map(IK_DOCUMENT, doc, key, &copy, &e) == 0, "a document with long keys maps");
		import_buf_reserve(&copy, 1);
		copy.p[copy.n] = 0;
		CHECK(strncmp(copy.p, "{\"bbbb", 6) == 0,
		      "a 65535-byte key goes before a 70000-byte one");
		char *inner = strchr(copy.p + 1 + lb + la, '{');
		CHECK(inner && strncmp(inner, "{\"k1\":1,\"k2\":2,", 15) == 0 &&
			  strstr(inner, "\"k9\":9,\"k10\":10,") &&
			  strstr(inner, "\"k2999\":2999,\"k3000\":3000}"),
		      "a wide object's 3000 members in jsonb key order");
		free(doc);
	}

	copy.n = 0;
	CHECK(map(IK_DOCUMENT, "{\"a\": {\"xy\": 1, \"b\": 2, \"xy\": 3}}", key, &copy, &e) == 1 &&
		  strcmp(e.code, "duplicate_object_key") == 0 && strcmp(e.jpath, "$.a") == 0,
	      "a key repeated apart from itself in a nested object is found");

	/* typed rows: the typed columns as one text[] field, and a power's children */
	struct import_typed ty = {.prefix = "7\t"};
	static const char typed_power[] =
	    "{\"full_name\": \"Cat.Set.Zap\", \"name\": \"Z\\\"a\\\\p\", \"powerset\": "
	    "\"Cat.Set\", "
	    "\"available_level\": 2.5, \"accuracy\": -0, \"range\": 0.1, "
	    "\"archetypes\": [\"Blaster\", 3, null], \"effects\": [{\"chance\": 0.25, \"ppm\": "
	    "\"x\", "
	    "\"is_pvp\": \"EXCLUSIVE\", \"templates\": [{\"attribs\": [\"Dmg\"], \"table\": "
	    "\"Melee\", \"scale\": 1e2}, {}]}, {\"templates\": null}]}";
	memset(&e, 0, sizeof e);
	key[0] = 0;
	CHECK(import_map_file_typed(IK_POWER, "x.json", typed_power, strlen(typed_power), key,
				    sizeof key, NULL, &ty, collect, &e) == 0,
	      "typed power maps");
	char fbuf[1024];
	CHECK_STR(render_f(&ty.f, fbuf, sizeof fbuf),
		  "Cat.Set.Zap|Z\"a\\p|NULL|Cat.Set|NULL|2|0|NULL|NULL|NULL|0.10000000000000001|"
		  "NULL|NULL|NULL|NULL|NULL|NULL|{\"Blaster\",NULL,NULL}|2",
		  "typed columns: half to even, no negative zero, wrong types null");
	import_buf_add(&ty.effects, "", 1);
	CHECK_STR(ty.effects.p,
		  "7\tCat.Set.Zap\t0\t0.25\t\\N\t\\N\tEXCLUSIVE\t\\N\t2\n"
		  "7\tCat.Set.Zap\t1\t\\N\t\\N\t\\N\t\\N\t\\N\t0\n",
		  "effect rows");
	import_buf_add(&ty.templates, "", 1);
	CHECK_STR(ty.templates.p,
		  "7\tCat.Set.Zap\t0\t0\t{\"Dmg\"}\t\\N\t\\N\t\\N\t\\N\tMelee\t100\t\\N\t\\N\n"
		  "7\tCat.Set.Zap\t0\t1\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n",
		  "template rows");
	import_typed_free(&ty);

	/* bad inputs */
	CHECK(map(IK_POWER, "{\"name\": \"x\", \"powerset\": \"y\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "missing_key") == 0 && strcmp(e.jpath, "$.full_name") == 0,
	      "missing natural key");
	CHECK(map(IK_POWER,
		  "{\"full_name\": \"a\", \"name\": \"x\", \"powerset\": \"y\", \"accuracy\": "
		  "\"1.05\"}",
		  key, NULL, &e) == 1 &&
		  strcmp(e.code, "wrong_type") == 0 && strcmp(e.jpath, "$.accuracy") == 0,
	      "wrong type names the field");
	CHECK_CONTAINS(e.msg, "must be number or null, found string", "wrong type message");
	CHECK(map(IK_POWER,
		  "{\"full_name\": \"a\", \"name\": \"x\", \"powerset\": \"y\", \"effects\": "
		  "[{\"templates\": [{\"scale\": true}]}]}",
		  key, NULL, &e) == 1 &&
		  strcmp(e.jpath, "$.effects[0].templates[0].scale") == 0,
	      "nested wrong type has the JSON path");
	CHECK(map(IK_POWER, "{\"full_name\": \"a\",", key, NULL, &e) == 1 &&
		  strcmp(e.code, "truncated") == 0,
	      "truncated");
	CHECK(map(IK_POWER, "{\"full_name\" \"a\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "invalid_json") == 0,
	      "invalid json");
	CHECK_CONTAINS(e.jpath, "line 1, column", "invalid json position");
	CHECK(map(IK_TAG, "{\"tag\": \"a\\u0000b\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "invalid_string") == 0,
	      "\\u0000 rejected");
	CHECK(map(IK_TAG, "{\"tag\": \"\xff\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "invalid_utf8") == 0,
	      "invalid utf-8");
	CHECK(map(IK_TAG, "{\"tag\": \"\xed\xa0\x80\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "invalid_utf8") == 0,
	      "encoded surrogate");
	CHECK(map(IK_TAG, "{\"tag\": \"\\ud800\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "invalid_string") == 0,
	      "lone surrogate escape");
	CHECK(map(IK_TAG, "{\"tag\": \"\\ud83d\\ude00\"}", key, NULL, &e) == 0,
	      "surrogate pair accepted");
	CHECK(map(IK_TAG, "{\"tag\": \"a\tb\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "invalid_json") == 0,
	      "raw tab in string");
	CHECK(map(IK_TAG, "{\"tag\": \"a\", \"tag\": \"b\"}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "duplicate_object_key") == 0,
	      "duplicate object key");
	CHECK(map(IK_TAG, "\xef\xbb\xbf{\"tag\": \"bom\"}", key, NULL, &e) == 0 &&
		  strcmp(key, "bom") == 0,
	      "UTF-8 BOM skipped");
	CHECK(map(IK_TAG, "[1, 2]", key, NULL, &e) == 1 && strcmp(e.code, "wrong_type") == 0,
	      "array where an object belongs");
	CHECK(map(IK_TAG, "{\"tag\": \"t\", \"n\": [1e999]}", key, NULL, &e) == 1 &&
		  strcmp(e.code, "number_out_of_range") == 0 && strcmp(e.jpath, "$.n[0]") == 0,
	      "number beyond double range");
	CHECK(map(IK_TAG, "", key, NULL, &e) == 1 && strcmp(e.code, "empty_file") == 0,
	      "empty file");
	CHECK(map(IK_TAG, "{\"tag\": \"a\"} x", key, NULL, &e) == 1 &&
		  strcmp(e.code, "invalid_json") == 0,
	      "trailing garbage");
	{
		/* found by fuzzing: a comma outside any container, while minifying */
		struct import_buf cp = {0};
		CHECK(map(IK_TAG, "t.,a\"amax~} x", key, &cp, &e) == 1 &&
			  strcmp(e.code, "truncated") == 0,
		      "a comma outside any container, then an open string: one clear error");
		CHECK(map(IK_TAG, "1, 2", key, &cp, &e) == 1 && strcmp(e.code, "invalid_json") == 0,
		      "a comma outside any object or array is one clear error");
		import_buf_free(&cp);
	}
	{
		char deep[2000];
		size_t n = 0;
		n += (size_t)snprintf(deep, sizeof deep, "{\"tag\": ");
		for (int i = 0; i < 300; i++)
			deep[n++] = '[';
		for (int i = 0; i < 300; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = 0;
		CHECK(map(IK_TAG, deep, key, NULL, &e) == 1 && strcmp(e.code, "too_deep") == 0,
		      "nesting too deep");
	}
	{
		size_t n = IMPORT_MAX_STRING + 64;
		char *longs = malloc(n + 64);
		int off = snprintf(longs, 64, "{\"tag\": \"t\", \"x\": \"");
		memset(longs + off, 'a', n);
		strcpy(longs + off + n, "\"}");
		CHECK(map(IK_TAG, longs, key, NULL, &e) == 1 && strcmp(e.code, "too_long") == 0 &&
			  strcmp(e.jpath, "$.x") == 0,
		      "very long string");
		CHECK_CONTAINS(e.msg, "value too long", "long string message");
		free(longs);
	}

	/* the shared bad-input corpus, when present */
	FILE *probe = fopen("tests/data/bad/README.md", "r");
	if (probe) {
		fclose(probe);
		CHECK(map_bad("invalid-json",
			      "powers/vanguard_melee/tidal_blade/build_momentum.json", &e) == 1 &&
			  strcmp(e.code, "invalid_json") == 0,
		      "corpus invalid-json");
		CHECK(map_bad("truncated", "powers/vanguard_melee/tidal_blade/riptide_cut.json",
			      &e) >= 1 &&
			  strcmp(e.code, "truncated") == 0,
		      "corpus truncated");
		CHECK(map_bad("wrong-type", "powers/vanguard_melee/tidal_blade/riptide_cut.json",
			      &e) == 1 &&
			  strcmp(e.jpath, "$.accuracy") == 0,
		      "corpus wrong-type accuracy");
		CHECK(map_bad("wrong-type", "powers/vanguard_melee/tidal_blade/index.json", &e) ==
			      1 &&
			  strcmp(e.jpath, "$.power_names") == 0,
		      "corpus wrong-type power_names");
		CHECK(map_bad("missing-key",
			      "powers/vanguard_melee/tidal_blade/build_momentum.json", &e) == 1 &&
			  strcmp(e.jpath, "$.full_name") == 0,
		      "corpus missing-key");
		CHECK(map_bad("invalid-utf8", "powers/vanguard_melee/tidal_blade/riptide_cut.json",
			      &e) == 1 &&
			  strcmp(e.code, "invalid_utf8") == 0,
		      "corpus invalid-utf8");
		CHECK(map_bad("long-string", "powers/vanguard_melee/tidal_blade/riptide_cut.json",
			      &e) == 1 &&
			  strcmp(e.code, "too_long") == 0,
		      "corpus long-string");
		CHECK(map_bad("nul-char", "powers/vanguard_melee/tidal_blade/build_momentum.json",
			      &e) == 1,
		      "corpus nul-char");
		CHECK(map_bad("deep-nesting",
			      "powers/vanguard_melee/tidal_blade/build_momentum.json", &e) == 1 &&
			  strcmp(e.code, "too_deep") == 0,
		      "corpus deep-nesting");
		CHECK(map_bad("duplicate-object-key",
			      "powers/vanguard_melee/tidal_blade/riptide_cut.json", &e) == 1 &&
			  strcmp(e.code, "duplicate_object_key") == 0,
		      "corpus duplicate-object-key");
		CHECK(map_bad("utf8-bom", "powers/vanguard_melee/tidal_blade/build_momentum.json",
			      &e) == 0,
		      "corpus utf8-bom imports");
	} else {
		printf("ok corpus skipped: tests/data/bad is absent\n");
	}
	import_buf_free(&copy);
	HARNESS_END();
}
