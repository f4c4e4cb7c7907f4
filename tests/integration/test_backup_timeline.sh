# Timelines (issue 20): a point-in-time restore follows the base backup's history by
# default, even after an earlier restore archived a branch; --timeline chooses another; a
# restore says which timeline it followed and the last commit it replayed, and fails when
# it stops short of its target; db-backup-list shows the timelines and branch points.
# An embedded cluster of its own (restores stop it), written to by a background writer at
# 20 rows a second throughout; commit timestamps are tracked, so "the rows committed before
# T" is exact on both sides.

E=$TEST_TMP/emb
mkdir -p "$E"
export MIDSOPS_CLUSTER_EXTRA_CONF="fsync = off
track_commit_timestamp = on"
EMB="env -u MIDSOPS_DSN XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state XDG_CONFIG_HOME=$E/config MIDSOPS_PGPORT=$((32000 + $$ % 1000)) $MIDSOPS"
REPO=$E/data/midsops/backups
$EMB db-create >/dev/null 2>&1
ECI=$($EMB cluster status --json | json_get .conninfo)
# psql straight to the server: never starts a cluster while a restore has it stopped.
eq() { psql "$ECI" -XAtq -v ON_ERROR_STOP=1 -c "$1" 2>/dev/null; }
eq "create table builds.tl_rows (id bigserial primary key, at timestamptz not null default clock_timestamp())" >/dev/null
assert_eq "$(eq "show track_commit_timestamp")" on "commit timestamps are tracked"

writer() {
	while [ ! -f "$E/stop-writer" ]; do
		if [ -f "$E/pause-writer" ]; then sleep 0.1; continue; fi
		psql "$ECI" -XAtq -c "do \$\$ begin loop insert into builds.tl_rows default values; commit; perform pg_sleep(0.05); end loop; end \$\$" >/dev/null 2>&1
		sleep 0.2
	done
}
writer &
WPID=$!
# An incremental's table checksums are taken after its WAL switch, so one made under writes
# differs from a copy restored to its stop LSN: the restore test needs one made at rest.
pause_writer() {
	touch "$E/pause-writer"
	for i in 1 2 3 4 5; do
		eq "select pg_terminate_backend(pid) from pg_stat_activity where query like 'do %' and pid <> pg_backend_pid()" >/dev/null
		sleep 0.3
	done
}
now() { date -u +%s.%N; }
# wait_rows N: until N more rows than now are committed (the writer is back after a restore).
wait_rows() {
	base=$(eq "select count(*) from builds.tl_rows" || echo 0)
	for i in $(seq 1 600); do
		c=$(eq "select count(*) from builds.tl_rows") && [ "$c" -ge $((base + $1)) ] && return 0
		sleep 0.1
	done
	fail "writer" "no new rows after 60 s"
}
# The rows of the history followed, committed up to T, as count:md5 of their ids.
got_at() { eq "select count(*) || ':' || coalesce(md5(string_agg(id::text, ',' order by id)), '') from builds.tl_rows where pg_xact_commit_timestamp(xmin) <= '$1'"; }
got_between() { eq "select count(*) from builds.tl_rows where pg_xact_commit_timestamp(xmin) > '$1' and pg_xact_commit_timestamp(xmin) <= '$2'"; }
# The same of the original history (timeline 1), kept aside in the test database.
want_at() { psql_q "select count(*) || ':' || coalesce(md5(string_agg(id::text, ',' order by id)), '') from tl_ref where ts <= '$1'"; }
want_between() { psql_q "select count(*) from tl_ref where ts > '$1' and ts <= '$2'"; }
iso() { python3 -c 'import sys,datetime; print(datetime.datetime.fromtimestamp(float(sys.argv[1]), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%fZ"))' "$1"; }
kv() { printf '%s\n' "$OUT" | sed -n "s/^ *$1[: ]*//p" | head -n 1; }

