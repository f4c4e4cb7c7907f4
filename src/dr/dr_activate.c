/* dr-activate: promote the DR site after the primary is lost. Before it promotes, it asks
 * both sides whether the primary is really gone (midsops's own connection, and the
 * standby's walreceiver), fences the old primary for real (stops and marks the embedded
 * cluster, or runs [dr] fence_command), and reports the loss no more precisely than it is
 * known. The override, --i-have-fenced-it, stands for a fence the operator did; it never
 * overrides the standby's evidence that the primary still streams. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "dr_role.h"
#include "probe.h"
#include "target.h"
#include "util.h"

enum fence_plan { FENCE_CLUSTER, FENCE_COMMAND, FENCE_ASSERTED };

/* The old primary as midsops sees it: 1 reachable (*writable set), 0 not. */
static int primary_reach(const struct target *t, int *writable, struct dr_primary_snap *p)
{
	char err[512];
	*writable = 0;
	memset(p, 0, sizeof *p);
	PGconn *oc = probe_dr_connect(t->conninfo, "dr-activate", 3, err, sizeof err);
	if (!oc)
		return 0;
	probe_dr_primary(oc, p);
	*writable = p->ok && !p->in_recovery;
	PQfinish(oc);
	return 1;
}

/* The promoted server's own timeline: the one in the name of the WAL file it writes now
 * (pg_control_checkpoint() still shows the old one until the first checkpoint). */
static void promoted_position(PGconn *sc, char *lsn, size_t ln, char *walfile, size_t wn,
			      unsigned *tli)
{
	char err[256];
	*tli = 0;
	snprintf(lsn, ln, "unknown");
	snprintf(walfile, wn, "unknown");
	PGresult *r = db_query(sc, err, sizeof err,
			       "select pg_current_wal_lsn()::text, "
			       "pg_walfile_name(pg_current_wal_lsn())",
			       0, NULL);
	if (!r)
		return;
	snprintf(lsn, ln, "%s", PQgetvalue(r, 0, 0));
	snprintf(walfile, wn, "%s", PQgetvalue(r, 0, 1));
	char hex[9];
	snprintf(hex, sizeof hex, "%.8s", walfile);
	*tli = (unsigned)strtoul(hex, NULL, 16);
	PQclear(r);
}

/* One activation's facts, gathered step by step. */
struct act {
	struct cmd_ctx *ctx;
	const char *site;
	char shown_old[2048], shown_site[1200], ev[1200];
	PGconn *sc;
	struct dr_standby_snap s;
	cJSON *st;
	int same, asserted, reach, writable;
	struct dr_primary_snap p;
	struct dr_walrcv w;
	enum fence_plan plan;
	const char *state_old;
	struct dr_loss loss;
	char fence_text[1500];
	int fence_done;
	double t0;
};

/* Ask both sides whether the primary is gone: -1 (said) when the standby still hears it. */
static int act_evidence(struct act *a)
{
	/* Evidence 1: midsops's own connection to the old primary. */
	memset(&a->p, 0, sizeof a->p);
	if (!a->same)
		a->reach = primary_reach(a->ctx->target, &a->writable, &a->p);
	/* Evidence 2: the standby's walreceiver. It sees the primary over its own connection,
	 * which a partition between midsops and the primary does not cut. */
	memset(&a->w, 0, sizeof a->w);
	if (!a->s.in_recovery)
		return 0;
	dr_walrcv_settle(a->sc, &a->w, 3);
	dr_walrcv_evidence(&a->w, a->ev, sizeof a->ev);
	if (!a->w.streaming)
		return 0;
	out_err(a->ctx->out,
		"dr-activate: refused: the primary is alive: %s. %s Promoting now "
		"would make two primaries whose writes cannot be merged. Stop the "
		"primary first (the embedded cluster: midsops cluster stop), or swap "
		"roles without loss with dr-switchover. --i-have-fenced-it does not "
		"override this: a fenced primary does not stream",
		a->ev,
		a->reach ? "midsops reaches it too."
			 : "midsops cannot connect to it, but the standby still receives "
			   "from it.");
	dr_phase("activate", ST_CRITICAL,
		 "refused: the standby still streams from "
		 "the primary");
	return -1;
}

