// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvm_canary - does plain KVM work in this kernel, on this (possibly
 * emulated) CPU?
 *
 * Uses nothing but /dev/kvm: creates a VM with one memslot and one vCPU,
 * builds 4-level page tables for a tiny 64-bit guest, enters it directly in
 * long mode and checks that
 *   - a port OUT reaches user space as KVM_EXIT_IO with the right data,
 *   - guest stores through its page tables (and EPT/NPT) land in the memslot,
 *   - VMCALL (Intel) / VMMCALL (AMD) with an unknown hypercall number comes
 *     back with RAX = -KVM_ENOSYS and RIP past the instruction,
 *   - HLT exits with KVM_EXIT_HLT (no in-kernel irqchip).
 *
 * No Dune code is involved: if this fails, the emulator or KVM itself is
 * broken, not Dune mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cpuid.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>

#include "kselftest.h"
#include "kvm_canary.h"

#define MEM_SIZE	0x400000UL	/* 4 MiB memslot at guest-physical 0 */
#define PML4_GPA	0x1000UL
#define PDPT_GPA	0x2000UL
#define PD_GPA		0x3000UL
#define PT_GPA		0x4000UL
#define GDT_GPA		0x5000UL
#define CODE_GPA	0x10000UL
#define DATA_GPA	0x20000UL
#define STACK_TOP	0x1ff000UL

#define PORT_HELLO	0x10
#define PORT_HCALL	0x11
#define HELLO_DATA	0x1234abcd
#define STORE_DATA	0x5a5aa5a5deadbeef
/* Not a KVM_HC_* number: KVM answers -KVM_ENOSYS. */
#define HC_UNKNOWN	0x7ffe0001

#define __STR(x)	#x
#define STR(x)		__STR(x)

#define PTE_P		0x1ULL
#define PTE_W		0x2ULL

#define CR0_PE		0x1ULL
#define CR0_MP		0x2ULL
#define CR0_ET		0x10ULL
#define CR0_NE		0x20ULL
#define CR0_WP		0x10000ULL
#define CR0_PG		0x80000000ULL
#define CR4_PAE		0x20ULL
#define EFER_LME	0x100ULL
#define EFER_LMA	0x400ULL
#define RFLAGS_IF	0x200ULL
#define RFLAGS_FIXED	0x2ULL

/*
 * The guest: position independent, copied to CODE_GPA.  RBX holds the address
 * of the data page on entry.  The hypercall instruction is VMCALL here and is
 * patched to VMMCALL on AMD.
 */
asm(".pushsection .rodata\n"
	"canary_guest:\n"
	"	mov $" STR(HELLO_DATA) ", %eax\n"
	"	out %eax, $" STR(PORT_HELLO) "\n"
	"	movabs $" STR(STORE_DATA) ", %rax\n"
	"	mov %rax, (%rbx)\n"
	"	mov $" STR(HC_UNKNOWN) ", %eax\n"
	"	xor %ebx, %ebx\n"
	"	xor %ecx, %ecx\n"
	"	xor %edx, %edx\n"
	"	xor %esi, %esi\n"
	"canary_guest_hcall:\n"
	"	vmcall\n"
	"canary_guest_report:\n"
	"	out %eax, $" STR(PORT_HCALL) "\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"canary_guest_end:\n"
	".popsection\n");

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_run *run;
static uint8_t *mem;
static int amd;

static void on_alarm(int sig)
{
	(void)sig;	/* only there to interrupt KVM_RUN with EINTR */
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return "KVM_EXIT_IO";
	case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	case KVM_EXIT_HYPERCALL: return "KVM_EXIT_HYPERCALL";
	case KVM_EXIT_INTR: return "KVM_EXIT_INTR";
	default: return "other";
	}
}

/* One KVM_RUN; returns the exit reason, or -1 if the ioctl failed. */
static int run_vcpu(void)
{
	int ret;

	alarm(60);
	ret = ioctl(vcpu_fd, KVM_RUN, 0);
	alarm(0);
	if (ret < 0) {
		ksft_print_msg("KVM_RUN: %s%s\n", strerror(errno),
			       errno == EINTR ? " (no exit within 60 s)" : "");
		return -1;
	}
	return run->exit_reason;
}

