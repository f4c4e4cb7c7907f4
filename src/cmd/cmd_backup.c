/* The backup command family. */
#include "cmd.h"

const struct cmd_entry cmd_backup_table[] = {
	{0},
};
