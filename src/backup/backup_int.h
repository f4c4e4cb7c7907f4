/* Internal to src/backup/: what the backup files share. The public API is include/backup.h.
 * One file per concern: backup_util.c (file/JSON helpers, the repository, table
 * checksums), backup_catalog.c (ops.backups, list, status), backup_run.c (one backup run),
 * backup_full.c (base backups), backup_wal.c (WAL archive, incremental, wal-push/fetch),
 * backup_dump.c (logical dumps and db-restore), backup_verify.c, backup_restore.c (physical
 * and point-in-time restores), backup_timeline.c (the archive's timelines, which one a
 * restore follows), backup_prune.c, backup_repo.c (pure parts), backup_zstd.c (zstd
 * streams, the tar reader, laying a base backup down). */
#ifndef MIDSOPS_BACKUP_INT_H
#define MIDSOPS_BACKUP_INT_H

#include <cJSON.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "backup.h"
#include "cluster.h"
#include "cmd.h"

#define WAL_NAME_LEN 24

struct config;

/* The repository on disk, opened (and locked for writers) per command. */
struct repo {
	char dir[4096];
	char wal[4200];
	int lockfd;
	struct cluster cl; /* the embedded cluster's user owns the WAL archive */
	int have_cl;
	int compress; /* [backup] compression: zstd level, 0 none */
};

/* A backup in progress (also used by db-restore to run pg_restore with progress). */
struct run {
	struct cmd_ctx *ctx;
	struct repo repo;
	PGconn *conn; /* the target; NULL when unreachable */
	char id[64];
	char partial[4300], final[4300];
	enum backup_type type;
	double t0;    /* when it started, util_wall: the manifest's start */
	double mono0; /* the same moment by util_mono: its duration */
	double last_cat, last_progress;
	cJSON *man;
	int stop_signal; /* SIGTERM/SIGINT/SIGHUP stopped a tool of this run */
};

/* The archived WAL segment names, sorted by position then timeline. */
struct walset {
	char (*names)[WAL_NAME_LEN + 1];
	int n;
};

/* A private copy of a physical backup, started on its own socket, to compare. */
struct scratch {
	char dir[4400], sock[64];
	int port, started;
	uid_t uid;
	gid_t gid;
};