static void dump_exit(void)
{
	struct kvm_regs regs;

	ksft_print_msg("exit reason %u (%s)\n", run->exit_reason,
		       exit_name(run->exit_reason));
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		ksft_print_msg("hardware_entry_failure_reason 0x%llx\n",
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		ksft_print_msg("internal error suberror %u\n",
			       run->internal.suberror);
	if (run->exit_reason == KVM_EXIT_IO)
		ksft_print_msg("io: dir %u size %u port 0x%x count %u\n",
			       run->io.direction, run->io.size, run->io.port,
			       run->io.count);
	if (!ioctl(vcpu_fd, KVM_GET_REGS, &regs))
		ksft_print_msg("rip 0x%llx rax 0x%llx rflags 0x%llx\n",
			       (unsigned long long)regs.rip,
			       (unsigned long long)regs.rax,
			       (unsigned long long)regs.rflags);
}

static int io_exit_is(uint16_t port, uint32_t data)
{
	uint32_t got;

	if (run->exit_reason != KVM_EXIT_IO)
		return 0;
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 ||
	    run->io.port != port || run->io.count != 1)
		return 0;
	memcpy(&got, (uint8_t *)run + run->io.data_offset, sizeof(got));
	if (got != data) {
		ksft_print_msg("port 0x%x: data 0x%x, want 0x%x\n", port, got, data);
		return 0;
	}
	return 1;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

static void build_guest(void)
{
	uint64_t *pml4 = (uint64_t *)(mem + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(mem + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(mem + PD_GPA);
	uint64_t *pt = (uint64_t *)(mem + PT_GPA);
	uint64_t *gdt = (uint64_t *)(mem + GDT_GPA);
	size_t len = canary_guest_end - canary_guest;
	int i;

	/* Identity map the first 2 MiB with 4 KiB pages: PML4 -> PDPT -> PD -> PT. */
	pml4[0] = PDPT_GPA | PTE_P | PTE_W;
	pdpt[0] = PD_GPA | PTE_P | PTE_W;
	pd[0] = PT_GPA | PTE_P | PTE_W;
	for (i = 0; i < 512; i++)
		pt[i] = ((uint64_t)i << 12) | PTE_P | PTE_W;
	pt[0] = 0;	/* leave guest virtual 0 unmapped */

	/* Null, 64-bit code (0x08), data (0x10), 64-bit TSS (0x18, 16 bytes). */
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00cf93000000ffffULL;
	gdt[3] = 0x00008b0000000067ULL;
	gdt[4] = 0;

	memcpy(mem + CODE_GPA, canary_guest, len);
	if (amd)	/* VMCALL 0f 01 c1 -> VMMCALL 0f 01 d9 */
		mem[CODE_GPA + (canary_guest_hcall - canary_guest) + 2] = 0xd9;
}

/* Give the vCPU what KVM supports (long mode in particular: EFER.LME). */
static void set_cpuid(void)
{
	struct kvm_cpuid2 *cpuid;
	int nent = 100;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			ksft_exit_fail_msg("out of memory\n");
		cpuid->nent = nent;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		if (errno != E2BIG)
			ksft_exit_fail_perror("KVM_GET_SUPPORTED_CPUID");
		free(cpuid);
		nent *= 2;
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid))
		ksft_exit_fail_perror("KVM_SET_CPUID2");
	free(cpuid);
}

static void setup_vcpu(void)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	set_cpuid();
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		ksft_exit_fail_perror("KVM_GET_SREGS");

	set_seg(&sregs.cs, 0x08, 11, 1);
	set_seg(&sregs.ds, 0x10, 3, 0);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;

	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = 0x18;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 11;	/* 64-bit TSS, busy */
	sregs.tr.present = 1;

	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;

	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;

	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;

	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs))
		ksft_exit_fail_perror("KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_TOP;
	regs.rbx = DATA_GPA;
	/*
	 * IF=1: Bochs does not deliver host interrupts as VM exits while the
	 * guest runs with IF=0.  No irqchip, so nothing is ever injected.
	 */
	regs.rflags = RFLAGS_FIXED | RFLAGS_IF;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs))
		ksft_exit_fail_perror("KVM_SET_REGS");
}

