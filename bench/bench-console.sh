#!/bin/sh
# bench-console: the idle console at a 1 s refresh over 60 s on a database with data.
# Prints CPU (% of one core), RSS, round trips per pane per refresh, each probe's time
# (client round trip and server execution from pg_stat_statements), and the time to the
# first full frame. Targets: CPU <= 1%, RSS <= 20 MB, probe <= 5 ms, first frame <= 300 ms.
# Usage: make bench-console   (BENCH_SECONDS=N to change the 60 s window)
# BENCH_FLEET=1: three environments configured (production, the target; staging and dr,
# the same cluster's postgres and template1 databases, probed by the fleet strip);
# BENCH_FLEET=dead: dr is a port where nothing listens. Round trips per refresh are the
# monitor's and the fleet's together.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
MIDSOPS=${MIDSOPS:-$TOP/midsops}
SECS=${BENCH_SECONDS:-60}
ROOT=$(mktemp -d /tmp/midsops-bench-console.XXXXXX)
chmod 0711 "$ROOT"
export XDG_DATA_HOME=$ROOT/data XDG_STATE_HOME=$ROOT/state XDG_CONFIG_HOME=$ROOT/config
export MIDSOPS_PGPORT=$(( 40000 + $$ % 20000 )) NO_COLOR=1 MIDSOPS_SHARE=$TOP
export MIDSOPS_CLUSTER_EXTRA_CONF="fsync = off"
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD
SOCK=midsops-bench-$$
cleanup() {
	tmux -L "$SOCK" kill-server >/dev/null 2>&1
	"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v tmux >/dev/null || { echo "bench-console: needs tmux (make deps)"; exit 1; }
echo "== setting up a private cluster with data in $ROOT"
"$MIDSOPS" cluster start >/dev/null || exit 1
"$MIDSOPS" db-create >/dev/null || exit 1
DSN=$("$MIDSOPS" cluster status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conninfo"])')
q() { psql "$DSN" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
q "create table public.bench_rows as select g as id, md5(g::text) as body from generate_series(1, 300000) g;
   update public.bench_rows set body = body || 'x' where id % 10 = 0;
   insert into ops.events(level, source, message)
     select (array['info','warning','error'])[1 + g % 3], 'bench', 'event ' || g from generate_series(1, 20000) g;
   analyze;" >/dev/null || exit 1
if [ "$(q "select to_regclass('ops.import_runs') is not null")" = t ]; then
	q "insert into ops.import_runs(state, phase, files_total, files_done, bytes_total, bytes_done,
	     records_total, records_done, rate, started_at, finished_at, errors)
	   select 'completed', 'done', 4000, 4000, 80000000, 80000000, 200000, 200000, 800 + g * 37 % 900,
	     now() - g * interval '1 day', now() - g * interval '1 day' + interval '5 minutes', g % 4
	   from generate_series(1, 40) g" >/dev/null
fi
[ "$(q "select to_regclass('ops.import_errors') is not null")" = t ] &&
	q "insert into ops.import_errors(run_id, path, json_path, code, message)
	   select (select max(id) from ops.import_runs), 'powers/p' || g || '.json', '$.effects[' || g || ']', 'range',
	     'value out of range' from generate_series(1, 2000) g" >/dev/null
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[midsops]\nrefresh = 1\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"
if [ "${BENCH_FLEET:-0}" != 0 ]; then
	DR_DSN="$DSN dbname=template1"
	[ "$BENCH_FLEET" = dead ] && DR_DSN="host=127.0.0.1 port=$((MIDSOPS_PGPORT + 1)) dbname=postgres"
	printf '[env production]\ndsn = %s\n[env staging]\ndsn = %s\n[env dr]\ndsn = %s\n' \
		"$DSN" "$DSN dbname=postgres" "$DR_DSN" >>"$XDG_CONFIG_HOME/midsops/midsops.conf"
	echo "== three environments configured (BENCH_FLEET=$BENCH_FLEET)"
fi
q "select pg_stat_statements_reset()" >/dev/null 2>&1 || echo "(pg_stat_statements not available: server times skipped)"

W=$ROOT/console.sh
cat >"$W" <<W
#!/bin/sh
export MIDSOPS_DSN='$DSN' MIDSOPS_CONSOLE_TRACE='$ROOT/trace' LANG=C.UTF-8 LC_ALL=C.UTF-8
exec '$MIDSOPS' console
W
chmod +x "$W"
echo "== console idle at a 1 s refresh for ${SECS} s"
t0=$(date +%s%N)
tmux -L "$SOCK" -f /dev/null new-session -d -x 120 -y 40 -s bench "$W"
shown=""
for i in $(seq 1 300); do
	if tmux -L "$SOCK" capture-pane -p -t bench 2>/dev/null | grep -q "connected  up"; then
		shown=$(( ($(date +%s%N) - t0) / 1000000 ))
		break
	fi
	sleep 0.01
done
# BENCH_SESSIONS=1: the same with the sessions view (S) on screen, its probe at each refresh.
if [ "${BENCH_SESSIONS:-0}" = 1 ]; then
	tmux -L "$SOCK" send-keys -t bench S
	echo "== with the sessions view on screen"
fi
PID=$(tmux -L "$SOCK" display -p -t bench '#{pane_pid}')
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
sleep 2 # past start-up
c0=$(ticks); w0=$(date +%s%N)
: >"$ROOT/cpu"; : >"$ROOT/rss"
prev=$c0
for i in $(seq 1 "$SECS"); do
	sleep 1
	now=$(ticks)
	echo "$(( now - prev ))" >>"$ROOT/cpu"
	prev=$now
	rss >>"$ROOT/rss"
done
c1=$(ticks); w1=$(date +%s%N)
tmux -L "$SOCK" send-keys -t bench q
for i in $(seq 1 50); do [ -s "$ROOT/trace" ] && break; sleep 0.1; done

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print 0}'; }
wall=$(( (w1 - w0) / 1000000 ))
cpu_pct=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v ms="$wall" 'BEGIN {printf "%.2f", 100 * t / hz / (ms / 1000)}')
cpu_med=$(median <"$ROOT/cpu" | awk -v hz="$HZ" '{printf "%.2f", 100 * $1 / hz}')
rss_med=$(median <"$ROOT/rss" | awk '{printf "%.1f", $1 / 1024}')
rss_max=$(sort -n "$ROOT/rss" | tail -n 1 | awk '{printf "%.1f", $1 / 1024}')
echo "== results"
printf 'first full frame          %s ms (console clock: start to first frame with data), %s ms to screen via tmux  [target <= 300 ms]\n' \
	"$(awk '/^first_frame_ms/ {print $2}' "$ROOT/trace" 2>/dev/null)" "${shown:-?}"
