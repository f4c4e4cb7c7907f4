# Import security (audit finding 3): a symlink that leaves the export is refused and
# nothing is read through it, whoever reads the export (import, export-validate,
# export-diff) and whenever (a file swapped for a symlink after the scan); messages quote
# files only as printable text.
F=${TEST_TIME_FACTOR:-1}
last_run() { psql_q "select coalesce(max(id), 0) from ops.import_runs"; }
run_errors() { psql_q "select string_agg(code || ' ' || coalesce(path, '') || ' ' || message, E'\n' order by id) from ops.import_errors where run_id = $1"; }
run_log() { "$MIDSOPS" import-debug "$1" --verbose 2>&1; }

# ---- finding 3: symlinks out of the export ----
secret="midsops-secret-$$-never-shown"
mkdir -p "$TEST_TMP/outside/dir"
printf 'root:%s:19000:0:99999:7:::\n' "$secret" >"$TEST_TMP/outside/shadow"
printf '{"tag": "%s", "bears": []}\n' "$secret" >"$TEST_TMP/outside/dir/leak.json"
ex=$TEST_TMP/ex
cp -r "$MINI_EXPORT" "$ex"
ln -s "$TEST_TMP/outside/shadow" "$ex/powers/vanguard_melee/tidal_blade/sh.json"
ln -s ../../outside/shadow "$ex/tags/rel.json"
ln -s "$TEST_TMP/outside/dir" "$ex/tags/outdir"
ln -s "$TEST_TMP/outside/dir" "$ex/boost_sets/more"
expect_exit 1 "outside symlinks: import refuses them" "$MIDSOPS" import "$ex"
run=$(last_run)
e=$(run_errors "$run")
assert_contains "$e" "outside_export powers/vanguard_melee/tidal_blade/sh.json" "an absolute file symlink out of the export: outside_export"
assert_contains "$e" "outside_export tags/rel.json" "a relative file symlink out of the export: outside_export"
assert_contains "$e" "outside_export tags/outdir" "a directory symlink out of the export: outside_export"
assert_contains "$e" "outside_export boost_sets/more" "a directory symlink out of a known directory: outside_export"
assert_eq "$(psql_q "select count(*) from ops.import_errors where run_id = $run and code = 'outside_export' and severity = 'error'")" 4 \
	"each outside symlink is an error"
assert_not_contains "$OUT" "$secret" "import output: the secret never appears"
assert_not_contains "$OUT" "root:" "import output: no byte of the target quoted"
assert_eq "$(psql_q "select count(*) from ops.import_errors where message like '%$secret%' or message like '%root:%' or json_path like '%$secret%'")" 0 \
	"ops.import_errors: the secret never appears"
assert_eq "$(psql_q "select count(*) from ops.events where message like '%$secret%'")" 0 "the journal: the secret never appears"
assert_eq "$(psql_q "select count(*) from stage.records where raw::text like '%$secret%'")" 0 "staging: the secret never appears"
log=$(run_log "$run")
assert_contains "$log" "outside_export" "the run log names the refusal"
assert_not_contains "$log" "$secret" "the run log: the secret never appears"
if grep -rqs "$secret" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME"; then
	fail "log files: the secret never appears" "found under $XDG_STATE_HOME"
else
	ok "log files: the secret never appears"
fi
assert_eq "$(psql_q "select count(*) from ops.import_generations")" 0 "nothing promoted"

expect_exit 2 "outside symlinks: export-validate reports them" "$MIDSOPS" export-validate "$ex"
assert_contains "$OUT" "outside_export" "export-validate gives the same code"
assert_not_contains "$OUT" "$secret" "export-validate: the secret never appears"
"$MIDSOPS" export-diff "$MINI_EXPORT" "$ex" >"$TEST_TMP/diff.out" 2>&1
OUT=$(cat "$TEST_TMP/diff.out")
assert_contains "$OUT" "outside the export" "export-diff says it refused them"
assert_not_contains "$OUT" "$secret" "export-diff: the secret never appears"

# A symlink that stays inside the export is followed (a file moved to a dot directory,
# which the walk skips, with a symlink in its place).
in=$TEST_TMP/inside
cp -r "$MINI_EXPORT" "$in"
mkdir "$in/tags/.store"
mv "$in/tags/momentum.json" "$in/tags/.store/momentum.json"
ln -s .store/momentum.json "$in/tags/momentum.json"
expect_exit 0 "a symlink inside the export: export-validate accepts it" "$MIDSOPS" export-validate "$in"
expect_exit 0 "a symlink inside the export: import follows it" "$MIDSOPS" import "$in" --dry-run
assert_eq "$(psql_q "select count(*) from ops.import_files where run_id = $(last_run) and path = 'tags/momentum.json'")" 1 \
	"the file behind an inside symlink is staged"

