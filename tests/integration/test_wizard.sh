# Runbook wizards: validation, line mode with scripted answers, persistence, resume after
# kill -9, the lock between two operators, offline runs synced later, notifications,
# reports, and every shipped runbook driven to its end.

# A binary built elsewhere (build-NAME/) finds the shipped runbooks through MIDSOPS_SHARE.
MIDSOPS_SHARE=${MIDSOPS_SHARE:-$TOP}
export MIDSOPS_SHARE
export MIDSOPS_WAIT_SCALE=0.001
RB=$XDG_CONFIG_HOME/midsops/runbooks
mkdir -p "$RB"

# Commands a runbook names that this binary does not have (yet).
missing_cmds() {
	"$MIDSOPS" help --json | python3 -c '
import json, sys
have = {c["command"] for c in json.load(sys.stdin)["commands"]}
rb = json.load(open(sys.argv[1]))
need = []
for s in rb["sections"]:
    for st in s["steps"]:
        c = st.get("command")
        if c:
            n = c[0] if isinstance(c, list) else c.split()[0]
            if n not in have and n not in need:
                need.append(n)
print(" ".join(need))' "$1"
}

# --- validation -----------------------------------------------------------------------
cat >"$RB/bad-cmd.json" <<'EOF'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "one", "kind": "info", "title": "fine"},
  {"id": "two", "kind": "check", "title": "typo", "command": ["db-chekc"]}]}]}
EOF
expect_exit 78 "a runbook naming an unknown command is refused" "$MIDSOPS" wizard bad-cmd
assert_contains "$OUT" "$RB/bad-cmd.json: step 2 'two': unknown command 'db-chekc'" "the error names the file, the step and the command"
cat >"$RB/bad-kind.json" <<'EOF'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "x", "kind": "shell", "title": "rm -rf /", "command": "rm -rf /"}]}]}
EOF
expect_exit 78 "an unknown step kind is refused" "$MIDSOPS" wizard bad-kind
assert_contains "$OUT" "bad-kind.json: step 1 'x': \"kind\" 'shell' is not one of" "kind error names file and step"
cat >"$RB/bad-jump.json" <<'EOF'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "a", "kind": "branch", "title": "?", "if": "ask", "then": "nowhere"}]}]}
EOF
expect_exit 78 "a jump to a missing step is refused" "$MIDSOPS" wizard bad-jump
assert_contains "$OUT" "step 1 'a': \"then\" names no step ('nowhere')" "jump error names the step"
printf '{"title": "x", "sections": [' >"$RB/bad-json.json"
expect_exit 78 "malformed JSON is refused" "$MIDSOPS" wizard bad-json
assert_contains "$OUT" "bad-json.json:1: not valid JSON" "JSON error names the file and line"
cat >"$RB/bad-opt.json" <<'EOF'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "a", "kind": "check", "title": "t", "command": ["db-check", "--lst", "1h"]}]}]}
EOF
expect_exit 78 "a wrong option of a command is refused at load" "$MIDSOPS" wizard bad-opt
assert_contains "$OUT" "step 1 'a': db-check:" "option error names the step"
expect_exit 1 "wizard validate reports the bad runbooks" "$MIDSOPS" wizard validate
assert_contains "$OUT" "bad-cmd.json: step 2 'two'" "validate lists each bad runbook"
rm -f "$RB"/bad-*.json

# --- a runbook with every kind, driven by scripted answers ------------------------------
cat >"$RB/t-basic.json" <<'EOF'
{"title": "Every kind", "description": "test", "params": [{"name": "who", "prompt": "Who"}],
 "sections": [
  {"title": "One", "budget": "10m", "steps": [
    {"id": "hello", "kind": "info", "title": "Hello ${who}", "help": "read me"},
    {"id": "tick", "kind": "confirm", "title": "Tick this"},
    {"id": "dbc", "kind": "check", "title": "Database", "command": ["db-check"]},
    {"id": "migrate", "kind": "command", "title": "Migrate", "command": "db-migrate"}]},
  {"title": "Two", "steps": [
    {"id": "ask", "kind": "branch", "title": "Skip the approval?", "if": "ask", "then": "say", "else": "approve"},
    {"id": "approve", "kind": "approval", "title": "Approve", "on_fail": "tick"},
    {"id": "say", "kind": "notify", "title": "Tell", "subject": "Hello from ${operator}", "body": "run ${run} of ${runbook}"},
    {"id": "pause", "kind": "wait", "title": "Wait a bit", "duration": "2s", "interval": "1s", "command": ["version"]},
    {"id": "skipme", "kind": "confirm", "title": "To be skipped"},
    {"id": "report", "kind": "report", "title": "Report", "dir": "incidents", "name": "t_basic"}]}]}
EOF
# who; hello; tick; migrate go; branch no; approver + wrong phrase -> back to tick;
# tick; migrate; branch no; approver + right phrase; notify; wait ends; skip + reason
OUT=$(printf 'Alice\n\ny\ny\nn\nBob\nnope\ny\ny\nn\nCarol\napprove\ny\n\ns\nnot needed today\n' |
	"$MIDSOPS" wizard t-basic --operator alice 2>&1); rc=$?
