// SPDX-License-Identifier: MIT
/*
 * Creating the Dune VM and entering Dune mode.
 *
 * dune_init() creates the VM, reads its layout and builds the page tables
 * and the IDT.  dune_enter() gives the calling thread a GDT, a TSS with IST
 * stacks and a private host stack, and issues KVM_DUNE_ENTER from that host
 * stack (see __dune_enter in entry.S): the guest resumes on the caller's
 * own stack, returning 0 from dune_enter(), while the host side of the
 * thread stays parked in the ioctl.  Host-side signal handlers run on that
 * private stack, after which the kernel restarts the ioctl.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "internal.h"

struct dune_state dune_state = { .vm_fd = -1 };
__thread struct dune_percpu *dune_tls_pc;
__thread int dune_tls_entered;

static pthread_mutex_t dune_init_lock = PTHREAD_MUTEX_INITIALIZER;
/* A spin lock: also taken by clone children whose TLS is not glibc's. */
static int dune_pc_lock;
static struct dune_percpu *dune_pc_list;
static struct dune_ptmem *dune_pool;
static struct dune_vm dune_main_vm;
static __thread char dune_errbuf[256];

_Static_assert(offsetof(struct dune_percpu, self) == PC_SELF, "PC_SELF");
_Static_assert(offsetof(struct dune_percpu, kstack) == PC_KSTACK, "PC_KSTACK");
_Static_assert(offsetof(struct dune_percpu, scratch) == PC_SCRATCH, "PC_SCRATCH");
_Static_assert(offsetof(struct dune_percpu, user_ctx) == PC_USER_CTX, "PC_USER_CTX");
_Static_assert(offsetof(struct dune_percpu, user_fs_on) == PC_USER_FS_ON, "PC_USER_FS_ON");
_Static_assert(offsetof(struct dune_percpu, user_fs) == PC_USER_FS, "PC_USER_FS");
_Static_assert(offsetof(struct dune_percpu, kernel_fs) == PC_KERNEL_FS, "PC_KERNEL_FS");
_Static_assert(offsetof(struct dune_percpu, gdt) == PC_GDT, "PC_GDT");
_Static_assert(offsetof(struct dune_percpu, tss) == PC_TSS, "PC_TSS");
_Static_assert(sizeof(struct dune_tss) == 104, "TSS size");
_Static_assert(sizeof(struct dune_idt_gate) == 16, "gate size");
_Static_assert(offsetof(struct dune_percpu, clone_regs) == PC_CLONE_REGS, "PC_CLONE_REGS");
_Static_assert(offsetof(struct dune_percpu, clone_call_rsp) == PC_CLONE_CALL_RSP,
	       "PC_CLONE_CALL_RSP");
