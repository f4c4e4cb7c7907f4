# DR safety (issue 21): the split-brain guard that asks the standby (a hidden socket), honest
# loss figures after a walsender stall and a kill, a real fence of the embedded primary that
# `cluster start` honours, a dr-validate baseline the promoted site cannot overwrite, and
# messages that say what happened. A private primary and standby, as in test_dr.sh.

S_P=$TEST_TMP/s
mkdir -p "$S_P" && chmod 0711 "$S_P"
S_PORT=$((MIDSOPS_PGPORT + 21))
s_env() {
	env -u MIDSOPS_DSN XDG_DATA_HOME="$S_P/data" XDG_STATE_HOME="$S_P/state" \
		XDG_CONFIG_HOME="$S_P/config" MIDSOPS_PGPORT=$S_PORT "$@"
}
m() { s_env "$MIDSOPS" "$@"; }
PRIMARY="host=$S_P/data/midsops/run port=$S_PORT dbname=midsops user=midsops"
STANDBY="host=$S_P/data/midsops/dr/run port=$((S_PORT + 1)) dbname=midsops user=midsops"
pq() { psql "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
# Poll (never a fixed sleep): until "$@" succeeds or n tenths of a second pass.
wait_for() {
	n=$1; shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
streaming() { [ "$(pq "$STANDBY" "select status from pg_stat_wal_receiver")" = streaming ]; }
not_streaming() { ! streaming; }

expect_exit 0 "drs: private primary db-create" m db-create
pq "$PRIMARY" "insert into builds.builds (owner, name, level, raw) select 'user' || g, 'build ' || g, 50, jsonb_build_object('n', g) from generate_series(1, 200) g" >/dev/null
expect_exit 0 "drs: dr-setup creates a streaming standby" m dr-setup --no-baseline
wait_for 300 streaming || fail "the standby streams" "no walreceiver streaming"

# Item 9: a site midsops built is never "not created by midsops"; --force without
# --target-dir rebuilds it (and says so) instead of silently doing nothing.
expect_exit 0 "dr-setup again without --force reports the site it built" m dr-setup --no-baseline
assert_not_contains "$OUT" "not created by midsops" "a site midsops built is not labelled 'not created by midsops'"
assert_contains "$OUT" "built by midsops" "dr-setup says midsops built the site"
old_sysid=$(pq "$STANDBY" "select system_identifier from pg_control_system()")
old_start=$(pq "$STANDBY" "select pg_postmaster_start_time()")
expect_exit 0 "dr-setup --force without --target-dir rebuilds the site midsops built" m dr-setup --force --no-baseline
assert_contains "$OUT" "rebuilding" "dr-setup --force says it rebuilds"
assert_not_contains "$OUT" "not created by midsops" "the rebuilt site is not labelled 'not created by midsops'"
wait_for 300 streaming
new_start=$(pq "$STANDBY" "select pg_postmaster_start_time()")
[ "$new_start" != "$old_start" ] && ok "the DR site was really rebuilt (a new server start)" ||
	fail "the DR site was really rebuilt (a new server start)" "same start time $old_start"

# Item 3: the hidden-socket partition. midsops cannot connect to the primary, the standby
# still streams from it over its own connection: activation is refused, with the evidence.
sock="$S_P/data/midsops/run/.s.PGSQL.$S_PORT"
mv "$sock" "$sock.hidden"
psql "$PRIMARY" -XAtqc "select 1" >/dev/null 2>&1 && fail "the socket is hidden" "midsops's path still connects" || ok "the primary's socket is hidden from midsops"
expect_exit 2 "dr-assess with the socket hidden" m dr-assess
assert_contains "$OUT" "still streams" "dr-assess says the unreachable primary still streams to the standby"
expect_exit 1 "dr-activate --yes is refused while the standby still streams (hidden socket)" m dr-activate --yes
assert_contains "$OUT" "walreceiver is 'streaming'" "the refusal names the walreceiver evidence"
assert_contains "$OUT" "last message received at" "the refusal says when the standby last heard from the primary"
assert_not_contains "$OUT" "fenced (" "the refusal does not claim a fence"
expect_exit 1 "--i-have-fenced-it does not override a primary that still streams" m dr-activate --yes --i-have-fenced-it
assert_eq "$(pq "$STANDBY" "select pg_is_in_recovery()")" "t" "the standby is NOT promoted"
mv "$sock.hidden" "$sock"
expect_exit 64 "dr-activate --force is gone (ALTER SYSTEM read-only is no fence)" m dr-activate --yes --force
assert_contains "$OUT" "never was a fence" "dr-activate --force says why it is gone"

# The old primary names the standby as synchronous without waiting for it (commits stay
# local), so the fence must clear the name and say so.
pq "$PRIMARY" "alter system set synchronous_standby_names = 'midsops_dr'" >/dev/null
pq "$PRIMARY" "alter system set synchronous_commit = 'local'" >/dev/null
pq "$PRIMARY" "select pg_reload_conf()" >/dev/null
expect_exit 1 "dr-assess with the primary up records the baseline figures" m dr-assess
assert_contains "$OUT" "measured" "with the primary reachable the loss is measured"
EXACT=$(m --json dr-assess 2>/dev/null | json_get .data_loss.estimated_bytes.value 2>/dev/null || m --json dr-assess 2>/dev/null | json_get .data_loss.estimated_bytes)
case "$EXACT" in '' | *[!0-9]*) fail "the measured loss is a number of bytes" "'$EXACT'" ;; *) ok "the measured loss is a number of bytes ($EXACT)" ;; esac
base_rows=$(pq "$PRIMARY" "select count(*) from game.history")

