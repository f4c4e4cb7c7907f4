# Slow queries judge what users feel. midsops does its own work (imports, backups,
# maintenance, its probes) as the NOLOGIN role midsops_work, so pg_stat_statements, which
# keeps its figures per role, tells that work from the web workload: right after an import
# of the real export db-slow-queries is OK and lists the import's COPY and promote
# statements apart; a slow API call by a web login makes it warn and names the call.

# The runbook's query-time thresholds, written out so that a default changed elsewhere
# cannot change what this test means; memory and dead tuples out of reach, as in
# test_reports.sh, since those findings of perf-analyze are about this host.
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[thresholds]\nquery_time = 50 100\nmemory = 100000 200000\ndead_tuples = 100 100\n' \
	>>"$XDG_CONFIG_HOME/midsops/midsops.conf"

THIS_DB="(select oid from pg_database where datname = current_database())"
# This test's own psql statements run as the login, which is web workload to
# db-slow-queries: on a loaded machine a scan of pg_stat_statements can take 100 ms and
# page as the slowest web statement. Keep them out of pg_stat_statements (the login is a
# superuser, so it may turn tracking off for its session).
psql_q() {
	psql "$MIDSOPS_DSN" -XAtq -v ON_ERROR_STOP=1 -c "set pg_stat_statements.track = 'none'" -c "$1"
}
own_count() {
	psql_q "select count(*) from pg_stat_statements s join pg_roles r on r.oid = s.userid
		where r.rolname = 'midsops_work' and s.dbid = $THIS_DB and $1"
}

expect_exit 0 "slow queries: db-create" "$MIDSOPS" db-create
assert_eq "$(psql_q "select rolcanlogin::text || ',' || rolsuper::text from pg_roles where rolname = 'midsops_work'")" \
	"false,true" "midsops_work exists, cannot log in, and keeps a superuser login's rights"
assert_eq "$(psql_q "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
	where n.nspname in ('ops', 'game', 'stage', 'builds', 'cache', 'api')
	and c.relowner <> (select oid from pg_roles where rolname = session_user)")" 0 \
	"the schema's objects belong to the login, not to midsops_work (dumps restore without it)"

if [ -d "$REAL_EXPORT" ]; then
	src=$REAL_EXPORT
	expect_exit 0 "import the real export" "$MIDSOPS" import "$REAL_EXPORT"
	# Without the split this is what paged: the COPY of 24 MB batches alone takes
	# hundreds of milliseconds per statement.
	n=$(own_count "s.mean_exec_time >= 50")
	[ "${n:-0}" -gt 0 ] && ok "the import left $n own statements over the 50 ms threshold" ||
		fail "the import's statements are recorded as midsops_work's" "none over 50 ms: $n"
	assert_eq "$(own_count "s.query ilike 'copy stage.records%'")" 1 \
		"the import's COPY is recorded as midsops_work's"
	expect_exit 0 "db-slow-queries is OK right after an import" "$MIDSOPS" db-slow-queries
	assert_contains "$OUT" "midsops_own" "midsops's own statements have a section of their own"
	assert_contains "$OUT" "copy stage.records" "the import's COPY is listed there"
	assert_not_contains "$OUT" "judged with the web workload" "this superuser login runs as midsops_work"
	expect_exit 0 "db-slow-queries --json right after an import" "$MIDSOPS" db-slow-queries --json
	printf '%s' "$OUT" | python3 -c 'import json,sys
d = json.load(sys.stdin)
assert d["status"] == "OK" and d["slowest_by_mean"] == [], d["slowest_by_mean"]
web = [r["query"].lower() for r in d["top_by_total_time"]]
assert not any("stage.records" in q or "insert into game." in q for q in web), web
own = [r["query"].lower() for r in d["midsops_own"]["slowest_by_mean"]]
assert any(q.startswith("copy stage.records") for q in own), own' &&
		ok "JSON: no web statement over the threshold; the COPY only under midsops_own" ||
		fail "db-slow-queries JSON after an import" "$(printf '%s' "$OUT" | head -c 800)"
	OUT=$("$MIDSOPS" perf-analyze --json 2>&1)
	printf '%s' "$OUT" | python3 -c 'import json,sys
d = json.load(sys.stdin)
q = [f for f in d["findings"] if f["metric"] == "query_time"][0]
assert q["status"] == "OK" and "web" in q["text"] and q["unit"] == "s", q
assert "not judged" in d["midsops_own_query_time"], d' &&
		ok "perf-analyze after an import: web query time OK, midsops's own shown apart" ||
		fail "perf-analyze after an import" "$(printf '%s' "$OUT" | head -c 800)"
