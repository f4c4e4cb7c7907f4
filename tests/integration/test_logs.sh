# Logs an operator can grep and rotate: one line per event (UTC time, level, command, pid,
# escaped message) in log_dir/midsops.log; checks, cluster starts and stops logged; the
# import's run log timestamped; a write that fails (full disk, refused folder) said once
# and in the exit status; log_syslog; the logrotate snippet in contrib/.

LOG=$XDG_STATE_HOME/midsops/log/midsops.log
LINE_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z (debug|info|notice|warning|error|critical) [a-z0-9_-]+ [0-9]+ .*$'
# every_line FILE NAME: each line of FILE in the log format
every_line() {
	if [ ! -s "$1" ]; then
		fail "$2" "$1 is empty or missing"
	elif bad=$(grep -Evn "$LINE_RE" "$1") && [ -n "$bad" ]; then
		fail "$2" "$(printf '%s' "$bad" | head -n 3)"
	else ok "$2"; fi
}
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }

# ---- a check run, in the format
"$MIDSOPS" db-check >"$TEST_TMP/check.out" 2>&1
rc=$?
every_line "$LOG" "midsops.log: time (UTC, Z), level, command, pid, message on every line"
assert_eq "$(grep -Ec " info db-check [0-9]+ check started$" "$LOG")" 1 "a check's start is logged"
st=$(head -n 1 "$TEST_TMP/check.out" | sed -n 's/^MIDSOPS DB-CHECK \([A-Z]*\) - .*/\1/p')
if grep -Eq " db-check [0-9]+ check $st - " "$LOG" && [ -n "$st" ]; then
	ok "a check's result is logged with its status ($st)"
else fail "a check's result is logged with its status" "status '$st', log: $(tail -n 2 "$LOG")"; fi
pid=$(grep " check started$" "$LOG" | awk '{print $4}')
assert_eq "$(grep -c " db-check $pid " "$LOG")" 2 "the start and the result name the same pid"
assert_not_contains "$(cat "$TEST_TMP/check.out")" "log incomplete" "a check that could log says nothing of it"
[ "$rc" -le 2 ] && ok "db-check ran (exit $rc)" || fail "db-check ran" "exit $rc"

