// SPDX-License-Identifier: GPL-2.0-only
/*
 * dune_bench: native vs Dune mode, the measurements of the Dune paper
 * (Belay et al., OSDI 2012, Tables 2 and 3) and a few of our own, printed as
 * one table.  Runs inside the test VM (scripts/bench.sh boots it).
 *
 *   dune_bench [key=value ...]
 *
 * Options also come from the kernel command line as bench.KEY=VALUE:
 *   backend=svm|vmx|kvm   for the labels and the default sizes
 *   scale=F               multiply the iteration counts by F
 *   thp_mb=N              size of the THP region of item 8 (default: 1024
 *                         if the memory allows, else 256)
 *
 * Exit status 0 when every item got a measurement (the numbers themselves
 * are never judged), 1 when something could not be measured at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "dune_bench.h"

struct bench_cfg cfg;

/* ---- output ------------------------------------------------------------- */

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fflush(stdout);
}

#define MAX_NOTES 32
static char *notes[MAX_NOTES];
static int nnotes;

void res_note(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return;
	say("note: %s", s);
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = s;
}

/* ---- result registry ------------------------------------------------------ */

struct result {
	char key[40];
	bool is_stat;
	struct stat_result st;
	double value;
};

#define MAX_RESULTS 128
static struct result results[MAX_RESULTS];
static int nresults;

static struct result *slot(const char *key)
{
	int i;

	for (i = 0; i < nresults; i++)
		if (!strcmp(results[i].key, key))
			return &results[i];
	if (nresults == MAX_RESULTS)
		return NULL;
	snprintf(results[nresults].key, sizeof(results[nresults].key), "%s", key);
	return &results[nresults++];
}

void res_put(const char *key, const struct stat_result *r)
{
	struct result *s = slot(key);

	if (!s)
		return;
	s->is_stat = true;
	s->st = *r;
	s->value = r->med;
	say("%-24s median %10.1f  p10 %10.1f  p90 %10.1f  (%u samples x %u ops)",
	    key, r->med, r->p10, r->p90, r->n, r->batch);
}

void res_put_series(const char *key, const struct series *s, double overhead)
{
	struct stat_result r;

	if (series_stats(s, overhead, &r))
		return;
	res_put(key, &r);
}

void res_put_value(const char *key, double v)
{
	struct result *s = slot(key);

	if (!s)
		return;
	s->is_stat = false;
	s->value = v;
	say("%-24s %.3f", key, v);
}

const struct stat_result *res_get(const char *key)
{
	int i;

	for (i = 0; i < nresults; i++)
		if (!strcmp(results[i].key, key) && results[i].is_stat)
			return &results[i].st;
	return NULL;
}

bool res_value(const char *key, double *v)
{
	int i;

	for (i = 0; i < nresults; i++)
		if (!strcmp(results[i].key, key)) {
			*v = results[i].value;
			return true;
		}
	return false;
}

/* ---- memory helpers ------------------------------------------------------- */

void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, size);
	return p;
}

void *fresh_map(size_t size, size_t align, int huge)
{
	size_t total = size + align;
	uint8_t *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (a > p)
		munmap(p, a - p);
	if (p + total > a + size)
		munmap(a + size, p + total - (a + size));
	madvise(a, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return a;
}

/* ---- configuration -------------------------------------------------------- */

static char backend_buf[16];
static double scale = 1;
static long thp_mb_opt = -1;

static void option(const char *kv)
{
	const char *v = strchr(kv, '=');
	size_t n;

	if (!v)
		return;
	n = v - kv;
	v++;
	if (n == 7 && !strncmp(kv, "backend", 7))
		snprintf(backend_buf, sizeof(backend_buf), "%s", v);
	else if (n == 5 && !strncmp(kv, "scale", 5))
		scale = atof(v) > 0 ? atof(v) : 1;
	else if (n == 6 && !strncmp(kv, "thp_mb", 6))
		thp_mb_opt = atol(v);
}

static void read_cmdline(void)
{
	char buf[4096], *tok, *save;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f))
		for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
			if (!strncmp(tok, "bench.", 6))
				option(tok + 6);
	fclose(f);
}

