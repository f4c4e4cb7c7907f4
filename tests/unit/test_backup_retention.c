/* Unit tests of the backup family's pure code: retention, id resolution, SHA-256, the
 * connection environment. */
#include <stdlib.h>

#include "backup.h"
#include "db.h"
#include "harness.h"

static struct backup_info mk(const char *id, enum backup_type t, const char *base, int verified)
{
	struct backup_info b;
	memset(&b, 0, sizeof b);
	snprintf(b.id, sizeof b.id, "%s", id);
	b.type = t;
	snprintf(b.base, sizeof b.base, "%s", base ? base : "");
	b.verified = verified;
	return b;
}

static int kept(const struct backup_info *b, int n, const int *keep, const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(b[i].id, id) == 0)
			return keep[i];
	return -1;
}

static void test_retention(void)
{
	/* 10 weeks of Sundays full + daily incrementals, 14 months of archives. */
	struct backup_info b[256];
	int n = 0;
	char id[64], base[64] = "";
	for (int m = 1; m <= 14; m++) {
		snprintf(id, sizeof id, "2024%02d01T020000Z-archive", m <= 12 ? m : m - 12);
		if (m > 12)
			snprintf(id, sizeof id, "2025%02d01T020000Z-archive", m - 12);
		b[n++] = mk(id, BT_ARCHIVE, NULL, 1);
	}
	for (int w = 0; w < 10; w++) {
		snprintf(id, sizeof id, "202503%02dT020000Z-full", 1 + w * 3 > 28 ? 28 : 1 + w * 3);
		snprintf(id, sizeof id, "2025%02d%02dT020000Z-full", 3 + w / 4, 1 + (w % 4) * 7);
		/* the last full backup is unverified: the newest verified one must stay */
		b[n++] = mk(id, BT_FULL, NULL, w == 9 ? 0 : 1);
		snprintf(base, sizeof base, "%s", id);
		for (int d = 1; d <= 6; d++) {
			snprintf(id, sizeof id, "2025%02d%02dT020000Z-incremental", 3 + w / 4,
				 1 + (w % 4) * 7 + d);
			b[n++] = mk(id, BT_INCREMENTAL, base, 0);
		}
	}
	/* sort by id, as the repository loader does */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(b[j].id, b[i].id) < 0) {
				struct backup_info t = b[i];
				b[i] = b[j];
				b[j] = t;
			}
	int keep[256];
	int k = backup_retention(b, n, 7, 4, 12, keep);
	int inc = 0, full = 0, arch = 0;
	for (int i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		inc += b[i].type == BT_INCREMENTAL;
		full += b[i].type == BT_FULL;
		arch += b[i].type == BT_ARCHIVE;
	}
	CHECK(inc == 7, "retention: 7 daily incrementals kept");
	CHECK(arch == 12, "retention: 12 monthly archives kept");
	CHECK(full == 4, "retention: 4 weekly full backups kept");
	CHECK(k == 23, "retention: 23 kept in all");
	CHECK(kept(b, n, keep, "20240101T020000Z-archive") == 0,
	      "retention: oldest archive pruned");
	CHECK(kept(b, n, keep, "20240201T020000Z-archive") == 0,
	      "retention: 2nd oldest archive pruned");
	CHECK(kept(b, n, keep, "20240301T020000Z-archive") == 1,
	      "retention: 12th newest archive kept");
	CHECK(kept(b, n, keep, "20250507T020000Z-incremental") == 1,
	      "retention: 7th newest incremental kept");
	CHECK(kept(b, n, keep, "20250322T020000Z-full") == 0, "retention: old full pruned");
	CHECK(kept(b, n, keep, "20250506T020000Z-incremental") == 0,
	      "retention: the 8th newest incremental is pruned");
	CHECK(kept(b, n, keep, "20250514T020000Z-incremental") == 1,
	      "retention: the newest incremental kept");

	/* The base of a kept incremental is kept even beyond the weekly count. */
	struct backup_info c[4] = {
	    mk("20250101T000000Z-full", BT_FULL, NULL, 1),
	    mk("20250102T000000Z-incremental", BT_INCREMENTAL, "20250101T000000Z-full", 0),
	    mk("20250108T000000Z-full", BT_FULL, NULL, 0),
	    mk("20250109T000000Z-full", BT_FULL, NULL, 0)};
	int kc[4];
	backup_retention(c, 4, 7, 1, 12, kc);
	CHECK(kc[0] == 1, "retention: base of a kept incremental kept (and newest verified full)");
	CHECK(kc[2] == 0 && kc[3] == 1,
	      "retention: weekly count 1 keeps only the newest other full");

	/* Never the last verified full backup, even with weekly = 0. */
	struct backup_info d[2] = {mk("20250101T000000Z-full", BT_FULL, NULL, 1),
				   mk("20250108T000000Z-full", BT_FULL, NULL, -1)};
	int kd[2];
	backup_retention(d, 2, 0, 0, 0, kd);
	CHECK(kd[0] == 1 && kd[1] == 0, "retention: the last verified full backup is never pruned");
}