assert_eq "$rc" 0 "t-basic runs to its end (exit 0)"
assert_contains "$OUT" "[1/10] Hello Alice (info)" "parameters are expanded in titles"
assert_contains "$OUT" "rejected by Bob" "a wrong phrase rejects the approval"
assert_contains "$OUT" "approved by Carol" "the right phrase approves"
assert_contains "$OUT" "waited" "the wait step reports how long it waited"
assert_contains "$OUT" "\$ midsops db-migrate" "a command step shows the command it runs"
RUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-basic' order by id desc limit 1")
assert_eq "$(psql_q "select status || ' ' || operator from ops.wizard_runs where id = $RUN")" "done alice" "the run is recorded as done, by alice"
assert_eq "$(psql_q "select outcome || ':' || coalesce(reason, '') from ops.wizard_steps where run_id = $RUN and step_id = 'skipme'")" "skipped:not needed today" "a skipped step keeps its reason"
assert_eq "$(psql_q "select count(*) from ops.wizard_steps where run_id = $RUN and step_id = 'approve' and outcome = 'failed'")" 1 "the rejected approval is in the audit trail"
assert_contains "$(psql_q "select output_excerpt from ops.wizard_steps where run_id = $RUN and step_id = 'dbc'")" "database healthy" "the output excerpt is recorded"
assert_eq "$(psql_q "select count(*) from ops.wizard_steps where run_id = $RUN and ended_at is null")" 0 "every step has an end time"
assert_contains "$(cat "$XDG_STATE_HOME/midsops/announcements.log")" "Subject: Hello from alice" "notify appends to the announcements log by default"
REPORT="$XDG_STATE_HOME/midsops/incidents/$(date +%Y%m%d)_t_basic.md"
[ -f "$REPORT" ] && ok "the report step writes YYYYMMDD_NAME.md in incidents_dir" || fail "report file" "$REPORT missing"
assert_contains "$(cat "$REPORT" 2>/dev/null)" "approved by Carol" "the incident report has who did what"
assert_eq "$(stat -c %a "$REPORT" 2>/dev/null)" 600 "the report is mode 0600"
expect_exit 0 "wizard show RUN" "$MIDSOPS" wizard show "$RUN"
assert_contains "$OUT" "| Tick this | done |" "the transcript is a Markdown timeline"
assert_contains "$OUT" "not needed today" "the transcript has skip reasons"
expect_exit 0 "wizard list" "$MIDSOPS" wizard list
assert_contains "$OUT" "t-basic" "wizard list shows runbooks and runs"
expect_exit 1 "resuming a finished run is refused" "$MIDSOPS" wizard resume "$RUN"
expect_exit 64 "--non-interactive refuses a runbook that needs a human" "$MIDSOPS" wizard t-basic who=x --non-interactive
assert_contains "$OUT" "needs a human decision at step 'tick' (confirm)" "the refusal names the step"
expect_exit 64 "an unknown parameter is refused" "$MIDSOPS" wizard t-basic nobody=x

# notify_command receives subject and body on stdin, through an argv (no shell)
cat >"$TEST_TMP/notify.sh" <<EOF
#!/bin/sh
cat >"$TEST_TMP/notified.txt"
echo "\$1" >>"$TEST_TMP/notified.txt"
EOF
chmod +x "$TEST_TMP/notify.sh"
printf '[midsops]\nnotify_command = %s "arg with space"\n' "$TEST_TMP/notify.sh" >"$TEST_TMP/notify.conf"
cat >"$RB/t-notify.json" <<'EOF'
{"title": "Notify", "sections": [{"title": "S", "steps": [
  {"id": "n", "kind": "notify", "title": "Tell", "subject": "Subject ${date}", "body": "Body line"}]}]}
EOF
expect_exit 0 "a notify-only runbook runs with --non-interactive" "$MIDSOPS" --config "$TEST_TMP/notify.conf" wizard t-notify --non-interactive
assert_eq "$(cat "$TEST_TMP/notified.txt" 2>/dev/null)" "Subject $(date +%Y%m%d)
Body line
arg with space" "notify_command gets the subject, the body and its quoted arguments"

# --- kill -9 in the middle, the lock, resume --------------------------------------------
cat >"$RB/t-kill.json" <<'EOF'
{"title": "Kill me", "sections": [{"title": "S", "steps": [
  {"id": "first", "kind": "check", "title": "First", "command": ["db-check"]},
  {"id": "hold", "kind": "confirm", "title": "Hold here"},
  {"id": "last", "kind": "check", "title": "Last", "command": ["version"]}]}]}
EOF
mkfifo "$TEST_TMP/fifo"
"$MIDSOPS" wizard t-kill --operator alice <"$TEST_TMP/fifo" >"$TEST_TMP/kill.log" 2>&1 &
KPID=$!
exec 3>"$TEST_TMP/fifo"
KRUN=""
for i in $(seq 1 50); do
	KRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-kill' and current_step = 'hold'" 2>/dev/null)
	[ -n "$KRUN" ] && break
	sleep 0.2
done
if [ -z "$KRUN" ]; then
	fail "t-kill reaches the confirm step" "$(cat "$TEST_TMP/kill.log")"
else
	ok "t-kill reaches the confirm step"
	expect_exit 0 "a second operator sees the run in progress" "$MIDSOPS" wizard list
	assert_contains "$OUT" "driven now" "wizard list marks the run as driven now"
	expect_exit 1 "a second operator cannot drive the same run" env MIDSOPS_OPERATOR=bob "$MIDSOPS" wizard resume "$KRUN"
	assert_contains "$OUT" "is being driven right now by alice" "the lock message names who drives it"
	kill -9 "$KPID"
	wait "$KPID" 2>/dev/null
	exec 3>&-
	OUT=$(printf 'y\n' | MIDSOPS_OPERATOR=bob "$MIDSOPS" wizard resume "$KRUN" 2>&1); rc=$?
	assert_eq "$rc" 0 "resume after kill -9 completes the run"
	assert_contains "$OUT" "at step 'hold'" "resume continues at the same step"
	assert_eq "$(psql_q "select string_agg(step_id || ':' || outcome || ':' || actor, ',' order by seq) from ops.wizard_steps where run_id = $KRUN")" \
		"first:done:alice,hold:interrupted:alice,hold:done:bob,last:done:bob" "the audit trail shows the interruption and who continued"
