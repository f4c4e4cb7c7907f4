/* The dr command family. */
#include "cmd.h"

const struct cmd_entry cmd_dr_table[] = {
	{0},
};