wait_rows 20
expect_exit 0 "db-backup-full under writes" $EMB db-backup-full
wait_rows 10
F_END=$(now)
wait_rows 260
I_START=$(now)
expect_exit 0 "db-backup-incremental under writes" $EMB db-backup-incremental
# Three random instants between the full backup and the incremental, one in each third.
set -- $(python3 -c 'import random,sys
a, b = float(sys.argv[1]) + 0.5, float(sys.argv[2]) - 0.5
w = (b - a) / 3
print(" ".join("%.6f" % (a + i * w + random.uniform(0.15, 0.85) * w) for i in range(3)))' "$F_END" "$I_START")
T1=$(iso "$1") T2=$(iso "$2") T3=$(iso "$3") T2E=$2
echo "  instants: $T1, $T2, $T3"
psql_q "create table tl_ref (id bigint, ts timestamptz)" >/dev/null
psql "$ECI" -XAtq -c "copy (select id, pg_xact_commit_timestamp(xmin) from builds.tl_rows) to stdout" |
	psql "$MIDSOPS_DSN" -XAtq -c "copy tl_ref from stdin"
I_TIME=$(iso "$I_START")

# pitr NAME T: restore to T; exactly the original history's rows committed up to T, and
# none of its rows after T.
pitr() {
	name=$1 t=$2
	expect_exit 0 "$name: db-restore-incremental --until" $EMB db-restore-incremental --until "$t"
	assert_eq "$(got_at "$t")" "$(want_at "$t")" "$name: exactly the rows committed up to the target"
	assert_eq "$(got_between "$t" "$I_TIME")" 0 "$name: none of the rows committed after the target"
}

# The reproduction: restore to T2 (a branch, timeline 2, is archived), write, another
# incremental, then restore to T3, later than T2: before, the server's default (latest)
# followed timeline 2 and stopped at T2's rows, exit 0.
pitr "T2" "$T2"
R2=$OUT
assert_contains "$R2" "timeline_followed" "a restore prints the timeline it followed"
assert_eq "$(printf '%s\n' "$R2" | kv timeline_followed | cut -d' ' -f1)" 1 "T2: followed timeline 1, the base backup's"
assert_contains "$R2" "last_replayed_commit" "a restore prints the last commit it replayed"
last=$(printf '%s\n' "$R2" | kv last_replayed_commit)
in_range=$(python3 -c 'import sys,datetime as d
f=lambda s: d.datetime.fromisoformat(s.replace("Z","+00:00")).timestamp()
t=f(sys.argv[2]); l=f(sys.argv[1] if len(sys.argv[1]) > 22 else sys.argv[1] + ":00")
print("yes" if t - 2 <= l <= t else "no: %s vs %s" % (l, t))' "$last" "$T2" 2>&1)
assert_eq "$in_range" yes "T2: the last replayed commit is just before the target"
wait_rows 40
expect_exit 0 "incremental on timeline 2" $EMB db-backup-incremental
wait_rows 10
pitr "T3 (after the branch point of timeline 2)" "$T3"
R3=$OUT
assert_eq "$(printf '%s\n' "$R3" | kv timeline_followed | cut -d' ' -f1)" 1 "T3: followed timeline 1, not the newer branch"
assert_contains "$R3" "lies after a branch point" "T3: the restore says two timelines hold the target"
assert_contains "$R3" "timeline 2 branched from 1" "T3: it names the other timeline and its branch point"
assert_contains "$R3" "--timeline 2 follows the other history" "T3: and how to follow the other"
[ -n "${TL_VERBOSE:-}" ] && printf '%s\n' "$R3" | sed 's/^/    | /'
pitr "T1 (before the branch point)" "$T1"
assert_not_contains "$OUT" "lies after a branch point" "T1: no other timeline holds a time before every branch"

# After a PITR, "restore to latest" follows the newest timeline (4, from T1's restore):
# the old history after T1 is not there; --timeline 1 brings it back.
wait_rows 40
pause_writer
expect_exit 0 "incremental on timeline 4 (writer paused)" $EMB db-backup-incremental
rm -f "$E/pause-writer"
expect_exit 0 "restore to the latest WAL after a PITR" $EMB db-restore-incremental
assert_eq "$(kv timeline_followed | cut -d' ' -f1)" 4 "to latest: followed the newest timeline"
assert_eq "$(got_at "$T1")" "$(want_at "$T1")" "to latest: the rows up to T1"
assert_eq "$(got_between "$T1" "$I_TIME")" 0 "to latest: not the old history after T1"
expect_exit 0 "db-restore-incremental --timeline 1" $EMB db-restore-incremental --timeline 1
assert_eq "$(kv timeline_followed | cut -d' ' -f1)" 1 "--timeline 1: followed timeline 1"
left=$(want_between "$T1" "$I_TIME")
[ "$left" -gt 50 ] && ok "the first PITR left $left rows behind" || fail "rows left behind" "$left"
assert_eq "$(got_between "$T1" "$I_TIME")" "$left" "--timeline 1 gets back the rows the PITR left behind"
assert_eq "$(got_at "$I_TIME")" "$(want_at "$I_TIME")" "--timeline 1: the original history, exactly"

expect_exit 64 "--timeline must be current, latest or a number" $EMB db-restore-incremental --timeline sideways
expect_exit 1 "a timeline not in the archive is refused" $EMB db-restore-incremental --timeline 99
assert_contains "$OUT" "timeline 99 is not in the WAL archive" "the refusal names the timeline"

# A target beyond the archive: an error naming how far recovery came, and the cluster is
# back as it was.
before=$(eq "select count(*) from builds.tl_rows where pg_xact_commit_timestamp(xmin) <= '$I_TIME'")
FUTURE=$(iso "$(python3 -c 'import time; print(time.time() + 3600)')")
expect_exit 1 "a target beyond the archive fails" $EMB db-restore-incremental --until "$FUTURE"
assert_contains "$OUT" "stopped short of its target" "it says the restore stopped short"
assert_contains "$OUT" "recovery ended before configured recovery target was reached" "it gives the server's reason"
assert_contains "$OUT" "last completed transaction was at log time" "it names the point reached"
assert_eq "$(eq "select count(*) from builds.tl_rows where pg_xact_commit_timestamp(xmin) <= '$I_TIME'")" "$before" \
	"the previous data directory is back after the failed restore"

# db-backup-list: each backup's timeline, the branch points, windows per timeline.
expect_exit 0 "db-backup-list" $EMB db-backup-list
L=$OUT
[ -n "${TL_VERBOSE:-}" ] && printf '%s\n' "$L" | sed 's/^/    | /'
assert_contains "$L" "branch_lsn" "list shows the timelines and their branch points"
assert_contains "$L" "before $(echo "$T2" | cut -c1-16)" "list shows timeline 2's branch reason (before T2)"
assert_contains "$L" "windows of each full backup per timeline" "list shows the windows per timeline"
J=$($EMB db-backup-list --json 2>&1)
printf '%s' "$J" | python3 -c 'import json, sys, datetime as d
j = json.load(sys.stdin)
t2 = float(sys.argv[1])
tl = {str(t["timeline"]): t for t in j["timelines"]}
# 2, 3, 4: the PITRs to T2, T3, T1; 5: to the latest after them (from 4); 6: --timeline 1.
parents = {k: str(tl[k]["parent"]) for k in tl if k != "1"}
assert parents == {"2": "1", "3": "1", "4": "1", "5": "4", "6": "1"}, tl
bt = d.datetime.strptime(tl["2"]["branch_time"], "%Y-%m-%d %H:%M:%SZ").replace(tzinfo=d.timezone.utc).timestamp()
assert t2 - 2 <= bt <= t2 + 2, (bt, t2)
assert tl["2"]["branch_lsn"] and "/" in tl["2"]["branch_lsn"], tl["2"]
b = j["backups"]
assert [str(x["timeline"]) for x in b if x["type"] == "incremental"] == ["1", "2", "4"], b
full = [x["id"] for x in b if x["type"] == "full"][0]
w = {str(x["timeline"]) for x in j["windows"] if x["backup"] == full and not x["window"].startswith("none")}
assert w >= {"1", "2", "4"}, j["windows"]
' "$T2E" && ok "list --json: timelines, parents, branch time of timeline 2, backups' timelines, windows per timeline" ||
	fail "list --json" "$(printf '%s' "$J" | head -c 1500)"

# The restore test of the incremental on timeline 4 follows that timeline, though the
# newest (6, branched from 1) holds other rows at its stop LSN.
INCR3=$(printf '%s' "$J" | python3 -c 'import json,sys; print([b["id"] for b in json.load(sys.stdin)["backups"] if b["type"]=="incremental"][2])')
expect_exit 0 "restore test of the incremental on timeline 4, after newer timelines" $EMB db-backup-verify "$INCR3" --restore-test
assert_contains "$OUT" "match" "its tables match: it followed timeline 4"

# History files are untrusted input: one that does not parse, or has no checksum, is
# named and left out, never followed.
printf '1\t0/3000000\tok\n7\tnot-an-lsn\tforged\n' >"$REPO/wal/00000063.history"
sha256sum "$REPO/wal/00000063.history" | cut -c1-64 >"$REPO/wal/00000063.history.sha256"
printf '1\t0/3000000\tno checksum\n' >"$REPO/wal/00000064.history"
expect_exit 0 "list with planted history files" $EMB db-backup-list
assert_contains "$OUT" "00000063.history: line 2: switch point is not an LSN" "a malformed history file is named with its line"
assert_contains "$OUT" "00000064.history: has no 00000064.history.sha256" "a history file without its checksum is named"
assert_not_contains "$(printf '%s\n' "$OUT" | grep -E '^ *(99|100) ')" "99" "planted timelines are not listed"
rm -f "$REPO/wal/00000063.history" "$REPO/wal/00000063.history.sha256" "$REPO/wal/00000064.history"

# dr-restore passes --timeline on and says what the site replayed (archiving off: no new
# timeline reaches the repository). Last: it registers [env dr] in a config file only root
# may read, and the server's restore_command (midsops wal-fetch, run as the server's user)
# then cannot read it.
expect_exit 0 "dr-restore --latest --timeline 1" $EMB dr-restore --latest --timeline 1 --target-dir "$E/drsite" --port $((32500 + $$ % 400))
assert_eq "$(kv timeline_followed | cut -d' ' -f1)" 1 "dr-restore: the site followed timeline 1"
assert_contains "$OUT" "last_replayed_commit" "dr-restore: prints the last commit the site replayed"
for pidf in $(find "$E/drsite" -name postmaster.pid 2>/dev/null); do
	kill -INT "$(head -n 1 "$pidf")" 2>/dev/null
done

touch "$E/stop-writer"
$EMB cluster stop immediate >/dev/null 2>&1
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null
