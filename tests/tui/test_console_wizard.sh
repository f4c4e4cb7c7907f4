# The console's wizard view: the picker, every kind of step driven by keys, skip with a
# reason, abort, the lock between two consoles, a run left by a killed console resumed from
# the picker, and the shipped `update` and `corrupted-import` runbooks run to their end.
. "$TOP/tests/tui/console_lib.sh"

MIDSOPS_SHARE=${MIDSOPS_SHARE:-$TOP}
export MIDSOPS_SHARE
"$MIDSOPS" db-create >/dev/null 2>&1
RB=$XDG_CONFIG_HOME/midsops/runbooks
mkdir -p "$RB"

# bottom SESSION: the console's last line (prompt or key hints).
bottom() { screen "$1" | tail -n 1; }

# bottom_has SESSION TEXT: the last line holds TEXT (for wait_until).
bottom_has() { case "$(bottom "$1")" in *"$2"*) return 0 ;; esac; return 1; }

# step_box SESSION: the text inside the wizard's step box (the top right box), alone: the
# output log below it repeats much of what the box says.
step_box() {
	screen "$1" | LC_ALL=C awk -F'││' '/┐┌─ (> )?Step /{on=1; next} /│└/{on=0} on {print $2}'
}
box_re() { step_box "$1" | LC_ALL=C.UTF-8 grep -qE -- "$2"; }
expect_box() {
	if wait_until "${4:-100}" box_re "$2" "$3"; then ok "$1"; else
		fail "$1" "/$3/ not in the step box: $(step_box "$2" | tr -s ' ' | head -c 800)"
	fi
}

# After a key: wait until the screen below the header changes (the clock ticks there).
settle() {
	j=0
	while [ $j -lt $((100 * ${TEST_TIME_FACTOR:-1})) ]; do
		[ "$(screen "$1" | tail -n +2)" != "$2" ] && return 0
		sleep 0.1
		j=$((j + 1))
	done
}

# drive SESSION: answer every question the way an operator pushing on would (Enter, the
# approver Dana, 'approve', continue after a failure, yes to a branch) until the run ends.
drive() {
	i=0
	while [ $i -lt 900 ]; do
		scr=$(screen "$1" | tail -n +2)
		case "$(bottom "$1")" in
		*"The run has ended"*) return 0 ;;
		*"Approver's name"*) keys "$1" Dana Enter ;;
		*"Type 'approve'"*) keys "$1" approve Enter ;;
		*"Step failed. Enter"*) keys "$1" c ;;
		*"y yes  n no"*) keys "$1" y ;;
		"Enter: end the wait early"*) sleep 0.2; i=$((i + 1)); continue ;;
		"Enter: "*) keys "$1" Enter ;;
		*) sleep 0.2; i=$((i + 1)); continue ;;
		esac
		settle "$1" "$scr"
		i=$((i + 1))
	done
	return 1
}

cat >"$RB/t-con.json" <<'EOF'
{"title": "Console kinds", "description": "every kind, from the console",
 "params": [{"name": "who", "prompt": "Who"}],
 "sections": [
  {"title": "One", "steps": [
    {"id": "hello", "kind": "info", "title": "Hello ${who}", "help": "Read me first."},
    {"id": "tick", "kind": "confirm", "title": "Tick this"},
    {"id": "dbc", "kind": "check", "title": "Database", "command": ["db-check"]},
    {"id": "ver", "kind": "command", "title": "Version", "command": ["version"]}]},
  {"title": "Two", "steps": [
    {"id": "ask", "kind": "branch", "title": "Go the long way?", "if": "ask", "then": "pause", "else": "hold"},
    {"id": "pause", "kind": "wait", "title": "Wait a bit", "duration": "30s", "interval": "1s", "command": ["version"]},
    {"id": "skipme", "kind": "confirm", "title": "To be skipped"},
    {"id": "hold", "kind": "confirm", "title": "Hold here"}]}]}
