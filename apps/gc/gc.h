/* SPDX-License-Identifier: MIT */
/*
 * A small conservative mark-and-sweep collector with incremental marking
 * whose write barrier is a source of dirty pages (mprotect, soft-dirty,
 * Dune page-table D bits).  See Documentation/apps-gc.rst.
 *
 * Conservative: object contents and registered root slots are scanned word
 * by word, and any word that points into an allocated object (interior
 * pointers included) keeps it alive.  The machine stack is not scanned:
 * the mutator registers the addresses of its pointer variables with
 * GC_ROOT()/gc_root_pop(), which keeps the results identical across runs.
 */
#ifndef APPS_GC_H
#define APPS_GC_H

#include <stddef.h>
#include <stdint.h>

#define GC_PAGE		4096UL
#define GC_MAX_OBJ	2048	/* largest object, bytes */

/* Where the collector learns which heap pages the mutator wrote. */
struct gc_dirty_src {
	const char *name;
	int incremental;	/* 0: stop-the-world, no tracking */
	/* 0 if usable, else a negative value and a reason in why */
	int (*probe)(char *why, size_t len);
	/* called once the heap exists (0 or -errno, reason in why) */
	int (*setup)(void *heap, size_t len, char *why, size_t wlen);
	/* forget all dirtiness: a marking cycle starts */
	void (*clear)(void *heap, size_t len);
	/* set bit i of bm for every page written since clear() (superset ok) */
	void (*collect)(void *heap, size_t len, uint64_t *bm);
	void (*teardown)(void *heap, size_t len);
	uint64_t faults;	/* write faults taken (mprotect) */
};

struct gc_stats {
	uint64_t collections;
	uint64_t pause_ns, pause_cyc;		/* final (stop-the-world) phases */
	uint64_t work_ns, work_cyc;		/* clear + increments + final */
	uint64_t pages_rescanned;		/* dirty in-use pages re-scanned */
	uint64_t pages_dirty;			/* dirty pages reported */
	uint64_t increments;
	uint64_t live_objs, live_bytes;		/* after the last collection */
	uint64_t floating;			/* marked but unreachable, summed */
	uint64_t hash;				/* FNV-1a over (live objs, bytes) per GC */
	uint64_t verify_failures;
};

/* heap_bytes: multiple of GC_PAGE; heap memory is mmap'd once and kept */
int gc_init(size_t heap_bytes);
/* start a run with @src on an empty heap (0, or -1 with reason in why) */
int gc_begin(struct gc_dirty_src *src, char *why, size_t wlen);
void gc_end(void);
void *gc_alloc(size_t size);
/* a full stop-the-world collection now (ends a cycle in progress) */
void gc_collect_full(void);
const struct gc_stats *gc_get_stats(void);
void *gc_heap_base(void);
size_t gc_heap_size(void);

/* shadow stack of root slots */
void gc_root_push(void **slot);
void gc_root_pop(int n);
#define GC_ROOT(var) gc_root_push((void **)&(var))

extern struct gc_dirty_src gc_src_stw, gc_src_mprotect, gc_src_softdirty,
	gc_src_dune, gc_src_dune_tc, gc_src_broken;

static inline uint64_t gc_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#endif
