/* SPDX-License-Identifier: MIT */
/*
 * libdune: run a Linux process in "Dune mode" on KVM (KVM_CAP_X86_DUNE).
 *
 * A thread that enters Dune mode keeps running its own code at its own
 * virtual addresses, but in ring 0 of a KVM guest, with page tables, IDT
 * and GDT that libdune builds for it.  Linux system calls keep working:
 * libdune points the guest's LSTAR at a stub that turns the SYSCALL
 * instruction into a VMCALL (Intel) or VMMCALL (AMD), which the host kernel
 * services for the same task.
 *
 * Conventions: functions that can fail return 0 (or a non-negative value)
 * on success and a negative errno value on failure, like liburing.  After a
 * failure, dune_last_error() describes what went wrong on this thread.
 *
 * Functions marked "guest only" may only be called by a thread that is in
 * Dune mode (ring 0); elsewhere they fail with -EPERM or do nothing.
 *
 * See Documentation/libdune.rst for the model, threading and signals.
 */
#ifndef LIBDUNE_DUNE_H
#define LIBDUNE_DUNE_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DUNE_API __attribute__((visibility("default")))

#define LIBDUNE_VERSION_MAJOR 0
#define LIBDUNE_VERSION_MINOR 1

/* ------------------------------------------------------------------ */
/* Entering Dune mode                                                  */
/* ------------------------------------------------------------------ */

/*
 * dune_init - create the process's Dune VM and its page tables.
 *
 * Opens /dev/kvm, checks KVM_CAP_X86_DUNE, creates the VM
 * (KVM_X86_DUNE_VM), reads its memory layout, builds the guest page tables
 * that map every layout window back to its own virtual addresses, and the
 * IDT.  Idempotent: later calls return 0.  Does not enter Dune mode.
 *
 * Returns 0, or -ENOENT/-EACCES (no /dev/kvm), -EOPNOTSUPP (the kernel has
 * no Dune mode), -EPROTO (unknown ABI version or inconsistent layout),
 * -EEXIST (another Dune VM exists in this process), -ENOMEM, or another
 * -errno from the kernel.
 */
DUNE_API int dune_init(void);

/*
 * dune_enter - move the calling thread into Dune mode.
 *
 * On success returns 0 *in Dune mode*, on the caller's stack, like the
 * original libdune: the caller continues in guest ring 0 with the same
 * registers, TLS (FS base) and stack.  On failure returns a negative errno
 * value and the thread is still a normal thread (nothing is half entered):
 * -EINVAL (dune_init() not called, or the kernel refused the state),
 * -EBUSY (the thread is in Dune mode already), -EIO (the VM belongs to
 * another process, e.g. after fork), -ENOMEM.
 *
 * If the thread ever leaves Dune mode (triple fault, HLT, invalid state,
 * KVM internal error), libdune prints the reason to fd 2 and terminates
 * the process with SIGSEGV: there is no way back to the code that ran.
 */
DUNE_API int dune_enter(void);

/* dune_init() then dune_enter(). */
DUNE_API int dune_init_and_enter(void);

/*
 * dune_probe - check whether this kernel offers Dune mode.
 * Returns the Dune ABI version (>= 1) or a negative errno value.
 */
DUNE_API int dune_probe(void);

/* 1 if the calling thread runs in Dune mode ring 0, 0 otherwise. */
DUNE_API int dune_in_guest(void);

/* A message for a negative errno value returned by libdune. */
DUNE_API const char *dune_strerror(int err);

/* A detailed description of the last failure on this thread ("" if none). */
DUNE_API const char *dune_last_error(void);

/* ------------------------------------------------------------------ */
/* Memory layout (guest-physical windows)                              */
/* ------------------------------------------------------------------ */

#define DUNE_WINDOW_LOW		1	/* executable image and brk heap */
#define DUNE_WINDOW_MMAP	2	/* the mmap area */
#define DUNE_WINDOW_STACK	3	/* the main thread's stack */

struct dune_window {
	uint64_t va;		/* first virtual (= host virtual) address */
	uint64_t pa;		/* its guest-physical address */
	uint64_t size;		/* bytes */
	unsigned int kind;	/* DUNE_WINDOW_* */
};

/*
 * dune_get_layout - copy up to @max windows into @w.
 * Returns the number of windows (may exceed @max) or -EINVAL before
 * dune_init().  @gpa_bits, if not NULL, receives the guest-physical width.
 */
DUNE_API int dune_get_layout(struct dune_window *w, int max, unsigned int *gpa_bits);

