# make run (tools/run.sh): the first run loads the bundled sample and its builds; a second
# run finds the completed import and loads nothing again (issue: it re-imported every time).
runs() { psql_q "select count(*) from ops.import_runs"; }
OUT=$(sh "$TOP/tools/run.sh" </dev/null 2>&1)
assert_eq "$(runs)" 1 "the first make run imports the sample once"
assert_eq "$(psql_q "select count(*) > 0 from builds.builds")" t "and seeds the sample builds"
assert_contains "$OUT" "environment" "without a terminal it ends with the status"
OUT=$(sh "$TOP/tools/run.sh" </dev/null 2>&1)
assert_eq "$(runs)" 1 "a second make run does not import again"
assert_contains "$OUT" "environment" "and still ends with the status"
