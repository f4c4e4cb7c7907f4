#!/bin/sh
# bench-import: full scan->promote of the real export into a fresh database, against the
# same files parsed by cJSON alone, then a re-import of the unchanged export. Prints the
# figures and whether each meets its target. Run by `make bench-import`.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
MIDSOPS=${MIDSOPS:-$TOP/midsops}
DATA=${1:-${BENCH_DATA:-$TOP/../shared/data/cod-export}}
RUNS=${BENCH_RUNS:-3}
if [ ! -d "$DATA" ]; then
	echo "bench-import: skipped: $DATA is absent (the real export is not shipped)"
	exit 0
fi
ROOT=$(mktemp -d /tmp/midsops-bench.XXXXXX)
chmod 0711 "$ROOT"
export XDG_DATA_HOME=$ROOT/data XDG_STATE_HOME=$ROOT/state XDG_CONFIG_HOME=$ROOT/config
export MIDSOPS_PGPORT=$((30000 + $$ % 20000)) NO_COLOR=1
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD
cleanup() {
	"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$MIDSOPS" cluster start >"$ROOT/start.log" 2>&1 || { cat "$ROOT/start.log"; exit 1; }
DSN=$("$MIDSOPS" cluster status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conninfo"])')

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# seconds and peak RSS (KB) of a command, into $ROOT/t
timed() { /usr/bin/time -f "%e %M" -o "$ROOT/t" "$@"; }

echo "bench-import: $DATA, $(nproc) cpus, $RUNS runs each"
: >"$ROOT/parse"
for i in $(seq "$RUNS"); do
	timed "$MIDSOPS" import-parse-only "$DATA" >/dev/null
	cut -d' ' -f1 "$ROOT/t" >>"$ROOT/parse"
done
: >"$ROOT/first"; : >"$ROOT/again"; : >"$ROOT/rss"; : >"$ROOT/rate"
for i in $(seq "$RUNS"); do
	db="bench_$i"
	"$MIDSOPS" db-shell -q -c "drop database if exists $db" -c "create database $db" >/dev/null
	timed "$MIDSOPS" --dsn "$DSN dbname=$db" --json import "$DATA" >"$ROOT/out.json" 2>"$ROOT/err" ||
		{ echo "import failed:"; tail -5 "$ROOT/err"; exit 1; }
	cut -d' ' -f1 "$ROOT/t" >>"$ROOT/first"
	cut -d' ' -f2 "$ROOT/t" >>"$ROOT/rss"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_per_second"])' "$ROOT/out.json" >>"$ROOT/rate"
	timed "$MIDSOPS" --dsn "$DSN dbname=$db" import "$DATA" >/dev/null 2>&1
	cut -d' ' -f1 "$ROOT/t" >>"$ROOT/again"
	cut -d' ' -f2 "$ROOT/t" >>"$ROOT/rss"
done
P=$(median <"$ROOT/parse")
F=$(median <"$ROOT/first")
A=$(median <"$ROOT/again")
R=$(sort -n "$ROOT/rss" | tail -1)
RATE=$(median <"$ROOT/rate")
verdict() { if [ "$1" = 1 ]; then echo "ok"; else echo "MISSED"; fi; }
echo "parse-only (cJSON) median:   ${P} s   runs: $(tr '\n' ' ' <"$ROOT/parse")"
echo "import scan->promote median: ${F} s   runs: $(tr '\n' ' ' <"$ROOT/first")  target <= 5 s: $(verdict "$(echo "$F <= 5" | bc)")"
echo "ratio import / parse-only:   $(echo "scale=2; $F / $P" | bc)   target <= 3: $(verdict "$(echo "$F <= 3 * $P" | bc)")"
echo "peak RSS of the importer:    $((R / 1024)) MB   target <= 64 MB: $(verdict "$(echo "$R <= 65536" | bc)")"
echo "records/s (first import):    ${RATE}"
echo "re-import unchanged median:  ${A} s   runs: $(tr '\n' ' ' <"$ROOT/again")  not slower than first: $(verdict "$(echo "$A <= $F" | bc)")"
