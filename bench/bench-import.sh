#!/bin/sh
# bench-import: full scan->promote of the real export into a fresh database, against the
# same files parsed by cJSON alone, then a re-import of the unchanged export. Prints the
# figures and whether each meets its target. Run by `make bench-import`.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
MIDSOPS=${MIDSOPS:-$TOP/midsops}
DATA=${1:-${BENCH_DATA:-$TOP/../shared/data/cod-export}}
RUNS=${BENCH_RUNS:-5}
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

# CPU seconds the whole machine has been busy (all CPUs), from /proc/stat
busy_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / {printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# seconds, peak RSS (KB) and CPU seconds of a command, into $ROOT/t
timed() { /usr/bin/time -f "%e %M %U %S" -o "$ROOT/t" "$@"; }
cpu_of() { awk '{printf "%.2f\n", $3 + $4}' "$ROOT/t"; }
# CPU seconds of the import's server backends (staging, promote pipeline, progress): on a
# shared machine wall time measures the neighbours too. Polled from /proc while the import
# runs, summed over every backend of its database.
backend_cpu() { # DB PID
	: >"$ROOT/bcpu"
	: >"$ROOT/bpids"
	n=0 hz=$(getconf CLK_TCK)
	# the job is our child: a zombie still answers kill -0, so look at its state. Few
	# processes per round: the poller must not eat the CPU it measures.
	while read -r _ _ st _ <"/proc/$2/stat" 2>/dev/null && [ "$st" != Z ]; do
		if [ $((n % 10)) = 0 ]; then # the backends' pids, now and then (psql is dear)
			psql "$DSN dbname=$1" -XAtq -c "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()" >>"$ROOT/bpids" 2>/dev/null
		fi
		n=$((n + 1))
		files=""
		for bp in $(cat "$ROOT/bpids"); do
			[ -r "/proc/$bp/stat" ] && files="$files /proc/$bp/stat"
		done
		[ -n "$files" ] && awk -v hz="$hz" '{printf "%s %.2f\n", $1, ($14 + $15) / hz}' $files >>"$ROOT/bcpu" 2>/dev/null
		sleep 0.1
	done
	awk '{last[$1] = $2} END {s = 0; for (p in last) s += last[p]; printf "%.2f\n", s}' "$ROOT/bcpu"
}

echo "bench-import: $DATA, $(nproc) cpus, $RUNS rounds"
# Each round parses the files with cJSON alone, imports them, and parses them again: the
# ratio is taken per round against the mean of the two parses around the import, so both
# sides of it see the same machine (a neighbour's load moves both; a one-second parse
# swings more with a neighbour's bursts than a three-second import does). Nothing
# else of ours runs during a timed round: the CPU poller costs about half a CPU-second, on
# the import's side only, so the CPU figures come from one more import of their own.
: >"$ROOT/parse"; : >"$ROOT/parsecpu"; : >"$ROOT/ratio"
: >"$ROOT/first"; : >"$ROOT/again"; : >"$ROOT/rss"; : >"$ROOT/rate"; : >"$ROOT/others"
fresh_db() { # drop the previous round's database first: its autovacuum would run meanwhile
	"$MIDSOPS" db-shell -q -c "drop database if exists $2" -c "drop database if exists $1" \
		-c "create database $1" >/dev/null 2>&1
	"$MIDSOPS" --dsn "$DSN dbname=$1" db-migrate >/dev/null
}
prev=none
for i in $(seq "$RUNS"); do
	db="bench_$i"
	fresh_db "$db" "$prev"
	prev=$db
	timed "$MIDSOPS" import-parse-only "$DATA" >/dev/null
	cut -d' ' -f1 "$ROOT/t" >>"$ROOT/parse"
	cpu_of >>"$ROOT/parsecpu"
	p=$(cut -d' ' -f1 "$ROOT/t")
	busy0=$(busy_cpu)
	timed "$MIDSOPS" --dsn "$DSN dbname=$db" --json import "$DATA" >"$ROOT/out.json" 2>"$ROOT/err" ||
		{ echo "import failed:"; tail -5 "$ROOT/err"; exit 1; }
	busy1=$(busy_cpu)
	cp "$ROOT/t" "$ROOT/ti"
	timed "$MIDSOPS" import-parse-only "$DATA" >/dev/null
	cut -d' ' -f1 "$ROOT/t" >>"$ROOT/parse"
	cpu_of >>"$ROOT/parsecpu"
	p=$(echo "$p $(cut -d' ' -f1 "$ROOT/t")" | awk '{printf "%.3f", ($1 + $2) / 2}')
	mv "$ROOT/ti" "$ROOT/t"
	# what the rest of the machine (our server's own background work included) used
	# meanwhile, beyond the importer: its backends are in here, so compare with the CPU
	# figure below
	echo "$busy0 $busy1 $(cpu_of)" | awk '{printf "%.2f\n", $2 - $1 - $3}' >>"$ROOT/others"
	cut -d' ' -f1 "$ROOT/t" >>"$ROOT/first"
	echo "scale=2; $(cut -d' ' -f1 "$ROOT/t") / $p" | bc >>"$ROOT/ratio"
	cut -d' ' -f2 "$ROOT/t" >>"$ROOT/rss"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_per_second"])' "$ROOT/out.json" >>"$ROOT/rate"
	timed "$MIDSOPS" --dsn "$DSN dbname=$db" import "$DATA" >/dev/null 2>&1
	cut -d' ' -f1 "$ROOT/t" >>"$ROOT/again"
	cut -d' ' -f2 "$ROOT/t" >>"$ROOT/rss"
done
# CPU of the import: client plus every backend of its database, polled while it runs
db=bench_cpu
fresh_db "$db" "$prev"
timed "$MIDSOPS" --dsn "$DSN dbname=$db" import "$DATA" >/dev/null 2>"$ROOT/err" &
ipid=$!
server=$(backend_cpu "$db" "$ipid")
wait "$ipid" || { echo "import failed:"; tail -5 "$ROOT/err"; exit 1; }
C=$(echo "$(cpu_of) $server" | awk '{printf "%.2f\n", $1 + $2}')
CW=$(cut -d' ' -f1 "$ROOT/t")
P=$(median <"$ROOT/parse")
F=$(median <"$ROOT/first")
A=$(median <"$ROOT/again")
R=$(sort -n "$ROOT/rss" | tail -1)
PC=$(median <"$ROOT/parsecpu")
RATE=$(median <"$ROOT/rate")
verdict() { if [ "$1" = 1 ]; then echo "ok"; else echo "MISSED"; fi; }
echo "parse-only (cJSON) median:   ${P} s   runs (before and after each import): $(tr '\n' ' ' <"$ROOT/parse")"
echo "import scan->promote median: ${F} s   runs: $(tr '\n' ' ' <"$ROOT/first")  target <= 5 s: $(verdict "$(echo "$F <= 5" | bc)")"
Q=$(median <"$ROOT/ratio")
echo "ratio import / parse-only:   median of the rounds ${Q} (each against its two parses' mean)   rounds: $(tr '\n' ' ' <"$ROOT/ratio")  target <= 3: $(verdict "$(echo "$Q <= 3" | bc)")"
echo "                             (ratio of the medians: $(echo "scale=2; $F / $P" | bc))"
echo "CPU: import (client + server backends) ${C} s, of it the server ${server} s (one polled run, ${CW} s wall), parse-only median ${PC} s, ratio $(echo "scale=2; $C / $PC" | bc)"
echo "CPU beyond the importer during each timed import: $(tr '\n' ' ' <"$ROOT/others")s (its server backends plus anything else: compare with the server's share above)"
echo "load when done: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cpus"
echo "peak RSS of the importer:    $((R / 1024)) MB   target <= 64 MB: $(verdict "$(echo "$R <= 65536" | bc)")"
echo "records/s (first import):    ${RATE}"
echo "re-import unchanged median:  ${A} s   runs: $(tr '\n' ' ' <"$ROOT/again")  not slower than first: $(verdict "$(echo "$A <= $F" | bc)")"
