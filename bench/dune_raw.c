// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Dune side of the benchmarks with raw KVM_DUNE_* ioctls (no libdune):
 * guest code is functions of this program running in guest ring 0 (ring 3
 * for the syscall interception), on page tables built with the selftests'
 * dune_util.c.  Each run is a child process (one Dune VM per process, and
 * entering is for good); results go to memory shared with the parent.
 *
 * What runs in the guest must not call libc: system calls are VMCALLs
 * (guest_syscall()), the measurement loops are in guest_code.c.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "dune_util.h"
#include "dune_bench.h"

/* ---- shared with the parent ------------------------------------------- */

enum {
	RS_EMPTY, RS_GETPID, RS_PF, RS_WALK_LARGE, RS_WALK_4K,
	RS_TRAP, RS_TRAPONLY, RS_APPEL1, RS_APPEL2,
	RS_R3_EMPTY, RS_R3_SYSCALL, RS_N
};

/* Counters: KVM's per-vCPU statistics (debugfs sums) and VM statistics. */
enum {
	CT_EXITS, CT_IRQ_EXITS, CT_HYPERCALLS, CT_PF_TAKEN, CT_PF_FIXED,
	CT_PF_GUEST, CT_INVLPG, CT_PAGES_4K, CT_PAGES_2M, CT_PAGES_1G, CT_N
};
static const char *const ctr_name[CT_N] = {
	"exits", "irq_exits", "hypercalls", "pf_taken", "pf_fixed",
	"pf_guest", "invlpg", "pages_4k", "pages_2m", "pages_1g",
};

/*
 * Windows of counter snapshots.  W_BASE..W_BASE3: back-to-back snapshots,
 * what the snapshots cost themselves (the least of three is used, so that
 * a host interrupt in one of them does not count).
 */
enum { W_BASE, W_BASE2, W_BASE3, W_GETPID, W_PF, W_TRAP, W_THP, W_SMALL, W_N };

struct raw_shared {
	volatile int phase;
	volatile int error;		/* a guest-detected problem, see errmsg */
	volatile uint64_t bad_cr2, bad_rip;
	uint64_t t_create0, t_create1, t_pt, t_enter, t_first;
	uint64_t t_thr0, t_thr1;
	int thr_errno;
	int ctr_src[CT_N];		/* 0 none, 1 debugfs, 2 KVM_GET_STATS_FD */
	long ctr_err[CT_N];		/* the last failed read's result */
	int64_t win[W_N][2][CT_N];
	uint32_t win_ops[W_N];
	uint64_t pf_count[4];		/* traps seen: trap, only, appel1, appel2 */
	uint64_t thp_tsc, small_tsc;
	long r3_pid, r3_expect;
	int stats_fd_ok, stats_fd_errno, stats_fd_ndesc;
	char debugfs_dir[96];
	struct series s[RS_N];
};

static struct raw_shared *rs;

/* ---- guest page tables: 4 KiB leaves where we need them ------------------ */

#define ADDR_MASK	0x000ffffffffff000ULL
#define SPLIT_POOL	96
static alignas(4096) uint64_t split_pool[SPLIT_POOL][512];
static int split_used;

static uint64_t *table_at(struct dune_vm *vm, uint64_t gpa)
{
	uint64_t hva;

	return dune_gpa_to_hva(vm, gpa & ADDR_MASK, &hva) ? (uint64_t *)hva : NULL;
}

/*
 * The 4 KiB PTE that maps @va, splitting 1 GiB and 2 MiB leaves on the way
 * (the new entries keep the leaf's P/W/U).  NULL if @va is not mapped or the
 * pool is empty.  Host side, before entering.
 */
static uint64_t *pte_4k(struct dune_vm *vm, uint64_t va)
{
	uint64_t *t = table_at(vm, vm->cr3);
	int level;

	for (level = 3; t && level > 0; level--) {
		uint64_t *ep = &t[(va >> (12 + 9 * level)) & 511];
		uint64_t e = *ep;

		if (!(e & PTE_P))
			return NULL;
		if (e & PTE_PS) {
			unsigned int shift = 12 + 9 * level, j;
			uint64_t base = e & ADDR_MASK & ~((1ULL << shift) - 1);
			uint64_t step = 1ULL << (shift - 9), gpa, *n;
			uint64_t flags = e & (PTE_P | PTE_W | PTE_U);

			if (split_used == SPLIT_POOL)
				return NULL;
			n = split_pool[split_used++];
			if (!dune_hva_to_gpa(vm, (uint64_t)n, &gpa))
				return NULL;
			for (j = 0; j < 512; j++)
				n[j] = (base + j * step) | flags | (level > 1 ? PTE_PS : 0);
			*ep = gpa | PTE_P | PTE_W | PTE_U;
			e = *ep;
		}
		t = table_at(vm, e);
	}
	return t ? &t[(va >> 12) & 511] : NULL;
}

static int map_4k(struct dune_vm *vm, void *start, size_t len)
{
	uint64_t va;

	for (va = (uint64_t)start; va < (uint64_t)start + len; va += PAGE_SZ)
		if (!pte_4k(vm, va))
			return -1;
	return 0;
}

