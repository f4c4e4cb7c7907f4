/* Unit tests of pure core code: args, config, command table, output renderers, masking. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "args.h"
#include "cmd.h"
#include "config.h"
#include "harness.h"
#include "out.h"
#include "target.h"
#include "util.h"

static void test_args(void)
{
	char err[256];
	struct args a;
	char *argv[] = {"import", "dir", "--dry-run",  "--max-errors",
			"5",	  "-v",	 "--last=24h", NULL};
	int rc = args_parse("dry-run no-promote max-errors= verbose|v last=", 7, argv, &a, err,
			    sizeof err);
	CHECK(rc == 0, "args: parse ok");
	CHECK(a.argc == 1 && strcmp(a.argv[0], "dir") == 0, "args: positional");
	CHECK(args_has(&a, "dry-run") && !args_has(&a, "no-promote"), "args: flags");
	CHECK_STR(args_get(&a, "max-errors"), "5", "args: value");
	CHECK(args_has(&a, "verbose"), "args: short alias");
	long secs = 0;
	CHECK(args_get_duration(&a, "last", &secs, err, sizeof err) == 0 && secs == 86400,
	      "args: duration 24h");
	args_free(&a);

	char *bad[] = {"x", "--nope", NULL};
	CHECK(args_parse("a b=", 2, bad, &a, err, sizeof err) < 0, "args: unknown option fails");
	CHECK_CONTAINS(err, "--nope", "args: error names option");
	args_free(&a);
	char *miss[] = {"x", "--b", NULL};
	CHECK(args_parse("a b=", 2, miss, &a, err, sizeof err) < 0, "args: missing value fails");
	args_free(&a);
	CHECK(parse_duration("7d", &secs) == 0 && secs == 7 * 86400, "duration: 7d");
	CHECK(parse_duration("10m", &secs) == 0 && secs == 600, "duration: 10m");
	CHECK(parse_duration("90", &secs) == 0 && secs == 90, "duration: bare seconds");
	CHECK(parse_duration("3x", &secs) < 0, "duration: bad unit rejected");
}

static void test_config(void)
{
	struct config c;
	char err[512];
	config_defaults(&c);
	const char *good = "# comment\n[midsops]\ndefault_env = production\nrefresh = 1.5\n"
			   "theme = \"dark\"\n\n[env production]\ndsn = host=db1 password=s3cret\n"
			   "[env staging]\ndsn = host=db2\n[thresholds]\nimport_speed = 900 400\n"
			   "query_time_warning = 40\n[backup]\nkeep_daily = 3\n";
	CHECK(config_parse(&c, "t.conf", good, err, sizeof err) == 0, "config: good file parses");
	CHECK_STR(c.default_env, "production", "config: default_env");
	CHECK(c.refresh == 1.5, "config: refresh");
	CHECK_STR(c.theme, "dark", "config: quoted value");
	CHECK(c.nenvs == 2 && config_env(&c, "staging"), "config: environments");
	CHECK(c.import_speed.warning == 900 && c.import_speed.critical == 400,
	      "config: threshold pair");
	CHECK(c.query_time.warning == 40 && c.query_time.critical == 100,
	      "config: threshold single key keeps other default");
	CHECK(c.keep_daily == 3, "config: backup retention");
	CHECK(!c.dr_sync_fallback && c.dr_sync_fallback_after == 30,
	      "config: [dr] synchronous is strict by default");
	CHECK(c.slot_retained_wal.warning == 1 && c.slot_retained_wal.critical == 4,
	      "config: slot_retained_wal defaults to 1 and 4 GB");
	config_defaults(&c);
	CHECK(config_parse(&c, "t.conf",
			   "[dr]\nsynchronous = fallback\nsynchronous_fallback_after = 5\n"
			   "[thresholds]\nslot_retained_wal = 0.5 2\nsync_wait = 2 20\n",
			   err, sizeof err) == 0 &&
		  c.dr_sync_fallback && c.dr_sync_fallback_after == 5 &&
		  c.slot_retained_wal.critical == 2 && c.sync_wait.warning == 2,
	      "config: [dr] and the replication thresholds");

	struct {
		const char *text, *want;
	} bad[] = {
	    {"[midsops]\nrefrsh = 2\n", "t.conf:2: unknown key 'refrsh'"},
	    {"[midsops]\nno equals here\n", "t.conf:2: expected 'key = value'"},
	    {"[nosuch]\n", "t.conf:1: unknown section [nosuch]"},
	    {"key = 1\n", "t.conf:1: key 'key' outside any section"},
	    {"[midsops]\nrefresh = fast\n", "t.conf:2: refresh wants seconds"},
	    {"[env a]\ndsn = x\n[env a]\n", "t.conf:3: environment 'a' is defined twice"},
	    {"[midsops]\ndefault_env = prod\n", "default_env 'prod' is not defined"},
	    {"[thresholds]\nimport_speed = fast\n", "t.conf:2: 'import_speed' wants two numbers"},
	    {"[midsops\n", "t.conf:1: malformed section header"},
	    {"[dr]\nsynchronous = maybe\n", "t.conf:2: synchronous wants strict or fallback"},
	    {"[dr]\nsynchronous_fallback_after = 0\n", "t.conf:2: synchronous_fallback_after"},
	    {"[incident]\nescalate = dba:15\n", "t.conf:2: escalate: '15' for dba wants"},
	    {"[incident]\nescalate = dba:15m,\n", "t.conf:2: escalate wants CONTACT:DURATION"},
	    {"[incident]\nescalate = a:1m, a:2m\n", "t.conf:2: escalate names 'a' twice"},
	    {"[incident]\nescalate = a/b:1m\n", "t.conf:2: escalate: contact 'a/b' may hold"},
	    {"[incident]\nescalate = a:-1m\n", "t.conf:2: escalate: '-1m' for a wants"},
	    {"[incident]\nescalate = a:99999999999h\n", "t.conf:2: escalate: '99999999999h'"},
	    {"[incident]\nescalat = a:1m\n",
	     "t.conf:2: unknown key 'escalat' in section [incident]"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		config_defaults(&c);
		err[0] = 0;
		char name[64];
		snprintf(name, sizeof name, "config: bad input %zu rejected with line", i);
		CHECK(config_parse(&c, "t.conf", bad[i].text, err, sizeof err) < 0, name);
		CHECK_CONTAINS(err, bad[i].want, name);
	}
	config_defaults(&c);
	CHECK(c.nescalations == 4 && strcmp(c.escalations[1].contact, "dba") == 0 &&
		  c.escalations[1].after == 900 && c.escalations[3].after == 3600,
	      "config: [incident] escalate defaults to the runbook's contact list");
	CHECK(config_parse(&c, "t.conf", "[incident]\nescalate = pager : 90s ,boss:2d\n", err,
			   sizeof err) == 0 &&
		  c.nescalations == 2 && strcmp(c.escalations[0].contact, "pager") == 0 &&
		  c.escalations[0].after == 90 && c.escalations[1].after == 2 * 86400,
	      "config: [incident] escalate with spaces and units");
	CHECK(config_parse(&c, "t.conf", "[incident]\nescalate = none\n", err, sizeof err) == 0 &&
		  c.nescalations == 0,
	      "config: [incident] escalate = none");
	config_defaults(&c);
	CHECK(threshold_judge(&c.import_speed, 1200) == ST_OK, "threshold: speed ok");
	CHECK(threshold_judge(&c.import_speed, 700) == ST_WARNING, "threshold: speed warning");
	CHECK(threshold_judge(&c.import_speed, 100) == ST_CRITICAL, "threshold: speed critical");
	CHECK(threshold_judge(&c.query_time, 120) == ST_CRITICAL, "threshold: query critical");
	CHECK(threshold_judge(&c.query_time, 10) == ST_OK, "threshold: query ok");
}

static void test_mask(void)
{
	char buf[512];
	conninfo_mask("host=db password=hunter2 user=x", buf, sizeof buf);
	CHECK_STR(buf, "host=db password=******** user=x", "mask: key/value");
	conninfo_mask("host=db password = 'a b\\'c' dbname=y", buf, sizeof buf);
	CHECK_STR(buf, "host=db password=******** dbname=y", "mask: quoted");
	conninfo_mask("postgresql://bob:hunter2@db:5432/app", buf, sizeof buf);
	CHECK_STR(buf, "postgresql://bob:********@db:5432/app", "mask: uri");
	conninfo_mask("postgresql://db/app?user=bob&password=hunter2&sslmode=require", buf,
		      sizeof buf);
	CHECK(!strstr(buf, "hunter2"), "mask: uri query password");
	/* Every option libpq itself hides (dispchar '*'), in each form libpq reads. */
	conninfo_mask("host=db sslpassword=keypass user=x", buf, sizeof buf);
	CHECK_STR(buf, "host=db sslpassword=******** user=x", "mask: sslpassword");
	conninfo_mask("host=db sslpassword = 'a b' password=p2", buf, sizeof buf);
	CHECK_STR(buf, "host=db sslpassword=******** password=********", "mask: both, quoted");
	conninfo_mask("postgresql://db/app?%70assword=hunter2&sslmode=require", buf, sizeof buf);
	CHECK_STR(buf, "postgresql://db/app?%70assword=********&sslmode=require",
		  "mask: percent-encoded uri key");
	conninfo_mask("postgres://u:p%40ss@db/app?ssl%70assword=kp", buf, sizeof buf);
	CHECK_STR(buf, "postgres://u:********@db/app?ssl%70assword=********",
		  "mask: postgres:// scheme, userinfo and encoded sslpassword");
	conninfo_mask("password=a\\ b host=x", buf, sizeof buf);
	CHECK_STR(buf, "password=******** host=x", "mask: backslash-escaped blank in a value");
	conninfo_mask("host=db password='unterminated", buf, sizeof buf);
	CHECK(!strstr(buf, "unterminated"), "mask: a conninfo libpq refuses is still masked");
	/* libpq's parse errors quote values: conninfo_scrub takes the secret out of them. */
	char msg[256] = "invalid percent-encoded token: \"se%zzret\"";
	conninfo_scrub("postgresql://db/app?password=se%zzret", msg, sizeof msg);
	CHECK_STR(msg, "invalid percent-encoded token: \"********\"", "scrub: libpq's parse error");
}

