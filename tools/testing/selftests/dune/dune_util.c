// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers for the raw Dune mode selftests.  See dune_util.h.
 */
#include "dune_util.h"

int dune_is_amd;
long dune_native_pid, dune_native_tid;
void (*dune_child_hook)(struct dune_vm *vm);

/* Page-table pages: enough for 2 MiB leaves over 256 GiB of windows. */
#define PT_POOL_PAGES	320
static alignas(4096) uint64_t pt_pool[PT_POOL_PAGES][512];
static int pt_pool_used;

static alignas(16) uint64_t gdt[8];
static alignas(16) uint8_t tss[TSS_SIZE];
static alignas(16) struct dune_idt_entry idt[256];
static alignas(16) uint8_t ring0_stack[16384];
static alignas(16) uint8_t df_stack[8192];

int dune_vm_create(struct dune_vm *vm)
{
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	dune_is_amd = (b == 0x68747541);	/* "AuthenticAMD" */

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, KVM_X86_DUNE_VM);
	if (vm->vm_fd < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_DUNE_GET_LAYOUT, &vm->layout))
		return -errno;
	return 0;
}

const struct kvm_dune_window *dune_window_of(const struct dune_vm *vm, uint64_t hva)
{
	unsigned int i;

	for (i = 0; i < vm->layout.nr_windows; i++) {
		const struct kvm_dune_window *w = &vm->layout.windows[i];

		if (hva >= w->hva && hva - w->hva < w->size)
			return w;
	}
	return NULL;
}

bool dune_hva_to_gpa(const struct dune_vm *vm, uint64_t hva, uint64_t *gpa)
{
	const struct kvm_dune_window *w = dune_window_of(vm, hva);

	if (!w)
		return false;
	*gpa = w->gpa + (hva - w->hva);
	return true;
}

static uint64_t *pt_alloc(const struct dune_vm *vm, uint64_t *gpa)
{
	uint64_t *page;

	if (pt_pool_used == PT_POOL_PAGES)
		return NULL;
	page = pt_pool[pt_pool_used++];
	memset(page, 0, PAGE_SZ);
	if (!dune_hva_to_gpa(vm, (uint64_t)page, gpa))
		return NULL;
	return page;
}

bool dune_gpa_to_hva(const struct dune_vm *vm, uint64_t gpa, uint64_t *hva)
{
	unsigned int i;

	for (i = 0; i < vm->layout.nr_windows; i++) {
		const struct kvm_dune_window *w = &vm->layout.windows[i];

		if (gpa >= w->gpa && gpa - w->gpa < w->size) {
			*hva = w->hva + (gpa - w->gpa);
			return true;
		}
	}
	return false;
}

static uint64_t *pt_next(const struct dune_vm *vm, uint64_t *table, int idx)
{
	uint64_t gpa, hva;

	if (!(table[idx] & PTE_P)) {
		if (!pt_alloc(vm, &gpa))
			return NULL;
		table[idx] = gpa | PTE_P | PTE_W | PTE_U;
	}
	/* Page-table pages live in pt_pool: find the host address back. */
	gpa = table[idx] & 0x000ffffffffff000ULL;
	return dune_gpa_to_hva(vm, gpa, &hva) ? (uint64_t *)hva : NULL;
}

static bool cpu_has_1g_pages(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(0x80000001, &a, &b, &c, &d))
		return false;
	return d & (1u << 26);
}

int dune_map_2m(struct dune_vm *vm, uint64_t va, uint64_t gpa)
{
	uint64_t *pml4, *pdpt, *pd;
	uint64_t hva;

	if (!dune_gpa_to_hva(vm, vm->cr3, &hva))
		return -EINVAL;
	pml4 = (uint64_t *)hva;
	pdpt = pt_next(vm, pml4, (va >> 39) & 511);
	if (!pdpt || (pdpt[(va >> 30) & 511] & PTE_PS))
		return -EEXIST;
	pd = pt_next(vm, pdpt, (va >> 30) & 511);
	if (!pd)
		return -ENOMEM;
	pd[(va >> 21) & 511] = gpa | PTE_P | PTE_W | PTE_U | PTE_PS;
	return 0;
}

