#!/bin/sh
# make bench-query: the API query path on the real export. A private cluster in a
# temporary directory (always removed) imports ../shared/data/cod-export, warms the cache,
# drives the api functions with perf-test's Zipf mix, and times diag-quick.
# Targets: API p99 <= 5 ms with a warm cache, cache hit rate >= 95%, diag-quick < 1 s.
# Without the export or the import command it says so and exits 0.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
MIDSOPS=${MIDSOPS:-$TOP/midsops}
REAL=${REAL_EXPORT:-$TOP/../shared/data/cod-export}
DURATION=${BENCH_DURATION:-20}
# One client per CPU: more only measures the run queue of this machine.
CLIENTS=${BENCH_CLIENTS:-$(nproc)}

if [ ! -d "$REAL" ]; then
	echo "bench-query: skipped: the real export $REAL is not there"
	exit 0
fi
if ! "$MIDSOPS" help import >/dev/null 2>&1; then
	echo "bench-query: skipped: this build has no import command"
	exit 0
fi

D=$(mktemp -d /tmp/midsops-bench-query.XXXXXX)
chmod 0711 "$D"
export XDG_DATA_HOME=$D/data XDG_STATE_HOME=$D/state XDG_CONFIG_HOME=$D/config
export MIDSOPS_PGPORT=${BENCH_PGPORT:-$((43000 + $$ % 9000))} NO_COLOR=1
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD
cleanup() {
	"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	for pid in $(find "$D" -name postmaster.pid 2>/dev/null); do
		kill -9 "$(head -n 1 "$pid")" 2>/dev/null
	done
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms() { date +%s%3N; }
row() { printf '%-34s %s\n' "$1" "$2"; }
die() { echo "bench-query: $*" >&2; exit 1; }
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "== bench-query in $D (port $MIDSOPS_PGPORT), $(nproc) cpus, load $(cut -d' ' -f1 /proc/loadavg)"
"$MIDSOPS" cluster start >"$D/log" 2>&1 || die "cluster start failed: $(tail -n 3 "$D/log")"
"$MIDSOPS" db-create >>"$D/log" 2>&1 || die "db-create failed: $(tail -n 3 "$D/log")"
t=$(ms)
"$MIDSOPS" import "$REAL" >"$D/import.log" 2>&1 || die "import failed: $(tail -n 3 "$D/import.log")"
row "import cod-export" "$(( $(ms) - t )) ms"
DSN=$("$MIDSOPS" cluster status --json | jget conninfo)
row "game rows" "$(psql "$DSN" -XAtqc "select count(*) from game.powers") powers, $(psql "$DSN" -XAtqc "select count(*) from game.powersets") powersets, $(psql "$DSN" -XAtqc "select count(*) from game.enhancement_sets") sets"
"$MIDSOPS" db-analyze >/dev/null 2>&1
t=$(ms)
"$MIDSOPS" cache-warm >"$D/warm.log" 2>&1 || die "cache-warm failed: $(tail -n 3 "$D/warm.log")"
row "cache-warm" "$(( $(ms) - t )) ms, $(psql "$DSN" -XAtqc "select count(*) from cache.entries") entries"

# A short run first so every backend has its plans cached, as a running API would.
"$MIDSOPS" perf-test --duration 2 --clients "$CLIENTS" >/dev/null 2>&1
"$MIDSOPS" perf-test --duration "$DURATION" --clients "$CLIENTS" --json >"$D/perf.json" 2>"$D/perf.err"
[ -s "$D/perf.json" ] || die "perf-test failed: $(tail -n 3 "$D/perf.err")"
python3 - "$D/perf.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("%-34s %d clients, %.0f s, %d queries, %d errors" % ("perf-test", d["clients"], d["duration_s"], d["queries"], d["errors"]))
print("%-34s %.0f" % ("queries per second", d["qps"]))
print("%-34s p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms" % ("API latency", d["p50_ms"], d["p95_ms"], d["p99_ms"], d["max_ms"]))
for r in d["by_query"]:
    print("%-34s %s queries, p50 %s ms, p99 %s ms" % ("  " + r["query"], r["count"], r["p50_ms"], r["p99_ms"]))
h = d["cache_hit_rate"]
print("%-34s %s" % ("cache hit rate", h["value"] if isinstance(h, dict) else h))
PY
p99=$(jget p99_ms <"$D/perf.json")
hit=$(python3 -c 'import json,sys; h=json.load(sys.stdin)["cache_hit_rate"]; print(str(h["value"] if isinstance(h, dict) else h).rstrip("%"))' <"$D/perf.json")

best=999999
for i in 1 2 3; do
	t=$(ms)
	"$MIDSOPS" diag-quick >/dev/null 2>&1
	d=$(( $(ms) - t ))
	[ "$d" -lt "$best" ] && best=$d
done
row "diag-quick (best of 3, whole process)" "$best ms"

echo "== targets"
fails=0
target() { # name ok text
	if [ "$2" = 1 ]; then row "$1" "met ($3)"; else row "$1" "MISSED ($3)"; fails=$((fails + 1)); fi
}
target "API p99 <= 5 ms" "$(python3 -c "print(int($p99 <= 5))")" "$(printf '%.2f' "$p99") ms"
target "cache hit rate >= 95%" "$(python3 -c "print(int($hit >= 95))")" "$hit%"
target "diag-quick < 1 s" "$([ "$best" -lt 1000 ] && echo 1 || echo 0)" "$best ms"
[ "$fails" -eq 0 ]
