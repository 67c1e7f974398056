// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process semantics in Dune mode, through libdune, each compared with the
 * same code run natively: sigaltstack, blocking calls interrupted by signals
 * (restart and EINTR, stop and continue), resource limits (NOFILE, AS,
 * FSIZE, CPU, STACK), a cgroup v2 memory limit, /proc/self/status and maps,
 * ptrace from outside, vector registers (AVX, AVX-512, XCR0, PKRU) and the
 * vDSO clocks.
 *
 * A scenario is a function that runs in a fresh child, natively or after
 * dune_init_and_enter(), and describes what it saw as text on a pipe; the
 * test requires the same text and the same wait status in both modes, and
 * checks the native text against what Linux is known to do, so that the
 * two cannot agree on a failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <cpuid.h>
#include <stdalign.h>
#include <elf.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <linux/futex.h>
#include <dirent.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <pthread.h>

#include "dune_lib_util.h"

#define MB		(1024UL * 1024)

struct outcome {
	int status;
	char text[4096];
};

typedef void (*scenario_fn)(int fd);

static void slurp(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* Run @fn in a child, in Dune mode if @dune; its text and wait status. */
static void run_scenario(struct __test_metadata *_metadata, scenario_fn fn,
			 bool dune, struct outcome *o)
{
	int p[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[0]);
		if (dune && (dune_init_and_enter() || !dune_in_guest())) {
			dprintf(p[1], "entering failed: %s\n", dune_last_error());
			_exit(90);
		}
		fn(p[1]);
		_exit(0);
	}
	close(p[1]);
	slurp(p[0], o->text, sizeof(o->text));
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, &o->status, 0));
}

/*
 * @fn natively and in Dune mode: same text, same status.  The native run
 * must give @expect (unless NULL) and exit with @status, or be killed by
 * signal -@status if it is negative.
 */
static void same_as_native(struct __test_metadata *_metadata, scenario_fn fn,
			   const char *expect, int status)
{
	static struct outcome n, d;

	run_scenario(_metadata, fn, false, &n);
	run_scenario(_metadata, fn, true, &d);
	if (expect)
		EXPECT_STREQ(expect, n.text) TH_LOG("native run not as Linux should behave");
	if (status >= 0) {
		EXPECT_EQ(status << 8, n.status) TH_LOG("native: status %#x, expected exit %d",
							n.status, status);
	} else {
		EXPECT_TRUE(WIFSIGNALED(n.status) && WTERMSIG(n.status) == -status)
			TH_LOG("native: status %#x, expected signal %d", n.status, -status);
	}
	EXPECT_STREQ(n.text, d.text) TH_LOG("Dune mode differs from native");
	EXPECT_EQ(n.status, d.status) TH_LOG("wait status: native %#x, Dune mode %#x",
					     n.status, d.status);
	TH_LOG("native and Dune mode, status %#x:\n%s", d.status, d.text);
}

/* No harness timeout shorter than a slow emulator needs. */
FIXTURE(proc) {
};

FIXTURE_SETUP(proc)
{
}

FIXTURE_TEARDOWN(proc)
{
}

static const char *ename(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "?";
}

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- sigaltstack ---- */

static alignas(64) char alt_stack[64 * 1024];
/* Set by the handlers; read after kill() returns or the faulting store. */
static int alt_on, alt_flags, segv_code, segv_addr_ok;
static char *ro_page;

static bool on_alt_stack(void *p)
{
	return (char *)p >= alt_stack && (char *)p < alt_stack + sizeof(alt_stack);
}

static void on_usr1_alt(int sig)
{
	char here;
	stack_t cur;

	alt_on = on_alt_stack(&here);
	sigaltstack(NULL, &cur);
	alt_flags = cur.ss_flags;
}

static void on_segv_alt(int sig, siginfo_t *si, void *uc)
{
	char here;

	alt_on = on_alt_stack(&here);
	segv_code = si->si_code;
	segv_addr_ok = si->si_addr == READ_ONCE(ro_page);
	/* Fix the mapping: the access is retried when the handler returns. */
	mprotect(READ_ONCE(ro_page), PAGE_SZ, PROT_READ | PROT_WRITE);
}

static void scenario_sigaltstack(int fd)
{
	stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof(alt_stack) }, cur;
	struct sigaction sa = { .sa_handler = on_usr1_alt, .sa_flags = SA_ONSTACK };
	struct sigaction sv = { .sa_sigaction = on_segv_alt,
				.sa_flags = SA_ONSTACK | SA_SIGINFO };

	if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL) ||
	    sigaction(SIGSEGV, &sv, NULL)) {
		dprintf(fd, "setup: %s\n", ename(errno));
		return;
	}
	kill(getpid(), SIGUSR1);
	sigaltstack(NULL, &cur);
	dprintf(fd, "SIGUSR1: on the alternate stack %d, ss_flags there %d, after %d\n",
		alt_on, alt_flags, cur.ss_flags);

	WRITE_ONCE(alt_on, 0);
	WRITE_ONCE(ro_page, mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	WRITE_ONCE(*ro_page, 42);
	dprintf(fd, "SIGSEGV: on the alternate stack %d, %s, si_addr right %d, value %d\n",
		READ_ONCE(alt_on), READ_ONCE(segv_code) == SEGV_ACCERR ? "SEGV_ACCERR" :
		"other code", READ_ONCE(segv_addr_ok), READ_ONCE(*ro_page));
}

TEST_F_TIMEOUT(proc, sigaltstack_handlers, 120)
{
	same_as_native(_metadata, scenario_sigaltstack,
		       "SIGUSR1: on the alternate stack 1, ss_flags there 1, after 0\n"
		       "SIGSEGV: on the alternate stack 1, SEGV_ACCERR, si_addr right 1, value 42\n",
		       0);
}

/* ---- blocking calls interrupted by a signal ---- */

static int feed[2];
static int futex_word;
static int alarm_flags;

static void on_alarm_feed(int sig)
{
	char c = 'x';

	/* The byte a restarted read gets; the value a restarted wait sees. */
	if (write(feed[1], &c, 1) != 1)
		_exit(70);
	WRITE_ONCE(futex_word, 1);
}

