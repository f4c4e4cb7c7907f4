#!/bin/sh
# make chaos: faults on purpose against a private cluster in a temp dir (always stopped and
# removed), then a table of each fault, its trials and the outcome.
#   kill -9 of the importer at random points -> import-resume gives a clean import's checksums
#   an immediate server stop during an import and during a backup -> resume / clean up
#   a full disk for the backup repository and for the log directory (tmpfs, root only)
#   a server held by a lock for 30 s -> the console still answers keys within 1 s
#   the terminal closed under the console (SIGHUP) -> it exits; what its child does
#   a second import and a second backup while one runs -> refused
# Usage: tests/chaos/run.sh [FAULT...]  (kill9 server-import server-backup disk-repo
#        disk-log lock-hang sighup concurrent); CHAOS_KILLS=N (default 10).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export TOP
MIDSOPS=${MIDSOPS:-$TOP/midsops}
export MIDSOPS
start=$(date +%s)

TEST_ROOT=$(mktemp -d /tmp/midsops-chaos.XXXXXX)
chmod 0711 "$TEST_ROOT"
RESULTS=$TEST_ROOT/results
TABLE=$TEST_ROOT/table
: >"$RESULTS"
: >"$TABLE"
export RESULTS TEST_ROOT
export XDG_DATA_HOME=$TEST_ROOT/data XDG_STATE_HOME=$TEST_ROOT/state XDG_CONFIG_HOME=$TEST_ROOT/config
export XDG_RUNTIME_DIR=$TEST_ROOT/run
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/midsops"
# A port of its own, away from tests/run.sh's 20000-39999.
MIDSOPS_PGPORT=$((40000 + $$ % 15000))
export MIDSOPS_PGPORT
export MIDSOPS_CLUSTER_EXTRA_CONF="fsync = off"
export NO_COLOR=1
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD
export TMUX_SOCKET="midsops-chaos-$$"
TEST_TMP=$TEST_ROOT/tmp
mkdir -p "$TEST_TMP"
chmod 0711 "$TEST_TMP"
export TEST_TMP
MOUNTS=""

