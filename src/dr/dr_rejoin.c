/* Rejoin: an old primary (stopped, fenced by dr-activate) becomes a standby of the new
 * primary. pg_rewind takes back what the old primary wrote after the timelines forked, from
 * the new primary over a connection; when it cannot (no checksums or wal_log_hints, no
 * common ancestor, the new primary's WAL since the fork gone), a fresh copy with
 * pg_basebackup replaces the data directory. Also the orphaned-slot cleanup a role change
 * needs, and what pg_rewind needs turned on (checksums or wal_log_hints). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dr.h"
#include "dr_role.h"
#include "dr_site.h"
#include "log.h"
#include "proc.h"
#include "target.h"
#include "util.h"

int dr_slots_drop_orphans(PGconn *old_primary, char *err, size_t errlen)
{
	char *n =
	    db_scalar(old_primary, err, errlen,
		      "select count(pg_drop_replication_slot(slot_name))\n"
		      "from pg_replication_slots\n"
		      "where slot_name = '" DR_SLOT "' and slot_type = 'physical' and not active",
		      0, NULL);
	if (!n)
		return -1;
	int k = atoi(n);
	free(n);
	return k;
}

void dr_rewind_readiness(PGconn *c, char *msg, size_t n)
{
	char err[256];
	msg[0] = 0;
	PGresult *r = db_query(c, err, sizeof err,
			       "select current_setting('data_checksums'), "
			       "current_setting('wal_log_hints')",
			       0, NULL);
	if (!r)
		return;
	if (strcmp(PQgetvalue(r, 0, 0), "on") != 0 && strcmp(PQgetvalue(r, 0, 1), "on") != 0)
		snprintf(msg, n,
			 "this cluster has neither data checksums nor wal_log_hints, so pg_rewind "
			 "cannot rejoin it after a failover (dr-rejoin would copy it whole); turn "
			 "one on with 'midsops dr-prepare-rewind --yes' (wal_log_hints, a restart) "
			 "or 'dr-prepare-rewind --checksums --yes' (offline)");
	PQclear(r);
}

static int run_rewind(const struct dr_node *old, const struct dr_node *src, char *why,
		      size_t whylen, char *diverged, size_t dlen)
{
	char bin[1024];
	diverged[0] = 0;
	if (!proc_pg_bin("pg_rewind", bin, sizeof bin)) {
		snprintf(why, whylen, "pg_rewind not found");
		return -1;
	}
	/* A local socket with trust: the conninfo carries no password. */
	char source[1600];
	snprintf(source, sizeof source, "--source-server=%s application_name=midsops_rewind",
		 src->dsn);
	char *argv[] = {bin, "-D", (char *)old->c.datadir, source, NULL};
	char *env[] = {"LC_ALL=C", NULL};
	struct proc_opts o = {
	    .uid = old->c.uid, .gid = old->c.gid, .capture = 1, .cwd = "/", .envp_add = env};
	char *out = NULL;
	int st = proc_run(argv, &o, &out);
	const char *d = out ? strstr(out, "servers diverged at WAL location ") : NULL;
	char at[32]; /* an LSN is 17 bytes at most; diverged[] holds 32 */
	if (d && sscanf(d + 33, "%31s", at) == 1)
		snprintf(diverged, dlen, "%s", at);
	if (st != 0) {
		char last[512];
		dr_last_lines(last, sizeof last, out, 1); /* the tool's error */
		snprintf(why, whylen, "pg_rewind exit %d: %s", st, last[0] ? last : "no output");
	}
	log_event(st ? "warning" : "info", "dr-rejoin", "pg_rewind of %s: exit %d", old->c.datadir,
		  st);
	free(out);
	return st == 0 ? 0 : -1;
}

static int reclone(const struct dr_node *old, const struct dr_node *src, PGconn *nc, char *err,
		   size_t errlen)
{
	/* pg_basebackup -C makes the slot: one left from an earlier standby would stop it,
	 * after the old data directory is gone. So a slot that cannot be dropped stops the
	 * reclone here, with the old directory still in place. */
	if (dr_setup_drop_idle_slot(nc, err, errlen) < 0) {
		char why[1024];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen,
			 "cannot drop the idle slot " DR_SLOT " on the primary, so the old "
			 "primary was not recloned (its data directory is untouched): %.850s",
			 why);
		return -1;
	}
	if (dr_site_remove(&old->c, err, errlen) < 0 ||
	    dr_site_basebackup(&old->c, src->dsn, DR_SLOT, err, errlen) < 0)
		return -1;
	return 0;
}

