/* Backups: the repository (cfg->backup_dir, source of truth, works with the database
 * down), the catalogue mirror ops.backups, the backup types, verify, retention and the
 * restores. One folder per backup, YYYYMMDDTHHMMSSZ-TYPE, with manifest.json. */
#ifndef MIDSOPS_BACKUP_H
#define MIDSOPS_BACKUP_H

#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

#include "out.h"

struct config;
struct target;

/* Types; the folder suffix is the name. */
enum backup_type {
	BT_FULL,	/* weekly physical base backup + its WAL */
	BT_INCREMENTAL, /* daily: seals the WAL archived since the previous backup */
	BT_ARCHIVE,	/* monthly logical dump */
	BT_EMERGENCY,	/* fastest consistent backup now (physical) */
	BT_SAFETY,	/* logical dump taken before a restore in place */
	BT_NTYPES
};

const char *backup_type_name(enum backup_type t);
int backup_type_parse(const char *s); /* -1 if unknown */
int backup_type_physical(enum backup_type t);

/* What retention and listing need of one backup. */
struct backup_info {
	char id[64];
	enum backup_type type;
	time_t start, stop;
	long long size;
	int verified;  /* 1 verified ok, 0 never, -1 verify failed */
	char base[64]; /* incremental: the full backup it extends */
	char wal_first[32], wal_last[32];
	/* point-in-time window this backup allows (physical chains) */
	time_t window_start, window_end;
};

/* Retention (pure). keep[i] is set to 1 for backups to keep. Policy: the newest
 * keep_daily incrementals, keep_weekly full (and emergency) backups, keep_monthly
 * archives (and safety dumps count as archives' companions: newest keep_daily), plus
 * the newest verified full backup and the full backups that kept incrementals extend.
 * Returns the number kept. */
int backup_retention(const struct backup_info *b, int n, int keep_daily, int keep_weekly,
		     int keep_monthly, int *keep);

/* Backup id resolution: exact, unique prefix, or a runbook-style near name
 * (backup_20250119_full.sql). Returns the index or -1 with a message listing near
 * matches in err. */
int backup_resolve_id(const struct backup_info *b, int n, const char *want, char *err,
		      size_t errlen);

/* SHA-256 of a file as 64 hex chars. Returns size or -1. */
long long backup_sha256_file(const char *path, char hex[65]);
void backup_sha256_hex(const void *data, size_t len, char hex[65]);

/* Load every backup of the repository (sorted by id, oldest first). *out malloc'ed.
 * Folders whose manifest is refused are left out; backup_repo_scan names them. */
int backup_repo_load(const char *repo, struct backup_info **out);

/* A backup's manifest.json is untrusted input (anyone who can write the repository writes
 * it): backup_manifest_read is the one reader, used by list, status, verify, prune and the
 * restores. It refuses a manifest over BACKUP_MANIFEST_MAX bytes or nested deeper than
 * BACKUP_MANIFEST_DEPTH, and every field midsops uses must match its grammar: LSNs
 * X/X (1-8 upper-case hex digits each), WAL segment names, ids (the folder's own name;
 * base a full backup's), bounded integers, epochs that agree with the id and are not in
 * the future, and paths that are plain names inside the backup's folder. err names the
 * backup and the field ("manifest.json of backup ID: stop_lsn '...' is not an LSN"). */
#define BACKUP_MANIFEST_MAX   (16 << 20)
#define BACKUP_MANIFEST_DEPTH 16
struct cJSON;
struct backup_manifest {
	char id[64]; /* the folder's name */
	enum backup_type type;
	char base[64];			  /* incremental: its full backup's id */
	char start_lsn[20], stop_lsn[20]; /* "" when not recorded */
	char wal_first[25], wal_last[25]; /* segment names or "" */
	unsigned timeline;		  /* 0: not recorded */
	long long wal_segment_size;	  /* 16 MiB when not recorded */
	double start_epoch, stop_epoch;
	time_t start, stop, window_start, window_end;
	long long size;
	char database[64], superuser[64]; /* printable, at most 63 bytes; quote them */
	struct cJSON *json;		  /* the document; files, wal and tables checked too */
};
int backup_manifest_read(const char *repo, const char *folder, struct backup_manifest *m, char *err,
			 size_t errlen);
/* The checks alone, on text of len bytes as read from folder/manifest.json at time now. */
int backup_manifest_parse(const char *folder, const char *text, size_t len, time_t now,
			  struct backup_manifest *m, char *err, size_t errlen);
void backup_manifest_free(struct backup_manifest *m);
/* YYYYMMDDTHHMMSSZ-TYPE, a real UTC time: its type and time. */
int backup_id_parse(const char *id, enum backup_type *type, time_t *when);
int backup_lsn_valid(const char *s);
int backup_is_wal_segment(const char *s);

/* A folder of the repository that looks like a backup but whose manifest was refused. */
struct backup_skipped {
	char name[320]; /* escaped for display */
	char why[1024];
};
/* backup_repo_load that also returns the skipped folders (*skipped malloc'ed). */
int backup_repo_scan(const char *repo, struct backup_info **out, struct backup_skipped **skipped,
		     int *nskipped);

/* Commands (src/backup/, one file per concern: see src/backup/backup_int.h). Each writes
 * through ctx->out and returns an exit status. */
struct cmd_ctx;
int backup_run(struct cmd_ctx *ctx, enum backup_type type, char *id_out, size_t idlen);
int backup_list(struct cmd_ctx *ctx);
int backup_verify(struct cmd_ctx *ctx, const char *id, int restore_test);
int backup_prune(struct cmd_ctx *ctx, int dry_run);
int backup_restore_logical(struct cmd_ctx *ctx, const char *id, const char *into, int no_safety);
int backup_restore_full(struct cmd_ctx *ctx, const char *id, const char *target_dir);
int backup_restore_pitr(struct cmd_ctx *ctx, const char *id, const char *until,
			const char *target_dir);
int backup_emergency_restore(struct cmd_ctx *ctx);
/* A restore into target_dir starts with archiving off and a socket directory of its own
 * (TARGET.sock), unless flags has BACKUP_RESTORE_KEEP_ARCHIVING. */
#define BACKUP_RESTORE_KEEP_ARCHIVING 0x1
/* The caller starts the restored copy itself (dr-restore): no "start it with pg_ctl". */
#define BACKUP_RESTORE_CALLER_STARTS 0x2
int backup_restore_full_opts(struct cmd_ctx *ctx, const char *id, const char *target_dir,
			     int flags);
int backup_restore_pitr_opts(struct cmd_ctx *ctx, const char *id, const char *until,
			     const char *target_dir, int flags);
/* timeline: NULL (the base backup's for a point in time or an incremental's end, the newest
 * to the end of the archive), "current", "latest" or a number. */
int backup_restore_pitr_tl(struct cmd_ctx *ctx, const char *id, const char *until,
			   const char *target_dir, int flags, const char *timeline);
/* After a restored server has left recovery: print the timeline it followed, its new one
 * and the last commit it replayed. */
int backup_restore_report(struct cmd_ctx *ctx, const char *conninfo);
int backup_wal_push(struct cmd_ctx *ctx, const char *path, const char *name, const char *dir);
int backup_wal_fetch(struct cmd_ctx *ctx, const char *name, const char *path, const char *dir);
int backup_wal_receive(struct cmd_ctx *ctx, const char *slot);

/* The `backups` section of status. */
enum status backup_status_section(struct out *o, const struct config *cfg, PGconn *conn);

#endif