static void test_cmd_table(void)
{
	char err[256];
	CHECK(cmd_count() > 5, "cmd: table not empty");
	CHECK(cmd_find("db-check", err, sizeof err) != NULL, "cmd: exact");
	CHECK(cmd_find("db-chek", err, sizeof err) == NULL, "cmd: unknown");
	CHECK_CONTAINS(err, "did you mean 'db-check'", "cmd: suggestion");
	CHECK(cmd_find("db-cr", err, sizeof err) == NULL, "cmd: destructive prefix refused");
	CHECK_CONTAINS(err, "full name", "cmd: destructive prefix message");
	CHECK(cmd_find("syst", err, sizeof err) != NULL, "cmd: unique safe prefix");
	int bad = 0;
	for (const struct cmd_entry *ce = cmd_next(NULL); ce; ce = cmd_next(ce)) {
		if (!ce->summary || !ce->usage || !ce->exec ||
		    strncmp(ce->usage, ce->name, strlen(ce->name)) != 0)
			bad++;
		for (const struct cmd_entry *o = cmd_next(ce); o; o = cmd_next(o))
			if (strcmp(o->name, ce->name) == 0)
				bad++;
	}
	CHECK(bad == 0,
	      "cmd: every entry has summary, usage starting with its name, exec; names unique");
}

