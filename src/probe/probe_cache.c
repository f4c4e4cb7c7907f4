/* Cache statistics for the console: the application cache (cache.counters and
 * cache.entries, when the cache family's schema is installed) beside PostgreSQL's own
 * buffer-cache hit ratio per database and for the busiest tables. The application
 * cache's tables are only named inside query_to_xml, which plans them at run time, so
 * the one query stays valid whether or not they exist. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "probe_console.h"
#include "probe_int.h"
#include "util.h"

/* Counters are per prefix and shard (a few hundred small rows); the size figures are
 * kept there by triggers, so nothing here scans cache.entries except the expired count,
 * which uses the expires index. */
static const char cache_sql[] =
    "/* midsops console: cache */ select json_build_object(\n"
    "  'installed', to_regclass('cache.entries') is not null,\n"
    "  'counters', case when to_regclass('cache.counters') is not null then\n"
    "    (xpath('/row/v/text()', query_to_xml('select json_build_object(''hits'', sum(hits),\n"
    "      ''misses'', sum(misses), ''expiries'', sum(expiries), ''evictions'', sum(evictions),\n"
    "      ''entries'', sum(entries), ''bytes'', sum(bytes))::text as v from cache.counters',\n"
    "      false, true, '')))[1]::text end,\n"
    "  'expired', case when to_regclass('cache.entries') is not null then\n"
    "    (xpath('/row/v/text()', query_to_xml('select count(*) as v from cache.entries\n"
    "      where expires < now()', false, true, '')))[1]::text end,\n"
    "  'relbytes', case when to_regclass('cache.entries') is not null then\n"
    "    pg_total_relation_size(to_regclass('cache.entries')) end,\n"
    "  'dbs', (select json_agg(json_build_object('name', datname, 'blocks', blks_hit + blks_read,\n"
    "      'hit', case when blks_hit + blks_read > 0 then 100.0 * blks_hit / (blks_hit + "
    "blks_read) end)\n"
    "      order by blks_hit + blks_read desc)\n"
    "    from pg_stat_database where datname is not null),\n"
    "  'tables', (select json_agg(t) from (select schemaname || '.' || relname as name,\n"
    "      heap_blks_hit + coalesce(idx_blks_hit, 0) + heap_blks_read + coalesce(idx_blks_read, "
    "0)\n"
    "        as blocks,\n"
    "      case when heap_blks_hit + coalesce(idx_blks_hit, 0) + heap_blks_read\n"
    "        + coalesce(idx_blks_read, 0) > 0 then 100.0 * (heap_blks_hit + coalesce(idx_blks_hit, "
    "0))\n"
    "        / (heap_blks_hit + coalesce(idx_blks_hit, 0) + heap_blks_read + "
    "coalesce(idx_blks_read, 0))\n"
    "        end as hit\n"
    "    from pg_statio_user_tables order by 2 desc limit 5) t))";

const char *probe_console_cache_sql(void)
{
	return cache_sql;
}

/* A database's or a table's row: both lists come from the query in the same form. */
static void hit_row(const cJSON *v, char *name, size_t n, double *hit, long long *blocks)
{
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(v, "name");
	snprintf(name, n, "%s", cJSON_IsString(nm) ? nm->valuestring : "?");
	*hit = util_json_num(v, "hit", NAN);
	*blocks = (long long)util_json_num(v, "blocks", 0);
}

/* The API's own counters, as its cache.stats row holds them. */
#define F(m) UTIL_JF(struct console_cache_snapshot, m, #m, UTIL_J_LL)
static const struct util_jfield counter_fields[] = {F(hits),	  F(misses),  F(expiries),
						    F(evictions), F(entries), F(bytes)};
#undef F

int probe_console_cache_parse(PGresult *r, struct console_cache_snapshot *s)
{
	cJSON *j = PROBE_JSON_START(s, r);
	s->hit_rate = NAN;
	if (!j)
		return -1;
	s->installed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "installed"));
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "counters");
	if (cJSON_IsString(cs)) {
		/* xpath hands the text node back XML-escaped. */
		char buf[1024];
		size_t o = 0;
		for (const char *p = cs->valuestring; *p && o + 1 < sizeof buf; p++) {
			if (strncmp(p, "&quot;", 6) == 0) {
				buf[o++] = '"';
				p += 5;
			} else if (strncmp(p, "&amp;", 5) == 0) {
				buf[o++] = '&';
				p += 4;
			} else
				buf[o++] = *p;
		}
		buf[o] = 0;
		cJSON *c = cJSON_Parse(buf);
		if (c) {
			util_json_fill(c, counter_fields,
				       sizeof counter_fields / sizeof *counter_fields, s);
			if (s->hits + s->misses > 0)
				s->hit_rate =
				    100.0 * (double)s->hits / (double)(s->hits + s->misses);
			cJSON_Delete(c);
		}
	}
	s->expired_now = (long long)util_json_num(j, "expired", 0);
	if (!s->bytes)
		s->bytes = (long long)util_json_num(j, "relbytes", 0);
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "dbs"))
	{
		if (s->ndb >= PROBE_CACHE_DBS)
			break;
		hit_row(v, s->db[s->ndb].name, sizeof s->db[s->ndb].name, &s->db[s->ndb].hit,
			&s->db[s->ndb].blocks);
		s->ndb++;
	}
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "tables"))
	{
		if (s->ntables >= 5)
			break;
		hit_row(v, s->tables[s->ntables].name, sizeof s->tables[s->ntables].name,
			&s->tables[s->ntables].hit, &s->tables[s->ntables].blocks);
		s->ntables++;
	}
	cJSON_Delete(j);
	s->ok = 1;
	return 0;
}
