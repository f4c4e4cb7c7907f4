/* Folders and files of the server's user, set up by root. A folder the server's user can
 * write is a place where it can put a symbolic link (or, without protected_hardlinks, a
 * hard link) named like the file root is about to open, chmod or chown, and so take over
 * whatever the link points at. So root never uses a name in such a folder as a path: it
 * opens the folder, then the name inside it with openat and O_NOFOLLOW, checks what it
 * got, and changes owner and mode on the open descriptor only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"
#include "paths.h"

int cluster_own_dir(const struct cluster *c, const char *dir, mode_t mode, char *err, size_t errlen)
{
	if (paths_mkdir_p(dir, 0711) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* The folder's own name sits in a folder of root's; O_NOFOLLOW still refuses a link
	 * put there by an older version's layout (the log folder once belonged to the
	 * server's user, and this folder's name was in it). */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		snprintf(err, errlen, "cannot set up %s for the server's user: %s", dir,
			 lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)
			     ? "it is a symbolic link, which midsops does not follow"
			     : strerror(e));
		return -1;
	}
	if (fchmod(fd, mode) < 0 || (geteuid() == 0 && fchown(fd, c->uid, c->gid) < 0)) {
		snprintf(err, errlen, "cannot set up %s for the server's user: %s", dir,
			 strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return cluster_make_reachable(c, dir, err, errlen);
}

static int put_error(char *err, size_t errlen, const char *dir, const char *name, int e)
{
	snprintf(err, errlen, "cannot write %s/%s: %s", dir, name,
		 e == ELOOP ? "it is a symbolic link, which midsops does not follow" : strerror(e));
	return -1;
}

static int write_all(int fd, const char *text)
{
	size_t len = strlen(text);
	while (len > 0) {
		ssize_t w = write(fd, text, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		text += w;
		len -= (size_t)w;
	}
	return 0;
}

int cluster_file_put(const struct cluster *c, const char *dir, const char *name, const char *text,
		     int append, char *err, size_t errlen)
{
	/* The server's user gets what root writes in its folders; root keeps nothing there. */
	int handover = c && geteuid() == 0 && c->uid != 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	char tmp[512];
	int fd;
	/* O_NONBLOCK: a FIFO in a file's place must not hang root. */
	if (append)
		fd = openat(dfd, name,
			    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
			    0600);
	else {
		/* A new file of our own, never an existing name truncated: a name left there
		 * (a crash, or planted) is removed as the name it is, and made again. */
		snprintf(tmp, sizeof tmp, ".%s.midsops-tmp", name);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
			fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				    0600);
	}
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		close(dfd);
		return put_error(err, errlen, dir, append ? name : tmp, e);
	}
	/* A plain file with one name, ours or the server's user's: a second name would make
	 * it a hard link to somebody else's file. */
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && !(c && st.st_uid == c->uid))) {
		snprintf(err, errlen,
			 "cannot write %s/%s: not a plain file of this user or the server's "
			 "(type %o, %ld links, owner uid %ld)",
			 dir, name, (unsigned)(st.st_mode & S_IFMT), (long)st.st_nlink,
			 (long)st.st_uid);
		close(fd);
		if (!append)
			unlinkat(dfd, tmp, 0);
		close(dfd);
		return -1;
	}
	int rc = 0, e = 0;
	if ((handover && st.st_uid != c->uid && fchown(fd, c->uid, c->gid) < 0) ||
	    fcntl(fd, F_SETFL, append ? O_APPEND : 0) < 0 || write_all(fd, text) < 0 ||
	    fsync(fd) < 0) {
		e = errno;
		rc = -1;
	}
	if (close(fd) < 0 && rc == 0) {
		e = errno;
		rc = -1;
	}
	if (rc == 0 && !append && renameat(dfd, tmp, dfd, name) < 0) {
		e = errno;
		rc = -1;
	}
	if (rc < 0 && !append)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return rc < 0 ? put_error(err, errlen, dir, name, e) : 0;
}
