/* The backup command family: backups, verify, list, prune, restores, and the hidden WAL
 * archive commands the server runs. The work is in src/backup/. */
#include <stddef.h>

#include "backup.h"
#include "cmd.h"

static int full_exec(struct cmd_ctx *ctx)
{
	return backup_run(ctx, BT_FULL, NULL, 0);
}

static int incr_exec(struct cmd_ctx *ctx)
{
	return backup_run(ctx, BT_INCREMENTAL, NULL, 0);
}

static int archive_exec(struct cmd_ctx *ctx)
{
	return backup_run(ctx, BT_ARCHIVE, NULL, 0);
}

static int emergency_exec(struct cmd_ctx *ctx)
{
	return backup_run(ctx, BT_EMERGENCY, NULL, 0);
}

static int list_exec(struct cmd_ctx *ctx)
{
	return backup_list(ctx);
}

static int verify_exec(struct cmd_ctx *ctx)
{
	return backup_verify(ctx, ctx->args->argv[0], args_has(ctx->args, "restore-test"));
}

static int prune_exec(struct cmd_ctx *ctx)
{
	return backup_prune(ctx, args_has(ctx->args, "dry-run"));
}

static int restore_exec(struct cmd_ctx *ctx)
{
	return backup_restore_logical(ctx, ctx->args->argv[0], args_get(ctx->args, "into"),
				      args_has(ctx->args, "no-safety"));
}

static int restore_flags(struct cmd_ctx *ctx)
{
	return args_has(ctx->args, "keep-archiving") ? BACKUP_RESTORE_KEEP_ARCHIVING : 0;
}

static int restore_full_exec(struct cmd_ctx *ctx)
{
	return backup_restore_full_opts(ctx, ctx->args->argv[0], args_get(ctx->args, "target-dir"),
					restore_flags(ctx));
}

static int restore_incr_exec(struct cmd_ctx *ctx)
{
	return backup_restore_pitr_tl(
	    ctx, ctx->args->argc ? ctx->args->argv[0] : NULL, args_get(ctx->args, "until"),
	    args_get(ctx->args, "target-dir"), restore_flags(ctx), args_get(ctx->args, "timeline"));
}

static int emergency_restore_exec(struct cmd_ctx *ctx)
{
	return backup_emergency_restore(ctx);
}

static int wal_push_exec(struct cmd_ctx *ctx)
{
	return backup_wal_push(ctx, ctx->args->argv[0], ctx->args->argv[1],
			       args_get(ctx->args, "archive"));
}

static int wal_fetch_exec(struct cmd_ctx *ctx)
{
	return backup_wal_fetch(ctx, ctx->args->argv[0], ctx->args->argv[1],
				args_get(ctx->args, "archive"));
}

static int wal_receive_exec(struct cmd_ctx *ctx)
{
	const char *slot = args_get(ctx->args, "slot");
	return backup_wal_receive(ctx, slot ? slot : "midsops");
}

