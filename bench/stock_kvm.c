// SPDX-License-Identifier: GPL-2.0-only
/*
 * Item 7, the no-patch alternative: a default VM (KVM_X86_DEFAULT_VM, no
 * Dune ioctls) whose tiny 64-bit guest asks for getpid once per iteration,
 * either with IN from a port (KVM_EXIT_IO) or with the hypercall that stock
 * KVM forwards to user space (KVM_HC_MAP_GPA_RANGE with
 * KVM_CAP_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL).  User space makes the getpid
 * system call itself, hands the result back and re-enters.  One iteration is
 * the round trip a user-space Dune on stock KVM pays per system call.
 *
 * Also the baseline of item 9: creating such a VM (memslot, vCPU, CPUID,
 * registers) and its first KVM_RUN.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>

#include "dune_bench.h"

#define MEM_SIZE	0x200000UL	/* 2 MiB at guest-physical 0 */
#define PML4_GPA	0x1000UL
#define PDPT_GPA	0x2000UL
#define PD_GPA		0x3000UL
#define GDT_GPA		0x4000UL
#define CODE_GPA	0x10000UL
#define STACK_GPA	0x1ff000UL
#define PORT_GETPID	0x10

/* The guests: endless loops asking for getpid. */
extern const uint8_t stock_io_guest[], stock_io_guest_end[];
extern const uint8_t stock_hc_guest[], stock_hc_guest_end[], stock_hc_insn[];
asm(".pushsection .rodata\n"
    "stock_io_guest:\n"
    "1:	in $0x10, %eax\n"
    "	jmp 1b\n"
    "stock_io_guest_end:\n"
    "stock_hc_guest:\n"
    "1:	mov $12, %eax\n"		/* KVM_HC_MAP_GPA_RANGE */
    "	mov $0x1000, %ebx\n"		/* gpa */
    "	mov $1, %ecx\n"			/* npages */
    "	xor %edx, %edx\n"		/* attributes */
    "stock_hc_insn:\n"
    "	vmcall\n"			/* 0f 01 c1; VMMCALL is 0f 01 d9 */
    "	jmp 1b\n"
    "stock_hc_guest_end:\n"
    ".popsection\n");

struct stock_vm {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

static void stock_close(struct stock_vm *s)
{
	if (s->run && s->run != MAP_FAILED)
		munmap(s->run, s->run_size);
	if (s->mem && s->mem != MAP_FAILED)
		munmap(s->mem, MEM_SIZE);
	if (s->vcpu >= 0)
		close(s->vcpu);
	if (s->vm >= 0)
		close(s->vm);
	if (s->kvm >= 0)
		close(s->kvm);
	memset(s, 0, sizeof(*s));
	s->kvm = s->vm = s->vcpu = -1;
}

static void seg(struct kvm_segment *sg, uint16_t sel, uint8_t type, bool code)
{
	memset(sg, 0, sizeof(*sg));
	sg->selector = sel;
	sg->limit = 0xffffffff;
	sg->type = type;
	sg->present = 1;
	sg->s = 1;
	sg->g = 1;
	sg->l = code;
	sg->db = !code;
}

static int set_cpuid(struct stock_vm *s)
{
	struct kvm_cpuid2 *c;
	int nent = 64, r;

	for (;;) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return -1;
		c->nent = nent;
		if (!ioctl(s->kvm, KVM_GET_SUPPORTED_CPUID, c))
			break;
		free(c);
		if (errno != E2BIG)
			return -1;
		nent *= 2;
	}
	r = ioctl(s->vcpu, KVM_SET_CPUID2, c);
	free(c);
	return r;
}

static const char *failed;

