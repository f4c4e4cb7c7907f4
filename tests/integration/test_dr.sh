# Disaster recovery: a private primary (never the shared test cluster), a streaming
# standby, replication lag, the split-brain guard, activation after an immediate stop,
# writes and checksums on the new primary, the report, and dr-restore without a standby.

DR_P=$TEST_TMP/p
mkdir -p "$DR_P" && chmod 0711 "$DR_P"
DR_PORT=$((MIDSOPS_PGPORT + 11))
dr_env() {
	env -u MIDSOPS_DSN XDG_DATA_HOME="$DR_P/data" XDG_STATE_HOME="$DR_P/state" \
		XDG_CONFIG_HOME="$DR_P/config" MIDSOPS_PGPORT=$DR_PORT "$@"
}
m() { dr_env "$MIDSOPS" "$@"; }
PRIMARY="host=$DR_P/data/midsops/run port=$DR_PORT dbname=midsops user=midsops"
STANDBY="host=$DR_P/data/midsops/dr/run port=$((DR_PORT + 1)) dbname=midsops user=midsops"
pq() { psql "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
BUILDS_SUM="select count(*) || ':' || coalesce(sum(('x' || left(md5(b::text), 15))::bit(60)::bigint::numeric), 0) from builds.builds b"

expect_exit 0 "dr: private primary db-create" m db-create
expect_exit 2 "dr-assess without a standby or backups is CRITICAL" m dr-assess
assert_contains "$OUT" "no DR standby configured" "dr-assess says there is no standby"
assert_contains "$OUT" "no backups" "dr-assess says there are no backups"

expect_exit 0 "dr-setup creates a streaming standby" m dr-setup --no-baseline
assert_contains "$(cat "$DR_P/config/midsops/midsops.conf")" "[env dr]" "dr-setup registers the dr environment"
assert_eq "$(pq "$STANDBY" "select pg_is_in_recovery()")" "t" "the DR site is a standby"
assert_eq "$(pq "$PRIMARY" "select count(*) from pg_replication_slots where slot_name = 'midsops_dr' and active")" 1 \
	"the standby uses the replication slot"
if [ "$(id -u)" = 0 ]; then
	assert_eq "$(stat -c %U "$DR_P/data/midsops/dr/pg")" postgres "as root the standby belongs to postgres"
fi
expect_exit 64 "dr-setup is destructive: no prefix" m dr-set
expect_exit 1 "dr-setup refuses to overwrite a live DR site" m dr-setup --target-dir "$DR_P/data/midsops/dr" --no-baseline
expect_exit 64 "dr-setup --synchronous needs a site it creates" m dr-setup --synchronous --no-baseline
# Rebuilt synchronous: the primary waits for the DR site's write of each commit.
expect_exit 0 "dr-setup --force --synchronous rebuilds the site synchronous" \
	m dr-setup --target-dir "$DR_P/data/midsops/dr" --force --synchronous --no-baseline
assert_contains "$OUT" "synchronous              yes" "dr-setup says the site is synchronous"
assert_eq "$(pq "$PRIMARY" "select sync_state from pg_stat_replication where application_name = 'midsops_dr'")" sync \
	"the primary counts the DR site as its synchronous standby"
assert_eq "$(pq "$PRIMARY" "show synchronous_commit")" remote_write "commits wait for the DR site's write"
assert_eq "$(pq "$STANDBY" "show synchronous_standby_names")" "" "the standby itself waits for nobody (after activation too)"
pq "$PRIMARY" "create table public.sync_probe (n int); insert into public.sync_probe values (1); drop table public.sync_probe" >/dev/null &&
	ok "commits on the primary complete with the synchronous DR site up" ||
	fail "commits on the primary complete with the synchronous DR site up" "the write failed"
# Rebuilt again without it: the primary stops waiting first, so no commit blocks while the
# old site is down.
expect_exit 0 "dr-setup --force without --synchronous goes back to asynchronous" \
	m dr-setup --target-dir "$DR_P/data/midsops/dr" --force --no-baseline
assert_contains "$OUT" "no longer waits for the old DR site" "dr-setup says the primary stopped waiting"
assert_eq "$(pq "$PRIMARY" "show synchronous_standby_names")" "" "the primary names no synchronous standby"
assert_eq "$(pq "$PRIMARY" "select sync_state from pg_stat_replication where application_name = 'midsops_dr'")" async \
	"the rebuilt DR site is asynchronous"
expect_exit 0 "dr-setup --force --synchronous once more, for the rest of this file" \
	m dr-setup --target-dir "$DR_P/data/midsops/dr" --force --synchronous --no-baseline

pq "$PRIMARY" "insert into builds.builds (owner, name, level, raw) select 'user' || g, 'build ' || g, 50, jsonb_build_object('n', g) from generate_series(1, 300) g" >/dev/null
# Replication lag: pause replay on the standby, write on the primary, assess.
pq "$STANDBY" "select pg_wal_replay_pause()" >/dev/null
pq "$PRIMARY" "insert into builds.builds (owner, name) select 'lag', 'lag ' || g from generate_series(1, 2000) g" >/dev/null
sleep 1
OUT=$(m --json dr-assess 2>&1)
lag=$(printf '%s' "$OUT" | json_get .replication.lag_bytes.value 2>/dev/null)
case "$lag" in '' | *[!0-9]* | 0) fail "dr-assess shows replication lag in bytes" "lag '$lag': $OUT" ;; *) ok "dr-assess shows replication lag in bytes ($lag)" ;; esac
assert_contains "$OUT" '"lag_seconds"' "dr-assess shows replication lag in time"
assert_contains "$OUT" '"estimated_bytes"' "dr-assess estimates the data loss"
pq "$STANDBY" "select pg_wal_replay_resume()" >/dev/null
pq "$PRIMARY" "delete from builds.builds where owner = 'lag'" >/dev/null
sleep 1
expect_exit 1 "dr-assess with a streaming standby and no backups is WARNING" m dr-assess
assert_contains "$OUT" "streaming" "dr-assess: replication is streaming"
OUT=$(m status 2>&1)
assert_contains "$OUT" "replication_lag" "status shows the dr section with replication lag"

