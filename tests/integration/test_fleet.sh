# fleet: every configured environment at once, on real clusters: the test's own cluster
# (production, the target), a second primary (staging), a streaming standby of it (dr), a
# port where nothing listens (old), and a listener that never answers (hung). Each line's
# reachability, role, lag, last import and generation, and worst status; a dead or hung
# environment is a line with its reason within its deadline, never a hang.
. "$TOP/tests/fleet_lib.sh"
trap fleet_down EXIT

expect_exit 3 "fleet without environments is UNKNOWN" "$MIDSOPS" fleet
assert_contains "$OUT" "no environments" "fleet says the config names none"

if ! fleet_up; then
	fail "fleet: a second primary and its streaming standby" "$(tail -n 5 "$FL"/*.log 2>&1)"
	exit 0
fi
ok "fleet: a second primary and its streaming standby run"

row() { printf '%s' "$JSON" | python3 -c 'import json,sys
d = json.load(sys.stdin)
r = [e for e in d["environments"] if e["environment"] == sys.argv[1]][0]
print(r[sys.argv[2]])' "$1" "$2"; }

# production has midsops's schema: first no import run at all, then one and its generation.
"$MIDSOPS" db-create >/dev/null 2>&1
fleet_config
"$MIDSOPS" fleet --json >"$TEST_TMP/fleet0.json" 2>&1
JSON=$(cat "$TEST_TMP/fleet0.json")
assert_eq "$(row production role)/$(row production last_import)" "primary/" \
	"production before any import: a primary with no last import (not a failed query)"
psql_q "insert into ops.import_runs(state, phase, started_at, finished_at, generation)
        values ('completed', 'done', now() - interval '2 hours', now() - interval '1 hour', 7)" \
	>/dev/null

t0=$(date +%s)
expect_exit 2 "fleet is CRITICAL while an environment is down" "$MIDSOPS" fleet --json
t1=$(date +%s)
JSON=$OUT
assert_eq "$(row production target)" yes "production is the target (MIDSOPS_DSN is its dsn)"
assert_eq "$(row production reachable)/$(row production role)" yes/primary \
	"production: reachable primary"
assert_contains "$(row production last_import)" "completed" "production: the last import"
assert_eq "$(row production generation)" 7 "production: the import's generation"
assert_eq "$(row staging reachable)/$(row staging role)/$(row staging replicas)" yes/primary/1 \
	"staging: reachable primary with one standby"
assert_eq "$(row staging status)" OK "staging (no midsops schema, nothing behind) is OK"
assert_eq "$(row dr reachable)/$(row dr role)" yes/standby "dr: reachable standby"
assert_eq "$(row dr lag)" 0 "dr: a caught-up standby's lag is 0 s"
assert_eq "$(row old reachable)/$(row old status)" no/CRITICAL "old: unreachable and CRITICAL"
assert_contains "$(row old why)" "unreachable: Connection refused" "old: the reason, short"
[ $((t1 - t0)) -le 5 ] && ok "fleet answers in $((t1 - t0)) s with an environment down" ||
	fail "fleet with an environment down" "took $((t1 - t0)) s"
assert_contains "$JSON" '"round_trips":	3' "fleet: one round trip per reachable environment"

expect_exit 2 "fleet as text" "$MIDSOPS" fleet
assert_contains "$OUT" "MIDSOPS FLEET CRITICAL" "the check's status line"
assert_contains "$(printf '%s\n' "$OUT" | grep '^dr ')" "standby" "the dr line reads standby"

# A listener that accepts and never answers: the connect deadline ends it.
HUNG=$((FL_DEAD + 1))
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
open(sys.argv[2], "w").close(); time.sleep(60)' "$HUNG" "$FL/hung.ready" &
HPID=$!
i=0
while [ ! -e "$FL/hung.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
printf '\n[env hung]\ndsn = host=127.0.0.1 port=%s dbname=postgres user=postgres\n' "$HUNG" \
	>>"$XDG_CONFIG_HOME/midsops/midsops.conf"
t0=$(date +%s)
expect_exit 2 "fleet with a server that never answers" "$MIDSOPS" fleet --json
t1=$(date +%s)
kill "$HPID" 2>/dev/null
JSON=$OUT
assert_contains "$(row hung why)" "no connection in 3 s" "hung: its deadline, as the reason"
[ $((t1 - t0)) -le 6 ] && ok "a hung environment costs its deadline only ($((t1 - t0)) s)" ||
	fail "a hung environment" "took $((t1 - t0)) s"

# A standby that stops: the next fleet reads it down.
fl_as_pg "$FL_BIN/pg_ctl" -D "$FL/b" -m immediate -w stop >/dev/null 2>&1
expect_exit 2 "fleet after the standby stops" "$MIDSOPS" fleet --json
JSON=$OUT
assert_eq "$(row dr reachable)/$(row dr status)" no/CRITICAL "a stopped standby reads CRITICAL"
assert_contains "$(row dr why)" "unreachable:" "a stopped standby says why"