static void alarm_in(int usec)
{
	struct itimerval it = { .it_value = { .tv_usec = usec } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void scenario_interrupted(int fd)
{
	struct sigaction sa = { .sa_handler = on_alarm_feed, .sa_flags = alarm_flags };
	struct timespec ts = { .tv_sec = 2 };
	char c = 0;
	double t0;
	long r;

	if (pipe(feed) || sigaction(SIGALRM, &sa, NULL)) {
		dprintf(fd, "setup: %s\n", ename(errno));
		return;
	}
	alarm_in(50000);
	r = read(feed[0], &c, 1);
	dprintf(fd, "read: %ld %s\n", r, r < 0 ? ename(errno) : (c == 'x' ? "x" : "?"));

	WRITE_ONCE(futex_word, 0);
	alarm_in(50000);
	r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	dprintf(fd, "futex wait: %ld %s\n", r, r < 0 ? ename(errno) : "");

	/* With a timeout: -ERESTART_RESTARTBLOCK, EINTR whatever SA_RESTART. */
	WRITE_ONCE(futex_word, 0);
	alarm_in(50000);
	t0 = now(CLOCK_MONOTONIC);
	r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	dprintf(fd, "timed futex wait: %ld %s, early %d\n", r, r < 0 ? ename(errno) : "",
		now(CLOCK_MONOTONIC) - t0 < 1.5);
}

TEST_F_TIMEOUT(proc, pipe_read_and_futex_restart_with_sa_restart, 120)
{
	alarm_flags = SA_RESTART;
	same_as_native(_metadata, scenario_interrupted,
		       "read: 1 x\n"
		       "futex wait: -1 EAGAIN\n"
		       "timed futex wait: -1 EINTR, early 1\n", 0);
}

TEST_F_TIMEOUT(proc, pipe_read_and_futex_eintr_without_sa_restart, 120)
{
	alarm_flags = 0;
	same_as_native(_metadata, scenario_interrupted,
		       "read: -1 EINTR\n"
		       "futex wait: -1 EINTR\n"
		       "timed futex wait: -1 EINTR, early 1\n", 0);
}

/*
 * SIGSTOP and SIGCONT (no handler) in the middle of a timed futex wait and a
 * nanosleep: both go on to their full time through restart_syscall.
 */
static void scenario_stop_cont(int fd)
{
	struct timespec ts = { .tv_nsec = 600000000 };
	pid_t parent = getpid(), helper;
	int status;
	double t0;
	long r;

	helper = fork();
	if (helper == 0) {	/* natively, also when forked from Dune mode */
		int i;

		for (i = 0; i < 2; i++) {
			usleep(100000);
			kill(parent, SIGSTOP);
			usleep(100000);
			kill(parent, SIGCONT);
		}
		_exit(0);
	}
	futex_word = 0;
	t0 = now(CLOCK_MONOTONIC);
	r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	dprintf(fd, "timed futex wait across stop/cont: %ld %s, full time %d\n", r,
		r < 0 ? ename(errno) : "", now(CLOCK_MONOTONIC) - t0 >= 0.59);
	t0 = now(CLOCK_MONOTONIC);
	r = nanosleep(&ts, NULL);
	dprintf(fd, "nanosleep across stop/cont: %ld, full time %d\n", r,
		now(CLOCK_MONOTONIC) - t0 >= 0.59);
	waitpid(helper, &status, 0);
	dprintf(fd, "helper status %#x\n", status);
}

TEST_F_TIMEOUT(proc, stop_cont_restarts_timed_waits, 120)
{
	same_as_native(_metadata, scenario_stop_cont,
		       "timed futex wait across stop/cont: -1 ETIMEDOUT, full time 1\n"
		       "nanosleep across stop/cont: 0, full time 1\n"
		       "helper status 0\n", 0);
}

/* ---- resource limits ---- */

static long status_kb(const char *field)
{
	char buf[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, field);
	return p ? strtol(p + strlen(field) + 1, NULL, 10) : -1;
}

static void scenario_nofile(int fd)
{
	struct rlimit rl = { 32, 32 };
	int last = -1, f;

	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		dprintf(fd, "setrlimit: %s\n", ename(errno));
		return;
	}
	while ((f = open("/dev/null", O_RDONLY)) >= 0)
		last = f;
	dprintf(fd, "open until it fails: %s, last fd %d\n", ename(errno), last);
	f = dup(0);
	dprintf(fd, "dup: %d %s\n", f, f < 0 ? ename(errno) : "");
}

TEST_F_TIMEOUT(proc, rlimit_nofile, 120)
{
	same_as_native(_metadata, scenario_nofile,
		       "open until it fails: EMFILE, last fd 31\n"
		       "dup: -1 EMFILE\n", 0);
}

static void scenario_as(int fd)
{
	long vm_kb = status_kb("VmSize:");
	struct rlimit rl;
	char *big, *small;

	if (vm_kb <= 0) {
		dprintf(fd, "no VmSize\n");
		return;
	}
	rl.rlim_cur = vm_kb * 1024 + 64 * MB;
	rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_AS, &rl)) {
		dprintf(fd, "setrlimit: %s\n", ename(errno));
		return;
	}
	big = mmap(NULL, 256 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dprintf(fd, "mmap 256 MiB over the limit: %s\n",
		big == MAP_FAILED ? ename(errno) : "mapped");
	small = mmap(NULL, 16 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (small != MAP_FAILED)
		memset(small, 1, 16 * MB);
	dprintf(fd, "mmap 16 MiB under it: %s\n", small == MAP_FAILED ? ename(errno) : "ok");
	dprintf(fd, "malloc 200 MiB: %s\n", malloc(200 * MB) ? "ok" : "NULL");
}

TEST_F_TIMEOUT(proc, rlimit_as, 120)
{
	same_as_native(_metadata, scenario_as,
		       "mmap 256 MiB over the limit: ENOMEM\n"
		       "mmap 16 MiB under it: ok\n"
		       "malloc 200 MiB: NULL\n", 0);
}

static bool fsize_ignore;

static void scenario_fsize(int fd)
{
	char path[] = "/tmp/dune_lib_process.XXXXXX", buf[6000];
	struct rlimit rl = { 4096, 4096 };
	int f = mkstemp(path);
	ssize_t r;

	if (f < 0 || setrlimit(RLIMIT_FSIZE, &rl)) {
		dprintf(fd, "setup: %s\n", ename(errno));
		return;
	}
	unlink(path);
	if (fsize_ignore)
		signal(SIGXFSZ, SIG_IGN);
	memset(buf, 'f', sizeof(buf));
	r = write(f, buf, sizeof(buf));
	dprintf(fd, "write 6000 bytes at 0: %zd\n", r);
	r = write(f, buf, sizeof(buf));
	/* Not reached with SIGXFSZ's default action (core). */
	dprintf(fd, "write at the limit: %zd %s\n", r, r < 0 ? ename(errno) : "");
}

TEST_F_TIMEOUT(proc, rlimit_fsize_efbig_when_ignored, 120)
{
	fsize_ignore = true;
	same_as_native(_metadata, scenario_fsize,
		       "write 6000 bytes at 0: 4096\n"
		       "write at the limit: -1 EFBIG\n", 0);
}

TEST_F_TIMEOUT(proc, rlimit_fsize_sigxfsz, 120)
{
	static struct outcome d;

	fsize_ignore = false;
	run_scenario(_metadata, scenario_fsize, true, &d);
	EXPECT_STREQ("write 6000 bytes at 0: 4096\n", d.text);
	EXPECT_TRUE(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGXFSZ)
		TH_LOG("expected death by SIGXFSZ, status %#x", d.status);
	same_as_native(_metadata, scenario_fsize, "write 6000 bytes at 0: 4096\n", -SIGXFSZ);
}

/*
 * RLIMIT_CPU: the guest spins in ring 0 without a single system call; the
 * host must count guest time as the task's and send SIGXCPU.
 */
static uint64_t spins;

static void scenario_cpu(int fd)
{
	struct rlimit rl = { 1, 30 };
	uint64_t i;

	dprintf(fd, "spinning\n");
	if (setrlimit(RLIMIT_CPU, &rl)) {
		dprintf(fd, "setrlimit: %s\n", ename(errno));
		return;
	}
	/* Billions of iterations: far more than a second anywhere here. */
	for (i = 0; i < (1ULL << 40); i++)
		WRITE_ONCE(spins, i);
	dprintf(fd, "no SIGXCPU\n");
}

TEST_F_TIMEOUT(proc, rlimit_cpu_sigxcpu_while_guest_spins, 200)
{
	static struct outcome d;
	struct rusage ru;

	run_scenario(_metadata, scenario_cpu, true, &d);
	EXPECT_STREQ("spinning\n", d.text);
	EXPECT_TRUE(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGXCPU)
		TH_LOG("expected death by SIGXCPU, status %#x", d.status);
	getrusage(RUSAGE_CHILDREN, &ru);
	/* The guest's time is the task's user time. */
	EXPECT_LE(500000, ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
			  ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec)
		TH_LOG("children's CPU time %ld.%06ld user, %ld.%06ld system",
		       ru.ru_utime.tv_sec, ru.ru_utime.tv_usec,
		       ru.ru_stime.tv_sec, ru.ru_stime.tv_usec);
	TH_LOG("children's CPU time %ld.%06ld s user, %ld.%06ld s system",
	       ru.ru_utime.tv_sec, ru.ru_utime.tv_usec, ru.ru_stime.tv_sec, ru.ru_stime.tv_usec);
	same_as_native(_metadata, scenario_cpu, "spinning\n", -SIGXCPU);
}

static void scenario_stack(int fd)
{
	struct rlimit rl = { 2 * MB, RLIM_INFINITY };
	char *sp = __builtin_frame_address(0);

	getrlimit(RLIMIT_STACK, &rl);
	rl.rlim_cur = 2 * MB;
	if (setrlimit(RLIMIT_STACK, &rl)) {
		dprintf(fd, "setrlimit: %s\n", ename(errno));
		return;
	}
	/* The stack grows within the limit... */
	WRITE_ONCE(*(sp - 1 * MB), 1);
	dprintf(fd, "1 MiB below: ok\n");
	/* ...and not beyond: SIGSEGV. */
	WRITE_ONCE(*(sp - 4 * MB), 1);
	dprintf(fd, "4 MiB below: no SIGSEGV\n");
}

TEST_F_TIMEOUT(proc, rlimit_stack, 120)
{
	same_as_native(_metadata, scenario_stack, "1 MiB below: ok\n", -SIGSEGV);
}

/* ---- cgroup v2 memory limit ---- */

static bool have_fs(const char *name)
{
	char buf[4096];
	int fd = open("/proc/filesystems", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, name);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -errno;
}

static long events_field(const char *dir, const char *field)
{
	char path[256], buf[1024], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/memory.events", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strstr(buf, field);
	return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

static const char *cg_dir;

/*
 * The OOM killer's report has a stack dump, which the harness takes for a
 * kernel splat.  Keep it off the console for the OOM part (console log
 * level 1), and check the kernel's messages of that window here instead:
 * the report is expected, nothing that is a real splat is.
 */
static char printk_saved[64];
static int kmsg_fd = -1;
static bool kmsg_read;

static void quiet_console(void)
{
	int fd = open("/proc/sys/kernel/printk", O_RDONLY);

	if (fd >= 0) {
		slurp(fd, printk_saved, sizeof(printk_saved));
		close(fd);
	}
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	kmsg_read = kmsg_fd >= 0;
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
	write_file("/proc/sys/kernel/printk", "1");
}

/* Restores the log level; how many OOM reports and splat lines there were. */
static void loud_console(int *ooms, int *splats, char *first_splat, size_t size)
{
	/* Messages, not symbols: the report's stack has lockdep_* frames. */
	static const char *const bad[] = { "BUG:", "WARNING:", "Oops", "KASAN", "UBSAN",
					   "general protection", "circular locking",
					   "Kernel panic", "Bad page state" };
	char rec[2048];
	ssize_t n;
	size_t i;

	if (printk_saved[0]) {
		char level[16];

		snprintf(level, sizeof(level), "%d", atoi(printk_saved));
		write_file("/proc/sys/kernel/printk", level);
	}
	*ooms = *splats = 0;
	while (kmsg_fd >= 0 && (n = read(kmsg_fd, rec, sizeof(rec) - 1)) != 0) {
		if (n < 0) {
			if (errno == EPIPE)	/* overwritten records: go on */
				continue;
			break;
		}
		rec[n] = '\0';
		*ooms += !!strstr(rec, "invoked oom-killer");
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			if (strstr(rec, bad[i])) {
				if (!(*splats)++)
					snprintf(first_splat, size, "%s", rec);
				break;
			}
		}
	}
	if (kmsg_fd >= 0)
		close(kmsg_fd);
	kmsg_fd = -1;
}

static void scenario_memcg(int fd)
{
	size_t len = 96 * MB, i;
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		dprintf(fd, "mmap: %s\n", ename(errno));
		return;
	}
	dprintf(fd, "touching 96 MiB in a 24 MiB group\n");
	for (i = 0; i < len; i += PAGE_SZ)
		p[i] = 1;
	dprintf(fd, "survived\n");
}

