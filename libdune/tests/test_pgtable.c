// SPDX-License-Identifier: MIT
/*
 * The page-table engine on a plain buffer: map, unmap, protect, split,
 * walk, accessed/dirty bits, translation through a fake 3-window layout.
 */
#include <errno.h>

#include "tap.h"
#include "fake_layout.h"
#include "testmem.h"

static struct kvm_dune_layout layout;

struct counts {
	unsigned long leaves[3];
	unsigned long present;
	unsigned long bad;	/* leaf whose pa is not layout(va) */
	bool check_identity;
};

static int count_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	struct counts *c = arg;
	dune_pte_t e = dune_pte_get(pte);
	uint64_t pa;

	c->leaves[level]++;
	if (e & DUNE_PTE_P)
		c->present++;
	if (c->check_identity) {
		if (dune_layout_va_to_pa(&layout, va, &pa) || pa != dune_pte_addr(e, level) ||
		    (va & ((1ULL << (12 + 9 * level)) - 1)))
			c->bad++;
	}
	return 0;
}

static struct counts walk_counts(struct dune_vm *vm, uint64_t start, uint64_t end)
{
	struct counts c;

	memset(&c, 0, sizeof(c));
	c.check_identity = true;
	dune_vm_walk(vm, (void *)(uintptr_t)start, (void *)(uintptr_t)end, count_cb, &c);
	return c;
}

static int map_window(struct dune_vm *vm, int i, int perm)
{
	const struct kvm_dune_window *w = &layout.windows[i];

	return dune_vm_map_phys(vm, (void *)(uintptr_t)w->hva, w->size, w->gpa, perm);
}

static int level_of(struct dune_vm *vm, uint64_t va)
{
	int level = -1;

	if (dune_vm_lookup(vm, (void *)(uintptr_t)va, NULL, &level))
		return -1;
	return level;
}

static bool maps_to(struct dune_vm *vm, uint64_t va, uint64_t want)
{
	uint64_t pa;

	return dune_vm_translate(vm, (void *)(uintptr_t)va, &pa, NULL) == 0 && pa == want;
}

#define RWX (DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X)

static void test_windows_1g(void)
{
	struct testmem tm;
	struct dune_vm vm;
	struct counts c;

	testmem_init(&tm, 4096);
	is(dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_1G, &layout), 0, "init (1 GiB leaves)");
	is(testmem_used(&tm), (size_t)1, "one page: the root");

	is(map_window(&vm, 0, RWX), 0, "map LOW");
	is(testmem_used(&tm), (size_t)2, "LOW: root + one PDPT (1 GiB leaves)");
	is(level_of(&vm, 0x12345678), DUNE_LEVEL_1G, "LOW uses 1 GiB leaves");
	ok(maps_to(&vm, 0x12345678, 0x12345678), "translate in LOW");
	ok(maps_to(&vm, LOW_SIZE - 1, LOW_SIZE - 1), "translate last byte of LOW");
	is(dune_vm_translate(&vm, (void *)(uintptr_t)LOW_SIZE, NULL, NULL), -ENOENT,
	   "nothing after LOW");

	is(map_window(&vm, 1, RWX), 0, "map MMAP");
	is(map_window(&vm, 2, RWX), 0, "map STACK (ends at the user limit)");
	is(testmem_used(&tm), (size_t)6, "MMAP: +1 PDPT; STACK: +PDPT +PD +PT");
	ok(maps_to(&vm, MMAP_HVA + 5 * GiB + 0x1234, MMAP_GPA + 5 * GiB + 0x1234),
	   "translate in MMAP");
	is(level_of(&vm, STACK_HVA), DUNE_LEVEL_2M, "STACK starts with 2 MiB leaves");
	is(level_of(&vm, 0x7fffffe00000ULL), DUNE_LEVEL_4K, "the last 2 MiB in 4 KiB leaves");
	ok(maps_to(&vm, 0x7fffffffe000ULL, STACK_GPA + STACK_SIZE - 4096),
	   "the last page below the limit");
	is(dune_vm_lookup(&vm, (void *)0x7ffffffff000ULL, NULL, NULL), -ENOENT,
	   "the page at the limit is not mapped");

	c = walk_counts(&vm, STACK_HVA, DUNE_USER_ADDR_LIMIT);
	ok(c.leaves[1] == 511 && c.leaves[0] == 511 && c.leaves[2] == 0,
	   "STACK: 511 2 MiB + 511 4 KiB leaves (got %lu/%lu/%lu)", c.leaves[0],
	   c.leaves[1], c.leaves[2]);
	c = walk_counts(&vm, 0, 1ULL << 47);
	ok(c.leaves[2] == 12 && c.bad == 0, "whole space: 12 1 GiB leaves, all identity");

	dune_pt_fini(&vm);
	is(testmem_used(&tm), (size_t)0, "fini frees every table");
}

