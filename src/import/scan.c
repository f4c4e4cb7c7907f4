/* Scan: walk the export, classify every file by its path, count files and bytes for the
 * ETA. Directory symlinks are never followed, so a symlink loop cannot trap the walk;
 * a file symlink is followed once and a loop there is reported as such. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import.h"

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
		s->files = realloc(s->files, s->cap * sizeof *s->files);
		if (!s->files)
			abort();
	}
	struct import_file *f = &s->files[s->n++];
	f->rel = strdup(rel);
	f->size = size;
	f->kind = kind;
	snprintf(f->key, sizeof f->key, "%s", key);
	s->bytes += size;
}

static void walk(const char *root, const char *rel, struct import_scan *s, import_error_fn fn,
		 void *ctx, int depth)
{
	char path[8192];
	snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d) {
		char msg[512];
		snprintf(msg, sizeof msg, "cannot read directory: %s", strerror(errno));
		fn(ctx, rel[0] ? rel : ".", NULL, "unreadable", msg);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		/* Dotfiles (.keep, editor droppings) are not part of the export. */
		if (e->d_name[0] == '.')
			continue;
		char sub[4096], full[8192];
		snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		snprintf(full, sizeof full, "%s/%s", root, sub);
		struct stat lst, st;
		if (lstat(full, &lst) < 0) {
			fn(ctx, sub, NULL, "unreadable", strerror(errno));
			continue;
		}
		if (S_ISLNK(lst.st_mode)) {
			if (stat(full, &st) < 0) {
				char msg[512];
				snprintf(msg, sizeof msg, "%s",
					 errno == ELOOP ? "symlink loop"
							: (errno == ENOENT ? "dangling symlink"
									   : strerror(errno)));
				fn(ctx, sub, NULL, errno == ELOOP ? "symlink_loop" : "unreadable",
				   msg);
				continue;
			}
			if (S_ISDIR(st.st_mode)) {
				fn(ctx, sub, NULL, "symlink_dir",
				   "directory symlinks are not followed (they could loop)");
				continue;
			}
		} else {
			st = lst;
		}
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
					 "unknown directory %s/ skipped (not part of the "
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
			walk(root, sub, s, fn, ctx, depth + 1);
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
	struct stat st;
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "export directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "export directory %s: not a directory", dir);
		return -1;
	}
	walk(dir, "", s, fn, ctx, 0);
	if (s->n == 0) {
		snprintf(err, errlen, "empty export: no archetypes/ or powers/ found in %s", dir);
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
	memset(s, 0, sizeof *s);
}
