// SPDX-License-Identifier: GPL-2.0-only
/*
 * libdune's page tables under concurrency: 8 threads in Dune mode (they
 * enter through the pthread_create wrapper) map, unmap, protect, touch and
 * walk at the same time, in a shared arena whose page tables they all
 * change (thread t owns the pages p with p % 8 == t) and in private 2 MiB
 * regions whose page table they free and rebuild (freed table pages go
 * through the TLB-shootdown reclaim).  Every thread checks the tables
 * against its own model as it goes, touches its mapped pages (a page it
 * unmapped faults, and the #PF handler maps it back), and at the end the
 * main thread checks the whole arena.
 */
#include <pthread.h>

#include "dune_lib_util.h"

#define NTHREADS	8
#define ARENA_PAGES	1024			/* 4 MiB, two 2 MiB tables */
#define PRIV_SIZE	(2UL << 20)
#define ITERATIONS	800

enum { UNMAPPED, MAPPED_RO, MAPPED_RW };

static char *arena;
static char *priv[NTHREADS];

struct worker {
	int id;
	uint64_t seed;
	unsigned char state[ARENA_PAGES];	/* only its own pages */
	uint64_t token[ARENA_PAGES];		/* last value written */
	long errors;
	long faults_expected;
	long walks, leaves_seen, shootdowns;
	char why[160];
};

static struct worker workers[NTHREADS];
static __thread struct worker *self;
/* the page this thread may fault on; set by the thread, cleared by the handler */
static __thread uintptr_t expect_fault;
static __thread long faults_taken;

static void pgflt(uintptr_t addr, uint64_t err, struct dune_tf *tf)
{
	uintptr_t pg = addr & ~(PAGE_SZ - 1);

	if (!self || pg != expect_fault || (tf->cs & 3))
		dune_fatal_trap(tf);
	faults_taken++;
	expect_fault = 0;
	/* fix: map it again, read-write */
	dune_vm_map_pages(dune_vm_current(), (void *)pg, PAGE_SZ, RW | DUNE_PERM_SMALL);
	self->state[(pg - (uintptr_t)arena) / PAGE_SZ] = MAPPED_RW;
}

static void fail(struct worker *w, const char *what, long page)
{
	if (!w->errors)
		snprintf(w->why, sizeof(w->why), "thread %d: %s (page %ld)", w->id, what, page);
	w->errors++;
}

static int page_state(const void *va)
{
	int perm = 0;

	if (dune_vm_translate(dune_vm_current(), va, NULL, &perm))
		return UNMAPPED;
	if (!(perm & DUNE_PERM_R))
		return -1;
	return (perm & DUNE_PERM_W) ? MAPPED_RW : MAPPED_RO;
}

struct walk_ctx {
	struct worker *w;
	long leaves;
};

/*
 * Every leaf in the arena: 4 KiB, the identity through the layout, and
 * for the walker's own pages, the state its model says.
 */
static int walk_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	struct walk_ctx *c = arg;
	dune_pte_t e = dune_pte_get(pte);
	long i = (long)((va - (uintptr_t)arena) / PAGE_SZ);
	uint64_t pa;

	c->leaves++;
	if (level != DUNE_LEVEL_4K)
		fail(c->w, "a large leaf in the arena", i);
	if (dune_va_to_pa((void *)va, &pa) || pa != dune_pte_addr(e, level))
		fail(c->w, "a leaf that does not map its own address", i);
	if (i % NTHREADS == c->w->id) {
		int st = !(e & DUNE_PTE_P) ? -1 : (e & DUNE_PTE_W) ? MAPPED_RW : MAPPED_RO;

		if (st != c->w->state[i])
			fail(c->w, "walk disagrees with the model", i);
	}
	return 0;
}

static void check_own_page(struct worker *w, long i)
{
	char *p = arena + i * PAGE_SZ;
	int st = page_state(p);

	if (st != w->state[i])
		fail(w, "translate disagrees with the model", i);
	if (st != UNMAPPED && READ_ONCE(*(uint64_t *)p) != w->token[i])
		fail(w, "page lost its contents", i);
}

