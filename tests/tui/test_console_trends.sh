# The console's key metrics strip and trends view (R): the strip under the host line shows the
# runbook's four figures with their values and states; the trends view shows sparklines
# with labelled scales (now, min, max); under a pgbench load the TPS sparkline's figures
# rise and its glyphs change; :trend 24h backfills from ops.metrics (midsops collect);
# without pg_stat_statements the query time is n/a with the reason; ? lists R and :trend.
# Real cluster, real pgbench.
. "$TOP/tests/tui/console_lib.sh"

"$MIDSOPS" db-create >/dev/null 2>&1
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[midsops]\nrefresh = 1\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"
PGBENCH=$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)

# Some web statements, so the query time has a figure (the console's own are not judged).
psql_q "select count(*) from pg_class" >/dev/null
S=trend$$
console_start "$S"
expect_screen "console up" "$S" "connected  up" 300

# The strip: the four figures, each with a value and a state, or n/a.
expect_screen_re "the strip shows the import speed" "$S" "import (n/a|[0-9.]+k?/s (OK|WARN|CRIT))" 50
expect_screen_re "the strip shows the query time with a state" "$S" "query [0-9.]+ms (OK|WARN|CRIT)" 150
expect_screen_re "the strip shows the cache hit rate" "$S" "cache hit (n/a|[0-9.]+% (OK|WARN|CRIT))" 50
expect_screen_re "the strip shows the memory with a state" "$S" "memory [0-9.]+G (OK|WARN|CRIT)" 50
line3=$(screen "$S" | sed -n 3p)
case "$line3" in *import*query*cache\ hit*memory*) ok "the strip is one line, under the header and the host line" ;;
*) fail "the strip is one line, under the header and the host line" "$(screen "$S" | head -4)" ;; esac
assert_eq "$(screen "$S" | sed -n 4p | cut -c1-3)" "┌" "the panes begin under the strip"

# A query-time threshold below anything measured: the strip says CRIT and names the
# runbook's action (perf-analyze's words).
printf '[midsops]\nrefresh = 1\n[thresholds]\nquery_time = 0.00001 0.00002\n' \
	>"$XDG_CONFIG_HOME/midsops/midsops.conf"
S2=trendq$$
console_start "$S2"
expect_screen_re "an off figure names the runbook's action" "$S2" "query [0-9.]+ms CRIT: optimize indexes" 150
pa=$("$MIDSOPS" perf-analyze 2>&1)
assert_contains "$pa" "optimize indexes" "perf-analyze names the same action"
# At 80 columns the four figures fit, and the critical one keeps its action.
tm resize-window -t "$S2" -x 80 -y 30
expect_screen_re "at 80 columns the strip keeps the four figures and the action" "$S2" "^ (import|imp) .*(query|qry) [0-9.]+ms CRIT: optimize indexes.*(memory|mem) [0-9.]+G" 50
keys "$S2" q
printf '[midsops]\nrefresh = 1\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"

# The trends view: every sparkline with its labelled scale.
keys "$S" R
expect_screen "R opens the trends view" "$S" "last 15m from the console's own samples" 50
for l in "TPS" "connections" "buffer hit" "API cache hit" "import rate" "replication lag" \
	"WAL archive age" "last backup age"; do
	assert_contains "$(screen "$S")" "$l" "the trends view has $l"
done
expect_screen_re "TPS has a sparkline and its scale" "$S" "^.TPS +[▁▂▃▄▅▆▇█ ]+ now [0-9.k]+ +min [0-9.k]+ +max [0-9.k]+" 100
expect_screen_re "connections has a sparkline and its scale" "$S" "connections +[▁▂▃▄▅▆▇█ ]+ now [0-9]" 50
assert_contains "$(screen "$S")" "replication lag" "replication lag is listed"
expect_screen "the key metrics in full under the sparklines" "$S" "key metrics (runbook)" 50