cleanup() {
	for p in $(cat "$TEST_ROOT"/bg.pids 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	for pid in $(find "$TEST_ROOT" -name postmaster.pid 2>/dev/null); do
		kill -9 "$(head -n 1 "$pid")" 2>/dev/null
	done
	tmux -L "$TMUX_SOCKET" kill-server >/dev/null 2>&1
	for m in $MOUNTS; do umount -l "$m" 2>/dev/null; done
	rm -rf "$TEST_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$TOP/tests/lib.sh"
. "$TOP/tests/tui/console_lib.sh"

# row FAULT TRIALS OUTCOME: one line of the final table.
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$TABLE"; }
bgpid() { echo "$1" >>"$TEST_ROOT/bg.pids"; }
# until SQL [TENTHS]: poll until the query returns t.
until_sql() {
	i=0
	while [ "$i" -lt "${2:-100}" ]; do
		[ "$(psql_q "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# Random integer in [0, N).
rnd() { od -An -N2 -tu2 /dev/urandom | awk -v n="$1" '{print $1 % n}'; }
checksums() {
	"$MIDSOPS" --json import-stats --checksums 2>/dev/null | python3 -c 'import json,sys
d=json.load(sys.stdin)
print("\n".join(r["table"] + " " + str(r["checksum"]) for r in d["tables"]))'
}
# The brief's own yardstick besides import-stats: md5(string_agg(...)) per game table over
# its natural key and its kept source record, ids and generations left out (not game.history:
# the saved generations for rollback grow with every import).
sql_checksums() {
	psql_q "select string_agg(format('select %L || '' '' || md5(coalesce(string_agg(key || '':'' || raw::text, '','' order by key), '''')) from game.%I', table_name, table_name), ' union all ' order by table_name)
		from information_schema.columns c where table_schema = 'game' and column_name = 'key' and table_name <> 'history'
		and exists (select 1 from information_schema.columns r where r.table_schema = 'game' and r.table_name = c.table_name and r.column_name = 'raw')" |
		{ read -r q; [ -n "$q" ] && psql_q "$q" | sort; }
}
last_run() { psql_q "select coalesce(max(id), 0) from ops.import_runs"; }
run_state() { psql_q "select state from ops.import_runs where id = $1"; }
is_root() { [ "$(id -u)" = 0 ]; }

echo "== private cluster in $TEST_ROOT (port $MIDSOPS_PGPORT)"
if ! "$MIDSOPS" cluster start >"$TEST_ROOT/cluster-start.log" 2>&1; then
	cat "$TEST_ROOT/cluster-start.log"
	echo "chaos: the private cluster did not start"
	exit 1
fi
MIDSOPS_DSN=$("$MIDSOPS" cluster status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conninfo"])')
export MIDSOPS_DSN
"$MIDSOPS" db-create >/dev/null 2>&1
MINI=$TOP/tests/data/export-mini
V2=$TOP/tests/data/export-mini-v2
printf '[midsops]\nrefresh = 1\nbackup_dir = %s\n' "$TEST_ROOT/repo" >"$XDG_CONFIG_HOME/midsops/midsops.conf"

# The reference: the mini export imported cleanly over the v2 export, the same sequence
# every trial repeats (rows the v2 export added stay behind retired, so the sequence
# matters, not just the last export).
"$MIDSOPS" import "$MINI" >"$TEST_TMP/clean.out" 2>&1 || { cat "$TEST_TMP/clean.out"; exit 1; }
"$MIDSOPS" import "$V2" >/dev/null 2>&1
t0=$(date +%s%N)
MIDSOPS_IMPORT_DELAY_MS=20 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$MINI" >/dev/null 2>&1
SLOW_MS=$((($(date +%s%N) - t0) / 1000000))
CLEAN=$(checksums)
CLEAN_SQL=$(sql_checksums)
[ -n "$CLEAN_SQL" ] || echo "   (no game table has key and raw columns: only import-stats checksums compared)"
echo "   reference taken; a delayed import takes ${SLOW_MS} ms"

want() { case " ${FAULTS:-all} " in *" all "* | *" $1 "*) return 0 ;; esac; return 1; }
FAULTS=${*:-all}

# ---------------------------------------------------------------- kill -9 of the importer
if want kill9; then
	echo "== kill -9 of the importer at random points"
	n=${CHAOS_KILLS:-10} good=0 notes=""
	i=1
	while [ "$i" -le "$n" ]; do
		"$MIDSOPS" import "$V2" >/dev/null 2>&1
		MIDSOPS_IMPORT_DELAY_MS=20 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$MINI" \
			>"$TEST_TMP/kill$i.out" 2>&1 &
		victim=$!
		# Anywhere from the scan to the promote.
		at=$(rnd "$SLOW_MS")
		sleep "$(awk -v m="$at" 'BEGIN{printf "%.3f", m/1000}')"
		kill -9 "$victim" 2>/dev/null
		wait "$victim" 2>/dev/null
		run=$(psql_q "select coalesce(max(id), 0) from ops.import_runs where pid = $victim")
		st=$( [ "$run" != 0 ] && run_state "$run")
		phase=$( [ "$run" != 0 ] && psql_q "select coalesce(phase, '') from ops.import_runs where id = $run")
		if [ "$st" = completed ]; then
			how="finished before the kill"
		elif [ "$run" = 0 ]; then
			how="killed before the run existed"
			"$MIDSOPS" import "$MINI" >/dev/null 2>&1
		else
			how="killed at ${at} ms in $phase"
			"$MIDSOPS" import-resume "$run" >"$TEST_TMP/resume$i.out" 2>&1
		fi
		now=$(checksums)
		now_sql=$(sql_checksums)
		if [ "$now" = "$CLEAN" ] && [ "$now_sql" = "$CLEAN_SQL" ]; then
			good=$((good + 1))
			ok "kill -9 trial $i ($how): checksums of a clean import"
		else
			fail "kill -9 trial $i ($how)" "checksums differ in: $(printf '%s\n%s\n' "$CLEAN" "$CLEAN_SQL" | sort >"$TEST_TMP/a"; printf '%s\n%s\n' "$now" "$now_sql" | sort >"$TEST_TMP/b"; comm -13 "$TEST_TMP/a" "$TEST_TMP/b" | cut -d' ' -f1 | sort -u | tr '\n' ' ')"
			notes="$notes trial $i differs;"
		fi
		i=$((i + 1))
	done
	row "kill -9 importer, then import-resume" "$n" "$good/$n identical to a clean import${notes:+;$notes}"
fi

# ---------------------------------------------------------------- server stop during an import
if want server-import; then
	echo "== immediate server stop during an import"
	"$MIDSOPS" import "$V2" >/dev/null 2>&1
	MIDSOPS_IMPORT_DELAY_MS=40 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$MINI" >"$TEST_TMP/srv.out" 2>&1 &
	victim=$!
	if until_sql "select exists (select 1 from ops.import_runs r where pid = $victim and (select count(*) from ops.import_files f where f.run_id = r.id) >= 10)"; then
		run=$(psql_q "select id from ops.import_runs where pid = $victim")
		"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
		wait "$victim"
		rc=$?
		"$MIDSOPS" cluster start >/dev/null 2>&1
		"$MIDSOPS" import-resume "$run" >"$TEST_TMP/srv-resume.out" 2>&1
		rrc=$?
		if [ "$rrc" = 0 ] && [ "$(checksums)" = "$CLEAN" ]; then
			ok "server stop during an import: resumed"
			row "server stop (immediate) during import" 1 "importer exit $rc; import-resume exit 0, checksums identical"
		else
			fail "server stop during an import" "resume exit $rrc: $(tail -n 3 "$TEST_TMP/srv-resume.out")"
			row "server stop (immediate) during import" 1 "FAILED: resume exit $rrc"
		fi
	else
		kill -9 "$victim" 2>/dev/null
		row "server stop (immediate) during import" 0 "not run: the import did not commit 10 files"
	fi
fi

# ---------------------------------------------------------------- server stop during a backup
if want server-backup; then
	echo "== immediate server stop during a backup"
	psql_q "create table if not exists builds.chaos_fill as select g, repeat(md5(g::text), 20) pad from generate_series(1, 60000) g" >/dev/null
	res=""
	for kind in db-backup-full db-backup-archive; do
		"$MIDSOPS" "$kind" >"$TEST_TMP/$kind.out" 2>&1 &
		victim=$!
		bgpid $victim
		until_sql "select exists (select 1 from ops.backups where status = 'running')" 100
		sleep 0.$(rnd 5)
		"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
		wait "$victim"
		rc=$?
		"$MIDSOPS" cluster start >/dev/null 2>&1
		sleep 1
		killed=$(psql_q "select id from ops.backups where pid = $victim order by started_at desc limit 1")
		partial=$(find "$TEST_ROOT/repo" -maxdepth 1 -name '*partial*' 2>/dev/null | wc -l)
		"$MIDSOPS" "$kind" >"$TEST_TMP/$kind-2.out" 2>&1
		rc2=$?
		kst=$(psql_q "select status from ops.backups where id = '$killed'")
		left=$(find "$TEST_ROOT/repo" -maxdepth 1 -name '*partial*' 2>/dev/null | wc -l)
		if [ "$rc2" = 0 ] && [ "$kst" != running ] && [ "$left" = 0 ]; then
			ok "server stop during $kind: the next one succeeds and cleans up"
			res="$res $kind: exit $rc, next exit 0, killed ${killed:-?} now $kst, partial folders $partial -> $left;"
		else
			fail "server stop during $kind" "next exit $rc2; the killed backup ${killed:-?} is '$kst' in ops.backups; partial folders $partial -> $left"
			res="$res $kind: exit $rc, next exit $rc2, killed ${killed:-?} still '$kst' in ops.backups, partial folders $partial -> $left;"
		fi
	done
	psql_q "drop table if exists builds.chaos_fill" >/dev/null
	row "server stop (immediate) during backup" 2 "${res# }"
fi

# ---------------------------------------------------------------- full disks
tmpfs_dir() { # tmpfs_dir DIR SIZE: 0 when mounted
	mkdir -p "$1"
	is_root || return 1
	mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" 2>/dev/null || return 1
	MOUNTS="$MOUNTS $1"
}
if want disk-repo; then
	echo "== full disk for the backup repository"
	D=$TEST_ROOT/smallrepo
	if tmpfs_dir "$D" 256k; then
		printf '[midsops]\nbackup_dir = %s\n' "$D" >"$TEST_TMP/small.conf"
		since=$(psql_q "select now()")
		res=""
		trials=0 good=0
		for kind in db-backup-archive db-backup-full; do
			trials=$((trials + 1))
			"$MIDSOPS" --config "$TEST_TMP/small.conf" "$kind" >"$TEST_TMP/full-$kind.out" 2>&1
			rc=$?
			msg=$(grep -i -m1 "no space\|free disk\|disk full\|cannot write" "$TEST_TMP/full-$kind.out" | head -c 140)
			if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ -n "$msg" ]; then
				good=$((good + 1))
				ok "$kind on a full disk fails with a clear error"
				res="$res $kind: exit $rc ($msg);"
			else
				fail "$kind on a full disk" "exit $rc: $(tail -n 3 "$TEST_TMP/full-$kind.out")"
				res="$res $kind: exit $rc, no clear message: $(tail -n 1 "$TEST_TMP/full-$kind.out" | head -c 120);"
			fi
		done
		# The free-space check refuses up front; now a disk that fills up while the backup
		# writes (room for the estimate, then a filler takes the rest).
		D2=$TEST_ROOT/fillrepo
		if tmpfs_dir "$D2" 512m; then
			printf '[midsops]\nbackup_dir = %s\n' "$D2" >"$TEST_TMP/fill.conf"
			for kind in db-backup-archive db-backup-full; do
				trials=$((trials + 1))
				"$MIDSOPS" --config "$TEST_TMP/fill.conf" "$kind" >"$TEST_TMP/fill-$kind.out" 2>&1 &
				b=$!
				bgpid $b
				until_sql "select exists (select 1 from ops.backups where status = 'running' and started_at >= '$since')" 100
				# fallocate takes the rest at once (dd would lose the race to a small backup).
				avail=$(df --output=avail -B1 "$D2" | tail -n 1)
				fallocate -l "$((avail - 4096))" "$D2/filler" 2>/dev/null ||
					dd if=/dev/zero of="$D2/filler" bs=1M >/dev/null 2>&1
				wait "$b"
				rc=$?
				rm -f "$D2/filler"
				# Not just "full": every full backup's id ends in -full.
				msg=$(grep -i -m1 "no space\|free disk\|disk full\|is full\|cannot write" "$TEST_TMP/fill-$kind.out" | head -c 140)
				if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ -n "$msg" ]; then
					good=$((good + 1))
					ok "$kind on a disk that fills up fails with a clear error"
					res="$res $kind, disk filled mid-backup: exit $rc ($msg);"
				elif [ "$rc" = 0 ]; then
					res="$res $kind, disk filled mid-backup: finished first (exit 0);"
					good=$((good + 1))
				else
					fail "$kind on a disk that fills up" "exit $rc: $(tail -n 3 "$TEST_TMP/fill-$kind.out")"
					res="$res $kind, disk filled mid-backup: exit $rc, unclear: $(tail -n 1 "$TEST_TMP/fill-$kind.out" | head -c 120);"
				fi
			done
			leftover=$(find "$D2" -mindepth 1 -maxdepth 1 -name '*partial*' | wc -l)
			[ "$leftover" = 0 ] && ok "no partial backup folder left on the full disk" ||
				fail "no partial backup folder left on the full disk" "$leftover left"
			res="$res partial folders left: $leftover;"
		fi
		left=$(psql_q "select count(*) from ops.backups where status = 'running' and started_at >= '$since'")
		assert_eq "$left" 0 "no backup stays 'running' after a full disk"
		"$MIDSOPS" db-backup-archive >/dev/null 2>&1 && ok "a backup to a roomy repository works afterwards" ||
			fail "a backup afterwards" "failed"
		row "full disk: backup repo (256k; 512m filled mid-run)" "$trials" "$good/$trials clean failures;${res}"
	else
		row "full disk: backup repository" 0 "not run: needs root to mount a tmpfs"
	fi
fi
if want disk-log; then
	echo "== full disk for the log directory"
	D=$TEST_ROOT/smalllog
	if tmpfs_dir "$D" 64k; then
		dd if=/dev/zero of="$D/filler" bs=4k count=1000 >/dev/null 2>&1
		printf '[midsops]\nlog_dir = %s\nbackup_dir = %s\n' "$D" "$TEST_ROOT/repo" >"$TEST_TMP/smalllog.conf"
		res="" trials=0 good=0
		for c in "import $MINI" "db-check" "db-backup-archive" "cache-cleanup"; do
			trials=$((trials + 1))
			"$MIDSOPS" --config "$TEST_TMP/smalllog.conf" $c >"$TEST_TMP/log.out" 2>&1
			rc=$?
			# The work is done, but a log that could not be written is never silent: a
			# check is at least WARNING (1 or 2), any other command exits 1, and both
			# say "log incomplete" (midsops(1), EXIT STATUS).
			case "$c" in db-check) lim=3 ;; *) lim=2 ;; esac
			if [ "$rc" -ge 1 ] && [ "$rc" -lt "$lim" ] && grep -q 'log incomplete' "$TEST_TMP/log.out"; then
				good=$((good + 1))
				ok "'$c' with a full log disk still works"
			else
				fail "'$c' with a full log disk" "exit $rc: $(tail -n 2 "$TEST_TMP/log.out")"
				res="$res ${c%% *}: exit $rc;"
			fi
		done
		row "full disk: log directory (tmpfs 64k, filled)" "$trials" "$good/$trials commands still work${res:+;$res}"
	else
		row "full disk: log directory" 0 "not run: needs root to mount a tmpfs"
	fi