/* How the old primary is fenced: -1 (said) when midsops cannot and nobody says it did. */
static int act_plan(struct act *a)
{
	struct cmd_ctx *ctx = a->ctx;
	a->state_old = a->writable ? "reachable and accepts writes"
		       : a->reach  ? "reachable (in recovery)"
				   : "unreachable from midsops: down, or only cut off from it";
	if (ctx->target->embedded)
		a->plan = FENCE_CLUSTER;
	else if (ctx->cfg->dr_fence_command[0])
		a->plan = FENCE_COMMAND;
	else if (a->asserted || a->same)
		a->plan = FENCE_ASSERTED;
	else {
		out_err(
		    ctx->out,
		    "dr-activate: refused: the old primary %s is %s, and midsops cannot fence it: "
		    "it is not the embedded cluster and [dr] fence_command is not set. If it is "
		    "still up (or comes back), it takes writes the promoted site never sees, and "
		    "the two cannot be merged afterwards. Configure [dr] fence_command, or make "
		    "sure it cannot accept writes (stop it, power it off, cut its clients off) "
		    "and pass --i-have-fenced-it",
		    a->shown_old, a->state_old);
		return -1;
	}
	/* What promotion loses, measured before it (after it the standby is no longer one). */
	memset(&a->loss, 0, sizeof a->loss);
	if (a->s.in_recovery)
		dr_loss_compute(a->reach ? &a->p : NULL, &a->w, dr_str(a->st, "last_primary_lsn"),
				dr_str(a->st, "last_primary_at"), &a->loss);
	return 0;
}

/* The slot that fed the standby is orphaned by the promotion: while the old primary
 * still answers, drop it, so that it never holds WAL back there. */
static void act_drop_old_slot(struct act *a)
{
	char err[1024];
	if (!a->reach)
		return;
	PGconn *oc = probe_dr_connect(a->ctx->target->conninfo, "dr-activate", 3, err, sizeof err);
	int dropped = oc ? dr_slots_drop_orphans(oc, err, sizeof err) : -1;
	PQfinish(oc);
	if (dropped > 0)
		out_kv(a->ctx->out, "old_slot", "%s dropped on the old primary", DR_SLOT);
	else if (dropped < 0)
		out_warn(a->ctx->out, "the slot %s on the old primary was not dropped: %s", DR_SLOT,
			 err);
}

static int act_fence_command(struct act *a)
{
	struct cmd_ctx *ctx = a->ctx;
	char err[1024], *fout = NULL;
	int frc = dr_fence_command(ctx->cfg, ctx->target->conninfo,
				   dr_str(a->st, "primary_datadir"), &fout, err, sizeof err);
	char tail[400] = "";
	if (fout) {
		size_t n = strlen(fout);
		while (n && (fout[n - 1] == '\n' || fout[n - 1] == ' '))
			fout[--n] = 0;
		snprintf(tail, sizeof tail, "%s", n > 300 ? fout + n - 300 : fout);
	}
	free(fout);
	if (frc != 0 && !a->asserted) {
		out_err(ctx->out,
			"dr-activate: not promoted: [dr] fence_command %s (exit %d)%s%s. Fix "
			"it, or fence the old primary yourself and pass --i-have-fenced-it",
			frc < 0 ? err : "failed", frc, tail[0] ? ": " : "", tail);
		return -1;
	}
	a->fence_done = frc == 0;
	snprintf(a->fence_text, sizeof a->fence_text, "%s (exit %d)%s%s",
		 frc == 0 ? "fenced by [dr] fence_command"
			  : "NOT fenced: [dr] fence_command failed; you passed "
			    "--i-have-fenced-it",
		 frc, tail[0] ? ": " : "", tail);
	return 0;
}

/* The fence, before the promotion: a failed fence leaves the standby a standby. */
static int act_fence(struct act *a)
{
	struct cmd_ctx *ctx = a->ctx;
	char err[1024];
	int cleared = 0;
	if (a->plan == FENCE_CLUSTER) {
		struct cluster c;
		if (cluster_locate(&c, NULL, err, sizeof err) < 0 ||
		    dr_fence_cluster(&c, "dr-activate promoted the DR site", &cleared, err,
				     sizeof err) < 0) {
			out_err(ctx->out, "dr-activate: not promoted: the fence failed: %s", err);
			return -1;
		}
		a->fence_done = 1;
		snprintf(
		    a->fence_text, sizeof a->fence_text,
		    "fenced: the embedded cluster %.1200s is stopped and marked; 'cluster start' "
		    "refuses it until 'cluster unfence'%s",
		    c.datadir,
		    cleared ? "; its synchronous_standby_names was cleared, so it will not "
			      "wait for the promoted site if started again"
			    : "");
	} else if (a->plan == FENCE_COMMAND) {
		if (act_fence_command(a) < 0)
			return -1;
	} else {
		snprintf(a->fence_text, sizeof a->fence_text,
			 a->same
			     ? "not needed: the DR site is the target itself"
			     : "NOT done by midsops: you passed --i-have-fenced-it for %s (%s). "
			       "If it can still take writes, they are lost to production",
			 a->shown_old, a->state_old);
		if (!a->same)
			out_warn(ctx->out, "the old primary %s was not fenced by midsops",
				 a->shown_old);
	}
	return 0;
}