_Static_assert(offsetof(struct dune_percpu, host_stack_top) == PC_HOST_STACK, "PC_HOST_STACK");
_Static_assert(offsetof(struct dune_percpu, owner_tid) == PC_OWNER_TID, "PC_OWNER_TID");
_Static_assert(offsetof(struct kvm_regs, rbx) == KR_RBX, "KR_RBX");
_Static_assert(offsetof(struct kvm_regs, rsp) == KR_RSP, "KR_RSP");
_Static_assert(offsetof(struct kvm_regs, r8) == KR_R8, "KR_R8");
_Static_assert(offsetof(struct kvm_regs, r15) == KR_R15, "KR_R15");
_Static_assert(offsetof(struct kvm_regs, rip) == KR_RIP, "KR_RIP");
_Static_assert(offsetof(struct kvm_regs, rflags) == KR_RFLAGS, "KR_RFLAGS");
_Static_assert(sizeof(struct dune_percpu) <= PAGE_SIZE, "percpu fits a page");
_Static_assert(offsetof(struct kvm_dune_enter, regs.rax) == E_RAX, "E_RAX");
_Static_assert(offsetof(struct kvm_dune_enter, regs.rbx) == E_RBX, "E_RBX");
_Static_assert(offsetof(struct kvm_dune_enter, regs.rsp) == E_RSP, "E_RSP");
_Static_assert(offsetof(struct kvm_dune_enter, regs.rbp) == E_RBP, "E_RBP");
_Static_assert(offsetof(struct kvm_dune_enter, regs.r12) == E_R12, "E_R12");
_Static_assert(offsetof(struct kvm_dune_enter, regs.r13) == E_R13, "E_R13");
_Static_assert(offsetof(struct kvm_dune_enter, regs.r14) == E_R14, "E_R14");
_Static_assert(offsetof(struct kvm_dune_enter, regs.r15) == E_R15, "E_R15");
_Static_assert(offsetof(struct kvm_dune_enter, regs.rip) == E_RIP, "E_RIP");
_Static_assert(offsetof(struct kvm_dune_enter, regs.rflags) == E_RFLAGS, "E_RFLAGS");
_Static_assert(sizeof(struct kvm_dune_enter) == 272, "kvm_dune_enter size");
_Static_assert(offsetof(struct dune_tf, vector) == TF_VECTOR, "TF_VECTOR");
_Static_assert(offsetof(struct dune_tf, err) == TF_ERR, "TF_ERR");
_Static_assert(offsetof(struct dune_tf, rip) == TF_RIP, "TF_RIP");
_Static_assert(offsetof(struct dune_tf, cs) == TF_CS, "TF_CS");
_Static_assert(offsetof(struct dune_tf, rflags) == TF_RFLAGS, "TF_RFLAGS");
_Static_assert(offsetof(struct dune_tf, rsp) == TF_RSP, "TF_RSP");
_Static_assert(offsetof(struct dune_tf, ss) == TF_SS, "TF_SS");
_Static_assert(sizeof(struct dune_tf) == TF_SIZE, "TF_SIZE");

/* ---- errors ---- */

int dune_set_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dune_errbuf, sizeof(dune_errbuf), fmt, ap);
	va_end(ap);
	return err;
}

void dune_clear_error(void)
{
	dune_errbuf[0] = '\0';
}

DUNE_API const char *dune_last_error(void)
{
	return dune_errbuf;
}

DUNE_API const char *dune_strerror(int err)
{
	switch (-err) {
	case 0:
		return "success";
	case EOPNOTSUPP:
		return "the kernel has no Dune mode (KVM_CAP_X86_DUNE)";
	case EPROTO:
		return "unsupported Dune ABI version or inconsistent VM layout";
	case EEXIST:
		return "this process already has a Dune VM";
	case EBUSY:
		return "the thread is already in Dune mode";
	case EIO:
		return "the Dune VM belongs to another process (after fork?)";
	case ENOENT:
		return "/dev/kvm not found (is KVM loaded?)";
	case EACCES:
		return "no permission to open /dev/kvm";
	default:
		return strerror(-err);
	}
}

/*
 * ---- raw system calls (no libc, no errno: used on the ENTER stack and by
 * clone children whose TLS is not glibc's; in ring 0 they go through LSTAR)
 */

long dune_raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static long host_syscall3(long nr, long a1, long a2, long a3)
{
	return dune_raw_syscall6(nr, a1, a2, a3, 0, 0, 0);
}

static long host_syscall4(long nr, long a1, long a2, long a3, long a4)
{
	return dune_raw_syscall6(nr, a1, a2, a3, a4, 0, 0);
}

static size_t cstrlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

void dune_host_puts(const char *s)
{
	host_syscall3(SYS_write, 2, (long)s, (long)cstrlen(s));
}
#define host_puts dune_host_puts

