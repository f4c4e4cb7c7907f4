/* Recent errors for the console: ops.import_errors (when the import family's table
 * exists) and ops.events at warning level or above, newest first, as one JSON array.
 * Which tables exist comes from the health probe, so this stays one round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "probe_console.h"
#include "probe_int.h"
#include "util.h"

/* One index scan per level (events_level_at) instead of sorting every warning. */
#define EVENTS_PART                                                                                \
	"(select 'event' as kind, id, extract(epoch from at) as at, level, source,\n"              \
	"  null::text as path, null::text as json_path, null::text as code, message, run_id\n"     \
	"  from ops.events where level = 'error' order by events.at desc limit 50)\n"              \
	" union all (select 'event', id, extract(epoch from at), level, source, null, null,\n"     \
	"  null, message, run_id from ops.events where level = 'warning'\n"                        \
	"  order by events.at desc limit 50)"
#define IMPORT_PART                                                                                \
	"(select 'import' as kind, id, extract(epoch from at) as at, severity as level,\n"         \
	"  'import' as source, path, json_path, code, message, run_id\n"                           \
	"  from ops.import_errors order by import_errors.at desc limit 50)"
#define HEAD                                                                                       \
	"/* midsops console: errors */ select json_build_object('present', true, 'items',\n"       \
	"  (select json_agg(e order by e.at desc) from (select * from (\n"
#define TAIL ") u order by at desc limit 50) e))"

const char *probe_errors_sql(int have_events, int have_import_errors)
{
	static const char both[] = HEAD EVENTS_PART " union all " IMPORT_PART TAIL;
	static const char events[] = HEAD EVENTS_PART TAIL;
	static const char imports[] = HEAD IMPORT_PART TAIL;
	static const char none[] =
	    "/* midsops console: errors */ select json_build_object('present', false)";
	if (have_events && have_import_errors)
		return both;
	if (have_events)
		return events;
	if (have_import_errors)
		return imports;
	return none;
}

#define F(m, t) UTIL_JF(struct error_item, m, #m, t)
static const struct util_jfield item_fields[] = {
    F(kind, UTIL_J_STR),      F(source, UTIL_J_STR), F(level, UTIL_J_STR),   F(path, UTIL_J_STR),
    F(json_path, UTIL_J_STR), F(code, UTIL_J_STR),   F(message, UTIL_J_STR), F(id, UTIL_J_LL),
    F(at, UTIL_J_DBL),	      F(run_id, UTIL_J_LL)};
#undef F

int probe_errors_parse(PGresult *r, struct errors_snapshot *s)
{
	cJSON *j = PROBE_JSON_START(s, r);
	if (!j)
		return -1;
	s->present = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "present"));
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "items"))
	{
		if (s->n >= PROBE_ERRORS)
			break;
		util_json_fill(v, item_fields, sizeof item_fields / sizeof *item_fields,
			       &s->items[s->n++]);
	}
	cJSON_Delete(j);
	s->ok = 1;
	return 0;
}
