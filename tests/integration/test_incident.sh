# Incidents: incident start|note|list|close and the check incident-status, with the
# runbook's severities (S1..S4 and their response times) and its contact list's escalations
# through notify_command. Time passing is simulated by moving opened_at and respond_by back.
CONF_DIR=$XDG_CONFIG_HOME/midsops
CONF=$CONF_DIR/midsops.conf
mkdir -p "$CONF_DIR"
NOTIFY=$TEST_TMP/notify.sh
LOG=$TEST_TMP/notified
INC_DIR=$TEST_TMP/incidents
# The notify_command appends its arguments, the contact and severity midsops passes in the
# environment, and the subject (the first line of its standard input).
cat >"$NOTIFY" <<EOF
#!/bin/sh
subject=\$(head -n 1)
printf '%s|%s|%s|%s\n' "\$MIDSOPS_INCIDENT_CONTACT" "\$MIDSOPS_INCIDENT_SEVERITY" "\$*" "\$subject" >>"$LOG"
EOF
chmod 700 "$NOTIFY"
write_conf() {
	printf '[midsops]\nnotify_command = %s --from midsops\nincidents_dir = %s\n%s' \
		"$NOTIFY" "$INC_DIR" "$1" >"$CONF"
	chmod 600 "$CONF"
}
write_conf ""
# Move the open incident back in time by an interval.
backdate() {
	psql_q "update ops.incidents set opened_at = opened_at - interval '$1',
	        respond_by = respond_by - interval '$1' where closed_at is null" >/dev/null
}
fired() { [ -f "$LOG" ] && wc -l <"$LOG" | tr -d ' ' || echo 0; }

# --help, usage errors before any connection.
expect_exit 0 "incident --help exits 0" "$MIDSOPS" incident --help
assert_contains "$OUT" "incident start S1|S2|S3|S4 TITLE...|note TEXT...|list" "incident --help shows the usage"
expect_exit 0 "incident-status --help exits 0" "$MIDSOPS" incident-status --help
assert_contains "$OUT" "incident-status" "incident-status --help shows the usage"
expect_exit 64 "a bad severity is a usage error (64)" "$MIDSOPS" incident start S5 broken
assert_contains "$OUT" "severity 'S5' is none of S1 (complete outage)" "a bad severity names the four"
expect_exit 64 "start without a title is a usage error" "$MIDSOPS" incident start S2
expect_exit 64 "an unknown subcommand is a usage error" "$MIDSOPS" incident reopen
assert_contains "$OUT" "unknown subcommand 'reopen'" "the unknown subcommand is named"
expect_exit 64 "incident without a subcommand is a usage error" "$MIDSOPS" incident

# Nothing open.
expect_exit 0 "incident-status with no incident is OK" "$MIDSOPS" incident-status
assert_eq "$(printf '%s\n' "$OUT" | head -n 1)" "MIDSOPS INCIDENT-STATUS OK - no open incident" \
	"the plugin line says no open incident"
expect_exit 1 "incident note with none open exits 1" "$MIDSOPS" incident note hello
assert_contains "$OUT" "no incident is open" "note says none is open"
expect_exit 1 "incident close with none open exits 1" "$MIDSOPS" incident close
expect_exit 0 "incident list with none exits 0" "$MIDSOPS" incident list
assert_contains "$OUT" "no incidents recorded" "list says none recorded"

# A small runbook for the wizard runs an incident attaches.
mkdir -p "$CONF_DIR/runbooks"
cat >"$CONF_DIR/runbooks/t-inc.json" <<'EOF2'
{"title": "Incident steps", "sections": [{"title": "S", "steps": [
  {"id": "look", "kind": "check", "title": "Look at the imports", "command": ["import-status"]},
  {"id": "tick", "kind": "confirm", "title": "Cache restarted"},
  {"id": "fail", "kind": "command", "title": "A command that fails", "command": ["import-rollback", "--to", "999"], "on_fail": "continue"}]}]}
EOF2
# Started with no incident open: attached to none.
OUT=$(printf 'y\ny\n' | "$MIDSOPS" wizard t-inc --operator tester 2>&1)
assert_eq "$(psql_q "select count(*) from ops.wizard_runs where runbook = 't-inc' and incident_id is null")" 1 \
	"a wizard started with no incident open is attached to none"
case $OUT in *"attached to incident"*) fail "no attachment line without an incident" "$OUT" ;; *) ok "no attachment line without an incident" ;; esac

