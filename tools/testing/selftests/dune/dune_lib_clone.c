// SPDX-License-Identifier: GPL-2.0-only
/*
 * Threads made from Dune mode by a raw clone or clone3 with CLONE_VM, not
 * through pthread_create(): libdune's SYSCALL entry makes the child enter
 * Dune mode on a vCPU of its own, resuming after the system call with
 * RAX = 0, the stack and TLS the call asked for and every other register as
 * the parent had it.  Children of fork and vfork (and of clone with
 * CLONE_VFORK) run natively and exit with their own status.
 *
 * The clone children run on TLS blocks that are not glibc's, so they use
 * raw system calls only and report through memory; the parent waits on
 * the CLONE_CHILD_CLEARTID futex.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "dune_lib_util.h"

#define STACK_SIZE	(64 * 1024)
#define TLS_SIZE	4096
#define MAGIC_R14	0x1414141414141414UL
#define MAGIC_R15	0x0f1f2f3f4f5f6f7fUL
#define CHILD_MXCSR	0x7f80		/* default masks, rounding toward zero */
#define THREAD_FLAGS	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | \
			 CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | \
			 CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

/* clone3's argument, version 0 (64 bytes) */
struct clone_args_v0 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

struct report {
	int done;
	int ctid;		/* CLONE_CHILD_CLEARTID */
	int ptid;		/* CLONE_PARENT_SETTID */
	int pipe_wr;
	uint64_t cs, fs0, rsp, mxcsr, rflags;
	uint64_t r14, r15, rdi;	/* registers at the return from clone3 */
	long tid, pid, write_ret, nested_in_guest;
	char *stack, *tls;
};

static long rsys(long nr, long a1, long a2, long a3)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory");
	return ret;
}

static long rsys4(long nr, long a1, long a2, long a3, long a4)
{
	register long r10 __asm__("r10") = a4;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static uint64_t read_cs(void)
{
	uint64_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 0xffff;
}

static uint64_t read_rflags(void)
{
	uint64_t f;

	__asm__ volatile("pushfq\n\tpopq %0" : "=r"(f));
	return f;
}

static uint32_t read_mxcsr(void)
{
	uint32_t m;

	__asm__ volatile("stmxcsr %0" : "=m"(m));
	return m;
}

static void write_mxcsr(uint32_t m)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(m));
}

/* What every clone child records, with raw system calls only. */
static void child_report(struct report *rep)
{
	uint64_t fs0;
	int local;

	__asm__ volatile("movq %%fs:0, %0" : "=r"(fs0));
	rep->cs = read_cs();
	rep->rflags = read_rflags();
	rep->fs0 = fs0;
	rep->rsp = (uint64_t)(uintptr_t)&local;
	rep->mxcsr = read_mxcsr();
	rep->tid = rsys(SYS_gettid, 0, 0, 0);
	rep->pid = rsys(SYS_getpid, 0, 0, 0);
	rep->write_ret = rsys(SYS_write, rep->pipe_wr, (long)"x", 1);
}

static noreturn void child_exit(struct report *rep, int code)
{
	__atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
	rsys(SYS_exit, code, 0, 0);
	__builtin_trap();
}

/* clone3's child: fn(arg, r14, r15, rdi) on the new stack, never returns. */
typedef void (*clone3_fn)(void *arg, uint64_t r14, uint64_t r15, uint64_t rdi);

static long clone3_run(struct clone_args_v0 *ca, clone3_fn fn, void *arg)
{
	register long r12 __asm__("r12") = (long)fn;
	register long r13 __asm__("r13") = (long)arg;
	register long r14 __asm__("r14") = (long)MAGIC_R14;
	register long r15 __asm__("r15") = (long)MAGIC_R15;
	long ret;

	__asm__ volatile("syscall\n\t"
			 "testq %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "movq %%rdi, %%rcx\n\t"
			 "movq %%r13, %%rdi\n\t"
			 "movq %%r14, %%rsi\n\t"
			 "movq %%r15, %%rdx\n\t"
			 "andq $-16, %%rsp\n\t"
			 "call *%%r12\n\t"
			 "ud2\n"
			 "1:"
			 : "=a"(ret)
			 : "a"((long)SYS_clone3), "D"(ca), "S"(sizeof(*ca)), "r"(r12), "r"(r13),
			   "r"(r14), "r"(r15)
			 : "rcx", "r11", "memory");
	return ret;
}

