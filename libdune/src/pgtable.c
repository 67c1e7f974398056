// SPDX-License-Identifier: MIT
/*
 * The page-table engine: 4-level x86-64 tables with 4 KiB, 2 MiB and 1 GiB
 * leaves.  It never touches the CPU: table pages come from a struct
 * dune_ptmem, which says where a table with a given physical address can be
 * read, so the same code runs on the live guest tables and on a plain buffer
 * in the host unit tests.
 *
 * Concurrency: vm->lock is taken for writing by every structural change
 * (map, unmap, protect, which may allocate, split or free tables) and for
 * reading by lookups and walks.  Every entry is read and written with atomic
 * operations, and entries that the CPU may be using are changed with
 * compare-and-exchange, so that accessed/dirty bits that the CPU sets in the
 * meantime are never lost.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define NR_LEVELS	4
#define TOP_LEVEL	(NR_LEVELS - 1)
#define VA_LIMIT	(1ULL << 47)
#define PA_LIMIT	(1ULL << 52)
#define TABLE_BITS	(DUNE_PTE_P | DUNE_PTE_W | DUNE_PTE_U)
#define PAT_4K		(1ULL << 7)
#define PAT_LARGE	(1ULL << 12)

static inline uint64_t level_size(int level)
{
	return 1ULL << (12 + 9 * level);
}

static inline unsigned int level_index(uint64_t va, int level)
{
	return (va >> (12 + 9 * level)) & 511;
}

static inline uint64_t leaf_addr_mask(int level)
{
	return DUNE_PTE_ADDR & ~(level_size(level) - 1);
}

static inline dune_pte_t pte_load(const dune_pte_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void pte_store(dune_pte_t *p, dune_pte_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline dune_pte_t pte_xchg(dune_pte_t *p, dune_pte_t v)
{
	return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
}

static inline bool pte_cas(dune_pte_t *p, dune_pte_t *old, dune_pte_t v)
{
	return __atomic_compare_exchange_n(p, old, v, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

static inline bool pte_is_leaf(dune_pte_t e)
{
	return e & DUNE_PTE_MAPPED;
}

static inline bool pte_is_table(dune_pte_t e, int level)
{
	return level > 0 && !(e & DUNE_PTE_MAPPED) && (e & DUNE_PTE_P);
}

static inline dune_pte_t *pte_child(struct dune_vm *vm, dune_pte_t e)
{
	return vm->mem->phys_to_virt(vm->mem, e & DUNE_PTE_ADDR);
}

/* Permission bits that map one-to-one onto PTE bits (X is the inverse of NX). */
static const struct {
	int perm;
	dune_pte_t pte;
} perm_bits[] = {
	{ DUNE_PERM_R, DUNE_PTE_P },
	{ DUNE_PERM_W, DUNE_PTE_W },
	{ DUNE_PERM_U, DUNE_PTE_U },
	{ DUNE_PERM_UC, DUNE_PTE_PCD },
	{ DUNE_PERM_WT, DUNE_PTE_PWT },
	{ DUNE_PERM_G, DUNE_PTE_G },
	{ DUNE_PERM_USR1, DUNE_PTE_USR1 },
	{ DUNE_PERM_USR2, DUNE_PTE_USR2 },
	{ DUNE_PERM_USR3, DUNE_PTE_USR3 },
};

dune_pte_t dune_perm_to_pte(int perm, int level)
{
	dune_pte_t e = DUNE_PTE_MAPPED;
	unsigned int i;

	for (i = 0; i < sizeof(perm_bits) / sizeof(perm_bits[0]); i++)
		if (perm & perm_bits[i].perm)
			e |= perm_bits[i].pte;
	if (!(perm & DUNE_PERM_X))
		e |= DUNE_PTE_NX;
	if (level > 0)
		e |= DUNE_PTE_PS;
	return e;
}

int dune_pte_to_perm(dune_pte_t e)
{
	int perm = 0;
	unsigned int i;

	for (i = 0; i < sizeof(perm_bits) / sizeof(perm_bits[0]); i++)
		if (e & perm_bits[i].pte)
			perm |= perm_bits[i].perm;
	if (!(e & DUNE_PTE_NX))
		perm |= DUNE_PERM_X;
	return perm;
}

/* Flags (everything but the address) of the entries that split leaf @e. */
static dune_pte_t child_leaf_flags(dune_pte_t e, int child_level)
{
	dune_pte_t f = e & ~DUNE_PTE_ADDR;
	bool pat = e & PAT_LARGE;

	if (child_level == 0) {
		f &= ~DUNE_PTE_PS;
		if (pat)
			f |= PAT_4K;
	} else {
		f |= DUNE_PTE_PS;
		if (pat)
			f |= PAT_LARGE;
	}
	return f;
}