tps_max() { screen "$S" | LC_ALL=C.UTF-8 sed -n 's/^.TPS .* max \([0-9.k]*\).*/\1/p' | head -n 1; }
tps_glyphs() { screen "$S" | LC_ALL=C.UTF-8 sed -n 's/^.TPS *\([^n]*\)now.*/\1/p' | head -n 1; }
to_num() { case "$1" in *k) awk -v v="${1%k}" 'BEGIN {print v * 1000}' ;; *M) awk -v v="${1%M}" 'BEGIN {print v * 1e6}' ;; *) echo "${1:-0}" ;; esac; }
sleep 3 # a few idle samples first (this is the idle baseline, not a check)
max0=$(to_num "$(tps_max)"); g0=$(tps_glyphs)

# pgbench on a scratch database of the same cluster, in the background for a few seconds.
psql "$BASE_DSN dbname=postgres" -XAtq -c "drop database if exists trend_bench" -c "create database trend_bench" >/dev/null 2>&1
BDSN="$BASE_DSN dbname=trend_bench"
if "$PGBENCH" -i -q -s 1 "$BDSN" >"$TEST_TMP/pgbench-i.log" 2>&1; then
	"$PGBENCH" -c 2 -j 1 -T 6 -n "$BDSN" >"$TEST_TMP/pgbench.log" 2>&1 &
	pb=$!
	rises() { m=$(to_num "$(tps_max)"); awk -v a="$m" -v b="$max0" -v lim=50 'BEGIN {exit !(a > b + lim)}'; }
	if wait_until 150 rises; then ok "under pgbench the TPS max rises (from $max0 to $(tps_max))"
	else fail "under pgbench the TPS max rises" "max $max0 then $(tps_max): $(screen "$S")"; fi
	g1=$(tps_glyphs)
	[ -n "$g1" ] && [ "$g1" != "$g0" ] && ok "the TPS sparkline's glyphs change ('$g0' -> '$g1')" ||
		fail "the TPS sparkline's glyphs change" "'$g0' and '$g1'"
	wait "$pb"
	grep -q "number of transactions actually processed" "$TEST_TMP/pgbench.log" && ok "pgbench ran" ||
		fail "pgbench ran" "$(cat "$TEST_TMP/pgbench.log")"
else
	fail "pgbench -i" "$(cat "$TEST_TMP/pgbench-i.log")"
fi

# :trend 24h backfills from ops.metrics: samples collect writes, and older rows.
"$MIDSOPS" collect --count 2 --interval 1 >/dev/null 2>&1
psql_q "insert into ops.metrics(at, tps, connections, buffer_hit_pct, cache_hit_pct, import_rate,
    replica_lag_bytes, wal_age_s, backup_age_s)
  select now() - g * interval '1 hour', 100 + g * 10, 5, 99, 90, 0, g * 1000, 60 + g, 7200 + g * 60
  from generate_series(1, 20) g" >/dev/null
keys "$S" ':'
keys "$S" 'trend 24h' Enter
expect_screen_re "the backfilled window is named" "$S" "last 24h backfilled from ops.metrics .*: [0-9]+ buckets" 100
expect_screen_re "its TPS scale comes from ops.metrics" "$S" "^.TPS .* max 3[0-9]{2}" 50
# The lag, the WAL archive's and the last backup's age are kept by collect too.
expect_screen_re "the WAL archive age is backfilled, with its scale" "$S" "^.WAL archive age .* max 1m[0-9]{2}s" 50
expect_screen_re "the last backup age is backfilled" "$S" "^.last backup age .* max 2h[0-9]{2}m" 50
expect_screen_re "the replication lag is backfilled (a primary's bytes)" "$S" "^.replication lag .* max [0-9.]+ kB" 50
assert_eq "$(psql_q "select count(*) filter (where wal_age_s is not null or backup_age_s is null)
  from ops.metrics where at > now() - interval '10 minutes'")" \
	"$(psql_q "select count(*) from ops.metrics where at > now() - interval '10 minutes'")" \
	"collect writes the new columns (NULL where there is nothing to age)"
