# As root, the server's account (postgres) must not take root over with links it puts in
# the folders it may write (security audit, finding 1). In every such folder midsops uses
# (the log folders, backup_dir/wal, a receiving repository's wal, the DR site's log folder)
# postgres plants links named like the files root used to open, chmod or chown there
# (pg_ctl.log, initdb.log, midsops.log, basebackup.log, the .sha256.tmp of segments to
# come), each pointing at a root-owned 0600 file of its own with known content. Then, as
# root: cluster start (a fresh initdb), db-create, an import, db-backup-full, wal-receive and
# a DR site's rebuild. Every target must keep its owner, mode and content, and root's own
# log folder must not be one postgres can write.

if [ "$(id -u)" != 0 ]; then
	skip "links planted by the server's account" "runs only as root"
	return 0 2>/dev/null || exit 0
fi
if ! id postgres >/dev/null 2>&1; then
	skip "links planted by the server's account" "there is no postgres user"
	return 0 2>/dev/null || exit 0
fi

E=$TEST_TMP/emb
mkdir -p "$E" "$E/config/midsops" && chmod 0711 "$E"
PORT=$((MIDSOPS_PGPORT + 23))
printf '[midsops]\nbackup_dir = %s\n' "$E/repo" >"$E/config/midsops/midsops.conf"
printf '[midsops]\nbackup_dir = %s\n' "$E/recv" >"$E/recv.conf"
m() {
	env -u MIDSOPS_DSN XDG_DATA_HOME="$E/data" XDG_STATE_HOME="$E/state" \
		XDG_CONFIG_HOME="$E/config" MIDSOPS_PGPORT=$PORT "$MIDSOPS" "$@"
}
PRIMARY="host=$E/data/midsops/run port=$PORT dbname=midsops user=midsops"
pq() { psql "$PRIMARY" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
STATE=$E/state/midsops
DRDIR=$E/data/midsops/dr

# Folders and files, made once: the layout exists, the cluster is stopped.
expect_exit 0 "setup: cluster start" m cluster start
expect_exit 0 "setup: the backup repository" m db-backup-list
expect_exit 0 "setup: the receiving repository" m --config "$E/recv.conf" db-backup-list
expect_exit 0 "setup: cluster stop" m cluster stop

# plant DIR NAME...: as postgres, a link DIR/NAME to a new root-owned 0600 target, for each
# NAME, when postgres can write DIR. Planted links are listed in $PLANTED.
TARGETS=$TEST_TMP/targets
PLANTED=$TEST_TMP/planted
mkdir -p "$TARGETS" && chmod 0700 "$TARGETS"
: >"$PLANTED"
nt=0
plant() {
	dir=$1
	shift
	runuser -u postgres -- test -w "$dir" -a -x "$dir" 2>/dev/null || return 0
	for name in "$@"; do
		nt=$((nt + 1))
		t=$TARGETS/t$nt
		printf 'root file %s, planted as %s/%s\n' "$nt" "$dir" "$name" >"$t"
		chown root:root "$t" && chmod 0600 "$t"
		runuser -u postgres -- ln -sfn "$t" "$dir/$name"
		printf '%s %s\n' "$t" "${dir#$E/}/$name" >>"$PLANTED"
	done
}
LOGNAMES="pg_ctl.log initdb.log midsops.log basebackup.log postgresql.log.1"
for d in "$STATE" "$STATE/log" "$STATE/log/postgresql" "$E/data/midsops" "$E/repo" \
	"$E/repo/wal" "$E/recv" "$E/recv/wal"; do
	plant "$d" $LOGNAMES
done
if runuser -u postgres -- test -w "$STATE/log" 2>/dev/null; then
	fail "root's log folder is not the server account's" "postgres can write $STATE/log"
else ok "root's log folder is not the server account's ($(stat -c '%U %a' "$STATE/log"))"; fi

# A fresh initdb too (initdb.log): the data directory goes, the folders stay.
rm -rf "$E/data/midsops/pg"
expect_exit 0 "cluster start (initdb, pg_ctl) with links planted" m cluster start
assert_contains "$OUT" "log/postgresql/pg_ctl.log as uid $(id -u postgres): a symbolic link" \
	"pg_ctl, as postgres, does not follow the link in its log's place, and that is said"
expect_exit 0 "db-create with links planted" m db-create
expect_exit 0 "an import with links planted" m import "$MINI_EXPORT"
expect_exit 0 "db-backup-full with links planted" m db-backup-full

# wal-receive: the checksum files of the segments to come, planted in its wal folder.
SEG=$(pq "select pg_walfile_name(pg_current_wal_lsn())")
TLI=$(printf '%s' "$SEG" | cut -c1-8) HI=$(printf '%s' "$SEG" | cut -c9-16)
LO=$(printf '%s' "$SEG" | cut -c17-24)
for i in 0 1 2 3 4; do
	name=$(printf '%s%s%08X' "$TLI" "$HI" $((0x$LO + i)))
	plant "$E/recv/wal" "$name.sha256.tmp"
done
m --config "$E/recv.conf" wal-receive --slot midsops_sec >"$TEST_TMP/recv.out" 2>&1 &
RP=$!
n=0
while [ $n -lt $((300 * ${TEST_TIME_FACTOR:-1})) ] && ! grep -q '^received ' "$TEST_TMP/recv.out"; do
	[ $((n % 20)) = 5 ] && pq "select pg_switch_wal()" >/dev/null 2>&1
	sleep 0.1
	n=$((n + 1))
done
grep -q '^received ' "$TEST_TMP/recv.out" && ok "wal-receive received and sealed a segment" ||
	fail "wal-receive with links planted" "nothing received: $(tail -n 5 "$TEST_TMP/recv.out")"
kill -INT "$RP" 2>/dev/null
n=0
while kill -0 "$RP" 2>/dev/null && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
kill -9 "$RP" 2>/dev/null
wait "$RP" 2>/dev/null
SEALED=$(ls "$E/recv/wal" | grep -m 1 '^[0-9A-F]\{24\}$')
if [ -n "$SEALED" ]; then
	assert_eq "$(stat -c '%U' "$E/recv/wal/$SEALED")" postgres \
		"received WAL is written by the server's account"
	side=$E/recv/wal/$SEALED.sha256
	if [ -f "$side" ] && [ ! -L "$side" ] &&
		[ "$(cat "$side")" = "$(sha256sum "$E/recv/wal/$SEALED" | cut -d' ' -f1)" ]; then
		ok "its .sha256 is a plain file with the segment's checksum ($(stat -c '%U %a' "$side"))"
	else fail "the segment's .sha256" "$(ls -l "$side" 2>&1)"; fi
fi

# The DR site's log folder: made by a first setup, planted, then the site rebuilt
# (pg_ctl stop and start, pg_basebackup).
expect_exit 0 "dr-setup (a standby of the private cluster)" m dr-setup --no-baseline
plant "$DRDIR/log" $LOGNAMES
plant "$DRDIR" $LOGNAMES
expect_exit 0 "dr-setup --force with links planted in the DR site's log folder" \
	m dr-setup --target-dir "$DRDIR" --force --no-baseline

# Every target as it was: owner root, mode 0600, its own content.
changed=0 count=0
while read -r t link; do
	count=$((count + 1))
	n=${t##*/t}
	want="root file $n, planted as $E/$link"
	got=$(stat -c '%U %a' "$t" 2>&1)
	if [ "$got" != "root 600" ] || [ "$(cat "$t")" != "$want" ]; then
		changed=$((changed + 1))
		fail "the target of $link is unchanged" "now $got, content: $(head -c 200 "$t" | tr '\n' ' ')"
	fi
done <"$PLANTED"
[ "$count" -gt 0 ] && [ "$changed" = 0 ] &&
	ok "all $count root files behind links planted by postgres are unchanged (owner, mode, content)"
[ "$count" -gt 0 ] || fail "links planted" "postgres could write none of the folders"

# The layout: root's log folder is root's, the server logs in a folder of its own.
assert_eq "$(stat -c '%U' "$STATE/log")" root "midsops.log's folder belongs to root"
assert_eq "$(stat -c '%U' "$STATE/log/postgresql")" postgres "the server's log folder belongs to postgres"
assert_eq "$(stat -c '%U' "$STATE/log/postgresql/wal-receive-midsops_sec.log" 2>&1)" postgres \
	"pg_receivewal's log is written by the server's account, in its folder"
assert_eq "$(stat -c '%U' "$DRDIR/log")" postgres "the DR site's log folder belongs to postgres"

for d in "$DRDIR/pg" "$E/data/midsops/pg"; do
	[ -f "$d/postmaster.pid" ] && kill -9 "$(head -n 1 "$d/postmaster.pid")" 2>/dev/null
done
true
