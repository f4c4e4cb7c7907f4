# Backup security (audit findings 2, 6 and 7):
#   a crafted manifest.json in the repository is untrusted input: refused with the field
#   named, never reaching recovery settings or paths, and reported by name when skipped;
#   stopping a backup stops all of its tools, and the next one starts at once and cleans
#   up what an interrupted run left;
#   restores are verified end to end: wal-fetch checks each file against its NAME.sha256,
#   and a copy restored into another directory does not archive into production's
#   repository nor use its socket directory (unless --keep-archiving).

# The repository three levels down, so "../../../outside" stays inside TEST_TMP.
REPO=$TEST_TMP/a/b/repo
mkdir -p "$TEST_TMP/a/b" "$TEST_TMP/cfg"
printf '[midsops]\nbackup_dir = %s\n' "$REPO" >"$TEST_TMP/cfg/a.conf"
MA="$MIDSOPS --config $TEST_TMP/cfg/a.conf"
"$MIDSOPS" db-create >/dev/null 2>&1
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# as_owner DIR CMD...: run as the owner of DIR (the server's user when we are root).
as_owner() {
	d=$1; shift
	if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$(stat -c %U "$d")" -- "$@"); else (cd / && "$@"); fi
}
# start_copy DIR: start a restored copy on a socket directory and port of the test's own
# (as an operator would), give its recovery a few seconds, stop it.
start_copy() {
	sock=$(mktemp -d /tmp/midsops-bksec.XXXXXX)
	chmod 0777 "$sock"
	as_owner "$1" "$PGBIN/pg_ctl" -D "$1" -l "$sock/log" -w -t 20 \
		-o "-k $sock -p $((MIDSOPS_PGPORT + 17)) -c listen_addresses=''" start >/dev/null 2>&1
	sleep 3
	as_owner "$1" "$PGBIN/pg_ctl" -D "$1" -m immediate stop >/dev/null 2>&1
	rm -rf "$sock"
}
age_of() {
	env MIDSOPS_CONFIG="$TEST_TMP/cfg/a.conf" "$MIDSOPS" status 2>/dev/null |
		sed -n 's/.*last_backup_age[^(]*(\([^,]*\),.*/\1/p' | head -n 1
}

# ---- 2. a crafted manifest.json ----
expect_exit 0 "a real full backup to copy from" $MA db-backup-full
FULL=$(ls "$REPO" | grep -- '-full$' | tail -n 1)
# plant SECONDS TYPE MODE [ARG]: a copy of FULL's manifest in a new folder SECONDS from FULL's
# id (ids, type and epochs made consistent), then changed as MODE says. Prints the id.
plant() {
	python3 - "$REPO" "$FULL" "$@" <<'PY'
import calendar, json, os, sys, time
repo, full, off, typ, mode = sys.argv[1:6]
arg = sys.argv[6] if len(sys.argv) > 6 else ""
t = calendar.timegm(time.strptime(full[:16], "%Y%m%dT%H%M%SZ")) + int(off)
new = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t)) + "-" + typ
d = os.path.join(repo, new)
os.makedirs(d, exist_ok=True)
m = json.load(open(os.path.join(repo, full, "manifest.json")))
m.update(id=new, type=typ, start_epoch=t + 0.5, stop_epoch=t + 2)
if typ == "incremental":
    m.update(base=full, files=[], wal=[], stop_lsn=m["stop_lsn"])
if mode == "stop_lsn":
    m["stop_lsn"] = arg
elif mode == "base":
    m["base"] = arg
elif mode == "pad":
    m["pad"] = "x" * (17 << 20)
elif mode == "epoch":
    m["stop_epoch"] = float(arg)
text = json.dumps(m)
if mode == "deep":
    text = text[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}"
open(os.path.join(d, "manifest.json"), "w").write(text)
print(new)
PY
}
before_age=$(age_of)
assert_eq "$before_age" "$FULL" "status names the real full backup as the last one"

