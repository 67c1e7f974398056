// SPDX-License-Identifier: GPL-2.0-only
/*
 * dune_bench_libdune: the libdune rows of dune_bench (items 4, 5, 6 and the
 * in-process #PF exit count of item 8), measured the way an application
 * would use libdune: dune_init_and_enter(), a #PF handler registered with
 * dune_register_pgflt_handler() that changes page permissions with
 * dune_vm_protect(), ring 3 with dune_jump_to_user() and a SYSCALL handler.
 *
 * A separate program because libdune and the selftests' dune_util.c both
 * define dune_vm_create() and friends.  dune_bench runs it and reads its
 * standard output:
 *   R key median p10 p90 samples batch    per-op cycles
 *   V key value                            a plain value
 *   N text                                 a note (something not measured)
 * Arguments: syscall=N batch=N trap=N only=N rounds=N exits=N.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <dune.h>

#include "bench.h"

/* guest_code.c */
void empty_series(struct series *s, unsigned int n);
void touch_all(volatile uint8_t *base, size_t bytes, size_t stride);

static unsigned int n_syscall = 1000, n_batch = 10, n_trap = 1000, n_only = 10;
static unsigned int n_rounds = 50, n_exits = 1000;

static void emit(const char *key, const struct series *s, double overhead)
{
	struct stat_result r;

	if (series_stats(s, overhead, &r))
		return;
	printf("R %s %.3f %.3f %.3f %u %u\n", key, r.med, r.p10, r.p90, r.n, r.batch);
}

/* ---- ring 3 ---------------------------------------------------------------- */

#define SYS_DONE	0x7ffe

struct user_area {
	unsigned int samples, batch;
	long pid_seen;
	struct series empty, calls;
	alignas(16) uint8_t stack[65536];
};

static long fake_pid;

static void sys_handler(struct dune_tf *tf)
{
	if (tf->rax == SYS_DONE)
		dune_ret_from_user(0);
	tf->rax = fake_pid;
}

static void user_main(struct user_area *u)
{
	unsigned int i, j;
	long r;

	empty_series(&u->empty, 1000);
	series_init(&u->calls, u->batch);
	for (i = 0; i < u->samples; i++) {
		uint64_t t0 = bench_rdtsc();

		for (j = 0; j < u->batch; j++)
			bench_sys_getpid();
		series_add(&u->calls, bench_rdtsc() - t0);
	}
	u->pid_seen = bench_sys_getpid();
	asm volatile("syscall" : "=a"(r) : "a"((long)SYS_DONE) : "rcx", "r11", "memory");
	for (;;)
		;
}

extern char __executable_start[], end[];

static int ring3(void)
{
	struct dune_vm *vm = dune_vm_current();
	uintptr_t t0 = (uintptr_t)__executable_start & ~(BENCH_PAGE - 1);
	uintptr_t t1 = ((uintptr_t)end + BENCH_PAGE - 1) & ~(BENCH_PAGE - 1);
	size_t len = (sizeof(struct user_area) + BENCH_PAGE - 1) & ~(BENCH_PAGE - 1);
	struct user_area *u;
	struct dune_tf tf;
	long r;

	u = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u == MAP_FAILED)
		return -1;
	/*
	 * Ring 3 runs this program's text (and reads its constants), on its
	 * own stack and data: open the whole image to it (a benchmark, not a
	 * sandbox).
	 */
	r = dune_vm_protect(vm, (void *)t0, t1 - t0,
			    DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_X | DUNE_PERM_U);
	if (!r)
		r = dune_vm_protect(vm, u, len, DUNE_PERM_R | DUNE_PERM_W | DUNE_PERM_U);
	if (r) {
		printf("N ring 3: dune_vm_protect: %s\n", dune_strerror((int)r));
		return -1;
	}
	u->samples = n_syscall;
	u->batch = n_batch;
	fake_pid = getpid();
	dune_register_syscall_handler(sys_handler);
	dune_init_user_tf(&tf, (uintptr_t)user_main, (uintptr_t)(u->stack + sizeof(u->stack) - 8));
	tf.rdi = (uintptr_t)u;
	r = dune_jump_to_user(&tf);
	dune_register_syscall_handler(NULL);
	if (r || u->pid_seen != fake_pid) {
		printf("N ring 3: returned %ld, getpid answer %ld\n", r, u->pid_seen);
		return -1;
	}
	emit("empty.ring3.libdune", &u->empty, 0);
	{
		struct stat_result e;

		series_stats(&u->empty, 0, &e);
		emit("r3syscall.libdune", &u->calls, e.med);
	}
	return 0;
}

