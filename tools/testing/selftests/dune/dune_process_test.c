// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dune mode process semantics, raw ioctls: signals delivered on the host
 * side while the guest runs or blocks in a system call (restart and EINTR),
 * stack growth, threads entering the same VM, thread exit and vCPU reuse,
 * execve and fork from the guest.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/time.h>

#include "dune_test.h"

static int handled;
static int pipe_fds[2];

static int alarm_usec, alarm_flags;
static bool alarm_repeat;	/* a repeating timer even with SA_RESTART */

static void on_alarm(int sig)
{
	char c = 'x';

	handled++;
	/*
	 * With SA_RESTART, feed the guest's blocked read from the host side.
	 * Without, the read must fail with EINTR: write nothing, and let the
	 * timer repeat, in case it fired before the guest got to the read
	 * (slow emulators).
	 */
	if ((alarm_flags & SA_RESTART) && write(pipe_fds[1], &c, 1) != 1)
		_exit(70);
}

/* In the child that enters: timers are not inherited across fork. */
static void arm_alarm_in_child(struct dune_vm *vm)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = alarm_flags };
	struct itimerval it = { .it_value = { .tv_usec = alarm_usec } };

	if (!(alarm_flags & SA_RESTART) || alarm_repeat)
		it.it_interval = it.it_value;

	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		_exit(71);
}

static void arm_alarm(int usec, int flags)
{
	alarm_usec = usec;
	alarm_flags = flags;
	dune_child_hook = arm_alarm_in_child;
}

static void guest_spin_until_handled(void)
{
	uint64_t r12 = 0x1122334455667788ULL, seen;

	/* A register value that must survive the trip to the host handler. */
	asm volatile("mov %0, %%r12" : : "r"(r12) : "r12");
	while (!__atomic_load_n(&handled, __ATOMIC_ACQUIRE))
		asm volatile("pause");
	asm volatile("mov %%r12, %0" : "=r"(seen));
	guest_exit(seen == r12 ? 0 : 1);
}

TEST(signal_while_running_resumes)
{
	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, pipe(pipe_fds));
	handled = 0;
	arm_alarm(50000, 0);
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_spin_until_handled, false), 0));
}

static void guest_read_pipe(void)
{
	char c = 0;
	long r = gsys3(SYS_read, pipe_fds[0], (long)&c, 1);

	/* SA_RESTART: the read is restarted and gets the handler's byte. */
	guest_exit(r == 1 && c == 'x' ? 0 : (r < 0 ? -r : 100));
}

TEST(blocking_syscall_restarts_with_sa_restart)
{
	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, pipe(pipe_fds));
	handled = 0;
	arm_alarm(50000, SA_RESTART);
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_read_pipe, false), 0));
}

static void guest_read_pipe_eintr(void)
{
	char c = 0;
	long r = gsys3(SYS_read, pipe_fds[0], (long)&c, 1);

	guest_exit(r == -EINTR ? 0 : (r < 0 ? -r : 100));
}

TEST(blocking_syscall_eintr_without_sa_restart)
{
	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, pipe(pipe_fds));
	handled = 0;
	arm_alarm(50000, 0);
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_read_pipe_eintr, false), 0));
}

static void guest_nanosleep(void)
{
	struct timespec req = { .tv_sec = 5 }, rem = { 0 };
	long r = gsys3(SYS_nanosleep, (long)&req, (long)&rem, 0);

	/* Interrupted with a handler: EINTR and the time left. */
	guest_exit(r == -EINTR && rem.tv_sec >= 3 && rem.tv_sec < 5 ? 0 :
		   (r < 0 ? -r : 100));
}

TEST(nanosleep_eintr_reports_remaining)
{
	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, pipe(pipe_fds));
	handled = 0;
	/*
	 * Every 200 ms: entering may take longer than that on a slow emulator,
	 * and a tick before the call would leave nothing to interrupt it.
	 */
	alarm_repeat = true;
	arm_alarm(200000, SA_RESTART);
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_nanosleep, false), 0));
}

static void guest_nanosleep_ignored(void)
{
	struct timespec req = { .tv_nsec = 300000000 }, rem = { 0 };
	long r = gsys3(SYS_nanosleep, (long)&req, (long)&rem, 0);

	/* An ignored signal does not end the sleep. */
	guest_exit(r == 0 ? 0 : (r < 0 ? -r : 100));
}

