/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvm-dune benchmarks: definitions shared by dune_bench (native, stock KVM
 * and raw Dune measurements) and dune_bench_libdune (the libdune rows).
 *
 * Every measurement is a series of samples; a sample is the TSC delta of a
 * batch of operations (rdtsc before and after).  The reported value is the
 * median over the samples of (delta - rdtsc overhead) / batch.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>

/* TSC read, ordered against the surrounding instructions. */
static inline uint64_t bench_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/* A raw getpid with the SYSCALL instruction (no libc, no vDSO). */
static inline long bench_sys_getpid(void)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "a"(39L) : "rcx", "r11", "memory");
	return ret;
}

#define BENCH_PAGE	4096UL

/* Appel & Li: 100 pages. */
#define APPEL_PAGES	100

/*
 * A series of raw samples, filled by whoever measures (possibly guest code,
 * possibly another process through shared memory).
 */
#define SERIES_MAX	8192
struct series {
	uint32_t n;		/* samples stored */
	uint32_t batch;		/* operations per sample */
	uint64_t v[SERIES_MAX];	/* TSC delta per sample */
};

static inline void series_init(struct series *s, uint32_t batch)
{
	s->n = 0;
	s->batch = batch;
}

static inline void series_add(struct series *s, uint64_t delta)
{
	if (s->n < SERIES_MAX)
		s->v[s->n++] = delta;
}

struct stat_result {
	double med, p10, p90;	/* TSC cycles per operation */
	unsigned int n;		/* samples */
	unsigned int batch;
};

/* Per-op statistics of @s with @overhead cycles subtracted from each sample. */
int series_stats(const struct series *s, double overhead, struct stat_result *r);

/* Median, p10, p90 of @n doubles (sorted in place). */
void stats_of(double *v, unsigned int n, struct stat_result *r);

/* Deterministic permutation of 0..n-1 with perm[0] = 0 (as Appel & Li). */
void bench_permutation(int *perm, int n, uint32_t seed);

#endif
