# Slot hygiene and synchronous mode that degrades honestly (issue 21, items 5 and 6), on a
# private primary with a real streaming standby: an abandoned slot that holds WAL is WARNING,
# then CRITICAL, in db-check, status, daily-check and metrics; a stopped synchronous standby
# makes commits wait, and db-check says so; with [dr] synchronous = fallback, dr-sync-guard
# drops to asynchronous, the waiting commit completes, and synchronous mode comes back when
# the standby streams again.

S=$TEST_TMP/s
mkdir -p "$S/config/midsops" && chmod 0711 "$S"
S_PORT=$((MIDSOPS_PGPORT + 21))
# A binary built elsewhere (build-NAME/) finds the shipped runbooks through MIDSOPS_SHARE.
s_env() {
	env -u MIDSOPS_DSN XDG_DATA_HOME="$S/data" XDG_STATE_HOME="$S/state" \
		XDG_CONFIG_HOME="$S/config" MIDSOPS_PGPORT=$S_PORT MIDSOPS_SHARE="${MIDSOPS_SHARE:-$TOP}" "$@"
}
m() { s_env "$MIDSOPS" "$@"; }
PRIMARY="host=$S/data/midsops/run port=$S_PORT dbname=midsops user=midsops"
SITE_DIR=$S/data/midsops/dr/pg
pq() { psql "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
PG_CTL=$(pg_config --bindir)/pg_ctl
site_ctl() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$PG_CTL" -D "$SITE_DIR" -w -t 60 "$@" >/dev/null 2>&1
	else
		"$PG_CTL" -D "$SITE_DIR" -w -t 60 "$@" >/dev/null 2>&1
	fi
}
# poll SECONDS SQL WANT: until the primary answers WANT.
poll() {
	i=0
	while [ $i -lt $(($1 * 5)) ]; do
		[ "$(pq "$PRIMARY" "$2" 2>/dev/null)" = "$3" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
# Thresholds low enough for a test: 24 MiB warning, 72 MiB critical (in GB).
cat >"$S/config/midsops/midsops.conf" <<'EOF'
[thresholds]
slot_retained_wal = 0.0234375 0.0703125
sync_wait = 1 600
EOF

expect_exit 0 "slots: private primary db-create" m db-create
assert_eq "$(pq "$PRIMARY" "show max_slot_wal_keep_size")" 4GB \
	"an embedded cluster caps what a slot may keep (max_slot_wal_keep_size 4GB)"

# ---- an abandoned slot
pq "$PRIMARY" "select pg_create_physical_replication_slot('abandoned_site', true)" >/dev/null
pq "$PRIMARY" "create table public.walgen (n int, pad text)" >/dev/null
expect_exit 0 "db-check with a fresh inactive slot is OK" m db-check
assert_contains "$OUT" "abandoned_site" "db-check lists the slot"
retained() { pq "$PRIMARY" "select pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint from pg_replication_slots where slot_name = '${SLOT:-abandoned_site}'"; }
# Writes, then a switch to the next segment: each pass keeps up to 16 MB more.
walgen() {
	i=0
	while [ "$(retained)" -lt "$1" ] && [ $i -lt 20 ]; do
		pq "$PRIMARY" "insert into public.walgen select g, repeat('x', 200) from generate_series(1, 20000) g; select pg_switch_wal()" >/dev/null
		i=$((i + 1))
	done
}
walgen $((30 * 1024 * 1024))
expect_exit 1 "db-check: an inactive slot over slot_retained_wal's warning is WARNING" m db-check
assert_contains "$OUT" "MIDSOPS DB-CHECK WARNING" "db-check's status line is WARNING"
assert_contains "$OUT" "slot abandoned_site holds" "db-check names the slot and what it holds"
assert_contains "$OUT" "inactive" "db-check says the slot is inactive"
assert_contains "$OUT" "pg_drop_replication_slot('abandoned_site')" "db-check says how to drop it"
OUT=$(m --json db-check 2>/dev/null)
bad=$(printf '%s' "$OUT" | python3 "$TOP/tests/data/json-figures.py")
[ -z "$bad" ] && ok "db-check --json with a slot: every figure is a number" ||
	fail "db-check --json with a slot: every figure is a number" "$bad"
v=$(printf '%s' "$OUT" | json_get .slot_retained_wal.value 2>/dev/null)
case "$v" in '' | *[!0-9.]*) fail "db-check --json: the slot's retained bytes" "'$v'" ;;
*) [ "${v%.*}" -ge $((24 * 1024 * 1024)) ] && ok "db-check --json: the retained bytes in base units ($v)" ||
	fail "db-check --json: the retained bytes" "$v" ;;
