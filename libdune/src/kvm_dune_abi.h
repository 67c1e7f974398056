/* SPDX-License-Identifier: MIT */
/*
 * The KVM Dune-mode ABI (KVM_CAP_X86_DUNE, ABI version 1) as libdune uses it.
 *
 * Every definition is guarded so that the library also builds against
 * kernel headers that already carry them.  The values must match the
 * kernel's include/uapi: see Documentation/libdune.rst.
 */
#ifndef LIBDUNE_KVM_DUNE_ABI_H
#define LIBDUNE_KVM_DUNE_ABI_H

#include <linux/kvm.h>

#ifndef KVM_X86_DUNE_VM
#define KVM_X86_DUNE_VM			16
#endif
#ifndef KVM_CAP_X86_DUNE
#define KVM_CAP_X86_DUNE		1024
#endif
#ifndef KVM_DUNE_ABI_VERSION
#define KVM_DUNE_ABI_VERSION		1
#endif
#ifndef KVM_DUNE_MAX_WINDOWS
#define KVM_DUNE_MAX_WINDOWS		8
#endif
#ifndef KVM_DUNE_WINDOW_LOW
#define KVM_DUNE_WINDOW_LOW		1	/* executable image + brk heap */
#endif
#ifndef KVM_DUNE_WINDOW_MMAP
#define KVM_DUNE_WINDOW_MMAP		2	/* the mmap area */
#endif
#ifndef KVM_DUNE_WINDOW_STACK
#define KVM_DUNE_WINDOW_STACK		3	/* the main thread's stack */
#endif

#ifndef KVM_DUNE_EXIT_SHUTDOWN
#define KVM_DUNE_EXIT_SHUTDOWN		1	/* triple fault */
#endif
#ifndef KVM_DUNE_EXIT_HLT
#define KVM_DUNE_EXIT_HLT		2	/* HLT in ring 0 */
#endif
#ifndef KVM_DUNE_EXIT_FAIL_ENTRY
#define KVM_DUNE_EXIT_FAIL_ENTRY	3	/* invalid guest state */
#endif
#ifndef KVM_DUNE_EXIT_INTERNAL
#define KVM_DUNE_EXIT_INTERNAL		4	/* KVM internal error */
#endif

/*
 * The structures and ioctl numbers come as a set: a header that defines
 * KVM_DUNE_GET_LAYOUT also defines the structures.
 */
#ifndef KVM_DUNE_GET_LAYOUT
struct kvm_dune_window {
	__u64 hva;
	__u64 gpa;
	__u64 size;
	__u32 kind;
	__u32 flags;
};

struct kvm_dune_layout {
	__u32 nr_windows;
	__u32 gpa_bits;
	__u64 reserved[3];
	struct kvm_dune_window windows[KVM_DUNE_MAX_WINDOWS];
};

struct kvm_dune_enter {
	__u32 flags;			/* in: must be 0 */
	__u32 exit_reason;		/* out: KVM_DUNE_EXIT_* */
	__u64 exit_info[2];		/* out */
	struct kvm_regs regs;		/* in: all GPRs, rip, rsp, rflags */
	__u64 cr3;			/* in: guest-physical */
	struct kvm_dtable gdt;		/* in: may be zero */
	struct kvm_dtable idt;		/* in: may be zero */
	__u64 reserved[8];		/* in: must be 0 */
};

#define KVM_DUNE_GET_LAYOUT	_IOR(KVMIO, 0xf0, struct kvm_dune_layout)
#define KVM_DUNE_ENTER		_IOWR(KVMIO, 0xf1, struct kvm_dune_enter)
#endif /* KVM_DUNE_GET_LAYOUT */

/* The highest user address + 1 on x86-64 with 4-level paging. */
#define DUNE_USER_ADDR_LIMIT	0x7ffffffff000ULL
/*
 * The end of what libdune's 4-level guest page tables can map.  On a host
 * with 5-level paging the kernel's limit (TASK_SIZE_MAX) is higher, so a
 * stack window may end here, at a 1 GiB boundary, rather than at
 * DUNE_USER_ADDR_LIMIT.
 */
#define DUNE_VA_LIMIT		0x800000000000ULL
#define DUNE_WINDOW_ALIGN	(1ULL << 30)

#endif /* LIBDUNE_KVM_DUNE_ABI_H */