# The audit's payload: recovery settings after the LSN. Written where the server's user may
# write, so the old code's injected restore_command would leave its mark.
INJ=$TEST_TMP/inj
mkdir -p "$INJ" && chmod 0777 "$INJ"
INC=$(plant 1 incremental stop_lsn "0/0'
restore_command='touch $INJ/x-%f'
#")
expect_exit 1 "db-restore-full refuses a manifest whose stop_lsn is not an LSN" \
	$MA db-restore-full "$INC" --target-dir "$TEST_TMP/r-lsn"
assert_contains "$OUT" "manifest.json of backup $INC: stop_lsn '0/0" "the refusal names the backup and the field"
assert_contains "$OUT" "is not an LSN" "the refusal says what is wrong with it"
assert_not_contains "$OUT" "
restore_command" "the payload is not echoed as lines of its own"
[ -d "$TEST_TMP/r-lsn" ] && start_copy "$TEST_TMP/r-lsn"
[ ! -e "$TEST_TMP/r-lsn" ] && ok "nothing restored from the crafted manifest" || fail "restored" "$TEST_TMP/r-lsn exists"
expect_exit 1 "db-restore-incremental refuses it too" $MA db-restore-incremental "$INC" --target-dir "$TEST_TMP/r-lsn2"
[ -d "$TEST_TMP/r-lsn2" ] && start_copy "$TEST_TMP/r-lsn2"
expect_exit 1 "db-backup-verify refuses it" $MA db-backup-verify "$INC"
assert_contains "$OUT" "stop_lsn" "verify names the field"
assert_eq "$(ls "$INJ" | grep -c '^x-')" 0 "no injected restore_command ever ran (no $INJ/x-*)"
rm -rf "$REPO/$INC"

# A base that is a path out of the repository.
mkdir -p "$TEST_TMP/outside/base"
echo secret >"$TEST_TMP/outside/base/SECRET"
INC=$(plant 2 incremental base "../../../outside")
expect_exit 1 "a base outside the repository is refused" $MA db-restore-full "$INC" --target-dir "$TEST_TMP/r-base"
assert_contains "$OUT" "base '../../../outside' is not the id of a full" "the refusal names base"
[ ! -e "$TEST_TMP/r-base/SECRET" ] && ok "nothing from outside the repository was copied" ||
	fail "outside copied" "$TEST_TMP/r-base/SECRET exists"
rm -rf "$REPO/$INC" "$TEST_TMP/r-base"

# Links in a backup's base where a restore writes (recovery.signal, postgresql.auto.conf):
# whoever writes the repository must not have the restore truncate or append to their
# targets.
echo keep >"$TEST_TMP/victim1"
echo keep >"$TEST_TMP/victim2"
LNK=$(plant -30 full none)
cp -a "$REPO/$FULL/base" "$REPO/$LNK/base"
rm -f "$REPO/$LNK/base/postgresql.auto.conf"
ln -s "$TEST_TMP/victim1" "$REPO/$LNK/base/recovery.signal"
ln -s "$TEST_TMP/victim2" "$REPO/$LNK/base/postgresql.auto.conf"
$MA db-restore-full "$LNK" --target-dir "$TEST_TMP/r-link" >/dev/null 2>&1
assert_eq "$(cat "$TEST_TMP/victim1") $(cat "$TEST_TMP/victim2")" "keep keep" \
	"a restore writes through no link planted in the backup"
rm -rf "$REPO/$LNK" "$TEST_TMP/r-link" "$TEST_TMP/r-link.sock"

# Too big, too deep: skipped, and said so by name.
BIG=$(plant -20 full pad)
DEEP=$(plant -21 full deep)
expect_exit 0 "db-backup-list with a 17 MiB and a deeply nested manifest" $MA db-backup-list
assert_contains "$OUT" "$BIG" "list names the 17 MiB manifest's backup"
assert_contains "$OUT" "more than the limit of 16 MiB" "and why it was skipped"
assert_contains "$OUT" "$DEEP" "list names the deeply nested manifest's backup"
assert_contains "$OUT" "nested deeper than 16 levels" "and why it was skipped"
OUT=$($MA db-backup-list --json 2>&1)
assert_contains "$OUT" '"skipped"' "list --json has the skipped folders"
rm -rf "$REPO/$BIG" "$REPO/$DEEP"

# Forged epochs: a newer folder whose stop lies in the future or before its start.
FUT=$(plant 3 full epoch "$(( $(date +%s) + 315360000 ))")
assert_eq "$(age_of)" "$before_age" "a stop_epoch ten years ahead does not move status's backup age"
OUT=$(env MIDSOPS_CONFIG="$TEST_TMP/cfg/a.conf" "$MIDSOPS" status 2>&1)
assert_contains "$OUT" "skipped_manifests" "status says a manifest was refused"
rm -rf "$REPO/$FUT"
PAST=$(plant 3 full epoch 1000)
assert_eq "$(age_of)" "$before_age" "a stop_epoch in 1970 does not move status's backup age"
expect_exit 0 "list with the forged epoch" $MA db-backup-list
assert_contains "$OUT" "$PAST" "list names the forged backup as skipped"
assert_contains "$OUT" "stop_epoch" "and the field"
rm -rf "$REPO/$PAST"

# ---- 6. stopping a backup ----
# Stored uncompressed, so the copy takes a while: the streamer is caught mid-copy.
psql_q "create table if not exists builds.bk_pad (id int primary key, pad text);
	alter table builds.bk_pad alter column pad set storage external;
	truncate builds.bk_pad;
	insert into builds.bk_pad select g, repeat(md5(g::text), 32) from generate_series(1, 250000) g" >/dev/null
# mid_copy: wait until a running full backup's copy has begun; prints its partial folder.
mid_copy() {
	for i in $(seq 1 400); do
		p=$(ls -d "$REPO"/*.partial 2>/dev/null | head -n 1)
		if [ -n "$p" ] && [ -n "$(find "$p/base" -type f -size +1k 2>/dev/null | head -n 1)" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.05
	done
	return 1
}
$MA db-backup-full >"$TEST_TMP/term.out" 2>&1 &
bp=$!
if P=$(mid_copy); then
	[ -n "$(pgrep -f -- "$P/base")" ] && ok "the full backup's tools run (pg_basebackup and its WAL streamer)" ||
		fail "no tools" "nothing names $P"
	kill -TERM $bp
	wait $bp
	rc=$?
	[ "$rc" != 0 ] && ok "SIGTERM ends db-backup-full with a failure" || fail "exit" "exit 0 after SIGTERM"
	sleep 0.2
	left=$(pgrep -a -f -- "$P/base")
	assert_eq "$left" "" "no pg_basebackup or WAL streamer of the stopped run survives"
	[ ! -e "$P" ] && ok "the stopped run's partial folder is gone" || fail "partial" "$P left"
	# Leftovers a run killed at the wrong moment leaves: planted, removed by the next run.
	echo '[]' >"$REPO/19990101T000000Z-full.partial.tables.json.tmp"
	t0=$(date +%s)
	expect_exit 0 "the next db-backup-full starts at once and succeeds" $MA db-backup-full
	assert_not_contains "$OUT" "another backup or restore is running" "the next backup is not refused"
	[ ! -e "$REPO/19990101T000000Z-full.partial.tables.json.tmp" ] &&
		ok "the next run removes ID.partial.tables.json.tmp" || fail "tmp left" "$(ls "$REPO")"
else
	fail "mid-copy" "the full backup was not caught copying: $(cat "$TEST_TMP/term.out")"
	kill -TERM $bp 2>/dev/null
	wait $bp
fi

# kill -9: midsops cannot stop anything; the next run does, at once.
$MA db-backup-full >/dev/null 2>&1 &
bp=$!
if P=$(mid_copy); then
	kill -9 $bp
	wait $bp 2>/dev/null
	expect_exit 0 "after kill -9 the next backup starts at once" $MA db-backup-full
	assert_contains "$OUT" "removed the partial backup" "it removes the killed run's partial folder"
	assert_eq "$(pgrep -a -f -- "$P/base")" "" "no tool of the killed run is left"
else
	fail "mid-copy (kill -9)" "the full backup was not caught copying"
	kill -9 $bp 2>/dev/null
	wait $bp 2>/dev/null
fi
psql_q "drop table builds.bk_pad" >/dev/null

# ---- 7. restores verified end to end ----
# wal-fetch checks NAME.sha256, as wal-push wrote it (plain here: test_backup_zstd.sh has the
# compressed form).
ARCH=$TEST_TMP/walarch
mkdir -p "$ARCH"
SEG=000000010000000000000042
head -c 16777216 /dev/urandom >"$TEST_TMP/$SEG"
expect_exit 0 "wal-push archives a segment" $MIDSOPS wal-push "$TEST_TMP/$SEG" "$SEG" --archive "$ARCH" --compress none
[ -f "$ARCH/$SEG.sha256" ] && ok "wal-push writes NAME.sha256" || fail "sidecar" "$(ls "$ARCH")"
expect_exit 0 "wal-fetch restores an intact segment" $MIDSOPS wal-fetch "$SEG" "$TEST_TMP/fetched" --archive "$ARCH"
cmp -s "$TEST_TMP/$SEG" "$TEST_TMP/fetched" && ok "the fetched segment is the archived one" || fail "fetched" "differs"
rm -f "$TEST_TMP/fetched"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(8192); b=f.read(1); f.seek(8192); f.write(bytes([b[0]^1])); f.close()' "$ARCH/$SEG"
OUT=$($MIDSOPS wal-fetch "$SEG" "$TEST_TMP/fetched" --archive "$ARCH" 2>&1)
rc=$?
[ $rc -gt 125 ] && ok "wal-fetch refuses a damaged segment with a status that ends recovery ($rc)" ||
	fail "wal-fetch damaged" "exit $rc: $OUT"
assert_contains "$OUT" "checksum mismatch for $SEG" "wal-fetch names the segment and the mismatch"
[ ! -e "$TEST_TMP/fetched" ] && ok "nothing of the damaged segment reaches the server" || fail "fetched" "written"
# A segment whose push was killed before NAME.sha256: the server's retry writes it.
rm -f "$ARCH/$SEG" "$ARCH/$SEG.sha256"
cp "$TEST_TMP/$SEG" "$ARCH/$SEG"
expect_exit 1 "wal-fetch refuses a segment without NAME.sha256 (not archived yet)" \
	$MIDSOPS wal-fetch "$SEG" "$TEST_TMP/fetched" --archive "$ARCH"
assert_contains "$OUT" "$SEG.sha256" "and names the missing checksum file"
expect_exit 0 "wal-push of the same segment again" $MIDSOPS wal-push "$TEST_TMP/$SEG" "$SEG" --archive "$ARCH" --compress none
[ -f "$ARCH/$SEG.sha256" ] && ok "the repeated push writes the missing NAME.sha256" || fail "sidecar" "still missing"
expect_exit 0 "then wal-fetch restores it" $MIDSOPS wal-fetch "$SEG" "$TEST_TMP/fetched" --archive "$ARCH"
# The server runs wal-fetch as its own account with the environment of whoever started it:
# a default config file only root can read (dr-restore writes one) must not stop recovery.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && runuser -u postgres -- test -x "$MIDSOPS"; then
	RC=$TEST_TMP/rootcfg
	mkdir -p "$RC/midsops" "$TEST_TMP/pgfetch" && chmod 0711 "$RC" && chmod 0700 "$RC/midsops"
	printf '[midsops]\nbackup_dir = /nowhere\n' >"$RC/midsops/midsops.conf"
	chmod 0600 "$RC/midsops/midsops.conf"
	chmod 0755 "$ARCH" && chmod 0644 "$ARCH/$SEG" "$ARCH/$SEG.sha256"
	chown postgres "$TEST_TMP/pgfetch"
	OUT=$(cd / && runuser -u postgres -- env XDG_CONFIG_HOME="$RC" "$MIDSOPS" wal-fetch "$SEG" "$TEST_TMP/pgfetch/seg" --archive "$ARCH" 2>&1)
	rc=$?
	assert_eq "$rc" 0 "wal-fetch as the server's account with an unreadable default config ($OUT)"
	cmp -s "$TEST_TMP/$SEG" "$TEST_TMP/pgfetch/seg" && ok "and fetches the segment" || fail "pgfetch" "differs"
	# A wizard's restore: the server inherits MIDSOPS_CONFIG naming root's file.
	OUT=$(cd / && runuser -u postgres -- env MIDSOPS_CONFIG="$RC/midsops/midsops.conf" "$MIDSOPS" wal-fetch "$SEG" "$TEST_TMP/pgfetch/seg3" --archive "$ARCH" 2>&1)
	rc=$?
	assert_eq "$rc" 0 "wal-fetch with an inherited MIDSOPS_CONFIG it cannot read ($OUT)"
	OUT=$(cd / && runuser -u postgres -- env XDG_CONFIG_HOME="$RC" "$MIDSOPS" --config "$RC/midsops/midsops.conf" wal-fetch "$SEG" "$TEST_TMP/pgfetch/seg2" --archive "$ARCH" 2>&1)
	assert_contains "$OUT" "cannot read" "a config named with --config that cannot be read is still an error"
	chmod 0700 "$ARCH"
else
	skip "wal-fetch as the server's account" "needs root, a postgres user and a binary it can run"
fi

# A restore into another directory: archiving off and a socket directory of its own.
E=$TEST_TMP/emb
mkdir -p "$E"
EPORT=$((MIDSOPS_PGPORT + 13))
EMB="env -u MIDSOPS_DSN XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state XDG_CONFIG_HOME=$E/config MIDSOPS_PGPORT=$EPORT $MIDSOPS"
$EMB db-create >/dev/null 2>&1
expect_exit 0 "embedded: db-backup-full (archiving on)" $EMB db-backup-full
EF=$($EMB db-backup-list --json | python3 -c 'import json,sys; print([b["id"] for b in json.load(sys.stdin)["backups"] if b["type"]=="full"][-1])')
C1=$TEST_TMP/copy
expect_exit 0 "db-restore-full --target-dir" $EMB db-restore-full "$EF" --target-dir "$C1"
assert_contains "$OUT" "socket_directory" "the restore names the copy's socket directory"
setting() { as_owner "$1" "$PGBIN/postgres" -D "$1" -C "$2" 2>&1; }
assert_eq "$(setting "$C1" archive_mode)" off "the copy's archive_mode is off"
assert_eq "$(setting "$C1" unix_socket_directories)" "$C1.sock" "the copy has a socket directory of its own"
assert_eq "$(stat -c %a "$C1.sock" 2>/dev/null)" 700 "its socket directory is 0700"
# Its log where the server's user may write.
if as_owner "$C1" "$PGBIN/pg_ctl" -D "$C1" -l "$INJ/copy.log" -w -t 60 start >/dev/null 2>&1; then
	got=$(psql "host=$C1.sock port=$(setting "$C1" port) dbname=postgres user=midsops" -XAtc "show archive_mode" 2>&1)
	assert_eq "$got" off "the started copy says archive_mode off"
	as_owner "$C1" "$PGBIN/pg_ctl" -D "$C1" -m immediate stop >/dev/null 2>&1
else
	fail "copy start" "$(tail -n 3 "$INJ/copy.log")"
fi
C2=$TEST_TMP/copy-keep
expect_exit 0 "db-restore-full --target-dir --keep-archiving" $EMB db-restore-full "$EF" --target-dir "$C2" --keep-archiving
assert_eq "$(setting "$C2" archive_mode)" on "--keep-archiving keeps archive_mode"
assert_not_contains "$(setting "$C2" unix_socket_directories)" "$C2.sock" "--keep-archiving keeps the socket directory"
C3=$TEST_TMP/copy-pitr
expect_exit 0 "db-restore-incremental --target-dir" $EMB db-restore-incremental "$EF" --target-dir "$C3"
assert_eq "$(setting "$C3" archive_mode)" off "a point-in-time copy's archive_mode is off too"
$EMB cluster stop immediate >/dev/null 2>&1