/* ---- guest state (set up by the host side before entering) -------------- */

static uint8_t *pf_region, *walk_large, *walk_small, *trap_region;
static uint8_t *thp_region, *small_region;
static size_t thp_bytes, small_bytes;
static uint64_t *trap_pte[APPEL_PAGES];
static int perm[APPEL_PAGES];
static int ctr_fd[CT_N] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };
static uint64_t ctr_off[CT_N];
static char ctr_path[CT_N][128];
static alignas(16) uint8_t guest_stack[262144];
static alignas(16) uint8_t user_stack[65536];
static alignas(16) struct dune_idt_entry bench_idt[256];

static inline void invlpg(const void *p)
{
	asm volatile("invlpg (%0)" : : "r"(p) : "memory");
}

static inline void reload_cr3(void)
{
	uint64_t cr3;

	asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void phase(int p)
{
	rs->phase = p;
}

/*
 * A KVM statistic: one VMCALL pread from the VM's stats fd, or open, read
 * and close of its debugfs file (those are not seekable: no pread).  The
 * snapshots' own exits are the same in every window and are subtracted.
 */
static int64_t read_ctr(int i)
{
	char buf[32];
	int64_t v = 0;
	long n, k, fd;

	if (rs->ctr_src[i] == 2) {
		uint64_t b;

		n = guest_syscall(SYS_pread64, ctr_fd[i], (long)&b, 8, ctr_off[i], 0, 0);
		if (n != 8)
			rs->ctr_err[i] = n < 0 ? n : -EIO;
		return n == 8 ? (int64_t)b : -1;
	}
	if (rs->ctr_src[i] != 1)
		return -1;
	fd = gsys3(SYS_open, (long)ctr_path[i], O_RDONLY, 0);
	if (fd < 0) {
		rs->ctr_err[i] = fd;
		return -1;
	}
	n = gsys3(SYS_read, fd, (long)buf, sizeof(buf) - 1);
	gsys1(SYS_close, fd);
	if (n <= 0) {
		rs->ctr_err[i] = n < 0 ? n : -EIO;
		return -1;
	}
	for (k = 0; k < n && buf[k] >= '0' && buf[k] <= '9'; k++)
		v = v * 10 + (buf[k] - '0');
	return k ? v : -1;
}

static void snap(int w, int which)
{
	int i;

	for (i = 0; i < CT_N; i++)
		rs->win[w][which][i] = read_ctr(i);
}

/* ---- in-process #PF handler ----------------------------------------------- */

enum { PF_FATAL, PF_UNPROT, PF_ONLY, PF_APPEL1 };
static volatile int pf_mode;
static volatile int pf_left, please_protect = -1;
static volatile uint64_t pf_count;

/* The IDT stub: caller-saved registers, then bench_pf_handler(cr2, err). */
void bench_pf_entry(void);
asm(".text\n"
    ".globl bench_pf_entry\n"
    "bench_pf_entry:\n"
    "	push %rax\n push %rcx\n push %rdx\n push %rsi\n push %rdi\n"
    "	push %r8\n push %r9\n push %r10\n push %r11\n"
    "	mov %cr2, %rdi\n"
    "	mov 72(%rsp), %rsi\n"
    "	sub $8, %rsp\n"			/* 16-byte alignment for the call */
    "	call bench_pf_handler\n"
    "	add $8, %rsp\n"
    "	pop %r11\n pop %r10\n pop %r9\n pop %r8\n"
    "	pop %rdi\n pop %rsi\n pop %rdx\n pop %rcx\n pop %rax\n"
    "	add $8, %rsp\n"			/* error code */
    "	iretq\n");

static inline __attribute__((target("general-regs-only"))) void set_w(int k)
{
	*trap_pte[k] |= PTE_W;
	invlpg(trap_region + (uint64_t)k * PAGE_SZ);
}

static inline __attribute__((target("general-regs-only"))) void clear_w(int k)
{
	*trap_pte[k] &= ~PTE_W;
	invlpg(trap_region + (uint64_t)k * PAGE_SZ);
}

__attribute__((target("general-regs-only"), used))
void bench_pf_handler(uint64_t cr2, uint64_t err)
{
	uint64_t off = cr2 - (uint64_t)trap_region;
	int k = (int)(off >> 12);

	if (pf_mode == PF_FATAL || off >= APPEL_PAGES * PAGE_SZ) {
		rs->bad_cr2 = cr2;
		rs->bad_rip = err;
		guest_exit(EXC_EXIT(14));
	}
	pf_count++;
	switch (pf_mode) {
	case PF_ONLY:
		if (--pf_left > 0)
			return;
		break;
	case PF_APPEL1:
		if (please_protect >= 0)
			clear_w(please_protect);
		break;
	}
	set_w(k);
}

/* ---- ring 3: SYSCALL caught by a ring-0 stub ------------------------------ */

#define BENCH_SYS_DONE	0x7ffe
volatile long r3_fake_pid;		/* used by bench_lstar */
uint64_t user_ret_rsp;			/* used by the asm below */

/*
 * bench_run_user(fn, stack_top): IRETQ to fn at CPL 3; returns when ring 3
 * makes SYSCALL BENCH_SYS_DONE.  bench_lstar: every other SYSCALL is
 * answered at once (the "getpid" of the sandboxed code) with SYSRET.
 */
void bench_run_user(void (*fn)(void), void *stack_top);
void bench_lstar(void);
asm(".text\n"
    ".globl bench_run_user\n"
    "bench_run_user:\n"
    "	push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "	mov %rsp, user_ret_rsp(%rip)\n"
    "	sub $8, %rsi\n"			/* as after a call */
    "	pushq $0x23\n"			/* SS: user data | 3 */
    "	pushq %rsi\n"
    "	pushq $0x202\n"			/* IF */
    "	pushq $0x2b\n"			/* CS: user code64 | 3 */
    "	pushq %rdi\n"
    "	iretq\n"
    ".globl bench_lstar\n"
    "bench_lstar:\n"
    "	cmp $0x7ffe, %eax\n"
    "	je 1f\n"
    "	mov r3_fake_pid(%rip), %rax\n"
    "	sysretq\n"
    "1:	mov user_ret_rsp(%rip), %rsp\n"
    "	pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "	ret\n");

static void ring3_main(void)
{
	struct series *s = &rs->s[RS_R3_SYSCALL];
	unsigned int i, j;
	long r;

	empty_series(&rs->s[RS_R3_EMPTY], 1000);
	series_init(s, cfg.getpid_batch);
	for (i = 0; i < cfg.getpid_samples; i++) {
		uint64_t t0 = bench_rdtsc();

		for (j = 0; j < cfg.getpid_batch; j++)
			bench_sys_getpid();
		series_add(s, bench_rdtsc() - t0);
	}
	rs->r3_pid = bench_sys_getpid();
	asm volatile("syscall" : "=a"(r) : "a"((long)BENCH_SYS_DONE) : "rcx", "r11", "memory");
	for (;;)
		;
}

/* ---- the guest ------------------------------------------------------------ */

static void guest_traps(void)
{
	unsigned int i, r;
	int j, k;
	uint64_t n0;

	/* Fault the pages in (EPT/NPT) with the PTEs still writable. */
	touch_all(trap_region, APPEL_PAGES * PAGE_SZ, PAGE_SZ);

	pf_mode = PF_UNPROT;
	n0 = pf_count;
	series_init(&rs->s[RS_TRAP], 1);
	for (i = 0; i < cfg.trap_iters; i++) {
		volatile uint8_t *p = trap_region + (i % APPEL_PAGES) * PAGE_SZ;
		uint64_t t0;

		clear_w(i % APPEL_PAGES);
		t0 = bench_rdtsc();
		*p = 1;
		series_add(&rs->s[RS_TRAP], bench_rdtsc() - t0);
	}
	rs->pf_count[0] = pf_count - n0;

	pf_mode = PF_ONLY;
	n0 = pf_count;
	series_init(&rs->s[RS_TRAPONLY], cfg.traponly_batch);
	for (i = 0; i < cfg.trap_iters / cfg.traponly_batch + 1; i++) {
		volatile uint8_t *p = trap_region + (i % APPEL_PAGES) * PAGE_SZ;
		uint64_t t0;

		clear_w(i % APPEL_PAGES);
		pf_left = cfg.traponly_batch;
		t0 = bench_rdtsc();
		*p = 1;
		series_add(&rs->s[RS_TRAPONLY], bench_rdtsc() - t0);
	}
	rs->pf_count[1] = pf_count - n0;

	/* appel1: one page writable at a time; the handler moves it */
	pf_mode = PF_APPEL1;
	for (k = 0; k < APPEL_PAGES; k++)
		*trap_pte[k] &= ~PTE_W;
	reload_cr3();
	please_protect = perm[APPEL_PAGES - 1];
	set_w(please_protect);
	n0 = pf_count;
	series_init(&rs->s[RS_APPEL1], APPEL_PAGES);
	for (r = 0; r < cfg.appel_rounds; r++) {
		uint64_t t0 = bench_rdtsc();

		for (j = 0; j < APPEL_PAGES; j++) {
			*(volatile uint8_t *)(trap_region + perm[j] * PAGE_SZ) = 10;
			please_protect = perm[j];
		}
		series_add(&rs->s[RS_APPEL1], bench_rdtsc() - t0);
	}
	rs->pf_count[2] = pf_count - n0;

	/* appel2: write-protect 100 pages (one TLB flush), each traps once */
	pf_mode = PF_UNPROT;
	n0 = pf_count;
	series_init(&rs->s[RS_APPEL2], APPEL_PAGES);
	for (r = 0; r < cfg.appel_rounds; r++) {
		uint64_t t0 = bench_rdtsc();

		for (k = 0; k < APPEL_PAGES; k++)
			*trap_pte[k] &= ~PTE_W;
		reload_cr3();
		for (j = 0; j < APPEL_PAGES; j++)
			*(volatile uint8_t *)(trap_region + perm[j] * PAGE_SZ) = 10;
		series_add(&rs->s[RS_APPEL2], bench_rdtsc() - t0);
	}
	rs->pf_count[3] = pf_count - n0;

	/* Exits per in-process page fault (write-protect, trap, unprotect). */
	snap(W_TRAP, 0);
	for (i = 0; i < cfg.exit_ops; i++) {
		clear_w(i % APPEL_PAGES);
		*(volatile uint8_t *)(trap_region + (i % APPEL_PAGES) * PAGE_SZ) = 2;
	}
	snap(W_TRAP, 1);
	rs->win_ops[W_TRAP] = cfg.exit_ops;
	pf_mode = PF_FATAL;
}

static void raw_guest_main(void)
{
	unsigned int i, j;
	uint64_t t0;

	rs->t_first = bench_rdtsc();
	phase(1);
	guest_load_tr();
	empty_series(&rs->s[RS_EMPTY], 2000);

	phase(2);	/* 1. getpid with VMCALL */
	series_init(&rs->s[RS_GETPID], cfg.getpid_batch);
	for (i = 0; i < cfg.getpid_samples; i++) {
		t0 = bench_rdtsc();
		for (j = 0; j < cfg.getpid_batch; j++)
			gsys0(SYS_getpid);
		series_add(&rs->s[RS_GETPID], bench_rdtsc() - t0);
	}

	phase(3);	/* 8. exits per VMCALL getpid */
	snap(W_BASE, 0);	/* warm up: the first reads fault pages in */
	for (i = W_BASE; i <= W_BASE3; i++) {
		snap(i, 0);
		snap(i, 1);
	}
	snap(W_GETPID, 0);
	for (i = 0; i < cfg.exit_ops; i++)
		gsys0(SYS_getpid);
	snap(W_GETPID, 1);
	rs->win_ops[W_GETPID] = cfg.exit_ops;

	phase(4);	/* 2. first touch: EPT/NPT violation + host fault */
	snap(W_PF, 0);
	touch_series(pf_region, cfg.pf_pages, &rs->s[RS_PF]);
	snap(W_PF, 1);
	rs->win_ops[W_PF] = cfg.pf_pages;

	phase(5);	/* 3. page walks: guest large leaves / 4 KiB PTEs, EPT 4 KiB */
	touch_all(walk_large, (size_t)cfg.walk_pages * PAGE_SZ, PAGE_SZ);
	touch_all(walk_small, (size_t)cfg.walk_pages * PAGE_SZ, PAGE_SZ);
	series_init(&rs->s[RS_WALK_LARGE], cfg.walk_pages);
	series_init(&rs->s[RS_WALK_4K], cfg.walk_pages);
	walk_pass(walk_large, cfg.walk_pages);
	walk_pass(walk_small, cfg.walk_pages);
	for (i = 0; i < cfg.walk_passes; i++) {
		series_add(&rs->s[RS_WALK_LARGE], walk_pass(walk_large, cfg.walk_pages));
		series_add(&rs->s[RS_WALK_4K], walk_pass(walk_small, cfg.walk_pages));
	}

	phase(6);	/* 5, 6. in-process #PF: trap, trap only, appel1, appel2 */
	guest_traps();

	phase(7);	/* 8. THP-backed memory: 2 MiB EPT/NPT leaves */
	snap(W_THP, 0);
	t0 = bench_rdtsc();
	touch_all(thp_region, thp_bytes, PAGE_SZ);
	rs->thp_tsc = bench_rdtsc() - t0;
	snap(W_THP, 1);
	rs->win_ops[W_THP] = thp_bytes / PAGE_SZ;

	phase(8);	/* ... and 4 KiB memory for comparison */
	snap(W_SMALL, 0);
	t0 = bench_rdtsc();
	touch_all(small_region, small_bytes, PAGE_SZ);
	rs->small_tsc = bench_rdtsc() - t0;
	snap(W_SMALL, 1);
	rs->win_ops[W_SMALL] = small_bytes / PAGE_SZ;

	phase(9);	/* 4. ring-3 SYSCALL caught by the ring-0 LSTAR stub */
	wrmsr(0xc0000081, (0x18ULL << 48) | (0x08ULL << 32));	/* STAR */
	wrmsr(0xc0000082, (uint64_t)bench_lstar);		/* LSTAR */
	wrmsr(0xc0000084, 0x500);				/* SFMASK: TF DF */
	r3_fake_pid = dune_native_pid;
	rs->r3_expect = r3_fake_pid;
	bench_run_user(ring3_main, user_stack + sizeof(user_stack));

	phase(10);
	guest_exit(0);
}

/* ---- host side of the child ---------------------------------------------- */

static void set_gate(struct dune_idt_entry *e, uint64_t off, int ist)
{
	e->off0 = off & 0xffff;
	e->sel = GDT_KERNEL_CS;
	e->ist = ist;
	e->type = 0x8e;
	e->off1 = (off >> 16) & 0xffff;
	e->off2 = off >> 32;
	e->zero = 0;
}

/* dune_util's GDT and TSS; our IDT: its exception stubs, our #PF. */
static void setup_idt(struct kvm_dune_enter *c)
{
	int i;

	dune_setup_descriptors(c);
	memset(bench_idt, 0, sizeof(bench_idt));
	for (i = 0; i < 32; i++)
		set_gate(&bench_idt[i], dune_exc_table[i], i == 8);
	set_gate(&bench_idt[14], (uint64_t)bench_pf_entry, 0);
	c->idt.base = (uint64_t)bench_idt;
	c->idt.limit = sizeof(bench_idt) - 1;
}

static void open_debugfs_ctrs(int vm_fd)
{
	struct stat st;
	int i;

	if (stat("/sys/kernel/debug/kvm", &st))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	snprintf(rs->debugfs_dir, sizeof(rs->debugfs_dir), "/sys/kernel/debug/kvm/%d-%d",
		 getpid(), vm_fd);
	if (stat(rs->debugfs_dir, &st)) {
		rs->debugfs_dir[0] = 0;
		return;
	}
	for (i = 0; i < CT_N; i++) {
		snprintf(ctr_path[i], sizeof(ctr_path[i]), "%s/%s", rs->debugfs_dir, ctr_name[i]);
		if (!access(ctr_path[i], R_OK))
			rs->ctr_src[i] = 1;
	}
}

/* KVM_GET_STATS_FD on the Dune VM: the VM statistics (pages_4k/2m/1g). */
static void open_binary_stats(int vm_fd)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsz;
	char *descs;
	int fd, i, c;

	fd = ioctl(vm_fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0) {
		rs->stats_fd_errno = errno;
		return;
	}
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		goto bad;
	dsz = sizeof(*d) + h.name_size;
	descs = malloc(dsz * h.num_desc);
	if (!descs || pread(fd, descs, dsz * h.num_desc, h.desc_offset) != (ssize_t)(dsz * h.num_desc))
		goto bad;
	rs->stats_fd_ok = 1;
	rs->stats_fd_ndesc = h.num_desc;
	for (i = 0; i < (int)h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsz);
		for (c = 0; c < CT_N; c++) {
			if (strcmp(d->name, ctr_name[c]))
				continue;
			/* The binary interface wins over debugfs for VM stats. */
			ctr_fd[c] = fd;
			ctr_off[c] = h.data_offset + d->offset;
			rs->ctr_src[c] = 2;
		}
	}
	return;
bad:
	rs->stats_fd_errno = errno ? errno : EIO;
	close(fd);
}