static void clone3_child(void *arg, uint64_t r14, uint64_t r15, uint64_t rdi)
{
	struct report *rep = arg;

	rep->r14 = r14;
	rep->r15 = r15;
	rep->rdi = rdi;
	child_report(rep);
	child_exit(rep, 0);
}

static struct report *report_new(void)
{
	struct report *rep = dune_lib_map(PAGE_SZ);
	int p[2];

	if (rep == MAP_FAILED)
		return NULL;
	memset(rep, 0, sizeof(*rep));
	rep->stack = dune_lib_map(STACK_SIZE);
	rep->tls = dune_lib_map(TLS_SIZE);
	if (rep->stack == MAP_FAILED || rep->tls == MAP_FAILED || pipe(p))
		return NULL;
	rep->pipe_wr = p[1];
	rep->ptid = p[0];	/* the read end until the clone sets it */
	rep->ctid = -1;		/* until the child exits (CLONE_CHILD_CLEARTID) */
	/* x86-64 TLS: %fs:0 holds the thread pointer itself */
	*(char **)rep->tls = rep->tls;
	return rep;
}

/* clone3 arguments for a thread that reports into @rep: its stack, its TLS. */
static void thread_args(struct clone_args_v0 *ca, struct report *rep)
{
	memset(ca, 0, sizeof(*ca));
	ca->flags = THREAD_FLAGS;
	ca->child_tid = (uintptr_t)&rep->ctid;
	ca->parent_tid = (uintptr_t)&rep->ptid;
	ca->stack = (uintptr_t)rep->stack;
	ca->stack_size = STACK_SIZE;
	ca->tls = (uintptr_t)rep->tls;
}

/* Wait (60 s at most) until the child has exited: the kernel clears ctid. */
static int wait_ctid(struct report *rep)
{
	struct timespec ts = { 1, 0 };
	int i, v;

	for (i = 0; i < 60; i++) {
		v = __atomic_load_n(&rep->ctid, __ATOMIC_ACQUIRE);
		if (!v)
			return 0;
		syscall(SYS_futex, &rep->ctid, FUTEX_WAIT, v, &ts, NULL, 0);
	}
	return -1;
}

/* The checks every CLONE_VM child must pass; @tls: the FS base it was given. */
static void check_child(struct __test_metadata *_metadata, struct report *rep, long ret,
			int rfd, uint64_t tls, uint32_t mxcsr)
{
	char c = 0;

	ASSERT_GT(ret, 0) TH_LOG("clone: %s", strerror((int)-ret));
	ASSERT_EQ(0, wait_ctid(rep)) TH_LOG("the child did not exit within 60 s (done %d)",
					    rep->done);
	ASSERT_EQ(1, rep->done) TH_LOG("the child exited without reporting");
	EXPECT_EQ(0, rep->cs & 3)
		TH_LOG("the child ran with CS %#lx: natively, not in Dune mode (RPL 0)",
		       (unsigned long)rep->cs);
	EXPECT_EQ(ret, rep->tid) TH_LOG("clone returned %ld, the child's gettid() %ld",
					ret, rep->tid);
	EXPECT_EQ(getpid(), rep->pid) TH_LOG("the child's getpid() %ld", rep->pid);
	EXPECT_EQ(tls, rep->fs0) TH_LOG("the child's %%fs:0 %#lx, expected %#lx",
					(unsigned long)rep->fs0, (unsigned long)tls);
	EXPECT_TRUE(rep->rsp > (uint64_t)(uintptr_t)rep->stack &&
		    rep->rsp < (uint64_t)(uintptr_t)rep->stack + STACK_SIZE)
		TH_LOG("the child ran on %#lx, not on its stack %p..+%#x",
		       (unsigned long)rep->rsp, rep->stack, STACK_SIZE);
	EXPECT_EQ(mxcsr, rep->mxcsr) TH_LOG("the child's MXCSR %#lx, the parent's %#x",
					    (unsigned long)rep->mxcsr, mxcsr);
	EXPECT_EQ(1, rep->write_ret) TH_LOG("the child's write(): %ld", rep->write_ret);
	EXPECT_EQ(1, read(rfd, &c, 1));
	EXPECT_EQ('x', c);
}