keys "$S" ':'
keys "$S" 'trend 15m' Enter
expect_screen "back to the live window" "$S" "last 15m from the console's own samples" 50

if [ -n "${TRENDS_CAPTURES:-}" ]; then
	mkdir -p "$TRENDS_CAPTURES"
	for size in 80x24 160x48; do
		tm resize-window -t "$S" -x "${size%x*}" -y "${size#*x}"
		sleep 1.5
		screen "$S" >"$TRENDS_CAPTURES/trends-$size.txt"
		keys "$S" R
		sleep 1.2
		screen "$S" >"$TRENDS_CAPTURES/panes-$size.txt"
		keys "$S" R
	done
	tm resize-window -t "$S" -x 100 -y 30
fi

# The trends, timeline and sessions views take the panes' place one at a time.
keys "$S" T
expect_screen "T from the trends view opens the timeline" "$S" "Timeline: the last 24h" 50
assert_not_contains "$(screen "$S")" "last 15m from" "the trends view gave way to the timeline"
keys "$S" R
expect_screen "R from the timeline opens the trends view" "$S" "last 15m from" 50
assert_not_contains "$(screen "$S")" "Timeline: the last 24h" "the timeline gave way to the trends view"
keys "$S" S
expect_screen "S from the trends view opens the sessions view" "$S" "Sessions and locks" 50
keys "$S" R
expect_screen "R from the sessions view opens the trends view" "$S" "last 15m from" 50
assert_not_contains "$(screen "$S")" "Sessions and locks" "the sessions view gave way to the trends view"

# R returns to the panes; the strip stays.
keys "$S" R
expect_screen "R returns to the panes" "$S" "Database health" 50
assert_not_contains "$(screen "$S")" "last 15m from" "the trends view is gone"

# At 80x24 one row is left above the panes: the strip has it (the host is no worse off),
# the host line folds away; the trends view still lists the four in full.
tm resize-window -t "$S" -x 80 -y 24
wait_until 30 sh -c "tmux -L '$TMUX_SOCKET' capture-pane -p -t '$S' | sed -n 3p | grep -q '^┌'" &&
	ok "at 80x24 one row above the panes" ||
	fail "at 80x24 one row above the panes" "$(screen "$S" | head -4)"
case "$(screen "$S" | sed -n 2p)" in
*imp*qry* | *import*query*) ok "at 80x24 the row is the key metrics strip" ;;
*) fail "at 80x24 the row is the key metrics strip" "$(screen "$S" | head -4)" ;;
esac
assert_not_contains "$(screen "$S")" "too small" "at 80x24 the console still fits"
keys "$S" R
expect_screen_re "at 80x24 the trends view lists the key metrics" "$S" "query time +[0-9.]+ms +OK" 50
keys "$S" R
tm resize-window -t "$S" -x 100 -y 30
expect_screen "back at 100x30 the strip returns" "$S" "cache hit" 30

# ? lists R and :trend.
keys "$S" '?'
expect_screen "help lists R" "$S" "R                  trends" 50
keys "$S" End
expect_screen "help explains :trend" "$S" ":trend 24h" 50
keys "$S" Escape
keys "$S" q
psql "$BASE_DSN dbname=postgres" -XAtq -c "drop database if exists trend_bench" >/dev/null 2>&1

# Without pg_stat_statements the query time is n/a with the reason, never a made-up OK.
psql_q "drop extension if exists pg_stat_statements" >/dev/null
S3=trendn$$
console_start "$S3"
expect_screen "console up without pg_stat_statements" "$S3" "connected  up" 300
expect_screen_re "the strip says the query time is n/a" "$S3" "query n/a +cache hit" 100
keys "$S3" R
expect_screen "the trends view says why" "$S3" "pg_stat_statements is not installed and preloaded" 50
keys "$S3" q
