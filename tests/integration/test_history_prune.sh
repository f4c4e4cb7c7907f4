# history-prune: 30 generations of the mini export with keep_generations = 5, pruned after
# each import as the weekly maintenance does. The history and the files recorded stop
# growing, a rollback to any kept generation is exact, one to a pruned generation is
# refused naming the oldest kept, --dry-run changes nothing and counts what the prune then
# frees, the retention in days, the import lock, and a build keeps its retired power.
EXP=$TEST_TMP/export
cp -r "$MINI_EXPORT" "$EXP"
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[import]\nkeep_generations = 5\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"
sums() { "$MIDSOPS" --json import-stats --checksums | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(";".join(r["table"] + " " + r["checksum"] for r in d["tables"]))'; }
cur_gen() { psql_q "select coalesce(max(generation), 0) from ops.import_generations"; }
# One power file changes per generation: its accuracy becomes gen/1000 + 1.
mutate() {
	python3 - "$EXP" "$1" <<'EOF'
import json, os, sys
root, g = sys.argv[1], int(sys.argv[2])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "powers"))
               for f in fs if f.endswith(".json") and f != "index.json" and d.count(os.sep) - root.count(os.sep) == 3)
p = files[g % len(files)]
with open(p) as fh:
    doc = json.load(fh)
doc["accuracy"] = 1 + g / 1000
with open(p, "w") as fh:
    json.dump(doc, fh, indent=2)
EOF
}
RIPTIDE=$EXP/powers/vanguard_melee/tidal_blade/riptide_cut.json
[ -f "$RIPTIDE" ] || fail "the mini export has riptide_cut.json" "missing: $RIPTIDE"

fails=0 hist15="" files15=""
for g in $(seq 1 30); do
	[ "$g" -gt 1 ] && mutate "$g"
	# A power a build uses leaves the export at generation 3: retired, kept for the build.
	[ "$g" = 3 ] && rm -f "$RIPTIDE"
	if ! "$MIDSOPS" import "$EXP" >"$TEST_TMP/import.out" 2>&1; then
		fails=$((fails + 1))
		tail -n 3 "$TEST_TMP/import.out"
	fi
	[ "$g" = 1 ] && "$MIDSOPS" seed-builds "$TOP/tests/data/builds-mini.json" >/dev/null 2>&1
	sums >"$TEST_TMP/sum.$(cur_gen)"
	if ! "$MIDSOPS" history-prune >"$TEST_TMP/prune.out" 2>&1; then
		fails=$((fails + 1))
		tail -n 3 "$TEST_TMP/prune.out"
	fi
	if [ "$g" = 15 ]; then
		hist15=$(psql_q "select count(*) from game.history")
		files15=$(psql_q "select count(*) from ops.import_files")
	fi
done
assert_eq "$fails" 0 "30 imports, each followed by history-prune, all succeed"
assert_eq "$(cur_gen)" 30 "30 generations"
assert_eq "$(psql_q "select ops.rollback_floor()")" 26 "keep_generations = 5: generation 26 is the oldest restorable"
assert_eq "$(psql_q "select coalesce(min(generation), 0) from game.history")" 27 \
	"only the saved versions a rollback to 26..29 reads are left (generations 27..30)"
assert_eq "$(psql_q "select count(*) from game.history")" "$hist15" \
	"the rows of game.history stop growing (generation 15 and 30 hold the same number)"
assert_eq "$(psql_q "select count(*) from ops.import_files")" "$files15" \
	"the rows of ops.import_files stop growing"
assert_eq "$(psql_q "select count(*) from ops.import_files where run_id = (select max(id) from ops.import_runs)")" 1 \
	"a promoted run keeps only the file it changed in ops.import_files"
assert_eq "$(psql_q "select files_total from ops.import_runs where id = (select max(id) from ops.import_runs)")" \
	"$(find "$EXP" -name '*.json' | wc -l)" "the run still counts every file it read"
