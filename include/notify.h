/* The one way midsops tells people something: notify_command, or, without one, the
 * announcements log. Runbook notify steps (wz_notify) and incident escalations
 * (src/maint/incident.c) both go through notify_send. */
#ifndef MIDSOPS_NOTIFY_H
#define MIDSOPS_NOTIFY_H

#include <stddef.h>

struct config;

/* notify_command (split into an argv like a runbook step's, never run by a shell) gets the
 * subject and the body on its standard input, as two parts separated by a newline, and the
 * "K=V" strings of env (NULL-terminated, or NULL) added to its environment. Without
 * notify_command the message is appended to $XDG_STATE_HOME/midsops/announcements.log.
 * Returns 0 (where says where it went) or -1 with err. */
int notify_send(const struct config *cfg, const char *subject, const char *body, char *const *env,
		char *where, size_t wherelen, char *err, size_t errlen);

#endif