static long meminfo_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");
	size_t n = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = atol(line + n + 1);
	fclose(f);
	return v;
}

static unsigned int sc(unsigned int n)
{
	double v = n * scale;

	return v < 1 ? 1 : v > SERIES_MAX ? SERIES_MAX : (unsigned int)v;
}

static void configure(void)
{
	unsigned int a, b, c, d;
	long avail;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	cfg.amd = b == 0x68747541 || b == 0x6f677948;	/* AuthenticAMD, HygonGenuine */
	if (!backend_buf[0])	/* a guess: AMD here is QEMU TCG, Intel is Bochs */
		snprintf(backend_buf, sizeof(backend_buf), "%s", cfg.amd ? "svm" : "vmx");
	cfg.backend = backend_buf;
	cfg.emulated = strcmp(cfg.backend, "kvm") != 0;

	if (!strcmp(cfg.backend, "vmx")) {	/* Bochs: ~25 M instructions/s */
		cfg.getpid_samples = 300, cfg.getpid_batch = 10;
		cfg.pf_pages = 1000;
		cfg.walk_pages = 16384, cfg.walk_passes = 5;
		cfg.ptrace_iters = 300;
		cfg.trap_iters = 300, cfg.traponly_batch = 10;
		cfg.appel_rounds = 10;
		cfg.stock_samples = 200, cfg.stock_batch = 5;
		cfg.exit_ops = 300;
		cfg.small_mb = 32;
		cfg.enter_reps = 3;
	} else if (!strcmp(cfg.backend, "svm")) {	/* QEMU TCG */
		/*
		 * Batches of one: a VM exit takes ~100 us here, and samples
		 * much shorter than a host time slice keep the median clear
		 * of the times the emulator was not running.
		 */
		cfg.getpid_samples = 4000, cfg.getpid_batch = 1;
		cfg.pf_pages = 2000;
		cfg.walk_pages = 16384, cfg.walk_passes = 50;
		cfg.ptrace_iters = 1000;
		cfg.trap_iters = 1000, cfg.traponly_batch = 10;
		cfg.appel_rounds = 50;
		cfg.stock_samples = 3000, cfg.stock_batch = 1;
		cfg.exit_ops = 1000;
		cfg.small_mb = 64;
		cfg.enter_reps = 10;
	} else {				/* hardware */
		cfg.getpid_samples = 5000, cfg.getpid_batch = 10;
		cfg.pf_pages = 4096;
		cfg.walk_pages = 16384, cfg.walk_passes = 100;
		cfg.ptrace_iters = 5000;
		cfg.trap_iters = 5000, cfg.traponly_batch = 10;
		cfg.appel_rounds = 200;
		cfg.stock_samples = 2000, cfg.stock_batch = 10;
		cfg.exit_ops = 5000;
		cfg.small_mb = 256;
		cfg.enter_reps = 20;
	}
	cfg.getpid_samples = sc(cfg.getpid_samples);
	cfg.pf_pages = sc(cfg.pf_pages);
	cfg.walk_passes = sc(cfg.walk_passes);
	cfg.ptrace_iters = sc(cfg.ptrace_iters);
	cfg.trap_iters = sc(cfg.trap_iters);
	cfg.appel_rounds = sc(cfg.appel_rounds);
	cfg.stock_samples = sc(cfg.stock_samples);
	cfg.exit_ops = sc(cfg.exit_ops);
	cfg.enter_reps = sc(cfg.enter_reps);

	avail = meminfo_kb("MemAvailable") / 1024;
	if (thp_mb_opt > 0)
		cfg.thp_mb = thp_mb_opt;
	else
		cfg.thp_mb = avail >= 1024 + 640 ? 1024 : avail >= 512 ? 256 : 64;
	say("backend %s, MemAvailable %ld MiB, THP region %u MiB, 4 KiB region %u MiB, scale %.2f",
	    cfg.backend, avail, cfg.thp_mb, cfg.small_mb, scale);
}