printf 'CPU                       %s%% of one core over %s s; median per second %s%%  [target <= 1%%]\n' "$cpu_pct" "$SECS" "$cpu_med"
printf 'RSS                       median %s MB, max %s MB  [target <= 20 MB]\n' "$rss_med" "$rss_max"
echo "probe round trips (client side, from the console's trace; queries over the whole run):"
awk '/^probe/ {printf "  %-8s %4s queries  median %6s ms  max %6s ms\n", $2, $4, $6, $8}' "$ROOT/trace" 2>/dev/null
# One health probe per refresh: the refreshes are its count.
awk '/^probe health/ {r = $4} /^probe/ {q += $4} /^fleet/ {q += $5; e = $3; fq = $5}
     END {if (r) printf "round trips per refresh    %.2f (monitor %.2f, fleet %.2f over %d other environments)\n",
       q / r, (q - fq) / r, fq / r, e}' "$ROOT/trace" 2>/dev/null
echo "server execution per probe (pg_stat_statements, during the ${SECS} s window and after):"
q "select rpad(substring(query from 'midsops console: ([a-z]+)'), 8) || ' ' || lpad(calls::text, 4)
     || ' calls  ' || lpad(round(calls / $SECS.0, 2)::text, 5) || ' per s  mean '
     || lpad(round(mean_exec_time::numeric, 3)::text, 7) || ' ms  max '
     || lpad(round(max_exec_time::numeric, 3)::text, 7) || ' ms'
   from pg_stat_statements where query like '%midsops console:%' order by 1" 2>/dev/null | sed 's/^/  /'
echo "  (one round trip per pane per refresh: about 1 call per second each; import and"
echo "   errors skip the query when their table is absent) [target <= 5 ms each]"