static void test_windows_2m(void)
{
	struct testmem tm;
	struct dune_vm vm;
	struct counts c;

	testmem_init(&tm, 4096);
	dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_2M, &layout);
	is(map_window(&vm, 0, RWX), 0, "map LOW (2 MiB leaves only)");
	is(testmem_used(&tm), (size_t)6, "LOW: root + PDPT + 4 PDs");
	is(level_of(&vm, 3 * GiB + 7), DUNE_LEVEL_2M, "2 MiB leaf");
	c = walk_counts(&vm, 0, LOW_SIZE);
	ok(c.leaves[1] == 2048 && c.bad == 0, "2048 leaves, identity");

	is(dune_vm_map_phys(&vm, (void *)(uintptr_t)(MMAP_HVA), GiB, MMAP_GPA,
			    RWX | DUNE_PERM_SMALL), 0, "map 1 GiB with DUNE_PERM_SMALL");
	is(level_of(&vm, MMAP_HVA + 123 * 4096), DUNE_LEVEL_4K, "SMALL gives 4 KiB leaves");
	dune_pt_fini(&vm);

	dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_1G, &layout);
	is(dune_vm_map_phys(&vm, 0, GiB, 0, RWX | DUNE_PERM_NO1G), 0, "map with NO1G");
	is(level_of(&vm, 0x1000), DUNE_LEVEL_2M, "NO1G gives 2 MiB leaves");
	/* misaligned pa: only 4 KiB leaves possible */
	is(dune_vm_map_phys(&vm, (void *)(uintptr_t)GiB, 4 * MiB, 5 * GiB + 4096, RWX), 0,
	   "map with a pa that is only 4 KiB aligned");
	is(level_of(&vm, GiB + 2 * MiB), DUNE_LEVEL_4K, "4 KiB leaves for misaligned pa");
	ok(maps_to(&vm, GiB + 2 * MiB + 8, 5 * GiB + 4096 + 2 * MiB + 8), "pa offset kept");
	dune_pt_fini(&vm);
	is(testmem_used(&tm), (size_t)0, "no leaks");
}