int dune_build_page_tables(struct dune_vm *vm)
{
	bool gb = cpu_has_1g_pages();
	uint64_t *pml4, gpa;
	unsigned int i;

	pt_pool_used = 0;
	pml4 = pt_alloc(vm, &vm->cr3);
	if (!pml4)
		return -ENOMEM;

	for (i = 0; i < vm->layout.nr_windows; i++) {
		const struct kvm_dune_window *w = &vm->layout.windows[i];
		uint64_t va;

		for (va = w->hva; va < w->hva + w->size; va += SZ_1G) {
			uint64_t *pdpt, *pd;
			int j;

			gpa = w->gpa + (va - w->hva);
			pdpt = pt_next(vm, pml4, (va >> 39) & 511);
			if (!pdpt)
				return -ENOMEM;
			if (gb) {
				pdpt[(va >> 30) & 511] = gpa | PTE_P | PTE_W | PTE_U | PTE_PS;
				continue;
			}
			pd = pt_next(vm, pdpt, (va >> 30) & 511);
			if (!pd)
				return -ENOMEM;
			for (j = 0; j < 512; j++)
				pd[j] = (gpa + j * SZ_2M) | PTE_P | PTE_W | PTE_U | PTE_PS;
		}
	}
	return 0;
}

void dune_init_config(struct dune_vm *vm, struct kvm_dune_enter *cfg,
		      void (*fn)(void), void *stack, size_t stack_size)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->regs.rip = (uint64_t)fn;
	/* As after a call: rsp + 8 is 16-byte aligned. */
	cfg->regs.rsp = ((uint64_t)stack + stack_size - 8) & ~0xfULL;
	cfg->regs.rsp -= 8;
	cfg->regs.rflags = GUEST_RFLAGS;
	cfg->cr3 = vm->cr3;
}

/* Every exception ends the guest with exit status EXC_EXIT(vector). */
asm(".text\n"
	".globl dune_exc_common\n"
	"dune_exc_common:\n"
	"	mov $231, %eax\n"		/* exit_group(%edi) */
	"	cmpl $0, dune_is_amd(%rip)\n"
	"	jne 1f\n"
	"	vmcall\n"
	"	jmp dune_exc_common\n"
	"1:	vmmcall\n"
	"	jmp dune_exc_common\n"
	".altmacro\n"
	".macro dune_exc_stub n\n"
	"dune_exc_\\n:\n"
	"	mov $(100 + \\n), %edi\n"
	"	jmp dune_exc_common\n"
	".endm\n"
	".set i, 0\n"
	".rept 32\n"
	"	dune_exc_stub %i\n"
	"	.set i, i + 1\n"
	".endr\n"
	".section .rodata\n"
	".balign 8\n"
	".globl dune_exc_table\n"
	"dune_exc_table:\n"
	".macro dune_exc_ptr n\n"
	"	.quad dune_exc_\\n\n"
	".endm\n"
	".set i, 0\n"
	".rept 32\n"
	"	dune_exc_ptr %i\n"
	"	.set i, i + 1\n"
	".endr\n"
	".noaltmacro\n"
	".text\n");

