# The console under failure ("truth under failure"): a stopped server, a frozen backend, a
# locked table, a full server, an over-long paste and a stopped embedded cluster. Each check
# fails on the console as it was: last figures kept green, the reason cut in four panes,
# the header OK under stale panes, an outage forgotten after the reconnect, every pane stale
# behind one lock, a paste run shortened.
# Uses a private cluster of its own (the shared test cluster is never stopped or changed).
. "$TOP/tests/tui/console_lib.sh"

E=$TEST_TMP/srv
mkdir -p "$E" && chmod 0700 "$E"
PORT=$((MIDSOPS_PGPORT + 21))
menv() { env XDG_DATA_HOME="$E/data" XDG_STATE_HOME="$E/state" MIDSOPS_PGPORT="$PORT" "$@"; }
frozen=""
fillers=""
cleanup_outage() {
	[ -n "$frozen" ] && kill -CONT $frozen 2>/dev/null
	[ -n "$fillers" ] && kill $fillers 2>/dev/null
	menv "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
}
trap cleanup_outage EXIT
if ! menv "$MIDSOPS" cluster start >"$TEST_TMP/start.log" 2>&1; then
	fail "outage: private cluster starts" "$(cat "$TEST_TMP/start.log")"
	return 0 2>/dev/null || exit 0
fi
DSN2=$(menv "$MIDSOPS" cluster status --json | json_get conninfo)
MIDSOPS_DSN=$DSN2 "$MIDSOPS" db-create >/dev/null 2>&1
q2() { psql "$DSN2" -XAtq -c "$1" 2>&1; }

# console_colour SESSION [VAR=VALUE...]: console_start without NO_COLOR, on a colour
# terminal (as test_console_colour.sh), 80x24, against the private cluster ($CDSN; empty:
# the embedded cluster).
CDSN=$DSN2
console_colour() {
	sess=$1; shift
	w=$TEST_TMP/$sess.sh
	{
		echo '#!/bin/sh'
		echo 'unset NO_COLOR MIDSOPS_DSN'
		printf "export XDG_STATE_HOME='%s' XDG_CONFIG_HOME='%s'\n" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME"
		[ -n "$CDSN" ] && printf "export MIDSOPS_DSN='%s'\n" "$CDSN"
		printf "export TERM=tmux-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 MIDSOPS_SHARE='%s'\n" "$TOP"
		for kv in "$@"; do printf "export %s\n" "$kv"; done
		printf "exec '%s' console\n" "$MIDSOPS"
	} >"$w"
	chmod +x "$w"
	tm kill-session -t "$sess" 2>/dev/null
	tm new-session -d -x 80 -y 24 -s "$sess" "$w; echo CONSOLE-EXITED \$?; sleep 60"
}
# Lines in the OK colour (green: SGR 32, alone or among other parameters).
green() { tm capture-pane -e -p -t "$1" | grep -c "$(printf '\033')\[\([0-9;]*;\)\{0,1\}32\(;[0-9;]*\)\{0,1\}m"; }
# The banner: the lines between the header and the first pane, joined by blanks.
banner() { screen "$1" | sed -n '2,$p' | sed '/^┌/,$d' | sed 's/^ *//; s/ *$//' | tr '\n' ' '; }
header() { screen "$1" | head -n 1; }
# until TENTHS COMMAND...: poll with wait_for's deadline rules (TEST_TIME_FACTOR).
until_ok() {
	n=$(( $1 * ${TEST_TIME_FACTOR:-1} )); shift
	i=0
	while [ "$i" -lt "$n" ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
banner_has() { case "$(banner "$1")" in *"$2"*) return 0 ;; esac; return 1; }
header_not_ok() { h=$(header "$1"); case "$h" in *" OK"*) return 1 ;; *WARNING*|*CRITICAL*|*UNKNOWN*) return 0 ;; esac; return 1; }
sql_is() { [ "$(q2 "$1")" = "$2" ]; }

mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[midsops]\nrefresh = 1\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"
S=out$$
console_colour "$S"
expect_screen "outage: the console connects" "$S" "connected  up" 100
has_green() { [ "$(green "$1")" -gt 0 ]; }
no_green() { [ "$(green "$1")" -eq 0 ]; }
until_ok 20 has_green "$S"
n=$(green "$S")
[ "$n" -gt 0 ] && ok "healthy figures are in the OK colour ($n lines), so its absence below means something" ||
	fail "healthy figures are in the OK colour" "no green on screen: the colour checks below would prove nothing"

