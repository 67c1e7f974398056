// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dune mode stress, bounded in count and time: many threads making VMCALLs
 * at once, enter/exit cycles in fresh processes without kernel memory
 * growth, mmap/munmap/mprotect churn from a host thread while the guest
 * touches the memory, fork/exec storms from Dune mode, signal storms during
 * blocking system calls, THP splitting and swap-out under the guest.
 *
 * Sizes scale with DUNE_STRESS: a number multiplies the default sizes (1,
 * what the CI runs), "full" runs the sizes of issue 6: 64 threads x 10,000
 * VMCALLs, 1,000 enter/exit cycles, 1,000 fork+exec, 30,000 signals.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <linux/futex.h>

#include "dune_test.h"

/*
 * DUNE_STRESS=full runs for minutes under an emulator: the harness's 30 s
 * per test would stop it (the default sizes take seconds; /init's per-program
 * timeout still bounds everything).
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	1800

static bool full_scale(void)
{
	const char *s = getenv("DUNE_STRESS");

	return s && !strcmp(s, "full");
}

static int scale(void)
{
	const char *s = getenv("DUNE_STRESS");
	int n = s ? atoi(s) : 1;

	return n > 0 ? n : 1;
}

#define MAX_THREADS	64

static struct dune_vm vm;
static alignas(16) uint8_t stacks[MAX_THREADS][16384];
static long calls_per_thread;
static long bad[MAX_THREADS];

static void guest_hammer(long idx)
{
	long i, tid = gsys0(SYS_gettid);

	for (i = 0; i < calls_per_thread; i++)
		if (gsys0(SYS_gettid) != tid)
			bad[idx]++;
	for (;;)
		gsys1(SYS_exit, 0);
}

static void *hammer_thread(void *p)
{
	long idx = (long)p;
	struct kvm_dune_enter cfg;

	dune_init_config(&vm, &cfg, (void (*)(void))(void *)guest_hammer,
			 stacks[idx], sizeof(stacks[idx]));
	cfg.regs.rdi = idx;
	dune_enter(&vm, &cfg);
	return (void *)1;
}

TEST(threads_hammer_vmcall)
{
	int nr_threads = full_scale() ? 64 : 16;
	pthread_t t[MAX_THREADS];
	struct timespec t0, t1;
	void *ret;
	long i;

	if (no_dune(_metadata))
		return;
	calls_per_thread = full_scale() ? 10000 : 1000L * scale();
	ASSERT_EQ(0, dune_vm_create(&vm));
	ASSERT_EQ(0, dune_build_page_tables(&vm));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nr_threads; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread, (void *)i));
	for (i = 0; i < nr_threads; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
		EXPECT_EQ(0, bad[i]) TH_LOG("thread %ld saw another thread's tid", i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("%d threads x %ld VMCALLs in %.1f s", nr_threads, calls_per_thread,
	       t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static void guest_exit0(void)
{
	guest_exit(0);
}

static long slab_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * KASAN's quarantine holds freed objects, which still count in Slab, so the
 * figure says nothing about leaks there; the debug kernel's kmemleak scan
 * after the suite does.
 */
static bool kernel_has_kasan(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !!strstr(line, " kasan_");
	fclose(f);
	return found;
}

TEST(enter_exit_cycles_no_slab_growth)
{
	long before, after;
	int i, n = full_scale() ? 1000 : 200 * scale(), status;

	if (no_dune(_metadata))
		return;
	/* Warm up caches, then measure. */
	for (i = 0; i < 20; i++)
		dune_run_child(guest_exit0, false);
	before = slab_kb();
	for (i = 0; i < n; i++) {
		status = dune_run_child(guest_exit0, false);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("cycle %d: status %#x", i, status);
	}
	after = slab_kb();
	TH_LOG("%d cycles: Slab %ld kB -> %ld kB", n, before, after);
	if (before > 0 && kernel_has_kasan())
		TH_LOG("KASAN kernel: its quarantine is in Slab; kmemleak looks for leaks");
	else if (before > 0)
		/* A leak of even one small object per cycle would show. */
		EXPECT_LT(after - before, n / 4 + 256);
}

/* The guest touches pages that a host thread keeps unmapping/protecting. */
#define CHURN_PAGES	64
static char *churn;
static int churn_stop;

