/* The fence mark of a cluster midsops runs: ROOT/fenced. cluster_start refuses a cluster
 * that has one, so no command brings a fenced old primary back writable by starting it
 * implicitly; only `cluster unfence` (or dr-rejoin) removes it. It lives beside the data
 * directory, not in it, so pg_rewind and a re-clone never carry it away unseen. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"

static void mark_path(const struct cluster *c, char *buf, size_t n)
{
	snprintf(buf, n, "%s/fenced", c->root);
}

int cluster_fenced(const struct cluster *c, char *why, size_t n)
{
	char path[4200];
	mark_path(c, path, sizeof path);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : 1; /* unreadable: treat as fenced, never as free */
	if (why && n) {
		ssize_t k = read(fd, why, n - 1);
		why[k > 0 ? k : 0] = 0;
		why[strcspn(why, "\n")] = 0;
		if (!why[0])
			snprintf(why, n, "no reason recorded");
	}
	close(fd);
	return 1;
}

int cluster_fence_mark(const struct cluster *c, const char *why, char *err, size_t errlen)
{
	char path[4200], tmp[4300];
	mark_path(c, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write the fence mark %s: %s", path, strerror(errno));
		return -1;
	}
	size_t len = strlen(why);
	int bad = write(fd, why, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0;
	bad |= close(fd) < 0;
	if (bad || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write the fence mark %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int cluster_fence_clear(const struct cluster *c, char *err, size_t errlen)
{
	char path[4200];
	mark_path(c, path, sizeof path);
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the fence mark %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
