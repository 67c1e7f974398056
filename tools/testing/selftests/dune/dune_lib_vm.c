// SPDX-License-Identifier: GPL-2.0-only
/*
 * User-level virtual memory with libdune, as in Appel and Li's benchmarks
 * (used in the Dune paper): protection through the process's own page
 * tables with fault-and-unprotect over 100 pages (appel1: prot1 + trap +
 * unprot, appel2: protN + trap + unprot), and dirty bits that the CPU sets
 * on writes and libdune collects and clears.
 */
#include "dune_lib_util.h"

#define NPAGES	100

static char *pages;
static int nr_faults;
static uintptr_t last_fault;
static uint64_t last_err;
/* appel1: the page the handler protects next (-1: none) */
static int protect_next = -1;
static int nr_protected;

static int page_of(uintptr_t addr)
{
	if (addr < (uintptr_t)pages || addr >= (uintptr_t)pages + NPAGES * PAGE_SZ)
		return -1;
	return (int)((addr - (uintptr_t)pages) / PAGE_SZ);
}

static void pgflt(uintptr_t addr, uint64_t err, struct dune_tf *tf)
{
	int i = page_of(addr);

	if (i < 0 || (tf->cs & 3))
		dune_fatal_trap(tf);
	nr_faults++;
	last_fault = addr;
	last_err = err;
	/* unprot: make the faulting page accessible again */
	dune_vm_protect(dune_vm_current(), pages + i * PAGE_SZ, PAGE_SZ, RW);
	nr_protected--;
	/* appel1 also protects another page in the handler (prot1) */
	if (READ_ONCE(protect_next) >= 0) {
		dune_vm_protect(dune_vm_current(), pages + protect_next * PAGE_SZ, PAGE_SZ, 0);
		nr_protected++;
		WRITE_ONCE(protect_next, -1);
	}
}

static void setup_pages(struct __test_metadata *_metadata)
{
	int i;

	pages = dune_lib_map(NPAGES * PAGE_SZ);
	ASSERT_NE(MAP_FAILED, pages);
	/* 4 KiB leaves (fresh: accessed and dirty clear), then write them all */
	ASSERT_EQ(0, dune_vm_map_pages(dune_vm_current(), pages, NPAGES * PAGE_SZ,
				       RW | DUNE_PERM_SMALL));
	for (i = 0; i < NPAGES; i++)
		*(uint64_t *)(pages + i * PAGE_SZ) = 0x1000 + i;
	ASSERT_EQ(0, dune_register_pgflt_handler(pgflt));
	WRITE_ONCE(nr_faults, 0);
	nr_protected = 0;
}

static int is_protected(int i)
{
	int perm = -1;

	dune_vm_translate(dune_vm_current(), pages + i * PAGE_SZ, NULL, &perm);
	return !(perm & DUNE_PERM_R);
}

