/* The INI config file. Unknown keys are errors, so a typo never silently means a default. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "out.h"
#include "paths.h"
#include "util.h"

#define CONFIG_MAX_SIZE (1 << 20)
#define CONFIG_MAX_LINE 4096

static void th(struct threshold *t, double w, double c, int higher_is_worse)
{
	t->warning = w;
	t->critical = c;
	t->higher_is_worse = higher_is_worse;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->refresh = 2.0;
	snprintf(cfg->theme, sizeof cfg->theme, "default");
	snprintf(cfg->backup_dir, sizeof cfg->backup_dir, "%s/backups", paths_data_dir());
	snprintf(cfg->log_dir, sizeof cfg->log_dir, "%s/log", paths_state_dir());
	snprintf(cfg->reports_dir, sizeof cfg->reports_dir, "%s/reports", paths_state_dir());
	snprintf(cfg->incidents_dir, sizeof cfg->incidents_dir, "%s/incidents", paths_state_dir());
	snprintf(cfg->maintenance_window, sizeof cfg->maintenance_window, "Sun 02:00-04:00");
	th(&cfg->import_speed, 1000, 500, 0);
	th(&cfg->query_time, 50, 100, 1);
	th(&cfg->cache_hit_rate, 95, 90, 0);
	th(&cfg->memory, 2, 4, 1);
	th(&cfg->connections, 80, 95, 1);
	th(&cfg->buffer_hit_ratio, 95, 90, 0);
	th(&cfg->dead_tuples, 10, 20, 1);
	th(&cfg->long_txn, 300, 3600, 1);
	th(&cfg->waiting_locks, 1, 5, 1);
	th(&cfg->disk_free, 15, 5, 0);
	th(&cfg->backup_age, 26, 192, 1);
	th(&cfg->slot_retained_wal, 1, 4, 1);
	th(&cfg->sync_wait, 1, 10, 1);
	cfg->dr_sync_fallback_after = 30;
	/* The runbook's contact list (appendix A): on-call at once, the DBA team after 15
	 * minutes, the development lead after 30, management after an hour. */
	config_parse_escalate(cfg, "on-call:0m, dba:15m, dev-lead:30m, management:1h", NULL, 0);
	cfg->events_days = 90;
	cfg->keep_generations = 12;
	cfg->import_runs_days = 90;
	cfg->import_errors_days = 90;
	cfg->keep_daily = 7;
	cfg->keep_weekly = 4;
	cfg->keep_monthly = 12;
	cfg->backup_compress = 3;
	cfg->cache_max_entries = 100000;
	cfg->cache_max_bytes = 256L * 1024 * 1024;
	cfg->cache_ttl = 3600;
}

int threshold_judge(const struct threshold *t, double v)
{
	if (t->higher_is_worse) {
		if (v >= t->critical)
			return ST_CRITICAL;
		if (v >= t->warning)
			return ST_WARNING;
		return ST_OK;
	}
	if (v < t->critical)
		return ST_CRITICAL;
	if (v < t->warning)
		return ST_WARNING;
	return ST_OK;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

#define ERR(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(err, errlen, "%s:%d: ", name, lineno);                           \
		if (n_ > 0 && (size_t)n_ < errlen)                                                 \
			snprintf(err + n_, errlen - (size_t)n_, __VA_ARGS__);                      \
		return -1;                                                                         \
	} while (0)

static int parse_num(const char *v, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *trim(end))
		return -1;
	*out = d;
	return 0;
}

static int set_str(char *dst, size_t n, const char *v)
{
	if (strlen(v) >= n)
		return -1;
	snprintf(dst, n, "%s", v);
	return 0;
}

struct key_str {
	const char *key;
	size_t off, size;
};

#define KS(k, field)                                                                               \
	{                                                                                          \
		k, offsetof(struct config, field), sizeof(((struct config *)0)->field)             \
	}

static const struct key_str midsops_keys[] = {
    KS("default_env", default_env),	  KS("theme", theme),
    KS("backup_dir", backup_dir),	  KS("log_dir", log_dir),
    KS("reports_dir", reports_dir),	  KS("incidents_dir", incidents_dir),
    KS("notify_command", notify_command), KS("focus", focus),
};

struct key_th {
	const char *key;
	size_t off;
};

#define KT(k, field)                                                                               \
	{                                                                                          \
		k, offsetof(struct config, field)                                                  \
	}

