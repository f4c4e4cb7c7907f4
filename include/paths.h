/* XDG directories. Run as root with XDG_* unset, the data and state homes move to
 * /var/lib/midsops so the unprivileged server user can reach them. */
#ifndef MIDSOPS_PATHS_H
#define MIDSOPS_PATHS_H

#include <stddef.h>
#include <sys/types.h>

/* $XDG_DATA_HOME/midsops (root default /var/lib/midsops) */
const char *paths_data_dir(void);
/* $XDG_STATE_HOME/midsops (root default /var/lib/midsops/state) */
const char *paths_state_dir(void);
/* $XDG_CONFIG_HOME/midsops */
const char *paths_config_dir(void);
/* Directory with shipped themes/ and runbooks/: $MIDSOPS_SHARE, else next to the
 * binary when run from a build tree, else PREFIX/share/midsops. */
const char *paths_share_dir(void);

/* mkdir -p with mode for the created components. */
int paths_mkdir_p(const char *path, mode_t mode);
/* Join into buf; returns buf. */
char *paths_join(char *buf, size_t n, const char *a, const char *b);

#endif
