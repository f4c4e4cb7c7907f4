# Truth under failure: checks observe and never repair; a stopped embedded cluster is
# CRITICAL and names the fix; a config named on purpose must exist; a run whose process
# is gone is 'interrupted', not 'running'.

# --- checks never start the embedded cluster ------------------------------------------
E=$TEST_TMP/emb
mkdir -p "$E" && chmod 0711 "$E"
EMB="XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 11))"
m() { env -u MIDSOPS_DSN $EMB "$MIDSOPS" "$@"; }
stopped() { m cluster status >/dev/null 2>&1; [ $? = 3 ]; }
m db-create >/dev/null 2>&1 || fail "own embedded cluster" "db-create failed"
m cluster stop >/dev/null 2>&1
for cmd in db-check status import-health emergency-status diag-quick metrics; do
	OUT=$(m $cmd 2>&1); rc=$?
	if stopped; then ok "$cmd leaves the stopped cluster stopped"; else
		fail "$cmd leaves the stopped cluster stopped" "it is running after $cmd (exit $rc)"
		m cluster stop >/dev/null 2>&1
	fi
done
expect_exit 2 "db-check on the stopped embedded cluster is CRITICAL" m db-check
assert_contains "$OUT" "midsops cluster start" "the message names the fix"
assert_contains "$OUT" "stopped" "the message says the cluster is stopped"
assert_not_contains "$OUT" "OK" "nothing says OK about a stopped server"
OUT=$(m db-check --json 2>/dev/null)
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="CRITICAL", d' \
	&& ok "db-check --json says CRITICAL for the stopped cluster" || fail "db-check --json stopped" "$OUT"
# A command that does work may start it, and says so on stderr.
ERR=$(m db-create 2>&1 >/dev/null); rc=$?
assert_eq "$rc" 0 "db-create starts the stopped cluster"
assert_contains "$ERR" "was stopped; started it" "and says so on stderr"
stopped && fail "the cluster runs after db-create" "stopped" || ok "the cluster runs after db-create"
m cluster stop immediate >/dev/null 2>&1

# --- a config named on purpose must exist -----------------------------------------------
expect_exit 78 "--config naming a missing file exits 78" "$MIDSOPS" --config "$TEST_TMP/none.conf" version
assert_contains "$OUT" "$TEST_TMP/none.conf" "the error names the file"
expect_exit 78 "MIDSOPS_CONFIG naming a missing file exits 78" env MIDSOPS_CONFIG="$TEST_TMP/none.conf" "$MIDSOPS" import-status
expect_exit 3 "inside a check, a missing config is UNKNOWN (3)" "$MIDSOPS" --config "$TEST_TMP/none.conf" db-check
expect_exit 3 "inside a check, a usage error is UNKNOWN (3)" "$MIDSOPS" db-check --bogus
expect_exit 64 "outside a check, a usage error stays 64" "$MIDSOPS" import-status --bogus

# --- an import killed with -9 is interrupted --------------------------------------------
"$MIDSOPS" db-create >/dev/null 2>&1
if [ -d "$REAL_EXPORT" ]; then src=$REAL_EXPORT; else src=$MINI_EXPORT; fi
"$MIDSOPS" import "$src" >"$TEST_TMP/import.log" 2>&1 &
ipid=$!
# Kill it once it is past the start (a row exists and its lock is held).
for _ in $(seq 1 100); do
	st=$(psql_q "select state from ops.import_runs_seen order by id desc limit 1" 2>/dev/null)
	[ "$st" = running ] && break
	sleep 0.05
done
kill -9 "$ipid" 2>/dev/null
wait "$ipid" 2>/dev/null
if [ "$st" = running ]; then
	for _ in $(seq 1 50); do
		[ "$(psql_q "select state from ops.import_runs_seen order by id desc limit 1")" = interrupted ] && break
		sleep 0.1
	done
	assert_eq "$(psql_q "select state from ops.import_runs order by id desc limit 1")" running \
		"the killed run's row still says running (it never wrote its end)"
	expect_exit 0 "import-status after kill -9" "$MIDSOPS" import-status
	assert_contains "$OUT" "interrupted" "import-status shows the run as interrupted"
	assert_contains "$OUT" "import-resume" "import-status names import-resume"
	expect_exit 1 "import-health is WARNING for an interrupted run" "$MIDSOPS" import-health
	assert_contains "$OUT" "interrupted" "import-health says interrupted"
	assert_contains "$OUT" "import-resume" "import-health names import-resume"
	OUT=$("$MIDSOPS" emergency-status --json 2>&1)
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)
assert d["running_imports"]==0, d; assert "interrupted_imports" in d, d' \
		&& ok "emergency-status does not count it as running, and lists it as interrupted" \
		|| fail "emergency-status interrupted" "$OUT"
	OUT=$("$MIDSOPS" status 2>&1)
	assert_contains "$OUT" "interrupted" "status shows the interrupted run"
	expect_exit 0 "import-resume finishes it" "$MIDSOPS" import-resume
	assert_eq "$(psql_q "select state from ops.import_runs_seen order by id desc limit 1")" completed "the resumed run completed"
else
	skip "import killed with -9" "the import finished before it could be killed"
fi