assert_eq "$(psql_q "select count(*) from ops.import_generations")" 30 "every generation's summary row stays"
# (a WARNING: a build uses the retired power, below)
OUT=$("$MIDSOPS" validate-all-data 2>&1)
assert_contains "$OUT" "disagree with the import summaries [OK]" "validate-all-data: the game tables still match the sum of the generations' counts"
assert_not_contains "$OUT" "MISMATCH" "validate-all-data: no table mismatches"

# A build keeps the power that left the export at generation 3, whose history is gone.
assert_eq "$(psql_q "select count(*) from builds.build_powers bp join game.powers p on p.id = bp.power_id where p.key = 'Vanguard_Melee.Tidal_Blade.Riptide_Cut' and p.retired")" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for b in d["builds"] for p in b["powers"] if p["power"] == "Vanguard_Melee.Tidal_Blade.Riptide_Cut"))' "$TOP/tests/data/builds-mini.json")" \
	"builds still point at the retired power after its generations were pruned"

# Rollback within the window is exact, also to the oldest kept and after another rollback.
expect_exit 0 "rollback to the oldest kept generation (26)" "$MIDSOPS" import-rollback --to 26
assert_eq "$(sums)" "$(cat "$TEST_TMP/sum.26")" "rollback to 26: every table's checksum equals generation 26's"
expect_exit 0 "rollback to 28, after that rollback" "$MIDSOPS" import-rollback --to 28
assert_eq "$(sums)" "$(cat "$TEST_TMP/sum.28")" "rollback to 28: every table's checksum equals generation 28's"

# Beyond the window: refused before anything is recorded, naming the oldest available.
runs=$(psql_q "select count(*) from ops.import_runs")
gen=$(cur_gen)
expect_exit 1 "rollback to a pruned generation (25) is refused" "$MIDSOPS" import-rollback --to 25
assert_contains "$OUT" "generation 25 can no longer be restored" "the refusal names the generation"
assert_contains "$OUT" "the oldest generation a rollback can restore is 26" "the refusal names the oldest available"
expect_exit 1 "rollback to generation 2 is refused" "$MIDSOPS" import-rollback --to 2
assert_eq "$(cur_gen):$(psql_q "select count(*) from ops.import_runs")" "$gen:$runs" \
	"a refused rollback promotes nothing and records no run"
# Any client (an older midsops) is refused by the database itself: SQLSTATE MH001.
assert_eq "$(psql_q "do \$\$ begin insert into ops.import_runs (kind, options) values ('rollback', '{\"to\": 25}'); raise notice 'recorded'; exception when sqlstate 'MH001' then raise notice 'refused: %', sqlerrm; end \$\$" 2>&1)" \
	"NOTICE:  refused: generation 25 can no longer be restored: history-prune removed its saved versions; the oldest generation a rollback can restore is 26" \
	"the database refuses a rollback run to a pruned generation from any client (SQLSTATE MH001)"

# --dry-run changes nothing, and counts exactly what the prune then frees.
for g in 31 32 33; do
	mutate "$g"
	"$MIDSOPS" import "$EXP" >/dev/null 2>&1
done
state() { psql_q "select (select count(*) || ':' || coalesce(md5(string_agg(generation || kind || key, ',' order by generation, kind, key)), '') from game.history) || '|' || (select count(*) from ops.import_files) || '|' || (select count(*) from ops.import_errors) || '|' || (select count(*) from ops.import_runs) || '|' || (select count(*) from ops.events where source <> 'history-prune') || '|' || ops.rollback_floor()"; }
before=$(state)
expect_exit 0 "history-prune --dry-run" "$MIDSOPS" --json history-prune --dry-run
would=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(r["table"] + "=" + str(r["rows"]) for r in d["would_free"]))')
assert_contains "$would" "game.history=" "the dry run lists what it would free per table"
assert_not_contains "$would" "game.history=0 " "the dry run would free saved versions"
assert_eq "$(state)" "$before" "--dry-run changes nothing"
expect_exit 0 "history-prune" "$MIDSOPS" --json history-prune
freed=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(r["table"] + "=" + str(r["rows"]) for r in d["freed"]))')
assert_eq "$freed" "$would" "the prune frees exactly the rows the dry run counted"
assert_eq "$(psql_q "select ops.rollback_floor()")" "$(($(cur_gen) - 4))" "after it, the oldest restorable is current - 4"
expect_exit 0 "history-prune again" "$MIDSOPS" --json history-prune
assert_eq "$(printf '%s' "$OUT" | json_get .rows_freed)" 0 "a second prune finds nothing to free"

