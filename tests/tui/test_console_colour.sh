# Colour: the console draws in colour on a colour terminal, and not at all with --no-color
# or NO_COLOR (the flag means what the variable means, for children too).
. "$TOP/tests/tui/console_lib.sh"

"$MIDSOPS" db-create >/dev/null 2>&1
# start_plain SESSION ARGS...: like console_start, but without console_lib's NO_COLOR=1.
start_plain() {
	sess=$1; shift
	w=$TEST_TMP/$sess.sh
	{
		echo '#!/bin/sh'
		echo 'unset NO_COLOR'
		printf "export MIDSOPS_DSN='%s' XDG_STATE_HOME='%s' XDG_CONFIG_HOME='%s'\n" \
			"$MIDSOPS_DSN" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME"
		printf "export TERM=tmux-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 MIDSOPS_SHARE='%s'\n" "$TOP"
		printf "exec '%s' %s\n" "$MIDSOPS" "$*"
	} >"$w"
	chmod +x "$w"
	tm new-session -d -x 100 -y 30 -s "$sess" "$w; echo PLAIN-EXITED \$?; sleep 60"
}
# Colour escapes in tmux's rendering: 3x/4x (8 colours), 38;5 / 48;5 (256).
colours() { tm capture-pane -e -p -t "$1" | grep -c '\[[0-9;]*\(3[0-7]\|4[0-7]\|38;5\|48;5\)[;m]'; }
coloured() { [ "$(colours "$1")" -gt 0 ]; }
# drawn SESSION: the whole frame is there (the first probe's figures and the bottom line),
# so a count of colour escapes is not taken on a half-drawn screen.
drawn() {
	expect_screen "$2: the console is up" "$1" "connected  up" 100
	expect_screen "$2: the frame is drawn to its bottom line" "$1" "? help  q quit" 20
}

A=col$$
start_plain "$A" console
drawn "$A" "colour"
wait_until 20 coloured "$A"
n=$(colours "$A")
[ "$n" -gt 0 ] && ok "the console uses colour on a colour terminal ($n coloured lines)" ||
	fail "the console uses colour on a colour terminal" "no colour escapes"
tm send-keys -t "$A" q
expect_screen "q quits the coloured console" "$A" "PLAIN-EXITED 0" 50
B=nocol$$
start_plain "$B" --no-color console
drawn "$B" "--no-color"
assert_eq "$(colours "$B")" 0 "--no-color: no colour on screen"
tm send-keys -t "$B" q
expect_screen "q quits the --no-color console" "$B" "PLAIN-EXITED 0" 50
tm kill-session -t "$A" 2>/dev/null
tm kill-session -t "$B" 2>/dev/null
