// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dune mode stress, bounded in count and time: many threads making VMCALLs
 * at once, enter/exit cycles in fresh processes without kernel memory
 * growth, mmap/munmap/mprotect churn from a host thread while the guest
 * touches the memory.  Sizes scale with DUNE_STRESS (default 1; the CI runs
 * the default, a real host can use 10 or more).
 */
#include <pthread.h>
#include <signal.h>

#include "dune_test.h"

static int scale(void)
{
	const char *s = getenv("DUNE_STRESS");
	int n = s ? atoi(s) : 1;

	return n > 0 ? n : 1;
}

#define NR_THREADS	16

static struct dune_vm vm;
static alignas(16) uint8_t stacks[NR_THREADS][16384];
static long calls_per_thread;
static long bad[NR_THREADS];

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
	pthread_t t[NR_THREADS];
	void *ret;
	long i;

	if (no_dune(_metadata))
		return;
	calls_per_thread = 1000L * scale();
	ASSERT_EQ(0, dune_vm_create(&vm));
	ASSERT_EQ(0, dune_build_page_tables(&vm));
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread, (void *)i));
	for (i = 0; i < NR_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
		EXPECT_EQ(0, bad[i]) TH_LOG("thread %ld saw another thread's tid", i);
	}
	TH_LOG("%d threads x %ld VMCALLs", NR_THREADS, calls_per_thread);
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

TEST(enter_exit_cycles_no_slab_growth)
{
	long before, after;
	int i, n = 200 * scale(), status;

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
	if (before > 0)
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

TEST_HARNESS_MAIN