static void test_perm_bits(void)
{
	struct testmem tm;
	struct dune_vm vm;
	dune_pte_t *pte;
	int level, perm;

	testmem_init(&tm, 64);
	dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_1G, &layout);
	dune_vm_map_phys(&vm, (void *)0x200000, 4096, 0x5000,
			 DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_U | DUNE_PERM_X | DUNE_PERM_USR1);
	dune_vm_lookup(&vm, (void *)0x200000, &pte, &level);
	is(*pte, 0x5000ULL | DUNE_PTE_P | DUNE_PTE_W | DUNE_PTE_U | DUNE_PTE_USR1 |
	   DUNE_PTE_MAPPED, "4 KiB leaf bits: P W U USR1, no NX, no PS");
	dune_vm_map_phys(&vm, (void *)0x400000, 2 * MiB, 0x600000, DUNE_PERM_R);
	dune_vm_lookup(&vm, (void *)0x400000, &pte, &level);
	is(*pte, 0x600000ULL | DUNE_PTE_P | DUNE_PTE_PS | DUNE_PTE_NX | DUNE_PTE_MAPPED,
	   "2 MiB read-only leaf: P PS NX");
	is(level, DUNE_LEVEL_2M, "level 1");
	dune_vm_translate(&vm, (void *)0x400000, NULL, &perm);
	is(perm, DUNE_PERM_R, "perm read back");

	/* not present but mapped */
	is(dune_vm_protect(&vm, (void *)0x400000, 2 * MiB, 0), 0, "protect to nothing");
	dune_vm_lookup(&vm, (void *)0x400000, &pte, &level);
	ok(!(*pte & DUNE_PTE_P) && (*pte & DUNE_PTE_MAPPED) &&
	   dune_pte_addr(*pte, level) == 0x600000, "not present, address kept");
	ok(maps_to(&vm, 0x400010, 0x600010), "a not-present leaf still translates");
	is(dune_vm_protect(&vm, (void *)0x400000, 2 * MiB, DUNE_PERM_R | DUNE_PERM_W), 0,
	   "protect back");
	dune_vm_lookup(&vm, (void *)0x400000, &pte, &level);
	ok((*pte & DUNE_PTE_P) && (*pte & DUNE_PTE_W) && level == DUNE_LEVEL_2M,
	   "present and writable again, still 2 MiB");
	dune_pt_fini(&vm);
}

static void test_split_unmap(void)
{
	struct testmem tm;
	struct dune_vm vm;
	struct counts c;
	dune_pte_t *pte;
	int level, perm;
	size_t before;
	const uint64_t page = 3 * GiB / 2 + 5 * 4096;	/* inside the second 1 GiB leaf */

	testmem_init(&tm, 4096);
	dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_1G, &layout);
	map_window(&vm, 0, RWX);
	before = testmem_used(&tm);

	/* the CPU has set A and D in the 1 GiB leaf */
	dune_vm_lookup(&vm, (void *)(uintptr_t)GiB, &pte, &level);
	dune_pte_set_bits(pte, DUNE_PTE_A | DUNE_PTE_D);

	is(dune_vm_protect(&vm, (void *)(uintptr_t)page, 4096, DUNE_PERM_R), 0,
	   "protect one page inside a 1 GiB leaf");
	is(testmem_used(&tm), before + 2, "split into a PD and a PT");
	is(level_of(&vm, page), DUNE_LEVEL_4K, "the page is a 4 KiB leaf");
	dune_vm_translate(&vm, (void *)(uintptr_t)page, NULL, &perm);
	is(perm, DUNE_PERM_R, "with the new permission");
	is(level_of(&vm, page + 4096), DUNE_LEVEL_4K, "its neighbour in the 2 MiB is 4 KiB");
	is(level_of(&vm, GiB + 256 * MiB), DUNE_LEVEL_2M, "the rest of the 1 GiB is 2 MiB");
	is(level_of(&vm, 2 * GiB), DUNE_LEVEL_1G, "the next 1 GiB is untouched");
	dune_vm_translate(&vm, (void *)(uintptr_t)(page + 4096), NULL, &perm);
	is(perm, RWX, "neighbours keep their permissions");
	dune_vm_lookup(&vm, (void *)(uintptr_t)(page + 4096), &pte, &level);
	ok((*pte & (DUNE_PTE_A | DUNE_PTE_D)) == (DUNE_PTE_A | DUNE_PTE_D),
	   "split leaves inherit A and D");
	c = walk_counts(&vm, 0, LOW_SIZE);
	ok(c.bad == 0 && c.leaves[0] == 512 && c.leaves[1] == 511 && c.leaves[2] == 3,
	   "walk after split: 512 + 511 + 3 leaves, identity (%lu/%lu/%lu bad %lu)",
	   c.leaves[0], c.leaves[1], c.leaves[2], c.bad);

	is(dune_vm_unmap(&vm, (void *)(uintptr_t)page, 4096), 0, "unmap that page");
	is(dune_vm_lookup(&vm, (void *)(uintptr_t)page, NULL, NULL), -ENOENT, "gone");
	ok(maps_to(&vm, page - 4096, page - 4096) && maps_to(&vm, page + 4096, page + 4096),
	   "its neighbours stay");

	/* unmapping the rest of that 2 MiB frees the PT */
	is(dune_vm_unmap(&vm, (void *)(uintptr_t)(page & ~(2 * MiB - 1)), 2 * MiB), 0,
	   "unmap the whole 2 MiB");
	is(testmem_used(&tm), before + 1, "the empty PT is freed");
	/* unmap across a 1 GiB leaf boundary, partly */
	is(dune_vm_unmap(&vm, (void *)(uintptr_t)(2 * GiB - 4096), 8192), 0,
	   "unmap two pages straddling 1 GiB");
	ok(dune_vm_lookup(&vm, (void *)(uintptr_t)(2 * GiB - 4096), NULL, NULL) == -ENOENT &&
	   dune_vm_lookup(&vm, (void *)(uintptr_t)(2 * GiB), NULL, NULL) == -ENOENT &&
	   maps_to(&vm, 2 * GiB + 4096, 2 * GiB + 4096) &&
	   maps_to(&vm, 2 * GiB - 8192, 2 * GiB - 8192), "exactly those two pages");

	/* a big leaf over small ones frees their tables */
	is(dune_vm_map_phys(&vm, (void *)(uintptr_t)GiB, GiB, GiB, RWX), 0,
	   "map 1 GiB over the split region");
	is(level_of(&vm, page), DUNE_LEVEL_1G, "1 GiB leaf again");
	is(dune_vm_unmap(&vm, 0, LOW_SIZE), 0, "unmap all of LOW");
	is(testmem_used(&tm), (size_t)1, "only the root remains");
	c = walk_counts(&vm, 0, 1ULL << 47);
	ok(c.leaves[0] + c.leaves[1] + c.leaves[2] == 0, "nothing to walk");
	dune_pt_fini(&vm);
}