/* ---- in-process page faults --------------------------------------------- */

enum { PF_UNPROT, PF_ONLY, PF_APPEL1 };
static uint8_t *region;
static volatile int mode, left;
static uint8_t *volatile please_protect;
static volatile unsigned long faults;

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	uint8_t *page = (uint8_t *)(addr & ~(BENCH_PAGE - 1));
	struct dune_vm *vm = dune_vm_current();

	(void)fec;
	if ((uintptr_t)(page - region) >= APPEL_PAGES * BENCH_PAGE)
		dune_fatal_trap(tf);
	faults++;
	switch (mode) {
	case PF_ONLY:
		if (--left > 0)
			return;
		break;
	case PF_APPEL1:
		if (please_protect)
			dune_vm_protect(vm, please_protect, BENCH_PAGE, DUNE_PERM_R);
		break;
	}
	dune_vm_protect(vm, page, BENCH_PAGE, DUNE_PERM_R | DUNE_PERM_W);
}

/*
 * The debugfs directory of this process's Dune VM (named <pid>-<vm fd>).
 * Its files cannot be pread (not seekable): each read is open, read, close.
 */
static char ctr_dir[300];

static bool find_ctr_dir(void)
{
	char prefix[32];
	struct dirent *de;
	DIR *d = opendir("/sys/kernel/debug/kvm");

	if (!d)
		return false;
	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			snprintf(ctr_dir, sizeof(ctr_dir), "/sys/kernel/debug/kvm/%s", de->d_name);
			break;
		}
	closedir(d);
	return ctr_dir[0] != 0;
}

static long long read_ctr(const char *name)
{
	char path[400], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ctr_dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atoll(buf);
}

