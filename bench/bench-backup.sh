#!/bin/sh
# Backup benchmark: midsops side by side with pgBackRest (Debian's 2.45, default gz) and plain
# pg_basebackup, on ONE embedded cluster and database (the real export plus builds), in one run.
#
# Order of the run:
#   1. archiving on (midsops's first backup, on the empty database), a pgBackRest stanza, and
#      the chained archive_command below; both archives are counted from here on;
#   2. the workload, part 1: the real import, then BUILDS builds (powers and enhancements of
#      that game data);
#   3. the measured full backups: midsops's, then pgBackRest's;
#   4. the workload, part 2: 3 rounds of updating 5% of builds, 10 forced WAL switches (each
#      after one small commit, so that each closes a segment); then both repositories are
#      measured: that one full backup each, and the archive of the whole workload;
#   5. verify (db-backup-verify ID / pgbackrest verify) and restore into a scratch folder
#      (db-restore-full ID --target-dir / pgbackrest restore --pg1-path; neither starts the
#      copy) of those two backups, ROUNDS times, alternating;
#   6. full backup times: ROUNDS rounds of (plain pg_basebackup -Fp, midsops db-backup-full,
#      pgbackrest backup --type=full), interleaved so that load from others on the machine
#      falls on all three alike.
# Every figure is the median of ROUNDS (default 3); the midsops/plain ratio is the median of
# the per-round ratios. Targets (PASS/FAIL; a miss does not change the exit status, a bench
# that could not run exits 1): repository (full + archive) <= 1.25x pgBackRest's, full backup
# <= 1.15x plain pg_basebackup, restore <= pgBackRest's.
#
# Fairness. The cluster has one archive_command, so it is chained:
#   <midsops's own wal-push command> && pgbackrest --config=... --stanza=bench archive-push %p
# and the workload runs once with that chain in place: both archives receive the same WAL
# segments, byte for byte, from the same server. Running the workload once per tool would
# not give the same WAL twice (the second import finds its data there and writes far less;
# checkpoints fall elsewhere). midsops's db-backup-full puts its own archive_command back
# (that is its job on the embedded cluster), so the bench sets the chain again after every
# midsops backup (ALTER SYSTEM, reload, until the server shows it); the segment a midsops
# backup closes goes to midsops's archive only, which counts against midsops. Each archive is
# counted over the same range of segment names (first after the chain .. last switch), all
# its files (midsops's .sha256 files and both tools' .backup files included). A full backup
# is its folder in the repository; midsops's holds the WAL it streamed, pgBackRest's WAL is in
# its archive (counted there). pgBackRest runs as the server's account (it reads the data
# directory, and archive-push runs inside the server) with a private config, repository,
# lock and log folder in the bench's temp dir.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
M=${MIDSOPS:-$TOP/midsops}
PGBR=${PGBACKREST:-/usr/bin/pgbackrest}
ROUNDS=${ROUNDS:-3}
BUILDS=${BUILDS:-20000}
DATA=$TOP/../shared/data/cod-export
B=$(mktemp -d /tmp/midsops-bench-backup.XXXXXX)
chmod 0711 "$B"
export XDG_DATA_HOME=$B/data XDG_STATE_HOME=$B/state XDG_CONFIG_HOME=$B/config NO_COLOR=1
export MIDSOPS_PGPORT=${MIDSOPS_PGPORT:-$((34000 + $$ % 1000))}
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD
cleanup() {
	"$M" cluster stop immediate >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then echo "kept $B"; else rm -rf "$B"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
die() {
	echo "bench-backup: could not run: $*" >&2
	exit 1
}
[ -x "$M" ] || die "no midsops binary at $M (set MIDSOPS)"
[ -x "$PGBR" ] || die "no pgbackrest at $PGBR (apt-get install pgbackrest)"
command -v pg_basebackup >/dev/null || die "no pg_basebackup"
[ -d "$DATA" ] || die "the real export is not at $DATA"
"$M" cluster start >/dev/null && "$M" db-create >/dev/null || die "the embedded cluster did not start"
SOCK=$(cd "$XDG_DATA_HOME/midsops/run" && pwd) || die "no socket directory"
PGDATA_DIR=$XDG_DATA_HOME/midsops/pg
REPO=$XDG_DATA_HOME/midsops/backups
PGOS=$(stat -c %U "$PGDATA_DIR") || die "no data directory at $PGDATA_DIR"
# psql on the server's maintenance database, as the embedded cluster's superuser.
sql() { psql -X -h "$SOCK" -p "$MIDSOPS_PGPORT" -U midsops -d postgres -v ON_ERROR_STOP=1 -Atq "$@"; }
# The application database, through midsops's own connection settings.
appsql() { "$M" db-shell -X -v ON_ERROR_STOP=1 -Atq "$@"; }
as_pg() {
	if [ "$(id -u)" = 0 ] && [ "$PGOS" != root ]; then
		runuser -u "$PGOS" -- "$@"
	else
		"$@"
	fi
}
echo "bench-backup: $("$M" --version 2>/dev/null | head -n 1), $("$PGBR" version), $(pg_basebackup --version)"
echo "bench-backup: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ROUNDS=$ROUNDS"

# ---------- 1. archiving into both, before any data ----------
"$M" emergency-backup >"$B/emergency.log" 2>&1 || {
	cat "$B/emergency.log"
	die "midsops emergency-backup failed"
}
PB=$B/pgbackrest
mkdir -p "$PB/repo" "$PB/lock" "$PB/log" "$B/scratch"
{
	echo "[global]"
	echo "repo1-path=$PB/repo"
	echo "lock-path=$PB/lock"
	echo "log-path=$PB/log"
	echo "log-level-console=warn"
	echo "log-level-file=info"
	echo "start-fast=y"
	echo
	echo "[bench]"
	echo "pg1-path=$PGDATA_DIR"
	echo "pg1-socket-path=$SOCK"
	echo "pg1-port=$MIDSOPS_PGPORT"
	echo "pg1-user=midsops"
} >"$PB/pgbackrest.conf"
chown -R "$PGOS" "$PB" "$B/scratch"
chmod -R go-rwx "$PB"
pgbr() { as_pg "$PGBR" --config="$PB/pgbackrest.conf" --stanza=bench "$@"; }
pgbr stanza-create >"$B/stanza.log" 2>&1 || {
	cat "$B/stanza.log"
	die "pgbackrest stanza-create failed"
}
# The chained archive_command: midsops's own (whatever its backups set), then pgBackRest's.
chain() {
	mine=$(sql -c "select current_setting('archive_command')") || die "cannot read archive_command"
	case $mine in
	*pgbackrest*) return 0 ;;
	esac
	want="$mine && '$PGBR' '--config=$PB/pgbackrest.conf' '--stanza=bench' archive-push %p"
	printf '%s\n' "alter system set archive_command = :'want';" "select pg_reload_conf();" |
		sql -v want="$want" >/dev/null || die "cannot set the chained archive_command"
	i=0
	while [ "$(sql -c "select current_setting('archive_command')")" != "$want" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && die "the server did not take the chained archive_command"
		sleep 0.1
	done
	sleep 1 # the archiver reloads on its next loop; give it one
}
chain
FIRST=$(sql -c "select pg_switch_wal()" -c "select pg_walfile_name(pg_current_wal_insert_lsn())" | tail -n 1) ||
	die "cannot read the WAL position"

# ---------- 2. the workload, part 1: the real import, then builds ----------
tw=$(now)
"$M" import "$DATA" >"$B/import.log" 2>&1 || {
	tail -n 5 "$B/import.log"
	die "the import of $DATA failed"
}
appsql -c "
	create temp table np as select id, row_number() over (order by id) - 1 as k from game.powers;
	create temp table ne as select id, row_number() over (order by id) - 1 as k from game.enhancements;
	create temp table na as select id, row_number() over (order by id) - 1 as k from game.archetypes;
	insert into builds.builds (owner, name, archetype_id, level, raw)
	select 'bench' || g, 'build ' || g, na.id, 1 + g % 50,
	       jsonb_build_object('n', g, 'notes', repeat('build notes ', 8), 'rev', 0)
	from generate_series(1, $BUILDS) g
	left join na on na.k = g % greatest(1, (select count(*) from na));
	insert into builds.build_powers (build_id, power_id, level)
	select b.id, np.id, 1 + (b.id + j) % 50
	from builds.builds b cross join generate_series(0, 7) j
	join np on np.k = (b.id * 37 + j * 101) % (select count(*) from np);
	insert into builds.build_enhancements (build_power_id, slot, enhancement_id, level)
	select bp.id, s, ne.id, 50
	from builds.build_powers bp cross join generate_series(1, 2) s
	join ne on ne.k = (bp.id * 7 + s) % (select count(*) from ne);
	analyze;" >"$B/builds.log" 2>&1 || {
	cat "$B/builds.log"
	die "could not create builds"
}
tw1=$(now)
echo "data: real export from $DATA; $(appsql -c "select count(*) || ' builds, ' || (select count(*) from builds.build_powers) || ' build powers, ' || (select count(*) from builds.build_enhancements) || ' enhancements slotted; database ' || pg_size_pretty(pg_database_size(current_database())) from builds.builds")"