static noreturn void die_child(int code, const char *what, int err)
{
	fprintf(stderr, "dune_bench child: %s: %s\n", what, strerror(err));
	_exit(code);
}

static noreturn void raw_child(void)
{
	struct kvm_dune_enter c;
	struct dune_vm vm;
	int r, k;

	dune_native_pid = getpid();
	dune_native_tid = syscall(SYS_gettid);

	rs->t_create0 = bench_rdtsc();
	r = dune_vm_create(&vm);
	rs->t_create1 = bench_rdtsc();
	if (r)
		die_child(90, "creating the Dune VM", -r);
	r = dune_build_page_tables(&vm);
	if (r)
		die_child(91, "building page tables", -r);
	dune_init_config(&vm, &c, raw_guest_main, guest_stack, sizeof(guest_stack));
	setup_idt(&c);
	rs->t_pt = bench_rdtsc();

	/* Memory for the guest, fresh (never touched). */
	pf_region = fresh_map((size_t)cfg.pf_pages * PAGE_SZ, PAGE_SZ, 0);
	walk_large = fresh_map((size_t)cfg.walk_pages * PAGE_SZ, SZ_2M, 0);
	walk_small = fresh_map((size_t)cfg.walk_pages * PAGE_SZ, SZ_2M, 0);
	trap_region = fresh_map(SZ_2M, SZ_2M, 0);
	thp_bytes = (size_t)cfg.thp_mb << 20;
	small_bytes = (size_t)cfg.small_mb << 20;
	thp_region = fresh_map(thp_bytes, SZ_2M, 1);
	small_region = fresh_map(small_bytes, SZ_2M, 0);
	if (!pf_region || !walk_large || !walk_small || !trap_region || !thp_region ||
	    !small_region)
		die_child(94, "mmap", errno);
	for (k = 0; k < 5; k++) {
		uint8_t *p = k == 0 ? pf_region : k == 1 ? walk_large : k == 2 ? walk_small :
			     k == 3 ? thp_region : small_region;

		if (!dune_window_of(&vm, (uint64_t)p))
			die_child(95, "a region is outside the Dune windows", ERANGE);
	}
	/* 4 KiB guest PTEs over the second walk region and the trap pages. */
	if (map_4k(&vm, walk_small, (size_t)cfg.walk_pages * PAGE_SZ) ||
	    map_4k(&vm, trap_region, APPEL_PAGES * PAGE_SZ))
		die_child(96, "splitting guest page tables", ENOMEM);
	for (k = 0; k < APPEL_PAGES; k++)
		trap_pte[k] = pte_4k(&vm, (uint64_t)trap_region + k * PAGE_SZ);
	bench_permutation(perm, APPEL_PAGES, 7);

	open_debugfs_ctrs(vm.vm_fd);
	open_binary_stats(vm.vm_fd);

	fflush(NULL);
	rs->t_enter = bench_rdtsc();
	r = dune_enter(&vm, &c);
	if (r)
		die_child(92, "KVM_DUNE_ENTER", -r);
	fprintf(stderr, "dune_bench child: left Dune mode: exit_reason %u info %#llx %#llx\n",
		c.exit_reason, (unsigned long long)c.exit_info[0],
		(unsigned long long)c.exit_info[1]);
	_exit(93);
}