static void guest_churn(void)
{
	long i, round;

	for (round = 0; round < 40L * scale(); round++)
		for (i = 0; i < CHURN_PAGES; i++)
			guest_read64((uint64_t)churn + i * PAGE_SZ);
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
	guest_exit(0);
}

static void *churner(void *p)
{
	while (!__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE)) {
		madvise(churn, CHURN_PAGES * PAGE_SZ, MADV_DONTNEED);
		mprotect(churn, CHURN_PAGES * PAGE_SZ, PROT_READ);
		mprotect(churn, CHURN_PAGES * PAGE_SZ, PROT_READ | PROT_WRITE);
		/*
		 * Pause between rounds: back to back invalidations make KVM
		 * retry the guest's faults for as long as they go on.
		 */
		usleep(200);
	}
	return NULL;
}

static void start_churner(struct dune_vm *v)
{
	pthread_t t;

	if (pthread_create(&t, NULL, churner, NULL))
		_exit(72);
}

TEST(mm_churn_while_guest_touches)
{
	if (no_dune(_metadata))
		return;
	churn = mmap(NULL, CHURN_PAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, churn);
	churn_stop = 0;
	dune_child_hook = start_churner;
	{
		int status = dune_run_child(guest_churn, false);

		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("status %#x", status);
	}
	dune_child_hook = NULL;
}

/* ------------------------------------------------------------------------ */
/* fork/exec storm from Dune mode */

static int storm_n;
static char *const true_argv[] = { "/bin/true", NULL };
static char *const false_argv[] = { "/bin/false", NULL };
static char *const no_env[] = { NULL };

/* A system call with SYSCALL: for the fork child, which runs natively. */
static long native_syscall3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
		     : "rcx", "r11", "memory");
	return ret;
}

#define STORM_BATCH	10

/* Exit status: 0, or what went wrong (10 + step) */
static void guest_fork_exec_storm(void)
{
	long pids[STORM_BATCH], i, j;
	uint64_t cr3;

	for (i = 0; i < storm_n; i += STORM_BATCH) {
		for (j = 0; j < STORM_BATCH; j++) {
			long pid = gsys0(SYS_fork);
			bool t = ((i + j) & 1) == 0;

			if (pid == 0) {
				/* The child starts outside Dune mode, natively. */
				native_syscall3(SYS_execve, (long)(t ? "/bin/true" : "/bin/false"),
						(long)(t ? true_argv : false_argv), (long)no_env);
				native_syscall3(SYS_exit_group, 99, 0, 0);
			}
			if (pid < 0)
				guest_exit(10);
			pids[j] = pid;
		}
		for (j = 0; j < STORM_BATCH; j++) {
			int st = -1;

			if (guest_syscall(SYS_wait4, pids[j], (long)&st, 0, 0, 0, 0) != pids[j])
				guest_exit(11);
			/* /bin/true for even children, /bin/false for odd ones */
			if (!WIFEXITED(st) || WEXITSTATUS(st) != ((i + j) & 1))
				guest_exit(12);
		}
	}
	/* Still in Dune mode: at CPL 0 (CR3 is readable) and VMCALLs work. */
	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	if (gsys0(SYS_gettid) != dune_native_tid || gsys0(SYS_getpid) != dune_native_pid)
		guest_exit(13);
	guest_exit(0);
}