static int confirm_needed(struct out *o, const struct dr_node *old, const struct dr_node *n)
{
	out_err(o,
		"dr-rejoin discards what the old primary, the %s (%s), wrote after the "
		"failover and makes it a standby of the %s: pass --yes",
		old->name, old->c.datadir, n->name);
	return EXIT_USAGE;
}

/* A running old primary is rejoined already when it streams as a standby; any other
 * running node is refused, since rewinding it would need it stopped. */
static int old_running(struct out *o, PGconn *nc, const struct dr_node *old,
		       const struct dr_node *n)
{
	char err[1024];
	PGconn *oc = probe_dr_connect(old->dsn, "dr-rejoin", 5, err, sizeof err);
	char *r2 =
	    oc ? db_scalar(oc, err, sizeof err, "select pg_is_in_recovery()", 0, NULL) : NULL;
	int standby = r2 && r2[0] == 't';
	free(r2);
	PQfinish(oc);
	if (standby && dr_wait_streaming(nc, 1) == 0) {
		out_line(o, "the %s already streams from the %s as its standby", old->name,
			 n->name);
		return 0;
	}
	out_err(o,
		"dr-rejoin: refused: the old primary %s (%s) is running%s; stop or fence it "
		"first (dr-activate fences it)",
		old->name, old->c.datadir, standby ? " as a standby that does not stream" : "");
	return EXIT_FAIL;
}

int dr_rejoin(struct out *o, struct config *cfg, const struct target *t,
	      const struct dr_rejoin_opts *opts)
{
	char err[1024];
	PGconn *nc = probe_dr_connect(t->conninfo, "dr-rejoin", 5, err, sizeof err);
	if (!nc) {
		out_err(o, "dr-rejoin: the new primary (the target): %s", err);
		return EXIT_FAIL;
	}
	int rc = EXIT_FAIL;
	struct dr_node n, old;
	char *rec = db_scalar(nc, err, sizeof err, "select pg_is_in_recovery()", 0, NULL);
	int in_rec = !rec || rec[0] == 't';
	free(rec);
	if (in_rec) {
		out_err(o, "dr-rejoin: the target is not a primary (in recovery); run dr-activate "
			   "first, or dr-switchover while both run");
		goto out;
	}
	if (dr_node_of(nc, &n, err, sizeof err) < 0 ||
	    dr_node_other(&n, &old, err, sizeof err) < 0) {
		out_err(o, "dr-rejoin: %s", err);
		goto out;
	}
	if (cluster_state(&old.c, NULL) == CLUSTER_RUNNING) {
		rc = old_running(o, nc, &old, &n);
		goto out;
	}
	if (cluster_state(&old.c, NULL) == CLUSTER_ABSENT) {
		out_err(o,
			"dr-rejoin: there is no old primary at %s to rejoin; make a new standby "
			"with dr-setup",
			old.c.datadir);
		goto out;
	}
	struct dr_control ctl;
	if (dr_node_control(&old, &ctl, err, sizeof err) < 0) {
		out_err(o, "dr-rejoin: %s", err);
		goto out;
	}
	int can_rewind = ctl.checksums || ctl.wal_log_hints;
	if (!can_rewind)
		out_warn(o,
			 "the old primary has neither data checksums nor wal_log_hints: pg_rewind "
			 "cannot rewind it, and it will be copied whole; 'midsops "
			 "dr-prepare-rewind' turns one on for next time");
	if (!opts->yes) {
		rc = confirm_needed(o, &old, &n);
		goto out;
	}
	double t0 = util_mono();
	char why[700] = "", diverged[32] = "";
	const char *method = "pg_rewind";
	/* pg_rewind runs even then: its own refusal is the reason given for the copy. */
	if (opts->no_rewind)
		snprintf(why, sizeof why, "--no-rewind");
	/* pg_rewind reads the source's timeline from its control file, which a freshly
	 * promoted server updates only at its first checkpoint (spread over minutes): until
	 * then the rewound node would ask for the new timeline with a minimum recovery point
	 * on an old one, and not start. */
	else if (db_exec(nc, err, sizeof err, "checkpoint", 0, NULL) < 0)
		out_warn(o,
			 "dr-rejoin: the checkpoint on the %s failed, so pg_rewind may see its "
			 "timeline as it was before the promotion: %s",
			 n.name, err);
	if (why[0] || run_rewind(&old, &n, why, sizeof why, diverged, sizeof diverged) < 0) {
		method = "re-clone (pg_basebackup)";
		out_kv(o, "pg_rewind", "%s: %s",
		       opts->no_rewind ? "not used" : "failed, so the node is copied whole", why);
		out_progress(o, "base backup", 0, 0, old.c.datadir);
		int bad = reclone(&old, &n, nc, err, sizeof err);
		out_progress_end(o);
		if (bad) {
			out_err(o, "dr-rejoin: the copy from the %s failed: %s", n.name, err);
			goto out;
		}
	} else if (dr_slot_ensure(nc, err, sizeof err) < 0) {
		out_err(o, "dr-rejoin: cannot create slot %s on the %s: %s", DR_SLOT, n.name, err);
		goto out;
	}
	/* With standby.signal in place the node can no longer take a write, so the fence can
	 * go before the start; it comes back if the node does not stream. */
	char fwhy[256];
	int fenced = cluster_fenced(&old.c, fwhy, sizeof fwhy);
	if (dr_node_make_standby(&old, &n, 1, err, sizeof err) < 0 ||
	    (fenced && dr_unfence_cluster(&old.c, NULL, err, sizeof err) < 0) ||
	    dr_site_pg_ctl(&old.c, "start", NULL, err, sizeof err) < 0) {
		out_err(o, "dr-rejoin: %s", err);
		goto refence;
	}
	int streaming = dr_wait_streaming(nc, 90) == 0;
	double secs = util_mono() - t0;
	int dropped = 0;
	PGconn *oc = probe_dr_connect(old.dsn, "dr-rejoin", 10, err, sizeof err);
	if (oc) {
		dropped = dr_slots_drop_orphans(oc, err, sizeof err);
		PQfinish(oc);
	}
	if (!streaming) {
		out_err(o,
			"dr-rejoin: the %s started as a standby but does not stream from the %s "
			"within 90 s; see %s",
			old.name, n.name, old.c.logfile);
		goto refence;
	}
	if (dr_role_repoint(cfg, &n, &old, err, sizeof err) < 0) {
		out_err(o, "dr-rejoin: rejoined, but the config was not updated: %s", err);
		goto out;
	}
	db_event(nc, "info", "dr-rejoin", "the old primary %s rejoined as a standby by %s",
		 old.c.datadir, method);
	out_kv(o, "rejoined", "%s (%s) as a standby of the %s", old.name, old.c.datadir, n.name);
	out_kv(o, "method", "%s", method);
	if (diverged[0])
		out_kv(o, "diverged_at",
		       "%s (what the old primary wrote after this was never on "
		       "the new primary, and is gone)",
		       diverged);
	out_kv_status(o, "streaming", ST_OK, "yes");
	out_kv(o, "fence", "%s", fenced ? "lifted: it is a standby now" : "none was set");
	if (dropped > 0)
		out_kv(o, "orphaned_slot", "%s dropped on the rejoined node", DR_SLOT);
	struct out_fig f = {.value = secs, .unit = OUT_SECONDS};
	out_fig(o, "seconds", &f, "%.2f s", secs);
	dr_phase("rejoin", ST_OK, "old primary %s rejoined as a standby by %s", old.c.datadir,
		 method);
	out_line(o, "the %s streams from the %s; dr-assess shows the pair", old.name, n.name);
	rc = 0;
	goto out;
refence:
	if (fenced && dr_fence_cluster(&old.c, fwhy, NULL, err, sizeof err) < 0)
		out_err(o, "dr-rejoin: and the fence could not be put back: %s", err);
	else if (fenced)
		out_line(o, "the %s is stopped and fenced again", old.name);
out:
	PQfinish(nc);
	return rc;
}

