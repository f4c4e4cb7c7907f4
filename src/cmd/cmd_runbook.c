/* The runbook command family. */
#include "cmd.h"

const struct cmd_entry cmd_runbook_table[] = {
	{0},
};
