// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bounded fuzzing of Dune mode: random KVM_DUNE_ENTER structures and random
 * ioctl sequences on the Dune VM and /dev/kvm, random instruction bytes run
 * in guest ring 0 and ring 3, random VMCALL system calls (harmless ones,
 * denied ones and invalid numbers).
 *
 * Every iteration runs in a child of its own with an alarm.  The child may
 * die of any signal or exit with any status; the test fails only when
 *  - the child outlives its alarm (a hang), or cannot be killed;
 *  - the child saw a result the documentation does not allow (an errno
 *    outside the documented set, a VMCALL that changed a register other
 *    than RAX, a kernel address in a structure read back): it then exits
 *    with FUZZ_VIOLATION and says what in the shared page;
 *  - the child died of SIGILL, SIGFPE or SIGTRAP: a guest exception that
 *    reached the host (guest exceptions go to the guest's IDT);
 *  - the kernel's taint flags change, or a warning, BUG, oops or lockdep
 *    report appears in the kernel log (/dev/kmsg), after any iteration.
 * Random system calls run under a seccomp filter that lets only harmless
 * calls and invalid numbers through.
 *
 * Knobs (environment):
 *   DUNE_FUZZ_SEED=<n>|random  the seed (default: a fixed one, so CI runs
 *                              the same cases; it is printed either way)
 *   DUNE_FUZZ_ITERS=<n>        iterations of every test
 *   DUNE_FUZZ_BUDGET=<s>       time limit of every test (default 12 s, so
 *                              the program stays under a minute on QEMU TCG)
 *   DUNE_FUZZ_ONLY=<i>         only iteration i (to reproduce a failure)
 *   DUNE_FUZZ_SKIP=<mask>      random_vmcalls: leave out VMCALL i (bit i)
 *   DUNE_FUZZ_ZERO=<mask>      random_vmcalls: zero register k (bit k, in
 *                              the order of fuzz_regs) of every VMCALL
 * Each test prints how many iterations and cases it ran, and what came of
 * them.
 *
 * Guest code must not clear RFLAGS.IF: Bochs (the vmx backend) stops
 * delivering the host's interrupts while a guest runs with IF=0.  Random
 * ring-0 bytes therefore have CLI, POPF, IRET and SYSRET replaced, entered
 * RFLAGS always have IF set, and the guest IDT uses trap gates.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "dune_test.h"

/* Child exit statuses that the parent understands */
#define FUZZ_FELL_THROUGH	50	/* ran off the end of the random bytes */
#define FUZZ_LEFT_DUNE		60	/* + exit_reason */
#define FUZZ_VIOLATION		77	/* something undocumented: a failure */
#define FUZZ_SETUP_FAILED	79	/* could not set the case up: a failure */
/* 100 + vector: an exception reached the guest IDT (EXC_EXIT) */

#define ALARM_S		2	/* child's own alarm */
#define GRACE_S		8	/* after which the parent calls it a hang */

/* ------------------------------------------------------------------------ */
/* Random numbers (xorshift64*), seeded per iteration */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool one_in(unsigned int n)
{
	return rnd_below(n) == 0;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31)) | 1;
}

/* The same cases every run unless DUNE_FUZZ_SEED says otherwise */
#define DEFAULT_SEED	0x64756e6566757a7aULL
static uint64_t base_seed;
static int iters_override, only_iter = -1;
/* DUNE_FUZZ_SKIP: VMCALLs (bit i = call i) not made */
static uint64_t skip_calls, zero_regs;
static int budget_s = 12;

static void read_env(void)
{
	const char *s = getenv("DUNE_FUZZ_SEED");
	struct timespec ts;

	if (!s) {
		base_seed = DEFAULT_SEED;
	} else if (strcmp(s, "random")) {
		base_seed = strtoull(s, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		base_seed = mix(ts.tv_sec ^ ((uint64_t)ts.tv_nsec << 20) ^ getpid());
	}
	s = getenv("DUNE_FUZZ_ITERS");
	iters_override = s ? atoi(s) : 0;
	s = getenv("DUNE_FUZZ_ONLY");	/* one iteration, to reproduce it */
	if (s)
		only_iter = atoi(s);
	s = getenv("DUNE_FUZZ_SKIP");
	if (s)
		skip_calls = strtoull(s, NULL, 0);
	s = getenv("DUNE_FUZZ_ZERO");
	if (s)
		zero_regs = strtoull(s, NULL, 0);
	s = getenv("DUNE_FUZZ_BUDGET");
	if (s && atoi(s) > 0)
		budget_s = atoi(s);
}

/* ------------------------------------------------------------------------ */
/* What the children report (a shared page) */

struct fuzz_shared {
	char msg[1024];			/* the violation */
	char desc[1024];		/* the case, for a hang or a bad signal */
	uint64_t trace[16][16];		/* the last VMCALLs: registers, result */
	long traced;
	long cases;			/* ioctls, instruction runs or VMCALLs */
	long entered;			/* times a child entered Dune mode */
	long errnos[134];		/* ioctl/syscall errors seen, by errno */
	long ok;			/* ioctls/VMCALLs that succeeded */
};

static struct fuzz_shared *sh;
static bool in_guest;	/* no libc system calls: exit with a VMCALL */

static noreturn __printf(1, 2) void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
	if (in_guest)
		guest_exit(FUZZ_VIOLATION);
	_exit(FUZZ_VIOLATION);
}