static const struct key_th threshold_keys[] = {
    KT("import_speed", import_speed),	  KT("query_time", query_time),
    KT("cache_hit_rate", cache_hit_rate), KT("memory", memory),
    KT("connections", connections),	  KT("buffer_hit_ratio", buffer_hit_ratio),
    KT("dead_tuples", dead_tuples),	  KT("long_txn", long_txn),
    KT("waiting_locks", waiting_locks),	  KT("disk_free", disk_free),
    KT("backup_age", backup_age),	  KT("slot_retained_wal", slot_retained_wal),
    KT("sync_wait", sync_wait),
};

/* yes/no, true/false, on/off, 1/0, any case; -1 for anything else. */
static int parse_bool(const char *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

static int parse_midsops(struct config *cfg, const char *name, int lineno, const char *k,
			 const char *v, char *err, size_t errlen)
{
	if (strcmp(k, "refresh") == 0) {
		double d;
		if (parse_num(v, &d) < 0 || d < 0.2 || d > 3600)
			ERR("refresh wants seconds between 0.2 and 3600, not '%s'", v);
		cfg->refresh = d;
		return 0;
	}
	if (strcmp(k, "log_syslog") == 0) {
		int b = parse_bool(v);
		if (b < 0)
			ERR("log_syslog wants yes or no, not '%s'", v);
		cfg->log_syslog = b;
		return 0;
	}
	for (size_t i = 0; i < sizeof midsops_keys / sizeof midsops_keys[0]; i++)
		if (strcmp(k, midsops_keys[i].key) == 0) {
			if (set_str((char *)cfg + midsops_keys[i].off, midsops_keys[i].size, v) < 0)
				ERR("value of '%s' is too long", k);
			return 0;
		}
	ERR("unknown key '%s' in section [midsops]", k);
}

/* "import_speed_warning = 1000" or "import_speed = 1000 500" (warning critical). */
static int parse_threshold(struct config *cfg, const char *name, int lineno, const char *k,
			   const char *v, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof threshold_keys / sizeof threshold_keys[0]; i++) {
		const char *tk = threshold_keys[i].key;
		size_t tl = strlen(tk);
		if (strncmp(k, tk, tl) != 0)
			continue;
		struct threshold *t = (struct threshold *)((char *)cfg + threshold_keys[i].off);
		const char *suffix = k + tl;
		double d;
		if (strcmp(suffix, "_warning") == 0 || strcmp(suffix, "_critical") == 0) {
			if (parse_num(v, &d) < 0)
				ERR("'%s' wants a number, not '%s'", k, v);
			if (suffix[1] == 'w')
				t->warning = d;
			else
				t->critical = d;
			return 0;
		}
		if (*suffix == 0) {
			double w, c;
			if (sscanf(v, "%lf %lf", &w, &c) != 2)
				ERR("'%s' wants two numbers, warning and critical, not '%s'", k, v);
			t->warning = w;
			t->critical = c;
			return 0;
		}
	}
	ERR("unknown key '%s' in section [thresholds]", k);
}

static int parse_long(const char *v, long *out)
{
	double d;
	if (parse_num(v, &d) < 0 || d < 0)
		return -1;
	*out = (long)d;
	return 0;
}

/* "on-call:0m, dba:15m, dev-lead:30m, management:1h": CONTACT:DURATION, comma-separated,
 * the duration a whole number with its unit (s, m, h or d), at most 30 days; a contact once.
 * "none" notifies nobody. Strict: the value is taken whole or not at all. */
