// SPDX-License-Identifier: MIT
/*
 * Traps and system calls in Dune mode: the C side of the IDT stubs and of
 * the ring-3 SYSCALL entry, the default (fatal) handler, and hypercalls.
 *
 * Everything here that runs from a trap uses no libc: it may run on an IST
 * stack, with a broken stack below it, or while libc holds a lock.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "internal.h"

static dune_intr_cb intr_cbs[256];

/* Used by entry.S: the FPU save area below each trap frame. */
uint64_t __dune_xsave_size HIDDEN = 512 + 64;
uint32_t __dune_use_xsave HIDDEN;
uint32_t __dune_default_mxcsr HIDDEN = 0x1f80;

/* Clean FPU state for ring 3: FCW 0x37f, MXCSR 0x1f80, all else 0. */
uint8_t __dune_fpu_init_area[576] HIDDEN __attribute__((aligned(64)));

/* Size the save area for XSAVE of every feature the process has enabled. */
void dune_fpu_init(void)
{
	unsigned int eax, ebx, ecx, edx;
	uint16_t fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;

	memset(__dune_fpu_init_area, 0, sizeof(__dune_fpu_init_area));
	memcpy(__dune_fpu_init_area, &fcw, sizeof(fcw));
	memcpy(__dune_fpu_init_area + 24, &mxcsr, sizeof(mxcsr));

	__asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
	if (!(ecx & (1u << 27)))	/* OSXSAVE */
		return;
	__asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx)
			 : "a"(0xd), "c"(0));
	if (ebx < 576)
		return;
	__dune_xsave_size = ebx + 64;
	__dune_use_xsave = 1;
}
static dune_pgflt_cb pgflt_cb;
static dune_syscall_cb syscall_cb;

/* ---- hypercalls ---- */

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/*
 * A Linux system call from Dune ring 0: nr in RAX, arguments in RDI RSI RDX
 * R10 R8 R9, result in RAX; the host preserves every other register.
 */
long dune_hypercall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	struct dune_percpu *pc = dune_cur_pc();
	long ret;

	if (dune_state.amd)
		__asm__ volatile("vmmcall"
				 : "=a"(ret)
				 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
				 : "memory");
	else
		__asm__ volatile("vmcall"
				 : "=a"(ret)
				 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
				 : "memory");
	/*
	 * After arch_prctl the kernel may have copied the thread's GS base
	 * into the guest; the GS base in ring 0 is libdune's.  The thread's
	 * GS base is ring 3's, which waits in KERNEL_GS_BASE while ring 0 runs.
	 */
	if (nr == NR_arch_prctl && pc) {
		if (a1 == ARCH_SET_GS && ret == 0)
			wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)a2);
		wrmsr(MSR_GS_BASE, pc->self);
	}
	return ret;
}

DUNE_API long dune_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	/* In ring 0 we are in a Dune guest, where VMCALL is the only way. */
	if (dune_cpu_in_ring0())
		return dune_hypercall(nr, a1, a2, a3, a4, a5, a6);
	return dune_raw_syscall6(nr, a1, a2, a3, a4, a5, a6);
}

/* ---- output without libc ---- */

void dune_raw_write(int fd, const char *s, size_t n)
{
	while (n) {
		long r = dune_syscall(SYS_write, fd, (long)s, (long)n, 0, 0, 0);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

void dune_raw_puts(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	dune_raw_write(2, s, n);
}

void dune_fmt_hex(char *out, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = digits - 1; i >= 0; i--) {
		out[i] = hex[v & 0xf];
		v >>= 4;
	}
	out[digits] = '\0';
}

struct outbuf {
	char buf[1024];
	size_t len;
};

static void ob_str(struct outbuf *ob, const char *s)
{
	while (*s && ob->len < sizeof(ob->buf))
		ob->buf[ob->len++] = *s++;
}

static void ob_hex(struct outbuf *ob, const char *name, uint64_t v)
{
	char hex[20];

	ob_str(ob, name);
	ob_str(ob, " 0x");
	dune_fmt_hex(hex, v, 16);
	ob_str(ob, hex);
}

static void ob_dec(struct outbuf *ob, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ob_str(ob, &tmp[i]);
}

static const char *const vector_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "coprocessor segment overrun", "#TS", "#NP", "#SS", "#GP", "#PF", "reserved",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "reserved", "reserved",
	"reserved", "reserved", "reserved", "reserved", "#HV", "#VC", "#SX", "reserved",
};