static void count_result(long r, int err)
{
	__atomic_add_fetch(&sh->cases, 1, __ATOMIC_RELAXED);
	if (r >= 0)
		__atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
	else if (err > 0 && err < 134)
		__atomic_add_fetch(&sh->errnos[err], 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------ */
/* Host health: taint flags and the kernel log */

static int kmsg_fd = -1;
static long taint_start;

static long read_taint(void)
{
	char buf[32] = "";
	int fd = open("/proc/sys/kernel/tainted", O_RDONLY);
	long t = -1;

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			t = atol(buf);
		close(fd);
	}
	return t;
}

static const char *const splat_words[] = {
	"BUG:", "WARNING:", "Oops", "general protection fault", "Call Trace:",
	"Kernel panic", "KASAN:", "UBSAN:", "circular locking", "lock state",
	"recursive locking", "list_add corruption", "list_del corruption",
	"refcount_t:", "Bad page state", "soft lockup", "hard LOCKUP",
	"rcu_sched", "self-detected stall", "blocked for more than",
	"unreferenced object", "double fault", "Unable to handle",
};

static void health_start(void)
{
	taint_start = read_taint();
	if (kmsg_fd < 0)
		kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* NULL if healthy, else what is wrong (a static buffer). */
static const char *health_problem(void)
{
	static char what[600];
	char rec[2048];
	long t = read_taint();
	ssize_t n;
	unsigned int i;

	if (t != taint_start) {
		snprintf(what, sizeof(what), "taint flags changed: %ld -> %ld",
			 taint_start, t);
		return what;
	}
	if (kmsg_fd < 0)
		return NULL;
	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			return NULL;
		rec[n] = 0;
		for (i = 0; i < ARRAY_SIZE(splat_words); i++)
			if (strstr(rec, splat_words[i])) {
				snprintf(what, sizeof(what), "kernel log: %.500s", rec);
				return what;
			}
	}
}

/* ------------------------------------------------------------------------ */
/* Guest side: trap-gate IDT whose handlers touch no memory */

/*
 * fuzz_exc_<vendor>_<n>: exit_group(100 + n) with VMCALL (i) or VMMCALL (a);
 * fuzz_exc_tables: 32 Intel entries, then 32 AMD ones.
 */
asm(".text\n"
	".altmacro\n"
	".macro fuzz_stub v, n, insn\n"
	"fuzz_exc_\\v\\()_\\n:\n"
	"	mov $231, %eax\n"
	"	mov $(100 + \\n), %edi\n"
	"	\\insn\n"
	"	jmp fuzz_exc_\\v\\()_\\n\n"
	".endm\n"
	".set i, 0\n"
	".rept 32\n"
	"	fuzz_stub i, %i, vmcall\n"
	"	fuzz_stub a, %i, vmmcall\n"
	"	.set i, i + 1\n"
	".endr\n"
	".section .rodata\n"
	".balign 8\n"
	"fuzz_exc_tables:\n"
	".macro fuzz_ptr v, n\n"
	"	.quad fuzz_exc_\\v\\()_\\n\n"
	".endm\n"
	".set i, 0\n"
	".rept 32\n"
	"	fuzz_ptr i, %i\n"
	"	.set i, i + 1\n"
	".endr\n"
	".set i, 0\n"
	".rept 32\n"
	"	fuzz_ptr a, %i\n"
	"	.set i, i + 1\n"
	".endr\n"
	".noaltmacro\n"
	".text\n");

static alignas(16) struct dune_idt_entry fuzz_idt[256];

static void setup_fuzz_idt(struct kvm_dune_enter *cfg)
{
	int i;

	dune_setup_descriptors(cfg);	/* GDT and TSS (rsp0, IST1) */
	memset(fuzz_idt, 0, sizeof(fuzz_idt));
	for (i = 0; i < 32; i++) {
		uint64_t off = fuzz_exc_tables[(dune_is_amd ? 32 : 0) + i];

		fuzz_idt[i].off0 = off & 0xffff;
		fuzz_idt[i].sel = GDT_KERNEL_CS;
		fuzz_idt[i].ist = i == 8 ? 1 : 0;
		fuzz_idt[i].type = 0x8f;	/* present, DPL 0, trap gate */
		fuzz_idt[i].off1 = (off >> 16) & 0xffff;
		fuzz_idt[i].off2 = off >> 32;
	}
	cfg->idt.base = (uint64_t)fuzz_idt;
	cfg->idt.limit = sizeof(fuzz_idt) - 1;
}

/*
 * Registers for the random code: rax rbx rcx rdx rsi rdi rbp r8-r15 (15),
 * then rsp and rip.  fuzz_ring0_go loads the TSS and jumps to the code in
 * ring 0; fuzz_ring3_go goes there with IRETQ at CPL 3 (IF set).
 */
uint64_t fuzz_regs[17];

asm(".text\n"
	".macro fuzz_load_gprs\n"
	"	mov fuzz_regs+0(%rip), %rax\n"
	"	mov fuzz_regs+8(%rip), %rbx\n"
	"	mov fuzz_regs+16(%rip), %rcx\n"
	"	mov fuzz_regs+24(%rip), %rdx\n"
	"	mov fuzz_regs+32(%rip), %rsi\n"
	"	mov fuzz_regs+40(%rip), %rdi\n"
	"	mov fuzz_regs+48(%rip), %rbp\n"
	"	mov fuzz_regs+56(%rip), %r8\n"
	"	mov fuzz_regs+64(%rip), %r9\n"
	"	mov fuzz_regs+72(%rip), %r10\n"
	"	mov fuzz_regs+80(%rip), %r11\n"
	"	mov fuzz_regs+88(%rip), %r12\n"
	"	mov fuzz_regs+96(%rip), %r13\n"
	"	mov fuzz_regs+104(%rip), %r14\n"
	"	mov fuzz_regs+112(%rip), %r15\n"
	".endm\n"
	".globl fuzz_ring0_go\n"
	"fuzz_ring0_go:\n"
	"	mov $0x30, %ax\n"
	"	ltr %ax\n"
	"	fuzz_load_gprs\n"
	"	mov fuzz_regs+120(%rip), %rsp\n"
	"	jmp *fuzz_regs+128(%rip)\n"
	".globl fuzz_ring3_go\n"
	"fuzz_ring3_go:\n"
	"	mov $0x30, %ax\n"
	"	ltr %ax\n"
	"	pushq $0x23\n"			/* GDT_USER_DS | 3 */
	"	pushq fuzz_regs+120(%rip)\n"
	"	pushq $0x202\n"
	"	pushq $0x2b\n"			/* GDT_USER_CS | 3 */
	"	pushq fuzz_regs+128(%rip)\n"
	"	fuzz_load_gprs\n"
	"	iretq\n");

/*
 * One VMCALL (fuzz_vmcall_frame_i) or VMMCALL (_a) with every GPR but RSP
 * set from f[0..14] (order as fuzz_regs), all of them stored to f[15..29]
 * afterwards.
 */
asm(".text\n"
	".macro fuzz_frame name, insn\n"
	".globl \\name\n"
	"\\name:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	push %rdi\n"
	"	mov 0(%rdi), %rax\n"
	"	mov 8(%rdi), %rbx\n"
	"	mov 16(%rdi), %rcx\n"
	"	mov 24(%rdi), %rdx\n"
	"	mov 32(%rdi), %rsi\n"
	"	mov 48(%rdi), %rbp\n"
	"	mov 56(%rdi), %r8\n"
	"	mov 64(%rdi), %r9\n"
	"	mov 72(%rdi), %r10\n"
	"	mov 80(%rdi), %r11\n"
	"	mov 88(%rdi), %r12\n"
	"	mov 96(%rdi), %r13\n"
	"	mov 104(%rdi), %r14\n"
	"	mov 112(%rdi), %r15\n"
	"	mov 40(%rdi), %rdi\n"
	"	\\insn\n"
	"	xchg %rdi, (%rsp)\n"
	"	mov %rax, 120(%rdi)\n"
	"	mov %rbx, 128(%rdi)\n"
	"	mov %rcx, 136(%rdi)\n"
	"	mov %rdx, 144(%rdi)\n"
	"	mov %rsi, 152(%rdi)\n"
	"	mov %rbp, 168(%rdi)\n"
	"	mov %r8, 176(%rdi)\n"
	"	mov %r9, 184(%rdi)\n"
	"	mov %r10, 192(%rdi)\n"
	"	mov %r11, 200(%rdi)\n"
	"	mov %r12, 208(%rdi)\n"
	"	mov %r13, 216(%rdi)\n"
	"	mov %r14, 224(%rdi)\n"
	"	mov %r15, 232(%rdi)\n"
	"	pop %rax\n"
	"	mov %rax, 160(%rdi)\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".endm\n"
	"fuzz_frame fuzz_vmcall_frame_i, vmcall\n"
	"fuzz_frame fuzz_vmcall_frame_a, vmmcall\n");

static const char *const reg_names[15] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10",
	"r11", "r12", "r13", "r14", "r15",
};

/* ------------------------------------------------------------------------ */
/* Values and memory for arguments */

#define SCRATCH_PAGES	4
static char *scratch;		/* random contents, RW */
static char *ro_page;		/* read-only */
static char *guard;		/* unmapped, right after ro_page */

