# timeline: an import and a backup made here appear newest first with their kinds, as a
# table, JSON and Markdown; --since leaves older entries out; a bad duration is a usage error.

REPO=$TEST_TMP/repo
mkdir -p "$TEST_TMP/cfg"
printf '[midsops]\nbackup_dir = %s\nreports_dir = %s/reports\n' "$REPO" "$TEST_TMP" >"$TEST_TMP/cfg/t.conf"
MT="$MIDSOPS --config $TEST_TMP/cfg/t.conf"

"$MIDSOPS" db-create >/dev/null 2>&1
# An entry from three hours ago: outside the default window of 2h, inside --since 4h.
psql_q "insert into ops.events (at, level, source, message)
        values (now() - interval '3 hours', 'info', 'restore', 'timeline-test old entry')" >/dev/null

expect_exit 0 "import the mini export" $MT import "$MINI_EXPORT"
run=$(psql_q "select max(id) from ops.import_runs")
sleep 1.1 # the backup's entries a whole second later: the order is by time
expect_exit 0 "db-backup-archive" $MT db-backup-archive
bk=$(psql_q "select id from ops.backups where status = 'complete' order by started_at desc limit 1")

expect_exit 0 "timeline" $MT timeline
assert_contains "$OUT" "backup $bk complete" "the backup is in the timeline"
assert_contains "$OUT" "run $run started on" "the import's start is in the timeline"
assert_contains "$OUT" "run $run promoted generation" "the import's end is in the timeline"
assert_not_contains "$OUT" "timeline-test old entry" "the default window (2h) leaves a 3h-old entry out"
# Newest first: the backup, then the import's end, then its start.
lb=$(printf '%s\n' "$OUT" | grep -n "backup $bk complete" | head -n 1 | cut -d: -f1)
le=$(printf '%s\n' "$OUT" | grep -n "run $run promoted" | head -n 1 | cut -d: -f1)
ls=$(printf '%s\n' "$OUT" | grep -n "run $run started on" | head -n 1 | cut -d: -f1)
[ -n "$lb" ] && [ -n "$le" ] && [ -n "$ls" ] && [ "$lb" -lt "$le" ] && [ "$le" -lt "$ls" ] &&
	ok "newest first: backup (line $lb), import end ($le), import start ($ls)" ||
	fail "newest first" "backup $lb, import end $le, import start $ls: $OUT"
line=$(printf '%s\n' "$OUT" | grep "backup $bk complete" | head -n 1)
case "$line" in
[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\ [0-9][0-9]:[0-9][0-9]:[0-9][0-9]*backup*) ok "an entry has its time and kind: $line" ;;
*) fail "an entry has its time and kind" "$line" ;;
esac

expect_exit 0 "timeline --since 4h" $MT timeline --since 4h
assert_contains "$OUT" "timeline-test old entry" "--since 4h includes the 3h-old entry"
expect_exit 0 "timeline --since 1m" $MT timeline --since 1m
assert_contains "$OUT" "backup $bk complete" "--since 1m keeps the backup just made"
psql_q "update ops.events set at = at - interval '10 minutes' where message like 'run $run %'" >/dev/null
expect_exit 0 "timeline --since 5m" $MT timeline --since 5m
assert_not_contains "$OUT" "run $run started on" "--since 5m leaves out the import moved 10 minutes back"
assert_contains "$OUT" "backup $bk complete" "--since 5m keeps the backup"

# A wizard's run and a failed step (as the wizard engine records them in ops.wizard_runs and
# ops.wizard_steps) are entries of the kind 'wizard'.
psql_q "insert into ops.wizard_runs (local_id, runbook, title, operator, host, status, started_at, state)
          values ('tl-test', 'timeline-drill', 'Timeline drill', 'tester', 'h', 'running', now(), '{}');
        insert into ops.wizard_steps (run_id, seq, step_id, kind, title, started_at, ended_at, outcome, exit_status, reason)
          select id, 1, 's1', 'command', 'Check the disk', now(), now(), 'failed', 2, 'disk full'
          from ops.wizard_runs where local_id = 'tl-test'" >/dev/null
