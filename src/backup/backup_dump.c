/* Logical backups: the monthly archive and safety dumps (pg_dump), their restore test in a
 * scratch database, and db-restore (in place in one transaction, or into a new database). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup_int.h"
#include "util.h"
#include "db.h"
#include "paths.h"
#include "proc.h"
#include "target.h"

int backup_do_archive(struct run *r, char *err, size_t errlen)
{
	char dump[1024], file[4400], logf[4400];
	if (!proc_pg_bin("pg_dump", dump, sizeof dump)) {
		snprintf(err, errlen,
			 "pg_dump not found; install postgresql-client-15 (make deps)");
		return -1;
	}
	long long need =
	    (long long)(util_json_num(r->man, "database_bytes", 0) * 0.6) + (16LL << 20);
	if (backup_disk_check(r->repo.dir, need, err, errlen) < 0)
		return -1;
	/* Checksums first, in their own snapshot; pg_dump takes its own. */
	cJSON *t = backup_table_checksums(r->conn, NULL, err, errlen);
	if (!t)
		return -1;
	cJSON_AddItemToObject(r->man, "tables", t);
	snprintf(file, sizeof file, "%s/dump.pgdump", r->partial);
	snprintf(logf, sizeof logf, "%s/pg_dump.log", r->partial);
	/* pg_dump's statements are midsops's own work too: run them as its role (db.c), or a
	 * dump's long COPYs would be judged with the web workload's queries. */
	char *role = db_own_role_active() ? "--role=" DB_OWN_ROLE : NULL;
	char *argv[] = {dump, "-Fc", "-Z", "5", "-f", file, role, NULL};
	/* Without the target's options pg_dump would connect with libpq's defaults: refuse. */
	char **env = db_child_env(r->ctx->target->conninfo, NULL, err, errlen);
	if (!env)
		return -1;
	int st = backup_run_tool(r, argv, env, logf, "logical dump", r->partial,
				 (long long)(util_json_num(r->man, "database_bytes", 0) / 4), 0, 0);
	db_env_free(env);
	if (st != 0) {
		char tail[512];
		backup_tool_tail(logf, st, tail, sizeof tail);
		snprintf(err, errlen, "pg_dump failed (exit %d): %s", st, tail);
		return -1;
	}
	backup_fsync_path(file);
	cJSON_AddStringToObject(r->man, "format", "custom");
	if (backup_list_files(r, NULL, err, errlen) < 0)
		return -1;
	cJSON_AddNumberToObject(r->man, "window_start", r->t0);
	cJSON_AddNumberToObject(r->man, "window_end", r->t0);
	return 0;
}

int backup_restore_test_logical(struct cmd_ctx *ctx, const char *dir, cJSON *man, char *detail,
				size_t dn)
{
	char err[1024] = "";
	PGconn *c = db_connect(ctx->target, "backup-verify", err, sizeof err);
	if (!c) {
		snprintf(detail, dn, "%s", err);
		return -1;
	}
	char name[64];
	snprintf(name, sizeof name, "midsops_verify_%ld", (long)getpid());
	char *id = db_ident(c, name);
	struct strbuf sql = {0};
	strbuf_addf(&sql, "create database %s", id);
	int rc = -1;
	if (db_exec(c, err, sizeof err, sql.s, 0, NULL) < 0) {
		snprintf(detail, dn, "cannot create a scratch database: %s", err);
		goto out;
	}
	char file[4500], restore[1024];
	snprintf(file, sizeof file, "%s/dump.pgdump", dir);
	proc_pg_bin("pg_restore", restore, sizeof restore);
	char *argv[] = {restore, "--no-owner", "-d", name, "--exit-on-error", file, NULL};
	char **env = db_child_env(ctx->target->conninfo, name, err, sizeof err);
	char *output = NULL;
	struct proc_opts o = {.envp_add = env, .capture = 1};
	int st = env ? proc_run(argv, &o, &output) : -1;
	db_env_free(env);
	if (!env)
		snprintf(detail, dn, "pg_restore cannot run: %s", err);
	else if (st != 0) {
		snprintf(detail, dn, "pg_restore into a scratch database failed: %s",
			 output ? output : "");
	} else {
		const char *keys[] = {"dbname", "dbname", NULL};
		const char *vals[] = {ctx->target->conninfo, name, NULL};
		PGconn *s = PQconnectdbParams(keys, vals, 1);
		cJSON *got =
		    PQstatus(s) == CONNECTION_OK
			? backup_table_checksums(s, cJSON_GetObjectItemCaseSensitive(man, "tables"),
						 err, sizeof err)
			: NULL;
		PQfinish(s);
		char diff[1024];
		int bad =
		    got ? backup_compare_tables(cJSON_GetObjectItemCaseSensitive(man, "tables"),
						got, diff, sizeof diff)
			: -1;
		if (bad < 0)
			snprintf(detail, dn, "cannot read the scratch database: %s", err);
		else if (bad)
			snprintf(detail, dn, "restored copy differs in %d table(s): %s", bad, diff);
		else {
			snprintf(
			    detail, dn, "restored into a scratch database; %d table(s) match",
			    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(man, "tables")));
			rc = 0;
		}
		cJSON_Delete(got);
	}
	free(output);
	strbuf_reset(&sql);
	strbuf_addf(&sql, "drop database if exists %s with (force)", id);
	if (db_exec(c, err, sizeof err, sql.s, 0, NULL) < 0)
		out_warn(ctx->out, "the scratch database %s is left behind: %s", name, err);