/* ---- parent side ------------------------------------------------------------ */

static const char *const phase_name[] = {
	"before entering", "entry", "getpid", "exit counting (getpid)", "first-touch faults",
	"page walks", "in-process #PF", "THP touch", "4 KiB touch", "ring 3 syscalls", "exit",
};

static int wait_child(pid_t pid, const char *what, int nphase)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		say("%s: waitpid: %s", what, strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		say("%s: child exited with %d in phase %d (%s)%s", what, WEXITSTATUS(status),
		    rs->phase, rs->phase < nphase ? phase_name[rs->phase] : "?",
		    WEXITSTATUS(status) >= 100 && WEXITSTATUS(status) < 132 ?
		    " - a guest exception (100 + vector)" : "");
	else
		say("%s: child killed by signal %d in phase %d", what,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0, rs->phase);
	if (rs->bad_cr2)
		say("%s: unexpected #PF at %#llx (error code %#llx)", what,
		    (unsigned long long)rs->bad_cr2, (unsigned long long)rs->bad_rip);
	return -1;
}

static double win_delta(int w, int c)
{
	return (double)(rs->win[w][1][c] - rs->win[w][0][c]);
}

static bool win_ok(int w, int c)
{
	return rs->ctr_src[c] && rs->win[w][0][c] >= 0 && rs->win[w][1][c] >= 0;
}