# A file swapped for a symlink to the outside after the scan, while staging runs: the read
# goes through the export's descriptor and is refused. Documents (manifests) are staged last.
sw=$TEST_TMP/swap
cp -r "$MINI_EXPORT" "$sw"
MIDSOPS_IMPORT_DELAY_MS=$((60 * F)) MIDSOPS_IMPORT_BATCH_FILES=5 "$MIDSOPS" import "$sw" \
	>"$TEST_TMP/swap.out" 2>&1 &
imp=$!
i=0
while [ $i -lt $((300 * F)) ] && [ "$(psql_q "select count(*) from ops.import_runs where pid = $imp and phase = 'stage' and files_done > 0")" != 1 ]; do
	sleep 0.05
	i=$((i + 1))
done
# rename(2): the file is never missing, it becomes the symlink at once
ln -s "$TEST_TMP/outside/shadow" "$sw/manifest.json.new"
mv -T "$sw/manifest.json.new" "$sw/manifest.json"
wait "$imp"
rc=$?
run=$(psql_q "select id from ops.import_runs where pid = $imp")
if [ "$(psql_q "select count(*) from ops.import_files where run_id = $run and path = 'manifest.json'")" != 0 ]; then
	skip "a file swapped for an outside symlink during staging" "the run staged manifest.json before the swap"
else
	assert_eq "$rc" 1 "a file swapped for an outside symlink during staging: import fails"
	assert_contains "$(run_errors "$run")" "outside_export manifest.json" "the swapped file is refused with outside_export"
	assert_not_contains "$(cat "$TEST_TMP/swap.out") $(run_errors "$run")" "$secret" "the swapped file's target is never read"
fi

# ---- messages quote files only as printable text ----
esc=$(printf '\033')
del=$(printf '\177')
ctl=$TEST_TMP/ctl
cp -r "$MINI_EXPORT" "$ctl"
# Valid UTF-8 with DEL and U+009B (a terminal's one-byte CSI) right after a JSON error, and
# no raw control character (refused earlier, with its code in hex).
printf '{"tag": nope\177\302\2332J, "bears": []}\n' >"$ctl/tags/momentum.json"
expect_exit 1 "control bytes near a JSON error: import reports it" "$MIDSOPS" import "$ctl"
assert_contains "$OUT" 'near '"'"'nope\x7f\xc2\x9b2J' "the text near the error is escaped (output)"
msg=$(psql_q "select message from ops.import_errors where run_id = $(last_run) and code = 'invalid_json'")
assert_contains "$msg" 'nope\x7f\xc2\x9b2J' "the text near the error is escaped (ops.import_errors)"
assert_eq "$(psql_q "select count(*) from ops.import_errors where run_id = $(last_run) and (position(chr(127) in message) > 0 or position(chr(155) in message) > 0)")" 0 \
	"no raw control character in ops.import_errors"
assert_not_contains "$OUT" "$del" "no raw DEL in the output"
expect_exit 2 "control bytes near a JSON error: export-validate reports it" "$MIDSOPS" export-validate "$ctl"
assert_contains "$OUT" 'nope\x7f\xc2\x9b2J' "export-validate escapes it too"
# Names from the documents that reach a message on the server's side: a duplicate natural
# key (validation) and a dangling reference (promote).
cp -r "$MINI_EXPORT" "$TEST_TMP/dup"
printf '{"tag": "Evil\\u001b[2J", "bears": [], "affects": []}\n' >"$TEST_TMP/dup/tags/evil1.json"
printf '{"tag": "Evil\\u001b[2J", "bears": [], "affects": []}\n' >"$TEST_TMP/dup/tags/evil2.json"
expect_exit 1 "a duplicate key holding ESC: import fails validation" "$MIDSOPS" import "$TEST_TMP/dup"
assert_contains "$(run_errors "$(last_run)")" 'Evil\x1b[2J' "the duplicate key is quoted escaped"
assert_not_contains "$OUT" "$esc" "no raw ESC in the output"
cp -r "$MINI_EXPORT" "$TEST_TMP/dangle"
printf '{"tag": "Ghostly", "bears": [["Ghost", "ghost\\u001b[2Jpower"]], "affects": []}\n' >"$TEST_TMP/dangle/tags/ghostly.json"
expect_exit 0 "a dangling name holding ESC: import" "$MIDSOPS" import "$TEST_TMP/dangle"
assert_contains "$(run_errors "$(last_run)")" 'ghost\x1b[2Jpower' "the dangling name is quoted escaped"
assert_eq "$(psql_q "select count(*) from ops.import_errors where position(chr(27) in message) > 0 or position(chr(127) in message) > 0")" 0 \
	"no raw control character anywhere in ops.import_errors"