int main(void)
{
	struct kvm_userspace_memory_region region;
	struct sigaction sa;
	unsigned int eax, ebx, ecx, edx;
	char vendor[13];
	struct kvm_regs regs;
	uint64_t stored;
	int mmap_size, ret, reason;
	uint64_t hcall_rip, report_rip;

	ksft_print_header();

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		ksft_exit_skip("/dev/kvm: %s\n", strerror(errno));

	__cpuid(0, eax, ebx, ecx, edx);
	memcpy(vendor, &ebx, 4);
	memcpy(vendor + 4, &edx, 4);
	memcpy(vendor + 8, &ecx, 4);
	vendor[12] = 0;
	amd = !strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine");
	ksft_print_msg("CPU vendor %s: hypercall via %s\n", vendor,
		       amd ? "VMMCALL" : "VMCALL");

	ksft_set_plan(6);

	/* No SA_RESTART: a stuck KVM_RUN returns EINTR when the alarm fires. */
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);

	ret = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	ksft_test_result(ret == KVM_API_VERSION, "KVM_GET_API_VERSION is %d\n",
			 KVM_API_VERSION);

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		ksft_exit_fail_perror("KVM_CREATE_VM");

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		ksft_exit_fail_perror("mmap guest memory");
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region))
		ksft_exit_fail_perror("KVM_SET_USER_MEMORY_REGION");

	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		ksft_exit_fail_perror("KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*run))
		ksft_exit_fail_perror("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu_fd, 0);
	if (run == MAP_FAILED)
		ksft_exit_fail_perror("mmap kvm_run");

	build_guest();
	setup_vcpu();
	ksft_test_result_pass("VM, memslot and vCPU in 64-bit mode set up\n");

	hcall_rip = CODE_GPA + (canary_guest_hcall - canary_guest);
	/* KVM completes an OUT (and moves RIP past it) on the next KVM_RUN. */
	report_rip = CODE_GPA + (canary_guest_report - canary_guest);

	/* (a) port I/O */
	reason = run_vcpu();
	ret = reason == KVM_EXIT_IO && io_exit_is(PORT_HELLO, HELLO_DATA);
	if (!ret && reason >= 0)
		dump_exit();
	ksft_test_result(ret, "OUT to port 0x%x exits with KVM_EXIT_IO, data 0x%x\n",
			 PORT_HELLO, HELLO_DATA);
	if (!ret)
		ksft_exit_fail_msg("guest did not reach its first OUT; stopping\n");

	/* (b) hypercall, reported by the next OUT */
	reason = run_vcpu();
	ret = reason == KVM_EXIT_IO &&
	      io_exit_is(PORT_HCALL, (uint32_t)-KVM_ENOSYS);
	if (!ioctl(vcpu_fd, KVM_GET_REGS, &regs)) {
		ret = ret && regs.rax == (uint64_t)-KVM_ENOSYS &&
		      regs.rip == report_rip;
		if (!ret)
			ksft_print_msg("%s at 0x%llx: rax 0x%llx rip 0x%llx, want 0x%llx 0x%llx\n",
				       amd ? "VMMCALL" : "VMCALL",
				       (unsigned long long)hcall_rip,
				       (unsigned long long)regs.rax,
				       (unsigned long long)regs.rip,
				       (unsigned long long)-KVM_ENOSYS,
				       (unsigned long long)report_rip);
	} else {
		ret = 0;
	}
	if (!ret && reason >= 0)
		dump_exit();
	ksft_test_result(ret, "%s with unknown nr returns -KVM_ENOSYS (%d)\n",
			 amd ? "VMMCALL" : "VMCALL", -KVM_ENOSYS);

	memcpy(&stored, mem + DATA_GPA, sizeof(stored));
	if (stored != STORE_DATA)
		ksft_print_msg("data page holds 0x%llx\n", (unsigned long long)stored);
	ksft_test_result(stored == STORE_DATA,
			 "guest store through its page tables reaches the memslot\n");

	/* (c) HLT */
	reason = run_vcpu();
	ret = reason == KVM_EXIT_HLT;
	if (!ret && reason >= 0)
		dump_exit();
	ksft_test_result(ret, "HLT exits with KVM_EXIT_HLT\n");

	munmap(run, mmap_size);
	close(vcpu_fd);
	close(vm_fd);
	close(kvm_fd);
	munmap(mem, MEM_SIZE);
	ksft_finished();
}