/* A fence that held has cut the stream and the clients: check both. */
static int act_fence_held(struct act *a)
{
	if (a->plan == FENCE_ASSERTED || a->same)
		return 0;
	int wr2 = 0;
	struct dr_primary_snap p2;
	if (primary_reach(a->ctx->target, &wr2, &p2) && wr2) {
		out_err(a->ctx->out,
			"dr-activate: not promoted: after the fence the old primary %s still "
			"accepts writes",
			a->shown_old);
		return -1;
	}
	struct dr_walrcv w2;
	if (a->s.in_recovery && dr_walrcv_settle(a->sc, &w2, 10) == 0 && w2.streaming) {
		dr_walrcv_evidence(&w2, a->ev, sizeof a->ev);
		out_err(a->ctx->out,
			"dr-activate: not promoted: after the fence the primary still streams "
			"to the standby: %s",
			a->ev);
		return -1;
	}
	return 0;
}

static int act_promote(struct act *a)
{
	char err[1024];
	if (!a->s.in_recovery)
		return 0;
	char *ok = db_scalar(a->sc, err, sizeof err, "select pg_promote(true, 60)", 0, NULL);
	if (!ok || ok[0] != 't') {
		out_err(a->ctx->out, "dr-activate: promotion failed: %s", ok ? "timed out" : err);
		free(ok);
		return -1;
	}
	free(ok);
	return 0;
}

/* Re-point production; with the embedded default, make production the default too,
 * so the old embedded cluster is no longer anybody's target. */
static int act_repoint(struct act *a)
{
	struct cmd_ctx *ctx = a->ctx;
	char err[1024];
	if (dr_config_set_env(ctx->cfg, "production", a->site, err, sizeof err) < 0 ||
	    ((ctx->target->embedded || !ctx->cfg->default_env[0]) &&
	     config_save_key(ctx->cfg, "midsops", "default_env", "production", err, sizeof err) <
		 0)) {
		out_err(ctx->out, "dr-activate: promoted, but the config was not updated: %s", err);
		return -1;
	}
	if (ctx->target->embedded || !ctx->cfg->default_env[0])
		snprintf(ctx->cfg->default_env, sizeof ctx->cfg->default_env, "production");
	if (getenv("MIDSOPS_DSN"))
		out_warn(ctx->out,
			 "MIDSOPS_DSN is set and still overrides the production environment");
	else if (strcmp(ctx->cfg->default_env, "production") != 0)
		out_warn(ctx->out, "default_env is '%s', not production", ctx->cfg->default_env);
	return 0;
}

/* state.json: the fence and the activation, which freezes dr-validate's baseline. */
static void act_record(struct act *a, const char *at, const char *lsn, unsigned tli)
{
	char err[1024];
	cJSON *st = a->st;
	cJSON *fence = cJSON_CreateObject();
	cJSON_AddStringToObject(fence, "primary", a->shown_old);
	cJSON_AddBoolToObject(fence, "embedded", a->ctx->target->embedded);
	cJSON_AddStringToObject(fence, "at", at);
	cJSON_AddStringToObject(fence, "method",
				a->plan == FENCE_CLUSTER   ? "stopped-and-marked"
				: a->plan == FENCE_COMMAND ? "fence_command"
							   : "operator-asserted");
	cJSON_AddBoolToObject(fence, "done_by_midsops", a->fence_done);
	cJSON_AddBoolToObject(fence, "was_reachable", a->reach);
	cJSON_AddStringToObject(fence, "detail", a->fence_text);
	cJSON_DeleteItemFromObjectCaseSensitive(st, "fenced");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "fence");
	cJSON_AddItemToObject(st, "fence", fence);
	cJSON_DeleteItemFromObjectCaseSensitive(st, "activated_at");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "activated_lsn");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "activated_timeline");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "previous_production");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "activation_loss");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "baseline_frozen_at");
	cJSON_AddStringToObject(st, "activated_at", at);
	cJSON_AddStringToObject(st, "activated_lsn", lsn);
	cJSON_AddNumberToObject(st, "activated_timeline", tli);
	cJSON_AddStringToObject(st, "previous_production", a->shown_old);
	cJSON_AddStringToObject(st, "activation_loss",
				a->loss.text[0] ? a->loss.text
						: "none: the "
						  "site was "
						  "not a standby");
	/* dr-validate's baseline stays the old primary's figures from here on. */
	cJSON_AddStringToObject(st, "baseline_frozen_at", at);
	if (dr_save("state.json", st, err, sizeof err) < 0)
		out_warn(a->ctx->out, "%s", err);
	db_event(a->sc, "warning", "dr-activate",
		 "DR site promoted at %s (timeline %u); production re-pointed; old primary %s: %s",
		 lsn, tli, a->shown_old, a->fence_text);
}

