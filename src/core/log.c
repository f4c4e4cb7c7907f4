/* The operations log (log.h): midsops.log lines, syslog, and the record of failed writes
 * that turns into the exit status. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "out.h"
#include "paths.h"

static char log_dir[4096];
static int log_to_syslog;
static char log_cmd[64] = "midsops";
static int log_bad;
static char log_bad_why[1024];

void log_set_dir(const char *dir)
{
	snprintf(log_dir, sizeof log_dir, "%s", dir ? dir : "");
}

void log_set_syslog(int on)
{
	log_to_syslog = on;
}

void log_set_command(const char *name)
{
	snprintf(log_cmd, sizeof log_cmd, "%s", name && *name ? name : "midsops");
}

const char *log_command(void)
{
	return log_cmd;
}

int log_incomplete(void)
{
	return log_bad;
}

const char *log_incomplete_reason(void)
{
	return log_bad_why;
}

static int syslog_priority(const char *level)
{
	static const struct {
		const char *name;
		int prio;
	} map[] = {{"debug", LOG_DEBUG},     {"info", LOG_INFO},  {"notice", LOG_NOTICE},
		   {"warning", LOG_WARNING}, {"error", LOG_ERR},  {"critical", LOG_CRIT},
		   {"alert", LOG_ALERT},     {"emerg", LOG_EMERG}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(level, map[i].name) == 0)
			return map[i].prio;
	return LOG_NOTICE;
}

static void syslog_line(const char *level, const char *text)
{
	static int opened;
	if (!opened) {
		/* No LOG_NDELAY: the socket opens on the first event (close-on-exec), so a
		 * command that logs nothing never touches /dev/log. */
		openlog("midsops", LOG_PID, LOG_USER);
		opened = 1;
	}
	syslog(syslog_priority(level), "%s", text);
}

void log_failed(const char *why)
{
	if (log_bad)
		return;
	log_bad = 1;
	snprintf(log_bad_why, sizeof log_bad_why, "%s", why);
	/* Once per process: a full disk would otherwise repeat this for every line. */
	out_warn(NULL, "log incomplete: %s", why);
	if (log_to_syslog) {
		char text[1200];
		snprintf(text, sizeof text, "%s log incomplete: %s", log_cmd, why);
		syslog_line("error", text);
	}
}

/* A field of the line is one word: a level or command name never splits the columns. */
static size_t put_word(char *buf, size_t at, size_t n, const char *w)
{
	if (!*w)
		w = "-";
	for (; *w && at + 1 < n; w++)
		buf[at++] = (*w > ' ' && *w < 0x7f) ? *w : '_';
	buf[at] = 0;
	return at;
}

/* The message, escaped so that a line is one event and the escaping can be undone:
 * backslash, newline, carriage return and tab as \\ \n \r \t, other control bytes as
 * \xHH. A message that does not fit is cut before a whole character and ends in "...". */
static size_t put_message(char *buf, size_t at, size_t n, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	const size_t room = n - 5; /* "...\n" and the terminator */
	for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
		char e[4];
		size_t k = 0;
		if (*s == '\\' || *s == '\n' || *s == '\r' || *s == '\t') {
			e[k++] = '\\';
			e[k++] = *s == '\\' ? '\\' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : 't';
		} else if (*s < 0x20 || *s == 0x7f) {
			e[k++] = '\\';
			e[k++] = 'x';
			e[k++] = hex[*s >> 4];
			e[k++] = hex[*s & 15];
		} else
			e[k++] = (char)*s;
		if (at + k > room) {
			/* Not in the middle of a UTF-8 sequence. */
			while (at > 0 && ((unsigned char)buf[at - 1] & 0xc0) == 0x80)
				at--;
			if (at > 0 && ((unsigned char)buf[at - 1] & 0xc0) == 0xc0)
				at--;
			memcpy(buf + at, "...", 3);
			at += 3;
			break;
		}
		memcpy(buf + at, e, k);
		at += k;
	}
	buf[at] = 0;
	return at;
}

