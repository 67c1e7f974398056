// SPDX-License-Identifier: GPL-2.0-only
/*
 * The native side of items 1-6: what a plain Linux process pays.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "dune_bench.h"

static double overhead;

/* ---- 1. getpid ---------------------------------------------------------- */

static void getpid_native(void)
{
	static struct series s;
	unsigned int i, j;

	series_init(&s, cfg.getpid_batch);
	for (i = 0; i < cfg.getpid_samples; i++) {
		uint64_t t0 = bench_rdtsc();

		for (j = 0; j < cfg.getpid_batch; j++)
			bench_sys_getpid();
		series_add(&s, bench_rdtsc() - t0);
	}
	res_put_series("getpid.native", &s, overhead);
}

/* ---- 2. first-touch page fault, 3. page walk ---------------------------- */

static int pagefault_native(void)
{
	static struct series s;
	size_t len = (size_t)cfg.pf_pages * BENCH_PAGE;
	uint8_t *p = fresh_map(len, BENCH_PAGE, 0);

	if (!p)
		return -1;
	touch_series(p, cfg.pf_pages, &s);
	munmap(p, len);
	res_put_series("pf.native", &s, overhead);
	return 0;
}

static int walk_native(void)
{
	static struct series s;
	size_t len = (size_t)cfg.walk_pages * BENCH_PAGE;
	uint8_t *p = fresh_map(len, 2UL << 20, 0);
	unsigned int i;

	if (!p)
		return -1;
	touch_all(p, len, BENCH_PAGE);
	series_init(&s, cfg.walk_pages);
	walk_pass(p, cfg.walk_pages);	/* warm up */
	for (i = 0; i < cfg.walk_passes; i++)
		series_add(&s, walk_pass(p, cfg.walk_pages));
	munmap(p, len);
	res_put_series("walk.native", &s, overhead);
	return 0;
}

/* ---- 4. syscall interception with ptrace -------------------------------- */

static int ptrace_bench(int request, const char *key)
{
	struct series *s = shared_alloc(sizeof(*s));
	int status, sig = 0, ret = -1;
	unsigned int i;
	pid_t pid;

	if (!s)
		return -1;
	series_init(s, 1);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0))
			_exit(1);
		raise(SIGSTOP);
		for (i = 0; i < cfg.ptrace_iters; i++) {
			uint64_t t0 = bench_rdtsc();

			bench_sys_getpid();
			series_add(s, bench_rdtsc() - t0);
		}
		/* Under PTRACE_SYSEMU this is caught too: the tracer kills us. */
		for (;;)
			syscall(SYS_exit_group, 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		goto out;
	if (ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))
		goto kill;
	for (;;) {
		struct user_regs_struct regs;

		if (ptrace(request, pid, 0, sig))
			goto kill;
		sig = 0;
		if (waitpid(pid, &status, 0) != pid)
			goto kill;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status);
			continue;
		}
		/* What an interposer does: look at the call, answer it. */
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs))
			goto kill;
		if (request == PTRACE_SYSEMU) {
			if (regs.orig_rax != SYS_getpid) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				break;
			}
			regs.rax = pid;
			if (ptrace(PTRACE_SETREGS, pid, 0, &regs))
				goto kill;
		}
	}
	if (s->n == cfg.ptrace_iters) {
		res_put_series(key, s, overhead);
		ret = 0;
	} else {
		say("%s: the tracee recorded %u of %u calls", key, s->n, cfg.ptrace_iters);
	}
	goto out;
kill:
	say("%s: ptrace: %s", key, strerror(errno));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
out:
	munmap(s, sizeof(*s));
	return ret;
}

/* ---- 5. trap, 6. appel1/appel2 with mprotect + SIGSEGV ------------------ */

enum { T_UNPROT, T_ONLY, T_APPEL1 };
static uint8_t *tmem;
static volatile int tmode, tleft;
static uint8_t *volatile please_protect;

static void segv_handler(int sig, siginfo_t *si, void *ctx)
{
	uint8_t *page = (uint8_t *)((uintptr_t)si->si_addr & ~(BENCH_PAGE - 1));

	(void)sig;
	(void)ctx;
	if ((uintptr_t)(page - tmem) >= APPEL_PAGES * BENCH_PAGE)
		_exit(66);	/* not ours: a real crash */
	switch (tmode) {
	case T_ONLY:
		if (--tleft > 0)
			return;
		break;
	case T_APPEL1:
		if (please_protect)
			mprotect(please_protect, BENCH_PAGE, PROT_READ);
		break;
	}
	mprotect(page, BENCH_PAGE, PROT_READ | PROT_WRITE);
}

