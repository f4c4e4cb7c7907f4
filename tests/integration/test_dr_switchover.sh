# DR role changes on a private pair (the embedded cluster and the DR site dr-setup makes):
# a switchover under a writer loses no acknowledged commit and leaves the old primary
# streaming from the new one; after a failover, dr-rejoin rewinds the old primary with
# pg_rewind, and copies it whole when pg_rewind cannot; the slot of the old direction goes;
# clusters midsops creates have data checksums; dr-prepare-rewind turns them on.

SW=$TEST_TMP/p
mkdir -p "$SW" && chmod 0711 "$SW"
SW_PORT=$((MIDSOPS_PGPORT + 21))
m() {
	env -u MIDSOPS_DSN XDG_DATA_HOME="$SW/data" XDG_STATE_HOME="$SW/state" \
		XDG_CONFIG_HOME="$SW/config" MIDSOPS_PGPORT=$SW_PORT "$MIDSOPS" "$@"
}
EMB="host=$SW/data/midsops/run port=$SW_PORT dbname=midsops user=midsops"
SITE="host=$SW/data/midsops/dr/run port=$((SW_PORT + 1)) dbname=midsops user=midsops"
SITE_PG=$SW/data/midsops/dr/pg
pq() { psql "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
BIN=$(pg_config --bindir 2>/dev/null)
[ -x "$BIN/pg_ctl" ] || BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
# The server tools refuse root: as root the clusters belong to postgres.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# wait_for DSN SQL WANT: poll (up to 60 s) until the query answers WANT.
wait_for() {
	i=0
	while [ $i -lt 300 ]; do
		[ "$(psql "$1" -XAtq -c "$2" 2>/dev/null)" = "$3" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
STREAMING="select count(*) from pg_stat_replication where application_name = 'midsops_dr' and state = 'streaming'"

expect_exit 0 "switchover: private primary db-create" m db-create
assert_eq "$(pq "$EMB" "show data_checksums")" on "a cluster midsops initialises has data checksums"
expect_exit 0 "switchover: dr-setup" m dr-setup --no-baseline

expect_exit 64 "dr-switchover needs --yes when not interactive" m dr-switchover </dev/null
assert_contains "$OUT" "pass --yes" "dr-switchover says how to confirm"
# A standby whose replay is behind the bound is refused, and nothing changes.
pq "$SITE" "select pg_wal_replay_pause()" >/dev/null
pq "$EMB" "create table public.sw (id int primary key)"
expect_exit 1 "dr-switchover refuses a standby that lags beyond --max-lag" m dr-switchover --yes --max-lag 0
assert_contains "$OUT" "bytes behind the primary" "the refusal names the lag"
assert_eq "$(pq "$EMB" "select pg_is_in_recovery()")" f "a refused switchover leaves the primary alone"
pq "$SITE" "select pg_wal_replay_resume()" >/dev/null

# A writer whose acknowledged ids are the lines it prints: each insert is its own
# transaction, and psql prints the id only after the commit returned.
i=1
while [ $i -le 20000 ]; do
	echo "insert into public.sw values ($i) returning id;"
	i=$((i + 1))
done >"$SW/writes.sql"
psql "$EMB" -XAtq -f "$SW/writes.sql" >"$SW/writes.out" 2>/dev/null &
writer=$!
wait_for "$EMB" "select count(*) >= 200 from public.sw" t || fail "the writer writes" "fewer than 200 rows after 60 s"
OUT=$(m --json dr-switchover --yes 2>&1)
rc=$?
wait "$writer" 2>/dev/null
assert_eq "$rc" 0 "dr-switchover under a writer"
acked=$(grep -c '^[0-9][0-9]*$' "$SW/writes.out")
[ "$acked" -ge 200 ] && ok "the writer had $acked acknowledged commits" || fail "writer" "$acked acknowledged"
assert_eq "$(printf '%s' "$OUT" | json_get .loss_bytes.value 2>/dev/null)" 0 "dr-switchover reports 0 bytes lost"
rto=$(printf '%s' "$OUT" | json_get .writes_unavailable.value 2>/dev/null)
case "$rto" in [0-9]*) ok "dr-switchover reports how long writes were unavailable ($rto s)" ;; *) fail "dr-switchover RTO" "'$rto': $OUT" ;; esac
# Every acknowledged id, 1..acked, is on the new primary.
assert_eq "$(pq "$SITE" "select count(*) from public.sw where id <= $acked")" "$acked" \
	"no acknowledged commit lost in the switchover ($acked of $acked on the new primary)"
assert_eq "$(pq "$SITE" "select pg_is_in_recovery()")" f "the DR site is the primary"
assert_eq "$(pq "$EMB" "select pg_is_in_recovery()")" t "the old primary is a standby"
assert_eq "$(pq "$SITE" "$STREAMING")" 1 "the old primary streams from the new one"
assert_eq "$(pq "$EMB" "select count(*) from pg_replication_slots")" 0 \
	"the old primary's slot for the old direction is gone"
expect_exit 0 "commands reach the new primary through production" \
	m db-shell -qAtc "insert into public.sw values (1000000) returning current_setting('port')"
assert_eq "$OUT" "$((SW_PORT + 1))" "the write went to the DR site's port"
wait_for "$EMB" "select count(*) from public.sw where id = 1000000" 1 &&
	ok "the new standby receives the new primary's rows" || fail "new standby" "row 1000000 not replayed"

expect_exit 0 "dr-switchover back" m dr-switchover --yes
assert_contains "$OUT" "0 bytes" "the switchover back loses nothing either"
assert_eq "$(pq "$EMB" "select pg_is_in_recovery()")" f "the embedded cluster is the primary again"
assert_eq "$(pq "$EMB" "$STREAMING")" 1 "the DR site streams from it again"
expect_exit 0 "commands reach the embedded cluster again" \
	m db-shell -qAtc "select current_setting('port')"
assert_eq "$OUT" "$SW_PORT" "the target is the embedded cluster's port"

# Failover with a divergence: the standby stops receiving, the primary writes rows it never
# gets, and dies; the DR site is activated and takes its own writes.
pq "$SITE" "alter system set primary_conninfo = ''" >/dev/null
pq "$SITE" "select pg_reload_conf()" >/dev/null
wait_for "$SITE" "select count(*) from pg_stat_wal_receiver" 0 || fail "the standby stops receiving" "still a WAL receiver"
pq "$EMB" "insert into public.sw select g from generate_series(2000001, 2000100) g"
m cluster stop immediate >/dev/null 2>&1
expect_exit 0 "failover: dr-activate" m dr-activate --yes
[ -e "$SW/data/midsops/fenced" ] && ok "dr-activate fenced the old embedded primary" ||
	fail "dr-activate fenced the old embedded primary" "no fence mark"
pq "$SITE" "insert into public.sw select g from generate_series(3000001, 3000050) g"
expect_exit 64 "dr-rejoin needs --yes" m dr-rejoin </dev/null
expect_exit 0 "dr-rejoin rejoins the old primary" m dr-rejoin --yes
assert_contains "$OUT" "pg_rewind" "dr-rejoin used pg_rewind"
assert_not_contains "$OUT" "copied whole" "pg_rewind worked, no copy"
assert_contains "$OUT" "diverged_at" "dr-rejoin says where the old primary diverged"
assert_contains "$OUT" "lifted: it is a standby now" "dr-rejoin lifts the fence dr-activate set"
assert_eq "$(pq "$EMB" "select pg_is_in_recovery()")" t "the rejoined old primary is a standby"
assert_eq "$(pq "$SITE" "$STREAMING")" 1 "the rejoined node streams from the new primary"
wait_for "$EMB" "select count(*) from public.sw where id > 3000000" 50 &&
	ok "the rejoined node holds the new primary's rows" || fail "rejoined rows" "the 50 new rows are not there"
assert_eq "$(pq "$EMB" "select count(*) from public.sw where id between 2000001 and 2000100")" 0 \
	"what the old primary wrote after the fork is gone"
assert_eq "$(pq "$EMB" "select count(*) from pg_replication_slots")" 0 \
	"no slot of the old direction is left on the rejoined node"
[ ! -e "$SW/data/midsops/fenced" ] && ok "the rejoined node is not fenced" ||
	fail "the rejoined node is not fenced" "$(cat "$SW/data/midsops/fenced")"
OUT=$(m dr-assess 2>&1)
assert_contains "$OUT" "streaming" "dr-assess sees the rejoined pair streaming"

# A second failover, the other way, onto a node without checksums or wal_log_hints:
# pg_rewind refuses it, and dr-rejoin copies it whole, saying why.
as_pg "$BIN/pg_ctl" -D "$SITE_PG" -m fast -w stop >/dev/null 2>&1
# The DR site is no embedded cluster: midsops cannot fence it itself, the operator did.
fenced_flag=
m help dr-activate 2>&1 | grep -q i-have-fenced-it && fenced_flag=--i-have-fenced-it
expect_exit 0 "failover back: dr-activate" m dr-activate --yes $fenced_flag
as_pg "$BIN/pg_checksums" --disable -D "$SITE_PG" >/dev/null 2>&1
expect_exit 0 "dr-rejoin of a node pg_rewind cannot rewind" m dr-rejoin --yes
assert_contains "$OUT" "neither data checksums nor wal_log_hints" "dr-rejoin says why pg_rewind cannot work"
assert_contains "$OUT" "failed, so the node is copied whole" "dr-rejoin falls back to a copy"
assert_contains "$OUT" "wal_log_hints" "the reason is pg_rewind's own"
assert_eq "$(pq "$SITE" "select pg_is_in_recovery()")" t "the copied node is a standby"
assert_eq "$(pq "$EMB" "$STREAMING")" 1 "the copied node streams"
assert_eq "$(pq "$SITE" "select count(*) from public.sw where id > 3000000")" 50 "the copy holds the rows"

# A standby without checksums (as made before midsops initialised with them):
# dr-prepare-rewind enables them offline and it streams again.
as_pg "$BIN/pg_ctl" -D "$SITE_PG" -m fast -w stop >/dev/null 2>&1
as_pg "$BIN/pg_checksums" --disable -D "$SITE_PG" >/dev/null 2>&1
as_pg "$BIN/pg_ctl" -D "$SITE_PG" -l "$SW/data/midsops/dr/log/postgresql.log" -w start >/dev/null 2>&1
expect_exit 64 "dr-prepare-rewind needs --yes" m dr-prepare-rewind --checksums </dev/null
assert_contains "$OUT" "data checksums off" "dr-prepare-rewind shows the node without checksums"
expect_exit 0 "dr-prepare-rewind --checksums" m dr-prepare-rewind --checksums --yes
assert_contains "$OUT" "data checksums enabled" "dr-prepare-rewind says what it changed"
assert_eq "$(pq "$SITE" "show data_checksums")" on "the standby has data checksums"
wait_for "$EMB" "$STREAMING" 1 && ok "the standby streams again after dr-prepare-rewind" ||
	fail "streams after dr-prepare-rewind" "not streaming"
expect_exit 0 "dr-prepare-rewind with nothing to do" m dr-prepare-rewind --yes
assert_contains "$OUT" "nothing to do" "dr-prepare-rewind says there is nothing to do"

for d in "$SW/data/midsops/dr/pg" "$SW/data/midsops/pg"; do
	[ -f "$d/postmaster.pid" ] && kill -9 "$(head -n 1 "$d/postmaster.pid")" 2>/dev/null
done
true