char *dune_fmt_dec(char *end, unsigned long v)
{
	*--end = '\0';
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static const char *exit_reason_name(uint32_t r)
{
	switch (r) {
	case KVM_DUNE_EXIT_SHUTDOWN:
		return "triple fault (shutdown)";
	case KVM_DUNE_EXIT_HLT:
		return "HLT in ring 0";
	case KVM_DUNE_EXIT_FAIL_ENTRY:
		return "VM entry failed (invalid guest state)";
	case KVM_DUNE_EXIT_INTERNAL:
		return "KVM internal error";
	default:
		return "unknown reason";
	}
}

/*
 * The ENTER ioctl returned 0: the thread has left Dune mode and the code it
 * was running cannot be resumed.  Runs on the private host stack.  Say why
 * and end the process as a native crash would, with SIGSEGV.
 */
void __dune_left_guest(struct kvm_dune_enter *e)
{
	char num[24], hex[20];
	long tid = host_syscall3(SYS_gettid, 0, 0, 0);

	host_puts("libdune: thread ");
	host_puts(dune_fmt_dec(num + sizeof(num), (unsigned long)tid));
	host_puts(" left Dune mode: ");
	host_puts(exit_reason_name(e->exit_reason));
	host_puts(" (exit_reason ");
	host_puts(dune_fmt_dec(num + sizeof(num), e->exit_reason));
	host_puts(", exit_info 0x");
	dune_fmt_hex(hex, e->exit_info[0], 16);
	host_puts(hex);
	host_puts(" 0x");
	dune_fmt_hex(hex, e->exit_info[1], 16);
	host_puts(hex);
	host_puts("); terminating with SIGSEGV\n");
	dune_kill_segv();
}

/* End the process as a native crash of this thread would, with SIGSEGV. */
void dune_kill_segv(void)
{
	struct { unsigned long handler, flags, restorer, mask; } sa = { 0, 0, 0, 0 };
	unsigned long set = 1UL << (SIGSEGV - 1);
	long tid = host_syscall3(SYS_gettid, 0, 0, 0);

	host_syscall4(SYS_rt_sigaction, SIGSEGV, (long)&sa, 0, 8);
	host_syscall4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, 8);
	host_syscall3(SYS_tgkill, host_syscall3(SYS_getpid, 0, 0, 0), tid, SIGSEGV);
	host_syscall3(SYS_exit_group, 128 + SIGSEGV, 0, 0);
	for (;;)
		;
}

/* ---- CPU features ---- */

static void detect_vendor(void)
{
	unsigned int eax, ebx, ecx, edx;

	__cpuid(0, eax, ebx, ecx, edx);
	/* "AuthenticAMD" and "HygonGenuine" use VMMCALL, everyone else VMCALL. */
	dune_state.amd = (ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163) ||
			 (ebx == 0x6f677948 && edx == 0x6e65476e && ecx == 0x656e6975);
}

/* Features as KVM offers them to its guests, else as the host has them. */
static void detect_features(int kvm_fd)
{
	struct kvm_cpuid2 *cpuid;
	unsigned int n, i, eax, ebx, ecx, edx;
	bool got = false;

	for (n = 128; n <= 4096 && !got; n *= 2) {
		cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
		if (!cpuid)
			break;
		cpuid->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) {
			got = true;
			for (i = 0; i < cpuid->nent; i++) {
				struct kvm_cpuid_entry2 *en = &cpuid->entries[i];

				if (en->function == 1)
					dune_state.has_pcid = !!(en->ecx & (1u << 17));
				else if (en->function == 7 && en->index == 0)
					dune_state.has_invpcid = !!(en->ebx & (1u << 10));
				else if (en->function == 0x80000001)
					dune_state.has_1g = !!(en->edx & (1u << 26));
			}
		}
		free(cpuid);
		if (!got && errno != E2BIG)
			break;
	}
	if (got)
		return;
	if (__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		dune_state.has_pcid = !!(ecx & (1u << 17));
	if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		dune_state.has_invpcid = !!(ebx & (1u << 10));
	if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx))
		dune_state.has_1g = !!(edx & (1u << 26));
}

