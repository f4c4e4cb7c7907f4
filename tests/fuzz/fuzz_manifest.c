/* libFuzzer target: a backup's manifest.json, the untrusted input backup_manifest_parse
 * checks (include/backup.h). Input: the manifest's bytes, its folder named by its own "id"
 * (else a full backup's); input that does not begin with '{' names the folder on its first
 * line instead, so ids that disagree with their folder stay reachable. What it accepts must
 * keep the promises the restores rely on: an LSN, ids and WAL names by their grammar, plain
 * paths, epochs not after "now". */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"

/* 2026-01-01T00:00:00Z: a fixed "now", so a run is reproducible. */
#define FUZZ_NOW 1767225600

static int fm_plain_path(const char *p)
{
	if (!p[0] || p[0] == '/')
		return 0;
	for (const char *s = p;;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && !strncmp(s, "..", 2)))
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char folder[128] = "20250301T020000Z-full";
	const char *text = (const char *)data;
	size_t len = size;
	if (size && data[0] != '{') {
		const uint8_t *nl = memchr(data, '\n', size < 100 ? size : 100);
		size_t fl = nl ? (size_t)(nl - data) : 0;
		if (!nl || memchr(data, 0, fl))
			return 0; /* folder names come from readdir: no NUL inside */
		memcpy(folder, data, fl);
		folder[fl] = 0;
		text = (const char *)nl + 1;
		len = size - fl - 1;
	} else {
		cJSON *j = cJSON_ParseWithLength(text, len);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
		if (cJSON_IsString(id) && strlen(id->valuestring) < sizeof folder &&
		    backup_id_parse(id->valuestring, NULL, NULL) == 0)
			strcpy(folder, id->valuestring);
		cJSON_Delete(j);
	}
	/* Exactly what backup_manifest_read hands over: a heap buffer of the file's size, so
	 * ASan catches a read past it (no NUL after it is promised). */
	char *buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, text, len);
	struct backup_manifest m;
	char err[1024];
	if (backup_manifest_parse(folder, buf, len, FUZZ_NOW, &m, err, sizeof err) == 0) {
		if (strcmp(m.id, folder) || (m.stop_lsn[0] && !backup_lsn_valid(m.stop_lsn)) ||
		    (m.start_lsn[0] && !backup_lsn_valid(m.start_lsn)) ||
		    (m.base[0] && backup_id_parse(m.base, NULL, NULL) < 0) ||
		    (m.type == BT_INCREMENTAL && (!m.base[0] || !m.stop_lsn[0])) ||
		    (m.wal_first[0] && !backup_is_wal_segment(m.wal_first)) ||
		    (m.wal_last[0] && !backup_is_wal_segment(m.wal_last)) ||
		    m.stop > FUZZ_NOW + 300 || m.stop < m.start || !m.json)
			abort();
		for (const char *s = m.database; *s; s++)
			if ((unsigned char)*s < 0x20)
				abort();
		const cJSON *f;
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(m.json, "files"))
		{
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
			if (!cJSON_IsString(p) || !fm_plain_path(p->valuestring))
				abort();
		}
		backup_manifest_free(&m);
	} else if (!err[0] || strchr(err, '\n')) {
		abort(); /* refused: always with a reason, on one line */
	}
	free(buf);
	return 0;
}
