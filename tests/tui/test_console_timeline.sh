# The timeline view (T) after a disconnect, an import and a backup, and a check run from the
# bar: all kinds newest first, details on Enter, the filter, :timeline --since as Markdown.
# The host line under the header: load, CPU, memory and free disk figures.
# Uses a private cluster of its own (it is stopped and started; the shared one never is).
. "$TOP/tests/tui/console_lib.sh"

E=$TEST_TMP/srv
mkdir -p "$E" && chmod 0700 "$E"
PORT=$((MIDSOPS_PGPORT + 27))
menv() { env XDG_DATA_HOME="$E/data" XDG_STATE_HOME="$E/state" MIDSOPS_PGPORT="$PORT" "$@"; }
trap 'menv "$MIDSOPS" cluster stop immediate >/dev/null 2>&1' EXIT
if ! menv "$MIDSOPS" cluster start >"$TEST_TMP/start.log" 2>&1; then
	fail "timeline: private cluster starts" "$(cat "$TEST_TMP/start.log")"
	return 0 2>/dev/null || exit 0
fi
DSN2=$(menv "$MIDSOPS" cluster status --json | json_get conninfo)
MIDSOPS_DSN=$DSN2 "$MIDSOPS" db-create >/dev/null 2>&1
q2() { psql "$DSN2" -XAtq -c "$1" 2>&1; }

mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[midsops]\nrefresh = 1\nbackup_dir = %s/repo\nreports_dir = %s/reports\n' "$TEST_TMP" "$TEST_TMP" \
	>"$XDG_CONFIG_HOME/midsops/midsops.conf"
S=tl$$
SHARED_DSN=$MIDSOPS_DSN
MIDSOPS_DSN=$DSN2
console_start "$S"
MIDSOPS_DSN=$SHARED_DSN
tm resize-window -t "$S" -x 80 -y 24 2>/dev/null
expect_screen "timeline: the console connects" "$S" "connected  up" 100

# ? lists the key.
keys "$S" "?"
wait_for "$S" "midsops console: keys" 30
# 80x24 shows part of the help: scroll down a line at a time until it shows.
i=0
while [ $i -lt 40 ] && ! wait_for "$S" "T                  timeline: what happened" 2; do
	keys "$S" Down
	i=$((i + 1))
done
expect_screen "? help lists T, the timeline" "$S" "T                  timeline: what happened" 10
keys "$S" Escape
wait_gone "$S" "T                  timeline" 30

# --- The host line, second line of the screen at 80x24.
host_ok() { screen "$S" | sed -n 2p | LC_ALL=C.UTF-8 grep -qE 'load [0-9]+\.[0-9]{2}.*cpu .*[0-9]+%.*mem .*[0-9.]+G.*free data [0-9]+%  backup [0-9]+%  log [0-9]+%'; }
wait_until 50 host_ok && ok "the host line: load, cpu, mem, free disk of data, backup, log: $(screen "$S" | sed -n 2p | sed 's/  */ /g')" ||
	fail "the host line shows load, cpu, mem and disk figures" "$(screen "$S" | head -3)"
assert_eq "$(screen "$S" | sed -n 3p | cut -c1-3)" "┌" "the panes begin under the host line"
# The CPU figure is measured (two samples apart), not a placeholder.
assert_not_contains "$(screen "$S" | sed -n 2p)" "cpu --" "the CPU share is measured after a refresh"

# --- A disconnect: the cluster stopped, the banner, then started again.
menv "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
expect_screen "the server stopped: the banner says so" "$S" "disconnected since" 100
menv "$MIDSOPS" cluster start >/dev/null 2>&1
expect_screen "the console reconnects" "$S" "connected  up" 150
wait_gone "$S" "disconnected since" 50

# --- An import, then a backup (a second later: the order is by time), then a check from the bar.
sleep 1.1
MIDSOPS_DSN=$DSN2 "$MIDSOPS" import "$MINI_EXPORT" >"$TEST_TMP/import.log" 2>&1 &&
	ok "an import" || fail "an import" "$(tail -5 "$TEST_TMP/import.log")"
sleep 1.1
MIDSOPS_DSN=$DSN2 "$MIDSOPS" db-backup-archive >"$TEST_TMP/backup.log" 2>&1 &&
	ok "a backup" || fail "a backup" "$(tail -5 "$TEST_TMP/backup.log")"