int dune_vector_signal(unsigned int vector)
{
	switch (vector) {
	case 0: case 7: case 9: case 16: case 19:
		return SIGFPE;
	case 1: case 3:
		return SIGTRAP;
	case 6:
		return SIGILL;
	case 2: case 11: case 12: case 17: case 18:
		return SIGBUS;
	case DUNE_VEC_SYSCALL:
		return SIGSYS;
	default:
		return SIGSEGV;
	}
}

static void dump_frame(const struct dune_tf *tf, uint64_t cr2, const char *why)
{
	struct outbuf ob;

	ob.len = 0;
	ob_str(&ob, "libdune: ");
	if (why) {
		ob_str(&ob, why);
		ob_str(&ob, "\n  ");
	}
	if (tf->vector == DUNE_VEC_SYSCALL) {
		ob_str(&ob, "ring-3 syscall ");
		ob_dec(&ob, tf->rax);
		ob_str(&ob, " without a syscall handler");
	} else {
		ob_str(&ob, "trap vector ");
		ob_dec(&ob, tf->vector);
		if (tf->vector < 32) {
			ob_str(&ob, " (");
			ob_str(&ob, vector_names[tf->vector]);
			ob_str(&ob, ")");
		}
		ob_str(&ob, " in ring ");
		ob_dec(&ob, tf->cs & 3);
	}
	ob_str(&ob, "\n ");
	ob_hex(&ob, " rip", tf->rip);
	ob_hex(&ob, " err", tf->err);
	ob_hex(&ob, " cr2", cr2);
	ob_str(&ob, "\n ");
	ob_hex(&ob, " cs ", tf->cs);
	ob_hex(&ob, " ss ", tf->ss);
	ob_hex(&ob, " rfl", tf->rflags);
	ob_str(&ob, "\n ");
	ob_hex(&ob, " rsp", tf->rsp);
	ob_hex(&ob, " rbp", tf->rbp);
	ob_hex(&ob, " rax", tf->rax);
	ob_str(&ob, "\n ");
	ob_hex(&ob, " rbx", tf->rbx);
	ob_hex(&ob, " rcx", tf->rcx);
	ob_hex(&ob, " rdx", tf->rdx);
	ob_str(&ob, "\n ");
	ob_hex(&ob, " rsi", tf->rsi);
	ob_hex(&ob, " rdi", tf->rdi);
	ob_hex(&ob, " r8 ", tf->r8);
	ob_str(&ob, "\n ");
	ob_hex(&ob, " r9 ", tf->r9);
	ob_hex(&ob, " r10", tf->r10);
	ob_hex(&ob, " r11", tf->r11);
	ob_str(&ob, "\n ");
	ob_hex(&ob, " r12", tf->r12);
	ob_hex(&ob, " r13", tf->r13);
	ob_hex(&ob, " r14", tf->r14);
	ob_str(&ob, "\n ");
	ob_hex(&ob, " r15", tf->r15);
	ob_str(&ob, "\n");
	dune_raw_write(2, ob.buf, ob.len);
}

DUNE_API void dune_dump_trap_frame(const struct dune_tf *tf)
{
	dump_frame(tf, dune_cpu_in_ring0() ? read_cr2() : 0, NULL);
}

/*
 * End the process as the native fault would have: reset the signal to its
 * default action, unblock it and send it to this thread.  The kernel
 * delivers it before the guest runs again; exit_group is the fallback.
 */