esac
expect_exit 1 "status agrees: WARNING" m status
assert_contains "$OUT" "abandoned_site" "status names the slot"
OUT=$(m daily-check 2>&1); rc=$?
[ "$rc" -ge 1 ] && [ "$rc" -le 2 ] && ok "daily-check is not OK ($rc)" || fail "daily-check is not OK" "exit $rc"
assert_contains "$OUT" "abandoned_site" "daily-check names the slot"
OUT=$(m metrics --prom 2>/dev/null)
assert_contains "$OUT" 'midsops_replication_slot_active{env="embedded",slot="abandoned_site"} 0' \
	"metrics: the slot is inactive"
assert_contains "$OUT" 'midsops_replication_slot_retained_bytes{env="embedded",slot="abandoned_site"}' \
	"metrics: the slot's retained bytes"
if command -v promtool >/dev/null 2>&1; then
	LINT=$(printf '%s\n' "$OUT" | promtool check metrics 2>&1) && ok "promtool check metrics is clean with slots" ||
		fail "promtool check metrics is clean with slots" "$LINT"
else
	skip "promtool check metrics with slots" "promtool not installed"
fi
walgen $((80 * 1024 * 1024))
expect_exit 2 "db-check: over slot_retained_wal's critical is CRITICAL" m db-check
assert_contains "$OUT" "MIDSOPS DB-CHECK CRITICAL" "db-check's status line is CRITICAL"
assert_contains "$OUT" "slot abandoned_site holds" "the CRITICAL line names the slot"
expect_exit 2 "status agrees: CRITICAL" m status
OUT=$(m daily-check 2>&1); rc=$?
assert_eq "$rc" 2 "daily-check is CRITICAL"
pq "$PRIMARY" "select pg_drop_replication_slot('abandoned_site'); drop table public.walgen" >/dev/null
expect_exit 0 "db-check is OK again once the slot is dropped" m db-check

# ---- a synchronous standby that stops
expect_exit 0 "dr-setup --synchronous" m dr-setup --synchronous --no-baseline
pq "$PRIMARY" "create table public.sync_t (n int)" >/dev/null
site_ctl -m fast stop && ok "the synchronous DR site is stopped" || fail "the synchronous DR site is stopped" "pg_ctl stop failed"
poll 30 "select count(*) from pg_stat_replication" 0 || fail "the walsender ends" "still connected"
expect_exit 1 "db-check: synchronous with no synchronous standby connected is WARNING before any commit waits" m db-check
assert_contains "$OUT" "every commit will wait" "db-check says every commit will wait"
pq "$PRIMARY" "insert into public.sync_t values (1)" >/dev/null 2>&1 &
writer=$!
poll 30 "select count(*) from pg_stat_activity where wait_event = 'SyncRep' and now() - query_start > interval '2 s'" 1 &&
	ok "a commit waits in SyncRep" || fail "a commit waits in SyncRep" "no waiting backend"
expect_exit 1 "db-check: a commit waiting for the synchronous standby is not OK" m db-check
assert_contains "$OUT" "1 commit waiting for a synchronous standby, the oldest" "db-check says commits are waiting"
case "$OUT" in *"oldest "[0-9]*"s (pid "*) ok "db-check gives the wait in seconds" ;; *) fail "db-check gives the wait in seconds" "$OUT" ;; esac
assert_contains "$OUT" "no synchronous standby is connected" "db-check says no synchronous standby is connected"
OUT=$(m --json db-check 2>/dev/null)
bad=$(printf '%s' "$OUT" | python3 "$TOP/tests/data/json-figures.py")
[ -z "$bad" ] && ok "db-check --json while commits wait: every figure is a number" ||
	fail "db-check --json while commits wait: every figure is a number" "$bad"
v=$(printf '%s' "$OUT" | json_get .oldest_sync_wait.value 2>/dev/null)
case "$v" in '' | *[!0-9.]*) fail "db-check --json: the oldest wait in seconds" "'$v'" ;;
*) [ "${v%.*}" -ge 2 ] && ok "db-check --json: the oldest wait in seconds ($v)" || fail "db-check --json: the oldest wait" "$v" ;;
esac
expect_exit 0 "dr-sync-guard in strict mode (the default) leaves it synchronous" m dr-sync-guard
assert_contains "$OUT" "strict" "dr-sync-guard says it is strict"
assert_eq "$(pq "$PRIMARY" "show synchronous_standby_names")" midsops_dr "strict: still synchronous"
kill -0 "$writer" 2>/dev/null && ok "strict: the commit still waits" || fail "strict: the commit still waits" "it ended"
OUT=$(m metrics --prom 2>/dev/null)
assert_contains "$OUT" 'midsops_sync_waiting_commits{env="embedded"} 1' "metrics: one commit waiting"
# The console's health pane, on this primary (the console never starts a cluster).
CON=
if command -v tmux >/dev/null 2>&1; then
	. "$TOP/tests/tui/console_lib.sh"
	CON=slots$$
	XDG_DATA_HOME=$S/data XDG_STATE_HOME=$S/state XDG_CONFIG_HOME=$S/config MIDSOPS_PGPORT=$S_PORT \
		console_start "$CON" "MIDSOPS_DSN='$PRIMARY'"
	expect_screen "console: the health pane says a commit is waiting" "$CON" "1 commit waiting" 150
	expect_screen_re "console: with the seconds it has waited" "$CON" "1 commit waiting [0-9]+s" 10
