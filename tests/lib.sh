# Helpers for integration and console tests. Sourced by each tests/*/test_*.sh, which
# runs under tests/run.sh with a private cluster already up. Results go to $RESULTS.

ok() { echo "PASS $1" >>"$RESULTS"; echo "  ok   $1"; }
fail() { echo "FAIL $1: $2" >>"$RESULTS"; echo "  FAIL $1: $2"; }
skip() { echo "SKIP $1: $2" >>"$RESULTS"; echo "  skip $1: $2"; }

# check NAME COMMAND...: pass when the command succeeds.
check() {
	name=$1; shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else fail "$name" "command failed: $*"; fi
}

# expect_exit N NAME COMMAND...: run, keep output in $OUT (stdout+stderr), compare status.
expect_exit() {
	want=$1; name=$2; shift 2
	OUT=$("$@" 2>&1); got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else
		fail "$name" "exit $got, want $want: $(printf '%s' "$OUT" | tail -n 5)"
	fi
}

assert_contains() {
	case "$1" in
	*"$2"*) ok "$3" ;;
	*) fail "$3" "'$2' not found in: $(printf '%s' "$1" | head -c 600)" ;;
	esac
}

assert_not_contains() {
	case "$1" in
	*"$2"*) fail "$3" "'$2' unexpectedly found" ;;
	*) ok "$3" ;;
	esac
}

assert_eq() {
	if [ "$1" = "$2" ]; then ok "$3"; else fail "$3" "got '$1', want '$2'"; fi
}

# psql_q SQL: one value or rows, unaligned, on the test database.
psql_q() {
	psql "$MIDSOPS_DSN" -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

# app_pid NAME: the pid of the active session with that application_name, waiting up to 5 s.
app_pid() {
	for _ in $(seq 1 50); do
		p=$(psql_q "select pid from pg_stat_activity where application_name = '$1' and state = 'active' limit 1")
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# JSON field from stdin: json_get '.a.b' (uses python3, present on Debian by default).
json_get() {
	python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].strip(".").split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d if not isinstance(d,(dict,list)) else json.dumps(d))' "$1"
}

REAL_EXPORT=${REAL_EXPORT:-$TOP/../shared/data/cod-export}
MINI_EXPORT=$TOP/tests/data/export-mini