TEST(ignored_signal_restarts_nanosleep)
{
	int status;
	pid_t pid;

	if (no_dune(_metadata))
		return;
	pid = dune_start_child(guest_nanosleep_ignored, false);
	ASSERT_LT(0, pid);
	usleep(100000);
	/* SIGWINCH is ignored by default: nothing to interrupt the sleep. */
	kill(pid, SIGWINCH);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(exited_with(_metadata, status, 0));
}

static uint64_t below_stack;

static void guest_grow_stack(void)
{
	guest_write64(below_stack, 0x5a5a);
	guest_exit(guest_read64(below_stack) == 0x5a5a ? 0 : 1);
}

TEST(guest_access_grows_stack)
{
	char here;

	if (no_dune(_metadata))
		return;
	/* Well below the main stack's current extent, inside RLIMIT_STACK. */
	below_stack = ((uint64_t)&here - 2 * 1024 * 1024) & ~7ULL;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_grow_stack, false), 0));
}

/* Threads */
static struct dune_vm thread_vm;
static int thread_ok[4];
static alignas(16) uint8_t thread_stacks[4][16384];

static void guest_thread_exit(long idx)
{
	__atomic_store_n(&thread_ok[idx & 3], gsys0(SYS_gettid) > 0 ? 1 : 2, __ATOMIC_RELEASE);
	for (;;)
		gsys1(SYS_exit, 0);
}

struct thread_arg {
	int idx;
};

static void *thread_fn(void *p)
{
	struct thread_arg *a = p;
	struct kvm_dune_enter cfg;

	dune_init_config(&thread_vm, &cfg, (void (*)(void))(void *)guest_thread_exit,
			 thread_stacks[a->idx], sizeof(thread_stacks[a->idx]));
	cfg.regs.rdi = a->idx;
	/* The guest ends the thread with exit(): this never returns. */
	dune_enter(&thread_vm, &cfg);
	return (void *)1;
}

static void run_threads(struct __test_metadata *_metadata, int n)
{
	struct thread_arg args[4];
	pthread_t t[4];
	void *ret;
	int i;

	for (i = 0; i < n; i++) {
		args[i].idx = i;
		thread_ok[i] = 0;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, thread_fn, &args[i]));
	}
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret) TH_LOG("thread %d returned from KVM_DUNE_ENTER", i);
		EXPECT_EQ(1, thread_ok[i]);
	}
}

TEST(threads_enter_and_exit_vcpus_reused)
{
	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, dune_vm_create(&thread_vm));
	ASSERT_EQ(0, dune_build_page_tables(&thread_vm));
	/* Four at once, then four more that reuse the vCPUs of the first. */
	run_threads(_metadata, 4);
	run_threads(_metadata, 4);
}

static const char *const true_argv[] = { "/bin/true", NULL };

static void guest_execve(void)
{
	long r = gsys3(SYS_execve, (long)"/bin/true", (long)true_argv, 0);

	/* Only a failure returns here. */
	guest_exit(r < 0 ? 50 + (-r & 31) : 99);
}

TEST(execve_leaves_dune_mode)
{
	if (no_dune(_metadata))
		return;
	if (access("/bin/true", X_OK))
		SKIP(return, "no /bin/true");
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_execve, false), 0));
}

static void guest_execve_fails(void)
{
	long r = gsys3(SYS_execve, (long)"/nonexistent", (long)true_argv, 0);

	/* The caller stays in Dune mode with the errno. */
	guest_exit(r == -ENOENT && gsys0(SYS_getpid) > 0 ? 0 : 1);
}

TEST(failed_execve_stays)
{
	if (no_dune(_metadata))
		return;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_execve_fails, false), 0));
}

/* FPU/SSE state belongs to the guest and survives system calls and signals. */
static void on_alarm_clobber_fpu(int sig)
{
	/* The host-side handler uses the vector registers itself. */
	asm volatile("pcmpeqb %%xmm0, %%xmm0\n"
		     "pxor %%xmm1, %%xmm1\n" : : : "xmm0", "xmm1");
	handled++;
}