static void memcg_child(struct __test_metadata *_metadata, bool dune, int *status,
			long *kills)
{
	char path[256];
	long before = events_field(cg_dir, "oom_kill ");
	int p[2];
	pid_t pid;
	char text[256];

	ASSERT_EQ(0, pipe(p));
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[0]);
		if (write_file(path, "0")) {
			dprintf(p[1], "joining the group: %s\n", ename(errno));
			_exit(91);
		}
		if (dune && dune_init_and_enter()) {
			dprintf(p[1], "entering failed: %s\n", dune_last_error());
			_exit(90);
		}
		scenario_memcg(p[1]);
		_exit(0);
	}
	close(p[1]);
	slurp(p[0], text, sizeof(text));
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, status, 0));
	*kills = events_field(cg_dir, "oom_kill ") - before;
	TH_LOG("%s: status %#x, oom_kill +%ld, said: %s", dune ? "Dune mode" : "native",
	       *status, *kills, text);
	EXPECT_STREQ("touching 96 MiB in a 24 MiB group\n", text);
}

TEST_F_TIMEOUT(proc, cgroup_memory_max_oom_kills, 200)
{
	const char *mnt = "/tmp/dune_cgroup2";
	static char dir[128], splat[2048];
	int status, st2, ooms = 0, splats = 0;
	long kills;
	pid_t pid;

	if (!have_fs("cgroup2"))
		SKIP(return, "no cgroup2 in /proc/filesystems (no CONFIG_CGROUPS/MEMCG)");
	mkdir(mnt, 0755);
	if (access("/tmp/dune_cgroup2/cgroup.controllers", F_OK))
		ASSERT_EQ(0, mount("none", mnt, "cgroup2", 0, NULL))
			TH_LOG("mount cgroup2: %s", strerror(errno));
	if (write_file("/tmp/dune_cgroup2/cgroup.subtree_control", "+memory"))
		SKIP(return, "no memory controller (CONFIG_MEMCG): %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/dune_test_%d", mnt, getpid());
	ASSERT_EQ(0, mkdir(dir, 0755));
	cg_dir = dir;
	{
		char f[256];

		snprintf(f, sizeof(f), "%s/memory.max", dir);
		ASSERT_EQ(0, write_file(f, "25165824"));
		snprintf(f, sizeof(f), "%s/memory.swap.max", dir);
		write_file(f, "0");	/* absent without swap accounting */
	}
	quiet_console();
	memcg_child(_metadata, false, &status, &kills);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("native: expected the OOM kill, status %#x", status);
	EXPECT_LE(1, kills);
	memcg_child(_metadata, true, &status, &kills);
	loud_console(&ooms, &splats, splat, sizeof(splat));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("Dune mode: expected the OOM kill, status %#x", status);
	EXPECT_LE(1, kills) TH_LOG("memory.events oom_kill did not grow");
	TH_LOG("kernel log of the OOM part: %d OOM reports, %d splat lines", ooms, splats);
	EXPECT_EQ(0, splats) TH_LOG("first: %s", splat);
	if (kmsg_read)
		EXPECT_LE(2, ooms) TH_LOG("expected the two OOM reports in /dev/kmsg");

	/* The host is fine: a Dune process in the same group still works. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char f[256], *p;
		size_t i;

		snprintf(f, sizeof(f), "%s/cgroup.procs", dir);
		if (write_file(f, "0") || dune_init_and_enter())
			_exit(90);
		p = malloc(8 * MB);
		for (i = 0; p && i < 8 * MB; i += PAGE_SZ)
			p[i] = 1;
		_exit(p ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &st2, 0));
	EXPECT_EQ(0, st2) TH_LOG("a Dune process using 8 MiB in the group: status %#x", st2);
	EXPECT_EQ(0, rmdir(dir)) TH_LOG("rmdir %s: %s", dir, strerror(errno));
}

/* ---- /proc/self ---- */

static pthread_barrier_t proc_barrier;

static void *parked_thread(void *arg)
{
	pthread_barrier_wait(&proc_barrier);	/* started */
	pthread_barrier_wait(&proc_barrier);	/* may go */
	return NULL;
}

/*
 * Threads of this process that KVM made (the NX huge page recovery worker,
 * a vhost_task of every VM): not the program's own.
 */
static long kvm_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long n = 0;

	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		int fd;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (read(fd, comm, sizeof(comm) - 1) > 0 && !strncmp(comm, "kvm-", 4))
			n++;
		close(fd);
	}
	if (d)
		closedir(d);
	return n;
}

