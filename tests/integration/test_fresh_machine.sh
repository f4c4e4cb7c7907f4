# A fresh machine: the build's flags come from pkg-config only after `make deps` has run, so a
# first `make test` or `make run` on a machine missing a -dev package compiles (issue: the
# flags were computed when make read the Makefile, before deps installed anything). Also
# --version as GNU tools print it, and the no-color convention.

# A pkg-config that knows nothing until the marker exists, and a deps that creates it: what
# a machine missing libcjson-dev looks like to make, before and after `make deps`.
stub=$TEST_TMP/stub
mkdir -p "$stub"
marker=$stub/installed
real_pc=$(command -v pkg-config)
cat >"$stub/pkg-config" <<STUB
#!/bin/sh
[ -e '$marker' ] || exit 1
exec '$real_pc' "\$@"
STUB
printf 'touch %s\n' "$marker" >"$stub/deps-installs.sh"
printf 'true\n' >"$stub/deps-nothing.sh"
chmod +x "$stub/pkg-config"
objs="src/backup/backup_catalog.o src/core/db.o src/tui/tui.o"

# stub_build DEPS-SCRIPT DIR: `make build` with the stubs; the goals are objects that need
# cJSON's, libpq's and ncursesw's include paths.
stub_build() {
	goals=
	for o in $objs; do goals="$goals $2/$o"; done
	make -C "$TOP" -s PKG_CONFIG="$stub/pkg-config" DEPS_SCRIPT="$1" BUILD="$2" \
		BIN="$2/midsops" BUILD_GOALS="$goals" build >"$2.log" 2>&1
}
rm -f "$marker"
if stub_build "$stub/deps-nothing.sh" "$TEST_TMP/b-none"; then
	fail "without the packages the build fails (the stub withholds the flags)" "$(tail -n 3 "$TEST_TMP/b-none.log")"
else
	ok "without the packages the build fails (the stub withholds the flags)"
fi
rm -f "$marker"
if stub_build "$stub/deps-installs.sh" "$TEST_TMP/b-deps"; then
	ok "a build whose deps installs the packages compiles on the first try"
else
	fail "a build whose deps installs the packages compiles on the first try" "$(grep -m 3 -i 'error' "$TEST_TMP/b-deps.log")"
fi
for o in $objs; do
	[ -s "$TEST_TMP/b-deps/$o" ] || fail "object $o built" "missing"
done
# `test` and `run` build through that same path, after deps.
rules=$(make -C "$TOP" -pq -f Makefile 2>/dev/null)
printf '%s\n' "$rules" | grep -qx 'test: build' && ok "make test builds after deps (test: build)" \
	|| fail "make test builds after deps" "no 'test: build' rule"
printf '%s\n' "$rules" | grep -qx 'run: build' && ok "make run builds after deps (run: build)" \
	|| fail "make run builds after deps" "no 'run: build' rule"
grep -q 'make deps' "$TOP/.ci/run" && grep -v '^#' "$TOP/.ci/run" | grep -q 'make deps' \
	&& fail ".ci/run calls make test alone" ".ci/run still runs make deps" \
	|| ok ".ci/run calls make test alone, as README says"

# --version: one line, GNU style; version --json keeps the detail.
expect_exit 0 "--version exits 0" "$MIDSOPS" --version
printf '%s\n' "$OUT" | grep -Eqx 'midsops [0-9]+\.[0-9]+\.[0-9]+( \([A-Za-z0-9._+-]+\))?' \
	&& ok "--version prints 'midsops X.Y.Z' and the git description" || fail "--version line" "$OUT"
assert_eq "$(printf '%s\n' "$OUT" | wc -l)" 1 "--version prints one line"
if [ -d "$TOP/.git" ]; then
	# The build's description names a commit of this checkout (HEAD when built, or an
	# ancestor of HEAD if commits came after the build).
	desc=$(printf '%s' "$OUT" | sed -n 's/^midsops [0-9.]* (\(.*\))$/\1/p')
	hash=$(printf '%s' "$desc" | sed 's/-dirty$//; s/.*-g//')
	if [ -n "$hash" ] && git -C "$TOP" merge-base --is-ancestor "$hash" HEAD 2>/dev/null; then
		ok "--version names a commit of this checkout ($desc)"
	else
		fail "--version names a commit of this checkout" "'$desc' is not an ancestor of HEAD"
	fi
fi
OUT=$("$MIDSOPS" version --json)
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)
assert d["version"].count(".")==2 and "libpq" in d and "cjson" in d and "git" in d, d' \
	&& ok "version --json keeps the detail (version, git, libpq, cjson)" || fail "version --json" "$OUT"

# NO_COLOR counts only when set and not empty: status in a real terminal (tmux).
tm() { tmux -L "$TMUX_SOCKET" "$@"; }
colour_run() {
	w=$TEST_TMP/colour.sh
	{
		echo '#!/bin/sh'
		printf '%s\n' "$1"
		printf "export MIDSOPS_DSN='%s' TERM=tmux-256color\n" "$MIDSOPS_DSN"
		printf "'%s' db-check; echo DONE-MARK; sleep 30\n" "$MIDSOPS"
	} >"$w"
	chmod +x "$w"
	tm kill-session -t colour 2>/dev/null
	tm new-session -d -x 120 -y 40 -s colour "$w"
	for _ in $(seq 1 100); do
		tm capture-pane -p -t colour | grep -q DONE-MARK && break
		sleep 0.1
	done
	tm capture-pane -p -e -t colour
	tm kill-session -t colour 2>/dev/null
}
esc=$(printf '\033[')
out=$(colour_run 'export NO_COLOR=')
case "$out" in *"$esc"*) ok "NO_COLOR set but empty leaves colour on" ;;
*) fail "NO_COLOR set but empty leaves colour on" "no escape sequence in: $(printf '%s' "$out" | head -c 300)" ;; esac
out=$(colour_run 'export NO_COLOR=1')
case "$out" in *DONE-MARK*) ;; *) fail "NO_COLOR=1 run finished" "$out" ;; esac
case "$out" in *"$esc"*) fail "NO_COLOR=1 turns colour off" "escape sequence found" ;;
*) ok "NO_COLOR=1 turns colour off" ;; esac
