# Backups: full, incremental (WAL), archive, verify, prune, restores, faults.
# Part A runs against the shared private cluster (MIDSOPS_DSN) with its own repository;
# part B uses an embedded cluster of its own for the restores that stop a server.

REPO=$TEST_TMP/repo
mkdir -p "$TEST_TMP/cfg"
printf '[midsops]\nbackup_dir = %s\n' "$REPO" >"$TEST_TMP/cfg/a.conf"
MA="$MIDSOPS --config $TEST_TMP/cfg/a.conf"

"$MIDSOPS" db-create >/dev/null 2>&1
psql_q "create table if not exists builds.bk_test (id int primary key, name text, data jsonb);
        truncate builds.bk_test;
        insert into builds.bk_test select g, 'build ' || g, jsonb_build_object('n', g) from generate_series(1, 2000) g" >/dev/null
cks() { psql "$1" -XAtq -c "select count(*) || ':' || md5(string_agg(t::text, ',' order by id)) from builds.bk_test t"; }
before=$(cks "$MIDSOPS_DSN")

# A run killed with the server leaves a 'running' row and no folder; the next backup of the
# repository marks it failed, so the catalogue never shows it as under way forever.
$MA db-backup-archive >/dev/null 2>&1
psql_q "insert into ops.backups (id, type, status, pid, started_at)
        values ('19990101T000000Z-full', 'full', 'running', 999999, now())" >/dev/null
$MA db-backup-archive >/dev/null 2>&1
assert_eq "$(psql_q "select status from ops.backups where id = '19990101T000000Z-full'")" failed \
	"a stale running backup row is marked failed by the next backup"

expect_exit 0 "db-backup-full on the shared cluster" $MA db-backup-full
assert_contains "$OUT" "complete" "full backup says complete"
FULL=$(ls "$REPO" | grep -- '-full$' | tail -n 1)
[ -f "$REPO/$FULL/manifest.json" ] && ok "full backup has a manifest" || fail "manifest" "none in $REPO/$FULL"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
assert m["type"]=="full" and m["system_identifier"] and m["wal_first"] and m["files"]
t=[x for x in m["tables"] if x["table"]=="builds.bk_test"][0]; assert t["rows"]==2000, t
assert all(len(f["sha256"])==64 for f in m["files"])' "$REPO/$FULL/manifest.json" \
	&& ok "manifest: identity, WAL range, file checksums, table checksums" || fail "manifest content" "see $REPO/$FULL/manifest.json"
assert_eq "$(stat -c %a "$REPO/$FULL")" 700 "backup folder is 0700"
assert_eq "$(stat -c %a "$REPO/$FULL/manifest.json")" 600 "manifest is 0600"
assert_eq "$(psql_q "select status from ops.backups where id = '$FULL'")" complete "catalogue lists the full backup as complete"

expect_exit 0 "db-backup-verify full" $MA db-backup-verify "$FULL"
expect_exit 0 "db-backup-verify --restore-test full" $MA db-backup-verify "$FULL" --restore-test
assert_contains "$OUT" "match" "restore test compares table checksums"

# Table checksums name their method. v2 (sum of hash_record_extended) is what new backups
# record; a manifest without a method (v1: md5 of the rows' text in key order, made by an
# older midsops) is still compared the way it was made.
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
assert m["tables"] and all(t.get("checksum_method") == "v2" for t in m["tables"]), m["tables"]' \
	"$REPO/$FULL/manifest.json" && ok "manifest tables name checksum method v2" || fail "checksum method" "see $REPO/$FULL/manifest.json"