static int traps_native(void)
{
	static struct series trap, only, a1, a2;
	struct sigaction sa = { .sa_sigaction = segv_handler, .sa_flags = SA_SIGINFO }, old;
	size_t len = APPEL_PAGES * BENCH_PAGE;
	int perm[APPEL_PAGES];
	unsigned int i, r;
	int j;

	tmem = fresh_map(len, BENCH_PAGE, 0);
	if (!tmem)
		return -1;
	touch_all(tmem, len, BENCH_PAGE);
	bench_permutation(perm, APPEL_PAGES, 7);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old))
		return -1;

	/* trap: write to a read-only page, the handler makes it writable */
	tmode = T_UNPROT;
	series_init(&trap, 1);
	for (i = 0; i < cfg.trap_iters; i++) {
		volatile uint8_t *p = tmem + (i % APPEL_PAGES) * BENCH_PAGE;
		uint64_t t0;

		mprotect((void *)p, BENCH_PAGE, PROT_READ);
		t0 = bench_rdtsc();
		*p = 1;
		series_add(&trap, bench_rdtsc() - t0);
	}

	/* trap only (Appel's "trap"): the handler returns, the write traps again */
	tmode = T_ONLY;
	series_init(&only, cfg.traponly_batch);
	for (i = 0; i < cfg.trap_iters / cfg.traponly_batch + 1; i++) {
		volatile uint8_t *p = tmem + (i % APPEL_PAGES) * BENCH_PAGE;
		uint64_t t0;

		mprotect((void *)p, BENCH_PAGE, PROT_READ);
		tleft = cfg.traponly_batch;
		t0 = bench_rdtsc();
		*p = 1;
		series_add(&only, bench_rdtsc() - t0);
	}

	/* appel1, prot1+trap+unprot: the handler protects the page before */
	tmode = T_APPEL1;
	mprotect(tmem, len, PROT_READ);
	please_protect = tmem + perm[APPEL_PAGES - 1] * BENCH_PAGE;
	mprotect(please_protect, BENCH_PAGE, PROT_READ | PROT_WRITE);
	series_init(&a1, APPEL_PAGES);
	for (r = 0; r < cfg.appel_rounds; r++) {
		uint64_t t0 = bench_rdtsc();

		for (j = 0; j < APPEL_PAGES; j++) {
			volatile uint8_t *p = tmem + perm[j] * BENCH_PAGE;

			*p = 10;
			please_protect = (uint8_t *)p;
		}
		series_add(&a1, bench_rdtsc() - t0);
	}

	/* appel2, protN+trap+unprot: protect 100 pages, each traps once */
	tmode = T_UNPROT;
	series_init(&a2, APPEL_PAGES);
	for (r = 0; r < cfg.appel_rounds; r++) {
		uint64_t t0 = bench_rdtsc();

		mprotect(tmem, len, PROT_READ);
		for (j = 0; j < APPEL_PAGES; j++)
			*(volatile uint8_t *)(tmem + perm[j] * BENCH_PAGE) = 10;
		series_add(&a2, bench_rdtsc() - t0);
	}

	sigaction(SIGSEGV, &old, NULL);
	munmap(tmem, len);
	res_put_series("trap.native", &trap, overhead);
	res_put_series("traponly.native", &only, overhead);
	res_put_series("appel1.native", &a1, overhead);
	res_put_series("appel2.native", &a2, overhead);
	return 0;
}

int native_run(void)
{
	static struct series empty;
	int bad = 0;

	empty_series(&empty, 2000);
	res_put_series("empty.native", &empty, 0);
	overhead = res_get("empty.native")->med;

	say("native: getpid");
	getpid_native();
	say("native: first-touch page faults (%u pages)", cfg.pf_pages);
	bad |= pagefault_native();
	say("native: page walk (%u pages x %u passes)", cfg.walk_pages, cfg.walk_passes);
	bad |= walk_native();
	say("native: ptrace PTRACE_SYSCALL and PTRACE_SYSEMU (%u calls each)", cfg.ptrace_iters);
	if (ptrace_bench(PTRACE_SYSCALL, "ptrace_syscall.native"))
		res_note("ptrace PTRACE_SYSCALL could not be measured");
	if (ptrace_bench(PTRACE_SYSEMU, "ptrace_sysemu.native")) {
		res_note("ptrace PTRACE_SYSEMU could not be measured");
		bad = -1;
	}
	say("native: SIGSEGV traps and appel1/appel2");
	bad |= traps_native();
	return bad ? -1 : 0;
}