# ---------- 3. the measured full backups ----------
midsops_full() {
	"$M" db-backup-full >"$B/full.log" 2>&1 || {
		cat "$B/full.log"
		die "midsops db-backup-full failed"
	}
}
pgbr_full() {
	pgbr backup --type=full >"$B/pgbr-backup.log" 2>&1 || {
		cat "$B/pgbr-backup.log"
		die "pgbackrest backup failed"
	}
}
midsops_full
MID=$(sed -n 's/^id  *//p' "$B/full.log")
[ -n "$MID" ] && [ -f "$REPO/$MID/manifest.json" ] || die "no backup id in db-backup-full's output"
chain
pgbr_full
pgbr info --output=json >"$B/info.json" 2>"$B/info.err" || die "pgbackrest info failed: $(cat "$B/info.err")"
PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["backup"][-1]["label"])' "$B/info.json") ||
	die "no backup label in pgbackrest info"

# ---------- 4. the workload, part 2, and the repositories' sizes ----------
tw2=$(now)
for round in 1 2 3; do
	appsql -c "update builds.builds set raw = jsonb_set(raw, '{rev}', to_jsonb($round)),
		level = 1 + (level + $round) % 50 where id % 20 = $round" >/dev/null ||
		die "the workload's update round $round failed"
done
for i in 1 2 3 4 5 6 7 8 9 10; do
	LAST=$(sql -c "select txid_current()" -c "select pg_walfile_name(pg_switch_wal())" | tail -n 1) ||
		die "WAL switch $i failed"