static void private_cycle(struct worker *w, int round)
{
	char *r = priv[w->id];
	struct dune_vm *vm = dune_vm_current();
	int k;

	/* unmapping all of it frees its page table (pending until a shootdown) */
	if (dune_vm_unmap(vm, r, PRIV_SIZE))
		fail(w, "unmap private region", -1);
	if (dune_vm_lookup(vm, r + PRIV_SIZE / 2, NULL, NULL) != -ENOENT)
		fail(w, "private region still mapped", -1);
	if (dune_vm_map_pages(vm, r, PRIV_SIZE, RW | DUNE_PERM_SMALL))
		fail(w, "map private region", -1);
	for (k = 0; k < 8; k++) {
		uint64_t *q = (uint64_t *)(r + (size_t)k * 64 * PAGE_SZ);
		uint64_t want = (uint64_t)w->id << 32 | (uint64_t)(round - 1) << 8 | k;

		if (round && READ_ONCE(*q) != want)
			fail(w, "private page lost its contents", k);
		WRITE_ONCE(*q, (uint64_t)w->id << 32 | (uint64_t)round << 8 | k);
	}
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct dune_vm *vm = dune_vm_current();
	int it;

	self = w;
	if (!dune_in_guest()) {
		fail(w, "the thread is not in Dune mode", -1);
		return NULL;
	}
	for (it = 0; it < ITERATIONS; it++) {
		long i = (long)(dune_lib_rand(&w->seed) % (ARENA_PAGES / NTHREADS)) * NTHREADS
			 + w->id;
		char *p = arena + i * PAGE_SZ;
		int op = (int)(dune_lib_rand(&w->seed) % 5);

		switch (op) {
		case 0:		/* unmap */
			if (dune_vm_unmap(vm, p, PAGE_SZ))
				fail(w, "unmap", i);
			w->state[i] = UNMAPPED;
			break;
		case 1:		/* map read-write (again) */
			if (dune_vm_map_pages(vm, p, PAGE_SZ, RW | DUNE_PERM_SMALL))
				fail(w, "map", i);
			w->state[i] = MAPPED_RW;
			break;
		case 2:		/* read-only */
			if (dune_vm_protect(vm, p, PAGE_SZ, DUNE_PERM_R))
				fail(w, "protect", i);
			if (w->state[i] != UNMAPPED)	/* protect skips unmapped pages */
				w->state[i] = MAPPED_RO;
			break;
		case 3:		/* write: faults (and is mapped by the handler) if unmapped */
			if (w->state[i] == MAPPED_RO) {
				dune_vm_protect(vm, p, PAGE_SZ, RW);
				w->state[i] = MAPPED_RW;
			}
			if (w->state[i] == UNMAPPED) {
				WRITE_ONCE(expect_fault, (uintptr_t)p);
				w->faults_expected++;
			}
			w->token[i] = (uint64_t)w->id << 40 | (uint64_t)it;
			WRITE_ONCE(*(uint64_t *)p, w->token[i]);
			if (READ_ONCE(expect_fault))
				fail(w, "no fault on an unmapped page", i);
			break;
		case 4:		/* check a page against the model */
			check_own_page(w, i);
			break;
		}
		check_own_page(w, i);

		if (it % 40 == 0) {
			struct walk_ctx c = { w, 0 };

			dune_vm_walk(vm, arena, arena + ARENA_PAGES * PAGE_SZ, walk_cb, &c);
			w->walks++;
			w->leaves_seen += c.leaves;
		}
		if (it % 10 == 0)
			private_cycle(w, it / 10);
		if (it % 397 == 0) {
			if (dune_tlb_shootdown())
				fail(w, "dune_tlb_shootdown", -1);
			w->shootdowns++;
		}
	}
	if (faults_taken != w->faults_expected)
		fail(w, "#PF count", READ_ONCE(faults_taken));
	return NULL;
}

TEST_F_TIMEOUT(dune, eight_threads_map_unmap_walk, 280)
{
	pthread_t th[NTHREADS];
	long i, mapped = 0, leaves = 0;
	int t;
	struct walk_ctx c;
	struct dune_pt_stats st;

	arena = dune_lib_map_aligned(ARENA_PAGES * PAGE_SZ, 2UL << 20);
	ASSERT_NE(MAP_FAILED, arena);
	memset(arena, 0, ARENA_PAGES * PAGE_SZ);
	ASSERT_EQ(0, dune_vm_map_pages(dune_vm_current(), arena, ARENA_PAGES * PAGE_SZ,
				       RW | DUNE_PERM_SMALL));
	for (t = 0; t < NTHREADS; t++) {
		priv[t] = dune_lib_map_aligned(PRIV_SIZE, PRIV_SIZE);
		ASSERT_NE(MAP_FAILED, priv[t]);
		workers[t].id = t;
		workers[t].seed = 0x243f6a8885a308d3ULL * (uint64_t)(t + 1);
		memset(workers[t].state, MAPPED_RW, sizeof(workers[t].state));
	}
	ASSERT_EQ(0, dune_register_pgflt_handler(pgflt));

	for (t = 0; t < NTHREADS; t++)
		ASSERT_EQ(0, pthread_create(&th[t], NULL, worker_fn, &workers[t]));
	for (t = 0; t < NTHREADS; t++)
		ASSERT_EQ(0, pthread_join(th[t], NULL));

	for (t = 0; t < NTHREADS; t++) {
		struct worker *w = &workers[t];

		EXPECT_EQ(0, w->errors) TH_LOG("%s (%ld errors)", w->why, w->errors);
		TH_LOG("thread %d: %ld walks (%ld leaves), %ld faults, %ld shootdowns", t,
		       w->walks, w->leaves_seen, w->faults_expected, w->shootdowns);
	}
	/* the final tables against the union of the models */
	for (i = 0; i < ARENA_PAGES; i++) {
		struct worker *w = &workers[i % NTHREADS];
		int st = page_state(arena + i * PAGE_SZ);

		EXPECT_EQ(w->state[i], st) TH_LOG("page %ld", i);
		if (st != UNMAPPED) {
			mapped++;
			EXPECT_EQ(w->token[i], READ_ONCE(*(uint64_t *)(arena + i * PAGE_SZ)));
		}
	}
	c.w = &workers[0];
	c.leaves = 0;
	workers[0].errors = 0;
	ASSERT_EQ(0, dune_vm_walk(dune_vm_current(), arena, arena + ARENA_PAGES * PAGE_SZ,
				  walk_cb, &c));
	leaves = c.leaves;
	EXPECT_EQ(mapped, leaves);
	EXPECT_EQ(0, workers[0].errors) TH_LOG("%s", workers[0].why);
	TH_LOG("%ld of %d arena pages mapped at the end", mapped, ARENA_PAGES);
	/*
	 * Each private cycle freed a page table (8 threads x 80 cycles): they
	 * were reused after shootdowns instead of growing the pool each time.
	 */
	ASSERT_EQ(0, dune_get_pt_stats(&st));
	TH_LOG("page-table pages: %llu, %llu free, %llu pending a shootdown",
	       (unsigned long long)st.total, (unsigned long long)st.free,
	       (unsigned long long)st.pending);
	EXPECT_LT(st.total, (uint64_t)(NTHREADS * ITERATIONS / 10));
}

DUNE_LIB_MAIN
