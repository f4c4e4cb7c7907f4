/* What activating the standby now would lose, said no more precisely than it is known.
 * With the primary answering it is measured: the primary's position against what the
 * standby replayed. With the primary gone, what it wrote after the standby last heard from
 * it was never seen by anyone who still answers: only a lower bound exists (the last
 * position dr-assess saw, or the WAL end the sender last reported), and never a 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dr.h"

static long long diff(const char *a, const char *b)
{
	uint64_t x = lsn_parse(a), y = lsn_parse(b);
	return x && y && x > y ? (long long)(x - y) : 0;
}

void dr_loss_compute(const struct dr_primary_snap *p, const struct dr_walrcv *w,
		     const char *last_primary_lsn, const char *last_primary_at, struct dr_loss *l)
{
	memset(l, 0, sizeof *l);
	l->bytes = -1;
	l->seconds = NAN;
	const char *replayed = w->replay_lsn[0] ? w->replay_lsn : w->receive_lsn;
	if (p && p->ok && !p->in_recovery && p->current_lsn[0] && replayed[0]) {
		l->exact = 1;
		l->bytes = diff(p->current_lsn, replayed);
		if (p->streaming && p->sent_lsn[0]) {
			l->unsent_bytes = diff(p->current_lsn, p->sent_lsn);
			l->unreplayed_bytes = diff(p->sent_lsn, replayed);
		} else {
			l->unsent_bytes = l->bytes;
		}
		/* pg_stat_replication leaves replay_lag empty once the standby caught up */
		l->seconds = !isnan(p->replay_lag_s) ? p->replay_lag_s : l->bytes == 0 ? 0 : NAN;
		char secs[64] = "unknown time";
		if (!isnan(l->seconds))
			snprintf(secs, sizeof secs, "%.3f s", l->seconds);
		snprintf(l->text, sizeof l->text,
			 "%lld bytes, %s (measured: the primary is at %s, sent %s, the standby "
			 "replayed %s)",
			 l->bytes, secs, p->current_lsn, p->sent_lsn[0] ? p->sent_lsn : "nothing",
			 replayed);
		return;
	}
	long long lb = diff(last_primary_lsn, w->receive_lsn);
	if (w->present)
		lb = lb > diff(w->latest_end_lsn, w->flushed_lsn)
			 ? lb
			 : diff(w->latest_end_lsn, w->flushed_lsn);
	l->at_least = lb;
	const char *t = w->present && w->last_msg_at[0] ? w->last_msg_at : w->last_replay_at;
	snprintf(l->last_received_at, sizeof l->last_received_at, "%s", t[0] ? t : "unknown");
	char bound[200];
	if (lb > 0)
		snprintf(bound, sizeof bound, "at least %lld bytes", lb);
	else
		snprintf(bound, sizeof bound, "unknown (no lower bound above 0 was measured)");
	snprintf(l->text, sizeof l->text,
		 "%s, last WAL received at %s%s; commits after %s on the primary are unknown "
		 "(the standby received up to %s%s%s%s%s)",
		 bound, l->last_received_at,
		 w->present && w->last_msg_at[0] ? "" : " (the last replayed commit)",
		 l->last_received_at, w->receive_lsn[0] ? w->receive_lsn : "nothing",
		 last_primary_lsn && *last_primary_lsn ? "; the primary was last seen at " : "",
		 last_primary_lsn ? last_primary_lsn : "",
		 last_primary_at && *last_primary_at ? " on " : "",
		 last_primary_at ? last_primary_at : "");
}