fi

# ---------------------------------------------------------------- a hanging server
if want lock-hang; then
	echo "== a server held by a lock for 30 s; the console keeps answering"
	if command -v tmux >/dev/null && "$MIDSOPS" help console >/dev/null 2>&1; then
		S=hang$$
		console_start "$S"
		wait_for "$S" "Database health" 100
		psql "$MIDSOPS_DSN" -XAtq -c "begin; lock table ops.import_runs, ops.import_files, ops.events, ops.import_errors in access exclusive mode; select pg_sleep(30); commit" >/dev/null 2>&1 &
		locker=$!
		bgpid $locker
		sleep 3
		trials=0 good=0 worst=0
		for k in '?' Escape Tab Tab '?' Escape Tab Tab; do
			trials=$((trials + 1))
			before=$(screen "$S")
			t1=$(date +%s%N)
			keys "$S" "$k"
			changed=0
			while [ $(($(date +%s%N) - t1)) -lt 1000000000 ]; do
				[ "$(screen "$S")" != "$before" ] && { changed=1; break; }
				sleep 0.05
			done
			ms=$((($(date +%s%N) - t1) / 1000000))
			[ "$ms" -gt "$worst" ] && worst=$ms
			[ "$changed" = 1 ] && good=$((good + 1))
			sleep 0.3
		done
		waiting=$(psql_q "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and application_name like 'midsops%'")
		if [ "$good" = "$trials" ]; then ok "console answers every key within 1 s under a 30 s lock"
		else fail "console answers keys under a lock" "$good of $trials keys changed the screen within 1 s"; fi
		row "server hangs (lock held 30 s), console keys" "$trials" "$good/$trials keys redrawn within 1 s (slowest ${worst} ms); $waiting console queries waiting on the lock"
		keys "$S" q
		kill "$locker" 2>/dev/null
		psql_q "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()" >/dev/null
		tm kill-session -t "$S" 2>/dev/null
	else
		row "server hangs (lock held 30 s), console keys" 0 "not run: needs tmux and the console"
	fi
