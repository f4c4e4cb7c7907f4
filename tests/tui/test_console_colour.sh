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
	tm new-session -d -x 100 -y 30 -s "$sess" "$w; sleep 60"
}
# Colour escapes in tmux's rendering: 3x/4x (8 colours), 38;5 / 48;5 (256).
colours() { tm capture-pane -e -p -t "$1" | grep -c '\[[0-9;]*\(3[0-7]\|4[0-7]\|38;5\|48;5\)[;m]'; }

A=col$$
start_plain "$A" console
wait_for "$A" "Database health" 50
n=$(colours "$A")
[ "$n" -gt 0 ] && ok "the console uses colour on a colour terminal ($n coloured lines)" ||
	fail "the console uses colour on a colour terminal" "no colour escapes"
tm send-keys -t "$A" q
B=nocol$$
start_plain "$B" --no-color console
wait_for "$B" "Database health" 50
assert_eq "$(colours "$B")" 0 "--no-color: no colour on screen"
tm send-keys -t "$B" q
sleep 0.3
tm kill-session -t "$A" 2>/dev/null
tm kill-session -t "$B" 2>/dev/null
