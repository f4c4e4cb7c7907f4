#!/bin/sh
# Backup benchmark: full backup of the real-data database against plain pg_basebackup of the
# same cluster in the same run (target: <= 1.15x; ROUNDS pairs, default 3, median ratio),
# verify time (target: <= 5 s), restore time.
# Uses an embedded cluster of its own in a temp dir; imports ../shared/data/cod-export when
# present (otherwise benches the schema with synthetic builds and says so).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
M=${MIDSOPS:-$TOP/midsops}
B=$(mktemp -d /tmp/midsops-bench-backup.XXXXXX)
chmod 0711 "$B"
export XDG_DATA_HOME=$B/data XDG_STATE_HOME=$B/state XDG_CONFIG_HOME=$B/config NO_COLOR=1
export MIDSOPS_PGPORT=$(( 40000 + $$ % 10000 ))
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD
cleanup() { "$M" cluster stop immediate >/dev/null 2>&1; rm -rf "$B"; }
trap cleanup EXIT
now() { date +%s.%N; }
"$M" cluster start >/dev/null && "$M" db-create >/dev/null || { echo "cluster did not start"; exit 1; }
DATA=$TOP/../shared/data/cod-export
if [ -d "$DATA" ] && "$M" import "$DATA" >"$B/import.log" 2>&1; then
	echo "data: real export imported from $DATA"
else
	echo "data: real-data import unavailable ($(tail -n 1 "$B/import.log" 2>/dev/null)); synthetic builds only"
	"$M" db-shell -qc "create table builds.bench (id int primary key, doc jsonb);
		insert into builds.bench select g, jsonb_build_object('n', g, 'pad', repeat('x', 400)) from generate_series(1, 400000) g"
fi
"$M" db-shell -Atc "select 'database size: ' || pg_size_pretty(pg_database_size(current_database()))"
# Archiving is switched on by the first backup (one restart); do it before timing.
"$M" emergency-backup >/dev/null 2>&1
SOCK=$(cd "$XDG_DATA_HOME/midsops/run" && pwd)
# ROUNDS pairs (plain, then midsops) on the same cluster; the ratio is the median of the
# per-round ratios, which is robust on a shared machine.
ROUNDS=${ROUNDS:-3}
: >"$B/times"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	rm -rf "$B/plain"
	t0=$(now)
	pg_basebackup -h "$SOCK" -p "$MIDSOPS_PGPORT" -U midsops -D "$B/plain" -Fp -X stream -c fast
	t1=$(now)
	"$M" db-backup-full >"$B/full.log" 2>&1 || { cat "$B/full.log"; exit 1; }
	t2=$(now)
	echo "$t0 $t1 $t2" >>"$B/times"
	r=$((r + 1))
done
ID=$(sed -n 's/^id  *//p' "$B/full.log")
t2=$(now)
"$M" db-backup-verify "$ID" >"$B/verify.log" 2>&1
vrc=$?
t3=$(now)
"$M" db-restore-full "$ID" >"$B/restore.log" 2>&1
rrc=$?
t4=$(now)
python3 - "$B/times" "$t2" "$t3" "$t4" "$vrc" "$rrc" <<'PY'
import statistics, sys
rounds = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
t2, t3, t4 = map(float, sys.argv[2:5])
for i, (a, b, c) in enumerate(rounds, 1):
    print(f"round {i}: plain {b - a:6.2f} s  full {c - b:6.2f} s  ratio {(c - b) / (b - a):.3f}x")
plain = statistics.median(b - a for a, b, c in rounds)
full = statistics.median(c - b for a, b, c in rounds)
ratio = statistics.median((c - b) / (b - a) for a, b, c in rounds)
verify, restore = t3 - t2, t4 - t3
print(f"plain pg_basebackup   {plain:7.2f} s  (median of {len(rounds)})")
print(f"midsops db-backup-full {full:6.2f} s  ratio {ratio:.2f}x median (target <= 1.15x) {'OK' if ratio <= 1.15 else 'OVER'}")
print(f"db-backup-verify      {verify:7.2f} s  (target <= 5 s) {'OK' if verify <= 5 else 'OVER'} exit {sys.argv[5]}")
print(f"db-restore-full       {restore:7.2f} s  exit {sys.argv[6]}")
PY