static void test_out(void)
{
	struct harness_buf b = {0};
	struct out_sink sink = {harness_sink_write, &b};
	struct out *o = out_new_sink(OUT_TEXT, sink);
	const char *cols[] = {"name", "count"};
	out_table_begin(o, "t", 2, cols);
	out_rowf(o, "alpha", "1");
	out_rowf(o, "b", "200");
	out_table_end(o);
	out_kv_status(o, "conn", ST_WARNING, "90%%");
	out_status(o, ST_CRITICAL, "bad %d", 3);
	out_free(o);
	CHECK_CONTAINS(b.data, "name   count\nalpha  1\nb      200\n", "out: text table aligned");
	CHECK_CONTAINS(b.data, "[WARNING]", "out: text status");
	CHECK_CONTAINS(b.data, "CRITICAL: bad 3", "out: text overall status");
	CHECK(!strchr(b.data, '\033'), "out: no colour on a sink");

	struct harness_buf j = {0};
	struct out_sink js = {harness_sink_write, &j};
	o = out_new_sink(OUT_JSON, js);
	out_section(o, "db");
	out_kv_int(o, "size", 42);
	out_kv_status(o, "conn", ST_OK, "1 of 100");
	out_section_end(o);
	out_table_begin(o, "rows", 2, cols);
	out_rowf(o, "alpha", "1");
	out_rowf(o, "007", NULL);
	out_table_end(o);
	out_line(o, "hello \"world\"");
	out_status(o, ST_OK, "fine");
	out_free(o);
	cJSON *root = cJSON_Parse(j.data);
	CHECK(root != NULL, "out: json parses");
	cJSON *db = cJSON_GetObjectItem(root, "db");
	CHECK(db && cJSON_GetObjectItem(db, "size")->valuedouble == 42, "out: json nested number");
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(db, "conn"), "status")->valuestring, "OK",
		  "out: json judged figure");
	cJSON *rows = cJSON_GetObjectItem(root, "rows");
	CHECK(cJSON_GetArraySize(rows) == 2, "out: json table rows");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "count")),
	      "out: json numeric cell");
	CHECK(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "name")),
	      "out: json leading-zero stays string");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "count")),
	      "out: json null cell");
	CHECK_STR(cJSON_GetObjectItem(root, "status")->valuestring, "OK", "out: json status");
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "lines"), 0)->valuestring,
		  "hello \"world\"", "out: json lines escaped");
	cJSON_Delete(root);
	/* Names from an export or the database reach text output escaped. */
	struct harness_buf e = {0};
	struct out_sink es = {harness_sink_write, &e};
	o = out_new_sink(OUT_TEXT, es);
	out_kv(o, "file", "w\033]0;PWNED\a\033[2J.json");
	const char *ecols[] = {"path", "n"};
	out_table_begin(o, "t", 2, ecols);
	out_rowf(o, "a\nFORGED", "1");
	out_rowf(o, "tab\there", "2");
	out_table_end(o);
	out_line(o, "line %s end", "x\ry\x7f\xc2\x9bz");
	out_line(o, "\n\tindented %s", "\t");
	out_status(o, ST_OK, "s\001");
	out_free(o);
	CHECK_CONTAINS(e.data, "w\\e]0;PWNED\\x07\\e[2J.json\n", "escape: value");
	CHECK_CONTAINS(e.data, "path       n\na\\nFORGED  1\ntab\\there  2\n",
		       "escape: cells, aligned on what is shown");
	CHECK_CONTAINS(e.data, "line x\\ry\\x7f\\xc2\\x9bz end\n",
		       "escape: CR, DEL and C1 in a line");
	CHECK_CONTAINS(e.data, "\n\tindented \\t\n",
		       "escape: a line's own blank line and indent stay");
	CHECK_CONTAINS(e.data, "OK: s\\x01\n", "escape: status");
	CHECK(!memchr(e.data, '\033', e.len) && !memchr(e.data, '\a', e.len) &&
		  !memchr(e.data, '\r', e.len) && !memchr(e.data, 0x7f, e.len),
	      "escape: no control byte reaches the text");
	struct harness_buf eb = {0};
	out_set_err_sink((struct out_sink){harness_sink_write, &eb});
	out_err(NULL, "cannot read %s", "a\033[31mred\nline");
	out_warn(NULL, "%s\n", "libpq says\n");
	out_set_err_sink((struct out_sink){0});
	CHECK_STR(eb.data,
		  "midsops: cannot read a\\e[31mred\\nline\nmidsops: warning: libpq says\n",
		  "escape: out_err and out_warn, a message's own final newline dropped");
	CHECK(status_worst(ST_OK, ST_WARNING) == ST_WARNING, "status: worst warning");
	CHECK(status_worst(ST_CRITICAL, ST_UNKNOWN) == ST_CRITICAL,
	      "status: critical beats unknown");
	CHECK(status_worst(ST_WARNING, ST_UNKNOWN) == ST_UNKNOWN, "status: unknown beats warning");
}

