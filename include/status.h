/* Rendering of probe snapshots as judged figures, shared by db-check, system-resources,
 * status and watch. Each family adds a section renderer to status_sections[] in
 * src/cmd/status.c; status shows them all. */
#ifndef MIDSOPS_STATUS_H
#define MIDSOPS_STATUS_H

#include <libpq-fe.h>

#include "out.h"
#include "probe.h"

struct config;
struct threshold;
struct target;

/* A figure judged against a [thresholds] entry; scale turns its units into base units. */
struct out_fig status_fig(double v, enum out_unit u, const struct threshold *t, double scale);
struct out_fig status_fig_range(double v, enum out_unit u, const struct threshold *t, double scale,
				double max);

void status_render_db(struct out *o, const struct config *cfg, const struct db_snapshot *s,
		      struct db_judgement *j);
enum status status_render_system(struct out *o, const struct config *cfg,
				 const struct sys_snapshot *s);

/* Replication slots and commits waiting for a synchronous standby (status_repl.c), in
 * db-check and the database section of status; the judges serve the console and metrics. */
struct repl_health;
struct repl_slot;
enum status status_render_repl(struct out *o, const struct config *cfg, PGconn *c);
enum status repl_judge_slot(const struct config *cfg, const struct repl_slot *sl);
enum status repl_judge_sync(const struct config *cfg, const struct repl_health *h);

/* A section of `status`: renders its figures into a section of its own name and returns
 * its worst status. conn is NULL when the database is unreachable. */
struct status_section {
	const char *name;
	enum status (*render)(struct out *o, const struct config *cfg, PGconn *conn);
};

int status_render_all(struct out *o, const struct config *cfg, const struct target *t);

#endif