/* TSC rate against CLOCK_MONOTONIC over ~200 ms. */
static void calibrate_tsc(void)
{
	struct timespec a, b;
	uint64_t t0, t1;
	double ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = bench_rdtsc();
	do {
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	} while (ns < 2e8);
	t1 = bench_rdtsc();
	cfg.tsc_khz = (t1 - t0) / ns * 1e6;
	say("TSC %.3f MHz (against CLOCK_MONOTONIC)", cfg.tsc_khz / 1000);
}

static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		say("could not pin to CPU 0: %s", strerror(errno));
}

static void thp_mode(char *buf, size_t n)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char line[128], *l, *r;

	snprintf(buf, n, "unknown");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && (l = strchr(line, '[')) && (r = strchr(l, ']'))) {
		*r = 0;
		snprintf(buf, n, "%s", l + 1);
	}
	fclose(f);
}

/* ---- libdune rows: a separate program (libdune and dune_util both define
 * dune_vm_create() & co.), results as "R key med p10 p90 n batch" lines --- */

static int run_libdune_helper(void)
{
	char exe[4096], path[4200], line[512], *slash;
	int fds[2], status, got = 0;
	ssize_t n;
	FILE *f;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(path, sizeof(path), "%s/dune_bench_libdune", exe);
	if (access(path, X_OK)) {
		res_note("libdune rows: %s not found", path);
		return -1;
	}
	if (pipe(fds))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char a1[32], a2[32], a3[32], a4[32], a5[32], a6[32];
		char *argv[] = { path, a1, a2, a3, a4, a5, a6, NULL };

		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		snprintf(a1, sizeof(a1), "syscall=%u", cfg.getpid_samples);
		snprintf(a2, sizeof(a2), "batch=%u", cfg.getpid_batch);
		snprintf(a3, sizeof(a3), "trap=%u", cfg.trap_iters);
		snprintf(a4, sizeof(a4), "only=%u", cfg.traponly_batch);
		snprintf(a5, sizeof(a5), "rounds=%u", cfg.appel_rounds);
		snprintf(a6, sizeof(a6), "exits=%u", cfg.exit_ops);
		execv(path, argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (f) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };

		/* A stuck helper must not hang the benchmark: 10 minutes. */
		if (poll(&p, 1, 600000) <= 0) {
			res_note("libdune helper: no output for 10 minutes, killed");
			kill(pid, SIGKILL);
			break;
		}
		if (!fgets(line, sizeof(line), f))
			break;
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "R ", 2)) {
			struct stat_result r;
			char key[40];

			if (sscanf(line + 2, "%39s %lf %lf %lf %u %u", key, &r.med, &r.p10,
				   &r.p90, &r.n, &r.batch) == 6) {
				res_put(key, &r);
				got++;
			}
		} else if (!strncmp(line, "V ", 2)) {
			char key[40];
			double v;

			if (sscanf(line + 2, "%39s %lf", key, &v) == 2)
				res_put_value(key, v);
		} else if (!strncmp(line, "N ", 2)) {
			res_note("libdune: %s", line + 2);
		} else {
			say("libdune: %s", line);
		}
	}
	if (f)
		fclose(f);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		res_note("libdune helper failed (%s %d) after %d results",
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), got);
		return -1;
	}
	return 0;
}

/* ---- the table -------------------------------------------------------------- */

enum kind { TIME, COUNT };
struct row {
	const char *item;
	const char *what;
	const char *base;	/* key of the baseline (native unless said) */
	const char *dune;	/* key of the Dune figure */
	enum kind kind;
	const char *paper;
	bool required;
};

#define SEP "------------------------------------------------------------------+----------------------+----------------------+---------+-----------------------------"