/* What a pair of snapshots adds to counter @c by itself. */
static bool base_delta(int c, double *v)
{
	bool ok = false;
	int w;

	for (w = W_BASE; w <= W_BASE3; w++)
		if (win_ok(w, c) && (!ok || win_delta(w, c) < *v)) {
			*v = win_delta(w, c);
			ok = true;
		}
	return ok;
}

/* Counter @c per operation of window @w, less the snapshots' own share. */
static bool per_op(int w, int c, double *v)
{
	double b;

	if (!win_ok(w, c) || !rs->win_ops[w] || !base_delta(c, &b))
		return false;
	*v = (win_delta(w, c) - b) / rs->win_ops[w];
	return true;
}

/*
 * Exits per operation of window @w that were not host interrupts, less
 * the snapshots' own share (measured the same way).
 */
static bool per_op_noirq(int w, double *v)
{
	double b = 0, d;
	bool ok = false;
	int i;

	if (!win_ok(w, CT_EXITS) || !win_ok(w, CT_IRQ_EXITS) || !rs->win_ops[w])
		return false;
	for (i = W_BASE; i <= W_BASE3; i++) {
		if (!win_ok(i, CT_EXITS) || !win_ok(i, CT_IRQ_EXITS))
			continue;
		d = win_delta(i, CT_EXITS) - win_delta(i, CT_IRQ_EXITS);
		if (!ok || d < b)
			b = d;
		ok = true;
	}
	if (!ok)
		return false;
	*v = (win_delta(w, CT_EXITS) - win_delta(w, CT_IRQ_EXITS) - b) / rs->win_ops[w];
	return true;
}