static void shuffle(int *order, int n, uint64_t seed)
{
	int i, j, t;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = (int)(dune_lib_rand(&seed) % (uint64_t)(i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

/*
 * appel2 (protN + trap + unprot): protect all 100 pages at once, touch
 * them in random order; each first touch traps once and the handler
 * unprotects the faulting page.  Repeated for several rounds.
 */
TEST_F(dune, appel2_protN_trap_unprot)
{
	int order[NPAGES], round, k, i;

	setup_pages(_metadata);
	for (round = 0; round < 5; round++) {
		int before = READ_ONCE(nr_faults);

		ASSERT_EQ(0, dune_vm_protect(dune_vm_current(), pages, NPAGES * PAGE_SZ, 0));
		nr_protected = NPAGES;
		for (i = 0; i < NPAGES; i++)
			ASSERT_TRUE(is_protected(i));
		shuffle(order, NPAGES, 0x9e3779b97f4a7c15ULL + round);
		for (k = 0; k < NPAGES; k++) {
			uint64_t *p = (uint64_t *)(pages + order[k] * PAGE_SZ);

			ASSERT_EQ(0x1000 + order[k] + round * 0x100000, READ_ONCE(*(uint64_t *)p));
			ASSERT_EQ(before + k + 1, READ_ONCE(nr_faults));
			ASSERT_EQ((uintptr_t)p, READ_ONCE(last_fault));
			ASSERT_EQ(0, READ_ONCE(last_err) & 1);	/* not present */
			*p += 0x100000;			/* no second trap */
			ASSERT_EQ(before + k + 1, READ_ONCE(nr_faults));
		}
		ASSERT_EQ(0, nr_protected);
		ASSERT_EQ(before + NPAGES, READ_ONCE(nr_faults));
	}
	TH_LOG("%d traps over 5 rounds of 100 pages", READ_ONCE(nr_faults));
}

/*
 * appel1 (prot1 + trap + unprot): start with 50 of the 100 pages
 * protected; touch pages in random order; the handler unprotects the
 * faulting page and protects another (the previously touched one), so
 * that the number of protected pages stays the same.
 */
TEST_F(dune, appel1_prot1_trap_unprot)
{
	uint64_t seed = 12345;
	int k, i, prev = 0, expect_faults = 0;

	setup_pages(_metadata);
	for (i = 0; i < NPAGES; i += 2)
		ASSERT_EQ(0, dune_vm_protect(dune_vm_current(), pages + i * PAGE_SZ, PAGE_SZ, 0));
	nr_protected = NPAGES / 2;
	for (k = 0; k < 1000; k++) {
		int target = (int)(dune_lib_rand(&seed) % NPAGES);
		bool prot = is_protected(target);
		uint64_t *p = (uint64_t *)(pages + target * PAGE_SZ);

		if (prot) {
			expect_faults++;
			/* have the handler protect the previous page, if it is open */
			WRITE_ONCE(protect_next,
				   (prev != target && !is_protected(prev)) ? prev : -1);
		}
		ASSERT_EQ(0x1000 + target, READ_ONCE(*p));
		ASSERT_EQ(expect_faults, READ_ONCE(nr_faults));
		if (prot)
			ASSERT_EQ((uintptr_t)p, READ_ONCE(last_fault));
		ASSERT_FALSE(is_protected(target));
		WRITE_ONCE(protect_next, -1);
		prev = target;
	}
	/* the tables agree with the count kept by the handler */
	for (i = 0, k = 0; i < NPAGES; i++)
		k += is_protected(i);
	EXPECT_EQ(nr_protected, k);
	TH_LOG("%d traps in 1000 accesses, %d pages protected at the end",
	       READ_ONCE(nr_faults), k);
	EXPECT_GT(nr_faults, 100);
}

/* ---- dirty bits ---- */

static long collect(uint64_t *bm, int flags)
{
	return dune_vm_collect_dirty(dune_vm_current(), pages, NPAGES * PAGE_SZ, bm, flags);
}

static bool bit(const uint64_t *bm, int i)
{
	return bm[i / 64] & (1ULL << (i % 64));
}

TEST_F(dune, dirty_bits_set_by_writes_cleared_by_libdune)
{
	static const int written[] = { 0, 3, 7, 42, 63, 64, 99 };
	uint64_t bm[2];
	uint64_t sum = 0;
	int i, k;

	setup_pages(_metadata);
	/* setup wrote every page */
	ASSERT_EQ(NPAGES, collect(bm, DUNE_DIRTY_CLEAR));
	ASSERT_EQ(0, collect(bm, 0));

	for (i = 0; i < NPAGES; i++)		/* reads do not dirty */
		sum += READ_ONCE(*(uint64_t *)(pages + i * PAGE_SZ));
	EXPECT_EQ(0, collect(bm, 0));

	for (k = 0; k < 7; k++)
		pages[written[k] * PAGE_SZ + 17] = 1;
	ASSERT_EQ(7, collect(bm, 0));
	for (i = 0, k = 0; i < NPAGES; i++) {
		bool expect = k < 7 && written[k] == i;

		EXPECT_EQ(expect, bit(bm, i)) TH_LOG("page %d", i);
		if (expect)
			k++;
	}
	/* reporting alone keeps them; clearing resets and flushes the TLB */
	EXPECT_EQ(7, collect(NULL, DUNE_DIRTY_CLEAR));
	EXPECT_EQ(0, collect(bm, 0));
	/* the same pages written again are dirty again (TLB was flushed) */
	pages[3 * PAGE_SZ] = 2;
	pages[99 * PAGE_SZ + 4095] = 2;
	EXPECT_EQ(2, collect(bm, DUNE_DIRTY_CLEAR | DUNE_DIRTY_SHOOTDOWN));
	EXPECT_TRUE(bit(bm, 3) && bit(bm, 99));
	pages[3 * PAGE_SZ] = 3;
	EXPECT_EQ(1, collect(bm, 0));
	EXPECT_TRUE(bit(bm, 3));
	/* single page: the A/D bits through dune_vm_test_and_clear */
	EXPECT_EQ(DUNE_PTE_D, dune_vm_test_and_clear(dune_vm_current(), pages + 3 * PAGE_SZ,
						     DUNE_PTE_D));
	dune_flush_tlb_one(pages + 3 * PAGE_SZ);
	EXPECT_EQ(0, collect(bm, 0));
	EXPECT_EQ(DUNE_PTE_A, dune_vm_test_and_clear(dune_vm_current(), pages + 5 * PAGE_SZ,
						     DUNE_PTE_A | DUNE_PTE_D));
	EXPECT_EQ(0, dune_vm_test_and_clear(dune_vm_current(), pages + 5 * PAGE_SZ, DUNE_PTE_A));
	dune_flush_tlb_one(pages + 5 * PAGE_SZ);
	sum += READ_ONCE(*(char *)(pages + 5 * PAGE_SZ));
	EXPECT_EQ(DUNE_PTE_A, dune_vm_test_and_clear(dune_vm_current(), pages + 5 * PAGE_SZ,
						     DUNE_PTE_A | DUNE_PTE_D));
	(void)sum;
}

DUNE_LIB_MAIN