# Item 4: stall the walsender while a writer commits, then kill the primary.
pq "$PRIMARY" "create table public.w (n int)" >/dev/null
wait_for 100 sh -c "[ \"\$(psql \"$STANDBY\" -XAtqc \"select to_regclass('public.w') is not null\")\" = t ]"
ws=$(pq "$PRIMARY" "select pid from pg_stat_replication where application_name = 'midsops_dr'")
kill -STOP "$ws"
acked=0
end=$(($(date +%s) + 3))
while [ "$(date +%s)" -lt "$end" ]; do
	pq "$PRIMARY" "insert into public.w values ($acked)" >/dev/null && acked=$((acked + 1))
done
# With the walsender stopped the primary still answers: the loss is measured, not 0, and
# that position bounds the loss once the primary is gone.
OUT=$(m dr-assess 2>&1)
stalled=$(printf '%s\n' "$OUT" | sed -n 's/^ *estimated_bytes *\([0-9][0-9]*\).*/\1/p' | head -n 1)
case "$stalled" in '' | 0) fail "with the walsender stalled the measured loss is above 0" "'$stalled'" ;; *) ok "with the walsender stalled the measured loss is above 0 ($stalled bytes)" ;; esac
ppid=$(head -n 1 "$S_P/data/midsops/pg/postmaster.pid")
kill -9 "$ppid" $(ps -o pid= --ppid "$ppid") 2>/dev/null
kill -CONT "$ws" 2>/dev/null
wait_for 300 not_streaming
received=$(pq "$STANDBY" "select count(*) from public.w")
echo "  (acknowledged $acked commits during the stall; the standby has $received; lost $((acked - received)))"
[ "$received" -lt "$acked" ] && ok "commits were lost in the stall ($((acked - received)) of $acked)" ||
	skip "commits were lost in the stall" "the standby had them all ($received of $acked)"