static void map_scratch(void)
{
	char *p = mmap(NULL, (SCRATCH_PAGES + 2) * PAGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	if (p == MAP_FAILED)
		_exit(FUZZ_SETUP_FAILED);
	scratch = p;
	for (i = 0; i < SCRATCH_PAGES * PAGE_SZ / 8; i++)
		((uint64_t *)scratch)[i] = rnd();
	ro_page = p + SCRATCH_PAGES * PAGE_SZ;
	guard = ro_page + PAGE_SZ;
	if (mprotect(ro_page, PAGE_SZ, PROT_READ) || munmap(guard, PAGE_SZ))
		_exit(FUZZ_SETUP_FAILED);
}

/* A pointer the kernel cannot use for a structure of @size bytes. */
static uint64_t bad_pointer(size_t size, bool writing)
{
	switch (rnd_below(writing ? 8 : 7)) {
	case 0: return 0;
	case 1: return 8;
	case 2: return (uint64_t)guard + rnd_below(PAGE_SZ);
	case 3: return 0xffff888000000000ULL + rnd_below(1 << 20) * 8;
	case 4: return 0xffffffff81000000ULL;
	case 5: return 0x0000800000000000ULL + rnd_below(1 << 30);
	case 6: return (uint64_t)guard - size + 1 + rnd_below(size - 1);
	default: return (uint64_t)ro_page;	/* only bad for writing */
	}
}

/* Interesting 64-bit values: small, edges, pointers good and bad. */
static uint64_t pick_value(void)
{
	static const uint64_t edges[] = {
		0, 1, 2, 7, 0x7f, 0x80, 0xff, 0x1000, 0x7fffffff, 0x80000000,
		0xffffffff, 0x100000000ULL, 0x00007ffffffff000ULL,
		0x0000800000000000ULL, 0xffff800000000000ULL,
		0xffff888000000000ULL, 0xffffffff81000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 1,
	};

	switch (rnd_below(5)) {
	case 0: return edges[rnd_below(ARRAY_SIZE(edges))];
	case 1: return (uint64_t)scratch + rnd_below(SCRATCH_PAGES * PAGE_SZ);
	case 2: return rnd_below(4096);
	case 3: return -rnd_below(4096);
	default: return rnd();
	}
}

/* The kernel half, but not the last page (-errno, SVM's VMEXIT_INVALID) */
static bool kernel_looking(uint64_t v)
{
	return v >= 0xffff800000000000ULL && v < 0xfffffffffffff000ULL;
}

/* ------------------------------------------------------------------------ */
/* The seccomp filter of children that run random code or random VMCALLs */

static const int harmless[] = {
	SYS_getpid, SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid,
	SYS_getgid, SYS_getegid, SYS_getpgrp, SYS_getsid, SYS_getpgid,
	SYS_getcwd, SYS_uname, SYS_sched_yield, SYS_getrusage, SYS_times,
	SYS_sysinfo, SYS_getpriority, SYS_getrlimit, SYS_sched_getaffinity,
	SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday, SYS_time,
	SYS_getcpu, SYS_dup, SYS_fstat, SYS_lseek, SYS_pread64, SYS_mmap,
	SYS_munmap, SYS_mprotect, SYS_madvise, SYS_brk, SYS_mincore,
	SYS_mremap, SYS_msync, SYS_getgroups, SYS_getresuid, SYS_getresgid,
	SYS_sched_getparam, SYS_sched_getscheduler, SYS_getitimer,
	SYS_newfstatat, SYS_access, SYS_readlink, SYS_statfs, SYS_sigaltstack,
};

#define NR_HARMLESS	((int)ARRAY_SIZE(harmless))
#define FIRST_INVALID_NR	(__NR_mseal + 1)
/*
 * uretprobe (6.12 stable) passes every seccomp filter and sends SIGILL
 * unless called from the uretprobe trampoline: natively too.
 */
#define NR_URETPROBE		335

static bool is_harmless(long nr)
{
	int i;

	for (i = 0; i < NR_HARMLESS; i++)
		if (harmless[i] == nr)
			return true;
	return false;
}

/*
 * Allowed: the harmless calls (madvise without the memory-failure
 * advice), exit, exit_group, ioctl on the VM fd, and numbers no table has
 * (FIRST_INVALID_NR..0x3fffffff and 0x80000000 up, as 32-bit values).
 * Everything else, x32 numbers included, fails with EPERM.
 */
static void install_filter(int vm_fd)
{
	struct sock_filter f[NR_HARMLESS + 16];
	struct sock_fprog prog;
	int n = 0, i, p = 4 + NR_HARMLESS;
	int madv = p + 8, deny = p + 10, allow = p + 11;

#define INSN(code, k)		((struct sock_filter)BPF_STMT(code, k))
#define JEQ(k, t, e)		((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, \
						      (t) - n - 1, (e) - n - 1))
#define JGE(k, t, e)		((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, k, \
						      (t) - n - 1, (e) - n - 1))
#define LOAD(field)		INSN(BPF_LD | BPF_W | BPF_ABS, \
				     offsetof(struct seccomp_data, field))
	f[n] = LOAD(arch); n++;
	f[n] = JEQ(AUDIT_ARCH_X86_64, n + 1, deny); n++;
	f[n] = LOAD(nr); n++;
	f[n] = JEQ(SYS_madvise, madv, n + 1); n++;
	for (i = 0; i < NR_HARMLESS; i++) {
		f[n] = JEQ(harmless[i], allow, n + 1);
		n++;
	}
	f[n] = JEQ(SYS_exit, allow, n + 1); n++;
	f[n] = JEQ(SYS_exit_group, allow, n + 1); n++;
	f[n] = JEQ(SYS_ioctl, n + 1, n + 3); n++;
	f[n] = LOAD(args[0]); n++;
	f[n] = JEQ(vm_fd, allow, deny); n++;
	f[n] = JGE(0x80000000U, allow, n + 1); n++;
	f[n] = JGE(0x40000000U, deny, n + 1); n++;
	f[n] = JGE(FIRST_INVALID_NR, allow, deny); n++;
	if (n != madv)
		_exit(FUZZ_SETUP_FAILED);
	f[n] = LOAD(args[2]); n++;
	f[n] = JGE(100, deny, allow); n++;
	f[n] = INSN(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM); n++;
	f[n] = INSN(BPF_RET | BPF_K, SECCOMP_RET_ALLOW); n++;
#undef INSN
#undef JEQ
#undef JGE
#undef LOAD
	if (n != allow + 1)
		_exit(FUZZ_SETUP_FAILED);
	prog.len = n;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		_exit(FUZZ_SETUP_FAILED);
}

/* ------------------------------------------------------------------------ */
/* Running the iterations */

struct outcome {
	long iters, exits[256], signals[65], hangs;
};

static void record(struct outcome *o, int status)
{
	o->iters++;
	if (WIFEXITED(status))
		o->exits[WEXITSTATUS(status)]++;
	else if (WIFSIGNALED(status) && WTERMSIG(status) < 65)
		o->signals[WTERMSIG(status)]++;
}

static void print_outcome(struct __test_metadata *_metadata, const char *what,
			  struct outcome *o, long limit, double secs)
{
	char line[1024];
	int i, n = 0;

	n += snprintf(line + n, sizeof(line) - n, "%s: %ld of %ld iterations in %.1f s, %ld cases;",
		      what, o->iters, limit, secs, sh->cases);
	for (i = 0; i < 256 && n < (int)sizeof(line) - 40; i++) {
		if (!o->exits[i])
			continue;
		if (i >= 100 && i < 132)
			n += snprintf(line + n, sizeof(line) - n, " exc%d:%ld", i - 100,
				      o->exits[i]);
		else if (i > FUZZ_LEFT_DUNE && i <= FUZZ_LEFT_DUNE + 4)
			n += snprintf(line + n, sizeof(line) - n, " left(%d):%ld",
				      i - FUZZ_LEFT_DUNE, o->exits[i]);
		else
			n += snprintf(line + n, sizeof(line) - n, " exit%d:%ld", i, o->exits[i]);
	}
	for (i = 1; i < 65 && n < (int)sizeof(line) - 40; i++)
		if (o->signals[i])
			n += snprintf(line + n, sizeof(line) - n, " %s:%ld",
				      strsignal(i), o->signals[i]);
	TH_LOG("%s", line);
	n = 0;
	n += snprintf(line + n, sizeof(line) - n, "%s: results: ok %ld", what, sh->ok);
	for (i = 1; i < 134 && n < (int)sizeof(line) - 40; i++)
		if (sh->errnos[i])
			n += snprintf(line + n, sizeof(line) - n, ", %s %ld",
				      strerrorname_np(i) ? strerrorname_np(i) : "?", sh->errnos[i]);
	if (sh->entered)
		n += snprintf(line + n, sizeof(line) - n, "; entered Dune mode %ld times",
			      sh->entered);
	TH_LOG("%s", line);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Where a hung child is: its state, wait channel and kernel stack. */
static void print_hung(struct __test_metadata *_metadata, pid_t pid)
{
	static const char *const files[] = { "status", "wchan", "stack", "syscall" };
	char path[64], buf[2048];
	unsigned int i;
	ssize_t n;
	int fd;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, files[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (i == 0) {	/* only the State: line */
			char *st = strstr(buf, "State:");

			if (st)
				*strchrnul(st, '\n') = 0;
			TH_LOG("  hung child %d: %s", pid, st ? st : "?");
		} else {
			TH_LOG("  hung child %d %s: %s", pid, files[i], buf);
		}
	}
}

/*
 * Wait for @pid, at most ALARM_S + GRACE_S seconds.  Returns false on a
 * hang (the child is then killed, and *status says how it ended).
 */
static bool wait_bounded(struct __test_metadata *_metadata, pid_t pid, int *status)
{
	double deadline = now() + ALARM_S + GRACE_S;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	sigset_t set;
	int i;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	while (now() < deadline) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		sigtimedwait(&set, NULL, &ts);
	}
	print_hung(_metadata, pid);
	kill(pid, SIGKILL);
	for (i = 0; i < 500; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return false;
		usleep(10000);
	}
	*status = -1;	/* could not even be killed */
	return false;
}

