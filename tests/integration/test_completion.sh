# Shell completion: 'completion bash' is generated from the command table; sourced in a bash
# without rc files (and again with bash-completion loaded) its function completes commands,
# options, environments, subcommands, runbooks, themes, files, backup ids and import run ids.
# The function is driven as readline would: COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set,
# then COMPREPLY read back.

SCRIPT=$TEST_TMP/midsops.bash
expect_exit 0 "completion bash" "$MIDSOPS" completion bash
"$MIDSOPS" completion bash >"$SCRIPT" 2>/dev/null
assert_contains "$(cat "$SCRIPT")" "complete -F _midsops midsops" "the script registers _midsops for midsops"
if err=$(bash -n "$SCRIPT" 2>&1); then ok "the script is valid bash"; else fail "the script is valid bash" "$err"; fi
expect_exit 64 "completion for another shell exits 64" "$MIDSOPS" completion zsh
expect_exit 64 "completion words of an unknown kind exits 64" "$MIDSOPS" completion words nope
assert_contains "$OUT" "envs, runs, backups, runbooks or themes" "completion words names the kinds"

# Generated from the table: every listed command has its arguments' spec, hidden ones none.
missing=
for c in $("$MIDSOPS" help --json | python3 -c 'import json,sys; [print(c["command"]) for c in json.load(sys.stdin)["commands"]]'); do
	grep -q "^	$c) _o=" "$SCRIPT" || missing="$missing $c"
done
assert_eq "$missing" "" "every command of 'midsops help' has a spec in the script"
assert_not_contains "$(cat "$SCRIPT")" "wal-push" "hidden commands are not in the script"

got=$(bash --norc --noprofile -c '. "$1" && complete -p midsops' _ "$SCRIPT" 2>&1)
assert_eq "$got" "complete -F _midsops midsops" "complete -p midsops shows the function"

# The user's config (two environments, a backup repository), runbook and theme; shipped
# runbooks and themes from the source tree.
export MIDSOPS_SHARE=$TOP
mkdir -p "$XDG_CONFIG_HOME/midsops/runbooks" "$XDG_CONFIG_HOME/midsops/themes"
printf '[midsops]\nbackup_dir = %s\n\n[env staging]\ndsn = host=/nonexistent dbname=s\n\n[env production]\ndsn = host=/nonexistent dbname=p\n' \
	"$TEST_TMP/repo" >"$XDG_CONFIG_HOME/midsops/midsops.conf"
cp runbooks/daily-check.json "$XDG_CONFIG_HOME/midsops/runbooks/ci-drill.json"
printf 'normal = default default\n' >"$XDG_CONFIG_HOME/midsops/themes/ci-theme.theme"
printf '[env elsewhere]\ndsn = host=/nonexistent\n' >"$TEST_TMP/other.conf"
# "midsops" on the line runs the binary under test, as the installed one would.
mkdir -p "$TEST_TMP/bin"
ln -sf "$MIDSOPS" "$TEST_TMP/bin/midsops"

# The line is split as readline splits it: at blanks, and '=' (COMP_WORDBREAKS) apart.
cat >"$TEST_TMP/drive.bash" <<'EOF'
mode=$1 script=$2 line=$3
if [ "$mode" = full ]; then
	. /usr/share/bash-completion/bash_completion || exit 9
	declare -F _init_completion >/dev/null || exit 9
