# Bad input: each case of tests/data/bad gives a clear error in ops.import_errors, never a
# crash, and leaves production untouched when it fails.
BAD=$TOP/tests/data/bad
if [ ! -d "$BAD" ]; then
	skip "bad-input corpus" "tests/data/bad is absent"
	return 0 2>/dev/null || exit 0
fi
"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
before=$(psql_q "select max(generation) || ':' || (select md5(string_agg(key || sha, ',' order by key)) from game.powers) from ops.import_generations")
untouched() { assert_eq "$(psql_q "select max(generation) || ':' || (select md5(string_agg(key || sha, ',' order by key)) from game.powers) from ops.import_generations")" "$before" "$1"; }
errs() { psql_q "select code || ' ' || coalesce(path, '') || ' ' || coalesce(json_path, '') from ops.import_errors where run_id = (select max(id) from ops.import_runs) and severity = 'error' order by id"; }

bad_case() { # case code path-fragment
	expect_exit 1 "bad $1: import fails" "$MIDSOPS" import "$BAD/$1"
	e=$(errs)
	assert_contains "$e" "$2" "bad $1: error code $2"
	assert_contains "$e" "$3" "bad $1: error names $3"
	untouched "bad $1: production untouched"
	expect_exit 2 "bad $1: export-validate reports it" "$MIDSOPS" export-validate "$BAD/$1"
	assert_contains "$OUT" "$2" "bad $1: export-validate gives the same code"
}
bad_case invalid-json invalid_json "build_momentum.json line 6"
bad_case truncated truncated riptide_cut.json
bad_case wrong-type wrong_type '$.power_names'
bad_case missing-key missing_key '$.full_name'
bad_case invalid-utf8 invalid_utf8 riptide_cut.json
bad_case long-string too_long '$.display_help'
bad_case duplicate-key duplicate_key riptide_cut
bad_case duplicate-object-key duplicate_object_key riptide_cut.json
bad_case nul-char invalid_string build_momentum.json
bad_case deep-nesting too_deep build_momentum.json

# --max-errors: the run goes on past a bad file, reports it, and keeps the rest.
expect_exit 1 "bad wrong-type with --max-errors 5 is dry-run checked" "$MIDSOPS" import "$BAD/wrong-type" --max-errors 5 --dry-run
assert_eq "$(psql_q "select count(*) from ops.import_errors where run_id = (select max(id) from ops.import_runs) and code = 'wrong_type'")" 2 \
	"both wrong-type files reported"
untouched "dry run leaves production untouched"

expect_exit 1 "empty export" "$MIDSOPS" import "$BAD/empty"
assert_contains "$OUT" "empty export: no archetypes/ or powers/" "empty export message"
assert_not_contains "$OUT" ".keep" "dotfiles are ignored"
expect_exit 1 "missing directory" "$MIDSOPS" import "$TEST_TMP/does-not-exist"
assert_contains "$OUT" "does-not-exist" "missing directory named"
untouched "empty and missing exports leave production untouched"

for c in unknown-dir spaces-percent utf8-bom; do
	expect_exit 0 "bad $c: checks clean in a dry run" "$MIDSOPS" import "$BAD/$c" --dry-run
done
assert_eq "$(psql_q "select count(*) from ops.import_errors where run_id = (select max(id) - 2 from ops.import_runs) and code = 'unknown_directory' and severity = 'warning'")" 1 \
	"unknown directory is one warning"

# Cases git cannot store: symlink loops, a dangling symlink, an unreadable file.
cp -r "$BAD/spaces-percent" "$TEST_TMP/links"
ln -s . "$TEST_TMP/links/powers/vanguard_melee/loop"
ln -s b "$TEST_TMP/links/tags/a.json"
ln -s a.json "$TEST_TMP/links/tags/b"
ln -s missing.json "$TEST_TMP/links/powers/vanguard_melee/tidal_blade/ghost.json"
expect_exit 1 "symlink loops and a dangling symlink: import reports and ends" "$MIDSOPS" import "$TEST_TMP/links" --dry-run
e=$(psql_q "select code || ' ' || path from ops.import_errors where run_id = (select max(id) from ops.import_runs) order by id")
assert_contains "$e" "symlink_dir powers/vanguard_melee/loop" "directory symlink not followed"
assert_contains "$e" "symlink_loop tags/a.json" "symlink loop reported"
assert_contains "$e" "ghost.json" "dangling symlink reported"
if [ "$(id -u)" != 0 ]; then
	cp -r "$BAD/spaces-percent" "$TEST_TMP/unreadable"
	chmod 000 "$TEST_TMP/unreadable/powers/vanguard_melee/tidal_blade/riptide_cut.json"
	expect_exit 1 "unreadable file" "$MIDSOPS" import "$TEST_TMP/unreadable" --dry-run
	assert_contains "$OUT" "Permission denied" "unreadable file error"
else
	skip "unreadable file" "running as root, which reads anything"
fi
# A file over the size cap (64 MiB; sparse, so it costs no disk) is refused by its size,
# not read into memory.
cp -r "$BAD/spaces-percent" "$TEST_TMP/huge"
truncate -s 65M "$TEST_TMP/huge/tags/huge.json"
expect_exit 1 "a file over 64 MiB: import reports and ends" "$MIDSOPS" import "$TEST_TMP/huge" --dry-run
e=$(psql_q "select code || ' ' || path || ' ' || message from ops.import_errors where run_id = (select max(id) from ops.import_runs) order by id")
assert_contains "$e" "tags/huge.json cannot read: File too large" "the oversized file is named with the reason"
untouched "bad inputs never touched production"
