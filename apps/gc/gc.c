// SPDX-License-Identifier: MIT
/*
 * The collector: segregated size classes, one class per 4 KiB page, all
 * metadata (allocation and mark bitmaps) in side tables outside the heap,
 * so that only the mutator writes heap pages.  Marking is incremental
 * (a slice per allocation); the final phase re-scans the marked objects of
 * every page the dirty source reports, then the roots, and sweeps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "gc.h"

#define NCLS		10
#define MAXSLOTS	(GC_PAGE / 16)
#define BMW		((int)(MAXSLOTS / 64))
#define CLS_FREE	0xff

static const unsigned cls_size[NCLS] = { 16, 32, 48, 64, 96, 128, 256, 512, 1024, 2048 };

struct page_info {
	uint8_t cls;
	uint16_t nslots, nfree, cursor;
	uint64_t alloc[BMW];
	uint64_t mark[BMW];
};

static uint8_t *heap;
static size_t heap_len, npages;
static struct page_info *pi;
static uint64_t *vmark;			/* verifier's own mark bits, BMW per page */
static uint32_t *free_pages;		/* stack of free page indices */
static size_t nfree_pages;
static uint32_t *cls_pages[NCLS];	/* pages with free slots, per class */
static size_t ncls_pages[NCLS];
static int cur_page[NCLS];
static uintptr_t *mstack, *vstack;	/* mark stacks (at most one entry per object) */
static size_t msp, vsp;
static uint64_t *dirty_bm;

static void **roots[1024];
static int nroots;

static struct gc_dirty_src *src;
static struct gc_stats st;
static int marking;
static size_t trigger_free;		/* start a cycle below this many free pages */
static int64_t mark_credit;		/* words of marking owed by the mutator */

#define MARK_RATIO	1		/* words scanned per word allocated */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void *gc_heap_base(void) { return heap; }
size_t gc_heap_size(void) { return heap_len; }
const struct gc_stats *gc_get_stats(void) { return &st; }

void gc_root_push(void **slot)
{
	if (nroots == (int)(sizeof(roots) / sizeof(roots[0]))) {
		fprintf(stderr, "gc: root stack overflow\n");
		abort();
	}
	roots[nroots++] = slot;
}

void gc_root_pop(int n)
{
	nroots -= n;
}

static void *xmmap(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("gc: mmap");
		exit(1);
	}
	return p;
}

int gc_init(size_t heap_bytes)
{
	heap_len = heap_bytes;
	npages = heap_bytes / GC_PAGE;
	heap = xmmap(heap_len);
	pi = xmmap(npages * sizeof(*pi));
	vmark = xmmap(npages * BMW * 8);
	free_pages = xmmap(npages * 4);
	for (int c = 0; c < NCLS; c++)
		cls_pages[c] = xmmap(npages * 4);
	mstack = xmmap(npages * MAXSLOTS * sizeof(uintptr_t));
	vstack = xmmap(npages * MAXSLOTS * sizeof(uintptr_t));
	dirty_bm = xmmap((npages + 63) / 64 * 8);
	return 0;
}

static void reset_heap(void)
{
	memset(heap, 0, heap_len);
	nfree_pages = 0;
	for (size_t p = npages; p-- > 0;) {
		pi[p].cls = CLS_FREE;
		free_pages[nfree_pages++] = p;
	}
	for (int c = 0; c < NCLS; c++) {
		ncls_pages[c] = 0;
		cur_page[c] = -1;
	}
	msp = vsp = 0;
	nroots = 0;
	marking = 0;
	mark_credit = 0;
	trigger_free = npages / 2;
}

int gc_begin(struct gc_dirty_src *s, char *why, size_t wlen)
{
	reset_heap();
	memset(&st, 0, sizeof(st));
	st.hash = 1469598103934665603ull;
	src = s;
	s->faults = 0;
	if (s->setup && s->setup(heap, heap_len, why, wlen) < 0)
		return -1;
	return 0;
}

void gc_end(void)
{
	if (marking)
		gc_collect_full();
	if (src->teardown)
		src->teardown(heap, heap_len);
}

/* ---- marking ---- */

/* The start of the allocated object that @w points into, or 0. */
static inline uintptr_t find_obj(uintptr_t w, struct page_info **pp, unsigned *slotp)
{
	uintptr_t off = w - (uintptr_t)heap;
	struct page_info *p;
	unsigned slot;

	if (off >= heap_len)
		return 0;
	p = &pi[off / GC_PAGE];
	if (p->cls == CLS_FREE)
		return 0;
	slot = (off % GC_PAGE) / cls_size[p->cls];
	if (slot >= p->nslots || !(p->alloc[slot / 64] & (1ull << (slot % 64))))
		return 0;
	*pp = p;
	*slotp = slot;
	return (uintptr_t)heap + (off & ~(GC_PAGE - 1)) + slot * cls_size[p->cls];
}

