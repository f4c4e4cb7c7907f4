# Helpers for the console tests (sourced by tests/tui/test_console*.sh, not a test itself).
# Each test drives the real console in the private tmux server $TMUX_SOCKET.

tm() { tmux -L "$TMUX_SOCKET" -f /dev/null "$@"; }

# console_start SESSION [VAR=VALUE...]: a wrapper script exports the test's environment
# (tmux's server keeps the environment of whoever started it first), then runs the console.
console_start() {
	sess=$1; shift
	w=$TEST_TMP/$sess.sh
	{
		echo '#!/bin/sh'
		for v in XDG_DATA_HOME XDG_STATE_HOME XDG_CONFIG_HOME XDG_RUNTIME_DIR MIDSOPS_PGPORT; do
			eval "printf 'export %s=%s\n' $v \"'\$$v'\""
		done
		printf "export MIDSOPS_DSN='%s'\n" "$MIDSOPS_DSN"
		printf "export MIDSOPS_SHARE='%s' NO_COLOR=1 LANG=C.UTF-8 LC_ALL=C.UTF-8\n" "$TOP"
		for kv in "$@"; do printf "export %s\n" "$kv"; done
		printf "exec '%s' console\n" "$MIDSOPS"
	} >"$w"
	chmod +x "$w"
	tm kill-session -t "$sess" 2>/dev/null
	tm new-session -d -x 100 -y 30 -s "$sess" "$w; echo CONSOLE-EXITED \$?; sleep 60"
}

screen() { tm capture-pane -p -t "$1" 2>/dev/null; }

# wait_for SESSION TEXT [TENTHS]: poll the screen until TEXT shows (default 10 s).
# Sanitizer builds run several times slower: `make check-asan` sets TEST_TIME_FACTOR, which
# stretches every wait (a wait ends as soon as the text shows, so this costs nothing when
# the console is on time).
wait_for() {
	_cl_i=0
	_cl_n=$(( ${3:-100} * ${TEST_TIME_FACTOR:-1} ))
	while [ "$_cl_i" -lt "$_cl_n" ]; do
		case "$(screen "$1")" in *"$2"*) return 0 ;; esac
		sleep 0.1
		_cl_i=$((_cl_i + 1))
	done
	return 1
}

# wait_gone SESSION TEXT [TENTHS]
wait_gone() {
	_cl_i=0
	_cl_n=$(( ${3:-100} * ${TEST_TIME_FACTOR:-1} ))
	while [ "$_cl_i" -lt "$_cl_n" ]; do
		case "$(screen "$1")" in *"$2"*) ;; *) return 0 ;; esac
		sleep 0.1
		_cl_i=$((_cl_i + 1))
	done
	return 1
}

# wait_until TENTHS COMMAND...: poll until COMMAND succeeds, with the same deadline rules as
# wait_for. For state the screen text alone cannot show (a row, a process, a layout).
wait_until() {
	_wu_i=0
	_wu_n=$(( $1 * ${TEST_TIME_FACTOR:-1} ))
	shift
	while [ "$_wu_i" -lt "$_wu_n" ]; do
		"$@" && return 0
		sleep 0.1
		_wu_i=$((_wu_i + 1))
	done
	return 1
}

# expect_sql NAME SQL WANT [TENTHS]: poll the test database until SQL returns WANT. What the
# console records stays; a message on screen can scroll away before a capture sees it.
_sql_is() { _es_got=$(psql_q "$1" 2>&1); [ "$_es_got" = "$2" ]; }
expect_sql() {
	_es_got=
	if wait_until "${4:-100}" _sql_is "$2" "$3"; then ok "$1"; else
		fail "$1" "got '$_es_got', want '$3'"
	fi
}

# expect_screen NAME SESSION TEXT [TENTHS]
expect_screen() {
	if wait_for "$2" "$3" "${4:-100}"; then ok "$1"; else
		fail "$1" "'$3' not on screen: $(screen "$2" | tr -s ' ' | head -c 1500)"
	fi
}

# expect_screen_re NAME SESSION ERE [TENTHS]: like expect_screen, for an extended regular
# expression on one line of the screen (a count that must have moved, a layout's width).
screen_re() { screen "$1" | LC_ALL=C.UTF-8 grep -qE -- "$2"; }
expect_screen_re() {
	if wait_until "${4:-100}" screen_re "$2" "$3"; then ok "$1"; else
		fail "$1" "/$3/ not on screen: $(screen "$2" | tr -s ' ' | head -c 1500)"
	fi
}

keys() { s=$1; shift; tm send-keys -t "$s" "$@"; }