/* Bits of a leaf that a protect keeps: address, A, D, PAT. */
static dune_pte_t leaf_keep_bits(int level)
{
	return leaf_addr_mask(level) | DUNE_PTE_A | DUNE_PTE_D |
	       (level ? PAT_LARGE : PAT_4K);
}

static void free_table(struct dune_vm *vm, dune_pte_t *table, int level)
{
	unsigned int i;

	if (level > 0) {
		for (i = 0; i < 512; i++) {
			dune_pte_t e = pte_load(&table[i]);

			if (pte_is_table(e, level))
				free_table(vm, pte_child(vm, e), level - 1);
		}
	}
	/* The table's physical address is not needed to free it. */
	vm->mem->free(vm->mem, table, 0);
}

static bool table_empty(const dune_pte_t *table)
{
	unsigned int i;

	for (i = 0; i < 512; i++)
		if (pte_load(&table[i]))
			return false;
	return true;
}

/*
 * Replace the large leaf in *p (at @level) with a table of 512 leaves one
 * level down that map the same memory with the same bits.  The CPU may set
 * A/D in the old leaf meanwhile: the exchange is retried until it sees the
 * leaf as it was copied.
 */
static int split_leaf(struct dune_vm *vm, dune_pte_t *p, int level)
{
	dune_pte_t old = pte_load(p), *child;
	uint64_t child_pa;
	unsigned int i;

	child = vm->mem->alloc(vm->mem, &child_pa);
	if (!child)
		return -ENOMEM;
	for (;;) {
		uint64_t base = old & leaf_addr_mask(level);
		dune_pte_t f = child_leaf_flags(old, level - 1);

		for (i = 0; i < 512; i++)
			pte_store(&child[i], (base + i * level_size(level - 1)) | f);
		if (pte_cas(p, &old, child_pa | TABLE_BITS))
			return 0;
	}
}

/* The table below *p, made (empty, or by splitting a leaf) if needed. */
static dune_pte_t *ensure_table(struct dune_vm *vm, dune_pte_t *p, int level)
{
	dune_pte_t e = pte_load(p);

	if (!e) {
		uint64_t pa;
		dune_pte_t *child = vm->mem->alloc(vm->mem, &pa);

		if (!child)
			return NULL;
		pte_store(p, pa | TABLE_BITS);
		return child;
	}
	if (pte_is_leaf(e)) {
		if (split_leaf(vm, p, level))
			return NULL;
		e = pte_load(p);
	}
	return pte_child(vm, e);
}

/* Install leaf @v in *p, freeing the tables it replaces. */
static void set_leaf(struct dune_vm *vm, dune_pte_t *p, int level, dune_pte_t v)
{
	dune_pte_t old = pte_xchg(p, v);

	if (pte_is_table(old, level))
		free_table(vm, pte_child(vm, old), level - 1);
}

static int max_level_for(const struct dune_vm *vm, int perm)
{
	int max = vm->max_leaf_level;

	if (perm & DUNE_PERM_SMALL)
		return DUNE_LEVEL_4K;
	if ((perm & DUNE_PERM_NO1G) && max > DUNE_LEVEL_2M)
		max = DUNE_LEVEL_2M;
	return max;
}

static int map_level(struct dune_vm *vm, dune_pte_t *table, int level, uint64_t va,
		     uint64_t end, uint64_t pa, int perm, int max_leaf)
{
	while (va < end) {
		uint64_t sz = level_size(level);
		uint64_t start = va & ~(sz - 1);
		uint64_t next = start + sz;
		uint64_t chunk_end = next < end ? next : end;
		dune_pte_t *p = &table[level_index(va, level)];

		if (level == 0) {
			set_leaf(vm, p, 0, pa | dune_perm_to_pte(perm, 0));
		} else if (level <= max_leaf && va == start && chunk_end == next &&
			   !(pa & (sz - 1))) {
			set_leaf(vm, p, level, pa | dune_perm_to_pte(perm, level));
		} else {
			dune_pte_t *child = ensure_table(vm, p, level);
			int r;

			if (!child)
				return -ENOMEM;
			r = map_level(vm, child, level - 1, va, chunk_end, pa, perm, max_leaf);
			if (r)
				return r;
		}
		pa += chunk_end - va;
		va = chunk_end;
	}
	return 0;
}