/* clone3 with pthread-like flags: the child is in Dune mode with its registers. */
TEST_F_TIMEOUT(dune, clone3_thread_enters, 120)
{
	struct report *rep = report_new();
	struct clone_args_v0 ca = { 0 };
	uint32_t saved = read_mxcsr();
	int rfd;
	long ret;

	ASSERT_NE(NULL, rep);
	rfd = rep->ptid;
	thread_args(&ca, rep);
	write_mxcsr(CHILD_MXCSR);
	ret = clone3_run(&ca, clone3_child, rep);
	write_mxcsr(saved);
	ASSERT_TRUE(dune_in_guest());
	check_child(_metadata, rep, ret, rfd, (uintptr_t)rep->tls, CHILD_MXCSR);
	EXPECT_EQ(ret, rep->ptid) TH_LOG("CLONE_PARENT_SETTID stored %d", rep->ptid);
	EXPECT_EQ(MAGIC_R14, rep->r14) TH_LOG("R14 %#lx", (unsigned long)rep->r14);
	EXPECT_EQ(MAGIC_R15, rep->r15) TH_LOG("R15 %#lx", (unsigned long)rep->r15);
	EXPECT_EQ((uintptr_t)&ca, rep->rdi)
		TH_LOG("RDI %#lx, the clone_args at %p", (unsigned long)rep->rdi, &ca);
	/* In Dune mode, ring 0: IOPL 3 and IF 1, as the parent had them. */
	EXPECT_EQ(0x3200, rep->rflags & 0x3200) TH_LOG("the child's RFLAGS %#lx",
						       (unsigned long)rep->rflags);
}

static int glibc_child(void *arg)
{
	struct report *rep = arg;

	child_report(rep);
	child_exit(rep, 0);
}

/* glibc's clone() wrapper with pthread-like flags */
TEST_F_TIMEOUT(dune, glibc_clone_thread_enters, 120)
{
	struct report *rep = report_new();
	uint32_t mxcsr = read_mxcsr();
	int rfd;
	long ret;

	ASSERT_NE(NULL, rep);
	rfd = rep->ptid;
	ret = clone(glibc_child, rep->stack + STACK_SIZE, THREAD_FLAGS, rep, &rep->ptid,
		    rep->tls, &rep->ctid);
	if (ret < 0)
		ret = -errno;
	check_child(_metadata, rep, ret, rfd, (uintptr_t)rep->tls, mxcsr);
	EXPECT_EQ(ret, rep->ptid) TH_LOG("CLONE_PARENT_SETTID stored %d", rep->ptid);
}

/* Without CLONE_SETTLS the child has the parent's FS base (read-only use). */
TEST_F_TIMEOUT(dune, clone3_without_settls_keeps_fs, 120)
{
	struct report *rep = report_new();
	struct clone_args_v0 ca = { 0 };
	uint64_t fs0;
	int rfd;
	long ret;

	ASSERT_NE(NULL, rep);
	rfd = rep->ptid;
	__asm__ volatile("movq %%fs:0, %0" : "=r"(fs0));
	thread_args(&ca, rep);
	ca.flags &= ~CLONE_SETTLS;
	ca.tls = 0;
	ret = clone3_run(&ca, clone3_child, rep);
	check_child(_metadata, rep, ret, rfd, fs0, read_mxcsr());
}

