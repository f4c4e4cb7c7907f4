/* The console command family. */
#include "cmd.h"

const struct cmd_entry cmd_console_table[] = {
	{0},
};