static void print_trace(struct __test_metadata *_metadata)
{
	long i = sh->traced > 16 ? sh->traced - 16 : 0;
	char line[512];

	for (; i < sh->traced; i++) {
		uint64_t *t = sh->trace[i % 16];

		snprintf(line, sizeof(line),
			 "  VMCALL %ld: nr %#llx (%llu) args %#llx %#llx %#llx %#llx %#llx %#llx -> %#llx",
			 i, (unsigned long long)t[0], (unsigned long long)t[0] & 0xffffffff,
			 (unsigned long long)t[5], (unsigned long long)t[4],
			 (unsigned long long)t[3], (unsigned long long)t[9],
			 (unsigned long long)t[7], (unsigned long long)t[8],
			 (unsigned long long)t[15]);
		TH_LOG("%s", line);
		snprintf(line, sizeof(line),
			 "    rbx %#llx rcx %#llx rbp %#llx r11 %#llx r12 %#llx r13 %#llx r14 %#llx r15 %#llx",
			 (unsigned long long)t[1], (unsigned long long)t[2],
			 (unsigned long long)t[6], (unsigned long long)t[10],
			 (unsigned long long)t[11], (unsigned long long)t[12],
			 (unsigned long long)t[13], (unsigned long long)t[14]);
		TH_LOG("%s", line);
	}
}

typedef void (*fuzz_child_fn)(void);

/*
 * Run @fn in up to @iters children (within the time budget); fail on a
 * violation, a hang or an unhealthy host.  Returns the outcome counts.
 */
static void run_fuzz(struct __test_metadata *_metadata, const char *what,
		     fuzz_child_fn fn, long iters, uint64_t salt)
{
	struct outcome o = {};
	double start = now();
	char report[2048];
	sigset_t set;
	long i;

	if (iters_override > 0)
		iters = iters_override;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	health_start();
	TH_LOG("%s: seed %#llx (DUNE_FUZZ_SEED=%#llx repeats it)", what,
	       (unsigned long long)base_seed, (unsigned long long)base_seed);

	for (i = 0; i < iters && now() - start < budget_s; i++) {
		uint64_t seed = mix(base_seed ^ salt ^ (uint64_t)i << 20);
		const char *bad;
		int status;
		pid_t pid;

		if (only_iter >= 0 && i != only_iter)
			continue;
		sh->msg[0] = 0;
		sh->desc[0] = 0;
		sh->traced = 0;
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			/* the random calls must not move the parent's kmsg position */
			if (kmsg_fd >= 0)
				close(kmsg_fd);
			rng_state = seed;
			fn();
			_exit(0);
		}
		if (!wait_bounded(_metadata, pid, &status)) {
			o.hangs++;
			snprintf(report, sizeof(report),
				 "%s iteration %ld (seed %#llx): still running %d s after its %d s alarm%s; %s",
				 what, i, (unsigned long long)base_seed, GRACE_S, ALARM_S,
				 status == -1 ? "; SIGKILL did not end it" : "", sh->desc);
			EXPECT_TRUE(false)
				TH_LOG("%s", report);
			print_trace(_metadata);
			break;
		}
		record(&o, status);
		/*
		 * The guest's exceptions go to its IDT: a host-side #UD, #DE or
		 * #DB/#BP would mean one reached the host.
		 */
		if (WIFSIGNALED(status) &&
		    (WTERMSIG(status) == SIGILL || WTERMSIG(status) == SIGFPE ||
		     WTERMSIG(status) == SIGTRAP)) {
			snprintf(report, sizeof(report),
				 "%s iteration %ld (seed %#llx): killed by %s, an exception on the host side; %s",
				 what, i, (unsigned long long)base_seed,
				 strsignal(WTERMSIG(status)), sh->desc);
			EXPECT_TRUE(false)
				TH_LOG("%s", report);
			print_trace(_metadata);
			break;
		}
		if (WIFEXITED(status) && (WEXITSTATUS(status) == FUZZ_VIOLATION ||
					  WEXITSTATUS(status) == FUZZ_SETUP_FAILED)) {
			EXPECT_TRUE(false)
				TH_LOG("%s iteration %ld (seed %#llx): %s", what, i,
				       (unsigned long long)base_seed,
				       WEXITSTATUS(status) == FUZZ_VIOLATION ? sh->msg :
				       "the child could not set up the case");
			break;
		}
		bad = health_problem();
		if (bad) {
			EXPECT_TRUE(false)
				TH_LOG("%s iteration %ld (seed %#llx): host unhealthy after it: %s",
				       what, i, (unsigned long long)base_seed, bad);
			break;
		}
	}
	print_outcome(_metadata, what, &o, iters, now() - start);
	EXPECT_LT(0, o.iters);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* ------------------------------------------------------------------------ */
/* Common child setup */

static struct dune_vm vm;
static alignas(16) uint8_t tramp_stack[16384];

static void child_vm(void)
{
	if (dune_vm_create(&vm) || dune_build_page_tables(&vm))
		_exit(FUZZ_SETUP_FAILED);
}

/* ENTER returned: record why, check what came back, exit. */
static noreturn void entered_and_left(struct kvm_dune_enter *cfg, long r)
{
	if (r)
		violation("KVM_DUNE_ENTER of a valid configuration failed: %s", strerror(-r));
	if (cfg->exit_reason < KVM_DUNE_EXIT_SHUTDOWN || cfg->exit_reason > KVM_DUNE_EXIT_INTERNAL)
		violation("left Dune mode with exit_reason %u", cfg->exit_reason);
	if (kernel_looking(cfg->exit_info[0]) || kernel_looking(cfg->exit_info[1]))
		violation("exit_info holds a kernel address: %#llx %#llx",
			  (unsigned long long)cfg->exit_info[0],
			  (unsigned long long)cfg->exit_info[1]);
	_exit(FUZZ_LEFT_DUNE + cfg->exit_reason);
}

/* ------------------------------------------------------------------------ */
/* (b) random instruction bytes in ring 0 and ring 3 */

static bool fuzz_ring3;

/* Replace what would clear IF at CPL 0, or make a system call. */
static void scrub_ring0(uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] == 0xfa || b[i] == 0x9d || b[i] == 0xcf)	/* CLI POPF IRET */
			b[i] = 0x90;
		if (i + 1 < n && b[i] == 0x0f && b[i + 1] == 0x07)	/* SYSRET */
			b[i + 1] = 0x90;
		if (i + 2 < n && b[i] == 0x0f && b[i + 1] == 0x01 &&
		    (b[i + 2] == 0xc1 || b[i + 2] == 0xd9))		/* VM(M)CALL */
			b[i + 2] = 0x90;
	}
}

