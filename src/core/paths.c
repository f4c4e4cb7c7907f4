/* XDG directories, with a root default the server user can reach. */
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && *h)
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

/* PostgreSQL refuses to run as root, so root's cluster runs as postgres, which cannot
 * traverse /root (mode 0700). Root's defaults therefore live under /var/lib/midsops. */
static const char *xdg(char *buf, size_t n, const char *var, const char *home_sub,
		       const char *root_default)
{
	const char *v = getenv(var);
	if (v && *v)
		snprintf(buf, n, "%s/midsops", v);
	else if (geteuid() == 0 && root_default)
		snprintf(buf, n, "%s", root_default);
	else
		snprintf(buf, n, "%s/%s/midsops", home_dir(), home_sub);
	return buf;
}

const char *paths_data_dir(void)
{
	static char buf[PATH_MAX];
	return xdg(buf, sizeof buf, "XDG_DATA_HOME", ".local/share", "/var/lib/midsops");
}

const char *paths_state_dir(void)
{
	static char buf[PATH_MAX];
	return xdg(buf, sizeof buf, "XDG_STATE_HOME", ".local/state", "/var/lib/midsops/state");
}

const char *paths_config_dir(void)
{
	static char buf[PATH_MAX];
	return xdg(buf, sizeof buf, "XDG_CONFIG_HOME", ".config", NULL);
}

#ifndef MIDSOPS_SHAREDIR
#define MIDSOPS_SHAREDIR "/usr/local/share/midsops"
#endif

const char *paths_share_dir(void)
{
	static char buf[PATH_MAX];
	const char *v = getenv("MIDSOPS_SHARE");
	if (v && *v)
		return v;
	/* Run from a build tree: themes/ and runbooks/ sit next to the binary. */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			char probe[PATH_MAX + 32];
			snprintf(probe, sizeof probe, "%s/runbooks", exe);
			struct stat st;
			if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode)) {
				snprintf(buf, sizeof buf, "%s", exe);
				return buf;
			}
		}
	}
	return MIDSOPS_SHAREDIR;
}

int paths_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

char *paths_join(char *buf, size_t n, const char *a, const char *b)
{
	snprintf(buf, n, "%s/%s", a, b);
	return buf;
}