fi
exec 3>&- 2>/dev/null

# pause with q, resume later
OUT=$(printf 'q\n' | "$MIDSOPS" wizard t-kill 2>&1); rc=$?
assert_eq "$rc" 75 "q pauses the run (exit 75)"
PRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-kill' and status = 'paused' order by id desc limit 1")
expect_exit 0 "a paused run resumes" sh -c "printf 'y\n' | '$MIDSOPS' wizard resume $PRUN"

# --- the database is the thing that is broken: offline, then synced ---------------------
E=$TEST_TMP/offline
mkdir -p "$E" && chmod 0711 "$E"
EMB="XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 7))"
if env -u MIDSOPS_DSN $EMB "$MIDSOPS" db-create >/dev/null 2>&1; then
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster stop >/dev/null 2>&1
	cat >"$RB/t-offline.json" <<'EOF'
{"title": "Offline", "sections": [{"title": "S", "steps": [
  {"id": "assess", "kind": "confirm", "title": "The database is gone"},
  {"id": "tell", "kind": "notify", "title": "Announce", "subject": "restore started"},
  {"id": "create", "kind": "command", "title": "Create", "command": ["db-create"]},
  {"id": "check", "kind": "check", "title": "Check", "command": ["db-check"]}]}]}
EOF
	OUT=$(printf 'y\ny\ny\n' | env -u MIDSOPS_DSN $EMB "$MIDSOPS" wizard t-offline 2>&1); rc=$?
	assert_eq "$rc" 0 "a run with the database down completes (exit 0)"
	assert_contains "$OUT" "database unreachable" "the run says it records locally"
	assert_contains "$OUT" "database and local state" "the run is synced once db-create brought the database back"
	CI=$(env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conninfo"])')
	assert_eq "$(psql "$CI" -XAtqc "select status || ' ' || offline from ops.wizard_runs where runbook = 't-offline'")" "done true" "the offline run is in ops.wizard_runs, marked offline"
	assert_eq "$(psql "$CI" -XAtqc "select count(*) from ops.wizard_steps s join ops.wizard_runs r on r.id = s.run_id where r.runbook = 't-offline'")" 4 "its steps were synced"
	F=$(ls "$E/state/midsops/wizards/"L*.json | head -n 1)
	assert_eq "$(stat -c %a "$F")" 600 "the local state file is mode 0600"
	# entirely offline, then 'wizard sync'
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster stop >/dev/null 2>&1
	cat >"$RB/t-offline2.json" <<'EOF'
{"title": "Offline 2", "sections": [{"title": "S", "steps": [
  {"id": "tell", "kind": "notify", "title": "Announce", "subject": "down"}]}]}
EOF
	expect_exit 0 "a run entirely offline completes" env -u MIDSOPS_DSN $EMB "$MIDSOPS" wizard t-offline2 --non-interactive
	assert_contains "$OUT" "local state only" "it says it is recorded locally only"
	expect_exit 0 "wizard list works offline" env -u MIDSOPS_DSN $EMB "$MIDSOPS" wizard list
	assert_contains "$OUT" "local only" "the offline run is listed as local only"
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster start >/dev/null 2>&1
	expect_exit 0 "wizard sync" env -u MIDSOPS_DSN $EMB "$MIDSOPS" wizard sync
	assert_eq "$(psql "$CI" -XAtqc "select status from ops.wizard_runs where runbook = 't-offline2'")" "done" "the offline run was synced"
	env -u MIDSOPS_DSN $EMB "$MIDSOPS" cluster stop immediate >/dev/null 2>&1
else
	fail "own embedded cluster for the offline test" "db-create failed"
fi
rm -f "$RB"/t-*.json

# --- choice steps: pick a row of a command's JSON list; parameters checked at start ------
cat >"$RB/bad-choice.json" <<'EOF2'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "pick", "kind": "choice", "title": "Pick", "command": ["import-runs"], "items": "runs", "value": "run"}]}]}
EOF2
expect_exit 78 "a choice without \"param\" is refused at load" "$MIDSOPS" wizard bad-choice
assert_contains "$OUT" "step 1 'pick': a choice needs \"items\"" "the error names the step and the keys a choice needs"
cat >"$RB/bad-choice.json" <<'EOF2'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "pick", "kind": "choice", "title": "Pick", "command": ["import-runz"], "items": "runs", "value": "run", "param": "x"}]}]}
EOF2
expect_exit 78 "a choice naming an unknown command is refused at load" "$MIDSOPS" wizard bad-choice
assert_contains "$OUT" "unknown command 'import-runz'; did you mean 'import-runs'?" "the choice's command is checked against the command table"
cat >"$RB/bad-choice.json" <<'EOF2'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "pick", "kind": "choice", "title": "Pick", "command": ["import-runs"], "items": "runs", "value": "run", "param": "x", "lable": "run"}]}]}
EOF2
expect_exit 78 "an unknown key of a choice is refused" "$MIDSOPS" wizard bad-choice
assert_contains "$OUT" "unknown key \"lable\"" "the typo is named"
cat >"$RB/bad-choice.json" <<'EOF2'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "c", "kind": "check", "title": "Check", "command": ["db-check"], "param": "x"}]}]}
EOF2
expect_exit 78 "choice keys on another kind are refused" "$MIDSOPS" wizard bad-choice
assert_contains "$OUT" "\"param\" belongs to a choice step" "the error says which kind the key belongs to"
rm -f "$RB"/bad-*.json

