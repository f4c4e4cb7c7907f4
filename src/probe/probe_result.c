/* What the probes' parsers share in reading a result. */
#include <stdio.h>
#include <string.h>

#include "probe_int.h"

void probe_result_error(char *err, size_t errlen, const PGresult *r, const char *fallback)
{
	const char *m = PQresultErrorMessage(r);
	snprintf(err, errlen, "%s", m[0] ? m : fallback);
	err[strcspn(err, "\n")] = 0;
}

cJSON *probe_json_row(PGresult *r, char *err, size_t errlen)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 1) {
		probe_result_error(err, errlen, r, "no result");
		return NULL;
	}
	cJSON *j = cJSON_Parse(PQgetvalue(r, 0, 0));
	if (!j)
		snprintf(err, errlen, "probe returned malformed JSON");
	return j;
}
