/* SPDX-License-Identifier: MIT */
/*
 * libdune's low-level entry and exit paths.
 *
 *  __dune_enter		KVM_DUNE_ENTER from a private host stack
 *  __dune_guest_setup		first thing in the guest: TR, IOPL, MSRs, GS
 *  __dune_syscall_intel/amd	LSTAR: SYSCALL in ring 0 -> VMCALL/VMMCALL,
 *				SYSCALL in ring 3 -> the syscall handler
 *  __dune_trap_stubs		256 IDT stubs -> struct dune_tf -> C handler
 *  dune_jump_to_user		IRETQ to ring 3
 *  dune_ret_from_user		back to the dune_jump_to_user caller
 *
 * Ring 0 vs ring 3 at SYSCALL: the instruction does not say where it came
 * from and ring 3 controls RSP and its own GS base.  libdune runs ring 0
 * with RFLAGS.IOPL = 3 and ring 3 with IOPL = 0 (which ring 3 cannot
 * change: POPF and IRET at CPL 3 leave IOPL alone), so R11 (the caller's
 * RFLAGS) tells them apart without touching memory.  GS follows the usual
 * SWAPGS discipline: in ring 0 the GS base is this thread's struct
 * dune_percpu, in ring 3 it is ring 3's own and the percpu pointer waits
 * in KERNEL_GS_BASE.  The C code never uses GS.
 *
 * Red zone: the application's ring-0 code is ordinary user code that may
 * keep data in the 128 bytes below RSP.  The SYSCALL entry skips them before
 * it pushes anything, and every exception except #DF/NMI/#MC arrives on a
 * small IST stack and is copied at once below the interrupted red zone
 * (or to the ring-0 stack when it came from ring 3), so that handlers may
 * nest and fault again.
 */
#include "internal.h"

/* Push/pop the general-purpose registers in struct dune_tf order. */
.macro PUSH_GPRS
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %rcx
	pushq %rax
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
.endm

.macro POP_GPRS
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rax
	popq %rcx
	popq %rdx
	popq %rsi
	popq %rdi
.endm

/*
 * Call \func(tf) with RSP = tf (16-byte aligned), preserving the interrupted
 * code's x87/SSE/AVX/... state: handlers are ordinary C and libc's string
 * functions use vector registers.  XSAVE (or FXSAVE without XSAVE) to a
 * 64-byte aligned area below the frame; handlers entered from ring 3 start
 * with a clean x87/MXCSR environment.  RBX (saved in tf) keeps tf.
 */
.macro CALL_C_SAVING_FPU func
	movq %rsp, %rbx
	subq __dune_xsave_size(%rip), %rsp
	andq $-64, %rsp
	cmpl $0, __dune_use_xsave(%rip)
	je 1f
	/* XRSTOR wants a clean header (XCOMP_BV and reserved bytes zero). */
	xorl %eax, %eax
	movq %rax, 512(%rsp)
	movq %rax, 520(%rsp)
	movq %rax, 528(%rsp)
	movq %rax, 536(%rsp)
	movq %rax, 544(%rsp)
	movq %rax, 552(%rsp)
	movq %rax, 560(%rsp)
	movq %rax, 568(%rsp)
	movl $-1, %eax
	movl $-1, %edx
	xsave64 (%rsp)
	jmp 2f
1:
	fxsave64 (%rsp)
2:
	testb $3, TF_CS(%rbx)
	jz 3f
	fninit
	ldmxcsr __dune_default_mxcsr(%rip)
3:
	movq %rbx, %rdi
	call \func
	cmpl $0, __dune_use_xsave(%rip)
	je 4f
	movl $-1, %eax
	movl $-1, %edx
	xrstor64 (%rsp)
	jmp 5f
4:
	fxrstor64 (%rsp)
5:
	movq %rbx, %rsp
.endm

/*
 * The FS base on entry from ring 3: ring 0's, saved by dune_jump_to_user(),
 * is loaded before any C code (which uses TLS) runs, whatever ring 3 did
 * with WRFSBASE.  With its own FS base (dune_set_user_fs) ring 3's is saved
 * first and loaded again on the way back; without, ring 3 runs on ring 0's
 * and what it changes lasts until its next trap or system call.  GS is ring
 * 0's (after SWAPGS).  Clobbers RAX, RCX, RDX, which the callers have saved
 * in the trap frame.
 */
