/* Command argument parsing from a small spec string.
 * Spec: space-separated long option names. "name" is a flag, "name=" takes a value,
 * "name*" is a flag that may repeat. A single letter after '|' adds a short alias:
 * "verbose|v max-errors=". Unknown options and bad counts are usage errors (exit 64). */
#ifndef MIDSOPS_ARGS_H
#define MIDSOPS_ARGS_H

#include <stddef.h>

#define ARGS_MAX_OPTS 32

struct args {
	int argc;	/* positionals */
	char **argv;
	int nopts;
	struct {
		char name[32];
		char *value; /* NULL for flags */
		int count;
	} opts[ARGS_MAX_OPTS];
	int help; /* --help or -h was given */
};

/* Returns 0, or -1 with a message in err. Positionals after "--" are kept as is.
 * argv[0] is skipped. Pointers in the result point into argv. */
int args_parse(const char *spec, int argc, char **argv, struct args *a, char *err,
	       size_t errlen);
void args_free(struct args *a);

int args_has(const struct args *a, const char *name);
const char *args_get(const struct args *a, const char *name); /* NULL if absent */
/* Parse helpers: return -1 and fill err on a bad value; leave *out untouched if absent. */
int args_get_long(const struct args *a, const char *name, long *out, char *err, size_t errlen);
/* Durations like 24h, 7d, 10m, 30s, 90 (seconds). */
int args_get_duration(const struct args *a, const char *name, long *seconds, char *err,
		      size_t errlen);
int parse_duration(const char *s, long *seconds);

#endif