static void child_random_bytes(void)
{
	struct kvm_dune_enter cfg;
	uint8_t *code, *stack;
	size_t len, i;
	long r;

	map_scratch();
	child_vm();
	code = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack = mmap(NULL, 4 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED || stack == MAP_FAILED || munmap(code + PAGE_SZ, PAGE_SZ))
		_exit(FUZZ_SETUP_FAILED);

	/* random bytes, then exit_group(FUZZ_FELL_THROUGH), then INT3s */
	len = 1 + rnd_below(48);
	for (i = 0; i < len; i++)
		code[i] = rnd();
	/* Sometimes start with an instruction class worth hitting more often */
	if (one_in(4)) {
		static const uint8_t starts[][3] = {
			{ 0x0f, 0x01 }, { 0x0f, 0x00 }, { 0x0f, 0x20 }, { 0x0f, 0x22 },
			{ 0x0f, 0x30 }, { 0x0f, 0x32 }, { 0x0f, 0xae }, { 0xcd },
			{ 0x0f, 0x0b }, { 0xf4 }, { 0x0f, 0x05 }, { 0x48, 0xcf },
			{ 0xe4 }, { 0xec }, { 0x0f, 0x35 }, { 0x0f, 0x34 },
		};
		const uint8_t *s = starts[rnd_below(ARRAY_SIZE(starts))];

		for (i = 0; i < 3 && i < len && (i == 0 || s[i]); i++)
			code[i] = s[i];
	}
	if (!fuzz_ring3)
		scrub_ring0(code, len);
	code[len] = 0xb8;			/* mov $231, %eax */
	memcpy(code + len + 1, "\xe7\x00\x00\x00", 4);
	code[len + 5] = 0xbf;			/* mov $FUZZ_FELL_THROUGH, %edi */
	code[len + 6] = FUZZ_FELL_THROUGH;
	memset(code + len + 7, 0, 3);
	memcpy(code + len + 10, dune_is_amd ? "\x0f\x01\xd9" : "\x0f\x01\xc1", 3);
	memset(code + len + 13, 0xcc, PAGE_SZ - len - 13);

	for (i = 0; i < 15; i++)
		fuzz_regs[i] = pick_value();
	fuzz_regs[15] = (uint64_t)stack + 2 * PAGE_SZ + (rnd_below(2 * PAGE_SZ) & ~7ULL);
	if (one_in(8))
		fuzz_regs[15] = one_in(2) ? pick_value() : fuzz_regs[15] + 1 + rnd_below(7);
	fuzz_regs[16] = (uint64_t)code;
	__atomic_add_fetch(&sh->cases, 1, __ATOMIC_RELAXED);
	{
		int n = snprintf(sh->desc, sizeof(sh->desc), "bytes");

		for (i = 0; i < len && n < 400; i++)
			n += snprintf(sh->desc + n, sizeof(sh->desc) - n, " %02x", code[i]);
		for (i = 0; i < 17 && n < (int)sizeof(sh->desc) - 32; i++)
			n += snprintf(sh->desc + n, sizeof(sh->desc) - n, "%s%s=%#llx",
				      i ? " " : "; ",
				      i < 15 ? reg_names[i] : i == 15 ? "rsp" : "rip",
				      (unsigned long long)fuzz_regs[i]);
	}

	dune_init_config(&vm, &cfg, fuzz_ring3 ? fuzz_ring3_go : fuzz_ring0_go,
			 tramp_stack, sizeof(tramp_stack));
	setup_fuzz_idt(&cfg);
	/* alarm() first: the filter does not allow it */
	signal(SIGALRM, SIG_DFL);
	alarm(ALARM_S);
	install_filter(vm.vm_fd);
	__atomic_add_fetch(&sh->entered, 1, __ATOMIC_RELAXED);
	r = dune_enter(&vm, &cfg);
	entered_and_left(&cfg, r);
}

static void child_ring0(void)
{
	fuzz_ring3 = false;
	child_random_bytes();
}

static void child_ring3(void)
{
	fuzz_ring3 = true;
	child_random_bytes();
}

/* ------------------------------------------------------------------------ */
/* (c) random VMCALLs: harmless calls, denied calls, invalid numbers */

#define CALLS_PER_CHILD	40
static uint64_t frame[30];
/* What a number no table has gets natively (the guest must get the same) */
static long native_bad_nr_err;

static uint64_t pick_arg(long nr, int idx)
{
	static const uint64_t lens[] = { 0, 1, 8, 4096, 8192, 65536, 0x200000,
					 ~0ULL, 1ULL << 48 };
	static const uint64_t advice[] = { 0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13,
					   14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
					   24, 25, 99 };

	/* Lengths stay small or absurd: nothing may populate much memory. */
	if ((nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_madvise ||
	     nr == SYS_mincore || nr == SYS_msync || nr == SYS_mremap) && idx == 1)
		return lens[rnd_below(ARRAY_SIZE(lens))];
	if (nr == SYS_mremap && idx == 2)
		return lens[rnd_below(ARRAY_SIZE(lens))];
	if (nr == SYS_madvise && idx == 2)
		return advice[rnd_below(ARRAY_SIZE(advice))];
	if ((nr == SYS_mmap || nr == SYS_mprotect || nr == SYS_madvise || nr == SYS_munmap ||
	     nr == SYS_mremap) && idx == 0 && !one_in(4))
		return (uint64_t)scratch + rnd_below(SCRATCH_PAGES) * PAGE_SZ;
	if (nr == SYS_mmap && idx == 3 && one_in(2))
		return MAP_PRIVATE | MAP_ANONYMOUS | (one_in(3) ? MAP_FIXED : 0) |
		       (one_in(4) ? MAP_POPULATE : 0);
	if (nr == SYS_mmap && idx == 4 && one_in(2))
		return -1;
	if (nr == SYS_brk)	/* no huge heaps */
		return one_in(2) ? 0 : pick_value() | 0xffff000000000000ULL;
	return pick_value();
}

static void guest_vmcalls(void)
{
	long i, nr, ret, expect;
	int k, kind;

	in_guest = true;
	for (i = 0; i < CALLS_PER_CHILD; i++) {
		kind = rnd_below(10);
		if (kind < 6) {
			nr = harmless[rnd_below(NR_HARMLESS)];
			expect = 1;			/* any result */
		} else if (kind < 8) {
			/* numbers no table has, with junk in the high half */
			uint32_t lo;

			if (one_in(2))
				lo = FIRST_INVALID_NR + rnd_below(0x40000000 - FIRST_INVALID_NR);
			else
				lo = 0x80000000U + rnd_below(0x80000000U);
			if (one_in(4))
				lo = FIRST_INVALID_NR + rnd_below(4);
			nr = (one_in(2) ? rnd() << 32 : 0) | lo;
			expect = -native_bad_nr_err;
		} else {
			/* a real call the filter denies: never runs */
			do
				nr = rnd_below(FIRST_INVALID_NR);
			while (is_harmless(nr) || nr == SYS_exit || nr == SYS_exit_group ||
			       nr == SYS_ioctl || nr == NR_URETPROBE);
			if (one_in(4))
				nr = 0x40000000 | rnd_below(FIRST_INVALID_NR);	/* x32 */
			expect = -EPERM;
		}
		for (k = 0; k < 15; k++)
			frame[k] = rnd();
		frame[0] = nr;
		frame[5] = kind < 8 ? pick_arg(nr, 0) : ~0ULL;	/* rdi */
		frame[4] = kind < 8 ? pick_arg(nr, 1) : ~0ULL;	/* rsi */
		frame[3] = kind < 8 ? pick_arg(nr, 2) : ~0ULL;	/* rdx */
		frame[9] = kind < 8 ? pick_arg(nr, 3) : ~0ULL;	/* r10 */
		frame[7] = kind < 8 ? pick_arg(nr, 4) : ~0ULL;	/* r8 */
		frame[8] = kind < 8 ? pick_arg(nr, 5) : ~0ULL;	/* r9 */
		for (k = 0; k < 15; k++)
			if (zero_regs & (1 << k))
				frame[k] = 0;
		if (skip_calls & (1ULL << i)) {
			sh->traced++;
			continue;
		}
		memcpy(sh->trace[sh->traced % 16], frame, 15 * 8);
		sh->trace[sh->traced % 16][15] = 0xdeadbeefdeadbeefULL;	/* no result yet */
		sh->traced++;
		if (dune_is_amd)
			fuzz_vmcall_frame_a(frame);
		else
			fuzz_vmcall_frame_i(frame);
		ret = frame[15];
		sh->trace[(sh->traced - 1) % 16][15] = ret;
		count_result(ret, ret < 0 && ret >= -4095 ? -ret : 0);
		for (k = 1; k < 15; k++)
			if (frame[15 + k] != frame[k])
				violation("VMCALL %#lx changed %s: %#llx -> %#llx", nr,
					  reg_names[k], (unsigned long long)frame[k],
					  (unsigned long long)frame[15 + k]);
		if (expect != 1 && ret != expect)
			violation("VMCALL %#lx (%s) returned %ld, expected %ld", nr,
				  kind < 8 ? "no such call" : "denied by seccomp",
				  ret, expect);
		if (expect == 1 && ret < -4095)
			violation("VMCALL %ld returned %#lx: neither a result nor an errno",
				  nr, ret);
	}
	guest_exit(0);
}

static alignas(16) uint8_t vmcall_stack[65536];

