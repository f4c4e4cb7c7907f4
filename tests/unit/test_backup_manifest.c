/* Unit tests of backup_manifest_parse: a backup's manifest.json is untrusted input. The
 * seeds of tests/fuzz/corpus/manifest/ are the cases (two valid manifests, the audit's
 * malicious ones), plus the limits: size, depth, epochs against the id and now. */
#include <cJSON.h>
#include <stdlib.h>

#include "backup.h"
#include "harness.h"

/* 2026-01-01T00:00:00Z, as in tests/fuzz/fuzz_manifest.c. */
#define NOW 1767225600

static char *seed(const char *name, size_t *len)
{
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/manifest/%s", top, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[1 << 16];
	*len = fread(buf, 1, sizeof buf - 1, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

/* Parse seed name as the folder's manifest; 0 when accepted, err otherwise. */
static int parse(const char *folder, const char *name, char *err, size_t errlen,
		 struct backup_manifest *m)
{
	size_t len = 0;
	char *t = seed(name, &len);
	if (!t) {
		snprintf(err, errlen, "no seed %s", name);
		return -2;
	}
	err[0] = 0;
	return backup_manifest_parse(folder, t, len, NOW, m, err, errlen);
}

static void refused(const char *folder, const char *name, const char *want, const char *label)
{
	struct backup_manifest m;
	char err[1024];
	int rc = parse(folder, name, err, sizeof err, &m);
	CHECK(rc == -1, label);
	CHECK_CONTAINS(err, want, label);
	CHECK(!strchr(err, '\n'), "the reason is one line");
	if (rc == 0)
		backup_manifest_free(&m);
}

int main(void)
{
	struct backup_manifest m;
	char err[1024];
	const char *full = "20250301T020000Z-full", *inc = "20250302T020000Z-incremental";

	CHECK(parse(full, "valid-full.json", err, sizeof err, &m) == 0, "a full backup's manifest");
	CHECK_STR(err, "", "accepted without a message");
	CHECK(m.type == BT_FULL && m.timeline == 1 && m.wal_segment_size == 16777216,
	      "typed fields");
	CHECK_STR(m.stop_lsn, "0/2000138", "stop_lsn");
	CHECK(m.stop == 1740794404 && m.start == 1740794400, "epochs");
	backup_manifest_free(&m);
	CHECK(parse(inc, "valid-incremental.json", err, sizeof err, &m) == 0,
	      "an incremental's manifest");
	CHECK_STR(m.base, full, "its base");
	backup_manifest_free(&m);

	refused(inc, "stop-lsn-injection.json",
		"manifest.json of backup 20250302T020000Z-incremental: stop_lsn '0/0\\'\\nrestore",
		"stop_lsn with recovery settings in it is not an LSN");
	refused(inc, "stop-lsn-injection.json", "is not an LSN", "and says so");
	refused(inc, "base-traversal.json", "base '../../../outside' is not the id of a full",
		"base as a path out of the repository");
	refused(full, "file-path-traversal.json",
		"files[0].path 'base/../../etc/passwd' is not a plain path",
		"a file path out of the backup's folder");
	refused(full, "forged-epoch-future.json", "stop_epoch", "an epoch in the future");
	refused(full, "deep-nesting.json", "nested deeper than 16 levels", "deep nesting");
	refused("20250301T020001Z-full", "valid-full.json", "id '20250301T020000Z-full' is not",
		"an id that is not its folder's name");
	refused("../x", "valid-full.json", "is not named YYYYMMDDTHHMMSSZ-TYPE",
		"a folder that is not a backup id");

	/* Epochs must agree with the id: a forged past start, a stop before the start. */
	static const struct {
		const char *json, *want, *label;
	} epochs[] = {
	    {"{\"type\":\"full\",\"start_epoch\":1000000000,\"stop_epoch\":1740794401}",
	     "start_epoch '1000000000.000' does not match", "a start far from the id's time"},
	    {"{\"type\":\"full\",\"start_epoch\":1740794400,\"stop_epoch\":1740794300}",
	     "is before start_epoch", "a stop before the start"},
	    {"{\"type\":\"full\",\"start_epoch\":1740794400,\"stop_epoch\":1e300}", "out of range",
	     "an absurd stop"},
	    {"{\"type\":\"full\",\"start_epoch\":1740794400}", "stop_epoch is missing", "no stop"},
	    {"{\"type\":\"archive\",\"start_epoch\":1740794400,\"stop_epoch\":1740794401}",
	     "type 'archive' is not the type its folder is named for",
	     "a type that is not its folder's"},
	    {"{\"type\":\"full\",\"start_epoch\":1740794400,\"stop_epoch\":1740794401,"
	     "\"timeline\":-1}",
	     "timeline", "a negative timeline"},
	    {"{\"type\":\"full\",\"start_epoch\":1740794400,\"stop_epoch\":1740794401,"
	     "\"wal_segment_size\":3000000}",
	     "wal_segment_size", "a segment size that is no power of two"},
	    {"{\"type\":\"full\",\"start_epoch\":1740794400,\"stop_epoch\":1740794401,"
	     "\"database\":\"a\\nb\"}",
	     "database 'a\\nb' is not printable", "a database name with a line break"},
	};
	for (size_t i = 0; i < sizeof epochs / sizeof epochs[0]; i++) {
		err[0] = 0;
		int rc = backup_manifest_parse(full, epochs[i].json, strlen(epochs[i].json), NOW,
					       &m, err, sizeof err);
		CHECK(rc == -1, epochs[i].label);
		CHECK_CONTAINS(err, epochs[i].want, epochs[i].label);
	}
	/* A folder named in the future is refused with its epochs. */
	const char *future = "{\"type\":\"full\",\"start_epoch\":1893456000,\"stop_epoch\":"
			     "1893456001}";
	CHECK(backup_manifest_parse("20300101T000000Z-full", future, strlen(future), NOW, &m, err,
				    sizeof err) == -1,
	      "a backup from 2030 read in 2026");

	/* Size: refused before anything is parsed. */
	size_t big = BACKUP_MANIFEST_MAX + 1;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	CHECK(backup_manifest_parse(full, huge, big, NOW, &m, err, sizeof err) == -1,
	      "a manifest over 16 MiB");
	CHECK_CONTAINS(err, "more than the limit of 16 MiB", "the size limit is named");
	free(huge);

	CHECK(backup_lsn_valid("0/0") && backup_lsn_valid("FFFFFFFF/FFFFFFFF") &&
		  !backup_lsn_valid("0/") && !backup_lsn_valid("1FFFFFFFF/0") &&
		  !backup_lsn_valid("0/0'") && !backup_lsn_valid("a/1"),
	      "the LSN grammar");
	time_t w;
	enum backup_type t;
	CHECK(backup_id_parse("20250231T000000Z-full", &t, &w) == -1, "February 31st is no id");
	CHECK(backup_id_parse("20250228T235959Z-safety", &t, &w) == 0 && t == BT_SAFETY,
	      "an id's type");
	HARNESS_END();
}
