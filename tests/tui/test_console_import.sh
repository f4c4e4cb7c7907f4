# An import started from the command bar: the progress pane follows it live.
. "$TOP/tests/tui/console_lib.sh"

if ! "$MIDSOPS" help import >/dev/null 2>&1; then
	skip "console import" "the import command does not exist yet"
	return 0 2>/dev/null || exit 0
fi
SRC=$MINI_EXPORT
[ -d "$REAL_EXPORT" ] && SRC=$REAL_EXPORT
if [ ! -d "$SRC" ]; then
	skip "console import" "no export to import ($MINI_EXPORT)"
	return 0 2>/dev/null || exit 0
fi
"$MIDSOPS" db-create >/dev/null 2>&1
before=$(psql_q "select coalesce(max(id), 0) from ops.import_runs" 2>/dev/null || echo 0)
# import_pane SESSION: the text inside the import progress pane alone (the output area below
# holds the import's own summary, with 'completed', 'files' and 'records' in it too).
import_pane() {
	screen "$1" | LC_ALL=C awk -F'││' '/┐┌─ (> )?Import progress/{on=1; next} /┘└/{on=0} on {print $2}'
}
pane_has() { case "$(import_pane "$1")" in *"$2"*) return 0 ;; esac; return 1; }
expect_pane() {
	if wait_until "${4:-100}" pane_has "$2" "$3"; then ok "$1"; else
		fail "$1" "'$3' not in the import pane: $(import_pane "$2" | tr -s ' ' | head -c 800)"
	fi
}
# The mini export imports in half a second, which a loaded machine can spend before Ctrl-C
# arrives: hold the import at its first write to ops.import_runs (readers pass) until the
# keys are done with.
held() { [ "$(psql_q "select count(*) from pg_locks l join pg_stat_activity a using (pid) where a.application_name = 'midsops-test-hold' and l.granted and l.relation = 'ops.import_runs'::regclass")" = 1 ]; }
PGAPPNAME=midsops-test-hold psql "$MIDSOPS_DSN" -XAtq -c "begin; lock table ops.import_runs in exclusive mode; select pg_sleep(300); commit" >/dev/null 2>&1 &
holdpid=$!
wait_until 100 held || fail "ops.import_runs is locked for the test" "the lock was not taken"
S=imp$$
console_start "$S"
expect_screen "console up for the import" "$S" "connected  up" 100
keys "$S" ':' "import $SRC" Enter
expect_screen "the import runs as a child of the console" "$S" "(running: import" 50
# import changes data: Ctrl-C asks before stopping it; n lets it go on.
keys "$S" C-c
expect_screen "Ctrl-C on a destructive command asks first" "$S" "'import' changes data. Stop it now?" 20
keys "$S" n
wait_gone "$S" "Stop it now?" 20 && ok "n answers the question" || fail "n answers the question" "prompt stays"
expect_screen "n lets the import go on" "$S" "(running: import" 20
wait_until 20 held && ok "the import was still held when the keys were done" ||
	fail "the import was still held when the keys were done" "the lock was gone"
psql_q "select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'midsops-test-hold'" >/dev/null
wait "$holdpid" 2>/dev/null
want=$((before + 1))
expect_screen "the progress pane shows the new run" "$S" "run #$want" 300
# Sample the pane while the import runs: the figures must move, live.
files_seen=$TEST_TMP/files-seen
: >"$files_seen"
i=0
while [ $i -lt 3000 ]; do
	scr=$(screen "$S")
	printf '%s\n' "$scr" | grep -ao 'files [0-9]*/[0-9]*' | head -n 1 >>"$files_seen"
	if printf '%s\n' "$scr" | grep -aq 'run #[0-9]* import running'; then
		echo running >>"$files_seen"
		printf '%s\n' "$scr" | grep -aoE 'records counted at promote|[0-9]+ (files|rec)/s' | sed 's/^[0-9]* //' >>"$TEST_TMP/units-running"
	fi
	case "$scr" in *"[exit"*) break ;; esac
	sleep 0.2
	i=$((i + 1))
done
expect_screen "the import finishes" "$S" "[exit" 10
expect_pane "the progress pane shows it completed" "$S" "run #$want import completed" 100
expect_pane "the progress pane shows files" "$S" "files " 20
expect_pane "the progress pane shows records" "$S" "records " 20
expect_pane "the progress pane shows the rate" "$S" "rate " 20
expect_pane "once promoted, the rate is in records per second" "$S" " rec/s" 20
pane_done=$(import_pane "$S" | tr -s ' ')
if printf '%s\n' "$pane_done" | grep -Eq 'records [0-9.]+[kM]?( |$)'; then
	ok "records are the game rows counted at promote, one count, not a fraction of files"
else
	fail "records are the game rows counted at promote" "$pane_done"
fi
if [ -s "$TEST_TMP/units-running" ]; then
	if grep -q 'rec/s' "$TEST_TMP/units-running"; then
		fail "while it runs, the rate is in files per second" "$(sort -u "$TEST_TMP/units-running")"
	else
		ok "while it runs, the rate is in files per second ($(sort -u "$TEST_TMP/units-running" | tr '\n' ',' ))"
	fi
fi
distinct=$(grep -c . "$files_seen" | tr -d ' ')
moving=$(grep -a '^files' "$files_seen" | sort -u | wc -l)
if grep -q running "$files_seen" && [ "$moving" -ge 2 ]; then
	ok "the progress pane moved while the import ran ($moving distinct file counts)"
elif [ "$SRC" = "$MINI_EXPORT" ]; then
	skip "progress pane moving" "the mini export imports too fast to watch ($distinct samples)"
else
	fail "the progress pane moved while the import ran" "$(sort -u "$files_seen" | head -5)"
fi
# Run ids complete from ops.import_runs.
# With one run the id completes in place; with several, Tab Tab lists them in the output.
# (A list is looked for only when there are several, and only in the output area: a bare
# ' 1 ' is on many a line of the panes.)
keys "$S" ':' 'import-status ' Tab Tab
completed_id() {
	scr=$(screen "$S")
	case "$scr" in *":import-status $want"*) return 0 ;; esac
	[ "$before" -gt 0 ] || return 1
	printf '%s\n' "$scr" | sed -n '/┌─ \(> \)\{0,1\}Output/,$p' | grep -a '^│' | grep -aqE "(│| )$want( |│)"
}
wait_until 30 completed_id && ok "Tab completes run ids" || fail "Tab completes run ids" "$(screen "$S" | tail -8)"
keys "$S" Escape
keys "$S" q
expect_screen "q quits after the import" "$S" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
