#!/bin/sh
# bench-history: the database stays bounded over many import generations. A copy of the
# real export (the mini export when it is absent) in a temporary folder is imported, then
# changed (about 2% of the powers' files each time) and imported again, GENERATIONS times
# in all, each import followed by history-prune with the default retention, as the weekly
# maintenance runs it. Then the same last export goes into a fresh database: the grown
# database must be within 1.5x its size. Prints the figures, medians for the timings.
# Run by `make bench-history`; BENCH_GENERATIONS (default 100) and BENCH_DATA override.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
MIDSOPS=${MIDSOPS:-$TOP/midsops}
DATA=${1:-${BENCH_DATA:-$TOP/../shared/data/cod-export}}
GENS=${BENCH_GENERATIONS:-100}
TARGET=1.5
[ -d "$DATA" ] || DATA=$TOP/tests/data/export-mini
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
q() { psql "$DSN dbname=$1" -XAtq -c "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1048576}'; }

cp -r "$DATA" "$ROOT/export"
# About 2% of the powers' files change per generation: their accuracy (seeded, so two runs
# change the same files).
mutate() {
	python3 - "$ROOT/export" "$1" <<'EOF'
import json, os, random, sys
root, g = sys.argv[1], int(sys.argv[2])
base = os.path.join(root, "powers")
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(base) for f in fs
               if f.endswith(".json") and f != "index.json"
               and os.path.relpath(d, base).count(os.sep) == 1)
rnd = random.Random(g)
for p in rnd.sample(files, max(1, len(files) // 50)):
    with open(p) as fh:
        doc = json.load(fh)
    doc["accuracy"] = round(rnd.uniform(0.5, 2.0), 4)
    with open(p, "w") as fh:
        json.dump(doc, fh, indent=2)
EOF
}
db=bench_history
q postgres "drop database if exists $db" >/dev/null 2>&1
q postgres "create database $db" >/dev/null
export MIDSOPS_DSN="$DSN dbname=$db"
echo "bench-history: $DATA, $GENS generations, defaults ($(nproc) cpus)"
: >"$ROOT/import"; : >"$ROOT/prune"
fails=0
for g in $(seq 1 "$GENS"); do
	[ "$g" -gt 1 ] && mutate "$g"
	t0=$(now)
	"$MIDSOPS" import "$ROOT/export" >"$ROOT/import.out" 2>&1 || { fails=$((fails + 1)); tail -n 3 "$ROOT/import.out"; }
	t1=$(now)
	"$MIDSOPS" history-prune >"$ROOT/prune.out" 2>&1 || { fails=$((fails + 1)); tail -n 3 "$ROOT/prune.out"; }
	t2=$(now)
	# the first import fills an empty database: not a weekly-style one
	[ "$g" -gt 1 ] && echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}' >>"$ROOT/import"
	echo "$t1 $t2" | awk '{printf "%.3f\n", $2 - $1}' >>"$ROOT/prune"
	if [ $((g % 10)) = 0 ] || [ "$g" = 1 ]; then
		echo "  generation $g: database $(mb "$(q "$db" "select pg_database_size(current_database())")")," \
			"game.history $(q "$db" "select count(*) from game.history") rows," \
			"ops.import_files $(q "$db" "select count(*) from ops.import_files") rows"
	fi
done
final=$(q "$db" "select pg_database_size(current_database())")
floor=$(q "$db" "select greatest(ops.rollback_floor(), (select min(generation) from ops.import_generations))")
gen=$(q "$db" "select max(generation) from ops.import_generations")
tables=$(q "$db" "select string_agg(c || ' ' || pg_size_pretty(pg_total_relation_size(c::regclass)), ', ') from unnest(array['game.history', 'ops.import_files', 'ops.import_errors', 'ops.import_runs', 'ops.events', 'game.powers']) c")

# The same last export into a fresh database.
q postgres "create database bench_fresh" >/dev/null
MIDSOPS_DSN="$DSN dbname=bench_fresh" "$MIDSOPS" import "$ROOT/export" >"$ROOT/fresh.out" 2>&1 || { fails=$((fails + 1)); tail -n 3 "$ROOT/fresh.out"; }
fresh=$(q bench_fresh "select pg_database_size(current_database())")
ratio=$(awk -v a="$final" -v b="$fresh" 'BEGIN {printf "%.2f", a / b}')
ok=$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN {print (r <= t) ? "met" : "MISSED"}')
echo "fresh import of the last export:     $(mb "$fresh")"
echo "after $GENS generations:              $(mb "$final") (generation $gen, oldest restorable $floor)"
echo "ratio:                               $ratio (target <= $TARGET: $ok)"
echo "median import (generations 2..):     $(median <"$ROOT/import") s"
echo "median history-prune (with vacuum):  $(median <"$ROOT/prune") s"
echo "tables:                              $tables"
[ "$fails" = 0 ] || { echo "bench-history: $fails command(s) failed"; exit 1; }
[ "$ok" = met ] || exit 1
