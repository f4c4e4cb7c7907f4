# Health and maintenance: probes, the lock blocking tree, slow statements, degraded
# probes, vacuum/analyze/optimize, validate-all-data catching broken references.

expect_exit 0 "health: db-create" "$MIDSOPS" db-create
expect_exit 0 "db-health" "$MIDSOPS" db-health --json
printf '%s' "$OUT" | python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in ("bloat","long_transactions","locks","connections","checkpoints","wal_archiver"): assert k in d, k' \
	&& ok "db-health has every probe" || fail "db-health probes" "$OUT"

# A blocked lock appears in the blocking tree.
psql "$MIDSOPS_DSN" -Xq -c "begin; lock table ops.events in access exclusive mode; select pg_sleep(20); commit" >/dev/null 2>&1 &
HOLDER=$!
sleep 1
psql "$MIDSOPS_DSN" -Xq -c "select count(*) from ops.events" >/dev/null 2>&1 &
WAITER=$!
sleep 1
OUT=$(timeout 15 "$MIDSOPS" db-health 2>&1)
rc=$?
assert_eq "$rc" 1 "db-health warns about a blocked session (exit 1)"
assert_contains "$OUT" "lock table ops.events" "the blocking session is a root of the tree"
assert_contains "$OUT" "└─ pid $(psql_q "select pid from pg_stat_activity where query = 'select count(*) from ops.events'")" \
	"the blocked session hangs under its blocker"
assert_contains "$OUT" "relation ops.events AccessShareLock" "the tree says which lock is awaited"
OUT=$(timeout 15 "$MIDSOPS" diag-quick 2>&1)
assert_contains "$OUT" "waiting_locks" "diag-quick runs while a table is locked"
psql_q "select pg_terminate_backend(pid) from pg_stat_activity where query like 'begin; lock table ops.events%'" >/dev/null
kill "$HOLDER" "$WAITER" 2>/dev/null
wait "$HOLDER" "$WAITER" 2>/dev/null
expect_exit 0 "db-health after the lock is gone" "$MIDSOPS" db-health
assert_contains "$OUT" "no session is blocked" "the tree is empty again"

# A slow statement appears in db-slow-queries.
psql_q "select pg_sleep(0.35)" >/dev/null
expect_exit 2 "db-slow-queries flags a 350 ms statement (CRITICAL over 100 ms)" "$MIDSOPS" db-slow-queries --threshold 300
assert_contains "$OUT" "pg_sleep" "the slow statement is listed"
assert_contains "$OUT" "300" "the threshold is shown"
expect_exit 0 "db-slow-queries --json" "$MIDSOPS" db-slow-queries --json --threshold 100000 --limit 3
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["slowest_by_mean"]==[] and len(d["top_by_total_time"])<=3' \
	&& ok "db-slow-queries JSON: by mean (over threshold) and by total" || fail "slow json" "$OUT"
expect_exit 3 "db-slow-queries (a check) rejects a bad threshold as UNKNOWN" "$MIDSOPS" db-slow-queries --threshold abc
psql_q "drop extension pg_stat_statements" >/dev/null
expect_exit 3 "db-slow-queries without the extension is UNKNOWN" "$MIDSOPS" db-slow-queries
assert_contains "$OUT" "CREATE EXTENSION pg_stat_statements" "and says how to enable it"
expect_exit 0 "db-health still works without pg_stat_statements" "$MIDSOPS" db-health
psql_q "create extension pg_stat_statements" >/dev/null

# Degrade: a role without pg_monitor still gets every probe, with a note.
psql_q "drop role if exists midsops_low; create role midsops_low login" >/dev/null 2>&1
LOW="$MIDSOPS_DSN user=midsops_low"
OUT=$("$MIDSOPS" --dsn "$LOW" db-health 2>&1)
rc=$?
[ "$rc" -le 1 ] && ok "db-health as an unprivileged role runs (exit $rc)" || fail "low db-health" "exit $rc: $OUT"
assert_contains "$OUT" "pg_monitor" "the unprivileged run says what grant is missing"

# Maintenance with before/after figures.
psql_q "create table ops.health_churn as select g as id from generate_series(1, 5000) g; delete from ops.health_churn where id % 2 = 0" >/dev/null
expect_exit 0 "db-vacuum a named table" "$MIDSOPS" db-vacuum ops.health_churn
assert_contains "$OUT" "dead_tuples" "db-vacuum reports dead tuples before and after"
expect_exit 0 "db-vacuum --json" "$MIDSOPS" db-vacuum --json --analyze ops.health_churn
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); t=d["tables"][0]; assert t["table"]=="ops.health_churn" and int(t["dead_after"])==0' \
	&& ok "db-vacuum removed the dead tuples" || fail "vacuum json" "$OUT"
expect_exit 0 "db-analyze" "$MIDSOPS" db-analyze ops.health_churn game.powers
expect_exit 64 "db-vacuum of an unknown table is a usage error" "$MIDSOPS" db-vacuum no_such_table
expect_exit 0 "db-optimize" "$MIDSOPS" db-optimize
assert_contains "$OUT" "database_size" "db-optimize reports the size before and after"
psql_q "drop table ops.health_churn" >/dev/null

# validate-all-data: clean, then a reference broken on purpose.
if "$MIDSOPS" help import >/dev/null 2>&1 && [ -d "$MINI_EXPORT" ]; then
	[ "$(psql_q "select count(*) from game.powers")" -gt 0 ] || "$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
fi
expect_exit 0 "validate-all-data on consistent data" "$MIDSOPS" validate-all-data
assert_contains "$OUT" "physical" "validate-all-data runs the physical check"
assert_contains "$OUT" "import_counts" "validate-all-data compares counts with the import summaries"
psql "$MIDSOPS_DSN" -XAtq -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
set session_replication_role = replica;
insert into builds.builds (owner, name, archetype_id, level) values ('test', 'broken-on-purpose', 987654, 60);
SQL
expect_exit 2 "validate-all-data catches a dangling reference (CRITICAL)" "$MIDSOPS" validate-all-data --no-amcheck
assert_contains "$OUT" "archetype_id 987654" "the dangling reference is listed"
assert_contains "$OUT" "level 60" "the level out of 1..50 is listed"
expect_exit 2 "validate-all-data --json" "$MIDSOPS" validate-all-data --no-amcheck --json
printf '%s' "$OUT" | python3 -c 'import json,sys
d=json.load(sys.stdin); c={x["check"]: x for x in d["references_and_invariants"]["checks"]}
assert int(c["builds.archetype -> game.archetypes"]["count"]) == 1; assert d["status"]=="CRITICAL"' \
	&& ok "the dangling reference is counted in JSON" || fail "validate json" "$OUT"
psql_q "delete from builds.builds where name = 'broken-on-purpose'" >/dev/null
expect_exit 0 "validate-all-data is clean again" "$MIDSOPS" validate-all-data --no-amcheck
