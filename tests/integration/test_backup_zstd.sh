# Compression ([backup] compression = zstd:N | none): WAL segments as NAME.zst with the
# checksum of the compressed file, base backups as tar.zst, and a repository that holds
# both forms. An embedded cluster of its own: restores stop the server.

E=$TEST_TMP/zemb
mkdir -p "$E"
ZPORT=$((31000 + $$ % 900))
EMB="env -u MIDSOPS_DSN XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state XDG_CONFIG_HOME=$E/config MIDSOPS_PGPORT=$ZPORT $MIDSOPS"
REPO=$E/data/midsops/backups
printf '[backup]\ncompression = none\n' >"$E/none.conf"
printf '[backup]\ncompression = zstd:3\n' >"$E/zstd.conf"
NONE="$EMB --config $E/none.conf"
Z="$EMB --config $E/zstd.conf"
esql() { $EMB db-shell -XAtqc "$1"; }
cks() { esql "select count(*) || ':' || md5(string_agg(t::text, ',' order by id)) from builds.bk_z t"; }
newest() { ls "$REPO" | grep -- "-$1\$" | tail -n 1; }
add_rows() { esql "insert into builds.bk_z select g, 'r' || g, repeat('x', 200) from generate_series((select coalesce(max(id), 0) + 1 from builds.bk_z), (select coalesce(max(id), 0) + $1 from builds.bk_z)) g" >/dev/null; }

# Bad settings are configuration errors naming the key and the allowed forms.
printf '[backup]\ncompression = gzip\n' >"$E/bad.conf"
expect_exit 78 "compression = gzip is a configuration error" $EMB --config "$E/bad.conf" db-backup-list
assert_contains "$OUT" "compression wants zstd:N" "the error names the key and the allowed forms"
printf '[backup]\ncompression = zstd:99\n' >"$E/bad.conf"
expect_exit 78 "compression = zstd:99 is a configuration error" $EMB --config "$E/bad.conf" db-backup-list

$EMB db-create >/dev/null 2>&1
esql "create table builds.bk_z (id int primary key, name text, pad text)" >/dev/null
add_rows 3000

# ---- an old, uncompressed chain (compression = none) ----
expect_exit 0 "compression = none: db-backup-full" $NONE db-backup-full
OLDFULL=$(newest full)
at_oldfull=$(cks)
[ -f "$REPO/$OLDFULL/base/PG_VERSION" ] && [ ! -e "$REPO/$OLDFULL/base/base.tar.zst" ] &&
	ok "an uncompressed full backup is a plain folder" || fail "plain full" "$(ls "$REPO/$OLDFULL/base" | head)"
add_rows 500
expect_exit 0 "compression = none: db-backup-incremental" $NONE db-backup-incremental
OLDINCR=$(newest incremental)
oldseg=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wal"][-1]["name"])' "$REPO/$OLDINCR/manifest.json")
[ -f "$REPO/wal/$oldseg" ] && [ -f "$REPO/wal/$oldseg.sha256" ] && ok "compression = none archives plain segments" ||
	fail "plain segment" "$(ls "$REPO/wal" | tail -n 4)"

# ---- compressed backups in the same repository (the default) ----
expect_exit 0 "zstd: db-backup-full" $Z db-backup-full
FULL=$(newest full)
at_full=$(cks)
[ -f "$REPO/$FULL/base/base.tar.zst" ] && [ -f "$REPO/$FULL/base/pg_wal.tar.zst" ] &&
	[ ! -e "$REPO/$FULL/base/pg_wal.tar" ] && ok "a compressed full backup is base.tar.zst and pg_wal.tar.zst" ||
	fail "compressed full" "$(ls "$REPO/$FULL/base")"