done
# The chain succeeds only once both archives hold a segment.
i=0
while :; do
	got=$(sql -c "select coalesce(last_archived_wal, '') from pg_stat_archiver")
	[ -n "$got" ] && { [ "$got" \> "$LAST" ] || [ "$got" = "$LAST" ]; } && break
	i=$((i + 1))
	[ $i -gt 3000 ] && die "segment $LAST was not archived within 300 s (archiver at '$got')"
	sleep 0.1
done
tw3=$(now)
python3 - "$REPO" "$MID" "$PB/repo" "$PID" "$FIRST" "$LAST" >"$B/sizes" <<'PY' || die "cannot measure the repositories"
import os, re, sys
repo, mid, pbrepo, pid, first, last = sys.argv[1:7]
SEG = re.compile(r"^[0-9A-F]{24}")
def walk(path, keep=lambda f: True):
    size, segs = 0, set()
    for d, _, files in os.walk(path):
        for f in files:
            if keep(f):
                size += os.lstat(os.path.join(d, f)).st_size
                if SEG.match(f) and ".backup" not in f and not f.endswith(".sha256"):
                    segs.add(f[:24])
    return size, len(segs)
# Names of one timeline sort as the WAL does.
inrange = lambda f: bool(SEG.match(f)) and first <= f[:24] <= last
print(*walk(f"{repo}/{mid}")[:1], *walk(f"{pbrepo}/backup/bench/{pid}")[:1],
      *walk(f"{repo}/wal", inrange), *walk(f"{pbrepo}/archive", inrange))
PY
echo "workload: import and builds $(secs "$tw" "$tw1") s, updates and switches $(secs "$tw2" "$tw3") s; archives counted from $FIRST to $LAST"

# ---------- 5. verify and restore of those backups ----------
: >"$B/vr"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	t0=$(now)
	"$M" db-backup-verify "$MID" >"$B/verify.log" 2>&1
	mv=$?
	t1=$(now)
	pgbr verify >"$B/pgbr-verify.log" 2>&1
	pv=$?
	t2=$(now)
	rm -rf "$B/scratch/m" "$B/scratch/p" "$B/scratch/m.sock"
	"$M" db-restore-full "$MID" --target-dir "$B/scratch/m" >"$B/restore.log" 2>&1
	mr=$?
	t3=$(now)
	as_pg mkdir -m 0700 "$B/scratch/p"
	pgbr restore --set="$PID" --type=immediate --target-action=promote --pg1-path="$B/scratch/p" \
		>"$B/pgbr-restore.log" 2>&1
	pr=$?
	t4=$(now)
	echo "$t0 $t1 $t2 $t3 $t4 $mv $pv" >>"$B/vr"
	[ $mr -eq 0 ] || {
		cat "$B/restore.log"
		die "midsops db-restore-full failed"
	}
	[ $pr -eq 0 ] || {
		cat "$B/pgbr-restore.log"
		die "pgbackrest restore failed"
	}
	r=$((r + 1))
done
[ "$mv" = 0 ] || tail -n 20 "$B/verify.log"
[ "$pv" = 0 ] || tail -n 20 "$B/pgbr-verify.log"
rm -rf "$B/scratch/m" "$B/scratch/p" "$B/scratch/m.sock"