else
	skip "slow queries right after a real import" "$REAL_EXPORT is absent"
	src=$MINI_EXPORT
	expect_exit 0 "import the mini export" "$MIDSOPS" import "$MINI_EXPORT"
fi

# pg_dump runs as midsops_work too (--role): its COPYs are not the web's.
printf '[midsops]\nbackup_dir = %s\n' "$TEST_TMP/repo" >>"$XDG_CONFIG_HOME/midsops/midsops.conf"
expect_exit 0 "an archive backup" "$MIDSOPS" db-backup-archive
[ "$(own_count "s.query ilike 'copy game.powers %to stdout%'")" -ge 1 ] &&
	ok "pg_dump's statements are recorded as midsops_work's" ||
	fail "pg_dump --role" "$(psql_q "select string_agg(r.rolname || ': ' || left(s.query, 60), '; ') from pg_stat_statements s join pg_roles r on r.oid = s.userid where s.query ilike 'copy game.powers%'")"
expect_exit 0 "db-slow-queries is OK after the backup" "$MIDSOPS" db-slow-queries

# A web login calls the API, slowly: its mean lands between the thresholds (or above).
psql_q "drop owned by web; drop role if exists web" >/dev/null 2>&1
psql_q "create role web login; grant usage on schema api, game, cache, ops to web;
	grant select on all tables in schema game to web; grant select on ops.import_generations to web;
	grant select, insert, update, delete on all tables in schema cache to web;
	grant usage on all sequences in schema cache to web" >/dev/null
WEB_DSN="$MIDSOPS_DSN user=web"
i=0
while [ $i -lt 5 ]; do
	psql "$WEB_DSN" -XAtq -v ON_ERROR_STOP=1 \
		-c "select api.search_powers('fire', 10) is not null, pg_sleep(0.07)" >/dev/null 2>"$TEST_TMP/web.err" ||
		break
	i=$((i + 1))
done
[ "$i" = 5 ] && ok "the web login called api.search_powers five times" ||
	fail "the web login called api.search_powers five times" "$(head -c 300 "$TEST_TMP/web.err")"
OUT=$("$MIDSOPS" db-slow-queries 2>&1)
rc=$?
{ [ $rc = 1 ] || [ $rc = 2 ]; } && ok "db-slow-queries warns after a slow API call (exit $rc)" ||
	fail "db-slow-queries after a slow API call" "exit $rc: $(printf '%s' "$OUT" | head -n 8)"
assert_contains "$OUT" "api.search_powers" "the slow API statement is named"
assert_contains "$(printf '%s\n' "$OUT" | head -n 1)" "web statement" "the status line says what is slow"
OUT=$("$MIDSOPS" db-slow-queries --json 2>&1)
printf '%s' "$OUT" | python3 -c 'import json,sys
d = json.load(sys.stdin)
assert d["status"] in ("WARNING", "CRITICAL"), d["status"]
assert "api.search_powers" in d["slowest_by_mean"][0]["query"], d["slowest_by_mean"]
assert not any("api.search_powers" in r["query"] for r in d["midsops_own"]["slowest_by_mean"])' &&
	ok "JSON: the API call is the slowest web statement, not midsops's own" ||
	fail "db-slow-queries JSON after a slow API call" "$(printf '%s' "$OUT" | head -c 800)"
OUT=$("$MIDSOPS" diag-full --json 2>&1)
printf '%s' "$OUT" | python3 -c 'import json,sys
d = json.load(sys.stdin)["slow_statements"]
assert d["slowest_mean"]["status"] in ("WARNING", "CRITICAL"), d["slowest_mean"]
assert "api.search_powers" in d["statements"][0]["query"], d["statements"]
assert "midsops_own" in d' &&
	ok "diag-full judges the same web workload" ||
	fail "diag-full slow statements" "$(printf '%s' "$OUT" | head -c 800)"
expect_exit 0 "generate-weekly-report" "$MIDSOPS" generate-weekly-report
w=$(ls "$XDG_STATE_HOME"/midsops/reports/weekly-*.md 2>/dev/null | tail -n 1)
body=$(cat "$w" 2>/dev/null)
assert_contains "$body" "api.search_powers" "the weekly report lists the slow API call"
assert_contains "$body" "midsops's own import, backup and maintenance statements" \
	"the weekly report lists midsops's own statements apart"
case "$body" in
*"against the query-time thresholds"*) ok "the weekly report judges the web workload" ;;
*) fail "the weekly report judges the web workload" "$(printf '%s' "$body" | grep -A3 'Slow statements')" ;;
esac

psql_q "drop owned by web; drop role web" >/dev/null 2>&1
