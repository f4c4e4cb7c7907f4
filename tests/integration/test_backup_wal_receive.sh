# wal-receive: pg_receivewal with a replication slot streams the shared cluster's WAL into a
# repository of its own. Completed segments arrive with a .sha256 beside them, an
# incremental backup takes a running wal-receive as its WAL source, and SIGINT or SIGTERM
# stop it cleanly (exit 0, pg_receivewal gone, the slot kept but inactive).

REPO=$TEST_TMP/repo
printf '[midsops]\nbackup_dir = %s\n' "$REPO" >"$TEST_TMP/w.conf"
MW="$MIDSOPS --config $TEST_TMP/w.conf"
SLOT=midsops_wr_$$
"$MIDSOPS" db-create >/dev/null 2>&1
psql_q "create table if not exists builds.wr_test (id int primary key, v text)" >/dev/null

# until_true SECONDS COMMAND...: poll until the command succeeds (TEST_TIME_FACTOR stretches it).
until_true() {
	n=$(( $1 * ${TEST_TIME_FACTOR:-1} * 10 )); shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
slot_active() { [ "$(psql_q "select active from pg_replication_slots where slot_name = '$SLOT'")" = "$1" ]; }
# A pg_receivewal writing into this repository, seen through /proc.
receivers() {
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "pg_receivewal -D $REPO/wal" && echo "${p#/proc/}"
	done
}
# stop_receiver SIGNAL: send it to wal-receive and give it 20 s to end; its exit status
# goes to $rc ("hung" when it did not end, and it is then killed).
ended() { [ ! -d "/proc/$1" ] || grep -q ') Z' "/proc/$1/stat" 2>/dev/null; }
stop_receiver() {
	kill -"$1" "$RP"
	if until_true 20 ended "$RP"; then
		wait "$RP"
		rc=$?
	else
		rc=hung
		kill -9 "$RP"
		wait "$RP"
	fi
}
sealed() { ls "$REPO/wal" 2>/dev/null | grep -c '^[0-9A-F]\{24\}\.sha256$'; }
more_sealed() { [ "$(sealed)" -gt "$1" ]; }
switch_wal() { psql_q "insert into builds.wr_test select coalesce(max(id), 0) + 1, 'x' from builds.wr_test; select pg_switch_wal()" >/dev/null; }

expect_exit 1 "wal-receive refuses a bad slot name" $MW wal-receive --slot "Bad-Slot"
assert_contains "$OUT" "bad slot name" "the bad slot name is explained"

$MW wal-receive --slot "$SLOT" >"$TEST_TMP/recv1.out" 2>&1 &
RP=$!
until_true 20 slot_active t && ok "wal-receive creates the slot and streams" ||
	fail "slot active" "$(psql_q "select slot_name, active from pg_replication_slots"); $(cat "$TEST_TMP/recv1.out")"
expect_exit 1 "a second wal-receive on the same repository is refused" $MW wal-receive --slot "$SLOT"
assert_contains "$OUT" "already streaming" "the second receiver is told why"

n0=$(sealed)
switch_wal
switch_wal
until_true 30 more_sealed "$((n0 + 1))" && ok "completed segments arrive in the repository" ||
	fail "segments arrive" "$(ls "$REPO/wal"); $(cat "$TEST_TMP/recv1.out")"
bad=0 count=0
for s in "$REPO"/wal/*.sha256; do
	seg=${s%.sha256}
	[ -f "$seg" ] || continue
	count=$((count + 1))
	[ "$(sha256sum "$seg" | cut -d' ' -f1)" = "$(cat "$s")" ] || bad=$((bad + 1))
done
[ "$count" -ge 2 ] && [ "$bad" = 0 ] && ok "each segment's .sha256 matches its content ($count)" ||
	fail "segment checksums" "$count segments, $bad mismatched"
assert_eq "$(stat -c %a "$(ls "$REPO"/wal/*.sha256 | head -n 1)")" 600 "checksum files are 0600"
assert_contains "$(cat "$TEST_TMP/recv1.out")" "received " "wal-receive names each segment it sealed"

# The shared cluster does not archive into this repository: a running wal-receive is the
# WAL source of an incremental backup, and the chain verifies without a gap.
expect_exit 0 "db-backup-full while wal-receive runs" $MW db-backup-full
expect_exit 0 "db-backup-incremental takes its WAL from wal-receive" $MW db-backup-incremental
INCR=$(ls "$REPO" | grep -- '-incremental$' | tail -n 1)
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
assert m["wal"] and all(len(w["sha256"]) == 64 for w in m["wal"]), m' "$REPO/$INCR/manifest.json" &&
	ok "the incremental records the received segments with checksums" || fail "incremental WAL" "see $REPO/$INCR/manifest.json"
expect_exit 0 "the incremental over received WAL verifies, restore test included" $MW db-backup-verify "$INCR" --restore-test
assert_contains "$OUT" "match" "a point-in-time copy from received WAL matches the manifest"

# SIGINT: a clean stop. pg_receivewal ends, the slot stays (inactive), exit 0.
stop_receiver INT
assert_eq "$rc" 0 "wal-receive exits 0 on SIGINT"
assert_contains "$(cat "$TEST_TMP/recv1.out")" "stopped" "wal-receive says it stopped"
assert_eq "$(receivers)" "" "no pg_receivewal is left after SIGINT"
until_true 10 slot_active f && ok "the slot is kept, inactive, after the stop" ||
	fail "slot after stop" "$(psql_q "select slot_name, active from pg_replication_slots")"

# Again on the existing slot, stopped by SIGTERM (what a service manager sends): WAL
# written while it was down arrives, since the slot kept it.
switch_wal
n1=$(sealed)
$MW wal-receive --slot "$SLOT" >"$TEST_TMP/recv2.out" 2>&1 &
RP=$!
until_true 20 slot_active t && ok "wal-receive resumes on the existing slot" ||
	fail "resume" "$(cat "$TEST_TMP/recv2.out")"
until_true 30 more_sealed "$n1" && ok "WAL from while it was stopped arrives" ||
	fail "catch up" "$(ls "$REPO/wal"); $(cat "$TEST_TMP/recv2.out")"
stop_receiver TERM
assert_eq "$rc" 0 "wal-receive exits 0 on SIGTERM"
assert_eq "$(receivers)" "" "no pg_receivewal is left after SIGTERM"
# Without wal-receive (and without archiving) the incremental says what to configure.
expect_exit 1 "no incremental once wal-receive has stopped" $MW db-backup-incremental
assert_contains "$OUT" "wal-receive" "the incremental error names wal-receive"

# dr-assess reads the same archive: segments only, not their .sha256 files.
OUT=$($MW dr-assess 2>&1)
assert_contains "$OUT" "continuous" "dr-assess finds the received WAL continuous"
assert_contains "$OUT" "$(ls "$REPO/wal" | grep -c '^[0-9A-F]\{24\}$') segments" "dr-assess counts segments, not their checksum files"

for p in $(receivers); do kill -9 "$p"; done
psql_q "select pg_drop_replication_slot('$SLOT')" >/dev/null 2>&1
