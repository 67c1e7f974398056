// SPDX-License-Identifier: MIT
/*
 * Dirty-page sources for the collector:
 *   stw        no tracking: every collection is stop-the-world (baseline)
 *   mprotect   write-protect the heap, SIGSEGV handler records and unprotects
 *   softdirty  /proc/self/clear_refs "4" + bit 55 of /proc/self/pagemap
 *   dune       libdune: guest page-table D bits, dune_vm_collect_dirty()
 *   dune-tc    libdune: dune_vm_test_and_clear(D) + INVLPG per cleared page
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "dune.h"
#include "gc.h"

/* ---- stw ---- */

struct gc_dirty_src gc_src_stw = { .name = "stw", .incremental = 0 };

/* ---- mprotect + SIGSEGV ---- */

static uint8_t *mp_heap;
static size_t mp_len;
static uint64_t *mp_bm;
static struct sigaction mp_old;

static void mp_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	size_t p;

	(void)uc;
	if (a - (uintptr_t)mp_heap >= mp_len) {	/* not ours: die as usual */
		sigaction(sig, &mp_old, NULL);
		return;
	}
	p = (a - (uintptr_t)mp_heap) / GC_PAGE;
	mp_bm[p / 64] |= 1ull << (p % 64);
	gc_src_mprotect.faults++;
	mprotect(mp_heap + p * GC_PAGE, GC_PAGE, PROT_READ | PROT_WRITE);
}