cp "$REPO/$FULL/manifest.json" "$TEST_TMP/full-manifest.json"
# rewrite_tables FILE MODE: v1 (recompute the old way, no method field), tamper (one
# checksum of builds.bk_test changed) or unknown (a method this midsops does not know).
v1_sums() {
	psql "$MIDSOPS_DSN" -XAtq -F ' ' <<'SQL'
select format('select %L, count(*), coalesce(md5(string_agg(md5(t::text), %L order by %s)), md5(%L)) from %s t',
  format('%I.%I', n.nspname, c.relname), '',
  coalesce((select string_agg(format('t.%I', a.attname), ', ' order by k.ord)
    from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, ord)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
    where i.indrelid = c.oid and i.indisprimary), 't::text'), '', format('%I.%I', n.nspname, c.relname))
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname in ('builds', 'game') and c.relkind in ('r', 'p') and not c.relispartition
\gexec
SQL
}
v1_sums >"$TEST_TMP/v1.txt"
rewrite_tables() {
	python3 - "$1" "$2" "$TEST_TMP/v1.txt" <<'PY'
import json, sys
path, mode, v1 = sys.argv[1:4]
m = json.load(open(path))
old = {l.split()[0]: l.split()[1:] for l in open(v1) if l.strip()}
for t in m["tables"]:
    if mode == "v1":
        t["rows"], t["checksum"] = int(old[t["table"]][0]), old[t["table"]][1]
        t.pop("checksum_method", None)
    elif t["table"] == "builds.bk_test":
        if mode == "tamper":
            t["checksum"] = str(int(t["checksum"]) + 1)
        else:
            t["checksum_method"] = "v9"
json.dump(m, open(path, "w"), indent=1)
PY
}
rewrite_tables "$REPO/$FULL/manifest.json" tamper
expect_exit 2 "restore test fails on a changed v2 checksum" $MA db-backup-verify "$FULL" --restore-test
assert_contains "$OUT" "builds.bk_test" "the failed restore test names the table"
cp "$TEST_TMP/full-manifest.json" "$REPO/$FULL/manifest.json"
rewrite_tables "$REPO/$FULL/manifest.json" v1
expect_exit 0 "an old manifest (v1 checksums, no method) passes the restore test" $MA db-backup-verify "$FULL" --restore-test
assert_contains "$OUT" "match" "v1 checksums are compared as v1"
cp "$TEST_TMP/full-manifest.json" "$REPO/$FULL/manifest.json"
rewrite_tables "$REPO/$FULL/manifest.json" unknown
expect_exit 2 "an unknown checksum method fails the restore test" $MA db-backup-verify "$FULL" --restore-test
assert_contains "$OUT" "unknown checksum method 'v9'" "the unknown method is named"
cp "$TEST_TMP/full-manifest.json" "$REPO/$FULL/manifest.json"
expect_exit 0 "verify accepts a runbook-style name" $MA db-backup-verify "backup_$(echo "$FULL" | cut -c1-8)_full.sql"
expect_exit 1 "unknown backup id" $MA db-backup-verify 19990101T000000Z-full
assert_contains "$OUT" "unknown backup id '19990101T000000Z-full'; near matches: $FULL" "unknown id lists near matches"

expect_exit 0 "db-backup-archive" $MA db-backup-archive
ARCH=$(ls "$REPO" | grep -- '-archive$' | tail -n 1)
expect_exit 0 "verify archive (pg_restore --list, restore test)" $MA db-backup-verify "$ARCH" --restore-test
expect_exit 0 "db-restore --into a new database" $MA db-restore "$ARCH" --into bk_restored
assert_eq "$(cks "$MIDSOPS_DSN dbname=bk_restored")" "$before" "archive restored into a new database is identical"
psql_q "drop database if exists bk_restored" >/dev/null
rewrite_tables "$REPO/$ARCH/manifest.json" v1
expect_exit 0 "db-restore --into compares an old (v1) archive manifest" $MA db-restore "$ARCH" --into bk_restored_v1
assert_contains "$OUT" "checksums match the manifest" "v1 archive checksums match after a restore"
psql_q "drop database if exists bk_restored_v1" >/dev/null

expect_exit 1 "incremental without WAL archiving says what to configure" $MA db-backup-incremental
assert_contains "$OUT" "archive_command" "incremental error names archive_command"
[ -z "$(ls "$REPO" | grep partial)" ] && ok "a failed backup leaves no partial folder" || fail "partial" "$(ls "$REPO")"

expect_exit 1 "full disk is refused before starting" env MIDSOPS_BACKUP_FREE_BYTES=1000 $MA db-backup-full
assert_contains "$OUT" "not enough free disk" "disk full message"

