// SPDX-License-Identifier: MIT
/*
 * Threads made by a raw clone(CLONE_VM) or clone3(CLONE_VM) from Dune mode.
 *
 * The kernel starts the child of a clone made with VMCALL natively, from the
 * guest's registers after the VMCALL: it cannot put the child in Dune mode
 * itself, since every thread in Dune mode needs libdune's per-thread region
 * (GDT, TSS, ring-0 and IST stacks, the host stack that the ENTER ioctl and
 * host-side signal handlers run on, its own struct kvm_dune_enter).  So
 * libdune's SYSCALL entry (entry.S) gives every clone or clone3 with
 * CLONE_VM and without CLONE_VFORK to __dune_clone_prepare() first, which
 * reserves such a region for the child and records what the child resumes
 * with; the entry then makes the call with RCX = the region.  The child,
 * natively in the entry right after the VMCALL (RAX = 0, CS with RPL 3),
 * saves its registers in the region, switches to the region's ring-0 stack
 * and calls __dune_clone_child_host(), which enters Dune mode from the
 * region's host stack; in the guest, __dune_clone_resume() returns from the
 * system call as SYSRET would: RIP and RCX = the instruction after the
 * SYSCALL, R11 = RFLAGS = the caller's, RAX = 0, RSP = the child's stack,
 * every other register as the parent had it.
 *
 * fork (no CLONE_VM) and vfork (CLONE_VFORK) children stay native: the
 * first has an mm of its own, the second shares the parent's stack until it
 * calls execve or _exit.
 *
 * The child runs on whatever TLS the clone gave it (CLONE_SETTLS), which
 * need not be glibc's: nothing here touches TLS (no errno, no __thread).
 * The region is reused once the thread has exited, as for dune_enter().
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "internal.h"

#define CLONE_VM_FLAG		0x00000100UL
#define CLONE_VFORK_FLAG	0x00004000UL
#define CLONE_SETTLS_FLAG	0x00080000UL

static inline uint64_t rdmsr_fs(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_FS_BASE));
	return ((uint64_t)hi << 32) | lo;
}

/*
 * clone3's flags, read as the kernel would read them, so that a bad pointer
 * is the kernel's to report (EFAULT) when the call is made.  A kernel built
 * without CONFIG_CROSS_MEMORY_ATTACH has no process_vm_readv(): then the
 * flags are read directly, and a bad pointer raises SIGSEGV (a host-side
 * fault) instead of failing the call with EFAULT.
 */
static bool clone3_flags(uint64_t uargs, uint64_t size, uint64_t *flags)
{
	struct iovec local = { flags, sizeof(*flags) };
	struct iovec remote = { (void *)(uintptr_t)uargs, sizeof(*flags) };
	long pid, r;

	if (size < sizeof(*flags))
		return false;
	pid = dune_raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
	r = dune_raw_syscall6(SYS_process_vm_readv, pid, (long)&local, 1, (long)&remote, 1, 0);
	if (r == -ENOSYS && uargs && uargs < (1ULL << 47) - sizeof(*flags)) {
		*flags = *(volatile uint64_t *)(uintptr_t)uargs;
		return true;
	}
	return r == (long)sizeof(*flags);
}

/*
 * Called by the SYSCALL entry in ring 0 for clone and clone3, on the
 * caller's stack below its red zone, with the caller's registers in @tf
 * (vector = the call number, rip = the return address, rflags = R11, rsp =
 * the caller's).  The verdict goes in tf->err: 0 to make the call as it is,
 * 1 to make it for a child that enters Dune mode (tf->rcx = the child's
 * region), or a negative errno to return without making it.
 */
void __dune_clone_prepare(struct dune_tf *tf)
{
	struct dune_percpu *pc;
	uint64_t flags;
	uint32_t mxcsr;
	uint16_t fcw;
	int err = -ENOMEM;

	/* The caller's, before any C code can change them (callee-saved in the ABI). */
	__asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fcw));

	tf->err = 0;
	if ((uint32_t)tf->vector == NR_clone)	/* the kernel uses EAX too */
		flags = tf->rdi;
	else if (!clone3_flags(tf->rdi, tf->rsi, &flags))
		return;
	if (!(flags & CLONE_VM_FLAG) || (flags & CLONE_VFORK_FLAG) || !dune_state.initialized)
		return;

	pc = dune_percpu_get(-1, &err);
	if (!pc) {
		tf->err = (uint64_t)(long)err;
		return;
	}
	dune_percpu_prepare_enter(pc);
	memset(&pc->clone_regs, 0, sizeof(pc->clone_regs));
	pc->clone_regs.rip = tf->rip;
	pc->clone_regs.rcx = tf->rip;
	pc->clone_regs.rflags = tf->rflags;
	pc->clone_regs.r11 = tf->rflags;
	pc->clone_parent_rsp = tf->rsp;
	pc->clone_call_rsp = 0;
	pc->clone_set_fs = !(flags & CLONE_SETTLS_FLAG);
	pc->clone_fs = rdmsr_fs();
	pc->clone_mxcsr = mxcsr;
	pc->clone_fcw = fcw;
	tf->rcx = pc->self;
	tf->err = 1;
}

static void say_errno(long err)
{
	char num[24];

	switch (-err) {
	case EINVAL:
		dune_host_puts("EINVAL (the initial state was refused)");
		return;
	case EBUSY:
		dune_host_puts("EBUSY (the thread is in Dune mode already)");
		return;
	case EIO:
		dune_host_puts("EIO (the VM belongs to another process)");
		return;
	case EBADF:
		dune_host_puts("EBADF (the VM's file descriptor is closed)");
		return;
	case ENOMEM:
		dune_host_puts("ENOMEM");
		return;
	default:
		dune_host_puts("errno ");
		dune_host_puts(dune_fmt_dec(num + sizeof(num), (unsigned long)-err));
	}
}

/*
 * The child, natively on its region's ring-0 stack, its registers saved in
 * pc->clone_regs by entry.S.  Enter Dune mode (from the region's host stack)
 * and resume the caller's code there, or say why not and end the process
 * with SIGSEGV.
 */
void __dune_clone_child_host(struct dune_percpu *pc)
{
	char num[24];
	long tid = dune_raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	long r;

	__atomic_store_n(&pc->owner_tid, (int)tid, __ATOMIC_RELEASE);
	/* No stack of its own: the caller's, as natively. */
	if (pc->clone_regs.rsp == pc->clone_call_rsp)
		pc->clone_regs.rsp = pc->clone_parent_rsp;
	/* Without CLONE_SETTLS the parent's FS base, which Dune mode may have changed. */
	if (pc->clone_set_fs)
		dune_raw_syscall6(SYS_arch_prctl, 0x1002 /* ARCH_SET_FS */, (long)pc->clone_fs,
				  0, 0, 0, 0);

	r = __dune_enter(dune_state.vm_fd, &pc->enter, pc->host_stack_top, KVM_DUNE_ENTER);
	if (r) {
		dune_host_puts("libdune: thread ");
		dune_host_puts(dune_fmt_dec(num + sizeof(num), (unsigned long)tid));
		dune_host_puts(" made by clone() in Dune mode could not enter Dune mode: "
			       "KVM_DUNE_ENTER: ");
		say_errno(r);
		dune_host_puts("; terminating with SIGSEGV\n");
		dune_kill_segv();
	}

	/* Dune mode, ring 0, still on the ring-0 stack; __dune_guest_setup has run. */
	pc->entered = 1;
	__asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(pc->clone_mxcsr), "m"(pc->clone_fcw));
	__dune_clone_resume(pc);
}