static int mp_setup(void *heap, size_t len, char *why, size_t wlen)
{
	struct sigaction sa;

	mp_heap = heap;
	mp_len = len;
	mp_bm = mmap(NULL, (len / GC_PAGE + 63) / 64 * 8, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mp_bm == MAP_FAILED) {
		snprintf(why, wlen, "mmap: %s", strerror(errno));
		return -errno;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mp_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &mp_old) < 0) {
		snprintf(why, wlen, "sigaction: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static void mp_clear(void *heap, size_t len)
{
	memset(mp_bm, 0, (len / GC_PAGE + 63) / 64 * 8);
	if (mprotect(heap, len, PROT_READ) < 0) {
		perror("gc: mprotect");
		exit(1);
	}
}

static void mp_collect(void *heap, size_t len, uint64_t *bm)
{
	mprotect(heap, len, PROT_READ | PROT_WRITE);
	memcpy(bm, mp_bm, (len / GC_PAGE + 63) / 64 * 8);
}

static void mp_teardown(void *heap, size_t len)
{
	mprotect(heap, len, PROT_READ | PROT_WRITE);
	munmap(mp_bm, (len / GC_PAGE + 63) / 64 * 8);
	sigaction(SIGSEGV, &mp_old, NULL);
}

struct gc_dirty_src gc_src_mprotect = {
	.name = "mprotect", .incremental = 1,
	.setup = mp_setup, .clear = mp_clear, .collect = mp_collect,
	.teardown = mp_teardown,
};

/* ---- soft-dirty ---- */

#define PM_SOFT_DIRTY	(1ull << 55)

static int sd_pagemap = -1;
static uint64_t *sd_buf;

static int sd_clear_refs(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	int r;

	if (fd < 0)
		return -errno;
	r = write(fd, "4", 1) == 1 ? 0 : -errno;
	close(fd);
	return r;
}

static int sd_read(const void *va, uint64_t *out, size_t n)
{
	off_t off = (uintptr_t)va / GC_PAGE * 8;
	size_t want = n * 8, got = 0;

	while (got < want) {
		ssize_t r = pread(sd_pagemap, (char *)out + got, want - got, off + got);

		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		got += r;
	}
	return 0;
}

/* Is soft-dirty there at all?  Write a page after clearing, look at bit 55. */
static int sd_probe(char *why, size_t wlen)
{
	volatile char *pg;
	uint64_t e1, e2;
	int r;

	if (sd_pagemap < 0)
		sd_pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (sd_pagemap < 0) {
		snprintf(why, wlen, "/proc/self/pagemap: %s", strerror(errno));
		return -1;
	}
	pg = mmap(NULL, GC_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED) {
		snprintf(why, wlen, "mmap: %s", strerror(errno));
		return -1;
	}
	pg[0] = 1;
	r = sd_clear_refs();
	if (r < 0) {
		snprintf(why, wlen, "/proc/self/clear_refs: %s", strerror(-r));
		goto out;
	}
	if ((r = sd_read((void *)pg, &e1, 1)) < 0) {
		snprintf(why, wlen, "reading /proc/self/pagemap: %s", strerror(-r));
		goto out;
	}
	pg[0] = 2;
	if ((r = sd_read((void *)pg, &e2, 1)) < 0) {
		snprintf(why, wlen, "reading /proc/self/pagemap: %s", strerror(-r));
		goto out;
	}
	if (!(e2 & PM_SOFT_DIRTY)) {
		snprintf(why, wlen, "no soft-dirty bit after a write (kernel without "
			 "CONFIG_MEM_SOFT_DIRTY?)");
		r = -1;
	} else if (e1 & PM_SOFT_DIRTY) {
		snprintf(why, wlen, "soft-dirty bit not cleared by clear_refs \"4\"");
		r = -1;
	}
out:
	munmap((void *)pg, GC_PAGE);
	return r < 0 ? -1 : 0;
}

static int sd_setup(void *heap, size_t len, char *why, size_t wlen)
{
	(void)heap;
	if (sd_probe(why, wlen) < 0)
		return -1;
	sd_buf = mmap(NULL, len / GC_PAGE * 8, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sd_buf == MAP_FAILED) {
		snprintf(why, wlen, "mmap: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void sd_clear(void *heap, size_t len)
{
	(void)heap; (void)len;
	if (sd_clear_refs() < 0) {
		perror("gc: clear_refs");
		exit(1);
	}
}

static void sd_collect(void *heap, size_t len, uint64_t *bm)
{
	size_t n = len / GC_PAGE;

	if (sd_read(heap, sd_buf, n) < 0) {
		perror("gc: pagemap");
		exit(1);
	}
	for (size_t p = 0; p < n; p++)
		if (sd_buf[p] & PM_SOFT_DIRTY)
			bm[p / 64] |= 1ull << (p % 64);
}

static void sd_teardown(void *heap, size_t len)
{
	(void)heap;
	munmap(sd_buf, len / GC_PAGE * 8);
}

struct gc_dirty_src gc_src_softdirty = {
	.name = "softdirty", .incremental = 1, .probe = sd_probe,
	.setup = sd_setup, .clear = sd_clear, .collect = sd_collect,
	.teardown = sd_teardown,
};

/* ---- Dune: page-table D bits ---- */

/* The heap must be mapped with 4 KiB leaves so that D is per page. */
static int dn_setup(void *heap, size_t len, char *why, size_t wlen)
{
	struct dune_vm *vm = dune_vm_current();
	int level = -1, r;

	if (!vm || !dune_in_guest()) {
		snprintf(why, wlen, "not in Dune mode");
		return -1;
	}
	r = dune_vm_map_pages(vm, heap, len, DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_SMALL);
	if (r < 0) {
		snprintf(why, wlen, "dune_vm_map_pages: %s (%s)", dune_strerror(r),
			 dune_last_error());
		return -1;
	}
	dune_flush_tlb();
	r = dune_vm_lookup(vm, heap, NULL, &level);
	if (r < 0 || level != DUNE_LEVEL_4K) {
		snprintf(why, wlen, "heap not mapped with 4 KiB leaves (r %d, level %d)", r, level);
		return -1;
	}
	return 0;
}

static void dn_clear(void *heap, size_t len)
{
	long r = dune_vm_collect_dirty(dune_vm_current(), heap, len, NULL, DUNE_DIRTY_CLEAR);

	if (r < 0) {
		fprintf(stderr, "gc: dune_vm_collect_dirty: %s\n", dune_strerror(r));
		exit(1);
	}
}

static void dn_collect(void *heap, size_t len, uint64_t *bm)
{
	long r = dune_vm_collect_dirty(dune_vm_current(), heap, len, bm, 0);

	if (r < 0) {
		fprintf(stderr, "gc: dune_vm_collect_dirty: %s\n", dune_strerror(r));
		exit(1);
	}
}

struct gc_dirty_src gc_src_dune = {
	.name = "dune", .incremental = 1,
	.setup = dn_setup, .clear = dn_clear, .collect = dn_collect,
};

/* test_and_clear + INVLPG of just the entries that had D */
static void tc_clear_collect(void *heap, size_t len, uint64_t *bm)
{
	struct dune_vm *vm = dune_vm_current();
	uint8_t *h = heap;

	for (size_t p = 0; p < len / GC_PAGE; p++) {
		int64_t r = dune_vm_test_and_clear(vm, h + p * GC_PAGE, DUNE_PTE_D);

		if (r < 0) {
			fprintf(stderr, "gc: dune_vm_test_and_clear: %s\n", dune_strerror(r));
			exit(1);
		}
		if (r) {
			dune_flush_tlb_one(h + p * GC_PAGE);
			if (bm)
				bm[p / 64] |= 1ull << (p % 64);
		}
	}
}

static void tc_clear(void *heap, size_t len)
{
	tc_clear_collect(heap, len, NULL);
}

struct gc_dirty_src gc_src_dune_tc = {
	.name = "dune-tc", .incremental = 1,
	.setup = dn_setup, .clear = tc_clear, .collect = tc_clear_collect,
};

/* ---- broken: reports nothing (checks that the verifier notices) ---- */

static void br_clear(void *heap, size_t len)
{
	(void)heap; (void)len;
}

static void br_collect(void *heap, size_t len, uint64_t *bm)
{
	(void)heap; (void)len; (void)bm;
}

struct gc_dirty_src gc_src_broken = {
	.name = "broken", .incremental = 1, .clear = br_clear, .collect = br_collect,
};
