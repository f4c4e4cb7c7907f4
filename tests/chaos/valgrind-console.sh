#!/bin/sh
# make valgrind-console: one console session under valgrind, in a private tmux server,
# against a private cluster in a temp dir (always removed). A few seconds of live panes,
# help, focus changes, a command from the bar, then q. Fails on any invalid read or write,
# use of uninitialised memory, or definitely lost block.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
MIDSOPS=${MIDSOPS:-$TOP/midsops}
SECS=${VALGRIND_SECONDS:-6}
command -v valgrind >/dev/null || { echo "valgrind-console: install valgrind (apt-get install -y valgrind)"; exit 1; }
command -v tmux >/dev/null || { echo "valgrind-console: install tmux"; exit 1; }

ROOT=$(mktemp -d /tmp/midsops-vg.XXXXXX)
chmod 0711 "$ROOT"
export XDG_DATA_HOME=$ROOT/data XDG_STATE_HOME=$ROOT/state XDG_CONFIG_HOME=$ROOT/config
export XDG_RUNTIME_DIR=$ROOT/run
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/midsops"
MIDSOPS_PGPORT=$((55000 + $$ % 5000))
export MIDSOPS_PGPORT MIDSOPS_CLUSTER_EXTRA_CONF="fsync = off" NO_COLOR=1
unset MIDSOPS_DSN MIDSOPS_CONFIG PGHOST PGSERVICE PGDATABASE PGPORT PGUSER PGPASSWORD
SOCK=midsops-vg-$$
cleanup() {
	tmux -L "$SOCK" kill-server >/dev/null 2>&1
	"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	for pid in $(find "$ROOT" -name postmaster.pid 2>/dev/null); do kill -9 "$(head -n 1 "$pid")" 2>/dev/null; done
	[ -n "${KEEP_LOG:-}" ] && cp "$ROOT/valgrind.log" "$KEEP_LOG" 2>/dev/null
	rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$MIDSOPS" cluster start >"$ROOT/start.log" 2>&1 || { cat "$ROOT/start.log"; exit 1; }
DSN=$("$MIDSOPS" cluster status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conninfo"])')
MIDSOPS_DSN=$DSN "$MIDSOPS" db-create >/dev/null 2>&1
MIDSOPS_DSN=$DSN "$MIDSOPS" import "$TOP/tests/data/export-mini" >/dev/null 2>&1
printf '[midsops]\nrefresh = 1\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"

{
	echo '#!/bin/sh'
	for v in XDG_DATA_HOME XDG_STATE_HOME XDG_CONFIG_HOME XDG_RUNTIME_DIR MIDSOPS_PGPORT; do
		eval "printf 'export %s=%s\n' $v \"'\$$v'\""
	done
	printf "export MIDSOPS_DSN='%s' MIDSOPS_SHARE='%s' NO_COLOR=1 LANG=C.UTF-8 LC_ALL=C.UTF-8\n" "$DSN" "$TOP"
	printf "valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
--errors-for-leak-kinds=definite --track-origins=yes --log-file='%s' '%s' console\n" \
		"$ROOT/valgrind.log" "$MIDSOPS"
	printf "echo \$? >'%s'\n" "$ROOT/rc"
} >"$ROOT/run.sh"
chmod +x "$ROOT/run.sh"
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
tm new-session -d -x 120 -y 35 -s vg "$ROOT/run.sh; sleep 30"

# Valgrind is slow to start: wait for the first frame.
i=0
while [ $i -lt 300 ]; do
	tm capture-pane -p -t vg 2>/dev/null | grep -q "Database health" && break
	sleep 0.1
	i=$((i + 1))
done
[ $i -lt 300 ] || echo "valgrind-console: the console did not draw within 30 s"
sleep "$SECS"
for k in '?' Escape Tab Tab Down Down Enter Escape z z Tab; do
	tm send-keys -t vg "$k"
	sleep 0.3
done
tm send-keys -t vg ':'
tm send-keys -t vg -l 'version'
tm send-keys -t vg Enter
sleep 3
tm send-keys -t vg q
i=0
while [ ! -s "$ROOT/rc" ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
rc=$(cat "$ROOT/rc" 2>/dev/null)
errors=$(grep -c "Invalid read\|Invalid write\|uninitialised\|definitely lost in" "$ROOT/valgrind.log" 2>/dev/null)
summary=$(grep -m1 "ERROR SUMMARY" "$ROOT/valgrind.log" | sed 's/^==[0-9]*== //')
lost=$(grep -m1 "definitely lost:" "$ROOT/valgrind.log" | sed 's/^==[0-9]*== *//')
echo "== valgrind on one console session: exit ${rc:-none}; ${summary:-no summary}; ${lost:-definitely lost: 0 bytes}"
if [ "${rc:-x}" != 0 ] || [ "$errors" != 0 ] || [ -z "$summary" ]; then
	sed -n '1,120p' "$ROOT/valgrind.log"
	echo "valgrind-console: FAILED"
	exit 1
fi
echo "valgrind-console: no invalid reads or writes, no definite leaks"
