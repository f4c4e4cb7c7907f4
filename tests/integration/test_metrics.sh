# metrics --prom: an exposition promtool accepts, in base units, with counters the scraper
# turns into rates; valid with midsops_up 0 when the database is down; nothing but the
# exposition on stdout.

if ! command -v promtool >/dev/null 2>&1; then
	skip "metrics --prom" "promtool is not installed (Debian package prometheus; make deps)"
	return 0
fi

# prom_check NAME: the exposition in $OUT passes promtool check metrics (lint included).
prom_check() {
	res=$(printf '%s\n' "$OUT" | promtool check metrics 2>&1); prc=$?
	if [ "$prc" = 0 ] && [ -z "$res" ]; then ok "$1"; else
		fail "$1" "promtool exit $prc: $(printf '%s' "$res" | head -n 5)"
	fi
}

# prom_py NAME PYTHON: run PYTHON with the samples of $OUT parsed into S, a list of
# (name, {labels}, value) tuples, and F, the names of the families with a TYPE line.
prom_py() {
	name=$1; shift
	if printf '%s\n' "$OUT" | python3 -c '
import math, re, sys
S, F = [], {}
for l in sys.stdin.read().splitlines():
    if l.startswith("# TYPE "):
        _, _, n, t = l.split(" ", 3); F[n] = t; continue
    if l.startswith("#") or not l: continue
    m = re.match(r"^([a-z_]+)\{(.*)\} (\S+)$", l)
    assert m, "not a sample: " + l
    labels = dict((k, v.replace("\\\"", "\"").replace("\\n", "\n").replace("\\\\", "\\"))
                  for k, v in re.findall(r"([a-z_]+)=\"((?:[^\"\\\\]|\\\\.)*)\"", m.group(2)))
    S.append((m.group(1), labels, float(m.group(3))))
def get(n, **lab):
    return [v for (k, l, v) in S if k == n and all(l.get(a) == b for a, b in lab.items())]
def one(n, **lab):
    v = get(n, **lab); assert len(v) == 1, (n, lab, v); return v[0]
'"$1" 2>"$TEST_TMP/py.err"; then ok "$name"; else
		fail "$name" "$(tail -n 3 "$TEST_TMP/py.err")"
	fi
}

DB=$(psql_q "select current_database()")
"$MIDSOPS" import "$MINI_EXPORT" >"$TEST_TMP/import.log" 2>&1 \
	|| fail "import the mini export" "$(tail -n 3 "$TEST_TMP/import.log")"

# --- a healthy database, the cache not read yet ---------------------------------------
OUT=$("$MIDSOPS" metrics --prom 2>"$TEST_TMP/err"); rc=$?
assert_eq "$rc" 0 "metrics --prom exits 0 on a healthy database"
assert_eq "$(cat "$TEST_TMP/err")" "" "nothing on stderr when every figure could be read"
prom_check "promtool check metrics passes on a healthy database"
assert_not_contains "$OUT" "NaN" "no NaN in the exposition"
prom_py "every value is finite; ratios in 0..1; counters and sizes not negative" '
assert S
for (n, l, v) in S:
    assert math.isfinite(v), (n, v)
    if n.endswith("_ratio"): assert 0 <= v <= 1, (n, v)
    if n.endswith("_total") or n.endswith("_bytes") or n.endswith("_seconds"): assert v >= 0, (n, v)
    assert F.get(n) in ("counter", "gauge"), (n, "no TYPE")
    assert (F[n] == "counter") == n.endswith("_total"), (n, F[n])
    assert l.get("env") == "dsn", (n, l)'
prom_py "up 1, build_info and the target database as datname" '
assert one("midsops_up") == 1
assert one("midsops_build_info") == 1 and get("midsops_build_info", version="'"$("$MIDSOPS" --version | cut -d" " -f2)"'")
assert one("midsops_database_size_bytes", datname="'"$DB"'") > 1000000
for (n, l, v) in S:
    if n.startswith(("midsops_database_", "midsops_import_", "midsops_cache_", "midsops_statements_")):
        assert l.get("datname") == "'"$DB"'", (n, l)'
