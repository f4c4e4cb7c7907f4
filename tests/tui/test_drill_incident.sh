# End-to-end incident drills in the console, driven by keys, on an embedded cluster of the
# test's own (a point-in-time restore replaces the whole data directory, so never the shared
# test cluster):
#   1. import, full backup, record the figures, a corrupting import (changed values, removed
#      records); open an incident; :wizard corrupted-import choosing the bad run and rollback;
#   2. a second corrupting import; the same wizard choosing the point-in-time restore to just
#      before that run started;
#   3. full backup, a good update, an incremental, record the figures; the database is lost
#      (cluster stopped, data directory deleted); :wizard database-loss from the full backup
#      plus incrementals.
# After each recovery the builds and game checksums equal those recorded before the damage,
# and each run's proof step (data-checksums --compare) is done. 80x24 captures of the
# corrupted-import wizard at its choice step and at its end go to $TEST_TMP and
# /tmp/captures-18/.
. "$TOP/tests/tui/console_lib.sh"

if [ ! -d "$MINI_EXPORT" ]; then
	skip "incident drills" "tests/data/export-mini is absent"
	return 0 2>/dev/null || exit 0
fi
MIDSOPS_SHARE=${MIDSOPS_SHARE:-$TOP}
export MIDSOPS_SHARE