# Retention in days: old events, errors and runs go; recent ones and kept runs stay.
psql_q "insert into ops.events (at, level, source, message) values (now() - interval '91 days', 'info', 'test', 'old'), (now() - interval '89 days', 'info', 'test', 'recent')" >/dev/null
psql_q "insert into ops.import_runs (kind, state, source_dir, started_at, updated_at, finished_at) values ('import', 'failed', 'old-failed', now() - interval '100 days', now() - interval '100 days', now() - interval '100 days')" >/dev/null
old_run=$(psql_q "select id from ops.import_runs where source_dir = 'old-failed'")
psql_q "insert into ops.import_errors (run_id, at, code, message) values ($old_run, now() - interval '100 days', 'invalid_json', 'old error')" >/dev/null
# the newest import run, with a kept generation, finished long ago: it stays
psql_q "update ops.import_runs set finished_at = now() - interval '100 days' where id = (select max(id) from ops.import_runs where kind = 'import' and generation is not null)" >/dev/null
# now the failed run is not the newest import run
mutate 34
"$MIDSOPS" import "$EXP" >/dev/null 2>&1
kept_run=$(psql_q "select max(id) from ops.import_runs where kind = 'import' and generation is not null and finished_at < now() - interval '99 days'")
expect_exit 0 "history-prune with old events, errors and runs" "$MIDSOPS" history-prune
assert_eq "$(psql_q "select string_agg(message, ',') from ops.events where source = 'test'")" recent "events older than events_days (90) go, newer ones stay"
assert_eq "$(psql_q "select count(*) from ops.import_runs where id = $old_run")" 0 "a failed run older than runs_days (90) goes"
assert_eq "$(psql_q "select count(*) from ops.import_errors where message = 'old error'")" 0 "errors older than errors_days go"
assert_eq "$(psql_q "select count(*) from ops.import_runs where id = ${kept_run:-0}")" 1 "an old run whose generation is kept stays"

# Never beside an import or a rollback: the import lock is held by another session.
psql "$MIDSOPS_DSN" -XAtq -c "select pg_advisory_lock(7013370001), pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
i=0
while [ $i -lt 200 ] && [ "$(psql_q "select count(*) from pg_locks where locktype = 'advisory' and objid = 2718402705 and granted")" != 1 ]; do
	sleep 0.1
	i=$((i + 1))
done
before=$(state)
expect_exit 1 "history-prune while the import lock is held" "$MIDSOPS" history-prune
assert_contains "$OUT" "import lock is held" "it says the import lock is held"
assert_eq "$(state)" "$before" "and deletes nothing"
expect_exit 1 "an import is refused meanwhile" "$MIDSOPS" import "$EXP"
assert_contains "$OUT" "another import, rollback or history-prune holds the import lock" "the import names what may hold the lock"
psql_q "select pg_terminate_backend(pid) from pg_stat_activity where query like 'select pg_advisory_lock(7013370001)%'" >/dev/null
wait "$holder" 2>/dev/null

# The settings are checked.
printf '[import]\nkeep_generations = 0\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"
expect_exit 78 "keep_generations = 0 is a configuration error" "$MIDSOPS" history-prune --dry-run
assert_contains "$OUT" "keep_generations" "the error names the key"
printf '[import]\nkeep_generations = 5\n[maintenance]\nevents_days = 30\n' >"$XDG_CONFIG_HOME/midsops/midsops.conf"
expect_exit 0 "[maintenance] events_days is read" "$MIDSOPS" history-prune --dry-run
assert_contains "$OUT" "events 30 days" "the retention in days is shown"
expect_exit 0 "the weekly maintenance runbook validates with its history-prune step" "$MIDSOPS" wizard validate "$TOP/runbooks/weekly-maintenance.json"