struct jf_sample {
	char name[6];
	int n;
	long long big;
	double x, missing;
	time_t at;
};

static void test_json_fill(void)
{
	static const struct util_jfield f[] = {
	    UTIL_JF(struct jf_sample, name, "name", UTIL_J_STR),
	    UTIL_JF(struct jf_sample, n, "n", UTIL_J_INT),
	    UTIL_JF(struct jf_sample, big, "big", UTIL_J_LL),
	    UTIL_JF(struct jf_sample, x, "x", UTIL_J_DBL),
	    UTIL_JF(struct jf_sample, missing, "missing", UTIL_J_NAN),
	    UTIL_JF(struct jf_sample, at, "at", UTIL_J_TIME)};
	cJSON *j = cJSON_Parse(
	    "{\"name\": \"longer than six\", \"n\": 7, \"big\": \"9007199254740993\", \"x\": 2.5, "
	    "\"at\": 1700000000}");
	struct jf_sample s;
	memset(&s, 0x55, sizeof s);
	util_json_fill(j, f, sizeof f / sizeof *f, &s);
	CHECK_STR(s.name, "longe", "json fill: a string cut to its member's size");
	CHECK(s.n == 7 && s.x == 2.5, "json fill: int and double");
	CHECK(s.big > 9007199254740000LL, "json fill: a numeric string (SQL's bigint as text)");
	CHECK(isnan(s.missing), "json fill: an absent UTIL_J_NAN member is NaN");
	CHECK(s.at == (time_t)1700000000, "json fill: time_t");
	cJSON_Delete(j);
	j = cJSON_Parse("{}");
	util_json_fill(j, f, sizeof f / sizeof *f, &s);
	CHECK(s.name[0] == 0 && s.n == 0 && s.big == 0 && s.at == 0,
	      "json fill: absent members are empty and zero");
	cJSON_Delete(j);
}

static void test_strbuf(void)
{
	struct strbuf b = {0};
	strbuf_addf(&b, "%s", "");
	CHECK(b.s && b.len == 0 && b.s[0] == 0, "strbuf: an empty append leaves an empty string");
	strbuf_addf(&b, "select %d", 1);
	char big[1000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	strbuf_addf(&b, " /* %s */", big); /* past the first allocation: written again */
	CHECK(b.len == strlen("select 1 /*  */") + 999 && strlen(b.s) == b.len,
	      "strbuf: a long append grows the buffer, whole and terminated");
	CHECK(strncmp(b.s, "select 1 /* xxx", 15) == 0 && strcmp(b.s + b.len - 4, "x */") == 0,
	      "strbuf: what was there stays in front");
	strbuf_reset(&b);
	strbuf_addf(&b, "%s-%s", "a", "b");
	CHECK_STR(b.s, "a-b", "strbuf: reset starts again");
	strbuf_free(&b);
}

int main(void)
{
	test_json_fill();
	test_strbuf();
	test_args();
	test_config();
	test_mask();
	test_cmd_table();
	test_out();
	HARNESS_END();
}