.macro FS_TO_KERNEL
	movl $MSR_FS_BASE, %ecx
	cmpq $0, %gs:PC_USER_FS_ON
	je .Lfs_k_load\@
	rdmsr
	movl %eax, %gs:PC_USER_FS
	movl %edx, %gs:PC_USER_FS+4
.Lfs_k_load\@:
	movl %gs:PC_KERNEL_FS, %eax
	movl %gs:PC_KERNEL_FS+4, %edx
	wrmsr
.endm

.macro FS_TO_USER
	cmpq $0, %gs:PC_USER_FS_ON
	je .Lfs_u_done\@
	movl $MSR_FS_BASE, %ecx
	movl %gs:PC_USER_FS, %eax
	movl %gs:PC_USER_FS+4, %edx
	wrmsr
.Lfs_u_done\@:
.endm

.macro FUNC name, vis
	.globl \name
	.ifnc \vis,default
	.\vis \name
	.endif
	.type \name, @function
\name:
.endm

.macro ENDF name
	.size \name, . - \name
.endm

	.text

/*
 * long __dune_enter(int vm_fd, struct kvm_dune_enter *e,
 *		     uint64_t host_stack_top, unsigned long cmd)
 *
 * Fill in e->regs so that the guest starts at .Lin_guest on the caller's
 * stack with the caller's callee-saved registers, switch to the private host
 * stack and make the ioctl.  An error (the thread did not enter) returns it
 * on the caller's stack.  A return of 0 means the thread has left Dune
 * mode: report it and end the process.
 */
	.balign 16
FUNC __dune_enter, hidden
	movq %rbx, E_RBX(%rsi)
	movq %rbp, E_RBP(%rsi)
	movq %r12, E_R12(%rsi)
	movq %r13, E_R13(%rsi)
	movq %r14, E_R14(%rsi)
	movq %r15, E_R15(%rsi)
	leaq .Lin_guest(%rip), %rax
	movq %rax, E_RIP(%rsi)
	movq %rsp, E_RSP(%rsi)
	movq %rsp, %rbx			/* the caller's stack, kept by the syscall */
	movq %rsi, %r12			/* e */
	movq %rdx, %rsp			/* the private host stack */
	movq %rsi, %rdx			/* ioctl(vm_fd, cmd, e) */
	movq %rcx, %rsi
	movl $NR_ioctl, %eax
	syscall
	testq %rax, %rax
	jnz .Lenter_failed
	movq %r12, %rdi
	andq $-16, %rsp
	call __dune_left_guest
	ud2
.Lenter_failed:
	movq %rbx, %rsp
	movq E_RBX(%r12), %rbx
	movq E_R12(%r12), %r12
	ret

.Lin_guest:
	/* Dune mode, ring 0; RDI = percpu and RSI = LSTAR from e->regs. */
	call __dune_guest_setup
	xorl %eax, %eax
	ret
ENDF __dune_enter

/*
 * void __dune_guest_setup(struct dune_percpu *pc, uint64_t lstar)
 *
 * IOPL 3 and IF 1, load TR, point the SYSCALL MSRs at libdune, keep the
 * thread's GS base for ring 3 and make the percpu area ring 0's GS base.
 */
	.balign 16
FUNC __dune_guest_setup, hidden
	pushq $RFLAGS_KERNEL
	popfq
	movw $GDT_TSS, %ax
	ltr %ax

	movl $MSR_STAR, %ecx
	xorl %eax, %eax
	movl $STAR_HIGH, %edx
	wrmsr

	movl $MSR_LSTAR, %ecx
	movq %rsi, %rax
	movq %rsi, %rdx
	shrq $32, %rdx
	wrmsr

	movl $MSR_CSTAR, %ecx
	leaq __dune_syscall_user(%rip), %rax
	movq %rax, %rdx
	shrq $32, %rdx
	wrmsr

	movl $MSR_SYSCALL_MASK, %ecx
	movl $SYSCALL_MASK, %eax
	xorl %edx, %edx
	wrmsr

	movl $MSR_GS_BASE, %ecx
	rdmsr
	movl $MSR_KERNEL_GS_BASE, %ecx
	wrmsr

	movl $MSR_GS_BASE, %ecx
	movq %rdi, %rax
	movq %rdi, %rdx
	shrq $32, %rdx
	wrmsr
	ret
