/* DR state files, environments, figures and child commands. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "paths.h"
#include "proc.h"
#include "target.h"
#include "util.h"

const char *dr_state_dir(void)
{
	static char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s/dr", paths_state_dir());
	return buf;
}

void dr_now(char *buf, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

cJSON *dr_load(const char *name)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dr_state_dir(), name);
	FILE *f = fopen(path, "r");
	cJSON *o = NULL;
	if (f) {
		char *buf = xmalloc(8 << 20);
		size_t n = fread(buf, 1, (8 << 20) - 1, f);
		buf[n] = 0;
		o = cJSON_Parse(buf);
		free(buf);
		fclose(f);
	}
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = cJSON_CreateObject();
	}
	return o;
}

/* Written beside and renamed over, so a crash keeps one whole version. */
int dr_save(const char *name, const cJSON *obj, char *err, size_t errlen)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	if (paths_mkdir_p(dr_state_dir(), 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dr_state_dir(), strerror(errno));
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s", dr_state_dir(), name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	char *text = cJSON_Print(obj);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!text || fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		free(text);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t len = strlen(text);
	int bad = write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd);
	close(fd);
	free(text);
	if (bad || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

const char *dr_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

double dr_num(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

void dr_phase(const char *phase, enum status st, const char *fmt, ...)
{
	char msg[1024], at[64], err[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dr_now(at, sizeof at);
	cJSON *s = dr_load("state.json");
	cJSON *log = cJSON_GetObjectItemCaseSensitive(s, "phases");
	if (!cJSON_IsArray(log)) {
		cJSON_DeleteItemFromObjectCaseSensitive(s, "phases");
		log = cJSON_AddArrayToObject(s, "phases");
	}
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "phase", phase);
	cJSON_AddStringToObject(e, "at", at);
	cJSON_AddStringToObject(e, "status", status_name(st));
	cJSON_AddStringToObject(e, "summary", msg);
	cJSON_AddItemToArray(log, e);
	if (dr_save("state.json", s, err, sizeof err) < 0)
		fprintf(stderr, "midsops: %s\n", err);
	cJSON_Delete(s);
}

const char *dr_site_dsn(const struct config *cfg)
{
	const struct config_env *e = config_env(cfg, DR_ENV);
	return e ? e->dsn : NULL;
}

const char *dr_primary_dsn(const struct target *t)
{
	return t->conninfo;
}

int dr_config_set_env(struct config *cfg, const char *name, const char *dsn, char *err,
		      size_t errlen)
{
	char section[128];
	snprintf(section, sizeof section, "env %s", name);
	if (config_save_key(cfg, section, "dsn", dsn, err, errlen) < 0)
		return -1;
	struct config_env *e = (struct config_env *)config_env(cfg, name);
	if (!e && cfg->nenvs < CONFIG_MAX_ENVS) {
		e = &cfg->envs[cfg->nenvs++];
		snprintf(e->name, sizeof e->name, "%s", name);
	}
	if (e)
		snprintf(e->dsn, sizeof e->dsn, "%s", dsn);
	cfg->loaded = 1;
	return 0;
}

/* Order-independent: the sum of a 60-bit prefix of each row's md5, so the figure is the
 * same on a physical copy whatever order the rows come back in. */
cJSON *dr_figures(PGconn *c, char *err, size_t errlen)
{
	PGresult *r =
	    db_query(c, err, errlen,
		     "select c.oid::regclass::text, pg_current_wal_lsn()::text, now()::text\n"
		     "from pg_class c join pg_namespace n on n.oid = c.relnamespace\n"
		     "where n.nspname in ('game', 'builds') and c.relkind in ('r', 'p')\n"
		     "  and c.relpersistence = 'p' order by 1",
		     0, NULL);
	if (!r) {
		/* A standby has no current WAL position; take the replayed one. */
		r = db_query(c, err, errlen,
			     "select c.oid::regclass::text, pg_last_wal_replay_lsn()::text, "
			     "now()::text\n"
			     "from pg_class c join pg_namespace n on n.oid = c.relnamespace\n"
			     "where n.nspname in ('game', 'builds') and c.relkind in ('r', 'p')\n"
			     "  and c.relpersistence = 'p' order by 1",
			     0, NULL);
		if (!r)
			return NULL;
	}
	cJSON *fig = cJSON_CreateObject();
	char at[64];
	dr_now(at, sizeof at);
	cJSON_AddStringToObject(fig, "at", at);
	cJSON_AddStringToObject(fig, "lsn", PQntuples(r) ? PQgetvalue(r, 0, 1) : "");
	cJSON *tabs = cJSON_AddObjectToObject(fig, "tables");
	for (int i = 0; i < PQntuples(r); i++) {
		const char *name = PQgetvalue(r, i, 0);
		struct strbuf sql = {0};
		strbuf_addf(&sql,
			    "select count(*), coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)"
			    "::bigint::numeric), 0)::text from %s t",
			    name);
		PGresult *q = db_query(c, err, errlen, sql.s, 0, NULL);
		strbuf_free(&sql);
		if (!q) {
			PQclear(r);
			cJSON_Delete(fig);
			return NULL;
		}
		cJSON *t = cJSON_AddObjectToObject(tabs, name);
		cJSON_AddNumberToObject(t, "rows", strtod(PQgetvalue(q, 0, 0), NULL));
		cJSON_AddStringToObject(t, "checksum", PQgetvalue(q, 0, 1));
		PQclear(q);
	}
	PQclear(r);
	return fig;
}

const char *dr_self_exe(void)
{
	static char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return "midsops";
	buf[n] = 0;
	return buf;
}

int dr_have_command(const char *name)
{
	char err[256];
	const struct cmd_entry *ce = cmd_find(name, err, sizeof err);
	return ce && strcmp(ce->name, name) == 0;
}

int dr_run_child(const struct config *cfg, const char *dsn, int json, const char *const *cmd,
		 char **output)
{
	const char *argv[40];
	int n = 0;
	argv[n++] = dr_self_exe();
	if (cfg->loaded || access(cfg->path, R_OK) == 0) {
		argv[n++] = "--config";
		argv[n++] = cfg->path;
	}
	if (json)
		argv[n++] = "--json";
	for (int i = 0; cmd[i] && n < 39; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	char envbuf[2200];
	char *envs[3] = {NULL, "NO_COLOR=1", NULL};
	if (dsn) {
		snprintf(envbuf, sizeof envbuf, "MIDSOPS_DSN=%s", dsn);
		envs[0] = envbuf;
	} else
		envs[0] = "NO_COLOR=1";
	struct proc_opts o = {.envp_add = envs, .capture = 1};
	fflush(NULL);
	return proc_run((char *const *)argv, &o, output);
}