prom_py "the set an operator needs (postgres_exporter defaults and midsops own)" '
need = """midsops_up midsops_build_info midsops_postgres_info midsops_postmaster_start_time_seconds
midsops_in_recovery midsops_connections midsops_connections_max midsops_locks_waiting
midsops_longest_transaction_seconds midsops_database_size_bytes midsops_database_backends
midsops_database_xact_commits_total midsops_database_xact_rollbacks_total
midsops_database_blocks_hit_total midsops_database_blocks_read_total
midsops_database_deadlocks_total midsops_database_temp_bytes_total midsops_database_dead_tuples
midsops_database_live_tuples midsops_statements_total midsops_statements_seconds_total
midsops_replicas midsops_wal_archived_total midsops_wal_archive_failed_total
midsops_import_records_total midsops_import_runs_total midsops_import_unfinished_runs
midsops_import_last_success_timestamp_seconds midsops_import_last_duration_seconds
midsops_import_last_rate_records_per_second midsops_cache_hits_total midsops_cache_misses_total
midsops_cache_evictions_total midsops_cache_entries midsops_cache_size_bytes
midsops_cache_max_entries midsops_cache_max_bytes""".split()
missing = [n for n in need if not get(n)]
assert not missing, missing
old = [n for n in ("midsops_query_mean_ms", "midsops_buffer_hit_ratio", "midsops_memory_used_bytes", "midsops_import_rate") if n in F]
assert not old, old'
prom_py "the import: a recent success, its records counted, one completed run" '
import time
assert 0 <= time.time() - one("midsops_import_last_success_timestamp_seconds") < 3600
assert one("midsops_import_records_total") > 0
assert one("midsops_import_runs_total", state="completed") == 1
assert one("midsops_import_runs_total", state="failed") == 0
assert one("midsops_import_unfinished_runs", state="running") == 0
assert one("midsops_import_last_rate_records_per_second") > 0'
hits=$(psql_q "select coalesce(sum(hits + misses), 0) from cache.counters")
if [ "$hits" = 0 ]; then
	prom_py "an idle cache has counters at 0 and no hit ratio (unknown is left out)" '
assert one("midsops_cache_hits_total") == 0 and one("midsops_cache_misses_total") == 0
assert "midsops_cache_hit_ratio" not in F'
else
	fail "an idle cache" "the cache was read already ($hits reads) before the warm-up"
fi

# --- after a warm-up: one miss, then one hit of the same power --------------------------
P=$(psql_q "select full_name from game.powers where full_name is not null order by id limit 1")
psql_q "select api.power('$P') is not null" >/dev/null
psql_q "select api.power('$P') is not null" >/dev/null
OUT=$("$MIDSOPS" metrics --prom 2>/dev/null)
prom_check "promtool check metrics passes after the warm-up"
prom_py "after the warm-up the cache counters count and the ratio is in 0..1" '
h, m = one("midsops_cache_hits_total"), one("midsops_cache_misses_total")
assert h >= 1 and m >= 1, (h, m)
r = one("midsops_cache_hit_ratio")
assert abs(r - h / (h + m)) < 1e-9 and 0 < r < 1, r
assert one("midsops_cache_entries") >= 1 and one("midsops_cache_size_bytes") > 0
assert one("midsops_database_blocks_hit_total") > 0
assert 0 < one("midsops_database_buffer_hit_ratio") <= 1'

# --- backups: the newest complete one of each type ------------------------------------
psql_q "insert into ops.backups (id, type, status, started_at, finished_at, size_bytes) values
	('b1', 'full', 'complete', now() - interval '2 hours', now() - interval '1 hour', 1000),
	('b2', 'full', 'complete', now() - interval '20 minutes', now() - interval '10 minutes', 2000),
	('b3', 'full', 'failed', now() - interval '5 minutes', now(), 1),
	('b4', 'archive', 'running', now(), null, null)" >/dev/null
OUT=$("$MIDSOPS" metrics --prom 2>/dev/null)
prom_check "promtool check metrics passes with backups recorded"
prom_py "the newest complete backup of a type: its time and size; failed and running ones do not count" '
import time
assert 500 < time.time() - one("midsops_backup_last_success_timestamp_seconds", type="full") < 700
assert one("midsops_backup_last_size_bytes", type="full") == 2000
assert not get("midsops_backup_last_success_timestamp_seconds", type="archive")'