sleep 1.1
keys "$S" ":db-check" Enter
expect_screen_re "a check from the bar" "$S" '\[exit [0-3]: db-check' 150
wait_until 100 sh -c "[ \"\$(psql '$DSN2' -XAtq -c \"select count(*) from ops.events where source = 'console' and message like 'check db-check run from the console: %'\")\" = 1 ]" &&
	ok "the check run from the bar is recorded in ops.events" ||
	fail "the check run from the bar is recorded in ops.events" "$(q2 "select level, message from ops.events where source = 'console'")"

# --- The timeline view.
keys "$S" T
expect_screen "T opens the timeline view" "$S" "Timeline: the last 24h" 50
expect_screen "the timeline shows the backup" "$S" "backup      backup " 100
scr=$(screen "$S")
printf '%s\n' "$scr" | sed 's/^/    | /'
row() { printf '%s\n' "$scr" | grep -nE "$1" | head -n 1 | cut -d: -f1; }
lc=$(row " check +check db-check run from the console: ")
lb=$(row " backup +backup .* complete")
li=$(row " import +run [0-9]+ promoted generation")
ls=$(row " import +run [0-9]+ started on")
lr=$(row " reconnect +connected again after an outage")
ld=$(row " disconnect +lost the connection")
[ -n "$lc" ] && [ -n "$lb" ] && [ -n "$li" ] && [ -n "$ls" ] && [ -n "$lr" ] && [ -n "$ld" ] &&
	[ "$lc" -lt "$lb" ] && [ "$lb" -lt "$li" ] && [ "$li" -lt "$ls" ] && [ "$ls" -lt "$lr" ] && [ "$lr" -lt "$ld" ] &&
	ok "newest first: check ($lc), backup ($lb), import end ($li) and start ($ls), reconnect ($lr), disconnect ($ld)" ||
	fail "newest first: check, backup, import, reconnect, disconnect" "lines $lc $lb $li $ls $lr $ld"
case "$(printf '%s\n' "$scr" | sed -n "${lb}p")" in
*[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\ *backup*) ok "an entry has its time, kind and summary" ;;
*) fail "an entry has its time, kind and summary" "$(printf '%s\n' "$scr" | sed -n "${lb}p")" ;;
esac
assert_not_contains "$scr" "Database health" "the timeline is shown in place of the panes"

# Enter: the selected entry (the newest, the check) in full.
keys "$S" Enter
expect_screen "Enter opens the details" "$S" "message:" 50
assert_contains "$(screen "$S")" "event:     #" "the details name the ops.events row"
keys "$S" Escape
wait_gone "$S" "message:" 30

# / filters the list.
keys "$S" / backup Enter
expect_screen "the filter shows in the title" "$S" "[filter: backup]" 30
wait_until 30 sh -c "! tmux -L '$TMUX_SOCKET' capture-pane -p -t '$S' | grep -q 'import      run'" &&
	ok "the filter 'backup' hides the import entries" || fail "the filter hides the import entries" "$(screen "$S")"
assert_contains "$(screen "$S")" "backup      backup " "the filter keeps the backup"
keys "$S" / BSpace BSpace BSpace BSpace BSpace BSpace Enter
wait_gone "$S" "[filter: backup]" 30 && ok "an empty filter clears it" || fail "an empty filter clears it" "$(screen "$S" | head -4)"

keys "$S" T
expect_screen "T again returns to the panes" "$S" "Database health" 30

# --- :timeline --since 2h from the bar: Markdown in the output area and in the reports dir.
keys "$S" ":timeline --since 2h" Enter
expect_screen ":timeline --since 2h runs the command" "$S" "[exit 0: timeline" 150
f=$(ls "$TEST_TMP"/reports/timeline-*.md 2>/dev/null | head -n 1)
[ -n "$f" ] && ok ":timeline wrote $f" || fail ":timeline writes a file in the reports dir" "$(ls "$TEST_TMP" 2>&1)"
md=$(cat "$f" 2>/dev/null)
assert_contains "$md" "| Time | Kind | Level | Summary |" "the file is a Markdown table"
for k in disconnect reconnect import backup check; do
	assert_contains "$md" " | $k | " "the Markdown has the $k entry"
done

# The sessions view (S) and the timeline take the panes' place one at a time.
keys "$S" S
expect_screen "S opens the sessions view" "$S" "Sessions and locks" 50
keys "$S" T
expect_screen "T from the sessions view opens the timeline" "$S" "Timeline: the last 24h" 50
assert_not_contains "$(screen "$S")" "Sessions and locks" "the sessions view gave way to the timeline"
keys "$S" S
expect_screen "S from the timeline opens the sessions view" "$S" "Sessions and locks" 50
assert_not_contains "$(screen "$S")" "Timeline: the last 24h" "the timeline gave way to the sessions view"
keys "$S" Escape
expect_screen "Esc returns to the panes" "$S" "Database health" 50