TEST(fork_exec_storm_from_dune_mode)
{
	struct timespec t0, t1;
	int status;

	if (no_dune(_metadata))
		return;
	if (access("/bin/true", X_OK) || access("/bin/false", X_OK))
		SKIP(return, "no /bin/true or /bin/false");
	storm_n = full_scale() ? 1000 : 40 * scale();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	status = dune_run_child(guest_fork_exec_storm, false);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_TRUE(exited_with(_metadata, status, 0))
		TH_LOG("%s",
		       "11: wait4 failed, 12: a child's status was wrong, 13: VMCALLs broken after the storm");
	TH_LOG("%d fork+exec (/bin/true, /bin/false) from Dune mode in %.1f s", storm_n,
	       t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* ------------------------------------------------------------------------ */
/* Signal storm while the Dune thread blocks */

enum { SS_READ, SS_NANOSLEEP, SS_FUTEX };
static const char *const ss_names[] = { "read", "nanosleep", "futex" };

struct sigstorm {
	long sent, received, eintr, wrong;
	int round;		/* nanosleep: the sender's round */
	int futex_word;		/* futex: the same */
	int ready;		/* the handler is in place */
	int waiting;		/* the guest is about to block for round - 1 */
};

static struct sigstorm *ss;
static int ss_pipe[2], ss_kind, ss_rounds;
static bool ss_restart;

static void ss_handler(int sig)
{
	__atomic_add_fetch(&ss->received, 1, __ATOMIC_RELAXED);
}

static void ss_setup(struct dune_vm *v)
{
	struct sigaction sa = { .sa_handler = ss_handler };

	sa.sa_flags = ss_restart ? SA_RESTART : 0;
	if (sigaction(SIGRTMIN, &sa, NULL))
		_exit(70);
	__atomic_store_n(&ss->ready, 1, __ATOMIC_RELEASE);
	alarm(60);	/* a lost wakeup or signal ends it */
}

static void guest_sigstorm(void)
{
	int round;
	long r;

	for (round = 0; round < ss_rounds; round++) {
		__atomic_store_n(&ss->waiting, round + 1, __ATOMIC_RELEASE);
		for (;;) {
			if (ss_kind == SS_READ) {
				char c = -1;

				r = gsys3(SYS_read, ss_pipe[0], (long)&c, 1);
				if (r == 1) {
					if (c != round)
						ss->wrong++;
					break;
				}
			} else if (ss_kind == SS_NANOSLEEP) {
				struct timespec ts = { 0, 1000000 };

				r = gsys3(SYS_nanosleep, (long)&ts, 0, 0);
				if (__atomic_load_n(&ss->round, __ATOMIC_ACQUIRE) > round &&
				    r != -EINTR)
					break;
			} else {
				r = guest_syscall(SYS_futex, (long)&ss->futex_word, FUTEX_WAIT,
						  round, 0, 0, 0);
				if (__atomic_load_n(&ss->futex_word, __ATOMIC_ACQUIRE) > round &&
				    r != -EINTR)
					break;
				if (r == -EAGAIN)
					continue;
			}
			if (r == -EINTR)
				ss->eintr++;
			else if (r < 0)
				ss->wrong++;
		}
	}
	/* Every signal sent (all queued: real-time) must have been handled. */
	while (__atomic_load_n(&ss->received, __ATOMIC_RELAXED) < ss->sent)
		gsys0(SYS_sched_yield);
	guest_exit(0);
}

static char task_state(pid_t pid)
{
	char path[64], buf[256], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : 0;
}

static void ss_sender(pid_t pid, int per_round)
{
	union sigval v = { .sival_int = 0 };
	int round, k;

	while (!__atomic_load_n(&ss->ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	for (round = 0; round < ss_rounds; round++) {
		/* Signal it while it blocks: once it sleeps in the call */
		while (__atomic_load_n(&ss->waiting, __ATOMIC_ACQUIRE) <= round)
			usleep(200);
		for (k = 0; k < 1000 && task_state(pid) != 'S'; k++)
			usleep(1000);
		for (k = 0; k < per_round; k++) {
			while (sigqueue(pid, SIGRTMIN, v)) {
				if (errno != EAGAIN)
					_exit(1);
				usleep(200);	/* the queue is full */
			}
			__atomic_add_fetch(&ss->sent, 1, __ATOMIC_RELAXED);
		}
		/* The wakeup for this round */
		if (ss_kind == SS_READ) {
			char c = round;

			if (write(ss_pipe[1], &c, 1) != 1)
				_exit(2);
		} else if (ss_kind == SS_NANOSLEEP) {
			__atomic_store_n(&ss->round, round + 1, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&ss->futex_word, round + 1, __ATOMIC_RELEASE);
			syscall(SYS_futex, &ss->futex_word, FUTEX_WAKE, 1, NULL, NULL, 0);
		}
	}
	_exit(0);
}

TEST(signal_storm_during_blocking_calls)
{
	int per_round = full_scale() ? 500 : 50 * scale(), kind, restart, status;
	char report[128];
	long total = 0;

	if (no_dune(_metadata))
		return;
	ss = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ss);
	ss_rounds = 10;
	for (kind = SS_READ; kind <= SS_FUTEX; kind++) {
		for (restart = 0; restart < 2; restart++) {
			pid_t child, sender;

			memset(ss, 0, sizeof(*ss));
			ASSERT_EQ(0, pipe(ss_pipe));
			ss_kind = kind;
			ss_restart = restart;
			dune_child_hook = ss_setup;
			child = dune_start_child(guest_sigstorm, false);
			dune_child_hook = NULL;
			ASSERT_LT(0, child);
			sender = fork();
			ASSERT_LE(0, sender);
			if (sender == 0)
				ss_sender(child, per_round);
			ASSERT_EQ(sender, waitpid(sender, &status, 0));
			EXPECT_TRUE(exited_with(_metadata, status, 0)) TH_LOG("the sender failed");
			ASSERT_EQ(child, waitpid(child, &status, 0));
			snprintf(report, sizeof(report),
				 "%s%s: the Dune process did not finish (lost wakeup or signal?)",
				 ss_names[kind], restart ? " with SA_RESTART" : "");
			EXPECT_TRUE(exited_with(_metadata, status, 0))
				TH_LOG("%s", report);
			EXPECT_EQ(ss->sent, ss->received)
				TH_LOG("%s%s: %ld signals sent, %ld handled", ss_names[kind],
				       restart ? " with SA_RESTART" : "", ss->sent, ss->received);
			EXPECT_EQ(0, ss->wrong)
				TH_LOG("%s%s: %ld unexpected results", ss_names[kind],
				       restart ? " with SA_RESTART" : "", ss->wrong);
			/*
			 * SA_RESTART: read and futex are restarted, never EINTR.
			 * (Without it, how many EINTR come is a race, natively
			 * too: only logged.)
			 */
			if (restart && kind != SS_NANOSLEEP)
				EXPECT_EQ(0, ss->eintr)
					TH_LOG("%s with SA_RESTART: %ld EINTR", ss_names[kind],
					       ss->eintr);
			TH_LOG("%s%s: %ld signals handled, %ld EINTR", ss_names[kind],
			       restart ? " with SA_RESTART" : "", ss->received, ss->eintr);
			total += ss->received;
			close(ss_pipe[0]);
			close(ss_pipe[1]);
		}
	}
	TH_LOG("%ld signals in all", total);
}

/*
 * A 1 kHz timer signal with a handler while the guest makes VMCALLs: each
 * signal is handled on the host side and the vCPU resumes.
 */
static long timer_ticks;

static void timer_handler(int sig)
{
	WRITE_ONCE(timer_ticks, READ_ONCE(timer_ticks) + 1);
}

static void timer_setup(struct dune_vm *v)
{
	struct sigaction sa = { .sa_handler = timer_handler, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };

	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		_exit(70);
}

static long timer_calls;

static void guest_timer_vmcalls(void)
{
	long i;

	for (i = 0; i < timer_calls; i++)
		if (gsys0(SYS_getppid) <= 0)
			guest_exit(2);
	guest_exit(READ_ONCE(timer_ticks) ? 0 : 3);
}

TEST(timer_signals_during_vmcalls)
{
	int i, runs = 5 * scale(), left = 0, status = 0;
	char report[160];

	if (no_dune(_metadata))
		return;
	timer_calls = full_scale() ? 100000 : 5000;
	for (i = 0; i < runs; i++) {
		dune_child_hook = timer_setup;
		status = dune_run_child(guest_timer_vmcalls, false);
		dune_child_hook = NULL;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			left++;
	}
	snprintf(report, sizeof(report),
		 "%d of %d runs did not end with exit 0 (last status %#x; 93: the thread left Dune mode)",
		 left, runs, status);
	EXPECT_EQ(0, left)
		TH_LOG("%s", report);
	TH_LOG("%d runs of %ld VMCALLs under a 1 kHz SIGALRM", runs, timer_calls);
}

/* ------------------------------------------------------------------------ */
/* THP: huge pages touched in Dune mode, split, touched again */

#define THP_SIZE	(4 * SZ_2M)
#define THP_PAGES	(THP_SIZE / PAGE_SZ)

struct mem_result {
	long kb_before, kb_after, resident, bad;
};

static char *thp;
static struct mem_result *mres;
static char smaps_buf[8192];

/* A field of /proc/self/smaps_rollup, in kB, read with VMCALLs. */
static long guest_smaps_kb(const char *field)
{
	long fd, n, kb = -1;
	int i, j;

	fd = gsys3(SYS_open, (long)"/proc/self/smaps_rollup", O_RDONLY, 0);
	if (fd < 0)
		return -1;
	n = gsys3(SYS_read, fd, (long)smaps_buf, sizeof(smaps_buf) - 1);
	gsys1(SYS_close, fd);
	for (i = 0; i < n; i++) {
		for (j = 0; field[j] && i + j < n && smaps_buf[i + j] == field[j]; j++)
			;
		if (field[j])
			continue;
		for (i += j; i < n && smaps_buf[i] == ' '; i++)
			;
		for (kb = 0; i < n && smaps_buf[i] >= '0' && smaps_buf[i] <= '9'; i++)
			kb = kb * 10 + smaps_buf[i] - '0';
		break;
	}
	return kb;
}

static uint64_t pattern(uint64_t page, int round)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (round + 1);
}

/* One way of splitting for each of the four huge pages (page numbers) */
#define THP_UNMAPPED	256			/* munmap of one page */
#define THP_READONLY	(512 + 2)		/* mprotect of one page */
#define THP_ZAPPED	(1024 + 256)		/* MADV_DONTNEED of 16 pages */
#define THP_ZAPPED1	(1536 + 4)		/* MADV_DONTNEED of one page */

static void guest_thp(void)
{
	uint64_t p, v;

	for (p = 0; p < THP_PAGES; p++) {
		guest_write64((uint64_t)thp + p * PAGE_SZ, pattern(p, 0));
		guest_write64((uint64_t)thp + p * PAGE_SZ + 2048, pattern(p, 0));
	}
	mres->kb_before = guest_smaps_kb("AnonHugePages:");

	/* Split all four huge pages, each another way */
	if (gsys3(SYS_munmap, (long)thp + THP_UNMAPPED * PAGE_SZ, PAGE_SZ, 0) ||
	    gsys3(SYS_mprotect, (long)thp + THP_READONLY * PAGE_SZ, PAGE_SZ, PROT_READ) ||
	    gsys3(SYS_madvise, (long)thp + THP_ZAPPED * PAGE_SZ, 16 * PAGE_SZ, MADV_DONTNEED) ||
	    gsys3(SYS_madvise, (long)thp + THP_ZAPPED1 * PAGE_SZ, PAGE_SZ, MADV_DONTNEED))
		guest_exit(20);

	for (p = 0; p < THP_PAGES; p++) {
		bool zapped = (p >= THP_ZAPPED && p < THP_ZAPPED + 16) || p == THP_ZAPPED1;

		if (p == THP_UNMAPPED)
			continue;
		v = guest_read64((uint64_t)thp + p * PAGE_SZ + 2048);
		if (v != (zapped ? 0 : pattern(p, 0)))
			mres->bad++;
		if (p == THP_READONLY)
			continue;
		guest_write64((uint64_t)thp + p * PAGE_SZ, pattern(p, 1));
	}
	for (p = 0; p < THP_PAGES; p++) {
		if (p == THP_UNMAPPED || p == THP_READONLY)
			continue;
		if (guest_read64((uint64_t)thp + p * PAGE_SZ) != pattern(p, 1))
			mres->bad++;
	}
	mres->kb_after = guest_smaps_kb("AnonHugePages:");
	guest_exit(mres->bad ? 1 : 0);
}

static bool thp_enabled(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);

	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return !strstr(buf, "[never]");
}

TEST(thp_split_under_the_guest)
{
	char *p;

	if (no_dune(_metadata))
		return;
	if (!thp_enabled())
		SKIP(return, "transparent huge pages are off");
	mres = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mres);
	/* 2 MiB aligned */
	p = mmap(NULL, THP_SIZE + SZ_2M, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	thp = (char *)(((uint64_t)p + SZ_2M - 1) & ~(SZ_2M - 1));
	ASSERT_EQ(0, madvise(thp, THP_SIZE, MADV_HUGEPAGE));
	EXPECT_TRUE(exited_with(_metadata, dune_run_child(guest_thp, false), 0))
		TH_LOG("20: munmap/mprotect/madvise failed; 1: %ld pages with wrong contents",
		       mres->bad);
	TH_LOG("AnonHugePages: %ld kB before the split, %ld kB after", mres->kb_before,
	       mres->kb_after);
	/* All four touched in Dune mode as huge pages, all four split */
	EXPECT_GE(mres->kb_before, THP_SIZE / 1024);
	EXPECT_EQ(0, mres->kb_after);
	munmap(p, THP_SIZE + SZ_2M);
}

/* ------------------------------------------------------------------------ */
/* Swap: the guest's memory pushed out to zram and read back */

#define SWAP_SIZE	(8 << 20)
#define SWAP_PAGES	(SWAP_SIZE / PAGE_SZ)

static char *swapmem;
static unsigned char mincore_vec[SWAP_PAGES];

static void guest_swap(void)
{
	uint64_t p;
	long i;

	for (p = 0; p < SWAP_PAGES; p++)
		guest_write64((uint64_t)swapmem + p * PAGE_SZ + (p % 500) * 8, pattern(p, 2));
	if (gsys3(SYS_madvise, (long)swapmem, SWAP_SIZE, MADV_PAGEOUT))
		guest_exit(30);
	mres->kb_before = guest_smaps_kb("Swap:");
	if (gsys3(SYS_mincore, (long)swapmem, SWAP_SIZE, (long)mincore_vec))
		guest_exit(31);
	for (i = 0; i < (long)SWAP_PAGES; i++)
		mres->resident += mincore_vec[i] & 1;
	for (p = 0; p < SWAP_PAGES; p++)
		if (guest_read64((uint64_t)swapmem + p * PAGE_SZ + (p % 500) * 8) != pattern(p, 2))
			mres->bad++;
	mres->kb_after = guest_smaps_kb("Swap:");
	guest_exit(mres->bad ? 1 : 0);
}

static bool zram_swap_on(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	bool on = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/dev/zram0"))
			on = true;
	fclose(f);
	return on;
}

TEST(swap_out_and_back_under_the_guest)
{
	bool ours = false;
	char report[256];
	int fd, status;

	if (no_dune(_metadata))
		return;
	if (access("/proc/swaps", F_OK))
		SKIP(return, "no swap in this kernel (CONFIG_SWAP)");
	if (access("/sys/block/zram0", F_OK))
		SKIP(return, "no /sys/block/zram0 (CONFIG_ZRAM)");
	if (!zram_swap_on()) {
		fd = open("/sys/block/zram0/disksize", O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(3, write(fd, "64M", 3)) TH_LOG("zram0 disksize: %s", strerror(errno));
		close(fd);
		ASSERT_EQ(0, system("mkswap /dev/zram0 >/dev/null && swapon /dev/zram0"));
		ours = true;
	}
	ASSERT_TRUE(zram_swap_on());
	mres = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mres);
	swapmem = mmap(NULL, SWAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, swapmem);
	madvise(swapmem, SWAP_SIZE, MADV_NOHUGEPAGE);
	status = dune_run_child(guest_swap, false);
	snprintf(report, sizeof(report),
		 "30: MADV_PAGEOUT failed, 31: mincore failed; 1: %ld pages wrong after swap-in",
		 mres->bad);
	EXPECT_TRUE(exited_with(_metadata, status, 0))
		TH_LOG("%s", report);
	snprintf(report, sizeof(report),
		 "after MADV_PAGEOUT: Swap %ld kB, %ld of %lu pages resident; after reading back: Swap %ld kB",
		 mres->kb_before, mres->resident, (unsigned long)SWAP_PAGES, mres->kb_after);
	TH_LOG("%s", report);
	/* Most of it went out, and came back intact */
	EXPECT_GE(mres->kb_before, SWAP_SIZE / 1024 / 2);
	EXPECT_LE(mres->resident, (long)SWAP_PAGES / 2);
	munmap(swapmem, SWAP_SIZE);
	if (ours) {
		EXPECT_EQ(0, system("swapoff /dev/zram0"));
		fd = open("/sys/block/zram0/reset", O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				TH_LOG("zram0 reset: %s", strerror(errno));
			close(fd);
		}
	}
}

TEST_HARNESS_MAIN
