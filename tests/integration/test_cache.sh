# Cache layer: api functions, hit, miss, expiry, eviction, invalidation after an import,
# and the cache-* commands.

expect_exit 0 "cache: db-create" "$MIDSOPS" db-create
if ! "$MIDSOPS" help import >/dev/null 2>&1 || [ ! -d "$MINI_EXPORT" ]; then
	skip "cache tests" "no import command or no $MINI_EXPORT"
	return 0
fi
expect_exit 0 "cache: import the mini export" "$MIDSOPS" import "$MINI_EXPORT"
P=$(psql_q "select key from game.powers where not retired order by key limit 1")
PS=$(psql_q "select key from game.powersets where not retired order by key limit 1")
SET=$(psql_q "select key from game.enhancement_sets where not retired order by key limit 1")

expect_exit 0 "cache-clear" "$MIDSOPS" cache-clear
stat() { "$MIDSOPS" cache-stats --json 2>/dev/null | json_get "$1"; }
assert_eq "$(psql_q "select api.power('$P') ->> 'full_name' is not null")" t "api.power returns the power"
assert_eq "$(stat misses)" 1 "first read is a miss"
assert_eq "$(psql_q "select api.power(upper('$P')) ->> 'key'")" "$P" "a hit returns the same value (key case-insensitive)"
assert_eq "$(stat hits)" 1 "second read is a hit"
assert_eq "$(psql_q "select jsonb_typeof(api.power('$P') -> 'effects')")" array "api.power resolves effects"
assert_eq "$(psql_q "select api.power('$P') -> 'powerset' ->> 'key' is not null")" t "api.power resolves the powerset"
assert_eq "$(psql_q "select jsonb_typeof(api.powerset_powers('$PS') -> 'powers')")" array "api.powerset_powers lists powers"
assert_eq "$(psql_q "select api.set_bonuses('$SET') ->> 'key'")" "$SET" "api.set_bonuses finds the set"
assert_eq "$(psql_q "select jsonb_typeof(api.search_powers('a'))")" array "api.search_powers returns an array"
assert_eq "$(psql_q "select api.power('no.such.power') is null")" t "an unknown power is NULL"
assert_eq "$(psql_q "select api.power('no.such.power') is null")" t "an unknown power is NULL from the cache too"
assert_eq "$(psql_q "select count(distinct shard) >= 2 from cache.counters")" t \
	"counters are sharded per backend (each psql is its own backend)"

# Expiry: a one-second TTL from the config reaches cache.settings.
printf '[cache]\nttl = 1\n' >"$TEST_TMP/ttl.conf"
expect_exit 0 "cache-stats syncs [cache] ttl" "$MIDSOPS" --config "$TEST_TMP/ttl.conf" cache-stats
assert_eq "$(psql_q "select ttl_s from cache.settings")" 1 "ttl copied into cache.settings"
psql_q "select api.search_powers('expiry-test')" >/dev/null
sleep 1.3
before=$(stat expiries)
psql_q "select api.search_powers('expiry-test')" >/dev/null
assert_eq "$(stat expiries)" "$((before + 1))" "an expired entry is counted as an expiry"
psql_q "select api.set_bonuses('$SET')" >/dev/null
sleep 1.3
expect_exit 0 "cache-cleanup" "$MIDSOPS" --config "$TEST_TMP/ttl.conf" cache-cleanup
assert_contains "$OUT" "removed" "cache-cleanup reports what it removed"
assert_eq "$(psql_q "select count(*) from cache.entries where expires <= now()")" 0 "cache-cleanup leaves no expired entry"

