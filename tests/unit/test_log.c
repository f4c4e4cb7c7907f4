/* Unit tests of the operations log (log.c): the line format, escaping, and the refusals
 * and failures that make the log incomplete. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "log.h"
#include "out.h"

static int line_ok(const char *line)
{
	regex_t re;
	regcomp(&re,
		"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z [a-z]+ [a-z0-9_-]+ [0-9]+ "
		"[^\n]*\n$",
		REG_EXTENDED | REG_NOSUB);
	int ok = regexec(&re, line, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static void test_format(void)
{
	char line[LOG_LINE_MAX];
	size_t n = log_format(line, sizeof line, "info", "db-check", "hello");
	CHECK(n == strlen(line), "format: length returned");
	CHECK(line_ok(line), "format: time, level, command, pid, message");
	char pid[32];
	snprintf(pid, sizeof pid, " db-check %ld hello\n", (long)getpid());
	CHECK_CONTAINS(line, pid, "format: command and pid before the message");

	log_format(line, sizeof line, "error", "import", "two\nlines\ttab \\ back\r\x01");
	CHECK(line_ok(line), "format: a message with a newline stays one line");
	CHECK_CONTAINS(line, "two\\nlines\\ttab \\\\ back\\r\\x01\n", "format: escapes reversible");

	log_format(line, sizeof line, "in fo", "a b", "m");
	CHECK_CONTAINS(line, "Z in_fo a_b ", "format: level and command stay one word each");

	char big[LOG_LINE_MAX * 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	n = log_format(line, sizeof line, "info", "x", big);
	CHECK(n < LOG_LINE_MAX && line[n - 1] == '\n',
	      "format: a long message is cut below PIPE_BUF");
	CHECK(n >= 4 && memcmp(line + n - 4, "...\n", 4) == 0, "format: a cut message ends in ...");

	/* Two-byte characters: never cut in the middle of one. */
	for (size_t i = 0; i + 2 < sizeof big; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof big - 2] = 0;
	n = log_format(line, sizeof line, "info", "x", big);
	const char *msg = strrchr(line, ' ') + 1;
	size_t body = (size_t)(line + n - 4 - msg);
	CHECK(body % 2 == 0, "format: cut before a whole UTF-8 character");
}

static struct harness_buf errs;

static void test_append(void)
{
	char dir[] = "/tmp/midsops-test-log.XXXXXX", path[PATH_MAX], err[1024];
	CHECK(mkdtemp(dir) != NULL, "append: temp dir");
	chmod(dir, 0700);
	snprintf(path, sizeof path, "%s/sub/log", dir);
	CHECK(log_append(path, "a.log", "one\n", 4, err, sizeof err) == 0,
	      "append: a missing folder is made");
	CHECK(log_append(path, "a.log", "two\n", 4, err, sizeof err) == 0, "append: again");
	char file[PATH_MAX + 16];
	snprintf(file, sizeof file, "%s/a.log", path);
	struct stat st;
	CHECK(stat(file, &st) == 0 && st.st_size == 8 && (st.st_mode & 0777) == 0600,
	      "append: both lines, mode 0600");
	snprintf(file, sizeof file, "%s/link", dir);
	CHECK(symlink(path, file) == 0, "append: a symlinked folder");
	CHECK(log_append(file, "a.log", "x\n", 2, err, sizeof err) < 0, "append: refuses it");
	CHECK_CONTAINS(err, "symbolic link", "append: says why");
	char target[PATH_MAX + 16];
	snprintf(target, sizeof target, "%s/a.log", path);
	snprintf(file, sizeof file, "%s/b.log", path);
	CHECK(symlink(target, file) == 0, "append: a symlinked file");
	CHECK(log_append(path, "b.log", "x\n", 2, err, sizeof err) < 0, "append: refuses it too");
	snprintf(file, sizeof file, "%s/fifo.log", path);
	CHECK(mkfifo(file, 0600) == 0, "append: a FIFO");
	CHECK(log_append(path, "fifo.log", "x\n", 2, err, sizeof err) < 0,
	      "append: not a regular file (and no hang)");
	if (geteuid() == 0) {
		chmod(path, 0777);
		CHECK(log_append(path, "a.log", "x\n", 2, err, sizeof err) < 0,
		      "append: root refuses a folder others can write");
		CHECK_CONTAINS(err, "refusing log directory", "append: and says so");
		chmod(path, 0700);
	}

	/* A failure is said once, and the log stays incomplete. */
	out_set_err_sink((struct out_sink){harness_sink_write, &errs});
	CHECK(!log_incomplete(), "failed: complete before any failure");
	snprintf(file, sizeof file, "%s/link", dir);
	log_set_dir(file);
	log_event("info", "t", "first");
	log_event("info", "t", "second");
	CHECK(log_incomplete(), "failed: incomplete after a refused write");
	CHECK_CONTAINS(log_incomplete_reason(), "symbolic link", "failed: the first reason kept");
	const char *a = strstr(errs.data, "log incomplete");
	CHECK(a && !strstr(a + 1, "log incomplete"), "failed: said once");
	log_set_dir(NULL);

	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "append: clean up");
}

static void test_config(void)
{
	struct config cfg;
	char err[256];
	config_defaults(&cfg);
	CHECK(cfg.log_syslog == 0, "config: log_syslog off by default");
	CHECK(config_parse(&cfg, "t", "[midsops]\nlog_syslog = yes\n", err, sizeof err) == 0 &&
		  cfg.log_syslog == 1,
	      "config: log_syslog = yes");
	CHECK(config_parse(&cfg, "t", "[midsops]\nlog_syslog = Off\n", err, sizeof err) == 0 &&
		  cfg.log_syslog == 0,
	      "config: log_syslog = Off");
	CHECK(config_parse(&cfg, "t", "[midsops]\nlog_syslog = maybe\n", err, sizeof err) < 0,
	      "config: log_syslog = maybe is an error");
	CHECK_CONTAINS(err, "t:2: log_syslog wants yes or no", "config: naming the line");
}

int main(void)
{
	test_format();
	test_append();
	test_config();
	HARNESS_END();
}