EOF
# One snapshot, then quiet until stopped: a snapshot a second would scroll the output log
# past the line that q writes there before a capture could see it.
cat >"$RB/t-long.json" <<'EOF'
{"title": "Long", "sections": [{"title": "S", "steps": [
  {"id": "watch", "kind": "command", "title": "Watch", "command": ["watch", "--interval", "1h"]}]}]}
EOF
cat >"$RB/t-hold.json" <<'EOF'
{"title": "Hold", "sections": [{"title": "S", "steps": [
  {"id": "first", "kind": "info", "title": "First"},
  {"id": "hold", "kind": "confirm", "title": "Hold here"},
  {"id": "last", "kind": "check", "title": "Last", "command": ["version"]}]}]}
EOF

# A maintenance window that is never open, and an environment for the edit test.
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[maintenance]\nwindow = daily 00:00-00:00\n[env real]\ndsn = %s\n' "$MIDSOPS_DSN" >"$XDG_CONFIG_HOME/midsops/midsops.conf"
cat >"$RB/t-appr.json" <<'EOF'
{"title": "Approve", "sections": [{"title": "S", "steps": [
  {"id": "skipme", "kind": "confirm", "title": "Skip me"},
  {"id": "bad", "kind": "check", "title": "Bad check", "command": ["import-status", "999999"]},
  {"id": "ok", "kind": "approval", "title": "Approve it"}]}]}
EOF
cat >"$RB/t-edit.json" <<'EOF'
{"title": "Edit", "params": [{"name": "envname", "prompt": "Environment", "default": "real"}],
 "sections": [{"title": "S", "steps": [
  {"id": "st", "kind": "command", "title": "Status in ${envname}", "command": ["import-status", "--env", "${envname}"]}]}]}
EOF

# --- the picker ---------------------------------------------------------------------------
S=wz$$
console_start "$S" MIDSOPS_OPERATOR=alice
expect_screen "console up" "$S" "connected  up" 100
keys "$S" ':' 'wizard' Enter
expect_screen ":wizard opens the picker" "$S" "Wizard: start a runbook or continue a run" 50
# The title is drawn before the list below it: wait for each entry, not one early capture.
for n in update corrupted-import daily-check t-con "Runs in progress"; do
	expect_screen "the picker lists $n" "$S" "$n" 20
done
# One Enter on a maintenance runbook outside its window asks; Enter again is No.
j=0
while [ $j -lt 30 ] && ! screen_re "$S" '> weekly-maintenance'; do keys "$S" Down; sleep 0.2; j=$((j + 1)); done
keys "$S" Enter
wait_until 50 bottom_has "$S" "Outside the maintenance window (daily 00:00-00:00): start weekly-maintenance? [y/N]" &&
	ok "Enter on weekly-maintenance outside its window asks first" || fail "the window question" "$(bottom "$S")"
keys "$S" Enter
expect_screen "Enter (No) does not start it" "$S" "weekly-maintenance not started: it is outside the maintenance window" 30
assert_eq "$(psql_q "select count(*) from ops.wizard_runs where runbook = 'weekly-maintenance'")" 0 "no run of weekly-maintenance was started"
keys "$S" Escape
expect_screen "Esc closes the picker" "$S" "Database health" 20
# update's default staging environment is not in this config: refused when it is given.
keys "$S" ':' "wizard update export_dir=$TEST_TMP previous_export=$TEST_TMP" Enter
wait_until 50 bottom_has "$S" "start update? [y/N]" && keys "$S" y
wait_until 50 bottom_has "$S" "Staging environment name (from midsops.conf) [staging]:" &&
	ok "update asks for the staging environment" || fail "the staging question" "$(bottom "$S")"
keys "$S" Enter
expect_screen "the default staging environment is refused at start, named" "$S" "staging_env: there is no environment 'staging'" 30
expect_screen "with the config file" "$S" "[env staging] section in" 20
assert_eq "$(psql_q "select count(*) from ops.wizard_runs where runbook = 'update'")" 0 "no update run was started"
keys "$S" Escape
expect_screen "Esc gives up the start" "$S" "not started: a parameter was not given" 30
keys "$S" Escape
expect_screen "and closes the picker" "$S" "Database health" 20