# ---- a message with a newline stays one line; the run log has a time on every line
NL_DIR="$TEST_TMP/mini
export"
cp -r "$MINI_EXPORT" "$NL_DIR"
expect_exit 0 "import from a folder whose name holds a newline" "$MIDSOPS" import "$NL_DIR"
assert_not_contains "$OUT" "log incomplete" "an import that could log says nothing of it"
every_line "$LOG" "midsops.log: still one event per line"
assert_eq "$(grep -c 'mini\\nexport' "$LOG")" 1 "the newline is escaped (backslash n), the event on one line"
RUN=$(psql_q "select max(id) from ops.import_runs")
RUNLOG=$(ls "$XDG_STATE_HOME"/midsops/log/import/*-run-"$RUN".log 2>/dev/null | head -n 1)
every_line "$RUNLOG" "the run log: a timestamp on every line"
if grep -Eq "^[0-9T:-]+Z info import [0-9]+ run $RUN: sql [0-9.]+s " "$RUNLOG"; then
	ok "the run log's sql lines carry timestamps"
else fail "the run log's sql lines carry timestamps" "$(grep -m 2 sql "$RUNLOG")"; fi
assert_eq "$(grep -c 'mini\\nexport' "$RUNLOG")" 1 "the run log escapes the newline too"
if [ "$(stat -c %a "$LOG")" = 600 ] && [ "$(stat -c %a "$RUNLOG")" = 600 ]; then
	ok "logs are 0600"
else fail "logs are 0600" "$(stat -c '%a %n' "$LOG" "$RUNLOG")"; fi

# ---- cluster start and stop, by the cluster command and by a command that needs it
E=$TEST_TMP/emb
EMB="env -u MIDSOPS_DSN XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state XDG_CONFIG_HOME=$E/config MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 17))"
ELOG=$E/state/midsops/log/midsops.log
expect_exit 0 "cluster start (a cluster of its own)" $EMB "$MIDSOPS" cluster start
assert_not_contains "$OUT" "log incomplete" "the server's log folder does not take midsops.log's"
expect_exit 0 "cluster stop" $EMB "$MIDSOPS" cluster stop
expect_exit 0 "a work command starts the stopped cluster" $EMB "$MIDSOPS" cache-cleanup
$EMB "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
every_line "$ELOG" "cluster events in the log format"
assert_eq "$(grep -Ec ' info cluster [0-9]+ embedded cluster started ' "$ELOG")" 1 "cluster start is logged"
assert_eq "$(grep -Ec ' info cluster [0-9]+ embedded cluster stopped .*mode fast' "$ELOG")" 1 "cluster stop is logged"
assert_eq "$(grep -Ec ' info cache-cleanup [0-9]+ embedded cluster started ' "$ELOG")" 1 \
	"a start by db_connect is logged under the command that caused it"
assert_eq "$(grep -Ec ' cluster [0-9]+ embedded cluster stopped .*mode immediate' "$ELOG")" 1 "an immediate stop too"
if [ "$(id -u)" = 0 ]; then
	o=$(stat -c %U "$E/state/midsops/log") p=$(stat -c %U "$E/state/midsops/log/postgresql")
	assert_eq "$o $p" "root postgres" "as root: midsops.log's folder stays root's; the server logs in a folder of its own"
fi

# ---- a full disk: said once, in the exit status, and on the run
FULL=$TEST_TMP/full
mkdir -p "$FULL"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k,mode=0700 tmpfs "$FULL" 2>/dev/null; then
	mkdir -m 0700 "$FULL/log"
	dd if=/dev/zero of="$FULL/filler" bs=4k >/dev/null 2>&1
	printf '[midsops]\nlog_dir = %s\n' "$FULL/log" >"$TEST_TMP/full.conf"
	"$MIDSOPS" --config "$TEST_TMP/full.conf" import "$MINI_EXPORT" >"$TEST_TMP/full.out" 2>"$TEST_TMP/full.err"
	rc=$?
	assert_eq "$rc" 1 "an import whose log cannot be written exits 1"
	assert_eq "$(count 'log incomplete' "$TEST_TMP/full.err")" 1 "it says 'log incomplete' on stderr, once"
	assert_contains "$(cat "$TEST_TMP/full.err")" "No space left on device" "naming the full disk"
	RUN=$(psql_q "select max(id) from ops.import_runs")
	assert_eq "$(psql_q "select state from ops.import_runs where id = $RUN")" completed \
		"the import itself completed"
	expect_exit 0 "import-debug of that run" "$MIDSOPS" --config "$TEST_TMP/full.conf" import-debug "$RUN" --verbose
	assert_contains "$OUT" "incomplete: cannot write $FULL/log/import/" "import-debug says the run's log is incomplete"
	assert_contains "$OUT" "(incomplete: lines are missing)" "and does not present the file as the log"
	"$MIDSOPS" --config "$TEST_TMP/full.conf" db-check >"$TEST_TMP/fullcheck.out" 2>"$TEST_TMP/fullcheck.err"
	rc=$?
	first=$(head -n 1 "$TEST_TMP/fullcheck.out")
	case "$first" in
	"MIDSOPS DB-CHECK WARNING - "* | "MIDSOPS DB-CHECK CRITICAL - "*) ok "a check with an unwritable log is at least WARNING" ;;
	*) fail "a check with an unwritable log is at least WARNING" "$first" ;;
	esac
	[ "$rc" -ge 1 ] && [ "$rc" -le 2 ] && ok "its exit status agrees ($rc)" || fail "its exit status agrees" "exit $rc: $first"
	assert_contains "$first" "log: incomplete" "its status line says the log is incomplete"
	assert_eq "$(count 'log incomplete' "$TEST_TMP/fullcheck.err")" 1 "the check says it once on stderr"
	"$MIDSOPS" --config "$TEST_TMP/full.conf" --json db-check >"$TEST_TMP/fullcheck.json" 2>/dev/null
	assert_contains "$(json_get .summary <"$TEST_TMP/fullcheck.json")" "log: incomplete" "--json: the summary says so too"
	umount "$FULL"
else
	skip "a full log disk" "needs root to mount a 64k tmpfs"
fi

# ---- a removed folder is made again; a folder root must not use is refused
GONE=$TEST_TMP/gone
printf '[midsops]\nlog_dir = %s/log\n' "$GONE" >"$TEST_TMP/gone.conf"
expect_exit 0 "cache-cleanup logs" "$MIDSOPS" --config "$TEST_TMP/gone.conf" cache-cleanup
rm -rf "$GONE"
expect_exit 0 "cache-cleanup after the log folder was removed" "$MIDSOPS" --config "$TEST_TMP/gone.conf" cache-cleanup
assert_not_contains "$OUT" "log incomplete" "the removed folder was made again"
assert_eq "$(count ' cache-cleanup ' "$GONE/log/midsops.log")" 1 "the line is in the new folder"
mkdir -p "$TEST_TMP/real"
ln -s "$TEST_TMP/real" "$TEST_TMP/linked"
printf '[midsops]\nlog_dir = %s/linked\n' "$TEST_TMP" >"$TEST_TMP/link.conf"
expect_exit 1 "a command that would exit 0 exits 1 when its log is incomplete" \
	"$MIDSOPS" --config "$TEST_TMP/link.conf" cache-cleanup
assert_contains "$OUT" "log incomplete: log directory $TEST_TMP/linked is a symbolic link" "a symlinked log folder is refused"
assert_eq "$(ls "$TEST_TMP/real" | wc -l)" 0 "nothing written through the link"
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$TEST_TMP/open"
	chmod 0777 "$TEST_TMP/open"
	printf '[midsops]\nlog_dir = %s/open\n' "$TEST_TMP" >"$TEST_TMP/open.conf"
	expect_exit 1 "root: a log folder others can write" "$MIDSOPS" --config "$TEST_TMP/open.conf" cache-cleanup
	assert_contains "$OUT" "refusing log directory $TEST_TMP/open as root" "is refused, saying why"
	assert_eq "$(printf '%s\n' "$OUT" | grep -c 'log incomplete')" 1 "once"
	mkdir -p "$TEST_TMP/theirs"
	chown nobody "$TEST_TMP/theirs"
	chmod 0700 "$TEST_TMP/theirs"
	printf '[midsops]\nlog_dir = %s/theirs\n' "$TEST_TMP" >"$TEST_TMP/theirs.conf"
	expect_exit 1 "root: a log folder another account owns" "$MIDSOPS" --config "$TEST_TMP/theirs.conf" cache-cleanup
	assert_contains "$OUT" "owned by uid $(id -u nobody)" "is refused too"
fi

# ---- log_syslog
printf '[midsops]\nlog_syslog = yes\n' >"$TEST_TMP/syslog.conf"
expect_exit 0 "log_syslog = yes parses" "$MIDSOPS" --config "$TEST_TMP/syslog.conf" config show
assert_contains "$OUT" "log_syslog" "config show lists log_syslog"
printf '[midsops]\nlog_syslog = perhaps\n' >"$TEST_TMP/syslog-bad.conf"
expect_exit 78 "log_syslog = perhaps is a config error" "$MIDSOPS" --config "$TEST_TMP/syslog-bad.conf" config show
assert_contains "$OUT" "syslog-bad.conf:2: log_syslog wants yes or no" "naming the file and line"
# syslog(3) writes to /dev/log: a private mount namespace gets a /dev of its own with a
# listener on /dev/log, so the delivery is seen without touching the system's logging.
cat >"$TEST_TMP/syslog.sh" <<'EOS'
out=$1; shift
mount -t tmpfs -o mode=0755 tmpfs /dev || exit 90
mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 && mknod -m 666 /dev/urandom c 1 9 || exit 90
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(8192) + b"\n")
' "$out" &
listener=$!
i=0
while [ ! -S /dev/log ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S /dev/log ] || exit 90
"$@" >/dev/null 2>&1
rc=$?
i=0
while ! grep -q 'check started' "$out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
kill $listener
exit $rc
EOS
: >"$TEST_TMP/syslog.got"
if [ "$(id -u)" = 0 ] && [ -x /usr/bin/python3 ] && command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	unshare -m --propagation private sh "$TEST_TMP/syslog.sh" "$TEST_TMP/syslog.got" \
		"$MIDSOPS" --config "$TEST_TMP/syslog.conf" db-check
	rc=$?
	if [ "$rc" = 90 ]; then
		skip "syslog delivery" "could not set up a private /dev/log"
	else
		got=$(cat "$TEST_TMP/syslog.got")
		assert_contains "$got" "midsops[" "log_syslog = yes: events reach syslog as 'midsops' with the pid"
		assert_contains "$got" "db-check check started" "the check's start, by command"
		assert_contains "$got" "db-check check " "and its result"
		case "$got" in *"<14>"*) ok "at priority user.info" ;; *) fail "at priority user.info" "$got" ;; esac
	fi
	printf '[midsops]\nlog_syslog = no\n' >"$TEST_TMP/nosyslog.conf"
	: >"$TEST_TMP/nosyslog.got"
	unshare -m --propagation private sh "$TEST_TMP/syslog.sh" "$TEST_TMP/nosyslog.got" \
		"$MIDSOPS" --config "$TEST_TMP/nosyslog.conf" db-check
	assert_eq "$(wc -c <"$TEST_TMP/nosyslog.got")" 0 "log_syslog = no: nothing to syslog"
else
	skip "syslog delivery" "needs root and unshare for a private /dev/log; the key's parsing is tested above"
fi

# ---- the logrotate snippet
if command -v logrotate >/dev/null; then
	SNIP=$TOP/contrib/midsops.logrotate
	OUT=$(logrotate -d -s "$TEST_TMP/lr.state" "$SNIP" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && ! printf '%s' "$OUT" | grep -qi 'error'; then
		ok "contrib/midsops.logrotate passes logrotate -d"
	else fail "contrib/midsops.logrotate passes logrotate -d" "exit $rc: $(printf '%s' "$OUT" | grep -i error | head -n 3)"; fi
	# The same snippet on this test's log: rename, create, and the next line lands in the new file.
	sed "s|/var/lib/midsops/state/log/midsops.log|$LOG|" "$SNIP" >"$TEST_TMP/lr.conf"
	before=$(wc -l <"$LOG")
	if logrotate -f -s "$TEST_TMP/lr.state" "$TEST_TMP/lr.conf" >"$TEST_TMP/lr.out" 2>&1; then
		ok "logrotate rotates midsops.log"
	else fail "logrotate rotates midsops.log" "$(tail -n 3 "$TEST_TMP/lr.out")"; fi
	assert_eq "$(wc -l <"$LOG.1" 2>/dev/null)" "$before" "the old lines are in midsops.log.1"
	"$MIDSOPS" db-check >/dev/null 2>&1
	assert_eq "$(grep -c 'check started' "$LOG")" 1 "the next event goes to the new midsops.log"
	assert_eq "$(stat -c %a "$LOG")" 600 "the new file is 0600"
else
	skip "the logrotate snippet" "logrotate is not installed (make deps)"
fi