ENDF __dune_guest_setup

/*
 * LSTAR.  SYSCALL has put the return RIP in RCX and RFLAGS in R11, cleared
 * TF/DF/NT/AC (SFMASK) and switched CS/SS, not RSP.
 *
 * From ring 0 (IOPL 3 in R11): make the call with VMCALL/VMMCALL, which
 * preserves every register but RAX, restore RFLAGS from R11 (below the red
 * zone) and return to RCX, exactly as SYSRET would leave things.  After
 * arch_prctl the kernel may have copied the thread's GS base into the
 * guest, so the percpu pointer is put back; a successful ARCH_SET_GS sets
 * the thread's GS base, which is ring 3's (KERNEL_GS_BASE here).
 *
 * If a clone/fork/vfork child of the call returns on the host side (as the
 * kernel does: the child starts from the guest's registers after the
 * VMCALL), it runs the same tail natively, which is harmless: POPF at CPL 3
 * ignores IOPL.
 */
.macro SYSCALL_ENTRY name, insn
	.balign 16
FUNC \name, hidden
	testl $RFLAGS_IOPL, %r11d
	jz __dune_syscall_user
	cmpl $NR_arch_prctl, %eax
	je 1f
	cmpl $NR_clone, %eax
	je 3f
	cmpl $NR_clone3, %eax
	je 3f
.Lcall\@:
	\insn
.Lret\@:
	leaq -128(%rsp), %rsp
	pushq %r11
	popfq
	leaq 128(%rsp), %rsp
	jmp *%rcx
3:
	/*
	 * clone, clone3: a struct dune_tf below the red zone, 16-byte
	 * aligned, for __dune_clone_prepare (see clone.c), which leaves its
	 * verdict in tf->err.
	 */
	leaq -128(%rsp), %rsp
	pushq %rbp
	movq %rsp, %rbp
	andq $-16, %rsp
	pushq $0			/* ss */
	leaq 136(%rbp), %rbp
	pushq %rbp			/* rsp: the caller's */
	pushq %r11			/* rflags */
	pushq $0			/* cs */
	pushq %rcx			/* rip */
	pushq $0			/* err */
	pushq %rax			/* vector: the call number */
	movq -136(%rbp), %rbp
	PUSH_GPRS
	CALL_C_SAVING_FPU __dune_clone_prepare
	POP_GPRS
	/* [rsp] = vector, err, rip(16), cs, rflags(32), rsp(40), ss */
	cmpq $0, 8(%rsp)
	jg 4f
	jl 5f
	/* A plain call, from the caller's stack (a vfork child uses it next). */
	movq 16(%rsp), %rcx
	movq 32(%rsp), %r11
	movq 40(%rsp), %rsp
	jmp .Lcall\@
5:
	/* Refused (no memory for the child's region): the error. */
	movq 8(%rsp), %rax
	movq 16(%rsp), %rcx
	movq 32(%rsp), %r11
	movq 40(%rsp), %rsp
	jmp .Lret\@
4:
	/* The child enters Dune mode: RCX = its region (struct dune_percpu). */
	movq %rsp, PC_CLONE_CALL_RSP(%rcx)
	\insn
	testq %rax, %rax
	jz __dune_clone_child
	jg 6f
	movl $0, PC_OWNER_TID(%rcx)	/* the call failed: the region is free */
6:
	movq 16(%rsp), %rcx
	movq 32(%rsp), %r11
	movq 40(%rsp), %rsp
	jmp .Lret\@