static const struct row rows[] = {
	{ "1", "getpid: SYSCALL vs VMCALL from ring 0", "getpid.native", "getpid.dune",
	  TIME, "138 / 895 (6.49)", true },
	{ "2", "page fault, first touch 4K: host #PF vs EPT/NPT+host", "pf.native", "pf.dune",
	  TIME, "2,687 / 5,093 (1.90)", true },
	{ "3", "page walk, 1 byte/page, 64M: guest 4K PTEs", "walk.native", "walk.dune_4k",
	  TIME, "35.8 / 86.4 (2.41)", true },
	{ "3", "  same, guest 2M/1G leaves (EPT/NPT 4K)", "walk.native", "walk.dune_large",
	  TIME, "", false },
	{ "4", "intercept getpid: PTRACE_SYSEMU vs ring3->LSTAR stub", "ptrace_sysemu.native",
	  "r3syscall.raw", TIME, "13,592 / 180 (0.013)", true },
	{ "4", "  PTRACE_SYSCALL vs ring3->LSTAR stub", "ptrace_syscall.native",
	  "r3syscall.raw", TIME, "~27k / 180 (0.0067)", false },
	{ "4", "  PTRACE_SYSEMU vs libdune syscall handler", "ptrace_sysemu.native",
	  "r3syscall.libdune", TIME, "13,592 / 180 (0.013)", false },
	{ "5", "trap: SIGSEGV+mprotect vs #PF, set W+INVLPG (raw)", "trap.native",
	  "trap.raw", TIME, "~2.8k / ~590 (0.21)", true },
	{ "5", "  same, libdune #PF handler + dune_vm_protect", "trap.native",
	  "trap.libdune", TIME, "~2.8k / ~590 (0.21)", false },
	{ "5", "  trap only (handler returns, Appel's TRAP), raw", "traponly.native",
	  "traponly.raw", TIME, "", false },
	{ "5", "  trap only, libdune", "traponly.native", "traponly.libdune", TIME, "", false },
	{ "6", "appel1 prot1+trap+unprot, per page (raw)", "appel1.native", "appel1.raw",
	  TIME, "Dune ~7x faster (~0.14)", true },
	{ "6", "  appel1, libdune", "appel1.native", "appel1.libdune", TIME,
	  "Dune ~7x faster (~0.14)", false },
	{ "6", "appel2 protN+trap+unprot, per page (raw)", "appel2.native", "appel2.raw",
	  TIME, "Dune ~7x faster (~0.14)", true },
	{ "6", "  appel2, libdune", "appel2.native", "appel2.libdune", TIME,
	  "Dune ~7x faster (~0.14)", false },
	{ "7", "getpid: stock KVM IN->user space->KVM_RUN vs Dune", "stock_io", "getpid.dune",
	  TIME, "(not in the paper)", true },
	{ "7", "  stock KVM hypercall exit (KVM_EXIT_HYPERCALL)", "stock_hc", "getpid.dune",
	  TIME, "", false },
	{ "8", "exits per VMCALL getpid (target 1)", NULL, "exits.getpid", COUNT, "", true },
	{ "8", "  the same without host-interrupt exits", NULL, "exits.getpid_noirq", COUNT,
	  "", false },
	{ "8", "exits per in-process #PF, raw (target 0)", NULL, "exits.inproc_pf", COUNT, "",
	  true },
	{ "8", "  the same without host-interrupt exits", NULL, "exits.inproc_pf_noirq", COUNT,
	  "", false },
	{ "8", "exits per in-process #PF, libdune (target 0)", NULL, "exits.inproc_pf.libdune",
	  COUNT, "", false },
	{ "8", "  the same without host-interrupt exits", NULL,
	  "exits.inproc_pf_noirq.libdune", COUNT, "", false },
	{ "8", "exits per first-touch page (EPT/NPT fault)", NULL, "exits.first_touch", COUNT,
	  "", false },
	{ "8", "EPT/NPT faults per GiB touched: 4K vs THP", "small.pf_fixed_per_gib",
	  "thp.pf_fixed_per_gib", COUNT, "262,144 / ~512", true },
	{ "8", "  EPT/NPT leaves per GiB: pages_4k vs pages_2m (VM stats)",
	  "small.pages_4k_per_gib", "thp.pages_2m_per_gib", COUNT, "", false },
	{ "9", "create: stock VM+memslot+vCPU vs Dune VM (layout)", "enter.stock_create",
	  "enter.create", TIME, "", true },
	{ "9", "  Dune: build guest page tables + descriptors", NULL, "enter.pt", TIME, "",
	  false },
	{ "9", "first run: stock KVM_RUN to 1st exit vs 1st ENTER", "enter.stock_first_run",
	  "enter.first", TIME, "", true },
	{ "9", "total until the guest runs (rows above)", "enter.stock_total", "enter.total",
	  TIME, "", false },
	{ "9", "second thread's first ENTER (new vCPU)", NULL, "enter.thread", TIME, "",
	  true },
};

