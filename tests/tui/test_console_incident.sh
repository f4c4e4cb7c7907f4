# An open incident leads the console's header: its severity, number and age against the
# severity's response time, in the colour incident-status gives it, and the verdict judges
# it as incident-status does (S1 CRITICAL, S2 or an overdue response WARNING). A note
# (the response) and the close show at the next refresh.
. "$TOP/tests/tui/console_lib.sh"

if ! "$MIDSOPS" help incident >/dev/null 2>&1; then
	skip "console incident" "the incident command does not exist"
	return 0 2>/dev/null || exit 0
fi
"$MIDSOPS" db-create >/dev/null 2>&1
mkdir -p "$XDG_CONFIG_HOME/midsops"
# No contact to notify: the escalations are not what this test looks at.
printf '[incident]\nescalate = none\n' >>"$XDG_CONFIG_HOME/midsops/midsops.conf"
S=inc$$
console_start "$S"
expect_screen "console up for incidents" "$S" "connected  up" 300
assert_not_contains "$(screen "$S" | head -n 1)" "#1" "no incident: nothing in the header"

expect_exit 0 "an S2 incident opens" "$MIDSOPS" incident start S2 "web & api slow"
expect_screen "the header shows the S2 incident" "$S" " S2 #1 " 50
expect_screen_re "its age against its response time of 1 h" "$S" 'S2 #1 [0-9]+s of 1h00m '
assert_not_contains "$(screen "$S" | head -n 1)" "late" "an S2 of seconds is not late"
expect_screen "the verdict judges it WARNING and gives the title" "$S" \
	"WARNING: S2 incident #1 open" 50
expect_screen "the title reads as typed (no XML entities)" "$S" "web & api slow" 50

expect_exit 0 "a note responds" "$MIDSOPS" incident note "looking at the slow queries"
# Overdue: backdated two hours, with no response yet, the S2 is past its hour.
psql_q "update ops.incidents set opened_at = opened_at - interval '2 hours', respond_by = respond_by - interval '2 hours', responded_at = null where id = 1" >/dev/null
expect_screen_re "two hours without a response: late" "$S" 'S2 #1 2h[0-9]+m of 1h00m late'
expect_screen "and the verdict gives its age" "$S" "WARNING: S2 incident #1 open 2h" 50
expect_exit 0 "the S2 incident closes" "$MIDSOPS" incident close
wait_gone "$S" " S2 #1 " 50 && ok "after the close, the header drops the incident" ||
	fail "after the close, the header drops the incident" "$(screen "$S" | head -n 1)"

expect_exit 0 "an S1 incident opens" "$MIDSOPS" incident start S1 "site down"
expect_screen "the verdict says CRITICAL for an S1" "$S" "CRITICAL: S1 incident #2 open" 50
expect_screen_re "an S1's response time is now: late at once without a response" "$S" 'S1 #2 [0-9]+s of now late'
expect_exit 0 "a note on the S1" "$MIDSOPS" incident note "on it"
wait_gone "$S" " late " 50 && ok "a response ends 'late'" || fail "a response ends 'late'" "$(screen "$S" | head -n 1)"
expect_screen "an S1 stays CRITICAL after the response" "$S" "CRITICAL: S1 incident #2 open" 50
"$MIDSOPS" incident close >/dev/null 2>&1

# At 80x24 the incident keeps its place at the head of the line.
expect_exit 0 "an S3 incident opens" "$MIDSOPS" incident start S3 "a minor issue"
tm resize-window -t "$S" -x 80 -y 24 2>/dev/null
expect_screen "at 80x24 the header still leads with the incident" "$S" " S3 #3 " 50
case "$(screen "$S" | head -n 1)" in
" S3 #3 "*) ok "the incident is the first thing on the line" ;;
*) fail "the incident is the first thing on the line" "$(screen "$S" | head -n 1)" ;;
esac
"$MIDSOPS" incident close >/dev/null 2>&1
keys "$S" q
expect_screen "q quits" "$S" "CONSOLE-EXITED 0" 50
tm kill-session -t "$S" 2>/dev/null
