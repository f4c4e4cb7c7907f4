#!/bin/sh
# Runs every test: unit binaries, then integration and console scripts against ONE private
# PostgreSQL cluster in a temporary directory, which is always stopped and removed.
# Usage: tests/run.sh [TEST-SCRIPT...]   Ends with "N passed, N failed".
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
MIDSOPS=${MIDSOPS:-$TOP/midsops}
export MIDSOPS
UNIT_DIR=${UNIT_DIR:-$TOP/build/tests}
start=$(date +%s)

# 0711 so the server's user (postgres, when we are root) can traverse it.
TEST_ROOT=$(mktemp -d /tmp/midsops-test.XXXXXX)
chmod 0711 "$TEST_ROOT"
RESULTS=$TEST_ROOT/results
: >"$RESULTS"
export RESULTS TEST_ROOT
export XDG_DATA_HOME=$TEST_ROOT/data XDG_STATE_HOME=$TEST_ROOT/state XDG_CONFIG_HOME=$TEST_ROOT/config
export XDG_RUNTIME_DIR=$TEST_ROOT/run
mkdir -p "$XDG_RUNTIME_DIR"
# Never the user's cluster and never a system one: a private port and socket directory.
MIDSOPS_PGPORT=$(( 20000 + $$ % 20000 ))
export MIDSOPS_PGPORT
export MIDSOPS_CLUSTER_EXTRA_CONF="fsync = off"
export NO_COLOR=1
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD

cleanup() {
	"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	# Clusters a test started elsewhere under TEST_ROOT (restores, standbys).
	for pid in $(find "$TEST_ROOT" -name postmaster.pid 2>/dev/null); do
		kill -9 "$(head -n 1 "$pid")" 2>/dev/null
	done
	tmux -L "midsops-test-$$" kill-server >/dev/null 2>&1
	rm -rf "$TEST_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $# -eq 0 ]; then
	echo "== unit tests"
	for t in "$UNIT_DIR"/test_*; do
		[ -x "$t" ] || continue
		out=$("$t" 2>&1)
		rc=$?
		printf '%s\n' "$out" | sed -n 's/^ok \(.*\)/PASS unit: \1/p; s/^not ok \(.*\)/FAIL unit: \1/p' >>"$RESULTS"
		printf '%s\n' "$out" | grep '^not ok' | sed 's/^/  /'
		if [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^not ok'; then
			echo "FAIL unit: $(basename "$t") exited $rc: $(printf '%s' "$out" | tail -n 3)" >>"$RESULTS"
			echo "  FAIL $(basename "$t") exited $rc"
		fi
		echo "  $(basename "$t"): $(printf '%s\n' "$out" | grep -c '^ok') ok"
	done
	set -- $(ls "$TOP"/tests/integration/test_*.sh "$TOP"/tests/tui/test_*.sh 2>/dev/null)
fi

echo "== private cluster in $TEST_ROOT (port $MIDSOPS_PGPORT)"
if ! "$MIDSOPS" cluster start >"$TEST_ROOT/cluster-start.log" 2>&1; then
	cat "$TEST_ROOT/cluster-start.log"
	echo "FAIL cluster: the private test cluster did not start" >>"$RESULTS"
	set --
fi
BASE_DSN=$("$MIDSOPS" cluster status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conninfo"])')
export TMUX_SOCKET="midsops-test-$$"
SHARED_STATE=$XDG_STATE_HOME SHARED_CONFIG=$XDG_CONFIG_HOME

# Each test file gets its own database, config and state directories, so what one file
# leaves behind (imports, backups, a [env dr], dead tuples) cannot change another's results.
# The cluster (and XDG_DATA_HOME, where it lives) is shared.
for t in "$@"; do
	echo "== $(basename "$t")"
	TEST_TMP=$TEST_ROOT/tmp/$(basename "$t" .sh)
	mkdir -p "$TEST_TMP"
	chmod 0711 "$TEST_TMP"
	export TEST_TMP
	db=t_$(basename "$t" .sh | tr -c 'a-z0-9_\n' '_')
	psql "$BASE_DSN" -XAtq -c "drop database if exists $db" -c "create database $db" >/dev/null 2>&1
	export MIDSOPS_DSN="$BASE_DSN dbname=$db"
	export XDG_STATE_HOME=$TEST_TMP/state XDG_CONFIG_HOME=$TEST_TMP/config
	before=$(wc -l <"$RESULTS")
	t0=$(date +%s)
	( cd "$TOP" && . "$TOP/tests/lib.sh" && . "$t" )
	rc=$?
	after=$(wc -l <"$RESULTS")
	if [ "$rc" -ne 0 ] && [ "$before" = "$after" ]; then
		echo "FAIL $(basename "$t"): exited $rc without reporting" >>"$RESULTS"
	fi
	echo "   ($(( $(date +%s) - t0 ))s)"
	psql "$BASE_DSN" -XAtq -c "drop database if exists $db with (force)" >/dev/null 2>&1
	export XDG_STATE_HOME=$SHARED_STATE XDG_CONFIG_HOME=$SHARED_CONFIG
done

passed=$(grep -c '^PASS' "$RESULTS")
failed=$(grep -c '^FAIL' "$RESULTS")
skipped=$(grep -c '^SKIP' "$RESULTS")
if [ "$failed" -gt 0 ]; then
	echo "== failures"
	grep '^FAIL' "$RESULTS" | sed 's/^/  /'
fi
echo "== $(( $(date +%s) - start ))s"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