# kill -9 during a backup: the next run removes the partial folder; earlier backups intact.
$MA db-backup-full >/dev/null 2>&1 &
bp=$!
for i in $(seq 1 50); do ls "$REPO" | grep -q partial && break; sleep 0.1; done
kill -9 $bp 2>/dev/null; wait $bp 2>/dev/null
# The lock is close-on-exec: the next run starts at once and stops what the killed one left.
for i in $(seq 1 100); do $MA emergency-backup >"$TEST_TMP/em.out" 2>&1 && break; sleep 0.3; done
expect_exit 0 "list after kill -9" $MA db-backup-list
assert_not_contains "$OUT" "partial" "list never shows a partial backup"
assert_contains "$(cat "$TEST_TMP/em.out")" "removed the partial backup" "the next run removes the partial folder"
[ -z "$(ls "$REPO" | grep partial)" ] && ok "next run removed the partial folder" || fail "partial left" "$(ls "$REPO")"
expect_exit 0 "earlier full backup still verifies" $MA db-backup-verify "$FULL"

# One byte flipped in a data file: verify fails and names the file.
# A compressed backup (the default) holds base/base.tar.zst; a plain one, the files.
if [ -f "$REPO/$FULL/base/base.tar.zst" ]; then
	victim=base/base.tar.zst
else
	victim=$(cd "$REPO/$FULL" && find base/base -type f -size +8k | head -n 1)
fi
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(100); b=f.read(1); f.seek(100); f.write(bytes([b[0]^0xff])); f.close()' "$REPO/$FULL/$victim"
expect_exit 2 "verify fails on a flipped byte" $MA db-backup-verify "$FULL"
assert_contains "$OUT" "$victim" "verify names the damaged file"
expect_exit 0 "list shows the failed verification" $MA db-backup-list
assert_contains "$OUT" "FAILED" "list marks the backup as failed verification"

# Other families' sections may warn on a test cluster; the backups section must be there.
OUT=$(env MIDSOPS_CONFIG="$TEST_TMP/cfg/a.conf" "$MIDSOPS" status --json 2>&1)
assert_contains "$OUT" '"backups"' "status json has backups"
assert_contains "$OUT" '"last_backup_age"' "status shows the last backup age"

# Retention on a crafted repository.
R2=$TEST_TMP/repo2
printf '[midsops]\nbackup_dir = %s\n[backup]\nkeep_daily = 3\nkeep_weekly = 2\nkeep_monthly = 2\n' "$R2" >"$TEST_TMP/cfg/b.conf"
python3 - "$R2" <<'PY'
import calendar, json, os, sys, time
r = sys.argv[1]
def mk(i, t, base="", verified=None):
    d = os.path.join(r, i); os.makedirs(d)
    # Epochs agree with the id: a manifest whose times do not is refused (and kept).
    e = calendar.timegm(time.strptime(i[:16], "%Y%m%dT%H%M%SZ"))
    m = {"type": t, "start_epoch": e, "stop_epoch": e + 1, "size": 1, "base": base}
    if t == "incremental":
        m["stop_lsn"] = "0/3000060"
    json.dump(m, open(d + "/manifest.json", "w"))
    if verified is not None:
        json.dump({"ok": verified}, open(d + "/verify.json", "w"))
mk("20250101T020000Z-archive", "archive"); mk("20250201T020000Z-archive", "archive"); mk("20250301T020000Z-archive", "archive")
mk("20250302T020000Z-full", "full", verified=True)
for d in range(3, 9): mk("202503%02dT020000Z-incremental" % d, "incremental", "20250302T020000Z-full")
mk("20250309T020000Z-full", "full", verified=False)
mk("20250316T020000Z-full", "full", verified=False)
for d in range(17, 19): mk("202503%02dT020000Z-incremental" % d, "incremental", "20250316T020000Z-full")
PY
PM="$MIDSOPS --config $TEST_TMP/cfg/b.conf"
expect_exit 0 "backup-prune --dry-run" $PM backup-prune --dry-run
assert_eq "$(ls "$R2" | grep -c T)" 14 "dry run deletes nothing"
expect_exit 0 "backup-prune" $PM backup-prune
kept=$(ls "$R2" | grep T | tr '\n' ' ')
assert_eq "$kept" "20250201T020000Z-archive 20250301T020000Z-archive 20250302T020000Z-full 20250308T020000Z-incremental 20250309T020000Z-full 20250316T020000Z-full 20250317T020000Z-incremental 20250318T020000Z-incremental " \
	"prune keeps 3 daily, 2 weekly, 2 monthly, the last verified full and the bases of kept incrementals"

