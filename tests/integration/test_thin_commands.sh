# The cache, report and maintenance commands declare the connection they need (.db in the
# command table) and cmd_run opens it: a bad option is refused before any connection, a
# database that is down reads as each command always said it, and the work still reaches
# the database under the command's own application_name and journals itself.

LIVE_DSN=$MIDSOPS_DSN
# Nothing listens on port 1: the connection is refused at once.
DEAD_DSN="host=127.0.0.1 port=1 connect_timeout=3"

# ---- option values first: refused without touching the database ----
export MIDSOPS_DSN=$DEAD_DSN
expect_exit 64 "cache-analyze --top 0 is a usage error" "$MIDSOPS" cache-analyze --top 0
assert_contains "$OUT" "--top must be at least 1" "cache-analyze names the bad option"
assert_not_contains "$OUT" "cannot connect" "cache-analyze refuses the option before connecting"
expect_exit 64 "cache-warm --powers -1 is a usage error" "$MIDSOPS" cache-warm --powers -1
assert_contains "$OUT" "--powers must not be negative" "cache-warm names the bad option"
expect_exit 64 "collect --interval 0 is a usage error" "$MIDSOPS" collect --interval 0
assert_contains "$OUT" "bad --interval, --count or --keep" "collect names the bad option"
expect_exit 64 "perf-monitor --interval 0 is a usage error" "$MIDSOPS" perf-monitor --interval 0
assert_not_contains "$OUT" "cannot connect" "perf-monitor refuses the option before connecting"
expect_exit 3 "db-slow-queries --limit 0 is UNKNOWN (a check's usage error)" \
	"$MIDSOPS" db-slow-queries --limit 0
assert_contains "$OUT" "--limit must be at least 1" "db-slow-queries names the bad option"
expect_exit 3 "perf-test --clients 0 is UNKNOWN (a check's usage error)" \
	"$MIDSOPS" perf-test --clients 0
assert_contains "$OUT" "--clients 1..64" "perf-test names the bad option"

# ---- the database down: each command's own verdict ----
expect_exit 2 "db-health with the database down is CRITICAL" "$MIDSOPS" db-health
assert_contains "$(printf '%s' "$OUT" | head -n 1)" "MIDSOPS DB-HEALTH CRITICAL - cannot connect to" \
	"db-health's status line gives the reason"
expect_exit 2 "diag-quick with the database down is CRITICAL" "$MIDSOPS" diag-quick
assert_contains "$OUT" "DIAG-QUICK CRITICAL - cannot connect to" "diag-quick gives the reason"
expect_exit 2 "perf-analyze with the database down is CRITICAL" "$MIDSOPS" perf-analyze
expect_exit 2 "validate-all-data with the database down is CRITICAL" "$MIDSOPS" validate-all-data
assert_contains "$OUT" "VALIDATE-ALL-DATA CRITICAL - cannot connect" \
	"validate-all-data says it cannot connect"
expect_exit 3 "cache-stats with the database down is UNKNOWN" "$MIDSOPS" cache-stats
assert_contains "$OUT" "cannot connect to" "cache-stats gives the reason"
expect_exit 2 "perf-test with the database down is CRITICAL" "$MIDSOPS" perf-test
expect_exit 1 "cache-clear with the database down exits 1" "$MIDSOPS" cache-clear
assert_contains "$OUT" "cannot connect to" "cache-clear gives the reason"
expect_exit 1 "generate-weekly-report with the database down exits 1" \
	"$MIDSOPS" generate-weekly-report
assert_contains "$OUT" "CRITICAL: cannot connect to" "the weekly report gives the reason"

# ---- the database up ----
export MIDSOPS_DSN=$LIVE_DSN
expect_exit 0 "db-create" "$MIDSOPS" db-create
expect_exit 0 "cache-clear runs on the dispatcher's connection" "$MIDSOPS" cache-clear
assert_contains "$OUT" "cache cleared (" "cache-clear reports what it dropped"
assert_eq "$(psql_q "select count(*) from ops.events where source = 'cache-clear'
	and level = 'warning' and message like 'cache cleared: % entries dropped'")" 1 \
	"cache-clear journals itself in ops.events"
expect_exit 0 "cache-rebuild-indexes" "$MIDSOPS" cache-rebuild-indexes
assert_contains "$OUT" "cache.entries_pkey" "the indexes are listed with their sizes"
assert_contains "$OUT" "rebuilt " "cache-rebuild-indexes says how many it rebuilt"
expect_exit 0 "cache-analyze" "$MIDSOPS" cache-analyze --json --top 3
assert_contains "$OUT" '"size_distribution"' "cache-analyze shows the size distribution"
expect_exit 64 "db-vacuum of a table that does not exist is a usage error" \
	"$MIDSOPS" db-vacuum no_such_table
assert_contains "$OUT" "no_such_table" "db-vacuum names the table"
expect_exit 0 "db-analyze of one table" "$MIDSOPS" db-analyze ops.events
assert_contains "$OUT" "db-analyze: 1 table(s) done" "db-analyze did the table"
assert_eq "$(psql_q "select count(*) from ops.events where source = 'db-analyze'")" 1 \
	"db-analyze journals itself"
expect_exit 0 "validate-all-data on an empty database" "$MIDSOPS" validate-all-data --no-amcheck
assert_contains "$OUT" "0 check(s) failed" "validate-all-data finds nothing wrong"

# The dispatcher names the connection after the command (application_name "midsops NAME").
"$MIDSOPS" collect --count 3 --interval 2 >"$TEST_TMP/collect.out" 2>&1 &
collect_pid=$!
seen=0
for _ in $(seq 1 100); do
	n=$(psql_q "select count(*) from pg_stat_activity where application_name = 'midsops collect'")
	[ "${n:-0}" -gt 0 ] && { seen=1; break; }
	kill -0 "$collect_pid" 2>/dev/null || break
	sleep 0.1
done
wait "$collect_pid"
rc=$?
assert_eq "$seen" 1 "collect's connection is named 'midsops collect'"
assert_eq "$rc" 0 "collect stored its samples"
assert_contains "$(cat "$TEST_TMP/collect.out")" "sample 3 stored" "collect took three samples"
assert_eq "$(psql_q "select count(*) from ops.metrics")" 3 "three samples are in ops.metrics"

# ---- the code's shape rules (issue 17), from the source as checked out ----
sql_in_cmd=$(grep -cE 'db_query|db_exec|db_scalar|PQexec|PQsendQuery' "$TOP"/src/cmd/*.c | grep -v ':0$')
assert_eq "$sql_in_cmd" "" "src/cmd/ makes no SQL call (db_query, db_exec, db_scalar, PQexec, PQsendQuery)"
longest=$(awk -f "$TOP/tools/funclen.awk" "$TOP"/src/*.c "$TOP"/src/*/*.c | sort -rn | head -n 1)
[ "${longest%% *}" -le 150 ] && ok "no function in src/ is over 150 lines (longest: ${longest%% *})" ||
	fail "no function in src/ is over 150 lines" "$longest"
curses_out=$(grep -l 'curses.h' "$TOP"/src/*.c "$TOP"/src/*/*.c | grep -v '/src/tui/')
assert_eq "$curses_out" "" "curses stays in src/tui/"
libpq_in_tui=$(grep -lE '\bPQ[a-zA-Z]+\(' "$TOP"/src/tui/*.c)
assert_eq "$libpq_in_tui" "" "no libpq call in src/tui/"
