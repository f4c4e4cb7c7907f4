# A server that speaks German: midsops decides by SQLSTATE, never by the English text of a
# message, so import-stop, emergency-stop and a cancelled import behave as they do in
# English. The database's lc_messages is set to de_DE.UTF-8 (make deps generates the
# locale); where the locale is missing the test says so and skips.
run_state() { psql_q "select state from ops.import_runs where id = $1"; }
wait_for() {
	i=0
	while [ $i -lt 300 ]; do
		[ "$(psql_q "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
V2_EXPORT=$TOP/tests/data/export-mini-v2

if ! locale -a 2>/dev/null | grep -qix 'de_DE.utf-\?8'; then
	skip "lc_messages = de_DE.UTF-8" "the de_DE.UTF-8 locale is not generated (make deps does it as root)"
	return 0 2>/dev/null || exit 0
fi
db=$(psql_q "select current_database()")
psql_q "alter database \"$db\" set lc_messages = 'de_DE.UTF-8'" >/dev/null
# The proof that the server speaks German to midsops's sessions: without it this test
# would pass on an English server and prove nothing.
msg=$(psql "$MIDSOPS_DSN" -XAtq -c "select 1/0" 2>&1)
case "$msg" in
*Division*Null*) ok "the server answers in German ($msg)" ;;
*) fail "the server answers in German" "got: $msg" ;;
esac

expect_exit 0 "import the mini export on a German server" "$MIDSOPS" import "$MINI_EXPORT"

# import-stop: the run is cancelled (57014) and recorded as stopped, not failed.
MIDSOPS_IMPORT_DELAY_MS=100 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$V2_EXPORT" \
	>"$TEST_TMP/slow.out" 2>&1 &
slow=$!
if wait_for "select exists (select 1 from ops.import_runs where state = 'running' and pid = $slow and files_done > 0)"; then
	run=$(psql_q "select id from ops.import_runs where pid = $slow")
	expect_exit 0 "import-stop on a German server" "$MIDSOPS" import-stop "$run"
	wait "$slow"
	assert_eq "$(run_state "$run")" stopped "import-stop leaves the run stopped (not failed)"
	assert_not_contains "$(cat "$TEST_TMP/slow.out")" "FEHLER" "the stopped import does not report the cancel as an error"
	expect_exit 0 "import-resume after the stop" "$MIDSOPS" import-resume "$run"
	assert_eq "$(run_state "$run")" completed "the resumed run completes"
else
	fail "import-stop setup" "the import did not start"
fi

# emergency-stop: cancels the running statements, then ends the process.
MIDSOPS_IMPORT_DELAY_MS=200 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$MINI_EXPORT" \
	>"$TEST_TMP/estop.out" 2>&1 &
victim=$!
if wait_for "select exists (select 1 from ops.import_runs where state = 'running' and pid = $victim)"; then
	expect_exit 0 "emergency-stop on a German server" "$MIDSOPS" emergency-stop --yes --grace 2
	wait "$victim" 2>/dev/null
	assert_eq "$(psql_q "select state from ops.import_runs where pid = $victim")" stopped \
		"emergency-stop leaves the run stopped"
	expect_exit 0 "import-resume after emergency-stop" "$MIDSOPS" import-resume
else
	fail "emergency-stop setup" "the import did not start"
fi

psql_q "alter database \"$db\" reset lc_messages" >/dev/null
