# data-checksums: row counts and content checksums of builds and game, recorded under a
# name and compared later, as the recovery runbooks prove their result.
expect_exit 64 "--save and --compare together are a usage error" "$MIDSOPS" data-checksums --save a --compare b
expect_exit 64 "a record name with a slash is refused" "$MIDSOPS" data-checksums --save ../x
assert_contains "$OUT" "'../x' is no record name" "the refusal names the bad name"
expect_exit 0 "data-checksums --list with no records" "$MIDSOPS" data-checksums --list
assert_contains "$OUT" "no records yet" "the list says there are none"
expect_exit 1 "comparing with a record that does not exist exits 1" "$MIDSOPS" data-checksums --compare nope
assert_contains "$OUT" "no record named 'nope'" "the error names the record"

"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
"$MIDSOPS" seed-builds "$TOP/tests/data/builds-mini.json" >/dev/null 2>&1
expect_exit 0 "data-checksums --save good" "$MIDSOPS" data-checksums --save good
assert_contains "$OUT" "recorded" "it says where the record went"
check "the record is a 0600 file in the state directory" test "$(stat -c %a "$XDG_STATE_HOME/midsops/checksums/good.json" 2>/dev/null)" = 600
check "game.powers is counted" sh -c 'printf "%s\n" "$1" | grep -Eq "^game\.powers +31 +[0-9a-f]{32}$"' _ "$OUT"
check "builds tables are counted" sh -c 'printf "%s\n" "$1" | grep -Eq "^builds\.builds +[0-9]+ +[0-9a-f]{32}$"' _ "$OUT"
expect_exit 0 "the database equals its record" "$MIDSOPS" data-checksums --compare good
assert_contains "$OUT" "builds and game equal 'good'" "the verdict says equal"

# A corrupting import: changed values and removed records.
cp -r "$MINI_EXPORT" "$TEST_TMP/bad"
for f in $(find "$TEST_TMP/bad/powers" -name '*.json' ! -name index.json | sort | head -n 5); do
	python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["accuracy"]=9.5; json.dump(d,open(p,"w"))' "$f"
done
rm -f "$TEST_TMP/bad/tags/momentum.json"
"$MIDSOPS" import "$TEST_TMP/bad" >/dev/null 2>&1
expect_exit 1 "after a corrupting import the comparison fails (exit 1)" "$MIDSOPS" data-checksums --compare good
check "the changed table is named DIFFERENT" sh -c 'printf "%s\n" "$1" | grep -Eq "^game\.powers +31 +31 +DIFFERENT$"' _ "$OUT"
assert_contains "$OUT" "differ from 'good'" "the verdict names the record"
OUT=$("$MIDSOPS" --json data-checksums --list)
assert_eq "$(printf '%s' "$OUT" | json_get .records.0.name)" "good" "data-checksums --list --json names the record"
"$MIDSOPS" import-rollback >/dev/null 2>&1
expect_exit 0 "after import-rollback builds and game equal the record again" "$MIDSOPS" data-checksums --compare good
