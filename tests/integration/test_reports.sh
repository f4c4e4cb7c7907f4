# Reports, diagnostics, metrics and performance commands.

# The checks here are about the reports, not about this host or the shared test cluster's
# churn: thresholds those can flip (memory in use, free disk, dead tuples) out of reach.
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[thresholds]\nmemory = 100000 200000\ndisk_free = 0 0\ndead_tuples = 100 100\n' \
	>>"$XDG_CONFIG_HOME/midsops/midsops.conf"

expect_exit 0 "reports: db-create" "$MIDSOPS" db-create
if "$MIDSOPS" help import >/dev/null 2>&1 && [ -d "$MINI_EXPORT" ] &&
	[ "$(psql_q "select count(*) from game.powers")" = 0 ]; then
	"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
fi

expect_exit 0 "diag-quick" "$MIDSOPS" diag-quick --json
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="OK" and d["seconds"] < 1.0, d["seconds"]' \
	&& ok "diag-quick is OK and takes under a second" || fail "diag-quick" "$OUT"
OUT=$("$MIDSOPS" diag-full --json 2>&1); rc=$?
[ "$rc" -le 2 ] && ok "diag-full runs (exit $rc)" || fail "diag-full" "exit $rc"
printf '%s' "$OUT" | python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in ("database","cache","imports","system","bloat","locks","connections","checkpoints","wal_archiver","slow_statements","maintenance"): assert k in d, k' \
	&& ok "diag-full has every probe and check" || fail "diag-full json" "$(printf '%s' "$OUT" | head -c 300)"

REPORTS=$XDG_STATE_HOME/midsops/reports
OUT=$("$MIDSOPS" diag-report 2>&1); rc=$?
[ "$rc" -le 2 ] && ok "diag-report runs (exit $rc)" || fail "diag-report" "exit $rc: $OUT"
f=$(ls "$REPORTS"/diag-*.md 2>/dev/null | tail -n 1)
if [ -n "$f" ]; then
	ok "diag-report wrote $f"
	assert_eq "$(stat -c %a "$f")" 600 "the diagnostic report is mode 0600"
	assert_eq "$(head -n 1 "$f")" "# midsops diagnostic report" "the report starts with its title"
	assert_eq "$(( $(grep -c '^```' "$f") % 2 ))" 0 "code fences in the diagnostic report are balanced"
	assert_contains "$(cat "$f")" "Overall status" "the report states the overall status"
else
	fail "diag-report file" "nothing in $REPORTS"
fi

# collect: samples with a retention limit.
psql_q "insert into ops.metrics (at, db_size) values (now() - interval '3 days', 1)" >/dev/null
expect_exit 0 "collect --count 2 --interval 1 --keep 1d" "$MIDSOPS" collect --count 2 --interval 1 --keep 1d
assert_eq "$(psql_q "select count(*) from ops.metrics where at > now() - interval '1 minute'")" 2 "collect stored two samples"
assert_eq "$(psql_q "select count(*) from ops.metrics where at < now() - interval '1 day'")" 0 "collect deleted samples past --keep"
assert_eq "$(psql_q "select count(*) from ops.metrics where tps is not null")" 2 "samples carry rates from the previous one"
expect_exit 64 "collect rejects a bad interval" "$MIDSOPS" collect --interval soon

expect_exit 0 "generate-weekly-report" "$MIDSOPS" generate-weekly-report
w=$(ls "$REPORTS"/weekly-*.md 2>/dev/null | tail -n 1)
if [ -n "$w" ]; then
	assert_eq "$(stat -c %a "$w")" 600 "the weekly report is mode 0600"
	body=$(cat "$w")
	for s in "## Imports" "## Errors by kind" "## Backups" "## Cache" "## Slow statements" \
		"## Database growth" "## Incidents" "## Daily figures" "Imports per day"; do
		assert_contains "$body" "$s" "weekly report has '$s'"
	done
	assert_eq "$(( $(grep -c '^```' "$w") % 2 ))" 0 "code fences in the weekly report are balanced"
	# The daily charts end with a trend line on the console's sparkline scale (spark.h).
	printf '%s\n' "$body" | LC_ALL=C.UTF-8 grep -qE '^trend +[▁▂▃▄▅▆▇█ ]+ +min [0-9.e+-]+.* +max [0-9.e+-]+' &&
		ok "the daily charts have a trend line with its scale" ||
		fail "the daily charts have a trend line with its scale" "$(grep -A9 'per day' "$w" | head -40)"
	python3 - "$w" <<'PY' && ok "weekly report tables are well-formed" || fail "weekly tables" "ragged table"
import sys
rows = [l for l in open(sys.argv[1]) if l.startswith("|")]
blocks, cur = [], []
for l in open(sys.argv[1]):
    if l.startswith("|"): cur.append(l.count("|") - l.count("\\|"))
    elif cur: blocks.append(cur); cur = []
if cur: blocks.append(cur)
assert blocks and all(len(set(b)) == 1 for b in blocks), blocks
PY
else
	fail "weekly report file" "nothing in $REPORTS"
fi

expect_exit 0 "metrics --prom" "$MIDSOPS" metrics --prom
printf '%s\n' "$OUT" | python3 -c 'import re,sys
lines=[l for l in sys.stdin.read().splitlines() if l]
assert lines
for l in lines:
    assert re.match(r"^# (HELP|TYPE) midsops_[a-z_]+ .+$", l) or re.match(r"^midsops_[a-z_]+\{.*\} [-+0-9.eE]+$", l), l
assert any(l.startswith("midsops_up{") and l.endswith(" 1") for l in lines)
assert any(l.startswith("midsops_cache_hits_total{") for l in lines)' \
	&& ok "metrics --prom is Prometheus text exposition" || fail "prom format" "$OUT"
expect_exit 0 "metrics --json" "$MIDSOPS" metrics --json

if [ "$(psql_q "select count(*) from game.powers")" -gt 0 ]; then
	"$MIDSOPS" cache-warm >/dev/null 2>&1
	OUT=$("$MIDSOPS" perf-test --duration 2 --clients 3 --json 2>&1); rc=$?
	[ "$rc" -le 2 ] && ok "perf-test runs (exit $rc)" || fail "perf-test" "exit $rc: $OUT"
	printf '%s' "$OUT" | python3 -c 'import json,sys
d=json.load(sys.stdin); assert d["queries"] > 0 and d["qps"] > 0 and d["errors"] == 0
assert d["p50_ms"] <= d["p95_ms"] <= d["p99_ms"] <= d["max_ms"]
assert {r["query"] for r in d["by_query"]} == {"power","powerset_powers","set_bonuses","search_powers"}
assert "cache_hit_rate" in d' && ok "perf-test reports QPS, percentiles, the mix and the hit rate" || fail "perf-test json" "$OUT"
else
	skip "perf-test" "no game data (import unavailable)"
fi
expect_exit 0 "perf-monitor" "$MIDSOPS" perf-monitor --duration 2 --interval 1
assert_eq "$(printf '%s\n' "$OUT" | grep -c '^[0-9][0-9]:')" 2 "perf-monitor prints a line per interval"
assert_contains "$OUT" "cache_%" "perf-monitor shows the cache hit rate"
OUT=$("$MIDSOPS" perf-analyze --json 2>&1); rc=$?
[ "$rc" -le 2 ] && ok "perf-analyze runs (exit $rc)" || fail "perf-analyze" "exit $rc: $OUT"
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["bottleneck"] and len(d["findings"]) >= 4' \
	&& ok "perf-analyze names a bottleneck (or none) from its findings" || fail "perf-analyze json" "$OUT"
