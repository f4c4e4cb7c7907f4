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

int probe_errors_parse(PGresult *r, struct errors_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->taken = time(NULL);
	cJSON *j = probe_json_row(r, s->error, sizeof s->error);
	if (!j)
		return -1;
	s->present = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "present"));
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "items"))
	{
		if (s->n >= PROBE_ERRORS)
			break;
		struct error_item *e = &s->items[s->n++];
		util_json_strcpy(v, "kind", e->kind, sizeof e->kind);
		util_json_strcpy(v, "source", e->source, sizeof e->source);
		util_json_strcpy(v, "level", e->level, sizeof e->level);
		util_json_strcpy(v, "path", e->path, sizeof e->path);
		util_json_strcpy(v, "json_path", e->json_path, sizeof e->json_path);
		util_json_strcpy(v, "code", e->code, sizeof e->code);
		util_json_strcpy(v, "message", e->message, sizeof e->message);
		e->id = (long long)util_json_num(v, "id", 0);
		e->at = util_json_num(v, "at", 0);
		e->run_id = (long long)util_json_num(v, "run_id", 0);
	}
	cJSON_Delete(j);
	s->ok = 1;
	return 0;
}
