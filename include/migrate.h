/* Numbered SQL migrations compiled into the binary from sql/NNN_name.sql. */
#ifndef MIDSOPS_MIGRATE_H
#define MIDSOPS_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[]; /* generated, ends with version 0 */

int migrate_latest(void);
/* Current version in the database (0 if none, -1 on error). */
int migrate_current(PGconn *c, char *err, size_t errlen);
/* Apply all pending migrations, each in its own transaction under an advisory lock.
 * Refuses a database newer than the binary. *applied gets the number applied. */
int migrate_up(PGconn *c, int *applied, char *err, size_t errlen);

#endif