static int dirty_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	unsigned long *n = arg;

	(void)va;
	(void)level;
	if (dune_pte_test_and_clear(pte, DUNE_PTE_D))
		(*n)++;
	return 0;
}

static int stop_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	uintptr_t *first = arg;

	(void)pte;
	(void)level;
	*first = va;
	return 42;
}

static void test_ad_bits(void)
{
	struct testmem tm;
	struct dune_vm vm;
	dune_pte_t *pte;
	unsigned long n = 0;
	uintptr_t first = 0;
	int level, i;
	const uint64_t base = MMAP_HVA;

	testmem_init(&tm, 256);
	dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_1G, &layout);
	dune_vm_map_pages(&vm, (void *)(uintptr_t)base, 64 * 4096, RWX | DUNE_PERM_SMALL);
	/* the "CPU" touches pages 3 (read) and 10, 11 (write) */
	dune_vm_lookup(&vm, (void *)(uintptr_t)(base + 3 * 4096), &pte, &level);
	dune_pte_set_bits(pte, DUNE_PTE_A);
	for (i = 10; i <= 11; i++) {
		dune_vm_lookup(&vm, (void *)(uintptr_t)(base + i * 4096), &pte, &level);
		dune_pte_set_bits(pte, DUNE_PTE_A | DUNE_PTE_D);
	}
	is(dune_vm_test_and_clear(&vm, (void *)(uintptr_t)(base + 3 * 4096),
				  DUNE_PTE_A | DUNE_PTE_D), (int64_t)DUNE_PTE_A,
	   "page 3: accessed, not dirty");
	is(dune_vm_test_and_clear(&vm, (void *)(uintptr_t)(base + 3 * 4096), DUNE_PTE_A),
	   (int64_t)0, "cleared");
	is(dune_vm_test_and_clear(&vm, (void *)(uintptr_t)(base + 10 * 4096), DUNE_PTE_D),
	   (int64_t)DUNE_PTE_D, "page 10 dirty");
	dune_vm_lookup(&vm, (void *)(uintptr_t)(base + 10 * 4096), &pte, &level);
	ok((*pte & DUNE_PTE_A) && !(*pte & DUNE_PTE_D), "only D cleared on page 10");
	is(dune_vm_walk(&vm, (void *)(uintptr_t)base, (void *)(uintptr_t)(base + 64 * 4096),
			dirty_cb, &n), 0, "walk clearing D");
	is(n, 1UL, "one more dirty page (11) found by the walk");
	is(dune_vm_test_and_clear(&vm, (void *)(uintptr_t)(base + 100 * 4096), DUNE_PTE_A),
	   (int64_t)-ENOENT, "test_and_clear on an unmapped page");
	is(dune_vm_walk(&vm, (void *)(uintptr_t)(base + 5 * 4096), (void *)(uintptr_t)-1,
			stop_cb, &first), 42, "a callback's non-zero stops the walk");
	is(first, (uintptr_t)(base + 5 * 4096), "the walk starts at the first leaf in range");

	/* dune_vm_collect_dirty: pages 1, 2 and 63 written; a 2 MiB leaf after them */
	{
		uint64_t bm[2] = { ~0ULL, ~0ULL };
		const uint64_t big = base + 2 * MiB;

		static const int written[] = { 1, 2, 63 };

		for (i = 0; i < 3; i++) {
			dune_vm_lookup(&vm, (void *)(uintptr_t)(base + written[i] * 4096), &pte,
				       &level);
			dune_pte_set_bits(pte, DUNE_PTE_A | DUNE_PTE_D);
		}
		is(dune_vm_collect_dirty(&vm, (void *)(uintptr_t)base, 64 * 4096, bm, 0), 3L,
		   "collect_dirty: 3 dirty pages");
		ok(bm[0] == ((1ULL << 1) | (1ULL << 2) | (1ULL << 63)) && bm[1] == ~0ULL,
		   "... the bitmap names them and stays within its words");
		is(dune_vm_collect_dirty(&vm, (void *)(uintptr_t)base, 64 * 4096, NULL,
					 DUNE_DIRTY_CLEAR), 3L, "collect and clear");
		is(dune_vm_collect_dirty(&vm, (void *)(uintptr_t)base, 64 * 4096, bm, 0), 0L,
		   "nothing dirty after clearing");
		dune_vm_map_pages(&vm, (void *)(uintptr_t)big, 2 * MiB, RWX | DUNE_PERM_NO1G);
		dune_vm_lookup(&vm, (void *)(uintptr_t)big, &pte, &level);
		is(level, DUNE_LEVEL_2M, "a 2 MiB leaf");
		dune_pte_set_bits(pte, DUNE_PTE_D);
		is(dune_vm_collect_dirty(&vm, (void *)(uintptr_t)(big + 4096), 2 * 4096, bm,
					 DUNE_DIRTY_CLEAR), 2L,
		   "a dirty large leaf: every page of it in the range");
		is(dune_vm_collect_dirty(&vm, (void *)(uintptr_t)big, 2 * MiB, NULL, 0), 0L,
		   "... and clearing clears the leaf");
		is(dune_vm_collect_dirty(&vm, (void *)(uintptr_t)(base + 1), 4096, NULL, 0),
		   (long)-EINVAL, "collect_dirty: unaligned range");
		is(dune_vm_collect_dirty(&vm, (void *)(uintptr_t)base, 4096, NULL, 4), (long)-EINVAL,
		   "collect_dirty: unknown flag");
	}
	dune_pt_fini(&vm);
}

