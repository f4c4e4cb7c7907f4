/* Retention of import history: history-prune (src/import/prune.c). */
#ifndef MIDSOPS_HISTORY_H
#define MIDSOPS_HISTORY_H

#include <libpq-fe.h>
#include <stddef.h>

struct history_opts {
	int keep_generations; /* generations a rollback can reach, the current one included */
	int runs_days, errors_days, events_days;
	int dry_run;
	int vacuum; /* plain VACUUM (ANALYZE) of the tables rows left, after the commit */
};

enum { HP_FILES, HP_ERRORS, HP_RUNS, HP_HISTORY, HP_EVENTS, HP_NTABLES };

struct history_table {
	const char *name;
	long long rows, bytes;		   /* deleted (or, dry run, that would be): row data */
	long long size_before, size_after; /* pg_total_relation_size */
};

struct history_report {
	int current;	   /* newest generation, 0 before the first import */
	int oldest_before; /* oldest generation a rollback could restore before, 0: none */
	int oldest;	   /* and after */
	long long generations_pruned; /* generations whose saved versions went */
	struct history_table t[HP_NTABLES];
	long long rows, bytes;
	double seconds, vacuum_seconds;
	int vacuumed; /* tables vacuumed */
	char vacuum_err[512];
	char vacuum_skipped[256];      /* tables the role may not vacuum (not their owner) */
	long long db_before, db_after; /* pg_database_size */
};

#define HISTORY_BUSY (-2) /* an import or rollback holds the import lock (err says which) */

/* Apply the retention in one transaction under the import lock, then vacuum what it
 * deleted from (outside it). Returns 0, -1 failed (err), HISTORY_BUSY. A dry run takes the
 * lock too, counts with the same conditions and rolls back. */
int history_prune(PGconn *c, const struct history_opts *o, struct history_report *rep, char *err,
		  size_t errlen);

#endif
