# export writes the current generation in the export layout; every file equals its
# source as a JSON value (key order aside): nothing was lost.
same_json() { # A B: compare every file of A with B as JSON values
	python3 - "$1" "$2" <<'PY'
import json, os, sys
from decimal import Decimal
# Numbers compare as decimals: jsonb prints 3.4028234663852886e+38 in positional notation.
load = lambda f: json.load(f, parse_float=Decimal, parse_int=Decimal)
a, b = sys.argv[1], sys.argv[2]
bad = n = 0
for root, dirs, files in os.walk(a):
    dirs[:] = [d for d in dirs if not d.startswith('.')]
    for f in files:
        if f.startswith('.'):
            continue
        p = os.path.join(root, f)
        rel = os.path.relpath(p, a)
        n += 1
        try:
            with open(os.path.join(b, rel), encoding='utf-8-sig') as fb, open(p, encoding='utf-8-sig') as fa:
                if load(fa) != load(fb):
                    bad += 1; print("differs:", rel)
        except FileNotFoundError:
            bad += 1; print("missing:", rel)
print(n, "files,", bad, "differ")
sys.exit(1 if bad or n == 0 else 0)
PY
}
"$MIDSOPS" import "$MINI_EXPORT" >/dev/null 2>&1
expect_exit 0 "export the mini generation" "$MIDSOPS" export "$TEST_TMP/out"
if same_json "$MINI_EXPORT" "$TEST_TMP/out" >"$TEST_TMP/cmp" 2>&1; then ok "export == mini export as JSON"; else
	fail "export == mini export as JSON" "$(tail -3 "$TEST_TMP/cmp")"; fi
assert_eq "$(find "$TEST_TMP/out" -type f | wc -l)" "$(find "$MINI_EXPORT" -type f ! -name '.*' | wc -l)" "export writes one file per source file"
assert_eq "$(stat -c %a "$(find "$TEST_TMP/out" -type f | head -1)")" 600 "exported files are mode 0600"
expect_exit 1 "export refuses a non-empty directory" "$MIDSOPS" export "$TEST_TMP/out"
expect_exit 0 "export --force" "$MIDSOPS" export "$TEST_TMP/out" --force
expect_exit 0 "export-diff of an export with itself" "$MIDSOPS" --json export-diff "$MINI_EXPORT" "$TEST_TMP/out"
assert_eq "$(printf '%s' "$OUT" | json_get .records_differing)" 0 "the export differs from its source in nothing"

# Enhancements are records of their own inside their set's file: one changed, one gone, one
# new (in another set), and a key added to one of them, all seen by export-diff.
cp -r "$MINI_EXPORT" "$TEST_TMP/enh"
python3 - "$TEST_TMP/enh/boost_sets" <<'PY'
import json, os, sys
d = sys.argv[1]
names = sorted(n for n in os.listdir(d) if n.endswith(".json") and n != "index.json")
a, b = (os.path.join(d, n) for n in names[:2])
sa, sb = json.load(open(a)), json.load(open(b))
ka = sorted(sa["computed"]["boost_infos"])
sa["computed"]["boost_infos"][ka[0]]["max_level"] = 99          # changed
sa["computed"]["boost_infos"][ka[0]]["new_field"] = True         # a key added
del sa["computed"]["boost_infos"][ka[1]]                         # removed
sb["computed"]["boost_infos"]["brand_new_enhancement"] = {"computed_name": "New"}  # added
json.dump(sa, open(a, "w"), indent=2)
json.dump(sb, open(b, "w"), indent=2)
PY
expect_exit 0 "export-diff with changed enhancements" "$MIDSOPS" --json export-diff "$MINI_EXPORT" "$TEST_TMP/enh"
assert_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); r=[x for x in d["records"] if x["entity"]=="enhancement"][0]; print(r["added"], r["removed"], r["changed"])')" "1 1 1" \
	"export-diff: enhancements added, removed and changed are counted"
assert_contains "$OUT" "new_field" "export-diff: a key new to enhancement records is a schema change"

if [ -d "$REAL_EXPORT" ]; then
	db=midsops_real_$$
	psql_q "create database $db" >/dev/null
	real="$MIDSOPS_DSN dbname=$db"
	expect_exit 0 "import the real export" "$MIDSOPS" --dsn "$real" import "$REAL_EXPORT"
	expect_exit 0 "export the real generation" "$MIDSOPS" --dsn "$real" export "$TEST_TMP/real"
	if same_json "$REAL_EXPORT" "$TEST_TMP/real" >"$TEST_TMP/cmp" 2>&1; then ok "export == real export as JSON"; else
		fail "export == real export as JSON" "$(tail -3 "$TEST_TMP/cmp")"; fi
	psql_q "drop database $db" >/dev/null
else
	skip "real export fidelity" "$REAL_EXPORT is absent"
fi