expect_exit 0 "timeline with a wizard run" $MT timeline
assert_contains "$OUT" "wizard timeline-drill #" "the wizard's start is an entry"
printf '%s\n' "$OUT" | grep -qE "wizard +wizard timeline-drill #[0-9]+ step 1 Check the disk: failed \(exit 2\): disk full" &&
	ok "the wizard's step is an entry with its outcome" || fail "the wizard's step is an entry" "$OUT"

# A cancel from the sessions commands is an entry of the kind 'cancel'.
psql "$MIDSOPS_DSN application_name=timeline_sleeper" -XAtq -c "select pg_sleep(60)" >/dev/null 2>&1 &
sleeper=$!
spid=""
i=0
while [ -z "$spid" ] && [ $i -lt 50 ]; do
	spid=$(psql_q "select pid from pg_stat_activity where application_name = 'timeline_sleeper' and state = 'active'")
	[ -z "$spid" ] && sleep 0.1
	i=$((i + 1))
done
expect_exit 0 "session-cancel of a sleeping query" $MT session-cancel "$spid" --yes
wait "$sleeper" 2>/dev/null
expect_exit 0 "timeline after a cancel" $MT timeline
printf '%s\n' "$OUT" | grep -qE "^[0-9-]+ [0-9:]+ +cancel +.*$spid" &&
	ok "the cancel is an entry of the kind cancel" || fail "the cancel is an entry" "$OUT"

expect_exit 0 "timeline --json" $MT timeline --json
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = d["timeline"]
assert t and d["entries"] == len(t), d
kinds = [e["kind"] for e in t]
assert "backup" in kinds and "import" in kinds, kinds
b = kinds.index("backup"); i = kinds.index("import")
assert b < i, kinds
assert all(e["time"] and e["summary"] and e["level"] for e in t), t[0]
assert d["since_seconds"] == 7200, d["since_seconds"]
' 2>"$TEST_TMP/json.err" && ok "--json: entries with time, kind, summary, level; backup before import" ||
	fail "--json shape" "$(cat "$TEST_TMP/json.err")"

expect_exit 0 "timeline --markdown" $MT timeline --markdown --since 4h
md=$OUT
assert_contains "$md" "## Timeline: the last 4h" "markdown: a heading with the window"
assert_contains "$md" "| Time | Kind | Level | Summary |" "markdown: a table header"
assert_contains "$md" "| --- | --- | --- | --- |" "markdown: the header's rule"
printf '%s\n' "$md" | grep -qE "^\| [0-9-]{10} [0-9:]{8} \| backup \| info \| backup $bk complete" &&
	ok "markdown: the backup is a table row" || fail "markdown: the backup row" "$md"
rows=$(printf '%s\n' "$md" | grep -c '^| [0-9]')
[ "$rows" -ge 4 ] && ok "markdown: $rows rows" || fail "markdown: rows" "$rows"
# every row has four cells: a pipe in a message must not add a column
psql_q "insert into ops.events (level, source, message) values ('warning', 'import', 'a | pipe')" >/dev/null
expect_exit 0 "timeline --markdown (a pipe in a message)" $MT timeline --markdown
bad=$(printf '%s\n' "$OUT" | grep '^|' | awk -F' [|] ' '{ if (NF != 4) print }' | grep -v -- '---' | head -n 2)
assert_eq "$bad" "" "markdown: every row has four cells (pipes escaped)"
assert_contains "$OUT" 'a \| pipe' "markdown: the pipe is escaped"
[ -d "$TEST_TMP/reports" ] && fail "markdown outside the console writes no file" "$(ls "$TEST_TMP/reports")" ||
	ok "markdown outside the console writes no file"
expect_exit 0 "timeline --markdown as from the console bar" env MIDSOPS_IN_CONSOLE=1 $MT timeline --markdown
f=$(ls "$TEST_TMP"/reports/timeline-*.md 2>/dev/null | head -n 1)
[ -n "$f" ] && grep -q "backup $bk complete" "$f" && ok "from the console bar, a copy in the reports dir" ||
	fail "from the console bar, a copy in the reports dir" "$(ls "$TEST_TMP/reports" 2>&1)"
assert_contains "$OUT" "written to $f" "the copy's path is said"

expect_exit 64 "timeline --since soon" $MT timeline --since soon
assert_contains "$OUT" "wants a duration like" "a bad duration says what it wants"
expect_exit 64 "timeline --since 0" $MT timeline --since 0
expect_exit 64 "timeline --markdown --json" $MT timeline --markdown --json