/* Fenced, promoted, re-pointed, recorded: 0, else EXIT_FAIL or EXIT_USAGE (said). */
static int act_run(struct act *a)
{
	struct cmd_ctx *ctx = a->ctx;
	if (act_evidence(a) < 0 || act_plan(a) < 0)
		return EXIT_FAIL;
	char what[sizeof a->shown_old + sizeof a->shown_site + 256]; /* both names whole */
	snprintf(what, sizeof what,
		 "dr-activate fences the old primary %s (%s), promotes %s and re-points "
		 "production to it",
		 a->shown_old,
		 a->plan == FENCE_CLUSTER   ? "stops the embedded cluster and marks it fenced"
		 : a->plan == FENCE_COMMAND ? "runs [dr] fence_command"
					    : "NOT fenced by midsops: you said you fenced it",
		 a->shown_site);
	char refusal[sizeof what + 64];
	snprintf(refusal, sizeof refusal, "%s needs confirmation: pass --yes", what);
	if (!cmd_confirm(ctx, "activate", what, refusal))
		return EXIT_USAGE;
	act_drop_old_slot(a);
	if (act_fence(a) < 0 || act_fence_held(a) < 0 || act_promote(a) < 0)
		return EXIT_FAIL;
	char lsn[64], walfile[64], at[64];
	unsigned tli;
	promoted_position(a->sc, lsn, sizeof lsn, walfile, sizeof walfile, &tli);
	dr_now(at, sizeof at);
	if (act_repoint(a) < 0)
		return EXIT_FAIL;
	act_record(a, at, lsn, tli);
	double secs = util_mono() - a->t0;
	out_kv(ctx->out, "promoted", "%s", a->shown_site);
	out_kv(ctx->out, "position", "%s", lsn);
	if (tli)
		out_kv(ctx->out, "timeline", "%u (WAL file %s)", tli, walfile);
	else
		out_kv(ctx->out, "timeline", "unknown");
	out_kv(ctx->out, "production", "%s (in %s)", a->shown_site, ctx->cfg->path);
	out_kv(ctx->out, "old_primary", "%s", a->fence_text);
	if (a->loss.text[0])
		out_kv(ctx->out, "data_loss", "%s", a->loss.text);
	out_kv_num(ctx->out, "seconds", secs, "s");
	dr_phase("activate", ST_OK,
		 "DR site promoted (timeline %u); production re-pointed; old "
		 "primary: %.200s",
		 tli, a->fence_text);
	out_line(ctx->out, "DR site active. Next: midsops dr-validate");
	return 0;
}

int dr_activate_exec(struct cmd_ctx *ctx)
{
	char err[1024];
	const char *site = dr_site_dsn(ctx->cfg);
	if (args_has(ctx->args, "force")) {
		out_err(
		    ctx->out,
		    "dr-activate: --force is gone: it set default_transaction_read_only, which any "
		    "client turns off for its own transaction, so it never was a fence. Stop the "
		    "old primary, configure [dr] fence_command, or (having fenced it yourself) "
		    "pass --i-have-fenced-it");
		return EXIT_USAGE;
	}
	if (!site) {
		out_err(ctx->out,
			"dr-activate: no DR site ([env dr]); create one with dr-setup, or "
			"restore one with dr-restore --latest");
		return EXIT_FAIL;
	}
	struct act act, *a = &act;
	memset(a, 0, sizeof *a);
	a->t0 = util_mono();
	a->ctx = ctx;
	a->site = site;
	a->asserted = args_has(ctx->args, "i-have-fenced-it");
	conninfo_mask(site, a->shown_site, sizeof a->shown_site);
	target_display(ctx->target, a->shown_old, sizeof a->shown_old);
	a->sc = probe_dr_connect(site, "dr-activate", 5, err, sizeof err);
	if (!a->sc) {
		out_err(ctx->out, "dr-activate: the DR site: %s", err);
		return EXIT_FAIL;
	}
	int rc = EXIT_FAIL;
	probe_dr_standby(a->sc, &a->s);
	a->st = dr_load("state.json");
	a->same = strcmp(site, ctx->target->conninfo) == 0;
	if (!a->s.ok) {
		out_err(ctx->out, "dr-activate: %s", a->s.error);
	} else if (!a->s.in_recovery && a->same) {
		out_line(ctx->out, "the DR site is already the active primary%s%s",
			 dr_str(a->st, "activated_at")[0] ? " since " : "",
			 dr_str(a->st, "activated_at"));
		rc = 0;
	} else
		rc = act_run(a);
	cJSON_Delete(a->st);
	PQfinish(a->sc);
	return rc;
}