# ---------- 6. full backup times ----------
: >"$B/times"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	rm -rf "$B/plain"
	t0=$(now)
	pg_basebackup -h "$SOCK" -p "$MIDSOPS_PGPORT" -U midsops -D "$B/plain" -Fp -X stream -c fast ||
		die "pg_basebackup failed"
	t1=$(now)
	midsops_full
	t2=$(now)
	chain
	t3=$(now)
	pgbr_full
	t4=$(now)
	echo "$t0 $t1 $t2 $t3 $t4" >>"$B/times"
	r=$((r + 1))
done
rm -rf "$B/plain"

python3 - "$B" "$MID" "$PID" "$REPO" <<'PY'
import json, statistics, sys
B, mid, pid, repo = sys.argv[1:5]
zm = json.load(open(f"{repo}/{mid}/manifest.json")).get("compression", "none")
med = statistics.median
m_full, p_full, m_arch, m_segs, p_arch, p_segs = map(int, open(f"{B}/sizes").read().split())
rounds = [tuple(map(float, l.split())) for l in open(f"{B}/times") if l.strip()]
plain = [b - a for a, b, c, d, e in rounds]
mfull = [c - b for a, b, c, d, e in rounds]
pfull = [e - d for a, b, c, d, e in rounds]
ratio = med(m / p for m, p in zip(mfull, plain))
vr = [l.split() for l in open(f"{B}/vr") if l.strip()]
mver = [float(v[1]) - float(v[0]) for v in vr]
pver = [float(v[2]) - float(v[1]) for v in vr]
mres = [float(v[3]) - float(v[2]) for v in vr]
pres = [float(v[4]) - float(v[3]) for v in vr]
mv_rc = "0" if all(v[5] == "0" for v in vr) else "/".join(v[5] for v in vr)
pv_rc = "0" if all(v[6] == "0" for v in vr) else "/".join(v[6] for v in vr)
n = len(rounds)
MB = lambda b: f"{b / 1e6:.1f} MB"

for i, (p, m, q) in enumerate(zip(plain, mfull, pfull), 1):
    print(f"round {i}: full backup: plain pg_basebackup {p:6.2f} s  midsops {m:6.2f} s ({m / p:.2f}x)  pgbackrest {q:6.2f} s")
for i, (a, b, c, d) in enumerate(zip(mver, pver, mres, pres), 1):
    print(f"round {i}: verify: midsops {a:6.2f} s  pgbackrest {b:6.2f} s   restore: midsops {c:6.2f} s  pgbackrest {d:6.2f} s")
print(f"measured backups: midsops {mid} (compression {zm}), pgbackrest {pid} (gz, its default)")

repo_m, repo_p = m_full + m_arch, p_full + p_arch
size_ratio = repo_m / repo_p
rest_ratio = med(mres) / med(pres)
ok = lambda b: "PASS" if b else "FAIL"
print(f"{ok(size_ratio <= 1.25)}  repository (full + archive): midsops {MB(repo_m)}, pgBackRest {MB(repo_p)}: {size_ratio:.2f}x (target <= 1.25x)")
print(f"{ok(ratio <= 1.15)}  full backup: midsops {med(mfull):.2f} s, plain pg_basebackup {med(plain):.2f} s: {ratio:.2f}x, median of {n} per-round ratios (target <= 1.15x)")
print(f"{ok(rest_ratio <= 1)}  restore: midsops {med(mres):.2f} s, pgBackRest {med(pres):.2f} s: {rest_ratio:.2f}x (target <= 1.00x)")
if mv_rc != "0" or pv_rc != "0":
    print(f"note: verify exit status midsops {mv_rc}, pgbackrest {pv_rc}")

print()
print(f"| what (median of {n}) | midsops ({zm}) | pgBackRest 2.45 (default gz) | target |")
print("| --- | --- | --- | --- |")
print(f"| full backup time | {med(mfull):.2f} s | {med(pfull):.2f} s | <= 1.15x plain pg_basebackup ({med(plain):.2f} s): {ratio:.2f}x {ok(ratio <= 1.15)} |")
print(f"| full backup size | {MB(m_full)} | {MB(p_full)} | |")
print(f"| WAL archive after the workload | {m_segs} segments, {MB(m_arch)} | {p_segs} segments, {MB(p_arch)} | |")
print(f"| repository (full + archive) | {MB(repo_m)} | {MB(repo_p)} | <= 1.25x: {size_ratio:.2f}x {ok(size_ratio <= 1.25)} |")
print(f"| verify time | {med(mver):.2f} s (exit {mv_rc}) | {med(pver):.2f} s (exit {pv_rc}) | |")
print(f"| restore time (scratch folder) | {med(mres):.2f} s | {med(pres):.2f} s | <= pgBackRest: {rest_ratio:.2f}x {ok(rest_ratio <= 1)} |")
PY
