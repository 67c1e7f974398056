// SPDX-License-Identifier: MIT
/*
 * Page-table pages for the live guest: carved from anonymous mmap'd chunks
 * that lie inside a layout window, so that each page has a guest-physical
 * address (through the layout) for the CPU's page walker and a virtual
 * address (the same as the host's) for libdune.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

#define CHUNK_PAGES 256		/* 1 MiB at a time */

struct ptpool {
	struct dune_ptmem mem;
	pthread_mutex_t lock;
	const struct kvm_dune_layout *layout;
	void *free_list;	/* each free page starts with the next pointer */
	size_t nr_free;
	size_t nr_total;
};

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
	*page = pool->free_list;
	pool->free_list = page;
	pool->nr_free++;
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
	return &pool->mem;
}