static void put_per_op(const char *key, int w, int c)
{
	double v;

	if (per_op(w, c, &v))
		res_put_value(key, v);
}

static void put_delta(const char *key, int w, int c)
{
	double b;

	if (win_ok(w, c) && base_delta(c, &b))
		res_put_value(key, win_delta(w, c) - b);
}

static void raw_results(void)
{
	double g = 0, r3 = 0, v, e;
	static const int keys_n = 4;
	static const char *const pf_keys[] = { "trap", "traponly", "appel1", "appel2" };
	uint64_t expect[4];
	int i;

	if (rs->s[RS_EMPTY].n) {
		res_put_series("empty.dune", &rs->s[RS_EMPTY], 0);
		g = res_get("empty.dune")->med;
	}
	if (rs->s[RS_R3_EMPTY].n) {
		res_put_series("empty.ring3", &rs->s[RS_R3_EMPTY], 0);
		r3 = res_get("empty.ring3")->med;
	}
	if (rs->s[RS_GETPID].n)
		res_put_series("getpid.dune", &rs->s[RS_GETPID], g);
	if (rs->s[RS_PF].n)
		res_put_series("pf.dune", &rs->s[RS_PF], g);
	if (rs->s[RS_WALK_LARGE].n)
		res_put_series("walk.dune_large", &rs->s[RS_WALK_LARGE], g);
	if (rs->s[RS_WALK_4K].n)
		res_put_series("walk.dune_4k", &rs->s[RS_WALK_4K], g);

	expect[0] = cfg.trap_iters;
	expect[1] = (uint64_t)(cfg.trap_iters / cfg.traponly_batch + 1) * cfg.traponly_batch;
	expect[2] = expect[3] = (uint64_t)cfg.appel_rounds * APPEL_PAGES;
	for (i = 0; i < keys_n; i++) {
		char key[32];

		if (!rs->s[RS_TRAP + i].n)
			continue;
		if (rs->pf_count[i] != expect[i]) {
			res_note("raw %s: %llu in-process faults, expected %llu: not reported",
				 pf_keys[i], (unsigned long long)rs->pf_count[i],
				 (unsigned long long)expect[i]);
			continue;
		}
		snprintf(key, sizeof(key), "%s.raw", pf_keys[i]);
		res_put_series(key, &rs->s[RS_TRAP + i], g);
	}
	if (rs->s[RS_R3_SYSCALL].n) {
		if (rs->r3_pid != rs->r3_expect)
			res_note("ring-3 syscall stub returned %ld, expected %ld", rs->r3_pid,
				 rs->r3_expect);
		res_put_series("r3syscall.raw", &rs->s[RS_R3_SYSCALL], r3);
	}

	/* 8. exit accounting */
	if (per_op(W_GETPID, CT_EXITS, &e))
		res_put_value("exits.getpid", e);
	if (per_op_noirq(W_GETPID, &e))
		res_put_value("exits.getpid_noirq", e);
	put_per_op("hypercalls.getpid", W_GETPID, CT_HYPERCALLS);
	if (per_op(W_TRAP, CT_EXITS, &e))
		res_put_value("exits.inproc_pf", e);
	if (per_op_noirq(W_TRAP, &e))
		res_put_value("exits.inproc_pf_noirq", e);
	put_per_op("pf_guest.inproc_pf", W_TRAP, CT_PF_GUEST);
	put_per_op("exits.first_touch", W_PF, CT_EXITS);
	put_per_op("pf_fixed.first_touch", W_PF, CT_PF_FIXED);
	put_delta("thp.pf_taken", W_THP, CT_PF_TAKEN);
	put_delta("thp.pf_fixed", W_THP, CT_PF_FIXED);
	put_delta("thp.exits", W_THP, CT_EXITS);
	put_delta("thp.pages_2m", W_THP, CT_PAGES_2M);
	put_delta("thp.pages_4k", W_THP, CT_PAGES_4K);
	put_delta("small.pf_taken", W_SMALL, CT_PF_TAKEN);
	put_delta("small.pf_fixed", W_SMALL, CT_PF_FIXED);
	put_delta("small.exits", W_SMALL, CT_EXITS);
	put_delta("small.pages_2m", W_SMALL, CT_PAGES_2M);
	put_delta("small.pages_4k", W_SMALL, CT_PAGES_4K);
	if (rs->win_ops[W_THP]) {
		res_put_value("thp.mb", cfg.thp_mb);
		res_put_value("thp.touch_cycles", rs->thp_tsc);
	}
	if (rs->win_ops[W_SMALL]) {
		res_put_value("small.mb", cfg.small_mb);
		res_put_value("small.touch_cycles", rs->small_tsc);
	}
	if (res_value("thp.pf_fixed", &v) && cfg.thp_mb)
		res_put_value("thp.pf_fixed_per_gib", v * 1024.0 / cfg.thp_mb);
	if (res_value("small.pf_fixed", &v) && cfg.small_mb)
		res_put_value("small.pf_fixed_per_gib", v * 1024.0 / cfg.small_mb);
	if (res_value("thp.pages_2m", &v) && cfg.thp_mb)
		res_put_value("thp.pages_2m_per_gib", v * 1024.0 / cfg.thp_mb);
	if (res_value("small.pages_4k", &v) && cfg.small_mb)
		res_put_value("small.pages_4k_per_gib", v * 1024.0 / cfg.small_mb);

	if (!rs->phase)
		return;		/* never entered: nothing was counted */
	say("raw child: stats sources:%s%s; KVM_GET_STATS_FD on the Dune VM: %s",
	    rs->debugfs_dir[0] ? " debugfs " : " no debugfs", rs->debugfs_dir,
	    rs->stats_fd_ok ? "works" : strerror(rs->stats_fd_errno));
	res_put_value("statsfd.ok", rs->stats_fd_ok);
	res_put_value("statsfd.ndesc", rs->stats_fd_ndesc);
	res_put_value("debugfs.ok", rs->debugfs_dir[0] != 0);
	for (i = 0; i < CT_N; i++)
		if (rs->ctr_err[i])
			res_note("KVM statistic %s: read failed: %s", ctr_name[i],
				 strerror((int)-rs->ctr_err[i]));
	for (i = 0; i < CT_N; i++)
		if (!rs->ctr_src[i])
			res_note("KVM statistic %s: not found (no debugfs file, not in the VM's stats fd)",
				 ctr_name[i]);
	for (i = 0; i < W_N; i++) {
		static const char *const wn[W_N] = {
			"base", "base", "base", "getpid", "first touch", "in-process #PF",
			"THP touch", "4K touch",
		};
		int c;

		say("  counters, window %s (%u ops):", wn[i], rs->win_ops[i]);
		for (c = 0; c < CT_N; c++)
			if (rs->ctr_src[c])
				say("    %-10s %lld -> %lld", ctr_name[c],
				    (long long)rs->win[i][0][c], (long long)rs->win[i][1][c]);
	}
}