DUNE_API int dune_has_pcid(void) { return dune_state.has_pcid; }
DUNE_API int dune_has_invpcid(void) { return dune_state.has_invpcid; }
DUNE_API int dune_has_1g_pages(void) { return dune_state.has_1g; }

/* ---- init ---- */

static int open_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return dune_set_error(-errno, "cannot open /dev/kvm: %s", strerror(errno));
	return fd;
}

DUNE_API int dune_probe(void)
{
	int fd, r;

	dune_clear_error();
	fd = open_kvm();
	if (fd < 0)
		return fd;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DUNE);
	close(fd);
	if (r <= 0)
		return dune_set_error(-EOPNOTSUPP,
				      "KVM_CHECK_EXTENSION(KVM_CAP_X86_DUNE) says no: "
				      "this kernel has no Dune mode");
	return r;
}

static void dune_atfork_child(void)
{
	/*
	 * The child of fork() is a new process whose only thread runs
	 * natively; the VM is its parent's (its ioctls fail with EIO).  Forget
	 * it so that the child may call dune_init() for a VM of its own.  The
	 * memory of the old state is left alone.
	 */
	if (dune_state.vm_fd >= 0)
		close(dune_state.vm_fd);
	memset(&dune_state, 0, sizeof(dune_state));
	dune_state.vm_fd = -1;
	dune_pool = NULL;
	dune_pc_list = NULL;
	dune_pc_lock = 0;
	dune_tls_pc = NULL;
	dune_tls_entered = 0;
}

static int build_page_tables(void)
{
	const struct kvm_dune_layout *l = &dune_state.layout;
	unsigned int i;
	int r;

	dune_pool = dune_ptpool_create(l);
	if (!dune_pool)
		return dune_set_error(-ENOMEM, "out of memory for the page-table pool");
	r = dune_pt_init(&dune_main_vm, dune_pool,
			 dune_state.has_1g ? DUNE_LEVEL_1G : DUNE_LEVEL_2M, l);
	if (r)
		return dune_set_error(r, "cannot allocate the top-level page table");
	for (i = 0; i < l->nr_windows; i++) {
		const struct kvm_dune_window *w = &l->windows[i];

		r = dune_vm_map_phys(&dune_main_vm, (void *)(uintptr_t)w->hva, w->size, w->gpa,
				     DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X);
		if (r)
			return dune_set_error(r, "cannot map window %u: %s", i, strerror(-r));
	}
	dune_main_vm.flush = dune_live_flush;
	dune_state.vm = &dune_main_vm;
	return 0;
}

static int build_idt(void)
{
	struct dune_idt_gate *idt;
	uint64_t pa;

	idt = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_POPULATE, -1, 0);
	if (idt == MAP_FAILED)
		return dune_set_error(-ENOMEM, "cannot allocate the IDT");
	if (dune_layout_va_to_pa(&dune_state.layout, (uint64_t)(uintptr_t)idt, &pa)) {
		munmap(idt, PAGE_SIZE);
		return dune_set_error(-EFAULT, "the IDT at %p is outside every window", idt);
	}
	dune_idt_fill(idt, (uint64_t)(uintptr_t)__dune_trap_stubs, DUNE_TRAP_STUB_SIZE);
	dune_state.idt = idt;

	dune_state.shootdown_page = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dune_state.shootdown_page == MAP_FAILED)
		dune_state.shootdown_page = NULL;
	return 0;
}