static void test_map_pages_and_args(void)
{
	struct testmem tm;
	struct dune_vm vm, *clone = NULL;
	struct counts c1, c2;

	testmem_init(&tm, 1024);
	dune_pt_init(&vm, &tm.mem, DUNE_LEVEL_1G, &layout);
	is(dune_vm_map_pages(&vm, (void *)(uintptr_t)(LOW_SIZE - 8192), 16384, RWX), -EFAULT,
	   "map_pages across the end of a window fails");
	is(dune_vm_lookup(&vm, (void *)(uintptr_t)(LOW_SIZE - 8192), NULL, NULL), -ENOENT,
	   "and maps nothing");
	is(dune_vm_map_pages(&vm, (void *)(uintptr_t)(STACK_HVA + GiB - 3 * 2 * MiB),
			     3 * 2 * MiB - 4096, RWX), 0, "map_pages up to the user limit");
	ok(maps_to(&vm, 0x7fffffffe000ULL, STACK_GPA + STACK_SIZE - 4096), "identity at top");
	is(dune_vm_map_pages(&vm, (void *)(uintptr_t)(MMAP_HVA + 3 * MiB), 7 * MiB, RWX), 0,
	   "map_pages in MMAP");
	c1 = walk_counts(&vm, 0, 1ULL << 47);
	is(c1.bad, 0UL, "every leaf maps va to layout(va)");

	is(dune_vm_map_phys(&vm, (void *)0x1001, 4096, 0, RWX), -EINVAL, "unaligned va");
	is(dune_vm_map_phys(&vm, (void *)0x1000, 4095, 0, RWX), -EINVAL, "unaligned length");
	is(dune_vm_map_phys(&vm, (void *)0x1000, 4096, 0x10, RWX), -EINVAL, "unaligned pa");
	is(dune_vm_map_phys(&vm, (void *)0x1000, 0, 0, RWX), -EINVAL, "empty range");
	is(dune_vm_map_phys(&vm, (void *)0x7ffffffff000ULL, 8192, 0, RWX), -EINVAL,
	   "range past 2^47");
	is(dune_vm_map_phys(&vm, (void *)0x800000000000ULL, 4096, 0, RWX), -EINVAL,
	   "non-canonical / kernel half");
	is(dune_vm_map_phys(NULL, (void *)0x1000, 4096, 0, RWX), -EINVAL, "NULL vm");
	is(dune_vm_unmap(&vm, (void *)0x1000, 0), -EINVAL, "unmap empty range");
	is(dune_vm_protect(&vm, (void *)(uintptr_t)GiB, GiB, RWX), 0,
	   "protect an unmapped range is a no-op");

	/* clone */
	clone = calloc(1, sizeof(*clone));
	dune_pt_init(clone, &tm.mem, DUNE_LEVEL_1G, &layout);
	is(dune_pt_clone(clone, &vm), 0, "clone");
	c2 = walk_counts(clone, 0, 1ULL << 47);
	ok(c2.leaves[0] == c1.leaves[0] && c2.leaves[1] == c1.leaves[1] &&
	   c2.leaves[2] == c1.leaves[2] && c2.bad == 0, "the clone has the same leaves");
	dune_vm_unmap(clone, (void *)(uintptr_t)(MMAP_HVA + 4 * MiB), 2 * MiB);
	ok(maps_to(&vm, MMAP_HVA + 4 * MiB, MMAP_GPA + 4 * MiB) &&
	   dune_vm_lookup(clone, (void *)(uintptr_t)(MMAP_HVA + 4 * MiB), NULL, NULL) == -ENOENT,
	   "changing the clone leaves the original alone");
	dune_pt_fini(clone);
	free(clone);
	dune_pt_fini(&vm);
	is(testmem_used(&tm), (size_t)0, "no leaks");
}

int main(void)
{
	fake_layout(&layout);
	test_windows_1g();
	test_windows_2m();
	test_perm_bits();
	test_split_unmap();
	test_ad_bits();
	test_map_pages_and_args();
	return tap_done();
}
