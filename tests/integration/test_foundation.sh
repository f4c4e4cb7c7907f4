# Foundation: CLI, exit statuses, config, targets, the embedded cluster, schema, man page.

expect_exit 0 "db-check --json exits 0" "$MIDSOPS" db-check --json
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="OK", d' \
	&& ok "db-check --json is valid JSON with status OK" || fail "db-check json" "$OUT"
assert_contains "$OUT" '"buffer_hit_ratio"' "db-check reports the buffer hit ratio"
assert_contains "$OUT" '"waiting_locks"' "db-check reports waiting locks"

# A fresh database has had no import yet, which the imports section calls a WARNING.
OUT=$("$MIDSOPS" status 2>&1); rc=$?
[ "$rc" -le 1 ] && ok "status exits 0 or 1 on a fresh database" || fail "status exit" "exit $rc: $OUT"
for s in database system imports cache maintenance dr backups; do
	printf '%s\n' "$OUT" | grep -q "^$s\$" && ok "status shows the $s probe" || fail "status shows the $s probe" "$OUT"
done

expect_exit 2 "db-check on an unreachable target exits 2 (CRITICAL)" \
	"$MIDSOPS" --dsn "host=$TEST_TMP/nowhere port=1 dbname=x password=hunter2" db-check
assert_contains "$OUT" "cannot connect to host=$TEST_TMP/nowhere" "unreachable error names the target"
assert_not_contains "$OUT" "hunter2" "unreachable error masks the password"
assert_contains "$OUT" "password=********" "unreachable error shows the password masked"

expect_exit 64 "unknown command exits 64" "$MIDSOPS" db-chek
assert_contains "$OUT" "unknown command 'db-chek'; did you mean 'db-check'?" "unknown command suggests"
expect_exit 64 "a destructive prefix is refused" "$MIDSOPS" db-cre
expect_exit 3 "a wrong option to a check prints usage and exits 3 (UNKNOWN)" "$MIDSOPS" db-check --bogus
assert_contains "$OUT" "usage: midsops db-check" "wrong option shows the usage line"
expect_exit 64 "too many arguments exits 64" "$MIDSOPS" version extra
expect_exit 0 "COMMAND --help" "$MIDSOPS" db-check --help
assert_contains "$OUT" "usage: midsops db-check" "--help shows usage"
expect_exit 0 "help COMMAND" "$MIDSOPS" help status
expect_exit 0 "--version" "$MIDSOPS" --version
assert_contains "$OUT" "0." "--version prints a version"

# Config: malformed file -> file:line and 78; password masked in config show.
mkdir -p "$TEST_TMP/cfg"
printf '[midsops]\nrefresh = 2\nbogus_key = 1\n' >"$TEST_TMP/cfg/bad.conf"
expect_exit 78 "malformed config exits 78" "$MIDSOPS" --config "$TEST_TMP/cfg/bad.conf" import-status
expect_exit 3 "malformed config in a check is UNKNOWN (3)" "$MIDSOPS" --config "$TEST_TMP/cfg/bad.conf" status
assert_contains "$OUT" "$TEST_TMP/cfg/bad.conf:3: unknown key 'bogus_key'" "config error names file and line"
cat >"$TEST_TMP/cfg/good.conf" <<CONF
[midsops]
default_env = staging
[env staging]
dsn = host=/nonexistent dbname=stage password=t0psecret
[env production]
dsn = $MIDSOPS_DSN
CONF
expect_exit 0 "config show" env -u MIDSOPS_DSN "$MIDSOPS" --config "$TEST_TMP/cfg/good.conf" config show
assert_contains "$OUT" "default_env staging" "config show: default environment is the source"
assert_not_contains "$OUT" "t0psecret" "config show masks passwords"
expect_exit 0 "--env picks an environment over default_env" env -u MIDSOPS_DSN \
	"$MIDSOPS" --config "$TEST_TMP/cfg/good.conf" --env production db-check
expect_exit 2 "default_env is used without --env" env -u MIDSOPS_DSN \
	"$MIDSOPS" --config "$TEST_TMP/cfg/good.conf" db-check
expect_exit 0 "MIDSOPS_DSN beats the config's default_env" \
	"$MIDSOPS" --config "$TEST_TMP/cfg/good.conf" config show