static int dune_init_locked(void)
{
	static bool atfork_done;
	char why[128];
	int kvm_fd, vm_fd, r;

	kvm_fd = open_kvm();
	if (kvm_fd < 0)
		return kvm_fd;
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DUNE);
	if (r <= 0) {
		close(kvm_fd);
		return dune_set_error(-EOPNOTSUPP,
				      "KVM_CHECK_EXTENSION(KVM_CAP_X86_DUNE) says no: "
				      "this kernel has no Dune mode");
	}
	if (r != KVM_DUNE_ABI_VERSION) {
		close(kvm_fd);
		return dune_set_error(-EPROTO, "Dune ABI version %d, libdune knows %d", r,
				      KVM_DUNE_ABI_VERSION);
	}
	dune_state.abi_version = r;

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_DUNE_VM);
	if (vm_fd < 0) {
		r = -errno;
		close(kvm_fd);
		if (r == -EEXIST)
			return dune_set_error(r, "KVM_CREATE_VM: this process already has a "
					      "Dune VM (not made by this libdune?)");
		return dune_set_error(r, "KVM_CREATE_VM(KVM_X86_DUNE_VM): %s", strerror(-r));
	}
	detect_vendor();
	detect_features(kvm_fd);
	dune_fpu_init();
	close(kvm_fd);

	if (ioctl(vm_fd, KVM_DUNE_GET_LAYOUT, &dune_state.layout) < 0) {
		r = -errno;
		close(vm_fd);
		return dune_set_error(r, "KVM_DUNE_GET_LAYOUT: %s", strerror(-r));
	}
	r = dune_layout_check(&dune_state.layout, why, sizeof(why));
	if (r) {
		close(vm_fd);
		return dune_set_error(r, "the kernel's layout is inconsistent: %s", why);
	}
	dune_state.vm_fd = vm_fd;

	r = build_page_tables();
	if (!r)
		r = build_idt();
	if (r) {
		/* The VM stays: a second KVM_CREATE_VM would fail with EEXIST. */
		return r;
	}
	if (!atfork_done) {
		pthread_atfork(NULL, NULL, dune_atfork_child);
		atfork_done = true;
	}
	dune_state.initialized = 1;
	return 0;
}

DUNE_API int dune_init(void)
{
	int r = 0;

	dune_clear_error();
	pthread_mutex_lock(&dune_init_lock);
	if (!dune_state.initialized) {
		if (dune_state.vm_fd >= 0)
			r = dune_set_error(-EEXIST, "an earlier dune_init() failed half way; "
					   "the VM cannot be made again");
		else
			r = dune_init_locked();
	}
	pthread_mutex_unlock(&dune_init_lock);
	return r;
}

/* ---- layout queries ---- */

DUNE_API int dune_get_layout(struct dune_window *w, int max, unsigned int *gpa_bits)
{
	const struct kvm_dune_layout *l = &dune_state.layout;
	int i;

	if (!dune_state.initialized)
		return -EINVAL;
	for (i = 0; i < (int)l->nr_windows && i < max; i++) {
		w[i].va = l->windows[i].hva;
		w[i].pa = l->windows[i].gpa;
		w[i].size = l->windows[i].size;
		w[i].kind = l->windows[i].kind;
	}
	if (gpa_bits)
		*gpa_bits = l->gpa_bits;
	return (int)l->nr_windows;
}

DUNE_API int dune_va_to_pa(const void *va, uint64_t *pa)
{
	if (!dune_state.initialized)
		return -EINVAL;
	return dune_layout_va_to_pa(&dune_state.layout, (uint64_t)(uintptr_t)va, pa);
}

DUNE_API void *dune_pa_to_va(uint64_t pa)
{
	uint64_t va;

	if (!dune_state.initialized || dune_layout_pa_to_va(&dune_state.layout, pa, &va))
		return NULL;
	return (void *)(uintptr_t)va;
}

/* ---- per-thread state ---- */

/* Sizes of the pieces of a thread's region, from the bottom up. */
#define HOST_STACK_SIZE	(64 * 1024)	/* the ENTER ioctl and host signal handlers */
#define IST_SIZE	(32 * 1024)	/* #DF, NMI, #MC (room for an AMX XSAVE area) */
#define TRAMP_SIZE	(8 * 1024)	/* every other vector, briefly */
#define KSTACK_SIZE	(32 * 1024)	/* ring 0 when no dune_jump_to_user frame */

