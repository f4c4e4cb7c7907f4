/* The sparkline scale shared by the console and the reports (include/spark.h). */
#include "spark.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int spark_level(double v, double lo, double hi)
{
	if (isnan(v))
		return -1;
	if (!(hi > lo))
		return v == 0 ? 0 : SPARK_LEVELS / 2 - 1;
	double f = (v - lo) / (hi - lo);
	int k = (int)lround(f * (SPARK_LEVELS - 1));
	if (k < 0)
		k = 0;
	if (k > SPARK_LEVELS - 1)
		k = SPARK_LEVELS - 1;
	return k;
}

void spark_range(const double *v, int nv, double *lo, double *hi)
{
	*lo = *hi = NAN;
	for (int i = 0; i < nv; i++) {
		if (!isfinite(v[i]))
			continue;
		if (isnan(*lo) || v[i] < *lo)
			*lo = v[i];
		if (isnan(*hi) || v[i] > *hi)
			*hi = v[i];
	}
}

void spark_text(char *buf, size_t n, const double *v, int nv, double lo, double hi, int ascii)
{
	static const char *const blocks[SPARK_LEVELS] = {"\u2581", "\u2582", "\u2583", "\u2584",
							 "\u2585", "\u2586", "\u2587", "\u2588"};
	static const char plain[] = "_.:-=+*#";
	size_t o = 0;
	if (n == 0)
		return;
	buf[0] = 0;
	for (int i = 0; i < nv; i++) {
		int k = spark_level(v[i], lo, hi);
		const char *g = k < 0 ? " " : ascii ? (char[2]){plain[k], 0} : blocks[k];
		size_t gl = strlen(g);
		if (o + gl + 1 > n)
			break;
		memcpy(buf + o, g, gl);
		o += gl;
		buf[o] = 0;
	}
}
