# Secrets, file modes and "no shell". A login role WITH a password, required over the Unix
# socket by scram-sha-256 (pg_hba lines for that role only, so the other tests keep trust):
# no process's argv may hold the password while db-backup-full and db-backup-archive run,
# nor any log, JSON output, config show, report or state file.
. "$TOP/tests/tui/console_lib.sh"

PW='Zq7-secret-Hx93pw'
REPO=$TEST_TMP/repo
LOGS=$TEST_TMP/logs
REPORTS=$TEST_TMP/reports
INC=$TEST_TMP/incidents
CONF=$TEST_TMP/sec.conf
"$MIDSOPS" db-create >/dev/null 2>&1
DATA=$("$MIDSOPS" cluster status --json | json_get .data_directory)
HBA=$DATA/pg_hba.conf
# Not into pg_stat_statements (whose statements the reports list): a plain-text password
# there would be the test's own leak, not midsops's.
psql_q "set pg_stat_statements.track_utility = off; drop role if exists secops;
	create role secops login superuser replication password '$PW'" >/dev/null 2>&1
cp -p "$HBA" "$TEST_TMP/pg_hba.orig"
{
	printf 'local all secops scram-sha-256\nlocal replication secops scram-sha-256\n'
	cat "$TEST_TMP/pg_hba.orig"
} >"$HBA"
psql_q "select pg_reload_conf()" >/dev/null
sleep 0.5
restore_hba() {
	cp -p "$TEST_TMP/pg_hba.orig" "$HBA"
	psql_q "select pg_reload_conf()" >/dev/null
}

SDSN="$MIDSOPS_DSN user=secops password=$PW"
if psql "$MIDSOPS_DSN user=secops" -XAtq -w -c "select 1" >/dev/null 2>&1; then
	fail "the test role needs its password" "connected without one"
else ok "the test role needs its password (scram-sha-256 over the socket)"; fi
assert_eq "$(psql "$SDSN" -XAtq -c "select 1")" 1 "the password in the conninfo works"

cat >"$CONF" <<EOC
[midsops]
backup_dir = $REPO
log_dir = $LOGS
reports_dir = $REPORTS
incidents_dir = $INC
default_env = sec

[env sec]
dsn = $SDSN
EOC
chmod 600 "$CONF"
M="$MIDSOPS --config $CONF"
unset_dsn() { env -u MIDSOPS_DSN "$@"; }

# Run a command in the background and scan every /proc/*/cmdline until it ends. The
# pattern comes from a file, so the scanning grep's own argv does not hold it.
printf '%s\n' "$PW" >"$TEST_TMP/pw.pattern"
scan_argv() {
	name=$1; shift
	unset_dsn "$@" >"$TEST_TMP/$name.out" 2>&1 &
	bg=$!
	hits=0 scans=0
	while kill -0 "$bg" 2>/dev/null; do
		found=$(grep -alF -f "$TEST_TMP/pw.pattern" /proc/[0-9]*/cmdline 2>/dev/null)
		if [ -n "$found" ]; then
			hits=$((hits + 1))
			for f in $found; do echo "$f: $(tr '\0' ' ' <"$f" 2>/dev/null)"; done >>"$TEST_TMP/argv-hits"
		fi
		scans=$((scans + 1))
	done
	wait "$bg"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name with a password conninfo" "exit $rc: $(tail -n 5 "$TEST_TMP/$name.out")"
	elif [ "$hits" -gt 0 ]; then
		fail "no password in any argv during $name" "$(head -n 3 "$TEST_TMP/argv-hits")"
	elif [ "$scans" -lt 3 ]; then
		fail "no password in any argv during $name" "only $scans scans of /proc"
	else
		ok "no password in any argv during $name ($scans scans of every /proc/*/cmdline)"
	fi
}
scan_argv db-backup-full $M db-backup-full
scan_argv db-backup-archive $M db-backup-archive
scan_argv import $M import "$MINI_EXPORT"

# Output, logs, reports, state.
for c in "config" "config show" "status" "db-check" "db-backup-list" "import-status"; do
	out=$(unset_dsn $M $c --json 2>&1)
	assert_not_contains "$out" "$PW" "no password in '$c --json'"
	out=$(unset_dsn $M $c 2>&1)
	assert_not_contains "$out" "$PW" "no password in '$c'"
done
out=$(unset_dsn $M config show 2>&1)
unset_dsn $M diag-report >/dev/null 2>&1
unset_dsn $M generate-weekly-report >/dev/null 2>&1
out=$(MIDSOPS_DSN=$SDSN "$MIDSOPS" --dsn "$SDSN" db-check --bogus-option 2>&1)
assert_not_contains "$out" "$PW" "no password in a usage error"
out=$(MIDSOPS_DSN="$MIDSOPS_DSN user=secops password=wrong-$PW" "$MIDSOPS" db-check 2>&1)
assert_not_contains "$out" "$PW" "no password in a connection error"
for d in "$REPO" "$LOGS" "$REPORTS" "$INC" "$XDG_STATE_HOME" "$XDG_DATA_HOME/midsops/backups"; do
	[ -d "$d" ] || continue
	if found=$(grep -rl -- "$PW" "$d" 2>/dev/null) && [ -n "$found" ]; then
		fail "no password in files under $d" "$(printf '%s' "$found" | head -n 3)"
	else ok "no password in files under $(basename "$d")"; fi