E=$TEST_TMP/drill
mkdir -p "$E/data" "$E/state" "$E/config/midsops"
chmod 0711 "$E"
EPORT=$((MIDSOPS_PGPORT + 11))
EENV="XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state XDG_CONFIG_HOME=$E/config MIDSOPS_PGPORT=$EPORT"
EMB="env -u MIDSOPS_DSN $EENV $MIDSOPS"
esql() { $EMB db-shell -XAtqc "$1" 2>/dev/null; }
# The figures a user compares: every builds and game table's rows and checksum.
sums() { $EMB --json data-checksums 2>/dev/null | python3 -c 'import json,sys
print("\n".join("%s %d %s" % (t["table"], t["rows"], t["checksum"]) for t in json.load(sys.stdin)["tables"]))'; }
nbackups() { $EMB --json db-backup-list 2>/dev/null | python3 -c 'import json,sys
print(sum(1 for b in json.load(sys.stdin)["backups"] if b["type"] == sys.argv[1]))' "$1"; }
completed_runs() { esql "select count(*) from ops.import_runs where kind = 'import' and state = 'completed'"; }
CAP=/tmp/captures-18
mkdir -p "$CAP"

if ! $EMB db-create >/dev/null 2>&1; then
	fail "drill: the embedded cluster starts" "$($EMB db-create 2>&1 | tail -n 5)"
	return 0 2>/dev/null || exit 0
fi
# A config file only its owner can read: the wizard hands its path to the commands it runs
# (MIDSOPS_CONFIG), and a restore's server, running as another user when we are root,
# inherits it in its restore_command; wal-fetch needs nothing from it and must not fail on
# it. Reports go to the default incidents_dir.
printf '[midsops]\nrefresh = 1\n' >"$E/config/midsops/midsops.conf"
chmod 0600 "$E/config/midsops/midsops.conf"
INC=$E/state/midsops/incidents

S=drill
console_start "$S" MIDSOPS_DSN= "XDG_DATA_HOME=$E/data" "XDG_STATE_HOME=$E/state" \
	"XDG_CONFIG_HOME=$E/config" "MIDSOPS_PGPORT=$EPORT"
tm resize-window -t "$S" -x 80 -y 24 2>/dev/null
expect_screen "drill: the console is up on the drill's cluster" "$S" "connected" 100
check "drill: the console is 80x24" test "$(tm display-message -p -t "$S" '#{pane_width}x#{pane_height}')" = 80x24

# settle SESSION BEFORE: after a key, wait until the screen below the header (the clock
# ticks there) has changed from BEFORE and then holds still for a moment: a capture taken
# while the console is still drawing could show the old key hints under the new step, and
# answering those would answer the next step twice.
settle() {
	j=0 prev=
	while [ $j -lt $((100 * ${TEST_TIME_FACTOR:-1})) ]; do
		cur=$(screen "$1" | tail -n +2)
		if [ "$cur" != "$2" ]; then
			[ "$cur" = "$prev" ] && return 0
			prev=$cur
		fi
		sleep 0.15
		j=$((j + 1))
	done
}
# console_cmd SESSION COMMAND WHAT CHECK...: type COMMAND on the command bar, then wait until
# CHECK holds (what the command did, read from the database or the repository).
# The console refuses a command while another runs ("still running"): its result (a file,
# a row) can be there before the command has exited, so wait for the Output pane's title to
# drop "(running: ...)" before and after.
console_idle() { ! screen "$1" | grep -q '(running: '; }
console_cmd() {
	s=$1 c=$2 what=$3
	shift 3
	wait_until 600 console_idle "$s"
	keys "$s" ':' "$c" Enter
	if wait_until 600 "$@"; then ok "drill: $what"; else
		fail "drill: $what" "$(screen "$s" | tail -n 12)"
	fi
	wait_until 600 console_idle "$s"
}
is() { [ "$($1 "${2:-}" 2>/dev/null)" = "$3" ]; }
runs_are() { [ "$(completed_runs)" = "$1" ]; }
backups_are() { [ "$(nbackups "$1")" = "$2" ]; }
record_is() { [ -f "$E/state/midsops/checksums/$1.json" ]; }

DRIVE_LOG=$TEST_TMP/drive.log
# run_wizard SESSION ANSWERS CHOICE_TEXT CHOICE_FILE END_FILE: drive the wizard view by keys
# until the run ends. ANSWERS are its branch questions' answers in order (y or n); a failed
# step goes on (c). The first time CHOICE_TEXT is on screen at a choice, the screen is saved
# to CHOICE_FILE; the end to END_FILE.
run_wizard() {
	s=$1 answers=$2 ctext=$3 cfile=$4 efile=$5
	i=0
	while [ $i -lt 1500 ]; do
		scr=$(screen "$s")
		b=$(printf '%s\n' "$scr" | tail -n 1)
		printf '=== %s | answers left: %s\n%s\n' "$(date +%T)" "$answers" "$scr" >>"$DRIVE_LOG"
		case "$b" in
		*"The run has ended"*)
			[ -n "$efile" ] && printf '%s\n' "$scr" >"$efile"
			return 0
			;;
		*"Step failed. Enter"*) keys "$s" c ;;
		*"y yes  n no"*)
			a=${answers%"${answers#?}"}
			answers=${answers#?}
			keys "$s" "${a:-y}"
			;;
		"Enter: end the wait early"*) sleep 0.2; i=$((i + 1)); continue ;;
		"Enter: "*)
			if [ -n "$cfile" ] && [ ! -f "$cfile" ] && printf '%s\n' "$scr" | grep -qF -- "$ctext"; then
				printf '%s\n' "$scr" >"$cfile"
			fi
			keys "$s" Enter
			;;
		*) sleep 0.2; i=$((i + 1)); continue ;;
		esac
		settle "$s" "$(printf '%s\n' "$scr" | tail -n +2)"
		i=$((i + 1))
	done
	return 1
}
last_run() { esql "select id from ops.wizard_runs where runbook = '$1' order by id desc limit 1"; }
step_is() { esql "select outcome || ' ' || coalesce(exit_status, -1) from ops.wizard_steps where run_id = $1 and step_id = '$2' order by seq desc limit 1"; }

# --- the data, the backups, the figures -----------------------------------------------------
console_cmd "$S" "import $MINI_EXPORT" "the mini export is imported from the command bar" runs_are 1
$EMB seed-builds "$TOP/tests/data/builds-mini.json" >/dev/null 2>&1
console_cmd "$S" "db-backup-full" "a full backup is taken (archiving on)" backups_are full 1
console_cmd "$S" "data-checksums --save before-bad" "the figures are recorded before the bad import" record_is before-bad
GOOD=$(sums)
check "drill: builds and game have rows" sh -c 'printf "%s\n" "$1" | grep -Eq "^game\.powers 31 " && printf "%s\n" "$1" | grep -Eq "^builds\.builds [1-9]"' _ "$GOOD"

# A corrupting update: changed values in 10 powers, 2 tags and a boost set removed.
BAD=$TEST_TMP/bad-export
cp -r "$MINI_EXPORT" "$BAD"
for f in $(find "$BAD/powers" -name '*.json' ! -name index.json | sort | head -n 10); do
	python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["accuracy"]=7.77; d["end_cost"]=99; json.dump(d,open(p,"w"))' "$f"