# A required parameter is never taken empty; one that names an environment must name one.
cat >"$RB/t-param.json" <<'EOF2'
{"title": "Params", "params": [{"name": "who", "prompt": "Who"},
  {"name": "where", "prompt": "Environment", "check": "env", "default": ""},
  {"name": "dir", "prompt": "Export directory", "check": "dir", "default": ""}],
 "sections": [{"title": "S", "steps": [{"id": "hi", "kind": "info", "title": "Hello ${who} ${where}"}]}]}
EOF2
OUT=$(printf '\n\n\n' | "$MIDSOPS" wizard t-param 2>&1); rc=$?
assert_eq "$rc" 64 "a required parameter answered empty three times: not started (exit 64)"
assert_contains "$OUT" "who (Who) is required; an empty value is not accepted" "the empty answer is refused with a message"
expect_exit 64 "an empty required parameter on the command line is refused" "$MIDSOPS" wizard t-param who=
expect_exit 64 "an environment parameter naming no environment is refused at start" "$MIDSOPS" wizard t-param who=x where=nowhere
assert_contains "$OUT" "there is no environment 'nowhere' in the config" "the refusal says what is not real"
expect_exit 64 "a directory parameter naming no directory is refused at start" "$MIDSOPS" wizard t-param who=x dir=/nonexistent/export
OUT=$(printf '\nAlice\n\n\n\n' | "$MIDSOPS" wizard t-param 2>&1); rc=$?
assert_eq "$rc" 0 "after an empty answer the parameter is asked again"
assert_contains "$OUT" "Hello Alice" "the second answer is taken"

# No rows: the step fails clearly and offers retry, skip, abort.
cat >"$RB/t-choice.json" <<'EOF2'
{"title": "Choose", "sections": [{"title": "S", "steps": [
  {"id": "pick", "kind": "choice", "title": "Pick a run", "command": ["import-runs"], "items": "runs",
   "value": "run", "param": "run_id", "set": {"gen": "generation", "before": "before"}, "label": ["run", "started"]},
  {"id": "said", "kind": "info", "title": "Picked run ${run_id}: generation ${gen}, before it ${before}"}]}]}
EOF2
OUT=$(printf 'a\nyes\nnothing to choose\n' | "$MIDSOPS" wizard t-choice 2>&1); rc=$?
assert_contains "$OUT" "the list is empty: 'midsops import-runs' has no runs to choose from" "an empty list fails the choice step with a clear message"
assert_contains "$OUT" "Step failed: [r]etry" "the failed choice offers retry, continue, skip, abort"
assert_eq "$rc" 2 "the aborted run exits 2"
CRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-choice' order by id desc limit 1")
assert_eq "$(psql_q "select outcome || ':' || coalesce(reason, '') from ops.wizard_steps where run_id = ${CRUN:-0} and step_id = 'pick' order by seq limit 1")" \
	"failed:the list is empty: 'midsops import-runs' has no runs to choose from" "the failure and its reason are recorded"

# --- driving a run: back, leaving, waits with a condition, approvals, the worst step ------
cat >"$RB/t-drive.json" <<'EOF2'
{"title": "Drive ${who}", "params": [{"name": "who", "prompt": "Who", "default": "Zed"}],
 "sections": [{"title": "S", "steps": [
  {"id": "one", "kind": "info", "title": "Hello ${who}"},
  {"id": "chk", "kind": "check", "title": "Version of ${who}", "command": ["version"]},
  {"id": "two", "kind": "confirm", "title": "Two"},
  {"id": "three", "kind": "confirm", "title": "Three"}]}]}
EOF2
# one; (chk runs); two y; three: b -> two: b -> chk (not run again): b -> one: c keeps it;
# then chk runs going forward, two y, three y.
OUT=$(printf '\ny\nb\nb\nb\nc\ny\ny\n' | "$MIDSOPS" wizard t-drive who=Zed 2>&1); rc=$?
assert_eq "$rc" 0 "back through a check and on again: the run ends (exit 0)"
assert_contains "$OUT" "-> back to 'chk'
[2/4] Version of Zed (check)
  last result: done (exit 0)
  [r]un it again / [c]ontinue with that result" "back to a check shows its last result and waits: it is not run again"
assert_contains "$OUT" "-> back to 'one'" "back goes on past the check to the first step"
assert_contains "$OUT" "-> kept: done: read" "c continues with the step's last result"
DRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-drive' order by id desc limit 1")
assert_eq "$(psql_q "select count(*) from ops.wizard_steps where run_id = ${DRUN:-0} and step_id = 'chk' and exit_status = 0")" 2 "the check ran twice: once, and once going forward again (not on the way back)"
OUT=$(printf 'b\nr\n\ny\nq\nq\ny\n' | "$MIDSOPS" wizard t-drive who=Zed 2>&1); rc=$?
assert_contains "$OUT" "(already at the first step)" "b at the first step says so"
OUT=$(printf 'q\nn\nq\ny\n' | "$MIDSOPS" wizard t-drive who=Zed 2>&1); rc=$?
assert_eq "$rc" 75 "leaving with q and y pauses the run (exit 75)"
assert_contains "$OUT" "Leave run " "q asks before leaving"
assert_contains "$OUT" "It stays paused and can be resumed with 'midsops wizard resume " "the question says how to resume"
assert_contains "$OUT" "(staying in the run)" "n stays in the run"
expect_exit 0 "wizard show expands every parameter" "$MIDSOPS" wizard show "$DRUN"
assert_contains "$OUT" "# Drive Zed: run $DRUN" "the transcript's heading is expanded"
assert_contains "$OUT" "| Version of Zed | done (exit 0)" "the transcript's step titles are expanded"
assert_contains "$OUT" '### Version of Zed: `midsops version`' "the output headings are expanded"
case $OUT in *'${'*) fail "no \${...} is left in the transcript" "$(printf '%s' "$OUT" | grep -F '${' | head -3)" ;; *) ok "no \${...} is left in the transcript" ;; esac