# --- A lock on ops.import_runs, which only the import probe reads: only that pane goes stale.
psql "$DSN2 application_name=outage_locker" -XAtq -c \
	"begin; lock table ops.import_runs in access exclusive mode; select pg_sleep(300)" >/dev/null 2>&1 &
locker=$!
expect_screen "a locked ops.import_runs makes the import pane stale" "$S" "Import progress (stale)" 100
# Over several refreshes (1 s each) the other panes never go stale: sample for 4 s.
others=""
i=0
while [ $i -lt 40 ]; do
	scr=$(screen "$S")
	for p in "Database health (stale)" "Cache statistics (stale)" "Recent errors (stale)"; do
		case "$scr" in *"$p"*) others="$others|$p" ;; esac
	done
	sleep 0.1
	i=$((i + 1))
done
assert_eq "$others" "" "the lock leaves the health, cache and errors panes fresh"
assert_contains "$(screen "$S")" "Import progress (stale)" "the import pane stays stale while the lock is held"
until_ok 30 header_not_ok "$S" && ok "the header is not OK while a pane is stale: $(header "$S" | sed 's/.*  //')" ||
	fail "the header is not OK while a pane is stale" "$(header "$S")"
q2 "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'outage_locker'" >/dev/null
wait "$locker" 2>/dev/null
wait_gone "$S" "(stale)" 100 && ok "the import pane recovers when the lock goes" ||
	fail "the import pane recovers when the lock goes" "$(screen "$S" | head -4)"

outages=0
# --- A frozen server (its backend stopped): the header is not OK within the probe budget
# (a refresh, the 1 s statement_timeout and 1 s of slack), and the outage is dated from the
# last answer, not from when the console gave up.
bp=$(q2 "select pid from pg_stat_activity where application_name = 'midsops console'" | head -n 1)
# The time is taken after the kill (the last answer came before it) and compared in whole
# seconds cut down, not rounded: rounded, an answer in the second half of the second before
# 'date' read as a second later. One second of slack for an answer read from the socket
# just after; the give-up comes 4 s (statement_timeout + 3 s) after the last answer.
if [ -n "$bp" ] && kill -STOP "$bp" 2>/dev/null && t_freeze=$(date +%s); then
	frozen=$bp
	outages=$((outages + 1))
	t0=$(date +%s%N)
	if until_ok 50 header_not_ok "$S"; then
		ok "a frozen server: the header is not OK after $(( ($(date +%s%N) - t0) / 1000000 )) ms ($(header "$S" | sed 's/.*  //'))"
	else
		fail "a frozen server: the header is not OK within the probe budget" "$(header "$S")"
	fi
	expect_screen "a frozen server: the banner says so" "$S" "no answer from the server for" 50
	until_ok 20 no_green "$S" && ok "a frozen server: no figure in the OK colour" ||
		fail "a frozen server: no figure in the OK colour" "$(green "$S") green lines"
	# The console gives the connection up and makes a new one (only this backend is frozen).
	expect_screen "a frozen server: the console connects anew" "$S" "connected  up" 150
	kill -CONT "$bp" 2>/dev/null
	frozen=""
	if until_ok 100 sql_is "select count(*) >= 1 from ops.events where source = 'console' and message like 'lost the connection%'" t; then
		at=$(q2 "select floor(extract(epoch from max(at)))::bigint from ops.events where source = 'console' and message like 'lost the connection%'")
		[ "$at" -le $((t_freeze + 1)) ] && ok "the outage is dated from the last answer ($at <= frozen at $t_freeze + 1)" ||
			fail "the outage is dated from the last answer" "recorded $at, frozen at $t_freeze"
	else
		fail "a frozen server: the disconnect reaches ops.events" "$(q2 "select level, message from ops.events where source = 'console'")"
	fi
else
	skip "frozen server" "cannot stop the console's backend"
fi

