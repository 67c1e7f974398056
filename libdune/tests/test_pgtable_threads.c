// SPDX-License-Identifier: MIT
/*
 * Eight threads map, unmap, protect, walk and clear accessed/dirty bits in
 * one page table at once:
 *  - each in a private 64 MiB region, checked against a per-page model;
 *  - all in one shared 64 MiB region, where every leaf a walk sees must
 *    map va to layout(va), be aligned to its size and carry a permission
 *    that some thread set;
 *  - a "CPU" that sets A/D bits in leaves behind the threads' backs.
 * The table memory aborts on a walk through a freed table, and at the end,
 * after unmapping everything, only the root may remain.
 */
#include <errno.h>

#include "tap.h"
#include "fake_layout.h"
#include "testmem.h"

#define NTHREADS	8
#define REGION		(64 * MiB)
#define REGION_PAGES	(REGION / 4096)
#define PRIVATE_BASE	(MMAP_HVA)
#define SHARED_BASE	(MMAP_HVA + 4 * GiB)
#define ITERATIONS	400

static struct kvm_dune_layout layout;
static struct dune_vm vm;
static struct testmem tm;

static const int perms[] = {
	DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X,
	DUNE_PERM_R,
	DUNE_PERM_R | DUNE_PERM_U,
	DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_U,
	0,	/* mapped, not present */
};
#define NPERMS (int)(sizeof(perms) / sizeof(perms[0]))
#define PERM_MASK (DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X | DUNE_PERM_U)

struct worker {
	int id;
	unsigned int seed;
	pthread_t thread;
	int model[REGION_PAGES];	/* -1 unmapped, else the permission */
	unsigned long errors;
	unsigned long shared_bad;
	unsigned long ops;
};

static struct worker workers[NTHREADS];
static volatile int stop_cpu;

static unsigned int rnd(struct worker *w)
{
	return rand_r(&w->seed);
}

/* A random page range in a region: sometimes 2 MiB-aligned, to make big leaves. */
static void pick_range(struct worker *w, uint64_t *first, uint64_t *npages)
{
	if (rnd(w) % 3 == 0) {
		uint64_t chunks = REGION / (2 * MiB);
		uint64_t c = rnd(w) % chunks, n = 1 + rnd(w) % 4;

		if (c + n > chunks)
			n = chunks - c;
		*first = c * 512;
		*npages = n * 512;
	} else {
		*first = rnd(w) % REGION_PAGES;
		*npages = 1 + rnd(w) % 700;
		if (*first + *npages > REGION_PAGES)
			*npages = REGION_PAGES - *first;
	}
}

static bool check_page(struct worker *w, uint64_t base, uint64_t i)
{
	uint64_t va = base + i * 4096, pa, want;
	int perm = 0, r;

	r = dune_vm_translate(&vm, (void *)(uintptr_t)va, &pa, &perm);
	if (w->model[i] < 0)
		return r == -ENOENT;
	dune_layout_va_to_pa(&layout, va, &want);
	return r == 0 && pa == want && (perm & PERM_MASK) == w->model[i];
}

struct model_walk {
	struct worker *w;
	uint64_t base;
	unsigned long seen, bad;
};

static int model_walk_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	struct model_walk *m = arg;
	uint64_t i, n = 1ULL << (9 * level), first = (va - m->base) / 4096;
	int perm = dune_pte_to_perm(dune_pte_get(pte)) & PERM_MASK;

	for (i = 0; i < n; i++) {
		if (first + i >= REGION_PAGES || m->w->model[first + i] != perm)
			m->bad++;
		m->seen++;
	}
	return 0;
}

static void full_check(struct worker *w, uint64_t base)
{
	struct model_walk m = { w, base, 0, 0 };
	uint64_t i, mapped = 0;

	for (i = 0; i < REGION_PAGES; i += 7)
		if (!check_page(w, base, i))
			w->errors++;
	for (i = 0; i < REGION_PAGES; i++)
		mapped += w->model[i] >= 0;
	dune_vm_walk(&vm, (void *)(uintptr_t)base, (void *)(uintptr_t)(base + REGION),
		     model_walk_cb, &m);
	if (m.bad || m.seen != mapped)
		w->errors++;
}

