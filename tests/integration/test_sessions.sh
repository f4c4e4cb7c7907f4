# sessions, session-cancel, session-terminate: real sessions, one holding a lock and one
# waiting for it, listed, shown as a tree, cancelled and terminated (each recorded in
# ops.events), a pid that is no backend refused, and the monitor role kept to looking.
"$MIDSOPS" db-create >/dev/null 2>&1
psql_q "create table if not exists sess_t(i int)" >/dev/null

gone() {
	for _ in $(seq 1 50); do
		[ "$(psql_q "select count(*) from pg_stat_activity where pid = $1")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
waiting() {
	for _ in $(seq 1 50); do
		[ "$(psql_q "select cardinality(pg_blocking_pids($1))")" -gt 0 ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

psql "$MIDSOPS_DSN application_name=sess_blocker" -XAtq \
	-c "begin; lock table sess_t in access exclusive mode; select pg_sleep(60)" >/dev/null 2>&1 &
hold=$!
hpid=$(app_pid sess_blocker)
psql "$MIDSOPS_DSN application_name=sess_waiter" -XAtq -c "select count(*) from sess_t /* waiter */" \
	>"$TEST_TMP/waiter.out" 2>&1 &
waitj=$!
wpid=$(app_pid sess_waiter)
if [ -n "$hpid" ] && [ -n "$wpid" ] && waiting "$wpid"; then ok "a session waits for another's lock"
else fail "a session waits for another's lock" "blocker '$hpid' waiter '$wpid'"; fi

expect_exit 0 "sessions exits 0" "$MIDSOPS" sessions
assert_contains "$OUT" "sess_blocker" "sessions lists the blocking session's application"
assert_contains "$OUT" "sess_waiter" "sessions lists the waiting session's application"
assert_contains "$OUT" "Lock:relation" "sessions shows the wait event"
assert_contains "$OUT" "select count(*) from sess_t /* waiter */" "sessions shows the query on one line"
assert_contains "$OUT" "Timeout:PgSleep" "sessions shows the blocker's wait event"

expect_exit 0 "sessions --blocking exits 0" "$MIDSOPS" sessions --blocking
assert_contains "$OUT" "└ $wpid" "the tree puts the waiter under its blocker"
line_h=$(printf '%s\n' "$OUT" | grep -n " $hpid " | head -n 1 | cut -d: -f1)
line_w=$(printf '%s\n' "$OUT" | grep -n "└ $wpid" | head -n 1 | cut -d: -f1)
if [ -n "$line_h" ] && [ -n "$line_w" ] && [ "$line_h" -lt "$line_w" ]; then ok "the blocker comes first, the waiter below it"
else fail "the blocker comes first, the waiter below it" "$OUT"; fi

expect_exit 0 "sessions --blocking --json exits 0" "$MIDSOPS" --json sessions --blocking
tree=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s:%s:%s" % (r["depth"], r["pid"], r["blocked_by"]) for r in d["blocking"]))')
assert_contains "$tree" "0:$hpid:" "JSON: the blocker at depth 0"
assert_contains "$tree" "1:$wpid:$hpid" "JSON: the waiter at depth 1, blocked by the blocker"
expect_exit 0 "sessions --json exits 0" "$MIDSOPS" --json sessions
n=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for r in d["sessions"] if r["application"] in ("sess_blocker", "sess_waiter") and float(r["xact_time"]) >= 0))')
assert_eq "$n" 2 "JSON: both sessions, with their transaction time in seconds"

# Another database's sessions only with --all-databases.
psql "$BASE_DSN dbname=postgres application_name=sess_elsewhere" -XAtq -c "select pg_sleep(60)" >/dev/null 2>&1 &
other=$!
opid=$(app_pid sess_elsewhere)
expect_exit 0 "sessions (the target's database)" "$MIDSOPS" sessions
assert_not_contains "$OUT" "sess_elsewhere" "another database's session is not shown by default"
expect_exit 0 "sessions --all-databases" "$MIDSOPS" sessions --all-databases
assert_contains "$OUT" "sess_elsewhere" "--all-databases shows another database's session"

# Refusals: not a pid, not a backend, not confirmed.
expect_exit 64 "session-cancel of a word is a usage error" "$MIDSOPS" session-cancel abc
expect_exit 64 "session-cancel needs its full name" "$MIDSOPS" session-canc "$wpid" --yes
expect_exit 4 "session-cancel of a pid that is no backend is refused (4)" "$MIDSOPS" session-cancel $$ --yes
assert_contains "$OUT" "pid $$ is not a client backend of this cluster" "the refusal says why"
expect_exit 4 "session-terminate of a pid that is no backend is refused (4)" "$MIDSOPS" session-terminate 999999 --yes
expect_exit 1 "session-cancel without a terminal and without --yes is refused" "$MIDSOPS" session-cancel "$wpid" </dev/null
assert_contains "$OUT" "confirm with --yes" "it says how to confirm"
assert_eq "$(psql_q "select count(*) from pg_stat_activity where pid = $wpid and state = 'active'")" 1 \
	"nothing was cancelled without confirmation"

# On a terminal it asks, naming the pid and the query; n signals nothing.
if command -v script >/dev/null; then
	asked=$(printf 'n\n' | script -qec "'$MIDSOPS' session-cancel $wpid" /dev/null 2>&1)
	assert_contains "$asked" "cancel the query of backend $wpid" "on a terminal it asks, naming the pid"
	assert_contains "$asked" "sess_t /* waiter */" "the question names the query"
	assert_contains "$asked" "not confirmed; nothing signalled" "n signals nothing"
	assert_eq "$(psql_q "select count(*) from pg_stat_activity where pid = $wpid and state = 'active'")" 1 \
		"the waiter still waits after n"
else
	skip "session-cancel asks on a terminal" "no script(1)"
fi

# Cancel the waiter: its query ends, the event names the pid, the query and the operator.
expect_exit 0 "session-cancel --yes cancels the waiter's query" env MIDSOPS_OPERATOR=oncall-ann "$MIDSOPS" session-cancel "$wpid" --yes
wait "$waitj" 2>/dev/null
assert_contains "$(cat "$TEST_TMP/waiter.out")" "canceling statement due to user request" "the waiter's query was cancelled"
ev=$(psql_q "select level || ' ' || source || ' ' || message from ops.events where source = 'session-cancel' order by id desc limit 1")
assert_contains "$ev" "cancelled the query of backend $wpid" "the cancel is in ops.events with the pid"
assert_contains "$ev" "select count(*) from sess_t /* waiter */" "the event names the query"
assert_contains "$ev" "operator oncall-ann" "the event names the operator"

# Terminate the blocker: the session ends.
expect_exit 0 "session-terminate --yes ends the blocker" "$MIDSOPS" session-terminate "$hpid" --yes
if gone "$hpid"; then ok "the terminated backend is gone"; else fail "the terminated backend is gone" "pid $hpid still there"; fi
assert_contains "$(psql_q "select message from ops.events where source = 'session-terminate' order by id desc limit 1")" \
	"terminated backend $hpid" "the terminate is in ops.events"
expect_exit 0 "sessions --blocking with nothing blocked" "$MIDSOPS" sessions --blocking
assert_contains "$OUT" "no session waits for a lock" "the tree is empty once the blocker is gone"

# Roles: the monitor sees sessions but may not signal; the operator may, not a superuser's.
"$MIDSOPS" db-roles >/dev/null 2>&1
psql_q "drop role if exists sess_mon; drop role if exists sess_op; drop role if exists sess_app;
	create role sess_mon login; grant midsops_monitor to sess_mon;
	create role sess_op login; grant midsops_operator to sess_op; create role sess_app login" >/dev/null 2>&1
psql "$MIDSOPS_DSN user=sess_app application_name=sess_app_sleep" -XAtq -c "select pg_sleep(60)" >/dev/null 2>&1 &
appj=$!
apid=$(app_pid sess_app_sleep)
expect_exit 0 "the monitor role runs sessions" env MIDSOPS_DSN="$MIDSOPS_DSN user=sess_mon" "$MIDSOPS" sessions
assert_contains "$OUT" "sess_app_sleep" "the monitor sees the sessions"
expect_exit 1 "the monitor role may not cancel" env MIDSOPS_DSN="$MIDSOPS_DSN user=sess_mon" "$MIDSOPS" session-cancel "$apid" --yes
assert_contains "$OUT" "needs the operator role (midsops_operator)" "the monitor's refusal names the operator role"
assert_eq "$(psql_q "select count(*) from pg_stat_activity where pid = $apid and state = 'active'")" 1 \
	"the monitor's attempt signalled nothing"
expect_exit 4 "the operator may not signal a superuser's session" env MIDSOPS_DSN="$MIDSOPS_DSN user=sess_op" "$MIDSOPS" session-terminate "$opid" --yes
assert_contains "$OUT" "superuser" "the refusal says it is a superuser's session"
expect_exit 0 "the operator role terminates another login's session" env MIDSOPS_DSN="$MIDSOPS_DSN user=sess_op" "$MIDSOPS" session-terminate "$apid" --yes
if gone "$apid"; then ok "the operator's terminate ended the session"; else fail "the operator's terminate ended the session" "pid $apid still there"; fi
assert_contains "$(psql_q "select message from ops.events where source = 'session-terminate' order by id desc limit 1")" \
	"login sess_op" "the event names the operator's login"

psql_q "select pg_terminate_backend($opid)" >/dev/null 2>&1
for j in $hold $other $appj; do kill "$j" 2>/dev/null; wait "$j" 2>/dev/null; done
psql_q "drop owned by sess_mon; drop owned by sess_op; drop role if exists sess_mon; drop role if exists sess_op; drop role if exists sess_app" >/dev/null 2>&1
