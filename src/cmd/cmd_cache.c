/* The cache command family. */
#include "cmd.h"

const struct cmd_entry cmd_cache_table[] = {
	{0},
};
