// SPDX-License-Identifier: MIT
/*
 * guest_selftest: exercise libdune's guest-mode paths on a kernel with Dune
 * mode.  TAP output; exit 4 (kselftest "skip") where Dune mode is missing.
 *
 * Covers: entry, system calls from ring 0, errno, mmap in Dune mode, the
 * page-fault handler with dune_vm_protect, #BP/#UD handlers, the red zone
 * and the vector registers across a trap, hardware A/D bits, ring 3
 * (passthrough syscall, exit via the syscall handler, fault on a
 * supervisor page, INT3, VMCALL -> #UD), pthread_create auto-entry, fork,
 * host-side signals, the TLB shootdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tap.h"
#include "dune.h"

#define RWX (DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X)

uint64_t dune_test_redzone_probe(void);
uint64_t dune_test_xmm_probe(void);

/* Leaf functions that keep data where a trap must not touch it. */
__asm__(".text\n"
	".globl dune_test_redzone_probe\n"
	"dune_test_redzone_probe:\n"
	"	movabsq $0x1111111111111111, %rax\n"
	"	movq %rax, -8(%rsp)\n"
	"	movq %rax, -48(%rsp)\n"
	"	movq %rax, -128(%rsp)\n"
	"	int3\n"
	"	movq -8(%rsp), %rax\n"
	"	andq -48(%rsp), %rax\n"
	"	andq -128(%rsp), %rax\n"
	"	ret\n"
	".globl dune_test_xmm_probe\n"
	"dune_test_xmm_probe:\n"
	"	movabsq $0x2222222222222222, %rax\n"
	"	movq %rax, %xmm0\n"
	"	int3\n"
	"	movq %xmm0, %rax\n"
	"	ret\n");

static volatile int pf_count, bp_count, ud_count, sig_count;
static volatile uintptr_t user_fault_addr;
static char *prot_page;
static uint64_t supervisor_only_var = 0x1234;

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void)fec;
	if ((tf->cs & 3) == 3) {
		user_fault_addr = addr;
		dune_ret_from_user(-EFAULT);
	}
	if (addr >= (uintptr_t)prot_page && addr < (uintptr_t)prot_page + 4096) {
		pf_count++;
		dune_vm_protect(dune_vm_current(), prot_page, 4096, RWX);
		return;
	}
	dune_fatal_trap(tf);
}

static void bp_handler(struct dune_tf *tf)
{
	bp_count++;
	/* a handler is ordinary C: it may use vector registers */
	__asm__ volatile("pxor %%xmm0, %%xmm0" : : : "xmm0");
	(void)tf;
}

static void ud_handler(struct dune_tf *tf)
{
	ud_count++;
	if ((tf->cs & 3) == 3)
		dune_ret_from_user(-ENOSYS);
	tf->rip += 2;	/* ud2 */
}

static void sys_handler(struct dune_tf *tf)
{
	if (tf->rax == SYS_exit)
		dune_ret_from_user((long)tf->rdi);
	dune_passthrough_syscall(tf);
}

static void on_sigusr1(int sig)
{
	(void)sig;
	sig_count++;
}

static void *thread_fn(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)(dune_in_guest() ? 1 : 2);
}

static int is_amd(void)
{
	unsigned int a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	/* AuthenticAMD, HygonGenuine */
	return (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) ||
	       (b == 0x6f677948 && d == 0x6e65476e && c == 0x656e6975);
}

/* Run @code (copied to a user page) at CPL 3 with a user stack. */
static long run_user(const unsigned char *code, size_t len)
{
	static char *page, *stack;
	struct dune_tf tf;

	if (!page) {
		page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		stack = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		dune_vm_protect(dune_vm_current(), stack, 16384,
				DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_U);
	}
	/*
	 * Ring 0 runs with CR0.WP set: it cannot write to a page that the
	 * guest page tables map read-only, so open the code page for the copy
	 * and make it read-only (and ring-3 executable) again afterwards.
	 */
	dune_vm_protect(dune_vm_current(), page, 4096, DUNE_PERM_R | DUNE_PERM_W);
	memcpy(page, code, len);
	dune_vm_protect(dune_vm_current(), page, 4096, DUNE_PERM_R | DUNE_PERM_X | DUNE_PERM_U);
	dune_init_user_tf(&tf, (uintptr_t)page, (uintptr_t)stack + 16384);
	return dune_jump_to_user(&tf);
}

