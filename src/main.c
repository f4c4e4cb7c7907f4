/* midsops: argv -> one command, or the console. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "out.h"
#include "target.h"
#include "version.h"

struct globals {
	const char *dsn, *env, *config, *theme;
	int json, no_colour, help, version;
};

/* Global options that take a value. */
static const char *const value_opts[] = {"--dsn", "--env", "--config", "--theme", NULL};

static const char **value_slot(struct globals *g, const char *name)
{
	if (strcmp(name, "--dsn") == 0)
		return &g->dsn;
	if (strcmp(name, "--env") == 0)
		return &g->env;
	if (strcmp(name, "--config") == 0)
		return &g->config;
	return &g->theme;
}

/* Take a global option at argv[i]; returns how many words it used (0 if not global). */
static int take_global(struct globals *g, int argc, char **argv, int i, int *bad)
{
	const char *s = argv[i];
	if (strcmp(s, "--json") == 0)
		return g->json = 1;
	if (strcmp(s, "--no-color") == 0 || strcmp(s, "--no-colour") == 0)
		return g->no_colour = 1;
	if (strcmp(s, "--version") == 0 || strcmp(s, "-V") == 0)
		return g->version = 1;
	for (int k = 0; value_opts[k]; k++) {
		size_t n = strlen(value_opts[k]);
		if (strncmp(s, value_opts[k], n) != 0)
			continue;
		if (s[n] == '=') {
			*value_slot(g, value_opts[k]) = s + n + 1;
			return 1;
		}
		if (s[n] == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "midsops: option '%s' needs a value\n", s);
				*bad = 1;
				return 1;
			}
			*value_slot(g, value_opts[k]) = argv[i + 1];
			return 2;
		}
	}
	return 0;
}

static int run(int argc, char **argv, char **rest);

int main(int argc, char **argv)
{
	char **rest = xcalloc((size_t)argc + 2, sizeof *rest);
	int rc = run(argc, argv, rest);
	free(rest);
	return rc;
}

static int run(int argc, char **argv, char **rest)
{
	struct globals g = {0};
	int bad = 0;
	int nrest = 0;
	const struct cmd_entry *ce = NULL;
	char err[1024] = "";

	signal(SIGPIPE, SIG_IGN);
	/* Files holding data are 0600 and directories 0700, including what child tools such as
	 * pg_dump write; the few paths the server's user must traverse are chmod'ed explicitly. */
	umask(077);
	/* Globals before the command; after it too, unless the command passes its
	 * arguments through (db-shell). */
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			g.help = 1;
			continue;
		}
		int used = take_global(&g, argc, argv, i, &bad);
		if (used) {
			i += used - 1;
			continue;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "midsops: unknown option '%s'\nusage: midsops [--dsn CONNINFO] "
					"[--env NAME] [--config FILE] [--json] [--no-color] COMMAND [ARGS]\n",
				argv[i]);
			return EXIT_USAGE;
		}
		break;
	}
	if (bad)
		return EXIT_USAGE;
	if (i < argc) {
		ce = cmd_find(argv[i], err, sizeof err);
		if (!ce) {
			fprintf(stderr, "midsops: %s\n", err);
			return EXIT_USAGE;
		}
		rest[nrest++] = argv[i++];
		for (; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0 || (ce->flags & CMD_RAWARGS)) {
				while (i < argc)
					rest[nrest++] = argv[i++];
				break;
			}
			int used = take_global(&g, argc, argv, i, &bad);
			if (used) {
				i += used - 1;
				continue;
			}
			rest[nrest++] = argv[i];
		}
		if (bad)
			return cmd_exit_usage(ce);
		if (g.help)
			rest[nrest++] = "--help";
	}

	/* --no-color means what NO_COLOR means, for the console and every child command too. */
	if (g.no_colour)
		setenv("NO_COLOR", "1", 1);
	struct out *out = out_new_file(g.json ? OUT_JSON : OUT_TEXT, stdout, !g.no_colour);
	/* GNU style: one line, the name and version; `version --json` has the detail. */
	if (g.version && !g.json) {
		cmd_version_line(out);
		out_free(out);
		return 0;
	}
	if (g.version) {
		ce = cmd_find("version", err, sizeof err);
		nrest = 0;
		rest[nrest++] = (char *)ce->name;
	}
	if (!ce) {
		const char *def = g.help ? "help" : (isatty(0) && isatty(1)) ? "console" : "help";
		ce = cmd_find(def, err, sizeof err);
		if (!ce)
			ce = cmd_find("status", err, sizeof err);
		rest[nrest++] = (char *)ce->name;
	}

	struct config cfg;
	const char *cfgpath = g.config ? g.config : getenv("MIDSOPS_CONFIG");
	/* The server runs wal-push and wal-fetch as its own account, in the environment of
	 * whoever started it, so the default config file may be one only that user can read
	 * (dr-restore writes one). They need nothing from it: the archive and the compression
	 * are in their arguments. MIDSOPS_CONFIG is that environment too (a wizard sets it for
	 * the restore it runs); only a file named with --config still counts. */
	int cfg_rc = config_load(&cfg, cfgpath, err, sizeof err);
	if (cfg_rc < 0 && !g.config && (ce->flags & CMD_SERVER)) {
		char err2[256];
		cfg_rc = config_load(&cfg, "/dev/null", err2, sizeof err2);
	}
	if (cfg_rc < 0) {
		out_err(out, "%s", err);
		out_free(out);
		return cmd_exit_config(ce);
	}
	if (g.theme)
		snprintf(cfg.theme, sizeof cfg.theme, "%s", g.theme);
	db_set_log_dir(cfg.log_dir);
	log_set_syslog(cfg.log_syslog);

	struct target target;
	if (target_resolve(&target, &cfg, g.dsn, g.env, err, sizeof err) < 0 &&
	    !(ce->flags & CMD_NODB)) {
		out_err(out, "%s", err);
		out_free(out);
		return cmd_exit_config(ce);
	}
	int rc = cmd_run(ce, nrest, rest, out, &cfg, &target, 0);
	out_free(out);
	return rc;
}
