/* The operations log: one line per event in log_dir/midsops.log,
 *
 *   2026-12-04T00:43:20Z info db-check 12345 check OK - all figures within thresholds
 *
 * (UTC time, level, command, pid, message with newlines and other control characters
 * escaped), and with log_syslog = yes the same events to syslog(3) as "midsops". The file
 * is opened for each line with O_APPEND and written with one write(2), so several
 * processes never interleave within a line and logrotate may simply rename it.
 *
 * A write that fails (a full disk, a folder another account owns) is never silent: the
 * first failure in a process is reported once on stderr (or the console's error pane) as
 * "log incomplete: why", and log_incomplete() turns true, which cmd_run turns into the
 * exit status (midsops(1), EXIT STATUS). */
#ifndef MIDSOPS_LOG_H
#define MIDSOPS_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Longest line written, newline included: below PIPE_BUF, so one write(2) stays whole
 * under O_APPEND. A longer message is cut and ends with "...". */
#define LOG_LINE_MAX 4000

/* Where midsops.log goes (log_dir; NULL or "" writes no file), and whether events go to
 * syslog too. main() sets both from the config. */
void log_set_dir(const char *dir);
void log_set_syslog(int on);
/* The command each line names: cmd_run sets it ("midsops" before any command). */
void log_set_command(const char *name);
const char *log_command(void);

/* One event. level: "info", "notice", "warning", "error" or "critical"; command NULL means
 * the current command. The console calls it on connect and disconnect. */
void log_event(const char *level, const char *command, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vevent(const char *level, const char *command, const char *fmt, va_list ap);

/* One line in the log format, newline included, into buf (at most n bytes, n at most
 * LOG_LINE_MAX); returns its length. Shared with the import's run logs. */
size_t log_format(char *buf, size_t n, const char *level, const char *command, const char *msg);

/* Append buf to dir/name: the folder is made (0700) when missing, the file opened with
 * O_APPEND|O_CREAT|O_NOFOLLOW (0600) and written with one write(2). A folder that is a
 * symbolic link is refused; as root, so is one not owned by root or writable by group or
 * others. Returns 0, or -1 with "cannot write PATH: reason" in err. */
int log_append(const char *dir, const char *name, const char *buf, size_t len, char *err,
	       size_t errlen);

/* A log write failed (why: what and where). The first failure of the process is reported
 * once through out_warn and to syslog when on; later ones only keep the log incomplete. */
void log_failed(const char *why);
/* Whether any log write of this process failed, and the first failure's reason. */
int log_incomplete(void);
const char *log_incomplete_reason(void);

#endif
