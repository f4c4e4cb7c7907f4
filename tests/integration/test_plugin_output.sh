# Every check speaks the monitoring-plugin format: the first line is
# "SERVICE STATUS - text | perfdata" by the Monitoring Plugins Development Guidelines'
# grammar, its status word agrees with the exit status, and --json agrees too. Then
# Debian's check_pgsql and db-check judge the same cluster alike.

"$MIDSOPS" db-create >/dev/null 2>&1
"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1 || fail "import the mini export" "failed"

cat >"$TEST_TMP/grammar.py" <<'PY'
import re, sys
# 'label'=value[UOM];[warn];[crit];[min];[max]  (guidelines, "Performance data")
label = r"(?:'(?:[^'=]|'')+'|[^'= |]+)"
num = r"-?[0-9]+(?:\.[0-9]+)?"
uom = r"(?:s|ms|us|%|B|KB|MB|TB|c)?"
rng = r"@?(?:(?:~|" + num + r"):)?(?:" + num + r")?"
perf = label + "=" + num + uom + r"(?:;(?:" + rng + r")(?:;(?:" + rng + r")(?:;(?:" + num + r")?(?:;(?:" + num + r")?)?)?)?)?"
line = (r"^(?P<svc>MIDSOPS [A-Z0-9-]+) (?P<st>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|\n]+?)"
        r"(?: \| (?P<perf>" + perf + r"(?: " + perf + r")*))?$")
first = sys.stdin.readline().rstrip("\n")
m = re.match(line, first)
if not m:
    print("BAD " + first[:300]); sys.exit(1)
print(m.group("st") + " " + m.group("svc") + " perf=" + str(bool(m.group("perf"))))
PY

code() { case $1 in OK) echo 0 ;; WARNING) echo 1 ;; CRITICAL) echo 2 ;; *) echo 3 ;; esac; }
# check_one NAME ARGS...: the first line's grammar, its status against the exit status, and
# the JSON's status against the JSON run's exit status.
check_one() {
	name=$1
	shift
	out=$(timeout 300 "$MIDSOPS" "$@" 2>/dev/null); rc=$?
	res=$(printf '%s\n' "$out" | python3 "$TEST_TMP/grammar.py")
	case "$res" in
	BAD*|"") fail "$name: first line follows the plugin grammar" "$res" ; return ;;
	esac
	ok "$name: first line follows the plugin grammar ($res)"
	st=${res%% *}
	assert_eq "$rc" "$(code "$st")" "$name: exit status agrees with '$st'"
	svc=$(printf '%s' "$res" | cut -d' ' -f2-3)
	assert_eq "$svc" "MIDSOPS $(echo "$1" | tr a-z A-Z)" "$name: the service is named after the check"
	j=$(timeout 300 "$MIDSOPS" "$@" --json 2>/dev/null); jrc=$?
	js=$(printf '%s' "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)
	if [ -n "$js" ]; then assert_eq "$jrc" "$(code "$js")" "$name: --json status agrees with its exit status"; fi
}

# A check's perfdata carries the config's thresholds: 'connections'=N;warn;crit;0;max.
printf '[thresholds]\nconnections = 70 90\n' >"$TEST_TMP/th.conf"
first=$("$MIDSOPS" --config "$TEST_TMP/th.conf" db-check 2>/dev/null | head -n 1)
max=$(psql_q "show max_connections")
case "$first" in
*"'connections'="*";$((max * 70 / 100));$((max * 90 / 100));0;$max"*) ok "perfdata thresholds come from [thresholds]" ;;
*) fail "perfdata thresholds come from [thresholds]" "$first" ;;
esac
assert_contains "$first" "'buffer_hit_ratio'=" "db-check perfdata has the hit ratio (as %)"

