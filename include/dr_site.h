/* The DR site as a local cluster (src/dr/dr_site.c). */
#ifndef MIDSOPS_DR_SITE_H
#define MIDSOPS_DR_SITE_H

#include <stddef.h>

#include "cluster.h"

/* Paths of a site rooted at dir: dir/pg, dir/run, dir/log; port written to dir/port
 * when > 0 (else read from it). */
int dr_site_locate(struct cluster *c, const char *dir, int port, char *err, size_t errlen);
int dr_site_own_dir(const struct cluster *c, const char *dir, char *err, size_t errlen);
/* pg_ctl start|stop|promote as the cluster's user; mode for stop. */
int dr_site_pg_ctl(const struct cluster *c, const char *action, const char *mode, char *err,
		   size_t errlen);
/* Append the site's own socket directory, port and name to postgresql.conf. */
int dr_site_configure(const struct cluster *c, int standby, char *err, size_t errlen);
/* Stop (immediate) and delete the data directory. */
int dr_site_remove(const struct cluster *c, char *err, size_t errlen);
/* pg_basebackup -R -X stream -C -S slot from the primary into c->datadir. */
int dr_site_basebackup(const struct cluster *c, const char *primary_conninfo, const char *slot,
		       char *err, size_t errlen);

#endif
