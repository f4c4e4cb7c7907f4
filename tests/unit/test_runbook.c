/* Runbook parsing and validation, the maintenance window, argv splitting, expansion and
 * the state machine's jumps (no database: wz_save without a store writes the state file). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "runbook.h"

static struct runbook *parse(const char *text, char *err)
{
	return rb_parse("t.json", "t", text, err, 1024);
}

int main(void)
{
	char err[1024];
	struct runbook *rb = parse(
	    "{\"title\":\"T\",\"params\":[{\"name\":\"id\"}],\"sections\":[{\"title\":\"S\","
	    "\"budget\":\"30m\",\"steps\":["
	    "{\"id\":\"a\",\"kind\":\"check\",\"title\":\"c\",\"command\":\"db-check\"},"
	    "{\"id\":\"b\",\"kind\":\"branch\",\"title\":\"?\",\"if\":\"failures\",\"then\":\"d\"},"
	    "{\"id\":\"c\",\"kind\":\"notify\",\"title\":\"n\",\"subject\":\"s ${id}\"},"
	    "{\"id\":\"d\",\"kind\":\"report\",\"title\":\"r\",\"dir\":\"incidents\"}]}]}",
	    err);
	CHECK(rb != NULL, "a valid runbook parses");
	if (rb) {
		CHECK(rb->nsteps == 4 && rb->sections[0].budget == 1800, "steps and budget");
		CHECK(rb->steps[0].on_fail == RB_FAIL_CONTINUE, "a check continues on failure");
		CHECK_STR(rb->steps[3].report_name, "t",
			  "report name defaults to the runbook name");
		CHECK(rb_needs_human(rb) < 0, "no human step");
		struct wz_run *r = wz_run_new(rb, "op");
		wz_param_set(r, "id", "42");
		char *x = wz_expand(r, NULL, "s ${id} by ${operator}");
		CHECK_STR(x, "s 42 by op", "expansion of params and built-ins");
		free(x);
		r->worst = 1;
		CHECK(wz_branch_auto(r, &rb->steps[1]) == 1,
		      "failures branch is yes after a warning");
		r->cursor = 1;
		wz_branch(NULL, r, 1, "test");
		CHECK(r->cursor == 3, "the branch jumps to its target");
		CHECK(wz_step_state(r, 2) == WZ_SKIPPED, "the step jumped over is skipped");
		CHECK(wz_back(NULL, r) == 0 && r->cursor == 1, "back returns to the branch");
		wz_run_free(r); /* frees rb */
	}
	struct {
		const char *text, *want, *name;
	} bad[] = {
	    {"{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":[{\"id\":\"x\",\"kind\":"
	     "\"check\",\"title\":\"t\",\"command\":[\"nope-cmd\"]}]}]}",
	     "t.json: step 1 'x': unknown command 'nope-cmd'",
	     "unknown command names file and step"},
	    {"{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":[{\"id\":\"x\",\"kind\":"
	     "\"command\",\"title\":\"t\",\"command\":[\"db-shell\"]}]}]}",
	     "cannot run inside a runbook", "db-shell is not allowed"},
	    {"{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":[{\"id\":\"x\",\"kind\":"
	     "\"info\",\"title\":\"${nope}\"}]}]}",
	     "unknown variable ${nope}", "undeclared variable"},
	    {"{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":[{\"id\":\"x\",\"kind\":"
	     "\"info\",\"title\":\"a\"},{\"id\":\"x\",\"kind\":\"info\",\"title\":\"b\"}]}]}",
	     "step 2 'x': duplicate step id", "duplicate id"},
	    {"{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":[{\"id\":\"x\",\"kind\":"
	     "\"info\",\"title\":\"a\",\"shell\":\"rm -rf /\"}]}]}",
	     "unknown key \"shell\"", "unknown key"},
	    {"{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":[{\"id\":\"x\",\"kind\":"
	     "\"wait\",\"title\":\"a\"}]}]}",
	     "needs \"duration\"", "wait needs a duration"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		struct runbook *b = parse(bad[i].text, err);
		CHECK(b == NULL, bad[i].name);
		CHECK_CONTAINS(err, bad[i].want, bad[i].name);
		rb_free(b);
	}

	char buf[256];
	char *av[8];
	snprintf(buf, sizeof buf, "notify-send -u 'a b' \"c d\" e");
	int n = rb_split_argv(buf, av, 7);
	CHECK(n == 5, "split counts words");
	if (n == 5)
		CHECK_STR(av[3], "c d", "split keeps quoted words");
	snprintf(buf, sizeof buf, "x 'open");
	CHECK(rb_split_argv(buf, av, 7) < 0, "an open quote is an error");

	/* choice steps */
	rb = parse("{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":["
		   "{\"id\":\"p\",\"kind\":\"choice\",\"title\":\"pick\",\"command\":"
		   "[\"import-runs\"],\"items\":\"runs\",\"value\":\"run\",\"param\":"
		   "\"run_id\",\"set\":{\"gen\":\"generation\"},\"where\":{\"kind\":"
		   "\"import\"},\"label\":[\"run\",\"state\"],\"default\":\"last\"},"
		   "{\"id\":\"i\",\"kind\":\"info\",\"title\":\"${run_id} ${gen}\"}]}]}",
		   err);
	CHECK(rb != NULL, "a choice step parses, and the parameters it sets may be used");
	if (rb) {
		const struct rb_step *c = &rb->steps[0];
		CHECK(c->kind == RB_CHOICE && rb_kind(c->kind)->how == RB_HOW_CHOICE,
		      "the choice kind");
		CHECK_STR(c->items, "runs", "items");
		CHECK(c->nlabels == 2 && c->nset == 1 && c->nwhere == 1, "labels, set and where");
		CHECK_STR(c->choice_default, "last", "default");
		CHECK(rb->nparams == 2 && rb->params[0].set_by && rb->params[1].set_by,
		      "the parameters a choice sets are declared by it");
		CHECK(rb_needs_human(rb) == 0, "a choice needs a human");
		rb_free(rb);
	}
	static const char *const bad_choices[] = {
	    /* no param */
	    "{\"id\":\"p\",\"kind\":\"choice\",\"title\":\"t\",\"command\":"
	    "[\"import-runs\"],\"items\":\"runs\",\"value\":\"run\"}",
	    /* no command */
	    "{\"id\":\"p\",\"kind\":\"choice\",\"title\":\"t\",\"items\":\"runs\","
	    "\"value\":\"run\",\"param\":\"x\"}",
	    /* a bad default */
	    "{\"id\":\"p\",\"kind\":\"choice\",\"title\":\"t\",\"command\":"
	    "[\"import-runs\"],\"items\":\"runs\",\"value\":\"run\",\"param\":\"x\","
	    "\"default\":\"middle\"}",
	    /* a choice key on a check */
	    "{\"id\":\"p\",\"kind\":\"check\",\"title\":\"t\",\"command\":"
	    "[\"db-check\"],\"items\":\"runs\"}",
	    NULL};
	for (int i = 0; bad_choices[i]; i++) {
		char text[1024];
		snprintf(text, sizeof text,
			 "{\"title\":\"T\",\"sections\":[{\"title\":\"S\",\"steps\":[%s]}]}",
			 bad_choices[i]);
		rb = parse(text, err);
		CHECK(rb == NULL, "a wrong choice step is refused at load");
		rb_free(rb);
	}
	struct rb_param req = {.name = "who", .prompt = "Who"};
	struct rb_param opt = {.name = "o", .prompt = "O", .def = ""};
	struct rb_param dir = {.name = "d", .prompt = "D", .def = "", .check = "dir"};
	CHECK(wz_param_check(&req, NULL, "", err, sizeof err) < 0, "a required value is not empty");
	CHECK(strstr(err, "is required") != NULL, "and says so");
	CHECK(wz_param_check(&opt, NULL, "", err, sizeof err) == 0, "an optional one may be");
	CHECK(wz_param_check(&dir, NULL, "/", err, sizeof err) == 0, "a directory that exists");
	CHECK(wz_param_check(&dir, NULL, "/nonexistent/x", err, sizeof err) < 0,
	      "a directory that does not");

	struct tm tm = {0};
	tm.tm_year = 125, tm.tm_mon = 0, tm.tm_mday = 19, tm.tm_hour = 2,
	tm.tm_min = 30; /* Sunday */
	tm.tm_isdst = -1;
	time_t sun = mktime(&tm);
	CHECK(rb_in_window("Sun 02:00-04:00", sun) == 1, "Sunday 02:30 is in the window");
	CHECK(rb_in_window("Sat 02:00-04:00", sun) == 0, "but not in Saturday's");
	CHECK(rb_in_window("Sat 23:00-03:00", sun) == 1, "a window over midnight");
	CHECK(rb_in_window("whenever", sun) == -1, "an unparsable window");
	HARNESS_END();
}
