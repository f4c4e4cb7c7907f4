# Security of what midsops is given (audit findings 4, 5, 8, 9 and 10): secrets in every
# form libpq reads, the target's options reaching every child tool, names from an export
# reaching the terminal, runbook parameters as options, and who may set notify_command.
PW='Qk4-secret-Vb27pw'
KPW='Kp9-sslkey-Lm31pw'
MIDSOPS_SHARE=${MIDSOPS_SHARE:-$TOP}
export MIDSOPS_SHARE
"$MIDSOPS" db-create >/dev/null 2>&1
# The private cluster's socket, port, login and this file's database, for URIs.
eval "$(python3 -c 'import shlex, sys
kv = dict(w.split("=", 1) for w in shlex.split(sys.argv[1]))
for k in ("host", "port", "user", "dbname"):
    print("C_%s=%s" % (k, shlex.quote(kv.get(k, ""))))' "$MIDSOPS_DSN")"
SOCK_URI=$(printf '%s' "$C_host" | sed 's|/|%2F|g')
DATA=$("$MIDSOPS" cluster status --json | json_get .data_directory)
PEER=$(stat -c %U "$DATA")
REPO=$TEST_TMP/repo
CONF=$TEST_TMP/in.conf
unset_dsn() { env -u MIDSOPS_DSN "$@"; }

# --- 4: secrets in every form libpq reads --------------------------------------------
URI="postgresql://$C_user@$SOCK_URI:$C_port/$C_dbname?%70assword=$PW&application_name=uri"
cat >"$CONF" <<EOC
[midsops]
backup_dir = $REPO

[env kv]
dsn = $MIDSOPS_DSN sslpassword=$KPW

[env uri]
dsn = $URI
EOC
chmod 600 "$CONF"
for form in "" --json; do
	out=$(unset_dsn "$MIDSOPS" --config "$CONF" config show $form 2>&1)
	assert_not_contains "$out" "$KPW" "config show $form: sslpassword= is masked"
	assert_not_contains "$out" "$PW" "config show $form: a URI's ?%70assword= is masked"
	assert_contains "$out" "%70assword=********" "config show $form: the masked URI keeps its shape"
	for e in kv uri; do
		out=$(unset_dsn "$MIDSOPS" --config "$CONF" --env $e config $form 2>&1)
		case "$out" in *"$KPW"* | *"$PW"*) fail "config $form --env $e shows no secret" "$out" ;;
		*) ok "config $form --env $e shows no secret" ;; esac
	done
done
# Connection errors show the target: masked, and libpq's own parse errors, which quote the
# value they stumbled on, are scrubbed too.
for dsn in "host=/nonexistent port=1 sslpassword=$KPW" \
	"postgresql://nobody@%2Fnonexistent:1/x?%70assword=$PW" \
	"postgresql://nobody@%2Fnonexistent:1/x?password=$PW%zz"; do
	out=$("$MIDSOPS" --dsn "$dsn" db-check 2>&1)
	case "$out" in *"$KPW"* | *"$PW"*) fail "a connection error shows no secret ($(printf '%s' "$dsn" | cut -c1-30)...)" "$out" ;;
	*) ok "a connection error shows no secret ($(printf '%s' "$dsn" | cut -c1-30)...)" ;; esac
	out=$("$MIDSOPS" --dsn "$dsn" db-check --json 2>&1)
	assert_not_contains "$out" "$PW" "--json connection error: no URI password"
	assert_not_contains "$out" "$KPW" "--json connection error: no sslpassword"
done