int dune_raw_run(void)
{
	pid_t pid;
	int r;

	rs = shared_alloc(sizeof(*rs));
	if (!rs)
		return -1;
	say("Dune (raw): one child runs items 1-6 and 8 in guest ring 0/3");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		raw_child();
	r = wait_child(pid, "raw Dune child", (int)(sizeof(phase_name) / sizeof(phase_name[0])));
	raw_results();
	return r;
}

/* ---- 9. the cost of entering ------------------------------------------------- */

static struct dune_vm probe_vm;
static struct kvm_dune_enter probe_cfg;
static int go_pipe[2], done_pipe[2];
static alignas(16) uint8_t thread_stack[65536];

static void probe_thread_guest(void)
{
	char x = 'd';

	rs->t_thr1 = bench_rdtsc();
	gsys3(SYS_write, done_pipe[1], (long)&x, 1);
	for (;;)
		gsys1(SYS_exit, 0);
}

static void *probe_thread(void *arg)
{
	struct kvm_dune_enter c;
	char x;

	(void)arg;
	if (read(go_pipe[0], &x, 1) != 1)
		return NULL;
	c = probe_cfg;	/* set up by the main thread before it entered */
	c.regs.rip = (uint64_t)probe_thread_guest;
	c.regs.rsp = ((uint64_t)thread_stack + sizeof(thread_stack) - 8) & ~0xfULL;
	c.regs.rsp -= 8;
	rs->t_thr0 = bench_rdtsc();
	rs->thr_errno = -dune_enter(&probe_vm, &c);
	x = 'e';
	if (write(done_pipe[1], &x, 1) != 1)
		return NULL;
	return NULL;
}

