/* libFuzzer target: the command-line / command-bar argument parser and command lookup.
 * Input: NUL- or newline-separated words; the first picks a command from the table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *argv[64];
	int argc = 0;
	char *p = buf;
	while (argc < 63) {
		argv[argc++] = p;
		char *e = p + strcspn(p, "\n");
		if (!*e)
			break;
		*e = 0;
		p = e + 1;
	}
	argv[argc] = NULL;
	char err[256];
	const struct cmd_entry *ce = cmd_find(argv[0], err, sizeof err);
	struct args a;
	args_parse(ce ? ce->options : "dry-run max-errors= last= verbose|v run=", argc, argv, &a,
		   err, sizeof err);
	long n;
	args_get_duration(&a, "last", &n, err, sizeof err);
	args_get_long(&a, "max-errors", &n, err, sizeof err);
	args_free(&a);
	free(buf);
	return 0;
}