# A wait with "until" ends as soon as its command exits 0; else it fails at its timeout.
cat >"$RB/t-until.json" <<'EOF2'
{"title": "Until", "sections": [{"title": "S", "steps": [
  {"id": "done-already", "kind": "wait", "title": "Wait for nothing", "duration": "10m", "interval": "15s", "until": ["version"]},
  {"id": "never", "kind": "wait", "title": "Wait for a run that is not there", "duration": "2s", "interval": "1s",
   "until": ["import-status", "999999"], "on_fail": "continue"}]}]}
EOF2
expect_exit 0 "import-status --finished: no import is running (exit 0)" "$MIDSOPS" import-status --finished
T0=$(date +%s)
OUT=$(env -u MIDSOPS_WAIT_SCALE timeout 60 "$MIDSOPS" wizard t-until --non-interactive 2>&1); rc=$?
T1=$(date +%s)
# At once: the first check, not a later one (a loaded machine may take a second to run it).
check "a wait whose condition already holds ends at once" \
	sh -c 'printf "%s\n" "$1" | grep -Eq "condition met after [0-2]s \(timeout 600s\)"' _ "$OUT"
[ $((T1 - T0)) -lt 30 ] && ok "the 10-minute wait took $((T1 - T0))s" || fail "the wait ends at once" "$((T1 - T0))s"
assert_contains "$OUT" "s of 2s: timed out" "a condition that never holds times out"
UTRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-until' order by id desc limit 1")
assert_eq "$(psql_q "select outcome || ':' || coalesce(reason, '') from ops.wizard_steps where run_id = ${UTRUN:-0} and step_id = 'never'")" \
	"failed:timed out: the condition never held" "the timeout fails the step, with the reason"
cat >"$RB/bad-until.json" <<'EOF2'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "c", "kind": "confirm", "title": "t", "until": ["version"]}]}]}
EOF2
expect_exit 78 "until on a step that is no wait is refused" "$MIDSOPS" wizard bad-until
assert_contains "$OUT" "step 1 'c': \"until\" belongs to a wait step" "the error names the step"
cat >"$RB/bad-until.json" <<'EOF2'
{"title": "Bad", "sections": [{"title": "S", "steps": [
  {"id": "w", "kind": "wait", "title": "t", "duration": "1m", "until": ["import-statsu"]}]}]}
EOF2
expect_exit 78 "an until naming an unknown command is refused" "$MIDSOPS" wizard bad-until
assert_contains "$OUT" "\"until\": unknown command 'import-statsu'" "the until's command is checked like a step's"
rm -f "$RB/bad-until.json"

# The approval lists what was skipped and failed; the end names the worst step.
cat >"$RB/t-appr.json" <<'EOF2'
{"title": "Approve", "sections": [{"title": "S", "steps": [
  {"id": "skipme", "kind": "confirm", "title": "Skip me"},
  {"id": "bad", "kind": "check", "title": "Bad check", "command": ["import-status", "999999"]},
  {"id": "ok", "kind": "approval", "title": "Approve it"}]}]}
EOF2
OUT=$(printf 's\nno staging today\nAnn\napprove\n' | "$MIDSOPS" wizard t-appr 2>&1); rc=$?
assert_contains "$OUT" "Before approving: these steps were skipped or failed:
    step 1 'Skip me': skipped: no staging today
    step 2 'Bad check': FAILED (exit 1)" "the approval lists every skipped and failed step, with the reason"
assert_contains "$OUT" "step 2 'Bad check' CRITICAL" "the end names the worst step and its status in words"
expect_exit 0 "wizard show of the approval run" "$MIDSOPS" wizard show "$(psql_q "select id from ops.wizard_runs where runbook = 't-appr' order by id desc limit 1")"
assert_contains "$OUT" "- Worst: step 2 'Bad check' CRITICAL" "the transcript names the worst step"

# A maintenance runbook outside the window asks, and No is the default.
cat >"$RB/t-maint.json" <<'EOF2'
{"title": "Maint", "maintenance_window": true, "sections": [{"title": "S", "steps": [
  {"id": "v", "kind": "check", "title": "Version", "command": ["version"]}]}]}
EOF2
printf '[maintenance]\nwindow = daily 00:00-00:00\n' >"$TEST_TMP/never.conf"
OUT=$(printf '\n' | "$MIDSOPS" --config "$TEST_TMP/never.conf" wizard t-maint 2>&1); rc=$?
assert_eq "$rc" 64 "Enter at the window question does not start it (exit 64)"
assert_contains "$OUT" "Start it outside the maintenance window? [y/N]:" "outside the window, the start asks"
assert_contains "$OUT" "t-maint not started (outside the maintenance window)" "and says it did not start"
assert_eq "$(psql_q "select count(*) from ops.wizard_runs where runbook = 't-maint'")" 0 "no run was recorded"
OUT=$(printf 'y\n' | "$MIDSOPS" --config "$TEST_TMP/never.conf" wizard t-maint 2>&1); rc=$?
assert_eq "$rc" 0 "y starts it outside the window"
expect_exit 64 "--non-interactive outside the window is refused" "$MIDSOPS" --config "$TEST_TMP/never.conf" wizard t-maint --non-interactive
assert_contains "$OUT" "pass --yes to start it anyway" "the refusal names --yes"
expect_exit 0 "--yes starts it outside the window" "$MIDSOPS" --config "$TEST_TMP/never.conf" wizard t-maint --non-interactive --yes