/* The thread's GS base is ring 3's: arch_prctl(ARCH_SET_GS) sets it. */
static void test_ring3_gs(void)
{
	/* mov %gs:0, %rdi; exit(rdi) */
	static const unsigned char read_gs_exit[] = {
		0x65, 0x48, 0x8b, 0x3c, 0x25, 0, 0, 0, 0,
		0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe,
	};
	/* arch_prctl(ARCH_SET_GS, addr) made by ring 3, then the same */
	unsigned char set_gs[64] = {
		0xb8, 158, 0, 0, 0,		/* mov $158, %eax */
		0xbf, 0x01, 0x10, 0, 0,		/* mov $0x1001, %edi */
		0x48, 0xbe,			/* movabs $addr, %rsi */
	};
	uint64_t *gs_page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long base = 1;
	uint64_t addr;

	dune_vm_protect(dune_vm_current(), gs_page, 8192,
			DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_U);
	gs_page[0] = 0x600dcafe;
	gs_page[512] = 0x5ca1ab1e;
	is(syscall(SYS_arch_prctl, ARCH_SET_GS, gs_page), 0L, "ring 0: arch_prctl(ARCH_SET_GS)");
	is(run_user(read_gs_exit, sizeof(read_gs_exit)), 0x600dcafeL,
	   "... sets ring 3's GS base");
	syscall(SYS_arch_prctl, ARCH_GET_GS, &base);
	is(base, (unsigned long)gs_page, "... and the thread's (ARCH_GET_GS)");
	addr = (uint64_t)(uintptr_t)&gs_page[512];
	memcpy(set_gs + 12, &addr, 8);
	memcpy(set_gs + 20, "\x0f\x05", 2);
	memcpy(set_gs + 22, read_gs_exit, sizeof(read_gs_exit));
	is(run_user(set_gs, 22 + sizeof(read_gs_exit)), 0x5ca1ab1eL,
	   "ring 3: arch_prctl(ARCH_SET_GS) passed through sets its own GS base");
	ok(dune_in_guest() && syscall(SYS_getpid) == getpid(), "ring 0's GS base is still libdune's");
	syscall(SYS_arch_prctl, ARCH_SET_GS, 0UL);
}

static void test_ring3(void)
{
	/* getpid; exit(pid) */
	static const unsigned char getpid_exit[] = {
		0xb8, 0x27, 0, 0, 0,		/* mov $39, %eax */
		0x0f, 0x05,			/* syscall */
		0x48, 0x89, 0xc7,		/* mov %rax, %rdi */
		0xb8, 0x3c, 0, 0, 0,		/* mov $60, %eax */
		0x0f, 0x05,			/* syscall */
		0xeb, 0xfe,			/* jmp . */
	};
	/* int3; exit(7) */
	static const unsigned char bp_exit[] = {
		0xcc,
		0xbf, 7, 0, 0, 0,		/* mov $7, %edi */
		0xb8, 0x3c, 0, 0, 0,
		0x0f, 0x05,
		0xeb, 0xfe,
	};
	/*
	 * The vendor's hypercall: VMCALL (0f 01 c1) on Intel, VMMCALL
	 * (0f 01 d9) on AMD.  The other vendor's instruction is emulated by
	 * KVM (at CPL 3 AMD's KVM raises #GP for VMCALL), so it is not tested.
	 */
	unsigned char vmcall[] = { 0x0f, 0x01, is_amd() ? 0xd9 : 0xc1, 0xeb, 0xfe };
	unsigned char load[16] = { 0x48, 0xa1 };	/* movabs addr, %rax */
	uintptr_t addr = (uintptr_t)&supervisor_only_var;
	int bp_before = bp_count;

	dune_register_syscall_handler(sys_handler);
	is(run_user(getpid_exit, sizeof(getpid_exit)), (long)getpid(),
	   "ring 3: getpid passed through, exit via the syscall handler");
	memcpy(load + 2, &addr, 8);
	load[10] = 0xeb;
	load[11] = 0xfe;
	is(run_user(load, 12), (long)-EFAULT, "ring 3: load from a supervisor page faults");
	is(user_fault_addr, addr, "... at the right address");
	is(run_user(bp_exit, sizeof(bp_exit)), 7L, "ring 3: INT3 handled, then exit(7)");
	is(bp_count, bp_before + 1, "... the #BP handler ran once");
	is(run_user(vmcall, sizeof(vmcall)), (long)-ENOSYS, "ring 3: VMCALL/VMMCALL raises #UD");
	test_ring3_gs();
}