done
assert_eq "$(psql_q "select count(*) from ops.events where message like '%$PW%'")" 0 \
	"no password in the event journal"
assert_eq "$(psql_q "select count(*) from pg_stat_activity where pid <> pg_backend_pid() and (application_name like '%$PW%' or query like '%$PW%')")" 0 \
	"no password in application names or queries"
ls "$REPORTS"/* >/dev/null 2>&1 && ok "reports were written" || skip "reports were written" "none in $REPORTS"

# Modes: the documented 0700 directories and 0600 files. A parent the server's user must
# pass through (the repository for WAL, the state directory) may be 0711: traversal only.
for d in "$REPO" "$LOGS" "$REPORTS" "$XDG_STATE_HOME/midsops"; do
	[ -e "$d" ] || { skip "modes under $d" "not created"; continue; }
	bad=$(find "$d" \( -type d -perm /066 \) -o \( -type f -perm /077 \) 2>/dev/null | head -n 5)
	if [ -z "$bad" ]; then ok "modes under $(basename "$d"): directories 0700 or 0711, files 0600"
	else fail "modes under $(basename "$d")" "$(for f in $bad; do printf '%s %s; ' "$(stat -c %a "$f")" "$f"; done)"; fi
done
restore_hba

# No shell: runbook steps and the command bar run only midsops commands.
mkdir -p "$XDG_CONFIG_HOME/midsops/runbooks"
PWN=$TEST_TMP/pwned
cat >"$XDG_CONFIG_HOME/midsops/runbooks/evil.json" <<EOR
{"name": "evil", "title": "shell text", "sections": [{"title": "s", "steps": [
 {"id": "a", "kind": "check", "title": "a", "command": "version; touch $PWN-1"},
 {"id": "b", "kind": "check", "title": "b", "command": "sh -c 'touch $PWN-2'"}]}]}
EOR
expect_exit 1 "a runbook with shell text is refused" "$MIDSOPS" wizard validate evil
assert_contains "$OUT" "evil" "the refusal names the runbook"
cat >"$XDG_CONFIG_HOME/midsops/runbooks/evil2.json" <<EOR
{"name": "evil2", "title": "shell text in arguments", "sections": [{"title": "s", "steps": [
 {"id": "a", "kind": "check", "title": "a", "command": "version \$(touch $PWN-3) \`touch $PWN-4\` ; touch $PWN-5 | touch $PWN-6"}]}]}
EOR
"$MIDSOPS" wizard evil2 --non-interactive >/dev/null 2>&1
rm -f "$XDG_CONFIG_HOME/midsops/runbooks/evil.json" "$XDG_CONFIG_HOME/midsops/runbooks/evil2.json"
if "$MIDSOPS" help console >/dev/null 2>&1 && command -v tmux >/dev/null; then
	S=sec$$
	console_start "$S"
	wait_for "$S" "Database health" 50
	for line in "version; touch $PWN-7" "version \$(touch $PWN-8)" "version \`touch $PWN-9\`" \
		"version | touch $PWN-10" "sh -c 'touch $PWN-11'"; do
		keys "$S" ':'
		keys "$S" -l "$line"
		keys "$S" Enter
		sleep 0.5
	done
	sleep 1
	keys "$S" ':'
	chunk=$(head -c 4000 /dev/zero | tr '\0' 'y')
	for _ in 1 2 3 4 5; do keys "$S" -l "$chunk"; done
	keys "$S" Enter
	# The bar takes at most 4096 bytes of a line: a 20 kB paste is refused whole at Enter,
	# at once (it took about 10 s before the cap), and nothing runs.
	expect_screen "a 20 kB command-bar line is refused whole, quickly, the console lives on" "$S" "nothing ran" 50
	keys "$S" q
	sleep 0.5
	tm kill-session -t "$S" 2>/dev/null
fi
left=$(ls "$PWN"-* 2>/dev/null)
if [ -z "$left" ]; then ok "no shell text ran from runbooks or the command bar"
else fail "no shell text ran from runbooks or the command bar" "$left"; fi

# Input limits: clear refusals, not crashes or unbounded memory.
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TEST_TMP/huge.json"
expect_exit 1 "a runbook over 1 MiB is refused" "$MIDSOPS" wizard validate "$TEST_TMP/huge.json"
assert_contains "$OUT" "larger than 1 MiB" "the runbook refusal says why"
{ printf '[midsops]\n'; head -c 1100000 /dev/zero | tr '\0' '#'; } >"$TEST_TMP/huge.conf"
expect_exit 78 "a config file over 1 MiB is refused" "$MIDSOPS" --config "$TEST_TMP/huge.conf" config
assert_contains "$OUT" "larger than" "the config refusal says why"
{ printf '[midsops]\ntheme = '; head -c 5000 /dev/zero | tr '\0' 'x'; printf '\n'; } >"$TEST_TMP/longline.conf"
expect_exit 78 "a config line over 4096 bytes is refused" "$MIDSOPS" --config "$TEST_TMP/longline.conf" config
assert_contains "$OUT" "longer than" "the long-line refusal says why"
long=$(head -c 100000 /dev/zero | tr '\0' 'a')
expect_exit 64 "a 100 kB argument is a clear usage error" "$MIDSOPS" "$long"
psql_q "drop role if exists secops" >/dev/null 2>&1