1:
	leaq -128(%rsp), %rsp
	pushq %rbx
	pushq %rdx
	pushq %rcx
	movq %gs:PC_SELF, %rbx
	\insn
	pushq %rax
	/* ARCH_SET_GS succeeded: that is ring 3's GS base (see GS in the docs) */
	cmpq $ARCH_SET_GS, %rdi
	jne 2f
	testq %rax, %rax
	jnz 2f
	movl $MSR_KERNEL_GS_BASE, %ecx
	movl %esi, %eax
	movq %rsi, %rdx
	shrq $32, %rdx
	wrmsr
2:
	movl $MSR_GS_BASE, %ecx
	movl %ebx, %eax
	movq %rbx, %rdx
	shrq $32, %rdx
	wrmsr
	popq %rax
	popq %rcx
	popq %rdx
	popq %rbx
	pushq %r11
	popfq
	leaq 128(%rsp), %rsp
	jmp *%rcx
ENDF \name
.endm

SYSCALL_ENTRY __dune_syscall_intel, vmcall
SYSCALL_ENTRY __dune_syscall_amd, vmmcall

/*
 * The child of a clone that __dune_clone_prepare took: natively (CS RPL 3)
 * right after the VMCALL, RAX = 0, RCX = its struct dune_percpu, every other
 * register as the parent had it at the VMCALL, RSP = its own stack (or the
 * parent's, PC_CLONE_CALL_RSP, if the call gave it none).  Save the
 * registers for __dune_clone_resume and go on, still natively, on the
 * region's ring-0 stack.  Neither this nor the C code after it touches GS,
 * FS (TLS) or the child's stack.
 */
	.balign 16
FUNC __dune_clone_child, hidden
	movl %cs, %eax
	testb $3, %al
	jz 1f
	movq %rbx, PC_CLONE_REGS+KR_RBX(%rcx)
	movq %rdx, PC_CLONE_REGS+KR_RDX(%rcx)
	movq %rsi, PC_CLONE_REGS+KR_RSI(%rcx)
	movq %rdi, PC_CLONE_REGS+KR_RDI(%rcx)
	movq %rsp, PC_CLONE_REGS+KR_RSP(%rcx)
	movq %rbp, PC_CLONE_REGS+KR_RBP(%rcx)
	movq %r8, PC_CLONE_REGS+KR_R8(%rcx)
	movq %r9, PC_CLONE_REGS+KR_R9(%rcx)
	movq %r10, PC_CLONE_REGS+KR_R10(%rcx)
	movq %r12, PC_CLONE_REGS+KR_R12(%rcx)
	movq %r13, PC_CLONE_REGS+KR_R13(%rcx)
	movq %r14, PC_CLONE_REGS+KR_R14(%rcx)
	movq %r15, PC_CLONE_REGS+KR_R15(%rcx)
	/* RAX = 0; RIP, RFLAGS, RCX and R11 are the parent's (clone.c) */
	movq PC_KSTACK(%rcx), %rsp
	movq %rcx, %rdi
	xorl %ebp, %ebp
	call __dune_clone_child_host
1:
	/*
	 * Already in Dune mode: a kernel that starts clone children in the
	 * guest, which this one never does (Documentation/virt/kvm/x86/dune.rst).
	 */
	ud2
ENDF __dune_clone_child

/*
 * void __dune_clone_resume(struct dune_percpu *pc)
 *
 * In Dune mode, ring 0: return from the clone to the caller's code with the
 * registers in pc->clone_regs and RAX = 0, as SYSRET would (IRETQ to ring 0
 * so that RSP, RFLAGS and every register are loaded at once).
 */
	.balign 16
FUNC __dune_clone_resume, hidden
	movq %rdi, %rax
	pushq $GDT_KERNEL_DS
	pushq PC_CLONE_REGS+KR_RSP(%rax)
	pushq PC_CLONE_REGS+KR_RFLAGS(%rax)
	pushq $GDT_KERNEL_CS
	pushq PC_CLONE_REGS+KR_RIP(%rax)
	movq PC_CLONE_REGS+KR_RBX(%rax), %rbx
	movq PC_CLONE_REGS+KR_RCX(%rax), %rcx
	movq PC_CLONE_REGS+KR_RDX(%rax), %rdx
	movq PC_CLONE_REGS+KR_RSI(%rax), %rsi
	movq PC_CLONE_REGS+KR_RDI(%rax), %rdi
	movq PC_CLONE_REGS+KR_RBP(%rax), %rbp
	movq PC_CLONE_REGS+KR_R8(%rax), %r8
	movq PC_CLONE_REGS+KR_R9(%rax), %r9
	movq PC_CLONE_REGS+KR_R10(%rax), %r10
	movq PC_CLONE_REGS+KR_R11(%rax), %r11
	movq PC_CLONE_REGS+KR_R12(%rax), %r12
	movq PC_CLONE_REGS+KR_R13(%rax), %r13
	movq PC_CLONE_REGS+KR_R14(%rax), %r14
	movq PC_CLONE_REGS+KR_R15(%rax), %r15
	xorl %eax, %eax
	iretq