static void die_with_signal(int sig) __attribute__((noreturn));
static void die_with_signal(int sig)
{
	struct { unsigned long handler, flags, restorer, mask; } sa = { 0, 0, 0, 0 };
	unsigned long set = 1UL << (sig - 1);
	long pid = dune_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	long tid = dune_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);

	dune_syscall(SYS_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0);
	dune_syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, 8, 0, 0);
	dune_syscall(SYS_tgkill, pid, tid, sig, 0, 0, 0);
	for (;;)
		dune_syscall(SYS_exit_group, 128 + sig, 0, 0, 0, 0, 0);
}

static void fatal(struct dune_tf *tf, uint64_t cr2, const char *why)
	__attribute__((noreturn));
static void fatal(struct dune_tf *tf, uint64_t cr2, const char *why)
{
	dump_frame(tf, cr2, why);
	die_with_signal(dune_vector_signal((unsigned int)tf->vector));
}

DUNE_API void dune_fatal_trap(struct dune_tf *tf)
{
	fatal(tf, dune_cpu_in_ring0() ? read_cr2() : 0, NULL);
}

/* ---- dispatch (called from entry.S) ---- */

void __dune_trap_dispatch(struct dune_tf *tf)
{
	uint64_t cr2 = tf->vector == 14 ? read_cr2() : 0;
	unsigned int vec = (unsigned int)tf->vector & 0xff;
	dune_pgflt_cb pf;
	dune_intr_cb cb;

	if ((tf->cs & 3) == 0 && tf->rip >= (uint64_t)(uintptr_t)__dune_trap_move &&
	    tf->rip < (uint64_t)(uintptr_t)__dune_trap_move_end)
		fatal(tf, cr2, "exception while moving a trap frame to the interrupted "
		      "stack: that stack is not writable (overflow?)");

	if (vec == 14) {
		pf = __atomic_load_n(&pgflt_cb, __ATOMIC_ACQUIRE);
		if (pf) {
			pf(cr2, tf->err, tf);
			return;
		}
	}
	cb = __atomic_load_n(&intr_cbs[vec], __ATOMIC_ACQUIRE);
	if (cb) {
		cb(tf);
		return;
	}
	fatal(tf, cr2, NULL);
}

void __dune_syscall_dispatch(struct dune_tf *tf)
{
	dune_syscall_cb cb = __atomic_load_n(&syscall_cb, __ATOMIC_ACQUIRE);

	if (cb) {
		cb(tf);
		return;
	}
	fatal(tf, 0, NULL);
}

/* ---- registration ---- */

DUNE_API int dune_register_intr_handler(int vector, dune_intr_cb cb)
{
	if (vector < 0 || vector > 255)
		return -EINVAL;
	__atomic_store_n(&intr_cbs[vector], cb, __ATOMIC_RELEASE);
	return 0;
}

DUNE_API int dune_register_pgflt_handler(dune_pgflt_cb cb)
{
	__atomic_store_n(&pgflt_cb, cb, __ATOMIC_RELEASE);
	return 0;
}

DUNE_API int dune_register_syscall_handler(dune_syscall_cb cb)
{
	__atomic_store_n(&syscall_cb, cb, __ATOMIC_RELEASE);
	return 0;
}

/* ---- ring 3 ---- */

DUNE_API void dune_passthrough_syscall(struct dune_tf *tf)
{
	tf->rax = (uint64_t)dune_hypercall((long)tf->rax, (long)tf->rdi, (long)tf->rsi,
					   (long)tf->rdx, (long)tf->r10, (long)tf->r8,
					   (long)tf->r9);
}

DUNE_API void dune_init_user_tf(struct dune_tf *tf, uintptr_t rip, uintptr_t rsp)
{
	memset(tf, 0, sizeof(*tf));
	tf->rip = rip;
	tf->rsp = rsp;
	tf->cs = USER_CS_SEL;
	tf->ss = USER_DS_SEL;
	tf->rflags = RFLAGS_IF | 0x2;
}