# --- a replica: pg_receivewal streaming from the test cluster ---------------------------
RW=$(ls /usr/lib/postgresql/*/bin/pg_receivewal 2>/dev/null | tail -n 1)
if [ -n "$RW" ]; then
	mkdir -p "$TEST_TMP/wal"
	"$RW" -d "$MIDSOPS_DSN application_name=metrics-test" -D "$TEST_TMP/wal" --no-sync \
		>"$TEST_TMP/rw.log" 2>&1 &
	rwpid=$!
	for _ in $(seq 1 100); do
		# Streaming and its first reply in: before that its flush position (and so its lag)
		# is unknown, and an unknown figure is left out.
		[ "$(psql_q "select count(*) from pg_stat_replication where application_name = 'metrics-test' and flush_lsn is not null and (flush_lag is not null or flush_lsn = pg_current_wal_lsn())")" = 1 ] && break
		sleep 0.1
	done
	OUT=$("$MIDSOPS" metrics --prom 2>/dev/null)
	kill -INT "$rwpid" 2>/dev/null
	wait "$rwpid" 2>/dev/null
	prom_check "promtool check metrics passes with a replica"
	prom_py "a replica has its lag in bytes and seconds, labelled by its name" '
assert one("midsops_replicas") >= 1
assert one("midsops_replication_lag_bytes", replica="metrics-test") >= 0
assert one("midsops_replication_lag_seconds", replica="metrics-test") >= 0
assert one("midsops_in_recovery") == 0'
else
	skip "metrics with a replica" "no pg_receivewal"
fi

# --- label values are escaped -------------------------------------------------------------
psql_q 'create database "m""q\x"' >/dev/null
OUT=$(MIDSOPS_DSN="$MIDSOPS_DSN dbname='m\"q\\\\x'" "$MIDSOPS" metrics --prom 2>/dev/null)
assert_contains "$OUT" 'datname="m\"q\\x"' "a database name with a quote and a backslash is escaped"
prom_check "promtool accepts the escaped labels"
psql_q 'drop database "m""q\x"' >/dev/null

# --- the database down ----------------------------------------------------------------
DOWN="host=$TEST_TMP/nowhere port=1 dbname=x"
"$MIDSOPS" --dsn "$DOWN" metrics --prom >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
OUT=$(cat "$TEST_TMP/out")
assert_eq "$rc" 0 "metrics --prom exits 0 with the database down (the exposition says up 0)"
prom_check "promtool check metrics passes with the database down"
prom_py "down: midsops_up 0 and build_info, and no figure of the database" '
assert one("midsops_up", env="dsn") == 0
assert one("midsops_build_info") == 1
assert set(n for (n, l, v) in S) == {"midsops_up", "midsops_build_info"}, S'
python3 - "$TEST_TMP/out" <<'PY' && ok "down: stdout holds nothing but exposition lines" || fail "down: stdout" "$(cat "$TEST_TMP/out")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines
for l in lines:
    assert re.match(r"^# (HELP|TYPE) midsops_[a-z_]+ .+$", l) or re.match(r"^midsops_[a-z_]+\{.*\} [0-9.e+-]+$", l), l
PY
assert_contains "$(cat "$TEST_TMP/err")" "cannot connect" "down: the reason goes to stderr"
assert_not_contains "$OUT" "cannot connect" "down: no error text on stdout"

expect_exit 1 "metrics without --prom exits 1 with the database down" \
	"$MIDSOPS" --dsn "$DOWN" metrics
OUT=$("$MIDSOPS" --dsn "$DOWN" metrics --json 2>/dev/null)
printf '%s' "$OUT" | python3 -c 'import json,sys
d=json.load(sys.stdin)["metrics"]
assert [r["value"] for r in d if r["metric"] == "midsops_up"] == [0], d' \
	&& ok "metrics --json says midsops_up 0 with the database down" || fail "metrics --json down" "$OUT"
expect_exit 64 "--prom with --json is a usage error" "$MIDSOPS" metrics --prom --json

# An embedded cluster never created: up 0, and nothing is created or started.
E=$TEST_TMP/emb
mkdir -p "$E"
OUT=$(env -u MIDSOPS_DSN XDG_DATA_HOME="$E/data" XDG_STATE_HOME="$E/state" \
	MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 13)) "$MIDSOPS" metrics --prom 2>"$TEST_TMP/err"); rc=$?
assert_eq "$rc" 0 "metrics --prom exits 0 for an embedded cluster that does not run"
assert_contains "$OUT" 'midsops_up{env="embedded"} 0' "a cluster that does not run is midsops_up 0"
assert_contains "$(cat "$TEST_TMP/err")" "cluster start" "stderr names the fix"
[ -e "$E/data/midsops/pg/PG_VERSION" ] && fail "metrics creates no cluster" "initdb ran" \
	|| ok "metrics creates no cluster"