ENDF __dune_clone_resume

/*
 * SYSCALL from ring 3 (also CSTAR).  RSP is ring 3's: take the ring-0 stack
 * from the percpu area before anything else, build a struct dune_tf as a
 * trap would and call the syscall handler.
 */
	.balign 16
FUNC __dune_syscall_user, hidden
	swapgs
	movq %rsp, %gs:PC_SCRATCH
	movq %gs:PC_KSTACK, %rsp
	pushq $USER_DS_SEL		/* ss */
	pushq %gs:PC_SCRATCH		/* rsp */
	pushq %r11			/* rflags */
	pushq $USER_CS_SEL		/* cs */
	pushq %rcx			/* rip */
	pushq $0			/* err */
	pushq $256			/* vector: DUNE_VEC_SYSCALL */
	PUSH_GPRS
	pushq $RFLAGS_KERNEL
	popfq
	FS_TO_KERNEL
	CALL_C_SAVING_FPU __dune_syscall_dispatch
	jmp .Ltrap_return
ENDF __dune_syscall_user

/*
 * The IDT stubs, 16 bytes each: push a zero error code where the CPU does
 * not push one, push the vector, go to the common code.
 */
	.balign 16
FUNC __dune_trap_stubs, hidden
.Lstubs_start:
vec = 0
	.rept 256
	/* .org fails to assemble ("move .org backwards") if a stub is too big. */
	.org .Lstubs_start + vec * 16, 0xcc
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	.if (vec == 2) || (vec == 8) || (vec == 18)
	jmp .Ltrap_stay
	.else
	jmp .Ltrap_move
	.endif
vec = vec + 1
	.endr
	.org .Lstubs_start + 256 * 16, 0xcc
ENDF __dune_trap_stubs

/*
 * On the IST_TRAMP stack: [rsp] = vector, err, rip, cs, rflags, rsp, ss.
 * Copy the frame (with RAX and RCX, our scratch registers) to the ring-0
 * stack if the trap came from ring 3, else below the interrupted red zone,
 * and continue there.  Nothing here may fault except the stores to the
 * target stack (see __dune_trap_dispatch).
 */
	.balign 16
FUNC __dune_trap_move, hidden
.Ltrap_move:
	pushq %rax
	pushq %rcx
	/* [rsp] = rcx, rax, vector, err, rip, cs(40), rflags, rsp(56), ss */
	testb $3, 40(%rsp)
	jz 1f
	swapgs
	movq %gs:PC_KSTACK, %rax
	jmp 2f
1:
	movq 56(%rsp), %rax
	subq $128, %rax
	andq $-16, %rax
2:
	subq $72, %rax
	movq 0(%rsp), %rcx
	movq %rcx, 0(%rax)
	movq 8(%rsp), %rcx
	movq %rcx, 8(%rax)
	movq 16(%rsp), %rcx
	movq %rcx, 16(%rax)
	movq 24(%rsp), %rcx
	movq %rcx, 24(%rax)
	movq 32(%rsp), %rcx
	movq %rcx, 32(%rax)
	movq 40(%rsp), %rcx
	movq %rcx, 40(%rax)
	movq 48(%rsp), %rcx
	movq %rcx, 48(%rax)
	movq 56(%rsp), %rcx
	movq %rcx, 56(%rax)
	movq 64(%rsp), %rcx
	movq %rcx, 64(%rax)
	movq %rax, %rsp
	.globl __dune_trap_move_end
	.hidden __dune_trap_move_end