static int unmap_level(struct dune_vm *vm, dune_pte_t *table, int level, uint64_t va,
		       uint64_t end)
{
	while (va < end) {
		uint64_t sz = level_size(level);
		uint64_t start = va & ~(sz - 1);
		uint64_t next = start + sz;
		uint64_t chunk_end = next < end ? next : end;
		dune_pte_t *p = &table[level_index(va, level)];
		dune_pte_t e = pte_load(p);

		if (!e) {
			/* nothing here */
		} else if (pte_is_leaf(e) && va == start && chunk_end == next) {
			pte_xchg(p, 0);
		} else if (level > 0) {
			dune_pte_t *child;
			int r;

			if (pte_is_leaf(e)) {
				r = split_leaf(vm, p, level);
				if (r)
					return r;
				e = pte_load(p);
			}
			child = pte_child(vm, e);
			r = unmap_level(vm, child, level - 1, va, chunk_end);
			if (r)
				return r;
			if (table_empty(child)) {
				pte_store(p, 0);
				free_table(vm, child, level - 1);
			}
		}
		va = chunk_end;
	}
	return 0;
}

static int protect_level(struct dune_vm *vm, dune_pte_t *table, int level, uint64_t va,
			 uint64_t end, int perm)
{
	while (va < end) {
		uint64_t sz = level_size(level);
		uint64_t start = va & ~(sz - 1);
		uint64_t next = start + sz;
		uint64_t chunk_end = next < end ? next : end;
		dune_pte_t *p = &table[level_index(va, level)];
		dune_pte_t e = pte_load(p);

		if (!e) {
			/* unmapped: skipped */
		} else if (pte_is_leaf(e) && va == start && chunk_end == next) {
			dune_pte_t v;

			do {
				v = (e & leaf_keep_bits(level)) | dune_perm_to_pte(perm, level);
			} while (!pte_cas(p, &e, v));
		} else if (level > 0) {
			int r;

			if (pte_is_leaf(e)) {
				r = split_leaf(vm, p, level);
				if (r)
					return r;
				e = pte_load(p);
			}
			r = protect_level(vm, pte_child(vm, e), level - 1, va, chunk_end, perm);
			if (r)
				return r;
		}
		va = chunk_end;
	}
	return 0;
}

static int walk_level(struct dune_vm *vm, dune_pte_t *table, int level, uint64_t va,
		      uint64_t end, dune_vm_walk_cb cb, void *arg)
{
	while (va < end) {
		uint64_t sz = level_size(level);
		uint64_t start = va & ~(sz - 1);
		uint64_t next = start + sz;
		uint64_t chunk_end = next < end ? next : end;
		dune_pte_t *p = &table[level_index(va, level)];
		dune_pte_t e = pte_load(p);
		int r = 0;

		if (pte_is_leaf(e))
			r = cb(arg, start, p, level);
		else if (pte_is_table(e, level))
			r = walk_level(vm, pte_child(vm, e), level - 1, va, chunk_end, cb, arg);
		if (r)
			return r;
		va = chunk_end;
	}
	return 0;
}

static dune_pte_t *lookup_locked(struct dune_vm *vm, uint64_t va, int *level_out)
{
	dune_pte_t *table = vm->root;
	int level;

	for (level = TOP_LEVEL; level >= 0; level--) {
		dune_pte_t *p = &table[level_index(va, level)];
		dune_pte_t e = pte_load(p);

		if (pte_is_leaf(e)) {
			*level_out = level;
			return p;
		}
		if (!pte_is_table(e, level))
			return NULL;
		table = pte_child(vm, e);
	}
	return NULL;
}

static int clone_level(struct dune_vm *dst, dune_pte_t *dtab, struct dune_vm *src,
		       const dune_pte_t *stab, int level)
{
	unsigned int i;

	for (i = 0; i < 512; i++) {
		dune_pte_t e = pte_load(&stab[i]);

		if (pte_is_table(e, level)) {
			uint64_t pa;
			dune_pte_t *child = dst->mem->alloc(dst->mem, &pa);
			int r;

			if (!child)
				return -ENOMEM;
			pte_store(&dtab[i], pa | (e & ~DUNE_PTE_ADDR));
			r = clone_level(dst, child, src, pte_child(src, e), level - 1);
			if (r)
				return r;
		} else {
			pte_store(&dtab[i], e);
		}
	}
	return 0;
}

/* ---- internal entry points ---- */

