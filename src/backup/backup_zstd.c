/* zstd in the repository: WAL segments (NAME.zst, hashed as stored), base backups written
 * by pg_basebackup as tar.zst, and laying a base backup down into a fresh data directory
 * from either form. A tar in the repository is untrusted input (whoever writes the
 * repository writes it): only plain files and folders are made, never a link, never a path
 * that leaves the folder, never over something that exists, as the cluster's owner. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "backup_int.h"
#include "proc.h"
#include "sha256.h"
#include "util.h"

int backup_compress_parse(const char *s)
{
	if (strcmp(s, "none") == 0)
		return 0;
	if (strcmp(s, "zstd") == 0)
		return 3;
	if (strncmp(s, "zstd:", 5) != 0)
		return -1;
	char *end;
	long lv = strtol(s + 5, &end, 10);
	return end == s + 5 || *end || lv < 1 || lv > 19 ? -1 : (int)lv;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

#define IOBUF (1 << 20)

long long backup_zstd_copy(int in, int out, int level, char hex[65], char *err, size_t errlen)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	unsigned char *ib = xmalloc(IOBUF), *ob = xmalloc(ZSTD_CStreamOutSize());
	long long total = -1, written = 0;
	struct sha256_ctx sha;
	sha256_init(&sha);
	if (!z) {
		snprintf(err, errlen, "cannot create a zstd compression context");
		goto out;
	}
	/* The frame's own checksum: a damaged file fails to decompress even where no
	 * sidecar is kept (the base backup's tars). */
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	for (int last = 0; !last;) {
		ssize_t n = read(in, ib, IOBUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			goto out;
		}
		last = n == 0;
		ZSTD_inBuffer zi = {ib, (size_t)n, 0};
		for (;;) {
			ZSTD_outBuffer zo = {ob, ZSTD_CStreamOutSize(), 0};
			size_t left =
			    ZSTD_compressStream2(z, &zo, &zi, last ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left)) {
				snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(left));
				goto out;
			}
			sha256_update(&sha, ob, zo.pos);
			if (write_all(out, ob, zo.pos) < 0) {
				snprintf(err, errlen, "write: %s", strerror(errno));
				goto out;
			}
			written += (long long)zo.pos;
			/* All input taken; at the end, the frame flushed whole too. */
			if (last ? left == 0 : zi.pos == zi.size)
				break;
		}
	}
	sha256_hex(&sha, hex);
	total = written;
out:
	ZSTD_freeCCtx(z);
	free(ib);
	free(ob);
	return total;
}

int backup_unzstd_copy(int in, int out, char zhex[65], char phex[65], char *err, size_t errlen)
{
	ZSTD_DCtx *z = ZSTD_createDCtx();
	unsigned char *ib = xmalloc(IOBUF), *ob = xmalloc(ZSTD_DStreamOutSize());
	struct sha256_ctx zs, ps;
	sha256_init(&zs);
	sha256_init(&ps);
	int rc = 0;
	size_t left = 1; /* an empty file is no frame either */
	if (!z) {
		snprintf(err, errlen, "cannot create a zstd decompression context");
		rc = -1;
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, ib, IOBUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			rc = -1;
			goto out;
		}
		if (n == 0)
			break;
		sha256_update(&zs, ib, (size_t)n);
		/* After a decoding error the rest is still read: the digest of the whole
		 * file is what tells damage from a bad sidecar. */
		ZSTD_inBuffer zi = {ib, (size_t)n, 0};
		while (rc == 0 && zi.pos < zi.size) {
			ZSTD_outBuffer zo = {ob, ZSTD_DStreamOutSize(), 0};
			left = ZSTD_decompressStream(z, &zo, &zi);
			if (ZSTD_isError(left)) {
				snprintf(err, errlen, "not a valid zstd stream: %s",
					 ZSTD_getErrorName(left));
				rc = -2;
				break;
			}
			sha256_update(&ps, ob, zo.pos);
			if (out >= 0 && write_all(out, ob, zo.pos) < 0) {
				snprintf(err, errlen, "write: %s", strerror(errno));
				rc = -1;
				goto out;
			}
		}
	}
	if (rc == 0 && left != 0) {
		snprintf(err, errlen, "the zstd stream is cut short");
		rc = -2;
	}
	sha256_hex(&zs, zhex);
	if (phex)
		sha256_hex(&ps, phex);
out:
	ZSTD_freeDCtx(z);
	free(ib);
	free(ob);
	return rc;
}

