# The fleet strip on real clusters: the target (the test's cluster), a second primary
# (staging), a streaming standby of it (dr) and a stopped environment (old, a port where
# nothing listens): each line's role and state; the stopped one reads CRITICAL with its
# reason and never holds the console up (the clock moves, keys answer); E switches the
# panes' target (the header names it, the monitor's connection moves); at 80x24 the strip
# folds to one line, the trouble first; a standby that stops while the console runs turns
# its line CRITICAL.
. "$TOP/tests/tui/console_lib.sh"
. "$TOP/tests/fleet_lib.sh"
S=fleet$$
stop_all() {
	tm kill-session -t "$S" 2>/dev/null
	fleet_down
}
trap stop_all EXIT

"$MIDSOPS" db-create >/dev/null 2>&1
if ! fleet_up; then
	fail "console fleet: a second primary and its streaming standby" "$(tail -n 5 "$FL"/*.log 2>&1)"
	exit 0
fi
fleet_config
printf '\n[midsops]\nrefresh = 1\n' >>"$XDG_CONFIG_HOME/midsops/midsops.conf"
console_start "$S"

expect_screen "console starts" "$S" "connected  up" 80
expect_screen_re "strip: the target's line, from the monitor" "$S" \
	'^>production +OK +primary +- +no import yet +no backup' 50
expect_screen_re "strip: staging is a reachable primary with its standby" "$S" \
	'^ staging +OK +primary +lag [0-9]+s \(1 stby\)' 80
expect_screen_re "strip: dr is a reachable standby, no lag" "$S" '^ dr +OK +standby +lag 0s' 80
expect_screen_re "strip: old (stopped) reads CRITICAL with the reason" "$S" \
	'^ old +CRITICAL +unreachable: Connection refused' 80

clock() { screen "$S" | head -n 1 | grep -oE '[0-9]{2}:[0-9]{2}:[0-9]{2}' | head -n 1; }
c1=$(clock)
moved() { [ -n "$c1" ] && [ "$(clock)" != "$c1" ]; }
if wait_until 40 moved; then ok "the header clock moves with a dead environment configured"; else
	fail "the header clock moves" "still $c1"
fi
keys "$S" '?'
expect_screen "keys answer: ? shows help with the E key" "$S" "switch the panes' target" 30
keys "$S" Escape

keys "$S" E
expect_screen "E: the header names the new target" "$S" "midsops  staging" 50
expect_screen_re "E: the strip marks staging as the target" "$S" '^>staging +' 50
onstaging() {
	[ "$(psql "$FL_STAGING" -XAtqc "select count(*) from pg_stat_activity
		where application_name = 'midsops console'" 2>/dev/null)" = 1 ]
}
if wait_until 50 onstaging; then ok "E: the monitor's connection moved to staging"; else
	fail "E: the monitor's connection moved to staging" "no 'midsops console' session there"
fi
expect_screen_re "E: production is now probed like the others" "$S" '^ production +[A-Z]+ +primary' 50
keys "$S" E
expect_screen "E again: dr is the target" "$S" "midsops  dr" 50
keys "$S" E
expect_screen "E again: old (stopped) is the target" "$S" "midsops  old" 50
c1=$(clock)
if wait_until 40 moved; then ok "a stopped target: the clock still moves"; else
	fail "a stopped target: the clock still moves" "still $c1"
fi
keys "$S" '?'
expect_screen "a stopped target: keys still answer" "$S" "switch the panes' target" 30
keys "$S" Escape
keys "$S" E
expect_screen "E wraps around to production" "$S" "midsops  production" 50

tm resize-window -t "$S" -x 80 -y 24
expect_screen_re "80x24: the strip folds to one line, the trouble first" "$S" \
	'^fleet old CRITICAL unreachable' 50
expect_screen "80x24: the panes are still there" "$S" "Database health" 30
expect_screen "80x24: production's figures are back" "$S" "connected  up" 50
echo "    the 80x24 console with the fleet strip folded, for the record:"
screen "$S" | sed 's/^/    | /'
tm resize-window -t "$S" -x 160 -y 48
expect_screen_re "160x48: a line per environment again" "$S" '^ dr +OK +standby' 50
echo "    the 160x48 console with a line per environment, for the record:"
screen "$S" | sed 's/^/    | /'

fl_as_pg "$FL_BIN/pg_ctl" -D "$FL/b" -m immediate -w stop >/dev/null 2>&1
expect_screen_re "a standby that stops turns its line CRITICAL" "$S" '^ dr +CRITICAL +unreachable' 80
c1=$(clock)
if wait_until 40 moved; then ok "the clock moves after the standby stopped"; else
	fail "the clock moves after the standby stopped" "still $c1"
fi
keys "$S" q
expect_screen "q quits" "$S" "CONSOLE-EXITED 0" 50