static void scenario_proc_status(int fd)
{
	long pid_f = status_kb("Pid:"), tgid = status_kb("Tgid:"), ppid = status_kb("PPid:");
	long rss0, rss1, threads, after = -1;
	pthread_t t[2];
	size_t i, len = 32 * MB;
	char *p;
	int k;

	dprintf(fd, "Pid %d Tgid %d PPid %d\n", pid_f == getpid(), tgid == getpid(),
		ppid == getppid());
	pthread_barrier_init(&proc_barrier, NULL, 3);
	for (k = 0; k < 2; k++)
		pthread_create(&t[k], NULL, parked_thread, NULL);
	pthread_barrier_wait(&proc_barrier);
	threads = status_kb("Threads:") - kvm_workers();
	pthread_barrier_wait(&proc_barrier);
	for (k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	/*
	 * pthread_join() returns once the kernel clears the thread's tid,
	 * which is before the thread leaves the count: wait (1 s at most).
	 */
	for (k = 0; k < 100; k++) {
		after = status_kb("Threads:") - kvm_workers();
		if (after == 1)
			break;
		usleep(10000);
	}
	dprintf(fd, "Threads with two more: %ld, after join: %ld (without KVM's workers)\n",
		threads, after);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rss0 = status_kb("VmRSS:");
	for (i = 0; i < len; i += PAGE_SZ)
		p[i] = 1;
	rss1 = status_kb("VmRSS:");
	dprintf(fd, "VmRSS grows by 32 MiB touched: %d\n", rss1 - rss0 >= 31 * 1024);
	munmap(p, len);
	dprintf(fd, "VmRSS shrinks after munmap: %d\n", status_kb("VmRSS:") < rss1 - 16 * 1024);
}

TEST_F_TIMEOUT(proc, proc_self_status, 120)
{
	same_as_native(_metadata, scenario_proc_status,
		       "Pid 1 Tgid 1 PPid 1\n"
		       "Threads with two more: 3, after join: 1 (without KVM's workers)\n"
		       "VmRSS grows by 32 MiB touched: 1\n"
		       "VmRSS shrinks after munmap: 1\n", 0);
}

static char maps_before[32768];

static int read_maps(char *buf, size_t size)
{
	int fd = open("/proc/self/maps", O_RDONLY);

	if (fd < 0)
		return -1;
	slurp(fd, buf, size);
	close(fd);
	return 0;
}

/* Does @maps have a line with @path and @perms? */
static bool maps_has(const char *maps, const char *perms, const char *path)
{
	const char *l;

	for (l = maps; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		const char *e = strchr(l, '\n'), *sp = strchr(l, ' ');
		size_t n = e ? (size_t)(e - l) : strlen(l), pl = strlen(path);

		if (sp && !strncmp(sp + 1, perms, 4) && n > pl &&
		    !strncmp(l + n - pl, path, pl) && l[n - pl - 1] == ' ')
			return true;
	}
	return false;
}

TEST_F_TIMEOUT(proc, proc_self_maps, 120)
{
	static char after[65536], text[8192];
	int p[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		const char *l;
		int missing = 0, added = 0;

		close(p[0]);
		if (read_maps(maps_before, sizeof(maps_before)) || dune_init_and_enter() ||
		    read_maps(after, sizeof(after)))
			_exit(90);
		/* Every named mapping of the native process is still there, same perms. */
		for (l = maps_before; *l; l = strchr(l, '\n') + 1) {
			char line[512], perms[5];
			const char *e = strchr(l, '\n');
			size_t n = e ? (size_t)(e - l) : strlen(l);
			int at = 0;

			snprintf(line, sizeof(line), "%.*s", (int)n, l);
			if (sscanf(line, "%*x-%*x %4s %*x %*x:%*x %*u %n", perms, &at) == 1 &&
			    at && line[at] && !maps_has(after, perms, line + at)) {
				dprintf(p[1], "missing: %s %s\n", perms, line + at);
				missing++;
			}
			if (!e)
				break;
		}
		/* What entering added (reported, not judged). */
		for (l = after; *l; l = strchr(l, '\n') + 1) {
			const char *e = strchr(l, '\n');

			if (!memmem(maps_before, strlen(maps_before), l, e ? (size_t)(e - l + 1) :
				    strlen(l)))
				added++;
			if (!e)
				break;
		}
		dprintf(p[1], "missing %d, added %d; [vdso] %d [vvar] %d [stack] %d\n", missing,
			added, maps_has(after, "r-xp", "[vdso]"), maps_has(after, "r--p", "[vvar]"),
			maps_has(after, "rw-p", "[stack]"));
		_exit(0);
	}
	close(p[1]);
	slurp(p[0], text, sizeof(text));
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status) TH_LOG("child status %#x: %s", status, text);
	TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "missing 0,")) TH_LOG("mappings lost: %s", text);
	EXPECT_NE(NULL, strstr(text, "[vdso] 1 [vvar] 1 [stack] 1"));
}