# --- every kind of step, driven by keys ----------------------------------------------------
keys "$S" ':' 'wizard t-con' Enter
expect_screen "a parameter without a value is asked for" "$S" "Who: _" 50
keys "$S" 'Alice' Enter
expect_screen "the run starts: steps on the left" "$S" "Steps: t-con" 50
expect_screen "titles are expanded, the first step is current" "$S" ">>  Hello Alice" 20
expect_screen "the step's help is on the right" "$S" "Read me first." 20
expect_screen "a pending step is marked [ ]" "$S" "[ ] Tick this" 20
wait_until 20 bottom_has "$S" "Enter: run/confirm  s skip  b back  a abort  ? help" &&
	ok "the bottom line lists the keys" || fail "the bottom line lists the keys" "$(bottom "$S")"
keys "$S" '?'
expect_screen "? shows the view's keys" "$S" "skip the step (asks for a reason)" 20
keys "$S" Escape
wait_gone "$S" "skip the step (asks for a reason)" 30 && ok "Esc closes the help" || fail "Esc closes the help" "$(screen "$S" | tail -5)"
expect_screen "and stays in the run" "$S" "Step 1/8: Hello Alice" 20
assert_eq "$(psql_q "select status from ops.wizard_runs where runbook = 't-con' order by id desc limit 1")" "running" "Esc over the help did not pause the run"
keys "$S" Enter
expect_screen "Enter: the info step is done" "$S" "[x] Hello Alice" 20
keys "$S" Enter
# '-> confirmed by alice' in the output log is pushed off the screen by the check step that
# runs at once after it: a loaded machine draws only after the check has printed. The step's
# mark and the recorded step stay: done, by the console's operator, as a confirmation.
expect_screen "Enter confirms: the step is ticked off" "$S" "[x] Tick this" 50
expect_sql "Enter confirms: recorded as confirmed by alice" \
	"select outcome || ':' || actor || ':' || coalesce(detail, '') from ops.wizard_steps where step_id = 'tick' and run_id = (select max(id) from ops.wizard_runs where runbook = 't-con') order by seq desc limit 1" \
	"done:alice:confirmed" 50
# The check's output is on the right only until the next step's help replaces it (a fast
# check is gone before a capture): its tick on the left stays.
expect_screen "a check runs at once as a child and is ticked off" "$S" "[x] Database" 50
expect_screen "the check's outcome" "$S" "(exit " 100
expect_screen "the command step waits for Enter" "$S" "Step 4/8: Version" 50
keys "$S" Enter
expect_screen "the command's output streams in" "$S" "\$ midsops version" 50
expect_screen "the command step is done" "$S" "[x] Version" 50
expect_screen "a branch shows its choice" "$S" "y (yes) -> Wait a bit" 30
expect_screen "the branch names both ways" "$S" "n (no)  -> Hold here" 20
keys "$S" y
expect_screen "the wait step shows its live figure" "$S" "live figure (every 1s)" 50
# In the step box: the output log below still holds the command step's own 'version' lines
# and the wait's first line ('waiting 30s; ...').
expect_box "the figure is the command's output" "$S" "^ +version +[0-9]+\\." 50
expect_box "the wait counts" "$S" "waiting [1-9][0-9]*s of 30s" 50
keys "$S" Enter
expect_screen "Enter ends the wait early" "$S" "ended early by the operator" 30
expect_screen "next: the step to skip" "$S" ">>  To be skipped" 30
keys "$S" b
expect_screen "b goes back" "$S" "back to 'pause'" 30
expect_screen "the wait is not run again: its last result shows" "$S" "last result: done: waited" 30
expect_box "the step box says it waits for the operator" "$S" "You came back to this step: it is not run again" 30
keys "$S" b
expect_screen "b again reaches the step before it" "$S" "back to 'ask'" 30
keys "$S" c
expect_screen "c keeps the branch's answer" "$S" "kept its last result, not run again" 30
expect_screen "and goes the same way, to the wait" "$S" ">>  Wait a bit" 30
keys "$S" Enter
expect_screen "Enter ends the wait early again" "$S" ">>  To be skipped" 50
keys "$S" s
expect_screen "s asks for a reason" "$S" "Reason for skipping 'skipme': _" 20
keys "$S" 'not needed today' Enter
expect_screen "the skipped step is marked" "$S" "[s] To be skipped" 20
keys "$S" q
wait_until 30 bottom_has "$S" "It stays paused and can be resumed with ':wizard resume" &&
	ok "q at the run asks before leaving" || fail "q asks before leaving" "$(bottom "$S")"