# S3: the on-call contact is notified at once, and only on-call.
expect_exit 0 "incident start S3 exits 0" "$MIDSOPS" incident start S3 cache hit rate low
assert_contains "$OUT" "incident #1 opened: S3 (minor issues), response 4 hours" "start says what opened"
assert_contains "$OUT" "escalated to on-call (after 0s)" "start escalates to on-call at once"
assert_eq "$(fired)" 1 "one notification: on-call"
assert_contains "$(cat "$LOG" 2>/dev/null)" "on-call|S3|--from midsops|midsops incident #1 S3 (minor issues): escalated to on-call: cache hit rate low" \
	"notify_command got its argv, the contact, the severity and the subject"
expect_exit 4 "a second start is refused with exit 4" "$MIDSOPS" incident start S1 database down
assert_contains "$OUT" "incident #1 (S3, 'cache hit rate low', opened" "the refusal names the open incident"
assert_eq "$(psql_q "select count(*) from ops.incidents")" 1 "the refused start recorded nothing"
expect_exit 0 "incident-status with an S3 in time is OK" "$MIDSOPS" incident-status
line=$(printf '%s\n' "$OUT" | head -n 1)
assert_contains "$line" "MIDSOPS INCIDENT-STATUS OK - incident #1 S3 open for" "the plugin line of an S3 in time"
assert_contains "$OUT" "'cache hit rate low', open " "the detail gives the title and age"
assert_contains "$OUT" "response 4 hours: no response yet, due in " "the age against the response time"
assert_contains "$line" "'incident_age'=" "the age is perfdata"

# 20 minutes later: the DBA team (15 minutes), once; not the development lead (30).
backdate "20 minutes"
expect_exit 0 "incident-status 20 minutes in exits 0" "$MIDSOPS" incident-status
assert_contains "$OUT" "escalated to dba (after 15m)" "the DBA team is notified after 15 minutes"
assert_eq "$(fired)" 2 "two notifications: on-call, dba"
expect_exit 0 "incident-status again" "$MIDSOPS" incident-status
expect_exit 0 "incident list evaluates too" "$MIDSOPS" incident list
assert_eq "$(fired)" 2 "each contact fires once"
assert_eq "$(psql_q "select string_agg(contact, ',' order by after_s) from ops.incident_escalations")" \
	"on-call,dba" "ops.incident_escalations records who fired"
assert_eq "$(psql_q "select count(*) from ops.events where source = 'incident' and message like '%escalated to dba%'")" \
	1 "the escalation is journalled in ops.events once"

# Five hours in, nobody responded: overdue (WARNING), dev-lead and management notified.
backdate "280 minutes"
expect_exit 1 "an overdue S3 is WARNING (exit 1)" "$MIDSOPS" incident-status
line=$(printf '%s\n' "$OUT" | head -n 1)
assert_contains "$line" "MIDSOPS INCIDENT-STATUS WARNING - incident: #1 S3 (minor issues) 'cache hit rate low', open 5h, response 4 hours: no response yet, overdue by 1h" \
	"the plugin line names the overdue incident"
assert_eq "$(cut -d'|' -f1 "$LOG" | tr '\n' ' ')" "on-call dba dev-lead management " \
	"the development lead and management follow, in order"
OUT=$("$MIDSOPS" --json incident list)
assert_eq "$(printf '%s' "$OUT" | json_get .incidents.0.state)" "open" "incident list --json: the state"
assert_eq "$(printf '%s' "$OUT" | json_get .incidents.0.severity)" "S3" "incident list --json: the severity"
assert_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["escalations"]))')" \
	4 "incident list --json: four escalations"

# The first note is the response; an answered incident is no longer overdue.
expect_exit 0 "incident note exits 0" "$MIDSOPS" incident note "restarted the cache | warmed it"
assert_contains "$OUT" "the response, after 5h (late)" "the first note is the (late) response"
expect_exit 0 "a second note" "$MIDSOPS" incident note hit rate back to 97%
assert_contains "$OUT" "note added to incident #1" "the second note is added"
expect_exit 0 "an answered S3 is OK again" "$MIDSOPS" incident-status
assert_contains "$OUT" "responded after 5h" "incident-status gives the response"

