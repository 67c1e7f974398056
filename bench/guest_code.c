// SPDX-License-Identifier: GPL-2.0-only
/*
 * Measurement loops that run both natively and in Dune mode (guest ring 0
 * or ring 3): no libc, no system calls, nothing but memory and rdtsc.
 */
#include <stdint.h>

#include "dune_bench.h"

static volatile uint64_t sink;

/*
 * One pass over @pages pages touching one byte each; the offset within the
 * page moves by a cache line per page so that the accesses do not all fall
 * into one cache set.  Returns the TSC delta of the pass.
 */
uint64_t walk_pass(volatile uint8_t *base, unsigned int pages)
{
	uint64_t t0, t1, sum = 0;
	unsigned int i;

	t0 = bench_rdtsc();
	for (i = 0; i < pages; i++)
		sum += base[(uint64_t)i * BENCH_PAGE + ((i & 63) << 6)];
	t1 = bench_rdtsc();
	sink = sum;
	return t1 - t0;
}

/* First-touch writes, one sample per page. */
void touch_series(volatile uint8_t *base, unsigned int pages, struct series *s)
{
	unsigned int i;

	series_init(s, 1);
	for (i = 0; i < pages; i++) {
		volatile uint8_t *p = base + (uint64_t)i * BENCH_PAGE;
		uint64_t t0, t1;

		t0 = bench_rdtsc();
		*p = 1;
		t1 = bench_rdtsc();
		series_add(s, t1 - t0);
	}
}

/* Write one byte every @stride bytes. */
void touch_all(volatile uint8_t *base, size_t bytes, size_t stride)
{
	size_t off;

	for (off = 0; off < bytes; off += stride)
		base[off] = 1;
}

/* Back-to-back rdtsc: the overhead subtracted from every sample. */
void empty_series(struct series *s, unsigned int n)
{
	unsigned int i;

	series_init(s, 1);
	for (i = 0; i < n; i++) {
		uint64_t t0 = bench_rdtsc();
		uint64_t t1 = bench_rdtsc();

		series_add(s, t1 - t0);
	}
}