static inline void iso_time(time_t t, char *buf, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* backup_repo.c */
/* backup_sha256_file of name inside the folder dfd (AT_FDCWD: path), never through a link
 * and never a FIFO; one_link: never a file with a second name either (a hard link to
 * somebody else's file, in a folder another user writes). Returns the size, or -1 with
 * errno set (EINVAL: not such a file). */
long long backup_sha256_at(int dfd, const char *name, int one_link, char hex[65]);

/* backup_util.c */
int backup_rm_rf(const char *path);
void backup_fsync_path(const char *path);
/* Atomically (tmp + fsync + rename), mode 0600. */
int backup_write_file(const char *path, const char *text, char *err, size_t errlen);
cJSON *backup_read_json(const char *path);
const char *backup_self_exe(void);
/* lock: take the repository lock (writers); fails naming the holder's pid. */
int backup_repo_open(struct repo *r, const struct config *cfg, int lock, char *err, size_t errlen);
void backup_repo_close(struct repo *r);
/* backup_repo_open and backup_repo_scan for a command: the number of backups, or -1 when the
 * repository cannot be opened (said on ctx->out). */
int backup_repo_read(struct cmd_ctx *ctx, struct repo *rp, int lock, struct backup_info **b,
		     struct backup_skipped **sk, int *ns);
/* Each refused folder as a warning, note ("" or a parenthesis) after its name; frees sk. */
void backup_skipped_warn(struct out *o, struct backup_skipped *sk, int ns, const char *note);
int backup_disk_check(const char *dir, long long need, char *err, size_t errlen);
void backup_log_tail(const char *logfile, char *buf, size_t n);
/* backup_log_tail for a tool that failed with status st: an empty log is explained. */
void backup_tool_tail(const char *logfile, int st, char *buf, size_t n);
/* want: a manifest's tables, to compute each table with the method it names; NULL for
 * the current method (new backups). */
cJSON *backup_table_checksums(PGconn *c, const cJSON *want, char *err, size_t errlen);
int backup_compare_tables(const cJSON *want, const cJSON *got, char *detail, size_t n);
/* Resolve want to an id and read its manifest (backup_manifest_read: checked, typed; a
 * refused folder's reason in err). backup_load hands over just the checked document. */
int backup_load_manifest(struct cmd_ctx *ctx, struct repo *rp, const char *want,
			 struct backup_manifest *m, char *err, size_t errlen);
int backup_load(struct cmd_ctx *ctx, struct repo *rp, const char *want, char *id, size_t idlen,
		cJSON **man, char *err, size_t errlen);

/* backup_catalog.c */
void backup_cat_put(struct run *r, const char *status, double progress, const char *phase,
		    const char *message);
PGconn *backup_cat_connect(struct cmd_ctx *ctx);
void backup_cat_sync(PGconn *c, const char *repo, const struct backup_info *b, int n);

/* backup_run.c */
int backup_run_tool(struct run *r, char *const argv[], char **env, const char *logfile,
		    const char *label, const char *watch, long long expect, uid_t uid, gid_t gid);
int backup_list_files(struct run *r, const cJSON *known, char *err, size_t errlen);
/* Make everything under dir durable (its writeback mostly started by backup_run_tool
 * while the tool ran): syncfs, or an fsync of every file and directory without it. */
int backup_sync_tree(const char *dir, char *err, size_t errlen);

/* backup_full.c */
int backup_do_physical(struct run *r, int checksums, char *err, size_t errlen);

/* backup_wal.c */
long long backup_seg_size(const cJSON *m);
int backup_is_wal_name(const char *s);
long long backup_wal_index(const char *name, long long segsize);
void backup_wal_name(unsigned tli, unsigned long long lsn, long long segsize, char out[25]);
unsigned long long backup_parse_lsn(const char *s);
/* Segments stored as NAME or NAME.zst are listed once, by NAME. */
void backup_walset_load(const char *dir, struct walset *w);
/* stat of a segment as stored: NAME.zst (*zst = 1), else NAME. */
struct stat;
int backup_wal_stat(const char *waldir, const char *name, struct stat *st, int *zst);
long long backup_walset_contiguous(const struct walset *w, long long from, long long to,
				   long long segsize, long long *gap, char last[25]);
int backup_archive_command(const struct repo *rp, char *buf, size_t n, char *err, size_t errlen);
int backup_archive_setup(struct run *r, char *err, size_t errlen);
int backup_do_incremental(struct run *r, char *err, size_t errlen);
/* A wal-receive streams into this repository now (it holds the receiver lock). */
int backup_wal_receiving(const struct repo *rp);

/* backup_dump.c */
int backup_do_archive(struct run *r, char *err, size_t errlen);
int backup_restore_test_logical(struct cmd_ctx *ctx, const char *dir, cJSON *man, char *detail,
				size_t dn);

/* backup_restore.c */
int backup_scratch_start(struct scratch *s, const struct repo *rp, const char *basedir,
			 const char *target, char *err, size_t errlen);
void backup_scratch_stop(struct scratch *s);
int backup_wait_promoted(const char *conninfo, const char *datadir, int timeout_s, char *err,
			 size_t errlen);

/* backup_timeline.c: the archive's timelines, from its NNNNNNNN.history files (checked
 * against their .sha256 and parsed strictly; refused files land in bad) and its segments. */
#define TL_MAX_DEPTH 64
struct tl_info {
	unsigned tli, parent; /* parent 0: the first timeline, or no history file */
	unsigned long long branch_lsn;
	time_t branch_time;    /* the reason's stop time, else the history file's archive time */
	int branch_time_exact; /* 1: from the reason */
	int has_history;
	char reason[200];
	unsigned anc[TL_MAX_DEPTH]; /* ancestors oldest first, and where each was left */
	unsigned long long anc_end[TL_MAX_DEPTH];
	int nanc;
	char first_seg[25], last_seg[25];
	time_t end; /* archive time of last_seg */
};
struct tl_set {
	struct tl_info *v; /* sorted by timeline */
	int n, cap;
	struct backup_skipped *bad;
	int nbad;
	struct walset w;
};
enum { TL_CURRENT = 1, TL_LATEST, TL_NUMBER };
int backup_tl_load(const char *waldir, struct tl_set *s);
void backup_tl_free(struct tl_set *s);
const struct tl_info *backup_tl_get(const struct tl_set *s, unsigned tli);
unsigned backup_tl_of_segment(const char *name);
unsigned backup_tl_newest(const struct tl_set *s);
/* 1 when anc is tli or one of its ancestors; *leave: where tli's history leaves anc. */
int backup_tl_descends(const struct tl_set *s, unsigned tli, unsigned anc,
		       unsigned long long *leave);
time_t backup_tl_parting(const struct tl_set *s, unsigned a, unsigned b, int *exact);
time_t backup_tl_reach(const struct tl_set *s, unsigned tli, long long from, long long segsize,
		       const char *waldir, char last[25]);
/* --timeline: current (also for NULL), latest or a number; -1 when none of these. */
int backup_tl_parse_opt(const char *s, unsigned *tli);
/* The timeline a restore follows (0: the server's choice) and why; note: the other
 * timelines that hold a time target, when it lies after a branch point. */
struct tl_plan {
	unsigned tli;
	char why[256];
	char note[1536];
	double until; /* a time target's epoch, else 0 */
};
int backup_tl_of_backup(const char *repo, const char *id, unsigned *tli,
			unsigned long long *stop_lsn);
int backup_tl_reachable(const struct tl_set *s, unsigned tli, unsigned base_tli,
			unsigned long long stop_lsn);
void backup_tl_branch_text(const struct tl_info *t, char *buf, size_t n);
void backup_tl_note(const struct tl_set *s, struct tl_plan *p, unsigned base_tli,
		    unsigned long long stop_lsn, const char *until_text);
int backup_tl_report(struct out *o, const char *conninfo, const struct tl_plan *p, char *err,
		     size_t errlen);
void backup_tl_log_reason(const char *logfile, long long offset, char *buf, size_t n);

/* backup_zstd.c: zstd in the repository. "zstd:N" (1-19), "zstd" (3) or "none" (0);
 * -1 for anything else. */
int backup_compress_parse(const char *s);
/* in -> out compressed (frame checksum on); hex: SHA-256 of what was written. Returns the
 * bytes written or -1. */
long long backup_zstd_copy(int in, int out, int level, char hex[65], char *err, size_t errlen);
/* in -> out (-1: nowhere) decompressed, always reading all of in; zhex: SHA-256 of in,
 * phex (or NULL): of the output. 0, -1 (I/O) or -2 (not a whole valid zstd stream). */
int backup_unzstd_copy(int in, int out, char zhex[65], char phex[65], char *err, size_t errlen);
/* src compressed to dst (through dst.tmp, synced), then src removed. */
int backup_zstd_file(const char *src, const char *dst, int level, char *err, size_t errlen);
/* A backup's base folder holds base.tar.zst (else the plain files). */
int backup_base_compressed(const char *base);
/* A base backup's files into the new folder dst, as the server's user: a plain copy, or
 * base.tar.zst and pg_wal.tar.zst extracted (files and folders only, inside dst). */
int backup_base_lay_down(const char *base, const char *dst, const struct repo *rp, char *err,
			 size_t errlen);

/* A path as one single-quoted shell word for restore_command/archive_command, % doubled. */
int backup_archive_word(const char *s, char *out, size_t n);
/* The whole file behind fd (closed here), NUL-terminated; *got is what was read. */
char *backup_read_fd(int fd, size_t size, size_t *got);

#endif
