/* Scan: walk the export, classify every file by its path, count files and bytes for the
 * ETA. Directory symlinks are never followed, so a symlink loop cannot trap the walk;
 * a file symlink is followed while it stays inside the export, and a loop there is
 * reported as such. A symlink that leads outside the export, to a file or a directory, is
 * refused (outside_export) and nothing is read through it: an export is often written by
 * someone else, and the importer may run as root.
 *
 * The walk goes from directory descriptor to directory descriptor (O_NOFOLLOW), and files
 * are opened relative to the export's descriptor (import_open_in), so a directory swapped
 * for a symlink after it was looked at cannot lead the importer outside either. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "util.h"
#include "import.h"
#include "import_int.h"

/* The order files are staged in, which is the order promote takes them while staging
 * goes on: what others name first (archetypes, categories, powersets, sets), then powers,
 * then what names powers (tags, groups), and last what nothing refers to (archetype
 * tables, index documents), so the promote of the last batch is quick. */
int import_kind_rank(enum import_kind k)
{
	static const int rank[IK_COUNT] = {
	    [IK_ARCHETYPE] = 0,	      [IK_POWER_CATEGORY] = 1, [IK_POWERSET] = 2,
	    [IK_ENHANCEMENT_SET] = 3, [IK_POWER] = 4,	       [IK_TAG] = 5,
	    [IK_EXCLUSION_GROUP] = 6, [IK_RECHARGE_GROUP] = 7, [IK_ARCHETYPE_TABLE] = 8,
	    [IK_DOCUMENT] = 9,	      [IK_UNKNOWN] = 10};
	return k >= 0 && k < IK_COUNT ? rank[k] : 10;
}

static int cmp_file(const void *a, const void *b)
{
	const struct import_file *x = a, *y = b;
	int d = import_kind_rank(x->kind) - import_kind_rank(y->kind);
	return d ? d : strcmp(x->rel, y->rel);
}

static void add_file(struct import_scan *s, const char *rel, long long size, enum import_kind kind,
		     const char *key)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->files = xrealloc(s->files, s->cap * sizeof *s->files);
	}
	struct import_file *f = &s->files[s->n++];
	f->rel = xstrdup(rel);
	f->size = size;
	f->kind = kind;
	snprintf(f->key, sizeof f->key, "%s", key);
	s->bytes += size;
}

/* openat2 (Linux 5.6) checks the whole resolution in the kernel, so nothing can be
 * swapped in between a check and the open. Where it is missing (an older kernel, a seccomp
 * filter that refuses it) the real path is checked first, then opened one component at a
 * time with O_NOFOLLOW: a symlink swapped in since the check makes the open fail. */
int import_openat2_off;

static int open_checked(int rootfd, const char *rel, int flags)
{
	char proc[64], root[PATH_MAX], real[PATH_MAX], path[PATH_MAX + 64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", rootfd);
	ssize_t n = readlink(proc, root, sizeof root - 1);
	if (n < 0)
		return -1;
	root[n] = 0;
	snprintf(path, sizeof path, "%s/%s", proc, rel);
	if (!realpath(path, real))
		return -1;
	size_t rl = strcmp(root, "/") == 0 ? 0 : (size_t)n;
	if (strncmp(real, root, rl) != 0 || (real[rl] != '/' && real[rl] != 0)) {
		errno = EXDEV;
		return -1;
	}
	const char *p = real + rl;
	while (*p == '/')
		p++;
	if (!*p)
		return openat(rootfd, ".", flags | O_NOFOLLOW);
	int dfd = rootfd;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		char comp[NAME_MAX + 1];
		if (l > NAME_MAX) {
			if (dfd != rootfd)
				close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, l);
		comp[l] = 0;
		int fd = openat(dfd, comp,
				slash ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
				      : flags | O_NOFOLLOW);
		int e = errno;
		if (dfd != rootfd)
			close(dfd);
		errno = e;
		if (fd < 0 || !slash)
			return fd;
		dfd = fd;
		p = slash + 1;
	}
}

