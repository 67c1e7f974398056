// SPDX-License-Identifier: MIT
/*
 * The public API on a host without Dune mode (or before dune_init()):
 * errors are -errno with a message and nothing is left half done; the
 * host-side trampoline of KVM_DUNE_ENTER returns ioctl errors on the
 * caller's stack with its registers intact; the fault reporter formats a
 * trap frame.  If the kernel does offer Dune mode, the checks that need its
 * absence are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "tap.h"
#include "internal.h"

static void dummy_intr(struct dune_tf *tf)
{
	(void)tf;
}

static void test_before_init(void)
{
	struct dune_window w[8];
	struct dune_vm *vm = (struct dune_vm *)1;
	uint64_t pa;
	int r;

	ok(dune_vm_current() == NULL, "no page table before dune_init");
	r = dune_enter();
	is(r, -EINVAL, "dune_enter before dune_init: -EINVAL");
	ok(strstr(dune_last_error(), "dune_init") != NULL, "... and says why: %s",
	   dune_last_error());
	is(dune_get_layout(w, 8, NULL), -EINVAL, "no layout before dune_init");
	is(dune_va_to_pa(&r, &pa), -EINVAL, "no translation before dune_init");
	ok(dune_pa_to_va(0) == NULL, "no inverse translation before dune_init");
	is(dune_vm_create(&vm), -EINVAL, "no page tables before dune_init");
	is(dune_tlb_shootdown(), -EINVAL, "no shootdown before dune_init");
	{
		struct dune_pt_stats st;

		is(dune_get_pt_stats(&st), -EINVAL, "no page-table stats before dune_init");
	}
	is(dune_in_guest(), 0, "not in guest mode");
}

static void test_misc(void)
{
	struct dune_tf tf;

	ok(strstr(dune_strerror(-EOPNOTSUPP), "Dune") != NULL, "strerror(EOPNOTSUPP)");
	ok(strlen(dune_strerror(-EBUSY)) > 0 && strlen(dune_strerror(-ENOMEM)) > 0,
	   "strerror for other errors");
	is(dune_strerror(0)[0] != 0, 1, "strerror(0)");
	is(dune_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0), (long)getpid(),
	   "dune_syscall works natively outside Dune mode");
	dune_flush_tlb();
	dune_flush_tlb_one(&tf);
	ok(1, "TLB flushes are no-ops outside Dune mode");
	is(dune_enable_pcid(), -EPERM, "enable_pcid needs Dune mode");
	is(dune_invpcid(7, 0, NULL), -EINVAL, "bad INVPCID type");
	is(dune_vm_activate(NULL), -EINVAL, "activate NULL");
	is(dune_register_intr_handler(256, dummy_intr), -EINVAL, "vector 256");
	is(dune_register_intr_handler(-1, dummy_intr), -EINVAL, "vector -1");
	is(dune_register_intr_handler(3, dummy_intr), 0, "vector 3");
	is(dune_register_intr_handler(3, NULL), 0, "back to the default");

	dune_init_user_tf(&tf, 0x401000, 0x7ffd0000);
	ok(tf.rip == 0x401000 && tf.rsp == 0x7ffd0000 && tf.cs == 0x2b && tf.ss == 0x23 &&
	   tf.rflags == 0x202 && tf.rax == 0, "dune_init_user_tf");

	is(dune_vector_signal(14), SIGSEGV, "#PF -> SIGSEGV");
	is(dune_vector_signal(13), SIGSEGV, "#GP -> SIGSEGV");
	is(dune_vector_signal(6), SIGILL, "#UD -> SIGILL");
	is(dune_vector_signal(0), SIGFPE, "#DE -> SIGFPE");
	is(dune_vector_signal(3), SIGTRAP, "#BP -> SIGTRAP");
	is(dune_vector_signal(17), SIGBUS, "#AC -> SIGBUS");
	is(dune_vector_signal(DUNE_VEC_SYSCALL), SIGSYS, "ring-3 syscall -> SIGSYS");
}

static void test_dump_format(void)
{
	struct dune_tf tf;
	char buf[4096];
	int p[2], saved;
	ssize_t n;

	memset(&tf, 0, sizeof(tf));
	tf.vector = 14;
	tf.err = 6;
	tf.rip = 0x1234;
	tf.cs = 0x2b;
	tf.r15 = 0xdeadbeefcafef00dULL;
	if (pipe(p))
		return;
	saved = dup(2);
	dup2(p[1], 2);
	dune_dump_trap_frame(&tf);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	ok(strstr(buf, "vector 14 (#PF) in ring 3") != NULL, "dump names the vector and ring");
	ok(strstr(buf, "rip 0x0000000000001234") != NULL, "dump shows RIP");
	ok(strstr(buf, "err 0x0000000000000006") != NULL, "dump shows the error code");
	ok(strstr(buf, "r15 0xdeadbeefcafef00d") != NULL, "dump shows registers");
	ok(strstr(buf, "cr2") != NULL, "dump shows CR2");
}

/* The host-side trampoline: an ioctl error comes back on the caller's stack. */
static void test_enter_trampoline(void)
{
	static struct kvm_dune_enter e;
	char *stack = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	uint64_t top = (uint64_t)(uintptr_t)(stack + 65536);
	volatile unsigned long a = 1, b = 2, c = 3, d = 4, f = 5, g = 6;
	unsigned long x1 = a * 3, x2 = b * 5, x3 = c * 7, x4 = d * 11, x5 = f * 13, x6 = g * 17;
	int fd = open("/dev/null", O_RDWR);
	long r;
	char marker;

	memset(&e, 0, sizeof(e));
	r = __dune_enter(-1, &e, top, KVM_DUNE_ENTER);
	is(r, (long)-EBADF, "ENTER on a bad fd: -EBADF back on the caller's stack");
	r = __dune_enter(fd, &e, top, KVM_DUNE_ENTER);
	is(r, (long)-ENOTTY, "ENTER on /dev/null: -ENOTTY");
	ok(x1 == 3 && x2 == 10 && x3 == 21 && x4 == 44 && x5 == 65 && x6 == 102,
	   "values live across the call survive");
	ok(e.regs.rip != 0, "regs.rip points at the guest entry");
	ok(e.regs.rsp < (uint64_t)(uintptr_t)&marker &&
	   (uint64_t)(uintptr_t)&marker - e.regs.rsp < 4096,
	   "regs.rsp is the caller's stack, not the private one");
	ok(e.regs.rsp < top - 65536 || e.regs.rsp > top, "regs.rsp is outside the host stack");
	close(fd);
	munmap(stack, 65536);
}