/* A number in @w characters: decimals while small, 3 digits when huge. */
static void num(char *buf, size_t n, int w, double v)
{
	if (v < 1000)
		snprintf(buf, n, "%*.1f", w, v);
	else if (v < 1e6)
		snprintf(buf, n, "%*.0f", w, v);
	else
		snprintf(buf, n, "%*.3g", w, v);
}

static void fmt_time(char *buf, size_t n, const char *key)
{
	char c[24], t[24];
	double v;

	if (!key) {
		snprintf(buf, n, "%20s", "-");
		return;
	}
	if (!res_value(key, &v)) {
		snprintf(buf, n, "%20s", "n/a");
		return;
	}
	num(c, sizeof(c), 10, v);
	num(t, sizeof(t), 9, v * 1e6 / cfg.tsc_khz);
	snprintf(buf, n, "%s %s", c, t);
}

static void fmt_count(char *buf, size_t n, const char *key)
{
	double v;

	if (!key)
		snprintf(buf, n, "%20s", "-");
	else if (!res_value(key, &v))
		snprintf(buf, n, "%20s", "n/a");
	else if (v == (long long)v)
		snprintf(buf, n, "%10lld %9s", (long long)v, "");
	else
		snprintf(buf, n, "%10.3f %9s", v, "");
}

/* What item 8 could read, and from where. */
static void footer(void)
{
	double ok = 0, nd = 0, dfs = 0, thp = 0, small = 0;

	res_value("statsfd.ok", &ok);
	res_value("statsfd.ndesc", &nd);
	res_value("debugfs.ok", &dfs);
	res_value("thp.mb", &thp);
	res_value("small.mb", &small);
	printf("8: KVM_GET_STATS_FD on the Dune VM fd %s (%.0f VM stats, pages_4k/2m/1g read"
	       " from it); the vCPUs have no fd,\n   so per-vCPU stats (exits, irq_exits,"
	       " pf_fixed) %s.\n", ok ? "works" : "failed", nd,
	       dfs ? "come from debugfs kvm/<pid>-<fd>/ (sums over the VM's vCPUs)" :
	       "were not reachable (no debugfs)");
	printf("   Touched: %.0f MiB MADV_HUGEPAGE and %.0f MiB MADV_NOHUGEPAGE, counts scaled"
	       " to 1 GiB.\n", thp, small);
}