static int traps(void)
{
	static struct series trap, only, a1, a2, empty;
	struct dune_vm *vm = dune_vm_current();
	size_t len = APPEL_PAGES * BENCH_PAGE;
	int perm[APPEL_PAGES], j;
	unsigned long f0, expect;
	unsigned int i, r;
	double oh;
	struct stat_result e;
	int bad = 0;

	region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return -1;
	madvise(region, len, MADV_NOHUGEPAGE);
	touch_all(region, len, BENCH_PAGE);
	bench_permutation(perm, APPEL_PAGES, 7);
	empty_series(&empty, 2000);
	series_stats(&empty, 0, &e);
	oh = e.med;
	emit("empty.libdune", &empty, 0);
	dune_register_pgflt_handler(pgflt);

	mode = PF_UNPROT;
	f0 = faults;
	series_init(&trap, 1);
	for (i = 0; i < n_trap; i++) {
		volatile uint8_t *p = region + (i % APPEL_PAGES) * BENCH_PAGE;
		uint64_t t0;

		dune_vm_protect(vm, (void *)p, BENCH_PAGE, DUNE_PERM_R);
		t0 = bench_rdtsc();
		*p = 1;
		series_add(&trap, bench_rdtsc() - t0);
	}
	if (faults - f0 == n_trap)
		emit("trap.libdune", &trap, oh);
	else
		printf("N trap: %lu faults for %u traps\n", faults - f0, n_trap), bad = -1;

	mode = PF_ONLY;
	f0 = faults;
	series_init(&only, n_only);
	for (i = 0; i < n_trap / n_only + 1; i++) {
		volatile uint8_t *p = region + (i % APPEL_PAGES) * BENCH_PAGE;
		uint64_t t0;

		dune_vm_protect(vm, (void *)p, BENCH_PAGE, DUNE_PERM_R);
		left = n_only;
		t0 = bench_rdtsc();
		*p = 1;
		series_add(&only, bench_rdtsc() - t0);
	}
	expect = (unsigned long)(n_trap / n_only + 1) * n_only;
	if (faults - f0 == expect)
		emit("traponly.libdune", &only, oh);
	else
		printf("N trap only: %lu faults, expected %lu\n", faults - f0, expect), bad = -1;

	mode = PF_APPEL1;
	dune_vm_protect(vm, region, len, DUNE_PERM_R);
	please_protect = region + perm[APPEL_PAGES - 1] * BENCH_PAGE;
	dune_vm_protect(vm, please_protect, BENCH_PAGE, DUNE_PERM_R | DUNE_PERM_W);
	f0 = faults;
	series_init(&a1, APPEL_PAGES);
	for (r = 0; r < n_rounds; r++) {
		uint64_t t0 = bench_rdtsc();

		for (j = 0; j < APPEL_PAGES; j++) {
			volatile uint8_t *p = region + perm[j] * BENCH_PAGE;

			*p = 10;
			please_protect = (uint8_t *)p;
		}
		series_add(&a1, bench_rdtsc() - t0);
	}
	if (faults - f0 == (unsigned long)n_rounds * APPEL_PAGES)
		emit("appel1.libdune", &a1, oh);
	else
		printf("N appel1: %lu faults\n", faults - f0), bad = -1;

	mode = PF_UNPROT;
	f0 = faults;
	series_init(&a2, APPEL_PAGES);
	for (r = 0; r < n_rounds; r++) {
		uint64_t t0 = bench_rdtsc();

		dune_vm_protect(vm, region, len, DUNE_PERM_R);
		for (j = 0; j < APPEL_PAGES; j++)
			*(volatile uint8_t *)(region + perm[j] * BENCH_PAGE) = 10;
		series_add(&a2, bench_rdtsc() - t0);
	}
	if (faults - f0 == (unsigned long)n_rounds * APPEL_PAGES)
		emit("appel2.libdune", &a2, oh);
	else
		printf("N appel2: %lu faults\n", faults - f0), bad = -1;

	/*
	 * Exits per in-process page fault, from KVM's debugfs counters.  Each
	 * read (open, read, close) costs exits of its own: b1 - b0 is what a
	 * read costs, and the measured window x0..x1 holds three reads' worth
	 * (the close of x0, both irq_exits reads, the open and read of x1).
	 */
	if (!find_ctr_dir()) {
		printf("N libdune: no debugfs directory for this VM\n");
	} else {
		long long b0, b1, x0, x1, i0, i1;

		/* the least of three, so that a host interrupt does not count */
		b0 = read_ctr("exits");
		b1 = -1;
		for (i = 0; i < 3; i++) {
			long long a = read_ctr("exits"), b = read_ctr("exits");

			if (a >= 0 && b >= 0 && (b1 < 0 || b - a < b1 - b0)) {
				b0 = a;
				b1 = b;
			}
		}
		x0 = read_ctr("exits");
		i0 = read_ctr("irq_exits");
		for (i = 0; i < n_exits; i++) {
			void *p = region + (i % APPEL_PAGES) * BENCH_PAGE;

			dune_vm_protect(vm, p, BENCH_PAGE, DUNE_PERM_R);
			*(volatile uint8_t *)p = 3;
		}
		i1 = read_ctr("irq_exits");
		x1 = read_ctr("exits");
		if (b0 >= 0 && b1 >= 0 && x0 >= 0 && x1 >= 0) {
			double base = 3.0 * (b1 - b0);

			printf("V exits.inproc_pf.libdune %.4f\n", (x1 - x0 - base) / n_exits);
			if (i0 >= 0 && i1 >= 0)
				printf("V exits.inproc_pf_noirq.libdune %.4f\n",
				       (x1 - x0 - base - (i1 - i0)) / n_exits);
		} else {
			printf("N libdune: could not read %s/exits\n", ctr_dir);
		}
	}
	dune_register_pgflt_handler(NULL);
	munmap(region, len);
	return bad;
}

int main(int argc, char **argv)
{
	int i, r, bad = 0;

	for (i = 1; i < argc; i++) {
		unsigned int v;
		char k[16];

		if (sscanf(argv[i], "%15[a-z]=%u", k, &v) != 2 || !v)
			continue;
		if (!strcmp(k, "syscall"))
			n_syscall = v;
		else if (!strcmp(k, "batch"))
			n_batch = v;
		else if (!strcmp(k, "trap"))
			n_trap = v;
		else if (!strcmp(k, "only"))
			n_only = v;
		else if (!strcmp(k, "rounds"))
			n_rounds = v;
		else if (!strcmp(k, "exits"))
			n_exits = v;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	r = dune_init_and_enter();
	if (r) {
		printf("N dune_init_and_enter: %s (%s)\n", dune_strerror(r), dune_last_error());
		return 2;
	}
	printf("in Dune mode (libdune %d.%d)\n", LIBDUNE_VERSION_MAJOR, LIBDUNE_VERSION_MINOR);
	if (ring3())
		bad = 1;
	if (traps())
		bad = 1;
	return bad;
}