static void child_vmcalls(void)
{
	struct kvm_dune_enter cfg;
	long r;

	map_scratch();
	child_vm();
	errno = 0;
	if (syscall(FIRST_INVALID_NR) != -1 || !errno)
		_exit(FUZZ_SETUP_FAILED);
	native_bad_nr_err = errno;
	dune_init_config(&vm, &cfg, guest_vmcalls, vmcall_stack, sizeof(vmcall_stack));
	setup_fuzz_idt(&cfg);
	/* The guest may munmap its scratch: keep its own stack elsewhere. */
	signal(SIGALRM, SIG_DFL);
	alarm(ALARM_S);
	install_filter(vm.vm_fd);
	__atomic_add_fetch(&sh->entered, 1, __ATOMIC_RELAXED);
	r = dune_enter(&vm, &cfg);
	entered_and_left(&cfg, r);
}

/* ------------------------------------------------------------------------ */
/* (a) random KVM_DUNE_ENTER structures and ioctl sequences */

#define E(x)		(1ULL << (x))
#define SUCCESS_OK	E(0)	/* bit 0 (no errno 0): success is allowed */

/* The bit of errno @e in an allowed set: E(e) below 63, EOPNOTSUPP (95) as 63 */
static uint64_t ebit(int e)
{
	if (e < 63)
		return E(e);
	return e == EOPNOTSUPP ? E(63) : 0;
}

static int vm_fd;		/* -1 once closed */
static int vm_fd_closed = -1;	/* its number, for EBADF */
static int kvm_fd;
static struct kvm_dune_layout layout0;

static void check_ioctl(const char *what, long r, int err, uint64_t allowed)
{
	count_result(r, err);
	if (r >= 0 && !(allowed & SUCCESS_OK))
		violation("%s succeeded (returned %ld); expected an error", what, r);
	if (r < 0 && !(allowed & ebit(err)))
		violation("%s failed with %s (%d), not a documented errno", what,
			  strerrorname_np(err) ? strerrorname_np(err) : "?", err);
}

static bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

static bool cr3_ok(uint64_t cr3)
{
	uint64_t gpa = cr3 & ~0xfffULL;
	unsigned int i;

	if (cr3 & 0xfff & ~0x18ULL)
		return false;
	for (i = 0; i < layout0.nr_windows; i++) {
		const struct kvm_dune_window *w = &layout0.windows[i];

		if (gpa >= w->gpa && gpa + PAGE_SZ <= w->gpa + w->size)
			return true;
	}
	return false;
}

/* What api-dune.rst says of the structure: valid or EINVAL. */
static bool cfg_valid(const struct kvm_dune_enter *c)
{
	const uint64_t rflags_ok = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 |
				   0x800 | 0x3000 | 0x4000 | 0x10000 | 0x40000 | 0x200000 | 0x2;
	int i;

	if (c->flags || c->exit_reason || c->exit_info[0] || c->exit_info[1])
		return false;
	for (i = 0; i < 8; i++)
		if (c->reserved[i])
			return false;
	for (i = 0; i < 3; i++)
		if (c->gdt.padding[i] || c->idt.padding[i])
			return false;
	if (!canonical(c->regs.rip) || !canonical(c->regs.rsp) || !canonical(c->gdt.base) ||
	    !canonical(c->idt.base))
		return false;
	if ((c->regs.rflags & ~rflags_ok) || !(c->regs.rflags & 2))
		return false;
	return cr3_ok(c->cr3);
}

static void guest_exit0(void)
{
	guest_exit(0);
}

static uint64_t random_address(void)
{
	switch (rnd_below(4)) {
	case 0: return pick_value();
	case 1: return rnd() & 0x00007ffffffff000ULL;
	case 2: return (uint64_t)guest_exit0;
	default: return (uint64_t)scratch + rnd_below(SCRATCH_PAGES * PAGE_SZ);
	}
}

static void mutate(struct kvm_dune_enter *c)
{
	const struct kvm_dune_window *w = &layout0.windows[rnd_below(layout0.nr_windows)];
	int n = 1 + rnd_below(3);

	while (n--) {
		switch (rnd_below(16)) {
		case 0:
			c->flags = one_in(2) ? 1U << rnd_below(32) : rnd();
			break;
		case 1:
			c->exit_reason = 1 + rnd_below(8);
			break;
		case 2:
			c->exit_info[rnd_below(2)] = pick_value() | 1;
			break;
		case 3:
			c->reserved[rnd_below(8)] = pick_value() | 1;
			break;
		case 4:
			c->gdt.padding[rnd_below(3)] = 1 + rnd_below(0xffff);
			break;
		case 5:
			c->idt.padding[rnd_below(3)] = 1 + rnd_below(0xffff);
			break;
		case 6:
			c->regs.rip = random_address();
			break;
		case 7:
			c->regs.rsp = random_address();
			break;
		case 8:
			c->gdt.base = random_address();
			c->gdt.limit = rnd();
			break;
		case 9:
			c->idt.base = random_address();
			c->idt.limit = rnd();
			break;
		case 10:
			c->regs.rflags = one_in(2) ? (2 | 1ULL << rnd_below(64)) : rnd();
			c->regs.rflags |= 0x200;	/* IF: see the top of the file */
			break;
		case 11:
			c->cr3 = pick_value();
			break;
		case 12:
			c->cr3 = w->gpa + (rnd_below(w->size) & ~0xfffULL) + rnd_below(2) * 0x18;
			break;
		case 13:
			c->cr3 ^= 1ULL << rnd_below(64);
			break;
		case 14:
			c->cr3 = w->gpa + w->size - PAGE_SZ * rnd_below(3);
			break;
		default:
			/* general registers: always valid */
			((uint64_t *)&c->regs)[rnd_below(16)] = pick_value();
			break;
		}
	}
}

/* x86 VM ioctls and vCPU ioctls, all refused on a Dune VM with EPERM */
static const unsigned long refused[] = {
	KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR, KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2,
	KVM_GET_CLOCK, KVM_SET_CLOCK, KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_SET_BOOT_CPU_ID,
	KVM_SET_PMU_EVENT_FILTER, KVM_X86_SET_MSR_FILTER, KVM_MEMORY_ENCRYPT_OP,
	KVM_SET_NR_MMU_PAGES, KVM_GET_NR_MMU_PAGES, KVM_REINJECT_CONTROL, KVM_GET_PIT2,
	KVM_SET_PIT2, KVM_XEN_HVM_CONFIG, KVM_SET_TSC_KHZ, KVM_GET_TSC_KHZ,
	KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_SET_CPUID2,
	KVM_GET_MSRS, KVM_SET_MSRS, KVM_INTERRUPT, KVM_NMI, KVM_SET_GUEST_DEBUG,
	KVM_GET_FPU, KVM_SET_FPU, KVM_SMI, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,
	KVM_GET_XSAVE, KVM_SET_XSAVE, KVM_GET_LAPIC, KVM_TRANSLATE, KVM_KVMCLOCK_CTRL,
	KVM_X86_SETUP_MCE, KVM_GET_ONE_REG, KVM_SET_ONE_REG, KVM_SET_SIGNAL_MASK,
	KVM_GET_API_VERSION, KVM_GET_VCPU_MMAP_SIZE, KVM_GET_SUPPORTED_CPUID,
};

/* Handled by generic KVM code for any VM: their own errnos */
static const unsigned long generic_vm[] = {
	KVM_CREATE_VCPU, KVM_ENABLE_CAP, KVM_SET_USER_MEMORY_REGION,
	KVM_SET_USER_MEMORY_REGION2, KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG,
	KVM_REGISTER_COALESCED_MMIO, KVM_UNREGISTER_COALESCED_MMIO, KVM_IRQFD,
	KVM_IOEVENTFD, KVM_SIGNAL_MSI, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS,
	KVM_SET_GSI_ROUTING, KVM_SET_MEMORY_ATTRIBUTES, KVM_CREATE_DEVICE,
	KVM_CHECK_EXTENSION, KVM_RESET_DIRTY_RINGS, KVM_GET_STATS_FD,
	KVM_CREATE_GUEST_MEMFD, KVM_DUNE_ENTER, KVM_DUNE_GET_LAYOUT,
};

/* Handled by /dev/kvm */
static const unsigned long dev_ioctls[] = {
	KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE,
	_IO(KVMIO, 0x06), _IO(KVMIO, 0x07), _IO(KVMIO, 0x08),	/* KVM_TRACE_* */
	KVM_GET_MSR_INDEX_LIST, KVM_GET_MSR_FEATURE_INDEX_LIST, KVM_GET_SUPPORTED_CPUID,
	KVM_GET_EMULATED_CPUID, KVM_X86_GET_MCE_CAP_SUPPORTED, KVM_GET_MSRS,
	KVM_GET_SUPPORTED_HV_CPUID, KVM_GET_DEVICE_ATTR, KVM_HAS_DEVICE_ATTR,
};