fi
. "$script" || exit 8
set -f
COMP_LINE=$line COMP_POINT=${#line} COMP_WORDS=()
for w in $line; do
	if [[ $w == *=* ]]; then
		COMP_WORDS+=("${w%%=*}" "=")
		[[ ${w#*=} ]] && COMP_WORDS+=("${w#*=}")
	else
		COMP_WORDS+=("$w")
	fi
done
[[ $line == *' ' ]] && COMP_WORDS+=("")
set +f
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_midsops midsops "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
((${#COMPREPLY[@]})) && printf '%s\n' "${COMPREPLY[@]}"
exit 0
EOF

# comp MODE LINE: the completions for LINE with the cursor at its end, one a line.
comp() {
	PATH="$TEST_TMP/bin:$PATH" bash --norc --noprofile "$TEST_TMP/drive.bash" "$1" "$SCRIPT" "$2" 2>&1
}
# offers NAME MODE LINE WORD...: pass when every WORD is among the completions.
offers() {
	o_name=$1 o_mode=$2 o_line=$3
	shift 3
	o_got=$(comp "$o_mode" "$o_line")
	for o_w in "$@"; do
		if ! printf '%s\n' "$o_got" | grep -qxF -- "$o_w"; then
			fail "$o_name" "'$o_w' not offered for '$o_line': $(printf '%s' "$o_got" | tr '\n' ' ' | head -c 400)"
			return
		fi
	done
	ok "$o_name"
}
# offers_only NAME MODE LINE WORDS: the completions, space-separated, are exactly WORDS.
offers_only() {
	assert_eq "$(comp "$2" "$3" | tr '\n' ' ' | sed 's/ $//')" "$4" "$1"
}

offers_only "a command from its prefix" plain "midsops db-ch" "db-check"
offers_only "help completes command names" plain "midsops help db-backup-l" "db-backup-list"
offers_only "a unique prefix stands for its command" plain "midsops db-backup-li --h" "--help"
offers "a command's options and the global ones" plain "midsops db-check --" --json --help --env --no-color --dsn
offers "import's own options" plain "midsops import --" --dry-run --no-promote --max-errors
offers "a short alias" plain "midsops import-debug -" -v
offers "timeline's own options" plain "midsops timeline --" --since --markdown --json
offers_only "timeline from its prefix" plain "midsops timel" "timeline"
offers "sessions' own options" plain "midsops sessions --" --all-databases --blocking --json
offers_only "session-cancel by its prefix" plain "midsops session-c" "session-cancel"
offers_only "session-terminate's confirmation" plain "midsops session-terminate 123 --y" "--yes"
offers_only "global options before a command" plain "midsops --no-c" "--no-color"
offers "--env NAME from the config's environments" plain "midsops --env " staging production embedded
offers_only "--env=NAME" plain "midsops --env=st" "staging"
offers_only "--env after the command" plain "midsops status --env pro" "production"
offers_only "--config FILE on the line changes the environments" plain \
	"midsops --config $TEST_TMP/other.conf --env " "elsewhere embedded"
offers_only "literal subcommands from the usage" plain "midsops cluster " "init start stop status unfence"
offers_only "a subcommand's own words" plain "midsops cluster stop " "smart fast immediate"
offers "wizard: subcommands, shipped and user runbooks" plain "midsops wizard " list resume daily-check ci-drill
offers_only "wizard: a runbook by prefix" plain "midsops wizard ci-" "ci-drill"
offers "console --theme: shipped and user themes" plain "midsops console --theme " default dark ci-theme
offers_only "global --theme=NAME" plain "midsops --theme=high" "high-contrast"
offers "import DIR completes files" plain "midsops import tests/data/export-mi" tests/data/export-mini
offers_only "--target-dir completes directories only" plain "midsops db-restore-full x --target-dir tests/data/b" "tests/data/bad"
offers_only "no argument beyond a command's last" plain "midsops import-status 1 " ""
offers_only "no option after a value-taking option" plain "midsops import --max-errors " ""
got=$(comp plain "midsops db-shell --js")
assert_not_contains "$got" "--json" "db-shell's arguments are psql's, not completed as midsops options"

# Backup ids come from the repository.
offers_only "no backup id before a backup" plain "midsops db-backup-verify " ""
expect_exit 0 "completion: an archive backup" "$MIDSOPS" db-backup-archive
BK=$(ls "$TEST_TMP/repo" 2>/dev/null | grep -- '-archive$' | tail -n 1)
[ -n "$BK" ] && ok "the backup is in the repository" || fail "the backup is in the repository" "none in $TEST_TMP/repo"
offers_only "db-backup-verify ID" plain "midsops db-backup-verify " "$BK"
offers_only "db-restore ID by prefix" plain "midsops db-restore ${BK%??????????}" "$BK"
offers_only "dr-restore --backup=ID" plain "midsops dr-restore --backup=" "$BK"
offers_only "a prefix of the command, then a backup id" plain "midsops db-backup-ve " "$BK"

# Import run ids come from the target's ops.import_runs.
offers_only "no run id before an import" plain "midsops import-status " ""
expect_exit 0 "completion: import the mini export" "$MIDSOPS" import "$MINI_EXPORT"
RUN=$(psql_q "select max(id) from ops.import_runs")
offers_only "import-status RUN" plain "midsops import-status " "$RUN"
offers_only "import-errors --run RUN" plain "midsops import-errors --last 1d --run " "$RUN"
offers_only "run ids come from --dsn on the line" plain "midsops --dsn host=/nonexistent import-status " ""

# A Tab never starts the embedded cluster, nor hangs on a server that is not there.
t0=$(date +%s)
expect_exit 0 "completion words runs: an unreachable server" "$MIDSOPS" --dsn "host=/nonexistent/sock dbname=x" completion words runs
assert_eq "$OUT" "" "completion words runs: nothing from an unreachable server"
assert_eq "$(env -u MIDSOPS_DSN XDG_DATA_HOME="$TEST_TMP/nodata" "$MIDSOPS" --config /dev/null completion words runs 2>&1)" "" \
	"completion words runs: nothing while the embedded cluster is down"
[ ! -e "$TEST_TMP/nodata/midsops/pg" ] && ok "completion words runs does not create or start the embedded cluster" ||
	fail "completion words runs does not create or start the embedded cluster" "$TEST_TMP/nodata/midsops/pg exists"
[ $(($(date +%s) - t0)) -lt 8 ] && ok "completion words runs gives up quickly" || fail "completion words runs gives up quickly" "$(($(date +%s) - t0))s"

# The same through bash-completion's _init_completion.
if [ -f /usr/share/bash-completion/bash_completion ]; then
	offers_only "bash-completion: a command from its prefix" full "midsops db-ch" "db-check"
	offers "bash-completion: options" full "midsops import --" --dry-run --json
	offers_only "bash-completion: --env=NAME" full "midsops --env=st" "staging"
	offers_only "bash-completion: --env NAME" full "midsops --env pro" "production"
	offers_only "bash-completion: a backup id" full "midsops dr-restore --backup " "$BK"
	offers_only "bash-completion: a run id" full "midsops import-debug " "$RUN"
	offers "bash-completion: files" full "midsops export-validate tests/data/export-mi" tests/data/export-mini
else
	skip "bash-completion" "/usr/share/bash-completion/bash_completion is absent"
fi