expect_exit 1 "dr-activate is refused while the old primary accepts writes" m dr-activate --yes
assert_contains "$OUT" "refused" "the split-brain guard says why"
assert_eq "$(pq "$STANDBY" "select pg_is_in_recovery()")" "t" "a refused activation leaves the standby alone"

before=$(pq "$PRIMARY" "$BUILDS_SUM")
expect_exit 1 "dr-assess records the primary's figures" m dr-assess
m cluster stop immediate >/dev/null 2>&1
expect_exit 2 "dr-assess after the primary is killed is CRITICAL" m dr-assess
assert_contains "$OUT" "primary DOWN" "dr-assess says the primary is down"
expect_exit 0 "dr-report --initial" m dr-report --initial
report=$(ls "$DR_P"/state/midsops/incidents/*_disaster_recovery.md 2>/dev/null | head -n 1)
if [ -n "$report" ]; then
	assert_eq "$(stat -c %a "$report")" 600 "the impact report is mode 0600"
	assert_contains "$(cat "$report")" "unreachable" "the impact report says the primary is unreachable"
else
	fail "dr-report --initial writes a report" "no report in $DR_P/state/midsops/incidents"
fi
expect_exit 64 "dr-activate needs --yes when not interactive" m dr-activate </dev/null
expect_exit 0 "dr-activate after an immediate stop of the primary" m dr-activate --yes
assert_eq "$(pq "$STANDBY" "select pg_is_in_recovery()")" "f" "the DR site is promoted"
assert_contains "$(cat "$DR_P/config/midsops/midsops.conf")" "default_env = production" \
	"activation makes production the default"
assert_eq "$(pq "$STANDBY" "$BUILDS_SUM")" "$before" "builds are identical by checksum on the new primary"
expect_exit 0 "dr-validate on the new primary" m dr-validate
assert_contains "$OUT" "builds.builds" "dr-validate compares builds"
assert_contains "$OUT" "identical" "dr-validate finds identical checksums"
expect_exit 0 "writes succeed on the new primary (through the production environment)" \
	m db-shell -qAtc "insert into builds.builds (owner, name) values ('after', 'failover') returning owner"
assert_eq "$OUT" "after" "the write landed"
assert_eq "$(pq "$STANDBY" "select count(*) from builds.builds where owner = 'after'")" 1 "the write is on the DR site"
assert_eq "$(pq "$STANDBY" "select count(*) from ops.events where source = 'dr-activate'")" 1 \
	"the activation and the fence are journalled on the new primary"
expect_exit 0 "dr-restore --latest after activating a standby has nothing to do" m dr-restore --latest
assert_contains "$OUT" "nothing to restore" "dr-restore says the DR site holds the data"
expect_exit 0 "dr-report appends progress" m dr-report
[ -n "$report" ] && assert_contains "$(cat "$report")" "activate" "the report has the activation phase"
m cluster status >/dev/null 2>&1
assert_eq "$?" 3 "the fenced old primary was not restarted by any command"
OUT=$(m dr-perf-test 2>&1)
case $? in 0 | 1 | 2) ok "dr-perf-test compares with the baseline" ;; 3) assert_contains "$OUT" "skipped" "dr-perf-test skips clearly without perf-test" ;; *) fail "dr-perf-test" "$OUT" ;; esac
dr_env "$MIDSOPS" dr-verify-all >/dev/null 2>&1
case $? in 0 | 1 | 2) ok "dr-verify-all runs every check" ;; *) fail "dr-verify-all" "unexpected exit" ;; esac

# No standby: restore the latest verified backup into the DR site.
R=$TEST_TMP/r
mkdir -p "$R" && chmod 0711 "$R"
R_PORT=$((MIDSOPS_PGPORT + 14))
r() {
	env -u MIDSOPS_DSN XDG_DATA_HOME="$R/data" XDG_STATE_HOME="$R/state" \
		XDG_CONFIG_HOME="$R/config" MIDSOPS_PGPORT=$R_PORT "$MIDSOPS" "$@"
}
R_PRIMARY="host=$R/data/midsops/run port=$R_PORT dbname=midsops user=midsops"
if ! r help db-backup-full >/dev/null 2>&1; then
	skip "dr-restore --latest" "db-backup-full is not in this build"
else
	r db-create >/dev/null 2>&1
	pq "$R_PRIMARY" "insert into builds.builds (owner, name) select 'r', 'r' || g from generate_series(1, 100) g" >/dev/null
	expect_exit 0 "a full backup for dr-restore" r db-backup-full
	pq "$R_PRIMARY" "insert into builds.builds (owner, name) values ('r', 'after the backup')" >/dev/null
	r_before=$(pq "$R_PRIMARY" "$BUILDS_SUM")
	pq "$R_PRIMARY" "select pg_switch_wal()" >/dev/null
	sleep 2
	r cluster stop immediate >/dev/null 2>&1
	expect_exit 0 "dr-restore --latest without a standby" r dr-restore --latest
	R_SITE="host=$R/data/midsops/dr/run port=$((R_PORT + 1)) dbname=midsops user=midsops"
	assert_eq "$(pq "$R_SITE" "select pg_is_in_recovery()")" "f" "the restored site is running read-write"
	assert_eq "$(pq "$R_SITE" "$BUILDS_SUM")" "$r_before" "the restored site has the builds, WAL included"
	expect_exit 0 "dr-activate the restored site" r dr-activate --yes
	expect_exit 0 "writes on the restored site" r db-shell -Atc "insert into builds.builds (owner, name) values ('r', 'new') returning 1"
fi

# Stop what this test started (tests/run.sh also kills leftovers under TEST_ROOT).
for d in "$DR_P/data/midsops/dr/pg" "$R/data/midsops/dr/pg" "$R/data/midsops/pg" "$DR_P/data/midsops/pg"; do
	[ -f "$d/postmaster.pid" ] && kill -9 "$(head -n 1 "$d/postmaster.pid")" 2>/dev/null
done
true
