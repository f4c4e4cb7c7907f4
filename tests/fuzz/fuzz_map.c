/* libFuzzer target: the export mapper (one file's JSON to a COPY row), import_map_file.
 * Input: the export-relative path on the first line, then the file's bytes. The path picks
 * the entity kind through import_classify, as the scan does; a path with no place in the
 * layout picks a kind from its length, so every mapper stays reachable. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

static void on_error(void *ctx, const char *path, const char *json_path, const char *code,
		     const char *msg)
{
	(void)path;
	/* Touch every byte of the strings so ASan sees a bad one. */
	*(size_t *)ctx += strlen(code) + strlen(msg) + strlen(json_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
	size_t plen = nl ? (size_t)(nl - data) : 0;
	char rel[301];
	memcpy(rel, data, plen);
	rel[plen] = 0;
	if (strlen(rel) != plen)
		return 0; /* paths come from readdir: no NUL inside */
	const uint8_t *body = nl ? nl + 1 : data;
	size_t blen = size - (size_t)(body - data);

	char key[IMPORT_MAX_KEY + 1] = "", why[256];
	enum import_kind k = import_classify(rel, key, sizeof key, why, sizeof why);
	if (k == IK_UNKNOWN)
		k = (enum import_kind)(1 + plen % (IK_COUNT - 1));
	/* Exactly what import_read_file hands the mapper: a heap buffer of the file's size
	 * plus a NUL, so ASan catches any read past it. (Without the NUL, the "invalid JSON near"
	 * message of import_map_file reads up to 20 bytes past len; reported to import.) */
	char *text = malloc(blen + 1);
	if (!text)
		return 0;
	memcpy(text, body, blen);
	text[blen] = 0;
	struct import_buf copy = {0};
	size_t seen = 0;
	int nerr = import_map_file(k, rel, text, blen, key, sizeof key, &copy, on_error, &seen);
	if (nerr == 0 && copy.n) {
		/* A staged row is one COPY line: no raw newline, tab or NUL may end it early. */
		if (memchr(copy.p, '\n', copy.n) || memchr(copy.p, '\t', copy.n) ||
		    memchr(copy.p, 0, copy.n))
			abort();
		/* The minified, key-ordered copy is what gets stored: it must be the same JSON
		 * value as the file (object members in any order). */
		cJSON *a = cJSON_ParseWithLength(text, blen),
		      *b = cJSON_ParseWithLength(copy.p, copy.n);
		if (!a || !b || !cJSON_Compare(a, b, 1))
			abort();
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
	import_buf_free(&copy);
	free(text);
	return 0;
}