/* A VM in 64-bit mode running the guest @code; -1 with `failed` set. */
static int stock_open(struct stock_vm *s, const uint8_t *code, size_t len, size_t hc_off)
{
	struct kvm_userspace_memory_region mr;
	uint64_t *pml4, *pdpt, *pd, *gdt;
	struct kvm_sregs sr;
	struct kvm_regs regs;
	int sz;

	memset(s, 0, sizeof(*s));
	s->kvm = s->vm = s->vcpu = -1;
#define TRY(what, expr) do { if ((expr) < 0) { failed = what; goto fail; } } while (0)
	TRY("open /dev/kvm", s->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC));
	TRY("KVM_CREATE_VM", s->vm = ioctl(s->kvm, KVM_CREATE_VM, KVM_X86_DEFAULT_VM));
	s->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TRY("mmap guest memory", s->mem == MAP_FAILED ? -1 : 0);
	mr = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)s->mem,
	};
	TRY("KVM_SET_USER_MEMORY_REGION", ioctl(s->vm, KVM_SET_USER_MEMORY_REGION, &mr));
	if (hc_off != (size_t)-1) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_EXIT_HYPERCALL,
			.args = { 1ULL << KVM_HC_MAP_GPA_RANGE },
		};

		TRY("KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)", ioctl(s->vm, KVM_ENABLE_CAP, &cap));
	}
	TRY("KVM_CREATE_VCPU", s->vcpu = ioctl(s->vm, KVM_CREATE_VCPU, 0));
	TRY("KVM_GET_VCPU_MMAP_SIZE", sz = ioctl(s->kvm, KVM_GET_VCPU_MMAP_SIZE, 0));
	s->run_size = sz;
	s->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, s->vcpu, 0);
	TRY("mmap kvm_run", s->run == MAP_FAILED ? -1 : 0);
	TRY("KVM_SET_CPUID2", set_cpuid(s));

	/* Identity map of the first 2 MiB with one 2 MiB leaf. */
	pml4 = (uint64_t *)(s->mem + PML4_GPA);
	pdpt = (uint64_t *)(s->mem + PDPT_GPA);
	pd = (uint64_t *)(s->mem + PD_GPA);
	pml4[0] = PDPT_GPA | 3;
	pdpt[0] = PD_GPA | 3;
	pd[0] = 0x83;
	gdt = (uint64_t *)(s->mem + GDT_GPA);
	gdt[1] = 0x00af9b000000ffffULL;	/* 0x08 code64 */
	gdt[2] = 0x00cf93000000ffffULL;	/* 0x10 data */
	gdt[3] = 0x00008b0000000067ULL;	/* 0x18 TSS (busy), base 0 */
	memcpy(s->mem + CODE_GPA, code, len);
	if (hc_off != (size_t)-1 && cfg.amd)
		s->mem[CODE_GPA + hc_off + 2] = 0xd9;	/* VMMCALL */

	TRY("KVM_GET_SREGS", ioctl(s->vcpu, KVM_GET_SREGS, &sr));
	seg(&sr.cs, 0x08, 11, true);
	seg(&sr.ds, 0x10, 3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = 0x18;
	sr.tr.limit = 0x67;
	sr.tr.type = 11;
	sr.tr.present = 1;
	memset(&sr.ldt, 0, sizeof(sr.ldt));
	sr.ldt.unusable = 1;
	sr.gdt.base = GDT_GPA;
	sr.gdt.limit = 4 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr0 = 0x80050033;		/* PG WP NE ET MP PE */
	sr.cr3 = PML4_GPA;
	sr.cr4 = 0x20;			/* PAE */
	sr.efer = 0x500;		/* LME LMA */
	TRY("KVM_SET_SREGS", ioctl(s->vcpu, KVM_SET_SREGS, &sr));
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rflags = 0x202;		/* IF: see Bochs bug B1 */
	TRY("KVM_SET_REGS", ioctl(s->vcpu, KVM_SET_REGS, &regs));
#undef TRY
	return 0;
fail:
	say("stock KVM: %s: %s", failed, strerror(errno));
	stock_close(s);
	return -1;
}

