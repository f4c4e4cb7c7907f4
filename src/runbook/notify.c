/* notify_send (include/notify.h): notify_command or the announcements log, for runbook
 * notify steps and incident escalations alike. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "notify.h"
#include "paths.h"
#include "proc.h"
#include "runbook.h"

int notify_send(const struct config *cfg, const char *subject, const char *body, char *const *env,
		char *where, size_t wherelen, char *err, size_t errlen)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s", paths_state_dir());
	paths_mkdir_p(dir, 0700);
	if (cfg && cfg->notify_command[0]) {
		char buf[1024];
		char *argv[33];
		snprintf(buf, sizeof buf, "%s", cfg->notify_command);
		if (rb_split_argv(buf, argv, 32) <= 0) {
			snprintf(err, errlen, "notify_command '%s' is empty or badly quoted",
				 cfg->notify_command);
			return -1;
		}
		char tmp[4300];
		snprintf(tmp, sizeof tmp, "%s/notify-%ld.txt", dir, (long)getpid());
		FILE *f = fopen(tmp, "w");
		if (!f) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			return -1;
		}
		fchmod(fileno(f), 0600);
		fprintf(f, "%s\n%s\n", subject, body ? body : "");
		fclose(f);
		struct proc_opts o = {.stdin_file = tmp, .capture = 1, .envp_add = env};
		char *out = NULL;
		int rc = proc_run(argv, &o, &out);
		unlink(tmp);
		if (rc != 0) {
			if (out)
				out[strcspn(out, "\n")] = 0;
			snprintf(err, errlen, "notify_command %s %s%s%s", argv[0],
				 rc < 0 ? "could not start" : "failed", out && *out ? ": " : "",
				 out ? out : "");
			free(out);
			return -1;
		}
		free(out);
		snprintf(where, wherelen, "notify_command %s", argv[0]);
		return 0;
	}
	char path[4300];
	snprintf(path, sizeof path, "%s/announcements.log", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char ts[64];
	strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S %z", &tm);
	fprintf(f, "=== %s\nSubject: %s\n\n%s\n\n", ts, subject, body ? body : "");
	fclose(f);
	snprintf(where, wherelen, "%s", path);
	return 0;
}