done
rm -f "$BAD/tags/momentum.json" "$BAD/tags/overcharge.json"
sleep 1.1 # the bad run starts in a later second than the last good change (PITR is to the second)
console_cmd "$S" "import $BAD" "the corrupting import completes" runs_are 2
[ "$(sums)" != "$GOOD" ] && ok "drill: the bad import changed builds/game" || fail "drill: the bad import changed builds/game" "the figures are unchanged"

# --- drill 1: corrupted import, by rollback, during an incident ------------------------------
console_cmd "$S" "incident start S2 corrupted import drill" "an incident is opened from the command bar" \
	sh -c '[ "$('"$EMB"' db-shell -XAtqc "select count(*) from ops.incidents where closed_at is null" 2>/dev/null)" = 1 ]'
rm -f "$TEST_TMP/choice.txt" "$TEST_TMP/end.txt"
keys "$S" ':' 'wizard corrupted-import' Enter
expect_screen "drill 1: the corrupted-import wizard starts" "$S" "corrupted-import" 50
if run_wizard "$S" "y" "The import run that corrupted" "$TEST_TMP/choice.txt" "$TEST_TMP/end.txt"; then
	ok "drill 1: corrupted-import by rollback runs to its end, by keys"
else
	fail "drill 1: corrupted-import by rollback runs to its end" "$(screen "$S" | tail -n 10)"
fi
R1=$(last_run corrupted-import)
assert_eq "$(sums)" "$GOOD" "drill 1: after the rollback builds and game equal the figures from before the bad import"
assert_eq "$(step_is "${R1:-0}" rollback)" "done 0" "drill 1: the rollback step is done"
assert_eq "$(step_is "${R1:-0}" prove)" "done 0" "drill 1: the proof step (data-checksums --compare before-bad) is done"
assert_eq "$(step_is "${R1:-0}" restore-pitr)" "skipped -1" "drill 1: the point-in-time way was not taken"
assert_eq "$(esql "select i.severity from ops.wizard_runs w join ops.incidents i on i.id = w.incident_id where w.id = ${R1:-0}")" \
	"S2" "drill 1: the run is attached to the open incident"
cp "$TEST_TMP/choice.txt" "$CAP/choice.txt" 2>/dev/null
cp "$TEST_TMP/end.txt" "$CAP/end.txt" 2>/dev/null
check "drill 1: the choice capture is 80 columns and 24 lines and lists the bad run" sh -c \
	'[ "$(wc -l <"$1")" = 24 ] && [ "$(python3 -c "import sys; print(max(len(l.rstrip(chr(10))) for l in open(sys.argv[1], encoding=\"utf-8\")))" "$1")" -le 80 ] && grep -q "> run 2, state completed" "$1"' _ "$TEST_TMP/choice.txt"
check "drill 1: the end capture shows the run ended" sh -c 'grep -q "The run has ended" "$1"' _ "$TEST_TMP/end.txt"
keys "$S" Enter

# --- drill 2: the same, by point-in-time restore to just before the bad run started -------
sleep 1.1
console_cmd "$S" "import $BAD" "a second corrupting import completes" runs_are 3
BAD2=$(esql "select max(id) from ops.import_runs where kind = 'import'")
[ "$(sums)" != "$GOOD" ] && ok "drill 2: the second bad import changed builds/game" || fail "drill 2: the second bad import changed builds/game" "unchanged"
keys "$S" ':' 'wizard corrupted-import' Enter
expect_screen "drill 2: the corrupted-import wizard starts again" "$S" "corrupted-import" 50
# no to the rollback, yes to the point-in-time restore
if run_wizard "$S" "ny" "" "" "$TEST_TMP/end-pitr.txt"; then
	ok "drill 2: corrupted-import by point-in-time restore runs to its end, by keys"
else
	fail "drill 2: corrupted-import by point-in-time restore runs to its end" "$(screen "$S" | tail -n 10)"
