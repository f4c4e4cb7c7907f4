/* The api cache's figures: sums over the sharded counters (sql/020_cache.sql). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "probe_health.h"
#include "probe_int.h"

const char probe_cache_stats_sql[] =
    "select coalesce(sum(hits), 0), coalesce(sum(misses), 0), coalesce(sum(expiries), 0),\n"
    "  coalesce(sum(evictions), 0), coalesce(sum(invalidations), 0), coalesce(sum(stores), 0),\n"
    "  coalesce(sum(entries), 0), coalesce(sum(bytes), 0),\n"
    "  (select max_entries from cache.settings), (select max_bytes from cache.settings),\n"
    "  (select ttl_s from cache.settings), cache.generation(),\n"
    "  (select count(*) from cache.entries where expires <= now()),\n"
    "  pg_total_relation_size('cache.entries')\n"
    "from cache.counters";

static long long col(PGresult *r, int i)
{
	return PQgetisnull(r, 0, i) ? 0 : strtoll(PQgetvalue(r, 0, i), NULL, 10);
}

int probe_cache_stats_parse(PGresult *r, struct cache_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->taken = time(NULL);
	s->hit_rate = NAN;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 14) {
		probe_result_error(s->error, sizeof s->error, r,
				   "no result (is the schema migrated? run db-migrate)");
		return -1;
	}
	s->hits = col(r, 0);
	s->misses = col(r, 1);
	s->expiries = col(r, 2);
	s->evictions = col(r, 3);
	s->invalidations = col(r, 4);
	s->stores = col(r, 5);
	s->entries = col(r, 6);
	s->bytes = col(r, 7);
	s->max_entries = col(r, 8);
	s->max_bytes = col(r, 9);
	s->ttl_s = col(r, 10);
	s->generation = (int)col(r, 11);
	s->expired_now = col(r, 12);
	s->table_bytes = col(r, 13);
	if (s->hits + s->misses > 0)
		s->hit_rate = 100.0 * (double)s->hits / (double)(s->hits + s->misses);
	s->ok = 1;
	return 0;
}

PROBE_BLOCKING(probe_cache_stats, struct cache_snapshot, probe_cache_stats_sql,
	       probe_cache_stats_parse)

int cache_sync_settings(PGconn *c, const struct config *cfg, char *err, size_t errlen)
{
	char n[32], b[32], t[32];
	snprintf(n, sizeof n, "%ld", cfg->cache_max_entries);
	snprintf(b, sizeof b, "%ld", cfg->cache_max_bytes);
	snprintf(t, sizeof t, "%ld", cfg->cache_ttl);
	const char *p[] = {n, b, t};
	return db_exec(c, err, errlen,
		       "update cache.settings set max_entries = $1::bigint, max_bytes = $2::bigint,"
		       " ttl_s = $3::int, updated_at = now()"
		       " where id = 1 and (max_entries, max_bytes, ttl_s)"
		       "   is distinct from ($1::bigint, $2::bigint, $3::int)",
		       3, p);
}
