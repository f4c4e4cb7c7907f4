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
S=imp$$
console_start "$S"
expect_screen "console up for the import" "$S" "connected  up" 100
keys "$S" ':' "import $SRC" Enter
expect_screen "the import runs as a child of the console" "$S" "(running: import" 50
# import changes data: Ctrl-C asks before stopping it; n lets it go on.
keys "$S" C-c
expect_screen "Ctrl-C on a destructive command asks first" "$S" "'import' changes data. Stop it now?" 20
keys "$S" n
wait_gone "$S" "Stop it now?" 20 && ok "n lets the import go on" || fail "n lets the import go on" "prompt stays"
want=$((before + 1))
expect_screen "the progress pane shows the new run" "$S" "run #$want" 300
# Sample the pane while the import runs: the figures must move, live.
files_seen=$TEST_TMP/files-seen
: >"$files_seen"
i=0
while [ $i -lt 3000 ]; do
	scr=$(screen "$S")
	printf '%s\n' "$scr" | grep -ao 'files [0-9]*/[0-9]*' | head -n 1 >>"$files_seen"
	printf '%s\n' "$scr" | grep -aq 'run #[0-9]* import running' && echo running >>"$files_seen"
	case "$scr" in *"[exit"*) break ;; esac
	sleep 0.2
	i=$((i + 1))
done
expect_screen "the import finishes" "$S" "[exit" 10
expect_screen "the progress pane shows it completed" "$S" "completed" 100
assert_contains "$(screen "$S")" "files " "the progress pane shows files"
assert_contains "$(screen "$S")" "records " "the progress pane shows records"
assert_contains "$(screen "$S")" "rate " "the progress pane shows the rate"
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
keys "$S" ':' 'import-status ' Tab Tab
i=0; found=""
while [ $i -lt 30 ]; do
	scr=$(screen "$S")
	case "$scr" in *":import-status $want"*) found=1; break ;; esac
	printf '%s\n' "$scr" | grep -a '^│' | grep -aqE "(│| )$want( |│)" && { found=1; break; }
	sleep 0.1; i=$((i + 1))
done
[ -n "$found" ] && ok "Tab completes run ids" || fail "Tab completes run ids" "$(screen "$S" | tail -8)"
keys "$S" Escape
keys "$S" q
expect_screen "q quits after the import" "$S" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
