/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dune_bench internals: configuration, the result registry, the parts.
 */
#ifndef DUNE_BENCH_H
#define DUNE_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "bench.h"

struct bench_cfg {
	const char *backend;	/* svm, vmx, kvm or "native" (guessed) */
	bool emulated;		/* TSC is an emulator's, not hardware */
	bool amd;
	double tsc_khz;

	unsigned int getpid_samples, getpid_batch;
	unsigned int pf_pages;		/* fresh pages per first-touch series */
	unsigned int walk_pages, walk_passes;
	unsigned int ptrace_iters;
	unsigned int trap_iters, traponly_batch;
	unsigned int appel_rounds;
	unsigned int stock_samples, stock_batch;
	unsigned int exit_ops;		/* operations per exit-count window */
	unsigned int thp_mb, small_mb;	/* item 8 regions */
	unsigned int enter_reps;
};

extern struct bench_cfg cfg;

/* Result registry: per-op statistics or plain values, by key. */
void res_put(const char *key, const struct stat_result *r);
void res_put_series(const char *key, const struct series *s, double overhead);
void res_put_value(const char *key, double v);
const struct stat_result *res_get(const char *key);
bool res_value(const char *key, double *v);
/* Something that could not be measured, or a caveat, for the report. */
void res_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress and details on stderr ("# " lines on the console). */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parts; each returns 0 when it measured what it could, -1 on a failure. */
int native_run(void);
int stock_kvm_run(void);
int dune_raw_run(void);
int dune_enter_run(void);

/* A MAP_SHARED anonymous mapping (survives fork, seen by children). */
void *shared_alloc(size_t size);

/* Fresh anonymous memory, @align aligned, THP advice: 1 huge, 0 none. */
void *fresh_map(size_t size, size_t align, int huge);

/* Shared code that runs natively and in the guest (guest_code.c). */
uint64_t walk_pass(volatile uint8_t *base, unsigned int pages);
void touch_series(volatile uint8_t *base, unsigned int pages, struct series *s);
void touch_all(volatile uint8_t *base, size_t bytes, size_t stride);
void empty_series(struct series *s, unsigned int n);

#endif
