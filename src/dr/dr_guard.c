/* The split-brain guard as the standby sees it: pg_stat_wal_receiver says whether the
 * standby still streams from the primary and when it last heard from it. A primary that
 * midsops cannot reach (a hidden socket, a firewall between midsops and it) but that still
 * feeds the standby is alive, and promoting beside it splits the brain. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "dr.h"

static const char walrcv_sql[] =
    "select (w.pid is not null), coalesce(w.status, ''),\n"
    "  coalesce(w.sender_host, '') || coalesce(':' || w.sender_port, ''),\n"
    "  coalesce(w.last_msg_receipt_time::text, ''), coalesce(w.latest_end_time::text, ''),\n"
    "  coalesce(extract(epoch from clock_timestamp() - w.last_msg_receipt_time)::text, ''),\n"
    "  coalesce(w.latest_end_lsn::text, ''), coalesce(w.flushed_lsn::text, ''),\n"
    "  coalesce(pg_last_wal_receive_lsn()::text, ''),\n"
    "  coalesce(pg_last_wal_replay_lsn()::text, ''),\n"
    "  coalesce(pg_last_xact_replay_timestamp()::text, ''), pg_is_in_recovery()\n"
    "from (select 1) one left join pg_stat_wal_receiver w on true";

int dr_walrcv_read(PGconn *standby, struct dr_walrcv *w)
{
	memset(w, 0, sizeof *w);
	w->last_msg_age_s = NAN;
	PGresult *r = db_query(standby, w->error, sizeof w->error, walrcv_sql, 0, NULL);
	if (!r)
		return -1;
	char *f[12];
	for (int i = 0; i < 12; i++)
		f[i] = PQgetvalue(r, 0, i);
	w->ok = 1;
	w->present = f[0][0] == 't';
	snprintf(w->status, sizeof w->status, "%s", f[1]);
	snprintf(w->sender, sizeof w->sender, "%s", f[2]);
	snprintf(w->last_msg_at, sizeof w->last_msg_at, "%s", f[3]);
	snprintf(w->latest_end_at, sizeof w->latest_end_at, "%s", f[4]);
	if (*f[5])
		w->last_msg_age_s = strtod(f[5], NULL);
	snprintf(w->latest_end_lsn, sizeof w->latest_end_lsn, "%s", f[6]);
	snprintf(w->flushed_lsn, sizeof w->flushed_lsn, "%s", f[7]);
	snprintf(w->receive_lsn, sizeof w->receive_lsn, "%s", f[8]);
	snprintf(w->replay_lsn, sizeof w->replay_lsn, "%s", f[9]);
	snprintf(w->last_replay_at, sizeof w->last_replay_at, "%s", f[10]);
	w->in_recovery = f[11][0] == 't';
	w->streaming = w->present && strcmp(w->status, "streaming") == 0;
	PQclear(r);
	return 0;
}

/* Right after the primary dies the walreceiver needs a moment to see the closed connection:
 * a "streaming" that ends within settle_s was the last breath, not a live primary. */
int dr_walrcv_settle(PGconn *standby, struct dr_walrcv *w, double settle_s)
{
	if (dr_walrcv_read(standby, w) < 0)
		return -1;
	for (int i = 0; w->streaming && i < (int)(settle_s * 4); i++) {
		usleep(250000);
		if (dr_walrcv_read(standby, w) < 0)
			return -1;
	}
	return 0;
}

void dr_walrcv_evidence(const struct dr_walrcv *w, char *buf, size_t n)
{
	if (!w->ok) {
		snprintf(buf, n, "the standby's walreceiver could not be read: %s", w->error);
		return;
	}
	if (!w->present) {
		snprintf(buf, n, "the standby has no walreceiver (not connected to any primary)");
		return;
	}
	char age[64] = "";
	if (!isnan(w->last_msg_age_s))
		snprintf(age, sizeof age, ", %.1f s ago", w->last_msg_age_s);
	snprintf(buf, n,
		 "the standby's walreceiver is '%s' from %s; last message received at %s%s; "
		 "latest WAL end %s reported at %s",
		 w->status, w->sender[0] ? w->sender : "(sender not shown)",
		 w->last_msg_at[0] ? w->last_msg_at : "never", age,
		 w->latest_end_lsn[0] ? w->latest_end_lsn : "none",
		 w->latest_end_at[0] ? w->latest_end_at : "never");
}
