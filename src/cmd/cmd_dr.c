/* The dr command family: dr-setup, dr-assess, dr-report, dr-activate, dr-restore,
 * dr-validate, dr-verify-all, dr-perf-test. The runbook's "DR site" is a streaming
 * standby (the `dr` environment), or a site restored from backups when there is none. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "dr_role.h"
#include "dr_site.h"
#include "paths.h"
#include "probe.h"
#include "proc.h"
#include "target.h"
#include "util.h"

static void state_set_str(cJSON *o, const char *key, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddStringToObject(o, key, v);
}

static void state_set_num(cJSON *o, const char *key, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddNumberToObject(o, key, v);
}

/* perf-test --json of a target, kept as the baseline for dr-perf-test. */
static void record_perf_baseline(struct cmd_ctx *ctx, const char *dsn)
{
	if (!dr_have_command("perf-test"))
		return;
	const char *cmd[] = {"perf-test", NULL};
	char *out = NULL, err[512];
	int rc = dr_run_child(ctx->cfg, dsn, 1, cmd, &out);
	cJSON *j = out ? cJSON_Parse(out) : NULL;
	if (j && rc <= 3) {
		char at[64];
		dr_now(at, sizeof at);
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "at", at);
		cJSON_AddItemToObject(b, "result", j);
		dr_save("perf-baseline.json", b, err, sizeof err);
		cJSON_Delete(b);
		out_kv(ctx->out, "perf_baseline", "recorded");
	} else {
		cJSON_Delete(j);
		out_warn(ctx->out, "perf-test gave no JSON (exit %d); no performance baseline", rc);
	}
	free(out);
}

/* ---------------------------------------------------------------- dr-setup */

static int setup_managed(struct cmd_ctx *ctx, const char *site)
{
	char err[1024];
	struct dr_standby_snap s;
	if (dr_site_look(site, "dr-setup", 5, &s, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-setup: the [env dr] standby: %s", err);
		return EXIT_FAIL;
	}
	if (!s.ok || !s.in_recovery) {
		out_err(ctx->out, "dr-setup: [env dr] is not a standby (%s)",
			s.ok ? "it accepts writes" : s.error);
		return EXIT_FAIL;
	}
	cJSON *st = dr_load("state.json");
	char at[64];
	dr_now(at, sizeof at);
	state_set_str(st, "kind", "managed");
	state_set_str(st, "setup_at", at);
	dr_save("state.json", st, err, sizeof err);
	cJSON_Delete(st);
	out_kv(ctx->out, "dr_site", "the [env dr] standby (managed; not created by midsops)");
	out_kv(ctx->out, "wal_receiver", "%s", s.receiver_status);
	return 0;
}

/* The site this midsops built: report it, and leave the record (kind standby) alone. */
static int setup_report_built(struct cmd_ctx *ctx, const char *site, const char *dir,
			      const char *setup_at)
{
	char err[1024];
	struct dr_standby_snap s;
	int up = dr_site_look(site, "dr-setup", 5, &s, err, sizeof err) == 0;
	out_kv(ctx->out, "dr_site", "%s (built by midsops%s%s)", dir, setup_at[0] ? " at " : "",
	       setup_at);
	if (!up) {
		out_err(ctx->out,
			"dr-setup: the DR site midsops built does not answer: %s; "
			"--force rebuilds it",
			err);
		return EXIT_FAIL;
	}
	out_kv(ctx->out, "role", "%s", s.in_recovery ? "standby" : "promoted (read-write)");
	out_kv(ctx->out, "wal_receiver", "%s",
	       s.receiver_status[0] ? s.receiver_status : "not running");
	out_line(ctx->out, "the DR site exists; nothing was changed (--force rebuilds it)");
	return 0;
}

struct setup_plan {
	char dir[PATH_MAX];
	long port;
	int want_sync, force;
};

/* With [env dr] and no --target-dir there is nothing to build unless --force rebuilds the
 * site midsops built: returns 1 with *rc when the command ends here, 0 with plan->dir set
 * when a standby is to be built. */
static int setup_resolve(struct cmd_ctx *ctx, struct setup_plan *p, int *rc)
{
	char err[1024];
	const char *tdir = args_get(ctx->args, "target-dir");
	const char *site = dr_site_dsn(ctx->cfg);
	p->port = 0;
	if (args_get_long(ctx->args, "port", &p->port, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		*rc = EXIT_USAGE;
		return 1;
	}
	p->want_sync = args_has(ctx->args, "synchronous");
	p->force = args_has(ctx->args, "force");
	char built_dir[PATH_MAX] = "";
	if (!tdir && site) {
		/* The site midsops built is rebuilt in place by --force; one it did not build is
		 * only registered, and --force cannot rebuild what midsops does not own. */
		cJSON *cur = dr_load("state.json");
		int ours = strcmp(dr_str(cur, "kind"), "standby") == 0 &&
			   dr_str(cur, "site_dir")[0] && strcmp(dr_str(cur, "dsn"), site) == 0;
		snprintf(built_dir, sizeof built_dir, "%s", ours ? dr_str(cur, "site_dir") : "");
		char setup_at[64];
		snprintf(setup_at, sizeof setup_at, "%s", dr_str(cur, "setup_at"));
		cJSON_Delete(cur);
		if (ours && p->force) {
			out_line(ctx->out, "rebuilding the DR site midsops built at %s (--force)",
				 built_dir);
			tdir = built_dir;
		} else if (p->want_sync) {
			out_err(
			    ctx->out,
			    "dr-setup: --synchronous applies to a standby dr-setup creates (%s)",
			    ours ? "pass --force to rebuild this one synchronous"
				 : "pass --target-dir DIR to build one");
			*rc = EXIT_USAGE;
			return 1;
		} else if (ours) {
			*rc = setup_report_built(ctx, site, built_dir, setup_at);
			return 1;
		} else if (p->force) {
			out_err(
			    ctx->out,
			    "dr-setup: --force rebuilds only a DR site midsops built; [env dr] was "
			    "not created by midsops, so nothing was rebuilt. Pass --target-dir DIR "
			    "to build a standby there");
			*rc = EXIT_USAGE;
			return 1;
		} else {
			*rc = setup_managed(ctx, site);
			return 1;
		}
	}
	int n;
	if (tdir) {
		if (tdir[0] != '/') {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof cwd))
				cwd[0] = 0;
			n = snprintf(p->dir, sizeof p->dir, "%s/%s", cwd, tdir);
		} else
			n = snprintf(p->dir, sizeof p->dir, "%s", tdir);
	} else
		n = snprintf(p->dir, sizeof p->dir, "%s/dr", paths_data_dir());
	if (!util_fits(n, sizeof p->dir)) {
		out_err(ctx->out, "dr-setup: path too long: %.200s",
			tdir ? tdir : paths_data_dir());
		*rc = EXIT_USAGE;
		return 1;
	}
	return 0;
}

