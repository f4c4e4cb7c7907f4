# The console: panes, help, command bar, history, completion, details, filter, zoom,
# pause, refresh interval, :save, themes, resize, a stuck probe, quitting.
. "$TOP/tests/tui/console_lib.sh"

"$MIDSOPS" db-create >/dev/null 2>&1
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[midsops]\nrefresh = 1\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"
# A password in the target must never reach the screen or a child's argv (the test
# cluster trusts local connections, so it is not checked).
# ~/.inputrc is honoured: a macro bound there types a command.
mkdir -p "$TEST_TMP/home"
printf '"\\C-t": "db-check --help"\n' >"$TEST_TMP/home/.inputrc"
S=con$$
MIDSOPS_DSN="$MIDSOPS_DSN password=Sekr1tPw" console_start "$S" "HOME=$TEST_TMP/home"

expect_screen "console starts and shows the health pane" "$S" "Database health" 50
for title in "Import progress" "Cache statistics" "Recent errors" "Output"; do
	expect_screen "pane title: $title" "$S" "$title" 10
done
expect_screen "health pane: connected" "$S" "connected  up" 50
expect_screen "health pane: connections of max_connections" "$S" "connections 1 of"
expect_screen "health pane: buffer hit ratio" "$S" "buffer hit"
expect_screen "health pane: TPS figure" "$S" "TPS"
expect_screen "health pane: waiting locks" "$S" "waiting locks 0"
expect_screen "cache pane: PostgreSQL buffer cache per database" "$S" "PostgreSQL buffer cache, per database"
if [ "$(psql_q "select to_regclass('cache.entries') is not null")" = t ]; then
	expect_screen "cache pane: application cache figures" "$S" "app cache"
else
	expect_screen "cache pane: cache layer not installed" "$S" "cache layer not installed"
fi
if [ "$(psql_q "select count(*) from ops.import_runs" 2>/dev/null)" = 0 ] ||
	[ "$(psql_q "select to_regclass('ops.import_runs') is null")" = t ]; then
	expect_screen "import pane: no imports yet" "$S" "no imports yet"
else
	expect_screen "import pane: a run" "$S" "run #"
fi
expect_screen "header: environment, server version, interval" "$S" "every 1s"
expect_screen "header: PostgreSQL version" "$S" "PostgreSQL 15"
assert_not_contains "$(screen "$S")" "Sekr1tPw" "the password is never on screen"

# Help lists every key.
keys "$S" '?'
expect_screen "? opens the help screen" "$S" "midsops console: keys"
# The overlay's title is drawn before the lines below it: wait for each key, not one capture.
for k in "Tab, Shift-Tab" "Up, Down" "PgUp, PgDn" "Home, End" "Enter " "  :  " "  /  " "? or F1" \
	"Space or p" "+ or -" "  z  " "Ctrl-L" "Ctrl-C" "Esc" "  q  "; do
	expect_screen "help lists key '$k'" "$S" "$k" 20
done
keys "$S" Escape
wait_gone "$S" "midsops console: keys" 20 && ok "Esc closes help" || fail "Esc closes help" "still shown"
keys "$S" F1
expect_screen "F1 opens help too" "$S" "midsops console: keys" 20
keys "$S" q

# A command from the bar runs as a child; its output streams into the output area.
keys "$S" ':'
keys "$S" 'version' Enter
expect_screen "a command from the bar shows its output" "$S" "[exit 0: version" 50
# The area shows the newest lines: the command's last line stands right above its [exit line.
last=$(MIDSOPS_SHARE=$TOP "$MIDSOPS" --no-color version 2>/dev/null | tail -n 1 | cut -c1-40)
expect_screen "the output area holds the command's output" "$S" "${last:-(version printed nothing)}" 20
keys "$S" ':'
keys "$S" 'db-check' Enter
expect_screen "db-check runs from the bar against the console's target" "$S" ": db-check, " 100
if grep -qs Sekr1tPw /proc/[0-9]*/cmdline; then fail "no password in any argv" "found"; else ok "no password in any argv"; fi

# History: Up recalls, Ctrl-R searches, the file is kept.
keys "$S" ':' Up
expect_screen "Up recalls the last command" "$S" ":db-check" 20
keys "$S" Escape
keys "$S" ':' C-r
keys "$S" 'vers'
expect_screen "Ctrl-R searches the history" "$S" "(reverse-i-search)\`vers': version" 20
keys "$S" Escape
assert_contains "$(cat "$XDG_STATE_HOME/midsops/history" 2>/dev/null)" "db-check" "history is saved in XDG_STATE_HOME/midsops/history"

keys "$S" ':' C-t
expect_screen "~/.inputrc bindings work in the command bar" "$S" ":db-check --help" 20
keys "$S" Escape

# Tab completion of command names and of arguments.
keys "$S" ':' 'db-chec' Tab
expect_screen "Tab completes a command name" "$S" ":db-check" 20
keys "$S" Escape
keys "$S" ':' 'theme high' Tab
expect_screen "Tab completes a theme name" "$S" ":theme high-contrast" 20
keys "$S" Escape