/* One KVM_RUN, then answer the exit with getpid().  0, or -1. */
static int stock_step(struct stock_vm *s, bool hc)
{
	struct kvm_run *run = s->run;
	uint32_t pid;

	if (ioctl(s->vcpu, KVM_RUN, 0)) {
		failed = "KVM_RUN";
		return -1;
	}
	pid = bench_sys_getpid();
	if (hc) {
		if (run->exit_reason != KVM_EXIT_HYPERCALL ||
		    run->hypercall.nr != KVM_HC_MAP_GPA_RANGE)
			goto unexpected;
		run->hypercall.ret = pid;
	} else {
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != PORT_GETPID ||
		    run->io.direction != KVM_EXIT_IO_IN || run->io.size != 4)
			goto unexpected;
		memcpy((uint8_t *)run + run->io.data_offset, &pid, 4);
	}
	return 0;
unexpected:
	say("stock KVM: unexpected exit reason %u", run->exit_reason);
	failed = "unexpected exit";
	errno = EPROTO;
	return -1;
}

static void on_alarm(int sig)
{
	(void)sig;	/* only there to make a stuck KVM_RUN return EINTR */
}

/* A guest that never exits must not hang the benchmark. */
static void watchdog(unsigned int seconds)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

static int stock_loop(bool hc, const char *key)
{
	static struct series s;
	const uint8_t *code = hc ? stock_hc_guest : stock_io_guest;
	size_t len = (hc ? stock_hc_guest_end : stock_io_guest_end) - code;
	struct stock_vm vm;
	unsigned int i, j;

	if (stock_open(&vm, code, len, hc ? (size_t)(stock_hc_insn - code) : (size_t)-1))
		return -1;
	watchdog(120);
	/* Warm up: the first exits fault in the guest's pages. */
	for (i = 0; i < 16; i++)
		if (stock_step(&vm, hc))
			goto fail;
	series_init(&s, cfg.stock_batch);
	for (i = 0; i < cfg.stock_samples; i++) {
		uint64_t t0 = bench_rdtsc();

		for (j = 0; j < cfg.stock_batch; j++)
			if (stock_step(&vm, hc))
				goto fail;
		series_add(&s, bench_rdtsc() - t0);
	}
	alarm(0);
	stock_close(&vm);
	res_put_series(key, &s, res_get("empty.native")->med);
	return 0;
fail:
	alarm(0);
	say("stock KVM (%s): %s: %s", key, failed, strerror(errno));
	stock_close(&vm);
	return -1;
}

/* Item 9 baseline: create a VM with one vCPU, and its first KVM_RUN. */
static int stock_setup_cost(void)
{
	static struct series create, first, total;
	size_t len = stock_io_guest_end - stock_io_guest;
	unsigned int i;

	series_init(&create, 1);
	series_init(&first, 1);
	series_init(&total, 1);
	for (i = 0; i < cfg.enter_reps; i++) {
		struct stock_vm vm;
		uint64_t t0, t1, t2;

		t0 = bench_rdtsc();
		if (stock_open(&vm, stock_io_guest, len, (size_t)-1))
			return -1;
		t1 = bench_rdtsc();
		watchdog(60);
		if (stock_step(&vm, false)) {
			alarm(0);
			stock_close(&vm);
			return -1;
		}
		alarm(0);
		t2 = bench_rdtsc();
		series_add(&create, t1 - t0);
		series_add(&first, t2 - t1);
		series_add(&total, t2 - t0);
		stock_close(&vm);
	}
	res_put_series("enter.stock_create", &create, 0);
	res_put_series("enter.stock_first_run", &first, 0);
	res_put_series("enter.stock_total", &total, 0);
	return 0;
}

int stock_kvm_run(void)
{
	int bad = 0;

	say("stock KVM: getpid forwarded to user space, IN (KVM_EXIT_IO)");
	if (stock_loop(false, "stock_io")) {
		res_note("stock KVM with KVM_EXIT_IO could not be measured");
		bad = -1;
	}
	say("stock KVM: getpid forwarded to user space, %s (KVM_EXIT_HYPERCALL)",
	    cfg.amd ? "VMMCALL" : "VMCALL");
	if (stock_loop(true, "stock_hc"))
		res_note("stock KVM with KVM_EXIT_HYPERCALL could not be measured");
	say("stock KVM: VM creation and first KVM_RUN (%u times)", cfg.enter_reps);
	if (stock_setup_cost())
		res_note("stock KVM VM creation cost could not be measured");
	return bad;
}