static void print_table(void)
{
	char mode[32], model[128] = "?", a[64], b[64], ratio[16], line[256];
	struct utsname u;
	FILE *f;
	unsigned int i;

	thp_mode(mode, sizeof(mode));
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
	uname(&u);

	printf("BENCH-TABLE-BEGIN\n");
	printf("kvm-dune benchmark, backend %s: %s\n", cfg.backend,
	       !strcmp(cfg.backend, "svm") ? "QEMU TCG, AMD SVM+NPT" :
	       !strcmp(cfg.backend, "vmx") ? "Bochs, Intel VMX+EPT" : "hardware (nested) KVM");
	if (cfg.emulated)
		printf("EMULATED: only ratios and counts mean something%s\n",
		       !strcmp(cfg.backend, "vmx") ?
		       " (Bochs: TSC = executed instructions, so cycles are path lengths;"
		       " TLB misses and cache misses cost nothing)" :
		       " (QEMU TCG: TSC = host time of the emulator)");
	printf("L1 kernel %s, CPU \"%s\", TSC %.1f MHz, THP %s; medians of the samples;\n",
	       u.release, model, cfg.tsc_khz / 1000, mode);
	printf("Dune/base = Dune time / baseline time (< 1: Dune faster); paper: Linux / Dune"
	       " cycles (their ratio)\n");
	printf("%s\n", SEP);
	printf("%-66s| %20s | %20s | %7s | %s\n", "item", "baseline (native)", "Dune",
	       "Dune/", "paper (Table 2, 3)");
	printf("%-66s| %10s %9s | %10s %9s | %7s |\n", "", "cycles", "ns", "cycles", "ns", "base");
	printf("%s\n", SEP);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		double x, y;
		char what[80];

		if (r->kind == TIME) {
			fmt_time(a, sizeof(a), r->base);
			fmt_time(b, sizeof(b), r->dune);
		} else {
			fmt_count(a, sizeof(a), r->base);
			fmt_count(b, sizeof(b), r->dune);
		}
		if (r->base && r->dune && res_value(r->base, &x) && res_value(r->dune, &y) && x > 0)
			snprintf(ratio, sizeof(ratio), y / x >= 0.1 ? "%7.2f" : "%7.4f", y / x);
		else
			snprintf(ratio, sizeof(ratio), "%7s", "-");
		snprintf(what, sizeof(what), "%-2s %s", r->item, r->what);
		printf("%-66s| %s | %s | %s | %s\n", what, a, b, ratio, r->paper);
	}
	printf("%s\n", SEP);
	footer();
	printf("Baselines: 1-6 native Linux in the same VM; 7 a default KVM VM whose guest asks"
	       " user space for getpid;\n8 4 KiB-backed memory; 9 a default VM with one vCPU."
	       " ns = cycles / TSC rate%s.\n", cfg.emulated ? " (emulated time)" : "");
	printf("BENCH-TABLE-END\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const char *const groups[][3] = {
		/* one of each group must be there for every item */
		{ "getpid.native", NULL }, { "getpid.dune", NULL },
		{ "pf.native", NULL }, { "pf.dune", NULL },
		{ "walk.native", NULL }, { "walk.dune_4k", "walk.dune_large" },
		{ "ptrace_sysemu.native", "ptrace_syscall.native" },
		{ "r3syscall.raw", "r3syscall.libdune" },
		{ "trap.native", NULL }, { "trap.raw", "trap.libdune" },
		{ "appel1.native", NULL }, { "appel1.raw", "appel1.libdune" },
		{ "appel2.native", NULL }, { "appel2.raw", "appel2.libdune" },
		{ "stock_io", "stock_hc" },
		{ "exits.getpid", NULL }, { "exits.inproc_pf", "exits.inproc_pf.libdune" },
		{ "thp.pf_fixed", "thp.pages_2m" },
		{ "enter.create", NULL }, { "enter.first", NULL }, { "enter.thread", NULL },
	};
	int i, missing = 0;
	char mode[32];

	setvbuf(stdout, NULL, _IOLBF, 0);
	read_cmdline();
	for (i = 1; i < argc; i++)
		option(argv[i]);
	configure();
	pin_cpu0();
	calibrate_tsc();
	thp_mode(mode, sizeof(mode));
	say("THP: %s", mode);
	if (strcmp(mode, "always") && strcmp(mode, "madvise"))
		res_note("THP is '%s': MADV_HUGEPAGE cannot give 2 MiB pages", mode);

	native_run();
	stock_kvm_run();
	dune_raw_run();
	dune_enter_run();
	say("libdune: items 4-6 and 8 through libdune (dune_bench_libdune)");
	run_libdune_helper();

	print_table();
	for (i = 0; i < (int)(sizeof(groups) / sizeof(groups[0])); i++) {
		double v;

		if (res_value(groups[i][0], &v) || (groups[i][1] && res_value(groups[i][1], &v)))
			continue;
		printf("MISSING: %s%s%s\n", groups[i][0], groups[i][1] ? " / " : "",
		       groups[i][1] ? groups[i][1] : "");
		missing++;
	}
	for (i = 0; i < nnotes; i++)
		printf("NOTE: %s\n", notes[i]);
	if (missing) {
		printf("bench: %d measurement(s) could not be made\n", missing);
		return 1;
	}
	return 0;
}
