/* The one sparkline scale: the console's trends and import pane and the weekly report's
 * daily charts draw their glyphs with these, so a level means the same everywhere. */
#ifndef MIDSOPS_SPARK_H
#define MIDSOPS_SPARK_H

#include <stddef.h>

#define SPARK_LEVELS 8

/* The level (0..SPARK_LEVELS-1) of v on the scale lo..hi, rounded; -1 for NAN (no data).
 * A flat scale (hi <= lo) puts every value at the bottom, or at the middle when it is not
 * zero, so a steady figure does not read as a collapse. */
int spark_level(double v, double lo, double hi);
/* The finite minimum and maximum of v (both NAN when there is none). */
void spark_range(const double *v, int nv, double *lo, double *hi);
/* The glyphs of v on lo..hi into buf (one per value; a blank for NAN): the Unicode blocks
 * U+2581..U+2588, or "_.:-=+*#" when ascii is set. Cut at n. */
void spark_text(char *buf, size_t n, const double *v, int nv, double lo, double hi, int ascii);

#endif