expect_exit 2 "dr-assess after the kill is CRITICAL" m dr-assess
assert_contains "$OUT" "primary DOWN" "dr-assess says the primary is down"
assert_contains "$OUT" "commits after" "dr-assess says later commits on the primary are unknown"
assert_contains "$OUT" "last WAL received at" "dr-assess says when WAL was last received"
case "$OUT" in *"estimated "*"at least"*" bytes"*) ok "the loss is 'at least ...'" ;; *)  fail "the loss is 'at least ...'" "$(printf '%s' "$OUT" | grep -A3 data_loss)" ;; esac
J=$(m --json dr-assess 2>/dev/null)
lb=$(printf '%s' "$J" | json_get .data_loss.at_least_bytes 2>/dev/null)
case "$lb" in '' | 0 | *[!0-9]*) fail "with the primary down the bound is a number of bytes above 0" "'$lb'" ;; *) ok "with the primary down the bound is a number of bytes above 0 ($lb)" ;; esac
printf '%s' "$J" | json_get .data_loss.estimated_bytes >/dev/null 2>&1 &&
	fail "no measured estimate with the primary down" "estimated_bytes is there" ||
	ok "no measured estimate (estimated_bytes) with the primary down"

# Items 2 and 9: activation fences the embedded primary for real, and reports the timeline
# of the promoted server.
expect_exit 0 "dr-activate --yes after the kill" m dr-activate --yes
assert_contains "$OUT" "the embedded cluster" "dr-activate says it fenced the embedded cluster"
assert_contains "$OUT" "synchronous_standby_names was cleared" "dr-activate says it cleared synchronous_standby_names"
assert_contains "$OUT" "timeline                 2 (WAL file 00000002" "dr-activate prints the promoted server's timeline and WAL file"
assert_contains "$OUT" "commits after" "dr-activate's report gives the loss as a bound"
assert_eq "$(pq "$STANDBY" "select pg_is_in_recovery()")" "f" "the DR site is promoted"
assert_eq "$(tail -n 1 "$S_P/data/midsops/pg/postgresql.auto.conf")" "synchronous_standby_names = ''" \
	"the fenced old primary's postgresql.auto.conf no longer names a synchronous standby"
expect_exit 4 "cluster start refuses the fenced old primary (exit 4)" m cluster start
assert_contains "$OUT" "is fenced" "cluster start says the cluster is fenced"
assert_contains "$OUT" "cluster unfence" "cluster start says how to lift the fence"
[ -f "$S_P/data/midsops/pg/postmaster.pid" ] && [ -d "/proc/$(head -n 1 "$S_P/data/midsops/pg/postmaster.pid")" ] &&
	fail "the fenced cluster stays down" "it runs" || ok "the fenced cluster stays down"
expect_exit 3 "cluster status of the fenced cluster" m cluster status
assert_contains "$OUT" "fenced" "cluster status shows the fence"
expect_exit 64 "cluster unfence needs confirmation" m cluster unfence </dev/null
assert_contains "$OUT" "--yes" "cluster unfence asks for --yes"

# Item 1: the baseline is fixed: dr-assess after activation does not record the promoted
# site's figures, so a dropped table is CRITICAL in dr-validate and dr-verify-all.
before=$(md5sum <"$S_P/state/midsops/dr/figures.json")
expect_exit 1 "dr-assess after activation" m dr-assess
assert_eq "$(md5sum <"$S_P/state/midsops/dr/figures.json")" "$before" "dr-assess after activation leaves the old primary's figures alone"
expect_exit 0 "dr-validate on the promoted site" m dr-validate
assert_contains "$OUT" "the old primary's figures" "dr-validate names its baseline"
pq "$STANDBY" "update builds.builds set name = name || ' edited' where ctid = (select min(ctid) from builds.builds)" >/dev/null 2>&1
if [ "$(pq "$STANDBY" "select count(*) from builds.builds")" -gt 0 ]; then
	m dr-validate >/dev/null 2>&1; OUT=$(m dr-validate 2>&1)
	assert_not_contains "$OUT" "more rows" "dr-validate does not say 'more rows' when the counts are equal"
	assert_contains "$OUT" "same number of rows as the baseline but other content" "dr-validate says a table changed in place"
