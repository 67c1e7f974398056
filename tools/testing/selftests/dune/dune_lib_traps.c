// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-process exceptions with libdune: page faults from the process's own
 * page tables fixed by a handler and resumed (not present, write-protected,
 * unmapped, no-execute, nested), divide error, #GP, #UD and #BP handled by
 * their handlers, and the default handler's signal for an unhandled one.
 */
#include <signal.h>
#include <sys/syscall.h>

#include "dune_lib_util.h"

#define PF_P	0x1
#define PF_W	0x2
#define PF_U	0x4
#define PF_I	0x10

static char *region;		/* 8 pages */
static struct {
	uintptr_t addr;
	uint64_t err;
	uint64_t cs;
} faults[8];
static int nr_faults;

static char *page(int i)
{
	return region + i * PAGE_SZ;
}

static void pgflt(uintptr_t addr, uint64_t err, struct dune_tf *tf)
{
	uintptr_t pg = addr & ~(PAGE_SZ - 1);
	int n = READ_ONCE(nr_faults);

	if (addr < (uintptr_t)region || addr >= (uintptr_t)page(8) || n >= 8)
		dune_fatal_trap(tf);
	faults[n].addr = addr;
	faults[n].err = err;
	faults[n].cs = tf->cs;
	WRITE_ONCE(nr_faults, n + 1);

	/* Page 4's handler touches page 5, which faults too: nesting. */
	if (pg == (uintptr_t)page(4))
		(void)READ_ONCE(*(char *)page(5));

	if (err & PF_P) {
		/* present: a permission fault; grant what was missing */
		dune_vm_protect(dune_vm_current(), (void *)pg, PAGE_SZ,
				RW | ((err & PF_I) ? DUNE_PERM_X : 0));
	} else if (dune_vm_lookup(dune_vm_current(), (void *)pg, NULL, NULL) == -ENOENT) {
		/* unmapped in the page tables: map it again */
		dune_vm_map_pages(dune_vm_current(), (void *)pg, PAGE_SZ, RW);
	} else {
		/* mapped but not present (protected without DUNE_PERM_R) */
		dune_vm_protect(dune_vm_current(), (void *)pg, PAGE_SZ, RW);
	}
}

static void setup_region(struct __test_metadata *_metadata)
{
	int i;

	region = dune_lib_map(8 * PAGE_SZ);
	ASSERT_NE(MAP_FAILED, region);
	for (i = 0; i < 8; i++)
		memset(page(i), 'a' + i, PAGE_SZ);
	/* 4 KiB leaves, so that protecting one page leaves the others alone */
	ASSERT_EQ(0, dune_vm_map_pages(dune_vm_current(), region, 8 * PAGE_SZ,
				       RW | DUNE_PERM_SMALL));
	WRITE_ONCE(nr_faults, 0);
	ASSERT_EQ(0, dune_register_pgflt_handler(pgflt));
}

TEST_F(dune, pgfault_not_present_read)
{
	setup_region(_metadata);
	ASSERT_EQ(0, dune_vm_protect(dune_vm_current(), page(1), PAGE_SZ, 0));
	EXPECT_EQ('b', READ_ONCE(*(char *)(page(1) + 100)));
	ASSERT_EQ(1, READ_ONCE(nr_faults));
	EXPECT_EQ((uintptr_t)page(1) + 100, faults[0].addr);
	EXPECT_EQ(0, faults[0].err & (PF_P | PF_W | PF_U));
	EXPECT_EQ(DUNE_KERNEL_CS, faults[0].cs);
	/* fixed: no more faults */
	EXPECT_EQ('b', READ_ONCE(*(char *)page(1)));
	EXPECT_EQ(1, READ_ONCE(nr_faults));
}

TEST_F(dune, pgfault_write_protected)
{
	setup_region(_metadata);
	ASSERT_EQ(0, dune_vm_protect(dune_vm_current(), page(2), PAGE_SZ, DUNE_PERM_R));
	EXPECT_EQ('c', READ_ONCE(*(char *)page(2)));	/* reads are fine */
	EXPECT_EQ(0, READ_ONCE(nr_faults));
	WRITE_ONCE(*(char *)(page(2) + 8), 'X');
	ASSERT_EQ(1, READ_ONCE(nr_faults));
	EXPECT_EQ((uintptr_t)page(2) + 8, faults[0].addr);
	EXPECT_EQ(PF_P | PF_W, faults[0].err & (PF_P | PF_W | PF_U));
	EXPECT_EQ('X', page(2)[8]);
	EXPECT_EQ('c', page(2)[9]);
}

TEST_F(dune, pgfault_unmapped_then_mapped_by_handler)
{
	setup_region(_metadata);
	ASSERT_EQ(0, dune_vm_unmap(dune_vm_current(), page(3), PAGE_SZ));
	EXPECT_EQ(-ENOENT, dune_vm_lookup(dune_vm_current(), page(3), NULL, NULL));
	WRITE_ONCE(*(char *)(page(3) + 4095), 'Y');
	ASSERT_EQ(1, READ_ONCE(nr_faults));
	EXPECT_EQ((uintptr_t)page(3) + 4095, faults[0].addr);
	EXPECT_EQ(PF_W, faults[0].err & (PF_P | PF_W | PF_U));
	EXPECT_EQ('Y', page(3)[4095]);
	EXPECT_EQ('d', page(3)[0]);	/* the memory itself was never touched */
}