static bool in_list(const unsigned long *l, size_t n, unsigned long cmd)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i] == cmd)
			return true;
	return false;
}

static unsigned long random_kvm_cmd(void)
{
	return _IOC(rnd_below(4), KVMIO, rnd_below(256), rnd_below(1 << 10));
}

/* Every ioctl on the VM fd, the parent's VM, from another mm: EIO */
static void op_fork_eio(void)
{
	int status, i;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		_exit(FUZZ_SETUP_FAILED);
	if (pid == 0) {
		for (i = 0; i < 4; i++) {
			unsigned long cmd = one_in(2) ? random_kvm_cmd() :
					    one_in(2) ? KVM_DUNE_ENTER : KVM_DUNE_GET_LAYOUT;
			long r = ioctl(vm_fd, cmd, scratch);

			check_ioctl("an ioctl on the parent's Dune VM after fork", r,
				    r < 0 ? errno : 0, E(EIO));
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		_exit(FUZZ_SETUP_FAILED);
	if (WIFEXITED(status) && WEXITSTATUS(status) == FUZZ_VIOLATION)
		_exit(FUZZ_VIOLATION);	/* the message is in sh->msg */
}

static int spin_stop;
static alignas(16) uint8_t thread_stack[65536];
static long thread_tid;

static void guest_thread_spin(void)
{
	long tid = gsys0(SYS_gettid);

	while (!READ_ONCE(spin_stop))
		if (gsys0(SYS_gettid) != tid) {
			in_guest = true;
			violation("a thread in Dune mode got another gettid()");
		}
	for (;;)
		gsys1(SYS_exit, 0);
}

static void *enter_thread(void *p)
{
	struct kvm_dune_enter cfg;

	thread_tid = syscall(SYS_gettid);
	dune_init_config(&vm, &cfg, guest_thread_spin, thread_stack, sizeof(thread_stack));
	__atomic_add_fetch(&sh->entered, 1, __ATOMIC_RELAXED);
	dune_enter(&vm, &cfg);
	return NULL;
}

static void check_layout_clean(const struct kvm_dune_layout *l)
{
	const uint64_t *w = (const uint64_t *)l;
	size_t i;

	if (memcmp(l, &layout0, sizeof(*l)))
		violation("KVM_DUNE_GET_LAYOUT changed between calls");
	for (i = 0; i < sizeof(*l) / 8; i++)
		if (kernel_looking(w[i]))
			violation("KVM_DUNE_GET_LAYOUT word %zu is %#llx, a kernel address",
				  i, (unsigned long long)w[i]);
}

static void child_ioctls(void)
{
	struct kvm_dune_enter good, cfg;
	int ops = 1 + rnd_below(16), dup_fd = -1;
	bool thread = false;
	char what[160];
	long r;

	map_scratch();
	child_vm();
	vm_fd = vm.vm_fd;
	kvm_fd = vm.kvm_fd;
	layout0 = vm.layout;
	dune_init_config(&vm, &good, guest_exit0, tramp_stack, sizeof(tramp_stack));
	setup_fuzz_idt(&good);
	/* A random but valid rip may land in scratch: nothing that clears IF */
	scrub_ring0((uint8_t *)scratch, SCRATCH_PAGES * PAGE_SZ);

	while (ops--) {
		int fd = vm_fd >= 0 ? vm_fd : vm_fd_closed;
		unsigned long cmd;
		uint64_t arg;
		int op = rnd_below(15);

		if (dup_fd >= 0 && one_in(2))
			fd = dup_fd;
		/* Closed: everything on that number is EBADF */
		if (fd < 0)
			fd = 1000;
		if (fd == vm_fd_closed && fd != dup_fd) {
			r = ioctl(fd, one_in(2) ? KVM_DUNE_GET_LAYOUT : random_kvm_cmd(), scratch);
			check_ioctl("an ioctl on the closed VM fd", r, errno, E(EBADF));
			continue;
		}

		switch (op) {
		case 0: {	/* the layout, again */
			struct kvm_dune_layout l;

			memset(&l, 0xa5, sizeof(l));
			r = ioctl(fd, KVM_DUNE_GET_LAYOUT, &l);
			check_ioctl("KVM_DUNE_GET_LAYOUT", r, errno, SUCCESS_OK);
			check_layout_clean(&l);
			break;
		}
		case 1:		/* bad pointers */
			arg = bad_pointer(sizeof(struct kvm_dune_layout), true);
			r = ioctl(fd, KVM_DUNE_GET_LAYOUT, arg);
			snprintf(what, sizeof(what), "KVM_DUNE_GET_LAYOUT to %#llx",
				 (unsigned long long)arg);
			check_ioctl(what, r, errno, E(EFAULT));
			break;
		case 2:
			arg = bad_pointer(sizeof(struct kvm_dune_enter), false);
			r = ioctl(fd, KVM_DUNE_ENTER, arg);
			snprintf(what, sizeof(what), "KVM_DUNE_ENTER from %#llx",
				 (unsigned long long)arg);
			check_ioctl(what, r, errno, E(EFAULT));
			break;
		case 3:
		case 4: {	/* a mutated structure */
			struct kvm_dune_enter before;
			bool valid;

			cfg = good;
			mutate(&cfg);
			valid = cfg_valid(&cfg);
			if (valid && !one_in(3))
				break;	/* entering ends the sequence: not too often */
			if (valid) {
				/* the random code may do anything: filter it */
				signal(SIGALRM, SIG_DFL);
				alarm(ALARM_S);
				install_filter(fd);
				__atomic_add_fetch(&sh->entered, 1, __ATOMIC_RELAXED);
			}
			before = cfg;
			r = ioctl(fd, KVM_DUNE_ENTER, &cfg);
			if (valid)
				entered_and_left(&cfg, r ? -errno : 0);
			snprintf(what, sizeof(what),
				 "KVM_DUNE_ENTER with flags %#x rip %#llx rsp %#llx rflags %#llx cr3 %#llx gdt %#llx idt %#llx",
				 before.flags, (unsigned long long)before.regs.rip,
				 (unsigned long long)before.regs.rsp,
				 (unsigned long long)before.regs.rflags,
				 (unsigned long long)before.cr3,
				 (unsigned long long)before.gdt.base,
				 (unsigned long long)before.idt.base);
			check_ioctl(what, r, errno, E(EINVAL));
			if (memcmp(&before, &cfg, sizeof(cfg)))
				violation("a refused KVM_DUNE_ENTER wrote to the structure");
			break;
		}
		case 5:
			arg = one_in(2) ? rnd_below(8) : rnd();
			r = ioctl(fd, KVM_CREATE_VCPU, arg);
			check_ioctl("KVM_CREATE_VCPU", r, errno, E(EPERM) | E(EINVAL));
			break;
		case 6: {	/* memslots */
			struct kvm_userspace_memory_region2 m = {};
			const struct kvm_dune_window *w =
				&layout0.windows[rnd_below(layout0.nr_windows)];

			m.slot = one_in(2) ? rnd_below(4) :
				 one_in(2) ? 1 << 16 | rnd_below(4) : rnd();
			m.flags = one_in(2) ? 0 : one_in(2) ? 1 << rnd_below(3) : rnd();
			m.guest_phys_addr = one_in(2) ? w->gpa : rnd() & ~0xfffULL;
			m.memory_size = one_in(3) ? 0 : one_in(2) ? PAGE_SZ : SZ_1G;
			m.userspace_addr = one_in(2) ? (uint64_t)scratch : w->hva;
			cmd = one_in(2) ? KVM_SET_USER_MEMORY_REGION : KVM_SET_USER_MEMORY_REGION2;
			arg = one_in(8) ? bad_pointer(sizeof(m), false) : (uint64_t)&m;
			r = ioctl(fd, cmd, arg);
			snprintf(what, sizeof(what),
				 "KVM_SET_USER_MEMORY_REGION%s slot %#x flags %#x gpa %#llx size %#llx",
				 cmd == KVM_SET_USER_MEMORY_REGION ? "" : "2", m.slot, m.flags,
				 (unsigned long long)m.guest_phys_addr,
				 (unsigned long long)m.memory_size);
			check_ioctl(what, r, errno, E(EPERM) | E(EINVAL) | E(EEXIST) | E(EFAULT));
			break;
		}
		case 7: {	/* KVM_ENABLE_CAP */
			static const uint32_t generic_caps[] = {
				KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_CAP_HALT_POLL,
				KVM_CAP_DIRTY_LOG_RING, KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
				KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP,
			};
			struct kvm_enable_cap c = {};
			bool generic;
			int i;

			c.cap = one_in(2) ? generic_caps[rnd_below(5)] : rnd_below(260);
			c.flags = one_in(4) ? rnd() : 0;
			for (i = 0; i < 4; i++)
				c.args[i] = one_in(2) ? 1ULL << rnd_below(20) : pick_value();
			generic = false;
			for (i = 0; i < 5; i++)
				generic |= c.cap == generic_caps[i];
			r = ioctl(fd, KVM_ENABLE_CAP, &c);
			snprintf(what, sizeof(what), "KVM_ENABLE_CAP cap %u flags %#x args %#llx",
				 c.cap, c.flags, (unsigned long long)c.args[0]);
			/*
			 * The capabilities that generic KVM code handles for
			 * any VM may be enabled; the x86 ones are refused.
			 */
			check_ioctl(what, r, errno,
				    generic ? SUCCESS_OK | E(EINVAL) : E(EPERM) | E(EINVAL));
			break;
		}
		case 8:		/* x86 VM and vCPU ioctls: EPERM */
			do
				cmd = one_in(2) ? refused[rnd_below(ARRAY_SIZE(refused))] :
				      random_kvm_cmd();
			while (in_list(generic_vm, ARRAY_SIZE(generic_vm), cmd));
			r = ioctl(fd, cmd, one_in(2) ? (uint64_t)scratch : pick_value());
			snprintf(what, sizeof(what), "ioctl %#lx on the Dune VM", cmd);
			check_ioctl(what, r, errno, E(EPERM));
			break;
		case 9: {	/* generic VM ioctls with junk */
			long fdr;

			cmd = generic_vm[rnd_below(ARRAY_SIZE(generic_vm) - 2)];
			if (cmd == KVM_CREATE_VCPU || cmd == KVM_ENABLE_CAP ||
			    cmd == KVM_SET_USER_MEMORY_REGION || cmd == KVM_SET_USER_MEMORY_REGION2)
				break;	/* above, with their own rules */
			arg = one_in(3) ? bad_pointer(64, true) :
					  (uint64_t)scratch + rnd_below(PAGE_SZ);
			fdr = ioctl(fd, cmd, arg);
			snprintf(what, sizeof(what), "ioctl %#lx (generic) on the Dune VM", cmd);
			check_ioctl(what, fdr, errno,
				    SUCCESS_OK | E(EINVAL) | E(EFAULT) | E(ENOENT) | E(ENXIO) |
				    E(ENODEV) | E(EEXIST) | E(EBADF) | E(EPERM) | E(ENOTTY) |
				    E(ENOSPC) | E(E2BIG) | E(ENOMEM) | ebit(EOPNOTSUPP));
			if (fdr > 2 && (cmd == KVM_GET_STATS_FD || cmd == KVM_CREATE_DEVICE ||
					cmd == KVM_CREATE_GUEST_MEMFD))
				close(fdr);
			break;
		}
		case 10: {	/* /dev/kvm */
			unsigned long type;
			long nfd;

			switch (rnd_below(5)) {
			case 0:
				type = one_in(2) ? KVM_X86_DUNE_VM :
				       one_in(2) ? rnd_below(32) : rnd();
				nfd = ioctl(kvm_fd, KVM_CREATE_VM, type);
				snprintf(what, sizeof(what), "KVM_CREATE_VM type %#lx", type);
				if (type == KVM_X86_DUNE_VM)
					check_ioctl(what, nfd, errno,
						    vm_fd >= 0 || dup_fd >= 0 || thread ?
						    E(EEXIST) : SUCCESS_OK | E(EEXIST));
				else
					check_ioctl(what, nfd, errno, (type < 32 ? SUCCESS_OK : 0) |
						    E(EINVAL) | E(ENOMEM));
				if (nfd >= 0)
					close(nfd);
				break;
			case 1:
				cmd = one_in(2) ? KVM_DUNE_ENTER : KVM_DUNE_GET_LAYOUT;
				r = ioctl(kvm_fd, cmd, &good);
				check_ioctl("a Dune ioctl on /dev/kvm", r, errno, E(EINVAL));
				break;
			case 2:
				do
					cmd = random_kvm_cmd();
				while (in_list(dev_ioctls, ARRAY_SIZE(dev_ioctls), cmd));
				r = ioctl(kvm_fd, cmd, scratch);
				snprintf(what, sizeof(what), "ioctl %#lx on /dev/kvm", cmd);
				check_ioctl(what, r, errno, E(EINVAL));
				break;
			case 3:
				arg = rnd_below(1100);
				r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, arg);
				snprintf(what, sizeof(what), "KVM_CHECK_EXTENSION %#llx",
					 (unsigned long long)arg);
				check_ioctl(what, r, errno, SUCCESS_OK);
				if (arg == KVM_CAP_X86_DUNE && r != KVM_DUNE_ABI_VERSION)
					violation("KVM_CAP_X86_DUNE is %ld", r);
				break;
			default:
				cmd = dev_ioctls[7 + rnd_below(ARRAY_SIZE(dev_ioctls) - 7)];
				arg = one_in(3) ? bad_pointer(64, true) : (uint64_t)scratch;
				/* the buffer starts with a count: nmsrs or nent */
				if (arg == (uint64_t)scratch)
					*(uint32_t *)scratch = rnd_below(300);
				r = ioctl(kvm_fd, cmd, arg);
				snprintf(what, sizeof(what), "ioctl %#lx on /dev/kvm", cmd);
				check_ioctl(what, r, errno, SUCCESS_OK | E(EFAULT) | E(E2BIG) |
					    E(EINVAL) | E(ENXIO) | E(ENOMEM) | E(EPERM));
				break;
			}
			break;
		}
		case 11:
			if (vm_fd >= 0)
				op_fork_eio();
			break;
		case 12:
			if (dup_fd < 0 && vm_fd >= 0) {
				dup_fd = dup(vm_fd);
				if (dup_fd < 0)
					_exit(FUZZ_SETUP_FAILED);
			}
			break;
		case 13:	/* close the VM fd; a dup or a running thread keeps the VM */
			if (vm_fd >= 0 && one_in(2)) {
				close(vm_fd);
				vm_fd_closed = vm_fd;
				vm_fd = -1;
			}
			break;
		case 14:	/* a thread in Dune mode while the sequence goes on */
			if (!thread && vm_fd >= 0) {
				pthread_t t;

				if (pthread_create(&t, NULL, enter_thread, NULL))
					_exit(FUZZ_SETUP_FAILED);
				thread = true;
			}
			break;
		}
	}
	WRITE_ONCE(spin_stop, 1);
	_exit(0);
}

/* ------------------------------------------------------------------------ */

/* The iterations and the time budget (12 s) fit the harness's 30 s. */
static bool fuzz_setup(struct __test_metadata *_metadata)
{
	if (no_dune(_metadata))
		return false;
	read_env();
	return true;
}

TEST(ioctl_sequences)
{
	if (fuzz_setup(_metadata))
		run_fuzz(_metadata, "ioctl sequences", child_ioctls, 400, 1);
}

TEST(random_bytes_ring0)
{
	if (fuzz_setup(_metadata))
		run_fuzz(_metadata, "ring 0 bytes", child_ring0, 400, 2);
}

TEST(random_bytes_ring3)
{
	if (fuzz_setup(_metadata))
		run_fuzz(_metadata, "ring 3 bytes", child_ring3, 400, 3);
}

TEST(random_vmcalls)
{
	if (fuzz_setup(_metadata))
		run_fuzz(_metadata, "VMCALLs", child_vmcalls, 300, 4);
}

TEST_HARNESS_MAIN