keys "$S" n
expect_screen "n stays in the run" "$S" "(staying in the run)" 20
keys "$S" a
expect_screen "a asks before aborting" "$S" "Abort the whole run? Type 'yes' to abort:" 20
keys "$S" 'no' Enter
expect_screen "anything but yes does not abort" "$S" "not aborted" 20
keys "$S" a
keys "$S" 'yes' Enter
expect_screen "then a reason" "$S" "Reason for aborting: _" 20
keys "$S" 'test over' Enter
expect_screen "the run is aborted, on screen" "$S" "aborted (test over)" 30
RUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-con' order by id desc limit 1")
assert_eq "$(psql_q "select status || ':' || reason || ':' || operator from ops.wizard_runs where id = ${RUN:-0}")" "aborted:test over:alice" "the abort and its reason are recorded"
assert_eq "$(psql_q "select outcome || ':' || coalesce(reason, '') from ops.wizard_steps where run_id = ${RUN:-0} and step_id = 'skipme' order by seq desc limit 1")" "skipped:not needed today" "the skip reason is recorded"
assert_eq "$(psql_q "select string_agg(detail, ', ' order by seq) from ops.wizard_steps where run_id = ${RUN:-0} and step_id = 'ask'")" "yes: operator's answer, yes: the earlier answer, kept" "the branch answer is recorded, and kept when the operator came back to it"
assert_contains "$(psql_q "select detail from ops.wizard_steps where run_id = ${RUN:-0} and step_id = 'pause' order by seq limit 1")" "ended early by the operator" "the early end of the wait is recorded"
assert_contains "$(psql_q "select output_excerpt from ops.wizard_steps where run_id = ${RUN:-0} and step_id = 'ver' order by seq desc limit 1")" "version" "the command's output is recorded"
keys "$S" Enter
expect_screen "Enter closes an ended run's view" "$S" "Database health" 20

# A running step's command: keys wait, Ctrl-C stops it and the step fails.
keys "$S" ':' 'wizard t-long' Enter
expect_screen "a long command step" "$S" "Step 1/1: Watch" 50
keys "$S" Enter
expect_screen "its output streams while it runs" "$S" "all probes ran" 100
wait_until 20 bottom_has "$S" "A command is running: Ctrl-C stops it" &&
	ok "the bottom line says a command runs" || fail "the bottom line says a command runs" "$(bottom "$S")"
keys "$S" q
expect_screen "q does not leave a command half done" "$S" "'watch' is still running; Ctrl-C stops it" 20
wait_until 20 bottom_has "$S" "A command is running: Ctrl-C stops it" &&
	ok "after q the view and its command stay" || fail "after q the view and its command stay" "$(bottom "$S")"
keys "$S" C-c
expect_screen "Ctrl-C stops the step's command; the step fails" "$S" "Step failed. Enter: retry" 50
keys "$S" a
keys "$S" 'yes' Enter 'enough' Enter
expect_screen "then the run can be aborted" "$S" "aborted (enough)" 30
keys "$S" q