# --- 5: the target's options reach every child tool --------------------------------
# requirepeer=nobody on the Unix socket: libpq refuses the server (it runs as $PEER), so
# every command refuses, the child tools as midsops itself does.
RP="$MIDSOPS_DSN requirepeer=nobody"
expect_exit 2 "requirepeer=nobody: db-check refuses" env MIDSOPS_DSN="$RP" "$MIDSOPS" db-check
assert_contains "$OUT" "requirepeer" "db-check says why"
OUT=$(MIDSOPS_DSN="$RP" "$MIDSOPS" db-shell -c 'select 42' 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && ! printf '%s' "$OUT" | grep -qx ' *42'; then
	ok "requirepeer=nobody: db-shell (psql) refuses too"
else fail "requirepeer=nobody: db-shell (psql) refuses too" "exit $rc: $OUT"; fi
assert_contains "$OUT" "requirepeer" "psql says why"
for c in db-backup-archive db-backup-full; do
	OUT=$(MIDSOPS_DSN="$RP" "$MIDSOPS" --config "$CONF" $c 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] && ok "requirepeer=nobody: $c refuses" || fail "requirepeer=nobody: $c refuses" "exit 0: $OUT"
	assert_contains "$OUT" "requirepeer" "$c says why"
done

# What each child gets: the server tools come from `pg_config --bindir`, psql from PATH, so
# a pg_config and wrappers first in PATH record every child's PG* environment, its argv and
# its private service file, then run the real tool. The target sets the options the audit
# found dropped, with values the Unix socket accepts, plus the two libpq takes from no
# variable (sslpassword, keepalives) and a password.
REAL_BIN=$(pg_config --bindir)
FAKE=$TEST_TMP/fakebin
mkdir -p "$FAKE"
chmod 0755 "$FAKE"
# Symlinks to the real tools; each wrapper replaces its link (rm first: writing through
# the link would overwrite the real tool).
for f in "$REAL_BIN"/*; do
	case $(basename "$f") in pg_config | pg_dump | pg_basebackup | pg_restore | psql) ;;
	*) ln -s "$f" "$FAKE/$(basename "$f")" ;; esac
done
rm -f "$FAKE/pg_config"
printf '#!/bin/sh\n[ "$1" = --bindir ] && echo %s && exit 0\nexec %s/pg_config "$@"\n' "$FAKE" "$REAL_BIN" >"$FAKE/pg_config"
chmod 0755 "$FAKE/pg_config"
LOG=$TEST_TMP/children.log
for t in pg_dump pg_basebackup pg_restore psql; do
	rm -f "$FAKE/$t"
	cat >"$FAKE/$t" <<EOW
#!/bin/sh
{ echo "== $t"; echo "argv: \$*"; env | grep '^PG' | sort
  [ -n "\${PGSERVICEFILE:-}" ] && cat "\$PGSERVICEFILE"; } >>"$LOG"
exec "$REAL_BIN/$t" "\$@"
EOW
	chmod 0755 "$FAKE/$t"
done
OPTS="requirepeer=$PEER channel_binding=disable sslmode=disable sslcrl=/nonexistent/crl.pem gssencmode=disable ssl_min_protocol_version=TLSv1.3 target_session_attrs=read-write keepalives=1 sslpassword=$KPW password=$PW"
ALL="$MIDSOPS_DSN $OPTS"
: >"$LOG"
PATH="$FAKE:$PATH" MIDSOPS_DSN="$ALL" "$MIDSOPS" --config "$CONF" db-shell -XAtc 'select 1' >/dev/null 2>&1
PATH="$FAKE:$PATH" MIDSOPS_DSN="$ALL" "$MIDSOPS" --config "$CONF" db-backup-archive >"$TEST_TMP/archive.out" 2>&1 ||
	fail "db-backup-archive with every option" "$(tail -n 3 "$TEST_TMP/archive.out")"
PATH="$FAKE:$PATH" MIDSOPS_DSN="$ALL" "$MIDSOPS" --config "$CONF" db-backup-full >"$TEST_TMP/full.out" 2>&1 ||
	fail "db-backup-full with every option" "$(tail -n 3 "$TEST_TMP/full.out")"
for t in psql pg_dump pg_basebackup; do
	got=$(sed -n "/^== $t\$/,/^== /p" "$LOG")
	if [ -z "$got" ]; then
		fail "$t ran with the target" "no record in $LOG"
		continue
	fi
	missing=""
	for kv in PGREQUIREPEER=$PEER PGCHANNELBINDING=disable PGSSLMODE=disable \
		PGSSLCRL=/nonexistent/crl.pem PGGSSENCMODE=disable PGSSLMINPROTOCOLVERSION=TLSv1.3 \
		PGTARGETSESSIONATTRS=read-write PGPASSWORD=$PW keepalives=1 sslpassword=$KPW; do
		printf '%s\n' "$got" | grep -qx "$kv" || missing="$missing $kv"
	done
	assert_eq "$missing" "" "$t gets every option of the target (PG* variables, service file)"
	printf '%s\n' "$got" | grep '^argv:' | grep -qF -e "$PW" -e "$KPW" &&
		fail "$t's argv holds no secret" "$(printf '%s\n' "$got" | grep '^argv:')" ||
		ok "$t's argv holds no secret"
done
# The password never in a child's /proc/PID/cmdline: db-shell execs psql in its place.
MIDSOPS_DSN="$MIDSOPS_DSN password=$PW" "$MIDSOPS" db-shell -XAtqc 'select pg_sleep(2)' >/dev/null 2>&1 &
bg=$!
seen="" hit=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
	sleep 0.2
	cl=$(tr '\0' ' ' <"/proc/$bg/cmdline" 2>/dev/null)
	case "$cl" in *psql\ *) seen=$cl ;; esac
	case "$cl" in *"$PW"*) hit=$cl ;; esac
done
wait "$bg"
[ -n "$seen" ] && ok "db-shell runs psql ($seen)" || fail "db-shell runs psql" "never saw psql in /proc/$bg"
assert_eq "$hit" "" "psql's /proc/PID/cmdline holds no password"
# A service (libpq reads it from a service file) is resolved by midsops, so the target's
# own options keep precedence over the service's, as in midsops's own connection: given to
# psql as PGSERVICE, the service's dbname would have won over the target's.
SVC=$TEST_TMP/pg_service.conf
printf '[sec]\nhost=%s\nport=%s\nuser=%s\ndbname=postgres\n' "$C_host" "$C_port" "$C_user" >"$SVC"
got=$(PGSERVICEFILE=$SVC MIDSOPS_DSN="service=sec dbname=$C_dbname" "$MIDSOPS" db-shell -XAtqc 'select current_database()' 2>&1)
assert_eq "$got" "$C_dbname" "db-shell: the target's dbname wins over its service's, as for midsops"
expect_exit 78 "db-shell: an undefined service is refused, not libpq's defaults" \
	env PGSERVICEFILE="$SVC" MIDSOPS_DSN="service=nosuch" "$MIDSOPS" db-shell -XAtqc 'select 1'
assert_contains "$OUT" 'service "nosuch"' "the refusal names the service"
# libpq 15 does not know require_auth (16 does: PGREQUIREAUTH then follows by itself).
if ! pg_config --version | grep -q ' 1[5]\.'; then
	skip "require_auth on libpq 15" "libpq is $(pg_config --version)"
else
	expect_exit 78 "require_auth on libpq 15: db-shell refuses the unknown option" \
		env MIDSOPS_DSN="$MIDSOPS_DSN require_auth=scram-sha-256" "$MIDSOPS" db-shell -c 'select 1'
	assert_contains "$OUT" "require_auth" "the refusal names require_auth"
fi

# --- 8: names from an export never reach the terminal raw -----------------------------
EX=$TEST_TMP/export-evil
cp -r "$MINI_EXPORT" "$EX"
ESC=$(printf '\033') BEL=$(printf '\007')
NL='
'
: >"$EX/tables/w${ESC}]0;PWNED${BEL}${ESC}[2J.json"
printf '{}' >"$EX/tables/split${NL}FORGED line.json"
OUT=$("$MIDSOPS" export-validate "$EX" 2>&1)
case "$OUT" in *"$ESC"* | *"$BEL"*) fail "export-validate: no escape sequence from a file name" "$(printf '%s' "$OUT" | cat -v | head -n 5)" ;;
*) ok "export-validate: no escape sequence from a file name" ;; esac
assert_contains "$OUT" 'w\e]0;PWNED\x07\e[2J.json' "the name is shown escaped"
assert_contains "$OUT" 'split\nFORGED line.json' "a newline in a name is shown escaped"
if printf '%s\n' "$OUT" | grep -q '^FORGED'; then
	fail "a newline in a name does not split the table" "$(printf '%s\n' "$OUT" | grep -n FORGED)"
else ok "a newline in a name does not split the table"; fi
OUT=$("$MIDSOPS" export-validate "$EX" --json 2>&1)
assert_contains "$OUT" '\u001b]0;PWNED\u0007' "--json escapes the name as JSON"

# --- 9: runbook parameters never become options -------------------------------------
RB=$XDG_CONFIG_HOME/midsops/runbooks
mkdir -p "$RB"
cat >"$RB/t-dash.json" <<'EOF'
{"title": "A parameter", "params": [{"name": "run_id", "prompt": "Run"}],
 "sections": [{"title": "S", "steps": [
  {"id": "st", "kind": "check", "title": "Status", "command": ["import-status", "${run_id}"]}]}]}
EOF
expect_exit 64 "a parameter value '--dsn=host=evil' is refused" \
	"$MIDSOPS" wizard t-dash --non-interactive run_id=--dsn=host=evil
assert_contains "$OUT" "starts with '-'" "the refusal says why"
assert_not_contains "$OUT" '$ midsops' "no step ran with it"
OUT=$(printf -- '--config=/tmp/x\n' | "$MIDSOPS" wizard t-dash 2>&1)
assert_contains "$OUT" "starts with '-'" "a prompted value starting with '-' is refused"
cat >"$RB/t-dash-ok.json" <<'EOF'
{"title": "A dash allowed", "params": [{"name": "run_id", "prompt": "Run", "allow_dash": true}],
 "sections": [{"title": "S", "steps": [
  {"id": "st", "kind": "check", "title": "Status", "command": ["import-status", "${run_id}"]}]}]}
EOF
OUT=$("$MIDSOPS" wizard t-dash-ok --non-interactive run_id=-5 2>&1)
assert_contains "$OUT" '$ midsops import-status -5' "allow_dash lets a value start with '-'"
OUT=$("$MIDSOPS" wizard t-dash-ok --non-interactive run_id=--dsn=host=evil 2>&1)
assert_contains "$OUT" "cannot choose its own --dsn" "allow_dash still never lets a value set --dsn"
cat >"$RB/t-dash-def.json" <<'EOF'
{"title": "A default", "params": [{"name": "run_id", "prompt": "Run", "default": "--dsn=x"}],
 "sections": [{"title": "S", "steps": [
  {"id": "st", "kind": "check", "title": "Status", "command": ["import-status", "${run_id}"]}]}]}
EOF
expect_exit 78 "a default starting with '-' is refused at load" "$MIDSOPS" wizard t-dash-def --non-interactive
rm -f "$RB"/t-dash*.json
for cmd in '["db-check", "--config", "/tmp/other.conf"]' '"db-check --dsn=host=evil"' \
	'["db-check", "--dsn", "host=evil"]' '["import-status", "--config=/tmp/x"]'; do
	cat >"$RB/t-retarget.json" <<EOF
{"title": "Retarget", "sections": [{"title": "S", "steps": [
  {"id": "a", "kind": "check", "title": "t", "command": $cmd}]}]}
EOF
	expect_exit 1 "wizard validate refuses a step with $cmd" "$MIDSOPS" wizard validate
	assert_contains "$OUT" "t-retarget.json: step 1 'a':" "the refusal names the file and the step ($cmd)"
done
rm -f "$RB/t-retarget.json"
expect_exit 0 "the shipped runbooks still validate" "$MIDSOPS" wizard validate

# --- 10: notify_command only from a file no one else may write ------------------------
MARK=$TEST_TMP/notified
NCONF=$TEST_TMP/notify.conf
printf '[midsops]\nnotify_command = touch %s\n' "$MARK" >"$NCONF"
cat >"$RB/t-notify.json" <<'EOF'
{"title": "Notify", "sections": [{"title": "S", "steps": [
  {"id": "n", "kind": "notify", "title": "Tell", "subject": "hello"}]}]}
EOF
for mode in 620 602 666; do
	chmod $mode "$NCONF"
	expect_exit 78 "notify_command in a mode $mode config is refused" "$MIDSOPS" --config "$NCONF" config show
	assert_contains "$OUT" "bad owner or permissions" "mode $mode: the refusal says why, as ssh does"
done
chmod 600 "$NCONF"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$NCONF"
	expect_exit 78 "notify_command in a config owned by another user is refused" "$MIDSOPS" --config "$NCONF" config show
	assert_contains "$OUT" "owned by uid $(id -u nobody)" "the refusal names the owner"
	expect_exit 78 "... and no notification runs from it" "$MIDSOPS" --config "$NCONF" wizard t-notify --non-interactive
	[ -e "$MARK" ] && fail "no notify_command ran from a foreign config" "$MARK exists" || ok "no notify_command ran from a foreign config"
	chown "$(id -u)" "$NCONF"
else
	skip "notify_command in a config owned by another user" "needs root to chown"
fi
expect_exit 0 "notify_command in a 0600 config of the user is accepted" "$MIDSOPS" --config "$NCONF" config show
expect_exit 0 "its notify step runs" "$MIDSOPS" --config "$NCONF" wizard t-notify --non-interactive
[ -e "$MARK" ] && ok "notify_command ran" || fail "notify_command ran" "no $MARK: $OUT"
printf '[midsops]\ntheme = default\n' >"$TEST_TMP/plain.conf"
chmod 664 "$TEST_TMP/plain.conf"
expect_exit 0 "a group-writable config without notify_command still loads" "$MIDSOPS" --config "$TEST_TMP/plain.conf" config show
rm -f "$RB/t-notify.json"
