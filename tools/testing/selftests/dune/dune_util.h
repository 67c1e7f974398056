/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the raw Dune mode selftests: no libdune, just the KVM ioctls.
 *
 * The guest is the test process itself: guest code is ordinary functions of
 * the test, running in guest ring 0 on page tables that map every Dune
 * window back to its host virtual addresses.  Guest code must not call libc
 * (it would make host system calls with SYSCALL, which in Dune mode goes
 * to the guest's own LSTAR); it uses guest_syscall() instead.
 */
#ifndef SELFTESTS_DUNE_UTIL_H
#define SELFTESTS_DUNE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <unistd.h>
#include <cpuid.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kvm.h>

#ifndef KVM_X86_DUNE_VM
#error "these tests need the patched uapi headers (make headers_install)"
#endif

#define SZ_1G		0x40000000ULL
#define SZ_2M		0x200000ULL
#define PAGE_SZ		0x1000ULL

#define PTE_P		0x001ULL
#define PTE_W		0x002ULL
#define PTE_U		0x004ULL
#define PTE_PS		0x080ULL

#define GDT_KERNEL_CS	0x08
#define GDT_KERNEL_DS	0x10
#define GDT_USER_DS	0x20
#define GDT_USER_CS	0x28
#define GDT_TSS		0x30

#define GUEST_RFLAGS	0x202	/* IF=1: see Bochs bug B1 in the docs */

/* Exit status of a guest that took exception @vector (see exception stubs). */
#define EXC_EXIT(vector)	(100 + (vector))

/* The 64-bit TSS, as 32-bit words: its 64-bit fields are not aligned. */
#define TSS_SIZE	104
#define TSS_RSP0	4
#define TSS_IST1	36
#define TSS_IOMAP	102

/*
 * One plain load or store, in program order: for flags and counters that
 * another thread or a signal handler changes, in guest code too.  Relaxed
 * atomics (never a seq_cst store: that is XCHG) between compiler barriers,
 * which are no instructions.
 */
#define READ_ONCE(x) ({						\
	__atomic_signal_fence(__ATOMIC_SEQ_CST);			\
	__atomic_load_n(&(x), __ATOMIC_RELAXED);			\
})
#define WRITE_ONCE(x, v) do {						\
	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED);			\
	__atomic_signal_fence(__ATOMIC_SEQ_CST);			\
} while (0)

struct dune_idt_entry {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off1;
	uint32_t off2;
	uint32_t zero;
};

/*
 * Shared between the host side and the guest: plain globals, written before
 * the guest starts.
 */
extern int dune_is_amd;
/* getpid() and gettid() of the process that enters, taken natively. */
extern long dune_native_pid, dune_native_tid;
/* Entry points of the exception stubs for vectors 0-31 */
extern const uint64_t dune_exc_table[32];

/* Host side */
struct dune_vm {
	int kvm_fd;
	int vm_fd;
	struct kvm_dune_layout layout;
	uint64_t cr3;
};

int dune_vm_create(struct dune_vm *vm);		/* -errno */
bool dune_hva_to_gpa(const struct dune_vm *vm, uint64_t hva, uint64_t *gpa);
const struct kvm_dune_window *dune_window_of(const struct dune_vm *vm, uint64_t hva);
bool dune_gpa_to_hva(const struct dune_vm *vm, uint64_t gpa, uint64_t *hva);
int dune_build_page_tables(struct dune_vm *vm);	/* maps every window, U=1 */
int dune_map_2m(struct dune_vm *vm, uint64_t va, uint64_t gpa);	/* one more leaf */
void dune_init_config(struct dune_vm *vm, struct kvm_dune_enter *cfg,
		      void (*fn)(void), void *stack, size_t stack_size);
void dune_setup_descriptors(struct kvm_dune_enter *cfg);	/* GDT, TSS, IDT */
int dune_enter(struct dune_vm *vm, struct kvm_dune_enter *cfg);	/* -errno */
/* Called in the child, with its VM and page tables, just before it enters. */
extern void (*dune_child_hook)(struct dune_vm *vm);
/* Run fn in Dune mode in a child; returns its pid (-1 on error). */
pid_t dune_start_child(void (*fn)(void), bool descriptors);
/* The same, and wait for the child: returns its wait status. */
int dune_run_child(void (*fn)(void), bool descriptors);

/* Guest side */
static inline long guest_syscall(long nr, long a0, long a1, long a2, long a3,
				 long a4, long a5)
{
	register long r10 asm("r10") = a3;
	register long r8 asm("r8") = a4;
	register long r9 asm("r9") = a5;
	long ret;

	if (dune_is_amd)
		asm volatile("vmmcall" : "=a"(ret)
				 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
				 : "memory");
	else
		asm volatile("vmcall" : "=a"(ret)
				 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
				 : "memory");
	return ret;
}

static inline long gsys0(long nr)
{
	return guest_syscall(nr, 0, 0, 0, 0, 0, 0);
}

static inline long gsys1(long nr, long a)
{
	return guest_syscall(nr, a, 0, 0, 0, 0, 0);
}

static inline long gsys3(long nr, long a, long b, long c)
{
	return guest_syscall(nr, a, b, c, 0, 0, 0);
}

/* Accesses the compiler may not drop or merge (the guest's test accesses) */
static inline uint64_t guest_read64(uint64_t addr)
{
	uint64_t v;

	asm volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void guest_write64(uint64_t addr, uint64_t v)
{
	asm volatile("movq %1, (%0)" : : "r"(addr), "r"(v) : "memory");
}

static inline noreturn void guest_exit(int code)
{
	for (;;)
		gsys1(SYS_exit_group, code);
}

/* Load the TSS that dune_setup_descriptors() put in the GDT. */
static inline void guest_load_tr(void)
{
	asm volatile("ltr %w0" : : "r"(GDT_TSS));
}

/* iretq to @fn at CPL 3 on @stack_top. */
void guest_jump_to_user(void (*fn)(void), void *stack_top);

#endif