struct region_layout {
	size_t host, ist[3], tramp, kstack, pc, total;
};

static void region_layout(struct region_layout *rl)
{
	size_t off = PAGE_SIZE;		/* guard */
	int i;

	rl->host = off;
	off += HOST_STACK_SIZE + PAGE_SIZE;
	for (i = 0; i < 3; i++) {
		rl->ist[i] = off;
		off += IST_SIZE + PAGE_SIZE;
	}
	rl->tramp = off;
	off += TRAMP_SIZE + PAGE_SIZE;
	rl->kstack = off;
	off += KSTACK_SIZE;
	rl->pc = off;
	off += PAGE_SIZE;
	rl->total = off;
}

/*
 * Whether thread @tid still exists: a thread of this process, or (a clone
 * with CLONE_VM but not CLONE_THREAD) a process of its own.  Raw calls: the
 * caller's TLS may not be glibc's.
 */
static bool thread_alive(int tid)
{
	long pid = dune_raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);

	if (dune_raw_syscall6(SYS_tgkill, pid, tid, 0, 0, 0, 0) != -ESRCH)
		return true;
	return dune_raw_syscall6(SYS_kill, tid, 0, 0, 0, 0, 0) != -ESRCH;
}

static void pc_lock(void)
{
	while (__atomic_exchange_n(&dune_pc_lock, 1, __ATOMIC_ACQUIRE))
		dune_raw_syscall6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

static void pc_unlock(void)
{
	__atomic_store_n(&dune_pc_lock, 0, __ATOMIC_RELEASE);
}

/*
 * A per-thread region for @owner: the region of a thread that has exited
 * (or of a clone that failed), else a new one.  @owner is the caller's tid,
 * or -1 to reserve it for a clone child, which puts its tid in when it runs.
 * No libc calls that touch TLS (errno, mutexes): see dune_cur_pc().
 */
struct dune_percpu *dune_percpu_get(int owner, int *err)
{
	struct region_layout rl;
	struct dune_percpu *pc;
	uint64_t ist[7] = { 0 };
	uint64_t pa0, pa1;
	char *base;
	size_t off;
	int tid = (int)dune_raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	long r;

	/* Reuse the region of a thread that has exited. */
	pc_lock();
	for (pc = dune_pc_list; pc; pc = pc->next) {
		int t = __atomic_load_n(&pc->owner_tid, __ATOMIC_ACQUIRE);

		if (t == 0 || (t > 0 && t != tid && !thread_alive(t))) {
			pc->owner_tid = owner;
			pc->entered = 0;
			break;
		}
	}
	pc_unlock();
	if (pc)
		return pc;

	region_layout(&rl);
	r = dune_raw_syscall6(SYS_mmap, 0, (long)rl.total, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r < 0 && r > -4096) {
		*err = -ENOMEM;
		return NULL;
	}
	base = (char *)r;
	if (dune_layout_va_to_pa(&dune_state.layout, (uint64_t)(uintptr_t)base, &pa0) ||
	    dune_layout_va_to_pa(&dune_state.layout,
				 (uint64_t)(uintptr_t)base + rl.total - 1, &pa1) ||
	    pa1 - pa0 != rl.total - 1) {
		dune_raw_syscall6(SYS_munmap, (long)base, (long)rl.total, 0, 0, 0, 0);
		*err = -EFAULT;
		return NULL;
	}
	/* Guard pages below every stack: a host fault (SIGSEGV) on overflow. */
	dune_raw_syscall6(SYS_mprotect, (long)base, PAGE_SIZE, PROT_NONE, 0, 0, 0);
	for (off = rl.host + HOST_STACK_SIZE; off < rl.kstack; off += PAGE_SIZE) {
		bool guard = off == rl.ist[0] - PAGE_SIZE || off == rl.ist[1] - PAGE_SIZE ||
			     off == rl.ist[2] - PAGE_SIZE || off == rl.tramp - PAGE_SIZE ||
			     off == rl.kstack - PAGE_SIZE;

		if (guard)
			dune_raw_syscall6(SYS_mprotect, (long)(base + off), PAGE_SIZE,
					  PROT_NONE, 0, 0, 0);
	}

	pc = (struct dune_percpu *)(base + rl.pc);
	pc->self = (uint64_t)(uintptr_t)pc;
	pc->region = base;
	pc->region_len = rl.total;
	pc->host_stack_top = (uint64_t)(uintptr_t)(base + rl.host + HOST_STACK_SIZE);
	pc->default_kstack = (uint64_t)(uintptr_t)(base + rl.kstack + KSTACK_SIZE);
	ist[IST_DF - 1] = (uint64_t)(uintptr_t)(base + rl.ist[0] + IST_SIZE);
	ist[IST_NMI - 1] = (uint64_t)(uintptr_t)(base + rl.ist[1] + IST_SIZE);
	ist[IST_MC - 1] = (uint64_t)(uintptr_t)(base + rl.ist[2] + IST_SIZE);
	ist[IST_TRAMP - 1] = (uint64_t)(uintptr_t)(base + rl.tramp + TRAMP_SIZE);
	dune_tss_fill(&pc->tss, pc->default_kstack, ist);
	pc->owner_tid = owner;

	pc_lock();
	pc->next = dune_pc_list;
	dune_pc_list = pc;
	pc_unlock();
	return pc;
}

static struct dune_percpu *percpu_alloc(void)
{
	struct dune_percpu *pc;
	int err = 0;

	pc = dune_percpu_get((int)syscall(SYS_gettid), &err);
	if (pc)
		return pc;
	if (err == -EFAULT)
		dune_set_error(-EFAULT, "the thread's Dune stacks are outside every window");
	else
		dune_set_error(-ENOMEM, "cannot allocate the thread's Dune stacks");
	return NULL;
}

static uint64_t lstar_entry(void)
{
	return (uint64_t)(uintptr_t)(dune_state.amd ? __dune_syscall_amd
						    : __dune_syscall_intel);
}

/* Fresh per-entry state: a GDT whose TSS descriptor is not busy, etc. */
static void percpu_prepare(struct dune_percpu *pc)
{
	pc->kstack = pc->default_kstack;
	pc->tss.rsp[0] = pc->default_kstack;
	pc->scratch = 0;
	pc->user_ctx = 0;
	pc->user_fs_on = 0;
	pc->user_fs = 0;
	pc->kernel_fs = 0;
	dune_gdt_fill(pc->gdt, &pc->tss);
}

/* percpu_prepare() and the KVM_DUNE_ENTER argument for a fresh entry. */
void dune_percpu_prepare_enter(struct dune_percpu *pc)
{
	struct kvm_dune_enter *e = &pc->enter;

	percpu_prepare(pc);
	memset(e, 0, sizeof(*e));
	e->regs.rflags = RFLAGS_IF | 0x2;
	e->regs.rdi = pc->self;			/* for __dune_guest_setup */
	e->regs.rsi = lstar_entry();
	e->cr3 = dune_state.vm->root_pa;
	e->gdt.base = (uint64_t)(uintptr_t)pc->gdt;
	e->gdt.limit = GDT_ENTRIES * 8 - 1;
	e->idt.base = (uint64_t)(uintptr_t)dune_state.idt;
	e->idt.limit = 256 * sizeof(struct dune_idt_gate) - 1;
}

DUNE_API int dune_enter(void)
{
	struct dune_percpu *pc;
	long r;

	dune_clear_error();
	if (!dune_state.initialized)
		return dune_set_error(-EINVAL, "dune_enter: dune_init() has not succeeded");
	if (dune_tls_entered || dune_cpu_in_ring0())
		return dune_set_error(-EBUSY, "dune_enter: the thread is in Dune mode already");

	pc = dune_tls_pc;
	if (!pc) {
		pc = percpu_alloc();
		if (!pc)
			return -ENOMEM;
		dune_tls_pc = pc;
	}
	dune_percpu_prepare_enter(pc);

	r = __dune_enter(dune_state.vm_fd, &pc->enter, pc->host_stack_top, KVM_DUNE_ENTER);
	if (r < 0) {
		switch (-r) {
		case EINVAL:
			return dune_set_error((int)r, "KVM_DUNE_ENTER refused the initial "
					      "state (EINVAL)");
		case EBUSY:
			return dune_set_error((int)r, "KVM_DUNE_ENTER: the thread is in Dune "
					      "mode already (EBUSY)");
		case EIO:
			return dune_set_error((int)r, "KVM_DUNE_ENTER: the VM belongs to "
					      "another process (EIO)");
		default:
			return dune_set_error((int)r, "KVM_DUNE_ENTER: %s", strerror((int)-r));
		}
	}

	/* Dune mode, ring 0, on the caller's stack; __dune_guest_setup has run. */
	pc->entered = 1;
	dune_tls_entered = 1;
	return 0;
}

DUNE_API int dune_init_and_enter(void)
{
	int r = dune_init();

	if (r)
		return r;
	return dune_enter();
}

DUNE_API int dune_in_guest(void)
{
	return dune_cpu_in_ring0() && dune_read_cs() == GDT_KERNEL_CS;
}

/* Ring 3's own FS base: entry.S swaps it with ring 0's (see dune.h). */
DUNE_API int dune_set_user_fs(uint64_t base)
{
	struct dune_percpu *pc;

	if (!dune_cpu_in_ring0())
		return -EPERM;
	pc = dune_cur_pc();
	if (base >= (1ULL << 47))	/* WRMSR of a non-canonical base: #GP */
		return -EINVAL;
	pc->user_fs = base;
	pc->user_fs_on = 1;
	return 0;
}

DUNE_API int dune_get_user_fs(uint64_t *base)
{
	struct dune_percpu *pc;

	if (!dune_cpu_in_ring0())
		return -EPERM;
	pc = dune_cur_pc();
	if (!pc->user_fs_on)
		return -ENOENT;
	if (base)
		*base = pc->user_fs;
	return 0;
}

/*
 * A thread that finds itself in ring 0 without having entered through
 * dune_enter() (a kernel that starts clone children in Dune mode): give it
 * its own GDT, TSS and MSRs.  The CR3 and IDT are whatever the kernel gave.
 */
int dune_thread_setup_in_guest(void)
{
	struct dune_percpu *pc = dune_tls_pc;
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr, idtr;

	if (!dune_state.initialized || !dune_cpu_in_ring0())
		return -EINVAL;
	if (!pc) {
		pc = percpu_alloc();
		if (!pc)
			return -ENOMEM;
		dune_tls_pc = pc;
	}
	percpu_prepare(pc);
	gdtr.limit = GDT_ENTRIES * 8 - 1;
	gdtr.base = (uint64_t)(uintptr_t)pc->gdt;
	idtr.limit = 256 * sizeof(struct dune_idt_gate) - 1;
	idtr.base = (uint64_t)(uintptr_t)dune_state.idt;
	__asm__ volatile("lgdt %0\n\tlidt %1" : : "m"(gdtr), "m"(idtr) : "memory");
	/* Reload CS and SS from the new GDT (same selectors as the kernel's). */
	__asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"	/* the red zone */
			 "pushq %0\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl %1, %%eax\n\t"
			 "movl %%eax, %%ss\n\t"
			 "leaq 128(%%rsp), %%rsp"
			 : : "i"(GDT_KERNEL_CS), "i"(GDT_KERNEL_DS) : "rax", "memory");
	__dune_guest_setup(pc, lstar_entry());
	pc->entered = 1;
	dune_tls_entered = 1;
	return 0;
}

struct dune_ptmem *dune_pool_get(void)
{
	return dune_pool;
}