# A WARNING names the worst item and why, not a bare word.
printf '[thresholds]\nconnections = 0 90\n' >"$TEST_TMP/th0.conf"
expect_exit 1 "db-check warns when connections pass the warning threshold" "$MIDSOPS" --config "$TEST_TMP/th0.conf" db-check
first=$(printf '%s\n' "$OUT" | head -n 1)
assert_contains "$first" "MIDSOPS DB-CHECK WARNING - connections: " "the status line names the worst item"
# emergency-status with no backups: the reason is the missing backup, not "target reachable".
expect_exit 1 "emergency-status warns with no backups" "$MIDSOPS" emergency-status
assert_contains "$(printf '%s\n' "$OUT" | head -n 1)" "last backup: no backups recorded" "emergency-status names the real cause"
# perf-test with the database down: CRITICAL, and exit 2 to match.
expect_exit 2 "perf-test with the database down exits 2" "$MIDSOPS" --dsn "host=$TEST_TMP/nowhere port=1 dbname=x" perf-test --duration 1
assert_contains "$(printf '%s\n' "$OUT" | grep MIDSOPS)" "MIDSOPS PERF-TEST CRITICAL - " "and says CRITICAL"

# --- Debian's check_pgsql beside db-check, on the same cluster ---------------------------
CP=/usr/lib/nagios/plugins/check_pgsql
if [ -x "$CP" ]; then
	host=$(printf '%s' "$MIDSOPS_DSN" | sed -n 's/.*host=\([^ ]*\).*/\1/p')
	port=$(printf '%s' "$MIDSOPS_DSN" | sed -n 's/.*port=\([^ ]*\).*/\1/p')
	user=$(printf '%s' "$MIDSOPS_DSN" | sed -n 's/.*user=\([^ ]*\).*/\1/p')
	db=$(printf '%s' "$MIDSOPS_DSN" | sed -n 's/.*dbname=\([^ ]*\).*/\1/p')
	# check_pgsql uses TCP with -H; the socket directory goes in PGHOST instead.
	cp_out=$(env PGHOST="$host" "$CP" -P "$port" -l "$user" -d "$db" 2>&1); cp_rc=$?
	"$MIDSOPS" db-check >/dev/null 2>&1; m_rc=$?
	assert_eq "$m_rc/$cp_rc" "0/0" "healthy: db-check and check_pgsql both say OK ($cp_out)"
	# The server stopped: both CRITICAL.
	E=$TEST_TMP/emb
	mkdir -p "$E" && chmod 0711 "$E"
	EMB="XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 13))"
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster start >/dev/null 2>&1
	ci=$(env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conninfo"])')
	ehost=$(printf '%s' "$ci" | sed -n 's/.*host=\([^ ]*\).*/\1/p')
	euser=$(printf '%s' "$ci" | sed -n 's/.*user=\([^ ]*\).*/\1/p')
	edb=$(printf '%s' "$ci" | sed -n 's/.*dbname=\([^ ]*\).*/\1/p')
	eport=$((MIDSOPS_PGPORT + 13))
	env PGHOST="$ehost" "$CP" -P "$eport" -l "$euser" -d "$edb" >/dev/null 2>&1; a=$?
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" db-check >/dev/null 2>&1; b=$?
	assert_eq "$b/$a" "0/0" "a second cluster: both OK"
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	cp_out=$(env PGHOST="$ehost" "$CP" -P "$eport" -l "$euser" -d "$edb" 2>&1); a=$?
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" db-check >/dev/null 2>&1; b=$?
	assert_eq "$b/$a" "2/2" "stopped: db-check and check_pgsql both CRITICAL ($cp_out)"
	# Usage errors: check_pgsql's convention is UNKNOWN (3), and so is ours.
	"$CP" --bogus >/dev/null 2>&1; a=$?
	"$MIDSOPS" db-check --bogus >/dev/null 2>&1; b=$?
	assert_eq "$b/$a" "3/3" "a usage error: both UNKNOWN"
else
	skip "check_pgsql beside db-check" "$CP is not installed (make deps installs monitoring-plugins-standard)"
fi

# Last: some checks (perf-test, weekly-maintenance) leave churn that later figures judge.
checks=$("$MIDSOPS" help --json | python3 -c 'import json,sys
[print(c["command"]) for c in json.load(sys.stdin)["commands"] if c["kind"]=="check"]')
assert_contains "$checks" "db-check" "help --json marks the checks"
for c in $checks; do
	case $c in
	watch) continue ;; # streams a snapshot per interval; not a plugin
	export-validate) check_one "$c" "$c" "$MINI_EXPORT" ;;
	db-backup-verify) check_one "$c" "$c" 999999 ;;
	perf-test) check_one "$c" "$c" --duration 1 --clients 1 ;;
	*) check_one "$c" "$c" ;;
	esac
done