out:
	strbuf_free(&sql);
	PQfreemem(id);
	PQfinish(c);
	return rc;
}

/* ---------- restores ---------- */

/* What the steps of one logical restore share. */
struct lrest {
	struct cmd_ctx *ctx;
	struct repo rp;
	cJSON *man;
	const char *into;
	int type;
	char id[64], safety[64], dbname[256];
	char err[2048];
	PGconn *c;
};

/* --into: a new database, owned by the login, as before midsops did its work as its own role
 * (db.c). */
static int lrest_create_into(struct lrest *l)
{
	PGconn *c = l->c;
	char *qid = db_ident(c, l->into);
	char *login = db_own_role_active() == 1
			  ? db_scalar(c, l->err, sizeof l->err, "select session_user", 0, NULL)
			  : NULL;
	char *qowner = login ? db_ident(c, login) : NULL;
	struct strbuf sql = {0};
	strbuf_addf(&sql, "create database %s%s%s", qid, qowner ? " owner " : "",
		    qowner ? qowner : "");
	PQfreemem(qid);
	PQfreemem(qowner);
	free(login);
	int rc = db_exec(c, l->err, sizeof l->err, sql.s, 0, NULL);
	strbuf_free(&sql);
	if (rc < 0) {
		out_err(l->ctx->out, "cannot create database %s: %s", l->into, l->err);
		return -1;
	}
	return 0;
}

/* pg_restore itself; its exit status, 0 when it restored. */
static int lrest_run_tool(struct lrest *l)
{
	struct cmd_ctx *ctx = l->ctx;
	char bin[1024], file[4500], logf[4500];
	proc_pg_bin("pg_restore", bin, sizeof bin);
	snprintf(file, sizeof file, "%s/%s/dump.pgdump", l->rp.dir, l->id);
	snprintf(logf, sizeof logf, "%s/restore.log", paths_state_dir());
	paths_mkdir_p(paths_state_dir(), 0700);
	unlink(logf);
	/* As midsops's own role (db.c) when that is a superuser role, which may do all the
	 * login may (restoring owners included); a role granted to another login might not. */
	char *role = db_own_role_active() == 1 ? "--role=" DB_OWN_ROLE : NULL;
	char *argv_into[] = {bin, "--exit-on-error", "-d", l->dbname, file, role, NULL};
	/* In place: one transaction, so a failure half-way leaves the database as it was. */
	char *argv_place[] = {bin,
			      "--clean",
			      "--if-exists",
			      "--single-transaction",
			      "--exit-on-error",
			      "-d",
			      l->dbname,
			      file,
			      role,
			      NULL};
	char **env = db_child_env(ctx->target->conninfo, l->dbname, l->err, sizeof l->err);
	if (!env) {
		out_err(ctx->out, "pg_restore cannot run: %s", l->err);
		return -1;
	}
	struct run r = {.ctx = ctx, .type = (enum backup_type)l->type};
	snprintf(r.id, sizeof r.id, "%s", l->id);
	int st = backup_run_tool(&r, l->into ? argv_into : argv_place, env, logf, "restore", NULL,
				 0, 0, 0);
	db_env_free(env);
	if (st != 0) {
		char tail[512];
		backup_tool_tail(logf, st, tail, sizeof tail);
		out_err(ctx->out, "pg_restore failed (exit %d): %s%s", st, tail,
			l->into ? "" : "; the database was left as it was (single transaction)");
		if (l->into) {
			out_err(ctx->out,
				"the new database %s is incomplete; drop it before retrying",
				l->into);
		}
		db_event(l->c, "error", "restore", "restore of %s into %s failed", l->id,
			 l->dbname);
	}
	return st;
}

