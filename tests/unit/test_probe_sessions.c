/* The sessions probe's parser and its blocking tree, fed results built with libpq's own
 * constructors: a chain two deep, a blocker outside the rows kept, and a cycle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "probe_sessions.h"

static PGresult *result(const char *json)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc a = {.name = "c", .typid = 25, .typlen = -1, .atttypmod = -1};
	PQsetResultAttrs(r, 1, &a);
	PQsetvalue(r, 0, 0, (char *)json, (int)strlen(json));
	return r;
}

static struct sessions_snapshot s;

static int parse(const char *json)
{
	PGresult *r = result(json);
	int rc = probe_sessions_parse(r, &s);
	PQclear(r);
	return rc;
}

int main(void)
{
	/* 10 holds a lock; 11 waits for 10; 12 waits for 11 and 10; 13 idle; 14 waits for 99,
	 * which is not among the rows. */
	CHECK(parse("{\"db\": \"mids\", \"login\": \"ann\", \"all\": false, \"total\": 5,"
		    " \"can_signal\": true, \"items\": ["
		    "{\"pid\": 10, \"user\": \"u\", \"state\": \"idle in transaction\","
		    "  \"xact_s\": 82.5, \"query_s\": null, \"by\": [], \"blocking\": 2,"
		    "  \"query\": \"lock table t\"},"
		    "{\"pid\": 11, \"state\": \"active\", \"wait_type\": \"Lock\", \"wait\": "
		    "\"relation\","
		    "  \"xact_s\": 3, \"query_s\": 3, \"by\": [10], \"blocking\": 1},"
		    "{\"pid\": 12, \"state\": \"active\", \"by\": [11, 10], \"blocking\": 0},"
		    "{\"pid\": 13, \"state\": \"idle\", \"by\": [], \"blocking\": 0},"
		    "{\"pid\": 14, \"state\": \"active\", \"by\": [99], \"blocking\": 0}]}") == 0,
	      "parses");
	CHECK(s.ok && s.n == 5 && s.total == 5 && s.can_signal && !s.all, "the snapshot's fields");
	CHECK_STR(s.login, "ann", "who asks");
	CHECK(s.rows[0].xact_s == 82.5 && isnan(s.rows[0].query_s), "durations, none as NAN");
	CHECK(s.rows[2].nby == 2 && s.rows[2].by[0] == 11, "blockers");
	CHECK_STR(s.rows[1].wait_type, "Lock", "wait event type");

	int order[SESSIONS_MAX], depth[SESSIONS_MAX];
	int n = probe_sessions_tree(&s, order, depth);
	CHECK(n == 4, "the tree holds the four that wait or block, not the idle one");
	CHECK(s.rows[order[0]].pid == 10 && depth[0] == 0, "the root blocker first");
	CHECK(s.rows[order[1]].pid == 11 && depth[1] == 1, "its waiter below it");
	CHECK(s.rows[order[2]].pid == 12 && depth[2] == 2, "a waiter under its first blocker");
	CHECK(s.rows[order[3]].pid == 14 && depth[3] == 0,
	      "a waiter whose blocker is not kept is a root");

	/* A deadlock not yet broken: 20 waits for 21, 21 for 20; shown once each. */
	CHECK(parse("{\"items\": [{\"pid\": 20, \"by\": [21], \"blocking\": 1},"
		    " {\"pid\": 21, \"by\": [20], \"blocking\": 1}]}") == 0,
	      "a cycle parses");
	n = probe_sessions_tree(&s, order, depth);
	CHECK(n == 2 && s.rows[order[0]].pid == 20 && depth[0] == 0 && depth[1] == 1,
	      "a cycle is shown from its lowest pid, each once");

	PGresult *bad = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	CHECK(probe_sessions_parse(bad, &s) == -1 && !s.ok, "a failed probe is no snapshot");
	PQclear(bad);
	HARNESS_END();
}