const struct cmd_entry cmd_backup_table[] = {
    {
	.name = "db-backup-full",
	.summary = "Weekly full backup: physical base backup (pg_basebackup) with its WAL, "
		   "checksums and per-table row counts",
	.usage = "db-backup-full",
	.flags = CMD_LONG,
	.exec = full_exec,
    },
    {
	.name = "db-backup-incremental",
	.summary = "Daily incremental: switch WAL and seal the segments archived since the "
		   "previous backup (point-in-time restore)",
	.usage = "db-backup-incremental",
	.flags = CMD_LONG,
	.exec = incr_exec,
    },
    {
	.name = "db-backup-archive",
	.summary = "Monthly archive: portable logical dump (pg_dump, custom format, compressed)",
	.usage = "db-backup-archive",
	.flags = CMD_LONG,
	.exec = archive_exec,
    },
    {
	.name = "emergency-backup",
	.summary = "The fastest consistent backup now (physical, without table checksums)",
	.usage = "emergency-backup",
	.flags = CMD_LONG,
	.exec = emergency_exec,
    },
    {
	.name = "db-backup-list",
	.summary = "Backups in the repository: id, type, timeline, time, size, verified, "
		   "point-in-time window; the WAL archive's timelines, their branch points and "
		   "each backup's window per timeline",
	.usage = "db-backup-list [--json]",
	.flags = CMD_NODB,
	.exec = list_exec,
    },
    {
	.name = "db-backup-verify",
	.options = "restore-test",
	.min_args = 1,
	.max_args = 1,
	.summary = "Re-hash every file, pg_verifybackup, WAL continuity, pg_restore --list; "
		   "--restore-test restores a scratch copy and compares checksums",
	.usage = "db-backup-verify ID [--restore-test]",
	.flags = CMD_CHECK | CMD_NODB | CMD_LONG,
	.complete = COMPLETE_BACKUP,
	.exec = verify_exec,
    },
    {
	.name = "backup-prune",
	.options = "dry-run",
	.summary = "Apply retention (7 daily, 4 weekly, 12 monthly by default, [backup] in "
		   "the config); keeps the last verified full backup and the WAL kept "
		   "backups need",
	.usage = "backup-prune [--dry-run]",
	.flags = CMD_DESTRUCTIVE | CMD_NODB,
	.exec = prune_exec,
    },
    {
	.name = "db-restore",
	.options = "into= no-safety",
	.min_args = 1,
	.max_args = 1,
	.summary = "Restore a logical backup in place (one transaction, after a safety "
		   "backup) or --into a new database",
	.usage = "db-restore ID [--into NAME] [--no-safety]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.complete = COMPLETE_BACKUP,
	.exec = restore_exec,
    },
    {
	.name = "db-restore-full",
	.options = "target-dir= keep-archiving",
	.min_args = 1,
	.max_args = 1,
	.summary = "Physical restore of a full backup into the embedded cluster (the old "
		   "data directory is kept aside) or --target-dir (archiving off, its own "
		   "socket directory, unless --keep-archiving)",
	.usage = "db-restore-full ID [--target-dir DIR [--keep-archiving]]",
	.flags = CMD_DESTRUCTIVE | CMD_NODB | CMD_LONG,
	.complete = COMPLETE_BACKUP,
	.exec = restore_full_exec,
    },
    {
	.name = "db-restore-incremental",
	.options = "until= timeline= target-dir= keep-archiving",
	.max_args = 1,
	.summary = "Point-in-time restore: base backup plus WAL replay to --until TIME on the "
		   "base backup's timeline (default: the latest WAL on the newest timeline; "
		   "--timeline N|latest|current chooses); prints the timeline followed and the "
		   "last commit replayed; --target-dir as db-restore-full",
	.usage = "db-restore-incremental [ID] [--until TIME] [--timeline N|latest|current] "
		 "[--target-dir DIR [--keep-archiving]]",
	.flags = CMD_DESTRUCTIVE | CMD_NODB | CMD_LONG,
	.complete = COMPLETE_BACKUP,
	.exec = restore_incr_exec,
    },
    {
	.name = "emergency-restore",
	.summary = "Restore the latest verified backup (physical with all WAL on the "
		   "embedded cluster, else the latest archive in place)",
	.usage = "emergency-restore",
	.flags = CMD_DESTRUCTIVE | CMD_NODB | CMD_LONG,
	.exec = emergency_restore_exec,
    },
    {
	.name = "wal-receive",
	.options = "slot=",
	.summary = "Stream WAL of a remote server into the repository (pg_receivewal with a "
		   "replication slot) until stopped",
	.usage = "wal-receive [--slot NAME]",
	.flags = CMD_LONG,
	.exec = wal_receive_exec,
    },
    {
	.name = "wal-push",
	.options = "archive= compress=",
	.min_args = 2,
	.max_args = 2,
	.summary = "archive_command: copy a WAL segment into the repository (fsync, checksum, "
		   "never overwrite different content)",
	.usage = "wal-push PATH NAME [--archive DIR] [--compress zstd:N|none]",
	.flags = CMD_HIDDEN | CMD_NODB | CMD_SERVER,
	.exec = wal_push_exec,
    },
    {
	.name = "wal-fetch",
	.options = "archive=",
	.min_args = 2,
	.max_args = 2,
	.summary = "restore_command: copy a WAL segment from the repository, checked against "
		   "the NAME.sha256 wal-push wrote",
	.usage = "wal-fetch NAME PATH [--archive DIR]",
	.flags = CMD_HIDDEN | CMD_NODB | CMD_SERVER,
	.exec = wal_fetch_exec,
    },
    {0},
};