int main(void)
{
	struct sigaction sa;
	struct timespec ts;
	pthread_t t;
	void *ret;
	pid_t pid;
	int r, status;
	char *p;
	int64_t bits;

	r = dune_init_and_enter();
	if (r) {
		printf("1..0 # SKIP cannot enter Dune mode: %s\n",
		       dune_last_error()[0] ? dune_last_error() : dune_strerror(r));
		return 4;
	}
	ok(1, "dune_init_and_enter");
	ok(dune_in_guest(), "running in Dune mode ring 0");
	is(syscall(SYS_getpid), (long)getpid(), "system calls from ring 0");
	errno = 0;
	ok(open("/nonexistent/libdune", O_RDONLY) < 0 && errno == ENOENT,
	   "a failing system call sets errno");
	ok(clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec + ts.tv_nsec > 0,
	   "clock_gettime (vDSO)");
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(p != MAP_FAILED, "mmap in Dune mode");
	if (p != MAP_FAILED) {
		memset(p, 0x5a, 1 << 20);
		ok(p[12345] == 0x5a, "new memory is usable from the guest");
	}

	dune_register_pgflt_handler(pgflt);
	dune_register_intr_handler(3, bp_handler);
	dune_register_intr_handler(6, ud_handler);

	prot_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	prot_page[0] = 1;
	is(dune_vm_protect(dune_vm_current(), prot_page, 4096, DUNE_PERM_R), 0,
	   "write-protect a page in the guest page tables");
	prot_page[8] = 2;
	ok(pf_count == 1 && prot_page[8] == 2, "#PF handler ran once and the write landed");

	__asm__ volatile("int3");
	is(bp_count, 1, "#BP handler");
	__asm__ volatile("ud2");
	is(ud_count, 1, "#UD handler skipped the instruction");
	is(dune_test_redzone_probe(), 0x1111111111111111ULL,
	   "a trap leaves the interrupted red zone alone");
	is(dune_test_xmm_probe(), 0x2222222222222222ULL,
	   "a trap preserves XMM registers the handler uses");

	/* hardware D bit */
	dune_vm_test_and_clear(dune_vm_current(), prot_page, DUNE_PTE_D);
	dune_flush_tlb_one(prot_page);
	prot_page[100] = 3;
	bits = dune_vm_test_and_clear(dune_vm_current(), prot_page, DUNE_PTE_D);
	is(bits, (int64_t)DUNE_PTE_D, "the CPU sets D in libdune's page table");

	test_ring3();

	ok(pthread_create(&t, NULL, thread_fn, NULL) == 0 && pthread_join(t, &ret) == 0 &&
	   ret == (void *)1, "a new thread enters Dune mode");

	pid = fork();
	if (pid == 0)
		_exit(dune_in_guest() ? 1 : 42);
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 42, "fork: the child runs natively");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigaction(SIGUSR1, &sa, NULL);
	kill(getpid(), SIGUSR1);
	ok(sig_count == 1 && dune_in_guest(), "a host-side signal handler ran, back in the guest");
	is(dune_tlb_shootdown(), 0, "TLB shootdown");
	return tap_done();
}