# The approval lists the skipped and failed steps; the end names the worst step.
keys "$S" ':' 'wizard t-appr' Enter
expect_screen "t-appr starts" "$S" ">>  Skip me" 50
keys "$S" s
keys "$S" 'no time' Enter
expect_box "the approval lists what was skipped, with the reason" "$S" "step 1 'Skip me': skipped: no time" 50
expect_box "and what failed" "$S" "step 2 'Bad check': FAILED [(]exit 1[)]" 20
keys "$S" Enter
keys "$S" Ann Enter
keys "$S" approve Enter
expect_screen "the end names the worst step in words" "$S" "worst: step 2 'Bad check' CRITICAL" 50
keys "$S" Enter

# A step that failed because of its parameter: e edits it, Enter runs the step again.
keys "$S" ':' 'wizard t-edit envname=nowhere' Enter
expect_screen "t-edit starts" "$S" "Step 1/1: Status in nowhere" 50
keys "$S" Enter
wait_until 100 bottom_has "$S" "Step failed. Enter: retry  e edit a parameter" &&
	ok "a failed step that uses a parameter offers e" || fail "e offered" "$(bottom "$S")"
keys "$S" e
wait_until 30 bottom_has "$S" "New value for envname (now 'nowhere'):" &&
	ok "e asks for the parameter's new value" || fail "e asks" "$(bottom "$S")"
keys "$S" real Enter
expect_screen "the value is taken" "$S" "envname = real; Enter runs the step again" 30
keys "$S" Enter
expect_screen "the step runs again with it" "$S" "midsops import-status --env real" 50
ERUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-edit' order by id desc limit 1")
expect_screen "and the run ends" "$S" "run $ERUN done" 50
keys "$S" Enter