/* ---- ptrace from outside ---- */

/* Read and written by the tracer, with PTRACE_PEEKDATA and PTRACE_POKEDATA. */
static long trace_magic = 0x5a5a1234abcdL;
static int trace_go_on;
static long trace_iters;

static void tracee(int ready)
{
	char c = 'r';

	if (write(ready, &c, 1) != 1)
		_exit(71);
	while (!READ_ONCE(trace_go_on)) {
		syscall(SYS_getppid);
		trace_iters++;
	}
	_exit(trace_iters > 0 ? 7 : 8);
}

static void trace_one(struct __test_metadata *_metadata, bool dune)
{
	struct __ptrace_syscall_info info;
	struct user_regs_struct regs;
	int p[2], status, stops, found_entry = 0, found_exit = 0;
	unsigned long long exit_rval = 0;
	const char *mode = dune ? "Dune mode" : "native";
	long v;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	trace_go_on = 0;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[0]);
		if (dune && dune_init_and_enter())
			_exit(90);
		tracee(p[1]);
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &c, 1)) TH_LOG("%s tracee did not start", mode);
	close(p[0]);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD))
		TH_LOG("PTRACE_SEIZE: %s", strerror(errno));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_STOP)
		TH_LOG("%s: after PTRACE_INTERRUPT status %#x", mode, status);
	ASSERT_EQ(0, ptrace(PTRACE_GETREGS, pid, 0, &regs));
	TH_LOG("%s, interrupted: rip %#llx rsp %#llx orig_rax %lld rax %lld cs %#llx fs_base %#llx",
	       mode, regs.rip, regs.rsp, (long long)regs.orig_rax, (long long)regs.rax,
	       regs.cs, regs.fs_base);
	EXPECT_EQ(0x33, regs.cs);
	EXPECT_EQ(0x2b, regs.ss);
	EXPECT_NE(0, regs.fs_base);
	if (dune)	/* stopped on the host side: in the ENTER ioctl */
		EXPECT_EQ(SYS_ioctl, (long)regs.orig_rax);

	for (stops = 0; stops < 200 && !found_exit; stops++) {
		ASSERT_EQ(0, ptrace(PTRACE_SYSCALL, pid, 0, 0));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFSTOPPED(status)) TH_LOG("%s: status %#x", mode, status);
		if (WSTOPSIG(status) != (SIGTRAP | 0x80))
			continue;
		ASSERT_LT(0, ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info));
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == SYS_getppid &&
		    !found_entry) {
			found_entry = 1;
			ASSERT_EQ(0, ptrace(PTRACE_GETREGS, pid, 0, &regs));
			TH_LOG("%s, getppid entry: rip %#llx rsp %#llx cs %#llx", mode,
			       regs.rip, regs.rsp, regs.cs);
			EXPECT_EQ(SYS_getppid, (long)regs.orig_rax);
			EXPECT_EQ(info.instruction_pointer, regs.rip);
			EXPECT_EQ(info.stack_pointer, regs.rsp);
			/* The instruction after SYSCALL or VMCALL, in this program's text. */
			EXPECT_TRUE(regs.rip > (uintptr_t)__executable_start &&
				    regs.rip < (uintptr_t)etext)
				TH_LOG("rip %#llx outside the text %p-%p", regs.rip,
				       __executable_start, etext);
			EXPECT_EQ(0x33, regs.cs);
		} else if (info.op == PTRACE_SYSCALL_INFO_EXIT && found_entry) {
			found_exit = 1;
			exit_rval = info.exit.rval;
		}
	}
	EXPECT_TRUE(found_entry) TH_LOG("%s: no getppid entry stop in %d stops", mode, stops);
	EXPECT_TRUE(found_exit);
	EXPECT_EQ(getpid(), (pid_t)exit_rval) TH_LOG("%s: getppid returned %lld", mode,
						     (long long)exit_rval);

	errno = 0;
	v = ptrace(PTRACE_PEEKDATA, pid, &trace_magic, 0);
	EXPECT_EQ(0, errno);
	EXPECT_EQ(0x5a5a1234abcdL, v);
	EXPECT_EQ(0, ptrace(PTRACE_POKEDATA, pid, &trace_go_on, 1));
	EXPECT_EQ(0, ptrace(PTRACE_DETACH, pid, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(7 << 8, status) TH_LOG("%s tracee after detach: status %#x", mode, status);
}

TEST_F_TIMEOUT(proc, ptrace_seize_syscall_peek_detach, 200)
{
	trace_one(_metadata, false);
	trace_one(_metadata, true);
}

/* ---- vector registers ---- */

static bool have_avx, have_avx512, fpu_handled;

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static void probe_vector_features(void)
{
	unsigned int a, b, c, d;
	uint64_t xcr0;

	__cpuid(1, a, b, c, d);
	if (!(c & bit_OSXSAVE))
		return;
	xcr0 = xgetbv0();
	have_avx = (c & bit_AVX) && (xcr0 & 6) == 6;
	__cpuid_count(7, 0, a, b, c, d);
	have_avx512 = have_avx && (b & bit_AVX512F) && (xcr0 & 0xe0) == 0xe0;
}

static __attribute__((target("avx"))) long ymm_syscall(const void *in, void *out, long nr,
						       long a0, long a1, long a2)
{
#define L(n) "vmovdqu " #n "*32(%[in]), %%ymm" #n "\n"
	asm volatile(L(0) L(1) L(2) L(3) L(4) L(5) L(6) L(7)
		L(8) L(9) L(10) L(11) L(12) L(13) L(14) L(15)
#undef L
		"syscall\n"
#define S(n) "vmovdqu %%ymm" #n ", " #n "*32(%[out])\n"
		S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7)
		S(8) S(9) S(10) S(11) S(12) S(13) S(14) S(15)
#undef S
		: "+a"(nr)
		: [in] "r"(in), [out] "r"(out), "D"(a0), "S"(a1), "d"(a2)
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15");
	return nr;
}

/* zmm0-31 (64 bytes each) and k0-7 (the 8 words after them). */
static __attribute__((target("avx512f"))) long zmm_syscall(const void *in, void *out,
							   long nr, long a0, long a1, long a2)
{
#define L(n) "vmovdqu64 " #n "*64(%[in]), %%zmm" #n "\n"
	asm volatile(L(0) L(1) L(2) L(3) L(4) L(5) L(6) L(7)
		L(8) L(9) L(10) L(11) L(12) L(13) L(14) L(15)
		L(16) L(17) L(18) L(19) L(20) L(21) L(22) L(23)
		L(24) L(25) L(26) L(27) L(28) L(29) L(30) L(31)
#undef L
#define K(n) "kmovw 2048+" #n "*2(%[in]), %%k" #n "\n"
		K(0) K(1) K(2) K(3) K(4) K(5) K(6) K(7)
#undef K
		"syscall\n"
#define S(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%[out])\n"
		S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7)
		S(8) S(9) S(10) S(11) S(12) S(13) S(14) S(15)
		S(16) S(17) S(18) S(19) S(20) S(21) S(22) S(23)
		S(24) S(25) S(26) S(27) S(28) S(29) S(30) S(31)
#undef S
#define K(n) "kmovw %%k" #n ", 2048+" #n "*2(%[out])\n"
		K(0) K(1) K(2) K(3) K(4) K(5) K(6) K(7)
#undef K
		: "+a"(nr)
		: [in] "r"(in), [out] "r"(out), "D"(a0), "S"(a1), "d"(a2)
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
		  "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29",
		  "xmm30", "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
	return nr;
}

static __attribute__((target("avx512f"))) void clobber_zmm(void)
{
	asm volatile("vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n"
		     "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n"
		     "kxnorw %%k1, %%k1, %%k1\n" : : : "xmm16", "xmm31", "k1");
}

static __attribute__((target("avx"))) void on_usr1_clobber(int sig)
{
	/* The host-side handler uses the registers itself. */
	asm volatile("vpcmpeqb %%ymm0, %%ymm0, %%ymm0\n"
		     "vpcmpeqb %%ymm15, %%ymm15, %%ymm15\n" : : : "xmm0", "xmm15");
	if (have_avx512)
		clobber_zmm();
	fpu_handled = true;
}

static alignas(64) uint8_t vec_in[2048 + 16], vec_out[2048 + 16];

/* One round trip of the registers through a system call; true if intact. */
static bool vec_round(bool zmm, long nr, long a0, long a1, long a2)
{
	size_t len = zmm ? 2048 + 16 : 16 * 32, i;
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)nr;

	for (i = 0; i < len; i++)
		vec_in[i] = (uint8_t)dune_lib_rand(&seed);
	memset(vec_out, 0, sizeof(vec_out));
	if (zmm)
		zmm_syscall(vec_in, vec_out, nr, a0, a1, a2);
	else
		ymm_syscall(vec_in, vec_out, nr, a0, a1, a2);
	return !memcmp(vec_in, vec_out, len);
}