__dune_trap_move_end:
	popq %rcx
	popq %rax
	jmp .Ltrap_common

/* #DF, NMI, #MC: stay on their own IST stack. */
.Ltrap_stay:
	testb $3, 24(%rsp)		/* cs */
	jz .Ltrap_common
	swapgs

/* [rsp] = vector; GS is ring 0's. */
.Ltrap_common:
	PUSH_GPRS
	pushq $RFLAGS_KERNEL		/* IOPL 3 (SYSCALLs in handlers), IF 1, DF 0 */
	popfq
	testb $3, TF_CS(%rsp)
	jz 6f
	FS_TO_KERNEL
6:
	CALL_C_SAVING_FPU __dune_trap_dispatch

.Ltrap_return:
	testb $3, TF_CS(%rsp)
	jz 6f
	FS_TO_USER
6:
	POP_GPRS
	addq $16, %rsp			/* vector, err */
	testb $3, 8(%rsp)		/* cs */
	jz 1f
	swapgs
1:
	iretq
ENDF __dune_trap_move

/*
 * long dune_jump_to_user(struct dune_tf *tf)
 *
 * Save the callee-saved registers and the previous ring-3 context, make the
 * current stack the ring-0 stack for entries from ring 3 (TSS.RSP0 too),
 * normalise tf's segments and flags and IRETQ to it.
 */
	.balign 16
FUNC dune_jump_to_user, default
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %gs:PC_KSTACK
	pushq %gs:PC_USER_CTX
	movq %rsp, %gs:PC_USER_CTX
	movq %rsp, %rax
	andq $-16, %rax
	movq %rax, %gs:PC_KSTACK
	movq %rax, %gs:PC_TSS_RSP0

	movq $USER_CS_SEL, TF_CS(%rdi)
	movq $USER_DS_SEL, TF_SS(%rdi)
	movq TF_RFLAGS(%rdi), %rax
	andq $RFLAGS_USER_KEEP, %rax
	orq $(RFLAGS_IF | 2), %rax
	movq %rax, TF_RFLAGS(%rdi)

	/* keep ring 0's FS base for the entries from ring 3; ring 3's own */
	movl $MSR_FS_BASE, %ecx
	rdmsr
	movl %eax, %gs:PC_KERNEL_FS
	movl %edx, %gs:PC_KERNEL_FS+4
	cmpq $0, %gs:PC_USER_FS_ON
	je 3f
	movl %gs:PC_USER_FS, %eax
	movl %gs:PC_USER_FS+4, %edx
	wrmsr
3:

	/*
	 * Ring 3 must not see ring 0's vector registers: reset the x87/SSE/
	 * AVX/... state (a call clobbers them anyway).  XRSTOR of a header
	 * with XSTATE_BV = 0 puts every component in its init state and loads
	 * MXCSR = 0x1f80 from the area; FXRSTOR loads the area as it is.
	 */
	cmpl $0, __dune_use_xsave(%rip)
	je 1f
	movl $-1, %eax
	movl $-1, %edx
	xrstor64 __dune_fpu_init_area(%rip)
	jmp 2f
1:
	fxrstor64 __dune_fpu_init_area(%rip)
2:
	movq %rdi, %rsp
	POP_GPRS
	addq $16, %rsp			/* vector, err */
	swapgs
	iretq
ENDF dune_jump_to_user

/*
 * void dune_ret_from_user(long ret)
 *
 * Called in ring 0 by a handler: unwind to the innermost dune_jump_to_user
 * frame and return @ret from it.
 */
	.balign 16
FUNC dune_ret_from_user, default
	movq %gs:PC_USER_CTX, %rax
	testq %rax, %rax
	jz 1f
	movq %rax, %rsp
	movq %rdi, %rax
	popq %gs:PC_USER_CTX
	popq %gs:PC_KSTACK
	movq %gs:PC_KSTACK, %rdx
	movq %rdx, %gs:PC_TSS_RSP0
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
1:
	ud2				/* no dune_jump_to_user to return to */
ENDF dune_ret_from_user

	.section .note.GNU-stack, "", @progbits