fi

# ---------------------------------------------------------------- terminal closed (SIGHUP)
if want sighup; then
	echo "== the terminal closed under the console"
	if command -v tmux >/dev/null && "$MIDSOPS" help console >/dev/null 2>&1; then
		S=hup$$
		"$MIDSOPS" import "$V2" >/dev/null 2>&1
		console_start "$S" MIDSOPS_IMPORT_DELAY_MS=150 MIDSOPS_IMPORT_BATCH_FILES=5
		wait_for "$S" "Database health" 100
		cpid=$(pgrep -f -n "^$MIDSOPS console" 2>/dev/null)
		keys "$S" ':'
		keys "$S" -l "import $MINI"
		keys "$S" Enter
		until_sql "select exists (select 1 from ops.import_runs where state = 'running' and files_done > 0)" 100
		child=$(psql_q "select pid from ops.import_runs where state = 'running' order by id desc limit 1")
		run=$(psql_q "select id from ops.import_runs where state = 'running' order by id desc limit 1")
		tm kill-session -t "$S"
		gone=no
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			[ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null || { gone=yes; break; }
			sleep 0.1
		done
		sleep 1
		cst=$(run_state "${run:-0}")
		alive=no
		[ -n "$child" ] && kill -0 "$child" 2>/dev/null && alive=yes
		# Whatever became of the child, the run must complete or be resumable.
		for _ in $(seq 1 100); do
			kill -0 "$child" 2>/dev/null || break
			sleep 0.2
		done
		cst2=$(run_state "${run:-0}")
		if [ "$cst2" != completed ] && [ -n "$run" ]; then
			"$MIDSOPS" import-resume "$run" >/dev/null 2>&1
		fi
		final=$(run_state "${run:-0}")
		if [ "$gone" = yes ] && [ "$final" = completed ] && [ "$(checksums)" = "$CLEAN" ]; then
			ok "SIGHUP: the console exits; the import completes or resumes to a clean result"
		else
			fail "SIGHUP" "console gone: $gone, run $run: $cst -> $final"
		fi
		row "terminal closed (SIGHUP) under the console" 1 "console exited: $gone; child import (pid ${child:-?}) 1 s later: alive=$alive, run state $cst, then $cst2; final $final"
	else
		row "terminal closed (SIGHUP) under the console" 0 "not run: needs tmux and the console"
	fi
fi

# ---------------------------------------------------------------- concurrency
if want concurrent; then
	echo "== a second import and a second backup while one runs"
	res="" trials=0 good=0
	"$MIDSOPS" import "$V2" >/dev/null 2>&1
	MIDSOPS_IMPORT_DELAY_MS=40 "$MIDSOPS" import "$MINI" >"$TEST_TMP/c1.out" 2>&1 &
	first=$!
	bgpid $first
	if until_sql "select exists (select 1 from ops.import_runs where state = 'running' and pid = $first)"; then
		trials=$((trials + 1))
		"$MIDSOPS" import "$MINI" >"$TEST_TMP/c2.out" 2>&1
		rc=$?
		if [ "$rc" != 0 ] && grep -q "$first" "$TEST_TMP/c2.out"; then
			good=$((good + 1))
			ok "a second import is refused"
			res="$res import: refused (exit $rc, names pid $first);"
		else
			fail "a second import is refused" "exit $rc: $(tail -n 2 "$TEST_TMP/c2.out")"
			res="$res import: NOT refused (exit $rc);"
		fi
	fi
	wait "$first"
	psql_q "create table if not exists builds.chaos_fill as select g, repeat(md5(g::text), 20) pad from generate_series(1, 60000) g" >/dev/null
	for kind in db-backup-full db-backup-archive; do
		"$MIDSOPS" "$kind" >"$TEST_TMP/b1.out" 2>&1 &
		first=$!
		bgpid $first
		if until_sql "select exists (select 1 from ops.backups where status = 'running')"; then
			trials=$((trials + 1))
			"$MIDSOPS" "$kind" >"$TEST_TMP/b2.out" 2>&1
			rc=$?
			if [ "$rc" != 0 ]; then
				good=$((good + 1))
				ok "a second $kind is refused"
				res="$res $kind: refused (exit $rc: $(grep -m1 -i 'lock\|running\|busy\|pid' "$TEST_TMP/b2.out" | head -c 100));"
			else
				fail "a second $kind is refused" "it ran"
				res="$res $kind: NOT refused;"
			fi
		else
			res="$res $kind: finished before a second could start;"
		fi
		wait "$first"
	done
	psql_q "drop table if exists builds.chaos_fill" >/dev/null
	row "second import / backup while one runs" "$trials" "$good/$trials refused;${res}"
fi

echo
printf '%-46s %-6s %s\n' FAULT TRIALS OUTCOME
printf '%-46s %-6s %s\n' "-----" "------" "-------"
while IFS="$(printf '\t')" read -r f t o; do
	printf '%-46s %-6s %s\n' "$f" "$t" "$o"
done <"$TABLE"
passed=$(grep -c '^PASS' "$RESULTS")
failed=$(grep -c '^FAIL' "$RESULTS")
echo "== $(($(date +%s) - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