/* Guest-physical address of @va through the layout; -EFAULT outside it. */
DUNE_API int dune_va_to_pa(const void *va, uint64_t *pa);

/* Virtual address of guest-physical @pa, or NULL outside every window. */
DUNE_API void *dune_pa_to_va(uint64_t pa);

/* ------------------------------------------------------------------ */
/* Traps, interrupts, system calls                                     */
/* ------------------------------------------------------------------ */

/*
 * The trap frame that the IDT stubs and the ring-3 SYSCALL entry build on
 * the ring-0 stack.  Handlers may change it; the stubs return with IRETQ
 * from it.  The layout is ABI (the assembly depends on it).
 */
struct dune_tf {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10;
	uint64_t r9, r8, rax, rcx, rdx, rsi, rdi;
	uint64_t vector;	/* 0..255, or DUNE_VEC_SYSCALL */
	uint64_t err;		/* error code, 0 if the vector has none */
	/* as pushed by the CPU */
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

/* struct dune_tf.vector of a SYSCALL made in ring 3 */
#define DUNE_VEC_SYSCALL	256

/* Segment selectors of libdune's GDT (see Documentation/libdune.rst). */
#define DUNE_KERNEL_CS		0x08
#define DUNE_KERNEL_DS		0x10
#define DUNE_USER_DS		0x23	/* 0x20 | RPL 3 */
#define DUNE_USER_CS		0x2b	/* 0x28 | RPL 3 */
#define DUNE_TSS_SEL		0x30

typedef void (*dune_intr_cb)(struct dune_tf *tf);
typedef void (*dune_pgflt_cb)(uintptr_t addr, uint64_t fec, struct dune_tf *tf);
typedef void (*dune_syscall_cb)(struct dune_tf *tf);

/*
 * dune_register_intr_handler - call @cb for exceptions/interrupts on
 * @vector (0..255) in every thread; NULL restores the default handler.
 * A handler that returns resumes the interrupted code with IRETQ from the
 * (possibly modified) frame.  Returns 0 or -EINVAL.
 */
DUNE_API int dune_register_intr_handler(int vector, dune_intr_cb cb);

/*
 * dune_register_pgflt_handler - call @cb(CR2, error code, frame) for page
 * faults (#PF, vector 14).  Takes precedence over an intr handler on 14.
 */
DUNE_API int dune_register_pgflt_handler(dune_pgflt_cb cb);

/*
 * dune_register_syscall_handler - call @cb for SYSCALL instructions made in
 * ring 3 (tf->vector == DUNE_VEC_SYSCALL, tf->rax = number, arguments in
 * rdi rsi rdx r10 r8 r9, tf->rip = return address).  The handler sets
 * tf->rax (e.g. with dune_passthrough_syscall()) and returns to resume ring
 * 3, or calls dune_ret_from_user().  Without a handler a ring-3 SYSCALL
 * kills the process with SIGSYS.  SYSCALLs made in ring 0 never come here:
 * they go straight to the host kernel.
 */
DUNE_API int dune_register_syscall_handler(dune_syscall_cb cb);

/*
 * dune_fatal_trap - print @tf (vector, RIP, CR2, error code, registers) to
 * fd 2 and end the process with the signal matching the vector (e.g.
 * SIGSEGV for #PF and #GP, SIGILL for #UD, SIGSYS for a ring-3 SYSCALL).
 * This is the default handler.  Guest only.
 */
DUNE_API void dune_fatal_trap(struct dune_tf *tf) __attribute__((noreturn));

/* Print @tf to fd 2 (no stdio; usable in any handler). */
DUNE_API void dune_dump_trap_frame(const struct dune_tf *tf);

/*
 * dune_syscall - make a Linux system call from any mode: VMCALL/VMMCALL in
 * Dune ring 0, the SYSCALL instruction elsewhere.  Returns the raw kernel
 * result (-errno on failure).
 */
DUNE_API long dune_syscall(long nr, long a1, long a2, long a3, long a4,
			   long a5, long a6);

/* ------------------------------------------------------------------ */
/* Ring 3                                                              */
/* ------------------------------------------------------------------ */

/*
 * dune_init_user_tf - prepare @tf to start ring-3 code at @rip with @rsp
 * (user segments, RFLAGS = IF, all other registers 0).
 */
DUNE_API void dune_init_user_tf(struct dune_tf *tf, uintptr_t rip, uintptr_t rsp);

/*
 * dune_jump_to_user - run @tf at CPL 3 (IRETQ to DUNE_USER_CS/DUNE_USER_DS)
 * until a handler calls dune_ret_from_user(); returns the value passed to
 * it.  tf->cs, tf->ss and tf->rflags are normalised (IOPL 0, IF 1).  Ring 3
 * can only touch pages mapped with DUNE_PERM_U.  Traps and SYSCALLs from
 * ring 3 run their handlers in ring 0 on the stack of this call (below its
 * frame).  Calls may nest.  Guest only.
 */
DUNE_API long dune_jump_to_user(struct dune_tf *tf);

/*
 * dune_ret_from_user - from a handler that interrupted ring 3, abandon the
 * ring-3 context and make the innermost dune_jump_to_user() return @ret.
 */
DUNE_API void dune_ret_from_user(long ret) __attribute__((noreturn));

/*
 * dune_passthrough_syscall - forward the ring-3 SYSCALL in @tf to the host
 * kernel unchanged and store the result in tf->rax.  The caller decides
 * what is allowed: clone, fork, vfork, execve, rt_sigreturn and arch_prctl
 * affect the host thread, not the ring-3 context.
 */
DUNE_API void dune_passthrough_syscall(struct dune_tf *tf);

/*
 * dune_set_user_fs - give ring 3 on the calling thread an FS base of its
 * own (its TLS pointer), separate from ring 0's.  Opt-in, per thread: by
 * default ring 3 runs on ring 0's FS base (and ring 0's is loaded again on
 * every entry from ring 3, whatever ring 3 did with it).  Once set, libdune loads
 * @base into FS whenever it enters ring 3 on this thread (IRETQ from
 * dune_jump_to_user() or from a trap or SYSCALL that came from ring 3) and
 * puts ring 0's FS base back on every entry from ring 3 before any C code
 * runs, saving ring 3's current value (which ring 3 may have changed with
 * WRFSBASE) for the return.  A handler may call it to change the value that
 * ring 3 gets back (e.g. to emulate arch_prctl(ARCH_SET_FS)).  Returns 0,
 * -EINVAL (@base not a canonical lower-half address) or -EPERM (not in
 * Dune mode).  Guest only.
 */
DUNE_API int dune_set_user_fs(uint64_t base);

/*
 * dune_get_user_fs - ring 3's FS base on the calling thread, as ring 3 last
 * left it (from a handler) or as last set.  Returns 0, -ENOENT (ring 3 has
 * no FS base of its own: dune_set_user_fs() was not called) or -EPERM.
 */
DUNE_API int dune_get_user_fs(uint64_t *base);

/* ------------------------------------------------------------------ */
/* Page tables                                                         */
/* ------------------------------------------------------------------ */

typedef uint64_t dune_pte_t;

/* x86-64 page-table entry bits */
#define DUNE_PTE_P	(1ULL << 0)
#define DUNE_PTE_W	(1ULL << 1)
#define DUNE_PTE_U	(1ULL << 2)
#define DUNE_PTE_PWT	(1ULL << 3)
#define DUNE_PTE_PCD	(1ULL << 4)
#define DUNE_PTE_A	(1ULL << 5)
#define DUNE_PTE_D	(1ULL << 6)
#define DUNE_PTE_PS	(1ULL << 7)	/* large leaf (levels 1 and 2) */
#define DUNE_PTE_G	(1ULL << 8)
#define DUNE_PTE_USR1	(1ULL << 9)	/* free for the application */
#define DUNE_PTE_USR2	(1ULL << 10)
#define DUNE_PTE_USR3	(1ULL << 11)
#define DUNE_PTE_MAPPED	(1ULL << 52)	/* libdune: a leaf, present or not */
#define DUNE_PTE_NX	(1ULL << 63)
#define DUNE_PTE_ADDR	0x000ffffffffff000ULL

/* Leaf levels */
#define DUNE_LEVEL_4K	0
#define DUNE_LEVEL_2M	1
#define DUNE_LEVEL_1G	2

/* Permissions for dune_vm_map_*() and dune_vm_protect() */
#define DUNE_PERM_R	0x0001	/* present (readable) */
#define DUNE_PERM_W	0x0002
#define DUNE_PERM_X	0x0004	/* executable (clears NX) */
#define DUNE_PERM_U	0x0008	/* accessible from ring 3 */
#define DUNE_PERM_UC	0x0010	/* uncached (PCD) */
#define DUNE_PERM_WT	0x0020	/* write-through (PWT) */
#define DUNE_PERM_G	0x0040	/* global */
#define DUNE_PERM_USR1	0x0100	/* DUNE_PTE_USR1..3 */
#define DUNE_PERM_USR2	0x0200
#define DUNE_PERM_USR3	0x0400
#define DUNE_PERM_SMALL	0x1000	/* map with 4 KiB pages only */
#define DUNE_PERM_NO1G	0x2000	/* no 1 GiB pages */

struct dune_vm;

/*
 * The process's page table, used by every thread that enters (NULL before
 * dune_init()).  After dune_init() it maps every layout window at its own
 * virtual addresses, R|W|X, ring 0 only (no DUNE_PERM_U): grant ring 3
 * access with dune_vm_protect() or dune_vm_map_pages().
 */
DUNE_API struct dune_vm *dune_vm_current(void);

/* A new empty page table (after dune_init()); *out receives it. */
DUNE_API int dune_vm_create(struct dune_vm **out);

/* A deep copy of @src's tables (leaves unchanged, A/D bits included). */
DUNE_API int dune_vm_clone(struct dune_vm *src, struct dune_vm **out);

/* Free a page table made by dune_vm_create()/dune_vm_clone(). */
DUNE_API void dune_vm_destroy(struct dune_vm *vm);

/* Guest-physical address of the top-level table (the CR3 value). */
DUNE_API uint64_t dune_vm_root_pa(struct dune_vm *vm);

/* Load @vm into CR3 on the calling thread.  Guest only. */
DUNE_API int dune_vm_activate(struct dune_vm *vm);

/*
 * dune_vm_map_phys - map [va, va+len) to guest-physical [pa, pa+len) with
 * @perm, replacing what was there.  Uses 1 GiB leaves where the CPU has
 * them and va, pa and len allow it, else 2 MiB, else 4 KiB.  va, pa and
 * len must be 4 KiB aligned and va+len at most 2^47.  Returns 0, -EINVAL
 * or -ENOMEM (the range may then be partly mapped).
 */
DUNE_API int dune_vm_map_phys(struct dune_vm *vm, void *va, size_t len,
			      uint64_t pa, int perm);

/* Map [va, va+len) to its own guest-physical addresses through the layout
 * (-EFAULT if part of it is outside every window). */
DUNE_API int dune_vm_map_pages(struct dune_vm *vm, void *va, size_t len, int perm);

/* Remove the mappings in [va, va+len), splitting large leaves at the ends. */
DUNE_API int dune_vm_unmap(struct dune_vm *vm, void *va, size_t len);

/*
 * Change the permissions of the mapped pages in [va, va+len), splitting
 * large leaves at the ends; unmapped parts are skipped.  Without
 * DUNE_PERM_R the pages become not present but stay mapped (their address
 * is kept), so a later protect makes them present again.
 */
DUNE_API int dune_vm_protect(struct dune_vm *vm, void *va, size_t len, int perm);

/*
 * Find the leaf that maps @va: *pte (may be NULL) points at it, *level (may
 * be NULL) is its DUNE_LEVEL_*.  -ENOENT if none.  The pointer stays valid
 * until the next map/unmap/protect of that range.
 */
DUNE_API int dune_vm_lookup(struct dune_vm *vm, const void *va,
			    dune_pte_t **pte, int *level);

/* Guest-physical address that @va maps to (-ENOENT if unmapped); *perm
 * (may be NULL) receives the DUNE_PERM_* bits of the leaf. */
DUNE_API int dune_vm_translate(struct dune_vm *vm, const void *va,
			       uint64_t *pa, int *perm);

/*
 * Walk callback: @va is the first address the leaf maps, @level its
 * DUNE_LEVEL_*.  Return non-zero to stop the walk (dune_vm_walk() returns
 * that value).  The callback may change bits with dune_pte_*() but must not
 * map, unmap or protect in the same page table.
 */
typedef int (*dune_vm_walk_cb)(void *arg, uintptr_t va, dune_pte_t *pte, int level);

/* Call @cb for every leaf (present or not) that overlaps [start, end). */
DUNE_API int dune_vm_walk(struct dune_vm *vm, const void *start, const void *end,
			  dune_vm_walk_cb cb, void *arg);

/*
 * Atomically clear @bits (e.g. DUNE_PTE_A | DUNE_PTE_D) in the leaf that
 * maps @va; returns the bits among them that were set, or -ENOENT.  Does
 * not flush the TLB.
 */
DUNE_API int64_t dune_vm_test_and_clear(struct dune_vm *vm, const void *va, uint64_t bits);

/*
 * dune_vm_collect_dirty - which 4 KiB pages of [va, va+len) are dirty.
 *
 * Sets bit i of @bitmap (may be NULL; (len/4096 + 63)/64 words, zeroed
 * first, bit i of word i/64) for every page va + i*4096 whose leaf has the
 * D bit, and returns how many there are (or -EINVAL).  With
 * DUNE_DIRTY_CLEAR it also clears the D bits atomically (dirty bits that
 * the CPU sets meanwhile are reported now or next time, never lost) and
 * flushes the calling thread's TLB for the range, so that the next write
 * sets D again; with DUNE_DIRTY_SHOOTDOWN in addition, it makes a
 * dune_tlb_shootdown() so that writes by other threads set D again too.
 * A large (2 MiB/1 GiB) leaf is one unit: all its pages in the range are
 * reported and clearing clears it as a whole.  Map memory whose writes you
 * track with DUNE_PERM_SMALL.
 */
#define DUNE_DIRTY_CLEAR	0x1
#define DUNE_DIRTY_SHOOTDOWN	0x2
DUNE_API long dune_vm_collect_dirty(struct dune_vm *vm, void *va, size_t len,
				    uint64_t *bitmap, int flags);

/* Atomic helpers for walk callbacks (the CPU sets A/D concurrently). */
static inline dune_pte_t dune_pte_get(const dune_pte_t *pte)
{
	return __atomic_load_n(pte, __ATOMIC_ACQUIRE);
}

static inline dune_pte_t dune_pte_test_and_clear(dune_pte_t *pte, dune_pte_t bits)
{
	return __atomic_fetch_and(pte, ~bits, __ATOMIC_ACQ_REL) & bits;
}

static inline dune_pte_t dune_pte_set_bits(dune_pte_t *pte, dune_pte_t bits)
{
	return __atomic_fetch_or(pte, bits, __ATOMIC_ACQ_REL) & bits;
}

/* Guest-physical address in a leaf of @level. */
static inline uint64_t dune_pte_addr(dune_pte_t pte, int level)
{
	return pte & DUNE_PTE_ADDR & ~((1ULL << (12 + 9 * level)) - 1);
}

/* ------------------------------------------------------------------ */
/* TLB (guest only; they do nothing outside Dune mode)                 */
/* ------------------------------------------------------------------ */

/* INVLPG @va on the calling thread. */
DUNE_API void dune_flush_tlb_one(const void *va);

/* Flush the calling thread's non-global TLB entries (CR3 reload). */
DUNE_API void dune_flush_tlb(void);

/*
 * Make every thread of the VM drop its cached translations.  Dune VMs get
 * no IPIs, so this relies on KVM's remote TLB flush after an MMU-notifier
 * invalidation: it touches a private page and then MADV_DONTNEEDs it.
 * Returns 0 or -errno.  See Documentation/libdune.rst.
 */
DUNE_API int dune_tlb_shootdown(void);

/*
 * Page-table pages of the process (all page tables share one pool): how
 * many there are, how many are free, and how many were freed but wait for
 * a TLB shootdown before they are reused (another thread may still cache
 * them; see dune_tlb_shootdown()).  -EINVAL before dune_init().
 */
struct dune_pt_stats {
	uint64_t total;
	uint64_t free;
	uint64_t pending;
};
DUNE_API int dune_get_pt_stats(struct dune_pt_stats *st);

/* CPU features as KVM offers them to the guest (after dune_init()). */
DUNE_API int dune_has_pcid(void);
DUNE_API int dune_has_invpcid(void);
DUNE_API int dune_has_1g_pages(void);

/* Set CR4.PCIDE on the calling thread (CR3 must have PCID 0).  Guest only. */
DUNE_API int dune_enable_pcid(void);

/* Load CR3 with @vm's root, @pcid and, if @noflush, bit 63.  Guest only. */
DUNE_API int dune_vm_activate_pcid(struct dune_vm *vm, unsigned int pcid, int noflush);

/* INVPCID @type (0 address, 1 context, 2 all incl. global, 3 all). */
DUNE_API int dune_invpcid(int type, unsigned int pcid, const void *va);

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

/*
 * dune_pthread_create - pthread_create() whose new thread enters Dune mode
 * (on the same VM and page table) before running @start, if the calling
 * thread is in Dune mode.  If the new thread cannot enter, it prints why
 * and aborts the process.
 *
 * libdune.so also interposes pthread_create() itself, so that ordinary
 * programs (and dune-run) get this behaviour; a static program gets it
 * with -Wl,--wrap=pthread_create.  dune_set_thread_auto_enter(0) turns it
 * off (the new threads then run natively).
 */
DUNE_API int dune_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
				 void *(*start)(void *), void *arg);

/* Turn automatic entry of new threads on (1, the default) or off (0). */
DUNE_API void dune_set_thread_auto_enter(int on);

#ifdef __cplusplus
}
#endif

#endif /* LIBDUNE_DUNE_H */