/* ---------------------------------------------------------------- dr-prepare-rewind */

static int run_checksums(const struct dr_node *n, char *err, size_t errlen)
{
	char bin[1024];
	if (!proc_pg_bin("pg_checksums", bin, sizeof bin)) {
		snprintf(err, errlen, "pg_checksums not found");
		return -1;
	}
	char *argv[] = {bin, "--enable", "-D", (char *)n->c.datadir, NULL};
	struct proc_opts o = {.uid = n->c.uid, .gid = n->c.gid, .capture = 1, .cwd = "/"};
	char *out = NULL;
	int st = proc_run(argv, &o, &out);
	if (st != 0) {
		char last[512];
		dr_last_lines(last, sizeof last, out, 1); /* the tool's error */
		snprintf(err, errlen, "pg_checksums --enable -D %s: exit %d: %s", n->c.datadir, st,
			 last);
	}
	free(out);
	return st == 0 ? 0 : -1;
}

int dr_prepare_rewind(struct out *o, const struct target *t, int use_checksums, int yes)
{
	char err[1024];
	struct dr_node nodes[2];
	int nn = 0;
	/* A target midsops does not run is the operator's to change. */
	PGconn *c = probe_dr_connect(t->conninfo, "dr-prepare-rewind", 5, err, sizeof err);
	if (c && dr_node_of(c, &nodes[0], err, sizeof err) < 0) {
		char msg[600];
		dr_rewind_readiness(c, msg, sizeof msg);
		PQfinish(c);
		out_err(o, "dr-prepare-rewind: %s; %s", err,
			msg[0] ? "set wal_log_hints = on there and restart it"
			       : "pg_rewind can already work on it");
		return msg[0] ? EXIT_FAIL : 0;
	}
	PQfinish(c);
	if (dr_node_embedded(&nodes[nn], NULL, NULL, err, sizeof err) == 0 &&
	    cluster_state(&nodes[nn].c, NULL) != CLUSTER_ABSENT)
		nn++;
	if (dr_node_site(&nodes[nn], NULL, NULL, err, sizeof err) == 0 &&
	    cluster_state(&nodes[nn].c, NULL) != CLUSTER_ABSENT)
		nn++;
	if (!nn) {
		out_err(o, "dr-prepare-rewind: midsops runs no cluster here (no embedded cluster, "
			   "no DR site)");
		return EXIT_FAIL;
	}
	struct dr_control ctl[2];
	int need[2] = {0, 0}, running[2] = {0, 0}, any = 0;
	for (int i = 0; i < nn; i++) {
		running[i] = cluster_state(&nodes[i].c, NULL) == CLUSTER_RUNNING;
		if (dr_node_control(&nodes[i], &ctl[i], err, sizeof err) < 0) {
			out_err(o, "dr-prepare-rewind: %s", err);
			return EXIT_FAIL;
		}
		need[i] =
		    use_checksums ? !ctl[i].checksums : !ctl[i].checksums && !ctl[i].wal_log_hints;
		out_kv(o, nodes[i].name, "%s: data checksums %s, wal_log_hints %s",
		       nodes[i].c.datadir, ctl[i].checksums ? "on" : "off",
		       ctl[i].wal_log_hints ? "on" : "off");
		any |= need[i];
	}
	if (!any) {
		out_line(o, "nothing to do: pg_rewind can work on %s",
			 nn == 2 ? "both nodes" : "this node");
		return 0;
	}
	if (!yes) {
		out_err(
		    o, "dr-prepare-rewind stops and starts each node that needs it%s: pass --yes",
		    use_checksums ? " (pg_checksums works offline; writes stop meanwhile)" : "");
		return EXIT_USAGE;
	}
	/* pg_checksums wants every node of a replicated pair switched while all are down, so
	 * then both stop; wal_log_hints only needs a restart of the node that lacks it. The
	 * primary stops first, so its fast shutdown hands the standby all its WAL, and starts
	 * first, so the standby finds it. */
	int order[2] = {0, 1};
	if (nn == 2 && strstr(ctl[0].state, "recovery"))
		order[0] = 1, order[1] = 0;
	for (int k = 0; k < nn; k++) {
		struct dr_node *n = &nodes[order[k]];
		if (running[order[k]] && (use_checksums || need[order[k]]) &&
		    dr_site_pg_ctl(&n->c, "stop", "fast", err, sizeof err) < 0)
			goto fail;
	}
	for (int k = 0; k < nn; k++) {
		int i = order[k];
		struct dr_node *n = &nodes[i];
		if (need[i]) {
			int bad =
			    use_checksums
				? run_checksums(n, err, sizeof err)
				: cluster_file_put(&n->c, n->c.datadir, "postgresql.auto.conf",
						   "wal_log_hints = on\n", 1, err, sizeof err);
			if (bad < 0)
				goto fail;
			log_event("info", "dr-prepare-rewind", "%s: %s", n->c.datadir,
				  use_checksums ? "data checksums enabled" : "wal_log_hints = on");
			out_kv(o, "changed", "%s: %s%s", n->name,
			       use_checksums ? "data checksums enabled" : "wal_log_hints = on",
			       running[i] ? "" : " (stopped; takes effect at its next start)");
		}
	}
	for (int k = 0; k < nn; k++) {
		struct dr_node *n = &nodes[order[k]];
		if (running[order[k]] && (use_checksums || need[order[k]]) &&
		    dr_site_pg_ctl(&n->c, "start", NULL, err, sizeof err) < 0)
			goto fail;
	}
	out_line(o, "pg_rewind can now rejoin %s after a failover",
		 nn == 2 ? "either node" : "this node");
	return 0;
fail:
	out_err(o, "dr-prepare-rewind: %s", err);
	for (int k = 0; k < nn; k++) {
		struct dr_node *n = &nodes[order[k]];
		char e2[512];
		if (running[order[k]] && cluster_state(&n->c, NULL) != CLUSTER_RUNNING &&
		    dr_site_pg_ctl(&n->c, "start", NULL, e2, sizeof e2) < 0)
			out_err(o, "dr-prepare-rewind: %s did not start again: %s", n->name, e2);
	}
	return EXIT_FAIL;
}