TEST_F(dune, pgfault_nested_in_handler)
{
	setup_region(_metadata);
	ASSERT_EQ(0, dune_vm_protect(dune_vm_current(), page(4), PAGE_SZ, 0));
	ASSERT_EQ(0, dune_vm_protect(dune_vm_current(), page(5), PAGE_SZ, 0));
	EXPECT_EQ('e', READ_ONCE(*(char *)page(4)));
	ASSERT_EQ(2, READ_ONCE(nr_faults));
	EXPECT_EQ((uintptr_t)page(4), faults[0].addr);
	EXPECT_EQ((uintptr_t)page(5), faults[1].addr);
	EXPECT_EQ('f', READ_ONCE(*(char *)page(5)));
	EXPECT_EQ(2, READ_ONCE(nr_faults));
}

TEST_F(dune, pgfault_no_execute)
{
	static const unsigned char code[] = { 0xb8, 0x2a, 0, 0, 0, 0xc3 }; /* mov $42,%eax; ret */
	int (*fn)(void);

	setup_region(_metadata);
	fn = (int (*)(void))page(6);
	memcpy(page(6), code, sizeof(code));
	/* mapped RW without DUNE_PERM_X: NX is set, a fetch faults */
	EXPECT_EQ(42, fn());
	ASSERT_EQ(1, READ_ONCE(nr_faults));
	EXPECT_EQ((uintptr_t)page(6), faults[0].addr);
	EXPECT_EQ(PF_P | PF_I, faults[0].err & (PF_P | PF_W | PF_U | PF_I));
}

/* ---- other exceptions ---- */

static int de_count, gp_count, ud_count, bp_count;
static uint64_t trap_rip, trap_err;

static void de_handler(struct dune_tf *tf)
{
	de_count++;
	trap_rip = tf->rip;
	tf->rcx = 4;		/* fix the divisor; DIV is restarted */
}

static void gp_handler(struct dune_tf *tf)
{
	gp_count++;
	trap_rip = tf->rip;
	trap_err = tf->err;
	tf->rax = 0x1234;
	tf->rip += 3;		/* skip "mov (%rax), %rax" */
}

static void ud_handler(struct dune_tf *tf)
{
	ud_count++;
	trap_rip = tf->rip;
	tf->rip += 2;		/* skip ud2 */
}

static void bp_handler(struct dune_tf *tf)
{
	bp_count++;
	trap_rip = tf->rip;	/* after the int3 */
}

extern char dune_lib_div_insn[], dune_lib_gp_insn[], dune_lib_ud_insn[], dune_lib_bp_next[];

static __attribute__((noipa)) uint64_t divide(uint64_t n, uint64_t *d)
{
	uint64_t q = n, r = 0, c = *d;

	__asm__ volatile(".globl dune_lib_div_insn\n"
			 "dune_lib_div_insn: divq %%rcx"
			 : "+a"(q), "+d"(r), "+c"(c));
	*d = c;
	return q;
}

static __attribute__((noipa)) uint64_t load_noncanonical(void)
{
	uint64_t v = 0x8000000000000000ULL;

	__asm__ volatile(".globl dune_lib_gp_insn\n"
			 "dune_lib_gp_insn: movq (%%rax), %%rax"	/* 48 8b 00 */
			 : "+a"(v) : : "memory");
	return v;
}

static __attribute__((noipa)) void undefined_and_breakpoint(void)
{
	__asm__ volatile(".globl dune_lib_ud_insn\n"
			 "dune_lib_ud_insn: ud2\n"
			 "int3\n"
			 ".globl dune_lib_bp_next\n"
			 "dune_lib_bp_next: nop");
}

TEST_F(dune, divide_error_fixed_by_handler)
{
	uint64_t d = 0;

	ASSERT_EQ(0, dune_register_intr_handler(0, de_handler));
	EXPECT_EQ(25, divide(100, &d));
	EXPECT_EQ(1, READ_ONCE(de_count));
	EXPECT_EQ(4, d);
	EXPECT_EQ((uintptr_t)dune_lib_div_insn, READ_ONCE(trap_rip));
	d = 5;
	EXPECT_EQ(20, divide(100, &d));
	EXPECT_EQ(1, READ_ONCE(de_count));
}

TEST_F(dune, general_protection_and_ud_and_bp)
{
	ASSERT_EQ(0, dune_register_intr_handler(13, gp_handler));
	ASSERT_EQ(0, dune_register_intr_handler(6, ud_handler));
	ASSERT_EQ(0, dune_register_intr_handler(3, bp_handler));
	EXPECT_EQ(0x1234, load_noncanonical());
	EXPECT_EQ(1, READ_ONCE(gp_count));
	EXPECT_EQ((uintptr_t)dune_lib_gp_insn, READ_ONCE(trap_rip));
	EXPECT_EQ(0, READ_ONCE(trap_err));
	undefined_and_breakpoint();
	EXPECT_EQ(1, READ_ONCE(ud_count));
	EXPECT_EQ(1, READ_ONCE(bp_count));
	EXPECT_EQ((uintptr_t)dune_lib_bp_next, READ_ONCE(trap_rip));
}

TEST_F(dune, privileged_instructions_in_ring0)
{
	uint64_t cr0, cr3, cr4;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	EXPECT_EQ(dune_vm_root_pa(dune_vm_current()), cr3 & ~0xfffULL);
	EXPECT_TRUE(cr0 & (1ULL << 31));	/* PG */
	EXPECT_TRUE(cr0 & (1ULL << 16));	/* WP */
	EXPECT_TRUE(cr4 & (1ULL << 5));		/* PAE */
}

/* Without a handler the process dies of the signal a native fault gives. */
TEST_SIGNAL(unhandled_divide_error_is_sigfpe, SIGFPE)
{
	uint64_t d = 0;
	int r = dune_init_and_enter();

	ASSERT_EQ(0, r) TH_LOG("%s", dune_last_error());
	divide(1, &d);
}

DUNE_LIB_MAIN