static int shared_walk_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	struct worker *w = arg;
	dune_pte_t e = dune_pte_get(pte);
	uint64_t want, size = 1ULL << (12 + 9 * level);
	int perm = dune_pte_to_perm(e) & PERM_MASK, i;
	bool known = false;

	for (i = 0; i < NPERMS; i++)
		known |= perm == perms[i];
	if (!(e & DUNE_PTE_MAPPED) || (va & (size - 1)) ||
	    dune_layout_va_to_pa(&layout, va, &want) || dune_pte_addr(e, level) != want ||
	    !known || level > DUNE_LEVEL_2M)
		w->shared_bad++;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t base = PRIVATE_BASE + (uint64_t)w->id * REGION, first, n, i;
	int it, op, perm;

	for (i = 0; i < REGION_PAGES; i++)
		w->model[i] = -1;

	for (it = 0; it < ITERATIONS; it++) {
		/* private region, checked against the model */
		pick_range(w, &first, &n);
		op = rnd(w) % 4;
		perm = perms[rnd(w) % NPERMS];
		if (op == 0 || op == 1) {
			if (dune_vm_map_pages(&vm, (void *)(uintptr_t)(base + first * 4096),
					      n * 4096, perm))
				w->errors++;
			for (i = 0; i < n; i++)
				w->model[first + i] = perm;
		} else if (op == 2) {
			if (dune_vm_unmap(&vm, (void *)(uintptr_t)(base + first * 4096), n * 4096))
				w->errors++;
			for (i = 0; i < n; i++)
				w->model[first + i] = -1;
		} else {
			if (dune_vm_protect(&vm, (void *)(uintptr_t)(base + first * 4096),
					    n * 4096, perm))
				w->errors++;
			for (i = 0; i < n; i++)
				if (w->model[first + i] >= 0)
					w->model[first + i] = perm;
		}
		w->ops++;
		/* the range and its borders */
		for (i = first > 0 ? first - 1 : 0; i <= first + n && i < REGION_PAGES;
		     i += 1 + n / 16)
			if (!check_page(w, base, i))
				w->errors++;
		if (it % 25 == 0)
			full_check(w, base);

		/* shared region: races with everyone */
		pick_range(w, &first, &n);
		op = rnd(w) % 5;
		perm = perms[rnd(w) % NPERMS];
		if (op <= 1)
			dune_vm_map_pages(&vm, (void *)(uintptr_t)(SHARED_BASE + first * 4096),
					  n * 4096, perm);
		else if (op == 2)
			dune_vm_unmap(&vm, (void *)(uintptr_t)(SHARED_BASE + first * 4096), n * 4096);
		else if (op == 3)
			dune_vm_protect(&vm, (void *)(uintptr_t)(SHARED_BASE + first * 4096),
					n * 4096, perm);
		else
			dune_vm_test_and_clear(&vm, (void *)(uintptr_t)(SHARED_BASE + first * 4096),
					       DUNE_PTE_A | DUNE_PTE_D);
		dune_vm_walk(&vm, (void *)(uintptr_t)SHARED_BASE,
			     (void *)(uintptr_t)(SHARED_BASE + REGION), shared_walk_cb, w);
	}
	full_check(w, base);
	return NULL;
}

static int cpu_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	unsigned long *n = arg;

	(void)va;
	(void)level;
	if (dune_pte_get(pte) & DUNE_PTE_P) {
		dune_pte_set_bits(pte, ((*n)++ & 1) ? DUNE_PTE_A | DUNE_PTE_D : DUNE_PTE_A);
	}
	return 0;
}

/* Sets A/D bits like the CPU would, while the workers split and change leaves. */
static void *cpu_main(void *arg)
{
	unsigned long n = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_cpu, __ATOMIC_RELAXED)) {
		dune_vm_walk(&vm, (void *)(uintptr_t)PRIVATE_BASE,
			     (void *)(uintptr_t)(SHARED_BASE + REGION), cpu_cb, &n);
	}
	return (void *)n;
}

/* D set in a private leaf survives a concurrent split of it. */
static void test_dirty_survives_split(void)
{
	uint64_t va = PRIVATE_BASE + 2 * MiB * 7;
	dune_pte_t *pte;
	int level;
	int64_t got;

	dune_vm_map_pages(&vm, (void *)(uintptr_t)va, 2 * MiB, perms[0]);
	dune_vm_lookup(&vm, (void *)(uintptr_t)va, &pte, &level);
	dune_pte_set_bits(pte, DUNE_PTE_D);
	dune_vm_protect(&vm, (void *)(uintptr_t)(va + 4096), 4096, DUNE_PERM_R);
	got = dune_vm_test_and_clear(&vm, (void *)(uintptr_t)(va + 8192), DUNE_PTE_D);
	is(got, (int64_t)DUNE_PTE_D, "a dirty 2 MiB leaf's pages are dirty after a split");
	dune_vm_unmap(&vm, (void *)(uintptr_t)va, 2 * MiB);
}

int main(void)
{
	unsigned long errors = 0, shared_bad = 0, ops = 0;
	pthread_t cpu;
	void *cpu_ret;
	int i;

	fake_layout(&layout);
	testmem_init(&tm, 65536);
	if (dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_2M, &layout)) {
		fprintf(stderr, "init failed\n");
		return 2;
	}
	test_dirty_survives_split();

	pthread_create(&cpu, NULL, cpu_main, NULL);
	for (i = 0; i < NTHREADS; i++) {
		workers[i].id = i;
		workers[i].seed = 0x5eed + i * 7919;
		pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].thread, NULL);
		errors += workers[i].errors;
		shared_bad += workers[i].shared_bad;
		ops += workers[i].ops;
		ok(workers[i].errors == 0, "thread %d: private region matches its model "
		   "(%lu errors)", i, workers[i].errors);
	}
	__atomic_store_n(&stop_cpu, 1, __ATOMIC_RELAXED);
	pthread_join(cpu, &cpu_ret);
	tap_diag("%lu operations, %lu A/D updates by the fake CPU", ops,
		 (unsigned long)(uintptr_t)cpu_ret);
	is(shared_bad, 0UL, "shared region: every leaf seen was consistent");

	is(dune_vm_unmap(&vm, (void *)(uintptr_t)PRIVATE_BASE,
			 SHARED_BASE + REGION - PRIVATE_BASE), 0, "unmap everything");
	is(testmem_used(&tm), (size_t)1, "only the root is left: no leaked tables");
	dune_pt_fini(&vm);
	is(testmem_used(&tm), (size_t)0, "fini frees the root");
	(void)errors;
	return tap_done();
}