else
	skip "console: waiting commits in the health pane" "tmux is not installed"
fi

printf '[dr]\nsynchronous = fallback\nsynchronous_fallback_after = 3\n' >>"$S/config/midsops/midsops.conf"
# A guard that watches holds the lock: a second one does nothing.
# exec twice (the subshell, then env), so $watcher is the guard's own pid
(exec env -u MIDSOPS_DSN XDG_DATA_HOME="$S/data" XDG_STATE_HOME="$S/state" XDG_CONFIG_HOME="$S/config" \
	MIDSOPS_PGPORT=$S_PORT "$MIDSOPS" dr-sync-guard --watch --interval 1 >"$S/watch.out" 2>&1) &
watcher=$!
poll 20 "show synchronous_standby_names" "" && ok "dr-sync-guard --watch drops to asynchronous" ||
	fail "dr-sync-guard --watch drops to asynchronous" "$(cat "$S/watch.out")"
i=0
while kill -0 "$writer" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
if kill -0 "$writer" 2>/dev/null; then fail "the waiting commit completes" "still waiting"; else
	wait "$writer" && ok "the waiting commit completes" || fail "the waiting commit completes" "it failed"
fi
assert_eq "$(pq "$PRIMARY" "select count(*) from public.sync_t")" 1 "the released commit is there"
expect_exit 0 "a second dr-sync-guard while one watches" m dr-sync-guard
assert_contains "$OUT" "another dr-sync-guard is running" "the second guard does nothing, and says so"
assert_contains "$(cat "$S/state/midsops/log/midsops.log" 2>/dev/null)" "dropped to asynchronous replication" \
	"the event log says it dropped to asynchronous"
assert_eq "$(pq "$PRIMARY" "select count(*) from ops.events where source = 'dr-sync-guard' and message like 'dropped to asynchronous%'")" 1 \
	"ops.events has the drop"
expect_exit 1 "db-check says the primary is asynchronous on purpose (WARNING)" m db-check
assert_contains "$OUT" "dropped to asynchronous by dr-sync-guard" "db-check says the guard dropped it"
pq "$PRIMARY" "insert into public.sync_t values (2)" >/dev/null && ok "commits no longer wait" || fail "commits no longer wait" "insert failed"
# The DR site's own slot, abandoned while the site is down: dr-assess judges it too.
pq "$PRIMARY" "create table public.walgen (n int, pad text)" >/dev/null
SLOT=midsops_dr walgen $((30 * 1024 * 1024))
OUT=$(m dr-assess 2>&1)
assert_contains "$OUT" "slot retained wal: " "dr-assess judges the DR slot's retained WAL (status line)"
assert_contains "$OUT" "held for a standby that is gone" "dr-assess says the WAL is held for a standby that is gone"
OUT=$(m db-check 2>&1)
assert_contains "$OUT" "slot midsops_dr holds" "db-check names the DR site's slot"
pq "$PRIMARY" "drop table public.walgen" >/dev/null
if [ -n "$CON" ]; then
	expect_screen "console: the health pane says the guard dropped to asynchronous" "$CON" "asynchronous: dr-sync-guard dropped" 150
	tm kill-session -t "$CON" 2>/dev/null
fi

site_ctl start && ok "the DR site is started again" || fail "the DR site is started again" "pg_ctl start failed"
poll 60 "show synchronous_standby_names" midsops_dr && ok "dr-sync-guard restores synchronous mode once the standby streams" ||
	fail "dr-sync-guard restores synchronous mode once the standby streams" "$(cat "$S/watch.out")"
poll 30 "select sync_state from pg_stat_replication where application_name = 'midsops_dr'" sync &&
	ok "the DR site is the synchronous standby again" || fail "the DR site is the synchronous standby again" "not sync"
assert_eq "$(pq "$PRIMARY" "select count(*) from ops.events where source = 'dr-sync-guard' and message like 'synchronous replication restored%'")" 1 \
	"ops.events has the restore"
kill "$watcher" 2>/dev/null
wait "$watcher"
assert_eq "$?" 0 "dr-sync-guard --watch ends cleanly on SIGTERM"
expect_exit 0 "dr-sync-guard once with the standby streaming" m dr-sync-guard
assert_contains "$OUT" "synchronous: 'midsops_dr' connected" "dr-sync-guard says it is synchronous"
expect_exit 0 "db-check is OK once synchronous again" m db-check

site_ctl -m immediate stop
m cluster stop immediate >/dev/null 2>&1
