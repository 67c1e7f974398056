/* SPDX-License-Identifier: MIT */
/*
 * libdune internals shared by the C files, the assembly and the host unit
 * tests.  Nothing here is installed.
 */
#ifndef LIBDUNE_INTERNAL_H
#define LIBDUNE_INTERNAL_H

/* Constants usable from assembly too. */
#define GDT_KERNEL_CS		0x08
#define GDT_KERNEL_DS		0x10
#define GDT_USER32_CS		0x18	/* left empty: no compatibility mode */
#define GDT_USER_DS		0x20
#define GDT_USER_CS		0x28
#define GDT_TSS			0x30	/* 16 bytes: 0x30 and 0x38 */
#define GDT_ENTRIES		8

#define USER_DS_SEL		(GDT_USER_DS | 3)
#define USER_CS_SEL		(GDT_USER_CS | 3)

/* STAR[47:32] = kernel CS (SS = +8); STAR[63:48] = base for SYSRET. */
#define STAR_HIGH		(((GDT_USER32_CS | 3) << 16) | GDT_KERNEL_CS)

#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_FS_BASE		0xc0000100
#define MSR_GS_BASE		0xc0000101
#define MSR_KERNEL_GS_BASE	0xc0000102

#define RFLAGS_IF		0x200
#define RFLAGS_IOPL		0x3000
/* Ring 0 runs with IOPL 3, ring 3 with IOPL 0: see the SYSCALL entry. */
#define RFLAGS_KERNEL		(RFLAGS_IOPL | RFLAGS_IF | 0x2)
/* SFMASK: TF, DF, NT, AC.  IF stays set (see Documentation/libdune.rst). */
#define SYSCALL_MASK		(0x100 | 0x400 | 0x4000 | 0x40000)
/* Flags ring 3 may keep: CF PF AF ZF SF TF DF OF AC ID */
#define RFLAGS_USER_KEEP	0x240dd5

#define NR_arch_prctl		158
#define ARCH_SET_GS		0x1001
#define NR_ioctl		16
#define NR_clone		56
#define NR_clone3		435

/* IST slots (1-based as in the IDT gate) */
#define IST_DF			1
#define IST_NMI			2
#define IST_MC			3
#define IST_TRAMP		4	/* everything else: moved off at once */

/* struct dune_percpu offsets used by the assembly */
#define PC_SELF			0
#define PC_KSTACK		8
#define PC_SCRATCH		16
#define PC_USER_CTX		24
#define PC_USER_FS_ON		32
#define PC_USER_FS		40
#define PC_KERNEL_FS		48
#define PC_GDT			64
#define PC_TSS			128
#define PC_TSS_RSP0		(PC_TSS + 4)
#define PC_CLONE_REGS		576	/* struct kvm_regs */
#define PC_CLONE_CALL_RSP	720
#define PC_HOST_STACK		728
#define PC_OWNER_TID		736

/* struct kvm_regs offsets (the clone child's registers) */
#define KR_RAX			0
#define KR_RBX			8
#define KR_RCX			16
#define KR_RDX			24
#define KR_RSI			32
#define KR_RDI			40
#define KR_RSP			48
#define KR_RBP			56
#define KR_R8			64
#define KR_R9			72
#define KR_R10			80
#define KR_R11			88
#define KR_R12			96
#define KR_R13			104
#define KR_R14			112
#define KR_R15			120
#define KR_RIP			128
#define KR_RFLAGS		136

/* struct dune_tf offsets */
#define TF_VECTOR		120
#define TF_ERR			128
#define TF_RIP			136
#define TF_CS			144
#define TF_RFLAGS		152
#define TF_RSP			160
#define TF_SS			168
#define TF_SIZE			176

/* struct kvm_dune_enter offsets */
#define E_RAX			24
#define E_RBX			32
#define E_RSP			72
#define E_RBP			80
#define E_R12			120
#define E_R13			128
#define E_R14			136
#define E_R15			144
#define E_RIP			152
#define E_RFLAGS		160

#ifndef __ASSEMBLER__

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <pthread.h>

#include "dune.h"
#include "kvm_dune_abi.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define PAGE_SIZE 4096UL

/* ---- layout.c: guest-physical windows ---- */

HIDDEN int dune_layout_check(const struct kvm_dune_layout *l, char *why, size_t whylen);
HIDDEN const struct kvm_dune_window *dune_layout_find_va(const struct kvm_dune_layout *l,
							 uint64_t va);
HIDDEN int dune_layout_va_to_pa(const struct kvm_dune_layout *l, uint64_t va, uint64_t *pa);
HIDDEN int dune_layout_pa_to_va(const struct kvm_dune_layout *l, uint64_t pa, uint64_t *va);
/* Length of the run from @va that stays inside one window (0 if none). */
HIDDEN uint64_t dune_layout_contig(const struct kvm_dune_layout *l, uint64_t va);

/* ---- desc.c: GDT, TSS and IDT encoding ---- */

struct dune_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct dune_idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
} __attribute__((packed));

