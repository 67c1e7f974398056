// SPDX-License-Identifier: MIT
/*
 * Page-table pages for the live guest: carved from anonymous mmap'd chunks
 * that lie inside a layout window, so that each page has a guest-physical
 * address (through the layout) for the CPU's page walker and a virtual
 * address (the same as the host's) for libdune.
 *
 * Freed table pages are not reused at once.  Another thread (vCPU) may
 * still hold the freed table in its TLB or paging-structure caches: it
 * would translate through the new contents of a reused page, and its page
 * walker could set accessed/dirty bits in them.  Dune VMs get no IPIs, so
 * libdune cannot flush the other threads itself.  A freed page therefore
 * waits on a "pending" list until a TLB shootdown (dune_tlb_shootdown(),
 * which makes KVM flush every vCPU) has completed after it was freed; the
 * pool reclaims the pending pages then.  When the free list runs dry the
 * pool makes a shootdown itself if enough pages are pending and the caller
 * is in Dune mode, and grows otherwise.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

#define CHUNK_PAGES 256		/* 1 MiB at a time */

#define RECLAIM_MIN 32	/* pending pages worth a shootdown instead of growing */

struct ptpool {
	struct dune_ptmem mem;
	pthread_mutex_t lock;
	const struct kvm_dune_layout *layout;
	void *free_list;	/* each free page starts with the next pointer */
	void *pending;		/* freed, maybe still cached by another vCPU */
	size_t nr_free;
	size_t nr_pending;
	size_t nr_total;
};

/* The live pool (there is one per process); NULL before dune_init(). */
static struct ptpool *live_pool;

static int pool_grow(struct ptpool *pool)
{
	size_t len = CHUNK_PAGES * PAGE_SIZE, i;
	uint64_t pa_first, pa_last;
	char *chunk;

	chunk = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (chunk == MAP_FAILED)
		return -ENOMEM;
	/* The whole chunk must be reachable, in one window. */
	if (dune_layout_va_to_pa(pool->layout, (uint64_t)(uintptr_t)chunk, &pa_first) ||
	    dune_layout_va_to_pa(pool->layout, (uint64_t)(uintptr_t)chunk + len - PAGE_SIZE,
				 &pa_last) ||
	    pa_last - pa_first != len - PAGE_SIZE) {
		munmap(chunk, len);
		return -EFAULT;
	}
	for (i = 0; i < CHUNK_PAGES; i++) {
		void **page = (void **)(chunk + i * PAGE_SIZE);

		*page = pool->free_list;
		pool->free_list = page;
	}
	pool->nr_free += CHUNK_PAGES;
	pool->nr_total += CHUNK_PAGES;
	return 0;
}

static void *pool_alloc(struct dune_ptmem *m, uint64_t *pa)
{
	struct ptpool *pool = (struct ptpool *)m;
	void **page = NULL;
	bool reclaim;

	pthread_mutex_lock(&pool->lock);
	reclaim = !pool->free_list && pool->nr_pending >= RECLAIM_MIN &&
		  dune_cpu_in_ring0();
	pthread_mutex_unlock(&pool->lock);
	/* Outside the pool lock: the shootdown takes it to reclaim. */
	if (reclaim)
		dune_tlb_shootdown();

	pthread_mutex_lock(&pool->lock);
	if (pool->free_list || pool_grow(pool) == 0) {
		page = pool->free_list;
		pool->free_list = *page;
		pool->nr_free--;
	}
	pthread_mutex_unlock(&pool->lock);
	if (!page)
		return NULL;
	memset(page, 0, PAGE_SIZE);
	dune_layout_va_to_pa(pool->layout, (uint64_t)(uintptr_t)page, pa);
	return page;
}

static void pool_free(struct dune_ptmem *m, void *p, uint64_t pa)
{
	struct ptpool *pool = (struct ptpool *)m;
	void **page = p;

	(void)pa;
	pthread_mutex_lock(&pool->lock);
	*page = pool->pending;
	pool->pending = page;
	pool->nr_pending++;
	pthread_mutex_unlock(&pool->lock);
}

/*
 * Before a TLB shootdown: detach the pages pending so far.  Returns the
 * list (NULL if none); *n receives its length.
 */
void *dune_ptpool_detach_pending(size_t *n)
{
	struct ptpool *pool = live_pool;
	void *list;

	*n = 0;
	if (!pool)
		return NULL;
	pthread_mutex_lock(&pool->lock);
	list = pool->pending;
	*n = pool->nr_pending;
	pool->pending = NULL;
	pool->nr_pending = 0;
	pthread_mutex_unlock(&pool->lock);
	return list;
}

/*
 * After the shootdown: @flushed (from dune_ptpool_detach_pending()) is safe
 * to reuse if the flush happened, else it goes back to the pending list.
 */
void dune_ptpool_reattach(void *list, size_t n, bool flushed)
{
	struct ptpool *pool = live_pool;
	void **last;

	if (!pool || !list)
		return;
	for (last = list; *last; last = *last)
		;
	pthread_mutex_lock(&pool->lock);
	if (flushed) {
		*last = pool->free_list;
		pool->free_list = list;
		pool->nr_free += n;
	} else {
		*last = pool->pending;
		pool->pending = list;
		pool->nr_pending += n;
	}
	pthread_mutex_unlock(&pool->lock);
}

void dune_ptpool_stats(size_t *total, size_t *free, size_t *pending)
{
	struct ptpool *pool = live_pool;

	*total = *free = *pending = 0;
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	*total = pool->nr_total;
	*free = pool->nr_free;
	*pending = pool->nr_pending;
	pthread_mutex_unlock(&pool->lock);
}

static void *pool_phys_to_virt(struct dune_ptmem *m, uint64_t pa)
{
	struct ptpool *pool = (struct ptpool *)m;
	uint64_t va;

	if (dune_layout_pa_to_va(pool->layout, pa, &va))
		return NULL;
	return (void *)(uintptr_t)va;
}

struct dune_ptmem *dune_ptpool_create(const struct kvm_dune_layout *l)
{
	struct ptpool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	pool->mem.alloc = pool_alloc;
	pool->mem.free = pool_free;
	pool->mem.phys_to_virt = pool_phys_to_virt;
	pool->layout = l;
	pthread_mutex_init(&pool->lock, NULL);
	live_pool = pool;
	return &pool->mem;
}