fi
pq "$STANDBY" "insert into builds.builds (owner, name) values ('after', 'activation')" >/dev/null
OUT=$(m dr-validate 2>&1)
assert_contains "$OUT" "more rows than the baseline" "dr-validate says 'more rows' when there are more"
pq "$STANDBY" "drop table game.history cascade" >/dev/null
expect_exit 2 "dr-validate after a table is dropped on the site is CRITICAL" m dr-validate
assert_contains "$OUT" "missing" "dr-validate names the missing table"
m dr-assess >/dev/null 2>&1
expect_exit 2 "dr-validate stays CRITICAL after another dr-assess" m dr-validate
OUT=$(m dr-verify-all 2>&1); rc=$?
[ "$rc" -ne 0 ] && ok "dr-verify-all is not OK with a dropped table (exit $rc)" || fail "dr-verify-all is not OK with a dropped table" "exit 0"

# Unfence: the old primary comes back without waiting for a synchronous standby.
expect_exit 0 "cluster unfence --yes" m cluster unfence --yes
expect_exit 0 "cluster start after unfence" m cluster start
timeout 20 psql "$PRIMARY" -XAtqc "set synchronous_commit = on; insert into public.w values (-1)" >/dev/null 2>&1 &&
	ok "the unfenced old primary commits without waiting for a synchronous standby" ||
	fail "the unfenced old primary commits without waiting for a synchronous standby" "the write hung or failed"
m cluster stop immediate >/dev/null 2>&1

# A primary midsops does not run (the promoted site, production now): without [dr]
# fence_command activation is refused; a failing fence_command stops it; one that works
# gets the old primary's host and port as arguments and in its environment.
SITE2=$S_P/site2
S1_DIR=$S_P/data/midsops/dr/pg
expect_exit 0 "dr-setup of a second standby, fed by the promoted site" m dr-setup --target-dir "$SITE2" --port $((S_PORT + 2)) --no-baseline
STANDBY2="host=$SITE2/run port=$((S_PORT + 2)) dbname=midsops user=midsops"
m dr-assess >/dev/null 2>&1
s1=$(head -n 1 "$S1_DIR/postmaster.pid")
kill -9 "$s1" $(ps -o pid= --ppid "$s1") 2>/dev/null
streaming2() { [ "$(pq "$STANDBY2" "select status from pg_stat_wal_receiver")" = streaming ]; }
not_streaming2() { ! streaming2; }
wait_for 300 not_streaming2
expect_exit 1 "dr-activate of a primary midsops does not run, without fence_command, is refused" m dr-activate --yes
assert_contains "$OUT" "midsops cannot fence it" "the refusal says midsops cannot fence that primary"
assert_contains "$OUT" "--i-have-fenced-it" "the refusal names --i-have-fenced-it and the risk"
assert_contains "$OUT" "cannot be merged" "the refusal spells out the risk"
assert_eq "$(pq "$STANDBY2" "select pg_is_in_recovery()")" "t" "the refused standby is not promoted"
cat >"$S_P/fence.sh" <<'FENCE'
#!/bin/sh
out=$(dirname "$0")/fence.out
{ echo "args: $*"; env | grep '^MIDSOPS_FENCE_' | sort; } >"$out"
[ "$1" = --fail ] && { echo "power switch not answering"; exit 3; }
exit 0
FENCE
chmod 0755 "$S_P/fence.sh"
conf=$S_P/config/midsops/midsops.conf
printf '\n[dr]\nfence_command = %s --fail\n' "$S_P/fence.sh" >>"$conf"
expect_exit 1 "a failing fence_command stops the activation" m dr-activate --yes
assert_contains "$OUT" "power switch not answering" "the refusal shows what fence_command said"
assert_not_contains "$OUT" "fenced by" "a failed fence is not reported as a fence"
assert_eq "$(pq "$STANDBY2" "select pg_is_in_recovery()")" "t" "a failed fence leaves the standby a standby"
sed -i "s|^fence_command = .*|fence_command = $S_P/fence.sh --ok|" "$conf"
expect_exit 0 "dr-activate runs fence_command, then promotes" m dr-activate --yes
assert_contains "$OUT" "fenced by [dr] fence_command (exit 0)" "dr-activate says fence_command fenced the old primary"
assert_contains "$(cat "$S_P/fence.out")" "args: --ok $S_P/data/midsops/dr/run $((S_PORT + 1))" "fence_command gets the old primary's host and port as arguments"
assert_contains "$(cat "$S_P/fence.out")" "MIDSOPS_FENCE_PORT=$((S_PORT + 1))" "fence_command gets the old primary's port in its environment"
assert_contains "$(cat "$S_P/fence.out")" "MIDSOPS_FENCE_DATADIR=$S1_DIR" "fence_command gets the old primary's data directory"
assert_eq "$(pq "$STANDBY2" "select pg_is_in_recovery()")" "f" "the second site is promoted"