# --- the lock, a console killed mid-run, resume from the picker ---------------------------
keys "$S" ':' 'wizard t-hold' Enter
expect_screen "a second run starts" "$S" ">>  First" 50
keys "$S" Enter
expect_screen "it reaches the confirm step" "$S" ">>  Hold here" 30
HRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-hold' order by id desc limit 1")
S2=wy$$
console_start "$S2" MIDSOPS_OPERATOR=bob
expect_screen "a second console" "$S2" "connected  up" 100
keys "$S2" ':' "wizard resume $HRUN" Enter
expect_screen "the lock refuses a run driven elsewhere, on screen" "$S2" "is being driven right now by alice" 50
expect_screen "the picker marks it as driven now" "$S2" "[driven now]" 20
# kill -9 the first console: its run stays 'running' with the step open. The pane's shell
# runs the wrapper, which execs the console: the console is the shell's child.
ppid_=$(tm list-panes -t "$S" -F '#{pane_pid}')
cpid=$(pgrep -P "$ppid_" -f " console\$" | head -n 1)
[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
expect_screen "the first console is gone" "$S" "CONSOLE-EXITED" 50
keys "$S2" r
wait_gone "$S2" "[driven now]" 50 && ok "after the kill the run is no longer driven" || fail "driven now gone" "$(screen "$S2" | tail -5)"
keys "$S2" End Enter
expect_screen "picking the run in progress resumes it" "$S2" "resuming run $HRUN (started by alice) at step 'hold'" 50
expect_screen "at the same step" "$S2" "Step 2/3: Hold here" 20
expect_screen "the steps done before the kill are marked done" "$S2" "[x] First" 20
keys "$S2" Enter
expect_screen "the resumed run finishes" "$S2" "run $HRUN done" 50
assert_eq "$(psql_q "select string_agg(step_id || ':' || outcome || ':' || actor, ',' order by seq) from ops.wizard_steps where run_id = ${HRUN:-0}")" \
	"first:done:alice,hold:interrupted:alice,hold:done:bob,last:done:bob" "the audit trail shows the kill and who continued"
keys "$S2" q
keys "$S2" q
expect_screen "the second console quits" "$S2" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
tm kill-session -t "$S2" 2>/dev/null

# --- shipped runbooks through the console ---------------------------------------------------
S=wx$$
mkdir -p "$XDG_CONFIG_HOME/midsops"
psql_q "create database staging" >/dev/null 2>&1
SDSN=$(printf '%s' "$MIDSOPS_DSN" | sed 's/dbname=[^ ]*/dbname=staging/')
printf '[env staging]\ndsn = %s\n[maintenance]\nwindow = daily 00:00-00:00\n' "$SDSN" >"$XDG_CONFIG_HOME/midsops/midsops.conf"
console_start "$S" MIDSOPS_OPERATOR=tester MIDSOPS_WAIT_SCALE=0.002
expect_screen "console up for the shipped runbooks" "$S" "connected  up" 100

# No import yet: the choice of the bad run has nothing to list, so it fails (and drive
# continues past it, then past the rollback that has no generation to go to).
keys "$S" ':' 'wizard corrupted-import' Enter
expect_screen "corrupted-import starts without asking for a parameter" "$S" "Steps: corrupted-import" 50
if drive "$S"; then ok "corrupted-import runs to its end in the console"; else fail "corrupted-import runs to its end" "$(screen "$S" | tail -8)"; fi
CRUN=$(psql_q "select id from ops.wizard_runs where runbook = 'corrupted-import' order by id desc limit 1")
expect_screen "corrupted-import: the end is on screen" "$S" "run $CRUN done" 20
assert_eq "$(psql_q "select status from ops.wizard_runs where id = ${CRUN:-0}")" "done" "corrupted-import is recorded as done"
assert_eq "$(psql_q "select outcome || ':' || coalesce(reason, '') from ops.wizard_steps where run_id = ${CRUN:-0} and step_id = 'bad-run' order by seq limit 1")" \
	"failed:the list is empty: 'midsops import-runs' has no runs to choose from" "an empty list fails the choice step, with the reason"
assert_eq "$(psql_q "select count(*) from ops.wizard_steps where run_id = ${CRUN:-0} and step_id = 'rollback' and outcome = 'failed'")" 1 "the rollback without a run failed, in the audit trail"
[ -f "$XDG_STATE_HOME/midsops/incidents/$(date +%Y%m%d)_corrupted_import.md" ] &&
	ok "corrupted-import writes its incident report" || fail "incident report" "missing"
keys "$S" Enter

if [ -d "$MINI_EXPORT" ]; then
	keys "$S" ':' "wizard update export_dir=$MINI_EXPORT previous_export=$MINI_EXPORT staging_env=staging" Enter
	wait_until 50 bottom_has "$S" "start update? [y/N]" &&
		ok "update outside the window asks first" || fail "update asks first" "$(bottom "$S")"
	keys "$S" y
	expect_screen "update starts with its parameters" "$S" "Steps: update" 50
	if drive "$S"; then ok "update runs to its end in the console"; else fail "update runs to its end" "$(screen "$S" | tail -8)"; fi
	URUN=$(psql_q "select id from ops.wizard_runs where runbook = 'update' order by id desc limit 1")
	expect_screen "update: the end is on screen" "$S" "run $URUN done" 20
	assert_eq "$(psql_q "select status from ops.wizard_runs where id = ${URUN:-0}")" "done" "update is recorded as done"
	assert_eq "$(psql_q "select detail from ops.wizard_steps where run_id = ${URUN:-0} and step_id = 'approve' order by seq desc limit 1")" "approved by Dana" "update records the approver"
	assert_contains "$(psql_q "select detail from ops.wizard_steps where run_id = ${URUN:-0} and step_id = 'monitor' order by seq desc limit 1")" "condition met after" "the monitor ends as soon as the import has finished"
	assert_eq "$(psql_q "select outcome from ops.wizard_steps where run_id = ${URUN:-0} and step_id = 'import' order by seq desc limit 1")" "done" "the production import step succeeded"
	keys "$S" Enter
else
	skip "update in the console" "tests/data/export-mini is absent"
fi
# A choice step: the rows in the step box, the first preselected; Down, Enter takes the second.
if [ -d "$MINI_EXPORT" ]; then
	cat >"$RB/t-pick.json" <<'EOF2'
{"title": "Pick", "sections": [{"title": "S", "steps": [
  {"id": "pick", "kind": "choice", "title": "Pick a run", "command": ["import-runs"], "items": "runs",
   "value": "run", "param": "run_id", "set": {"gen": "generation"}, "label": ["run", "kind", "generation"]},
  {"id": "said", "kind": "info", "title": "Picked run ${run_id} of generation ${gen}"}]}]}
EOF2
	"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
	cp -r "$MINI_EXPORT" "$TEST_TMP/changed"
	python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["accuracy"]=2.5; json.dump(d,open(p,"w"))' \
		"$(find "$TEST_TMP/changed/powers" -name '*.json' ! -name index.json | sort | head -n 1)"
	"$MIDSOPS" import "$TEST_TMP/changed" >/dev/null 2>&1
	PRUNS=$(psql_q "select string_agg(id::text, ' ' order by id desc) from ops.import_runs")
	set -- $PRUNS
	if [ $# -ge 2 ]; then
		keys "$S" ':' 'wizard t-pick' Enter
		expect_box "the choice lists the rows, the newest preselected" "$S" "^ *> run $1, kind " 50
		expect_box "the other rows below it" "$S" "^ +run $2, kind " 20
		keys "$S" Down
		expect_box "Down moves the selection" "$S" "^ *> run $2, kind " 20
		keys "$S" Up Down Enter
		expect_screen "Enter takes the selected row and sets the parameters" "$S" "Picked run $2 of generation" 50
		PKRUN=$(psql_q "select id from ops.wizard_runs where runbook = 't-pick' order by id desc limit 1")
		assert_contains "$(psql_q "select detail from ops.wizard_steps where run_id = ${PKRUN:-0} and step_id = 'pick' and outcome = 'done'")" \
			"chose run_id=$2" "the choice is recorded"
		keys "$S" Enter
		expect_screen "the picking run ends" "$S" "run $PKRUN done" 50
		keys "$S" Enter
		# The shipped corrupted-import: the newest import preselected, Enter, roll back.
		BADGEN=$(psql_q "select generation from ops.import_runs where id = $1")
		keys "$S" ':' 'wizard corrupted-import' Enter
		expect_box "corrupted-import waits at import-stop" "$S" "^command: midsops import-stop" 50
		expect_box "for Enter" "$S" "^Enter: run it" 50
		# import-stop: nothing runs, which is what a stop wants: the step is done, not failed
		keys "$S" Enter
		expect_box "corrupted-import lists the import runs, the newest preselected" "$S" "^ *> run $1, state completed" 100
		if drive "$S"; then ok "corrupted-import by rollback runs to its end in the console"; else fail "corrupted-import by rollback in the console" "$(screen "$S" | tail -8)"; fi
		CRUN=$(psql_q "select id from ops.wizard_runs where runbook = 'corrupted-import' order by id desc limit 1")
		assert_eq "$(psql_q "select outcome || ' ' || exit_status from ops.wizard_steps where run_id = ${CRUN:-0} and step_id = 'import-stop' order by seq desc limit 1")" "done 0" \
			"import-stop with no import running is done (exit 0), not failed"
		assert_eq "$(psql_q "select outcome from ops.wizard_steps where run_id = ${CRUN:-0} and step_id = 'rollback' order by seq desc limit 1")" "done" "the console's rollback step succeeded"
		assert_eq "$(psql_q "select kind || ' ' || previous from ops.import_generations order by generation desc limit 1")" "rollback $BADGEN" "the current generation rolls back the chosen run's"
		keys "$S" Enter
	else
		fail "two import runs for the choice test" "runs: $PRUNS"
	fi
fi
keys "$S" q
expect_screen "the console quits" "$S" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
rm -f "$RB"/t-appr.json "$RB"/t-edit.json "$RB"/t-pick.json "$RB"/t-con.json "$RB"/t-hold.json "$RB"/t-long.json