#define SEG_TYPE_DATA_RW_A	0x3	/* read/write, accessed */
#define SEG_TYPE_CODE_XR_A	0xb	/* execute/read, accessed */
#define SEG_TYPE_TSS_AVAIL	0x9
#define GATE_TYPE_INTR		0xe
#define GATE_TYPE_TRAP		0xf

HIDDEN uint64_t dune_seg_desc(uint32_t base, uint32_t limit, unsigned int type,
			      unsigned int dpl, bool code64, bool db, bool gran);
HIDDEN void dune_tss_desc(uint64_t out[2], uint64_t base, uint32_t limit);
HIDDEN void dune_idt_gate_set(struct dune_idt_gate *g, uint64_t handler, uint16_t sel,
			      unsigned int ist, unsigned int type, unsigned int dpl);
HIDDEN void dune_gdt_fill(uint64_t gdt[GDT_ENTRIES], const struct dune_tss *tss);
HIDDEN void dune_tss_fill(struct dune_tss *tss, uint64_t rsp0, const uint64_t ist_tops[7]);
/* The IST slot and gate DPL libdune uses for @vector. */
HIDDEN unsigned int dune_vector_ist(unsigned int vector);
HIDDEN unsigned int dune_vector_dpl(unsigned int vector);
HIDDEN bool dune_vector_has_errcode(unsigned int vector);
HIDDEN void dune_idt_fill(struct dune_idt_gate idt[256], uint64_t stubs, unsigned int stride);

/* ---- pgtable.c: the page-table engine (runs on any memory) ---- */

/*
 * Where page-table pages come from.  In a live process they come from an
 * mmap'd pool and their "physical" address is their guest-physical address
 * through the layout; in the unit tests they come from a plain buffer.
 */
struct dune_ptmem {
	/* A zeroed page: returns its address, *pa its physical address. */
	void *(*alloc)(struct dune_ptmem *m, uint64_t *pa);
	void (*free)(struct dune_ptmem *m, void *page, uint64_t pa);
	/* Address at which a table page with physical address @pa is seen. */
	void *(*phys_to_virt)(struct dune_ptmem *m, uint64_t pa);
};

struct dune_vm {
	dune_pte_t *root;
	uint64_t root_pa;
	struct dune_ptmem *mem;
	int max_leaf_level;			/* DUNE_LEVEL_2M or DUNE_LEVEL_1G */
	const struct kvm_dune_layout *layout;	/* for dune_vm_map_pages() */
	pthread_rwlock_t lock;			/* write: structure; read: walks */
	/* Called after a change to [va, va+len) that needs a TLB flush. */
	void (*flush)(struct dune_vm *vm, uint64_t va, uint64_t len);
};

HIDDEN int dune_pt_init(struct dune_vm *vm, struct dune_ptmem *mem, int max_leaf_level,
			const struct kvm_dune_layout *layout);
HIDDEN void dune_pt_fini(struct dune_vm *vm);
HIDDEN dune_pte_t dune_perm_to_pte(int perm, int level);
HIDDEN int dune_pte_to_perm(dune_pte_t pte);

/* ---- ptpool.c: page-table pages from mmap'd memory ---- */

HIDDEN struct dune_ptmem *dune_ptpool_create(const struct kvm_dune_layout *l);
/* Deferred reuse of freed table pages around a TLB shootdown (ptpool.c). */
HIDDEN void *dune_ptpool_detach_pending(size_t *n);
HIDDEN void dune_ptpool_reattach(void *list, size_t n, bool flushed);
HIDDEN void dune_ptpool_stats(size_t *total, size_t *free, size_t *pending);

/* ---- per-thread state ---- */

struct dune_percpu {
	uint64_t self;		/* PC_SELF: this structure (GS base in ring 0) */
	uint64_t kstack;	/* PC_KSTACK: ring-0 stack for entries from ring 3 */
	uint64_t scratch;	/* PC_SCRATCH: ring-3 RSP at SYSCALL */
	uint64_t user_ctx;	/* PC_USER_CTX: innermost dune_jump_to_user frame */
	uint64_t user_fs_on;	/* PC_USER_FS_ON: ring 3 has its own FS base */
	uint64_t user_fs;	/* PC_USER_FS: ring 3's FS base (dune_set_user_fs) */
	uint64_t kernel_fs;	/* PC_KERNEL_FS: ring 0's, saved at dune_jump_to_user */
	uint64_t pad;
	uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(64)));	/* PC_GDT */
	struct dune_tss tss __attribute__((aligned(64)));		/* PC_TSS */
	struct kvm_dune_enter enter __attribute__((aligned(64)));
	/*
	 * A thread made by clone(CLONE_VM) from Dune mode (clone.c): the
	 * registers it resumes with in Dune mode, and the parent's RSP at the
	 * VMCALL (the child's too if the call gave it no stack).
	 */
	struct kvm_regs clone_regs __attribute__((aligned(64)));	/* PC_CLONE_REGS */
	uint64_t clone_call_rsp;	/* PC_CLONE_CALL_RSP */
	uint64_t host_stack_top;	/* PC_HOST_STACK */
	int owner_tid;		/* PC_OWNER_TID: 0 free, -1 reserved for a clone child */
	int entered;
	/* bookkeeping, C only */
	uint64_t default_kstack;
	void *region;
	size_t region_len;
	struct dune_percpu *next;
	uint64_t clone_parent_rsp;	/* the caller's RSP at SYSCALL */
	uint64_t clone_fs;		/* the parent's FS base, without CLONE_SETTLS */
	uint32_t clone_set_fs;
	uint32_t clone_mxcsr;
	uint16_t clone_fcw;
};

