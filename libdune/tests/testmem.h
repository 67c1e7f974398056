/* SPDX-License-Identifier: MIT */
/*
 * Page-table memory for host tests: a plain buffer whose pages get made-up
 * "physical" addresses.  phys_to_virt aborts on a page that is not
 * allocated, so a walk through a freed table is caught at once.
 */
#ifndef LIBDUNE_TESTS_TESTMEM_H
#define LIBDUNE_TESTS_TESTMEM_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define TESTMEM_BASE 0x40000000ULL	/* "physical" address of page 0 */

struct testmem {
	struct dune_ptmem mem;
	char *buf;
	size_t npages;
	unsigned char *used;
	size_t nused, next;
	pthread_mutex_t lock;
};

static void *testmem_alloc(struct dune_ptmem *m, uint64_t *pa)
{
	struct testmem *t = (struct testmem *)m;
	size_t i, n;
	void *p = NULL;

	pthread_mutex_lock(&t->lock);
	for (n = 0; n < t->npages; n++) {
		i = (t->next + n) % t->npages;
		if (!t->used[i]) {
			t->used[i] = 1;
			t->nused++;
			t->next = i + 1;
			p = t->buf + i * PAGE_SIZE;
			*pa = TESTMEM_BASE + i * PAGE_SIZE;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (p)
		memset(p, 0, PAGE_SIZE);
	return p;
}

static void testmem_free(struct dune_ptmem *m, void *page, uint64_t pa)
{
	struct testmem *t = (struct testmem *)m;
	size_t i = (size_t)((char *)page - t->buf) / PAGE_SIZE;

	(void)pa;
	pthread_mutex_lock(&t->lock);
	if ((char *)page < t->buf || i >= t->npages || !t->used[i]) {
		fprintf(stderr, "testmem: bad free of %p\n", page);
		abort();
	}
	/* Poison: a stale reader sees garbage, not a plausible table. */
	memset(page, 0xa5, PAGE_SIZE);
	t->used[i] = 0;
	t->nused--;
	pthread_mutex_unlock(&t->lock);
}

static void *testmem_p2v(struct dune_ptmem *m, uint64_t pa)
{
	struct testmem *t = (struct testmem *)m;
	size_t i = (size_t)((pa - TESTMEM_BASE) / PAGE_SIZE);

	if (pa < TESTMEM_BASE || (pa & (PAGE_SIZE - 1)) || i >= t->npages ||
	    !__atomic_load_n(&t->used[i], __ATOMIC_RELAXED)) {
		fprintf(stderr, "testmem: walk through a table that is not allocated "
			"(pa 0x%llx)\n", (unsigned long long)pa);
		abort();
	}
	return t->buf + i * PAGE_SIZE;
}

static void testmem_init(struct testmem *t, size_t npages)
{
	memset(t, 0, sizeof(*t));
	t->mem.alloc = testmem_alloc;
	t->mem.free = testmem_free;
	t->mem.phys_to_virt = testmem_p2v;
	t->npages = npages;
	t->buf = mmap(NULL, npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->used = calloc(npages, 1);
	if (t->buf == MAP_FAILED || !t->used) {
		perror("testmem");
		exit(2);
	}
	pthread_mutex_init(&t->lock, NULL);
}

static size_t testmem_used(struct testmem *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->nused;
	pthread_mutex_unlock(&t->lock);
	return n;
}

#endif