size_t log_format(char *buf, size_t n, const char *level, const char *command, const char *msg)
{
	if (n > LOG_LINE_MAX)
		n = LOG_LINE_MAX;
	if (n < 128) { /* no room for the fields: callers pass LOG_LINE_MAX */
		if (n)
			buf[0] = 0;
		return 0;
	}
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	size_t at = strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	at = put_word(buf, at, n, level ? level : "info");
	at += (size_t)snprintf(buf + at, n - at, " ");
	at = put_word(buf, at, n, command ? command : log_cmd);
	at += (size_t)snprintf(buf + at, n - at, " %ld ", (long)getpid());
	at = put_message(buf, at, n, msg ? msg : "");
	buf[at++] = '\n';
	buf[at] = 0;
	return at;
}

/* The folder that holds a log, as a descriptor, so the checks and the open that follows
 * see the same folder. */
static int dir_open(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && paths_mkdir_p(dir, 0700) == 0)
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			snprintf(err, errlen,
				 "log directory %s is a symbolic link; midsops does not follow it "
				 "(set log_dir to the folder itself)",
				 dir);
		else
			snprintf(err, errlen, "cannot open log directory %s: %s", dir, strerror(e));
		return -1;
	}
	struct stat st;
	if (geteuid() == 0 && fstat(fd, &st) == 0 &&
	    (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
		/* Whoever can write the folder can swap the log for a link to any file root
		 * would then append to; a folder root does not own is theirs to rename. */
		snprintf(err, errlen,
			 "refusing log directory %s as root: it is owned by uid %ld and mode %04o; "
			 "root writes its log only in a folder owned by root that group and others "
			 "cannot write (chown root %s && chmod go-w %s, or set log_dir)",
			 dir, (long)st.st_uid, (unsigned)(st.st_mode & 07777), dir, dir);
		close(fd);
		return -1;
	}
	return fd;
}

int log_append(const char *dir, const char *name, const char *buf, size_t len, char *err,
	       size_t errlen)
{
	int dfd = dir_open(dir, err, errlen);
	if (dfd < 0)
		return -1;
	/* O_NONBLOCK: a FIFO put in the log's place must not hang the command. */
	int fd = openat(dfd, name,
			O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	int e = errno;
	close(dfd);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, name,
			 e == ELOOP ? "it is a symbolic link" : strerror(e));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot write %s/%s: not a regular file", dir, name);
		close(fd);
		return -1;
	}
	ssize_t w = write(fd, buf, len);
	e = w < 0 ? errno : ENOSPC; /* a short write is a full disk (or quota) */
	/* close can report a failed write-back (NFS). */
	if (close(fd) < 0 && (size_t)w == len) {
		e = errno;
		w = -1;
	}
	if (w < 0 || (size_t)w != len) {
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, name, strerror(e));
		return -1;
	}
	return 0;
}

void log_vevent(const char *level, const char *command, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	vsnprintf(msg, sizeof msg, fmt, ap);
	char line[LOG_LINE_MAX];
	size_t n = log_format(line, sizeof line, level, command, msg);
	if (log_to_syslog) {
		/* syslog adds its own time and pid: "COMMAND MESSAGE", escaped as in the file. */
		const char *f[5] = {line};
		int k = 1;
		for (const char *p = line; k < 5 && (p = strchr(p, ' ')); p++)
			f[k++] = p + 1;
		if (k == 5) {
			char shown[LOG_LINE_MAX];
			snprintf(shown, sizeof shown, "%.*s%.*s", (int)(f[3] - f[2]), f[2],
				 (int)(line + n - 1 - f[4]), f[4]);
			syslog_line(level ? level : "info", shown);
		}
	}
	if (!log_dir[0])
		return;
	char err[1024];
	if (log_append(log_dir, "midsops.log", line, n, err, sizeof err) < 0)
		log_failed(err);
}

void log_event(const char *level, const char *command, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vevent(level, command, fmt, ap);
	va_end(ap);
}