# --- The server stopped.
outages=$((outages + 1))
wait_for "$S" "connected  up" 100
menv "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
expect_screen "server stopped: the banner says disconnected since" "$S" "disconnected since" 50
until_ok 100 banner_has "$S" "Is the server running locally and accepting connections on that socket?" &&
	ok "server stopped: the banner gives the full reason, wrapped" ||
	fail "server stopped: the banner gives the full reason, wrapped" "$(banner "$S")"
# The stale marks are on the panes' bottom borders, drawn after the banner above: wait for
# all four before reading the screen once.
stale_marks() { [ "$(screen "$1" | grep -ao 'stale, as of [0-2][0-9]:[0-5][0-9]:[0-5][0-9]' | wc -l)" -ge 4 ]; }
until_ok 20 stale_marks "$S"
scr=$(screen "$S")
n=$(printf '%s\n' "$scr" | grep -ac 's.PGSQL')
assert_eq "$n" 1 "server stopped: the reason is shown once, not in every pane"
n=$(printf '%s\n' "$scr" | grep -ao 'stale, as of [0-2][0-9]:[0-5][0-9]:[0-5][0-9]' | wc -l)
[ "$n" -ge 4 ] && ok "server stopped: the four database panes are marked 'stale, as of HH:MM:SS'" ||
	fail "server stopped: the panes are marked stale, as of" "$n marks: $scr"
assert_not_contains "$scr" "connected  up" "server stopped: no 'connected' line left"
case "$(header "$S")" in
*"CRITICAL: disconnected"*) ok "server stopped: the header names the outage" ;;
*) fail "server stopped: the header names the outage" "$(header "$S")" ;;
esac
assert_eq "$(green "$S")" 0 "server stopped: no stale figure in the OK colour"
# The 80x24 screen during the outage, kept for the record.
screen "$S" >"$TEST_TMP/outage-80x24.txt"
sed 's/^/    | /' "$TEST_TMP/outage-80x24.txt"
keys "$S" Enter
expect_screen "server stopped: Enter shows the reason in full" "$S" "reason:" 20
keys "$S" Escape

menv "$MIDSOPS" cluster start >/dev/null 2>&1
expect_screen "the console reconnects after the restart" "$S" "connected  up" 150
wait_gone "$S" "disconnected since" 50 && ok "the banner goes with the outage" || fail "the banner goes" "$(banner "$S")"
until_ok 100 sql_is "select count(*) >= $outages from ops.events where source = 'console' and level = 'error' and message like 'lost the connection%'" t &&
	ok "ops.events records the disconnect" ||
	fail "ops.events records the disconnect" "$(q2 "select level, message from ops.events where source = 'console'")"
until_ok 100 sql_is "select count(*) >= $outages from ops.events where source = 'console' and level = 'warning' and message like 'connected again after an outage%'" t &&
	ok "ops.events records the reconnect" ||
	fail "ops.events records the reconnect" "$(q2 "select level, message from ops.events where source = 'console'")"