/* A clone child in Dune mode makes a clone of its own: that one enters too. */
static void nested_child(void *arg, uint64_t r14, uint64_t r15, uint64_t rdi)
{
	struct report *rep = arg;
	struct report *inner = (struct report *)((char *)rep + PAGE_SZ / 2);
	struct clone_args_v0 ca = { 0 };
	struct timespec ts = { 1, 0 };
	long ret;
	int i;

	(void)r14;
	(void)r15;
	(void)rdi;
	thread_args(&ca, inner);
	ret = clone3_run(&ca, clone3_child, inner);
	rep->nested_in_guest = ret;
	for (i = 0; ret > 0 && i < 60; i++) {
		int v = __atomic_load_n(&inner->ctid, __ATOMIC_ACQUIRE);

		if (!v)
			break;
		rsys4(SYS_futex, (long)&inner->ctid, FUTEX_WAIT, v, (long)&ts);
	}
	child_report(rep);
	child_exit(rep, 0);
}

TEST_F_TIMEOUT(dune, nested_clone_enters, 120)
{
	struct report *rep = report_new();
	struct report *inner;
	struct clone_args_v0 ca = { 0 };
	char c = 0;
	int rfd;
	long ret;

	ASSERT_NE(NULL, rep);
	inner = (struct report *)((char *)rep + PAGE_SZ / 2);
	inner->stack = dune_lib_map(STACK_SIZE);
	inner->tls = dune_lib_map(TLS_SIZE);
	ASSERT_NE(MAP_FAILED, inner->stack);
	ASSERT_NE(MAP_FAILED, inner->tls);
	*(char **)inner->tls = inner->tls;
	inner->pipe_wr = rep->pipe_wr;
	inner->ctid = -1;
	rfd = rep->ptid;
	thread_args(&ca, rep);
	ret = clone3_run(&ca, nested_child, rep);
	check_child(_metadata, rep, ret, rfd, (uintptr_t)rep->tls, read_mxcsr());
	ASSERT_GT(rep->nested_in_guest, 0) TH_LOG("the inner clone3: %s",
						  strerror((int)-rep->nested_in_guest));
	EXPECT_EQ(0, __atomic_load_n(&inner->ctid, __ATOMIC_ACQUIRE))
		TH_LOG("the inner child had not exited");
	EXPECT_EQ(1, inner->done);
	EXPECT_EQ(0, inner->cs & 3) TH_LOG("the inner child ran with CS %#lx",
					   (unsigned long)inner->cs);
	EXPECT_EQ((uintptr_t)inner->tls, inner->fs0);
	EXPECT_EQ(rep->nested_in_guest, inner->tid);
	EXPECT_EQ(1, read(rfd, &c, 1)) TH_LOG("the inner child's byte");
}

