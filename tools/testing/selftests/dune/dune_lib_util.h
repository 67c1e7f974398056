/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared bits of the libdune-based Dune mode selftests (dune_lib_*.c).
 *
 * Each test runs in a process of its own (the harness forks for every
 * test), so each may create its Dune VM and enter: the fixture "dune"
 * does that in its setup.  Without Dune mode the whole program is skipped
 * (exit 4).  The tests link libdune.a (libdune.so for the *_pie ones); see
 * the Makefile for LIBDUNE_DIR.
 */
#ifndef SELFTESTS_DUNE_LIB_UTIL_H
#define SELFTESTS_DUNE_LIB_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <dune.h>

#include "kselftest_harness.h"

#define PAGE_SZ		4096UL

/*
 * Accesses made as written (one plain load or store) and in program order:
 * the tests fault on purpose, and trap handlers change counters between two
 * lines of a test.  The fences are compiler barriers, no instructions.
 */
#define READ_ONCE(x) ({						\
	__atomic_signal_fence(__ATOMIC_SEQ_CST);			\
	__atomic_load_n(&(x), __ATOMIC_RELAXED);			\
})
#define WRITE_ONCE(x, v) do {						\
	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED);			\
	__atomic_signal_fence(__ATOMIC_SEQ_CST);			\
} while (0)
#define RW		(DUNE_PERM_R | DUNE_PERM_W)
#define RWX		(DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X)

/* The bounds of the section "dune_ring3" (dune_lib_ring3.c), from the linker. */
extern char __start_dune_ring3[], __stop_dune_ring3[];
/* The start of the program and the end of its text, from the linker. */
extern char __executable_start[], etext[];

/* Tests that enter Dune mode in their setup (one process per test). */
FIXTURE(dune) {
};

FIXTURE_SETUP(dune)
{
	int r = dune_init_and_enter();

	ASSERT_EQ(0, r) TH_LOG("dune_init_and_enter: %s",
			       dune_last_error()[0] ? dune_last_error() : dune_strerror(r));
	ASSERT_TRUE(dune_in_guest());
}

FIXTURE_TEARDOWN(dune)
{
}

/* An anonymous private mapping (in the mmap window), or MAP_FAILED. */
static inline void *dune_lib_map(size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* @len bytes aligned to @align (a power of two), from a larger mapping. */
static inline void *dune_lib_map_aligned(size_t len, size_t align)
{
	char *p = dune_lib_map(len + align);
	uintptr_t a;

	if (p == MAP_FAILED)
		return p;
	a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((char *)a + len, (uintptr_t)p + align - a);
	return (void *)a;
}

/* A small deterministic PRNG (xorshift64). */
static inline uint64_t dune_lib_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* main(): the harness, or "skip" (exit 4) where Dune mode is missing. */
static inline int dune_lib_main(int argc, char **argv)
{
	int r = dune_probe();

	if (r < 0) {
		ksft_print_header();
		ksft_exit_skip("no Dune mode: %s\n",
			       dune_last_error()[0] ? dune_last_error() : dune_strerror(r));
	}
	return test_harness_run(argc, argv);
}

#define DUNE_LIB_MAIN	int main(int argc, char **argv) { exit(dune_lib_main(argc, argv)); }

#endif /* SELFTESTS_DUNE_LIB_UTIL_H */