assert_eq "$(stat -c %a "$REPO/$FULL/base/base.tar.zst")" 600 "base.tar.zst is 0600"
assert_contains "$(esql "show archive_command")" "--compress zstd:3" "archive_command passes the level to wal-push"
add_rows 700
sleep 1
T1=$(esql "select now()")
at_t1=$(cks)
sleep 1
esql "delete from builds.bk_z where id % 7 = 0" >/dev/null
expect_exit 0 "zstd: db-backup-incremental" $Z db-backup-incremental
add_rows 400
expect_exit 0 "zstd: a second incremental" $Z db-backup-incremental
INCR=$(newest incremental)
seg=$(python3 -c 'import json,sys
w=json.load(open(sys.argv[1]))["wal"]
z=[x["name"] for x in w if x.get("compression")=="zstd"]
print(z[-1] if z else "")' "$REPO/$INCR/manifest.json")
[ -n "$seg" ] && [ -f "$REPO/wal/$seg.zst" ] && [ ! -e "$REPO/wal/$seg" ] &&
	ok "the incremental's segments are stored as NAME.zst" || fail "zst segment" "'$seg': $(ls "$REPO/wal" | tail -n 4)"
assert_eq "$(stat -c %a "$REPO/wal/$seg.zst")" 600 "a compressed segment is 0600"
size=$(stat -c %s "$REPO/wal/$seg.zst")
[ "$size" -lt 4194304 ] && ok "a 16 MiB segment is stored in $size bytes" || fail "segment size" "$size bytes"
python3 -c 'import hashlib,sys; h=hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest()
assert open(sys.argv[1]+".sha256").read().strip()==h' "$REPO/wal/$seg.zst" &&
	ok "NAME.zst.sha256 is the SHA-256 of the compressed file" || fail "sidecar" "does not match"

# wal-fetch decompresses, and reads the older plain segments too.
expect_exit 0 "wal-fetch of a compressed segment" $EMB wal-fetch "$seg" "$E/fetched" --archive "$REPO/wal"
assert_eq "$(stat -c %s "$E/fetched")" 16777216 "it comes back as a whole 16 MiB segment"
rm -f "$E/fetched"
expect_exit 0 "wal-fetch of an old plain segment" $EMB wal-fetch "$oldseg" "$E/fetched" --archive "$REPO/wal"
cmp -s "$E/fetched" "$REPO/wal/$oldseg" && ok "the plain segment comes back unchanged" || fail "plain fetch" "differs"
rm -f "$E/fetched"

expect_exit 0 "verify a compressed full backup (extracted, pg_verifybackup)" $Z db-backup-verify "$FULL"
expect_exit 0 "verify the compressed incremental with a restore test" $Z db-backup-verify "$INCR" --restore-test
assert_contains "$OUT" "match" "the restore test compares table checksums"
expect_exit 0 "verify the old uncompressed incremental with a restore test" $Z db-backup-verify "$OLDINCR" --restore-test

# ---- a flipped byte in a compressed segment ----
cp "$REPO/wal/$seg.zst" "$E/seg.keep"
python3 -c 'import sys,os; p=sys.argv[1]; n=os.path.getsize(p); f=open(p,"r+b"); f.seek(n//2); b=f.read(1); f.seek(n//2); f.write(bytes([b[0]^0x10])); f.close()' "$REPO/wal/$seg.zst"
expect_exit 2 "verify catches a flipped byte in a compressed segment" $Z db-backup-verify "$INCR"
assert_contains "$OUT" "checksum mismatch for WAL segment $seg" "verify names the damaged segment"
OUT=$($EMB wal-fetch "$seg" "$E/fetched" --archive "$REPO/wal" 2>&1)
rc=$?
[ $rc -gt 125 ] && ok "wal-fetch refuses it with a status that ends recovery ($rc)" || fail "wal-fetch damaged" "exit $rc: $OUT"
assert_contains "$OUT" "checksum mismatch for $seg.zst" "wal-fetch names the file and the mismatch"
[ ! -e "$E/fetched" ] && ok "nothing of the damaged segment reaches the server" || fail "fetched" "written"
cp "$E/seg.keep" "$REPO/wal/$seg.zst"

# ---- restores from both forms ----
expect_exit 0 "PITR on the compressed chain: db-restore-incremental --until T1" $Z db-restore-incremental --until "$T1"
assert_eq "$(cks)" "$at_t1" "the compressed chain restores exactly to T1"
expect_exit 0 "db-restore-full of the compressed full backup" $Z db-restore-full "$FULL"
assert_eq "$(cks)" "$at_full" "exactly the rows of the compressed full backup"
# Each restore in place starts a new timeline, and restores follow the newest one: the
# older the base, the later its restore here.
expect_exit 0 "db-restore-full of the old uncompressed full backup" $Z db-restore-full "$OLDFULL"
assert_eq "$(cks)" "$at_oldfull" "exactly the rows of the old uncompressed full backup"
expect_exit 0 "a restore into another directory from the compressed full" $Z db-restore-full "$FULL" --target-dir "$E/copy"
[ -f "$E/copy/PG_VERSION" ] && [ "$(stat -c %a "$E/copy")" = 700 ] && ok "the copy is a data directory (0700)" ||
	fail "copy" "$(ls -ld "$E/copy")"

# A tar in the repository is untrusted: a member outside the folder is refused.
python3 - "$E/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    i = tarfile.TarInfo("PG_VERSION"); i.size = 3; t.addfile(i, io.BytesIO(b"15\n"))
    i = tarfile.TarInfo("../escaped"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
EOF
if command -v zstd >/dev/null 2>&1; then
	mv "$REPO/$FULL/base/base.tar.zst" "$E/base.keep"
	zstd -q "$E/evil.tar" -o "$REPO/$FULL/base/base.tar.zst"
	expect_exit 1 "a restore refuses a tar member outside the folder" $Z db-restore-full "$FULL" --target-dir "$E/copy2"
	assert_contains "$OUT" "'../escaped' is not a plain path inside the folder" "the refusal names the member and why"
	[ ! -e "$E/escaped" ] && [ ! -e "$E/copy2" ] && ok "nothing was written outside, and the copy is gone" ||
		fail "escape" "$(ls "$E")"
	mv -f "$E/base.keep" "$REPO/$FULL/base/base.tar.zst"
else
	skip "tar with ../" "the zstd program is not installed"
fi

# A flipped byte in base.tar.zst: verify names the file, a restore refuses it.
cp "$REPO/$FULL/base/base.tar.zst" "$E/base.keep"
python3 -c 'import sys,os; p=sys.argv[1]; n=os.path.getsize(p)//2; f=open(p,"r+b"); f.seek(n); b=f.read(1); f.seek(n); f.write(bytes([b[0]^0x10])); f.close()' "$REPO/$FULL/base/base.tar.zst"
expect_exit 2 "verify catches a flipped byte in base.tar.zst" $Z db-backup-verify "$FULL"
assert_contains "$OUT" "checksum mismatch for file base/base.tar.zst" "verify names the damaged tar"
expect_exit 1 "a restore refuses a damaged base.tar.zst" $Z db-restore-full "$FULL" --target-dir "$E/copy3"
assert_contains "$OUT" "base.tar.zst: damaged" "the refusal names the file and says it is damaged"
[ ! -e "$E/copy3" ] && ok "no half-restored copy is left" || fail "copy3" "left behind"
mv -f "$E/base.keep" "$REPO/$FULL/base/base.tar.zst"

# ---- backup-prune over both forms ----
printf '[backup]\ncompression = zstd:3\nkeep_daily = 1\nkeep_weekly = 1\nkeep_monthly = 1\n' >"$E/prune.conf"
expect_exit 0 "backup-prune with one full kept" $EMB --config "$E/prune.conf" backup-prune
[ ! -e "$REPO/$OLDFULL" ] && [ ! -e "$REPO/wal/$oldseg" ] && [ ! -e "$REPO/wal/$oldseg.sha256" ] &&
	ok "prune removes the old plain chain and its plain segments" || fail "prune" "$(ls "$REPO" "$REPO/wal" | head -n 20)"
[ -f "$REPO/wal/$seg.zst" ] && [ -f "$REPO/wal/$seg.zst.sha256" ] && ok "the compressed segments the kept chain needs stay" ||
	fail "prune kept" "$seg.zst gone"
expect_exit 0 "after prune, verify the kept incremental" $Z db-backup-verify "$INCR"

# A full backup of a cluster that was itself restored carries that restore's recovery
# settings in postgresql.auto.conf: the next restore comments them out instead of adding a
# second recovery target beside them (the server refuses to start with two).
expect_exit 0 "a restore to the end of an incremental" $Z db-restore-incremental "$INCR"
expect_exit 0 "a full backup of the restored cluster" $Z db-backup-full
esql "create table builds.after_rr (i int); insert into builds.after_rr values (1)" >/dev/null
sleep 1
T2=$(esql "select now()")
sleep 1
esql "insert into builds.after_rr values (2)" >/dev/null
expect_exit 0 "an incremental after it" $Z db-backup-incremental
expect_exit 0 "then a restore --until T2 from that full backup" $Z db-restore-incremental --until "$T2"
assert_eq "$(esql "select string_agg(i::text, ',' order by i) from builds.after_rr")" 1 \
	"the restore of a restored cluster's backup stops at T2"
assert_contains "$(cat "$E/data/midsops/pg/postgresql.auto.conf" 2>/dev/null)" "# midsops restore (earlier): " \
	"the earlier restore's settings are commented out, not repeated"
$EMB cluster stop immediate >/dev/null 2>&1