/* ---- core.c ---- */

struct dune_state {
	int initialized;
	int vm_fd;
	int amd;		/* VMMCALL instead of VMCALL */
	int has_1g, has_pcid, has_invpcid;
	int abi_version;
	struct kvm_dune_layout layout;
	struct dune_vm *vm;
	struct dune_idt_gate *idt;
	void *shootdown_page;
};

extern struct dune_state dune_state HIDDEN;
extern __thread struct dune_percpu *dune_tls_pc HIDDEN
	__attribute__((tls_model("initial-exec")));
extern __thread int dune_tls_entered HIDDEN __attribute__((tls_model("initial-exec")));

HIDDEN int dune_set_error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
HIDDEN void dune_clear_error(void);
HIDDEN int dune_thread_setup_in_guest(void);
/* A free per-thread region for @owner (-1: a clone child), or NULL (*err). */
HIDDEN struct dune_percpu *dune_percpu_get(int owner, int *err);
HIDDEN void dune_percpu_prepare_enter(struct dune_percpu *pc);
HIDDEN long dune_raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
HIDDEN void dune_kill_segv(void) __attribute__((noreturn));
HIDDEN void dune_host_puts(const char *s);
HIDDEN char *dune_fmt_dec(char *end, unsigned long v);
HIDDEN void dune_live_flush(struct dune_vm *vm, uint64_t va, uint64_t len);
HIDDEN int dune_pt_clone(struct dune_vm *dst, struct dune_vm *src);
HIDDEN struct dune_ptmem *dune_pool_get(void);

/* ---- trap.c ---- */

HIDDEN long dune_hypercall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
HIDDEN void dune_raw_write(int fd, const char *s, size_t n);
HIDDEN void dune_raw_puts(const char *s);
HIDDEN int dune_vector_signal(unsigned int vector);
HIDDEN void dune_fmt_hex(char *out, uint64_t v, int digits);
HIDDEN void dune_fpu_init(void);
extern uint8_t __dune_fpu_init_area[576] HIDDEN;

/* ---- entry.S ---- */

HIDDEN long __dune_enter(int vm_fd, struct kvm_dune_enter *e, uint64_t host_stack_top,
			 unsigned long cmd);
HIDDEN void __dune_guest_setup(struct dune_percpu *pc, uint64_t lstar);
HIDDEN void __dune_left_guest(struct kvm_dune_enter *e) __attribute__((noreturn));
HIDDEN void __dune_trap_dispatch(struct dune_tf *tf);
HIDDEN void __dune_syscall_dispatch(struct dune_tf *tf);
HIDDEN void __dune_clone_prepare(struct dune_tf *tf);
HIDDEN void __dune_clone_child_host(struct dune_percpu *pc) __attribute__((noreturn));
HIDDEN void __dune_clone_resume(struct dune_percpu *pc) __attribute__((noreturn));
extern char __dune_trap_stubs[] HIDDEN;
extern char __dune_syscall_intel[] HIDDEN;
extern char __dune_syscall_amd[] HIDDEN;
extern char __dune_syscall_user[] HIDDEN;
extern char __dune_trap_move[] HIDDEN;
extern char __dune_trap_move_end[] HIDDEN;
#define DUNE_TRAP_STUB_SIZE 16

/* ---- thread.c ---- */

typedef int (*dune_pthread_create_fn)(pthread_t *, const pthread_attr_t *,
				      void *(*)(void *), void *);
extern dune_pthread_create_fn dune_real_pthread_create HIDDEN;
HIDDEN int dune_thread_create(pthread_t *thread, const pthread_attr_t *attr,
			      void *(*start)(void *), void *arg);

/* ---- small helpers ---- */

static inline unsigned int dune_read_cs(void)
{
	unsigned int cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 0xffff;
}

static inline bool dune_cpu_in_ring0(void)
{
	return (dune_read_cs() & 3) == 0;
}

/*
 * The calling thread's per-thread area.  In ring 0 the GS base is always
 * the thread's struct dune_percpu (entry.S); a thread made by a raw clone
 * may have a TLS block that libdune's __thread variables are not in.
 */
static inline struct dune_percpu *dune_cur_pc(void)
{
	struct dune_percpu *pc;

	if (!dune_cpu_in_ring0())
		return dune_tls_pc;
	__asm__ volatile("movq %%gs:%c1, %0" : "=r"(pc) : "i"(PC_SELF));
	return pc;
}

#endif /* !__ASSEMBLER__ */
#endif /* LIBDUNE_INTERNAL_H */