/* The restored tables against the manifest's row counts and checksums. */
static int lrest_compare(struct lrest *l, double t0)
{
	struct cmd_ctx *ctx = l->ctx;
	const cJSON *tables = cJSON_GetObjectItemCaseSensitive(l->man, "tables");
	const char *keys[] = {"dbname", "dbname", NULL};
	const char *vals[] = {ctx->target->conninfo, l->dbname, NULL};
	PGconn *d = ctx->target->conninfo[0] ? PQconnectdbParams(keys, vals, 1) : NULL;
	/* the checksums read every table: midsops's own work, not the web's */
	if (d && PQstatus(d) == CONNECTION_OK)
		db_own_role_enter(d);
	cJSON *got = d && PQstatus(d) == CONNECTION_OK
			 ? backup_table_checksums(d, tables, l->err, sizeof l->err)
			 : NULL;
	PQfinish(d);
	char diff[1024] = "";
	int bad = got ? backup_compare_tables(tables, got, diff, sizeof diff) : 0;
	out_kv(ctx->out, "restored", "%s", l->id);
	out_kv(ctx->out, "database", "%s", l->dbname);
	if (l->safety[0])
		out_kv(ctx->out, "safety_backup", "%s", l->safety);
	out_kv_num(ctx->out, "duration", util_mono() - t0, "s");
	int compared = got || cJSON_GetArraySize(tables) == 0;
	cJSON_Delete(got);
	if (bad) {
		out_err(ctx->out, "restored data differs from the manifest in %d table(s): %s", bad,
			diff);
		return -1;
	}
	if (compared) {
		out_line(ctx->out,
			 "restored %s into %s; row counts and checksums match the manifest", l->id,
			 l->dbname);
		db_event(l->c, "info", "restore", "restored %s into %s", l->id, l->dbname);
	} else {
		/* Restored, but never claim a match that was not computed. */
		out_warn(ctx->out,
			 "restored %s into %s, but its row counts and checksums could not be "
			 "compared with the manifest: %s",
			 l->id, l->dbname,
			 l->err[0] ? l->err : "cannot connect to the restored database");
		db_event(l->c, "warning", "restore", "restored %s into %s, not compared", l->id,
			 l->dbname);
	}
	return 0;
}

/* The dump named must be logical; in place, a safety backup first unless refused. */
static int lrest_prepare(struct lrest *l, const char *want, int no_safety)
{
	struct cmd_ctx *ctx = l->ctx;
	if (backup_repo_open(&l->rp, ctx->cfg, 0, l->err, sizeof l->err) < 0 ||
	    backup_load(ctx, &l->rp, want, l->id, sizeof l->id, &l->man, l->err, sizeof l->err) <
		0) {
		out_err(ctx->out, "%s", l->err);
		return -1;
	}
	l->type = backup_type_parse(util_json_text(l->man, "type"));
	if (l->type != BT_ARCHIVE && l->type != BT_SAFETY) {
		out_err(
		    ctx->out,
		    "%s is a %s (physical) backup; db-restore takes a logical dump (archive). Use "
		    "db-restore-full %s, or db-restore-incremental for a point in time",
		    l->id, util_json_text(l->man, "type"), l->id);
		return -1;
	}
	if (!l->into && !no_safety) {
		out_line(ctx->out, "taking a safety backup before restoring in place");
		if (backup_run(ctx, BT_SAFETY, l->safety, sizeof l->safety) != 0) {
			out_err(ctx->out,
				"the safety backup failed; nothing was restored (--no-safety "
				"skips it)");
			return -1;
		}
	}
	if (backup_repo_open(&l->rp, ctx->cfg, 1, l->err, sizeof l->err) < 0) {
		out_err(ctx->out, "%s", l->err);
		return -1;
	}
	l->c = db_connect(ctx->target, "db-restore", l->err, sizeof l->err);
	if (!l->c) {
		out_err(ctx->out, "%s", l->err);
		backup_repo_close(&l->rp);
		return -1;
	}
	return 0;
}

/* Logical restore of an archive (or safety) dump: in place in one transaction, or into a
 * new database. */
int backup_restore_logical(struct cmd_ctx *ctx, const char *want, const char *into, int no_safety)
{
	struct lrest *l = xcalloc(1, sizeof *l);
	l->ctx = ctx;
	l->into = into;
	if (lrest_prepare(l, want, no_safety) < 0) {
		cJSON_Delete(l->man);
		free(l);
		return EXIT_FAIL;
	}
	char *cur = db_scalar(l->c, l->err, sizeof l->err, "select current_database()", 0, NULL);
	snprintf(l->dbname, sizeof l->dbname, "%s", into ? into : cur ? cur : "");
	free(cur);
	int rc = EXIT_FAIL;
	if (into && lrest_create_into(l) < 0)
		goto out;
	double t0 = util_mono();
	if (lrest_run_tool(l) != 0 || lrest_compare(l, t0) < 0)
		goto out;
	rc = 0;
	if (!into) {
		struct backup_info *b;
		int n = backup_repo_load(l->rp.dir, &b);
		PGconn *cc = backup_cat_connect(ctx);
		backup_cat_sync(cc, l->rp.dir, b, n);
		PQfinish(cc);
		free(b);
	}
out:
	PQfinish(l->c);
	cJSON_Delete(l->man);
	backup_repo_close(&l->rp);
	free(l);
	return rc;
}