static void scenario_vectors(int fd, bool zmm)
{
	struct sigaction sa = { .sa_handler = on_usr1_clobber };
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), i, ok_yield = 1, cpu;
	cpu_set_t set;

	sigaction(SIGUSR1, &sa, NULL);
	dprintf(fd, "getppid %d\n", vec_round(zmm, SYS_getppid, 0, 0, 0));
	for (i = 0; i < 20; i++)
		ok_yield &= vec_round(zmm, SYS_sched_yield, 0, 0, 0);
	dprintf(fd, "sched_yield x20 %d\n", ok_yield);
	dprintf(fd, "signal with a handler that clobbers them %d",
		vec_round(zmm, SYS_kill, getpid(), SIGUSR1, 0));
	dprintf(fd, ", handled %d\n", fpu_handled);
	if (ncpu < 2) {
		dprintf(fd, "one CPU: no migration\n");
		return;
	}
	for (cpu = 1; cpu >= 0; cpu--) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		dprintf(fd, "migrated to CPU %d %d", cpu,
			vec_round(zmm, SYS_sched_setaffinity, 0, sizeof(set), (long)&set));
		dprintf(fd, ", there %d\n", sched_getcpu() == cpu);
	}
}

static void scenario_ymm(int fd)
{
	scenario_vectors(fd, false);
}