# A step that fails because of a parameter: edit it, and the step runs again with it.
printf '[env real]\ndsn = %s\n' "$MIDSOPS_DSN" >"$TEST_TMP/edit.conf"
cat >"$RB/t-edit.json" <<'EOF2'
{"title": "Edit", "params": [{"name": "envname", "prompt": "Environment", "default": "real"}],
 "sections": [{"title": "S", "steps": [
  {"id": "st", "kind": "command", "title": "Status in ${envname}", "command": ["import-status", "--env", "${envname}"]}]}]}
EOF2
OUT=$(printf 'y\ne\nreal\ny\n' | "$MIDSOPS" --config "$TEST_TMP/edit.conf" wizard t-edit envname=nowhere 2>&1); rc=$?
ERUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-edit' order by id desc limit 1")
assert_eq "$(psql_q "select status from ops.wizard_runs where id = ${ERUN:-0}")" "done" "after editing the parameter the step succeeds and the run ends"
assert_eq "$(psql_q "select string_agg(outcome, ',' order by seq) from ops.wizard_steps where run_id = ${ERUN:-0}")" "failed,done" "the audit trail has the failure, then the success"
assert_contains "$OUT" "Step failed: [r]etry / [e]dit a parameter / [c]ontinue anyway / [s]kip" "a failed step that uses a parameter offers to edit it"
assert_contains "$OUT" "-> envname = real; the step runs again with it" "the new value is taken"
assert_contains "$OUT" "\$ midsops import-status --env real" "the step runs again with the new value"
OUT=$(printf 'y\ne\nelsewhere\na\nyes\nwrong env\n' | "$MIDSOPS" --config "$TEST_TMP/edit.conf" wizard t-edit envname=nowhere 2>&1); rc=$?
assert_eq "$rc" 2 "abort after a failure (exit 2)"

# The update wizard refuses its default staging environment when the config has none.
expect_exit 64 "update refuses the default staging environment when the config has none" \
	sh -c "printf '\n\n\n' | '$MIDSOPS' wizard update export_dir='$TEST_TMP' previous_export='$TEST_TMP' --yes"
assert_contains "$OUT" "staging_env: there is no environment 'staging' in the config (no [env staging] section in $XDG_CONFIG_HOME/midsops/midsops.conf" "the refusal names the environment and the config file"
rm -f "$RB"/t-drive.json "$RB"/t-until.json "$RB"/t-appr.json "$RB"/t-maint.json "$RB"/t-edit.json

