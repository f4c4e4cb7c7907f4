/* perf-test's load: the api functions driven from N connections with a Zipf mix over the
 * game's keys, hot items first, each latency kept. */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint.h"
#include "util.h"

const char *const maint_perf_kinds[PERF_COUNT] = {"power", "powerset_powers", "set_bonuses",
						  "search_powers"};
static const char *const kind_sql[PERF_COUNT] = {
    "select api.power($1)", "select api.powerset_powers($1)", "select api.set_bonuses($1)",
    "select api.search_powers($1)"};
/* Hot items first: what builds use, then the rest in a stable order. */
static const char *const list_sql[PERF_COUNT] = {
    "select p.key from game.powers p left join (select power_id, count(*) n from"
    " builds.build_powers group by 1) u on u.power_id = p.id where not p.retired"
    " order by u.n desc nulls last, hashtext(p.key)",
    "select key from game.powersets where not retired order by hashtext(key)",
    "select key from game.enhancement_sets where not retired order by hashtext(key)",
    "select w from (select lower(w) w, count(*) n from game.powers,"
    " regexp_split_to_table(display_name, '\\s+') w where length(w) >= 3"
    " group by 1) t order by n desc, w limit 200"};

struct wl_list {
	struct maint_rows keys;
	double *cdf;
};

static void zipf_init(struct wl_list *l, double s)
{
	int n = l->keys.nrows;
	l->cdf = xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
	double sum = 0, acc = 0;
	for (int i = 0; i < n; i++)
		sum += 1.0 / pow(i + 1, s);
	for (int i = 0; i < n; i++) {
		acc += 1.0 / pow(i + 1, s) / sum;
		l->cdf[i] = acc;
	}
}

static const char *zipf_pick(const struct wl_list *l, unsigned *seed)
{
	double u = (double)rand_r(seed) / ((double)RAND_MAX + 1.0);
	int lo = 0, hi = l->keys.nrows - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (l->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return maint_cell(&l->keys, lo, 0);
}

static void lists_free(struct wl_list *l)
{
	for (int k = 0; k < PERF_COUNT; k++) {
		maint_rows_free(&l[k].keys);
		free(l[k].cdf);
	}
}

static int lists_load(PGconn *c, struct wl_list *l, struct db_error *e)
{
	for (int k = 0; k < PERF_COUNT; k++) {
		if (maint_rows_query(c, &l[k].keys, e, list_sql[k], 0, NULL) < 0)
			return -1;
		zipf_init(&l[k], 1.1);
	}
	if (l[PERF_POWER].keys.nrows > 0)
		return 0;
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", "");
	snprintf(e->message, sizeof e->message,
		 "no powers in the database: import an export first");
	return -1;
}

static void lat_add(struct perf_lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = ms;
}

struct client {
	PGconn *c;
	int kind;
	double t0;
	int busy;
};

static int clients_open(const struct target *t, struct client *cl, long n, struct db_error *e)
{
	for (long i = 0; i < n; i++) {
		cl[i].c = db_connect(t, "perf-test", e->message, sizeof e->message);
		if (!cl[i].c) {
			snprintf(e->sqlstate, sizeof e->sqlstate, "%s", "");
			return -1;
		}
		for (int k = 0; k < PERF_COUNT; k++) {
			char name[16];
			snprintf(name, sizeof name, "q%d", k);
			PGresult *r = PQprepare(cl[i].c, name, kind_sql[k], 1, NULL);
			int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
			if (!ok) {
				const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				snprintf(e->sqlstate, sizeof e->sqlstate, "%s", code ? code : "");
				snprintf(e->message, sizeof e->message, "%s",
					 PQresultErrorMessage(r));
				e->message[strcspn(e->message, "\n")] = 0;
			}
			PQclear(r);
			if (!ok)
				return -1;
		}
		PQsetnonblocking(cl[i].c, 1);
	}
	return 0;
}

/* The mix: 60% single powers, 20% powerset listings, 10% set bonuses, 10% searches. */
static int send_one(struct client *cl, const struct wl_list *l, unsigned *rs)
{
	int roll = rand_r(rs) % 100;
	int k = roll < 60   ? PERF_POWER
		: roll < 80 ? PERF_POWERSET
		: roll < 90 ? PERF_SET
			    : PERF_SEARCH;
	if (l[k].keys.nrows == 0)
		k = PERF_POWER;
	const char *p[] = {zipf_pick(&l[k], rs)};
	char name[8];
	snprintf(name, sizeof name, "q%d", k);
	if (!PQsendQueryPrepared(cl->c, name, 1, p, NULL, NULL, 0))
		return -1;
	(void)PQflush(cl->c); /* non-blocking: what is left goes with the next consume */
	cl->kind = k;
	cl->t0 = util_mono();
	cl->busy = 1;
	return 0;
}

/* A reply has arrived (or the connection failed): its latency, or an error. */
static void receive_one(struct client *cl, struct perf_result *r)
{
	if (!PQconsumeInput(cl->c)) {
		r->errors++;
		cl->busy = 0;
		return;
	}
	if (PQisBusy(cl->c))
		return;
	PGresult *res;
	int ok = 1;
	while ((res = PQgetResult(cl->c))) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			ok = 0;
		PQclear(res);
	}
	double ms = (util_mono() - cl->t0) * 1000.0;
	cl->busy = 0;
	if (!ok) {
		r->errors++;
		return;
	}
	lat_add(&r->all, ms);
	lat_add(&r->per[cl->kind], ms);
}