assert_contains "$OUT" "MIDSOPS_DSN" "config show names MIDSOPS_DSN as the source"
expect_exit 0 "--dsn beats MIDSOPS_DSN" "$MIDSOPS" --dsn "$MIDSOPS_DSN" config show
assert_contains "$OUT" "--dsn" "config show names --dsn as the source"
expect_exit 78 "an unknown --env is a configuration error" env -u MIDSOPS_DSN "$MIDSOPS" --env nosuch import-status
expect_exit 3 "an unknown --env in a check is UNKNOWN (3)" env -u MIDSOPS_DSN "$MIDSOPS" --env nosuch db-check

# Schema: idempotent create and migrate, newer schema refused.
expect_exit 0 "db-create" "$MIDSOPS" db-create
expect_exit 0 "db-create again is idempotent" "$MIDSOPS" db-create
assert_contains "$OUT" "up to date" "second db-create changes nothing"
expect_exit 0 "db-migrate" "$MIDSOPS" db-migrate
for s in game builds ops cache stage; do
	assert_eq "$(psql_q "select count(*) from pg_namespace where nspname = '$s'")" 1 "schema $s exists"
done
psql_q "insert into ops.schema_version(version, name) values (9999, 'future')" >/dev/null
expect_exit 1 "a newer schema is refused" "$MIDSOPS" db-migrate
assert_contains "$OUT" "newer than this midsops knows" "newer schema message"
psql_q "delete from ops.schema_version where version = 9999" >/dev/null

expect_exit 0 "db-shell passes arguments to psql" "$MIDSOPS" db-shell -Atc 'select 6*7'
assert_eq "$OUT" "42" "db-shell output"
expect_exit 0 "system-resources" "$MIDSOPS" system-resources --json
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["disks"])==3' \
	&& ok "system-resources lists data, backup and log disks" || fail "system-resources disks" "$OUT"

# The embedded cluster: second start, stale pid file, root reachability.
expect_exit 0 "cluster start when running" "$MIDSOPS" cluster start
assert_contains "$OUT" "already running" "second cluster start says so"
E=$TEST_TMP/embedded
mkdir -p "$E" && chmod 0700 "$E"
export_env="XDG_DATA_HOME=$E/data XDG_STATE_HOME=$E/state MIDSOPS_PGPORT=$((MIDSOPS_PGPORT + 1))"
expect_exit 0 "embedded cluster under a 0700 directory starts" env $export_env "$MIDSOPS" cluster start
expect_exit 0 "embedded cluster is the default target" env -u MIDSOPS_DSN $export_env "$MIDSOPS" db-check
env $export_env "$MIDSOPS" cluster stop >/dev/null 2>&1
echo 999999 >"$E/data/midsops/pg/postmaster.pid"
expect_exit 3 "a stale pid file reads as stopped" env $export_env "$MIDSOPS" cluster status
expect_exit 0 "start over a stale pid file" env $export_env "$MIDSOPS" cluster start
expect_exit 0 "cluster status running" env $export_env "$MIDSOPS" cluster status
assert_contains "$OUT" "$E/data/midsops/pg" "cluster status says where the cluster is"
if [ "$(id -u)" = 0 ]; then
	assert_eq "$(stat -c %U "$E/data/midsops/pg")" postgres "as root the cluster belongs to postgres"
	assert_eq "$(stat -c %a "$E/data/midsops/pg")" 700 "data directory is 0700"
fi
env $export_env "$MIDSOPS" cluster stop immediate >/dev/null 2>&1

# The man page lists every command and is lint-clean.
missing=""
for c in $("$MIDSOPS" help --json | python3 -c 'import json,sys; [print(c["command"]) for c in json.load(sys.stdin)["commands"]]'); do
	grep -q "^\.It Cm $c\( \|$\)" midsops.1 || missing="$missing $c"
done
assert_eq "$missing" "" "every command in 'midsops help' is in midsops.1 COMMANDS"
lint=$(mandoc -Tlint -W warning midsops.1 2>&1)
assert_eq "$lint" "" "mandoc -Tlint midsops.1 is clean"

# A migration numbered below the newest applied one (families reserve number ranges) is
# still applied: forget 001 (idempotent, and below every other), and db-migrate puts it back.
first=1
psql_q "delete from ops.schema_version where version = $first" >/dev/null
expect_exit 0 "db-migrate applies a lower-numbered migration that is missing" "$MIDSOPS" db-migrate
assert_eq "$(psql_q "select count(*) from ops.schema_version where version = $first")" 1 \
	"the missing migration $first is recorded again"
