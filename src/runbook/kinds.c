/* The step kinds: for each, its name in a runbook, how it runs, and what it asks. The line
 * driver (src/cmd/cmd_runbook.c), the console's driver (src/tui/tui_wizard.c) and the parser
 * read this one table, so a kind behaves the same way wherever a run is driven. */
#include <string.h>

#include "runbook.h"

static const struct rb_kind_info kinds[RB_NKINDS] = {
    [RB_INFO] = {.name = "info",
		 .how = RB_HOW_ACK,
		 .ask = "  [Enter] continue (s/b/a/q/?):",
		 .enter_is_go = 1,
		 .ack = "read",
		 .enter_does = "continue"},
    [RB_CONFIRM] = {.name = "confirm",
		    .how = RB_HOW_ACK,
		    .ask = "  Done? [y]es / [s]kip / [b]ack / [a]bort / [q] pause / [?]:",
		    .ask_always = 1,
		    .on_no = "then do it first, or skip it (s) with a reason",
		    .ack = "confirmed",
		    .ack_by = 1,
		    .enter_does = "confirm it is done"},
    [RB_COMMAND] = {.name = "command",
		    .how = RB_HOW_COMMAND,
		    .command = RB_CMD_NEEDS,
		    .ask = "  Run it? [Y/s/b/a/q/?]:",
		    .enter_is_go = 1,
		    .enter_does = "run it"},
    [RB_CHECK] = {.name = "check",
		  .how = RB_HOW_COMMAND,
		  .at_once = 1,
		  .command = RB_CMD_NEEDS,
		  .enter_does = "run the check again"},
    [RB_APPROVAL] = {.name = "approval",
		     .how = RB_HOW_APPROVE,
		     .ask = "  Approver's name (empty: s/b/a/q):",
		     .ask_always = 1,
		     .enter_does = "approve (name, then the phrase)"},
    [RB_BRANCH] = {.name = "branch",
		   .how = RB_HOW_BRANCH,
		   .at_once = 1,
		   .ask = "  [y]es / [n]o (b/a/q/?):",
		   .ask_always = 1,
		   .enter_does = "go on"},
    [RB_WAIT] = {.name = "wait",
		 .how = RB_HOW_WAIT,
		 .at_once = 1,
		 .command = RB_CMD_MAY,
		 .enter_does = "end the wait early"},
    [RB_NOTIFY] = {.name = "notify",
		   .how = RB_HOW_NOTIFY,
		   .ask = "  Send it? [Y/s/b/a/q/?]:",
		   .enter_is_go = 1,
		   .enter_does = "send it"},
    [RB_REPORT] = {.name = "report",
		   .how = RB_HOW_REPORT,
		   .at_once = 1,
		   .enter_does = "write the report"},
    [RB_CHOICE] = {.name = "choice",
		   .how = RB_HOW_CHOICE,
		   .command = RB_CMD_NEEDS,
		   .ask = "  Number [Enter: the one marked *] (s/b/a/q/?):",
		   .ask_always = 1,
		   .enter_is_go = 1,
		   .enter_does = "take the highlighted row (up/down to move)"},
};

const struct rb_kind_info *rb_kind(enum rb_kind k)
{
	static const struct rb_kind_info unknown = {.name = "?", .enter_does = "go on"};
	return (unsigned)k < RB_NKINDS ? &kinds[k] : &unknown;
}

const char *rb_kind_name(enum rb_kind k)
{
	return rb_kind(k)->name;
}

enum rb_kind rb_kind_parse(const char *name)
{
	for (int k = 0; name && k < RB_NKINDS; k++)
		if (strcmp(name, kinds[k].name) == 0)
			return (enum rb_kind)k;
	return RB_NKINDS;
}