static inline void mark_word(uintptr_t w)
{
	struct page_info *p;
	unsigned slot;
	uintptr_t o = find_obj(w, &p, &slot);

	if (o && !(p->mark[slot / 64] & (1ull << (slot % 64)))) {
		p->mark[slot / 64] |= 1ull << (slot % 64);
		mstack[msp++] = o;
	}
}

static inline unsigned obj_size(uintptr_t o)
{
	return cls_size[pi[(o - (uintptr_t)heap) / GC_PAGE].cls];
}

static void scan_obj(uintptr_t o)
{
	const uintptr_t *w = (const uintptr_t *)o;
	unsigned n = obj_size(o) / sizeof(uintptr_t);

	for (unsigned i = 0; i < n; i++)
		mark_word(w[i]);
}

static void scan_roots(void)
{
	for (int i = 0; i < nroots; i++)
		mark_word((uintptr_t)*roots[i]);
}

/* Scan up to @budget words of gray objects; returns words scanned. */
static int64_t drain(int64_t budget)
{
	int64_t done = 0;

	while (msp && done < budget) {
		uintptr_t o = mstack[--msp];

		scan_obj(o);
		done += obj_size(o) / sizeof(uintptr_t);
	}
	return done;
}

static void start_cycle(void)
{
	for (size_t p = 0; p < npages; p++)
		memset(pi[p].mark, 0, sizeof(pi[p].mark));
	msp = 0;
	if (src->incremental)
		src->clear(heap, heap_len);
	scan_roots();
	marking = 1;
	mark_credit = 0;
}

/* The independent check: every object reachable from the roots now must be
 * marked (else the dirty source missed a write).  Uses its own mark bits
 * and stack.  Returns how many objects are reachable. */
static void vvisit(uintptr_t w, uint64_t *reach)
{
	struct page_info *p;
	unsigned slot;
	uintptr_t o = find_obj(w, &p, &slot);
	uint64_t bit = 1ull << (slot % 64), *vm;

	if (!o)
		return;
	vm = &vmark[(size_t)(p - pi) * BMW + slot / 64];
	if (*vm & bit)
		return;
	*vm |= bit;
	vstack[vsp++] = o;
	(*reach)++;
	if (!(p->mark[slot / 64] & bit)) {
		if (st.verify_failures++ < 3)
			fprintf(stderr, "gc[%s]: reachable object %#lx not marked\n",
				src->name, (unsigned long)o);
		p->mark[slot / 64] |= bit;	/* keep it: the run goes on */
	}
}

static uint64_t verify_marks(void)
{
	uint64_t reach = 0;

	memset(vmark, 0, npages * BMW * 8);
	vsp = 0;
	for (int i = 0; i < nroots; i++)
		vvisit((uintptr_t)*roots[i], &reach);
	while (vsp) {
		uintptr_t o = vstack[--vsp];
		unsigned n = obj_size(o) / sizeof(uintptr_t);

		for (unsigned k = 0; k < n; k++)
			vvisit(((uintptr_t *)o)[k], &reach);
	}
	return reach;
}

static void sweep(void)
{
	uint64_t objs = 0, bytes = 0;

	nfree_pages = 0;
	for (int c = 0; c < NCLS; c++) {
		ncls_pages[c] = 0;
		cur_page[c] = -1;
	}
	for (size_t p = npages; p-- > 0;) {
		struct page_info *q = &pi[p];
		unsigned live = 0;

		if (q->cls != CLS_FREE) {
			for (int k = 0; k < BMW; k++) {
				q->alloc[k] &= q->mark[k];
				live += __builtin_popcountll(q->alloc[k]);
			}
			if (!live) {
				q->cls = CLS_FREE;
			} else {
				objs += live;
				bytes += live * cls_size[q->cls];
				q->nfree = q->nslots - live;
				q->cursor = 0;
				if (q->nfree)
					cls_pages[q->cls][ncls_pages[q->cls]++] = p;
			}
		}
		if (q->cls == CLS_FREE)
			free_pages[nfree_pages++] = p;
	}
	st.live_objs = objs;
	st.live_bytes = bytes;
	st.hash = (st.hash ^ objs) * 1099511628211ull;
	st.hash = (st.hash ^ bytes) * 1099511628211ull;
}