# A wizard started while it is open attaches to it: note and list show the run, and the
# report lists its steps with their outcomes.
OUT=$(printf 'y\ny\n' | "$MIDSOPS" wizard t-inc --operator tester 2>&1)
IRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-inc' order by id desc limit 1")
assert_contains "$OUT" "attached to incident #1" "the wizard says it is attached to the open incident"
assert_eq "$(psql_q "select incident_id from ops.wizard_runs where id = ${IRUN:-0}")" 1 "the run records the incident"
expect_exit 0 "incident list with an attached run" "$MIDSOPS" incident list
check "incident list shows the attached run" sh -c 'printf "%s\n" "$1" | grep -Eq "^ *$2 +t-inc +tester +done"' _ "$OUT" "$IRUN"
expect_exit 0 "a third note" "$MIDSOPS" incident note wizard done
check "incident note shows the attached run" sh -c 'printf "%s\n" "$1" | grep -Eq "^ *$2 +t-inc +tester +done"' _ "$OUT" "$IRUN"
OUT=$("$MIDSOPS" --json incident list)
assert_eq "$(printf '%s' "$OUT" | json_get .wizard_runs.0.runbook)" "t-inc" "incident list --json: the attached run"

# Close: the report, 0600, with what happened.
expect_exit 0 "incident close exits 0" "$MIDSOPS" incident close
assert_contains "$OUT" "incident #1 closed" "close says so"
report=$(printf '%s\n' "$OUT" | sed -n 's/^report *//p')
case "$report" in "$INC_DIR"/*_incident_1.md) ok "the report is in incidents_dir" ;;
*) fail "the report is in incidents_dir" "report '$report'" ;; esac
assert_eq "$(stat -c %a "$report" 2>/dev/null)" 600 "the report is mode 0600"
assert_eq "$(psql_q "select report_path from ops.incidents where id = 1")" "$report" "the report path is recorded"
R=$(cat "$report" 2>/dev/null)
assert_contains "$R" "# Incident 1: cache hit rate low" "report: the title"
assert_contains "$R" "- Severity: S3, minor issues (response 4 hours)" "report: the severity"
assert_contains "$R" "- Time to respond: 5h (first note at" "report: the time to respond"
assert_contains "$R" "- Time to resolve: 5h" "report: the time to resolve"
assert_contains "$R" ": restarted the cache | warmed it" "report: the notes"
assert_contains "$R" "| dev-lead | 1800 |" "report: the escalations"
assert_contains "$R" "## Wizard runs" "report: the wizard runs"
assert_contains "$R" "### Run $IRUN: t-inc (done)" "report: the steps of the attached run"
assert_contains "$R" "| 1 | look | Look at the imports | check | done | 0 |" "report: a step done, with its exit"
assert_contains "$R" "| 2 | tick | Cache restarted | confirm | done |" "report: a confirmed step"
check "report: a failed step with its exit status" sh -c 'printf "%s\n" "$1" | grep -Eq "^\| 3 \| fail \| A command that fails \| command \| failed \| 1 \|"' _ "$R"
case $R in *"### Run $((IRUN - 1)):"*) fail "report: only attached runs" "$R" ;; *) ok "report: only the attached runs" ;; esac
assert_contains "$R" "incident #1 opened: S3 (minor issues)" "report: the events in the window"
expect_exit 0 "incident-status after the close is OK" "$MIDSOPS" incident-status
assert_contains "$(printf '%s\n' "$OUT" | head -n 1)" "OK - no open incident" "no open incident after the close"
expect_exit 0 "incident list after the close" "$MIDSOPS" incident list
assert_contains "$OUT" "closed" "list shows the incident closed"

# S1 is CRITICAL, S2 WARNING, whatever the time.
expect_exit 0 "incident start S1" "$MIDSOPS" incident start s1 database down
expect_exit 2 "an open S1 is CRITICAL (exit 2)" "$MIDSOPS" incident-status
assert_contains "$(printf '%s\n' "$OUT" | head -n 1)" \
	"MIDSOPS INCIDENT-STATUS CRITICAL - incident: #2 S1 (complete outage) 'database down', open" "the plugin line of an S1"
OUT=$("$MIDSOPS" --json incident-status)
assert_eq "$(printf '%s' "$OUT" | json_get .status)" "CRITICAL" "incident-status --json: the status"
expect_exit 0 "close the S1" "$MIDSOPS" incident close
expect_exit 0 "incident start S2" "$MIDSOPS" incident start S2 imports slow
expect_exit 1 "an open S2 is WARNING (exit 1)" "$MIDSOPS" incident-status
expect_exit 0 "close the S2" "$MIDSOPS" incident close

# [incident] escalate: tiny times fire at once; none notifies nobody; bad values exit 78.
write_conf '[incident]
escalate = dba:0m, boss:2h
'
before=$(fired)
expect_exit 0 "start S4 with escalate = dba:0m" "$MIDSOPS" incident start S4 docs typo
assert_eq "$(($(fired) - before))" 1 "only the configured contact due at once fired"
assert_contains "$(tail -n 1 "$LOG")" "dba|S4|" "the configured contact fired"
expect_exit 0 "close the S4" "$MIDSOPS" incident close
write_conf '[incident]
escalate = none
'
before=$(fired)
expect_exit 0 "start with escalate = none" "$MIDSOPS" incident start S3 quiet one
expect_exit 0 "incident-status with escalate = none" "$MIDSOPS" incident-status
assert_eq "$(fired)" "$before" "escalate = none notifies nobody"
expect_exit 0 "close it" "$MIDSOPS" incident close
for bad in "dba:15x" "dba" "dba:15m, dba:1h" "on call:0m" "dba:31d" "dba:m"; do
	write_conf "[incident]
escalate = $bad
"
	expect_exit 78 "escalate = '$bad' is a configuration error (78)" "$MIDSOPS" incident list
	assert_contains "$OUT" "midsops.conf:5: escalate" "escalate = '$bad': the file, line and key"
done
write_conf '[incident]
escalate = dba:15x
'
expect_exit 3 "a bad escalate inside the check is UNKNOWN (3)" "$MIDSOPS" incident-status
write_conf ""

# A notify_command that fails: the firing is recorded with its failure and not retried.
printf '#!/bin/sh\necho pager down >&2\nexit 1\n' >"$NOTIFY"
expect_exit 0 "start with a failing notify_command" "$MIDSOPS" incident start S3 pager test
assert_contains "$OUT" "on-call (after 0s) not delivered: notify_command" "start says the notification failed"
assert_eq "$(psql_q "select delivered from ops.incident_escalations e join ops.incidents i on i.id = e.incident_id where i.closed_at is null")" \
	"f" "the failed delivery is recorded"
expect_exit 0 "the failed contact is not notified again" "$MIDSOPS" incident-status
assert_eq "$(psql_q "select count(*) from ops.events where source = 'incident' and level = 'error' and message like '%on-call%not delivered: notify_command%pager down%'")" \
	1 "the failed delivery is journalled once, with the command's message"
# A contact due later, whose notification fails when incident-status fires it: WARNING.
write_conf '[incident]
escalate = dba:1m
'
backdate "2 minutes"
expect_exit 1 "an escalation incident-status could not deliver is WARNING" "$MIDSOPS" incident-status
assert_contains "$(printf '%s\n' "$OUT" | head -n 1)" "escalation: dba (after 1m) not delivered: notify_command" \
	"the plugin line names the undelivered escalation"
expect_exit 0 "close the last" "$MIDSOPS" incident close

# config show gives the escalations in force.
write_conf ""
expect_exit 0 "config show" "$MIDSOPS" config show
assert_contains "$OUT" "on-call after 0s, dba after 15m, dev-lead after 30m, management after 1h" \
	"config show: the runbook's contact list by default"

# Usage errors come before the connection; a database that is down is CRITICAL for the check.
DEAD_DSN="host=127.0.0.1 port=1 connect_timeout=3"
expect_exit 64 "a bad severity is refused without the database" env MIDSOPS_DSN="$DEAD_DSN" "$MIDSOPS" incident start S0 x
expect_exit 64 "incident list --limit 0 is a usage error" env MIDSOPS_DSN="$DEAD_DSN" "$MIDSOPS" incident list --limit 0
expect_exit 2 "incident-status with the database down is CRITICAL" env MIDSOPS_DSN="$DEAD_DSN" "$MIDSOPS" incident-status
assert_contains "$(printf '%s\n' "$OUT" | head -n 1)" "MIDSOPS INCIDENT-STATUS CRITICAL - " "the plugin line of a database that is down"
expect_exit 1 "incident start with the database down exits 1" env MIDSOPS_DSN="$DEAD_DSN" "$MIDSOPS" incident start S1 x

# Two operators start an incident at the same moment: one opens it, the other is refused.
for i in 1 2 3 4; do
	("$MIDSOPS" incident start S2 "race $i" >"$TEST_TMP/race.$i" 2>&1; echo $? >"$TEST_TMP/race.$i.rc") &
done
wait
rcs=$(cat "$TEST_TMP"/race.*.rc | sort | tr '\n' ' ')
assert_eq "$rcs" "0 4 4 4 " "four simultaneous starts: one opens, three exit 4"
assert_eq "$(psql_q "select count(*) from ops.incidents where closed_at is null")" 1 "one incident is open"
assert_eq "$(psql_q "select count(*) from ops.incident_escalations e join ops.incidents i on i.id = e.incident_id where i.closed_at is null")" \
	1 "its on-call contact fired once"
expect_exit 0 "close the raced one" "$MIDSOPS" incident close