# ---- Part B: an embedded cluster of our own: point in time, full restore, WAL gap ----
E=$TEST_TMP/emb
mkdir -p "$E"
EMB="env -u MIDSOPS_DSN XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state XDG_CONFIG_HOME=$E/config MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 7)) $MIDSOPS"
esql() { $EMB db-shell -XAtqc "$1"; }
ecks() { esql "select count(*) || ':' || md5(string_agg(t::text, ',' order by id)) from builds.bk_test t"; }
$EMB db-create >/dev/null 2>&1
esql "create table builds.bk_test (id int primary key, name text); insert into builds.bk_test select g, 'b' || g from generate_series(1, 500) g" >/dev/null
expect_exit 0 "embedded: db-backup-full (turns archiving on)" $EMB db-backup-full
assert_eq "$(esql "show archive_mode")" on "embedded: archive_mode is on"
at_full=$(ecks)
esql "update builds.bk_test set name = 'changed' where id <= 100" >/dev/null
sleep 1
T1=$(esql "select now()")
at_t1=$(ecks)
sleep 1
esql "delete from builds.bk_test where id > 400" >/dev/null
expect_exit 0 "embedded: db-backup-incremental" $EMB db-backup-incremental
INCR=$($EMB db-backup-list --json | python3 -c 'import json,sys; print([b["id"] for b in json.load(sys.stdin)["backups"] if b["type"]=="incremental"][-1])')
expect_exit 0 "embedded: verify incremental with restore test" $EMB db-backup-verify "$INCR" --restore-test
expect_exit 0 "embedded: db-restore-incremental --until T1" $EMB db-restore-incremental --until "$T1"
assert_eq "$(ecks)" "$at_t1" "point-in-time restore: builds exactly as they were at T1"
expect_exit 0 "embedded: db-restore-full" $EMB db-restore-full "$($EMB db-backup-list --json | python3 -c 'import json,sys; print([b["id"] for b in json.load(sys.stdin)["backups"] if b["type"]=="full"][-1])')"
assert_eq "$(ecks)" "$at_full" "full restore: identical to the full backup"
ls -d "$E"/data/midsops/pg.before-restore-* >/dev/null 2>&1 && ok "the previous data directory is kept aside" || fail "aside" "none"

# A missing WAL segment: verify reports the gap.
seg=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wal"][0]["name"])' "$E/data/midsops/backups/$INCR/manifest.json")
# Stored compressed by default (NAME.zst), plain with [backup] compression = none.
segf=$seg; [ -e "$E/data/midsops/backups/wal/$seg.zst" ] && segf=$seg.zst
mv "$E/data/midsops/backups/wal/$segf" "$TEST_TMP/"
expect_exit 2 "verify reports a WAL gap" $EMB db-backup-verify "$INCR"
assert_contains "$OUT" "$seg" "the gap names the missing segment"
mv "$TEST_TMP/$segf" "$E/data/midsops/backups/wal/"

# The data directories the two restores set aside: prune keeps the newest only.
olds=$(ls -d "$E"/data/midsops/pg.before-restore-* 2>/dev/null)
newest=$(echo "$olds" | tail -n 1)
assert_eq "$(echo "$olds" | wc -l)" 2 "embedded: two restores kept two old data directories"
expect_exit 0 "embedded: backup-prune --dry-run lists old data directories" $EMB backup-prune --dry-run
assert_contains "$OUT" "$(echo "$olds" | head -n 1)" "dry run names the older data directory"
assert_contains "$OUT" "old_data_directories_would_delete 1" "dry run would delete one old data directory"
assert_eq "$(ls -d "$E"/data/midsops/pg.before-restore-* | wc -l)" 2 "dry run deletes no data directory"
expect_exit 0 "embedded: backup-prune" $EMB backup-prune
assert_eq "$(ls -d "$E"/data/midsops/pg.before-restore-*)" "$newest" "prune keeps only the newest old data directory"
assert_eq "$(ecks)" "$at_full" "the running cluster is untouched by prune"
$EMB cluster stop immediate >/dev/null 2>&1