int backup_zstd_file(const char *src, const char *dst, int level, char *err, size_t errlen)
{
	char tmp[4600], hex[65], e[512];
	snprintf(tmp, sizeof tmp, "%s.tmp", dst);
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "cannot open %s: %s", src, strerror(errno));
		return -1;
	}
	unlink(tmp);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		close(in);
		return -1;
	}
	long long n = backup_zstd_copy(in, out, level, hex, e, sizeof e);
	close(in);
	if (n < 0 || fsync(out) < 0 || close(out) < 0 || rename(tmp, dst) < 0) {
		snprintf(err, errlen, "cannot compress %s: %s", src, n < 0 ? e : strerror(errno));
		unlink(tmp);
		return -1;
	}
	unlink(src);
	return 0;
}

/* ---------- tar extraction ---------- */

/* A decompressing reader over fd. */
struct zread {
	int fd, eof;
	ZSTD_DCtx *d;
	unsigned char *ib, *ob;
	ZSTD_inBuffer in;
	size_t opos, olen, left;
	struct sha256_ctx sha; /* of the compressed bytes, against the manifest */
};

/* The next block of the compressed file, into z->in and its checksum: the bytes read (0 at
 * the end of the file), or -1 (err set). */
static ssize_t zr_fill(struct zread *z, char *err, size_t errlen)
{
	ssize_t r;
	while ((r = read(z->fd, z->ib, IOBUF)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		snprintf(err, errlen, "read: %s", strerror(errno));
		return -1;
	}
	sha256_update(&z->sha, z->ib, (size_t)r);
	z->in = (ZSTD_inBuffer){z->ib, (size_t)r, 0};
	return r;
}

/* Decompress what z->in holds into z->ob (*zo says how much came out), or -1 (err set). */
static int zr_inflate(struct zread *z, ZSTD_outBuffer *zo, char *err, size_t errlen)
{
	*zo = (ZSTD_outBuffer){z->ob, ZSTD_DStreamOutSize(), 0};
	z->left = ZSTD_decompressStream(z->d, zo, &z->in);
	if (ZSTD_isError(z->left)) {
		snprintf(err, errlen, "damaged: %s", ZSTD_getErrorName(z->left));
		return -1;
	}
	return 0;
}

/* Exactly n bytes, or -1 (err set): a tar cut short is as bad as a damaged one. */
static int zr_read(struct zread *z, void *dst, size_t n, char *err, size_t errlen)
{
	unsigned char *d = dst;
	while (n) {
		if (z->opos < z->olen) {
			size_t k = z->olen - z->opos < n ? z->olen - z->opos : n;
			memcpy(d, z->ob + z->opos, k);
			z->opos += k;
			d += k;
			n -= k;
			continue;
		}
		if (z->in.pos == z->in.size) {
			if (z->eof) {
				snprintf(err, errlen, "the archive ends in the middle of an entry");
				return -1;
			}
			ssize_t r = zr_fill(z, err, errlen);
			if (r < 0)
				return -1;
			z->eof = r == 0;
			if (r == 0)
				continue;
		}
		ZSTD_outBuffer zo;
		if (zr_inflate(z, &zo, err, errlen) < 0)
			return -1;
		z->opos = 0;
		z->olen = zo.pos;
	}
	return 0;
}

static unsigned long long tar_num(const unsigned char *p, size_t n, int *bad)
{
	unsigned long long v = 0;
	if (p[0] & 0x80) { /* base-256, for sizes beyond 8 GB */
		for (size_t i = 1; i < n; i++)
			v = v << 8 | p[i];
		return v;
	}
	size_t i = 0;
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (unsigned)(p[i] - '0');
	if (i < n && p[i] != 0 && p[i] != ' ')
		*bad = 1;
	return v;
}

/* A member name as a path inside the folder: relative, no "..", no empty component. */
static int tar_name_ok(char *name)
{
	size_t len = strlen(name);
	while (len > 1 && name[len - 1] == '/')
		name[--len] = 0;
	while (strncmp(name, "./", 2) == 0)
		memmove(name, name + 2, strlen(name + 2) + 1);
	if (!name[0] || name[0] == '/')
		return 0;
	for (const char *c = name; *c;) {
		size_t cl = strcspn(c, "/");
		if (cl == 0 || (cl == 2 && strncmp(c, "..", 2) == 0))
			return 0;
		for (size_t i = 0; i < cl; i++)
			if ((unsigned char)c[i] < 0x20)
				return 0;
		c += cl;
		if (*c)
			c++;
	}
	return 1;
}

static int tar_skip(struct zread *z, unsigned long long n, char *err, size_t errlen)
{
	unsigned char buf[4096];
	while (n) {
		size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
		if (zr_read(z, buf, k, err, errlen) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

static int tar_file(struct zread *z, int dfd, const char *name, unsigned long long size, char *err,
		    size_t errlen)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %.900s: %s", name, strerror(errno));
		return -1;
	}
	static unsigned char buf[IOBUF];
	while (size) {
		size_t k = size < sizeof buf ? (size_t)size : sizeof buf;
		if (zr_read(z, buf, k, err, errlen) < 0)
			break;
		if (write_all(fd, buf, k) < 0) {
			snprintf(err, errlen, "cannot write %.900s: %s", name, strerror(errno));
			break;
		}
		size -= k;
	}
	close(fd);
	return size ? -1 : 0;
}

/* What follows the end of the archive is read too: the frame's checksum, at its very end,
 * is checked only there. */
static int tar_drain(struct zread *z, char *err, size_t errlen)
{
	for (int eof = z->eof;;) {
		if (z->in.pos == z->in.size && !eof) {
			ssize_t r = zr_fill(z, err, errlen);
			if (r < 0)
				return -1;
			eof = r == 0;
		}
		/* left is 0 when the last call ended a frame (its checksum checked). */
		if (eof && z->in.pos == z->in.size && z->left == 0)
			return 0;
		ZSTD_outBuffer zo;
		if (zr_inflate(z, &zo, err, errlen) < 0)
			return -1;
		if (eof && z->in.pos == z->in.size && z->left != 0 && zo.pos < zo.size) {
			snprintf(err, errlen, "the compressed stream is cut short");
			return -1;
		}
	}
}

/* Extract the tar.zst on zfd into the folder dfd. what names the archive in messages. */
static int untar(int zfd, int dfd, const char *what, const char *want, char *err, size_t errlen)
{
	struct zread z = {.fd = zfd, .d = ZSTD_createDCtx(), .ib = xmalloc(IOBUF)};
	sha256_init(&z.sha);
	z.ob = xmalloc(ZSTD_DStreamOutSize());
	char e[1024] = "", longname[4096] = "", name[4096];
	int rc = -1;
	if (!z.d) {
		snprintf(e, sizeof e, "cannot create a zstd decompression context");
		goto out;
	}
	for (;;) {
		unsigned char h[512];
		if (zr_read(&z, h, sizeof h, e, sizeof e) < 0)
			goto out;
		int zero = 1;
		for (int i = 0; i < 512 && zero; i++)
			zero = h[i] == 0;
		if (zero) {
			/* The end-of-archive block. pg_basebackup's frames carry no checksum
			 * of their own: the file's, from the manifest, stands for it. */
			rc = tar_drain(&z, e, sizeof e);
			char got[65];
			sha256_hex(&z.sha, got);
			if (rc == 0 && want && strcmp(got, want) != 0) {
				snprintf(e, sizeof e,
					 "damaged: SHA-256 %s, but manifest.json says %s", got,
					 want);
				rc = -1;
			}
			break;
		}
		int bad = 0;
		unsigned long long sum = tar_num(h + 148, 8, &bad), mine = 0;
		for (int i = 0; i < 512; i++)
			mine += i >= 148 && i < 156 ? ' ' : h[i];
		unsigned long long size = tar_num(h + 124, 12, &bad);
		if (bad || sum != mine) {
			snprintf(e, sizeof e,
				 "damaged: a tar header's checksum or number field is wrong");
			goto out;
		}
		char type = (char)h[156];
		if (longname[0])
			snprintf(name, sizeof name, "%s", longname);
		else if (memcmp(h + 257, "ustar", 5) == 0 && h[345])
			snprintf(name, sizeof name, "%.155s/%.100s", (char *)h + 345, (char *)h);
		else
			snprintf(name, sizeof name, "%.100s", (char *)h);
		if (type == 'L' || type == 'x' || type == 'g') {
			/* GNU long name, or pax records (only "path" matters). */
			if (size >= sizeof longname) {
				snprintf(e, sizeof e, "an extended header is too long");
				goto out;
			}
			char ext[4096];
			if (zr_read(&z, ext, (size_t)size, e, sizeof e) < 0 ||
			    tar_skip(&z, (512 - size % 512) % 512, e, sizeof e) < 0)
				goto out;
			ext[size] = 0;
			if (type == 'L')
				snprintf(longname, sizeof longname, "%s", ext);
			for (char *p = ext; type == 'x' && *p;) {
				char *sp = strchr(p, ' ');
				long rl = atol(p);
				if (!sp || rl <= 0 || p + rl > ext + size)
					break;
				if (strncmp(sp + 1, "path=", 5) == 0)
					snprintf(longname, sizeof longname, "%.*s",
						 (int)(p + rl - sp - 7), sp + 6);
				p += rl;
			}
			continue;
		}
		longname[0] = 0;
		if (!tar_name_ok(name)) {
			snprintf(e, sizeof e,
				 "member '%.200s' is not a plain path inside the folder", name);
			goto out;
		}
		if (type == '5') {
			struct stat st;
			if (strcmp(name, ".") != 0 && mkdirat(dfd, name, 0700) < 0 &&
			    (errno != EEXIST || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			     !S_ISDIR(st.st_mode))) {
				snprintf(e, sizeof e, "cannot create folder %.900s: %s", name,
					 strerror(errno));
				goto out;
			}
		} else if (type == '0' || type == '\0' || type == '7') {
			if (tar_file(&z, dfd, name, size, e, sizeof e) < 0)
				goto out;
		} else {
			snprintf(
			    e, sizeof e,
			    "member '%.200s' is %s (tar type '%c'); only files and folders are "
			    "restored",
			    name, type == '1' || type == '2' ? "a link" : "not a file",
			    type >= 0x20 && type < 0x7f ? type : '?');
			goto out;
		}
		if (tar_skip(&z, (512 - size % 512) % 512, e, sizeof e) < 0)
			goto out;
	}
out:
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", what, e);
	ZSTD_freeDCtx(z.d);
	free(z.ib);
	free(z.ob);
	return rc;
}

/* ---------- laying a base backup down ---------- */

/* The uncompressed form (older backups, compression = none). cp -a would copy a symbolic
 * link as a link, and the server then follow it out of the repository. */
static int copy_plain(const char *src, const char *dst, const struct repo *rp, char *err,
		      size_t errlen)
{
	char *argv[] = {"cp", "-a", "--", (char *)src, (char *)dst, NULL};
	struct proc_opts o = {.quiet = 1};
	if (proc_run(argv, &o, NULL) != 0) {
		snprintf(err, errlen, "cannot copy %s to %s", src, dst);
		return -1;
	}
	if (geteuid() == 0 && rp->have_cl) {
		char owner[64];
		snprintf(owner, sizeof owner, "%ld:%ld", (long)rp->cl.uid, (long)rp->cl.gid);
		char *cargv[] = {"chown", "-R", owner, (char *)dst, NULL};
		if (proc_run(cargv, &o, NULL) != 0) {
			snprintf(err, errlen, "cannot hand %s to the server's user", dst);
			return -1;
		}
	}
	chmod(dst, 0700);
	return 0;
}

int backup_base_compressed(const char *base)
{
	char p[4600];
	struct stat st;
	snprintf(p, sizeof p, "%s/base.tar.zst", base);
	return lstat(p, &st) == 0;
}

/* In a child that runs as the cluster's owner: base.tar.zst into dfd, pg_wal.tar.zst
 * into its pg_wal. The message goes back on the pipe. */
static void lay_down_child(int bfd, int wfd, int dfd, const struct repo *rp, int pipefd,
			   const char *base, const char *bsha, const char *wsha)
{
	char err[2048] = "", what[4700];
	if (geteuid() == 0 && rp->have_cl &&
	    (setgroups(0, NULL) < 0 || setgid(rp->cl.gid) < 0 || setuid(rp->cl.uid) < 0)) {
		snprintf(err, sizeof err, "cannot become the server's user: %s", strerror(errno));
		goto fail;
	}
	snprintf(what, sizeof what, "%s/base.tar.zst", base);
	if (untar(bfd, dfd, what, bsha, err, sizeof err) < 0)
		goto fail;
	if (wfd >= 0) {
		struct stat st;
		if (mkdirat(dfd, "pg_wal", 0700) < 0 && errno != EEXIST) {
			snprintf(err, sizeof err, "cannot create pg_wal: %s", strerror(errno));
			goto fail;
		}
		int pw = openat(dfd, "pg_wal", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pw < 0 || fstat(pw, &st) < 0) {
			snprintf(err, sizeof err, "cannot open pg_wal: %s", strerror(errno));
			goto fail;
		}
		snprintf(what, sizeof what, "%s/pg_wal.tar.zst", base);
		if (untar(wfd, pw, what, wsha, err, sizeof err) < 0)
			goto fail;
	}
	_exit(0);
fail:
	if (write(pipefd, err, strlen(err)) < 0)
		_exit(2);
	_exit(1);
}

/* The SHA-256 of base/base.tar.zst and base/pg_wal.tar.zst as the backup's manifest.json
 * (checked by backup_manifest_read) records them; base is REPO/ID/base. */
static int manifest_sums(const char *base, char bsha[65], char wsha[65], char *err, size_t errlen)
{
	char repo[4400], id[128];
	snprintf(repo, sizeof repo, "%s", base);
	char *slash = strrchr(repo, '/');
	if (slash)
		*slash = 0;
	slash = strrchr(repo, '/');
	if (!slash) {
		snprintf(err, errlen, "%s is not a backup's base folder", base);
		return -1;
	}
	snprintf(id, sizeof id, "%s", slash + 1);
	*slash = 0;
	struct backup_manifest m;
	if (backup_manifest_read(repo, id, &m, err, errlen) < 0)
		return -1;
	bsha[0] = wsha[0] = 0;
	const cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(m.json, "files"))
	{
		if (strcmp(util_json_text(f, "path"), "base/base.tar.zst") == 0)
			snprintf(bsha, 65, "%s", util_json_text(f, "sha256"));
		else if (strcmp(util_json_text(f, "path"), "base/pg_wal.tar.zst") == 0)
			snprintf(wsha, 65, "%s", util_json_text(f, "sha256"));
	}
	backup_manifest_free(&m);
	if (!bsha[0] || !wsha[0]) {
		snprintf(err, errlen, "manifest.json of backup %s lists no checksum of %s", id,
			 bsha[0] ? "base/pg_wal.tar.zst" : "base/base.tar.zst");
		return -1;
	}
	return 0;
}

int backup_base_lay_down(const char *base, const char *dst, const struct repo *rp, char *err,
			 size_t errlen)
{
	struct stat st;
	if (lstat(base, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a folder of the backup repository", base);
		return -1;
	}
	if (!backup_base_compressed(base))
		return copy_plain(base, dst, rp, err, errlen);
	char bsha[65], wsha[65];
	if (manifest_sums(base, bsha, wsha, err, errlen) < 0)
		return -1;
	char p[4600];
	snprintf(p, sizeof p, "%s/base.tar.zst", base);
	int bfd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	snprintf(p, sizeof p, "%s/pg_wal.tar.zst", base);
	int wfd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0 || wfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s",
			 bfd < 0 ? "base.tar.zst" : "pg_wal.tar.zst", strerror(errno));
		goto fail_fds;
	}
	/* A fresh folder, made here and handed to the server's user through its
	 * descriptor: the child writes only beneath it. */
	if (mkdir(dst, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dst, strerror(errno));
		goto fail_fds;
	}
	int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || (geteuid() == 0 && rp->have_cl && fchown(dfd, rp->cl.uid, rp->cl.gid) < 0)) {
		snprintf(err, errlen, "cannot prepare %s: %s", dst, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		goto fail_fds;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(dfd);
		goto fail_fds;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		lay_down_child(bfd, wfd, dfd, rp, pfd[1], base, bsha, wsha);
	}
	close(pfd[1]);
	close(dfd);
	close(bfd);
	if (wfd >= 0)
		close(wfd);
	char msg[2048];
	ssize_t n = 0, r;
	while (n < (ssize_t)sizeof msg - 1 &&
	       ((r = read(pfd[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0 ||
		(r < 0 && errno == EINTR)))
		n += r > 0 ? r : 0;
	msg[n] = 0;
	close(pfd[0]);
	int ws = 0;
	if (pid < 0 || waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		snprintf(err, errlen, "cannot restore the base backup into %s: %s", dst,
			 msg[0]	   ? msg
			 : pid < 0 ? strerror(errno)
				   : "the extraction failed");
		return -1;
	}
	return 0;
fail_fds:
	if (bfd >= 0)
		close(bfd);
	if (wfd >= 0)
		close(wfd);
	return -1;
}