# The whole screen at 80x24, and at 160x48, for the record.
keys "$S" T
expect_screen "the timeline at 80x24" "$S" "Timeline: the last 24h" 50
screen "$S" >"$TEST_TMP/timeline-80x24.txt"
sed 's/^/    | /' "$TEST_TMP/timeline-80x24.txt"
tm resize-window -t "$S" -x 160 -y 48 2>/dev/null
wait_until 30 sh -c "[ \"\$(tmux -L '$TMUX_SOCKET' capture-pane -p -t '$S' | wc -l)\" -ge 48 ]"
expect_screen "the timeline keeps its state across a resize" "$S" "Timeline: the last 24h" 30
screen "$S" >"$TEST_TMP/timeline-160x48.txt"
sed 's/^/    | /' "$TEST_TMP/timeline-160x48.txt" | head -20
keys "$S" q
expect_screen "q quits" "$S" "CONSOLE-EXITED 0" 50

# --- The host line's colours follow [thresholds] disk_free as system-resources judges it:
# never past (plain), past the warning (yellow), past the critical (red).
esc=$(printf '\033')
sgr_has() { LC_ALL=C grep -c "$esc\[\([0-9;]*;\)\{0,1\}$1\(;[0-9;]*\)\{0,1\}m[^$esc]*data [0-9]"; }
host_colour() { # NAME THRESHOLDS SGR-WANTED
	mkdir -p "$TEST_TMP/cfg-$1/midsops"
	printf '[midsops]\nrefresh = 1\n[thresholds]\ndisk_free = %s\nmemory = 1000 2000\n' "$2" >"$TEST_TMP/cfg-$1/midsops/midsops.conf"
	MIDSOPS_DSN=$DSN2
	console_start "$S-$1" "XDG_CONFIG_HOME=$TEST_TMP/cfg-$1" "NO_COLOR=" "TERM=tmux-256color"
	MIDSOPS_DSN=$SHARED_DSN
	if ! wait_until 50 sh -c "tmux -L '$TMUX_SOCKET' capture-pane -p -t '$S-$1' | sed -n 2p | grep -q 'log [0-9]'"; then
		fail "host line with disk_free = $2" "$(screen "$S-$1" | head -3)"
		return
	fi
	line=$(tm capture-pane -e -p -t "$S-$1" | sed -n 2p)
	y=$(printf '%s\n' "$line" | sgr_has 33)
	r=$(printf '%s\n' "$line" | sgr_has 31)
	case "$3" in
	plain) [ "$y$r" = 00 ] && ok "disk_free = $2: the disk figures in the plain colour" || fail "disk_free = $2: plain" "yellow $y red $r: $(printf '%s' "$line" | od -c | head -5)" ;;
	33) [ "$y" = 1 ] && [ "$r" = 0 ] && ok "disk_free = $2: the disk figures turn yellow" || fail "disk_free = $2: yellow" "yellow $y red $r: $(printf '%s' "$line" | od -c | head -8)" ;;
	31) [ "$r" = 1 ] && ok "disk_free = $2: the disk figures turn red" || fail "disk_free = $2: red" "yellow $y red $r: $(printf '%s' "$line" | od -c | head -8)" ;;
	esac
	keys "$S-$1" q
	wait_for "$S-$1" "CONSOLE-EXITED" 50
}
host_colour never "0 0" plain
host_colour warn "101 0" 33
host_colour crit "101 101" 31

# --- A schema without the wizards' tables (older than them): the view falls back to
# ops.events alone (SQLSTATE 42P01), and still lists what happened.
q2 "drop table ops.wizard_steps; drop table ops.wizard_runs" >/dev/null
MIDSOPS_DSN=$DSN2
console_start "$S-old"
MIDSOPS_DSN=$SHARED_DSN
expect_screen "no wizard tables: the console connects" "$S-old" "connected  up" 100
keys "$S-old" T
expect_screen "no wizard tables: the timeline still lists the backup" "$S-old" "backup      backup " 100
assert_not_contains "$(screen "$S-old")" "probe failed" "no wizard tables: no probe failure shown"
keys "$S-old" q
wait_for "$S-old" "CONSOLE-EXITED" 50
