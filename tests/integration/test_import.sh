# Import engine: every import command on the mini export, builds across re-import,
# retirement and rollback, stop/resume, kill -9 and resume, the lock, emergency stop.
V2_EXPORT=$TOP/tests/data/export-mini-v2
BUILDS=$TOP/tests/data/builds-mini.json

run_state() { psql_q "select state from ops.import_runs where id = $1"; }
last_run() { psql_q "select coalesce(max(id), 0) from ops.import_runs"; }
# wait_for SQL: until the query returns t (10 s at most)
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		[ "$(psql_q "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
checksums() { "$MIDSOPS" --json import-stats --checksums | python3 -c 'import json,sys
d=json.load(sys.stdin)
print("\n".join(r["table"] + " " + r["checksum"] for r in d["tables"]))'; }

expect_exit 0 "import-stats" "$MIDSOPS" import-stats
if [ "$(psql_q "select count(*) from ops.import_generations")" = 0 ]; then
	assert_contains "$OUT" "last_import              never" "import-stats says never before an import"
	assert_contains "$OUT" "total_rows               0" "import-stats shows zeros before an import"
fi
expect_exit 0 "export-validate on the mini export" "$MIDSOPS" export-validate "$MINI_EXPORT"
assert_contains "$OUT" "0 errors" "export-validate finds no errors in the mini export"

# The first import goes into an empty database, several batches at a time through the
# promote pipeline, which then skips the end's whole-table passes: see below.
expect_exit 0 "import the mini export" env MIDSOPS_IMPORT_BATCH_FILES=7 "$MIDSOPS" import "$MINI_EXPORT"
assert_contains "$OUT" "generation" "import prints the generation"
assert_eq "$(psql_q "select count(*) from game.powers")" \
	"$(find "$MINI_EXPORT/powers" -mindepth 3 -name '*.json' ! -name index.json | wc -l)" \
	"one power row per power file"
assert_eq "$(psql_q "select count(*) from ops.import_files where run_id = $(last_run)")" \
	"$(find "$MINI_EXPORT" -name '*.json' | wc -l)" "every file recorded in ops.import_files"
assert_eq "$(psql_q "select count(*) from ops.import_files where run_id = $(last_run) and length(sha256) = 64")" \
	"$(find "$MINI_EXPORT" -name '*.json' | wc -l)" "files recorded with their sha256"
assert_eq "$(psql_q "select sha256 from ops.import_files where run_id = $(last_run) and path = 'manifest.json'")" \
	"$(sha256sum "$MINI_EXPORT/manifest.json" | cut -d' ' -f1)" "sha256 of a file matches sha256sum"
assert_eq "$(psql_q "select count(*) > 0 from game.power_effects")" t "effects mapped"
assert_eq "$(psql_q "select count(*) > 0 from game.effect_templates")" t "effect templates mapped"
assert_eq "$(psql_q "select count(*) > 0 from game.enhancements where set_id is not null")" t "enhancements mapped into their sets"
assert_eq "$(psql_q "select count(*) > 0 from game.tag_links")" t "tag links mapped"
assert_eq "$(psql_q "select count(*) from game.powers where powerset_id is null")" 0 "powers resolved to their powerset"
assert_eq "$(psql_q "select count(*) > 0 from ops.import_errors where code = 'dangling_reference' and severity = 'warning'")" t \
	"dangling references counted as warnings"
assert_eq "$(psql_q "select count(*) from game.tags where path like '%\\%%'")" \
	"$(find "$MINI_EXPORT/tags" -name '*%*' | wc -l)" "tag files named with % imported"

# The same export promoted at the end only, into another empty database: the same tables,
# saved versions, counts and warnings as the pipelined first import's shortcut.
sums_of() { "$MIDSOPS" --dsn "$1" --json import-stats --checksums | python3 -c 'import json,sys
d=json.load(sys.stdin)
print("\n".join(r["table"] + " " + r["checksum"] for r in d["tables"]))'; }
first_of() { psql "$1" -XAtq -c "select md5(string_agg(kind || ':' || key || ':' || coalesce(sha, '-'), ',' order by kind, key)) || (select counts::text from ops.import_generations) || (select string_agg(code || ':' || message, ',' order by message) from ops.import_errors) from game.history"; }
db=midsops_first_$$
psql_q "create database $db" >/dev/null
other="$MIDSOPS_DSN dbname=$db"
"$MIDSOPS" --dsn "$other" db-migrate >/dev/null 2>&1
expect_exit 0 "first import into another empty database, promoting at the end" \
	env MIDSOPS_IMPORT_PIPELINE=0 "$MIDSOPS" --dsn "$other" import "$MINI_EXPORT"
assert_eq "$(sums_of "$other")" "$(sums_of "$MIDSOPS_DSN")" \
	"first import: pipelined (several batches) and at the end give the same tables"
assert_eq "$(first_of "$other")" "$(first_of "$MIDSOPS_DSN")" \
	"first import: the same saved versions, counts and warnings either way"
# A pipeline statement fails during a first import: promote starts over at the end.
psql_q "drop database $db" >/dev/null
psql_q "create database $db" >/dev/null
"$MIDSOPS" --dsn "$other" db-migrate >/dev/null 2>&1
expect_exit 0 "first import with a pipeline failure" env MIDSOPS_IMPORT_FAULT=pipeline \
	MIDSOPS_IMPORT_BATCH_FILES=7 "$MIDSOPS" --dsn "$other" import "$MINI_EXPORT"
assert_eq "$(sums_of "$other")" "$(sums_of "$MIDSOPS_DSN")" \
	"first import after a pipeline failure: the same tables"
assert_eq "$(first_of "$other")" "$(first_of "$MIDSOPS_DSN")" \
	"first import after a pipeline failure: the same saved versions, counts and warnings"
psql_q "drop database $db" >/dev/null

expect_exit 0 "import-stats after an import" "$MIDSOPS" --json import-stats
assert_eq "$(printf '%s' "$OUT" | json_get .generation)" "$(psql_q "select max(generation) from ops.import_generations")" \
	"import-stats shows the generation"
expect_exit 0 "import-status" "$MIDSOPS" import-status
assert_contains "$OUT" "completed" "import-status shows the completed run"
expect_exit 0 "import-status RUN" "$MIDSOPS" import-status "$(last_run)"
expect_exit 1 "import-status of an unknown run" "$MIDSOPS" import-status 999999
# The run's duration is measured by the clock: finished_at was now(), the start of the
# promote transaction, so a run's recorded time was a fraction of what it took.
cp -r "$MINI_EXPORT" "$TEST_TMP/changed"
for f in $(find "$TEST_TMP/changed/powers" -name '*.json' ! -name index.json | sort | head -n 20); do
	python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["accuracy"]=1.234; json.dump(d,open(p,"w"))' "$f"
done
psql_q "create database $db" >/dev/null
"$MIDSOPS" --dsn "$other" db-migrate >/dev/null 2>&1
"$MIDSOPS" --dsn "$other" import "$MINI_EXPORT" >/dev/null 2>&1
expect_exit 0 "an import of 20 changed files" "$MIDSOPS" --dsn "$other" --json import "$TEST_TMP/changed"
took=$(printf '%s' "$OUT" | json_get .duration)
# A re-import parses only what changed: it says how many, and its rate over them.
assert_eq "$(printf '%s' "$OUT" | json_get .files_changed)" 20 "the re-import names the 20 changed files it parsed"
assert_eq "$(printf '%s' "$OUT" | json_get .files_unchanged)" "$(( $(printf '%s' "$OUT" | json_get .files) - 20 ))" \
	"and the unchanged ones, staged without a parse"
check "and a rate over the changed files" python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)" \
	"$(printf '%s' "$OUT" | json_get .changed_files_per_second)"
expect_exit 0 "import-status of that run" "$MIDSOPS" --dsn "$other" --json import-status
recorded=$(printf '%s' "$OUT" | json_get .duration)
assert_eq "$(python3 -c "print($recorded >= 0.4 * $took and $recorded <= $took)")" True \
	"the recorded duration ($recorded s) is the run's, not its promote transaction's (the command took $took s)"
# Progress without a terminal: each figure in its own unit, bytes in human units.
cp -r "$MINI_EXPORT" "$TEST_TMP/changed2"
python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["accuracy"]=2.5; json.dump(d,open(p,"w"))' \
	"$(find "$TEST_TMP/changed2/powers" -name '*.json' ! -name index.json | sort | head -n 1)"
expect_exit 0 "a plain import" "$MIDSOPS" --dsn "$other" import "$TEST_TMP/changed2"
assert_contains "$OUT" "scan: walking the export" "the scan has its own progress line"
check "the scan's line counts the files found, in bytes of human units" \
	sh -c 'printf "%s\n" "$1" | grep -Eq "^scan: [0-9.]+ [kM]?B/[0-9.]+ [kM]?B \(100\.0%\) [0-9]+ files found$"' _ "$OUT"
check "the end's line gives files, records and rec/s over the run" \
	sh -c 'printf "%s\n" "$1" | grep -Eq "^done: [0-9.]+ [kM]?B/[0-9.]+ [kM]?B \(100\.0%\) [0-9]+/[0-9]+ files, [0-9]+ records, [0-9]+ rec/s, 0 errors$"' _ "$OUT"
check "no progress line shows a raw byte count" \
	sh -c '! printf "%s\n" "$1" | grep -Eq "^[a-z]+: [0-9]{5,}/"' _ "$OUT"
psql_q "drop database $db" >/dev/null
expect_exit 0 "import-health after a good import" "$MIDSOPS" import-health
expect_exit 0 "import-logs" "$MIDSOPS" import-logs --last 1h
assert_contains "$OUT" "promoted generation" "import-logs shows the promote"
expect_exit 0 "import-errors" "$MIDSOPS" import-errors --last 1h
assert_contains "$OUT" "dangling_reference" "import-errors lists warnings"
expect_exit 0 "import-errors --run" "$MIDSOPS" import-errors --last 1h --run "$(last_run)"
expect_exit 0 "import-debug --verbose" "$MIDSOPS" import-debug "$(last_run)" --verbose
assert_contains "$OUT" "files_committed" "import-debug shows staging figures"
expect_exit 0 "import-perf" "$MIDSOPS" import-perf --last 7d
assert_contains "$OUT" "records_s" "import-perf shows the rate"
expect_exit 64 "import needs its full name" "$MIDSOPS" impor "$MINI_EXPORT"

# Re-import of the unchanged export: nothing changes, generation bumps, ids stay.
ids=$(psql_q "select md5(string_agg(key || id, ',' order by key)) from game.powers")
gen=$(psql_q "select max(generation) from ops.import_generations")
expect_exit 0 "re-import of the unchanged export" "$MIDSOPS" import "$MINI_EXPORT"
check "a re-import of the same export parses no file" \
	sh -c 'printf "%s\n" "$1" | grep -Eq "^files_changed +0$"' _ "$OUT"
assert_eq "$(psql_q "select count(*) from game.powers where generation > $gen")" 0 "unchanged rows keep their generation"
assert_eq "$(psql_q "select md5(string_agg(key || id, ',' order by key)) from game.powers")" "$ids" "ids stable across re-import"

sums_v1=$(checksums)
# Builds, then v2 (a power gone, one added), then rollback: builds keep their references.
expect_exit 0 "seed-builds" "$MIDSOPS" seed-builds "$BUILDS"
nb=$(psql_q "select count(*) from builds.build_powers")
ne=$(psql_q "select count(*) from builds.build_enhancements")
assert_eq "$(psql_q "select count(*) > 0 from builds.build_enhancements")" t "builds slot enhancements"
refs=$(psql_q "select md5(string_agg(bp.power_id || ':' || p.key, ',' order by bp.id)) from builds.build_powers bp join game.powers p on p.id = bp.power_id")
expect_exit 0 "export-diff mini v2" "$MIDSOPS" --json export-diff "$MINI_EXPORT" "$V2_EXPORT"
assert_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); r=[x for x in d["records"] if x["entity"]=="power"][0]; print(r["added"], r["removed"])')" "1 1" \
	"export-diff: one power added, one removed"
expect_exit 0 "import v2" "$MIDSOPS" import "$V2_EXPORT"
assert_eq "$(psql_q "select count(*) from builds.build_powers")" "$nb" "builds keep their powers after v2"
assert_eq "$(psql_q "select md5(string_agg(bp.power_id || ':' || p.key, ',' order by bp.id)) from builds.build_powers bp join game.powers p on p.id = bp.power_id")" \
	"$refs" "build references unchanged after v2"
assert_eq "$(psql_q "select count(*) from game.powers where retired")" \
	"$(psql_q "select count(*) from game.powers p where retired and exists (select 1 from builds.build_powers b where b.power_id = p.id)")" \
	"only powers that builds use are kept retired"
gen_v2=$(psql_q "select max(generation) from ops.import_generations")
expect_exit 0 "import-rollback" "$MIDSOPS" import-rollback
# Rollback rebuilds the typed columns on the server from the saved documents (the SQL
# twins of the importer's conversions): every table, typed columns included, is as the
# importer first wrote it.
assert_eq "$(checksums)" "$sums_v1" "rollback: every table's checksum (raw and typed columns) equals v1's"
assert_eq "$(psql_q "select count(*) from game.powers where retired")" 0 "rollback brings retired powers back"
assert_eq "$(psql_q "select md5(string_agg(bp.power_id || ':' || p.key, ',' order by bp.id)) from builds.build_powers bp join game.powers p on p.id = bp.power_id")" \
	"$refs" "build references unchanged after rollback"
assert_eq "$(psql_q "select count(*) from builds.build_enhancements")" "$ne" "build enhancements intact after rollback"
expect_exit 0 "import-rollback --to the v2 generation" "$MIDSOPS" import-rollback --to "$gen_v2"
assert_eq "$(psql_q "select count(*) from game.powers where not retired")" \
	"$(find "$V2_EXPORT/powers" -mindepth 3 -name '*.json' ! -name index.json | wc -l)" "rollback --to restores v2's powers"
expect_exit 1 "rollback to a future generation is refused" "$MIDSOPS" import-rollback --to 999

# Clean v1 checksums, for the kill -9 comparison below.
"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
clean=$(checksums)

# Promote while staging (a batch at a time, on a second connection) and promote at the end
# give the same tables, the same saved versions and the same counts for a changed export.
last_gen() { psql_q "select md5(string_agg(kind || ':' || key || ':' || coalesce(sha, '-'), ',' order by kind, key)) || (select counts::text from ops.import_generations order by generation desc limit 1) from game.history where generation = (select max(generation) from ops.import_generations)"; }
expect_exit 0 "import v2 promoting batch by batch" env MIDSOPS_IMPORT_BATCH_FILES=3 "$MIDSOPS" import "$V2_EXPORT"
piped_sums=$(checksums)
piped_gen=$(last_gen)
expect_exit 0 "import-debug of that run" "$MIDSOPS" import-debug "$(last_run)" --verbose
assert_contains "$OUT" "promote pipeline: batches through" "the run promoted batch by batch"
expect_exit 0 "back to v1 without the pipeline" env MIDSOPS_IMPORT_PIPELINE=0 "$MIDSOPS" import "$MINI_EXPORT"
assert_eq "$(checksums)" "$clean" "v1 again: the checksums of the clean v1 import"
expect_exit 0 "import v2 promoting at the end" env MIDSOPS_IMPORT_PIPELINE=0 "$MIDSOPS" import "$V2_EXPORT"
expect_exit 0 "import-debug of the unpiped run" "$MIDSOPS" import-debug "$(last_run)" --verbose
assert_not_contains "$OUT" "promote pipeline" "MIDSOPS_IMPORT_PIPELINE=0 promotes at the end only"
assert_eq "$(checksums)" "$piped_sums" "batch by batch and at the end: the same tables"
assert_eq "$(last_gen)" "$piped_gen" "batch by batch and at the end: the same saved versions and counts"
# A statement of the pipeline fails on the server: its work is rolled back and promote
# starts over at the end, with the same result.
expect_exit 0 "import v1 with a pipeline failure" env MIDSOPS_IMPORT_FAULT=pipeline MIDSOPS_IMPORT_BATCH_FILES=3 "$MIDSOPS" import "$MINI_EXPORT"
assert_eq "$(checksums)" "$clean" "after a pipeline failure: the checksums of the clean v1 import"
expect_exit 0 "import-debug of the failed pipeline" "$MIDSOPS" import-debug "$(last_run)" --verbose
assert_contains "$OUT" "promote pipeline: batches through" "the pipeline is in the run log"
assert_contains "$OUT" "division by zero" "the log says why the pipeline failed"

# Nothing running is what a stop wants (a wizard's "stop the import" step is done, not failed).
expect_exit 0 "import-stop with no import running: nothing to stop" "$MIDSOPS" import-stop
assert_contains "$OUT" "no import is running: nothing to stop" "import-stop says there was nothing to stop"
# The lock: a second import names the running one; import-stop stops it at a batch boundary.
"$MIDSOPS" import "$V2_EXPORT" >/dev/null 2>&1
MIDSOPS_IMPORT_DELAY_MS=100 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$MINI_EXPORT" \
	>"$TEST_TMP/slow.out" 2>&1 &
slow=$!
wait_for "select exists (select 1 from ops.import_runs where state = 'running' and pid = $slow and files_done > 0)" ||
	fail "slow import running" "it did not start"
expect_exit 1 "a second import is refused" "$MIDSOPS" import "$MINI_EXPORT"
assert_contains "$OUT" "pid $slow" "the refusal names the running pid"
assert_contains "$OUT" "on host $(hostname)" "the refusal names the host"
run=$(psql_q "select id from ops.import_runs where pid = $slow")
expect_exit 0 "import-stop" "$MIDSOPS" import-stop "$run"
wait "$slow"
assert_eq "$(run_state "$run")" stopped "import-stop leaves the run stopped"
expect_exit 0 "import-resume after a stop" "$MIDSOPS" import-resume "$run"
assert_eq "$(run_state "$run")" completed "the resumed run completes"
assert_eq "$(checksums)" "$clean" "stop + resume gives the checksums of a clean import"

# kill -9 in the middle of staging, then resume: same checksums as a clean import,
# committed files not read again.
"$MIDSOPS" import "$V2_EXPORT" >/dev/null 2>&1
MIDSOPS_IMPORT_DELAY_MS=100 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$MINI_EXPORT" \
	>"$TEST_TMP/kill.out" 2>&1 &
victim=$!
wait_for "select exists (select 1 from ops.import_runs r where pid = $victim and (select count(*) from ops.import_files f where f.run_id = r.id) >= 10)" ||
	fail "kill -9 setup" "the import did not commit 10 files"
kill -9 "$victim"
wait "$victim" 2>/dev/null
run=$(psql_q "select id from ops.import_runs where pid = $victim")
committed=$(psql_q "select count(*) from ops.import_files where run_id = $run")
expect_exit 0 "import-resume after kill -9" "$MIDSOPS" import-resume
assert_eq "$(run_state "$run")" completed "the killed run completes on resume"
# The run keeps only the files it changed once it completes (history retention), so the
# run log says what the resume skipped.
expect_exit 0 "import-debug of the resumed run" "$MIDSOPS" import-debug "$run" --verbose
assert_contains "$OUT" "resume: $committed files already committed, not staged again" \
	"files committed before the kill were not staged again ($committed)"
assert_eq "$(checksums)" "$clean" "kill -9 + resume gives the checksums of a clean import"

# An immediate server stop during staging empties the UNLOGGED staging table: resume
# notices and stages again.
"$MIDSOPS" import "$V2_EXPORT" >/dev/null 2>&1
MIDSOPS_IMPORT_DELAY_MS=100 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$MINI_EXPORT" \
	>"$TEST_TMP/crash.out" 2>&1 &
victim=$!
if wait_for "select exists (select 1 from ops.import_runs r where pid = $victim and (select count(*) from ops.import_files f where f.run_id = r.id) >= 10)"; then
	run=$(psql_q "select id from ops.import_runs where pid = $victim")
	"$MIDSOPS" cluster stop immediate >/dev/null 2>&1
	wait "$victim" 2>/dev/null
	"$MIDSOPS" cluster start >/dev/null 2>&1
	expect_exit 0 "import-resume after an immediate server stop" "$MIDSOPS" import-resume "$run"
	assert_contains "$OUT" "staging again" "resume notices the emptied staging table"
	assert_eq "$(run_state "$run")" completed "the run completes after the server stop"
	assert_eq "$(checksums)" "$clean" "server stop + resume gives the checksums of a clean import"
else
	fail "server stop setup" "the import did not commit 10 files"
fi

# emergency-stop: cancels and kills a running import, records it in the journal.
expect_exit 0 "emergency-stop with nothing running" "$MIDSOPS" emergency-stop --yes
assert_contains "$OUT" "no import is running" "emergency-stop says nothing runs"
MIDSOPS_IMPORT_DELAY_MS=200 MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$V2_EXPORT" \
	>"$TEST_TMP/estop.out" 2>&1 &
victim=$!
wait_for "select exists (select 1 from ops.import_runs where state = 'running' and pid = $victim)" ||
	fail "emergency-stop setup" "the import did not start"
expect_exit 1 "emergency-status while an import runs (WARNING: no backups)" "$MIDSOPS" emergency-status
assert_contains "$OUT" "$victim" "emergency-status lists the running import"
assert_contains "$OUT" "no backups recorded" "emergency-status without backups"
expect_exit 1 "emergency-stop without a terminal needs --yes" "$MIDSOPS" emergency-stop </dev/null
expect_exit 0 "emergency-stop --yes" "$MIDSOPS" emergency-stop --yes --grace 2
wait "$victim" 2>/dev/null
kill -0 "$victim" 2>/dev/null && fail "emergency-stop ends the process" "pid $victim alive" ||
	ok "emergency-stop ends the process"
assert_eq "$(psql_q "select state from ops.import_runs where pid = $victim")" stopped "emergency-stop leaves the run stopped"
assert_eq "$(psql_q "select count(*) > 0 from ops.events where source = 'emergency-stop'")" t "emergency-stop is in the journal"
expect_exit 0 "import-resume after emergency-stop" "$MIDSOPS" import-resume
assert_eq "$(psql_q "select count(*) from builds.build_powers")" "$nb" "builds survive every re-import"

# --dry-run and --no-promote leave production alone.
gen=$(psql_q "select max(generation) from ops.import_generations")
expect_exit 0 "import --dry-run" "$MIDSOPS" import "$MINI_EXPORT" --dry-run
assert_eq "$(psql_q "select max(generation) from ops.import_generations")" "$gen" "dry run promotes nothing"
expect_exit 0 "import --no-promote" "$MIDSOPS" import "$MINI_EXPORT" --no-promote
assert_eq "$(psql_q "select max(generation) from ops.import_generations")" "$gen" "--no-promote promotes nothing"
expect_exit 0 "import-resume promotes a staged run" "$MIDSOPS" import-resume
assert_eq "$(psql_q "select max(generation) from ops.import_generations")" "$((gen + 1))" "resume promoted the staged run"

# The benchmark's yardstick and the status section.
expect_exit 0 "import-parse-only (hidden)" "$MIDSOPS" import-parse-only "$MINI_EXPORT"
assert_contains "$OUT" "invalid                  0" "parse-only parses every mini file"
"$MIDSOPS" status >"$TEST_TMP/status.out" 2>&1
assert_contains "$(cat "$TEST_TMP/status.out")" "last_import" "status has an imports section"