int dune_pt_init(struct dune_vm *vm, struct dune_ptmem *mem, int max_leaf_level,
		 const struct kvm_dune_layout *layout)
{
	memset(vm, 0, sizeof(*vm));
	vm->mem = mem;
	vm->max_leaf_level = max_leaf_level;
	vm->layout = layout;
	vm->root = mem->alloc(mem, &vm->root_pa);
	if (!vm->root)
		return -ENOMEM;
	if (pthread_rwlock_init(&vm->lock, NULL)) {
		mem->free(mem, vm->root, vm->root_pa);
		return -ENOMEM;
	}
	return 0;
}

void dune_pt_fini(struct dune_vm *vm)
{
	if (!vm->root)
		return;
	free_table(vm, vm->root, TOP_LEVEL);
	vm->root = NULL;
	pthread_rwlock_destroy(&vm->lock);
}

int dune_pt_clone(struct dune_vm *dst, struct dune_vm *src)
{
	int r;

	pthread_rwlock_rdlock(&src->lock);
	r = clone_level(dst, dst->root, src, src->root, TOP_LEVEL);
	pthread_rwlock_unlock(&src->lock);
	return r;
}

static bool range_ok(const void *va, size_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)va;

	if ((a | len) & (PAGE_SIZE - 1))
		return false;
	if (len == 0 || a >= VA_LIMIT || len > VA_LIMIT - a)
		return false;
	return true;
}

static void do_flush(struct dune_vm *vm, uint64_t va, uint64_t len)
{
	if (vm->flush)
		vm->flush(vm, va, len);
}

/* ---- public API ---- */

DUNE_API int dune_vm_map_phys(struct dune_vm *vm, void *va, size_t len, uint64_t pa,
			      int perm)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r;

	if (!vm || !range_ok(va, len) || (pa & (PAGE_SIZE - 1)) ||
	    pa >= PA_LIMIT || len > PA_LIMIT - pa)
		return -EINVAL;
	pthread_rwlock_wrlock(&vm->lock);
	r = map_level(vm, vm->root, TOP_LEVEL, a, a + len, pa, perm, max_level_for(vm, perm));
	pthread_rwlock_unlock(&vm->lock);
	do_flush(vm, a, len);
	return r;
}

DUNE_API int dune_vm_map_pages(struct dune_vm *vm, void *va, size_t len, int perm)
{
	uint64_t a = (uint64_t)(uintptr_t)va, end, cur;
	int r;

	if (!vm || !vm->layout || !range_ok(va, len))
		return -EINVAL;
	end = a + len;
	/* All or nothing: check the whole range first. */
	for (cur = a; cur < end;) {
		uint64_t run = dune_layout_contig(vm->layout, cur);

		if (!run)
			return -EFAULT;
		cur = run >= end - cur ? end : cur + run;
	}
	for (cur = a; cur < end;) {
		uint64_t run = dune_layout_contig(vm->layout, cur), pa;

		if (run > end - cur)
			run = end - cur;
		dune_layout_va_to_pa(vm->layout, cur, &pa);
		r = dune_vm_map_phys(vm, (void *)(uintptr_t)cur, run, pa, perm);
		if (r)
			return r;
		cur += run;
	}
	return 0;
}

DUNE_API int dune_vm_unmap(struct dune_vm *vm, void *va, size_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r;

	if (!vm || !range_ok(va, len))
		return -EINVAL;
	pthread_rwlock_wrlock(&vm->lock);
	r = unmap_level(vm, vm->root, TOP_LEVEL, a, a + len);
	pthread_rwlock_unlock(&vm->lock);
	do_flush(vm, a, len);
	return r;
}

DUNE_API int dune_vm_protect(struct dune_vm *vm, void *va, size_t len, int perm)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r;

	if (!vm || !range_ok(va, len))
		return -EINVAL;
	pthread_rwlock_wrlock(&vm->lock);
	r = protect_level(vm, vm->root, TOP_LEVEL, a, a + len, perm);
	pthread_rwlock_unlock(&vm->lock);
	do_flush(vm, a, len);
	return r;
}

DUNE_API int dune_vm_lookup(struct dune_vm *vm, const void *va, dune_pte_t **pte, int *level)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	dune_pte_t *p;
	int lvl = 0;

	if (!vm || a >= VA_LIMIT)
		return -EINVAL;
	pthread_rwlock_rdlock(&vm->lock);
	p = lookup_locked(vm, a, &lvl);
	pthread_rwlock_unlock(&vm->lock);
	if (!p)
		return -ENOENT;
	if (pte)
		*pte = p;
	if (level)
		*level = lvl;
	return 0;
}