/* The primary can feed a standby and no running standby uses the slot: 0, else -1 (said). */
static int setup_check_primary(struct cmd_ctx *ctx, PGconn *pc, const struct setup_plan *p,
			       struct dr_primary_fit *fit)
{
	char err[1024];
	if (dr_setup_primary_fit(pc, fit, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-setup: %s", err);
		return -1;
	}
	if (fit->in_recovery || strcmp(fit->wal_level, "minimal") == 0 || fit->senders < 1) {
		out_err(
		    ctx->out,
		    "dr-setup: the primary cannot feed a standby (in recovery: %s, wal_level %s, "
		    "max_wal_senders %d); it needs wal_level = replica and max_wal_senders > 0",
		    fit->in_recovery ? "yes" : "no", fit->wal_level, fit->senders);
		return -1;
	}
	int hba = dr_setup_hba_replication_rules(pc, err, sizeof err);
	if (hba == 0 && ctx->target->embedded) {
		out_err(ctx->out,
			"dr-setup: pg_hba.conf of the primary has no 'local replication' rule; add "
			"'local replication all trust' and reload");
		return -1;
	}
	if (hba < 0)
		out_warn(ctx->out, "cannot read pg_hba.conf rules (%s); trying anyway", err);
	/* Said now, not at the failover: a rejoin without either one is a whole copy. */
	char ready[600];
	dr_rewind_readiness(pc, ready, sizeof ready);
	if (ready[0])
		out_warn(ctx->out, "%s", ready);
	if (dr_setup_slot_active(pc) && !p->force) {
		out_err(ctx->out,
			"dr-setup: slot %s is in use by a running standby; pass --force to "
			"rebuild the DR site",
			DR_SLOT);
		return -1;
	}
	return 0;
}

/* Clear the way (the primary no longer waits for an old site, which is removed with its
 * idle slot), then base backup, configure and start the standby: 0, else -1 (said). */
static int setup_build_site(struct cmd_ctx *ctx, PGconn *pc, const struct setup_plan *p,
			    const struct dr_primary_fit *fit, struct cluster *dr)
{
	char err[1024];
	long port = p->port;
	char portfile[PATH_MAX + 16];
	snprintf(portfile, sizeof portfile, "%s/port", p->dir);
	if (!port && access(portfile, R_OK) != 0)
		port = fit->port + 1;
	if (dr_site_locate(dr, p->dir, (int)port, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-setup: %s", err);
		return -1;
	}
	int old_site = cluster_state(dr, NULL) != CLUSTER_ABSENT;
	if (old_site && !p->force) {
		out_err(ctx->out,
			"dr-setup: a DR site already exists at %s; pass --force to rebuild it",
			dr->datadir);
		return -1;
	}
	int was_sync = dr_setup_sync_unset(pc, err, sizeof err);
	if (was_sync < 0) {
		out_err(ctx->out,
			"dr-setup: cannot make the primary stop waiting for the DR site it "
			"replaces: %s",
			err);
		return -1;
	}
	if (was_sync)
		out_line(ctx->out, "the primary no longer waits for the old DR site");
	if (old_site && dr_site_remove(dr, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-setup: %s", err);
		return -1;
	}
	/* pg_basebackup -C then fails on the slot and says so; the cause is said first. */
	if (dr_setup_drop_idle_slot(pc, err, sizeof err) < 0)
		out_warn(ctx->out, "cannot drop the idle slot %s: %s", DR_SLOT, err);
	if (cluster_make_reachable(dr, p->dir, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-setup: %s", err);
		return -1;
	}
	char pci[2048];
	snprintf(pci, sizeof pci, "%s", ctx->target->conninfo);
	out_progress(ctx->out, "base backup", 0, 0, dr->datadir);
	if (dr_site_basebackup(dr, pci, DR_SLOT, err, sizeof err) < 0 ||
	    dr_site_configure(dr, 1, err, sizeof err) < 0 ||
	    dr_site_pg_ctl(dr, "start", NULL, err, sizeof err) < 0) {
		out_progress_end(ctx->out);
		out_err(ctx->out, "dr-setup: %s", err);
		return -1;
	}
	out_progress_end(ctx->out);
	return 0;
}

/* Wait for streaming, then name the site synchronous when asked: 1 when it is. */
static int setup_stream_and_sync(struct cmd_ctx *ctx, PGconn *pc, const struct cluster *dr,
				 int want_sync)
{
	char err[1024];
	int streaming = dr_setup_wait_streaming(pc, 30) == 0;
	if (!streaming)
		out_warn(ctx->out, "the standby started but is not streaming yet; see %s",
			 dr->logfile);
	if (want_sync && !streaming) {
		out_err(ctx->out, "dr-setup: not made synchronous: the primary would wait on "
				  "every commit for a standby that does not stream");
		return 0;
	}
	if (!want_sync)
		return 0;
	if (dr_setup_sync_set(pc, err, sizeof err) < 0) {
		char e2[512];
		/* Best effort: the failure being reported is the one that matters. */
		if (dr_setup_sync_unset(pc, e2, sizeof e2) < 0)
			out_warn(ctx->out, "the primary may still wait for the DR site: %s", e2);
		out_err(ctx->out, "dr-setup: not made synchronous: %s", err);
		return 0;
	}
	return 1;
}

/* Register the site as [env dr] and in state.json, with the primary's figures. */
static int setup_register(struct cmd_ctx *ctx, PGconn *pc, const struct setup_plan *p,
			  const struct cluster *dr, int is_sync, char *dsn, size_t dsnlen)
{
	char err[1024];
	dr_setup_site_dsn(pc, dr, dsn, dsnlen);
	if (dr_config_set_env(ctx->cfg, DR_ENV, dsn, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-setup: %s", err);
		return -1;
	}
	cJSON *st = cJSON_CreateObject();
	char at[64], shown[2048];
	dr_now(at, sizeof at);
	target_display(ctx->target, shown, sizeof shown);
	cJSON_AddStringToObject(st, "kind", "standby");
	cJSON_AddStringToObject(st, "site_dir", p->dir);
	cJSON_AddStringToObject(st, "datadir", dr->datadir);
	cJSON_AddNumberToObject(st, "port", dr->port);
	cJSON_AddStringToObject(st, "slot", DR_SLOT);
	cJSON_AddStringToObject(st, "dsn", dsn);
	cJSON_AddStringToObject(st, "primary", shown);
	cJSON_AddBoolToObject(st, "primary_embedded", ctx->target->embedded);
	cJSON_AddStringToObject(st, "setup_at", at);
	cJSON_AddBoolToObject(st, "synchronous", is_sync);
	cJSON_AddArrayToObject(st, "phases");
	dr_save("state.json", st, err, sizeof err);
	cJSON_Delete(st);

	cJSON *fig = dr_figures(pc, err, sizeof err);
	if (fig) {
		dr_save("figures.json", fig, err, sizeof err);
		cJSON_Delete(fig);
	}
	db_event(pc, "info", "dr-setup", "DR standby created at %s (port %d, slot %s)", dr->datadir,
		 dr->port, DR_SLOT);
	return 0;
}

static int cmd_dr_setup_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	struct setup_plan p;
	int rc = EXIT_FAIL;
	if (setup_resolve(ctx, &p, &rc))
		return rc;
	double t0 = util_mono();

	PGconn *pc = db_connect_ready(ctx->target, "dr-setup", err, sizeof err);
	if (!pc) {
		out_err(ctx->out, "dr-setup: the primary: %s", err);
		return EXIT_FAIL;
	}
	struct dr_primary_fit fit;
	struct cluster dr;
	char dsn[1200];
	if (setup_check_primary(ctx, pc, &p, &fit) < 0 ||
	    setup_build_site(ctx, pc, &p, &fit, &dr) < 0)
		goto out;
	int is_sync = setup_stream_and_sync(ctx, pc, &dr, p.want_sync);
	if (setup_register(ctx, pc, &p, &dr, is_sync, dsn, sizeof dsn) < 0)
		goto out;
	out_kv(ctx->out, "dr_site", "%s", p.dir);
	out_kv(ctx->out, "data_directory", "%s", dr.datadir);
	out_kv_int(ctx->out, "port", dr.port);
	out_kv(ctx->out, "slot", "%s", DR_SLOT);
	out_kv(ctx->out, "synchronous", "%s",
	       is_sync ? "yes: each commit on the primary waits for the DR site's write "
			 "(remote_write)"
		       : "no: the primary does not wait (a commit acknowledged just before it "
			 "dies can be lost)");
	out_kv(ctx->out, "environment", "dr = %s (written to %s)", dsn, ctx->cfg->path);
	out_kv_num(ctx->out, "seconds", util_mono() - t0, "s");
	if (!args_has(ctx->args, "no-baseline"))
		record_perf_baseline(ctx, NULL);
	dr_phase("setup", ST_OK, "standby created at %s", p.dir);
	out_line(ctx->out,
		 "DR standby streaming from the primary; check it with: midsops dr-assess");
	rc = p.want_sync && !is_sync ? EXIT_FAIL : 0;
out:
	dr_conn_close(pc);
	return rc;
}

/* ---------------------------------------------------------------- dr-assess */

static int cmd_dr_assess_exec(struct cmd_ctx *ctx)
{
	struct dr_assessment a;
	dr_assess(ctx->cfg, ctx->target, &a);
	dr_assess_render(ctx->out, &a);
	dr_assess_record(ctx->cfg, ctx->target, &a);
	dr_phase("assess", a.overall, "%s", a.summary);
	out_status(ctx->out, a.overall, "%s", a.summary);
	return a.overall;
}

/* ---------------------------------------------------------------- dr-report */

static void md_assessment(FILE *f, const struct dr_assessment *a)
{
	const struct dr_snapshot *s = &a->snap;
	fprintf(f, "| Item | State |\n| --- | --- |\n");
	fprintf(f, "| Primary (%s) | %s%s%s |\n", a->primary_shown,
		s->p.ok ? (s->p.in_recovery ? "reachable, in recovery" : "reachable")
			: "**unreachable**",
		s->p.ok ? "" : ": ", s->p.ok ? "" : s->p.error);
	if (s->configured)
		fprintf(f, "| Standby (%s) | %s |\n", a->standby_shown,
			!s->s.ok	   ? "**unreachable**"
			: s->s.in_recovery ? "streaming standby (read-only)"
					   : "promoted (read-write)");
	else
		fprintf(f, "| Standby | none configured |\n");
	if (s->s.ok && s->s.in_recovery)
		fprintf(f, "| Standby received / replayed | %s / %s (last transaction %s) |\n",
			s->s.receive_lsn, s->s.replay_lsn,
			s->s.last_replay_at[0] ? s->s.last_replay_at : "none");
	if (s->lag_bytes >= 0)
		fprintf(f, "| Replication lag | %lld bytes, %.1f s |\n", s->lag_bytes,
			isnan(s->lag_s) ? 0.0 : s->lag_s);
	if (a->b.catalogue_rows > 0 || a->b.repo_backups > 0)
		fprintf(f, "| Last backup | %s %s %s (%.1f h old) |\n",
			a->b.last_id[0] ? a->b.last_id : a->b.repo_last, a->b.last_type,
			a->b.last_at, isnan(a->b.last_age_h) ? 0.0 : a->b.last_age_h);
	else
		fprintf(f, "| Last backup | no backups |\n");
	fprintf(f, "| WAL archive | %s |\n",
		a->b.wal_files ? (a->b.wal_gaps ? "gaps in the archive" : "continuous")
			       : "no archived WAL");
	if (a->have_loss)
		fprintf(f, "| Data loss if activated now | %s |\n", a->loss.text);
	else if (a->loss_bytes >= 0)
		fprintf(f, "| Data loss if activated now | %lld bytes (measured) |\n",
			a->loss_bytes);
	else
		fprintf(f, "| Data loss if activated now | unknown |\n");
	fprintf(f, "| Basis | %s |\n", a->loss_basis);
	fprintf(f, "\n**Overall: %s** -- %s\n", status_name(a->overall), a->summary);
}

static int cmd_dr_report_exec(struct cmd_ctx *ctx)
{
	char err[1024], path[PATH_MAX + 64], at[64];
	struct dr_assessment a;
	dr_assess(ctx->cfg, ctx->target, &a);
	cJSON *st = dr_load("state.json");
	dr_now(at, sizeof at);
	FILE *f = NULL;
	int initial = args_has(ctx->args, "initial");
	if (initial) {
		const char *dir =
		    ctx->cfg->incidents_dir[0] ? ctx->cfg->incidents_dir : ctx->cfg->reports_dir;
		if (paths_mkdir_p(dir, 0700) < 0) {
			out_err(ctx->out, "dr-report: cannot create %s: %s", dir, strerror(errno));
			cJSON_Delete(st);
			return EXIT_FAIL;
		}
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32];
		localtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
		snprintf(path, sizeof path, "%s/%s_disaster_recovery.md", dir, stamp);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			out_err(ctx->out, "dr-report: cannot create %s: %s", path, strerror(errno));
			cJSON_Delete(st);
			return EXIT_FAIL;
		}
		const char *user = getenv("USER");
		char host[256] = "";
		gethostname(host, sizeof host - 1);
		fprintf(f, "# Disaster recovery: initial impact report\n\n");
		fprintf(f, "- Opened: %s\n- Operator: %s@%s\n- Severity: %s\n\n", at,
			user ? user : "unknown", host,
			!a.snap.p.ok		   ? "1 (complete outage of the primary)"
			: a.overall >= ST_CRITICAL ? "2 (major degradation)"
						   : "3 (minor)");
		fprintf(f, "## Assessment (%s)\n\n", a.at);
		md_assessment(f, &a);
		fprintf(
		    f,
		    "\n## Objectives (runbook)\n\n| Component | RTO | RPO |\n| --- | --- | --- |\n"
		    "| Database | 4 hours | 1 hour |\n| Import System | 6 hours | 24 hours |\n"
		    "| Cache Layer | 2 hours | N/A |\n\n");
		fprintf(f, "Estimated loss %s the database RPO of 1 hour.\n\n",
			!isnan(a.loss_s) && a.loss_s > 3600	? "**exceeds**"
			: a.loss_bytes >= 0 || !isnan(a.loss_s) ? "is within"
								: "cannot yet be judged against");
		fprintf(f, "## Plan\n\n1. Assessment: `midsops dr-assess`, this report.\n"
			   "2. Recovery: `midsops dr-activate` (standby) or `midsops dr-restore "
			   "--latest` (no standby), then `midsops dr-validate`.\n"
			   "3. Verification: `midsops dr-verify-all`, `midsops dr-perf-test`.\n"
			   "4. Communication: status page every 30 minutes, #dr-updates.\n\n"
			   "## Progress\n\n");
		state_set_str(st, "report", path);
		cJSON *ph = cJSON_GetObjectItemCaseSensitive(st, "phases");
		state_set_num(st, "report_phases", cJSON_IsArray(ph) ? cJSON_GetArraySize(ph) : 0);
	} else {
		snprintf(path, sizeof path, "%s", dr_str(st, "report"));
		if (!path[0]) {
			out_err(ctx->out,
				"dr-report: no report open; start one with dr-report --initial");
			cJSON_Delete(st);
			return EXIT_FAIL;
		}
		f = fopen(path, "a");
		if (!f) {
			out_err(ctx->out, "dr-report: cannot append to %s: %s", path,
				strerror(errno));
			cJSON_Delete(st);
			return EXIT_FAIL;
		}
		fprintf(f, "### Update %s\n\n", at);
		cJSON *ph = cJSON_GetObjectItemCaseSensitive(st, "phases");
		int from = (int)dr_num(st, "report_phases", 0), n = cJSON_GetArraySize(ph);
		for (int i = from; i < n; i++) {
			cJSON *e = cJSON_GetArrayItem(ph, i);
			fprintf(f, "- %s **%s** (%s): %s\n", dr_str(e, "at"), dr_str(e, "phase"),
				dr_str(e, "status"), dr_str(e, "summary"));
		}
		if (from >= n)
			fprintf(f, "- no new phases since the last update\n");
		fprintf(f, "\nCurrent state:\n\n");
		md_assessment(f, &a);
		fprintf(f, "\n");
		state_set_num(st, "report_phases", n);
	}
	int bad = fclose(f) != 0;
	if (bad || dr_save("state.json", st, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-report: %s", bad ? strerror(errno) : err);
		cJSON_Delete(st);
		return EXIT_FAIL;
	}
	cJSON_Delete(st);
	out_kv(ctx->out, "report", "%s", path);
	out_kv(ctx->out, "assessment", "%s: %s", status_name(a.overall), a.summary);
	out_line(ctx->out,
		 initial ? "initial impact report written to %s" : "progress appended to %s", path);
	return 0;
}

/* ---------------------------------------------------------------- dr-validate */

/* The DR site: [env dr], else the resolved target (a site restored in place). */
static const char *site_or_target(struct cmd_ctx *ctx)
{
	const char *site = dr_site_dsn(ctx->cfg);
	return site ? site : ctx->target->conninfo;
}

/* ---------------------------------------------------------------- dr-verify-all */

static int cmd_dr_verify_all_exec(struct cmd_ctx *ctx)
{
	/* Every check that exists in this build, against the DR site. */
	static const char *const checks[][3] = {
	    {"dr-assess", NULL},	{"dr-validate", NULL},	 {"db-check", NULL},
	    {"system-resources", NULL}, {"import-health", NULL}, {"cache-stats", NULL},
	    {"diag-quick", NULL},	{"status", NULL},
	};
	const char *dsn = dr_site_dsn(ctx->cfg);
	enum status worst = ST_OK;
	int ran = 0;
	const char *cols[] = {"check", "exit", "status", "detail"};
	out_table_begin(ctx->out, "checks", 4, cols);
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		if (!dr_have_command(checks[i][0]))
			continue;
		char *out = NULL, tail[300], code[16];
		/* dr-assess judges the primary target, the rest the DR site. */
		int rc = dr_run_child(ctx->cfg, strcmp(checks[i][0], "dr-assess") ? dsn : NULL, 0,
				      checks[i], &out);
		enum status st = rc >= 0 && rc <= 3 ? (enum status)rc : ST_CRITICAL;
		dr_last_lines(tail, sizeof tail, out, 1);
		snprintf(code, sizeof code, "%d", rc);
		out_rowf(ctx->out, checks[i][0], code, status_name(st), tail);
		free(out);
		worst = status_worst(worst, st);
		ran++;
	}
	out_table_end(ctx->out);
	dr_phase("verify-all", worst, "%d checks, worst %s", ran, status_name(worst));
	out_status(ctx->out, worst, "%d checks ran against the DR site", ran);
	return worst;
}

/* ---------------------------------------------------------------- dr-perf-test */

/* Numeric leaves of a JSON document as dotted keys. */
static void flatten(const cJSON *j, const char *prefix, cJSON *flat)
{
	const cJSON *e;
	int i = 0;
	cJSON_ArrayForEach(e, j)
	{
		char key[256];
		if (e->string)
			snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", e->string);
		else
			snprintf(key, sizeof key, "%s[%d]", prefix, i);
		i++;
		if (cJSON_IsNumber(e))
			cJSON_AddNumberToObject(flat, key, e->valuedouble);
		else if (cJSON_IsObject(e) || cJSON_IsArray(e))
			flatten(e, key, flat);
	}
}

static int higher_is_worse(const char *k)
{
	return strstr(k, "ms") || strstr(k, "time") || strstr(k, "latency") ||
	       strstr(k, "duration") || strstr(k, "seconds") || strstr(k, "p95") ||
	       strstr(k, "p99");
}

static int lower_is_worse(const char *k)
{
	return strstr(k, "per_s") || strstr(k, "qps") || strstr(k, "tps") || strstr(k, "rate") ||
	       strstr(k, "throughput") || strstr(k, "hit");
}

static int cmd_dr_perf_test_exec(struct cmd_ctx *ctx)
{
	char err[512];
	if (!dr_have_command("perf-test")) {
		out_status(
		    ctx->out, ST_UNKNOWN,
		    "skipped: perf-test is not in this build of midsops; nothing to compare");
		return ST_UNKNOWN;
	}
	const char *dsn = site_or_target(ctx);
	if (args_has(ctx->args, "baseline")) {
		record_perf_baseline(ctx, NULL);
		out_status(ctx->out, ST_OK, "baseline of the current target recorded");
		return ST_OK;
	}
	cJSON *base = dr_load("perf-baseline.json");
	const cJSON *bres = cJSON_GetObjectItemCaseSensitive(base, "result");
	const char *cmd[] = {"perf-test", NULL};
	char *out = NULL;
	int rc = dr_run_child(ctx->cfg, dsn, 1, cmd, &out);
	cJSON *now = out ? cJSON_Parse(out) : NULL;
	free(out);
	enum status worst = rc >= 0 && rc <= 3 ? (enum status)rc : ST_CRITICAL;
	out_kv_status(ctx->out, "perf_test", worst, "exit %d on the DR site", rc);
	if (!now) {
		cJSON_Delete(base);
		out_status(ctx->out, ST_CRITICAL, "perf-test gave no JSON");
		return ST_CRITICAL;
	}
	if (!bres) {
		out_kv(ctx->out, "baseline", "none recorded (dr-setup or dr-perf-test --baseline)");
		worst = status_worst(worst, ST_UNKNOWN);
	} else {
		out_kv(ctx->out, "baseline", "%s", dr_str(base, "at"));
		cJSON *fb = cJSON_CreateObject(), *fn = cJSON_CreateObject();
		flatten(bres, "", fb);
		flatten(now, "", fn);
		const char *cols[] = {"figure", "baseline", "dr_site", "ratio", "status"};
		out_table_begin(ctx->out, "comparison", 5, cols);
		const cJSON *e;
		cJSON_ArrayForEach(e, fb)
		{
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(fn, e->string);
			if (!cJSON_IsNumber(n))
				continue;
			double b = e->valuedouble, v = n->valuedouble;
			double ratio = b != 0 ? v / b : (v == 0 ? 1 : INFINITY);
			enum status st = ST_OK;
			if (higher_is_worse(e->string) && b > 0)
				st = ratio > 3 ? ST_CRITICAL : ratio > 1.5 ? ST_WARNING : ST_OK;
			else if (lower_is_worse(e->string) && b > 0)
				st = ratio < 1.0 / 3   ? ST_CRITICAL
				     : ratio < 1 / 1.5 ? ST_WARNING
						       : ST_OK;
			char sb[32], sv[32], sr[32];
			snprintf(sb, sizeof sb, "%g", b);
			snprintf(sv, sizeof sv, "%g", v);
			snprintf(sr, sizeof sr, "%.2f", ratio);
			out_rowf(ctx->out, e->string, sb, sv, sr, status_name(st));
			worst = status_worst(worst, st);
		}
		out_table_end(ctx->out);
		cJSON_Delete(fb);
		cJSON_Delete(fn);
	}
	(void)err;
	cJSON_Delete(now);
	cJSON_Delete(base);
	dr_phase("perf-test", worst, "perf-test on the DR site compared with the baseline: %s",
		 status_name(worst));
	out_status(ctx->out, worst, "DR site performance against the pre-disaster baseline");
	return worst;
}

/* ---------------------------------------------------------------- dr-restore */

#include "backup.h"

/* The backup family's point-in-time restore does the work (newest physical backup, WAL
 * fetched from the repository to its end, then promotion); here it lands in the DR site's
 * data directory, gets the site's own socket and port, starts and is registered. */
static int cmd_dr_restore_exec(struct cmd_ctx *ctx)
{
	char err[1024], dir[PATH_MAX];
	const char *want = args_get(ctx->args, "backup");
	if (!args_has(ctx->args, "latest") && !want) {
		out_err(ctx->out, "dr-restore: say which backup: --latest or --backup ID");
		return EXIT_USAGE;
	}
	double t0 = util_mono();
	const char *tdir = args_get(ctx->args, "target-dir");
	/* The runbook runs dr-restore after dr-activate: with a streaming standby there is
	 * nothing to restore, its data is already current. */
	const char *site = dr_site_dsn(ctx->cfg);
	if (site && !tdir && !args_has(ctx->args, "force")) {
		struct dr_standby_snap s;
		if (dr_site_look(site, "dr-restore", 3, &s, err, sizeof err) == 0) {
			out_kv(ctx->out, "dr_site", "running (%s)",
			       s.in_recovery ? "streaming standby" : "read-write");
			out_line(
			    ctx->out,
			    "nothing to restore: the DR site is up with its own copy of the data "
			    "(--force restores from backups over it)");
			dr_phase("restore", ST_OK, "not needed: the DR site holds the data");
			return 0;
		}
	}
	if (tdir)
		snprintf(dir, sizeof dir, "%s", tdir);
	else
		snprintf(dir, sizeof dir, "%s/dr", paths_data_dir());
	long port = 0;
	if (args_get_long(ctx->args, "port", &port, err, sizeof err) < 0) {
		out_err(ctx->out, "%s", err);
		return EXIT_USAGE;
	}
	char portfile[PATH_MAX + 16];
	snprintf(portfile, sizeof portfile, "%s/port", dir);
	if (!port && access(portfile, R_OK) != 0) {
		struct cluster pc;
		port = cluster_locate(&pc, NULL, err, sizeof err) == 0 ? pc.port + 1 : 5433;
	}
	struct cluster dr;
	if (dr_site_locate(&dr, dir, (int)port, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-restore: %s", err);
		return EXIT_FAIL;
	}
	struct stat sb;
	if (stat(dr.datadir, &sb) == 0) {
		if (!args_has(ctx->args, "force")) {
			out_err(
			    ctx->out,
			    "dr-restore: %s already exists (a DR site is there); pass --force to "
			    "replace it",
			    dr.datadir);
			return EXIT_FAIL;
		}
		if (dr_site_remove(&dr, err, sizeof err) < 0) {
			out_err(ctx->out, "dr-restore: %s", err);
			return EXIT_FAIL;
		}
	}
	if (cluster_make_reachable(&dr, dir, err, sizeof err) < 0 ||
	    dr_site_own_dir(&dr, dr.logdir, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-restore: %s", err);
		return EXIT_FAIL;
	}
	/* Archiving off unless asked: the site is a copy until dr-activate makes it production. */
	int rc = backup_restore_pitr_tl(
	    ctx, want, NULL, dr.datadir,
	    BACKUP_RESTORE_CALLER_STARTS |
		(args_has(ctx->args, "keep-archiving") ? BACKUP_RESTORE_KEEP_ARCHIVING : 0),
	    args_get(ctx->args, "timeline"));
	if (rc != 0 || stat(dr.datadir, &sb) < 0) {
		out_err(ctx->out, "dr-restore: the restore from the backup repository %s failed",
			ctx->cfg->backup_dir);
		dr_phase("restore", ST_CRITICAL, "restore from %s failed", ctx->cfg->backup_dir);
		return rc ? rc : EXIT_FAIL;
	}
	if (geteuid() == 0) {
		char owner[64];
		snprintf(owner, sizeof owner, "%d:%d", (int)dr.uid, (int)dr.gid);
		char *argv[] = {"chown", "-R", "--", owner, dr.datadir, NULL};
		struct proc_opts q = {.quiet = 1};
		proc_run(argv, &q, NULL);
	}
	char path[PATH_MAX + 64];
	/* A standby's leftovers must not turn the restored site into a standby. */
	snprintf(path, sizeof path, "%s/standby.signal", dr.datadir);
	unlink(path);
	snprintf(path, sizeof path, "%s/postmaster.pid", dr.datadir);
	unlink(path);
	if (dr_site_configure(&dr, 0, err, sizeof err) < 0 ||
	    dr_site_pg_ctl(&dr, "start", NULL, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-restore: %s", err);
		return EXIT_FAIL;
	}
	char dsn[1200];
	cluster_conninfo(&dr, dsn, sizeof dsn);
	/* Recovery ends by itself at the end of the archived WAL, then promotes. */
	if (dr_site_wait_promoted(dsn, "dr-restore", 3000, err, sizeof err) < 0) {
		out_err(ctx->out, "dr-restore: the restored site did not finish recovery; see %s",
			dr.logfile);
		return EXIT_FAIL;
	}
	backup_restore_report(ctx, dsn);
	if (dr_config_set_env(ctx->cfg, DR_ENV, dsn, err, sizeof err) < 0)
		out_warn(ctx->out, "%s", err);
	cJSON *st = dr_load("state.json");
	char at[64];
	dr_now(at, sizeof at);
	state_set_str(st, "kind", "restored");
	state_set_str(st, "site_dir", dir);
	state_set_str(st, "datadir", dr.datadir);
	state_set_num(st, "port", dr.port);
	state_set_str(st, "dsn", dsn);
	state_set_str(st, "restored_at", at);
	state_set_str(st, "restored_from", want ? want : "latest");
	/* dr-validate's baseline: this backup's manifest (the newest physical one for
	 * --latest). */
	state_set_str(st, "baseline_backup", want ? want : "");
	dr_save("state.json", st, err, sizeof err);
	cJSON_Delete(st);
	out_kv(ctx->out, "dr_site", "%s", dir);
	out_kv(ctx->out, "environment", "dr = %s", dsn);
	out_kv_num(ctx->out, "seconds", util_mono() - t0, "s");
	dr_phase("restore", ST_OK, "latest backup and WAL restored into %s", dir);
	out_line(
	    ctx->out,
	    "DR site restored and running (dr-restore started it). Next: midsops dr-activate, then "
	    "dr-validate");
	return 0;
}

const struct cmd_entry cmd_dr_table[] = {
    {
	.name = "dr-setup",
	.options = "target-dir= port= force no-baseline synchronous",
	.summary = "Create the DR site: a streaming standby of the primary (pg_basebackup -R, "
		   "replication slot), registered as environment dr; --synchronous: the primary "
		   "waits for it on every commit",
	.usage = "dr-setup [--target-dir DIR] [--port N] [--force] [--no-baseline] "
		 "[--synchronous]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.complete = COMPLETE_FILE,
	.exec = cmd_dr_setup_exec,
    },
    {
	.name = "dr-assess",
	.summary = "Disaster assessment: primary and standby reachable, replication lag in "
		   "bytes and time, last backup, WAL archive continuity, estimated data loss",
	.usage = "dr-assess [--json]",
	.flags = CMD_CHECK,
	.exec = cmd_dr_assess_exec,
    },
    {
	.name = "dr-report",
	.options = "initial",
	.summary = "Write the initial DR impact report (--initial), or append the progress of "
		   "the recovery phases to it",
	.usage = "dr-report [--initial]",
	.exec = cmd_dr_report_exec,
    },
    {
	.name = "dr-activate",
	.options = "yes force i-have-fenced-it",
	.summary = "Promote the DR site and re-point production to it, after fencing the old "
		   "primary (the embedded cluster is stopped and marked; any other by [dr] "
		   "fence_command, or --i-have-fenced-it); refuses while the standby still "
		   "streams from the primary",
	.usage = "dr-activate [--yes] [--i-have-fenced-it]",
	.flags = CMD_DESTRUCTIVE,
	.exec = dr_activate_exec,
    },
    {
	.name = "dr-restore",
	.options = "latest backup= timeline= target-dir= port= force keep-archiving",
	.summary = "Without a standby: restore the latest physical backup and its WAL into the "
		   "DR site and start it",
	.usage = "dr-restore --latest|--backup ID [--timeline N|latest|current] [--target-dir "
		 "DIR] [--port N] [--force] [--keep-archiving]",
	.flags = CMD_DESTRUCTIVE | CMD_LONG,
	.exec = cmd_dr_restore_exec,
    },
    {
	.name = "dr-validate",
	.summary = "Validate the DR site: writes, row counts and checksums against the "
		   "baseline (the old primary's figures before the disaster, else the restored "
		   "backup's manifest), validate-all-data",
	.usage = "dr-validate [--json]",
	.flags = CMD_CHECK | CMD_LONG,
	.exec = dr_validate_exec,
    },
    {
	.name = "dr-verify-all",
	.summary = "Run every check against the DR site",
	.usage = "dr-verify-all [--json]",
	.flags = CMD_CHECK | CMD_LONG,
	.exec = cmd_dr_verify_all_exec,
    },
    {
	.name = "dr-perf-test",
	.options = "baseline",
	.summary = "perf-test on the DR site compared with the baseline recorded before the "
		   "disaster (--baseline records it now)",
	.usage = "dr-perf-test [--baseline] [--json]",
	.flags = CMD_CHECK | CMD_LONG,
	.exec = cmd_dr_perf_test_exec,
    },
    {0},
};