fi
wait_until 100 sh -c '[ -n "$('"$EMB"' db-shell -XAtqc "select 1" 2>/dev/null)" ]'
assert_eq "$(sums)" "$GOOD" "drill 2: after the point-in-time restore builds and game equal the figures from before the bad import"
assert_eq "$(esql "select count(*) from ops.import_runs where id = ${BAD2:-0}")" 0 "drill 2: the bad run is gone: the database is from before it started"
R2=$(esql "select id from ops.wizard_runs where runbook = 'corrupted-import' order by started_at desc, id desc limit 1")
assert_eq "$(step_is "${R2:-0}" archive-wal)" "done 0" "drill 2: the WAL up to the bad run was archived first"
got=$(step_is "${R2:-0}" restore-pitr)
[ "$got" = "done 0" ] && ok "drill 2: the point-in-time restore step is done" ||
	fail "drill 2: the point-in-time restore step is done" "$got: $(esql "select output_excerpt from ops.wizard_steps where run_id = ${R2:-0} and step_id = 'restore-pitr' order by seq limit 1" | tail -n 12)
the archive: $(find "$E" -name '0000000*' -newer "$E/config/midsops/midsops.conf" 2>/dev/null | sort | tail -n 8)
the server log: $(tail -n 30 "$E"/state/midsops/log/postgresql/postgresql.log 2>/dev/null)"
assert_eq "$(step_is "${R2:-0}" prove)" "done 0" "drill 2: the proof step is done"
assert_eq "$(step_is "${R2:-0}" rollback)" "skipped -1" "drill 2: the rollback was not taken"
keys "$S" Enter
# The incident (opened before the restored point) is still open: close it, the report lists
# the steps of both runs.
console_cmd "$S" "incident close" "the incident is closed from the command bar" \
	sh -c '[ -n "$(ls '"$INC"'/*_incident_1.md 2>/dev/null)" ]'
REP=$(cat "$INC"/*_incident_1.md 2>/dev/null)
assert_contains "$REP" "## Steps taken" "drill: the incident report lists the steps taken"
assert_contains "$REP" "| rollback | Roll back to generation" "drill: the report has the rollback step"
assert_contains "$REP" "| restore-pitr | Point-in-time restore to" "drill: the report has the point-in-time restore step"
check "drill: the report has both runs' proof steps, done" sh -c '[ "$(printf "%s\n" "$1" | grep -Ec "^\| [0-9]+ \| prove \| .* \| check \| done \| 0 \|")" = 2 ]' _ "$REP"

# --- drill 3: database loss, full backup plus incrementals ------------------------------------
console_cmd "$S" "db-backup-full" "drill 3: a new full backup" backups_are full 2
sleep 1.1
console_cmd "$S" "import $TOP/tests/data/export-mini-v2" "drill 3: a good update is imported after the full backup" runs_are 3
console_cmd "$S" "db-backup-incremental" "drill 3: an incremental backup after the update" backups_are incremental 2
console_cmd "$S" "data-checksums --save before-loss" "drill 3: the figures are recorded before the loss" record_is before-loss
BEFORE_LOSS=$(sums)
[ "$BEFORE_LOSS" != "$GOOD" ] && ok "drill 3: the update changed the data after the full backup" || fail "drill 3: the update changed the data" "unchanged"
# The loss: the server stops and its data directory is gone.
$EMB cluster stop immediate >/dev/null 2>&1
rm -rf "$E/data/midsops/pg"
expect_exit 3 "drill 3: the database is lost (cluster status: absent)" $EMB cluster status
assert_contains "$OUT" "absent" "drill 3: cluster status says the cluster is absent"
keys "$S" ':' 'wizard database-loss' Enter
expect_screen "drill 3: the database-loss wizard starts" "$S" "database-loss" 50
# yes: apply the incrementals
if run_wizard "$S" "y" "" "" "$TEST_TMP/end-loss.txt"; then
	ok "drill 3: database-loss runs to its end, by keys"
else
	fail "drill 3: database-loss runs to its end" "$(screen "$S" | tail -n 10)"
fi
assert_eq "$(sums)" "$BEFORE_LOSS" "drill 3: after the restore builds and game equal the figures from before the loss"
R3=$(last_run database-loss)
assert_eq "$(step_is "${R3:-0}" restore-incremental)" "done 0" "drill 3: the restore with incrementals is done"
assert_eq "$(step_is "${R3:-0}" prove)" "done 0" "drill 3: the proof step (data-checksums --compare before-loss) is done"
assert_contains "$(esql "select detail from ops.wizard_steps where run_id = ${R3:-0} and step_id = 'choose-full'")" \
	"chose full_backup=" "drill 3: the full backup was chosen from the list"
keys "$S" Enter
keys "$S" q
$EMB cluster stop immediate >/dev/null 2>&1