DUNE_API int dune_vm_translate(struct dune_vm *vm, const void *va, uint64_t *pa, int *perm)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	dune_pte_t *p, e = 0;
	int lvl = 0;

	if (!vm || a >= VA_LIMIT)
		return -EINVAL;
	pthread_rwlock_rdlock(&vm->lock);
	p = lookup_locked(vm, a, &lvl);
	if (p)
		e = pte_load(p);
	pthread_rwlock_unlock(&vm->lock);
	if (!p)
		return -ENOENT;
	if (pa)
		*pa = (e & leaf_addr_mask(lvl)) + (a & (level_size(lvl) - 1));
	if (perm)
		*perm = dune_pte_to_perm(e);
	return 0;
}

DUNE_API int dune_vm_walk(struct dune_vm *vm, const void *start, const void *end,
			  dune_vm_walk_cb cb, void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)start, e = (uint64_t)(uintptr_t)end;
	int r;

	if (!vm || !cb || s > e)
		return -EINVAL;
	if (e > VA_LIMIT)
		e = VA_LIMIT;
	if (s >= e)
		return 0;
	pthread_rwlock_rdlock(&vm->lock);
	r = walk_level(vm, vm->root, TOP_LEVEL, s, e, cb, arg);
	pthread_rwlock_unlock(&vm->lock);
	return r;
}

DUNE_API int64_t dune_vm_test_and_clear(struct dune_vm *vm, const void *va, uint64_t bits)
{
	uint64_t a = (uint64_t)(uintptr_t)va;
	dune_pte_t *p;
	int64_t r = -ENOENT;
	int lvl;

	if (!vm || a >= VA_LIMIT)
		return -EINVAL;
	pthread_rwlock_rdlock(&vm->lock);
	p = lookup_locked(vm, a, &lvl);
	if (p)
		r = (int64_t)(dune_pte_test_and_clear(p, bits) & ~DUNE_PTE_NX);
	pthread_rwlock_unlock(&vm->lock);
	return r;
}

struct dirty_ctx {
	uint64_t start, end;
	uint64_t *bitmap;
	int flags;
	long count;
};

static int dirty_cb(void *arg, uintptr_t va, dune_pte_t *pte, int level)
{
	struct dirty_ctx *c = arg;
	uint64_t lo = va, hi = va + level_size(level), i;
	dune_pte_t d;

	if (c->flags & DUNE_DIRTY_CLEAR)
		d = dune_pte_test_and_clear(pte, DUNE_PTE_D);
	else
		d = dune_pte_get(pte) & DUNE_PTE_D;
	if (!d)
		return 0;
	if (lo < c->start)
		lo = c->start;
	if (hi > c->end)
		hi = c->end;
	for (i = (lo - c->start) / PAGE_SIZE; i < (hi - c->start) / PAGE_SIZE; i++) {
		if (c->bitmap)
			c->bitmap[i / 64] |= 1ULL << (i % 64);
		c->count++;
	}
	return 0;
}

DUNE_API long dune_vm_collect_dirty(struct dune_vm *vm, void *va, size_t len,
				    uint64_t *bitmap, int flags)
{
	struct dirty_ctx c;
	uint64_t a = (uint64_t)(uintptr_t)va;
	int r;

	if (!vm || !range_ok(va, len) ||
	    (flags & ~(DUNE_DIRTY_CLEAR | DUNE_DIRTY_SHOOTDOWN)))
		return -EINVAL;
	if (bitmap)
		memset(bitmap, 0, (len / PAGE_SIZE + 63) / 64 * sizeof(uint64_t));
	c.start = a;
	c.end = a + len;
	c.bitmap = bitmap;
	c.flags = flags;
	c.count = 0;
	pthread_rwlock_rdlock(&vm->lock);
	r = walk_level(vm, vm->root, TOP_LEVEL, a, a + len, dirty_cb, &c);
	pthread_rwlock_unlock(&vm->lock);
	if (r)
		return r;
	if (flags & DUNE_DIRTY_CLEAR) {
		/* A TLB entry that says "dirty" would keep the CPU from setting D. */
		do_flush(vm, a, len);
		if (flags & DUNE_DIRTY_SHOOTDOWN)
			dune_tlb_shootdown();
	}
	return c.count;
}

DUNE_API uint64_t dune_vm_root_pa(struct dune_vm *vm)
{
	return vm ? vm->root_pa : 0;
}
