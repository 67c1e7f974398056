// SPDX-License-Identifier: MIT
/*
 * Page tables of the live process: creating and loading them, and the TLB.
 * The table manipulation itself is in pgtable.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "internal.h"

#define CR4_PGE		(1ULL << 7)
#define CR4_PCIDE	(1ULL << 17)
#define FLUSH_ONE_MAX	64	/* pages; beyond that reload CR3 */

static inline uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static bool in_dune(void)
{
	return dune_cpu_in_ring0();
}

DUNE_API void dune_flush_tlb_one(const void *va)
{
	if (in_dune())
		__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

DUNE_API void dune_flush_tlb(void)
{
	if (in_dune())
		write_cr3(read_cr3() & ~(1ULL << 63));
}

/* Everything, global entries included: toggle CR4.PGE. */
static void flush_tlb_all(void)
{
	uint64_t cr4 = read_cr4();

	if (cr4 & CR4_PGE) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	} else {
		write_cr3(read_cr3() & ~(1ULL << 63));
	}
}

/* After a change to the live tables: flush this thread if it uses them. */
void dune_live_flush(struct dune_vm *vm, uint64_t va, uint64_t len)
{
	uint64_t n;

	if (!in_dune() || (read_cr3() & DUNE_PTE_ADDR) != vm->root_pa)
		return;
	if (len / PAGE_SIZE > FLUSH_ONE_MAX) {
		flush_tlb_all();
		return;
	}
	for (n = 0; n < len; n += PAGE_SIZE)
		__asm__ volatile("invlpg (%0)" : : "r"(va + n) : "memory");
}

static pthread_mutex_t shootdown_lock = PTHREAD_MUTEX_INITIALIZER;

DUNE_API int dune_tlb_shootdown(void)
{
	volatile char *page = dune_state.shootdown_page;
	bool guest = in_dune();
	void *pending;
	size_t n;
	long r;

	if (!dune_state.initialized || !page)
		return -EINVAL;
	/*
	 * The guest's write makes sure the page is mapped in the VM's
	 * second-level (EPT/NPT) tables; MADV_DONTNEED then zaps it, and
	 * KVM's MMU notifier flushes the TLBs of every vCPU of the VM (running
	 * ones are kicked and waited for) before the call returns.  Should
	 * something else have zapped the page in between, it flushed under
	 * KVM's mmu_lock, which our zap takes after it.  A native thread's
	 * write does not map the page for the guest, so only a shootdown from
	 * Dune mode counts as a flush for the freed page-table pages.
	 * Shootdowns are serialised so that each sees its own zap.
	 */
	pthread_mutex_lock(&shootdown_lock);
	pending = dune_ptpool_detach_pending(&n);
	if (guest)
		page[0] = 1;
	r = dune_syscall(SYS_madvise, (long)page, PAGE_SIZE, MADV_DONTNEED, 0, 0, 0);
	if (guest)
		flush_tlb_all();
	dune_ptpool_reattach(pending, n, guest && r == 0);
	pthread_mutex_unlock(&shootdown_lock);
	return r < 0 ? (int)r : 0;
}

DUNE_API int dune_get_pt_stats(struct dune_pt_stats *st)
{
	size_t total, nfree, pending;

	if (!st || !dune_state.initialized)
		return -EINVAL;
	dune_ptpool_stats(&total, &nfree, &pending);
	st->total = total;
	st->free = nfree;
	st->pending = pending;
	return 0;
}

DUNE_API struct dune_vm *dune_vm_current(void)
{
	return dune_state.initialized ? dune_state.vm : NULL;
}

static int vm_new(struct dune_vm **out)
{
	struct dune_vm *vm;
	int r;

	if (!dune_state.initialized || !dune_pool_get())
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	r = dune_pt_init(vm, dune_pool_get(), dune_state.vm->max_leaf_level,
			 &dune_state.layout);
	if (r) {
		free(vm);
		return r;
	}
	vm->flush = dune_live_flush;
	*out = vm;
	return 0;
}

DUNE_API int dune_vm_create(struct dune_vm **out)
{
	if (!out)
		return -EINVAL;
	return vm_new(out);
}

DUNE_API int dune_vm_clone(struct dune_vm *src, struct dune_vm **out)
{
	struct dune_vm *vm;
	int r;

	if (!src || !out)
		return -EINVAL;
	r = vm_new(&vm);
	if (r)
		return r;
	r = dune_pt_clone(vm, src);
	if (r) {
		dune_vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

DUNE_API void dune_vm_destroy(struct dune_vm *vm)
{
	if (!vm || vm == dune_state.vm)
		return;
	dune_pt_fini(vm);
	free(vm);
}

DUNE_API int dune_vm_activate(struct dune_vm *vm)
{
	if (!vm)
		return -EINVAL;
	if (!in_dune())
		return -EPERM;
	write_cr3(vm->root_pa);
	return 0;
}

DUNE_API int dune_enable_pcid(void)
{
	uint64_t cr4;

	if (!in_dune())
		return -EPERM;
	if (!dune_state.has_pcid)
		return -EOPNOTSUPP;
	if (read_cr3() & 0xfff)
		return -EINVAL;
	cr4 = read_cr4();
	if (!(cr4 & CR4_PCIDE))
		write_cr4(cr4 | CR4_PCIDE);
	return 0;
}

DUNE_API int dune_vm_activate_pcid(struct dune_vm *vm, unsigned int pcid, int noflush)
{
	uint64_t v;

	if (!vm || pcid > 0xfff)
		return -EINVAL;
	if (!in_dune())
		return -EPERM;
	if (!(read_cr4() & CR4_PCIDE))
		return pcid ? -EINVAL : dune_vm_activate(vm);
	v = vm->root_pa | pcid;
	if (noflush)
		v |= 1ULL << 63;
	write_cr3(v);
	return 0;
}

DUNE_API int dune_invpcid(int type, unsigned int pcid, const void *va)
{
	struct { uint64_t pcid, addr; } desc = { pcid, (uint64_t)(uintptr_t)va };

	if (type < 0 || type > 3 || pcid > 0xfff)
		return -EINVAL;
	if (!in_dune())
		return -EPERM;
	if (!dune_state.has_invpcid)
		return -EOPNOTSUPP;
	__asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"((uint64_t)type) : "memory");
	return 0;
}
