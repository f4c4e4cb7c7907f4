# The console's sessions view (S): real sessions, one holding a lock and one waiting for
# it, shown with the blocking tree; the waiter's query whole on Enter; every database on a;
# a cancel after confirmation (n first, which does nothing), and its event in ops.events;
# a monitoring-only login sees the view, and c says why it is refused.
. "$TOP/tests/tui/console_lib.sh"

"$MIDSOPS" db-create >/dev/null 2>&1
psql_q "create table if not exists sess_t(i int)" >/dev/null
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[midsops]\nrefresh = 1\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"

psql "$MIDSOPS_DSN application_name=sess_blocker" -XAtq \
	-c "begin; lock table sess_t in access exclusive mode; select pg_sleep(120)" >/dev/null 2>&1 &
hold=$!
hpid=$(app_pid sess_blocker)
psql "$MIDSOPS_DSN application_name=sess_waiter" -XAtq -c "select count(*) from sess_t /* the waiter */" \
	>"$TEST_TMP/waiter.out" 2>&1 &
waitj=$!
wpid=$(app_pid sess_waiter)
psql "$BASE_DSN dbname=postgres application_name=sess_other" -XAtq -c "select pg_sleep(120)" >/dev/null 2>&1 &
other=$!

S=sess$$
console_start "$S"
expect_screen "console up" "$S" "connected  up" 300
keys "$S" S
expect_screen "S opens the sessions view" "$S" "Sessions and locks" 50
expect_screen "the blocker is listed" "$S" "sess_blocker" 50
expect_screen "the waiter is listed" "$S" "sess_waiter" 50
expect_screen_re "the waiter waits for a lock" "$S" "^.?$wpid .*Lock:relation" 50
assert_not_contains "$(screen "$S")" "sess_other" "another database's session is not shown"

# v cycles all, running, waiting, blocking tree.
keys "$S" v v v
expect_screen "the blocking tree view" "$S" "view blocking tree" 50
expect_screen_re "the waiter is shown under its blocker" "$S" "└$wpid .*sess_waiter" 50
scr=$(screen "$S")
lh=$(printf '%s\n' "$scr" | grep -n "^.$hpid .*sess_blocker" | head -n 1 | cut -d: -f1)
lw=$(printf '%s\n' "$scr" | grep -n "└$wpid" | head -n 1 | cut -d: -f1)
if [ -n "$lh" ] && [ -n "$lw" ] && [ "$lw" = $((lh + 1)) ]; then ok "the blocker's row, then its waiter's"
else fail "the blocker's row, then its waiter's" "$scr"; fi
assert_contains "$scr" "1 waiting, 1 blocking" "the view counts the waiting and the blocking"
if [ -n "${SESSIONS_CAPTURES:-}" ]; then
	mkdir -p "$SESSIONS_CAPTURES"
	for size in 80x24 160x48; do
		tm resize-window -t "$S" -x "${size%x*}" -y "${size#*x}"
		sleep 1.5
		screen "$S" >"$SESSIONS_CAPTURES/sessions-tree-$size.txt"
	done
	tm resize-window -t "$S" -x 100 -y 30
fi

# The filter, and Enter for the whole query.
keys "$S" / s e s s _ w a i t e r Enter
expect_screen "the filter applies to the view" "$S" "[filter: sess_waiter]" 50
wait_gone "$S" "sess_blocker  " 30
keys "$S" Enter
expect_screen "Enter shows the whole query" "$S" "select count(*) from sess_t /* the waiter */" 50
expect_screen "and who blocks it" "$S" "blocked by:  $hpid" 50
keys "$S" Escape

# c asks first, naming the pid and the query; n does nothing.
keys "$S" c
expect_screen "c asks, naming the pid" "$S" "Cancel the query of pid $wpid" 50
expect_screen "the question names the query" "$S" "sess_t /* the waiter */" 50
keys "$S" n
sleep 1
assert_eq "$(psql_q "select count(*) from pg_stat_activity where pid = $wpid and state = 'active'")" 1 \
	"n cancels nothing"
keys "$S" c
expect_screen "c asks again" "$S" "Cancel the query of pid $wpid" 50
keys "$S" y
expect_sql "after y, the cancel is in ops.events with the pid and the query" \
	"select count(*) from ops.events where source = 'session-cancel' and message like 'cancelled the query of backend $wpid %' and message like '%sess_t /* the waiter */%'" 1
wait "$waitj" 2>/dev/null
assert_contains "$(cat "$TEST_TMP/waiter.out")" "canceling statement due to user request" "the waiter's query was cancelled"
expect_screen "the view shows the command's last line" "$S" "last: [exit 0: session-cancel" 50

# a: every database; Esc back to the panes.
keys "$S" / BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace Enter
wait_gone "$S" "[filter:" 30
keys "$S" v a
expect_screen "v from the tree comes back to every session" "$S" "view all (v)" 50
expect_screen "a shows every database's sessions" "$S" "sess_other" 50
expect_screen "the view says every database" "$S" "in every database (a)" 50
keys "$S" Escape
wait_gone "$S" "Sessions and locks" 30 && ok "Esc returns to the panes" || fail "Esc returns to the panes" "$(screen "$S")"
expect_screen "the panes are back" "$S" "Recent errors" 30
keys "$S" '?'
expect_screen "? lists the sessions keys" "$S" "S                  sessions and locks" 30
keys "$S" Escape q
sleep 1
tm kill-session -t "$S" 2>/dev/null

# A monitoring-only login: the view without the actions.
"$MIDSOPS" db-roles >/dev/null 2>&1
psql_q "drop role if exists sess_tmon; create role sess_tmon login; grant midsops_monitor to sess_tmon" >/dev/null 2>&1
M=smon$$
SAVE_DSN=$MIDSOPS_DSN
MIDSOPS_DSN="$MIDSOPS_DSN user=sess_tmon" console_start "$M"
MIDSOPS_DSN=$SAVE_DSN
expect_screen "console as the monitor" "$M" "connected  up" 300
keys "$M" S
expect_screen "the monitor sees the sessions" "$M" "sess_blocker" 50
expect_screen "the view says the monitor may only look" "$M" "monitor only (login sess_tmon)" 50
keys "$M" c
expect_screen "c is refused, saying why" "$M" "can only monitor" 30
assert_not_contains "$(screen "$M")" "(y/n)" "the monitor is not even asked"
assert_eq "$(psql_q "select count(*) from pg_stat_activity where pid = $hpid")" 1 "the blocker lives on"
keys "$M" q
sleep 1
tm kill-session -t "$M" 2>/dev/null

psql_q "select pg_terminate_backend(pid) from pg_stat_activity where application_name in ('sess_blocker', 'sess_other')" >/dev/null 2>&1
for j in $hold $other; do kill "$j" 2>/dev/null; wait "$j" 2>/dev/null; done
psql_q "drop owned by sess_tmon; drop role if exists sess_tmon" >/dev/null 2>&1