int import_open_in(int rootfd, const char *rel, int flags)
{
	flags |= O_CLOEXEC;
#ifdef SYS_openat2
	if (!import_openat2_off) {
		struct open_how how = {.flags = (unsigned long long)flags,
				       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
		long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
		import_openat2_off = 1;
	}
#endif
	return open_checked(rootfd, rel, flags);
}

/* Where symlink rel leads: its target's stat in st (0), or the reason it is not followed,
 * reported through fn (-1). */
static int follow_link(int rootfd, const char *rel, struct stat *st, import_error_fn fn, void *ctx)
{
	int fd = import_open_in(rootfd, rel, O_PATH);
	if (fd >= 0 && fstat(fd, st) == 0) {
		close(fd);
		if (!S_ISDIR(st->st_mode))
			return 0;
		fn(ctx, rel, NULL, "symlink_dir",
		   "directory symlinks are not followed (they could loop)");
		return -1;
	}
	int e = errno;
	if (fd >= 0)
		close(fd);
	/* Where it leads is not said either: the target's name is none of the export's
	 * business, and ops.import_errors is readable by the monitoring role. */
	if (e == EXDEV)
		fn(ctx, rel, NULL, "outside_export",
		   "symlink leads outside the export: refused, nothing read through it");
	else if (e == ELOOP)
		fn(ctx, rel, NULL, "symlink_loop", "symlink loop");
	else
		fn(ctx, rel, NULL, "unreadable", e == ENOENT ? "dangling symlink" : strerror(e));
	return -1;
}

/* Walk the directory open on dfd (closed here), rel inside the export rootfd. */
static void walk(int rootfd, int dfd, const char *rel, struct import_scan *s, import_error_fn fn,
		 void *ctx, int depth)
{
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		char msg[512];
		snprintf(msg, sizeof msg, "cannot read directory: %s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
		fn(ctx, rel[0] ? rel : ".", NULL, "unreadable", msg);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		/* Dotfiles (.keep, editor droppings) are not part of the export. */
		if (e->d_name[0] == '.')
			continue;
		char sub[4096];
		snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			fn(ctx, sub, NULL, "unreadable", strerror(errno));
			continue;
		}
		if (S_ISLNK(st.st_mode) && follow_link(rootfd, sub, &st, fn, ctx) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			static const char *const known[] = {
			    "archetypes", "tables",	      "powers",		 "boost_sets",
			    "tags",	  "exclusion_groups", "recharge_groups", NULL};
			int ok = depth > 0;
			for (int k = 0; !ok && known[k]; k++)
				ok = strcmp(e->d_name, known[k]) == 0;
			if (!ok) {
				/* Nothing is read from a directory the layout does not define. */
				char msg[600];
				snprintf(msg, sizeof msg,
					 "unknown directory %.500s/ skipped (not part of the "
					 "export layout)",
					 sub);
				fn(ctx, sub, NULL, "unknown_directory", msg);
				continue;
			}
			if (depth >= 3) {
				fn(ctx, sub, NULL, "unknown_directory",
				   "directory nested too deep");
				continue;
			}
			/* O_NOFOLLOW: swapped for a symlink since fstatat, it is not entered. */
			walk(rootfd,
			     openat(dirfd(d), e->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
			     sub, s, fn, ctx, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			fn(ctx, sub, NULL, "unexpected_file", "not a regular file");
			continue;
		}
		char key[IMPORT_MAX_KEY + 1], why[512];
		enum import_kind k = import_classify(sub, key, sizeof key, why, sizeof why);
		if (k == IK_UNKNOWN) {
			fn(ctx, sub, NULL,
			   strstr(why, "unknown directory") ? "unknown_directory"
							    : "unexpected_file",
			   why);
			continue;
		}
		add_file(s, sub, (long long)st.st_size, k, key);
	}
	closedir(d);
}

int import_scan_dir(const char *dir, struct import_scan *s, import_error_fn fn, void *ctx,
		    char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	/* The export directory itself is the operator's choice: it may be a symlink. */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "export directory %s: %s", dir,
			 errno == ENOTDIR ? "not a directory" : strerror(errno));
		return -1;
	}
	/* Above the standard descriptors, so that 0 can mean "none". */
	s->rootfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	if (s->rootfd < 0) {
		s->rootfd = 0;
		snprintf(err, errlen, "export directory %s: %s", dir, strerror(errno));
		return -1;
	}
	walk(s->rootfd, openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "", s, fn, ctx,
	     0);
	if (s->n == 0) {
		snprintf(err, errlen, "empty export: no archetypes/ or powers/ found in %s", dir);
		import_scan_free(s);
		return -1;
	}
	/* Sorted: deterministic runs, in promote's order (import_kind_rank). */
	qsort(s->files, s->n, sizeof *s->files, cmp_file);
	return 0;
}

void import_scan_free(struct import_scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->files[i].rel);
	free(s->files);
	if (s->rootfd > 0)
		close(s->rootfd);
	memset(s, 0, sizeof *s);
}
