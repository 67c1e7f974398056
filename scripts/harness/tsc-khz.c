// SPDX-License-Identifier: GPL-2.0-only
/*
 * Print the host's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW.
 * QEMU TCG hands the host's TSC to the guest unscaled, so this is the value
 * for the guest kernel's tsc_early_khz= (the rate differs between machines,
 * and what the host kernel reports can be a hypervisor's nominal figure).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

#define SAMPLES 5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	double khz[SAMPLES], t0, t1;
	uint64_t c0, c1;
	int i;

	for (i = 0; i < SAMPLES; i++) {
		t0 = now();
		c0 = __rdtsc();
		while (now() - t0 < 0.05)
			;
		c1 = __rdtsc();
		t1 = now();
		khz[i] = (c1 - c0) / (t1 - t0) / 1000.0;
	}
	qsort(khz, SAMPLES, sizeof(khz[0]), cmp);
	printf("%.0f\n", khz[SAMPLES / 2]);
	return 0;
}