static void scenario_zmm(int fd)
{
	scenario_vectors(fd, true);
}

static const char vectors_expected[] =
	"getppid 1\n"
	"sched_yield x20 1\n"
	"signal with a handler that clobbers them 1, handled 1\n"
	"migrated to CPU 1 1, there 1\n"
	"migrated to CPU 0 1, there 1\n";

TEST_F_TIMEOUT(proc, avx_ymm_survive_syscalls_signals_migration, 120)
{
	probe_vector_features();
	if (!have_avx)
		SKIP(return, "no AVX (CPUID or XCR0) on this CPU");
	same_as_native(_metadata, scenario_ymm,
		       sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? vectors_expected : NULL, 0);
}

TEST_F_TIMEOUT(proc, avx512_zmm_opmask_survive_syscalls_signals_migration, 120)
{
	probe_vector_features();
	if (!have_avx512)
		SKIP(return, "no AVX-512F (CPUID or XCR0 opmask/ZMM bits) on this CPU");
	same_as_native(_metadata, scenario_zmm,
		       sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? vectors_expected : NULL, 0);
}

/* XCR0 and the XSAVE area size, in the text; MPX's bits apart. */
#define XFEATURE_MPX	0x18ULL	/* BNDREGS, BNDCSR */

static void scenario_xcr0(int fd)
{
	unsigned int a, b, c, d;

	__cpuid(1, a, b, c, d);
	dprintf(fd, "OSXSAVE %d", !!(c & bit_OSXSAVE));
	if (c & bit_OSXSAVE)
		dprintf(fd, ", XCR0 without MPX %#llx, MPX %#llx",
			(unsigned long long)(xgetbv0() & ~XFEATURE_MPX),
			(unsigned long long)(xgetbv0() & XFEATURE_MPX));
	__cpuid_count(0xd, 0, a, b, c, d);
	dprintf(fd, ", CPUID 0xd.0 eax without MPX %#llx\n",
		(unsigned long long)(a & ~XFEATURE_MPX));
}

TEST_F_TIMEOUT(proc, xcr0_as_native, 120)
{
	static struct outcome n, d;
	char *mn, *md;

	run_scenario(_metadata, scenario_xcr0, false, &n);
	run_scenario(_metadata, scenario_xcr0, true, &d);
	TH_LOG("native: %s", n.text);
	TH_LOG("Dune mode: %s", d.text);
	EXPECT_EQ(0, d.status);
	mn = strstr(n.text, ", MPX ");
	md = strstr(d.text, ", MPX ");
	ASSERT_NE(NULL, mn);
	ASSERT_NE(NULL, md);
	/* Everything but MPX the same. */
	EXPECT_EQ(0, strncmp(n.text, d.text, (size_t)(mn - n.text)));
	EXPECT_STREQ(strstr(n.text, ", CPUID"), strstr(d.text, ", CPUID"));
	/*
	 * MPX (deprecated; Linux has no user-space support since 5.6) is
	 * only in the guest's XCR0 where KVM supports it for guests (VMX
	 * with the BNDCFGS controls, never SVM).
	 */
	if (strncmp(mn, md, 10))
		TH_LOG("XCR0 MPX bits differ (no MPX from KVM here): %.10s native, %.10s Dune",
		       mn + 2, md + 2);
}