# Item 7: after a restore-only recovery, the backup manifest is dr-validate's baseline.
R=$TEST_TMP/sr
mkdir -p "$R" && chmod 0711 "$R"
R_PORT=$((MIDSOPS_PGPORT + 25))
r() {
	env -u MIDSOPS_DSN XDG_DATA_HOME="$R/data" XDG_STATE_HOME="$R/state" \
		XDG_CONFIG_HOME="$R/config" MIDSOPS_PGPORT=$R_PORT "$MIDSOPS" "$@"
}
R_PRIMARY="host=$R/data/midsops/run port=$R_PORT dbname=midsops user=midsops"
R_SITE="host=$R/data/midsops/dr/run port=$((R_PORT + 1)) dbname=midsops user=midsops"
if ! r help db-backup-full >/dev/null 2>&1; then
	skip "the manifest baseline after dr-restore" "db-backup-full is not in this build"
else
	r db-create >/dev/null 2>&1
	pq "$R_PRIMARY" "insert into builds.builds (owner, name) select 'r', 'r' || g from generate_series(1, 100) g" >/dev/null
	expect_exit 0 "a full backup for the restore-only recovery" r db-backup-full
	over=$(printf '%s\n' "$OUT" | grep -Eo '[0-9]+\.[0-9]%' | awk -F% '$1 > 100' | head -n 1)
	[ -z "$over" ] && ok "base-backup progress never exceeds 100%" || fail "base-backup progress never exceeds 100%" "$over"
	r cluster stop immediate >/dev/null 2>&1
	expect_exit 0 "dr-restore --latest without a standby" r dr-restore --latest
	assert_not_contains "$OUT" "start it with pg_ctl" "dr-restore does not tell the operator to start the site it started"
	assert_contains "$OUT" "restored and running" "dr-restore says the site runs"
	expect_exit 0 "dr-activate the restored site" r dr-activate --yes
	OUT=$(r dr-validate 2>&1); rc=$?
	[ "$rc" -ne 3 ] && ok "dr-validate after a restore-only recovery is not UNKNOWN (exit $rc)" || fail "dr-validate after a restore-only recovery is not UNKNOWN" "$OUT"
	assert_contains "$OUT" "the manifest of backup" "dr-validate's baseline is the backup manifest"
	assert_contains "$OUT" "builds.builds" "the manifest baseline covers builds.builds"
	pq "$R_SITE" "drop table game.history cascade" >/dev/null
	expect_exit 2 "a table dropped after the restore is CRITICAL against the manifest" r dr-validate
	assert_contains "$OUT" "missing" "dr-validate names the table the manifest has and the site lacks"
fi

for d in "$S_P/data/midsops/dr/pg" "$S_P/data/midsops/pg" "$SITE2/pg" "$R/data/midsops/dr/pg" "$R/data/midsops/pg"; do
	[ -f "$d/postmaster.pid" ] && kill -9 "$(head -n 1 "$d/postmaster.pid")" 2>/dev/null
done
true
