/* The sparkline scale shared by the console's trends, its import pane and the weekly
 * report (spark.h); the trends' columns and scale (probe_kpi.h); the key metrics'
 * judgements and the runbook's actions that perf-analyze and the strip share. */
#include <math.h>
#include <stdlib.h>

#include "config.h"
#include "harness.h"
#include "probe_kpi.h"
#include "spark.h"

static struct trend_ring ring;

int main(void)
{
	CHECK(spark_level(0, 0, 100) == 0, "level: the bottom of the scale is the lowest glyph");
	CHECK(spark_level(100, 0, 100) == 7, "level: the top is the full block");
	CHECK(spark_level(50, 0, 100) == 4, "level: the middle rounds to 4 of 0..7");
	CHECK(spark_level(98.5, 98, 99) == 4, "level: the scale is min..max, not 0..max");
	CHECK(spark_level(120, 0, 100) == 7 && spark_level(-5, 0, 100) == 0,
	      "level: values past the scale are clamped");
	CHECK(spark_level(NAN, 0, 1) == -1, "level: no data is -1");
	CHECK(spark_level(5, 5, 5) == 3 && spark_level(0, 0, 0) == 0,
	      "level: a flat series sits mid-way (or at the bottom when zero)");

	double v[] = {0, 1, 2, 3, 4, 5, 6, 7, NAN};
	double lo, hi;
	spark_range(v, 9, &lo, &hi);
	CHECK(lo == 0 && hi == 7, "range: the finite min and max");
	char buf[64];
	spark_text(buf, sizeof buf, v, 9, lo, hi, 0);
	CHECK_STR(buf, "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588 ",
		  "text: one block per value, a blank for no data");
	spark_text(buf, sizeof buf, v, 9, lo, hi, 1);
	CHECK_STR(buf, "_.:-=+*# ", "text: the ASCII fallback on the same levels");
	spark_text(buf, 7, v, 9, lo, hi, 0);
	CHECK_STR(buf, "\u2581\u2582", "text: cut at whole glyphs");

	/* A ring: TPS 10 for 60 s, then 500 for 10 s. */
	for (int s = 0; s < 70; s++) {
		double x[TR_N];
		for (int k = 0; k < TR_N; k++)
			x[k] = NAN;
		x[TR_TPS] = s < 60 ? 10 : 500;
		trend_push(&ring, 1000 + s, x);
	}
	double cols[7];
	struct trend_scale sc;
	trend_columns(&ring, TR_TPS, 1070, 70, 7, cols, &sc);
	CHECK(sc.last == 500 && sc.lo == 10 && sc.hi == 500, "columns: now, min and max");
	CHECK(cols[0] == 10 && cols[6] == 500, "columns: each the mean of its samples");
	trend_columns(&ring, TR_LAG, 1070, 70, 7, cols, &sc);
	CHECK(isnan(sc.last) && isnan(cols[3]), "columns: a trend without samples is NAN");
	trend_columns(&ring, TR_TPS, 1070, 140, 7, cols, &sc);
	CHECK(isnan(cols[0]) && !isnan(cols[6]), "columns: before the first sample, nothing");
	CHECK(trend_oldest(&ring) == 1000, "ring: the oldest sample");
	for (int s = 0; s < TREND_CAP; s++) {
		double x[TR_N] = {1};
		trend_push(&ring, 2000 + s, x);
	}
	CHECK(ring.n == TREND_CAP && trend_oldest(&ring) == 2000, "ring: full, the oldest goes");

	struct config cfg;
	config_defaults(&cfg);
	CHECK(kpi_judge(&cfg, KPI_QUERY, 120, 0) == ST_CRITICAL, "judge: query time over 100 ms");
	CHECK(kpi_judge(&cfg, KPI_IMPORT, 700, 0) == ST_WARNING, "judge: import at 700/s");
	CHECK(kpi_judge(&cfg, KPI_CACHE, 96, 0) == ST_OK, "judge: cache hit 96%");
	CHECK(kpi_judge(&cfg, KPI_MEMORY, 5, 16) == ST_CRITICAL, "judge: 5 GB used of 16");
	CHECK(kpi_judge(&cfg, KPI_MEMORY, 5, 6) == ST_OK, "judge: a small host is not judged");
	CHECK_STR(kpi_action(KPI_IMPORT, 0), "increase batch size", "action: the runbook's words");
	kpi_action_short(kpi_action(KPI_QUERY, 0), buf, sizeof buf);
	CHECK_STR(buf, "optimize indexes", "action: the short form before the colon");
	kpi_action_short(kpi_action(KPI_CACHE, 1), buf, sizeof buf);
	CHECK_STR(buf, "increase cache size", "action: the short form before the parenthesis");
	HARNESS_END();
}