static void test_resolve(void)
{
	struct backup_info b[4] = {mk("20250119T020000Z-full", BT_FULL, NULL, 1),
				   mk("20250119T030000Z-archive", BT_ARCHIVE, NULL, 1),
				   mk("20250120T020000Z-incremental", BT_INCREMENTAL, NULL, 0),
				   mk("20250126T020000Z-full", BT_FULL, NULL, 0)};
	char err[512];
	CHECK(backup_resolve_id(b, 4, "20250119T020000Z-full", err, sizeof err) == 0,
	      "resolve: exact");
	CHECK(backup_resolve_id(b, 4, "20250120", err, sizeof err) == 2, "resolve: unique prefix");
	CHECK(backup_resolve_id(b, 4, "backup_20250119_full.sql", err, sizeof err) == 0,
	      "resolve: runbook name with date and type");
	CHECK(backup_resolve_id(b, 4, "backup_20250120_incr.sql", err, sizeof err) == 2,
	      "resolve: runbook incr name");
	CHECK(backup_resolve_id(b, 4, "2025011", err, sizeof err) < 0, "resolve: ambiguous prefix");
	CHECK_CONTAINS(err, "ambiguous", "resolve: ambiguity is said");
	CHECK(backup_resolve_id(b, 4, "20250127T020000Z-full", err, sizeof err) < 0,
	      "resolve: unknown id fails");
	CHECK_CONTAINS(err, "unknown backup id '20250127T020000Z-full'", "resolve: error names id");
	CHECK_CONTAINS(err, "20250126T020000Z-full", "resolve: error lists near matches");
	CHECK(backup_resolve_id(b, 0, "x", err, sizeof err) < 0, "resolve: empty repository");
	CHECK_CONTAINS(err, "no backups", "resolve: empty repository message");
}

static void test_sha_env(void)
{
	char hex[65];
	backup_sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "sha256: abc");
	backup_sha256_hex("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "sha256: empty");
	char **env = db_conninfo_env("host=/tmp port=5 dbname=d user=u password=s3cret", "other");
	int pw = 0, db = 0, n = 0;
	for (char **e = env; *e; e++, n++) {
		pw += strcmp(*e, "PGPASSWORD=s3cret") == 0;
		db += strcmp(*e, "PGDATABASE=other") == 0;
	}
	CHECK(pw == 1, "env: password goes to PGPASSWORD");
	CHECK(db == 1 && n == 5, "env: dbname override replaces the conninfo's");
	db_env_free(env);
	env = db_conninfo_env("postgresql://bob:pw@db.example:6543/app?sslmode=require", NULL);
	int uri = 0;
	for (char **e = env; *e; e++)
		uri += !strcmp(*e, "PGHOST=db.example") + !strcmp(*e, "PGPORT=6543") +
		       !strcmp(*e, "PGUSER=bob") + !strcmp(*e, "PGPASSWORD=pw") +
		       !strcmp(*e, "PGDATABASE=app") + !strcmp(*e, "PGSSLMODE=require");
	CHECK(uri == 6, "env: a URI conninfo");
	db_env_free(env);
	env = db_conninfo_env("", NULL);
	CHECK(env && !env[0], "env: an empty conninfo leaves libpq's own variables");
	db_env_free(env);
	CHECK(db_conninfo_env("host='unterminated", NULL) == NULL, "env: a bad conninfo is NULL");
	CHECK(backup_type_parse("incremental") == BT_INCREMENTAL, "types: parse");
	CHECK(backup_type_physical(BT_EMERGENCY) && !backup_type_physical(BT_ARCHIVE),
	      "types: physical");
}

int main(void)
{
	test_retention();
	test_resolve();
	test_sha_env();
	HARNESS_END();
}