int config_parse_escalate(struct config *cfg, const char *v, char *why, size_t whylen)
{
	struct config_escalation e[CONFIG_MAX_ESCALATIONS];
	int n = 0;
	char buf[1024];
	if (!why || !whylen) {
		why = buf;
		whylen = sizeof buf;
	}
	if (strlen(v) >= sizeof buf) {
		snprintf(why, whylen, "escalate is longer than %zu bytes", sizeof buf - 1);
		return -1;
	}
	char copy[1024];
	snprintf(copy, sizeof copy, "%s", v);
	if (strcmp(trim(copy), "none") == 0) {
		cfg->nescalations = 0;
		return 0;
	}
	const char *want = "wants CONTACT:DURATION, ... (e.g. 'on-call:0m, dba:15m, "
			   "dev-lead:30m, management:1h') or none";
	char *p = copy;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = 0;
		char *item = trim(p);
		char *colon = strchr(item, ':');
		if (!*item || !colon) {
			snprintf(why, whylen, "escalate %s; '%s' is not CONTACT:DURATION", want,
				 item);
			return -1;
		}
		*colon = 0;
		char *name = trim(item), *dur = trim(colon + 1);
		size_t nl = strlen(name);
		if (!nl || nl >= sizeof e[0].contact) {
			snprintf(why, whylen,
				 "escalate: contact '%s' is empty or longer than %zu bytes", name,
				 sizeof e[0].contact - 1);
			return -1;
		}
		for (char *c = name; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.') {
				snprintf(why, whylen,
					 "escalate: contact '%s' may hold only letters, digits, "
					 "'-', '_' and '.'",
					 name);
				return -1;
			}
		char *end = dur;
		long num = 0;
		while (isdigit((unsigned char)*end) && num <= 1000000)
			num = num * 10 + (*end++ - '0');
		long unit = *end == 's'	  ? 1
			    : *end == 'm' ? 60
			    : *end == 'h' ? 3600
			    : *end == 'd' ? 86400
					  : 0;
		if (end == dur || !unit || end[1] || num * unit > 30L * 86400) {
			snprintf(why, whylen,
				 "escalate: '%s' for %s wants a whole number with s, m, h or d "
				 "(e.g. 15m), at most 30d",
				 dur, name);
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (strcmp(e[i].contact, name) == 0) {
				snprintf(why, whylen, "escalate names '%s' twice", name);
				return -1;
			}
		if (n == CONFIG_MAX_ESCALATIONS) {
			snprintf(why, whylen, "escalate names more than %d contacts",
				 CONFIG_MAX_ESCALATIONS);
			return -1;
		}
		snprintf(e[n].contact, sizeof e[n].contact, "%s", name);
		e[n].after = num * unit;
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	memcpy(cfg->escalations, e, sizeof e[0] * (size_t)n);
	cfg->nescalations = n;
	return 0;
}

static int parse_other(struct config *cfg, const char *section, const char *name, int lineno,
		       const char *k, const char *v, char *err, size_t errlen)
{
	long n;
	if (strcmp(section, "maintenance") == 0 && strcmp(k, "events_days") == 0) {
		if (parse_long(v, &n) < 0 || n < 1 || n > 36500)
			ERR("events_days wants days from 1 to 36500, not '%s'", v);
		cfg->events_days = (int)n;
		return 0;
	}
	if (strcmp(section, "import") == 0) {
		int *dst = strcmp(k, "keep_generations") == 0 ? &cfg->keep_generations
			   : strcmp(k, "runs_days") == 0      ? &cfg->import_runs_days
			   : strcmp(k, "errors_days") == 0    ? &cfg->import_errors_days
							      : NULL;
		if (!dst)
			ERR("unknown key '%s' in section [import]", k);
		if (parse_long(v, &n) < 0 || n < 1 || n > 36500)
			ERR("'%s' wants a number from 1 to 36500, not '%s'", k, v);
		*dst = (int)n;
		return 0;
	}
	if (strcmp(section, "maintenance") == 0) {
		if (strcmp(k, "window") != 0)
			ERR("unknown key '%s' in section [maintenance]", k);
		if (set_str(cfg->maintenance_window, sizeof cfg->maintenance_window, v) < 0)
			ERR("window is too long");
		return 0;
	}
	if (strcmp(section, "backup") == 0 && strcmp(k, "compression") == 0) {
		char *end = NULL;
		long lv = strncmp(v, "zstd:", 5) == 0 ? strtol(v + 5, &end, 10) : -1;
		if (strcmp(v, "none") == 0)
			lv = 0;
		else if (strcmp(v, "zstd") == 0)
			lv = 3;
		else if (!end || end == v + 5 || *end || lv < 1 || lv > 19)
			ERR("compression wants zstd:N (N from 1 to 19) or none, not '%s'", v);
		cfg->backup_compress = (int)lv;
		return 0;
	}
	if (strcmp(section, "backup") == 0) {
		int *dst = strcmp(k, "keep_daily") == 0	    ? &cfg->keep_daily
			   : strcmp(k, "keep_weekly") == 0  ? &cfg->keep_weekly
			   : strcmp(k, "keep_monthly") == 0 ? &cfg->keep_monthly
							    : NULL;
		if (!dst)
			ERR("unknown key '%s' in section [backup]", k);
		if (parse_long(v, &n) < 0 || n > 10000)
			ERR("'%s' wants a count, not '%s'", k, v);
		*dst = (int)n;
		return 0;
	}
	if (strcmp(section, "dr") == 0) {
		double d;
		if (strcmp(k, "synchronous") == 0) {
			if (strcmp(v, "strict") && strcmp(v, "fallback"))
				ERR("synchronous wants strict or fallback, not '%s'", v);
			cfg->dr_sync_fallback = strcmp(v, "fallback") == 0;
			return 0;
		}
		if (strcmp(k, "synchronous_fallback_after") == 0) {
			if (parse_num(v, &d) < 0 || d < 1 || d > 86400)
				ERR("synchronous_fallback_after wants seconds between 1 and 86400, "
				    "not '%s'",
				    v);
			cfg->dr_sync_fallback_after = d;
			return 0;
		}
		if (strcmp(k, "fence_command") == 0) {
			if (strlen(v) >= sizeof cfg->dr_fence_command)
				ERR("fence_command is longer than %zu bytes",
				    sizeof cfg->dr_fence_command - 1);
			snprintf(cfg->dr_fence_command, sizeof cfg->dr_fence_command, "%s", v);
			return 0;
		}
		ERR("unknown key '%s' in section [dr]", k);
	}
	if (strcmp(section, "incident") == 0) {
		char why[512];
		if (strcmp(k, "escalate") != 0)
			ERR("unknown key '%s' in section [incident]", k);
		if (config_parse_escalate(cfg, v, why, sizeof why) < 0)
			ERR("%s", why);
		return 0;
	}
	if (strcmp(section, "cache") == 0) {
		long *dst = strcmp(k, "max_entries") == 0 ? &cfg->cache_max_entries
			    : strcmp(k, "max_bytes") == 0 ? &cfg->cache_max_bytes
			    : strcmp(k, "ttl") == 0	  ? &cfg->cache_ttl
							  : NULL;
		if (!dst)
			ERR("unknown key '%s' in section [cache]", k);
		if (parse_long(v, &n) < 0)
			ERR("'%s' wants a number, not '%s'", k, v);
		*dst = n;
		return 0;
	}
	ERR("unknown section [%s]", section);
}

int config_parse(struct config *cfg, const char *name, const char *text, char *err, size_t errlen)
{
	char section[128] = "";
	struct config_env *env = NULL;
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		if (len >= CONFIG_MAX_LINE)
			ERR("line is longer than %d bytes", CONFIG_MAX_LINE);
		char buf[CONFIG_MAX_LINE];
		memcpy(buf, p, len);
		buf[len] = 0;
		p += len + (nl ? 1 : 0);
		char *s = trim(buf);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || *trim(e + 1))
				ERR("malformed section header '%s'", s);
			*e = 0;
			char *sec = trim(s + 1);
			env = NULL;
			if (strncmp(sec, "env", 3) == 0 && isspace((unsigned char)sec[3])) {
				char *en = trim(sec + 4);
				if (en[0] == '"' && en[strlen(en) - 1] == '"' && strlen(en) >= 2) {
					en[strlen(en) - 1] = 0;
					en++;
				}
				if (!*en || strlen(en) >= sizeof env->name)
					ERR("environment name missing or too long");
				for (char *c = en; *c; c++)
					if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
						ERR("environment name '%s' may hold only letters, "
						    "digits, '-' and '_'",
						    en);
				if (config_env(cfg, en))
					ERR("environment '%s' is defined twice", en);
				if (cfg->nenvs >= CONFIG_MAX_ENVS)
					ERR("too many environments (at most %d)", CONFIG_MAX_ENVS);
				env = &cfg->envs[cfg->nenvs++];
				snprintf(env->name, sizeof env->name, "%s", en);
				snprintf(section, sizeof section, "env");
				continue;
			}
			if (strcmp(sec, "midsops") && strcmp(sec, "thresholds") &&
			    strcmp(sec, "maintenance") && strcmp(sec, "backup") &&
			    strcmp(sec, "cache") && strcmp(sec, "dr") && strcmp(sec, "import") &&
			    strcmp(sec, "incident"))
				ERR("unknown section [%s]", sec);
			snprintf(section, sizeof section, "%s", sec);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq)
			ERR("expected 'key = value', got '%s'", s);
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		if (!*k)
			ERR("missing key before '='");
		size_t vl = strlen(v);
		if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
			v[vl - 1] = 0;
			v++;
		}
		if (!section[0])
			ERR("key '%s' outside any section", k);
		int rc;
		if (strcmp(section, "midsops") == 0)
			rc = parse_midsops(cfg, name, lineno, k, v, err, errlen);
		else if (strcmp(section, "thresholds") == 0)
			rc = parse_threshold(cfg, name, lineno, k, v, err, errlen);
		else if (strcmp(section, "env") == 0) {
			if (strcmp(k, "dsn") != 0)
				ERR("unknown key '%s' in section [env %s]", k, env->name);
			if (set_str(env->dsn, sizeof env->dsn, v) < 0)
				ERR("dsn is too long");
			rc = 0;
		} else
			rc = parse_other(cfg, section, name, lineno, k, v, err, errlen);
		if (rc < 0)
			return -1;
	}
	for (int i = 0; i < cfg->nenvs; i++)
		if (!cfg->envs[i].dsn[0]) {
			snprintf(err, errlen, "%s: environment '%s' has no dsn", name,
				 cfg->envs[i].name);
			return -1;
		}
	if (cfg->default_env[0] && !config_env(cfg, cfg->default_env)) {
		snprintf(err, errlen, "%s: default_env '%s' is not defined by any [env] section",
			 name, cfg->default_env);
		return -1;
	}
	return 0;
}