# Eviction: at most max_entries stay, least recently used go first.
printf '[cache]\nmax_entries = 5\n' >"$TEST_TMP/small.conf"
expect_exit 0 "cache-clear (small)" "$MIDSOPS" --config "$TEST_TMP/small.conf" cache-clear
for w in a b c d e f g h; do psql_q "select api.search_powers('$w')" >/dev/null; done
n=$(psql_q "select count(*) from cache.entries")
[ "$n" -le 5 ] && ok "eviction keeps entries within max_entries ($n)" || fail "eviction" "$n entries"
[ "$(stat evictions)" -gt 0 ] && ok "evictions are counted" || fail "evictions counted" "$(stat evictions)"
assert_eq "$(psql_q "select count(*) from cache.entries where key = 'search:20:h'")" 1 "the newest entry survives eviction"
printf '[cache]\nmax_bytes = 2000\n' >"$TEST_TMP/bytes.conf"
expect_exit 0 "cache-stats syncs max_bytes" "$MIDSOPS" --config "$TEST_TMP/bytes.conf" cache-stats
psql_q "select api.power('$P')" >/dev/null
b=$(psql_q "select coalesce(sum(bytes), 0) from cache.entries")
[ "$b" -le 2000 ] && ok "eviction keeps bytes within max_bytes ($b)" || fail "byte eviction" "$b bytes"

# Invalidation: a promoted import makes earlier entries misses.
expect_exit 0 "cache-clear (default)" "$MIDSOPS" cache-clear
expect_exit 0 "cache-warm" "$MIDSOPS" cache-warm
assert_contains "$OUT" "warmed" "cache-warm reports the entries"
[ "$(psql_q "select count(*) from cache.entries")" -gt 0 ] && ok "cache-warm fills the cache" || fail "cache-warm" "empty"
psql_q "select api.power('$P')" >/dev/null
h=$(stat hits)
assert_eq "$h" 1 "a warmed entry is a hit"
gen=$(psql_q "select cache.generation()")
NEXT=$MINI_EXPORT
[ -d "$TOP/tests/data/export-mini-v2" ] && NEXT=$TOP/tests/data/export-mini-v2
expect_exit 0 "cache: import again (new generation)" "$MIDSOPS" import "$NEXT"
[ "$(psql_q "select cache.generation()")" -gt "$gen" ] && ok "the import promoted a new generation" || fail "generation" "not bumped"
m=$(stat misses)
psql_q "select api.power('$P')" >/dev/null
assert_eq "$(stat misses)" "$((m + 1))" "after an import the next read is a miss (invalidated)"
assert_eq "$(psql_q "select count(*) from cache.entries where generation < cache.generation()")" 0 \
	"no entry of an older generation is left"
psql_q "select cache.put('stale:x', 'stale', '1')" >/dev/null
psql_q "update cache.entries set generation = generation - 1 where key = 'stale:x'" >/dev/null
assert_eq "$(psql_q "select cache.get('stale:x', 'stale') is null")" t "an entry of an older generation is a miss"
assert_eq "$(psql_q "select cache.invalidate('stale:')")" 1 "cache.invalidate(prefix) drops matching entries"

expect_exit 0 "cache-analyze" "$MIDSOPS" cache-analyze --json --top 3
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["by_prefix"] and "size_distribution" in d and "top_keys" in d' \
	&& ok "cache-analyze: hit rate by prefix, top keys, size distribution" || fail "cache-analyze json" "$OUT"
expect_exit 0 "cache-rebuild-indexes" "$MIDSOPS" cache-rebuild-indexes
assert_contains "$OUT" "cache.entries_pkey" "cache-rebuild-indexes lists the indexes"
expect_exit 0 "cache-stats --json" "$MIDSOPS" cache-stats --json
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="OK" and "hit_rate" in d' \
	&& ok "cache-stats JSON has the hit rate and a status" || fail "cache-stats json" "$OUT"
expect_exit 64 "cache-clear may not be abbreviated" "$MIDSOPS" cache-clea
# status also judges the host (memory in use, free disk) and the database as a whole (dead
# tuples: this file invalidates cache entries on purpose, and whether the table counts pass
# the 1000-row floor depends on autovacuum's timing). This check is about the cache, so
# those thresholds are set out of reach.
mkdir -p "$XDG_CONFIG_HOME/midsops"
printf '[thresholds]\nmemory = 100000 200000\ndisk_free = 0 0\ndead_tuples = 100 100\nbuffer_hit_ratio = 0 0\n' \
	>>"$XDG_CONFIG_HOME/midsops/midsops.conf"
expect_exit 0 "status shows the cache" "$MIDSOPS" status
assert_contains "$OUT" "cache" "status has a cache section"
assert_contains "$OUT" "maintenance" "status has a maintenance section"
