# The console against a server that stops and starts again: panes say so within 2 s,
# the console keeps working, and it reconnects by itself. Uses a second private cluster
# of its own; the shared test cluster is never stopped.
. "$TOP/tests/tui/console_lib.sh"

E=$TEST_TMP/srv
mkdir -p "$E" && chmod 0700 "$E"
export_env="XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 3))"
if ! env $export_env "$MIDSOPS" cluster start >"$TEST_TMP/start.log" 2>&1; then
	fail "second private cluster starts" "$(cat "$TEST_TMP/start.log")"
	return 0 2>/dev/null || exit 0
fi
DSN2=$(env $export_env "$MIDSOPS" cluster status --json | json_get conninfo)
# One finished import, so the import pane has details (they count the NOTIFYs received).
MIDSOPS_DSN=$DSN2 env $export_env "$MIDSOPS" db-create >/dev/null 2>&1
psql "$DSN2" -XAtq -c "insert into ops.import_runs (state, phase, finished_at) values ('completed', 'done', now())" >/dev/null 2>&1
# The health pane's first line: 'connected  up ...' at the left border. Not a bare
# 'connected  up', which 'disconnected  up 2s' (the last figures kept) holds too.
UP='│connected  up'
S=srv$$
MIDSOPS_DSN=$DSN2 console_start "$S"
expect_screen "console connects to the second cluster" "$S" "$UP" 100
# notifies_are N: the import pane's details (a snapshot when opened) count N NOTIFYs.
notifies_are() {
	keys "$S" Enter
	wait_for "$S" "NOTIFY midsops_import received: " 20 || return 1
	screen_re "$S" "NOTIFY midsops_import received: $1 "
	_nr=$?
	keys "$S" Escape
	wait_gone "$S" "NOTIFY midsops_import received: " 20
	return $_nr
}
keys "$S" Tab
expect_screen "the import pane takes the focus" "$S" "> Import progress" 20
wait_until 50 notifies_are 0 && ok "no NOTIFY received yet" || fail "no NOTIFY received yet" "$(screen "$S" | head -20)"

# A backend that stops answering (as across a dead network: statement_timeout cannot
# fire) is given up after the query deadline, and the console connects anew.
bp=$(psql "$DSN2" -XAtq -c "select pid from pg_stat_activity where application_name = 'midsops console'" | head -n 1)
if [ -n "$bp" ] && kill -STOP "$bp" 2>/dev/null; then
	expect_screen "a silent server first makes the panes stale" "$S" "stale" 60
	# 'the server stopped answering' is on screen only until the new connection is up, a
	# fraction of a second: the console records the loss and its reason in ops.events.
	lost_recorded() { [ "$(psql "$DSN2" -XAtq -c "select count(*) from ops.events where source = 'console' and message like 'lost the connection%: the server stopped answering%'" 2>&1)" -ge 1 ] 2>/dev/null; }
	wait_until 200 lost_recorded && ok "then the console gives the connection up" ||
		fail "then the console gives the connection up" "$(psql "$DSN2" -XAtq -c "select level, message from ops.events where source = 'console'" 2>&1)"
	kill -CONT "$bp" 2>/dev/null
	expect_screen "and connects anew" "$S" "$UP" 100
else
	skip "silent server" "cannot stop the console's backend"
fi

env $export_env "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
t0=$(date +%s%N)
if wait_for "$S" "disconnected since" 20; then
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	ok "panes say disconnected within 2 s (${ms} ms)"
else
	fail "panes say disconnected within 2 s" "$(screen "$S" | head -8)"
fi
expect_screen "the message says it is retrying" "$S" ", retrying" 10
expect_screen "the header turns CRITICAL" "$S" "CRITICAL" 20
keys "$S" ':' 'version' Enter
expect_screen "the command bar works while disconnected" "$S" "[exit 0: version" 50
keys "$S" '?'
expect_screen "keys work while disconnected" "$S" "midsops console: keys" 20
keys "$S" Escape

env $export_env "$MIDSOPS" cluster start >/dev/null 2>&1
expect_screen "the console reconnects by itself" "$S" "$UP" 100
wait_gone "$S" "disconnected since" 50 && ok "the disconnected message goes" || fail "reconnect clears message" "$(screen "$S" | head -5)"
# LISTEN again after the reconnect: the new session receives a NOTIFY (which makes the
# import pane re-probe at once). The pane's figures are back, so the setup (LISTEN) ran.
if psql "$DSN2" -XAtq -c "notify midsops_import, 'test'" >/dev/null 2>&1; then
	wait_until 50 notifies_are 1 && ok "a NOTIFY after the reconnect is received" ||
		fail "a NOTIFY after the reconnect is received" "$(screen "$S" | head -20)"
else
	fail "a NOTIFY after the reconnect is received" "psql could not send it"
fi
keys "$S" q
expect_screen "q quits" "$S" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
env $export_env "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