static void drive(struct client *cl, long n, const struct wl_list *l, long duration, long seed,
		  void (*progress)(void *, double, double), void *arg, struct perf_result *r)
{
	unsigned rs = (unsigned)seed;
	double t_start = util_mono(), t_end = t_start + (double)duration;
	struct pollfd *pfd = xcalloc((size_t)n, sizeof *pfd);
	for (;;) {
		double now = util_mono();
		int active = 0;
		for (long i = 0; i < n; i++) {
			if (!cl[i].busy && now < t_end && send_one(&cl[i], l, &rs) < 0) {
				r->errors++;
				continue;
			}
			pfd[i].fd = PQsocket(cl[i].c);
			pfd[i].events = cl[i].busy ? POLLIN : 0;
			active += cl[i].busy;
		}
		if (!active)
			break;
		(void)poll(pfd, (nfds_t)n, 100); /* a timeout or signal only means: look again */
		for (long i = 0; i < n; i++)
			if (cl[i].busy && (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				receive_one(&cl[i], r);
		if (progress)
			progress(arg, util_mono() - t_start, (double)duration);
	}
	r->elapsed = util_mono() - t_start;
	free(pfd);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int maint_perf_run(PGconn *c, const struct target *t, long nclients, long duration, long seed,
		   void (*progress)(void *arg, double done, double total), void *arg,
		   struct perf_result *r, struct db_error *e)
{
	*r = (struct perf_result){0};
	struct wl_list lists[PERF_COUNT] = {0};
	if (lists_load(c, lists, e) < 0) {
		lists_free(lists);
		return -1;
	}
	struct client *cl = xcalloc((size_t)nclients, sizeof *cl);
	int rc = clients_open(t, cl, nclients, e);
	if (rc == 0)
		drive(cl, nclients, lists, duration, seed, progress, arg, r);
	for (long i = 0; i < nclients; i++)
		PQfinish(cl[i].c);
	free(cl);
	lists_free(lists);
	if (r->all.n)
		qsort(r->all.v, r->all.n, sizeof *r->all.v, dcmp);
	for (int k = 0; k < PERF_COUNT; k++)
		if (r->per[k].n)
			qsort(r->per[k].v, r->per[k].n, sizeof *r->per[k].v, dcmp);
	return rc;
}

void maint_perf_free(struct perf_result *r)
{
	free(r->all.v);
	for (int k = 0; k < PERF_COUNT; k++)
		free(r->per[k].v);
}