static void probe_guest(void)
{
	char x = 'g';

	rs->t_first = bench_rdtsc();
	phase(1);
	gsys3(SYS_write, go_pipe[1], (long)&x, 1);
	gsys3(SYS_read, done_pipe[0], (long)&x, 1);
	phase(2);
	guest_exit(0);
}

static noreturn void probe_child(void)
{
	pthread_t t;
	int r;

	dune_native_pid = getpid();
	if (pipe(go_pipe) || pipe(done_pipe) || pthread_create(&t, NULL, probe_thread, NULL))
		die_child(94, "pipe/pthread_create", errno);
	rs->t_create0 = bench_rdtsc();
	r = dune_vm_create(&probe_vm);
	rs->t_create1 = bench_rdtsc();
	if (r)
		die_child(90, "creating the Dune VM", -r);
	r = dune_build_page_tables(&probe_vm);
	if (r)
		die_child(91, "building page tables", -r);
	dune_init_config(&probe_vm, &probe_cfg, probe_guest, guest_stack, sizeof(guest_stack));
	dune_setup_descriptors(&probe_cfg);
	rs->t_pt = bench_rdtsc();
	rs->t_enter = rs->t_pt;
	r = dune_enter(&probe_vm, &probe_cfg);
	die_child(92, "KVM_DUNE_ENTER", -r);
}

int dune_enter_run(void)
{
	static struct series create, pt, first, thread, total;
	unsigned int i;
	int bad = 0;

	rs = shared_alloc(sizeof(*rs));
	if (!rs)
		return -1;
	say("Dune (raw): cost of entering, %u fresh processes", cfg.enter_reps);
	series_init(&create, 1);
	series_init(&pt, 1);
	series_init(&first, 1);
	series_init(&thread, 1);
	series_init(&total, 1);
	for (i = 0; i < cfg.enter_reps; i++) {
		pid_t pid;

		memset(rs, 0, sizeof(*rs));
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0)
			probe_child();
		if (wait_child(pid, "enter probe", 0)) {
			bad = -1;
			continue;
		}
		series_add(&create, rs->t_create1 - rs->t_create0);
		series_add(&pt, rs->t_pt - rs->t_create1);
		series_add(&first, rs->t_first - rs->t_enter);
		series_add(&total, rs->t_first - rs->t_create0);
		if (rs->thr_errno || !rs->t_thr1)
			say("enter probe: the second thread did not enter: %s",
			    strerror(rs->thr_errno));
		else
			series_add(&thread, rs->t_thr1 - rs->t_thr0);
	}
	if (create.n) {
		res_put_series("enter.create", &create, 0);
		res_put_series("enter.pt", &pt, 0);
		res_put_series("enter.first", &first, 0);
		res_put_series("enter.total", &total, 0);
	}
	if (thread.n)
		res_put_series("enter.thread", &thread, 0);
	else
		bad = -1;
	return bad;
}
