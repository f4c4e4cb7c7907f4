# --json that scripts can use: every figure is a number in base units (seconds, bytes,
# ratio 0..1, counts) beside its status and display text; watch --json is NDJSON.

"$MIDSOPS" db-create >/dev/null 2>&1
"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1 || fail "import the mini export" "failed"
psql_q "select api.get_power(full_name) from game.powers limit 20" >/dev/null 2>&1
# A backup in the repository, so db-backup-list has a row whose size is checked below.
"$MIDSOPS" db-backup-archive >/dev/null 2>&1 || fail "db-backup-archive for db-backup-list" "failed"

for c in status db-check system-resources import-health emergency-status cache-stats db-health \
	diag-quick diag-full import-status import-errors import-perf import-stats db-backup-list cache-analyze \
	validate-all-data perf-analyze; do
	"$MIDSOPS" $c --json >"$TEST_TMP/$c.json" 2>/dev/null
	if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TEST_TMP/$c.json" 2>/dev/null; then
		fail "$c --json is one JSON document" "$(head -c 300 "$TEST_TMP/$c.json")"
		continue
	fi
	bad=$(python3 "$TOP/tests/data/json-figures.py" <"$TEST_TMP/$c.json")
	[ -z "$bad" ] && ok "$c --json: every figure is a number" || fail "$c --json: every figure is a number" "$bad"
done

size=$(python3 -c 'import json,sys; print(type(json.load(open(sys.argv[1]))["backups"][0]["size"]).__name__)' "$TEST_TMP/db-backup-list.json" 2>&1)
assert_eq "$size" "int" "db-backup-list --json gives a backup's size in bytes, as a number"

# The figure shape: {"value": number, "unit", "warn", "crit", "min", "max", "status", "text"}.
python3 - "$TEST_TMP/db-check.json" <<'PY' && ok "db-check --json figures have the documented shape" || fail "db-check --json figure shape" "$(cat "$TEST_TMP/db-check.json" | head -c 600)"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["connections"]
assert isinstance(c["value"], (int, float)) and c["unit"] == "count", c
assert c["min"] == 0 and c["max"] >= 1 and c["status"] == "OK" and " of " in c["text"], c
h = d["buffer_hit_ratio"]
assert h["unit"] == "ratio" and (h["value"] is None or 0 <= h["value"] <= 1), h
assert 0 < h["warn"] <= 1 and h["lower_is_worse"] is True, h
assert d["uptime"]["unit"] == "s" and d["uptime"]["value"] >= 0, d["uptime"]
assert d["database_size"]["unit"] == "B" and d["database_size"]["value"] > 1000000, d["database_size"]
assert d["status"] in ("OK", "WARNING", "CRITICAL", "UNKNOWN")
PY
python3 - "$TEST_TMP/system-resources.json" <<'PY' && ok "system-resources --json: free space in bytes and a 0..1 ratio" || fail "system-resources --json disks" "$(head -c 600 "$TEST_TMP/system-resources.json")"
import json, sys
d = json.load(open(sys.argv[1]))
for disk in d["disks"]:
    assert isinstance(disk["free"], int) and disk["free"] > 0, disk
    assert 0 <= disk["free_ratio"] <= 1, disk
PY
python3 - "$TEST_TMP/import-status.json" <<'PY' && ok "import-status --json counts are numbers" || fail "import-status --json numbers" "$(head -c 600 "$TEST_TMP/import-status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("files_done", "files_total", "bytes_done", "records_done", "errors", "duration"):
    assert isinstance(d[k], (int, float)), (k, d[k])
PY

# watch --json: one compact document per line, nothing else.
"$MIDSOPS" watch --json --count 2 --interval 1 >"$TEST_TMP/watch.ndjson" 2>/dev/null
python3 - "$TEST_TMP/watch.ndjson" <<'PY' && ok "watch --json is NDJSON: one document per line, nothing else" || fail "watch --json NDJSON" "$(head -c 400 "$TEST_TMP/watch.ndjson")"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "no final newline"
docs = [json.loads(l) for l in lines[:-1]]
assert len(docs) == 2, len(docs)
for d in docs:
    assert d and "status" in d and isinstance(d["epoch"], int), d.keys()
PY
