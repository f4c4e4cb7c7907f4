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
want=$((before + 1))
expect_screen "the progress pane shows the new run" "$S" "run #$want" 100
seen=$(screen "$S")
expect_screen "the import finishes" "$S" "[exit" 3000
expect_screen "the progress pane shows it completed" "$S" "completed" 100
assert_contains "$(screen "$S")" "files " "the progress pane shows files"
assert_contains "$(screen "$S")" "records " "the progress pane shows records"
assert_contains "$(screen "$S")" "rate " "the progress pane shows the rate"
case "$seen" in *"run #$want"*) ok "progress appeared while the import ran" ;; *) fail "progress live" "$seen" ;; esac
keys "$S" q
expect_screen "q quits after the import" "$S" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
