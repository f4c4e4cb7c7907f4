/* The import command family. */
#include "cmd.h"

const struct cmd_entry cmd_import_table[] = {
	{0},
};
