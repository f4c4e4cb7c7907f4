/* The report command family. */
#include "cmd.h"

const struct cmd_entry cmd_report_table[] = {
	{0},
};