static void test_init_without_dune(void)
{
	int p = dune_probe(), r, r2;

	if (p > 0) {
		tap_diag("this kernel offers Dune mode (ABI %d): skipping the absence checks", p);
		return;
	}
	ok(p < 0, "dune_probe: %d (%s)", p, dune_strerror(p));
	ok(dune_last_error()[0] != '\0', "probe says why: %s", dune_last_error());
	r = dune_init();
	ok(r < 0, "dune_init fails: %s", dune_last_error());
	r2 = dune_init();
	is(r2, r, "a second dune_init fails the same way (nothing half done)");
	ok(dune_vm_current() == NULL, "still no page table");
	r = dune_init_and_enter();
	ok(r < 0 && dune_in_guest() == 0, "dune_init_and_enter fails, still native");
}


static void test_fpu_init_area(void)
{
	uint16_t fcw;
	uint32_t mxcsr;
	size_t i, nonzero = 0;

	dune_fpu_init();
	memcpy(&fcw, __dune_fpu_init_area, 2);
	memcpy(&mxcsr, __dune_fpu_init_area + 24, 4);
	for (i = 512; i < 576; i++)
		nonzero += __dune_fpu_init_area[i] != 0;
	ok(fcw == 0x37f && mxcsr == 0x1f80, "ring-3 FPU init area: FCW 0x37f, MXCSR 0x1f80");
	is(nonzero, (size_t)0, "... with an all-zero XSAVE header (every component init)");
	ok(((uintptr_t)__dune_fpu_init_area & 63) == 0, "... 64-byte aligned");
}

static void *thread_fn(void *arg)
{
	return arg;
}

static void test_threads_native(void)
{
	pthread_t t;
	void *ret = NULL;

	is(dune_pthread_create(&t, NULL, thread_fn, (void *)0x77), 0,
	   "dune_pthread_create outside Dune mode");
	pthread_join(t, &ret);
	ok(ret == (void *)0x77, "the thread ran natively");
}

int main(void)
{
	test_before_init();
	test_misc();
	test_dump_format();
	test_enter_trampoline();
	test_init_without_dune();
	test_threads_native();
	test_fpu_init_area();
	return tap_done();
}