static void finish_cycle(void)
{
	uint64_t t0 = now_ns(), c0 = gc_rdtsc();
	uint64_t marked = 0, reach;

	if (src->incremental) {
		size_t words = (npages + 63) / 64;

		memset(dirty_bm, 0, words * 8);
		src->collect(heap, heap_len, dirty_bm);
		for (size_t p = 0; p < npages; p++) {
			if (!(dirty_bm[p / 64] & (1ull << (p % 64))))
				continue;
			st.pages_dirty++;
			if (pi[p].cls == CLS_FREE)
				continue;
			st.pages_rescanned++;
			uintptr_t base = (uintptr_t)heap + p * GC_PAGE;
			unsigned sz = cls_size[pi[p].cls];

			for (unsigned s = 0; s < pi[p].nslots; s++)
				if (pi[p].mark[s / 64] & (1ull << (s % 64)))
					scan_obj(base + s * sz);
		}
	}
	scan_roots();
	drain(INT64_MAX);
	marking = 0;
	uint64_t t1 = now_ns(), c1 = gc_rdtsc();

	/* untimed: the independent reachability check */
	reach = verify_marks();
	for (size_t p = 0; p < npages; p++)
		for (int k = 0; k < BMW; k++)
			marked += __builtin_popcountll(pi[p].mark[k] & pi[p].alloc[k]);
	st.floating += marked - reach;

	uint64_t t2 = now_ns(), c2 = gc_rdtsc();
	sweep();
	uint64_t t3 = now_ns(), c3 = gc_rdtsc();

	st.collections++;
	st.pause_ns += (t1 - t0) + (t3 - t2);
	st.pause_cyc += (c1 - c0) + (c3 - c2);
	st.work_ns += (t1 - t0) + (t3 - t2);
	st.work_cyc += (c1 - c0) + (c3 - c2);
}

static void timed_start_cycle(void)
{
	uint64_t t0 = now_ns(), c0 = gc_rdtsc();

	start_cycle();
	st.work_ns += now_ns() - t0;
	st.work_cyc += gc_rdtsc() - c0;
}

void gc_collect_full(void)
{
	if (!marking)
		timed_start_cycle();
	finish_cycle();
}

/* ---- allocation ---- */

static int take_page(int c)
{
	size_t p;

	if (ncls_pages[c]) {
		p = cls_pages[c][--ncls_pages[c]];
	} else if (nfree_pages) {
		p = free_pages[--nfree_pages];
		pi[p].cls = c;
		pi[p].nslots = GC_PAGE / cls_size[c];
		pi[p].nfree = pi[p].nslots;
		pi[p].cursor = 0;
		memset(pi[p].alloc, 0, sizeof(pi[p].alloc));
		memset(pi[p].mark, 0, sizeof(pi[p].mark));
	} else {
		return -1;
	}
	cur_page[c] = p;
	return p;
}

static void mark_slice(size_t words)
{
	uint64_t t0 = now_ns(), c0 = gc_rdtsc();

	mark_credit += words * MARK_RATIO;
	mark_credit -= drain(mark_credit);
	st.increments++;
	st.work_ns += now_ns() - t0;
	st.work_cyc += gc_rdtsc() - c0;
	if (!msp)
		finish_cycle();	/* timed on its own */
}

void *gc_alloc(size_t size)
{
	int c = 0, p;
	struct page_info *q;

	if (size > GC_MAX_OBJ) {
		fprintf(stderr, "gc: object of %zu bytes too large\n", size);
		abort();
	}
	while (cls_size[c] < size)
		c++;
	if (marking && src->incremental)
		mark_slice(cls_size[c] / sizeof(uintptr_t));

	p = cur_page[c];
	if (p < 0 || !pi[p].nfree) {
		if (!marking && nfree_pages < trigger_free) {
			timed_start_cycle();
			if (!src->incremental)
				finish_cycle();
		}
		p = take_page(c);
		if (p < 0) {		/* out of pages: finish the cycle now */
			gc_collect_full();
			p = take_page(c);
			if (p < 0) {
				fprintf(stderr, "gc: out of memory (%zu live bytes)\n",
					(size_t)st.live_bytes);
				exit(1);
			}
		}
	}
	q = &pi[p];
	for (unsigned s = q->cursor; s < q->nslots; s++) {
		if (q->alloc[s / 64] & (1ull << (s % 64)))
			continue;
		q->alloc[s / 64] |= 1ull << (s % 64);
		if (marking)	/* allocate black */
			q->mark[s / 64] |= 1ull << (s % 64);
		q->nfree--;
		q->cursor = s + 1;
		void *o = heap + (size_t)p * GC_PAGE + s * cls_size[c];

		memset(o, 0, cls_size[c]);
		return o;
	}
	fprintf(stderr, "gc: page %d of class %d has no free slot\n", p, c);
	abort();
}