void dune_setup_descriptors(struct kvm_dune_enter *cfg)
{
	uint64_t base = (uint64_t)tss, limit = TSS_SIZE - 1;
	uint64_t rsp0 = (uint64_t)ring0_stack + sizeof(ring0_stack);
	uint64_t ist1 = (uint64_t)df_stack + sizeof(df_stack);
	uint16_t iomap = TSS_SIZE;
	int i;

	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL;	/* 0x08 code64, DPL 0 */
	gdt[2] = 0x00cf93000000ffffULL;	/* 0x10 data, DPL 0 */
	gdt[3] = 0x00cffb000000ffffULL;	/* 0x18 code32, DPL 3 (SYSRET base) */
	gdt[4] = 0x00cff3000000ffffULL;	/* 0x20 data, DPL 3 */
	gdt[5] = 0x00affb000000ffffULL;	/* 0x28 code64, DPL 3 */
	/* 0x30: 64-bit available TSS, 16 bytes */
	gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[7] = base >> 32;

	memset(tss, 0, sizeof(tss));
	memcpy(tss + TSS_RSP0, &rsp0, sizeof(rsp0));
	memcpy(tss + TSS_IST1, &ist1, sizeof(ist1));
	memcpy(tss + TSS_IOMAP, &iomap, sizeof(iomap));

	memset(idt, 0, sizeof(idt));
	for (i = 0; i < 32; i++) {
		uint64_t off = dune_exc_table[i];

		idt[i].off0 = off & 0xffff;
		idt[i].sel = GDT_KERNEL_CS;
		idt[i].ist = i == 8 ? 1 : 0;	/* #DF on its own stack */
		idt[i].type = 0x8e;		/* present, DPL 0, interrupt gate */
		idt[i].off1 = (off >> 16) & 0xffff;
		idt[i].off2 = off >> 32;
	}

	cfg->gdt.base = (uint64_t)gdt;
	cfg->gdt.limit = sizeof(gdt) - 1;
	cfg->idt.base = (uint64_t)idt;
	cfg->idt.limit = sizeof(idt) - 1;
}

int dune_enter(struct dune_vm *vm, struct kvm_dune_enter *cfg)
{
	return ioctl(vm->vm_fd, KVM_DUNE_ENTER, cfg) ? -errno : 0;
}

static alignas(16) uint8_t guest_stack[65536];

pid_t dune_start_child(void (*fn)(void), bool descriptors)
{
	struct kvm_dune_enter cfg;
	struct dune_vm vm;
	pid_t pid;
	int r;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		dune_native_pid = getpid();
		dune_native_tid = syscall(SYS_gettid);
		r = dune_vm_create(&vm);
		if (r) {
			fprintf(stderr, "creating the Dune VM: %s\n", strerror(-r));
			_exit(90);
		}
		r = dune_build_page_tables(&vm);
		if (r) {
			fprintf(stderr, "building page tables: %s\n", strerror(-r));
			_exit(91);
		}
		if (dune_child_hook)
			dune_child_hook(&vm);
		dune_init_config(&vm, &cfg, fn, guest_stack, sizeof(guest_stack));
		if (descriptors)
			dune_setup_descriptors(&cfg);
		r = dune_enter(&vm, &cfg);
		if (r) {
			fprintf(stderr, "KVM_DUNE_ENTER: %s\n", strerror(-r));
			_exit(92);
		}
		fprintf(stderr, "left Dune mode: exit_reason %u info %#llx %#llx\n",
			cfg.exit_reason, (unsigned long long)cfg.exit_info[0],
			(unsigned long long)cfg.exit_info[1]);
		_exit(93);
	}
	return pid;
}

int dune_run_child(void (*fn)(void), bool descriptors)
{
	pid_t pid = dune_start_child(fn, descriptors);
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* iretq to fn at CPL 3; the stack frame is built on the current stack. */
void guest_jump_to_user(void (*fn)(void), void *stack_top)
{
	asm volatile("pushq %[ss]\n"
		     "pushq %[sp]\n"
		     "pushq %[fl]\n"
		     "pushq %[cs]\n"
		     "pushq %[ip]\n"
		     "iretq\n"
		     : : [ss] "i"(GDT_USER_DS | 3), [sp] "r"((uint64_t)stack_top - 8),
		       [fl] "i"(GUEST_RFLAGS), [cs] "i"(GDT_USER_CS | 3), [ip] "r"(fn)
		     : "memory");
	__builtin_unreachable();
}