static void arm_fpu_alarm(struct dune_vm *vm)
{
	struct sigaction sa = { .sa_handler = on_alarm_clobber_fpu };
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };

	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		_exit(71);
}

static void guest_fpu(void)
{
	static const uint64_t pattern[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
	uint64_t out[2] = { 0, 0 };

	asm volatile("movdqu %0, %%xmm0" : : "m"(pattern) : "xmm0");
	gsys0(SYS_getpid);
	while (!__atomic_load_n(&handled, __ATOMIC_ACQUIRE))
		asm volatile("pause");
	gsys0(SYS_getppid);
	asm volatile("movdqu %%xmm0, %0" : "=m"(out));
	guest_exit(out[0] == pattern[0] && out[1] == pattern[1] ? 0 : 1);
}

TEST(fpu_state_survives_syscalls_and_signals)
{
	if (no_dune(_metadata))
		return;
	handled = 0;
	dune_child_hook = arm_fpu_alarm;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_fpu, false), 0));
	dune_child_hook = NULL;
}

static uint64_t tscs[2];	/* the guest's, the host's before entering */
static unsigned int host_cpuid[2][4], guest_cpuid[2][4];

static inline uint64_t rdtsc_now(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void take_host_values(struct dune_vm *vm)
{
	__cpuid(0, host_cpuid[0][0], host_cpuid[0][1], host_cpuid[0][2], host_cpuid[0][3]);
	__cpuid(1, host_cpuid[1][0], host_cpuid[1][1], host_cpuid[1][2], host_cpuid[1][3]);
	tscs[1] = rdtsc_now();
}

static void guest_tsc_cpuid(void)
{
	tscs[0] = rdtsc_now();
	__cpuid(0, guest_cpuid[0][0], guest_cpuid[0][1], guest_cpuid[0][2], guest_cpuid[0][3]);
	__cpuid(1, guest_cpuid[1][0], guest_cpuid[1][1], guest_cpuid[1][2], guest_cpuid[1][3]);
	/* Report through a pipe, the globals are the child's. */
	gsys3(SYS_write, pipe_fds[1], (long)tscs, sizeof(tscs));
	gsys3(SYS_write, pipe_fds[1], (long)guest_cpuid, sizeof(guest_cpuid));
	gsys3(SYS_write, pipe_fds[1], (long)host_cpuid, sizeof(host_cpuid));
	guest_exit(0);
}

TEST(tsc_and_cpuid_as_natively)
{
	unsigned int g[2][4], h[2][4];
	uint64_t tsc[2];

	if (no_dune(_metadata))
		return;
	ASSERT_EQ(0, pipe(pipe_fds));
	dune_child_hook = take_host_values;
	ASSERT_TRUE(exited_with(_metadata, dune_run_child(guest_tsc_cpuid, false), 0));
	dune_child_hook = NULL;
	ASSERT_EQ(sizeof(tsc), read(pipe_fds[0], tsc, sizeof(tsc)));
	ASSERT_EQ(sizeof(g), read(pipe_fds[0], g, sizeof(g)));
	ASSERT_EQ(sizeof(h), read(pipe_fds[0], h, sizeof(h)));
	/* The guest's TSC is the host's: later than the host's read before entering. */
	EXPECT_LT(tsc[1], tsc[0]) TH_LOG("guest TSC %llu, host TSC before entering %llu",
					 (unsigned long long)tsc[0], (unsigned long long)tsc[1]);
	/* Same vendor and signature (family, model, stepping) as natively. */
	EXPECT_EQ(h[0][0] >= 1, g[0][0] >= 1);
	EXPECT_EQ(h[0][1], g[0][1]);
	EXPECT_EQ(h[0][2], g[0][2]);
	EXPECT_EQ(h[0][3], g[0][3]);
	EXPECT_EQ(h[1][0], g[1][0]);
	/* SSE2 and the features glibc picks its string functions by. */
	EXPECT_EQ(h[1][3] & (1u << 26), g[1][3] & (1u << 26));
	EXPECT_EQ(h[1][2] & (1u << 28), g[1][2] & (1u << 28)) TH_LOG("AVX differs");
}

TEST_HARNESS_MAIN