# Recent errors: newest first, details on Enter, filter.
psql_q "insert into ops.events(level, source, message) values ('warning', 'test', 'older warning')" >/dev/null
psql_q "insert into ops.events(level, source, message) values ('error', 'test', 'disk on fire')" >/dev/null
expect_screen "errors pane shows ops.events warnings" "$S" "disk on fire" 50
# UTF-8: wide and accented characters are cut at the pane's width, borders stay put.
psql_q "insert into ops.events(level, source, message) values ('warning', 'test', 'Überprüfung 漢字テスト ñandú ' || repeat('漢字', 40))" >/dev/null
expect_screen "errors pane shows UTF-8 text" "$S" "Überprüfung 漢字" 50
bad=$(screen "$S" | python3 -c '
import sys, unicodedata
def w(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in s)
for line in sys.stdin.read().split("\n"):
    if "Überprüfung" in line and w(line) != 100:
        print(w(line), line)')
assert_eq "$bad" "" "UTF-8 lines are cut at the right display width"
# The health pane's size is an estimate; its details say what it counts.
keys "$S" Enter
expect_screen "the health pane's details say what its size counts" "$S" "is estimated: the pages of tables" 20
expect_screen "and where the exact size is" "$S" "exact pg_database_size" 20
keys "$S" Escape
keys "$S" Tab Tab Tab
expect_screen "Tab moves the focus to the errors pane" "$S" "> Recent errors" 20
keys "$S" Enter
expect_screen "Enter shows the details of an error" "$S" "message:" 20
expect_screen "details name the source" "$S" "source:    test" 20
keys "$S" Escape
keys "$S" '/' 'older' Enter
expect_screen "/ filters the focused list" "$S" "[filter: older]" 20
# The pane's title is drawn before its list: wait for the hidden line to go.
wait_gone "$S" "disk on fire" 20 && ok "the filter hides what does not match" ||
	fail "the filter hides what does not match" "'disk on fire' still on screen"
expect_screen "the filter keeps what matches" "$S" "older warning" 20
keys "$S" '/' BSpace BSpace BSpace BSpace BSpace Enter
expect_screen "an empty filter shows everything again" "$S" "disk on fire" 20
keys "$S" BTab
expect_screen "Shift-Tab moves the focus back" "$S" "> Cache statistics" 20

# Zoom, pause, refresh interval, redraw.
keys "$S" z
wait_gone "$S" "Recent errors" 20 && ok "z zooms the focused pane" || fail "z zooms" "other panes still shown"
keys "$S" z
expect_screen "z again returns to all panes" "$S" "Recent errors" 20
keys "$S" p
expect_screen "p pauses" "$S" "PAUSED" 20
keys "$S" Space
wait_gone "$S" "PAUSED" 20 && ok "Space resumes" || fail "Space resumes" "still paused"
keys "$S" +
expect_screen "+ lengthens the refresh interval" "$S" "every 2s" 20
keys "$S" - -
expect_screen "- shortens it" "$S" "every 0.5s" 20
keys "$S" +
expect_screen "+ again: back to every 1s" "$S" "every 1s" 20
# Ctrl-L: garble the terminal behind curses' back (curses sends only what changed, so the
# pane titles stay wiped), then Ctrl-L must repaint all of it.
ptty=$(tm display-message -p -t "$S" '#{pane_tty}')
printf '\033[H\033[2JGARBLED-BY-THE-TEST' >"$ptty"
wait_for "$S" "GARBLED-BY-THE-TEST" 20 && wait_gone "$S" "Database health" 20 ||
	fail "the terminal is garbled before Ctrl-L" "$(screen "$S" | head -5)"
keys "$S" C-l
expect_screen "Ctrl-L redraws" "$S" "Database health" 20
wait_gone "$S" "GARBLED-BY-THE-TEST" 20 && ok "Ctrl-L wipes what curses did not draw" ||
	fail "Ctrl-L wipes what curses did not draw" "$(screen "$S" | head -5)"

# Themes and :save.
keys "$S" ':' 'theme dark' Enter
expect_screen ":theme switches the theme" "$S" "theme dark" 20
keys "$S" ':' 'theme nosuch' Enter
expect_screen ":theme refuses an unknown theme" "$S" "no theme 'nosuch'" 20
keys "$S" ':' 'save' Enter
expect_screen ":save saves the settings" "$S" "settings saved" 20
conf=$(cat "$XDG_CONFIG_HOME/midsops/midsops.conf")
assert_contains "$conf" "theme = dark" ":save wrote the theme"
assert_contains "$conf" "refresh = 1" ":save wrote the refresh interval"
assert_contains "$conf" "focus = cache" ":save wrote the focused pane"
expect_exit 0 "the saved config still loads" "$MIDSOPS" config show

# A probe stuck behind a lock marks its pane stale; typing still works. The lock is held
# until the test lets it go (a lock for a fixed time could end before a loaded console looks).
PGAPPNAME=midsops-test-lock psql "$MIDSOPS_DSN" -XAtq -c "begin; lock table ops.events in access exclusive mode; select pg_sleep(300); commit" >/dev/null 2>&1 &
lockpid=$!
expect_screen "a probe stuck behind a lock marks the pane stale" "$S" "(stale)" 50
keys "$S" ':' 'help version' Enter
expect_screen "the bar still works while a probe waits" "$S" "usage: midsops version" 30
assert_eq "$(psql_q "select count(*) from pg_locks l join pg_stat_activity a using (pid) where a.application_name = 'midsops-test-lock' and l.mode = 'AccessExclusiveLock' and l.relation = 'ops.events'::regclass and l.granted")" 1 "the lock was still held"
psql_q "select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'midsops-test-lock'" >/dev/null
wait "$lockpid" 2>/dev/null
wait_gone "$S" "(stale)" 100 && ok "the pane recovers when the lock goes" || fail "stale recovers" "still stale"

# Resize down to 80x24 and below. tmux crops the old frame at once, and every title stays on
# it: wait for the layout drawn for the new size (the panes side by side 40 columns wide each,
# which a cropped 100-column frame never shows).
tm resize-window -t "$S" -x 80 -y 24
expect_screen_re "80x24: the panes are laid out anew" "$S" "^┌[^┐]{38}┐┌[^┐]{38}┐\$" 50
for title in "Database health" "Import progress" "Cache statistics" "Recent errors" "Output"; do
	expect_screen "80x24 still shows the pane $title" "$S" "$title" 20
done
tm resize-window -t "$S" -x 70 -y 20
expect_screen "below 80x24 the console says the terminal is too small" "$S" "terminal too small" 20
tm resize-window -t "$S" -x 100 -y 30
expect_screen_re "growing again restores the panes" "$S" "^┌[^┐]{48}┐┌[^┐]{48}┐\$" 50
expect_screen "growing again: the health pane is back" "$S" "Database health" 20

# Ctrl-C stops a running command; q asks first while one runs.
keys "$S" ':' 'watch --interval 1' Enter
expect_screen "a long command streams output" "$S" "all probes ran" 80
keys "$S" C-c
# Its own [exit line: the area may still show the [exit line of a command before it.
expect_screen_re "Ctrl-C stops the running command" "$S" "\\[exit [0-9]+: watch" 50
wait_gone "$S" "(running: watch" 20 || fail "the output pane says the command ended" "$(screen "$S" | tail -8)"
keys "$S" ':' 'watch --interval 1' Enter
expect_screen "second long command runs" "$S" "(running: watch" 50
keys "$S" q
expect_screen "q asks while a command runs" "$S" "still running. Stop it and quit?" 20
keys "$S" n
wait_gone "$S" "Stop it and quit?" 20 && ok "n keeps the console" || fail "n keeps" "prompt stays"
keys "$S" q
expect_screen "q asks again" "$S" "Stop it and quit?" 20
keys "$S" y
expect_screen "y quits, ending the child" "$S" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null

# A console that is hung up (its terminal closed) stops the command it runs.
S2=hup$$
console_start "$S2"
expect_screen "a second console starts" "$S2" "connected  up" 100
keys "$S2" ':' 'watch --interval 1' Enter
expect_screen "it runs a long command" "$S2" "(running: watch" 50
# This console's own child, once it has exec'd (the title can show it a moment before).
conpid=$(pgrep -P "$(tm list-panes -t "$S2" -F '#{pane_pid}')" -f " console\$" | head -n 1)
find_child() { cpid=$(pgrep -P "${conpid:-0}" -f "watch --interval 1" | head -n 1); [ -n "$cpid" ]; }
cpid=
wait_until 50 find_child
tm kill-session -t "$S2" 2>/dev/null
child_gone() { ! kill -0 "$cpid" 2>/dev/null; }
if [ -n "$cpid" ] && wait_until 50 child_gone; then ok "a hung-up console stops its command"
else fail "a hung-up console stops its command" "pid ${cpid:-none} still there"; [ -n "$cpid" ] && kill "$cpid" 2>/dev/null; fi

# The console needs a terminal; watch is its batch twin.
expect_exit 64 "console without a terminal exits 64" "$MIDSOPS" console </dev/null
expect_exit 78 "console with an unknown environment is a configuration error" \
	env -u MIDSOPS_DSN "$MIDSOPS" --env nosuch console </dev/null
OUT=$("$MIDSOPS" watch --count 2 --interval 1 2>&1); rc=$?
# watch exits with the last snapshot's status, as status does (0..2 here).
[ "$rc" -le 2 ] && ok "watch --count 2 --interval 1 exits with a status" || fail "watch exit" "$rc: $OUT"
n=$(printf '%s\n' "$OUT" | grep -c '^== ')
assert_eq "$n" 2 "watch prints one snapshot per interval"
assert_contains "$OUT" "database" "watch snapshots hold the status sections"
expect_exit 3 "watch (a check) refuses a bad interval as UNKNOWN" "$MIDSOPS" watch --interval 0