/* PKRU */
static uint32_t rdpkru(void)
{
	uint32_t eax, edx;

	asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static void wrpkru(uint32_t v)
{
	asm volatile(".byte 0x0f, 0x01, 0xef" : : "a"(v), "c"(0), "d"(0) : "memory");
}

static bool cpu_ospke(void)
{
	unsigned int a, b, c, d;

	if (__get_cpuid_max(0, NULL) < 7)
		return false;
	__cpuid_count(7, 0, a, b, c, d);
	return c & (1u << 4);	/* OSPKE: CR4.PKE set */
}

static void scenario_pkru(int fd)
{
	int key = pkey_alloc(0, 0), ok = 1, i;
	char *page = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t v;

	dprintf(fd, "pkey_alloc %s", key > 0 ? "ok" : ename(errno));
	dprintf(fd, ", pkey_mprotect %s", key > 0 &&
		!pkey_mprotect(page, PAGE_SZ, PROT_READ | PROT_WRITE, key) ? "ok" : ename(errno));
	dprintf(fd, ", OSPKE %d\n", cpu_ospke());
	if (!cpu_ospke() || key <= 0)
		return;
	/* Write-disable the key: a value no default has. */
	v = rdpkru() | 2u << (2 * key);
	wrpkru(v);
	for (i = 0; i < 10; i++) {
		syscall(SYS_getppid);
		sched_yield();
		ok &= rdpkru() == v;
	}
	kill(getpid(), SIGUSR1);
	ok &= rdpkru() == v;
	dprintf(fd, "PKRU kept across system calls and a signal %d\n", ok);
}

TEST_F_TIMEOUT(proc, pkru, 120)
{
	static struct outcome n, d;
	struct sigaction sa = { .sa_handler = SIG_IGN };

	if (!cpu_ospke())
		SKIP(return, "no PKU/OSPKE on this CPU");
	sigaction(SIGUSR1, &sa, NULL);
	run_scenario(_metadata, scenario_pkru, false, &n);
	EXPECT_STREQ("pkey_alloc ok, pkey_mprotect ok, OSPKE 1\n"
		     "PKRU kept across system calls and a signal 1\n", n.text);
	run_scenario(_metadata, scenario_pkru, true, &d);
	TH_LOG("Dune mode: %s", d.text);
	EXPECT_EQ(0, d.status);
	if (strstr(d.text, "OSPKE 0")) {
		/* The guest runs with CR4.PKE clear: RDPKRU/WRPKRU would #UD. */
		EXPECT_STREQ("pkey_alloc ok, pkey_mprotect ok, OSPKE 0\n", d.text);
		TH_LOG("no PKU in Dune mode (CR4.PKE clear): the pkey calls work, no enforcing");
	} else {
		EXPECT_STREQ(n.text, d.text);
	}
}

/* ---- clocks ---- */

typedef int (*vdso_clock_fn)(clockid_t, struct timespec *);

/*
 * The parts of the vDSO's ELF64 image (little endian) that a symbol lookup
 * reads, as laid out in the ELF specification: the file header, program
 * headers, the dynamic section and the dynamic symbols.
 */
struct vdso_ehdr {
	unsigned char ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct vdso_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct vdso_dyn {
	int64_t tag;
	uint64_t val;
};

struct vdso_sym {
	uint32_t name;
	uint8_t info, other;
	uint16_t shndx;
	uint64_t value, size;
};

static_assert(sizeof(struct vdso_ehdr) == 64, "ELF64 file header");
static_assert(sizeof(struct vdso_phdr) == 56, "ELF64 program header");
static_assert(sizeof(struct vdso_dyn) == 16, "ELF64 dynamic entry");
static_assert(sizeof(struct vdso_sym) == 24, "ELF64 symbol");

/* A symbol of the vDSO, from its ELF dynamic symbol table (DT_HASH). */
static void *vdso_sym(const char *name)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR), load = 0;
	const struct vdso_ehdr *eh = (const void *)base;
	const struct vdso_phdr *ph;
	const struct vdso_dyn *dyn = NULL, *d;
	const struct vdso_sym *sym = NULL;
	const uint32_t *hash = NULL;
	const char *str = NULL;
	uint32_t i;
	int k;

	if (!base || eh->phentsize != sizeof(*ph))
		return NULL;
	ph = (const void *)(base + eh->phoff);
	for (k = 0; k < eh->phnum; k++) {
		if (ph[k].type == PT_LOAD && !load)
			load = base + ph[k].offset - ph[k].vaddr;
		else if (ph[k].type == PT_DYNAMIC)
			dyn = (const void *)(base + ph[k].offset);
	}
	if (!dyn || !load)
		return NULL;
	for (d = dyn; d->tag != DT_NULL; d++) {
		if (d->tag == DT_SYMTAB)
			sym = (const void *)(load + d->val);
		else if (d->tag == DT_STRTAB)
			str = (const void *)(load + d->val);
		else if (d->tag == DT_HASH)
			hash = (const void *)(load + d->val);
	}
	if (!sym || !str || !hash)
		return NULL;
	/* DT_HASH: nbucket, nchain; nchain is the number of symbols. */
	for (i = 0; i < hash[1]; i++)
		if (sym[i].shndx != SHN_UNDEF && !strcmp(str + sym[i].name, name))
			return (void *)(load + sym[i].value);
	return NULL;
}

static double ts_sec(const struct timespec *t)
{
	return t->tv_sec + t->tv_nsec / 1e9;
}

static uint64_t rdtsc_(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void scenario_clocks(int fd)
{
	vdso_clock_fn vdso = vdso_sym("__vdso_clock_gettime");
	static const clockid_t ids[] = { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME };
	static const char *const names[] = { "MONOTONIC", "REALTIME", "BOOTTIME" };
	unsigned int a, b, c, d;
	int k, i;

	dprintf(fd, "vDSO clock_gettime %s\n", vdso ? "found" : "missing");
	if (!vdso)
		return;
	for (k = 0; k < 3; k++) {
		int ordered = 1, close = 1;

		for (i = 0; i < 100; i++) {
			struct timespec t0, t1, t2;

			vdso(ids[k], &t0);
			syscall(SYS_clock_gettime, ids[k], &t1);
			vdso(ids[k], &t2);
			ordered &= ts_sec(&t0) <= ts_sec(&t1) && ts_sec(&t1) <= ts_sec(&t2);
			close &= ts_sec(&t2) - ts_sec(&t0) < 0.5;
		}
		dprintf(fd, "%s: vDSO <= system call <= vDSO %d, within 0.5 s %d\n", names[k],
			ordered, close);
	}
	__cpuid(0x80000001, a, b, c, d);
	if (d & (1u << 27)) {
		int ordered = 1;

		for (i = 0; i < 100; i++) {
			uint64_t t0 = rdtsc_(), t1, t2;
			uint32_t lo, hi, aux;

			asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
			t1 = (uint64_t)hi << 32 | lo;
			t2 = rdtsc_();
			ordered &= t0 <= t1 && t1 <= t2;
		}
		dprintf(fd, "rdtsc <= rdtscp <= rdtsc %d\n", ordered);
	}
}

TEST_F_TIMEOUT(proc, vdso_clocks_agree_with_syscall, 120)
{
	static char cs[64];
	int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		      O_RDONLY);

	if (fd >= 0) {
		slurp(fd, cs, sizeof(cs));
		close(fd);
	}
	TH_LOG("clocksource: %s", cs);
	same_as_native(_metadata, scenario_clocks, NULL, 0);
}

DUNE_LIB_MAIN