static int count_maps(void)
{
	char buf[4096];
	int fd = open("/proc/self/maps", O_RDONLY);
	int n = 0;
	ssize_t r, i;

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* The region of an exited clone child is reused: 40 clones, a few regions. */
TEST_F_TIMEOUT(dune, exited_children_regions_reused, 300)
{
	struct report *rep = report_new();
	struct clone_args_v0 ca = { 0 };
	int rfd, i, before = 0, after;
	char c;
	long ret;

	ASSERT_NE(NULL, rep);
	rfd = rep->ptid;
	for (i = 0; i < 45; i++) {
		if (i == 5)
			before = count_maps();
		rep->done = 0;
		rep->cs = 0;
		rep->ctid = -1;
		thread_args(&ca, rep);
		ret = clone3_run(&ca, clone3_child, rep);
		ASSERT_GT(ret, 0) TH_LOG("clone3 #%d: %s", i, strerror((int)-ret));
		ASSERT_EQ(0, wait_ctid(rep)) TH_LOG("child #%d did not exit", i);
		ASSERT_EQ(0, rep->cs & 3) TH_LOG("child #%d ran natively", i);
		ASSERT_EQ(1, read(rfd, &c, 1));
	}
	after = count_maps();
	/* a region is about a dozen mappings; one per child would be ~480 */
	EXPECT_LT(after - before, 60) TH_LOG("mappings: %d after 5 clones, %d after 45",
					     before, after);
}

/* CLONE_VM without CLONE_THREAD: a process sharing the mm, in Dune mode too. */
static int vm_process_child(void *arg)
{
	struct report *rep = arg;

	child_report(rep);
	__atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
	rsys(SYS_exit, 45, 0, 0);
	return 0;
}

TEST_F_TIMEOUT(dune, clone_vm_process_enters, 120)
{
	struct report *rep = report_new();
	int status = 0;
	pid_t pid;

	ASSERT_NE(NULL, rep);
	pid = clone(vm_process_child, rep->stack + STACK_SIZE, CLONE_VM | SIGCHLD, rep);
	ASSERT_GT(pid, 0) TH_LOG("clone: %s", strerror(errno));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(45, WEXITSTATUS(status));
	EXPECT_EQ(1, rep->done);
	EXPECT_EQ(0, rep->cs & 3) TH_LOG("the child ran with CS %#lx", (unsigned long)rep->cs);
	EXPECT_EQ(pid, rep->tid);
	EXPECT_EQ(pid, rep->pid);
}

/* fork: a native child with a copy of the memory, its own exit status. */
TEST_F_TIMEOUT(dune, fork_child_native, 120)
{
	struct report *rep = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status = 0;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, rep);
	pid = fork();
	ASSERT_GE(pid, 0) TH_LOG("fork: %s", strerror(errno));
	if (pid == 0) {
		rep->cs = read_cs();
		rep->rflags = read_rflags();
		rep->done = 1;
		_exit(42);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(42, WEXITSTATUS(status));
	EXPECT_EQ(1, rep->done);
	EXPECT_EQ(3, rep->cs & 3) TH_LOG("the fork child ran with CS %#lx",
					 (unsigned long)rep->cs);
	TH_LOG("fork child: RFLAGS %#lx", (unsigned long)rep->rflags);
	EXPECT_TRUE(dune_in_guest());
}

/* vfork, and clone(CLONE_VM | CLONE_VFORK): native children. */
static int vfork_clone_child(void *arg)
{
	struct report *rep = arg;

	rep->cs = read_cs();
	rep->rflags = read_rflags();
	rep->done = 1;
	rsys(SYS_exit, 44, 0, 0);
	return 0;
}

TEST_F_TIMEOUT(dune, vfork_children_native, 120)
{
	struct report *rep = report_new();
	uint64_t cs, rflags;
	int status = 0;
	pid_t pid;

	ASSERT_NE(NULL, rep);
	/* The vfork child reports through memory it shares with the parent. */
	pid = vfork();
	if (pid == 0) {
		WRITE_ONCE(rep->cs, read_cs());
		WRITE_ONCE(rep->rflags, read_rflags());
		_exit(43);
	}
	cs = READ_ONCE(rep->cs);
	rflags = READ_ONCE(rep->rflags);
	rep->cs = 0;
	ASSERT_GT(pid, 0) TH_LOG("vfork: %s", strerror(errno));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(43, WEXITSTATUS(status));
	EXPECT_EQ(3, cs & 3) TH_LOG("the vfork child ran with CS %#lx", (unsigned long)cs);
	TH_LOG("vfork child: RFLAGS %#lx", (unsigned long)rflags);
	EXPECT_TRUE(dune_in_guest());

	pid = clone(vfork_clone_child, rep->stack + STACK_SIZE,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, rep);
	ASSERT_GT(pid, 0) TH_LOG("clone(CLONE_VM | CLONE_VFORK): %s", strerror(errno));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(44, WEXITSTATUS(status));
	EXPECT_EQ(1, rep->done);
	EXPECT_EQ(3, rep->cs & 3) TH_LOG("the CLONE_VFORK child ran with CS %#lx",
					 (unsigned long)rep->cs);
	EXPECT_TRUE(dune_in_guest());
}

DUNE_LIB_MAIN