# --- corrupted-import: two imports, the second is bad; choose it, roll back --------------
if [ -d "$MINI_EXPORT" ]; then
	sums() { "$MIDSOPS" --json import-stats --checksums | python3 -c 'import json,sys
d=json.load(sys.stdin)
print("\n".join(r["table"] + " " + r["checksum"] for r in d["tables"]))'; }
	"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
	GOOD=$(sums)
	"$MIDSOPS" data-checksums --save before-bad >/dev/null 2>&1
	GOOD_GEN=$(psql_q "select max(generation) from ops.import_generations")
	cp -r "$MINI_EXPORT" "$TEST_TMP/bad-export"
	for f in $(find "$TEST_TMP/bad-export/powers" -name '*.json' ! -name index.json | sort | head -n 20); do
		python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["accuracy"]=1.234; json.dump(d,open(p,"w"))' "$f"
	done
	"$MIDSOPS" import "$TEST_TMP/bad-export" >/dev/null 2>&1
	BAD_RUN=$(psql_q "select max(id) from ops.import_runs")
	[ "$(sums)" != "$GOOD" ] && ok "the second import changed the game tables" || fail "second import" "checksums unchanged"
	expect_exit 0 "import-runs --json lists the runs" "$MIDSOPS" --json import-runs
	assert_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(r[0]["run"], r[0]["before"], r[1]["run"])')" \
		"$BAD_RUN $GOOD_GEN $((BAD_RUN - 1))" "newest first, with the generation before each run"
	expect_exit 0 "import-runs --limit 1" "$MIDSOPS" import-runs --limit 1
	check "import-runs shows the newest run first" sh -c 'printf "%s\n" "$1" | grep -Eq "^$2 +import +completed"' _ "$OUT" "$BAD_RUN"
	case $OUT in *"$TEST_TMP/bad-export"*) ok "import-runs shows the run's source" ;; *) fail "import-runs source" "$OUT" ;; esac
	expect_exit 64 "import-runs --limit 0 is refused" "$MIDSOPS" import-runs --limit 0
	# a choice by number, and a number out of range asked again
	OUT=$(printf '9\n2\n\n' | "$MIDSOPS" wizard t-choice 2>&1); rc=$?
	assert_eq "$rc" 0 "t-choice runs to its end"
	assert_contains "$OUT" "(a number from 1 to 2, or Enter for 1)" "a number out of range is asked again"
	assert_contains "$OUT" "Picked run $((BAD_RUN - 1)): generation $GOOD_GEN" "the number picks the row, its fields set the parameters"
	# import-status; skip import-stop (nothing runs); Enter takes the newest run; roll back
	OUT=$(printf 's\nno import running\n\ny\ny\n\n' | "$MIDSOPS" wizard corrupted-import --operator tester 2>&1); rc=$?
	WOUT=$OUT
	# (db-check may judge this test cluster CRITICAL: the exit is the worst check's)
	case $rc in 0|1|2) ok "corrupted-import by rollback runs to its end ($rc)" ;; *) fail "corrupted-import by rollback" "exit $rc: $(printf '%s' "$OUT" | tail -n 30)" ;; esac
	assert_contains "$OUT" "*  1) run $BAD_RUN, state completed" "the newest run is listed first and preselected"
	assert_contains "$OUT" "\$ midsops import-rollback --to $GOOD_GEN" "the rollback targets the generation before the bad run"
	assert_eq "$(psql_q "select kind || ' ' || previous from ops.import_generations order by generation desc limit 1")" \
		"rollback $((GOOD_GEN + 1))" "the current generation is a rollback of the bad run's generation"
	[ "$(sums)" = "$GOOD" ] && ok "after the rollback the game tables equal those after the first import" ||
		fail "checksums after rollback" "they differ from the first import's"
	WRUN=$(psql_q "select id from ops.wizard_runs where runbook = 'corrupted-import' order by id desc limit 1")
	assert_eq "$(psql_q "select status from ops.wizard_runs where id = ${WRUN:-0}")" "done" "the corrupted-import run is recorded as done"
	assert_contains "$(psql_q "select detail from ops.wizard_steps where run_id = ${WRUN:-0} and step_id = 'bad-run'")" \
		"chose run_id=$BAD_RUN, bad_generation=$((GOOD_GEN + 1)), rollback_to=$GOOD_GEN" "the audit trail records the chosen run"
	assert_eq "$(psql_q "select string_agg(step_id, ',' order by seq) from ops.wizard_steps where run_id = ${WRUN:-0} and outcome = 'skipped' and step_id in ('restore-pitr', 'db-restore')")" \
		"restore-pitr,db-restore" "the restore paths are recorded as skipped"
	REPORT="$XDG_STATE_HOME/midsops/incidents/$(date +%Y%m%d)_corrupted_import.md"
	assert_contains "$(cat "$REPORT" 2>/dev/null)" "chose run_id=$BAD_RUN" "the incident report names the chosen run"
	expect_exit 0 "wizard show of the corrupted-import run" "$MIDSOPS" wizard show "$WRUN"
	assert_contains "$OUT" "chose run_id=$BAD_RUN" "the transcript names the chosen run"
	assert_eq "$(psql_q "select outcome || ' ' || exit_status from ops.wizard_steps where run_id = ${WRUN:-0} and step_id = 'rollback'")" \
		"done 0" "the rollback step succeeded"
	assert_contains "$WOUT" "\$ midsops data-checksums --compare before-bad" "the rollback path ends by comparing with the record made before the bad run"
	assert_contains "$WOUT" "builds and game equal 'before-bad'" "the proof says builds and game equal the record"
	assert_eq "$(psql_q "select outcome || ' ' || exit_status from ops.wizard_steps where run_id = ${WRUN:-0} and step_id = 'prove'")" \
		"done 0" "the proof step is recorded as done"
	# The other ways: no to the rollback shows the point-in-time restore to the bad run's
	# start; no to that offers the logical archives only (not the full backup), the newest
	# preselected. The restore itself is not run here: abort at its go-ahead.
	BAD_STARTED=$("$MIDSOPS" --json import-runs | python3 -c 'import json,sys
print(next(r["started"] for r in json.load(sys.stdin)["runs"] if r["run"] == int(sys.argv[1])))' "$BAD_RUN")
	"$MIDSOPS" db-backup-archive >/dev/null 2>&1
	"$MIDSOPS" db-backup-full >/dev/null 2>&1
	TYPES=$("$MIDSOPS" --json db-backup-list | python3 -c 'import json,sys
print(" ".join(sorted({b["type"] for b in json.load(sys.stdin)["backups"]})))')
	assert_eq "$TYPES" "archive full" "an archive and a full backup in the repository"
	ARCHIVE=$("$MIDSOPS" --json db-backup-list | python3 -c 'import json,sys
print([b["id"] for b in json.load(sys.stdin)["backups"] if b["type"] == "archive"][-1])')
	OUT=$(printf 's\nno import running\n\nn\nn\n\na\nyes\nnot today\n' | "$MIDSOPS" wizard corrupted-import 2>&1); rc=$?
	assert_eq "$rc" 2 "corrupted-import aborted at the logical restore (exit 2)"
	assert_contains "$OUT" "Restore the database to just before run $BAD_RUN started ($BAD_STARTED)?" "the point-in-time way names the bad run's start"
	# Earlier tests may have left archives in the shared repository: the newest is
	# preselected (*), whatever its number.
	check "the newest logical archive is listed and preselected" \
		sh -c 'printf "%s\n" "$1" | grep -Eq "^ *\* +[0-9]+\) id $2, time"' _ "$OUT" "$ARCHIVE"
	case $OUT in *"-full, time"*) fail "the full backup is not offered for db-restore" "$OUT" ;; *) ok "the full backup is not offered for db-restore" ;; esac
	assert_contains "$OUT" "Restore archive $ARCHIVE (command)" "the restore step names the chosen archive"
else
	skip "corrupted-import by rollback" "tests/data/export-mini is absent"
fi
rm -f "$RB"/t-*.json

# --- shipped runbooks -----------------------------------------------------------------
for f in "$TOP"/runbooks/*.json; do
	name=$(basename "$f" .json)
	miss=$(missing_cmds "$f")
	if [ -n "$miss" ]; then
		skip "runbook $name" "commands not in this midsops yet: $miss"
		continue
	fi
	expect_exit 0 "shipped runbook $name validates" "$MIDSOPS" wizard validate "$name"
done

# daily-check as a cron command: the worst status, a report
if [ -z "$(missing_cmds "$TOP/runbooks/daily-check.json")" ]; then
	OUT=$("$MIDSOPS" daily-check 2>&1); rc=$?
	case $rc in 0|1|2|3) ok "daily-check exits with a status 0-3 ($rc)" ;; *) fail "daily-check exit" "$rc: $OUT" ;; esac
	assert_contains "$OUT" "Update status dashboard" "daily-check runs to the dashboard step"
	[ -f "$XDG_STATE_HOME/midsops/reports/status_dashboard.md" ] && ok "daily-check updates the status dashboard" || fail "dashboard" "missing"
	OUT=$(yes c | head -n 20 | "$MIDSOPS" wizard daily-check 2>&1); rc=$?
	case $rc in 0|1|2|3) ok "wizard daily-check in line mode ends ($rc)" ;; *) fail "wizard daily-check" "$rc: $(printf '%s' "$OUT" | tail -5)" ;; esac
fi

# Drive one shipped runbook in line mode: params first, then "c" for every question
# (go on / run it / continue after a failure / yes). Exit 75 would mean it stopped early.
drive() {
	name=$1; shift
	miss=$(missing_cmds "$TOP/runbooks/$name.json")
	[ -n "$miss" ] && return 0
	OUT=$( { printf '%s\n' "$@"; yes c | head -n 200; } | "$MIDSOPS" wizard "$name" --operator tester --yes 2>&1); rc=$?
	if [ "$rc" = 75 ] || [ "$rc" -gt 3 ]; then
		fail "wizard $name runs to its end" "exit $rc: $(printf '%s' "$OUT" | tail -n 8)"
	else
		ok "wizard $name runs to its end (worst status $rc)"
	fi
	id=$(psql_q "select id from ops.wizard_runs where runbook = '$name' order by id desc limit 1")
	assert_eq "$(psql_q "select status from ops.wizard_runs where id = ${id:-0}")" "done" "run of $name is recorded as done"
}
drive corrupted-import
drive import-failure 1
drive database-loss
drive disaster-recovery
drive weekly-maintenance
if [ -z "$(missing_cmds "$TOP/runbooks/import-failure.json")" ]; then
	[ -f "$XDG_STATE_HOME/midsops/incidents/$(date +%Y%m%d)_import_failure.md" ] &&
		ok "import-failure writes incidents/YYYYMMDD_import_failure.md" || fail "import_failure.md" "missing"
fi
# performance-degradation monitors for 10 minutes: drive a copy that monitors for 2s.
if [ -z "$(missing_cmds "$TOP/runbooks/performance-degradation.json")" ]; then
	sed 's/"--duration", "10m"/"--duration", "2s"/' "$TOP/runbooks/performance-degradation.json" >"$RB/performance-degradation.json"
	drive performance-degradation
	rm -f "$RB/performance-degradation.json"
fi
# update: needs an export, a staging environment and an approval.
if [ -z "$(missing_cmds "$TOP/runbooks/update.json")" ] && [ -d "$MINI_EXPORT" ]; then
	psql_q "create database staging" >/dev/null 2>&1
	SDSN=$(printf '%s' "$MIDSOPS_DSN" | sed 's/dbname=[^ ]*/dbname=staging/')
	printf '[env staging]\ndsn = %s\n' "$SDSN" >"$TEST_TMP/update.conf"
	# params, announce, backup, (staging check), (versions), export, validate, diff,
	# schema, staging import, (validate), perf, uat, approver, phrase, then go on
	OUT=$( { printf '%s\n' "$MINI_EXPORT" "$MINI_EXPORT" "" y y y y y y y y y Dana approve; yes c | head -n 30; } |
		"$MIDSOPS" --config "$TEST_TMP/update.conf" wizard update --operator tester --yes 2>&1); rc=$?
	if [ "$rc" = 75 ] || [ "$rc" -gt 3 ]; then
		fail "wizard update runs to its end" "exit $rc: $(printf '%s' "$OUT" | tail -n 8)"
	else
		ok "wizard update runs to its end (worst status $rc)"
	fi
	assert_contains "$OUT" "approved by Dana" "update records the approver"
	assert_contains "$OUT" "condition met after" "update's monitor ends as soon as the import has finished"
	assert_contains "$OUT" "Before approving: " "update's approval says what was skipped or failed first"
	expect_exit 64 "update refuses an export directory that does not exist, at start" \
		"$MIDSOPS" --config "$TEST_TMP/update.conf" wizard update export_dir="$TEST_TMP/no-such-export" previous_export="$MINI_EXPORT" --yes
	assert_contains "$OUT" "export_dir: '$TEST_TMP/no-such-export' is not a directory" "the refusal names the parameter"
	expect_exit 64 "update refuses a staging environment that is not in the config" \
		"$MIDSOPS" --config "$TEST_TMP/update.conf" wizard update export_dir="$MINI_EXPORT" previous_export="$MINI_EXPORT" staging_env=stagin --yes
	assert_contains "$OUT" "there is no environment 'stagin' in the config" "the refusal names the missing environment"
elif [ -z "$(missing_cmds "$TOP/runbooks/update.json")" ]; then
	skip "wizard update" "tests/data/export-mini is absent"
fi
