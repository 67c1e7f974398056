// SPDX-License-Identifier: GPL-2.0-only
/*
 * Statistics for the benchmarks: medians and percentiles of series.
 * Host-side code only (it allocates).
 */
#include <stdlib.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pick(const double *v, unsigned int n, double q)
{
	double pos = q * (n - 1);
	unsigned int i = (unsigned int)pos;
	double f = pos - i;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] * (1 - f) + v[i + 1] * f;
}

void stats_of(double *v, unsigned int n, struct stat_result *r)
{
	r->n = n;
	if (!n) {
		r->med = r->p10 = r->p90 = 0;
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	r->med = pick(v, n, 0.5);
	r->p10 = pick(v, n, 0.1);
	r->p90 = pick(v, n, 0.9);
}

int series_stats(const struct series *s, double overhead, struct stat_result *r)
{
	unsigned int i, n = s->n, batch = s->batch ? s->batch : 1;
	double *v;

	r->n = 0;
	r->batch = batch;
	if (!n)
		return -1;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -1;
	for (i = 0; i < n; i++) {
		double d = (double)s->v[i] - overhead;

		v[i] = (d < 0 ? 0 : d) / batch;
	}
	stats_of(v, n, r);
	r->batch = batch;
	free(v);
	return 0;
}

void bench_permutation(int *perm, int n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;
	int i;

	for (i = 0; i < n; i++)
		perm[i] = i;
	/* Fisher-Yates over 1..n-1 with a small LCG. */
	for (i = n - 1; i > 1; i--) {
		int j, t;

		x = x * 1103515245u + 12345u;
		j = 1 + (int)((x >> 8) % (uint32_t)i);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}