/* Whoever may write the config decides what notify_command runs, so, as ssh does with its
 * config, only a file owned by the user or root and writable by no one else is trusted. */
static int file_trusted(const struct stat *st)
{
	return (st->st_uid == getuid() || st->st_uid == 0) && !(st->st_mode & 022);
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	char def[4096];
	int named = path != NULL;
	config_defaults(cfg);
	if (!path) {
		snprintf(def, sizeof def, "%s/midsops.conf", paths_config_dir());
		path = def;
	}
	snprintf(cfg->path, sizeof cfg->path, "%s", path);
	FILE *f = fopen(path, "r");
	if (!f) {
		/* Only the default file may be absent: a file named on purpose that is missing
		 * would otherwise mean defaults, and a check would judge the wrong target. */
		if (errno == ENOENT && !named)
			return 0;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	/* The file as opened, not its name: a rename in between cannot pass another one. */
	struct stat st;
	if (fstat(fileno(f), &st) < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	char *text = xmalloc(CONFIG_MAX_SIZE + 1);
	size_t n = fread(text, 1, CONFIG_MAX_SIZE + 1, f);
	fclose(f);
	if (n > CONFIG_MAX_SIZE) {
		free(text);
		snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
		return -1;
	}
	text[n] = 0;
	if (memchr(text, 0, n)) {
		free(text);
		snprintf(err, errlen, "%s: contains a NUL byte; not a text file", path);
		return -1;
	}
	cfg->loaded = 1;
	int rc = config_parse(cfg, path, text, err, errlen);
	free(text);
	if (rc == 0 && cfg->notify_command[0] && !file_trusted(&st)) {
		snprintf(err, errlen,
			 "%s: bad owner or permissions: notify_command runs a program, so the file "
			 "must be owned by you or root and writable by no one else (it is owned by "
			 "uid %ld, mode %04o; chown it, chmod go-w it)",
			 path, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return rc;
}

const struct config_env *config_env(const struct config *cfg, const char *name)
{
	for (int i = 0; i < cfg->nenvs; i++)
		if (strcmp(cfg->envs[i].name, name) == 0)
			return &cfg->envs[i];
	return NULL;
}

/* Rewrite in place: replace the key in its section, or append it (and the section). The
 * new file is written beside the old and renamed over it, so a crash keeps one of them. */
int config_save_key(const struct config *cfg, const char *section, const char *key,
		    const char *value, char *err, size_t errlen)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", cfg->path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		paths_mkdir_p(dir, 0700);
	}
	FILE *in = fopen(cfg->path, "r");
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", cfg->path);
	FILE *out = fopen(tmp, "w");
	if (!out) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		if (in)
			fclose(in);
		return -1;
	}
	fchmod(fileno(out), 0600);
	char line[CONFIG_MAX_LINE], cur[128] = "";
	int done = 0, in_sec = 0;
	while (in && fgets(line, sizeof line, in)) {
		char copy[CONFIG_MAX_LINE];
		snprintf(copy, sizeof copy, "%s", line);
		char *s = trim(copy);
		if (*s == '[') {
			if (in_sec && !done) {
				fprintf(out, "%s = %s\n", key, value);
				done = 1;
			}
			char *e = strchr(s, ']');
			if (e)
				*e = 0;
			snprintf(cur, sizeof cur, "%s", trim(s + 1));
			in_sec = strcmp(cur, section) == 0;
		} else if (in_sec && !done) {
			char *eq = strchr(s, '=');
			if (eq) {
				*eq = 0;
				if (strcmp(trim(s), key) == 0) {
					fprintf(out, "%s = %s\n", key, value);
					done = 1;
					continue;
				}
			}
		}
		fputs(line, out);
	}
	if (in)
		fclose(in);
	if (!done) {
		if (!in_sec)
			fprintf(out, "\n[%s]\n", section);
		fprintf(out, "%s = %s\n", key, value);
	}
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		fclose(out);
		unlink(tmp);
		return -1;
	}
	fclose(out);
	if (rename(tmp, cfg->path) < 0) {
		snprintf(err, errlen, "%s: cannot replace: %s", cfg->path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