expect_screen "the errors pane shows the disconnect" "$S" "console  lost the" 50
expect_screen "the errors pane shows the reconnect" "$S" "console  connected" 50
log=$(cat "$XDG_STATE_HOME/midsops/log/midsops.log" "$XDG_STATE_HOME"/midsops/log/*.log 2>/dev/null)
assert_contains "$log" "lost the connection" "midsops.log has the disconnect"
assert_contains "$log" "connected again after an outage" "midsops.log has the reconnect"
keys "$S" q
expect_screen "q quits" "$S" "CONSOLE-EXITED 0" 50

# --- A full server: the FATAL reason in full, in the banner and in the details.
q2 "alter system set max_connections = 3" >/dev/null
q2 "alter system set superuser_reserved_connections = 0" >/dev/null
menv "$MIDSOPS" cluster stop fast >/dev/null 2>&1
menv "$MIDSOPS" cluster start >/dev/null 2>&1
# client_connection_check_interval: a filler's backend ends as soon as its psql is killed.
filler() {
	psql "$DSN2 application_name=outage_filler options='-c client_connection_check_interval=100'" \
		-XAtq -c "select pg_sleep(300)" >/dev/null 2>&1 &
	fillers="$fillers $!"
}
full() { case "$(q2 "select 1")" in *"too many clients"*) return 0 ;; esac; return 1; }
# The poll itself takes a slot for a moment: a filler connecting just then is refused and
# exits. Start one anew for each that is gone, until the server is full.
fill_up() {
	full && return 0
	live=0
	for p in $fillers; do kill -0 "$p" 2>/dev/null && live=$((live + 1)); done
	while [ "$live" -lt 3 ]; do filler; live=$((live + 1)); done
	return 1
}
for f in 1 2 3; do filler; done
if until_ok 100 fill_up; then
	F=full$$
	console_colour "$F"
	until_ok 100 banner_has "$F" "FATAL: sorry, too many clients already" &&
		ok "a full server: the banner gives the FATAL reason in full" ||
		fail "a full server: the banner gives the FATAL reason in full" "$(banner "$F")"
	keys "$F" Enter
	expect_screen "a full server: Enter shows the reason" "$F" "reason:" 20
	details_full() { screen "$1" | tr -d '│' | tr -s ' \n' '  ' | grep -q "sorry, too many clients already"; }
	until_ok 20 details_full "$F"
	details=$(screen "$F" | tr -d '│' | tr -s ' \n' '  ')
	assert_contains "$details" "sorry, too many clients already" "a full server: the details hold the FATAL reason"
	keys "$F" Escape
	kill $fillers 2>/dev/null
	wait $fillers 2>/dev/null
	fillers=""
	expect_screen "a full server: the console connects once there is room" "$F" "connected  up" 150
else
	fail "a full server" "the filler sessions did not fill the server: $(q2 'select 1')"
	kill $fillers 2>/dev/null
	fillers=""
	F=full$$
	console_colour "$F"
	wait_for "$F" "connected  up" 150
fi

# --- A 10 KB paste is refused whole, and nothing runs.
head -c 10240 /dev/zero | tr '\0' 'A' | sed 's/^/version /' >"$TEST_TMP/paste.txt"
tm load-buffer -b outage "$TEST_TMP/paste.txt"
keys "$F" ':'
tm paste-buffer -d -b outage -t "$F"
keys "$F" Enter
expect_screen "a 10 KB paste is refused with a message" "$F" "refused a $(wc -c <"$TEST_TMP/paste.txt" | tr -d ' ')-byte line" 100
out=$(screen "$F")
assert_not_contains "$out" "$ midsops version" "the refused line never ran"
assert_not_contains "$out" "[exit" "no command ran at all"
assert_not_contains "$(cat "$XDG_STATE_HOME/midsops/history" 2>/dev/null)" "AAAAAAAA" "the refused line is not in the history"
keys "$F" q
expect_screen "q quits after the paste" "$F" "CONSOLE-EXITED 0" 50

# --- The embedded cluster stopped: shown as such, offering :cluster start, never started.
q2 "alter system reset max_connections" >/dev/null
q2 "alter system reset superuser_reserved_connections" >/dev/null
menv "$MIDSOPS" cluster stop fast >/dev/null 2>&1
cstate() { menv "$MIDSOPS" cluster status --json 2>/dev/null | json_get state; }
B=emb$$
CDSN=""
console_colour "$B" "XDG_DATA_HOME=$E/data" "MIDSOPS_PGPORT=$PORT"
until_ok 100 banner_has "$B" "embedded cluster stopped" && ok "a stopped embedded cluster is shown as such" ||
	fail "a stopped embedded cluster is shown as such" "$(screen "$B" | head -6)"
assert_contains "$(banner "$B")" ":cluster start" "the banner offers :cluster start"
case "$(header "$B")" in *CRITICAL*) ok "the header is CRITICAL for a stopped embedded cluster" ;;
*) fail "the header is CRITICAL for a stopped embedded cluster" "$(header "$B")" ;; esac
# The console looks again each second: over 3 s it must never have started it.
started=""
i=0
while [ $i -lt 30 ]; do
	[ "$(cstate)" = stopped ] || started=$(cstate)
	sleep 0.1
	i=$((i + 1))
done
assert_eq "$started" "" "the console does not start the embedded cluster"
keys "$B" ':' 'cluster start' Enter
expect_screen ":cluster start from the bar starts it and the console connects" "$B" "connected  up" 150
keys "$B" q
expect_screen "q quits the embedded console" "$B" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
tm kill-session -t "$F" 2>/dev/null
tm kill-session -t "$B" 2>/dev/null
cleanup_outage
trap - EXIT
